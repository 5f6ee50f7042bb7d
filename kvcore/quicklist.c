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
 */
#include "quicklist.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define SIZE_SAFETY_LIMIT 8192
#define ENTRY_OVERHEAD    11 /* most header + backlen bytes an entry adds to its data */
#define EMPTY_LP_BYTES    7

/* --- Limits --- */

static bool fits(const kv_ql_t *ql, size_t bytes, size_t count) {
    if (ql->fill < 0) return bytes <= (size_t)4096 << (-ql->fill - 1);
    return count <= (size_t)ql->fill && bytes <= SIZE_SAFETY_LIMIT;
}

static bool allows_insert(const kv_ql_t *ql, const kv_ql_node_t *n, size_t len) {
    return fits(ql, kv_lp_bytes(n->lp) + len + ENTRY_OVERHEAD, (size_t)n->count + 1);
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
    kv_lp_free(n->lp);
    free(n);
}

/* Merges b (a's successor) into a when the result fits; a failed merge changes nothing. */
static void try_merge(kv_ql_t *ql, kv_ql_node_t *a, kv_ql_node_t *b) {
    if (a == NULL || b == NULL) return;
    size_t bytes = kv_lp_bytes(a->lp) + kv_lp_bytes(b->lp) - EMPTY_LP_BYTES;
    if (!fits(ql, bytes, (size_t)a->count + b->count)) return;
    if (kv_lp_merge(&a->lp, b->lp) != 0) return;
    a->count += b->count;
    unlink_free(ql, b);
}

/* Splits n so it keeps entries [0, at) and a new successor gets [at, count). */
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
    r->count = (uint32_t)(n->count - at);
    n->count = (uint32_t)at;
    link_between(ql, n, n->next, r);
    *right = r;
    return 0;
}

/* Adds a string between two adjacent nodes (either may be NULL at an end). */
static int insert_between(kv_ql_t *ql, kv_ql_node_t *left, kv_ql_node_t *right, const void *s,
                          size_t len) {
    int rc;
    if (left != NULL && allows_insert(ql, left, len)) {
        rc = kv_lp_append(&left->lp, s, len);
        if (rc != 0) return rc;
        left->count++;
    } else if (right != NULL && allows_insert(ql, right, len)) {
        rc = kv_lp_prepend(&right->lp, s, len);
        if (rc != 0) return rc;
        right->count++;
    } else {
        kv_ql_node_t *n = node_new(s, len);
        if (n == NULL) return -ENOMEM;
        link_between(ql, left, right, n);
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
        kv_lp_free(n->lp);
        free(n);
        n = next;
    }
    free(ql);
}

size_t kv_ql_len(const kv_ql_t *ql) {
    return ql->count;
}

size_t kv_ql_mem_bytes(const kv_ql_t *ql) {
    size_t bytes = sizeof(*ql) + ql->nodes * sizeof(kv_ql_node_t);
    for (const kv_ql_node_t *n = ql->head; n != NULL; n = n->next)
        bytes += kv_lp_bytes(n->lp);
    return bytes;
}

/* --- Ends --- */

int kv_ql_push(kv_ql_t *ql, int where, const void *s, size_t len) {
    if (where == KV_QL_HEAD) return insert_between(ql, NULL, ql->head, s, len);
    return insert_between(ql, ql->tail, NULL, s, len);
}

/* Deletes the entry at p in node, freeing the node when it empties. */
static void delete_at(kv_ql_t *ql, kv_ql_node_t *node, uint8_t *p) {
    (void)kv_lp_delete(&node->lp, &p);
    node->count--;
    ql->count--;
    if (node->count == 0) unlink_free(ql, node);
}

int kv_ql_pop(kv_ql_t *ql, int where, kv_ql_popped_t *out) {
    if (ql->count == 0) return -ENOENT;
    kv_ql_node_t *node = where == KV_QL_HEAD ? ql->head : ql->tail;
    uint8_t *p = where == KV_QL_HEAD ? kv_lp_first(node->lp) : kv_lp_last(node->lp);
    kv_lp_val_t v;
    kv_lp_get(p, &v);
    out->str = NULL;
    out->len = 0;
    out->ival = v.ival;
    if (v.str != NULL) {
        out->str = malloc(v.len + 1);
        if (out->str == NULL) return -ENOMEM;
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
    fill_entry(e, node, kv_lp_seek(node->lp, (long)offset), offset);
    return 0;
}

bool kv_ql_entry_equals(const kv_ql_entry_t *e, const void *s, size_t len) {
    return kv_lp_equals(e->p, s, len);
}

int kv_ql_insert(kv_ql_t *ql, const kv_ql_entry_t *e, int where, const void *s, size_t len) {
    kv_ql_node_t *node = e->node;
    if (allows_insert(ql, node, len)) {
        int rc = kv_lp_insert(&node->lp, e->p, where, s, len, NULL);
        if (rc != 0) return rc;
        node->count++;
        ql->count++;
        return 0;
    }
    if (where == KV_LP_AFTER && e->offset + 1 == node->count)
        return insert_between(ql, node, node->next, s, len);
    if (where == KV_LP_BEFORE && e->offset == 0)
        return insert_between(ql, node->prev, node, s, len);
    /* Inside a full node: split at the insertion point, insert between the halves. */
    kv_ql_node_t *right;
    int rc = split_node(ql, node, where == KV_LP_AFTER ? e->offset + 1 : e->offset, &right);
    if (rc != 0) return rc;
    rc = insert_between(ql, node, right, s, len);
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
        fits(ql, kv_lp_bytes(node->lp) - old + len + ENTRY_OVERHEAD, node->count))
        return kv_lp_replace(&node->lp, &e.p, s, len);
    /* Add the new value after the old one first, so a failure loses nothing. */
    size_t abs = absolute_index(ql, index);
    int rc = kv_ql_insert(ql, &e, KV_LP_AFTER, s, len);
    if (rc != 0) return rc;
    (void)kv_ql_del_range(ql, (long)abs, 1);
    return 0;
}

size_t kv_ql_del_range(kv_ql_t *ql, long start, size_t count) {
    kv_ql_node_t *node;
    size_t offset, deleted = 0;
    if (count == 0 || !locate(ql, start, &node, &offset)) return 0;
    while (deleted < count && node != NULL) {
        size_t del = node->count - offset;
        if (del > count - deleted) del = count - deleted;
        kv_ql_node_t *next = node->next;
        if (del == node->count) {
            unlink_free(ql, node);
        } else {
            (void)kv_lp_delete_range(&node->lp, (long)offset, del);
            node->count -= (uint32_t)del;
        }
        ql->count -= del;
        deleted += del;
        offset = 0;
        node = next;
    }
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
        return;
    }
    it->offset = e->offset;
    if (forward) {
        /* The follower slid into the deleted entry's place: return it next. */
        it->p = p;
        it->pending = p != NULL;
        if (p == NULL) it->node = node->next;
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
    for (const kv_ql_node_t *n = ql->head; n != NULL; prev = n, n = n->next) {
        if (++nodes > ql->nodes) return -EPROTO; /* also stops a cycle */
        if (n->prev != prev || n->lp == NULL || n->count == 0) return -EPROTO;
        if (kv_lp_check(n->lp) != 0 || kv_lp_len(n->lp) != n->count) return -EPROTO;
        if (n->count > 1 && !fits(ql, kv_lp_bytes(n->lp), n->count)) return -EPROTO;
        count += n->count;
    }
    if (ql->tail != prev || nodes != ql->nodes || count != ql->count) return -EPROTO;
    return 0;
}
