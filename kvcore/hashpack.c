/* SPDX-License-Identifier: MIT */
/*
 * hashpack.c - encoding, walking, listpack conversion and validation of the compact form
 * of small hashes (the layout is described in hashpack.h).
 *
 * Why not a listpack: a listpack entry carries a back-length so it can be walked from the
 * end, and the blob a 6-byte header and an end byte; a hash never walks backwards and
 * keeps its count, so those bytes buy nothing here. Dropping them and embedding the pack
 * in the object (no separate allocation, no value pointer) is what brings a 10-field hash
 * from 235 to about 170 bytes per key (docs/benchmarks.md). The tag space keeps the common
 * case, a string below 192 bytes, to one compare on the walk.
 */
#include "hashpack.h"

#include <errno.h>
#include <string.h>

/* --- Integers --- */

/* Bytes of the shortest little-endian two's complement form of v (1..8). */
static size_t int_width(int64_t v) {
    uint64_t u = v < 0 ? ~(uint64_t)v : (uint64_t)v;
    size_t bits = u == 0 ? 0 : 64 - (size_t)__builtin_clzll(u);
    return (bits + 8) / 8; /* one more bit for the sign */
}

static int64_t read_int(const uint8_t *p) {
    unsigned t = p[0];
    if (t < KV_HPK_INT) return (int64_t)(t - KV_HPK_IMM);
    size_t w = t - (KV_HPK_INT - 1);
    uint64_t u = 0;
    for (size_t i = 0; i < w; i++)
        u |= (uint64_t)p[1 + i] << (8 * i);
    if (w < 8 && (u >> (8 * w - 1)) & 1) u |= ~(uint64_t)0 << (8 * w); /* sign-extend */
    return (int64_t)u;
}

static void encode_int(int64_t v, kv_hpk_enc_t *e) {
    e->data = NULL;
    e->datalen = 0;
    if (v >= 0 && v < (int64_t)(KV_HPK_INT - KV_HPK_IMM)) {
        e->hdr[0] = (uint8_t)(KV_HPK_IMM + (unsigned)v);
        e->hdrlen = 1;
        return;
    }
    size_t w = int_width(v);
    uint64_t u = (uint64_t)v;
    e->hdr[0] = (uint8_t)(KV_HPK_INT - 1 + w);
    for (size_t i = 0; i < w; i++)
        e->hdr[1 + i] = (uint8_t)(u >> (8 * i));
    e->hdrlen = 1 + w;
}

/* --- Encoding --- */

static void encode_str(const void *s, size_t len, kv_hpk_enc_t *e) {
    if (len <= KV_HPK_STR_MAX) {
        e->hdr[0] = (uint8_t)len;
        e->hdrlen = 1;
    } else if (len <= UINT16_MAX) {
        e->hdr[0] = KV_HPK_STR16;
        kv_wr16(e->hdr + 1, (uint16_t)len);
        e->hdrlen = 3;
    } else {
        e->hdr[0] = KV_HPK_STR32;
        kv_wr32(e->hdr + 1, (uint32_t)len);
        e->hdrlen = 5;
    }
    e->data = s;
    e->datalen = len;
}

int kv_hpk_encode(kv_hpk_enc_t *e, const void *s, size_t len) {
    int64_t v;
    if (kv_lp_str_to_int(s, len, &v)) {
        encode_int(v, e);
        return 0;
    }
    if (len > KV_HPK_LEN_MAX) return -ERANGE;
    encode_str(s, len, e);
    return 0;
}

uint8_t *kv_hpk_write(uint8_t *p, const kv_hpk_enc_t *e) {
    memcpy(p, e->hdr, e->hdrlen);
    p += e->hdrlen;
    if (e->datalen != 0) memcpy(p, e->data, e->datalen);
    return p + e->datalen;
}

/* --- The count --- */

const uint8_t *kv_hpk_count_slow(const uint8_t *pack, size_t *n) {
    size_t v = 0;
    unsigned shift = 0;
    const uint8_t *p = pack;
    do {
        v |= (size_t)(*p & 0x7Fu) << shift;
        shift += 7;
    } while (*p++ & 0x80u);
    *n = v;
    return p;
}

size_t kv_hpk_count_bytes(size_t n) {
    size_t b = 1;
    while (n >= 0x80) {
        n >>= 7;
        b++;
    }
    return b;
}

uint8_t *kv_hpk_put_count(uint8_t *p, size_t n) {
    while (n >= 0x80) {
        *p++ = (uint8_t)(n | 0x80u);
        n >>= 7;
    }
    *p++ = (uint8_t)n;
    return p;
}

/* --- Walking --- */

const uint8_t *kv_hpk_skip_pairs(const uint8_t *p, size_t pairs) {
    for (size_t i = 0; i < 2 * pairs; i++)
        p = kv_hpk_skip(p);
    return p;
}

const uint8_t *kv_hpk_get(const uint8_t *p, kv_lp_val_t *v) {
    unsigned t = p[0];
    v->ival = 0;
    if (t <= KV_HPK_STR_MAX) {
        v->str = p + 1;
        v->len = t;
        return p + 1 + t;
    }
    if (t < KV_HPK_STR16) {
        v->str = NULL;
        v->len = 0;
        v->ival = read_int(p);
        return kv_hpk_skip(p);
    }
    size_t hdr = t == KV_HPK_STR16 ? 3 : 5;
    v->str = p + hdr;
    v->len = t == KV_HPK_STR16 ? kv_rd16(p + 1) : kv_rd32(p + 1);
    return p + hdr + v->len;
}

const uint8_t *kv_hpk_get_bytes(const uint8_t *p, char *ibuf, const char **s, size_t *len) {
    unsigned t = p[0];
    if (KV_LIKELY(t <= KV_HPK_STR_MAX)) {
        *s = (const char *)p + 1;
        *len = t;
        return p + 1 + t;
    }
    kv_lp_val_t v;
    const uint8_t *next = kv_hpk_get(p, &v);
    if (v.str != NULL) {
        *s = (const char *)v.str;
        *len = v.len;
    } else {
        *len = kv_lp_int_to_str(v.ival, ibuf);
        *s = ibuf;
    }
    return next;
}

const uint8_t *kv_hpk_find(const uint8_t *p, size_t pairs, const void *f, size_t flen,
                           size_t *idx) {
    int f_int = -1; /* whether f is a canonical integer: decided at the first integer entry */
    int64_t fv = 0;
    for (size_t i = 0; i < pairs; i++) {
        unsigned t = p[0];
        if (KV_LIKELY(t <= KV_HPK_STR_MAX)) {
            if (t == flen && memcmp(p + 1, f, flen) == 0) {
                *idx = i;
                return p;
            }
        } else if (t < KV_HPK_STR16) {
            if (f_int < 0) f_int = kv_lp_str_to_int(f, flen, &fv);
            if (f_int && read_int(p) == fv) {
                *idx = i;
                return p;
            }
        } else {
            kv_lp_val_t v;
            kv_hpk_get(p, &v);
            if (v.len == flen && memcmp(v.str, f, flen) == 0) {
                *idx = i;
                return p;
            }
        }
        p = kv_hpk_skip(kv_hpk_skip(p));
    }
    *idx = pairs;
    return p;
}

size_t kv_hpk_bytes(const uint8_t *pack) {
    size_t n;
    const uint8_t *p = kv_hpk_count(pack, &n);
    return (size_t)(kv_hpk_skip_pairs(p, n) - pack);
}

/* --- Listpacks --- */

size_t kv_hpk_lp_bytes(const uint8_t *pack) {
    size_t n;
    const uint8_t *p = kv_hpk_count(pack, &n);
    size_t bytes = KV_LP_HEADER_BYTES + 1;
    for (size_t i = 0; i < 2 * n; i++) {
        kv_lp_val_t v;
        p = kv_hpk_get(p, &v);
        bytes += kv_lp_entry_bytes(&v);
    }
    return bytes;
}

void kv_hpk_to_lp(const uint8_t *pack, uint8_t *lp, size_t bytes) {
    size_t n;
    const uint8_t *p = kv_hpk_count(pack, &n);
    uint8_t *dst = lp + KV_LP_HEADER_BYTES;
    for (size_t i = 0; i < 2 * n; i++) {
        kv_lp_val_t v;
        p = kv_hpk_get(p, &v);
        dst = kv_lp_put(dst, &v);
    }
    kv_lp_init_header(lp, bytes, 2 * n);
}

/* --- Validation --- */

/* Size of the entry at p when it is well formed, canonical and within avail; else 0. */
static size_t valid_entry(const uint8_t *p, size_t avail) {
    if (avail < 1) return 0;
    unsigned t = p[0];
    size_t hdr, len = 0;
    if (t <= KV_HPK_STR_MAX) {
        hdr = 1;
        len = t;
    } else if (t < KV_HPK_INT) {
        return 1;
    } else if (t < KV_HPK_STR16) {
        hdr = 1 + (t - (KV_HPK_INT - 1));
        if (hdr > avail) return 0;
        int64_t v = read_int(p);
        if ((v >= 0 && v < (int64_t)(KV_HPK_INT - KV_HPK_IMM)) || int_width(v) != hdr - 1) return 0;
        return hdr;
    } else if (t == KV_HPK_STR16) {
        hdr = 3;
        if (hdr > avail) return 0;
        len = kv_rd16(p + 1);
        if (len <= KV_HPK_STR_MAX) return 0;
    } else if (t == KV_HPK_STR32) {
        hdr = 5;
        if (hdr > avail) return 0;
        len = kv_rd32(p + 1);
        if (len <= UINT16_MAX) return 0;
    } else {
        return 0;
    }
    if (len > avail - hdr) return 0;
    int64_t v;
    if (kv_lp_str_to_int(p + hdr, len, &v)) return 0; /* would have been an integer */
    return hdr + len;
}

int kv_hpk_validate(const uint8_t *pack, size_t avail, size_t *used) {
    size_t n = 0, off = 0;
    unsigned shift = 0;
    for (;;) {
        if (off >= avail || shift > 63) return -EPROTO;
        uint8_t b = pack[off++];
        if (shift > 0 && b == 0) return -EPROTO; /* not the shortest form */
        n |= (size_t)(b & 0x7Fu) << shift;
        shift += 7;
        if (!(b & 0x80u)) break;
    }
    if (n > avail) return -EPROTO; /* every pair takes at least 2 bytes */
    for (size_t i = 0; i < 2 * n; i++) {
        size_t l = valid_entry(pack + off, avail - off);
        if (l == 0) return -EPROTO;
        off += l;
    }
    *used = off;
    return 0;
}
