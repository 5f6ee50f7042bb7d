/* SPDX-License-Identifier: MIT */
/*
 * obj.c - keyspace objects: one allocation per key holding the header, the expire time,
 * the key and (when small) the value.
 *
 * Layout (offsets from the start of the allocation, which malloc aligns to 16):
 *
 *   0   header, 4 bytes: type:3 encoding:4 hasexpire:1 lru:24
 *   4   iff hasexpire, 12 bytes: the object's position in its db's TTL index (4 bytes,
 *       meaningful while the expire is set) and the expire (8 bytes at offset 8, absolute
 *       unix ms; -1 = the slot is free)
 *   .   key length: 1 byte (< 255), or 0xFF + 4-byte little-endian length
 *   .   key bytes (no terminator)
 *   .   value section, by encoding:
 *         EMBSTR  length header as for the key, then the bytes
 *         INT     1-byte width (1, 2, 4 or 8), then the integer, little-endian
 *         HASHPACK a small hash's fields and values (hashpack.h), walked by count
 *         RAW and aggregates: an 8-byte pointer (stored unaligned, read with memcpy)
 *
 * Why this shape: with Debian's jemalloc (16-byte quantum, classes 16, 32, 48, 64, 80...)
 * "key:123456" with a 16-byte value takes 4 + 1 + 10 + 1 + 16 = 32 bytes, exactly the
 * 32-byte class, and with a TTL 44, the 48-byte class; Redis 7.0 spends 16 (robj) + 24
 * (dictEntry) + key sds + value sds. There is no refcount: a keyspace object has exactly
 * one owner, its db (OBJECT REFCOUNT answers 1). A string value is embedded when the whole
 * object fits a 64-byte line, or when it fits the size class the object would occupy
 * anyway with a pointer value (nallocx). An object created without a TTL takes the TTL
 * section when its size class has 12 spare bytes, so a later EXPIRE writes in place
 * instead of reallocating.
 */
#include "kv_internal.h"
#include "hashpack.h"

#include <errno.h>
#include <jemalloc/jemalloc.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static kv_type_ops_t type_ops[16];

void kv_obj_register_type(int type, const kv_type_ops_t *ops) {
    if (type >= 0 && type < 16) type_ops[type] = *ops;
}

const kv_type_ops_t *kv_obj_type_ops(int type) {
    if (type < 0 || type >= 16) return NULL;
    const kv_type_ops_t *t = &type_ops[type];
    bool any = t->free_value || t->mem_bytes || t->dup_value || t->defrag_len || t->defrag_value;
    return any ? t : NULL;
}

/* --- Layout helpers --- */

static size_t len_hdr(size_t len) {
    return len < 255 ? 1 : 5;
}

static unsigned char *put_len(unsigned char *p, size_t len) {
    if (len < 255) {
        *p = (unsigned char)len;
        return p + 1;
    }
    uint32_t l = (uint32_t)len;
    p[0] = 0xFF;
    memcpy(p + 1, &l, 4);
    return p + 5;
}

static const unsigned char *get_len(const unsigned char *p, size_t *len) {
    if (p[0] != 0xFF) {
        *len = p[0];
        return p + 1;
    }
    uint32_t l;
    memcpy(&l, p + 1, 4);
    *len = l;
    return p + 5;
}

static size_t val_section(int encoding, size_t vlen) {
    switch (encoding) {
    case KV_ENC_EMBSTR: return len_hdr(vlen) + vlen;
    case KV_ENC_INT: return 1 + vlen;
    default: return sizeof(void *);
    }
}

size_t kv_obj_layout_size(size_t klen, bool with_expire, int encoding, size_t vlen) {
    return sizeof(kv_obj_t) + (with_expire ? KV_OBJ_TTL_BYTES : 0) + len_hdr(klen) + klen +
           val_section(encoding, vlen);
}

static unsigned char *key_section(const kv_obj_t *o) {
    return (unsigned char *)o->data + (o->hasexpire ? KV_OBJ_TTL_BYTES : 0);
}

static unsigned char *value_section(const kv_obj_t *o) {
    size_t klen;
    const unsigned char *k = get_len(key_section(o), &klen);
    return (unsigned char *)k + klen;
}

static size_t int_width(long long v) {
    if (v >= INT8_MIN && v <= INT8_MAX) return 1;
    if (v >= INT16_MIN && v <= INT16_MAX) return 2;
    if (v >= INT32_MIN && v <= INT32_MAX) return 4;
    return 8;
}

/* Allocates an object and writes header, expire and key; returns the value section. */
static kv_obj_t *obj_alloc(int type, int encoding, const char *key, size_t klen, int64_t expire_ms,
                           size_t vsec, unsigned char **vp) {
    bool exp = expire_ms != -1;
    size_t size = sizeof(kv_obj_t) + (exp ? KV_OBJ_TTL_BYTES : 0) + len_hdr(klen) + klen + vsec;
    /* A free TTL section when the size class has room for it anyway. */
    if (!exp && nallocx(size, 0) >= size + KV_OBJ_TTL_BYTES) {
        exp = true;
        size += KV_OBJ_TTL_BYTES;
    }
    kv_obj_t *o = malloc(size);
    if (o == NULL) return NULL;
    o->type = (uint32_t)type;
    o->encoding = (uint32_t)encoding;
    o->lru = 0;
    o->hasexpire = exp;
    kv_obj_init_lru(o);
    unsigned char *p = o->data;
    if (exp) {
        memset(p, 0, 4);
        memcpy(p + 4, &expire_ms, 8);
        p += KV_OBJ_TTL_BYTES;
    }
    p = put_len(p, klen);
    memcpy(p, key, klen);
    *vp = p + klen;
    return o;
}

/* --- Constructors --- */

kv_obj_t *kv_obj_new_int(const char *key, size_t klen, long long v, int64_t expire_ms) {
    size_t w = int_width(v);
    unsigned char *vp;
    kv_obj_t *o = obj_alloc(KV_TYPE_STRING, KV_ENC_INT, key, klen, expire_ms, 1 + w, &vp);
    if (o == NULL) return NULL;
    vp[0] = (unsigned char)w;
    /* Little-endian: the low w bytes of v. */
    memcpy(vp + 1, &v, w);
    return o;
}

static kv_rstr_t *rstr_new(const char *val, size_t vlen, size_t cap) {
    if (cap < vlen) cap = vlen;
    kv_rstr_t *s = malloc(sizeof(*s) + cap);
    if (s == NULL) return NULL;
    s->len = vlen;
    if (vlen) memcpy(s->data, val, vlen);
    return s;
}

kv_obj_t *kv_obj_new_raw_string(const char *key, size_t klen, const char *val, size_t vlen,
                                int64_t expire_ms) {
    bool exp = expire_ms != -1;
    size_t emb = kv_obj_layout_size(klen, exp, KV_ENC_EMBSTR, vlen);
    size_t with_ptr = kv_obj_layout_size(klen, exp, KV_ENC_RAW, 0);
    unsigned char *vp;
    if (emb <= KV_OBJ_EMBED_LINE || nallocx(with_ptr, 0) >= emb) {
        kv_obj_t *o = obj_alloc(KV_TYPE_STRING, KV_ENC_EMBSTR, key, klen, expire_ms,
                                len_hdr(vlen) + vlen, &vp);
        if (o == NULL) return NULL;
        vp = put_len(vp, vlen);
        memcpy(vp, val, vlen);
        return o;
    }
    kv_rstr_t *s = rstr_new(val, vlen, vlen);
    if (s == NULL) return NULL;
    kv_obj_t *o = kv_obj_new_ptr(key, klen, KV_TYPE_STRING, KV_ENC_RAW, s, expire_ms);
    if (o == NULL) free(s);
    return o;
}

kv_obj_t *kv_obj_new_string(const char *key, size_t klen, const char *val, size_t vlen,
                            int64_t expire_ms) {
    long long v;
    if (vlen <= KV_OBJ_INT_MAX_CHARS && kv_str2ll(val, vlen, &v))
        return kv_obj_new_int(key, klen, v, expire_ms);
    return kv_obj_new_raw_string(key, klen, val, vlen, expire_ms);
}

kv_obj_t *kv_obj_new_ptr(const char *key, size_t klen, int type, int encoding, void *ptr,
                         int64_t expire_ms) {
    unsigned char *vp;
    kv_obj_t *o = obj_alloc(type, encoding, key, klen, expire_ms, sizeof(void *), &vp);
    if (o == NULL) return NULL;
    memcpy(vp, &ptr, sizeof(ptr));
    return o;
}

static bool has_ptr_value(const kv_obj_t *o) {
    return o->encoding != KV_ENC_EMBSTR && o->encoding != KV_ENC_INT &&
           o->encoding != KV_ENC_HASHPACK;
}

bool kv_obj_has_ptr(const kv_obj_t *o) {
    return has_ptr_value(o);
}

unsigned char *kv_obj_value(const kv_obj_t *o) {
    return value_section(o);
}

kv_obj_t *kv_obj_new_embedded(const char *key, size_t klen, int type, int encoding, const void *val,
                              size_t vlen, int64_t expire_ms) {
    unsigned char *vp;
    kv_obj_t *o = obj_alloc(type, encoding, key, klen, expire_ms, vlen, &vp);
    if (o == NULL) return NULL;
    memcpy(vp, val, vlen);
    return o;
}

kv_obj_t *kv_obj_resize(kv_obj_t *o, size_t bytes) {
    kv_obj_t *n = realloc(o, bytes);
    if (n != NULL) return n;
    return bytes <= malloc_usable_size(o) ? o : NULL;
}

kv_obj_t *kv_obj_with_ptr(const kv_obj_t *o, int encoding, void *ptr) {
    size_t klen;
    const char *key = kv_obj_key(o, &klen);
    int64_t exp = kv_obj_expire(o);
    kv_obj_t *n = kv_obj_new_ptr(key, klen, (int)o->type, encoding, ptr, exp);
    if (n == NULL) return NULL;
    n->lru = o->lru;
    if (exp >= 0) kv_obj_set_ttl_pos(n, kv_obj_ttl_pos(o)); /* n takes o's TTL index slot */
    return n;
}

void kv_obj_free_shell(kv_obj_t *o) {
    free(o);
}

void kv_obj_free(kv_obj_t *o) {
    if (o == NULL) return;
    if (has_ptr_value(o)) {
        void *p = kv_obj_ptr(o);
        if (o->type == KV_TYPE_STRING)
            free(p);
        else if (type_ops[o->type].free_value)
            type_ops[o->type].free_value(p, (int)o->encoding);
    }
    free(o);
}

/* --- Accessors --- */

const char *kv_obj_key(const kv_obj_t *o, size_t *len) {
    return (const char *)get_len(key_section(o), len);
}

int64_t kv_obj_expire(const kv_obj_t *o) {
    if (!o->hasexpire) return -1;
    int64_t e;
    memcpy(&e, o->data + 4, 8);
    return e;
}

uint32_t kv_obj_ttl_pos(const kv_obj_t *o) {
    uint32_t pos;
    memcpy(&pos, o->data, 4);
    return pos;
}

void kv_obj_set_ttl_pos(kv_obj_t *o, uint32_t pos) {
    memcpy(o->data, &pos, 4);
}

static size_t obj_size(const kv_obj_t *o) {
    size_t klen;
    kv_obj_key(o, &klen);
    const unsigned char *v = value_section(o);
    size_t vsec;
    if (o->encoding == KV_ENC_EMBSTR) {
        size_t vlen;
        const unsigned char *b = get_len(v, &vlen);
        vsec = (size_t)(b - v) + vlen;
    } else if (o->encoding == KV_ENC_INT) {
        vsec = 1 + v[0];
    } else if (o->encoding == KV_ENC_HASHPACK) {
        vsec = kv_hpk_bytes(v);
    } else {
        vsec = sizeof(void *);
    }
    return (size_t)(v - (const unsigned char *)o) + vsec;
}

size_t kv_obj_used_bytes(const kv_obj_t *o) {
    return obj_size(o);
}

kv_obj_t *kv_obj_set_expire(kv_obj_t *o, int64_t expire_ms) {
    if (o->hasexpire) {
        memcpy(o->data + 4, &expire_ms, 8);
        return o;
    }
    if (expire_ms == -1) return o;
    size_t old = obj_size(o);
    kv_obj_t *n = malloc(old + KV_OBJ_TTL_BYTES);
    if (n == NULL) return NULL;
    memcpy(n, o, sizeof(kv_obj_t));
    n->hasexpire = 1;
    memset(n->data, 0, 4);
    memcpy(n->data + 4, &expire_ms, 8);
    memcpy(n->data + KV_OBJ_TTL_BYTES, o->data, old - sizeof(kv_obj_t));
    free(o);
    return n;
}

kv_obj_t *kv_obj_rekey(const kv_obj_t *o, const char *key, size_t klen, int64_t expire_ms) {
    const unsigned char *v = value_section(o);
    size_t vsec = obj_size(o) - (size_t)(v - (const unsigned char *)o);
    unsigned char *vp;
    kv_obj_t *n = obj_alloc((int)o->type, (int)o->encoding, key, klen, expire_ms, vsec, &vp);
    if (n == NULL) return NULL;
    memcpy(vp, v, vsec);
    n->lru = o->lru;
    return n;
}

kv_obj_t *kv_obj_dup(const kv_obj_t *o, const char *key, size_t klen, int64_t expire_ms) {
    if (!has_ptr_value(o)) return kv_obj_rekey(o, key, klen, expire_ms);
    void *copy;
    const void *p = kv_obj_ptr(o);
    if (o->type == KV_TYPE_STRING) {
        const kv_rstr_t *s = p;
        copy = rstr_new(s->data, s->len, s->len);
    } else if (type_ops[o->type].dup_value) {
        copy = type_ops[o->type].dup_value(p, (int)o->encoding);
    } else {
        return NULL;
    }
    if (copy == NULL) return NULL;
    kv_obj_t *n = kv_obj_new_ptr(key, klen, (int)o->type, (int)o->encoding, copy, expire_ms);
    if (n == NULL) {
        if (o->type == KV_TYPE_STRING)
            free(copy);
        else if (type_ops[o->type].free_value)
            type_ops[o->type].free_value(copy, (int)o->encoding);
    }
    return n;
}

void *kv_obj_ptr(const kv_obj_t *o) {
    void *p;
    memcpy(&p, value_section(o), sizeof(p));
    return p;
}

void kv_obj_set_ptr(kv_obj_t *o, void *ptr) {
    memcpy(value_section(o), &ptr, sizeof(ptr));
}

static long long int_value(const kv_obj_t *o) {
    const unsigned char *v = value_section(o);
    switch (v[0]) {
    case 1: return (int8_t)v[1];
    case 2: {
        int16_t x;
        memcpy(&x, v + 1, 2);
        return x;
    }
    case 4: {
        int32_t x;
        memcpy(&x, v + 1, 4);
        return x;
    }
    default: {
        int64_t x;
        memcpy(&x, v + 1, 8);
        return x;
    }
    }
}

const char *kv_obj_str(const kv_obj_t *o, char *ibuf, size_t *len) {
    switch (o->encoding) {
    case KV_ENC_EMBSTR: return (const char *)get_len(value_section(o), len);
    case KV_ENC_INT: *len = kv_ll2str(ibuf, int_value(o)); return ibuf;
    default: {
        const kv_rstr_t *s = kv_obj_ptr(o);
        *len = s->len;
        return s->data;
    }
    }
}

size_t kv_obj_strlen(const kv_obj_t *o) {
    char buf[24];
    size_t len;
    kv_obj_str(o, buf, &len);
    return len;
}

bool kv_obj_get_ll(const kv_obj_t *o, long long *v) {
    if (o->type != KV_TYPE_STRING) return false;
    if (o->encoding == KV_ENC_INT) {
        *v = int_value(o);
        return true;
    }
    char buf[24];
    size_t len;
    const char *s = kv_obj_str(o, buf, &len);
    return kv_str2ll(s, len, v);
}

bool kv_obj_int_set_inplace(kv_obj_t *o, long long v) {
    if (o->encoding != KV_ENC_INT) return false;
    unsigned char *vp = value_section(o);
    if (vp[0] != int_width(v)) return false;
    memcpy(vp + 1, &v, vp[0]);
    return true;
}

size_t kv_rstr_cap(const kv_rstr_t *s) {
    return malloc_usable_size((void *)s) - sizeof(*s);
}

kv_rstr_t *kv_obj_rstr_reserve(kv_obj_t *o, size_t cap) {
    kv_rstr_t *s = kv_obj_ptr(o);
    if (kv_rstr_cap(s) >= cap) return s;
    /* Greedy growth as sdsMakeRoomFor: double below 1 MB, then +1 MB. */
    size_t want = cap < 1024 * 1024 ? cap * 2 : cap + 1024 * 1024;
    kv_rstr_t *n = realloc(s, sizeof(*n) + want);
    if (n == NULL) n = realloc(s, sizeof(*n) + cap);
    if (n == NULL) return NULL;
    kv_obj_set_ptr(o, n);
    return n;
}

kv_rstr_t *kv_obj_str_make_raw(kv_obj_t **op, size_t min_cap) {
    kv_obj_t *o = *op;
    if (o->encoding == KV_ENC_RAW) return kv_obj_rstr_reserve(o, min_cap);
    char buf[24];
    size_t len;
    const char *cur = kv_obj_str(o, buf, &len);
    kv_rstr_t *s = rstr_new(cur, len, min_cap);
    if (s == NULL) return NULL;
    size_t klen;
    const char *key = kv_obj_key(o, &klen);
    int64_t exp = kv_obj_expire(o);
    kv_obj_t *n = kv_obj_new_ptr(key, klen, KV_TYPE_STRING, KV_ENC_RAW, s, exp);
    if (n == NULL) {
        free(s);
        return NULL;
    }
    n->lru = o->lru;
    if (exp >= 0) kv_obj_set_ttl_pos(n, kv_obj_ttl_pos(o)); /* n takes o's TTL index slot */
    kv_obj_free(o);
    *op = n;
    return s;
}

size_t kv_obj_mem_bytes(const kv_obj_t *o) {
    size_t n = malloc_usable_size((void *)o);
    if (has_ptr_value(o)) {
        void *p = kv_obj_ptr(o);
        if (o->type == KV_TYPE_STRING)
            n += malloc_usable_size(p);
        else if (type_ops[o->type].mem_bytes)
            n += type_ops[o->type].mem_bytes(p, (int)o->encoding);
    }
    return n;
}

const char *kv_obj_encoding_name(int encoding) {
    switch (encoding) {
    case KV_ENC_RAW: return "raw";
    case KV_ENC_INT: return "int";
    case KV_ENC_EMBSTR: return "embstr";
    case KV_ENC_HASHTABLE: return "hashtable";
    case KV_ENC_QUICKLIST: return "quicklist";
    case KV_ENC_LISTPACK:
    case KV_ENC_HASHPACK: return "listpack";
    case KV_ENC_INTSET: return "intset";
    case KV_ENC_SKIPLIST: return "skiplist";
    default: return "unknown";
    }
}

const char *kv_obj_type_name(int type) {
    switch (type) {
    case KV_TYPE_STRING: return "string";
    case KV_TYPE_LIST: return "list";
    case KV_TYPE_SET: return "set";
    case KV_TYPE_ZSET: return "zset";
    case KV_TYPE_HASH: return "hash";
    default: return "unknown";
    }
}

int kv_obj_check(const kv_obj_t *o) {
    if (o == NULL) return -EPROTO;
    if (o->type > KV_TYPE_HASH) return -EPROTO;
    if (o->type == KV_TYPE_STRING && o->encoding != KV_ENC_RAW && o->encoding != KV_ENC_INT &&
        o->encoding != KV_ENC_EMBSTR)
        return -EPROTO;
    if (o->encoding == KV_ENC_HASHPACK) {
        if (o->type != KV_TYPE_HASH) return -EPROTO;
        const unsigned char *v = value_section(o);
        size_t off = (size_t)(v - (const unsigned char *)o), used;
        size_t usable = malloc_usable_size((void *)o);
        if (off >= usable || kv_hpk_validate(v, usable - off, &used) != 0) return -EPROTO;
    }
    if (o->hasexpire && kv_obj_expire(o) < -1) return -EPROTO;
    if (o->hasexpire && ((uintptr_t)(o->data + 4) & 7) != 0) return -EPROTO; /* 8-aligned */
    size_t size = obj_size(o);
    if (size > malloc_usable_size((void *)o)) return -EPROTO;
    if (o->encoding == KV_ENC_INT) {
        unsigned w = value_section(o)[0];
        if (w != 1 && w != 2 && w != 4 && w != 8) return -EPROTO;
        if (int_width(int_value(o)) != w) return -EPROTO; /* always the narrowest width */
    } else if (has_ptr_value(o)) {
        const void *p = kv_obj_ptr(o);
        if (p == NULL) return -EPROTO;
        if (o->type == KV_TYPE_STRING && ((const kv_rstr_t *)p)->len > kv_rstr_cap(p))
            return -EPROTO;
    }
    return 0;
}

/* --- LRU / LFU (Redis's evict.c arithmetic) --- */

#define LFU_INIT_VAL 5

static bool lfu_policy(void) {
    int p = kv_srv.cfg.maxmemory_policy;
    return p == KV_POLICY_ALLKEYS_LFU || p == KV_POLICY_VOLATILE_LFU;
}

uint32_t kv_lru_clock(void) {
    if (kv_srv.lruclock != 0) return (uint32_t)kv_srv.lruclock;
    return (uint32_t)((kv_mstime() / KV_LRU_RESOLUTION_MS) & KV_LRU_CLOCK_MAX);
}

static unsigned long lfu_time_minutes(void) {
    int64_t ms = kv_srv.mstime ? kv_srv.mstime : kv_mstime();
    return (unsigned long)((ms / 1000 / 60) & 65535);
}

void kv_obj_init_lru(kv_obj_t *o) {
    if (lfu_policy())
        o->lru = (uint32_t)((lfu_time_minutes() << 8) | LFU_INIT_VAL);
    else
        o->lru = kv_lru_clock();
}

static unsigned long lfu_decr(const kv_obj_t *o) {
    unsigned long ldt = o->lru >> 8, counter = o->lru & 255, now = lfu_time_minutes();
    unsigned long elapsed = now >= ldt ? now - ldt : 65535 - ldt + now;
    unsigned long periods =
        kv_srv.cfg.lfu_decay_time ? elapsed / (unsigned long)kv_srv.cfg.lfu_decay_time : 0;
    return periods > counter ? 0 : counter - periods;
}

void kv_obj_touch(kv_obj_t *o) {
    if (!lfu_policy()) {
        o->lru = kv_lru_clock();
        return;
    }
    unsigned long counter = lfu_decr(o);
    if (counter < 255) {
        double r = kv_rand_double();
        double base = counter > LFU_INIT_VAL ? (double)(counter - LFU_INIT_VAL) : 0;
        double p = 1.0 / (base * kv_srv.cfg.lfu_log_factor + 1);
        if (r < p) counter++;
    }
    o->lru = (uint32_t)((lfu_time_minutes() << 8) | counter);
}

uint64_t kv_obj_idle_ms(const kv_obj_t *o) {
    uint64_t clock = kv_lru_clock();
    if (clock >= o->lru) return (clock - o->lru) * KV_LRU_RESOLUTION_MS;
    return (clock + (KV_LRU_CLOCK_MAX - o->lru)) * KV_LRU_RESOLUTION_MS;
}

unsigned kv_obj_lfu_freq(const kv_obj_t *o) {
    return (unsigned)lfu_decr(o);
}
