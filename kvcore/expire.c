/* SPDX-License-Identifier: MIT */
/*
 * expire.c - the TTL index, and active expiry: finds keys whose TTL has passed without
 * anyone reading them.
 *
 * The TTL index is an array of the db's objects that have an expire time, each object
 * holding its own position (kv_obj_ttl_pos), so adding, removing (the last entry moves
 * into the hole) and re-pointing after a reallocation are O(1) and the index costs 8 bytes
 * a key: no hashing, no buckets, no load factor. The array lives in chunks of 1024
 * pointers (8 KB, a jemalloc class) under a directory, so growing never copies the whole
 * array and at most one chunk stands empty; the first chunk starts small and doubles, so a
 * db with a few TTLs pays for a few slots.
 *
 * Active expiry is Redis 7.0's activeExpireCycle on that index: each db is sampled from a
 * cursor kept per db that walks the array downwards (so successive cycles cover the whole
 * index: an entry below the cursor moves only when it is the last one, into a hole that is
 * also below the cursor), expired keys are deleted, and the db is revisited while more
 * than `acceptable stale` percent of the sample was expired. CPU is bounded: the slow cycle (cron)
 * runs at most 25 % of a cron period (+2 % per active-expire-effort step), the fast cycle (before
 * the loop sleeps) at most 1 ms, and only when the last slow cycle ran out of time or left many
 * stale keys, and not more often than every 2 ms.
 */
#include "kv_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* --- The TTL index --- */

#define CHUNK_SHIFT 10
#define CHUNK_SLOTS ((size_t)1 << CHUNK_SHIFT)
#define FIRST_SLOTS 4 /* the first chunk's first capacity; it doubles up to CHUNK_SLOTS */

struct kv_ttl {
    kv_obj_t ***chunks; /* directory of chunks; chunk i holds positions [i*1024, (i+1)*1024) */
    size_t nchunks;     /* allocated chunks */
    size_t dircap;      /* directory capacity */
    size_t cap0;        /* chunk 0's capacity (CHUNK_SLOTS once a second chunk exists) */
    size_t size;
};

kv_ttl_t *kv_ttl_new(void) {
    return calloc(1, sizeof(kv_ttl_t));
}

void kv_ttl_clear(kv_ttl_t *t) {
    for (size_t i = 0; i < t->nchunks; i++)
        free(t->chunks[i]);
    free(t->chunks);
    memset(t, 0, sizeof(*t));
}

void kv_ttl_free(kv_ttl_t *t) {
    if (t == NULL) return;
    kv_ttl_clear(t);
    free(t);
}

size_t kv_ttl_size(const kv_ttl_t *t) {
    return t->size;
}

size_t kv_ttl_mem_bytes(const kv_ttl_t *t) {
    size_t slots = t->nchunks == 0 ? 0 : t->cap0 + (t->nchunks - 1) * CHUNK_SLOTS;
    return sizeof(*t) + t->dircap * sizeof(*t->chunks) + slots * sizeof(kv_obj_t *);
}

static inline kv_obj_t **slot_at(const kv_ttl_t *t, size_t pos) {
    return &t->chunks[pos >> CHUNK_SHIFT][pos & (CHUNK_SLOTS - 1)];
}

kv_obj_t *kv_ttl_at(const kv_ttl_t *t, size_t pos) {
    return pos < t->size ? *slot_at(t, pos) : NULL;
}

/* Room for position t->size. 0 or -ENOMEM. */
static int ttl_reserve(kv_ttl_t *t) {
    size_t pos = t->size;
    if (pos >= UINT32_MAX) return -ENOMEM; /* positions are 32-bit */
    size_t ci = pos >> CHUNK_SHIFT;
    if (ci == 0 && t->nchunks == 1 && pos >= t->cap0) {
        size_t cap = t->cap0 * 2;
        kv_obj_t **c = realloc(t->chunks[0], cap * sizeof(*c));
        if (c == NULL) return -ENOMEM;
        t->chunks[0] = c;
        t->cap0 = cap;
        return 0;
    }
    if (ci < t->nchunks) return 0;
    if (t->nchunks == t->dircap) {
        size_t cap = t->dircap ? t->dircap * 2 : 1;
        kv_obj_t ***d = realloc(t->chunks, cap * sizeof(*d));
        if (d == NULL) return -ENOMEM;
        t->chunks = d;
        t->dircap = cap;
    }
    size_t slots = ci == 0 ? FIRST_SLOTS : CHUNK_SLOTS;
    kv_obj_t **c = malloc(slots * sizeof(*c));
    if (c == NULL) return -ENOMEM;
    t->chunks[t->nchunks++] = c;
    if (ci == 0) t->cap0 = slots;
    return 0;
}

int kv_ttl_add(kv_ttl_t *t, kv_obj_t *o) {
    int rc = ttl_reserve(t);
    if (rc != 0) return rc;
    *slot_at(t, t->size) = o;
    kv_obj_set_ttl_pos(o, (uint32_t)t->size);
    t->size++;
    return 0;
}

/* Frees chunks beyond the one in use plus one spare, and the first chunk when empty. */
static void ttl_trim(kv_ttl_t *t) {
    if (t->size == 0) {
        kv_ttl_clear(t);
        return;
    }
    size_t used = ((t->size - 1) >> CHUNK_SHIFT) + 1;
    while (t->nchunks > used + 1)
        free(t->chunks[--t->nchunks]);
    if (t->dircap > 4 && t->nchunks * 4 <= t->dircap) {
        kv_obj_t ***d = realloc(t->chunks, t->dircap / 2 * sizeof(*d));
        if (d != NULL) {
            t->chunks = d;
            t->dircap /= 2;
        }
    }
}

void kv_ttl_remove(kv_ttl_t *t, const kv_obj_t *o) {
    size_t pos = kv_obj_ttl_pos(o);
    kv_assert(pos < t->size && *slot_at(t, pos) == o);
    kv_obj_t *last = *slot_at(t, t->size - 1);
    *slot_at(t, pos) = last;
    kv_obj_set_ttl_pos(last, (uint32_t)pos);
    t->size--;
    if ((t->size & (CHUNK_SLOTS - 1)) == 0) ttl_trim(t);
}

int kv_ttl_replace(kv_ttl_t *t, const kv_obj_t *old, kv_obj_t *new_o) {
    size_t pos = kv_obj_ttl_pos(new_o);
    if (pos >= t->size || *slot_at(t, pos) != old) return -ENOENT;
    *slot_at(t, pos) = new_o;
    return 0;
}

size_t kv_ttl_sample(const kv_ttl_t *t, void **out, size_t n) {
    if (n > t->size) n = t->size;
    for (size_t i = 0; i < n; i++)
        out[i] = *slot_at(t, (size_t)(kv_rand64() % t->size));
    return n;
}

void kv_ttl_defrag_dir(kv_ttl_t **tp, void *(*move)(void *ptr)) {
    kv_ttl_t *t = move(*tp);
    if (t != NULL) *tp = t;
    t = *tp;
    if (t->chunks != NULL) {
        kv_obj_t ***d = move(t->chunks);
        if (d != NULL) t->chunks = d;
    }
}

size_t kv_ttl_defrag_chunk(kv_ttl_t *t, size_t cursor, void *(*move)(void *ptr)) {
    if (cursor >= t->nchunks) return 0;
    kv_obj_t **c = move(t->chunks[cursor]);
    if (c != NULL) t->chunks[cursor] = c;
    return cursor + 1 < t->nchunks ? cursor + 1 : 0;
}

int kv_ttl_check(const kv_ttl_t *t) {
    if (t->size > (t->nchunks == 0 ? 0 : t->cap0 + (t->nchunks - 1) * CHUNK_SLOTS)) return -EPROTO;
    for (size_t pos = 0; pos < t->size; pos++) {
        const kv_obj_t *o = *slot_at(t, pos);
        if (o == NULL || kv_obj_expire(o) < 0 || kv_obj_ttl_pos(o) != pos) return -EPROTO;
    }
    return 0;
}

/* --- Active expiry --- */

#define KEYS_PER_LOOP    20
#define FAST_DURATION    1000 /* us */
#define SLOW_TIME_PERC   25
#define ACCEPTABLE_STALE 10
#define SAMPLE_MAX       64

typedef struct sample_ctx {
    kv_obj_t *expired[SAMPLE_MAX];
    size_t nexpired;
    size_t sampled;
    int64_t now;
    long long ttl_sum;
    long long ttl_samples;
} sample_ctx_t;

static void sample_one(sample_ctx_t *ctx, kv_obj_t *o) {
    int64_t when = kv_obj_expire(o);
    ctx->sampled++;
    if (when >= 0 && ctx->now > when) {
        if (ctx->nexpired < SAMPLE_MAX) ctx->expired[ctx->nexpired++] = o;
    } else if (when >= 0) {
        ctx->ttl_sum += when - ctx->now;
        ctx->ttl_samples++;
    }
}

/* One cycle over the dbs; returns true when it stopped on its time limit. */
static bool expire_cycle(kv_server_t *srv, uint64_t timelimit_us, bool *stale_left) {
    int effort = srv->cfg.active_expire_effort - 1; /* 0..9 */
    size_t keys_per_loop = KEYS_PER_LOOP + KEYS_PER_LOOP / 4 * (size_t)effort;
    int acceptable = ACCEPTABLE_STALE - effort;
    uint64_t start = kv_monotonic_us();
    bool timed_out = false;
    *stale_left = false;
    int dbs = srv->ndbs;
    for (int j = 0; j < dbs && !timed_out; j++) {
        kv_db_t *db = &srv->dbs[srv->expire_db_cursor % srv->ndbs];
        srv->expire_db_cursor++;
        int iteration = 0;
        for (;;) {
            size_t n = kv_db_expires_size(db);
            if (n == 0) {
                db->avg_ttl = 0;
                break;
            }
            sample_ctx_t ctx;
            memset(&ctx, 0, sizeof(ctx));
            ctx.now = kv_mstime();
            size_t want = n < keys_per_loop ? n : keys_per_loop;
            /* The next `want` entries below the cursor; 0 starts a new pass from the end. */
            size_t pos = db->expire_cursor;
            if (pos == 0 || pos > n) pos = n;
            while (ctx.sampled < want && pos > 0 && ctx.nexpired < SAMPLE_MAX)
                sample_one(&ctx, kv_ttl_at(db->expires, --pos));
            db->expire_cursor = pos;
            for (size_t i = 0; i < ctx.nexpired; i++)
                kv_db_expire_obj(db, ctx.expired[i]);
            if (ctx.ttl_samples) {
                long long avg = ctx.ttl_sum / ctx.ttl_samples;
                db->avg_ttl = db->avg_ttl ? (db->avg_ttl / 50) * 49 + avg / 50 : avg;
            }
            iteration++;
            if ((iteration & 0xf) == 0 && kv_monotonic_us() - start > timelimit_us) {
                timed_out = true;
                srv->stat_expired_time_cap_reached++;
                break;
            }
            if (ctx.sampled == 0 || ctx.nexpired * 100 <= ctx.sampled * (size_t)acceptable) break;
            *stale_left = true;
            if (kv_monotonic_us() - start > timelimit_us) {
                timed_out = true;
                srv->stat_expired_time_cap_reached++;
                break;
            }
        }
    }
    srv->stat_expire_cycle_us += kv_monotonic_us() - start;
    return timed_out;
}

void kv_expire_cycle_slow(kv_server_t *srv) {
    if (!srv->active_expire_enabled || kv_pause_is_active(true)) return; /* CLIENT PAUSE */
    int effort = srv->cfg.active_expire_effort - 1;
    int hz = srv->effective_hz > 0 ? srv->effective_hz : 10;
    uint64_t limit = (uint64_t)(SLOW_TIME_PERC + 2 * effort) * 1000000u / (uint64_t)hz / 100u;
    bool stale;
    srv->expire_timelimit_exit = expire_cycle(srv, limit ? limit : 1, &stale) || stale;
}

void kv_expire_cycle_fast(kv_server_t *srv) {
    if (!srv->active_expire_enabled || !srv->expire_timelimit_exit || kv_pause_is_active(true))
        return;
    int effort = srv->cfg.active_expire_effort - 1;
    uint64_t duration = FAST_DURATION + FAST_DURATION / 4 * (uint64_t)effort;
    uint64_t now = kv_monotonic_us();
    if (now < (uint64_t)srv->expire_fast_last_us + duration * 2) return;
    srv->expire_fast_last_us = (int64_t)now;
    bool stale;
    srv->expire_timelimit_exit = expire_cycle(srv, duration, &stale) || stale;
}
