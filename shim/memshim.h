/* SPDX-License-Identifier: MIT */
/*
 * memshim.h - the public C API of libmemshim, an allocator layer over stock jemalloc 5.3.
 *
 * libmemshim.so overrides the whole C allocation API and forwards it to jemalloc's
 * non-standard entry points; this header is what a program may call on top of that:
 * stats refreshed through jemalloc's epoch, purge, and one mallctl-shaped control
 * entry point over a table of dotted names (the same names MEMSHIM_CONF, the control
 * socket and `memshim ctl` use). All functions follow one error convention: 0 on
 * success, -errno on failure (-EINVAL, -ENOENT, -ENOMEM, -EIO, ...).
 */
#ifndef MEMSHIM_H
#define MEMSHIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MEMSHIM_VERSION "0.1.0"

/* Marks what libmemshim.so exports (it is built with -fvisibility=hidden). */
#if defined(__GNUC__) || defined(__clang__)
#    define MEMSHIM_API __attribute__((visibility("default")))
#else
#    define MEMSHIM_API
#endif

/* A snapshot of jemalloc's process-wide counters, in bytes unless named otherwise. */
typedef struct memshim_stats {
    size_t allocated;          /* stats.allocated: bytes the program holds */
    size_t active;             /* stats.active: bytes in active pages (>= allocated) */
    size_t resident;           /* stats.resident: allocator pages resident in memory */
    size_t mapped;             /* stats.mapped: bytes in active extents */
    size_t retained;           /* stats.retained: virtual memory kept for reuse, not resident */
    size_t metadata;           /* stats.metadata: jemalloc's own bookkeeping */
    size_t frag_bytes;         /* active - allocated */
    double frag_ratio;         /* active / allocated (1.0 when nothing is allocated) */
    size_t rss_overhead_bytes; /* resident - active: pages held but not in use */
    uint64_t fail_injected;    /* allocations failed on purpose (failure injection) */
    uint64_t fail_countable;   /* allocations seen while failure injection was armed */
} memshim_stats_t;

/*
 * Refreshes jemalloc's statistics (mallctl "epoch") and fills *out.
 * Returns 0, -EINVAL (out is NULL) or -EIO (jemalloc refused a stats read).
 */
MEMSHIM_API int memshim_stats_get(memshim_stats_t *out);

/*
 * Returns dirty and muzzy pages of every arena to the system (arena.<ALL>.purge).
 * Returns 0 or -EIO.
 */
MEMSHIM_API int memshim_purge(void);

/*
 * Reads and/or writes one control by its dotted name, with mallctl's argument shape:
 * when oldp is not NULL the current value is copied there (*oldlenp must equal the
 * value's size, and is set to it); when newp is not NULL the value is replaced by
 * *newp (newlen must equal the value's size). String controls take and return
 * `const char *`; the returned pointer stays valid until the control is next written.
 * Returns 0; -ENOENT for an unknown name; -EINVAL for a wrong size, a NULL where a
 * value is needed, or a value out of range; -EPERM for writing a read-only control
 * or reading a write-only one; or the -errno of the action the control performs.
 * See `memshim ctl PID config` or the README for the list of names.
 */
MEMSHIM_API int memshim_ctl(const char *name, void *oldp, size_t *oldlenp, const void *newp,
                            size_t newlen);

/*
 * The same controls by text, as MEMSHIM_CONF, the control socket and the CLI use them.
 * memshim_ctl_set_str parses value for the control's type ("true", "12", "0.25",
 * "4k", a path) and writes it. memshim_ctl_get_str formats the current value into
 * buf (NUL-terminated, truncated to len). Return codes as memshim_ctl, plus -ERANGE
 * when buf is too small.
 */
MEMSHIM_API int memshim_ctl_set_str(const char *name, const char *value);
MEMSHIM_API int memshim_ctl_get_str(const char *name, char *buf, size_t len);

/*
 * Calls fn once per control, in table order, with its name, its type name ("bool",
 * "u64", "size", "double", "string", "action") and its help text. Stops early and
 * returns fn's value when fn returns non-zero; otherwise returns 0.
 */
MEMSHIM_API int memshim_ctl_foreach(int (*fn)(const char *name, const char *type, const char *help,
                                              void *arg),
                                    void *arg);

/* True when this process's malloc/free are libmemshim's (preloaded or linked .so). */
MEMSHIM_API bool memshim_is_active(void);

/* --- Heap-profile control (shim/prof.c, shim/prof_unwind.c) ---
 * Run-time control of jemalloc's heap profiler. Profiling is compiled into Debian's
 * jemalloc and made "ready but inactive" by libmemshim's malloc_conf, so these calls work
 * in any program started under the shim with no MALLOC_CONF from the user. They wrap
 * jemalloc's prof.* mallctls and report every failure (never "OK" when a dump was not
 * written). The dumps they write are read by the heapprof analyser (heapprof.h).
 *
 * Error convention: 0 or -errno. -ENOENT: profiling is not available in this process
 * (jemalloc's opt.prof is false, e.g. the shim is not loaded or MALLOC_CONF=prof:false);
 * -EINVAL: bad argument; -EAGAIN: profiling is not active (dump needs it active);
 * -EIO / -EACCES / -ENOTDIR / -ELOOP: the dump could not be written
 * (memshim_prof_status gives the text). */

typedef struct memshim_prof_status {
    bool available;        /* jemalloc's opt.prof: the profiler exists in this process */
    bool active;           /* prof.active: allocations are being sampled */
    unsigned lg_sample;    /* prof.lg_sample: mean bytes between samples, log2 */
    uint64_t dumps;        /* dumps written through memshim_prof_dump* by this process */
    char last_dump[512];   /* path of the last dump written, "" if none */
    int last_error;        /* -errno of the last failed control call, 0 if none */
    char last_errstr[256]; /* readable text of last_error, "" if none */
    char dump_dir[512];    /* where automatic names go (MEMSHIM_DUMP_DIR), "" = cwd */
    const char *unwinder;  /* "libunwind" or "libgcc" */
} memshim_prof_status_t;

/* Turns sampling on (prof.active = true). 0, -ENOENT. */
MEMSHIM_API int memshim_prof_enable(void);
/* Turns sampling off. 0, -ENOENT. */
MEMSHIM_API int memshim_prof_disable(void);
/*
 * Writes a heap dump (jemalloc's heap_v2 format, readable by jeprof). With path NULL
 * the name is automatic: <dump_dir>/<prefix>.<pid>.<seq>.heap. The path written is
 * copied to out_path (NUL-terminated, may be NULL). 0, -ENOENT, -EAGAIN (profiling not
 * active), -EINVAL (out_len too small), -EACCES/-ENOENT/-ENOTDIR/-ELOOP/-EIO (not written).
 */
MEMSHIM_API int memshim_prof_dump(const char *path, char *out_path, size_t out_len);
/* Like memshim_prof_dump with an automatic name inside `dir` instead of the dump dir. */
MEMSHIM_API int memshim_prof_dump_in_dir(const char *dir, char *out_path, size_t out_len);
/*
 * Discards all samples (prof.reset); lg_sample >= 0 also sets a new sample rate
 * (0..62), -1 keeps the current one. 0, -ENOENT, -EINVAL.
 */
MEMSHIM_API int memshim_prof_reset(int lg_sample);
/* Fills *out. 0 or -EINVAL (out is NULL); works (available=false) without profiling. */
MEMSHIM_API int memshim_prof_status(memshim_prof_status_t *out);

/*
 * Peak profiles (prof.peak, MEMSHIM_PROF_PEAK): while on and profiling is active, a
 * thread of the shim watches stats.allocated (every 10 ms) and, each time it exceeds the
 * last peak by a sixteenth (at least 1 MiB), replaces <dump_dir>/memshim.<pid>.peak.heap
 * with a dump (a new file renamed over the name: one file however many peaks; dumps at
 * least 100 ms apart). A peak shorter than the watcher's poll or gap may be missed, and
 * one within a step of a profile taken on the way up keeps that profile.
 */
typedef struct memshim_prof_peak_status {
    bool enabled;       /* prof.peak */
    uint64_t dumps;     /* peak profiles written by this process */
    size_t peak_bytes;  /* stats.allocated when the current peak profile was taken, 0: none */
    uint64_t peak_time; /* its time, seconds since the Unix epoch */
    char path[512];     /* the peak profile, "" when none was written */
} memshim_prof_peak_status_t;

/* Turns peak profiles on or off. 0, -ENOENT (profiling not available), -EAGAIN. */
MEMSHIM_API int memshim_prof_peak(bool on);
/* Fills *out. 0 or -EINVAL (out is NULL). */
MEMSHIM_API int memshim_prof_peak_status(memshim_prof_peak_status_t *out);

/* --- Defragmentation (shim/hint.c) ---
 * Fragmentation figures, per-pointer "move it?" hints and the relocation primitive an
 * active defragmenter needs on stock jemalloc 5.3 (the design of Valkey 8.1). The
 * figures read only jemalloc's statistics and always work. The pointer functions need
 * pointers jemalloc owns: they work when this process's malloc is jemalloc's (the shim
 * is active, or libjemalloc is linked directly); otherwise (a sanitizer or valgrind owns
 * malloc and libmemshim.a is linked) should_move answers false for every pointer,
 * alloc_copy and move return NULL and free does nothing, so a defragmenter runs but
 * moves nothing.
 * Not on the allocation path; safe to call from any thread. */

/* The fragmentation the defragmenter steers by: wasted small-bin bytes
 * Σ (nregs·curslabs − curregs)·size over all bins and arenas. */
typedef struct memshim_frag {
    size_t frag_bytes; /* bytes in small-bin slabs that hold no live region */
    size_t allocated;  /* stats.allocated at the same epoch */
    double frag_pct;   /* frag_bytes * 100 / allocated (0 when nothing is allocated) */
    uint64_t age_us;   /* how old the epoch behind these numbers is */
} memshim_frag_t;

/* One small size class and its current use (all arenas merged). */
typedef struct memshim_bin_info {
    size_t size;          /* region size (arenas.bin.<j>.size) */
    uint32_t nregs;       /* regions per slab */
    size_t slab_size;     /* bytes per slab */
    size_t curregs;       /* live regions */
    size_t curslabs;      /* slabs */
    size_t nonfull_slabs; /* slabs with at least one free region */
    double util;          /* curregs / (nregs * curslabs); 0 when there is no slab */
    size_t wasted_bytes;  /* (nregs * curslabs - curregs) * size */
} memshim_bin_info_t;

/*
 * Refreshes jemalloc's epoch and computes the fragmentation figure into *out (age_us 0).
 * Costs an epoch plus three reads per bin (tens of microseconds).
 * Returns 0, -EINVAL (out is NULL) or -EIO (jemalloc statistics unavailable).
 */
MEMSHIM_API int memshim_defrag_frag_get(memshim_frag_t *out);

/*
 * As memshim_defrag_frag_get, but reuses the last figure when it is at most max_age_us
 * old (computed by any defrag call of this process); for callers that ask often.
 * Returns 0, -EINVAL or -EIO.
 */
MEMSHIM_API int memshim_defrag_frag_get_cached(memshim_frag_t *out, uint64_t max_age_us);

/*
 * Re-reads the per-bin statistics memshim_defrag_should_move compares against (it also
 * does so by itself when they are older than 10 ms). Returns 0 or -EIO.
 */
MEMSHIM_API int memshim_defrag_refresh(void);

/* The number of small bins (arenas.nbins), or 0 when jemalloc's tables are unreadable. */
MEMSHIM_API unsigned memshim_defrag_nbins(void);

/*
 * Refreshes the epoch and fills out[j] for the first min(cap, nbins) bins, in size
 * order; *count (when not NULL) receives nbins. out may be NULL when cap is 0.
 * Returns 0, -EINVAL or -EIO.
 */
MEMSHIM_API int memshim_defrag_bins_get(memshim_bin_info_t *out, size_t cap, size_t *count);

/*
 * The index of the smallest bin whose region size is >= size (size 0 counts as 1).
 * Returns the index (>= 0), -ENOENT when size is above the largest small class (a large
 * allocation), or -EIO when jemalloc's tables are unreadable.
 */
MEMSHIM_API int memshim_defrag_bin_index(size_t size);

/*
 * Batched hint (experimental.utilization.batch_query): out[i] = true when ptrs[i] is
 * worth relocating: its slab is not full, its bin has at least two non-full slabs, and
 * the slab's utilisation is at most the average over the bin's non-full slabs plus a
 * 12.5% hysteresis. Large allocations and NULL entries are never hinted. The bin
 * averages come from a snapshot at most 10 ms old. ptrs[i] must be live pointers from
 * this process's malloc (or jemalloc's *allocx); interior pointers are allowed.
 * Returns the number of true entries (0..n), or -EINVAL (NULL arrays with n > 0, or
 * n > INT32_MAX), -EIO. Unsupported processes (see the banner) get all false and 0.
 */
MEMSHIM_API int memshim_defrag_should_move(void *const *ptrs, size_t n, bool *out);

/*
 * The packing hint: as memshim_defrag_should_move, without the comparison with the
 * bin's average: out[i] = true for every pointer in a non-full slab of a bin with at
 * least two non-full slabs. A copy made by memshim_defrag_alloc_copy takes a region of
 * the bin's lowest non-full slab (jemalloc allocates from the oldest, lowest-addressed
 * one), never a slab above the pointer's own, so one pass over every pointer leaves
 * the low slabs full and the high ones empty, where the averaging hint leaves the
 * slabs that were above the average when it passed. The price is more copies,
 * some within the lowest slab itself. The bin figures it asks (the non-full slab
 * count) come from a snapshot at most 100 ms old. Same returns as
 * memshim_defrag_should_move.
 */
MEMSHIM_API int memshim_defrag_should_pack(void *const *ptrs, size_t n, bool *out);

/*
 * Relocates a live allocation: a new block of the same usable size, allocated without
 * the thread cache (so it lands in a fuller slab), receives a copy of all usable bytes,
 * then ptr is freed, also bypassing the thread cache. Returns the new pointer, after
 * which ptr is invalid; or NULL (out of memory, ptr NULL, or unsupported) and ptr is
 * untouched. Never failed by failure injection (inject.*): jemalloc is called directly.
 */
MEMSHIM_API void *memshim_defrag_move(void *ptr);

/*
 * The hint and the moves in one call: every non-NULL ptrs[i] that the hint answers true
 * for (memshim_defrag_should_pack's with pack, memshim_defrag_should_move's without) is
 * relocated as memshim_defrag_move does and ptrs[i] replaced by its copy; the rest, and
 * any whose copy could not be allocated, stay as they were. The region size comes from
 * the hint's own query, so a move costs one allocation, one copy and one free and no
 * further lookup. Returns the number moved (0 in unsupported processes), or -EINVAL
 * (ptrs NULL with n > 0, n > INT32_MAX); a hint query that fails (-EIO) ends the call,
 * which returns the number moved before it, or -EIO when that is none.
 */
MEMSHIM_API int memshim_defrag_move_batch(void **ptrs, size_t n, bool pack);

/*
 * The first half of a move, for structures that must fix other references before the
 * old block goes: returns the copy (or NULL as memshim_defrag_move) and leaves ptr live.
 * The caller later releases ptr with memshim_defrag_free.
 */
MEMSHIM_API void *memshim_defrag_alloc_copy(void *ptr);

/* Frees a block bypassing the thread cache (the second half of a move); NULL is a
 * no-op, and so is any call in an unsupported process (alloc_copy never copied). */
MEMSHIM_API void memshim_defrag_free(void *ptr);

/* True when the pointer functions above work in this process (see the banner). */
MEMSHIM_API bool memshim_defrag_supported(void);

#ifdef __cplusplus
}
#endif

#endif /* MEMSHIM_H */
