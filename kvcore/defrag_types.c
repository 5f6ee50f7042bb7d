/* SPDX-License-Identifier: MIT */
/*
 * defrag_types.c - how the active defragmenter relocates a value's own allocations, per
 * type and encoding (the object itself is moved by defrag_kv.c).
 *
 * A type may register its own hooks (kv_type_ops_t.defrag_len / defrag_value); the
 * built-in versions here cover the encodings whose layout kvcore's shared structures
 * fix: RAW strings (one kv_rstr_t), listpacks and intsets (one block each), and
 * quicklists (struct, then every node with its listpack, resumable by node index).
 * Embedded strings and integers have nothing of their own. Work is bounded by a budget
 * of elements and resumable through a cursor below 2^56 that is never 0 when work is
 * left, so a value too big for one slice is finished over several.
 */
#include "kv_internal.h"

#include <stdint.h>

#include "quicklist.h"

size_t kv_defrag_value_len(const kv_obj_t *o) {
    const kv_type_ops_t *ops = kv_obj_type_ops((int)o->type);
    if (ops != NULL && ops->defrag_len != NULL) return ops->defrag_len(o);
    switch (o->encoding) {
    case KV_ENC_QUICKLIST: return kv_ql_len(kv_obj_ptr(o));
    default: return 1; /* strings, and single-block encodings */
    }
}

/* Quicklist: the struct on the first call, then nodes from index *cursor - 1. */
static bool defrag_quicklist(kv_obj_t *o, uint64_t *cursor, size_t budget, kv_defrag_move_fn move) {
    kv_ql_t *ql = kv_obj_ptr(o);
    if (*cursor == 0) {
        kv_ql_defrag_struct(&ql, move);
        kv_obj_set_ptr(o, ql);
    }
    size_t idx = *cursor == 0 ? 0 : (size_t)(*cursor - 1);
    kv_ql_node_t *n = *cursor == 0 ? ql->head : kv_ql_node_at(ql, idx);
    size_t done = 0;
    while (n != NULL) {
        n = kv_ql_defrag_node(ql, n, move);
        done += n->count;
        n = n->next;
        idx++;
        if (n != NULL && done >= budget) {
            *cursor = (uint64_t)idx + 1;
            return false;
        }
    }
    *cursor = 0;
    return true;
}

bool kv_defrag_value(kv_obj_t *o, uint64_t *cursor, size_t budget, kv_defrag_move_fn move) {
    const kv_type_ops_t *ops = kv_obj_type_ops((int)o->type);
    if (o->type != KV_TYPE_STRING && ops != NULL && ops->defrag_value != NULL)
        return ops->defrag_value(o, cursor, budget, move);
    switch (o->encoding) {
    case KV_ENC_EMBSTR:
    case KV_ENC_INT: break; /* inside the object */
    case KV_ENC_QUICKLIST: return defrag_quicklist(o, cursor, budget, move);
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
