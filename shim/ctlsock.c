/* SPDX-License-Identifier: MIT */
/*
 * ctlsock.c - the control socket: one thread, one Unix-domain listener, one client at a
 * time (issue 4; protocol in ctlproto.h, commands in ctlcmd.c).
 *
 * With ctl.enable (MEMSHIM_CTL=1) the constructor starts a detached thread that binds
 * <dir>/<pid>.sock in a private per-user directory (ms_ctlproto_sock_dir, mode 0700,
 * ownership checked) and serves requests. Invariants:
 *  - the host is never blocked: the constructor only creates the thread; all socket
 *    and filesystem work happens on it, with non-blocking sockets, poll and deadlines;
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
static _Atomic int client_fd = -1;
static pid_t bound_pid; /* the process that created sock_path (0: none) */
static char sock_path[sizeof(((struct sockaddr_un *)0)->sun_path)];

static _Atomic uint64_t timeout_ms = DEFAULT_TIMEOUT_MS;
static _Atomic uint64_t n_refused;
static _Atomic uint64_t n_requests;
static _Atomic uint64_t n_clients;

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
        listen(fd, 16) != 0) {
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

/* --- One client --- */

/* Sends all of buf before deadline. 0, -ETIMEDOUT or -errno (the peer went away). */
static int send_all(int fd, const char *buf, size_t len, uint64_t deadline) {
    while (len > 0) {
        ssize_t n = send(fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) {
            buf += n;
            len -= (size_t)n;
            continue;
        }
        if (n < 0 && errno != EAGAIN && errno != EINTR) return -errno;
        struct pollfd p[2] = {{.fd = fd, .events = POLLOUT}, {.fd = wake_fd, .events = POLLIN}};
        int left = ms_left(deadline);
        if (left == 0 || atomic_load(&stopping)) return -ETIMEDOUT;
        if (poll(p, 2, left) < 0 && errno != EINTR) return -errno;
    }
    return 0;
}

static void send_err(int fd, const char *reason) {
    char head[MS_CTLPROTO_MAX_HEAD];
    int n = ms_ctlproto_err_head(head, sizeof(head), reason);
    if (n > 0) (void)send_all(fd, head, (size_t)n, now_ms() + 1000);
}

/*
 * Closes a connection we are giving up on so the peer still reads our last reply: a Unix
 * socket closed with unread input resets the connection and the reply is lost. So: no
 * more output, then discard the peer's input until it closes or CLOSE_DRAIN_MS pass.
 */
static void close_draining(int fd) {
    char sink[4096];
    uint64_t deadline = now_ms() + CLOSE_DRAIN_MS;
    (void)shutdown(fd, SHUT_WR);
    for (;;) {
        ssize_t n = recv(fd, sink, sizeof(sink), MSG_DONTWAIT);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) break;
        if (n > 0) continue;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int left = ms_left(deadline);
        if (left == 0 || poll(&p, 1, left) <= 0) break;
    }
    close(fd);
}

static bool peer_allowed(int fd, struct ucred *cred) {
    socklen_t len = sizeof(*cred);
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, cred, &len) != 0 || len != sizeof(*cred))
        return false;
    return cred->uid == geteuid() || cred->uid == 0;
}

static ms_ctlproto_lbuf_t lbuf; /* the control thread's only; 4 KiB is too much stack */

/*
 * Serves requests until the peer closes, a request takes longer than ctl.timeout_ms to
 * arrive or its reply longer to be read, a line is too long, or the thread stops.
 */
static void serve(int fd) {
    ms_ctlproto_lbuf_init(&lbuf);
    bool eof = false;
    uint64_t deadline = now_ms() + atomic_load(&timeout_ms);
    while (!atomic_load(&stopping)) {
        const char *line;
        size_t len;
        int r = ms_ctlproto_lbuf_take(&lbuf, eof, &line, &len);
        if (r == 1) {
            char head[MS_CTLPROTO_MAX_HEAD];
            const char *body;
            size_t body_len;
            size_t hl = ms_ctlcmd_handle(line, len, head, sizeof(head), &body, &body_len);
            atomic_fetch_add(&n_requests, 1);
            uint64_t wdl = now_ms() + atomic_load(&timeout_ms);
            if (send_all(fd, head, hl, wdl) != 0) return;
            if (body_len > 0 && send_all(fd, body, body_len, wdl) != 0) return;
            deadline = now_ms() + atomic_load(&timeout_ms);
            continue;
        }
        if (r < 0) {
            send_err(fd, "request too long (max 4095 bytes); closing");
            return;
        }
        if (eof) return;
        int left = ms_left(deadline);
        if (left == 0) {
            send_err(fd, "timeout: no complete request in time; closing");
            return;
        }
        struct pollfd p[2] = {{.fd = fd, .events = POLLIN}, {.fd = wake_fd, .events = POLLIN}};
        if (poll(p, 2, left) < 0 && errno != EINTR) return;
        if (!(p[0].revents & (POLLIN | POLLHUP | POLLERR))) continue;
        size_t avail;
        char *dst = ms_ctlproto_lbuf_space(&lbuf, &avail);
        ssize_t n = recv(fd, dst, avail, MSG_DONTWAIT);
        if (n > 0)
            ms_ctlproto_lbuf_commit(&lbuf, (size_t)n);
        else if (n == 0)
            eof = true;
        else if (errno != EAGAIN && errno != EINTR)
            return;
    }
}

static void accept_one(void) {
    int fd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
        /* Out of descriptors: back off instead of spinning on a readable listener. */
        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
            (void)poll(NULL, 0, 100);
        return;
    }
    struct ucred cred = {0};
    if (!peer_allowed(fd, &cred)) {
        atomic_fetch_add(&n_refused, 1);
        ms_log(MS_LOG_INFO, "control socket: refused peer pid %d uid %u", (int)cred.pid,
               (unsigned)cred.uid);
        send_err(fd, "permission denied");
        close_draining(fd);
        return;
    }
    atomic_fetch_add(&n_clients, 1);
    atomic_store(&client_fd, fd);
    serve(fd);
    atomic_store(&client_fd, -1);
    close_draining(fd);
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
    while (rc == 0 && !atomic_load(&stopping)) {
        struct pollfd p[2] = {{.fd = listen_fd, .events = POLLIN},
                              {.fd = wake_fd, .events = POLLIN}};
        if (poll(p, 2, -1) < 0 && errno != EINTR) break;
        if (atomic_load(&stopping)) break;
        if (p[0].revents & POLLIN) accept_one();
    }
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
    int cfd = atomic_exchange(&client_fd, -1);
    if (cfd >= 0) close(cfd);
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
