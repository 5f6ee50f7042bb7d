/* SPDX-License-Identifier: MIT */
/*
 * memshim_run.c - `memshim run [options] -- CMD [ARGS...]`: start a program under the shim.
 *
 * The launcher never loads the shim itself. It turns options into MEMSHIM_* variables
 * (one table row per option, so a new option is a new row), puts libmemshim.so first in
 * LD_PRELOAD, forks, execs CMD and waits, returning CMD's status as a shell would. While
 * it waits it ignores SIGINT/SIGQUIT (the terminal sends them to CMD as well) and
 * forwards SIGTERM/SIGHUP, so killing the launcher stops the program.
 */
#include "memshim_cli.h"
#include "ctlproto.h"

#include <ctype.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "memshim.h"

/* --- Validators --- */

/* The shim parses these values with the same function (shim/ctlproto.c). */
int mscli_check_u64(const char *s) {
    uint64_t v;
    return ms_ctlproto_parse_u64(s, &v, false);
}

int mscli_check_size(const char *s) {
    uint64_t v;
    return ms_ctlproto_parse_u64(s, &v, true);
}

int mscli_check_prob(const char *s) {
    if (s == NULL || *s == '\0' || isspace((unsigned char)*s)) return -EINVAL;
    errno = 0;
    char *end;
    double d = strtod(s, &end);
    if (errno != 0 || *end != '\0' || !(d >= 0.0 && d <= 1.0)) return -EINVAL;
    return 0;
}

/* name:value items; the shim checks names and values against its control table. */
int mscli_check_conf(const char *s) {
    if (s == NULL || *s == '\0') return -EINVAL;
    const char *p = s;
    while (*p != '\0') {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        const char *colon = memchr(p, ':', len);
        if (colon == NULL || colon == p) return -EINVAL;
        p += len;
        if (*p == ',') p++;
    }
    return 0;
}

/* Decimal u64 at most max. */
static int check_u64_max(const char *s, uint64_t max) {
    uint64_t v;
    int rc = ms_ctlproto_parse_u64(s, &v, false);
    return rc != 0 ? rc : v > max ? -EINVAL : 0;
}

/* The shim's range for prof.lg_sample (memshim_prof_reset) and log.level. */
int mscli_check_lg_sample(const char *s) {
    return check_u64_max(s, 62);
}

int mscli_check_log_level(const char *s) {
    return check_u64_max(s, 3);
}

/* The unwinders shim/prof_unwind.c knows. */
int mscli_check_unwinder(const char *s) {
    return s != NULL && (strcmp(s, "libunwind") == 0 || strcmp(s, "libgcc") == 0) ? 0 : -EINVAL;
}

/* --- The option table --- */

static const mscli_run_option_t options[] = {
    {"fail-after", "N", "MEMSHIM_FAIL_AFTER", NULL, mscli_check_u64, false,
     "fail every allocation after the N-th (0 = off)"},
    {"fail-rate", "P", "MEMSHIM_FAIL_RATE", NULL, mscli_check_prob, false,
     "fail each allocation with probability P (0..1)"},
    {"seed", "S", "MEMSHIM_FAIL_SEED", NULL, mscli_check_u64, false,
     "seed of the reproducible --fail-rate sequence"},
    {"fail-min-size", "B", "MEMSHIM_FAIL_MIN_SIZE", NULL, mscli_check_size, false,
     "only requests of at least B bytes may fail (k/m/g suffixes)"},
    {"report", NULL, "MEMSHIM_REPORT", "1", NULL, false,
     "print a memory summary to stderr when CMD exits"},
    {"inherit", NULL, "MEMSHIM_INHERIT", "1", NULL, false,
     "children of CMD run under the shim too (the default)"},
    {"no-inherit", NULL, "MEMSHIM_INHERIT", "0", NULL, false,
     "children of CMD run without the shim"},
    {"log-level", "N", "MEMSHIM_LOG_LEVEL", NULL, mscli_check_log_level, false,
     "0 error, 1 warn (default), 2 info, 3 debug"},
    {"ctl", NULL, "MEMSHIM_CTL", "1", NULL, false,
     "open a control socket for `memshim ctl` and `memshim ps`"},
    {"conf", "STR", "MEMSHIM_CONF", NULL, mscli_check_conf, true,
     "control settings name:value[,name:value...] (repeatable)"},
    {"prof", NULL, "MEMSHIM_PROF", "1", NULL, false,
     "sample allocations for heap profiles from the start (with --report: leak report)"},
    {"sample", "LG", "MEMSHIM_PROF_SAMPLE", NULL, mscli_check_lg_sample, false,
     "mean bytes between samples, log2 (default 19 = 512 KiB; 0..62)"},
    {"dump-dir", "DIR", "MEMSHIM_DUMP_DIR", NULL, NULL, false,
     "directory of heap dumps (memshim.<pid>.<seq>.heap); default: the cwd"},
    {"dump-at-exit", NULL, "MEMSHIM_DUMP_AT_EXIT", "1", NULL, false,
     "write a heap dump when CMD exits (implies --prof)"},
    {"peak", NULL, "MEMSHIM_PROF_PEAK", "1", NULL, false,
     "keep a heap profile of the high-water mark, memshim.<pid>.peak.heap in the dump "
     "dir (implies --prof; with --report: top sites at the peak)"},
    {"unwinder", "NAME", "MEMSHIM_PROF_UNWINDER", NULL, mscli_check_unwinder, false,
     "backtraces of samples: libunwind (default) or libgcc"},
};

const mscli_run_option_t *mscli_run_options(size_t *count) {
    *count = sizeof(options) / sizeof(options[0]);
    return options;
}

void mscli_run_usage(FILE *f) {
    fprintf(f, "usage: memshim run [options] [--] CMD [ARGS...]\n"
               "Runs CMD with libmemshim.so preloaded and returns its exit status.\n\n");
    for (size_t i = 0; i < sizeof(options) / sizeof(options[0]); i++) {
        char left[40];
        snprintf(left, sizeof(left), "--%s%s%s", options[i].name, options[i].metavar ? " " : "",
                 options[i].metavar ? options[i].metavar : "");
        fprintf(f, "  %-22s %s\n", left, options[i].help);
    }
    fprintf(f, "  %-22s %s\n", "-h, --help", "show this help");
    fprintf(f, "  %-22s %s\n", "--version", "print the version");
}

/* --- Shared by the subcommands --- */

int mscli_usage_error(const char *cmd, const char *fmt, ...) {
    const char *sp = cmd != NULL ? " " : "", *name = cmd != NULL ? cmd : "";
    fprintf(stderr, "memshim%s%s: ", sp, name);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry 'memshim%s%s --help' for more information.\n", sp, name);
    return 2;
}

int mscli_print_version(void) {
    printf("memshim %s\n", MEMSHIM_VERSION);
    return 0;
}

/* --- Parsing --- */

__attribute__((format(printf, 2, 3))) static int fail(mscli_run_args_t *out, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out->err, sizeof(out->err), fmt, ap);
    va_end(ap);
    return -EINVAL;
}

static int add_env(mscli_run_args_t *out, const mscli_run_option_t *opt, const char *value) {
    size_t i;
    for (i = 0; i < out->nenv; i++)
        if (strcmp(out->env[i].name, opt->env) == 0) break;
    if (i == out->nenv) {
        if (out->nenv == MSCLI_RUN_MAX_ENV) return fail(out, "too many options");
        out->nenv++;
        out->env[i].name = opt->env;
        out->env[i].value[0] = '\0';
        out->env[i].append = opt->append;
    }
    char *dst = out->env[i].value;
    size_t used = opt->append ? strlen(dst) : 0;
    size_t need = strlen(value) + (used > 0 ? 1 : 0);
    if (used + need >= MSCLI_RUN_VALUE_MAX) return fail(out, "--%s: value too long", opt->name);
    if (used > 0) dst[used++] = ',';
    memcpy(dst + used, value, strlen(value) + 1);
    return 0;
}

int mscli_run_parse(int argc, char **argv, mscli_run_args_t *out) {
    memset(out, 0, sizeof(*out));
    int i = 1;
    for (; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--") == 0) {
            i++;
            break;
        }
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            out->help = true;
            return 0;
        }
        if (strcmp(a, "--version") == 0) {
            out->version = true;
            return 0;
        }
        if (a[0] != '-') break; /* the first word that is not an option starts CMD */
        if (a[1] != '-') return fail(out, "unknown option '%s'", a);
        const char *name = a + 2;
        const char *eq = strchr(name, '=');
        size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
        const mscli_run_option_t *opt = NULL;
        for (size_t k = 0; k < sizeof(options) / sizeof(options[0]); k++)
            if (strlen(options[k].name) == nlen && strncmp(options[k].name, name, nlen) == 0)
                opt = &options[k];
        if (opt == NULL) return fail(out, "unknown option '%s'", a);
        const char *value;
        if (opt->metavar == NULL) {
            if (eq != NULL) return fail(out, "option '--%s' takes no value", opt->name);
            value = opt->flag_value;
        } else if (eq != NULL) {
            value = eq + 1;
        } else {
            if (i + 1 >= argc) return fail(out, "option '--%s' needs a value", opt->name);
            value = argv[++i];
        }
        if (opt->check != NULL && opt->check(value) != 0)
            return fail(out, "bad value '%.64s' for --%s %s: %s", value, opt->name, opt->metavar,
                        opt->help);
        int rc = add_env(out, opt, value);
        if (rc != 0) return rc;
    }
    if (i >= argc) return fail(out, "no command given");
    out->cmd = &argv[i];
    /* A dump at exit or at the peak needs samples: --dump-at-exit or --peak alone would
     * write nothing. */
    const mscli_run_option_t *dae = NULL, *prof = NULL;
    for (size_t k = 0; k < sizeof(options) / sizeof(options[0]); k++) {
        if (strcmp(options[k].name, "dump-at-exit") == 0) dae = &options[k];
        if (strcmp(options[k].name, "prof") == 0) prof = &options[k];
    }
    bool want_dump = false, have_prof = false;
    for (size_t k = 0; k < out->nenv; k++) {
        want_dump |= strcmp(out->env[k].name, dae->env) == 0 ||
                     strcmp(out->env[k].name, "MEMSHIM_PROF_PEAK") == 0;
        have_prof |= strcmp(out->env[k].name, prof->env) == 0;
    }
    if (want_dump && !have_prof) return add_env(out, prof, prof->flag_value);
    return 0;
}

/* --- Environment --- */

int mscli_run_find_lib(const char *self_exe, char *out, size_t len) {
    char dir[PATH_MAX];
    size_t n = strlen(self_exe);
    if (n >= sizeof(dir)) return -ERANGE;
    memcpy(dir, self_exe, n + 1);
    char *slash = strrchr(dir, '/');
    if (slash == NULL)
        strcpy(dir, ".");
    else if (slash == dir)
        dir[1] = '\0';
    else
        *slash = '\0';
    static const char *const rel[] = {"libmemshim.so", "../lib/libmemshim.so"};
    for (size_t i = 0; i < sizeof(rel) / sizeof(rel[0]); i++) {
        char cand[PATH_MAX + 32];
        snprintf(cand, sizeof(cand), "%s/%s", dir, rel[i]);
        char abs[PATH_MAX];
        if (access(cand, R_OK) != 0 || realpath(cand, abs) == NULL) continue;
        if (strlen(abs) >= len) return -ERANGE;
        strcpy(out, abs);
        return 0;
    }
    return -ENOENT;
}

int mscli_run_preload_value(const char *lib, const char *existing, char *out, size_t len) {
    size_t o = strlen(lib);
    if (o >= len) return -ERANGE;
    memcpy(out, lib, o + 1);
    const char *p = existing ? existing : "";
    while (*p != '\0') {
        while (*p == ' ' || *p == ':')
            p++;
        const char *s = p;
        while (*p != '\0' && *p != ' ' && *p != ':')
            p++;
        size_t n = (size_t)(p - s);
        if (n == 0 || memmem(s, n, "libmemshim", 10) != NULL) continue;
        if (o + 1 + n >= len) return -ERANGE;
        out[o++] = ':';
        memcpy(out + o, s, n);
        o += n;
        out[o] = '\0';
    }
    return 0;
}

int mscli_run_setenv(const mscli_run_args_t *args, const char *lib) {
    char buf[8192];
    int rc = mscli_run_preload_value(lib, getenv("LD_PRELOAD"), buf, sizeof(buf));
    if (rc != 0) return rc;
    if (setenv("LD_PRELOAD", buf, 1) != 0) return -ENOMEM;
    unsetenv("MEMSHIM_REPORT_PID"); /* an outer run's; the child sets its own */
    for (size_t i = 0; i < args->nenv; i++) {
        const char *v = args->env[i].value;
        const char *old = getenv(args->env[i].name);
        if (args->env[i].append && old != NULL && old[0] != '\0') {
            size_t lo = strlen(old), lv = strlen(v);
            if (lo + 1 + lv >= sizeof(buf)) return -ERANGE;
            memcpy(buf, old, lo);
            buf[lo] = ',';
            memcpy(buf + lo + 1, v, lv + 1);
            v = buf;
        }
        if (setenv(args->env[i].name, v, 1) != 0) return -ENOMEM;
    }
    return 0;
}

int mscli_run_check_dump_dir(char *err, size_t errlen) {
    const char *dir = getenv("MEMSHIM_DUMP_DIR");
    if (dir == NULL || dir[0] == '\0') return 0;
    struct stat st;
    int rc = 0;
    if (stat(dir, &st) != 0)
        rc = -errno;
    else if (!S_ISDIR(st.st_mode))
        rc = -ENOTDIR;
    else if (access(dir, W_OK | X_OK) != 0)
        rc = -errno;
    if (rc == -ENOENT)
        snprintf(err, errlen, "dump directory '%s' does not exist (create it first)", dir);
    else if (rc == -ENOTDIR)
        snprintf(err, errlen, "dump directory '%s' is not a directory", dir);
    else if (rc != 0)
        snprintf(err, errlen, "dump directory '%s': %s", dir, strerror(-rc));
    return rc;
}

/* --- Running --- */

/* The file execvp would run for cmd, or false when PATH has none. */
static bool resolve(const char *cmd, char *out, size_t len) {
    if (strchr(cmd, '/') != NULL) return snprintf(out, len, "%s", cmd) < (int)len;
    const char *path = getenv("PATH");
    if (path == NULL) path = "/usr/local/bin:/usr/bin:/bin";
    while (*path != '\0') {
        const char *end = strchr(path, ':');
        size_t n = end ? (size_t)(end - path) : strlen(path);
        snprintf(out, len, "%.*s/%s", (int)n, n ? path : ".", cmd);
        if (access(out, X_OK) == 0) return true;
        path += n;
        if (*path == ':') path++;
    }
    return false;
}

/* Reads the ELF header of fd: 1 a dynamically linked ELF, 0 not ELF (or unreadable), or a
 * static one with its reason in why (returns 2). */
static int elf_kind(int fd, char *why, size_t len) {
    Elf64_Ehdr eh;
    if (pread(fd, &eh, sizeof(eh), 0) != (ssize_t)sizeof(eh) ||
        memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 || eh.e_ident[EI_CLASS] != ELFCLASS64 ||
        eh.e_phentsize != sizeof(Elf64_Phdr))
        return 0; /* a script or another format: its interpreter decides */
    bool interp = false;
    for (unsigned i = 0; i < eh.e_phnum; i++) {
        Elf64_Phdr ph;
        if (pread(fd, &ph, sizeof(ph), (off_t)(eh.e_phoff + (uint64_t)i * sizeof(ph))) !=
            (ssize_t)sizeof(ph))
            return 0;
        interp |= ph.p_type == PT_INTERP;
    }
    if (!interp && eh.e_type == ET_EXEC) {
        snprintf(why, len,
                 "it is statically linked: there is no dynamic loader to preload the "
                 "shim");
        return 2;
    }
    if (!interp && eh.e_type == ET_DYN) {
        snprintf(why, len, "it has no dynamic loader (static-pie): LD_PRELOAD does not apply");
        return 2;
    }
    return 1;
}

bool mscli_run_preload_blocker(const char *path, const mscli_creds_t *who, char *why, size_t len) {
    mscli_creds_t self;
    if (who == NULL) {
        self = (mscli_creds_t){getuid(), geteuid(), getgid(), getegid()};
        who = &self;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0) return false;
    struct stat st;
    struct statvfs vfs;
    int kind = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) ? elf_kind(fd, why, len) : 0;
    bool nosuid = fstatvfs(fd, &vfs) == 0 && (vfs.f_flag & ST_NOSUID) != 0;
    /* File capabilities make a non-root user's exec secure (Linux's cap_bprm_creds). */
    bool fcaps = fgetxattr(fd, "security.capability", NULL, 0) > 0;
    close(fd);
    if (kind != 1) return kind == 2; /* static: why is set; not ELF: the interpreter's call */
    /* The IDs after the exec; the loader is in secure mode when they differ from the real
     * ones (a set-group-ID bit without group execute is mandatory locking, not set-ID). */
    uid_t euid = (st.st_mode & S_ISUID) && !nosuid ? st.st_uid : who->euid;
    gid_t egid =
        (st.st_mode & S_ISGID) && (st.st_mode & S_IXGRP) && !nosuid ? st.st_gid : who->egid;
    const char *tail = "the loader runs it in secure mode and ignores LD_PRELOAD";
    if (euid != who->ruid && euid != who->euid)
        snprintf(why, len, "it is set-user-ID (runs as uid %u, you are uid %u): %s", (unsigned)euid,
                 (unsigned)who->ruid, tail);
    else if (euid != who->ruid)
        snprintf(why, len, "the real uid %u differs from the effective uid %u: %s",
                 (unsigned)who->ruid, (unsigned)euid, tail);
    else if (egid != who->rgid && egid != who->egid)
        snprintf(why, len, "it is set-group-ID (runs as gid %u, you are gid %u): %s",
                 (unsigned)egid, (unsigned)who->rgid, tail);
    else if (egid != who->rgid)
        snprintf(why, len, "the real gid %u differs from the effective gid %u: %s",
                 (unsigned)who->rgid, (unsigned)egid, tail);
    else if (fcaps && who->ruid != 0 && !nosuid)
        snprintf(why, len, "it has file capabilities: %s", tail);
    else
        return false;
    return true;
}

int mscli_exit_status(int wstatus) {
    if (WIFEXITED(wstatus)) return WEXITSTATUS(wstatus);
    if (WIFSIGNALED(wstatus)) return 128 + WTERMSIG(wstatus);
    return 1;
}

static volatile sig_atomic_t child_pid;

static void forward(int sig) {
    if (child_pid > 0) kill((pid_t)child_pid, sig);
}

static int run_child(char **cmd, long *pid_out) {
    struct sigaction ign = {.sa_handler = SIG_IGN}, fwd = {.sa_handler = forward}, oint, oquit,
                     oterm, ohup;
    sigemptyset(&fwd.sa_mask);
    sigemptyset(&ign.sa_mask);
    sigaction(SIGINT, &ign, &oint);
    sigaction(SIGQUIT, &ign, &oquit);
    sigaction(SIGTERM, &fwd, &oterm);
    sigaction(SIGHUP, &fwd, &ohup);
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "memshim run: fork: %s\n", strerror(errno));
        return 126;
    }
    if (pid == 0) {
        sigaction(SIGINT, &oint, NULL);
        sigaction(SIGQUIT, &oquit, NULL);
        sigaction(SIGTERM, &oterm, NULL);
        sigaction(SIGHUP, &ohup, NULL);
        execvp(cmd[0], cmd);
        int e = errno;
        fprintf(stderr, "memshim run: cannot run %s: %s\n", cmd[0], strerror(e));
        _exit(e == ENOENT ? 127 : 126);
    }
    child_pid = pid;
    *pid_out = pid;
    int st = 0;
    while (waitpid(pid, &st, 0) < 0) {
        if (errno != EINTR) {
            fprintf(stderr, "memshim run: waitpid: %s\n", strerror(errno));
            return 1;
        }
    }
    child_pid = 0;
    return mscli_exit_status(st);
}

int mscli_run_main(int argc, char **argv) {
    static mscli_run_args_t args; /* large: not on the stack */
    if (mscli_run_parse(argc, argv, &args) != 0) return mscli_usage_error("run", "%s", args.err);
    if (args.help) {
        mscli_run_usage(stdout);
        return 0;
    }
    if (args.version) return mscli_print_version();
    char self[PATH_MAX], lib[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n <= 0) {
        fprintf(stderr, "memshim run: cannot find my own path: %s\n", strerror(errno));
        return 2;
    }
    self[n] = '\0';
    if (mscli_run_find_lib(self, lib, sizeof(lib)) != 0) {
        fprintf(stderr, "memshim run: libmemshim.so is neither next to %s nor in ../lib\n", self);
        return 2;
    }
    int rc = mscli_run_setenv(&args, lib);
    if (rc != 0) {
        fprintf(stderr, "memshim run: cannot set the environment: %s\n", strerror(-rc));
        return 2;
    }
    char err[PATH_MAX + 128];
    if (mscli_run_check_dump_dir(err, sizeof(err)) != 0) {
        fprintf(stderr, "memshim run: %s\n", err);
        return 2;
    }
    mscli_prof_leak_t leak;
    rc = mscli_prof_leak_prepare(&leak);
    if (rc != 0) {
        fprintf(stderr, "memshim run: cannot prepare the leak report: %s\n", strerror(-rc));
        return 2;
    }
    char path[PATH_MAX];
    if (resolve(args.cmd[0], path, sizeof(path)) &&
        mscli_run_preload_blocker(path, NULL, err, sizeof(err)))
        fprintf(stderr, "memshim run: warning: %s runs without the shim: %s\n", args.cmd[0], err);
    long pid = 0;
    int status = run_child(args.cmd, &pid);
    if (pid > 0) mscli_prof_leak_report(&leak, pid, args.cmd[0], self);
    return status;
}
