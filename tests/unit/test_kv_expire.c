/* SPDX-License-Identifier: MIT */
/*
 * test_kv_expire.c - the keyspace and its TTL index (kvcore/db.c, kvcore/expire.c) and
 * active expiry: lazy deletion on lookup, the index holding the same object pointers as
 * the keyspace at the position each object records (also after an object is reallocated
 * to gain a TTL section or a RAW value), KEEPTTL-style replacement, persist, flush/swap,
 * the index's 8 bytes a key and its chunks going away as it empties, and the active cycle
 * removing expired keys while leaving live ones.
 */
#include "test_common.h"

#include <malloc.h>

#include "kv_internal.h"

static kv_db_t *db;

static int setup(void **state) {
    (void)state;
    memset(&kv_srv, 0, sizeof(kv_srv));
    if (kv_config_defaults(&kv_srv.cfg) != 0) return -1;
    if (kv_db_init_all(&kv_srv) != 0) return -1;
    kv_srv.active_expire_enabled = true;
    kv_srv.effective_hz = 10;
    db = kv_db_get(0);
    return 0;
}

static int teardown(void **state) {
    (void)state;
    kv_db_free_all(&kv_srv);
    kv_config_fini(&kv_srv.cfg);
    return 0;
}

static int reset(void **state) {
    (void)state;
    for (int i = 0; i < kv_srv.ndbs; i++)
        kv_db_flush(&kv_srv.dbs[i]);
    kv_srv.stat_expiredkeys = 0;
    kv_srv.stat_keyspace_hits = kv_srv.stat_keyspace_misses = 0;
    kv_srv.mstime = kv_mstime();
    return 0;
}

static kv_obj_t *add(const char *key, const char *val, int64_t exp) {
    kv_obj_t *o = kv_obj_new_string(key, strlen(key), val, strlen(val), exp);
    assert_non_null(o);
    assert_int_equal(kv_db_add(db, o), 0);
    return o;
}

static kv_obj_t *find(kv_ht_t *ht, const char *key) {
    return kv_ht_find(ht, key, strlen(key));
}

/* The TTL index's entry for key: the one at the position its object records. */
static kv_obj_t *ttl_find(const char *key) {
    kv_obj_t *o = find(db->keys, key);
    if (o == NULL || kv_obj_expire(o) < 0) return NULL;
    return kv_ttl_at(db->expires, kv_obj_ttl_pos(o));
}

/* Both structures are sound and the index holds exactly the keys with a TTL. */
static void check_tables(void) {
    assert_int_equal(kv_ht_check(db->keys), 0);
    assert_int_equal(kv_ttl_check(db->expires), 0);
    size_t with_ttl = 0;
    kv_ht_iter_t it;
    void *e;
    kv_ht_iter_init(&it, db->keys);
    while (kv_ht_iter_next(&it, &e)) {
        if (kv_obj_expire(e) < 0) continue;
        with_ttl++;
        assert_ptr_equal(kv_ttl_at(db->expires, kv_obj_ttl_pos(e)), e);
    }
    kv_ht_iter_fini(&it);
    assert_int_equal(with_ttl, kv_db_expires_size(db));
}

static void test_expire_lazy_lookup_deletes_and_counts(void **state) {
    (void)state;
    add("gone", "v", kv_srv.mstime - 1);
    add("live", "v", kv_srv.mstime + 100000);
    assert_int_equal(kv_db_size(db), 2);
    assert_int_equal(kv_db_expires_size(db), 2);
    assert_null(kv_db_lookup(db, "gone", 4, 0));
    assert_int_equal(kv_srv.stat_expiredkeys, 1);
    assert_int_equal(kv_srv.stat_keyspace_misses, 1);
    assert_int_equal(kv_db_size(db), 1);
    assert_int_equal(kv_db_expires_size(db), 1);
    assert_non_null(kv_db_lookup(db, "live", 4, 0));
    assert_int_equal(kv_srv.stat_keyspace_hits, 1);
    check_tables();
}

static void test_expire_index_holds_same_pointer_as_keyspace(void **state) {
    (void)state;
    kv_obj_t *o = add("k", "v", kv_srv.mstime + 5000);
    assert_ptr_equal(find(db->keys, "k"), o);
    assert_ptr_equal(ttl_find("k"), o);
    check_tables();
}

static void test_expire_set_on_object_without_slot_updates_both_tables(void **state) {
    (void)state;
    kv_obj_t *o = add("foo", "bar", -1); /* exactly 16 bytes: no free expire slot */
    assert_false(o->hasexpire);
    assert_int_equal(kv_db_expires_size(db), 0);
    kv_obj_t *n = kv_db_set_expire(db, o, kv_srv.mstime + 10000);
    assert_non_null(n);
    assert_ptr_equal(find(db->keys, "foo"), n);
    assert_ptr_equal(ttl_find("foo"), n);
    assert_int_equal(kv_obj_expire(n), kv_srv.mstime + 10000);
    assert_int_equal(kv_obj_check(n), 0);
    check_tables();
    /* Persist removes it from the index, in place. */
    assert_true(kv_db_persist(db, n));
    assert_ptr_equal(find(db->keys, "foo"), n);
    assert_null(ttl_find("foo"));
    assert_false(kv_db_persist(db, n));
    check_tables();
}

static void test_expire_set_replaces_and_keeps_or_drops_ttl(void **state) {
    (void)state;
    int64_t when = kv_srv.mstime + 7000;
    add("k", "old", when);
    /* KEEPTTL: the new object inherits the old expire and replaces it in the index. */
    kv_obj_t *n = kv_obj_new_string("k", 1, "new", 3, -1);
    assert_int_equal(kv_db_set(db, n, true), 0);
    kv_obj_t *cur = find(db->keys, "k");
    assert_int_equal(kv_obj_expire(cur), when);
    assert_ptr_equal(ttl_find("k"), cur);
    /* Plain SET: the TTL goes away. */
    n = kv_obj_new_string("k", 1, "newer", 5, -1);
    assert_int_equal(kv_db_set(db, n, false), 0);
    cur = find(db->keys, "k");
    assert_int_equal(kv_obj_expire(cur), -1);
    assert_null(ttl_find("k"));
    check_tables();
}

static void test_expire_delete_removes_from_both_tables(void **state) {
    (void)state;
    add("a", "v", kv_srv.mstime + 1000);
    assert_true(kv_db_delete(db, "a", 1));
    assert_false(kv_db_delete(db, "a", 1));
    assert_int_equal(kv_db_size(db), 0);
    assert_int_equal(kv_db_expires_size(db), 0);
}

static void test_expire_flush_and_swap_move_both_tables(void **state) {
    (void)state;
    add("x", "v", kv_srv.mstime + 1000);
    add("y", "v", -1);
    kv_db_t *other = kv_db_get(1);
    kv_db_swap(db, other);
    assert_int_equal(kv_db_size(db), 0);
    assert_int_equal(kv_db_size(other), 2);
    assert_int_equal(kv_db_expires_size(other), 1);
    kv_db_swap(db, other);
    assert_int_equal(kv_db_flush(db), 2);
    assert_int_equal(kv_db_size(db), 0);
    assert_int_equal(kv_db_expires_size(db), 0);
}

static void test_expire_active_cycle_removes_only_expired_keys(void **state) {
    (void)state;
    char key[32];
    for (int i = 0; i < 2000; i++) {
        snprintf(key, sizeof(key), "dead:%d", i);
        add(key, "v", kv_srv.mstime - 10);
        snprintf(key, sizeof(key), "live:%d", i);
        add(key, "v", kv_srv.mstime + 1000000);
        snprintf(key, sizeof(key), "plain:%d", i);
        add(key, "v", -1);
    }
    assert_int_equal(kv_db_size(db), 6000);
    /* Each cycle stops when a sample is mostly live; a handful of cycles reach every
     * bucket of the index through the per-db cursor. */
    for (int cycle = 0; cycle < 200 && kv_db_size(db) > 4000; cycle++)
        kv_expire_cycle_slow(&kv_srv);
    assert_int_equal(kv_db_size(db), 4000);
    assert_int_equal(kv_db_expires_size(db), 2000);
    assert_int_equal(kv_srv.stat_expiredkeys, 2000);
    assert_non_null(kv_db_lookup(db, "live:0", 6, KV_LOOKUP_NOSTATS));
    assert_non_null(kv_db_lookup(db, "plain:1999", 10, KV_LOOKUP_NOSTATS));
    check_tables();
}

static void test_expire_index_survives_mixed_updates(void **state) {
    (void)state;
    /* 5000 keys, every other one with a TTL; then deletions, persists, new TTLs and
     * KEEPTTL rewrites in a fixed pseudo-random order, checking positions throughout. */
    char key[32];
    int64_t when = kv_srv.mstime + 1000000;
    for (int i = 0; i < 5000; i++) {
        snprintf(key, sizeof(key), "key:%d", i);
        add(key, "v000000000000001", i % 2 ? when + i : -1);
    }
    assert_int_equal(kv_db_expires_size(db), 2500);
    check_tables();
    uint32_t x = 12345;
    for (int step = 0; step < 20000; step++) {
        x = x * 1103515245u + 12345u;
        snprintf(key, sizeof(key), "key:%u", (x >> 8) % 5000);
        kv_obj_t *o = find(db->keys, key);
        switch ((x >> 24) % 4) {
        case 0: /* delete, or add back */
            if (o != NULL)
                assert_true(kv_db_delete(db, key, strlen(key)));
            else
                add(key, "v", (x & 1) ? when : -1);
            break;
        case 1: /* PERSIST / EXPIRE */
            if (o != NULL) {
                if (kv_obj_expire(o) >= 0)
                    assert_true(kv_db_persist(db, o));
                else
                    assert_non_null(kv_db_set_expire(db, o, when + step));
            }
            break;
        case 2: { /* SET KEEPTTL */
            kv_obj_t *n = kv_obj_new_string(key, strlen(key), "rewritten", 9, -1);
            int64_t had = o != NULL ? kv_obj_expire(o) : -1;
            assert_int_equal(kv_db_set(db, n, true), 0);
            assert_int_equal(kv_obj_expire(find(db->keys, key)), had);
            break;
        }
        default: /* a value turned RAW (APPEND): the object moves */
            if (o != NULL && o->type == KV_TYPE_STRING) {
                kv_obj_t *old = o;
                assert_non_null(kv_obj_str_make_raw(&o, 100));
                kv_db_replaced(db, old, o);
                assert_ptr_equal(find(db->keys, key), o);
                if (kv_obj_expire(o) >= 0) assert_ptr_equal(ttl_find(key), o);
            }
            break;
        }
        if (step % 1000 == 0) check_tables();
    }
    check_tables();
}

static void test_expire_index_costs_eight_bytes_a_key(void **state) {
    (void)state;
    char key[32];
    size_t empty = kv_db_overhead_bytes(db, true);
    for (int i = 0; i < 3; i++) {
        snprintf(key, sizeof(key), "few:%d", i);
        add(key, "v", kv_srv.mstime + 100000);
    }
    /* A few keys: a few slots, not a whole chunk. */
    assert_true(kv_db_overhead_bytes(db, true) <= empty + 4 * 8 + 8);
    for (int i = 0; i < 100000; i++) {
        snprintf(key, sizeof(key), "key:%d", i);
        add(key, "v000000000000001", kv_srv.mstime + 100000);
    }
    size_t n = kv_db_expires_size(db);
    assert_int_equal(n, 100003);
    /* 8 bytes a key, plus at most one spare chunk of 1024 and the directory. */
    size_t bytes = kv_db_overhead_bytes(db, true);
    assert_true(bytes >= n * 8);
    assert_true(bytes <= n * 8 + 1024 * 8 + 128 * 8 + 64);
    /* Deleting most keys frees their chunks. */
    for (int i = 0; i < 100000; i++) {
        snprintf(key, sizeof(key), "key:%d", i);
        assert_true(kv_db_delete(db, key, strlen(key)));
    }
    assert_true(kv_db_overhead_bytes(db, true) <= empty + 2 * 1024 * 8 + 128 * 8);
    check_tables();
    for (int i = 0; i < 3; i++) {
        snprintf(key, sizeof(key), "few:%d", i);
        assert_true(kv_db_delete(db, key, strlen(key)));
    }
    assert_int_equal(kv_db_overhead_bytes(db, true), empty);
}

/* A defrag move that always moves: a fresh copy, the old block freed. */
static size_t moved_blocks;
static void *always_move(void *ptr) {
    size_t n = malloc_usable_size(ptr);
    void *q = malloc(n);
    assert_non_null(q);
    memcpy(q, ptr, n);
    free(ptr);
    moved_blocks++;
    return q;
}

static void test_expire_index_defrag_moves_directory_and_chunks(void **state) {
    (void)state;
    char key[32];
    for (int i = 0; i < 3000; i++) {
        snprintf(key, sizeof(key), "key:%d", i);
        add(key, "v", kv_srv.mstime + 100000);
    }
    moved_blocks = 0;
    kv_ttl_defrag_dir(&db->expires, always_move);
    assert_int_equal(moved_blocks, 2); /* the struct and the directory */
    size_t cursor = 0;
    do {
        cursor = kv_ttl_defrag_chunk(db->expires, cursor, always_move);
    } while (cursor != 0);
    assert_int_equal(moved_blocks, 2 + 3); /* 3000 entries: three chunks */
    assert_int_equal(kv_db_expires_size(db), 3000);
    check_tables();
}

static void test_expire_active_cycle_off_leaves_keys(void **state) {
    (void)state;
    add("dead", "v", kv_srv.mstime - 10);
    kv_srv.active_expire_enabled = false;
    kv_expire_cycle_slow(&kv_srv);
    kv_srv.active_expire_enabled = true;
    assert_int_equal(kv_db_size(db), 1);
    assert_true(kv_db_key_is_expired(find(db->keys, "dead")));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_expire_lazy_lookup_deletes_and_counts, reset),
        cmocka_unit_test_setup(test_expire_index_holds_same_pointer_as_keyspace, reset),
        cmocka_unit_test_setup(test_expire_set_on_object_without_slot_updates_both_tables, reset),
        cmocka_unit_test_setup(test_expire_set_replaces_and_keeps_or_drops_ttl, reset),
        cmocka_unit_test_setup(test_expire_delete_removes_from_both_tables, reset),
        cmocka_unit_test_setup(test_expire_flush_and_swap_move_both_tables, reset),
        cmocka_unit_test_setup(test_expire_active_cycle_removes_only_expired_keys, reset),
        cmocka_unit_test_setup(test_expire_index_survives_mixed_updates, reset),
        cmocka_unit_test_setup(test_expire_index_costs_eight_bytes_a_key, reset),
        cmocka_unit_test_setup(test_expire_index_defrag_moves_directory_and_chunks, reset),
        cmocka_unit_test_setup(test_expire_active_cycle_off_leaves_keys, reset),
    };
    return cmocka_run_group_tests_name("kv_expire", tests, setup, teardown);
}
