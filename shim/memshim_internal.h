/* SPDX-License-Identifier: MIT */
/*
 * memshim_internal.h - names shared by the files of libmemshim (the .c files in shim/).
 * Nothing here is exported from the .so: the prefix is ms_, and `make check-symbols`
 * proves it. Only files in shim/ (and the shim's unit tests) include it.
 *
 * Rules for everything declared here (docs/design.md#rules-for-code-inside-the-shim):
 * nothing on the allocation path may allocate through malloc, take a stdio lock or log
 * through stdio; the shim's own work allocates with mallocx/dallocx directly, never
 * through the overridden names.
 */
#ifndef MEMSHIM_INTERNAL_H
#define MEMSHIM_INTERNAL_H

#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "memshim.h"
#include "ms_defs.h"

/* --- Logging (write(2) on a stack buffer; safe on the allocation path) --- */

enum { MS_LOG_ERROR = 0, MS_LOG_WARN = 1, MS_LOG_INFO = 2, MS_LOG_DEBUG = 3 };

/* Formats "memshim[pid]: <msg>\n" into a stack buffer and writes it to stderr. */
void ms_log(int level, const char *fmt, ...) MS_PRINTF(2, 3);

/* The level at or below which ms_log writes (MEMSHIM_LOG_LEVEL, default MS_LOG_WARN). */
extern int ms_log_level;

/* write(2) all of buf to fd, retrying on EINTR; gives up silently on other errors. */
void ms_write_all(int fd, const char *buf, size_t len);

/* --- The allocation API, with libc's exact semantics (alloc.c) --- */

typedef void *(*ms_malloc_fn)(size_t);
typedef void (*ms_free_fn)(void *);

/*
 * Where malloc and free go right now, never NULL: jemalloc's own malloc and free, each
 * wrapped in an errno save/restore (free bare with config.free_keeps_errno=false), once
 * ms_alloc_init found them; the *x path or the failure-injection path otherwise.
 * ms_alloc_refresh keeps them in step. Read relaxed: every target is valid at any time.
 */
#define MS_HIDDEN_DECL __attribute__((visibility("hidden"))) /* jmp *x(%rip), no GOT */
extern MS_HIDDEN_DECL _Atomic(ms_malloc_fn) ms_malloc_entry;
extern MS_HIDDEN_DECL _Atomic(ms_free_fn) ms_free_entry;

/* Inline, so override.c's malloc and free are one indirect jump each. Sets ENOMEM on
 * failure, keeps errno on success. */
static inline void *ms_malloc(size_t size) {
    return atomic_load_explicit(&ms_malloc_entry, memory_order_relaxed)(size);
}

/* Takes NULL; preserves errno unless config.free_keeps_errno is false. */
static inline void ms_free(void *ptr) {
    atomic_load_explicit(&ms_free_entry, memory_order_relaxed)(ptr);
}

void ms_free_sized(void *ptr, size_t size);
void *ms_calloc(size_t nmemb, size_t size);
void *ms_realloc(void *ptr, size_t size);
void *ms_reallocarray(void *ptr, size_t nmemb, size_t size);
int ms_posix_memalign(void **memptr, size_t alignment, size_t size);
void *ms_aligned_alloc(size_t alignment, size_t size);
void *ms_memalign(size_t alignment, size_t size);
void *ms_valloc(size_t size);
void *ms_pvalloc(size_t size);
size_t ms_usable_size(const void *ptr);

/*
 * Called once by the constructor: routes malloc/calloc/realloc/free to jemalloc's own
 * entry points (its thread-cache fast path) instead of mallocx/dallocx. 0; -ENOENT
 * when they cannot be found in libjemalloc's object; -ENOTSUP under valgrind (memcheck
 * replaces them). The *x path then stays in use.
 */
int ms_alloc_init(void);

/* Goes back to the mallocx/rallocx/dallocx path (tests use it to cover both paths). */
void ms_alloc_use_xpath(void);

/* Routes the hot calls to these functions, as ms_alloc_init does with jemalloc's own
 * (tests pass wrappers, e.g. a free that clobbers errno). Each must be non-NULL and
 * allocate from / release to jemalloc. */
void ms_alloc_use_direct(void *(*m)(size_t), void *(*c)(size_t, size_t), void *(*r)(void *, size_t),
                         void (*f)(void *));

/* This thread's errno as the direct free finds it (thread pointer + a constant fixed at
 * ms_alloc_init on x86-64; &errno elsewhere). Tests compare it with &errno. */
int *ms_alloc_errno_location(void);

/* config.free_keeps_errno (MEMSHIM_FREE_KEEPS_ERRNO): whether free preserves errno
 * around jemalloc's free (true, glibc's semantics) or jumps straight to it. 0. */
int ms_ctl_free_keeps_errno_get(void *out);
int ms_ctl_free_keeps_errno_set(const void *in);

/* Re-reads ms_inject_armed: the direct fast path is only taken while nothing is armed.
 * inject.c calls it whenever a rule is armed or disarmed. */
void ms_alloc_refresh(void);

/* --- Compatibility with glibc's introspection calls (compat.c) --- */

struct mallinfo;
struct mallinfo2;
struct mallinfo2 ms_mallinfo2(void);
struct mallinfo ms_mallinfo(void);
int ms_malloc_trim(size_t pad);
void ms_malloc_stats(void);

/* --- Failure injection (inject.c) --- */

/* Non-zero while any failure rule is armed; read on every allocation (relaxed). */
extern atomic_int ms_inject_armed;

/*
 * Decides whether the allocation of `size` bytes now being made fails. Called only when
 * ms_inject_armed is set. Allocations made while ms_tls_internal is set never count.
 */
bool ms_inject_should_fail(size_t size);

/* Per-thread guard: set while the shim does its own work (control thread, dumps). */
extern MS_TLS int ms_tls_internal;

/* Counters for stats and `memshim run --report`. */
uint64_t ms_inject_failures(void);
uint64_t ms_inject_seen(void);

/* --- Controls (ctl.c): one static table of dotted names --- */

typedef enum ms_ctl_type {
    MS_CTL_BOOL,   /* bool */
    MS_CTL_U64,    /* uint64_t */
    MS_CTL_SIZE,   /* size_t; text form accepts k/m/g suffixes */
    MS_CTL_DOUBLE, /* double */
    MS_CTL_STR,    /* const char * */
    MS_CTL_ACTION, /* write-only trigger; newp may be NULL or a const char * argument */
} ms_ctl_type_t;

enum {
    MS_CTL_R = 1u << 0, /* readable */
    MS_CTL_W = 1u << 1, /* writable */
};

/*
 * One control. get copies the current value into out (sized for the type); set takes a
 * pointer to a value of the type (ACTION: a `const char *` argument, possibly NULL).
 * Both return 0 or -errno.
 */
typedef struct ms_ctl_node {
    const char *name;
    ms_ctl_type_t type;
    unsigned flags;
    int (*get)(void *out);
    int (*set)(const void *in);
    const char *help;
} ms_ctl_node_t;

/* Finds a control by exact name; NULL when there is none. */
const ms_ctl_node_t *ms_ctl_find(const char *name);

/*
 * Fork handlers of the control table's lock, which serialises every write: prepare
 * takes it (before jemalloc's prepare takes jemalloc's locks), parent and child
 * release it. Other shim modules with locks add theirs to config.c's handlers.
 */
void ms_ctl_fork_prepare(void);
void ms_ctl_fork_parent(void);
void ms_ctl_fork_child(void);

/* Parses text for a control's type into *out (sized for the type). 0 or -EINVAL. */
int ms_ctl_parse_value(ms_ctl_type_t type, const char *text, void *out, size_t outlen);

/*
 * Control handlers, defined next to the state they control and listed in ctl.c's table.
 * A getter fills a value of the control's type; a setter takes one. 0 or -errno.
 */
int ms_ctl_inject_fail_after_get(void *out);
int ms_ctl_inject_fail_after_set(const void *in);
int ms_ctl_inject_fail_rate_get(void *out);
int ms_ctl_inject_fail_rate_set(const void *in);
int ms_ctl_inject_seed_get(void *out);
int ms_ctl_inject_seed_set(const void *in);
int ms_ctl_inject_min_size_get(void *out);
int ms_ctl_inject_min_size_set(const void *in);
int ms_ctl_inject_failures_get(void *out);
int ms_ctl_inject_seen_get(void *out);
int ms_ctl_inject_reset_set(const void *in);

/* --- Exit report (report.c): MEMSHIM_REPORT=1, `memshim run --report` --- */

/*
 * Starts the sampler thread that tracks peak allocated/active/resident (idempotent).
 * Returns 0 or -errno from pthread_create (the report then shows exit values as peaks).
 */
int ms_report_start(void);

/* Reads jemalloc's counters into *out (may be NULL) and raises the peaks. 0 or -EIO. */
int ms_report_sample(memshim_stats_t *out);
/*
 * Starts fn on a detached helper thread of the shim named `name` (64 KiB stack) that takes no
 * signal meant for the host and whose own allocations never count for failure injection. Preserves
 * errno. 0, or pthread_create's positive error number.
 */
int ms_thread_spawn(void *(*fn)(void *), const char *name);

/* The peaks seen so far by ms_report_sample. */
void ms_report_peaks(size_t *allocated, size_t *active, size_t *resident);

/*
 * Formats the summary for program `prog` into buf (several "memshim[pid]: " lines).
 * Returns the length written, -ERANGE when buf is too small, or -EIO.
 */
int ms_report_format(char *buf, size_t len, const char *prog, const memshim_stats_t *fin,
                     size_t peak_allocated, size_t peak_active, size_t peak_resident);

/*
 * What heap profiling costs, for the summary's "profiler" lines. Dense sampling inflates
 * memory: jemalloc 5.3 gives every sampled small block a run of the smallest large class
 * (run_size, 16 KiB with 4 KiB pages), and its profiling tables count in stats.metadata.
 */
typedef struct ms_report_prof {
    bool seen;            /* profiling was active at some sample (else no lines) */
    size_t lg_sample;     /* prof.lg_sample: one sample per 2^lg_sample bytes */
    size_t metadata_peak; /* stats.metadata (jemalloc's own, profiler's tables included) */
    size_t metadata_final;
    size_t run_size;  /* arenas.lextent.0.size */
    size_t runs_peak; /* live runs of that class (sampled small blocks and others) */
    size_t runs_final;
} ms_report_prof_t;

/* Reads into *out the profiling figures the sampler kept, plus final values (no epoch
 * refresh: call after ms_report_sample). 0; -ENOENT when jemalloc has no profiling. */
int ms_report_prof_get(ms_report_prof_t *out);

/* Formats the "profiler" lines (none when !p->seen; the hint only below lg_sample 16).
 * Returns the length written (0 for none), -ERANGE when buf is too small, or -EIO. */
int ms_report_format_prof(char *buf, size_t len, const ms_report_prof_t *p);

/* Reads prof.active, prof.lg_sample and the live runs of the smallest large class
 * (stats.arenas.<all>.lextents.0.curlextents, as of the last epoch) and its size.
 * 0 or -errno (-ENOENT without opt.prof). */
int ms_je_prof_figures(bool *active, size_t *lg_sample, size_t *runs, size_t *run_size);

/* Takes a last sample and writes the summary to MEMSHIM_REPORT_FILE or stderr. */
void ms_report_write(void);

/* In a forked child: no sampler thread, and the summary stays the parent's. */
void ms_report_fork_child(void);

/* --- Heap-profile control (prof.c, prof_unwind.c) --- */

/* Rows of the prof.* controls (API and semantics: memshim_prof_* in memshim.h). */
int ms_ctl_prof_available_get(void *out);
int ms_ctl_prof_active_get(void *out);
int ms_ctl_prof_active_set(const void *in);
int ms_ctl_prof_lg_sample_get(void *out);
int ms_ctl_prof_lg_sample_set(const void *in);
int ms_ctl_prof_dump_set(const void *in);
int ms_ctl_prof_reset_set(const void *in);
int ms_ctl_prof_dump_dir_get(void *out);
int ms_ctl_prof_dump_dir_set(const void *in);
int ms_ctl_prof_dump_at_exit_get(void *out);
int ms_ctl_prof_dump_at_exit_set(const void *in);
int ms_ctl_prof_dumps_get(void *out);
int ms_ctl_prof_last_dump_get(void *out);
int ms_ctl_prof_last_error_get(void *out);
int ms_ctl_prof_unwinder_get(void *out);
int ms_ctl_prof_unwinder_set(const void *in);
int ms_ctl_prof_peak_get(void *out);
int ms_ctl_prof_peak_set(const void *in);
int ms_ctl_prof_peak_bytes_get(void *out);
int ms_ctl_prof_peak_time_get(void *out);
int ms_ctl_prof_peak_dumps_get(void *out);
int ms_ctl_prof_peak_path_get(void *out);

/* Fork handlers of the profile-control lock (called from config.c's, after ms_ctl_*'s
 * prepare and before its parent/child): the child restarts dump numbering. */
void ms_prof_fork_prepare(void);
void ms_prof_fork_parent(void);
void ms_prof_fork_child(void);

/* Backtrace walkers jemalloc can call for a sampled allocation (prof_unwind.c). */
enum { MS_PROF_UNWIND_LIBUNWIND = 0, MS_PROF_UNWIND_LIBGCC = 1 };

/* Finds the objects whose frames are skipped and reads jemalloc's own walker.
 * Needs opt.prof. 0 or -errno. */
int ms_prof_unwind_init(void);
/* Installs a walker (MS_PROF_UNWIND_*). 0, -EINVAL, -ENOENT (not initialised), -errno. */
int ms_prof_unwinder_select(int which);
/* The walker installed, or -1 before ms_prof_unwind_init. */
int ms_prof_unwinder_current(void);
/* "libunwind" / "libgcc" -> MS_PROF_UNWIND_*, or -EINVAL. */
int ms_prof_unwinder_parse(const char *name);
/* MS_PROF_UNWIND_* -> its name ("" when out of range). */
const char *ms_prof_unwinder_name(int which);
/* Fork handlers: prepare waits until no libunwind walk is running (new ones record empty
 * stacks until parent/child). */
void ms_prof_unwind_fork_prepare(void);
void ms_prof_unwind_fork_parent(void);
void ms_prof_unwind_fork_child(void);

/* --- Control socket (ctlsock.c, ctlcmd.c): MEMSHIM_CTL=1, `memshim ctl` --- */

/* Called once at the end of the constructor: starts the control thread if ctl.enable. */
void ms_ctlsock_init(void);

/* Fork handlers: prepare takes the socket's lock (after ctl.c's), parent releases it,
 * child drops the parent's descriptors and, with ctl.fork, re-arms for its own pid. */
void ms_ctlsock_fork_prepare(void);
void ms_ctlsock_fork_parent(void);
void ms_ctlsock_fork_child(void);

/*
 * Runs one request line (without '\n') and frames its reply: the OK/ERR header goes to
 * head (cap >= MS_CTLPROTO_MAX_HEAD), the body, if any, is *body[0..*body_len), static
 * storage valid until the next call. Every failure becomes an ERR reply. Returns the
 * header's length. Not reentrant: the control thread (or one test thread) only.
 */
size_t ms_ctlcmd_handle(const char *line, size_t len, char *head, size_t cap, const char **body,
                        size_t *body_len);

/* True when every command of MS_CTLCMD_LIST has a handler and a body kind (unit tests). */
bool ms_ctlcmd_table_complete(void);

int ms_ctl_ctl_enable_get(void *out);
int ms_ctl_ctl_enable_set(const void *in);
int ms_ctl_ctl_socket_get(void *out);
int ms_ctl_ctl_fork_get(void *out);
int ms_ctl_ctl_fork_set(const void *in);
int ms_ctl_ctl_timeout_ms_get(void *out);
int ms_ctl_ctl_timeout_ms_set(const void *in);
int ms_ctl_ctl_refused_get(void *out);
int ms_ctl_ctl_requests_get(void *out);
int ms_ctl_ctl_clients_get(void *out);
int ms_ctl_ctl_evicted_get(void *out);

/* --- Configuration (config.c) --- */

typedef struct ms_config {
    bool inherit;          /* MEMSHIM_INHERIT: children keep the preload (default true) */
    bool report;           /* MEMSHIM_REPORT: print a summary at exit */
    char report_path[256]; /* MEMSHIM_REPORT_FILE: where the summary goes ("" = stderr) */
    bool ready;            /* the constructor has finished (threads may be started) */
} ms_config_t;

extern ms_config_t ms_config;

/*
 * Applies every MEMSHIM_* variable and the MEMSHIM_CONF string. A malformed value gets
 * one warning line on stderr and keeps the default; it never aborts the host.
 * Returns the number of values rejected.
 */
int ms_config_apply_env(void);

/* True when name is MEMSHIM_CONF, a MEMSHIM_* setting, or one of the MEMSHIM_* names
 * that are not settings (set by the shim for its children, or by the test harness). */
bool ms_config_env_known(const char *name);

/* The MEMSHIM_* setting closest to a misspelt name (case-insensitive edit distance),
 * or NULL when none is close. ms_config_apply_env warns about unknown names with it. */
const char *ms_config_env_suggest(const char *name);

/* jemalloc read helpers: 0 or -errno (jemalloc's positive errno, negated once). */
int ms_je_get_size(const char *name, size_t *out);
int ms_je_get_u64(const char *name, uint64_t *out);
int ms_je_get_bool(const char *name, bool *out);
int ms_je_epoch(void);

#endif /* MEMSHIM_INTERNAL_H */
