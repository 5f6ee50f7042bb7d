/* SPDX-License-Identifier: MIT */
/*
 * cycle.c - execution: a host timer that runs the stages in short slices toward a CPU
 * target (Valkey 8.1's activeDefragTimeProc, computeDefragCycleUs, computeDelayMs).
 *
 * With target P% and base slice C = active-defrag-cycle-us, the steady state is a
 * slice of C followed by a delay of C*100/P - C. Two corrections keep the share at P
 * when the host is busy or a step overruns:
 *  - starvation: the slice after a wait of W (the host ran the timer late) lasts
 *    D = P*W/(100-P), so that D/(D+W) = P; it is capped at min(4*C, 700 us) (but never
 *    below C), since a host stalled that long has already hurt its clients and a long
 *    slice would hurt them more: with the overrun of its last step (a step is tens of
 *    microseconds; a traced 1M-element run had p99.9 of 0.5 ms) and the work of a
 *    cycle's end (about 0.1 ms), no slice should take over 1 ms of CPU;
 *  - overrun: time run past a slice's deadline accumulates as overage; it adds
 *    overage*(100-P)/100 to the next delay and is subtracted from the next slice, whose
 *    shortfall below C becomes the new overage. Underage cancels overage but never
 *    accumulates, so short stages do not earn a later burst.
 * With a clients_waiting hook, a slice works in short steps and ends after the first
 * one that finds clients waiting once the slice has had its fair share of the time the
 * host ran since the previous slice, Pw*W/(100-Pw), capped at DEFRAG_YIELD_SLICE_MAX_US:
 * a host busy for longer than a few steps per round of clients would otherwise hold
 * the share to one step per round (measured: 7% of the CPU instead of 25% with 20 GET
 * clients). The delay after it is paced by the work done, less the time the host ran
 * the slice late (it was serving clients). Pw, the share while clients wait, is
 * DEFRAG_YIELD_SHARE_PCT of the target P (15% at cycle-max 25): every slice taken
 * between two rounds of clients delays all of them, so at P itself GET latency rose by
 * about as much as the share (see docs/benchmarks.md); an idle host gets P.
 * The wait is not counted (and the overage forgotten) on the first slice, after a
 * pause, and when the target changed.
 */
#include "defrag_internal.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* The longest slice starvation compensation may ask for: this many base slices, and
 * no more than SLICE_CAP_US unless the base slice itself is longer. */
#define SLICE_CAP_FACTOR 4
#define SLICE_CAP_US     700
/* A paused engine polls at this interval. */
#define PAUSE_POLL_US 100000

defrag_t *defrag_new(const defrag_host_t *host, const defrag_config_t *cfg) {
    assert(host != NULL && host->now_us != NULL && host->add_timer != NULL);
    defrag_t *d = calloc(1, sizeof(*d));
    if (d == NULL) return NULL;
    d->host = *host;
    if (cfg != NULL) {
        assert(defrag_config_check(cfg) == 0);
        d->cfg = *cfg;
    } else {
        defrag_config_init(&d->cfg);
    }
    return d;
}

void defrag_free(defrag_t *d) {
    if (d == NULL) return;
    defrag_stop(d);
    free(d->stages);
    free(d);
}

bool defrag_is_running(const defrag_t *d) {
    return d->running;
}

uint64_t defrag_now_us(const defrag_t *d) {
    return defrag_clock(d);
}

/* The length of the next slice (computeDefragCycleUs). pre: 0 < cpu_pct < 100. */
static uint64_t slice_us(defrag_t *d, uint64_t now) {
    int64_t p = d->cpu_pct;
    int64_t base = d->cfg.cycle_us;
    d->yield_late_us =
        d->yield_due_us != 0 && now > d->yield_due_us ? (int64_t)(now - d->yield_due_us) : 0;
    if (d->cpu_pct != d->prev_cpu_pct) {
        /* The last wait was paced for another target: do not extrapolate from it. */
        d->end_time_us = 0;
        d->last_end_us = 0;
        d->yield_late_us = 0;
        d->prev_cpu_pct = d->cpu_pct;
    }
    if (d->end_time_us == 0) {
        d->overage_us = 0;
        return (uint64_t)base;
    }
    int64_t waited = now > d->end_time_us ? (int64_t)(now - d->end_time_us) : 0;
    int64_t duty = p * waited / (100 - p);
    duty -= d->overage_us;
    d->overage_us = 0;
    if (duty < base) {
        /* Never shorter than the base slice (more overhead); wait longer instead. */
        d->overage_us = base - duty;
        duty = base;
    }
    int64_t cap = base * SLICE_CAP_FACTOR;
    if (cap > SLICE_CAP_US) cap = SLICE_CAP_US;
    if (cap < base) cap = base;
    if (duty > cap) duty = cap;
    return (uint64_t)duty;
}

/* The CPU share the engine takes while clients wait: DEFRAG_YIELD_SHARE_PCT percent of
 * the target, at least 1%. */
static int64_t waiting_pct(const defrag_t *d) {
    int64_t p = (int64_t)d->cpu_pct * DEFRAG_YIELD_SHARE_PCT / 100;
    return p < 1 ? 1 : p;
}

/* The delay before the next slice (computeDelayMs, in microseconds). A slice that ended
 * early for waiting clients (worked `took` < the planned length) is followed by a delay
 * paced by that work at the waiting share Pw (waiting_pct), took*(100-Pw)/Pw, so short
 * slices keep that share. */
static int64_t delay_us(defrag_t *d, uint64_t intended_end, uint64_t start) {
    uint64_t now = defrag_clock(d);
    d->end_time_us = now;
    d->last_end_us = now;
    int64_t p = d->cpu_pct;
    int64_t base = d->cfg.cycle_us;
    d->yield_due_us = 0;
    if (d->host.clients_waiting != NULL && now < intended_end) {
        int64_t took = (int64_t)(now - start);
        int64_t pw = waiting_pct(d);
        d->end_time_us = 0; /* the next slice is a base slice: nothing was starved */
        d->overage_us = 0;
        /* The host served clients for yield_late_us past the due time of this slice:
         * the gap after it is shorter by as much, rather than the next slice longer. */
        int64_t delay = took * (100 - pw) / pw - d->yield_late_us;
        if (delay < 0) delay = 0;
        d->yield_due_us = now + (uint64_t)delay;
        return delay;
    }
    d->overage_us += (int64_t)(now - intended_end);
    if (d->overage_us < 0) d->overage_us = 0;
    int64_t delay = base * 100 / p - base;
    delay += d->overage_us * (100 - p) / 100;
    return delay < 0 ? 0 : delay;
}

/* The least a slice works before it yields to waiting clients: its fair share, at the
 * waiting share, of the time since the previous slice ended, capped (see the banner). */
static uint64_t yield_budget_us(const defrag_t *d, uint64_t start) {
    if (d->last_end_us == 0 || start <= d->last_end_us) return 0;
    uint64_t p = (uint64_t)waiting_pct(d);
    uint64_t fair = p * (start - d->last_end_us) / (100 - p);
    return fair < DEFRAG_YIELD_SLICE_MAX_US ? fair : DEFRAG_YIELD_SLICE_MAX_US;
}

/* Runs stage steps from `start` until `end` (starting further stages while a full base
 * slice is left). With a clients_waiting hook, steps last at most DEFRAG_YIELD_STEP_US
 * and the slice ends early once clients wait and it has worked its yield budget.
 * Returns true while stages remain. */
static bool run_stages(defrag_t *d, uint64_t start, uint64_t end) {
    uint64_t base = d->cfg.cycle_us;
    bool yield = d->host.clients_waiting != NULL;
    uint64_t budget = yield ? yield_budget_us(d, start) : 0;
    d->in_slice = true;
    while (d->cur < d->nstages) {
        defrag_stage_t *s = &d->stages[d->cur];
        if (!d->cur_started) {
            if (s->ops->reset != NULL) s->ops->reset(s->priv);
            d->cur_started = true;
        }
        uint64_t step_end = end;
        if (yield) {
            uint64_t now = defrag_clock(d);
            if (now + DEFRAG_YIELD_STEP_US < end) step_end = now + DEFRAG_YIELD_STEP_US;
        }
        bool done = s->ops->step(s->priv, step_end) == DEFRAG_DONE;
        if (done) {
            d->cur++;
            d->cur_started = false;
        }
        uint64_t now = defrag_clock(d);
        if (d->cur >= d->nstages) break;
        if (!yield) {
            if (now + base > end) break;
            continue;
        }
        if (now >= end || (done && now + base > end)) break;
        if (now - start >= budget && d->host.clients_waiting(d->host.arg)) break;
    }
    d->in_slice = false;
    return d->cur < d->nstages;
}

static int64_t timer_proc(void *priv) {
    defrag_t *d = priv;
    if (!d->running) { /* stopped without del_timer: the timer ends itself */
        d->timer_armed = false;
        return DEFRAG_TIMER_STOP;
    }
    if (!d->cfg.enabled) {
        d->timer_armed = false;
        defrag_cycle_end(d, false);
        return DEFRAG_TIMER_STOP;
    }
    if (d->host.paused != NULL && d->host.paused(d->host.arg)) {
        d->end_time_us = 0; /* the pause is not starvation */
        d->last_end_us = 0;
        d->yield_due_us = 0;
        return PAUSE_POLL_US;
    }
    uint64_t start = defrag_clock(d);
    uint64_t end = start + slice_us(d, start);
    bool more = run_stages(d, start, end);
    uint64_t took = defrag_clock(d) - start;
    d->slices++;
    d->cycle_slices++;
    d->work_us += took;
    if (d->host.on_slice != NULL) d->host.on_slice(d->host.arg, took);
    if (more) return delay_us(d, end, start);
    d->timer_armed = false;
    defrag_cycle_end(d, true);
    defrag_cron(d); /* Valkey restarts at once if fragmentation is still high */
    return DEFRAG_TIMER_STOP;
}

int defrag_cycle_begin(defrag_t *d) {
    /* A timer left armed by defrag_stop without del_timer serves the new cycle. */
    if (!d->timer_armed) {
        int64_t id = d->host.add_timer(d->host.arg, 0, timer_proc, d);
        if (id < 0) return (int)id;
        d->timer_id = id;
        d->timer_armed = true;
    }
    d->running = true;
    d->cur = 0;
    d->cur_started = false;
    d->end_time_us = 0;
    d->overage_us = 0;
    d->yield_due_us = 0;
    d->last_end_us = 0;
    d->cycle_start_us = defrag_clock(d);
    d->counted_from_us = d->cycle_start_us;
    d->cycle_start_hits = d->hits;
    d->cycle_start_misses = d->misses;
    d->win_hits = d->hits;
    d->win_misses = d->misses;
    d->cycle_slices = 0;
    return 0;
}

void defrag_cycle_end(defrag_t *d, bool completed) {
    if (!completed) defrag_stage_abort_current(d);
    uint64_t now = defrag_clock(d);
    uint64_t took = now - d->cycle_start_us;
    defrag_cycle_report_t r = {
        .completed = completed,
        .duration_ms = took / 1000,
        .reallocated = d->hits - d->cycle_start_hits,
        .misses = d->misses - d->cycle_start_misses,
        .slices = d->cycle_slices,
    };
    d->total_us += now - d->counted_from_us;
    d->cycles++;
    d->running = false;
    d->cpu_pct = d->base_pct = 0;
    d->boosted = false;
    d->last_cycle_paid = completed && defrag_ctl_pays(r.reallocated, r.misses);
    d->cur = 0;
    d->cur_started = false;
    if (d->host.on_cycle_end != NULL) {
        if (defrag_frag_read(d, &r.frag_pct, &r.frag_bytes) != 0) {
            r.frag_pct = 0;
            r.frag_bytes = 0;
        }
        d->host.on_cycle_end(d->host.arg, &r);
    }
}

void defrag_stop(defrag_t *d) {
    if (!d->running) return;
    assert(!d->in_slice);
    if (d->timer_armed && d->host.del_timer != NULL) {
        d->host.del_timer(d->host.arg, d->timer_id);
        d->timer_armed = false;
    }
    defrag_cycle_end(d, false);
}

void defrag_metrics_get(const defrag_t *d, defrag_metrics_t *out) {
    memset(out, 0, sizeof(*out));
    uint64_t now = defrag_clock(d);
    uint64_t current = d->running ? now - d->cycle_start_us : 0;
    uint64_t counted = d->running ? now - d->counted_from_us : 0;
    out->running = d->running ? d->cpu_pct : 0;
    out->boosted = d->running && d->boosted;
    out->hits = d->hits;
    out->misses = d->misses;
    out->key_hits = d->key_hits;
    out->key_misses = d->key_misses;
    out->total_time_ms = (d->total_us + counted) / 1000;
    out->current_cycle_ms = current / 1000;
    out->cycles = d->cycles;
    out->slices = d->slices;
    out->work_us = d->work_us;
}

void defrag_metrics_reset(defrag_t *d) {
    d->hits = d->misses = d->key_hits = d->key_misses = 0;
    d->cycles = d->slices = d->work_us = 0;
    d->total_us = 0;
    d->cycle_start_hits = d->cycle_start_misses = 0;
    d->win_hits = d->win_misses = 0;
    d->counted_from_us = defrag_clock(d);
}

int defrag_check(const defrag_t *d) {
    if (d->running && (d->cpu_pct < 1 || d->cpu_pct > 99)) return -EPROTO;
    if (!d->running && (d->cpu_pct != 0 || d->cur_started || d->in_slice)) return -EPROTO;
    if (d->cur > d->nstages || d->nstages > d->cap) return -EPROTO;
    if (d->cur_started && d->cur == d->nstages) return -EPROTO;
    if (d->overage_us < 0) return -EPROTO;
    if (d->cycle_start_hits > d->hits || d->cycle_start_misses > d->misses) return -EPROTO;
    if (d->win_hits > d->hits || d->win_misses > d->misses) return -EPROTO;
    if (!d->running && (d->boosted || d->base_pct != 0)) return -EPROTO;
    if (d->running && !d->boosted && !d->config_changed && d->cpu_pct != d->base_pct)
        return -EPROTO;
    return 0;
}
