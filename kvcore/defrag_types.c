/* SPDX-License-Identifier: MIT */
/*
 * defrag_types.c - how the active defragmenter relocates a value's own allocations, per
 * type and encoding (the object itself is moved by defrag_kv.c).
 *
 * A type may register its own hooks (kv_type_ops_t.defrag_len / defrag_value); the
 * built-in versions here cover the encodings whose layout kvcore's shared structures
 * fix: RAW strings (one kv_rstr_t), listpacks and intsets (one block each), quicklists
 * (struct, then every node with its listpack, resumable by node index) and sorted sets
 * in skiplist form (struct, table, skiplist, then nodes by rank, then table buckets).
 * Hashes and sets register their own hook (kv_agg_defrag_value, t_hash.c).
 * Embedded strings and integers have nothing of their own. Work is bounded by a budget
 * of elements and resumable through a cursor below 2^56 that is never 0 when work is
 * left, so a value too big for one slice is finished over several.
 */
#include "kv_internal.h"

#include <stdint.h>

#include "quicklist.h"
#include "t_hash.h"
#include "t_zset.h"

/* A sorted set's cursor: the 1-based rank of the next node, or, with this bit set, the
 * scan cursor of its table's buckets (moved after the nodes). */
#define ZSET_BUCKETS (UINT64_C(1) << 55)

size_t kv_defrag_value_len(const kv_obj_t *o) {
    const kv_type_ops_t *ops = kv_obj_type_ops((int)o->type);
    if (ops != NULL && ops->defrag_len != NULL) return ops->defrag_len(o);
    switch (o->encoding) {
    case KV_ENC_QUICKLIST: return kv_ql_len(kv_obj_ptr(o));
    case KV_ENC_SKIPLIST: return kv_zsl_len(((const kv_zset_t *)kv_obj_ptr(o))->zsl);
    default: return 1; /* strings, and single-block encodings */
    }
}

void *kv_defrag_value_block(const kv_obj_t *o) {
    if (!kv_obj_has_ptr(o)) return NULL;
    const kv_type_ops_t *ops = kv_obj_type_ops((int)o->type);
    /* A type's own hook decides, except the aggregates' one, whose small encodings are
     * one block as here. */
    if (o->type != KV_TYPE_STRING && ops != NULL && ops->defrag_value != NULL &&
        ops->defrag_value != kv_agg_defrag_value)
        return NULL;
    switch (o->encoding) {
    case KV_ENC_RAW:
    case KV_ENC_LISTPACK:
    case KV_ENC_INTSET: return kv_obj_ptr(o);
    default: return NULL;
    }
}

/* The node at index i, walking from the nearer end: a resumed cursor is an index (a
 * node pointer could be freed between two steps), and a list of thousands of nodes
 * should not cost a walk from the head at every step. */
static kv_ql_node_t *node_at(const kv_ql_t *ql, size_t i) {
    if (i >= ql->nodes) return NULL;
    if (i < ql->nodes / 2) return kv_ql_node_at(ql, i);
    kv_ql_node_t *n = ql->tail;
    for (size_t k = ql->nodes - 1; n != NULL && k > i; k--)
        n = n->prev;
    return n;
}

/* Quicklist: the struct on the first call, then nodes from index *cursor - 1 (from the
 * node r recorded, when it recorded that index of this list). */
static bool defrag_quicklist(kv_obj_t *o, uint64_t *cursor, size_t budget, kv_defrag_move_fn move,
                             kv_defrag_resume_t *r) {
    kv_ql_t *ql = kv_obj_ptr(o);
    if (*cursor == 0) {
        kv_ql_defrag_struct(&ql, move);
        kv_obj_set_ptr(o, ql);
    }
    size_t idx = *cursor == 0 ? 0 : (size_t)(*cursor - 1);
    kv_ql_node_t *n;
    if (*cursor == 0)
        n = ql->head;
    else if (r != NULL && r->ql == ql && r->idx == idx && r->node != NULL)
        n = r->node;
    else
        n = node_at(ql, idx);
    size_t done = 0;
    while (n != NULL) {
        n = kv_ql_defrag_node(ql, n, move);
        done += n->count;
        n = n->next;
        idx++;
        if (n != NULL && done >= budget) {
            *cursor = (uint64_t)idx + 1;
            if (r != NULL) *r = (kv_defrag_resume_t){.ql = ql, .idx = idx, .node = n};
            return false;
        }
    }
    *cursor = 0;
    return true;
}

static void zset_node_moved(void *priv, const kv_zsl_node_t *old, kv_zsl_node_t *moved) {
    kv_zset_t *zs = priv;
    kv_ht_replace_reallocated(zs->ht, old, moved);
}

/*
 * Sorted set (skiplist form): the kv_zset_t, its table's struct and arrays, the skiplist
 * struct and header on the first call; then the nodes in rank order, budget per call
 * (kv_zsl_defrag_range: one descent per call, not one search per node), each moved with
 * its links fixed and its table slot repointed by identity; then the table's buckets.
 */
static bool defrag_zset(kv_obj_t *o, uint64_t *cursor, size_t budget, const kv_defrag_mover_t *m) {
    kv_defrag_move_fn move = m->move;
    kv_zset_t *zs = kv_obj_ptr(o);
    if (*cursor == 0) {
        kv_zset_t *n = move(zs);
        if (n != NULL) {
            zs = n;
            kv_obj_set_ptr(o, zs);
        }
        kv_ht_defrag_tables(&zs->ht, move);
        kv_zsl_defrag_struct(&zs->zsl, move);
        *cursor = 1;
    }
    if (!(*cursor & ZSET_BUCKETS)) {
        size_t next = kv_zsl_defrag_range(zs->zsl, (size_t)*cursor, budget, move, m->move_batch,
                                          zset_node_moved, zs);
        if (next != 0) {
            *cursor = next;
            return false;
        }
        *cursor = ZSET_BUCKETS; /* the buckets get a budget of their own */
    }
    size_t done = 0;
    size_t c = (size_t)(*cursor & ~ZSET_BUCKETS);
    do {
        c = kv_ht_scan_defrag(zs->ht, c, NULL, NULL, move);
        done += 7;
    } while (c != 0 && done < budget);
    *cursor = c == 0 ? 0 : (ZSET_BUCKETS | c);
    return c == 0;
}

bool kv_defrag_value(kv_obj_t *o, uint64_t *cursor, size_t budget, const kv_defrag_mover_t *m) {
    return kv_defrag_value_resume(o, cursor, budget, m, NULL);
}

bool kv_defrag_value_resume(kv_obj_t *o, uint64_t *cursor, size_t budget,
                            const kv_defrag_mover_t *m, kv_defrag_resume_t *r) {
    const kv_type_ops_t *ops = kv_obj_type_ops((int)o->type);
    if (o->type != KV_TYPE_STRING && ops != NULL && ops->defrag_value != NULL)
        return ops->defrag_value(o, cursor, budget, m);
    kv_defrag_move_fn move = m->move;
    switch (o->encoding) {
    case KV_ENC_EMBSTR:
    case KV_ENC_INT: break; /* inside the object */
    case KV_ENC_QUICKLIST: return defrag_quicklist(o, cursor, budget, move, r);
    case KV_ENC_SKIPLIST: return defrag_zset(o, cursor, budget, m);
    case KV_ENC_RAW:
    case KV_ENC_LISTPACK:
    case KV_ENC_INTSET: {
        /* One block: a kv_rstr_t, a listpack or an intset. */
        void *n = move(kv_obj_ptr(o));
        if (n != NULL) kv_obj_set_ptr(o, n);
        break;
    }
    default: break; /* a type without hooks: its value stays where it is */
    }
    *cursor = 0;
    return true;
}
