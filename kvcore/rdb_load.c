/* SPDX-License-Identifier: MIT */
/*
 * rdb_load.c - the RDB reader: snapshots (RDB versions 1 to 10) and DUMP payloads.
 *
 * Nothing read is trusted: every length is checked against what the input still holds
 * before anything is allocated for it, LZF blocks must decompress to their stated size,
 * listpacks and intsets are validated deeply, and values are rebuilt through the types'
 * own functions (which choose encodings by the current configuration and report
 * duplicate fields or members, which Redis refuses too). An object is built completely
 * before anyone sees it, so a failed value leaves nothing behind. The ziplist encodings
 * of files from Redis before 7.0 are read too. Types kvcore has no structure for
 * (streams, modules, functions, the zipmap of Redis before 2.6) stop the load with an
 * error naming the key and the type.
 */
#include "rdb.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <lzf.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "intset.h"
#include "listpack.h"
#include "t_hash.h"
#include "t_list.h"
#include "t_set.h"
#include "t_zset.h"

#define IN_FD_BUF      (64 * 1024)
#define LZF_MAX_RATIO  132 /* an LZF back reference of 2-3 bytes expands to at most 264 */
#define LZF_DECODE_MAX (512ull * 1024 * 1024 * 4) /* no value kvcore could hold is larger */

/* --- The input --- */

static void fail(kv_rdb_in_t *r, int code, const char *fmt, ...) KV_PRINTF(3, 4);
static void fail(kv_rdb_in_t *r, int code, const char *fmt, ...) {
    if (r->err != 0) return;
    r->err = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->errmsg, sizeof(r->errmsg), fmt, ap);
    va_end(ap);
}

static void short_read(kv_rdb_in_t *r) {
    fail(r, -EPROTO, "Short read or OOM loading DB. Unrecoverable error, aborting now.");
}

void kv_rdb_in_init_mem(kv_rdb_in_t *r, const void *p, size_t len) {
    memset(r, 0, sizeof(*r));
    r->fd = -1;
    r->p = p;
    r->len = len;
    r->limit = len;
}

int kv_rdb_in_init_fd(kv_rdb_in_t *r, int fd) {
    memset(r, 0, sizeof(*r));
    r->fd = fd;
    r->fbuf = malloc(IN_FD_BUF);
    if (r->fbuf == NULL) return -ENOMEM;
    r->p = r->fbuf;
    r->limit = UINT64_MAX;
    struct stat st;
    off_t at = lseek(fd, 0, SEEK_CUR);
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && at >= 0 && st.st_size >= at)
        r->limit = (uint64_t)(st.st_size - at);
    return 0;
}

void kv_rdb_in_fini(kv_rdb_in_t *r) {
    free(r->fbuf);
    r->fbuf = NULL;
}

static uint64_t remaining(const kv_rdb_in_t *r) {
    return r->limit == UINT64_MAX ? UINT64_MAX : r->limit - r->pos;
}

/* Reads more from the descriptor so that n (<= IN_FD_BUF) bytes are buffered. */
static bool fill(kv_rdb_in_t *r, size_t n) {
    if (r->len - r->off >= n) return true;
    if (r->fd < 0) {
        short_read(r);
        return false;
    }
    memmove(r->fbuf, r->fbuf + r->off, r->len - r->off);
    r->len -= r->off;
    r->off = 0;
    while (r->len < n) {
        ssize_t k = read(r->fd, r->fbuf + r->len, IN_FD_BUF - r->len);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) {
            short_read(r);
            return false;
        }
        r->len += (size_t)k;
    }
    return true;
}

static void consumed(kv_rdb_in_t *r, const void *p, size_t n) {
    r->crc = kv_crc64(r->crc, p, n);
    r->pos += n;
}

/* Copies the next n bytes into dst. */
static bool read_into(kv_rdb_in_t *r, void *dst, size_t n) {
    if (r->err != 0) return false;
    if (n > remaining(r)) {
        short_read(r);
        return false;
    }
    unsigned char *d = dst;
    size_t left = n;
    while (left > 0) {
        size_t avail = r->len - r->off;
        if (avail == 0) {
            if (r->fd >= 0 && left >= IN_FD_BUF) {
                ssize_t k = read(r->fd, d, left);
                if (k < 0 && errno == EINTR) continue;
                if (k <= 0) {
                    short_read(r);
                    return false;
                }
                d += k;
                left -= (size_t)k;
                continue;
            }
            if (!fill(r, 1)) return false;
            avail = r->len - r->off;
        }
        size_t take = avail < left ? avail : left;
        memcpy(d, r->p + r->off, take);
        r->off += take;
        d += take;
        left -= take;
    }
    consumed(r, dst, n);
    return true;
}

static bool read_u8(kv_rdb_in_t *r, unsigned *v) {
    unsigned char b;
    if (!read_into(r, &b, 1)) return false;
    *v = b;
    return true;
}

static bool read_le(kv_rdb_in_t *r, size_t n, uint64_t *v) {
    unsigned char b[8];
    if (!read_into(r, b, n)) return false;
    uint64_t x = 0;
    for (size_t i = 0; i < n; i++)
        x |= (uint64_t)b[i] << (8 * i);
    *v = x;
    return true;
}

/* A length, or (*enc true) the special encoding number of the 11xxxxxx form. */
static bool read_len_enc(kv_rdb_in_t *r, uint64_t *len, bool *enc) {
    unsigned b;
    *enc = false;
    if (!read_u8(r, &b)) return false;
    unsigned char x[8];
    switch (b >> 6) {
    case 0: *len = b & 0x3F; return true;
    case 1:
        if (!read_into(r, x, 1)) return false;
        *len = ((uint64_t)(b & 0x3F) << 8) | x[0];
        return true;
    case 3:
        *enc = true;
        *len = b & 0x3F;
        return true;
    default: break;
    }
    size_t n = b == 0x80 ? 4 : b == 0x81 ? 8 : 0;
    if (n == 0) {
        fail(r, -EPROTO, "Unknown length encoding %u in rdbLoadLen()", b);
        return false;
    }
    if (!read_into(r, x, n)) return false;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v = v << 8 | x[i];
    *len = v;
    return true;
}

static bool read_len(kv_rdb_in_t *r, uint64_t *len) {
    bool enc;
    if (!read_len_enc(r, len, &enc)) return false;
    if (enc) fail(r, -EPROTO, "Unexpected encoded length");
    return !enc;
}

/* A count of elements that each take at least min_bytes: no more than the input holds. */
static bool read_count(kv_rdb_in_t *r, uint64_t *n, unsigned min_bytes) {
    if (!read_len(r, n)) return false;
    uint64_t rem = remaining(r);
    if (rem != UINT64_MAX && *n > rem / min_bytes) {
        short_read(r);
        return false;
    }
    return true;
}

static char *read_lzf(kv_rdb_in_t *r, size_t *outlen) {
    uint64_t clen, len;
    if (!read_len(r, &clen) || !read_len(r, &len)) return NULL;
    if (clen == 0 || len == 0 || clen > remaining(r) || len > LZF_DECODE_MAX ||
        len > clen * LZF_MAX_RATIO + 64) {
        fail(r, -EPROTO, "Invalid LZF compressed string");
        return NULL;
    }
    unsigned char *c = malloc(clen);
    char *out = malloc(len + 1);
    bool ok = c != NULL && out != NULL && read_into(r, c, clen);
    if (ok && lzf_decompress(c, (unsigned)clen, out, (unsigned)len) != len) {
        fail(r, -EPROTO, "Invalid LZF compressed string");
        ok = false;
    }
    if (c == NULL || out == NULL) fail(r, -ENOMEM, "Out of memory loading a string");
    free(c);
    if (!ok) {
        free(out);
        return NULL;
    }
    out[len] = '\0';
    *outlen = len;
    return out;
}

/* A string in any of its encodings, malloc'd with a NUL after it. NULL on failure. */
static char *read_string(kv_rdb_in_t *r, size_t *outlen) {
    uint64_t len;
    bool enc;
    if (!read_len_enc(r, &len, &enc)) return NULL;
    if (enc) {
        uint64_t v;
        long long ll;
        switch (len) {
        case 0:
            if (!read_le(r, 1, &v)) return NULL;
            ll = (int8_t)v;
            break;
        case 1:
            if (!read_le(r, 2, &v)) return NULL;
            ll = (int16_t)v;
            break;
        case 2:
            if (!read_le(r, 4, &v)) return NULL;
            ll = (int32_t)v;
            break;
        case 3: return read_lzf(r, outlen);
        default: fail(r, -EPROTO, "Unknown RDB string encoding type %d", (int)len); return NULL;
        }
        char *s = malloc(24);
        if (s == NULL) {
            fail(r, -ENOMEM, "Out of memory loading a string");
            return NULL;
        }
        *outlen = kv_ll2str(s, ll);
        return s;
    }
    if (len > remaining(r) || len > SIZE_MAX / 2) { /* a pipe's length is unknown: bound it */
        short_read(r);
        return NULL;
    }
    char *s = malloc(len + 1);
    if (s == NULL) {
        fail(r, -ENOMEM, "Out of memory loading a string");
        return NULL;
    }
    if (!read_into(r, s, len)) {
        free(s);
        return NULL;
    }
    s[len] = '\0';
    *outlen = len;
    return s;
}

static bool read_binary_double(kv_rdb_in_t *r, double *d) {
    uint64_t bits;
    if (!read_le(r, 8, &bits)) return false;
    memcpy(d, &bits, 8);
    return true;
}

/* The old text form of a score: a length byte (253 NaN, 254 +inf, 255 -inf) and digits. */
static bool read_text_double(kv_rdb_in_t *r, double *d) {
    unsigned n;
    if (!read_u8(r, &n)) return false;
    if (n == 253) {
        *d = 0.0 / 0.0;
        return true;
    }
    if (n >= 254) {
        *d = n == 254 ? 1.0 / 0.0 : -1.0 / 0.0;
        return true;
    }
    char buf[256];
    if (!read_into(r, buf, n)) return false;
    buf[n] = '\0';
    if (!kv_str2d(buf, n, d)) {
        fail(r, -EPROTO, "Invalid double value");
        return false;
    }
    return true;
}

/* --- Values --- */

static const char *type_name(int type) {
    switch (type) {
    case KV_RDB_TYPE_MODULE:
    case KV_RDB_TYPE_MODULE_2: return "module";
    case KV_RDB_TYPE_STREAM_LISTPACKS:
    case KV_RDB_TYPE_STREAM_LISTPACKS_2:
    case KV_RDB_TYPE_STREAM_LISTPACKS_3: return "stream";
    case KV_RDB_TYPE_HASH_ZIPMAP: return "hash (zipmap encoding, Redis before 2.6)";
    default: return NULL;
    }
}

/* A listpack blob read as a string and validated; NULL on failure (r->err set). */
static uint8_t *read_listpack(kv_rdb_in_t *r, size_t *n) {
    size_t len;
    char *blob = read_string(r, &len);
    if (blob == NULL) return NULL;
    if (kv_lp_validate((const uint8_t *)blob, len, true) != 0) {
        free(blob);
        fail(r, -EPROTO, "Listpack integrity check failed");
        return NULL;
    }
    *n = kv_lp_len((uint8_t *)blob);
    return (uint8_t *)blob;
}

static void fail_oom(kv_rdb_in_t *r) {
    fail(r, -ENOMEM, "Out of memory loading a value");
}

static kv_obj_t *read_string_obj(kv_rdb_in_t *r, const char *key, size_t klen) {
    size_t len;
    char *s = read_string(r, &len);
    if (s == NULL) return NULL;
    kv_obj_t *o = kv_obj_new_string(key, klen, s, len, -1);
    free(s);
    if (o == NULL) fail_oom(r);
    return o;
}

static bool list_add(kv_rdb_in_t *r, kv_obj_t *o, const void *s, size_t len) {
    if (kv_list_grow(o, len, 1) != 0 || kv_list_push(o, KV_LIST_TAIL, s, len) != 0) {
        fail_oom(r);
        return false;
    }
    return true;
}

static bool list_add_listpack(kv_rdb_in_t *r, kv_obj_t *o, uint8_t *lp) {
    for (uint8_t *p = kv_lp_first(lp); p != NULL; p = kv_lp_next(lp, p)) {
        char buf[KV_LP_INTBUF];
        size_t len;
        const uint8_t *s = kv_lp_get_bytes(p, buf, &len);
        if (!list_add(r, o, s, len)) return false;
    }
    return true;
}

/* --- Ziplists (files of Redis before 7.0) ---
 *
 * [zlbytes u32][zltail u32][zllen u16][entries][0xFF]; an entry is [prevlen: 1 byte, or
 * 0xFE and u32][encoding][data]. Every length is checked against the blob, each prevlen
 * against the previous entry's size, zltail and zllen (unless 65535) against the walk.
 */

typedef bool (*zl_entry_fn)(kv_rdb_in_t *r, void *priv, const void *s, size_t n);

static uint32_t rd_le(const uint8_t *p, int n) {
    uint32_t v = 0;
    for (int i = 0; i < n; i++)
        v |= (uint32_t)p[i] << (8 * i);
    return v;
}

/* The integer of an 11xxxxxx encoding byte e with its data at p (w bytes, checked). */
static bool zl_int(uint8_t e, const uint8_t *p, size_t avail, size_t *w, long long *v) {
    uint64_t u = 0;
    int bytes = e == 0xC0 ? 2 : e == 0xD0 ? 4 : e == 0xE0 ? 8 : e == 0xF0 ? 3 : e == 0xFE ? 1 : 0;
    if (bytes == 0) {
        if (e < 0xF1 || e > 0xFD) return false;
        *w = 0;
        *v = (e & 0x0F) - 1;
        return true;
    }
    if ((size_t)bytes > avail) return false;
    for (int i = 0; i < bytes; i++)
        u |= (uint64_t)p[i] << (8 * i);
    int shift = 64 - 8 * bytes; /* sign-extend from the width */
    *v = (long long)((int64_t)(u << shift) >> shift);
    *w = (size_t)bytes;
    return true;
}

static bool zl_walk(kv_rdb_in_t *r, const uint8_t *zl, size_t len, zl_entry_fn fn, void *priv) {
    if (len < 11 || rd_le(zl, 4) != len || zl[len - 1] != 0xFF) goto bad;
    size_t end = len - 1, p = 10, prevlen = 0, count = 0, last = 10;
    while (p < end) {
        size_t start = p, prev;
        if (zl[p] < 0xFE) {
            prev = zl[p++];
        } else if (zl[p] == 0xFE && end - p > 5) {
            prev = rd_le(zl + p + 1, 4);
            p += 5;
        } else {
            goto bad;
        }
        if (prev != prevlen || p >= end) goto bad;
        uint8_t e = zl[p];
        char buf[24];
        const void *str;
        size_t n;
        if (e >> 6 == 3) {
            long long v;
            size_t w;
            if (!zl_int(e, zl + p + 1, end - p - 1, &w, &v)) goto bad;
            p += 1 + w;
            n = kv_ll2str(buf, v);
            str = buf;
        } else {
            size_t hdr = e >> 6 == 0 ? 1 : e >> 6 == 1 ? 2 : 5;
            if ((e >> 6 == 2 && e != 0x80) || end - p < hdr) goto bad;
            n = e >> 6 == 0   ? (size_t)(e & 0x3F)
                : e >> 6 == 1 ? (size_t)(e & 0x3F) << 8 | zl[p + 1]
                              : (size_t)zl[p + 1] << 24 | (size_t)zl[p + 2] << 16 |
                                    (size_t)zl[p + 3] << 8 | zl[p + 4];
            p += hdr;
            if (n > end - p) goto bad;
            str = zl + p;
            p += n;
        }
        prevlen = p - start;
        last = start;
        count++;
        if (!fn(r, priv, str, n)) return false;
    }
    if (p != end || rd_le(zl + 4, 4) != last) goto bad;
    if (rd_le(zl + 8, 2) != 65535 && rd_le(zl + 8, 2) != count) goto bad;
    return true;
bad:
    fail(r, -EPROTO, "Ziplist integrity check failed");
    return false;
}

/* A ziplist blob read as a string; NULL on failure. */
static uint8_t *read_ziplist(kv_rdb_in_t *r, size_t *len) {
    return (uint8_t *)read_string(r, len);
}

static bool zl_list_add(kv_rdb_in_t *r, void *priv, const void *s, size_t n);

/* Field/value or member/score pairs: the first of a pair is kept until its partner. */
typedef struct zl_pairs {
    kv_obj_t *o;
    bool zset;
    char *first;
    size_t flen;
} zl_pairs_t;

static bool hash_add(kv_rdb_in_t *r, kv_obj_t **op, const void *f, size_t flen, const void *v,
                     size_t vlen);
static bool zset_add(kv_rdb_in_t *r, kv_obj_t *o, double score, const void *m, size_t len);

static bool zl_pair_add(kv_rdb_in_t *r, void *priv, const void *s, size_t n) {
    zl_pairs_t *zp = priv;
    if (zp->first == NULL) {
        zp->first = malloc(n + 1);
        if (zp->first == NULL) {
            fail(r, -ENOMEM, "Out of memory loading a value");
            return false;
        }
        memcpy(zp->first, s, n);
        zp->flen = n;
        return true;
    }
    bool ok;
    if (zp->zset) {
        double score;
        ok = kv_str2d(s, n, &score);
        if (!ok) fail(r, -EPROTO, "Zset ziplist integrity check failed");
        ok = ok && zset_add(r, zp->o, score, zp->first, zp->flen);
    } else {
        ok = hash_add(r, &zp->o, zp->first, zp->flen, s, n);
    }
    free(zp->first);
    zp->first = NULL;
    return ok;
}

static kv_obj_t *read_ziplist_pairs(kv_rdb_in_t *r, int type, const char *key, size_t klen) {
    size_t len;
    uint8_t *zl = read_ziplist(r, &len);
    if (zl == NULL) return NULL;
    zl_pairs_t zp = {NULL, type == KV_RDB_TYPE_ZSET_ZIPLIST, NULL, 0};
    zp.o = zp.zset ? kv_zset_new(key, klen, false, -1) : kv_hash_new(key, klen, -1);
    if (zp.o == NULL) fail(r, -ENOMEM, "Out of memory loading a value");
    bool ok = zp.o != NULL && zl_walk(r, zl, len, zl_pair_add, &zp);
    if (ok && zp.first != NULL) fail(r, -EPROTO, "Ziplist integrity check failed");
    free(zp.first);
    free(zl);
    size_t n = zp.o == NULL ? 0 : zp.zset ? kv_zset_len(zp.o) : kv_hash_len(zp.o);
    if (r->err == 0 && n == 0) fail(r, -ENODATA, "Empty keys skipped");
    if (r->err != 0) {
        kv_obj_free(zp.o);
        return NULL;
    }
    return zp.o;
}

static bool zl_list_add(kv_rdb_in_t *r, void *priv, const void *s, size_t n) {
    return list_add(r, priv, s, n);
}

static kv_obj_t *read_list(kv_rdb_in_t *r, int type, const char *key, size_t klen) {
    uint64_t n = 1; /* a LIST_ZIPLIST is one ziplist */
    if (type != KV_RDB_TYPE_LIST_ZIPLIST && !read_count(r, &n, 1)) return NULL;
    kv_obj_t *o = kv_list_new(key, klen, -1);
    if (o == NULL) {
        fail_oom(r);
        return NULL;
    }
    for (uint64_t i = 0; i < n && r->err == 0; i++) {
        if (type == KV_RDB_TYPE_LIST) {
            size_t len;
            char *s = read_string(r, &len);
            if (s != NULL) list_add(r, o, s, len);
            free(s);
            continue;
        }
        if (type == KV_RDB_TYPE_LIST_ZIPLIST || type == KV_RDB_TYPE_LIST_QUICKLIST) {
            size_t len;
            uint8_t *zl = read_ziplist(r, &len);
            if (zl != NULL) zl_walk(r, zl, len, zl_list_add, o);
            free(zl);
            continue;
        }
        uint64_t container;
        if (!read_len(r, &container)) break;
        if (container != KV_RDB_QL_PLAIN && container != KV_RDB_QL_PACKED) {
            fail(r, -EPROTO, "Quicklist integrity check failed");
            break;
        }
        if (container == KV_RDB_QL_PLAIN) {
            size_t len;
            char *s = read_string(r, &len);
            if (s != NULL) list_add(r, o, s, len);
            free(s);
            continue;
        }
        size_t cnt;
        uint8_t *lp = read_listpack(r, &cnt);
        if (lp != NULL) list_add_listpack(r, o, lp); /* an empty node is skipped, as Redis */
        free(lp);
    }
    if (r->err == 0 && kv_list_len(o) == 0) fail(r, -ENODATA, "Empty keys skipped");
    if (r->err != 0) {
        kv_obj_free(o);
        return NULL;
    }
    return o;
}

static bool set_add(kv_rdb_in_t *r, kv_obj_t *o, const void *s, size_t len) {
    kv_arg_t m = {s, len};
    int rc = kv_set_add(o, &m);
    if (rc < 0) fail_oom(r);
    if (rc == 0) fail(r, -EPROTO, "Duplicate set members detected");
    return rc == 1;
}

static kv_obj_t *read_set_intset(kv_rdb_in_t *r, const char *key, size_t klen) {
    size_t len;
    char *blob = read_string(r, &len);
    if (blob == NULL) return NULL;
    if (kv_is_validate(blob, len, true) != 0) {
        free(blob);
        fail(r, -EPROTO, "Intset integrity check failed");
        return NULL;
    }
    if (kv_is_len((kv_intset_t *)blob) == 0) {
        free(blob);
        fail(r, -ENODATA, "Empty keys skipped");
        return NULL;
    }
    kv_obj_t *o = kv_obj_new_ptr(key, klen, KV_TYPE_SET, KV_ENC_INTSET, blob, -1);
    if (o == NULL) {
        free(blob);
        fail_oom(r);
        return NULL;
    }
    if (kv_is_len((kv_intset_t *)blob) > (size_t)kv_srv.cfg.set_max_intset_entries &&
        kv_set_convert(o, KV_ENC_HASHTABLE) != 0) {
        kv_obj_free(o);
        fail_oom(r);
        return NULL;
    }
    return o;
}

static kv_obj_t *read_set(kv_rdb_in_t *r, int type, const char *key, size_t klen) {
    if (type == KV_RDB_TYPE_SET_INTSET) return read_set_intset(r, key, klen);
    uint64_t n;
    uint8_t *lp = NULL;
    if (type == KV_RDB_TYPE_SET_LISTPACK) {
        size_t cnt;
        lp = read_listpack(r, &cnt);
        if (lp == NULL) return NULL;
        n = cnt;
    } else if (!read_count(r, &n, 1)) {
        return NULL;
    }
    if (n == 0) {
        free(lp);
        fail(r, -ENODATA, "Empty keys skipped");
        return NULL;
    }
    kv_obj_t *o = NULL;
    uint8_t *p = lp ? kv_lp_first(lp) : NULL;
    for (uint64_t i = 0; i < n && r->err == 0; i++) {
        char buf[KV_LP_INTBUF], *s = NULL;
        const void *m;
        size_t len;
        if (lp != NULL) {
            m = kv_lp_get_bytes(p, buf, &len);
            p = kv_lp_next(lp, p);
        } else if ((m = s = read_string(r, &len)) == NULL) {
            break;
        }
        if (o == NULL) {
            kv_arg_t first = {m, len};
            o = kv_set_new(key, klen, &first, (size_t)n);
            if (o == NULL) fail_oom(r);
        }
        if (o != NULL) set_add(r, o, m, len);
        free(s);
    }
    free(lp);
    if (r->err != 0) {
        kv_obj_free(o);
        return NULL;
    }
    return o;
}

static bool zset_add(kv_rdb_in_t *r, kv_obj_t *o, double score, const void *m, size_t len) {
    unsigned out = 0;
    int rc = kv_zset_add(o, score, m, len, KV_ZADD_NX, &out, NULL);
    if (rc == -EDOM) fail(r, -EPROTO, "Zset with NAN score detected");
    if (rc == -ENOMEM) fail_oom(r);
    if (rc == 0 && !(out & KV_ZADD_OUT_ADDED)) fail(r, -EPROTO, "Duplicate zset fields detected");
    return r->err == 0;
}

static kv_obj_t *read_zset_listpack(kv_rdb_in_t *r, const char *key, size_t klen) {
    size_t cnt;
    uint8_t *lp = read_listpack(r, &cnt);
    if (lp == NULL) return NULL;
    if (cnt == 0 || cnt % 2 != 0) {
        free(lp);
        fail(r, cnt == 0 ? -ENODATA : -EPROTO,
             cnt == 0 ? "Empty keys skipped" : "Zset listpack integrity check failed");
        return NULL;
    }
    bool skiplist = cnt / 2 > (size_t)kv_srv.cfg.zset_max_listpack_entries;
    kv_obj_t *o = kv_zset_new(key, klen, skiplist, -1);
    if (o == NULL) fail_oom(r);
    for (uint8_t *p = kv_lp_first(lp); o != NULL && p != NULL && r->err == 0;) {
        char mbuf[KV_LP_INTBUF], sbuf[KV_LP_INTBUF];
        size_t mlen, slen;
        const uint8_t *m = kv_lp_get_bytes(p, mbuf, &mlen);
        p = kv_lp_next(lp, p);
        const uint8_t *s = kv_lp_get_bytes(p, sbuf, &slen);
        p = kv_lp_next(lp, p);
        double score;
        if (!kv_str2d((const char *)s, slen, &score)) {
            fail(r, -EPROTO, "Zset listpack integrity check failed");
            break;
        }
        zset_add(r, o, score, m, mlen);
    }
    free(lp);
    if (r->err != 0) {
        kv_obj_free(o);
        return NULL;
    }
    return o;
}

static kv_obj_t *read_zset(kv_rdb_in_t *r, int type, const char *key, size_t klen) {
    if (type == KV_RDB_TYPE_ZSET_LISTPACK) return read_zset_listpack(r, key, klen);
    uint64_t n;
    if (!read_count(r, &n, 2)) return NULL;
    if (n == 0) {
        fail(r, -ENODATA, "Empty keys skipped");
        return NULL;
    }
    bool skiplist = n > (uint64_t)kv_srv.cfg.zset_max_listpack_entries;
    kv_obj_t *o = kv_zset_new(key, klen, skiplist, -1);
    if (o == NULL) fail_oom(r);
    for (uint64_t i = 0; o != NULL && i < n && r->err == 0; i++) {
        size_t len;
        char *m = read_string(r, &len);
        if (m == NULL) break;
        double score;
        bool ok = type == KV_RDB_TYPE_ZSET_2 ? read_binary_double(r, &score)
                                             : read_text_double(r, &score);
        if (ok) zset_add(r, o, score, m, len);
        free(m);
    }
    if (r->err != 0) {
        kv_obj_free(o);
        return NULL;
    }
    return o;
}

/* Adds a field to a hash being loaded (not in a db yet: *op may move freely). */
static bool hash_add(kv_rdb_in_t *r, kv_obj_t **op, const void *f, size_t flen, const void *v,
                     size_t vlen) {
    kv_arg_t fa = {f, flen}, va = {v, vlen};
    int rc = kv_hash_set(op, &fa, &va);
    if (rc < 0) fail_oom(r);
    if (rc == 0) fail(r, -EPROTO, "Duplicate hash fields detected");
    return rc == 1;
}

static kv_obj_t *read_hash(kv_rdb_in_t *r, int type, const char *key, size_t klen) {
    uint64_t n;
    uint8_t *lp = NULL;
    if (type == KV_RDB_TYPE_HASH_LISTPACK) {
        size_t cnt;
        lp = read_listpack(r, &cnt);
        if (lp == NULL) return NULL;
        if (cnt % 2 != 0) {
            free(lp);
            fail(r, -EPROTO, "Hash listpack integrity check failed");
            return NULL;
        }
        n = cnt / 2;
    } else if (!read_count(r, &n, 2)) {
        return NULL;
    }
    if (n == 0) {
        free(lp);
        fail(r, -ENODATA, "Empty keys skipped");
        return NULL;
    }
    kv_obj_t *o = kv_hash_new(key, klen, -1);
    if (o == NULL) fail_oom(r);
    if (o != NULL && n > (uint64_t)kv_srv.cfg.hash_max_listpack_entries && kv_hash_convert(&o) != 0)
        fail_oom(r);
    uint8_t *p = lp ? kv_lp_first(lp) : NULL;
    for (uint64_t i = 0; o != NULL && i < n && r->err == 0; i++) {
        if (lp != NULL) {
            char fbuf[KV_LP_INTBUF], vbuf[KV_LP_INTBUF];
            size_t flen, vlen;
            const uint8_t *f = kv_lp_get_bytes(p, fbuf, &flen);
            p = kv_lp_next(lp, p);
            const uint8_t *v = kv_lp_get_bytes(p, vbuf, &vlen);
            p = kv_lp_next(lp, p);
            hash_add(r, &o, f, flen, v, vlen);
            continue;
        }
        size_t flen, vlen;
        char *f = read_string(r, &flen);
        char *v = f ? read_string(r, &vlen) : NULL;
        if (v != NULL) hash_add(r, &o, f, flen, v, vlen);
        free(f);
        free(v);
    }
    free(lp);
    if (r->err != 0) {
        kv_obj_free(o);
        return NULL;
    }
    return o;
}

kv_obj_t *kv_rdb_read_object(kv_rdb_in_t *r, int type, const char *key, size_t klen,
                             int64_t expire_ms) {
    kv_obj_t *o = NULL;
    switch (type) {
    case KV_RDB_TYPE_STRING: o = read_string_obj(r, key, klen); break;
    case KV_RDB_TYPE_LIST:
    case KV_RDB_TYPE_LIST_ZIPLIST:
    case KV_RDB_TYPE_LIST_QUICKLIST:
    case KV_RDB_TYPE_LIST_QUICKLIST_2: o = read_list(r, type, key, klen); break;
    case KV_RDB_TYPE_HASH_ZIPLIST:
    case KV_RDB_TYPE_ZSET_ZIPLIST: o = read_ziplist_pairs(r, type, key, klen); break;
    case KV_RDB_TYPE_SET:
    case KV_RDB_TYPE_SET_INTSET:
    case KV_RDB_TYPE_SET_LISTPACK: o = read_set(r, type, key, klen); break;
    case KV_RDB_TYPE_ZSET:
    case KV_RDB_TYPE_ZSET_2:
    case KV_RDB_TYPE_ZSET_LISTPACK: o = read_zset(r, type, key, klen); break;
    case KV_RDB_TYPE_HASH:
    case KV_RDB_TYPE_HASH_LISTPACK: o = read_hash(r, type, key, klen); break;
    default:
        if (type_name(type) != NULL)
            fail(r, -ENOTSUP, "Can't load key '%.*s' of type %s: kvcore has no such type",
                 (int)(klen > 128 ? 128 : klen), key, type_name(type));
        else
            fail(r, -EPROTO, "Unknown RDB encoding type %d", type);
        return NULL;
    }
    if (o == NULL) return NULL;
    if (expire_ms >= 0) {
        kv_obj_t *n = kv_obj_set_expire(o, expire_ms);
        if (n == NULL) {
            kv_obj_free(o);
            fail_oom(r);
            return NULL;
        }
        o = n;
    }
    return o;
}

/* --- DUMP payloads --- */

bool kv_rdb_payload_verify(const void *payload, size_t len) {
    const unsigned char *p = payload;
    if (len < 10) return false;
    const unsigned char *footer = p + len - 10;
    unsigned ver = footer[0] | (unsigned)footer[1] << 8;
    if (ver > KV_RDB_VERSION) return false;
    uint64_t crc = kv_crc64(0, p, len - 8), want = 0;
    for (int i = 0; i < 8; i++)
        want |= (uint64_t)footer[2 + i] << (8 * i);
    return crc == want;
}

kv_obj_t *kv_rdb_payload_load(const void *payload, size_t len, const char *key, size_t klen,
                              int64_t expire_ms) {
    if (len < 10) return NULL;
    kv_rdb_in_t r;
    kv_rdb_in_init_mem(&r, payload, len - 10);
    unsigned type;
    if (!read_u8(&r, &type)) return NULL;
    return kv_rdb_read_object(&r, (int)type, key, klen, expire_ms);
}

/* --- Snapshots --- */

typedef struct load_state {
    kv_db_t *db;
    int64_t expire;
    long long lfu_freq, lru_idle;
    unsigned flags;
    kv_rdb_load_stats_t *st;
} load_state_t;

/* Redis's objectSetLRUOrLFU with a 1000 ms LRU clock resolution. */
static void set_lru_lfu(kv_obj_t *o, long long lfu_freq, long long lru_idle) {
    int p = kv_srv.cfg.maxmemory_policy;
    bool lfu = p == KV_POLICY_ALLKEYS_LFU || p == KV_POLICY_VOLATILE_LFU;
    if (lfu && lfu_freq >= 0) {
        int64_t ms = kv_srv.mstime ? kv_srv.mstime : kv_mstime();
        uint32_t minutes = (uint32_t)((ms / 1000 / 60) & 65535);
        o->lru = (minutes << 8) | (uint32_t)(lfu_freq & 255);
    } else if (!lfu && lru_idle >= 0) {
        long long clock = kv_lru_clock();
        long long abs = clock - lru_idle;
        if (abs < 0) abs = (clock + KV_LRU_CLOCK_MAX / 2) % KV_LRU_CLOCK_MAX;
        o->lru = (uint32_t)abs & KV_LRU_CLOCK_MAX;
    }
}

void kv_rdb_object_set_lru_lfu(kv_obj_t *o, long long lfu_freq, long long lru_idle_s) {
    set_lru_lfu(o, lfu_freq, lru_idle_s);
}

static void load_key(kv_rdb_in_t *r, load_state_t *ls, int type) {
    size_t klen;
    char *key = read_string(r, &klen);
    if (key == NULL) return;
    kv_obj_t *o = kv_rdb_read_object(r, type, key, klen, ls->expire);
    if (o == NULL) {
        if (r->err == -ENODATA) { /* skipped as Redis does */
            r->err = 0;
            r->errmsg[0] = '\0';
            ls->st->empty_skipped++;
        } else if (r->err != -ENOTSUP) {
            char msg[sizeof(r->errmsg)];
            snprintf(msg, sizeof(msg), "%s", r->errmsg);
            snprintf(r->errmsg, sizeof(r->errmsg), "Loading key '%.*s' in DB %d: %.100s",
                     (int)(klen > 100 ? 100 : klen), key, ls->db->id, msg);
        }
        free(key);
        return;
    }
    int64_t now = kv_srv.mstime ? kv_srv.mstime : kv_mstime();
    if (!(ls->flags & KV_RDB_LOAD_AOF_PREAMBLE) && ls->expire >= 0 && ls->expire < now) {
        kv_obj_free(o);
        ls->st->keys_expired++;
    } else if (kv_ht_find(ls->db->keys, key, klen) != NULL) {
        kv_obj_free(o);
        fail(r, -EPROTO, "RDB has duplicated key '%.*s' in DB %d", (int)(klen > 128 ? 128 : klen),
             key, ls->db->id);
    } else {
        set_lru_lfu(o, ls->lfu_freq, ls->lru_idle);
        if (kv_db_add_loaded(ls->db, o) != 0)
            fail(r, -ENOMEM, "Out of memory loading key '%.*s'", (int)(klen > 128 ? 128 : klen),
                 key);
        else
            ls->st->keys_loaded++;
    }
    free(key);
}

static void load_aux(kv_rdb_in_t *r) {
    size_t klen, vlen;
    char *k = read_string(r, &klen);
    char *v = k ? read_string(r, &vlen) : NULL;
    if (v != NULL) {
        if (strcmp(k, "redis-ver") == 0)
            kv_log(KV_LOG_NOTICE, "Loading RDB produced by version %s", v);
        else if (strcmp(k, "ctime") == 0)
            kv_log(KV_LOG_NOTICE, "RDB age %lld seconds",
                   (long long)(kv_mstime() / 1000) - strtoll(v, NULL, 10));
        else if (strcmp(k, "used-mem") == 0)
            kv_log(KV_LOG_NOTICE, "RDB memory usage when created %.2f Mb",
                   (double)strtoll(v, NULL, 10) / (1024 * 1024));
    }
    free(k);
    free(v);
}

/* One opcode or key; false at EOF or on error. */
static bool load_step(kv_rdb_in_t *r, load_state_t *ls) {
    unsigned type;
    uint64_t v, v2;
    if (!read_u8(r, &type)) return false;
    switch (type) {
    case KV_RDB_OPCODE_EOF: return false;
    case KV_RDB_OPCODE_EXPIRETIME:
        if (read_le(r, 4, &v)) ls->expire = (int64_t)(int32_t)v * 1000;
        return true;
    case KV_RDB_OPCODE_EXPIRETIME_MS:
        if (read_le(r, 8, &v)) ls->expire = (int64_t)v;
        return true;
    case KV_RDB_OPCODE_FREQ:
        if (read_le(r, 1, &v)) ls->lfu_freq = (long long)v;
        return true;
    case KV_RDB_OPCODE_IDLE:
        if (read_len(r, &v)) ls->lru_idle = v > LLONG_MAX ? LLONG_MAX : (long long)v;
        return true;
    case KV_RDB_OPCODE_SELECTDB:
        if (!read_len(r, &v)) return false;
        if (v >= (uint64_t)kv_srv.ndbs) {
            fail(r, -EPROTO,
                 "FATAL: Data file was created with a Redis server configured to handle more "
                 "than %d databases. Exiting",
                 kv_srv.ndbs);
            return false;
        }
        ls->db = &kv_srv.dbs[v];
        return true;
    case KV_RDB_OPCODE_RESIZEDB: return read_len(r, &v) && read_len(r, &v2);
    case KV_RDB_OPCODE_AUX: load_aux(r); return r->err == 0;
    case KV_RDB_OPCODE_MODULE_AUX:
        fail(r, -ENOTSUP, "Can't load module auxiliary data: kvcore has no modules");
        return false;
    case KV_RDB_OPCODE_FUNCTION:
    case KV_RDB_OPCODE_FUNCTION2:
        fail(r, -ENOTSUP, "Can't load a function library: kvcore has no functions");
        return false;
    default: break;
    }
    load_key(r, ls, (int)type);
    ls->expire = -1;
    ls->lfu_freq = ls->lru_idle = -1;
    return r->err == 0;
}

/* The start-up progress line: keys loaded so far and how much of the file was read. */
static void log_progress(const kv_rdb_in_t *r, const kv_rdb_load_stats_t *st) {
    kv_log(KV_LOG_NOTICE, "Loading RDB: %llu keys loaded, %llu%% of the file read",
           (unsigned long long)st->keys_loaded,
           (unsigned long long)(r->pos * 100 / st->total_bytes));
}

static int load_input(kv_rdb_in_t *r, unsigned flags, kv_rdb_load_stats_t *st) {
    char magic[10];
    if (!read_into(r, magic, 9)) return r->err;
    magic[9] = '\0';
    if (memcmp(magic, "REDIS", 5) != 0) {
        fail(r, -EPROTO, "Wrong signature trying to load DB from file");
        return r->err;
    }
    int ver = atoi(magic + 5);
    if (ver < 1 || ver > KV_RDB_VERSION) {
        fail(r, -EPROTO, "Can't handle RDB format version %d", ver);
        return r->err;
    }
    st->version = ver;
    load_state_t ls = {&kv_srv.dbs[0], -1, -1, -1, flags, st};
    /* Files of 16 MiB and more log a line at each tenth read (by bytes, so the same file
     * always logs the same steps); smaller ones load in a moment. */
    bool progress = (flags & KV_RDB_LOAD_PROGRESS) && st->total_bytes >= (16u << 20);
    uint64_t next_tenth = 1;
    while (load_step(r, &ls))
        if (progress && r->pos * 10 >= next_tenth * st->total_bytes && next_tenth < 10) {
            log_progress(r, st);
            next_tenth = r->pos * 10 / st->total_bytes + 1;
        }
    if (r->err != 0) return r->err;
    if (ver >= 5) {
        uint64_t expect = r->crc, got;
        if (!read_le(r, 8, &got)) return r->err;
        if (got == 0)
            kv_log(KV_LOG_WARNING,
                   "RDB file was saved with checksum disabled: no check performed.");
        else if (kv_srv.cfg.rdbchecksum && got != expect)
            fail(r, -EPROTO,
                 "Wrong RDB checksum expected: (%" PRIx64 ") got: (%" PRIx64 "). "
                 "Aborting now.",
                 got, expect);
    }
    st->bytes = r->pos;
    return r->err;
}

static int finish(kv_rdb_in_t *r, int rc, char *err, size_t errlen) {
    if (rc != 0 && err != NULL) snprintf(err, errlen, "%s", r->errmsg);
    kv_rdb_in_fini(r);
    return rc;
}

int kv_rdb_load_fd(int fd, unsigned flags, kv_rdb_load_stats_t *st, char *err, size_t errlen) {
    kv_rdb_in_t r;
    uint64_t total = st->total_bytes;
    memset(st, 0, sizeof(*st));
    st->total_bytes = total;
    if (kv_rdb_in_init_fd(&r, fd) != 0) {
        if (err) snprintf(err, errlen, "Out of memory");
        return -ENOMEM;
    }
    return finish(&r, load_input(&r, flags, st), err, errlen);
}

int kv_rdb_load_mem(const void *p, size_t len, unsigned flags, kv_rdb_load_stats_t *st, char *err,
                    size_t errlen) {
    kv_rdb_in_t r;
    memset(st, 0, sizeof(*st));
    kv_rdb_in_init_mem(&r, p, len);
    return finish(&r, load_input(&r, flags, st), err, errlen);
}
