/* SPDX-License-Identifier: MIT */
/*
 * evict.c - maxmemory: the used-memory figure a command is judged by, and eviction.
 *
 * Used memory is jemalloc's stats.allocated (through memshim_stats_get), the figure INFO
 * shows as used_memory. Reading it needs an "epoch" refresh that merges every arena's
 * counters, a few microseconds: too slow for every write. So the figure is kept as
 *   base (the last real stats.allocated) + what this thread allocated minus what it freed
 *   since then
 * where the second term comes from jemalloc's per-thread counters (thread.allocatedp /
 * thread.deallocatedp: two loads through pointers fetched once). kvcore runs every
 * command on one thread, so the estimate follows each malloc and free exactly; it
 * drifts from stats.allocated only by what the thread cache holds (stats.allocated counts
 * cached free blocks as allocated). The base is re-read every KV_EVICT_REFRESH_US of
 * command time, and at most every KV_EVICT_RECHECK_US when the estimate says the limit
 * is passed, so a decision to evict or to refuse a write always rests on a fresh figure.
 *
 * Eviction follows Redis's evict.c: before a command, when used memory is above
 * maxmemory, keys are deleted until enough bytes were freed (counted by the same
 * per-thread counters around each deletion). LRU, LFU and TTL policies sample
 * maxmemory-samples keys per database into a pool of the 16 best candidates (longest
 * idle, least frequently used, soonest to expire) that persists across calls, and evict
 * from its best end; random policies pick a random key, databases taken in turn.
 * volatile-* policies only look at keys with a TTL. A call works for at most the
 * maxmemory-eviction-tenacity time budget (500 us at the default 10); then, as Redis
 * does, a timer goes on evicting on the next loop iterations while commands keep running.
 * With noeviction, or when nothing is left to evict, the caller refuses denyoom commands
 * with the OOM error.
 */
#include "kv_internal.h"

#include <errno.h>
#include <jemalloc/jemalloc.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "memshim.h"

#define KV_EVICT_REFRESH_US 100000 /* re-read stats.allocated at least this often */
#define KV_EVICT_RECHECK_US 1000   /* ... and this often while over the limit */
#define EVPOOL_SIZE         16
#define EVPOOL_KEY_CACHE    255 /* keys up to this long are copied into the pool entry */

/* --- Used memory --- */

static struct {
    bool init;
    const uint64_t *allocp, *deallocp; /* this thread's jemalloc counters, NULL if none */
    size_t base;                       /* stats.allocated at the last refresh */
    int64_t base_live;                 /* thread allocated - deallocated at that time */
    uint64_t refreshed_us;             /* kv_srv.cmd_clock_us at that time */
} um;

static int64_t thread_live(void) {
    if (um.allocp == NULL) return 0;
    return (int64_t)(*um.allocp - *um.deallocp);
}

static void refresh(void) {
    memshim_stats_t st;
    if (memshim_stats_get(&st) == 0) {
        um.base = st.allocated;
        kv_srv.mem.allocated = st.allocated; /* INFO's used_memory, fresher than cron's */
        if (st.allocated > kv_srv.mem.peak) kv_srv.mem.peak = st.allocated;
    } else {
        um.base = kv_srv.mem.allocated;
    }
    um.base_live = thread_live();
    um.refreshed_us = kv_srv.cmd_clock_us;
}

static void init_counters(void) {
    uint64_t *p = NULL, *q = NULL;
    size_t sz = sizeof(p);
    if (mallctl("thread.allocatedp", &p, &sz, NULL, 0) == 0 &&
        mallctl("thread.deallocatedp", &q, &sz, NULL, 0) == 0 && p != NULL && q != NULL) {
        um.allocp = p;
        um.deallocp = q;
    }
    um.init = true;
    refresh();
}

static size_t estimate(void) {
    int64_t v = (int64_t)um.base + (thread_live() - um.base_live);
    return v > 0 ? (size_t)v : 0;
}

size_t kv_evict_used_memory(void) {
    if (!um.init) init_counters();
    uint64_t now = kv_srv.cmd_clock_us;
    if (now - um.refreshed_us >= KV_EVICT_REFRESH_US || um.allocp == NULL) refresh();
    size_t used = estimate();
    if (kv_srv.cfg.maxmemory && used > kv_srv.cfg.maxmemory &&
        now - um.refreshed_us >= KV_EVICT_RECHECK_US) {
        refresh();
        used = estimate();
    }
    return used;
}

/* --- The candidate pool --- */

typedef struct evpool_entry {
    unsigned long long idle; /* higher = better candidate */
    char *key;               /* NULL = empty slot; points to cached or to a malloc'd copy */
    size_t klen;
    int dbid;
    char cached[EVPOOL_KEY_CACHE];
} evpool_entry_t;

static evpool_entry_t pool[EVPOOL_SIZE];

static void pool_clear_slot(evpool_entry_t *e) {
    if (e->key != NULL && e->key != e->cached) free(e->key);
    e->key = NULL;
}

static bool policy_is_volatile(int p) {
    return p == KV_POLICY_VOLATILE_LRU || p == KV_POLICY_VOLATILE_LFU ||
           p == KV_POLICY_VOLATILE_RANDOM || p == KV_POLICY_VOLATILE_TTL;
}

static unsigned long long idle_score(const kv_obj_t *o, int policy) {
    switch (policy) {
    case KV_POLICY_ALLKEYS_LRU:
    case KV_POLICY_VOLATILE_LRU: return kv_obj_idle_ms(o);
    case KV_POLICY_ALLKEYS_LFU:
    case KV_POLICY_VOLATILE_LFU: return 255 - kv_obj_lfu_freq(o);
    default: return ULLONG_MAX - (unsigned long long)kv_obj_expire(o); /* volatile-ttl */
    }
}

/* Redis's evictionPoolPopulate: inserts the sampled keys that beat the pool's worst. */
static void pool_populate(int dbid, kv_db_t *db, int policy) {
    void *samples[64];
    size_t want = (size_t)kv_srv.cfg.maxmemory_samples;
    if (want > 64) want = 64;
    size_t n = policy_is_volatile(policy) ? kv_ttl_sample(db->expires, samples, want)
                                          : kv_ht_sample(db->keys, samples, want);
    for (size_t j = 0; j < n; j++) {
        const kv_obj_t *o = samples[j];
        unsigned long long idle = idle_score(o, policy);
        int k = 0;
        while (k < EVPOOL_SIZE && pool[k].key != NULL && pool[k].idle < idle)
            k++;
        if (k == 0 && pool[EVPOOL_SIZE - 1].key != NULL) continue; /* worse than all */
        if (k < EVPOOL_SIZE && pool[k].key == NULL) {
            /* an empty slot: insert there */
        } else if (pool[EVPOOL_SIZE - 1].key == NULL) {
            /* room on the right: shift k.. right by one (the cached buffers move along) */
            evpool_entry_t last = pool[EVPOOL_SIZE - 1];
            memmove(&pool[k + 1], &pool[k], sizeof(pool[0]) * (size_t)(EVPOOL_SIZE - k - 1));
            pool[k] = last;
        } else {
            /* full: drop the worst (leftmost), shift 1..k-1 left, insert at k-1 */
            k--;
            pool_clear_slot(&pool[0]);
            evpool_entry_t first = pool[0];
            memmove(&pool[0], &pool[1], sizeof(pool[0]) * (size_t)k);
            pool[k] = first;
        }
        /* Entries were moved by value: re-point cached keys into their own slot. */
        for (int i = 0; i < EVPOOL_SIZE; i++)
            if (pool[i].key != NULL && pool[i].klen <= EVPOOL_KEY_CACHE &&
                pool[i].key != pool[i].cached)
                pool[i].key = pool[i].cached;
        size_t klen;
        const char *key = kv_obj_key(o, &klen);
        char *dst = pool[k].cached;
        if (klen > EVPOOL_KEY_CACHE) {
            dst = malloc(klen);
            if (dst == NULL) continue;
        }
        memcpy(dst, key, klen);
        pool[k].key = dst;
        pool[k].klen = klen;
        pool[k].idle = idle;
        pool[k].dbid = dbid;
    }
}

/* The best candidate still in the keyspace, or NULL; *dbp gets its db. */
static kv_obj_t *pick_from_pool(int policy, kv_db_t **dbp) {
    for (;;) {
        size_t total = 0;
        for (int i = 0; i < kv_srv.ndbs; i++) {
            kv_db_t *db = &kv_srv.dbs[i];
            size_t n = policy_is_volatile(policy) ? kv_db_expires_size(db) : kv_db_size(db);
            if (n == 0) continue;
            total += n;
            pool_populate(i, db, policy);
        }
        if (total == 0) return NULL;
        for (int k = EVPOOL_SIZE - 1; k >= 0; k--) {
            if (pool[k].key == NULL) continue;
            kv_db_t *db = &kv_srv.dbs[pool[k].dbid];
            kv_obj_t *o = kv_ht_find(db->keys, pool[k].key, pool[k].klen);
            if (o != NULL && policy_is_volatile(policy) && kv_obj_expire(o) < 0) o = NULL;
            unsigned long long idle = pool[k].idle;
            pool_clear_slot(&pool[k]);
            /* A ghost (deleted since it was sampled) is skipped; so is a key used since
             * (its score dropped): the pool keeps scores from sampling time, and at one
             * second of LRU resolution a hot key sampled at a second's turn would
             * otherwise tie with everything written in the previous second. */
            if (o != NULL && idle_score(o, policy) >= idle) {
                *dbp = db;
                return o;
            }
        }
    }
}

static kv_obj_t *pick_random(int policy, kv_db_t **dbp) {
    static unsigned next_db;
    for (int i = 0; i < kv_srv.ndbs; i++) {
        kv_db_t *db = &kv_srv.dbs[(next_db++) % (unsigned)kv_srv.ndbs];
        if (policy == KV_POLICY_ALLKEYS_RANDOM) {
            if (kv_db_size(db) == 0) continue;
            *dbp = db;
            return kv_ht_random(db->keys);
        }
        void *o;
        if (kv_ttl_sample(db->expires, &o, 1) == 0) continue;
        *dbp = db;
        return o;
    }
    return NULL;
}

/* Redis's evictionTimeLimitUs: 500 us at tenacity 10, growing 15% per step above. */
static uint64_t time_limit_us(void) {
    int t = kv_srv.cfg.maxmemory_eviction_tenacity;
    if (t <= 10) return 50u * (uint64_t)t;
    if (t < 100) {
        double us = 500.0;
        for (int i = 10; i < t; i++)
            us *= 1.15;
        return (uint64_t)us;
    }
    return UINT64_MAX;
}

enum { EVICT_OK = 0, EVICT_RUNNING = 1 };

static int64_t evict_timer_id; /* > 0 while eviction continues in a timer */

static int evict(void) {
    unsigned long long max = kv_srv.cfg.maxmemory;
    if (max == 0) return EVICT_OK;
    size_t used = kv_evict_used_memory();
    if (used <= max) return EVICT_OK;
    int policy = kv_srv.cfg.maxmemory_policy;
    if (policy == KV_POLICY_NOEVICTION) return -ENOMEM;
    size_t tofree = used - max, freed = 0;
    uint64_t start = kv_monotonic_us(), limit = time_limit_us();
    unsigned long evicted = 0;
    int rc = EVICT_OK;
    while (freed < tofree) {
        kv_db_t *db = NULL;
        kv_obj_t *o = policy == KV_POLICY_ALLKEYS_RANDOM || policy == KV_POLICY_VOLATILE_RANDOM
                          ? pick_random(policy, &db)
                          : pick_from_pool(policy, &db);
        if (o == NULL) {
            rc = -ENOMEM; /* nothing left that this policy may evict */
            break;
        }
        size_t klen;
        const char *key = kv_obj_key(o, &klen);
        /* Signalled before the delete (the key lives in o) and before the measurement:
         * what publishing allocates is not memory the eviction freed. */
        kv_signal_modified_key(NULL, db, key, klen);
        kv_notify_keyspace_event(KV_NOTIFY_EVICTED, "evicted", key, klen, db->id);
        int64_t before = thread_live();
        kv_propagate_del(db, key, klen, kv_srv.cfg.lazyfree_lazy_eviction);
        kv_db_delete(db, key, klen);
        int64_t delta = before - thread_live();
        if (delta > 0) freed += (size_t)delta;
        if (um.allocp == NULL) { /* no per-thread counters: measure the real figure */
            refresh();
            if (estimate() <= max) freed = tofree;
        }
        kv_srv.stat_evictedkeys++;
        evicted++;
        if (evicted % 16 == 0 && freed < tofree && kv_monotonic_us() - start > limit) {
            rc = EVICT_RUNNING;
            break;
        }
    }
    uint64_t spent = kv_monotonic_us() - start;
    if (spent >= 1000) kv_latency_add("eviction-cycle", spent / 1000);
    return rc;
}

/* Redis's evictionTimeProc: keeps evicting on the next loop iterations. */
static int64_t evict_timer(kv_loop_t *loop, int64_t id, void *priv) {
    (void)loop;
    (void)id;
    (void)priv;
    if (evict() == EVICT_RUNNING) return 0;
    evict_timer_id = 0;
    return -1;
}

int kv_evict_perform(void) {
    if (evict_timer_id > 0) return 0;       /* the timer is on it; commands run meanwhile */
    if (kv_pause_is_active(true)) return 0; /* CLIENT PAUSE: nothing is evicted */
    int rc = evict();
    if (rc != EVICT_RUNNING) return rc;
    if (kv_srv.loop != NULL) {
        int64_t id = kv_timer_add(kv_srv.loop, 0, evict_timer, NULL);
        if (id > 0) evict_timer_id = id;
    }
    return 0;
}
