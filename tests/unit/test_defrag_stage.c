/* SPDX-License-Identifier: MIT */
/*
 * test_defrag_stage.c - the stage queue (order, reset, completion, abort, removal), how
 * cycles end (completed, disabled, stopped), the metrics, the later list, and the
 * relocation helpers on real jemalloc blocks.
 */
#include "defrag_fake.h"

#include <jemalloc/jemalloc.h>

#include "memshim.h"

typedef struct rig {
    fake_host_t h;
    burn_stage_t s[3];
    char trace[256];
    defrag_t *d;
} rig_t;

/* Three stages a, b, c of 2, 3 and 1 units of 300 us (a base slice of 500 us runs two
 * units at most), target 25%, fragmentation high. */
static void rig_init(rig_t *r) {
    memset(r, 0, sizeof(*r));
    r->h.frag_pct = 500;
    r->h.frag_bytes = (size_t)1 << 30;
    defrag_config_t c;
    defrag_config_init(&c);
    c.enabled = true;
    defrag_host_t ops = fake_host_ops(&r->h);
    r->d = defrag_new(&ops, &c);
    assert_non_null(r->d);
    static const uint64_t units[3] = {2, 3, 1};
    static const char *const tags[3] = {"a", "b", "c"};
    for (int i = 0; i < 3; i++) {
        r->s[i] = (burn_stage_t){
            .h = &r->h, .tag = tags[i], .chunk_us = 300, .units = units[i], .trace = r->trace};
        assert_int_equal(defrag_stage_add(r->d, &burn_ops, &r->s[i]), 0);
    }
}

static void run_until_idle(rig_t *r, int max) {
    for (int i = 0; i < max && defrag_is_running(r->d); i++)
        assert_true(fake_run_next(&r->h));
}

static void test_stage_queue_runs_stages_in_order_once_per_cycle(void **state) {
    (void)state;
    rig_t r;
    rig_init(&r);
    defrag_cron(r.d);
    assert_true(defrag_is_running(r.d));
    r.h.frag_pct = 1; /* the cycle fixes it: no second cycle */
    run_until_idle(&r, 100);
    assert_false(defrag_is_running(r.d));
    /* a: 300+300 us = 2 units in one slice (done); no full base slice left, so b starts
     * in the next slice: 2 units, then 1 more; c in the slice after. */
    assert_string_equal(r.trace, "abbc");
    for (int i = 0; i < 3; i++) {
        assert_int_equal(r.s[i].resets, 1);
        assert_int_equal(r.s[i].aborts, 0);
        assert_int_equal(r.s[i].left, 0);
    }
    assert_int_equal(r.h.cycle_ends, 1);
    assert_true(r.h.last_report.completed);
    assert_int_equal(r.h.last_report.slices, 4);
    assert_int_equal(fake_armed(&r.h), 0);
    defrag_metrics_t m;
    defrag_metrics_get(r.d, &m);
    assert_int_equal(m.running, 0);
    assert_int_equal(m.cycles, 1);
    assert_int_equal(m.slices, 4);
    assert_int_equal(m.work_us, 6 * 300);
    assert_int_equal(m.current_cycle_ms, 0);
    assert_int_equal(r.h.slices, 4);
    assert_int_equal(r.h.slice_us_total, 6 * 300);
    defrag_free(r.d);
}

static void test_stage_completed_cycle_restarts_while_fragmentation_is_high(void **state) {
    (void)state;
    rig_t r;
    rig_init(&r);
    defrag_cron(r.d);
    for (int i = 0; i < 4; i++)
        assert_true(fake_run_next(&r.h));
    /* The fourth slice ended the cycle; fragmentation is still 500%: a new cycle is
     * already running, on a new timer, with every stage reset again. */
    assert_int_equal(r.h.cycle_ends, 1);
    assert_true(defrag_is_running(r.d));
    assert_int_equal(fake_armed(&r.h), 1);
    assert_int_equal(r.h.add_calls, 2);
    assert_true(fake_run_next(&r.h));
    assert_int_equal(r.s[0].resets, 2);
    assert_string_equal(r.trace, "abbca");
    defrag_free(r.d);
    /* defrag_free cancelled the timer. */
    assert_int_equal(fake_armed(&r.h), 0);
}

static void test_stage_abort_moves_on_to_the_next_stage(void **state) {
    (void)state;
    rig_t r;
    rig_init(&r);
    defrag_cron(r.d);
    assert_true(fake_run_next(&r.h)); /* a done */
    assert_true(fake_run_next(&r.h)); /* b started, 2 of 3 units */
    assert_string_equal(defrag_stage_current(r.d), "burn");
    /* FLUSHDB of a database whose stage is not the current one: nothing. */
    assert_false(defrag_stage_abort(r.d, &r.s[2]));
    assert_int_equal(r.s[1].aborts, 0);
    /* ... of b's database: b aborts now, c runs next. */
    assert_true(defrag_stage_abort(r.d, &r.s[1]));
    assert_int_equal(defrag_check(r.d), 0);
    assert_int_equal(r.s[1].aborts, 1);
    assert_null(defrag_stage_current(r.d)); /* c has not started yet */
    assert_false(defrag_stage_abort(r.d, NULL));
    r.h.frag_pct = 1;
    run_until_idle(&r, 10);
    assert_string_equal(r.trace, "abc");
    assert_int_equal(r.s[1].left, 1);
    assert_true(r.h.last_report.completed);
    defrag_free(r.d);
}

static void test_stage_abort_any_with_null(void **state) {
    (void)state;
    rig_t r;
    rig_init(&r);
    assert_false(defrag_stage_abort(r.d, NULL)); /* idle */
    defrag_cron(r.d);
    assert_true(fake_run_next(&r.h));
    assert_true(fake_run_next(&r.h));
    assert_true(defrag_stage_abort(r.d, NULL));
    assert_int_equal(defrag_check(r.d), 0);
    assert_int_equal(r.s[1].aborts, 1);
    defrag_free(r.d);
}

static void test_stage_disabling_ends_the_cycle_at_the_next_slice(void **state) {
    (void)state;
    rig_t r;
    rig_init(&r);
    defrag_cron(r.d);
    assert_true(fake_run_next(&r.h));
    assert_true(fake_run_next(&r.h)); /* b in progress */
    assert_int_equal(defrag_config_set_num(r.d, "activedefrag", 0), 0);
    assert_true(defrag_is_running(r.d));
    assert_true(fake_run_next(&r.h));
    assert_int_equal(r.h.last_delay, DEFRAG_TIMER_STOP);
    assert_false(defrag_is_running(r.d));
    assert_int_equal(r.s[1].aborts, 1);
    assert_int_equal(r.s[2].resets, 0);
    assert_int_equal(r.h.cycle_ends, 1);
    assert_false(r.h.last_report.completed);
    assert_int_equal(fake_armed(&r.h), 0);
    assert_string_equal(r.trace, "ab");
    defrag_free(r.d);
}

static void test_stage_stop_cancels_the_timer_and_aborts(void **state) {
    (void)state;
    rig_t r;
    rig_init(&r);
    defrag_cron(r.d);
    assert_true(fake_run_next(&r.h));
    assert_true(fake_run_next(&r.h));
    defrag_stop(r.d);
    assert_int_equal(defrag_check(r.d), 0);
    assert_false(defrag_is_running(r.d));
    assert_int_equal(r.h.del_calls, 1);
    assert_int_equal(fake_armed(&r.h), 0);
    assert_int_equal(r.s[1].aborts, 1);
    assert_false(r.h.last_report.completed);
    defrag_stop(r.d); /* idle: nothing */
    assert_int_equal(r.h.cycle_ends, 1);
    defrag_free(r.d);
}

static void test_stage_stop_without_del_timer_reuses_the_stale_timer(void **state) {
    (void)state;
    rig_t r;
    rig_init(&r);
    defrag_free(r.d);
    defrag_host_t ops = fake_host_ops(&r.h);
    ops.del_timer = NULL;
    r.d = defrag_new(&ops, NULL);
    assert_int_equal(defrag_config_set_num(r.d, "activedefrag", 1), 0);
    for (int i = 0; i < 3; i++)
        assert_int_equal(defrag_stage_add(r.d, &burn_ops, &r.s[i]), 0);
    defrag_cron(r.d);
    assert_true(fake_run_next(&r.h));
    defrag_stop(r.d);
    assert_int_equal(defrag_check(r.d), 0);
    assert_int_equal(fake_armed(&r.h), 1); /* the host could not cancel it */
    /* A new cycle starts on the same timer: no second one. */
    defrag_cron(r.d);
    assert_true(defrag_is_running(r.d));
    assert_int_equal(r.h.add_calls, 1);
    assert_int_equal(fake_armed(&r.h), 1);
    assert_true(fake_run_next(&r.h));
    assert_int_equal(r.s[0].resets, 2);
    /* Stopped again and left alone, the stale timer ends itself. */
    defrag_stop(r.d);
    assert_int_equal(defrag_check(r.d), 0);
    assert_true(fake_run_next(&r.h));
    assert_int_equal(r.h.last_delay, DEFRAG_TIMER_STOP);
    assert_int_equal(fake_armed(&r.h), 0);
    defrag_free(r.d);
}

static void test_stage_remove_of_the_current_stage_aborts_it(void **state) {
    (void)state;
    rig_t r;
    rig_init(&r);
    defrag_cron(r.d);
    assert_true(fake_run_next(&r.h));
    assert_true(fake_run_next(&r.h)); /* b in progress */
    assert_int_equal(defrag_stage_remove(r.d, &r.s[1]), 1);
    assert_int_equal(defrag_check(r.d), 0);
    assert_int_equal(r.s[1].aborts, 1);
    assert_int_equal(defrag_stage_remove(r.d, &r.s[1]), 0);
    r.h.frag_pct = 1;
    run_until_idle(&r, 10);
    assert_string_equal(r.trace, "abc");
    assert_true(r.h.last_report.completed);
    /* Removing a stage before the current one keeps the current one. */
    r.trace[0] = '\0';
    r.h.frag_pct = 500;
    defrag_cron(r.d);
    assert_true(fake_run_next(&r.h)); /* a done, c next */
    assert_int_equal(defrag_stage_remove(r.d, &r.s[0]), 1);
    assert_int_equal(defrag_check(r.d), 0);
    assert_int_equal(r.s[0].aborts, 0);
    r.h.frag_pct = 1;
    run_until_idle(&r, 10);
    assert_int_equal(r.s[2].resets, 2);
    defrag_free(r.d);
}

static void test_stage_add_rejects_a_stage_without_step(void **state) {
    (void)state;
    rig_t r;
    rig_init(&r);
    static const defrag_stage_ops_t no_step = {"x", NULL, NULL, NULL};
    assert_int_equal(defrag_stage_add(r.d, &no_step, NULL), -EINVAL);
    assert_int_equal(defrag_stage_add(r.d, NULL, NULL), -EINVAL);
    /* Many stages grow the queue. */
    burn_stage_t more[20];
    for (int i = 0; i < 20; i++) {
        more[i] = (burn_stage_t){.h = &r.h, .tag = "m", .chunk_us = 300, .units = 1};
        assert_int_equal(defrag_stage_add(r.d, &burn_ops, &more[i]), 0);
    }
    defrag_cron(r.d);
    r.h.frag_pct = 1;
    run_until_idle(&r, 100);
    for (int i = 0; i < 20; i++)
        assert_int_equal(more[i].resets, 1);
    defrag_free(r.d);
}

static void test_stage_metrics_count_time_and_reset(void **state) {
    (void)state;
    rig_t r;
    rig_init(&r);
    r.h.now = 1000000;
    defrag_cron(r.d);
    r.h.now += 7500; /* 7.5 ms into the cycle */
    defrag_metrics_t m;
    defrag_metrics_get(r.d, &m);
    assert_int_equal(m.running, 25);
    assert_int_equal(m.current_cycle_ms, 7);
    assert_int_equal(m.total_time_ms, 7);
    defrag_count(r.d, 5, 7);
    defrag_count_key(r.d, true);
    defrag_count_key(r.d, false);
    defrag_count_key(r.d, false);
    defrag_stop(r.d);
    assert_int_equal(defrag_check(r.d), 0);
    assert_int_equal(r.h.last_report.duration_ms, 7);
    assert_int_equal(r.h.last_report.reallocated, 5);
    defrag_metrics_get(r.d, &m);
    assert_int_equal(m.running, 0);
    assert_int_equal(m.hits, 5);
    assert_int_equal(m.misses, 7);
    assert_int_equal(m.key_hits, 1);
    assert_int_equal(m.key_misses, 2);
    assert_int_equal(m.total_time_ms, 7);
    assert_int_equal(m.current_cycle_ms, 0);
    /* A second cycle adds to the total, which includes the running one. */
    defrag_cron(r.d);
    r.h.now += 4000;
    defrag_metrics_get(r.d, &m);
    assert_int_equal(m.total_time_ms, 11);
    /* CONFIG RESETSTAT in mid-cycle: counters and total restart, the cycle goes on. */
    defrag_metrics_reset(r.d);
    assert_int_equal(defrag_check(r.d), 0);
    r.h.now += 2000;
    defrag_metrics_get(r.d, &m);
    assert_int_equal(m.hits, 0);
    assert_int_equal(m.key_misses, 0);
    assert_int_equal(m.total_time_ms, 2);
    assert_int_equal(m.current_cycle_ms, 6);
    assert_int_equal(m.running, 25);
    defrag_stop(r.d);
    assert_int_equal(defrag_check(r.d), 0);
    assert_int_equal(r.h.last_report.duration_ms, 6);
    defrag_free(r.d);
}

static void test_stage_should_defer_above_max_scan_fields(void **state) {
    (void)state;
    rig_t r;
    rig_init(&r);
    assert_false(defrag_should_defer(r.d, 1000));
    assert_true(defrag_should_defer(r.d, 1001));
    assert_int_equal(defrag_config_set_num(r.d, "active-defrag-max-scan-fields", 1), 0);
    assert_false(defrag_should_defer(r.d, 1));
    assert_true(defrag_should_defer(r.d, 2));
    defrag_free(r.d);
}

/* --- The later list --- */

static void test_later_is_a_fifo_of_names_with_cursors(void **state) {
    (void)state;
    defrag_later_t *l = defrag_later_new();
    assert_non_null(l);
    const void *name;
    size_t len;
    uint64_t *cursor;
    assert_false(defrag_later_head(l, &name, &len, &cursor));
    assert_int_equal(defrag_later_add(l, "big:hash", 8), 0);
    assert_int_equal(defrag_later_add(l, "a\0b", 3), 0); /* names are bytes */
    assert_int_equal(defrag_later_add(l, "", 0), 0);
    assert_int_equal(defrag_later_count(l), 3);
    assert_int_equal(defrag_later_check(l), 0);

    assert_true(defrag_later_head(l, &name, &len, &cursor));
    assert_int_equal(len, 8);
    assert_memory_equal(name, "big:hash", 8);
    assert_int_equal(*cursor, 0);
    *cursor = 0xdeadbeefcafe; /* a step stops mid-value */
    uint64_t *again;
    assert_true(defrag_later_head(l, NULL, NULL, &again));
    assert_ptr_equal(again, cursor);
    assert_int_equal(*again, 0xdeadbeefcafe);

    defrag_later_pop(l);
    assert_int_equal(defrag_later_check(l), 0);
    assert_true(defrag_later_head(l, &name, &len, &cursor));
    assert_int_equal(len, 3);
    assert_memory_equal(name, "a\0b", 3);
    assert_int_equal(*cursor, 0);
    defrag_later_pop(l);
    assert_int_equal(defrag_later_check(l), 0);
    assert_true(defrag_later_head(l, &name, &len, &cursor));
    assert_int_equal(len, 0);
    defrag_later_pop(l);
    assert_int_equal(defrag_later_check(l), 0);
    assert_int_equal(defrag_later_count(l), 0);
    assert_false(defrag_later_head(l, &name, &len, &cursor));
    defrag_later_pop(l); /* empty: no-op */

    /* Appending after draining works (the tail was reset). */
    for (int i = 0; i < 100; i++) {
        char key[16];
        int n = snprintf(key, sizeof(key), "k%d", i);
        assert_int_equal(defrag_later_add(l, key, (size_t)n), 0);
    }
    assert_true(defrag_later_head(l, &name, &len, &cursor));
    assert_memory_equal(name, "k0", 2);
    defrag_later_clear(l);
    assert_int_equal(defrag_later_check(l), 0);
    assert_int_equal(defrag_later_count(l), 0);
    assert_int_equal(defrag_later_add(l, "z", 1), 0);
    assert_int_equal(defrag_later_count(l), 1);
    defrag_later_free(l);
    defrag_later_free(NULL);
}

/* --- Relocation helpers on real jemalloc blocks --- */

#define NBLK 60000

static void test_stage_move_batch_counts_hits_and_misses(void **state) {
    (void)state;
    rig_t r;
    rig_init(&r);
    void **blk = calloc(NBLK, sizeof(*blk));
    assert_non_null(blk);
    for (size_t i = 0; i < NBLK; i++) {
        blk[i] = mallocx(64, MALLOCX_TCACHE_NONE);
        assert_non_null(blk[i]);
        memset(blk[i], (int)(i & 0xff), 64);
    }
    size_t live = 0;
    for (size_t i = 0; i < NBLK; i++) {
        if (i % 10 < 7) {
            dallocx(blk[i], MALLOCX_TCACHE_NONE);
            blk[i] = NULL;
        } else {
            live++;
        }
    }
    assert_int_equal(memshim_defrag_refresh(), 0);
    size_t moved = defrag_move_batch(r.d, blk, NBLK);
    defrag_metrics_t m;
    defrag_metrics_get(r.d, &m);
    assert_int_equal(m.hits, moved);
    assert_int_equal(m.hits + m.misses, live);
    if (memshim_defrag_supported())
        assert_true(moved > live / 4);
    else
        assert_int_equal(moved, 0);
    for (size_t i = 0; i < NBLK; i++) {
        if (blk[i] == NULL) continue;
        unsigned char expect[64];
        memset(expect, (int)(i & 0xff), 64);
        assert_memory_equal(blk[i], expect, 64);
    }
    /* Single-pointer forms: NULL is neither a hit nor a miss. */
    assert_null(defrag_move(r.d, NULL));
    assert_null(defrag_alloc_copy(r.d, NULL));
    defrag_metrics_get(r.d, &m);
    assert_int_equal(m.hits + m.misses, live);
    void *big = mallocx(1 << 20, 0);
    assert_null(defrag_move(r.d, big)); /* large: never moved, a miss */
    defrag_metrics_t m2;
    defrag_metrics_get(r.d, &m2);
    assert_int_equal(m2.misses, m.misses + 1);
    dallocx(big, 0);
    for (size_t i = 0; i < NBLK; i++)
        if (blk[i] != NULL) dallocx(blk[i], 0);
    free(blk);
    defrag_free(r.d);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stage_queue_runs_stages_in_order_once_per_cycle),
        cmocka_unit_test(test_stage_completed_cycle_restarts_while_fragmentation_is_high),
        cmocka_unit_test(test_stage_abort_moves_on_to_the_next_stage),
        cmocka_unit_test(test_stage_abort_any_with_null),
        cmocka_unit_test(test_stage_disabling_ends_the_cycle_at_the_next_slice),
        cmocka_unit_test(test_stage_stop_cancels_the_timer_and_aborts),
        cmocka_unit_test(test_stage_stop_without_del_timer_reuses_the_stale_timer),
        cmocka_unit_test(test_stage_remove_of_the_current_stage_aborts_it),
        cmocka_unit_test(test_stage_add_rejects_a_stage_without_step),
        cmocka_unit_test(test_stage_metrics_count_time_and_reset),
        cmocka_unit_test(test_stage_should_defer_above_max_scan_fields),
        cmocka_unit_test(test_later_is_a_fifo_of_names_with_cursors),
        cmocka_unit_test(test_stage_move_batch_counts_hits_and_misses),
    };
    return cmocka_run_group_tests_name("defrag_stage", tests, NULL, NULL);
}
