/* SPDX-License-Identifier: MIT */
/*
 * digest.c - DEBUG DIGEST and DEBUG DIGEST-VALUE: an order-independent SHA-1 digest of
 * the dataset, as Redis computes it (debug.c computeDatasetDigest), so tests can prove
 * that relocating objects (the active defragmenter) or changing encodings left every
 * key, type, value and TTL as it was.
 *
 * As Redis 7.0 does it: a key's digest mixes its name, then its type, then its value's
 * elements (in order for lists; for sets each member is XORed in, for hashes and sorted
 * sets each field/value or member/score ("%.17g") pair is mixed into a fresh digest whose
 * SHA-1 is XORed in, as their order is not part of their value), then XORs in
 * SHA1("!!expire!!") when the key has a TTL (its presence, not the time). DEBUG
 * DIGEST-VALUE is that digest without the name; DEBUG DIGEST XORs the SHA-1 of every key
 * digest of each non-empty db after mixing in the db's number. "mix" chains
 * (d = SHA1(d ^ SHA1(x))), "xor" accumulates (d ^= SHA1(x)). An empty dataset digests to
 * 20 zero bytes.
 * SHA-1 follows FIPS 180-4; it is a fingerprint here, not a security measure.
 */
#include "kv_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "listpack.h"
#include "quicklist.h"
#include "t_hash.h"
#include "t_set.h"
#include "t_zset.h"

/* --- SHA-1 (FIPS 180-4) --- */

typedef struct sha1 {
    uint32_t h[5];
    uint64_t nbytes;
    unsigned char buf[64];
    size_t nbuf;
} sha1_t;

static uint32_t rol(uint32_t x, int n) {
    return (x << n) | (x >> (32 - n));
}

static void sha1_block(sha1_t *s, const unsigned char *p) {
    uint32_t w[80];
    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
               (uint32_t)p[4 * i + 2] << 8 | (uint32_t)p[4 * i + 3];
    for (int i = 16; i < 80; i++)
        w[i] = rol(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
    uint32_t a = s->h[0], b = s->h[1], c = s->h[2], d = s->h[3], e = s->h[4];
    for (int i = 0; i < 80; i++) {
        uint32_t f, k;
        if (i < 20) {
            f = (b & c) | (~b & d);
            k = 0x5A827999;
        } else if (i < 40) {
            f = b ^ c ^ d;
            k = 0x6ED9EBA1;
        } else if (i < 60) {
            f = (b & c) | (b & d) | (c & d);
            k = 0x8F1BBCDC;
        } else {
            f = b ^ c ^ d;
            k = 0xCA62C1D6;
        }
        uint32_t t = rol(a, 5) + f + e + k + w[i];
        e = d;
        d = c;
        c = rol(b, 30);
        b = a;
        a = t;
    }
    s->h[0] += a;
    s->h[1] += b;
    s->h[2] += c;
    s->h[3] += d;
    s->h[4] += e;
}

static void sha1_init(sha1_t *s) {
    static const uint32_t iv[5] = {0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0};
    memcpy(s->h, iv, sizeof(iv));
    s->nbytes = 0;
    s->nbuf = 0;
}

static void sha1_update(sha1_t *s, const void *data, size_t len) {
    const unsigned char *p = data;
    s->nbytes += len;
    if (s->nbuf > 0) {
        size_t take = 64 - s->nbuf < len ? 64 - s->nbuf : len;
        memcpy(s->buf + s->nbuf, p, take);
        s->nbuf += take;
        p += take;
        len -= take;
        if (s->nbuf < 64) return;
        sha1_block(s, s->buf);
        s->nbuf = 0;
    }
    for (; len >= 64; p += 64, len -= 64)
        sha1_block(s, p);
    memcpy(s->buf, p, len);
    s->nbuf = len;
}

static void sha1_final(sha1_t *s, unsigned char out[20]) {
    uint64_t bits = s->nbytes * 8;
    unsigned char pad = 0x80, zero = 0, len[8];
    sha1_update(s, &pad, 1);
    while (s->nbuf != 56)
        sha1_update(s, &zero, 1);
    for (int i = 0; i < 8; i++)
        len[i] = (unsigned char)(bits >> (56 - 8 * i));
    sha1_update(s, len, 8);
    for (int i = 0; i < 5; i++) {
        out[4 * i] = (unsigned char)(s->h[i] >> 24);
        out[4 * i + 1] = (unsigned char)(s->h[i] >> 16);
        out[4 * i + 2] = (unsigned char)(s->h[i] >> 8);
        out[4 * i + 3] = (unsigned char)s->h[i];
    }
}

void kv_sha1(const void *data, size_t len, unsigned char out[20]) {
    sha1_t s;
    sha1_init(&s);
    sha1_update(&s, data, len);
    sha1_final(&s, out);
}

/* --- Redis's digest operations --- */

/* d ^= SHA1(p[0..len)) */
static void xor_digest(unsigned char d[20], const void *p, size_t len) {
    unsigned char h[20];
    kv_sha1(p, len, h);
    for (int i = 0; i < 20; i++)
        d[i] ^= h[i];
}

/* d = SHA1(d ^ SHA1(p[0..len))) */
static void mix_digest(unsigned char d[20], const void *p, size_t len) {
    xor_digest(d, p, len);
    kv_sha1(d, 20, d);
}

/* One listpack entry, as the bytes a client would read. */
static void mix_lp_entry(unsigned char d[20], const uint8_t *p) {
    char buf[KV_LP_INTBUF];
    size_t len;
    const uint8_t *s = kv_lp_get_bytes(p, buf, &len);
    mix_digest(d, s, len);
}

/* A list's listpack: its elements mixed in order. */
static void digest_listpack(unsigned char d[20], uint8_t *lp) {
    for (uint8_t *p = kv_lp_first(lp); p != NULL; p = kv_lp_next(lp, p))
        mix_lp_entry(d, p);
}

/* Sets: each member XORed in (a set's order is not part of its value). */
static void digest_set(unsigned char d[20], kv_obj_t *o) {
    kv_set_iter_t it;
    kv_arg_t m;
    kv_set_iter_init(&it, o);
    while (kv_set_iter_next(&it, &m))
        xor_digest(d, m.ptr, m.len);
    kv_set_iter_fini(&it);
}

/* Hashes: each field mixed with its value into a fresh digest, whose SHA-1 is XORed in. */
static void digest_hash(unsigned char d[20], kv_obj_t *o) {
    kv_hash_iter_t it;
    kv_arg_t f, v;
    kv_hash_iter_init(&it, o);
    while (kv_hash_iter_next(&it, &f, &v)) {
        unsigned char e[20] = {0};
        mix_digest(e, f.ptr, f.len);
        mix_digest(e, v.ptr, v.len);
        xor_digest(d, e, sizeof(e));
    }
    kv_hash_iter_fini(&it);
}

/* Sorted sets: each member mixed with its score ("%.17g") into a fresh digest, whose
 * SHA-1 is XORed in. */
static void digest_zset(unsigned char d[20], const kv_obj_t *o) {
    kv_zset_iter_t it;
    kv_zset_elem_t e;
    kv_zset_iter_rank(&it, o, 0, false);
    while (kv_zset_iter_next(&it, &e)) {
        unsigned char x[20] = {0};
        char buf[64];
        int n = snprintf(buf, sizeof(buf), "%.17g", e.score);
        mix_digest(x, e.member, e.len);
        mix_digest(x, buf, (size_t)n);
        xor_digest(d, x, sizeof(x));
    }
}

/* Mixes o's type and value into d (Redis's xorObjectDigest without the expire). */
static void digest_object(unsigned char d[20], const kv_obj_t *o) {
    uint32_t type = o->type;
    unsigned char be[4] = {(unsigned char)(type >> 24), (unsigned char)(type >> 16),
                           (unsigned char)(type >> 8), (unsigned char)type};
    mix_digest(d, be, sizeof(be));
    kv_obj_t *w = (kv_obj_t *)o; /* the iterators take a mutable object; nothing changes */
    switch (o->type) {
    case KV_TYPE_STRING: {
        char ibuf[24];
        size_t len;
        const char *s = kv_obj_str(o, ibuf, &len);
        mix_digest(d, s, len);
        break;
    }
    case KV_TYPE_SET: digest_set(d, w); break;
    case KV_TYPE_HASH: digest_hash(d, w); break;
    case KV_TYPE_LIST:
        if (o->encoding == KV_ENC_QUICKLIST) {
            kv_ql_t *ql = kv_obj_ptr(o);
            for (kv_ql_node_t *n = ql->head; n != NULL; n = n->next) {
                uint8_t *scratch; /* a compressed node's listpack, decompressed */
                const uint8_t *lp = kv_ql_node_listpack(n, &scratch);
                if (lp != NULL) digest_listpack(d, (uint8_t *)lp);
                free(scratch);
            }
        } else {
            digest_listpack(d, kv_obj_ptr(o));
        }
        break;
    case KV_TYPE_ZSET: digest_zset(d, o); break;
    default: break;
    }
}

/* A TTL adds SHA1("!!expire!!") once: its presence, not its time, as Redis. */
static void digest_expire(unsigned char d[20], const kv_obj_t *o) {
    if (kv_obj_expire(o) >= 0) xor_digest(d, "!!expire!!", 10);
}

void kv_digest_value(const kv_obj_t *o, unsigned char out[20]) {
    memset(out, 0, 20);
    digest_object(out, o);
}

void kv_digest_value_ttl(const kv_obj_t *o, unsigned char out[20]) {
    kv_digest_value(o, out);
    digest_expire(out, o);
}

void kv_digest_key(const kv_obj_t *o, unsigned char out[20]) {
    size_t klen;
    const char *key = kv_obj_key(o, &klen);
    memset(out, 0, 20);
    mix_digest(out, key, klen);
    digest_object(out, o);
    digest_expire(out, o);
}

void kv_digest_dataset(unsigned char out[20]) {
    memset(out, 0, 20);
    for (int j = 0; j < kv_srv.ndbs; j++) {
        kv_db_t *db = &kv_srv.dbs[j];
        if (kv_db_size(db) == 0) continue;
        unsigned char be[4] = {(unsigned char)(j >> 24), (unsigned char)(j >> 16),
                               (unsigned char)(j >> 8), (unsigned char)j};
        mix_digest(out, be, sizeof(be));
        kv_ht_iter_t it;
        void *e;
        kv_ht_iter_init(&it, db->keys);
        while (kv_ht_iter_next(&it, &e)) {
            unsigned char k[20];
            kv_digest_key(e, k);
            xor_digest(out, k, sizeof(k));
        }
        kv_ht_iter_fini(&it);
    }
}

void kv_digest_hex(const unsigned char d[20], char out[41]) {
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < 20; i++) {
        out[2 * i] = hex[d[i] >> 4];
        out[2 * i + 1] = hex[d[i] & 15];
    }
    out[40] = '\0';
}
