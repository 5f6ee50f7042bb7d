/* SPDX-License-Identifier: MIT */
/*
 * persist.c - RDB persistence in the server: SAVE, BGSAVE, LASTSAVE, DUMP, RESTORE, save
 * points, the background-save child and its reaping, loading at start-up, saving at
 * shutdown and after FLUSHALL, DEBUG RELOAD, MISCONF, and INFO's Persistence lines.
 *
 * A background save forks: the child goes quiet in the shim (no control socket of its
 * own, no failure injection, no heap-profile dumps: memshim's controls), writes
 * temp-<pid>.rdb, fsyncs, renames it over dbfilename, fsyncs the directory and _exits.
 * Through a pipe it reports its progress and its copy-on-write bytes (Private_Dirty of
 * /proc/self/smaps_rollup, as Redis) about once a second and once at the end. The cron
 * hook reads the pipe, reaps the child with waitpid and updates the status; it also
 * starts saves when a save point is reached. Errors and log lines use Redis 7.0's texts.
 * docs/kvcore.md#persistence describes it.
 */
#include "rdb.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "memshim.h"

#define BGSAVE_RETRY_DELAY_S 5
#define COW_REPORT_US        1000000

enum { MSG_PROGRESS = 1, MSG_DONE = 2 };

typedef struct child_msg {
    uint32_t kind;
    uint64_t keys;
    uint64_t cow_bytes;
} child_msg_t;

static struct {
    pid_t child;
    int pipe_rd;
    int64_t child_start_ms;
    long long dirty_at_fork;
    uint64_t keys_total;
    uint64_t keys_done;
    uint64_t cow_now, cow_peak;
    int64_t cow_now_ms;
    bool scheduled;
    int64_t lastsave_s;
    int64_t last_try_s;
    bool last_bgsave_ok;
    int64_t last_bgsave_secs;
    uint64_t saves;
    uint64_t last_cow;
    uint64_t load_loaded, load_expired;
    /* in the child */
    int pipe_wr;
    uint64_t last_report_us;
} ps = {.pipe_rd = -1, .pipe_wr = -1, .last_bgsave_ok = true, .last_bgsave_secs = -1};

/* Every change of last_bgsave_ok goes through here: MISCONF's gate bit follows it. */
static void set_bgsave_ok(bool ok) {
    ps.last_bgsave_ok = ok;
    kv_cmd_gate_set(KV_GATE_BGSAVE_ERR, !ok);
}

pid_t kv_persist_child_pid(void) {
    return ps.child;
}

/* --- Save points --- */

/* The save points of `save` (pairs of seconds and changes); returns how many pairs. */
static int save_points(long long *secs, long long *changes, int max) {
    const char *s = kv_srv.cfg.save ? kv_srv.cfg.save : "";
    int n = 0;
    while (n < max) {
        char *end;
        long long a = strtoll(s, &end, 10);
        if (end == s) break;
        s = end;
        long long b = strtoll(s, &end, 10);
        if (end == s) break;
        s = end;
        secs[n] = a;
        changes[n] = b;
        n++;
    }
    return n;
}

static bool have_save_points(void) {
    long long a[1], b[1];
    return save_points(a, b, 1) > 0;
}

/* --- Foreground saves --- */

static int save_now(char *err, size_t errlen) {
    kv_rdb_save_stats_t st;
    int64_t t0 = kv_mstime();
    int rc = kv_rdb_save_file(kv_srv.cfg.dbfilename, &st, err, errlen);
    if (rc != 0) {
        kv_log(KV_LOG_WARNING, "%s", err);
        return rc;
    }
    kv_log(KV_LOG_NOTICE, "DB saved on disk");
    kv_log(KV_LOG_VERBOSE, "Saved %llu keys, %llu bytes in %lld ms", (unsigned long long)st.keys,
           (unsigned long long)st.bytes, (long long)(kv_mstime() - t0));
    kv_srv.dirty = 0;
    ps.lastsave_s = kv_mstime() / 1000;
    set_bgsave_ok(true);
    ps.saves++;
    return 0;
}

/* --- The child --- */

static uint64_t private_dirty_bytes(void) {
    FILE *f = fopen("/proc/self/smaps_rollup", "r");
    if (f == NULL) return 0;
    char line[256];
    uint64_t kb = 0;
    while (fgets(line, sizeof(line), f))
        if (strncmp(line, "Private_Dirty:", 14) == 0) {
            kb = strtoull(line + 14, NULL, 10);
            break;
        }
    fclose(f);
    return kb * 1024;
}

static void child_send(uint32_t kind, uint64_t keys) {
    child_msg_t m;
    memset(&m, 0, sizeof(m)); /* the padding too: the whole struct goes down the pipe */
    m.kind = kind;
    m.keys = keys;
    m.cow_bytes = private_dirty_bytes();
    ssize_t n;
    do
        n = write(ps.pipe_wr, &m, sizeof(m));
    while (n < 0 && errno == EINTR);
}

static void child_progress(uint64_t keys, void *priv) {
    (void)priv;
    uint64_t now = kv_monotonic_us();
    if (now - ps.last_report_us < COW_REPORT_US) return;
    ps.last_report_us = now;
    child_send(MSG_PROGRESS, keys);
}

/* The shim's per-process features stay with the parent: no control socket answering for
 * it, no injected allocation failures in the snapshot's writes, no heap dumps. */
static void child_quiet(void) {
    (void)memshim_ctl_set_str("ctl.enable", "false");
    (void)memshim_ctl_set_str("inject.reset", "1");
    (void)memshim_ctl_set_str("prof.peak", "false");
    (void)memshim_ctl_set_str("prof.dump_at_exit", "false");
    signal(SIGTERM, SIG_DFL);
    signal(SIGINT, SIG_DFL);
    signal(SIGUSR1, SIG_DFL);
}

static int child_save(void) {
    char err[512];
    int64_t t0 = kv_mstime();
    kv_rdb_save_stats_t st = {0, 0};
    ps.last_report_us = kv_monotonic_us();
    kv_rdb_save_progress_hook(child_progress, NULL);
    int rc = kv_rdb_save_file(kv_srv.cfg.dbfilename, &st, err, sizeof(err));
    if (rc != 0) {
        kv_log(KV_LOG_WARNING, "%s", err);
        return 1;
    }
    uint64_t cow = private_dirty_bytes();
    kv_log(KV_LOG_NOTICE, "DB saved on disk");
    kv_log(KV_LOG_NOTICE, "Fork CoW for RDB: current %llu MB, peak %llu MB, average %llu MB",
           (unsigned long long)(cow >> 20), (unsigned long long)(cow >> 20),
           (unsigned long long)(cow >> 21));
    kv_log(KV_LOG_VERBOSE, "Saved %llu keys, %llu bytes in %lld ms", (unsigned long long)st.keys,
           (unsigned long long)st.bytes, (long long)(kv_mstime() - t0));
    child_send(MSG_DONE, st.keys);
    return 0;
}

/* --- Background saves in the parent --- */

static uint64_t total_keys(void) {
    uint64_t n = 0;
    for (int i = 0; i < kv_srv.ndbs; i++)
        n += kv_db_size(&kv_srv.dbs[i]);
    return n;
}

static int bgsave_start(void) {
    int fds[2];
    ps.last_try_s = kv_mstime() / 1000;
    if (pipe2(fds, O_CLOEXEC) != 0) {
        kv_log(KV_LOG_WARNING, "Can't save in background: pipe: %s", strerror(errno));
        set_bgsave_ok(false);
        return -errno;
    }
    int64_t t0 = kv_ustime();
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        ps.pipe_wr = fds[1];
        for (int i = 0; i < kv_srv.nlisten; i++) /* a restarted server may bind meanwhile */
            close(kv_srv.listen_fds[i]);
        child_quiet();
        _exit(child_save());
    }
    close(fds[1]);
    if (pid < 0) {
        int e = errno;
        close(fds[0]);
        set_bgsave_ok(false);
        kv_log(KV_LOG_WARNING, "Can't save in background: fork: %s", strerror(e));
        return -e;
    }
    fcntl(fds[0], F_SETFL, O_NONBLOCK);
    kv_latency_add("fork", (uint64_t)(kv_ustime() - t0) / 1000);
    ps.child = pid;
    ps.pipe_rd = fds[0];
    ps.child_start_ms = kv_mstime();
    ps.dirty_at_fork = kv_srv.dirty;
    ps.keys_total = total_keys();
    ps.keys_done = 0;
    ps.cow_now = ps.cow_peak = 0;
    ps.cow_now_ms = 0;
    ps.scheduled = false;
    kv_defrag_cron(&kv_srv, NULL); /* stops a defrag cycle now: pages stay shared */
    kv_log(KV_LOG_NOTICE, "Background saving started by pid %d", (int)pid);
    return 0;
}

static void read_child_pipe(void) {
    child_msg_t m;
    while (ps.pipe_rd >= 0 && read(ps.pipe_rd, &m, sizeof(m)) == (ssize_t)sizeof(m)) {
        ps.keys_done = m.keys;
        ps.cow_now = m.cow_bytes;
        ps.cow_now_ms = kv_mstime();
        if (m.cow_bytes > ps.cow_peak) ps.cow_peak = m.cow_bytes;
        if (m.kind == MSG_DONE) ps.last_cow = m.cow_bytes;
    }
}

static void child_done(int status) {
    read_child_pipe();
    close(ps.pipe_rd);
    ps.pipe_rd = -1;
    int64_t now_ms = kv_mstime();
    ps.last_bgsave_secs = (now_ms - ps.child_start_ms) / 1000;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        kv_log(KV_LOG_NOTICE, "Background saving terminated with success");
        kv_srv.dirty -= ps.dirty_at_fork;
        if (kv_srv.dirty < 0) kv_srv.dirty = 0;
        ps.lastsave_s = now_ms / 1000;
        set_bgsave_ok(true);
        ps.saves++;
    } else if (WIFEXITED(status)) {
        kv_log(KV_LOG_WARNING, "Background saving error");
        set_bgsave_ok(false);
    } else {
        int sig = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
        kv_log(KV_LOG_WARNING, "Background saving terminated by signal %d", sig);
        char tmp[64];
        snprintf(tmp, sizeof(tmp), "temp-%d.rdb", (int)ps.child);
        unlink(tmp);
        if (sig != SIGUSR1) set_bgsave_ok(false); /* killed on purpose: not an error */
    }
    ps.child = 0;
    ps.cow_now = 0;
}

static void kill_child(void) {
    if (ps.child <= 0) return;
    kv_log(KV_LOG_NOTICE, "Killing running RDB child: %d", (int)ps.child);
    kill(ps.child, SIGUSR1);
    int status;
    while (waitpid(ps.child, &status, 0) < 0 && errno == EINTR)
        ;
    child_done(status);
}

static void check_save_points(void) {
    long long secs[32], changes[32];
    int n = save_points(secs, changes, 32);
    int64_t now = kv_mstime() / 1000;
    for (int i = 0; i < n; i++) {
        if (kv_srv.dirty >= changes[i] && now - ps.lastsave_s > secs[i] &&
            (now - ps.last_try_s > BGSAVE_RETRY_DELAY_S || ps.last_bgsave_ok)) {
            kv_log(KV_LOG_NOTICE, "%lld changes in %lld seconds. Saving...", changes[i], secs[i]);
            bgsave_start();
            return;
        }
    }
}

static void persist_cron(kv_server_t *srv, void *priv) {
    (void)srv;
    (void)priv;
    if (ps.child > 0) {
        read_child_pipe();
        int status;
        pid_t r = waitpid(ps.child, &status, WNOHANG);
        if (r == ps.child) child_done(status);
        return;
    }
    if (kv_aof_child_pid() > 0) return; /* one child at a time: the AOF rewrite runs */
    if (ps.scheduled) {
        bgsave_start();
        return;
    }
    check_save_points();
}

/* --- Start-up and shutdown --- */

static int load_at_startup(void) {
    const char *name = kv_srv.cfg.dbfilename;
    int fd = open(name, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT) return 0;
        kv_log(KV_LOG_WARNING, "Fatal error loading the DB: %s. Exiting.", strerror(errno));
        return -errno;
    }
    struct stat st;
    long long size = fstat(fd, &st) == 0 ? (long long)st.st_size : -1;
    kv_log(KV_LOG_NOTICE, "Loading RDB %s (%lld bytes)...", name, size);
    int64_t t0 = kv_mstime();
    kv_rdb_load_stats_t ls = {.total_bytes = size > 0 ? (uint64_t)size : 0};
    char err[512];
    int rc = kv_rdb_load_fd(fd, KV_RDB_LOAD_PROGRESS, &ls, err, sizeof(err));
    close(fd);
    if (rc != 0) {
        kv_log(KV_LOG_WARNING, "Fatal error loading the DB: %s. Exiting.", err);
        return rc;
    }
    ps.load_loaded = ls.keys_loaded;
    ps.load_expired = ls.keys_expired;
    if (ls.empty_skipped)
        kv_log(KV_LOG_NOTICE,
               "Done loading RDB, keys loaded: %llu, keys expired: %llu, empty "
               "keys skipped: %llu.",
               (unsigned long long)ls.keys_loaded, (unsigned long long)ls.keys_expired,
               (unsigned long long)ls.empty_skipped);
    else
        kv_log(KV_LOG_NOTICE, "Done loading RDB, keys loaded: %llu, keys expired: %llu.",
               (unsigned long long)ls.keys_loaded, (unsigned long long)ls.keys_expired);
    kv_log(KV_LOG_NOTICE, "DB loaded from disk: %.3f seconds", (double)(kv_mstime() - t0) / 1000);
    return 0;
}

int kv_persist_init(kv_server_t *srv) {
    ps.lastsave_s = kv_mstime() / 1000;
    int rc = kv_srv.cfg.appendonly ? 0 : load_at_startup(); /* the AOF has priority */
    if (rc != 0) return rc;
    return kv_cron_hook_add(srv, persist_cron, NULL);
}

int kv_persist_shutdown(bool save, bool nosave) {
    if (ps.child > 0) kill_child();
    if (nosave || (!save && !have_save_points())) return 0;
    kv_log(KV_LOG_NOTICE, "Saving the final RDB snapshot before exiting.");
    char err[512];
    if (save_now(err, sizeof(err)) != 0) {
        kv_log(KV_LOG_WARNING, "Error trying to save the DB, can't exit.");
        return -EIO;
    }
    return 0;
}

void kv_persist_flushall(void) {
    if (ps.child > 0) kill_child();
    if (!have_save_points()) return;
    char err[512];
    (void)save_now(err, sizeof(err)); /* resets dirty, as Redis: the save holds the flush */
}

int kv_persist_debug_reload(char *err, size_t errlen) {
    int rc = save_now(err, errlen);
    if (rc != 0) return rc;
    for (int i = 0; i < kv_srv.ndbs; i++)
        kv_db_flush(&kv_srv.dbs[i]);
    int fd = open(kv_srv.cfg.dbfilename, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "%s", strerror(errno));
        return -errno;
    }
    kv_rdb_load_stats_t ls = {0};
    rc = kv_rdb_load_fd(fd, 0, &ls, err, errlen);
    close(fd);
    if (rc == 0) kv_log(KV_LOG_NOTICE, "DB reloaded by DEBUG RELOAD");
    return rc;
}

/* --- MISCONF, INFO, MEMORY DOCTOR --- */

bool kv_persist_deny_write(kv_client_t *c, const kv_cmd_t *cmd) {
    if (ps.last_bgsave_ok || !kv_srv.cfg.stop_writes_on_bgsave_error || !have_save_points())
        return false;
    if (!(kv_multi_cmd_flags(c, cmd) & KV_CMD_WRITE) && strcmp(cmd->name, "ping") != 0)
        return false;
    kv_multi_reject(c, cmd,
                    "MISCONF Redis is configured to save RDB snapshots, but it's currently "
                    "unable to persist to disk. Commands that may modify the data set are "
                    "disabled, because this instance is configured to report errors during "
                    "writes if RDB snapshotting fails (stop-writes-on-bgsave-error option). "
                    "Please check the Redis logs for details about the RDB error.");
    return true;
}

size_t kv_persist_info(char *buf, size_t cap) {
    int64_t now = kv_mstime();
    bool running = ps.child > 0;
    double perc =
        running && ps.keys_total ? 100.0 * (double)ps.keys_done / (double)ps.keys_total : 0.0;
    int n = snprintf(buf, cap,
                     "loading:0\r\n"
                     "async_loading:0\r\n"
                     "current_cow_peak:%llu\r\n"
                     "current_cow_size:%llu\r\n"
                     "current_cow_size_age:%lld\r\n"
                     "current_fork_perc:%.2f\r\n"
                     "current_save_keys_processed:%llu\r\n"
                     "current_save_keys_total:%llu\r\n"
                     "rdb_changes_since_last_save:%lld\r\n"
                     "rdb_bgsave_in_progress:%d\r\n"
                     "rdb_last_save_time:%lld\r\n"
                     "rdb_last_bgsave_status:%s\r\n"
                     "rdb_last_bgsave_time_sec:%lld\r\n"
                     "rdb_current_bgsave_time_sec:%lld\r\n"
                     "rdb_saves:%llu\r\n"
                     "rdb_last_cow_size:%llu\r\n"
                     "rdb_last_load_keys_expired:%llu\r\n"
                     "rdb_last_load_keys_loaded:%llu\r\n",
                     running ? (unsigned long long)ps.cow_peak : 0ull,
                     running ? (unsigned long long)ps.cow_now : 0ull,
                     running && ps.cow_now_ms ? (long long)(now - ps.cow_now_ms) / 1000 : 0ll, perc,
                     running ? (unsigned long long)ps.keys_done : 0ull,
                     running ? (unsigned long long)ps.keys_total : 0ull, kv_srv.dirty,
                     running ? 1 : 0, (long long)ps.lastsave_s, ps.last_bgsave_ok ? "ok" : "err",
                     (long long)ps.last_bgsave_secs,
                     running ? (long long)(now - ps.child_start_ms) / 1000 : -1ll,
                     (unsigned long long)ps.saves, (unsigned long long)ps.last_cow,
                     (unsigned long long)ps.load_expired, (unsigned long long)ps.load_loaded);
    if (n < 0) return 0;
    return (size_t)n < cap ? (size_t)n : cap - 1;
}

uint64_t kv_persist_last_cow_bytes(void) {
    return ps.last_cow;
}

/* --- Commands --- */

void kv_cmd_save(kv_client_t *c) {
    if (ps.child > 0) {
        kv_reply_error(c, "ERR Background save already in progress");
        return;
    }
    char err[512];
    if (save_now(err, sizeof(err)) == 0)
        kv_reply_ok(c);
    else
        kv_reply_error(c, "ERR");
}

void kv_cmd_bgsave(kv_client_t *c) {
    bool schedule = false;
    if (c->argc > 1) {
        if (c->argc != 2 || !kv_arg_is(&c->argv[1], "schedule")) {
            kv_reply_syntax_err(c);
            return;
        }
        schedule = true;
    }
    if (ps.child > 0) { /* as Redis 7.0, SCHEDULE too */
        kv_reply_error(c, "ERR Background save already in progress");
        return;
    }
    if (kv_aof_child_pid() > 0) { /* Redis's texts with an AOF rewrite running */
        if (schedule) {
            ps.scheduled = true;
            kv_reply_status(c, "Background saving scheduled");
        } else {
            kv_reply_error(c, "ERR Another child process is active (AOF?): can't BGSAVE right "
                              "now. Use BGSAVE SCHEDULE in order to schedule a BGSAVE whenever "
                              "possible.");
        }
        return;
    }
    if (bgsave_start() == 0)
        kv_reply_status(c, "Background saving started");
    else
        kv_reply_error(c, "ERR");
}

void kv_cmd_lastsave(kv_client_t *c) {
    kv_reply_int(c, (long long)ps.lastsave_s);
}

void kv_cmd_dump(kv_client_t *c) {
    kv_obj_t *o = kv_db_lookup_read(c->db, &c->argv[1]);
    if (o == NULL) {
        kv_reply_null(c);
        return;
    }
    unsigned char *p;
    size_t len;
    if (kv_rdb_dump_payload(o, &p, &len) != 0) {
        kv_reply_oom(c);
        return;
    }
    kv_reply_bulk(c, p, len);
    free(p);
}

typedef struct restore_opts {
    bool replace, absttl;
    long long idle, freq;
} restore_opts_t;

static int restore_parse(kv_client_t *c, restore_opts_t *o) {
    o->replace = o->absttl = false;
    o->idle = o->freq = -1;
    for (int j = 4; j < c->argc; j++) {
        const kv_arg_t *a = &c->argv[j];
        bool more = j + 1 < c->argc;
        if (kv_arg_is(a, "replace")) {
            o->replace = true;
        } else if (kv_arg_is(a, "absttl")) {
            o->absttl = true;
        } else if (kv_arg_is(a, "idletime") && more && o->freq == -1) {
            if (kv_arg_ll_or_reply(c, &c->argv[++j], &o->idle, NULL) != 0) return -EINVAL;
            if (o->idle < 0) {
                kv_reply_error(c, "ERR Invalid IDLETIME value, must be >= 0");
                return -EINVAL;
            }
        } else if (kv_arg_is(a, "freq") && more && o->idle == -1) {
            if (kv_arg_ll_or_reply(c, &c->argv[++j], &o->freq, NULL) != 0) return -EINVAL;
            if (o->freq < 0 || o->freq > 255) {
                kv_reply_error(c, "ERR Invalid FREQ value, must be >= 0 and <= 255");
                return -EINVAL;
            }
        } else {
            kv_reply_syntax_err(c);
            return -EINVAL;
        }
    }
    return 0;
}

void kv_cmd_restore(kv_client_t *c) {
    restore_opts_t opt;
    if (restore_parse(c, &opt) != 0) return;
    const kv_arg_t *key = &c->argv[1];
    if (!opt.replace && kv_db_lookup_write(c->db, key) != NULL) {
        kv_reply_error(c, "BUSYKEY Target key name already exists.");
        return;
    }
    long long ttl;
    if (kv_arg_ll_or_reply(c, &c->argv[2], &ttl, NULL) != 0) return;
    if (ttl < 0) {
        kv_reply_error(c, "ERR Invalid TTL value, must be >= 0");
        return;
    }
    const kv_arg_t *pl = &c->argv[3];
    if (!kv_rdb_payload_verify(pl->ptr, pl->len)) {
        kv_reply_error(c, "ERR DUMP payload version or checksum are wrong");
        return;
    }
    if (ttl > 0 && !opt.absttl) ttl += kv_srv.mstime;
    kv_obj_t *o = kv_rdb_payload_load(pl->ptr, pl->len, key->ptr, key->len, ttl > 0 ? ttl : -1);
    if (o == NULL) {
        kv_reply_error(c, "ERR Bad data format");
        return;
    }
    bool deleted = opt.replace && kv_db_delete(c->db, key->ptr, key->len);
    if (ttl > 0 && ttl < kv_srv.mstime) { /* already expired: only the delete happens */
        kv_obj_free(o);
        if (deleted) {
            kv_signal_modified_key(c, c->db, key->ptr, key->len);
            kv_notify_keyspace_event(KV_NOTIFY_GENERIC, "del", key->ptr, key->len, c->db->id);
            kv_srv.dirty++;
        }
        kv_reply_ok(c);
        return;
    }
    int type = (int)o->type;
    kv_rdb_object_set_lru_lfu(o, opt.freq, opt.idle);
    if (kv_db_add(c->db, o) != 0) {
        kv_reply_oom(c);
        return;
    }
    kv_signal_modified_key(c, c->db, key->ptr, key->len);
    kv_notify_keyspace_event(KV_NOTIFY_GENERIC, "restore", key->ptr, key->len, c->db->id);
    if (type == KV_TYPE_LIST || type == KV_TYPE_ZSET)
        kv_signal_key_ready(c->db, key->ptr, key->len);
    kv_srv.dirty++;
    kv_reply_ok(c);
}
