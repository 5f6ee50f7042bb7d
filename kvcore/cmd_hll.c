/* SPDX-License-Identifier: MIT */
/*
 * cmd_hll.c - PFADD, PFCOUNT and PFMERGE: HyperLogLog values stored as plain strings in
 * Redis 7.0's layout (hll.c), so GET/SET move them between kvcore-server and redis-server.
 *
 * A stored value is untrusted (SET can write anything): every command checks the header
 * first (WRONGTYPE "not a valid HyperLogLog" otherwise) and the sparse opcodes as it walks
 * them (INVALIDOBJ). Changes are made on a private copy and stored back in one step, so
 * out-of-memory leaves the key as it was. PFCOUNT of one key caches the estimate in the
 * value, which counts as a change (dirty, WATCH), as in Redis.
 */
#include "hll.h"
#include "kv_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const char not_hll_err[] = "WRONGTYPE Key is not a valid HyperLogLog string value.";
static const char corrupt_err[] = "INVALIDOBJ Corrupted HLL object detected";

/*
 * Looks key up as an HLL: the object with its bytes in *s and *len, or NULL when absent
 * (*err false) or when it is not an HLL (*err true, error replied).
 */
static kv_obj_t *lookup_hll(kv_client_t *c, const kv_arg_t *key, bool write, const uint8_t **s,
                            size_t *len, bool *err) {
    kv_obj_t *o = kv_lookup_type_or_reply(c, key, KV_TYPE_STRING, write, err);
    if (o == NULL) return NULL;
    char ibuf[24];
    const char *str = kv_obj_str(o, ibuf, len);
    if (o->encoding == KV_ENC_INT || !kv_hll_header_ok((const uint8_t *)str, *len)) {
        kv_reply_error(c, not_hll_err);
        *err = true;
        return NULL;
    }
    *s = (const uint8_t *)str;
    return o;
}

/* Stores h as key's value: into o (a RAW string then, as Redis unshares it), or as a new
 * RAW string key when o is NULL. 0 or -ENOMEM (nothing changed). */
static int store_hll(kv_client_t *c, const kv_arg_t *key, kv_obj_t *o, const kv_hll_t *h) {
    if (o == NULL) {
        kv_rstr_t *s = malloc(sizeof(*s) + h->len);
        if (s == NULL) return -ENOMEM;
        s->len = h->len;
        memcpy(s->data, h->data, h->len);
        kv_obj_t *n = kv_obj_new_ptr(key->ptr, key->len, KV_TYPE_STRING, KV_ENC_RAW, s, -1);
        if (n == NULL) {
            free(s);
            return -ENOMEM;
        }
        return kv_db_add(c->db, n);
    }
    kv_obj_t *old = o;
    kv_rstr_t *s;
    if (o->encoding == KV_ENC_RAW) {
        /* Exactly what the value needs (no greedy growth: a dense value never grows). */
        s = kv_obj_ptr(o);
        if (kv_rstr_cap(s) < h->len) {
            s = realloc(s, sizeof(*s) + h->len);
            if (s == NULL) return -ENOMEM;
            kv_obj_set_ptr(o, s);
        }
    } else {
        s = kv_obj_str_make_raw(&o, h->len);
        if (s == NULL) return -ENOMEM;
        if (o != old) kv_db_replaced(c->db, old, o);
    }
    memcpy(s->data, h->data, h->len);
    s->len = h->len;
    return 0;
}

static size_t sparse_max(void) {
    return (size_t)kv_srv.cfg.hll_sparse_max_bytes;
}

void kv_cmd_pfadd(kv_client_t *c) {
    const kv_arg_t *key = &c->argv[1];
    const uint8_t *s = NULL;
    size_t len = 0;
    bool err;
    kv_obj_t *o = lookup_hll(c, key, true, &s, &len, &err);
    if (err) return;
    kv_hll_t h;
    if ((o ? kv_hll_init_copy(&h, s, len) : kv_hll_init_empty(&h)) != 0) {
        kv_reply_oom(c);
        return;
    }
    long long updated = o == NULL;
    int rc = 0;
    for (int j = 2; j < c->argc && rc >= 0; j++) {
        rc = kv_hll_add(&h, c->argv[j].ptr, c->argv[j].len, sparse_max());
        if (rc > 0) updated++;
    }
    if (rc == -EPROTO) {
        /* Redis has already changed the registers before the corrupt part in place. */
        if (updated) store_hll(c, key, o, &h);
        kv_reply_error(c, corrupt_err);
    } else if (rc < 0) {
        kv_reply_oom(c);
    } else if (updated) {
        kv_hll_invalidate(h.data);
        if (store_hll(c, key, o, &h) != 0) {
            kv_reply_oom(c);
        } else {
            kv_srv.dirty += updated;
            kv_notify_key_changed(c, key, KV_NOTIFY_STRING, "pfadd");
            kv_reply_int(c, 1);
        }
    } else {
        kv_reply_int(c, 0);
    }
    kv_hll_fini(&h);
}

/* Merges the HLLs at argv[from..argc) into max (absent keys are empty). 0, or -EINVAL
 * with the error replied; *any_dense tells whether one of them was dense. */
static int merge_keys(kv_client_t *c, int from, uint8_t *max, bool *any_dense) {
    for (int j = from; j < c->argc; j++) {
        const uint8_t *s = NULL;
        size_t len = 0;
        bool err;
        kv_obj_t *o = lookup_hll(c, &c->argv[j], false, &s, &len, &err);
        if (err) return -EINVAL;
        if (o == NULL) continue;
        if (s[4] == KV_HLL_DENSE) *any_dense = true;
        if (kv_hll_merge(max, s, len) != 0) {
            kv_reply_error(c, corrupt_err);
            return -EINVAL;
        }
    }
    return 0;
}

/* PFCOUNT of one key: the cached estimate, or a new one cached in the value. */
static void count_one(kv_client_t *c, const kv_arg_t *key) {
    const uint8_t *s = NULL;
    size_t len = 0;
    bool err;
    kv_obj_t *o = lookup_hll(c, key, false, &s, &len, &err);
    if (err) return;
    uint64_t card = 0;
    if (o == NULL || kv_hll_cached(s, &card)) {
        kv_reply_int(c, (long long)card);
        return;
    }
    if (kv_hll_count(s, len, &card) != 0) {
        kv_reply_error(c, corrupt_err);
        return;
    }
    kv_obj_t *old = o;
    kv_rstr_t *r = kv_obj_str_make_raw(&o, len);
    if (r != NULL) { /* without memory the estimate is still right, just not cached */
        if (o != old) kv_db_replaced(c->db, old, o);
        kv_hll_set_cached((uint8_t *)r->data, card);
        kv_signal_modified_key(c, c->db, key->ptr, key->len);
        kv_srv.dirty++;
    }
    kv_reply_int(c, (long long)card);
}

void kv_cmd_pfcount(kv_client_t *c) {
    if (c->argc == 2) {
        count_one(c, &c->argv[1]);
        return;
    }
    uint8_t *max = calloc(1, KV_HLL_REGISTERS);
    if (max == NULL) {
        kv_reply_oom(c);
        return;
    }
    bool dense = false;
    if (merge_keys(c, 1, max, &dense) == 0) kv_reply_int(c, (long long)kv_hll_count_registers(max));
    free(max);
}

/* Raises h's registers to max (h becomes dense first when dense is set). 0, -EPROTO or
 * -ENOMEM. */
static int apply_max(kv_hll_t *h, const uint8_t *max, bool dense) {
    int rc = dense ? kv_hll_to_dense(h) : 0;
    for (long i = 0; i < KV_HLL_REGISTERS && rc == 0; i++) {
        if (max[i] == 0) continue;
        int set = kv_hll_set(h, i, max[i], sparse_max());
        rc = set < 0 ? set : 0;
    }
    return rc;
}

void kv_cmd_pfmerge(kv_client_t *c) {
    const kv_arg_t *key = &c->argv[1];
    uint8_t *max = calloc(1, KV_HLL_REGISTERS);
    if (max == NULL) {
        kv_reply_oom(c);
        return;
    }
    bool dense = false;
    if (merge_keys(c, 1, max, &dense) != 0) {
        free(max);
        return;
    }
    const uint8_t *s = NULL;
    size_t len = 0;
    bool err;
    kv_obj_t *o = lookup_hll(c, key, true, &s, &len, &err);
    kv_hll_t h = {0};
    int rc = err ? -EINVAL : o ? kv_hll_init_copy(&h, s, len) : kv_hll_init_empty(&h);
    if (rc == 0) rc = apply_max(&h, max, dense);
    free(max);
    if (rc == 0) {
        kv_hll_invalidate(h.data);
        rc = store_hll(c, key, o, &h);
    }
    if (rc == 0) {
        kv_srv.dirty++;
        /* Redis publishes "pfadd" for PFMERGE too: a merge is a bulk add. */
        kv_notify_key_changed(c, key, KV_NOTIFY_STRING, "pfadd");
        kv_reply_ok(c);
    } else if (rc == -EPROTO) {
        kv_reply_error(c, corrupt_err);
    } else if (rc != -EINVAL) { /* -EINVAL: lookup_hll replied */
        kv_reply_oom(c);
    }
    kv_hll_fini(&h);
}
