/* SPDX-License-Identifier: MIT */
/*
 * test_kv_set.c - the set type (kvcore/t_set.c): the encoding a new set gets, every
 * conversion boundary of set-max-intset-entries / set-max-listpack-entries /
 * set-max-listpack-value (at the limit, one past it, after the limit is lowered: only
 * the next write converts), membership in all three encodings, iteration, random
 * members, COPY's deep copy, and memory accounting. kv_set_check runs after every change.
 */
#include "test_common.h"

#include <jemalloc/jemalloc.h>
#include <malloc.h>

#include "intset.h"
#include "kv_internal.h"
#include "t_set.h"
#include "kv_type_test.h"

static int reset_limits(void **state) {
    (void)state;
    kv_srv.cfg.set_max_intset_entries = 512;
    kv_srv.cfg.set_max_listpack_entries = 128;
    kv_srv.cfg.set_max_listpack_value = 64;
    return 0;
}

static kv_obj_t *new_set(const char *first, size_t hint) {
    kv_arg_t f = arg(first);
    kv_obj_t *o = kv_set_new("s", 1, &f, hint);
    assert_non_null(o);
    assert_int_equal(o->type, KV_TYPE_SET);
    assert_int_equal(kv_set_check(o), 0);
    return o;
}

static int add(kv_obj_t *o, const char *m) {
    kv_arg_t a = arg(m);
    int rc = kv_set_add(o, &a);
    assert_int_equal(kv_set_check(o), 0);
    assert_int_equal(kv_obj_check(o), 0);
    return rc;
}

static bool has(kv_obj_t *o, const char *m) {
    kv_arg_t a = arg(m);
    return kv_set_contains(o, &a);
}

/* Adds the integers 0..n-1. */
static void fill_ints(kv_obj_t *o, int n) {
    char buf[32];
    for (int i = 0; i < n; i++) {
        snprintf(buf, sizeof(buf), "%d", i);
        add(o, buf);
    }
}

/* Adds "m0".."m(n-1)". */
static void fill_strs(kv_obj_t *o, int n) {
    char buf[32];
    for (int i = 0; i < n; i++) {
        snprintf(buf, sizeof(buf), "m%d", i);
        assert_int_equal(add(o, buf), 1);
    }
}

static void test_set_new_picks_encoding_like_settypecreate(void **state) {
    (void)state;
    kv_obj_t *o = new_set("42", 1);
    assert_int_equal(o->encoding, KV_ENC_INTSET);
    kv_obj_free(o);
    kv_srv.cfg.set_max_intset_entries = 100;
    o = new_set("42", 101); /* more integers than an intset may hold */
    assert_int_equal(o->encoding, KV_ENC_LISTPACK);
    kv_obj_free(o);
    o = new_set("abc", 128);
    assert_int_equal(o->encoding, KV_ENC_LISTPACK);
    kv_obj_free(o);
    o = new_set("abc", 129);
    assert_int_equal(o->encoding, KV_ENC_HASHTABLE);
    kv_obj_free(o);
    o = kv_set_new("", 0, NULL, 0); /* a set-algebra result starts as an intset */
    assert_non_null(o);
    assert_int_equal(o->encoding, KV_ENC_INTSET);
    kv_obj_free(o);
}

static void test_set_intset_at_limit_stays_one_past_converts(void **state) {
    (void)state;
    kv_srv.cfg.set_max_intset_entries = 16;
    kv_obj_t *o = new_set("0", 1);
    fill_ints(o, 16);
    assert_int_equal(o->encoding, KV_ENC_INTSET);
    assert_int_equal(add(o, "15"), 0); /* present: no change */
    assert_int_equal(o->encoding, KV_ENC_INTSET);
    assert_int_equal(add(o, "16"), 1);
    assert_int_equal(o->encoding, KV_ENC_HASHTABLE); /* intsets skip the listpack */
    assert_int_equal(kv_set_len(o), 17);
    assert_true(has(o, "0") && has(o, "16") && !has(o, "17"));
    kv_obj_free(o);
}

static void test_set_intset_gets_string_becomes_listpack(void **state) {
    (void)state;
    kv_obj_t *o = new_set("1", 1);
    fill_ints(o, 10);
    assert_int_equal(add(o, "hello"), 1);
    assert_int_equal(o->encoding, KV_ENC_LISTPACK);
    assert_int_equal(kv_set_len(o), 11);
    assert_true(has(o, "9") && has(o, "hello"));
    kv_obj_free(o);
}

static void test_set_intset_gets_string_past_listpack_limits_becomes_hashtable(void **state) {
    (void)state;
    kv_srv.cfg.set_max_listpack_entries = 10;
    kv_obj_t *o = new_set("1", 1);
    fill_ints(o, 10); /* 10 members: a listpack could not take an 11th */
    assert_int_equal(add(o, "x"), 1);
    assert_int_equal(o->encoding, KV_ENC_HASHTABLE);
    kv_obj_free(o);

    kv_srv.cfg.set_max_listpack_entries = 128;
    kv_srv.cfg.set_max_listpack_value = 4;
    o = new_set("1", 1);
    assert_int_equal(add(o, "12345"), 1); /* an integer member too long for a listpack */
    assert_int_equal(o->encoding, KV_ENC_INTSET);
    assert_int_equal(add(o, "abcd"), 1);
    assert_int_equal(o->encoding, KV_ENC_HASHTABLE);
    kv_obj_free(o);

    o = new_set("1", 1);
    assert_int_equal(add(o, "abcde"), 1); /* a string member too long */
    assert_int_equal(o->encoding, KV_ENC_HASHTABLE);
    kv_obj_free(o);
}

static void test_set_listpack_entry_limit(void **state) {
    (void)state;
    kv_srv.cfg.set_max_listpack_entries = 8;
    kv_obj_t *o = new_set("m0", 1);
    fill_strs(o, 8);
    assert_int_equal(o->encoding, KV_ENC_LISTPACK);
    assert_int_equal(add(o, "m3"), 0);
    assert_int_equal(o->encoding, KV_ENC_LISTPACK);
    assert_int_equal(add(o, "m8"), 1);
    assert_int_equal(o->encoding, KV_ENC_HASHTABLE);
    assert_int_equal(kv_set_len(o), 9);
    assert_true(has(o, "m0") && has(o, "m8"));
    kv_obj_free(o);
}

static void test_set_listpack_value_limit(void **state) {
    (void)state;
    kv_srv.cfg.set_max_listpack_value = 8;
    kv_obj_t *o = new_set("a", 1);
    assert_int_equal(add(o, "abcdefgh"), 1);
    assert_int_equal(o->encoding, KV_ENC_LISTPACK);
    assert_int_equal(add(o, "abcdefghi"), 1);
    assert_int_equal(o->encoding, KV_ENC_HASHTABLE);
    assert_true(has(o, "abcdefgh") && has(o, "abcdefghi"));
    kv_obj_free(o);
}

static void test_set_maybe_convert_uses_the_hint(void **state) {
    (void)state;
    kv_srv.cfg.set_max_listpack_entries = 4;
    kv_srv.cfg.set_max_intset_entries = 4;
    kv_obj_t *o = new_set("a", 1);
    assert_int_equal(kv_set_maybe_convert(o, 4), 0);
    assert_int_equal(o->encoding, KV_ENC_LISTPACK);
    assert_int_equal(kv_set_maybe_convert(o, 5), 0);
    assert_int_equal(o->encoding, KV_ENC_HASHTABLE);
    kv_obj_free(o);
    o = new_set("1", 1);
    assert_int_equal(kv_set_maybe_convert(o, 5), 0);
    assert_int_equal(o->encoding, KV_ENC_HASHTABLE);
    assert_int_equal(kv_set_check(o), 0);
    kv_obj_free(o);
}

static void test_set_lowered_limits_convert_only_on_next_write(void **state) {
    (void)state;
    kv_obj_t *is = new_set("0", 1);
    fill_ints(is, 10);
    kv_obj_t *lp = new_set("m0", 1);
    fill_strs(lp, 10);
    kv_srv.cfg.set_max_intset_entries = 5; /* CONFIG SET after the sets were built */
    kv_srv.cfg.set_max_listpack_entries = 5;
    assert_true(has(is, "3") && has(lp, "m3"));
    kv_arg_t r = arg("9"), rm = arg("m9");
    assert_true(kv_set_remove(is, &r));
    assert_true(kv_set_remove(lp, &rm));
    assert_int_equal(is->encoding, KV_ENC_INTSET);
    assert_int_equal(lp->encoding, KV_ENC_LISTPACK);
    assert_int_equal(add(is, "1"), 0); /* re-adding a member changes nothing */
    assert_int_equal(add(lp, "m1"), 0);
    assert_int_equal(is->encoding, KV_ENC_INTSET);
    assert_int_equal(lp->encoding, KV_ENC_LISTPACK);
    assert_int_equal(add(is, "100"), 1);
    assert_int_equal(add(lp, "new"), 1);
    assert_int_equal(is->encoding, KV_ENC_HASHTABLE);
    assert_int_equal(lp->encoding, KV_ENC_HASHTABLE);
    assert_int_equal(kv_set_len(is), 10);
    assert_int_equal(kv_set_len(lp), 10);
    kv_obj_free(is);
    kv_obj_free(lp);
}

static void test_set_membership_is_by_value_in_every_encoding(void **state) {
    (void)state;
    for (int enc = 0; enc < 3; enc++) {
        kv_srv.cfg.set_max_listpack_entries = enc == 2 ? 0 : 128;
        kv_obj_t *o = new_set(enc == 0 ? "7" : "x", 1);
        add(o, "7");
        add(o, "-9223372036854775808");
        assert_true(has(o, "7"));
        assert_false(has(o, "07")); /* not the canonical form: another member */
        assert_false(has(o, "7 "));
        assert_true(has(o, "-9223372036854775808"));
        if (enc == 0) assert_int_equal(o->encoding, KV_ENC_INTSET);
        if (enc == 2) assert_int_equal(o->encoding, KV_ENC_HASHTABLE);
        kv_arg_t m = arg("7");
        assert_true(kv_set_remove(o, &m));
        assert_false(kv_set_remove(o, &m));
        assert_int_equal(kv_set_check(o), 0);
        kv_obj_free(o);
    }
}

static void test_set_iter_and_random_cover_the_members(void **state) {
    (void)state;
    for (int enc = 0; enc < 3; enc++) {
        kv_srv.cfg.set_max_listpack_entries = enc == 2 ? 0 : 128;
        kv_obj_t *o = new_set(enc == 0 ? "0" : "x", 1);
        fill_ints(o, 50);
        if (enc > 0) {
            kv_arg_t x = arg("x");
            if (enc == 1) add(o, "x");
            kv_set_remove(o, &x);
        }
        assert_int_equal(kv_set_len(o), 50);
        bool seen[50] = {false};
        kv_set_iter_t it;
        kv_arg_t m;
        int prev = -1;
        kv_set_iter_init(&it, o);
        while (kv_set_iter_next(&it, &m)) {
            char num[KV_INTBUF];
            assert_true(m.len < sizeof(num));
            memcpy(num, m.ptr, m.len);
            num[m.len] = '\0';
            int v = atoi(num);
            assert_true(v >= 0 && v < 50);
            assert_false(seen[v]);
            seen[v] = true;
            if (o->encoding == KV_ENC_INTSET) assert_true(v > prev); /* ascending */
            prev = v;
        }
        kv_set_iter_fini(&it);
        for (int i = 0; i < 50; i++)
            assert_true(seen[i]);
        for (int i = 0; i < 100; i++) {
            char ibuf[KV_INTBUF];
            kv_set_random(o, &m, ibuf);
            assert_true(kv_set_contains(o, &m));
        }
        kv_obj_free(o);
    }
}

static void test_set_dup_copies_every_encoding(void **state) {
    (void)state;
    const char *first[3] = {"1", "a", "a"};
    for (int enc = 0; enc < 3; enc++) {
        kv_srv.cfg.set_max_listpack_entries = enc == 2 ? 0 : 128;
        kv_obj_t *o = new_set(first[enc], 1);
        fill_ints(o, 30);
        kv_obj_t *d = kv_obj_dup(o, "copy", 4, -1);
        assert_non_null(d);
        assert_int_equal(d->encoding, o->encoding);
        kv_obj_free(o);
        assert_int_equal(kv_set_check(d), 0);
        assert_int_equal(kv_set_len(d), 30);
        assert_true(has(d, "29"));
        kv_obj_free(d);
    }
}

static void test_set_mem_bytes_and_no_leaks(void **state) {
    (void)state;
    int64_t before = live_bytes();
    kv_obj_t *o = new_set("1", 1);
    fill_ints(o, 10);
    /* 10 small integers: an 8-byte header and 2 bytes each. */
    assert_int_equal(kv_is_bytes(kv_obj_ptr(o)), 8 + 10 * 2);
    assert_int_equal(kv_obj_mem_bytes(o),
                     malloc_usable_size(o) + malloc_usable_size(kv_obj_ptr(o)));
    size_t small = kv_obj_mem_bytes(o);
    add(o, "a string");
    add(o, "another");
    assert_int_equal(o->encoding, KV_ENC_LISTPACK);
    assert_int_equal(kv_set_convert(o, KV_ENC_HASHTABLE), 0);
    assert_int_equal(kv_set_check(o), 0);
    size_t expect = malloc_usable_size(o) + kv_ht_mem_bytes(kv_obj_ptr(o));
    kv_ht_iter_t hi;
    void *e;
    kv_ht_iter_init(&hi, kv_obj_ptr(o));
    while (kv_ht_iter_next(&hi, &e))
        expect += malloc_usable_size(e);
    kv_ht_iter_fini(&hi);
    assert_int_equal(kv_obj_mem_bytes(o), expect);
    assert_true(expect > small);
    assert_int_equal(kv_set_convert(o, KV_ENC_LISTPACK), -EINVAL); /* never back */
    kv_obj_free(o);
    if (jemalloc_owns_malloc()) assert_int_equal(live_bytes(), before);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_set_new_picks_encoding_like_settypecreate, reset_limits),
        cmocka_unit_test_setup(test_set_intset_at_limit_stays_one_past_converts, reset_limits),
        cmocka_unit_test_setup(test_set_intset_gets_string_becomes_listpack, reset_limits),
        cmocka_unit_test_setup(test_set_intset_gets_string_past_listpack_limits_becomes_hashtable,
                               reset_limits),
        cmocka_unit_test_setup(test_set_listpack_entry_limit, reset_limits),
        cmocka_unit_test_setup(test_set_listpack_value_limit, reset_limits),
        cmocka_unit_test_setup(test_set_maybe_convert_uses_the_hint, reset_limits),
        cmocka_unit_test_setup(test_set_lowered_limits_convert_only_on_next_write, reset_limits),
        cmocka_unit_test_setup(test_set_membership_is_by_value_in_every_encoding, reset_limits),
        cmocka_unit_test_setup(test_set_iter_and_random_cover_the_members, reset_limits),
        cmocka_unit_test_setup(test_set_dup_copies_every_encoding, reset_limits),
        cmocka_unit_test_setup(test_set_mem_bytes_and_no_leaks, reset_limits),
    };
    return cmocka_run_group_tests_name("kv_set", tests, setup, teardown);
}
