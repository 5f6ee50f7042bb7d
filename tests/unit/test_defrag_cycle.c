/* SPDX-License-Identifier: MIT */
/*
 * test_defrag_cycle.c - the duty cycle of the defrag engine on a fake clock: the CPU
 * share it takes, the longer slice after a starved timer, and the pay-back of overruns
 * (the Valkey 8.1 scheme described in defrag/cycle.c).
 */
#include "defrag_fake.h"

typedef struct rig {
    fake_host_t h;
    burn_stage_t b;
    defrag_t *d;
} rig_t;

/* An engine whose fragmentation is far above threshold-upper, so the target is
 * cycle-max, with one endless burn stage of the given chunk. */
/* The clients_waiting hook rig_start installs (NULL: none), and what it answers. */
static bool (*rig_clients_waiting)(void *arg);
static bool rig_waiting;

static bool waiting_answer(void *arg) {
    (void)arg;
    return rig_waiting;
}

static void rig_start(rig_t *r, unsigned cpu, unsigned cycle_us, uint64_t chunk_us) {
    memset(r, 0, sizeof(*r));
    r->h.frag_pct = 500;
    r->h.frag_bytes = (size_t)1 << 30;
    defrag_config_t c;
    defrag_config_init(&c);
    c.enabled = true;
    c.cycle_min = cpu;
    c.cycle_max = cpu;
    c.cycle_us = cycle_us;
    defrag_host_t ops = fake_host_ops(&r->h);
    ops.clients_waiting = rig_clients_waiting;
    r->d = defrag_new(&ops, &c);
    assert_non_null(r->d);
    r->b = (burn_stage_t){.h = &r->h, .tag = "b", .chunk_us = chunk_us, .units = UINT64_MAX};
    assert_int_equal(defrag_stage_add(r->d, &burn_ops, &r->b), 0);
    defrag_cron(r->d);
    assert_true(defrag_is_running(r->d));
}

static void rig_stop(rig_t *r) {
    defrag_free(r->d);
}

/* Runs slices until the fake clock has advanced by `span_us`; returns the share of that
 * time spent inside stage steps, in percent. */
static double run_for(rig_t *r, uint64_t span_us) {
    uint64_t t0 = r->h.now, busy0 = r->b.busy_us;
    while (r->h.now - t0 < span_us) {
        assert_true(fake_run_next(&r->h));
        assert_int_equal(defrag_check(r->d), 0);
    }
    return 100.0 * (double)(r->b.busy_us - busy0) / (double)(r->h.now - t0);
}

static void test_cycle_first_slice_is_base_length_then_paced(void **state) {
    (void)state;
    rig_t r;
    rig_start(&r, 25, 500, 1);
    assert_true(fake_run_next(&r.h));
    assert_int_equal(r.b.last_deadline - r.b.last_start, 500);
    /* Total cycle 500*100/25 = 2000 us, so the delay is 1500 us. */
    assert_int_equal(r.h.last_delay, 1500);
    for (int i = 0; i < 10; i++) {
        assert_true(fake_run_next(&r.h));
        assert_int_equal(r.b.last_deadline - r.b.last_start, 500);
        assert_int_equal(r.h.last_delay, 1500);
    }
    rig_stop(&r);
}

static void test_cycle_cpu_share_matches_target(void **state) {
    (void)state;
    static const unsigned targets[] = {1, 5, 10, 25, 50, 75, 99};
    for (size_t i = 0; i < sizeof(targets) / sizeof(targets[0]); i++) {
        rig_t r;
        /* 37 us chunks: every slice overshoots its deadline a little. */
        rig_start(&r, targets[i], 500, 37);
        run_for(&r, 100000); /* settle */
        double share = run_for(&r, 5 * 1000 * 1000);
        assert_true(share > targets[i] - 1.0 && share < targets[i] + 1.0);
        rig_stop(&r);
    }
}

static void test_cycle_cpu_share_holds_under_a_busy_host(void **state) {
    (void)state;
    rig_t r;
    rig_start(&r, 25, 500, 37);
    /* The host runs the timer 0..0.6 ms late (a busy event loop; the most the 700 us
     * cap on a compensating slice makes up for at 25%): compensation keeps the share
     * within a few percent of the target. */
    uint64_t x = 12345;
    uint64_t t0 = r.h.now, busy0 = r.b.busy_us;
    while (r.h.now - t0 < 5 * 1000 * 1000) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        r.h.late_once_us = (x >> 33) % 600;
        assert_true(fake_run_next(&r.h));
    }
    double share = 100.0 * (double)(r.b.busy_us - busy0) / (double)(r.h.now - t0);
    assert_true(share > 23.0 && share < 27.0);
    rig_stop(&r);
}

static void test_cycle_starved_timer_gets_proportionally_longer_slice(void **state) {
    (void)state;
    rig_t r;
    rig_start(&r, 25, 500, 1);
    for (int i = 0; i < 5; i++)
        assert_true(fake_run_next(&r.h));
    /* The host ran the timer 0.6 ms late: W = 1500 + 600 = 2100 us, so
     * D = 25 * 2100 / 75 = 700 us. */
    r.h.late_once_us = 600;
    assert_true(fake_run_next(&r.h));
    assert_int_equal(r.b.last_deadline - r.b.last_start, 700);
    assert_int_equal(r.h.last_delay, 1500);
    /* Back on time: back to the base slice. */
    assert_true(fake_run_next(&r.h));
    assert_int_equal(r.b.last_deadline - r.b.last_start, 500);
    /* A shorter wait, a shorter slice: W = 1500 + 300 = 1800 -> D = 600. */
    r.h.late_once_us = 300;
    assert_true(fake_run_next(&r.h));
    assert_int_equal(r.b.last_deadline - r.b.last_start, 600);
    rig_stop(&r);
}

/* After a host stall of `late_us`, the slice with base `cycle_us` lasts this long. */
static uint64_t slice_after_stall(unsigned cycle_us, uint64_t late_us) {
    rig_t r;
    rig_start(&r, 25, cycle_us, 1);
    for (int i = 0; i < 3; i++)
        assert_true(fake_run_next(&r.h));
    r.h.late_once_us = late_us;
    assert_true(fake_run_next(&r.h));
    uint64_t len = r.b.last_deadline - r.b.last_start;
    rig_stop(&r);
    return len;
}

static void test_cycle_starvation_slice_is_capped_at_700us(void **state) {
    (void)state;
    /* A 2 s slow command earns at most 4 base slices and never more than 700 us (so a
     * slice stays under 1 ms with its last step's overrun and a cycle's end)... */
    assert_int_equal(slice_after_stall(500, 2 * 1000 * 1000), 700);
    assert_int_equal(slice_after_stall(150, 2 * 1000 * 1000), 600);
    assert_int_equal(slice_after_stall(100, 2 * 1000 * 1000), 400);
    /* ...unless the configured base slice is itself longer. */
    assert_int_equal(slice_after_stall(3000, 2 * 1000 * 1000), 3000);
}

static void test_cycle_overrun_is_paid_back_by_longer_delays(void **state) {
    (void)state;
    rig_t r;
    rig_start(&r, 25, 500, 1);
    for (int i = 0; i < 5; i++)
        assert_true(fake_run_next(&r.h));
    uint64_t t0 = r.h.now, busy0 = r.b.busy_us;
    /* One step runs 2000 us past its deadline. */
    r.b.overrun_once_us = 2000;
    assert_true(fake_run_next(&r.h));
    /* delay = 1500 + 2000 * 75 / 100 */
    assert_int_equal(r.h.last_delay, 3000);
    /* The next slice is not shortened below the base; the rest of the overage
     * (2000 - (1000 - 500) = 1500) lengthens the next delay: 1500 + 1500 * 75 / 100. */
    assert_true(fake_run_next(&r.h));
    assert_int_equal(r.b.last_deadline - r.b.last_start, 500);
    assert_int_equal(r.h.last_delay, 2625);
    uint64_t extra = (3000 - 1500) + (2625 - 1500);
    for (int i = 0; i < 60; i++) {
        assert_true(fake_run_next(&r.h));
        assert_true(r.h.last_delay >= 1500);
        extra += (uint64_t)r.h.last_delay - 1500;
    }
    /* An overrun of 2000 us at 25% is paid by 2000 * 75 / 25 = 6000 us of extra wait
     * (give or take integer truncation, about 1 us per slice), and the share over the
     * window is back to 25%. */
    assert_true(extra >= 5900 && extra <= 6100);
    assert_true(r.h.last_delay >= 1500 && r.h.last_delay <= 1505); /* truncation residue */
    double share = 100.0 * (double)(r.b.busy_us - busy0) / (double)(r.h.now - t0);
    assert_true(share > 24.5 && share < 25.5);
    rig_stop(&r);
}

static void test_cycle_pause_polls_without_work_and_forgets_the_wait(void **state) {
    (void)state;
    rig_t r;
    rig_start(&r, 25, 500, 1);
    for (int i = 0; i < 3; i++)
        assert_true(fake_run_next(&r.h));
    int steps = r.b.steps;
    r.h.paused = true;
    for (int i = 0; i < 3; i++) {
        assert_true(fake_run_next(&r.h));
        assert_int_equal(r.h.last_delay, 100000);
    }
    assert_int_equal(r.b.steps, steps);
    assert_true(defrag_is_running(r.d));
    /* Paused 300 ms is not starvation: the next slice is the base one. */
    r.h.paused = false;
    assert_true(fake_run_next(&r.h));
    assert_int_equal(r.b.last_deadline - r.b.last_start, 500);
    rig_stop(&r);
}

static void test_cycle_target_change_ignores_the_previous_wait(void **state) {
    (void)state;
    rig_t r;
    rig_start(&r, 25, 500, 1);
    for (int i = 0; i < 3; i++)
        assert_true(fake_run_next(&r.h));
    /* Raise the target to 50%: the wait was paced for 25%, so the slice is the base. */
    assert_int_equal(defrag_config_set_num(r.d, "active-defrag-cycle-max", 50), 0);
    assert_int_equal(defrag_config_set_num(r.d, "active-defrag-cycle-min", 50), 0);
    defrag_cron(r.d);
    defrag_metrics_t m;
    defrag_metrics_get(r.d, &m);
    assert_int_equal(m.running, 50);
    r.h.late_once_us = 3000;
    assert_true(fake_run_next(&r.h));
    assert_int_equal(r.b.last_deadline - r.b.last_start, 500);
    assert_int_equal(r.h.last_delay, 500); /* 500 * 100 / 50 - 500 */
    rig_stop(&r);
}

static void test_cycle_starts_new_stages_only_with_a_full_base_slice_left(void **state) {
    (void)state;
    fake_host_t h = {.frag_pct = 500, .frag_bytes = (size_t)1 << 30};
    defrag_config_t c;
    defrag_config_init(&c);
    c.enabled = true;
    defrag_host_t ops = fake_host_ops(&h);
    defrag_t *d = defrag_new(&ops, &c);
    char trace[64] = "";
    /* Three stages of 100 us each. Within a slice, another stage starts only while a
     * whole base slice (500 us) is left before the deadline. */
    static const char *const tags[3] = {"a", "b", "c"};
    burn_stage_t s[3];
    for (int i = 0; i < 3; i++) {
        s[i] = (burn_stage_t){.h = &h, .tag = tags[i], .chunk_us = 100, .units = 1, .trace = trace};
        assert_int_equal(defrag_stage_add(d, &burn_ops, &s[i]), 0);
    }
    defrag_cron(d);
    assert_true(fake_run_next(&h)); /* slice 1: a (100 us), then 400 us left < 500: stop */
    assert_string_equal(trace, "a");
    /* The host starves the timer: W = 1500 + 7500 -> D = 3000 us, room for b and c.
     * Fragmentation is low now, so no new cycle follows this one. */
    h.late_once_us = 7500;
    h.frag_pct = 1;
    assert_true(fake_run_next(&h));
    assert_string_equal(trace, "abc");
    assert_false(defrag_is_running(d));
    assert_int_equal(h.last_report.completed, true);
    defrag_free(d);
}

/* An engine at 25% whose stage works in chunks of chunk_us, with clients always
 * waiting: runs slices for 2 s of fake time, each one late by late_min_us plus a
 * pseudo-random 0..late_max_us (0: on time); asserts that every step lasted at most
 * DEFRAG_YIELD_STEP_US and every slice at most DEFRAG_YIELD_SLICE_MAX_US plus a step,
 * and returns the share of the time spent working. */
static double yielding_share_late(uint64_t chunk_us, uint64_t late_min_us, uint64_t late_max_us) {
    rig_clients_waiting = waiting_answer;
    rig_waiting = true;
    rig_t r;
    rig_start(&r, 25, 500, chunk_us);
    run_for(&r, 100000);
    uint64_t x = 777;
    uint64_t t0 = r.h.now, busy0 = r.b.busy_us;
    while (r.h.now - t0 < 2 * 1000 * 1000) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        r.h.late_once_us = late_min_us + (late_max_us ? (x >> 33) % late_max_us : 0);
        uint64_t busy = r.b.busy_us;
        assert_true(fake_run_next(&r.h));
        assert_true(r.b.last_deadline - r.b.last_start <= DEFRAG_YIELD_STEP_US);
        assert_true(r.b.busy_us - busy <= DEFRAG_YIELD_SLICE_MAX_US + DEFRAG_YIELD_STEP_US);
        assert_int_equal(defrag_check(r.d), 0);
    }
    rig_stop(&r);
    rig_clients_waiting = NULL;
    return 100.0 * (double)(r.b.busy_us - busy0) / (double)(r.h.now - t0);
}

static double yielding_share(uint64_t chunk_us, uint64_t late_max_us) {
    return yielding_share_late(chunk_us, 0, late_max_us);
}

/* The share the engine takes at 25% while clients wait (10% with the default 40). */
#define WAITING_SHARE (25.0 * DEFRAG_YIELD_SHARE_PCT / 100.0)

static void test_cycle_yields_to_waiting_clients_and_keeps_the_share(void **state) {
    (void)state;
    /* Clients always waiting: every slice ends after one step of at most
     * DEFRAG_YIELD_STEP_US, and the delay after it is paced by that work, so the share
     * meets the waiting share. */
    double share = yielding_share(37, 0);
    assert_true(share > WAITING_SHARE - 1.0 && share < WAITING_SHARE + 1.0);
    /* Nobody waiting: short steps follow each other up to the whole base slice. */
    rig_clients_waiting = waiting_answer;
    rig_waiting = false;
    rig_t r;
    rig_start(&r, 25, 500, 37);
    double idle_share = run_for(&r, 2 * 1000 * 1000);
    assert_true(idle_share > 24.0 && idle_share < 26.0);
    assert_true(r.h.last_delay >= 1400 && r.h.last_delay <= 1600);
    rig_stop(&r);
    rig_clients_waiting = NULL;
}

static void test_cycle_yield_share_holds_when_the_host_runs_slices_late(void **state) {
    (void)state;
    /* The host serves clients before each slice and runs it 0..500 us late: the gaps
     * after the slices shrink by as much, and the share holds at the waiting share
     * (without the correction it would fall to about 25 / (25 + 225 + 250) = 5%). */
    double share = yielding_share(10, 500);
    assert_true(share > WAITING_SHARE - 2.0 && share < WAITING_SHARE + 2.0);
}

static void test_cycle_yield_slice_takes_its_share_of_a_long_client_round(void **state) {
    (void)state;
    /* Each round of clients keeps the host 600 us: one 25 us step per round would be
     * 25 / 625 = 4%. Each slice instead works its fair share at the waiting share,
     * 10 * W / 90 = about 67 us, before it yields, and the share meets it. */
    double share = yielding_share_late(5, 600, 0);
    assert_true(share > WAITING_SHARE - 1.0 && share < WAITING_SHARE + 1.0);
    /* Rounds of 2 ms: the slice stops at DEFRAG_YIELD_SLICE_MAX_US (checked in
     * yielding_share_late), so the share falls short (100 / 2100 = 5%, not 10%). */
    share = yielding_share_late(5, 2000, 0);
    assert_true(share > 3.5 && share < 6.5);
}

static void test_cycle_waiting_clients_get_the_waiting_share_in_short_slices(void **state) {
    (void)state;
    /* Rounds of clients of 300 us, a stage in 25 us steps, 1 s of fake time. With
     * clients waiting (share 15%), a slice of S us is followed by a gap of S * 85 / 15
     * (the delay plus the 300 us round), so the next slice's budget, 15 * (85S / 15) /
     * 85, is S again: here four steps (100 us, the budget's cap) and a gap of 567 us,
     * 1500 slices, 6000 steps and 150 ms of work in 1 s (15%). (At the whole target:
     * four steps and a slice every 400 us, 250 ms.) */
    rig_clients_waiting = waiting_answer;
    rig_waiting = true;
    rig_t r;
    rig_start(&r, 25, 500, 25);
    r.h.late_always_us = 300;
    run_for(&r, 100000);
    int slices0 = r.h.slices, steps0 = r.b.steps;
    double share = run_for(&r, 1000 * 1000);
    int slices = r.h.slices - slices0, steps = r.b.steps - steps0;
    assert_true(DEFRAG_YIELD_SHARE_PCT == 60); /* the figures above are for 15% */
    assert_true(slices >= 1497 && slices <= 1505);
    assert_true(steps >= 4 * slices - 4 && steps <= 4 * slices + 4);
    assert_true(share > 14.9 && share < 15.1);
    rig_stop(&r);
    /* Nobody waiting: the same host gets the whole target, in slices that make up for
     * the 300 us of lateness: 25 * (1500 + 300) / 75 = 600 us (24 steps) every 2.4 ms,
     * 417 slices in 1 s. */
    rig_waiting = false;
    rig_start(&r, 25, 500, 25);
    r.h.late_always_us = 300;
    run_for(&r, 100000);
    slices0 = r.h.slices;
    steps0 = r.b.steps;
    share = run_for(&r, 1000 * 1000);
    slices = r.h.slices - slices0;
    steps = r.b.steps - steps0;
    assert_true(share > 24.9 && share < 25.1);
    assert_true(slices >= 415 && slices <= 418);
    assert_true(steps >= 24 * slices - 24 && steps <= 24 * slices + 24);
    rig_stop(&r);
    rig_clients_waiting = NULL;
}

/* Every test starts without a clients_waiting hook, even after one that failed with
 * its hook still installed. */
static int reset_hook(void **state) {
    (void)state;
    rig_clients_waiting = NULL;
    rig_waiting = false;
    return 0;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_cycle_first_slice_is_base_length_then_paced, reset_hook),
        cmocka_unit_test_setup(test_cycle_cpu_share_matches_target, reset_hook),
        cmocka_unit_test_setup(test_cycle_cpu_share_holds_under_a_busy_host, reset_hook),
        cmocka_unit_test_setup(test_cycle_starved_timer_gets_proportionally_longer_slice,
                               reset_hook),
        cmocka_unit_test_setup(test_cycle_starvation_slice_is_capped_at_700us, reset_hook),
        cmocka_unit_test_setup(test_cycle_yields_to_waiting_clients_and_keeps_the_share,
                               reset_hook),
        cmocka_unit_test_setup(test_cycle_yield_share_holds_when_the_host_runs_slices_late,
                               reset_hook),
        cmocka_unit_test_setup(test_cycle_yield_slice_takes_its_share_of_a_long_client_round,
                               reset_hook),
        cmocka_unit_test_setup(test_cycle_waiting_clients_get_the_waiting_share_in_short_slices,
                               reset_hook),
        cmocka_unit_test_setup(test_cycle_overrun_is_paid_back_by_longer_delays, reset_hook),
        cmocka_unit_test_setup(test_cycle_pause_polls_without_work_and_forgets_the_wait,
                               reset_hook),
        cmocka_unit_test_setup(test_cycle_target_change_ignores_the_previous_wait, reset_hook),
        cmocka_unit_test_setup(test_cycle_starts_new_stages_only_with_a_full_base_slice_left,
                               reset_hook),
    };
    return cmocka_run_group_tests_name("defrag_cycle", tests, NULL, NULL);
}
