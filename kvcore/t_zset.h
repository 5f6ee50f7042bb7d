/* SPDX-License-Identifier: MIT */
/*
 * t_zset.h - the sorted-set type (internal to kvcore/; include it only from kvcore's files).
 *
 * A sorted set's value is one of two structures, told apart by the object's encoding:
 *   KV_ENC_LISTPACK  a listpack of member, score, member, score... sorted by (score,
 *                    member); a score that is an integer of at most 2^62 is stored as an
 *                    integer entry, any other as its "%.17g" text ("inf", "-inf"), exactly
 *                    as Redis 7.0's zzlInsertAt, so ZSCAN shows the same bytes
 *   KV_ENC_SKIPLIST  a kv_zset_t: a skiplist (zskiplist.h) for order and ranks, and a
 *                    kv_ht whose entries are the skiplist nodes themselves, keyed by member
 * A listpack turns into the skiplist form when an element is added that would make it
 * longer than zset-max-listpack-entries or whose member is longer than
 * zset-max-listpack-value (the configuration at that moment); as in Redis, a skiplist never
 * turns back. Members compare bytewise, shorter first on a common prefix.
 *
 * Every change stores a moved listpack back into the object (kv_obj_set_ptr); the object
 * itself never moves. Errors: 0 or -errno (-ENOMEM, -EDOM: the score would be NaN).
 */
#ifndef KV_T_ZSET_H
#define KV_T_ZSET_H

#include "kv_internal.h"
#include "listpack.h"
#include "zskiplist.h"

/* The skiplist encoding's value. The active defragmenter may move all three parts. */
typedef struct kv_zset {
    kv_ht_t *ht;   /* entries: kv_zsl_node_t *, key = the node's member */
    kv_zsl_t *zsl; /* the same nodes in (score, member) order */
} kv_zset_t;

/* ZADD's input flags and kv_zset_add's result flags (Redis's ZADD_IN_* / ZADD_OUT_*). */
enum {
    KV_ZADD_INCR = 1u << 0,
    KV_ZADD_NX = 1u << 1,
    KV_ZADD_XX = 1u << 2,
    KV_ZADD_GT = 1u << 3,
    KV_ZADD_LT = 1u << 4,
};
enum {
    KV_ZADD_OUT_NOP = 1u << 0,     /* nothing done (NX/XX/GT/LT said no) */
    KV_ZADD_OUT_ADDED = 1u << 1,   /* a new member */
    KV_ZADD_OUT_UPDATED = 1u << 2, /* an existing member's score changed */
};

/* One element read from either encoding; member points into the set or into buf. */
typedef struct kv_zset_elem {
    const uint8_t *member;
    size_t len;
    double score;
    char buf[KV_LP_INTBUF]; /* a listpack integer member's decimal form */
} kv_zset_elem_t;

/* Walks elements in order (or in reverse); lives on the caller's stack, fields private. */
typedef struct kv_zset_iter {
    const kv_obj_t *o;   /* private */
    bool reverse;        /* private */
    uint8_t *eptr;       /* private: listpack member position, NULL at the end */
    kv_zsl_node_t *node; /* private: skiplist node, NULL at the end */
} kv_zset_iter_t;

/*
 * A new empty sorted set under key: a listpack, or the skiplist form when skiplist is
 * true. NULL on out-of-memory.
 */
kv_obj_t *kv_zset_new(const char *key, size_t klen, bool skiplist, int64_t expire_ms);
/* Number of elements. */
size_t kv_zset_len(const kv_obj_t *o);

/*
 * Adds or updates member with score as ZADD does with the KV_ZADD_* flags `in` (INCR adds
 * score to the current one); *out gets KV_ZADD_OUT_* flags and *newscore, when not NULL,
 * the resulting score if the member was added or (INCR) processed. Converts a listpack that
 * would pass the limits first. 0, -EDOM (score, or the INCR result, is NaN; nothing
 * changed) or -ENOMEM.
 */
int kv_zset_add(kv_obj_t *o, double score, const void *member, size_t len, unsigned in,
                unsigned *out, double *newscore);
/* The member's score into *score; false if it is absent. */
bool kv_zset_score(const kv_obj_t *o, const void *member, size_t len, double *score);
/* Removes member; false if it was absent. */
bool kv_zset_del(kv_obj_t *o, const void *member, size_t len);
/* 0-based rank counted from the lowest (or, with reverse, the highest), or -1 if absent. */
long long kv_zset_rank(const kv_obj_t *o, const void *member, size_t len, bool reverse);
/* Converts a listpack to the skiplist form (no-op for a skiplist). 0 or -ENOMEM. */
int kv_zset_convert(kv_obj_t *o);

/* True if the score is inside r / the member inside the lexical range r. */
bool kv_zset_score_gte_min(double score, const kv_zsl_range_t *r);
bool kv_zset_score_lte_max(double score, const kv_zsl_range_t *r);
bool kv_zset_lex_gte_min(const void *m, size_t len, const kv_zsl_lexrange_t *r);
bool kv_zset_lex_lte_max(const void *m, size_t len, const kv_zsl_lexrange_t *r);

/* Number of elements inside a score / lexical range (O(log n) for a skiplist). */
size_t kv_zset_count_score(const kv_obj_t *o, const kv_zsl_range_t *r);
size_t kv_zset_count_lex(const kv_obj_t *o, const kv_zsl_lexrange_t *r);

/* Deletions by 0-based inclusive rank range, score range or lexical range; the count. */
size_t kv_zset_del_range_by_rank(kv_obj_t *o, size_t start, size_t end);
size_t kv_zset_del_range_by_score(kv_obj_t *o, const kv_zsl_range_t *r);
size_t kv_zset_del_range_by_lex(kv_obj_t *o, const kv_zsl_lexrange_t *r);

/* Positions at 0-based rank counted from the low end (from the high end with reverse). */
void kv_zset_iter_rank(kv_zset_iter_t *it, const kv_obj_t *o, size_t rank, bool reverse);
/* Positions at the first element inside r: the lowest, or with reverse the highest. */
void kv_zset_iter_score(kv_zset_iter_t *it, const kv_obj_t *o, const kv_zsl_range_t *r,
                        bool reverse);
void kv_zset_iter_lex(kv_zset_iter_t *it, const kv_obj_t *o, const kv_zsl_lexrange_t *r,
                      bool reverse);
/* The current element into *e and a step on; false at the end. Valid until a change. */
bool kv_zset_iter_next(kv_zset_iter_t *it, kv_zset_elem_t *e);

/*
 * Writes a score as Redis 7.0 stores it in a listpack (d2string): "inf", "-inf", an
 * integer's digits, else "%.17g". buf needs 32 bytes; returns the length.
 */
size_t kv_zset_score_str(double score, char *buf);

/* Bytes the value holds (allocation sizes), for MEMORY USAGE. */
size_t kv_zset_value_bytes(const void *ptr, int encoding);
/*
 * Checks the value: a listpack deeply, in (score, member) order with even length and
 * distinct members; a skiplist's order, spans and links, its table, and that both hold
 * the same nodes. 0 or -EPROTO.
 */
int kv_zset_check(const kv_obj_t *o);

/*
 * ZRANGE's arguments (cmd_zset.c parses them; ZRANGESTORE in cmd_zalg.c shares the parser).
 * kv_zrange_parse reads argv[keyidx + 1 ..] (min, max, then the options) as Redis 7.0's
 * zrangeGenericCommand: rangetype / direction are fixed by the older command forms or
 * KV_ZRANGE_AUTO / KV_ZDIR_AUTO; store refuses WITHSCORES. It replies Redis's error for a
 * malformed call: 0 or -EINVAL (replied). The key itself is not looked up.
 */
enum { KV_ZRANGE_AUTO, KV_ZRANGE_RANK, KV_ZRANGE_SCORE, KV_ZRANGE_LEX };
enum { KV_ZDIR_AUTO, KV_ZDIR_FORWARD, KV_ZDIR_REVERSE };
typedef struct kv_zrange_args {
    int rangetype;        /* KV_ZRANGE_RANK, _SCORE or _LEX */
    bool reverse;         /* REV (or a ZREV* command) */
    bool withscores;      /* WITHSCORES */
    long long offset;     /* LIMIT offset (0 without LIMIT) */
    long long limit;      /* LIMIT count (-1: none) */
    long long start, end; /* KV_ZRANGE_RANK: the ranks as given */
    kv_zsl_range_t sr;    /* KV_ZRANGE_SCORE */
    kv_zsl_lexrange_t lr; /* KV_ZRANGE_LEX: points into argv */
} kv_zrange_args_t;
int kv_zrange_parse(kv_client_t *c, int keyidx, bool store, int rangetype, int direction,
                    kv_zrange_args_t *za);

#endif /* KV_T_ZSET_H */
