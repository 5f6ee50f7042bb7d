/* SPDX-License-Identifier: MIT */
/*
 * test_kv_clock.c - the command clock (kvcore/clock.c): it never goes back, across its
 * periodic re-measurements too, and it advances with CLOCK_MONOTONIC (whichever source it
 * reads: the scaled TSC or the system clock). Bounds on time are wide: the test checks
 * the scale, not the machine's speed.
 */
#include "test_common.h"

#include <time.h>

#include "kv_internal.h"

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

static void test_clock_never_decreases(void **state) {
    (void)state;
    uint64_t prev = kv_clock_us();
    sleep_ms(30); /* past the first calibration window */
    /* More reads than one re-measurement interval, with a pause inside. */
    for (int i = 0; i < 300000; i++) {
        uint64_t v = kv_clock_us();
        assert_true(v >= prev);
        prev = v;
        if (i == 100000) sleep_ms(5);
    }
}

static void test_clock_advances_with_monotonic_time(void **state) {
    (void)state;
    kv_clock_us();
    sleep_ms(30);
    kv_clock_us(); /* calibrated from here on where the TSC is used */
    for (int round = 0; round < 3; round++) {
        uint64_t c0 = kv_clock_us(), m0 = kv_monotonic_us();
        sleep_ms(50);
        uint64_t c1 = kv_clock_us(), m1 = kv_monotonic_us();
        uint64_t dc = c1 - c0, dm = m1 - m0;
        /* Within 10% plus 5 ms of the system clock: a wrong factor is off by far more. */
        assert_true(dc + dm / 10 + 5000 >= dm);
        assert_true(dc <= dm + dm / 10 + 5000);
        assert_true(dc >= 45000);
    }
    print_message("command clock source: %s\n", kv_clock_uses_tsc() ? "tsc" : "clock_gettime");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_clock_never_decreases),
        cmocka_unit_test(test_clock_advances_with_monotonic_time),
    };
    return cmocka_run_group_tests_name("kv_clock", tests, NULL, NULL);
}
