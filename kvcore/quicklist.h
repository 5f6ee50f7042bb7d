/* SPDX-License-Identifier: MIT */
/*
 * quicklist.h - a list as a doubly linked list of listpack nodes (internal to kvcore/;
 * include it only from kvcore's files).
 *
 * The fill factor is list-max-listpack-size: negative -1..-5 caps each node's listpack at
 * 4, 8, 16, 32 or 64 KiB; positive n caps it at n entries (and 8 KiB as a safety limit);
 * 0 means one entry per node. A single entry larger than the cap gets a node of its own.
 * Nodes are never empty. Pushes go into the end node when it has room; an insert into a
 * full node splits it and merges the halves with neighbours when they fit.
 *
 * Entry positions (kv_ql_entry_t) and iterators are valid until the list changes, except
 * through kv_ql_iter_del. The node struct is public for the active defragmenter, which
 * walks nodes with kv_ql_defrag_node; everything else treats it as read-only.
 *
 * Errors: 0 or -errno (-ENOMEM, -ENOENT: empty list, -ERANGE: index out of range).
 */
#ifndef KV_QUICKLIST_H
#define KV_QUICKLIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "listpack.h"

#define KV_QL_FILL_MIN (-5)
#define KV_QL_FILL_MAX 32767

enum { KV_QL_HEAD = 0, KV_QL_TAIL = 1 };

typedef struct kv_ql_node {
    struct kv_ql_node *prev; /* NULL at the head */
    struct kv_ql_node *next; /* NULL at the tail */
    uint8_t *lp;             /* the node's listpack (its own allocation) */
    uint32_t count;          /* entries in lp, at least 1 */
} kv_ql_node_t;

typedef struct kv_ql {
    kv_ql_node_t *head;
    kv_ql_node_t *tail;
    size_t count; /* entries in all nodes */
    size_t nodes;
    int fill; /* list-max-listpack-size, clamped to KV_QL_FILL_MIN..KV_QL_FILL_MAX */
} kv_ql_t;

/* Where one entry is, and its value (str points into node->lp until the list changes). */
typedef struct kv_ql_entry {
    kv_ql_node_t *node;
    uint8_t *p;      /* position in node->lp */
    size_t offset;   /* index within the node */
    kv_lp_val_t val; /* decoded value */
} kv_ql_entry_t;

/* A popped value: str is malloc'd (the caller frees it), or NULL for an integer. */
typedef struct kv_ql_popped {
    char *str;
    size_t len;
    int64_t ival;
} kv_ql_popped_t;

/* An empty list with that fill factor; NULL on out-of-memory. */
kv_ql_t *kv_ql_new(int fill);
/* Frees the list and its nodes. NULL is a no-op. */
void kv_ql_free(kv_ql_t *ql);

size_t kv_ql_len(const kv_ql_t *ql);
/* Bytes held: the struct, the nodes and their listpacks (requested sizes). */
size_t kv_ql_mem_bytes(const kv_ql_t *ql);

/* Adds a string at the head or tail (KV_QL_HEAD / KV_QL_TAIL). 0 or -ENOMEM. */
int kv_ql_push(kv_ql_t *ql, int where, const void *s, size_t len);
/* Removes the head or tail entry into *out. 0, -ENOENT (empty) or -ENOMEM (list unchanged). */
int kv_ql_pop(kv_ql_t *ql, int where, kv_ql_popped_t *out);

/* The entry at index (negative counts from the tail) into *e. 0 or -ERANGE. */
int kv_ql_index(kv_ql_t *ql, long index, kv_ql_entry_t *e);
/* True if the entry equals s[0..len) (integers compare by value). */
bool kv_ql_entry_equals(const kv_ql_entry_t *e, const void *s, size_t len);
/*
 * Inserts a string before or after entry e (KV_LP_BEFORE / KV_LP_AFTER); e and all
 * positions are invalid afterwards. 0 or -ENOMEM.
 */
int kv_ql_insert(kv_ql_t *ql, const kv_ql_entry_t *e, int where, const void *s, size_t len);
/* Inserts so the string ends up at index 0..len (len appends). 0, -ERANGE or -ENOMEM. */
int kv_ql_insert_at(kv_ql_t *ql, long index, const void *s, size_t len);
/* Replaces the entry at index (LSET). 0, -ERANGE or -ENOMEM. */
int kv_ql_replace_at(kv_ql_t *ql, long index, const void *s, size_t len);
/*
 * Deletes up to count entries from start (negative counts from the tail); returns how
 * many were deleted. Empty nodes are freed.
 */
size_t kv_ql_del_range(kv_ql_t *ql, long start, size_t count);

/* --- Iteration --- */

typedef struct kv_ql_iter {
    kv_ql_t *ql;        /* private */
    kv_ql_node_t *node; /* private */
    uint8_t *p;         /* private: last returned, or the next to return when pending */
    size_t offset;      /* private */
    int dir;            /* private: KV_QL_HEAD walks head to tail, KV_QL_TAIL back */
    bool pending;       /* private */
} kv_ql_iter_t;

/* Starts at the head (dir KV_QL_HEAD, walking to the tail) or at the tail (KV_QL_TAIL). */
void kv_ql_iter_init(kv_ql_iter_t *it, kv_ql_t *ql, int dir);
/* Starts at index (negative from the tail), walking in dir. 0 or -ERANGE. */
int kv_ql_iter_init_at(kv_ql_iter_t *it, kv_ql_t *ql, int dir, long index);
/* The next entry into *e, or false at the end. */
bool kv_ql_iter_next(kv_ql_iter_t *it, kv_ql_entry_t *e);
/* Deletes e, the entry the iterator returned last; iteration goes on after it. */
void kv_ql_iter_del(kv_ql_iter_t *it, kv_ql_entry_t *e);

/* --- Defragmentation --- */

/*
 * Moves node's listpack and then the node itself through `move` (which returns the new
 * address, having copied and freed the old one, or NULL to keep it), fixing the links
 * and head/tail. Returns the node's address afterwards. No iterator or entry may be live.
 * Walk: for (n = ql->head; n != NULL; n = kv_ql_defrag_node(ql, n, move)->next).
 */
kv_ql_node_t *kv_ql_defrag_node(kv_ql_t *ql, kv_ql_node_t *node, void *(*move)(void *ptr));
/* Moves the list struct through `move`; *qlp is updated. */
void kv_ql_defrag_struct(kv_ql_t **qlp, void *(*move)(void *ptr));
/* The i-th node from the head (to resume a walk in a later time slice), or NULL. */
kv_ql_node_t *kv_ql_node_at(const kv_ql_t *ql, size_t i);

/*
 * Checks links, counts, that no node is empty, every listpack (deep) and every node with
 * more than one entry within the fill limit. 0 or -EPROTO.
 */
int kv_ql_check(const kv_ql_t *ql);

#endif /* KV_QUICKLIST_H */
