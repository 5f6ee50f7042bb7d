/* SPDX-License-Identifier: MIT */
/*
 * test_kv_loop.c - kvcore's event loop (kvcore/loop.c): microsecond timers (never early,
 * rescheduled by their return value, stopped by -1, deletable from inside their own
 * callback, addable from callbacks), file events on a pipe, the before-sleep and
 * before-timers hooks, the
 * non-consuming readiness poll and the time of the last iteration with events.
 * Only lower bounds on time are asserted (a timer never fires early).
 */
#include "test_common.h"

#include <unistd.h>

#include "kv_internal.h"

typedef struct tstate {
    int fired;
    int64_t again_us; /* returned while fired < stop_after */
    int stop_after;
    uint64_t first_us;
    uint64_t start_us;
    bool delete_self;
    int64_t self_id;
    kv_loop_t *loop;
} tstate_t;

static int64_t timer_cb(kv_loop_t *loop, int64_t id, void *priv) {
    tstate_t *t = priv;
    if (t->fired == 0) t->first_us = kv_monotonic_us();
    t->fired++;
    if (t->delete_self) {
        assert_int_equal(kv_timer_del(loop, id), 0);
        return 1000; /* ignored: the timer is gone */
    }
    return t->fired < t->stop_after ? t->again_us : -1;
}

static void run_until(kv_loop_t *l, const int *counter, int want) {
    for (int i = 0; i < 100000 && *counter < want; i++)
        kv_loop_process(l);
}

static void test_loop_timer_fires_no_earlier_than_its_delay(void **state) {
    (void)state;
    kv_loop_t *l = kv_loop_new(64);
    assert_non_null(l);
    tstate_t t = {.stop_after = 1};
    t.start_us = kv_monotonic_us();
    int64_t id = kv_timer_add(l, 500, timer_cb, &t);
    assert_true(id > 0);
    run_until(l, &t.fired, 1);
    assert_int_equal(t.fired, 1);
    assert_true(t.first_us - t.start_us >= 500);
    assert_int_equal(kv_loop_timer_count(l), 0); /* returned -1: removed */
    assert_int_equal(kv_timer_del(l, id), -ENOENT);
    kv_loop_free(l);
}

static void test_loop_timer_reschedules_by_return_value(void **state) {
    (void)state;
    kv_loop_t *l = kv_loop_new(64);
    tstate_t t = {.stop_after = 5, .again_us = 200};
    t.start_us = kv_monotonic_us();
    kv_timer_add(l, 0, timer_cb, &t);
    run_until(l, &t.fired, 5);
    assert_int_equal(t.fired, 5);
    /* Four re-arms of 200 us each after the first run. */
    assert_true(kv_monotonic_us() - t.first_us >= 4 * 200);
    assert_int_equal(kv_loop_timer_count(l), 0);
    kv_loop_free(l);
}

static void test_loop_timer_can_delete_itself(void **state) {
    (void)state;
    kv_loop_t *l = kv_loop_new(64);
    tstate_t t = {.delete_self = true};
    kv_timer_add(l, 0, timer_cb, &t);
    run_until(l, &t.fired, 1);
    assert_int_equal(kv_loop_timer_count(l), 0);
    /* A later timer keeps the loop from waiting forever; the deleted one never returns. */
    tstate_t later = {.stop_after = 3, .again_us = 100};
    kv_timer_add(l, 100, timer_cb, &later);
    run_until(l, &later.fired, 3);
    assert_int_equal(t.fired, 1);
    kv_loop_free(l);
}

static tstate_t child;

static int64_t spawning_cb(kv_loop_t *loop, int64_t id, void *priv) {
    (void)id;
    int *n = priv;
    (*n)++;
    child.stop_after = 1;
    assert_true(kv_timer_add(loop, 0, timer_cb, &child) > 0);
    return -1;
}

static void test_loop_timer_added_from_callback_runs_later(void **state) {
    (void)state;
    kv_loop_t *l = kv_loop_new(64);
    int n = 0;
    memset(&child, 0, sizeof(child));
    for (int i = 0; i < 20; i++)
        kv_timer_add(l, 1000000, timer_cb, &child); /* grow array */
    kv_timer_add(l, 0, spawning_cb, &n);
    run_until(l, &child.fired, 1);
    assert_int_equal(n, 1);
    assert_int_equal(child.fired, 1);
    assert_int_equal(kv_loop_timer_count(l), 20);
    kv_loop_free(l);
}

static int readable_calls;
static char got[16];

static void on_read(kv_loop_t *loop, int fd, void *priv, int mask) {
    (void)priv;
    assert_true(mask & KV_READABLE);
    ssize_t n = read(fd, got, sizeof(got) - 1);
    assert_true(n > 0);
    got[n] = '\0';
    readable_calls++;
    kv_loop_del_file(loop, fd, KV_READABLE);
}

static int before_calls;

static void before(kv_loop_t *loop, void *priv) {
    (void)loop;
    (void)priv;
    before_calls++;
}

static void test_loop_file_event_and_before_sleep(void **state) {
    (void)state;
    kv_loop_t *l = kv_loop_new(1024);
    int p[2];
    assert_int_equal(pipe(p), 0);
    assert_int_equal(kv_loop_add_file(l, p[0], KV_READABLE, on_read, NULL), 0);
    assert_int_equal(kv_loop_file_mask(l, p[0]), KV_READABLE);
    kv_loop_set_before_sleep(l, before, NULL);
    assert_false(kv_loop_has_pending(l));
    assert_int_equal(kv_loop_last_events_us(l), 0);
    assert_int_equal(write(p[1], "hi", 2), 2);
    assert_true(kv_loop_has_pending(l)); /* polling consumed nothing */
    uint64_t t0 = kv_monotonic_us();
    run_until(l, &readable_calls, 1);
    assert_string_equal(got, "hi");
    /* The iteration that handled it is on record: the defragmenter's "clients active". */
    assert_true(kv_loop_last_events_us(l) >= t0);
    assert_true(kv_loop_last_events_us(l) <= kv_monotonic_us());
    assert_false(kv_loop_has_pending(l));
    assert_int_equal(kv_loop_file_mask(l, p[0]), 0);
    assert_true(before_calls >= 1);
    assert_int_equal(kv_loop_add_file(l, 5000, KV_READABLE, on_read, NULL), -ERANGE);
    close(p[0]);
    close(p[1]);
    kv_loop_free(l);
}

/* The before-timers hook runs after an iteration's file events, before a due timer,
 * and not in iterations where no timer is due. */
static char order[16];
static size_t norder;

static void note(char c) {
    if (norder + 1 < sizeof(order)) order[norder++] = c;
    order[norder] = '\0';
}

static void before_timers_hook(kv_loop_t *loop, void *priv) {
    (void)loop;
    (void)priv;
    note('b');
}

static void on_read_note(kv_loop_t *loop, int fd, void *priv, int mask) {
    (void)mask;
    (void)priv;
    char c;
    assert_int_equal(read(fd, &c, 1), 1);
    note('r');
    kv_loop_del_file(loop, fd, KV_READABLE);
}

static int64_t timer_note(kv_loop_t *loop, int64_t id, void *priv) {
    (void)loop;
    (void)id;
    (void)priv;
    note('t');
    return -1;
}

static void test_loop_before_timers_runs_between_events_and_due_timers(void **state) {
    (void)state;
    kv_loop_t *l = kv_loop_new(1024);
    kv_loop_set_before_timers(l, before_timers_hook, NULL);
    int p[2];
    assert_int_equal(pipe(p), 0);
    assert_int_equal(kv_loop_add_file(l, p[0], KV_READABLE, on_read_note, NULL), 0);
    assert_int_equal(write(p[1], "x", 1), 1);
    assert_true(kv_timer_add(l, 0, timer_note, NULL) > 0);
    kv_loop_process(l);
    assert_string_equal(order, "rbt");
    /* No timer due: the hook does not run. */
    assert_true(kv_timer_add(l, 10 * 1000 * 1000, timer_note, NULL) > 0);
    assert_int_equal(kv_loop_add_file(l, p[0], KV_READABLE, on_read_note, NULL), 0);
    assert_int_equal(write(p[1], "y", 1), 1);
    kv_loop_process(l);
    assert_string_equal(order, "rbtr");
    close(p[0]);
    close(p[1]);
    kv_loop_free(l);
}

/* With busy polling on, timers still never fire early and file events still arrive. */
static void test_loop_busy_polling_keeps_timer_and_file_semantics(void **state) {
    (void)state;
    kv_loop_t *l = kv_loop_new(1024);
    kv_loop_set_busy_poll(l, 1000);
    /* Waits of 200 us are under the maximum: the polling budget grows to it. */
    tstate_t t = {.stop_after = 20, .again_us = 200};
    kv_timer_add(l, 0, timer_cb, &t);
    run_until(l, &t.fired, 20);
    assert_int_equal(t.fired, 20);
    assert_true(kv_monotonic_us() - t.first_us >= 19 * 200);
    int p[2];
    assert_int_equal(pipe(p), 0);
    readable_calls = 0;
    assert_int_equal(kv_loop_add_file(l, p[0], KV_READABLE, on_read, NULL), 0);
    assert_int_equal(write(p[1], "poll", 4), 4);
    run_until(l, &readable_calls, 1);
    assert_string_equal(got, "poll");
    /* Turned off again: a plain blocking wait. */
    kv_loop_set_busy_poll(l, 0);
    tstate_t u = {.stop_after = 1};
    u.start_us = kv_monotonic_us();
    kv_timer_add(l, 300, timer_cb, &u);
    run_until(l, &u.fired, 1);
    assert_true(u.first_us - u.start_us >= 300);
    close(p[0]);
    close(p[1]);
    kv_loop_free(l);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_loop_timer_fires_no_earlier_than_its_delay),
        cmocka_unit_test(test_loop_timer_reschedules_by_return_value),
        cmocka_unit_test(test_loop_timer_can_delete_itself),
        cmocka_unit_test(test_loop_timer_added_from_callback_runs_later),
        cmocka_unit_test(test_loop_file_event_and_before_sleep),
        cmocka_unit_test(test_loop_before_timers_runs_between_events_and_due_timers),
        cmocka_unit_test(test_loop_busy_polling_keeps_timer_and_file_semantics),
    };
    return cmocka_run_group_tests_name("kv_loop", tests, NULL, NULL);
}
