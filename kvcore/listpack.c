/* SPDX-License-Identifier: MIT */
/*
 * listpack.c - strings and integers packed in one length-prefixed byte array.
 *
 * Entry encodings (first byte of an entry):
 *   0xxxxxxx                    7-bit unsigned integer
 *   10LLLLLL + bytes            string of up to 63 bytes
 *   110xxxxx xxxxxxxx           13-bit signed integer
 *   1110LLLL LLLLLLLL + bytes   string of up to 4095 bytes
 *   0xF0 + u32 len + bytes      longer string
 *   0xF1/F2/F3/F4 + 2/3/4/8     int16 / int24 / int32 / int64, little-endian
 *   0xFF                        end of the listpack (never an entry)
 * Then backlen: the entry's encoding+data size, 7 bits per byte, most significant first,
 * every byte but the first with bit 7 set, so a reader coming from the right stops at
 * the first byte without it. Invariant: header bytes = blob size; the count is exact or
 * 65535. Validation recomputes every size from the bytes it has seen, never beyond len.
 */
#include "listpack.h"
#include "kv_util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define EOF_BYTE      0xFFu
#define COUNT_UNKNOWN 65535u
#define EMPTY_BYTES   (KV_LP_HEADER_BYTES + 1)
#define MAX_BACKLEN   5

/* --- Sizes --- */

/*
 * Size of an entry's encoding + data, reading at most avail bytes from p; 0 if the
 * encoding is invalid or does not fit (no valid entry has size 0).
 */
static size_t entry_enclen(const uint8_t *p, size_t avail) {
    if (avail < 1) return 0;
    uint8_t b = p[0];
    size_t hdr, data = 0;
    if (b < 0x80) return 1;
    if ((b & 0xC0) == 0x80) {
        hdr = 1;
        data = b & 0x3Fu;
    } else if ((b & 0xE0) == 0xC0) {
        hdr = 2;
    } else if ((b & 0xF0) == 0xE0) {
        if (avail < 2) return 0;
        hdr = 2;
        data = (size_t)(b & 0x0Fu) << 8 | p[1];
    } else {
        switch (b) {
        case 0xF0:
            if (avail < 5) return 0;
            hdr = 5;
            data = kv_rd32(p + 1);
            break;
        case 0xF1: hdr = 3; break;
        case 0xF2: hdr = 4; break;
        case 0xF3: hdr = 5; break;
        case 0xF4: hdr = 9; break;
        default: return 0;
        }
    }
    if (hdr > avail || data > avail - hdr) return 0;
    return hdr + data;
}

static inline size_t backlen_size(size_t l) {
    if (l < 128) return 1;
    if (l < 16384) return 2;
    if (l < 2097152) return 3;
    if (l < 268435456) return 4;
    return 5;
}

static void write_backlen(uint8_t *dst, size_t l) {
    size_t n = backlen_size(l);
    dst[0] = (uint8_t)((l >> (7 * (n - 1))) & 127);
    for (size_t i = 1; i < n; i++)
        dst[i] = (uint8_t)(((l >> (7 * (n - 1 - i))) & 127) | 128);
}

/* Reads a backlen whose last byte is at q (trusted listpack). */
static size_t read_backlen(const uint8_t *q) {
    size_t v = 0;
    for (unsigned shift = 0; shift < 7 * MAX_BACKLEN; shift += 7, q--) {
        v |= (size_t)(*q & 127u) << shift;
        if (!(*q & 128u)) break;
    }
    return v;
}

/* Whole size of the entry at p (trusted listpack). */
static inline size_t entry_size(const uint8_t *p) {
    size_t l = entry_enclen(p, SIZE_MAX);
    return l + backlen_size(l);
}

static inline size_t lp_bytes(const uint8_t *lp) {
    return kv_rd32(lp);
}

/* --- Integers as strings --- */

size_t kv_lp_int_to_str(int64_t v, char *buf) {
    return kv_ll2str(buf, (long long)v);
}

bool kv_lp_str_to_int(const void *s, size_t len, int64_t *out) {
    const uint8_t *c = s;
    if (len == 0 || len > 20) return false;
    bool neg = c[0] == '-';
    size_t i = neg ? 1 : 0;
    if (i == len) return false;
    if (c[i] == '0') {
        if (len == 1) {
            *out = 0;
            return true;
        }
        return false; /* leading zero or "-0" */
    }
    uint64_t v = 0;
    for (; i < len; i++) {
        if (c[i] < '0' || c[i] > '9') return false;
        uint64_t d = (uint64_t)(c[i] - '0');
        if (v > (UINT64_MAX - d) / 10) return false;
        v = v * 10 + d;
    }
    if (neg) {
        if (v > (uint64_t)INT64_MAX + 1) return false;
        *out = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
    } else {
        if (v > (uint64_t)INT64_MAX) return false;
        *out = (int64_t)v;
    }
    return true;
}

/* --- Encoding new entries --- */

typedef struct enc {
    uint8_t hdr[9];
    size_t hdrlen;
    const uint8_t *data;
    size_t datalen;
} enc_t;

static void encode_int(int64_t v, enc_t *e) {
    e->data = NULL;
    e->datalen = 0;
    uint64_t u = (uint64_t)v;
    if (v >= 0 && v <= 127) {
        e->hdr[0] = (uint8_t)v;
        e->hdrlen = 1;
    } else if (v >= -4096 && v <= 4095) {
        u &= 0x1FFFu;
        e->hdr[0] = (uint8_t)(0xC0u | (u >> 8));
        e->hdr[1] = (uint8_t)u;
        e->hdrlen = 2;
    } else {
        size_t n;
        if (v >= INT16_MIN && v <= INT16_MAX) {
            e->hdr[0] = 0xF1;
            n = 2;
        } else if (v >= -8388608 && v <= 8388607) {
            e->hdr[0] = 0xF2;
            n = 3;
        } else if (v >= INT32_MIN && v <= INT32_MAX) {
            e->hdr[0] = 0xF3;
            n = 4;
        } else {
            e->hdr[0] = 0xF4;
            n = 8;
        }
        for (size_t i = 0; i < n; i++)
            e->hdr[1 + i] = (uint8_t)(u >> (8 * i));
        e->hdrlen = 1 + n;
    }
}

/* A string entry of len bytes (len <= UINT32_MAX): its 1, 2 or 5-byte header and data. */
static void encode_str_bytes(const void *s, size_t len, enc_t *e) {
    if (len < 64) {
        e->hdr[0] = (uint8_t)(0x80u | len);
        e->hdrlen = 1;
    } else if (len < 4096) {
        e->hdr[0] = (uint8_t)(0xE0u | (len >> 8));
        e->hdr[1] = (uint8_t)len;
        e->hdrlen = 2;
    } else {
        e->hdr[0] = 0xF0;
        kv_wr32(e->hdr + 1, (uint32_t)len);
        e->hdrlen = 5;
    }
    e->data = s;
    e->datalen = len;
}

static int encode_str(const void *s, size_t len, enc_t *e) {
    int64_t v;
    if (kv_lp_str_to_int(s, len, &v)) {
        encode_int(v, e);
        return 0;
    }
    if (len > UINT32_MAX) return -ERANGE;
    encode_str_bytes(s, len, e);
    return 0;
}

/* --- Resizing --- */

/*
 * Makes the region [off, off+oldlen) newlen bytes long, moving the tail, and updates the
 * byte count. The new region's bytes are the caller's to write. 0, -ENOMEM or -ERANGE.
 */
static int splice(uint8_t **lpp, size_t off, size_t oldlen, size_t newlen) {
    uint8_t *lp = *lpp;
    size_t bytes = lp_bytes(lp);
    if (newlen > oldlen && newlen - oldlen > UINT32_MAX - bytes) return -ERANGE;
    size_t nbytes = bytes - oldlen + newlen;
    size_t tail = bytes - off - oldlen;
    if (newlen > oldlen) {
        lp = realloc(lp, nbytes);
        if (lp == NULL) return -ENOMEM;
        memmove(lp + off + newlen, lp + off + oldlen, tail);
    } else if (newlen < oldlen) {
        memmove(lp + off + newlen, lp + off + oldlen, tail);
        uint8_t *shrunk = realloc(lp, nbytes);
        if (shrunk != NULL) lp = shrunk; /* else keep the larger block */
    }
    kv_wr32(lp, (uint32_t)nbytes);
    *lpp = lp;
    return 0;
}

static size_t count_entries(const uint8_t *lp) {
    size_t n = 0;
    for (const uint8_t *p = lp + KV_LP_HEADER_BYTES; *p != EOF_BYTE; p += entry_size(p))
        n++;
    return n;
}

/* Adjusts the header count; an unknown count is recounted when it may fit again. */
static void add_count(uint8_t *lp, long delta) {
    size_t c = kv_rd16(lp + 4);
    if (c == COUNT_UNKNOWN) {
        if (delta > 0) return;
        c = count_entries(lp);
    } else {
        c = (size_t)((long)c + delta);
    }
    kv_wr16(lp + 4, (uint16_t)(c >= COUNT_UNKNOWN ? COUNT_UNKNOWN : c));
}

static int insert_enc(uint8_t **lpp, size_t off, const enc_t *e, uint8_t **newp) {
    size_t l = e->hdrlen + e->datalen;
    int rc = splice(lpp, off, 0, l + backlen_size(l));
    if (rc != 0) return rc;
    uint8_t *dst = *lpp + off;
    memcpy(dst, e->hdr, e->hdrlen);
    if (e->datalen != 0) memcpy(dst + e->hdrlen, e->data, e->datalen);
    write_backlen(dst + l, l);
    add_count(*lpp, 1);
    if (newp != NULL) *newp = dst;
    return 0;
}

static int replace_enc(uint8_t **lpp, uint8_t **p, const enc_t *e) {
    size_t off = (size_t)(*p - *lpp);
    size_t l = e->hdrlen + e->datalen;
    int rc = splice(lpp, off, entry_size(*p), l + backlen_size(l));
    if (rc != 0) return rc;
    uint8_t *dst = *lpp + off;
    memcpy(dst, e->hdr, e->hdrlen);
    if (e->datalen != 0) memcpy(dst + e->hdrlen, e->data, e->datalen);
    write_backlen(dst + l, l);
    *p = dst;
    return 0;
}

/* --- Life cycle and size --- */

uint8_t *kv_lp_new(void) {
    uint8_t *lp = malloc(EMPTY_BYTES);
    if (lp == NULL) return NULL;
    kv_wr32(lp, EMPTY_BYTES);
    kv_wr16(lp + 4, 0);
    lp[KV_LP_HEADER_BYTES] = EOF_BYTE;
    return lp;
}

uint8_t *kv_lp_dup(const uint8_t *lp) {
    size_t n = lp_bytes(lp);
    uint8_t *copy = malloc(n);
    if (copy != NULL) memcpy(copy, lp, n);
    return copy;
}

void kv_lp_free(uint8_t *lp) {
    free(lp);
}

size_t kv_lp_bytes(const uint8_t *lp) {
    return lp_bytes(lp);
}

size_t kv_lp_len(const uint8_t *lp) {
    size_t c = kv_rd16(lp + 4);
    return c != COUNT_UNKNOWN ? c : count_entries(lp);
}

/* --- Walking --- */

uint8_t *kv_lp_first(uint8_t *lp) {
    uint8_t *p = lp + KV_LP_HEADER_BYTES;
    return *p == EOF_BYTE ? NULL : p;
}

uint8_t *kv_lp_next(uint8_t *lp, uint8_t *p) {
    (void)lp;
    p += entry_size(p);
    return *p == EOF_BYTE ? NULL : p;
}

uint8_t *kv_lp_prev(uint8_t *lp, uint8_t *p) {
    if (p <= lp + KV_LP_HEADER_BYTES) return NULL;
    size_t l = read_backlen(p - 1);
    return p - backlen_size(l) - l;
}

uint8_t *kv_lp_last(uint8_t *lp) {
    return kv_lp_prev(lp, lp + lp_bytes(lp) - 1);
}

uint8_t *kv_lp_seek(uint8_t *lp, long index) {
    size_t n = kv_lp_len(lp);
    size_t idx;
    if (index < 0) {
        if ((unsigned long)-(index + 1) >= n) return NULL;
        idx = n - 1 - (size_t) - (index + 1);
    } else {
        if ((size_t)index >= n) return NULL;
        idx = (size_t)index;
    }
    uint8_t *p;
    if (idx < n / 2) {
        p = lp + KV_LP_HEADER_BYTES;
        while (idx-- > 0)
            p += entry_size(p);
    } else {
        p = kv_lp_last(lp);
        for (size_t back = n - 1 - idx; back > 0; back--)
            p = kv_lp_prev(lp, p);
    }
    return p;
}

void kv_lp_get(const uint8_t *p, kv_lp_val_t *v) {
    uint8_t b = p[0];
    v->str = NULL;
    v->len = 0;
    v->ival = 0;
    if (b < 0x80) {
        v->ival = b;
    } else if ((b & 0xC0) == 0x80) {
        v->str = p + 1;
        v->len = b & 0x3Fu;
    } else if ((b & 0xE0) == 0xC0) {
        int64_t u = (int64_t)((b & 0x1Fu) << 8 | p[1]);
        v->ival = u >= 4096 ? u - 8192 : u;
    } else if ((b & 0xF0) == 0xE0) {
        v->str = p + 2;
        v->len = (size_t)(b & 0x0Fu) << 8 | p[1];
    } else {
        switch (b) {
        case 0xF0:
            v->str = p + 5;
            v->len = kv_rd32(p + 1);
            break;
        case 0xF1: v->ival = (int16_t)kv_rd16(p + 1); break;
        case 0xF2: {
            int64_t u = (int64_t)(p[1] | p[2] << 8 | (uint32_t)p[3] << 16);
            v->ival = u >= 0x800000 ? u - 0x1000000 : u;
            break;
        }
        case 0xF3: v->ival = (int32_t)kv_rd32(p + 1); break;
        default: v->ival = (int64_t)kv_rd64(p + 1); break;
        }
    }
}

const uint8_t *kv_lp_get_bytes(const uint8_t *p, char *buf, size_t *len) {
    kv_lp_val_t v;
    kv_lp_get(p, &v);
    if (v.str != NULL) {
        *len = v.len;
        return v.str;
    }
    *len = kv_lp_int_to_str(v.ival, buf);
    return (const uint8_t *)buf;
}

/* Compares the entry at p with s; s_int says whether s is a canonical integer sv. */
static bool entry_equals(const uint8_t *p, const void *s, size_t len, bool s_int, int64_t sv) {
    kv_lp_val_t v;
    kv_lp_get(p, &v);
    if (v.str != NULL) return v.len == len && (len == 0 || memcmp(v.str, s, len) == 0);
    return s_int && v.ival == sv;
}

bool kv_lp_equals(const uint8_t *p, const void *s, size_t len) {
    int64_t sv = 0;
    bool s_int = kv_lp_str_to_int(s, len, &sv);
    return entry_equals(p, s, len, s_int, sv);
}

uint8_t *kv_lp_find(uint8_t *lp, uint8_t *p, const void *s, size_t len, size_t skip) {
    (void)lp;
    int64_t sv = 0;
    bool s_int = kv_lp_str_to_int(s, len, &sv);
    size_t to_skip = 0;
    while (p != NULL && *p != EOF_BYTE) {
        if (to_skip == 0) {
            if (entry_equals(p, s, len, s_int, sv)) return p;
            to_skip = skip;
        } else {
            to_skip--;
        }
        p += entry_size(p);
    }
    return NULL;
}

/* --- Changes --- */

int kv_lp_append(uint8_t **lpp, const void *s, size_t len) {
    enc_t e;
    int rc = encode_str(s, len, &e);
    return rc != 0 ? rc : insert_enc(lpp, lp_bytes(*lpp) - 1, &e, NULL);
}

int kv_lp_prepend(uint8_t **lpp, const void *s, size_t len) {
    enc_t e;
    int rc = encode_str(s, len, &e);
    return rc != 0 ? rc : insert_enc(lpp, KV_LP_HEADER_BYTES, &e, NULL);
}

int kv_lp_append_int(uint8_t **lpp, int64_t v) {
    enc_t e;
    encode_int(v, &e);
    return insert_enc(lpp, lp_bytes(*lpp) - 1, &e, NULL);
}

int kv_lp_prepend_int(uint8_t **lpp, int64_t v) {
    enc_t e;
    encode_int(v, &e);
    return insert_enc(lpp, KV_LP_HEADER_BYTES, &e, NULL);
}

static size_t insert_offset(uint8_t *lp, uint8_t *p, int where) {
    if (where == KV_LP_AFTER) p += entry_size(p);
    return (size_t)(p - lp);
}

int kv_lp_insert(uint8_t **lpp, uint8_t *p, int where, const void *s, size_t len, uint8_t **newp) {
    enc_t e;
    int rc = encode_str(s, len, &e);
    return rc != 0 ? rc : insert_enc(lpp, insert_offset(*lpp, p, where), &e, newp);
}

int kv_lp_insert_int(uint8_t **lpp, uint8_t *p, int where, int64_t v, uint8_t **newp) {
    enc_t e;
    encode_int(v, &e);
    return insert_enc(lpp, insert_offset(*lpp, p, where), &e, newp);
}

int kv_lp_insert_at(uint8_t **lpp, size_t index, const void *s, size_t len) {
    size_t n = kv_lp_len(*lpp);
    if (index > n) return -ERANGE;
    if (index == n) return kv_lp_append(lpp, s, len);
    return kv_lp_insert(lpp, kv_lp_seek(*lpp, (long)index), KV_LP_BEFORE, s, len, NULL);
}

int kv_lp_replace(uint8_t **lpp, uint8_t **p, const void *s, size_t len) {
    enc_t e;
    int rc = encode_str(s, len, &e);
    return rc != 0 ? rc : replace_enc(lpp, p, &e);
}

int kv_lp_replace_int(uint8_t **lpp, uint8_t **p, int64_t v) {
    enc_t e;
    encode_int(v, &e);
    return replace_enc(lpp, p, &e);
}

int kv_lp_delete(uint8_t **lpp, uint8_t **p) {
    size_t off = (size_t)(*p - *lpp);
    int rc = splice(lpp, off, entry_size(*p), 0);
    if (rc != 0) return rc;
    add_count(*lpp, -1);
    *p = (*lpp)[off] == EOF_BYTE ? NULL : *lpp + off;
    return 0;
}

int kv_lp_delete_range(uint8_t **lpp, long index, size_t count) {
    uint8_t *p = kv_lp_seek(*lpp, index);
    if (p == NULL || count == 0) return 0;
    uint8_t *q = p;
    size_t n = 0;
    while (n < count && *q != EOF_BYTE) {
        q += entry_size(q);
        n++;
    }
    size_t off = (size_t)(p - *lpp);
    int rc = splice(lpp, off, (size_t)(q - p), 0);
    if (rc != 0) return rc;
    add_count(*lpp, -(long)n);
    return 0;
}

int kv_lp_merge(uint8_t **firstp, const uint8_t *second) {
    size_t add = lp_bytes(second) - EMPTY_BYTES;
    if (add == 0) return 0;
    size_t n1 = kv_rd16(*firstp + 4), n2 = kv_rd16(second + 4);
    size_t off = lp_bytes(*firstp) - 1;
    int rc = splice(firstp, off, 0, add);
    if (rc != 0) return rc;
    memcpy(*firstp + off, second + KV_LP_HEADER_BYTES, add);
    size_t n = n1 == COUNT_UNKNOWN || n2 == COUNT_UNKNOWN ? COUNT_UNKNOWN : n1 + n2;
    kv_wr16(*firstp + 4, (uint16_t)(n >= COUNT_UNKNOWN ? COUNT_UNKNOWN : n));
    return 0;
}

/* --- Building in one pass --- */

static void encode_val(const kv_lp_val_t *v, enc_t *e) {
    if (v->str == NULL) {
        encode_int(v->ival, e);
        return;
    }
    encode_str_bytes(v->str, v->len, e);
}

size_t kv_lp_entry_bytes(const kv_lp_val_t *v) {
    enc_t e;
    encode_val(v, &e);
    size_t l = e.hdrlen + e.datalen;
    return l + backlen_size(l);
}

uint8_t *kv_lp_put(uint8_t *dst, const kv_lp_val_t *v) {
    enc_t e;
    encode_val(v, &e);
    size_t l = e.hdrlen + e.datalen;
    memcpy(dst, e.hdr, e.hdrlen);
    if (e.datalen != 0) memcpy(dst + e.hdrlen, e.data, e.datalen);
    write_backlen(dst + l, l);
    return dst + l + backlen_size(l);
}

void kv_lp_init_header(uint8_t *lp, size_t bytes, size_t count) {
    kv_wr32(lp, (uint32_t)bytes);
    kv_wr16(lp + 4, (uint16_t)(count >= COUNT_UNKNOWN ? COUNT_UNKNOWN : count));
    lp[bytes - 1] = EOF_BYTE;
}

/* --- Validation --- */

int kv_lp_validate(const uint8_t *blob, size_t len, bool deep) {
    if (blob == NULL || len < EMPTY_BYTES || len > UINT32_MAX) return -EPROTO;
    if (kv_rd32(blob) != len || blob[len - 1] != EOF_BYTE) return -EPROTO;
    if (!deep) return 0;
    size_t off = KV_LP_HEADER_BYTES, count = 0;
    while (off < len - 1) {
        const uint8_t *p = blob + off;
        size_t avail = len - 1 - off; /* bytes before the end byte */
        size_t l = entry_enclen(p, avail);
        if (l == 0) return -EPROTO;
        size_t bl = backlen_size(l);
        if (bl > avail - l) return -EPROTO;
        uint8_t expect[MAX_BACKLEN];
        write_backlen(expect, l);
        if (memcmp(p + l, expect, bl) != 0) return -EPROTO;
        off += l + bl;
        count++;
    }
    size_t c = kv_rd16(blob + 4);
    if (c != COUNT_UNKNOWN && c != count) return -EPROTO;
    return 0;
}

int kv_lp_check(const uint8_t *lp) {
    return kv_lp_validate(lp, lp_bytes(lp), true);
}
