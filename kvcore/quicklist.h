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
 * Compression (list-compress-depth, as Redis): with depth d > 0 the d nodes at each end
 * stay plain listpacks and every node between them is kept LZF-compressed, unless it is
 * under 48 bytes or compression would not save at least 9 bytes (it then stays plain).
 * Reading a compressed node decompresses it into the list's one "open" node; the open
 * node is compressed again when a read opens another node, an iterator leaves it, a
 * change settles it, or kv_ql_release is called. A change decompresses the nodes it
 * touches and compresses them back (and the nodes that crossed the depth) before it
 * returns. Reads must decompress to work: out of memory there ends the process, as
 * Redis's allocator does; changes return -ENOMEM instead.
 *
 * Entry positions (kv_ql_entry_t) and iterators are valid until the list changes, except
 * through kv_ql_iter_del, or until a read of another node of a compressed list. The node
 * struct is public for the active defragmenter, which walks nodes with
 * kv_ql_defrag_node, and for the writers (RDB, digest); everything else treats it as
 * read-only.
 *
 * Errors: 0 or -errno (-ENOMEM, -ENOENT: empty list, -ERANGE: index out of range).
 */
#ifndef KV_QUICKLIST_H
#define KV_QUICKLIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "listpack.h"

#define KV_QL_FILL_MIN  (-5)
#define KV_QL_FILL_MAX  32767
#define KV_QL_DEPTH_MAX 65535 /* Redis keeps the depth in 16 bits */

enum { KV_QL_HEAD = 0, KV_QL_TAIL = 1 };

typedef struct kv_ql_node {
    struct kv_ql_node *prev; /* NULL at the head */
    struct kv_ql_node *next; /* NULL at the tail */
    uint8_t *lp;             /* the listpack, or its LZF form when lzf_bytes != 0 */
    uint32_t count;          /* entries in the listpack, at least 1 */
    uint32_t lzf_bytes;      /* 0: lp is a listpack; else the bytes of LZF data at lp */
    uint32_t raw_bytes;      /* the listpack's bytes while compressed */
} kv_ql_node_t;

typedef struct kv_ql {
    kv_ql_node_t *head;
    kv_ql_node_t *tail;
    size_t count; /* entries in all nodes */
    size_t nodes;
    int fill;           /* list-max-listpack-size, clamped to KV_QL_FILL_MIN..KV_QL_FILL_MAX */
    unsigned depth;     /* list-compress-depth, 0..KV_QL_DEPTH_MAX; 0: never compressed */
    kv_ql_node_t *open; /* private: a node beyond the depth decompressed for a read */
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

/* An empty list with that fill factor, not compressed; NULL on out-of-memory. */
kv_ql_t *kv_ql_new(int fill);
/* Frees the list and its nodes. NULL is a no-op. */
void kv_ql_free(kv_ql_t *ql);
/*
 * Sets the compress depth (clamped to 0..KV_QL_DEPTH_MAX) and compresses or decompresses
 * every node to match: O(nodes), meant for a new list. A node that cannot be decompressed
 * for lack of memory stays compressed (reads still work).
 */
void kv_ql_set_depth(kv_ql_t *ql, long depth);
/* Compresses back the node a read left decompressed (after an early-ended walk). */
void kv_ql_release(kv_ql_t *ql);

size_t kv_ql_len(const kv_ql_t *ql);
/* Bytes held: the struct, the nodes and their listpacks or LZF data (requested sizes). */
size_t kv_ql_mem_bytes(const kv_ql_t *ql);

/* True when the node's data is LZF-compressed. */
static inline bool kv_ql_node_is_compressed(const kv_ql_node_t *n) {
    return n->lzf_bytes != 0;
}
/* The node's listpack bytes, compressed or not (Redis's node->sz). */
static inline size_t kv_ql_node_raw_bytes(const kv_ql_node_t *n) {
    return n->lzf_bytes != 0 ? n->raw_bytes : kv_lp_bytes(n->lp);
}
/*
 * The node's listpack for reading without changing the list: lp itself, or a copy
 * decompressed into a buffer stored in *scratch (the caller frees it; NULL when none was
 * needed). NULL on out-of-memory or when the LZF data does not decompress to its size.
 */
const uint8_t *kv_ql_node_listpack(const kv_ql_node_t *n, uint8_t **scratch);

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
 * Checks links, counts, that no node is empty, every listpack (deep, compressed ones
 * decompressed) and every node with more than one entry within the fill limit; with a
 * compress depth, that the nodes within it are not compressed. 0, -EPROTO or -ENOMEM.
 */
int kv_ql_check(const kv_ql_t *ql);

#endif /* KV_QUICKLIST_H */
