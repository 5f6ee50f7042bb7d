/* SPDX-License-Identifier: MIT */
/*
 * test_shim_alloc.c - the contract of every overridden allocation name, checked on the
 * ms_ functions override.c forwards to (libmemshim.a has no overrides): alignment rules
 * and EINVAL, ENOMEM on failure with errno untouched on success, overflow, zero sizes,
 * realloc's edge cases, usable size, page rounding.
 */
#include "test_common.h"

#include <pthread.h>
#include <stdint.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jemalloc/jemalloc.h>

#include "memshim_internal.h"

#define SENTINEL_ERRNO 4242

static size_t page(void) {
    return (size_t)sysconf(_SC_PAGESIZE);
}

static bool is_aligned(const void *p, size_t al) {
    return ((uintptr_t)p & (al - 1)) == 0;
}

static void test_alloc_malloc_zero_returns_unique_freeable_pointers(void **state) {
    (void)state;
    void *a = ms_malloc(0);
    void *b = ms_malloc(0);
    assert_non_null(a);
    assert_non_null(b);
    assert_ptr_not_equal(a, b);
    ms_free(a);
    ms_free(b);
}

static void test_alloc_malloc_keeps_errno_on_success(void **state) {
    (void)state;
    static const size_t sizes[] = {1, 16, 100, 4096, 70000, 5u << 20};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        errno = SENTINEL_ERRNO;
        void *p = ms_malloc(sizes[i]);
        assert_non_null(p);
        assert_int_equal(errno, SENTINEL_ERRNO);
        memset(p, 0xa5, sizes[i]);
        ms_free(p);
        assert_int_equal(errno, SENTINEL_ERRNO);
    }
}

static void test_alloc_malloc_size_max_fails_with_enomem(void **state) {
    (void)state;
    errno = 0;
    assert_null(ms_malloc(SIZE_MAX));
    assert_int_equal(errno, ENOMEM);
    errno = 0;
    assert_null(ms_malloc(SIZE_MAX / 2));
    assert_int_equal(errno, ENOMEM);
}

static void test_alloc_free_null_is_a_noop_that_keeps_errno(void **state) {
    (void)state;
    errno = SENTINEL_ERRNO;
    ms_free(NULL);
    ms_free_sized(NULL, 10);
    assert_int_equal(errno, SENTINEL_ERRNO);
}

static void test_alloc_free_sized_releases_the_block(void **state) {
    (void)state;
    memshim_stats_t before, after;
    void *p = ms_malloc(8u << 20);
    assert_non_null(p);
    assert_int_equal(memshim_stats_get(&before), 0);
    ms_free_sized(p, 8u << 20);
    assert_int_equal(memshim_stats_get(&after), 0);
    assert_true(before.allocated - after.allocated >= (8u << 20));
}

static void test_alloc_calloc_overflow_fails_with_enomem(void **state) {
    (void)state;
    errno = 0;
    assert_null(ms_calloc(SIZE_MAX / 2 + 1, 2));
    assert_int_equal(errno, ENOMEM);
    errno = 0;
    assert_null(ms_calloc(2, SIZE_MAX));
    assert_int_equal(errno, ENOMEM);
    errno = 0;
    assert_null(ms_calloc((size_t)1 << 33, (size_t)1 << 33));
    assert_int_equal(errno, ENOMEM);
}

static void test_alloc_calloc_returns_zeroed_memory(void **state) {
    (void)state;
    static const size_t sizes[] = {1, 24, 4000, 100000};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        /* Dirty a block of the same class first, so a zero is not an accident. */
        unsigned char *d = ms_malloc(sizes[i]);
        assert_non_null(d);
        memset(d, 0xff, sizes[i]);
        ms_free(d);
        errno = SENTINEL_ERRNO;
        unsigned char *p = ms_calloc(1, sizes[i]);
        assert_non_null(p);
        assert_int_equal(errno, SENTINEL_ERRNO);
        for (size_t j = 0; j < sizes[i]; j++)
            assert_int_equal(p[j], 0);
        ms_free(p);
    }
}

static void test_alloc_calloc_zero_elements_returns_freeable_pointer(void **state) {
    (void)state;
    void *a = ms_calloc(0, 16);
    void *b = ms_calloc(16, 0);
    assert_non_null(a);
    assert_non_null(b);
    ms_free(a);
    ms_free(b);
}

static void test_alloc_realloc_null_acts_as_malloc(void **state) {
    (void)state;
    errno = SENTINEL_ERRNO;
    char *p = ms_realloc(NULL, 100);
    assert_non_null(p);
    assert_int_equal(errno, SENTINEL_ERRNO);
    assert_true(ms_usable_size(p) >= 100);
    ms_free(p);
    p = ms_realloc(NULL, 0);
    assert_non_null(p); /* realloc(NULL, 0) is malloc(0) */
    ms_free(p);
}

static void test_alloc_realloc_to_zero_frees_and_returns_null(void **state) {
    (void)state;
    memshim_stats_t before, after;
    char *p = ms_malloc(4u << 20);
    assert_non_null(p);
    assert_int_equal(memshim_stats_get(&before), 0);
    errno = SENTINEL_ERRNO;
    assert_null(ms_realloc(p, 0)); /* glibc: frees p, returns NULL, errno untouched */
    assert_int_equal(errno, SENTINEL_ERRNO);
    assert_int_equal(memshim_stats_get(&after), 0);
    assert_true(before.allocated - after.allocated >= (4u << 20));
}

static void test_alloc_realloc_keeps_contents_when_growing_and_shrinking(void **state) {
    (void)state;
    unsigned char *p = ms_malloc(40);
    assert_non_null(p);
    for (int i = 0; i < 40; i++)
        p[i] = (unsigned char)i;
    static const size_t steps[] = {100, 5000, 300000, 64, 40};
    for (size_t s = 0; s < sizeof(steps) / sizeof(steps[0]); s++) {
        errno = SENTINEL_ERRNO;
        p = ms_realloc(p, steps[s]);
        assert_non_null(p);
        assert_int_equal(errno, SENTINEL_ERRNO);
        for (int i = 0; i < 40; i++)
            assert_int_equal(p[i], i);
    }
    ms_free(p);
}

static void test_alloc_realloc_failure_leaves_block_intact(void **state) {
    (void)state;
    char *p = ms_malloc(32);
    assert_non_null(p);
    strcpy(p, "still here");
    errno = 0;
    assert_null(ms_realloc(p, SIZE_MAX));
    assert_int_equal(errno, ENOMEM);
    assert_string_equal(p, "still here");
    ms_free(p);
}

/* jemalloc's largest small size class (arenas.bin.<nbins - 1>.size). */
static size_t small_max_class(void) {
    unsigned nbins = 0;
    size_t len = sizeof(nbins), sz = 0;
    assert_int_equal(mallctl("arenas.nbins", &nbins, &len, NULL, 0), 0);
    char name[64];
    snprintf(name, sizeof(name), "arenas.bin.%u.size", nbins - 1);
    len = sizeof(sz);
    assert_int_equal(mallctl(name, &sz, &len, NULL, 0), 0);
    return sz;
}

/*
 * Between small size classes the direct path moves blocks itself (alloc.c's
 * realloc_direct): the block stays where it is exactly when jemalloc would keep it
 * (the new size is in its class), the result has the new request's class, the contents
 * survive and errno is left alone. Every request size up to 512, then every 13th up to
 * past the largest small class, from blocks at and around class boundaries.
 */
static void test_alloc_realloc_between_small_classes_matches_jemalloc(void **state) {
    (void)state;
    size_t max = small_max_class();
    const size_t from[] = {1, 8, 9, 16, 17, 48, 100, 112, 113, 1000, 4096, 4097, 10000, max};
    for (size_t i = 0; i < sizeof(from) / sizeof(from[0]); i++) {
        size_t a = from[i];
        for (size_t b = 1; b <= max + 4096; b += b < 512 ? 1 : 13) {
            unsigned char *p = ms_malloc(a);
            assert_non_null(p);
            for (size_t k = 0; k < a; k++)
                p[k] = (unsigned char)(k * 7 + a);
            errno = SENTINEL_ERRNO;
            unsigned char *q = ms_realloc(p, b);
            assert_non_null(q);
            assert_int_equal(errno, SENTINEL_ERRNO);
            assert_int_equal(ms_usable_size(q), nallocx(b, 0));
            if (b <= max) assert_int_equal(q == p, nallocx(a, 0) == nallocx(b, 0));
            for (size_t k = 0; k < (a < b ? a : b); k++)
                if (q[k] != (unsigned char)(k * 7 + a)) fail_msg("byte %zu of %zu -> %zu", k, a, b);
            ms_free(q);
        }
    }
}

static void test_alloc_reallocarray_overflow_fails_and_keeps_block(void **state) {
    (void)state;
    char *p = ms_malloc(32);
    assert_non_null(p);
    strcpy(p, "kept");
    errno = 0;
    assert_null(ms_reallocarray(p, SIZE_MAX / 4, 8));
    assert_int_equal(errno, ENOMEM);
    assert_string_equal(p, "kept");
    errno = SENTINEL_ERRNO;
    p = ms_reallocarray(p, 1000, 8);
    assert_non_null(p);
    assert_int_equal(errno, SENTINEL_ERRNO);
    assert_true(ms_usable_size(p) >= 8000);
    assert_string_equal(p, "kept");
    ms_free(p);
}

static void test_alloc_reallocarray_null_allocates(void **state) {
    (void)state;
    void *p = ms_reallocarray(NULL, 10, 10);
    assert_non_null(p);
    assert_true(ms_usable_size(p) >= 100);
    ms_free(p);
}

static void test_alloc_usable_size_covers_every_request(void **state) {
    (void)state;
    assert_int_equal(ms_usable_size(NULL), 0);
    for (size_t sz = 0; sz < 70000; sz += (sz < 512 ? 1 : 997)) {
        char *p = ms_malloc(sz);
        assert_non_null(p);
        size_t u = ms_usable_size(p);
        assert_true(u >= sz);
        memset(p, 1, u); /* all of it is usable */
        ms_free(p);
    }
}

static void test_alloc_posix_memalign_rejects_bad_alignment_with_einval(void **state) {
    (void)state;
    static const size_t bad[] = {0, 1, 2, 4, 12, 24, 48, 100, 4097, SIZE_MAX};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        void *p = (void *)0x1;
        errno = SENTINEL_ERRNO;
        assert_int_equal(ms_posix_memalign(&p, bad[i], 16), EINVAL);
        assert_int_equal(errno, SENTINEL_ERRNO); /* reported by the result only */
        assert_ptr_equal(p, (void *)0x1);        /* *memptr untouched */
    }
}

static void test_alloc_posix_memalign_aligns_every_size(void **state) {
    (void)state;
    static const size_t sizes[] = {0, 1, 7, 8, 9, 16, 100, 5000, 70000};
    for (size_t al = sizeof(void *); al <= ((size_t)1 << 21); al <<= 1) {
        for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
            void *p = NULL;
            errno = SENTINEL_ERRNO;
            assert_int_equal(ms_posix_memalign(&p, al, sizes[i]), 0);
            assert_int_equal(errno, SENTINEL_ERRNO);
            assert_non_null(p);
            assert_true(is_aligned(p, al));
            assert_true(ms_usable_size(p) >= sizes[i]);
            ms_free(p);
        }
    }
}

static void test_alloc_posix_memalign_impossible_request_returns_enomem(void **state) {
    (void)state;
    void *p = (void *)0x1;
    errno = SENTINEL_ERRNO;
    assert_int_equal(ms_posix_memalign(&p, 64, SIZE_MAX - 10), ENOMEM);
    assert_int_equal(ms_posix_memalign(&p, (size_t)1 << 63, 1), ENOMEM);
    assert_int_equal(errno, SENTINEL_ERRNO);
    assert_ptr_equal(p, (void *)0x1);
}

static void test_alloc_small_request_with_16_alignment_is_16_aligned(void **state) {
    (void)state;
    /* jemalloc's 8-byte class is only 8-aligned: a 16-aligned 1..8 byte request must not
     * land there (the shim once returned p % 16 == 8 here). */
    for (size_t sz = 0; sz <= 16; sz++) {
        void *keep[64];
        for (int i = 0; i < 64; i++) {
            assert_int_equal(ms_posix_memalign(&keep[i], 16, sz), 0);
            assert_true(is_aligned(keep[i], 16));
        }
        for (int i = 0; i < 64; i++)
            ms_free(keep[i]);
        void *a = ms_aligned_alloc(16, sz);
        void *m = ms_memalign(16, sz);
        assert_true(is_aligned(a, 16));
        assert_true(is_aligned(m, 16));
        ms_free(a);
        ms_free(m);
    }
}

static void test_alloc_aligned_alloc_rejects_non_power_of_two_with_einval(void **state) {
    (void)state;
    static const size_t bad[] = {0, 3, 12, 24, 100, 4095, SIZE_MAX};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        errno = 0;
        assert_null(ms_aligned_alloc(bad[i], 64));
        assert_int_equal(errno, EINVAL);
    }
}

static void test_alloc_aligned_alloc_accepts_every_power_of_two(void **state) {
    (void)state;
    for (size_t al = 1; al <= ((size_t)1 << 20); al <<= 1) {
        errno = SENTINEL_ERRNO;
        void *p = ms_aligned_alloc(al, 3 * al);
        assert_non_null(p);
        assert_int_equal(errno, SENTINEL_ERRNO);
        assert_true(is_aligned(p, al));
        ms_free(p);
    }
    errno = 0;
    assert_null(ms_aligned_alloc(64, SIZE_MAX - 100));
    assert_int_equal(errno, ENOMEM);
}

static void test_alloc_memalign_rounds_alignment_up_as_glibc_does(void **state) {
    (void)state;
    void *p = ms_memalign(24, 10); /* not a power of two: rounded up to 32 */
    assert_non_null(p);
    assert_true(is_aligned(p, 32));
    ms_free(p);
    p = ms_memalign(0, 10); /* below the minimum: plain malloc alignment */
    assert_non_null(p);
    assert_true(is_aligned(p, 8));
    ms_free(p);
    p = ms_memalign(3000, 10);
    assert_non_null(p);
    assert_true(is_aligned(p, 4096));
    ms_free(p);
}

static void test_alloc_memalign_huge_alignment_is_einval_or_enomem(void **state) {
    (void)state;
    errno = 0;
    assert_null(ms_memalign(SIZE_MAX / 2 + 2, 1)); /* above SIZE_MAX/2+1: EINVAL */
    assert_int_equal(errno, EINVAL);
    errno = 0;
    assert_null(ms_memalign(SIZE_MAX / 2 + 1, 1)); /* 2^63: valid but impossible */
    assert_int_equal(errno, ENOMEM);
}

static void test_alloc_valloc_is_page_aligned(void **state) {
    (void)state;
    static const size_t sizes[] = {0, 1, 100, 4096, 4097, 100000};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        void *p = ms_valloc(sizes[i]);
        assert_non_null(p);
        assert_true(is_aligned(p, page()));
        assert_true(ms_usable_size(p) >= sizes[i]);
        ms_free(p);
    }
}

static void test_alloc_pvalloc_rounds_size_up_to_whole_pages(void **state) {
    (void)state;
    const size_t ps = page();
    static const size_t sizes[] = {0, 1, 100, 4096, 4097, 100000};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        size_t want = sizes[i] == 0 ? ps : (sizes[i] + ps - 1) / ps * ps;
        char *p = ms_pvalloc(sizes[i]);
        assert_non_null(p);
        assert_true(is_aligned(p, ps));
        assert_true(ms_usable_size(p) >= want);
        memset(p, 7, want); /* the whole rounded size is the caller's */
        ms_free(p);
    }
}

static void test_alloc_pvalloc_overflow_fails_with_enomem(void **state) {
    (void)state;
    errno = 0;
    assert_null(ms_pvalloc(SIZE_MAX - 1));
    assert_int_equal(errno, ENOMEM);
    errno = 0;
    assert_null(ms_valloc(SIZE_MAX - 1));
    assert_int_equal(errno, ENOMEM);
}

/* The same contract on both ways into jemalloc (see alloc.c). */
static int use_direct_path(void **state) {
    (void)state;
    (void)ms_alloc_init(); /* -ENOTSUP under valgrind: the *x path again */
    return 0;
}

static int use_x_path(void **state) {
    (void)state;
    ms_alloc_use_xpath();
    return 0;
}

static void test_alloc_blocks_cross_between_the_two_paths(void **state) {
    (void)state;
    if (ms_alloc_init() == -ENOTSUP) skip(); /* valgrind: only the *x path exists */
    assert_int_equal(ms_alloc_init(), 0);
    void *direct = ms_malloc(100);
    void *direct_big = ms_calloc(1, 1u << 20);
    ms_alloc_use_xpath();
    void *x = ms_malloc(100);
    ms_free(direct); /* allocated by jemalloc's malloc, freed by dallocx */
    direct_big = ms_realloc(direct_big, 2u << 20);
    assert_non_null(direct_big);
    assert_int_equal(ms_alloc_init(), 0);
    ms_free(x); /* allocated by mallocx, freed by jemalloc's free */
    ms_free(direct_big);
}

/* --- free and errno: a jemalloc whose free changes errno (as its purge path can) --- */

static void *je_like_malloc(size_t size) {
    return mallocx(size != 0 ? size : 1, 0);
}

static void *je_like_calloc(size_t n, size_t size) {
    return mallocx(n * size != 0 ? n * size : 1, MALLOCX_ZERO);
}

static void *je_like_realloc(void *p, size_t size) {
    return rallocx(p, size, 0);
}

static void clobbering_free(void *p) {
    if (p != NULL) dallocx(p, 0);
    errno = EIO;
}

static int use_clobbering_free(void **state) {
    (void)state;
    ms_alloc_use_direct(je_like_malloc, je_like_calloc, je_like_realloc, clobbering_free);
    return 0;
}

static int back_to_jemalloc(void **state) {
    (void)state;
    bool on = true;
    (void)memshim_ctl("config.free_keeps_errno", NULL, NULL, &on, sizeof(on));
    (void)ms_alloc_init(); /* -ENOTSUP under valgrind: the *x path again */
    return 0;
}

/* 0 when errno survived every free of this thread, else the errno seen. */
static int frees_keep_errno(void) {
    for (int i = 0; i < 100; i++) {
        void *p = ms_malloc((size_t)16 << (i % 16));
        if (p == NULL) return ENOMEM;
        errno = SENTINEL_ERRNO;
        ms_free(i % 10 == 0 ? NULL : p);
        if (i % 10 == 0) ms_free(p);
        if (errno != SENTINEL_ERRNO) return errno;
    }
    return 0;
}

static void *thread_frees(void *arg) {
    if (arg != NULL) pthread_barrier_wait(arg);
    return (void *)(intptr_t)frees_keep_errno();
}

static void test_alloc_free_keeps_errno_when_jemallocs_free_changes_it(void **state) {
    (void)state;
    assert_int_equal(frees_keep_errno(), 0);
    pthread_t t;
    void *r;
    assert_int_equal(pthread_create(&t, NULL, thread_frees, NULL), 0);
    assert_int_equal(pthread_join(t, &r), 0);
    assert_int_equal((intptr_t)r, 0);
}

/* A thread that exists before the routing is (re)installed keeps errno as well. */
static void test_alloc_free_keeps_errno_in_threads_started_before_init(void **state) {
    (void)state;
    pthread_barrier_t go;
    pthread_barrier_init(&go, NULL, 2);
    ms_alloc_use_xpath();
    pthread_t t;
    void *r;
    assert_int_equal(pthread_create(&t, NULL, thread_frees, &go), 0);
    use_clobbering_free(NULL);
    pthread_barrier_wait(&go);
    assert_int_equal(pthread_join(t, &r), 0);
    assert_int_equal((intptr_t)r, 0);
    pthread_barrier_destroy(&go);
}

static void *fork_and_free(void *arg) {
    (void)arg;
    pid_t pid = fork();
    if (pid == 0) _exit(frees_keep_errno() == 0 ? 0 : 1);
    int st = 0;
    if (pid < 0 || waitpid(pid, &st, 0) != pid) return (void *)(intptr_t)-1;
    return (void *)(intptr_t)(WIFEXITED(st) ? WEXITSTATUS(st) : 128);
}

static void test_alloc_free_keeps_errno_in_a_child_forked_from_a_thread(void **state) {
    (void)state;
    pthread_t t;
    void *r;
    assert_int_equal(pthread_create(&t, NULL, fork_and_free, NULL), 0);
    assert_int_equal(pthread_join(t, &r), 0);
    assert_int_equal((intptr_t)r, 0);
    assert_int_equal((intptr_t)fork_and_free(NULL), 0);
}

static void *errno_location_matches(void *arg) {
    (void)arg;
    return (void *)(intptr_t)(ms_alloc_errno_location() == &errno);
}

static void test_alloc_errno_location_is_this_threads_errno(void **state) {
    (void)state;
    assert_ptr_equal(ms_alloc_errno_location(), &errno);
    pthread_t t[4];
    void *r;
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&t[i], NULL, errno_location_matches, NULL), 0);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(pthread_join(t[i], &r), 0);
        assert_int_equal((intptr_t)r, 1);
    }
    pid_t pid = fork();
    if (pid == 0) _exit(ms_alloc_errno_location() == &errno ? 0 : 1);
    int st = 0;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
}

static void test_alloc_free_keeps_errno_false_jumps_to_jemallocs_free(void **state) {
    (void)state;
    bool on = true, off = false;
    size_t len = sizeof(on);
    assert_int_equal(memshim_ctl("config.free_keeps_errno", &on, &len, NULL, 0), 0);
    assert_true(on);
    assert_int_equal(memshim_ctl("config.free_keeps_errno", NULL, NULL, &off, sizeof(off)), 0);
    assert_ptr_equal(atomic_load(&ms_free_entry), clobbering_free);
    void *p = ms_malloc(32);
    errno = SENTINEL_ERRNO;
    ms_free(p);
    assert_int_equal(errno, EIO); /* jemalloc's semantics, by request */
    assert_int_equal(memshim_ctl("config.free_keeps_errno", NULL, NULL, &on, sizeof(on)), 0);
    assert_ptr_not_equal(atomic_load(&ms_free_entry), clobbering_free);
    assert_int_equal(frees_keep_errno(), 0);
}

/* --- realloc on the direct path: small moves, errno, jemalloc's realloc for the rest --- */

static int je_realloc_calls;

static void *counting_realloc(void *p, size_t size) {
    je_realloc_calls++;
    return rallocx(p, size, 0);
}

static void plain_free(void *p) {
    if (p != NULL) dallocx(p, 0);
}

/* Small to small never reaches jemalloc's realloc (its slow path, about 500 instructions
 * on sqlite3); anything large does. */
static void test_alloc_realloc_small_moves_skip_jemallocs_realloc(void **state) {
    (void)state;
    size_t max = small_max_class();
    ms_alloc_use_direct(je_like_malloc, je_like_calloc, counting_realloc, plain_free);
    je_realloc_calls = 0;
    char *p = ms_malloc(24);
    assert_non_null(p);
    strcpy(p, "moved");
    static const size_t small[] = {200, 3000, 190, 1, 4097};
    for (size_t i = 0; i < sizeof(small) / sizeof(small[0]); i++) {
        p = ms_realloc(p, small[i] < max ? small[i] : max);
        assert_non_null(p);
    }
    p = ms_realloc(p, max);
    assert_non_null(p);
    assert_int_equal(je_realloc_calls, 0);
    p = ms_realloc(p, max + 1); /* to a large class */
    assert_int_equal(je_realloc_calls, 1);
    p = ms_realloc(p, 50); /* from a large class */
    assert_int_equal(je_realloc_calls, 2);
    assert_non_null(p);
    assert_int_equal(p[0], 'm'); /* realloc(1) kept only the first byte */
    ms_free(p);
}

/* jemalloc calls that change errno on success and fail without ENOMEM. */
static void *clobbering_malloc(size_t size) {
    void *p = je_like_malloc(size);
    errno = EIO;
    return p;
}

static void *clobbering_realloc(void *p, size_t size) {
    void *q = rallocx(p, size, 0);
    errno = EIO;
    return q;
}

static void *failing_malloc(size_t size) {
    (void)size;
    errno = EIO;
    return NULL;
}

static void *clobbering_calloc(size_t n, size_t size) {
    void *p = je_like_calloc(n, size);
    errno = EIO;
    return p;
}

static void *failing_calloc(size_t n, size_t size) {
    (void)n;
    (void)size;
    errno = EIO;
    return NULL;
}

/* The direct malloc and calloc (alloc.c's malloc_keep_errno, calloc_keep_errno). */
static void test_alloc_malloc_calloc_keep_errno_and_report_enomem(void **state) {
    (void)state;
    ms_alloc_use_direct(clobbering_malloc, clobbering_calloc, clobbering_realloc, clobbering_free);
    errno = SENTINEL_ERRNO;
    void *p = ms_malloc(100);
    assert_non_null(p);
    assert_int_equal(errno, SENTINEL_ERRNO);
    void *q = ms_calloc(10, 10);
    assert_non_null(q);
    assert_int_equal(errno, SENTINEL_ERRNO);
    ms_free(p);
    ms_free(q);
    assert_int_equal(errno, SENTINEL_ERRNO);
    ms_alloc_use_direct(failing_malloc, failing_calloc, clobbering_realloc, clobbering_free);
    errno = 0;
    assert_null(ms_malloc(100));
    assert_int_equal(errno, ENOMEM);
    errno = 0;
    assert_null(ms_calloc(10, 10));
    assert_int_equal(errno, ENOMEM);
}

static void test_alloc_realloc_keeps_errno_and_reports_enomem(void **state) {
    (void)state;
    ms_alloc_use_direct(clobbering_malloc, je_like_calloc, clobbering_realloc, clobbering_free);
    char *p = mallocx(100, 0);
    assert_non_null(p);
    strcpy(p, "kept");
    errno = SENTINEL_ERRNO;
    p = ms_realloc(p, 300); /* a small move: the shim's malloc, copy, free */
    assert_non_null(p);
    assert_int_equal(errno, SENTINEL_ERRNO);
    p = ms_realloc(p, 100000); /* jemalloc's realloc */
    assert_non_null(p);
    assert_int_equal(errno, SENTINEL_ERRNO);
    errno = 0;
    assert_null(ms_realloc(p, SIZE_MAX));
    assert_int_equal(errno, ENOMEM);
    assert_string_equal(p, "kept");
    p = ms_realloc(p, 100);
    assert_non_null(p);
    ms_alloc_use_direct(failing_malloc, je_like_calloc, clobbering_realloc, clobbering_free);
    errno = 0;
    assert_null(ms_realloc(p, 300)); /* the small move's malloc fails */
    assert_int_equal(errno, ENOMEM);
    assert_string_equal(p, "kept");
    dallocx(p, 0);
}

/* Before ms_alloc_init (and under valgrind) the *x path's free keeps errno itself. */
static void test_alloc_xpath_free_keeps_errno_whatever_the_knob(void **state) {
    (void)state;
    bool off = false, on = true;
    ms_alloc_use_xpath();
    assert_int_equal(memshim_ctl("config.free_keeps_errno", NULL, NULL, &off, sizeof(off)), 0);
    assert_int_equal(frees_keep_errno(), 0);
    assert_int_equal(memshim_ctl("config.free_keeps_errno", NULL, NULL, &on, sizeof(on)), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_alloc_malloc_zero_returns_unique_freeable_pointers),
        cmocka_unit_test(test_alloc_malloc_keeps_errno_on_success),
        cmocka_unit_test(test_alloc_malloc_size_max_fails_with_enomem),
        cmocka_unit_test(test_alloc_free_null_is_a_noop_that_keeps_errno),
        cmocka_unit_test(test_alloc_free_sized_releases_the_block),
        cmocka_unit_test(test_alloc_calloc_overflow_fails_with_enomem),
        cmocka_unit_test(test_alloc_calloc_returns_zeroed_memory),
        cmocka_unit_test(test_alloc_calloc_zero_elements_returns_freeable_pointer),
        cmocka_unit_test(test_alloc_realloc_null_acts_as_malloc),
        cmocka_unit_test(test_alloc_realloc_to_zero_frees_and_returns_null),
        cmocka_unit_test(test_alloc_realloc_keeps_contents_when_growing_and_shrinking),
        cmocka_unit_test(test_alloc_realloc_failure_leaves_block_intact),
        cmocka_unit_test(test_alloc_realloc_between_small_classes_matches_jemalloc),
        cmocka_unit_test(test_alloc_reallocarray_overflow_fails_and_keeps_block),
        cmocka_unit_test(test_alloc_reallocarray_null_allocates),
        cmocka_unit_test(test_alloc_usable_size_covers_every_request),
        cmocka_unit_test(test_alloc_posix_memalign_rejects_bad_alignment_with_einval),
        cmocka_unit_test(test_alloc_posix_memalign_aligns_every_size),
        cmocka_unit_test(test_alloc_posix_memalign_impossible_request_returns_enomem),
        cmocka_unit_test(test_alloc_small_request_with_16_alignment_is_16_aligned),
        cmocka_unit_test(test_alloc_aligned_alloc_rejects_non_power_of_two_with_einval),
        cmocka_unit_test(test_alloc_aligned_alloc_accepts_every_power_of_two),
        cmocka_unit_test(test_alloc_memalign_rounds_alignment_up_as_glibc_does),
        cmocka_unit_test(test_alloc_memalign_huge_alignment_is_einval_or_enomem),
        cmocka_unit_test(test_alloc_valloc_is_page_aligned),
        cmocka_unit_test(test_alloc_pvalloc_rounds_size_up_to_whole_pages),
        cmocka_unit_test(test_alloc_pvalloc_overflow_fails_with_enomem),
    };
    const struct CMUnitTest mixed[] = {
        cmocka_unit_test(test_alloc_blocks_cross_between_the_two_paths),
    };
    int failed = cmocka_run_group_tests_name("shim_alloc", tests, use_direct_path, NULL);
    failed += cmocka_run_group_tests_name("shim_alloc_xpath", tests, use_x_path, use_direct_path);
    failed += cmocka_run_group_tests_name("shim_alloc_mixed", mixed, NULL, NULL);
    const struct CMUnitTest errno_tests[] = {
        cmocka_unit_test_setup(test_alloc_free_keeps_errno_when_jemallocs_free_changes_it,
                               use_clobbering_free),
        cmocka_unit_test(test_alloc_free_keeps_errno_in_threads_started_before_init),
        cmocka_unit_test_setup(test_alloc_free_keeps_errno_in_a_child_forked_from_a_thread,
                               use_clobbering_free),
        cmocka_unit_test(test_alloc_errno_location_is_this_threads_errno),
        cmocka_unit_test_setup(test_alloc_free_keeps_errno_false_jumps_to_jemallocs_free,
                               use_clobbering_free),
        cmocka_unit_test(test_alloc_xpath_free_keeps_errno_whatever_the_knob),
        cmocka_unit_test(test_alloc_realloc_small_moves_skip_jemallocs_realloc),
        cmocka_unit_test(test_alloc_realloc_keeps_errno_and_reports_enomem),
        cmocka_unit_test(test_alloc_malloc_calloc_keep_errno_and_report_enomem),
    };
    failed +=
        cmocka_run_group_tests_name("shim_alloc_free_errno", errno_tests, NULL, back_to_jemalloc);
    return failed;
}
