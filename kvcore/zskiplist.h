/* SPDX-License-Identifier: MIT */
/*
 * zskiplist.h - the ordered index of a sorted set: a skiplist by (score, member) with
 * spans for ranks (internal to kvcore/; include it only from kvcore's files).
 *
 * As in Redis's zskiplist: up to 32 levels, a node rises a level with probability 1/4,
 * each link stores how many nodes it skips, so ZRANK and rank ranges cost O(log n).
 * One allocation per element holds the node, its levels and the member bytes (plus a
 * NUL), so a sorted set's hashtable can store the node pointer itself as its entry and
 * take the member from it (kv_zsl_node_member). Members are ordered bytewise, shorter
 * first on a common prefix; scores must not be NaN.
 *
 * The skiplist never checks that a member is unique: the sorted set's hashtable does.
 * Node pointers stay valid until the node is deleted or moved by kv_zsl_defrag_node or
 * kv_zsl_defrag_range (kv_zsl_update_score keeps the node). Node fields are read-only
 * outside zskiplist.c.
 *
 * Errors: 0 or -errno (-ENOENT).
 */
#ifndef KV_ZSKIPLIST_H
#define KV_ZSKIPLIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KV_ZSL_MAXLEVEL 32

typedef struct kv_zsl_node kv_zsl_node_t;

typedef struct kv_zsl_level {
    kv_zsl_node_t *forward;
    size_t span; /* nodes between this one and forward, forward included */
} kv_zsl_level_t;

struct kv_zsl_node {
    double score;
    kv_zsl_node_t *backward; /* NULL for the first node */
    uint32_t mlen;           /* member length */
    uint8_t height;          /* levels in level[] */
    kv_zsl_level_t level[];  /* then the member's bytes and a NUL */
};

typedef struct kv_zsl {
    kv_zsl_node_t *header; /* sentinel with KV_ZSL_MAXLEVEL levels, no member */
    kv_zsl_node_t *tail;
    size_t length;
    int level; /* levels in use, 1..KV_ZSL_MAXLEVEL */
} kv_zsl_t;

/* Score interval [min, max], each end exclusive when its flag says so. */
typedef struct kv_zsl_range {
    double min, max;
    bool minex, maxex;
} kv_zsl_range_t;

/*
 * Member interval as ZRANGEBYLEX takes it: an end is "-" (inf = -1), "+" (inf = +1) or
 * a value (inf = 0) that is exclusive when its flag says so.
 */
typedef struct kv_zsl_lexrange {
    const void *min;
    size_t minlen;
    const void *max;
    size_t maxlen;
    int min_inf, max_inf;
    bool minex, maxex;
} kv_zsl_lexrange_t;

/* Called with each node a range delete unlinks, before it is freed. */
typedef void (*kv_zsl_delete_fn)(void *priv, kv_zsl_node_t *node);

/* The member's bytes (NUL-terminated) and length. */
static inline const uint8_t *kv_zsl_node_member(const kv_zsl_node_t *n, size_t *len) {
    *len = n->mlen;
    return (const uint8_t *)&n->level[n->height];
}

/* Next (higher) and previous node, NULL at either end. */
static inline kv_zsl_node_t *kv_zsl_node_next(const kv_zsl_node_t *n) {
    return n->level[0].forward;
}

static inline kv_zsl_node_t *kv_zsl_node_prev(const kv_zsl_node_t *n) {
    return n->backward;
}

/* An empty skiplist; NULL on out-of-memory. */
kv_zsl_t *kv_zsl_new(void);
/* Frees the skiplist and every node. NULL is a no-op. */
void kv_zsl_free(kv_zsl_t *zsl);

size_t kv_zsl_len(const kv_zsl_t *zsl);
/* First (lowest) and last node, NULL when empty. */
kv_zsl_node_t *kv_zsl_first(const kv_zsl_t *zsl);
kv_zsl_node_t *kv_zsl_last(const kv_zsl_t *zsl);
/* Bytes of one node's allocation (requested size). */
size_t kv_zsl_node_bytes(const kv_zsl_node_t *n);
/* Bytes held by the struct, the header and all nodes (walks the list). */
size_t kv_zsl_mem_bytes(const kv_zsl_t *zsl);

/*
 * Inserts (score, member); the member is copied into the node. Returns the node, or
 * NULL on out-of-memory or a member of 4 GiB or more. pre: the member is not in the
 * list, score is not NaN.
 */
kv_zsl_node_t *kv_zsl_insert(kv_zsl_t *zsl, double score, const void *member, size_t len);
/* Deletes and frees the node with that score and member. 0 or -ENOENT. */
int kv_zsl_delete(kv_zsl_t *zsl, double score, const void *member, size_t len);
/* Deletes and frees node. 0, or -ENOENT if it is not in this list. */
int kv_zsl_delete_node(kv_zsl_t *zsl, kv_zsl_node_t *node);
/* Gives node a new score and moves it to its place; the node keeps its address. */
void kv_zsl_update_score(kv_zsl_t *zsl, kv_zsl_node_t *node, double score);

/* 1-based rank of (score, member), or 0 if absent. */
size_t kv_zsl_rank(const kv_zsl_t *zsl, double score, const void *member, size_t len);
/* The node at 1-based rank, or NULL. */
kv_zsl_node_t *kv_zsl_by_rank(const kv_zsl_t *zsl, size_t rank);

/*
 * The quick overlap test: false when the range is empty or lies wholly below the first
 * or above the last node; true does not promise a node inside (use first_in_range).
 */
bool kv_zsl_is_in_range(const kv_zsl_t *zsl, const kv_zsl_range_t *r);
/* The first / last node whose score lies in the range, or NULL. */
kv_zsl_node_t *kv_zsl_first_in_range(const kv_zsl_t *zsl, const kv_zsl_range_t *r);
kv_zsl_node_t *kv_zsl_last_in_range(const kv_zsl_t *zsl, const kv_zsl_range_t *r);
/* The same by member, for lists whose scores are all equal (ZRANGEBYLEX). */
bool kv_zsl_is_in_lex_range(const kv_zsl_t *zsl, const kv_zsl_lexrange_t *r);
kv_zsl_node_t *kv_zsl_first_in_lex_range(const kv_zsl_t *zsl, const kv_zsl_lexrange_t *r);
kv_zsl_node_t *kv_zsl_last_in_lex_range(const kv_zsl_t *zsl, const kv_zsl_lexrange_t *r);

/*
 * Delete every node in a score range, a member range, or the 1-based rank range
 * [start, end]; fn (may be NULL) sees each node before it is freed. Return the count.
 */
size_t kv_zsl_delete_range_by_score(kv_zsl_t *zsl, const kv_zsl_range_t *r, kv_zsl_delete_fn fn,
                                    void *priv);
size_t kv_zsl_delete_range_by_lex(kv_zsl_t *zsl, const kv_zsl_lexrange_t *r, kv_zsl_delete_fn fn,
                                  void *priv);
size_t kv_zsl_delete_range_by_rank(kv_zsl_t *zsl, size_t start, size_t end, kv_zsl_delete_fn fn,
                                   void *priv);

/*
 * Moves node through `move` (which returns the new address, having copied and freed the
 * old one, or NULL to keep it) and fixes every link to it. Returns the node's address
 * afterwards; the caller then repoints the sorted set's hashtable with
 * kv_ht_replace_reallocated(ht, old, new) without reading old.
 */
kv_zsl_node_t *kv_zsl_defrag_node(kv_zsl_t *zsl, kv_zsl_node_t *node, void *(*move)(void *ptr));
/* Told that node old (not to be read: it is freed) now lives at moved. */
typedef void (*kv_zsl_moved_fn)(void *priv, const kv_zsl_node_t *old, kv_zsl_node_t *moved);
/*
 * Moves up to budget nodes from the 1-based rank `rank` on, in order, as
 * kv_zsl_defrag_node does but without a search per node: the nodes that link to the
 * next one are found once, by rank, and then carried along the walk, so a piece costs
 * one descent plus its nodes. With move_batch (may be NULL) the nodes go in runs of up
 * to 32 through it instead of move (each ptrs[i] replaced by its node's new address when
 * it moved: one allocator query per run). moved_fn (may be NULL) hears of every node
 * that moved. Returns the rank of the first node not visited, or 0 when the walk
 * reached the end (or rank was past it).
 */
size_t kv_zsl_defrag_range(kv_zsl_t *zsl, size_t rank, size_t budget, void *(*move)(void *ptr),
                           void (*move_batch)(void **ptrs, size_t n), kv_zsl_moved_fn moved_fn,
                           void *priv);
/* Moves the list struct and its header node through `move`; *zslp is updated. */
void kv_zsl_defrag_struct(kv_zsl_t **zslp, void *(*move)(void *ptr));

/*
 * Checks order by (score, member), backward links, tail, length, that each level links
 * exactly the nodes that tall in order, and every span. 0 or -EPROTO.
 */
int kv_zsl_check(const kv_zsl_t *zsl);

#endif /* KV_ZSKIPLIST_H */
