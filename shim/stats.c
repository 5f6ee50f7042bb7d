/* SPDX-License-Identifier: MIT */
/*
 * stats.c - jemalloc's counters for the public API, and the small mallctl read helpers
 * the rest of the shim uses (positive errno from jemalloc is negated here, once).
 */
#include "memshim_internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <jemalloc/jemalloc.h>

int ms_je_get_size(const char *name, size_t *out) {
    size_t len = sizeof(*out);
    int rc = mallctl(name, out, &len, NULL, 0);
    return rc != 0 ? -rc : 0;
}

int ms_je_get_u64(const char *name, uint64_t *out) {
    size_t len = sizeof(*out);
    int rc = mallctl(name, out, &len, NULL, 0);
    return rc != 0 ? -rc : 0;
}

int ms_je_get_bool(const char *name, bool *out) {
    size_t len = sizeof(*out);
    int rc = mallctl(name, out, &len, NULL, 0);
    return rc != 0 ? -rc : 0;
}

int ms_je_epoch(void) {
    uint64_t epoch = 1;
    size_t len = sizeof(epoch);
    int rc = mallctl("epoch", &epoch, &len, &epoch, len);
    return rc != 0 ? -rc : 0;
}

int ms_je_prof_figures(bool *active, size_t *lg_sample, size_t *runs, size_t *run_size) {
    bool on = false;
    int rc = ms_je_get_bool("opt.prof", &on);
    if (rc != 0) return rc;
    if (!on) return -ENOENT;
    char name[64];
    snprintf(name, sizeof(name), "stats.arenas.%u.lextents.0.curlextents",
             (unsigned)MALLCTL_ARENAS_ALL);
    if ((rc = ms_je_get_bool("prof.active", active)) != 0 ||
        (rc = ms_je_get_size("prof.lg_sample", lg_sample)) != 0 ||
        (rc = ms_je_get_size(name, runs)) != 0 ||
        (rc = ms_je_get_size("arenas.lextent.0.size", run_size)) != 0)
        return rc;
    return 0;
}

int memshim_stats_get(memshim_stats_t *out) {
    if (out == NULL) return -EINVAL;
    memset(out, 0, sizeof(*out));
    if (ms_je_epoch() != 0) return -EIO;
    static const struct {
        const char *name;
        size_t off;
    } fields[] = {
        {"stats.allocated", offsetof(memshim_stats_t, allocated)},
        {"stats.active", offsetof(memshim_stats_t, active)},
        {"stats.resident", offsetof(memshim_stats_t, resident)},
        {"stats.mapped", offsetof(memshim_stats_t, mapped)},
        {"stats.retained", offsetof(memshim_stats_t, retained)},
        {"stats.metadata", offsetof(memshim_stats_t, metadata)},
    };
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        if (ms_je_get_size(fields[i].name, (size_t *)((char *)out + fields[i].off)) != 0)
            return -EIO;
    }
    out->frag_bytes = out->active > out->allocated ? out->active - out->allocated : 0;
    out->frag_ratio = out->allocated ? (double)out->active / (double)out->allocated : 1.0;
    out->rss_overhead_bytes = out->resident > out->active ? out->resident - out->active : 0;
    out->fail_injected = ms_inject_failures();
    out->fail_countable = ms_inject_seen();
    return 0;
}

int memshim_purge(void) {
    char name[64];
    snprintf(name, sizeof(name), "arena.%u.purge", (unsigned)MALLCTL_ARENAS_ALL);
    int rc = mallctl(name, NULL, NULL, NULL, 0);
    return rc != 0 ? -EIO : 0;
}

/* libmemshim.a has no overrides; override.c's strong definition wins in the .so. */
__attribute__((weak)) bool memshim_is_active(void) {
    return false;
}
