/* SPDX-License-Identifier: MIT */
/*
 * ht.c - kvcore's hashtable: 64-byte buckets of 7 entry pointers, two tables, incremental
 * rehashing and a reverse-binary cursor scan (design after Valkey 8.1,
 * docs/design.md#the-hashtable).
 *
 * Invariants: a bucket's byte `bits` holds the chained flag (bit 7) and one presence bit per
 * slot; a chained bucket keeps its child in slots[6] and never has presence bit 6; every
 * entry sits in the chain of bucket (hash & mask) of its table, with hashes[pos] = hash>>56;
 * while rehashing, table 0's buckets below rehash_idx are empty and unchained. Entries move
 * only between tables (rehash) or within one chain (compaction), so the scan cursor, which
 * names bucket indexes, never misses an entry present for the whole scan. While rehashing is
 * paused (scan callback, safe iterator) nothing moves: deletions leave holes, chains are
 * compacted and tables freed once the pause ends.
 */
#include "ht.h"
#include "kv_util.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* --- Layout and sizing --- */

#define SLOTS         7
#define LAST_SLOT     (SLOTS - 1)
#define PRESENCE_MASK 0x7fu
#define CHAINED_BIT   0x80u

/*
 * Buckets for n entries: the next power of two of ceil(n * 5 / 32), i.e. at most 91.4 % of
 * the slots filled right after a resize. Expand when an add would pass 100 % of the slots;
 * shrink when a delete leaves at most 13 %.
 */
#define BUCKET_FACTOR    5
#define BUCKET_DIVISOR   32
#define MAX_FILL_PERCENT 100
#define MIN_FILL_PERCENT 13
#define MAX_EXP          48

#define NOT_REHASHING SIZE_MAX

/* Entries kv_ht_random draws from before picking one (a few buckets' worth). */
#define RANDOM_SAMPLE 32
/* Rehash steps between clock reads in kv_ht_rehash_us. */
#define STEPS_PER_CLOCK_READ 64

typedef struct bucket {
    uint8_t bits;          /* bit 7: chained; bit i (i < 7): slots[i] holds an entry */
    uint8_t hashes[SLOTS]; /* hash >> 56 of the entry in each slot */
    void *slots[SLOTS];    /* entries; slots[6] is the child bucket when chained */
} bucket_t;

static_assert(sizeof(bucket_t) == 64, "a bucket is one 64-byte cache line");

struct kv_ht {
    const kv_ht_type_t *type;
    bucket_t *tables[2];       /* 1 is the rehash target */
    size_t used[2];            /* entries in each table */
    size_t rehash_idx;         /* next table-0 bucket to move, or NOT_REHASHING */
    uint32_t child_buckets[2]; /* allocated child buckets per table */
    int8_t exp[2];             /* table t has 1 << exp[t] buckets; -1 = no table */
    uint16_t pause;            /* scans and safe iterators in progress */
};

static_assert(sizeof(struct kv_ht) <= 64, "the table struct fits one 64-byte size class");

static inline bool is_chained(const bucket_t *b) {
    return (b->bits & CHAINED_BIT) != 0;
}

static inline unsigned presence(const bucket_t *b) {
    return b->bits & PRESENCE_MASK;
}

static inline int num_slots(const bucket_t *b) {
    return is_chained(b) ? LAST_SLOT : SLOTS;
}

static inline bucket_t *child_of(const bucket_t *b) {
    return is_chained(b) ? (bucket_t *)b->slots[LAST_SLOT] : NULL;
}

static inline bool is_full(const bucket_t *b) {
    return presence(b) == (1u << num_slots(b)) - 1;
}

static inline size_t num_buckets(int log2n) {
    return log2n < 0 ? 0 : (size_t)1 << log2n;
}

static inline size_t exp_mask(int log2n) {
    return log2n < 0 ? 0 : num_buckets(log2n) - 1;
}

static inline uint8_t high_bits(uint64_t hash) {
    return (uint8_t)(hash >> 56);
}

static inline bool is_rehashing(const kv_ht_t *ht) {
    return ht->rehash_idx != NOT_REHASHING;
}

static inline size_t total_used(const kv_ht_t *ht) {
    return ht->used[0] + ht->used[1];
}

/* The smallest exponent whose table holds n entries at the resize fill, or -1 if too big. */
static int exp_for_capacity(size_t n) {
    if (n > SIZE_MAX / BUCKET_FACTOR) return -1;
    size_t min_buckets = (n * BUCKET_FACTOR - 1) / BUCKET_DIVISOR + 1;
    if (min_buckets <= 1) return 0;
    int log2n = 64 - __builtin_clzll((unsigned long long)(min_buckets - 1));
    return log2n > MAX_EXP ? -1 : log2n;
}

/* --- Hashing: SipHash-1-2 --- */

static uint64_t seed_k0, seed_k1;

static inline uint64_t rotl64(uint64_t x, int b) {
    return (x << b) | (x >> (64 - b));
}

#define SIP_ROUND(v0, v1, v2, v3)                                                                  \
    do {                                                                                           \
        v0 += v1;                                                                                  \
        v1 = rotl64(v1, 13);                                                                       \
        v1 ^= v0;                                                                                  \
        v0 = rotl64(v0, 32);                                                                       \
        v2 += v3;                                                                                  \
        v3 = rotl64(v3, 16);                                                                       \
        v3 ^= v2;                                                                                  \
        v0 += v3;                                                                                  \
        v3 = rotl64(v3, 21);                                                                       \
        v3 ^= v0;                                                                                  \
        v2 += v1;                                                                                  \
        v1 = rotl64(v1, 17);                                                                       \
        v1 ^= v2;                                                                                  \
        v2 = rotl64(v2, 32);                                                                       \
    } while (0)

/*
 * SipHash with c compression and d finalization rounds (Aumasson and Bernstein, 2012).
 * kvcore uses c=1, d=2 as Redis does: keys are short and the table only needs resistance
 * to hash flooding, not a MAC.
 */
static inline uint64_t siphash(const uint8_t *in, size_t len, uint64_t k0, uint64_t k1, int c,
                               int d) {
    uint64_t v0 = k0 ^ 0x736f6d6570736575ULL;
    uint64_t v1 = k1 ^ 0x646f72616e646f6dULL;
    uint64_t v2 = k0 ^ 0x6c7967656e657261ULL;
    uint64_t v3 = k1 ^ 0x7465646279746573ULL;
    const uint8_t *end = in + (len & ~(size_t)7);
    for (; in != end; in += 8) {
        uint64_t m = kv_rd64(in);
        v3 ^= m;
        for (int i = 0; i < c; i++)
            SIP_ROUND(v0, v1, v2, v3);
        v0 ^= m;
    }
    uint64_t b = (uint64_t)len << 56;
    /* The tail bytes, last first: a loop rather than a fall-through switch. */
    for (size_t t = len & 7; t > 0; t--)
        b |= (uint64_t)in[t - 1] << (8 * (t - 1));
    v3 ^= b;
    for (int i = 0; i < c; i++)
        SIP_ROUND(v0, v1, v2, v3);
    v0 ^= b;
    v2 ^= 0xff;
    for (int i = 0; i < d; i++)
        SIP_ROUND(v0, v1, v2, v3);
    return v0 ^ v1 ^ v2 ^ v3;
}

uint64_t kv_hash_bytes(const void *key, size_t len) {
    return siphash(key, len, seed_k0, seed_k1, 1, 2);
}

void kv_hash_set_seed(const uint8_t seed[16]) {
    seed_k0 = kv_rd64(seed);
    seed_k1 = kv_rd64(seed + 8);
}

/* --- Keys --- */

static inline uint64_t hash_key(const kv_ht_t *ht, const void *key, size_t len) {
    return ht->type->hash != NULL ? ht->type->hash(key, len) : kv_hash_bytes(key, len);
}

static inline uint64_t hash_entry(const kv_ht_t *ht, const void *entry) {
    size_t len;
    const void *key = ht->type->entry_key(entry, &len);
    return hash_key(ht, key, len);
}

static inline bool key_matches(const kv_ht_t *ht, const void *entry, const void *key, size_t len) {
    size_t elen;
    const void *ekey = ht->type->entry_key(entry, &elen);
    return elen == len && (len == 0 || memcmp(ekey, key, len) == 0);
}

/* --- Buckets and chains --- */

static inline void move_slot(bucket_t *to, int to_pos, bucket_t *from, int from_pos) {
    to->slots[to_pos] = from->slots[from_pos];
    to->hashes[to_pos] = from->hashes[from_pos];
    to->bits |= (uint8_t)(1u << to_pos);
    from->bits &= (uint8_t) ~(1u << from_pos);
}

/* Frees the chain's last bucket and makes its parent the last one. */
static void unlink_last(kv_ht_t *ht, int t, bucket_t *parent, bucket_t *last) {
    parent->bits &= (uint8_t)~CHAINED_BIT;
    parent->slots[LAST_SLOT] = NULL;
    free(last);
    ht->child_buckets[t]--;
}

/*
 * Restores the compact shape of one chain after deletions: every bucket but the last is
 * full, and a last child bucket holds at least two entries (one would fit in its parent's
 * link slot). Entries only move within the chain, which keeps the scan guarantee.
 */
static void compact_chain(kv_ht_t *ht, int t, bucket_t *head) {
    while (is_chained(head)) {
        bucket_t *hole = NULL, *parent = NULL, *last = head;
        while (is_chained(last)) {
            if (hole == NULL && presence(last) != (1u << LAST_SLOT) - 1) hole = last;
            parent = last;
            last = child_of(last);
        }
        unsigned lp = presence(last);
        if (lp == 0) {
            unlink_last(ht, t, parent, last);
            continue;
        }
        if (hole != NULL) {
            int to = __builtin_ctz(~presence(hole) & ((1u << LAST_SLOT) - 1));
            move_slot(hole, to, last, 31 - __builtin_clz(lp));
            continue;
        }
        if (__builtin_popcount(lp) == 1) {
            int from = __builtin_ctz(lp);
            parent->bits &= (uint8_t)~CHAINED_BIT;
            move_slot(parent, LAST_SLOT, last, from);
            free(last);
            ht->child_buckets[t]--;
        }
        return;
    }
}

/* Frees a table's child buckets and bucket array (not its entries) and forgets it. */
static void free_table(kv_ht_t *ht, int t) {
    if (ht->tables[t] != NULL && ht->child_buckets[t] != 0) {
        size_t n = num_buckets(ht->exp[t]);
        for (size_t i = 0; i < n; i++) {
            bucket_t *c = child_of(&ht->tables[t][i]);
            while (c != NULL) {
                bucket_t *next = child_of(c);
                free(c);
                c = next;
            }
        }
    }
    free(ht->tables[t]);
    ht->tables[t] = NULL;
    ht->used[t] = 0;
    ht->child_buckets[t] = 0;
    ht->exp[t] = -1;
}

/*
 * Stores entry (with its hash byte h2) in table t's chain for hash, chaining a new child
 * bucket when the chain is full. 0 or -ENOMEM.
 */
static int insert_into(kv_ht_t *ht, int t, uint64_t hash, uint8_t h2, void *entry) {
    bucket_t *b = &ht->tables[t][hash & exp_mask(ht->exp[t])];
    while (is_full(b)) {
        if (!is_chained(b)) {
            bucket_t *c = calloc(1, sizeof(*c));
            if (c == NULL) return -ENOMEM;
            move_slot(c, 0, b, LAST_SLOT);
            b->slots[LAST_SLOT] = c;
            b->bits |= CHAINED_BIT;
            ht->child_buckets[t]++;
        }
        b = child_of(b);
    }
    int pos = __builtin_ctz(~presence(b) & ((1u << num_slots(b)) - 1));
    b->slots[pos] = entry;
    b->hashes[pos] = h2;
    b->bits |= (uint8_t)(1u << pos);
    ht->used[t]++;
    return 0;
}

/* Where an entry with that key is, or NULL; *head is its chain's first bucket. */
static bucket_t *lookup(const kv_ht_t *ht, uint64_t hash, const void *key, size_t len, int *pos_out,
                        int *table_out, bucket_t **head) {
    uint8_t h2 = high_bits(hash);
    for (int t = 0; t <= 1; t++) {
        if (ht->used[t] == 0) continue;
        size_t idx = hash & exp_mask(ht->exp[t]);
        if (t == 0 && idx < ht->rehash_idx && is_rehashing(ht)) continue;
        *head = &ht->tables[t][idx];
        for (bucket_t *b = *head; b != NULL; b = child_of(b)) {
            unsigned p = presence(b);
            while (p != 0) {
                int pos = __builtin_ctz(p);
                p &= p - 1;
                if (b->hashes[pos] == h2 && key_matches(ht, b->slots[pos], key, len)) {
                    *pos_out = pos;
                    *table_out = t;
                    return b;
                }
            }
        }
    }
    return NULL;
}

/* --- Resizing and rehashing --- */

static void finish_rehash(kv_ht_t *ht) {
    free(ht->tables[0]);
    ht->tables[0] = ht->tables[1];
    ht->used[0] = ht->used[1];
    ht->child_buckets[0] = ht->child_buckets[1];
    ht->exp[0] = ht->exp[1];
    ht->tables[1] = NULL;
    ht->used[1] = 0;
    ht->child_buckets[1] = 0;
    ht->exp[1] = -1;
    ht->rehash_idx = NOT_REHASHING;
}

/*
 * Moves the bucket chain at rehash_idx to table 1 and frees its child buckets. On -ENOMEM
 * (a child bucket in table 1) the entries not yet moved stay and the next step retries.
 */
static int rehash_step(kv_ht_t *ht) {
    size_t idx = ht->rehash_idx;
    bucket_t *head = &ht->tables[0][idx];
    bool shrinking = ht->exp[1] < ht->exp[0];
    for (bucket_t *b = head; b != NULL; b = child_of(b)) {
        unsigned p = presence(b);
        while (p != 0) {
            int pos = __builtin_ctz(p);
            p &= p - 1;
            void *entry = b->slots[pos];
            /* Shrinking maps bucket idx onto idx & mask1: no need to rehash the key. */
            uint64_t hash = shrinking ? idx : hash_entry(ht, entry);
            int rc = insert_into(ht, 1, hash, b->hashes[pos], entry);
            if (rc != 0) return rc;
            b->bits &= (uint8_t) ~(1u << pos);
            ht->used[0]--;
        }
    }
    bucket_t *c = child_of(head);
    while (c != NULL) {
        bucket_t *next = child_of(c);
        free(c);
        ht->child_buckets[0]--;
        c = next;
    }
    head->bits = 0;
    head->slots[LAST_SLOT] = NULL;
    if (++ht->rehash_idx >= num_buckets(ht->exp[0])) finish_rehash(ht);
    return 0;
}

static inline void step_if_needed(kv_ht_t *ht) {
    if (is_rehashing(ht) && ht->pause == 0) (void)rehash_step(ht);
}

/*
 * Starts rehashing into a table sized for min_capacity entries. Rehashing completes at
 * once when the old table is empty and nothing paused it. 0 or -ENOMEM.
 */
static int resize(kv_ht_t *ht, size_t min_capacity) {
    kv_assert(!is_rehashing(ht));
    int log2n = exp_for_capacity(min_capacity == 0 ? 1 : min_capacity);
    if (log2n < 0) return -ENOMEM;
    if (log2n == ht->exp[0]) return 0;
    bucket_t *table = calloc(num_buckets(log2n), sizeof(bucket_t));
    if (table == NULL) return -ENOMEM;
    ht->tables[1] = table;
    ht->exp[1] = (int8_t)log2n;
    ht->used[1] = 0;
    ht->child_buckets[1] = 0;
    ht->rehash_idx = 0;
    if (ht->tables[0] == NULL || (ht->used[0] == 0 && ht->pause == 0)) {
        free_table(ht, 0);
        finish_rehash(ht);
    }
    return 0;
}

static int expand_if_needed(kv_ht_t *ht) {
    if (is_rehashing(ht)) return 0;
    size_t capacity = num_buckets(ht->exp[0]) * SLOTS;
    size_t want = total_used(ht) + 1;
    if (want * 100 <= capacity * MAX_FILL_PERCENT) return 0;
    return resize(ht, want);
}

/* After deletions: frees everything when empty, or starts shrinking when sparse. */
static void shrink_if_needed(kv_ht_t *ht) {
    if (ht->pause != 0) return;
    if (total_used(ht) == 0) {
        free_table(ht, 0);
        free_table(ht, 1);
        ht->rehash_idx = NOT_REHASHING;
        return;
    }
    if (is_rehashing(ht)) return;
    size_t capacity = num_buckets(ht->exp[0]) * SLOTS;
    if (ht->used[0] * 100 <= capacity * MIN_FILL_PERCENT) (void)resize(ht, ht->used[0]);
}

static void pause_rehash(kv_ht_t *ht) {
    ht->pause++;
}

static void resume_rehash(kv_ht_t *ht) {
    kv_assert(ht->pause > 0);
    if (--ht->pause == 0) shrink_if_needed(ht);
}

/* --- Life cycle --- */

kv_ht_t *kv_ht_new(const kv_ht_type_t *type) {
    kv_ht_t *ht = malloc(sizeof(*ht));
    if (ht == NULL) return NULL;
    ht->type = type;
    ht->tables[0] = ht->tables[1] = NULL;
    ht->used[0] = ht->used[1] = 0;
    ht->rehash_idx = NOT_REHASHING;
    ht->child_buckets[0] = ht->child_buckets[1] = 0;
    ht->exp[0] = ht->exp[1] = -1;
    ht->pause = 0;
    return ht;
}

void kv_ht_clear(kv_ht_t *ht) {
    void (*entry_free)(void *) = ht->type->entry_free;
    for (int t = 0; t <= 1; t++) {
        if (ht->tables[t] == NULL) continue;
        size_t n = num_buckets(ht->exp[t]);
        for (size_t i = 0; i < n && entry_free != NULL && ht->used[t] != 0; i++) {
            for (bucket_t *b = &ht->tables[t][i]; b != NULL; b = child_of(b)) {
                unsigned p = presence(b);
                while (p != 0) {
                    int pos = __builtin_ctz(p);
                    p &= p - 1;
                    entry_free(b->slots[pos]);
                }
            }
        }
        free_table(ht, t);
    }
    ht->rehash_idx = NOT_REHASHING;
}

void kv_ht_free(kv_ht_t *ht) {
    if (ht == NULL) return;
    kv_ht_clear(ht);
    free(ht);
}

size_t kv_ht_size(const kv_ht_t *ht) {
    return total_used(ht);
}

size_t kv_ht_mem_bytes(const kv_ht_t *ht) {
    size_t buckets = num_buckets(ht->exp[0]) + num_buckets(ht->exp[1]) +
                     (size_t)ht->child_buckets[0] + (size_t)ht->child_buckets[1];
    return sizeof(*ht) + buckets * sizeof(bucket_t);
}

bool kv_ht_is_rehashing(const kv_ht_t *ht) {
    return is_rehashing(ht);
}

/* --- Lookup and update --- */

void **kv_ht_find_ref(kv_ht_t *ht, const void *key, size_t len) {
    if (total_used(ht) == 0) return NULL;
    step_if_needed(ht);
    uint64_t hash = hash_key(ht, key, len);
    int pos, t;
    bucket_t *head;
    bucket_t *b = lookup(ht, hash, key, len, &pos, &t, &head);
    return b != NULL ? &b->slots[pos] : NULL;
}

void *kv_ht_find(kv_ht_t *ht, const void *key, size_t len) {
    void **ref = kv_ht_find_ref(ht, key, len);
    return ref != NULL ? *ref : NULL;
}

int kv_ht_add(kv_ht_t *ht, void *entry) {
    size_t len;
    const void *key = ht->type->entry_key(entry, &len);
    uint64_t hash = hash_key(ht, key, len);
    if (total_used(ht) != 0) {
        step_if_needed(ht);
        int pos, t;
        bucket_t *head;
        if (lookup(ht, hash, key, len, &pos, &t, &head) != NULL) return -EEXIST;
    }
    /* A failed expand only costs longer chains, unless there is no table at all. */
    if (expand_if_needed(ht) != 0 && ht->tables[0] == NULL) return -ENOMEM;
    return insert_into(ht, is_rehashing(ht) ? 1 : 0, hash, high_bits(hash), entry);
}

void *kv_ht_pop(kv_ht_t *ht, const void *key, size_t len) {
    if (total_used(ht) == 0) return NULL;
    step_if_needed(ht);
    uint64_t hash = hash_key(ht, key, len);
    int pos, t;
    bucket_t *head;
    bucket_t *b = lookup(ht, hash, key, len, &pos, &t, &head);
    if (b == NULL) return NULL;
    void *entry = b->slots[pos];
    b->bits &= (uint8_t) ~(1u << pos);
    ht->used[t]--;
    /* While paused, a scan or an iterator may stand in this chain: leave the hole. */
    if (ht->pause == 0) {
        compact_chain(ht, t, head);
        shrink_if_needed(ht);
    }
    return entry;
}

int kv_ht_del(kv_ht_t *ht, const void *key, size_t len) {
    void *entry = kv_ht_pop(ht, key, len);
    if (entry == NULL) return -ENOENT;
    if (ht->type->entry_free != NULL) ht->type->entry_free(entry);
    return 0;
}

int kv_ht_replace_reallocated(kv_ht_t *ht, const void *old, void *new_entry) {
    uint64_t hash = hash_entry(ht, new_entry);
    uint8_t h2 = high_bits(hash);
    for (int t = 0; t <= 1; t++) {
        if (ht->used[t] == 0) continue;
        size_t idx = hash & exp_mask(ht->exp[t]);
        if (t == 0 && idx < ht->rehash_idx && is_rehashing(ht)) continue;
        for (bucket_t *b = &ht->tables[t][idx]; b != NULL; b = child_of(b)) {
            unsigned p = presence(b);
            while (p != 0) {
                int pos = __builtin_ctz(p);
                p &= p - 1;
                if (b->hashes[pos] == h2 && b->slots[pos] == old) {
                    b->slots[pos] = new_entry;
                    return 0;
                }
            }
        }
    }
    return -ENOENT;
}

/* --- Scan --- */

static inline size_t reverse_bits(size_t v) {
    v = ((v >> 1) & 0x5555555555555555ULL) | ((v & 0x5555555555555555ULL) << 1);
    v = ((v >> 2) & 0x3333333333333333ULL) | ((v & 0x3333333333333333ULL) << 2);
    v = ((v >> 4) & 0x0f0f0f0f0f0f0f0fULL) | ((v & 0x0f0f0f0f0f0f0f0fULL) << 4);
    return __builtin_bswap64(v);
}

/*
 * The cursor after v: increments the masked bits in reverse order, so indexes that differ
 * only in bits above the mask are visited together, whatever the table size was before.
 */
static inline size_t next_cursor(size_t v, size_t mask) {
    v |= ~mask;
    v = reverse_bits(v);
    v++;
    return reverse_bits(v);
}

static void scan_chain(kv_ht_t *ht, int t, size_t idx, kv_ht_scan_fn fn, void *priv,
                       void *(*move)(void *ptr)) {
    size_t used_before = ht->used[t];
    bucket_t *b = &ht->tables[t][idx];
    while (b != NULL) {
        unsigned p = presence(b);
        while (p != 0) {
            int pos = __builtin_ctz(p);
            p &= p - 1;
            fn(priv, &b->slots[pos]);
        }
        bucket_t *next = child_of(b);
        if (next != NULL && move != NULL) {
            bucket_t *moved = move(next);
            if (moved != NULL) {
                b->slots[LAST_SLOT] = moved;
                next = moved;
            }
        }
        b = next;
    }
    /* fn deleted entries: fill the holes, unless another pauser may stand in this chain. */
    if (ht->used[t] < used_before && ht->pause == 1) compact_chain(ht, t, &ht->tables[t][idx]);
}

/* One scan step with rehashing already paused by the caller. */
static size_t scan_step(kv_ht_t *ht, size_t cursor, kv_ht_scan_fn fn, void *priv,
                        void *(*move)(void *ptr)) {
    if (!is_rehashing(ht)) {
        size_t mask = exp_mask(ht->exp[0]);
        scan_chain(ht, 0, cursor & mask, fn, priv, move);
        return next_cursor(cursor, mask);
    }
    /* Visit the small table's bucket, then every bucket of the large table it expands to. */
    int small = ht->exp[0] <= ht->exp[1] ? 0 : 1;
    int large = 1 - small;
    size_t mask_small = exp_mask(ht->exp[small]);
    size_t mask_large = exp_mask(ht->exp[large]);
    size_t idx = cursor & mask_small;
    if (small == 1 || idx >= ht->rehash_idx) scan_chain(ht, small, idx, fn, priv, move);
    do {
        idx = cursor & mask_large;
        if (large == 1 || idx >= ht->rehash_idx) scan_chain(ht, large, idx, fn, priv, move);
        cursor = next_cursor(cursor, mask_large);
    } while ((cursor & (mask_small ^ mask_large)) != 0);
    return cursor;
}

static void scan_nothing(void *priv, void **entry_ref) {
    (void)priv;
    (void)entry_ref;
}

/* A scan visits buckets in reversed-bit order, a cache miss (and mostly a TLB miss) each
 * in a big table: the bucket this many steps ahead is prefetched at every step. */
#define SCAN_PREFETCH_STEPS 4

size_t kv_ht_scan_defrag(kv_ht_t *ht, size_t cursor, kv_ht_scan_fn fn, void *priv,
                         void *(*move)(void *ptr)) {
    if (total_used(ht) == 0) return 0;
    pause_rehash(ht);
    cursor = scan_step(ht, cursor, fn != NULL ? fn : scan_nothing, priv, move);
    if (cursor != 0 && !is_rehashing(ht)) {
        size_t mask = exp_mask(ht->exp[0]), ahead = cursor;
        for (int i = 1; i < SCAN_PREFETCH_STEPS && ahead != 0; i++)
            ahead = next_cursor(ahead, mask);
        __builtin_prefetch(&ht->tables[0][ahead & mask]);
    }
    resume_rehash(ht);
    return cursor;
}

size_t kv_ht_scan(kv_ht_t *ht, size_t cursor, kv_ht_scan_fn fn, void *priv) {
    return kv_ht_scan_defrag(ht, cursor, fn, priv, NULL);
}

void kv_ht_defrag_tables(kv_ht_t **htp, void *(*move)(void *ptr)) {
    kv_ht_t *ht = move(*htp);
    if (ht != NULL) *htp = ht;
    ht = *htp;
    for (int t = 0; t <= 1; t++) {
        if (ht->tables[t] == NULL) continue;
        bucket_t *table = move(ht->tables[t]);
        if (table != NULL) ht->tables[t] = table;
    }
}

/* --- Random sampling --- */

typedef struct sampler {
    void **out;
    size_t cap;
    size_t seen;
} sampler_t;

/* Reservoir sampling: every entry seen so far is in out with equal probability. */
static void sample_fn(void *priv, void **entry_ref) {
    sampler_t *s = priv;
    if (s->seen < s->cap) {
        s->out[s->seen] = *entry_ref;
    } else {
        uint64_t j = kv_rand64() % (s->seen + 1);
        if (j < s->cap) s->out[j] = *entry_ref;
    }
    s->seen++;
}

size_t kv_ht_sample(kv_ht_t *ht, void **out, size_t n) {
    if (n == 0 || total_used(ht) == 0) return 0;
    sampler_t s = {out, n, 0};
    pause_rehash(ht);
    /* Start at a random index of the smaller table: steps then walk whole index groups. */
    int log2n = ht->exp[0];
    if (is_rehashing(ht) && ht->exp[1] < log2n) log2n = ht->exp[1];
    size_t start = (size_t)kv_rand64() & exp_mask(log2n);
    size_t cursor = start;
    do {
        cursor = scan_step(ht, cursor, sample_fn, &s, NULL);
    } while (s.seen < n && cursor != start);
    resume_rehash(ht);
    return s.seen < n ? s.seen : n;
}

void *kv_ht_random(kv_ht_t *ht) {
    void *samples[RANDOM_SAMPLE];
    size_t n = kv_ht_sample(ht, samples, RANDOM_SAMPLE);
    return n == 0 ? NULL : samples[kv_rand64() % n];
}

/* --- Rehashing on a time budget --- */

static uint64_t monotonic_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

bool kv_ht_rehash_us(kv_ht_t *ht, uint64_t us) {
    if (!is_rehashing(ht) || ht->pause != 0) return is_rehashing(ht);
    uint64_t start = monotonic_us();
    for (unsigned steps = 1; is_rehashing(ht); steps++) {
        if (rehash_step(ht) != 0) break;
        if (steps % STEPS_PER_CLOCK_READ == 0 && monotonic_us() - start >= us) break;
    }
    return is_rehashing(ht);
}

/* --- Safe iteration --- */

/*
 * Iterator state: (table, index) is the chain being walked, bucket the bucket in it (NULL
 * before the chain's head is loaded) and pos the next slot to look at. pos == 7 after the
 * last slot of a bucket that was not chained then: if an add has since chained it, the
 * entry from slot 6 now sits in slot 0 of the child and was already returned. remaining
 * holds used[table] when the chain was entered, to spot deletions worth a compaction.
 */

void kv_ht_iter_init(kv_ht_iter_t *it, kv_ht_t *ht) {
    it->ht = ht;
    it->table = 0;
    it->index = 0;
    it->bucket = NULL;
    it->pos = 0;
    it->remaining = ht->used[0];
    pause_rehash(ht);
}

/* Leaves the current chain: compacts it if entries were deleted and nothing else paused. */
static void iter_leave_chain(kv_ht_iter_t *it) {
    kv_ht_t *ht = it->ht;
    int t = (int)it->table;
    if (ht->pause == 1 && ht->used[t] != it->remaining && ht->tables[t] != NULL &&
        it->index < num_buckets(ht->exp[t]))
        compact_chain(ht, t, &ht->tables[t][it->index]);
    it->remaining = ht->used[t];
}

bool kv_ht_iter_next(kv_ht_iter_t *it, void **entry) {
    kv_ht_t *ht = it->ht;
    for (;;) {
        if (it->bucket == NULL) {
            if (it->index >= num_buckets(ht->exp[it->table])) {
                if (it->table == 0 && is_rehashing(ht)) {
                    it->table = 1;
                    it->index = 0;
                    it->remaining = ht->used[1];
                    continue;
                }
                return false;
            }
            it->bucket = &ht->tables[it->table][it->index];
            it->pos = 0;
        }
        bucket_t *b = it->bucket;
        int n = num_slots(b);
        while (it->pos < n) {
            int pos = it->pos++;
            if (presence(b) & (1u << pos)) {
                *entry = b->slots[pos];
                return true;
            }
        }
        if (is_chained(b)) {
            it->pos = it->pos > LAST_SLOT ? 1 : 0;
            it->bucket = child_of(b);
            continue;
        }
        iter_leave_chain(it);
        it->index++;
        it->bucket = NULL;
    }
}

void kv_ht_iter_fini(kv_ht_iter_t *it) {
    if (it->bucket != NULL) iter_leave_chain(it);
    resume_rehash(it->ht);
}

/* --- Consistency check --- */

/* How many entries with that key the table holds (searching both tables). */
static size_t count_key(const kv_ht_t *ht, uint64_t hash, const void *key, size_t len) {
    size_t count = 0;
    for (int t = 0; t <= 1; t++) {
        if (ht->tables[t] == NULL) continue;
        size_t idx = hash & exp_mask(ht->exp[t]);
        for (const bucket_t *b = &ht->tables[t][idx]; b != NULL; b = child_of(b)) {
            unsigned p = presence(b);
            while (p != 0) {
                int pos = __builtin_ctz(p);
                p &= p - 1;
                if (key_matches(ht, b->slots[pos], key, len)) count++;
            }
        }
    }
    return count;
}

static int check_table(const kv_ht_t *ht, int t) {
    size_t n = num_buckets(ht->exp[t]);
    size_t mask = exp_mask(ht->exp[t]);
    size_t used = 0, children = 0;
    for (size_t idx = 0; idx < n; idx++) {
        const bucket_t *head = &ht->tables[t][idx];
        bool moved = t == 0 && is_rehashing(ht) && idx < ht->rehash_idx;
        if (moved && head->bits != 0) return -EPROTO;
        for (const bucket_t *b = head; b != NULL; b = child_of(b)) {
            if (b != head) children++;
            if (is_chained(b) && ((b->bits & (1u << LAST_SLOT)) || b->slots[LAST_SLOT] == NULL))
                return -EPROTO;
            if (children > ht->child_buckets[t]) return -EPROTO; /* also stops a cycle */
            unsigned p = presence(b);
            while (p != 0) {
                int pos = __builtin_ctz(p);
                p &= p - 1;
                const void *entry = b->slots[pos];
                if (entry == NULL) return -EPROTO;
                size_t len;
                const void *key = ht->type->entry_key(entry, &len);
                uint64_t hash = hash_key(ht, key, len);
                if ((hash & mask) != idx || high_bits(hash) != b->hashes[pos]) return -EPROTO;
                if (count_key(ht, hash, key, len) != 1) return -EPROTO;
                used++;
            }
        }
    }
    if (used != ht->used[t] || children != ht->child_buckets[t]) return -EPROTO;
    return 0;
}

int kv_ht_check(const kv_ht_t *ht) {
    if (ht == NULL || ht->type == NULL || ht->type->entry_key == NULL) return -EPROTO;
    for (int t = 0; t <= 1; t++) {
        bool has = ht->tables[t] != NULL;
        if (has != (ht->exp[t] >= 0) || ht->exp[t] > MAX_EXP) return -EPROTO;
        if (!has && (ht->used[t] != 0 || ht->child_buckets[t] != 0)) return -EPROTO;
    }
    if (is_rehashing(ht)) {
        if (ht->tables[0] == NULL || ht->tables[1] == NULL) return -EPROTO;
        if (ht->exp[0] == ht->exp[1] || ht->rehash_idx >= num_buckets(ht->exp[0])) return -EPROTO;
    } else if (ht->tables[1] != NULL) {
        return -EPROTO;
    }
    for (int t = 0; t <= 1; t++) {
        if (ht->tables[t] == NULL) continue;
        int rc = check_table(ht, t);
        if (rc != 0) return rc;
    }
    return 0;
}
