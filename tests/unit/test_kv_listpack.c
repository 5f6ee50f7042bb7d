/* SPDX-License-Identifier: MIT */
/*
 * test_kv_listpack.c - kvcore's listpack (kvcore/listpack.h): encodings and their sizes,
 * walking both ways, every kind of change against a model list with kv_lp_check after
 * each one, and validation of corrupt blobs (which must be rejected without reading
 * outside them; run under ASan to catch that).
 */
#include "test_common.h"

#include <limits.h>

#include "listpack.h"
#include "kv_list_model_test.h"

/* Asserts the listpack holds exactly the model's elements, walking both ways. */
static void assert_matches(uint8_t *lp, const model_t *m) {
    assert_int_equal(kv_lp_check(lp), 0);
    assert_int_equal(kv_lp_len(lp), m->n);
    char buf[KV_LP_INTBUF];
    size_t i = 0, len;
    for (uint8_t *p = kv_lp_first(lp); p != NULL; p = kv_lp_next(lp, p), i++) {
        const uint8_t *b = kv_lp_get_bytes(p, buf, &len);
        assert_int_equal(len, m->lens[i]);
        assert_memory_equal(b, m->items[i], len);
    }
    assert_int_equal(i, m->n);
    for (uint8_t *p = kv_lp_last(lp); p != NULL; p = kv_lp_prev(lp, p)) {
        i--;
        const uint8_t *b = kv_lp_get_bytes(p, buf, &len);
        assert_int_equal(len, m->lens[i]);
        assert_memory_equal(b, m->items[i], len);
    }
    assert_int_equal(i, 0);
}

static unsigned rng = 1;

static unsigned next_rand(void) {
    rng = rng * 1103515245u + 12345u;
    return rng >> 8;
}

/* A random value: small and large integers, and strings of every header size. */
static size_t random_value(char *buf, size_t cap) {
    unsigned kind = next_rand() % 10;
    if (kind < 4) {
        static const int64_t bases[] = {0, 100, -4000, 30000, -8000000, 2000000000, INT64_MIN};
        int64_t v = bases[next_rand() % 7] + (int64_t)(next_rand() % 64);
        return kv_lp_int_to_str(v, buf);
    }
    size_t len = kind < 8   ? next_rand() % 70
                 : kind < 9 ? next_rand() % 5000
                            : 4096 + next_rand() % 300;
    if (len > cap) len = cap;
    for (size_t i = 0; i < len; i++)
        buf[i] = (char)('a' + next_rand() % 26);
    if (len > 0 && next_rand() % 5 == 0) buf[0] = '0'; /* looks numeric, is a string */
    return len;
}

/* --- Basics and encodings --- */

static void test_lp_new_is_empty_and_valid(void **state) {
    (void)state;
    uint8_t *lp = kv_lp_new();
    assert_non_null(lp);
    assert_int_equal(kv_lp_bytes(lp), 7);
    assert_int_equal(kv_lp_len(lp), 0);
    assert_null(kv_lp_first(lp));
    assert_null(kv_lp_last(lp));
    assert_null(kv_lp_seek(lp, 0));
    assert_null(kv_lp_seek(lp, -1));
    assert_int_equal(kv_lp_check(lp), 0);
    kv_lp_free(lp);
    kv_lp_free(NULL);
}

static void test_lp_stores_canonical_integer_strings_as_integers(void **state) {
    (void)state;
    static const struct {
        const char *s;
        bool is_int;
        int64_t v;
    } cases[] = {
        {"0", true, 0},
        {"123", true, 123},
        {"-1", true, -1},
        {"9223372036854775807", true, INT64_MAX},
        {"-9223372036854775808", true, INT64_MIN},
        {"9223372036854775808", false, 0},
        {"0123", false, 0},
        {"-0", false, 0},
        {"+5", false, 0},
        {" 5", false, 0},
        {"5 ", false, 0},
        {"-", false, 0},
        {"", false, 0},
        {"12a", false, 0},
    };
    uint8_t *lp = kv_lp_new();
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        assert_int_equal(kv_lp_append(&lp, cases[i].s, strlen(cases[i].s)), 0);
    assert_int_equal(kv_lp_check(lp), 0);
    size_t i = 0;
    for (uint8_t *p = kv_lp_first(lp); p != NULL; p = kv_lp_next(lp, p), i++) {
        kv_lp_val_t v;
        kv_lp_get(p, &v);
        if (cases[i].is_int) {
            assert_null(v.str);
            assert_true(v.ival == cases[i].v);
        } else {
            assert_non_null(v.str);
            assert_int_equal(v.len, strlen(cases[i].s));
            if (v.len > 0) assert_memory_equal(v.str, cases[i].s, v.len);
        }
        assert_true(kv_lp_equals(p, cases[i].s, strlen(cases[i].s)));
    }
    assert_int_equal(i, sizeof(cases) / sizeof(cases[0]));
    kv_lp_free(lp);
}

static void test_lp_integers_take_the_smallest_encoding(void **state) {
    (void)state;
    static const struct {
        int64_t v;
        size_t bytes; /* encoding + data + backlen */
    } cases[] = {
        {0, 2},
        {127, 2},
        {128, 3},
        {-1, 3},
        {4095, 3},
        {-4096, 3},
        {4096, 4},
        {-4097, 4},
        {32767, 4},
        {-32768, 4},
        {32768, 5},
        {8388607, 5},
        {-8388608, 5},
        {8388608, 6},
        {INT32_MAX, 6},
        {INT32_MIN, 6},
        {(int64_t)INT32_MAX + 1, 10},
        {INT64_MAX, 10},
        {INT64_MIN, 10},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint8_t *lp = kv_lp_new();
        assert_int_equal(kv_lp_append_int(&lp, cases[i].v), 0);
        assert_int_equal(kv_lp_bytes(lp), 7 + cases[i].bytes);
        kv_lp_val_t v;
        kv_lp_get(kv_lp_first(lp), &v);
        assert_null(v.str);
        assert_true(v.ival == cases[i].v);
        assert_int_equal(kv_lp_check(lp), 0);
        kv_lp_free(lp);
    }
}

static void test_lp_strings_use_1_2_or_5_byte_headers(void **state) {
    (void)state;
    static const struct {
        size_t len;
        size_t overhead; /* header + backlen */
    } cases[] = {
        {0, 2}, {1, 2}, {63, 2}, {64, 3}, {125, 3}, {126, 4}, {4095, 4}, {4096, 7}, {100000, 8},
    };
    char *buf = malloc(100000);
    memset(buf, 'x', 100000);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint8_t *lp = kv_lp_new();
        assert_int_equal(kv_lp_append(&lp, buf, cases[i].len), 0);
        assert_int_equal(kv_lp_bytes(lp), 7 + cases[i].len + cases[i].overhead);
        kv_lp_val_t v;
        kv_lp_get(kv_lp_first(lp), &v);
        assert_non_null(v.str);
        assert_int_equal(v.len, cases[i].len);
        assert_int_equal(kv_lp_check(lp), 0);
        /* The backlen lets the walk come back from the end. */
        assert_ptr_equal(kv_lp_last(lp), kv_lp_first(lp));
        kv_lp_free(lp);
    }
    free(buf);
}

static void test_lp_int_to_str_round_trips(void **state) {
    (void)state;
    static const int64_t values[] = {0, 1, -1, 10, -10, 99999, INT64_MAX, INT64_MIN};
    char buf[KV_LP_INTBUF];
    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        size_t n = kv_lp_int_to_str(values[i], buf);
        assert_int_equal(n, strlen(buf));
        int64_t back;
        assert_true(kv_lp_str_to_int(buf, n, &back));
        assert_true(back == values[i]);
    }
    assert_string_equal((kv_lp_int_to_str(INT64_MIN, buf), buf), "-9223372036854775808");
}

/* --- Walking and lookup --- */

static void test_lp_seek_counts_from_both_ends(void **state) {
    (void)state;
    uint8_t *lp = kv_lp_new();
    for (int64_t i = 0; i < 100; i++)
        assert_int_equal(kv_lp_append_int(&lp, i * 1000), 0);
    for (long i = 0; i < 100; i++) {
        kv_lp_val_t v;
        kv_lp_get(kv_lp_seek(lp, i), &v);
        assert_true(v.ival == i * 1000);
        kv_lp_get(kv_lp_seek(lp, -1 - i), &v);
        assert_true(v.ival == (99 - i) * 1000);
    }
    assert_null(kv_lp_seek(lp, 100));
    assert_null(kv_lp_seek(lp, -101));
    assert_null(kv_lp_seek(lp, LONG_MIN));
    kv_lp_free(lp);
}

static void test_lp_find_compares_strings_and_integers_with_skip(void **state) {
    (void)state;
    /* A field/value listpack: values equal to fields must not match with skip=1. */
    static const char *fv[] = {"name", "bob", "age", "42", "bob", "name", "17", "x"};
    uint8_t *lp = kv_lp_new();
    for (size_t i = 0; i < 8; i++)
        assert_int_equal(kv_lp_append(&lp, fv[i], strlen(fv[i])), 0);
    uint8_t *first = kv_lp_first(lp);
    assert_ptr_equal(kv_lp_find(lp, first, "name", 4, 1), kv_lp_seek(lp, 0));
    assert_ptr_equal(kv_lp_find(lp, first, "bob", 3, 1), kv_lp_seek(lp, 4));
    assert_ptr_equal(kv_lp_find(lp, first, "bob", 3, 0), kv_lp_seek(lp, 1));
    assert_ptr_equal(kv_lp_find(lp, first, "17", 2, 1), kv_lp_seek(lp, 6));
    assert_null(kv_lp_find(lp, first, "42", 2, 1));
    assert_ptr_equal(kv_lp_find(lp, first, "42", 2, 0), kv_lp_seek(lp, 3));
    assert_null(kv_lp_find(lp, first, "042", 3, 0));
    assert_null(kv_lp_find(lp, first, "nobody", 6, 0));
    kv_lp_free(lp);
}

/* --- Changes --- */

static void test_lp_insert_replace_and_delete_keep_it_valid(void **state) {
    (void)state;
    uint8_t *lp = kv_lp_new();
    model_t m = {0};
    assert_int_equal(kv_lp_append(&lp, "b", 1), 0);
    model_insert(&m, 0, "b", 1);
    assert_int_equal(kv_lp_prepend(&lp, "a", 1), 0);
    model_insert(&m, 0, "a", 1);
    assert_int_equal(kv_lp_append_int(&lp, 7), 0);
    model_insert(&m, 2, "7", 1);
    assert_int_equal(kv_lp_prepend_int(&lp, -300), 0);
    model_insert(&m, 0, "-300", 4);
    assert_matches(lp, &m);

    uint8_t *newp;
    assert_int_equal(kv_lp_insert(&lp, kv_lp_seek(lp, 1), KV_LP_AFTER, "mid", 3, &newp), 0);
    model_insert(&m, 2, "mid", 3);
    assert_ptr_equal(newp, kv_lp_seek(lp, 2));
    assert_int_equal(kv_lp_insert_int(&lp, kv_lp_seek(lp, 0), KV_LP_BEFORE, 99, &newp), 0);
    model_insert(&m, 0, "99", 2);
    assert_ptr_equal(newp, kv_lp_first(lp));
    assert_int_equal(kv_lp_insert_at(&lp, 6, "end", 3), 0);
    model_insert(&m, 6, "end", 3);
    assert_int_equal(kv_lp_insert_at(&lp, 8, "x", 1), -ERANGE);
    assert_matches(lp, &m);

    /* Replace with a longer and then a shorter value. */
    char big[300];
    memset(big, 'q', sizeof(big));
    uint8_t *p = kv_lp_seek(lp, 3);
    assert_int_equal(kv_lp_replace(&lp, &p, big, sizeof(big)), 0);
    model_delete(&m, 3, 1);
    model_insert(&m, 3, big, sizeof(big));
    assert_ptr_equal(p, kv_lp_seek(lp, 3));
    assert_matches(lp, &m);
    assert_int_equal(kv_lp_replace_int(&lp, &p, 5), 0);
    model_delete(&m, 3, 1);
    model_insert(&m, 3, "5", 1);
    assert_matches(lp, &m);

    /* Delete at a position hands back the next one, then NULL at the end. */
    p = kv_lp_seek(lp, -2);
    assert_int_equal(kv_lp_delete(&lp, &p), 0);
    model_delete(&m, m.n - 2, 1);
    assert_ptr_equal(p, kv_lp_last(lp));
    assert_int_equal(kv_lp_delete(&lp, &p), 0);
    model_delete(&m, m.n - 1, 1);
    assert_null(p);
    assert_matches(lp, &m);

    assert_int_equal(kv_lp_delete_range(&lp, 1, 2), 0);
    model_delete(&m, 1, 2);
    assert_matches(lp, &m);
    assert_int_equal(kv_lp_delete_range(&lp, -1, 10), 0);
    model_delete(&m, m.n - 1, 1);
    assert_matches(lp, &m);
    assert_int_equal(kv_lp_delete_range(&lp, 50, 1), 0);
    assert_matches(lp, &m);
    assert_int_equal(kv_lp_delete_range(&lp, 0, 1000), 0);
    model_delete(&m, 0, m.n);
    assert_matches(lp, &m);
    assert_int_equal(kv_lp_bytes(lp), 7);
    model_free(&m);
    kv_lp_free(lp);
}

static void test_lp_merge_appends_all_entries(void **state) {
    (void)state;
    uint8_t *a = kv_lp_new(), *b = kv_lp_new();
    model_t m = {0};
    char buf[5000];
    for (int i = 0; i < 50; i++) {
        size_t len = random_value(buf, sizeof(buf));
        assert_int_equal(kv_lp_append(i < 20 ? &a : &b, buf, len), 0);
        model_insert(&m, m.n, buf, len);
    }
    assert_int_equal(kv_lp_merge(&a, b), 0);
    assert_matches(a, &m);
    uint8_t *empty = kv_lp_new();
    assert_int_equal(kv_lp_merge(&a, empty), 0);
    assert_matches(a, &m);
    uint8_t *copy = kv_lp_dup(a);
    assert_int_equal(kv_lp_bytes(copy), kv_lp_bytes(a));
    assert_memory_equal(copy, a, kv_lp_bytes(a));
    kv_lp_free(copy);
    kv_lp_free(empty);
    kv_lp_free(a);
    kv_lp_free(b);
    model_free(&m);
}

static void test_lp_random_changes_match_a_model(void **state) {
    (void)state;
    uint8_t *lp = kv_lp_new();
    model_t m = {0};
    static char buf[6000];
    rng = 7;
    for (int op = 0; op < 4000; op++) {
        unsigned what = next_rand() % 8;
        size_t len = random_value(buf, sizeof(buf));
        if (what < 3 || m.n == 0) {
            size_t at = m.n == 0 ? 0 : next_rand() % (m.n + 1);
            assert_int_equal(kv_lp_insert_at(&lp, at, buf, len), 0);
            model_insert(&m, at, buf, len);
        } else if (what < 5) {
            size_t at = next_rand() % m.n;
            uint8_t *p = kv_lp_seek(lp, (long)at);
            assert_int_equal(kv_lp_replace(&lp, &p, buf, len), 0);
            model_delete(&m, at, 1);
            model_insert(&m, at, buf, len);
        } else if (what < 6) {
            size_t at = next_rand() % m.n;
            size_t count = 1 + next_rand() % 3;
            if (count > m.n - at) count = m.n - at;
            assert_int_equal(kv_lp_delete_range(&lp, (long)at - (long)m.n, count), 0);
            model_delete(&m, at, count);
        } else {
            size_t at = next_rand() % m.n;
            uint8_t *found = kv_lp_find(lp, kv_lp_first(lp), m.items[at], m.lens[at], 0);
            assert_non_null(found);
            assert_true(kv_lp_equals(found, m.items[at], m.lens[at]));
        }
        assert_int_equal(kv_lp_check(lp), 0);
        if (op % 50 == 0) assert_matches(lp, &m);
    }
    assert_matches(lp, &m);
    model_free(&m);
    kv_lp_free(lp);
}

static void test_lp_count_past_65535_is_kept_by_walking(void **state) {
    (void)state;
    uint8_t *lp = kv_lp_new();
    for (int64_t i = 0; i < 70000; i++)
        assert_int_equal(kv_lp_append_int(&lp, i % 100), 0);
    assert_int_equal(lp[4] | lp[5] << 8, 65535);
    assert_int_equal(kv_lp_len(lp), 70000);
    assert_int_equal(kv_lp_check(lp), 0);
    kv_lp_val_t v;
    kv_lp_get(kv_lp_seek(lp, -1), &v);
    assert_true(v.ival == 69999 % 100);
    /* Falling back under the limit writes the exact count again. */
    assert_int_equal(kv_lp_delete_range(&lp, 0, 10000), 0);
    assert_int_equal(lp[4] | lp[5] << 8, 60000);
    assert_int_equal(kv_lp_len(lp), 60000);
    assert_int_equal(kv_lp_check(lp), 0);
    kv_lp_free(lp);
}

/* --- Validation of untrusted blobs --- */

/* The blob in an exact-size allocation, so ASan sees any read past its end. */
static uint8_t *exact_copy(const uint8_t *src, size_t len) {
    uint8_t *c = malloc(len ? len : 1);
    memcpy(c, src, len);
    return c;
}

static int validate_copy(const uint8_t *blob, size_t len) {
    uint8_t *c = exact_copy(blob, len);
    int rc = kv_lp_validate(c, len, true);
    free(c);
    return rc;
}

static void test_lp_validate_rejects_corrupt_blobs(void **state) {
    (void)state;
    uint8_t *lp = kv_lp_new();
    assert_int_equal(kv_lp_append(&lp, "hello", 5), 0);
    assert_int_equal(kv_lp_append_int(&lp, 1000000), 0);
    size_t n = kv_lp_bytes(lp);
    assert_int_equal(validate_copy(lp, n), 0);
    assert_int_equal(kv_lp_validate(lp, n, false), 0);
    assert_int_equal(kv_lp_validate(NULL, 7, true), -EPROTO);
    uint8_t b[64];

    /* Too short for a header and end byte. */
    assert_int_equal(validate_copy(lp, 6), -EPROTO);
    /* Header byte count disagrees with the blob's length. */
    memcpy(b, lp, n);
    b[0]++;
    assert_int_equal(validate_copy(b, n), -EPROTO);
    /* Truncated: the header still claims the full size. */
    assert_int_equal(validate_copy(lp, n - 1), -EPROTO);
    /* No end byte. */
    memcpy(b, lp, n);
    b[n - 1] = 0;
    assert_int_equal(validate_copy(b, n), -EPROTO);
    assert_int_equal(kv_lp_validate(b, n, false), -EPROTO);
    /* A string length running past the end (header and end byte intact). */
    memcpy(b, lp, n);
    b[6] = 0x80 | 60;
    assert_int_equal(validate_copy(b, n), -EPROTO);
    /* A 32-bit string length of 4 GiB. */
    memcpy(b, lp, n);
    b[6] = 0xF0;
    b[7] = b[8] = b[9] = b[10] = 0xFF;
    assert_int_equal(validate_copy(b, n), -EPROTO);
    /* An encoding byte that does not exist. */
    memcpy(b, lp, n);
    b[6] = 0xF5;
    assert_int_equal(validate_copy(b, n), -EPROTO);
    /* An end byte in the middle. */
    memcpy(b, lp, n);
    b[6] = 0xFF;
    assert_int_equal(validate_copy(b, n), -EPROTO);
    /* A backlen that does not match its entry. */
    memcpy(b, lp, n);
    b[6 + 6]++;
    assert_int_equal(validate_copy(b, n), -EPROTO);
    /* A count that does not match (65535, unknown, is accepted). */
    memcpy(b, lp, n);
    b[4] = 3;
    assert_int_equal(validate_copy(b, n), -EPROTO);
    assert_int_equal(kv_lp_validate(b, n, false), 0);
    b[4] = b[5] = 0xFF;
    assert_int_equal(validate_copy(b, n), 0);
    /* A header-only blob claiming entries. */
    uint8_t empty[7] = {7, 0, 0, 0, 1, 0, 0xFF};
    assert_int_equal(validate_copy(empty, 7), -EPROTO);
    empty[4] = 0;
    assert_int_equal(validate_copy(empty, 7), 0);
    kv_lp_free(lp);
}

static void test_lp_validate_never_reads_outside_randomly_corrupted_blobs(void **state) {
    (void)state;
    uint8_t *lp = kv_lp_new();
    char buf[300];
    rng = 99;
    for (int i = 0; i < 40; i++) {
        size_t len = random_value(buf, sizeof(buf));
        assert_int_equal(kv_lp_append(&lp, buf, len), 0);
    }
    size_t n = kv_lp_bytes(lp);
    long accepted = 0;
    for (int iter = 0; iter < 30000; iter++) {
        size_t len = n;
        uint8_t *c = exact_copy(lp, n);
        int flips = 1 + (int)(next_rand() % 4);
        for (int f = 0; f < flips; f++)
            c[next_rand() % n] = (uint8_t)next_rand();
        if (next_rand() % 4 == 0) {
            /* Truncate and make the header agree, so validation goes past the header. */
            len = 7 + next_rand() % (n - 7);
            c[0] = (uint8_t)len;
            c[1] = (uint8_t)(len >> 8);
            c[2] = c[3] = 0;
            c[len - 1] = 0xFF;
        }
        uint8_t *t = exact_copy(c, len);
        free(c);
        if (kv_lp_validate(t, len, true) == 0) {
            /* Whatever was accepted can be walked both ways and decoded. */
            accepted++;
            size_t count = 0;
            char ib[KV_LP_INTBUF];
            size_t l;
            for (uint8_t *p = kv_lp_first(t); p != NULL; p = kv_lp_next(t, p), count++)
                (void)kv_lp_get_bytes(p, ib, &l);
            assert_int_equal(count, kv_lp_len(t));
            for (uint8_t *p = kv_lp_last(t); p != NULL; p = kv_lp_prev(t, p))
                count--;
            assert_int_equal(count, 0);
        }
        free(t);
    }
    /* Some corruptions (inside string bytes) leave a valid listpack. */
    assert_true(accepted > 0);
    kv_lp_free(lp);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lp_new_is_empty_and_valid),
        cmocka_unit_test(test_lp_stores_canonical_integer_strings_as_integers),
        cmocka_unit_test(test_lp_integers_take_the_smallest_encoding),
        cmocka_unit_test(test_lp_strings_use_1_2_or_5_byte_headers),
        cmocka_unit_test(test_lp_int_to_str_round_trips),
        cmocka_unit_test(test_lp_seek_counts_from_both_ends),
        cmocka_unit_test(test_lp_find_compares_strings_and_integers_with_skip),
        cmocka_unit_test(test_lp_insert_replace_and_delete_keep_it_valid),
        cmocka_unit_test(test_lp_merge_appends_all_entries),
        cmocka_unit_test(test_lp_random_changes_match_a_model),
        cmocka_unit_test(test_lp_count_past_65535_is_kept_by_walking),
        cmocka_unit_test(test_lp_validate_rejects_corrupt_blobs),
        cmocka_unit_test(test_lp_validate_never_reads_outside_randomly_corrupted_blobs),
    };
    return cmocka_run_group_tests_name("kv_listpack", tests, NULL, NULL);
}
