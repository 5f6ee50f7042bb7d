/* SPDX-License-Identifier: MIT */
/*
 * cmd_hash.c - hash commands: HSET HSETNX HGET HMGET HMSET HDEL HLEN HSTRLEN
 * HEXISTS HGETALL HKEYS HVALS HINCRBY HINCRBYFLOAT HRANDFIELD HSCAN, and the
 * option parsing the SCAN family of aggregates shares (HSCAN, SSCAN, ZSCAN).
 *
 * Each handler follows Redis 7.0's t_hash.c step by step (which argument is
 * parsed first, which error wins, which lookup counts a keyspace hit), since
 * clients compare replies byte for byte. The type itself (encodings,
 * conversion) is t_hash.c. A write that creates a hash adds it to the keyspace
 * first, as Redis's hashTypeLookupWriteOrCreate does; a hash left empty by a
 * command is deleted. A small hash lives inside its object, so a change may
 * move the object: each handler keeps the pointer the keyspace holds and, once
 * its changes are made (or failed), stores the new one (store_moved) before
 * anything looks the key up again.
 */
#include "t_hash.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* --- Helpers --- */

/* Write lookup that creates an empty hash when the key is missing; NULL when
 * replied. */
static kv_obj_t *lookup_write_or_create(kv_client_t *c) {
    bool wrong;
    kv_obj_t *o = kv_lookup_type_or_reply(c, &c->argv[1], KV_TYPE_HASH, true, &wrong);
    if (o != NULL || wrong) return o;
    o = kv_hash_new(c->argv[1].ptr, c->argv[1].len, -1);
    if (o == NULL || kv_db_add(c->db, o) != 0) {
        kv_reply_oom(c);
        return NULL;
    }
    return o;
}

/* After changes that may have moved the object from old to o: the keyspace (and
 * the TTL index) hold o. */
static void store_moved(kv_client_t *c, kv_obj_t *old, kv_obj_t *o) {
    if (o != old) kv_db_replaced(c->db, old, o);
}

/* Deletes the key when a command left its hash empty (after store_moved). */
static void delete_if_empty(kv_client_t *c, kv_obj_t *o) {
    if (kv_hash_len(o) == 0) kv_db_delete(c->db, c->argv[1].ptr, c->argv[1].len);
}

/* --- HSET / HMSET / HSETNX --- */

static void hset_generic(kv_client_t *c, bool hmset) {
    if (c->argc % 2 == 1) {
        kv_reply_arity_err(c);
        return;
    }
    kv_obj_t *o = lookup_write_or_create(c);
    if (o == NULL) return;
    kv_obj_t *old = o;
    long long created = 0;
    int rc = kv_hash_try_convert(&o, &c->argv[2], c->argc - 2);
    for (int i = 2; rc >= 0 && i < c->argc; i += 2) {
        rc = kv_hash_set(&o, &c->argv[i], &c->argv[i + 1]);
        if (rc > 0) created++;
    }
    store_moved(c, old, o);
    if (rc < 0) {
        delete_if_empty(c, o);
        kv_reply_oom(c);
        return;
    }
    if (hmset)
        kv_reply_ok(c);
    else
        kv_reply_int(c, created);
    kv_notify_key_changed(c, &c->argv[1], KV_NOTIFY_HASH, "hset");
    kv_srv.dirty += (c->argc - 2) / 2;
}

void kv_cmd_hset(kv_client_t *c) {
    hset_generic(c, false);
}

void kv_cmd_hmset(kv_client_t *c) {
    hset_generic(c, true);
}

void kv_cmd_hsetnx(kv_client_t *c) {
    kv_obj_t *o = lookup_write_or_create(c);
    if (o == NULL) return;
    if (kv_hash_exists(o, &c->argv[2])) {
        kv_reply_int(c, 0);
        return;
    }
    kv_obj_t *old = o;
    int rc = kv_hash_try_convert(&o, &c->argv[2], 2);
    if (rc >= 0) rc = kv_hash_set(&o, &c->argv[2], &c->argv[3]);
    store_moved(c, old, o);
    if (rc < 0) {
        delete_if_empty(c, o);
        kv_reply_oom(c);
        return;
    }
    kv_reply_int(c, 1);
    kv_notify_key_changed(c, &c->argv[1], KV_NOTIFY_HASH, "hset");
    kv_srv.dirty++;
}

/* --- Reads --- */

void kv_cmd_hget(kv_client_t *c) {
    bool wrong;
    kv_obj_t *o = kv_lookup_type_or_reply(c, &c->argv[1], KV_TYPE_HASH, false, &wrong);
    if (wrong) return;
    char ibuf[KV_INTBUF];
    kv_arg_t v;
    if (o == NULL || !kv_hash_get(o, &c->argv[2], &v, ibuf)) {
        kv_reply_null(c);
        return;
    }
    kv_reply_bulk(c, v.ptr, v.len);
}

void kv_cmd_hmget(kv_client_t *c) {
    bool wrong;
    kv_obj_t *o = kv_lookup_type_or_reply(c, &c->argv[1], KV_TYPE_HASH, false, &wrong);
    if (wrong) return;
    kv_reply_array_len(c, c->argc - 2);
    for (int i = 2; i < c->argc; i++) {
        char ibuf[KV_INTBUF];
        kv_arg_t v;
        if (o != NULL && kv_hash_get(o, &c->argv[i], &v, ibuf))
            kv_reply_bulk(c, v.ptr, v.len);
        else
            kv_reply_null(c);
    }
}

void kv_cmd_hlen(kv_client_t *c) {
    bool wrong;
    kv_obj_t *o = kv_lookup_type_or_reply(c, &c->argv[1], KV_TYPE_HASH, false, &wrong);
    if (wrong) return;
    kv_reply_int(c, o ? (long long)kv_hash_len(o) : 0);
}

void kv_cmd_hstrlen(kv_client_t *c) {
    bool wrong;
    kv_obj_t *o = kv_lookup_type_or_reply(c, &c->argv[1], KV_TYPE_HASH, false, &wrong);
    if (wrong) return;
    char ibuf[KV_INTBUF];
    kv_arg_t v;
    kv_reply_int(c, o && kv_hash_get(o, &c->argv[2], &v, ibuf) ? (long long)v.len : 0);
}

void kv_cmd_hexists(kv_client_t *c) {
    bool wrong;
    kv_obj_t *o = kv_lookup_type_or_reply(c, &c->argv[1], KV_TYPE_HASH, false, &wrong);
    if (wrong) return;
    kv_reply_int(c, o && kv_hash_exists(o, &c->argv[2]));
}

enum { WANT_FIELDS = 1, WANT_VALUES = 2 };

static void getall_generic(kv_client_t *c, int what) {
    bool wrong;
    kv_obj_t *o = kv_lookup_type_or_reply(c, &c->argv[1], KV_TYPE_HASH, false, &wrong);
    if (wrong) return;
    size_t n = o ? kv_hash_len(o) : 0;
    if (what == (WANT_FIELDS | WANT_VALUES))
        kv_reply_map_len(c, (long)n); /* HGETALL: a map in RESP3 */
    else
        kv_reply_array_len(c, (long)n);
    if (o == NULL) return;
    kv_hash_iter_t it;
    kv_arg_t f, v;
    kv_hash_iter_init(&it, o);
    while (kv_hash_iter_next(&it, &f, &v)) {
        if (what & WANT_FIELDS) kv_reply_bulk(c, f.ptr, f.len);
        if (what & WANT_VALUES) kv_reply_bulk(c, v.ptr, v.len);
    }
    kv_hash_iter_fini(&it);
}

void kv_cmd_hgetall(kv_client_t *c) {
    getall_generic(c, WANT_FIELDS | WANT_VALUES);
}

void kv_cmd_hkeys(kv_client_t *c) {
    getall_generic(c, WANT_FIELDS);
}

void kv_cmd_hvals(kv_client_t *c) {
    getall_generic(c, WANT_VALUES);
}

/* --- HDEL --- */

void kv_cmd_hdel(kv_client_t *c) {
    bool wrong;
    kv_obj_t *o = kv_lookup_type_or_reply(c, &c->argv[1], KV_TYPE_HASH, true, &wrong);
    if (wrong) return;
    if (o == NULL) {
        kv_reply_int(c, 0);
        return;
    }
    long long deleted = 0;
    bool removed = false;
    kv_obj_t *old = o;
    for (int i = 2; i < c->argc && kv_hash_len(o) > 0; i++)
        if (kv_hash_del(&o, &c->argv[i])) deleted++;
    store_moved(c, old, o);
    if (kv_hash_len(o) == 0) {
        kv_db_delete(c->db, c->argv[1].ptr, c->argv[1].len);
        removed = true;
    }
    if (deleted) {
        kv_notify_key_changed(c, &c->argv[1], KV_NOTIFY_HASH, "hdel");
        if (removed)
            kv_notify_keyspace_event(KV_NOTIFY_GENERIC, "del", c->argv[1].ptr, c->argv[1].len,
                                     c->db->id);
        kv_srv.dirty += deleted;
    }
    kv_reply_int(c, deleted);
}

/* --- HINCRBY / HINCRBYFLOAT --- */

void kv_cmd_hincrby(kv_client_t *c) {
    long long incr, value = 0;
    if (kv_arg_ll_or_reply(c, &c->argv[3], &incr, NULL) != 0) return;
    kv_obj_t *o = lookup_write_or_create(c);
    if (o == NULL) return;
    char ibuf[KV_INTBUF];
    kv_arg_t v;
    if (kv_hash_get(o, &c->argv[2], &v, ibuf) && !kv_str2ll(v.ptr, v.len, &value)) {
        kv_reply_error(c, "ERR hash value is not an integer");
        return;
    }
    if ((incr < 0 && value < 0 && incr < LLONG_MIN - value) ||
        (incr > 0 && value > 0 && incr > LLONG_MAX - value)) {
        kv_reply_error(c, "ERR increment or decrement would overflow");
        delete_if_empty(c, o);
        return;
    }
    value += incr;
    char out[KV_INTBUF];
    kv_arg_t nv = {out, kv_ll2str(out, value)};
    kv_obj_t *old = o;
    int rc = kv_hash_set(&o, &c->argv[2], &nv);
    store_moved(c, old, o);
    if (rc < 0) {
        delete_if_empty(c, o);
        kv_reply_oom(c);
        return;
    }
    kv_reply_int(c, value);
    kv_notify_key_changed(c, &c->argv[1], KV_NOTIFY_HASH, "hincrby");
    kv_srv.dirty++;
}

void kv_cmd_hincrbyfloat(kv_client_t *c) {
    long double incr, value = 0;
    if (!kv_str2ld(c->argv[3].ptr, c->argv[3].len, &incr)) {
        kv_reply_error(c, "ERR value is not a valid float");
        return;
    }
    if (isnan(incr) || isinf(incr)) {
        kv_reply_error(c, "ERR value is NaN or Infinity");
        return;
    }
    kv_obj_t *o = lookup_write_or_create(c);
    if (o == NULL) return;
    char ibuf[KV_INTBUF];
    kv_arg_t v;
    if (kv_hash_get(o, &c->argv[2], &v, ibuf) && !kv_str2ld(v.ptr, v.len, &value)) {
        kv_reply_error(c, "ERR hash value is not a float");
        return;
    }
    value += incr;
    if (isnan(value) || isinf(value)) {
        kv_reply_error(c, "ERR increment would produce NaN or Infinity");
        delete_if_empty(c, o);
        return;
    }
    char out[5 * 1024];
    kv_arg_t nv = {out, kv_ld2str(out, sizeof(out), value)};
    /* The new value may be long enough to pass hash-max-listpack-value. */
    kv_obj_t *old = o;
    int rc = kv_hash_try_convert(&o, &nv, 1);
    if (rc >= 0) rc = kv_hash_set(&o, &c->argv[2], &nv);
    store_moved(c, old, o);
    if (rc < 0) {
        delete_if_empty(c, o);
        kv_reply_oom(c);
        return;
    }
    kv_reply_bulk(c, nv.ptr, nv.len);
    kv_notify_key_changed(c, &c->argv[1], KV_NOTIFY_HASH, "hincrbyfloat");
    kv_srv.dirty++;
}

/* --- HRANDFIELD --- */

/* HSCAN's field and value: flat in both protocols. */
static void reply_flat_pair(kv_client_t *c, const kv_arg_t *f, const kv_arg_t *v) {
    kv_reply_bulk(c, f->ptr, f->len);
    kv_reply_bulk(c, v->ptr, v->len);
}

/* HRANDFIELD's n fields; WITHVALUES makes them field/value pairs (nested in RESP3). */
static void hrandfield_len(kv_client_t *c, long n, bool withvalues) {
    if (withvalues)
        kv_reply_pairs_len(c, n);
    else
        kv_reply_array_len(c, n);
}

static void reply_pair(kv_client_t *c, const kv_arg_t *f, const kv_arg_t *v, bool withvalues) {
    if (withvalues) kv_reply_pair(c);
    kv_reply_bulk(c, f->ptr, f->len);
    if (withvalues) kv_reply_bulk(c, v->ptr, v->len);
}

/* Positions 0..n-1 in random order, the first k of them chosen uniformly (k <=
 * n). */
static size_t *random_positions(size_t n, size_t k) {
    size_t *pos = malloc((n ? n : 1) * sizeof(*pos));
    if (pos == NULL) return NULL;
    for (size_t i = 0; i < n; i++)
        pos[i] = i;
    for (size_t i = 0; i < k && i + 1 < n; i++) {
        size_t j = i + (size_t)kv_rand64() % (n - i);
        size_t t = pos[i];
        pos[i] = pos[j];
        pos[j] = t;
    }
    return pos;
}

static void hrandfield_count(kv_client_t *c, long long l, bool withvalues) {
    bool wrong;
    kv_obj_t *o = kv_lookup_type_or_reply(c, &c->argv[1], KV_TYPE_HASH, false, &wrong);
    if (wrong) return;
    if (o == NULL) {
        kv_reply_array_len(c, 0);
        return;
    }
    bool uniq = l >= 0;
    unsigned long long count = l >= 0 ? (unsigned long long)l : (unsigned long long)-l;
    size_t size = kv_hash_len(o);
    if (count == 0) {
        kv_reply_array_len(c, 0);
        return;
    }
    char fbuf[KV_INTBUF], vbuf[KV_INTBUF];
    kv_arg_t f, v;
    /* With repetitions: count independent picks. */
    if (!uniq || count == 1) {
        hrandfield_len(c, (long)count, withvalues);
        for (unsigned long long i = 0; i < count; i++) {
            kv_hash_random(o, &f, &v, fbuf, vbuf);
            reply_pair(c, &f, &v, withvalues);
        }
        return;
    }
    /* Asking for the whole hash: every field, in iteration order. */
    if (count >= size) {
        hrandfield_len(c, (long)size, withvalues);
        kv_hash_iter_t it;
        kv_hash_iter_init(&it, o);
        while (kv_hash_iter_next(&it, &f, &v))
            reply_pair(c, &f, &v, withvalues);
        kv_hash_iter_fini(&it);
        return;
    }
    /* Distinct fields: a random subset of the iteration positions, in iteration
     * order. */
    size_t *pos = random_positions(size, (size_t)count);
    unsigned char *pick = calloc(size, 1);
    if (pos == NULL || pick == NULL) {
        free(pos);
        free(pick);
        kv_reply_oom(c);
        return;
    }
    for (size_t i = 0; i < count; i++)
        pick[pos[i]] = 1;
    hrandfield_len(c, (long)count, withvalues);
    kv_hash_iter_t it;
    size_t i = 0;
    kv_hash_iter_init(&it, o);
    while (kv_hash_iter_next(&it, &f, &v))
        if (pick[i++]) reply_pair(c, &f, &v, withvalues);
    kv_hash_iter_fini(&it);
    free(pos);
    free(pick);
}

void kv_cmd_hrandfield(kv_client_t *c) {
    if (c->argc >= 3) {
        long long l;
        if (kv_arg_ll_or_reply(c, &c->argv[2], &l, NULL) != 0) return;
        if (l < -LONG_MAX) {
            kv_reply_errorf(c, "ERR value is out of range, value must between %ld and %ld",
                            -LONG_MAX, LONG_MAX);
            return;
        }
        if (c->argc > 4 || (c->argc == 4 && !kv_arg_is(&c->argv[3], "withvalues"))) {
            kv_reply_syntax_err(c);
            return;
        }
        bool withvalues = c->argc == 4;
        if (withvalues && (l < -LONG_MAX / 2 || l > LONG_MAX / 2)) {
            kv_reply_error(c, "ERR value is out of range");
            return;
        }
        hrandfield_count(c, l, withvalues);
        return;
    }
    bool wrong;
    kv_obj_t *o = kv_lookup_type_or_reply(c, &c->argv[1], KV_TYPE_HASH, false, &wrong);
    if (wrong) return;
    if (o == NULL) {
        kv_reply_null(c);
        return;
    }
    char fbuf[KV_INTBUF];
    kv_arg_t f;
    kv_hash_random(o, &f, NULL, fbuf, NULL);
    kv_reply_bulk(c, f.ptr, f.len);
}

/* --- HSCAN and the aggregate SCAN helpers --- */

bool kv_scan_parse_cursor(const kv_arg_t *a, unsigned long long *out) {
    /* Redis's parseScanCursorOrReply: strtoul, no leading space, whole string, no ERANGE
     * ("" is cursor 0 and "-1" wraps, as there). */
    char small[64];
    char *buf = a->len < sizeof(small) ? small : malloc(a->len + 1);
    if (buf == NULL) return false;
    memcpy(buf, a->ptr, a->len);
    buf[a->len] = '\0';
    char *end;
    errno = 0;
    *out = strtoull(buf, &end, 10);
    bool ok = !isspace((unsigned char)buf[0]) && end == buf + a->len && errno != ERANGE;
    if (buf != small) free(buf);
    return ok;
}

int kv_scan_parse_opts(kv_client_t *c, int first, kv_scan_opts_t *opts) {
    opts->count = 10;
    opts->pat = NULL;
    opts->no_values = false;
    const char *names_only = c->cmd == NULL               ? NULL
                             : c->cmd->fn == kv_cmd_hscan ? "novalues"
                             : c->cmd->fn == kv_cmd_zscan ? "noscores"
                                                          : NULL;
    for (int i = first; i < c->argc;) {
        int j = c->argc - i;
        if (names_only && kv_arg_is(&c->argv[i], names_only)) {
            opts->no_values = true;
            i++;
            continue;
        }
        if (kv_arg_is(&c->argv[i], "count") && j >= 2) {
            if (kv_arg_ll_or_reply(c, &c->argv[i + 1], &opts->count, NULL) != 0) return -EINVAL;
            if (opts->count < 1) {
                kv_reply_syntax_err(c);
                return -EINVAL;
            }
            i += 2;
        } else if (kv_arg_is(&c->argv[i], "match") && j >= 2) {
            opts->pat = &c->argv[i + 1];
            if (opts->pat->len == 1 && opts->pat->ptr[0] == '*') opts->pat = NULL;
            i += 2;
        } else {
            kv_reply_syntax_err(c);
            return -EINVAL;
        }
    }
    return 0;
}

bool kv_scan_match(const kv_scan_opts_t *opts, const char *s, size_t len) {
    return opts->pat == NULL || kv_glob_match(opts->pat->ptr, opts->pat->len, s, len, false);
}

typedef struct entry_vec {
    void **v;
    size_t n, cap;
    bool oom;
} entry_vec_t;

static void collect(void *priv, void **entry_ref) {
    entry_vec_t *s = priv;
    if (s->n == s->cap) {
        size_t ncap = s->cap ? s->cap * 2 : 32;
        void **nv = realloc(s->v, ncap * sizeof(*nv));
        if (nv == NULL) {
            s->oom = true;
            return;
        }
        s->v = nv;
        s->cap = ncap;
    }
    s->v[s->n++] = *entry_ref;
}

size_t kv_scan_ht_collect(kv_ht_t *ht, unsigned long long cursor, long long count, void ***out,
                          size_t *n) {
    entry_vec_t vec = {0};
    /* COUNT*10 steps at most, as Redis, without overflowing for a huge COUNT. */
    long long maxiter = count > LLONG_MAX / 10 ? LLONG_MAX : count * 10;
    size_t cur = (size_t)cursor;
    do {
        cur = kv_ht_scan(ht, cur, collect, &vec);
    } while (cur && maxiter-- && vec.n < (size_t)count && !vec.oom);
    *out = vec.v;
    *n = vec.n;
    return cur;
}

kv_obj_t *kv_scan_begin(kv_client_t *c, int type, unsigned long long *cursor,
                        kv_scan_opts_t *opts) {
    if (!kv_scan_parse_cursor(&c->argv[2], cursor)) {
        kv_reply_error(c, "ERR invalid cursor");
        return NULL;
    }
    bool wrong;
    kv_obj_t *o = kv_lookup_type_or_reply(c, &c->argv[1], type, false, &wrong);
    if (wrong) return NULL;
    if (o == NULL) {
        kv_reply_raw(c, "*2\r\n$1\r\n0\r\n*0\r\n", 15);
        return NULL;
    }
    if (kv_scan_parse_opts(c, 3, opts) != 0) return NULL;
    kv_reply_array_len(c, 2);
    return o;
}

void kv_cmd_hscan(kv_client_t *c) {
    unsigned long long cursor;
    kv_scan_opts_t opts;
    kv_obj_t *o = kv_scan_begin(c, KV_TYPE_HASH, &cursor, &opts);
    if (o == NULL) return;
    if (o->encoding == KV_ENC_HASHPACK) {
        kv_reply_bulk_cstr(c, "0");
        void *lenp = kv_reply_deferred(c);
        long n = 0;
        kv_hash_iter_t it;
        kv_arg_t f, v;
        kv_hash_iter_init(&it, o);
        while (kv_hash_iter_next(&it, &f, &v)) {
            if (!kv_scan_match(&opts, f.ptr, f.len)) continue;
            if (opts.no_values)
                kv_reply_bulk(c, f.ptr, f.len);
            else
                reply_flat_pair(c, &f, &v);
            n += opts.no_values ? 1 : 2;
        }
        kv_hash_iter_fini(&it);
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
        kv_arg_t f, v;
        f.ptr = kv_hash_entry_field(ents[i], &f.len);
        if (!kv_scan_match(&opts, f.ptr, f.len)) continue;
        v.ptr = kv_hash_entry_value(ents[i], &v.len);
        if (opts.no_values)
            kv_reply_bulk(c, f.ptr, f.len);
        else
            reply_flat_pair(c, &f, &v);
        n += opts.no_values ? 1 : 2;
    }
    kv_reply_set_deferred(c, lenp, n);
    free(ents);
}
