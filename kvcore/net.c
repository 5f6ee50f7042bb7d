/* SPDX-License-Identifier: MIT */
/*
 * net.c - connections: listening sockets, accept, the client object, reading and
 * running commands (pipelined), writing replies, limits and CLIENT LIST lines.
 *
 * Flow: a readable socket is read into the client's query buffer (16 KB at a time, or
 * what a large bulk still needs), every complete command in it is parsed and run, and
 * the replies accumulate in the client's buffer. Clients with output are linked on the
 * pending-write list; before the loop sleeps each is written directly, and only a
 * client whose socket would block gets a writable handler. A client is never freed
 * while one of its commands runs: kv_client_close_async marks it, and it is freed when
 * control returns to the loop.
 *
 * Limits (Redis semantics): maxclients (new connections get "-ERR max number of clients
 * reached"), client-query-buffer-limit (the connection is closed; counted over the
 * unparsed bytes and the parser's argument array, see kv_client_check_query_limit),
 * proto-max-bulk-len (protocol error), the unauthenticated multibulk and bulk limits
 * when requirepass is set (protocol error), client-output-buffer-limit for normal
 * clients (checked as replies are queued, see reply.c).
 */
#include "kv_internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define READ_CHUNK  16384
#define MAX_ACCEPTS 1000

/* Clients marked CLOSE_ASAP, unlinked from the client list and chained through `prev`. */
static kv_client_t *to_close;

/* --- Addresses --- */

static void format_addr(char *buf, size_t cap, const struct sockaddr_storage *sa) {
    char ip[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    if (sa->ss_family == AF_INET) {
        const struct sockaddr_in *s = (const struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &s->sin_addr, ip, sizeof(ip));
        port = ntohs(s->sin_port);
        snprintf(buf, cap, "%s:%d", ip, port);
    } else if (sa->ss_family == AF_INET6) {
        const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)sa;
        inet_ntop(AF_INET6, &s->sin6_addr, ip, sizeof(ip));
        port = ntohs(s->sin6_port);
        snprintf(buf, cap, "[%s]:%d", ip, port);
    } else {
        snprintf(buf, cap, "?:0");
    }
}

/* --- Client lifecycle --- */

kv_client_t *kv_client_new(int fd) {
    kv_client_t *c = calloc(1, sizeof(*c));
    if (c == NULL) return NULL;
    c->buf = malloc(KV_REPLY_BUF);
    if (c->buf == NULL) {
        free(c);
        return NULL;
    }
    c->bufsize = KV_REPLY_BUF;
    c->fd = fd;
    c->id = ++kv_srv.next_client_id;
    c->resp = 2;
    c->dbid = 0;
    c->db = kv_srv.dbs ? &kv_srv.dbs[0] : NULL;
    c->ctime_ms = c->last_ms = kv_mstime();
    kv_req_init(&c->req, kv_srv.cfg.proto_max_bulk_len);
    if (fd < 0) {
        c->flags |= KV_CLIENT_FAKE;
        kv_auth_client_init(c);
        snprintf(c->addr, sizeof(c->addr), "?:0");
        snprintf(c->laddr, sizeof(c->laddr), "?:0");
        return c;
    }
    struct sockaddr_storage sa;
    socklen_t sl = sizeof(sa);
    if (getpeername(fd, (struct sockaddr *)&sa, &sl) == 0)
        format_addr(c->addr, sizeof(c->addr), &sa);
    sl = sizeof(sa);
    if (getsockname(fd, (struct sockaddr *)&sa, &sl) == 0)
        format_addr(c->laddr, sizeof(c->laddr), &sa);
    kv_auth_client_init(c);
    /* Link first so kv_client_free can always unlink. */
    c->next = kv_srv.clients;
    if (kv_srv.clients) kv_srv.clients->prev = c;
    kv_srv.clients = c;
    kv_srv.nclients++;
    return c;
}

static void unlink_to_close(kv_client_t *c) {
    kv_client_t **pp = &to_close;
    while (*pp != NULL) {
        if (*pp == c) {
            *pp = c->prev; /* to_close is linked through prev after unlinking from clients */
            return;
        }
        pp = &(*pp)->prev;
    }
}

void kv_client_free(kv_client_t *c) {
    if (c == NULL) return;
    kv_blocked_client_gone(c);
    if (kv_srv.current_client == c) kv_srv.current_client = NULL;
    kv_pubsub_unsubscribe_all(c);
    kv_reply_unlink_pending(c);
    if (c->fd >= 0) {
        if (kv_srv.loop) kv_loop_del_file(kv_srv.loop, c->fd, KV_READABLE | KV_WRITABLE);
        close(c->fd);
    }
    if (c->flags & KV_CLIENT_CLOSE_ASAP) {
        unlink_to_close(c);
    } else if (!(c->flags & KV_CLIENT_FAKE)) {
        if (c->prev)
            c->prev->next = c->next;
        else
            kv_srv.clients = c->next;
        if (c->next) c->next->prev = c->prev;
        kv_srv.nclients--;
    }
    kv_multi_client_free(c);
    kv_client_ext_free(c);
    kv_reply_free_blocks(c);
    kv_req_fini(&c->req);
    free(c->qbuf);
    free(c->buf);
    free(c->name);
    free(c);
}

void kv_client_close_async(kv_client_t *c) {
    if (c->flags & (KV_CLIENT_CLOSE_ASAP | KV_CLIENT_FAKE)) return;
    kv_blocked_client_gone(c);
    /* Unlink from the client list now (CLIENT LIST stops showing it) and queue it. */
    if (c->prev)
        c->prev->next = c->next;
    else
        kv_srv.clients = c->next;
    if (c->next) c->next->prev = c->prev;
    kv_srv.nclients--;
    c->next = NULL;
    c->prev = to_close;
    to_close = c;
    c->flags |= KV_CLIENT_CLOSE_ASAP;
    kv_reply_free_blocks(c);
    c->bufpos = c->sentlen = 0;
    if (c->fd >= 0 && kv_srv.loop) kv_loop_del_file(kv_srv.loop, c->fd, KV_READABLE | KV_WRITABLE);
}

static void free_closed_clients(void) {
    while (to_close != NULL) {
        kv_client_t *c = to_close;
        to_close = c->prev;
        c->prev = NULL;
        c->flags &= ~KV_CLIENT_CLOSE_ASAP;
        c->flags |= KV_CLIENT_FAKE; /* already unlinked from the list */
        kv_pubsub_unsubscribe_all(c);
        kv_reply_unlink_pending(c);
        if (c->fd >= 0) close(c->fd);
        c->fd = -1;
        kv_multi_client_free(c);
        kv_client_ext_free(c);
        kv_reply_free_blocks(c);
        kv_req_fini(&c->req);
        free(c->qbuf);
        free(c->buf);
        free(c->name);
        free(c);
    }
}

kv_client_t *kv_client_by_id(uint64_t id) {
    for (kv_client_t *c = kv_srv.clients; c; c = c->next)
        if (c->id == id) return c;
    return NULL;
}

/* --- Reading and running commands --- */

size_t kv_client_query_mem(const kv_client_t *c) {
    return c->qlen - c->qpos + kv_req_mem(&c->req) + kv_multi_mem(c);
}

/* Redis's sdscatrepr: p[0..len) quoted, with C escapes for what is not printable. */
static void repr(char *out, size_t cap, const char *p, size_t len) {
    size_t o = 0;
    out[o++] = '"';
    for (size_t i = 0; i < len && o + 6 < cap; i++) {
        unsigned char ch = (unsigned char)p[i];
        const char *esc = NULL;
        switch (ch) {
        case '\\': esc = "\\\\"; break;
        case '"': esc = "\\\""; break;
        case '\n': esc = "\\n"; break;
        case '\r': esc = "\\r"; break;
        case '\t': esc = "\\t"; break;
        case '\a': esc = "\\a"; break;
        case '\b': esc = "\\b"; break;
        default: break;
        }
        if (esc != NULL) {
            out[o++] = esc[0];
            out[o++] = esc[1];
        } else if (ch >= 0x20 && ch < 0x7f) {
            out[o++] = (char)ch;
        } else {
            o += (size_t)snprintf(out + o, cap - o, "\\x%02x", ch);
        }
    }
    out[o++] = '"';
    out[o] = '\0';
}

/*
 * client-query-buffer-limit, as Redis's readQueryFromClient (the same log line, counter
 * and disconnection), over what the input really holds: the unparsed bytes and the
 * argument array a partly received command has filled (16 bytes per argument, more than
 * a short argument's own bytes), so a command with millions of tiny arguments cannot
 * hold several times the limit.
 */
bool kv_client_check_query_limit(kv_client_t *c) {
    size_t limit = kv_srv.cfg.client_query_buffer_limit;
    if (limit == 0 || kv_client_query_mem(c) <= limit) return false;
    char bytes[64 * 4 + 8];
    size_t n = c->qlen - c->qpos < 64 ? c->qlen - c->qpos : 64;
    repr(bytes, sizeof(bytes), c->qbuf + c->qpos, n);
    char *ci = kv_client_info_line(c);
    kv_log(KV_LOG_WARNING,
           "Closing client that reached max query buffer length: %s (qbuf initial bytes: %s)",
           ci ? ci : c->addr, bytes);
    free(ci);
    kv_srv.stat_client_qbuf_limit_disconnections++;
    kv_client_free(c);
    return true;
}

void kv_client_process_input(kv_client_t *c) {
    /* The time commands of this batch see (Redis 7.2's command time snapshot, per batch). */
    kv_srv.mstime = kv_mstime();
    kv_srv.cmd_clock_us = kv_clock_us();
    while (c->qpos < c->qlen) {
        /* A paused client (delayed WRONGPASS, auth.c; CLIENT PAUSE) or a blocked one
         * (blocked.c) runs the rest when released. */
        if (c->flags & (KV_CLIENT_CLOSE_AFTER_REPLY | KV_CLIENT_CLOSE_ASAP | KV_CLIENT_AUTH_PAUSED |
                        KV_CLIENT_PAUSED | KV_CLIENT_BLOCKED))
            break;
        c->req.max_bulk = kv_srv.cfg.proto_max_bulk_len; /* CONFIG SET applies at once */
        c->req.unauth = !(c->flags & KV_CLIENT_AUTHENTICATED) && kv_auth_required(c);
        ssize_t n = kv_req_parse(&c->req, c->qbuf + c->qpos, c->qlen - c->qpos);
        if (n == 0) break;
        if (n < 0) {
            if (n == -EPROTO) {
                kv_log(KV_LOG_VERBOSE, "Protocol error (%s) from client: id=%llu addr=%s",
                       c->req.errstr, (unsigned long long)c->id, c->addr);
                kv_reply_errorf(c, "ERR %s", c->req.errstr[0] ? c->req.errstr : "Protocol error");
                c->flags |= KV_CLIENT_CLOSE_AFTER_REPLY | KV_CLIENT_PROTOCOL_ERROR;
            } else {
                kv_client_close_async(c);
            }
            break;
        }
        if (c->req.argc == 0) {
            c->qpos += (size_t)n;
            continue;
        }
        c->argc = c->req.argc;
        c->argv = c->req.argv;
        kv_reply_mark_t mark = {false};
        if ((kv_client_pause_active || c->ext != NULL) &&
            !kv_client_before_command(c, &mark)) { /* CLIENT PAUSE: parsed again later */
            c->argc = 0;
            c->argv = NULL;
            break;
        }
        c->qpos += (size_t)n;
        c->last_ms = kv_srv.mstime;
        kv_cmd_process(c);
        if (mark.mute) kv_client_after_command(c, &mark); /* CLIENT REPLY SKIP */
        c->argc = 0;
        c->argv = NULL;
        kv_req_trim(&c->req);
    }
    if (c->qpos == c->qlen) {
        c->qpos = c->qlen = 0;
        if (c->qcap > 4 * READ_CHUNK) {
            free(c->qbuf);
            c->qbuf = NULL;
            c->qcap = 0;
        }
    }
}

static void client_read(kv_loop_t *loop, int fd, void *priv, int mask) {
    (void)loop;
    (void)fd;
    (void)mask;
    kv_client_t *c = priv;
    size_t want = READ_CHUNK;
    size_t pending = c->qlen - c->qpos;
    /* A big argument: read up to what the command still needs, but grow the buffer at
     * most to twice what actually arrived, so announcing a 512 MB bulk and sending
     * nothing costs nothing (memory follows the bytes received). */
    if (c->req.need > pending && c->req.need - pending > want) {
        want = c->req.need - pending;
        if (want > pending && pending > READ_CHUNK)
            want = pending;
        else if (want > pending)
            want = READ_CHUNK;
    }
    if (c->qpos > 0 && c->qcap - c->qlen < want) {
        memmove(c->qbuf, c->qbuf + c->qpos, pending);
        c->qlen = pending;
        c->qpos = 0;
    }
    if (c->qcap - c->qlen < want) {
        size_t ncap = c->qlen + want;
        if (ncap < c->qcap * 2 && want <= READ_CHUNK) ncap = c->qcap * 2;
        char *q = realloc(c->qbuf, ncap);
        if (q == NULL) {
            kv_client_close_async(c);
            free_closed_clients();
            return;
        }
        c->qbuf = q;
        c->qcap = ncap;
    }
    ssize_t n = read(c->fd, c->qbuf + c->qlen, want);
    if (n < 0) {
        if (errno == EAGAIN || errno == EINTR) return;
        kv_log(KV_LOG_VERBOSE, "Reading from client: %s", strerror(errno));
        kv_client_free(c);
        return;
    }
    if (n == 0) {
        kv_log(KV_LOG_VERBOSE, "Client closed connection id=%llu addr=%s",
               (unsigned long long)c->id, c->addr);
        kv_client_free(c);
        return;
    }
    c->qlen += (size_t)n;
    kv_srv.stat_net_input_bytes += (uint64_t)n;
    if (c->qlen - c->qpos > c->qbuf_peak) c->qbuf_peak = c->qlen - c->qpos;
    if (kv_client_check_query_limit(c)) return;
    kv_srv.current_client = c;
    kv_client_process_input(c);
    kv_srv.current_client = NULL;
    if (c->flags & KV_CLIENT_CLOSE_ASAP) {
        free_closed_clients();
        return;
    }
    /* Parsing a partly received command grew its argument array, or MULTI queued copies
     * of the commands: check again now, not one read later. */
    if (c->req.mb_left > 0 || (c->flags & KV_CLIENT_MULTI)) kv_client_check_query_limit(c);
}

/* Writes every pending reply (reply.c), then frees the clients closed meanwhile. */
void kv_net_flush_pending(kv_server_t *srv) {
    kv_reply_flush_pending(srv);
    free_closed_clients();
}

/* --- Accepting --- */

static void accept_handler(kv_loop_t *loop, int lfd, void *priv, int mask) {
    (void)priv;
    (void)mask;
    for (int i = 0; i < MAX_ACCEPTS; i++) {
        int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno != EAGAIN && errno != EINTR)
                kv_log(KV_LOG_WARNING, "Accepting client connection: %s", strerror(errno));
            return;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        if (kv_srv.cfg.tcp_keepalive > 0) {
            int idle = kv_srv.cfg.tcp_keepalive, intvl = idle / 3 ? idle / 3 : 1, cnt = 3;
            setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
            setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
            setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
            setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
        }
        if (kv_srv.nclients >= (size_t)kv_srv.cfg.maxclients) {
            static const char msg[] = "-ERR max number of clients reached\r\n";
            if (write(fd, msg, sizeof(msg) - 1) < 0) { /* best effort, as Redis */
            }
            kv_srv.stat_rejected_conn++;
            close(fd);
            continue;
        }
        if (kv_auth_refuse_connection(fd)) { /* protected mode: -DENIED was sent */
            close(fd);
            continue;
        }
        kv_client_t *c = kv_client_new(fd);
        if (c == NULL) {
            close(fd);
            continue;
        }
        if (kv_loop_add_file(loop, fd, KV_READABLE, client_read, c) != 0) {
            kv_log(KV_LOG_WARNING, "Error registering fd event for the new client: %s",
                   strerror(errno));
            kv_client_free(c);
            continue;
        }
        kv_srv.stat_numconnections++;
        kv_log(KV_LOG_VERBOSE, "Accepted %s", c->addr);
    }
}

static int listen_one(kv_server_t *srv, const char *addr, int port) {
    struct addrinfo hints = {0}, *res = NULL;
    char portstr[16];
    const char *host = addr;
    bool optional = false;
    if (host[0] == '-') {
        optional = true;
        host++;
    }
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICHOST;
    if (strcmp(host, "*") == 0) {
        host = "0.0.0.0";
    } else if (strcmp(host, "::*") == 0) {
        host = "::";
    }
    snprintf(portstr, sizeof(portstr), "%d", port);
    int rc = getaddrinfo(host, portstr, &hints, &res);
    if (rc != 0) {
        kv_log(KV_LOG_WARNING, "Could not create server TCP listening socket %s:%d: %s", host, port,
               gai_strerror(rc));
        return optional ? 0 : -EINVAL;
    }
    int err = 0;
    for (struct addrinfo *p = res; p; p = p->ai_next) {
        int fd =
            socket(p->ai_family, p->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, p->ai_protocol);
        if (fd < 0) {
            err = -errno;
            continue;
        }
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (p->ai_family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
        if (bind(fd, p->ai_addr, p->ai_addrlen) != 0 || listen(fd, srv->cfg.tcp_backlog) != 0) {
            err = -errno;
            close(fd);
            continue;
        }
        if (srv->nlisten >= (int)(sizeof(srv->listen_fds) / sizeof(srv->listen_fds[0]))) {
            close(fd);
            break;
        }
        srv->listen_fds[srv->nlisten++] = fd;
        kv_loop_add_file(srv->loop, fd, KV_READABLE, accept_handler, NULL);
        err = 0;
        break;
    }
    freeaddrinfo(res);
    if (err != 0) {
        if (optional && (err == -EADDRNOTAVAIL || err == -EAFNOSUPPORT || err == -EPROTONOSUPPORT))
            return 0;
        kv_log(KV_LOG_WARNING, "Warning: Could not create server TCP listening socket %s:%d: %s",
               host, port, strerror(-err));
        return err;
    }
    return 0;
}

int kv_net_listen(kv_server_t *srv) {
    if (srv->cfg.port == 0) return 0;
    char *copy = strdup(srv->cfg.bind ? srv->cfg.bind : "127.0.0.1");
    if (copy == NULL) return -ENOMEM;
    int rc = 0;
    char *save = NULL;
    for (char *t = strtok_r(copy, " ", &save); t; t = strtok_r(NULL, " ", &save)) {
        rc = listen_one(srv, t, srv->cfg.port);
        if (rc != 0) break;
    }
    free(copy);
    if (rc == 0 && srv->nlisten == 0) rc = -EADDRNOTAVAIL;
    return rc;
}

/* --- Periodic checks --- */

const kv_obuf_limit_t *kv_client_obuf_limit(const kv_client_t *c) {
    return &kv_srv.cfg.obuf_limits[(c->flags & KV_CLIENT_PUBSUB) ? 2 : 0];
}

void kv_net_cron(kv_server_t *srv) {
    int64_t now = srv->mstime;
    kv_client_t *next;
    for (kv_client_t *c = srv->clients; c; c = next) {
        next = c->next;
        const kv_obuf_limit_t *l = kv_client_obuf_limit(c);
        if (srv->cfg.timeout > 0 && (now - c->last_ms) / 1000 > srv->cfg.timeout &&
            c->bufpos == 0 && c->rhead == NULL) {
            kv_log(KV_LOG_VERBOSE, "Closing idle client");
            kv_client_free(c);
            continue;
        }
        if (l->soft && c->obuf_soft_since_ms && c->reply_bytes >= l->soft &&
            (now - c->obuf_soft_since_ms) / 1000 > l->soft_seconds) {
            srv->stat_client_outbuf_limit_disconnections++;
            kv_client_close_async(c);
        }
        /* Give back a big idle query buffer. */
        if (c->qlen == 0 && c->qcap > READ_CHUNK && now - c->last_ms > 2000) {
            free(c->qbuf);
            c->qbuf = NULL;
            c->qcap = 0;
        }
    }
    free_closed_clients();
}

/* --- CLIENT LIST --- */

char *kv_client_info_line(const kv_client_t *c) {
    char *out = NULL;
    int64_t now = kv_mstime();
    char events[3] = {0};
    int m = c->fd >= 0 && kv_srv.loop ? kv_loop_file_mask(kv_srv.loop, c->fd) : 0;
    int e = 0;
    if (m & KV_READABLE) events[e++] = 'r';
    if (m & KV_WRITABLE) events[e++] = 'w';
    char flags[24];
    int f = 0;
    f += kv_client_ext_flags(c, flags + f, false);
    if (c->flags & KV_CLIENT_PUBSUB) flags[f++] = 'P';
    if (c->flags & KV_CLIENT_MULTI) flags[f++] = 'x';
    if (c->flags & KV_CLIENT_BLOCKED) flags[f++] = 'b';
    if (c->flags & KV_CLIENT_DIRTY_CAS) flags[f++] = 'd';
    f += kv_client_ext_flags(c, flags + f, true);
    if (c->flags & KV_CLIENT_CLOSE_AFTER_REPLY) flags[f++] = 'c';
    if (c->flags & KV_CLIENT_CLOSE_ASAP) flags[f++] = 'A';
    if (c->flags & KV_CLIENT_NO_EVICT) flags[f++] = 'e';
    if (c->flags & KV_CLIENT_NO_TOUCH) flags[f++] = 'T';
    if (f == 0) flags[f++] = 'N';
    flags[f] = '\0';
    size_t qfree = c->qcap - c->qlen;
    size_t obl = c->bufpos, oll = c->nblocks, omem = c->reply_bytes;
    size_t mmem = kv_multi_mem(c);
    size_t tot = sizeof(*c) + c->bufsize + c->qcap + omem +
                 (size_t)c->req.argv_cap * sizeof(kv_arg_t) + c->req.scratch_cap + mmem;
    const char *cmd = c->lastcmd ? c->lastcmd->fullname : "NULL";
    size_t sub, psub, ssub;
    kv_pubsub_client_counts(c, &sub, &psub, &ssub);
    int n =
        asprintf(&out,
                 "id=%llu addr=%s laddr=%s fd=%d name=%s age=%lld idle=%lld flags=%s db=%d "
                 "sub=%zu psub=%zu ssub=%zu multi=%ld qbuf=%zu qbuf-free=%zu argv-mem=%zu "
                 "multi-mem=%zu rbs=%zu rbp=%zu obl=%zu oll=%zu omem=%zu tot-mem=%zu "
                 "events=%s cmd=%s user=default redir=%lld resp=%d",
                 (unsigned long long)c->id, c->addr, c->laddr, c->fd, c->name ? c->name : "",
                 (long long)((now - c->ctime_ms) / 1000), (long long)((now - c->last_ms) / 1000),
                 flags, c->dbid, sub, psub, ssub, kv_multi_queued_count(c), c->qlen - c->qpos,
                 qfree, (size_t)0, mmem, c->bufsize, c->bufsize, obl, oll, omem, tot, events, cmd,
                 kv_client_tracking_redir(c), c->resp);
    return n < 0 ? NULL : out;
}
