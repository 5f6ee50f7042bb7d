/* SPDX-License-Identifier: MIT */
/*
 * loop.c - kvcore's event loop: epoll for file events, timers with microsecond
 * resolution, a before-sleep hook and a before-timers hook, adaptive busy polling.
 *
 * Timers are few (cron, the defragmenter's duty-cycle timer, a handful more), so they
 * live in a small array scanned linearly; the wait uses epoll_pwait2 with a nanosecond
 * timeout so a 500 us defrag slice is not rounded up to a millisecond (falls back to
 * epoll_wait, rounding up, on kernels without it). A timer callback returns its next
 * delay in us or -1; timers may be added or deleted from any callback, including their
 * own: deleted slots are marked and compacted after the pass.
 *
 * Busy polling (kv_loop_set_busy_poll) follows KVM's halt polling: before blocking, poll
 * epoll without a timeout for up to poll_us; after a wait, grow poll_us (doubling from
 * POLL_GROW_START_US up to the maximum) when events came within the maximum, and halve it
 * when the wait was longer, so an idle or lightly loaded loop soon blocks at once again.
 * Why: under load a loop that blocks between batches is woken by its clients, and the
 * wake-up is paid in the client's system calls (an IPI to a halted vCPU on a VM); with
 * redis-benchmark as the client, kvcore's 4x more frequent sleeps than redis-server's
 * made it slower in requests/s despite ~20% less CPU per request.
 */
#include "kv_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

typedef struct file_ev {
    int mask;
    kv_file_fn rfn, wfn;
    void *priv;
} file_ev_t;

typedef struct timer {
    int64_t id; /* 0 = deleted */
    uint64_t when_us;
    kv_timer_fn fn;
    void *priv;
} timer_slot_t;

struct kv_loop {
    int epfd;
    int setsize;
    file_ev_t *files;
    struct epoll_event *fired;
    timer_slot_t *timers;
    size_t ntimers, tcap;
    int64_t next_id;
    bool in_timers;
    bool stop;
    bool no_pwait2;
    void (*before_sleep)(kv_loop_t *, void *);
    void *bs_priv;
    void (*before_timers)(kv_loop_t *, void *);
    void *bt_priv;
    int64_t poll_max_us;     /* busy polling: 0 = off */
    int64_t poll_us;         /* current polling budget, adapted after each wait */
    uint64_t last_events_us; /* when an iteration last had file events to handle */
};

#define POLL_GROW_START_US 10

kv_loop_t *kv_loop_new(int setsize) {
    kv_loop_t *l = calloc(1, sizeof(*l));
    if (l == NULL) return NULL;
    l->setsize = setsize;
    l->files = calloc((size_t)setsize, sizeof(*l->files));
    l->fired = calloc((size_t)setsize, sizeof(*l->fired));
    l->epfd = epoll_create1(EPOLL_CLOEXEC);
    l->next_id = 1;
    if (l->files == NULL || l->fired == NULL || l->epfd < 0) {
        kv_loop_free(l);
        return NULL;
    }
    return l;
}

void kv_loop_free(kv_loop_t *l) {
    if (l == NULL) return;
    if (l->epfd >= 0) close(l->epfd);
    free(l->files);
    free(l->fired);
    free(l->timers);
    free(l);
}

int kv_loop_add_file(kv_loop_t *l, int fd, int mask, kv_file_fn fn, void *priv) {
    if (fd < 0 || fd >= l->setsize) return -ERANGE;
    file_ev_t *fe = &l->files[fd];
    struct epoll_event ee = {0};
    int op = fe->mask == 0 ? EPOLL_CTL_ADD : EPOLL_CTL_MOD;
    int newmask = fe->mask | mask;
    if (newmask & KV_READABLE) ee.events |= EPOLLIN;
    if (newmask & KV_WRITABLE) ee.events |= EPOLLOUT;
    ee.data.fd = fd;
    if (epoll_ctl(l->epfd, op, fd, &ee) != 0) return -errno;
    fe->mask = newmask;
    if (mask & KV_READABLE) fe->rfn = fn;
    if (mask & KV_WRITABLE) fe->wfn = fn;
    fe->priv = priv;
    return 0;
}

void kv_loop_del_file(kv_loop_t *l, int fd, int mask) {
    if (fd < 0 || fd >= l->setsize) return;
    file_ev_t *fe = &l->files[fd];
    if (fe->mask == 0) return;
    int newmask = fe->mask & ~mask;
    struct epoll_event ee = {0};
    if (newmask & KV_READABLE) ee.events |= EPOLLIN;
    if (newmask & KV_WRITABLE) ee.events |= EPOLLOUT;
    ee.data.fd = fd;
    if (newmask == 0)
        epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, &ee);
    else
        epoll_ctl(l->epfd, EPOLL_CTL_MOD, fd, &ee);
    fe->mask = newmask;
}

int kv_loop_file_mask(const kv_loop_t *l, int fd) {
    if (fd < 0 || fd >= l->setsize) return 0;
    return l->files[fd].mask;
}

void kv_loop_set_before_sleep(kv_loop_t *l, void (*fn)(kv_loop_t *, void *), void *priv) {
    l->before_sleep = fn;
    l->bs_priv = priv;
}

void kv_loop_set_before_timers(kv_loop_t *l, void (*fn)(kv_loop_t *, void *), void *priv) {
    l->before_timers = fn;
    l->bt_priv = priv;
}

void kv_loop_set_busy_poll(kv_loop_t *l, int64_t max_us) {
    l->poll_max_us = max_us > 0 ? max_us : 0;
    if (l->poll_us > l->poll_max_us) l->poll_us = l->poll_max_us;
}

int64_t kv_timer_add(kv_loop_t *l, int64_t delay_us, kv_timer_fn fn, void *priv) {
    if (l->ntimers == l->tcap) {
        size_t ncap = l->tcap ? l->tcap * 2 : 8;
        timer_slot_t *t = realloc(l->timers, ncap * sizeof(*t));
        if (t == NULL) return -ENOMEM;
        l->timers = t;
        l->tcap = ncap;
    }
    if (delay_us < 0) delay_us = 0;
    timer_slot_t *t = &l->timers[l->ntimers++];
    t->id = l->next_id++;
    t->when_us = kv_monotonic_us() + (uint64_t)delay_us;
    t->fn = fn;
    t->priv = priv;
    return t->id;
}

static void timers_compact(kv_loop_t *l) {
    size_t j = 0;
    for (size_t i = 0; i < l->ntimers; i++)
        if (l->timers[i].id != 0) l->timers[j++] = l->timers[i];
    l->ntimers = j;
}

int kv_timer_del(kv_loop_t *l, int64_t id) {
    for (size_t i = 0; i < l->ntimers; i++) {
        if (l->timers[i].id == id && id != 0) {
            l->timers[i].id = 0;
            if (!l->in_timers) timers_compact(l);
            return 0;
        }
    }
    return -ENOENT;
}

bool kv_loop_has_pending(const kv_loop_t *l) {
    /* An epoll descriptor is readable while its ready list is not empty; polling it
     * consumes nothing, so the events are still there for the next kv_loop_process. */
    struct pollfd p = {.fd = l->epfd, .events = POLLIN};
    return poll(&p, 1, 0) > 0;
}

uint64_t kv_loop_last_events_us(const kv_loop_t *l) {
    return l->last_events_us;
}

size_t kv_loop_timer_count(const kv_loop_t *l) {
    size_t n = 0;
    for (size_t i = 0; i < l->ntimers; i++)
        n += l->timers[i].id != 0;
    return n;
}

static void run_timers(kv_loop_t *l) {
    uint64_t now = kv_monotonic_us();
    l->in_timers = true;
    /* Timers added by a callback are appended past `n` and wait for the next pass. */
    size_t n = l->ntimers;
    for (size_t i = 0; i < n; i++) {
        timer_slot_t *t = &l->timers[i];
        if (t->id == 0 || t->when_us > now) continue;
        int64_t id = t->id;
        int64_t next = t->fn(l, id, t->priv);
        t = &l->timers[i];         /* the array may have grown */
        if (t->id != id) continue; /* deleted by the callback */
        if (next < 0) {
            t->id = 0;
        } else {
            now = kv_monotonic_us();
            t->when_us = now + (uint64_t)next;
        }
    }
    l->in_timers = false;
    timers_compact(l);
}

/* Microseconds until the next timer: -1 when there is none. */
static int64_t next_timer_us(const kv_loop_t *l) {
    if (l->ntimers == 0) return -1;
    uint64_t now = kv_monotonic_us(), first = UINT64_MAX;
    for (size_t i = 0; i < l->ntimers; i++)
        if (l->timers[i].id != 0 && l->timers[i].when_us < first) first = l->timers[i].when_us;
    if (first == UINT64_MAX) return -1;
    return first <= now ? 0 : (int64_t)(first - now);
}

static int wait_events(kv_loop_t *l, int64_t timeout_us) {
    if (!l->no_pwait2) {
        struct timespec ts, *tsp = NULL;
        if (timeout_us >= 0) {
            ts.tv_sec = timeout_us / 1000000;
            ts.tv_nsec = (timeout_us % 1000000) * 1000;
            tsp = &ts;
        }
        int n = epoll_pwait2(l->epfd, l->fired, l->setsize, tsp, NULL);
        if (n >= 0 || errno != ENOSYS) return n;
        l->no_pwait2 = true;
    }
    int ms = timeout_us < 0 ? -1 : (int)((timeout_us + 999) / 1000);
    return epoll_wait(l->epfd, l->fired, l->setsize, ms);
}

/* wait_events, after polling for up to poll_us; adapts poll_us (see the file header). */
static int poll_then_wait(kv_loop_t *l, int64_t timeout_us) {
    if (l->poll_max_us == 0) return wait_events(l, timeout_us);
    uint64_t start = kv_monotonic_us();
    int n;
    if (l->poll_us > 0 && timeout_us != 0) {
        int64_t budget = l->poll_us;
        if (timeout_us > 0 && timeout_us < budget) budget = timeout_us; /* a timer is due */
        do {
            n = epoll_wait(l->epfd, l->fired, l->setsize, 0);
        } while (n == 0 && (int64_t)(kv_monotonic_us() - start) < budget);
        if (n != 0) return n;
        if (timeout_us > 0) {
            int64_t spent = (int64_t)(kv_monotonic_us() - start);
            timeout_us = timeout_us > spent ? timeout_us - spent : 0;
        }
    }
    n = wait_events(l, timeout_us);
    if (n < 0) return n;
    int64_t waited = (int64_t)(kv_monotonic_us() - start);
    if (waited > l->poll_max_us) {
        l->poll_us /= 2;
        if (l->poll_us < POLL_GROW_START_US) l->poll_us = 0;
    } else if (n > 0) {
        l->poll_us = l->poll_us ? l->poll_us * 2 : POLL_GROW_START_US;
        if (l->poll_us > l->poll_max_us) l->poll_us = l->poll_max_us;
    }
    return n;
}

void kv_loop_process(kv_loop_t *l) {
    if (l->before_sleep) l->before_sleep(l, l->bs_priv);
    int n = poll_then_wait(l, next_timer_us(l));
    if (n > 0) l->last_events_us = kv_monotonic_us();
    for (int i = 0; i < n; i++) {
        struct epoll_event *e = &l->fired[i];
        int fd = e->data.fd;
        file_ev_t *fe = &l->files[fd];
        int mask = 0;
        if (e->events & EPOLLIN) mask |= KV_READABLE;
        if (e->events & EPOLLOUT) mask |= KV_WRITABLE;
        if (e->events & (EPOLLERR | EPOLLHUP)) mask |= KV_READABLE | KV_WRITABLE;
        bool fired_read = false;
        if ((fe->mask & mask & KV_READABLE) && fe->rfn) {
            fe->rfn(l, fd, fe->priv, mask);
            fired_read = true;
        }
        /* The read handler may have closed the fd (mask reset) or changed handlers. */
        fe = &l->files[fd];
        if ((fe->mask & mask & KV_WRITABLE) && fe->wfn && (!fired_read || fe->wfn != fe->rfn))
            fe->wfn(l, fd, fe->priv, mask);
    }
    if (l->before_timers && next_timer_us(l) == 0) l->before_timers(l, l->bt_priv);
    run_timers(l);
}

void kv_loop_run(kv_loop_t *l) {
    l->stop = false;
    while (!l->stop)
        kv_loop_process(l);
}

void kv_loop_stop(kv_loop_t *l) {
    l->stop = true;
}
