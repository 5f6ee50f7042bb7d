/* SPDX-License-Identifier: MIT */
/*
 * stage.c - the stage queue of a defrag cycle, and the relocation helpers and counters
 * stage code uses.
 *
 * Stages are registered once and walked in order by every cycle (Valkey builds the same
 * list per cycle in beginDefragCycle). A stage starts with reset, advances by steps
 * until it answers DEFRAG_DONE, and gets abort when it started but will not finish:
 * the cycle ended early, or the host aborted it because what it walks is gone
 * (FLUSHDB, SWAPDB). The helpers wrap the shim's move primitive and its packing hint
 * (memshim_defrag_should_pack: every region of a non-full slab moves, which one pass
 * turns into full low slabs, where Valkey's averaging hint leaves a third of the
 * fragmentation to later cycles), and count hits (moved) and misses (looked at, left in
 * place), as Valkey's activeDefragAlloc does.
 */
#include "defrag_internal.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>

#include "memshim.h"

int defrag_stage_add(defrag_t *d, const defrag_stage_ops_t *ops, void *priv) {
    if (d == NULL || ops == NULL || ops->step == NULL) return -EINVAL;
    if (d->nstages == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 8;
        defrag_stage_t *s = realloc(d->stages, cap * sizeof(*s));
        if (s == NULL) return -ENOMEM;
        d->stages = s;
        d->cap = cap;
    }
    d->stages[d->nstages++] = (defrag_stage_t){ops, priv};
    return 0;
}

size_t defrag_stage_remove(defrag_t *d, const void *priv) {
    size_t o = 0, new_cur = 0;
    for (size_t i = 0; i < d->nstages; i++) {
        defrag_stage_t s = d->stages[i];
        if (i == d->cur) new_cur = o; /* the current stage, or the next one kept */
        if (s.priv != priv) {
            d->stages[o++] = s;
            continue;
        }
        if (i == d->cur && d->cur_started) {
            assert(!d->in_slice);
            if (s.ops->abort != NULL) s.ops->abort(s.priv);
            d->cur_started = false;
        }
    }
    if (d->cur >= d->nstages) new_cur = o;
    size_t removed = d->nstages - o;
    d->nstages = o;
    d->cur = new_cur;
    return removed;
}

void defrag_stage_abort_current(defrag_t *d) {
    if (d->cur >= d->nstages || !d->cur_started) return;
    defrag_stage_t *s = &d->stages[d->cur];
    if (s->ops->abort != NULL) s->ops->abort(s->priv);
    d->cur++;
    d->cur_started = false;
}

bool defrag_stage_abort(defrag_t *d, const void *priv) {
    if (!d->running || d->cur >= d->nstages || !d->cur_started) return false;
    if (priv != NULL && d->stages[d->cur].priv != priv) return false;
    assert(!d->in_slice);
    defrag_stage_abort_current(d);
    return true;
}

const char *defrag_stage_current(const defrag_t *d) {
    if (!d->running || d->cur >= d->nstages || !d->cur_started) return NULL;
    return d->stages[d->cur].ops->name;
}

/* --- Relocation helpers and counters --- */

void *defrag_move(defrag_t *d, void *ptr) {
    if (ptr == NULL) return NULL;
    void *p = ptr;
    if (memshim_defrag_move_batch(&p, 1, true) > 0) {
        d->hits++;
        return p;
    }
    d->misses++;
    return NULL;
}

void *defrag_alloc_copy(defrag_t *d, void *ptr) {
    if (ptr == NULL) return NULL;
    bool move = false;
    void *np = NULL;
    if (memshim_defrag_should_pack(&ptr, 1, &move) > 0) np = memshim_defrag_alloc_copy(ptr);
    if (np != NULL)
        d->hits++;
    else
        d->misses++;
    return np;
}

size_t defrag_move_batch(defrag_t *d, void **ptrs, size_t n) {
    size_t live = 0;
    for (size_t k = 0; k < n; k++)
        live += ptrs[k] != NULL;
    int rc = memshim_defrag_move_batch(ptrs, n, true);
    size_t moved = rc > 0 ? (size_t)rc : 0;
    d->hits += moved;
    d->misses += live - moved;
    return moved;
}

void defrag_count(defrag_t *d, uint64_t hits, uint64_t misses) {
    d->hits += hits;
    d->misses += misses;
}

void defrag_count_key(defrag_t *d, bool moved) {
    if (moved)
        d->key_hits++;
    else
        d->key_misses++;
}

bool defrag_should_defer(const defrag_t *d, uint64_t elements) {
    return elements > d->cfg.max_scan_fields;
}
