/* SPDX-License-Identifier: MIT */
/*
 * control.c - the settings and the control decision of the defrag engine.
 *
 * The decision is Valkey 8.1's monitorActiveDefrag/updateDefragCpuPercent: called from
 * the host's cron, it starts a cycle when fragmentation exceeds both thresholds, and
 * sets the CPU target by linear interpolation from cycle-min at threshold-lower to
 * cycle-max at threshold-upper, clamped. While a cycle runs the target may only rise
 * (falling fragmentation is the cycle's own doing and should not slow it down), unless
 * a setting that shapes the target changed: cycle-min, cycle-max, threshold-upper or
 * cycle-us (not threshold-lower or ignore-bytes, as in Valkey).
 *
 * The boost, on top of that: the interpolation reads the fragmentation left, which says
 * nothing about whether the pass under way still moves much. Valkey's first cycle at
 * cycle-max leaves about a third of the fragmentation (what it packed into slabs that
 * then looked average, and slabs still draining), and its next cycles crawl at the 5-7%
 * that figure interpolates to while nearly every other allocation they look at still
 * moves. So every cron interval also measures the hit rate of the work done since the
 * last one; while it is at least DEFRAG_BOOST_HIT_PCT (over at least
 * DEFRAG_BOOST_MIN_LOOKED allocations), the target is the top of the range, and a cycle
 * that starts right after one whose overall hit rate was that high starts there. When
 * the rate falls, the target goes back to the interpolated one (which itself only rose
 * meanwhile). A heap that cannot be compacted further answers with misses, so the boost
 * ends by itself.
 * Settings are one table of rows, so names, ranges and defaults live in one place.
 */
#include "defrag_internal.h"

#include <errno.h>
#include <limits.h>
#include <string.h>

#include "memshim.h"

typedef enum field_kind { F_BOOL, F_U64, F_UNSIGNED } field_kind_t;

typedef struct setting {
    const char *name;
    field_kind_t kind;
    size_t off;
    long long min, max, def;
    bool shapes_target; /* a change lets the running target fall */
} setting_t;

#define OFF(f) offsetof(defrag_config_t, f)

static const setting_t settings[] = {
    {"activedefrag", F_BOOL, OFF(enabled), 0, 1, 0, false},
    {"active-defrag-ignore-bytes", F_U64, OFF(ignore_bytes), 1, LLONG_MAX, 100ll << 20, false},
    {"active-defrag-threshold-lower", F_UNSIGNED, OFF(threshold_lower), 0, 1000, 10, false},
    {"active-defrag-threshold-upper", F_UNSIGNED, OFF(threshold_upper), 0, 1000, 100, true},
    {"active-defrag-cycle-min", F_UNSIGNED, OFF(cycle_min), 1, 99, 1, true},
    {"active-defrag-cycle-max", F_UNSIGNED, OFF(cycle_max), 1, 99, 25, true},
    {"active-defrag-cycle-us", F_UNSIGNED, OFF(cycle_us), 0, 100000, 500, true},
    {"active-defrag-max-scan-fields", F_U64, OFF(max_scan_fields), 1, LLONG_MAX, 1000, false},
};

#define NSETTINGS (sizeof(settings) / sizeof(settings[0]))

static long long field_get(const defrag_config_t *c, const setting_t *s) {
    const char *p = (const char *)c + s->off;
    switch (s->kind) {
    case F_BOOL: return *(const bool *)p ? 1 : 0;
    case F_U64: return (long long)*(const uint64_t *)p;
    case F_UNSIGNED: return (long long)*(const unsigned *)p;
    }
    return 0;
}

static void field_put(defrag_config_t *c, const setting_t *s, long long v) {
    char *p = (char *)c + s->off;
    switch (s->kind) {
    case F_BOOL: *(bool *)p = v != 0; break;
    case F_U64: *(uint64_t *)p = (uint64_t)v; break;
    case F_UNSIGNED: *(unsigned *)p = (unsigned)v; break;
    }
}

/* A u64 field above LLONG_MAX reads back negative from field_get; check the raw value. */
static bool field_in_range(const defrag_config_t *c, const setting_t *s) {
    const char *p = (const char *)c + s->off;
    if (s->kind == F_U64 && *(const uint64_t *)p > (uint64_t)LLONG_MAX) return false;
    long long v = field_get(c, s);
    return v >= s->min && v <= s->max;
}

static const setting_t *setting_find(const char *name) {
    for (size_t i = 0; i < NSETTINGS; i++)
        if (strcmp(settings[i].name, name) == 0) return &settings[i];
    return NULL;
}

void defrag_config_init(defrag_config_t *c) {
    memset(c, 0, sizeof(*c));
    for (size_t i = 0; i < NSETTINGS; i++)
        field_put(c, &settings[i], settings[i].def);
}

int defrag_config_check(const defrag_config_t *c) {
    if (c == NULL) return -EINVAL;
    for (size_t i = 0; i < NSETTINGS; i++)
        if (!field_in_range(c, &settings[i])) return -ERANGE;
    return 0;
}

int defrag_config_set(defrag_t *d, const defrag_config_t *c) {
    if (d == NULL) return -EINVAL;
    int rc = defrag_config_check(c);
    if (rc != 0) return rc;
    for (size_t i = 0; i < NSETTINGS; i++)
        if (settings[i].shapes_target &&
            field_get(c, &settings[i]) != field_get(&d->cfg, &settings[i]))
            d->config_changed = true;
    d->cfg = *c;
    return 0;
}

void defrag_config_get(const defrag_t *d, defrag_config_t *out) {
    *out = d->cfg;
}

int defrag_config_set_num(defrag_t *d, const char *name, long long value) {
    if (d == NULL || name == NULL) return -EINVAL;
    const setting_t *s = setting_find(name);
    if (s == NULL) return -ENOENT;
    if (value < s->min || value > s->max) return -ERANGE;
    defrag_config_t c = d->cfg;
    field_put(&c, s, value);
    return defrag_config_set(d, &c);
}

int defrag_config_get_num(const defrag_t *d, const char *name, long long *out) {
    if (d == NULL || name == NULL || out == NULL) return -EINVAL;
    const setting_t *s = setting_find(name);
    if (s == NULL) return -ENOENT;
    *out = field_get(&d->cfg, s);
    return 0;
}

int defrag_config_foreach(int (*fn)(const char *name, long long min, long long max, long long def,
                                    void *arg),
                          void *arg) {
    for (size_t i = 0; i < NSETTINGS; i++) {
        int rc = fn(settings[i].name, settings[i].min, settings[i].max, settings[i].def, arg);
        if (rc != 0) return rc;
    }
    return 0;
}

/* --- The decision --- */

int defrag_frag_read(defrag_t *d, double *pct, size_t *bytes) {
    if (d->host.frag_get != NULL) return d->host.frag_get(d->host.arg, pct, bytes);
    memshim_frag_t f;
    int rc = memshim_defrag_frag_get(&f);
    if (rc != 0) return rc;
    *pct = f.frag_pct;
    *bytes = f.frag_bytes;
    return 0;
}

/* Valkey's INTERPOLATE then LIMIT: the result is truncated toward zero before clamping,
 * and cycle-min wins when it exceeds cycle-max. */
static unsigned target_for(const defrag_config_t *c, double pct) {
    double lo = c->threshold_lower, hi = c->threshold_upper;
    double y;
    if (hi <= lo)
        y = pct >= hi ? c->cycle_max : c->cycle_min;
    else
        y = c->cycle_min + (pct - lo) * ((double)c->cycle_max - c->cycle_min) / (hi - lo);
    long long v = (long long)y;
    if (v > (long long)c->cycle_max) v = c->cycle_max;
    if (v < (long long)c->cycle_min) v = c->cycle_min;
    return (unsigned)v;
}

/* The top of the range: LIMIT lets cycle-min win over a lower cycle-max. */
static unsigned target_top(const defrag_config_t *c) {
    return c->cycle_min > c->cycle_max ? c->cycle_min : c->cycle_max;
}

bool defrag_ctl_pays(uint64_t hits, uint64_t misses) {
    uint64_t looked = hits + misses;
    return looked >= DEFRAG_BOOST_MIN_LOOKED && hits * 100 >= looked * DEFRAG_BOOST_HIT_PCT;
}

/* Whether the target should be boosted now: at a start, the previous cycle's verdict;
 * during a cycle, the hit rate since the window began, once the window is big enough
 * (then a new window begins); until then, no change. */
static bool boost_now(defrag_t *d) {
    if (!d->running) return d->last_cycle_paid;
    uint64_t h = d->hits - d->win_hits, m = d->misses - d->win_misses;
    if (h + m < DEFRAG_BOOST_MIN_LOOKED) return d->boosted;
    d->win_hits = d->hits;
    d->win_misses = d->misses;
    return defrag_ctl_pays(h, m);
}

void defrag_ctl_update_target(defrag_t *d) {
    double pct = 0;
    size_t bytes = 0;
    if (defrag_frag_read(d, &pct, &bytes) != 0) return;
    if (d->cpu_pct == 0 && (pct < d->cfg.threshold_lower || bytes < d->cfg.ignore_bytes)) return;
    unsigned cpu = target_for(&d->cfg, pct);
    if (cpu > d->base_pct || d->config_changed || !d->running) d->base_pct = cpu;
    bool was_boosted = d->boosted;
    d->boosted = boost_now(d);
    unsigned want = d->boosted ? target_top(&d->cfg) : d->base_pct;
    bool may_fall = d->config_changed || (was_boosted && !d->boosted);
    d->config_changed = false;
    if (want > d->cpu_pct || (may_fall && want != d->cpu_pct)) {
        bool starting = !d->running;
        d->cpu_pct = want;
        if (d->host.on_target != NULL) d->host.on_target(d->host.arg, starting, pct, bytes, want);
    }
}

void defrag_cron(defrag_t *d) {
    if (!d->cfg.enabled) return;
    if (d->host.paused != NULL && d->host.paused(d->host.arg)) return;
    if (!d->running && d->nstages == 0) return;
    defrag_ctl_update_target(d);
    if (d->cpu_pct > 0 && !d->running) {
        if (defrag_cycle_begin(d) != 0) { /* no timer: try again next cron */
            d->cpu_pct = d->base_pct = 0;
            d->boosted = false;
        }
    }
}
