/* SPDX-License-Identifier: MIT */
/*
 * ctl.c - controls are a table, not code (docs/design.md#the-control-tree).
 *
 * Every control the shim offers is one row of `nodes` below: a dotted name, a type,
 * read/write flags, a getter and a setter next to the state they control, and a line of
 * help. memshim_ctl (mallctl's argument shape), the text forms used by MEMSHIM_CONF, the
 * control socket and `memshim ctl`, and the `config` listing all walk this one table, so
 * a name means the same thing everywhere.
 */
#include "memshim_internal.h"

#include <pthread.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jemalloc/jemalloc.h>

#include "ctlproto.h"

/* Serialises control writes; fork handlers below keep it consistent in the child. */
static pthread_mutex_t ctl_lock = PTHREAD_MUTEX_INITIALIZER;

void ms_ctl_fork_prepare(void) {
    pthread_mutex_lock(&ctl_lock);
}

void ms_ctl_fork_parent(void) {
    pthread_mutex_unlock(&ctl_lock);
}

void ms_ctl_fork_child(void) {
    pthread_mutex_init(&ctl_lock, NULL);
}

/* --- Rows whose state lives here --- */

static int version_get(void *out) {
    *(const char **)out = MEMSHIM_VERSION;
    return 0;
}

static int je_version_get(void *out) {
    const char *v = NULL;
    size_t len = sizeof(v);
    if (mallctl("version", &v, &len, NULL, 0) != 0) return -EIO;
    *(const char **)out = v;
    return 0;
}

static int stat_read(const char *je_name, void *out) {
    if (ms_je_epoch() != 0) return -EIO;
    return ms_je_get_size(je_name, (size_t *)out) == 0 ? 0 : -EIO;
}

/* stats_<name>_get reads jemalloc's "stats.<name>" (the getters take no row to name it). */
#define STAT_GETTER(name)                                                                          \
    static int stats_##name##_get(void *out) {                                                     \
        return stat_read("stats." #name, out);                                                     \
    }

STAT_GETTER(allocated)
STAT_GETTER(active)
STAT_GETTER(resident)
STAT_GETTER(mapped)
STAT_GETTER(retained)
STAT_GETTER(metadata)
#undef STAT_GETTER

static int stats_frag_ratio_get(void *out) {
    memshim_stats_t st;
    int rc = memshim_stats_get(&st);
    if (rc != 0) return rc;
    *(double *)out = st.frag_ratio;
    return 0;
}

static int purge_set(const void *in) {
    (void)in;
    return memshim_purge();
}

static int log_level_get(void *out) {
    *(uint64_t *)out = (uint64_t)ms_log_level;
    return 0;
}

static int log_level_set(const void *in) {
    uint64_t v = *(const uint64_t *)in;
    if (v > MS_LOG_DEBUG) return -EINVAL;
    ms_log_level = (int)v;
    return 0;
}

static int inherit_get(void *out) {
    *(bool *)out = ms_config.inherit;
    return 0;
}

static int inherit_set(const void *in) {
    ms_config.inherit = *(const bool *)in;
    return 0;
}

static int report_get(void *out) {
    *(bool *)out = ms_config.report;
    return 0;
}

/* At start-up the constructor decides (report_policy); later writes start the sampler. */
static int report_set(const void *in) {
    ms_config.report = *(const bool *)in;
    if (ms_config.report && ms_config.ready) return ms_report_start();
    return 0;
}

static int report_file_get(void *out) {
    *(const char **)out = ms_config.report_path;
    return 0;
}

static int report_file_set(const void *in) {
    const char *s = *(const char *const *)in;
    if (s == NULL) s = "";
    if (strlen(s) >= sizeof(ms_config.report_path)) return -EINVAL;
    memcpy(ms_config.report_path, s, strlen(s) + 1);
    return 0;
}

static int active_get(void *out) {
    *(bool *)out = memshim_is_active();
    return 0;
}

/* --- The table --- */

#define RO MS_CTL_R
#define WO MS_CTL_W
#define RW (MS_CTL_R | MS_CTL_W)

static const ms_ctl_node_t nodes[] = {
    {"version", MS_CTL_STR, RO, version_get, NULL, "memshim version"},
    {"jemalloc.version", MS_CTL_STR, RO, je_version_get, NULL, "jemalloc version"},
    {"active", MS_CTL_BOOL, RO, active_get, NULL, "malloc/free of this process are the shim's"},
    {"stats.allocated", MS_CTL_SIZE, RO, stats_allocated_get, NULL, "bytes allocated"},
    {"stats.active", MS_CTL_SIZE, RO, stats_active_get, NULL, "bytes in active pages"},
    {"stats.resident", MS_CTL_SIZE, RO, stats_resident_get, NULL, "allocator bytes resident"},
    {"stats.mapped", MS_CTL_SIZE, RO, stats_mapped_get, NULL, "bytes in active extents"},
    {"stats.retained", MS_CTL_SIZE, RO, stats_retained_get, NULL, "bytes retained (unmapped)"},
    {"stats.metadata", MS_CTL_SIZE, RO, stats_metadata_get, NULL, "allocator metadata bytes"},
    {"stats.frag_ratio", MS_CTL_DOUBLE, RO, stats_frag_ratio_get, NULL, "active / allocated"},
    {"purge", MS_CTL_ACTION, WO, NULL, purge_set, "return unused dirty pages to the system"},
    {"inject.fail_after", MS_CTL_U64, RW, ms_ctl_inject_fail_after_get,
     ms_ctl_inject_fail_after_set, "fail every allocation after the N-th (0 = off)"},
    {"inject.fail_rate", MS_CTL_DOUBLE, RW, ms_ctl_inject_fail_rate_get,
     ms_ctl_inject_fail_rate_set, "probability 0..1 that an allocation fails"},
    {"inject.seed", MS_CTL_U64, RW, ms_ctl_inject_seed_get, ms_ctl_inject_seed_set,
     "seed of the reproducible failure sequence"},
    {"inject.min_size", MS_CTL_SIZE, RW, ms_ctl_inject_min_size_get, ms_ctl_inject_min_size_set,
     "only requests of at least this many bytes may fail"},
    {"inject.failures", MS_CTL_U64, RO, ms_ctl_inject_failures_get, NULL,
     "allocations failed on purpose"},
    {"inject.seen", MS_CTL_U64, RO, ms_ctl_inject_seen_get, NULL,
     "allocations counted by the armed rules"},
    {"inject.reset", MS_CTL_ACTION, WO, NULL, ms_ctl_inject_reset_set,
     "disarm failure injection and zero its counters"},
    {"log.level", MS_CTL_U64, RW, log_level_get, log_level_set,
     "0 error, 1 warn (default), 2 info, 3 debug"},
    {"config.inherit", MS_CTL_BOOL, RW, inherit_get, inherit_set,
     "child processes keep the preload (MEMSHIM_INHERIT)"},
    {"config.report", MS_CTL_BOOL, RW, report_get, report_set,
     "print a memory summary at exit (MEMSHIM_REPORT)"},
    {"config.report_file", MS_CTL_STR, RW, report_file_get, report_file_set,
     "file for the exit summary; empty = stderr (MEMSHIM_REPORT_FILE)"},
    {"config.free_keeps_errno", MS_CTL_BOOL, RW, ms_ctl_free_keeps_errno_get,
     ms_ctl_free_keeps_errno_set,
     "free preserves errno (glibc); false = jemalloc's free as is (MEMSHIM_FREE_KEEPS_ERRNO)"},
    {"prof.available", MS_CTL_BOOL, RO, ms_ctl_prof_available_get, NULL,
     "jemalloc's heap profiler exists in this process (opt.prof)"},
    {"prof.active", MS_CTL_BOOL, RW, ms_ctl_prof_active_get, ms_ctl_prof_active_set,
     "allocations are being sampled (MEMSHIM_PROF)"},
    {"prof.lg_sample", MS_CTL_U64, RW, ms_ctl_prof_lg_sample_get, ms_ctl_prof_lg_sample_set,
     "log2 of mean bytes between samples; writing resets the profile (MEMSHIM_PROF_SAMPLE)"},
    {"prof.dump", MS_CTL_ACTION, WO, NULL, ms_ctl_prof_dump_set,
     "write a heap dump to the path given, or to <dump_dir>/memshim.<pid>.<seq>.heap"},
    {"prof.reset", MS_CTL_ACTION, WO, NULL, ms_ctl_prof_reset_set,
     "discard all samples; an argument sets a new lg_sample (0..62)"},
    {"prof.dump_dir", MS_CTL_STR, RW, ms_ctl_prof_dump_dir_get, ms_ctl_prof_dump_dir_set,
     "directory of automatic dump names; empty = cwd (MEMSHIM_DUMP_DIR)"},
    {"prof.dump_at_exit", MS_CTL_BOOL, RW, ms_ctl_prof_dump_at_exit_get,
     ms_ctl_prof_dump_at_exit_set, "write a dump when the process exits (MEMSHIM_DUMP_AT_EXIT)"},
    {"prof.dumps", MS_CTL_U64, RO, ms_ctl_prof_dumps_get, NULL, "dumps written by this process"},
    {"prof.last_dump", MS_CTL_STR, RO, ms_ctl_prof_last_dump_get, NULL,
     "path of the last dump written"},
    {"prof.last_error", MS_CTL_STR, RO, ms_ctl_prof_last_error_get, NULL,
     "text of the last failed profiling call"},
    {"prof.unwinder", MS_CTL_STR, RW, ms_ctl_prof_unwinder_get, ms_ctl_prof_unwinder_set,
     "backtrace walker: libunwind or libgcc (MEMSHIM_PROF_UNWINDER)"},
    {"prof.peak", MS_CTL_BOOL, RW, ms_ctl_prof_peak_get, ms_ctl_prof_peak_set,
     "keep a dump of the high-water mark in <dump_dir>/memshim.<pid>.peak.heap "
     "(MEMSHIM_PROF_PEAK)"},
    {"prof.peak_bytes", MS_CTL_SIZE, RO, ms_ctl_prof_peak_bytes_get, NULL,
     "bytes allocated when the peak profile was written (0: none yet)"},
    {"prof.peak_time", MS_CTL_U64, RO, ms_ctl_prof_peak_time_get, NULL,
     "when the peak profile was written, seconds since the Unix epoch"},
    {"prof.peak_dumps", MS_CTL_U64, RO, ms_ctl_prof_peak_dumps_get, NULL,
     "peak profiles written (each replaces the last)"},
    {"prof.peak_path", MS_CTL_STR, RO, ms_ctl_prof_peak_path_get, NULL,
     "path of the peak profile; empty when none was written"},
    {"ctl.enable", MS_CTL_BOOL, RW, ms_ctl_ctl_enable_get, ms_ctl_ctl_enable_set,
     "control socket <dir>/<pid>.sock for `memshim ctl` (MEMSHIM_CTL)"},
    {"ctl.socket", MS_CTL_STR, RO, ms_ctl_ctl_socket_get, NULL,
     "path of this process's control socket; empty when there is none"},
    {"ctl.fork", MS_CTL_BOOL, RW, ms_ctl_ctl_fork_get, ms_ctl_ctl_fork_set,
     "a forked child opens its own control socket (MEMSHIM_CTL_FORK)"},
    {"ctl.timeout_ms", MS_CTL_U64, RW, ms_ctl_ctl_timeout_ms_get, ms_ctl_ctl_timeout_ms_set,
     "a client must send each request, and read each reply, within this time"},
    {"ctl.refused", MS_CTL_U64, RO, ms_ctl_ctl_refused_get, NULL,
     "control-socket peers refused (another uid, not root)"},
    {"ctl.requests", MS_CTL_U64, RO, ms_ctl_ctl_requests_get, NULL,
     "control-socket requests answered"},
    {"ctl.clients", MS_CTL_U64, RO, ms_ctl_ctl_clients_get, NULL,
     "control-socket connections accepted"},
    {"ctl.evicted", MS_CTL_U64, RO, ms_ctl_ctl_evicted_get, NULL,
     "control-socket connections closed to make room (the idlest, when 16 are open)"},
};

#undef RO
#undef WO
#undef RW

static const size_t nnodes = sizeof(nodes) / sizeof(nodes[0]);

static const char *const type_names[] = {"bool", "u64", "size", "double", "string", "action"};

static size_t type_size(ms_ctl_type_t t) {
    switch (t) {
    case MS_CTL_BOOL: return sizeof(bool);
    case MS_CTL_U64: return sizeof(uint64_t);
    case MS_CTL_SIZE: return sizeof(size_t);
    case MS_CTL_DOUBLE: return sizeof(double);
    case MS_CTL_STR:
    case MS_CTL_ACTION: return sizeof(const char *);
    }
    return 0;
}

const ms_ctl_node_t *ms_ctl_find(const char *name) {
    if (name == NULL) return NULL;
    for (size_t i = 0; i < nnodes; i++)
        if (strcmp(nodes[i].name, name) == 0) return &nodes[i];
    return NULL;
}

int memshim_ctl(const char *name, void *oldp, size_t *oldlenp, const void *newp, size_t newlen) {
    const ms_ctl_node_t *n = ms_ctl_find(name);
    if (n == NULL) return -ENOENT;
    size_t sz = type_size(n->type);
    if (oldp != NULL) {
        if (!(n->flags & MS_CTL_R)) return -EPERM;
        if (oldlenp == NULL || *oldlenp != sz) return -EINVAL;
    }
    if (newp != NULL || n->type == MS_CTL_ACTION) {
        if (!(n->flags & MS_CTL_W)) return -EPERM;
        if (newp != NULL && newlen != sz) return -EINVAL;
        if (newp == NULL && n->type != MS_CTL_ACTION) return -EINVAL;
    }
    if (oldp != NULL) {
        union {
            bool b;
            uint64_t u;
            size_t z;
            double d;
            const char *s;
        } v;
        int rc = n->get(&v);
        if (rc != 0) return rc;
        memcpy(oldp, &v, sz);
        *oldlenp = sz;
    }
    if (n->type == MS_CTL_ACTION && oldp != NULL && newp == NULL) return 0;
    if (n->type != MS_CTL_ACTION && newp == NULL) return 0;
    const char *arg = NULL;
    if (n->type == MS_CTL_ACTION && newp != NULL) arg = *(const char *const *)newp;
    pthread_mutex_lock(&ctl_lock);
    int rc = n->type == MS_CTL_ACTION ? n->set(&arg) : n->set(newp);
    pthread_mutex_unlock(&ctl_lock);
    return rc;
}

static int parse_bool(const char *s, bool *out) {
    static const char *const yes[] = {"1", "true", "yes", "on"};
    static const char *const no[] = {"0", "false", "no", "off"};
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(s, yes[i]) == 0) return *out = true, 0;
        if (strcasecmp(s, no[i]) == 0) return *out = false, 0;
    }
    return -EINVAL;
}

int ms_ctl_parse_value(ms_ctl_type_t type, const char *text, void *out, size_t outlen) {
    if (text == NULL || out == NULL || outlen != type_size(type)) return -EINVAL;
    switch (type) {
    case MS_CTL_BOOL: return parse_bool(text, (bool *)out);
    case MS_CTL_U64: return ms_ctlproto_parse_u64(text, (uint64_t *)out, false);
    case MS_CTL_SIZE: {
        uint64_t v;
        int rc = ms_ctlproto_parse_u64(text, &v, true);
        if (rc != 0) return rc;
        if (v > SIZE_MAX) return -EINVAL;
        *(size_t *)out = (size_t)v;
        return 0;
    }
    case MS_CTL_DOUBLE: {
        if (*text == '\0') return -EINVAL;
        errno = 0;
        char *end;
        double d = strtod(text, &end);
        if (errno != 0 || *end != '\0' || !isfinite(d)) return -EINVAL;
        *(double *)out = d;
        return 0;
    }
    case MS_CTL_STR:
    case MS_CTL_ACTION: *(const char **)out = text; return 0;
    }
    return -EINVAL;
}

int memshim_ctl_set_str(const char *name, const char *value) {
    const ms_ctl_node_t *n = ms_ctl_find(name);
    if (n == NULL) return -ENOENT;
    if (!(n->flags & MS_CTL_W)) return -EPERM;
    if (n->type == MS_CTL_ACTION) {
        const char *arg = (value != NULL && *value != '\0') ? value : NULL;
        return memshim_ctl(name, NULL, NULL, &arg, sizeof(arg));
    }
    union {
        bool b;
        uint64_t u;
        size_t z;
        double d;
        const char *s;
    } v;
    size_t sz = type_size(n->type);
    int rc = ms_ctl_parse_value(n->type, value, &v, sz);
    if (rc != 0) return rc;
    return memshim_ctl(name, NULL, NULL, &v, sz);
}

int memshim_ctl_get_str(const char *name, char *buf, size_t len) {
    const ms_ctl_node_t *n = ms_ctl_find(name);
    if (n == NULL) return -ENOENT;
    if (buf == NULL || len == 0) return -EINVAL;
    if (!(n->flags & MS_CTL_R)) return -EPERM;
    union {
        bool b;
        uint64_t u;
        size_t z;
        double d;
        const char *s;
    } v;
    size_t sz = type_size(n->type);
    int rc = memshim_ctl(name, &v, &sz, NULL, 0);
    if (rc != 0) return rc;
    int w = 0;
    switch (n->type) {
    case MS_CTL_BOOL: w = snprintf(buf, len, "%s", v.b ? "true" : "false"); break;
    case MS_CTL_U64: w = snprintf(buf, len, "%llu", (unsigned long long)v.u); break;
    case MS_CTL_SIZE: w = snprintf(buf, len, "%zu", v.z); break;
    case MS_CTL_DOUBLE: w = snprintf(buf, len, "%.6g", v.d); break;
    case MS_CTL_STR:
    case MS_CTL_ACTION: w = snprintf(buf, len, "%s", v.s ? v.s : ""); break;
    }
    if (w < 0) return -EIO;
    return (size_t)w >= len ? -ERANGE : 0;
}

int memshim_ctl_foreach(int (*fn)(const char *name, const char *type, const char *help, void *arg),
                        void *arg) {
    if (fn == NULL) return -EINVAL;
    for (size_t i = 0; i < nnodes; i++) {
        int rc = fn(nodes[i].name, type_names[nodes[i].type], nodes[i].help, arg);
        if (rc != 0) return rc;
    }
    return 0;
}
