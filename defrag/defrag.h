/* SPDX-License-Identifier: MIT */
/*
 * defrag.h - the active defragmentation engine: when to run, how hard, in what order,
 * and what it achieved. It knows scheduling and accounting, not hash tables: the host
 * (kvcore) registers stages that relocate its own allocations through the shim's hint
 * and move primitive, and lends the engine a clock and a timer.
 *
 * The design is Valkey 8.1's (docs/design.md#the-defrag-engine):
 *  - control: defrag_cron, called from the host's cron (~10 times a second), starts a
 *    cycle when fragmentation passes active-defrag-threshold-lower and -ignore-bytes,
 *    and picks a CPU target between cycle-min and cycle-max by linear interpolation
 *    over threshold-lower..threshold-upper; during a cycle the target only rises, unless
 *    a setting changed. Unlike Valkey, a cycle whose moves still pay (at least
 *    DEFRAG_BOOST_HIT_PCT of the allocations it looks at move) runs at cycle-max, and so
 *    does the cycle that follows one that ended that way: the interpolation reads the
 *    fragmentation left, not what a pass still achieves;
 *  - execution: a host timer runs the stages in slices of active-defrag-cycle-us and
 *    chooses the delay between slices to hit the target; a slice the host delayed is
 *    followed by a proportionally longer one (D = P*W/(100-P), at most 4 slices and 700 us), and
 *    an overrun is paid back by longer delays;
 *  - stages: a queue of step functions given a deadline, each run to completion over as
 *    many slices as it needs, in registration order, once per cycle.
 * One engine is used from one thread (the host's event loop); nothing here locks.
 */
#ifndef DEFRAG_H
#define DEFRAG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct defrag defrag_t;

/* --- Configuration --- */

/* The settings, by their Valkey names. Ranges are checked by defrag_config_check. */
typedef struct defrag_config {
    bool enabled;             /* activedefrag: default false */
    uint64_t ignore_bytes;    /* active-defrag-ignore-bytes: default 100 MiB */
    unsigned threshold_lower; /* active-defrag-threshold-lower (%): default 10, 0..1000 */
    unsigned threshold_upper; /* active-defrag-threshold-upper (%): default 100, 0..1000 */
    unsigned cycle_min;       /* active-defrag-cycle-min (% CPU): default 1, 1..99 */
    unsigned cycle_max;       /* active-defrag-cycle-max (% CPU): default 25, 1..99 */
    unsigned cycle_us;        /* active-defrag-cycle-us: default 500, 0..100000 */
    uint64_t max_scan_fields; /* active-defrag-max-scan-fields: default 1000, >= 1 */
} defrag_config_t;

/* Fills *c with the defaults above. */
void defrag_config_init(defrag_config_t *c);

/* Returns 0 when every field of *c is in range, -ERANGE otherwise, -EINVAL for NULL. */
int defrag_config_check(const defrag_config_t *c);

/*
 * Replaces the engine's settings with *c after checking them (nothing changes on error).
 * A change of cycle-min, cycle-max, threshold-upper or cycle-us lets the next
 * defrag_cron lower a running cycle's CPU target (otherwise it only rises); turning
 * `enabled` off ends a running cycle at its next slice. Returns 0, -EINVAL or -ERANGE.
 */
int defrag_config_set(defrag_t *d, const defrag_config_t *c);

/* Copies the engine's settings into *out. */
void defrag_config_get(const defrag_t *d, defrag_config_t *out);

/*
 * One setting by its Valkey name ("activedefrag" takes 0/1, "active-defrag-ignore-bytes"
 * a byte count, the others their plain numbers), with defrag_config_set's semantics.
 * Returns 0, -ENOENT (unknown name), -EINVAL (NULL) or -ERANGE (out of range).
 */
int defrag_config_set_num(defrag_t *d, const char *name, long long value);
int defrag_config_get_num(const defrag_t *d, const char *name, long long *out);

/*
 * Calls fn for every setting, in a fixed order, with its name, its range and its
 * default; stops and returns fn's value when it is non-zero, else returns 0.
 */
int defrag_config_foreach(int (*fn)(const char *name, long long min, long long max, long long def,
                                    void *arg),
                          void *arg);

/* --- The host: clock, timer, fragmentation source and notifications --- */

/* Returned by a timer callback to stop its timer. */
#define DEFRAG_TIMER_STOP (-1)

/*
 * A timer callback: returns the delay in microseconds after which the host calls it
 * again (0 = as soon as possible), or DEFRAG_TIMER_STOP, after which the host forgets
 * the timer. Hosts whose timers have millisecond resolution should round up: the
 * engine measures the actual wait and adjusts the next slice.
 */
typedef int64_t (*defrag_timer_fn)(void *priv);

/* What the engine reports when a cycle ends (defrag_host_t.on_cycle_end). */
typedef struct defrag_cycle_report {
    bool completed;       /* every stage finished (false: disabled, stopped) */
    uint64_t duration_ms; /* wall-clock time from start to end */
    uint64_t reallocated; /* hits during this cycle */
    uint64_t misses;      /* misses during this cycle */
    uint64_t slices;      /* timer slices this cycle ran */
    double frag_pct;      /* fragmentation at the end (0 if the source failed) */
    size_t frag_bytes;
} defrag_cycle_report_t;

/*
 * The host's services. now_us and add_timer are required; the rest may be NULL. Every
 * function gets `arg` back. The struct is copied by defrag_new.
 */
typedef struct defrag_host {
    void *arg;
    /* A monotonic clock in microseconds. */
    uint64_t (*now_us)(void *arg);
    /* Arms a timer calling fn(priv) after delay_us (see defrag_timer_fn); returns its id
     * (>= 0) or -errno. The engine arms at most one at a time, and may arm a new one
     * from inside a callback that then returns DEFRAG_TIMER_STOP. */
    int64_t (*add_timer)(void *arg, uint64_t delay_us, defrag_timer_fn fn, void *priv);
    /* Cancels a timer that has not stopped yet. Needed only by defrag_stop and
     * defrag_free during a cycle; when NULL, those leave the timer armed and it stops
     * itself at its next call (so the engine must then outlive it). */
    void (*del_timer)(void *arg, int64_t id);
    /* The fragmentation figure: percentage and bytes. 0 or -errno. NULL = the shim's
     * memshim_defrag_frag_get (wasted small-bin bytes relative to allocated bytes). */
    int (*frag_get)(void *arg, double *pct, size_t *bytes);
    /* True while the host wants no defrag work (for example a fork child is alive): no
     * cycle starts, and a running one polls every 100 ms without doing work. */
    bool (*paused)(void *arg);
    /* A cycle started (starting true) or its CPU target changed. */
    void (*on_target)(void *arg, bool starting, double frag_pct, size_t frag_bytes,
                      unsigned cpu_pct);
    /* One timer slice ran for duration_us (the "active-defrag-cycle" latency event). */
    void (*on_slice)(void *arg, uint64_t duration_us);
    /* A cycle ended: log "Active defrag done in %dms, reallocated=%d, frag=%.0f%%,
     * frag_bytes=%zu" from *r. The report is valid during the call only. */
    void (*on_cycle_end)(void *arg, const defrag_cycle_report_t *r);
    /* Optional: true when clients are waiting to be served. When set, a slice works in
     * steps of at most DEFRAG_YIELD_STEP_US and, once it has worked its fair share of
     * the time the host ran since the previous slice (Pw*W/(100-Pw) for W us and the
     * waiting share Pw = DEFRAG_YIELD_SHARE_PCT of the target P, at most
     * DEFRAG_YIELD_SLICE_MAX_US), ends as soon as this returns true after a step; the
     * delay that follows is paced at Pw by the time actually worked, less the time the
     * host ran this slice late. So while clients wait the CPU share tends to Pw even
     * when each round of the host's clients takes longer than a step, and no request
     * waits out more than DEFRAG_YIELD_SLICE_MAX_US plus a step; slices that find
     * nobody waiting run at P. Stages should check their deadline at least every
     * DEFRAG_YIELD_STEP_US. */
    bool (*clients_waiting)(void *arg);
} defrag_host_t;

/* The hit rate (percent of the allocations looked at that moved) that keeps a cycle at
 * cycle-max, and the allocations a cron interval must look at for its rate to count. */
#define DEFRAG_BOOST_HIT_PCT    20
#define DEFRAG_BOOST_MIN_LOOKED 1000

/* The longest step between two clients_waiting checks inside a slice, the most a slice
 * works while clients wait, and the share of the CPU target (percent) the engine takes
 * while they wait: each slice between two rounds of clients delays every one of them,
 * and at the whole target (25%) GET p99.9 during a cycle was 1.2-1.8x that of the same
 * server without defrag. At 40% of it (10%), 1.0-1.1x under a shared load, but a cycle
 * too long for a saturated server on an idle machine (0.54-0.59 of Valkey's time); at
 * 60% (15%), with the cheaper moves of the batched hint, 1.07x and 0.41 of Valkey's time
 * there (docs/benchmarks.md). */
#define DEFRAG_YIELD_STEP_US      25
#define DEFRAG_YIELD_SLICE_MAX_US 100
#define DEFRAG_YIELD_SHARE_PCT    60

/*
 * Creates an engine with the settings *cfg (NULL = defaults). pre: host->now_us and
 * host->add_timer are set, and *cfg passes defrag_config_check. Returns NULL only when
 * out of memory.
 */
defrag_t *defrag_new(const defrag_host_t *host, const defrag_config_t *cfg);

/* Stops a running cycle (see defrag_stop) and frees the engine; NULL is a no-op. */
void defrag_free(defrag_t *d);

/* --- Control and execution --- */

/*
 * The control decision, for the host's cron (~10 times a second): reads the
 * fragmentation figure, updates the CPU target and starts a cycle when one is due.
 * Does nothing while disabled or paused, or when no stage is registered.
 */
void defrag_cron(defrag_t *d);

/*
 * Ends a running cycle now: the current stage's abort runs, the timer is cancelled,
 * on_cycle_end reports completed = false. Does nothing when idle. pre: not called
 * from a stage's step.
 */
void defrag_stop(defrag_t *d);

/* True between the start of a cycle and its end. */
bool defrag_is_running(const defrag_t *d);

/* The host's clock, for stages comparing against their deadline. */
uint64_t defrag_now_us(const defrag_t *d);

/* --- Stages --- */

typedef enum defrag_status {
    DEFRAG_NOT_DONE = 0,
    DEFRAG_DONE = 1,
} defrag_status_t;

/*
 * One stage of a cycle (kvcore: a database's keyspace, then its TTL index, ...).
 *  reset(priv)  the stage is starting in this cycle: forget any earlier cursor
 *               (optional);
 *  step(priv, deadline_us)  do work until defrag_now_us() reaches deadline_us (checking
 *               every few dozen items), then return DEFRAG_NOT_DONE, or DEFRAG_DONE
 *               when the stage has nothing left this cycle (required);
 *  abort(priv)  the stage started but will not finish in this cycle (the cycle was
 *               stopped or disabled, or the host aborted the stage): drop cursors and
 *               deferred work (optional).
 */
typedef struct defrag_stage_ops {
    const char *name;
    void (*reset)(void *priv);
    defrag_status_t (*step)(void *priv, uint64_t deadline_us);
    void (*abort)(void *priv);
} defrag_stage_ops_t;

/*
 * Appends a stage; every cycle runs the stages in the order they were added. ops must
 * stay valid until the stage is removed or the engine freed; priv belongs to the host.
 * A stage added during a cycle joins it when its turn comes.
 * Returns 0, -EINVAL (ops or ops->step NULL) or -ENOMEM.
 */
int defrag_stage_add(defrag_t *d, const defrag_stage_ops_t *ops, void *priv);

/*
 * Removes every stage registered with priv (its abort runs first if it is the started
 * current stage). Returns the number removed.
 */
size_t defrag_stage_remove(defrag_t *d, const void *priv);

/*
 * Aborts the current stage when it has started and its priv is priv (any stage when
 * priv is NULL): its abort runs now and the cycle continues with the next stage at the
 * next slice. For FLUSHDB/SWAPDB, which invalidate what a stage is walking. Returns
 * true when a stage was aborted. pre: not called from a stage's step.
 */
bool defrag_stage_abort(defrag_t *d, const void *priv);

/* The name of the current stage, or NULL when idle or between stages. */
const char *defrag_stage_current(const defrag_t *d);

/* --- Relocation helpers and accounting (for stage code) --- */

/*
 * Relocates ptr when the shim's packing hint (memshim_defrag_should_pack) says so: returns the new
 * pointer (ptr is then freed) and counts a hit, or returns NULL (ptr untouched) and counts a miss.
 */
void *defrag_move(defrag_t *d, void *ptr);

/*
 * The same for n pointers with one hint query per batch: ptrs[i] is replaced by its
 * new address when moved; NULL entries are skipped and not counted. Returns the number
 * of pointers moved (hits); the others count as misses.
 */
size_t defrag_move_batch(defrag_t *d, void **ptrs, size_t n);

/*
 * For blocks whose other references must be fixed before the old copy goes: returns
 * a copy when the hint says move (a hit; ptr stays live until the caller frees it with
 * memshim_defrag_free), or NULL (a miss).
 */
void *defrag_alloc_copy(defrag_t *d, void *ptr);

/* Adds to the hit and miss counters (for stages that call the shim themselves). */
void defrag_count(defrag_t *d, uint64_t hits, uint64_t misses);

/* Counts one key (or other top-level object): a key hit when any of its allocations
 * moved, else a key miss. */
void defrag_count_key(defrag_t *d, bool moved);

/* True when a value of `elements` elements should be deferred to a later list
 * (more than active-defrag-max-scan-fields). */
bool defrag_should_defer(const defrag_t *d, uint64_t elements);

/* --- Metrics --- */

typedef struct defrag_metrics {
    unsigned running;          /* active_defrag_running: CPU target %, 0 when idle */
    bool boosted;              /* the target is cycle-max for the hit rate */
    uint64_t hits;             /* active_defrag_hits: allocations moved */
    uint64_t misses;           /* active_defrag_misses: allocations looked at, not moved */
    uint64_t key_hits;         /* active_defrag_key_hits */
    uint64_t key_misses;       /* active_defrag_key_misses */
    uint64_t total_time_ms;    /* total_active_defrag_time, including the current cycle */
    uint64_t current_cycle_ms; /* current_active_defrag_time: 0 when idle */
    uint64_t cycles;           /* cycles ended (completed or not) */
    uint64_t slices;           /* timer slices run */
    uint64_t work_us;          /* time spent inside slices */
} defrag_metrics_t;

/* Fills *out. */
void defrag_metrics_get(const defrag_t *d, defrag_metrics_t *out);

/* Zeroes the counters and total time (CONFIG RESETSTAT); a running cycle goes on. */
void defrag_metrics_reset(defrag_t *d);

/* --- Deferred values ---
 * A FIFO of names (keys) whose values are too big for one pass, each with a cursor.
 * Stage code appends a name instead of walking a huge value, and drains the list at the
 * start of its steps by looking the name up again, so a key deleted or retyped in the
 * meantime is simply skipped. The list owns copies of the names. */

typedef struct defrag_later defrag_later_t;

/* Returns an empty list, or NULL when out of memory. */
defrag_later_t *defrag_later_new(void);

/* Frees the list and its names; NULL is a no-op. */
void defrag_later_free(defrag_later_t *l);

/* Appends a copy of name[0..len) (any bytes) with cursor 0. Returns 0 or -ENOMEM. */
int defrag_later_add(defrag_later_t *l, const void *name, size_t len);

/*
 * The oldest entry: *name and *len describe its name, *cursor points to its cursor,
 * which the caller updates in place between steps. All three stay valid until the
 * entry is popped or the list cleared or freed. Returns false when the list is empty.
 */
bool defrag_later_head(defrag_later_t *l, const void **name, size_t *len, uint64_t **cursor);

/* Drops the oldest entry (no-op when empty). */
void defrag_later_pop(defrag_later_t *l);

/* Drops every entry. */
void defrag_later_clear(defrag_later_t *l);

/* The number of entries. */
size_t defrag_later_count(const defrag_later_t *l);

/* --- Invariant checks (tests call them after each mutation) ---
 * See docs/style.md#assertions-and-invariant-checks. */

/*
 * Returns 0 when the engine's invariants hold: a running cycle has a CPU target in
 * 1..99 and an idle engine none, the current stage index is within the queue and only
 * a running cycle has a started stage, and the overage is never negative. Otherwise
 * -EPROTO.
 */
int defrag_check(const defrag_t *d);

/* Returns 0 when the list's links, tail and count agree, otherwise -EPROTO. */
int defrag_later_check(const defrag_later_t *l);

#ifdef __cplusplus
}
#endif

#endif /* DEFRAG_H */
