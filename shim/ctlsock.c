/* SPDX-License-Identifier: MIT */
/*
 * ctlsock.c - the control socket: one thread, one Unix-domain listener, up to MAX_CONNS
 * clients served at once through poll (protocol in ctlproto.h, commands in ctlcmd.c).
 *
 * With ctl.enable (MEMSHIM_CTL=1) the constructor starts a detached thread that binds
 * <dir>/<pid>.sock in a private per-user directory (ms_ctlproto_sock_dir, mode 0700,
 * ownership checked) and serves requests. Invariants:
 *  - the host is never blocked: the constructor only creates the thread; all socket
 *    and filesystem work happens on it, with non-blocking sockets, poll and deadlines;
 *  - no client is blocked by another: every connection has its own deadlines, none is
 *    ever waited for, and when MAX_CONNS are open a new one evicts the idlest;
 *  - the thread allocates nothing: connection state and buffers are static;
 *  - the thread takes no signals (all are blocked before it is created), installs no
 *    handlers, sends with MSG_NOSIGNAL, and runs with ms_tls_internal set, so failure
 *    injection never counts or fails its allocations;
 *  - peers are checked with SO_PEERCRED: same euid or root; others get one ERR line,
 *    are closed and counted (ctl.refused);
 *  - a path left by a dead process with our pid is replaced, never connected to;
 *    ours is unlinked at exit (destructor) or when the thread stops;
 *  - fork: the child has no thread and closes the inherited descriptors (the parent's
 *    path is never touched); with ctl.fork it starts its own thread, which waits
 *    FORK_GRACE_MS before binding, so a fork-then-exec child never creates a socket.
 *    sock_lock is taken by the prepare handler, so no lock is left held in the child.
 */
#include "memshim_internal.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "ctlproto.h"

#define DEFAULT_TIMEOUT_MS 5000
#define FORK_GRACE_MS      100
#define STACK_BYTES        (512u * 1024)
#define STOP_WAIT_S        10
#define CLOSE_DRAIN_MS     200
#define MAX_CONNS          16  /* connections served at once; one more evicts the idlest */
#define LISTEN_BACKLOG     128 /* connections the kernel queues for the thread to accept */
#define SPILL_BYTES        (MS_CTLPROTO_MAX_HEAD + 256u * 1024) /* > any reply ctlcmd builds */

static pthread_mutex_t sock_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t sock_exited = PTHREAD_COND_INITIALIZER;

/* All under sock_lock, except the atomics. */
static bool want;              /* ctl.enable */
static bool fork_rearm = true; /* ctl.fork */
static bool ready;             /* the constructor has run: starting is allowed */
static bool exiting;           /* the destructor has run: never bind again */
static bool running;           /* a control thread exists */
static pthread_t ctl_thread;
static _Atomic bool stopping;
static int wake_fd = -1; /* eventfd: wakes the thread's polls on stop */
static int listen_fd = -1;
static pid_t bound_pid; /* the process that created sock_path (0: none) */
static char sock_path[sizeof(((struct sockaddr_un *)0)->sun_path)];

static _Atomic uint64_t timeout_ms = DEFAULT_TIMEOUT_MS;
static _Atomic uint64_t n_refused;
static _Atomic uint64_t n_requests;
static _Atomic uint64_t n_clients;
static _Atomic uint64_t n_evicted;

static uint64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static int ms_left(uint64_t deadline) {
    uint64_t now = now_ms();
    if (now >= deadline) return 0;
    uint64_t left = deadline - now;
    return left > INT32_MAX ? INT32_MAX : (int)left;
}

/* --- Listener --- */

/* Binds <dir>/<pid>.sock. Returns 0 or -errno; sock_lock held. */
static int listener_open_locked(void) {
    char dir[sizeof(sock_path)], path[sizeof(sock_path)];
    int rc = ms_ctlproto_sock_dir(dir, sizeof(dir));
    if (rc == 0) rc = ms_ctlproto_dir_prepare(dir, true);
    if (rc == -EPERM) {
        ms_log(MS_LOG_WARN, "control socket disabled: %s is not owned by uid %u", dir,
               (unsigned)geteuid());
        return rc;
    }
    if (rc == 0) rc = ms_ctlproto_sock_path(dir, getpid(), path, sizeof(path));
    if (rc != 0) {
        ms_log(MS_LOG_WARN, "control socket disabled: directory %s: %s", dir, strerrordesc_np(-rc));
        return rc;
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return -errno;
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    memcpy(sun.sun_path, path, strlen(path) + 1);
    /* Whatever has our pid's name is left by a dead process (or by us before an exec). */
    if (unlink(path) != 0 && errno != ENOENT) {
        rc = -errno;
        goto out;
    }
    if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0 || chmod(path, 0600) != 0 ||
        listen(fd, LISTEN_BACKLOG) != 0) {
        rc = -errno;
        (void)unlink(path);
        goto out;
    }
    listen_fd = fd;
    bound_pid = getpid();
    memcpy(sock_path, path, sizeof(sock_path));
    ms_log(MS_LOG_INFO, "control socket %s", sock_path);
    return 0;
out:
    close(fd);
    ms_log(MS_LOG_WARN, "control socket disabled: %s: %s", path, strerrordesc_np(-rc));
    return rc;
}

/* Closes the listener and removes our path (only if this process created it). */
static void listener_close_locked(void) {
    if (listen_fd >= 0) close(listen_fd);
    listen_fd = -1;
    if (bound_pid != 0 && bound_pid == getpid()) (void)unlink(sock_path);
    bound_pid = 0;
    sock_path[0] = '\0';
}

/* --- Clients --- */

/*
 * Every connection is served by the one thread through a poll set, so a client that
 * is slow to send or to read delays no other. Each has its own deadline: its next
 * request must be complete within ctl.timeout_ms of its accept or its last reply, and a
 * reply it does not read must be gone within ctl.timeout_ms. At most MAX_CONNS are
 * open; one more arriving evicts the one idle the longest (its last activity oldest).
 * Replies are built in ctlcmd.c's static buffers: one that does not fit into the peer's
 * socket at once is copied to the single spill buffer, and that client is not read
 * again until the peer has taken it all; a second such reply while the spill is in use
 * ends its connection. One reply fits an empty socket buffer (SO_SNDBUF is raised), so
 * in practice only a client that pipelines requests without reading gets there.
 */
enum { CONN_FREE = 0, CONN_OPEN, CONN_CLOSING };

typedef struct conn {
    _Atomic int fd1;   /* the descriptor + 1, 0 when none (read by the fork child) */
    int state;         /* CONN_* */
    bool eof;          /* the peer shut down its side */
    bool spilling;     /* owns the spill buffer */
    uint64_t deadline; /* OPEN: request / reply due; CLOSING: end of the drain */
    uint64_t stamp;    /* order of the last activity: the lowest is evicted */
    ms_ctlproto_lbuf_t lbuf;
} conn_t;

/* The control thread's only (too large for its stack). */
static conn_t conns[MAX_CONNS];
static struct {
    size_t off, len;
    char data[SPILL_BYTES];
} spill;
static uint64_t stamp_next;

static int conn_fd(conn_t *c) {
    return atomic_load(&c->fd1) - 1;
}

/* Closes c at once. */
static void conn_close(conn_t *c) {
    int fd = atomic_exchange(&c->fd1, 0) - 1;
    if (fd >= 0) close(fd);
    if (c->spilling) spill.off = spill.len = 0;
    c->spilling = false;
    c->state = CONN_FREE;
}

/* One attempt to send an error line; the connection is fresh or idle, so it fits. */
static void send_err(int fd, const char *reason) {
    char head[MS_CTLPROTO_MAX_HEAD];
    int n = ms_ctlproto_err_head(head, sizeof(head), reason);
    if (n > 0) (void)!send(fd, head, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
}

/*
 * Ends a connection so the peer still reads our last reply: a Unix socket closed with
 * unread input resets the connection and the reply is lost. So: no more output, then
 * its input is discarded (by the poll loop) until it closes or CLOSE_DRAIN_MS pass.
 */
static void conn_close_draining(conn_t *c) {
    (void)shutdown(conn_fd(c), SHUT_WR);
    if (c->spilling) spill.off = spill.len = 0;
    c->spilling = false;
    c->state = CONN_CLOSING;
    c->deadline = now_ms() + CLOSE_DRAIN_MS;
}

static bool peer_allowed(int fd, struct ucred *cred) {
    socklen_t len = sizeof(*cred);
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, cred, &len) != 0 || len != sizeof(*cred))
        return false;
    return cred->uid == geteuid() || cred->uid == 0;
}

/* Sends what it can of buf without waiting; the bytes sent, or -errno. */
static ssize_t send_some(int fd, const char *buf, size_t len) {
    size_t done = 0;
    while (done < len) {
        ssize_t n = send(fd, buf + done, len - done, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) {
            done += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno != EAGAIN) return -errno;
        break;
    }
    return (ssize_t)done;
}

/* Sends one reply; what the socket does not take goes to the spill. false: c is closed. */
static bool conn_reply(conn_t *c, const char *head, size_t hl, const char *body, size_t bl) {
    int fd = conn_fd(c);
    ssize_t n = send_some(fd, head, hl);
    if (n < 0) goto drop;
    size_t sent = (size_t)n;
    if (sent == hl && bl > 0) {
        n = send_some(fd, body, bl);
        if (n < 0) goto drop;
        sent += (size_t)n;
    }
    if (sent == hl + bl) return true;
    /* The rest waits in the spill buffer, if it is free and large enough. */
    size_t rest = hl + bl - sent;
    if (spill.len != 0 || rest > sizeof(spill.data)) goto drop;
    size_t in_head = sent < hl ? hl - sent : 0;
    memcpy(spill.data, head + sent, in_head);
    memcpy(spill.data + in_head, body + (sent - hl + in_head), rest - in_head);
    spill.off = 0;
    spill.len = rest;
    c->spilling = true;
    c->deadline = now_ms() + atomic_load(&timeout_ms);
    return true;
drop:
    conn_close(c);
    return false;
}

/* Answers every whole request c holds, while its replies go out at once. */
static void conn_run(conn_t *c) {
    while (c->state == CONN_OPEN && !c->spilling && !atomic_load(&stopping)) {
        const char *line;
        size_t len;
        int r = ms_ctlproto_lbuf_take(&c->lbuf, c->eof, &line, &len);
        if (r == 1) {
            char head[MS_CTLPROTO_MAX_HEAD];
            const char *body;
            size_t body_len;
            size_t hl = ms_ctlcmd_handle(line, len, head, sizeof(head), &body, &body_len);
            atomic_fetch_add(&n_requests, 1);
            c->stamp = ++stamp_next;
            c->deadline = now_ms() + atomic_load(&timeout_ms);
            if (!conn_reply(c, head, hl, body, body_len)) return;
            continue;
        }
        if (r < 0) {
            send_err(conn_fd(c), "request too long (max 4095 bytes); closing");
            conn_close_draining(c);
        } else if (c->eof) {
            conn_close_draining(c);
        }
        return;
    }
}

/* Reads what c's peer sent (POLLIN/POLLHUP/POLLERR), then answers it. */
static void conn_readable(conn_t *c) {
    int fd = conn_fd(c);
    if (c->state == CONN_CLOSING) {
        char sink[4096];
        ssize_t n = recv(fd, sink, sizeof(sink), MSG_DONTWAIT);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) conn_close(c);
        return;
    }
    size_t avail;
    char *dst = ms_ctlproto_lbuf_space(&c->lbuf, &avail);
    if (avail > 0) {
        ssize_t n = recv(fd, dst, avail, MSG_DONTWAIT);
        if (n > 0) {
            ms_ctlproto_lbuf_commit(&c->lbuf, (size_t)n);
            c->stamp = ++stamp_next;
        } else if (n == 0) {
            c->eof = true;
        } else if (errno != EAGAIN && errno != EINTR) {
            conn_close(c);
            return;
        }
    }
    conn_run(c);
}

/* c's peer can take more of its spilled reply (POLLOUT/POLLHUP/POLLERR). */
static void conn_writable(conn_t *c) {
    ssize_t n = send_some(conn_fd(c), spill.data + spill.off, spill.len - spill.off);
    if (n < 0) {
        conn_close(c);
        return;
    }
    spill.off += (size_t)n;
    if (spill.off < spill.len) return;
    spill.off = spill.len = 0;
    c->spilling = false;
    c->stamp = ++stamp_next;
    c->deadline = now_ms() + atomic_load(&timeout_ms);
    conn_run(c); /* requests that came while the reply was waiting */
}

/* Ends the connections whose deadline has passed. */
static void conns_expire(uint64_t now) {
    for (size_t i = 0; i < MAX_CONNS; i++) {
        conn_t *c = &conns[i];
        if (c->state == CONN_FREE || now < c->deadline) continue;
        if (c->state == CONN_OPEN && !c->spilling) {
            send_err(conn_fd(c), "timeout: no complete request in time; closing");
            conn_close_draining(c);
        } else {
            conn_close(c); /* a reply not read in time, or a drain that is over */
        }
    }
}

/*
 * A free slot: a free one, else one whose connection is closing, else (evict_open) the
 * one of the open connection idle the longest, which is told and closed. NULL if none.
 */
static conn_t *conn_slot(bool evict_open) {
    conn_t *closing = NULL, *idlest = NULL;
    for (size_t i = 0; i < MAX_CONNS; i++) {
        conn_t *c = &conns[i];
        if (c->state == CONN_FREE) return c;
        if (c->state == CONN_CLOSING && (closing == NULL || c->stamp < closing->stamp)) closing = c;
        if (c->state == CONN_OPEN && (idlest == NULL || c->stamp < idlest->stamp)) idlest = c;
    }
    conn_t *victim = closing != NULL ? closing : evict_open ? idlest : NULL;
    if (victim == NULL) return NULL;
    if (victim->state == CONN_OPEN) {
        atomic_fetch_add(&n_evicted, 1);
        send_err(conn_fd(victim), "too many connections: closing the one idle the longest");
    }
    conn_close(victim);
    return victim;
}

/* Accepts one pending connection. false when there was none (or no descriptor). */
static bool accept_one(void) {
    int fd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
        /* Out of descriptors: back off instead of spinning on a readable listener. */
        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
            (void)poll(NULL, 0, 100);
        return false;
    }
    struct ucred cred = {0};
    bool allowed = peer_allowed(fd, &cred);
    if (!allowed) {
        atomic_fetch_add(&n_refused, 1);
        ms_log(MS_LOG_INFO, "control socket: refused peer pid %d uid %u", (int)cred.pid,
               (unsigned)cred.uid);
        send_err(fd, "permission denied");
    } else {
        atomic_fetch_add(&n_clients, 1);
        /* Room for the largest reply (as far as net.core.wmem_max allows): a client
         * that reads never needs the spill. */
        int sndbuf = (int)SPILL_BYTES;
        (void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
    }
    /* A refused peer never evicts a served one: without a slot to drain in, it goes. */
    conn_t *c = conn_slot(allowed);
    if (c == NULL) {
        close(fd);
        return true;
    }
    ms_ctlproto_lbuf_init(&c->lbuf);
    c->eof = false;
    c->spilling = false;
    c->stamp = ++stamp_next;
    c->state = CONN_OPEN;
    c->deadline = now_ms() + atomic_load(&timeout_ms);
    atomic_store(&c->fd1, fd + 1);
    if (!allowed) conn_close_draining(c);
    return true;
}

/*
 * Closes every connection (the thread stops), each after discarding the input already
 * there, so a reply just sent (e.g. to `set ctl.enable false`) is not lost to a reset.
 */
static void conns_close_all(void) {
    for (size_t i = 0; i < MAX_CONNS; i++) {
        conn_t *c = &conns[i];
        if (c->state == CONN_FREE) continue;
        char sink[4096];
        (void)shutdown(conn_fd(c), SHUT_WR);
        for (int k = 0; k < 64 && recv(conn_fd(c), sink, sizeof(sink), MSG_DONTWAIT) > 0; k++)
            ;
        conn_close(c);
    }
    spill.off = spill.len = 0;
}

/* Serves the listener and every connection until the thread is asked to stop. */
static void serve_all(void) {
    struct pollfd p[2 + MAX_CONNS];
    conn_t *who[2 + MAX_CONNS];
    while (!atomic_load(&stopping)) {
        uint64_t now = now_ms();
        conns_expire(now);
        uint64_t next = UINT64_MAX;
        nfds_t n = 2;
        p[0] = (struct pollfd){.fd = listen_fd, .events = POLLIN};
        p[1] = (struct pollfd){.fd = wake_fd, .events = POLLIN};
        for (size_t i = 0; i < MAX_CONNS; i++) {
            conn_t *c = &conns[i];
            if (c->state == CONN_FREE) continue;
            if (c->deadline < next) next = c->deadline;
            short ev = c->state == CONN_CLOSING ? POLLIN : c->spilling ? POLLOUT : 0;
            if (c->state == CONN_OPEN && !c->spilling && !c->eof) ev = POLLIN;
            if (ev == 0) continue;
            who[n] = c;
            p[n++] = (struct pollfd){.fd = conn_fd(c), .events = ev};
        }
        int wait = next == UINT64_MAX ? -1 : ms_left(next);
        int rc = poll(p, n, wait);
        if (rc < 0 && errno != EINTR) break;
        if (rc <= 0 || atomic_load(&stopping)) continue;
        for (nfds_t i = 2; i < n; i++) {
            conn_t *c = who[i];
            short re = p[i].revents;
            if (re == 0 || c->state == CONN_FREE || conn_fd(c) != p[i].fd) continue;
            if (c->spilling && c->state == CONN_OPEN)
                conn_writable(c);
            else
                conn_readable(c);
        }
        /* New connections last: a slot is never reused within one pass over p. */
        if (p[0].revents & POLLIN)
            for (int k = 0; k < MAX_CONNS && accept_one(); k++)
                ;
    }
    conns_close_all();
}

/* --- The thread --- */

static void *ctl_main(void *arg) {
    unsigned delay_ms = (unsigned)(uintptr_t)arg;
    ms_tls_internal = 1;
    pthread_setname_np(pthread_self(), "memshim-ctl");
    if (delay_ms > 0) {
        struct pollfd p = {.fd = wake_fd, .events = POLLIN};
        (void)poll(&p, 1, (int)delay_ms);
    }
    pthread_mutex_lock(&sock_lock);
    int rc = atomic_load(&stopping) || exiting ? -ECANCELED : listener_open_locked();
    pthread_mutex_unlock(&sock_lock);
    if (rc == 0) serve_all();
    pthread_mutex_lock(&sock_lock);
    listener_close_locked();
    if (wake_fd >= 0) close(wake_fd);
    wake_fd = -1;
    running = false;
    pthread_cond_broadcast(&sock_exited);
    pthread_mutex_unlock(&sock_lock);
    return NULL;
}

/* Starts the thread (sock_lock held). 0, -EAGAIN (a stopping thread has not gone yet). */
static int start_locked(unsigned delay_ms) {
    if (running && atomic_load(&stopping)) {
        if (pthread_equal(pthread_self(), ctl_thread)) return -EAGAIN;
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += STOP_WAIT_S;
        while (running)
            if (pthread_cond_timedwait(&sock_exited, &sock_lock, &until) != 0) break;
        if (running) return -EAGAIN;
    }
    if (running) return 0;
    int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (efd < 0) return -errno;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, STACK_BYTES);
    /* The new thread inherits this mask: it never takes a signal meant for the host. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    wake_fd = efd;
    atomic_store(&stopping, false);
    int rc = pthread_create(&ctl_thread, &attr, ctl_main, (void *)(uintptr_t)delay_ms);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_attr_destroy(&attr);
    if (rc != 0) {
        close(efd);
        wake_fd = -1;
        ms_log(MS_LOG_WARN, "control socket disabled: cannot create its thread (%s)",
               strerrordesc_np(rc));
        return -rc;
    }
    running = true;
    return 0;
}

/* Asks the thread to stop (sock_lock held); it cleans up and exits on its own. */
static void stop_locked(void) {
    if (!running) return;
    atomic_store(&stopping, true);
    uint64_t one = 1;
    if (wake_fd >= 0) (void)!write(wake_fd, &one, sizeof(one));
}

void ms_ctlsock_init(void) {
    pthread_mutex_lock(&sock_lock);
    ready = true;
    if (want) (void)start_locked(0);
    pthread_mutex_unlock(&sock_lock);
}

__attribute__((destructor)) static void ctlsock_fini(void) {
    pthread_mutex_lock(&sock_lock);
    exiting = true;
    stop_locked();
    /* The thread may still be inside a request; the path goes now, the process soon. */
    if (bound_pid != 0 && bound_pid == getpid()) (void)unlink(sock_path);
    bound_pid = 0;
    pthread_mutex_unlock(&sock_lock);
}

/* --- Fork --- */

void ms_ctlsock_fork_prepare(void) {
    pthread_mutex_lock(&sock_lock);
}

void ms_ctlsock_fork_parent(void) {
    pthread_mutex_unlock(&sock_lock);
}

void ms_ctlsock_fork_child(void) {
    pthread_mutex_init(&sock_lock, NULL);
    pthread_cond_init(&sock_exited, NULL);
    /* The parent's descriptors and path stay the parent's: close our copies only. */
    for (size_t i = 0; i < MAX_CONNS; i++) {
        int cfd = atomic_exchange(&conns[i].fd1, 0) - 1;
        if (cfd >= 0) close(cfd);
        conns[i].state = CONN_FREE;
        conns[i].spilling = false;
    }
    spill.off = spill.len = 0;
    if (listen_fd >= 0) close(listen_fd);
    if (wake_fd >= 0) close(wake_fd);
    listen_fd = wake_fd = -1;
    bound_pid = 0;
    sock_path[0] = '\0';
    running = false;
    atomic_store(&stopping, false);
    atomic_store(&n_refused, 0);
    atomic_store(&n_requests, 0);
    atomic_store(&n_clients, 0);
    atomic_store(&n_evicted, 0);
    if (want && fork_rearm && ready && !exiting) (void)start_locked(FORK_GRACE_MS);
}

/* --- Control rows (ctl.c's table) --- */

int ms_ctl_ctl_enable_get(void *out) {
    pthread_mutex_lock(&sock_lock);
    *(bool *)out = want;
    pthread_mutex_unlock(&sock_lock);
    return 0;
}

int ms_ctl_ctl_enable_set(const void *in) {
    bool on = *(const bool *)in;
    int rc = 0;
    pthread_mutex_lock(&sock_lock);
    want = on;
    if (ready && !exiting) {
        if (on)
            rc = start_locked(0);
        else
            stop_locked();
    }
    pthread_mutex_unlock(&sock_lock);
    return rc;
}

int ms_ctl_ctl_socket_get(void *out) {
    static char copy[sizeof(sock_path)];
    pthread_mutex_lock(&sock_lock);
    memcpy(copy, sock_path, sizeof(copy));
    pthread_mutex_unlock(&sock_lock);
    *(const char **)out = copy;
    return 0;
}

int ms_ctl_ctl_fork_get(void *out) {
    pthread_mutex_lock(&sock_lock);
    *(bool *)out = fork_rearm;
    pthread_mutex_unlock(&sock_lock);
    return 0;
}

int ms_ctl_ctl_fork_set(const void *in) {
    pthread_mutex_lock(&sock_lock);
    fork_rearm = *(const bool *)in;
    pthread_mutex_unlock(&sock_lock);
    return 0;
}

int ms_ctl_ctl_timeout_ms_get(void *out) {
    *(uint64_t *)out = atomic_load(&timeout_ms);
    return 0;
}

int ms_ctl_ctl_timeout_ms_set(const void *in) {
    uint64_t v = *(const uint64_t *)in;
    if (v < 10 || v > 3600000) return -EINVAL;
    atomic_store(&timeout_ms, v);
    return 0;
}

int ms_ctl_ctl_refused_get(void *out) {
    *(uint64_t *)out = atomic_load(&n_refused);
    return 0;
}

int ms_ctl_ctl_requests_get(void *out) {
    *(uint64_t *)out = atomic_load(&n_requests);
    return 0;
}

int ms_ctl_ctl_clients_get(void *out) {
    *(uint64_t *)out = atomic_load(&n_clients);
    return 0;
}

int ms_ctl_ctl_evicted_get(void *out) {
    *(uint64_t *)out = atomic_load(&n_evicted);
    return 0;
}
