/* SPDX-License-Identifier: MIT */
/*
 * heapprof.h - heap profiling: run-time control of jemalloc's profiler (linked into
 * libmemshim) and offline analysis of its heap dumps (libheapprof, the `heapprof` CLI).
 *
 * Control half: profiling is compiled into Debian's jemalloc and made "ready but
 * inactive" by libmemshim's malloc_conf, so these calls work in any program started
 * under the shim with no MALLOC_CONF from the user. They wrap jemalloc's prof.* mallctls
 * and report every failure (never "OK" when a dump was not written).
 *
 * Error convention: 0 or -errno. -ENOENT: profiling is not available in this process
 * (jemalloc's opt.prof is false, e.g. the shim is not loaded or MALLOC_CONF=prof:false);
 * -EINVAL: bad argument; -EAGAIN: profiling is not active (dump needs it active);
 * -EIO / -EACCES / -ENOTDIR: the dump could not be written (hp_prof_status gives the text).
 */
#ifndef HEAPPROF_H
#define HEAPPROF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* --- Control (heapprof/control.c, linked into libmemshim) --- */

typedef struct hp_prof_status {
    bool available;         /* jemalloc's opt.prof: the profiler exists in this process */
    bool active;            /* prof.active: allocations are being sampled */
    unsigned lg_sample;     /* prof.lg_sample: mean bytes between samples, log2 */
    uint64_t dumps;         /* dumps written through hp_prof_dump* by this process */
    char last_dump[512];    /* path of the last dump written, "" if none */
    int last_error;         /* -errno of the last failed control call, 0 if none */
    char last_errstr[256];  /* readable text of last_error, "" if none */
    char dump_dir[512];     /* where automatic names go (MEMSHIM_DUMP_DIR), "" = cwd */
    const char *unwinder;   /* "libunwind" or "libgcc" */
} hp_prof_status_t;

/* Turns sampling on (prof.active = true). 0, -ENOENT. */
int hp_prof_enable(void);
/* Turns sampling off. 0, -ENOENT. */
int hp_prof_disable(void);
/*
 * Writes a heap dump (jemalloc's heap_v2 format, readable by jeprof). With path NULL
 * the name is automatic: <dump_dir>/<prefix>.<pid>.<seq>.heap. The path written is
 * copied to out_path (NUL-terminated, may be NULL). 0, -ENOENT, -EAGAIN (profiling not
 * active), -EINVAL (out_len too small), -EACCES/-ENOENT/-ENOTDIR/-EIO (not written).
 */
int hp_prof_dump(const char *path, char *out_path, size_t out_len);
/* Like hp_prof_dump with an automatic name inside `dir` instead of the dump dir. */
int hp_prof_dump_in_dir(const char *dir, char *out_path, size_t out_len);
/*
 * Discards all samples (prof.reset); lg_sample >= 0 also sets a new sample rate
 * (0..62), -1 keeps the current one. 0, -ENOENT, -EINVAL.
 */
int hp_prof_reset(int lg_sample);
/* Fills *out. 0 or -EINVAL (out is NULL); works (available=false) without profiling. */
int hp_prof_status(hp_prof_status_t *out);

#ifdef __cplusplus
}
#endif

#endif /* HEAPPROF_H */
