/* SPDX-License-Identifier: MIT */
/*
 * defrag_internal.h - the engine's state, shared by the files of defrag/ only:
 * control.c (settings and the cron decision), cycle.c (the timer and its duty cycle),
 * stage.c (the stage queue, relocation helpers and counters) and later.c.
 *
 * Invariants: cpu_pct is 0 exactly when no cycle is running, except between a cron
 * decision and the start it triggers; timer_armed implies running; cur <= nstages, and
 * cur_started is false when cur == nstages; only a running cycle is boosted or has a
 * base_pct, and an unboosted one runs at base_pct unless a setting changed since the
 * last cron.
 */
#ifndef DEFRAG_INTERNAL_H
#define DEFRAG_INTERNAL_H

#include "defrag.h"

typedef struct defrag_stage {
    const defrag_stage_ops_t *ops;
    void *priv;
} defrag_stage_t;

struct defrag {
    defrag_host_t host;
    defrag_config_t cfg;
    bool config_changed; /* a setting that may lower the CPU target changed */
    unsigned cpu_pct;    /* the CPU target; 0 = idle */
    /* The hit-rate boost (control.c): the target is cycle-max while the moves pay. */
    bool boosted;
    unsigned base_pct;             /* the interpolated target (Valkey's), under the boost */
    bool last_cycle_paid;          /* the last cycle ended completed with a high hit rate */
    uint64_t win_hits, win_misses; /* hits and misses when the rate window began */

    /* The stage queue: every cycle walks stages[0..nstages) in order. */
    defrag_stage_t *stages;
    size_t nstages;
    size_t cap;
    size_t cur;       /* the stage in progress (== nstages when all are done) */
    bool cur_started; /* its reset ran in this cycle */

    /* The cycle and its timer. */
    bool running;
    bool timer_armed;
    int64_t timer_id;
    bool in_slice;         /* a timer slice is executing stage steps */
    uint64_t end_time_us;  /* when the previous slice ended; 0 = do not count the wait */
    int64_t overage_us;    /* time run beyond the target, still to pay back */
    unsigned prev_cpu_pct; /* the target the previous slice was computed for */
    uint64_t yield_due_us; /* when the slice after a yielding one is due; 0 = none */
    int64_t yield_late_us; /* how late the current slice started past yield_due_us */
    uint64_t last_end_us;  /* when the previous slice ended (0 = none to pace from) */

    /* Metrics. */
    uint64_t hits, misses, key_hits, key_misses;
    uint64_t cycles, slices, work_us;
    uint64_t total_us;         /* time of ended cycles */
    uint64_t cycle_start_us;   /* when the running cycle started */
    uint64_t counted_from_us;  /* its time counts toward total_us from here (reset) */
    uint64_t cycle_start_hits; /* hits when it started */
    uint64_t cycle_start_misses;
    uint64_t cycle_slices; /* slices it ran */
};

/* The host's clock. */
static inline uint64_t defrag_clock(const defrag_t *d) {
    return d->host.now_us(d->host.arg);
}

/* Reads the fragmentation source (the host's, or the shim's). 0 or -errno. */
int defrag_frag_read(defrag_t *d, double *pct, size_t *bytes);

/* control.c: the CPU-target update of one cron call (Valkey's updateDefragCpuPercent,
 * plus the hit-rate boost). */
void defrag_ctl_update_target(defrag_t *d);

/* control.c: true when hits are at least DEFRAG_BOOST_HIT_PCT of hits + misses and
 * these are at least DEFRAG_BOOST_MIN_LOOKED. */
bool defrag_ctl_pays(uint64_t hits, uint64_t misses);

/* cycle.c: starts a cycle (arms the timer); 0 or the -errno of add_timer. */
int defrag_cycle_begin(defrag_t *d);

/* cycle.c: ends the running cycle: aborts the started stage unless completed, updates
 * the metrics and reports. Does not touch the timer (callers do). */
void defrag_cycle_end(defrag_t *d, bool completed);

/* stage.c: the abort of the current stage, when it has started; then moves past it. */
void defrag_stage_abort_current(defrag_t *d);

#endif /* DEFRAG_INTERNAL_H */
