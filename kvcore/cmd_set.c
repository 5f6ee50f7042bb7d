/* SPDX-License-Identifier: MIT */
/*
 * cmd_set.c - set commands: SADD SREM SCARD SISMEMBER SMISMEMBER SMEMBERS SPOP
 * SRANDMEMBER SMOVE SINTER SINTERCARD SUNION SDIFF SINTERSTORE SUNIONSTORE
 * SDIFFSTORE SSCAN.
 *
 * Handlers follow Redis 7.0's t_set.c for argument order, errors and which
 * lookups count keyspace hits; the encodings chosen for new and result sets
 * follow Redis 7.2 (t_set.c here). Set algebra builds its result in a set
 * object that is not in the keyspace (key ""), then either replies its members
 * or stores it under the destination key, replacing whatever was there; an
 * empty result deletes the destination, as Redis does.
 */
#include "t_set.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

/* --- Helpers --- */

/* Every member, as a RESP3 set (SMEMBERS, SPOP, SUNION...) or an array (SRANDMEMBER). */
static void reply_members(kv_client_t *c, kv_obj_t *o, bool as_set) {
    if (as_set)
        kv_reply_set_len(c, (long)kv_set_len(o));
    else
        kv_reply_array_len(c, (long)kv_set_len(o));
    kv_set_iter_t it;
    kv_arg_t m;
    kv_set_iter_init(&it, o);
    while (kv_set_iter_next(&it, &m))
        kv_reply_bulk(c, m.ptr, m.len);
    kv_set_iter_fini(&it);
}

/* --- SADD / SREM / SCARD / SISMEMBER / SMISMEMBER --- */

void kv_cmd_sadd(kv_client_t *c) {
    bool wrong;
    kv_obj_t *o = kv_lookup_type_or_reply(c, &c->argv[1], KV_TYPE_SET, true, &wrong);
    if (wrong) return;
    size_t hint = (size_t)(c->argc - 2);
    if (o == NULL) {
        o = kv_set_new(c->argv[1].ptr, c->argv[1].len, &c->argv[2], hint);
        if (o == NULL || kv_db_add(c->db, o) != 0) {
            kv_reply_oom(c);
            return;
        }
    } else if (kv_set_maybe_convert(o, hint) != 0) {
        kv_reply_oom(c);
        return;
    }
    long long added = 0;
    for (int i = 2; i < c->argc; i++) {
        int rc = kv_set_add(o, &c->argv[i]);
        if (rc < 0) {
            if (kv_set_len(o) == 0) kv_db_delete(c->db, c->argv[1].ptr, c->argv[1].len);
            kv_reply_oom(c);
            return;
        }
        added += rc;
    }
    if (added) {
        kv_notify_key_changed(c, &c->argv[1], KV_NOTIFY_SET, "sadd");
        kv_srv.dirty += added;
    }
    kv_reply_int(c, added);
}

void kv_cmd_srem(kv_client_t *c) {
    bool wrong;
    kv_obj_t *o = kv_lookup_type_or_reply(c, &c->argv[1], KV_TYPE_SET, true, &wrong);
    if (wrong) return;
    if (o == NULL) {
        kv_reply_int(c, 0);
        return;
    }
    long long deleted = 0;
    bool removed = false;
    for (int i = 2; i < c->argc; i++) {
        if (kv_set_remove(o, &c->argv[i])) deleted++;
        if (kv_set_len(o) == 0) {
            kv_db_delete(c->db, c->argv[1].ptr, c->argv[1].len);
            removed = true;
            break;
        }
    }
    if (deleted) {
        kv_notify_key_changed(c, &c->argv[1], KV_NOTIFY_SET, "srem");
        if (removed)
            kv_notify_keyspace_event(KV_NOTIFY_GENERIC, "del", c->argv[1].ptr, c->argv[1].len,
                                     c->db->id);
        kv_srv.dirty += deleted;
    }
    kv_reply_int(c, deleted);
}

void kv_cmd_scard(kv_client_t *c) {
    bool wrong;
    kv_obj_t *o = kv_lookup_type_or_reply(c, &c->argv[1], KV_TYPE_SET, false, &wrong);
    if (!wrong) kv_reply_int(c, o ? (long long)kv_set_len(o) : 0);
}

void kv_cmd_sismember(kv_client_t *c) {
    bool wrong;
    kv_obj_t *o = kv_lookup_type_or_reply(c, &c->argv[1], KV_TYPE_SET, false, &wrong);
    if (!wrong) kv_reply_int(c, o && kv_set_contains(o, &c->argv[2]));
}

void kv_cmd_smismember(kv_client_t *c) {
    bool wrong;
    kv_obj_t *o = kv_lookup_type_or_reply(c, &c->argv[1], KV_TYPE_SET, false, &wrong);
    if (wrong) return;
    kv_reply_array_len(c, c->argc - 2);
    for (int i = 2; i < c->argc; i++)
        kv_reply_int(c, o && kv_set_contains(o, &c->argv[i]));
}

/* --- SMOVE --- */

void kv_cmd_smove(kv_client_t *c) {
    kv_obj_t *src = kv_db_lookup_write(c->db, &c->argv[1]);
    kv_obj_t *dst = kv_db_lookup_write(c->db, &c->argv[2]);
    const kv_arg_t *ele = &c->argv[3];
    if (src == NULL) {
        kv_reply_int(c, 0);
        return;
    }
    if (src->type != KV_TYPE_SET || (dst != NULL && dst->type != KV_TYPE_SET)) {
        kv_reply_wrongtype(c);
        return;
    }
    if (src == dst) {
        kv_reply_int(c, kv_set_contains(src, ele));
        return;
    }
    if (!kv_set_remove(src, ele)) {
        kv_reply_int(c, 0);
        return;
    }
    kv_notify_keyspace_event(KV_NOTIFY_SET, "srem", c->argv[1].ptr, c->argv[1].len, c->db->id);
    if (kv_set_len(src) == 0) kv_notify_deleted_empty(c, &c->argv[1]);
    if (dst == NULL) {
        dst = kv_set_new(c->argv[2].ptr, c->argv[2].len, ele, 1);
        if (dst == NULL || kv_db_add(c->db, dst) != 0) {
            kv_reply_oom(c);
            return;
        }
    }
    kv_signal_modified_key(c, c->db, c->argv[1].ptr, c->argv[1].len);
    kv_srv.dirty++;
    int added = kv_set_add(dst, ele);
    if (added < 0) {
        if (kv_set_len(dst) == 0) kv_db_delete(c->db, c->argv[2].ptr, c->argv[2].len);
        kv_reply_oom(c);
        return;
    }
    if (added) {
        kv_srv.dirty++;
        kv_notify_key_changed(c, &c->argv[2], KV_NOTIFY_SET, "sadd");
    }
    kv_reply_int(c, 1);
}

/* --- SPOP / SRANDMEMBER --- */

/* Replies one random member of o and removes it. */
static void pop_one(kv_client_t *c, kv_obj_t *o) {
    char ibuf[KV_INTBUF], small[256];
    kv_arg_t m;
    kv_set_random(o, &m, ibuf);
    kv_reply_bulk(c, m.ptr, m.len);
    kv_arg_t srem[3] = {{"SREM", 4}, c->argv[1], m}; /* replays without the random choice */
    kv_propagate_rewrite(c, srem, 3);
    /* Copy the member out of the structure before removing it. */
    char *copy = m.len <= sizeof(small) ? small : malloc(m.len);
    if (copy == NULL) {
        kv_set_remove(o, &m); /* kv_set_remove reads m before it frees it */
        return;
    }
    memcpy(copy, m.ptr, m.len);
    kv_arg_t k = {copy, m.len};
    kv_set_remove(o, &k);
    if (copy != small) free(copy);
}

static void spop_count(kv_client_t *c) {
    long long l;
    if (kv_arg_nonneg_or_reply(c, &c->argv[2], &l, "ERR value is out of range, must be positive") !=
        0)
        return;
    bool wrong;
    kv_obj_t *o = kv_lookup_type_or_reply(c, &c->argv[1], KV_TYPE_SET, true, &wrong);
    if (wrong) return;
    if (o == NULL || l == 0) {
        kv_reply_set_len(c, 0);
        return;
    }
    size_t size = kv_set_len(o);
    kv_notify_keyspace_event(KV_NOTIFY_SET, "spop", c->argv[1].ptr, c->argv[1].len, c->db->id);
    if ((unsigned long long)l >= size) {
        kv_srv.dirty += (long long)size;
        reply_members(c, o, true);
        kv_notify_deleted_empty(c, &c->argv[1]);
        kv_signal_modified_key(c, c->db, c->argv[1].ptr, c->argv[1].len);
        kv_arg_t del[2] = {{"DEL", 3}, c->argv[1]};
        kv_propagate_rewrite(c, del, 2);
        return;
    }
    kv_srv.dirty += l;
    kv_reply_set_len(c, (long)l);
    for (long long i = 0; i < l; i++)
        pop_one(c, o);
    kv_signal_modified_key(c, c->db, c->argv[1].ptr, c->argv[1].len);
}

void kv_cmd_spop(kv_client_t *c) {
    if (c->argc == 3) {
        spop_count(c);
        return;
    }
    if (c->argc > 3) {
        kv_reply_syntax_err(c);
        return;
    }
    bool wrong;
    kv_obj_t *o = kv_lookup_type_or_reply(c, &c->argv[1], KV_TYPE_SET, true, &wrong);
    if (wrong) return;
    if (o == NULL) {
        kv_reply_null(c);
        return;
    }
    pop_one(c, o);
    kv_notify_keyspace_event(KV_NOTIFY_SET, "spop", c->argv[1].ptr, c->argv[1].len, c->db->id);
    if (kv_set_len(o) == 0) kv_notify_deleted_empty(c, &c->argv[1]);
    kv_signal_modified_key(c, c->db, c->argv[1].ptr, c->argv[1].len);
    kv_srv.dirty++;
}

static void srandmember_count(kv_client_t *c) {
    long long l;
    if (kv_arg_ll_or_reply(c, &c->argv[2], &l, NULL) != 0) return;
    if (l < -LONG_MAX) {
        kv_reply_errorf(c, "ERR value is out of range, value must between %ld and %ld", -LONG_MAX,
                        LONG_MAX);
        return;
    }
    bool uniq = l >= 0;
    unsigned long long count = uniq ? (unsigned long long)l : (unsigned long long)-l;
    bool wrong;
    kv_obj_t *o = kv_lookup_type_or_reply(c, &c->argv[1], KV_TYPE_SET, false, &wrong);
    if (wrong) return;
    if (o == NULL || count == 0) {
        kv_reply_array_len(c, 0);
        return;
    }
    size_t size = kv_set_len(o);
    char ibuf[KV_INTBUF];
    kv_arg_t m;
    if (!uniq || count == 1) {
        kv_reply_array_len(c, (long)count);
        for (unsigned long long i = 0; i < count; i++) {
            kv_set_random(o, &m, ibuf);
            kv_reply_bulk(c, m.ptr, m.len);
        }
        return;
    }
    if (count >= size) {
        reply_members(c, o, false);
        return;
    }
    /* Distinct members: a random subset of the iteration positions (selection
     * sampling). */
    kv_reply_array_len(c, (long)count);
    size_t need = (size_t)count, left = size;
    kv_set_iter_t it;
    kv_set_iter_init(&it, o);
    while (need > 0 && kv_set_iter_next(&it, &m)) {
        if ((size_t)kv_rand64() % left < need) {
            kv_reply_bulk(c, m.ptr, m.len);
            need--;
        }
        left--;
    }
    kv_set_iter_fini(&it);
}

void kv_cmd_srandmember(kv_client_t *c) {
    if (c->argc == 3) {
        srandmember_count(c);
        return;
    }
    if (c->argc > 3) {
        kv_reply_syntax_err(c);
        return;
    }
    bool wrong;
    kv_obj_t *o = kv_lookup_type_or_reply(c, &c->argv[1], KV_TYPE_SET, false, &wrong);
    if (wrong) return;
    if (o == NULL) {
        kv_reply_null(c);
        return;
    }
    char ibuf[KV_INTBUF];
    kv_arg_t m;
    kv_set_random(o, &m, ibuf);
    kv_reply_bulk(c, m.ptr, m.len);
    kv_arg_t srem[3] = {{"SREM", 4}, c->argv[1], m}; /* replays without the random choice */
    kv_propagate_rewrite(c, srem, 3);
}

/* --- Set algebra --- */

/*
 * Looks up argv[first .. first+n): every key is looked up (a missing one is
 * NULL) and a key of another type fails the whole command. 0 or -EINVAL
 * (replied).
 */
static int lookup_sets(kv_client_t *c, int first, int n, kv_obj_t **sets) {
    for (int j = 0; j < n; j++) {
        bool wrong;
        kv_obj_t *o = kv_lookup_type_or_reply(c, &c->argv[first + j], KV_TYPE_SET, false, &wrong);
        if (wrong) return -EINVAL;
        sets[j] = o;
    }
    return 0;
}

static int by_size(const void *a, const void *b) {
    size_t x = kv_set_len(*(kv_obj_t *const *)a), y = kv_set_len(*(kv_obj_t *const *)b);
    return x < y ? -1 : x > y;
}

/* Stores result under argv[dst] (or deletes the key when the result is empty).
 */
static void store_result(kv_client_t *c, const kv_arg_t *dst, kv_obj_t *result, const char *event) {
    size_t n = kv_set_len(result);
    if (n == 0) {
        kv_obj_free(result);
        kv_reply_int(c, 0);
        kv_notify_store_empty(c, dst);
        return;
    }
    kv_obj_t *o = kv_obj_rekey(result, dst->ptr, dst->len, -1);
    if (o == NULL) {
        kv_obj_free(result);
        kv_reply_oom(c);
        return;
    }
    kv_obj_free_shell(result);
    if (kv_db_set(c->db, o, false) != 0) {
        kv_reply_oom(c);
        return;
    }
    kv_reply_int(c, (long long)n);
    kv_notify_key_changed(c, dst, KV_NOTIFY_SET, event);
    kv_srv.dirty++;
}

/*
 * SINTER / SINTERSTORE / SINTERCARD / SMEMBERS: keys argv[first .. first+n);
 * dst NULL replies the members; limit caps SINTERCARD's count (0 = none).
 */
static void inter_generic(kv_client_t *c, int first, int n, const kv_arg_t *dst, bool card_only,
                          unsigned long long limit) {
    kv_obj_t **sets = malloc((size_t)n * sizeof(*sets));
    if (sets == NULL) {
        kv_reply_oom(c);
        return;
    }
    if (lookup_sets(c, first, n, sets) != 0) goto out;
    bool empty = false;
    for (int j = 0; j < n; j++)
        if (sets[j] == NULL) empty = true;
    if (empty) {
        if (dst) {
            kv_notify_store_empty(c, dst);
            kv_reply_int(c, 0);
        } else if (card_only) {
            kv_reply_int(c, 0);
        } else {
            kv_reply_set_len(c, 0);
        }
        goto out;
    }
    qsort(sets, (size_t)n, sizeof(*sets), by_size);
    kv_obj_t *result = NULL;
    void *lenp = NULL;
    if (dst) {
        result = kv_set_new("", 0, NULL, 0);
        if (result == NULL) {
            kv_reply_oom(c);
            goto out;
        }
    } else if (!card_only) {
        lenp = kv_reply_deferred(c);
    }
    unsigned long long card = 0;
    bool oom = false;
    kv_set_iter_t it;
    kv_arg_t m;
    kv_set_iter_init(&it, sets[0]);
    while (!oom && kv_set_iter_next(&it, &m)) {
        int j;
        for (j = 1; j < n; j++)
            if (sets[j] != sets[0] && !kv_set_contains(sets[j], &m)) break;
        if (j < n) continue;
        if (card_only) {
            card++;
            if (limit && card >= limit) break;
        } else if (dst) {
            if (kv_set_add(result, &m) < 0) oom = true;
        } else {
            kv_reply_bulk(c, m.ptr, m.len);
            card++;
        }
    }
    kv_set_iter_fini(&it);
    if (card_only) {
        kv_reply_int(c, (long long)card);
    } else if (dst) {
        if (oom) {
            kv_obj_free(result);
            kv_reply_oom(c);
        } else {
            store_result(c, dst, result, "sinterstore");
        }
    } else {
        kv_reply_set_deferred_set(c, lenp, (long)card);
    }
out:
    free(sets);
}

enum { OP_UNION, OP_DIFF };

static void union_diff_generic(kv_client_t *c, int first, int n, const kv_arg_t *dst, int op) {
    kv_obj_t **sets = malloc((size_t)n * sizeof(*sets));
    if (sets == NULL) {
        kv_reply_oom(c);
        return;
    }
    if (lookup_sets(c, first, n, sets) != 0) {
        free(sets);
        return;
    }
    kv_obj_t *result = kv_set_new("", 0, NULL, 0);
    if (result == NULL) {
        free(sets);
        kv_reply_oom(c);
        return;
    }
    bool sameset = false;
    for (int j = 1; j < n; j++)
        if (sets[j] != NULL && sets[j] == sets[0]) sameset = true;
    int rc = 0;
    kv_set_iter_t it;
    kv_arg_t m;
    if (op == OP_UNION) {
        for (int j = 0; rc >= 0 && j < n; j++) {
            if (sets[j] == NULL) continue;
            kv_set_iter_init(&it, sets[j]);
            while (rc >= 0 && kv_set_iter_next(&it, &m))
                rc = kv_set_add(result, &m);
            kv_set_iter_fini(&it);
        }
    } else if (sets[0] != NULL && !sameset) {
        kv_set_iter_init(&it, sets[0]);
        while (rc >= 0 && kv_set_iter_next(&it, &m)) {
            int j;
            for (j = 1; j < n; j++)
                if (sets[j] != NULL && kv_set_contains(sets[j], &m)) break;
            if (j == n) rc = kv_set_add(result, &m);
        }
        kv_set_iter_fini(&it);
    }
    free(sets);
    if (rc < 0) {
        kv_obj_free(result);
        kv_reply_oom(c);
        return;
    }
    if (dst) {
        store_result(c, dst, result, op == OP_UNION ? "sunionstore" : "sdiffstore");
        return;
    }
    reply_members(c, result, true);
    kv_obj_free(result);
}

void kv_cmd_smembers(kv_client_t *c) {
    inter_generic(c, 1, 1, NULL, false, 0);
}

void kv_cmd_sinter(kv_client_t *c) {
    inter_generic(c, 1, c->argc - 1, NULL, false, 0);
}

void kv_cmd_sinterstore(kv_client_t *c) {
    inter_generic(c, 2, c->argc - 2, &c->argv[1], false, 0);
}

void kv_cmd_sintercard(kv_client_t *c) {
    long long numkeys, limit = 0;
    if (!kv_str2ll(c->argv[1].ptr, c->argv[1].len, &numkeys) || numkeys < 1) {
        kv_reply_error(c, "ERR numkeys should be greater than 0");
        return;
    }
    if (numkeys > c->argc - 2) {
        kv_reply_error(c, "ERR Number of keys can't be greater than number of args");
        return;
    }
    for (long long j = 2 + numkeys; j < c->argc; j++) {
        bool more = (c->argc - 1) - j > 0;
        if (kv_arg_is(&c->argv[j], "limit") && more) {
            j++;
            if (kv_arg_nonneg_or_reply(c, &c->argv[j], &limit, "ERR LIMIT can't be negative") != 0)
                return;
        } else {
            kv_reply_syntax_err(c);
            return;
        }
    }
    inter_generic(c, 2, (int)numkeys, NULL, true, (unsigned long long)limit);
}

void kv_cmd_sunion(kv_client_t *c) {
    union_diff_generic(c, 1, c->argc - 1, NULL, OP_UNION);
}

void kv_cmd_sunionstore(kv_client_t *c) {
    union_diff_generic(c, 2, c->argc - 2, &c->argv[1], OP_UNION);
}

void kv_cmd_sdiff(kv_client_t *c) {
    union_diff_generic(c, 1, c->argc - 1, NULL, OP_DIFF);
}

void kv_cmd_sdiffstore(kv_client_t *c) {
    union_diff_generic(c, 2, c->argc - 2, &c->argv[1], OP_DIFF);
}

/* --- SSCAN --- */

void kv_cmd_sscan(kv_client_t *c) {
    unsigned long long cursor;
    kv_scan_opts_t opts;
    kv_obj_t *o = kv_scan_begin(c, KV_TYPE_SET, &cursor, &opts);
    if (o == NULL) return;
    if (o->encoding != KV_ENC_HASHTABLE) {
        kv_reply_bulk_cstr(c, "0");
        void *lenp = kv_reply_deferred(c);
        long n = 0;
        kv_set_iter_t it;
        kv_arg_t m;
        kv_set_iter_init(&it, o);
        while (kv_set_iter_next(&it, &m)) {
            if (!kv_scan_match(&opts, m.ptr, m.len)) continue;
            kv_reply_bulk(c, m.ptr, m.len);
            n++;
        }
        kv_set_iter_fini(&it);
        kv_reply_set_deferred(c, lenp, n);
        return;
    }
    void **ents;
    size_t nents;
    size_t next = kv_scan_ht_collect(kv_obj_ptr(o), cursor, opts.count, &ents, &nents);
    kv_reply_bulk_ll(c, (long long)next);
    void *lenp = kv_reply_deferred(c);
    long n = 0;
    for (size_t i = 0; i < nents; i++) {
        kv_arg_t m;
        m.ptr = kv_set_entry_member(ents[i], &m.len);
        if (!kv_scan_match(&opts, m.ptr, m.len)) continue;
        kv_reply_bulk(c, m.ptr, m.len);
        n++;
    }
    kv_reply_set_deferred(c, lenp, n);
    free(ents);
}
