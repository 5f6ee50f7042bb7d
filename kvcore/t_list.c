/* SPDX-License-Identifier: MIT */
/*
 * t_list.c - the list type: one listpack while the list fits one node of
 * list-max-listpack-size, a quicklist of listpack nodes beyond (t_list.h).
 *
 * The conversion rules are Redis 7.2's (t_list.c listTypeTryConversionRaw): grow to a
 * quicklist when the listpack's bytes plus the bytes being added, or its count plus the
 * count being added, pass the node limit; shrink back when the quicklist has one node
 * within half the limit. Redis counts only the added strings' own bytes, not their
 * entry headers, and so do we, so the same lists convert at the same sizes.
 *
 * The type hooks are registered the first time a list is created: no list object can
 * exist before that, and the server needs no list-specific start-up step.
 */
#include "t_list.h"

#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define SIZE_SAFETY_LIMIT 8192 /* quicklist.c: a count-limited node stays under this */

/* --- Type hooks --- */

static void list_free_value(void *ptr, int encoding) {
    if (encoding == KV_ENC_QUICKLIST)
        kv_ql_free(ptr);
    else
        kv_lp_free(ptr);
}

static void *ql_dup(const kv_ql_t *src) {
    kv_ql_t *ql = kv_ql_new(src->fill);
    if (ql == NULL) return NULL;
    kv_ql_set_depth(ql, src->depth);
    kv_ql_iter_t it;
    kv_ql_entry_t e;
    kv_ql_iter_init(&it, (kv_ql_t *)src, KV_QL_HEAD);
    while (kv_ql_iter_next(&it, &e)) {
        char buf[KV_LP_INTBUF];
        size_t len;
        const uint8_t *s = kv_lp_get_bytes(e.p, buf, &len);
        if (kv_ql_push(ql, KV_QL_TAIL, s, len) != 0) {
            kv_ql_free(ql);
            return NULL;
        }
    }
    return ql;
}

static void *list_dup_value(const void *ptr, int encoding) {
    if (encoding == KV_ENC_QUICKLIST) return ql_dup(ptr);
    return kv_lp_dup(ptr);
}

size_t kv_list_value_bytes(const void *ptr, int encoding) {
    if (encoding != KV_ENC_QUICKLIST) return malloc_usable_size((void *)ptr);
    const kv_ql_t *ql = ptr;
    size_t n = malloc_usable_size((void *)ql);
    for (const kv_ql_node_t *node = ql->head; node != NULL; node = node->next)
        n += malloc_usable_size((void *)node) + malloc_usable_size(node->lp);
    return n;
}

static const kv_type_ops_t list_ops = {
    .free_value = list_free_value,
    .mem_bytes = kv_list_value_bytes,
    .dup_value = list_dup_value,
};

static bool ops_registered;

kv_obj_t *kv_list_new(const char *key, size_t klen, int64_t expire_ms) {
    if (!ops_registered) {
        kv_obj_register_type(KV_TYPE_LIST, &list_ops);
        ops_registered = true;
    }
    uint8_t *lp = kv_lp_new();
    if (lp == NULL) return NULL;
    kv_obj_t *o = kv_obj_new_ptr(key, klen, KV_TYPE_LIST, KV_ENC_LISTPACK, lp, expire_ms);
    if (o == NULL) kv_lp_free(lp);
    return o;
}

static uint8_t *lp_of(const kv_obj_t *o) {
    return kv_obj_ptr(o);
}

static kv_ql_t *ql_of(const kv_obj_t *o) {
    return kv_obj_ptr(o);
}

size_t kv_list_len(const kv_obj_t *o) {
    if (o->encoding == KV_ENC_QUICKLIST) return kv_ql_len(ql_of(o));
    return kv_lp_len(lp_of(o));
}

/* --- Conversions --- */

/* quicklistNodeLimit: a node's byte limit (negative fill) or entry limit (positive). */
static void node_limit(long long fill, size_t *bytes, size_t *count) {
    *bytes = SIZE_MAX;
    *count = SIZE_MAX;
    if (fill >= 0) {
        *count = fill == 0 ? 1 : (size_t)fill;
    } else {
        long long level = -fill - 1;
        if (level > 4) level = 4;
        *bytes = (size_t)4096 << level;
    }
}

static bool exceeds_limit(long long fill, size_t bytes, size_t count) {
    size_t lb, lc;
    node_limit(fill, &lb, &lc);
    if (lb != SIZE_MAX) return bytes > lb;
    return bytes > SIZE_SAFETY_LIMIT || count > lc;
}

static int ql_fill(long long fill) {
    if (fill < KV_QL_FILL_MIN) return KV_QL_FILL_MIN;
    if (fill > KV_QL_FILL_MAX) return KV_QL_FILL_MAX;
    return (int)fill;
}

int kv_list_grow(kv_obj_t *o, size_t add_bytes, size_t add_count) {
    if (o->encoding != KV_ENC_LISTPACK) return 0;
    long long fill = kv_srv.cfg.list_max_listpack_size;
    uint8_t *lp = lp_of(o);
    if (!exceeds_limit(fill, kv_lp_bytes(lp) + add_bytes, kv_lp_len(lp) + add_count)) return 0;
    kv_ql_t *ql = kv_ql_new(ql_fill(fill));
    if (ql == NULL) return -ENOMEM;
    kv_ql_set_depth(ql, kv_srv.cfg.list_compress_depth); /* fixed for the list's life */
    for (uint8_t *p = kv_lp_first(lp); p != NULL; p = kv_lp_next(lp, p)) {
        char buf[KV_LP_INTBUF];
        size_t len;
        const uint8_t *s = kv_lp_get_bytes(p, buf, &len);
        if (kv_ql_push(ql, KV_QL_TAIL, s, len) != 0) {
            kv_ql_free(ql);
            return -ENOMEM;
        }
    }
    kv_lp_free(lp);
    kv_obj_set_ptr(o, ql);
    o->encoding = KV_ENC_QUICKLIST;
    return 0;
}

void kv_list_shrink(kv_obj_t *o) {
    if (o->encoding != KV_ENC_QUICKLIST) return;
    kv_ql_t *ql = ql_of(o);
    if (ql->nodes != 1 || kv_ql_node_is_compressed(ql->head)) return; /* an end: plain */
    size_t lb, lc;
    node_limit(kv_srv.cfg.list_max_listpack_size, &lb, &lc);
    if (kv_lp_bytes(ql->head->lp) > lb / 2 || ql->count > lc / 2) return;
    uint8_t *lp = kv_lp_dup(ql->head->lp);
    if (lp == NULL) return; /* stays a quicklist: still correct */
    kv_ql_free(ql);
    kv_obj_set_ptr(o, lp);
    o->encoding = KV_ENC_LISTPACK;
}

/* --- Elements --- */

int kv_list_push(kv_obj_t *o, int where, const void *s, size_t len) {
    if (o->encoding == KV_ENC_QUICKLIST) return kv_ql_push(ql_of(o), where, s, len);
    uint8_t *lp = lp_of(o);
    int rc = where == KV_LIST_HEAD ? kv_lp_prepend(&lp, s, len) : kv_lp_append(&lp, s, len);
    kv_obj_set_ptr(o, lp);
    return rc;
}

int kv_list_index(kv_obj_t *o, long index, kv_list_entry_t *e) {
    if (o->encoding == KV_ENC_QUICKLIST) {
        if (kv_ql_index(ql_of(o), index, &e->qe) != 0) return -ERANGE;
        e->p = e->qe.p;
        e->val = e->qe.val;
        return 0;
    }
    e->p = kv_lp_seek(lp_of(o), index);
    if (e->p == NULL) return -ERANGE;
    kv_lp_get(e->p, &e->val);
    return 0;
}

int kv_list_replace_at(kv_obj_t *o, long index, const void *s, size_t len) {
    if (o->encoding == KV_ENC_QUICKLIST) return kv_ql_replace_at(ql_of(o), index, s, len);
    uint8_t *lp = lp_of(o);
    uint8_t *p = kv_lp_seek(lp, index);
    if (p == NULL) return -ERANGE;
    int rc = kv_lp_replace(&lp, &p, s, len);
    kv_obj_set_ptr(o, lp);
    return rc;
}

size_t kv_list_del_range(kv_obj_t *o, long start, size_t count) {
    if (o->encoding == KV_ENC_QUICKLIST) return kv_ql_del_range(ql_of(o), start, count);
    uint8_t *lp = lp_of(o);
    size_t len = kv_lp_len(lp);
    size_t first;
    if (start < 0) {
        if ((unsigned long)-(start + 1) >= len) return 0;
        first = len - 1 - (size_t) - (start + 1);
    } else {
        if ((size_t)start >= len) return 0;
        first = (size_t)start;
    }
    if (count > len - first) count = len - first;
    if (count == 0) return 0;
    (void)kv_lp_delete_range(&lp, (long)first, count);
    kv_obj_set_ptr(o, lp);
    return count;
}

/* --- Iteration --- */

int kv_list_iter_init(kv_list_iter_t *it, kv_obj_t *o, long index, bool forward) {
    it->o = o;
    it->forward = forward;
    it->started = false;
    it->p = NULL;
    if (o->encoding == KV_ENC_QUICKLIST)
        return kv_ql_iter_init_at(&it->qi, ql_of(o), forward ? KV_QL_HEAD : KV_QL_TAIL, index);
    it->p = kv_lp_seek(lp_of(o), index);
    return it->p != NULL ? 0 : -ERANGE;
}

bool kv_list_iter_next(kv_list_iter_t *it, kv_list_entry_t *e) {
    if (it->o->encoding == KV_ENC_QUICKLIST) {
        if (!kv_ql_iter_next(&it->qi, &e->qe)) return false;
        e->p = e->qe.p;
        e->val = e->qe.val;
        return true;
    }
    if (it->p == NULL) return false;
    uint8_t *lp = lp_of(it->o);
    e->p = it->p;
    kv_lp_get(e->p, &e->val);
    it->p = it->forward ? kv_lp_next(lp, it->p) : kv_lp_prev(lp, it->p);
    return true;
}

void kv_list_iter_del(kv_list_iter_t *it, kv_list_entry_t *e) {
    if (it->o->encoding == KV_ENC_QUICKLIST) {
        kv_ql_iter_del(&it->qi, &e->qe);
        return;
    }
    uint8_t *lp = lp_of(it->o);
    uint8_t *q = e->p;
    (void)kv_lp_delete(&lp, &q); /* q: the follower, now where the deleted entry was */
    kv_obj_set_ptr(it->o, lp);
    if (it->forward)
        it->p = q;
    else
        it->p = q != NULL ? kv_lp_prev(lp, q) : kv_lp_last(lp);
}

void kv_list_release(kv_obj_t *o) {
    if (o->encoding == KV_ENC_QUICKLIST) kv_ql_release(ql_of(o));
}

bool kv_list_entry_equals(const kv_list_entry_t *e, const void *s, size_t len) {
    return kv_lp_equals(e->p, s, len);
}

int kv_list_insert(kv_obj_t *o, const kv_list_entry_t *e, int where, const void *s, size_t len) {
    if (o->encoding == KV_ENC_QUICKLIST) return kv_ql_insert(ql_of(o), &e->qe, where, s, len);
    uint8_t *lp = lp_of(o);
    int rc = kv_lp_insert(&lp, e->p, where, s, len, NULL);
    kv_obj_set_ptr(o, lp);
    return rc;
}

/* --- Checking --- */

int kv_list_check(const kv_obj_t *o) {
    if (o == NULL || o->type != KV_TYPE_LIST || kv_obj_ptr(o) == NULL) return -EPROTO;
    if (o->encoding == KV_ENC_LISTPACK) return kv_lp_check(lp_of(o));
    if (o->encoding == KV_ENC_QUICKLIST) return kv_ql_check(ql_of(o));
    return -EPROTO;
}
