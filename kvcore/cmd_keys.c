/* SPDX-License-Identifier: MIT */
/*
 * cmd_keys.c - keyspace commands: DEL UNLINK EXISTS TYPE RENAME RENAMENX COPY KEYS SCAN
 * RANDOMKEY TOUCH, the EXPIRE family (NX XX GT LT), TTL PTTL EXPIRETIME PEXPIRETIME
 * PERSIST, SELECT SWAPDB FLUSHDB FLUSHALL DBSIZE and OBJECT.
 *
 * Semantics and error texts are Redis 7.0's db.c / expire.c / object.c. SCAN walks the
 * kv_ht reverse-binary cursor, so a key present for the whole scan is returned at least
 * once even while the table rehashes; like Redis, COUNT is a hint (at most COUNT*10
 * bucket steps per call) and expired keys are filtered out (and deleted).
 */
#include "kv_internal.h"
#include "rdb.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* --- DEL / EXISTS / TYPE / TOUCH --- */

static void del_generic(kv_client_t *c) {
    long long n = 0;
    for (int j = 1; j < c->argc; j++) {
        kv_db_lookup_write(c->db, &c->argv[j]); /* expires it if due */
        if (!kv_db_delete(c->db, c->argv[j].ptr, c->argv[j].len)) continue;
        kv_srv.dirty++;
        kv_notify_key_changed(c, &c->argv[j], KV_NOTIFY_GENERIC, "del");
        n++;
    }
    kv_reply_int(c, n);
}

void kv_cmd_del(kv_client_t *c) {
    del_generic(c);
}

void kv_cmd_unlink(kv_client_t *c) {
    del_generic(c);
}

void kv_cmd_exists(kv_client_t *c) {
    long long n = 0;
    for (int j = 1; j < c->argc; j++)
        if (kv_db_lookup(c->db, c->argv[j].ptr, c->argv[j].len, KV_LOOKUP_NOTOUCH)) n++;
    kv_reply_int(c, n);
}

void kv_cmd_type(kv_client_t *c) {
    kv_obj_t *o = kv_db_lookup(c->db, c->argv[1].ptr, c->argv[1].len, KV_LOOKUP_NOTOUCH);
    kv_reply_status(c, o ? kv_obj_type_name((int)o->type) : "none");
}

void kv_cmd_touch(kv_client_t *c) {
    long long n = 0;
    for (int j = 1; j < c->argc; j++)
        if (kv_db_lookup_read(c->db, &c->argv[j])) n++;
    kv_reply_int(c, n);
}

/* --- RENAME / COPY --- */

static bool same_arg(const kv_arg_t *a, const kv_arg_t *b) {
    return a->len == b->len && memcmp(a->ptr, b->ptr, a->len) == 0;
}

static void rename_generic(kv_client_t *c, bool nx) {
    const kv_arg_t *src = &c->argv[1], *dst = &c->argv[2];
    kv_obj_t *o = kv_db_lookup_write(c->db, src);
    if (o == NULL) {
        kv_reply_error(c, "ERR no such key");
        return;
    }
    if (same_arg(src, dst)) {
        if (nx)
            kv_reply_int(c, 0);
        else
            kv_reply_ok(c);
        return;
    }
    if (kv_db_lookup_write(c->db, dst) != NULL) {
        if (nx) {
            kv_reply_int(c, 0);
            return;
        }
        kv_db_delete(c->db, dst->ptr, dst->len);
    }
    int64_t exp = kv_obj_expire(o);
    kv_obj_t *n = kv_obj_rekey(o, dst->ptr, dst->len, exp);
    if (n == NULL) {
        kv_reply_oom(c);
        return;
    }
    /* The value moved to n: remove o from the tables and free only its shell. */
    kv_ht_pop(c->db->keys, src->ptr, src->len);
    if (exp >= 0) kv_ttl_remove(c->db->expires, o);
    kv_obj_free_shell(o);
    if (kv_db_add(c->db, n) != 0) {
        kv_reply_oom(c);
        return;
    }
    kv_signal_modified_key(c, c->db, src->ptr, src->len);
    kv_signal_modified_key(c, c->db, dst->ptr, dst->len);
    kv_notify_keyspace_event(KV_NOTIFY_GENERIC, "rename_from", src->ptr, src->len, c->db->id);
    kv_notify_keyspace_event(KV_NOTIFY_GENERIC, "rename_to", dst->ptr, dst->len, c->db->id);
    kv_srv.dirty++;
    if (nx)
        kv_reply_int(c, 1);
    else
        kv_reply_ok(c);
}

void kv_cmd_rename(kv_client_t *c) {
    rename_generic(c, false);
}

void kv_cmd_renamenx(kv_client_t *c) {
    rename_generic(c, true);
}

static int int_arg_or_reply(kv_client_t *c, const kv_arg_t *a, int *out, const char *msg) {
    long long v;
    if (!kv_str2ll(a->ptr, a->len, &v)) {
        kv_reply_error(c, msg ? msg : "ERR value is not an integer or out of range");
        return -EINVAL;
    }
    if (v < INT_MIN || v > INT_MAX) {
        if (msg)
            kv_reply_error(c, msg);
        else
            kv_reply_errorf(c, "ERR value is out of range, value must between %d and %d", INT_MIN,
                            INT_MAX);
        return -ERANGE;
    }
    *out = (int)v;
    return 0;
}

void kv_cmd_copy(kv_client_t *c) {
    kv_db_t *dst = c->db;
    bool replace = false;
    for (int j = 3; j < c->argc; j++) {
        int additional = c->argc - j - 1;
        if (kv_arg_is(&c->argv[j], "replace")) {
            replace = true;
        } else if (kv_arg_is(&c->argv[j], "db") && additional >= 1) {
            int id;
            if (int_arg_or_reply(c, &c->argv[j + 1], &id, NULL) != 0) return;
            if ((dst = kv_db_get(id)) == NULL) {
                kv_reply_error(c, "ERR DB index is out of range");
                return;
            }
            j++;
        } else {
            kv_reply_syntax_err(c);
            return;
        }
    }
    const kv_arg_t *key = &c->argv[1], *newkey = &c->argv[2];
    if (dst == c->db && same_arg(key, newkey)) {
        kv_reply_error(c, "ERR source and destination objects are the same");
        return;
    }
    kv_obj_t *o = kv_db_lookup_read(c->db, key);
    if (o == NULL) {
        kv_reply_int(c, 0);
        return;
    }
    int64_t exp = kv_obj_expire(o);
    if (kv_db_lookup_write(dst, newkey) != NULL) {
        if (!replace) {
            kv_reply_int(c, 0);
            return;
        }
        kv_db_delete(dst, newkey->ptr, newkey->len);
    }
    kv_obj_t *n = kv_obj_dup(o, newkey->ptr, newkey->len, exp);
    if (n == NULL || kv_db_add(dst, n) != 0) {
        kv_reply_oom(c);
        return;
    }
    kv_signal_modified_key(c, dst, newkey->ptr, newkey->len);
    kv_notify_keyspace_event(KV_NOTIFY_GENERIC, "copy_to", newkey->ptr, newkey->len, dst->id);
    kv_srv.dirty++;
    kv_reply_int(c, 1);
}

/* --- KEYS / SCAN / RANDOMKEY --- */

void kv_cmd_keys(kv_client_t *c) {
    const kv_arg_t *pat = &c->argv[1];
    bool all = pat->len == 1 && pat->ptr[0] == '*';
    void *lenp = kv_reply_deferred(c);
    long n = 0;
    kv_ht_iter_t it;
    void *e;
    kv_ht_iter_init(&it, c->db->keys);
    while (kv_ht_iter_next(&it, &e)) {
        kv_obj_t *o = e;
        size_t klen;
        const char *key = kv_obj_key(o, &klen);
        if (!all && !kv_glob_match(pat->ptr, pat->len, key, klen, false)) continue;
        if (kv_db_key_is_expired(o)) continue;
        kv_reply_bulk(c, key, klen);
        n++;
    }
    kv_ht_iter_fini(&it);
    kv_reply_set_deferred(c, lenp, n);
}

typedef struct scan_ctx {
    kv_obj_t **keys;
    size_t n, cap;
    bool oom;
} scan_ctx_t;

static void scan_collect(void *priv, void **entry_ref) {
    scan_ctx_t *s = priv;
    if (s->n == s->cap) {
        size_t ncap = s->cap ? s->cap * 2 : 32;
        kv_obj_t **k = realloc(s->keys, ncap * sizeof(*k));
        if (k == NULL) {
            s->oom = true;
            return;
        }
        s->keys = k;
        s->cap = ncap;
    }
    s->keys[s->n++] = *entry_ref;
}

/* SCAN's TYPE names, as TYPE prints them: streams are never stored here, but the name is
 * known (a SCAN for them finds nothing). */
static bool scan_type_known(const kv_arg_t *a) {
    static const char *const names[] = {"string", "list", "set", "zset", "hash", "stream"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (kv_arg_is(a, names[i])) return true;
    return false;
}

/* Redis 7.2's error for an unknown SCAN TYPE (7.0 scanned and matched nothing); the name
 * is printed as C text: up to its first NUL byte. */
static void reply_unknown_type(kv_client_t *c, const kv_arg_t *a) {
    size_t n = strnlen(a->ptr, a->len);
    static const char pre[] = "ERR unknown type name '";
    char *msg = malloc(sizeof(pre) + n + 1);
    if (msg == NULL) {
        kv_client_close_async(c);
        return;
    }
    memcpy(msg, pre, sizeof(pre) - 1);
    memcpy(msg + sizeof(pre) - 1, a->ptr, n);
    memcpy(msg + sizeof(pre) - 1 + n, "'", 2);
    kv_reply_error(c, msg);
    free(msg);
}

void kv_cmd_scan(kv_client_t *c) {
    unsigned long long cursor;
    /* The same cursor rules as HSCAN/SSCAN/ZSCAN (Redis 7.0's parseScanCursorOrReply). */
    if (!kv_scan_parse_cursor(&c->argv[1], &cursor)) {
        kv_reply_error(c, "ERR invalid cursor");
        return;
    }
    long long count = 10;
    const kv_arg_t *pat = NULL, *type = NULL;
    for (int i = 2; i < c->argc;) {
        int j = c->argc - i;
        if (kv_arg_is(&c->argv[i], "count") && j >= 2) {
            if (kv_arg_ll_or_reply(c, &c->argv[i + 1], &count, NULL) != 0) return;
            if (count < 1) {
                kv_reply_syntax_err(c);
                return;
            }
            i += 2;
        } else if (kv_arg_is(&c->argv[i], "match") && j >= 2) {
            pat = &c->argv[i + 1];
            if (pat->len == 1 && pat->ptr[0] == '*') pat = NULL;
            i += 2;
        } else if (kv_arg_is(&c->argv[i], "type") && j >= 2) {
            type = &c->argv[i + 1];
            if (!scan_type_known(type)) {
                reply_unknown_type(c, type);
                return;
            }
            i += 2;
        } else {
            kv_reply_syntax_err(c);
            return;
        }
    }
    scan_ctx_t ctx = {0};
    /* COUNT*10 steps at most, as Redis, without overflowing for a huge COUNT. */
    long long maxiter = count > LLONG_MAX / 10 ? LLONG_MAX : count * 10;
    size_t cur = (size_t)cursor;
    do {
        cur = kv_ht_scan(c->db->keys, cur, scan_collect, &ctx);
    } while (cur && maxiter-- && ctx.n < (size_t)count && !ctx.oom);
    /* Filter after the scan steps: deleting expired keys inside a step is not allowed. */
    size_t kept = 0;
    for (size_t i = 0; i < ctx.n; i++) {
        kv_obj_t *o = ctx.keys[i];
        size_t klen;
        const char *key = kv_obj_key(o, &klen);
        if (pat && !kv_glob_match(pat->ptr, pat->len, key, klen, false)) continue;
        if (type && !kv_arg_is(type, kv_obj_type_name((int)o->type))) continue;
        if (kv_db_key_is_expired(o)) {
            kv_db_expire_obj(c->db, o);
            continue;
        }
        ctx.keys[kept++] = o;
    }
    kv_reply_array_len(c, 2);
    kv_reply_bulk_ll(c, (long long)cur);
    kv_reply_array_len(c, (long)kept);
    for (size_t i = 0; i < kept; i++) {
        size_t klen;
        const char *key = kv_obj_key(ctx.keys[i], &klen);
        kv_reply_bulk(c, key, klen);
    }
    free(ctx.keys);
}

void kv_cmd_randomkey(kv_client_t *c) {
    for (int tries = 0; tries < 1000; tries++) {
        kv_obj_t *o = kv_ht_random(c->db->keys);
        if (o == NULL) break;
        if (kv_db_key_is_expired(o)) {
            kv_db_expire_obj(c->db, o);
            continue;
        }
        size_t klen;
        const char *key = kv_obj_key(o, &klen);
        kv_reply_bulk(c, key, klen);
        return;
    }
    kv_reply_null(c);
}

/* --- Expiry --- */

#define EXP_NX 1
#define EXP_XX 2
#define EXP_GT 4
#define EXP_LT 8

static void expire_generic(kv_client_t *c, long long basetime, bool seconds) {
    int flags = 0;
    for (int j = 3; j < c->argc; j++) {
        const kv_arg_t *a = &c->argv[j];
        if (kv_arg_is(a, "nx"))
            flags |= EXP_NX;
        else if (kv_arg_is(a, "xx"))
            flags |= EXP_XX;
        else if (kv_arg_is(a, "gt"))
            flags |= EXP_GT;
        else if (kv_arg_is(a, "lt"))
            flags |= EXP_LT;
        else {
            int n = (int)a->len;
            const char *z = memchr(a->ptr, '\0', a->len);
            if (z) n = (int)(z - a->ptr);
            kv_reply_errorf(c, "ERR Unsupported option %.*s", n, a->ptr);
            return;
        }
    }
    if ((flags & EXP_NX) && (flags & (EXP_XX | EXP_GT | EXP_LT))) {
        kv_reply_error(c, "ERR NX and XX, GT or LT options at the same time are not compatible");
        return;
    }
    if ((flags & EXP_GT) && (flags & EXP_LT)) {
        kv_reply_error(c, "ERR GT and LT options at the same time are not compatible");
        return;
    }
    long long when;
    if (kv_arg_ll_or_reply(c, &c->argv[2], &when, NULL) != 0) return;
    if (seconds) {
        if (when > LLONG_MAX / 1000 || when < LLONG_MIN / 1000) {
            kv_reply_errorf(c, "ERR invalid expire time in '%s' command", c->cmd->fullname);
            return;
        }
        when *= 1000;
    }
    if (when > LLONG_MAX - basetime) {
        kv_reply_errorf(c, "ERR invalid expire time in '%s' command", c->cmd->fullname);
        return;
    }
    when += basetime;
    kv_obj_t *o = kv_db_lookup_write(c->db, &c->argv[1]);
    if (o == NULL) {
        kv_reply_int(c, 0);
        return;
    }
    if (flags) {
        long long cur = kv_obj_expire(o);
        if ((flags & EXP_NX) && cur != -1) goto zero;
        if ((flags & EXP_XX) && cur == -1) goto zero;
        if ((flags & EXP_GT) && (when <= cur || cur == -1)) goto zero;
        if ((flags & EXP_LT) && cur != -1 && when >= cur) goto zero;
    }
    if (when <= kv_srv.mstime) {
        kv_db_delete(c->db, c->argv[1].ptr, c->argv[1].len);
        kv_srv.dirty++;
        kv_notify_key_changed(c, &c->argv[1], KV_NOTIFY_GENERIC, "del");
        kv_reply_int(c, 1);
        return;
    }
    if (kv_db_set_expire(c->db, o, when) == NULL) {
        kv_reply_oom(c);
        return;
    }
    kv_reply_int(c, 1);
    kv_notify_key_changed(c, &c->argv[1], KV_NOTIFY_GENERIC, "expire");
    kv_srv.dirty++;
    return;
zero:
    kv_reply_int(c, 0);
}

void kv_cmd_expire(kv_client_t *c) {
    expire_generic(c, kv_srv.mstime, true);
}

void kv_cmd_pexpire(kv_client_t *c) {
    expire_generic(c, kv_srv.mstime, false);
}

void kv_cmd_expireat(kv_client_t *c) {
    expire_generic(c, 0, true);
}

void kv_cmd_pexpireat(kv_client_t *c) {
    expire_generic(c, 0, false);
}

static void ttl_generic(kv_client_t *c, bool ms, bool abs) {
    kv_obj_t *o = kv_db_lookup(c->db, c->argv[1].ptr, c->argv[1].len, KV_LOOKUP_NOTOUCH);
    if (o == NULL) {
        kv_reply_int(c, -2);
        return;
    }
    long long exp = kv_obj_expire(o);
    if (exp == -1) {
        kv_reply_int(c, -1);
        return;
    }
    long long ttl = abs ? exp : exp - kv_mstime();
    if (ttl < 0) ttl = 0;
    kv_reply_int(c, ms ? ttl : (ttl + 500) / 1000);
}

void kv_cmd_ttl(kv_client_t *c) {
    ttl_generic(c, false, false);
}

void kv_cmd_pttl(kv_client_t *c) {
    ttl_generic(c, true, false);
}

void kv_cmd_expiretime(kv_client_t *c) {
    ttl_generic(c, false, true);
}

void kv_cmd_pexpiretime(kv_client_t *c) {
    ttl_generic(c, true, true);
}

void kv_cmd_persist(kv_client_t *c) {
    kv_obj_t *o = kv_db_lookup_write(c->db, &c->argv[1]);
    if (o == NULL || !kv_db_persist(c->db, o)) {
        kv_reply_int(c, 0);
        return;
    }
    kv_notify_key_changed(c, &c->argv[1], KV_NOTIFY_GENERIC, "persist");
    kv_srv.dirty++;
    kv_reply_int(c, 1);
}

/* --- Databases --- */

void kv_cmd_select(kv_client_t *c) {
    int id;
    if (int_arg_or_reply(c, &c->argv[1], &id, NULL) != 0) return;
    kv_db_t *db = kv_db_get(id);
    if (db == NULL) {
        kv_reply_error(c, "ERR DB index is out of range");
        return;
    }
    c->db = db;
    c->dbid = id;
    kv_reply_ok(c);
}

void kv_cmd_swapdb(kv_client_t *c) {
    int a, b;
    if (int_arg_or_reply(c, &c->argv[1], &a, "ERR invalid first DB index") != 0) return;
    if (int_arg_or_reply(c, &c->argv[2], &b, "ERR invalid second DB index") != 0) return;
    kv_db_t *da = kv_db_get(a), *dbb = kv_db_get(b);
    if (da == NULL || dbb == NULL) {
        kv_reply_error(c, "ERR DB index is out of range");
        return;
    }
    if (da != dbb) kv_db_swap(da, dbb); /* signals the swap (WATCH) first */
    kv_srv.dirty++;
    kv_reply_ok(c);
}

static int flush_flags_or_reply(kv_client_t *c) {
    if (c->argc == 1) return 0;
    if (c->argc == 2 && (kv_arg_is(&c->argv[1], "sync") || kv_arg_is(&c->argv[1], "async")))
        return 0;
    kv_reply_syntax_err(c);
    return -EINVAL;
}

void kv_cmd_flushdb(kv_client_t *c) {
    if (flush_flags_or_reply(c) != 0) return;
    kv_srv.dirty += (long long)kv_db_flush(c->db); /* signals the flush (WATCH) first */
    kv_propagate_force(c); /* an empty db's flush goes to the AOF too, as in Redis */
    kv_reply_ok(c);
}

void kv_cmd_flushall(kv_client_t *c) {
    if (flush_flags_or_reply(c) != 0) return;
    for (int i = 0; i < kv_srv.ndbs; i++) /* each signals its flush (WATCH) first */
        kv_srv.dirty += (long long)kv_db_flush(&kv_srv.dbs[i]);
    kv_persist_flushall(); /* stops a background save; saves (dirty = 0) at save points */
    kv_propagate_force(c);
    kv_reply_ok(c);
}

void kv_cmd_dbsize(kv_client_t *c) {
    kv_reply_int(c, (long long)kv_db_size(c->db));
}

/* --- OBJECT --- */

static kv_obj_t *object_lookup(kv_client_t *c) {
    kv_obj_t *o =
        kv_db_lookup(c->db, c->argv[2].ptr, c->argv[2].len, KV_LOOKUP_NOTOUCH | KV_LOOKUP_NONOTIFY);
    if (o == NULL) kv_reply_null(c);
    return o;
}

static bool lfu_policy(void) {
    int p = kv_srv.cfg.maxmemory_policy;
    return p == KV_POLICY_ALLKEYS_LFU || p == KV_POLICY_VOLATILE_LFU;
}

void kv_cmd_object_encoding(kv_client_t *c) {
    kv_obj_t *o = object_lookup(c);
    if (o) kv_reply_bulk_cstr(c, kv_obj_encoding_name((int)o->encoding));
}

/* Redis keeps one shared object for each integer 0..9999 and gives it to every string
 * key holding that integer (unless an LRU/LFU maxmemory policy needs an access time per
 * key): OBJECT REFCOUNT then answers INT_MAX. kvcore stores the value in the key's own
 * allocation, and answers as Redis does. */
static bool is_shared_integer(const kv_obj_t *o) {
    long long v;
    int p = kv_srv.cfg.maxmemory_policy;
    bool lru_lfu = p == KV_POLICY_VOLATILE_LRU || p == KV_POLICY_VOLATILE_LFU ||
                   p == KV_POLICY_ALLKEYS_LRU || p == KV_POLICY_ALLKEYS_LFU;
    if (o->type != KV_TYPE_STRING || o->encoding != KV_ENC_INT) return false;
    if (kv_srv.cfg.maxmemory != 0 && lru_lfu) return false;
    return kv_obj_get_ll(o, &v) && v >= 0 && v < 10000;
}

void kv_cmd_object_refcount(kv_client_t *c) {
    kv_obj_t *o = object_lookup(c);
    if (o) kv_reply_int(c, is_shared_integer(o) ? 2147483647 : 1); /* the db, sole owner */
}

void kv_cmd_object_idletime(kv_client_t *c) {
    kv_obj_t *o = object_lookup(c);
    if (o == NULL) return;
    if (lfu_policy()) {
        kv_reply_error(c, "ERR An LFU maxmemory policy is selected, idle time not tracked. Please "
                          "note that when switching between policies at runtime LRU and LFU data "
                          "will take some time to adjust.");
        return;
    }
    kv_reply_int(c, (long long)(kv_obj_idle_ms(o) / 1000));
}

void kv_cmd_object_freq(kv_client_t *c) {
    kv_obj_t *o = object_lookup(c);
    if (o == NULL) return;
    if (!lfu_policy()) {
        kv_reply_error(c, "ERR An LFU maxmemory policy is not selected, access frequency not "
                          "tracked. Please note that when switching between policies at runtime "
                          "LRU and LFU data will take some time to adjust.");
        return;
    }
    kv_reply_int(c, kv_obj_lfu_freq(o));
}

void kv_cmd_object_help(kv_client_t *c) {
    static const char *const help[] = {
        "ENCODING <key>",
        "    Return the kind of internal representation used in order to store the value",
        "    associated with a <key>.",
        "FREQ <key>",
        "    Return the access frequency index of the <key>. The returned integer is",
        "    proportional to the logarithm of the recent access frequency of the key.",
        "IDLETIME <key>",
        "    Return the idle time of the <key>, that is the approximated number of",
        "    seconds elapsed since the last access to the key.",
        "REFCOUNT <key>",
        "    Return the number of references of the value associated with the specified",
        "    <key>.",
        NULL};
    kv_reply_help(c, help);
}
