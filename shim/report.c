/* SPDX-License-Identifier: MIT */
/*
 * report.c - the exit summary behind MEMSHIM_REPORT=1 and `memshim run --report`.
 *
 * A small sampler thread reads jemalloc's counters every MS_REPORT_INTERVAL_MS and keeps
 * the peaks of allocated, active and resident; a destructor takes a last sample and
 * writes the summary (peaks, final values, fragmentation, failures injected) with
 * write(2), never stdio. The sampler is shim-internal work: it runs with ms_tls_internal
 * set (failure injection never touches it), blocks every signal (they stay the program's)
 * and holds no shim lock, so fork needs nothing from it; a forked child has no sampler
 * and does not report (the summary belongs to the process that was started).
 */
#include "memshim_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MS_REPORT_INTERVAL_MS 10

static _Atomic size_t peak_allocated;
static _Atomic size_t peak_active;
static _Atomic size_t peak_resident;
static atomic_bool sampler_started;
/* Heap profiling's cost (ms_report_prof_t): kept while profiling is active. */
static _Atomic size_t peak_metadata;
static _Atomic size_t peak_runs;
static atomic_bool prof_seen;

/*
 * stderr as it was at start-up. Programs may close it before the destructors run
 * (coreutils' close_stdout closes stderr at exit), so the report keeps a close-on-exec
 * duplicate, and writes only to a descriptor that still names the same file: a closed
 * and reused descriptor never receives the summary.
 */
static int report_fd = -1;
static dev_t report_dev;
static ino_t report_ino;

static void keep_stderr(void) {
    struct stat st;
    if (report_fd >= 0 || fstat(STDERR_FILENO, &st) != 0) return;
    report_fd = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3);
    report_dev = st.st_dev;
    report_ino = st.st_ino;
}

static bool same_file(int fd) {
    struct stat st;
    return fd >= 0 && fstat(fd, &st) == 0 && st.st_dev == report_dev && st.st_ino == report_ino;
}

/* The descriptor the summary goes to on stderr's behalf, or -1 when there is none. */
static int stderr_fd(void) {
    if (same_file(report_fd)) return report_fd;
    if (report_fd < 0 || same_file(STDERR_FILENO)) return STDERR_FILENO;
    return -1;
}

static void raise_to(_Atomic size_t *peak, size_t v) {
    size_t cur = atomic_load_explicit(peak, memory_order_relaxed);
    while (v > cur && !atomic_compare_exchange_weak_explicit(peak, &cur, v, memory_order_relaxed,
                                                             memory_order_relaxed)) {
    }
}

int ms_report_sample(memshim_stats_t *out) {
    memshim_stats_t st;
    int rc = memshim_stats_get(&st);
    if (rc != 0) return rc;
    raise_to(&peak_allocated, st.allocated);
    raise_to(&peak_active, st.active);
    raise_to(&peak_resident, st.resident);
    raise_to(&peak_metadata, st.metadata);
    bool active = false;
    size_t lg, runs, run_size;
    if (ms_je_prof_figures(&active, &lg, &runs, &run_size) == 0 && active) {
        atomic_store_explicit(&prof_seen, true, memory_order_relaxed);
        raise_to(&peak_runs, runs);
    }
    if (out != NULL) *out = st;
    return 0;
}

int ms_report_prof_get(ms_report_prof_t *out) {
    memset(out, 0, sizeof(*out));
    bool active = false;
    size_t runs = 0;
    int rc = ms_je_prof_figures(&active, &out->lg_sample, &runs, &out->run_size);
    if (rc != 0) return rc;
    if (active) {
        atomic_store(&prof_seen, true);
        raise_to(&peak_runs, runs);
    }
    memshim_stats_t st;
    if (memshim_stats_get(&st) == 0) raise_to(&peak_metadata, st.metadata);
    out->seen = atomic_load(&prof_seen);
    out->metadata_peak = atomic_load(&peak_metadata);
    out->metadata_final = st.metadata;
    out->runs_peak = atomic_load(&peak_runs);
    out->runs_final = runs;
    return 0;
}

void ms_report_peaks(size_t *allocated, size_t *active, size_t *resident) {
    *allocated = atomic_load(&peak_allocated);
    *active = atomic_load(&peak_active);
    *resident = atomic_load(&peak_resident);
}

static void *sampler_main(void *arg) {
    (void)arg;
    ms_tls_internal = 1;
    const struct timespec interval = {0, MS_REPORT_INTERVAL_MS * 1000000L};
    for (;;) {
        (void)ms_report_sample(NULL);
        nanosleep(&interval, NULL);
    }
    return NULL;
}

int ms_thread_spawn(void *(*fn)(void *), const char *name) {
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old); /* the new thread inherits the full mask */
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, 64 * 1024);
    pthread_t tid;
    int saved = errno;
    ms_tls_internal++;
    int rc = pthread_create(&tid, &attr, fn, NULL);
    ms_tls_internal--;
    errno = saved;
    pthread_attr_destroy(&attr);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc == 0) pthread_setname_np(tid, name);
    return rc;
}

int ms_report_start(void) {
    if (atomic_exchange(&sampler_started, true)) return 0;
    keep_stderr();
    (void)ms_report_sample(NULL);
    int rc = ms_thread_spawn(sampler_main, "memshim-report");
    if (rc != 0) {
        atomic_store(&sampler_started, false);
        ms_log(MS_LOG_WARN, "report: no sampler thread (%s); peaks are exit values", strerror(rc));
        return -rc;
    }
    return 0;
}

void ms_report_fork_child(void) {
    atomic_store(&sampler_started, false);
    ms_config.report = false;
    if (report_fd >= 0) close(report_fd);
    report_fd = -1;
}

/* 1536 -> "1.5 KiB"; exact bytes below 1 KiB. */
static void human(char *buf, size_t len, size_t v) {
    static const char *const units[] = {"KiB", "MiB", "GiB", "TiB"};
    if (v < 1024) {
        snprintf(buf, len, "%zu B", v);
        return;
    }
    double d = (double)v / 1024.0;
    size_t u = 0;
    while (d >= 1024.0 && u + 1 < sizeof(units) / sizeof(units[0])) {
        d /= 1024.0;
        u++;
    }
    snprintf(buf, len, "%.1f %s", d, units[u]);
}

int ms_report_format(char *buf, size_t len, const char *prog, const memshim_stats_t *fin,
                     size_t peak_alloc, size_t peak_act, size_t peak_res) {
    char pa[32], fa[32], pc[32], fc[32], pr[32], fr[32], fb[32];
    human(pa, sizeof(pa), peak_alloc);
    human(fa, sizeof(fa), fin->allocated);
    human(pc, sizeof(pc), peak_act);
    human(fc, sizeof(fc), fin->active);
    human(pr, sizeof(pr), peak_res);
    human(fr, sizeof(fr), fin->resident);
    human(fb, sizeof(fb), fin->frag_bytes);
    int pid = (int)getpid();
    int n =
        snprintf(buf, len,
                 "memshim[%d]: report for %s\n"
                 "memshim[%d]:   allocated  peak %12s  final %12s\n"
                 "memshim[%d]:   active     peak %12s  final %12s\n"
                 "memshim[%d]:   resident   peak %12s  final %12s\n"
                 "memshim[%d]:   fragmentation  %.3f (active/allocated), %s in partly "
                 "used pages\n"
                 "memshim[%d]:   failures injected  %llu of %llu counted allocations\n",
                 pid, prog, pid, pa, fa, pid, pc, fc, pid, pr, fr, pid, fin->frag_ratio, fb, pid,
                 (unsigned long long)fin->fail_injected, (unsigned long long)fin->fail_countable);
    if (n < 0) return -EIO;
    return (size_t)n >= len ? -ERANGE : n;
}

/* Sampling denser than one per 2^16 bytes is what the summary calls dense. */
#define MS_REPORT_DENSE_LG 16

int ms_report_format_prof(char *buf, size_t len, const ms_report_prof_t *p) {
    if (len > 0) buf[0] = '\0';
    if (!p->seen) return 0;
    char every[32], mp[32], mf[32], rs[32], rp[32], rf[32];
    human(every, sizeof(every), p->lg_sample < 64 ? (size_t)1 << p->lg_sample : SIZE_MAX);
    human(mp, sizeof(mp), p->metadata_peak);
    human(mf, sizeof(mf), p->metadata_final);
    human(rs, sizeof(rs), p->run_size);
    human(rp, sizeof(rp), p->runs_peak * p->run_size);
    human(rf, sizeof(rf), p->runs_final * p->run_size);
    int pid = (int)getpid();
    int n = snprintf(buf, len,
                     "memshim[%d]:   profiler   lg_sample %zu (a sample per %s); jemalloc "
                     "metadata, its tables included: peak %s, final %s\n",
                     pid, p->lg_sample, every, mp, mf);
    if (n < 0) return -EIO;
    if ((size_t)n >= len) return -ERANGE;
    if (p->lg_sample < MS_REPORT_DENSE_LG) {
        int m = snprintf(buf + n, len - (size_t)n,
                         "memshim[%d]:   profiler   sampling this dense inflates memory: each "
                         "sampled small block takes a %s run (runs of that size live: peak %s, "
                         "final %s); the default lg_sample is 19\n",
                         pid, rs, rp, rf);
        if (m < 0) return -EIO;
        if ((size_t)m >= len - (size_t)n) return -ERANGE;
        n += m;
    }
    return n;
}

void ms_report_write(void) {
    memshim_stats_t fin;
    if (ms_report_sample(&fin) != 0) {
        ms_log(MS_LOG_WARN, "report: jemalloc statistics unavailable");
        return;
    }
    size_t pa, pc, pr;
    ms_report_peaks(&pa, &pc, &pr);
    char buf[1536];
    int n = ms_report_format(buf, sizeof(buf), program_invocation_short_name, &fin, pa, pc, pr);
    if (n < 0) return;
    ms_report_prof_t prof;
    if (ms_report_prof_get(&prof) == 0) {
        int m = ms_report_format_prof(buf + n, sizeof(buf) - (size_t)n, &prof);
        if (m > 0) n += m;
    }
    int fd = -1;
    if (ms_config.report_path[0] != '\0') {
        fd = open(ms_config.report_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (fd < 0)
            ms_log(MS_LOG_WARN, "report: cannot open %s: %s", ms_config.report_path,
                   strerror(errno));
    }
    if (fd >= 0) {
        ms_write_all(fd, buf, (size_t)n);
        close(fd);
        return;
    }
    fd = stderr_fd();
    if (fd >= 0) ms_write_all(fd, buf, (size_t)n);
}

/* Runs at exit() (not at _exit or a fatal signal), after the program's own destructors. */
__attribute__((destructor)) static void report_at_exit(void) {
    if (!ms_config.report) return;
    int saved = errno;
    ms_tls_internal++;
    ms_report_write();
    ms_tls_internal--;
    errno = saved;
}
