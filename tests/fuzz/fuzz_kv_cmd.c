/* SPDX-License-Identifier: MIT */
/*
 * fuzz_kv_cmd.c - kvcore's command handlers: fuzzed argument vectors, run through the real
 * dispatcher (kv_cmd_process) on a small populated keyspace, with the reply framing
 * checked after every command.
 * fuzz-sources: kvcore/[a-z]*.c defrag/[a-z]*.c
 * fuzz-exclude: kvcore/main.c
 * fuzz-libs: -ljemalloc -lunwind -llzf
 * fuzz-options: -max_len=512
 *
 * Input: a sequence of commands. Per command, one byte picks a row of the command table
 * (a subcommand row sends "PARENT SUB"), one byte the number of further arguments (0..7),
 * then each argument is one tag byte: below 0x80 an entry of WORDS (key names, numbers at
 * the edges, option keywords), else a literal of (tag & 0x3f) bytes taken from the input.
 * Every input starts from the same state (all databases flushed, the keys of WORDS built
 * in every type and encoding, a new client), so a finding replays alone. An input of odd
 * length runs in RESP3 (HELLO 3 first); a fuzzed HELLO may switch either way.
 * Property: every command queues exactly one reply (the SUBSCRIBE family one per channel)
 * that parses as strict RESP in the client's protocol (type byte, canonical numbers, CRLF,
 * bulk lengths and aggregate counts exact; RESP2 has no RESP3 type, RESP3 no "$-1"/"*-1"
 * null), with no byte left over; and the sanitizers see no error. Commands that stop,
 * sleep, close the client, write files or change the server's configuration on purpose
 * are not run (SKIPPED).
 */
#include "fuzz_common.h"

#include "kv_internal.h"

#include <errno.h>
#include <string.h>
#include <strings.h>

#include "fuzz_kv_seams.h"

/* The arguments a tag byte below 0x80 names. */
static const char *const WORDS[] = {"s:int",
                                    "s:emb",
                                    "s:raw",
                                    "l:lp",
                                    "l:ql",
                                    "h:lp",
                                    "h:ht",
                                    "st:is",
                                    "st:ht",
                                    "z:lp",
                                    "z:sl",
                                    "none",
                                    "dst",
                                    "",
                                    "0",
                                    "1",
                                    "-1",
                                    "2",
                                    "3",
                                    "10",
                                    "100",
                                    "-100",
                                    "1.5",
                                    "-2.5",
                                    "inf",
                                    "-inf",
                                    "+inf",
                                    "nan",
                                    "4294967296",
                                    "9223372036854775807",
                                    "-9223372036854775808",
                                    "9223372036854775808",
                                    "18446744073709551616",
                                    "1e300",
                                    "(1",
                                    "[a",
                                    "(a",
                                    "-",
                                    "+",
                                    "a",
                                    "b",
                                    "f1",
                                    "m1",
                                    "e1",
                                    "*",
                                    "k*",
                                    "EX",
                                    "PX",
                                    "EXAT",
                                    "PXAT",
                                    "NX",
                                    "XX",
                                    "GT",
                                    "LT",
                                    "CH",
                                    "INCR",
                                    "KEEPTTL",
                                    "GET",
                                    "PERSIST",
                                    "WITHSCORES",
                                    "LIMIT",
                                    "BYSCORE",
                                    "BYLEX",
                                    "REV",
                                    "MATCH",
                                    "COUNT",
                                    "TYPE",
                                    "RANK",
                                    "MAXLEN",
                                    "LEFT",
                                    "RIGHT",
                                    "BEFORE",
                                    "AFTER",
                                    "BYTE",
                                    "BIT",
                                    "REPLACE",
                                    "DB",
                                    "WEIGHTS",
                                    "AGGREGATE",
                                    "SUM",
                                    "MIN",
                                    "MAX",
                                    "WITHVALUES",
                                    "ENCODING",
                                    "FREQ",
                                    "IDLETIME",
                                    "REFCOUNT",
                                    "USAGE",
                                    "SAMPLES",
                                    "STATS",
                                    "HELP",
                                    "INFO",
                                    "LIST",
                                    "DOCS",
                                    "GETKEYS",
                                    "FILTERBY",
                                    "PATTERN",
                                    "ACLCAT",
                                    "SET",
                                    "ID",
                                    "OBJECT",
                                    "DIGEST",
                                    "DIGEST-VALUE",
                                    "string",
                                    "hash",
                                    "zset",
                                    "maxmemory",
                                    "hz",
                                    "*-max-*",
                                    "-4294967297",
                                    "65536",
                                    "0.0",
                                    "-0",
                                    "1e-320",
                                    "0x10",
                                    " 1",
                                    "1 ",
                                    "\xff\xfe",
                                    "x\r\ny"};
#define NWORDS (sizeof(WORDS) / sizeof(WORDS[0]))

/* Rows never run, and why: lower-case "parent|sub" or "name". */
static const char *const SKIPPED[] = {
    "shutdown",     /* stops the server */
    "quit",         /* closes the client */
    "client|kill",  /* may close the fuzzing client itself */
    "config|set",   /* changes dir, limits, logging of the process under test */
    "memory|heap",  /* the heap profiler writes files */
    "kprofile",     /* the same, Kvrocks-style */
    "debug",        /* SLEEP/SEGFAULT/POPULATE huge on purpose: DEBUG_OK subcommands only */
    "bgrewriteaof", /* forks a child that writes files */
    "save",         /* writes the dump file */
    "bgsave",       /* forks a child that writes the dump file */
    NULL};
/* DEBUG subcommands that are run. */
static const char *const DEBUG_OK[] = {
    "object", "digest", "digest-value", "help", "set-active-expire", "protocol", NULL};

#define MAX_ROWS 512
static const kv_cmd_t *rows[MAX_ROWS];
static size_t nrows;
static kv_client_t *client;

static void collect(kv_cmd_t *cmd, void *priv) {
    (void)priv;
    if (nrows < MAX_ROWS) rows[nrows++] = cmd; /* containers too: "CONFIG nosuch" */
}

static bool skipped(const kv_cmd_t *cmd) {
    for (size_t i = 0; SKIPPED[i]; i++)
        if (strcmp(SKIPPED[i], cmd->fullname) == 0) return true;
    return false;
}

/* --- The reply check --- */

typedef struct rd {
    const char *p;
    size_t len, pos;
    bool resp3; /* the protocol the reply must be in */
} rd_t;

static bool rd_line(rd_t *r, const char **s, size_t *n) {
    const char *start = r->p + r->pos;
    const char *cr = memchr(start, '\r', r->len - r->pos);
    if (cr == NULL || (size_t)(cr - r->p) + 1 >= r->len || cr[1] != '\n') return false;
    if (memchr(start, '\n', (size_t)(cr - start)) != NULL) return false;
    *s = start;
    *n = (size_t)(cr - start);
    r->pos = (size_t)(cr - r->p) + 2;
    return true;
}

/* A canonical decimal (kv_str2ll: no '+', no spaces, no leading zeros); a length or a
 * count (len_field) is -1 or more. */
static bool number(const char *s, size_t n, bool len_field, long long *out) {
    if (!kv_str2ll(s, n, out)) return false;
    return !len_field || *out >= -1;
}

/* A RESP3 double: "inf", "-inf", "nan", "-nan", or what strtod reads whole. */
static bool double_text(const char *s, size_t n) {
    char buf[64];
    if (n == 0 || n >= sizeof(buf)) return false;
    memcpy(buf, s, n);
    buf[n] = '\0';
    if (!strcmp(buf, "inf") || !strcmp(buf, "-inf") || !strcmp(buf, "nan") || !strcmp(buf, "-nan"))
        return true;
    char *end;
    (void)strtod(buf, &end);
    return end == buf + n && buf[0] != ' ' && buf[0] != '+';
}

/* A RESP3 big number: an optional '-', then digits. */
static bool bignum_text(const char *s, size_t n) {
    size_t i = n > 0 && s[0] == '-';
    if (i == n) return false;
    for (; i < n; i++)
        if (s[i] < '0' || s[i] > '9') return false;
    return true;
}

/* A bulk payload of v bytes after its length line, then CRLF. */
static bool rd_payload(rd_t *r, long long v) {
    if ((size_t)v > r->len - r->pos || r->len - r->pos - (size_t)v < 2) return false;
    r->pos += (size_t)v;
    if (r->p[r->pos] != '\r' || r->p[r->pos + 1] != '\n') return false;
    r->pos += 2;
    return true;
}

static bool rd_children(rd_t *r, long long n, int depth);

static bool rd_reply(rd_t *r, int depth) {
    if (depth > 8 || r->pos >= r->len) return false;
    char t = r->p[r->pos++];
    const char *s;
    size_t n;
    long long v;
    if (!rd_line(r, &s, &n)) return false;
    if (strchr("_,#(=!%~>|", t) != NULL && !r->resp3) return false; /* RESP3 types */
    switch (t) {
    case '+':
    case '-': return true;
    case ':': return number(s, n, false, &v);
    case '$':
    case '*':
        if (!number(s, n, true, &v)) return false;
        if (v < 0) return !r->resp3; /* RESP3's null is "_" */
        return t == '$' ? rd_payload(r, v) : rd_children(r, v, depth);
    case '_': return n == 0;
    case ',': return double_text(s, n);
    case '#': return n == 1 && (s[0] == 't' || s[0] == 'f');
    case '(': return bignum_text(s, n);
    case '=': /* "txt:" or "mkd:" then the text */
        if (!number(s, n, true, &v) || v < 4) return false;
        if (r->len - r->pos < 4 || r->p[r->pos + 3] != ':') return false;
        return rd_payload(r, v);
    case '!': return number(s, n, true, &v) && v >= 0 && rd_payload(r, v);
    case '~':
    case '>': return number(s, n, true, &v) && v >= 0 && rd_children(r, v, depth);
    case '%': return number(s, n, true, &v) && v >= 0 && rd_children(r, 2 * v, depth);
    case '|': /* an attribute: its pairs, then the reply it annotates */
        return number(s, n, true, &v) && v >= 0 && rd_children(r, 2 * v, depth) &&
               rd_reply(r, depth);
    default: return false;
    }
}

static bool rd_children(rd_t *r, long long n, int depth) {
    for (long long i = 0; i < n; i++)
        if (!rd_reply(r, depth + 1)) return false;
    return true;
}

/* Commands that reply once per channel (SUBSCRIBE a b: two confirmations). */
static const char *const PER_CHANNEL[] = {
    "subscribe", "psubscribe", "ssubscribe", "unsubscribe", "punsubscribe", "sunsubscribe", NULL};

static bool replies_per_channel(const kv_cmd_t *cmd) {
    for (size_t i = 0; cmd != NULL && PER_CHANNEL[i]; i++)
        if (strcmp(PER_CHANNEL[i], cmd->fullname) == 0) return true;
    return false;
}

/* The client's queued output (buffer, then blocks), checked and dropped; returns the
 * reply's type byte. */
static char check_output(kv_client_t *c) {
    size_t n = kv_client_pending_bytes(c);
    char *out = malloc(n ? n : 1);
    if (out == NULL) abort();
    memcpy(out, c->buf, c->bufpos);
    size_t o = c->bufpos;
    while (c->rhead) {
        kv_reply_block_t *b = c->rhead;
        FUZZ_CHECK(o + b->used <= n);
        memcpy(out + o, b->data, b->used);
        o += b->used;
        c->rhead = b->next;
        free(b);
    }
    FUZZ_CHECK(o == n);
    c->rtail = NULL;
    c->bufpos = c->sentlen = c->reply_bytes = c->nblocks = 0;
    rd_t r = {out, n, 0, c->resp >= 3};
    FUZZ_CHECK(rd_reply(&r, 0)); /* one complete, well-formed reply... */
    if (replies_per_channel(c->lastcmd))
        while (r.pos < n)
            FUZZ_CHECK(rd_reply(&r, 0));
    FUZZ_CHECK(r.pos == n); /* ...and nothing after it */
    char type = out[0];
    free(out);
    return type;
}

/* --- State --- */

static char run(kv_client_t *c, int argc, kv_arg_t *argv) {
    c->argc = argc;
    c->argv = argv;
    kv_srv.current_client = c;
    kv_srv.mstime = kv_mstime();
    kv_srv.cmd_clock_us = kv_clock_us();
    kv_cmd_process(c);
    kv_srv.current_client = NULL;
    if (c->flags & KV_CLIENT_BLOCKED) { /* a blocking pop found nothing: time it out */
        kv_blocked_client_gone(c);
        kv_reply_null_array(c);
    }
    c->argc = 0;
    c->argv = NULL;
    return check_output(c);
}

static void runv(kv_client_t *c, const char *const *words) {
    kv_arg_t argv[512];
    int argc = 0;
    while (words[argc] && argc < 512) {
        argv[argc].ptr = words[argc];
        argv[argc].len = strlen(words[argc]);
        argc++;
    }
    run(c, argc, argv);
}

/* A command with n generated "prefix<i>" or "<i>" arguments appended. */
static void run_gen(kv_client_t *c, const char *cmd, const char *key, int n, int kind) {
    static char store[256][80];
    kv_arg_t argv[260];
    int argc = 0;
    argv[argc++] = (kv_arg_t){cmd, strlen(cmd)};
    argv[argc++] = (kv_arg_t){key, strlen(key)};
    for (int i = 0; i < n && argc < 258; i++) {
        int len;
        if (kind == 0) /* list elements, long enough to make a quicklist */
            len = snprintf(store[i], sizeof(store[i]), "e%03d-%060d", i, i);
        else if (kind == 1) /* field/member names */
            len = snprintf(store[i], sizeof(store[i]), "m%d", i);
        else /* integers */
            len = snprintf(store[i], sizeof(store[i]), "%d", i);
        argv[argc++] = (kv_arg_t){store[i], (size_t)len};
        if (kind == 3) argv[argc++] = (kv_arg_t){store[i], (size_t)len}; /* pairs */
    }
    run(c, argc, argv);
}

static bool initialised;

/* The keyspace is freed at exit: its tables hold the objects in a form LeakSanitizer's
 * pointer scan does not follow, and it would report every key as leaked. */
static void fini(void) {
    if (client) kv_client_free(client);
    client = NULL;
    kv_db_free_all(&kv_srv);
}

static void init_once(void) {
    if (initialised) return;
    initialised = true;
    memset(&kv_srv, 0, sizeof(kv_srv));
    for (int i = 0; i < 16; i++)
        kv_srv.listen_fds[i] = -1;
    FUZZ_CHECK(kv_config_defaults(&kv_srv.cfg) == 0);
    char err[256];
    /* No save points: FLUSHALL would write dump.rdb. */
    FUZZ_CHECK(kv_config_set(&kv_srv.cfg, "save", "", err, sizeof(err)) == 0);
    /* Small limits: a SETRANGE/SETBIT far away refuses instead of allocating 512 MB. */
    FUZZ_CHECK(kv_config_set(&kv_srv.cfg, "proto-max-bulk-len", "1048576", err, sizeof(err)) == 0);
    kv_srv.cfg.enable_debug_command = 1;
    kv_srv.start_ms = kv_srv.mstime = kv_mstime();
    kv_srv.active_expire_enabled = true;
    FUZZ_CHECK(kv_cmd_init() == 0);
    FUZZ_CHECK(kv_db_init_all(&kv_srv) == 0);
    kv_cmd_foreach(collect, NULL);
    FUZZ_CHECK(nrows > 0);
    atexit(fini);
}

/*
 * Set when a command that is not read-only succeeded: the next input starts from a
 * rebuilt keyspace. Inputs that changed nothing leave it as it was built (the rebuild is
 * most of the time of an input). Nothing in the keyspace expires on its own (the TTL
 * below is decades), so the state an input sees is the same either way.
 */
static bool dirty = true;

static void reset_state(void) {
    if (!dirty) {
        kv_client_free(client);
        client = kv_client_new(-1); /* SELECT, CLIENT SETNAME... start over */
        FUZZ_CHECK(client != NULL);
        return;
    }
    dirty = false;
    if (client) kv_client_free(client);
    client = kv_client_new(-1);
    FUZZ_CHECK(client != NULL);
    kv_client_t *c = client;
    runv(c, (const char *const[]){"FLUSHALL", NULL});
    runv(c, (const char *const[]){"SET", "s:int", "12345", NULL});
    runv(c, (const char *const[]){"SET", "s:emb", "hello", NULL});
    runv(c, (const char *const[]){"SET", "s:raw",
                                  "0123456789012345678901234567890123456789012345678901234567890123"
                                  "456789",
                                  NULL});
    runv(c, (const char *const[]){"RPUSH", "l:lp", "a", "b", "1", "2", "a", NULL});
    run_gen(c, "RPUSH", "l:ql", 130, 0);
    runv(c, (const char *const[]){"HSET", "h:lp", "f1", "v1", "f2", "2", NULL});
    run_gen(c, "HSET", "h:ht", 129, 3);
    runv(c, (const char *const[]){"SADD", "st:is", "1", "2", "3", NULL});
    run_gen(c, "SADD", "st:ht", 4, 1); /* names: a hashtable */
    runv(c, (const char *const[]){"ZADD", "z:lp", "1", "a", "2", "b", "2", "m1", NULL});
    run_gen(c, "ZADD", "z:sl", 129, 3);
    runv(c, (const char *const[]){"PEXPIRE", "s:emb", "1000000000000", NULL});
}

#define MAX_CMDS 48

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    init_once();
    reset_state();
    uint8_t *in = fuzz_dup(data, size);
    if (in == NULL) return 0;
    if (size % 2 == 1) runv(client, (const char *const[]){"HELLO", "3", NULL});
    size_t pos = 0;
    for (int ncmd = 0; ncmd < MAX_CMDS && pos + 2 <= size; ncmd++) {
        const kv_cmd_t *cmd = rows[in[pos++] % nrows];
        int extra = in[pos++] % 8;
        kv_arg_t argv[12];
        int argc = 0;
        if (cmd->parent) {
            argv[argc++] = (kv_arg_t){cmd->parent->name, strlen(cmd->parent->name)};
        }
        argv[argc++] = (kv_arg_t){cmd->name, strlen(cmd->name)};
        for (int i = 0; i < extra && pos < size; i++) {
            uint8_t tag = in[pos++];
            if (tag < 0x80) {
                const char *w = WORDS[tag % NWORDS];
                argv[argc++] = (kv_arg_t){w, strlen(w)};
            } else {
                size_t len = tag & 0x3f;
                if (len > size - pos) len = size - pos;
                argv[argc++] = (kv_arg_t){(const char *)in + pos, len};
                pos += len;
            }
        }
        /* What the dispatcher will run (a container row plus a word may name any
         * subcommand). */
        const kv_cmd_t *real = kv_cmd_lookup_argv(argv, argc);
        if (real != NULL && skipped(real)) {
            if (strcmp(real->name, "debug") != 0 || argc < 2) continue;
            bool ok = false;
            for (size_t i = 0; DEBUG_OK[i]; i++)
                ok = ok || (argv[1].len == strlen(DEBUG_OK[i]) &&
                            strncasecmp(argv[1].ptr, DEBUG_OK[i], argv[1].len) == 0);
            /* DEBUG PROTOCOL push answers twice on purpose (a push, then a reply). */
            if (argc >= 3 && argv[2].len == 4 && strncasecmp(argv[2].ptr, "push", 4) == 0) continue;
            if (!ok) continue;
        }
        /* A negative count asks SRANDMEMBER & co. for that many picks: billions take
         * minutes (as in Redis), which is a timeout, not a finding. */
        if (real != NULL && argc >= 3 &&
            (strcmp(real->name, "srandmember") == 0 || strcmp(real->name, "hrandfield") == 0 ||
             strcmp(real->name, "zrandmember") == 0)) {
            long long n;
            if (kv_str2ll(argv[2].ptr, argv[2].len, &n) && (n < -100000 || n > 100000)) continue;
        }
        char type = run(client, argc, argv);
        if (type != '-' && (real == NULL || !(real->flags & KV_CMD_READONLY))) dirty = true;
    }
    free(in);
    return 0;
}
