/* SPDX-License-Identifier: MIT */
/*
 * test_kv_ht.c - kvcore's hashtable (kvcore/ht.h): lookups at 100k keys, incremental
 * rehashing, the scan guarantee across expand and shrink, pointer replacement, safe
 * iteration, sampling, memory accounting and the defrag hooks. kv_ht_check runs after
 * mutations (sampled where the table is large).
 */
#include "test_common.h"

#include <limits.h>
#include <malloc.h>

#include "ht.h"

/* Entries are malloc'd NUL-terminated strings; the key is the whole string. */
static const void *str_key(const void *entry, size_t *len) {
    *len = strlen(entry);
    return entry;
}

static int freed_entries;

static void str_free(void *entry) {
    freed_entries++;
    free(entry);
}

static const kv_ht_type_t str_type = {.entry_key = str_key, .entry_free = str_free};

/* Every key in one chain: exercises child buckets deterministically. */
static uint64_t hash_zero(const void *key, size_t len) {
    (void)key;
    (void)len;
    return 0;
}

static const kv_ht_type_t zero_type = {
    .entry_key = str_key, .hash = hash_zero, .entry_free = str_free};

/* Four chains, so a small table has long chains in several buckets. */
static uint64_t hash_mod4(const void *key, size_t len) {
    return kv_hash_bytes(key, len) & 3;
}

static const kv_ht_type_t mod4_type = {
    .entry_key = str_key, .hash = hash_mod4, .entry_free = str_free};

static char *make_key(const char *prefix, long i) {
    char buf[64];
    snprintf(buf, sizeof(buf), "%s:%ld", prefix, i);
    char *s = strdup(buf);
    assert_non_null(s);
    return s;
}

static long key_index(const char *key) {
    const char *colon = strchr(key, ':');
    assert_non_null(colon);
    return strtol(colon + 1, NULL, 10);
}

static void add_key(kv_ht_t *ht, const char *prefix, long i) {
    char *s = make_key(prefix, i);
    assert_int_equal(kv_ht_add(ht, s), 0);
}

static bool has_key(kv_ht_t *ht, const char *prefix, long i) {
    char buf[64];
    int n = snprintf(buf, sizeof(buf), "%s:%ld", prefix, i);
    char *found = kv_ht_find(ht, buf, (size_t)n);
    if (found != NULL) assert_string_equal(found, buf);
    return found != NULL;
}

static int del_key(kv_ht_t *ht, const char *prefix, long i) {
    char buf[64];
    int n = snprintf(buf, sizeof(buf), "%s:%ld", prefix, i);
    return kv_ht_del(ht, buf, (size_t)n);
}

static int setup(void **state) {
    (void)state;
    static const uint8_t seed[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
    kv_hash_set_seed(seed);
    freed_entries = 0;
    return 0;
}

/* --- Hashing --- */

static void test_ht_hash_is_siphash12_under_the_seed(void **state) {
    (void)state;
    uint8_t seed[16], msg[15];
    for (int i = 0; i < 16; i++)
        seed[i] = (uint8_t)i;
    for (int i = 0; i < 15; i++)
        msg[i] = (uint8_t)i;
    kv_hash_set_seed(seed);
    /* SipHash-1-2 values; the same code with 2/4 rounds gives the paper's test vectors. */
    assert_true(kv_hash_bytes(msg, 15) == 0xec8f61bc1c8966a6ULL);
    assert_true(kv_hash_bytes(msg, 0) == 0xcea28b51565c12e2ULL);
    assert_true(kv_hash_bytes("abc", 3) == 0x78f15a5ebaacf534ULL);
    seed[0] ^= 1;
    kv_hash_set_seed(seed);
    assert_true(kv_hash_bytes("abc", 3) != 0x78f15a5ebaacf534ULL);
    setup(NULL);
}

/* --- Basic operations --- */

static void test_ht_adds_finds_and_deletes_100k_keys(void **state) {
    (void)state;
    const long n = 100000;
    kv_ht_t *ht = kv_ht_new(&str_type);
    assert_non_null(ht);
    assert_int_equal(kv_ht_check(ht), 0);
    assert_null(kv_ht_find(ht, "key:0", 5));
    for (long i = 0; i < n; i++) {
        add_key(ht, "key", i);
        if (i % 9973 == 0) assert_int_equal(kv_ht_check(ht), 0);
    }
    assert_int_equal(kv_ht_size(ht), n);
    assert_int_equal(kv_ht_check(ht), 0);

    char *dup = make_key("key", 4242);
    assert_int_equal(kv_ht_add(ht, dup), -EEXIST);
    free(dup);
    for (long i = 0; i < n; i++)
        assert_true(has_key(ht, "key", i));
    assert_false(has_key(ht, "key", n));
    assert_false(has_key(ht, "other", 1));

    /* Delete the even keys. */
    for (long i = 0; i < n; i += 2) {
        assert_int_equal(del_key(ht, "key", i), 0);
        if (i % 10002 == 0) assert_int_equal(kv_ht_check(ht), 0);
    }
    assert_int_equal(del_key(ht, "key", 0), -ENOENT);
    assert_int_equal(kv_ht_size(ht), n / 2);
    assert_int_equal(freed_entries, n / 2);
    assert_int_equal(kv_ht_check(ht), 0);
    for (long i = 0; i < n; i++)
        assert_int_equal(has_key(ht, "key", i), i % 2 == 1);

    /* Pop returns the entry without freeing it. */
    char *popped = kv_ht_pop(ht, "key:1", 5);
    assert_non_null(popped);
    assert_string_equal(popped, "key:1");
    assert_int_equal(freed_entries, n / 2);
    free(popped);
    assert_null(kv_ht_pop(ht, "key:1", 5));

    for (long i = 3; i < n; i += 2) {
        assert_int_equal(del_key(ht, "key", i), 0);
        if (i % 10001 == 0) assert_int_equal(kv_ht_check(ht), 0);
    }
    assert_int_equal(kv_ht_size(ht), 0);
    assert_int_equal(kv_ht_check(ht), 0);
    /* An emptied table gives back every bucket. */
    kv_ht_t *fresh = kv_ht_new(&str_type);
    assert_int_equal(kv_ht_mem_bytes(ht), kv_ht_mem_bytes(fresh));
    kv_ht_free(fresh);
    kv_ht_free(ht);
}

static void test_ht_find_ref_lets_caller_store_new_pointer(void **state) {
    (void)state;
    kv_ht_t *ht = kv_ht_new(&str_type);
    for (long i = 0; i < 100; i++)
        add_key(ht, "k", i);
    void **ref = kv_ht_find_ref(ht, "k:42", 4);
    assert_non_null(ref);
    assert_string_equal(*ref, "k:42");
    char *copy = strdup("k:42");
    free(*ref);
    *ref = copy;
    assert_ptr_equal(kv_ht_find(ht, "k:42", 4), copy);
    assert_null(kv_ht_find_ref(ht, "k:100", 5));
    assert_int_equal(kv_ht_check(ht), 0);
    kv_ht_free(ht);
}

static void test_ht_clear_frees_entries_and_keeps_table_usable(void **state) {
    (void)state;
    kv_ht_t *ht = kv_ht_new(&str_type);
    for (long i = 0; i < 5000; i++)
        add_key(ht, "c", i);
    freed_entries = 0;
    kv_ht_clear(ht);
    assert_int_equal(freed_entries, 5000);
    assert_int_equal(kv_ht_size(ht), 0);
    assert_false(kv_ht_is_rehashing(ht));
    assert_int_equal(kv_ht_check(ht), 0);
    add_key(ht, "c", 1);
    assert_true(has_key(ht, "c", 1));
    kv_ht_free(ht);
    assert_int_equal(freed_entries, 5001);
    kv_ht_free(NULL);
}

/* --- Rehashing --- */

/* Adds keys until an add starts rehashing; returns how many were added. */
static long add_until_rehashing(kv_ht_t *ht, const char *prefix, long from) {
    long i = from;
    while (!kv_ht_is_rehashing(ht))
        add_key(ht, prefix, i++);
    return i;
}

static void test_ht_rehashes_incrementally_on_lookups(void **state) {
    (void)state;
    kv_ht_t *ht = kv_ht_new(&str_type);
    long n = 0;
    while (n < 5000)
        add_key(ht, "r", n++);
    assert_false(kv_ht_rehash_us(ht, 10000000));
    n = add_until_rehashing(ht, "r", n);
    assert_int_equal(kv_ht_check(ht), 0);
    long lookups = 0;
    while (kv_ht_is_rehashing(ht)) {
        assert_true(has_key(ht, "r", lookups % n));
        if (++lookups % 97 == 0) assert_int_equal(kv_ht_check(ht), 0);
    }
    assert_true(lookups > 1);
    assert_int_equal(kv_ht_check(ht), 0);
    for (long i = 0; i < n; i++)
        assert_true(has_key(ht, "r", i));

    /* Deleting down past 13 % starts a shrink, which completes under the cron budget. */
    long keep = n / 10;
    for (long i = keep; i < n; i++)
        assert_int_equal(del_key(ht, "r", i), 0);
    assert_true(kv_ht_is_rehashing(ht));
    assert_false(kv_ht_rehash_us(ht, 1000000));
    assert_int_equal(kv_ht_check(ht), 0);
    for (long i = 0; i < n; i++)
        assert_int_equal(has_key(ht, "r", i), i < keep);
    kv_ht_free(ht);
}

/* --- Scan --- */

typedef struct scan_seen {
    unsigned char *stable; /* times each stable key was emitted */
    long churn_emitted;
    kv_ht_t *ht;
    bool delete_churn; /* the callback deletes the churn entries it is given */
} scan_seen_t;

static void record_fn(void *priv, void **entry_ref) {
    scan_seen_t *s = priv;
    const char *key = *entry_ref;
    if (strncmp(key, "stable:", 7) == 0) {
        long i = key_index(key);
        if (s->stable[i] < 255) s->stable[i]++;
    } else {
        s->churn_emitted++;
        if (s->delete_churn) {
            char copy[64];
            snprintf(copy, sizeof(copy), "%s", key);
            assert_int_equal(kv_ht_del(s->ht, copy, strlen(copy)), 0);
        }
    }
}

static void test_ht_scan_emits_each_entry_once_when_table_is_stable(void **state) {
    (void)state;
    const long n = 20000;
    kv_ht_t *ht = kv_ht_new(&str_type);
    for (long i = 0; i < n; i++)
        add_key(ht, "stable", i);
    kv_ht_rehash_us(ht, 10000000);
    scan_seen_t s = {.stable = calloc((size_t)n, 1), .ht = ht};
    size_t cursor = 0;
    do {
        cursor = kv_ht_scan(ht, cursor, record_fn, &s);
    } while (cursor != 0);
    for (long i = 0; i < n; i++)
        assert_int_equal(s.stable[i], 1);
    free(s.stable);
    kv_ht_clear(ht);
    /* An empty table's scan is complete at once and calls nothing. */
    assert_int_equal(kv_ht_scan(ht, 0, record_fn, NULL), 0);
    kv_ht_free(ht);
}

/*
 * Scans while adds force expansions and then deletes force shrinks; every stable key must
 * be emitted at least once. Lookups between steps keep rehashing moving, so steps see both
 * tables at many rehash positions.
 */
static void scan_under_churn(bool delete_in_callback) {
    const long stable = 3000, churn = 120000;
    kv_ht_t *ht = kv_ht_new(&str_type);
    for (long i = 0; i < stable; i++)
        add_key(ht, "stable", i);
    kv_ht_rehash_us(ht, 10000000);
    scan_seen_t s = {.stable = calloc((size_t)stable, 1), .ht = ht};
    size_t start_bytes = kv_ht_mem_bytes(ht), max_bytes = start_bytes, min_after_max = SIZE_MAX;
    long added = 0, deleted = 0, steps = 0, rehashing_steps = 0;
    size_t cursor = 0;
    do {
        s.delete_churn = delete_in_callback && added == churn;
        cursor = kv_ht_scan(ht, cursor, record_fn, &s);
        steps++;
        if (kv_ht_is_rehashing(ht)) rehashing_steps++;
        /* First grow the table 40x, then delete everything that was added. */
        for (int k = 0; k < 400 && added < churn; k++)
            add_key(ht, "churn", added++);
        if (added == churn) {
            for (int k = 0; k < 400 && deleted < churn; k++)
                if (del_key(ht, "churn", deleted++) != 0 && !delete_in_callback) fail();
        }
        for (int k = 0; k < 8; k++)
            (void)has_key(ht, "stable", (steps * 8 + k) % stable);
        size_t bytes = kv_ht_mem_bytes(ht);
        if (bytes > max_bytes) max_bytes = bytes;
        if (added == churn && bytes < min_after_max) min_after_max = bytes;
        if (steps % 64 == 0) assert_int_equal(kv_ht_check(ht), 0);
    } while (cursor != 0);
    for (long i = 0; i < stable; i++)
        assert_true(s.stable[i] >= 1);
    /* The scan really spanned an expansion and a shrink, and saw rehashing in progress. */
    assert_true(max_bytes > start_bytes * 8);
    assert_true(min_after_max < max_bytes / 4);
    assert_true(rehashing_steps > 0);
    assert_true(deleted > 0);
    assert_int_equal(kv_ht_check(ht), 0);
    free(s.stable);
    kv_ht_free(ht);
}

static void test_ht_scan_emits_stable_keys_across_expand_and_shrink(void **state) {
    (void)state;
    scan_under_churn(false);
}

static void test_ht_scan_callback_may_delete_the_emitted_entry(void **state) {
    (void)state;
    scan_under_churn(true);
    /* A callback deleting every entry it gets empties the table in one scan. */
    kv_ht_t *ht = kv_ht_new(&zero_type);
    for (long i = 0; i < 40; i++)
        add_key(ht, "churn", i);
    scan_seen_t s = {.stable = NULL, .ht = ht, .delete_churn = true};
    size_t cursor = 0;
    do {
        cursor = kv_ht_scan(ht, cursor, record_fn, &s);
        assert_int_equal(kv_ht_check(ht), 0);
    } while (cursor != 0);
    assert_int_equal(s.churn_emitted, 40);
    assert_int_equal(kv_ht_size(ht), 0);
    kv_ht_free(ht);
}

static void scan_nothing_fn(void *priv, void **entry_ref) {
    (void)priv;
    assert_non_null(*entry_ref);
}

/* --- Replacing reallocated entries --- */

static void test_ht_replace_reallocated_matches_by_pointer_only(void **state) {
    (void)state;
    kv_ht_t *ht = kv_ht_new(&str_type);
    long n = 0;
    while (n < 3000)
        add_key(ht, "m", n++);
    kv_ht_rehash_us(ht, 10000000);
    n = add_until_rehashing(ht, "m", n);
    assert_true(kv_ht_is_rehashing(ht));
    /* Move every entry: the old copy is freed before the call, so it must not be read. */
    for (long i = 0; i < n; i++) {
        char buf[64];
        snprintf(buf, sizeof(buf), "m:%ld", i);
        char *old = kv_ht_find(ht, buf, strlen(buf));
        assert_non_null(old);
        char *moved = strdup(old);
        /* Keep only the address: the freed block is never read again. */
        volatile uintptr_t old_addr = (uintptr_t)old;
        free(old);
        assert_int_equal(kv_ht_replace_reallocated(ht, (const void *)old_addr, moved), 0);
        assert_ptr_equal(kv_ht_find(ht, buf, strlen(buf)), moved);
    }
    assert_int_equal(kv_ht_check(ht), 0);
    /* An equal key at an address the table does not hold is not found. */
    char *stranger = strdup("m:7");
    assert_int_equal(kv_ht_replace_reallocated(ht, stranger, stranger), -ENOENT);
    free(stranger);
    kv_ht_free(ht);
}

/* --- Safe iteration --- */

static void test_ht_iterator_returns_each_entry_once_and_allows_deleting_it(void **state) {
    (void)state;
    const long n = 10000;
    kv_ht_t *ht = kv_ht_new(&str_type);
    for (long i = 0; i < n; i++)
        add_key(ht, "it", i);
    add_until_rehashing(ht, "it", n);
    long total = (long)kv_ht_size(ht);
    unsigned char *seen = calloc((size_t)total, 1);
    kv_ht_iter_t it;
    kv_ht_iter_init(&it, ht);
    void *entry;
    long returned = 0;
    while (kv_ht_iter_next(&it, &entry)) {
        long i = key_index(entry);
        seen[i]++;
        returned++;
        /* Rehashing is paused: lookups do not move entries under the iterator. */
        long probe = ((i * 7) % total) | 1; /* odd keys are never deleted */
        if (probe < total) assert_true(has_key(ht, "it", probe));
        if (i % 2 == 0) {
            char copy[64];
            snprintf(copy, sizeof(copy), "%s", (char *)entry);
            assert_int_equal(kv_ht_del(ht, copy, strlen(copy)), 0);
        }
    }
    kv_ht_iter_fini(&it);
    assert_int_equal(returned, total);
    for (long i = 0; i < total; i++)
        assert_int_equal(seen[i], 1);
    assert_int_equal(kv_ht_size(ht), total / 2);
    assert_int_equal(kv_ht_check(ht), 0);
    for (long i = 0; i < total; i++)
        assert_int_equal(has_key(ht, "it", i), i % 2 == 1);
    free(seen);
    kv_ht_free(ht);
}

static void test_ht_iterator_survives_adds_that_chain_buckets(void **state) {
    (void)state;
    /* All keys share one chain, so every add lands in the chain being iterated. */
    kv_ht_t *ht = kv_ht_new(&zero_type);
    const long n = 30;
    for (long i = 0; i < n; i++)
        add_key(ht, "old", i);
    kv_ht_rehash_us(ht, 10000000);
    unsigned char seen[30] = {0};
    kv_ht_iter_t it;
    kv_ht_iter_init(&it, ht);
    void *entry;
    long added = 0;
    while (kv_ht_iter_next(&it, &entry)) {
        if (strncmp(entry, "old:", 4) == 0) seen[key_index(entry)]++;
        if (added < 200) {
            for (int k = 0; k < 3; k++)
                add_key(ht, "new", added++);
        }
    }
    kv_ht_iter_fini(&it);
    for (long i = 0; i < n; i++)
        assert_int_equal(seen[i], 1);
    assert_int_equal(kv_ht_check(ht), 0);
    for (long i = 0; i < added; i++)
        assert_true(has_key(ht, "new", i));
    kv_ht_free(ht);
}

static void test_ht_iterator_deleting_everything_compacts_and_frees(void **state) {
    (void)state;
    kv_ht_t *ht = kv_ht_new(&mod4_type);
    for (long i = 0; i < 200; i++)
        add_key(ht, "d", i);
    kv_ht_iter_t it;
    kv_ht_iter_init(&it, ht);
    void *entry;
    long returned = 0;
    while (kv_ht_iter_next(&it, &entry)) {
        char copy[64];
        snprintf(copy, sizeof(copy), "%s", (char *)entry);
        assert_int_equal(kv_ht_del(ht, copy, strlen(copy)), 0);
        returned++;
    }
    kv_ht_iter_fini(&it);
    assert_int_equal(returned, 200);
    assert_int_equal(kv_ht_size(ht), 0);
    assert_int_equal(kv_ht_check(ht), 0);
    kv_ht_t *fresh = kv_ht_new(&str_type);
    assert_int_equal(kv_ht_mem_bytes(ht), kv_ht_mem_bytes(fresh));
    kv_ht_free(fresh);
    kv_ht_free(ht);
}

/* --- Random sampling --- */

static void test_ht_random_reaches_every_entry_roughly_evenly(void **state) {
    (void)state;
    const long n = 1000, draws = 200000;
    kv_ht_t *ht = kv_ht_new(&str_type);
    assert_null(kv_ht_random(ht));
    for (long i = 0; i < n; i++)
        add_key(ht, "rnd", i);
    kv_ht_rehash_us(ht, 10000000);
    long *hits = calloc((size_t)n, sizeof(long));
    for (long d = 0; d < draws; d++)
        hits[key_index(kv_ht_random(ht))]++;
    long min = draws, max = 0;
    for (long i = 0; i < n; i++) {
        if (hits[i] < min) min = hits[i];
        if (hits[i] > max) max = hits[i];
    }
    /* Expected 200 each; scan-window sampling may skew a few-fold but never starve. */
    assert_true(min >= 40);
    assert_true(max <= 800);
    free(hits);
    kv_ht_free(ht);
}

static void test_ht_sample_returns_distinct_entries(void **state) {
    (void)state;
    const long n = 500;
    kv_ht_t *ht = kv_ht_new(&str_type);
    void *out[64];
    assert_int_equal(kv_ht_sample(ht, out, 16), 0);
    for (long i = 0; i < 10; i++)
        add_key(ht, "s", i);
    /* Asking for more than there are returns each entry once. */
    assert_int_equal(kv_ht_sample(ht, out, 64), 10);
    unsigned char small_seen[10] = {0};
    for (int j = 0; j < 10; j++)
        small_seen[key_index(out[j])]++;
    for (int j = 0; j < 10; j++)
        assert_int_equal(small_seen[j], 1);
    for (long i = 10; i < n; i++)
        add_key(ht, "s", i);
    long *hits = calloc((size_t)n, sizeof(long));
    for (int round = 0; round < 20000; round++) {
        assert_int_equal(kv_ht_sample(ht, out, 16), 16);
        unsigned char local[500] = {0};
        for (int j = 0; j < 16; j++) {
            long i = key_index(out[j]);
            assert_int_equal(local[i]++, 0);
            hits[i]++;
        }
    }
    long min = LONG_MAX;
    for (long i = 0; i < n; i++)
        if (hits[i] < min) min = hits[i];
    /* 640 expected each. */
    assert_true(min >= 160);
    free(hits);
    kv_ht_free(ht);
}

/* --- Memory accounting --- */

static void test_ht_mem_bytes_counts_buckets_and_child_buckets(void **state) {
    (void)state;
    kv_ht_t *ht = kv_ht_new(&zero_type);
    size_t base = kv_ht_mem_bytes(ht);
    assert_true(base > 0 && base <= 64);
    add_key(ht, "z", 0);
    assert_int_equal(kv_ht_mem_bytes(ht), base + 64);
    for (long i = 1; i < 7; i++)
        add_key(ht, "z", i);
    assert_int_equal(kv_ht_mem_bytes(ht), base + 64);
    /* The 8th entry passes 100 % of 7 slots: a 2-bucket table is added, rehashing starts. */
    add_key(ht, "z", 7);
    assert_true(kv_ht_is_rehashing(ht));
    kv_ht_rehash_us(ht, 10000000);
    /* All 8 hash to bucket 0: 6 in the head, 2 in one child bucket. */
    assert_int_equal(kv_ht_mem_bytes(ht), base + 2 * 64 + 64);
    assert_int_equal(kv_ht_check(ht), 0);
    for (long i = 8; i < 14; i++)
        add_key(ht, "z", i);
    assert_int_equal(kv_ht_mem_bytes(ht), base + 2 * 64 + 2 * 64);
    assert_int_equal(kv_ht_check(ht), 0);
    /* Deleting compacts the chain and frees child buckets: 9 = 6 + 3, then 7 fit the head. */
    for (long i = 0; i < 5; i++)
        assert_int_equal(del_key(ht, "z", i), 0);
    assert_int_equal(kv_ht_check(ht), 0);
    assert_int_equal(kv_ht_mem_bytes(ht), base + 2 * 64 + 64);
    for (long i = 5; i < 8; i++)
        assert_int_equal(del_key(ht, "z", i), 0);
    assert_int_equal(kv_ht_check(ht), 0);
    assert_int_equal(kv_ht_mem_bytes(ht), base + 2 * 64);
    for (long i = 8; i < 14; i++)
        assert_int_equal(del_key(ht, "z", i), 0);
    assert_int_equal(kv_ht_mem_bytes(ht), base);
    assert_int_equal(kv_ht_check(ht), 0);
    kv_ht_free(ht);
}

static void test_ht_mem_bytes_per_entry_is_near_bucket_cost_when_full(void **state) {
    (void)state;
    kv_ht_t *ht = kv_ht_new(&str_type);
    /* Grow to just before the expansion at 100 % fill (7 * 2^k slots). */
    long n = 0;
    while (n < 7 * 4096)
        add_key(ht, "f", n++);
    kv_ht_rehash_us(ht, 10000000);
    size_t bytes = kv_ht_mem_bytes(ht);
    /* 4096 buckets of 64 bytes, plus the chains of a full table: under 14 B per entry. */
    assert_true(bytes >= 4096 * 64);
    assert_true(bytes < (size_t)n * 14);
    kv_ht_free(ht);
}

/* --- Defrag hooks --- */

static int moves;

static void *move_alloc(void *ptr) {
    size_t size = malloc_usable_size(ptr);
    void *copy = malloc(size);
    assert_non_null(copy);
    memcpy(copy, ptr, size);
    free(ptr);
    moves++;
    return copy;
}

static void *move_none(void *ptr) {
    (void)ptr;
    moves++;
    return NULL;
}

static void move_entry_fn(void *priv, void **entry_ref) {
    long *count = priv;
    char *old = *entry_ref;
    *entry_ref = strdup(old);
    free(old);
    (*count)++;
}

static void test_ht_scan_defrag_moves_child_buckets_and_entries(void **state) {
    (void)state;
    kv_ht_t *ht = kv_ht_new(&mod4_type);
    const long n = 300;
    for (long i = 0; i < n; i++)
        add_key(ht, "g", i);
    kv_ht_rehash_us(ht, 10000000);
    /* Keys hash to 4 buckets: every entry beyond 4 * 6 lives in child buckets. */
    size_t buckets_bytes = kv_ht_mem_bytes(ht);
    moves = 0;
    long emitted = 0;
    size_t cursor = 0;
    do {
        cursor = kv_ht_scan_defrag(ht, cursor, move_entry_fn, &emitted, move_alloc);
    } while (cursor != 0);
    assert_int_equal(emitted, n);
    assert_true(moves > 0);
    assert_int_equal(kv_ht_mem_bytes(ht), buckets_bytes);
    assert_int_equal(kv_ht_check(ht), 0);
    for (long i = 0; i < n; i++)
        assert_true(has_key(ht, "g", i));

    /* A move function that declines keeps everything in place. */
    moves = 0;
    cursor = 0;
    do {
        cursor = kv_ht_scan_defrag(ht, cursor, NULL, NULL, move_none);
    } while (cursor != 0);
    assert_true(moves > 0);
    assert_int_equal(kv_ht_check(ht), 0);
    kv_ht_free(ht);
}

static void test_ht_scan_defrag_calls_move_once_per_child_bucket(void **state) {
    (void)state;
    /* 40 keys in the chain of bucket 0: head and 5 children hold 6 each, the last 4. */
    kv_ht_t *ht = kv_ht_new(&zero_type);
    for (long i = 0; i < 40; i++)
        add_key(ht, "c", i);
    kv_ht_rehash_us(ht, 10000000);
    size_t bytes = kv_ht_mem_bytes(ht);
    moves = 0;
    size_t cursor = 0;
    do {
        cursor = kv_ht_scan_defrag(ht, cursor, NULL, NULL, move_alloc);
    } while (cursor != 0);
    assert_int_equal(moves, 6);
    assert_int_equal(kv_ht_mem_bytes(ht), bytes);
    assert_int_equal(kv_ht_check(ht), 0);
    for (long i = 0; i < 40; i++)
        assert_true(has_key(ht, "c", i));
    kv_ht_free(ht);
}

static void test_ht_defrag_tables_moves_struct_and_bucket_arrays(void **state) {
    (void)state;
    kv_ht_t *ht = kv_ht_new(&str_type);
    long n = 0;
    while (n < 2000)
        add_key(ht, "t", n++);
    kv_ht_rehash_us(ht, 10000000);
    n = add_until_rehashing(ht, "t", n);
    assert_true(kv_ht_is_rehashing(ht));
    moves = 0;
    kv_ht_defrag_tables(&ht, move_alloc);
    /* The struct and both tables moved. */
    assert_int_equal(moves, 3);
    assert_non_null(ht);
    assert_int_equal(kv_ht_check(ht), 0);
    for (long i = 0; i < n; i++)
        assert_true(has_key(ht, "t", i));
    moves = 0;
    kv_ht_t *same = ht;
    kv_ht_defrag_tables(&ht, move_none);
    assert_ptr_equal(ht, same);
    kv_ht_free(ht);
}

/* --- Randomized operations against a reference --- */

static void random_ops(const kv_ht_type_t *type, long keyspace, long ops) {
    kv_ht_t *ht = kv_ht_new(type);
    bool *present = calloc((size_t)keyspace, sizeof(bool));
    unsigned seed = 12345;
    size_t cursor = 0;
    long count = 0;
    for (long op = 0; op < ops; op++) {
        seed = seed * 1103515245u + 12345u;
        long k = (long)((seed >> 8) % (unsigned)keyspace);
        unsigned what = (seed >> 4) % 8;
        /* Phases of mostly adds and mostly deletes make the table grow and shrink. */
        bool growing = (op / (ops / 8)) % 2 == 0;
        if (what < (growing ? 5u : 1u)) {
            char *s = make_key("o", k);
            int rc = kv_ht_add(ht, s);
            assert_int_equal(rc, present[k] ? -EEXIST : 0);
            if (rc != 0) free(s);
            if (!present[k]) count++;
            present[k] = true;
        } else if (what < 6) {
            assert_int_equal(del_key(ht, "o", k), present[k] ? 0 : -ENOENT);
            if (present[k]) count--;
            present[k] = false;
        } else if (what < 7) {
            assert_int_equal(has_key(ht, "o", k), present[k]);
        } else {
            cursor = kv_ht_scan(ht, cursor, scan_nothing_fn, NULL);
        }
        assert_int_equal(kv_ht_size(ht), count);
        if (op % 7 == 0) assert_int_equal(kv_ht_check(ht), 0);
    }
    for (long k = 0; k < keyspace; k++)
        assert_int_equal(has_key(ht, "o", k), present[k]);
    assert_int_equal(kv_ht_check(ht), 0);
    free(present);
    kv_ht_free(ht);
}

static void test_ht_random_operations_match_a_reference_set(void **state) {
    (void)state;
    random_ops(&str_type, 3000, 60000);
    random_ops(&mod4_type, 200, 20000);
    random_ops(&zero_type, 60, 10000);
}

/* --- Checker --- */

static void test_ht_check_rejects_entry_whose_key_changed(void **state) {
    (void)state;
    kv_ht_t *ht = kv_ht_new(&str_type);
    for (long i = 0; i < 100; i++)
        add_key(ht, "x", i);
    assert_int_equal(kv_ht_check(ht), 0);
    char *e = kv_ht_find(ht, "x:5", 3);
    e[0] = 'y'; /* now hashes elsewhere */
    assert_int_equal(kv_ht_check(ht), -EPROTO);
    e[0] = 'x';
    assert_int_equal(kv_ht_check(ht), 0);
    kv_ht_free(ht);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_ht_hash_is_siphash12_under_the_seed, setup),
        cmocka_unit_test_setup(test_ht_adds_finds_and_deletes_100k_keys, setup),
        cmocka_unit_test_setup(test_ht_find_ref_lets_caller_store_new_pointer, setup),
        cmocka_unit_test_setup(test_ht_clear_frees_entries_and_keeps_table_usable, setup),
        cmocka_unit_test_setup(test_ht_rehashes_incrementally_on_lookups, setup),
        cmocka_unit_test_setup(test_ht_scan_emits_each_entry_once_when_table_is_stable, setup),
        cmocka_unit_test_setup(test_ht_scan_emits_stable_keys_across_expand_and_shrink, setup),
        cmocka_unit_test_setup(test_ht_scan_callback_may_delete_the_emitted_entry, setup),
        cmocka_unit_test_setup(test_ht_replace_reallocated_matches_by_pointer_only, setup),
        cmocka_unit_test_setup(test_ht_iterator_returns_each_entry_once_and_allows_deleting_it,
                               setup),
        cmocka_unit_test_setup(test_ht_iterator_survives_adds_that_chain_buckets, setup),
        cmocka_unit_test_setup(test_ht_iterator_deleting_everything_compacts_and_frees, setup),
        cmocka_unit_test_setup(test_ht_random_reaches_every_entry_roughly_evenly, setup),
        cmocka_unit_test_setup(test_ht_sample_returns_distinct_entries, setup),
        cmocka_unit_test_setup(test_ht_mem_bytes_counts_buckets_and_child_buckets, setup),
        cmocka_unit_test_setup(test_ht_mem_bytes_per_entry_is_near_bucket_cost_when_full, setup),
        cmocka_unit_test_setup(test_ht_scan_defrag_moves_child_buckets_and_entries, setup),
        cmocka_unit_test_setup(test_ht_scan_defrag_calls_move_once_per_child_bucket, setup),
        cmocka_unit_test_setup(test_ht_defrag_tables_moves_struct_and_bucket_arrays, setup),
        cmocka_unit_test_setup(test_ht_random_operations_match_a_reference_set, setup),
        cmocka_unit_test_setup(test_ht_check_rejects_entry_whose_key_changed, setup),
    };
    return cmocka_run_group_tests_name("kv_ht", tests, NULL, NULL);
}
