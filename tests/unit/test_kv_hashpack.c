/* SPDX-License-Identifier: MIT */
/*
 * test_kv_hashpack.c - the compact form of small hashes (kvcore/hashpack.c): integers at
 * every width boundary and their decimal text back, strings that look like integers but
 * are not canonical, string headers at the 191/192 and 65535/65536 lengths, the pair
 * count's varint, validation of canonical form and bounds, and the listpack built from a
 * pack being byte for byte the one kv_lp_append builds from the same strings.
 */
#include "test_common.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hashpack.h"
#include "listpack.h"

/* Encodes s, checks the header size, writes it, reads it back (as text) and validates a
 * one-pair pack made of it as field and value. */
static void round_trip(const char *s, size_t len, size_t want_hdr, bool want_int) {
    kv_hpk_enc_t e;
    assert_int_equal(kv_hpk_encode(&e, s, len), 0);
    assert_int_equal(e.hdrlen, want_hdr);
    assert_int_equal(e.data == NULL, want_int);
    size_t bytes = kv_hpk_enc_bytes(&e);
    uint8_t *pack = malloc(1 + 2 * bytes);
    assert_non_null(pack);
    uint8_t *p = kv_hpk_put_count(pack, 1);
    p = kv_hpk_write(kv_hpk_write(p, &e), &e);
    assert_int_equal((size_t)(p - pack), 1 + 2 * bytes);
    assert_int_equal(kv_hpk_entry_bytes(pack + 1), bytes);
    char ibuf[KV_LP_INTBUF];
    const char *out;
    size_t olen;
    const uint8_t *next = kv_hpk_get_bytes(pack + 1, ibuf, &out, &olen);
    assert_ptr_equal(next, pack + 1 + bytes);
    assert_int_equal(olen, len);
    assert_memory_equal(out, s, len);
    size_t used;
    assert_int_equal(kv_hpk_validate(pack, 1 + 2 * bytes, &used), 0);
    assert_int_equal(used, 1 + 2 * bytes);
    assert_int_equal(kv_hpk_bytes(pack), used);
    /* One byte short anywhere fails, never reading past the end. */
    assert_int_equal(kv_hpk_validate(pack, used - 1, &used), -EPROTO);
    size_t idx;
    assert_ptr_equal(kv_hpk_find(pack + 1, 1, s, len, &idx), pack + 1);
    assert_int_equal(idx, 0);
    free(pack);
}

static void int_round_trip(long long v, size_t want_hdr) {
    char buf[32];
    int n = snprintf(buf, sizeof(buf), "%lld", v);
    round_trip(buf, (size_t)n, want_hdr, true);
}

static void test_hashpack_integers_take_their_shortest_width(void **state) {
    (void)state;
    int_round_trip(0, 1); /* immediates 0..47 */
    int_round_trip(47, 1);
    int_round_trip(48, 2);
    int_round_trip(-1, 2);
    int_round_trip(127, 2);
    int_round_trip(-128, 2);
    int_round_trip(128, 3);
    int_round_trip(-129, 3);
    int_round_trip(32767, 3);
    int_round_trip(-32768, 3);
    int_round_trip(32768, 4);
    int_round_trip(8388607, 4);
    int_round_trip(-8388608, 4);
    int_round_trip(8388608, 5);
    int_round_trip(2147483647LL, 5);
    int_round_trip(-2147483648LL, 5);
    int_round_trip(2147483648LL, 6);
    int_round_trip(549755813887LL, 6); /* 2^39 - 1 */
    int_round_trip(549755813888LL, 7);
    int_round_trip(140737488355327LL, 7); /* 2^47 - 1 */
    int_round_trip(140737488355328LL, 8);
    int_round_trip(-140737488355329LL, 8);
    int_round_trip(36028797018963967LL, 8); /* 2^55 - 1 */
    int_round_trip(36028797018963968LL, 9);
    int_round_trip(LLONG_MAX, 9);
    int_round_trip(LLONG_MIN, 9);
    int_round_trip(LLONG_MIN + 1, 9);
}

static void test_hashpack_non_canonical_integers_stay_strings(void **state) {
    (void)state;
    const char *strs[] = {
        "042", "-0",   "+1", "1 ", " 1", "", "-", "9223372036854775808", "-9223372036854775809",
        "1e3", "0x10", "00"};
    for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++)
        round_trip(strs[i], strlen(strs[i]), 1, false);
}

static void test_hashpack_string_headers_at_length_boundaries(void **state) {
    (void)state;
    static const struct {
        size_t len, hdr;
    } cases[] = {{1, 1}, {191, 1}, {192, 3}, {255, 3}, {256, 3}, {65535, 3}, {65536, 5}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *s = malloc(cases[i].len);
        assert_non_null(s);
        memset(s, 'a' + (int)i, cases[i].len);
        round_trip(s, cases[i].len, cases[i].hdr, false);
        free(s);
    }
}

static void test_hashpack_count_is_a_shortest_varint(void **state) {
    (void)state;
    size_t counts[] = {0, 1, 127, 128, 16383, 16384, 2097152};
    for (size_t i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
        uint8_t b[16];
        uint8_t *end = kv_hpk_put_count(b, counts[i]);
        assert_int_equal((size_t)(end - b), kv_hpk_count_bytes(counts[i]));
        size_t n;
        assert_ptr_equal(kv_hpk_count(b, &n), end);
        assert_int_equal(n, counts[i]);
    }
    assert_int_equal(kv_hpk_count_bytes(127), 1);
    assert_int_equal(kv_hpk_count_bytes(128), 2);
    /* 0x80 0x00 spells 0 in two bytes: not the shortest form. */
    uint8_t longer[] = {0x80, 0x00};
    size_t used;
    assert_int_equal(kv_hpk_validate(longer, sizeof(longer), &used), -EPROTO);
    uint8_t empty[] = {0x00};
    assert_int_equal(kv_hpk_validate(empty, 1, &used), 0);
    assert_int_equal(used, 1);
}

static void test_hashpack_validate_rejects_non_canonical_and_truncated(void **state) {
    (void)state;
    size_t used;
    /* Each is a one-pair pack whose field is bad; the value "v" is fine. */
    static const struct {
        uint8_t b[8];
        size_t len;
    } bad[] = {
        {{1, 0xF0, 0x05, 1, 'v'}, 5},        /* 5 in a 1-byte integer: is an immediate */
        {{1, 0xF1, 0x7F, 0x00, 1, 'v'}, 6},  /* 127 in 2 bytes */
        {{1, 0xF0, 0x2A, 1, 'v'}, 5},        /* 42 in a 1-byte integer */
        {{1, 2, '1', '2', 1, 'v'}, 6},       /* "12" as a string */
        {{1, 0xF8, 3, 0, 'a', 'b', 'c'}, 7}, /* a short string with a 2-byte length */
        {{1, 0xFA, 1, 'v'}, 4},              /* an unused tag */
        {{1, 5, 'a', 'b', 1, 'v'}, 6},       /* the string runs past the end */
        {{1, 0xF3, 0, 0}, 4},                /* the integer runs past the end */
        {{2, 1, 'a', 1, 'v'}, 5},            /* two pairs announced, one there */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(kv_hpk_validate(bad[i].b, bad[i].len, &used), -EPROTO);
    uint8_t good[] = {1, 0xF0, 0x30, 1, 'v'}; /* 48: the first integer past the immediates */
    assert_int_equal(kv_hpk_validate(good, sizeof(good), &used), 0);
    assert_int_equal(used, sizeof(good));
}

static void test_hashpack_listpack_matches_kv_lp_append(void **state) {
    (void)state;
    char big[300];
    memset(big, 'x', sizeof(big));
    const struct {
        const char *s;
        size_t len;
    } strs[] = {{"field", 5}, {"42", 2},      {"-1", 2},   {"042", 3},
                {big, 63},    {big, 64},      {"4095", 4}, {"4096", 4},
                {"", 0},      {"-4096", 5},   {big, 300},  {"9223372036854775807", 19},
                {"-0", 2},    {"8388608", 7}, {"47", 2},   {"48", 2}};
    size_t n = sizeof(strs) / sizeof(strs[0]);
    uint8_t pack[1024];
    uint8_t *p = kv_hpk_put_count(pack, n / 2);
    uint8_t *lp = kv_lp_new();
    assert_non_null(lp);
    for (size_t i = 0; i < n; i++) {
        kv_hpk_enc_t e;
        assert_int_equal(kv_hpk_encode(&e, strs[i].s, strs[i].len), 0);
        p = kv_hpk_write(p, &e);
        assert_int_equal(kv_lp_append(&lp, strs[i].s, strs[i].len), 0);
    }
    size_t used;
    assert_int_equal(kv_hpk_validate(pack, (size_t)(p - pack), &used), 0);
    size_t bytes = kv_hpk_lp_bytes(pack);
    assert_int_equal(bytes, kv_lp_bytes(lp));
    uint8_t *built = malloc(bytes);
    assert_non_null(built);
    kv_hpk_to_lp(pack, built, bytes);
    assert_memory_equal(built, lp, bytes);
    assert_int_equal(kv_lp_check(built), 0);
    /* And back: every listpack entry finds its pair in the pack, in order. */
    const uint8_t *q = kv_hpk_count(pack, &used);
    for (uint8_t *e = kv_lp_first(built); e != NULL; e = kv_lp_next(built, e)) {
        char a[KV_LP_INTBUF], b[KV_LP_INTBUF];
        size_t la, lb;
        const uint8_t *sa = kv_lp_get_bytes(e, a, &la);
        const char *sb;
        q = kv_hpk_get_bytes(q, b, &sb, &lb);
        assert_int_equal(la, lb);
        assert_memory_equal(sa, sb, la);
    }
    free(built);
    kv_lp_free(lp);
}

static void test_hashpack_find_compares_integers_by_value(void **state) {
    (void)state;
    uint8_t pack[64];
    uint8_t *p = kv_hpk_put_count(pack, 3);
    const char *f[] = {"100", "abc", "-7"};
    for (int i = 0; i < 3; i++) {
        kv_hpk_enc_t e;
        assert_int_equal(kv_hpk_encode(&e, f[i], strlen(f[i])), 0);
        p = kv_hpk_write(p, &e);
        assert_int_equal(kv_hpk_encode(&e, "v", 1), 0);
        p = kv_hpk_write(p, &e);
    }
    size_t n, idx;
    const uint8_t *first = kv_hpk_count(pack, &n);
    kv_hpk_find(first, n, "-7", 2, &idx);
    assert_int_equal(idx, 2);
    kv_hpk_find(first, n, "100", 3, &idx);
    assert_int_equal(idx, 0);
    assert_ptr_equal(kv_hpk_find(first, n, "0100", 4, &idx), p); /* absent: the end */
    assert_int_equal(idx, 3);
    kv_hpk_find(first, n, "abc", 3, &idx);
    assert_int_equal(idx, 1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hashpack_integers_take_their_shortest_width),
        cmocka_unit_test(test_hashpack_non_canonical_integers_stay_strings),
        cmocka_unit_test(test_hashpack_string_headers_at_length_boundaries),
        cmocka_unit_test(test_hashpack_count_is_a_shortest_varint),
        cmocka_unit_test(test_hashpack_validate_rejects_non_canonical_and_truncated),
        cmocka_unit_test(test_hashpack_listpack_matches_kv_lp_append),
        cmocka_unit_test(test_hashpack_find_compares_integers_by_value),
    };
    return cmocka_run_group_tests_name("kv_hashpack", tests, NULL, NULL);
}
