/* SPDX-License-Identifier: MIT */
/*
 * test_shim_inject.c - failure injection: exact counts for fail_after, a reproducible
 * sequence per seed for fail_rate (the documented formula; neighbouring seeds
 * independent), the min_size filter, ENOMEM from every allocation
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

/* The documented rule, computed here independently of inject.c. */
static uint64_t ref_splitmix64(uint64_t x) {
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

/* Allocation k (from 1) fails iff splitmix64(splitmix64(S) + k * 0x9e37...) < P * 2^64. */
static void reference_pattern(uint64_t seed, double p, size_t n, bool *failed) {
    uint64_t thr = (uint64_t)ldexp(p, 64);
    uint64_t stream = ref_splitmix64(seed);
    for (size_t i = 0; i < n; i++)
        failed[i] = ref_splitmix64(stream + (uint64_t)(i + 1) * 0x9e3779b97f4a7c15ull) < thr;
}

/* Runs first, in a fresh process: no seed was ever set, so the seed is 0. */
static void test_inject_default_seed_is_seed_zero(void **state) {
    (void)state;
    enum { N = 512 };
    static bool got[N], want[N];
    assert_int_equal(get_u64("inject.seed"), 0);
    set_double("inject.fail_rate", 0.5);
    failure_pattern(N, 32, got);
    reference_pattern(0, 0.5, N, want);
    assert_memory_equal(got, want, sizeof(got));
}

static void test_inject_fail_rate_follows_the_documented_sequence(void **state) {
    (void)state;
    enum { N = 1000 };
    static bool got[N], want[N];
    const uint64_t seeds[] = {0, 1, 2, 3, 12345, UINT64_MAX};
    for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++) {
        reset(NULL);
        set_double("inject.fail_rate", 0.3);
        set_u64("inject.seed", seeds[i]);
        failure_pattern(N, 32, got);
        reference_pattern(seeds[i], 0.3, N, want);
        assert_memory_equal(got, want, sizeof(got));
    }
}

/* Fraction (in 1/1000) of positions where a[k] == b[k + shift], over the overlap. */
static int agreement_permille(const bool *a, const bool *b, size_t n, int shift) {
    size_t same = 0, total = 0;
    for (size_t k = 0; k < n; k++) {
        long j = (long)k + shift;
        if (j < 0 || (size_t)j >= n) continue;
        same += a[k] == b[j];
        total++;
    }
    return (int)(same * 1000 / total);
}

/*
 * Seeds 1 and 2 must not be one pattern shifted by an allocation (the old rule,
 * splitmix64(seed + k), made seed 2's pattern seed 1's moved by one): at P = 0.5 two
 * independent patterns agree on about half the positions at every shift.
 */
static void test_inject_neighbouring_seeds_give_independent_patterns(void **state) {
    (void)state;
    enum { N = 4096, MAX_SHIFT = 64 };
    static bool s1[N], s2[N], s3[N];
    bool *pat[] = {s1, s2, s3};
    for (uint64_t seed = 1; seed <= 3; seed++) {
        reset(NULL);
        set_double("inject.fail_rate", 0.5);
        set_u64("inject.seed", seed);
        failure_pattern(N, 32, pat[seed - 1]);
    }
    for (int a = 0; a < 3; a++)
        for (int b = a + 1; b < 3; b++)
            for (int shift = -MAX_SHIFT; shift <= MAX_SHIFT; shift++) {
                int pm = agreement_permille(pat[a], pat[b], N, shift);
                /* 1 sigma is 8 permille at N = 4096: 430..570 is about 9 sigma wide. */
                assert_in_range(pm, 430, 570);
            }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_inject_default_seed_is_seed_zero, reset, reset),
        cmocka_unit_test_setup_teardown(test_inject_fail_rate_follows_the_documented_sequence,
                                        reset, reset),
        cmocka_unit_test_setup_teardown(test_inject_neighbouring_seeds_give_independent_patterns,
                                        reset, reset),
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
