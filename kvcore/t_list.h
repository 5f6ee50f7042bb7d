/* SPDX-License-Identifier: MIT */
/*
 * t_list.h - the list type (internal to kvcore/; include it only from kvcore's files).
 *
 * A list object's value is one of two structures, told apart by the object's encoding:
 *   KV_ENC_LISTPACK   a bare listpack (uint8_t *), for lists within one node's limit
 *   KV_ENC_QUICKLIST  a kv_ql_t (quicklist.h), a linked list of listpack nodes
 * The limit is list-max-listpack-size (-1..-5: 4..64 KiB, n > 0: n entries and 8 KiB).
 * A quicklist takes list-compress-depth when it is created and keeps it (quicklist.h).
 * As Redis 7.2 does, a listpack becomes a quicklist before a change would take it past
 * the limit, and a quicklist of one node that shrank to half the limit becomes a listpack
 * again (the halving avoids flapping). The fill of an existing quicklist stays the one it
 * was created with; conversions judge by the current configuration.
 *
 * Callers tell the type before they add (kv_list_grow) and after they remove
 * (kv_list_shrink). Every function that changes the list may move the value: it stores
 * the new pointer in the object itself (kv_obj_set_ptr), so the object never moves.
 *
 * Errors: 0 or -errno (-ENOMEM, -ERANGE: index out of range).
 */
#ifndef KV_T_LIST_H
#define KV_T_LIST_H

#include "kv_internal.h"
#include "quicklist.h"

enum { KV_LIST_HEAD = KV_QL_HEAD, KV_LIST_TAIL = KV_QL_TAIL };

/* One element's position and value (val.str points into the list until it changes). */
typedef struct kv_list_entry {
    kv_lp_val_t val;
    uint8_t *p;       /* private: listpack position */
    kv_ql_entry_t qe; /* private: quicklist position */
} kv_list_entry_t;

/* Iterators live on the caller's stack; fields are private. */
typedef struct kv_list_iter {
    kv_obj_t *o;     /* private */
    bool forward;    /* private: head to tail */
    bool started;    /* private */
    uint8_t *p;      /* private: listpack position (next to return when !started) */
    kv_ql_iter_t qi; /* private */
} kv_list_iter_t;

/* A new empty list object for key, listpack encoded. NULL on out-of-memory. */
kv_obj_t *kv_list_new(const char *key, size_t klen, int64_t expire_ms);
/* Number of elements. */
size_t kv_list_len(const kv_obj_t *o);

/*
 * Before adding add_count elements of add_bytes bytes in total: turns a listpack that
 * would pass the limit into a quicklist. 0 or -ENOMEM (the list is unchanged).
 */
int kv_list_grow(kv_obj_t *o, size_t add_bytes, size_t add_count);
/* After removing elements: turns a small enough one-node quicklist into a listpack. */
void kv_list_shrink(kv_obj_t *o);

/* Adds s[0..len) at the head or the tail. 0 or -ENOMEM. */
int kv_list_push(kv_obj_t *o, int where, const void *s, size_t len);
/* The element at index (negative counts from the tail) into *e. 0 or -ERANGE. */
int kv_list_index(kv_obj_t *o, long index, kv_list_entry_t *e);
/* Replaces the element at index. 0, -ERANGE or -ENOMEM. */
int kv_list_replace_at(kv_obj_t *o, long index, const void *s, size_t len);
/* Deletes up to count elements from start (negative counts from the tail); the count. */
size_t kv_list_del_range(kv_obj_t *o, long start, size_t count);

/*
 * Starts at index (negative counts from the tail), walking towards the tail when forward
 * is true, else towards the head. 0 or -ERANGE (the iterator then returns nothing).
 */
int kv_list_iter_init(kv_list_iter_t *it, kv_obj_t *o, long index, bool forward);
/* The next element into *e; false at the end. */
bool kv_list_iter_next(kv_list_iter_t *it, kv_list_entry_t *e);
/* Deletes e, the element the iterator returned last; iteration continues after it. */
void kv_list_iter_del(kv_list_iter_t *it, kv_list_entry_t *e);
/*
 * After reads that may have stopped inside the list (an index, a walk ended early): lets
 * a compressed quicklist compress back the node the read decompressed.
 */
void kv_list_release(kv_obj_t *o);
/* True if the element equals s[0..len) (integers compare by their decimal form). */
bool kv_list_entry_equals(const kv_list_entry_t *e, const void *s, size_t len);
/*
 * Inserts s[0..len) before or after e (KV_LP_BEFORE / KV_LP_AFTER). Every entry and
 * iterator of the list is invalid afterwards. 0 or -ENOMEM.
 */
int kv_list_insert(kv_obj_t *o, const kv_list_entry_t *e, int where, const void *s, size_t len);

/* Bytes the value holds (allocation sizes), for MEMORY USAGE. */
size_t kv_list_value_bytes(const void *ptr, int encoding);
/*
 * Checks the value: a listpack deeply, a quicklist's links, counts and nodes, and that
 * the encoding is one of the two. 0 or -EPROTO.
 */
int kv_list_check(const kv_obj_t *o);

#endif /* KV_T_LIST_H */
