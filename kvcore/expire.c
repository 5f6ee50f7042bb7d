/* SPDX-License-Identifier: MIT */
/*
 * expire.c - active expiry: finds keys whose TTL has passed without anyone reading them.
 *
 * Redis 7.0's activeExpireCycle, on the TTL index: each db is sampled bucket by bucket
 * from a scan cursor kept per db (so successive cycles cover the whole index), expired
 * keys are deleted, and the db is revisited while more than `acceptable stale` percent of
 * the sample was expired. CPU is bounded: the slow cycle (cron) runs at most 25 % of a
 * cron period (+2 % per active-expire-effort step), the fast cycle (before the loop
 * sleeps) at most 1 ms, and only when the last slow cycle ran out of time or left many
 * stale keys, and not more often than every 2 ms.
 */
#include "kv_internal.h"

#include <stdlib.h>
#include <string.h>

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

static void sample_fn(void *priv, void **entry_ref) {
    sample_ctx_t *ctx = priv;
    kv_obj_t *o = *entry_ref;
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
            /* Sample whole buckets until enough keys were looked at (bounded steps). */
            for (int steps = 0; ctx.sampled < want && steps < (int)want * 2; steps++) {
                db->expire_cursor = kv_ht_scan(db->expires, db->expire_cursor, sample_fn, &ctx);
                if (db->expire_cursor == 0) break;
                if (ctx.nexpired == SAMPLE_MAX) break;
            }
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
