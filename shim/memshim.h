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

#include "ms_defs.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MEMSHIM_VERSION "0.1.0"

/* A snapshot of jemalloc's process-wide counters, in bytes unless named otherwise. */
typedef struct memshim_stats {
    size_t allocated; /* stats.allocated: bytes the program holds */
    size_t active;    /* stats.active: bytes in active pages (>= allocated) */
    size_t resident;  /* stats.resident: allocator pages resident in memory */
    size_t mapped;    /* stats.mapped: bytes in active extents */
    size_t retained;  /* stats.retained: virtual memory kept for reuse, not resident */
    size_t metadata;  /* stats.metadata: jemalloc's own bookkeeping */
    size_t frag_bytes;          /* active - allocated */
    double frag_ratio;          /* active / allocated (1.0 when nothing is allocated) */
    size_t rss_overhead_bytes;  /* resident - active: pages held but not in use */
    uint64_t fail_injected;     /* allocations failed on purpose (failure injection) */
    uint64_t fail_countable;    /* allocations seen while failure injection was armed */
} memshim_stats_t;

/*
 * Refreshes jemalloc's statistics (mallctl "epoch") and fills *out.
 * Returns 0, -EINVAL (out is NULL) or -EIO (jemalloc refused a stats read).
 */
MS_EXPORT int memshim_stats_get(memshim_stats_t *out);

/*
 * Returns dirty and muzzy pages of every arena to the system (arena.<ALL>.purge).
 * Returns 0 or -EIO.
 */
MS_EXPORT int memshim_purge(void);

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
MS_EXPORT int memshim_ctl(const char *name, void *oldp, size_t *oldlenp, const void *newp,
                          size_t newlen);

/*
 * The same controls by text, as MEMSHIM_CONF, the control socket and the CLI use them.
 * memshim_ctl_set_str parses value for the control's type ("true", "12", "0.25",
 * "4k", a path) and writes it. memshim_ctl_get_str formats the current value into
 * buf (NUL-terminated, truncated to len). Return codes as memshim_ctl, plus -ERANGE
 * when buf is too small.
 */
MS_EXPORT int memshim_ctl_set_str(const char *name, const char *value);
MS_EXPORT int memshim_ctl_get_str(const char *name, char *buf, size_t len);

/*
 * Calls fn once per control, in table order, with its name, its type name ("bool",
 * "u64", "size", "double", "string", "action") and its help text. Stops early and
 * returns fn's value when fn returns non-zero; otherwise returns 0.
 */
MS_EXPORT int memshim_ctl_foreach(int (*fn)(const char *name, const char *type,
                                            const char *help, void *arg),
                                  void *arg);

/* True when this process's malloc/free are libmemshim's (preloaded or linked .so). */
MS_EXPORT bool memshim_is_active(void);

#ifdef __cplusplus
}
#endif

#endif /* MEMSHIM_H */
