/* SPDX-License-Identifier: MIT */
/*
 * hint.c - fragmentation hints and the relocation primitive, on stock jemalloc 5.3.
 *
 * One idea: a live small allocation is worth moving when its slab is emptier than the
 * average non-full slab of its bin, because a copy made without the thread cache lands
 * in a fuller slab and the emptier one can drain and be returned. The per-pointer facts
 * come from experimental.utilization.batch_query ({nfree, nregs, extent size} per
 * pointer); the per-bin averages come from stats.arenas.<ALL>.bins.<j>.* after an epoch
 * refresh, cached in one snapshot that also yields the fragmentation figure
 * Σ (nregs·curslabs − curregs)·size (docs/design.md#the-fragmentation-figure, Valkey's
 * allocator_defrag.c).
 *
 * The size-class table is read from arenas.bin.<j>.* once: Debian's jemalloc has a
 * 16-byte quantum, so no class is hard-coded. Pointer queries are only safe on pointers
 * jemalloc owns; when the process's malloc is someone else's (ASan, valgrind), every hint
 * says "stay" and no move happens (see memshim.h). None of this is on the allocation
 * path; the snapshot is guarded by one mutex, handed over across fork.
 */
#include "memshim_internal.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jemalloc/jemalloc.h>

/* Enough for any jemalloc 5.3 build (36 bins at a 16-byte quantum and 4 KiB pages). */
#define MAX_BINS 128
/* Pointers per batch_query call; the output stays on the stack (3 size_t each). */
#define QUERY_BATCH 64
/* should_move reuses bin averages this young; older ones are re-read after an epoch. */
#define HINT_STATS_MAX_AGE_US 10000u
/* should_pack asks the statistics only whether a bin has two non-full slabs, which a
 * defrag cycle changes slowly: figures this young do (a re-read costs 40-60 us). */
#define HINT_PACK_STATS_MAX_AGE_US 100000u
/* class_by_size: the bin of each region size up to CLASS_TABLE_LEN * SIZE_STEP bytes
 * (every class size is a multiple of 8 in any jemalloc build); larger ones are searched. */
#define SIZE_STEP       8u
#define CLASS_TABLE_LEN 4096u
#define NO_CLASS        0xFFu
/* The malloc that tells whose malloc it is (jemalloc_is_malloc). */
#define PROBE_BYTES 3000u

typedef struct bin_class {
    size_t size;      /* region size */
    size_t slab_size; /* bytes per slab */
    uint32_t nregs;   /* regions per slab */
} bin_class_t;

typedef struct bin_usage {
    size_t curregs;
    size_t curslabs;
    size_t nonfull_slabs;
} bin_usage_t;

/* Immutable after init_once. */
static pthread_once_t init_ctl = PTHREAD_ONCE_INIT;
static int init_rc = -EAGAIN; /* 0 once the class table and the MIBs are ready */
static bool owns_pointers;    /* jemalloc is the process's malloc */
static unsigned nbins;
static bin_class_t classes[MAX_BINS];
static uint8_t class_by_size[CLASS_TABLE_LEN]; /* size / SIZE_STEP -> bin, or NO_CLASS */
static size_t mib_curregs[6], mib_curslabs[6], mib_nonfull[6], mib_allocated[2], mib_query[3];
static size_t miblen_bins = 6, miblen_allocated = 2, miblen_query = 3;

/* The snapshot, under snap_lock. */
static pthread_mutex_t snap_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t snap_stamp_us; /* 0 = never read */
static size_t snap_allocated;
static size_t snap_frag_bytes;
static bin_usage_t snap_bins[MAX_BINS];

static uint64_t mono_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/*
 * True when the process's malloc is jemalloc's, through the shim or linked directly.
 * malloc's address is not proof: valgrind redirects calls to the very address dladdr
 * attributes to libjemalloc. So, unless the shim itself is the malloc, one malloc on this
 * thread must show up in jemalloc's per-thread counter (no epoch, no other thread's noise).
 */
static bool jemalloc_is_malloc(void) {
    if (memshim_is_active()) return true;
    void *(*volatile m)(size_t) = malloc; /* volatile: the pair must not be elided */
    void (*volatile f)(void *) = free;
    uint64_t before = 0, after = 0;
    size_t len = sizeof(before);
    if (mallctl("thread.allocated", &before, &len, NULL, 0) != 0) return false;
    void *p = m(PROBE_BYTES);
    if (p == NULL) return false;
    len = sizeof(after);
    int rc = mallctl("thread.allocated", &after, &len, NULL, 0);
    f(p);
    return rc == 0 && after - before >= PROBE_BYTES;
}

static int je_bin_read(unsigned j, const char *field, void *out, size_t len) {
    char name[64];
    snprintf(name, sizeof(name), "arenas.bin.%u.%s", j, field);
    size_t got = len;
    int rc = mallctl(name, out, &got, NULL, 0);
    if (rc != 0) return -rc;
    return got == len ? 0 : -EIO;
}

static void fork_prepare(void) {
    pthread_mutex_lock(&snap_lock);
}

static void fork_parent(void) {
    pthread_mutex_unlock(&snap_lock);
}

static void fork_child(void) {
    pthread_mutex_init(&snap_lock, NULL);
}

static int init_tables(void) {
    unsigned n = 0;
    size_t len = sizeof(n);
    int rc = mallctl("arenas.nbins", &n, &len, NULL, 0);
    if (rc != 0) return -rc;
    if (n == 0 || n > MAX_BINS) return -ERANGE;
    for (unsigned j = 0; j < n; j++) {
        bin_class_t *c = &classes[j];
        if ((rc = je_bin_read(j, "size", &c->size, sizeof(c->size))) != 0) return rc;
        if ((rc = je_bin_read(j, "nregs", &c->nregs, sizeof(c->nregs))) != 0) return rc;
        if ((rc = je_bin_read(j, "slab_size", &c->slab_size, sizeof(c->slab_size))) != 0) return rc;
        if (c->nregs == 0 || (j > 0 && c->size <= classes[j - 1].size)) return -EIO;
    }
    memset(class_by_size, NO_CLASS, sizeof(class_by_size));
    for (unsigned j = 0; j < n; j++)
        if (classes[j].size % SIZE_STEP == 0 && classes[j].size / SIZE_STEP < CLASS_TABLE_LEN)
            class_by_size[classes[j].size / SIZE_STEP] = (uint8_t)j;
    /* MIBs with the arena and bin components patched per read (mallctlbymib). */
    if ((rc = mallctlnametomib("stats.arenas.0.bins.0.curregs", mib_curregs, &miblen_bins)))
        return -rc;
    if ((rc = mallctlnametomib("stats.arenas.0.bins.0.curslabs", mib_curslabs, &miblen_bins)))
        return -rc;
    if ((rc = mallctlnametomib("stats.arenas.0.bins.0.nonfull_slabs", mib_nonfull, &miblen_bins)))
        return -rc;
    if ((rc = mallctlnametomib("stats.allocated", mib_allocated, &miblen_allocated))) return -rc;
    if ((rc = mallctlnametomib("experimental.utilization.batch_query", mib_query, &miblen_query)))
        return -rc;
    mib_curregs[2] = mib_curslabs[2] = mib_nonfull[2] = MALLCTL_ARENAS_ALL;
    nbins = n;
    return 0;
}

static void init_once(void) {
    /* jemalloc is initialised by the mallctl calls, so its atfork handlers are already
     * registered and ours (registered after) run first: snap_lock is taken before
     * jemalloc's own locks (docs/design.md#fork-order). */
    int rc = init_tables();
    if (rc != 0) {
        ms_log(MS_LOG_WARN, "defrag hints unavailable: jemalloc bin tables unreadable (%d)", rc);
        init_rc = rc;
        return;
    }
    owns_pointers = jemalloc_is_malloc();
    pthread_atfork(fork_prepare, fork_parent, fork_child);
    init_rc = 0;
}

static int hint_init(void) {
    pthread_once(&init_ctl, init_once);
    return init_rc;
}

static int read_by_mib(const size_t *mib, size_t miblen, size_t *out) {
    size_t len = sizeof(*out);
    int rc = mallctlbymib(mib, miblen, out, &len, NULL, 0);
    return rc != 0 ? -rc : 0;
}

/* pre: snap_lock held. Refreshes the epoch and re-reads every bin. 0 or -EIO. */
static int snap_refresh_locked(void) {
    if (ms_je_epoch() != 0) return -EIO;
    size_t allocated = 0, frag = 0;
    if (read_by_mib(mib_allocated, miblen_allocated, &allocated) != 0) return -EIO;
    for (unsigned j = 0; j < nbins; j++) {
        bin_usage_t *u = &snap_bins[j];
        mib_curregs[4] = mib_curslabs[4] = mib_nonfull[4] = j;
        if (read_by_mib(mib_curregs, miblen_bins, &u->curregs) != 0 ||
            read_by_mib(mib_curslabs, miblen_bins, &u->curslabs) != 0 ||
            read_by_mib(mib_nonfull, miblen_bins, &u->nonfull_slabs) != 0)
            return -EIO;
        size_t cap = u->curslabs * classes[j].nregs;
        if (cap > u->curregs) frag += (cap - u->curregs) * classes[j].size;
    }
    snap_allocated = allocated;
    snap_frag_bytes = frag;
    snap_stamp_us = mono_us();
    return 0;
}

static void frag_fill_locked(memshim_frag_t *out, uint64_t now) {
    out->frag_bytes = snap_frag_bytes;
    out->allocated = snap_allocated;
    out->frag_pct = snap_allocated ? (double)snap_frag_bytes * 100.0 / (double)snap_allocated : 0.0;
    out->age_us = now > snap_stamp_us ? now - snap_stamp_us : 0;
}

int memshim_defrag_frag_get(memshim_frag_t *out) {
    if (out == NULL) return -EINVAL;
    int rc = hint_init();
    if (rc != 0) return -EIO;
    pthread_mutex_lock(&snap_lock);
    rc = snap_refresh_locked();
    if (rc == 0) frag_fill_locked(out, snap_stamp_us);
    pthread_mutex_unlock(&snap_lock);
    return rc;
}

int memshim_defrag_frag_get_cached(memshim_frag_t *out, uint64_t max_age_us) {
    if (out == NULL) return -EINVAL;
    int rc = hint_init();
    if (rc != 0) return -EIO;
    uint64_t now = mono_us();
    pthread_mutex_lock(&snap_lock);
    if (snap_stamp_us == 0 || now - snap_stamp_us > max_age_us) {
        rc = snap_refresh_locked();
        now = snap_stamp_us;
    }
    if (rc == 0) frag_fill_locked(out, now);
    pthread_mutex_unlock(&snap_lock);
    return rc;
}

int memshim_defrag_refresh(void) {
    int rc = hint_init();
    if (rc != 0) return -EIO;
    pthread_mutex_lock(&snap_lock);
    rc = snap_refresh_locked();
    pthread_mutex_unlock(&snap_lock);
    return rc;
}

unsigned memshim_defrag_nbins(void) {
    return hint_init() == 0 ? nbins : 0;
}

int memshim_defrag_bins_get(memshim_bin_info_t *out, size_t cap, size_t *count) {
    if (out == NULL && cap > 0) return -EINVAL;
    int rc = hint_init();
    if (rc != 0) return -EIO;
    pthread_mutex_lock(&snap_lock);
    rc = snap_refresh_locked();
    if (rc == 0) {
        for (unsigned j = 0; j < nbins && j < cap; j++) {
            const bin_class_t *c = &classes[j];
            const bin_usage_t *u = &snap_bins[j];
            memshim_bin_info_t *b = &out[j];
            size_t regs = u->curslabs * c->nregs;
            b->size = c->size;
            b->nregs = c->nregs;
            b->slab_size = c->slab_size;
            b->curregs = u->curregs;
            b->curslabs = u->curslabs;
            b->nonfull_slabs = u->nonfull_slabs;
            b->util = regs ? (double)u->curregs / (double)regs : 0.0;
            b->wasted_bytes = regs > u->curregs ? (regs - u->curregs) * c->size : 0;
        }
    }
    pthread_mutex_unlock(&snap_lock);
    if (rc == 0 && count != NULL) *count = nbins;
    return rc;
}

/* pre: hint_init() == 0. The smallest bin whose region size is >= size, or -ENOENT. */
static int bin_search(size_t size) {
    if (size == 0) size = 1;
    if (size > classes[nbins - 1].size) return -ENOENT;
    unsigned lo = 0, hi = nbins - 1;
    while (lo < hi) {
        unsigned mid = lo + (hi - lo) / 2;
        if (classes[mid].size >= size)
            hi = mid;
        else
            lo = mid + 1;
    }
    return (int)lo;
}

int memshim_defrag_bin_index(size_t size) {
    if (hint_init() != 0) return -EIO;
    return bin_search(size);
}

/* pre: hint_init() == 0. The bin a slab belongs to, from batch_query's extent size and
 * region count, through class_by_size; -1 when the extent is not a small-bin slab (large
 * allocations report nregs 1, nfree 0). */
static int slab_bin(size_t extent_size, size_t nregs) {
    if (nregs < 2) return -1;
    size_t reg = extent_size / nregs;
    int j;
    if (reg % SIZE_STEP == 0 && reg / SIZE_STEP < CLASS_TABLE_LEN) {
        unsigned c = class_by_size[reg / SIZE_STEP];
        j = c == NO_CLASS ? -1 : (int)c;
    } else {
        j = bin_search(reg);
    }
    if (j < 0 || classes[j].size != reg || classes[j].nregs != nregs) return -1;
    return j;
}

/*
 * Valkey 8.1's makeDefragDecision: stay when the slab is full or the bin has fewer than
 * two non-full slabs; move when this slab's utilisation is at most the average over the
 * bin's non-full slabs plus 12.5%, so that slabs of equal utilisation still converge.
 * With pack, the average is not asked: every region of a non-full slab moves (see
 * memshim_defrag_should_pack).
 */
static bool decide(const bin_class_t *c, const bin_usage_t *u, size_t nfree, bool pack) {
    if (nfree == 0 || nfree > c->nregs) return false;
    if (u->nonfull_slabs < 2 || u->curslabs < u->nonfull_slabs) return false;
    if (pack) return true;
    uint64_t full_regs = (uint64_t)(u->curslabs - u->nonfull_slabs) * c->nregs;
    if (u->curregs <= full_regs) return false;
    uint64_t alloc_nonfull = (uint64_t)u->curregs - full_regs;
    uint64_t nalloced = c->nregs - nfree;
    return nalloced * u->nonfull_slabs * 1000u <= 1125u * alloc_nonfull;
}

/*
 * pre: hint_init() == 0 and owns_pointers; 0 < m <= QUERY_BATCH, no NULL in batch.
 * One batch_query for batch[0..m): size[k] = the region size of batch[k] when it should
 * move, 0 when it stays. Returns the number to move, or a negative errno.
 */
static int query(const void *const *batch, size_t m, bool pack, size_t *size) {
    size_t util[QUERY_BATCH * 3];
    size_t outlen = m * 3 * sizeof(size_t);
    int rc =
        mallctlbymib(mib_query, miblen_query, util, &outlen, (void *)batch, m * sizeof(batch[0]));
    if (rc != 0) return -rc;
    int moves = 0;
    pthread_mutex_lock(&snap_lock);
    uint64_t max_age = pack ? HINT_PACK_STATS_MAX_AGE_US : HINT_STATS_MAX_AGE_US;
    if (snap_stamp_us == 0 || mono_us() - snap_stamp_us > max_age) {
        if (snap_refresh_locked() != 0) {
            pthread_mutex_unlock(&snap_lock);
            return -EIO;
        }
    }
    for (size_t k = 0; k < m; k++) {
        size_t nfree = util[3 * k], nregs = util[3 * k + 1], extent = util[3 * k + 2];
        int j = slab_bin(extent, nregs);
        size[k] = 0;
        if (j >= 0 && decide(&classes[j], &snap_bins[j], nfree, pack)) {
            size[k] = classes[j].size;
            moves++;
        }
    }
    pthread_mutex_unlock(&snap_lock);
    return moves;
}

/* mallocx is called directly, not through alloc.c, so failure injection (which lives
 * in alloc.c's path) never fails a move: a relocation that fails on purpose would only
 * test the caller's "not moved" branch, which a NULL from a real OOM covers already.
 * pre: size is ptr's usable size. */
static void *copy_of(const void *ptr, size_t size) {
    void *copy = mallocx(size, MALLOCX_TCACHE_NONE);
    if (copy != NULL) memcpy(copy, ptr, size);
    return copy;
}

/*
 * Walks ptrs in batches of QUERY_BATCH non-NULL pointers: with out, records the hint;
 * without, moves (ptrs[i] replaced by its copy). Returns the number hinted or moved; a
 * query that fails ends the walk, and its negative errno is returned when nothing was
 * hinted or moved before it.
 */
static int walk(void **ptrs, size_t n, bool *out, bool pack) {
    if (ptrs == NULL && n > 0) return -EINVAL;
    if (n > (size_t)INT32_MAX) return -EINVAL;
    if (out != NULL)
        for (size_t i = 0; i < n; i++)
            out[i] = false;
    if (hint_init() != 0 || !owns_pointers) return 0;

    int done = 0;
    const void *batch[QUERY_BATCH];
    size_t idx[QUERY_BATCH], size[QUERY_BATCH];
    for (size_t i = 0; i < n;) {
        size_t m = 0;
        for (; i < n && m < QUERY_BATCH; i++) {
            if (ptrs[i] == NULL) continue;
            idx[m] = i;
            batch[m++] = ptrs[i];
        }
        if (m == 0) break;
        int rc = query(batch, m, pack, size);
        if (rc < 0) return done > 0 ? done : rc;
        for (size_t k = 0; k < m; k++) {
            if (size[k] == 0) continue;
            if (out != NULL) {
                out[idx[k]] = true;
                done++;
                continue;
            }
            void *copy = copy_of(batch[k], size[k]);
            if (copy == NULL) continue;
            dallocx(ptrs[idx[k]], MALLOCX_TCACHE_NONE);
            ptrs[idx[k]] = copy;
            done++;
        }
    }
    return done;
}

int memshim_defrag_should_move(void *const *ptrs, size_t n, bool *out) {
    if (out == NULL && n > 0) return -EINVAL;
    return walk((void **)ptrs, n, out, false);
}

int memshim_defrag_should_pack(void *const *ptrs, size_t n, bool *out) {
    if (out == NULL && n > 0) return -EINVAL;
    return walk((void **)ptrs, n, out, true);
}

int memshim_defrag_move_batch(void **ptrs, size_t n, bool pack) {
    return walk(ptrs, n, NULL, pack);
}

bool memshim_defrag_supported(void) {
    return hint_init() == 0 && owns_pointers;
}

void *memshim_defrag_alloc_copy(void *ptr) {
    if (ptr == NULL || !memshim_defrag_supported()) return NULL;
    return copy_of(ptr, sallocx(ptr, 0));
}

void memshim_defrag_free(void *ptr) {
    if (ptr == NULL || !memshim_defrag_supported()) return;
    dallocx(ptr, MALLOCX_TCACHE_NONE);
}

void *memshim_defrag_move(void *ptr) {
    void *copy = memshim_defrag_alloc_copy(ptr);
    if (copy != NULL) memshim_defrag_free(ptr);
    return copy;
}
