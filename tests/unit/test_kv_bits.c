/* SPDX-License-Identifier: MIT */
/*
 * test_kv_bits.c - BITFIELD's integer arithmetic (cmd_bits.c) against an exact 128-bit
 * model: get/set of every width at every bit offset inside a byte (neighbouring bits
 * untouched), sign extension, and the WRAP/SAT/FAIL overflow decision for i1..i64 and
 * u1..u63 at their edges; then, through the dispatcher, that growing a string beyond
 * what the allocator can give replies OOM and leaves the key as it was, and BITCOUNT and
 * BITPOS's argument checks (Redis 7.2's: before the key, a start without an end).
 */
#include "test_common.h"

#include "kv_internal.h"
#include "kv_client_test.h"

#include <limits.h>

typedef __int128 i128;
typedef unsigned __int128 u128;

/* The 16 bytes of buf as one big-endian 128-bit number. */
static u128 be128(const unsigned char *buf) {
    u128 v = 0;
    for (int i = 0; i < 16; i++)
        v = (v << 8) | buf[i];
    return v;
}

static uint64_t pattern(int bits, int k) {
    uint64_t all = bits == 64 ? UINT64_MAX : ((uint64_t)1 << bits) - 1;
    static const uint64_t seeds[] = {
        0, 1, 0x8000000000000000ULL, UINT64_MAX, 0x0123456789abcdefULL, 0xa5a5a5a5a5a5a5a5ULL};
    uint64_t v = seeds[k];
    if (k == 2) v = (uint64_t)1 << (bits - 1);
    return v & all;
}

static void test_get_set_every_width_and_offset(void **state) {
    (void)state;
    for (int bits = 1; bits <= 64; bits++) {
        for (uint64_t off = 0; off < 16; off++) {
            for (int k = 0; k < 6; k++) {
                for (int bg = 0; bg < 2; bg++) {
                    unsigned char buf[16];
                    memset(buf, bg ? 0xff : 0x00, sizeof(buf));
                    u128 before = be128(buf);
                    uint64_t v = pattern(bits, k);
                    kv_bf_set(buf, off, bits, v);
                    int shift = 128 - (int)off - bits;
                    u128 field = (((u128)1 << bits) - 1) << shift;
                    u128 want = (before & ~field) | ((u128)v << shift);
                    assert_true(be128(buf) == want);
                    assert_int_equal(kv_bf_get_unsigned(buf, off, bits), v);
                    /* Signed: the same bits, sign-extended from bit bits-1. */
                    int64_t sv = kv_bf_get_signed(buf, off, bits);
                    i128 wants = (i128)v;
                    if (bits < 64 && (v >> (bits - 1)) & 1) wants -= (i128)1 << bits;
                    if (bits == 64) wants = (int64_t)v;
                    assert_true((i128)sv == wants);
                }
            }
        }
    }
}

static void test_sign_extension_edges(void **state) {
    (void)state;
    for (int bits = 1; bits <= 64; bits++) {
        unsigned char buf[9] = {0};
        kv_bf_set(buf, 3, bits, UINT64_MAX);
        assert_int_equal(kv_bf_get_signed(buf, 3, bits), -1);
        memset(buf, 0, sizeof(buf));
        kv_bf_set(buf, 5, bits, (uint64_t)1 << (bits - 1));
        int64_t min = bits == 64 ? INT64_MIN : -((int64_t)1 << (bits - 1));
        assert_int_equal(kv_bf_get_signed(buf, 5, bits), min);
    }
}

/* The exact answer: r = value + incr in 128 bits against the field's bounds. */
static void check_unsigned_case(int bits, uint64_t value, int64_t incr) {
    u128 max = ((u128)1 << bits) - 1;
    i128 r = (i128)value + incr;
    int want = (i128)value > (i128)max || r > (i128)max ? 1 : (r < 0 ? -1 : 0);
    assert_int_equal(kv_bf_check_unsigned(value, incr, bits, KV_BF_FAIL, NULL), want);
    uint64_t lim = 12345;
    assert_int_equal(kv_bf_check_unsigned(value, incr, bits, KV_BF_FAIL, &lim), want);
    assert_int_equal(lim, 12345); /* FAIL leaves the limit alone */
    if (want == 0) return;
    assert_int_equal(kv_bf_check_unsigned(value, incr, bits, KV_BF_SAT, &lim), want);
    assert_int_equal(lim, want > 0 ? (uint64_t)max : 0);
    /* WRAP: the result modulo 2^bits, and the return value is 1 either way. */
    assert_int_equal(kv_bf_check_unsigned(value, incr, bits, KV_BF_WRAP, &lim), 1);
    assert_int_equal(lim, (uint64_t)((u128)r & max));
}

static void check_signed_case(int bits, int64_t value, int64_t incr) {
    i128 max = ((i128)1 << (bits - 1)) - 1, min = -max - 1;
    i128 r = (i128)value + incr;
    int want = r > max ? 1 : (r < min ? -1 : 0);
    if (value > max) want = 1;
    if (value < min) want = -1;
    /* Redis 7.0 computes max - value in 64 bits: far below min it wraps negative and the
     * value reads as an overflow (OVERFLOW SAT stores max), as redis-server does. */
    i128 maxincr = max - value;
    if (bits < 64 && maxincr > INT64_MAX && (i128)incr > maxincr - ((i128)1 << 64)) want = 1;
    int64_t lim = 12345;
    assert_int_equal(kv_bf_check_signed(value, incr, bits, KV_BF_FAIL, &lim), want);
    assert_int_equal(lim, 12345);
    if (want == 0) return;
    assert_int_equal(kv_bf_check_signed(value, incr, bits, KV_BF_SAT, &lim), want);
    assert_int_equal(lim, (int64_t)(want > 0 ? max : min));
    assert_int_equal(kv_bf_check_signed(value, incr, bits, KV_BF_WRAP, &lim), 1);
    u128 m = (u128)r & ((((u128)1) << bits) - 1);
    i128 wrapped = (m >> (bits - 1)) & 1 ? (i128)m - ((i128)1 << bits) : (i128)m;
    assert_true((i128)lim == wrapped);
}

static void test_unsigned_overflow_every_width(void **state) {
    (void)state;
    for (int bits = 1; bits <= 63; bits++) {
        uint64_t max = ((uint64_t)1 << bits) - 1;
        const uint64_t values[] = {0, 1, max / 2, max - 1, max};
        const int64_t incrs[] = {
            0,
            1,
            -1,
            2,
            -2,
            (int64_t)max,
            -(int64_t)max,
            (int64_t)(max + 1), /* INT64_MIN for 63 bits, without signed overflow */
            -(int64_t)max - 1,
            INT64_MAX,
            INT64_MIN,
            INT64_MIN + 1};
        for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++)
            for (size_t j = 0; j < sizeof(incrs) / sizeof(incrs[0]); j++)
                check_unsigned_case(bits, values[i], incrs[j]);
        /* SET of a value outside the field (a negative SET value arrives as a huge one). */
        const uint64_t outside[] = {max + 1, UINT64_MAX, (uint64_t)INT64_MIN, (uint64_t)-5};
        for (size_t i = 0; i < sizeof(outside) / sizeof(outside[0]); i++)
            check_unsigned_case(bits, outside[i], 0);
    }
}

static void test_signed_overflow_every_width(void **state) {
    (void)state;
    for (int bits = 1; bits <= 64; bits++) {
        int64_t max = bits == 64 ? INT64_MAX : (int64_t)(((uint64_t)1 << (bits - 1)) - 1);
        int64_t min = -max - 1;
        const int64_t values[] = {min, min + 1, -1, 0, 1, max - 1, max};
        const int64_t incrs[] = {0,       1,       -1,        max,       min,
                                 max - 1, min + 1, INT64_MAX, INT64_MIN, INT64_MIN + 1,
                                 2,       -2,      max / 2,   min / 2};
        for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++)
            for (size_t j = 0; j < sizeof(incrs) / sizeof(incrs[0]); j++)
                check_signed_case(bits, values[i], incrs[j]);
        if (bits < 64) {
            const int64_t outside[] = {max + 1, min - 1, INT64_MAX, INT64_MIN};
            for (size_t i = 0; i < sizeof(outside) / sizeof(outside[0]); i++)
                check_signed_case(bits, outside[i], 0);
        }
    }
}

/* With proto-max-bulk-len raised past what can be allocated, growing replies OOM and the
 * key (missing, embedded or raw) is exactly as before. */
static void test_grow_beyond_memory_is_oom_and_key_unchanged(void **state) {
    (void)state;
    long long saved = kv_srv.cfg.proto_max_bulk_len;
    kv_srv.cfg.proto_max_bulk_len = LLONG_MAX;
    kv_client_t *c = kv_client_new(-1);
    assert_non_null(c);
    const char *huge = "4611686018427387904"; /* bit 2^62: 2^59 bytes */
    const char *oom = "-ERR out of memory\r\n";
    SEND(c, "BITFIELD", "bm", "SET", "u8", huge, "1");
    assert_output(c, oom);
    SEND(c, "EXISTS", "bm");
    assert_output(c, ":0\r\n");
    SEND(c, "BITFIELD", "bm", "OVERFLOW", "FAIL", "SET", "i64", "#72057594037927936", "1");
    assert_output(c, oom);
    SEND(c, "EXISTS", "bm");
    assert_output(c, ":0\r\n");
    /* SETBIT and SETRANGE on a missing key: no empty key left behind. */
    SEND(c, "SETBIT", "bm", huge, "1");
    assert_output(c, oom);
    SEND(c, "EXISTS", "bm");
    assert_output(c, ":0\r\n");
    SEND(c, "SETRANGE", "bm", "576460752303423488", "x");
    assert_output(c, oom);
    SEND(c, "EXISTS", "bm");
    assert_output(c, ":0\r\n");
    SEND(c, "SET", "bm", "small");
    assert_output(c, "+OK\r\n");
    SEND(c, "BITFIELD", "bm", "INCRBY", "u8", huge, "1");
    assert_output(c, oom);
    SEND(c, "GET", "bm");
    assert_output(c, "$5\r\nsmall\r\n");
    SEND(c, "SETRANGE", "bm", "100", "x"); /* now RAW */
    assert_output(c, ":101\r\n");
    SEND(c, "BITFIELD", "bm", "SET", "u8", huge, "1");
    assert_output(c, oom);
    SEND(c, "STRLEN", "bm");
    assert_output(c, ":101\r\n");
    /* Within reach, the same command works. */
    SEND(c, "BITFIELD", "bm", "SET", "u8", "808", "65", "GET", "u8", "808");
    assert_output(c, "*2\r\n:0\r\n:65\r\n");
    SEND(c, "DEL", "bm");
    assert_output(c, ":1\r\n");
    kv_client_free(c);
    kv_srv.cfg.proto_max_bulk_len = saved;
}

/* BITCOUNT and BITPOS as Redis 7.2: every argument is checked (start, unit, end) before
 * the key is looked up, and BITCOUNT takes a start without an end. */
static void test_bitcount_bitpos_check_arguments_first(void **state) {
    (void)state;
    kv_client_t *c = kv_client_new(-1);
    static const char *const syntax = "-ERR syntax error\r\n";
    static const char *const notint = "-ERR value is not an integer or out of range\r\n";
    feed(c, "SET s foobar\r\nRPUSH l a\r\n");
    assert_output(c, "+OK\r\n:1\r\n");
    /* A lone start counts to the end ("foobar" 26 bits, "oobar" 22, "r" 4, "ar" 7). */
    SEND(c, "BITCOUNT", "s", "0");
    assert_output(c, ":26\r\n");
    SEND(c, "BITCOUNT", "s", "1");
    assert_output(c, ":22\r\n");
    SEND(c, "BITCOUNT", "s", "-1");
    assert_output(c, ":4\r\n");
    SEND(c, "BITCOUNT", "s", "-2");
    assert_output(c, ":7\r\n");
    SEND(c, "BITCOUNT", "s", "1000");
    assert_output(c, ":0\r\n");
    SEND(c, "BITCOUNT", "s", "-1000");
    assert_output(c, ":26\r\n");
    /* The same errors for a missing key, a string and another type. */
    const char *const keys[] = {"nokey", "s", "l"};
    for (size_t i = 0; i < 3; i++) {
        const char *k = keys[i];
        SEND(c, "BITCOUNT", k, "0", "1", "hello");
        assert_output(c, syntax);
        SEND(c, "BITCOUNT", k, "0", "1", "hello", "hello2");
        assert_output(c, syntax);
        SEND(c, "BITCOUNT", k, "a", "b");
        assert_output(c, notint);
        SEND(c, "BITCOUNT", k, "a");
        assert_output(c, notint);
        SEND(c, "BITCOUNT", k, "0", "a", "hello"); /* the unit before the end */
        assert_output(c, syntax);
        SEND(c, "BITPOS", k, "0", "1", "hello", "hello2");
        assert_output(c, syntax);
        SEND(c, "BITPOS", k, "0", "0", "1", "hello");
        assert_output(c, syntax);
        SEND(c, "BITPOS", k, "0", "a", "b");
        assert_output(c, notint);
        SEND(c, "BITPOS", k, "0", "0", "a", "hello");
        assert_output(c, syntax);
        SEND(c, "BITPOS", k, "b");
        assert_output(c, notint);
    }
    /* Valid arguments: a missing key is empty, another type WRONGTYPE. */
    SEND(c, "BITCOUNT", "nokey", "-6", "-15", "bit");
    assert_output(c, ":0\r\n");
    SEND(c, "BITPOS", "nokey", "1", "0", "-1", "bit");
    assert_output(c, ":-1\r\n");
    SEND(c, "BITCOUNT", "l", "-6", "-7");
    assert_output(c, "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n");
    SEND(c, "BITPOS", "s", "1", "2");
    assert_output(c, ":17\r\n");
    SEND(c, "DEL", "s", "l");
    assert_output(c, ":2\r\n");
    kv_client_free(c);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_get_set_every_width_and_offset),
        cmocka_unit_test(test_sign_extension_edges),
        cmocka_unit_test(test_unsigned_overflow_every_width),
        cmocka_unit_test(test_signed_overflow_every_width),
        cmocka_unit_test(test_grow_beyond_memory_is_oom_and_key_unchanged),
        cmocka_unit_test(test_bitcount_bitpos_check_arguments_first),
    };
    return cmocka_run_group_tests_name("kv_bits", tests, kv_server_setup, kv_server_teardown);
}
