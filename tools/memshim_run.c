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
#include <sys/wait.h>
#include <unistd.h>

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
    {"log-level", "N", "MEMSHIM_LOG_LEVEL", NULL, mscli_check_u64, false,
     "0 error, 1 warn (default), 2 info, 3 debug"},
    {"ctl", NULL, "MEMSHIM_CTL", "1", NULL, false,
     "open a control socket for `memshim ctl` and `memshim ps`"},
    {"conf", "STR", "MEMSHIM_CONF", NULL, mscli_check_conf, true,
     "control settings name:value[,name:value...] (repeatable)"},
    {"prof", NULL, "MEMSHIM_PROF", "1", NULL, false,
     "sample allocations for heap profiles from the start (with --report: leak report)"},
    {"sample", "LG", "MEMSHIM_PROF_SAMPLE", NULL, mscli_check_u64, false,
     "mean bytes between samples, log2 (default 19 = 512 KiB; 0..62)"},
    {"dump-dir", "DIR", "MEMSHIM_DUMP_DIR", NULL, NULL, false,
     "directory of heap dumps (memshim.<pid>.<seq>.heap); default: the cwd"},
    {"dump-at-exit", NULL, "MEMSHIM_DUMP_AT_EXIT", "1", NULL, false,
     "write a heap dump when CMD exits"},
    {"unwinder", "NAME", "MEMSHIM_PROF_UNWINDER", NULL, NULL, false,
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
            return fail(out, "bad value '%s' for --%s", value, opt->name);
        int rc = add_env(out, opt, value);
        if (rc != 0) return rc;
    }
    if (i >= argc) return fail(out, "no command given");
    out->cmd = &argv[i];
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

const char *mscli_run_preload_blocker(const char *path) {
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) return NULL;
    if ((st.st_mode & (S_ISUID | S_ISGID)) != 0)
        return "it is set-user/group-ID: the loader ignores LD_PRELOAD for it";
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return NULL;
    Elf64_Ehdr eh;
    const char *why = NULL;
    if (pread(fd, &eh, sizeof(eh), 0) != (ssize_t)sizeof(eh) ||
        memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 || eh.e_ident[EI_CLASS] != ELFCLASS64 ||
        eh.e_phentsize != sizeof(Elf64_Phdr))
        goto out; /* a script or another format: its interpreter decides */
    bool interp = false;
    for (unsigned i = 0; i < eh.e_phnum; i++) {
        Elf64_Phdr ph;
        if (pread(fd, &ph, sizeof(ph), (off_t)(eh.e_phoff + (uint64_t)i * sizeof(ph))) !=
            (ssize_t)sizeof(ph))
            goto out;
        interp |= ph.p_type == PT_INTERP;
    }
    if (!interp && eh.e_type == ET_EXEC)
        why = "it is statically linked: there is no dynamic loader to preload the shim";
    else if (!interp && eh.e_type == ET_DYN)
        why = "it has no dynamic loader (static-pie): LD_PRELOAD does not apply";
out:
    close(fd);
    return why;
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
    if (mscli_run_parse(argc, argv, &args) != 0) {
        fprintf(stderr, "memshim run: %s\n", args.err);
        mscli_run_usage(stderr);
        return 2;
    }
    if (args.help) {
        mscli_run_usage(stdout);
        return 0;
    }
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
    mscli_prof_leak_t leak;
    rc = mscli_prof_leak_prepare(&leak);
    if (rc != 0) {
        fprintf(stderr, "memshim run: cannot prepare the leak report: %s\n", strerror(-rc));
        return 2;
    }
    char path[PATH_MAX];
    if (resolve(args.cmd[0], path, sizeof(path))) {
        const char *why = mscli_run_preload_blocker(path);
        if (why != NULL)
            fprintf(stderr, "memshim run: warning: %s runs without the shim: %s\n", args.cmd[0],
                    why);
    }
    long pid = 0;
    int status = run_child(args.cmd, &pid);
    if (pid > 0) mscli_prof_leak_report(&leak, pid, args.cmd[0], self);
    return status;
}
