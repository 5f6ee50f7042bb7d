/* SPDX-License-Identifier: MIT */
/*
 * cmd_zset.c - sorted-set commands: ZADD ZINCRBY ZREM ZCARD ZSCORE ZMSCORE ZRANK ZREVRANK
 * ZRANGE ZREVRANGE ZRANGEBYSCORE ZREVRANGEBYSCORE ZRANGEBYLEX ZREVRANGEBYLEX ZCOUNT
 * ZLEXCOUNT ZPOPMIN ZPOPMAX ZREMRANGEBYRANK ZREMRANGEBYSCORE ZREMRANGEBYLEX ZSCAN.
 *
 * The handlers follow Redis 7.0's t_zset.c step for step, because the order of parsing,
 * lookup and checks decides which error a bad call gets; tests/kv_corpus/zset.txt holds
 * us to the same replies. Scores are replied as Redis 7.0's addReplyDouble does ("%.17g",
 * "inf", "-inf"). Quirks kept on purpose: score bounds are parsed with strtod as Redis does
 * (so "" means 0 and leading spaces are accepted), a negative LIMIT offset returns nothing
 * and a negative LIMIT count means no limit. The pop core (kv_zset_pop_reply) also serves
 * ZMPOP and the blocking pops (blocked.c).
 */
#include "t_zset.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* --- Helpers --- */

static void delete_if_empty(kv_client_t *c, kv_obj_t *o) {
    if (kv_zset_len(o) != 0) return;
    size_t klen;
    const char *key = kv_obj_key(o, &klen);
    kv_db_delete(c->db, key, klen);
}

/*
 * After a command removed n members of the sorted set o under key: n changes, the
 * modified-key signal, the command's event, and the set's deletion with "del" when it
 * emptied. Nothing when n is 0 (as Redis's zrem and zremrange).
 */
static void members_removed(kv_client_t *c, const kv_arg_t *key, kv_obj_t *o, const char *event,
                            long long n) {
    if (n == 0) return;
    bool emptied = kv_zset_len(o) == 0;
    kv_srv.dirty += n;
    kv_notify_key_changed(c, key, KV_NOTIFY_ZSET, event);
    if (emptied) kv_notify_deleted_empty(c, key);
}

/*
 * strtod over the argument as Redis's zslParseRange does on its NUL-terminated sds: the
 * whole string must be consumed up to its end or an embedded NUL, and NaN is refused.
 */
static bool parse_bound(const kv_arg_t *a, double *v, bool *ex) {
    char small[128], *buf = small;
    const char *s = a->ptr;
    size_t len = a->len;
    *ex = len > 0 && s[0] == '(';
    if (*ex) {
        s++;
        len--;
    }
    if (len >= sizeof(small) && (buf = malloc(len + 1)) == NULL) return false;
    memcpy(buf, s, len);
    buf[len] = '\0';
    char *end;
    *v = strtod(buf, &end);
    bool ok = *end == '\0' && !isnan(*v);
    if (buf != small) free(buf);
    return ok;
}

static bool parse_score_range(const kv_arg_t *min, const kv_arg_t *max, kv_zsl_range_t *r) {
    return parse_bound(min, &r->min, &r->minex) && parse_bound(max, &r->max, &r->maxex);
}

/* zslParseLexRangeItem: "-", "+", "(value" or "[value". */
static bool parse_lex_item(const kv_arg_t *a, const void **p, size_t *len, int *inf, bool *ex) {
    const char *s = a->ptr;
    char c0 = a->len > 0 ? s[0] : '\0';
    char c1 = a->len > 1 ? s[1] : '\0'; /* the sds terminator after one byte */
    *inf = 0;
    *p = NULL;
    *len = 0;
    switch (c0) {
    case '+':
    case '-':
        if (c1 != '\0') return false;
        *inf = c0 == '+' ? 1 : -1;
        *ex = true;
        return true;
    case '(':
    case '[':
        *ex = c0 == '(';
        *p = s + 1;
        *len = a->len - 1;
        return true;
    default: return false;
    }
}

static bool parse_lex_range(const kv_arg_t *min, const kv_arg_t *max, kv_zsl_lexrange_t *r) {
    return parse_lex_item(min, &r->min, &r->minlen, &r->min_inf, &r->minex) &&
           parse_lex_item(max, &r->max, &r->maxlen, &r->max_inf, &r->maxex);
}

enum {
    RANGE_AUTO = KV_ZRANGE_AUTO,
    RANGE_RANK = KV_ZRANGE_RANK,
    RANGE_SCORE = KV_ZRANGE_SCORE,
    RANGE_LEX = KV_ZRANGE_LEX
};

/*
 * Parses the range of a ZRANGE-family command by its type: ranks into *start and *end, scores
 * into *sr or lex items into *lr (the others may be NULL), replying Redis's error when it
 * is malformed. 0 or -EINVAL (replied).
 */
static int parse_range(kv_client_t *c, int rangetype, const kv_arg_t *min, const kv_arg_t *max,
                       long long *start, long long *end, kv_zsl_range_t *sr,
                       kv_zsl_lexrange_t *lr) {
    if (rangetype == RANGE_RANK) {
        if (kv_arg_ll_or_reply(c, min, start, NULL) != 0 ||
            kv_arg_ll_or_reply(c, max, end, NULL) != 0)
            return -EINVAL;
    } else if (rangetype == RANGE_SCORE) {
        if (!parse_score_range(min, max, sr)) {
            kv_reply_error(c, "ERR min or max is not a float");
            return -EINVAL;
        }
    } else if (!parse_lex_range(min, max, lr)) {
        kv_reply_error(c, "ERR min or max not valid string range item");
        return -EINVAL;
    }
    return 0;
}

static void reply_elem(kv_client_t *c, const kv_zset_elem_t *e, bool withscores) {
    kv_reply_scored(c, e->member, e->len, e->score, withscores);
}

/* --- ZADD ZINCRBY --- */

static void zadd_generic(kv_client_t *c, unsigned flags) {
    bool ch = false;
    int scoreidx = 2;
    for (; scoreidx < c->argc; scoreidx++) {
        const kv_arg_t *opt = &c->argv[scoreidx];
        if (kv_arg_is(opt, "nx"))
            flags |= KV_ZADD_NX;
        else if (kv_arg_is(opt, "xx"))
            flags |= KV_ZADD_XX;
        else if (kv_arg_is(opt, "ch"))
            ch = true;
        else if (kv_arg_is(opt, "incr"))
            flags |= KV_ZADD_INCR;
        else if (kv_arg_is(opt, "gt"))
            flags |= KV_ZADD_GT;
        else if (kv_arg_is(opt, "lt"))
            flags |= KV_ZADD_LT;
        else
            break;
    }
    bool incr = flags & KV_ZADD_INCR, nx = flags & KV_ZADD_NX, xx = flags & KV_ZADD_XX;
    bool gt = flags & KV_ZADD_GT, lt = flags & KV_ZADD_LT;
    int elements = c->argc - scoreidx;
    if (elements % 2 != 0 || elements == 0) {
        kv_reply_syntax_err(c);
        return;
    }
    elements /= 2;
    if (nx && xx) {
        kv_reply_error(c, "ERR XX and NX options at the same time are not compatible");
        return;
    }
    if ((gt && nx) || (lt && nx) || (gt && lt)) {
        kv_reply_error(c, "ERR GT, LT, and/or NX options at the same time are not compatible");
        return;
    }
    if (incr && elements > 1) {
        kv_reply_error(c, "ERR INCR option supports a single increment-element pair");
        return;
    }
    /* Every score is parsed before anything changes: the command runs fully or not at all. */
    double small[16], *scores = small;
    if ((size_t)elements > sizeof(small) / sizeof(small[0]) &&
        (scores = malloc(sizeof(double) * (size_t)elements)) == NULL) {
        kv_reply_oom(c);
        return;
    }
    long long added = 0, updated = 0, processed = 0;
    double score = 0;
    for (int j = 0; j < elements; j++) {
        const kv_arg_t *a = &c->argv[scoreidx + j * 2];
        if (!kv_str2d(a->ptr, a->len, &scores[j])) {
            kv_reply_error(c, "ERR value is not a valid float");
            goto out;
        }
    }
    bool wrong;
    kv_obj_t *o = kv_lookup_type_or_reply(c, &c->argv[1], KV_TYPE_ZSET, true, &wrong);
    if (wrong) goto out;
    if (o == NULL) {
        if (xx) goto reply;
        const kv_arg_t *first = &c->argv[scoreidx + 1];
        bool skiplist = kv_srv.cfg.zset_max_listpack_entries == 0 ||
                        (long long)first->len > kv_srv.cfg.zset_max_listpack_value;
        o = kv_zset_new(c->argv[1].ptr, c->argv[1].len, skiplist, -1);
        if (o == NULL || kv_db_add(c->db, o) != 0) {
            kv_reply_oom(c);
            goto out;
        }
    }
    for (int j = 0; j < elements; j++) {
        const kv_arg_t *m = &c->argv[scoreidx + 1 + j * 2];
        unsigned res;
        double newscore = 0;
        int rc = kv_zset_add(o, scores[j], m->ptr, m->len, flags, &res, &newscore);
        if (rc == -EDOM) {
            kv_reply_error(c, "ERR resulting score is not a number (NaN)");
            delete_if_empty(c, o);
            goto changed; /* as Redis: what was added before is signalled, not counted */
        }
        if (rc != 0) {
            delete_if_empty(c, o);
            kv_reply_oom(c);
            goto out;
        }
        if (res & KV_ZADD_OUT_ADDED) added++;
        if (res & KV_ZADD_OUT_UPDATED) updated++;
        if (!(res & KV_ZADD_OUT_NOP)) processed++;
        score = newscore;
    }
    kv_srv.dirty += added + updated;
reply:
    if (incr) {
        if (processed)
            kv_reply_double(c, score);
        else
            kv_reply_null(c);
    } else {
        kv_reply_int(c, ch ? added + updated : added);
    }
changed:
    if (added || updated)
        kv_notify_key_changed(c, &c->argv[1], KV_NOTIFY_ZSET, incr ? "zincr" : "zadd");
out:
    if (scores != small) free(scores);
}

void kv_cmd_zadd(kv_client_t *c) {
    zadd_generic(c, 0);
}

void kv_cmd_zincrby(kv_client_t *c) {
    zadd_generic(c, KV_ZADD_INCR);
}

/* --- ZREM ZCARD ZSCORE ZMSCORE ZRANK ZREVRANK --- */

void kv_cmd_zrem(kv_client_t *c) {
    bool wrong;
    kv_obj_t *o = kv_lookup_type_or_reply(c, &c->argv[1], KV_TYPE_ZSET, true, &wrong);
    if (wrong) return;
    if (o == NULL) {
        kv_reply_int(c, 0);
        return;
    }
    long long deleted = 0;
    for (int j = 2; j < c->argc; j++) {
        if (kv_zset_del(o, c->argv[j].ptr, c->argv[j].len)) deleted++;
        if (kv_zset_len(o) == 0) break;
    }
    members_removed(c, &c->argv[1], o, "zrem", deleted);
    kv_reply_int(c, deleted);
}

void kv_cmd_zcard(kv_client_t *c) {
    bool wrong;
    kv_obj_t *o = kv_lookup_type_or_reply(c, &c->argv[1], KV_TYPE_ZSET, false, &wrong);
    if (wrong) return;
    kv_reply_int(c, o ? (long long)kv_zset_len(o) : 0);
}

void kv_cmd_zscore(kv_client_t *c) {
    bool wrong;
    kv_obj_t *o = kv_lookup_type_or_reply(c, &c->argv[1], KV_TYPE_ZSET, false, &wrong);
    if (wrong) return;
    double score;
    if (o == NULL || !kv_zset_score(o, c->argv[2].ptr, c->argv[2].len, &score))
        kv_reply_null(c);
    else
        kv_reply_double(c, score);
}

void kv_cmd_zmscore(kv_client_t *c) {
    bool wrong;
    kv_obj_t *o = kv_lookup_type_or_reply(c, &c->argv[1], KV_TYPE_ZSET, false, &wrong);
    if (wrong) return;
    kv_reply_array_len(c, c->argc - 2);
    for (int j = 2; j < c->argc; j++) {
        double score;
        if (o == NULL || !kv_zset_score(o, c->argv[j].ptr, c->argv[j].len, &score))
            kv_reply_null(c);
        else
            kv_reply_double(c, score);
    }
}

/* ZRANK/ZREVRANK key member [WITHSCORE] (WITHSCORE: Redis 7.2, [rank, score], or a
 * null array when the member is missing). */
static void zrank_generic(kv_client_t *c, bool reverse) {
    bool withscore = false;
    if (c->argc > 4) {
        kv_reply_arity_err(c);
        return;
    }
    if (c->argc == 4) {
        if (!kv_arg_is(&c->argv[3], "withscore")) {
            kv_reply_syntax_err(c);
            return;
        }
        withscore = true;
    }
    bool wrong;
    kv_obj_t *o = kv_lookup_type_or_reply(c, &c->argv[1], KV_TYPE_ZSET, false, &wrong);
    if (wrong) return;
    long long rank = o ? kv_zset_rank(o, c->argv[2].ptr, c->argv[2].len, reverse) : -1;
    double score = 0;
    if (rank < 0) {
        if (withscore)
            kv_reply_null_array(c);
        else
            kv_reply_null(c);
        return;
    }
    if (!withscore) {
        kv_reply_int(c, rank);
        return;
    }
    kv_zset_score(o, c->argv[2].ptr, c->argv[2].len, &score);
    kv_reply_array_len(c, 2);
    kv_reply_int(c, rank);
    kv_reply_double(c, score);
}

void kv_cmd_zrank(kv_client_t *c) {
    zrank_generic(c, false);
}

void kv_cmd_zrevrank(kv_client_t *c) {
    zrank_generic(c, true);
}

/* --- ZRANGE and its older forms --- */

enum { DIR_AUTO = KV_ZDIR_AUTO, DIR_FORWARD = KV_ZDIR_FORWARD, DIR_REVERSE = KV_ZDIR_REVERSE };

static void range_by_rank(kv_client_t *c, kv_obj_t *o, long long start, long long end,
                          bool withscores, bool reverse) {
    if (!kv_rank_range_clamp((long long)kv_zset_len(o), &start, &end)) {
        kv_reply_array_len(c, 0);
        return;
    }
    long long n = end - start + 1;
    kv_reply_scored_len(c, (long)n, withscores);
    kv_zset_iter_t it;
    kv_zset_elem_t e;
    kv_zset_iter_rank(&it, o, (size_t)start, reverse);
    while (n-- > 0 && kv_zset_iter_next(&it, &e))
        reply_elem(c, &e, withscores);
}

/* The LIMIT walk shared by BYSCORE and BYLEX (genericZrangebyscoreCommand's loops). */
static void range_emit(kv_client_t *c, kv_obj_t *o, kv_zset_iter_t *it, const kv_zsl_range_t *sr,
                       const kv_zsl_lexrange_t *lr, long long offset, long long limit,
                       bool withscores, bool reverse) {
    if (offset > 0 && offset >= (long long)kv_zset_len(o)) {
        kv_reply_array_len(c, 0);
        return;
    }
    if (offset < 0) {
        kv_reply_array_len(c, 0); /* Redis's skip loop walks off the end: nothing found */
        return;
    }
    void *lenp = kv_reply_deferred(c);
    kv_zset_elem_t e;
    long long n = 0;
    while (offset-- > 0 && kv_zset_iter_next(it, &e)) {
    }
    while (limit != 0 && kv_zset_iter_next(it, &e)) {
        bool in;
        if (sr != NULL)
            in = reverse ? kv_zset_score_gte_min(e.score, sr) : kv_zset_score_lte_max(e.score, sr);
        else
            in = reverse ? kv_zset_lex_gte_min(e.member, e.len, lr)
                         : kv_zset_lex_lte_max(e.member, e.len, lr);
        if (!in) break;
        reply_elem(c, &e, withscores);
        n++;
        if (limit > 0) limit--;
    }
    kv_reply_set_deferred_scored(c, lenp, (long)n, withscores);
}

int kv_zrange_parse(kv_client_t *c, int keyidx, bool store, int rangetype, int direction,
                    kv_zrange_args_t *za) {
    memset(za, 0, sizeof(*za));
    int minidx = keyidx + 1, maxidx = keyidx + 2;
    long long offset = 0, limit = -1;
    bool withscores = false;
    for (int j = keyidx + 3; j < c->argc; j++) {
        int leftargs = c->argc - j - 1;
        const kv_arg_t *a = &c->argv[j];
        if (!store && kv_arg_is(a, "withscores")) {
            withscores = true;
        } else if (kv_arg_is(a, "limit") && leftargs >= 2) {
            if (kv_arg_ll_or_reply(c, &c->argv[j + 1], &offset, NULL) != 0 ||
                kv_arg_ll_or_reply(c, &c->argv[j + 2], &limit, NULL) != 0)
                return -EINVAL;
            j += 2;
        } else if (direction == DIR_AUTO && kv_arg_is(a, "rev")) {
            direction = DIR_REVERSE;
        } else if (rangetype == RANGE_AUTO && kv_arg_is(a, "bylex")) {
            rangetype = RANGE_LEX;
        } else if (rangetype == RANGE_AUTO && kv_arg_is(a, "byscore")) {
            rangetype = RANGE_SCORE;
        } else {
            kv_reply_syntax_err(c);
            return -EINVAL;
        }
    }
    if (direction == DIR_AUTO) direction = DIR_FORWARD;
    if (rangetype == RANGE_AUTO) rangetype = RANGE_RANK;
    bool reverse = direction == DIR_REVERSE;
    if (limit != -1 && rangetype == RANGE_RANK) {
        kv_reply_error(c, "ERR syntax error, LIMIT is only supported in combination with either "
                          "BYSCORE or BYLEX");
        return -EINVAL;
    }
    if (withscores && rangetype == RANGE_LEX) {
        kv_reply_error(c, "ERR syntax error, WITHSCORES not supported in combination with BYLEX");
        return -EINVAL;
    }
    if (reverse && rangetype != RANGE_RANK) {
        minidx = keyidx + 2; /* the range is given as max, min */
        maxidx = keyidx + 1;
    }
    za->rangetype = rangetype;
    za->reverse = reverse;
    za->withscores = withscores;
    za->offset = offset;
    za->limit = limit;
    return parse_range(c, rangetype, &c->argv[minidx], &c->argv[maxidx], &za->start, &za->end,
                       &za->sr, &za->lr);
}

static void zrange_generic(kv_client_t *c, int rangetype, int direction) {
    kv_zrange_args_t za;
    if (kv_zrange_parse(c, 1, false, rangetype, direction, &za) != 0) return;
    rangetype = za.rangetype;
    bool reverse = za.reverse, withscores = za.withscores;
    long long start = za.start, end = za.end, offset = za.offset, limit = za.limit;
    kv_zsl_range_t sr = za.sr;
    kv_zsl_lexrange_t lr = za.lr;
    bool wrong;
    kv_obj_t *o = kv_lookup_type_or_reply(c, &c->argv[1], KV_TYPE_ZSET, false, &wrong);
    if (wrong) return;
    if (o == NULL) {
        kv_reply_array_len(c, 0);
        return;
    }
    kv_zset_iter_t it;
    if (rangetype == RANGE_RANK) {
        range_by_rank(c, o, start, end, withscores, reverse);
    } else if (rangetype == RANGE_SCORE) {
        kv_zset_iter_score(&it, o, &sr, reverse);
        range_emit(c, o, &it, &sr, NULL, offset, limit, withscores, reverse);
    } else {
        kv_zset_iter_lex(&it, o, &lr, reverse);
        range_emit(c, o, &it, NULL, &lr, offset, limit, false, reverse);
    }
}

void kv_cmd_zrange(kv_client_t *c) {
    zrange_generic(c, RANGE_AUTO, DIR_AUTO);
}

void kv_cmd_zrevrange(kv_client_t *c) {
    zrange_generic(c, RANGE_RANK, DIR_REVERSE);
}

void kv_cmd_zrangebyscore(kv_client_t *c) {
    zrange_generic(c, RANGE_SCORE, DIR_FORWARD);
}

void kv_cmd_zrevrangebyscore(kv_client_t *c) {
    zrange_generic(c, RANGE_SCORE, DIR_REVERSE);
}

void kv_cmd_zrangebylex(kv_client_t *c) {
    zrange_generic(c, RANGE_LEX, DIR_FORWARD);
}

void kv_cmd_zrevrangebylex(kv_client_t *c) {
    zrange_generic(c, RANGE_LEX, DIR_REVERSE);
}

/* --- ZCOUNT ZLEXCOUNT --- */

void kv_cmd_zcount(kv_client_t *c) {
    kv_zsl_range_t r;
    if (parse_range(c, RANGE_SCORE, &c->argv[2], &c->argv[3], NULL, NULL, &r, NULL) != 0) return;
    bool wrong;
    kv_obj_t *o = kv_lookup_type_or_reply(c, &c->argv[1], KV_TYPE_ZSET, false, &wrong);
    if (wrong) return;
    kv_reply_int(c, o ? (long long)kv_zset_count_score(o, &r) : 0);
}

void kv_cmd_zlexcount(kv_client_t *c) {
    kv_zsl_lexrange_t r;
    if (parse_range(c, RANGE_LEX, &c->argv[2], &c->argv[3], NULL, NULL, NULL, &r) != 0) return;
    bool wrong;
    kv_obj_t *o = kv_lookup_type_or_reply(c, &c->argv[1], KV_TYPE_ZSET, false, &wrong);
    if (wrong) return;
    kv_reply_int(c, o ? (long long)kv_zset_count_lex(o, &r) : 0);
}

/* --- ZPOPMIN ZPOPMAX --- */

/*
 * The reply shapes, as Redis 7.0: ZPOPMIN without COUNT one flat member/score pair, with
 * COUNT the members with scores (pairs nested in RESP3); BZPOPMIN key, member and score;
 * ZMPOP/BZMPOP key and an array of member/score pairs (nested in RESP2 too).
 */
void kv_zset_pop_reply(kv_client_t *c, const kv_arg_t *key, kv_obj_t *o, bool max, long long count,
                       int form) {
    long long llen = (long long)kv_zset_len(o);
    long long n = count > llen ? llen : count;
    if (form == KV_POP_KEY_VALUE || form == KV_POP_KEY_ARRAY) {
        kv_reply_array_len(c, form == KV_POP_KEY_VALUE ? 3 : 2);
        kv_reply_bulk(c, key->ptr, key->len);
    }
    if (form == KV_POP_VALUE)
        kv_reply_array_len(c, 2);
    else if (form == KV_POP_ARRAY)
        kv_reply_scored_len(c, (long)n, true);
    else if (form == KV_POP_KEY_ARRAY)
        kv_reply_array_len(c, (long)n);
    if (n > 0) {
        kv_srv.dirty += n;
        kv_notify_keyspace_event(KV_NOTIFY_ZSET, max ? "zpopmax" : "zpopmin", key->ptr, key->len,
                                 c->db->id);
    }
    while (n-- > 0) {
        kv_zset_iter_t it;
        kv_zset_elem_t e;
        kv_zset_iter_rank(&it, o, 0, max);
        if (!kv_zset_iter_next(&it, &e)) break;
        if (form == KV_POP_ARRAY) {
            reply_elem(c, &e, true);
        } else {
            if (form == KV_POP_KEY_ARRAY) kv_reply_array_len(c, 2);
            kv_reply_bulk(c, e.member, e.len);
            kv_reply_double(c, e.score);
        }
        size_t at = max ? kv_zset_len(o) - 1 : 0;
        kv_zset_del_range_by_rank(o, at, at);
    }
    if (kv_zset_len(o) == 0) kv_notify_deleted_empty(c, key);
    kv_signal_modified_key(c, c->db, key->ptr, key->len);
}

static void zpop_generic(kv_client_t *c, bool max) {
    if (c->argc > 3) {
        kv_reply_syntax_err(c);
        return;
    }
    long long count = -1; /* no COUNT: one element */
    if (c->argc == 3 && kv_arg_nonneg_or_reply(c, &c->argv[2], &count,
                                               "ERR value is out of range, must be positive") != 0)
        return;
    bool wrong;
    kv_obj_t *o = kv_lookup_type_or_reply(c, &c->argv[1], KV_TYPE_ZSET, true, &wrong);
    if (wrong) return;
    if (o == NULL || count == 0) {
        kv_reply_array_len(c, 0);
        return;
    }
    kv_zset_pop_reply(c, &c->argv[1], o, max, count == -1 ? 1 : count,
                      count == -1 ? KV_POP_VALUE : KV_POP_ARRAY);
}

void kv_cmd_zpopmin(kv_client_t *c) {
    zpop_generic(c, false);
}

void kv_cmd_zpopmax(kv_client_t *c) {
    zpop_generic(c, true);
}

/* --- ZREMRANGEBYRANK ZREMRANGEBYSCORE ZREMRANGEBYLEX --- */

static void zremrange_generic(kv_client_t *c, int rangetype) {
    long long start = 0, end = 0;
    kv_zsl_range_t sr;
    kv_zsl_lexrange_t lr;
    if (parse_range(c, rangetype, &c->argv[2], &c->argv[3], &start, &end, &sr, &lr) != 0) return;
    bool wrong;
    kv_obj_t *o = kv_lookup_type_or_reply(c, &c->argv[1], KV_TYPE_ZSET, true, &wrong);
    if (wrong) return;
    if (o == NULL) {
        kv_reply_int(c, 0);
        return;
    }
    size_t deleted;
    if (rangetype == RANGE_RANK) {
        if (!kv_rank_range_clamp((long long)kv_zset_len(o), &start, &end)) {
            kv_reply_int(c, 0);
            return;
        }
        deleted = kv_zset_del_range_by_rank(o, (size_t)start, (size_t)end);
    } else if (rangetype == RANGE_SCORE) {
        deleted = kv_zset_del_range_by_score(o, &sr);
    } else {
        deleted = kv_zset_del_range_by_lex(o, &lr);
    }
    static const char *const events[] = {
        [RANGE_RANK] = "zremrangebyrank",
        [RANGE_SCORE] = "zremrangebyscore",
        [RANGE_LEX] = "zremrangebylex",
    };
    members_removed(c, &c->argv[1], o, events[rangetype], (long long)deleted);
    kv_reply_int(c, (long long)deleted);
}

void kv_cmd_zremrangebyrank(kv_client_t *c) {
    zremrange_generic(c, RANGE_RANK);
}

void kv_cmd_zremrangebyscore(kv_client_t *c) {
    zremrange_generic(c, RANGE_SCORE);
}

void kv_cmd_zremrangebylex(kv_client_t *c) {
    zremrange_generic(c, RANGE_LEX);
}

/* --- ZSCAN --- */

void kv_cmd_zscan(kv_client_t *c) {
    unsigned long long cursor;
    kv_scan_opts_t opts;
    kv_obj_t *o = kv_scan_begin(c, KV_TYPE_ZSET, &cursor, &opts);
    if (o == NULL) return;
    long n = 0;
    if (o->encoding == KV_ENC_LISTPACK) {
        /* All at once, each pair as the listpack stores it (Redis replies the raw entries). */
        kv_reply_bulk_cstr(c, "0");
        void *lenp = kv_reply_deferred(c);
        uint8_t *lp = kv_obj_ptr(o);
        for (uint8_t *eptr = kv_lp_first(lp); eptr != NULL;) {
            uint8_t *sptr = kv_lp_next(lp, eptr);
            char mbuf[KV_LP_INTBUF], sbuf[KV_LP_INTBUF];
            size_t mlen, slen;
            const uint8_t *m = kv_lp_get_bytes(eptr, mbuf, &mlen);
            if (kv_scan_match(&opts, (const char *)m, mlen)) {
                const uint8_t *s = kv_lp_get_bytes(sptr, sbuf, &slen);
                kv_reply_bulk(c, m, mlen);
                if (!opts.no_values) kv_reply_bulk(c, s, slen);
                n += opts.no_values ? 1 : 2;
            }
            eptr = kv_lp_next(lp, sptr);
        }
        kv_reply_set_deferred(c, lenp, n);
        return;
    }
    const kv_zset_t *zs = kv_obj_ptr(o);
    void **ents;
    size_t nents;
    size_t next = kv_scan_ht_collect(zs->ht, cursor, opts.count, &ents, &nents);
    kv_reply_bulk_ll(c, (long long)next);
    void *lenp = kv_reply_deferred(c);
    for (size_t i = 0; i < nents; i++) {
        const kv_zsl_node_t *node = ents[i];
        size_t mlen;
        const uint8_t *m = kv_zsl_node_member(node, &mlen);
        if (!kv_scan_match(&opts, (const char *)m, mlen)) continue;
        char sbuf[32];
        kv_reply_bulk(c, m, mlen);
        if (!opts.no_values)
            kv_reply_bulk(c, sbuf, kv_d2str(sbuf, node->score)); /* a bulk in RESP3 too */
        n += opts.no_values ? 1 : 2;
    }
    free(ents);
    kv_reply_set_deferred(c, lenp, n);
}
