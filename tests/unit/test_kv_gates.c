/* SPDX-License-Identifier: MIT */
/*
 * test_kv_gates.c - the command path's skip tests (cmd.c, kv_internal.h) follow the state
 * they stand for, so a feature that is on is never skipped: the WATCH and tracking bits
 * of kv_signal_gates (set with the first watched key or tracking client, cleared with
 * the last, set again after), the MISCONF bits of kv_cmd_gates (closed by default; the
 * MISCONF replies themselves: integration kv_rdb_fail, kv_aof_full_disk), WATCH failing after
 * a watch-unwatch-watch cycle, the latency
 * histogram's inline bucket table against the full computation for every short duration,
 * and the command clock never decreasing across its re-measurements.
 */
#include "test_common.h"

#include "kv_internal.h"
#include "kv_client_test.h"

static void expect(kv_client_t *c, const char *line, const char *reply) {
    feed_words(c, line);
    assert_output(c, reply);
}

static void test_watch_bit_follows_watched_keys(void **state) {
    (void)state;
    kv_client_t *c = listed_client(), *other = listed_client();
    assert_false(kv_signal_gates & KV_SIGNAL_WATCH);
    expect(c, "WATCH a b", "+OK\r\n");
    assert_true(kv_signal_gates & KV_SIGNAL_WATCH);
    expect(c, "UNWATCH", "+OK\r\n");
    assert_false(kv_signal_gates & KV_SIGNAL_WATCH);
    /* Watched again after the bit went down: a write by another client still fails EXEC. */
    expect(c, "WATCH a", "+OK\r\n");
    assert_true(kv_signal_gates & KV_SIGNAL_WATCH);
    expect(other, "SET a 1", "+OK\r\n");
    expect(c, "MULTI", "+OK\r\n");
    expect(c, "GET a", "+QUEUED\r\n");
    expect(c, "EXEC", "*-1\r\n");
    assert_false(kv_signal_gates & KV_SIGNAL_WATCH); /* EXEC unwatches */
    /* A client freed while watching takes the bit down with its last key. */
    expect(c, "WATCH z", "+OK\r\n");
    assert_true(kv_signal_gates & KV_SIGNAL_WATCH);
    unlist_and_free(c);
    assert_false(kv_signal_gates & KV_SIGNAL_WATCH);
    unlist_and_free(other);
}

static void test_tracking_bit_follows_tracking_clients(void **state) {
    (void)state;
    kv_client_t *c = listed_client(), *other = listed_client();
    assert_false(kv_signal_gates & KV_SIGNAL_TRACKING);
    feed_words(c, "HELLO 3");
    free(take_output(c));
    expect(c, "CLIENT TRACKING on", "+OK\r\n");
    assert_true(kv_signal_gates & KV_SIGNAL_TRACKING);
    expect(c, "GET k", "_\r\n");
    expect(other, "SET k 1", "+OK\r\n");
    assert_output(c, ">2\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\nk\r\n");
    expect(c, "GET k", "$1\r\n1\r\n"); /* remembered again */
    expect(c, "CLIENT TRACKING off", "+OK\r\n");
    /* No tracking client, one key still remembered for c: a write must still forget it. */
    assert_true(kv_signal_gates & KV_SIGNAL_TRACKING);
    expect(other, "SET k 2", "+OK\r\n");
    assert_false(kv_signal_gates & KV_SIGNAL_TRACKING);
    unlist_and_free(c);
    unlist_and_free(other);
}

/* Defaults (no AOF, no failed save): no MISCONF gate is open, and writes run. */
static void test_misconf_gates_closed_by_default(void **state) {
    (void)state;
    assert_int_equal(kv_cmd_gates, 0);
    kv_client_t *c = listed_client();
    expect(c, "SET k 1", "+OK\r\n");
    expect(c, "PING", "+PONG\r\n");
    unlist_and_free(c);
}

/* The inline path's bucket table gives every short duration the bucket the full
 * computation gives (ping's histogram through kv_latency_hist_record only, echo's through
 * kv_latency_hist_add), and long durations still count. */
static void test_latency_inline_buckets_match(void **state) {
    (void)state;
    kv_srv.cfg.latency_tracking = true;
    kv_cmd_t *ping = kv_cmd_lookup("ping", 4), *echo = kv_cmd_lookup("echo", 4);
    assert_non_null(ping);
    assert_non_null(echo);
    kv_latency_hist_reset();
    for (uint64_t u = 0; u < KV_LATENCY_FAST_USEC + 100; u++) {
        kv_latency_hist_record(ping, u);
        kv_latency_hist_add(echo, u);
        kv_latency_hist_add(echo, u); /* the first call allocates: count each twice */
        kv_latency_hist_record(ping, u);
    }
    kv_latency_hist_record(ping, 5000000);
    kv_latency_hist_add(echo, 5000000);
    assert_non_null(ping->hist);
    assert_non_null(echo->hist);
    assert_int_equal(ping->hist->total, echo->hist->total);
    assert_int_equal(echo->hist->total, 2 * (KV_LATENCY_FAST_USEC + 100) + 1);
    assert_memory_equal(ping->hist->counts, echo->hist->counts, sizeof(ping->hist->counts));
    /* latency-tracking no: nothing counted through either path. */
    kv_srv.cfg.latency_tracking = false;
    kv_latency_hist_record(ping, 1);
    assert_int_equal(ping->hist->total, 2 * (KV_LATENCY_FAST_USEC + 100) + 1);
    kv_srv.cfg.latency_tracking = true;
    kv_latency_hist_reset();
    assert_null(ping->hist);
}

/* Reads across several re-measurements (every 50 ms of TSC time) never go back, and the
 * clock keeps time with CLOCK_MONOTONIC (within half, whatever the load). */
static void test_clock_across_remeasurements(void **state) {
    (void)state;
    uint64_t m0 = kv_monotonic_us(), c0 = kv_clock_us(), prev = c0, m1;
    do {
        uint64_t v = kv_clock_us();
        assert_true(v >= prev);
        prev = v;
        m1 = kv_monotonic_us();
    } while (m1 - m0 < 300000);
    uint64_t dc = kv_clock_us() - c0, dm = kv_monotonic_us() - m0;
    assert_true(dc > dm / 2);
    assert_true(dc < dm * 2);
}

static int flush_all(void **state) {
    (void)state;
    for (int i = 0; i < kv_srv.ndbs; i++)
        kv_db_flush(&kv_srv.dbs[i]);
    return 0;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_watch_bit_follows_watched_keys, flush_all),
        cmocka_unit_test_setup(test_tracking_bit_follows_tracking_clients, flush_all),
        cmocka_unit_test_setup(test_misconf_gates_closed_by_default, flush_all),
        cmocka_unit_test(test_latency_inline_buckets_match),
        cmocka_unit_test(test_clock_across_remeasurements),
    };
    return cmocka_run_group_tests_name("kv_gates", tests, kv_server_setup, kv_server_teardown);
}
