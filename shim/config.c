/* SPDX-License-Identifier: MIT */
/*
 * config.c - start-up of libmemshim: jemalloc first, then MEMSHIM_* variables, then the
 * fork handlers, then the child-process policy.
 *
 * Every MEMSHIM_* variable is an alias of a control name (the table in ctl.c), so the
 * environment, MEMSHIM_CONF="name:value,..." and the control socket share one parser.
 * A malformed value gets one warning line and the default; the host is never aborted
 * over configuration. Fork order (docs/design.md#fork-order): jemalloc is initialised before
 * our pthread_atfork call, so our prepare handler runs first and takes the shim's lock
 * before jemalloc takes its own.
 */
#include "memshim_internal.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

extern char **environ;

ms_config_t ms_config = {.inherit = true};

static const struct {
    const char *env;
    const char *ctl;
} env_aliases[] = {
    {"MEMSHIM_LOG_LEVEL", "log.level"},
    {"MEMSHIM_INHERIT", "config.inherit"},
    {"MEMSHIM_REPORT", "config.report"},
    {"MEMSHIM_REPORT_FILE", "config.report_file"},
    {"MEMSHIM_FREE_KEEPS_ERRNO", "config.free_keeps_errno"},
    {"MEMSHIM_FAIL_AFTER", "inject.fail_after"},
    {"MEMSHIM_FAIL_RATE", "inject.fail_rate"},
    {"MEMSHIM_FAIL_SEED", "inject.seed"},
    {"MEMSHIM_FAIL_MIN_SIZE", "inject.min_size"},
    /* Profiling: the walker and the rate before activation, so no early sample uses
     * another walker or rate. */
    {"MEMSHIM_PROF_UNWINDER", "prof.unwinder"},
    {"MEMSHIM_PROF_SAMPLE", "prof.lg_sample"},
    {"MEMSHIM_DUMP_DIR", "prof.dump_dir"},
    {"MEMSHIM_DUMP_AT_EXIT", "prof.dump_at_exit"},
    {"MEMSHIM_PROF", "prof.active"},
    {"MEMSHIM_PROF_PEAK", "prof.peak"},
    /* The control socket: the constructor starts it after every value is applied. */
    {"MEMSHIM_CTL_FORK", "ctl.fork"},
    {"MEMSHIM_CTL_TIMEOUT_MS", "ctl.timeout_ms"},
    {"MEMSHIM_CTL", "ctl.enable"},
};

/*
 * MEMSHIM_* names in the environment that are not the shim's settings, so never warned
 * about: the two the shim sets for its children, and the test harness's and build's
 * own (tests/run.sh, tests/lib.sh, the Makefile, whose command-line variables reach
 * every program a recipe runs).
 */
static const char *const env_not_settings[] = {
    "MEMSHIM_WARNED",       /* config.c: the tree was told about a bad value */
    "MEMSHIM_REPORT_PID",   /* config.c: the process the exit report belongs to */
    "MEMSHIM_SAN",          /* tests: running under a sanitizer (make asan, make valgrind) */
    "MEMSHIM_VALGRIND",     /* tests/run.sh: unit tests under valgrind */
    "MEMSHIM_TEST_STALE",   /* tests/run.sh: run binaries older than their sources */
    "MEMSHIM_TEST_TIMEOUT", /* tests/run.sh: per-test timeout */
    "MEMSHIM_DEBUG",        /* make MEMSHIM_DEBUG=N: the assertion level of a build */
};

/* Case-insensitive Levenshtein distance of two names of at most 63 bytes (else 64). */
static size_t name_distance(const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b);
    if (la > 63 || lb > 63) return 64;
    size_t row[64];
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            char ca = a[i - 1], cb = b[j - 1];
            if (ca >= 'a' && ca <= 'z') ca = (char)(ca - 'a' + 'A');
            if (cb >= 'a' && cb <= 'z') cb = (char)(cb - 'a' + 'A');
            size_t best = diag + (ca != cb);
            if (row[j] + 1 < best) best = row[j] + 1;
            if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
            diag = row[j];
            row[j] = best;
        }
    }
    return row[lb];
}

bool ms_config_env_known(const char *name) {
    if (strcmp(name, "MEMSHIM_CONF") == 0) return true;
    for (size_t i = 0; i < sizeof(env_aliases) / sizeof(env_aliases[0]); i++)
        if (strcmp(name, env_aliases[i].env) == 0) return true;
    for (size_t i = 0; i < sizeof(env_not_settings) / sizeof(env_not_settings[0]); i++)
        if (strcmp(name, env_not_settings[i]) == 0) return true;
    return false;
}

const char *ms_config_env_suggest(const char *name) {
    const char *best = NULL;
    size_t best_d = SIZE_MAX;
    size_t n = sizeof(env_aliases) / sizeof(env_aliases[0]);
    for (size_t i = 0; i <= n; i++) {
        const char *cand = i < n ? env_aliases[i].env : "MEMSHIM_CONF";
        size_t d = name_distance(name, cand);
        if (d < best_d) {
            best_d = d;
            best = cand;
        }
    }
    /* Close enough to be a slip: at most 3 edits, and fewer than a third of the name
     * after the prefix (MEMSHIM_X is no misspelling of MEMSHIM_CTL). */
    size_t len = strlen(name) > 8 ? strlen(name) - 8 : 0;
    if (best_d <= 3 && best_d * 3 <= len + 1) return best;
    /* Or a setting without its group: MEMSHIM_SAMPLE for MEMSHIM_PROF_SAMPLE. */
    for (size_t i = 0; len >= 3 && i < n; i++) {
        size_t cl = strlen(env_aliases[i].env);
        if (cl > len + 8 && env_aliases[i].env[cl - len - 1] == '_' &&
            strcasecmp(env_aliases[i].env + cl - len, name + 8) == 0)
            return env_aliases[i].env;
    }
    return NULL;
}

/* Warns about every MEMSHIM_* variable that is not a known name. Walks environ in
 * place (names copied to the stack), so nothing is allocated. */
static int warn_unknown_env(void) {
    int bad = 0;
    for (char **e = environ; e != NULL && *e != NULL; e++) {
        if (strncmp(*e, "MEMSHIM_", 8) != 0) continue;
        const char *eq = strchr(*e, '=');
        size_t len = eq ? (size_t)(eq - *e) : strlen(*e);
        char name[64];
        if (len >= sizeof(name)) len = sizeof(name) - 1; /* longer: unknown anyway */
        memcpy(name, *e, len);
        name[len] = '\0';
        if (ms_config_env_known(name)) continue;
        const char *hint = ms_config_env_suggest(name);
        if (hint != NULL)
            ms_log(MS_LOG_WARN, "unknown variable %s ignored (did you mean %s?)", name, hint);
        else
            ms_log(MS_LOG_WARN, "unknown variable %s ignored", name);
        bad++;
    }
    return bad;
}

/*
 * Why setting control `name` failed. -ENOENT means two things: memshim_ctl found no such
 * name, or the name exists and its setter found what it needs missing (prof.active
 * with MALLOC_CONF=prof:false): the table tells them apart.
 */
static const char *errname(const char *name, int rc) {
    switch (rc) {
    case -ENOENT:
        return ms_ctl_find(name) == NULL ? "unknown name" : "not available in this process";
    case -EPERM: return "read-only";
    case -EINVAL: return "malformed or out of range";
    default: return "rejected";
    }
}

/* MEMSHIM_CONF="inject.fail_rate:0.01,inject.seed:7": comma-separated name:value pairs. */
static int apply_conf_string(const char *conf) {
    int bad = 0;
    char item[256];
    const char *p = conf;
    while (*p != '\0') {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == 0) {
            p += end ? 1 : 0;
            continue;
        }
        if (len >= sizeof(item)) {
            ms_log(MS_LOG_WARN, "MEMSHIM_CONF: item too long, ignored");
            bad++;
        } else {
            memcpy(item, p, len);
            item[len] = '\0';
            char *colon = strchr(item, ':');
            int rc = -EINVAL;
            if (colon != NULL) {
                *colon = '\0';
                rc = memshim_ctl_set_str(item, colon + 1);
            }
            if (rc != 0) {
                ms_log(MS_LOG_WARN, "MEMSHIM_CONF: '%.*s' ignored (%s)", (int)len, p,
                       colon ? errname(item, rc) : "expected name:value");
                bad++;
            }
        }
        p += len;
        if (*p == ',') p++;
    }
    return bad;
}

int ms_config_apply_env(void) {
    /* A child that inherits a bad value stays quiet: its parent already said so. */
    int saved_level = ms_log_level;
    bool quiet = getenv("MEMSHIM_WARNED") != NULL;
    if (quiet) ms_log_level = -1;
    int bad = 0;
    for (size_t i = 0; i < sizeof(env_aliases) / sizeof(env_aliases[0]); i++) {
        const char *v = getenv(env_aliases[i].env);
        if (v == NULL) continue;
        int rc = memshim_ctl_set_str(env_aliases[i].ctl, v);
        if (rc != 0) {
            ms_log(MS_LOG_WARN, "%s='%s' ignored (%s); using the default", env_aliases[i].env, v,
                   errname(env_aliases[i].ctl, rc));
            bad++;
        }
    }
    const char *conf = getenv("MEMSHIM_CONF");
    if (conf != NULL) bad += apply_conf_string(conf);
    bad += warn_unknown_env();
    if (quiet && ms_log_level == -1) ms_log_level = saved_level;
    if (bad > 0 && !quiet) setenv("MEMSHIM_WARNED", "1", 1);
    return bad;
}

/*
 * MEMSHIM_INHERIT=0: take libmemshim out of LD_PRELOAD so children run without it. The
 * value is edited in place (the kept entries never outgrow it), so nothing is allocated
 * and the envp the program's main receives sees the change too.
 */
static void strip_preload(void) {
    char *lp = getenv("LD_PRELOAD");
    if (lp == NULL) return;
    size_t o = 0;
    const char *p = lp;
    while (*p != '\0') {
        while (*p == ' ' || *p == ':')
            p++;
        const char *s = p;
        while (*p != '\0' && *p != ' ' && *p != ':')
            p++;
        size_t len = (size_t)(p - s);
        if (len == 0) continue;
        if (memmem(s, len, "libmemshim", 10) != NULL) continue;
        if (o > 0) lp[o++] = ':';
        memmove(lp + o, s, len); /* o <= s - lp: a separator precedes every later entry */
        o += len;
    }
    lp[o] = '\0';
    if (o == 0) unsetenv("LD_PRELOAD");
}

/*
 * The exit report belongs to the process that was started with MEMSHIM_REPORT (and to
 * whatever it execs, which keeps its pid), not to its children: the first process
 * records its pid in MEMSHIM_REPORT_PID, and a process with another pid stays quiet.
 */
static void report_policy(void) {
    if (!ms_config.report) return;
    const char *rp = getenv("MEMSHIM_REPORT_PID");
    char pid[24];
    snprintf(pid, sizeof(pid), "%d", (int)getpid());
    if (rp == NULL)
        setenv("MEMSHIM_REPORT_PID", pid, 1);
    else if (strcmp(rp, pid) != 0)
        ms_config.report = false;
    if (ms_config.report) (void)ms_report_start();
}

static void fork_prepare(void) {
    ms_ctl_fork_prepare();
    ms_prof_fork_prepare();
    ms_ctlsock_fork_prepare();
    ms_prof_unwind_fork_prepare(); /* last: walks may run until here */
}

static void fork_parent(void) {
    ms_prof_unwind_fork_parent();
    ms_ctlsock_fork_parent();
    ms_prof_fork_parent();
    ms_ctl_fork_parent();
}

static void fork_child(void) {
    ms_prof_unwind_fork_child();
    ms_prof_fork_child();
    ms_ctl_fork_child();
    ms_report_fork_child();
    ms_ctlsock_fork_child(); /* last: it may start the child's control thread */
}

/* Everything here is the shim's own work: failure injection never counts or fails it. */
__attribute__((constructor(101))) static void ms_init(void) {
    int saved = errno;
    ms_tls_internal++;
    /* Initialise jemalloc now, so its atfork handlers are registered before ours. Any
     * mallctl does; a read, not "epoch", whose statistics refresh alone cost about 110 k
     * instructions in every process started under the shim. */
    bool prof_on;
    (void)ms_je_get_bool("opt.prof", &prof_on);
    if (ms_alloc_init() != 0)
        ms_log(MS_LOG_INFO, "jemalloc's malloc/free not found; using mallocx/dallocx only");
    ms_config_apply_env();
    pthread_atfork(fork_prepare, fork_parent, fork_child);
    if (!ms_config.inherit) strip_preload();
    report_policy();
    ms_config.ready = true;
    ms_ctlsock_init();
    ms_tls_internal--;
    errno = saved;
}
