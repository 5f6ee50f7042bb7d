/* SPDX-License-Identifier: MIT */
/*
 * t_set.h - the set type (internal to kvcore/; include it only from kvcore's files).
 *
 * A set object's value is one of three structures, told apart by the object's encoding:
 *   KV_ENC_INTSET     an intset (intset.h): every member is an integer
 *   KV_ENC_LISTPACK   a listpack (listpack.h) of members
 *   KV_ENC_HASHTABLE  a kv_ht (ht.h) of member entries (kv_set_entry_member)
 * Conversions follow Redis 7.2 (t_set.c's file comment has the rules, driven by
 * set-max-intset-entries, set-max-listpack-entries and set-max-listpack-value); nothing
 * converts back. Functions that change the set store a moved value pointer in the object
 * (kv_obj_set_ptr): the object itself never moves.
 *
 * Member bytes handed out point into the structure (or into a KV_INTBUF buffer for
 * integers) and stay valid until the set changes. Errors: 0 or -errno (-ENOMEM, -EINVAL).
 */
#ifndef KV_T_SET_H
#define KV_T_SET_H

#include "t_hash.h"

/* Iterators live on the caller's stack; fields are private. */
typedef struct kv_set_iter {
    kv_obj_t *o;          /* private */
    size_t pos;           /* private: intset index */
    uint8_t *p;           /* private: listpack position */
    kv_ht_iter_t hi;      /* private */
    char ibuf[KV_INTBUF]; /* private: an integer member, in decimal */
} kv_set_iter_t;

/*
 * A new empty set object for key, encoded for a command that is about to add size_hint
 * members, the first being `first` (Redis 7.2's setTypeCreate): an intset when first is
 * an integer (or NULL) and size_hint <= set-max-intset-entries, else a listpack when
 * size_hint <= set-max-listpack-entries, else a hashtable. NULL on out-of-memory.
 */
kv_obj_t *kv_set_new(const char *key, size_t klen, const kv_arg_t *first, size_t size_hint);
/* Number of members. */
size_t kv_set_len(const kv_obj_t *o);
/*
 * Adds m (which must not point into o), converting as needed. Returns 1 when added, 0
 * when already a member, -ENOMEM (the set is unchanged).
 */
int kv_set_add(kv_obj_t *o, const kv_arg_t *m);
/* Removes m; true if it was a member. The caller deletes a set left empty. */
bool kv_set_remove(kv_obj_t *o, const kv_arg_t *m);
bool kv_set_contains(kv_obj_t *o, const kv_arg_t *m);
/* Before adding size_hint members: a compact set that would pass its limit becomes a
 * hashtable at once (setTypeMaybeConvert). 0 or -ENOMEM. */
int kv_set_maybe_convert(kv_obj_t *o, size_t size_hint);
/*
 * Converts to encoding: intset -> listpack, intset or listpack -> hashtable (a no-op when
 * already there). 0, -EINVAL (another direction) or -ENOMEM (unchanged).
 */
int kv_set_convert(kv_obj_t *o, int encoding);
/* A random member; integers are written into ibuf (KV_INTBUF). pre: kv_set_len(o) > 0. */
void kv_set_random(kv_obj_t *o, kv_arg_t *m, char *ibuf);

/* Walks every member (intset: ascending; listpack: insertion order). No changes meanwhile. */
void kv_set_iter_init(kv_set_iter_t *it, kv_obj_t *o);
bool kv_set_iter_next(kv_set_iter_t *it, kv_arg_t *m);
void kv_set_iter_fini(kv_set_iter_t *it);

/* The member of a hashtable entry (SSCAN walks the kv_ht directly). */
const char *kv_set_entry_member(const void *entry, size_t *len);

/*
 * Checks the value: a valid intset, a valid listpack of unique members, or a valid kv_ht
 * whose entries fit their allocations. 0 or -EPROTO.
 */
int kv_set_check(const kv_obj_t *o);

#endif /* KV_T_SET_H */
