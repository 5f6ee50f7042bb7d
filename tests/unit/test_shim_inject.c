/* SPDX-License-Identifier: MIT */
/*
 * test_shim_inject.c - failure injection: exact counts for fail_after, a reproducible
 * sequence per seed for fail_rate, the min_size filter, ENOMEM from every allocation
 * entry point, and the shim's own work (ms_tls_internal) never counted or failed.
 * cmocka's own allocations use glibc's malloc (libmemshim.a has no overrides), so only
 * the ms_ calls below are ever counted.
 */
#include "test_common.h"

#include <math.h>

#include "memshim_internal.h"

static int reset(void **state) {
    (void)state;
    return memshim_ctl("inject.reset", NULL, NULL, NULL, 0);
}

static void set_u64(const char *name, uint64_t v) {
    assert_int_equal(memshim_ctl(name, NULL, NULL, &v, sizeof(v)), 0);
}

static void set_double(const char *name, double v) {
    assert_int_equal(memshim_ctl(name, NULL, NULL, &v, sizeof(v)), 0);
}

static uint64_t get_u64(const char *name) {
    uint64_t v = 0;
    size_t len = sizeof(v);
    assert_int_equal(memshim_ctl(name, &v, &len, NULL, 0), 0);
    return v;
}

/* Makes n allocations of `size` bytes; bit i of the result is set when the i-th failed. */
static void failure_pattern(size_t n, size_t size, bool *failed) {
    for (size_t i = 0; i < n; i++) {
        void *p = ms_malloc(size);
        failed[i] = p == NULL;
        ms_free(p);
    }
}

static void test_inject_fail_after_lets_exactly_n_through(void **state) {
    (void)state;
    set_u64("inject.fail_after", 10);
    void *p[10];
    for (int i = 0; i < 10; i++) {
        p[i] = ms_malloc(32);
        assert_non_null(p[i]);
    }
    for (int i = 0; i < 5; i++) {
        errno = 0;
        assert_null(ms_malloc(32));
        assert_int_equal(errno, ENOMEM);
    }
    for (int i = 0; i < 10; i++)
        ms_free(p[i]); /* frees are never counted */
    assert_int_equal(get_u64("inject.failures"), 5);
    assert_int_equal(get_u64("inject.seen"), 15);
    assert_int_equal(get_u64("inject.fail_after"), 10);
}

static void test_inject_fail_after_zero_disarms(void **state) {
    (void)state;
    set_u64("inject.fail_after", 1);
    set_u64("inject.fail_after", 0);
    for (int i = 0; i < 100; i++) {
        void *p = ms_malloc(8);
        assert_non_null(p);
        ms_free(p);
    }
    assert_int_equal(get_u64("inject.failures"), 0);
    assert_int_equal(atomic_load(&ms_inject_armed), 0);
}

static void test_inject_every_entry_point_fails_with_enomem(void **state) {
    (void)state;
    char *keep = ms_malloc(16);
    assert_non_null(keep);
    strcpy(keep, "intact");
    set_u64("inject.fail_after", 0);
    set_double("inject.fail_rate", 1.0);
    errno = 0;
    assert_null(ms_calloc(4, 4));
    assert_int_equal(errno, ENOMEM);
    errno = 0;
    assert_null(ms_realloc(keep, 4096));
    assert_int_equal(errno, ENOMEM);
    assert_string_equal(keep, "intact");
    errno = 0;
    assert_null(ms_reallocarray(NULL, 4, 4));
    assert_int_equal(errno, ENOMEM);
    errno = 0;
    assert_null(ms_aligned_alloc(64, 64));
    assert_int_equal(errno, ENOMEM);
    errno = 0;
    assert_null(ms_memalign(64, 64));
    assert_int_equal(errno, ENOMEM);
    errno = 0;
    assert_null(ms_valloc(10));
    assert_int_equal(errno, ENOMEM);
    errno = 0;
    assert_null(ms_pvalloc(10));
    assert_int_equal(errno, ENOMEM);
    void *p = (void *)0x1;
    errno = 4242;
    assert_int_equal(ms_posix_memalign(&p, 64, 64), ENOMEM);
    assert_int_equal(errno, 4242);
    assert_ptr_equal(p, (void *)0x1);
    assert_int_equal(get_u64("inject.failures"), 8);
    reset(NULL);
    ms_free(keep);
}

static void test_inject_same_seed_fails_the_same_allocations(void **state) {
    (void)state;
    enum { N = 2000 };
    static bool a[N], b[N], c[N];
    set_double("inject.fail_rate", 0.1);
    set_u64("inject.seed", 12345);
    failure_pattern(N, 64, a);
    uint64_t fa = get_u64("inject.failures");
    reset(NULL);
    set_double("inject.fail_rate", 0.1);
    set_u64("inject.seed", 12345);
    failure_pattern(N, 64, b);
    uint64_t fb = get_u64("inject.failures");
    reset(NULL);
    set_double("inject.fail_rate", 0.1);
    set_u64("inject.seed", 54321);
    failure_pattern(N, 64, c);
    assert_memory_equal(a, b, sizeof(a));
    assert_int_equal(fa, fb);
    assert_memory_not_equal(a, c, sizeof(a));
    size_t n = 0;
    for (size_t i = 0; i < N; i++)
        n += a[i];
    assert_int_equal(n, fa);
}

static void test_inject_fail_rate_is_close_to_the_probability(void **state) {
    (void)state;
    enum { N = 20000 };
    static bool f[N];
    set_double("inject.fail_rate", 0.25);
    set_u64("inject.seed", 7);
    failure_pattern(N, 16, f);
    uint64_t n = get_u64("inject.failures");
    assert_in_range(n, N / 4 - 400, N / 4 + 400); /* +-5 sigma of a fair coin */
    assert_int_equal(get_u64("inject.seen"), N);
}

static void test_inject_fail_rate_rejects_out_of_range(void **state) {
    (void)state;
    static const double bad[] = {-0.01, 1.01, 2.0};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        double v = bad[i];
        assert_int_equal(memshim_ctl("inject.fail_rate", NULL, NULL, &v, sizeof(v)), -EINVAL);
    }
    double nan_v = NAN;
    assert_int_equal(memshim_ctl("inject.fail_rate", NULL, NULL, &nan_v, sizeof(nan_v)), -EINVAL);
    double got = -1;
    size_t len = sizeof(got);
    assert_int_equal(memshim_ctl("inject.fail_rate", &got, &len, NULL, 0), 0);
    assert_true(got == 0.0);
    assert_int_equal(atomic_load(&ms_inject_armed), 0);
}

static void test_inject_min_size_spares_and_does_not_count_small_requests(void **state) {
    (void)state;
    size_t min = 1024;
    assert_int_equal(memshim_ctl("inject.min_size", NULL, NULL, &min, sizeof(min)), 0);
    set_u64("inject.fail_after", 2);
    for (int i = 0; i < 50; i++) {
        void *p = ms_malloc(1023);
        assert_non_null(p);
        ms_free(p);
    }
    assert_int_equal(get_u64("inject.seen"), 0);
    void *a = ms_malloc(1024);
    void *b = ms_malloc(4096);
    assert_non_null(a);
    assert_non_null(b);
    assert_null(ms_malloc(1024));
    void *c = ms_calloc(1, 100);
    assert_non_null(c); /* still below min_size */
    assert_int_equal(get_u64("inject.seen"), 3);
    assert_int_equal(get_u64("inject.failures"), 1);
    ms_free(a);
    ms_free(b);
    ms_free(c);
}

static void test_inject_shim_internal_work_is_never_counted_or_failed(void **state) {
    (void)state;
    set_double("inject.fail_rate", 1.0);
    ms_tls_internal++;
    for (int i = 0; i < 100; i++) {
        void *p = ms_malloc(128);
        assert_non_null(p);
        ms_free(p);
    }
    ms_tls_internal--;
    assert_int_equal(get_u64("inject.seen"), 0);
    assert_int_equal(get_u64("inject.failures"), 0);
    assert_null(ms_malloc(128)); /* and the rule is still armed for the program */
}

static void test_inject_reset_disarms_and_zeroes_counters(void **state) {
    (void)state;
    set_u64("inject.fail_after", 1);
    set_double("inject.fail_rate", 0.5);
    size_t min = 8;
    assert_int_equal(memshim_ctl("inject.min_size", NULL, NULL, &min, sizeof(min)), 0);
    void *p = ms_malloc(8);
    ms_free(p);
    assert_null(ms_malloc(8));
    assert_int_equal(memshim_ctl("inject.reset", NULL, NULL, NULL, 0), 0);
    assert_int_equal(atomic_load(&ms_inject_armed), 0);
    assert_int_equal(get_u64("inject.failures"), 0);
    assert_int_equal(get_u64("inject.seen"), 0);
    assert_int_equal(get_u64("inject.fail_after"), 0);
    size_t got = 1;
    size_t len = sizeof(got);
    assert_int_equal(memshim_ctl("inject.min_size", &got, &len, NULL, 0), 0);
    assert_int_equal(got, 0);
}

static void test_inject_stats_report_failures(void **state) {
    (void)state;
    set_u64("inject.fail_after", 1);
    void *p = ms_malloc(8);
    assert_non_null(p);
    assert_null(ms_malloc(8));
    assert_null(ms_malloc(8));
    ms_free(p);
    memshim_stats_t st;
    assert_int_equal(memshim_stats_get(&st), 0);
    assert_int_equal(st.fail_injected, 2);
    assert_int_equal(st.fail_countable, 3);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_inject_fail_after_lets_exactly_n_through, reset,
                                        reset),
        cmocka_unit_test_setup_teardown(test_inject_fail_after_zero_disarms, reset, reset),
        cmocka_unit_test_setup_teardown(test_inject_every_entry_point_fails_with_enomem, reset,
                                        reset),
        cmocka_unit_test_setup_teardown(test_inject_same_seed_fails_the_same_allocations, reset,
                                        reset),
        cmocka_unit_test_setup_teardown(test_inject_fail_rate_is_close_to_the_probability, reset,
                                        reset),
        cmocka_unit_test_setup_teardown(test_inject_fail_rate_rejects_out_of_range, reset, reset),
        cmocka_unit_test_setup_teardown(
            test_inject_min_size_spares_and_does_not_count_small_requests, reset, reset),
        cmocka_unit_test_setup_teardown(test_inject_shim_internal_work_is_never_counted_or_failed,
                                        reset, reset),
        cmocka_unit_test_setup_teardown(test_inject_reset_disarms_and_zeroes_counters, reset,
                                        reset),
        cmocka_unit_test_setup_teardown(test_inject_stats_report_failures, reset, reset),
    };
    return cmocka_run_group_tests_name("shim_inject", tests, NULL, NULL);
}
