/* SPDX-License-Identifier: MIT */
/*
 * kv_load.c - the RESP load driver of kvcore-server's stress and soak tests:
 * one thread, epoll, many non-blocking connections to 127.0.0.1, and every
 * reply checked against what its command must return (the queue of expectations
 * follows each connection's pipeline in order).
 *
 * usage: kv_load PORT clients N ROUNDS
 *            N connections open at the same time (each answers PING before any
 * starts), then ROUNDS rounds each of SET/GET/INCR/DEL pipelined by 4 on every
 * one. kv_load PORT pipeline N DEPTH N connections, each sending DEPTH SETs,
 * then DEPTH GETs, then DEPTH DELs, each batch as one pipeline written before
 * any reply is read. kv_load PORT soak SECONDS CONNS DB KEYS MAXVAL [tolerant]
 *            random strings, hashes, lists, sets and sorted sets in DB (all
 * with TTLs, so a volatile maxmemory policy can evict them), deletes and
 * EXPIREs, 32 commands in flight per connection. -OOM is allowed for commands
 * that may be refused. tolerant: any error reply is counted instead of failing,
 * and a dropped connection is reopened (failure injection). Prints one line
 * "mode=... key=value ..." and exits 0 when every reply was as expected.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { E_OK, E_OK_OR_OOM, E_PONG, E_BULK, E_BULK_OR_NULL, E_INT, E_INT_ANY, E_INT_OR_OOM, E_ANY };

typedef struct expect {
    uint8_t kind;
    uint8_t vlen;
    long long n;
    char v[64];
} expect_t;

typedef struct reply {
    char type; /* + - : $ * and '_' for a null */
    const char *s;
    size_t len;
    long long n;
} reply_t;

typedef struct conn {
    int fd, id;
    bool connected, done;
    uint32_t armed; /* the epoll mask registered */
    char *out;
    size_t olen, opos, ocap;
    char *in;
    size_t ilen, icap;
    expect_t *q;
    size_t qhead, qlen, qcap;
    long round;
    uint64_t rng;
} conn_t;

static int port, epfd;
static conn_t *conns;
static int nconns;
static bool tolerant;
static uint64_t n_cmds, n_replies, n_bad, n_oom, n_errors, n_reconnects;
static int n_done;

/* INFO's "connected_clients" over a separate blocking connection; -1 on
 * failure. */
static long long server_connected_clients(void) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    long long v = -1;
    char buf[8192];
    size_t got = 0;
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) goto out;
    static const char req[] = "*2\r\n$4\r\nINFO\r\n$7\r\nclients\r\n";
    if (write(fd, req, sizeof(req) - 1) != (ssize_t)(sizeof(req) - 1)) goto out;
    while (got < sizeof(buf) - 1) {
        ssize_t n = read(fd, buf + got, sizeof(buf) - 1 - got);
        if (n <= 0) break;
        got += (size_t)n;
        buf[got] = '\0';
        const char *p = strstr(buf, "connected_clients:");
        if (p != NULL && strchr(p, '\r') != NULL) {
            v = strtoll(p + 18, NULL, 10);
            break;
        }
    }
out:
    if (fd >= 0) close(fd);
    return v;
}

static uint64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint64_t rnd(conn_t *c) {
    c->rng ^= c->rng << 13;
    c->rng ^= c->rng >> 7;
    c->rng ^= c->rng << 17;
    return c->rng;
}

static void *xrealloc(void *p, size_t n) {
    void *q = realloc(p, n);
    if (q == NULL) {
        fprintf(stderr, "kv_load: out of memory\n");
        exit(2);
    }
    return q;
}

/* --- Output --- */

static void out_raw(conn_t *c, const char *p, size_t n) {
    if (c->olen + n > c->ocap) {
        c->ocap = (c->olen + n) * 2;
        c->out = xrealloc(c->out, c->ocap);
    }
    memcpy(c->out + c->olen, p, n);
    c->olen += n;
}

/* Appends one command: argc arguments given as (pointer, length) pairs. */
static void cmd(conn_t *c, int argc, const char *const *argv, const size_t *lens, int kind,
                long long n, const char *v, size_t vlen) {
    char hdr[32];
    int h = snprintf(hdr, sizeof(hdr), "*%d\r\n", argc);
    out_raw(c, hdr, (size_t)h);
    for (int i = 0; i < argc; i++) {
        h = snprintf(hdr, sizeof(hdr), "$%zu\r\n", lens[i]);
        out_raw(c, hdr, (size_t)h);
        out_raw(c, argv[i], lens[i]);
        out_raw(c, "\r\n", 2);
    }
    if (c->qhead + c->qlen == c->qcap) {
        if (c->qhead > 0) {
            memmove(c->q, c->q + c->qhead, c->qlen * sizeof(expect_t));
            c->qhead = 0;
        } else {
            c->qcap = c->qcap ? c->qcap * 2 : 64;
            c->q = xrealloc(c->q, c->qcap * sizeof(expect_t));
        }
    }
    expect_t *e = &c->q[c->qhead + c->qlen++];
    e->kind = (uint8_t)kind;
    e->n = n;
    e->vlen = (uint8_t)(vlen > sizeof(e->v) ? sizeof(e->v) : vlen);
    if (v != NULL) memcpy(e->v, v, e->vlen);
    n_cmds++;
}

/* A command from NUL-terminated words. */
static void cmdv(conn_t *c, int kind, long long n, const char *v, int argc, ...) {
    const char *argv[8];
    size_t lens[8];
    va_list ap;
    va_start(ap, argc);
    for (int i = 0; i < argc && i < 8; i++) {
        argv[i] = va_arg(ap, const char *);
        lens[i] = strlen(argv[i]);
    }
    va_end(ap);
    cmd(c, argc, argv, lens, kind, n, v, v ? strlen(v) : 0);
}

/* --- Replies --- */

/* Parses one reply from p[0..n): bytes used, 0 when incomplete, -1 when
 * malformed. */
static long parse_reply(const char *p, size_t n, reply_t *r, int depth) {
    if (n < 3 || depth > 8) return n < 3 ? 0 : -1;
    const char *cr = memchr(p, '\r', n);
    if (cr == NULL || (size_t)(cr - p) + 1 >= n) return 0;
    if (cr[1] != '\n') return -1;
    size_t hl = (size_t)(cr - p) + 2;
    r->type = p[0];
    r->s = p + 1;
    r->len = (size_t)(cr - p) - 1;
    switch (p[0]) {
    case '+':
    case '-': return (long)hl;
    case ':': r->n = strtoll(p + 1, NULL, 10); return (long)hl;
    case '$': {
        long long len = strtoll(p + 1, NULL, 10);
        if (len < 0) {
            r->type = '_';
            return (long)hl;
        }
        if (n < hl + (size_t)len + 2) return 0;
        r->s = p + hl;
        r->len = (size_t)len;
        return (long)(hl + (size_t)len + 2);
    }
    case '*': {
        long long cnt = strtoll(p + 1, NULL, 10);
        r->n = cnt;
        size_t off = hl;
        for (long long i = 0; i < cnt; i++) {
            reply_t sub;
            long k = parse_reply(p + off, n - off, &sub, depth + 1);
            if (k <= 0) return k;
            off += (size_t)k;
        }
        return (long)off;
    }
    default: return -1;
    }
}

static bool is_oom(const reply_t *r) {
    return r->type == '-' && r->len >= 4 && memcmp(r->s, "OOM ", 4) == 0;
}

static void bad(conn_t *c, const expect_t *e, const reply_t *r) {
    if (r->type == '-' && tolerant) {
        n_errors++;
        return;
    }
    n_bad++;
    if (n_bad <= 10)
        fprintf(stderr, "conn %d: expectation %d (n=%lld v=%.*s) got '%c' %.*s\n", c->id, e->kind,
                e->n, e->vlen, e->v, r->type, (int)(r->len > 120 ? 120 : r->len), r->s);
}

static void check(conn_t *c, const expect_t *e, const reply_t *r) {
    bool ok = false;
    switch (e->kind) {
    case E_OK: ok = r->type == '+' && r->len == 2 && !memcmp(r->s, "OK", 2); break;
    case E_OK_OR_OOM:
        ok = (r->type == '+' && r->len == 2 && !memcmp(r->s, "OK", 2)) || is_oom(r);
        break;
    case E_PONG: ok = r->type == '+' && r->len == 4 && !memcmp(r->s, "PONG", 4); break;
    case E_BULK: ok = r->type == '$' && r->len == e->vlen && !memcmp(r->s, e->v, e->vlen); break;
    case E_BULK_OR_NULL: ok = r->type == '$' || r->type == '_'; break;
    case E_INT: ok = r->type == ':' && r->n == e->n; break;
    case E_INT_ANY: ok = r->type == ':'; break;
    case E_INT_OR_OOM: ok = r->type == ':' || is_oom(r); break;
    case E_ANY: ok = r->type != '-'; break;
    }
    if (is_oom(r)) n_oom++;
    if (!ok) bad(c, e, r);
}

/* --- Modes --- */

typedef void (*refill_fn)(conn_t *c);
static refill_fn refill;
static long rounds, depth, nkeys, maxval;
static int dbnum;
static uint64_t deadline_ms;
static char *bigval;

static void refill_clients(conn_t *c) {
    if (c->qlen > 0) return;
    if (!c->connected) return;
    if (c->round == 0) { /* the PING answered; wait until everybody's has */
        c->round = 1;
        n_done++;
        return;
    }
    if (n_done < nconns && c->round == 1) return;
    char key[64], val[64], ctr[32];
    snprintf(ctr, sizeof(ctr), "ctr:%d", c->id);
    if (c->round > rounds + 1) {
        c->done = true;
        return;
    }
    if (c->round == rounds + 1) { /* leave nothing behind */
        cmdv(c, E_INT, 1, NULL, 2, "DEL", ctr);
        c->round++;
        return;
    }
    if (c->round == 1) cmdv(c, E_INT_ANY, 0, NULL, 2, "DEL", ctr); /* from an earlier run */
    snprintf(key, sizeof(key), "c:%d:%ld", c->id, c->round);
    snprintf(val, sizeof(val), "value-%d-%ld-%llx", c->id, c->round, (unsigned long long)rnd(c));
    cmdv(c, E_OK, 0, NULL, 3, "SET", key, val);
    cmdv(c, E_BULK, 0, val, 2, "GET", key);
    cmdv(c, E_INT, c->round, NULL, 2, "INCR", ctr);
    cmdv(c, E_INT, 1, NULL, 2, "DEL", key);
    c->round++;
}

static void refill_pipeline(conn_t *c) {
    if (c->qlen > 0 || !c->connected) return;
    if (c->round >= 3) {
        c->done = true;
        return;
    }
    char key[64], val[64];
    for (long i = 0; i < depth; i++) {
        snprintf(key, sizeof(key), "p:%d:%ld", c->id, i);
        snprintf(val, sizeof(val), "v%ld-%d-%.*s", i, c->id, (int)(i % 40),
                 "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
        if (c->round == 0)
            cmdv(c, E_OK, 0, NULL, 3, "SET", key, val);
        else if (c->round == 1)
            cmdv(c, E_BULK, 0, val, 2, "GET", key);
        else
            cmdv(c, E_INT, 1, NULL, 2, "DEL", key);
    }
    c->round++;
}

static void soak_one(conn_t *c) {
    char key[32], ttl[16], f[16];
    uint64_t r = rnd(c);
    unsigned op = (unsigned)(r % 100);
    long k = (long)((r >> 8) % (uint64_t)nkeys);
    size_t vl = 8 + (size_t)((r >> 32) % (uint64_t)(maxval > 8 ? maxval - 8 : 1));
    snprintf(ttl, sizeof(ttl), "%u", 5 + (unsigned)((r >> 20) % 116));
    snprintf(f, sizeof(f), "f%u", (unsigned)((r >> 40) % 64));
    const char *argv[5];
    size_t lens[5];
    if (op < 40) {
        snprintf(key, sizeof(key), "s:%ld", k);
        argv[0] = "SET", argv[1] = key, argv[2] = bigval + (r % 7), argv[3] = "EX", argv[4] = ttl;
        lens[0] = 3, lens[1] = strlen(key), lens[2] = vl, lens[3] = 2, lens[4] = strlen(ttl);
        cmd(c, 5, argv, lens, E_OK_OR_OOM, 0, NULL, 0);
    } else if (op < 65) {
        snprintf(key, sizeof(key), "s:%ld", k);
        cmdv(c, E_BULK_OR_NULL, 0, NULL, 2, "GET", key);
    } else if (op < 75) {
        snprintf(key, sizeof(key), "%c:%ld", "shltz"[r % 5], k);
        cmdv(c, E_INT_ANY, 0, NULL, 2, "DEL", key);
    } else if (op < 80) {
        snprintf(key, sizeof(key), "%c:%ld", "shltz"[r % 5], k);
        snprintf(ttl, sizeof(ttl), "%u", 1 + (unsigned)((r >> 20) % 10));
        cmdv(c, E_INT_ANY, 0, NULL, 3, "EXPIRE", key, ttl);
    } else {
        const char *name = op < 85 ? "HSET" : op < 90 ? "RPUSH" : op < 95 ? "SADD" : "ZADD";
        snprintf(key, sizeof(key), "%c:%ld",
                 op < 85   ? 'h'
                 : op < 90 ? 'l'
                 : op < 95 ? 't'
                           : 'z',
                 k);
        size_t small = vl > 200 ? 200 : vl;
        argv[0] = name, argv[1] = key, lens[0] = strlen(name), lens[1] = strlen(key);
        int argc = 3;
        if (op < 85 || op >= 95) {
            argv[2] = op < 85 ? f : ttl; /* HSET key field value / ZADD key score member */
            lens[2] = strlen(argv[2]);
            argv[3] = op < 85 ? bigval : f;
            lens[3] = op < 85 ? small : strlen(f);
            argc = 4;
        } else {
            argv[2] = op < 90 ? bigval : f;
            lens[2] = op < 90 ? small % 64 + 1 : strlen(f);
        }
        cmd(c, argc, argv, lens, E_INT_OR_OOM, 0, NULL, 0);
        /* Every key carries a TTL, so volatile policies can evict it; the list's is
         * trimmed to stay bounded. */
        cmdv(c, E_INT_ANY, 0, NULL, 3, "EXPIRE", key, ttl);
        if (op >= 85 && op < 90) cmdv(c, E_OK, 0, NULL, 4, "LTRIM", key, "0", "99");
    }
}

static void refill_soak(conn_t *c) {
    if (!c->connected || c->done) return;
    if (c->round == 0) {
        char db[16];
        snprintf(db, sizeof(db), "%d", dbnum);
        cmdv(c, E_OK, 0, NULL, 2, "SELECT", db);
        c->round = 1;
        return;
    }
    if (now_ms() >= deadline_ms) {
        if (c->qlen == 0) c->done = true;
        return;
    }
    while (c->qlen < 32)
        soak_one(c);
}

/* --- Connections --- */

static void arm(conn_t *c) {
    uint32_t want = EPOLLIN | (c->olen > c->opos || !c->connected ? EPOLLOUT : 0);
    if (want == c->armed) return;
    struct epoll_event ev = {.events = want, .data.ptr = c};
    epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
    c->armed = want;
}

static int open_conn(conn_t *c) {
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) return -errno;
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 && errno != EINPROGRESS)
        return -errno;
    c->connected = false;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
    epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev);
    c->armed = EPOLLIN | EPOLLOUT;
    return 0;
}

static void drop_conn(conn_t *c, const char *why) {
    epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    c->olen = c->opos = c->ilen = 0;
    c->qhead = c->qlen = 0;
    if (!tolerant) {
        n_bad++;
        fprintf(stderr, "conn %d: %s\n", c->id, why);
        c->done = true;
        c->fd = -1;
        return;
    }
    n_reconnects++;
    c->round = 0;
    if (open_conn(c) != 0) {
        c->done = true;
        c->fd = -1;
    }
}

static void on_connected(conn_t *c) {
    int err = 0;
    socklen_t l = sizeof(err);
    getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &l);
    if (err != 0) {
        drop_conn(c, strerror(err));
        return;
    }
    c->connected = true;
    if (refill == refill_clients)
        cmdv(c, E_PONG, 0, NULL, 1, "PING");
    else
        refill(c);
}

static void do_write(conn_t *c) {
    while (c->opos < c->olen) {
        ssize_t w = write(c->fd, c->out + c->opos, c->olen - c->opos);
        if (w < 0) {
            if (errno == EAGAIN || errno == EINTR) return;
            drop_conn(c, "write failed");
            return;
        }
        c->opos += (size_t)w;
    }
    c->opos = c->olen = 0;
}

static void do_read(conn_t *c) {
    for (;;) {
        if (c->icap - c->ilen < 65536) {
            c->icap = c->icap * 2 + 65536;
            c->in = xrealloc(c->in, c->icap);
        }
        ssize_t n = read(c->fd, c->in + c->ilen, c->icap - c->ilen);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
            drop_conn(c, "connection closed by the server");
            return;
        }
        if (n < 0) break;
        c->ilen += (size_t)n;
    }
    size_t pos = 0;
    while (pos < c->ilen) {
        reply_t r;
        long k = parse_reply(c->in + pos, c->ilen - pos, &r, 0);
        if (k == 0) break;
        if (k < 0 || c->qlen == 0) {
            drop_conn(c, k < 0 ? "malformed reply" : "reply without a command");
            return;
        }
        check(c, &c->q[c->qhead], &r);
        c->qhead++;
        c->qlen--;
        if (c->qlen == 0) c->qhead = 0;
        n_replies++;
        pos += (size_t)k;
    }
    memmove(c->in, c->in + pos, c->ilen - pos);
    c->ilen -= pos;
}

int main(int argc, char **argv) {
    /* A server that drops a connection mid-write must cost a reconnect, not the process. */
    signal(SIGPIPE, SIG_IGN);
    if (argc < 5) {
        fprintf(stderr, "usage: kv_load PORT clients N ROUNDS | pipeline N DEPTH | "
                        "soak SECONDS CONNS DB KEYS MAXVAL [tolerant]\n");
        return 2;
    }
    port = atoi(argv[1]);
    const char *mode = argv[2];
    long seconds = 0;
    if (!strcmp(mode, "clients")) {
        nconns = atoi(argv[3]);
        rounds = atol(argv[4]);
        refill = refill_clients;
    } else if (!strcmp(mode, "pipeline")) {
        nconns = atoi(argv[3]);
        depth = atol(argv[4]);
        refill = refill_pipeline;
    } else if (!strcmp(mode, "soak") && argc >= 8) {
        seconds = atol(argv[3]);
        nconns = atoi(argv[4]);
        dbnum = atoi(argv[5]);
        nkeys = atol(argv[6]);
        maxval = atol(argv[7]);
        tolerant = argc > 8 && !strcmp(argv[8], "tolerant");
        if (nkeys < 1 || maxval < 9) return 2;
        bigval = malloc((size_t)maxval + 8);
        for (long i = 0; i < maxval + 8; i++)
            bigval[i] = (char)('a' + i % 26);
        deadline_ms = now_ms() + (uint64_t)seconds * 1000;
        refill = refill_soak;
    } else {
        fprintf(stderr, "kv_load: unknown mode %s\n", mode);
        return 2;
    }
    if (nconns < 1) return 2;
    epfd = epoll_create1(EPOLL_CLOEXEC);
    conns = calloc((size_t)nconns, sizeof(conn_t));
    uint64_t t0 = now_ms();
    for (int i = 0; i < nconns; i++) {
        conns[i].id = i;
        conns[i].rng = 0x9e3779b97f4a7c15ULL ^ ((uint64_t)i * 0x100000001b3ULL) ^ t0;
        if (open_conn(&conns[i]) != 0) {
            fprintf(stderr, "kv_load: connect: %s\n", strerror(errno));
            return 1;
        }
    }
    uint64_t all_open_ms = 0, last_progress = now_ms(), last_replies = 0;
    long long held = -1;
    struct epoll_event evs[256];
    for (;;) {
        int ndone = 0;
        for (int i = 0; i < nconns; i++) {
            conn_t *c = &conns[i];
            if (c->done || c->fd < 0) {
                ndone++;
                continue;
            }
            refill(c);
            if (c->done) {
                ndone++;
                continue;
            }
            if (c->olen > c->opos) do_write(c);
            if (c->fd >= 0) arm(c);
        }
        if (ndone == nconns) break;
        if (refill == refill_clients && n_done == nconns && all_open_ms == 0) {
            all_open_ms = now_ms() - t0;
            held = server_connected_clients(); /* every connection is open and idle */
        }
        int n = epoll_wait(epfd, evs, 256, 200);
        for (int i = 0; i < n; i++) {
            conn_t *c = evs[i].data.ptr;
            if (c->fd < 0 || c->done) continue;
            if (!c->connected) {
                if (evs[i].events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) on_connected(c);
                continue;
            }
            if (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) do_read(c);
            if (c->fd >= 0 && (evs[i].events & EPOLLOUT)) do_write(c);
        }
        if (n_replies != last_replies) {
            last_replies = n_replies;
            last_progress = now_ms();
        } else if (now_ms() - last_progress > 20000) {
            fprintf(stderr, "kv_load: no reply for 20 s\n");
            n_bad++;
            break;
        }
    }
    uint64_t ms = now_ms() - t0;
    printf("mode=%s conns=%d commands=%llu replies=%llu bad=%llu oom=%llu "
           "errors=%llu "
           "reconnects=%llu ms=%llu ops_per_sec=%llu",
           mode, nconns, (unsigned long long)n_cmds, (unsigned long long)n_replies,
           (unsigned long long)n_bad, (unsigned long long)n_oom, (unsigned long long)n_errors,
           (unsigned long long)n_reconnects, (unsigned long long)ms,
           (unsigned long long)(ms ? n_replies * 1000 / ms : 0));
    if (refill == refill_clients)
        printf(" all_open_ms=%llu server_connected_clients=%lld", (unsigned long long)all_open_ms,
               held);
    if (refill == refill_pipeline) printf(" depth=%ld", depth);
    printf("\n");
    for (int i = 0; i < nconns; i++) {
        if (conns[i].fd >= 0) close(conns[i].fd);
        free(conns[i].out);
        free(conns[i].in);
        free(conns[i].q);
    }
    free(conns);
    free(bigval);
    return n_bad == 0 && (tolerant || n_replies == n_cmds) ? 0 : 1;
}
