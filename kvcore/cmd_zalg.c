/* SPDX-License-Identifier: MIT */
/*
 * cmd_zalg.c - sorted-set algebra and the other commands that build or sample a sorted
 * set: ZUNION ZINTER ZDIFF ZUNIONSTORE ZINTERSTORE ZDIFFSTORE ZINTERCARD ZRANGESTORE
 * ZRANDMEMBER.
 *
 * As in Redis 7.0's t_zset.c, the algebra reads sorted sets and sets alike (a set member
 * scores 1), checks numkeys, then looks every input up (a wrong type is refused before
 * the options are parsed), then parses WEIGHTS / AGGREGATE / WITHSCORES / LIMIT. Inputs
 * are taken from the smallest to the largest (a stable sort, so equal sizes keep their
 * order and sums are added in Redis's order); a weighted score that is NaN (0 * inf) and
 * a SUM that is NaN (inf + -inf) count as 0. A stored result starts as a listpack and
 * becomes a skiplist once it passes zset-max-listpack-entries / -value, which gives the
 * encoding Redis picks at the end (its result only grows). An empty result deletes the
 * destination. ZRANGESTORE parses with ZRANGE's parser (kv_zrange_parse, cmd_zset.c).
 *
 * ZRANDMEMBER follows Redis's sampling rules: a negative count may repeat members (picked
 * uniformly, in pick order); a positive count returns distinct members, the whole set in
 * order from the highest when it asks for at least the set's size, else a uniform sample (in set
 * order, or for a count below a third of a skiplist set, in pick order).
 */
#include "t_set.h"
#include "t_zset.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* --- Inputs: a sorted set, a set, or a missing key --- */

typedef struct zsrc {
    kv_obj_t *o; /* NULL: missing key (empty) */
    double weight;
    size_t len;
} zsrc_t;

typedef struct zsrc_iter {
    const zsrc_t *s;
    kv_zset_iter_t zi;
    kv_zset_elem_t ze;
    kv_set_iter_t si;
    kv_arg_t sa;
} zsrc_iter_t;

static void zsrc_iter_init(zsrc_iter_t *it, const zsrc_t *s) {
    it->s = s;
    if (s->o->type == KV_TYPE_ZSET)
        kv_zset_iter_rank(&it->zi, s->o, 0, false);
    else
        kv_set_iter_init(&it->si, s->o);
}

/* The next member and its score (1 for a set member); false at the end. */
static bool zsrc_iter_next(zsrc_iter_t *it, const void **m, size_t *len, double *score) {
    if (it->s->o->type == KV_TYPE_ZSET) {
        if (!kv_zset_iter_next(&it->zi, &it->ze)) return false;
        *m = it->ze.member;
        *len = it->ze.len;
        *score = it->ze.score;
        return true;
    }
    if (!kv_set_iter_next(&it->si, &it->sa)) return false;
    *m = it->sa.ptr;
    *len = it->sa.len;
    *score = 1.0;
    return true;
}

static void zsrc_iter_fini(zsrc_iter_t *it) {
    if (it->s->o->type != KV_TYPE_ZSET) kv_set_iter_fini(&it->si);
}

/* The member's score in s (unweighted); false if absent. */
static bool zsrc_find(const zsrc_t *s, const void *m, size_t len, double *score) {
    if (s->o == NULL) return false;
    if (s->o->type == KV_TYPE_ZSET) return kv_zset_score(s->o, m, len, score);
    kv_arg_t a = {.ptr = m, .len = len};
    if (!kv_set_contains(s->o, &a)) return false;
    *score = 1.0;
    return true;
}

enum { AGGR_SUM, AGGR_MIN, AGGR_MAX };
enum { OP_UNION, OP_INTER, OP_DIFF };

static void aggregate(double *target, double val, int aggr) {
    if (aggr == AGGR_SUM) {
        *target += val;
        if (isnan(*target)) *target = 0.0; /* inf + -inf */
    } else if (aggr == AGGR_MIN) {
        *target = val < *target ? val : *target;
    } else {
        *target = val > *target ? val : *target;
    }
}

/* Adds or updates member in the result; 0 or -ENOMEM. */
static int result_put(kv_obj_t *res, double score, const void *m, size_t len) {
    unsigned out;
    return kv_zset_add(res, score, m, len, 0, &out, NULL) == 0 ? 0 : -ENOMEM;
}

/* Replies the result's elements in order, with their scores as pairs with withscores. */
static void reply_zset(kv_client_t *c, kv_obj_t *o, bool withscores, bool reverse) {
    size_t n = o ? kv_zset_len(o) : 0;
    kv_reply_scored_len(c, (long)n, withscores);
    if (n == 0) return;
    kv_zset_iter_t it;
    kv_zset_elem_t e;
    kv_zset_iter_rank(&it, o, 0, reverse);
    while (kv_zset_iter_next(&it, &e))
        kv_reply_scored(c, e.member, e.len, e.score, withscores);
}

/* Stores res under dst (or deletes dst when res is empty), replies the length and
 * publishes event (or "del"). */
static void store_result(kv_client_t *c, const kv_arg_t *dst, kv_obj_t *res, const char *event) {
    size_t n = res ? kv_zset_len(res) : 0;
    if (n == 0) {
        kv_obj_free(res);
        kv_reply_int(c, 0);
        kv_notify_store_empty(c, dst);
        return;
    }
    if (kv_db_set(c->db, res, false) != 0) {
        kv_reply_oom(c);
        return;
    }
    kv_reply_int(c, (long long)n);
    kv_notify_key_changed(c, dst, KV_NOTIFY_ZSET, event);
    kv_srv.dirty++;
}

/* A new empty result: listpack unless the limits say no entries at all. */
static kv_obj_t *result_new(const kv_arg_t *dst) {
    bool skiplist = kv_srv.cfg.zset_max_listpack_entries == 0;
    return dst ? kv_zset_new(dst->ptr, dst->len, skiplist, -1) : kv_zset_new("", 0, true, -1);
}

/*
 * zunionInterDiffGenericCommand: numkeys at argv[numidx], the keys after it; dst NULL for
 * the replying forms; card_only for ZINTERCARD.
 */
static void zsetop_generic(kv_client_t *c, const kv_arg_t *dst, int numidx, int op,
                           bool card_only) {
    long long setnum;
    if (kv_arg_ll_or_reply(c, &c->argv[numidx], &setnum, NULL) != 0) return;
    if (setnum < 1) {
        kv_reply_errorf(c, "ERR at least 1 input key is needed for '%s' command", c->cmd->fullname);
        return;
    }
    if (setnum > c->argc - (numidx + 1)) {
        kv_reply_syntax_err(c);
        return;
    }
    int n = (int)setnum;
    zsrc_t *src = calloc((size_t)n, sizeof(*src));
    if (src == NULL) {
        kv_reply_oom(c);
        return;
    }
    kv_obj_t *res = NULL;
    int j = numidx + 1;
    for (int i = 0; i < n; i++, j++) {
        kv_obj_t *o = kv_db_lookup_read(c->db, &c->argv[j]);
        if (o != NULL && o->type != KV_TYPE_ZSET && o->type != KV_TYPE_SET) {
            kv_reply_wrongtype(c);
            goto out;
        }
        src[i].o = o;
        src[i].weight = 1.0;
        src[i].len = o == NULL ? 0 : o->type == KV_TYPE_ZSET ? kv_zset_len(o) : kv_set_len(o);
    }
    int aggr = AGGR_SUM;
    bool withscores = false;
    long long limit = 0;
    while (j < c->argc) {
        int remaining = c->argc - j;
        const kv_arg_t *a = &c->argv[j];
        if (op != OP_DIFF && !card_only && remaining >= n + 1 && kv_arg_is(a, "weights")) {
            j++;
            for (int i = 0; i < n; i++, j++) {
                if (!kv_str2d(c->argv[j].ptr, c->argv[j].len, &src[i].weight)) {
                    kv_reply_error(c, "ERR weight value is not a float");
                    goto out;
                }
            }
        } else if (op != OP_DIFF && !card_only && remaining >= 2 && kv_arg_is(a, "aggregate")) {
            const kv_arg_t *v = &c->argv[j + 1];
            if (kv_arg_is(v, "sum")) {
                aggr = AGGR_SUM;
            } else if (kv_arg_is(v, "min")) {
                aggr = AGGR_MIN;
            } else if (kv_arg_is(v, "max")) {
                aggr = AGGR_MAX;
            } else {
                kv_reply_syntax_err(c);
                goto out;
            }
            j += 2;
        } else if (dst == NULL && !card_only && kv_arg_is(a, "withscores")) {
            withscores = true;
            j++;
        } else if (card_only && remaining >= 2 && kv_arg_is(a, "limit")) {
            if (kv_arg_nonneg_or_reply(c, &c->argv[j + 1], &limit, "ERR LIMIT can't be negative") !=
                0)
                goto out;
            j += 2;
        } else {
            kv_reply_syntax_err(c);
            goto out;
        }
    }
    if (op != OP_DIFF) { /* smallest first; a stable insertion sort keeps ties in order */
        for (int i = 1; i < n; i++) {
            zsrc_t t = src[i];
            int k = i;
            for (; k > 0 && src[k - 1].len > t.len; k--)
                src[k] = src[k - 1];
            src[k] = t;
        }
    }
    if (!card_only && (res = result_new(dst)) == NULL) {
        kv_reply_oom(c);
        goto out;
    }
    unsigned long long card = 0;
    int rc = 0;
    zsrc_iter_t it;
    const void *m;
    size_t len;
    double s;
    if (op == OP_INTER && src[0].len > 0) {
        zsrc_iter_init(&it, &src[0]);
        while (rc == 0 && zsrc_iter_next(&it, &m, &len, &s)) {
            double score = src[0].weight * s, value;
            if (isnan(score)) score = 0;
            int k;
            for (k = 1; k < n; k++) {
                if (src[k].o == src[0].o) {
                    value = s * src[k].weight;
                } else if (zsrc_find(&src[k], m, len, &value)) {
                    value *= src[k].weight;
                } else {
                    break;
                }
                aggregate(&score, value, aggr);
            }
            if (k < n) continue;
            if (card_only) {
                card++;
                if (limit && card >= (unsigned long long)limit) break;
            } else {
                rc = result_put(res, score, m, len);
            }
        }
        zsrc_iter_fini(&it);
    } else if (op == OP_UNION) {
        for (int i = 0; rc == 0 && i < n; i++) {
            if (src[i].len == 0) continue;
            zsrc_iter_init(&it, &src[i]);
            while (rc == 0 && zsrc_iter_next(&it, &m, &len, &s)) {
                double score = src[i].weight * s, cur;
                if (isnan(score)) score = 0;
                if (kv_zset_score(res, m, len, &cur)) {
                    aggregate(&cur, score, aggr);
                    score = cur;
                }
                rc = result_put(res, score, m, len);
            }
            zsrc_iter_fini(&it);
        }
    } else if (op == OP_DIFF && src[0].len > 0) {
        zsrc_iter_init(&it, &src[0]);
        while (rc == 0 && zsrc_iter_next(&it, &m, &len, &s)) {
            int k;
            double dummy;
            for (k = 1; k < n; k++)
                if (src[k].len > 0 && zsrc_find(&src[k], m, len, &dummy)) break;
            if (k == n) rc = result_put(res, s, m, len);
        }
        zsrc_iter_fini(&it);
    }
    if (rc != 0) {
        kv_reply_oom(c);
        goto out;
    }
    if (card_only) {
        kv_reply_int(c, (long long)card);
    } else if (dst) {
        static const char *const events[] = {
            [OP_UNION] = "zunionstore", [OP_INTER] = "zinterstore", [OP_DIFF] = "zdiffstore"};
        store_result(c, dst, res, events[op]);
        res = NULL;
    } else {
        reply_zset(c, res, withscores, false);
    }
out:
    kv_obj_free(res);
    free(src);
}

void kv_cmd_zunion(kv_client_t *c) {
    zsetop_generic(c, NULL, 1, OP_UNION, false);
}

void kv_cmd_zinter(kv_client_t *c) {
    zsetop_generic(c, NULL, 1, OP_INTER, false);
}

void kv_cmd_zdiff(kv_client_t *c) {
    zsetop_generic(c, NULL, 1, OP_DIFF, false);
}

void kv_cmd_zintercard(kv_client_t *c) {
    zsetop_generic(c, NULL, 1, OP_INTER, true);
}

void kv_cmd_zunionstore(kv_client_t *c) {
    zsetop_generic(c, &c->argv[1], 2, OP_UNION, false);
}

void kv_cmd_zinterstore(kv_client_t *c) {
    zsetop_generic(c, &c->argv[1], 2, OP_INTER, false);
}

void kv_cmd_zdiffstore(kv_client_t *c) {
    zsetop_generic(c, &c->argv[1], 2, OP_DIFF, false);
}

/* --- ZRANGESTORE dst src min max [BYSCORE|BYLEX] [REV] [LIMIT offset count] --- */

void kv_cmd_zrangestore(kv_client_t *c) {
    const kv_arg_t *dst = &c->argv[1];
    kv_zrange_args_t za;
    if (kv_zrange_parse(c, 2, true, KV_ZRANGE_AUTO, KV_ZDIR_AUTO, &za) != 0) return;
    bool wrong;
    kv_obj_t *o = kv_lookup_type_or_reply(c, &c->argv[2], KV_TYPE_ZSET, false, &wrong);
    if (wrong) return;
    if (o == NULL) {
        store_result(c, dst, NULL, "zrangestore");
        return;
    }
    long long start = za.start, end = za.end, n = -1; /* n: elements to take, -1: by range */
    bool skiplist = kv_srv.cfg.zset_max_listpack_entries == 0;
    if (za.rangetype == KV_ZRANGE_RANK) {
        if (!kv_rank_range_clamp((long long)kv_zset_len(o), &start, &end)) {
            store_result(c, dst, NULL, "zrangestore");
            return;
        }
        n = end - start + 1;
        /* Redis sizes the new set for the known length (zrangeResultBeginStore). */
        if (n > kv_srv.cfg.zset_max_listpack_entries) skiplist = true;
    } else if (za.offset < 0 || (za.offset > 0 && za.offset >= (long long)kv_zset_len(o))) {
        store_result(c, dst, NULL,
                     "zrangestore"); /* a negative offset walks off the end in Redis */
        return;
    }
    kv_obj_t *res = kv_zset_new(dst->ptr, dst->len, skiplist, -1);
    if (res == NULL) {
        kv_reply_oom(c);
        return;
    }
    kv_zset_iter_t it;
    kv_zset_elem_t e;
    int rc = 0;
    if (za.rangetype == KV_ZRANGE_RANK) {
        kv_zset_iter_rank(&it, o, (size_t)start, za.reverse);
        while (rc == 0 && n-- > 0 && kv_zset_iter_next(&it, &e))
            rc = result_put(res, e.score, e.member, e.len);
    } else {
        bool score = za.rangetype == KV_ZRANGE_SCORE;
        if (score)
            kv_zset_iter_score(&it, o, &za.sr, za.reverse);
        else
            kv_zset_iter_lex(&it, o, &za.lr, za.reverse);
        long long offset = za.offset, limit = za.limit;
        while (offset-- > 0 && kv_zset_iter_next(&it, &e)) {
        }
        while (rc == 0 && limit != 0 && kv_zset_iter_next(&it, &e)) {
            bool in;
            if (score)
                in = za.reverse ? kv_zset_score_gte_min(e.score, &za.sr)
                                : kv_zset_score_lte_max(e.score, &za.sr);
            else
                in = za.reverse ? kv_zset_lex_gte_min(e.member, e.len, &za.lr)
                                : kv_zset_lex_lte_max(e.member, e.len, &za.lr);
            if (!in) break;
            rc = result_put(res, e.score, e.member, e.len);
            if (limit > 0) limit--;
        }
    }
    if (rc != 0) {
        kv_obj_free(res);
        kv_reply_oom(c);
        return;
    }
    store_result(c, dst, res, "zrangestore");
}

/* --- ZRANDMEMBER key [count [WITHSCORES]] --- */

static void reply_pick(kv_client_t *c, const kv_zset_elem_t *e, bool withscores) {
    kv_reply_scored(c, e->member, e->len, e->score, withscores);
}

/* The element at rank r. */
static void elem_at(kv_obj_t *o, size_t r, kv_zset_elem_t *e) {
    kv_zset_iter_t it;
    kv_zset_iter_rank(&it, o, r, false);
    kv_zset_iter_next(&it, e);
}

static size_t rand_below(size_t n) {
    return (size_t)(kv_rand64() % n);
}

/* A listpack's elements in an array (each read in place: a member may point at its buf). */
static kv_zset_elem_t *collect(kv_obj_t *o, size_t size) {
    kv_zset_elem_t *all = malloc(size * sizeof(*all));
    if (all == NULL) return NULL;
    kv_zset_iter_t it;
    kv_zset_iter_rank(&it, o, 0, false);
    for (size_t i = 0; i < size && kv_zset_iter_next(&it, &all[i]); i++) {
    }
    return all;
}

/* count distinct ranks below size (count < size / 3), replied in pick order. */
static int sample_sparse(kv_client_t *c, kv_obj_t *o, size_t size, size_t count, bool withscores) {
    size_t cap = 16;
    while (cap < count * 2)
        cap *= 2;
    uint64_t *tab = malloc(cap * sizeof(*tab)); /* rank + 1; 0 = empty slot */
    if (tab == NULL) return -ENOMEM;
    memset(tab, 0, cap * sizeof(*tab));
    kv_reply_scored_len(c, (long)count, withscores);
    for (size_t added = 0; added < count;) {
        size_t r = rand_below(size);
        size_t h = (size_t)((r * 0x9E3779B97F4A7C15ull) >> 7) & (cap - 1);
        while (tab[h] != 0 && tab[h] != r + 1)
            h = (h + 1) & (cap - 1);
        if (tab[h] != 0) continue;
        tab[h] = r + 1;
        added++;
        kv_zset_elem_t e;
        elem_at(o, r, &e);
        reply_pick(c, &e, withscores);
    }
    free(tab);
    return 0;
}

static void zrandmember_count(kv_client_t *c, long long l, bool withscores) {
    bool wrong;
    kv_obj_t *o = kv_lookup_type_or_reply(c, &c->argv[1], KV_TYPE_ZSET, false, &wrong);
    if (wrong) return;
    if (o == NULL || l == 0) {
        kv_reply_array_len(c, 0);
        return;
    }
    size_t size = kv_zset_len(o);
    bool uniq = l > 0;
    unsigned long long count = uniq ? (unsigned long long)l : (unsigned long long)(-l);
    bool lp = o->encoding == KV_ENC_LISTPACK;
    if (!uniq || count == 1) { /* picks that may repeat, in pick order */
        kv_zset_elem_t *all = NULL;
        if (lp && (all = collect(o, size)) == NULL) {
            kv_reply_oom(c);
            return;
        }
        kv_reply_scored_len(c, (long)count, withscores);
        while (count-- > 0) {
            size_t r = rand_below(size);
            if (all) {
                reply_pick(c, &all[r], withscores);
            } else {
                kv_zset_elem_t e;
                elem_at(o, r, &e);
                reply_pick(c, &e, withscores);
            }
        }
        free(all);
        return;
    }
    if (count >= size) { /* the whole set, from the highest (Redis's zset iterator) */
        reply_zset(c, o, withscores, true);
        return;
    }
    if (!lp && count * 3 <= size) {
        if (sample_sparse(c, o, size, (size_t)count, withscores) != 0) kv_reply_oom(c);
        return;
    }
    /* Selection sampling (Knuth's algorithm S): count distinct members, in set order. */
    kv_reply_scored_len(c, (long)count, withscores);
    kv_zset_iter_t it;
    kv_zset_elem_t e;
    kv_zset_iter_rank(&it, o, 0, false);
    size_t need = (size_t)count;
    for (size_t left = size; need > 0 && kv_zset_iter_next(&it, &e); left--) {
        if (rand_below(left) < need) {
            reply_pick(c, &e, withscores);
            need--;
        }
    }
}

void kv_cmd_zrandmember(kv_client_t *c) {
    if (c->argc >= 3) {
        long long l;
        if (kv_arg_ll_or_reply(c, &c->argv[2], &l, NULL) != 0) return;
        if (l < -LLONG_MAX) {
            kv_reply_errorf(c, "ERR value is out of range, value must between %lld and %lld",
                            -LLONG_MAX, LLONG_MAX);
            return;
        }
        bool withscores = false;
        if (c->argc > 4 || (c->argc == 4 && !kv_arg_is(&c->argv[3], "withscores"))) {
            kv_reply_syntax_err(c);
            return;
        }
        if (c->argc == 4) {
            withscores = true;
            if (l < -LLONG_MAX / 2 || l > LLONG_MAX / 2) {
                kv_reply_error(c, "ERR value is out of range");
                return;
            }
        }
        zrandmember_count(c, l, withscores);
        return;
    }
    bool wrong;
    kv_obj_t *o = kv_lookup_type_or_reply(c, &c->argv[1], KV_TYPE_ZSET, false, &wrong);
    if (wrong) return;
    if (o == NULL) {
        kv_reply_null(c);
        return;
    }
    kv_zset_elem_t e;
    elem_at(o, rand_below(kv_zset_len(o)), &e);
    kv_reply_bulk(c, e.member, e.len);
}
