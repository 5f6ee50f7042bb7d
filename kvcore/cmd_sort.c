/* SPDX-License-Identifier: MIT */
/*
 * cmd_sort.c - SORT and SORT_RO on lists, sets and sorted sets, with Redis 7.0's rules.
 *
 * Steps, in Redis's order (which decides the error a bad call gets): the options are
 * parsed first (syntax errors, LIMIT's integers), then the key is looked up (a missing
 * key sorts as an empty list; a string or hash is WRONGTYPE). A sorted set is converted
 * to its skiplist form, as Redis 7.0 does. The elements are copied out of the value
 * before any pattern is looked up, so nothing the lookups do (lazy expiry) can touch them.
 *
 * Ordering: numeric by default (each weight read with strtod over its bytes up to the
 * first NUL: leading spaces, hex and "inf" are accepted, trailing bytes, NaN and ERANGE
 * are not: "One or more scores can't be converted into double"; an empty string is 0;
 * a missing BY weight is 0), equal scores ordered by the elements' bytes. ALPHA compares
 * the elements (or the BY weights, a missing one first) as C strings, as strcoll does in
 * the C / C.UTF-8 locale, or bytewise with STORE. The sort is stable, as glibc's qsort
 * (a merge sort) that Redis calls; ties of ALPHA BY weights keep the load order.
 *
 * BY without '*' (e.g. "nosort") skips sorting: lists and sorted sets keep their own
 * order (DESC reversing it, LIMIT taken directly), a set too unless STORE is given, when
 * it is sorted ALPHA instead (a stored result must not depend on the hash layout).
 *
 * Patterns: "#" is the element itself; otherwise the first '*' is replaced by the
 * element and "->field" after it (not at the end) reads a hash field; a pattern without
 * '*' finds nothing. As in Redis these searches stop at a NUL byte in the pattern.
 *
 * LIMIT offset count is clamped to the value's size before any arithmetic, so huge or
 * negative numbers never size an allocation; the work is bounded by the value's length.
 */
#include "kv_internal.h"
#include "t_hash.h"
#include "t_list.h"
#include "t_set.h"
#include "t_zset.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct sort_item {
    char *s; /* the element, NUL-terminated copy */
    size_t len;
    double score;
    char *cmp; /* ALPHA with BY: the weight (NUL-terminated copy), NULL when missing */
    size_t cmplen;
} sort_item_t;

typedef struct sort_opts {
    bool desc, alpha, bypattern, store;
} sort_opts_t;

/* A reusable buffer for the keys patterns expand to. */
typedef struct sort_keybuf {
    char *p;
    size_t cap;
} sort_keybuf_t;

static char *dup_bytes(const void *p, size_t len) {
    char *s = malloc(len + 1);
    if (s == NULL) return NULL;
    if (len) memcpy(s, p, len);
    s[len] = '\0';
    return s;
}

static int cmp_binary(const char *a, size_t alen, const char *b, size_t blen) {
    int r = memcmp(a, b, alen < blen ? alen : blen);
    if (r != 0) return r;
    return alen < blen ? -1 : alen > blen;
}

static int sort_cmp(const sort_item_t *x, const sort_item_t *y, const sort_opts_t *o) {
    int cmp;
    if (!o->alpha) {
        if (x->score > y->score)
            cmp = 1;
        else if (x->score < y->score)
            cmp = -1;
        else
            cmp = cmp_binary(x->s, x->len, y->s, y->len);
    } else if (o->bypattern) {
        if (x->cmp == NULL || y->cmp == NULL)
            cmp = x->cmp == y->cmp ? 0 : x->cmp == NULL ? -1 : 1;
        else if (o->store)
            cmp = cmp_binary(x->cmp, x->cmplen, y->cmp, y->cmplen);
        else
            cmp = strcmp(x->cmp, y->cmp);
    } else {
        cmp = o->store ? cmp_binary(x->s, x->len, y->s, y->len) : strcmp(x->s, y->s);
    }
    if (o->desc) cmp = cmp > 0 ? -1 : cmp < 0;
    return cmp;
}

/* Stable merge sort of v[0..n) using tmp (n entries). */
static void merge_sort(sort_item_t *v, sort_item_t *tmp, size_t n, const sort_opts_t *o) {
    if (n < 2) return;
    if (n <= 8) { /* insertion sort: stable */
        for (size_t i = 1; i < n; i++) {
            sort_item_t x = v[i];
            size_t j = i;
            while (j > 0 && sort_cmp(&v[j - 1], &x, o) > 0) {
                v[j] = v[j - 1];
                j--;
            }
            v[j] = x;
        }
        return;
    }
    size_t h = n / 2;
    merge_sort(v, tmp, h, o);
    merge_sort(v + h, tmp, n - h, o);
    size_t i = 0, j = h, k = 0;
    while (i < h && j < n)
        tmp[k++] = sort_cmp(&v[j], &v[i], o) < 0 ? v[j++] : v[i++];
    while (i < h)
        tmp[k++] = v[i++];
    while (j < n)
        tmp[k++] = v[j++];
    memcpy(v, tmp, n * sizeof(*v));
}

/*
 * Redis's lookupKeyByPattern: the value pat names for element sub. True with *out set
 * (pointing into the keyspace, the element or ibuf) when found; false when the pattern
 * names nothing, the key is missing or of the wrong type, or the field is absent.
 * -ENOMEM through *err.
 */
static bool pattern_lookup(kv_client_t *c, const kv_arg_t *pat, const char *sub, size_t sublen,
                           sort_keybuf_t *kb, char *ibuf, kv_arg_t *out, int *err) {
    const char *sp = pat->ptr;
    size_t plen = pat->len;
    size_t clen = strnlen(sp, plen); /* the C string's length: searches stop at a NUL */
    if (clen >= 1 && sp[0] == '#' && (clen == 1)) {
        out->ptr = sub;
        out->len = sublen;
        return true;
    }
    const char *star = memchr(sp, '*', clen);
    if (star == NULL) return false;
    size_t prefixlen = (size_t)(star - sp);
    size_t fieldlen = 0;
    const char *field = NULL;
    for (size_t i = prefixlen + 1; i + 1 < clen; i++) {
        if (sp[i] == '-' && sp[i + 1] == '>') {
            if (i + 2 < clen) { /* "->" at the (C string's) end is part of the key */
                field = sp + i + 2;
                fieldlen = plen - (i + 2);
            }
            break;
        }
    }
    size_t postfixlen = plen - prefixlen - 1 - (field ? fieldlen + 2 : 0);
    size_t klen = prefixlen + sublen + postfixlen;
    if (klen > kb->cap) {
        char *np = realloc(kb->p, klen);
        if (np == NULL) {
            *err = -ENOMEM;
            return false;
        }
        kb->p = np;
        kb->cap = klen;
    }
    memcpy(kb->p, sp, prefixlen);
    if (sublen) memcpy(kb->p + prefixlen, sub, sublen);
    memcpy(kb->p + prefixlen + sublen, star + 1, postfixlen);
    kv_arg_t key = {kb->p, klen};
    kv_obj_t *o = kv_db_lookup_read(c->db, &key);
    if (o == NULL) return false;
    if (field == NULL) {
        if (o->type != KV_TYPE_STRING) return false;
        out->ptr = kv_obj_str(o, ibuf, &out->len);
        return true;
    }
    if (o->type != KV_TYPE_HASH) return false;
    kv_arg_t f = {field, fieldlen};
    return kv_hash_get(o, &f, out, ibuf);
}

/* strtod over the bytes up to the first NUL, as Redis reads a weight. False: not valid. */
static bool weight_parse(const char *s, double *out) {
    char *end;
    errno = 0;
    double d = strtod(s, &end);
    *out = d;
    return end[0] == '\0' && errno != ERANGE && !isnan(d);
}

typedef struct sort_vec {
    sort_item_t *v;
    size_t n, cap;
} sort_vec_t;

static void vec_free(sort_vec_t *vec) {
    for (size_t i = 0; i < vec->n; i++) {
        free(vec->v[i].s);
        free(vec->v[i].cmp);
    }
    free(vec->v);
}

static int vec_add(sort_vec_t *vec, const void *p, size_t len) {
    if (vec->n == vec->cap) return -ENOMEM; /* sized up front: never happens */
    char *s = dup_bytes(p, len);
    if (s == NULL) return -ENOMEM;
    vec->v[vec->n++] = (sort_item_t){.s = s, .len = len};
    return 0;
}

static int vec_add_list_entry(sort_vec_t *vec, const kv_list_entry_t *e) {
    if (e->val.str) return vec_add(vec, e->val.str, e->val.len);
    char buf[24];
    size_t n = kv_ll2str(buf, (long long)e->val.ival);
    return vec_add(vec, buf, n);
}

/* Loads [start, start+count) of a list or sorted set in its own order (reversed with
 * desc), or every element of any type when all is true. */
static int load_elements(kv_obj_t *o, sort_vec_t *vec, bool all, long long start, long long count,
                         bool desc) {
    int rc = 0;
    if (o == NULL) return 0;
    if (o->type == KV_TYPE_LIST) {
        kv_list_iter_t it;
        kv_list_entry_t e;
        long long len = (long long)kv_list_len(o);
        if (all) {
            start = 0;
            count = len;
            desc = false;
        }
        if (count <= 0) return 0;
        if (kv_list_iter_init(&it, o, (long)(desc ? len - start - 1 : start), !desc) != 0) return 0;
        while (rc == 0 && count-- > 0 && kv_list_iter_next(&it, &e))
            rc = vec_add_list_entry(vec, &e);
        kv_list_release(o);
    } else if (o->type == KV_TYPE_SET) {
        kv_set_iter_t it;
        kv_arg_t m;
        kv_set_iter_init(&it, o);
        while (rc == 0 && kv_set_iter_next(&it, &m))
            rc = vec_add(vec, m.ptr, m.len);
        kv_set_iter_fini(&it);
    } else {
        kv_zset_iter_t it;
        kv_zset_elem_t e;
        if (all) {
            start = 0;
            count = (long long)kv_zset_len(o);
            desc = false;
        }
        if (count <= 0) return 0;
        kv_zset_iter_rank(&it, o, (size_t)start, desc);
        while (rc == 0 && count-- > 0 && kv_zset_iter_next(&it, &e))
            rc = vec_add(vec, e.member, e.len);
    }
    return rc;
}

/* Fills scores (numeric) or cmp (ALPHA with BY). 1: a weight is not a number; -ENOMEM. */
static int load_weights(kv_client_t *c, sort_vec_t *vec, const kv_arg_t *by, bool alpha,
                        sort_keybuf_t *kb) {
    int bad = 0;
    for (size_t j = 0; j < vec->n; j++) {
        sort_item_t *it = &vec->v[j];
        char ibuf[KV_INTBUF];
        kv_arg_t w = {it->s, it->len};
        if (by) {
            int err = 0;
            if (!pattern_lookup(c, by, it->s, it->len, kb, ibuf, &w, &err)) {
                if (err) return err;
                continue;
            }
        }
        if (alpha) {
            if (by) {
                it->cmp = dup_bytes(w.ptr, w.len);
                if (it->cmp == NULL) return -ENOMEM;
                it->cmplen = w.len;
            }
            continue;
        }
        if (w.ptr == it->s) {
            if (!weight_parse(it->s, &it->score)) bad = 1;
        } else {
            char *tmp = dup_bytes(w.ptr, w.len);
            if (tmp == NULL) return -ENOMEM;
            if (!weight_parse(tmp, &it->score)) bad = 1;
            free(tmp);
        }
    }
    return bad;
}

/* Writes the result list under dst (or deletes dst when empty); the reply's count. */
static int store_result(kv_client_t *c, const kv_arg_t *dst, sort_vec_t *vec, long long start,
                        long long end, const kv_arg_t *gets, int ngets, sort_keybuf_t *kb,
                        long long *outlen) {
    long long n = end >= start ? end - start + 1 : 0;
    *outlen = ngets ? (long long)ngets * n : n;
    if (*outlen == 0) {
        kv_notify_store_empty(c, dst);
        return 0;
    }
    kv_obj_t *o = kv_list_new(dst->ptr, dst->len, -1);
    if (o == NULL) return -ENOMEM;
    for (long long j = start; j <= end; j++) {
        const sort_item_t *it = &vec->v[j];
        for (int g = 0; g < (ngets ? ngets : 1); g++) {
            char ibuf[KV_INTBUF];
            kv_arg_t v = {it->s, it->len};
            if (ngets) {
                int err = 0;
                if (!pattern_lookup(c, &gets[g], it->s, it->len, kb, ibuf, &v, &err)) {
                    if (err) {
                        kv_obj_free(o);
                        return err;
                    }
                    v.ptr = "";
                    v.len = 0;
                }
            }
            if (kv_list_grow(o, v.len, 1) != 0 ||
                kv_list_push(o, KV_LIST_TAIL, v.ptr, v.len) != 0) {
                kv_obj_free(o);
                return -ENOMEM;
            }
        }
    }
    if (kv_db_set(c->db, o, false) != 0) return -ENOMEM;
    kv_notify_key_changed(c, dst, KV_NOTIFY_LIST, "sortstore");
    kv_srv.dirty += *outlen;
    return 0;
}

static void sort_generic(kv_client_t *c, bool readonly) {
    sort_opts_t so = {0};
    bool dontsort = false;
    long long limit_start = 0, limit_count = -1;
    const kv_arg_t *by = NULL, *storekey = NULL;
    int ngets = 0;
    kv_arg_t *gets = malloc((size_t)c->argc * sizeof(*gets));
    if (gets == NULL) {
        kv_reply_oom(c);
        return;
    }
    for (int j = 2; j < c->argc; j++) {
        int left = c->argc - j - 1;
        const kv_arg_t *a = &c->argv[j];
        if (kv_arg_is(a, "asc")) {
            so.desc = false;
        } else if (kv_arg_is(a, "desc")) {
            so.desc = true;
        } else if (kv_arg_is(a, "alpha")) {
            so.alpha = true;
        } else if (kv_arg_is(a, "limit") && left >= 2) {
            if (kv_arg_ll_or_reply(c, &c->argv[j + 1], &limit_start, NULL) != 0 ||
                kv_arg_ll_or_reply(c, &c->argv[j + 2], &limit_count, NULL) != 0) {
                free(gets);
                return;
            }
            j += 2;
        } else if (!readonly && kv_arg_is(a, "store") && left >= 1) {
            storekey = &c->argv[++j];
        } else if (kv_arg_is(a, "by") && left >= 1) {
            by = &c->argv[++j];
            if (memchr(by->ptr, '*', strnlen(by->ptr, by->len)) == NULL) dontsort = true;
        } else if (kv_arg_is(a, "get") && left >= 1) {
            gets[ngets++] = c->argv[++j];
        } else {
            kv_reply_syntax_err(c);
            free(gets);
            return;
        }
    }

    kv_obj_t *o = kv_db_lookup_read(c->db, &c->argv[1]);
    if (o != NULL && o->type != KV_TYPE_LIST && o->type != KV_TYPE_SET && o->type != KV_TYPE_ZSET) {
        kv_reply_wrongtype(c);
        free(gets);
        return;
    }
    if (dontsort && o != NULL && o->type == KV_TYPE_SET && storekey != NULL) {
        dontsort = false;
        so.alpha = true;
        by = NULL;
    }
    if (o != NULL && o->type == KV_TYPE_ZSET) (void)kv_zset_convert(o); /* as Redis 7.0 */

    long long len = 0;
    if (o != NULL)
        len = (long long)(o->type == KV_TYPE_LIST  ? kv_list_len(o)
                          : o->type == KV_TYPE_SET ? kv_set_len(o)
                                                   : kv_zset_len(o));
    /* LIMIT, clamped to the value's size first (no overflow, no huge counts). */
    long long start = limit_start < 0 ? 0 : limit_start > len ? len : limit_start;
    long long count = limit_count < -1 ? -1 : limit_count > len ? len : limit_count;
    long long end = count < 0 ? len - 1 : start + count - 1;
    if (start >= len) {
        start = len - 1;
        end = len - 2;
    }
    if (end >= len) end = len - 1;

    bool direct = o != NULL && o->type != KV_TYPE_SET && dontsort;
    long long want = len;
    if (direct && (start != 0 || end != len - 1)) want = end - start + 1;
    sort_vec_t vec = {0};
    sort_keybuf_t kb = {0};
    int rc = 0;
    if (want > 0) {
        vec.v = calloc((size_t)want, sizeof(*vec.v));
        vec.cap = (size_t)want;
        if (vec.v == NULL) rc = -ENOMEM;
    }
    if (rc == 0 && want > 0) {
        if (direct) {
            rc = load_elements(o, &vec, false, start, want, so.desc);
            if (end >= start) {
                end -= start;
                start = 0;
            }
        } else {
            rc = load_elements(o, &vec, true, 0, 0, false);
        }
    } else if (direct && end >= start) {
        end -= start;
        start = 0;
    }
    /* From here on the value is not read again: lookups may expire keys. */
    bool bad = false;
    if (rc == 0 && !dontsort) {
        int w = load_weights(c, &vec, by, so.alpha, &kb);
        if (w < 0)
            rc = w;
        else
            bad = w == 1;
        so.bypattern = by != NULL;
        so.store = storekey != NULL;
        if (rc == 0 && !bad && vec.n > 1) {
            sort_item_t *tmp = malloc(vec.n * sizeof(*tmp));
            if (tmp == NULL)
                rc = -ENOMEM;
            else
                merge_sort(vec.v, tmp, vec.n, &so);
            free(tmp);
        }
    }
    /* Range inside what was loaded (a defensive bound; equal by construction). */
    if (rc == 0 && end >= (long long)vec.n) end = (long long)vec.n - 1;

    if (rc != 0) {
        kv_reply_oom(c);
    } else if (bad) {
        kv_reply_error(c, "ERR One or more scores can't be converted into double");
    } else if (storekey == NULL) {
        long long n = end >= start ? end - start + 1 : 0;
        kv_reply_array_len(c, (long)(ngets ? (long long)ngets * n : n));
        for (long long j = start; j <= end && rc == 0; j++) {
            const sort_item_t *it = &vec.v[j];
            if (!ngets) kv_reply_bulk(c, it->s, it->len);
            for (int g = 0; g < ngets; g++) {
                char ibuf[KV_INTBUF];
                kv_arg_t v;
                int err = 0;
                if (pattern_lookup(c, &gets[g], it->s, it->len, &kb, ibuf, &v, &err))
                    kv_reply_bulk(c, v.ptr, v.len);
                else
                    kv_reply_null(c); /* out of memory for a key name: reply stays framed */
            }
        }
    } else {
        long long outlen;
        if (store_result(c, storekey, &vec, start, end, gets, ngets, &kb, &outlen) != 0)
            kv_reply_oom(c);
        else
            kv_reply_int(c, outlen);
    }
    free(kb.p);
    vec_free(&vec);
    free(gets);
}

void kv_cmd_sort(kv_client_t *c) {
    sort_generic(c, false);
}

void kv_cmd_sort_ro(kv_client_t *c) {
    sort_generic(c, true);
}
