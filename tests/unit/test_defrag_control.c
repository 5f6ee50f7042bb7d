/* SPDX-License-Identifier: MIT */
/*
 * test_defrag_control.c - the settings and the control decision of the defrag engine:
 * Valkey's defaults and ranges, when a cycle starts, the interpolated CPU target, the
 * rule that a running target only rises unless a shaping setting changed, and the
 * boost to cycle-max while the moves pay.
 */
#include "defrag_fake.h"

#include <limits.h>

#include <jemalloc/jemalloc.h>

typedef struct rig {
    fake_host_t h;
    burn_stage_t b;
    defrag_t *d;
} rig_t;

/* An enabled engine with default thresholds (10..100%, 1..25% CPU), ignore-bytes 1 MiB
 * and one endless stage; not started. */
static void rig_init(rig_t *r) {
    memset(r, 0, sizeof(*r));
    defrag_config_t c;
    defrag_config_init(&c);
    c.enabled = true;
    c.ignore_bytes = 1 << 20;
    defrag_host_t ops = fake_host_ops(&r->h);
    r->d = defrag_new(&ops, &c);
    assert_non_null(r->d);
    r->b = (burn_stage_t){.h = &r->h, .tag = "b", .chunk_us = 10, .units = UINT64_MAX};
    assert_int_equal(defrag_stage_add(r->d, &burn_ops, &r->b), 0);
}

static unsigned running(const rig_t *r) {
    defrag_metrics_t m;
    defrag_metrics_get(r->d, &m);
    return m.running;
}

static bool boosted(const rig_t *r) {
    defrag_metrics_t m;
    defrag_metrics_get(r->d, &m);
    return m.boosted;
}

static void cron_at(rig_t *r, double pct, size_t bytes) {
    r->h.frag_pct = pct;
    r->h.frag_bytes = bytes;
    defrag_cron(r->d);
    assert_int_equal(defrag_check(r->d), 0);
}

static void test_control_defaults_are_valkeys(void **state) {
    (void)state;
    defrag_config_t c;
    defrag_config_init(&c);
    assert_false(c.enabled);
    assert_int_equal(c.ignore_bytes, 100u << 20);
    assert_int_equal(c.threshold_lower, 10);
    assert_int_equal(c.threshold_upper, 100);
    assert_int_equal(c.cycle_min, 1);
    assert_int_equal(c.cycle_max, 25);
    assert_int_equal(c.cycle_us, 500);
    assert_int_equal(c.max_scan_fields, 1000);
    assert_int_equal(defrag_config_check(&c), 0);
}

static void test_control_setters_validate_ranges(void **state) {
    (void)state;
    fake_host_t h = {0};
    defrag_host_t ops = fake_host_ops(&h);
    defrag_t *d = defrag_new(&ops, NULL);
    assert_non_null(d);
    static const struct {
        const char *name;
        long long lo, hi;
    } rows[] = {
        {"active-defrag-threshold-lower", 0, 1000}, {"active-defrag-threshold-upper", 0, 1000},
        {"active-defrag-cycle-min", 1, 99},         {"active-defrag-cycle-max", 1, 99},
        {"active-defrag-cycle-us", 0, 100000},      {"activedefrag", 0, 1},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        long long v = -7;
        assert_int_equal(defrag_config_set_num(d, rows[i].name, rows[i].lo), 0);
        assert_int_equal(defrag_config_get_num(d, rows[i].name, &v), 0);
        assert_int_equal(v, rows[i].lo);
        assert_int_equal(defrag_config_set_num(d, rows[i].name, rows[i].hi), 0);
        assert_int_equal(defrag_config_get_num(d, rows[i].name, &v), 0);
        assert_int_equal(v, rows[i].hi);
        assert_int_equal(defrag_config_set_num(d, rows[i].name, rows[i].lo - 1), -ERANGE);
        assert_int_equal(defrag_config_set_num(d, rows[i].name, rows[i].hi + 1), -ERANGE);
        assert_int_equal(defrag_config_get_num(d, rows[i].name, &v), 0);
        assert_int_equal(v, rows[i].hi);
    }
    assert_int_equal(defrag_config_set_num(d, "active-defrag-max-scan-fields", 0), -ERANGE);
    assert_int_equal(defrag_config_set_num(d, "active-defrag-max-scan-fields", LLONG_MAX), 0);
    assert_int_equal(defrag_config_set_num(d, "active-defrag-ignore-bytes", 1), 0);
    assert_int_equal(defrag_config_set_num(d, "active-defrag-ignore-bytes", -1), -ERANGE);
    assert_int_equal(defrag_config_set_num(d, "active-defrag-nonsense", 1), -ENOENT);
    assert_int_equal(defrag_config_set_num(d, NULL, 1), -EINVAL);

    /* A whole struct with one bad field changes nothing. */
    defrag_config_t before, bad, after;
    defrag_config_get(d, &before);
    bad = before;
    bad.threshold_lower = 3;
    bad.cycle_max = 100;
    assert_int_equal(defrag_config_set(d, &bad), -ERANGE);
    defrag_config_get(d, &after);
    assert_memory_equal(&before, &after, sizeof(before));
    defrag_free(d);
}

static int count_setting(const char *name, long long min, long long max, long long def, void *arg) {
    assert_non_null(name);
    assert_true(min <= def && def <= max);
    (*(int *)arg)++;
    return 0;
}

static void test_control_foreach_lists_every_setting(void **state) {
    (void)state;
    int n = 0;
    assert_int_equal(defrag_config_foreach(count_setting, &n), 0);
    assert_int_equal(n, 8);
}

static void test_control_does_not_start_below_either_threshold(void **state) {
    (void)state;
    rig_t r;
    rig_init(&r);
    cron_at(&r, 9.9, 50 << 20); /* below threshold-lower */
    assert_false(defrag_is_running(r.d));
    cron_at(&r, 80, (1 << 20) - 1); /* below ignore-bytes */
    assert_false(defrag_is_running(r.d));
    assert_int_equal(running(&r), 0);
    assert_int_equal(r.h.add_calls, 0);
    /* Disabled: nothing, whatever the fragmentation. */
    assert_int_equal(defrag_config_set_num(r.d, "activedefrag", 0), 0);
    cron_at(&r, 500, 1 << 30);
    assert_false(defrag_is_running(r.d));
    /* Paused host: nothing either. */
    assert_int_equal(defrag_config_set_num(r.d, "activedefrag", 1), 0);
    r.h.paused = true;
    cron_at(&r, 500, 1 << 30);
    assert_false(defrag_is_running(r.d));
    r.h.paused = false;
    cron_at(&r, 10, 1 << 20); /* both exactly at their threshold: start */
    assert_true(defrag_is_running(r.d));
    assert_int_equal(running(&r), 1);
    defrag_free(r.d);
}

static void test_control_does_not_start_without_stages(void **state) {
    (void)state;
    fake_host_t h = {.frag_pct = 500, .frag_bytes = (size_t)1 << 30};
    defrag_config_t c;
    defrag_config_init(&c);
    c.enabled = true;
    defrag_host_t ops = fake_host_ops(&h);
    defrag_t *d = defrag_new(&ops, &c);
    defrag_cron(d);
    assert_false(defrag_is_running(d));
    assert_int_equal(h.add_calls, 0);
    defrag_free(d);
}

static void test_control_interpolates_the_cpu_target(void **state) {
    (void)state;
    /* cpu = 1 + (frag - 10) * (25 - 1) / (100 - 10), truncated, clamped to 1..25. */
    static const struct {
        double frag;
        unsigned cpu;
    } rows[] = {{10, 1}, {14, 2}, {50, 11}, {55, 13}, {90, 22}, {99, 24}, {100, 25}, {400, 25}};
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        rig_t r;
        rig_init(&r);
        cron_at(&r, rows[i].frag, 1 << 30);
        assert_true(defrag_is_running(r.d));
        assert_int_equal(running(&r), rows[i].cpu);
        assert_true(r.h.last_target_starting);
        assert_int_equal(r.h.last_target_cpu, rows[i].cpu);
        defrag_free(r.d);
    }
}

static void test_control_target_only_rises_during_a_cycle(void **state) {
    (void)state;
    rig_t r;
    rig_init(&r);
    cron_at(&r, 50, 1 << 30);
    assert_int_equal(running(&r), 11);
    assert_int_equal(r.h.targets, 1);
    cron_at(&r, 90, 1 << 30);
    assert_int_equal(running(&r), 22);
    assert_int_equal(r.h.targets, 2);
    assert_false(r.h.last_target_starting);
    /* Fragmentation falls (the cycle is working): the target stays. */
    cron_at(&r, 20, 1 << 30);
    assert_int_equal(running(&r), 22);
    cron_at(&r, 5, 10); /* even below both thresholds, the running cycle keeps going */
    assert_int_equal(running(&r), 22);
    assert_true(defrag_is_running(r.d));
    assert_int_equal(r.h.targets, 2);
    defrag_free(r.d);
}

static void test_control_shaping_setting_change_may_lower_the_target(void **state) {
    (void)state;
    rig_t r;
    rig_init(&r);
    cron_at(&r, 90, 1 << 30);
    assert_int_equal(running(&r), 22);
    /* threshold-lower and ignore-bytes do not shape the target (as in Valkey). */
    assert_int_equal(defrag_config_set_num(r.d, "active-defrag-threshold-lower", 20), 0);
    assert_int_equal(defrag_config_set_num(r.d, "active-defrag-ignore-bytes", 2 << 20), 0);
    cron_at(&r, 20, 1 << 30);
    assert_int_equal(running(&r), 22);
    /* cycle-max does: 1 + (20 - 20) * 9 / 80 = 1. */
    assert_int_equal(defrag_config_set_num(r.d, "active-defrag-cycle-max", 10), 0);
    cron_at(&r, 20, 1 << 30);
    assert_int_equal(running(&r), 1);
    /* Setting the same value again is no change. */
    assert_int_equal(defrag_config_set_num(r.d, "active-defrag-cycle-max", 10), 0);
    cron_at(&r, 60, 1 << 30);
    assert_int_equal(running(&r), 5); /* 1 + 40 * 9 / 80 = 5.5: a rise is always taken */
    cron_at(&r, 20, 1 << 30);
    assert_int_equal(running(&r), 5);
    /* cycle-us and threshold-upper shape it too. */
    static const char *const shaping[] = {"active-defrag-cycle-us", "active-defrag-threshold-upper",
                                          "active-defrag-cycle-min"};
    static const long long values[] = {800, 200, 1};
    assert_int_equal(defrag_config_set_num(r.d, "active-defrag-cycle-min", 2), 0);
    for (size_t i = 0; i < 3; i++) {
        cron_at(&r, 60, 1 << 30);
        unsigned high = running(&r);
        assert_int_equal(defrag_config_set_num(r.d, shaping[i], values[i]), 0);
        cron_at(&r, 20, 1 << 30);
        assert_true(running(&r) < high);
    }
    defrag_free(r.d);
}

static void test_control_equal_thresholds_step_to_cycle_max(void **state) {
    (void)state;
    rig_t r;
    rig_init(&r);
    assert_int_equal(defrag_config_set_num(r.d, "active-defrag-threshold-upper", 10), 0);
    cron_at(&r, 10, 1 << 30);
    assert_int_equal(running(&r), 25);
    defrag_free(r.d);
}

static void test_control_retries_when_the_host_has_no_timer(void **state) {
    (void)state;
    rig_t r;
    rig_init(&r);
    r.h.fail_add = 1;
    cron_at(&r, 50, 1 << 30);
    assert_false(defrag_is_running(r.d));
    assert_int_equal(running(&r), 0);
    r.h.fail_add = 0;
    cron_at(&r, 50, 1 << 30);
    assert_true(defrag_is_running(r.d));
    assert_int_equal(running(&r), 11);
    defrag_free(r.d);
}

static void test_control_ignores_a_failing_frag_source(void **state) {
    (void)state;
    rig_t r;
    rig_init(&r);
    r.h.frag_rc = -EIO;
    cron_at(&r, 90, 1 << 30);
    assert_false(defrag_is_running(r.d));
    r.h.frag_rc = 0;
    cron_at(&r, 50, 1 << 30);
    assert_int_equal(running(&r), 11);
    /* A failure during a cycle leaves the target alone even after a setting changed. */
    assert_int_equal(defrag_config_set_num(r.d, "active-defrag-cycle-max", 5), 0);
    r.h.frag_rc = -EIO;
    cron_at(&r, 50, 1 << 30);
    assert_int_equal(running(&r), 11);
    r.h.frag_rc = 0;
    cron_at(&r, 50, 1 << 30);
    assert_int_equal(running(&r), 2); /* 1 + 40 * 4 / 90 */
    defrag_free(r.d);
}

static void test_control_default_source_is_the_shims_figure(void **state) {
    (void)state;
    /* No host source: the engine reads memshim_defrag_frag_get, and a test process
     * holds nowhere near 100 MiB of wasted slab space, so no cycle starts. */
    fake_host_t h = {.frag_pct = 500, .frag_bytes = (size_t)1 << 30};
    burn_stage_t b = {.h = &h, .tag = "b", .chunk_us = 10, .units = UINT64_MAX};
    defrag_host_t ops = fake_host_ops(&h);
    ops.frag_get = NULL;
    defrag_config_t c;
    defrag_config_init(&c);
    c.enabled = true;
    defrag_t *d = defrag_new(&ops, &c);
    assert_int_equal(defrag_stage_add(d, &burn_ops, &b), 0);
    defrag_cron(d);
    assert_false(defrag_is_running(d));
    /* With the thresholds at zero, the shim's figure (any value) starts a cycle. */
    assert_int_equal(defrag_config_set_num(d, "active-defrag-threshold-lower", 0), 0);
    assert_int_equal(defrag_config_set_num(d, "active-defrag-ignore-bytes", 1), 0);
    void *p = mallocx(48, MALLOCX_TCACHE_NONE); /* a slab with free regions: waste > 0 */
    assert_non_null(p);
    defrag_cron(d);
    assert_true(defrag_is_running(d));
    dallocx(p, MALLOCX_TCACHE_NONE);
    defrag_free(d);
}

static void test_control_boost_holds_cycle_max_while_the_hit_rate_is_high(void **state) {
    (void)state;
    rig_t r;
    rig_init(&r);
    cron_at(&r, 50, 1 << 30);
    assert_int_equal(running(&r), 11);
    assert_false(boosted(&r));
    /* Fewer than DEFRAG_BOOST_MIN_LOOKED allocations looked at: no verdict, however many
     * moved; the window goes on. */
    defrag_count(r.d, DEFRAG_BOOST_MIN_LOOKED - 1, 0);
    cron_at(&r, 50, 1 << 30);
    assert_int_equal(running(&r), 11);
    /* One more, and the window (all hits) pays: cycle-max. */
    defrag_count(r.d, 0, 1);
    cron_at(&r, 50, 1 << 30);
    assert_int_equal(running(&r), 25);
    assert_true(boosted(&r));
    assert_int_equal(r.h.last_target_cpu, 25);
    assert_false(r.h.last_target_starting);
    /* Exactly DEFRAG_BOOST_HIT_PCT of the next window moved: still pays. */
    defrag_count(r.d, 10 * DEFRAG_BOOST_HIT_PCT, 10 * (100 - DEFRAG_BOOST_HIT_PCT));
    cron_at(&r, 30, 1 << 30);
    assert_int_equal(running(&r), 25);
    /* Just under it: back to the interpolated target, which rose to 22 at frag 90 in
     * the meantime (the base target only rises, boosted or not). */
    cron_at(&r, 90, 1 << 30);
    defrag_count(r.d, 10 * DEFRAG_BOOST_HIT_PCT - 1, 10 * (100 - DEFRAG_BOOST_HIT_PCT) + 1);
    cron_at(&r, 30, 1 << 30);
    assert_false(boosted(&r));
    assert_int_equal(running(&r), 22);
    assert_int_equal(r.h.last_target_cpu, 22);
    /* The rate pays again: boosted again. */
    defrag_count(r.d, 2000, 0);
    cron_at(&r, 30, 1 << 30);
    assert_int_equal(running(&r), 25);
    /* A lower cycle-max applies to the boosted target at the next cron. */
    assert_int_equal(defrag_config_set_num(r.d, "active-defrag-cycle-max", 15), 0);
    defrag_count(r.d, 2000, 0);
    cron_at(&r, 30, 1 << 30);
    assert_int_equal(running(&r), 15);
    assert_true(boosted(&r));
    /* cycle-min above cycle-max wins, boosted too (Valkey's LIMIT). */
    assert_int_equal(defrag_config_set_num(r.d, "active-defrag-cycle-min", 20), 0);
    cron_at(&r, 30, 1 << 30);
    assert_int_equal(running(&r), 20);
    defrag_free(r.d);
}

/* Runs the engine's timer until the current cycle ends (the burn stage finishes). */
static void run_cycle_to_end(rig_t *r, uint64_t hits, uint64_t misses) {
    int ends = r->h.cycle_ends;
    defrag_count(r->d, hits, misses);
    while (r->h.cycle_ends == ends) {
        assert_true(fake_run_next(&r->h));
        assert_int_equal(defrag_check(r->d), 0);
    }
}

static void test_control_cycle_after_a_paying_cycle_starts_at_cycle_max(void **state) {
    (void)state;
    rig_t r;
    rig_init(&r);
    r.b.units = 50; /* a short stage, so cycles end */
    cron_at(&r, 20, 1 << 30);
    assert_int_equal(running(&r), 3); /* 1 + 10 * 24 / 90 */
    /* Its hit rate is high: when it ends, fragmentation is still over threshold-lower,
     * and the cycle Valkey would restart at 3% restarts at cycle-max. */
    run_cycle_to_end(&r, 800, 200);
    assert_true(r.h.last_report.completed);
    assert_int_equal(r.h.last_report.reallocated, 800);
    assert_int_equal(r.h.last_report.misses, 200);
    assert_true(defrag_is_running(r.d));
    assert_true(r.h.last_target_starting);
    assert_int_equal(running(&r), 25);
    assert_true(boosted(&r));
    /* The next one moves little: the cycle after it runs at the interpolated 3%. */
    run_cycle_to_end(&r, 100, 900);
    assert_true(defrag_is_running(r.d));
    assert_int_equal(running(&r), 3);
    assert_false(boosted(&r));
    /* Too few allocations looked at to judge (a small keyspace): no boost. */
    run_cycle_to_end(&r, DEFRAG_BOOST_MIN_LOOKED - 1, 0);
    assert_int_equal(running(&r), 3);
    /* A cycle that is stopped, however well it paid, gives no boost to the next. */
    defrag_count(r.d, 5000, 0);
    defrag_stop(r.d);
    assert_false(r.h.last_report.completed);
    cron_at(&r, 20, 1 << 30);
    assert_int_equal(running(&r), 3);
    assert_false(boosted(&r));
    /* Nor does a paying cycle after which fragmentation is below threshold-lower: no
     * cycle starts at all. */
    r.h.frag_pct = 5;
    run_cycle_to_end(&r, 5000, 0);
    assert_false(defrag_is_running(r.d));
    assert_int_equal(running(&r), 0);
    assert_int_equal(defrag_check(r.d), 0);
    defrag_free(r.d);
}

static void test_control_boost_survives_a_stats_reset(void **state) {
    (void)state;
    rig_t r;
    rig_init(&r);
    cron_at(&r, 50, 1 << 30);
    defrag_count(r.d, 5000, 0);
    defrag_metrics_reset(r.d); /* CONFIG RESETSTAT: the counters restart from zero */
    assert_int_equal(defrag_check(r.d), 0);
    defrag_count(r.d, 2000, 0);
    cron_at(&r, 50, 1 << 30);
    assert_int_equal(running(&r), 25);
    defrag_free(r.d);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_control_defaults_are_valkeys),
        cmocka_unit_test(test_control_setters_validate_ranges),
        cmocka_unit_test(test_control_foreach_lists_every_setting),
        cmocka_unit_test(test_control_does_not_start_below_either_threshold),
        cmocka_unit_test(test_control_does_not_start_without_stages),
        cmocka_unit_test(test_control_interpolates_the_cpu_target),
        cmocka_unit_test(test_control_target_only_rises_during_a_cycle),
        cmocka_unit_test(test_control_shaping_setting_change_may_lower_the_target),
        cmocka_unit_test(test_control_equal_thresholds_step_to_cycle_max),
        cmocka_unit_test(test_control_retries_when_the_host_has_no_timer),
        cmocka_unit_test(test_control_ignores_a_failing_frag_source),
        cmocka_unit_test(test_control_default_source_is_the_shims_figure),
        cmocka_unit_test(test_control_boost_holds_cycle_max_while_the_hit_rate_is_high),
        cmocka_unit_test(test_control_cycle_after_a_paying_cycle_starts_at_cycle_max),
        cmocka_unit_test(test_control_boost_survives_a_stats_reset),
    };
    return cmocka_run_group_tests_name("defrag_control", tests, NULL, NULL);
}
