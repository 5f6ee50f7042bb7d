/* SPDX-License-Identifier: MIT */
/*
 * quicklist.c - list of listpack nodes under a fill factor.
 *
 * Invariants: links and head/tail agree; every node holds at least one entry; a node with
 * more than one entry is within the fill limit (bytes for negative fill, entries and the
 * 8 KiB safety limit for positive fill). Room is judged before a change with an upper bound
 * of an entry's size (its bytes plus 11 for header and backlen), so the limit holds after
 * it. The fill factor is fixed for the list's life (Redis applies a new
 * list-max-listpack-size to new lists only), which keeps that invariant checkable.
 *
 * Compression keeps a second invariant between operations: the depth nodes at each end
 * are plain, and every other node is compressed unless it is too small, does not shrink
 * enough, or is the open node (decompressed for a read). A change makes the nodes it
 * edits plain (make_plain), edits them, then settles each: settle walks depth nodes in
 * from both ends decompressing them, then compresses the edited node when it lies beyond
 * the depth and the first two nodes past the depth on each side (a split adds two nodes,
 * pushing two inwards). That is O(depth) per change, and only changes that add or free a
 * node, or edit an interior node, pay it; a push into an end node does not. The depth is
 * fixed for the list's life, as in Redis.
 */
#include "quicklist.h"

#include <errno.h>
#include <lzf.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SIZE_SAFETY_LIMIT    8192
#define ENTRY_OVERHEAD       11 /* most header + backlen bytes an entry adds to its data */
#define EMPTY_LP_BYTES       7
#define MIN_COMPRESS_BYTES   48 /* smaller listpacks are not worth compressing (Redis) */
#define MIN_COMPRESS_IMPROVE 8  /* compression must save more than this (Redis) */

/* --- Limits --- */

static bool fits(const kv_ql_t *ql, size_t bytes, size_t count) {
    if (ql->fill < 0) return bytes <= (size_t)4096 << (-ql->fill - 1);
    return count <= (size_t)ql->fill && bytes <= SIZE_SAFETY_LIMIT;
}

static bool allows_insert(const kv_ql_t *ql, const kv_ql_node_t *n, size_t len) {
    return fits(ql, kv_ql_node_raw_bytes(n) + len + ENTRY_OVERHEAD, (size_t)n->count + 1);
}

/* --- Compression --- */

/* Replaces a plain node's listpack with its LZF form when that saves enough. */
static void compress_node(kv_ql_t *ql, kv_ql_node_t *n) {
    if (n == ql->open) ql->open = NULL;
    if (n->lzf_bytes != 0) return;
    size_t sz = kv_lp_bytes(n->lp);
    if (sz < MIN_COMPRESS_BYTES || sz > UINT32_MAX) return;
    /* Room for a result that saves more than MIN_COMPRESS_IMPROVE bytes, no more:
     * lzf_compress gives up (returns 0) when its output would not fit. */
    size_t room = sz - MIN_COMPRESS_IMPROVE - 1;
    uint8_t *out = malloc(room);
    if (out == NULL) return; /* stays plain: still correct */
    unsigned clen = lzf_compress(n->lp, (unsigned)sz, out, (unsigned)room);
    if (clen == 0) {
        free(out);
        return;
    }
    uint8_t *fit = realloc(out, clen);
    if (fit != NULL) out = fit;
    free(n->lp);
    n->lp = out;
    n->lzf_bytes = clen;
    n->raw_bytes = (uint32_t)sz;
}

/* Decompresses into a new buffer of the node's raw size; NULL on failure. */
static uint8_t *lzf_expand(const kv_ql_node_t *n) {
    uint8_t *lp = malloc(n->raw_bytes);
    if (lp == NULL) return NULL;
    if (lzf_decompress(n->lp, n->lzf_bytes, lp, n->raw_bytes) != n->raw_bytes) {
        free(lp);
        return NULL;
    }
    return lp;
}

/* Makes a compressed node plain again. 0 or -ENOMEM (the node stays compressed). */
static int decompress_node(kv_ql_node_t *n) {
    if (n->lzf_bytes == 0) return 0;
    uint8_t *lp = lzf_expand(n);
    if (lp == NULL) return -ENOMEM;
    free(n->lp);
    n->lp = lp;
    n->lzf_bytes = 0;
    n->raw_bytes = 0;
    return 0;
}

/* True when n is among the depth nodes at either end (always, without compression). */
static bool in_depth(const kv_ql_t *ql, const kv_ql_node_t *n) {
    if (ql->depth == 0 || n->prev == NULL || n->next == NULL) return true;
    if (ql->nodes <= 2 * (size_t)ql->depth) return true;
    const kv_ql_node_t *f = ql->head, *r = ql->tail;
    for (unsigned i = 0; i < ql->depth; i++, f = f->next, r = r->prev)
        if (f == n || r == n) return true;
    return false;
}

/* Compresses n when it lies beyond the depth (after an edit that moved no node). */
static void recompress(kv_ql_t *ql, kv_ql_node_t *n) {
    if (n != NULL && !in_depth(ql, n)) compress_node(ql, n);
}

/* Restores the invariant after a change to n (NULL: only nodes were freed or moved). */
static void settle(kv_ql_t *ql, kv_ql_node_t *n) {
    if (ql->depth == 0 || ql->head == NULL) return;
    kv_ql_node_t *f = ql->head, *r = ql->tail;
    bool inside = false;
    for (unsigned i = 0; i < ql->depth; i++) {
        (void)decompress_node(f); /* out of memory: stays compressed, reads still work */
        (void)decompress_node(r);
        if (f == n || r == n) inside = true;
        if (f == r || f->next == r) return; /* every node is within the depth */
        f = f->next;
        r = r->prev;
    }
    if (n != NULL && !inside) compress_node(ql, n);
    compress_node(ql, f);
    compress_node(ql, r);
    if (f != r) { /* a split adds two nodes at once: two may have crossed the depth */
        compress_node(ql, f->next);
        compress_node(ql, r->prev);
    }
}

/* Compresses the open node back, unless it is within the depth. */
static __attribute__((noinline)) void close_open(kv_ql_t *ql) {
    kv_ql_node_t *n = ql->open;
    ql->open = NULL;
    if (n != NULL) recompress(ql, n);
}

static void fatal_oom(void) {
    static const char msg[] = "kvcore: out of memory decompressing a list node\n";
    ssize_t w = write(2, msg, sizeof(msg) - 1);
    (void)w;
    abort();
}

/* open_node's slow path, kept out of line so the read paths stay small. */
static __attribute__((noinline)) void open_compressed(kv_ql_t *ql, kv_ql_node_t *n) {
    if (ql->open != NULL && ql->open != n) close_open(ql);
    if (decompress_node(n) != 0) fatal_oom();
    ql->open = n;
}

/* Makes n readable for a read: it becomes the open node (the previous one is closed). */
static inline void open_node(kv_ql_t *ql, kv_ql_node_t *n) {
    if (n->lzf_bytes != 0) open_compressed(ql, n);
}

/* Makes n plain for an edit; the caller settles or recompresses it afterwards. */
static int make_plain(kv_ql_t *ql, kv_ql_node_t *n) {
    if (n == ql->open) ql->open = NULL;
    return n->lzf_bytes != 0 ? decompress_node(n) : 0;
}

/* --- Nodes --- */

static kv_ql_node_t *node_new(const void *s, size_t len) {
    kv_ql_node_t *n = malloc(sizeof(*n));
    uint8_t *lp = kv_lp_new();
    if (n == NULL || lp == NULL || kv_lp_append(&lp, s, len) != 0) {
        free(n);
        kv_lp_free(lp);
        return NULL;
    }
    n->prev = n->next = NULL;
    n->lp = lp;
    n->count = 1;
    n->lzf_bytes = 0;
    n->raw_bytes = 0;
    return n;
}

static void link_between(kv_ql_t *ql, kv_ql_node_t *left, kv_ql_node_t *right, kv_ql_node_t *n) {
    n->prev = left;
    n->next = right;
    if (left != NULL)
        left->next = n;
    else
        ql->head = n;
    if (right != NULL)
        right->prev = n;
    else
        ql->tail = n;
    ql->nodes++;
}

static void unlink_free(kv_ql_t *ql, kv_ql_node_t *n) {
    if (n->prev != NULL)
        n->prev->next = n->next;
    else
        ql->head = n->next;
    if (n->next != NULL)
        n->next->prev = n->prev;
    else
        ql->tail = n->prev;
    ql->nodes--;
    if (n == ql->open) ql->open = NULL;
    free(n->lp);
    free(n);
}

/* Merges b (a's successor) into a when the result fits; a failed merge changes nothing. */
static void try_merge(kv_ql_t *ql, kv_ql_node_t *a, kv_ql_node_t *b) {
    if (a == NULL || b == NULL) return;
    size_t bytes = kv_ql_node_raw_bytes(a) + kv_ql_node_raw_bytes(b) - EMPTY_LP_BYTES;
    if (!fits(ql, bytes, (size_t)a->count + b->count)) return;
    if (make_plain(ql, a) != 0 || make_plain(ql, b) != 0 || kv_lp_merge(&a->lp, b->lp) != 0) {
        recompress(ql, a);
        recompress(ql, b);
        return;
    }
    a->count += b->count;
    unlink_free(ql, b);
    settle(ql, a);
}

/* Splits plain n so it keeps entries [0, at) and a new successor gets [at, count). */
static int split_node(kv_ql_t *ql, kv_ql_node_t *n, size_t at, kv_ql_node_t **right) {
    kv_ql_node_t *r = malloc(sizeof(*r));
    uint8_t *copy = kv_lp_dup(n->lp);
    if (r == NULL || copy == NULL) {
        free(r);
        kv_lp_free(copy);
        return -ENOMEM;
    }
    (void)kv_lp_delete_range(&copy, 0, at);
    (void)kv_lp_delete_range(&n->lp, (long)at, n->count - at);
    r->lp = copy;
    r->lzf_bytes = 0;
    r->raw_bytes = 0;
    r->count = (uint32_t)(n->count - at);
    n->count = (uint32_t)at;
    link_between(ql, n, n->next, r);
    *right = r;
    return 0;
}

/* Adds to a node's listpack at its start or end, compressing it back if it was. */
static int add_to_node(kv_ql_t *ql, kv_ql_node_t *n, bool at_end, const void *s, size_t len) {
    int rc = make_plain(ql, n);
    if (rc == 0) rc = at_end ? kv_lp_append(&n->lp, s, len) : kv_lp_prepend(&n->lp, s, len);
    if (rc == 0) n->count++;
    recompress(ql, n);
    return rc;
}

/* Adds a string between two adjacent nodes (either may be NULL at an end). */
static int insert_between(kv_ql_t *ql, kv_ql_node_t *left, kv_ql_node_t *right, const void *s,
                          size_t len) {
    int rc;
    if (left != NULL && allows_insert(ql, left, len)) {
        rc = add_to_node(ql, left, true, s, len);
        if (rc != 0) return rc;
    } else if (right != NULL && allows_insert(ql, right, len)) {
        rc = add_to_node(ql, right, false, s, len);
        if (rc != 0) return rc;
    } else {
        kv_ql_node_t *n = node_new(s, len);
        if (n == NULL) return -ENOMEM;
        link_between(ql, left, right, n);
        settle(ql, n);
    }
    ql->count++;
    return 0;
}

/* Finds the node and in-node offset of index (negative from the tail). */
static bool locate(const kv_ql_t *ql, long index, kv_ql_node_t **node, size_t *offset) {
    size_t n = ql->count, idx;
    if (index < 0) {
        if ((unsigned long)-(index + 1) >= n) return false;
        idx = n - 1 - (size_t) - (index + 1);
    } else {
        if ((size_t)index >= n) return false;
        idx = (size_t)index;
    }
    kv_ql_node_t *cur;
    if (idx < n / 2) {
        for (cur = ql->head; idx >= cur->count; cur = cur->next)
            idx -= cur->count;
    } else {
        size_t back = n - 1 - idx;
        for (cur = ql->tail; back >= cur->count; cur = cur->prev)
            back -= cur->count;
        idx = cur->count - 1 - back;
    }
    *node = cur;
    *offset = idx;
    return true;
}

static void fill_entry(kv_ql_entry_t *e, kv_ql_node_t *node, uint8_t *p, size_t offset) {
    e->node = node;
    e->p = p;
    e->offset = offset;
    kv_lp_get(p, &e->val);
}

/* Absolute index of an in-range index that may count from the tail. */
static size_t absolute_index(const kv_ql_t *ql, long index) {
    return index < 0 ? ql->count - (size_t) - (index + 1) - 1 : (size_t)index;
}

/* --- Life cycle --- */

kv_ql_t *kv_ql_new(int fill) {
    kv_ql_t *ql = malloc(sizeof(*ql));
    if (ql == NULL) return NULL;
    ql->head = ql->tail = NULL;
    ql->count = 0;
    ql->nodes = 0;
    ql->depth = 0;
    ql->open = NULL;
    ql->fill = fill < KV_QL_FILL_MIN   ? KV_QL_FILL_MIN
               : fill > KV_QL_FILL_MAX ? KV_QL_FILL_MAX
                                       : fill;
    return ql;
}

void kv_ql_free(kv_ql_t *ql) {
    if (ql == NULL) return;
    kv_ql_node_t *n = ql->head;
    while (n != NULL) {
        kv_ql_node_t *next = n->next;
        free(n->lp);
        free(n);
        n = next;
    }
    free(ql);
}

void kv_ql_set_depth(kv_ql_t *ql, long depth) {
    ql->depth = depth < 0 ? 0 : depth > KV_QL_DEPTH_MAX ? KV_QL_DEPTH_MAX : (unsigned)depth;
    ql->open = NULL;
    for (kv_ql_node_t *n = ql->head; n != NULL; n = n->next) {
        if (in_depth(ql, n))
            (void)decompress_node(n);
        else
            compress_node(ql, n);
    }
}

void kv_ql_release(kv_ql_t *ql) {
    close_open(ql);
}

const uint8_t *kv_ql_node_listpack(const kv_ql_node_t *n, uint8_t **scratch) {
    *scratch = NULL;
    if (n->lzf_bytes == 0) return n->lp;
    *scratch = lzf_expand(n);
    return *scratch;
}

size_t kv_ql_len(const kv_ql_t *ql) {
    return ql->count;
}

size_t kv_ql_mem_bytes(const kv_ql_t *ql) {
    size_t bytes = sizeof(*ql) + ql->nodes * sizeof(kv_ql_node_t);
    for (const kv_ql_node_t *n = ql->head; n != NULL; n = n->next)
        bytes += n->lzf_bytes != 0 ? n->lzf_bytes : kv_lp_bytes(n->lp);
    return bytes;
}

/* --- Ends --- */

int kv_ql_push(kv_ql_t *ql, int where, const void *s, size_t len) {
    if (where == KV_QL_HEAD) return insert_between(ql, NULL, ql->head, s, len);
    return insert_between(ql, ql->tail, NULL, s, len);
}

/* Deletes the entry at p in plain node, freeing the node when it empties. */
static void delete_at(kv_ql_t *ql, kv_ql_node_t *node, uint8_t *p) {
    (void)kv_lp_delete(&node->lp, &p);
    node->count--;
    ql->count--;
    if (node->count == 0) {
        unlink_free(ql, node);
        settle(ql, NULL);
    } else {
        recompress(ql, node);
    }
}

int kv_ql_pop(kv_ql_t *ql, int where, kv_ql_popped_t *out) {
    if (ql->count == 0) return -ENOENT;
    kv_ql_node_t *node = where == KV_QL_HEAD ? ql->head : ql->tail;
    if (make_plain(ql, node) != 0) return -ENOMEM;
    uint8_t *p = where == KV_QL_HEAD ? kv_lp_first(node->lp) : kv_lp_last(node->lp);
    kv_lp_val_t v;
    kv_lp_get(p, &v);
    out->str = NULL;
    out->len = 0;
    out->ival = v.ival;
    if (v.str != NULL) {
        out->str = malloc(v.len + 1);
        if (out->str == NULL) {
            recompress(ql, node);
            return -ENOMEM;
        }
        memcpy(out->str, v.str, v.len);
        out->str[v.len] = '\0';
        out->len = v.len;
    }
    delete_at(ql, node, p);
    return 0;
}

/* --- Anywhere --- */

int kv_ql_index(kv_ql_t *ql, long index, kv_ql_entry_t *e) {
    kv_ql_node_t *node;
    size_t offset;
    if (!locate(ql, index, &node, &offset)) return -ERANGE;
    open_node(ql, node);
    fill_entry(e, node, kv_lp_seek(node->lp, (long)offset), offset);
    return 0;
}

bool kv_ql_entry_equals(const kv_ql_entry_t *e, const void *s, size_t len) {
    return kv_lp_equals(e->p, s, len);
}

int kv_ql_insert(kv_ql_t *ql, const kv_ql_entry_t *e, int where, const void *s, size_t len) {
    kv_ql_node_t *node = e->node;
    int rc;
    /* e came from a read, so node is plain (open or within the depth): it stays plain
     * until it is settled below. */
    (void)make_plain(ql, node);
    if (allows_insert(ql, node, len)) {
        rc = kv_lp_insert(&node->lp, e->p, where, s, len, NULL);
        if (rc == 0) {
            node->count++;
            ql->count++;
        }
        recompress(ql, node);
        return rc;
    }
    if ((where == KV_LP_AFTER && e->offset + 1 == node->count) ||
        (where == KV_LP_BEFORE && e->offset == 0)) {
        if (where == KV_LP_AFTER)
            rc = insert_between(ql, node, node->next, s, len);
        else
            rc = insert_between(ql, node->prev, node, s, len);
        recompress(ql, node);
        return rc;
    }
    /* Inside a full node: split at the insertion point, insert between the halves. */
    kv_ql_node_t *right;
    rc = split_node(ql, node, where == KV_LP_AFTER ? e->offset + 1 : e->offset, &right);
    if (rc != 0) {
        recompress(ql, node);
        return rc;
    }
    rc = insert_between(ql, node, right, s, len);
    settle(ql, right);
    settle(ql, node);
    try_merge(ql, right, right->next);
    try_merge(ql, node->prev, node);
    return rc;
}

int kv_ql_insert_at(kv_ql_t *ql, long index, const void *s, size_t len) {
    if (index < 0 || (size_t)index > ql->count) return -ERANGE;
    if ((size_t)index == ql->count) return kv_ql_push(ql, KV_QL_TAIL, s, len);
    kv_ql_entry_t e;
    int rc = kv_ql_index(ql, index, &e);
    return rc != 0 ? rc : kv_ql_insert(ql, &e, KV_LP_BEFORE, s, len);
}

int kv_ql_replace_at(kv_ql_t *ql, long index, const void *s, size_t len) {
    kv_ql_entry_t e;
    if (kv_ql_index(ql, index, &e) != 0) return -ERANGE;
    kv_ql_node_t *node = e.node;
    uint8_t *next = kv_lp_next(node->lp, e.p);
    size_t old = (size_t)((next != NULL ? next : node->lp + kv_lp_bytes(node->lp) - 1) - e.p);
    if (node->count == 1 ||
        fits(ql, kv_lp_bytes(node->lp) - old + len + ENTRY_OVERHEAD, node->count)) {
        (void)make_plain(ql, node); /* plain already: opened by kv_ql_index */
        int rc = kv_lp_replace(&node->lp, &e.p, s, len);
        recompress(ql, node);
        return rc;
    }
    /* Add the new value after the old one first, so a failure loses nothing. */
    size_t abs = absolute_index(ql, index);
    int rc = kv_ql_insert(ql, &e, KV_LP_AFTER, s, len);
    if (rc != 0) return rc;
    (void)kv_ql_del_range(ql, (long)abs, 1);
    return 0;
}

size_t kv_ql_del_range(kv_ql_t *ql, long start, size_t count) {
    kv_ql_node_t *node, *edited[2] = {NULL, NULL};
    size_t offset, deleted = 0;
    bool freed = false;
    if (count == 0 || !locate(ql, start, &node, &offset)) return 0;
    while (deleted < count && node != NULL) {
        size_t del = node->count - offset;
        if (del > count - deleted) del = count - deleted;
        kv_ql_node_t *next = node->next;
        if (del == node->count) {
            unlink_free(ql, node);
            freed = true;
        } else {
            /* At most two nodes are cut: the first and the last of the range. */
            if (make_plain(ql, node) != 0) fatal_oom();
            (void)kv_lp_delete_range(&node->lp, (long)offset, del);
            node->count -= (uint32_t)del;
            edited[edited[0] != NULL] = node;
        }
        ql->count -= del;
        deleted += del;
        offset = 0;
        node = next;
    }
    if (freed) settle(ql, NULL);
    recompress(ql, edited[0]);
    recompress(ql, edited[1]);
    return deleted;
}

/* --- Iteration --- */

void kv_ql_iter_init(kv_ql_iter_t *it, kv_ql_t *ql, int dir) {
    it->ql = ql;
    it->dir = dir;
    it->node = dir == KV_QL_HEAD ? ql->head : ql->tail;
    it->p = NULL;
    it->offset = 0;
    it->pending = false;
}

int kv_ql_iter_init_at(kv_ql_iter_t *it, kv_ql_t *ql, int dir, long index) {
    kv_ql_iter_init(it, ql, dir);
    kv_ql_node_t *node;
    size_t offset;
    if (!locate(ql, index, &node, &offset)) {
        it->node = NULL;
        return -ERANGE;
    }
    open_node(ql, node);
    it->node = node;
    it->p = kv_lp_seek(node->lp, (long)offset);
    it->offset = offset;
    it->pending = true;
    return 0;
}

bool kv_ql_iter_next(kv_ql_iter_t *it, kv_ql_entry_t *e) {
    bool forward = it->dir == KV_QL_HEAD;
    while (it->node != NULL) {
        kv_ql_node_t *node = it->node;
        if (it->pending) {
            it->pending = false;
        } else if (it->p == NULL) {
            open_node(it->ql, node);
            it->p = forward ? kv_lp_first(node->lp) : kv_lp_last(node->lp);
            it->offset = forward ? 0 : node->count - 1;
        } else {
            it->p = forward ? kv_lp_next(node->lp, it->p) : kv_lp_prev(node->lp, it->p);
            it->offset = forward ? it->offset + 1 : it->offset - 1;
        }
        if (it->p != NULL) {
            fill_entry(e, node, it->p, it->offset);
            return true;
        }
        if (node == it->ql->open) close_open(it->ql);
        it->node = forward ? node->next : node->prev;
    }
    return false;
}

void kv_ql_iter_del(kv_ql_iter_t *it, kv_ql_entry_t *e) {
    kv_ql_t *ql = it->ql;
    kv_ql_node_t *node = e->node;
    bool forward = it->dir == KV_QL_HEAD;
    size_t off = (size_t)(e->p - node->lp);
    uint8_t *p = e->p;
    (void)kv_lp_delete(&node->lp, &p);
    node->count--;
    ql->count--;
    it->pending = false;
    if (node->count == 0) {
        it->node = forward ? node->next : node->prev;
        it->p = NULL;
        unlink_free(ql, node);
        settle(ql, NULL); /* the walk holds no position in the nodes it may compress */
        return;
    }
    it->offset = e->offset;
    if (forward) {
        /* The follower slid into the deleted entry's place: return it next. */
        it->p = p;
        it->pending = p != NULL;
        if (p == NULL) {
            if (node == ql->open) close_open(ql);
            it->node = node->next;
        }
    } else {
        /* From the deleted entry's place (a follower or the end byte) step back. */
        it->p = node->lp + off;
    }
}

/* --- Defragmentation --- */

kv_ql_node_t *kv_ql_defrag_node(kv_ql_t *ql, kv_ql_node_t *node, void *(*move)(void *ptr)) {
    uint8_t *lp = move(node->lp);
    if (lp != NULL) node->lp = lp;
    kv_ql_node_t *n = move(node);
    if (n == NULL) return node;
    if (ql->open == node) ql->open = n;
    if (n->prev != NULL)
        n->prev->next = n;
    else
        ql->head = n;
    if (n->next != NULL)
        n->next->prev = n;
    else
        ql->tail = n;
    return n;
}

void kv_ql_defrag_struct(kv_ql_t **qlp, void *(*move)(void *ptr)) {
    kv_ql_t *ql = move(*qlp);
    if (ql != NULL) *qlp = ql;
}

kv_ql_node_t *kv_ql_node_at(const kv_ql_t *ql, size_t i) {
    kv_ql_node_t *n = ql->head;
    while (n != NULL && i-- > 0)
        n = n->next;
    return n;
}

/* --- Consistency check --- */

int kv_ql_check(const kv_ql_t *ql) {
    if (ql == NULL || ql->fill < KV_QL_FILL_MIN || ql->fill > KV_QL_FILL_MAX) return -EPROTO;
    if ((ql->head == NULL) != (ql->tail == NULL)) return -EPROTO;
    const kv_ql_node_t *prev = NULL;
    size_t nodes = 0, count = 0;
    if (ql->depth > KV_QL_DEPTH_MAX) return -EPROTO;
    for (const kv_ql_node_t *n = ql->head; n != NULL; prev = n, n = n->next) {
        if (++nodes > ql->nodes) return -EPROTO; /* also stops a cycle */
        if (n->prev != prev || n->lp == NULL || n->count == 0) return -EPROTO;
        if (n->lzf_bytes != 0 && (n->lzf_bytes >= n->raw_bytes || n->prev == NULL ||
                                  n->next == NULL || ql->depth == 0 || n == ql->open))
            return -EPROTO;
        uint8_t *scratch;
        const uint8_t *lp = kv_ql_node_listpack(n, &scratch);
        if (lp == NULL) return n->lzf_bytes != 0 && n->raw_bytes != 0 ? -ENOMEM : -EPROTO;
        bool ok = kv_lp_check(lp) == 0 && kv_lp_len(lp) == n->count &&
                  (n->count == 1 || fits(ql, kv_lp_bytes(lp), n->count));
        free(scratch);
        if (!ok) return -EPROTO;
        count += n->count;
    }
    if (ql->tail != prev || nodes != ql->nodes || count != ql->count) return -EPROTO;
    /* Within the depth from either end nothing is compressed. */
    const kv_ql_node_t *f = ql->head, *r = ql->tail;
    for (unsigned i = 0; i < ql->depth && f != NULL; i++, f = f->next, r = r->prev)
        if (f->lzf_bytes != 0 || r->lzf_bytes != 0) return -EPROTO;
    return 0;
}
