/* SPDX-License-Identifier: MIT */
/*
 * reply.c - the reply writer and the pending-write list: what a command replies, in the
 * client's protocol (RESP2, or RESP3 after HELLO 3: c->resp), how it is queued, and how it
 * reaches the socket. The typed calls (map, set, double, null, bool, verbatim, push...)
 * choose the RESP3 type or its RESP2 fallback, so commands never test the protocol.
 *
 * A reply is appended to the client's 16 KB buffer, then to a list of blocks (a block is
 * at least 16 KB, or one bulk's size). A deferred length (kv_reply_deferred) is an empty
 * placeholder block, filled in by kv_reply_set_deferred when the count is known; the
 * deferred-length check counts the top-level replies written after it. A client with
 * queued output is on kv_srv.pending_write (KV_CLIENT_PENDING_WRITE); before the loop
 * sleeps each is written directly, and only one whose socket would block gets a writable
 * handler. client-output-buffer-limit for normal clients is checked as replies are queued.
 *
 * Invariant: bytes [sentlen, bufpos) of buf, then the blocks from rhead, are the client's
 * unsent output in order; reply_bytes counts the bytes held in blocks.
 */
#include "kv_internal.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#define MAX_WRITE_ROUNDS 16

/* --- The pending-write list --- */

static void client_mark_pending(kv_client_t *c) {
    if (c->flags & (KV_CLIENT_PENDING_WRITE | KV_CLIENT_FAKE)) return;
    c->flags |= KV_CLIENT_PENDING_WRITE;
    c->pw_next = kv_srv.pending_write;
    kv_srv.pending_write = c;
}

void kv_reply_unlink_pending(kv_client_t *c) {
    if (!(c->flags & KV_CLIENT_PENDING_WRITE)) return;
    kv_client_t **pp = &kv_srv.pending_write;
    while (*pp != NULL) {
        if (*pp == c) {
            *pp = c->pw_next;
            break;
        }
        pp = &(*pp)->pw_next;
    }
    c->flags &= ~KV_CLIENT_PENDING_WRITE;
}

/* --- Output buffers --- */

void kv_reply_free_blocks(kv_client_t *c) {
    kv_reply_block_t *b = c->rhead;
    while (b) {
        kv_reply_block_t *n = b->next;
        free(b);
        b = n;
    }
    c->rhead = c->rtail = NULL;
    c->reply_bytes = 0;
    c->nblocks = 0;
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
    const kv_obuf_limit_t *l = kv_client_obuf_limit(c);
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

/* Output that is not queued: a client being closed; CLIENT REPLY OFF/SKIP silence a
 * command's replies but not pushes (KV_CLIENT_PUSHING: pub/sub, tracking). */
static inline bool reply_dropped(const kv_client_t *c) {
    return (c->flags & KV_CLIENT_CLOSE_ASAP) ||
           ((c->flags & (KV_CLIENT_REPLY_OFF | KV_CLIENT_REPLY_SKIP)) &&
            !(c->flags & KV_CLIENT_PUSHING));
}

void kv_reply_raw(kv_client_t *c, const char *p, size_t len) {
    if (reply_dropped(c)) return;
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
        if (!reply_dropped(c)) {
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

/* --- Typed replies: RESP3 forms, or their RESP2 fallbacks, by the client's protocol --- */

static bool resp3(const kv_client_t *c) {
    return c->resp >= 3;
}

void kv_reply_double(kv_client_t *c, double d) {
    char buf[40];
    if (!resp3(c)) {
        kv_reply_bulk(c, buf, kv_d2str(buf, d));
        return;
    }
    buf[0] = ',';
    size_t n = kv_d2str(buf + 1, d) + 1;
    buf[n++] = '\r';
    buf[n++] = '\n';
    kv_reply_raw(c, buf, n);
}

void kv_reply_double_text(kv_client_t *c, const char *text, size_t len) {
    if (!resp3(c)) {
        kv_reply_bulk(c, text, len);
        return;
    }
    kv_reply_raw(c, ",", 1);
    kv_reply_raw(c, text, len);
    kv_reply_raw(c, "\r\n", 2);
}

void kv_reply_bignum(kv_client_t *c, const char *digits, size_t len) {
    if (!resp3(c)) {
        kv_reply_bulk(c, digits, len);
        return;
    }
    kv_reply_raw(c, "(", 1);
    kv_reply_raw(c, digits, len);
    kv_reply_raw(c, "\r\n", 2);
}

void kv_reply_null(kv_client_t *c) {
    if (resp3(c))
        kv_reply_raw(c, "_\r\n", 3);
    else
        kv_reply_raw(c, "$-1\r\n", 5);
}

void kv_reply_null_array(kv_client_t *c) {
    if (resp3(c))
        kv_reply_raw(c, "_\r\n", 3);
    else
        kv_reply_raw(c, "*-1\r\n", 5);
}

void kv_reply_array_len(kv_client_t *c, long len) {
    reply_prefixed_len(c, '*', len);
}

void kv_reply_map_len(kv_client_t *c, long len) {
    if (resp3(c))
        reply_prefixed_len(c, '%', len);
    else
        reply_prefixed_len(c, '*', len * 2);
}

void kv_reply_set_len(kv_client_t *c, long len) {
    reply_prefixed_len(c, resp3(c) ? '~' : '*', len);
}

void kv_reply_push_len(kv_client_t *c, long len) {
    reply_prefixed_len(c, resp3(c) ? '>' : '*', len);
}

void kv_reply_attribute_len(kv_client_t *c, long len) {
    if (resp3(c)) reply_prefixed_len(c, '|', len);
}

void kv_reply_pairs_len(kv_client_t *c, long npairs) {
    kv_reply_array_len(c, resp3(c) ? npairs : 2 * npairs);
}

void kv_reply_pair(kv_client_t *c) {
    if (resp3(c)) kv_reply_raw(c, "*2\r\n", 4);
}

void kv_reply_scored_len(kv_client_t *c, long n, bool withscores) {
    if (withscores)
        kv_reply_pairs_len(c, n);
    else
        kv_reply_array_len(c, n);
}

void kv_reply_scored(kv_client_t *c, const void *member, size_t len, double score,
                     bool withscores) {
    if (withscores) kv_reply_pair(c);
    kv_reply_bulk(c, member, len);
    if (withscores) kv_reply_double(c, score);
}

void kv_reply_bool(kv_client_t *c, bool v) {
    if (resp3(c))
        kv_reply_raw(c, v ? "#t\r\n" : "#f\r\n", 4);
    else
        kv_reply_int(c, v ? 1 : 0);
}

void kv_reply_verbatim(kv_client_t *c, const char *p, size_t len) {
    if (!resp3(c)) {
        kv_reply_bulk(c, p, len);
        return;
    }
    char hdr[40];
    hdr[0] = '=';
    size_t n = kv_ll2str(hdr + 1, (long long)len + 4) + 1;
    memcpy(hdr + n, "\r\ntxt:", 6);
    kv_reply_raw(c, hdr, n + 6);
    kv_reply_raw(c, p, len);
    kv_reply_raw(c, "\r\n", 2);
}

void *kv_reply_deferred(kv_client_t *c) {
    if (reply_dropped(c)) return NULL;
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
        bool nested = pending > 0;
        if (nested)
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
        case '|':
            /* An attribute annotates the reply after it: it is no element itself. */
            if (!chain_number(&r, &n)) return -1;
            if (nested)
                pending++;
            else
                top--;
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

/* Fills the placeholder with "<prefix><shown>"; `elements` is how many top-level replies
 * must follow it (a map of N pairs is 2N). */
static void set_deferred(kv_client_t *c, void *node, char prefix, long shown, long elements) {
    kv_reply_block_t *b = node;
    if (b == NULL || (c->flags & KV_CLIENT_CLOSE_ASAP)) return;
    if (kv_config_debug || kv_reply_check != KV_REPLY_CHECK_OFF) check_deferred(c, b, elements);
    b->data[0] = prefix;
    size_t n = kv_ll2str(b->data + 1, shown) + 1;
    b->data[n++] = '\r';
    b->data[n++] = '\n';
    b->used = n;
    b->size = n;
    c->reply_bytes += n;
}

void kv_reply_set_deferred(kv_client_t *c, void *node, long len) {
    set_deferred(c, node, '*', len, len);
}

void kv_reply_set_deferred_map(kv_client_t *c, void *node, long pairs) {
    if (resp3(c))
        set_deferred(c, node, '%', pairs, 2 * pairs);
    else
        set_deferred(c, node, '*', 2 * pairs, 2 * pairs);
}

void kv_reply_set_deferred_pairs(kv_client_t *c, void *node, long npairs) {
    kv_reply_set_deferred(c, node, resp3(c) ? npairs : 2 * npairs);
}

void kv_reply_set_deferred_scored(kv_client_t *c, void *node, long n, bool withscores) {
    if (withscores)
        kv_reply_set_deferred_pairs(c, node, n);
    else
        kv_reply_set_deferred(c, node, n);
}

void kv_reply_set_deferred_set(kv_client_t *c, void *node, long len) {
    set_deferred(c, node, resp3(c) ? '~' : '*', len, len);
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

void kv_reply_oom(kv_client_t *c) {
    kv_reply_error(c, "ERR out of memory");
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

/* --- Writing to the socket --- */

static void client_write_handler(kv_loop_t *loop, int fd, void *priv, int mask) {
    (void)loop;
    (void)fd;
    (void)mask;
    kv_client_write(priv);
}

int kv_client_write(kv_client_t *c) {
    kv_aof_before_reply(); /* no reply leaves before the write it acknowledges is in the AOF */
    for (int round = 0; round < MAX_WRITE_ROUNDS && (c->bufpos > 0 || c->rhead); round++) {
        struct iovec iov[64];
        int cnt = 0;
        size_t total = 0;
        size_t off = c->sentlen;
        if (c->bufpos > 0) {
            iov[cnt].iov_base = c->buf + c->sentlen;
            iov[cnt].iov_len = c->bufpos - c->sentlen;
            cnt++;
            off = 0;
        }
        for (kv_reply_block_t *b = c->rhead; b && cnt < 64; b = b->next) {
            if (b->used > off) {
                iov[cnt].iov_base = b->data + off;
                iov[cnt].iov_len = b->used - off;
                cnt++;
            }
            off = 0;
        }
        if (cnt == 0) {
            kv_reply_free_blocks(c);
            c->bufpos = c->sentlen = 0;
            break;
        }
        for (int i = 0; i < cnt; i++)
            total += iov[i].iov_len;
        /* The common case is one small reply buffer: plain write() skips the iovec copy. */
        ssize_t n =
            cnt == 1 ? write(c->fd, iov[0].iov_base, iov[0].iov_len) : writev(c->fd, iov, cnt);
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR) break;
            kv_log(KV_LOG_VERBOSE, "Error writing to client: %s", strerror(errno));
            kv_client_free(c);
            return -1;
        }
        kv_srv.stat_net_output_bytes += (uint64_t)n;
        size_t left = (size_t)n;
        if (c->bufpos > 0) {
            size_t part = c->bufpos - c->sentlen;
            if (left >= part) {
                left -= part;
                c->bufpos = c->sentlen = 0;
            } else {
                c->sentlen += left;
                left = 0;
            }
        }
        while (c->rhead != NULL && (left > 0 || c->rhead->used == c->sentlen)) {
            kv_reply_block_t *b = c->rhead;
            size_t avail = b->used - c->sentlen;
            if (left >= avail) {
                left -= avail;
                c->rhead = b->next;
                if (c->rhead == NULL) c->rtail = NULL;
                c->reply_bytes -= b->used;
                c->nblocks--;
                free(b);
                c->sentlen = 0;
            } else {
                c->sentlen += left;
                left = 0;
            }
        }
        if ((size_t)n < total) break; /* the socket is full: wait for writable */
    }
    c->last_ms = kv_srv.mstime;
    bool pending = c->bufpos > 0 || c->rhead != NULL;
    if (c->fd >= 0 && kv_srv.loop) {
        int m = kv_loop_file_mask(kv_srv.loop, c->fd);
        if (pending && !(m & KV_WRITABLE)) {
            kv_loop_add_file(kv_srv.loop, c->fd, KV_WRITABLE, client_write_handler, c);
        } else if (!pending && (m & KV_WRITABLE)) {
            kv_loop_del_file(kv_srv.loop, c->fd, KV_WRITABLE);
        }
    }
    if (!pending && (c->flags & KV_CLIENT_CLOSE_AFTER_REPLY)) {
        kv_client_free(c);
        return -1;
    }
    return 0;
}

void kv_reply_flush_pending(kv_server_t *srv) {
    while (srv->pending_write != NULL) {
        kv_client_t *c = srv->pending_write;
        srv->pending_write = c->pw_next;
        c->pw_next = NULL;
        c->flags &= ~KV_CLIENT_PENDING_WRITE;
        if (c->flags & KV_CLIENT_CLOSE_ASAP) continue;
        /* A writable handler is installed: the socket was full, let it drive. */
        if (c->fd >= 0 && (kv_loop_file_mask(srv->loop, c->fd) & KV_WRITABLE)) continue;
        kv_client_write(c);
    }
}
