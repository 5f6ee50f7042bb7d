/* SPDX-License-Identifier: MIT */
/*
 * db.c - the keyspace: 16 (config `databases`) tables of object pointers, each with a
 * TTL index holding the same pointers for the keys that have an expire time.
 *
 * The keyspace is a kv_ht (ht.h) keyed by the key embedded in the object, so there is no
 * per-entry node: a key costs its object plus one slot. The TTL index (expire.c) is an
 * array in which each object records its own position: 8 bytes more per key with a TTL,
 * and no hashing to add or remove. When an object is reallocated (TTL added to an object
 * without a TTL section, value changed size), kv_db_replaced stores the new pointer in
 * both by pointer identity.
 *
 * Expiry is lazy here: every lookup checks the expire time and deletes an expired key
 * (counted in expired_keys) before answering; expire.c adds the active cycle.
 */
#include "kv_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const void *obj_key(const void *entry, size_t *len) {
    return kv_obj_key(entry, len);
}

static void obj_free(void *entry) {
    kv_obj_free(entry);
}

static const kv_ht_type_t keys_type = {.entry_key = obj_key, .entry_free = obj_free};

int kv_db_init_all(kv_server_t *srv) {
    int n = srv->cfg.databases;
    srv->dbs = calloc((size_t)n, sizeof(kv_db_t));
    if (srv->dbs == NULL) return -ENOMEM;
    srv->ndbs = n;
    for (int i = 0; i < n; i++) {
        srv->dbs[i].id = i;
        srv->dbs[i].keys = kv_ht_new(&keys_type);
        srv->dbs[i].expires = kv_ttl_new();
        if (srv->dbs[i].keys == NULL || srv->dbs[i].expires == NULL) return -ENOMEM;
    }
    return 0;
}

void kv_db_free_all(kv_server_t *srv) {
    for (int i = 0; i < srv->ndbs; i++) {
        kv_ttl_free(srv->dbs[i].expires);
        kv_ht_free(srv->dbs[i].keys);
    }
    free(srv->dbs);
    srv->dbs = NULL;
    srv->ndbs = 0;
}

kv_db_t *kv_db_get(int id) {
    if (id < 0 || id >= kv_srv.ndbs) return NULL;
    return &kv_srv.dbs[id];
}

static int64_t now_ms(void) {
    return kv_srv.mstime ? kv_srv.mstime : kv_mstime();
}

bool kv_db_key_is_expired(const kv_obj_t *o) {
    int64_t when = kv_obj_expire(o);
    if (when < 0 || kv_srv.loading) return false; /* a file replays as it was written */
    return now_ms() > when;
}

/* An expired key goes: "expired" (class x) and a modified-key signal, as Redis's
 * deleteExpiredKeyAndPropagate (no dirty change). The key lives in o: signal first. */
static void signal_expired(kv_db_t *db, const kv_obj_t *o) {
    size_t klen;
    const char *key = kv_obj_key(o, &klen);
    kv_notify_keyspace_event(KV_NOTIFY_EXPIRED, "expired", key, klen, db->id);
    kv_signal_modified_key(NULL, db, key, klen);
}

void kv_db_expire_obj(kv_db_t *db, kv_obj_t *o) {
    size_t klen;
    const char *key = kv_obj_key(o, &klen);
    kv_propagate_del(db, key, klen, kv_srv.cfg.lazyfree_lazy_expire); /* before the key goes */
    kv_ttl_remove(db->expires, o);
    kv_ht_pop(db->keys, key, klen);
    signal_expired(db, o);
    kv_obj_free(o);
    kv_srv.stat_expiredkeys++;
}

kv_obj_t *kv_db_lookup(kv_db_t *db, const char *key, size_t klen, unsigned flags) {
    kv_obj_t *o = kv_ht_find(db->keys, key, klen);
    if (o != NULL && o->hasexpire && kv_db_key_is_expired(o)) {
        if (!kv_pause_is_active(true)) kv_db_expire_obj(db, o); /* paused: deleted later */
        o = NULL;
    }
    if (!(flags & KV_LOOKUP_NOSTATS)) {
        if (o) {
            kv_srv.stat_keyspace_hits++;
        } else {
            kv_srv.stat_keyspace_misses++;
            if (!(flags & KV_LOOKUP_NONOTIFY))
                kv_notify_keyspace_event(KV_NOTIFY_KEY_MISS, "keymiss", key, klen, db->id);
        }
    }
    if (o != NULL && !(flags & KV_LOOKUP_NOTOUCH) && !kv_client_no_touch(kv_srv.current_client))
        kv_obj_touch(o);
    return o;
}

kv_obj_t *kv_db_lookup_read(kv_db_t *db, const kv_arg_t *key) {
    return kv_db_lookup(db, key->ptr, key->len, 0);
}

kv_obj_t *kv_db_lookup_write(kv_db_t *db, const kv_arg_t *key) {
    return kv_db_lookup(db, key->ptr, key->len, KV_LOOKUP_NOSTATS);
}

/* A list or sorted set appeared under its key: clients blocked on it may be served. */
static void signal_if_ready(kv_db_t *db, const kv_obj_t *o) {
    if (o->type != KV_TYPE_LIST && o->type != KV_TYPE_ZSET) return;
    size_t klen;
    const char *key = kv_obj_key(o, &klen);
    kv_signal_key_ready(db, key, klen);
}

static int add_key(kv_db_t *db, kv_obj_t *o, bool notify) {
    int rc = kv_ht_add(db->keys, o);
    if (rc != 0) {
        kv_obj_free(o);
        return rc;
    }
    size_t klen;
    const char *key = kv_obj_key(o, &klen);
    if (kv_obj_expire(o) >= 0 && kv_ttl_add(db->expires, o) != 0) {
        kv_ht_del(db->keys, key, klen);
        return -ENOMEM;
    }
    if (!notify) return 0; /* loaded from a file: no event, nobody to serve yet */
    kv_notify_keyspace_event(KV_NOTIFY_NEW, "new", key, klen, db->id);
    signal_if_ready(db, o);
    return 0;
}

int kv_db_add(kv_db_t *db, kv_obj_t *o) {
    return add_key(db, o, true);
}

int kv_db_add_loaded(kv_db_t *db, kv_obj_t *o) {
    return add_key(db, o, false);
}

int kv_db_set(kv_db_t *db, kv_obj_t *o, bool keep_ttl) {
    size_t klen;
    const char *key = kv_obj_key(o, &klen);
    void **ref = kv_ht_find_ref(db->keys, key, klen);
    if (ref == NULL) return kv_db_add(db, o);
    kv_obj_t *old = *ref;
    int64_t old_exp = kv_obj_expire(old);
    /* Redis's lookupKeyWrite would have expired it before the overwrite, and the value
     * then goes in as a new key: count it, and signal both. */
    bool was_expired = old_exp >= 0 && !kv_srv.loading && now_ms() > old_exp;
    if (was_expired) {
        kv_srv.stat_expiredkeys++;
        signal_expired(db, old);
    }
    if (keep_ttl && old_exp >= 0 && !was_expired) {
        kv_obj_t *n = kv_obj_set_expire(o, old_exp);
        if (n == NULL) {
            kv_obj_free(o);
            return -ENOMEM;
        }
        o = n;
        key = kv_obj_key(o, &klen); /* the old key bytes went with the old allocation */
        ref = kv_ht_find_ref(db->keys, key, klen);
    }
    int64_t new_exp = kv_obj_expire(o);
    if (old_exp >= 0 && new_exp >= 0) kv_obj_set_ttl_pos(o, kv_obj_ttl_pos(old)); /* its slot */
    if (old_exp < 0 && new_exp >= 0 && kv_ttl_add(db->expires, o) != 0) {
        /* Could not index the TTL: the write fails as a whole and the old value stays (a
         * key stored without the TTL its SET asked for would never expire). */
        kv_obj_free(o);
        return -ENOMEM;
    }
    *ref = o;
    if (old_exp >= 0) {
        if (new_exp >= 0)
            kv_ttl_replace(db->expires, old, o);
        else
            kv_ttl_remove(db->expires, old);
    }
    kv_obj_free(old);
    if (was_expired) kv_notify_keyspace_event(KV_NOTIFY_NEW, "new", key, klen, db->id);
    signal_if_ready(db, o);
    return 0;
}

bool kv_db_delete(kv_db_t *db, const char *key, size_t klen) {
    kv_obj_t *o = kv_ht_pop(db->keys, key, klen);
    if (o == NULL) return false;
    if (kv_obj_expire(o) >= 0) kv_ttl_remove(db->expires, o);
    kv_obj_free(o);
    return true;
}

void kv_db_replaced(kv_db_t *db, const kv_obj_t *old, kv_obj_t *new_o) {
    if (old == new_o) return;
    kv_ht_replace_reallocated(db->keys, old, new_o);
    if (kv_obj_expire(new_o) >= 0) kv_ttl_replace(db->expires, old, new_o);
}

kv_obj_t *kv_db_set_expire(kv_db_t *db, kv_obj_t *o, int64_t when_ms) {
    int64_t old_exp = kv_obj_expire(o);
    kv_obj_t *n = kv_obj_set_expire(o, when_ms);
    if (n == NULL) return NULL;
    /* n != o only when o had no TTL section, so o was not in the TTL index. */
    if (n != o) kv_ht_replace_reallocated(db->keys, o, n);
    if (old_exp >= 0 && when_ms < 0) {
        kv_ttl_remove(db->expires, n); /* n is o: the position is still there */
    } else if (old_exp < 0 && when_ms >= 0 && kv_ttl_add(db->expires, n) != 0) {
        kv_obj_set_expire(n, -1);
        return NULL;
    }
    return n;
}

bool kv_db_persist(kv_db_t *db, kv_obj_t *o) {
    if (kv_obj_expire(o) < 0) return false;
    kv_db_set_expire(db, o, -1);
    return true;
}

size_t kv_db_size(const kv_db_t *db) {
    return kv_ht_size(db->keys);
}

size_t kv_db_expires_size(const kv_db_t *db) {
    return kv_ttl_size(db->expires);
}

size_t kv_db_flush(kv_db_t *db) {
    kv_signal_flushed_db(db); /* while the keys are still there (WATCH) */
    size_t n = kv_ht_size(db->keys);
    kv_ttl_clear(db->expires);
    kv_ht_clear(db->keys);
    db->avg_ttl = 0;
    db->expire_cursor = 0;
    kv_defrag_db_changed(db);
    return n;
}

void kv_db_swap(kv_db_t *a, kv_db_t *b) {
    kv_signal_swapped_db(a, b);
    kv_ht_t *k = a->keys;
    kv_ttl_t *e = a->expires;
    long long avg = a->avg_ttl;
    a->keys = b->keys;
    a->expires = b->expires;
    a->avg_ttl = b->avg_ttl;
    b->keys = k;
    b->expires = e;
    b->avg_ttl = avg;
    a->expire_cursor = b->expire_cursor = 0;
    kv_defrag_db_changed(a);
    kv_defrag_db_changed(b);
    kv_blocked_db_swapped(a, b);
}

void kv_db_cron(kv_server_t *srv) {
    if (!srv->cfg.activerehashing) return;
    /* 1 ms per cron tick at hz 10, as Redis's databasesCron budget (1s/hz/100). */
    uint64_t budget = 1000000u / (uint64_t)(srv->effective_hz ? srv->effective_hz : 10) / 100;
    for (int i = 0; i < srv->ndbs && budget > 0; i++) {
        kv_db_t *db = &srv->dbs[i];
        uint64_t start = kv_monotonic_us();
        if (!kv_ht_is_rehashing(db->keys)) continue;
        kv_ht_rehash_us(db->keys, budget);
        uint64_t spent = kv_monotonic_us() - start;
        budget = spent >= budget ? 0 : budget - spent;
    }
}

size_t kv_db_overhead_bytes(const kv_db_t *db, bool expires) {
    return expires ? kv_ttl_mem_bytes(db->expires) : kv_ht_mem_bytes(db->keys);
}
