/* SPDX-License-Identifier: MIT */
/*
 * notify.c - keyspace signals: what a command calls after it changed a key.
 *
 * kv_signal_modified_key invalidates WATCHes (multi.c) and tracked keys;
 * kv_notify_keyspace_event publishes "__keyspace@<db>__:<key>" and
 * "__keyevent@<db>__:<event>" messages through pubsub.c as notify-keyspace-events asks.
 * Every write command calls the latter, so its first test is one AND against the
 * configured classes: with notifications off (the default) it costs a load and a branch.
 * Which command emits which event is listed in docs/kvcore.md (keyspace notifications);
 * the setting's text is parsed in notify_flags.c.
 */
#include "kv_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

uint32_t kv_signal_gates;

void kv_signal_modified_key_now(kv_client_t *c, kv_db_t *db, const char *key, size_t klen) {
    kv_multi_touch_key(db, key, klen);
    kv_tracking_invalidate_key(c, key, klen); /* CLIENT TRACKING (tracking.c) */
}

void kv_signal_flushed_db(kv_db_t *db) {
    kv_tracking_invalidate_all(); /* CLIENT TRACKING (tracking.c) */
    if (db != NULL) {
        kv_multi_touch_db(db, NULL);
        return;
    }
    for (int i = 0; i < kv_srv.ndbs; i++)
        kv_multi_touch_db(&kv_srv.dbs[i], NULL);
}

void kv_signal_swapped_db(kv_db_t *a, kv_db_t *b) {
    kv_multi_touch_db(a, b);
    kv_multi_touch_db(b, a);
}

/* --- Publishing --- */

static kv_notify_sink_fn sink = kv_pubsub_publish;

void kv_notify_set_sink(kv_notify_sink_fn fn) {
    sink = fn ? fn : kv_pubsub_publish;
}

/* Publishes msg on prefix + "<dbid>__:" + name. */
static void publish(const char *prefix, int dbid, const char *name, size_t nlen, const char *msg,
                    size_t mlen) {
    char small[128], num[24];
    size_t plen = strlen(prefix), dlen = kv_ll2str(num, dbid);
    size_t len = plen + dlen + 3 + nlen;
    char *ch = len <= sizeof(small) ? small : malloc(len);
    if (ch == NULL) {
        kv_log(KV_LOG_WARNING, "Out of memory publishing a keyspace notification");
        return;
    }
    memcpy(ch, prefix, plen);
    memcpy(ch + plen, num, dlen);
    memcpy(ch + plen + dlen, "__:", 3);
    memcpy(ch + plen + dlen + 3, name, nlen);
    sink(ch, len, msg, mlen, false);
    if (ch != small) free(ch);
}

void kv_notify_keyspace_publish(int cls, const char *event, const char *key, size_t klen,
                                int dbid) {
    int flags = kv_srv.cfg.notify_keyspace_events;
    if (!(flags & cls)) return;
    size_t elen = strlen(event);
    if (flags & KV_NOTIFY_KEYSPACE) publish("__keyspace@", dbid, key, klen, event, elen);
    if (flags & KV_NOTIFY_KEYEVENT) publish("__keyevent@", dbid, event, elen, key, klen);
}

void kv_notify_deleted_empty(kv_client_t *c, const kv_arg_t *key) {
    kv_db_delete(c->db, key->ptr, key->len);
    kv_notify_keyspace_event(KV_NOTIFY_GENERIC, "del", key->ptr, key->len, c->db->id);
}

bool kv_notify_store_empty(kv_client_t *c, const kv_arg_t *key) {
    if (!kv_db_delete(c->db, key->ptr, key->len)) return false;
    kv_srv.dirty++;
    kv_notify_key_changed(c, key, KV_NOTIFY_GENERIC, "del");
    return true;
}
