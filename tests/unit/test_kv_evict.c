/* SPDX-License-Identifier: MIT */
/*
 * test_kv_evict.c - maxmemory (kvcore/evict.c): the used-memory figure follows every
 * allocation and free of this thread between real stats reads, noeviction refuses
 * without touching a key, each policy frees enough to get under the limit and picks the
 * right kind of key (idle for LRU, rare for LFU, soonest to expire for TTL, only keys with
 * a TTL for volatile-*), and evicted_keys counts what went.
 */
#include "test_common.h"

#include <jemalloc/jemalloc.h>
#include <malloc.h>

#include "kv_internal.h"
#include "t_hash.h"

static kv_db_t *db;

static int setup(void **state) {
    (void)state;
    memset(&kv_srv, 0, sizeof(kv_srv));
    if (kv_config_defaults(&kv_srv.cfg) != 0) return -1;
    if (kv_db_init_all(&kv_srv) != 0) return -1;
    db = kv_db_get(0);
    return 0;
}

static int teardown(void **state) {
    (void)state;
    kv_db_free_all(&kv_srv);
    kv_config_fini(&kv_srv.cfg);
    return 0;
}

/*
 * Whether malloc is jemalloc's: under a sanitizer build (make asan) it is not, used
 * memory never moves, and these tests (which measure it) are skipped.
 */
static bool jemalloc_owns_malloc(void) {
    uint64_t a0 = 0, a1 = 0;
    size_t sz = sizeof(a0);
    mallctl("thread.allocated", &a0, &sz, NULL, 0);
    void *volatile p = malloc(4096); /* volatile: the pair must not be optimised out */
    mallctl("thread.allocated", &a1, &sz, NULL, 0);
    free(p);
    return a1 != a0;
}

/* Fresh keyspace and settings; the clock jumps so the next figure is a real read. */
static int reset(void **state) {
    (void)state;
    for (int i = 0; i < kv_srv.ndbs; i++)
        kv_db_flush(&kv_srv.dbs[i]);
    kv_srv.cfg.maxmemory = 0;
    kv_srv.cfg.maxmemory_policy = KV_POLICY_NOEVICTION;
    kv_srv.cfg.maxmemory_samples = 5;
    kv_srv.cfg.maxmemory_eviction_tenacity = 100; /* no time budget: deterministic */
    kv_srv.stat_evictedkeys = 0;
    kv_srv.mstime = kv_mstime();
    kv_srv.lruclock = (uint64_t)(kv_srv.mstime / KV_LRU_RESOLUTION_MS) & KV_LRU_CLOCK_MAX;
    kv_srv.cmd_clock_us += 1000000;
    return 0;
}

static kv_obj_t *add_key(const char *prefix, int i, int64_t expire_ms) {
    char key[64], val[100];
    int kl = snprintf(key, sizeof(key), "%s:%d", prefix, i);
    memset(val, 'v', sizeof(val));
    kv_obj_t *o = kv_obj_new_string(key, (size_t)kl, val, sizeof(val), expire_ms);
    assert_non_null(o);
    assert_int_equal(kv_db_add(db, o), 0);
    return o;
}

static size_t count_prefix(const char *prefix) {
    size_t n = 0, plen = strlen(prefix);
    kv_ht_iter_t it;
    void *e;
    kv_ht_iter_init(&it, db->keys);
    while (kv_ht_iter_next(&it, &e)) {
        size_t klen;
        const char *k = kv_obj_key(e, &klen);
        if (klen > plen && memcmp(k, prefix, plen) == 0 && k[plen] == ':') n++;
    }
    kv_ht_iter_fini(&it);
    return n;
}

/*
 * Puts the limit `bytes` below the current figure, after any incremental rehash has
 * finished (its last step frees the old bucket array, which would count as evicted).
 */
static void limit_below(size_t bytes) {
    while (kv_ht_rehash_us(db->keys, 100000))
        ;
    kv_srv.cmd_clock_us += 1000000;
    size_t used = kv_evict_used_memory();
    assert_true(used > bytes);
    kv_srv.cfg.maxmemory = used - bytes;
}

static void test_evict_used_memory_follows_malloc_and_free(void **state) {
    (void)state;
    if (!jemalloc_owns_malloc()) skip();
    size_t base = kv_evict_used_memory();
    assert_true(base > 0);
    void *p = malloc(1 << 20);
    assert_non_null(p);
    size_t grown = kv_evict_used_memory();
    assert_int_equal(grown - base, malloc_usable_size(p));
    free(p);
    assert_int_equal(kv_evict_used_memory(), base);
}

static void test_evict_nothing_to_do_without_maxmemory(void **state) {
    (void)state;
    if (!jemalloc_owns_malloc()) skip();
    for (int i = 0; i < 100; i++)
        add_key("k", i, -1);
    kv_srv.cfg.maxmemory_policy = KV_POLICY_ALLKEYS_RANDOM;
    assert_int_equal(kv_evict_perform(), 0);
    assert_int_equal(kv_db_size(db), 100);
    kv_srv.cfg.maxmemory = 1ULL << 40; /* far above */
    assert_int_equal(kv_evict_perform(), 0);
    assert_int_equal(kv_db_size(db), 100);
    assert_int_equal(kv_srv.stat_evictedkeys, 0);
}

static void test_evict_noeviction_refuses_and_keeps_every_key(void **state) {
    (void)state;
    if (!jemalloc_owns_malloc()) skip();
    for (int i = 0; i < 1000; i++)
        add_key("k", i, i % 2 ? kv_srv.mstime + 100000 : -1);
    limit_below(10000);
    assert_int_equal(kv_evict_perform(), -ENOMEM);
    assert_int_equal(kv_db_size(db), 1000);
    assert_int_equal(kv_srv.stat_evictedkeys, 0);
}

static void test_evict_allkeys_random_gets_under_the_limit(void **state) {
    (void)state;
    if (!jemalloc_owns_malloc()) skip();
    for (int i = 0; i < 2000; i++)
        add_key("k", i, -1);
    kv_srv.cfg.maxmemory_policy = KV_POLICY_ALLKEYS_RANDOM;
    limit_below(50000);
    assert_int_equal(kv_evict_perform(), 0);
    assert_true(kv_evict_used_memory() <= kv_srv.cfg.maxmemory);
    size_t gone = 2000 - kv_db_size(db);
    assert_true(gone > 0);
    assert_int_equal(kv_srv.stat_evictedkeys, gone);
    /* Each key holds about 150 bytes: 50 kB needs a few hundred keys, not all of them. */
    assert_true(gone < 1000);
}

static void test_evict_volatile_policies_never_touch_keys_without_ttl(void **state) {
    (void)state;
    if (!jemalloc_owns_malloc()) skip();
    const int policies[] = {KV_POLICY_VOLATILE_LRU, KV_POLICY_VOLATILE_LFU,
                            KV_POLICY_VOLATILE_RANDOM, KV_POLICY_VOLATILE_TTL};
    for (size_t p = 0; p < sizeof(policies) / sizeof(policies[0]); p++) {
        reset(NULL);
        for (int i = 0; i < 1000; i++)
            add_key("persist", i, -1);
        for (int i = 0; i < 1000; i++)
            add_key("ttl", i, kv_srv.mstime + 100000 + i);
        kv_srv.cfg.maxmemory_policy = policies[p];
        limit_below(40000);
        assert_int_equal(kv_evict_perform(), 0);
        assert_int_equal(count_prefix("persist"), 1000);
        assert_true(count_prefix("ttl") < 1000);
        assert_int_equal(kv_srv.stat_evictedkeys, 1000 - count_prefix("ttl"));
        assert_true(kv_evict_used_memory() <= kv_srv.cfg.maxmemory);
    }
}

static void test_evict_volatile_without_ttl_keys_fails_and_keeps_all(void **state) {
    (void)state;
    if (!jemalloc_owns_malloc()) skip();
    for (int i = 0; i < 500; i++)
        add_key("persist", i, -1);
    kv_srv.cfg.maxmemory_policy = KV_POLICY_VOLATILE_LRU;
    limit_below(10000);
    assert_int_equal(kv_evict_perform(), -ENOMEM);
    assert_int_equal(kv_db_size(db), 500);
    assert_int_equal(kv_srv.stat_evictedkeys, 0);
}

static void test_evict_allkeys_lru_takes_idle_keys_first(void **state) {
    (void)state;
    if (!jemalloc_owns_malloc()) skip();
    for (int i = 0; i < 1000; i++) {
        kv_obj_t *o = add_key("old", i, -1);
        o->lru = (uint32_t)((kv_srv.lruclock - 3600) & KV_LRU_CLOCK_MAX); /* idle 1 h */
    }
    for (int i = 0; i < 1000; i++)
        add_key("new", i, -1);
    kv_srv.cfg.maxmemory_policy = KV_POLICY_ALLKEYS_LRU;
    limit_below(60000);
    assert_int_equal(kv_evict_perform(), 0);
    size_t gone_old = 1000 - count_prefix("old"), gone_new = 1000 - count_prefix("new");
    assert_true(gone_old > 50);
    /* Approximate LRU: a recent key goes only when a whole sample missed the idle half. */
    assert_true(gone_new * 20 <= gone_old);
}

static void test_evict_allkeys_lfu_takes_rare_keys_first(void **state) {
    (void)state;
    if (!jemalloc_owns_malloc()) skip();
    kv_srv.cfg.maxmemory_policy = KV_POLICY_ALLKEYS_LFU;
    unsigned long minutes = (unsigned long)((kv_srv.mstime / 1000 / 60) & 65535);
    for (int i = 0; i < 1000; i++) {
        kv_obj_t *o = add_key("rare", i, -1);
        o->lru = (uint32_t)((minutes << 8) | 1);
    }
    for (int i = 0; i < 1000; i++) {
        kv_obj_t *o = add_key("hot", i, -1);
        o->lru = (uint32_t)((minutes << 8) | 200);
    }
    limit_below(60000);
    assert_int_equal(kv_evict_perform(), 0);
    size_t gone_rare = 1000 - count_prefix("rare"), gone_hot = 1000 - count_prefix("hot");
    assert_true(gone_rare > 50);
    assert_true(gone_hot * 20 <= gone_rare);
}

static void test_evict_volatile_ttl_takes_soonest_expiring_first(void **state) {
    (void)state;
    if (!jemalloc_owns_malloc()) skip();
    for (int i = 0; i < 1000; i++)
        add_key("soon", i, kv_srv.mstime + 60000);
    for (int i = 0; i < 1000; i++)
        add_key("late", i, kv_srv.mstime + 86400000);
    kv_srv.cfg.maxmemory_policy = KV_POLICY_VOLATILE_TTL;
    limit_below(60000);
    assert_int_equal(kv_evict_perform(), 0);
    size_t gone_soon = 1000 - count_prefix("soon"), gone_late = 1000 - count_prefix("late");
    assert_true(gone_soon > 50);
    assert_true(gone_late * 20 <= gone_soon);
}

static void test_evict_counts_aggregates_by_their_whole_size(void **state) {
    (void)state;
    if (!jemalloc_owns_malloc()) skip();
    /* One big hash and many small strings: freeing the hash alone covers the deficit. */
    kv_obj_t *h = kv_hash_new("bighash", 7, -1);
    assert_non_null(h);
    for (int i = 0; i < 5000; i++) {
        char f[32];
        int n = snprintf(f, sizeof(f), "field:%d", i);
        kv_arg_t fa = {f, (size_t)n}, va = {"some value of a field", 21};
        assert_true(kv_hash_set(&h, &fa, &va) >= 0);
    }
    assert_int_equal(kv_db_add(db, h), 0);
    h->lru = (uint32_t)((kv_srv.lruclock - 3600) & KV_LRU_CLOCK_MAX);
    for (int i = 0; i < 20; i++)
        add_key("k", i, -1);
    kv_srv.cfg.maxmemory_policy = KV_POLICY_ALLKEYS_LRU;
    kv_srv.cfg.maxmemory_samples = 64; /* sees every key: the idle hash is picked first */
    limit_below(100000);
    assert_int_equal(kv_evict_perform(), 0);
    assert_null(kv_ht_find(db->keys, "bighash", 7));
    assert_int_equal(kv_srv.stat_evictedkeys, 1);
    assert_int_equal(count_prefix("k"), 20);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_evict_used_memory_follows_malloc_and_free, reset),
        cmocka_unit_test_setup(test_evict_nothing_to_do_without_maxmemory, reset),
        cmocka_unit_test_setup(test_evict_noeviction_refuses_and_keeps_every_key, reset),
        cmocka_unit_test_setup(test_evict_allkeys_random_gets_under_the_limit, reset),
        cmocka_unit_test_setup(test_evict_volatile_policies_never_touch_keys_without_ttl, reset),
        cmocka_unit_test_setup(test_evict_volatile_without_ttl_keys_fails_and_keeps_all, reset),
        cmocka_unit_test_setup(test_evict_allkeys_lru_takes_idle_keys_first, reset),
        cmocka_unit_test_setup(test_evict_allkeys_lfu_takes_rare_keys_first, reset),
        cmocka_unit_test_setup(test_evict_volatile_ttl_takes_soonest_expiring_first, reset),
        cmocka_unit_test_setup(test_evict_counts_aggregates_by_their_whole_size, reset),
    };
    return cmocka_run_group_tests_name("kv_evict", tests, setup, teardown);
}
