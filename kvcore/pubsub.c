/* SPDX-License-Identifier: MIT */
/*
 * pubsub.c - channels, patterns and shard channels: SUBSCRIBE and friends, PUBLISH.
 */
#include "kv_internal.h"

long kv_pubsub_publish(const char *ch, size_t chlen, const char *msg, size_t mlen, bool sharded) {
    (void)ch;
    (void)chlen;
    (void)msg;
    (void)mlen;
    (void)sharded;
    return 0;
}
