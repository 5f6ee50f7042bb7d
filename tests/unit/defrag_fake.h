/* SPDX-License-Identifier: MIT */
/*
 * defrag_fake.h - a fake host for the defrag engine's unit tests: a clock that moves
 * only when told, a timer wheel of four slots driven by fake_run_next, a settable
 * fragmentation figure, and a "burn" stage that spends fake time in fixed chunks until
 * its deadline. Every number a test asserts is therefore exact and reproducible.
 */
#ifndef DEFRAG_FAKE_H
#define DEFRAG_FAKE_H

#include "test_common.h"

#include "defrag.h"

#define FAKE_TIMERS 4

typedef struct fake_timer {
    bool armed;
    int64_t id;
    uint64_t due;
    defrag_timer_fn fn;
    void *priv;
} fake_timer_t;

typedef struct fake_host {
    uint64_t now;
    fake_timer_t timers[FAKE_TIMERS];
    int64_t next_id;
    int add_calls, del_calls;
    int fail_add; /* non-zero: add_timer returns -ENOMEM */
    /* The host runs the timer this much later than asked, once (then back to 0). */
    uint64_t late_once_us;
    /* ... and this much later every time. */
    uint64_t late_always_us;
    int64_t last_delay; /* what the last callback returned */
    double frag_pct;
    size_t frag_bytes;
    int frag_rc; /* non-zero: the fragmentation source fails with it */
    bool paused;
    /* Notifications. */
    int slices, cycle_ends, targets;
    uint64_t slice_us_total;
    defrag_cycle_report_t last_report;
    bool last_target_starting;
    unsigned last_target_cpu;
} fake_host_t;

static inline uint64_t fake_now(void *arg) {
    return ((fake_host_t *)arg)->now;
}

static inline int64_t fake_add_timer(void *arg, uint64_t delay_us, defrag_timer_fn fn, void *priv) {
    fake_host_t *h = arg;
    h->add_calls++;
    if (h->fail_add) return -ENOMEM;
    for (int i = 0; i < FAKE_TIMERS; i++) {
        if (h->timers[i].armed) continue;
        h->timers[i] = (fake_timer_t){true, h->next_id++, h->now + delay_us, fn, priv};
        return h->timers[i].id;
    }
    return -EAGAIN;
}

static inline void fake_del_timer(void *arg, int64_t id) {
    fake_host_t *h = arg;
    h->del_calls++;
    for (int i = 0; i < FAKE_TIMERS; i++)
        if (h->timers[i].armed && h->timers[i].id == id) h->timers[i].armed = false;
}

static inline int fake_frag_get(void *arg, double *pct, size_t *bytes) {
    fake_host_t *h = arg;
    if (h->frag_rc != 0) return h->frag_rc;
    *pct = h->frag_pct;
    *bytes = h->frag_bytes;
    return 0;
}

static inline bool fake_paused(void *arg) {
    return ((fake_host_t *)arg)->paused;
}

static inline void fake_on_slice(void *arg, uint64_t us) {
    fake_host_t *h = arg;
    h->slices++;
    h->slice_us_total += us;
}

static inline void fake_on_cycle_end(void *arg, const defrag_cycle_report_t *r) {
    fake_host_t *h = arg;
    h->cycle_ends++;
    h->last_report = *r;
}

static inline void fake_on_target(void *arg, bool starting, double pct, size_t bytes,
                                  unsigned cpu) {
    fake_host_t *h = arg;
    (void)pct;
    (void)bytes;
    h->targets++;
    h->last_target_starting = starting;
    h->last_target_cpu = cpu;
}

static inline defrag_host_t fake_host_ops(fake_host_t *h) {
    return (defrag_host_t){
        .arg = h,
        .now_us = fake_now,
        .add_timer = fake_add_timer,
        .del_timer = fake_del_timer,
        .frag_get = fake_frag_get,
        .paused = fake_paused,
        .on_target = fake_on_target,
        .on_slice = fake_on_slice,
        .on_cycle_end = fake_on_cycle_end,
    };
}

static inline int fake_armed(const fake_host_t *h) {
    int n = 0;
    for (int i = 0; i < FAKE_TIMERS; i++)
        n += h->timers[i].armed;
    return n;
}

/*
 * Runs the earliest armed timer: the clock jumps to its due time plus the host's
 * lateness, the callback runs, and the timer is re-armed from the clock after the
 * callback by the delay it returned, or removed. Returns false when nothing is armed.
 */
static inline bool fake_run_next(fake_host_t *h) {
    int best = -1;
    for (int i = 0; i < FAKE_TIMERS; i++)
        if (h->timers[i].armed && (best < 0 || h->timers[i].due < h->timers[best].due)) best = i;
    if (best < 0) return false;
    fake_timer_t t = h->timers[best];
    if (h->now < t.due) h->now = t.due;
    h->now += h->late_once_us + h->late_always_us;
    h->late_once_us = 0;
    int64_t delay = t.fn(t.priv);
    h->last_delay = delay;
    /* The callback may have armed a new timer in another slot; this slot is still ours. */
    if (delay >= 0) {
        h->timers[best].due = h->now + (uint64_t)delay;
    } else {
        h->timers[best].armed = false;
    }
    return true;
}

/* A stage that spends fake time: each unit of work advances the clock by chunk_us; it
 * works until its deadline (possibly overshooting by less than a chunk), plus
 * overrun_once_us on its next step, and is done after `units` units. */
typedef struct burn_stage {
    fake_host_t *h;
    const char *tag;
    uint64_t chunk_us;
    uint64_t units;
    uint64_t left;
    uint64_t overrun_once_us;
    int resets, aborts, steps;
    uint64_t busy_us;
    uint64_t last_start, last_deadline;
    char *trace; /* when set, each step appends tag[0] */
} burn_stage_t;

static inline void burn_reset(void *priv) {
    burn_stage_t *b = priv;
    b->resets++;
    b->left = b->units;
}

static inline defrag_status_t burn_step(void *priv, uint64_t deadline) {
    burn_stage_t *b = priv;
    fake_host_t *h = b->h;
    uint64_t start = h->now;
    b->steps++;
    b->last_start = start;
    b->last_deadline = deadline;
    if (b->trace != NULL) {
        size_t n = strlen(b->trace);
        b->trace[n] = b->tag[0];
        b->trace[n + 1] = '\0';
    }
    while (h->now < deadline && b->left > 0) {
        h->now += b->chunk_us;
        b->left--;
    }
    h->now += b->overrun_once_us;
    b->overrun_once_us = 0;
    b->busy_us += h->now - start;
    return b->left == 0 ? DEFRAG_DONE : DEFRAG_NOT_DONE;
}

static inline void burn_abort(void *priv) {
    ((burn_stage_t *)priv)->aborts++;
}

static const defrag_stage_ops_t burn_ops = {"burn", burn_reset, burn_step, burn_abort};

#endif /* DEFRAG_FAKE_H */
