/* SPDX-License-Identifier: MIT */
/*
 * prof.c - run-time control of jemalloc's heap profiler: enable, disable, dump, reset,
 * status, the dump at exit, and the prof.* rows of the shim's control table.
 *
 * libmemshim's malloc_conf makes profiling ready but inactive (prof:true,
 * prof_active:false); everything here is a thin, checked layer over jemalloc's prof.*
 * mallctls. The one idea: a failure is reported, never swallowed. jemalloc's prof.dump
 * answers EFAULT for every failure, so the target directory is checked first to give
 * the caller a precise code (-ENOENT, -ENOTDIR, -EACCES) and a sentence in
 * memshim_prof_status().last_errstr.
 *
 * Dump files are created here, never by jemalloc from a name: a link planted at the name
 * must not be followed (a dump could otherwise truncate any file the process may write).
 * The file is opened with O_NOFOLLOW (automatic names also O_CREAT|O_EXCL: an existing
 * name, a dangling link included, moves on to the next sequence number, at most
 * DUMP_NAME_TRIES times per dump), checked to be a regular file, and jemalloc's prof.dump
 * is given /proc/thread-self/fd/<n>, a magic link that reopens exactly that inode
 * (checked with fstat before the dump) and resolves no name at all.
 *
 * Locking: prof_lock serialises every call (the dump sequence, the last-dump and error
 * texts). Order: the control table's lock, then prof_lock, then jemalloc's locks; the
 * fork handlers (called from config.c) take prof_lock before jemalloc's prefork runs.
 * Nothing here allocates through malloc or uses stdio streams; messages go to ms_log.
 */
#include "memshim_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jemalloc/jemalloc.h>

/* Automatic dump names: <dir>/<DUMP_PREFIX>.<pid>.<seq>.heap */
#define DUMP_PREFIX "memshim"

/* Sequence numbers one automatic dump tries past names that already exist. */
#define DUMP_NAME_TRIES 64

/* Mode of new dump files (before the umask), jemalloc's own. */
#define DUMP_MODE 0644

/*
 * The unwinder installed at start-up. libunwind measured faster than jemalloc's libgcc
 * walker on tests/bench/prof_unwind.sh (docs/benchmarks.md#profiling-backtraces), and it avoids
 * libgcc's loader locks and allocations.
 */
#define DEFAULT_UNWINDER MS_PROF_UNWIND_LIBUNWIND

/* How long the exit dump waits for a dump another thread is writing. */
#define EXIT_LOCK_WAIT_S 5

static pthread_mutex_t prof_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t prof_once = PTHREAD_ONCE_INIT;

static struct {
    bool available;    /* opt.prof, read once */
    bool dump_at_exit; /* MEMSHIM_DUMP_AT_EXIT */
    unsigned seq;      /* next automatic dump number in this process */
    uint64_t dumps;    /* dumps written by this process */
    int last_error;
    char last_errstr[256];
    char last_dump[512];
    char dump_dir[512];
} prof;

static const char unavailable_msg[] =
    "heap profiling is not available: jemalloc's opt.prof is false "
    "(MALLOC_CONF has prof:false, or libmemshim's malloc_conf is not in effect)";

static void do_init(void) {
    bool on = false;
    prof.available = ms_je_get_bool("opt.prof", &on) == 0 && on;
    if (!prof.available) return;
    int rc = ms_prof_unwind_init();
    if (rc == 0) rc = ms_prof_unwinder_select(DEFAULT_UNWINDER);
    if (rc != 0)
        ms_log(MS_LOG_WARN, "heap profiling: cannot install the %s unwinder (%d)",
               ms_prof_unwinder_name(DEFAULT_UNWINDER), rc);
}

static bool ensure_init(void) {
    pthread_once(&prof_once, do_init);
    return prof.available;
}

/* Records a failure (prof_lock held) and returns rc. */
MS_PRINTF(2, 3) static int fail(int rc, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prof.last_errstr, sizeof(prof.last_errstr), fmt, ap);
    va_end(ap);
    prof.last_error = rc;
    ms_log(MS_LOG_INFO, "heap profiling: %s", prof.last_errstr);
    return rc;
}

static int fail_unavailable(void) {
    pthread_mutex_lock(&prof_lock);
    int rc = fail(-ENOENT, "%s", unavailable_msg);
    pthread_mutex_unlock(&prof_lock);
    return rc;
}

static const char *errtext(int e) {
    const char *s = strerrordesc_np(e); /* static, untranslated: no allocation */
    return s != NULL ? s : "unknown error";
}

static bool prof_is_active(void) {
    bool on = false;
    return ms_je_get_bool("prof.active", &on) == 0 && on;
}

/* --- API --- */

static int set_active(bool on) {
    if (!ensure_init()) return fail_unavailable();
    pthread_mutex_lock(&prof_lock);
    int rc = mallctl("prof.active", NULL, NULL, &on, sizeof(on));
    if (rc != 0) rc = fail(-rc, "prof.active: jemalloc refused the write (%s)", errtext(rc));
    pthread_mutex_unlock(&prof_lock);
    return rc;
}

MS_EXPORT int memshim_prof_enable(void) {
    return set_active(true);
}

MS_EXPORT int memshim_prof_disable(void) {
    return set_active(false);
}

/*
 * Checks that `path` can be created: its directory exists, is a directory and is
 * writable (for a precise error; the file itself is checked by open_target). prof_lock held.
 */
static int check_target(const char *path) {
    char dir[sizeof(prof.last_dump)];
    const char *slash = strrchr(path, '/');
    if (slash == NULL) {
        memcpy(dir, ".", 2);
    } else if (slash == path) {
        memcpy(dir, "/", 2);
    } else {
        size_t n = (size_t)(slash - path);
        memcpy(dir, path, n);
        dir[n] = '\0';
    }
    struct stat sb;
    if (stat(dir, &sb) != 0) {
        int e = errno;
        if (e == ENOENT) return fail(-ENOENT, "dump directory '%s' does not exist", dir);
        if (e == ENOTDIR) return fail(-ENOTDIR, "dump directory '%s': not a directory", dir);
        if (e == EACCES) return fail(-EACCES, "dump directory '%s': permission denied", dir);
        return fail(-EIO, "dump directory '%s': %s", dir, errtext(e));
    }
    if (!S_ISDIR(sb.st_mode)) return fail(-ENOTDIR, "dump directory '%s' is not a directory", dir);
    if (access(dir, W_OK | X_OK) != 0) {
        int e = errno;
        return fail(-EACCES, "dump directory '%s' is not writable (%s)", dir, errtext(e));
    }
    return 0;
}

/* Builds <dir>/<prefix>.<pid>.<seq>.heap into out. prof_lock held. */
static int auto_name(const char *dir, unsigned seq, char *out, size_t len) {
    char cwd[sizeof(prof.dump_dir)];
    if (dir == NULL || dir[0] == '\0') {
        if (getcwd(cwd, sizeof(cwd)) == NULL)
            return fail(-EIO, "cannot name a dump: getcwd failed (%s)", errtext(errno));
        dir = cwd;
    }
    const char *sep = dir[strlen(dir) - 1] == '/' ? "" : "/";
    int n = snprintf(out, len, "%s%s%s.%d.%u.heap", dir, sep, DUMP_PREFIX, (int)getpid(), seq);
    if (n < 0 || (size_t)n >= len) return fail(-EINVAL, "dump path in '%s' is too long", dir);
    return 0;
}

/* The error of a failed open of dump file `name`, recorded. prof_lock held. */
static int open_failed(const char *name, int e) {
    if (e == ELOOP)
        return fail(-ELOOP, "dump path '%s' is a symbolic link: refused (links are never followed)",
                    name);
    if (e == EISDIR) return fail(-EIO, "dump path '%s' is a directory", name);
    if (e == EACCES || e == EPERM || e == EROFS)
        return fail(-EACCES, "cannot write dump '%s': %s", name, errtext(e));
    if (e == ENOENT || e == ENOTDIR)
        return fail(-e, "cannot write dump '%s': %s", name, errtext(e));
    if (e == ENXIO) return fail(-EINVAL, "dump path '%s' is not a regular file", name);
    return fail(-EIO, "cannot create dump '%s': %s", name, errtext(e));
}

/*
 * Opens the file a dump goes to, following no link at its name: an automatic name (path
 * NULL) is a new file at the first free sequence number from prof.seq on (advanced past
 * names that exist), an explicit path a new file or an existing regular file. The name
 * goes to name; *created says whether this call made the file. The descriptor or -errno.
 * prof_lock held.
 */
static int open_target(const char *path, const char *dir, char *name, size_t len, bool *created) {
    const int base = O_WRONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY;
    int fd = -1;
    *created = false;
    if (path == NULL) {
        for (unsigned i = 0; i < DUMP_NAME_TRIES; i++, prof.seq++) {
            int rc = auto_name(dir, prof.seq, name, len);
            if (rc != 0) return rc;
            if (i == 0) {
                rc = check_target(name);
                if (rc != 0) return rc;
            }
            fd = open(name, base | O_CREAT | O_EXCL, DUMP_MODE);
            if (fd >= 0) {
                *created = true;
                break;
            }
            if (errno != EEXIST) return open_failed(name, errno);
            ms_log(MS_LOG_INFO, "heap profiling: %s exists, trying the next number", name);
        }
        if (fd < 0)
            return fail(-EEXIST,
                        "no free dump name: %u names from %s on exist (the next dump tries "
                        "further on)",
                        DUMP_NAME_TRIES, name);
    } else {
        if (strlen(path) >= len) return fail(-EINVAL, "dump path is too long");
        memcpy(name, path, strlen(path) + 1);
        int rc = check_target(name);
        if (rc != 0) return rc;
        fd = open(name, base | O_CREAT | O_EXCL, DUMP_MODE);
        if (fd >= 0)
            *created = true;
        else if (errno == EEXIST) /* O_CREAT kept: fs.protected_regular still applies */
            fd = open(name, base | O_CREAT, DUMP_MODE);
        if (fd < 0) return open_failed(name, errno);
    }
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return fail(-EINVAL, "dump path '%s' is not a regular file", name);
    }
    return fd;
}

/* Removes the file this dump created at name, if name still is that file. */
static void remove_created(int fd, const char *name) {
    struct stat a, b;
    if (fstat(fd, &a) == 0 && lstat(name, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino)
        (void)unlink(name);
}

/*
 * Writes /proc/thread-self/fd/<fd> into out, after checking that it opens fd's inode
 * (procfs mounted, the magic link intact). 0 or -errno recorded. prof_lock held.
 */
static int fd_path(int fd, const char *name, char *out, size_t len) {
    static const char *const roots[] = {"/proc/thread-self/fd", "/proc/self/fd"};
    struct stat want, got;
    if (fstat(fd, &want) != 0) return fail(-EIO, "dump '%s': fstat: %s", name, errtext(errno));
    for (size_t i = 0; i < sizeof(roots) / sizeof(roots[0]); i++) {
        snprintf(out, len, "%s/%d", roots[i], fd);
        if (stat(out, &got) == 0 && got.st_dev == want.st_dev && got.st_ino == want.st_ino)
            return 0;
    }
    return fail(-EIO,
                "cannot write dump '%s': /proc is not mounted, and jemalloc must be handed "
                "the file through /proc/thread-self/fd",
                name);
}

/* jemalloc's prof.dump into the open file fd (named name, for messages). prof_lock held. */
static int write_dump(int fd, const char *name) {
    char via[64];
    int rc = fd_path(fd, name, via, sizeof(via));
    if (rc != 0) return rc;
    const char *arg = via;
    int saved_internal = ms_tls_internal;
    ms_tls_internal = 1;
    errno = 0;
    int je = mallctl("prof.dump", NULL, NULL, &arg, sizeof(arg));
    int e = errno;
    ms_tls_internal = saved_internal;
    /* jemalloc says EFAULT for everything; the errno of its open/write is the cause. */
    if (je == ENOENT) return fail(-ENOENT, "%s", unavailable_msg);
    if (je != 0 && (e == EACCES || e == EPERM || e == EROFS))
        return fail(-EACCES, "cannot write dump '%s': %s", name, errtext(e));
    if (je != 0)
        return fail(-EIO, "jemalloc could not write dump '%s'%s%s", name, e ? ": " : "",
                    e ? errtext(e) : "");
    return 0;
}

/* The dump itself; path NULL = automatic name in dir (NULL = the dump dir). prof_lock held. */
static int dump_locked(const char *path, const char *dir, char *out_path, size_t out_len) {
    if (out_path != NULL && out_len == 0) return fail(-EINVAL, "dump: out_len is 0");
    if (!prof_is_active())
        return fail(-EAGAIN,
                    "profiling is not active: enable it first with `memshim ctl %d heap "
                    "enable`, or start the program with `memshim run --prof` (MEMSHIM_PROF=1)",
                    (int)getpid());
    char name[sizeof(prof.last_dump)];
    bool automatic = path == NULL;
    if (!automatic && path[0] == '\0') return fail(-EINVAL, "dump: empty path");
    if (!automatic && strlen(path) >= sizeof(name)) return fail(-EINVAL, "dump path is too long");
    if (!automatic && out_path != NULL && strlen(path) >= out_len)
        return fail(-EINVAL, "dump: out_len %zu is too small for '%s'", out_len, path);
    bool created;
    int fd = open_target(path, dir != NULL ? dir : prof.dump_dir, name, sizeof(name), &created);
    if (fd < 0) return fd;
    size_t nlen = strlen(name);
    int rc = 0;
    if (out_path != NULL && nlen >= out_len)
        rc = fail(-EINVAL, "dump: out_len %zu is too small for '%s'", out_len, name);
    if (rc == 0) rc = write_dump(fd, name);
    if (rc != 0 && created) remove_created(fd, name);
    close(fd);
    if (rc != 0) return rc;
    if (automatic) prof.seq++;
    prof.dumps++;
    memcpy(prof.last_dump, name, nlen + 1);
    if (out_path != NULL) memcpy(out_path, name, nlen + 1);
    return 0;
}

MS_EXPORT int memshim_prof_dump(const char *path, char *out_path, size_t out_len) {
    if (!ensure_init()) return fail_unavailable();
    pthread_mutex_lock(&prof_lock);
    int rc = dump_locked(path, NULL, out_path, out_len);
    pthread_mutex_unlock(&prof_lock);
    return rc;
}

MS_EXPORT int memshim_prof_dump_in_dir(const char *dir, char *out_path, size_t out_len) {
    if (!ensure_init()) return fail_unavailable();
    pthread_mutex_lock(&prof_lock);
    int rc = dir != NULL && dir[0] == '\0' ? fail(-EINVAL, "dump: empty directory name")
                                           : dump_locked(NULL, dir, out_path, out_len);
    pthread_mutex_unlock(&prof_lock);
    return rc;
}

/*
 * jemalloc 5.3's prof.reset changes the rate but not the byte count this thread still
 * has to allocate before its next sample, which was drawn with the old rate (mean
 * 2^old_lg: 512 KiB by default). Lowered from 19 to 12, the first ~128 4-KiB
 * allocations after the reset would go unsampled, an under-count of varying size. One
 * allocation larger than that wait (2^(old_lg+5), at most 1 GiB of untouched address
 * space, freed at once) makes the sample event fire, and jemalloc draws the next wait
 * with the new rate. Other threads pick the new rate at their next sample.
 */
static void redraw_sample_wait(size_t old_lg) {
    size_t shift = old_lg + 5 < 30 ? old_lg + 5 : 30;
    void *p = mallocx((size_t)1 << shift, MALLOCX_TCACHE_NONE);
    if (p != NULL) dallocx(p, MALLOCX_TCACHE_NONE);
}

MS_EXPORT int memshim_prof_reset(int lg_sample) {
    if (!ensure_init()) return fail_unavailable();
    pthread_mutex_lock(&prof_lock);
    int rc = 0;
    if (lg_sample < -1 || lg_sample > 62) {
        rc = fail(-EINVAL, "reset: lg_sample %d is out of range (0..62, or -1 to keep)", lg_sample);
    } else {
        size_t old_lg = 0, lg = (size_t)lg_sample;
        (void)ms_je_get_size("prof.lg_sample", &old_lg);
        int je = lg_sample >= 0 ? mallctl("prof.reset", NULL, NULL, &lg, sizeof(lg))
                                : mallctl("prof.reset", NULL, NULL, NULL, 0);
        if (je != 0)
            rc = fail(-je, "prof.reset: jemalloc refused (%s)", errtext(je));
        else if (lg_sample >= 0 && lg < old_lg)
            redraw_sample_wait(old_lg);
    }
    pthread_mutex_unlock(&prof_lock);
    return rc;
}

MS_EXPORT int memshim_prof_status(memshim_prof_status_t *out) {
    if (out == NULL) return -EINVAL;
    memset(out, 0, sizeof(*out));
    out->available = ensure_init();
    size_t lg = 0;
    if (ms_je_get_size(out->available ? "prof.lg_sample" : "opt.lg_prof_sample", &lg) == 0)
        out->lg_sample = (unsigned)lg;
    out->active = out->available && prof_is_active();
    pthread_mutex_lock(&prof_lock);
    out->dumps = prof.dumps;
    memcpy(out->last_dump, prof.last_dump, sizeof(out->last_dump));
    out->last_error = prof.last_error;
    memcpy(out->last_errstr, prof.last_errstr, sizeof(out->last_errstr));
    memcpy(out->dump_dir, prof.dump_dir, sizeof(out->dump_dir));
    pthread_mutex_unlock(&prof_lock);
    int u = ms_prof_unwinder_current();
    out->unwinder = ms_prof_unwinder_name(u >= 0 ? u : MS_PROF_UNWIND_LIBGCC);
    return 0;
}

/* --- Peak profiles ---
 *
 * With prof.peak on, a watcher thread of the shim reads stats.allocated every
 * PEAK_POLL_MS and, when it exceeds the last peak by a step (a sixteenth, at least
 * PEAK_MIN_STEP), writes a dump to <dump_dir>/memshim.<pid>.peak.heap: into a new
 * temporary file (O_CREAT|O_EXCL|O_NOFOLLOW, as every dump) renamed over the name, so
 * the directory holds one peak profile however long the process runs, and a reader
 * never sees half a dump. jemalloc's own prof.gdump is not used: it dumps inside the
 * allocation that crossed the maximum (arena locks held, any thread, any signal mask), to
 * a new file each time, named by jemalloc. Dumps are rate-limited (at least PEAK_GAP_MS
 * apart, and at most a fifth of the time spent dumping), so a peak that lasts less than
 * a poll or falls within the gap is seen at its next higher value only, and a peak
 * within a step of a profile taken on the way up to it keeps that profile.
 */

#define PEAK_SUFFIX   "peak.heap"
#define PEAK_POLL_MS  10
#define PEAK_MIN_STEP ((size_t)1 << 20)
#define PEAK_GAP_MS   100
#define PEAK_RETRY_MS 1000

static struct {
    atomic_bool on;        /* prof.peak */
    atomic_bool started;   /* the watcher thread runs */
    _Atomic size_t bytes;  /* stats.allocated of the last peak dump */
    _Atomic uint64_t time; /* its unix time, seconds */
    _Atomic uint64_t dumps;
    char path[512]; /* prof_lock; "" before the first */
} peak;

static uint64_t mono_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Writes the peak profile (allocated: the figure that made it one). prof_lock held. */
static int peak_dump_locked(size_t allocated) {
    if (!prof_is_active()) return fail(-EAGAIN, "peak profile: profiling is not active");
    char final[sizeof(peak.path)], tmp[sizeof(peak.path) + 32], cwd[sizeof(prof.dump_dir)];
    const char *dir = prof.dump_dir;
    if (dir[0] == '\0') {
        if (getcwd(cwd, sizeof(cwd)) == NULL)
            return fail(-EIO, "cannot name the peak profile: getcwd failed (%s)", errtext(errno));
        dir = cwd;
    }
    const char *sep = dir[strlen(dir) - 1] == '/' ? "" : "/";
    int pid = (int)getpid();
    int n = snprintf(final, sizeof(final), "%s%s%s.%d.%s", dir, sep, DUMP_PREFIX, pid, PEAK_SUFFIX);
    if (n < 0 || (size_t)n >= sizeof(final))
        return fail(-EINVAL, "peak profile path in '%s' is too long", dir);
    int rc = check_target(final);
    if (rc != 0) return rc;
    const int flags = O_WRONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CREAT | O_EXCL;
    int fd = -1;
    for (unsigned i = 0; i < DUMP_NAME_TRIES && fd < 0; i++) {
        snprintf(tmp, sizeof(tmp), "%s%s.%s.%d.%s.%u.tmp", dir, sep, DUMP_PREFIX, pid, PEAK_SUFFIX,
                 i);
        fd = open(tmp, flags, DUMP_MODE);
        if (fd < 0 && errno != EEXIST) return open_failed(tmp, errno);
    }
    if (fd < 0) return fail(-EEXIST, "no free temporary name for the peak profile: %s", tmp);
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return fail(-EINVAL, "peak profile: '%s' is not a regular file", tmp);
    }
    rc = write_dump(fd, tmp);
    if (rc == 0 && rename(tmp, final) != 0)
        rc = fail(-EIO, "cannot replace the peak profile '%s': %s", final, errtext(errno));
    if (rc != 0) remove_created(fd, tmp);
    close(fd);
    if (rc != 0) return rc;
    memcpy(peak.path, final, strlen(final) + 1);
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    atomic_store(&peak.time, (uint64_t)now.tv_sec);
    atomic_store(&peak.bytes, allocated);
    atomic_fetch_add(&peak.dumps, 1);
    return 0;
}

static void *peak_main(void *arg) {
    (void)arg;
    ms_tls_internal = 1;
    const struct timespec poll = {0, PEAK_POLL_MS * 1000000L};
    uint64_t next_ok = 0;
    for (;;) {
        nanosleep(&poll, NULL);
        size_t allocated = 0;
        if (!atomic_load(&peak.on) || !prof_is_active() || ms_je_epoch() != 0 ||
            ms_je_get_size("stats.allocated", &allocated) != 0)
            continue;
        size_t have = atomic_load(&peak.bytes);
        size_t step = have / 16 > PEAK_MIN_STEP ? have / 16 : PEAK_MIN_STEP;
        if (allocated <= have || allocated - have <= step) continue;
        uint64_t start = mono_ms();
        if (start < next_ok) continue;
        pthread_mutex_lock(&prof_lock);
        int rc = peak_dump_locked(allocated);
        if (rc != 0) ms_log(MS_LOG_WARN, "peak profile not written: %s", prof.last_errstr);
        pthread_mutex_unlock(&prof_lock);
        uint64_t end = mono_ms(), gap = rc != 0 ? PEAK_RETRY_MS : 4 * (end - start);
        next_ok = end + (gap > PEAK_GAP_MS ? gap : PEAK_GAP_MS);
    }
    return NULL;
}

/* Starts the watcher once (signals blocked in it: they stay the program's). */
static int peak_start(void) {
    if (atomic_exchange(&peak.started, true)) return 0;
    int rc = ms_thread_spawn(peak_main, "memshim-peak");
    if (rc != 0) {
        atomic_store(&peak.started, false);
        ms_log(MS_LOG_WARN, "peak profiles: no watcher thread (%s)", errtext(rc));
        return -rc;
    }
    return 0;
}

MS_EXPORT int memshim_prof_peak(bool on) {
    if (!ensure_init()) return fail_unavailable();
    if (!on) {
        atomic_store(&peak.on, false);
        return 0;
    }
    int rc = peak_start();
    if (rc == 0) atomic_store(&peak.on, true);
    return rc;
}

MS_EXPORT int memshim_prof_peak_status(memshim_prof_peak_status_t *out) {
    if (out == NULL) return -EINVAL;
    memset(out, 0, sizeof(*out));
    out->enabled = atomic_load(&peak.on);
    pthread_mutex_lock(&prof_lock);
    out->peak_bytes = atomic_load(&peak.bytes);
    out->peak_time = atomic_load(&peak.time);
    out->dumps = atomic_load(&peak.dumps);
    memcpy(out->path, peak.path, sizeof(out->path));
    pthread_mutex_unlock(&prof_lock);
    return 0;
}

/* --- Start-up, exit and fork --- */

/* After config.c's constructor (101), which may already have run us through the env. */
__attribute__((constructor(102))) static void prof_init(void) {
    (void)ensure_init();
}

/*
 * MEMSHIM_DUMP_AT_EXIT: a destructor, not atexit() (jemalloc's prof_final registers
 * with atexit during its init, which the man page warns can deadlock). It runs after
 * the program's own atexit handlers and destructors, so the dump shows what is still
 * live at the very end. A dump in progress elsewhere is waited for, within a bound.
 */
__attribute__((destructor)) static void prof_exit_dump(void) {
    if (!prof.dump_at_exit || !prof.available) return;
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += EXIT_LOCK_WAIT_S;
    if (pthread_mutex_timedlock(&prof_lock, &until) != 0) {
        ms_log(MS_LOG_WARN, "heap dump at exit skipped: another dump did not finish");
        return;
    }
    char path[sizeof(prof.last_dump)];
    int rc = dump_locked(NULL, NULL, path, sizeof(path));
    if (rc == 0)
        ms_log(MS_LOG_INFO, "heap dump at exit: %s", path);
    else
        ms_log(MS_LOG_WARN, "heap dump at exit failed: %s", prof.last_errstr);
    pthread_mutex_unlock(&prof_lock);
}

void ms_prof_fork_prepare(void) {
    pthread_mutex_lock(&prof_lock);
}

void ms_prof_fork_parent(void) {
    pthread_mutex_unlock(&prof_lock);
}

void ms_prof_fork_child(void) {
    /* A new process: its own numbering and history (the pid in names is read per dump). */
    pthread_mutex_init(&prof_lock, NULL);
    prof.seq = 0;
    prof.dumps = 0;
    prof.last_dump[0] = '\0';
    prof.last_error = 0;
    prof.last_errstr[0] = '\0';
    /* The child's own peak (its pid names the file); its watcher starts anew. */
    atomic_store(&peak.started, false);
    atomic_store(&peak.bytes, 0);
    atomic_store(&peak.time, 0);
    atomic_store(&peak.dumps, 0);
    peak.path[0] = '\0';
    if (atomic_load(&peak.on) && peak_start() != 0) atomic_store(&peak.on, false);
}

/* --- Control-table handlers (rows in shim/ctl.c) --- */

int ms_ctl_prof_available_get(void *out) {
    *(bool *)out = ensure_init();
    return 0;
}

int ms_ctl_prof_active_get(void *out) {
    *(bool *)out = ensure_init() && prof_is_active();
    return 0;
}

int ms_ctl_prof_active_set(const void *in) {
    return set_active(*(const bool *)in);
}

int ms_ctl_prof_lg_sample_get(void *out) {
    memshim_prof_status_t st;
    memshim_prof_status(&st);
    *(uint64_t *)out = st.lg_sample;
    return 0;
}

int ms_ctl_prof_lg_sample_set(const void *in) {
    uint64_t v = *(const uint64_t *)in;
    return memshim_prof_reset(v > 62 ? 63 : (int)v);
}

int ms_ctl_prof_dump_set(const void *in) {
    return memshim_prof_dump(*(const char *const *)in, NULL, 0);
}

int ms_ctl_prof_reset_set(const void *in) {
    const char *arg = *(const char *const *)in;
    if (arg == NULL || arg[0] == '\0') return memshim_prof_reset(-1);
    uint64_t lg;
    if (ms_ctl_parse_value(MS_CTL_U64, arg, &lg, sizeof(lg)) != 0 || lg > 62)
        return memshim_prof_reset(63); /* records the range error */
    return memshim_prof_reset((int)lg);
}

int ms_ctl_prof_dump_dir_get(void *out) {
    *(const char **)out = prof.dump_dir;
    return 0;
}

int ms_ctl_prof_dump_dir_set(const void *in) {
    const char *s = *(const char *const *)in;
    if (s == NULL) s = "";
    size_t n = strlen(s);
    while (n > 1 && s[n - 1] == '/')
        n--;
    if (n >= sizeof(prof.dump_dir)) return -EINVAL;
    pthread_mutex_lock(&prof_lock);
    memcpy(prof.dump_dir, s, n);
    prof.dump_dir[n] = '\0';
    pthread_mutex_unlock(&prof_lock);
    return 0;
}

int ms_ctl_prof_dump_at_exit_get(void *out) {
    *(bool *)out = prof.dump_at_exit;
    return 0;
}

int ms_ctl_prof_dump_at_exit_set(const void *in) {
    pthread_mutex_lock(&prof_lock);
    prof.dump_at_exit = *(const bool *)in;
    pthread_mutex_unlock(&prof_lock);
    return 0;
}

int ms_ctl_prof_dumps_get(void *out) {
    pthread_mutex_lock(&prof_lock);
    *(uint64_t *)out = prof.dumps;
    pthread_mutex_unlock(&prof_lock);
    return 0;
}

int ms_ctl_prof_last_dump_get(void *out) {
    *(const char **)out = prof.last_dump;
    return 0;
}

int ms_ctl_prof_last_error_get(void *out) {
    *(const char **)out = prof.last_errstr;
    return 0;
}

int ms_ctl_prof_unwinder_get(void *out) {
    memshim_prof_status_t st;
    memshim_prof_status(&st);
    *(const char **)out = st.unwinder;
    return 0;
}

int ms_ctl_prof_unwinder_set(const void *in) {
    int which = ms_prof_unwinder_parse(*(const char *const *)in);
    if (which < 0) return -EINVAL;
    if (!ensure_init()) return fail_unavailable();
    pthread_mutex_lock(&prof_lock);
    int rc = ms_prof_unwinder_select(which);
    if (rc != 0) rc = fail(rc, "cannot install the %s unwinder", ms_prof_unwinder_name(which));
    pthread_mutex_unlock(&prof_lock);
    return rc;
}

int ms_ctl_prof_peak_get(void *out) {
    *(bool *)out = atomic_load(&peak.on);
    return 0;
}

int ms_ctl_prof_peak_set(const void *in) {
    return memshim_prof_peak(*(const bool *)in);
}

int ms_ctl_prof_peak_bytes_get(void *out) {
    *(size_t *)out = atomic_load(&peak.bytes);
    return 0;
}

int ms_ctl_prof_peak_time_get(void *out) {
    *(uint64_t *)out = atomic_load(&peak.time);
    return 0;
}

int ms_ctl_prof_peak_dumps_get(void *out) {
    *(uint64_t *)out = atomic_load(&peak.dumps);
    return 0;
}

int ms_ctl_prof_peak_path_get(void *out) {
    *(const char **)out = peak.path;
    return 0;
}
