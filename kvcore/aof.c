/* SPDX-License-Identifier: MIT */
/*
 * aof.c - the append-only file as Redis 7.0 keeps it: a directory (appenddirname) with a
 * base file, incremental files and a manifest naming them; commands are appended to the
 * newest incremental file, and BGREWRITEAOF replaces base + increments with a new base.
 *
 * Writing: propagated commands collect in a buffer that is written before any reply
 * leaves the server (kv_aof_before_reply, before_sleep), so an acknowledged write is in
 * the kernel; appendfsync always also fdatasyncs there (a failed write or fsync then
 * ends the process, as Redis: the reply could not be taken back); everysec hands an
 * fsync to a background thread at most once a second; no leaves it to the kernel. A
 * failed write under everysec/no keeps the buffer, retries every cron tick, and refuses
 * write commands with MISCONF until a write succeeds.
 * Rewriting: the parent opens a new incremental file and records it in the manifest,
 * then forks; the child writes the dataset as commands (aof_rewrite.c) to a temporary
 * file; when it succeeds the parent renames it to the next base, and the old base and
 * increments become history and are deleted. Design: docs/kvcore.md#append-only-file.
 */
#include "kv_internal.h"
#include "aof.h"
#include "rdb.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "memshim.h"

enum { AOF_OFF, AOF_ON, AOF_WAIT_REWRITE };

#define PATH_BYTES 4096

static struct {
    int state;
    int fd; /* the newest incremental file, -1 when none is open */
    int selected_db;
    char *buf;
    size_t len, cap;
    kv_aof_manifest_t mf;
    long long current_size, base_size, last_incr_size, rewrite_base_size;
    long long fsynced_incr_size; /* last_incr_size when an fsync was last requested */
    /* rewrite */
    pid_t child;
    bool child_rdb; /* the running rewrite writes an RDB base */
    int64_t rewrite_start_ms;
    long long first_incr_seq; /* the increment the running rewrite's base precedes */
    long long last_rewrite_secs;
    bool last_bgrewrite_ok;
    long long rewrites, consecutive_failures;
    bool scheduled;
    int64_t last_rewrite_try_ms;
    /* errors */
    bool write_ok;
    int write_errno;
    int64_t last_fsync_ms, flush_postponed_ms;
    long long delayed_fsync;
} aof = {.fd = -1,
         .selected_db = -1,
         .last_rewrite_secs = -1,
         .last_bgrewrite_ok = true,
         .write_ok = true};

/* Every change of aof.state goes through here: MISCONF's gate bit follows it. */
static void set_state(int state) {
    aof.state = state;
    kv_cmd_gate_set(KV_GATE_AOF, state != AOF_OFF);
}

/* --- The fsync thread (everysec, and closing replaced files without blocking) --- */

#define BIO_QUEUE 64

static struct {
    pthread_t thread;
    bool started, stop;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct {
        int fd;
        bool close;
    } q[BIO_QUEUE];
    int head, n;
    int pending; /* queued or running fsyncs */
    int err;     /* errno of the last failed fsync, 0 after a good one */
} bio = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

static void *bio_main(void *arg) {
    (void)arg;
    pthread_mutex_lock(&bio.mu);
    for (;;) {
        while (bio.n == 0 && !bio.stop)
            pthread_cond_wait(&bio.cv, &bio.mu);
        if (bio.n == 0) break;
        int fd = bio.q[bio.head].fd;
        bool do_close = bio.q[bio.head].close;
        pthread_mutex_unlock(&bio.mu);
        int rc = fdatasync(fd) == 0 ? 0 : errno;
        if (do_close) close(fd);
        pthread_mutex_lock(&bio.mu);
        bio.head = (bio.head + 1) % BIO_QUEUE;
        bio.n--;
        bio.pending--;
        bio.err = rc == EBADF || rc == EINVAL ? bio.err : rc;
    }
    pthread_mutex_unlock(&bio.mu);
    return NULL;
}

static int bio_start(void) {
    if (bio.started) return 0;
    bio.stop = false;
    int rc = pthread_create(&bio.thread, NULL, bio_main, NULL);
    if (rc != 0) return -rc;
    bio.started = true;
    return 0;
}

/* Queues an fsync of fd (and its close); done here and now when the queue is full. */
static void bio_submit(int fd, bool close_after) {
    pthread_mutex_lock(&bio.mu);
    if (!bio.started || bio.n == BIO_QUEUE) {
        pthread_mutex_unlock(&bio.mu);
        int rc = fdatasync(fd) == 0 ? 0 : errno;
        if (close_after) close(fd);
        pthread_mutex_lock(&bio.mu);
        bio.err = rc;
        pthread_mutex_unlock(&bio.mu);
        return;
    }
    bio.q[(bio.head + bio.n) % BIO_QUEUE].fd = fd;
    bio.q[(bio.head + bio.n) % BIO_QUEUE].close = close_after;
    bio.n++;
    bio.pending++;
    pthread_cond_signal(&bio.cv);
    pthread_mutex_unlock(&bio.mu);
}

static int bio_pending(void) {
    pthread_mutex_lock(&bio.mu);
    int n = bio.pending;
    pthread_mutex_unlock(&bio.mu);
    return n;
}

static int bio_error(void) {
    pthread_mutex_lock(&bio.mu);
    int e = bio.err;
    pthread_mutex_unlock(&bio.mu);
    return e;
}

static void bio_stop(void) {
    if (!bio.started) return;
    pthread_mutex_lock(&bio.mu);
    bio.stop = true;
    pthread_cond_signal(&bio.cv);
    pthread_mutex_unlock(&bio.mu);
    pthread_join(bio.thread, NULL);
    bio.started = false;
}

/* The exits Redis makes on an AOF it cannot keep (appendfsync always, DEBUG LOADAOF):
 * status 1, without exit handlers: the dataset is not freed, nothing is saved. */
static void aof_exit(void) {
    _exit(1);
}

/* --- Paths and the manifest on disk --- */

static void dir_path(char *out) {
    snprintf(out, PATH_BYTES, "%s", kv_srv.cfg.appenddirname);
}

static void file_path(char *out, const char *name) {
    if (snprintf(out, PATH_BYTES, "%s/%s", kv_srv.cfg.appenddirname, name) >= PATH_BYTES)
        out[0] = '\0'; /* too long: opening "" fails with ENOENT */
}

static void manifest_path(char *out, bool temp) {
    snprintf(out, PATH_BYTES, "%s/%s%s.manifest", kv_srv.cfg.appenddirname, temp ? "temp-" : "",
             kv_srv.cfg.appendfilename);
}

static void fsync_dir(void) {
    char d[PATH_BYTES];
    dir_path(d);
    int fd = open(d, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return;
    fsync(fd);
    close(fd);
}

static long long file_size(const char *name) {
    char p[PATH_BYTES];
    struct stat st;
    file_path(p, name);
    return stat(p, &st) == 0 ? (long long)st.st_size : 0;
}

/* Writes the manifest through a temporary file and rename. 0 or -errno (logged). */
static int manifest_persist(const kv_aof_manifest_t *m) {
    size_t len;
    char *text = kv_aof_manifest_format(m, &len);
    if (text == NULL) return -ENOMEM;
    char tmp[PATH_BYTES], final[PATH_BYTES];
    manifest_path(tmp, true);
    manifest_path(final, false);
    int rc = 0;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) rc = -errno;
    for (size_t off = 0; rc == 0 && off < len;) {
        ssize_t n = write(fd, text + off, len - off);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) rc = n < 0 ? -errno : -ENOSPC;
        if (n > 0) off += (size_t)n;
    }
    if (rc == 0 && fsync(fd) != 0) rc = -errno;
    if (fd >= 0) close(fd);
    if (rc == 0 && rename(tmp, final) != 0) rc = -errno;
    free(text);
    if (rc != 0) {
        kv_log(KV_LOG_WARNING, "Can't persist the AOF manifest file %s: %s", final, strerror(-rc));
        unlink(tmp);
        return rc;
    }
    fsync_dir();
    return 0;
}

/* Reads the manifest: 0, -ENOENT (none yet) or another -errno (logged). */
static int manifest_load(kv_aof_manifest_t *m) {
    char p[PATH_BYTES];
    manifest_path(p, false);
    memset(m, 0, sizeof(*m));
    FILE *f = fopen(p, "r");
    if (f == NULL) {
        if (errno == ENOENT) return -ENOENT;
        kv_log(KV_LOG_WARNING, "Fatal error: can't open the AOF manifest %s for reading: %s", p,
               strerror(errno));
        return -errno;
    }
    char *text = NULL;
    size_t cap = 0, len = 0;
    for (;;) {
        if (cap - len < 4096) {
            char *n = realloc(text, cap + 65536);
            if (n == NULL) break;
            text = n;
            cap += 65536;
        }
        size_t got = fread(text + len, 1, cap - len, f);
        len += got;
        if (got == 0) break;
    }
    fclose(f);
    if (text == NULL) return -ENOMEM;
    const char *err = NULL;
    int rc = kv_aof_manifest_parse(m, text, len, &err);
    free(text);
    if (rc == -EPROTO) kv_log(KV_LOG_WARNING, "%s: %s", err, p);
    return rc;
}

static void manifest_replace(kv_aof_manifest_t *with) {
    kv_aof_manifest_fini(&aof.mf);
    aof.mf = *with;
}

/* A copy of the current manifest. 0 or -ENOMEM. */
static int manifest_copy(kv_aof_manifest_t *out) {
    memset(out, 0, sizeof(*out));
    for (size_t i = 0; i < aof.mf.nfiles; i++) {
        const kv_aof_file_t *f = &aof.mf.files[i];
        if (kv_aof_manifest_add(out, f->name, f->seq, f->type) != 0) {
            kv_aof_manifest_fini(out);
            return -ENOMEM;
        }
    }
    out->base_seq = aof.mf.base_seq;
    out->incr_seq = aof.mf.incr_seq;
    return 0;
}

/* Deletes the history files and drops them from the manifest. */
static void delete_history(void) {
    bool any = false;
    for (size_t i = 0; i < aof.mf.nfiles; i++) {
        kv_aof_file_t *f = &aof.mf.files[i];
        if (f->type != 'h') continue;
        char p[PATH_BYTES];
        file_path(p, f->name);
        kv_log(KV_LOG_NOTICE, "Removing the history file %s in the background", f->name);
        unlink(p);
        any = true;
    }
    if (!any) return;
    size_t o = 0;
    for (size_t i = 0; i < aof.mf.nfiles; i++) {
        if (aof.mf.files[i].type == 'h')
            free(aof.mf.files[i].name);
        else
            aof.mf.files[o++] = aof.mf.files[i];
    }
    aof.mf.nfiles = o;
    manifest_persist(&aof.mf);
}

/* --- Opening files --- */

static int create_file(const char *name, bool append_existing) {
    char p[PATH_BYTES];
    file_path(p, name);
    int flags = O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | (append_existing ? 0 : O_TRUNC);
    int fd = open(p, flags, 0644);
    if (fd < 0) {
        int e = errno;
        kv_log(KV_LOG_WARNING, "Can't open the append-only file %s: %s", name, strerror(e));
        return -e;
    }
    return fd;
}

/* Switches appending to fd (the old file is fsynced and closed in the background). */
static void switch_fd(int fd) {
    if (aof.fd >= 0) bio_submit(aof.fd, true);
    aof.fd = fd;
    aof.selected_db = -1;
    aof.last_incr_size = aof.fsynced_incr_size = 0;
}

/* Opens the next incremental file and records it in the manifest. 0 or -errno. */
static int open_new_incr(void) {
    char name[PATH_BYTES];
    long long seq = aof.mf.incr_seq + 1;
    snprintf(name, sizeof(name), "%s.%lld.incr.aof", kv_srv.cfg.appendfilename, seq);
    int fd = create_file(name, false);
    if (fd < 0) return fd;
    kv_aof_manifest_t m;
    int rc = manifest_copy(&m);
    if (rc == 0) rc = kv_aof_manifest_add(&m, name, seq, 'i');
    if (rc == 0) rc = manifest_persist(&m);
    if (rc != 0) {
        kv_aof_manifest_fini(&m);
        close(fd);
        char p[PATH_BYTES];
        file_path(p, name);
        unlink(p);
        return rc;
    }
    manifest_replace(&m);
    switch_fd(fd);
    return 0;
}

/* While AOF is being turned on: commands go to a file outside the manifest until the
 * first base exists (a crash meanwhile must not replay them over an old base). */
static void temp_incr_name(char *out) {
    snprintf(out, PATH_BYTES, "temp-%s.incr", kv_srv.cfg.appendfilename);
}

static int open_temp_incr(void) {
    char name[PATH_BYTES];
    temp_incr_name(name);
    int fd = create_file(name, false);
    if (fd < 0) return fd;
    switch_fd(fd);
    return 0;
}

/* The dataset as a new base, synchronously (start-up with no AOF yet). 0 or -errno. */
static int write_base_now(const char *why) {
    char name[PATH_BYTES], p[PATH_BYTES];
    long long seq = aof.mf.base_seq + 1;
    bool rdb = kv_srv.cfg.aof_use_rdb_preamble;
    snprintf(name, sizeof(name), "%s.%lld.base.%s", kv_srv.cfg.appendfilename, seq,
             rdb ? "rdb" : "aof");
    int fd = create_file(name, false);
    if (fd < 0) return fd;
    unsigned long long bytes = 0;
    int rc = kv_aof_write_base(fd, rdb, &bytes);
    close(fd);
    kv_aof_manifest_t m;
    if (rc == 0) rc = manifest_copy(&m);
    if (rc == 0) {
        for (size_t i = 0; i < m.nfiles; i++)
            if (m.files[i].type == 'b') m.files[i].type = 'h';
        rc = kv_aof_manifest_add(&m, name, seq, 'b');
        if (rc == 0) rc = manifest_persist(&m);
        if (rc == 0)
            manifest_replace(&m);
        else
            kv_aof_manifest_fini(&m);
    }
    if (rc != 0) {
        file_path(p, name);
        unlink(p);
        kv_log(KV_LOG_WARNING, "Can't create the AOF base file %s: %s", name, strerror(-rc));
        return rc;
    }
    kv_log(KV_LOG_NOTICE, "Creating AOF base file %s on %s", name, why);
    aof.base_size = (long long)bytes;
    return 0;
}

/* --- Feeding and writing --- */

bool kv_aof_wants_feed(void) {
    /* While AOF is being turned on, only what follows the rewrite's fork is wanted: the
     * base the child writes holds everything before it. */
    if (kv_srv.loading) return false;
    return aof.state == AOF_ON || (aof.state == AOF_WAIT_REWRITE && aof.child > 0);
}

static void buf_append(const char *p, size_t len) {
    if (aof.cap - aof.len < len) {
        size_t ncap = aof.cap ? aof.cap : 16384;
        while (ncap - aof.len < len)
            ncap *= 2;
        char *n = realloc(aof.buf, ncap);
        if (n == NULL) {
            kv_aof_feed_failed(ENOMEM);
            return;
        }
        aof.buf = n;
        aof.cap = ncap;
    }
    memcpy(aof.buf + aof.len, p, len);
    aof.len += len;
}

void kv_aof_feed(int dbid, const char *cmd, size_t len) {
    if (!kv_aof_wants_feed()) return;
    if (dbid >= 0 && dbid != aof.selected_db) {
        char sel[64], num[24];
        size_t nl = kv_ll2str(num, dbid);
        int n = snprintf(sel, sizeof(sel), "*2\r\n$6\r\nSELECT\r\n$%zu\r\n%s\r\n", nl, num);
        buf_append(sel, (size_t)n);
        aof.selected_db = dbid;
    }
    buf_append(cmd, len);
}

void kv_aof_feed_failed(int err) {
    kv_log(KV_LOG_WARNING, "Could not record a command in the AOF: %s", strerror(err));
    if (kv_srv.cfg.appendfsync == KV_AOF_FSYNC_ALWAYS) {
        kv_log(KV_LOG_WARNING, "Can't recover from AOF write error when the AOF fsync policy is "
                               "'always'. Exiting...");
        aof_exit();
    }
    aof.write_ok = false;
    aof.write_errno = err;
}

/* write(2) until done or an error: the bytes written. */
static ssize_t write_all(int fd, const char *p, size_t len) {
    size_t done = 0;
    while (done < len) {
        ssize_t n = write(fd, p + done, len - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return done > 0 ? (ssize_t)done : n;
        done += (size_t)n;
    }
    return (ssize_t)done;
}

static void write_failed(ssize_t n) {
    static int64_t last_log_ms;
    int64_t now = kv_mstime();
    bool log = now - last_log_ms > 30000;
    if (log) last_log_ms = now;
    if (n < 0) {
        aof.write_errno = errno;
        if (log) kv_log(KV_LOG_WARNING, "Error writing to the AOF file: %s", strerror(errno));
    } else {
        if (log)
            kv_log(KV_LOG_WARNING,
                   "Short write while writing to the AOF file: (nwritten=%lld, expected=%lld)",
                   (long long)n, (long long)aof.len);
        /* Take the partial command back out so the file stays loadable. */
        if (ftruncate(aof.fd, aof.last_incr_size) == 0) n = 0;
        aof.write_errno = ENOSPC;
    }
    if (kv_srv.cfg.appendfsync == KV_AOF_FSYNC_ALWAYS) {
        kv_log(KV_LOG_WARNING, "Can't recover from AOF write error when the AOF fsync policy is "
                               "'always'. Exiting...");
        aof_exit();
    }
    aof.write_ok = false;
    if (n > 0) {
        memmove(aof.buf, aof.buf + n, aof.len - (size_t)n);
        aof.len -= (size_t)n;
        aof.current_size += n;
        aof.last_incr_size += n;
    }
}

static void maybe_background_fsync(int64_t now) {
    if (kv_srv.cfg.appendfsync != KV_AOF_FSYNC_EVERYSEC || aof.fd < 0) return;
    if (aof.fsynced_incr_size == aof.last_incr_size || now - aof.last_fsync_ms < 1000) return;
    if (kv_srv.cfg.no_appendfsync_on_rewrite && aof.child > 0) return;
    if (bio_pending() == 0) {
        bio_submit(aof.fd, false);
        aof.fsynced_incr_size = aof.last_incr_size;
    }
    aof.last_fsync_ms = now;
}

void kv_aof_flush(bool force) {
    if (aof.state == AOF_OFF || aof.fd < 0) return;
    int64_t now = kv_mstime();
    if (aof.len == 0) {
        maybe_background_fsync(now);
        return;
    }
    if (kv_srv.cfg.appendfsync == KV_AOF_FSYNC_EVERYSEC && !force && bio_pending() > 0) {
        /* An fsync is running: a write now could block behind it. Wait up to 2 s. */
        if (aof.flush_postponed_ms == 0) aof.flush_postponed_ms = now;
        if (now - aof.flush_postponed_ms < 2000) return;
        aof.delayed_fsync++;
        kv_log(KV_LOG_NOTICE, "Asynchronous AOF fsync is taking too long (disk is busy?). Writing "
                              "the AOF buffer without waiting for fsync to complete, this may "
                              "slow down Redis.");
    }
    aof.flush_postponed_ms = 0;
    ssize_t n = write_all(aof.fd, aof.buf, aof.len);
    if (n != (ssize_t)aof.len) {
        write_failed(n);
        return;
    }
    if (!aof.write_ok) {
        kv_log(KV_LOG_WARNING, "AOF write error looks solved, Redis can write again.");
        aof.write_ok = true;
    }
    aof.current_size += n;
    aof.last_incr_size += n;
    aof.len = 0;
    if (aof.cap > 4 * 65536) {
        free(aof.buf);
        aof.buf = NULL;
        aof.cap = 0;
    }
    if (kv_srv.cfg.appendfsync == KV_AOF_FSYNC_ALWAYS) {
        if (fdatasync(aof.fd) != 0) {
            kv_log(KV_LOG_WARNING,
                   "Can't persist AOF for fsync error when the AOF fsync policy is 'always': %s. "
                   "Exiting...",
                   strerror(errno));
            aof_exit();
        }
        aof.fsynced_incr_size = aof.last_incr_size;
        aof.last_fsync_ms = now;
        return;
    }
    maybe_background_fsync(now);
}

void kv_aof_before_reply(void) {
    if (aof.len > 0) kv_aof_flush(false);
}

bool kv_aof_refuses(kv_client_t *c, const kv_cmd_t *cmd) {
    if (aof.state == AOF_OFF) return false;
    int err = aof.write_ok ? bio_error() : aof.write_errno;
    if (err == 0) return false;
    if (!(kv_multi_cmd_flags(c, cmd) & KV_CMD_WRITE) && cmd->fn != kv_cmd_ping) return false;
    char msg[256];
    snprintf(msg, sizeof(msg), "MISCONF Errors writing to the AOF file: %s", strerror(err));
    kv_multi_reject(c, cmd, msg); /* EXEC of queued writes: EXECABORT (multi.c) */
    return true;
}

/* --- Rewrite --- */

static void temp_rewrite_name(char *out, pid_t pid) {
    snprintf(out, PATH_BYTES, "%s/temp-rewriteaof-bg-%d.aof", kv_srv.cfg.appenddirname, (int)pid);
}

/* The child: the dataset as commands into its temporary file. Never returns. */
static void rewrite_child(void) {
    char p[PATH_BYTES];
    temp_rewrite_name(p, getpid());
    /* Quiet in the shim, as a BGSAVE child (persist.c): no control socket of its own, no
     * failure injection, no heap-profile dumps. */
    (void)memshim_ctl_set_str("ctl.enable", "false");
    (void)memshim_ctl_set_str("inject.reset", "1");
    (void)memshim_ctl_set_str("prof.peak", "false");
    (void)memshim_ctl_set_str("prof.dump_at_exit", "false");
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) _exit(1);
    int rc = kv_aof_write_base(fd, aof.child_rdb, NULL);
    close(fd);
    _exit(rc == 0 ? 0 : 1);
}

/* Starts BGREWRITEAOF. 0, -EINPROGRESS or -errno (logged). */
static int rewrite_start(void) {
    if (aof.child > 0) return -EINPROGRESS;
    if (kv_persist_child_pid() > 0) { /* one child at a time, as Redis: the cron starts it */
        aof.scheduled = true;
        return 0;
    }
    char d[PATH_BYTES];
    dir_path(d);
    if (mkdir(d, 0755) != 0 && errno != EEXIST) {
        int e = errno;
        kv_log(KV_LOG_WARNING, "Can't create the append-only directory %s: %s", d, strerror(e));
        return -e;
    }
    aof.last_rewrite_try_ms = kv_mstime();
    kv_aof_flush(true);
    if (aof.state == AOF_WAIT_REWRITE) aof.len = 0; /* all of it is in the coming snapshot */
    if (aof.len > 0) {
        /* What could not be written belongs before the fork: in the new increment it would
         * replay twice over the new base. */
        kv_log(KV_LOG_WARNING, "Can't rewrite append only file in background: the AOF buffer "
                               "could not be written");
        return -EIO;
    }
    int rc = aof.state == AOF_ON             ? open_new_incr()
             : aof.state == AOF_WAIT_REWRITE ? open_temp_incr()
                                             : 0;
    if (rc != 0) return rc;
    aof.first_incr_seq = aof.mf.incr_seq + (aof.state == AOF_ON ? 0 : 1);
    aof.child_rdb = kv_srv.cfg.aof_use_rdb_preamble;
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        kv_log(KV_LOG_WARNING, "Can't rewrite append only file in background: fork: %s",
               strerror(e));
        return -e;
    }
    if (pid == 0) rewrite_child();
    aof.child = pid;
    aof.rewrite_start_ms = kv_mstime();
    aof.scheduled = false;
    kv_defrag_cron(&kv_srv, NULL); /* stops a defrag cycle now: pages stay shared */
    kv_log(KV_LOG_NOTICE, "Background append only file rewriting started by pid %d", (int)pid);
    return 0;
}

static void rewrite_failed(const char *why) {
    char p[PATH_BYTES];
    temp_rewrite_name(p, aof.child);
    unlink(p);
    kv_log(KV_LOG_WARNING, "Background AOF rewrite %s", why);
    aof.last_bgrewrite_ok = false;
    aof.consecutive_failures++;
    if (aof.state == AOF_WAIT_REWRITE) aof.scheduled = true; /* retried by the cron */
}

/* The child succeeded: its file becomes the base, the older files history. */
static void rewrite_done(void) {
    char tmp[PATH_BYTES], name[PATH_BYTES], p[PATH_BYTES];
    temp_rewrite_name(tmp, aof.child);
    long long seq = aof.mf.base_seq + 1;
    snprintf(name, sizeof(name), "%s.%lld.base.%s", kv_srv.cfg.appendfilename, seq,
             aof.child_rdb ? "rdb" : "aof");
    file_path(p, name);
    kv_aof_manifest_t m;
    if (manifest_copy(&m) != 0) {
        rewrite_failed("failed: out of memory");
        return;
    }
    for (size_t i = 0; i < m.nfiles; i++)
        if (m.files[i].type == 'b' ||
            (m.files[i].type == 'i' && m.files[i].seq < aof.first_incr_seq))
            m.files[i].type = 'h';
    char tincr[PATH_BYTES], incr[PATH_BYTES], tincr_p[PATH_BYTES], incr_p[PATH_BYTES];
    bool wait = aof.state == AOF_WAIT_REWRITE;
    long long iseq = m.incr_seq + 1;
    temp_incr_name(tincr);
    snprintf(incr, sizeof(incr), "%s.%lld.incr.aof", kv_srv.cfg.appendfilename, iseq);
    file_path(tincr_p, tincr);
    file_path(incr_p, incr);
    bool ok = rename(tmp, p) == 0 && kv_aof_manifest_add(&m, name, seq, 'b') == 0;
    if (ok && wait)
        ok = rename(tincr_p, incr_p) == 0 && kv_aof_manifest_add(&m, incr, iseq, 'i') == 0;
    if (!ok || manifest_persist(&m) != 0) {
        kv_aof_manifest_fini(&m);
        unlink(p);
        if (wait) rename(incr_p, tincr_p);
        rewrite_failed("failed: can't install the new base file");
        return;
    }
    manifest_replace(&m);
    kv_log(KV_LOG_NOTICE,
           "Successfully renamed the temporary AOF base file temp-rewriteaof-bg-%d.aof into %s",
           (int)aof.child, name);
    delete_history();
    aof.base_size = file_size(name);
    aof.current_size = aof.base_size;
    for (size_t i = 0; i < aof.mf.nfiles; i++)
        if (aof.mf.files[i].type == 'i') aof.current_size += file_size(aof.mf.files[i].name);
    aof.rewrite_base_size = aof.current_size;
    aof.last_bgrewrite_ok = true;
    aof.rewrites++;
    aof.consecutive_failures = 0;
    if (aof.state == AOF_WAIT_REWRITE) {
        set_state(AOF_ON);
        kv_log(KV_LOG_NOTICE, "AOF rewrite done, AOF is now on");
    }
    kv_log(KV_LOG_NOTICE, "Background AOF rewrite finished successfully");
}

static void rewrite_check_child(void) {
    if (aof.child <= 0) return;
    int st;
    pid_t r = waitpid(aof.child, &st, WNOHANG);
    if (r == 0 || (r < 0 && errno == EINTR)) return;
    aof.last_rewrite_secs = (kv_mstime() - aof.rewrite_start_ms) / 1000;
    if (r == aof.child && WIFEXITED(st) && WEXITSTATUS(st) == 0) {
        kv_log(KV_LOG_NOTICE, "Background AOF rewrite terminated with success");
        rewrite_done();
    } else if (r == aof.child && WIFSIGNALED(st)) {
        rewrite_failed("terminated by signal");
    } else {
        rewrite_failed("terminated with error");
    }
    aof.child = 0;
}

static void rewrite_kill_child(void) {
    if (aof.child <= 0) return;
    kill(aof.child, SIGUSR1);
    waitpid(aof.child, NULL, 0);
    char p[PATH_BYTES];
    temp_rewrite_name(p, aof.child);
    unlink(p);
    aof.child = 0;
}

pid_t kv_aof_child_pid(void) {
    return aof.child;
}

void kv_cmd_bgrewriteaof(kv_client_t *c) {
    if (aof.child > 0) {
        kv_reply_error(c, "ERR Background append only file rewriting already in progress");
        return;
    }
    if (kv_persist_child_pid() > 0 || (c->flags & KV_CLIENT_EXEC)) {
        aof.scheduled = true;
        aof.consecutive_failures = 0;
        kv_reply_status(c, "Background append only file rewriting scheduled");
        return;
    }
    if (rewrite_start() != 0) {
        kv_reply_error(c, "ERR Can't execute an AOF background rewriting. Please check the server "
                          "logs for more information.");
        return;
    }
    kv_reply_status(c, "Background append only file rewriting started");
}

/* --- The cron, start-up, CONFIG SET, shutdown --- */

static void aof_cron(kv_server_t *srv, void *priv) {
    (void)srv;
    (void)priv;
    rewrite_check_child();
    int64_t now = kv_mstime();
    if (aof.state == AOF_OFF) {
        if (aof.scheduled && aof.child <= 0 && kv_persist_child_pid() <= 0 &&
            now - aof.last_rewrite_try_ms >= 1000)
            rewrite_start();
        return;
    }
    if (!aof.write_ok || aof.flush_postponed_ms) kv_aof_flush(false); /* retry */
    kv_aof_flush(false);
    if (aof.child > 0 || kv_persist_child_pid() > 0) return;
    if (aof.scheduled && now - aof.last_rewrite_try_ms >= 1000) {
        rewrite_start();
        return;
    }
    int perc = kv_srv.cfg.auto_aof_rewrite_perc;
    if (aof.state == AOF_ON && perc > 0 &&
        aof.current_size > (long long)kv_srv.cfg.auto_aof_rewrite_min_size &&
        now - aof.last_rewrite_try_ms >= 1000) {
        long long base = aof.rewrite_base_size ? aof.rewrite_base_size : 1;
        long long growth = aof.current_size * 100 / base - 100;
        if (growth >= perc) {
            kv_log(KV_LOG_NOTICE, "Starting automatic rewriting of AOF on %lld%% growth", growth);
            rewrite_start();
        }
    }
}

static int load_all(void) {
    long long total = 0;
    size_t n = aof.mf.nfiles, last = 0;
    for (size_t i = 0; i < n; i++)
        if (aof.mf.files[i].type != 'h') last = i;
    int64_t start = kv_mstime();
    const kv_aof_file_t *base = kv_aof_manifest_base(&aof.mf);
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < n; i++) {
            const kv_aof_file_t *f = &aof.mf.files[i];
            if (f->type != (pass == 0 ? 'b' : 'i')) continue;
            char p[PATH_BYTES];
            off_t valid;
            file_path(p, f->name);
            int rc = kv_aof_load_file(p, i == last, &valid);
            if (rc != 0) return rc;
            total += (long long)valid;
            if (f == base) aof.base_size = (long long)valid;
            if (f->type == 'i' && i == last) aof.last_incr_size = (long long)valid;
            kv_log(KV_LOG_NOTICE, "DB loaded from %s file %s: %.3f seconds",
                   f->type == 'b' ? "base" : "incr", f->name, (double)(kv_mstime() - start) / 1000);
        }
    }
    aof.current_size = aof.rewrite_base_size = total;
    kv_log(KV_LOG_NOTICE, "DB loaded from append only file: %.3f seconds",
           (double)(kv_mstime() - start) / 1000);
    return 0;
}

/* Opens the newest incremental file for appending, creating base/incr as needed. */
static int open_for_append(const char *why) {
    const kv_aof_file_t *last = NULL;
    for (size_t i = 0; i < aof.mf.nfiles; i++)
        if (aof.mf.files[i].type == 'i') last = &aof.mf.files[i];
    if (kv_aof_manifest_base(&aof.mf) == NULL && last == NULL) {
        int rc = write_base_now(why);
        if (rc != 0) return rc;
        aof.current_size = aof.rewrite_base_size = aof.base_size;
    }
    if (last == NULL) {
        int rc = open_new_incr();
        if (rc == 0)
            kv_log(KV_LOG_NOTICE, "Creating AOF incr file %s.%lld.incr.aof on %s",
                   kv_srv.cfg.appendfilename, aof.mf.incr_seq, why);
        return rc;
    }
    int fd = create_file(last->name, true);
    if (fd < 0) return fd;
    switch_fd(fd);
    aof.last_incr_size = aof.fsynced_incr_size = file_size(last->name);
    return 0;
}

int kv_aof_startup(void) {
    static bool hooked;
    if (!hooked && kv_cron_hook_add(&kv_srv, aof_cron, NULL) == 0) hooked = true;
    int rc = manifest_load(&aof.mf);
    if (!kv_srv.cfg.appendonly) return 0; /* the manifest keeps BGREWRITEAOF's numbering */
    if (rc != 0 && rc != -ENOENT) return rc;
    char d[PATH_BYTES];
    dir_path(d);
    if (mkdir(d, 0755) != 0 && errno != EEXIST) {
        rc = -errno;
        kv_log(KV_LOG_WARNING, "Can't create the append-only directory %s: %s", d, strerror(-rc));
        return rc;
    }
    if (aof.mf.nfiles > 0) {
        rc = load_all();
        if (rc != 0) return rc;
    }
    delete_history();
    rc = open_for_append("server start");
    if (rc != 0) return rc;
    rc = bio_start();
    if (rc != 0) return rc;
    set_state(AOF_ON);
    aof.last_fsync_ms = kv_mstime();
    return 0;
}

/* CONFIG SET appendonly yes: a rewrite makes the first base; commands meanwhile go to
 * the increment opened before the fork. */
static int start_append_only(void) {
    if (bio_start() != 0) return -EAGAIN;
    if (aof.child > 0) rewrite_kill_child();
    set_state(AOF_WAIT_REWRITE);
    int rc = rewrite_start();
    if (rc != 0) {
        set_state(AOF_OFF);
        kv_log(KV_LOG_WARNING, "Redis needs to enable the AOF but can't trigger a background AOF "
                               "rewrite operation. Check the above logs for more info about the "
                               "error.");
        return rc;
    }
    aof.rewrite_base_size = 0;
    return 0;
}

static void stop_append_only(void) {
    kv_aof_flush(true);
    if (aof.fd >= 0) {
        if (fdatasync(aof.fd) != 0)
            kv_log(KV_LOG_WARNING, "Fail to fsync the AOF file: %s", strerror(errno));
        bio_submit(aof.fd, true);
    }
    aof.fd = -1;
    aof.len = 0;
    aof.selected_db = -1;
    rewrite_kill_child();
    set_state(AOF_OFF);
    aof.write_ok = true;
    aof.scheduled = false;
}

int kv_aof_config_apply(void) {
    bool want = kv_srv.cfg.appendonly;
    if (want && aof.state == AOF_OFF) return start_append_only();
    if (!want && aof.state != AOF_OFF) stop_append_only();
    return 0;
}

void kv_aof_shutdown(void) {
    if (aof.child > 0) {
        kv_log(KV_LOG_WARNING, "There is a child rewriting the AOF. Killing it!");
        rewrite_kill_child();
    }
    if (aof.state != AOF_OFF) {
        kv_log(KV_LOG_NOTICE, "Calling fsync() on the AOF file.");
        kv_aof_flush(true);
        if (aof.fd >= 0) fdatasync(aof.fd);
    }
    bio_stop();
    if (aof.fd >= 0) close(aof.fd);
    aof.fd = -1;
    set_state(AOF_OFF);
    free(aof.buf);
    aof.buf = NULL;
    aof.len = aof.cap = 0;
    kv_aof_manifest_fini(&aof.mf);
    kv_propagate_fini();
}

void kv_aof_debug_loadaof(kv_client_t *c) {
    if (aof.state == AOF_ON) {
        kv_aof_flush(true);
        if (aof.fd >= 0) fdatasync(aof.fd);
    }
    for (int i = 0; i < kv_srv.ndbs; i++)
        kv_db_flush(&kv_srv.dbs[i]);
    kv_signal_flushed_db(NULL);
    kv_aof_manifest_t m;
    int rc = manifest_load(&m);
    if (rc == 0) {
        manifest_replace(&m);
        rc = load_all();
    } else if (rc == -ENOENT) {
        rc = 0;
    }
    if (rc != 0) {
        kv_log(KV_LOG_WARNING, "Error loading the AOF file on DEBUG LOADAOF. Exiting...");
        aof_exit();
    }
    kv_srv.dirty = 0;
    kv_log(KV_LOG_NOTICE, "Append Only File loaded by DEBUG LOADAOF");
    kv_reply_ok(c);
}

/* --- INFO --- */

const char *kv_aof_info(int part) {
    static char bufs[2][1024]; /* one per part: info.c uses both in one call */
    char *out = bufs[part != 0];
    if (part == 0) {
        snprintf(out, sizeof(bufs[0]),
                 "aof_enabled:%d\r\n"
                 "aof_rewrite_in_progress:%d\r\n"
                 "aof_rewrite_scheduled:%d\r\n"
                 "aof_last_rewrite_time_sec:%lld\r\n"
                 "aof_current_rewrite_time_sec:%lld\r\n"
                 "aof_last_bgrewrite_status:%s\r\n"
                 "aof_rewrites:%lld\r\n"
                 "aof_rewrites_consecutive_failures:%lld\r\n"
                 "aof_last_write_status:%s\r\n"
                 "aof_last_cow_size:0\r\n",
                 aof.state != AOF_OFF, aof.child > 0, aof.scheduled, aof.last_rewrite_secs,
                 aof.child > 0 ? (long long)(kv_mstime() - aof.rewrite_start_ms) / 1000 : -1LL,
                 aof.last_bgrewrite_ok ? "ok" : "err", aof.rewrites, aof.consecutive_failures,
                 aof.write_ok && bio_error() == 0 ? "ok" : "err");
        return out;
    }
    if (aof.state == AOF_OFF) return "";
    snprintf(out, sizeof(bufs[1]),
             "aof_current_size:%lld\r\n"
             "aof_base_size:%lld\r\n"
             "aof_pending_rewrite:%d\r\n"
             "aof_buffer_length:%zu\r\n"
             "aof_pending_bio_fsync:%d\r\n"
             "aof_delayed_fsync:%lld\r\n",
             aof.current_size, aof.base_size, aof.scheduled, aof.len, bio_pending(),
             aof.delayed_fsync);
    return out;
}
