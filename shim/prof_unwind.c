/* SPDX-License-Identifier: MIT */
/*
 * prof_unwind.c - the backtrace jemalloc records for each sampled allocation.
 *
 * Debian's jemalloc unwinds with libgcc's _Unwind_Backtrace, which takes loader locks and
 * can allocate (docs/design.md#the-backtrace-walker: the deadlocks of ClickHouse #66346,
 * ray #48671, jemalloc #2022). This file installs a libunwind walker (UNW_LOCAL_ONLY,
 * unw_backtrace: no malloc, no stdio) through jemalloc 5.3's
 * experimental.hooks.prof_backtrace, and can put jemalloc's own walker back
 * (MEMSHIM_PROF_UNWINDER=libunwind|libgcc).
 *
 * Invariants of the hook: it takes no lock and allocates nothing; a per-thread flag
 * (initial-exec TLS) makes a nested call record an empty stack instead of recursing;
 * fork never snapshots a walk in progress: libunwind's own mutexes (its caches) would stay
 * locked in the child and the child's first sampled allocation would hang. The fork
 * handlers raise `forking` and wait until no walk is running; a walk that starts meanwhile
 * records an empty stack (a sample or two during a fork lose their frames, nothing waits);
 * the frames it records start at the allocator's caller: leading frames inside
 * libjemalloc, libunwind and libmemshim (when it is a shared object) are dropped, so
 * jeprof and heapprof name the user's function as the leaf.
 */
#define UNW_LOCAL_ONLY
#include <libunwind.h>

#include "memshim_internal.h"

#include <errno.h>
#include <link.h>
#include <sched.h>
#include <stdint.h>
#include <string.h>

#include <jemalloc/jemalloc.h>

/* jemalloc's prof_backtrace_hook_t (not in its public header). */
typedef void (*hook_fn)(void **vec, unsigned *len, unsigned max);

/* jemalloc asks for at most PROF_BT_MAX (128) frames; the skipped ones come on top. */
enum { BT_SKIP_MAX = 32, BT_BUF = 128 + BT_SKIP_MAX, NRANGES = 4 };

typedef struct addr_range {
    uintptr_t lo, hi;
} addr_range_t;

static addr_range_t skip_ranges[NRANGES];
static unsigned nskip_ranges;

/* jemalloc's own walker (its libgcc one), read before ours is first installed. */
static hook_fn je_default_hook;
static atomic_int current_unwinder = -1;

static MS_TLS int in_backtrace;

/* Walks in progress, and whether a fork is waiting for them (see the header comment). */
static atomic_uint walks;
static atomic_bool forking;

static const char *const unwinder_names[] = {
    [MS_PROF_UNWIND_LIBUNWIND] = "libunwind",
    [MS_PROF_UNWIND_LIBGCC] = "libgcc",
};

static inline bool in_skip_range(uintptr_t ip) {
    for (unsigned i = 0; i < nskip_ranges; i++)
        if (ip >= skip_ranges[i].lo && ip < skip_ranges[i].hi) return true;
    return false;
}

/*
 * The hook. Frame 0 is stored as (return address - 1): consumers (jeprof's
 * FixCallerAddresses, heapprof) take frame 0 as an exact PC and subtract 1 from the
 * others, so every frame then symbolises to its call instruction's line.
 */
static void bt_libunwind(void **vec, unsigned *len, unsigned max) {
    *len = 0;
    if (in_backtrace) return;
    /* Announce the walk, then look for a fork (both sequentially consistent: either the
     * fork handler sees this walk and waits, or this walk sees the fork and stops). */
    atomic_fetch_add(&walks, 1);
    if (atomic_load(&forking)) {
        atomic_fetch_sub(&walks, 1);
        return;
    }
    in_backtrace = 1;
    void *buf[BT_BUF];
    unsigned cap = max + BT_SKIP_MAX < BT_BUF ? max + BT_SKIP_MAX : BT_BUF;
    int got = unw_backtrace(buf, (int)cap);
    atomic_fetch_sub(&walks, 1);
    unsigned n = got > 0 ? (unsigned)got : 0;
    /* buf[0] is this function: skipped even when the shim is linked into the program. */
    unsigned i = 1;
    while (i < n && in_skip_range((uintptr_t)buf[i]))
        i++;
    unsigned out = 0;
    for (; i < n && out < max; i++)
        vec[out++] = buf[i];
    if (out > 0) vec[0] = (char *)vec[0] - 1;
    *len = out;
    in_backtrace = 0;
}

struct find_arg {
    uintptr_t want;
    bool skip_main; /* the main program's own code is the user's, never skipped */
};

static int find_object_cb(struct dl_phdr_info *info, size_t size, void *p) {
    (void)size;
    struct find_arg *arg = p;
    uintptr_t lo = UINTPTR_MAX, hi = 0;
    for (unsigned i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD) continue;
        uintptr_t s = info->dlpi_addr + ph->p_vaddr;
        uintptr_t e = s + ph->p_memsz;
        if (s < lo) lo = s;
        if (e > hi) hi = e;
    }
    if (arg->want < lo || arg->want >= hi) return 0;
    bool is_main = info->dlpi_name == NULL || info->dlpi_name[0] == '\0';
    if (is_main && arg->skip_main) return 1;
    for (unsigned i = 0; i < nskip_ranges; i++)
        if (skip_ranges[i].lo == lo) return 1;
    if (nskip_ranges < NRANGES) skip_ranges[nskip_ranges++] = (addr_range_t){lo, hi};
    return 1;
}

static void skip_object_of(const void *addr) {
    struct find_arg arg = {(uintptr_t)addr, true};
    dl_iterate_phdr(find_object_cb, &arg);
}

int ms_prof_unwind_init(void) {
    /* Function addresses through the GOT: the objects that define them. */
    void *(*volatile je)(size_t, int) = mallocx;
    int (*volatile unw)(void **, int) = unw_backtrace;
    skip_object_of((const void *)je);
    skip_object_of((const void *)unw);
    skip_object_of((const void *)&ms_prof_unwind_init);
    hook_fn cur = NULL;
    size_t len = sizeof(cur);
    int rc = mallctl("experimental.hooks.prof_backtrace", &cur, &len, NULL, 0);
    if (rc != 0) return -rc;
    /* A second init (never expected) must not take our own hook for jemalloc's. */
    if (cur != bt_libunwind) je_default_hook = cur;
    if (cur == bt_libunwind) return 0;
    atomic_store(&current_unwinder, MS_PROF_UNWIND_LIBGCC);
    return 0;
}

int ms_prof_unwinder_select(int which) {
    if (which != MS_PROF_UNWIND_LIBUNWIND && which != MS_PROF_UNWIND_LIBGCC) return -EINVAL;
    if (je_default_hook == NULL) return -ENOENT;
    hook_fn fn = which == MS_PROF_UNWIND_LIBUNWIND ? bt_libunwind : je_default_hook;
    int rc = mallctl("experimental.hooks.prof_backtrace", NULL, NULL, &fn, sizeof(fn));
    if (rc != 0) return -rc;
    atomic_store(&current_unwinder, which);
    return 0;
}

int ms_prof_unwinder_current(void) {
    return atomic_load(&current_unwinder);
}

int ms_prof_unwinder_parse(const char *name) {
    if (name == NULL) return -EINVAL;
    for (int i = 0; i < (int)(sizeof(unwinder_names) / sizeof(unwinder_names[0])); i++)
        if (strcmp(name, unwinder_names[i]) == 0) return i;
    return -EINVAL;
}

const char *ms_prof_unwinder_name(int which) {
    if (which < 0 || which >= (int)(sizeof(unwinder_names) / sizeof(unwinder_names[0]))) return "";
    return unwinder_names[which];
}

void ms_prof_unwind_fork_prepare(void) {
    atomic_store(&forking, true);
    while (atomic_load(&walks) != 0)
        sched_yield();
}

void ms_prof_unwind_fork_parent(void) {
    atomic_store(&forking, false);
}

void ms_prof_unwind_fork_child(void) {
    /* Only the forking thread exists here: a walk counted but abandoned is gone with its
     * thread. */
    atomic_store(&walks, 0);
    atomic_store(&forking, false);
}
