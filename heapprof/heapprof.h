/* SPDX-License-Identifier: MIT */
/*
 * heapprof.h - the heap-dump analyser (libheapprof, used by the `heapprof` CLI).
 *
 * Offline reading of jemalloc heap dumps (heap_v2), symbolization through elfutils
 * (ELF symbol tables, DWARF lines, build-ids, the local debug store), jeprof's scaling,
 * and the reports: top, diff, folded stacks, SVG flame graph and gzipped pprof.
 * Writing dumps is libmemshim's job (memshim_prof_* in memshim.h); nothing here runs
 * inside the profiled process.
 *
 * Error convention: 0 or -errno; readers keep a sticky error whose text names the line
 * ("dump line 42: bad stack address").
 */
#ifndef HEAPPROF_H
#define HEAPPROF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* --- Dump reader (heapprof/dump.c) --- */

/* One "t*:" or "t<N>:" line as jemalloc wrote it: sampled counts, not yet scaled. */
typedef struct hp_counts {
    uint64_t cur_objs;  /* live objects */
    uint64_t cur_bytes; /* live bytes */
    uint64_t cum_objs;  /* allocated since start (0 unless jemalloc's prof_accum) */
    uint64_t cum_bytes;
} hp_counts_t;

/* A stack's counts unsampled with hp_scale (each occurrence of the backtrace on its own). */
typedef struct hp_scaled_counts {
    double cur_objs, cur_bytes; /* in use */
    double cum_objs, cum_bytes; /* allocated since start */
} hp_scaled_counts_t;

/* A per-thread line: in the header (thread totals) or under a stack. */
typedef struct hp_thread_counts {
    uint64_t thread;  /* jemalloc's thread uid */
    const char *name; /* thread name, "" if the thread was not named */
    hp_counts_t counts;
} hp_thread_counts_t;

/*
 * One unique backtrace ("@ 0x... 0x...") and its counts; a view into the dump. jemalloc
 * writes each backtrace once; if one appears again, its lines are merged into the first.
 */
typedef struct hp_stack {
    const uint64_t *pcs; /* leaf first; return addresses except pcs[0] */
    size_t depth;
    hp_counts_t counts;                /* the stack's t* line (summed, saturating) */
    const hp_thread_counts_t *threads; /* its t<N> lines, one per thread (summed) */
    size_t nthreads;
    hp_scaled_counts_t scaled; /* counts scaled with the dump's period */
} hp_stack_t;

/* One line of the MAPPED_LIBRARIES section (a copy of /proc/<pid>/maps). */
typedef struct hp_mapping {
    uint64_t start, end; /* [start, end) in the process */
    uint64_t offset;     /* file offset of start */
    uint64_t inode;
    char perms[5];    /* "r-xp" */
    const char *path; /* "" for anonymous mappings; " (deleted)" is removed */
} hp_mapping_t;

typedef struct hp_dump hp_dump_t;

/* An empty dump reader. NULL on OOM. hp_dump_free(NULL) is a no-op. */
hp_dump_t *hp_dump_new(void);
void hp_dump_free(hp_dump_t *d);
/*
 * The reader streams its input: it holds at most HP_DUMP_READ_MAX bytes of it at a time
 * (so no line may be that long), and keeps only what it merges from the lines (memory
 * proportional to the distinct stacks, threads and mappings, not to the input's size).
 */
#define HP_DUMP_READ_MAX (1u << 20)
/* Input for hp_dump_read: up to len bytes into buf. Bytes read, 0 at the end, or -errno. */
typedef ssize_t (*hp_read_fn)(void *ctx, void *buf, size_t len);
/*
 * Reads and parses a heap_v2 dump from read_fn, in chunks (total: the input's size for
 * progress reports, 0 if unknown). Call once per reader (any of the hp_dump_read*,
 * hp_dump_parse, hp_dump_load). 0, -EPROTO (malformed, truncated, a line of
 * HP_DUMP_READ_MAX bytes or more, or not a heap dump: hp_dump_errstr names the line),
 * -ENOMEM, -EINVAL (called twice), or read_fn's -errno.
 */
int hp_dump_read(hp_dump_t *d, hp_read_fn read_fn, void *ctx, uint64_t total);
/* hp_dump_read from a descriptor (a file, a pipe, a FIFO...); fd is not closed. */
int hp_dump_read_fd(hp_dump_t *d, int fd);
/*
 * Parses a whole heap_v2 dump held in buf[0..len) (need not be NUL-terminated; the
 * reader copies what it keeps). As hp_dump_read.
 */
int hp_dump_parse(hp_dump_t *d, const char *buf, size_t len);
/*
 * Reads and parses the dump at path ("-": standard input): a regular file, a pipe or a
 * FIFO, streamed. As hp_dump_read, plus -errno of open/read (the text names the path),
 * -EISDIR, -EINVAL (not a file, pipe or terminal).
 */
int hp_dump_load(hp_dump_t *d, const char *path);
/*
 * Called now and then during long steps: what is "reading" (done/total in bytes) or
 * "symbolizing" (done/total in stacks). ctx is the caller's.
 */
typedef void (*hp_progress_fn)(void *ctx, const char *what, size_t done, size_t total);
/* Reports parsing progress (every few MB) to fn; fn NULL turns it off. */
void hp_dump_set_progress(hp_dump_t *d, hp_progress_fn fn, void *ctx);
/* The sticky error's text ("dump line 7: bad counts"), "" when there is none. */
const char *hp_dump_errstr(const hp_dump_t *d);
/* The mean sample interval in bytes (the N of "heap_v2/N"). */
uint64_t hp_dump_period(const hp_dump_t *d);
/* The header's t* line (process totals, raw). */
const hp_counts_t *hp_dump_totals(const hp_dump_t *d);
/* The header's per-thread lines; *count gets their number. */
const hp_thread_counts_t *hp_dump_threads(const hp_dump_t *d, size_t *count);
size_t hp_dump_stack_count(const hp_dump_t *d);
/* Fills *out with stack i (valid while d lives). 0 or -ERANGE. */
int hp_dump_stack(const hp_dump_t *d, size_t i, hp_stack_t *out);
/* The MAPPED_LIBRARIES lines in file order; *count gets their number. */
const hp_mapping_t *hp_dump_mappings(const hp_dump_t *d, size_t *count);

/* --- Scaling (jeprof's AdjustSamples for heap_v2) --- */

/*
 * Unsamples one stack's counts: ratio = (bytes/objs)/period, scale = 1/(1-exp(-ratio)),
 * both counts multiplied by scale. objs == 0 or period == 0 leave the counts as they are
 * (as jeprof does); bytes == 0 with objs > 0 uses scale 1.
 */
void hp_scale(uint64_t period, uint64_t objs, uint64_t bytes, double *objs_out, double *bytes_out);

/* --- Symbolized profile (heapprof/profile.c, heapprof/symbolize.c) --- */

/* Sample value indexes, in pprof's order for heap profiles. */
enum { HP_ALLOC_OBJECTS, HP_ALLOC_SPACE, HP_INUSE_OBJECTS, HP_INUSE_SPACE, HP_NVALUES };

typedef struct hp_sym_opts {
    const char *binary;    /* main program file, instead of the path the dump names */
    const char *debug_dir; /* the debug store (.build-id/xx/rest.debug), NULL = /usr/lib/debug */
    int no_symbols;        /* nonzero: open no object, frames are named by address */
    /*
     * nonzero: also read DWARF (file:line, inline frames) from the separate debug files of
     * system libraries (under /lib, /usr/lib, ...), e.g. libc6-dbg's. Their symbol tables
     * are always read; their DWARF costs tens of milliseconds to decompress, so by default
     * it is read only for --lines. Objects with DWARF in the file itself and non-system
     * objects always get file:line and inline frames.
     */
    int system_lines;
    hp_progress_fn progress; /* NULL = none */
    void *progress_ctx;
} hp_sym_opts_t;

/*
 * Is the main program's file (opts->binary, else the path the dump names) the build that
 * wrote the dump? A heap_v2 dump records no build-id, only /proc/<pid>/maps: each
 * mapping's path, inode, file offset and size. So:
 *   - the file at the dump's path, if it still has the dump's inode, is the one that ran:
 *     its GNU build-id is compared with BIN's (a file with the dump's inode is the build);
 *   - otherwise the file's executable PT_LOAD segments must fit the dump's executable
 *     mappings (offset and page-rounded size), and a file that replaced the one at the
 *     dump's path (another inode) is not trusted without --binary.
 * HP_BIN_OK (checked, or nothing to check: no main program, inode 0), HP_BIN_UNVERIFIED
 * (BIN could not be checked) or HP_BIN_MISMATCH; msg (len bytes) gets one sentence saying
 * why for the latter two.
 */
enum { HP_BIN_OK = 0, HP_BIN_UNVERIFIED = 1, HP_BIN_MISMATCH = 2 };
int hp_check_binary(const hp_dump_t *d, const hp_sym_opts_t *opts, char *msg, size_t len);

/* An executable file mapping of the profile (pprof's Mapping). */
typedef struct hp_mapping_info {
    uint64_t start, limit, offset;
    const char *path;
    const char *build_id; /* lowercase hex GNU build-id, "" if unknown (the build that ran:
                             not --binary's when hp_check_binary found it differs) */
    int has_functions;    /* function names were found for it */
    int has_lines;        /* DWARF file:line were found for it */
    int open_error;       /* 0, or -errno of opening the file (-ENOEXEC: not ELF; -ENODEV:
                             not a regular file, e.g. a FIFO; -EISDIR; -EFBIG: > 16 GiB) */
} hp_mapping_info_t;

typedef struct hp_profile hp_profile_t;

/*
 * Builds the symbolized profile of a dump: each stack's PCs are mapped through the dump's
 * MAPPED_LIBRARIES to (object, address), named from the objects' symbol tables and DWARF
 * (separate debug files found by build-id), the allocator's own frames are dropped from
 * the top of each stack (jeprof's list, plus libjemalloc/libmemshim frames), and the
 * counts are scaled with hp_scale. The result does not refer to d. opts may be NULL.
 * 0 or -ENOMEM; *out is freed with hp_profile_free.
 */
int hp_profile_build(const hp_dump_t *d, const hp_sym_opts_t *opts, hp_profile_t **out);
void hp_profile_free(hp_profile_t *p);
/* The profile's total of each HP_* value (sum over all stacks). */
const double *hp_profile_totals(const hp_profile_t *p);
/*
 * 1 when the dump recorded no allocation totals: objects are in use but every
 * allocated-since-start count is 0 (jemalloc wrote it with prof_accum off, its default).
 * Then the alloc values are meaningless: --alloc reports refuse them (-ENODATA) and pprof
 * leaves the alloc_* sample types out. 0 otherwise (an empty profile included).
 */
int hp_profile_lacks_alloc(const hp_profile_t *p);
uint64_t hp_profile_period(const hp_profile_t *p);
size_t hp_profile_sample_count(const hp_profile_t *p);
/* Executable mappings, main program first; *count gets their number. */
const hp_mapping_info_t *hp_profile_mappings(const hp_profile_t *p, size_t *count);

/* --- Reports (heapprof/report.c, folded.c, flame.c, pprof.c) --- */

typedef struct hp_report_opts {
    int alloc;    /* nonzero: allocated-since-start values instead of in-use ones */
    int lines;    /* nonzero: one entry per "function file:line" instead of per function */
    int sort_cum; /* top: nonzero sorts by cumulative instead of flat bytes */
} hp_report_opts_t;

/* One row of top/diff. In a diff the values are new - base. */
typedef struct hp_top_entry {
    const char *name;             /* "function" or "function file:line" */
    double flat_bytes, flat_objs; /* where the stack ends (the allocation site) */
    double cum_bytes, cum_objs;   /* anywhere on the stack (counted once per stack) */
} hp_top_entry_t;

typedef struct hp_table {
    hp_top_entry_t *entries; /* sorted: by flat bytes (by |flat bytes| for a diff) */
    size_t count;
    double total_bytes, total_objs; /* diff: new - base */
    double base_bytes, base_objs;   /* diff only: the base's totals */
    double new_bytes, new_objs;     /* diff only: the new dump's totals */
    uint64_t period;
    int alloc, lines, diff;
    void *priv; /* private: the names' storage */
} hp_table_t;

/*
 * Flat and cumulative bytes and objects per function (jeprof --text). 0, -ENOMEM, or
 * -ENODATA (opts->alloc on a profile that hp_profile_lacks_alloc).
 */
int hp_top(const hp_profile_t *p, const hp_report_opts_t *opts, hp_table_t **out);
/* new - base, per entry name, for two tables made with the same options. 0, -EINVAL, -ENOMEM. */
int hp_diff(const hp_table_t *base, const hp_table_t *cur, hp_table_t **out);
void hp_table_free(hp_table_t *t);
/* Writes the table as text (limit rows, 0 = all). 0 or -EIO. */
int hp_table_write_text(const hp_table_t *t, size_t limit, FILE *out);
/* Writes the table as one JSON object (limit rows, 0 = all). 0 or -EIO. */
int hp_table_write_json(const hp_table_t *t, size_t limit, FILE *out);

/*
 * Folded stacks, root first: "main;f;g 1234" (bytes, rounded). 0, -ENOMEM, -EIO, -ENODATA
 * (as hp_top; nothing is written).
 */
int hp_collapsed_write(const hp_profile_t *p, const hp_report_opts_t *opts, FILE *out);

typedef struct hp_flame_opts {
    hp_report_opts_t report;
    const char *title;    /* NULL = "Heap flame graph" */
    const char *subtitle; /* NULL = none (e.g. the dump's name) */
    int width;            /* pixels, 0 = 1200 */
    /* NULL = none; else called now and then with "merging" (done/total in stacks), then
       "drawing" (done/total in frames) */
    hp_progress_fn progress;
    void *progress_ctx;
} hp_flame_opts_t;

/*
 * A self-contained SVG flame graph with click-to-zoom and search. 0, -ENOMEM, -EIO,
 * -ENODATA (as hp_top; nothing is written).
 */
int hp_flame_write(const hp_profile_t *p, const hp_flame_opts_t *opts, FILE *out);

/*
 * Encodes the profile as a gzipped pprof profile.proto: sample types alloc_objects/count,
 * alloc_space/bytes (left out when hp_profile_lacks_alloc), inuse_objects/count,
 * inuse_space/bytes (default inuse_space), period space/bytes, with locations, functions
 * and mappings (build_id included). *buf is malloc'd. 0, -ENOMEM, -EIO (compression failed).
 */
int hp_pprof_encode(const hp_profile_t *p, uint8_t **buf, size_t *len);
/* hp_pprof_encode into the file at path. 0, -ENOMEM, -errno of the write. */
int hp_pprof_write_file(const hp_profile_t *p, const char *path);

#ifdef __cplusplus
}
#endif

#endif /* HEAPPROF_H */
