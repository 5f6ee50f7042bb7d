/* SPDX-License-Identifier: MIT */
/*
 * cmd_list.c - list commands: LPUSH RPUSH LPUSHX RPUSHX LPOP RPOP LLEN LINDEX LSET LRANGE
 * LREM LTRIM LINSERT LPOS LMOVE RPOPLPUSH.
 *
 * Each handler follows Redis 7.0's t_list.c step for step: the order in which arguments
 * are parsed and the key is looked up decides which error a bad call gets, and the
 * differential test (tests/kv_corpus/list.txt) holds us to the same replies. The
 * encoding rules are Redis 7.2's (t_list.c here): kv_list_grow before adding,
 * kv_list_shrink after removing, and a list that empties is deleted at once. The pop and
 * move cores (kv_list_pop_reply, kv_list_move_reply) also serve LMPOP and the blocking
 * commands (blocked.c), so every pop takes the same path and notifies the same way.
 */
#include "t_list.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

/* --- Helpers --- */

static void reply_entry(kv_client_t *c, const kv_list_entry_t *e) {
    if (e->val.str != NULL)
        kv_reply_bulk(c, e->val.str, e->val.len);
    else
        kv_reply_bulk_ll(c, e->val.ival);
}

/* After elements were removed: deletes an empty list, else lets it shrink. */
static void after_removal(kv_client_t *c, kv_obj_t *o) {
    if (kv_list_len(o) == 0) {
        size_t klen;
        const char *key = kv_obj_key(o, &klen);
        kv_db_delete(c->db, key, klen);
    } else {
        kv_list_shrink(o);
    }
}

/*
 * After a command removed n elements of the list o under key: the command's event, then
 * the list's deletion with "del" when it emptied (else it may shrink), the modified-key
 * signal and n changes, as Redis's listElementsRemoved.
 */
static void elements_removed(kv_client_t *c, const kv_arg_t *key, kv_obj_t *o, const char *event,
                             long long n) {
    kv_notify_keyspace_event(KV_NOTIFY_LIST, event, key->ptr, key->len, c->db->id);
    if (kv_list_len(o) == 0)
        kv_notify_deleted_empty(c, key);
    else
        kv_list_shrink(o);
    kv_signal_modified_key(c, c->db, key->ptr, key->len);
    kv_srv.dirty += n;
}

/* A new empty list stored under key; NULL on out-of-memory (replied). */
static kv_obj_t *create_list(kv_client_t *c, const kv_arg_t *key) {
    kv_obj_t *o = kv_list_new(key->ptr, key->len, -1);
    if (o == NULL || kv_db_add(c->db, o) != 0) {
        kv_reply_oom(c);
        return NULL;
    }
    return o;
}

/* Redis's addListRangeReply: [start, end] after negative-index conversion. */
static void reply_range(kv_client_t *c, kv_obj_t *o, long long start, long long end, bool reverse) {
    if (!kv_rank_range_clamp((long long)kv_list_len(o), &start, &end)) {
        kv_reply_array_len(c, 0);
        return;
    }
    long long n = end - start + 1;
    kv_reply_array_len(c, (long)n);
    kv_list_iter_t it;
    kv_list_entry_t e;
    kv_list_iter_init(&it, o, (long)(reverse ? end : start), !reverse);
    while (n-- > 0 && kv_list_iter_next(&it, &e))
        reply_entry(c, &e);
    kv_list_release(o);
}

/* --- LPUSH RPUSH LPUSHX RPUSHX --- */

static void push_generic(kv_client_t *c, int where, bool xx) {
    bool wrong;
    kv_obj_t *o = kv_lookup_type_or_reply(c, &c->argv[1], KV_TYPE_LIST, true, &wrong);
    if (wrong) return;
    if (o == NULL) {
        if (xx) {
            kv_reply_int(c, 0);
            return;
        }
        if ((o = create_list(c, &c->argv[1])) == NULL) return;
    }
    size_t bytes = 0;
    for (int j = 2; j < c->argc; j++)
        bytes += c->argv[j].len;
    int rc = kv_list_grow(o, bytes, (size_t)(c->argc - 2));
    for (int j = 2; j < c->argc && rc == 0; j++)
        rc = kv_list_push(o, where, c->argv[j].ptr, c->argv[j].len);
    if (rc != 0) {
        after_removal(c, o); /* a list created here and left empty goes away */
        kv_reply_oom(c);
        return;
    }
    kv_srv.dirty += c->argc - 2;
    kv_reply_int(c, (long long)kv_list_len(o));
    kv_notify_key_changed(c, &c->argv[1], KV_NOTIFY_LIST,
                          where == KV_LIST_HEAD ? "lpush" : "rpush");
}

void kv_cmd_lpush(kv_client_t *c) {
    push_generic(c, KV_LIST_HEAD, false);
}

void kv_cmd_rpush(kv_client_t *c) {
    push_generic(c, KV_LIST_TAIL, false);
}

void kv_cmd_lpushx(kv_client_t *c) {
    push_generic(c, KV_LIST_HEAD, true);
}

void kv_cmd_rpushx(kv_client_t *c) {
    push_generic(c, KV_LIST_TAIL, true);
}

/* --- LPOP RPOP --- */

void kv_list_pop_reply(kv_client_t *c, const kv_arg_t *key, kv_obj_t *o, int where, long long count,
                       int form) {
    if (form == KV_POP_KEY_VALUE || form == KV_POP_KEY_ARRAY) {
        kv_reply_array_len(c, 2);
        kv_reply_bulk(c, key->ptr, key->len);
    }
    long long n = 1;
    if (form == KV_POP_VALUE || form == KV_POP_KEY_VALUE) {
        kv_list_entry_t e;
        long idx = where == KV_LIST_HEAD ? 0 : -1;
        if (kv_list_index(o, idx, &e) != 0) { /* not reached: callers pass non-empty lists */
            kv_reply_null(c);
            return;
        }
        reply_entry(c, &e);
        kv_list_del_range(o, idx, 1);
    } else {
        long long llen = (long long)kv_list_len(o);
        n = count > llen ? llen : count;
        if (where == KV_LIST_HEAD)
            reply_range(c, o, 0, n - 1, false);
        else
            reply_range(c, o, -n, -1, true);
        kv_list_del_range(o, where == KV_LIST_HEAD ? 0 : (long)-n, (size_t)n);
    }
    elements_removed(c, key, o, where == KV_LIST_HEAD ? "lpop" : "rpop", n);
}

static void pop_generic(kv_client_t *c, int where) {
    bool hascount = c->argc == 3;
    long long count = 0;
    if (c->argc > 3) {
        kv_reply_arity_err(c);
        return;
    }
    if (hascount && kv_arg_nonneg_or_reply(c, &c->argv[2], &count,
                                           "ERR value is out of range, must be positive") != 0)
        return;
    bool wrong;
    kv_obj_t *o = kv_lookup_type_or_reply(c, &c->argv[1], KV_TYPE_LIST, true, &wrong);
    if (wrong) return;
    if (o == NULL) {
        if (hascount)
            kv_reply_null_array(c);
        else
            kv_reply_null(c);
        return;
    }
    if (hascount && count == 0) {
        kv_reply_array_len(c, 0);
        return;
    }
    kv_list_pop_reply(c, &c->argv[1], o, where, hascount ? count : 1,
                      hascount ? KV_POP_ARRAY : KV_POP_VALUE);
}

void kv_cmd_lpop(kv_client_t *c) {
    pop_generic(c, KV_LIST_HEAD);
}

void kv_cmd_rpop(kv_client_t *c) {
    pop_generic(c, KV_LIST_TAIL);
}

/* --- LLEN LINDEX LSET LRANGE --- */

void kv_cmd_llen(kv_client_t *c) {
    bool wrong;
    kv_obj_t *o = kv_lookup_type_or_reply(c, &c->argv[1], KV_TYPE_LIST, false, &wrong);
    if (wrong) return;
    kv_reply_int(c, o ? (long long)kv_list_len(o) : 0);
}

void kv_cmd_lindex(kv_client_t *c) {
    bool wrong;
    kv_obj_t *o = kv_lookup_type_or_reply(c, &c->argv[1], KV_TYPE_LIST, false, &wrong);
    if (wrong) return;
    if (o == NULL) {
        kv_reply_null(c);
        return;
    }
    long long index;
    if (kv_arg_ll_or_reply(c, &c->argv[2], &index, NULL) != 0) return;
    kv_list_entry_t e;
    if (kv_list_index(o, (long)index, &e) != 0) {
        kv_reply_null(c);
        return;
    }
    reply_entry(c, &e);
    kv_list_release(o);
}

void kv_cmd_lset(kv_client_t *c) {
    bool wrong;
    kv_obj_t *o = kv_lookup_type_or_reply(c, &c->argv[1], KV_TYPE_LIST, true, &wrong);
    if (wrong) return;
    if (o == NULL) {
        kv_reply_error(c, "ERR no such key");
        return;
    }
    long long index;
    if (kv_arg_ll_or_reply(c, &c->argv[2], &index, NULL) != 0) return;
    const kv_arg_t *v = &c->argv[3];
    if (kv_list_grow(o, v->len, 1) != 0) {
        kv_reply_oom(c);
        return;
    }
    int rc = kv_list_replace_at(o, (long)index, v->ptr, v->len);
    if (rc == -ERANGE) {
        kv_reply_error(c, "ERR index out of range");
        return;
    }
    if (rc != 0) {
        kv_reply_oom(c);
        return;
    }
    kv_list_shrink(o);
    kv_notify_key_changed(c, &c->argv[1], KV_NOTIFY_LIST, "lset");
    kv_srv.dirty++;
    kv_reply_ok(c);
}

void kv_cmd_lrange(kv_client_t *c) {
    long long start, end;
    if (kv_arg_ll_or_reply(c, &c->argv[2], &start, NULL) != 0 ||
        kv_arg_ll_or_reply(c, &c->argv[3], &end, NULL) != 0)
        return;
    bool wrong;
    kv_obj_t *o = kv_lookup_type_or_reply(c, &c->argv[1], KV_TYPE_LIST, false, &wrong);
    if (wrong) return;
    if (o == NULL) {
        kv_reply_array_len(c, 0);
        return;
    }
    reply_range(c, o, start, end, false);
}

/* --- LREM LTRIM LINSERT --- */

void kv_cmd_lrem(kv_client_t *c) {
    long long toremove;
    if (kv_arg_ll_or_reply(c, &c->argv[2], &toremove, NULL) != 0) return;
    bool wrong;
    kv_obj_t *o = kv_lookup_type_or_reply(c, &c->argv[1], KV_TYPE_LIST, true, &wrong);
    if (wrong) return;
    if (o == NULL) {
        kv_reply_int(c, 0);
        return;
    }
    bool forward = toremove >= 0;
    unsigned long long limit =
        toremove >= 0 ? (unsigned long long)toremove : 0ULL - (unsigned long long)toremove;
    const kv_arg_t *v = &c->argv[3];
    kv_list_iter_t it;
    kv_list_entry_t e;
    unsigned long long removed = 0;
    kv_list_iter_init(&it, o, forward ? 0 : -1, forward);
    while (kv_list_iter_next(&it, &e)) {
        if (!kv_list_entry_equals(&e, v->ptr, v->len)) continue;
        kv_list_iter_del(&it, &e);
        if (++removed == limit) break;
    }
    kv_list_release(o);
    if (removed) elements_removed(c, &c->argv[1], o, "lrem", (long long)removed);
    kv_reply_int(c, (long long)removed);
}

void kv_cmd_ltrim(kv_client_t *c) {
    long long start, end;
    if (kv_arg_ll_or_reply(c, &c->argv[2], &start, NULL) != 0 ||
        kv_arg_ll_or_reply(c, &c->argv[3], &end, NULL) != 0)
        return;
    bool wrong;
    kv_obj_t *o = kv_lookup_type_or_reply(c, &c->argv[1], KV_TYPE_LIST, true, &wrong);
    if (wrong) return;
    if (o == NULL) {
        kv_reply_ok(c);
        return;
    }
    long long llen = (long long)kv_list_len(o), ltrim, rtrim;
    if (kv_rank_range_clamp(llen, &start, &end)) {
        ltrim = start;
        rtrim = llen - end - 1;
    } else {
        ltrim = llen;
        rtrim = 0;
    }
    kv_list_del_range(o, 0, (size_t)ltrim);
    kv_list_del_range(o, (long)-rtrim, (size_t)rtrim);
    elements_removed(c, &c->argv[1], o, "ltrim", ltrim + rtrim);
    kv_reply_ok(c);
}

void kv_cmd_linsert(kv_client_t *c) {
    int where;
    if (kv_arg_is(&c->argv[2], "after")) {
        where = KV_LP_AFTER;
    } else if (kv_arg_is(&c->argv[2], "before")) {
        where = KV_LP_BEFORE;
    } else {
        kv_reply_syntax_err(c);
        return;
    }
    bool wrong;
    kv_obj_t *o = kv_lookup_type_or_reply(c, &c->argv[1], KV_TYPE_LIST, true, &wrong);
    if (wrong) return;
    if (o == NULL) {
        kv_reply_int(c, 0);
        return;
    }
    const kv_arg_t *pivot = &c->argv[3], *v = &c->argv[4];
    /* As Redis 7.2: convert first, assuming the pivot will be found. */
    if (kv_list_grow(o, v->len, 1) != 0) {
        kv_reply_oom(c);
        return;
    }
    kv_list_iter_t it;
    kv_list_entry_t e;
    kv_list_iter_init(&it, o, 0, true);
    while (kv_list_iter_next(&it, &e)) {
        if (!kv_list_entry_equals(&e, pivot->ptr, pivot->len)) continue;
        if (kv_list_insert(o, &e, where, v->ptr, v->len) != 0) {
            kv_reply_oom(c);
            return;
        }
        kv_notify_key_changed(c, &c->argv[1], KV_NOTIFY_LIST, "linsert");
        kv_srv.dirty++;
        kv_reply_int(c, (long long)kv_list_len(o));
        return;
    }
    kv_reply_int(c, -1);
}

/* --- LPOS --- */

void kv_cmd_lpos(kv_client_t *c) {
    const kv_arg_t *ele = &c->argv[2];
    long long rank = 1, count = -1, maxlen = 0; /* count -1: no COUNT option */
    for (int j = 3; j < c->argc; j++) {
        const kv_arg_t *opt = &c->argv[j];
        bool more = j + 1 < c->argc;
        if (kv_arg_is(opt, "rank") && more) {
            j++;
            if (kv_arg_ll_or_reply(c, &c->argv[j], &rank, NULL) != 0) return;
            if (rank == LLONG_MIN) { /* Redis 7.2: -rank must exist (7.0 took it) */
                kv_reply_errorf(c, "ERR value is out of range, value must between %lld and %lld",
                                -LLONG_MAX, LLONG_MAX);
                return;
            }
            if (rank == 0) {
                kv_reply_error(c, "ERR RANK can't be zero: use 1 to start from the first "
                                  "match, 2 from the second ... or use negative to start from "
                                  "the end of the list");
                return;
            }
        } else if (kv_arg_is(opt, "count") && more) {
            j++;
            if (kv_arg_nonneg_or_reply(c, &c->argv[j], &count, "ERR COUNT can't be negative") != 0)
                return;
        } else if (kv_arg_is(opt, "maxlen") && more) {
            j++;
            if (kv_arg_nonneg_or_reply(c, &c->argv[j], &maxlen, "ERR MAXLEN can't be negative") !=
                0)
                return;
        } else {
            kv_reply_syntax_err(c);
            return;
        }
    }
    /* Redis 7.0 negates with two's complement wrap-around: RANK -9223372036854775808
     * stays negative, so every match qualifies and COUNT never stops the walk. */
    bool forward = rank > 0;
    if (rank < 0) rank = (long long)(0ULL - (unsigned long long)rank);
    bool wrong;
    kv_obj_t *o = kv_lookup_type_or_reply(c, &c->argv[1], KV_TYPE_LIST, false, &wrong);
    if (wrong) return;
    if (o == NULL) {
        if (count != -1)
            kv_reply_array_len(c, 0);
        else
            kv_reply_null(c);
        return;
    }
    void *lenp = count != -1 ? kv_reply_deferred(c) : NULL;
    long long llen = (long long)kv_list_len(o);
    long long index = 0, matches = 0, matchindex = -1, arraylen = 0;
    kv_list_iter_t it;
    kv_list_entry_t e;
    kv_list_iter_init(&it, o, forward ? 0 : -1, forward);
    while ((maxlen == 0 || index < maxlen) && kv_list_iter_next(&it, &e)) {
        if (kv_list_entry_equals(&e, ele->ptr, ele->len)) {
            matches++;
            matchindex = forward ? index : llen - index - 1;
            if (matches >= rank) {
                if (lenp == NULL) break;
                arraylen++;
                kv_reply_int(c, matchindex);
                if (count && (long long)((unsigned long long)matches - (unsigned long long)rank +
                                         1) >= count)
                    break;
            }
        }
        index++;
        matchindex = -1;
    }
    kv_list_release(o);
    if (lenp != NULL)
        kv_reply_set_deferred(c, lenp, (long)arraylen);
    else if (matchindex != -1)
        kv_reply_int(c, matchindex);
    else
        kv_reply_null(c);
}

/* --- LMOVE RPOPLPUSH --- */

bool kv_list_parse_side(kv_client_t *c, const kv_arg_t *a, int *where) {
    if (kv_arg_is(a, "right")) {
        *where = KV_LIST_TAIL;
    } else if (kv_arg_is(a, "left")) {
        *where = KV_LIST_HEAD;
    } else {
        kv_reply_syntax_err(c);
        return false;
    }
    return true;
}

void kv_list_move_reply(kv_client_t *c, const kv_arg_t *srckey, kv_obj_t *src,
                        const kv_arg_t *dstkey, int wherefrom, int whereto) {
    bool wrong;
    kv_obj_t *dst = kv_lookup_type_or_reply(c, dstkey, KV_TYPE_LIST, true, &wrong);
    if (wrong) return;
    /* Copy the value out: popping and pushing may move the listpack it lives in. */
    long idx = wherefrom == KV_LIST_HEAD ? 0 : -1;
    kv_list_entry_t e;
    if (kv_list_index(src, idx, &e) != 0) {
        kv_reply_null(c);
        return;
    }
    char ibuf[KV_LP_INTBUF], small[64];
    size_t len;
    const uint8_t *s = kv_lp_get_bytes(e.p, ibuf, &len);
    char *val = len <= sizeof(small) ? small : malloc(len);
    if (val == NULL) {
        kv_reply_oom(c);
        return;
    }
    memcpy(val, s, len);
    if (dst == NULL) dst = create_list(c, dstkey);
    if (dst == NULL) goto out;
    if (kv_list_grow(dst, len, 1) != 0 || kv_list_push(dst, whereto, val, len) != 0) {
        if (kv_list_len(dst) == 0) after_removal(c, dst);
        kv_reply_oom(c);
        goto out;
    }
    kv_notify_key_changed(c, dstkey, KV_NOTIFY_LIST, whereto == KV_LIST_HEAD ? "lpush" : "rpush");
    /* The pushed copy is in place: now take the element off the source. With src == dst
     * the source end is unaffected unless both ends are the same one. */
    if (src == dst && wherefrom == whereto)
        kv_list_del_range(src, wherefrom == KV_LIST_HEAD ? 1 : -2, 1);
    else
        kv_list_del_range(src, idx, 1);
    kv_reply_bulk(c, val, len);
    elements_removed(c, srckey, src, wherefrom == KV_LIST_HEAD ? "lpop" : "rpop", 1);
out:
    if (val != small) free(val);
}

static void lmove_generic(kv_client_t *c, int wherefrom, int whereto) {
    bool wrong;
    kv_obj_t *src = kv_lookup_type_or_reply(c, &c->argv[1], KV_TYPE_LIST, true, &wrong);
    if (wrong) return;
    if (src == NULL) {
        kv_reply_null(c);
        return;
    }
    kv_list_move_reply(c, &c->argv[1], src, &c->argv[2], wherefrom, whereto);
}

void kv_cmd_lmove(kv_client_t *c) {
    int wherefrom, whereto;
    if (!kv_list_parse_side(c, &c->argv[3], &wherefrom) ||
        !kv_list_parse_side(c, &c->argv[4], &whereto))
        return;
    lmove_generic(c, wherefrom, whereto);
}

void kv_cmd_rpoplpush(kv_client_t *c) {
    lmove_generic(c, KV_LIST_TAIL, KV_LIST_HEAD);
}
