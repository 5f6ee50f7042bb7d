/* SPDX-License-Identifier: MIT */
/*
 * test_tools_ctl.c - the `memshim ctl` client's pure parts (tools/memshim_ctl.c): how
 * command words become one request line, how reply bodies are printed for people (with
 * control bytes escaped), and the checks that a socket really is the target process's.
 */
#include "test_common.h"

#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ctlproto.h"
#include "../../tools/memshim_cli.h"

static char line[MS_CTLPROTO_MAX_LINE + 64];
static char err[256];

static int build(int argc, const char **argv, bool json, const char *cwd) {
    return mscli_ctl_build_line(argc, (char **)argv, json, cwd, line, sizeof(line), err,
                                sizeof(err));
}

static void test_ctl_line_joins_words_with_spaces(void **state) {
    (void)state;
    const char *argv[] = {"set", "log.level", "2"};
    assert_int_equal(build(3, argv, false, "/home/u"), 0);
    assert_string_equal(line, "set log.level 2");
}

static void test_ctl_line_appends_json_flag(void **state) {
    (void)state;
    const char *argv[] = {"stats"};
    assert_int_equal(build(1, argv, true, NULL), 0);
    assert_string_equal(line, "stats --json");
}

static void test_ctl_line_makes_relative_dump_path_absolute(void **state) {
    (void)state;
    const char *rel[] = {"heap", "dump", "out/a.heap"};
    assert_int_equal(build(3, rel, false, "/home/u"), 0);
    assert_string_equal(line, "heap dump /home/u/out/a.heap");
    const char *abs[] = {"heap", "dump", "/tmp/a.heap"};
    assert_int_equal(build(3, abs, false, "/home/u"), 0);
    assert_string_equal(line, "heap dump /tmp/a.heap");
    const char *other[] = {"get", "rel/name"}; /* only dump paths are paths */
    assert_int_equal(build(2, other, false, "/home/u"), 0);
    assert_string_equal(line, "get rel/name");
}

static void test_ctl_line_rejects_words_with_whitespace(void **state) {
    (void)state;
    const char *argv[] = {"heap", "dump", "/tmp/a b.heap"};
    assert_int_equal(build(3, argv, false, NULL), -EINVAL);
    assert_string_equal(err, "argument 3 ('/tmp/a b.heap') is empty or contains whitespace");
    const char *empty[] = {"get", ""};
    assert_int_equal(build(2, empty, false, NULL), -EINVAL);
    const char *ctrl[] = {"get", "a\nb"};
    assert_int_equal(build(2, ctrl, false, NULL), -EINVAL);
}

static void test_ctl_line_rejects_no_command(void **state) {
    (void)state;
    assert_int_equal(build(0, NULL, false, NULL), -EINVAL);
    assert_string_equal(err, "no command given (try 'help')");
}

static void test_ctl_line_rejects_oversized_request(void **state) {
    (void)state;
    static char big[MS_CTLPROTO_MAX_LINE];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    const char *argv[] = {"get", big};
    assert_int_equal(build(2, argv, false, NULL), -EMSGSIZE);
    assert_string_equal(err, "request longer than 4095 bytes");
}

/* Renders into a memory stream and returns what was printed. */
static const char *render(int kind, const char *body) {
    static char out[4096];
    memset(out, 0, sizeof(out));
    FILE *f = fmemopen(out, sizeof(out) - 1, "w");
    assert_non_null(f);
    assert_int_equal(mscli_ctl_render(kind, body, strlen(body), f), 0);
    fclose(f);
    return out;
}

static void test_ctl_render_aligns_kv(void **state) {
    (void)state;
    assert_string_equal(render(MS_CTLPROTO_KV, "allocated\t1024\npid\t7\n"),
                        "allocated  1024\n"
                        "pid           7\n"); /* numbers right-aligned */
}

static void test_ctl_render_right_aligns_numeric_columns(void **state) {
    (void)state;
    assert_string_equal(render(MS_CTLPROTO_TABLE, "bin\tsize\tutil\n0\t8\t0.5\n12\t256\t1.000\n"),
                        "bin  size   util\n"
                        "0       8    0.5\n"
                        "12    256  1.000\n");
}

static void test_ctl_render_left_aligns_text_columns(void **state) {
    (void)state;
    assert_string_equal(render(MS_CTLPROTO_TABLE, "name\tvalue\nlog.level\t1\nprof.dump_dir\t-\n"
                                                  "ctl.socket\t/tmp/x.sock\n"),
                        "name           value\n"
                        "log.level      1\n"
                        "prof.dump_dir  -\n"
                        "ctl.socket     /tmp/x.sock\n");
}

static void test_ctl_render_prints_text_and_json_verbatim(void **state) {
    (void)state;
    assert_string_equal(render(MS_CTLPROTO_TEXT, "a\tb\n"), "a\tb\n");
    assert_string_equal(render(MS_CTLPROTO_JSON, "{\"a\": 1}\n"), "{\"a\": 1}\n");
}

/* --- Escaping --- */

static const char *esc(const char *s, size_t len) {
    static char out[1024];
    size_t n;
    char *e = mscli_escape_dup(s, len, &n);
    assert_non_null(e);
    assert_int_equal(n, strlen(e));
    assert_true(n < sizeof(out));
    memcpy(out, e, n + 1);
    free(e);
    return out;
}
#define ESC(lit) esc(lit, sizeof(lit) - 1)

static void test_escape_keeps_text_newlines_and_tabs(void **state) {
    (void)state;
    assert_string_equal(ESC("pid\t7\nname\tx y ~\n"), "pid\t7\nname\tx y ~\n");
    assert_string_equal(ESC("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"),
                        "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"); /* é € 😀 */
    assert_string_equal(ESC("\xc2\xa0"), "\xc2\xa0");                 /* U+00A0 is printable */
    assert_string_equal(ESC(""), "");
}

static void test_escape_terminal_sequences(void **state) {
    (void)state;
    /* window title, clear screen, OSC 52 clipboard write */
    assert_string_equal(ESC("\x1b]0;owned\x07"), "\\x1b]0;owned\\x07");
    assert_string_equal(ESC("\x1b[2J\x1b[H"), "\\x1b[2J\\x1b[H");
    assert_string_equal(ESC("\x1b]52;c;ZXZpbA==\x1b\\"), "\\x1b]52;c;ZXZpbA==\\x1b\\");
    assert_string_equal(ESC("a\rb\bc\x7f"), "a\\x0db\\x08c\\x7f");
    assert_string_equal(ESC("a\0b"), "a\\x00b");
}

static void test_escape_c1_and_invalid_utf8(void **state) {
    (void)state;
    assert_string_equal(ESC("\x9b"
                            "2J"),
                        "\\x9b2J"); /* 8-bit CSI */
    assert_string_equal(ESC("\xc2\x9b"
                            "2J"),
                        "\\xc2\\x9b2J");                         /* CSI as UTF-8 (U+009B) */
    assert_string_equal(ESC("\xc2\x85"), "\\xc2\\x85");          /* NEL */
    assert_string_equal(ESC("\xc0\xaf"), "\\xc0\\xaf");          /* overlong '/' */
    assert_string_equal(ESC("\xe0\x80\xaf"), "\\xe0\\x80\\xaf"); /* overlong, 3 bytes */
    assert_string_equal(ESC("\xed\xa0\x80"), "\\xed\\xa0\\x80"); /* surrogate */
    assert_string_equal(ESC("\xf4\x90\x80\x80"), "\\xf4\\x90\\x80\\x80"); /* > U+10FFFF */
    assert_string_equal(ESC("\xe2\x82"), "\\xe2\\x82");                   /* truncated */
    assert_string_equal(ESC("\xff\xfe"), "\\xff\\xfe");
}

static void test_ctl_render_escapes_every_kind(void **state) {
    (void)state;
    assert_string_equal(render(MS_CTLPROTO_TEXT, "hi\x1b]0;t\x07\n"), "hi\\x1b]0;t\\x07\n");
    assert_string_equal(render(MS_CTLPROTO_JSON, "{\"a\": \"\x1b[2J\"}\n"),
                        "{\"a\": \"\\x1b[2J\"}\n");
    assert_string_equal(render(MS_CTLPROTO_KV, "k\t\x1b[H\n"), "k  \\x1b[H\n");
    assert_string_equal(render(MS_CTLPROTO_TABLE, "name\tv\n\x9b"
                                                  "1\t2\n"),
                        "name   v\n" /* widths count the escaped text */
                        "\\x9b1  2\n");
}

/* --- Who is behind a socket --- */

static void test_proc_euid_and_environment(void **state) {
    (void)state;
    uid_t uid = (uid_t)-1;
    assert_int_equal(mscli_proc_euid(getpid(), &uid), 0);
    assert_int_equal(uid, geteuid());
    assert_int_equal(mscli_proc_euid(0x7ffffff0, &uid), -ESRCH);
    char v[4096];
    const char *path = getenv("PATH"); /* as this process started: nothing sets it here */
    if (path != NULL) {
        assert_int_equal(mscli_proc_getenv(getpid(), "PATH", v, sizeof(v)), 0);
        assert_string_equal(v, path);
        assert_int_equal(mscli_proc_getenv(getpid(), "PATH", v, 1), -ERANGE);
    }
    assert_int_equal(mscli_proc_getenv(getpid(), "MEMSHIM_NO_SUCH_VARIABLE_X", v, sizeof(v)),
                     -ENOENT);
    assert_int_equal(mscli_proc_getenv(0x7ffffff0, "PATH", v, sizeof(v)), -ESRCH);
}

static char tmpdir[64];

static int setup_tmp(void **state) {
    (void)state;
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/memshim-tctl.XXXXXX");
    return mkdtemp(tmpdir) != NULL ? 0 : -1;
}

static int teardown_tmp(void **state) {
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

/* A listening socket at tmpdir/name; its path in path. */
static int listen_at(const char *name, char *path, size_t len) {
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    snprintf(path, len, "%s/%s", tmpdir, name);
    snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
    assert_int_equal(listen(fd, 4), 0);
    return fd;
}

static int connect_to(const char *path) {
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    assert_int_equal(connect(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
    return fd;
}

static void test_check_socket_owner_and_type(void **state) {
    (void)state;
    char path[128];
    int lfd = listen_at("a.sock", path, sizeof(path));
    assert_int_equal(mscli_ctl_check_socket(path, geteuid(), err, sizeof(err)), 0);
    assert_int_equal(mscli_ctl_check_socket(path, geteuid() + 1, err, sizeof(err)), -EPERM);
    assert_non_null(strstr(err, "not by the process's uid"));
    char reg[128], link[160];
    snprintf(reg, sizeof(reg), "%s/plain", tmpdir);
    FILE *f = fopen(reg, "w");
    assert_non_null(f);
    fclose(f);
    assert_int_equal(mscli_ctl_check_socket(reg, geteuid(), err, sizeof(err)), -EPERM);
    assert_non_null(strstr(err, "not a socket"));
    snprintf(link, sizeof(link), "%s/link.sock", tmpdir);
    assert_int_equal(symlink(path, link), 0);
    assert_int_equal(mscli_ctl_check_socket(link, geteuid(), err, sizeof(err)), -EPERM);
    snprintf(reg, sizeof(reg), "%s/missing.sock", tmpdir);
    assert_int_equal(mscli_ctl_check_socket(reg, geteuid(), err, sizeof(err)), -ENOENT);
    close(lfd);
}

static void *listen_thread(void *arg) {
    char *path = arg;
    return (void *)(intptr_t)listen_at("thread.sock", path, 128);
}

static void test_check_peer_is_the_listening_process(void **state) {
    (void)state;
    /* The shim listens from a thread of its host: the peer pid is still the host's. */
    static char path[128];
    pthread_t th;
    void *ret;
    assert_int_equal(pthread_create(&th, NULL, listen_thread, path), 0);
    assert_int_equal(pthread_join(th, &ret), 0);
    int lfd = (int)(intptr_t)ret;
    int fd = connect_to(path);
    assert_int_equal(mscli_ctl_check_peer(fd, getpid(), geteuid(), path, err, sizeof(err)), 0);
    assert_int_equal(mscli_ctl_check_peer(fd, getpid(), geteuid() + 1, path, err, sizeof(err)),
                     -EPERM);
    close(fd);
    close(lfd);
}

static void test_check_peer_refuses_another_process(void **state) {
    (void)state;
    char path[128];
    int ready[2];
    assert_int_equal(pipe(ready), 0);
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) { /* the impostor: listens, says so, waits to be killed */
        (void)listen_at("imp.sock", path, sizeof(path));
        (void)!write(ready[1], "r", 1);
        for (;;)
            pause();
    }
    close(ready[1]);
    char c;
    assert_int_equal(read(ready[0], &c, 1), 1);
    close(ready[0]);
    snprintf(path, sizeof(path), "%s/imp.sock", tmpdir);
    int fd = connect_to(path);
    assert_int_equal(mscli_ctl_check_peer(fd, getpid(), geteuid(), path, err, sizeof(err)), -EPERM);
    char want[256];
    snprintf(want, sizeof(want), "refusing %s: served by pid %d (uid %u), not by process %d", path,
             (int)child, (unsigned)geteuid(), (int)getpid());
    assert_memory_equal(err, want, strlen(want));
    assert_int_equal(mscli_ctl_check_peer(fd, child, geteuid(), path, err, sizeof(err)), 0);
    close(fd);
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ctl_line_joins_words_with_spaces),
        cmocka_unit_test(test_ctl_line_appends_json_flag),
        cmocka_unit_test(test_ctl_line_makes_relative_dump_path_absolute),
        cmocka_unit_test(test_ctl_line_rejects_words_with_whitespace),
        cmocka_unit_test(test_ctl_line_rejects_no_command),
        cmocka_unit_test(test_ctl_line_rejects_oversized_request),
        cmocka_unit_test(test_ctl_render_aligns_kv),
        cmocka_unit_test(test_ctl_render_right_aligns_numeric_columns),
        cmocka_unit_test(test_ctl_render_left_aligns_text_columns),
        cmocka_unit_test(test_ctl_render_prints_text_and_json_verbatim),
        cmocka_unit_test(test_escape_keeps_text_newlines_and_tabs),
        cmocka_unit_test(test_escape_terminal_sequences),
        cmocka_unit_test(test_escape_c1_and_invalid_utf8),
        cmocka_unit_test(test_ctl_render_escapes_every_kind),
        cmocka_unit_test(test_proc_euid_and_environment),
        cmocka_unit_test_setup_teardown(test_check_socket_owner_and_type, setup_tmp, teardown_tmp),
        cmocka_unit_test_setup_teardown(test_check_peer_is_the_listening_process, setup_tmp,
                                        teardown_tmp),
        cmocka_unit_test_setup_teardown(test_check_peer_refuses_another_process, setup_tmp,
                                        teardown_tmp),
    };
    return cmocka_run_group_tests_name("tools_ctl", tests, NULL, NULL);
}
