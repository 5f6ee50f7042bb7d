/* SPDX-License-Identifier: MIT */
/*
 * server.c - the server's life: start-up (configuration, listening sockets, databases),
 * the cron timer, the before-sleep hook, signals, logging and clean shutdown.
 *
 * Cron runs `hz` times a second: cached clocks, memory statistics from jemalloc (through
 * memshim_stats_get, at most every 100 ms, never per command), the instantaneous ops
 * sample, the slow active-expire cycle, incremental rehashing, client timeouts, then the
 * registered cron hooks (the active defragmenter's control function). Before each sleep
 * the fast expire cycle runs and pending replies are written.
 */
#include "kv_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <jemalloc/jemalloc.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "memshim.h"
#include "rdb.h"

kv_server_t kv_srv;
static volatile sig_atomic_t shutdown_signal;

kv_server_t *kv_server_get(void) {
    return kv_srv.loop ? &kv_srv : NULL;
}

kv_loop_t *kv_server_loop(kv_server_t *srv) {
    return srv->loop;
}

int kv_cron_hook_add(kv_server_t *srv, kv_cron_fn fn, void *priv) {
    if (srv->ncron_hooks >= KV_MAX_CRON_HOOKS) return -ENOMEM;
    srv->cron_hooks[srv->ncron_hooks].fn = fn;
    srv->cron_hooks[srv->ncron_hooks].priv = priv;
    srv->ncron_hooks++;
    return 0;
}

/* --- Logging --- */

void kv_log(int level, const char *fmt, ...) {
    if (level < kv_srv.cfg.loglevel) return;
    char msg[1024], head[64];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    localtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(head, sizeof(head), "%d %b %Y %H:%M:%S", &tm);
    snprintf(head + n, sizeof(head) - n, ".%03ld", ts.tv_nsec / 1000000);
    const char *file = kv_srv.cfg.logfile;
    FILE *fp = (file && file[0]) ? fopen(file, "a") : stdout;
    if (fp == NULL) return;
    fprintf(fp, "%d:M %s %c %s\n", (int)getpid(), head, ".-*#"[level & 3], msg);
    fflush(fp);
    if (fp != stdout) fclose(fp);
}

/* --- Latency monitor --- */

/* --- Statistics --- */

void kv_server_count_error(const char *msg) {
    char code[32];
    size_t n = 0;
    while (msg[n] && msg[n] != ' ' && n < sizeof(code) - 1) {
        code[n] = msg[n];
        n++;
    }
    code[n] = '\0';
    for (int i = 0; i < kv_srv.nerrorstats; i++) {
        if (!strcmp(kv_srv.errorstats[i].code, code)) {
            kv_srv.errorstats[i].count++;
            return;
        }
    }
    /* Like Redis, stop adding codes past a limit (a client cannot grow the table). */
    if (kv_srv.nerrorstats >= (int)(sizeof(kv_srv.errorstats) / sizeof(kv_srv.errorstats[0])))
        return;
    snprintf(kv_srv.errorstats[kv_srv.nerrorstats].code, sizeof(code), "%s", code);
    kv_srv.errorstats[kv_srv.nerrorstats].count = 1;
    kv_srv.nerrorstats++;
}

void kv_server_reset_stats(void) {
    kv_server_t *s = &kv_srv;
    s->stat_numcommands = s->stat_numconnections = s->stat_rejected_conn = 0;
    s->stat_expiredkeys = s->stat_expired_time_cap_reached = s->stat_evictedkeys = 0;
    s->stat_keyspace_hits = s->stat_keyspace_misses = 0;
    s->stat_net_input_bytes = s->stat_net_output_bytes = 0;
    s->stat_total_error_replies = s->stat_unexpected_error_replies = 0;
    s->stat_client_qbuf_limit_disconnections = s->stat_client_outbuf_limit_disconnections = 0;
    s->stat_acl_denied_auth = 0;
    s->stat_expire_cycle_us = 0;
    s->stat_active_defrag_hits = s->stat_active_defrag_misses = 0;
    s->stat_active_defrag_key_hits = s->stat_active_defrag_key_misses = 0;
    s->stat_total_active_defrag_time_ms = 0;
    kv_defrag_reset_stats();
    s->nerrorstats = 0;
    memset(s->inst_samples, 0, sizeof(s->inst_samples));
    s->inst_last_cmds = 0;
    s->mem.peak = s->mem.allocated;
    kv_cmd_reset_stats();
}

/* --- Memory statistics --- */

static size_t read_rss(void) {
    char buf[128];
    int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0) return 0;
    buf[n] = '\0';
    unsigned long size, resident;
    if (sscanf(buf, "%lu %lu", &size, &resident) != 2) return 0;
    return resident * (size_t)sysconf(_SC_PAGESIZE);
}

void kv_server_update_mem_stats(void) {
    memshim_stats_t st;
    kv_mem_stats_t *m = &kv_srv.mem;
    if (memshim_stats_get(&st) == 0) {
        m->allocated = st.allocated;
        m->active = st.active;
        m->resident = st.resident;
        m->mapped = st.mapped;
        m->retained = st.retained;
        m->metadata = st.metadata;
    }
    /* Valkey 8.1's frag_smallbins: the same figure the defragmenter steers by. */
    memshim_frag_t f;
    if (memshim_defrag_frag_get(&f) == 0) m->frag_smallbins = f.frag_bytes;
    m->rss = read_rss();
    if (m->allocated > m->peak) m->peak = m->allocated;
    m->sampled_us = (int64_t)kv_monotonic_us();
}

/* --- Cron --- */

long long kv_server_inst_ops(void) {
    uint64_t sum = 0;
    for (int i = 0; i < 16; i++)
        sum += kv_srv.inst_samples[i];
    return (long long)(sum / 16);
}

static void track_ops(void) {
    int64_t now = kv_mstime();
    int64_t dt = now - kv_srv.inst_last_ms;
    if (dt < 100) return;
    uint64_t ops = kv_srv.stat_numcommands - kv_srv.inst_last_cmds;
    kv_srv.inst_samples[kv_srv.inst_idx] = dt > 0 ? ops * 1000 / (uint64_t)dt : 0;
    kv_srv.inst_idx = (kv_srv.inst_idx + 1) % 16;
    kv_srv.inst_last_ms = now;
    kv_srv.inst_last_cmds = kv_srv.stat_numcommands;
}

/* A signal's shutdown saves as SHUTDOWN without arguments does (persist.c); when that
 * fails the server keeps running, as Redis. */
static bool signal_shutdown_saved(void) {
    if (kv_persist_shutdown(false, false) == 0) return true;
    kv_log(KV_LOG_WARNING, "SIGTERM received but errors trying to shut down the server, check "
                           "the logs for more information");
    shutdown_signal = 0;
    return false;
}

static int64_t cron(kv_loop_t *loop, int64_t id, void *priv) {
    (void)loop;
    (void)id;
    (void)priv;
    kv_server_t *srv = &kv_srv;
    srv->mstime = kv_mstime();
    srv->lruclock = (uint64_t)(srv->mstime / KV_LRU_RESOLUTION_MS) & KV_LRU_CLOCK_MAX;
    srv->effective_hz = srv->cfg.hz < 1 ? 1 : srv->cfg.hz > 500 ? 500 : srv->cfg.hz;
    if ((int64_t)kv_monotonic_us() - srv->mem.sampled_us >= 100000) kv_server_update_mem_stats();
    track_ops();
    kv_expire_cycle_slow(srv);
    kv_db_cron(srv);
    kv_net_cron(srv);
    for (int i = 0; i < srv->ncron_hooks; i++)
        srv->cron_hooks[i].fn(srv, srv->cron_hooks[i].priv);
    srv->cronloops++;
    if (shutdown_signal && !srv->shutdown_asap) {
        kv_log(KV_LOG_WARNING, "Received %s scheduling shutdown...",
               shutdown_signal == SIGINT ? "SIGINT" : "SIGTERM");
        srv->shutdown_asap = signal_shutdown_saved();
    }
    if (srv->shutdown_asap) kv_loop_stop(srv->loop);
    return 1000000 / srv->effective_hz;
}

/* A defrag cycle suspends busy polling: its timer wakes the loop every few tens of
 * microseconds anyway, and a spinning loop would take the CPU that the slices and any
 * client sharing this core need. */
int64_t kv_server_busy_poll_us(void) {
    return kv_defrag_is_running() ? 0 : kv_srv.cfg.busy_poll_us;
}

/* Replies to the commands an iteration ran go out before its timers (cron, defrag
 * slices) run, not after: otherwise each timer adds its length to their latency. */
void kv_server_before_timers(kv_loop_t *loop, void *priv) {
    (void)loop;
    (void)priv;
    kv_net_flush_pending(&kv_srv);
}

static void before_sleep(kv_loop_t *loop, void *priv) {
    (void)priv;
    kv_loop_set_busy_poll(loop, kv_server_busy_poll_us()); /* CONFIG SET applies at once */
    kv_srv.mstime = kv_mstime();
    kv_expire_cycle_fast(&kv_srv);
    kv_client_ext_before_sleep();
    kv_blocked_before_sleep();
    kv_net_flush_pending(&kv_srv);
    if (shutdown_signal && !kv_srv.shutdown_asap) {
        kv_log(KV_LOG_WARNING, "Received %s scheduling shutdown...",
               shutdown_signal == SIGINT ? "SIGINT" : "SIGTERM");
        kv_srv.shutdown_asap = signal_shutdown_saved();
    }
    if (kv_srv.shutdown_asap) kv_loop_stop(kv_srv.loop);
}

void kv_server_request_shutdown(void) {
    kv_srv.shutdown_asap = true;
}

static void on_signal(int sig) {
    shutdown_signal = sig;
}

/* --- Start-up and shutdown --- */

static int resolve_heap_dump_dir(char *err, size_t errlen) {
    const char *d = kv_srv.cfg.heap_dump_dir;
    kv_srv.heap_dump_dir_real[0] = '\0';
    if (d == NULL || d[0] == '\0') return 0;
    char real[PATH_MAX];
    struct stat st;
    if (realpath(d, real) == NULL || stat(real, &st) != 0 || !S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "heap-dump-dir '%s' is not an existing directory", d);
        return -EINVAL;
    }
    snprintf(kv_srv.heap_dump_dir_real, sizeof(kv_srv.heap_dump_dir_real), "%s", real);
    return 0;
}

static void write_pidfile(void) {
    const char *p = kv_srv.cfg.pidfile;
    if (p == NULL || p[0] == '\0') return;
    FILE *f = fopen(p, "w");
    if (f == NULL) {
        kv_log(KV_LOG_WARNING, "Failed to write PID file: %s", strerror(errno));
        return;
    }
    fprintf(f, "%d\n", (int)getpid());
    fclose(f);
}

static void make_run_id(void) {
    /* Seeds kvcore's generator once (kv_rand64), then draws the run id from the kernel
     * (from the generator when getrandom fails). */
    uint64_t rseed;
    if (getrandom(&rseed, sizeof(rseed), 0) != (ssize_t)sizeof(rseed))
        rseed = (uint64_t)time(NULL) << 20 ^ (uint64_t)getpid();
    kv_rand_seed(rseed);
    unsigned char rnd[20];
    if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
        for (size_t i = 0; i < sizeof(rnd); i++)
            rnd[i] = (unsigned char)kv_rand64();
    for (size_t i = 0; i < sizeof(rnd); i++)
        snprintf((char *)kv_srv.run_id + 2 * i, 3, "%02x", rnd[i]);
    uint8_t seed[16];
    if (getrandom(seed, sizeof(seed), 0) == (ssize_t)sizeof(seed)) kv_hash_set_seed(seed);
}

static void free_all_clients(void) {
    while (kv_srv.clients)
        kv_client_free(kv_srv.clients);
}

int kv_server_main(int argc, char **argv) {
    char err[2048];
    bool want_exit = false;
    memset(&kv_srv, 0, sizeof(kv_srv));
    for (int i = 0; i < 16; i++)
        kv_srv.listen_fds[i] = -1;
    /* The deferred-length check (reply.c): off in production unless asked for. */
    kv_reply_check = kv_reply_check_parse(getenv("KVCORE_CHECK_REPLIES"));
    if (kv_config_defaults(&kv_srv.cfg) != 0) {
        fprintf(stderr, "Out of memory\n");
        return 1;
    }
    err[0] = '\0';
    if (kv_config_from_args(&kv_srv.cfg, argc, argv, err, sizeof(err), &want_exit,
                            &kv_srv.config_file) != 0) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    if (want_exit) {
        printf("%s\n", err);
        return 0;
    }
    char exe[PATH_MAX];
    ssize_t el = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (el > 0) {
        exe[el] = '\0';
        kv_srv.executable = strdup(exe);
    }
    if (resolve_heap_dump_dir(err, sizeof(err)) != 0) {
        fprintf(stderr, "\n*** FATAL CONFIG FILE ERROR ***\n%s\n", err);
        return 1;
    }
    if (kv_srv.cfg.daemonize && daemon(1, 0) != 0) {
        fprintf(stderr, "daemonize failed: %s\n", strerror(errno));
        return 1;
    }
    kv_srv.effective_hz = kv_srv.cfg.hz;
    kv_srv.start_ms = kv_srv.mstime = kv_mstime();
    kv_srv.lruclock = (uint64_t)(kv_srv.mstime / KV_LRU_RESOLUTION_MS) & KV_LRU_CLOCK_MAX;
    kv_srv.active_expire_enabled = true;
    kv_srv.inst_last_ms = kv_srv.mstime;
    make_run_id();
    kv_log(KV_LOG_WARNING, "oO0OoO0OoO0Oo kvcore is starting oO0OoO0OoO0Oo");
    kv_log(KV_LOG_WARNING, "kvcore version=%s (Redis %s protocol), bits=64, pid=%d, just started",
           KV_VERSION, KV_REDIS_VERSION, (int)getpid());
    if (kv_reply_check != KV_REPLY_CHECK_OFF)
        kv_log(KV_LOG_NOTICE, "Deferred reply lengths are checked (KVCORE_CHECK_REPLIES=%s)",
               kv_reply_check == KV_REPLY_CHECK_LOG ? "log" : "abort");
    if (kv_srv.config_file == NULL)
        kv_log(KV_LOG_WARNING,
               "Warning: no config file specified, using the default config. In order to "
               "specify a config file use %s /path/to/kvcore.conf",
               argc > 0 ? argv[0] : "kvcore-server");
    else
        kv_log(KV_LOG_WARNING, "Configuration loaded");

    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    if (kv_crash_handler_install() != 0)
        kv_log(KV_LOG_WARNING, "Could not install the crash report handler: %s", strerror(errno));

    int rc = 1;
    if (kv_cmd_init() != 0 || kv_db_init_all(&kv_srv) != 0) {
        kv_log(KV_LOG_WARNING, "Out of memory at start-up");
        goto out;
    }
    kv_srv.loop = kv_loop_new(kv_srv.cfg.maxclients + 128);
    if (kv_srv.loop == NULL) {
        kv_log(KV_LOG_WARNING, "Failed creating the event loop. Error message: '%s'",
               strerror(errno));
        goto out;
    }
    if (kv_net_listen(&kv_srv) != 0) {
        kv_log(KV_LOG_WARNING, "Failed listening on port %d (tcp), aborting.", kv_srv.cfg.port);
        goto out;
    }
    kv_log(KV_LOG_NOTICE, "Running mode=standalone, port=%d.", kv_srv.cfg.port);
    write_pidfile();
    kv_server_update_mem_stats();
    kv_srv.startup_allocated = kv_srv.mem.allocated;
    if (kv_defrag_init(&kv_srv) != 0) {
        kv_log(KV_LOG_WARNING, "Out of memory at start-up");
        goto out;
    }
    /* The AOF, when appendonly is yes, has priority over the RDB file, as in Redis. */
    if (kv_aof_startup() != 0) goto out;
    if (kv_persist_init(&kv_srv) != 0) goto out; /* the RDB file, unless the AOF was loaded */
    kv_srv.cron_timer = kv_timer_add(kv_srv.loop, 1, cron, NULL);
    kv_loop_set_before_sleep(kv_srv.loop, before_sleep, NULL);
    kv_loop_set_before_timers(kv_srv.loop, kv_server_before_timers, NULL);
    kv_log(KV_LOG_NOTICE, "Server initialized");
    kv_log(KV_LOG_NOTICE, "Ready to accept connections tcp");
    kv_loop_run(kv_srv.loop);

    kv_log(KV_LOG_WARNING, "User requested shutdown...");
    kv_aof_shutdown();
    if (kv_srv.cfg.pidfile && kv_srv.cfg.pidfile[0]) {
        kv_log(KV_LOG_NOTICE, "Removing the pid file.");
        unlink(kv_srv.cfg.pidfile);
    }
    rc = kv_srv.exit_code;
    kv_log(KV_LOG_WARNING, "kvcore is now ready to exit, bye bye...");
out:
    for (int i = 0; i < kv_srv.nlisten; i++)
        close(kv_srv.listen_fds[i]);
    free_all_clients();
    if (kv_srv.loop) kv_net_flush_pending(&kv_srv);
    kv_aof_shutdown(); /* a no-op after the normal shutdown */
    kv_blocked_fini();
    kv_defrag_fini();
    kv_auth_fini();
    kv_db_free_all(&kv_srv);
    kv_loop_free(kv_srv.loop);
    kv_srv.loop = NULL;
    kv_config_fini(&kv_srv.cfg);
    free(kv_srv.config_file);
    free(kv_srv.executable);
    return rc;
}
