/* SPDX-License-Identifier: MIT */
/*
 * cmd_util.c - the small steps several command families take the same way: looking a key
 * up as one type (WRONGTYPE otherwise; every family uses kv_lookup_type_or_reply), parsing
 * an integer or a non-negative count argument, and turning a Redis rank range [start, end]
 * with negative indices into bounds inside a collection.
 *
 * Each helper replies the error itself, with Redis 7.0's wording, so the handlers in
 * cmd_list.c, cmd_zset.c, cmd_set.c and cmd_hash.c keep their step-by-step order of
 * parsing and lookup (which decides the error a bad call gets).
 */
#include "kv_internal.h"

#include <errno.h>

kv_obj_t *kv_lookup_type_or_reply(kv_client_t *c, const kv_arg_t *key, int type, bool write,
                                  bool *wrong) {
    kv_obj_t *o = write ? kv_db_lookup_write(c->db, key) : kv_db_lookup_read(c->db, key);
    *wrong = false;
    if (o != NULL && o->type != type) {
        kv_reply_wrongtype(c);
        *wrong = true;
        return NULL;
    }
    return o;
}

int kv_arg_ll_or_reply(kv_client_t *c, const kv_arg_t *a, long long *out, const char *msg) {
    if (kv_str2ll(a->ptr, a->len, out)) return 0;
    if (msg)
        kv_reply_error(c, msg);
    else
        kv_reply_not_int(c);
    return -EINVAL;
}

int kv_arg_nonneg_or_reply(kv_client_t *c, const kv_arg_t *a, long long *out, const char *msg) {
    if (kv_str2ll(a->ptr, a->len, out) && *out >= 0) return 0;
    kv_reply_error(c, msg);
    return -EINVAL;
}

bool kv_rank_range_clamp(long long len, long long *start, long long *end) {
    if (*start < 0) *start = len + *start;
    if (*end < 0) *end = len + *end;
    if (*start < 0) *start = 0;
    if (*start > *end || *start >= len) return false;
    if (*end >= len) *end = len - 1;
    return true;
}
