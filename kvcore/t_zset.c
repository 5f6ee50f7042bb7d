/* SPDX-License-Identifier: MIT */
/*
 * t_zset.c - the sorted-set type: a listpack of (member, score) pairs while small, a
 * skiplist plus a hashtable of the same nodes beyond zset-max-listpack-entries/-value
 * (t_zset.h).
 *
 * The listpack half mirrors Redis 7.0's zzl* functions, so that the bytes stored (and
 * shown by ZSCAN) and every reply match: scores that are exact integers within 2^62 are
 * integer entries, others "%.17g" text; the pairs are kept sorted by (score, member), an
 * insertion walks to its place. The skiplist half keeps one allocation per element: the
 * skiplist node holds the member, and the hashtable stores the node pointer (Valkey 8.1's
 * layout, docs/design.md#compact-encodings), so a member costs one node plus one table slot.
 *
 * The type hooks are registered the first time a sorted set is created.
 */
#include "t_zset.h"

#include <errno.h>
#include <limits.h>
#include <malloc.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LP_SAFETY_BYTES (1u << 30) /* lpSafeToAdd: a listpack stays under 1 GiB */

/* --- Scores as Redis 7.0 writes them --- */

/* double2ll: true when d is an integer that a long long holds exactly (|d| <= 2^62). */
static bool double_to_ll(double d, long long *out) {
    if (d < (double)(-LLONG_MAX / 2) || d > (double)(LLONG_MAX / 2)) return false;
    long long ll = (long long)d;
    if ((double)ll != d) return false;
    *out = ll;
    return true;
}

size_t kv_zset_score_str(double score, char *buf) {
    long long ll;
    if (!isinf(score) && double_to_ll(score, &ll)) return kv_ll2str(buf, ll);
    return kv_d2str(buf, score);
}

static int cmp_bytes(const void *a, size_t alen, const void *b, size_t blen) {
    size_t min = alen < blen ? alen : blen;
    int c = min == 0 ? 0 : memcmp(a, b, min);
    return c != 0 ? c : (alen > blen) - (alen < blen);
}

/* --- Type hooks --- */

static const void *node_key(const void *entry, size_t *len) {
    return kv_zsl_node_member(entry, len);
}

static const kv_ht_type_t zset_ht_type = {.entry_key = node_key, .entry_free = NULL};

static kv_zset_t *zs_new(void) {
    kv_zset_t *zs = malloc(sizeof(*zs));
    if (zs == NULL) return NULL;
    zs->ht = kv_ht_new(&zset_ht_type);
    zs->zsl = kv_zsl_new();
    if (zs->ht == NULL || zs->zsl == NULL) {
        kv_ht_free(zs->ht);
        kv_zsl_free(zs->zsl);
        free(zs);
        return NULL;
    }
    return zs;
}

static void zs_free(kv_zset_t *zs) {
    kv_ht_free(zs->ht); /* the entries are the skiplist's nodes: freed next */
    kv_zsl_free(zs->zsl);
    free(zs);
}

/* Inserts a member known to be absent. 0 or -ENOMEM (nothing changed). */
static int zs_insert(kv_zset_t *zs, double score, const void *m, size_t len,
                     kv_zsl_node_t **nodep) {
    kv_zsl_node_t *node = kv_zsl_insert(zs->zsl, score, m, len);
    if (node == NULL) return -ENOMEM;
    if (kv_ht_add(zs->ht, node) != 0) {
        (void)kv_zsl_delete_node(zs->zsl, node);
        return -ENOMEM;
    }
    if (nodep != NULL) *nodep = node;
    return 0;
}

static void zset_free_value(void *ptr, int encoding) {
    if (encoding == KV_ENC_SKIPLIST)
        zs_free(ptr);
    else
        kv_lp_free(ptr);
}

static void *zset_dup_value(const void *ptr, int encoding) {
    if (encoding != KV_ENC_SKIPLIST) return kv_lp_dup(ptr);
    const kv_zset_t *src = ptr;
    kv_zset_t *zs = zs_new();
    if (zs == NULL) return NULL;
    for (kv_zsl_node_t *n = kv_zsl_first(src->zsl); n != NULL; n = kv_zsl_node_next(n)) {
        size_t len;
        const uint8_t *m = kv_zsl_node_member(n, &len);
        if (zs_insert(zs, n->score, m, len, NULL) != 0) {
            zs_free(zs);
            return NULL;
        }
    }
    return zs;
}

size_t kv_zset_value_bytes(const void *ptr, int encoding) {
    if (encoding != KV_ENC_SKIPLIST) return malloc_usable_size((void *)ptr);
    const kv_zset_t *zs = ptr;
    size_t n = malloc_usable_size((void *)zs) + kv_ht_mem_bytes(zs->ht) +
               malloc_usable_size(zs->zsl) + malloc_usable_size(zs->zsl->header);
    for (kv_zsl_node_t *x = kv_zsl_first(zs->zsl); x != NULL; x = kv_zsl_node_next(x))
        n += malloc_usable_size(x);
    return n;
}

static const kv_type_ops_t zset_ops = {
    .free_value = zset_free_value,
    .mem_bytes = kv_zset_value_bytes,
    .dup_value = zset_dup_value,
};

static bool ops_registered;

kv_obj_t *kv_zset_new(const char *key, size_t klen, bool skiplist, int64_t expire_ms) {
    if (!ops_registered) {
        kv_obj_register_type(KV_TYPE_ZSET, &zset_ops);
        ops_registered = true;
    }
    void *v = skiplist ? (void *)zs_new() : (void *)kv_lp_new();
    if (v == NULL) return NULL;
    int enc = skiplist ? KV_ENC_SKIPLIST : KV_ENC_LISTPACK;
    kv_obj_t *o = kv_obj_new_ptr(key, klen, KV_TYPE_ZSET, enc, v, expire_ms);
    if (o == NULL) zset_free_value(v, enc);
    return o;
}

static uint8_t *lp_of(const kv_obj_t *o) {
    return kv_obj_ptr(o);
}

static kv_zset_t *zs_of(const kv_obj_t *o) {
    return kv_obj_ptr(o);
}

size_t kv_zset_len(const kv_obj_t *o) {
    if (o->encoding == KV_ENC_SKIPLIST) return kv_zsl_len(zs_of(o)->zsl);
    return kv_lp_len(lp_of(o)) / 2;
}

/* --- The listpack form (Redis's zzl* functions) --- */

static double lp_score(const uint8_t *sptr) {
    kv_lp_val_t v;
    kv_lp_get(sptr, &v);
    if (v.str == NULL) return (double)v.ival;
    char buf[128];
    size_t n = v.len < sizeof(buf) - 1 ? v.len : sizeof(buf) - 1;
    memcpy(buf, v.str, n);
    buf[n] = '\0';
    return strtod(buf, NULL);
}

/* The pair after (or before) eptr in the listpack, NULL at the end. */
static uint8_t *lp_next_pair(uint8_t *lp, uint8_t *eptr) {
    uint8_t *sptr = kv_lp_next(lp, eptr);
    return sptr != NULL ? kv_lp_next(lp, sptr) : NULL;
}

static uint8_t *lp_prev_pair(uint8_t *lp, uint8_t *eptr) {
    uint8_t *sptr = kv_lp_prev(lp, eptr);
    return sptr != NULL ? kv_lp_prev(lp, sptr) : NULL;
}

static int lp_member_cmp(const uint8_t *eptr, const void *m, size_t len) {
    char buf[KV_LP_INTBUF];
    size_t elen;
    const uint8_t *s = kv_lp_get_bytes(eptr, buf, &elen);
    return cmp_bytes(s, elen, m, len);
}

static uint8_t *zzl_find(uint8_t *lp, const void *m, size_t len, double *score) {
    uint8_t *eptr = kv_lp_find(lp, kv_lp_first(lp), m, len, 1);
    if (eptr != NULL && score != NULL) *score = lp_score(kv_lp_next(lp, eptr));
    return eptr;
}

/* Inserts member then score before eptr (NULL: at the end). 0, -ENOMEM or -ERANGE. */
static int zzl_insert_at(uint8_t **lpp, uint8_t *eptr, double score, const void *m, size_t len) {
    long long ll;
    char sbuf[32];
    size_t slen = 0;
    bool is_int = double_to_ll(score, &ll);
    if (!is_int) slen = kv_zset_score_str(score, sbuf);
    uint8_t *mp;
    int rc;
    if (eptr == NULL) {
        rc = kv_lp_append(lpp, m, len);
        if (rc != 0) return rc;
        rc = is_int ? kv_lp_append_int(lpp, ll) : kv_lp_append(lpp, sbuf, slen);
        if (rc != 0) kv_lp_delete_range(lpp, -1, 1);
        return rc;
    }
    rc = kv_lp_insert(lpp, eptr, KV_LP_BEFORE, m, len, &mp);
    if (rc != 0) return rc;
    rc = is_int ? kv_lp_insert_int(lpp, mp, KV_LP_AFTER, ll, NULL)
                : kv_lp_insert(lpp, mp, KV_LP_AFTER, sbuf, slen, NULL);
    if (rc != 0) (void)kv_lp_delete(lpp, &mp);
    return rc;
}

/* Inserts at the pair's sorted place. pre: member absent. */
static int zzl_insert(uint8_t **lpp, double score, const void *m, size_t len) {
    uint8_t *lp = *lpp;
    for (uint8_t *eptr = kv_lp_first(lp); eptr != NULL; eptr = lp_next_pair(lp, eptr)) {
        double s = lp_score(kv_lp_next(lp, eptr));
        if (s > score || (s == score && lp_member_cmp(eptr, m, len) > 0))
            return zzl_insert_at(lpp, eptr, score, m, len);
    }
    return zzl_insert_at(lpp, NULL, score, m, len);
}

static void zzl_delete(uint8_t **lpp, uint8_t *eptr) {
    (void)kv_lp_delete(lpp, &eptr);
    (void)kv_lp_delete(lpp, &eptr);
}

/* --- Conversion --- */

int kv_zset_convert(kv_obj_t *o) {
    if (o->encoding == KV_ENC_SKIPLIST) return 0;
    uint8_t *lp = lp_of(o);
    kv_zset_t *zs = zs_new();
    if (zs == NULL) return -ENOMEM;
    for (uint8_t *eptr = kv_lp_first(lp); eptr != NULL; eptr = lp_next_pair(lp, eptr)) {
        kv_zset_elem_t e;
        e.member = kv_lp_get_bytes(eptr, e.buf, &e.len);
        if (zs_insert(zs, lp_score(kv_lp_next(lp, eptr)), e.member, e.len, NULL) != 0) {
            zs_free(zs);
            return -ENOMEM;
        }
    }
    kv_lp_free(lp);
    kv_obj_set_ptr(o, zs);
    o->encoding = KV_ENC_SKIPLIST;
    return 0;
}

/* --- Single elements --- */

bool kv_zset_score(const kv_obj_t *o, const void *m, size_t len, double *score) {
    if (o->encoding == KV_ENC_SKIPLIST) {
        kv_zsl_node_t *n = kv_ht_find(zs_of(o)->ht, m, len);
        if (n == NULL) return false;
        *score = n->score;
        return true;
    }
    return zzl_find(lp_of(o), m, len, score) != NULL;
}

/* The part of ZADD shared by both encodings once the current score is known. */
static int decide_update(unsigned in, double cur, double *score, unsigned *out) {
    if (in & KV_ZADD_NX) {
        *out |= KV_ZADD_OUT_NOP;
        return 1;
    }
    if (in & KV_ZADD_INCR) {
        *score += cur;
        if (isnan(*score)) return -EDOM;
    }
    if (((in & KV_ZADD_LT) && *score >= cur) || ((in & KV_ZADD_GT) && *score <= cur)) {
        *out |= KV_ZADD_OUT_NOP;
        return 1;
    }
    return 0;
}

int kv_zset_add(kv_obj_t *o, double score, const void *m, size_t len, unsigned in, unsigned *out,
                double *newscore) {
    double cur;
    int rc;
    *out = 0;
    if (isnan(score)) return -EDOM;
    if (o->encoding == KV_ENC_LISTPACK) {
        uint8_t *lp = lp_of(o);
        uint8_t *eptr = zzl_find(lp, m, len, &cur);
        if (eptr != NULL) {
            rc = decide_update(in, cur, &score, out);
            if (rc != 0) return rc < 0 ? rc : 0;
            if (newscore != NULL) *newscore = score;
            if (score != cur) {
                /* Insert the new pair before deleting the old one: a failure loses nothing. */
                size_t off = (size_t)(eptr - lp);
                zzl_delete(&lp, eptr);
                rc = zzl_insert(&lp, score, m, len);
                if (rc != 0) {
                    /* Put the old pair back where it was (the listpack only shrank). */
                    (void)zzl_insert_at(&lp, off < kv_lp_bytes(lp) - 1 ? lp + off : NULL, cur, m,
                                        len);
                    kv_obj_set_ptr(o, lp);
                    return rc;
                }
                kv_obj_set_ptr(o, lp);
                *out |= KV_ZADD_OUT_UPDATED;
            }
            return 0;
        }
        if (in & KV_ZADD_XX) {
            *out |= KV_ZADD_OUT_NOP;
            return 0;
        }
        if (kv_zset_len(o) + 1 > (size_t)kv_srv.cfg.zset_max_listpack_entries ||
            len > (size_t)kv_srv.cfg.zset_max_listpack_value ||
            kv_lp_bytes(lp) + len > LP_SAFETY_BYTES) {
            rc = kv_zset_convert(o);
            if (rc != 0) return rc;
        } else {
            rc = zzl_insert(&lp, score, m, len);
            kv_obj_set_ptr(o, lp);
            if (rc != 0) return rc;
            if (newscore != NULL) *newscore = score;
            *out |= KV_ZADD_OUT_ADDED;
            return 0;
        }
    }
    kv_zset_t *zs = zs_of(o);
    kv_zsl_node_t *node = kv_ht_find(zs->ht, m, len);
    if (node != NULL) {
        cur = node->score;
        rc = decide_update(in, cur, &score, out);
        if (rc != 0) return rc < 0 ? rc : 0;
        if (newscore != NULL) *newscore = score;
        if (score != cur) {
            kv_zsl_update_score(zs->zsl, node, score);
            *out |= KV_ZADD_OUT_UPDATED;
        }
        return 0;
    }
    if (in & KV_ZADD_XX) {
        *out |= KV_ZADD_OUT_NOP;
        return 0;
    }
    rc = zs_insert(zs, score, m, len, NULL);
    if (rc != 0) return rc;
    if (newscore != NULL) *newscore = score;
    *out |= KV_ZADD_OUT_ADDED;
    return 0;
}

bool kv_zset_del(kv_obj_t *o, const void *m, size_t len) {
    if (o->encoding == KV_ENC_SKIPLIST) {
        kv_zset_t *zs = zs_of(o);
        kv_zsl_node_t *node = kv_ht_pop(zs->ht, m, len);
        if (node == NULL) return false;
        (void)kv_zsl_delete_node(zs->zsl, node);
        return true;
    }
    uint8_t *lp = lp_of(o);
    uint8_t *eptr = zzl_find(lp, m, len, NULL);
    if (eptr == NULL) return false;
    zzl_delete(&lp, eptr);
    kv_obj_set_ptr(o, lp);
    return true;
}

long long kv_zset_rank(const kv_obj_t *o, const void *m, size_t len, bool reverse) {
    size_t n = kv_zset_len(o);
    if (o->encoding == KV_ENC_SKIPLIST) {
        const kv_zset_t *zs = zs_of(o);
        kv_zsl_node_t *node = kv_ht_find(zs->ht, m, len);
        if (node == NULL) return -1;
        size_t r = kv_zsl_rank(zs->zsl, node->score, m, len);
        if (r == 0) return -1;
        return reverse ? (long long)(n - r) : (long long)(r - 1);
    }
    uint8_t *lp = lp_of(o);
    long long r = 0;
    for (uint8_t *eptr = kv_lp_first(lp); eptr != NULL; eptr = lp_next_pair(lp, eptr), r++)
        if (kv_lp_equals(eptr, m, len)) return reverse ? (long long)n - 1 - r : r;
    return -1;
}

/* --- Ranges --- */

bool kv_zset_score_gte_min(double score, const kv_zsl_range_t *r) {
    return r->minex ? score > r->min : score >= r->min;
}

bool kv_zset_score_lte_max(double score, const kv_zsl_range_t *r) {
    return r->maxex ? score < r->max : score <= r->max;
}

/* sdscmplex: "-" sorts before and "+" after every string, each equal only to itself. */
static int lex_cmp(const void *m, size_t len, const void *b, size_t blen, int binf) {
    if (binf != 0) return -binf;
    return cmp_bytes(m, len, b, blen);
}

bool kv_zset_lex_gte_min(const void *m, size_t len, const kv_zsl_lexrange_t *r) {
    int c = lex_cmp(m, len, r->min, r->minlen, r->min_inf);
    return r->minex ? c > 0 : c >= 0;
}

bool kv_zset_lex_lte_max(const void *m, size_t len, const kv_zsl_lexrange_t *r) {
    int c = lex_cmp(m, len, r->max, r->maxlen, r->max_inf);
    return r->maxex ? c < 0 : c <= 0;
}

static bool score_range_empty(const kv_zsl_range_t *r) {
    return r->min > r->max || (r->min == r->max && (r->minex || r->maxex));
}

/* sdscmplex(min, max) of a lexical range. */
static bool lex_range_empty(const kv_zsl_lexrange_t *r) {
    int c;
    if (r->min_inf != 0 && r->min_inf == r->max_inf)
        c = 0;
    else if (r->min_inf < 0 || r->max_inf > 0)
        c = -1;
    else if (r->min_inf > 0 || r->max_inf < 0)
        c = 1;
    else
        c = cmp_bytes(r->min, r->minlen, r->max, r->maxlen);
    return c > 0 || (c == 0 && (r->minex || r->maxex));
}

static size_t lp_del_while(kv_obj_t *o, uint8_t *start, const kv_zsl_range_t *score,
                           const kv_zsl_lexrange_t *lex, size_t max) {
    uint8_t *lp = lp_of(o);
    size_t off = (size_t)(start - lp), deleted = 0;
    uint8_t *eptr = start;
    while (eptr != NULL && deleted < max) {
        if (score != NULL && !kv_zset_score_lte_max(lp_score(kv_lp_next(lp, eptr)), score)) break;
        if (lex != NULL) {
            char buf[KV_LP_INTBUF];
            size_t len;
            const uint8_t *s = kv_lp_get_bytes(eptr, buf, &len);
            if (!kv_zset_lex_lte_max(s, len, lex)) break;
        }
        deleted++;
        eptr = lp_next_pair(lp, eptr);
    }
    if (deleted == 0) return 0;
    long first = 0;
    for (uint8_t *p = kv_lp_first(lp); p != NULL && (size_t)(p - lp) < off; p = kv_lp_next(lp, p))
        first++;
    (void)kv_lp_delete_range(&lp, first, deleted * 2);
    kv_obj_set_ptr(o, lp);
    return deleted;
}

typedef struct del_ctx {
    kv_ht_t *ht;
} del_ctx_t;

static void unhash_node(void *priv, kv_zsl_node_t *node) {
    del_ctx_t *d = priv;
    size_t len;
    const uint8_t *m = kv_zsl_node_member(node, &len);
    (void)kv_ht_pop(d->ht, m, len);
}

size_t kv_zset_del_range_by_rank(kv_obj_t *o, size_t start, size_t end) {
    if (o->encoding == KV_ENC_SKIPLIST) {
        kv_zset_t *zs = zs_of(o);
        del_ctx_t d = {zs->ht};
        return kv_zsl_delete_range_by_rank(zs->zsl, start + 1, end + 1, unhash_node, &d);
    }
    uint8_t *lp = lp_of(o);
    size_t n = kv_lp_len(lp) / 2;
    if (start >= n || end < start) return 0;
    if (end >= n) end = n - 1;
    (void)kv_lp_delete_range(&lp, (long)(2 * start), 2 * (end - start + 1));
    kv_obj_set_ptr(o, lp);
    return end - start + 1;
}

size_t kv_zset_del_range_by_score(kv_obj_t *o, const kv_zsl_range_t *r) {
    if (o->encoding == KV_ENC_SKIPLIST) {
        kv_zset_t *zs = zs_of(o);
        del_ctx_t d = {zs->ht};
        if (!kv_zsl_is_in_range(zs->zsl, r)) return 0;
        return kv_zsl_delete_range_by_score(zs->zsl, r, unhash_node, &d);
    }
    kv_zset_iter_t it;
    kv_zset_iter_score(&it, o, r, false);
    return it.eptr != NULL ? lp_del_while(o, it.eptr, r, NULL, SIZE_MAX) : 0;
}

size_t kv_zset_del_range_by_lex(kv_obj_t *o, const kv_zsl_lexrange_t *r) {
    if (o->encoding == KV_ENC_SKIPLIST) {
        kv_zset_t *zs = zs_of(o);
        del_ctx_t d = {zs->ht};
        if (!kv_zsl_is_in_lex_range(zs->zsl, r)) return 0;
        return kv_zsl_delete_range_by_lex(zs->zsl, r, unhash_node, &d);
    }
    kv_zset_iter_t it;
    kv_zset_iter_lex(&it, o, r, false);
    return it.eptr != NULL ? lp_del_while(o, it.eptr, NULL, r, SIZE_MAX) : 0;
}

static size_t node_rank(const kv_zsl_t *zsl, const kv_zsl_node_t *n) {
    size_t len;
    const uint8_t *m = kv_zsl_node_member(n, &len);
    return kv_zsl_rank(zsl, n->score, m, len);
}

size_t kv_zset_count_score(const kv_obj_t *o, const kv_zsl_range_t *r) {
    if (o->encoding == KV_ENC_SKIPLIST) {
        const kv_zsl_t *zsl = zs_of(o)->zsl;
        kv_zsl_node_t *first = kv_zsl_first_in_range(zsl, r);
        if (first == NULL) return 0;
        kv_zsl_node_t *last = kv_zsl_last_in_range(zsl, r);
        return node_rank(zsl, last) - node_rank(zsl, first) + 1;
    }
    kv_zset_iter_t it;
    kv_zset_elem_t e;
    size_t n = 0;
    kv_zset_iter_score(&it, o, r, false);
    while (kv_zset_iter_next(&it, &e) && kv_zset_score_lte_max(e.score, r))
        n++;
    return n;
}

size_t kv_zset_count_lex(const kv_obj_t *o, const kv_zsl_lexrange_t *r) {
    if (o->encoding == KV_ENC_SKIPLIST) {
        const kv_zsl_t *zsl = zs_of(o)->zsl;
        kv_zsl_node_t *first = kv_zsl_first_in_lex_range(zsl, r);
        if (first == NULL) return 0;
        kv_zsl_node_t *last = kv_zsl_last_in_lex_range(zsl, r);
        return node_rank(zsl, last) - node_rank(zsl, first) + 1;
    }
    kv_zset_iter_t it;
    kv_zset_elem_t e;
    size_t n = 0;
    kv_zset_iter_lex(&it, o, r, false);
    while (kv_zset_iter_next(&it, &e) && kv_zset_lex_lte_max(e.member, e.len, r))
        n++;
    return n;
}

/* --- Iteration --- */

static void iter_init(kv_zset_iter_t *it, const kv_obj_t *o, bool reverse) {
    it->o = o;
    it->reverse = reverse;
    it->eptr = NULL;
    it->node = NULL;
}

void kv_zset_iter_rank(kv_zset_iter_t *it, const kv_obj_t *o, size_t rank, bool reverse) {
    iter_init(it, o, reverse);
    size_t n = kv_zset_len(o);
    if (rank >= n) return;
    if (o->encoding == KV_ENC_SKIPLIST) {
        it->node = kv_zsl_by_rank(zs_of(o)->zsl, reverse ? n - rank : rank + 1);
        return;
    }
    it->eptr = kv_lp_seek(lp_of(o), reverse ? -2 - 2 * (long)rank : 2 * (long)rank);
}

void kv_zset_iter_score(kv_zset_iter_t *it, const kv_obj_t *o, const kv_zsl_range_t *r,
                        bool reverse) {
    iter_init(it, o, reverse);
    if (score_range_empty(r)) return;
    if (o->encoding == KV_ENC_SKIPLIST) {
        const kv_zsl_t *zsl = zs_of(o)->zsl;
        it->node = reverse ? kv_zsl_last_in_range(zsl, r) : kv_zsl_first_in_range(zsl, r);
        return;
    }
    uint8_t *lp = lp_of(o);
    if (!reverse) {
        for (uint8_t *eptr = kv_lp_first(lp); eptr != NULL; eptr = lp_next_pair(lp, eptr)) {
            double s = lp_score(kv_lp_next(lp, eptr));
            if (!kv_zset_score_gte_min(s, r)) continue;
            if (kv_zset_score_lte_max(s, r)) it->eptr = eptr;
            return;
        }
    } else {
        uint8_t *sptr = kv_lp_last(lp);
        for (uint8_t *eptr = sptr ? kv_lp_prev(lp, sptr) : NULL; eptr != NULL;
             eptr = lp_prev_pair(lp, eptr)) {
            double s = lp_score(kv_lp_next(lp, eptr));
            if (!kv_zset_score_lte_max(s, r)) continue;
            if (kv_zset_score_gte_min(s, r)) it->eptr = eptr;
            return;
        }
    }
}

void kv_zset_iter_lex(kv_zset_iter_t *it, const kv_obj_t *o, const kv_zsl_lexrange_t *r,
                      bool reverse) {
    iter_init(it, o, reverse);
    if (lex_range_empty(r)) return;
    if (o->encoding == KV_ENC_SKIPLIST) {
        const kv_zsl_t *zsl = zs_of(o)->zsl;
        it->node = reverse ? kv_zsl_last_in_lex_range(zsl, r) : kv_zsl_first_in_lex_range(zsl, r);
        return;
    }
    uint8_t *lp = lp_of(o);
    char buf[KV_LP_INTBUF];
    size_t len;
    if (!reverse) {
        for (uint8_t *eptr = kv_lp_first(lp); eptr != NULL; eptr = lp_next_pair(lp, eptr)) {
            const uint8_t *s = kv_lp_get_bytes(eptr, buf, &len);
            if (!kv_zset_lex_gte_min(s, len, r)) continue;
            if (kv_zset_lex_lte_max(s, len, r)) it->eptr = eptr;
            return;
        }
    } else {
        uint8_t *sptr = kv_lp_last(lp);
        for (uint8_t *eptr = sptr ? kv_lp_prev(lp, sptr) : NULL; eptr != NULL;
             eptr = lp_prev_pair(lp, eptr)) {
            const uint8_t *s = kv_lp_get_bytes(eptr, buf, &len);
            if (!kv_zset_lex_lte_max(s, len, r)) continue;
            if (kv_zset_lex_gte_min(s, len, r)) it->eptr = eptr;
            return;
        }
    }
}

bool kv_zset_iter_next(kv_zset_iter_t *it, kv_zset_elem_t *e) {
    if (it->o->encoding == KV_ENC_SKIPLIST) {
        kv_zsl_node_t *n = it->node;
        if (n == NULL) return false;
        e->member = kv_zsl_node_member(n, &e->len);
        e->score = n->score;
        it->node = it->reverse ? kv_zsl_node_prev(n) : kv_zsl_node_next(n);
        return true;
    }
    if (it->eptr == NULL) return false;
    uint8_t *lp = lp_of(it->o);
    e->member = kv_lp_get_bytes(it->eptr, e->buf, &e->len);
    e->score = lp_score(kv_lp_next(lp, it->eptr));
    it->eptr = it->reverse ? lp_prev_pair(lp, it->eptr) : lp_next_pair(lp, it->eptr);
    return true;
}

/* --- Checking --- */

static int check_listpack(const uint8_t *lpc) {
    uint8_t *lp = (uint8_t *)lpc;
    if (kv_lp_check(lp) != 0 || kv_lp_len(lp) % 2 != 0) return -EPROTO;
    uint8_t *prev = NULL;
    double prev_score = 0;
    for (uint8_t *eptr = kv_lp_first(lp); eptr != NULL; eptr = lp_next_pair(lp, eptr)) {
        double s = lp_score(kv_lp_next(lp, eptr));
        if (isnan(s)) return -EPROTO;
        if (prev != NULL) {
            char buf[KV_LP_INTBUF];
            size_t len;
            const uint8_t *m = kv_lp_get_bytes(eptr, buf, &len);
            if (s < prev_score || (s == prev_score && lp_member_cmp(prev, m, len) >= 0))
                return -EPROTO; /* also catches a repeated member with an equal score */
            for (uint8_t *q = kv_lp_first(lp); q != eptr; q = lp_next_pair(lp, q))
                if (lp_member_cmp(q, m, len) == 0) return -EPROTO;
        }
        prev = eptr;
        prev_score = s;
    }
    return 0;
}

int kv_zset_check(const kv_obj_t *o) {
    if (o == NULL || o->type != KV_TYPE_ZSET || kv_obj_ptr(o) == NULL) return -EPROTO;
    if (o->encoding == KV_ENC_LISTPACK) return check_listpack(lp_of(o));
    if (o->encoding != KV_ENC_SKIPLIST) return -EPROTO;
    kv_zset_t *zs = zs_of(o);
    if (kv_zsl_check(zs->zsl) != 0 || kv_ht_check(zs->ht) != 0) return -EPROTO;
    if (kv_ht_size(zs->ht) != kv_zsl_len(zs->zsl)) return -EPROTO;
    for (kv_zsl_node_t *n = kv_zsl_first(zs->zsl); n != NULL; n = kv_zsl_node_next(n)) {
        size_t len;
        const uint8_t *m = kv_zsl_node_member(n, &len);
        if (isnan(n->score) || kv_ht_find(zs->ht, m, len) != n) return -EPROTO;
    }
    return 0;
}
