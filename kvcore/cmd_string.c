/* SPDX-License-Identifier: MIT */
/*
 * cmd_string.c - string and bitmap commands: GET SET (NX XX GET EX PX EXAT PXAT KEEPTTL)
 * SETNX SETEX PSETEX GETSET GETDEL GETEX MGET MSET MSETNX INCR DECR INCRBY DECRBY
 * INCRBYFLOAT APPEND STRLEN GETRANGE SUBSTR SETRANGE GETBIT SETBIT BITCOUNT BITPOS.
 *
 * Each handler follows Redis 7.0's t_string.c / bitops.c step by step (argument
 * parsing order, which lookup counts a hit, which error wins when several apply), since
 * clients compare replies byte for byte. Values are written as new objects with the key
 * (and TTL) embedded; APPEND, SETRANGE and SETBIT make the value RAW and grow it in
 * place like Redis's sds, moving the object when its pointer changes (kv_db_replaced).
 */
#include "kv_internal.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define F_NX      (1u << 0)
#define F_XX      (1u << 1)
#define F_EX      (1u << 2)
#define F_PX      (1u << 3)
#define F_KEEPTTL (1u << 4)
#define F_GET     (1u << 5)
#define F_EXAT    (1u << 6)
#define F_PXAT    (1u << 7)
#define F_PERSIST (1u << 8)
#define F_ANY_EXP (F_EX | F_PX | F_EXAT | F_PXAT)

enum { CMD_SET, CMD_GET };

/* --- Helpers --- */

static void reply_obj_str(kv_client_t *c, const kv_obj_t *o) {
    char buf[24];
    size_t len;
    const char *s = kv_obj_str(o, buf, &len);
    kv_reply_bulk(c, s, len);
}

static int check_len(kv_client_t *c, unsigned long long size, unsigned long long append) {
    if (size + append > (unsigned long long)kv_srv.cfg.proto_max_bulk_len) {
        kv_reply_error(c, "ERR string exceeds maximum allowed size (proto-max-bulk-len)");
        return -ERANGE;
    }
    return 0;
}

static int parse_ext_args(kv_client_t *c, unsigned *flags, bool *ms_unit, const kv_arg_t **exp,
                          int type) {
    for (int j = type == CMD_GET ? 2 : 3; j < c->argc; j++) {
        const kv_arg_t *o = &c->argv[j];
        const kv_arg_t *next = j == c->argc - 1 ? NULL : &c->argv[j + 1];
        unsigned f = *flags;
        if (kv_arg_is(o, "nx") && !(f & F_XX) && type == CMD_SET) {
            *flags |= F_NX;
        } else if (kv_arg_is(o, "xx") && !(f & F_NX) && type == CMD_SET) {
            *flags |= F_XX;
        } else if (kv_arg_is(o, "get") && type == CMD_SET) {
            *flags |= F_GET;
        } else if (kv_arg_is(o, "keepttl") && !(f & F_PERSIST) && !(f & F_ANY_EXP) &&
                   type == CMD_SET) {
            *flags |= F_KEEPTTL;
        } else if (kv_arg_is(o, "persist") && type == CMD_GET && !(f & F_ANY_EXP) &&
                   !(f & F_KEEPTTL)) {
            *flags |= F_PERSIST;
        } else if (kv_arg_is(o, "ex") && !(f & (F_KEEPTTL | F_PERSIST | F_EXAT | F_PX | F_PXAT)) &&
                   next) {
            *flags |= F_EX;
            *exp = next;
            j++;
        } else if (kv_arg_is(o, "px") && !(f & (F_KEEPTTL | F_PERSIST | F_EX | F_EXAT | F_PXAT)) &&
                   next) {
            *flags |= F_PX;
            *ms_unit = true;
            *exp = next;
            j++;
        } else if (kv_arg_is(o, "exat") && !(f & (F_KEEPTTL | F_PERSIST | F_EX | F_PX | F_PXAT)) &&
                   next) {
            *flags |= F_EXAT;
            *exp = next;
            j++;
        } else if (kv_arg_is(o, "pxat") && !(f & (F_KEEPTTL | F_PERSIST | F_EX | F_EXAT | F_PX)) &&
                   next) {
            *flags |= F_PXAT;
            *ms_unit = true;
            *exp = next;
            j++;
        } else {
            kv_reply_syntax_err(c);
            return -EINVAL;
        }
    }
    return 0;
}

static void reply_expire_err(kv_client_t *c) {
    kv_reply_errorf(c, "ERR invalid expire time in '%s' command", c->cmd->fullname);
}

static int expire_ms_or_reply(kv_client_t *c, const kv_arg_t *exp, unsigned flags, bool ms_unit,
                              long long *out) {
    long long ms;
    if (kv_arg_ll_or_reply(c, exp, &ms, NULL) != 0) return -EINVAL;
    if (ms <= 0 || (!ms_unit && ms > LLONG_MAX / 1000)) {
        reply_expire_err(c);
        return -EINVAL;
    }
    if (!ms_unit) ms *= 1000;
    if (flags & (F_PX | F_EX)) {
        long long now = kv_srv.mstime;
        if (ms > LLONG_MAX - now) {
            reply_expire_err(c);
            return -EINVAL;
        }
        ms += now;
    }
    *out = ms;
    return 0;
}

/* Stores key = val; replies nothing. 0 or -ENOMEM (nothing stored). */
static int store_string(kv_client_t *c, const kv_arg_t *key, const kv_arg_t *val, int64_t exp,
                        bool keepttl) {
    kv_obj_t *o = kv_obj_new_string(key->ptr, key->len, val->ptr, val->len, exp);
    if (o == NULL || kv_db_set(c->db, o, keepttl) != 0) return -ENOMEM;
    return 0;
}

/*
 * A store failed after the old value was already replied (SET ... GET, GETSET): one
 * command must not get two replies, so the connection is closed instead.
 */
static void store_failed_after_reply(kv_client_t *c) {
    kv_log(KV_LOG_WARNING, "Out of memory storing a value; closing client id=%llu addr=%s",
           (unsigned long long)c->id, c->addr);
    kv_client_close_async(c);
}

static void set_generic(kv_client_t *c, unsigned flags, const kv_arg_t *key, const kv_arg_t *val,
                        const kv_arg_t *exp, bool ms_unit, const char *ok_reply,
                        const char *abort_reply) {
    long long ms = -1;
    if (exp && expire_ms_or_reply(c, exp, flags, ms_unit, &ms) != 0) return;
    if (flags & F_GET) {
        bool wrong;
        kv_obj_t *o = kv_lookup_type_or_reply(c, key, KV_TYPE_STRING, false, &wrong);
        if (wrong) return;
        if (o == NULL)
            kv_reply_null(c);
        else
            reply_obj_str(c, o);
    }
    /* Without NX/XX the existence test is kv_db_set's own lookup (one probe per SET). */
    bool found = (flags & (F_NX | F_XX)) && kv_db_lookup_write(c->db, key) != NULL;
    if (((flags & F_NX) && found) || ((flags & F_XX) && !found)) {
        if (!(flags & F_GET)) {
            if (abort_reply)
                kv_reply_raw(c, abort_reply, strlen(abort_reply));
            else
                kv_reply_null(c);
        }
        return;
    }
    if (store_string(c, key, val, exp ? ms : -1, (flags & F_KEEPTTL) != 0) != 0) {
        if (flags & F_GET)
            store_failed_after_reply(c);
        else
            kv_reply_oom(c);
        return;
    }
    kv_srv.dirty++;
    kv_notify_key_changed(c, key, KV_NOTIFY_STRING, "set");
    if (exp) kv_notify_keyspace_event(KV_NOTIFY_GENERIC, "expire", key->ptr, key->len, c->db->id);
    if (!(flags & F_GET)) {
        if (ok_reply)
            kv_reply_raw(c, ok_reply, strlen(ok_reply));
        else
            kv_reply_ok(c);
    }
}

/* --- GET / SET family --- */

void kv_cmd_get(kv_client_t *c) {
    bool wrong;
    kv_obj_t *o = kv_lookup_type_or_reply(c, &c->argv[1], KV_TYPE_STRING, false, &wrong);
    if (wrong) return;
    if (o == NULL)
        kv_reply_null(c);
    else
        reply_obj_str(c, o);
}

void kv_cmd_set(kv_client_t *c) {
    unsigned flags = 0;
    bool ms = false;
    const kv_arg_t *exp = NULL;
    if (parse_ext_args(c, &flags, &ms, &exp, CMD_SET) != 0) return;
    set_generic(c, flags, &c->argv[1], &c->argv[2], exp, ms, NULL, NULL);
}

void kv_cmd_setnx(kv_client_t *c) {
    set_generic(c, F_NX, &c->argv[1], &c->argv[2], NULL, false, ":1\r\n", ":0\r\n");
}

void kv_cmd_setex(kv_client_t *c) {
    set_generic(c, F_EX, &c->argv[1], &c->argv[3], &c->argv[2], false, NULL, NULL);
}

void kv_cmd_psetex(kv_client_t *c) {
    set_generic(c, F_PX, &c->argv[1], &c->argv[3], &c->argv[2], true, NULL, NULL);
}

void kv_cmd_getset(kv_client_t *c) {
    bool wrong;
    kv_obj_t *o = kv_lookup_type_or_reply(c, &c->argv[1], KV_TYPE_STRING, false, &wrong);
    if (wrong) return;
    if (o == NULL)
        kv_reply_null(c);
    else
        reply_obj_str(c, o);
    if (store_string(c, &c->argv[1], &c->argv[2], -1, false) != 0) {
        store_failed_after_reply(c);
        return;
    }
    kv_srv.dirty++;
    kv_notify_key_changed(c, &c->argv[1], KV_NOTIFY_STRING, "set");
}

void kv_cmd_getdel(kv_client_t *c) {
    bool wrong;
    kv_obj_t *o = kv_lookup_type_or_reply(c, &c->argv[1], KV_TYPE_STRING, false, &wrong);
    if (wrong) return;
    if (o == NULL) {
        kv_reply_null(c);
        return;
    }
    reply_obj_str(c, o);
    kv_db_delete(c->db, c->argv[1].ptr, c->argv[1].len);
    kv_srv.dirty++;
    kv_notify_key_changed(c, &c->argv[1], KV_NOTIFY_GENERIC, "del");
}

void kv_cmd_getex(kv_client_t *c) {
    unsigned flags = 0;
    bool ms_unit = false;
    const kv_arg_t *exp = NULL;
    if (parse_ext_args(c, &flags, &ms_unit, &exp, CMD_GET) != 0) return;
    bool wrong;
    kv_obj_t *o = kv_lookup_type_or_reply(c, &c->argv[1], KV_TYPE_STRING, false, &wrong);
    if (wrong) return;
    if (o == NULL) {
        kv_reply_null(c);
        return;
    }
    long long ms = 0;
    if (exp && expire_ms_or_reply(c, exp, flags, ms_unit, &ms) != 0) return;
    reply_obj_str(c, o);
    const char *event = NULL;
    if ((flags & (F_PXAT | F_EXAT)) && ms <= kv_srv.mstime) {
        kv_db_delete(c->db, c->argv[1].ptr, c->argv[1].len);
        event = "del";
    } else if (exp) {
        if (kv_db_set_expire(c->db, o, ms) != NULL) event = "expire";
    } else if ((flags & F_PERSIST) && kv_db_persist(c->db, o)) {
        event = "persist";
    }
    if (event == NULL) return;
    kv_srv.dirty++;
    kv_notify_key_changed(c, &c->argv[1], KV_NOTIFY_GENERIC, event);
}

void kv_cmd_mget(kv_client_t *c) {
    kv_reply_array_len(c, c->argc - 1);
    for (int j = 1; j < c->argc; j++) {
        kv_obj_t *o = kv_db_lookup_read(c->db, &c->argv[j]);
        if (o == NULL || o->type != KV_TYPE_STRING)
            kv_reply_null(c);
        else
            reply_obj_str(c, o);
    }
}

static void mset_generic(kv_client_t *c, bool nx) {
    if (c->argc % 2 == 0) {
        kv_reply_arity_err(c);
        return;
    }
    if (nx) {
        for (int j = 1; j < c->argc; j += 2) {
            if (kv_db_lookup_write(c->db, &c->argv[j]) != NULL) {
                kv_reply_int(c, 0);
                return;
            }
        }
    }
    for (int j = 1; j < c->argc; j += 2) {
        if (store_string(c, &c->argv[j], &c->argv[j + 1], -1, false) != 0) {
            kv_reply_oom(c);
            return;
        }
        kv_srv.dirty++;
        kv_notify_key_changed(c, &c->argv[j], KV_NOTIFY_STRING, "set");
    }
    if (nx)
        kv_reply_int(c, 1);
    else
        kv_reply_ok(c);
}

void kv_cmd_mset(kv_client_t *c) {
    mset_generic(c, false);
}

void kv_cmd_msetnx(kv_client_t *c) {
    mset_generic(c, true);
}

/* --- Counters --- */

static void incr_decr(kv_client_t *c, long long incr) {
    bool wrong;
    kv_obj_t *o = kv_lookup_type_or_reply(c, &c->argv[1], KV_TYPE_STRING, true, &wrong);
    if (wrong) return;
    long long value = 0;
    if (o != NULL && !kv_obj_get_ll(o, &value)) {
        kv_reply_not_int(c);
        return;
    }
    if ((incr < 0 && value < 0 && incr < LLONG_MIN - value) ||
        (incr > 0 && value > 0 && incr > LLONG_MAX - value)) {
        kv_reply_error(c, "ERR increment or decrement would overflow");
        return;
    }
    value += incr;
    /* Same integer width: update in place, no allocation (the common counter case). */
    if (o == NULL || !kv_obj_int_set_inplace(o, value)) {
        int64_t exp = o ? kv_obj_expire(o) : -1;
        kv_obj_t *n = kv_obj_new_int(c->argv[1].ptr, c->argv[1].len, value, exp);
        if (n == NULL || kv_db_set(c->db, n, false) != 0) {
            kv_reply_oom(c);
            return;
        }
    }
    kv_srv.dirty++;
    kv_notify_key_changed(c, &c->argv[1], KV_NOTIFY_STRING, "incrby");
    kv_reply_int(c, value);
}

void kv_cmd_incr(kv_client_t *c) {
    incr_decr(c, 1);
}

void kv_cmd_decr(kv_client_t *c) {
    incr_decr(c, -1);
}

void kv_cmd_incrby(kv_client_t *c) {
    long long incr;
    if (kv_arg_ll_or_reply(c, &c->argv[2], &incr, NULL) != 0) return;
    incr_decr(c, incr);
}

void kv_cmd_decrby(kv_client_t *c) {
    long long incr;
    if (kv_arg_ll_or_reply(c, &c->argv[2], &incr, NULL) != 0) return;
    if (incr == LLONG_MIN) {
        kv_reply_error(c, "ERR decrement would overflow");
        return;
    }
    incr_decr(c, -incr);
}

void kv_cmd_incrbyfloat(kv_client_t *c) {
    bool wrong;
    kv_obj_t *o = kv_lookup_type_or_reply(c, &c->argv[1], KV_TYPE_STRING, true, &wrong);
    if (wrong) return;
    long double value = 0, incr;
    if (o != NULL) {
        char buf[24];
        size_t len;
        long long ll;
        if (o->encoding == KV_ENC_INT && kv_obj_get_ll(o, &ll)) {
            value = (long double)ll;
        } else {
            const char *s = kv_obj_str(o, buf, &len);
            if (!kv_str2ld(s, len, &value)) {
                kv_reply_error(c, "ERR value is not a valid float");
                return;
            }
        }
    }
    if (!kv_str2ld(c->argv[2].ptr, c->argv[2].len, &incr)) {
        kv_reply_error(c, "ERR value is not a valid float");
        return;
    }
    value += incr;
    if (isnan(value) || isinf(value)) {
        kv_reply_error(c, "ERR increment would produce NaN or Infinity");
        return;
    }
    char out[5 * 1024];
    size_t n = kv_ld2str(out, sizeof(out), value);
    int64_t exp = o ? kv_obj_expire(o) : -1;
    kv_obj_t *no = kv_obj_new_string(c->argv[1].ptr, c->argv[1].len, out, n, exp);
    if (no == NULL || kv_db_set(c->db, no, false) != 0) {
        kv_reply_oom(c);
        return;
    }
    kv_srv.dirty++;
    kv_notify_key_changed(c, &c->argv[1], KV_NOTIFY_STRING, "incrbyfloat");
    kv_reply_bulk(c, out, n);
}

/* --- APPEND / STRLEN / ranges --- */

/* Makes o's value a growable RAW buffer of at least cap bytes; updates the tables. */
static kv_rstr_t *unshare_raw(kv_client_t *c, kv_obj_t **op, size_t cap) {
    kv_obj_t *old = *op;
    kv_rstr_t *s = kv_obj_str_make_raw(op, cap);
    if (s == NULL) {
        kv_reply_oom(c);
        return NULL;
    }
    if (*op != old) kv_db_replaced(c->db, old, *op);
    return s;
}

/*
 * Adds key as a new RAW string with room for cap bytes (length 0). The buffer is made
 * before the key is added, so an out-of-memory leaves no empty key behind. NULL after
 * replying OOM.
 */
static kv_rstr_t *add_raw_key(kv_client_t *c, const kv_arg_t *key, size_t cap) {
    kv_obj_t *o = kv_obj_new_raw_string(key->ptr, key->len, "", 0, -1);
    kv_rstr_t *s = o ? kv_obj_str_make_raw(&o, cap) : NULL;
    if (s == NULL) {
        kv_obj_free(o);
        kv_reply_oom(c);
        return NULL;
    }
    if (kv_db_add(c->db, o) != 0) { /* o freed */
        kv_reply_oom(c);
        return NULL;
    }
    return s;
}

void kv_cmd_append(kv_client_t *c) {
    const kv_arg_t *key = &c->argv[1], *val = &c->argv[2];
    bool wrong;
    kv_obj_t *o = kv_lookup_type_or_reply(c, key, KV_TYPE_STRING, true, &wrong);
    if (wrong) return;
    long long total;
    if (o == NULL) {
        if (store_string(c, key, val, -1, false) != 0) {
            kv_reply_oom(c);
            return;
        }
        total = (long long)val->len;
    } else {
        size_t cur = kv_obj_strlen(o);
        if (check_len(c, cur, val->len) != 0) return;
        kv_rstr_t *s = unshare_raw(c, &o, cur + val->len);
        if (s == NULL) return;
        memcpy(s->data + s->len, val->ptr, val->len);
        s->len += val->len;
        total = (long long)s->len;
    }
    kv_srv.dirty++;
    kv_notify_key_changed(c, key, KV_NOTIFY_STRING, "append");
    kv_reply_int(c, total);
}

void kv_cmd_strlen(kv_client_t *c) {
    bool wrong;
    kv_obj_t *o = kv_lookup_type_or_reply(c, &c->argv[1], KV_TYPE_STRING, false, &wrong);
    if (wrong) return;
    if (o == NULL)
        kv_reply_int(c, 0);
    else
        kv_reply_int(c, (long long)kv_obj_strlen(o));
}

void kv_cmd_getrange(kv_client_t *c) {
    long long start, end;
    if (kv_arg_ll_or_reply(c, &c->argv[2], &start, NULL) != 0) return;
    if (kv_arg_ll_or_reply(c, &c->argv[3], &end, NULL) != 0) return;
    bool wrong;
    kv_obj_t *o = kv_lookup_type_or_reply(c, &c->argv[1], KV_TYPE_STRING, false, &wrong);
    if (wrong) return;
    if (o == NULL) {
        kv_reply_bulk(c, "", 0);
        return;
    }
    char buf[24];
    size_t slen;
    const char *str = kv_obj_str(o, buf, &slen);
    long long len = (long long)slen;
    if (start < 0 && end < 0 && start > end) {
        kv_reply_bulk(c, "", 0);
        return;
    }
    if (start < 0) start = len + start;
    if (end < 0) end = len + end;
    if (start < 0) start = 0;
    if (end < 0) end = 0;
    if ((unsigned long long)end >= (unsigned long long)len) end = len - 1;
    if (start > end || len == 0)
        kv_reply_bulk(c, "", 0);
    else
        kv_reply_bulk(c, str + start, (size_t)(end - start + 1));
}

void kv_cmd_substr(kv_client_t *c) {
    kv_cmd_getrange(c);
}

void kv_cmd_setrange(kv_client_t *c) {
    long long offset;
    const kv_arg_t *val = &c->argv[3];
    if (kv_arg_ll_or_reply(c, &c->argv[2], &offset, NULL) != 0) return;
    if (offset < 0) {
        kv_reply_error(c, "ERR offset is out of range");
        return;
    }
    bool wrong;
    kv_obj_t *o = kv_lookup_type_or_reply(c, &c->argv[1], KV_TYPE_STRING, true, &wrong);
    if (wrong) return;
    size_t olen = 0;
    if (o == NULL) {
        if (val->len == 0) {
            kv_reply_int(c, 0);
            return;
        }
        if (check_len(c, (unsigned long long)offset, val->len) != 0) return;
    } else {
        olen = kv_obj_strlen(o);
        if (val->len == 0) {
            kv_reply_int(c, (long long)olen);
            return;
        }
        if (check_len(c, (unsigned long long)offset, val->len) != 0) return;
    }
    size_t need = (size_t)offset + val->len;
    kv_rstr_t *s = o ? unshare_raw(c, &o, need) : add_raw_key(c, &c->argv[1], need);
    if (s == NULL) return;
    if (s->len < need) {
        memset(s->data + s->len, 0, need - s->len);
        s->len = need;
    }
    memcpy(s->data + offset, val->ptr, val->len);
    kv_srv.dirty++;
    kv_notify_key_changed(c, &c->argv[1], KV_NOTIFY_STRING, "setrange");
    kv_reply_int(c, (long long)s->len);
}

/* --- Bits --- */

static int bit_offset_or_reply(kv_client_t *c, const kv_arg_t *a, uint64_t *out) {
    long long off;
    if (!kv_str2ll(a->ptr, a->len, &off) || off < 0 ||
        (off >> 3) >= kv_srv.cfg.proto_max_bulk_len) {
        kv_reply_error(c, "ERR bit offset is not an integer or out of range");
        return -EINVAL;
    }
    *out = (uint64_t)off;
    return 0;
}

void kv_cmd_getbit(kv_client_t *c) {
    uint64_t off;
    if (bit_offset_or_reply(c, &c->argv[2], &off) != 0) return;
    bool wrong;
    kv_obj_t *o = kv_lookup_type_or_reply(c, &c->argv[1], KV_TYPE_STRING, false, &wrong);
    if (wrong) return;
    if (o == NULL) {
        kv_reply_int(c, 0);
        return;
    }
    char buf[24];
    size_t len;
    const unsigned char *s = (const unsigned char *)kv_obj_str(o, buf, &len);
    size_t byte = off >> 3;
    int bit = 7 - (int)(off & 7);
    int val = byte < len ? (s[byte] >> bit) & 1 : 0;
    kv_reply_int(c, val);
}

void kv_cmd_setbit(kv_client_t *c) {
    uint64_t off;
    long long on;
    if (bit_offset_or_reply(c, &c->argv[2], &off) != 0) return;
    if (kv_arg_ll_or_reply(c, &c->argv[3], &on, "ERR bit is not an integer or out of range") != 0)
        return;
    if (on & ~1LL) {
        kv_reply_error(c, "ERR bit is not an integer or out of range");
        return;
    }
    bool wrong;
    kv_obj_t *o = kv_lookup_type_or_reply(c, &c->argv[1], KV_TYPE_STRING, true, &wrong);
    if (wrong) return;
    size_t byte = off >> 3;
    bool grew = o == NULL; /* created or lengthened: a change even if no bit flips */
    kv_rstr_t *s = o ? unshare_raw(c, &o, byte + 1) : add_raw_key(c, &c->argv[1], byte + 1);
    if (s == NULL) return;
    if (s->len < byte + 1) {
        memset(s->data + s->len, 0, byte + 1 - s->len);
        s->len = byte + 1;
        grew = true;
    }
    unsigned char *p = (unsigned char *)s->data + byte;
    int bit = 7 - (int)(off & 7);
    int old = (*p >> bit) & 1;
    *p = (unsigned char)((*p & ~(1 << bit)) | ((int)on << bit));
    if (grew || old != on) { /* as Redis 7.0: a write that changes nothing is not signalled */
        kv_srv.dirty++;
        kv_notify_key_changed(c, &c->argv[1], KV_NOTIFY_STRING, "setbit");
    }
    kv_reply_int(c, old);
}

static long long popcount(const unsigned char *p, size_t n) {
    long long count = 0;
    while (n >= 8) {
        uint64_t v;
        memcpy(&v, p, 8);
        count += __builtin_popcountll(v);
        p += 8;
        n -= 8;
    }
    while (n--)
        count += __builtin_popcount(*p++);
    return count;
}

/* Redis's redisBitpos: first bit equal to `bit`; for 0 in an all-ones run, count*8. */
static long long bitpos_raw(const unsigned char *p, size_t count, int bit) {
    for (size_t i = 0; i < count; i++) {
        unsigned char b = p[i];
        if (bit ? b != 0 : b != 0xFF) {
            for (int k = 7; k >= 0; k--)
                if (((b >> k) & 1) == bit) return (long long)i * 8 + (7 - k);
        }
    }
    return bit ? -1 : (long long)count * 8;
}

/* BITCOUNT and BITPOS's BYTE|BIT argument: 0 with *isbit set, or -EINVAL (replied). */
static int parse_bit_unit(kv_client_t *c, const kv_arg_t *a, bool *isbit) {
    if (kv_arg_is(a, "bit"))
        *isbit = true;
    else if (!kv_arg_is(a, "byte")) {
        kv_reply_syntax_err(c);
        return -EINVAL;
    }
    return 0;
}

/*
 * BITCOUNT and BITPOS's range as Redis 7.0 converts it over a string of len bytes:
 * negative indices count from the end (in bits with isbit), then both are clamped. In
 * bits, a non-empty range becomes bytes and masks of the first and last byte's bits
 * outside it.
 */
static void bit_range(long long len, bool isbit, long long *start, long long *end,
                      unsigned char *first_mask, unsigned char *last_mask) {
    long long totlen = isbit ? len << 3 : len;
    if (*start < 0) *start = totlen + *start;
    if (*end < 0) *end = totlen + *end;
    if (*start < 0) *start = 0;
    if (*end < 0) *end = 0;
    if (*end >= totlen) *end = totlen - 1;
    if (isbit && *start <= *end) {
        *first_mask = (unsigned char)(~((1 << (8 - (*start & 7))) - 1) & 0xFF);
        *last_mask = (unsigned char)((1 << (7 - (*end & 7))) - 1);
        *start >>= 3;
        *end >>= 3;
    }
}

/*
 * BITCOUNT key [start [end [BYTE|BIT]]] as Redis 7.2 parses it: every argument is checked
 * before the key is looked up (7.0 answered 0 for a missing key whatever followed it), in
 * the order start, unit, end, and a start without an end counts to the end of the string
 * (7.0: a syntax error).
 */
void kv_cmd_bitcount(kv_client_t *c) {
    long long start = 0, end = 0;
    bool isbit = false;
    if (c->argc > 5) {
        kv_reply_syntax_err(c);
        return;
    }
    if (c->argc >= 3) {
        if (kv_arg_ll_or_reply(c, &c->argv[2], &start, NULL) != 0) return;
        if (c->argc == 5 && parse_bit_unit(c, &c->argv[4], &isbit) != 0) return;
        if (c->argc >= 4 && kv_arg_ll_or_reply(c, &c->argv[3], &end, NULL) != 0) return;
    }
    bool wrong;
    kv_obj_t *o = kv_lookup_type_or_reply(c, &c->argv[1], KV_TYPE_STRING, false, &wrong);
    if (wrong) return;
    if (o == NULL) {
        kv_reply_int(c, 0);
        return;
    }
    char buf[24];
    size_t slen;
    const unsigned char *p = (const unsigned char *)kv_obj_str(o, buf, &slen);
    unsigned char first_mask = 0, last_mask = 0;
    if (c->argc >= 3) {
        if (c->argc == 3) end = (long long)slen - 1;
        if (start < 0 && end < 0 && start > end) {
            kv_reply_int(c, 0);
            return;
        }
        bit_range((long long)slen, isbit, &start, &end, &first_mask, &last_mask);
    } else {
        end = (long long)slen - 1;
    }
    if (start > end) {
        kv_reply_int(c, 0);
        return;
    }
    long long count = popcount(p + start, (size_t)(end - start + 1));
    if (first_mask || last_mask) {
        unsigned char fl[2] = {0, 0};
        if (first_mask) fl[0] = p[start] & first_mask;
        if (last_mask) fl[1] = p[end] & last_mask;
        count -= popcount(fl, 2);
    }
    kv_reply_int(c, count);
}

/*
 * BITPOS key bit [start [end [BYTE|BIT]]]: as BITCOUNT, every argument is checked (start,
 * unit, end) before the key is looked up, as Redis 7.2 does.
 */
void kv_cmd_bitpos(kv_client_t *c) {
    long long bit;
    if (kv_arg_ll_or_reply(c, &c->argv[2], &bit, NULL) != 0) return;
    if (bit != 0 && bit != 1) {
        kv_reply_error(c, "ERR The bit argument must be 1 or 0.");
        return;
    }
    long long start = 0, end = 0;
    bool isbit = false, end_given = c->argc >= 5;
    if (c->argc > 6) {
        kv_reply_syntax_err(c);
        return;
    }
    if (c->argc >= 4) {
        if (kv_arg_ll_or_reply(c, &c->argv[3], &start, NULL) != 0) return;
        if (c->argc == 6 && parse_bit_unit(c, &c->argv[5], &isbit) != 0) return;
        if (end_given && kv_arg_ll_or_reply(c, &c->argv[4], &end, NULL) != 0) return;
    }
    bool wrong;
    kv_obj_t *o = kv_lookup_type_or_reply(c, &c->argv[1], KV_TYPE_STRING, false, &wrong);
    if (wrong) return;
    if (o == NULL) {
        kv_reply_int(c, bit ? -1 : 0);
        return;
    }
    char buf[24];
    size_t slen;
    const unsigned char *p = (const unsigned char *)kv_obj_str(o, buf, &slen);
    unsigned char first_mask = 0, last_mask = 0;
    if (c->argc >= 4) {
        if (!end_given) end = (long long)slen - 1; /* no unit without an end: bytes */
        bit_range((long long)slen, isbit, &start, &end, &first_mask, &last_mask);
    } else {
        end = (long long)slen - 1;
    }
    if (start > end) {
        kv_reply_int(c, -1);
        return;
    }
    long long bytes = end - start + 1, pos;
    unsigned char tmp;
    if (first_mask) {
        tmp =
            bit ? (unsigned char)(p[start] & ~first_mask) : (unsigned char)(p[start] | first_mask);
        if (last_mask && bytes == 1)
            tmp = bit ? (unsigned char)(tmp & ~last_mask) : (unsigned char)(tmp | last_mask);
        pos = bitpos_raw(&tmp, 1, (int)bit);
        if (bytes == 1 || (pos != -1 && pos != 8)) goto result;
        start++;
        bytes--;
    }
    long long cur = bytes - (last_mask ? 1 : 0);
    if (cur > 0) {
        pos = bitpos_raw(p + start, (size_t)cur, (int)bit);
        if (bytes == cur || (pos != -1 && pos != cur << 3)) goto result;
        start += cur;
        bytes -= cur;
    }
    tmp = bit ? (unsigned char)(p[end] & ~last_mask) : (unsigned char)(p[end] | last_mask);
    pos = bitpos_raw(&tmp, 1, (int)bit);
result:
    if (end_given && bit == 0 && pos == bytes << 3) {
        kv_reply_int(c, -1);
        return;
    }
    if (pos != -1) pos += start << 3;
    kv_reply_int(c, pos);
}
