/* SPDX-License-Identifier: MIT */
/*
 * resp.c - RESP2 in both directions: the request parser (multibulk and inline) and the
 * reply writer.
 *
 * Each call parses one whole command from the start of the unparsed bytes, or reports how
 * many bytes it knows it needs. An incomplete multibulk command keeps its progress as
 * offsets from the command's start (the caller may move or grow its buffer between
 * calls, but must pass the same command start again), so a command arriving in many
 * reads is parsed once: each call only looks at the bytes that arrived since the last
 * one, and the arguments stay offsets until the command is complete, when they become
 * pointers in one pass (never one pass per read: 4M arguments arriving in 16 KB reads
 * would otherwise cost 4M x 1700 steps). Arguments point into the caller's buffer: a
 * command is run without copying it. The checks and
 * error texts are Redis 7.0's processMultibulkBuffer/processInlineBuffer, including what
 * they do not check (the CRLF after a bulk payload is skipped, not verified), and the
 * limits for a client that has not authenticated yet (r->unauth): at most 10 arguments
 * and 16 KB per bulk, as Redis since 6.2.6.
 *
 * The writer appends to the client's 16 KB buffer, then to a list of blocks; a deferred
 * length is a placeholder block filled in when the length is known.
 */
#include "kv_internal.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- Request parser --- */

void kv_req_init(kv_req_t *r, long long max_bulk) {
    memset(r, 0, sizeof(*r));
    r->max_bulk = max_bulk;
}

void kv_req_fini(kv_req_t *r) {
    free(r->argv);
    free(r->scratch);
    r->argv = NULL;
    r->scratch = NULL;
    r->argv_cap = 0;
    r->scratch_cap = 0;
}

size_t kv_req_mem(const kv_req_t *r) {
    return (size_t)r->argv_cap * sizeof(kv_arg_t) + r->scratch_cap;
}

/* What a client keeps between commands: enough for ordinary commands. */
#define REQ_KEEP_ARGS    1024
#define REQ_KEEP_SCRATCH 16384

void kv_req_trim(kv_req_t *r) {
    if (r->mb_left > 0) return; /* mid-command: argv holds its progress */
    if (r->argv_cap > REQ_KEEP_ARGS) {
        free(r->argv);
        r->argv = NULL;
        r->argv_cap = 0;
        r->argc = 0;
    }
    if (r->scratch_cap > REQ_KEEP_SCRATCH) {
        free(r->scratch);
        r->scratch = NULL;
        r->scratch_cap = 0;
        r->argc = 0;
    }
}

static ssize_t req_fail(kv_req_t *r, int err, const char *fmt, ...) MS_PRINTF(3, 4);
static ssize_t req_fail(kv_req_t *r, int err, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->errstr, sizeof(r->errstr), fmt, ap);
    va_end(ap);
    r->err = err;
    r->argc = 0;
    return err;
}

static int req_reserve(kv_req_t *r, long long n) {
    if (n <= r->argv_cap) return 0;
    /* Grow to what the header announces, but never trust it for more than 1024 slots at
     * once: a client announcing 1M arguments and sending none must not cost 16 MB. */
    long long want = r->argv_cap ? (long long)r->argv_cap * 2 : 16;
    if (want < n && n <= 1024) want = n;
    if (want < n) want = r->argv_cap + 1024 > n ? n : r->argv_cap + 1024;
    kv_arg_t *a = realloc(r->argv, (size_t)want * sizeof(*a));
    if (a == NULL) return -ENOMEM;
    r->argv = a;
    r->argv_cap = (int)want;
    return 0;
}

static ssize_t parse_inline(kv_req_t *r, const char *buf, size_t len) {
    const char *nl = memchr(buf, '\n', len);
    if (nl == NULL) {
        if (len > KV_PROTO_INLINE_MAX)
            return req_fail(r, -EPROTO, "Protocol error: too big inline request");
        r->need = len + 1;
        return 0;
    }
    size_t linelen = (size_t)(nl - buf);
    size_t used = linelen + 1;
    if (linelen > 0 && buf[linelen - 1] == '\r') linelen--;
    r->is_inline = true;
    /* Arguments cannot outnumber half the line (plus one); req_reserve grows by at most
     * 1024 slots a step, and the line is at most 64 KB, so this ends. */
    long long slots = (long long)linelen / 2 + 2;
    while (r->argv_cap < slots)
        if (req_reserve(r, slots) != 0) return -ENOMEM;
    int argc = kv_split_args(buf, linelen, &r->scratch, &r->scratch_cap, r->argv, r->argv_cap);
    if (argc == -ENOMEM) return -ENOMEM;
    if (argc < 0) return req_fail(r, -EPROTO, "Protocol error: unbalanced quotes in request");
    r->argc = argc;
    return (ssize_t)used;
}

/* Finds "\r" with at least one byte after it in [pos, len); -1 if there is none yet. */
static ssize_t find_line(const char *buf, size_t pos, size_t len) {
    const char *cr = memchr(buf + pos, '\r', len - pos);
    if (cr == NULL) return -1;
    if ((size_t)(cr - buf) + 1 >= len) return -1;
    return cr - buf;
}

/*
 * The usual shape of a count line, "*<digits>\r" or "$<digits>\r" at buf[pos]: 1 to 18
 * digits without a leading zero (or a lone "0") before a '\r' that has a byte after it.
 * Returns the '\r' position and the value, or -1 for any other shape; the caller then takes
 * the general path (find_line, kv_str2ll), which gives the same answer for lines of this
 * shape. Parsing counts this way instead of memchr plus kv_str2ll halved the parser's
 * instructions per pipelined SET (callgrind).
 */
static inline ssize_t fast_count(const char *buf, size_t pos, size_t len, long long *out) {
    size_t i = pos + 1, end = len - 1; /* the '\r' needs one byte after it */
    if (i >= end) return -1;
    unsigned d = (unsigned)(unsigned char)buf[i] - '0';
    if (d > 9 || (d == 0 && buf[i + 1] != '\r')) return -1;
    long long v = d;
    size_t lim = i + 18 < end ? i + 18 : end;
    for (i++; i < lim; i++) {
        d = (unsigned)(unsigned char)buf[i] - '0';
        if (d > 9) break;
        v = v * 10 + d;
    }
    if (i >= end || buf[i] != '\r') return -1;
    *out = v;
    return (ssize_t)i;
}

/*
 * Arguments are stored as offsets from the command's start while it is parsed (the
 * caller may move the buffer between calls) and turned into pointers into buf once,
 * when the command is complete.
 */
static ssize_t parse_multibulk(kv_req_t *r, const char *buf, size_t len) {
    size_t pos;
    int argc;
    long long left;
    if (r->mb_left == 0) {
        long long n;
        ssize_t cr = fast_count(buf, 0, len, &n);
        if (cr < 0) {
            cr = find_line(buf, 0, len);
            if (cr < 0) {
                if (len > KV_PROTO_INLINE_MAX)
                    return req_fail(r, -EPROTO, "Protocol error: too big mbulk count string");
                r->need = len + 1;
                return 0;
            }
            if (!kv_str2ll(buf + 1, (size_t)cr - 1, &n))
                return req_fail(r, -EPROTO, "Protocol error: invalid multibulk length");
        }
        if (n > INT_MAX) return req_fail(r, -EPROTO, "Protocol error: invalid multibulk length");
        if (n > KV_PROTO_UNAUTH_MBULK_MAX && r->unauth)
            return req_fail(r, -EPROTO, "Protocol error: unauthenticated multibulk length");
        pos = (size_t)cr + 2;
        if (n <= 0) return (ssize_t)pos; /* argc 0: nothing to run */
        left = n;
        argc = 0;
    } else {
        /* Resume after the arguments parsed by an earlier call. */
        pos = r->mb_pos;
        argc = r->mb_argc;
        left = r->mb_left;
    }
    while (left > 0) {
        ssize_t cr = -1;
        long long bl;
        if (pos < len && buf[pos] == '$') cr = fast_count(buf, pos, len, &bl);
        if (cr < 0) {
            if (pos >= len || (cr = find_line(buf, pos, len)) < 0) {
                if (pos < len && len - pos > KV_PROTO_INLINE_MAX)
                    return req_fail(r, -EPROTO, "Protocol error: too big bulk count string");
                r->need = len + 1;
                goto incomplete;
            }
            if (buf[pos] != '$')
                return req_fail(r, -EPROTO, "Protocol error: expected '$', got '%c'", buf[pos]);
            if (!kv_str2ll(buf + pos + 1, (size_t)cr - pos - 1, &bl))
                return req_fail(r, -EPROTO, "Protocol error: invalid bulk length");
        }
        if (bl < 0 || bl > r->max_bulk)
            return req_fail(r, -EPROTO, "Protocol error: invalid bulk length");
        if (bl > KV_PROTO_UNAUTH_BULK_MAX && r->unauth)
            return req_fail(r, -EPROTO, "Protocol error: unauthenticated bulk length");
        size_t data = (size_t)cr + 2;
        if ((unsigned long long)(len - data) < (unsigned long long)bl + 2) {
            /* The payload is not all here: tell the caller how much it needs. */
            r->need = data + (size_t)bl + 2;
            goto incomplete;
        }
        if (argc >= r->argv_cap && req_reserve(r, (long long)argc + 1) != 0) return -ENOMEM;
        r->argv[argc].ptr = (const char *)(uintptr_t)data; /* an offset until complete */
        r->argv[argc].len = (size_t)bl;
        argc++;
        left--;
        pos = data + (size_t)bl + 2;
    }
    for (int i = 0; i < argc; i++)
        r->argv[i].ptr = buf + (uintptr_t)r->argv[i].ptr;
    r->mb_left = 0;
    r->argc = argc;
    r->mb_argc = 0;
    r->mb_pos = 0;
    return (ssize_t)pos;
incomplete:
    r->mb_left = left;
    r->mb_pos = pos;
    r->mb_argc = argc;
    r->argc = 0;
    return 0;
}

ssize_t kv_req_parse(kv_req_t *r, const char *buf, size_t len) {
    if (r->err != 0) return r->err;
    r->argc = 0;
    r->need = 0;
    r->is_inline = false;
    if (r->mb_left > 0) return parse_multibulk(r, buf, len);
    if (len == 0) {
        r->need = 1;
        return 0;
    }
    if (buf[0] == '*') return parse_multibulk(r, buf, len);
    return parse_inline(r, buf, len);
}

/* --- Reply writer --- */

static void client_mark_pending(kv_client_t *c) {
    if (c->flags & (KV_CLIENT_PENDING_WRITE | KV_CLIENT_FAKE)) return;
    c->flags |= KV_CLIENT_PENDING_WRITE;
    c->pw_next = kv_srv.pending_write;
    kv_srv.pending_write = c;
}

static kv_reply_block_t *block_new(size_t size) {
    kv_reply_block_t *b = malloc(sizeof(*b) + size);
    if (b == NULL) return NULL;
    b->next = NULL;
    b->size = size;
    b->used = 0;
    return b;
}

static void block_append(kv_client_t *c, kv_reply_block_t *b) {
    if (c->rtail)
        c->rtail->next = b;
    else
        c->rhead = b;
    c->rtail = b;
    c->nblocks++;
}

static void check_obuf_limits(kv_client_t *c) {
    const kv_obuf_limit_t *l = &kv_srv.cfg.obuf_limits[0];
    size_t used = c->reply_bytes;
    if (l->hard && used >= l->hard) goto close;
    if (l->soft && used >= l->soft) {
        int64_t now = kv_srv.mstime;
        if (c->obuf_soft_since_ms == 0) {
            c->obuf_soft_since_ms = now;
        } else if ((now - c->obuf_soft_since_ms) / 1000 > l->soft_seconds) {
            goto close;
        }
    } else {
        c->obuf_soft_since_ms = 0;
    }
    return;
close:
    if (!(c->flags & KV_CLIENT_CLOSE_ASAP)) {
        kv_srv.stat_client_outbuf_limit_disconnections++;
        kv_log(KV_LOG_WARNING,
               "Client id=%llu addr=%s scheduled to be closed ASAP for overcoming of output "
               "buffer limits.",
               (unsigned long long)c->id, c->addr);
        kv_client_close_async(c);
    }
}

void kv_reply_raw(kv_client_t *c, const char *p, size_t len) {
    if (c->flags & KV_CLIENT_CLOSE_ASAP) return;
    client_mark_pending(c);
    if (c->rhead == NULL) {
        size_t room = c->bufsize - c->bufpos;
        size_t n = len < room ? len : room;
        memcpy(c->buf + c->bufpos, p, n);
        c->bufpos += n;
        p += n;
        len -= n;
        if (len == 0) return;
    }
    kv_reply_block_t *t = c->rtail;
    if (t != NULL && t->size > t->used) {
        size_t n = t->size - t->used;
        if (n > len) n = len;
        memcpy(t->data + t->used, p, n);
        t->used += n;
        c->reply_bytes += n;
        p += n;
        len -= n;
    }
    if (len > 0) {
        size_t size = len > KV_REPLY_BUF ? len : KV_REPLY_BUF;
        kv_reply_block_t *b = block_new(size);
        if (b == NULL) {
            /* Out of memory for a reply: the client cannot get a consistent stream. */
            kv_client_close_async(c);
            return;
        }
        memcpy(b->data, p, len);
        b->used = len;
        c->reply_bytes += len;
        block_append(c, b);
    }
    check_obuf_limits(c);
}

void kv_reply_ok(kv_client_t *c) {
    kv_reply_raw(c, "+OK\r\n", 5);
}

void kv_reply_status(kv_client_t *c, const char *s) {
    size_t n = strlen(s);
    char small[128];
    if (n + 3 <= sizeof(small)) {
        small[0] = '+';
        memcpy(small + 1, s, n);
        memcpy(small + 1 + n, "\r\n", 2);
        kv_reply_raw(c, small, n + 3);
        return;
    }
    kv_reply_raw(c, "+", 1);
    kv_reply_raw(c, s, n);
    kv_reply_raw(c, "\r\n", 2);
}

void kv_reply_error(kv_client_t *c, const char *msg) {
    size_t n = strlen(msg);
    char small[512];
    char *out = n + 3 <= sizeof(small) ? small : malloc(n + 3);
    if (out == NULL) {
        kv_client_close_async(c);
        return;
    }
    out[0] = '-';
    for (size_t i = 0; i < n; i++)
        out[i + 1] = (msg[i] == '\r' || msg[i] == '\n') ? ' ' : msg[i];
    memcpy(out + 1 + n, "\r\n", 2);
    kv_reply_raw(c, out, n + 3);
    if (out != small) free(out);
    kv_srv.stat_total_error_replies++;
    kv_server_count_error(msg);
    if (c->cmd != NULL) ((kv_cmd_t *)c->cmd)->failed_calls++;
}

void kv_reply_errorf(kv_client_t *c, const char *fmt, ...) {
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    kv_reply_error(c, buf);
}

static void reply_prefixed_len(kv_client_t *c, char prefix, long long v) {
    char buf[32];
    buf[0] = prefix;
    size_t n = kv_ll2str(buf + 1, v) + 1;
    buf[n++] = '\r';
    buf[n++] = '\n';
    kv_reply_raw(c, buf, n);
}

void kv_reply_int(kv_client_t *c, long long v) {
    if (v == 0)
        kv_reply_raw(c, ":0\r\n", 4);
    else if (v == 1)
        kv_reply_raw(c, ":1\r\n", 4);
    else
        reply_prefixed_len(c, ':', v);
}

void kv_reply_bulk(kv_client_t *c, const void *p, size_t len) {
    char hdr[32];
    if (len < 1024 && c->rhead == NULL && c->bufsize - c->bufpos >= len + 32) {
        /* Fast path: header, payload and CRLF straight into the buffer. */
        char *d = c->buf + c->bufpos;
        d[0] = '$';
        size_t n = kv_ll2str(d + 1, (long long)len) + 1;
        d[n++] = '\r';
        d[n++] = '\n';
        memcpy(d + n, p, len);
        n += len;
        d[n++] = '\r';
        d[n++] = '\n';
        if (!(c->flags & KV_CLIENT_CLOSE_ASAP)) {
            client_mark_pending(c);
            c->bufpos += n;
        }
        return;
    }
    hdr[0] = '$';
    size_t n = kv_ll2str(hdr + 1, (long long)len) + 1;
    hdr[n++] = '\r';
    hdr[n++] = '\n';
    kv_reply_raw(c, hdr, n);
    kv_reply_raw(c, p, len);
    kv_reply_raw(c, "\r\n", 2);
}

void kv_reply_bulk_cstr(kv_client_t *c, const char *s) {
    if (s == NULL)
        kv_reply_null(c);
    else
        kv_reply_bulk(c, s, strlen(s));
}

void kv_reply_bulk_ll(kv_client_t *c, long long v) {
    char buf[32];
    size_t n = kv_ll2str(buf, v);
    kv_reply_bulk(c, buf, n);
}

void kv_reply_double(kv_client_t *c, double d) {
    if (isinf(d)) {
        kv_reply_bulk_cstr(c, d > 0 ? "inf" : "-inf");
        return;
    }
    char buf[64];
    int n = snprintf(buf, sizeof(buf), "%.17g", d);
    kv_reply_bulk(c, buf, (size_t)n);
}

void kv_reply_null(kv_client_t *c) {
    kv_reply_raw(c, "$-1\r\n", 5);
}

void kv_reply_null_array(kv_client_t *c) {
    kv_reply_raw(c, "*-1\r\n", 5);
}

void kv_reply_array_len(kv_client_t *c, long len) {
    reply_prefixed_len(c, '*', len);
}

void kv_reply_map_len(kv_client_t *c, long len) {
    reply_prefixed_len(c, '*', len * 2);
}

void *kv_reply_deferred(kv_client_t *c) {
    if (c->flags & KV_CLIENT_CLOSE_ASAP) return NULL;
    client_mark_pending(c);
    kv_reply_block_t *b = block_new(24);
    if (b == NULL) {
        kv_client_close_async(c);
        return NULL;
    }
    b->size = 0; /* full: later replies go to the next block */
    block_append(c, b);
    return b;
}

/* --- The deferred-length check --- */

int kv_reply_check = KV_REPLY_CHECK_ABORT;
uint64_t kv_reply_check_failures;

int kv_reply_check_parse(const char *env) {
    if (env == NULL || env[0] == '\0' || strcmp(env, "0") == 0) return KV_REPLY_CHECK_OFF;
    if (strcmp(env, "log") == 0) return KV_REPLY_CHECK_LOG;
    return KV_REPLY_CHECK_ABORT;
}

/* Reads the bytes of a block chain in order. */
typedef struct chain_reader {
    const kv_reply_block_t *b;
    size_t off;
    bool placeholder; /* met a deferred length not filled in yet */
} chain_reader_t;

static int chain_getc(chain_reader_t *r) {
    while (r->b != NULL && r->off >= r->b->used) {
        if (r->b->size == 0) r->placeholder = true; /* kv_reply_deferred's empty block */
        r->b = r->b->next;
        r->off = 0;
    }
    if (r->b == NULL) return -1;
    return (unsigned char)r->b->data[r->off++];
}

/* The number on a "<digits>\r\n" line (after its type byte); false if malformed. */
static bool chain_number(chain_reader_t *r, long long *out) {
    long long v = 0;
    bool neg = false, any = false;
    int ch = chain_getc(r);
    if (ch == '-') {
        neg = true;
        ch = chain_getc(r);
    }
    while (ch >= '0' && ch <= '9') {
        if (v > (LLONG_MAX - 9) / 10) return false;
        v = v * 10 + (ch - '0');
        any = true;
        ch = chain_getc(r);
    }
    if (!any || ch != '\r' || chain_getc(r) != '\n') return false;
    *out = neg ? -v : v;
    return true;
}

static bool chain_skip_line(chain_reader_t *r) {
    int ch;
    while ((ch = chain_getc(r)) != -1)
        if (ch == '\r') return chain_getc(r) == '\n';
    return false;
}

static bool chain_skip(chain_reader_t *r, long long n) {
    while (n > 0) {
        if (chain_getc(r) == -1) return false;
        n--;
    }
    return true;
}

/*
 * Counts the complete top-level replies in the chain from b: each reply is one element
 * however deep; an aggregate's children are owed in `pending` (preorder, so one counter
 * suffices). -1 when the bytes are not a whole number of well-formed replies.
 */
static long count_replies(const kv_reply_block_t *b) {
    chain_reader_t r = {b, 0, false};
    long long pending = 0;
    long top = 0;
    int t;
    while ((t = chain_getc(&r)) != -1) {
        if (pending > 0)
            pending--;
        else
            top++;
        long long n;
        switch (t) {
        case '+':
        case '-':
        case ':':
        case '_':
        case ',':
        case '#':
        case '(':
            if (!chain_skip_line(&r)) return -1;
            break;
        case '$':
        case '=':
        case '!':
            if (!chain_number(&r, &n)) return -1;
            if (n >= 0 && !chain_skip(&r, n + 2)) return -1;
            break;
        case '*':
        case '~':
        case '>':
            if (!chain_number(&r, &n)) return -1;
            if (n > 0) pending += n;
            break;
        case '%':
            if (!chain_number(&r, &n)) return -1;
            if (n > 0) pending += 2 * n;
            break;
        default: return -1;
        }
    }
    if (pending > 0 || r.placeholder) return -1;
    return top;
}

static void check_deferred(kv_client_t *c, const kv_reply_block_t *b, long len) {
    long got = count_replies(b->next);
    if (got == len) return;
    kv_reply_check_failures++;
    char wrote[64];
    if (got < 0)
        snprintf(wrote, sizeof(wrote), "incomplete or malformed replies");
    else
        snprintf(wrote, sizeof(wrote), "%ld", got);
    kv_log(KV_LOG_WARNING,
           "Deferred reply length mismatch: announced %ld elements, wrote %s (command '%s', "
           "client id=%llu)",
           len, wrote, c->cmd ? c->cmd->fullname : "?", (unsigned long long)c->id);
    if (kv_reply_check != KV_REPLY_CHECK_LOG) abort(); /* ABORT, or OFF in a debug build */
}

void kv_reply_set_deferred(kv_client_t *c, void *node, long len) {
    kv_reply_block_t *b = node;
    if (b == NULL || (c->flags & KV_CLIENT_CLOSE_ASAP)) return;
    if (ms_config_debug || kv_reply_check != KV_REPLY_CHECK_OFF) check_deferred(c, b, len);
    b->data[0] = '*';
    size_t n = kv_ll2str(b->data + 1, len) + 1;
    b->data[n++] = '\r';
    b->data[n++] = '\n';
    b->used = n;
    b->size = n;
    c->reply_bytes += n;
}

void kv_reply_verbatim(kv_client_t *c, const char *p, size_t len) {
    kv_reply_bulk(c, p, len);
}

static void upper_copy(char *dst, size_t cap, const kv_arg_t *a) {
    size_t n = a->len < cap - 1 ? a->len : cap - 1;
    for (size_t i = 0; i < n; i++) {
        char ch = a->ptr[i];
        dst[i] = (ch >= 'a' && ch <= 'z') ? (char)(ch - 32) : ch;
    }
    dst[n] = '\0';
}

void kv_reply_help(kv_client_t *c, const char *const *lines) {
    char cmd[64], head[160];
    upper_copy(cmd, sizeof(cmd), &c->argv[0]);
    long n = 0;
    while (lines[n] != NULL)
        n++;
    kv_reply_array_len(c, n + 3);
    snprintf(head, sizeof(head),
             "%s <subcommand> [<arg> [value] [opt] ...]. Subcommands are:", cmd);
    kv_reply_status(c, head);
    for (long i = 0; i < n; i++)
        kv_reply_status(c, lines[i]);
    kv_reply_status(c, "HELP");
    kv_reply_status(c, "    Prints this help.");
}

void kv_reply_syntax_err(kv_client_t *c) {
    kv_reply_error(c, "ERR syntax error");
}

void kv_reply_wrongtype(kv_client_t *c) {
    kv_reply_error(c, "WRONGTYPE Operation against a key holding the wrong kind of value");
}

void kv_reply_not_int(kv_client_t *c) {
    kv_reply_error(c, "ERR value is not an integer or out of range");
}

/* "%.128s" stops at a NUL byte, as in Redis. */
static int arg128(const kv_arg_t *a) {
    size_t n = a->len > 128 ? 128 : a->len;
    const char *z = memchr(a->ptr, '\0', n);
    return (int)(z ? (size_t)(z - a->ptr) : n);
}

void kv_reply_subcmd_err(kv_client_t *c) {
    char cmd[64];
    upper_copy(cmd, sizeof(cmd), &c->argv[0]);
    kv_reply_errorf(c,
                    "ERR unknown subcommand or wrong number of arguments for '%.*s'. Try %s HELP.",
                    arg128(&c->argv[1]), c->argv[1].ptr, cmd);
}

void kv_reply_arity_err(kv_client_t *c) {
    kv_reply_errorf(c, "ERR wrong number of arguments for '%s' command", c->cmd->fullname);
}

size_t kv_client_pending_bytes(const kv_client_t *c) {
    size_t n = c->bufpos + c->reply_bytes;
    return n > c->sentlen ? n - c->sentlen : 0;
}

int kv_arg_ll_or_reply(kv_client_t *c, const kv_arg_t *a, long long *out, const char *msg) {
    if (kv_str2ll(a->ptr, a->len, out)) return 0;
    if (msg)
        kv_reply_error(c, msg);
    else
        kv_reply_not_int(c);
    return -EINVAL;
}
