/* SPDX-License-Identifier: MIT */
/*
 * test_kv_hll.c - kvcore's HyperLogLog representation (kvcore/hll.h): the hash and the
 * register it picks, the bytes of sparse values, the estimate, sparse-to-dense promotion
 * (value limit and size limit), merging, and corrupt values rejected without reading
 * outside them. Expected bytes and counts are what redis-server 7.0 produces for the same
 * additions (GET / PFCOUNT).
 */
#include "test_common.h"

#include "hll.h"

#define MAX_BYTES 3000

static void add_range(kv_hll_t *h, int from, int to) {
    char buf[32];
    for (int i = from; i < to; i++) {
        int n = snprintf(buf, sizeof(buf), "m%d", i);
        assert_true(kv_hll_add(h, buf, (size_t)n, MAX_BYTES) >= 0);
    }
}

static uint64_t count_of(const kv_hll_t *h) {
    uint64_t card = 0;
    assert_int_equal(kv_hll_count(h->data, h->len, &card), 0);
    return card;
}

/* Every register of h into regs (a merge into zeros). */
static void registers_of(const kv_hll_t *h, uint8_t *regs) {
    memset(regs, 0, KV_HLL_REGISTERS);
    assert_int_equal(kv_hll_merge(regs, h->data, h->len), 0);
}

static void test_hll_pattern_picks_the_register_redis_picks(void **state) {
    (void)state;
    /* From the sparse values redis-server writes for PFADD t <element>. */
    static const struct {
        const char *ele;
        long index;
        int count;
    } want[] = {{"a", 12711, 2}, {"hello", 9216, 1}, {"", 5938, 2}, {"abcdefghi", 6903, 1}};
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        long index = -1;
        int count = kv_hll_pattern(want[i].ele, strlen(want[i].ele), &index);
        assert_int_equal(index, want[i].index);
        assert_int_equal(count, want[i].count);
    }
}

static void test_hll_sparse_bytes_equal_redis(void **state) {
    (void)state;
    static const uint8_t want[] = {'H',  'Y',  'L',  'L',  0x01, 0,    0,    0,    0,    0,
                                   0,    0,    0,    0,    0,    0x80, 0x41, 0x19, 0x90, 0x42,
                                   0xdb, 0x84, 0x43, 0x85, 0x80, 0x41, 0x59, 0x80, 0x42, 0xcf,
                                   0x80, 0x45, 0xd8, 0x88, 0x44, 0x56, 0x88, 0x46, 0x2d, 0x84,
                                   0x4f, 0x7b, 0x80, 0x4f, 0x0b, 0x80, 0x45, 0x69};
    kv_hll_t h;
    assert_int_equal(kv_hll_init_empty(&h), 0);
    assert_int_equal(h.len, KV_HLL_EMPTY_SPARSE_LEN);
    uint64_t card = 99;
    assert_true(kv_hll_cached(h.data, &card));
    assert_int_equal(card, 0);
    add_range(&h, 0, 10);
    assert_int_equal(h.len, sizeof(want));
    assert_memory_equal(h.data, want, sizeof(want));
    assert_false(kv_hll_cached(h.data, &card)); /* a change made the cache stale */
    kv_hll_set_cached(h.data, 10);
    assert_true(kv_hll_cached(h.data, &card));
    assert_int_equal(card, 10);
    assert_int_equal(count_of(&h), 10);
    kv_hll_fini(&h);
}

static void test_hll_adding_again_changes_nothing(void **state) {
    (void)state;
    kv_hll_t h;
    assert_int_equal(kv_hll_init_empty(&h), 0);
    assert_int_equal(kv_hll_add(&h, "x", 1, MAX_BYTES), 1);
    assert_int_equal(kv_hll_add(&h, "x", 1, MAX_BYTES), 0);
    kv_hll_fini(&h);
}

static void test_hll_estimates_equal_redis(void **state) {
    (void)state;
    kv_hll_t h;
    assert_int_equal(kv_hll_init_empty(&h), 0);
    add_range(&h, 0, 1000);
    assert_int_equal(h.data[4], KV_HLL_SPARSE);
    assert_int_equal(h.len, 1901);
    assert_int_equal(count_of(&h), 1002);
    add_range(&h, 1000, 3000); /* past 3000 bytes: dense */
    assert_int_equal(h.data[4], KV_HLL_DENSE);
    assert_int_equal(h.len, KV_HLL_DENSE_SIZE);
    assert_int_equal(count_of(&h), 3001);
    add_range(&h, 3000, 100000);
    assert_int_equal(count_of(&h), 98718);
    /* The merged-registers estimate agrees with the value's. */
    uint8_t *regs = malloc(KV_HLL_REGISTERS);
    assert_non_null(regs);
    registers_of(&h, regs);
    assert_int_equal(kv_hll_count_registers(regs), 98718);
    free(regs);
    kv_hll_fini(&h);
}

static void test_hll_value_above_32_promotes_to_dense(void **state) {
    (void)state;
    kv_hll_t h;
    assert_int_equal(kv_hll_init_empty(&h), 0);
    assert_int_equal(kv_hll_set(&h, 5, 32, MAX_BYTES), 1);
    assert_int_equal(h.data[4], KV_HLL_SPARSE);
    assert_int_equal(kv_hll_set(&h, 16383, 40, MAX_BYTES), 1);
    assert_int_equal(h.data[4], KV_HLL_DENSE);
    assert_int_equal(h.len, KV_HLL_DENSE_SIZE);
    assert_int_equal(kv_hll_dense_get(h.data + KV_HLL_HDR_SIZE, 5), 32);
    assert_int_equal(kv_hll_dense_get(h.data + KV_HLL_HDR_SIZE, 16383), 40);
    assert_int_equal(kv_hll_dense_get(h.data + KV_HLL_HDR_SIZE, 16382), 0);
    assert_int_equal(kv_hll_set(&h, 16383, 39, MAX_BYTES), 0);
    kv_hll_fini(&h);
}

static void test_hll_size_limit_promotes_and_keeps_registers(void **state) {
    (void)state;
    kv_hll_t h, big;
    assert_int_equal(kv_hll_init_empty(&h), 0);
    assert_int_equal(kv_hll_init_empty(&big), 0);
    char buf[16];
    for (int i = 0; i < 40; i++) {
        int n = snprintf(buf, sizeof(buf), "e%d", i);
        assert_true(kv_hll_add(&h, buf, (size_t)n, 40) >= 0);
        assert_true(kv_hll_add(&big, buf, (size_t)n, MAX_BYTES) >= 0);
    }
    assert_int_equal(h.data[4], KV_HLL_DENSE);
    assert_int_equal(big.data[4], KV_HLL_SPARSE);
    uint8_t *a = malloc(KV_HLL_REGISTERS), *b = malloc(KV_HLL_REGISTERS);
    assert_non_null(a);
    assert_non_null(b);
    registers_of(&h, a);
    registers_of(&big, b);
    assert_memory_equal(a, b, KV_HLL_REGISTERS);
    assert_int_equal(kv_hll_to_dense(&big), 0);
    assert_memory_equal(big.data + KV_HLL_HDR_SIZE, h.data + KV_HLL_HDR_SIZE,
                        KV_HLL_DENSE_SIZE - KV_HLL_HDR_SIZE);
    assert_int_equal(count_of(&h), count_of(&big));
    free(a);
    free(b);
    kv_hll_fini(&h);
    kv_hll_fini(&big);
}

static void test_hll_header_check_matches_redis(void **state) {
    (void)state;
    kv_hll_t h;
    assert_int_equal(kv_hll_init_empty(&h), 0);
    assert_true(kv_hll_header_ok(h.data, h.len));
    assert_false(kv_hll_header_ok(h.data, 15));
    h.data[3] = 'X';
    assert_false(kv_hll_header_ok(h.data, h.len));
    h.data[3] = 'L';
    h.data[4] = 2;
    assert_false(kv_hll_header_ok(h.data, h.len));
    h.data[4] = KV_HLL_DENSE; /* dense must be exactly 12304 bytes */
    assert_false(kv_hll_header_ok(h.data, h.len));
    h.data[4] = KV_HLL_SPARSE;
    assert_true(kv_hll_header_ok(h.data, KV_HLL_HDR_SIZE)); /* opcodes are checked later */
    kv_hll_fini(&h);
}

/* A private block of exactly len bytes holding hdr + ops, so ASan sees any overrun. */
static kv_hll_t corrupt_value(const uint8_t *ops, size_t n) {
    kv_hll_t h;
    assert_int_equal(kv_hll_init_empty(&h), 0);
    uint8_t *p = malloc(KV_HLL_HDR_SIZE + n);
    assert_non_null(p);
    memcpy(p, h.data, KV_HLL_HDR_SIZE);
    if (n) memcpy(p + KV_HLL_HDR_SIZE, ops, n);
    free(h.data);
    h.data = p;
    h.len = h.cap = KV_HLL_HDR_SIZE + n;
    return h;
}

static void test_hll_rejects_corrupt_sparse_opcodes(void **state) {
    (void)state;
    static const struct {
        uint8_t ops[4];
        size_t n;
    } bad[] = {
        {{0}, 0},                      /* no opcodes */
        {{0x7f, 0xfe}, 2},             /* 16383 registers */
        {{0x7f, 0xff, 0x00}, 3},       /* 16385 */
        {{0x7f, 0xfe, 0x83}, 3},       /* a VAL run past the end */
        {{0x7f}, 1},                   /* XZERO missing its second byte: 16129 */
        {{0x3f, 0x7f, 0xff, 0x80}, 4}, /* past the end before the last VAL */
    };
    uint8_t *max = calloc(1, KV_HLL_REGISTERS);
    assert_non_null(max);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        kv_hll_t h = corrupt_value(bad[i].ops, bad[i].n);
        uint64_t card;
        assert_int_equal(kv_hll_count(h.data, h.len, &card), -EPROTO);
        assert_int_equal(kv_hll_merge(max, h.data, h.len), -EPROTO);
        assert_int_equal(kv_hll_to_dense(&h), -EPROTO);
        assert_int_equal(kv_hll_set(&h, 0, 40, MAX_BYTES), -EPROTO); /* promotion refuses */
        assert_int_equal(h.data[4], KV_HLL_SPARSE);                  /* and changes nothing */
        /* An update finds its register when the opcodes reach it, as Redis's does. */
        int rc = kv_hll_set(&h, 16383, 3, MAX_BYTES);
        assert_true(rc == -EPROTO || rc == 1);
        kv_hll_fini(&h);
    }
    free(max);
}

static void test_hll_dense_registers_round_trip(void **state) {
    (void)state;
    kv_hll_t h;
    assert_int_equal(kv_hll_init_empty(&h), 0);
    assert_int_equal(kv_hll_to_dense(&h), 0);
    for (long i = 0; i < KV_HLL_REGISTERS; i++)
        assert_int_equal(kv_hll_set(&h, i, (int)(i % 51) + 1, MAX_BYTES), 1);
    for (long i = 0; i < KV_HLL_REGISTERS; i++)
        assert_int_equal(kv_hll_dense_get(h.data + KV_HLL_HDR_SIZE, i), (int)(i % 51) + 1);
    kv_hll_fini(&h);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hll_pattern_picks_the_register_redis_picks),
        cmocka_unit_test(test_hll_sparse_bytes_equal_redis),
        cmocka_unit_test(test_hll_adding_again_changes_nothing),
        cmocka_unit_test(test_hll_estimates_equal_redis),
        cmocka_unit_test(test_hll_value_above_32_promotes_to_dense),
        cmocka_unit_test(test_hll_size_limit_promotes_and_keeps_registers),
        cmocka_unit_test(test_hll_header_check_matches_redis),
        cmocka_unit_test(test_hll_rejects_corrupt_sparse_opcodes),
        cmocka_unit_test(test_hll_dense_registers_round_trip),
    };
    return cmocka_run_group_tests_name("kv_hll", tests, NULL, NULL);
}
