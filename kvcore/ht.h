/* SPDX-License-Identifier: MIT */
/*
 * ht.h - kvcore's hashtable of entry pointers (internal to kvcore/).
 *
 * In the spirit of Valkey 8.1's hashtable (docs/design.md#the-hashtable): open hashing in
 * 64-byte buckets of 7 slots, each slot with one byte of the hash's high bits so most
 * misses never touch the entry; a full bucket chains to a child bucket through its last
 * slot; two tables and incremental rehashing (one bucket chain per step); a
 * reverse-binary cursor scan that emits every entry present for the whole scan at least
 * once, even across rehashing. The table stores entry pointers only: the key lives in
 * the entry (kv_ht_type_t.entry_key), so the keyspace, sets, hashes and zsets all use
 * this one structure (the TTL index is an array of the keyspace's object pointers:
 * expire.c). Memory comes from malloc (the shim); the defrag entry points let the active
 * defragmenter move the table's own allocations.
 *
 * Error convention: 0 or -errno (-ENOMEM, -EEXIST, -ENOENT, -EPROTO).
 */
#ifndef KV_HT_H
#define KV_HT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct kv_ht kv_ht_t;

typedef struct kv_ht_type {
    /* The key of an entry: its bytes, and its length in *len. Required. */
    const void *(*entry_key)(const void *entry, size_t *len);
    /* Hash of a key; NULL means kv_hash_bytes. */
    uint64_t (*hash)(const void *key, size_t len);
    /* Called for entries that kv_ht_del, kv_ht_clear and kv_ht_free remove; may be NULL. */
    void (*entry_free)(void *entry);
} kv_ht_type_t;

/* SipHash-1-2 of bytes under the process's random seed (set once at start-up). */
uint64_t kv_hash_bytes(const void *key, size_t len);
/* Sets the seed (16 bytes); tests use a fixed one for reproducible layouts. */
void kv_hash_set_seed(const uint8_t seed[16]);

/* A new empty table (no buckets until the first add); NULL on out-of-memory. */
kv_ht_t *kv_ht_new(const kv_ht_type_t *type);
/* Frees every entry (entry_free) and the table. NULL is a no-op. */
void kv_ht_free(kv_ht_t *ht);
/* Frees every entry (entry_free) and leaves an empty table. */
void kv_ht_clear(kv_ht_t *ht);

size_t kv_ht_size(const kv_ht_t *ht);
/* Bytes the table itself holds (struct, bucket arrays, child buckets), not its entries. */
size_t kv_ht_mem_bytes(const kv_ht_t *ht);
bool kv_ht_is_rehashing(const kv_ht_t *ht);

/* The entry whose key equals key[0..len), or NULL. May do one rehash step. */
void *kv_ht_find(kv_ht_t *ht, const void *key, size_t len);
/*
 * The address of the slot holding that entry, or NULL. Valid until the next add, delete,
 * rehash step or scan; lets a caller that reallocated the entry store the new pointer.
 */
void **kv_ht_find_ref(kv_ht_t *ht, const void *key, size_t len);

/* Adds entry. Returns 0, -EEXIST (an entry with that key is present) or -ENOMEM. */
int kv_ht_add(kv_ht_t *ht, void *entry);
/*
 * Removes the entry with that key and returns it without calling entry_free; NULL when
 * there is none.
 */
void *kv_ht_pop(kv_ht_t *ht, const void *key, size_t len);
/* Removes the entry with that key and calls entry_free on it. 0 or -ENOENT. */
int kv_ht_del(kv_ht_t *ht, const void *key, size_t len);
/*
 * Where `old` is stored, stores `new_entry` instead, comparing pointers only: `old` is
 * never dereferenced (it may already be freed). new_entry's key must equal old's key, and
 * is used to find the bucket. Returns 0 or -ENOENT.
 */
int kv_ht_replace_reallocated(kv_ht_t *ht, const void *old, void *new_entry);

/*
 * One scan step from `cursor` (0 starts a scan): calls fn for every entry of one bucket
 * index (in both tables while rehashing) and returns the next cursor, 0 when the scan is
 * complete. Every entry present for the whole scan is emitted at least once; some may be
 * emitted twice. fn gets the slot's address and may store a reallocated entry there, or
 * delete that one entry; it must not add or delete others. Rehashing pauses during fn.
 */
typedef void (*kv_ht_scan_fn)(void *priv, void **entry_ref);
size_t kv_ht_scan(kv_ht_t *ht, size_t cursor, kv_ht_scan_fn fn, void *priv);

/*
 * Like kv_ht_scan, and also moves the child buckets it walks through `move` (which
 * returns the new address or NULL to keep the old one). For the active defragmenter.
 */
size_t kv_ht_scan_defrag(kv_ht_t *ht, size_t cursor, kv_ht_scan_fn fn, void *priv,
                         void *(*move)(void *ptr));
/* Moves the table struct and its top-level bucket arrays through `move`; *htp is updated. */
void kv_ht_defrag_tables(kv_ht_t **htp, void *(*move)(void *ptr));

/* A random entry (fair enough for RANDOMKEY and eviction sampling), NULL when empty. */
void *kv_ht_random(kv_ht_t *ht);
/* Up to n entries sampled from random positions into out; returns how many. */
size_t kv_ht_sample(kv_ht_t *ht, void **out, size_t n);

/* Rehashes for about `us` microseconds (cron's budget). Returns true if still rehashing. */
bool kv_ht_rehash_us(kv_ht_t *ht, uint64_t us);

/*
 * Safe iteration (rehashing paused while an iterator is live): the entry last returned
 * may be deleted. Iterators live on the caller's stack; fields are private.
 */
typedef struct kv_ht_iter {
    kv_ht_t *ht;      /* private */
    size_t table;     /* private */
    size_t index;     /* private */
    void *bucket;     /* private */
    int pos;          /* private */
    size_t remaining; /* private */
} kv_ht_iter_t;
void kv_ht_iter_init(kv_ht_iter_t *it, kv_ht_t *ht);
/* Stores the next entry in *entry and returns true, or returns false at the end. */
bool kv_ht_iter_next(kv_ht_iter_t *it, void **entry);
/* Must be called once iteration stops (resumes rehashing, compacts chains). */
void kv_ht_iter_fini(kv_ht_iter_t *it);

/* Walks the whole structure and checks its invariants. 0 or -EPROTO. */
int kv_ht_check(const kv_ht_t *ht);

#endif /* KV_HT_H */
