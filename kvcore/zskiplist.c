/* SPDX-License-Identifier: MIT */
/*
 * zskiplist.c - skiplist by (score, member) with spans (the sorted set's ordered index).
 *
 * Invariants: level 0 links every node in strictly increasing (score, member) order and
 * backward links mirror it; level i links, in order, exactly the nodes taller than i;
 * a link's span is the rank distance it covers (a NULL link's span is length minus the
 * rank of its owner, the header having rank 0); the header's links at zsl->level and
 * above are NULL, and the top level in use is never empty unless the list is.
 */
#include "zskiplist.h"
#include "kv_util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* --- Helpers --- */

/* 1 + the number of trailing zero bit pairs: each extra level has probability 1/4. */
static int random_level(void) {
    int level = 1 + __builtin_ctzll(kv_rand64() | (1ULL << 62)) / 2;
    return level > KV_ZSL_MAXLEVEL ? KV_ZSL_MAXLEVEL : level;
}

static int member_cmp(const kv_zsl_node_t *n, const void *member, size_t len) {
    size_t nlen;
    const uint8_t *m = kv_zsl_node_member(n, &nlen);
    size_t min = nlen < len ? nlen : len;
    int c = min == 0 ? 0 : memcmp(m, member, min);
    if (c != 0) return c;
    return (nlen > len) - (nlen < len);
}

static int bytes_cmp(const void *a, size_t alen, const void *b, size_t blen) {
    size_t min = alen < blen ? alen : blen;
    int c = min == 0 ? 0 : memcmp(a, b, min);
    return c != 0 ? c : (alen > blen) - (alen < blen);
}

/* Whether node n sorts before (score, member). */
static inline bool node_less(const kv_zsl_node_t *n, double score, const void *member, size_t len) {
    return n->score < score || (n->score == score && member_cmp(n, member, len) < 0);
}

static kv_zsl_node_t *node_new(int height, double score, const void *member, size_t len) {
    kv_zsl_node_t *n = malloc(sizeof(*n) + (size_t)height * sizeof(kv_zsl_level_t) + len + 1);
    if (n == NULL) return NULL;
    n->score = score;
    n->backward = NULL;
    n->mlen = (uint32_t)len;
    n->height = (uint8_t)height;
    uint8_t *m = (uint8_t *)&n->level[height];
    if (len != 0) memcpy(m, member, len);
    m[len] = '\0';
    return n;
}

/* Fills update[] with the last node before (score, member) on every level in use. */
static kv_zsl_node_t *find_update(const kv_zsl_t *zsl, double score, const void *member, size_t len,
                                  kv_zsl_node_t **update) {
    kv_zsl_node_t *x = zsl->header;
    for (int i = zsl->level - 1; i >= 0; i--) {
        while (x->level[i].forward != NULL && node_less(x->level[i].forward, score, member, len))
            x = x->level[i].forward;
        update[i] = x;
    }
    x = x->level[0].forward;
    if (x != NULL && x->score == score && member_cmp(x, member, len) == 0) return x;
    return NULL;
}

/* Links node x (height and score set) at its place. */
static void insert_node(kv_zsl_t *zsl, kv_zsl_node_t *x) {
    kv_zsl_node_t *update[KV_ZSL_MAXLEVEL];
    size_t rank[KV_ZSL_MAXLEVEL];
    size_t len;
    const uint8_t *member = kv_zsl_node_member(x, &len);
    kv_zsl_node_t *cur = zsl->header;
    for (int i = zsl->level - 1; i >= 0; i--) {
        rank[i] = i == zsl->level - 1 ? 0 : rank[i + 1];
        while (cur->level[i].forward != NULL &&
               node_less(cur->level[i].forward, x->score, member, len)) {
            rank[i] += cur->level[i].span;
            cur = cur->level[i].forward;
        }
        update[i] = cur;
    }
    int height = x->height;
    if (height > zsl->level) {
        for (int i = zsl->level; i < height; i++) {
            rank[i] = 0;
            update[i] = zsl->header;
            update[i]->level[i].span = zsl->length;
        }
        zsl->level = height;
    }
    for (int i = 0; i < height; i++) {
        x->level[i].forward = update[i]->level[i].forward;
        update[i]->level[i].forward = x;
        x->level[i].span = update[i]->level[i].span - (rank[0] - rank[i]);
        update[i]->level[i].span = (rank[0] - rank[i]) + 1;
    }
    for (int i = height; i < zsl->level; i++)
        update[i]->level[i].span++;
    x->backward = update[0] == zsl->header ? NULL : update[0];
    if (x->level[0].forward != NULL)
        x->level[0].forward->backward = x;
    else
        zsl->tail = x;
    zsl->length++;
}

/* Unlinks x, given the update[] of its position. */
static void unlink_node(kv_zsl_t *zsl, kv_zsl_node_t *x, kv_zsl_node_t **update) {
    for (int i = 0; i < zsl->level; i++) {
        if (update[i]->level[i].forward == x) {
            update[i]->level[i].span += x->level[i].span - 1;
            update[i]->level[i].forward = x->level[i].forward;
        } else {
            update[i]->level[i].span -= 1;
        }
    }
    if (x->level[0].forward != NULL)
        x->level[0].forward->backward = x->backward;
    else
        zsl->tail = x->backward;
    while (zsl->level > 1 && zsl->header->level[zsl->level - 1].forward == NULL)
        zsl->level--;
    zsl->length--;
}

/* --- Life cycle --- */

kv_zsl_t *kv_zsl_new(void) {
    kv_zsl_t *zsl = malloc(sizeof(*zsl));
    kv_zsl_node_t *header = node_new(KV_ZSL_MAXLEVEL, 0, NULL, 0);
    if (zsl == NULL || header == NULL) {
        free(zsl);
        free(header);
        return NULL;
    }
    for (int i = 0; i < KV_ZSL_MAXLEVEL; i++) {
        header->level[i].forward = NULL;
        header->level[i].span = 0;
    }
    zsl->header = header;
    zsl->tail = NULL;
    zsl->length = 0;
    zsl->level = 1;
    return zsl;
}

void kv_zsl_free(kv_zsl_t *zsl) {
    if (zsl == NULL) return;
    kv_zsl_node_t *x = zsl->header->level[0].forward;
    while (x != NULL) {
        kv_zsl_node_t *next = x->level[0].forward;
        free(x);
        x = next;
    }
    free(zsl->header);
    free(zsl);
}

size_t kv_zsl_len(const kv_zsl_t *zsl) {
    return zsl->length;
}

kv_zsl_node_t *kv_zsl_first(const kv_zsl_t *zsl) {
    return zsl->header->level[0].forward;
}

kv_zsl_node_t *kv_zsl_last(const kv_zsl_t *zsl) {
    return zsl->tail;
}

size_t kv_zsl_node_bytes(const kv_zsl_node_t *n) {
    return sizeof(*n) + (size_t)n->height * sizeof(kv_zsl_level_t) + n->mlen + 1;
}

size_t kv_zsl_mem_bytes(const kv_zsl_t *zsl) {
    size_t bytes = sizeof(*zsl) + kv_zsl_node_bytes(zsl->header);
    for (const kv_zsl_node_t *x = kv_zsl_first(zsl); x != NULL; x = x->level[0].forward)
        bytes += kv_zsl_node_bytes(x);
    return bytes;
}

/* --- Insert, delete, update --- */

kv_zsl_node_t *kv_zsl_insert(kv_zsl_t *zsl, double score, const void *member, size_t len) {
    if (len >= UINT32_MAX) return NULL;
    kv_zsl_node_t *x = node_new(random_level(), score, member, len);
    if (x == NULL) return NULL;
    insert_node(zsl, x);
    return x;
}

int kv_zsl_delete(kv_zsl_t *zsl, double score, const void *member, size_t len) {
    kv_zsl_node_t *update[KV_ZSL_MAXLEVEL];
    kv_zsl_node_t *x = find_update(zsl, score, member, len, update);
    if (x == NULL) return -ENOENT;
    unlink_node(zsl, x, update);
    free(x);
    return 0;
}

int kv_zsl_delete_node(kv_zsl_t *zsl, kv_zsl_node_t *node) {
    kv_zsl_node_t *update[KV_ZSL_MAXLEVEL];
    size_t len;
    const uint8_t *member = kv_zsl_node_member(node, &len);
    if (find_update(zsl, node->score, member, len, update) != node) return -ENOENT;
    unlink_node(zsl, node, update);
    free(node);
    return 0;
}

void kv_zsl_update_score(kv_zsl_t *zsl, kv_zsl_node_t *node, double score) {
    /* Still between its neighbours: change in place. */
    kv_zsl_node_t *prev = node->backward, *next = node->level[0].forward;
    if ((prev == NULL || prev->score < score) && (next == NULL || next->score > score)) {
        node->score = score;
        return;
    }
    kv_zsl_node_t *update[KV_ZSL_MAXLEVEL];
    size_t len;
    const uint8_t *member = kv_zsl_node_member(node, &len);
    if (find_update(zsl, node->score, member, len, update) != node) return;
    unlink_node(zsl, node, update);
    node->score = score;
    insert_node(zsl, node);
}

/* --- Ranks --- */

size_t kv_zsl_rank(const kv_zsl_t *zsl, double score, const void *member, size_t len) {
    const kv_zsl_node_t *x = zsl->header;
    size_t rank = 0;
    for (int i = zsl->level - 1; i >= 0; i--) {
        while (x->level[i].forward != NULL &&
               (x->level[i].forward->score < score ||
                (x->level[i].forward->score == score &&
                 member_cmp(x->level[i].forward, member, len) <= 0))) {
            rank += x->level[i].span;
            x = x->level[i].forward;
        }
        if (x != zsl->header && x->score == score && member_cmp(x, member, len) == 0) return rank;
    }
    return 0;
}

kv_zsl_node_t *kv_zsl_by_rank(const kv_zsl_t *zsl, size_t rank) {
    kv_zsl_node_t *x = zsl->header;
    size_t traversed = 0;
    if (rank == 0) return NULL;
    for (int i = zsl->level - 1; i >= 0; i--) {
        while (x->level[i].forward != NULL && traversed + x->level[i].span <= rank) {
            traversed += x->level[i].span;
            x = x->level[i].forward;
        }
        if (traversed == rank) return x;
    }
    return NULL;
}

/* --- Score ranges --- */

static inline bool gte_min(double v, const kv_zsl_range_t *r) {
    return r->minex ? v > r->min : v >= r->min;
}

static inline bool lte_max(double v, const kv_zsl_range_t *r) {
    return r->maxex ? v < r->max : v <= r->max;
}

bool kv_zsl_is_in_range(const kv_zsl_t *zsl, const kv_zsl_range_t *r) {
    if (r->min > r->max || (r->min == r->max && (r->minex || r->maxex))) return false;
    const kv_zsl_node_t *x = zsl->tail;
    if (x == NULL || !gte_min(x->score, r)) return false;
    x = zsl->header->level[0].forward;
    return lte_max(x->score, r);
}

kv_zsl_node_t *kv_zsl_first_in_range(const kv_zsl_t *zsl, const kv_zsl_range_t *r) {
    if (!kv_zsl_is_in_range(zsl, r)) return NULL;
    kv_zsl_node_t *x = zsl->header;
    for (int i = zsl->level - 1; i >= 0; i--)
        while (x->level[i].forward != NULL && !gte_min(x->level[i].forward->score, r))
            x = x->level[i].forward;
    x = x->level[0].forward;
    return lte_max(x->score, r) ? x : NULL;
}

kv_zsl_node_t *kv_zsl_last_in_range(const kv_zsl_t *zsl, const kv_zsl_range_t *r) {
    if (!kv_zsl_is_in_range(zsl, r)) return NULL;
    kv_zsl_node_t *x = zsl->header;
    for (int i = zsl->level - 1; i >= 0; i--)
        while (x->level[i].forward != NULL && lte_max(x->level[i].forward->score, r))
            x = x->level[i].forward;
    return gte_min(x->score, r) ? x : NULL;
}

/* --- Member ranges --- */

static bool lex_gte_min(const kv_zsl_node_t *n, const kv_zsl_lexrange_t *r) {
    if (r->min_inf != 0) return r->min_inf < 0;
    int c = member_cmp(n, r->min, r->minlen);
    return r->minex ? c > 0 : c >= 0;
}

static bool lex_lte_max(const kv_zsl_node_t *n, const kv_zsl_lexrange_t *r) {
    if (r->max_inf != 0) return r->max_inf > 0;
    int c = member_cmp(n, r->max, r->maxlen);
    return r->maxex ? c < 0 : c <= 0;
}

bool kv_zsl_is_in_lex_range(const kv_zsl_t *zsl, const kv_zsl_lexrange_t *r) {
    if (r->min_inf > 0 || r->max_inf < 0) return false;
    if (r->min_inf == 0 && r->max_inf == 0) {
        int c = bytes_cmp(r->min, r->minlen, r->max, r->maxlen);
        if (c > 0 || (c == 0 && (r->minex || r->maxex))) return false;
    }
    const kv_zsl_node_t *x = zsl->tail;
    if (x == NULL || !lex_gte_min(x, r)) return false;
    return lex_lte_max(zsl->header->level[0].forward, r);
}

kv_zsl_node_t *kv_zsl_first_in_lex_range(const kv_zsl_t *zsl, const kv_zsl_lexrange_t *r) {
    if (!kv_zsl_is_in_lex_range(zsl, r)) return NULL;
    kv_zsl_node_t *x = zsl->header;
    for (int i = zsl->level - 1; i >= 0; i--)
        while (x->level[i].forward != NULL && !lex_gte_min(x->level[i].forward, r))
            x = x->level[i].forward;
    x = x->level[0].forward;
    return lex_lte_max(x, r) ? x : NULL;
}

kv_zsl_node_t *kv_zsl_last_in_lex_range(const kv_zsl_t *zsl, const kv_zsl_lexrange_t *r) {
    if (!kv_zsl_is_in_lex_range(zsl, r)) return NULL;
    kv_zsl_node_t *x = zsl->header;
    for (int i = zsl->level - 1; i >= 0; i--)
        while (x->level[i].forward != NULL && lex_lte_max(x->level[i].forward, r))
            x = x->level[i].forward;
    return lex_gte_min(x, r) ? x : NULL;
}

/* --- Range deletion --- */

/* Unlinks and frees nodes from update[0]'s successor while `keep_going` says so. */
static size_t delete_run(kv_zsl_t *zsl, kv_zsl_node_t **update, const kv_zsl_range_t *score,
                         const kv_zsl_lexrange_t *lex, size_t rank_end, size_t rank,
                         kv_zsl_delete_fn fn, void *priv) {
    size_t removed = 0;
    kv_zsl_node_t *x = update[0]->level[0].forward;
    while (x != NULL) {
        if (score != NULL && !lte_max(x->score, score)) break;
        if (lex != NULL && !lex_lte_max(x, lex)) break;
        if (score == NULL && lex == NULL && rank > rank_end) break;
        kv_zsl_node_t *next = x->level[0].forward;
        unlink_node(zsl, x, update);
        if (fn != NULL) fn(priv, x);
        free(x);
        removed++;
        rank++;
        x = next;
    }
    return removed;
}

size_t kv_zsl_delete_range_by_score(kv_zsl_t *zsl, const kv_zsl_range_t *r, kv_zsl_delete_fn fn,
                                    void *priv) {
    kv_zsl_node_t *update[KV_ZSL_MAXLEVEL], *x = zsl->header;
    for (int i = zsl->level - 1; i >= 0; i--) {
        while (x->level[i].forward != NULL && !gte_min(x->level[i].forward->score, r))
            x = x->level[i].forward;
        update[i] = x;
    }
    return delete_run(zsl, update, r, NULL, 0, 0, fn, priv);
}

size_t kv_zsl_delete_range_by_lex(kv_zsl_t *zsl, const kv_zsl_lexrange_t *r, kv_zsl_delete_fn fn,
                                  void *priv) {
    if (r->min_inf > 0 || r->max_inf < 0) return 0;
    kv_zsl_node_t *update[KV_ZSL_MAXLEVEL], *x = zsl->header;
    for (int i = zsl->level - 1; i >= 0; i--) {
        while (x->level[i].forward != NULL && !lex_gte_min(x->level[i].forward, r))
            x = x->level[i].forward;
        update[i] = x;
    }
    return delete_run(zsl, update, NULL, r, 0, 0, fn, priv);
}

/* Fills update[] with the last node before rank (1-based) on every level in use;
 * *traversed gets the rank of update[0] (0: the header). Returns update[0]. */
static kv_zsl_node_t *rank_update(const kv_zsl_t *zsl, size_t rank, kv_zsl_node_t **update,
                                  size_t *traversed) {
    kv_zsl_node_t *x = zsl->header;
    size_t t = 0;
    for (int i = zsl->level - 1; i >= 0; i--) {
        while (x->level[i].forward != NULL && t + x->level[i].span < rank) {
            t += x->level[i].span;
            x = x->level[i].forward;
        }
        update[i] = x;
    }
    *traversed = t;
    return x;
}

size_t kv_zsl_delete_range_by_rank(kv_zsl_t *zsl, size_t start, size_t end, kv_zsl_delete_fn fn,
                                   void *priv) {
    if (start == 0 || start > end) return 0;
    kv_zsl_node_t *update[KV_ZSL_MAXLEVEL];
    size_t traversed;
    rank_update(zsl, start, update, &traversed);
    return delete_run(zsl, update, NULL, NULL, end, traversed + 1, fn, priv);
}

/* --- Defragmentation --- */

/* Points the predecessors update[0..height) and the successor next (or the tail) at
 * moved, the new copy of a node that is gone: the old node is never read. */
static void relink_moved(kv_zsl_t *zsl, kv_zsl_node_t **update, int height, kv_zsl_node_t *next,
                         kv_zsl_node_t *moved) {
    for (int i = 0; i < height; i++)
        update[i]->level[i].forward = moved;
    if (next != NULL)
        next->backward = moved;
    else
        zsl->tail = moved;
}

kv_zsl_node_t *kv_zsl_defrag_node(kv_zsl_t *zsl, kv_zsl_node_t *node, void *(*move)(void *ptr)) {
    kv_zsl_node_t *update[KV_ZSL_MAXLEVEL];
    size_t len;
    const uint8_t *member = kv_zsl_node_member(node, &len);
    if (find_update(zsl, node->score, member, len, update) != node) return node;
    kv_zsl_node_t *next = node->level[0].forward;
    int height = node->height;
    kv_zsl_node_t *moved = move(node);
    if (moved == NULL) return node;
    relink_moved(zsl, update, height, next, moved);
    return moved;
}

/* The most nodes one move_batch call of kv_zsl_defrag_range takes. */
#define DEFRAG_RUN_MAX 32

/*
 * Moves the up to n (at most DEFRAG_RUN_MAX) nodes from x on with one move_batch call
 * and relinks the moved ones in rank order, as kv_zsl_defrag_range does one at a time;
 * update[] are the nodes that link to x and follow the run. The nodes are read before
 * the call (old copies are freed by it); a moved node's successor is the run's next
 * entry as it is after the call. Returns the node after the run; *ran is its length.
 */
static kv_zsl_node_t *defrag_run(kv_zsl_t *zsl, kv_zsl_node_t *x, size_t n, kv_zsl_node_t **update,
                                 void (*move_batch)(void **ptrs, size_t n),
                                 kv_zsl_moved_fn moved_fn, void *priv, size_t *ran) {
    void *old[DEFRAG_RUN_MAX], *cur[DEFRAG_RUN_MAX];
    int height[DEFRAG_RUN_MAX];
    size_t m = 0;
    for (; x != NULL && m < n && m < DEFRAG_RUN_MAX; m++) {
        old[m] = cur[m] = x;
        height[m] = x->height;
        x = x->level[0].forward;
    }
    move_batch(cur, m);
    for (size_t k = 0; k < m; k++) {
        kv_zsl_node_t *node = cur[k];
        if (cur[k] != old[k]) {
            relink_moved(zsl, update, height[k], k + 1 < m ? cur[k + 1] : x, node);
            if (moved_fn != NULL) moved_fn(priv, old[k], node);
        }
        for (int i = 0; i < height[k]; i++)
            update[i] = node;
    }
    *ran = m;
    return x;
}

size_t kv_zsl_defrag_range(kv_zsl_t *zsl, size_t rank, size_t budget, void *(*move)(void *ptr),
                           void (*move_batch)(void **ptrs, size_t n), kv_zsl_moved_fn moved_fn,
                           void *priv) {
    if (rank == 0 || rank > zsl->length || budget == 0) return 0;
    kv_zsl_node_t *update[KV_ZSL_MAXLEVEL];
    size_t traversed;
    kv_zsl_node_t *x = rank_update(zsl, rank, update, &traversed)->level[0].forward;
    if (move_batch != NULL) {
        for (size_t done = 0; x != NULL && done < budget;) {
            size_t ran;
            x = defrag_run(zsl, x, budget - done, update, move_batch, moved_fn, priv, &ran);
            done += ran;
            rank += ran;
        }
        return x == NULL ? 0 : rank;
    }
    for (size_t done = 0; x != NULL && done < budget; done++) {
        kv_zsl_node_t *next = x->level[0].forward;
        int height = x->height;
        kv_zsl_node_t *moved = move(x);
        if (moved != NULL) {
            relink_moved(zsl, update, height, next, moved);
            if (moved_fn != NULL) moved_fn(priv, x, moved);
            x = moved;
        }
        /* x precedes every later node on the levels it reaches. */
        for (int i = 0; i < height; i++)
            update[i] = x;
        x = next;
        rank++;
    }
    return x == NULL ? 0 : rank;
}

void kv_zsl_defrag_struct(kv_zsl_t **zslp, void *(*move)(void *ptr)) {
    kv_zsl_t *zsl = move(*zslp);
    if (zsl != NULL) *zslp = zsl;
    zsl = *zslp;
    /* Nothing points at the header but the struct (the first node's backward is NULL). */
    kv_zsl_node_t *header = move(zsl->header);
    if (header != NULL) zsl->header = header;
}

/* --- Consistency check --- */

int kv_zsl_check(const kv_zsl_t *zsl) {
    if (zsl == NULL || zsl->header == NULL) return -EPROTO;
    const kv_zsl_node_t *h = zsl->header;
    if (h->height != KV_ZSL_MAXLEVEL || zsl->level < 1 || zsl->level > KV_ZSL_MAXLEVEL)
        return -EPROTO;
    for (int i = zsl->level; i < KV_ZSL_MAXLEVEL; i++)
        if (h->level[i].forward != NULL) return -EPROTO;
    if (zsl->level > 1 && h->level[zsl->level - 1].forward == NULL) return -EPROTO;
    /* Level 0: order, backward links, tail, length. */
    size_t n = 0;
    const kv_zsl_node_t *prev = NULL;
    for (const kv_zsl_node_t *x = h->level[0].forward; x != NULL;
         prev = x, x = x->level[0].forward) {
        if (++n > zsl->length) return -EPROTO; /* also stops a cycle */
        if (x->height < 1 || x->height > zsl->level || x->backward != prev) return -EPROTO;
        if (x->score != x->score) return -EPROTO; /* NaN */
        size_t len;
        const uint8_t *m = kv_zsl_node_member(x, &len);
        if (m[len] != '\0') return -EPROTO;
        if (prev != NULL && !node_less(prev, x->score, m, len)) return -EPROTO;
    }
    if (n != zsl->length || zsl->tail != prev) return -EPROTO;
    /* Every level: the right nodes in order, and spans equal to rank distances. */
    for (int i = 0; i < zsl->level; i++) {
        const kv_zsl_node_t *x = h, *walk = h->level[0].forward;
        size_t rank_x = 0, rank_walk = 1;
        while (x->level[i].forward != NULL) {
            const kv_zsl_node_t *y = x->level[i].forward;
            /* Nodes skipped on level 0 must be shorter than i + 1. */
            while (walk != NULL && walk != y) {
                if (walk->height > i) return -EPROTO;
                walk = walk->level[0].forward;
                rank_walk++;
            }
            if (walk == NULL || y->height <= i) return -EPROTO;
            if (x->level[i].span != rank_walk - rank_x) return -EPROTO;
            x = y;
            rank_x = rank_walk;
            walk = walk->level[0].forward;
            rank_walk++;
        }
        for (; walk != NULL; walk = walk->level[0].forward)
            if (walk->height > i) return -EPROTO;
        if (x->level[i].span != zsl->length - rank_x) return -EPROTO;
    }
    return 0;
}
