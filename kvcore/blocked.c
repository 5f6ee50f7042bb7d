/* SPDX-License-Identifier: MIT */
/*
 * blocked.c - clients blocked on keys (BLPOP, BZPOPMIN, ...): who waits for which key,
 * in which order, until when; served when a key they wait for becomes ready.
 */
#include "kv_internal.h"

void kv_signal_key_ready(kv_db_t *db, const char *key, size_t klen) {
    (void)db;
    (void)key;
    (void)klen;
}
