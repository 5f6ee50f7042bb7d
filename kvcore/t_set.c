/* SPDX-License-Identifier: MIT */
/*
 * t_set.c - the set type: an intset while every member is an integer, a
 * listpack of members while small, a kv_ht of member entries beyond that.
 *
 * Encodings and when they change follow Redis 7.2 (the first release with
 * listpack sets; Redis 7.0 goes from intset straight to hashtable):
 *   - a new set is an intset when its first member is an integer and the
 * command adds at most set-max-intset-entries members, else a listpack when it
 * adds at most set-max-listpack-entries, else a hashtable;
 *   - an intset that grows past set-max-intset-entries becomes a hashtable; one
 * that gets a non-integer member becomes a listpack when the result stays
 * within the listpack limits (entries, and every member's length within
 * set-max-listpack-value), otherwise a hashtable;
 *   - a listpack that would pass set-max-listpack-entries, or gets a member
 * longer than set-max-listpack-value, becomes a hashtable;
 *   - nothing converts back, and lowering a limit affects a set at its next
 * write only. Hashtable entries are one allocation each: [length: 1 byte, or
 * 0xFF + 8 bytes][bytes].
 */
#include "t_set.h"

#include <errno.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>

#include "intset.h"
#include "listpack.h"

/* --- Hashtable entries --- */

static unsigned char *entry_new(const void *m, size_t len) {
    unsigned char *e = malloc(kv_agg_len_hdr(len) + len);
    if (e == NULL) return NULL;
    unsigned char *p = kv_agg_len_put(e, len);
    if (len) memcpy(p, m, len);
    return e;
}

const char *kv_set_entry_member(const void *entry, size_t *len) {
    return (const char *)kv_agg_len_get(entry, len);
}

static const void *entry_key(const void *entry, size_t *len) {
    return kv_set_entry_member(entry, len);
}

static void entry_free(void *entry) {
    free(entry);
}

static const kv_ht_type_t set_ht_type = {.entry_key = entry_key, .entry_free = entry_free};

/* --- Type hooks --- */

static void set_free_value(void *ptr, int encoding) {
    switch (encoding) {
    case KV_ENC_INTSET: kv_is_free(ptr); break;
    case KV_ENC_LISTPACK: kv_lp_free(ptr); break;
    default: kv_ht_free(ptr);
    }
}

static size_t set_mem_bytes(const void *ptr, int encoding) {
    if (encoding != KV_ENC_HASHTABLE) return malloc_usable_size((void *)ptr);
    return kv_agg_ht_bytes((kv_ht_t *)ptr);
}

static kv_ht_t *ht_dup(kv_ht_t *src) {
    kv_ht_t *dst = kv_ht_new(&set_ht_type);
    if (dst == NULL) return NULL;
    kv_ht_iter_t it;
    void *e;
    bool oom = false;
    kv_ht_iter_init(&it, src);
    while (kv_ht_iter_next(&it, &e)) {
        size_t len;
        const char *m = kv_set_entry_member(e, &len);
        unsigned char *copy = entry_new(m, len);
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

static void *set_dup_value(const void *ptr, int encoding) {
    switch (encoding) {
    case KV_ENC_INTSET: {
        size_t n = kv_is_bytes(ptr);
        void *copy = malloc(n);
        if (copy != NULL) memcpy(copy, ptr, n);
        return copy;
    }
    case KV_ENC_LISTPACK: return kv_lp_dup(ptr);
    default: return ht_dup((kv_ht_t *)ptr);
    }
}

static size_t set_defrag_len(const kv_obj_t *o) {
    return kv_set_len(o);
}

static void register_type(void) {
    static bool done;
    if (done) return;
    kv_type_ops_t ops = {.free_value = set_free_value,
                         .mem_bytes = set_mem_bytes,
                         .dup_value = set_dup_value,
                         .defrag_len = set_defrag_len};
    kv_agg_register_type(KV_TYPE_SET, &ops);
    done = true;
}

/* --- Limits --- */

static size_t max_intset_entries(void) {
    long long n = kv_srv.cfg.set_max_intset_entries;
    return n >= (1LL << 30) ? (size_t)1 << 30 : (size_t)n; /* Redis caps at 1G entries */
}

static size_t max_lp_entries(void) {
    return (size_t)kv_srv.cfg.set_max_listpack_entries;
}

static size_t max_lp_value(void) {
    return (size_t)kv_srv.cfg.set_max_listpack_value;
}

/* --- Object --- */

kv_obj_t *kv_set_new(const char *key, size_t klen, const kv_arg_t *first, size_t size_hint) {
    register_type();
    long long v;
    int enc;
    void *ptr;
    if (first == NULL ||
        (kv_str2ll(first->ptr, first->len, &v) && size_hint <= max_intset_entries())) {
        enc = KV_ENC_INTSET;
        ptr = kv_is_new();
    } else if (size_hint <= max_lp_entries()) {
        enc = KV_ENC_LISTPACK;
        ptr = kv_lp_new();
    } else {
        enc = KV_ENC_HASHTABLE;
        ptr = kv_ht_new(&set_ht_type);
    }
    if (ptr == NULL) return NULL;
    kv_obj_t *o = kv_obj_new_ptr(key, klen, KV_TYPE_SET, enc, ptr, -1);
    if (o == NULL) set_free_value(ptr, enc);
    return o;
}

size_t kv_set_len(const kv_obj_t *o) {
    void *p = kv_obj_ptr(o);
    switch (o->encoding) {
    case KV_ENC_INTSET: return kv_is_len(p);
    case KV_ENC_LISTPACK: return kv_lp_len(p);
    default: return kv_ht_size(p);
    }
}

/* Adds a member known to be absent to a hashtable set. 0 or -ENOMEM. */
static int ht_add_new(kv_ht_t *ht, const void *m, size_t len) {
    unsigned char *e = entry_new(m, len);
    if (e == NULL) return -ENOMEM;
    int rc = kv_ht_add(ht, e);
    if (rc != 0) free(e);
    return rc == -EEXIST ? 0 : rc;
}

int kv_set_convert(kv_obj_t *o, int encoding) {
    if ((int)o->encoding == encoding) return 0;
    void *old = kv_obj_ptr(o);
    void *ptr;
    kv_set_iter_t it;
    kv_arg_t m;
    int rc = 0;
    if (encoding == KV_ENC_LISTPACK) {
        if (o->encoding != KV_ENC_INTSET) return -EINVAL;
        uint8_t *lp = kv_lp_new();
        kv_set_iter_init(&it, o);
        while (lp != NULL && kv_set_iter_next(&it, &m))
            if (kv_lp_append(&lp, m.ptr, m.len) != 0) {
                kv_lp_free(lp);
                lp = NULL;
            }
        kv_set_iter_fini(&it);
        if (lp == NULL) return -ENOMEM;
        ptr = lp;
    } else if (encoding == KV_ENC_HASHTABLE) {
        kv_ht_t *ht = kv_ht_new(&set_ht_type);
        if (ht == NULL) return -ENOMEM;
        kv_set_iter_init(&it, o);
        while (rc == 0 && kv_set_iter_next(&it, &m))
            rc = ht_add_new(ht, m.ptr, m.len);
        kv_set_iter_fini(&it);
        if (rc != 0) {
            kv_ht_free(ht);
            return rc;
        }
        ptr = ht;
    } else {
        return -EINVAL;
    }
    set_free_value(old, (int)o->encoding);
    kv_obj_set_ptr(o, ptr);
    o->encoding = (uint32_t)encoding;
    return 0;
}

int kv_set_maybe_convert(kv_obj_t *o, size_t size_hint) {
    if ((o->encoding == KV_ENC_LISTPACK && size_hint > max_lp_entries()) ||
        (o->encoding == KV_ENC_INTSET && size_hint > max_intset_entries()))
        return kv_set_convert(o, KV_ENC_HASHTABLE);
    return 0;
}

/* Decimal length of v (sdigits10). */
static size_t digits10(long long v) {
    char buf[KV_INTBUF];
    return kv_ll2str(buf, v);
}

int kv_set_add(kv_obj_t *o, const kv_arg_t *m) {
    void *p = kv_obj_ptr(o);
    if (o->encoding == KV_ENC_INTSET) {
        long long v;
        if (kv_str2ll(m->ptr, m->len, &v)) {
            bool added;
            kv_intset_t *is = p;
            if (kv_is_add(&is, v, &added) != 0) return -ENOMEM;
            kv_obj_set_ptr(o, is);
            if (!added) return 0;
            if (kv_is_len(is) > max_intset_entries()) kv_set_convert(o, KV_ENC_HASHTABLE);
            return 1;
        }
        /* A string member: a listpack if it stays within the listpack limits. */
        size_t n = kv_is_len(p), maxlen = 0;
        if (n) {
            size_t a = digits10(kv_is_min(p)), b = digits10(kv_is_max(p));
            maxlen = a > b ? a : b;
        }
        int enc = n < max_lp_entries() && m->len <= max_lp_value() && maxlen <= max_lp_value()
                      ? KV_ENC_LISTPACK
                      : KV_ENC_HASHTABLE;
        if (kv_set_convert(o, enc) != 0) return -ENOMEM;
        return kv_set_add(o, m);
    }
    if (o->encoding == KV_ENC_LISTPACK) {
        uint8_t *lp = p;
        uint8_t *first = kv_lp_first(lp);
        if (first != NULL && kv_lp_find(lp, first, m->ptr, m->len, 0) != NULL) return 0;
        if (kv_lp_len(lp) < max_lp_entries() && m->len <= max_lp_value()) {
            if (kv_lp_append(&lp, m->ptr, m->len) != 0) return -ENOMEM;
            kv_obj_set_ptr(o, lp);
            return 1;
        }
        if (kv_set_convert(o, KV_ENC_HASHTABLE) != 0) return -ENOMEM;
        p = kv_obj_ptr(o);
    }
    if (kv_ht_find(p, m->ptr, m->len) != NULL) return 0;
    return ht_add_new(p, m->ptr, m->len) == 0 ? 1 : -ENOMEM;
}

bool kv_set_remove(kv_obj_t *o, const kv_arg_t *m) {
    void *p = kv_obj_ptr(o);
    switch (o->encoding) {
    case KV_ENC_INTSET: {
        long long v;
        bool removed = false;
        if (!kv_str2ll(m->ptr, m->len, &v)) return false;
        kv_intset_t *is = p;
        kv_is_remove(&is, v, &removed);
        kv_obj_set_ptr(o, is);
        return removed;
    }
    case KV_ENC_LISTPACK: {
        uint8_t *lp = p;
        uint8_t *q = kv_lp_first(lp);
        if (q != NULL) q = kv_lp_find(lp, q, m->ptr, m->len, 0);
        if (q == NULL) return false;
        kv_lp_delete(&lp, &q);
        kv_obj_set_ptr(o, lp);
        return true;
    }
    default: return kv_ht_del(p, m->ptr, m->len) == 0;
    }
}

bool kv_set_contains(kv_obj_t *o, const kv_arg_t *m) {
    void *p = kv_obj_ptr(o);
    switch (o->encoding) {
    case KV_ENC_INTSET: {
        long long v;
        return kv_str2ll(m->ptr, m->len, &v) && kv_is_find(p, v);
    }
    case KV_ENC_LISTPACK: {
        uint8_t *q = kv_lp_first(p);
        return q != NULL && kv_lp_find(p, q, m->ptr, m->len, 0) != NULL;
    }
    default: return kv_ht_find(p, m->ptr, m->len) != NULL;
    }
}

void kv_set_random(kv_obj_t *o, kv_arg_t *m, char *ibuf) {
    void *p = kv_obj_ptr(o);
    switch (o->encoding) {
    case KV_ENC_INTSET:
        m->len = kv_ll2str(ibuf, kv_is_random(p));
        m->ptr = ibuf;
        break;
    case KV_ENC_LISTPACK: {
        uint8_t *q = kv_lp_seek(p, (long)((size_t)kv_rand64() % kv_lp_len(p)));
        m->ptr = (const char *)kv_lp_get_bytes(q, ibuf, &m->len);
        break;
    }
    default: m->ptr = kv_set_entry_member(kv_ht_random(p), &m->len);
    }
}

/* --- Iteration --- */

void kv_set_iter_init(kv_set_iter_t *it, kv_obj_t *o) {
    it->o = o;
    it->pos = 0;
    it->p = NULL;
    if (o->encoding == KV_ENC_LISTPACK)
        it->p = kv_lp_first(kv_obj_ptr(o));
    else if (o->encoding == KV_ENC_HASHTABLE)
        kv_ht_iter_init(&it->hi, kv_obj_ptr(o));
}

bool kv_set_iter_next(kv_set_iter_t *it, kv_arg_t *m) {
    void *p = kv_obj_ptr(it->o);
    switch (it->o->encoding) {
    case KV_ENC_INTSET: {
        int64_t v;
        if (kv_is_get(p, it->pos, &v) != 0) return false;
        it->pos++;
        m->len = kv_ll2str(it->ibuf, v);
        m->ptr = it->ibuf;
        return true;
    }
    case KV_ENC_LISTPACK:
        if (it->p == NULL) return false;
        m->ptr = (const char *)kv_lp_get_bytes(it->p, it->ibuf, &m->len);
        it->p = kv_lp_next(p, it->p);
        return true;
    default: {
        void *e;
        if (!kv_ht_iter_next(&it->hi, &e)) return false;
        m->ptr = kv_set_entry_member(e, &m->len);
        return true;
    }
    }
}

void kv_set_iter_fini(kv_set_iter_t *it) {
    if (it->o->encoding == KV_ENC_HASHTABLE) kv_ht_iter_fini(&it->hi);
}

/* --- Validation --- */

int kv_set_check(const kv_obj_t *o) {
    if (o->type != KV_TYPE_SET) return -EPROTO;
    void *p = kv_obj_ptr(o);
    switch (o->encoding) {
    case KV_ENC_INTSET: return kv_is_check(p) == 0 ? 0 : -EPROTO;
    case KV_ENC_LISTPACK: {
        if (kv_lp_check(p) != 0) return -EPROTO;
        char buf[KV_LP_INTBUF];
        for (uint8_t *q = kv_lp_first(p); q != NULL; q = kv_lp_next(p, q)) {
            size_t len;
            const uint8_t *s = kv_lp_get_bytes(q, buf, &len);
            uint8_t *r = kv_lp_next(p, q);
            if (r != NULL && kv_lp_find(p, r, s, len, 0) != NULL) return -EPROTO; /* unique */
        }
        return 0;
    }
    case KV_ENC_HASHTABLE: {
        if (kv_ht_check(p) != 0) return -EPROTO;
        kv_ht_iter_t it;
        void *e;
        int rc = 0;
        kv_ht_iter_init(&it, p);
        while (rc == 0 && kv_ht_iter_next(&it, &e)) {
            size_t len;
            const char *m = kv_set_entry_member(e, &len);
            if ((size_t)(m - (const char *)e) + len > malloc_usable_size(e)) rc = -EPROTO;
        }
        kv_ht_iter_fini(&it);
        return rc;
    }
    default: return -EPROTO;
    }
}
