/* SPDX-License-Identifier: MIT */
/*
 * test_tools_run.c - `memshim run` without running anything: option parsing into
 * MEMSHIM_* variables, validators, the LD_PRELOAD value, finding libmemshim.so, the
 * static/setuid check, and exit-status mapping.
 */
#include "test_common.h"

#include <limits.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../tools/memshim_cli.h"

static mscli_run_args_t args;

/* argv as string literals; the parser never writes to it. */
static int parse(const char **argv) {
    int argc = 0;
    while (argv[argc] != NULL)
        argc++;
    return mscli_run_parse(argc, (char **)argv, &args);
}

static const char *env_of(const char *name) {
    for (size_t i = 0; i < args.nenv; i++)
        if (strcmp(args.env[i].name, name) == 0) return args.env[i].value;
    return NULL;
}

static void test_run_options_become_memshim_variables(void **state) {
    (void)state;
    const char *argv[] = {"run",
                          "--fail-after",
                          "100",
                          "--fail-rate=0.01",
                          "--seed",
                          "42",
                          "--fail-min-size",
                          "4k",
                          "--report",
                          "--no-inherit",
                          "--log-level",
                          "2",
                          "--",
                          "prog",
                          "-x",
                          "arg",
                          NULL};
    assert_int_equal(parse(argv), 0);
    assert_string_equal(env_of("MEMSHIM_FAIL_AFTER"), "100");
    assert_string_equal(env_of("MEMSHIM_FAIL_RATE"), "0.01");
    assert_string_equal(env_of("MEMSHIM_FAIL_SEED"), "42");
    assert_string_equal(env_of("MEMSHIM_FAIL_MIN_SIZE"), "4k");
    assert_string_equal(env_of("MEMSHIM_REPORT"), "1");
    assert_string_equal(env_of("MEMSHIM_INHERIT"), "0");
    assert_string_equal(env_of("MEMSHIM_LOG_LEVEL"), "2");
    assert_int_equal(args.nenv, 7);
    assert_string_equal(args.cmd[0], "prog");
    assert_string_equal(args.cmd[1], "-x"); /* CMD's own options are left alone */
    assert_string_equal(args.cmd[2], "arg");
    assert_null(args.cmd[3]);
    assert_false(args.help);
}

static void test_run_first_plain_word_starts_the_command(void **state) {
    (void)state;
    const char *argv[] = {"run", "--report", "ls", "--fail-after", "3", NULL};
    assert_int_equal(parse(argv), 0);
    assert_string_equal(args.cmd[0], "ls");
    assert_string_equal(args.cmd[1], "--fail-after"); /* belongs to ls */
    assert_null(env_of("MEMSHIM_FAIL_AFTER"));
}

static void test_run_later_option_wins_and_conf_accumulates(void **state) {
    (void)state;
    const char *argv[] = {
        "run", "--no-inherit", "--inherit", "--conf", "a.b:1", "--conf=c.d:2,e.f:3", "--fail-after",
        "1",   "--fail-after", "9",         "cmd",    NULL};
    assert_int_equal(parse(argv), 0);
    assert_string_equal(env_of("MEMSHIM_INHERIT"), "1");
    assert_string_equal(env_of("MEMSHIM_CONF"), "a.b:1,c.d:2,e.f:3");
    assert_string_equal(env_of("MEMSHIM_FAIL_AFTER"), "9");
    assert_int_equal(args.nenv, 3);
}

static void test_run_rejects_bad_command_lines(void **state) {
    (void)state;
    static const char *bad[][6] = {
        {"run", NULL},                                         /* no command */
        {"run", "--report", "--", NULL},                       /* no command after -- */
        {"run", "--frobnicate", "ls", NULL},                   /* unknown option */
        {"run", "-r", "ls", NULL},                             /* no short options */
        {"run", "--fail-after", NULL},                         /* missing value */
        {"run", "--fail-after", "ten", "ls", NULL},            /* not a number */
        {"run", "--fail-after", "-1", "ls", NULL},             /* negative */
        {"run", "--fail-rate", "1.5", "ls", NULL},             /* above 1 */
        {"run", "--fail-rate", "nan", "ls", NULL},             /* not a probability */
        {"run", "--seed", "18446744073709551616", "ls", NULL}, /* above u64 */
        {"run", "--fail-min-size", "3x", "ls", NULL},          /* bad suffix */
        {"run", "--report=yes", "ls", NULL},                   /* flags take no value */
        {"run", "--conf", "novalue", "ls", NULL},              /* name:value expected */
        {"run", "--conf", ":1", "ls", NULL},                   /* empty name */
        {"run", "--sample", "99", "ls", NULL},                 /* above 62 */
        {"run", "--sample", "63", "ls", NULL},                 /* above 62 */
        {"run", "--log-level", "4", "ls", NULL},               /* above 3 (debug) */
        {"run", "--unwinder", "gdb", "ls", NULL},              /* not an unwinder */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(parse(bad[i]), -EINVAL);
        assert_true(args.err[0] != '\0');
    }
    const char *unknown[] = {"run", "--frobnicate", "ls", NULL};
    parse(unknown);
    assert_string_equal(args.err, "unknown option '--frobnicate'");
    const char *badval[] = {"run", "--fail-rate", "2", "ls", NULL};
    parse(badval);
    assert_string_equal(args.err,
                        "bad value '2' for --fail-rate P: fail each allocation with probability P "
                        "(0..1)");
    const char *badlg[] = {"run", "--sample", "99", "ls", NULL};
    parse(badlg);
    assert_non_null(strstr(args.err, "bad value '99' for --sample LG: "));
    assert_non_null(strstr(args.err, "0..62"));
}

static void test_run_dump_at_exit_implies_prof(void **state) {
    (void)state;
    const char *alone[] = {"run", "--dump-at-exit", "ls", NULL};
    assert_int_equal(parse(alone), 0);
    assert_string_equal(env_of("MEMSHIM_DUMP_AT_EXIT"), "1");
    assert_string_equal(env_of("MEMSHIM_PROF"), "1");
    assert_int_equal(args.nenv, 2);
    const char *both[] = {"run", "--prof", "--dump-at-exit", "ls", NULL};
    assert_int_equal(parse(both), 0);
    assert_string_equal(env_of("MEMSHIM_PROF"), "1");
    assert_int_equal(args.nenv, 2);
    const char *neither[] = {"run", "--report", "ls", NULL};
    assert_int_equal(parse(neither), 0);
    assert_null(env_of("MEMSHIM_PROF"));
}

static void test_run_version_runs_nothing(void **state) {
    (void)state;
    const char *argv[] = {"run", "--version", NULL};
    assert_int_equal(parse(argv), 0);
    assert_true(args.version);
    assert_null(args.cmd);
}

static void test_run_checks_the_dump_dir_first(void **state) {
    (void)state;
    char err[512];
    unsetenv("MEMSHIM_DUMP_DIR");
    assert_int_equal(mscli_run_check_dump_dir(err, sizeof(err)), 0);
    setenv("MEMSHIM_DUMP_DIR", "", 1);
    assert_int_equal(mscli_run_check_dump_dir(err, sizeof(err)), 0);
    setenv("MEMSHIM_DUMP_DIR", "/tmp", 1);
    assert_int_equal(mscli_run_check_dump_dir(err, sizeof(err)), 0);
    setenv("MEMSHIM_DUMP_DIR", "/nonexistent/dumps", 1);
    assert_int_equal(mscli_run_check_dump_dir(err, sizeof(err)), -ENOENT);
    assert_string_equal(err,
                        "dump directory '/nonexistent/dumps' does not exist (create it first)");
    setenv("MEMSHIM_DUMP_DIR", "/dev/null", 1);
    assert_int_equal(mscli_run_check_dump_dir(err, sizeof(err)), -ENOTDIR);
    assert_string_equal(err, "dump directory '/dev/null' is not a directory");
    unsetenv("MEMSHIM_DUMP_DIR");
}

static void test_run_help_runs_nothing(void **state) {
    (void)state;
    const char *argv[] = {"run", "--report", "--help", NULL};
    assert_int_equal(parse(argv), 0);
    assert_true(args.help);
    assert_null(args.cmd);
}

static void test_run_option_table_is_complete(void **state) {
    (void)state;
    size_t n = 0;
    const mscli_run_option_t *t = mscli_run_options(&n);
    assert_true(n >= 9);
    for (size_t i = 0; i < n; i++) {
        assert_non_null(t[i].name);
        assert_int_equal(strncmp(t[i].env, "MEMSHIM_", 8), 0);
        assert_non_null(t[i].help);
        assert_true(t[i].metavar != NULL || t[i].flag_value != NULL); /* flag or value */
        for (size_t j = i + 1; j < n; j++)
            assert_string_not_equal(t[i].name, t[j].name);
    }
}

static void test_run_validators_accept_what_the_shim_accepts(void **state) {
    (void)state;
    assert_int_equal(mscli_check_u64("0"), 0);
    assert_int_equal(mscli_check_u64("18446744073709551615"), 0);
    assert_int_equal(mscli_check_u64(""), -EINVAL);
    assert_int_equal(mscli_check_u64("1k"), -EINVAL);
    assert_int_equal(mscli_check_size("1k"), 0);
    assert_int_equal(mscli_check_size("2MB"), 0);
    assert_int_equal(mscli_check_size("16g"), 0);
    assert_int_equal(mscli_check_size("99999999999g"), -EINVAL);
    assert_int_equal(mscli_check_prob("0"), 0);
    assert_int_equal(mscli_check_prob("1"), 0);
    assert_int_equal(mscli_check_prob("0.001"), 0);
    assert_int_equal(mscli_check_prob("-0.1"), -EINVAL);
    assert_int_equal(mscli_check_prob(" 0.1"), -EINVAL);
    assert_int_equal(mscli_check_conf("a:1"), 0);
    assert_int_equal(mscli_check_conf("a:1,b:2,"), 0);
    assert_int_equal(mscli_check_conf("a:1,b"), -EINVAL);
    assert_int_equal(mscli_check_conf(""), -EINVAL);
}

static void test_run_preload_value_puts_the_shim_first_once(void **state) {
    (void)state;
    char out[256];
    assert_int_equal(mscli_run_preload_value("/x/libmemshim.so", NULL, out, sizeof(out)), 0);
    assert_string_equal(out, "/x/libmemshim.so");
    assert_int_equal(mscli_run_preload_value("/x/libmemshim.so",
                                             "/a/liba.so /old/libmemshim.so::/b/libb.so", out,
                                             sizeof(out)),
                     0);
    assert_string_equal(out, "/x/libmemshim.so:/a/liba.so:/b/libb.so");
    assert_int_equal(mscli_run_preload_value("/x/libmemshim.so", "/a/liba.so", out, 20), -ERANGE);
}

/* Creates the empty file dir/rel. */
static void touch(const char *dir, const char *rel) {
    char p[PATH_MAX + 64];
    snprintf(p, sizeof(p), "%s/%s", dir, rel);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fclose(f);
}

static void test_run_finds_the_library_next_to_itself_or_in_the_prefix(void **state) {
    (void)state;
    char root[] = "/tmp/test_tools_run.XXXXXX";
    assert_non_null(mkdtemp(root));
    char bin[128], lib[128], exe[160], out[PATH_MAX];
    snprintf(bin, sizeof(bin), "%s/bin", root);
    snprintf(lib, sizeof(lib), "%s/lib", root);
    assert_int_equal(mkdir(bin, 0755), 0);
    assert_int_equal(mkdir(lib, 0755), 0);
    snprintf(exe, sizeof(exe), "%s/memshim", bin);
    assert_int_equal(mscli_run_find_lib(exe, out, sizeof(out)), -ENOENT);
    touch(lib, "libmemshim.so"); /* an install prefix: bin/memshim + lib/libmemshim.so */
    assert_int_equal(mscli_run_find_lib(exe, out, sizeof(out)), 0);
    char want[PATH_MAX];
    snprintf(want, sizeof(want), "%s/lib/libmemshim.so", root);
    assert_string_equal(out, want);
    touch(bin, "libmemshim.so"); /* the build tree: next to the binary wins */
    assert_int_equal(mscli_run_find_lib(exe, out, sizeof(out)), 0);
    snprintf(want, sizeof(want), "%s/bin/libmemshim.so", root);
    assert_string_equal(out, want);
    assert_int_equal(mscli_run_find_lib(exe, out, 8), -ERANGE);
    char cmd[PATH_MAX + 16];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
    assert_int_equal(system(cmd), 0);
}

static void test_run_setenv_exports_variables_and_preload(void **state) {
    (void)state;
    const char *argv[] = {"run", "--fail-after", "5", "--conf", "inject.seed:3", "cmd", NULL};
    assert_int_equal(parse(argv), 0);
    setenv("LD_PRELOAD", "/a/liba.so", 1);
    setenv("MEMSHIM_CONF", "log.level:2", 1);
    setenv("MEMSHIM_REPORT_PID", "1", 1);
    assert_int_equal(mscli_run_setenv(&args, "/x/libmemshim.so"), 0);
    assert_string_equal(getenv("LD_PRELOAD"), "/x/libmemshim.so:/a/liba.so");
    assert_string_equal(getenv("MEMSHIM_FAIL_AFTER"), "5");
    assert_string_equal(getenv("MEMSHIM_CONF"), "log.level:2,inject.seed:3");
    assert_null(getenv("MEMSHIM_REPORT_PID"));
    unsetenv("LD_PRELOAD");
    unsetenv("MEMSHIM_CONF");
    unsetenv("MEMSHIM_FAIL_AFTER");
}

/* Copies the ELF file src to a new temporary file with mode and owner uid:gid; its path
 * goes to out. */
static void copy_elf(const char *src, char *out, mode_t mode, uid_t uid, gid_t gid) {
    strcpy(out, "/tmp/test_tools_run_elf.XXXXXX");
    int fd = mkstemp(out);
    assert_true(fd >= 0);
    close(fd);
    char cmd[256];
    snprintf(cmd, sizeof(cmd), "cp %s %s", src, out);
    assert_int_equal(system(cmd), 0);
    if (geteuid() == 0) assert_int_equal(chown(out, uid, gid), 0);
    assert_int_equal(chmod(out, mode), 0);
}

static void test_run_detects_binaries_preload_cannot_reach(void **state) {
    (void)state;
    char why[256];
    assert_false(mscli_run_preload_blocker("/bin/sh", NULL, why, sizeof(why))); /* dynamic */
    assert_false(mscli_run_preload_blocker("/nonexistent", NULL, why, sizeof(why)));
    char script[] = "/tmp/test_tools_run_script.XXXXXX";
    int fd = mkstemp(script);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "#!/bin/sh\n", 10), 10);
    close(fd);
    assert_false(mscli_run_preload_blocker(script, NULL, why, sizeof(why)));
    /* The kernel ignores set-ID bits on scripts: their interpreter decides. */
    assert_int_equal(chmod(script, 04755), 0);
    assert_false(mscli_run_preload_blocker(script, NULL, why, sizeof(why)));
    unlink(script);
    /* A static ELF: the smallest one the toolchain can make here. */
    char src[] = "/tmp/test_tools_run_static.XXXXXX";
    fd = mkstemp(src);
    assert_true(fd >= 0);
    close(fd);
    char cmd[256];
    snprintf(cmd, sizeof(cmd),
             "printf 'int main(void){return 0;}' | cc -static -x c -o %s - 2>/dev/null", src);
    if (system(cmd) == 0) {
        assert_true(mscli_run_preload_blocker(src, NULL, why, sizeof(why)));
        assert_non_null(strstr(why, "statically linked"));
    }
    unlink(src);
}

/* Secure mode (AT_SECURE) is when the IDs after the exec differ from the real ones. */
static void test_run_setuid_blocks_preload_only_in_secure_mode(void **state) {
    (void)state;
    char why[256], suid[64], sgid[64], plain[64];
    /* Owned by 0:0 when we are root; else by us, and the creds below are relative to that. */
    uid_t owner = geteuid() == 0 ? 0 : geteuid();
    gid_t group = geteuid() == 0 ? 0 : getegid();
    copy_elf("/bin/true", suid, 04755, owner, group);
    copy_elf("/bin/true", sgid, 02755, owner, group);
    copy_elf("/bin/true", plain, 0755, owner, group);
    struct statvfs vfs;
    bool nosuid = statvfs(suid, &vfs) == 0 && (vfs.f_flag & ST_NOSUID) != 0;
    uid_t other = owner + 1000;
    gid_t ogroup = group + 1000;
    const mscli_creds_t as_owner = {owner, owner, group, group};
    const mscli_creds_t as_other = {other, other, ogroup, ogroup};
    const mscli_creds_t elevated = {other, owner, ogroup, ogroup}; /* ruid != euid already */
    /* The owner (root running a set-user-ID-root program) keeps its IDs: not secure. */
    assert_false(mscli_run_preload_blocker(suid, &as_owner, why, sizeof(why)));
    assert_false(mscli_run_preload_blocker(sgid, &as_owner, why, sizeof(why)));
    assert_false(mscli_run_preload_blocker(plain, &as_owner, why, sizeof(why)));
    assert_false(mscli_run_preload_blocker(plain, &as_other, why, sizeof(why)));
    if (!nosuid) {
        assert_true(mscli_run_preload_blocker(suid, &as_other, why, sizeof(why)));
        assert_non_null(strstr(why, "set-user-ID"));
        assert_non_null(strstr(why, "secure mode"));
        assert_true(mscli_run_preload_blocker(sgid, &as_other, why, sizeof(why)));
        assert_non_null(strstr(why, "set-group-ID"));
    }
    assert_true(mscli_run_preload_blocker(plain, &elevated, why, sizeof(why)));
    assert_non_null(strstr(why, "differs from the effective uid"));
    /* Set-group-ID without group execute is mandatory locking, not a set-ID program. */
    assert_int_equal(chmod(sgid, 02745), 0);
    assert_false(mscli_run_preload_blocker(sgid, &as_other, why, sizeof(why)));
    unlink(suid);
    unlink(sgid);
    unlink(plain);
}

static void test_run_exit_status_is_the_shell_convention(void **state) {
    (void)state;
    int st;
    pid_t pid = fork();
    if (pid == 0) _exit(42);
    waitpid(pid, &st, 0);
    assert_int_equal(mscli_exit_status(st), 42);
    pid = fork();
    if (pid == 0) {
        raise(SIGKILL);
        _exit(0);
    }
    waitpid(pid, &st, 0);
    assert_int_equal(mscli_exit_status(st), 128 + SIGKILL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_run_options_become_memshim_variables),
        cmocka_unit_test(test_run_first_plain_word_starts_the_command),
        cmocka_unit_test(test_run_later_option_wins_and_conf_accumulates),
        cmocka_unit_test(test_run_rejects_bad_command_lines),
        cmocka_unit_test(test_run_help_runs_nothing),
        cmocka_unit_test(test_run_option_table_is_complete),
        cmocka_unit_test(test_run_validators_accept_what_the_shim_accepts),
        cmocka_unit_test(test_run_preload_value_puts_the_shim_first_once),
        cmocka_unit_test(test_run_finds_the_library_next_to_itself_or_in_the_prefix),
        cmocka_unit_test(test_run_setenv_exports_variables_and_preload),
        cmocka_unit_test(test_run_detects_binaries_preload_cannot_reach),
        cmocka_unit_test(test_run_setuid_blocks_preload_only_in_secure_mode),
        cmocka_unit_test(test_run_dump_at_exit_implies_prof),
        cmocka_unit_test(test_run_version_runs_nothing),
        cmocka_unit_test(test_run_checks_the_dump_dir_first),
        cmocka_unit_test(test_run_exit_status_is_the_shell_convention),
    };
    return cmocka_run_group_tests_name("tools_run", tests, NULL, NULL);
}
