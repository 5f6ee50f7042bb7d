/* SPDX-License-Identifier: MIT */
/*
 * t_hash.h - the hash type (internal to kvcore/; include it only from kvcore's files).
 *
 * A hash object's value is one of two structures, told apart by the object's encoding:
 *   KV_ENC_HASHPACK   small hashes: a pack (hashpack.h) of field, value, field, value...
 *                     inside the object itself, after its key (OBJECT ENCODING answers
 *                     "listpack", and RDB and DUMP write a Redis listpack)
 *   KV_ENC_HASHTABLE  a kv_ht (ht.h) of entries, each one allocation holding a field
 *                     and its value (kv_hash_entry_field / kv_hash_entry_value), behind
 *                     the object's value pointer
 * A pack becomes a hashtable when a write brings a field or value longer than
 * hash-max-listpack-value, or leaves more than hash-max-listpack-entries fields (Redis
 * 7.0's rules, so OBJECT ENCODING agrees); it never converts back.
 *
 * Because a pack lives inside the object, a change may move the object: the functions
 * that change a hash take `kv_obj_t **op` and store the object's new address there (a
 * conversion makes a new pointer object too). The old pointer is then invalid; a caller
 * whose object is in a db stores the new one with kv_db_replaced (cmd_hash.c), before
 * anything else looks the key up, also after a failed change. On -ENOMEM the hash holds
 * exactly what it held.
 *
 * Field and value bytes handed out point into the structure (or into a caller's
 * KV_INTBUF buffer for integers kept in the pack) and stay valid until the hash
 * changes. Errors: 0 or -errno (-ENOMEM).
 */
#ifndef KV_T_HASH_H
#define KV_T_HASH_H

#include <string.h>

#include "kv_internal.h"

#define KV_INTBUF 24 /* a decimal int64 and its NUL, with room to spare */

/* Iterators live on the caller's stack; fields are private. */
typedef struct kv_hash_iter {
    kv_obj_t *o;          /* private */
    const uint8_t *p;     /* private: pack position of the next field */
    size_t left;          /* private: pairs left in the pack */
    kv_ht_iter_t hi;      /* private */
    char fbuf[KV_INTBUF]; /* private: an integer field, in decimal */
    char vbuf[KV_INTBUF]; /* private: an integer value, in decimal */
} kv_hash_iter_t;

/* A new empty hash object for key (a pack). NULL on out-of-memory. */
kv_obj_t *kv_hash_new(const char *key, size_t klen, int64_t expire_ms);
/* Number of fields. */
size_t kv_hash_len(const kv_obj_t *o);
/*
 * Looks field up: true when present, with *val (if val is not NULL) set to its value,
 * which may be written into ibuf (KV_INTBUF bytes).
 */
bool kv_hash_get(kv_obj_t *o, const kv_arg_t *field, kv_arg_t *val, char *ibuf);
bool kv_hash_exists(kv_obj_t *o, const kv_arg_t *field);
/*
 * Sets field to val (neither may point into the object), converting to a hashtable when
 * the limits say so; *op may move. Returns 1 when the field is new, 0 when it was
 * updated, or -ENOMEM: the hash holds what it held, and *op is unchanged unless a long
 * field or value converted it to a hashtable before the write failed.
 */
int kv_hash_set(kv_obj_t **op, const kv_arg_t *field, const kv_arg_t *val);
/*
 * Before a write of the n strings args (fields and values): converts a pack to a
 * hashtable when one is longer than hash-max-listpack-value (hashTypeTryConversion);
 * *op may move. 0 or -ENOMEM (unchanged).
 */
int kv_hash_try_convert(kv_obj_t **op, const kv_arg_t *args, int n);
/* Deletes field; true if it was there; *op may move. The caller deletes a hash left
 * empty. Never fails. */
bool kv_hash_del(kv_obj_t **op, const kv_arg_t *field);
/* Converts a pack to a hashtable object (no-op for a hashtable): *op moves. 0 or -ENOMEM
 * (unchanged). */
int kv_hash_convert(kv_obj_t **op);
/*
 * A pack's contents as the Redis listpack of field, value, ... (RDB, DUMP): its size,
 * and the listpack written into lp (kv_hash_lp_bytes(o) bytes). pre: a pack.
 */
size_t kv_hash_lp_bytes(const kv_obj_t *o);
void kv_hash_to_lp(const kv_obj_t *o, uint8_t *lp, size_t bytes);
/*
 * A random field and (if val is not NULL) its value; integers are written into fbuf /
 * vbuf (KV_INTBUF bytes each). pre: kv_hash_len(o) > 0.
 */
void kv_hash_random(kv_obj_t *o, kv_arg_t *field, kv_arg_t *val, char *fbuf, char *vbuf);

/* Walks every field in order (pack: insertion order). The hash must not change. */
void kv_hash_iter_init(kv_hash_iter_t *it, kv_obj_t *o);
bool kv_hash_iter_next(kv_hash_iter_t *it, kv_arg_t *field, kv_arg_t *val);
void kv_hash_iter_fini(kv_hash_iter_t *it);

/* The field and the value of a hashtable entry (HSCAN walks the kv_ht directly). */
const char *kv_hash_entry_field(const void *entry, size_t *len);
const char *kv_hash_entry_value(const void *entry, size_t *len);

/*
 * Active defrag hook shared by hashes and sets (kv_type_ops_t.defrag_value): nothing for
 * a pack (it moved with its object); moves a listpack or intset value as one block; for a hashtable
 * value moves the table on the first call (*cursor 0), then the entries of buckets from *cursor on,
 * about `budget` of them per call (in runs of up to 32 through m->move_batch when it is set).
 * Returns true when done (*cursor 0), false with the scan cursor to resume from.
 */
bool kv_agg_defrag_value(kv_obj_t *o, uint64_t *cursor, size_t budget, const kv_defrag_mover_t *m);

/*
 * Shared by hashes and sets. kv_agg_register_type registers own's free_value, mem_bytes,
 * dup_value and defrag_len for type, with kv_agg_defrag_value, keeping the hooks others
 * registered (defrag). kv_agg_ht_bytes is the allocated size of a kv_ht of single-block
 * entries, table and entries.
 */
void kv_agg_register_type(int type, const kv_type_ops_t *own);
size_t kv_agg_ht_bytes(kv_ht_t *ht);

/*
 * The length header a hashtable entry of a hash or set starts each string with: one byte
 * below 255, else 0xFF and the length as 8 native-endian bytes. kv_agg_len_hdr: its size;
 * kv_agg_len_put writes it at p, kv_agg_len_get reads it into *len; both return the
 * position after it. Inline: entry keys are read on every hashtable lookup.
 */
static inline size_t kv_agg_len_hdr(size_t len) {
    return len < 255 ? 1 : 9;
}

static inline unsigned char *kv_agg_len_put(unsigned char *p, size_t len) {
    if (len < 255) {
        *p = (unsigned char)len;
        return p + 1;
    }
    uint64_t l = len;
    p[0] = 0xFF;
    memcpy(p + 1, &l, 8);
    return p + 9;
}

static inline const unsigned char *kv_agg_len_get(const unsigned char *p, size_t *len) {
    if (p[0] != 0xFF) {
        *len = p[0];
        return p + 1;
    }
    uint64_t l;
    memcpy(&l, p + 1, 8);
    *len = (size_t)l;
    return p + 9;
}

/*
 * Checks the value: a valid canonical pack with unique fields inside its object's
 * allocation, or a valid kv_ht whose entries fit their allocations. 0 or -EPROTO.
 */
int kv_hash_check(const kv_obj_t *o);

#endif /* KV_T_HASH_H */
