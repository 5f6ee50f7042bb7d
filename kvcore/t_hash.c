/* SPDX-License-Identifier: MIT */
/*
 * t_hash.c - the hash type: a pack of field, value pairs inside the object while
 * small, a kv_ht of field+value entries beyond hash-max-listpack-entries /
 * hash-max-listpack-value.
 *
 * Small hashes are one allocation: [object header][TTL][key][count][f1][v1]...
 * (hashpack.h), fields and values that spell a canonical integer stored as
 * integers. A lookup walks the fields (kv_hpk_find), which at 512 pairs of
 * short strings is still faster than a cache miss on a table. A change resizes
 * the object with one realloc (pack_edit), so it may move: every change takes
 * `kv_obj_t **op`. Updates of the same encoded size write in place. Large hashes use the
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
 * never goes back to a pack.
 */
#include "t_hash.h"

#include <errno.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>

#include "hashpack.h"
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

/* The hooks only ever see hashtables: a pack lives inside its object. */
static void hash_free_value(void *ptr, int encoding) {
    (void)encoding;
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
    (void)encoding;
    return kv_agg_ht_bytes((kv_ht_t *)ptr);
}

static void *hash_dup_value(const void *ptr, int encoding) {
    (void)encoding;
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

/* The most entries one move_batch call takes. */
#define DEFRAG_ENTRY_RUN 32

/* The entries a scan visited, moved in runs; refs are slots of buckets the scan has left
 * (a chain bucket moves before its slots are visited, and nothing changes the table
 * until the run is flushed). */
typedef struct defrag_ctx {
    const kv_defrag_mover_t *m;
    size_t visited, n;
    void **refs[DEFRAG_ENTRY_RUN];
} defrag_ctx_t;

static void defrag_flush(defrag_ctx_t *d) {
    void *ptrs[DEFRAG_ENTRY_RUN];
    for (size_t i = 0; i < d->n; i++)
        ptrs[i] = *d->refs[i];
    d->m->move_batch(ptrs, d->n);
    for (size_t i = 0; i < d->n; i++)
        *d->refs[i] = ptrs[i];
    d->n = 0;
}

static void defrag_entry(void *priv, void **entry_ref) {
    defrag_ctx_t *d = priv;
    d->visited++;
    if (d->m->move_batch == NULL) {
        void *n = d->m->move(*entry_ref);
        if (n != NULL) *entry_ref = n;
        return;
    }
    __builtin_prefetch(*entry_ref); /* its copy reads it */
    d->refs[d->n++] = entry_ref;
    if (d->n == DEFRAG_ENTRY_RUN) defrag_flush(d);
}

bool kv_agg_defrag_value(kv_obj_t *o, uint64_t *cursor, size_t budget, const kv_defrag_mover_t *m) {
    if (o->encoding == KV_ENC_HASHPACK) { /* inside the object, which moved as one block */
        *cursor = 0;
        return true;
    }
    if (o->encoding != KV_ENC_HASHTABLE) {
        void *n = m->move(kv_obj_ptr(o)); /* a listpack or an intset: one block */
        if (n != NULL) kv_obj_set_ptr(o, n);
        *cursor = 0;
        return true;
    }
    kv_ht_t *ht = kv_obj_ptr(o);
    if (*cursor == 0) {
        kv_ht_defrag_tables(&ht, m->move);
        kv_obj_set_ptr(o, ht);
    }
    defrag_ctx_t d = {.m = m};
    size_t cur = (size_t)*cursor;
    do {
        cur = kv_ht_scan_defrag(ht, cur, defrag_entry, &d, m->move);
    } while (cur != 0 && d.visited < budget);
    if (d.n > 0) defrag_flush(&d);
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
    uint8_t empty[KV_HPK_EMPTY] = {0}; /* a pack of 0 pairs */
    return kv_obj_new_embedded(key, klen, KV_TYPE_HASH, KV_ENC_HASHPACK, empty, sizeof(empty),
                               expire_ms);
}

static inline const uint8_t *pack_of(const kv_obj_t *o) {
    return kv_obj_value(o);
}

size_t kv_hash_len(const kv_obj_t *o) {
    if (o->encoding == KV_ENC_HASHPACK) {
        size_t n;
        kv_hpk_count(pack_of(o), &n);
        return n;
    }
    return kv_ht_size(kv_obj_ptr(o));
}

static void pack_read(const uint8_t *p, kv_arg_t *out, char *ibuf) {
    kv_hpk_get_bytes(p, ibuf, &out->ptr, &out->len);
}

bool kv_hash_get(kv_obj_t *o, const kv_arg_t *field, kv_arg_t *val, char *ibuf) {
    if (o->encoding == KV_ENC_HASHPACK) {
        size_t n, i;
        const uint8_t *p = kv_hpk_count(pack_of(o), &n);
        p = kv_hpk_find(p, n, field->ptr, field->len, &i);
        if (i == n) return false;
        if (val) pack_read(kv_hpk_skip(p), val, ibuf);
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

/*
 * The one resize of a pack: the object's bytes [off, off+oldlen) become newlen bytes
 * (for the caller to write, at *dst) and the count becomes `count`, whose varint may
 * change size; `end` is the object's used size. One realloc: growing returns NULL on
 * out-of-memory with o unchanged; shrinking never fails. Returns the object, which may
 * have moved.
 */
static kv_obj_t *pack_edit(kv_obj_t *o, size_t end, size_t off, size_t oldlen, size_t newlen,
                           size_t count, uint8_t **dst) {
    size_t coff = (size_t)(pack_of(o) - (const uint8_t *)o), old_count;
    size_t csz_old = (size_t)(kv_hpk_count(pack_of(o), &old_count) - pack_of(o));
    size_t csz_new = kv_hpk_count_bytes(count);
    size_t nend = end - oldlen + newlen - csz_old + csz_new;
    if (nend > end) {
        o = kv_obj_resize(o, nend);
        if (o == NULL) return NULL;
    }
    uint8_t *base = (uint8_t *)o;
    /* [count][A: coff+csz_old .. off][old region][B: off+oldlen .. end]: A moves by the
     * count's change, B by that plus the region's. Whichever move would overwrite the
     * other's source goes second. */
    size_t a_len = off - coff - csz_old, b_len = end - off - oldlen;
    uint8_t *a_to = base + coff + csz_new, *b_to = base + off - csz_old + csz_new + newlen;
    if (csz_new > csz_old) {
        memmove(b_to, base + off + oldlen, b_len);
        memmove(a_to, base + coff + csz_old, a_len);
    } else {
        memmove(a_to, base + coff + csz_old, a_len);
        memmove(b_to, base + off + oldlen, b_len);
    }
    kv_hpk_put_count(base + coff, count);
    size_t dst_off = (size_t)(a_to - base) + a_len;
    if (nend < end) o = kv_obj_resize(o, nend); /* may move too */
    *dst = (uint8_t *)o + dst_off;
    return o;
}

/* A pack with every field of o in a new hashtable object; o is freed. 0 or -ENOMEM. */
static int pack_to_table(kv_obj_t **op) {
    kv_obj_t *o = *op;
    kv_ht_t *ht = kv_ht_new(&hash_ht_type);
    if (ht == NULL) return -ENOMEM;
    char fbuf[KV_LP_INTBUF], vbuf[KV_LP_INTBUF];
    size_t n;
    const uint8_t *p = kv_hpk_count(pack_of(o), &n);
    for (size_t i = 0; i < n; i++) {
        kv_arg_t f, v;
        p = kv_hpk_get_bytes(p, fbuf, &f.ptr, &f.len);
        p = kv_hpk_get_bytes(p, vbuf, &v.ptr, &v.len);
        unsigned char *e = entry_new(f.ptr, f.len, v.ptr, v.len);
        if (e == NULL || kv_ht_add(ht, e) != 0) {
            free(e);
            kv_ht_free(ht);
            return -ENOMEM;
        }
    }
    kv_obj_t *t = kv_obj_with_ptr(o, KV_ENC_HASHTABLE, ht);
    if (t == NULL) {
        kv_ht_free(ht);
        return -ENOMEM;
    }
    kv_obj_free_shell(o);
    *op = t;
    return 0;
}

int kv_hash_convert(kv_obj_t **op) {
    if ((*op)->encoding != KV_ENC_HASHPACK) return 0;
    return pack_to_table(op);
}

/* The longest field or value a pack keeps: hash-max-listpack-value, at most 1 GiB (a
 * listpack's limit in Redis, lpSafeToAdd). */
static size_t pack_max_value(void) {
    unsigned long long max = (unsigned long long)kv_srv.cfg.hash_max_listpack_value;
    return max > (1u << 30) ? (size_t)1 << 30 : (size_t)max;
}

int kv_hash_try_convert(kv_obj_t **op, const kv_arg_t *args, int n) {
    if ((*op)->encoding != KV_ENC_HASHPACK) return 0;
    size_t max = pack_max_value();
    size_t sum = 0;
    for (int i = 0; i < n; i++) {
        if (args[i].len > max) return kv_hash_convert(op);
        sum += args[i].len;
    }
    /* The pack stays below 1 GiB (Redis's lpSafeToAdd), its allocation bounding it. */
    if (malloc_usable_size(*op) + sum + (size_t)n * 11 > (1u << 30)) return kv_hash_convert(op);
    return 0;
}

static int pack_set(kv_obj_t **op, const kv_arg_t *field, const kv_arg_t *val) {
    kv_obj_t *o = *op;
    kv_hpk_enc_t ve, fe;
    if (kv_hpk_encode(&ve, val->ptr, val->len) != 0) return -ENOMEM; /* pre: <= 1 GiB */
    const uint8_t *base = (const uint8_t *)o;
    size_t n, i;
    const uint8_t *first = kv_hpk_count(pack_of(o), &n);
    const uint8_t *p = kv_hpk_find(first, n, field->ptr, field->len, &i);
    uint8_t *dst;
    if (i < n) {
        const uint8_t *vp = kv_hpk_skip(p), *after = kv_hpk_skip(vp);
        size_t oldlen = (size_t)(after - vp), newlen = kv_hpk_enc_bytes(&ve);
        if (newlen == oldlen) {
            kv_hpk_write((uint8_t *)vp, &ve); /* same size: in place, nothing moves */
            return 0;
        }
        size_t end = (size_t)(kv_hpk_skip_pairs(after, n - i - 1) - base);
        o = pack_edit(o, end, (size_t)(vp - base), oldlen, newlen, n, &dst);
        if (o == NULL) return -ENOMEM;
        kv_hpk_write(dst, &ve);
        *op = o;
        return 0;
    }
    if (kv_hpk_encode(&fe, field->ptr, field->len) != 0) return -ENOMEM;
    size_t end = (size_t)(p - base);
    o = pack_edit(o, end, end, 0, kv_hpk_enc_bytes(&fe) + kv_hpk_enc_bytes(&ve), n + 1, &dst);
    if (o == NULL) return -ENOMEM;
    kv_hpk_write(kv_hpk_write(dst, &fe), &ve);
    *op = o;
    return 1;
}

int kv_hash_set(kv_obj_t **op, const kv_arg_t *field, const kv_arg_t *val) {
    if ((*op)->encoding == KV_ENC_HASHPACK) {
        size_t max = pack_max_value();
        if (field->len > max || val->len > max) {
            if (kv_hash_convert(op) != 0) return -ENOMEM;
            return kv_hash_set(op, field, val);
        }
        int added = pack_set(op, field, val);
        if (added < 0) return added;
        if (kv_hash_len(*op) > (unsigned long long)kv_srv.cfg.hash_max_listpack_entries)
            kv_hash_convert(op); /* on failure the hash stays a (valid) pack */
        return added;
    }
    kv_ht_t *ht = kv_obj_ptr(*op);
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

bool kv_hash_del(kv_obj_t **op, const kv_arg_t *field) {
    kv_obj_t *o = *op;
    if (o->encoding == KV_ENC_HASHPACK) {
        const uint8_t *base = (const uint8_t *)o;
        size_t n, i;
        const uint8_t *first = kv_hpk_count(pack_of(o), &n);
        const uint8_t *p = kv_hpk_find(first, n, field->ptr, field->len, &i);
        if (i == n) return false;
        const uint8_t *after = kv_hpk_skip(kv_hpk_skip(p));
        size_t end = (size_t)(kv_hpk_skip_pairs(after, n - i - 1) - base);
        uint8_t *dst;
        *op = pack_edit(o, end, (size_t)(p - base), (size_t)(after - p), 0, n - 1, &dst);
        return true; /* shrinking never fails */
    }
    return kv_ht_del(kv_obj_ptr(o), field->ptr, field->len) == 0;
}

void kv_hash_random(kv_obj_t *o, kv_arg_t *field, kv_arg_t *val, char *fbuf, char *vbuf) {
    if (o->encoding == KV_ENC_HASHPACK) {
        size_t n;
        const uint8_t *p = kv_hpk_count(pack_of(o), &n);
        p = kv_hpk_skip_pairs(p, (size_t)kv_rand64() % n);
        p = kv_hpk_get_bytes(p, fbuf, &field->ptr, &field->len);
        if (val) pack_read(p, val, vbuf);
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
    it->left = 0;
    if (o->encoding == KV_ENC_HASHPACK)
        it->p = kv_hpk_count(pack_of(o), &it->left);
    else
        kv_ht_iter_init(&it->hi, kv_obj_ptr(o));
}

bool kv_hash_iter_next(kv_hash_iter_t *it, kv_arg_t *field, kv_arg_t *val) {
    if (it->o->encoding == KV_ENC_HASHPACK) {
        if (it->left == 0) return false;
        it->left--;
        const uint8_t *p = kv_hpk_get_bytes(it->p, it->fbuf, &field->ptr, &field->len);
        it->p = kv_hpk_get_bytes(p, it->vbuf, &val->ptr, &val->len);
        return true;
    }
    void *e;
    if (!kv_ht_iter_next(&it->hi, &e)) return false;
    field->ptr = kv_hash_entry_field(e, &field->len);
    val->ptr = kv_hash_entry_value(e, &val->len);
    return true;
}

void kv_hash_iter_fini(kv_hash_iter_t *it) {
    if (it->o->encoding != KV_ENC_HASHPACK) kv_ht_iter_fini(&it->hi);
}

/* --- Listpacks (RDB, DUMP) --- */

size_t kv_hash_lp_bytes(const kv_obj_t *o) {
    return kv_hpk_lp_bytes(pack_of(o));
}

void kv_hash_to_lp(const kv_obj_t *o, uint8_t *lp, size_t bytes) {
    kv_hpk_to_lp(pack_of(o), lp, bytes);
}

/* --- Validation --- */

int kv_hash_check(const kv_obj_t *o) {
    if (o->type != KV_TYPE_HASH) return -EPROTO;
    if (o->encoding == KV_ENC_HASHPACK) {
        if (kv_obj_check(o) != 0) return -EPROTO; /* validates the pack in its allocation */
        /* Fields are unique. */
        size_t n;
        const uint8_t *p = kv_hpk_count(pack_of(o), &n);
        char a[KV_LP_INTBUF];
        for (size_t i = 0; i < n; i++) {
            kv_arg_t f;
            const uint8_t *next = kv_hpk_skip(kv_hpk_get_bytes(p, a, &f.ptr, &f.len));
            size_t j;
            kv_hpk_find(next, n - i - 1, f.ptr, f.len, &j);
            if (j != n - i - 1) return -EPROTO;
            p = next;
        }
        return 0;
    }
    if (o->encoding != KV_ENC_HASHTABLE) return -EPROTO;
    void *ptr = kv_obj_ptr(o);
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
