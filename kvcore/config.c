/* SPDX-License-Identifier: MIT */
/*
 * config.c - the configuration table: defaults, the config file and `--name value`
 * arguments, CONFIG GET/SET values.
 *
 * One static row per directive (name, optional alias, type, bounds, default, field
 * offset); the file parser, the argument parser, CONFIG SET and CONFIG GET all go through
 * the same row and the same value parser, so a value accepted at start-up is accepted at
 * run time and is printed back the same way. Error texts are Redis 7.0's ("argument must
 * be between 1 and 64 inclusive", "argument(s) must be one of the following: ..."). Rows
 * marked IMMUTABLE are start-up only (heap-dump-dir: a network client must not choose
 * where files are written); rows marked PROTECTED (dir, dbfilename) are set by CONFIG SET
 * only as enable-protected-configs allows, as in Redis 7.
 */
#include "kv_internal.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

enum { T_BOOL, T_INT, T_LL, T_MEM, T_ENUM, T_STRING, T_SAVE, T_OBUF, T_NOTIFY };
#define IMMUTABLE 1u
#define MULTI_ARG 2u /* the file form takes several words, joined by spaces */
#define PROTECTED 4u /* CONFIG SET only as enable-protected-configs allows (dir, dbfilename) */

typedef struct enum_val {
    const char *name;
    int val;
} enum_val_t;

static const enum_val_t policy_enum[] = {{"volatile-lru", KV_POLICY_VOLATILE_LRU},
                                         {"volatile-lfu", KV_POLICY_VOLATILE_LFU},
                                         {"volatile-random", KV_POLICY_VOLATILE_RANDOM},
                                         {"volatile-ttl", KV_POLICY_VOLATILE_TTL},
                                         {"allkeys-lru", KV_POLICY_ALLKEYS_LRU},
                                         {"allkeys-lfu", KV_POLICY_ALLKEYS_LFU},
                                         {"allkeys-random", KV_POLICY_ALLKEYS_RANDOM},
                                         {"noeviction", KV_POLICY_NOEVICTION},
                                         {NULL, 0}};
static const enum_val_t loglevel_enum[] = {{"debug", KV_LOG_DEBUG},
                                           {"verbose", KV_LOG_VERBOSE},
                                           {"notice", KV_LOG_NOTICE},
                                           {"warning", KV_LOG_WARNING},
                                           {NULL, 0}};

static const enum_val_t fsync_enum[] = {{"always", KV_AOF_FSYNC_ALWAYS},
                                        {"everysec", KV_AOF_FSYNC_EVERYSEC},
                                        {"no", KV_AOF_FSYNC_NO},
                                        {NULL, 0}};

static const enum_val_t debug_enum[] = {{"no", 0}, {"yes", 1}, {"local", 2}, {NULL, 0}};

typedef struct cfg_row {
    const char *name;
    const char *alias;
    int type;
    unsigned flags;
    size_t off;
    long long min, max;
    long long dflt;
    const char *dflt_str;
    const enum_val_t *enums;
} cfg_row_t;

#define F(field) offsetof(kv_config_values_t, field)
#define BOOL(n, a, fl, field, d)                                                                   \
    { n, a, T_BOOL, fl, F(field), 0, 1, d, NULL, NULL }
#define INT(n, a, fl, field, lo, hi, d)                                                            \
    { n, a, T_INT, fl, F(field), lo, hi, d, NULL, NULL }
#define LL(n, a, fl, field, lo, hi, d)                                                             \
    { n, a, T_LL, fl, F(field), lo, hi, d, NULL, NULL }
#define MEM(n, a, fl, field, lo, hi, d)                                                            \
    { n, a, T_MEM, fl, F(field), lo, hi, d, NULL, NULL }
#define ENUM(n, fl, field, e, d)                                                                   \
    { n, NULL, T_ENUM, fl, F(field), 0, 0, d, NULL, e }
#define STR(n, fl, field, d)                                                                       \
    { n, NULL, T_STRING, fl, F(field), 0, 0, 0, d, NULL }

static const cfg_row_t cfg_rows[] = {
    STR("bind", IMMUTABLE | MULTI_ARG, bind, "127.0.0.1"),
    INT("port", NULL, IMMUTABLE, port, 0, 65535, 6379),
    INT("tcp-backlog", NULL, IMMUTABLE, tcp_backlog, 0, INT_MAX, 511),
    LL("timeout", NULL, 0, timeout, 0, INT_MAX, 0),
    INT("tcp-keepalive", NULL, 0, tcp_keepalive, 0, INT_MAX, 300),
    INT("databases", NULL, IMMUTABLE, databases, 1, INT_MAX, 16),
    INT("maxclients", NULL, 0, maxclients, 1, INT_MAX, 10000),
    MEM("maxmemory", NULL, 0, maxmemory, 0, LLONG_MAX, 0),
    ENUM("maxmemory-policy", 0, maxmemory_policy, policy_enum, KV_POLICY_NOEVICTION),
    INT("maxmemory-samples", NULL, 0, maxmemory_samples, 1, INT_MAX, 5),
    INT("maxmemory-eviction-tenacity", NULL, 0, maxmemory_eviction_tenacity, 0, 100, 10),
    INT("lfu-log-factor", NULL, 0, lfu_log_factor, 0, INT_MAX, 10),
    INT("lfu-decay-time", NULL, 0, lfu_decay_time, 0, INT_MAX, 1),
    INT("hz", NULL, 0, hz, 0, INT_MAX, 10),
    BOOL("dynamic-hz", NULL, 0, dynamic_hz, 1),
    BOOL("activerehashing", NULL, 0, activerehashing, 1),
    MEM("proto-max-bulk-len", NULL, 0, proto_max_bulk_len, 1024 * 1024, LLONG_MAX,
        512LL * 1024 * 1024),
    MEM("client-query-buffer-limit", NULL, 0, client_query_buffer_limit, 1024 * 1024, LONG_MAX,
        1024LL * 1024 * 1024),
    {"client-output-buffer-limit", NULL, T_OBUF, MULTI_ARG, F(obuf_limits), 0, 0, 0, NULL, NULL},
    INT("active-expire-effort", NULL, 0, active_expire_effort, 1, 10, 1),
    LL("busy-poll-us", NULL, 0, busy_poll_us, 0, 1000000, 50),
    STR("heap-dump-dir", IMMUTABLE, heap_dump_dir, ""),
    STR("logfile", IMMUTABLE, logfile, ""),
    ENUM("loglevel", 0, loglevel, loglevel_enum, KV_LOG_NOTICE),
    STR("pidfile", IMMUTABLE, pidfile, ""),
    STR("dir", PROTECTED, dir, NULL),
    {"save", NULL, T_SAVE, MULTI_ARG, F(save), 0, 0, 0, "3600 1 300 100 60 10000", NULL},
    STR("dbfilename", PROTECTED, dbfilename, "dump.rdb"),
    BOOL("rdbcompression", NULL, 0, rdbcompression, 1),
    BOOL("rdbchecksum", NULL, IMMUTABLE, rdbchecksum, 1),
    BOOL("stop-writes-on-bgsave-error", NULL, 0, stop_writes_on_bgsave_error, 1),
    INT("rdb-key-save-delay", NULL, 0, rdb_key_save_delay, 0, INT_MAX, 0),
    BOOL("appendonly", NULL, 0, appendonly, 0),
    ENUM("appendfsync", 0, appendfsync, fsync_enum, KV_AOF_FSYNC_EVERYSEC),
    STR("appendfilename", IMMUTABLE, appendfilename, "appendonly.aof"),
    STR("appenddirname", IMMUTABLE, appenddirname, "appendonlydir"),
    BOOL("aof-use-rdb-preamble", NULL, 0, aof_use_rdb_preamble, 1),
    BOOL("aof-load-truncated", NULL, 0, aof_load_truncated, 1),
    BOOL("aof-rewrite-incremental-fsync", NULL, 0, aof_rewrite_incremental_fsync, 1),
    BOOL("no-appendfsync-on-rewrite", NULL, 0, no_appendfsync_on_rewrite, 0),
    INT("auto-aof-rewrite-percentage", NULL, 0, auto_aof_rewrite_perc, 0, INT_MAX, 100),
    MEM("auto-aof-rewrite-min-size", NULL, 0, auto_aof_rewrite_min_size, 0, LLONG_MAX,
        64LL * 1024 * 1024),
    BOOL("daemonize", NULL, IMMUTABLE, daemonize, 0),
    BOOL("protected-mode", NULL, 0, protected_mode, 1),
    BOOL("lazyfree-lazy-eviction", NULL, 0, lazyfree_lazy_eviction, 0),
    BOOL("lazyfree-lazy-expire", NULL, 0, lazyfree_lazy_expire, 0),
    BOOL("lazyfree-lazy-server-del", NULL, 0, lazyfree_lazy_server_del, 0),
    BOOL("lazyfree-lazy-user-del", NULL, 0, lazyfree_lazy_user_del, 0),
    BOOL("lazyfree-lazy-user-flush", NULL, 0, lazyfree_lazy_user_flush, 0),
    LL("latency-monitor-threshold", NULL, 0, latency_monitor_threshold, 0, LLONG_MAX, 0),
    BOOL("latency-tracking", NULL, 0, latency_tracking, 1),
    LL("tracking-table-max-keys", NULL, 0, tracking_table_max_keys, 0, LONG_MAX, 1000000),
    STR("latency-tracking-info-percentiles", MULTI_ARG, latency_tracking_info_percentiles,
        "50 99 99.9"),
    LL("slowlog-log-slower-than", NULL, 0, slowlog_log_slower_than, -1, LLONG_MAX, 10000),
    LL("slowlog-max-len", NULL, 0, slowlog_max_len, 0, LONG_MAX, 128),
    BOOL("activedefrag", NULL, 0, activedefrag, 0),
    MEM("active-defrag-ignore-bytes", NULL, 0, active_defrag_ignore_bytes, 1, LLONG_MAX,
        100LL * 1024 * 1024),
    INT("active-defrag-threshold-lower", NULL, 0, active_defrag_threshold_lower, 0, 1000, 10),
    INT("active-defrag-threshold-upper", NULL, 0, active_defrag_threshold_upper, 0, 1000, 100),
    INT("active-defrag-cycle-min", NULL, 0, active_defrag_cycle_min, 1, 99, 1),
    INT("active-defrag-cycle-max", NULL, 0, active_defrag_cycle_max, 1, 99, 25),
    INT("active-defrag-cycle-us", NULL, 0, active_defrag_cycle_us, 0, 100000, 500),
    LL("active-defrag-max-scan-fields", NULL, 0, active_defrag_max_scan_fields, 1, LONG_MAX, 1000),
    LL("hash-max-listpack-entries", "hash-max-ziplist-entries", 0, hash_max_listpack_entries, 0,
       LONG_MAX, 512),
    MEM("hash-max-listpack-value", "hash-max-ziplist-value", 0, hash_max_listpack_value, 0,
        LONG_MAX, 64),
    LL("list-max-listpack-size", "list-max-ziplist-size", 0, list_max_listpack_size, INT_MIN,
       INT_MAX, -2),
    INT("list-compress-depth", NULL, 0, list_compress_depth, 0, INT_MAX, 0),
    LL("set-max-intset-entries", NULL, 0, set_max_intset_entries, 0, LONG_MAX, 512),
    LL("set-max-listpack-entries", NULL, 0, set_max_listpack_entries, 0, LONG_MAX, 128),
    MEM("set-max-listpack-value", NULL, 0, set_max_listpack_value, 0, LONG_MAX, 64),
    LL("zset-max-listpack-entries", "zset-max-ziplist-entries", 0, zset_max_listpack_entries, 0,
       LONG_MAX, 128),
    MEM("zset-max-listpack-value", "zset-max-ziplist-value", 0, zset_max_listpack_value, 0,
        LONG_MAX, 64),
    MEM("hll-sparse-max-bytes", NULL, 0, hll_sparse_max_bytes, 0, LONG_MAX, 3000),
    BOOL("jemalloc-bg-thread", NULL, 0, jemalloc_bg_thread, 1),
    STR("unixsocket", IMMUTABLE, unixsocket, ""),
    INT("io-threads", NULL, IMMUTABLE, io_threads, 1, 128, 1),
    BOOL("always-show-logo", NULL, IMMUTABLE, always_show_logo, 0),
    ENUM("enable-debug-command", IMMUTABLE, enable_debug_command, debug_enum, 0),
    ENUM("enable-protected-configs", IMMUTABLE, enable_protected_configs, debug_enum, 0),
    STR("requirepass", 0, requirepass, ""),
    {"notify-keyspace-events", NULL, T_NOTIFY, 0, F(notify_keyspace_events), 0, 0, 0, NULL, NULL},
};
#define NROWS (sizeof(cfg_rows) / sizeof(cfg_rows[0]))

static const char *obuf_class_names[3] = {"normal", "slave", "pubsub"};
static const kv_obuf_limit_t obuf_defaults[3] = {
    {0, 0, 0}, {256ULL << 20, 64ULL << 20, 60}, {32ULL << 20, 8ULL << 20, 60}};

static const cfg_row_t *find_row(const char *name) {
    for (size_t i = 0; i < NROWS; i++) {
        if (!strcasecmp(cfg_rows[i].name, name)) return &cfg_rows[i];
        if (cfg_rows[i].alias && !strcasecmp(cfg_rows[i].alias, name)) return &cfg_rows[i];
    }
    return NULL;
}

const char *kv_policy_name(int policy) {
    for (const enum_val_t *e = policy_enum; e->name; e++)
        if (e->val == policy) return e->name;
    return "unknown";
}

#define FIELD(cfg, row, type) ((type *)((char *)(cfg) + (row)->off))

/* --- Values --- */

static int set_string(char **slot, const char *v) {
    char *n = strdup(v);
    if (n == NULL) return -ENOMEM;
    free(*slot);
    *slot = n;
    return 0;
}

static int parse_obuf(kv_obuf_limit_t out[3], const char *value, const char **err) {
    kv_arg_t argv[64];
    char *scratch = NULL;
    size_t cap = 0;
    int argc = kv_split_args(value, strlen(value), &scratch, &cap, argv, 64);
    int rc = -EINVAL;
    kv_obuf_limit_t tmp[3];
    memcpy(tmp, out, sizeof(tmp));
    if (argc < 0 || argc % 4 != 0 || argc == 0) {
        *err = "Wrong number of arguments in buffer limit configuration.";
        goto out;
    }
    for (int i = 0; i < argc; i += 4) {
        int cls = -1;
        if (kv_arg_is(&argv[i], "normal"))
            cls = 0;
        else if (kv_arg_is(&argv[i], "slave") || kv_arg_is(&argv[i], "replica"))
            cls = 1;
        else if (kv_arg_is(&argv[i], "pubsub"))
            cls = 2;
        if (cls < 0) {
            *err = "Invalid client class specified in buffer limit configuration.";
            goto out;
        }
        unsigned long long hard, soft;
        long long secs;
        if (!kv_memtoull(argv[i + 1].ptr, argv[i + 1].len, &hard) ||
            !kv_memtoull(argv[i + 2].ptr, argv[i + 2].len, &soft) ||
            !kv_str2ll(argv[i + 3].ptr, argv[i + 3].len, &secs) || secs < 0) {
            *err = "Error in hard, soft or soft_seconds setting in buffer limit configuration.";
            goto out;
        }
        tmp[cls].hard = hard;
        tmp[cls].soft = soft;
        tmp[cls].soft_seconds = secs;
    }
    memcpy(out, tmp, sizeof(tmp));
    rc = 0;
out:
    free(scratch);
    return rc;
}

static int parse_save(const char *value, const char **err) {
    kv_arg_t argv[64];
    char *scratch = NULL;
    size_t cap = 0;
    int argc = kv_split_args(value, strlen(value), &scratch, &cap, argv, 64);
    int rc = 0;
    if (argc < 0 || argc % 2 != 0) rc = -EINVAL;
    for (int i = 0; rc == 0 && i < argc; i++) {
        long long v;
        if (!kv_str2ll(argv[i].ptr, argv[i].len, &v) || v < 0) rc = -EINVAL;
    }
    free(scratch);
    if (rc != 0) *err = "Invalid save parameters";
    return rc;
}

/* Parses value for row into cfg. 0, -EINVAL (*err set) or -ENOMEM. */
static int row_set(kv_config_values_t *cfg, const cfg_row_t *row, const char *value,
                   const char **err) {
    static char range_err[128];
    static char enum_err[512];
    size_t vlen = strlen(value);
    long long ll = 0;
    unsigned long long ull;
    switch (row->type) {
    case T_BOOL:
        if (!strcasecmp(value, "yes"))
            *FIELD(cfg, row, bool) = true;
        else if (!strcasecmp(value, "no"))
            *FIELD(cfg, row, bool) = false;
        else {
            *err = "argument must be 'yes' or 'no'";
            return -EINVAL;
        }
        return 0;
    case T_INT:
    case T_LL:
        if (!kv_str2ll(value, vlen, &ll)) {
            *err = "argument couldn't be parsed into an integer";
            return -EINVAL;
        }
        goto range;
    case T_MEM:
        if (!kv_memtoull(value, vlen, &ull) || ull > (unsigned long long)LLONG_MAX) {
            if (row->min < 0 && kv_str2ll(value, vlen, &ll)) goto range;
            *err = "argument must be a memory value";
            return -EINVAL;
        }
        ll = (long long)ull;
        goto range;
    case T_ENUM:
        for (const enum_val_t *e = row->enums; e->name; e++) {
            if (!strcasecmp(e->name, value)) {
                *FIELD(cfg, row, int) = e->val;
                return 0;
            }
        }
        snprintf(enum_err, sizeof(enum_err), "argument(s) must be one of the following: ");
        for (const enum_val_t *e = row->enums; e->name; e++) {
            strncat(enum_err, e->name, sizeof(enum_err) - strlen(enum_err) - 1);
            if (e[1].name) strncat(enum_err, ", ", sizeof(enum_err) - strlen(enum_err) - 1);
        }
        *err = enum_err;
        return -EINVAL;
    case T_STRING:
        /* As Redis: dir is where the process works ("" is no directory: ENOENT), and a
         * dbfilename is a name inside it, never a path. */
        if (row->off == F(dir) && chdir(value) != 0) {
            *err = strerror(errno);
            return -EINVAL;
        }
        if (row->off == F(dbfilename) && strchr(value, '/') != NULL) {
            *err = "dbfilename can't be a path, just a filename";
            return -EINVAL;
        }
        if (row->off == F(appendfilename) && strchr(value, '/') != NULL) {
            *err = "appendfilename can't be a path, just a filename";
            return -EINVAL;
        }
        if (row->off == F(appenddirname) && strchr(value, '/') != NULL) {
            *err = "appenddirname can't be a path, just a dirname";
            return -EINVAL;
        }
        return set_string(FIELD(cfg, row, char *), value);
    case T_SAVE:
        if (parse_save(value, err) != 0) return -EINVAL;
        return set_string(FIELD(cfg, row, char *), value);
    case T_OBUF: return parse_obuf(FIELD(cfg, row, kv_obuf_limit_t), value, err);
    case T_NOTIFY:
        if ((ll = kv_notify_flags_parse(value)) < 0) {
            *err = "Invalid event class character. Use 'Ag$lshzxeKEtmdn'.";
            return -EINVAL;
        }
        *FIELD(cfg, row, int) = (int)ll;
        return 0;
    default: *err = "unsupported config type"; return -EINVAL;
    }
range:
    if (ll < row->min || ll > row->max) {
        snprintf(range_err, sizeof(range_err), "argument must be between %lld and %lld inclusive",
                 row->min, row->max);
        *err = range_err;
        return -EINVAL;
    }
    if (row->off == F(hz)) ll = ll < 1 ? 1 : ll > 500 ? 500 : ll; /* Redis's updateHZ */
    if (row->type == T_INT)
        *FIELD(cfg, row, int) = (int)ll;
    else
        *FIELD(cfg, row, long long) = ll;
    return 0;
}

static void row_get(const kv_config_values_t *cfg, const cfg_row_t *row, char *buf, size_t len) {
    switch (row->type) {
    case T_BOOL: snprintf(buf, len, "%s", *FIELD(cfg, row, bool) ? "yes" : "no"); break;
    case T_INT: snprintf(buf, len, "%d", *FIELD(cfg, row, int)); break;
    case T_LL:
    case T_MEM: snprintf(buf, len, "%lld", *FIELD(cfg, row, long long)); break;
    case T_ENUM: {
        int v = *FIELD(cfg, row, int);
        const char *name = "";
        for (const enum_val_t *e = row->enums; e->name; e++)
            if (e->val == v) name = e->name;
        snprintf(buf, len, "%s", name);
        break;
    }
    case T_STRING:
    case T_SAVE: {
        const char *s = *FIELD(cfg, row, char *);
        if (row->off == F(dir)) {
            if (getcwd(buf, len) == NULL) snprintf(buf, len, "%s", s ? s : "");
            break;
        }
        snprintf(buf, len, "%s", s ? s : "");
        break;
    }
    case T_OBUF: {
        const kv_obuf_limit_t *l = FIELD(cfg, row, kv_obuf_limit_t);
        size_t n = 0;
        buf[0] = '\0';
        for (int i = 0; i < 3 && n < len; i++)
            n += (size_t)snprintf(buf + n, len - n, "%s%s %llu %llu %lld", i ? " " : "",
                                  obuf_class_names[i], l[i].hard, l[i].soft, l[i].soft_seconds);
        break;
    }
    case T_NOTIFY: kv_notify_flags_str(*FIELD(cfg, row, int), buf, len); break;
    default: buf[0] = '\0';
    }
}

/* --- Public API --- */

int kv_config_defaults(kv_config_values_t *cfg) {
    memset(cfg, 0, sizeof(*cfg));
    for (size_t i = 0; i < NROWS; i++) {
        const cfg_row_t *r = &cfg_rows[i];
        switch (r->type) {
        case T_BOOL: *FIELD(cfg, r, bool) = r->dflt != 0; break;
        case T_INT:
        case T_ENUM:
        case T_NOTIFY: *FIELD(cfg, r, int) = (int)r->dflt; break;
        case T_LL:
        case T_MEM: *FIELD(cfg, r, long long) = r->dflt; break;
        case T_STRING:
        case T_SAVE:
            if (r->dflt_str && set_string(FIELD(cfg, r, char *), r->dflt_str) != 0) return -ENOMEM;
            break;
        case T_OBUF: memcpy(FIELD(cfg, r, kv_obuf_limit_t), obuf_defaults, sizeof(obuf_defaults));
        }
    }
    return 0;
}

void kv_config_fini(kv_config_values_t *cfg) {
    for (size_t i = 0; i < NROWS; i++) {
        const cfg_row_t *r = &cfg_rows[i];
        if (r->type == T_STRING || r->type == T_SAVE) {
            free(*FIELD(cfg, r, char *));
            *FIELD(cfg, r, char *) = NULL;
        }
    }
}

/* Joins argv[1..argc) with spaces (empty arguments kept as ""). */
static char *join_args(const kv_arg_t *argv, int argc) {
    size_t n = 1;
    for (int i = 1; i < argc; i++)
        n += argv[i].len + 3;
    char *s = malloc(n);
    if (s == NULL) return NULL;
    size_t o = 0;
    for (int i = 1; i < argc; i++) {
        if (i > 1) s[o++] = ' ';
        memcpy(s + o, argv[i].ptr, argv[i].len);
        o += argv[i].len;
    }
    s[o] = '\0';
    return s;
}

/*
 * Applies one directive (argv[0] = name). Returns 0 or -EINVAL with *err.
 */
static int apply_directive(kv_config_values_t *cfg, const kv_arg_t *argv, int argc,
                           const char **err) {
    char name[64];
    size_t nl = argv[0].len < sizeof(name) - 1 ? argv[0].len : sizeof(name) - 1;
    memcpy(name, argv[0].ptr, nl);
    name[nl] = '\0';
    const cfg_row_t *row = find_row(name);
    if (row == NULL || argc < 2 || (argc > 2 && !(row->flags & MULTI_ARG))) {
        *err = "Bad directive or wrong number of arguments";
        return -EINVAL;
    }
    char *value = join_args(argv, argc);
    if (value == NULL) {
        *err = "Out of memory";
        return -ENOMEM;
    }
    int rc;
    if (row->type == T_OBUF) {
        /* The file form sets one class per line; parse_obuf takes groups of four. */
        rc = parse_obuf(FIELD(cfg, row, kv_obuf_limit_t), value, err);
    } else if (row->type == T_SAVE && argc == 2 && argv[1].len == 0) {
        rc = set_string(FIELD(cfg, row, char *), "");
    } else {
        rc = row_set(cfg, row, value, err);
    }
    free(value);
    if (rc == -ENOMEM) *err = "Out of memory";
    return rc;
}

static void format_line_error(char *err, size_t errlen, int lineno, const char *line, size_t len,
                              const char *msg) {
    snprintf(err, errlen,
             "\n*** FATAL CONFIG FILE ERROR (kvcore " KV_VERSION " / Redis " KV_REDIS_VERSION
             " compatible) ***\nReading the configuration file, at line %d\n>>> '%.*s'\n%s",
             lineno, (int)(len > 200 ? 200 : len), line, msg);
}

/* A file's second and later `save` lines add their points to the first's (as Redis;
 * CONFIG REWRITE writes one line per point). */
static int append_save(kv_config_values_t *cfg, const kv_arg_t *argv, int argc, const char **err) {
    char *more = join_args(argv, argc);
    if (more == NULL) return -ENOMEM;
    size_t n = strlen(cfg->save) + strlen(more) + 2;
    char *all = malloc(n);
    int rc = -ENOMEM;
    if (all != NULL) {
        snprintf(all, n, "%s %s", cfg->save, more);
        rc = row_set(cfg, find_row("save"), all, err);
    }
    free(all);
    free(more);
    return rc;
}

int kv_config_load_string(kv_config_values_t *cfg, const char *text, char *err, size_t errlen) {
    const char *p = text;
    int lineno = 0;
    char *scratch = NULL;
    size_t scap = 0;
    kv_arg_t argv[128];
    int rc = 0, saves = 0;
    while (*p) {
        const char *eol = strchr(p, '\n');
        size_t len = eol ? (size_t)(eol - p) : strlen(p);
        lineno++;
        const char *line = p;
        p = eol ? eol + 1 : p + len;
        /* Trim blanks at both ends. */
        while (len > 0 && (line[0] == ' ' || line[0] == '\t' || line[0] == '\r')) {
            line++;
            len--;
        }
        while (len > 0 && (line[len - 1] == ' ' || line[len - 1] == '\t' || line[len - 1] == '\r'))
            len--;
        if (len == 0 || line[0] == '#') continue;
        int argc = kv_split_args(line, len, &scratch, &scap, argv, 128);
        if (argc < 0) {
            format_line_error(err, errlen, lineno, line, len,
                              "Unbalanced quotes in configuration line");
            rc = -EINVAL;
            break;
        }
        if (argc == 0) continue;
        const char *msg = NULL;
        if (kv_arg_is(&argv[0], "save") && saves++ > 0 && cfg->save && cfg->save[0] && argc > 2) {
            rc = append_save(cfg, argv, argc, &msg);
        } else {
            rc = apply_directive(cfg, argv, argc, &msg);
        }
        if (rc != 0) {
            format_line_error(err, errlen, lineno, line, len, msg ? msg : "Out of memory");
            rc = -EINVAL;
            break;
        }
    }
    free(scratch);
    return rc;
}

static char *read_file(const char *path, char *err, size_t errlen) {
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
    if (f == NULL) {
        snprintf(err, errlen, "Fatal error, can't open config file '%s': %s", path,
                 strerror(errno));
        return NULL;
    }
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    while (buf != NULL) {
        size_t n = fread(buf + len, 1, cap - len - 1, f);
        len += n;
        if (n == 0) break;
        if (cap - len < 2) {
            char *nb = realloc(buf, cap * 2);
            if (nb == NULL) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
    }
    if (f != stdin) fclose(f);
    if (buf == NULL) {
        snprintf(err, errlen, "Out of memory reading the config file");
        return NULL;
    }
    buf[len] = '\0';
    return buf;
}

int kv_config_from_args(kv_config_values_t *cfg, int argc, char **argv, char *err, size_t errlen,
                        bool *want_exit, char **config_file) {
    *want_exit = false;
    *config_file = NULL;
    int i = 1;
    if (argc >= 2) {
        if (!strcmp(argv[1], "-v") || !strcmp(argv[1], "--version")) {
            snprintf(err, errlen,
                     "kvcore-server v=" KV_VERSION " (Redis " KV_REDIS_VERSION
                     " protocol compatible) malloc=jemalloc bits=64");
            *want_exit = true;
            return 0;
        }
        if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
            snprintf(err, errlen,
                     "Usage: kvcore-server [/path/to/kvcore.conf] [options] [-]\n"
                     "       kvcore-server - (read config from stdin)\n"
                     "       kvcore-server -v or --version\n"
                     "       kvcore-server -h or --help\n\n"
                     "Examples:\n"
                     "       kvcore-server (run the server with default config)\n"
                     "       kvcore-server /etc/kvcore/6379.conf\n"
                     "       kvcore-server --port 7777\n"
                     "       kvcore-server /etc/mykvcore.conf --loglevel verbose\n");
            *want_exit = true;
            return 0;
        }
        if (argv[1][0] != '-' || (argv[1][0] == '-' && argv[1][1] == '\0')) {
            char *text = read_file(argv[1], err, errlen);
            if (text == NULL) return -EINVAL;
            *config_file = strdup(argv[1]);
            int rc = kv_config_load_string(cfg, text, err, errlen);
            free(text);
            if (rc != 0) return rc;
            i = 2;
        }
    }
    /* --name value [value ...] groups, applied in order after the file. */
    while (i < argc) {
        if (strncmp(argv[i], "--", 2) != 0 || argv[i][2] == '\0') {
            snprintf(err, errlen,
                     "\n*** FATAL CONFIG FILE ERROR ***\nReading the command line, at argument "
                     "%d\n>>> '%s'\nInvalid argument: options must start with --name",
                     i, argv[i]);
            return -EINVAL;
        }
        int start = i++;
        while (i < argc && strncmp(argv[i], "--", 2) != 0)
            i++;
        int n = i - start;
        kv_arg_t args[128];
        if (n > 128) n = 128;
        args[0].ptr = argv[start] + 2;
        args[0].len = strlen(argv[start] + 2);
        for (int k = 1; k < n; k++) {
            args[k].ptr = argv[start + k];
            args[k].len = strlen(argv[start + k]);
        }
        const char *msg = NULL;
        if (apply_directive(cfg, args, n, &msg) != 0) {
            char line[512];
            size_t o = 0;
            for (int k = 0; k < n && o < sizeof(line) - 1; k++)
                o += (size_t)snprintf(line + o, sizeof(line) - o, "%s%s", k ? " " : "",
                                      k ? argv[start + k] : argv[start]);
            snprintf(err, errlen,
                     "\n*** FATAL CONFIG FILE ERROR ***\nReading the command line, at argument "
                     "%d\n>>> '%s'\n%s",
                     start, line, msg);
            return -EINVAL;
        }
    }
    return 0;
}

int kv_config_set(kv_config_values_t *cfg, const char *name, const char *value, char *err,
                  size_t errlen) {
    const cfg_row_t *row = find_row(name);
    if (row == NULL) {
        snprintf(err, errlen, "Unknown option");
        return -ENOENT;
    }
    if (row->flags & IMMUTABLE) {
        snprintf(err, errlen, "can't set immutable config");
        return -EPERM;
    }
    const char *msg = NULL;
    int rc = row_set(cfg, row, value, &msg);
    if (rc != 0) snprintf(err, errlen, "%s", msg ? msg : "Out of memory");
    return rc;
}

bool kv_config_get(const kv_config_values_t *cfg, const char *name, char *buf, size_t len) {
    const cfg_row_t *row = find_row(name);
    if (row == NULL) return false;
    row_get(cfg, row, buf, len);
    return true;
}

/* --- Enumeration for CONFIG GET patterns --- */

size_t kv_config_count(void) {
    return NROWS;
}

const char *kv_config_name_at(size_t i, const char **alias) {
    if (i >= NROWS) return NULL;
    if (alias) *alias = cfg_rows[i].alias;
    return cfg_rows[i].name;
}

bool kv_config_is_immutable(const char *name) {
    const cfg_row_t *row = find_row(name);
    return row != NULL && (row->flags & IMMUTABLE);
}

bool kv_config_is_protected(const char *name) {
    const cfg_row_t *row = find_row(name);
    return row != NULL && (row->flags & PROTECTED);
}

char kv_config_kind(const char *name) {
    const cfg_row_t *row = find_row(name);
    if (row == NULL) return '\0';
    return row->type == T_MEM ? 'm' : row->type == T_STRING ? 's' : 'o';
}

const char *kv_config_canonical(const char *name) {
    const cfg_row_t *row = find_row(name);
    return row ? row->name : NULL;
}
