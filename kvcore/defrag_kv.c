/* SPDX-License-Identifier: MIT */
/*
 * defrag_kv.c - kvcore's side of active defragmentation: the host adapter that lends
 * the generic engine (defrag/defrag.h) the event loop's clock and timers, the settings
 * from the config table, the metrics INFO shows, and one pair of stages per database.
 *
 * Stages, per db, in Valkey 8.1's order (docs/design.md#kvcores-stages):
 *  - keys: the keyspace table's struct and bucket arrays, then a scan of its buckets
 *    (child buckets moved as it goes) that relocates every object with its embedded
 *    key, TTL and value, and then the value's own allocations;
 *  - expires: the TTL index's struct, directory and chunks (its entries are the
 *    keyspace's objects, already moved).
 * Objects are gathered 16 slot references at a time from the scan and moved with one
 * hint query per batch. A moved object is stored through its keyspace slot reference
 * and, when it has a TTL, replaced in the TTL index at its position, so the old
 * memory is never read after the move. Slot references stay valid for the whole batch:
 * nothing adds to, deletes from or looks up in the keyspace between the scan steps that
 * gathered them and the moves (a lookup may do a rehash step; a scan only moves child
 * buckets whose slots it has not emitted yet).
 * Values of more than LATER_BUDGET elements (or active-defrag-max-scan-fields, when that
 * is fewer) go to the db's later list by key name; the stage drains it before scanning
 * on, looking each name up again (a key deleted or retyped meanwhile is skipped), and
 * relocates them LATER_BUDGET elements at a time with the deadline checked between
 * pieces, so no step runs more than one piece past its deadline, whatever the size of
 * the values. FLUSHDB, FLUSHALL and SWAPDB abort
 * the db's running stage (kv_defrag_db_changed).
 * The settings are applied here too, jemalloc-bg-thread included: without jemalloc's
 * background threads, the frees of a defrag slice purge emptied pages inline and
 * stretch the slice by a millisecond or more (measured with tests/bench/kv_defrag.sh).
 */
#include "kv_internal.h"
#include "rdb.h"

#include <errno.h>
#include <jemalloc/jemalloc.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "defrag.h"
#include "memshim.h"

/* Slot references gathered before one round of moves, and hint queries per round: a
 * round takes some 10-30 us, so a step ends close to the engine's yield step
 * (DEFRAG_YIELD_STEP_US) when clients wait. */
#define BATCH 16
/* Scan steps per batch at most (sparse tables emit few entries per step). */
#define MAX_STEPS_PER_BATCH 128
/* A slice's first step re-reads the hint's bin statistics when they are older than
 * this, ahead of the packing hint's own refresh at 100 ms (memshim_defrag_refresh): an
 * epoch takes 40-60 us and up to 0.5-2.5 ms (measured on the 1M-element benchmark), and
 * in a move it may fall at the end of a slice, past the slice's deadline; at its start
 * the slice's length includes it. (At 8 ms, ahead of the averaging hint's 10 ms, the
 * re-reads were by estimate 6% of a cycle's CPU at a 10% waiting share: 50 us per 8 ms.) */
#define HINT_REFRESH_US 80000
/* Elements per piece of a value: values of more are deferred and relocated a piece at a
 * time (some 10-30 us each). */
#define LATER_BUDGET 32
/* The type and encoding of a deferred value, kept in its cursor's top byte. */
#define CURSOR_TAG_SHIFT 56
#define CURSOR_MASK      ((UINT64_C(1) << CURSOR_TAG_SHIFT) - 1)

typedef struct db_stage {
    int dbid;
    defrag_later_t *later;
    /* keys stage */
    bool keys_tables_done;
    bool keys_scan_done;
    size_t keys_cursor;
    /* expires stage */
    bool exp_tables_done;
    size_t exp_cursor;
} db_stage_t;

typedef struct batch {
    void ***refs;
    size_t n, cap;
} batch_t;

static struct {
    defrag_t *d;
    db_stage_t *stages;
    int nstages;
    batch_t batch;
    defrag_timer_fn timer_fn;
    void *timer_priv;
    uint64_t moved_now; /* moves made through move_cb since the caller zeroed it */
    /* The running cycle's slices, for the verbose log line at its end. */
    uint64_t slices, slices_over_2ms, slices_over_1ms_cpu, slice_max_us, slice_max_cpu_us,
        slice_cpu_us;
    uint64_t slice_max_cpu_at; /* the 1-based number of the slice with the most CPU */
    /* Slices over 1 ms of CPU whose CPU time read more than their wall time (by over
     * 10 us): impossible for one thread, so the clock jumped, not the work. */
    uint64_t slices_cpu_over_wall;
    /* Its deferred values: queued, and dropped at a resume (deleted or retyped). */
    uint64_t deferred, deferred_gone;
    uint64_t deferred_total; /* over all cycles */
    bool info_stale;         /* INFO's longest slice is still the previous cycle's */
    bool slice_fresh;        /* no step of this slice has run yet */
} g;

/* --- The host adapter --- */

static uint64_t host_now_us(void *arg) {
    (void)arg;
    return kv_monotonic_us();
}

static uint64_t thread_cpu_us(void) {
    struct timespec ts;
    if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0) return 0;
    return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* Also measures the slice's CPU time: on a busy machine its wall time includes the
 * time the thread was not running, which no scheduling of ours can avoid. */
static int64_t timer_trampoline(kv_loop_t *loop, int64_t id, void *priv) {
    (void)loop;
    (void)id;
    (void)priv;
    uint64_t cpu = thread_cpu_us(), wall = kv_monotonic_us();
    g.slice_fresh = true;
    int64_t next = g.timer_fn(g.timer_priv);
    g.slice_fresh = false;
    cpu = thread_cpu_us() - cpu;
    wall = kv_monotonic_us() - wall;
    g.slice_cpu_us += cpu;
    if (cpu > g.slice_max_cpu_us) {
        g.slice_max_cpu_us = cpu;
        g.slice_max_cpu_at = g.slices;
    }
    if (cpu > 1000) {
        g.slices_over_1ms_cpu++;
        if (cpu > wall + 10) g.slices_cpu_over_wall++;
    }
    uint64_t *info = &kv_srv.stat_active_defrag_longest_slice_cpu_us;
    if (!g.info_stale)
        *info = g.slice_max_cpu_us;
    else if (cpu > *info) /* the last slice of a cycle that ended (and restarted) in it */
        *info = cpu;
    return next == DEFRAG_TIMER_STOP ? -1 : next;
}

/* The engine arms one timer at a time, always with the same fn and priv; a callback
 * may arm the next one just before its own timer stops. */
static int64_t host_add_timer(void *arg, uint64_t delay_us, defrag_timer_fn fn, void *priv) {
    (void)arg;
    g.timer_fn = fn;
    g.timer_priv = priv;
    return kv_timer_add(kv_srv.loop, (int64_t)delay_us, timer_trampoline, NULL);
}

/* Requests are ready to be read now: the engine ends its slice after the current short
 * step (once it has worked its budget). Only what is ready counts: clients merely
 * served lately (within 10 ms, as this was) made every gap between two rounds of
 * requests look busy, so no slice ever used the loop's idle time; counting only ready
 * requests, the same cycle took 1700-2300 slices instead of 6800-9000 and 2.4-3.7 s
 * instead of 4.2-6.9 s (docs/benchmarks.md). */
static bool host_clients_waiting(void *arg) {
    (void)arg;
    return kv_loop_has_pending(kv_srv.loop);
}

static void host_del_timer(void *arg, int64_t id) {
    (void)arg;
    kv_timer_del(kv_srv.loop, id);
}

static void host_on_target(void *arg, bool starting, double frag_pct, size_t frag_bytes,
                           unsigned cpu_pct) {
    (void)arg;
    kv_log(KV_LOG_VERBOSE, "%s active defrag%s, frag=%.0f%%, frag_bytes=%zu, cpu=%u%%",
           starting ? "Starting" : "Changing", starting ? "" : " CPU", frag_pct, frag_bytes,
           cpu_pct);
    kv_srv.active_defrag_running = (int)cpu_pct;
    if (starting) {
        g.slices = g.slices_over_2ms = g.slices_over_1ms_cpu = g.slices_cpu_over_wall = 0;
        g.slice_max_us = g.slice_max_cpu_us = g.slice_cpu_us = g.slice_max_cpu_at = 0;
        g.deferred = g.deferred_gone = 0;
        g.info_stale = true;
    }
}

static void host_on_slice(void *arg, uint64_t duration_us) {
    (void)arg;
    kv_latency_add("active-defrag-cycle", duration_us / 1000);
    g.slices++;
    if (duration_us > 2000) g.slices_over_2ms++;
    if (duration_us > g.slice_max_us) g.slice_max_us = duration_us;
    if (g.info_stale) { /* INFO keeps the last cycle's figures until this one has a slice */
        g.info_stale = false;
        kv_srv.stat_active_defrag_longest_slice_cpu_us = 0;
    }
    kv_srv.stat_active_defrag_longest_slice_us = g.slice_max_us;
}

static void host_on_cycle_end(void *arg, const defrag_cycle_report_t *r) {
    (void)arg;
    kv_srv.active_defrag_running = 0;
    kv_log(r->completed ? KV_LOG_NOTICE : KV_LOG_VERBOSE,
           "Active defrag %s in %dms, reallocated=%d, frag=%.0f%%, frag_bytes=%zu",
           r->completed ? "done" : "stopped", (int)r->duration_ms, (int)r->reallocated, r->frag_pct,
           r->frag_bytes);
    kv_log(KV_LOG_VERBOSE,
           "Active defrag slices: %llu, longest %llu us (%llu us CPU), %llu longer than 2 ms, "
           "%llu over 1 ms CPU (%llu of them reading more CPU than wall time; the most CPU in "
           "slice %llu); CPU %llu ms, misses=%llu; deferred values %llu (%llu gone at a resume)",
           (unsigned long long)g.slices, (unsigned long long)g.slice_max_us,
           (unsigned long long)g.slice_max_cpu_us, (unsigned long long)g.slices_over_2ms,
           (unsigned long long)g.slices_over_1ms_cpu, (unsigned long long)g.slices_cpu_over_wall,
           (unsigned long long)g.slice_max_cpu_at, (unsigned long long)(g.slice_cpu_us / 1000),
           (unsigned long long)r->misses, (unsigned long long)g.deferred,
           (unsigned long long)g.deferred_gone);
    kv_defrag_metrics_sync();
}

static void *move_cb(void *ptr) {
    void *n = defrag_move(g.d, ptr);
    if (n != NULL) g.moved_now++;
    return n;
}

static void move_batch_cb(void **ptrs, size_t n) {
    g.moved_now += defrag_move_batch(g.d, ptrs, n);
}

/* Values' elements move in runs, one hint query each. */
static const kv_defrag_mover_t mover = {.move = move_cb, .move_batch = move_batch_cb};

/* --- Values --- */

/* An aggregate whose value is behind a pointer (a small hash's pack moved with its
 * object and has nothing more to move). */
static bool is_aggregate(const kv_obj_t *o) {
    return o->type != KV_TYPE_STRING && kv_obj_has_ptr(o);
}

static uint64_t cursor_tag(const kv_obj_t *o) {
    return (uint64_t)((o->type << 4) | o->encoding) << CURSOR_TAG_SHIFT;
}

/* Defers o's value to the later list, or relocates it now when it is at most one piece
 * (LATER_BUDGET elements); true when something moved. */
static bool value_now_or_later(db_stage_t *st, kv_obj_t *o, bool defer) {
    size_t len = kv_defrag_value_len(o);
    if (!defer && len <= LATER_BUDGET && !defrag_should_defer(g.d, len)) {
        uint64_t cursor = 0;
        g.moved_now = 0;
        kv_defrag_value(o, &cursor, SIZE_MAX, &mover);
        return g.moved_now > 0;
    }
    size_t klen;
    const char *key = kv_obj_key(o, &klen);
    /* Cursor 0 (start) carries no tag: the first resume takes whatever value is there. */
    if (defrag_later_add(st->later, key, klen) == 0) {
        g.deferred++;
        g.deferred_total++;
    }
    return false;
}

/*
 * Resumes deferred values until the list is empty (true) or the deadline passes
 * (false). A value is looked up by name once per call and then worked on in
 * LATER_BUDGET-element pieces until it is done or the deadline passes: nothing else
 * runs in between, so the object stays valid; between calls only the name and the
 * cursor are kept. pre: no slot references are held (lookups may step the rehash).
 */
static bool later_drain(db_stage_t *st, kv_db_t *db, uint64_t deadline) {
    const void *name;
    size_t len;
    uint64_t *cursor;
    while (defrag_later_head(st->later, &name, &len, &cursor)) {
        kv_obj_t *o = kv_ht_find(db->keys, name, len);
        if (o == NULL || !is_aggregate(o) ||
            (*cursor != 0 && (*cursor & ~CURSOR_MASK) != cursor_tag(o))) {
            defrag_later_pop(st->later); /* deleted or retyped: nothing to resume */
            g.deferred_gone++;
            continue;
        }
        uint64_t c = *cursor & CURSOR_MASK;
        kv_defrag_resume_t r = {0}; /* valid for the pieces below only */
        bool done;
        do {
            done = kv_defrag_value_resume(o, &c, LATER_BUDGET, &mover, &r);
        } while (!done && defrag_now_us(g.d) < deadline);
        if (done) {
            defrag_later_pop(st->later);
        } else {
            *cursor = cursor_tag(o) | (c & CURSOR_MASK);
        }
        if (defrag_now_us(g.d) >= deadline) return defrag_later_count(st->later) == 0;
    }
    return true;
}

/* The first step of a slice brings the hint's statistics up to date (HINT_REFRESH_US). */
static void slice_start(void) {
    if (!g.slice_fresh) return;
    g.slice_fresh = false;
    memshim_frag_t f;
    (void)memshim_defrag_frag_get_cached(&f, HINT_REFRESH_US);
}

/* --- The keys stage --- */

static void collect_ref(void *priv, void **entry_ref) {
    batch_t *b = priv;
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 256;
        void ***r = realloc(b->refs, cap * sizeof(*r));
        if (r == NULL) return; /* this entry is simply not defragged in this cycle */
        b->refs = r;
        b->cap = cap;
    }
    b->refs[b->n++] = entry_ref;
    __builtin_prefetch(*entry_ref); /* in flight while the scan goes on */
}

/* Moves up to BATCH objects whose slot references start at refs, then their values. */
static void process_chunk(db_stage_t *st, kv_db_t *db, void ***refs, size_t m, uint64_t deadline,
                          bool *late) {
    void *old[BATCH], *cur[BATCH], *vals[BATCH];
    size_t owner[BATCH];
    bool moved[BATCH];
    for (size_t k = 0; k < m; k++) {
        old[k] = cur[k] = *refs[k];
        moved[k] = false;
        /* The objects are cold: their loads overlap the hint query instead of each
         * stalling its own copy. */
        __builtin_prefetch(old[k]);
        __builtin_prefetch((const char *)old[k] + 64);
    }
    defrag_move_batch(g.d, cur, m);
    for (size_t k = 0; k < m; k++) {
        if (cur[k] == old[k]) continue;
        moved[k] = true;
        *refs[k] = cur[k];
        if (kv_obj_expire(cur[k]) >= 0) kv_ttl_replace(db->expires, old[k], cur[k]);
    }
    /* Values of one block (RAW strings, listpacks, intsets): one more batched move.
     * Values are prefetched, other aggregates' too (their relocation reads the value's
     * header first). */
    size_t nv = 0;
    bool block[BATCH];
    for (size_t k = 0; k < m; k++) {
        kv_obj_t *o = cur[k];
        void *v = kv_defrag_value_block(o);
        block[k] = v != NULL;
        if (v != NULL) {
            owner[nv] = k;
            vals[nv++] = v;
        } else if (is_aggregate(o)) {
            v = kv_obj_ptr(o);
        }
        if (v != NULL) __builtin_prefetch(v);
    }
    if (nv > 0) {
        void *before[BATCH];
        memcpy(before, vals, nv * sizeof(void *));
        defrag_move_batch(g.d, vals, nv);
        for (size_t j = 0; j < nv; j++) {
            if (vals[j] == before[j]) continue;
            kv_obj_set_ptr(cur[owner[j]], vals[j]);
            moved[owner[j]] = true;
        }
    }
    /* Values of several blocks: small ones now, big ones (and all once the slice is
     * over) later. */
    for (size_t k = 0; k < m; k++) {
        kv_obj_t *o = cur[k];
        if (!block[k] && is_aggregate(o)) {
            if (value_now_or_later(st, o, *late)) moved[k] = true;
            if (!*late && defrag_now_us(g.d) >= deadline) *late = true;
        }
        defrag_count_key(g.d, moved[k]);
    }
}

static void keys_reset(void *priv) {
    db_stage_t *st = priv;
    st->keys_tables_done = false;
    st->keys_scan_done = false;
    st->keys_cursor = 0;
    defrag_later_clear(st->later);
}

static defrag_status_t keys_step(void *priv, uint64_t deadline) {
    db_stage_t *st = priv;
    kv_db_t *db = kv_db_get(st->dbid);
    if (db == NULL) return DEFRAG_DONE;
    slice_start();
    if (!st->keys_tables_done) {
        kv_ht_defrag_tables(&db->keys, move_cb);
        st->keys_tables_done = true;
    }
    batch_t *b = &g.batch;
    for (;;) {
        if (!later_drain(st, db, deadline)) return DEFRAG_NOT_DONE;
        if (st->keys_scan_done) return DEFRAG_DONE;
        if (defrag_now_us(g.d) >= deadline) return DEFRAG_NOT_DONE;
        b->n = 0;
        int steps = 0;
        do {
            st->keys_cursor = kv_ht_scan_defrag(db->keys, st->keys_cursor, collect_ref, b, move_cb);
            steps++;
        } while (st->keys_cursor != 0 && b->n < BATCH && steps < MAX_STEPS_PER_BATCH);
        if (st->keys_cursor == 0) st->keys_scan_done = true;
        bool late = false;
        for (size_t base = 0; base < b->n; base += BATCH) {
            size_t m = b->n - base < BATCH ? b->n - base : BATCH;
            process_chunk(st, db, b->refs + base, m, deadline, &late);
            if (defrag_now_us(g.d) >= deadline) late = true; /* the rest's values wait */
        }
        b->n = 0;
        if (late) return DEFRAG_NOT_DONE; /* the deferred values come first next time */
    }
}

/* --- The expires stage --- */

static void exp_reset(void *priv) {
    db_stage_t *st = priv;
    st->exp_tables_done = false;
    st->exp_cursor = 0;
}

static defrag_status_t exp_step(void *priv, uint64_t deadline) {
    db_stage_t *st = priv;
    kv_db_t *db = kv_db_get(st->dbid);
    if (db == NULL) return DEFRAG_DONE;
    slice_start();
    if (!st->exp_tables_done) {
        kv_ttl_defrag_dir(&db->expires, move_cb);
        st->exp_tables_done = true;
    }
    for (;;) {
        for (int i = 0; i < 64; i++) {
            st->exp_cursor = kv_ttl_defrag_chunk(db->expires, st->exp_cursor, move_cb);
            if (st->exp_cursor == 0) return DEFRAG_DONE;
        }
        if (defrag_now_us(g.d) >= deadline) return DEFRAG_NOT_DONE;
    }
}

/* A started stage of this db will not finish: drop cursors and deferred names. */
static void db_abort(void *priv) {
    db_stage_t *st = priv;
    keys_reset(st);
    exp_reset(st);
}

static const defrag_stage_ops_t keys_ops = {
    .name = "keys", .reset = keys_reset, .step = keys_step, .abort = db_abort};
static const defrag_stage_ops_t exp_ops = {
    .name = "expires", .reset = exp_reset, .step = exp_step, .abort = db_abort};

/* --- Life cycle, settings, metrics --- */

static void config_from_kv(defrag_config_t *c) {
    const kv_config_values_t *v = &kv_srv.cfg;
    defrag_config_init(c);
    c->enabled = v->activedefrag;
    c->ignore_bytes = v->active_defrag_ignore_bytes;
    c->threshold_lower = (unsigned)v->active_defrag_threshold_lower;
    c->threshold_upper = (unsigned)v->active_defrag_threshold_upper;
    c->cycle_min = (unsigned)v->active_defrag_cycle_min;
    c->cycle_max = (unsigned)v->active_defrag_cycle_max;
    c->cycle_us = (unsigned)v->active_defrag_cycle_us;
    c->max_scan_fields = (uint64_t)v->active_defrag_max_scan_fields;
}

/* jemalloc-bg-thread, as Redis's set_jemalloc_bg_thread: purging in jemalloc's own
 * threads instead of inline in frees. Only a change is applied. */
static void apply_bg_thread(void) {
    static int applied = -1;
    bool on = kv_srv.cfg.jemalloc_bg_thread;
    if (applied == (int)on) return;
    if (mallctl("background_thread", NULL, NULL, &on, sizeof(on)) == 0) applied = on;
}

void kv_defrag_cron(kv_server_t *srv, void *priv) {
    (void)srv;
    (void)priv;
    if (g.d == NULL) return;
    if (kv_persist_child_pid() > 0 || kv_aof_child_pid() > 0) { /* a fork child shares pages */
        if (defrag_is_running(g.d)) defrag_stop(g.d);
        kv_srv.active_defrag_running = 0;
        return;
    }
    defrag_cron(g.d);
    if (!defrag_is_running(g.d)) kv_srv.active_defrag_running = 0;
}

int kv_defrag_init(kv_server_t *srv) {
    defrag_config_t cfg;
    config_from_kv(&cfg);
    if (defrag_config_check(&cfg) != 0) defrag_config_init(&cfg);
    defrag_host_t host = {
        .now_us = host_now_us,
        .add_timer = host_add_timer,
        .del_timer = host_del_timer,
        .on_target = host_on_target,
        .on_slice = host_on_slice,
        .on_cycle_end = host_on_cycle_end,
        .clients_waiting = host_clients_waiting,
    };
    g.d = defrag_new(&host, &cfg);
    g.stages = calloc((size_t)srv->ndbs, sizeof(*g.stages));
    if (g.d == NULL || g.stages == NULL) goto oom;
    g.nstages = srv->ndbs;
    for (int i = 0; i < srv->ndbs; i++) {
        db_stage_t *st = &g.stages[i];
        st->dbid = i;
        st->later = defrag_later_new();
        if (st->later == NULL) goto oom;
        if (defrag_stage_add(g.d, &keys_ops, st) != 0) goto oom;
        if (defrag_stage_add(g.d, &exp_ops, st) != 0) goto oom;
    }
    if (kv_cron_hook_add(srv, kv_defrag_cron, NULL) != 0) goto oom;
    apply_bg_thread();
    return 0;
oom:
    kv_defrag_fini();
    return -ENOMEM;
}

void kv_defrag_fini(void) {
    defrag_free(g.d);
    for (int i = 0; i < g.nstages; i++)
        defrag_later_free(g.stages[i].later);
    free(g.stages);
    free(g.batch.refs);
    memset(&g, 0, sizeof(g));
}

int kv_defrag_config_apply(void) {
    if (g.d == NULL) return 0;
    apply_bg_thread();
    defrag_config_t cfg;
    config_from_kv(&cfg);
    return defrag_config_set(g.d, &cfg);
}

void kv_defrag_db_changed(const kv_db_t *db) {
    if (g.d == NULL || db == NULL || db->id < 0 || db->id >= g.nstages) return;
    db_stage_t *st = &g.stages[db->id];
    if (!defrag_stage_abort(g.d, st)) db_abort(st);
}

uint64_t kv_defrag_deferred_total(void) {
    return g.deferred_total;
}

struct defrag *kv_defrag_engine(void) {
    return g.d;
}

bool kv_defrag_is_running(void) {
    return g.d != NULL && defrag_is_running(g.d);
}

void kv_defrag_metrics_sync(void) {
    if (g.d == NULL) return;
    defrag_metrics_t m;
    defrag_metrics_get(g.d, &m);
    kv_srv.active_defrag_running = (int)m.running;
    kv_srv.stat_active_defrag_hits = m.hits;
    kv_srv.stat_active_defrag_misses = m.misses;
    kv_srv.stat_active_defrag_key_hits = m.key_hits;
    kv_srv.stat_active_defrag_key_misses = m.key_misses;
    kv_srv.stat_total_active_defrag_time_ms = m.total_time_ms;
    kv_srv.stat_current_active_defrag_time_ms = m.current_cycle_ms;
}

void kv_defrag_reset_stats(void) {
    if (g.d != NULL) defrag_metrics_reset(g.d);
    g.slice_max_us = g.slice_max_cpu_us = 0;
    kv_srv.stat_active_defrag_longest_slice_us = 0;
    kv_srv.stat_active_defrag_longest_slice_cpu_us = 0;
    kv_defrag_metrics_sync();
}
