/* SPDX-License-Identifier: MIT */
/*
 * cmd_bits.c - BITOP (AND OR XOR NOT) and BITFIELD / BITFIELD_RO (GET SET INCRBY,
 * OVERFLOW WRAP|SAT|FAIL, types i1..i64 and u1..u63, "#N" offsets).
 *
 * Both follow Redis 7.0's bitops.c step by step: which argument is checked first, which
 * error text wins, when a key is looked up for reading or writing, and that a BITFIELD
 * with any SET/INCRBY grows (or creates) the string to its farthest written bit before
 * the first operation runs, even when every operation then fails with OVERFLOW FAIL.
 * Bit 0 of a string is the most significant bit of its first byte, as for SETBIT.
 */
#include "kv_internal.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

/* --- Bitfield arithmetic --- */

uint64_t kv_bf_get_unsigned(const unsigned char *p, uint64_t off, int bits) {
    uint64_t v = 0;
    for (int j = 0; j < bits; j++, off++)
        v = (v << 1) | ((p[off >> 3] >> (7 - (off & 7))) & 1u);
    return v;
}

int64_t kv_bf_get_signed(const unsigned char *p, uint64_t off, int bits) {
    uint64_t u = kv_bf_get_unsigned(p, off, bits);
    /* Sign-extend from bit bits-1 (two's complement). */
    if (bits < 64 && (u & ((uint64_t)1 << (bits - 1)))) u |= UINT64_MAX << bits;
    return (int64_t)u;
}

void kv_bf_set(unsigned char *p, uint64_t off, int bits, uint64_t v) {
    for (int j = 0; j < bits; j++, off++) {
        unsigned bit = (unsigned)((v >> (bits - 1 - j)) & 1u);
        unsigned shift = 7 - (unsigned)(off & 7);
        unsigned char *b = p + (off >> 3);
        *b = (unsigned char)((*b & ~(1u << shift)) | (bit << shift));
    }
}

int kv_bf_check_unsigned(uint64_t value, int64_t incr, int bits, int owtype, uint64_t *limit) {
    uint64_t max = bits >= 64 ? UINT64_MAX : ((uint64_t)1 << bits) - 1;
    int64_t maxincr = (int64_t)(max - value);
    int64_t minincr = (int64_t)(0 - value);
    int r;
    if (value > max || (incr > 0 && incr > maxincr))
        r = 1;
    else if (incr < 0 && incr < minincr)
        r = -1;
    else
        return 0;
    if (limit != NULL) {
        if (owtype == KV_BF_WRAP) {
            uint64_t mask = bits >= 64 ? 0 : UINT64_MAX << bits;
            *limit = (value + (uint64_t)incr) & ~mask;
            return 1; /* Redis reports a wrap as 1 either way */
        }
        if (owtype == KV_BF_SAT) *limit = r > 0 ? max : 0;
    }
    return r;
}

int kv_bf_check_signed(int64_t value, int64_t incr, int bits, int owtype, int64_t *limit) {
    int64_t max = bits >= 64 ? INT64_MAX : (int64_t)(((uint64_t)1 << (bits - 1)) - 1);
    int64_t min = -max - 1;
    /* May wrap: only used once value is known to be in range (then they are exact). */
    int64_t maxincr = (int64_t)((uint64_t)max - (uint64_t)value);
    int64_t minincr = (int64_t)((uint64_t)min - (uint64_t)value);
    int r;
    if (value > max || (bits != 64 && incr > maxincr) || (value >= 0 && incr > 0 && incr > maxincr))
        r = 1;
    else if (value < min || (bits != 64 && incr < minincr) ||
             (value < 0 && incr < 0 && incr < minincr))
        r = -1;
    else
        return 0;
    if (limit != NULL) {
        if (owtype == KV_BF_WRAP) {
            uint64_t c = (uint64_t)value + (uint64_t)incr;
            if (bits < 64) {
                uint64_t mask = UINT64_MAX << bits;
                if (c & ((uint64_t)1 << (bits - 1)))
                    c |= mask;
                else
                    c &= ~mask;
            }
            *limit = (int64_t)c;
            return 1;
        }
        if (owtype == KV_BF_SAT) *limit = r > 0 ? max : min;
    }
    return r;
}

/* --- Shared steps --- */

#define BIT_OFFSET_ERR "ERR bit offset is not an integer or out of range"

/* A bit offset, "#N" meaning N*bits when bits > 0; replies the error. 0 or -EINVAL. */
static int bf_offset_or_reply(kv_client_t *c, const kv_arg_t *a, int bits, uint64_t *out) {
    size_t skip = (a->len > 0 && a->ptr[0] == '#' && bits > 0) ? 1 : 0;
    long long off;
    if (!kv_str2ll(a->ptr + skip, a->len - skip, &off)) {
        kv_reply_error(c, BIT_OFFSET_ERR);
        return -EINVAL;
    }
    /* Redis multiplies in long long; wrap the same way without signed overflow. */
    if (skip) off = (long long)((unsigned long long)off * (unsigned long long)bits);
    if (off < 0 || (off >> 3) >= kv_srv.cfg.proto_max_bulk_len) {
        kv_reply_error(c, BIT_OFFSET_ERR);
        return -EINVAL;
    }
    *out = (uint64_t)off;
    return 0;
}

/* "i1".."i64" or "u1".."u63" (the digits read up to a NUL, as Redis does). */
static int bf_type_or_reply(kv_client_t *c, const kv_arg_t *a, bool *sign, int *bits) {
    long long n = 0;
    bool ok = a->len > 0 && (a->ptr[0] == 'i' || a->ptr[0] == 'u');
    if (ok) {
        *sign = a->ptr[0] == 'i';
        ok = kv_str2ll(a->ptr + 1, strnlen(a->ptr + 1, a->len - 1), &n) && n >= 1 &&
             n <= (*sign ? 64 : 63);
    }
    if (!ok) {
        kv_reply_error(c, "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 "
                          "is not supported but i64 is.");
        return -EINVAL;
    }
    *bits = (int)n;
    return 0;
}

/*
 * The writable value of key, at least byte+1 bytes long (zero-padded); a missing key is
 * created. *grew tells whether it was created or lengthened (a change even when no bit
 * flips). NULL when a reply was sent (WRONGTYPE, or OOM with the key unchanged).
 */
static kv_rstr_t *string_for_write(kv_client_t *c, const kv_arg_t *key, size_t byte, bool *grew) {
    *grew = true;
    bool wrong;
    kv_obj_t *o = kv_lookup_type_or_reply(c, key, KV_TYPE_STRING, true, &wrong);
    if (wrong) return NULL;
    kv_rstr_t *s;
    if (o == NULL) {
        o = kv_obj_new_raw_string(key->ptr, key->len, "", 0, -1);
        s = o ? kv_obj_str_make_raw(&o, byte + 1) : NULL;
        if (s == NULL) {
            kv_obj_free(o);
            kv_reply_oom(c);
            return NULL;
        }
        memset(s->data, 0, byte + 1);
        s->len = byte + 1;
        if (kv_db_add(c->db, o) != 0) {
            kv_reply_oom(c);
            return NULL;
        }
        return s;
    }
    kv_obj_t *old = o;
    s = kv_obj_str_make_raw(&o, byte + 1);
    if (s == NULL) {
        kv_reply_oom(c);
        return NULL;
    }
    if (o != old) kv_db_replaced(c->db, old, o);
    *grew = s->len < byte + 1;
    if (*grew) {
        memset(s->data + s->len, 0, byte + 1 - s->len);
        s->len = byte + 1;
    }
    return s;
}

/* --- BITOP --- */

enum { OP_AND, OP_OR, OP_XOR, OP_NOT };

typedef struct bitop_src {
    const unsigned char *p;
    size_t len;
    char ibuf[24];
} bitop_src_t;

static void bitop_compute(int op, const bitop_src_t *src, size_t n, size_t minlen, size_t maxlen,
                          unsigned char *res) {
    size_t j = 0;
    /* Whole 8-byte words while every source has data. */
    for (; j + 8 <= minlen; j += 8) {
        uint64_t w, x;
        memcpy(&w, src[0].p + j, 8);
        if (op == OP_NOT) w = ~w;
        for (size_t i = 1; i < n; i++) {
            memcpy(&x, src[i].p + j, 8);
            if (op == OP_AND)
                w &= x;
            else if (op == OP_OR)
                w |= x;
            else
                w ^= x;
        }
        memcpy(res + j, &w, 8);
    }
    for (; j < maxlen; j++) {
        unsigned char out = j < src[0].len ? src[0].p[j] : 0;
        if (op == OP_NOT) out = (unsigned char)~out;
        for (size_t i = 1; i < n; i++) {
            unsigned char b = j < src[i].len ? src[i].p[j] : 0;
            if (op == OP_AND)
                out &= b;
            else if (op == OP_OR)
                out |= b;
            else
                out ^= b;
        }
        res[j] = out;
    }
}

void kv_cmd_bitop(kv_client_t *c) {
    const kv_arg_t *opname = &c->argv[1], *dest = &c->argv[2];
    int op;
    if (kv_arg_is(opname, "and"))
        op = OP_AND;
    else if (kv_arg_is(opname, "or"))
        op = OP_OR;
    else if (kv_arg_is(opname, "xor"))
        op = OP_XOR;
    else if (kv_arg_is(opname, "not"))
        op = OP_NOT;
    else {
        kv_reply_syntax_err(c);
        return;
    }
    if (op == OP_NOT && c->argc != 4) {
        kv_reply_error(c, "ERR BITOP NOT must be called with a single source key.");
        return;
    }
    size_t n = (size_t)c->argc - 3, maxlen = 0, minlen = 0;
    bitop_src_t *src = malloc(n * sizeof(*src));
    if (src == NULL) {
        kv_reply_oom(c);
        return;
    }
    for (size_t j = 0; j < n; j++) {
        bool wrong;
        kv_obj_t *o = kv_lookup_type_or_reply(c, &c->argv[j + 3], KV_TYPE_STRING, false, &wrong);
        if (wrong) {
            free(src);
            return;
        }
        src[j].p = NULL;
        src[j].len = 0;
        if (o == NULL) {
            minlen = 0;
            continue;
        }
        src[j].p = (const unsigned char *)kv_obj_str(o, src[j].ibuf, &src[j].len);
        if (src[j].len > maxlen) maxlen = src[j].len;
        if (j == 0 || src[j].len < minlen) minlen = src[j].len;
    }
    if (maxlen == 0) {
        free(src);
        kv_notify_store_empty(c, dest);
        kv_reply_int(c, 0);
        return;
    }
    kv_obj_t *o = kv_obj_new_raw_string(dest->ptr, dest->len, "", 0, -1);
    kv_rstr_t *s = o ? kv_obj_str_make_raw(&o, maxlen) : NULL;
    if (s == NULL) {
        kv_obj_free(o);
        free(src);
        kv_reply_oom(c);
        return;
    }
    bitop_compute(op, src, n, minlen, maxlen, (unsigned char *)s->data);
    s->len = maxlen;
    free(src);
    if (kv_db_set(c->db, o, false) != 0) {
        kv_reply_oom(c);
        return;
    }
    kv_notify_key_changed(c, dest, KV_NOTIFY_STRING, "set");
    kv_srv.dirty++;
    kv_reply_int(c, (long long)maxlen);
}

/* --- BITFIELD / BITFIELD_RO --- */

enum { BF_GET, BF_SET, BF_INCRBY };

typedef struct bf_op {
    uint64_t offset;
    int64_t arg; /* SET value or INCRBY increment */
    int opcode, owtype, bits;
    bool sign;
} bf_op_t;

/* Runs one SET or INCRBY on the grown string p and replies its result (nil on FAIL).
 * Returns whether the field's value changed. */
static bool bf_write_op(kv_client_t *c, unsigned char *p, const bf_op_t *op, bool *failed) {
    bool overflow, changed;
    long long ret;
    *failed = false;
    if (op->sign) {
        int64_t oldval = kv_bf_get_signed(p, op->offset, op->bits), newval, wrapped = 0;
        if (op->opcode == BF_INCRBY) {
            overflow = kv_bf_check_signed(oldval, op->arg, op->bits, op->owtype, &wrapped) != 0;
            newval = overflow ? wrapped : (int64_t)((uint64_t)oldval + (uint64_t)op->arg);
            ret = newval;
        } else {
            newval = op->arg;
            overflow = kv_bf_check_signed(newval, 0, op->bits, op->owtype, &wrapped) != 0;
            if (overflow) newval = wrapped;
            ret = oldval;
        }
        if (overflow && op->owtype == KV_BF_FAIL) {
            kv_reply_null(c);
            *failed = true;
            return false;
        }
        kv_bf_set(p, op->offset, op->bits, (uint64_t)newval);
        changed = newval != oldval;
    } else {
        uint64_t oldval = kv_bf_get_unsigned(p, op->offset, op->bits), newval, wrapped = 0;
        if (op->opcode == BF_INCRBY) {
            newval = oldval + (uint64_t)op->arg;
            overflow = kv_bf_check_unsigned(oldval, op->arg, op->bits, op->owtype, &wrapped) != 0;
            if (overflow) newval = wrapped;
            ret = (long long)newval;
        } else {
            newval = (uint64_t)op->arg;
            overflow = kv_bf_check_unsigned(newval, 0, op->bits, op->owtype, &wrapped) != 0;
            if (overflow) newval = wrapped;
            ret = (long long)oldval;
        }
        if (overflow && op->owtype == KV_BF_FAIL) {
            kv_reply_null(c);
            *failed = true;
            return false;
        }
        kv_bf_set(p, op->offset, op->bits, newval);
        changed = newval != oldval;
    }
    kv_reply_int(c, ret);
    return changed;
}

/* GET reads through a zero-padded 9-byte window, so fields past the end read as 0. */
static void bf_get_op(kv_client_t *c, const unsigned char *src, size_t len, const bf_op_t *op) {
    unsigned char buf[9] = {0};
    uint64_t byte = op->offset >> 3;
    for (uint64_t i = 0; i < 9 && src != NULL && byte + i < len; i++)
        buf[i] = src[byte + i];
    uint64_t off = op->offset - byte * 8;
    if (op->sign)
        kv_reply_int(c, kv_bf_get_signed(buf, off, op->bits));
    else
        kv_reply_int(c, (long long)kv_bf_get_unsigned(buf, off, op->bits));
}

static void bitfield_generic(kv_client_t *c, bool ro_cmd) {
    bf_op_t *ops = malloc((size_t)(c->argc / 2 + 1) * sizeof(*ops));
    if (ops == NULL) {
        kv_reply_oom(c);
        return;
    }
    int numops = 0, owtype = KV_BF_WRAP;
    bool readonly = true;
    uint64_t highest = 0;
    for (int j = 2; j < c->argc; j++) {
        int remargs = c->argc - j - 1, opcode;
        const kv_arg_t *sub = &c->argv[j];
        if (kv_arg_is(sub, "get") && remargs >= 2) {
            opcode = BF_GET;
        } else if (kv_arg_is(sub, "set") && remargs >= 3) {
            opcode = BF_SET;
        } else if (kv_arg_is(sub, "incrby") && remargs >= 3) {
            opcode = BF_INCRBY;
        } else if (kv_arg_is(sub, "overflow") && remargs >= 1) {
            const kv_arg_t *t = &c->argv[++j];
            if (kv_arg_is(t, "wrap")) {
                owtype = KV_BF_WRAP;
            } else if (kv_arg_is(t, "sat")) {
                owtype = KV_BF_SAT;
            } else if (kv_arg_is(t, "fail")) {
                owtype = KV_BF_FAIL;
            } else {
                kv_reply_error(c, "ERR Invalid OVERFLOW type specified");
                free(ops);
                return;
            }
            continue;
        } else {
            kv_reply_syntax_err(c);
            free(ops);
            return;
        }
        bf_op_t *op = &ops[numops];
        long long arg = 0;
        if (bf_type_or_reply(c, &c->argv[j + 1], &op->sign, &op->bits) != 0 ||
            bf_offset_or_reply(c, &c->argv[j + 2], op->bits, &op->offset) != 0) {
            free(ops);
            return;
        }
        if (opcode != BF_GET) {
            readonly = false;
            if (highest < op->offset + (uint64_t)op->bits - 1)
                highest = op->offset + (uint64_t)op->bits - 1;
            if (kv_arg_ll_or_reply(c, &c->argv[j + 3], &arg, NULL) != 0) {
                free(ops);
                return;
            }
        }
        op->arg = arg;
        op->opcode = opcode;
        op->owtype = owtype;
        numops++;
        j += opcode == BF_GET ? 2 : 3;
    }

    const unsigned char *src = NULL;
    size_t len = 0;
    char ibuf[24];
    kv_rstr_t *s = NULL;
    bool grew = false;
    if (readonly) {
        bool wrong;
        kv_obj_t *o = kv_lookup_type_or_reply(c, &c->argv[1], KV_TYPE_STRING, false, &wrong);
        if (wrong) {
            free(ops);
            return;
        }
        if (o != NULL) src = (const unsigned char *)kv_obj_str(o, ibuf, &len);
    } else {
        if (ro_cmd) {
            free(ops);
            kv_reply_error(c, "ERR BITFIELD_RO only supports the GET subcommand");
            return;
        }
        s = string_for_write(c, &c->argv[1], (size_t)(highest >> 3), &grew);
        if (s == NULL) {
            free(ops);
            return;
        }
    }

    kv_reply_array_len(c, numops);
    long long changes = 0;
    bool failed;
    for (int j = 0; j < numops; j++) {
        if (ops[j].opcode == BF_GET)
            bf_get_op(c, s ? (const unsigned char *)s->data : src, s ? s->len : len, &ops[j]);
        else if (bf_write_op(c, (unsigned char *)s->data, &ops[j], &failed) || (grew && !failed))
            changes++;
    }
    free(ops);
    if (changes) {
        kv_notify_key_changed(c, &c->argv[1], KV_NOTIFY_STRING, "setbit");
        kv_srv.dirty += changes;
    }
}

void kv_cmd_bitfield(kv_client_t *c) {
    bitfield_generic(c, false);
}

void kv_cmd_bitfield_ro(kv_client_t *c) {
    bitfield_generic(c, true);
}
