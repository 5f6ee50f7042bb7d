/* SPDX-License-Identifier: MIT */
/*
 * info.c - the INFO text: sections server, clients, memory, persistence, stats,
 * replication, cpu, modules, errorstats, cluster, keyspace (default), plus commandstats
 * ("all" / "everything"), with Redis 7.0's field names, order and CRLF line endings so
 * tools that parse INFO (redis-cli --stat, client libraries, exporters) read it as is.
 *
 * Memory figures are the cron's sample (jemalloc through memshim_stats_get, at most
 * 100 ms old), as in Redis; used_memory is jemalloc's stats.allocated, i.e. every byte
 * the process holds through malloc. The Valkey 8.1 fragmentation fields are used:
 * allocator_frag_bytes is the free space inside small-bin slabs (what the active
 * defragmenter can reclaim), allocator_frag_ratio = 1 + that / allocated.
 */
#include "kv_internal.h"
#include "rdb.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <unistd.h>

typedef struct buf {
    char *p;
    size_t len, cap;
    bool oom;
} buf_t;

static void addf(buf_t *b, const char *fmt, ...) KV_PRINTF(2, 3);
static void addf(buf_t *b, const char *fmt, ...) {
    if (b->oom) return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->oom = true;
            return;
        }
        if ((size_t)n < b->cap - b->len) {
            b->len += (size_t)n;
            return;
        }
        size_t ncap = (b->cap + (size_t)n) * 2;
        char *np = realloc(b->p, ncap);
        if (np == NULL) {
            b->oom = true;
            return;
        }
        b->p = np;
        b->cap = ncap;
    }
}

static void human(char *out, size_t n) {
    kv_bytes_human(out, 32, n);
}

static void section_server(buf_t *b) {
    struct utsname u;
    uname(&u);
    int64_t now_us = kv_ustime();
    long long uptime = (kv_mstime() - kv_srv.start_ms) / 1000;
    addf(b,
         "# Server\r\n"
         "redis_version:%s\r\n"
         "redis_git_sha1:00000000\r\n"
         "redis_git_dirty:0\r\n"
         "redis_build_id:0\r\n"
         "redis_mode:standalone\r\n"
         "os:%s %s %s\r\n"
         "arch_bits:64\r\n"
         "monotonic_clock:POSIX clock_gettime\r\n"
         "multiplexing_api:epoll\r\n"
         "atomicvar_api:c11-builtin\r\n"
         "gcc_version:%d.%d.%d\r\n"
         "process_id:%d\r\n"
         "process_supervised:no\r\n"
         "run_id:%s\r\n"
         "tcp_port:%d\r\n"
         "server_time_usec:%lld\r\n"
         "uptime_in_seconds:%lld\r\n"
         "uptime_in_days:%lld\r\n"
         "hz:%d\r\n"
         "configured_hz:%d\r\n"
         "lru_clock:%u\r\n"
         "executable:%s\r\n"
         "config_file:%s\r\n"
         "io_threads_active:0\r\n"
         "kvcore_version:%s\r\n",
         KV_REDIS_VERSION, u.sysname, u.release, u.machine,
#ifdef __GNUC__
         __GNUC__, __GNUC_MINOR__, __GNUC_PATCHLEVEL__,
#else
         0, 0, 0,
#endif
         (int)getpid(), kv_srv.run_id, kv_srv.cfg.port, (long long)now_us, uptime, uptime / 86400,
         kv_srv.effective_hz, kv_srv.cfg.hz, kv_lru_clock(),
         kv_srv.executable ? kv_srv.executable : "", kv_srv.config_file ? kv_srv.config_file : "",
         KV_VERSION);
}

static void section_clients(buf_t *b) {
    size_t maxin = 0, maxout = 0, trk[4];
    kv_tracking_info(&trk[0], &trk[1], &trk[2], &trk[3]);
    for (kv_client_t *c = kv_srv.clients; c; c = c->next) {
        if (c->qbuf_peak > maxin) maxin = c->qbuf_peak;
        size_t out = c->reply_bytes + c->bufpos;
        if (out > maxout) maxout = out;
    }
    addf(b,
         "# Clients\r\n"
         "connected_clients:%zu\r\n"
         "cluster_connections:0\r\n"
         "maxclients:%d\r\n"
         "client_recent_max_input_buffer:%zu\r\n"
         "client_recent_max_output_buffer:%zu\r\n"
         "blocked_clients:%zu\r\n"
         "tracking_clients:%zu\r\n"
         "watching_clients:%zu\r\n"
         "clients_in_timeout_table:%zu\r\n"
         "total_watched_keys:%zu\r\n",
         kv_srv.nclients, kv_srv.cfg.maxclients, maxin, maxout,
         kv_blocked_clients() + kv_pause_waiting_clients(), trk[0], kv_multi_watching_clients(),
         kv_blocked_in_timeout_table(), kv_multi_watched_keys());
}

static size_t clients_mem(void) {
    size_t n = 0;
    for (kv_client_t *c = kv_srv.clients; c; c = c->next)
        n += sizeof(*c) + c->bufsize + c->qcap + c->reply_bytes + kv_multi_mem(c);
    return n;
}

static size_t db_overhead(void) {
    size_t n = 0;
    for (int i = 0; i < kv_srv.ndbs; i++)
        n += kv_db_overhead_bytes(&kv_srv.dbs[i], false) +
             kv_db_overhead_bytes(&kv_srv.dbs[i], true);
    return n;
}

static void section_memory(buf_t *b) {
    const kv_mem_stats_t *m = &kv_srv.mem;
    char h_used[32], h_rss[32], h_peak[32], h_sys[32], h_max[32], h_zero[32];
    size_t used = m->allocated;
    size_t peak = m->peak > used ? m->peak : used;
    long pages = sysconf(_SC_PHYS_PAGES), psize = sysconf(_SC_PAGESIZE);
    unsigned long long sysmem =
        pages > 0 && psize > 0 ? (unsigned long long)pages * (unsigned long long)psize : 0;
    human(h_used, used);
    human(h_rss, m->rss);
    human(h_peak, peak);
    human(h_sys, sysmem);
    human(h_max, kv_srv.cfg.maxmemory);
    human(h_zero, 0);
    size_t cmem = clients_mem();
    size_t overhead = kv_srv.startup_allocated + cmem + db_overhead();
    if (overhead > used) overhead = used;
    size_t dataset = used - overhead;
    size_t net = used > kv_srv.startup_allocated ? used - kv_srv.startup_allocated : 0;
    double frag_ratio = used ? 1.0 + (double)m->frag_smallbins / (double)used : 1.0;
    double rss_ratio = m->active ? (double)m->resident / (double)m->active : 1.0;
    double rss_over = m->resident ? (double)m->rss / (double)m->resident : 1.0;
    double memfrag = used ? (double)m->rss / (double)used : 1.0;
    addf(b,
         "# Memory\r\n"
         "used_memory:%zu\r\n"
         "used_memory_human:%s\r\n"
         "used_memory_rss:%zu\r\n"
         "used_memory_rss_human:%s\r\n"
         "used_memory_peak:%zu\r\n"
         "used_memory_peak_human:%s\r\n"
         "used_memory_peak_perc:%.2f%%\r\n"
         "used_memory_overhead:%zu\r\n"
         "used_memory_startup:%zu\r\n"
         "used_memory_dataset:%zu\r\n"
         "used_memory_dataset_perc:%.2f%%\r\n"
         "allocator_allocated:%zu\r\n"
         "allocator_active:%zu\r\n"
         "allocator_resident:%zu\r\n"
         "total_system_memory:%llu\r\n"
         "total_system_memory_human:%s\r\n"
         "used_memory_lua:0\r\n"
         "used_memory_vm_eval:0\r\n"
         "used_memory_lua_human:%s\r\n"
         "used_memory_scripts_eval:0\r\n"
         "number_of_cached_scripts:0\r\n"
         "number_of_functions:0\r\n"
         "number_of_libraries:0\r\n"
         "used_memory_vm_functions:0\r\n"
         "used_memory_vm_total:0\r\n"
         "used_memory_vm_total_human:%s\r\n"
         "used_memory_functions:0\r\n"
         "used_memory_scripts:0\r\n"
         "used_memory_scripts_human:%s\r\n"
         "maxmemory:%llu\r\n"
         "maxmemory_human:%s\r\n"
         "maxmemory_policy:%s\r\n"
         "allocator_frag_ratio:%.2f\r\n"
         "allocator_frag_bytes:%zu\r\n"
         "allocator_rss_ratio:%.2f\r\n"
         "allocator_rss_bytes:%lld\r\n"
         "rss_overhead_ratio:%.2f\r\n"
         "rss_overhead_bytes:%lld\r\n"
         "mem_fragmentation_ratio:%.2f\r\n"
         "mem_fragmentation_bytes:%lld\r\n"
         "mem_not_counted_for_evict:0\r\n"
         "mem_replication_backlog:0\r\n"
         "mem_total_replication_buffers:0\r\n"
         "mem_clients_slaves:0\r\n"
         "mem_clients_normal:%zu\r\n"
         "mem_cluster_links:0\r\n"
         "mem_aof_buffer:0\r\n"
         "mem_allocator:jemalloc-5.3.0\r\n"
         "active_defrag_running:%d\r\n"
         "lazyfree_pending_objects:0\r\n"
         "lazyfreed_objects:0\r\n",
         used, h_used, m->rss, h_rss, peak, h_peak, peak ? 100.0 * (double)used / (double)peak : 0,
         overhead, kv_srv.startup_allocated, dataset,
         net ? 100.0 * (double)dataset / (double)net : 0, m->allocated, m->active, m->resident,
         sysmem, h_sys, h_zero, h_zero, h_zero, kv_srv.cfg.maxmemory, h_max,
         kv_policy_name(kv_srv.cfg.maxmemory_policy), frag_ratio, m->frag_smallbins, rss_ratio,
         (long long)m->resident - (long long)m->active, rss_over,
         (long long)m->rss - (long long)m->resident, memfrag, (long long)m->rss - (long long)used,
         cmem, kv_srv.active_defrag_running);
}

static void section_persistence(buf_t *b) {
    char rdb[1024];
    kv_persist_info(rdb, sizeof(rdb));
    addf(b,
         "# Persistence\r\n"
         "%s"
         "%s" /* aof_enabled .. aof_last_cow_size (aof.c) */
         "module_fork_in_progress:0\r\n"
         "module_fork_last_cow_size:0\r\n"
         "%s", /* aof_current_size .. when AOF is on (aof.c) */
         rdb, kv_aof_info(0), kv_aof_info(1));
}

static void section_stats(buf_t *b) {
    size_t trk[4];
    kv_tracking_info(&trk[0], &trk[1], &trk[2], &trk[3]);
    const kv_server_t *s = &kv_srv;
    size_t ps_channels, ps_patterns, ps_shard;
    kv_pubsub_stats(&ps_channels, &ps_patterns, &ps_shard);
    addf(b,
         "# Stats\r\n"
         "total_connections_received:%llu\r\n"
         "total_commands_processed:%llu\r\n"
         "instantaneous_ops_per_sec:%lld\r\n"
         "total_net_input_bytes:%llu\r\n"
         "total_net_output_bytes:%llu\r\n"
         "total_net_repl_input_bytes:0\r\n"
         "total_net_repl_output_bytes:0\r\n"
         "instantaneous_input_kbps:0.00\r\n"
         "instantaneous_output_kbps:0.00\r\n"
         "instantaneous_input_repl_kbps:0.00\r\n"
         "instantaneous_output_repl_kbps:0.00\r\n"
         "rejected_connections:%llu\r\n"
         "sync_full:0\r\n"
         "sync_partial_ok:0\r\n"
         "sync_partial_err:0\r\n"
         "expired_keys:%llu\r\n"
         "expired_stale_perc:0.00\r\n"
         "expired_time_cap_reached_count:%llu\r\n"
         "expire_cycle_cpu_milliseconds:%llu\r\n"
         "evicted_keys:%llu\r\n"
         "evicted_clients:0\r\n"
         "total_eviction_exceeded_time:0\r\n"
         "current_eviction_exceeded_time:0\r\n"
         "keyspace_hits:%llu\r\n"
         "keyspace_misses:%llu\r\n"
         "pubsub_channels:%zu\r\n"
         "pubsub_patterns:%zu\r\n"
         "pubsubshard_channels:%zu\r\n"
         "latest_fork_usec:0\r\n"
         "total_forks:0\r\n"
         "migrate_cached_sockets:0\r\n"
         "slave_expires_tracked_keys:0\r\n"
         "active_defrag_hits:%llu\r\n"
         "active_defrag_misses:%llu\r\n"
         "active_defrag_key_hits:%llu\r\n"
         "active_defrag_key_misses:%llu\r\n"
         "total_active_defrag_time:%llu\r\n"
         "current_active_defrag_time:%llu\r\n"
         "active_defrag_longest_slice_us:%llu\r\n"
         "active_defrag_longest_slice_cpu_us:%llu\r\n"
         "tracking_total_keys:%zu\r\n"
         "tracking_total_items:%zu\r\n"
         "tracking_total_prefixes:%zu\r\n"
         "unexpected_error_replies:%llu\r\n"
         "total_error_replies:%llu\r\n"
         "dump_payload_sanitizations:0\r\n"
         "total_reads_processed:0\r\n"
         "total_writes_processed:0\r\n"
         "io_threaded_reads_processed:0\r\n"
         "io_threaded_writes_processed:0\r\n"
         "reply_buffer_shrinks:0\r\n"
         "reply_buffer_expands:0\r\n"
         "client_query_buffer_limit_disconnections:%llu\r\n"
         "client_output_buffer_limit_disconnections:%llu\r\n"
         "acl_access_denied_auth:%llu\r\n"
         "acl_access_denied_cmd:0\r\n"
         "acl_access_denied_key:0\r\n"
         "acl_access_denied_channel:0\r\n",
         (unsigned long long)s->stat_numconnections, (unsigned long long)s->stat_numcommands,
         kv_server_inst_ops(), (unsigned long long)s->stat_net_input_bytes,
         (unsigned long long)s->stat_net_output_bytes, (unsigned long long)s->stat_rejected_conn,
         (unsigned long long)s->stat_expiredkeys,
         (unsigned long long)s->stat_expired_time_cap_reached,
         (unsigned long long)(s->stat_expire_cycle_us / 1000),
         (unsigned long long)s->stat_evictedkeys, (unsigned long long)s->stat_keyspace_hits,
         (unsigned long long)s->stat_keyspace_misses, ps_channels, ps_patterns, ps_shard,
         (unsigned long long)s->stat_active_defrag_hits,
         (unsigned long long)s->stat_active_defrag_misses,
         (unsigned long long)s->stat_active_defrag_key_hits,
         (unsigned long long)s->stat_active_defrag_key_misses,
         (unsigned long long)s->stat_total_active_defrag_time_ms,
         (unsigned long long)s->stat_current_active_defrag_time_ms,
         (unsigned long long)s->stat_active_defrag_longest_slice_us,
         (unsigned long long)s->stat_active_defrag_longest_slice_cpu_us, trk[1], trk[2], trk[3],
         (unsigned long long)s->stat_unexpected_error_replies,
         (unsigned long long)s->stat_total_error_replies,
         (unsigned long long)s->stat_client_qbuf_limit_disconnections,
         (unsigned long long)s->stat_client_outbuf_limit_disconnections,
         (unsigned long long)s->stat_acl_denied_auth);
}

static void section_replication(buf_t *b) {
    addf(b,
         "# Replication\r\n"
         "role:master\r\n"
         "connected_slaves:0\r\n"
         "master_failover_state:no-failover\r\n"
         "master_replid:%s\r\n"
         "master_replid2:0000000000000000000000000000000000000000\r\n"
         "master_repl_offset:0\r\n"
         "second_repl_offset:-1\r\n"
         "repl_backlog_active:0\r\n"
         "repl_backlog_size:1048576\r\n"
         "repl_backlog_first_byte_offset:0\r\n"
         "repl_backlog_histlen:0\r\n",
         kv_srv.run_id);
}

static void section_cpu(buf_t *b) {
    struct rusage self, children;
    getrusage(RUSAGE_SELF, &self);
    getrusage(RUSAGE_CHILDREN, &children);
#define TV(t) ((double)(t).tv_sec + (double)(t).tv_usec / 1000000.0)
    addf(b,
         "# CPU\r\n"
         "used_cpu_sys:%f\r\n"
         "used_cpu_user:%f\r\n"
         "used_cpu_sys_children:%f\r\n"
         "used_cpu_user_children:%f\r\n"
         "used_cpu_sys_main_thread:%f\r\n"
         "used_cpu_user_main_thread:%f\r\n",
         TV(self.ru_stime), TV(self.ru_utime), TV(children.ru_stime), TV(children.ru_utime),
         TV(self.ru_stime), TV(self.ru_utime));
#undef TV
}

static void section_errorstats(buf_t *b) {
    addf(b, "# Errorstats\r\n");
    for (int i = 0; i < kv_srv.nerrorstats; i++)
        addf(b, "errorstat_%s:count=%llu\r\n", kv_srv.errorstats[i].code,
             (unsigned long long)kv_srv.errorstats[i].count);
}

static void cmdstat_one(kv_cmd_t *cmd, void *priv) {
    buf_t *b = priv;
    if (cmd->calls == 0 && cmd->failed_calls == 0 && cmd->rejected_calls == 0) return;
    addf(b,
         "cmdstat_%s:calls=%llu,usec=%llu,usec_per_call=%.2f,rejected_calls=%llu,"
         "failed_calls=%llu\r\n",
         cmd->fullname, (unsigned long long)cmd->calls, (unsigned long long)cmd->usec,
         cmd->calls ? (double)cmd->usec / (double)cmd->calls : 0.0,
         (unsigned long long)cmd->rejected_calls, (unsigned long long)cmd->failed_calls);
}

static void section_commandstats(buf_t *b) {
    addf(b, "# Commandstats\r\n");
    kv_cmd_foreach(cmdstat_one, b);
}

static void section_latencystats(buf_t *b) {
    char *s = kv_latency_info_stats();
    if (s == NULL) {
        b->oom = true;
        return;
    }
    addf(b, "%s", s);
    free(s);
}

static void section_keyspace(buf_t *b) {
    addf(b, "# Keyspace\r\n");
    for (int i = 0; i < kv_srv.ndbs; i++) {
        const kv_db_t *db = &kv_srv.dbs[i];
        size_t keys = kv_db_size(db), vkeys = kv_db_expires_size(db);
        if (keys == 0 && vkeys == 0) continue;
        addf(b, "db%d:keys=%zu,expires=%zu,avg_ttl=%lld\r\n", i, keys, vkeys, db->avg_ttl);
    }
}

typedef struct section {
    const char *name;
    void (*fn)(buf_t *b);
    bool in_default;
} section_t;

static const section_t sections[] = {
    {"server", section_server, true},
    {"clients", section_clients, true},
    {"memory", section_memory, true},
    {"persistence", section_persistence, true},
    {"stats", section_stats, true},
    {"replication", section_replication, true},
    {"cpu", section_cpu, true},
    {"modules", NULL, true},
    {"commandstats", section_commandstats, false},
    {"errorstats", section_errorstats, true},
    {"latencystats", section_latencystats, false},
    {"cluster", NULL, true},
    {"keyspace", section_keyspace, true},
};
#define NSECTIONS (sizeof(sections) / sizeof(sections[0]))

char *kv_info_string(const kv_arg_t *args, int nargs, size_t *len) {
    bool want[NSECTIONS] = {false};
    kv_defrag_metrics_sync();
    if (nargs == 0) {
        for (size_t i = 0; i < NSECTIONS; i++)
            want[i] = sections[i].in_default;
    }
    for (int a = 0; a < nargs; a++) {
        if (kv_arg_is(&args[a], "default")) {
            for (size_t i = 0; i < NSECTIONS; i++)
                want[i] |= sections[i].in_default;
        } else if (kv_arg_is(&args[a], "all") || kv_arg_is(&args[a], "everything")) {
            for (size_t i = 0; i < NSECTIONS; i++)
                want[i] = true;
        } else {
            for (size_t i = 0; i < NSECTIONS; i++)
                if (kv_arg_is(&args[a], sections[i].name)) want[i] = true;
        }
    }
    buf_t b = {0};
    b.cap = 8192;
    b.p = malloc(b.cap);
    if (b.p == NULL) return NULL;
    b.p[0] = '\0';
    int n = 0;
    for (size_t i = 0; i < NSECTIONS; i++) {
        if (!want[i]) continue;
        if (n++) addf(&b, "\r\n");
        if (sections[i].fn) {
            sections[i].fn(&b);
        } else if (!strcmp(sections[i].name, "modules")) {
            addf(&b, "# Modules\r\n");
        } else {
            addf(&b, "# Cluster\r\ncluster_enabled:0\r\n");
        }
    }
    if (b.oom) {
        free(b.p);
        return NULL;
    }
    *len = b.len;
    return b.p;
}
