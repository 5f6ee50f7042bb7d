/* SPDX-License-Identifier: MIT */
/*
 * test_shim_hint.c - fragmentation hints and the move primitive (shim/hint.c).
 *
 * Unit tests link libmemshim.a (no overrides), so the test blocks come from jemalloc's
 * mallocx/dallocx directly. When jemalloc is this process's malloc (a normal build),
 * the hints are live and moving every hinted block of a 70%-freed population must give
 * back a large share of the active pages with every byte intact. Under a sanitizer
 * (malloc is not jemalloc's) the same calls must answer "stay" and move nothing.
 */
#include "test_common.h"

#include <time.h>

#include <jemalloc/jemalloc.h>

#include "memshim.h"

#define BLOCK_SIZE 48 /* a 16-byte-quantum class: 256 regions per 12 KiB slab */
#define NBLOCKS    200000
#define BATCH      256

static size_t je_size(const char *name) {
    uint64_t epoch = 1;
    size_t len = sizeof(epoch);
    assert_int_equal(mallctl("epoch", &epoch, &len, &epoch, len), 0);
    size_t v = 0;
    len = sizeof(v);
    assert_int_equal(mallctl(name, &v, &len, NULL, 0), 0);
    return v;
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rng_next(void) {
    uint64_t x = rng_state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return rng_state = x;
}

static void fill(void *p, size_t i) {
    uint64_t w[BLOCK_SIZE / 8];
    for (size_t k = 0; k < BLOCK_SIZE / 8; k++)
        w[k] = i * 0x100000001b3ull + k;
    memcpy(p, w, BLOCK_SIZE);
}

static bool intact(const void *p, size_t i) {
    uint64_t w[BLOCK_SIZE / 8];
    for (size_t k = 0; k < BLOCK_SIZE / 8; k++)
        w[k] = i * 0x100000001b3ull + k;
    return memcmp(p, w, BLOCK_SIZE) == 0;
}

/* Allocates NBLOCKS blocks through the thread-cache-free path, then frees a random 70%.
 * Returns the survivors' array (index = fill seed), NULL where freed. */
static void **make_fragmented(void) {
    void **blocks = calloc(NBLOCKS, sizeof(*blocks));
    assert_non_null(blocks);
    for (size_t i = 0; i < NBLOCKS; i++) {
        blocks[i] = mallocx(BLOCK_SIZE, MALLOCX_TCACHE_NONE);
        assert_non_null(blocks[i]);
        fill(blocks[i], i);
    }
    for (size_t i = 0; i < NBLOCKS; i++) {
        if (rng_next() % 100 < 70) {
            dallocx(blocks[i], MALLOCX_TCACHE_NONE);
            blocks[i] = NULL;
        }
    }
    return blocks;
}

static void free_all(void **blocks) {
    for (size_t i = 0; i < NBLOCKS; i++)
        if (blocks[i] != NULL) dallocx(blocks[i], 0);
    free(blocks);
}

/* Every survivor still holds its bytes; then frees them all. */
static void free_all_intact(void **blocks) {
    for (size_t i = 0; i < NBLOCKS; i++)
        if (blocks[i] != NULL) assert_true(intact(blocks[i], i));
    free_all(blocks);
}

typedef int (*hint_fn)(void *const *ptrs, size_t n, bool *out);

/* One pass over the survivors in the order of order[0..NBLOCKS) (NULL: index order):
 * hint in batches with `hint`, move the hinted ones. */
static size_t hint_pass(void **blocks, const size_t *order, hint_fn hint) {
    size_t moved = 0;
    void *ptrs[BATCH];
    size_t idx[BATCH];
    bool out[BATCH];
    size_t m = 0;
    for (size_t o = 0; o <= NBLOCKS; o++) {
        size_t i = o < NBLOCKS && order != NULL ? order[o] : o;
        if (o < NBLOCKS && blocks[i] != NULL) {
            idx[m] = i;
            ptrs[m++] = blocks[i];
        }
        if (m == BATCH || (o == NBLOCKS && m > 0)) {
            int rc = hint(ptrs, m, out);
            assert_true(rc >= 0 && (size_t)rc <= m);
            for (size_t k = 0; k < m; k++) {
                if (!out[k]) continue;
                void *n = memshim_defrag_move(ptrs[k]);
                assert_non_null(n);
                blocks[idx[k]] = n;
                moved++;
            }
            m = 0;
        }
    }
    return moved;
}

static size_t defrag_pass(void **blocks) {
    return hint_pass(blocks, NULL, memshim_defrag_should_move);
}

/* The wasted bytes of the 48-byte bin. */
static size_t bin_waste(void) {
    memshim_bin_info_t bins[128];
    size_t n = 0;
    assert_int_equal(memshim_defrag_bins_get(bins, 128, &n), 0);
    int j = memshim_defrag_bin_index(BLOCK_SIZE);
    assert_true(j >= 0 && (size_t)j < n);
    return bins[j].wasted_bytes;
}

/* One pass in a random order (a hash table's scan order is unrelated to addresses)
 * with the given hint; returns the 48-byte bin's waste after it, checks contents. */
static size_t waste_after_one_pass(hint_fn hint, size_t *moved) {
    void **blocks = make_fragmented();
    size_t *order = malloc(NBLOCKS * sizeof(*order));
    assert_non_null(order);
    for (size_t i = 0; i < NBLOCKS; i++)
        order[i] = i;
    for (size_t i = NBLOCKS - 1; i > 0; i--) {
        size_t k = rng_next() % (i + 1), t = order[i];
        order[i] = order[k];
        order[k] = t;
    }
    assert_int_equal(memshim_defrag_refresh(), 0);
    *moved = hint_pass(blocks, order, hint);
    size_t waste = bin_waste();
    free(order);
    free_all_intact(blocks);
    return waste;
}

static void test_hint_pack_leaves_less_waste_in_one_pass(void **state) {
    (void)state;
    if (!memshim_defrag_supported()) {
        skip();
    }
    size_t moved_avg = 0, moved_pack = 0;
    size_t avg = waste_after_one_pass(memshim_defrag_should_move, &moved_avg);
    size_t pack = waste_after_one_pass(memshim_defrag_should_pack, &moved_pack);
    fprintf(stderr,
            "# one pass: averaging hint moved %zu, waste %zu B; packing moved %zu, waste %zu B\n",
            moved_avg, avg, moved_pack, pack);
    /* Every copy lands in the lowest non-full slab, never above its source: one pass
     * of the packing hint leaves the low slabs full. */
    assert_true(moved_pack > moved_avg);
    assert_true(pack < avg / 2);
}

static void test_hint_moves_cut_active_bytes_and_keep_contents(void **state) {
    (void)state;
    if (!memshim_defrag_supported()) {
        skip();
    }
    void **blocks = make_fragmented();
    assert_int_equal(memshim_defrag_refresh(), 0);
    size_t active_before = je_size("stats.active");
    size_t allocated_before = je_size("stats.allocated");
    size_t moved = 0;
    for (int pass = 0; pass < 4; pass++) {
        assert_int_equal(memshim_defrag_refresh(), 0);
        moved += defrag_pass(blocks);
    }
    size_t active_after = je_size("stats.active");
    size_t allocated_after = je_size("stats.allocated");
    fprintf(stderr, "# moved %zu blocks; active %zu -> %zu bytes (-%.1f%%); allocated %zu -> %zu\n",
            moved, active_before, active_after,
            100.0 * (double)(active_before - active_after) / (double)active_before,
            allocated_before, allocated_after);
    /* About 60,000 blocks of 48 B survive in ~780 slabs of 12 KiB: the ideal is 235
     * slabs. Requiring half of the active bytes back leaves room for other bins. */
    assert_true(moved > NBLOCKS / 10);
    assert_true(active_after < active_before / 2);
    free_all_intact(blocks);
}

static void test_hint_frag_figure_drops_after_moves(void **state) {
    (void)state;
    if (!memshim_defrag_supported()) {
        skip();
    }
    void **blocks = make_fragmented();
    memshim_frag_t before, after;
    assert_int_equal(memshim_defrag_frag_get(&before), 0);
    for (int pass = 0; pass < 4; pass++) {
        assert_int_equal(memshim_defrag_refresh(), 0);
        defrag_pass(blocks);
    }
    assert_int_equal(memshim_defrag_frag_get(&after), 0);
    /* 140,000 freed 48-byte regions are waste before (6.7 MB, less the tcache's share). */
    assert_true(before.frag_bytes >= (size_t)NBLOCKS * 6 / 10 * BLOCK_SIZE);
    assert_true(after.frag_bytes < before.frag_bytes / 4);
    assert_true(before.frag_pct > after.frag_pct);
    free_all(blocks);
}

/* memshim_defrag_move_batch moves exactly what the packing hint answers for the same
 * pointers (asked just before, batches of 64 so that no move of the batch comes before
 * its query), skips NULL and large blocks, keeps every byte, and packs as a hinted pass
 * of memshim_defrag_move does. */
static void test_hint_move_batch_moves_what_the_hint_says(void **state) {
    (void)state;
    if (!memshim_defrag_supported()) {
        skip();
    }
    void **blocks = make_fragmented();
    assert_int_equal(memshim_defrag_refresh(), 0);
    size_t waste_before = bin_waste();
    enum { M = 64 };
    void *big = mallocx(64 * 1024, MALLOCX_TCACHE_NONE);
    assert_non_null(big);
    size_t moved = 0, batches = 0;
    for (size_t i = 0; i < NBLOCKS;) {
        void *ptrs[M], *before[M];
        size_t idx[M];
        bool out[M];
        size_t m = 0;
        for (; i < NBLOCKS && m < M; i++) {
            if (blocks[i] == NULL) continue;
            if (m % 16 == 5) ptrs[m] = NULL, idx[m++] = SIZE_MAX;
            if (m % 16 == 9) ptrs[m] = big, idx[m++] = SIZE_MAX;
            if (m == M) break;
            idx[m] = i;
            ptrs[m++] = blocks[i];
        }
        if (m == 0) break;
        memcpy(before, ptrs, m * sizeof(void *));
        int hinted = memshim_defrag_should_pack(ptrs, m, out);
        int rc = memshim_defrag_move_batch(ptrs, m, true);
        assert_int_equal(rc, hinted);
        for (size_t k = 0; k < m; k++) {
            if (before[k] == NULL || before[k] == big) {
                assert_ptr_equal(ptrs[k], before[k]);
                assert_false(out[k]);
                continue;
            }
            assert_true(out[k] == (ptrs[k] != before[k]));
            assert_true(intact(ptrs[k], idx[k]));
            assert_int_equal(sallocx(ptrs[k], 0), nallocx(BLOCK_SIZE, 0));
            blocks[idx[k]] = ptrs[k];
        }
        moved += (size_t)rc;
        batches++;
    }
    dallocx(big, MALLOCX_TCACHE_NONE);
    size_t waste_after = bin_waste();
    fprintf(stderr, "# move_batch: %zu batches, moved %zu, waste %zu -> %zu B\n", batches, moved,
            waste_before, waste_after);
    assert_true(moved > NBLOCKS / 10);
    assert_true(waste_after < waste_before / 4);
    free_all_intact(blocks);
}

/* Every small class of slabs with several regions (a slab of one region is full or
 * empty): a bin with half-empty slabs gets its survivors moved, each copy in the same
 * class (the hint's lookup from a slab's geometry to its bin). */
static void test_hint_move_batch_knows_every_class(void **state) {
    (void)state;
    if (!memshim_defrag_supported()) {
        skip();
    }
    memshim_bin_info_t bins[128];
    size_t nbins = 0;
    assert_int_equal(memshim_defrag_bins_get(bins, 128, &nbins), 0);
    size_t tried = 0;
    for (size_t j = 0; j < nbins; j++) {
        if (bins[j].nregs < 2) continue;
        tried++;
        size_t n = (size_t)bins[j].nregs * 4;
        void **p = calloc(n, sizeof(*p));
        assert_non_null(p);
        for (size_t i = 0; i < n; i++) {
            p[i] = mallocx(bins[j].size, MALLOCX_TCACHE_NONE);
            assert_non_null(p[i]);
            memset(p[i], (int)(i & 0xff), bins[j].size);
        }
        for (size_t i = 0; i < n; i += 2) { /* every slab of these four loses half */
            dallocx(p[i], MALLOCX_TCACHE_NONE);
            p[i] = NULL;
        }
        assert_int_equal(memshim_defrag_refresh(), 0);
        int rc = memshim_defrag_move_batch(p, n, true);
        if (rc <= 0)
            fprintf(stderr, "# class %zu (%zu B, %u regions): moved %d\n", j, bins[j].size,
                    bins[j].nregs, rc);
        assert_true(rc > 0);
        for (size_t i = 1; i < n; i += 2) {
            assert_int_equal(sallocx(p[i], 0), bins[j].size);
            const unsigned char *c = p[i];
            assert_true(c[0] == (i & 0xff) && c[bins[j].size - 1] == (i & 0xff));
            dallocx(p[i], MALLOCX_TCACHE_NONE);
        }
        free(p);
    }
    assert_true(tried >= nbins / 2);
}

static void test_hint_never_moves_large_allocations(void **state) {
    (void)state;
    /* One batch: 8 large blocks among fragmented 48-byte survivors, so that the large
     * ones' "stay" cannot come from an idle bin or a dead query. */
    void **blocks = make_fragmented();
    void *ptrs[BATCH];
    bool out[BATCH];
    size_t m = 0;
    for (size_t i = 0; i < NBLOCKS && m < BATCH; i++) {
        if (m % 32 == 0) {
            ptrs[m] = mallocx(64 * 1024 + m * 4096, MALLOCX_TCACHE_NONE);
            assert_non_null(ptrs[m]);
            m++;
        }
        if (blocks[i] != NULL) ptrs[m++] = blocks[i];
    }
    assert_int_equal(memshim_defrag_refresh(), 0);
    int rc = memshim_defrag_should_move(ptrs, m, out);
    if (memshim_defrag_supported())
        assert_true(rc > 0);
    else
        assert_int_equal(rc, 0);
    for (size_t k = 0; k < m; k += 32) { /* the large blocks sit at multiples of 32 */
        assert_true(nallocx(64 * 1024, 0) <= sallocx(ptrs[k], 0));
        assert_false(out[k]);
        dallocx(ptrs[k], 0);
    }
    free_all(blocks);
}

static void test_hint_unsupported_process_moves_nothing(void **state) {
    (void)state;
    if (memshim_defrag_supported()) {
        skip();
    }
    void **blocks = make_fragmented();
    void *ptrs[BATCH];
    bool out[BATCH];
    size_t m = 0;
    for (size_t i = 0; i < NBLOCKS && m < BATCH; i++)
        if (blocks[i] != NULL) ptrs[m++] = blocks[i];
    memset(out, 1, sizeof(out));
    assert_int_equal(memshim_defrag_should_move(ptrs, m, out), 0);
    for (size_t k = 0; k < m; k++)
        assert_false(out[k]);
    assert_null(memshim_defrag_move(ptrs[0]));
    assert_null(memshim_defrag_alloc_copy(ptrs[0]));
    void *before = ptrs[0];
    assert_int_equal(memshim_defrag_move_batch(ptrs, m, true), 0);
    assert_int_equal(memshim_defrag_move_batch(ptrs, m, false), 0);
    assert_ptr_equal(ptrs[0], before);
    free_all(blocks);
}

static void test_hint_bin_table_arithmetic(void **state) {
    (void)state;
    unsigned nbins = memshim_defrag_nbins();
    assert_true(nbins > 0);
    memshim_bin_info_t bins[128];
    size_t count = 0;
    assert_int_equal(memshim_defrag_bins_get(bins, 128, &count), 0);
    assert_int_equal(count, nbins);

    /* The table comes from jemalloc, never from a hard-coded quantum. */
    size_t quantum = 0, len = sizeof(quantum);
    assert_int_equal(mallctl("arenas.quantum", &quantum, &len, NULL, 0), 0);
    for (unsigned j = 0; j < nbins; j++) {
        size_t size = 0;
        char name[64];
        snprintf(name, sizeof(name), "arenas.bin.%u.size", j);
        len = sizeof(size);
        assert_int_equal(mallctl(name, &size, &len, NULL, 0), 0);
        assert_int_equal(bins[j].size, size);
        assert_true(bins[j].nregs * bins[j].size <= bins[j].slab_size);
        if (j > 0) assert_true(bins[j].size > bins[j - 1].size);
        size_t regs = bins[j].curslabs * bins[j].nregs;
        assert_true(bins[j].curregs <= regs);
        assert_int_equal(bins[j].wasted_bytes, (regs - bins[j].curregs) * bins[j].size);
        assert_true(bins[j].nonfull_slabs <= bins[j].curslabs);
        if (regs == 0)
            assert_true(bins[j].util == 0.0);
        else
            assert_true(bins[j].util * (double)regs > (double)bins[j].curregs - 0.5 &&
                        bins[j].util * (double)regs < (double)bins[j].curregs + 0.5);
    }
    /* The classes step by the quantum at the bottom (8 is the one class below it). */
    int j16 = memshim_defrag_bin_index(quantum);
    assert_true(j16 >= 0);
    assert_int_equal(bins[j16].size, quantum);
    assert_int_equal(bins[j16 + 1].size, 2 * quantum);

    /* Size lookup: exact classes map to themselves, one byte more to the next class. */
    for (unsigned j = 0; j < nbins; j++) {
        assert_int_equal(memshim_defrag_bin_index(bins[j].size), (int)j);
        if (j + 1 < nbins) assert_int_equal(memshim_defrag_bin_index(bins[j].size + 1), (int)j + 1);
        assert_int_equal(nallocx(bins[j].size, 0), bins[j].size);
    }
    assert_int_equal(memshim_defrag_bin_index(0), 0);
    assert_int_equal(memshim_defrag_bin_index(bins[nbins - 1].size + 1), -ENOENT);
    assert_int_equal(memshim_defrag_bin_index(1u << 20), -ENOENT);
}

static void test_hint_frag_sum_matches_bin_table(void **state) {
    (void)state;
    void **blocks = make_fragmented();
    memshim_bin_info_t bins[128];
    size_t count = 0;
    assert_int_equal(memshim_defrag_bins_get(bins, 128, &count), 0);
    memshim_frag_t f;
    /* The cached figure comes from the snapshot bins_get just took. */
    assert_int_equal(memshim_defrag_frag_get_cached(&f, 60u * 1000000u), 0);
    size_t sum = 0;
    for (size_t j = 0; j < count; j++)
        sum += bins[j].wasted_bytes;
    assert_int_equal(f.frag_bytes, sum);
    assert_true(f.allocated > 0);
    double pct = (double)sum * 100.0 / (double)f.allocated;
    assert_true(f.frag_pct > pct - 1e-9 && f.frag_pct < pct + 1e-9);
    free_all(blocks);
}

static void test_hint_cached_figure_is_reused_until_too_old(void **state) {
    (void)state;
    memshim_frag_t a, b, c;
    assert_int_equal(memshim_defrag_frag_get(&a), 0);
    assert_int_equal(a.age_us, 0);
    void *p = mallocx(BLOCK_SIZE, 0);
    assert_non_null(p);
    /* A cached read within a minute does not refresh: same numbers, a non-zero age. */
    struct timespec ts = {0, 2 * 1000 * 1000};
    nanosleep(&ts, NULL);
    assert_int_equal(memshim_defrag_frag_get_cached(&b, 60u * 1000000u), 0);
    assert_int_equal(b.allocated, a.allocated);
    assert_true(b.age_us >= 1000);
    /* With a zero age limit it refreshes. */
    assert_int_equal(memshim_defrag_frag_get_cached(&c, 0), 0);
    assert_int_equal(c.age_us, 0);
    dallocx(p, 0);
}

static void test_hint_rejects_null_arrays(void **state) {
    (void)state;
    bool out[1];
    void *p[1] = {NULL};
    assert_int_equal(memshim_defrag_should_move(NULL, 1, out), -EINVAL);
    assert_int_equal(memshim_defrag_should_move(p, 1, NULL), -EINVAL);
    assert_int_equal(memshim_defrag_should_move(NULL, 0, NULL), 0);
    out[0] = true;
    assert_int_equal(memshim_defrag_should_move(p, 1, out), 0);
    assert_false(out[0]);
    assert_int_equal(memshim_defrag_frag_get(NULL), -EINVAL);
    assert_null(memshim_defrag_move(NULL));
    memshim_defrag_free(NULL);
    assert_int_equal(memshim_defrag_move_batch(NULL, 1, true), -EINVAL);
    assert_int_equal(memshim_defrag_move_batch(NULL, 0, true), 0);
    assert_int_equal(memshim_defrag_move_batch(p, 1, false), 0);
    assert_null(p[0]);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hint_moves_cut_active_bytes_and_keep_contents),
        cmocka_unit_test(test_hint_frag_figure_drops_after_moves),
        cmocka_unit_test(test_hint_pack_leaves_less_waste_in_one_pass),
        cmocka_unit_test(test_hint_never_moves_large_allocations),
        cmocka_unit_test(test_hint_move_batch_moves_what_the_hint_says),
        cmocka_unit_test(test_hint_move_batch_knows_every_class),
        cmocka_unit_test(test_hint_unsupported_process_moves_nothing),
        cmocka_unit_test(test_hint_bin_table_arithmetic),
        cmocka_unit_test(test_hint_frag_sum_matches_bin_table),
        cmocka_unit_test(test_hint_cached_figure_is_reused_until_too_old),
        cmocka_unit_test(test_hint_rejects_null_arrays),
    };
    return cmocka_run_group_tests_name("shim_hint", tests, NULL, NULL);
}
