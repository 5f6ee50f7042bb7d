/* SPDX-License-Identifier: MIT */
/*
 * t_hash.c - the hash type: a listpack of field, value pairs while small, a
 * kv_ht of field+value entries beyond hash-max-listpack-entries /
 * hash-max-listpack-value.
 *
 * Small hashes are one allocation: the listpack [hdr][f1][v1][f2][v2]...[0xFF],
 * fields and values that spell a canonical integer stored as integers. A lookup
 * walks the fields (kv_lp_find with skip 1), which at 512 pairs of short
 * strings is still faster than a cache miss on a table. Large hashes use the
 * keyspace's hashtable (ht.h), whose entries carry their own key, so an entry
 * is a single allocation [field length: 1 byte, or 0xFF + 8-byte
 * length][field][value length][value] (Valkey 8.1's hashTypeEntry embeds the
 * field the same way but keeps the value in a separate sds; one block instead
 * of two saves a malloc header and a pointer per field).
 *
 * Conversion follows Redis 7.0 exactly, since clients see it through OBJECT
 * ENCODING: before a write, any field or value longer than
 * hash-max-listpack-value converts; after a write (new field or update), more
 * than hash-max-listpack-entries fields converts. Lowering a limit with CONFIG
 * SET does not convert existing hashes until they are next written. A hashtable
 * never goes back to a listpack.
 */
#include "t_hash.h"

#include <errno.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>

#include "listpack.h"

_Static_assert(KV_INTBUF >= KV_LP_INTBUF, "integer buffers must hold a listpack integer");

/* --- Hashtable entries --- */

static size_t entry_size(size_t flen, size_t vlen) {
    return kv_agg_len_hdr(flen) + flen + kv_agg_len_hdr(vlen) + vlen;
}

/* Writes the value part of an entry whose field is already in place. */
static void entry_write_value(unsigned char *e, const void *v, size_t vlen) {
    size_t flen;
    unsigned char *p = (unsigned char *)kv_agg_len_get(e, &flen) + flen;
    p = kv_agg_len_put(p, vlen);
    if (vlen) memcpy(p, v, vlen);
}

static unsigned char *entry_new(const void *f, size_t flen, const void *v, size_t vlen) {
    unsigned char *e = malloc(entry_size(flen, vlen));
    if (e == NULL) return NULL;
    unsigned char *p = kv_agg_len_put(e, flen);
    if (flen) memcpy(p, f, flen);
    entry_write_value(e, v, vlen);
    return e;
}

const char *kv_hash_entry_field(const void *entry, size_t *len) {
    return (const char *)kv_agg_len_get(entry, len);
}

const char *kv_hash_entry_value(const void *entry, size_t *len) {
    size_t flen;
    const unsigned char *f = kv_agg_len_get(entry, &flen);
    return (const char *)kv_agg_len_get(f + flen, len);
}

static const void *entry_key(const void *entry, size_t *len) {
    return kv_hash_entry_field(entry, len);
}

static void entry_free(void *entry) {
    free(entry);
}

static const kv_ht_type_t hash_ht_type = {.entry_key = entry_key, .entry_free = entry_free};

/* --- Type hooks --- */

static void hash_free_value(void *ptr, int encoding) {
    if (encoding == KV_ENC_LISTPACK)
        kv_lp_free(ptr);
    else
        kv_ht_free(ptr);
}

size_t kv_agg_ht_bytes(kv_ht_t *ht) {
    size_t n = kv_ht_mem_bytes(ht);
    kv_ht_iter_t it;
    void *e;
    kv_ht_iter_init(&it, ht);
    while (kv_ht_iter_next(&it, &e))
        n += malloc_usable_size(e);
    kv_ht_iter_fini(&it);
    return n;
}

static size_t hash_mem_bytes(const void *ptr, int encoding) {
    if (encoding == KV_ENC_LISTPACK) return malloc_usable_size((void *)ptr);
    return kv_agg_ht_bytes((kv_ht_t *)ptr);
}

static void *hash_dup_value(const void *ptr, int encoding) {
    if (encoding == KV_ENC_LISTPACK) return kv_lp_dup(ptr);
    kv_ht_t *src = (kv_ht_t *)ptr;
    kv_ht_t *dst = kv_ht_new(&hash_ht_type);
    if (dst == NULL) return NULL;
    kv_ht_iter_t it;
    void *e;
    bool oom = false;
    kv_ht_iter_init(&it, src);
    while (!oom && kv_ht_iter_next(&it, &e)) {
        size_t flen, vlen;
        kv_hash_entry_field(e, &flen);
        kv_hash_entry_value(e, &vlen);
        size_t sz = entry_size(flen, vlen);
        unsigned char *copy = malloc(sz);
        if (copy != NULL) memcpy(copy, e, sz);
        if (copy == NULL || kv_ht_add(dst, copy) != 0) {
            free(copy);
            oom = true;
            break;
        }
    }
    kv_ht_iter_fini(&it);
    if (oom) {
        kv_ht_free(dst);
        return NULL;
    }
    return dst;
}

/* --- Active defrag --- */

typedef struct defrag_ctx {
    kv_defrag_move_fn move;
    size_t visited;
} defrag_ctx_t;

static void defrag_entry(void *priv, void **entry_ref) {
    defrag_ctx_t *d = priv;
    void *n = d->move(*entry_ref);
    if (n != NULL) *entry_ref = n;
    d->visited++;
}

bool kv_agg_defrag_value(kv_obj_t *o, uint64_t *cursor, size_t budget, kv_defrag_move_fn move) {
    if (o->encoding != KV_ENC_HASHTABLE) {
        void *n = move(kv_obj_ptr(o)); /* a listpack or an intset: one block */
        if (n != NULL) kv_obj_set_ptr(o, n);
        *cursor = 0;
        return true;
    }
    kv_ht_t *ht = kv_obj_ptr(o);
    if (*cursor == 0) {
        kv_ht_defrag_tables(&ht, move);
        kv_obj_set_ptr(o, ht);
    }
    defrag_ctx_t d = {move, 0};
    size_t cur = (size_t)*cursor;
    do {
        cur = kv_ht_scan_defrag(ht, cur, defrag_entry, &d, move);
    } while (cur != 0 && d.visited < budget);
    *cursor = cur;
    return cur == 0;
}

static size_t hash_defrag_len(const kv_obj_t *o) {
    return kv_hash_len(o);
}

void kv_agg_register_type(int type, const kv_type_ops_t *own) {
    kv_type_ops_t ops = {0};
    const kv_type_ops_t *cur = kv_obj_type_ops(type);
    if (cur != NULL) ops = *cur; /* keep hooks others registered (defrag) */
    ops.free_value = own->free_value;
    ops.mem_bytes = own->mem_bytes;
    ops.dup_value = own->dup_value;
    ops.defrag_len = own->defrag_len;
    ops.defrag_value = kv_agg_defrag_value;
    kv_obj_register_type(type, &ops);
}

static void register_type(void) {
    static bool done;
    if (done) return;
    kv_type_ops_t ops = {.free_value = hash_free_value,
                         .mem_bytes = hash_mem_bytes,
                         .dup_value = hash_dup_value,
                         .defrag_len = hash_defrag_len};
    kv_agg_register_type(KV_TYPE_HASH, &ops);
    done = true;
}

/* --- Object --- */

kv_obj_t *kv_hash_new(const char *key, size_t klen, int64_t expire_ms) {
    register_type();
    uint8_t *lp = kv_lp_new();
    if (lp == NULL) return NULL;
    kv_obj_t *o = kv_obj_new_ptr(key, klen, KV_TYPE_HASH, KV_ENC_LISTPACK, lp, expire_ms);
    if (o == NULL) kv_lp_free(lp);
    return o;
}

size_t kv_hash_len(const kv_obj_t *o) {
    if (o->encoding == KV_ENC_LISTPACK) return kv_lp_len(kv_obj_ptr(o)) / 2;
    return kv_ht_size(kv_obj_ptr(o));
}

/* The listpack position of field, or NULL. */
static uint8_t *lp_find_field(uint8_t *lp, const kv_arg_t *field) {
    uint8_t *p = kv_lp_first(lp);
    if (p == NULL) return NULL;
    return kv_lp_find(lp, p, field->ptr, field->len, 1);
}

static void lp_read(const uint8_t *p, kv_arg_t *out, char *ibuf) {
    size_t len;
    out->ptr = (const char *)kv_lp_get_bytes(p, ibuf, &len);
    out->len = len;
}

bool kv_hash_get(kv_obj_t *o, const kv_arg_t *field, kv_arg_t *val, char *ibuf) {
    if (o->encoding == KV_ENC_LISTPACK) {
        uint8_t *lp = kv_obj_ptr(o);
        uint8_t *p = lp_find_field(lp, field);
        if (p == NULL) return false;
        if (val) lp_read(kv_lp_next(lp, p), val, ibuf);
        return true;
    }
    void *e = kv_ht_find(kv_obj_ptr(o), field->ptr, field->len);
    if (e == NULL) return false;
    if (val) val->ptr = kv_hash_entry_value(e, &val->len);
    return true;
}

bool kv_hash_exists(kv_obj_t *o, const kv_arg_t *field) {
    return kv_hash_get(o, field, NULL, NULL);
}

int kv_hash_convert(kv_obj_t *o) {
    if (o->encoding != KV_ENC_LISTPACK) return 0;
    uint8_t *lp = kv_obj_ptr(o);
    kv_ht_t *ht = kv_ht_new(&hash_ht_type);
    if (ht == NULL) return -ENOMEM;
    char fbuf[KV_LP_INTBUF], vbuf[KV_LP_INTBUF];
    for (uint8_t *p = kv_lp_first(lp); p != NULL;) {
        uint8_t *vp = kv_lp_next(lp, p);
        kv_arg_t f, v;
        lp_read(p, &f, fbuf);
        lp_read(vp, &v, vbuf);
        unsigned char *e = entry_new(f.ptr, f.len, v.ptr, v.len);
        if (e == NULL || kv_ht_add(ht, e) != 0) {
            free(e);
            kv_ht_free(ht);
            return -ENOMEM;
        }
        p = kv_lp_next(lp, vp);
    }
    kv_lp_free(lp);
    kv_obj_set_ptr(o, ht);
    o->encoding = KV_ENC_HASHTABLE;
    return 0;
}

int kv_hash_try_convert(kv_obj_t *o, const kv_arg_t *args, int n) {
    if (o->encoding != KV_ENC_LISTPACK) return 0;
    unsigned long long max = (unsigned long long)kv_srv.cfg.hash_max_listpack_value;
    size_t sum = 0;
    for (int i = 0; i < n; i++) {
        if (args[i].len > max) return kv_hash_convert(o);
        sum += args[i].len;
    }
    /* A listpack must stay below 4 GiB (Redis's lpSafeToAdd uses 1 GiB). */
    if (kv_lp_bytes(kv_obj_ptr(o)) + sum + (size_t)n * 11 > (1u << 30)) return kv_hash_convert(o);
    return 0;
}

int kv_hash_set(kv_obj_t *o, const kv_arg_t *field, const kv_arg_t *val) {
    int added;
    if (o->encoding == KV_ENC_LISTPACK) {
        unsigned long long max = (unsigned long long)kv_srv.cfg.hash_max_listpack_value;
        if (field->len > max || val->len > max) {
            if (kv_hash_convert(o) != 0) return -ENOMEM;
            return kv_hash_set(o, field, val);
        }
        uint8_t *lp = kv_obj_ptr(o);
        uint8_t *p = lp_find_field(lp, field);
        int rc;
        if (p != NULL) {
            uint8_t *vp = kv_lp_next(lp, p);
            rc = kv_lp_replace(&lp, &vp, val->ptr, val->len);
            added = 0;
        } else {
            rc = kv_lp_append(&lp, field->ptr, field->len);
            if (rc == 0) {
                rc = kv_lp_append(&lp, val->ptr, val->len);
                if (rc != 0) kv_lp_delete_range(&lp, -1, 1); /* keep pairs whole */
            }
            added = 1;
        }
        kv_obj_set_ptr(o, lp);
        if (rc != 0) return -ENOMEM;
        if (kv_hash_len(o) > (unsigned long long)kv_srv.cfg.hash_max_listpack_entries)
            kv_hash_convert(o); /* on failure the hash stays a (valid) listpack */
        return added;
    }
    kv_ht_t *ht = kv_obj_ptr(o);
    void **ref = kv_ht_find_ref(ht, field->ptr, field->len);
    if (ref != NULL) {
        unsigned char *e = *ref;
        size_t flen;
        kv_hash_entry_field(e, &flen);
        size_t need = entry_size(flen, val->len);
        if (malloc_usable_size(e) >= need && need * 2 > malloc_usable_size(e)) {
            entry_write_value(e, val->ptr, val->len);
        } else {
            unsigned char *n = entry_new(field->ptr, field->len, val->ptr, val->len);
            if (n == NULL) return -ENOMEM;
            *ref = n;
            free(e);
        }
        return 0;
    }
    unsigned char *e = entry_new(field->ptr, field->len, val->ptr, val->len);
    if (e == NULL) return -ENOMEM;
    if (kv_ht_add(ht, e) != 0) {
        free(e);
        return -ENOMEM;
    }
    return 1;
}

bool kv_hash_del(kv_obj_t *o, const kv_arg_t *field) {
    if (o->encoding == KV_ENC_LISTPACK) {
        uint8_t *lp = kv_obj_ptr(o);
        uint8_t *p = lp_find_field(lp, field);
        if (p == NULL) return false;
        kv_lp_delete(&lp, &p);
        kv_lp_delete(&lp, &p);
        kv_obj_set_ptr(o, lp);
        return true;
    }
    return kv_ht_del(kv_obj_ptr(o), field->ptr, field->len) == 0;
}

void kv_hash_random(kv_obj_t *o, kv_arg_t *field, kv_arg_t *val, char *fbuf, char *vbuf) {
    if (o->encoding == KV_ENC_LISTPACK) {
        uint8_t *lp = kv_obj_ptr(o);
        size_t n = kv_lp_len(lp) / 2;
        uint8_t *p = kv_lp_seek(lp, (long)(2 * ((size_t)kv_rand64() % n)));
        lp_read(p, field, fbuf);
        if (val) lp_read(kv_lp_next(lp, p), val, vbuf);
        return;
    }
    void *e = kv_ht_random(kv_obj_ptr(o));
    field->ptr = kv_hash_entry_field(e, &field->len);
    if (val) val->ptr = kv_hash_entry_value(e, &val->len);
}

/* --- Iteration --- */

void kv_hash_iter_init(kv_hash_iter_t *it, kv_obj_t *o) {
    it->o = o;
    it->p = NULL;
    if (o->encoding == KV_ENC_LISTPACK)
        it->p = kv_lp_first(kv_obj_ptr(o));
    else
        kv_ht_iter_init(&it->hi, kv_obj_ptr(o));
}

bool kv_hash_iter_next(kv_hash_iter_t *it, kv_arg_t *field, kv_arg_t *val) {
    if (it->o->encoding == KV_ENC_LISTPACK) {
        if (it->p == NULL) return false;
        uint8_t *lp = kv_obj_ptr(it->o);
        uint8_t *vp = kv_lp_next(lp, it->p);
        lp_read(it->p, field, it->fbuf);
        lp_read(vp, val, it->vbuf);
        it->p = kv_lp_next(lp, vp);
        return true;
    }
    void *e;
    if (!kv_ht_iter_next(&it->hi, &e)) return false;
    field->ptr = kv_hash_entry_field(e, &field->len);
    val->ptr = kv_hash_entry_value(e, &val->len);
    return true;
}

void kv_hash_iter_fini(kv_hash_iter_t *it) {
    if (it->o->encoding != KV_ENC_LISTPACK) kv_ht_iter_fini(&it->hi);
}

/* --- Validation --- */

int kv_hash_check(const kv_obj_t *o) {
    if (o->type != KV_TYPE_HASH) return -EPROTO;
    void *ptr = kv_obj_ptr(o);
    if (o->encoding == KV_ENC_LISTPACK) {
        if (kv_lp_check(ptr) != 0) return -EPROTO;
        if (kv_lp_len(ptr) % 2 != 0) return -EPROTO;
        /* Fields are unique. */
        char a[KV_LP_INTBUF];
        for (uint8_t *p = kv_lp_first(ptr); p != NULL; p = kv_lp_next(ptr, kv_lp_next(ptr, p))) {
            size_t len;
            const uint8_t *f = kv_lp_get_bytes(p, a, &len);
            uint8_t *q = kv_lp_next(ptr, kv_lp_next(ptr, p));
            if (q != NULL && kv_lp_find(ptr, q, f, len, 1) != NULL) return -EPROTO;
        }
        return 0;
    }
    if (o->encoding != KV_ENC_HASHTABLE) return -EPROTO;
    if (kv_ht_check(ptr) != 0) return -EPROTO;
    kv_ht_iter_t it;
    void *e;
    int rc = 0;
    kv_ht_iter_init(&it, ptr);
    while (rc == 0 && kv_ht_iter_next(&it, &e)) {
        size_t flen, vlen;
        const char *f = kv_hash_entry_field(e, &flen);
        const char *v = kv_hash_entry_value(e, &vlen);
        size_t used = (size_t)(v - (const char *)e) + vlen;
        if (used > malloc_usable_size(e) || (size_t)(f - (const char *)e) != kv_agg_len_hdr(flen))
            rc = -EPROTO;
    }
    kv_ht_iter_fini(&it);
    return rc;
}
