/* SPDX-License-Identifier: MIT */
/*
 * test_kv_intset.c - kvcore's intset (kvcore/intset.h): sorted order, width upgrades,
 * sampling, changes against a model with kv_is_check after each one, and validation of
 * corrupt blobs without reading outside them.
 */
#include "test_common.h"

#include "intset.h"

static void assert_sorted_contents(const kv_intset_t *is, const int64_t *want, size_t n) {
    assert_int_equal(kv_is_check(is), 0);
    assert_int_equal(kv_is_len(is), n);
    for (size_t i = 0; i < n; i++) {
        int64_t v;
        assert_int_equal(kv_is_get(is, i, &v), 0);
        assert_true(v == want[i]);
    }
}

static void test_is_new_is_empty_and_valid(void **state) {
    (void)state;
    kv_intset_t *is = kv_is_new();
    assert_non_null(is);
    assert_int_equal(kv_is_len(is), 0);
    assert_int_equal(kv_is_bytes(is), 8);
    assert_int_equal(kv_is_width(is), 2);
    assert_false(kv_is_find(is, 0));
    int64_t v;
    assert_int_equal(kv_is_get(is, 0, &v), -ERANGE);
    assert_int_equal(kv_is_check(is), 0);
    kv_is_free(is);
    kv_is_free(NULL);
}

static void test_is_keeps_values_sorted_and_unique(void **state) {
    (void)state;
    kv_intset_t *is = kv_is_new();
    static const int64_t in[] = {5, -3, 100, 5, 0, -3, 42};
    bool added;
    for (size_t i = 0; i < 7; i++) {
        assert_int_equal(kv_is_add(&is, in[i], &added), 0);
        assert_int_equal(added, i != 3 && i != 5);
        assert_int_equal(kv_is_check(is), 0);
    }
    static const int64_t want[] = {-3, 0, 5, 42, 100};
    assert_sorted_contents(is, want, 5);
    assert_true(kv_is_find(is, 42));
    assert_false(kv_is_find(is, 41));
    assert_false(kv_is_find(is, 1LL << 40)); /* wider than the set: cannot be there */
    assert_true(kv_is_min(is) == -3);
    assert_true(kv_is_max(is) == 100);
    assert_int_equal(kv_is_bytes(is), 8 + 5 * 2);

    bool removed;
    assert_int_equal(kv_is_remove(&is, 5, &removed), 0);
    assert_true(removed);
    assert_int_equal(kv_is_remove(&is, 5, &removed), 0);
    assert_false(removed);
    assert_int_equal(kv_is_remove(&is, 1LL << 40, &removed), 0);
    assert_false(removed);
    static const int64_t after[] = {-3, 0, 42, 100};
    assert_sorted_contents(is, after, 4);
    assert_int_equal(kv_is_bytes(is), 8 + 4 * 2);
    kv_is_free(is);
}

static void test_is_upgrades_width_and_keeps_order(void **state) {
    (void)state;
    kv_intset_t *is = kv_is_new();
    for (int64_t v = -10; v <= 10; v++)
        assert_int_equal(kv_is_add(&is, v * 1000, NULL), 0);
    assert_int_equal(kv_is_width(is), 2);
    /* A 32-bit positive value goes last, a 64-bit negative one first. */
    assert_int_equal(kv_is_add(&is, 70000, NULL), 0);
    assert_int_equal(kv_is_width(is), 4);
    assert_int_equal(kv_is_check(is), 0);
    assert_true(kv_is_max(is) == 70000);
    assert_int_equal(kv_is_add(&is, INT64_MIN, NULL), 0);
    assert_int_equal(kv_is_width(is), 8);
    assert_int_equal(kv_is_check(is), 0);
    assert_true(kv_is_min(is) == INT64_MIN);
    assert_int_equal(kv_is_len(is), 23);
    assert_int_equal(kv_is_bytes(is), 8 + 23 * 8);
    for (int64_t v = -10; v <= 10; v++) {
        int64_t got;
        assert_int_equal(kv_is_get(is, (size_t)(v + 11), &got), 0);
        assert_true(got == v * 1000);
    }
    /* Removing the wide values never narrows the set. */
    assert_int_equal(kv_is_remove(&is, INT64_MIN, NULL), 0);
    assert_int_equal(kv_is_remove(&is, 70000, NULL), 0);
    assert_int_equal(kv_is_width(is), 8);
    assert_int_equal(kv_is_check(is), 0);
    /* A negative 32-bit value upgrades a 16-bit set from the front. */
    kv_intset_t *b = kv_is_new();
    assert_int_equal(kv_is_add(&b, 1, NULL), 0);
    assert_int_equal(kv_is_add(&b, -40000, NULL), 0);
    static const int64_t want[] = {-40000, 1};
    assert_sorted_contents(b, want, 2);
    kv_is_free(b);
    kv_is_free(is);
}

static void test_is_random_reaches_every_element(void **state) {
    (void)state;
    kv_intset_t *is = kv_is_new();
    for (int64_t v = 0; v < 50; v++)
        assert_int_equal(kv_is_add(&is, v * 3, NULL), 0);
    int hits[50] = {0};
    for (int i = 0; i < 50000; i++) {
        int64_t v = kv_is_random(is);
        assert_int_equal(v % 3, 0);
        hits[v / 3]++;
    }
    for (int i = 0; i < 50; i++)
        assert_true(hits[i] > 600 && hits[i] < 1400); /* ~1000 */
    kv_is_free(is);
}

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static void test_is_random_changes_match_a_model(void **state) {
    (void)state;
    kv_intset_t *is = kv_is_new();
    int64_t model[1000];
    size_t n = 0;
    unsigned rng = 3;
    static const int64_t scales[] = {100, 30000, 3000000000LL, INT64_MAX / 2};
    for (int op = 0; op < 6000; op++) {
        rng = rng * 1103515245u + 12345u;
        int64_t scale = scales[(op / 1500) % 4];
        int64_t v = (int64_t)((rng >> 4) % 200) * (scale / 100) - scale;
        bool in = false;
        for (size_t i = 0; i < n; i++)
            in |= model[i] == v;
        if ((rng >> 20) % 3 != 0) {
            bool added;
            assert_int_equal(kv_is_add(&is, v, &added), 0);
            assert_int_equal(added, !in);
            if (!in) model[n++] = v;
        } else {
            bool removed;
            assert_int_equal(kv_is_remove(&is, v, &removed), 0);
            assert_int_equal(removed, in);
            for (size_t i = 0; in && i < n; i++) {
                if (model[i] == v) {
                    model[i] = model[--n];
                    break;
                }
            }
        }
        assert_int_equal(kv_is_check(is), 0);
        assert_int_equal(kv_is_find(is, v), (rng >> 20) % 3 != 0);
    }
    qsort(model, n, sizeof(model[0]), cmp_i64);
    assert_sorted_contents(is, model, n);
    kv_is_free(is);
}

/* --- Validation of untrusted blobs --- */

static int validate_exact(const void *blob, size_t len, bool deep) {
    void *c = malloc(len ? len : 1);
    memcpy(c, blob, len);
    int rc = kv_is_validate(c, len, deep);
    free(c);
    return rc;
}

static void put32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static void test_is_validate_rejects_corrupt_blobs(void **state) {
    (void)state;
    uint8_t b[8 + 3 * 2];
    put32(b, 2);
    put32(b + 4, 3);
    b[8] = 1, b[9] = 0;   /* 1 */
    b[10] = 2, b[11] = 0; /* 2 */
    b[12] = 3, b[13] = 0; /* 3 */
    assert_int_equal(validate_exact(b, sizeof(b), true), 0);
    assert_int_equal(kv_is_validate(NULL, 8, true), -EPROTO);
    /* Shorter than the header. */
    assert_int_equal(validate_exact(b, 7, false), -EPROTO);
    /* Width that is not 2, 4 or 8. */
    put32(b, 3);
    assert_int_equal(validate_exact(b, sizeof(b), false), -EPROTO);
    put32(b, 4);
    assert_int_equal(validate_exact(b, sizeof(b), false), -EPROTO); /* 3*4 bytes needed */
    put32(b, 2);
    /* Count that does not fill the blob exactly, or would overflow. */
    put32(b + 4, 4);
    assert_int_equal(validate_exact(b, sizeof(b), false), -EPROTO);
    put32(b + 4, 2);
    assert_int_equal(validate_exact(b, sizeof(b), false), -EPROTO);
    put32(b + 4, 0xFFFFFFFFu);
    assert_int_equal(validate_exact(b, sizeof(b), false), -EPROTO);
    put32(b + 4, 0x80000003u);
    assert_int_equal(validate_exact(b, sizeof(b), false), -EPROTO);
    put32(b + 4, 3);
    /* Out of order or duplicate: only the deep check sees it. */
    b[12] = 2;
    assert_int_equal(validate_exact(b, sizeof(b), false), 0);
    assert_int_equal(validate_exact(b, sizeof(b), true), -EPROTO);
    b[12] = 0;
    assert_int_equal(validate_exact(b, sizeof(b), true), -EPROTO);
    /* Negative values sort below positive ones. */
    b[8] = 0xFF, b[9] = 0xFF; /* -1 */
    b[12] = 3;
    assert_int_equal(validate_exact(b, sizeof(b), true), 0);
    /* An empty set is valid. */
    put32(b + 4, 0);
    assert_int_equal(validate_exact(b, 8, true), 0);
}

static void test_is_validate_never_reads_outside_random_blobs(void **state) {
    (void)state;
    unsigned rng = 11;
    uint8_t buf[64];
    long accepted = 0;
    for (int iter = 0; iter < 20000; iter++) {
        size_t len = 0;
        for (; len < sizeof(buf); len++) {
            rng = rng * 1103515245u + 12345u;
            buf[len] = (uint8_t)(rng >> 16);
        }
        rng = rng * 1103515245u + 12345u;
        len = (rng >> 8) % sizeof(buf);
        /* Often a plausible header, so the deep walk runs. */
        if (iter % 2 == 0 && len >= 8) {
            static const uint32_t widths[] = {2, 4, 8};
            uint32_t w = widths[iter % 3];
            put32(buf, w);
            put32(buf + 4, (uint32_t)((len - 8) / w));
            len = 8 + (len - 8) / w * w;
        }
        if (validate_exact(buf, len, true) == 0) accepted++;
    }
    assert_true(accepted > 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_is_new_is_empty_and_valid),
        cmocka_unit_test(test_is_keeps_values_sorted_and_unique),
        cmocka_unit_test(test_is_upgrades_width_and_keeps_order),
        cmocka_unit_test(test_is_random_reaches_every_element),
        cmocka_unit_test(test_is_random_changes_match_a_model),
        cmocka_unit_test(test_is_validate_rejects_corrupt_blobs),
        cmocka_unit_test(test_is_validate_never_reads_outside_random_blobs),
    };
    return cmocka_run_group_tests_name("kv_intset", tests, NULL, NULL);
}
