/* SPDX-License-Identifier: MIT */
/*
 * test_kv_hash.c - the hash type (kvcore/t_hash.c): listpack and hashtable encodings,
 * the conversion boundaries of hash-max-listpack-entries / -value (at the limit, one
 * past it, after the limit is lowered: only the next write converts), field and value
 * round trips in both encodings, iteration, COPY's deep copy, and memory accounting
 * (MEMORY USAGE's figure is the sum of the blocks, and freeing returns every byte).
 * kv_hash_check runs after every change.
 */
#include "test_common.h"

#include <jemalloc/jemalloc.h>
#include <malloc.h>

#include "kv_internal.h"
#include "listpack.h"
#include "t_hash.h"
#include "kv_type_test.h"

static int reset_limits(void **state) {
    (void)state;
    kv_srv.cfg.hash_max_listpack_entries = 512;
    kv_srv.cfg.hash_max_listpack_value = 64;
    return 0;
}

/* The number after the first byte of a (not NUL-terminated) string: "f12" -> 12. */
static int num_after_first(const kv_arg_t *a) {
    char buf[32];
    assert_true(a->len >= 2 && a->len < sizeof(buf));
    memcpy(buf, a->ptr + 1, a->len - 1);
    buf[a->len - 1] = '\0';
    return atoi(buf);
}

static kv_obj_t *new_hash(void) {
    kv_obj_t *o = kv_hash_new("h", 1, -1);
    assert_non_null(o);
    assert_int_equal(o->type, KV_TYPE_HASH);
    assert_int_equal(o->encoding, KV_ENC_HASHPACK);
    assert_int_equal(kv_hash_check(o), 0);
    return o;
}

static int set(kv_obj_t **op, const char *f, const char *v) {
    kv_arg_t fa = arg(f), va = arg(v);
    int rc = kv_hash_set(op, &fa, &va);
    assert_int_equal(kv_hash_check(*op), 0);
    assert_int_equal(kv_obj_check(*op), 0);
    return rc;
}

static void assert_field(kv_obj_t *o, const char *f, const char *want) {
    kv_arg_t fa = arg(f), v;
    char ibuf[KV_INTBUF];
    assert_true(kv_hash_get(o, &fa, &v, ibuf));
    assert_int_equal(v.len, strlen(want));
    assert_memory_equal(v.ptr, want, v.len);
}

/* Adds fields f0..f(n-1) with values v0.. */
static void fill(kv_obj_t **op, int n) {
    char f[32], v[32];
    for (int i = 0; i < n; i++) {
        snprintf(f, sizeof(f), "f%d", i);
        snprintf(v, sizeof(v), "v%d", i);
        assert_int_equal(set(op, f, v), 1);
    }
}

static void test_hash_set_get_update_delete_in_listpack(void **state) {
    (void)state;
    kv_obj_t *o = new_hash();
    assert_int_equal(set(&o, "name", "kv"), 1);
    assert_int_equal(set(&o, "n", "42"), 1);
    assert_int_equal(set(&o, "name", "kvcore"), 0);
    assert_int_equal(kv_hash_len(o), 2);
    assert_field(o, "name", "kvcore");
    assert_field(o, "n", "42"); /* stored as an integer, read back as text */
    kv_arg_t missing = arg("nope");
    assert_false(kv_hash_exists(o, &missing));
    kv_arg_t n = arg("n");
    assert_true(kv_hash_del(&o, &n));
    assert_false(kv_hash_del(&o, &n));
    assert_int_equal(kv_hash_check(o), 0);
    assert_int_equal(kv_hash_len(o), 1);
    assert_int_equal(o->encoding, KV_ENC_HASHPACK);
    kv_obj_free(o);
}

static void test_hash_stays_listpack_at_entry_limit(void **state) {
    (void)state;
    kv_srv.cfg.hash_max_listpack_entries = 8;
    kv_obj_t *o = new_hash();
    fill(&o, 8);
    assert_int_equal(o->encoding, KV_ENC_HASHPACK);
    assert_int_equal(kv_hash_len(o), 8);
    kv_obj_free(o);
}

static void test_hash_converts_one_past_entry_limit(void **state) {
    (void)state;
    kv_srv.cfg.hash_max_listpack_entries = 8;
    kv_obj_t *o = new_hash();
    fill(&o, 9);
    assert_int_equal(o->encoding, KV_ENC_HASHTABLE);
    assert_int_equal(kv_hash_len(o), 9);
    char f[32], v[32];
    for (int i = 0; i < 9; i++) {
        snprintf(f, sizeof(f), "f%d", i);
        snprintf(v, sizeof(v), "v%d", i);
        assert_field(o, f, v);
    }
    kv_obj_free(o);
}

static void test_hash_zero_entry_limit_gives_hashtable(void **state) {
    (void)state;
    kv_srv.cfg.hash_max_listpack_entries = 0;
    kv_obj_t *o = new_hash();
    assert_int_equal(set(&o, "a", "1"), 1);
    assert_int_equal(o->encoding, KV_ENC_HASHTABLE);
    kv_obj_free(o);
}

static void test_hash_value_at_limit_stays_one_past_converts(void **state) {
    (void)state;
    kv_srv.cfg.hash_max_listpack_value = 8;
    kv_obj_t *o = new_hash();
    assert_int_equal(set(&o, "12345678", "abcdefgh"), 1);
    assert_int_equal(o->encoding, KV_ENC_HASHPACK);
    assert_int_equal(set(&o, "f", "abcdefghi"), 1);
    assert_int_equal(o->encoding, KV_ENC_HASHTABLE);
    assert_field(o, "12345678", "abcdefgh");
    assert_field(o, "f", "abcdefghi");
    kv_obj_free(o);

    o = new_hash();
    assert_int_equal(set(&o, "123456789", "x"), 1); /* a long field converts too */
    assert_int_equal(o->encoding, KV_ENC_HASHTABLE);
    kv_obj_free(o);
}

static void test_hash_try_convert_checks_every_argument(void **state) {
    (void)state;
    kv_srv.cfg.hash_max_listpack_value = 4;
    kv_obj_t *o = new_hash();
    kv_arg_t args[4] = {arg("a"), arg("1"), arg("b"), arg("1234")};
    assert_int_equal(kv_hash_try_convert(&o, args, 4), 0);
    assert_int_equal(o->encoding, KV_ENC_HASHPACK);
    args[3] = arg("12345");
    assert_int_equal(kv_hash_try_convert(&o, args, 4), 0);
    assert_int_equal(o->encoding, KV_ENC_HASHTABLE);
    assert_int_equal(kv_hash_check(o), 0);
    kv_obj_free(o);
}

static void test_hash_lowered_limit_converts_only_on_next_write(void **state) {
    (void)state;
    kv_obj_t *o = new_hash();
    fill(&o, 10);
    kv_srv.cfg.hash_max_listpack_entries = 5; /* CONFIG SET hash-max-listpack-entries 5 */
    assert_int_equal(o->encoding, KV_ENC_HASHPACK);
    assert_field(o, "f3", "v3"); /* reads do not convert */
    kv_arg_t f9 = arg("f9");
    assert_true(kv_hash_del(&o, &f9)); /* deletes do not convert */
    assert_int_equal(o->encoding, KV_ENC_HASHPACK);
    assert_int_equal(set(&o, "f0", "updated"), 0); /* an update is a write: converts */
    assert_int_equal(o->encoding, KV_ENC_HASHTABLE);
    assert_int_equal(kv_hash_len(o), 9);
    assert_field(o, "f0", "updated");
    kv_obj_free(o);
}

static void test_hash_hashtable_updates_grow_and_shrink_values(void **state) {
    (void)state;
    kv_srv.cfg.hash_max_listpack_entries = 0;
    kv_obj_t *o = new_hash();
    char big[600];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    assert_int_equal(set(&o, "f", "1"), 1);
    assert_int_equal(set(&o, "f", big), 0); /* length header grows to 9 bytes */
    assert_field(o, "f", big);
    assert_int_equal(set(&o, "f", "2"), 0);
    assert_field(o, "f", "2");
    assert_int_equal(set(&o, "", ""), 1); /* empty field and value */
    assert_field(o, "", "");
    assert_int_equal(kv_hash_len(o), 2);
    kv_arg_t f = arg("f");
    assert_true(kv_hash_del(&o, &f));
    assert_int_equal(kv_hash_check(o), 0);
    kv_obj_free(o);
}

static void test_hash_iterates_in_insertion_order_in_listpack(void **state) {
    (void)state;
    kv_obj_t *o = new_hash();
    fill(&o, 5);
    kv_hash_iter_t it;
    kv_arg_t f, v;
    int i = 0;
    kv_hash_iter_init(&it, o);
    while (kv_hash_iter_next(&it, &f, &v)) {
        char want[32];
        snprintf(want, sizeof(want), "f%d", i++);
        assert_int_equal(f.len, strlen(want));
        assert_memory_equal(f.ptr, want, f.len);
    }
    kv_hash_iter_fini(&it);
    assert_int_equal(i, 5);
    kv_obj_free(o);
}

static void test_hash_iterates_every_field_in_hashtable(void **state) {
    (void)state;
    kv_srv.cfg.hash_max_listpack_entries = 16;
    kv_obj_t *o = new_hash();
    fill(&o, 100);
    assert_int_equal(o->encoding, KV_ENC_HASHTABLE);
    bool seen[100] = {false};
    kv_hash_iter_t it;
    kv_arg_t f, v;
    kv_hash_iter_init(&it, o);
    while (kv_hash_iter_next(&it, &f, &v)) {
        int idx = num_after_first(&f);
        assert_true(idx >= 0 && idx < 100);
        assert_false(seen[idx]);
        seen[idx] = true;
        assert_int_equal(num_after_first(&v), idx);
    }
    kv_hash_iter_fini(&it);
    for (int i = 0; i < 100; i++)
        assert_true(seen[i]);
    kv_obj_free(o);
}

static void test_hash_random_returns_members(void **state) {
    (void)state;
    for (int enc = 0; enc < 2; enc++) {
        kv_srv.cfg.hash_max_listpack_entries = enc ? 0 : 512;
        kv_obj_t *o = new_hash();
        fill(&o, 7);
        for (int i = 0; i < 50; i++) {
            kv_arg_t f, v;
            char fb[KV_INTBUF], vb[KV_INTBUF];
            kv_hash_random(o, &f, &v, fb, vb);
            assert_true(f.len >= 2 && f.ptr[0] == 'f');
            assert_true(v.len >= 2 && v.ptr[0] == 'v');
            assert_memory_equal(f.ptr + 1, v.ptr + 1, f.len - 1);
        }
        kv_obj_free(o);
    }
}

static void test_hash_dup_copies_both_encodings(void **state) {
    (void)state;
    for (int enc = 0; enc < 2; enc++) {
        kv_srv.cfg.hash_max_listpack_entries = enc ? 0 : 512;
        kv_obj_t *o = new_hash();
        fill(&o, 20);
        kv_obj_t *d = kv_obj_dup(o, "copy", 4, -1);
        assert_non_null(d);
        assert_int_equal(d->encoding, o->encoding);
        assert_int_equal(kv_hash_check(d), 0);
        kv_obj_free(o); /* the copy owns its own value */
        assert_int_equal(kv_hash_len(d), 20);
        assert_field(d, "f19", "v19");
        kv_obj_free(d);
    }
}

static void test_hash_mem_bytes_sums_the_blocks(void **state) {
    (void)state;
    kv_obj_t *o = new_hash();
    fill(&o, 10);
    /* A pack is inside its object: one block, sized to what it holds (4-byte header, key
     * "h" in 2 bytes, count 1, 10 pairs of 1 + 2 bytes each way: 67 bytes). */
    assert_int_equal(kv_obj_mem_bytes(o), malloc_usable_size(o));
    assert_int_equal(kv_obj_used_bytes(o), 4 + 2 + 1 + 10 * 6);
    assert_int_equal(malloc_usable_size(o), nallocx(kv_obj_used_bytes(o), 0));
    size_t lp_total = kv_obj_mem_bytes(o);
    assert_int_equal(kv_hash_convert(&o), 0);
    assert_int_equal(kv_hash_check(o), 0);
    size_t expect = malloc_usable_size(o) + kv_ht_mem_bytes(kv_obj_ptr(o));
    kv_ht_iter_t hi;
    void *e;
    kv_ht_iter_init(&hi, kv_obj_ptr(o));
    while (kv_ht_iter_next(&hi, &e))
        expect += malloc_usable_size(e);
    kv_ht_iter_fini(&hi);
    assert_int_equal(kv_obj_mem_bytes(o), expect);
    assert_true(expect > lp_total); /* the point of the compact encoding */
    kv_obj_free(o);
}

static void test_hash_free_returns_every_byte(void **state) {
    (void)state;
    if (!jemalloc_owns_malloc()) skip(); /* ASan checks leaks there itself */
    for (int enc = 0; enc < 2; enc++) {
        kv_srv.cfg.hash_max_listpack_entries = enc ? 0 : 512;
        int64_t before = live_bytes();
        kv_obj_t *o = new_hash();
        fill(&o, 300);
        kv_arg_t f = arg("f7");
        kv_hash_del(&o, &f);
        set(&o, "f8", "a much longer value than before, to move the entry");
        assert_true(live_bytes() > before);
        kv_obj_free(o);
        assert_int_equal(live_bytes(), before);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_hash_set_get_update_delete_in_listpack, reset_limits),
        cmocka_unit_test_setup(test_hash_stays_listpack_at_entry_limit, reset_limits),
        cmocka_unit_test_setup(test_hash_converts_one_past_entry_limit, reset_limits),
        cmocka_unit_test_setup(test_hash_zero_entry_limit_gives_hashtable, reset_limits),
        cmocka_unit_test_setup(test_hash_value_at_limit_stays_one_past_converts, reset_limits),
        cmocka_unit_test_setup(test_hash_try_convert_checks_every_argument, reset_limits),
        cmocka_unit_test_setup(test_hash_lowered_limit_converts_only_on_next_write, reset_limits),
        cmocka_unit_test_setup(test_hash_hashtable_updates_grow_and_shrink_values, reset_limits),
        cmocka_unit_test_setup(test_hash_iterates_in_insertion_order_in_listpack, reset_limits),
        cmocka_unit_test_setup(test_hash_iterates_every_field_in_hashtable, reset_limits),
        cmocka_unit_test_setup(test_hash_random_returns_members, reset_limits),
        cmocka_unit_test_setup(test_hash_dup_copies_both_encodings, reset_limits),
        cmocka_unit_test_setup(test_hash_mem_bytes_sums_the_blocks, reset_limits),
        cmocka_unit_test_setup(test_hash_free_returns_every_byte, reset_limits),
    };
    return cmocka_run_group_tests_name("kv_hash", tests, setup, teardown);
}
