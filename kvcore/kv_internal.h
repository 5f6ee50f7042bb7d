/* SPDX-License-Identifier: MIT */
/*
 * kv_internal.h - kvcore's internal declarations, shared by the files of kvcore/ only.
 *
 * File map:
 *   start-up, cron, log   main.c, server.c, config.c (the directive table), clock.c
 *   network               loop.c (epoll, timers), net.c (connections, reading, limits),
 *                         auth.c (AUTH, protected mode)
 *   protocol              resp.c: the request parser only (what fuzz_kv_resp drives);
 *                         reply.c: the reply writer (kv_reply_*, RESP2 or RESP3 per
 *                         connection), deferred lengths and their count check, output
 *                         buffers, the pending-write list
 *   commands              cmd.c (table, dispatch, checks before a call), cmd_<family>.c
 *                         (string, keys, list, hash, set, zset, server, memory, bits,
 *                         sort, lcs, zalg: sorted-set algebra, geo + geohash.c),
 *                         blocked.c (blocking pops, LMPOP/ZMPOP, CLIENT UNBLOCK)
 *   shared command steps  cmd_util.c: kv_lookup_type_or_reply (the one typed lookup:
 *                         WRONGTYPE replied, NULL when absent), kv_arg_*_or_reply
 *   common replies        reply.c: kv_reply_oom, kv_reply_wrongtype, kv_reply_syntax_err...
 *   keyspace, objects     db.c, obj.c, expire.c, evict.c, ht.c/ht.h (the hashtable)
 *   types                 t_hash.c t_list.c t_set.c t_zset.c (+ .h); encodings listpack.c,
 *                         intset.c, quicklist.c, zskiplist.c
 *   defrag adapter        defrag_kv.c (engine host, per-db stages), defrag_types.c
 *   introspection         info.c, digest.c, crash.c
 *   transactions          multi.c: MULTI/EXEC/DISCARD, WATCH and its per-db index
 *   publish/subscribe     pubsub.c: channel, pattern and shard-channel tables, the
 *                         SUBSCRIBE family, PUBLISH, PUBSUB, RESP2 subscribed mode
 *   append-only file      propagate.c (what a call writes: deterministic forms, units),
 *                         aof.c (writer, fsync thread, manifest, rewrites), aof_load.c
 *                         (parser, replay), aof_rewrite.c (the dataset as commands), aof.h
 *   RDB persistence       rdb.h: rdb.c (writer, DUMP), rdb_load.c (validating reader,
 *                         RESTORE), crc64.c, persist.c (SAVE/BGSAVE and the fork child,
 *                         save points, load at start-up, MISCONF, INFO persistence)
 *   helpers               util.c (parsing, kv_d2str, glob, the PRNG kv_rand64), kv_util.h
 *                         (kv_ll2str, kv_rd32/kv_wr32: needs nothing of the server)
 *
 * Glossary:
 *   loop    the epoll event loop with microsecond timers (loop.c)
 *   client  one connection: query buffer, parsed argv (pointing into the query buffer),
 *           reply buffer + overflow blocks (net.c; replies: reply.c)
 *   obj     one allocation per key: header, optional expire, key, value (obj.c)
 *   db      one of the 16 keyspaces: a kv_ht of objects plus a TTL index of the same
 *           object pointers (db.c, expire.c)
 *   cmd     a row of the static command table (cmd.c), handlers kv_cmd_<name>
 *
 * Invariants: an object in a db's keyspace is owned by that db alone and embeds its key;
 * an object is in the TTL index iff its expire field holds a time (>= 0), and then its
 * TTL position field names its slot there. A handler may keep argv
 * pointers only for the duration of its call.
 */
#ifndef KV_INTERNAL_H
#define KV_INTERNAL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "kv.h"
#include "ht.h"
#include "kv_util.h"

#define KV_VERSION       "0.1.0"
#define KV_REDIS_VERSION "7.0.15" /* what INFO/HELLO report for client feature checks */

/* --- Small utilities (util.c) --- */

/* A byte string that something else owns. */
typedef struct kv_arg {
    const char *ptr;
    size_t len;
} kv_arg_t;

/*
 * Strict decimal conversion as Redis's string2ll: optional '-', no spaces, no '+', no
 * leading zeros, no overflow. Returns true and stores *out on success.
 */
bool kv_str2ll(const char *s, size_t len, long long *out);
/* Like kv_str2ll for unsigned values. */
bool kv_str2ull(const char *s, size_t len, unsigned long long *out);
/* kv_ll2str (integer to decimal) is in kv_util.h. kv_d2str: a double as Redis replies it
 * in RESP2 ("%.17g"; "inf", "-inf"); buf needs 32 bytes; returns the length. */
size_t kv_d2str(char *buf, double d);
/* Parses a long double as INCRBYFLOAT does (no spaces, not NaN). True on success. */
bool kv_str2ld(const char *s, size_t len, long double *out);
/* Parses a double (strtod, whole string, not NaN). True on success. */
bool kv_str2d(const char *s, size_t len, double *out);
/* Formats a long double as Redis's ld2string in "human friendly" mode; returns length. */
size_t kv_ld2str(char *buf, size_t cap, long double v);
/* Glob match as Redis's stringmatchlen (*, ?, [a-z], [^x], \\ escapes). */
bool kv_glob_match(const char *pat, size_t plen, const char *s, size_t slen, bool nocase);
/* "1.50M"-style size as INFO's *_human fields; buf needs 32 bytes. */
void kv_bytes_human(char *buf, size_t cap, unsigned long long n);
/*
 * Parses "100", "10kb", "1gb", "5m"... as Redis's memtoull. Returns true on success.
 */
bool kv_memtoull(const char *s, size_t len, unsigned long long *out);
/* Case-insensitive equality of an argument with a NUL-terminated lowercase word. */
bool kv_arg_is(const kv_arg_t *a, const char *word);
/* Wall-clock time in milliseconds / microseconds. */
int64_t kv_mstime(void);
int64_t kv_ustime(void);
/*
 * The command clock (clock.c): monotonic microseconds, never decreasing, cheap enough for
 * one read per command (the TSC scaled against CLOCK_MONOTONIC where the kernel times with
 * the TSC, else kv_monotonic_us). Its values are only comparable with each other, not with
 * kv_monotonic_us. Event-loop thread only. kv_clock_uses_tsc says which source it reads.
 */
bool kv_clock_uses_tsc(void);
/* The TSC path's state (clock.c owns it): a read less than span ticks past anchor_tsc
 * is anchor_us plus the ticks times mult (us per tick, 32.32); span is 0 while the TSC is
 * not in use, and anything else (the first reads, a re-measurement due) is
 * kv_clock_us_slow. last_us: the last value returned. */
typedef struct kv_clock_tsc {
    uint64_t anchor_tsc, anchor_us, mult, span, last_us;
} kv_clock_tsc_t;
extern kv_clock_tsc_t kv_clock_tsc;
uint64_t kv_clock_us_slow(void);
static inline uint64_t kv_clock_us(void) {
#if defined(__x86_64__)
    uint64_t d = __builtin_ia32_rdtsc() - kv_clock_tsc.anchor_tsc;
    if (__builtin_expect(d < kv_clock_tsc.span, 1)) {
        /* span x mult stays below 2^64 (clock.c): no 128-bit product needed */
        uint64_t v = kv_clock_tsc.anchor_us + ((d * kv_clock_tsc.mult) >> 32);
        if (v < kv_clock_tsc.last_us) return kv_clock_tsc.last_us;
        kv_clock_tsc.last_us = v;
        return v;
    }
#endif
    return kv_clock_us_slow();
}

/*
 * Splits a line as Redis's sdssplitargs (spaces separate, "..." with \n \r \t \b \a \\ \"
 * \xHH escapes, '...' with \' only; a closing quote must be followed by a space or the
 * end). The unescaped bytes go to *scratch (grown with realloc, owned by the caller);
 * argv gets up to max_args pointers into it. Returns the number of arguments, -EPROTO
 * for unbalanced quotes, -E2BIG when there are more than max_args, -ENOMEM.
 */
int kv_split_args(const char *line, size_t len, char **scratch, size_t *scratch_cap, kv_arg_t *argv,
                  int max_args);

/* --- Event loop (loop.c) --- */

#define KV_READABLE 1
#define KV_WRITABLE 2

typedef void (*kv_file_fn)(kv_loop_t *loop, int fd, void *priv, int mask);

/* A loop for fds below setsize; NULL on OOM or when epoll cannot be created. */
kv_loop_t *kv_loop_new(int setsize);
void kv_loop_free(kv_loop_t *loop);
/* Adds mask to the fd's watched events with fn as its handler. 0, -ERANGE, -errno. */
int kv_loop_add_file(kv_loop_t *loop, int fd, int mask, kv_file_fn fn, void *priv);
/* Removes mask from the fd's watched events. */
void kv_loop_del_file(kv_loop_t *loop, int fd, int mask);
int kv_loop_file_mask(const kv_loop_t *loop, int fd);
/* Called before every wait (writes pending replies, fast expire cycle). */
void kv_loop_set_before_sleep(kv_loop_t *loop, void (*fn)(kv_loop_t *, void *), void *priv);
/* Called after the file events of an iteration when a timer is due, before it runs
 * (writes the replies those events produced, so a timer's work does not delay them). */
void kv_loop_set_before_timers(kv_loop_t *loop, void (*fn)(kv_loop_t *, void *), void *priv);
/*
 * Adaptive busy polling before each blocking wait, for at most max_us (0 = off, the
 * default): the budget grows while events keep arriving within max_us of a wait and
 * shrinks to nothing when waits are longer (loop.c).
 */
void kv_loop_set_busy_poll(kv_loop_t *loop, int64_t max_us);
/* Runs until kv_loop_stop. */
void kv_loop_run(kv_loop_t *loop);
void kv_loop_stop(kv_loop_t *loop);
/* One iteration: waits at most until the next timer (or forever with none). */
void kv_loop_process(kv_loop_t *loop);
/* Number of registered timers. */
size_t kv_loop_timer_count(const kv_loop_t *loop);
/* True when a registered descriptor is ready (a client is waiting); consumes nothing. */
bool kv_loop_has_pending(const kv_loop_t *loop);
/* When a loop iteration last had file events to handle (kv_monotonic_us; 0: never). */
uint64_t kv_loop_last_events_us(const kv_loop_t *loop);

/* --- RESP request parser (resp.c) --- */

#define KV_PROTO_INLINE_MAX 65536 /* Redis PROTO_INLINE_MAX_SIZE */
#define KV_PROTO_MBULK_BIG  32768 /* a bulk this long gets its buffer reserved at once */
/* Before authentication (requirepass set), as Redis since 6.2.6 (CVE-2021-32675). */
#define KV_PROTO_UNAUTH_MBULK_MAX 10
#define KV_PROTO_UNAUTH_BULK_MAX  16384

/*
 * Parser state for one connection. Arguments point into the parsed buffer (multibulk) or
 * into the parser's scratch (inline). An incomplete multibulk command's progress is kept
 * as offsets from its first byte: pass the same command start again (the buffer may have
 * moved). Sticky error: once err is set every call fails with it; errstr holds the exact
 * text Redis replies ("Protocol error: ...").
 */
typedef struct kv_req {
    long long max_bulk; /* proto-max-bulk-len */
    int argc;
    int argv_cap;
    kv_arg_t *argv;
    char *scratch; /* inline arguments' unescaped bytes */
    size_t scratch_cap;
    size_t need; /* when incomplete: bytes of the command known to be needed (>= len) */
    bool is_inline;
    long long mb_left; /* multibulk: arguments still to parse (0 = at a command start) */
    size_t mb_pos;     /* multibulk: offset of the next argument's header */
    int mb_argc;       /* multibulk: arguments parsed so far (argv holds offsets) */
    int err;
    char errstr[128];
    bool unauth; /* the client must authenticate first: at most KV_PROTO_UNAUTH_* */
} kv_req_t;

void kv_req_init(kv_req_t *r, long long max_bulk);
void kv_req_fini(kv_req_t *r);
/*
 * Parses one command from buf[0..len). Returns the bytes it used (> 0) with argc/argv
 * set (argc may be 0: an empty inline line or "*0"/"*-1", nothing to run), 0 when the
 * command is incomplete (r->need tells how many bytes are known to be needed), -EPROTO
 * (malformed: errstr has the reply text) or -ENOMEM.
 */
ssize_t kv_req_parse(kv_req_t *r, const char *buf, size_t len);
/* Bytes the parser holds for arguments (argv array and inline scratch), besides the buffer. */
size_t kv_req_mem(const kv_req_t *r);
/* Between commands: gives back an argv array or scratch grown by a big command. */
void kv_req_trim(kv_req_t *r);

/* --- Clients (net.c) and the reply writer (reply.c) --- */

#define KV_REPLY_BUF 16384

typedef struct kv_reply_block {
    struct kv_reply_block *next;
    size_t size; /* capacity of data */
    size_t used;
    char data[];
} kv_reply_block_t;

enum {
    KV_CLIENT_CLOSE_AFTER_REPLY = 1u << 0,
    KV_CLIENT_CLOSE_ASAP = 1u << 1,
    KV_CLIENT_PENDING_WRITE = 1u << 2,
    KV_CLIENT_PROTOCOL_ERROR = 1u << 3,
    KV_CLIENT_IN_CMD = 1u << 4,
    KV_CLIENT_FAKE = 1u << 5,          /* no socket (unit tests, DEBUG POPULATE helpers) */
    KV_CLIENT_AUTHENTICATED = 1u << 6, /* may run commands when requirepass is set */
    KV_CLIENT_AUTH_PAUSED = 1u << 7,   /* a wrong password's reply is being delayed */
    /* Protocol states, each owned by one module (multi.c, pubsub.c, blocked.c, ...). */
    KV_CLIENT_MULTI = 1u << 8,       /* inside MULTI: commands are queued */
    KV_CLIENT_EXEC = 1u << 9,        /* EXEC is running the queue (blocking commands don't block) */
    KV_CLIENT_DIRTY_CAS = 1u << 10,  /* a WATCHed key changed: EXEC will fail */
    KV_CLIENT_DIRTY_EXEC = 1u << 11, /* a queuing error: EXEC answers EXECABORT */
    KV_CLIENT_PUBSUB = 1u << 12,     /* subscribed to a channel, pattern or shard channel */
    KV_CLIENT_BLOCKED = 1u << 13,    /* waiting on keys (blocked.c) */
    KV_CLIENT_MONITOR = 1u << 14,    /* MONITOR */
    KV_CLIENT_TRACKING = 1u << 15,   /* CLIENT TRACKING on */
    KV_CLIENT_NO_TOUCH = 1u << 16,   /* CLIENT NO-TOUCH on */
    KV_CLIENT_NO_EVICT = 1u << 17,   /* CLIENT NO-EVICT on */
    KV_CLIENT_REPLY_OFF = 1u << 18,  /* CLIENT REPLY OFF */
    KV_CLIENT_REPLY_SKIP = 1u << 19, /* CLIENT REPLY SKIP: the next command's reply is dropped */
    /* Writing a pub/sub push (pubsub.c): CLIENT REPLY OFF/SKIP must not silence it. */
    KV_CLIENT_PUSHING = 1u << 20,
    KV_CLIENT_PAUSED = 1u << 21, /* waits for CLIENT PAUSE to end (client_ext.c) */
};

typedef struct kv_client_ext kv_client_ext_t;

typedef struct kv_db kv_db_t;
typedef struct kv_cmd kv_cmd_t;

typedef struct kv_client {
    uint64_t id;
    int fd;
    uint32_t flags;
    int dbid;
    kv_db_t *db;
    int resp;   /* protocol version: 2, or 3 after HELLO 3 (reply.c) */
    char *name; /* CLIENT SETNAME, NULL if none */
    char addr[64];
    char laddr[64];
    int64_t ctime_ms;    /* connection time */
    int64_t last_ms;     /* last interaction */
    const kv_cmd_t *cmd; /* the command being run */
    const kv_cmd_t *lastcmd;
    /* query buffer: bytes [qpos, qlen) are not parsed yet */
    char *qbuf;
    size_t qlen, qcap, qpos;
    size_t qbuf_peak;
    kv_req_t req;
    int argc;
    kv_arg_t *argv;
    /* replies: buf first, then the block list */
    char *buf;
    size_t bufpos, bufsize;
    size_t sentlen; /* bytes of buf or of the head block already written */
    kv_reply_block_t *rhead, *rtail;
    size_t reply_bytes; /* bytes held in blocks */
    size_t nblocks;
    int64_t obuf_soft_since_ms; /* when the soft output limit was first exceeded, 0 = not */
    uint32_t auth_fails;        /* consecutive wrong passwords (auth.c) */
    struct kv_multi *multi;     /* MULTI queue and WATCHed keys (multi.c), NULL when none */
    kv_client_ext_t *ext;       /* SETINFO, REPLY SKIP, tracking (client_ext.c); NULL: none */
    struct kv_blocked *bstate;  /* blocked.c: what a blocked client waits for, or NULL */
    /* list links */
    struct kv_client *prev, *next;
    struct kv_client *pw_next; /* pending-write list */
    /* Subscriptions (pubsub.c), NULL when none. */
    struct kv_pubsub_client *pubsub;
} kv_client_t;

/* Appends raw protocol bytes to the client's output. */
void kv_reply_raw(kv_client_t *c, const char *p, size_t len);
void kv_reply_ok(kv_client_t *c);
/* "+<s>\r\n" */
void kv_reply_status(kv_client_t *c, const char *s);
/*
 * "-ERR <msg>\r\n", or "-<msg>\r\n" when msg starts with an error code in capitals
 * followed by a space ("WRONGTYPE ...", "OOM ...") is NOT assumed: callers pass the full
 * text with its code, e.g. kv_reply_error(c, "ERR syntax error"). CR/LF in the text
 * become spaces (as Redis does) so the reply stays valid protocol.
 */
void kv_reply_error(kv_client_t *c, const char *msg);
void kv_reply_errorf(kv_client_t *c, const char *fmt, ...) KV_PRINTF(2, 3);
void kv_reply_int(kv_client_t *c, long long v);
void kv_reply_bulk(kv_client_t *c, const void *p, size_t len);
void kv_reply_bulk_cstr(kv_client_t *c, const char *s);
void kv_reply_bulk_ll(kv_client_t *c, long long v);
/*
 * Typed replies speak the client's protocol (c->resp: 2, or 3 after HELLO 3) as Redis 7.0:
 *   double      RESP3 ",<%.17g>" (",inf", ",-inf", ",nan"); RESP2 the same text as a bulk
 *   double_text a double already formatted (GEOPOS's human long double): ",<text>" / bulk
 *   bignum      RESP3 "(<digits>"; RESP2 a bulk
 *   null        RESP3 "_"; RESP2 "$-1" (null) or "*-1" (null_array)
 *   map_len     RESP3 "%<len>" then len key/value pairs; RESP2 "*<2*len>"
 *   set_len     RESP3 "~<len>"; push_len RESP3 "><len>"; RESP2 "*<len>" for both
 *   attribute_len RESP3 "|<len>" then len pairs, before the reply they annotate; RESP2
 *               writes nothing (the caller must then skip the pairs too)
 *   bool        RESP3 "#t"/"#f"; RESP2 ":1"/":0"
 *   verbatim    RESP3 "=<len+4>\r\ntxt:<text>"; RESP2 a bulk
 */
void kv_reply_double(kv_client_t *c, double d);
void kv_reply_double_text(kv_client_t *c, const char *text, size_t len);
void kv_reply_bignum(kv_client_t *c, const char *digits, size_t len);
void kv_reply_null(kv_client_t *c);
void kv_reply_null_array(kv_client_t *c);
void kv_reply_array_len(kv_client_t *c, long len);
void kv_reply_map_len(kv_client_t *c, long len);
void kv_reply_set_len(kv_client_t *c, long len);
void kv_reply_push_len(kv_client_t *c, long len);
void kv_reply_attribute_len(kv_client_t *c, long len);
void kv_reply_bool(kv_client_t *c, bool v);
/*
 * An array of pairs (member and score of WITHSCORES, field and value of HRANDFIELD
 * WITHVALUES), as Redis 7.0: RESP2 one flat array of 2*npairs; RESP3 an array of npairs
 * two-element arrays. kv_reply_pairs_len opens it; kv_reply_pair opens each pair (writes
 * "*2" in RESP3, nothing in RESP2) before its two replies.
 */
void kv_reply_pairs_len(kv_client_t *c, long npairs);
void kv_reply_pair(kv_client_t *c);
/* Sorted-set members, with their scores as pairs when withscores (ZRANGE, ZUNION...):
 * kv_reply_scored_len opens n elements, kv_reply_scored writes one. */
void kv_reply_scored_len(kv_client_t *c, long n, bool withscores);
void kv_reply_scored(kv_client_t *c, const void *member, size_t len, double score, bool withscores);
void kv_reply_verbatim(kv_client_t *c, const char *p, size_t len);
/*
 * Deferred lengths: kv_reply_deferred writes a placeholder (NULL when the client is being
 * closed or out of memory; the set calls accept NULL); one set call fills it in once the
 * count is known: an array of len, a map of `pairs` key/value pairs (2*pairs replies must
 * follow; RESP2 "*<2*pairs>"), a set of len, or an array of pairs.
 */
void *kv_reply_deferred(kv_client_t *c);
void kv_reply_set_deferred(kv_client_t *c, void *node, long len);
void kv_reply_set_deferred_map(kv_client_t *c, void *node, long pairs);
void kv_reply_set_deferred_set(kv_client_t *c, void *node, long len);
/* kv_reply_pairs_len's deferred form: npairs pairs, each opened with kv_reply_pair. */
void kv_reply_set_deferred_pairs(kv_client_t *c, void *node, long npairs);
void kv_reply_set_deferred_scored(kv_client_t *c, void *node, long n, bool withscores);
/*
 * The deferred-length check: kv_reply_set_deferred counts the top-level replies written
 * after the placeholder and reports a count other than the announced one (log line
 * "Deferred reply length mismatch", kv_reply_check_failures). OFF skips it; ABORT also
 * aborts after reporting. Debug builds (MEMSHIM_DEBUG >= 1) check even when OFF (and
 * abort unless LOG).
 * ABORT until kvcore-server's start-up sets it from KVCORE_CHECK_REPLIES (unset or "0":
 * OFF, "log": LOG, anything else: ABORT), so library users (the unit tests) check.
 */
enum { KV_REPLY_CHECK_OFF, KV_REPLY_CHECK_LOG, KV_REPLY_CHECK_ABORT };
extern int kv_reply_check;
extern uint64_t kv_reply_check_failures;
/* KVCORE_CHECK_REPLIES's value as a kv_reply_check mode (NULL: OFF). */
int kv_reply_check_parse(const char *env);
/* The standard subcommand help: an array of status lines, then the HELP line. */
void kv_reply_help(kv_client_t *c, const char *const *lines);
/* The common errors, byte for byte as Redis. */
void kv_reply_syntax_err(kv_client_t *c);
void kv_reply_wrongtype(kv_client_t *c);
void kv_reply_not_int(kv_client_t *c);
void kv_reply_subcmd_err(kv_client_t *c);
void kv_reply_arity_err(kv_client_t *c);
/* "-ERR out of memory": a command could not allocate what it needed (nothing changed). */
void kv_reply_oom(kv_client_t *c);
/* Bytes queued for the client and not yet written. */
size_t kv_client_pending_bytes(const kv_client_t *c);
/* The output blocks and the pending-write list (reply.c, for net.c): frees every block
 * (the 16 KB buffer stays); takes c off kv_srv.pending_write; writes every pending
 * client (not those a writable handler drives). */
void kv_reply_free_blocks(kv_client_t *c);
void kv_reply_unlink_pending(kv_client_t *c);
void kv_reply_flush_pending(kv_server_t *srv);

/* Client lifecycle (net.c). */
kv_client_t *kv_client_new(int fd);
void kv_client_free(kv_client_t *c);
/* Frees the client after the current command (or at once when safe). */
void kv_client_close_async(kv_client_t *c);
/* Runs every complete command in the query buffer. */
void kv_client_process_input(kv_client_t *c);
/*
 * What the client's unrun input holds: the unparsed query buffer bytes (which include a
 * partly received command's arguments) plus the parser's argument memory. Compared with
 * client-query-buffer-limit.
 */
size_t kv_client_query_mem(const kv_client_t *c);
/* True (and logged, counted, c freed) when c is over client-query-buffer-limit. */
bool kv_client_check_query_limit(kv_client_t *c);
/* Writes what it can (reply.c); returns -1 when the client was freed. */
int kv_client_write(kv_client_t *c);
/* "id=.. addr=.. ..." as CLIENT LIST; returns a malloc'd string (NULL on OOM). */
char *kv_client_info_line(const kv_client_t *c);
kv_client_t *kv_client_by_id(uint64_t id);
/* Binds and listens on every configured address. 0 or -errno (logged). */
int kv_net_listen(kv_server_t *srv);
/* Writes every client's pending replies (before the loop sleeps), then frees the clients
 * closed meanwhile. */
void kv_net_flush_pending(kv_server_t *srv);
/* Closes clients idle longer than `timeout` and enforces output-buffer soft limits. */
void kv_net_cron(kv_server_t *srv);

/* --- Objects (obj.c) --- */

enum { KV_TYPE_STRING = 0, KV_TYPE_LIST = 1, KV_TYPE_SET = 2, KV_TYPE_ZSET = 3, KV_TYPE_HASH = 4 };
enum {
    KV_ENC_RAW = 0,    /* value: pointer to a kv_rstr_t */
    KV_ENC_INT = 1,    /* value: 1-byte width + 1/2/4/8-byte little-endian integer */
    KV_ENC_EMBSTR = 2, /* value: length header + bytes, inside the object */
    KV_ENC_HASHTABLE = 3,
    KV_ENC_QUICKLIST = 4,
    KV_ENC_LISTPACK = 5,
    KV_ENC_INTSET = 6,
    KV_ENC_SKIPLIST = 7,
    KV_ENC_HASHPACK = 8, /* value: a hash's compact pack (hashpack.h), inside the object;
                            OBJECT ENCODING calls it "listpack" */
};

/*
 * One allocation per key (see obj.c for the layout):
 *   [header 4][TTL index position 4 + expire 8, iff hasexpire][key length 1 (or 5)][key]
 *   [value section]
 * The value section is a pointer, or the value itself (EMBSTR, INT, HASHPACK).
 * The header packs type, encoding, the hasexpire flag and 24 LRU/LFU bits. No refcount:
 * the db owns its objects (OBJECT REFCOUNT answers 1).
 */
typedef struct kv_obj {
    uint32_t type : 3;
    uint32_t encoding : 4;
    uint32_t hasexpire : 1; /* the 12-byte TTL section follows the header (expire -1 = none) */
    uint32_t lru : 24;
    unsigned char data[];
} kv_obj_t;

#define KV_OBJ_TTL_BYTES 12 /* TTL index position (4) + expire (8) */

/* A growable string value (RAW encoding): capacity is malloc_usable_size - header. */
typedef struct kv_rstr {
    size_t len;
    char data[];
} kv_rstr_t;

#define KV_OBJ_EMBED_LINE    64 /* embed when the whole object fits one cache line */
#define KV_OBJ_INT_MAX_CHARS 20 /* longest string that may be stored as an integer */
#define KV_LRU_BITS          24
#define KV_LRU_CLOCK_MAX     ((1u << KV_LRU_BITS) - 1)
#define KV_LRU_RESOLUTION_MS 1000

/*
 * A string object for key with value val. Chooses INT (a canonical integer of at most 20
 * characters), EMBSTR (the object fits 64 bytes, or its size class has room for the value)
 * or RAW (a separate kv_rstr_t). expire_ms is an absolute unix time in ms, or -1. The
 * caller owns the result (kv_obj_free). NULL on out-of-memory.
 */
kv_obj_t *kv_obj_new_string(const char *key, size_t klen, const char *val, size_t vlen,
                            int64_t expire_ms);
/* Like kv_obj_new_string with an integer value (always INT encoding). */
kv_obj_t *kv_obj_new_int(const char *key, size_t klen, long long v, int64_t expire_ms);
/* Like kv_obj_new_string but never INT, and RAW unless the value is embedded. */
kv_obj_t *kv_obj_new_raw_string(const char *key, size_t klen, const char *val, size_t vlen,
                                int64_t expire_ms);
/*
 * An object whose value is a pointer the object takes ownership of (RAW string or an
 * aggregate type's structure, freed by the type's free hook). NULL on out-of-memory.
 */
kv_obj_t *kv_obj_new_ptr(const char *key, size_t klen, int type, int encoding, void *ptr,
                         int64_t expire_ms);
/* Frees the object and its value. NULL is a no-op. */
void kv_obj_free(kv_obj_t *o);

/* The embedded key (not NUL-terminated) and its length. */
const char *kv_obj_key(const kv_obj_t *o, size_t *len);
/* The expire time in ms, or -1 when the key has no TTL. */
int64_t kv_obj_expire(const kv_obj_t *o);
/* The object's position in its db's TTL index (expire.c); pre: the expire is set. */
uint32_t kv_obj_ttl_pos(const kv_obj_t *o);
void kv_obj_set_ttl_pos(kv_obj_t *o, uint32_t pos);
/*
 * Sets the expire time (>= 0) or clears it (-1). Writes in place when the object has an
 * expire field; otherwise returns a reallocated object (the old pointer is invalid; the
 * caller must update every table holding it). Returns NULL on out-of-memory (o unchanged).
 */
kv_obj_t *kv_obj_set_expire(kv_obj_t *o, int64_t expire_ms);
/* A copy of o with another key (RENAME); NULL on out-of-memory. The value moves to the
 * new object (o's pointer value, if any, is no longer owned by o: free o with
 * kv_obj_free_shell). */
kv_obj_t *kv_obj_rekey(const kv_obj_t *o, const char *key, size_t klen, int64_t expire_ms);
/* Frees only the object's allocation, not a pointer value it carries. */
void kv_obj_free_shell(kv_obj_t *o);

/*
 * The string value: returns a pointer to its bytes and stores the length. For INT the
 * decimal text is written to ibuf (at least 24 bytes) and that is returned.
 */
const char *kv_obj_str(const kv_obj_t *o, char *ibuf, size_t *len);
/* Length of the string value (INT: its decimal length). */
size_t kv_obj_strlen(const kv_obj_t *o);
/* True if the value is (or reads as) an integer; stores it. */
bool kv_obj_get_ll(const kv_obj_t *o, long long *v);
/* Stores v in an INT object when it has the same width; false (unchanged) otherwise. */
bool kv_obj_int_set_inplace(kv_obj_t *o, long long v);
/* The pointer value of a RAW or aggregate object. */
void *kv_obj_ptr(const kv_obj_t *o);
void kv_obj_set_ptr(kv_obj_t *o, void *ptr);
/* True when the value section holds a pointer (not EMBSTR, INT or HASHPACK). */
bool kv_obj_has_ptr(const kv_obj_t *o);
/* The value section of an object whose value lives inside it (HASHPACK). */
unsigned char *kv_obj_value(const kv_obj_t *o);
/*
 * An object whose value section is a copy of val[0..vlen) (a value kept inside the
 * object, as HASHPACK). NULL on out-of-memory.
 */
kv_obj_t *kv_obj_new_embedded(const char *key, size_t klen, int type, int encoding, const void *val,
                              size_t vlen, int64_t expire_ms);
/*
 * Resizes o's allocation to `bytes` (header to the end of the value section; the caller
 * moves its value's bytes). Returns the object, which may have moved (the old pointer is
 * then invalid: update every table holding it, kv_db_replaced). Growing returns NULL on
 * out-of-memory (o unchanged); shrinking never fails (a failed realloc keeps the block).
 */
kv_obj_t *kv_obj_resize(kv_obj_t *o, size_t bytes);
/*
 * A new object with o's type, key, expire (and TTL index position) and LRU/LFU bits and
 * the pointer value ptr of `encoding`, which it owns; o is left as it was (free it with
 * kv_obj_free_shell when its value moved into ptr). NULL on out-of-memory.
 */
kv_obj_t *kv_obj_with_ptr(const kv_obj_t *o, int encoding, void *ptr);
/* Bytes the object uses: header to the end of its value section (<= its allocation). */
size_t kv_obj_used_bytes(const kv_obj_t *o);
/*
 * Makes the value a RAW kv_rstr_t with room for at least min_cap bytes (for APPEND,
 * SETRANGE, SETBIT) and returns it; may reallocate the object (*op updated; the caller
 * must update tables when *op changes). NULL on out-of-memory (nothing changed).
 */
kv_rstr_t *kv_obj_str_make_raw(kv_obj_t **op, size_t min_cap);
/* Grows a RAW value's buffer to hold at least cap bytes; returns it or NULL (unchanged). */
kv_rstr_t *kv_obj_rstr_reserve(kv_obj_t *o, size_t cap);
/* Capacity of a kv_rstr_t. */
size_t kv_rstr_cap(const kv_rstr_t *s);
/* Bytes the object occupies (its allocation, plus its value's for RAW strings). */
size_t kv_obj_mem_bytes(const kv_obj_t *o);
/* Name of the encoding as OBJECT ENCODING replies it. */
const char *kv_obj_encoding_name(int encoding);
const char *kv_obj_type_name(int type);
/* Size (bytes) of the allocation an object with these parts needs (tests). */
size_t kv_obj_layout_size(size_t klen, bool with_expire, int encoding, size_t vlen);
/* Checks the object's invariants: 0 or -EPROTO. */
int kv_obj_check(const kv_obj_t *o);

/*
 * Hook for aggregate types (added by later code): frees a pointer value of type `type`
 * and reports its bytes. kvcore's string type is built in.
 */
/*
 * The active defragmenter's relocation primitive: returns the new address of ptr (the
 * bytes copied, the old block freed) or NULL to leave ptr where it is.
 */
typedef void *(*kv_defrag_move_fn)(void *ptr);
/*
 * The same for n blocks at once: each non-NULL ptrs[i] is replaced by its block's new
 * address when it moved (one allocator query for all of them, whose lookups overlap).
 */
typedef void (*kv_defrag_move_batch_fn)(void **ptrs, size_t n);
/* What a value's relocation moves its blocks with: move, and runs of elements through
 * move_batch when it is not NULL. */
typedef struct kv_defrag_mover {
    kv_defrag_move_fn move;
    kv_defrag_move_batch_fn move_batch;
} kv_defrag_mover_t;

typedef struct kv_type_ops {
    /* encoding: the object's KV_ENC_*, so one type can hold several structures. */
    void (*free_value)(void *ptr, int encoding);
    size_t (*mem_bytes)(const void *ptr, int encoding);
    void *(*dup_value)(const void *ptr, int encoding); /* COPY; NULL on out-of-memory */
    /*
     * Active defrag (optional; kvcore/defrag_types.c has built-in versions for the types
     * it knows). defrag_len: the value's element count (active-defrag-max-scan-fields).
     * defrag_value: relocates the value's allocations through m, starting at *cursor
     * (0 = the start) and stopping after about `budget` elements; returns true when the
     * value is done, or false with *cursor set (below 2^56, never 0) to resume from. A
     * moved top-level pointer is stored with kv_obj_set_ptr. pre: nothing iterates o.
     */
    size_t (*defrag_len)(const struct kv_obj *o);
    bool (*defrag_value)(struct kv_obj *o, uint64_t *cursor, size_t budget,
                         const kv_defrag_mover_t *m);
} kv_type_ops_t;
void kv_obj_register_type(int type, const kv_type_ops_t *ops);
/* The hooks registered for type, or NULL when none were. */
const kv_type_ops_t *kv_obj_type_ops(int type);
/* A copy of o (value deep-copied) under another key; NULL on out-of-memory. */
kv_obj_t *kv_obj_dup(const kv_obj_t *o, const char *key, size_t klen, int64_t expire_ms);

/* LRU/LFU helpers. */
uint32_t kv_lru_clock(void);
void kv_obj_touch(kv_obj_t *o);
/* Seconds (ms) since the object was last accessed. */
uint64_t kv_obj_idle_ms(const kv_obj_t *o);
/* LFU counter after decay (OBJECT FREQ). */
unsigned kv_obj_lfu_freq(const kv_obj_t *o);
void kv_obj_init_lru(kv_obj_t *o);

/* --- Keyspace (db.c) --- */

/*
 * The TTL index (expire.c): the objects of one db that have an expire time, in an array
 * where each object records its own position. 8 bytes a key; O(1) add, remove, re-point.
 */
typedef struct kv_ttl kv_ttl_t;
kv_ttl_t *kv_ttl_new(void);
void kv_ttl_free(kv_ttl_t *t);
void kv_ttl_clear(kv_ttl_t *t);
size_t kv_ttl_size(const kv_ttl_t *t);
/* Bytes of the index itself (directory and chunks), not of the objects. */
size_t kv_ttl_mem_bytes(const kv_ttl_t *t);
/* Appends o and stores its position in o. pre: o's expire is set. 0 or -ENOMEM. */
int kv_ttl_add(kv_ttl_t *t, kv_obj_t *o);
/* Removes o (pre: o is in t); the last entry takes its position. */
void kv_ttl_remove(kv_ttl_t *t, const kv_obj_t *o);
/* new_o, a reallocated copy of old (same TTL position), takes old's slot; old is compared,
 * never dereferenced. 0 or -ENOENT. */
int kv_ttl_replace(kv_ttl_t *t, const kv_obj_t *old, kv_obj_t *new_o);
/* The entry at position pos (< size), or NULL. */
kv_obj_t *kv_ttl_at(const kv_ttl_t *t, size_t pos);
/* Up to n entries drawn at random positions (with replacement); returns how many. */
size_t kv_ttl_sample(const kv_ttl_t *t, void **out, size_t n);
/* Active defrag: moves the struct and directory (*tp updated), then one chunk per call
 * from cursor 0; returns the next cursor, 0 when done. */
void kv_ttl_defrag_dir(kv_ttl_t **tp, void *(*move)(void *ptr));
size_t kv_ttl_defrag_chunk(kv_ttl_t *t, size_t cursor, void *(*move)(void *ptr));
/* Every entry has a TTL and knows its position. 0 or -EPROTO. */
int kv_ttl_check(const kv_ttl_t *t);

struct kv_db {
    kv_ht_t *keys;
    kv_ttl_t *expires; /* the same object pointers, for keys with a TTL */
    int id;
    long long avg_ttl;
    size_t expire_cursor;
};

/* Creates the configured number of databases. 0 or -ENOMEM. */
int kv_db_init_all(kv_server_t *srv);
void kv_db_free_all(kv_server_t *srv);
kv_db_t *kv_db_get(int id);

/* Lookups: expired keys are deleted lazily (counted, "expired" event) and NULL returned.
 * A lookup without NOSTATS (a read) that misses publishes "keymiss" (class m), as Redis's
 * lookupKeyRead, unless NONOTIFY. */
#define KV_LOOKUP_NOTOUCH  1u /* don't update LRU/LFU */
#define KV_LOOKUP_NOSTATS  2u /* don't count hits/misses (a write's lookup) */
#define KV_LOOKUP_NONOTIFY 4u /* no "keymiss" event (OBJECT) */
kv_obj_t *kv_db_lookup(kv_db_t *db, const char *key, size_t klen, unsigned flags);
/* For reads: counts keyspace_hits/misses. */
kv_obj_t *kv_db_lookup_read(kv_db_t *db, const kv_arg_t *key);
/* For writes: no stats. */
kv_obj_t *kv_db_lookup_write(kv_db_t *db, const kv_arg_t *key);
/* True if the key exists and is expired (not deleted here). */
bool kv_db_key_is_expired(const kv_obj_t *o);
/*
 * Adds o (a new object with its key embedded; must not exist). Takes ownership and
 * registers its TTL, if any, publishes the "new" keyspace event and lets clients blocked
 * on a new list or sorted set be served. 0 or -ENOMEM (o freed). kv_db_add_loaded is the
 * same for a key read from a file, without either (as Redis's dbAddRDBLoad).
 */
int kv_db_add(kv_db_t *db, kv_obj_t *o);
int kv_db_add_loaded(kv_db_t *db, kv_obj_t *o);
/*
 * Stores o under its key, replacing any previous object (freed). With keep_ttl the old
 * object's TTL carries over (o is updated, may be reallocated). Takes ownership.
 * 0 or -ENOMEM (o freed, the old object and its TTL untouched).
 */
int kv_db_set(kv_db_t *db, kv_obj_t *o, bool keep_ttl);
/* Deletes the key; true if it existed. */
bool kv_db_delete(kv_db_t *db, const char *key, size_t klen);
/*
 * After an object in db was reallocated (old pointer freed or not), stores new_o where
 * old was, in the keyspace and the TTL index. old is not dereferenced; new_o carries old's
 * TTL index position (a byte copy of old does; kv_obj_str_make_raw copies it).
 */
void kv_db_replaced(kv_db_t *db, const kv_obj_t *old, kv_obj_t *new_o);
/*
 * Sets or clears (-1) the TTL of o (in db). Returns the object, which may have moved,
 * or NULL on out-of-memory (nothing changed).
 */
kv_obj_t *kv_db_set_expire(kv_db_t *db, kv_obj_t *o, int64_t when_ms);
/* Removes the TTL; true if there was one. */
bool kv_db_persist(kv_db_t *db, kv_obj_t *o);
size_t kv_db_size(const kv_db_t *db);
size_t kv_db_expires_size(const kv_db_t *db);
/* Removes every key; returns how many there were. */
size_t kv_db_flush(kv_db_t *db);
void kv_db_swap(kv_db_t *a, kv_db_t *b);
/* Deletes o because it expired: counts expired_keys. */
void kv_db_expire_obj(kv_db_t *db, kv_obj_t *o);
/* Cron: incremental rehashing of every db. */
void kv_db_cron(kv_server_t *srv);
/* Bytes of hashtable overhead (keys, expires) for MEMORY STATS / INFO. */
size_t kv_db_overhead_bytes(const kv_db_t *db, bool expires);

/* Active expiry (expire.c). */
void kv_expire_cycle_slow(kv_server_t *srv);
void kv_expire_cycle_fast(kv_server_t *srv);

/* --- Commands (cmd.c) --- */

enum {
    KV_CMD_WRITE = 1u << 0,
    KV_CMD_READONLY = 1u << 1,
    KV_CMD_DENYOOM = 1u << 2,
    KV_CMD_ADMIN = 1u << 3,
    KV_CMD_NOSCRIPT = 1u << 4,
    KV_CMD_LOADING = 1u << 5,
    KV_CMD_STALE = 1u << 6,
    KV_CMD_FAST = 1u << 7,
    KV_CMD_NO_AUTH = 1u << 8,
    KV_CMD_SKIP_SLOWLOG = 1u << 9,
    KV_CMD_MAY_REPLICATE = 1u << 10,
    KV_CMD_SENTINEL = 1u << 11,
    KV_CMD_NO_MULTI = 1u << 12,
    KV_CMD_BLOCKING = 1u << 13,
    KV_CMD_PUBSUB = 1u << 14,
    KV_CMD_SKIP_MONITOR = 1u << 15,
    KV_CMD_ALLOW_BUSY = 1u << 16,
    /* internal: kv_cmd_process runs its refusal checks for this row whatever the client's
     * state (DEBUG: enable-debug-command; the unsubscribes: NOSUB outside subscribed
     * mode), set by kv_cmd_init */
    KV_CMD_CHECKED = 1u << 29,
    KV_CMD_CONTAINER = 1u << 30, /* has subcommands */
};

typedef void (*kv_cmd_fn)(kv_client_t *c);

struct kv_cmd {
    const char *name;
    kv_cmd_fn fn;
    int arity; /* negative: at least -arity arguments */
    uint32_t flags;
    int first_key, last_key, key_step;
    const char *group;   /* COMMAND DOCS: "string", "keyspace", "server", ... */
    const char *acl;     /* ACL categories without '@', space separated, e.g. "read string" */
    const char *summary; /* COMMAND DOCS */
    const char *since;
    kv_cmd_t *subcmds; /* terminated by a row with name NULL */
    /* mutable statistics */
    const kv_cmd_t *parent;
    char fullname[48];
    uint64_t calls;
    uint64_t usec;
    uint64_t rejected_calls;
    uint64_t failed_calls;
    struct kv_latency_hist *hist; /* latency-tracking histogram (latency.c), NULL: none yet */
};

/* Builds the lookup table. 0 or -ENOMEM. */
int kv_cmd_init(void);
/* Looks up by name (case-insensitive); NULL if unknown. */
kv_cmd_t *kv_cmd_lookup(const char *name, size_t len);
/* The command for argv (subcommand resolved), NULL if unknown. */
kv_cmd_t *kv_cmd_lookup_argv(const kv_arg_t *argv, int argc);
/* Runs the client's parsed command with every check Redis does first. */
void kv_cmd_process(kv_client_t *c);
/*
 * Server states under which a command may be refused with MISCONF, one bit each, kept by
 * the module that owns the state (set whenever the refusal is possible, cleared when it
 * no longer is): kv_cmd_process runs those checks only while a bit is set, so with the
 * defaults a command pays one load for both.
 */
enum {
    KV_GATE_BGSAVE_ERR = 1u << 0, /* the last background save failed (persist.c) */
    KV_GATE_AOF = 1u << 1,        /* appendonly is on or starting (aof.c) */
};
extern uint32_t kv_cmd_gates;
static inline void kv_cmd_gate_set(uint32_t bit, bool on) {
    kv_cmd_gates = on ? kv_cmd_gates | bit : kv_cmd_gates & ~bit;
}
/* Calls fn for every command and subcommand. */
void kv_cmd_foreach(void (*fn)(kv_cmd_t *cmd, void *priv), void *priv);
size_t kv_cmd_count(void);
void kv_cmd_reset_stats(void);
/* Writes one COMMAND INFO entry. */
void kv_cmd_reply_info(kv_client_t *c, const kv_cmd_t *cmd);
void kv_cmd_reply_docs(kv_client_t *c, const kv_cmd_t *cmd);

/* Handlers (cmd_string.c) */
void kv_cmd_get(kv_client_t *c);
void kv_cmd_set(kv_client_t *c);
void kv_cmd_setnx(kv_client_t *c);
void kv_cmd_setex(kv_client_t *c);
void kv_cmd_psetex(kv_client_t *c);
void kv_cmd_getset(kv_client_t *c);
void kv_cmd_getdel(kv_client_t *c);
void kv_cmd_getex(kv_client_t *c);
void kv_cmd_mget(kv_client_t *c);
void kv_cmd_mset(kv_client_t *c);
void kv_cmd_msetnx(kv_client_t *c);
void kv_cmd_incr(kv_client_t *c);
void kv_cmd_decr(kv_client_t *c);
void kv_cmd_incrby(kv_client_t *c);
void kv_cmd_decrby(kv_client_t *c);
void kv_cmd_incrbyfloat(kv_client_t *c);
void kv_cmd_append(kv_client_t *c);
void kv_cmd_strlen(kv_client_t *c);
void kv_cmd_getrange(kv_client_t *c);
void kv_cmd_setrange(kv_client_t *c);
void kv_cmd_getbit(kv_client_t *c);
void kv_cmd_setbit(kv_client_t *c);
void kv_cmd_bitcount(kv_client_t *c);
void kv_cmd_bitpos(kv_client_t *c);
void kv_cmd_substr(kv_client_t *c);
/* HyperLogLog (cmd_hll.c) */
void kv_cmd_pfadd(kv_client_t *c);
void kv_cmd_pfcount(kv_client_t *c);
void kv_cmd_pfmerge(kv_client_t *c);

/* Handlers and bitfield arithmetic (cmd_bits.c) */
void kv_cmd_bitop(kv_client_t *c);
void kv_cmd_bitfield(kv_client_t *c);
void kv_cmd_bitfield_ro(kv_client_t *c);
enum { KV_BF_WRAP = 0, KV_BF_SAT = 1, KV_BF_FAIL = 2 };
/* A bits-wide (1..64) big-endian field at bit offset off of p (bit 0 = MSB of p[0]). */
uint64_t kv_bf_get_unsigned(const unsigned char *p, uint64_t off, int bits);
int64_t kv_bf_get_signed(const unsigned char *p, uint64_t off, int bits);
void kv_bf_set(unsigned char *p, uint64_t off, int bits, uint64_t v);
/*
 * Whether value + incr fits a bits-wide unsigned (1..63) / signed (1..64) field: 0, or 1
 * (overflow) / -1 (underflow) with *limit set per owtype (WRAP: wrapped result, SAT: the
 * bound; FAIL: untouched), as Redis's BITFIELD decides it.
 */
int kv_bf_check_unsigned(uint64_t value, int64_t incr, int bits, int owtype, uint64_t *limit);
int kv_bf_check_signed(int64_t value, int64_t incr, int bits, int owtype, int64_t *limit);

/* Handlers (cmd_keys.c) */
void kv_cmd_del(kv_client_t *c);
void kv_cmd_unlink(kv_client_t *c);
void kv_cmd_exists(kv_client_t *c);
void kv_cmd_type(kv_client_t *c);
void kv_cmd_rename(kv_client_t *c);
void kv_cmd_renamenx(kv_client_t *c);
void kv_cmd_keys(kv_client_t *c);
void kv_cmd_scan(kv_client_t *c);
void kv_cmd_randomkey(kv_client_t *c);
void kv_cmd_touch(kv_client_t *c);
void kv_cmd_expire(kv_client_t *c);
void kv_cmd_pexpire(kv_client_t *c);
void kv_cmd_expireat(kv_client_t *c);
void kv_cmd_pexpireat(kv_client_t *c);
void kv_cmd_ttl(kv_client_t *c);
void kv_cmd_pttl(kv_client_t *c);
void kv_cmd_expiretime(kv_client_t *c);
void kv_cmd_pexpiretime(kv_client_t *c);
void kv_cmd_persist(kv_client_t *c);
void kv_cmd_select(kv_client_t *c);
void kv_cmd_swapdb(kv_client_t *c);
void kv_cmd_flushdb(kv_client_t *c);
void kv_cmd_flushall(kv_client_t *c);
void kv_cmd_dbsize(kv_client_t *c);
void kv_cmd_object_encoding(kv_client_t *c);
void kv_cmd_object_refcount(kv_client_t *c);
void kv_cmd_object_idletime(kv_client_t *c);
void kv_cmd_object_freq(kv_client_t *c);
void kv_cmd_object_help(kv_client_t *c);
void kv_cmd_copy(kv_client_t *c);

/* Handlers (cmd_server.c) */
void kv_cmd_ping(kv_client_t *c);
void kv_cmd_echo(kv_client_t *c);
void kv_cmd_quit(kv_client_t *c);
void kv_cmd_shutdown(kv_client_t *c);
void kv_cmd_info(kv_client_t *c);
void kv_cmd_time(kv_client_t *c);
void kv_cmd_hello(kv_client_t *c);
void kv_cmd_command(kv_client_t *c);
void kv_cmd_command_count(kv_client_t *c);
void kv_cmd_command_info(kv_client_t *c);
void kv_cmd_command_docs(kv_client_t *c);
void kv_cmd_command_list(kv_client_t *c);
void kv_cmd_command_help(kv_client_t *c);
void kv_cmd_command_getkeys(kv_client_t *c);
void kv_cmd_debug(kv_client_t *c);
/* processCommand's protected-command check: true (and refused with Redis's text) when cmd
 * is DEBUG and enable-debug-command does not allow it for c. */
bool kv_debug_refuses(kv_client_t *c, const kv_cmd_t *cmd);
void kv_cmd_latency_latest(kv_client_t *c);
void kv_cmd_latency_reset(kv_client_t *c);
void kv_cmd_latency_help(kv_client_t *c);
void kv_cmd_function_flush(kv_client_t *c);
void kv_cmd_client_setname(kv_client_t *c);
void kv_cmd_client_getname(kv_client_t *c);
void kv_cmd_client_id(kv_client_t *c);
void kv_cmd_client_list(kv_client_t *c);
void kv_cmd_client_info(kv_client_t *c);
void kv_cmd_client_kill(kv_client_t *c);
void kv_cmd_client_help(kv_client_t *c);
void kv_cmd_config_get(kv_client_t *c);
void kv_cmd_config_set(kv_client_t *c);
void kv_cmd_config_resetstat(kv_client_t *c);
void kv_cmd_config_help(kv_client_t *c);

/* Handlers (cmd_memory.c) */
void kv_cmd_memory_usage(kv_client_t *c);
void kv_cmd_memory_stats(kv_client_t *c);
void kv_cmd_memory_doctor(kv_client_t *c);
void kv_cmd_memory_malloc_stats(kv_client_t *c);
void kv_cmd_memory_purge(kv_client_t *c);
void kv_cmd_memory_heap(kv_client_t *c);
void kv_cmd_memory_help(kv_client_t *c);
void kv_cmd_kprofile(kv_client_t *c);

/* Handlers (cmd_list.c) */
void kv_cmd_lpush(kv_client_t *c);
void kv_cmd_rpush(kv_client_t *c);
void kv_cmd_lpushx(kv_client_t *c);
void kv_cmd_rpushx(kv_client_t *c);
void kv_cmd_lpop(kv_client_t *c);
void kv_cmd_rpop(kv_client_t *c);
void kv_cmd_llen(kv_client_t *c);
void kv_cmd_lindex(kv_client_t *c);
void kv_cmd_lset(kv_client_t *c);
void kv_cmd_lrange(kv_client_t *c);
void kv_cmd_lrem(kv_client_t *c);
void kv_cmd_ltrim(kv_client_t *c);
void kv_cmd_linsert(kv_client_t *c);
void kv_cmd_lpos(kv_client_t *c);
void kv_cmd_lmove(kv_client_t *c);
void kv_cmd_rpoplpush(kv_client_t *c);

/* Handlers (cmd_zset.c) */
void kv_cmd_zadd(kv_client_t *c);
void kv_cmd_zincrby(kv_client_t *c);
void kv_cmd_zrem(kv_client_t *c);
void kv_cmd_zcard(kv_client_t *c);
void kv_cmd_zscore(kv_client_t *c);
void kv_cmd_zmscore(kv_client_t *c);
void kv_cmd_zrank(kv_client_t *c);
void kv_cmd_zrevrank(kv_client_t *c);
void kv_cmd_zrange(kv_client_t *c);
void kv_cmd_zrevrange(kv_client_t *c);
void kv_cmd_zrangebyscore(kv_client_t *c);
void kv_cmd_zrevrangebyscore(kv_client_t *c);
void kv_cmd_zrangebylex(kv_client_t *c);
void kv_cmd_zrevrangebylex(kv_client_t *c);
void kv_cmd_zcount(kv_client_t *c);
void kv_cmd_zlexcount(kv_client_t *c);
void kv_cmd_zpopmin(kv_client_t *c);
void kv_cmd_zpopmax(kv_client_t *c);
void kv_cmd_zremrangebyrank(kv_client_t *c);
void kv_cmd_zremrangebyscore(kv_client_t *c);
void kv_cmd_zremrangebylex(kv_client_t *c);
void kv_cmd_zscan(kv_client_t *c);

/* Handlers (cmd_geo.c) */
void kv_cmd_geoadd(kv_client_t *c);
void kv_cmd_geodist(kv_client_t *c);
void kv_cmd_geohash(kv_client_t *c);
void kv_cmd_geopos(kv_client_t *c);
void kv_cmd_georadius(kv_client_t *c);
void kv_cmd_georadius_ro(kv_client_t *c);
void kv_cmd_georadiusbymember(kv_client_t *c);
void kv_cmd_georadiusbymember_ro(kv_client_t *c);
void kv_cmd_geosearch(kv_client_t *c);
void kv_cmd_geosearchstore(kv_client_t *c);

/* Handlers (cmd_zalg.c) */
void kv_cmd_zunion(kv_client_t *c);
void kv_cmd_zinter(kv_client_t *c);
void kv_cmd_zdiff(kv_client_t *c);
void kv_cmd_zintercard(kv_client_t *c);
void kv_cmd_zunionstore(kv_client_t *c);
void kv_cmd_zinterstore(kv_client_t *c);
void kv_cmd_zdiffstore(kv_client_t *c);
void kv_cmd_zrangestore(kv_client_t *c);
void kv_cmd_zrandmember(kv_client_t *c);

/* Handlers (cmd_hash.c) */
void kv_cmd_hset(kv_client_t *c);
void kv_cmd_hsetnx(kv_client_t *c);
void kv_cmd_hget(kv_client_t *c);
void kv_cmd_hmget(kv_client_t *c);
void kv_cmd_hmset(kv_client_t *c);
void kv_cmd_hdel(kv_client_t *c);
void kv_cmd_hlen(kv_client_t *c);
void kv_cmd_hstrlen(kv_client_t *c);
void kv_cmd_hexists(kv_client_t *c);
void kv_cmd_hgetall(kv_client_t *c);
void kv_cmd_hkeys(kv_client_t *c);
void kv_cmd_hvals(kv_client_t *c);
void kv_cmd_hincrby(kv_client_t *c);
void kv_cmd_hincrbyfloat(kv_client_t *c);
void kv_cmd_hrandfield(kv_client_t *c);
void kv_cmd_hscan(kv_client_t *c);

/* Handlers (cmd_sort.c, cmd_lcs.c) */
void kv_cmd_sort(kv_client_t *c);
void kv_cmd_sort_ro(kv_client_t *c);
void kv_cmd_lcs(kv_client_t *c);

/* Handlers (cmd_set.c) */
void kv_cmd_sadd(kv_client_t *c);
void kv_cmd_srem(kv_client_t *c);
void kv_cmd_scard(kv_client_t *c);
void kv_cmd_sismember(kv_client_t *c);
void kv_cmd_smismember(kv_client_t *c);
void kv_cmd_smembers(kv_client_t *c);
void kv_cmd_spop(kv_client_t *c);
void kv_cmd_srandmember(kv_client_t *c);
void kv_cmd_smove(kv_client_t *c);
void kv_cmd_sinter(kv_client_t *c);
void kv_cmd_sintercard(kv_client_t *c);
void kv_cmd_sunion(kv_client_t *c);
void kv_cmd_sdiff(kv_client_t *c);
void kv_cmd_sinterstore(kv_client_t *c);
void kv_cmd_sunionstore(kv_client_t *c);
void kv_cmd_sdiffstore(kv_client_t *c);
void kv_cmd_sscan(kv_client_t *c);

/* The SCAN family of aggregates (HSCAN, SSCAN, ZSCAN; cmd_hash.c). */
typedef struct kv_scan_opts {
    long long count;     /* COUNT, default 10 */
    const kv_arg_t *pat; /* MATCH pattern, NULL for none (or "*") */
    bool no_values;      /* HSCAN NOVALUES, ZSCAN NOSCORES (Redis 7.2): names only */
} kv_scan_opts_t;
/* Parses a cursor as Redis does (strict decimal, then strtoull). True on success. */
bool kv_scan_parse_cursor(const kv_arg_t *a, unsigned long long *out);
/* Parses COUNT/MATCH (and NOVALUES for HSCAN, NOSCORES for ZSCAN) from argv[first];
 * replies the Redis error. 0 or -EINVAL. */
int kv_scan_parse_opts(kv_client_t *c, int first, kv_scan_opts_t *opts);
/* True when s matches the MATCH pattern (or there is none). */
bool kv_scan_match(const kv_scan_opts_t *opts, const char *s, size_t len);
/*
 * The start HSCAN, SSCAN and ZSCAN share (key argv[1], cursor argv[2], options from
 * argv[3]): parses the cursor, looks the key up as type, parses the options and replies
 * the two-element array header. Returns the object to scan, or NULL when the reply is
 * complete (bad cursor or option, wrong type, or the empty scan of a missing key).
 */
kv_obj_t *kv_scan_begin(kv_client_t *c, int type, unsigned long long *cursor, kv_scan_opts_t *opts);
/*
 * One SCAN step over a kv_ht as Redis's scanGenericCommand: bucket steps from cursor
 * until count entries (or count*10 steps) were seen. *out gets a malloc'd array of the
 * *n entries (free it; NULL when none); returns the next cursor (0 = done).
 */
size_t kv_scan_ht_collect(kv_ht_t *ht, unsigned long long cursor, long long count, void ***out,
                          size_t *n);

/* --- Blocking commands (blocked.c) and the pop cores they share ---
 *
 * The pop cores reply and pop in one of four shapes: KV_POP_VALUE (one element: LPOP,
 * ZPOPMIN without COUNT), KV_POP_ARRAY (LPOP key n, ZPOPMIN key n), KV_POP_KEY_VALUE
 * (key and one element: BLPOP, BZPOPMIN), KV_POP_KEY_ARRAY (key and an array: LMPOP,
 * ZMPOP and their blocking forms), and notify, signal and count the change as LPOP and
 * ZPOPMIN do. pre: o is the non-empty list / sorted set under key (bytes that outlive o)
 * in c's database, count >= 1; the key is deleted when it empties. kv_list_move_reply is
 * LMOVE's core: src the non-empty list under srckey, dstkey looked up (WRONGTYPE replied)
 * and created as needed.
 */
enum { KV_POP_VALUE, KV_POP_ARRAY, KV_POP_KEY_VALUE, KV_POP_KEY_ARRAY };
typedef struct kv_blocked kv_blocked_t;
void kv_list_pop_reply(kv_client_t *c, const kv_arg_t *key, kv_obj_t *o, int where, long long count,
                       int form);
void kv_list_move_reply(kv_client_t *c, const kv_arg_t *srckey, kv_obj_t *src,
                        const kv_arg_t *dstkey, int wherefrom, int whereto);
/* LEFT / RIGHT into KV_LIST_HEAD / KV_LIST_TAIL; false with a syntax error replied. */
bool kv_list_parse_side(kv_client_t *c, const kv_arg_t *a, int *where);
void kv_zset_pop_reply(kv_client_t *c, const kv_arg_t *key, kv_obj_t *o, bool max, long long count,
                       int form);
void kv_cmd_blpop(kv_client_t *c);
void kv_cmd_brpop(kv_client_t *c);
void kv_cmd_blmove(kv_client_t *c);
void kv_cmd_brpoplpush(kv_client_t *c);
void kv_cmd_blmpop(kv_client_t *c);
void kv_cmd_lmpop(kv_client_t *c);
void kv_cmd_bzpopmin(kv_client_t *c);
void kv_cmd_bzpopmax(kv_client_t *c);
void kv_cmd_bzmpop(kv_client_t *c);
void kv_cmd_zmpop(kv_client_t *c);
void kv_cmd_client_unblock(kv_client_t *c);
/*
 * A blocking command's timeout (seconds, fractions allowed) as Redis 7.0 parses it:
 * *ms >= 0 (0 = forever), or -EINVAL with "timeout is not a float or out of range" /
 * "timeout is negative" replied.
 */
int kv_blocked_parse_timeout(kv_client_t *c, const kv_arg_t *a, long long *ms);
/* Serves the clients blocked on the keys signalled ready (kv_signal_key_ready); called
 * by kv_cmd_process when the outermost command has finished. */
void kv_blocked_serve_ready(void);
/* A key waits in the ready list (blocked.c): lets callers skip kv_blocked_serve_ready. */
extern bool kv_blocked_any_ready;
/* SWAPDB: every key of a or b that now exists and has waiters is ready. */
void kv_blocked_db_swapped(kv_db_t *a, kv_db_t *b);
/* Times out (null reply) the clients whose deadline (kv_monotonic_us) is <= now_us;
 * returns how many. The loop timer and before-sleep call it. */
size_t kv_blocked_expire(uint64_t now_us);
/* Before the loop sleeps: due timeouts, then the pending input of unblocked clients. */
void kv_blocked_before_sleep(void);
/* The client goes away (freed or closing): it stops waiting; nothing of it remains. */
void kv_blocked_client_gone(kv_client_t *c);
/* Blocked clients, keys with waiters, blocked clients with a timeout (INFO). */
size_t kv_blocked_clients(void);
size_t kv_blocked_keys(void);
size_t kv_blocked_in_timeout_table(void);
/* Frees the tables (shutdown, after every client was freed). */
void kv_blocked_fini(void);

/* Shared by handlers (cmd_util.c) */
/* Parses argv as a long long, replying the Redis error on failure. 0 or -EINVAL. */
int kv_arg_ll_or_reply(kv_client_t *c, const kv_arg_t *a, long long *out, const char *msg);
/*
 * Shared command steps (cmd_util.c). kv_lookup_type_or_reply looks key up for reading or
 * writing: the object, or NULL when absent (*wrong false) or of another type than type
 * (*wrong true, WRONGTYPE replied). kv_arg_nonneg_or_reply parses a count that must be a
 * long long >= 0, replying msg otherwise: 0 or -EINVAL. kv_rank_range_clamp turns the
 * rank range [*start, *end] (negative counts from the end) into bounds inside a collection
 * of len elements as Redis does; false when the range is empty (bounds then partly converted).
 */
kv_obj_t *kv_lookup_type_or_reply(kv_client_t *c, const kv_arg_t *key, int type, bool write,
                                  bool *wrong);
int kv_arg_nonneg_or_reply(kv_client_t *c, const kv_arg_t *a, long long *out, const char *msg);
bool kv_rank_range_clamp(long long len, long long *start, long long *end);

/* --- Keyspace signals (notify.c, multi.c, pubsub.c, blocked.c) ---
 *
 * Every command that changes a key calls kv_signal_modified_key (WATCH, client tracking)
 * and kv_notify_keyspace_event (notify-keyspace-events) as Redis's signalModifiedKey and
 * notifyKeyspaceEvent; creating a list or sorted-set key calls kv_signal_key_ready (the
 * clients blocked on it). Each module owns its half: notify.c formats and publishes
 * events, multi.c keeps WATCH state, pubsub.c delivers messages, blocked.c serves
 * blocked clients.
 */
enum {
    KV_NOTIFY_KEYSPACE = 1 << 0,  /* K */
    KV_NOTIFY_KEYEVENT = 1 << 1,  /* E */
    KV_NOTIFY_GENERIC = 1 << 2,   /* g */
    KV_NOTIFY_STRING = 1 << 3,    /* $ */
    KV_NOTIFY_LIST = 1 << 4,      /* l */
    KV_NOTIFY_SET = 1 << 5,       /* s */
    KV_NOTIFY_HASH = 1 << 6,      /* h */
    KV_NOTIFY_ZSET = 1 << 7,      /* z */
    KV_NOTIFY_EXPIRED = 1 << 8,   /* x */
    KV_NOTIFY_EVICTED = 1 << 9,   /* e */
    KV_NOTIFY_STREAM = 1 << 10,   /* t */
    KV_NOTIFY_KEY_MISS = 1 << 11, /* m (not part of A) */
    KV_NOTIFY_LOADED = 1 << 12,   /* module only */
    KV_NOTIFY_MODULE = 1 << 13,   /* d */
    KV_NOTIFY_NEW = 1 << 14,      /* n (not part of A) */
};
/*
 * The key changed (c may be NULL: expiry, eviction, the server itself): WATCHes and
 * tracked keys are invalidated. Inline: only while a bit of kv_signal_gates is set, kept
 * by multi.c (some key is watched) and tracking.c (a client tracks, or keys are
 * remembered for one), does a write call kv_signal_modified_key_now.
 */
enum {
    KV_SIGNAL_WATCH = 1u << 0,    /* multi.c */
    KV_SIGNAL_TRACKING = 1u << 1, /* tracking.c */
};
extern uint32_t kv_signal_gates;
static inline void kv_signal_gate_set(uint32_t bit, bool on) {
    kv_signal_gates = on ? kv_signal_gates | bit : kv_signal_gates & ~bit;
}
void kv_signal_modified_key_now(kv_client_t *c, kv_db_t *db, const char *key, size_t klen);
static inline void kv_signal_modified_key(kv_client_t *c, kv_db_t *db, const char *key,
                                          size_t klen) {
    if (KV_UNLIKELY(kv_signal_gates != 0)) kv_signal_modified_key_now(c, db, key, klen);
}
/* Every key of db is about to go (NULL db = all of them). kv_db_flush calls it while the
 * keys are still there (WATCH fails only for keys that existed, as Redis); commands need
 * not call it themselves. */
void kv_signal_flushed_db(kv_db_t *db);
/* The contents of a and b are about to be exchanged: kv_db_swap calls it first. */
void kv_signal_swapped_db(kv_db_t *a, kv_db_t *b);
/* Publishes a keyspace/keyevent notification when notify-keyspace-events asks for cls;
 * returns at once when it does not (the default): kv_notify_keyspace_event, the inline
 * class test after kv_srv below, calls it only then. */
void kv_notify_keyspace_publish(int cls, const char *event, const char *key, size_t klen, int dbid);
/* The usual pair after a command changed key in c's db: kv_signal_modified_key, then
 * kv_notify_keyspace_event(cls, event) (inline, after kv_srv below). The caller adds to
 * kv_srv.dirty. */
/* A key emptied by a command was deleted: kv_db_delete and the "del" event (class g). */
void kv_notify_deleted_empty(kv_client_t *c, const kv_arg_t *key);
/* A STORE command's result is empty: deletes key from c's db and, when it was there,
 * counts one change, signals it and publishes "del". Returns whether it was there. */
bool kv_notify_store_empty(kv_client_t *c, const kv_arg_t *key);
/*
 * notify-keyspace-events text (notify.c): kv_notify_flags_parse turns "KEA", "Elg$", ""
 * into KV_NOTIFY_* bits (-1 for a character outside "Ag$lshzxeKEtmdn"), and
 * kv_notify_flags_str writes Redis's canonical form of flags to buf (at least 24 bytes).
 */
int kv_notify_flags_parse(const char *s);
void kv_notify_flags_str(int flags, char *buf, size_t len);
/* Every class 'A' stands for (not m, n: those are asked for by name). */
#define KV_NOTIFY_ALL                                                                              \
    (KV_NOTIFY_GENERIC | KV_NOTIFY_STRING | KV_NOTIFY_LIST | KV_NOTIFY_SET | KV_NOTIFY_HASH |      \
     KV_NOTIFY_ZSET | KV_NOTIFY_EXPIRED | KV_NOTIFY_EVICTED | KV_NOTIFY_STREAM | KV_NOTIFY_MODULE)
/*
 * Where notifications go: kv_pubsub_publish unless a test installs another sink (the unit
 * tests record what would be published). NULL restores kv_pubsub_publish.
 */
typedef long (*kv_notify_sink_fn)(const char *ch, size_t chlen, const char *msg, size_t mlen,
                                  bool sharded);
void kv_notify_set_sink(kv_notify_sink_fn fn);
/* A list or sorted set was created under key: clients blocked on it may be served. */
void kv_signal_key_ready(kv_db_t *db, const char *key, size_t klen);
/* Delivers msg to the subscribers of channel (shard channels when sharded); returns how
 * many clients received it. */
long kv_pubsub_publish(const char *ch, size_t chlen, const char *msg, size_t mlen, bool sharded);

/* --- Propagation (propagate.c) and the append-only file (aof.c, aof_load.c,
 * aof_rewrite.c) ---
 *
 * Every handler call goes through kv_cmd_call, which brackets it with
 * kv_propagate_call_begin/end. A command whose call made kv_srv.dirty grow is appended
 * to the AOF in its deterministic form; everything propagated during one top-level call
 * (EXEC's queued commands, lazy-expiry DELs, a handler's rewrites) is written as one
 * unit, inside MULTI/EXEC when it holds more than one command (Redis 7.0's rule).
 * Code that changes the dataset outside a command (expiry, eviction, serving a blocked
 * client) calls kv_propagate itself.
 */
enum { KV_AOF_FSYNC_NO = 0, KV_AOF_FSYNC_ALWAYS = 1, KV_AOF_FSYNC_EVERYSEC = 2 };

/* One call in progress (on the caller's stack; calls nest for EXEC). */
typedef struct kv_prop_call {
    struct kv_prop_call *outer;
    long long dirty; /* kv_srv.dirty when the call began */
    int dbid;
    bool replaced;  /* the handler propagated its own form (kv_propagate_rewrite) */
    bool prevented; /* kv_propagate_prevent */
    bool nested;    /* it ran other calls (EXEC): they propagated themselves */
    bool forced;    /* kv_propagate_force: propagated even when dirty did not grow */
} kv_prop_call_t;

/* Runs cmd's handler for c: statistics, latency, and propagation of its effects. What
 * kv_cmd_process does after its checks, and what EXEC does for each queued command. */
void kv_cmd_call(kv_client_t *c, kv_cmd_t *cmd);
void kv_propagate_call_begin(kv_prop_call_t *pc, kv_client_t *c, const kv_cmd_t *cmd);
void kv_propagate_call_end(kv_prop_call_t *pc, kv_client_t *c, const kv_cmd_t *cmd);
/* Propagates argv (copied) as a command on db dbid: part of the running call's unit, or
 * written at once between commands (cron). */
void kv_propagate(int dbid, const kv_arg_t *argv, int argc);
/* DEL (or UNLINK when lazy) of key: expiry and eviction. */
void kv_propagate_del(kv_db_t *db, const char *key, size_t klen, bool lazy);
/* From a handler: propagate argv (copied) instead of the running command; each call adds
 * one command (SPOP's SREMs). */
void kv_propagate_rewrite(kv_client_t *c, const kv_arg_t *argv, int argc);
/* From a handler: the running command is not propagated (its effects were, or none). */
void kv_propagate_prevent(kv_client_t *c);
/* From a handler: the running command is propagated even if it changed nothing counted
 * in kv_srv.dirty (FLUSHALL and FLUSHDB of empty databases, FLUSHALL's save resetting
 * dirty), as Redis's forceCommandPropagation. */
void kv_propagate_force(kv_client_t *c);
/* Frees the unit's buffers (shutdown). */
void kv_propagate_fini(void);

/* The deterministic form of c's command after its handler ran (Redis 7.0's rewrites):
 * true with form set, false when the command propagates as sent. Arguments point into
 * c->argv, the dataset or form->num: valid until the next change. */
#define KV_PROP_FORM_ARGS 12
typedef struct kv_prop_form {
    kv_arg_t argv[KV_PROP_FORM_ARGS];
    int argc;
    char num[2][32];
} kv_prop_form_t;
bool kv_propagate_form(kv_client_t *c, const kv_cmd_t *cmd, kv_prop_form_t *form);
/* Bytes kv_propagate may need to encode argv in RESP (an upper bound). */
size_t kv_propagate_encoded_len(const kv_arg_t *argv, int argc);

/* aof.c: true when propagated commands are wanted (AOF on or being turned on, not
 * loading). kv_aof_feed appends one encoded command for dbid (-1: any db), adding a
 * SELECT when the file's db differs. kv_aof_feed_failed records that a command could not
 * be recorded (out of memory): reported as a write error. */
bool kv_aof_wants_feed(void);
void kv_aof_feed(int dbid, const char *cmd, size_t len);
void kv_aof_feed_failed(int err);
/* Writes (and per appendfsync, fsyncs) the buffered commands: before replies are sent. */
void kv_aof_flush(bool force);
/* Cheap check for kv_client_write: flushes when commands are buffered. */
void kv_aof_before_reply(void);
/* Start-up: loads the AOF when appendonly is yes (it then has priority over the RDB)
 * and opens it for appending. 0, or -errno after logging why (the server exits). */
int kv_aof_startup(void);
/* Shutdown: flushes and fsyncs, stops a rewrite child, joins the fsync thread. */
void kv_aof_shutdown(void);
/* CONFIG SET side effects (appendonly turned on starts a rewrite). 0 or -errno. */
int kv_aof_config_apply(void);
/* processCommand's MISCONF gate for AOF write errors: true (and replied) when refused. */
bool kv_aof_refuses(kv_client_t *c, const kv_cmd_t *cmd);
/* The aof_* INFO persistence fields: part 0 the state block (aof_enabled ..
 * aof_last_cow_size), part 1 the size block shown when AOF is on. A static buffer. */
const char *kv_aof_info(int part);
void kv_cmd_bgrewriteaof(kv_client_t *c);
/* The AOF rewrite child, if one runs (0: none): one child at a time, as Redis (persist.c
 * does not fork while it runs). */
pid_t kv_aof_child_pid(void);
/* DEBUG LOADAOF. */
void kv_aof_debug_loadaof(kv_client_t *c);

/*
 * aof_load.c: one command of an AOF ("*<n>\r\n" then n "$<len>\r\n<bytes>\r\n").
 * Returns the bytes it used (> 0) with *argc set and argv[0..argc) pointing into buf,
 * 0 when buf ends inside the command (torn), or -EPROTO (not the format: *err names what)
 * / -E2BIG (more than max_args arguments; *argc says how many).
 */
ssize_t kv_aof_parse_command(const char *buf, size_t len, kv_arg_t *argv, int max_args, int *argc,
                             const char **err);
/*
 * Replays one AOF file's commands (RESP text; an RDB-preamble base needs the RDB loader).
 * last: the file's end may be torn (aof-load-truncated decides). 0, -EPROTO (corrupt),
 * -ENOENT, or -errno; the error was logged.
 */
int kv_aof_load_file(const char *path, bool last, off_t *valid_len);

/* --- Publish/subscribe (pubsub.c) --- */

/* Drops every subscription of c (channels, patterns, shard channels) without a reply and
 * leaves subscribed mode (RESET, a client being freed). */
void kv_pubsub_unsubscribe_all(kv_client_t *c);
/* kv_cmd_process's subscribed-mode gate: false (error replied, the command's rejected
 * calls counted) when c is a RESP2 client with subscriptions and cmd is not one of
 * (P|S)SUBSCRIBE, (P|S)UNSUBSCRIBE, PING, QUIT, RESET; or when c has no subscription
 * and cmd is one of (P|S)UNSUBSCRIBE ("NOSUB", Redis 7.2). */
bool kv_pubsub_cmd_allowed(kv_client_t *c, kv_cmd_t *cmd);
/* Messages published to the client running the publishing command wait for its reply
 * (Redis 7.2): kv_client_after_call appends them after the outermost call, blocked.c
 * after a served command. The flag is read inline. */
extern bool kv_pubsub_self_pending;
void kv_pubsub_flush_self(kv_client_t *c);
/* PING of a subscribed RESP2 client: replies ["pong", message or ""] and returns true;
 * false (nothing replied) otherwise. */
bool kv_pubsub_reply_ping(kv_client_t *c);
/* The subscriptions of c (CLIENT LIST sub=, psub=, ssub=). */
void kv_pubsub_client_counts(const kv_client_t *c, size_t *channels, size_t *patterns,
                             size_t *shard);
/* Channels, patterns and shard channels with at least one subscriber (INFO). */
void kv_pubsub_stats(size_t *channels, size_t *patterns, size_t *shard);
void kv_cmd_subscribe(kv_client_t *c);
void kv_cmd_unsubscribe(kv_client_t *c);
void kv_cmd_psubscribe(kv_client_t *c);
void kv_cmd_punsubscribe(kv_client_t *c);
void kv_cmd_ssubscribe(kv_client_t *c);
void kv_cmd_sunsubscribe(kv_client_t *c);
void kv_cmd_publish(kv_client_t *c);
void kv_cmd_spublish(kv_client_t *c);
void kv_cmd_pubsub_channels(kv_client_t *c);
void kv_cmd_pubsub_numsub(kv_client_t *c);
void kv_cmd_pubsub_numpat(kv_client_t *c);
void kv_cmd_pubsub_shardchannels(kv_client_t *c);
void kv_cmd_pubsub_shardnumsub(kv_client_t *c);
void kv_cmd_pubsub_help(kv_client_t *c);

/* --- Transactions (multi.c) ---
 *
 * MULTI queues commands (arguments copied) until EXEC runs them or DISCARD drops them;
 * WATCH keeps, per db, which clients watch which key, and kv_signal_modified_key,
 * kv_signal_flushed_db and kv_signal_swapped_db flag those clients KV_CLIENT_DIRTY_CAS.
 * While EXEC runs the queue, KV_CLIENT_MULTI and KV_CLIENT_EXEC are both set (blocking
 * commands must not block then; SUBSCRIBE runs, as in Redis 7.0).
 */
/*
 * kv_cmd_process's hooks, in Redis's order. kv_multi_reject replies a refused command's
 * error (msg with its code, "ERR ..."; NULL when the caller replied already): inside
 * MULTI it also flags the transaction
 * (EXEC will answer EXECABORT), and a refused EXEC aborts it ("EXECABORT Transaction
 * discarded because of: ..."). kv_multi_denies_oom: whether cmd is refused above
 * maxmemory (denyoom commands, EXEC of a queue holding one, anything queued). kv_multi_queue:
 * inside MULTI, queues cmd with a copy of c's argv and replies +QUEUED (true), or returns
 * false for what runs at once (EXEC, DISCARD, MULTI, WATCH, QUIT, RESET).
 */
void kv_multi_reject(kv_client_t *c, const kv_cmd_t *cmd, const char *msg);
bool kv_multi_denies_oom(const kv_client_t *c, const kv_cmd_t *cmd);
/* cmd's flags as Redis's processCommand judges them: EXEC also carries the WRITE,
 * MAY_REPLICATE and DENYOOM flags of the commands it would run (MISCONF, CLIENT PAUSE). */
uint32_t kv_multi_cmd_flags(const kv_client_t *c, const kv_cmd_t *cmd);
bool kv_multi_queue(kv_client_t *c, kv_cmd_t *cmd);
/* Leaves MULTI and drops every WATCH (RESET; the client's end through kv_multi_client_free). */
void kv_multi_reset(kv_client_t *c);
/* Frees c's transaction state and unwatches its keys (net.c, when the client is freed). */
void kv_multi_client_free(kv_client_t *c);
/* Queued commands (-1 outside MULTI) and bytes the state holds (CLIENT LIST multi=,
 * multi-mem=; the queue counts against client-query-buffer-limit). */
long kv_multi_queued_count(const kv_client_t *c);
size_t kv_multi_mem(const kv_client_t *c);
/* Checks the watch index and, when c is not NULL, c's queue and watches (multi.c's
 * invariants). 0 or -EPROTO. */
int kv_multi_check(const kv_client_t *c);
/* INFO clients: clients watching at least one key; watched keys over every db. */
size_t kv_multi_watching_clients(void);
size_t kv_multi_watched_keys(void);
/* The watch side of the keyspace signals (notify.c forwards to them). */
void kv_multi_touch_key(kv_db_t *db, const char *key, size_t klen);
void kv_multi_touch_db(kv_db_t *db, kv_db_t *replaced_with);
void kv_cmd_multi(kv_client_t *c);
void kv_cmd_exec(kv_client_t *c);
void kv_cmd_discard(kv_client_t *c);
void kv_cmd_watch(kv_client_t *c);
void kv_cmd_unwatch(kv_client_t *c);
/* --- Client extras (client_ext.c, tracking.c, monitor.c) ---
 *
 * What a connection can ask of the server beyond running commands: CLIENT NO-TOUCH,
 * NO-EVICT, REPLY, SETINFO, PAUSE/UNPAUSE, RESET (client_ext.c); CLIENT TRACKING and
 * its invalidation messages (tracking.c); MONITOR (monitor.c). Per-client state lives
 * in kv_client_ext_t, allocated on first use.
 */
enum {
    KV_TRK_BCAST = 1u << 0,
    KV_TRK_OPTIN = 1u << 1,
    KV_TRK_OPTOUT = 1u << 2,
    KV_TRK_NOLOOP = 1u << 3,
    KV_TRK_CACHING = 1u << 4, /* CLIENT CACHING yes/no given for the next command */
    KV_TRK_BROKEN_REDIR = 1u << 5,
};
struct kv_client_ext {
    char *lib_name, *lib_ver; /* CLIENT SETINFO; NULL: not set */
    bool skip_next;           /* CLIENT REPLY SKIP ran: mute the command after the next */
    uint32_t trk;             /* KV_TRK_* while KV_CLIENT_TRACKING is set */
    uint64_t trk_redirect;    /* client id invalidations go to; 0: this client */
    kv_arg_t *prefixes;       /* BCAST prefixes (owned copies) */
    int nprefixes;
};
/* True when c (may be NULL) is in CLIENT NO-TOUCH mode and not running TOUCH: its reads
 * leave the keys' LRU/LFU alone. */
bool kv_client_no_touch(const kv_client_t *c);
/* The client's extras, allocated on first use; NULL on out-of-memory. */
kv_client_ext_t *kv_client_ext_get(kv_client_t *c);
/* At disconnection: leaves tracking, MONITOR and pause lists, frees the extras. */
void kv_client_ext_free(kv_client_t *c);
/*
 * Around each command of kv_client_process_input: kv_client_before_command returns
 * false when a CLIENT PAUSE holds the command (the client waits, flagged
 * KV_CLIENT_PAUSED, and runs it when the pause ends); kv_client_after_command drops the
 * SKIP state the command ran under.
 */
typedef struct kv_reply_mark {
    bool mute; /* this command runs under CLIENT REPLY SKIP */
} kv_reply_mark_t;
bool kv_client_before_command(kv_client_t *c, kv_reply_mark_t *m);
void kv_client_after_command(kv_client_t *c, kv_reply_mark_t *m);
/* A CLIENT PAUSE is set: with none and no client extras (c->ext, where CLIENT REPLY SKIP
 * is kept), kv_client_before_command has nothing to do and the input loop skips it. */
extern bool kv_client_pause_active;
/* The CLIENT LIST flag letters of the extras ("t", "B", "R", "e", "T", "O"...): writes
 * them to out (room for 8) in Redis's order among themselves and returns how many. */
int kv_client_ext_flags(const kv_client_t *c, char *out, bool tail);
/* CLIENT LIST's redir= and lib-name=/lib-ver= values. */
long long kv_client_tracking_redir(const kv_client_t *c);
/* Tracking (tracking.c): after a read-only command, remembers the keys it read; a key
 * changed (kv_signal_modified_key) or every key (flush) invalidates; the invalidation
 * messages of BCAST clients go out before the loop sleeps. */
void kv_tracking_after_command(kv_client_t *c, const kv_cmd_t *cmd);
/* Invalidations wait for the end of a command (tracking.c): the inline test that lets
 * kv_client_after_call skip kv_tracking_after_command for non-tracking clients. */
extern bool kv_tracking_pending;
void kv_tracking_invalidate_key(kv_client_t *by, const char *key, size_t klen);
void kv_tracking_invalidate_all(void);
void kv_tracking_before_sleep(void);
/* Around serving a blocked client outside a call (blocked.c): the invalidations its pop
 * causes for itself follow its reply. */
void kv_tracking_hold(kv_client_t *c, bool hold);
/* The tracking state of c is dropped (CLIENT TRACKING off, RESET, disconnection). */
void kv_tracking_disable(kv_client_t *c);
/* INFO stats: tracking_clients, tracking_total_keys, tracking_total_items,
 * tracking_total_prefixes. */
void kv_tracking_info(size_t *clients, size_t *keys, size_t *items, size_t *prefixes);
/* MONITOR (monitor.c): every command run is shown to the monitoring clients. */
extern size_t kv_monitor_count;
void kv_monitor_feed(const kv_client_t *c, const kv_cmd_t *cmd);
void kv_monitor_remove(kv_client_t *c);
/* CLIENT PAUSE: true while commands of this kind wait (expiry and eviction wait too).
 * kv_pause_waiting_clients: clients holding a command until the pause ends (INFO
 * blocked_clients counts them, as Redis does). */
bool kv_pause_is_active(bool write);
size_t kv_pause_waiting_clients(void);
/* Handlers (client_ext.c, tracking.c, monitor.c) */
void kv_cmd_client_no_touch(kv_client_t *c);
void kv_cmd_client_no_evict(kv_client_t *c);
void kv_cmd_client_reply(kv_client_t *c);
void kv_cmd_client_setinfo(kv_client_t *c);
void kv_cmd_client_pause(kv_client_t *c);
void kv_cmd_client_unpause(kv_client_t *c);
void kv_cmd_client_getredir(kv_client_t *c);
void kv_cmd_client_trackinginfo(kv_client_t *c);
void kv_cmd_client_caching(kv_client_t *c);
void kv_cmd_client_tracking(kv_client_t *c);
void kv_cmd_reset(kv_client_t *c);
void kv_cmd_monitor(kv_client_t *c);

/* --- Key specifications (keyspec.c; the data: cmd_keyspecs.c, generated) --- */

/* One command's metadata from Redis 7.0's COMMAND INFO, by full name. */
typedef struct kv_cmd_meta {
    const char *name;  /* "set", "config|get" */
    const char *tips;  /* space separated */
    const char *specs; /* "notes|flags|begin|find" lines (keyspec.c) */
    bool movable;      /* the movablekeys flag */
} kv_cmd_meta_t;
extern const kv_cmd_meta_t kv_cmd_meta[];
extern const size_t kv_cmd_meta_count;
const kv_cmd_meta_t *kv_cmd_meta_find(const char *fullname);
bool kv_cmd_is_movable(const kv_cmd_t *cmd);
bool kv_cmd_has_keys(const kv_cmd_t *cmd);
/* A key argument: its position in argv and its flags ("RW access update"). */
typedef struct kv_keyref {
    int pos;
    const char *flags;
    size_t flags_len;
} kv_keyref_t;
/* The keys of argv[0..argc) (argv[0] the command name) as Redis finds them: their count
 * with *out malloc'd (free it), 0 when there are none, -1 when the arguments do not fit
 * the command's key specs (or out of memory). */
int kv_cmd_get_keys(const kv_cmd_t *cmd, const kv_arg_t *argv, int argc, kv_keyref_t **out);
/* COMMAND INFO's tips and key-specs fields. */
void kv_cmd_reply_tips_and_specs(kv_client_t *c, const kv_cmd_t *cmd);
/* "get" or "config|get"; NULL if unknown (cmd_server.c). */
const kv_cmd_t *kv_cmd_lookup_fullname(const kv_arg_t *a);
void kv_cmd_command_getkeysandflags(kv_client_t *c);

/* --- Slow log (slowlog.c) --- */

/* kv_cmd_call: c's call of cmd took usec; logged when slowlog-log-slower-than says so. */
void kv_slowlog_record(const kv_client_t *c, const kv_cmd_t *cmd, uint64_t usec);
long long kv_slowlog_len(void);
/* Frees every entry (SLOWLOG RESET). */
void kv_slowlog_reset(void);
void kv_cmd_slowlog_get(kv_client_t *c);
void kv_cmd_slowlog_len(kv_client_t *c);
void kv_cmd_slowlog_reset(kv_client_t *c);
void kv_cmd_slowlog_help(kv_client_t *c);

/* --- Latency monitor and histograms (latency.c) --- */

/*
 * A command's latency histogram (latency.c: the HdrHistogram layout, 24 buckets of 128
 * counts). Public so that kv_cmd_call counts a call inline: kv_latency_hist_add bumps the
 * count a table of bucket indexes by microsecond gives for the usual short calls, and
 * leaves the first call of a command (the histogram's allocation) and long ones to
 * kv_latency_hist_record.
 */
#define KV_LATENCY_HIST_COUNTS (24 * 128)
#define KV_LATENCY_FAST_USEC   256
typedef struct kv_latency_hist {
    uint64_t total;
    uint32_t counts[KV_LATENCY_HIST_COUNTS];
} kv_latency_hist_t;
/* The counts index of 0 to KV_LATENCY_FAST_USEC - 1 microseconds, filled before the
 * first histogram is allocated. */
extern uint16_t kv_latency_usec_index[KV_LATENCY_FAST_USEC];
/* A call of cmd took usec (latency-tracking). */
void kv_latency_hist_record(kv_cmd_t *cmd, uint64_t usec);
static inline void kv_latency_hist_add(kv_cmd_t *cmd, uint64_t usec) {
    kv_latency_hist_t *h = cmd->hist;
    if (KV_LIKELY(h != NULL && usec < KV_LATENCY_FAST_USEC)) {
        h->counts[kv_latency_usec_index[usec]]++;
        h->total++;
    } else {
        kv_latency_hist_record(cmd, usec);
    }
}
/* Drops every histogram (CONFIG RESETSTAT). */
void kv_latency_hist_reset(void);
/* INFO latencystats: "# Latencystats\r\n" and a line per command called; malloc'd,
 * NULL on out-of-memory. */
char *kv_latency_info_stats(void);
void kv_cmd_latency_history(kv_client_t *c);
void kv_cmd_latency_histogram(kv_client_t *c);
void kv_cmd_latency_graph(kv_client_t *c);
void kv_cmd_latency_doctor(kv_client_t *c);

/* After a call (cmd.c kv_cmd_call) when there is a MONITOR, a tracking client, a pending
 * invalidation or a publisher's own pending messages (kv_cmd_call tests those first):
 * feeds MONITOR, tracking, then delivers those messages. */
void kv_client_after_call(kv_client_t *c, kv_cmd_t *cmd);
/* Before the loop sleeps (server.c): the end of a CLIENT PAUSE, BCAST tracking messages. */
void kv_client_ext_before_sleep(void);

/* --- maxmemory and eviction (evict.c) --- */

/*
 * Used memory as maxmemory judges it: jemalloc's stats.allocated (INFO's used_memory),
 * kept fresh between real reads by this thread's allocation counters (evict.c).
 */
size_t kv_evict_used_memory(void);
/*
 * Before a command when maxmemory is set: when used memory is above it, evicts keys by
 * maxmemory-policy until enough was freed (or the call's time budget is spent; the next
 * command continues). Returns 0, or -ENOMEM when still over the limit with nothing the
 * policy may evict (always so for noeviction): the caller refuses denyoom commands.
 */
int kv_evict_perform(void);

/* --- Configuration (config.c) --- */

enum {
    KV_POLICY_VOLATILE_LRU,
    KV_POLICY_VOLATILE_LFU,
    KV_POLICY_VOLATILE_RANDOM,
    KV_POLICY_VOLATILE_TTL,
    KV_POLICY_ALLKEYS_LRU,
    KV_POLICY_ALLKEYS_LFU,
    KV_POLICY_ALLKEYS_RANDOM,
    KV_POLICY_NOEVICTION
};

typedef struct kv_obuf_limit {
    unsigned long long hard, soft;
    long long soft_seconds;
} kv_obuf_limit_t;

/* The client-output-buffer-limit class that applies to c (net.c): pubsub while
 * subscribed, else normal. */
const kv_obuf_limit_t *kv_client_obuf_limit(const kv_client_t *c);

typedef struct kv_config_values {
    char *bind; /* space-separated addresses */
    int port;
    int tcp_backlog;
    long long timeout; /* seconds, 0 = never */
    int tcp_keepalive;
    int databases;
    int maxclients;
    unsigned long long maxmemory;
    int maxmemory_policy;
    int maxmemory_samples;
    int maxmemory_eviction_tenacity;
    int lfu_log_factor;
    int lfu_decay_time;
    int hz;
    bool dynamic_hz;
    bool activerehashing;
    long long proto_max_bulk_len;
    unsigned long long client_query_buffer_limit;
    kv_obuf_limit_t obuf_limits[3]; /* normal, replica, pubsub */
    int active_expire_effort;
    long long busy_poll_us; /* kvcore: adaptive busy polling before blocking, 0 = off */
    char *heap_dump_dir;
    char *logfile;
    int loglevel;
    char *pidfile;
    char *dir;
    char *save;
    char *dbfilename;
    bool rdbcompression, rdbchecksum, stop_writes_on_bgsave_error; /* persist.c, rdb.c */
    int rdb_key_save_delay; /* microseconds slept after each key saved (tests, as Redis) */
    bool appendonly;
    int appendfsync; /* KV_AOF_FSYNC_* */
    char *appendfilename, *appenddirname;
    bool aof_use_rdb_preamble, aof_load_truncated, aof_rewrite_incremental_fsync;
    bool no_appendfsync_on_rewrite;
    int auto_aof_rewrite_perc;
    unsigned long long auto_aof_rewrite_min_size;
    bool daemonize;
    bool protected_mode;
    bool lazyfree_lazy_eviction, lazyfree_lazy_expire, lazyfree_lazy_server_del;
    bool lazyfree_lazy_user_del, lazyfree_lazy_user_flush;
    long long latency_monitor_threshold;
    bool latency_tracking;                   /* per-command histograms (latency.c) */
    char *latency_tracking_info_percentiles; /* "50 99 99.9" */
    long long tracking_table_max_keys;       /* keys CLIENT TRACKING remembers, 0: no limit */
    long long slowlog_log_slower_than;
    long long slowlog_max_len;
    /* active defragmentation (used by defrag/; here so CONFIG and the file accept them) */
    bool activedefrag;
    unsigned long long active_defrag_ignore_bytes;
    int active_defrag_threshold_lower;
    int active_defrag_threshold_upper;
    int active_defrag_cycle_min;
    int active_defrag_cycle_max;
    int active_defrag_cycle_us;
    long long active_defrag_max_scan_fields;
    /* small-aggregate encodings (used by the aggregate types) */
    long long hash_max_listpack_entries, hash_max_listpack_value;
    long long list_max_listpack_size;
    int list_compress_depth;
    long long set_max_intset_entries, set_max_listpack_entries, set_max_listpack_value;
    long long zset_max_listpack_entries, zset_max_listpack_value;
    long long hll_sparse_max_bytes; /* a larger sparse HyperLogLog becomes dense */
    bool jemalloc_bg_thread;
    char *unixsocket;
    int io_threads;
    bool always_show_logo;
    int enable_debug_command; /* 0 no, 1 yes, 2 local */
    char *requirepass;        /* the default user's password, "" = none */
    /* CONFIG SET of dir and dbfilename: 0 no, 1 yes, 2 local (as Redis 7) */
    int enable_protected_configs;
    int notify_keyspace_events; /* KV_NOTIFY_* classes (notify.c) */
} kv_config_values_t;

/* Sets every config to its default. 0 or -ENOMEM. */
int kv_config_defaults(kv_config_values_t *cfg);
void kv_config_fini(kv_config_values_t *cfg);
/*
 * Loads configuration text (a file's contents followed by "--name value" arguments
 * turned into lines). On error returns -EINVAL and writes a message naming the line to
 * err (e.g. "line 3: 'foo bar': Bad directive or wrong number of arguments").
 */
int kv_config_load_string(kv_config_values_t *cfg, const char *text, char *err, size_t errlen);
/*
 * Builds the configuration from argv as `kvcore-server [file] [--name value ...]`.
 * 0, or -EINVAL with a message in err. *want_exit is set for --version/--help (message in
 * err, exit status 0).
 */
int kv_config_from_args(kv_config_values_t *cfg, int argc, char **argv, char *err, size_t errlen,
                        bool *want_exit, char **config_file);
/* Sets one config by name at run time (CONFIG SET semantics). 0 or -errno with err. */
int kv_config_set(kv_config_values_t *cfg, const char *name, const char *value, char *err,
                  size_t errlen);
/* Formats a config's value (CONFIG GET). Returns false for an unknown name. */
bool kv_config_get(const kv_config_values_t *cfg, const char *name, char *buf, size_t len);
const char *kv_policy_name(int policy);
/* The table's rows, for CONFIG GET patterns: name (and alias) of row i, NULL past the end. */
size_t kv_config_count(void);
const char *kv_config_name_at(size_t i, const char **alias);
bool kv_config_is_immutable(const char *name);
/* Protected configs (dir, dbfilename) are set at run time only as enable-protected-configs
 * allows (as Redis 7). */
bool kv_config_is_protected(const char *name);
/* The row's name for a name or alias, NULL if unknown. */
const char *kv_config_canonical(const char *name);
/* CONFIG REWRITE (config_rewrite.c): writes cfg into the file at path as Redis rewrites
 * it (comments and order kept); 0 or -errno. */
int kv_config_rewrite(const char *path, const kv_config_values_t *cfg);
void kv_cmd_config_rewrite(kv_client_t *c);
/* CONFIG REWRITE's formatting: 'm' memory, 's' string (quoted), 'o' other, 0 unknown. */
char kv_config_kind(const char *name);

/* --- Server (server.c) --- */

#define KV_MAX_CRON_HOOKS 16
#define KV_LOG_DEBUG      0
#define KV_LOG_VERBOSE    1
#define KV_LOG_NOTICE     2
#define KV_LOG_WARNING    3

typedef struct kv_mem_stats {
    size_t allocated, active, resident, mapped, retained, metadata;
    size_t rss;
    size_t peak;
    size_t frag_smallbins;
    int64_t sampled_us;
} kv_mem_stats_t;

typedef struct kv_latency_event {
    char name[48];
    int64_t time_s;
    uint32_t latest_ms;
    uint32_t max_ms;
} kv_latency_event_t;

struct kv_server {
    kv_config_values_t cfg;
    char *config_file;
    char *executable;
    kv_loop_t *loop;
    int listen_fds[16];
    int nlisten;
    kv_db_t *dbs;
    int ndbs;
    /* clients */
    kv_client_t *clients; /* doubly linked */
    kv_client_t *pending_write;
    kv_client_t *current_client;
    size_t nclients;
    uint64_t next_client_id;
    /* time */
    int64_t start_ms;
    int64_t mstime;        /* unix ms, cached per input batch / cron (as a command sees it) */
    uint64_t cmd_clock_us; /* kv_clock_us at the end of the last command (durations) */
    uint64_t lruclock;
    int64_t cron_timer;
    uint64_t cronloops;
    int effective_hz;
    /* Changes to the dataset since the last successful save: every write command adds the
     * keys/elements it changed (as Redis's server.dirty); 0 for a no-op write. */
    long long dirty;
    /* Loading a data file: keys do not expire and nothing is propagated. */
    bool loading;
    /* stats */
    uint64_t stat_numcommands;
    uint64_t stat_numconnections;
    uint64_t stat_rejected_conn;
    uint64_t stat_expiredkeys;
    uint64_t stat_expired_stale_perc_x100;
    uint64_t stat_expired_time_cap_reached;
    uint64_t stat_evictedkeys;
    uint64_t stat_keyspace_hits;
    uint64_t stat_keyspace_misses;
    uint64_t stat_net_input_bytes;
    uint64_t stat_net_output_bytes;
    uint64_t stat_total_error_replies;
    uint64_t stat_unexpected_error_replies;
    uint64_t stat_client_qbuf_limit_disconnections;
    uint64_t stat_client_outbuf_limit_disconnections;
    uint64_t stat_acl_denied_auth; /* wrong passwords (AUTH, HELLO AUTH) */
    uint64_t stat_expire_cycle_us;
    /* instantaneous ops: samples taken every 100 ms */
    uint64_t inst_samples[16];
    int inst_idx;
    uint64_t inst_last_cmds;
    int64_t inst_last_ms;
    /* memory */
    kv_mem_stats_t mem;
    size_t startup_allocated;
    /* active expire */
    bool active_expire_enabled;
    int expire_db_cursor;
    bool expire_timelimit_exit;
    int64_t expire_fast_last_us;
    /* latency monitor */
    kv_latency_event_t latency[32];
    int nlatency;
    /* heap profiling: the resolved heap-dump-dir (absolute), "" if unset */
    char heap_dump_dir_real[4096];
    /* cron hooks */
    struct {
        kv_cron_fn fn;
        void *priv;
    } cron_hooks[KV_MAX_CRON_HOOKS];
    int ncron_hooks;
    /* shutdown */
    bool shutdown_asap;
    int exit_code;
    /* active defragmentation: written by the defragmenter, shown by INFO */
    int active_defrag_running; /* target CPU %, 0 = idle */
    uint64_t stat_active_defrag_hits, stat_active_defrag_misses;
    uint64_t stat_active_defrag_key_hits, stat_active_defrag_key_misses;
    uint64_t stat_total_active_defrag_time_ms, stat_current_active_defrag_time_ms;
    /* The running (or last) cycle's longest slice: wall and thread CPU time, in us. */
    uint64_t stat_active_defrag_longest_slice_us, stat_active_defrag_longest_slice_cpu_us;
    /* INFO errorstats: replies by error code */
    struct {
        char code[32];
        uint64_t count;
    } errorstats[32];
    int nerrorstats;
    unsigned char run_id[41];
};

/* The one server (a global: handlers reach it without plumbing). */
extern kv_server_t kv_srv;

/* kv_notify_keyspace_publish when notify-keyspace-events has cls: the class test inline,
 * so a key miss or a write costs no call with notifications off. */
static inline void kv_notify_keyspace_event(int cls, const char *event, const char *key,
                                            size_t klen, int dbid) {
    if (kv_srv.cfg.notify_keyspace_events & cls)
        kv_notify_keyspace_publish(cls, event, key, klen, dbid);
}

static inline void kv_notify_key_changed(kv_client_t *c, const kv_arg_t *key, int cls,
                                         const char *event) {
    kv_signal_modified_key(c, c->db, key->ptr, key->len);
    kv_notify_keyspace_event(cls, event, key->ptr, key->len, c->db->id);
}

/* Logs "pid:M dd Mon yyyy hh:mm:ss.mmm * msg" like Redis, to logfile or stdout. */
void kv_log(int level, const char *fmt, ...) KV_PRINTF(2, 3);
/* Refreshes kv_srv.mem from jemalloc (memshim_stats_get) and /proc RSS. */
void kv_server_update_mem_stats(void);
/* Records a latency sample when latency-monitor-threshold allows it. */
void kv_latency_add(const char *event, uint64_t ms);
/* Requests a clean shutdown at the next loop iteration. */
void kv_server_request_shutdown(void);
/* Ops per second over the last 1.6 s. */
long long kv_server_inst_ops(void);
/* Counts an error reply under its code (first word) for INFO errorstats. */
void kv_server_count_error(const char *msg);
/* Resets the statistics CONFIG RESETSTAT resets. */
void kv_server_reset_stats(void);

/* --- INFO (info.c) --- */

/*
 * The INFO text for the requested sections (argv of INFO after the command name; none =
 * "default"), CRLF line endings. Returns a malloc'd string (NULL on out-of-memory).
 */
char *kv_info_string(const kv_arg_t *sections, int nsections, size_t *len);

/* --- Access control (auth.c) --- */

struct sockaddr;

/* True when requirepass is set (not ""). */
bool kv_auth_password_set(void);
/* True when a password is set and c has not authenticated (NOAUTH applies). */
bool kv_auth_required(const kv_client_t *c);
/* Marks a new client authenticated when no password is set (or it is a fake client). */
void kv_auth_client_init(kv_client_t *c);
/* Compares pass with requirepass in constant time (through their SHA-1 digests). */
bool kv_auth_password_matches(const char *pass, size_t len);
/*
 * Authenticates c as user (only "default" exists) with pass. 0 on success (c is
 * authenticated). On failure counts it, delays c's WRONGPASS reply (the client is
 * paused, its later commands wait) and returns -EACCES; the caller replies nothing.
 */
int kv_auth_attempt(kv_client_t *c, const kv_arg_t *user, const kv_arg_t *pass);
/*
 * processCommand's NOAUTH gate: true when cmd may run; otherwise replies
 * "-NOAUTH Authentication required." and returns false.
 */
bool kv_auth_gate(kv_client_t *c, kv_cmd_t *cmd);
/* Protected mode's rule: AF_UNIX, 127.0.0.1 and ::1 are local, nothing else. */
bool kv_auth_peer_is_local(const struct sockaddr *sa, size_t len);
/* True when protected mode refuses this peer (protected-mode yes, no password, not local). */
bool kv_auth_protected_refuses(const struct sockaddr *sa, size_t len);
/*
 * At accept: when protected mode refuses the socket's peer, writes Redis's -DENIED text,
 * counts a rejected connection and returns true (the caller closes fd).
 */
bool kv_auth_refuse_connection(int fd);
/* Clients waiting for a delayed WRONGPASS. */
size_t kv_auth_paused_count(void);
/* Frees the pause table (shutdown). */
void kv_auth_fini(void);
void kv_cmd_auth(kv_client_t *c);

/* --- Crash report (crash.c) --- */

/*
 * Installs the handler for SIGSEGV, SIGBUS, SIGFPE, SIGILL and SIGABRT that writes a
 * Redis-style bug report (stack trace through libunwind, registers, INFO, clients) to
 * the log and then re-raises the signal with its default action. 0 or -errno.
 */
int kv_crash_handler_install(void);

/* --- Active defragmentation (defrag_kv.c, defrag_types.c) --- */

/*
 * Creates the engine (defrag/defrag.h) with the configured settings, registers two
 * stages per database (keys, then expires) and the cron hook. pre: srv's loop and dbs
 * exist. 0 or -ENOMEM (nothing left registered).
 */
int kv_defrag_init(kv_server_t *srv);
/* Stops a running cycle and frees everything kv_defrag_init made; safe when not made. */
void kv_defrag_fini(void);
/* The cron hook: the engine's control decision (start a cycle, raise its CPU target). */
void kv_defrag_cron(kv_server_t *srv, void *priv);
/* Applies the active-defrag-* and jemalloc-bg-thread settings of kv_srv.cfg (after
 * CONFIG SET). 0 or -ERANGE. */
int kv_defrag_config_apply(void);
/* FLUSHDB/FLUSHALL/SWAPDB changed db's tables: aborts its stage if it is running. */
void kv_defrag_db_changed(const kv_db_t *db);
bool kv_defrag_is_running(void);
/* The busy polling the event loop uses now: busy-poll-us, or 0 while a defrag cycle runs
 * (server.c). */
int64_t kv_server_busy_poll_us(void);
/* The loop's before-timers hook (server.c): writes the pending replies. */
void kv_server_before_timers(kv_loop_t *loop, void *priv);
/* The engine (defrag/defrag.h), for tests and tools; NULL before kv_defrag_init. */
struct defrag *kv_defrag_engine(void);
/* Values deferred to be relocated in pieces, over all cycles (each cycle's log line
 * gives its own count as "deferred values"). */
uint64_t kv_defrag_deferred_total(void);
/* Copies the engine's metrics into kv_srv's INFO fields. */
void kv_defrag_metrics_sync(void);
/* CONFIG RESETSTAT: zeroes the engine's counters. */
void kv_defrag_reset_stats(void);
/* The element count of o's value, for active-defrag-max-scan-fields (1 for strings). */
size_t kv_defrag_value_len(const kv_obj_t *o);
/*
 * The one block o's value is when it is exactly one allocation the object points to (a
 * RAW string's kv_rstr_t, a listpack, an intset), which a caller may relocate itself,
 * in a batch with others, and store back with kv_obj_set_ptr; NULL for values inside
 * the object and for values of several allocations (kv_defrag_value moves those).
 */
void *kv_defrag_value_block(const kv_obj_t *o);
/*
 * Relocates the allocations o's value owns (not o itself) through m, resuming at
 * *cursor (0 = the start) for about `budget` elements. Returns true when done (*cursor
 * 0), false with *cursor (below 2^56, not 0) to resume from. pre: nothing iterates o.
 */
bool kv_defrag_value(kv_obj_t *o, uint64_t *cursor, size_t budget, const kv_defrag_mover_t *m);
/*
 * Where one piece of kv_defrag_value_resume stopped inside a quicklist, so that the next
 * piece on the same value starts there instead of walking to its node index again (up to
 * half the nodes of a million-element list, at every piece). Valid only while nothing
 * else runs between the pieces: zero it after every lookup of the value.
 */
typedef struct kv_defrag_resume {
    const void *ql;
    size_t idx;
    void *node;
} kv_defrag_resume_t;
/* kv_defrag_value with a resume point r (zeroed, then kept between back-to-back pieces). */
bool kv_defrag_value_resume(kv_obj_t *o, uint64_t *cursor, size_t budget,
                            const kv_defrag_mover_t *m, kv_defrag_resume_t *r);

/* --- Dataset digest (digest.c) --- */

/* SHA-1 of data[0..len) into out. */
void kv_sha1(const void *data, size_t len, unsigned char out[20]);
/* DEBUG DIGEST: order-independent digest of every db (20 zero bytes when empty). */
void kv_digest_dataset(unsigned char out[20]);
/* The digest of one key: its name, type, value and whether it has a TTL (as Redis). */
void kv_digest_key(const kv_obj_t *o, unsigned char out[20]);
/* The digest of o's type and value only. */
void kv_digest_value(const kv_obj_t *o, unsigned char out[20]);
/* DEBUG DIGEST-VALUE: kv_digest_value plus whether o has a TTL, as Redis. */
void kv_digest_value_ttl(const kv_obj_t *o, unsigned char out[20]);
/* 40 lowercase hex digits and a NUL. */
void kv_digest_hex(const unsigned char d[20], char out[41]);

#endif /* KV_INTERNAL_H */
