/* SPDX-License-Identifier: MIT */
/*
 * test_kv_zset.c - the sorted-set type (kvcore/t_zset.h, cmd_zset.c): the listpack layout
 * (integer and text scores as Redis 7.0 stores them), conversion to skiplist + hashtable at
 * zset-max-listpack-entries and -value (at the limit, one past it, after CONFIG SET lowers
 * it), no conversion back, memory accounting, deletion of emptied sets, type checks, COPY,
 * and a random walk of the commands against a model with kv_zset_check after each change.
 */
#include "test_common.h"

#include <malloc.h>
#include <math.h>

#include "kv_internal.h"
#include "t_zset.h"
#include "kv_agg_test.h"

static void assert_zset(const char *key, int encoding, size_t len) {
    kv_obj_t *o = agg_obj(key);
    assert_non_null(o);
    assert_int_equal(kv_zset_check(o), 0);
    assert_int_equal(o->encoding, encoding);
    assert_int_equal(kv_zset_len(o), len);
}

static void test_zset_listpack_stores_scores_as_redis_does(void **state) {
    (void)state;
    AGG_EXPECT("ZADD z 1.5 a 3 b -inf c 12 42 -0 d", ":5\r\n");
    assert_zset("z", KV_ENC_LISTPACK, 5);
    AGG_EXPECT("OBJECT ENCODING z", "$8\r\nlistpack\r\n");
    AGG_EXPECT("TYPE z", "+zset\r\n");
    /* Order by score: c -inf, d 0, a 1.5, b 3, 42 12. */
    uint8_t *lp = kv_obj_ptr(agg_obj("z"));
    static const struct {
        const char *str; /* NULL: an integer entry */
        int64_t ival;
    } want[] = {{"c", 0},   {"-inf", 0}, {"d", 0},  {NULL, 0},  {"a", 0},
                {"1.5", 0}, {"b", 0},    {NULL, 3}, {NULL, 42}, {NULL, 12}};
    size_t i = 0;
    for (uint8_t *p = kv_lp_first(lp); p != NULL; p = kv_lp_next(lp, p), i++) {
        kv_lp_val_t v;
        kv_lp_get(p, &v);
        assert_true(i < 10);
        if (want[i].str == NULL) {
            assert_null(v.str);
            assert_int_equal(v.ival, want[i].ival);
        } else {
            assert_non_null(v.str);
            assert_int_equal(v.len, strlen(want[i].str));
            assert_memory_equal(v.str, want[i].str, v.len);
        }
    }
    assert_int_equal(i, 10);
    char buf[32];
    assert_int_equal(kv_zset_score_str(4611686018427387904.0, buf), 19); /* 2^62: integer */
    assert_string_equal(buf, "4611686018427387904");
    kv_zset_score_str(9223372036854775808.0, buf); /* 2^63: beyond double2ll's range */
    assert_string_equal(buf, "9.2233720368547758e+18");
    kv_zset_score_str(0.1, buf);
    assert_string_equal(buf, "0.10000000000000001");
}

static void test_zset_entries_limit_converts_one_past_it(void **state) {
    (void)state;
    static char line[4096];
    int n = snprintf(line, sizeof(line), "ZADD z");
    for (int i = 0; i < 128; i++)
        n += snprintf(line + n, sizeof(line) - (size_t)n, " %d m%d", i, i);
    AGG_EXPECT(line, ":128\r\n");
    assert_zset("z", KV_ENC_LISTPACK, 128); /* at the default limit */
    AGG_EXPECT("ZADD z 5 m5", ":0\r\n");    /* an update never converts */
    assert_zset("z", KV_ENC_LISTPACK, 128);
    AGG_EXPECT("ZADD z 1000 extra", ":1\r\n");
    assert_zset("z", KV_ENC_SKIPLIST, 129); /* one past it */
    AGG_EXPECT("OBJECT ENCODING z", "$8\r\nskiplist\r\n");
    AGG_EXPECT("ZRANK z extra", ":128\r\n");
    AGG_EXPECT("ZSCORE z m127", "$3\r\n127\r\n");
    /* A skiplist stays one however small it gets (as in Redis). */
    AGG_EXPECT("ZREMRANGEBYRANK z 0 -2", ":128\r\n");
    assert_zset("z", KV_ENC_SKIPLIST, 1);
}

static void test_zset_value_limit_converts_one_byte_past_it(void **state) {
    (void)state;
    char line[256];
    char m64[65], m65[66];
    memset(m64, 'x', 64);
    m64[64] = '\0';
    memset(m65, 'y', 65);
    m65[65] = '\0';
    snprintf(line, sizeof(line), "ZADD z 1 a 2 %s", m64);
    AGG_EXPECT(line, ":2\r\n");
    assert_zset("z", KV_ENC_LISTPACK, 2); /* 64 bytes: at the limit */
    snprintf(line, sizeof(line), "ZADD z 3 %s", m65);
    AGG_EXPECT(line, ":1\r\n");
    assert_zset("z", KV_ENC_SKIPLIST, 3); /* 65: one past */
    /* A new key whose first member is too long starts as a skiplist. */
    snprintf(line, sizeof(line), "ZADD y 1 %s", m65);
    AGG_EXPECT(line, ":1\r\n");
    assert_zset("y", KV_ENC_SKIPLIST, 1);
    /* zset-max-listpack-entries 0 means always a skiplist. */
    agg_config("zset-max-ziplist-entries", "0");
    AGG_EXPECT("ZADD x 1 a", ":1\r\n");
    assert_zset("x", KV_ENC_SKIPLIST, 1);
}

static void test_zset_lowered_limit_applies_at_the_next_new_member(void **state) {
    (void)state;
    AGG_EXPECT("ZADD z 1 a 2 b 3 c 4 d", ":4\r\n");
    agg_config("zset-max-listpack-entries", "2");
    assert_zset("z", KV_ENC_LISTPACK, 4);
    AGG_EXPECT("ZINCRBY z 10 a", "$2\r\n11\r\n"); /* an update: no conversion */
    assert_zset("z", KV_ENC_LISTPACK, 4);
    AGG_EXPECT("ZREM z d", ":1\r\n");
    assert_zset("z", KV_ENC_LISTPACK, 3);
    AGG_EXPECT("ZADD z 5 e", ":1\r\n");
    assert_zset("z", KV_ENC_SKIPLIST, 4);
    AGG_EXPECT("ZRANGE z 0 -1 WITHSCORES",
               "*8\r\n$1\r\nb\r\n$1\r\n2\r\n$1\r\nc\r\n$1\r\n3\r\n$1\r\ne\r\n$1\r\n5\r\n"
               "$1\r\na\r\n$2\r\n11\r\n");
    agg_config("zset-max-ziplist-value", "3");
    AGG_EXPECT("ZADD w 1 abc", ":1\r\n");
    assert_zset("w", KV_ENC_LISTPACK, 1);
    AGG_EXPECT("ZADD w 2 abcd", ":1\r\n");
    assert_zset("w", KV_ENC_SKIPLIST, 2);
}

static void test_zset_memory_usage_counts_every_allocation(void **state) {
    (void)state;
    AGG_EXPECT("ZADD z 1 a 2 b 3 c", ":3\r\n");
    kv_obj_t *o = agg_obj("z");
    size_t lp_total = usable(o) + usable(kv_obj_ptr(o));
    assert_int_equal(kv_obj_mem_bytes(o), lp_total);
    char want[64];
    snprintf(want, sizeof(want), ":%zu\r\n", lp_total);
    AGG_EXPECT("MEMORY USAGE z", want);

    agg_config("zset-max-listpack-entries", "2");
    AGG_EXPECT("ZADD z 4 d", ":1\r\n");
    o = agg_obj("z");
    const kv_zset_t *zs = kv_obj_ptr(o);
    size_t sum = usable(o) + usable(zs) + kv_ht_mem_bytes(zs->ht) + usable(zs->zsl) +
                 usable(zs->zsl->header);
    size_t nodes = 0;
    for (kv_zsl_node_t *n = kv_zsl_first(zs->zsl); n != NULL; n = kv_zsl_node_next(n), nodes++)
        sum += usable(n);
    assert_int_equal(nodes, 4);
    assert_int_equal(kv_obj_mem_bytes(o), sum);
    assert_true(sum > lp_total);
    AGG_EXPECT("ZREM z a b c", ":3\r\n");
    assert_true(kv_obj_mem_bytes(agg_obj("z")) < sum);
}

static void test_zset_emptied_set_is_deleted(void **state) {
    (void)state;
    for (int enc = 0; enc < 2; enc++) {
        agg_config("zset-max-listpack-entries", enc ? "0" : "128");
        AGG_EXPECT("ZADD z 1 a 2 b", ":2\r\n");
        AGG_EXPECT("ZREM z a b c", ":2\r\n");
        assert_null(agg_obj("z"));
        AGG_EXPECT("ZADD z 1 a 2 b", ":2\r\n");
        AGG_EXPECT("ZPOPMAX z 5", "*4\r\n$1\r\nb\r\n$1\r\n2\r\n$1\r\na\r\n$1\r\n1\r\n");
        assert_null(agg_obj("z"));
        AGG_EXPECT("ZADD z 1 a 2 b", ":2\r\n");
        AGG_EXPECT("ZREMRANGEBYSCORE z -inf +inf", ":2\r\n");
        assert_null(agg_obj("z"));
        AGG_EXPECT("ZADD z 0 a 0 b", ":2\r\n");
        AGG_EXPECT("ZREMRANGEBYLEX z - +", ":2\r\n");
        assert_null(agg_obj("z"));
        AGG_EXPECT("ZADD z 0 a", ":1\r\n");
        AGG_EXPECT("ZREMRANGEBYRANK z 0 -1", ":1\r\n");
        AGG_EXPECT("EXISTS z", ":0\r\n");
    }
}

static void test_zset_commands_reject_other_types(void **state) {
    (void)state;
    static const char *const cmds[] = {
        "ZADD s 1 a",
        "ZINCRBY s 1 a",
        "ZREM s a",
        "ZCARD s",
        "ZSCORE s a",
        "ZMSCORE s a",
        "ZRANK s a",
        "ZREVRANK s a",
        "ZRANGE s 0 -1",
        "ZREVRANGE s 0 -1",
        "ZRANGEBYSCORE s 0 1",
        "ZREVRANGEBYSCORE s 1 0",
        "ZRANGEBYLEX s - +",
        "ZREVRANGEBYLEX s + -",
        "ZCOUNT s 0 1",
        "ZLEXCOUNT s - +",
        "ZPOPMIN s",
        "ZPOPMAX s 2",
        "ZREMRANGEBYRANK s 0 1",
        "ZREMRANGEBYSCORE s 0 1",
        "ZREMRANGEBYLEX s - +",
        "ZSCAN s 0",
    };
    AGG_EXPECT("SET s v", "+OK\r\n");
    for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
        AGG_EXPECT(cmds[i],
                   "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n");
    AGG_EXPECT("RPUSH l a", ":1\r\n");
    AGG_EXPECT("ZADD l 1 a",
               "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n");
}

static void test_zset_copy_duplicates_both_encodings(void **state) {
    (void)state;
    AGG_EXPECT("ZADD z 1 a 2.5 b", ":2\r\n");
    AGG_EXPECT("COPY z z2", ":1\r\n");
    assert_zset("z2", KV_ENC_LISTPACK, 2);
    agg_config("zset-max-listpack-entries", "0");
    AGG_EXPECT("ZADD s 1 a 2.5 b 3 c", ":3\r\n");
    AGG_EXPECT("COPY s s2", ":1\r\n");
    assert_zset("s2", KV_ENC_SKIPLIST, 3);
    AGG_EXPECT("ZREM s b", ":1\r\n");
    AGG_EXPECT("ZRANGE s2 0 -1 WITHSCORES",
               "*6\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$3\r\n2.5\r\n$1\r\nc\r\n$1\r\n3\r\n");
}

/* Always moves: a copy of the block's usable bytes, the old block freed. */
static size_t moves;

static void *move_always(void *ptr) {
    size_t n = malloc_usable_size(ptr);
    void *p = malloc(n);
    assert_non_null(p);
    memcpy(p, ptr, n);
    free(ptr);
    moves++;
    return p;
}

static const kv_defrag_mover_t always = {.move = move_always};

static void test_zset_defrag_moves_every_allocation_in_slices(void **state) {
    (void)state;
    agg_config("zset-max-listpack-entries", "0");
    static char line[8192];
    int n = snprintf(line, sizeof(line), "ZADD z");
    for (int i = 0; i < 500; i++)
        n += snprintf(line + n, sizeof(line) - (size_t)n, " %d.5 member:%d", i % 50, i);
    AGG_EXPECT(line, ":500\r\n");
    kv_obj_t *o = agg_obj("z");
    assert_int_equal(kv_defrag_value_len(o), 500);
    const void *before = kv_obj_ptr(o);
    uint64_t cursor = 0;
    int slices = 0;
    moves = 0;
    while (!kv_defrag_value(o, &cursor, 64, &always)) {
        assert_true(cursor != 0 && cursor < (1ULL << 56));
        assert_int_equal(kv_zset_check(o), 0);
        slices++;
    }
    assert_int_equal(cursor, 0);
    assert_true(slices >= 5);      /* 500 nodes in slices of about 64 */
    assert_true(moves >= 500 + 4); /* every node, the structs, header and tables */
    assert_ptr_not_equal(kv_obj_ptr(o), before);
    assert_int_equal(kv_zset_check(o), 0);
    AGG_EXPECT("ZSCORE z member:499", "$4\r\n49.5\r\n");
    AGG_EXPECT("ZRANK z member:0", ":0\r\n");
    AGG_EXPECT("ZCARD z", ":500\r\n");
    /* A listpack is one block. */
    agg_config("zset-max-listpack-entries", "128");
    AGG_EXPECT("ZADD l 1 a 2 b", ":2\r\n");
    o = agg_obj("l");
    assert_int_equal(kv_defrag_value_len(o), 1);
    moves = 0;
    assert_true(kv_defrag_value(o, &cursor, 64, &always));
    assert_int_equal(moves, 1);
    assert_int_equal(kv_zset_check(o), 0);
    AGG_EXPECT("ZRANGE l 0 -1", "*2\r\n$1\r\na\r\n$1\r\nb\r\n");
}

/* --- Random walk against a model --- */

#define NMEMBERS 300

typedef struct model_elem {
    char member[16];
    double score;
    bool present;
} model_elem_t;

static model_elem_t model[NMEMBERS];

static int by_score_member(const void *a, const void *b) {
    const model_elem_t *x = *(model_elem_t *const *)a, *y = *(model_elem_t *const *)b;
    if (x->score != y->score) return x->score < y->score ? -1 : 1;
    size_t lx = strlen(x->member), ly = strlen(y->member);
    int c = memcmp(x->member, y->member, lx < ly ? lx : ly);
    return c != 0 ? c : (lx > ly) - (lx < ly);
}

/* The model's elements in order; returns how many. */
static size_t model_sorted(model_elem_t **out) {
    size_t n = 0;
    for (int i = 0; i < NMEMBERS; i++)
        if (model[i].present) out[n++] = &model[i];
    qsort(out, n, sizeof(out[0]), by_score_member);
    return n;
}

static void model_check(void) {
    static model_elem_t *sorted[NMEMBERS];
    size_t n = model_sorted(sorted);
    kv_obj_t *o = agg_obj("w");
    if (n == 0) {
        assert_null(o);
        return;
    }
    assert_non_null(o);
    assert_int_equal(kv_zset_check(o), 0);
    assert_int_equal(kv_zset_len(o), n);
    kv_zset_iter_t it;
    kv_zset_elem_t e;
    size_t i = 0;
    kv_zset_iter_rank(&it, o, 0, false);
    while (kv_zset_iter_next(&it, &e)) {
        assert_true(i < n);
        assert_int_equal(e.len, strlen(sorted[i]->member));
        assert_memory_equal(e.member, sorted[i]->member, e.len);
        assert_true(e.score == sorted[i]->score);
        i++;
    }
    assert_int_equal(i, n);
}

static void random_walk(const char *entries, unsigned seed) {
    char line[256];
    agg_config("zset-max-listpack-entries", entries);
    agg_run("DEL w");
    memset(model, 0, sizeof(model));
    for (int i = 0; i < NMEMBERS; i++)
        snprintf(model[i].member, sizeof(model[i].member), (i % 3) ? "m%d" : "%d", i);
    srand(seed);
    int max_len = 0, skiplist_seen = 0;
    for (int step = 0; step < 3000; step++) {
        int m = rand() % NMEMBERS;
        double score = (double)(rand() % 40) / 2 - 5; /* halves and ties */
        int op = rand() % 8;
        if (step >= 1500 && op < 3 && rand() % 3 != 0) op = 3; /* second half: shrink */
        if (op <= 1) {
            snprintf(line, sizeof(line), "ZADD w %g %s", score, model[m].member);
            agg_run(line);
            model[m].score = score;
            model[m].present = true;
        } else if (op == 2) {
            snprintf(line, sizeof(line), "ZINCRBY w %g %s", score, model[m].member);
            agg_run(line);
            model[m].score = model[m].present ? model[m].score + score : score;
            model[m].present = true;
        } else if (op == 3) {
            snprintf(line, sizeof(line), "ZREM w %s", model[m].member);
            AGG_EXPECT(line, model[m].present ? ":1\r\n" : ":0\r\n");
            model[m].present = false;
        } else if (op == 4) {
            /* ZADD GT/LT/NX/XX against the model's rules. */
            static const char *const flags[] = {"GT", "LT", "NX", "XX"};
            int f = rand() % 4;
            snprintf(line, sizeof(line), "ZADD w %s CH %g %s", flags[f], score, model[m].member);
            bool p = model[m].present;
            double cur = model[m].score;
            bool change = (f == 0 && (!p || score > cur)) || (f == 1 && (!p || score < cur)) ||
                          (f == 2 && !p) || (f == 3 && p);
            bool counted = change && (!p || score != cur);
            AGG_EXPECT(line, counted ? ":1\r\n" : ":0\r\n");
            if (change) {
                model[m].score = score;
                model[m].present = true;
            }
        } else if (op == 5) {
            AGG_EXPECT("ZSCORE w nothere", "$-1\r\n");
            static model_elem_t *sorted[NMEMBERS];
            size_t n = model_sorted(sorted);
            snprintf(line, sizeof(line), "ZRANK w %s", model[m].member);
            const char *r = agg_run(line);
            if (!model[m].present) {
                assert_string_equal(r, "$-1\r\n");
            } else {
                size_t rank = 0;
                while (sorted[rank] != &model[m])
                    rank++;
                char want[32];
                snprintf(want, sizeof(want), ":%zu\r\n", rank);
                assert_string_equal(r, want);
                assert_int_equal(
                    kv_zset_rank(agg_obj("w"), model[m].member, strlen(model[m].member), true),
                    (long long)(n - 1 - rank));
            }
            double lo = score, hi = score + 3;
            size_t count = 0;
            for (size_t i = 0; i < n; i++)
                if (sorted[i]->score > lo && sorted[i]->score <= hi) count++;
            snprintf(line, sizeof(line), "ZCOUNT w (%g %g", lo, hi);
            char want[32];
            snprintf(want, sizeof(want), ":%zu\r\n", count);
            AGG_EXPECT(line, want);
        } else if (op == 6) {
            snprintf(line, sizeof(line), "ZREMRANGEBYSCORE w %g (%g", score, score + 0.5);
            agg_run(line);
            for (int i = 0; i < NMEMBERS; i++)
                if (model[i].present && model[i].score >= score && model[i].score < score + 0.5)
                    model[i].present = false;
        } else {
            bool max = rand() & 1;
            static model_elem_t *sorted[NMEMBERS];
            size_t n = model_sorted(sorted);
            agg_run(max ? "ZPOPMAX w" : "ZPOPMIN w");
            if (n > 0) sorted[max ? n - 1 : 0]->present = false;
        }
        model_check();
        kv_obj_t *o = agg_obj("w");
        if (o != NULL && o->encoding == KV_ENC_SKIPLIST) skiplist_seen++;
        if (o != NULL && (int)kv_zset_len(o) > max_len) max_len = (int)kv_zset_len(o);
    }
    assert_true(max_len > 20);
    if (strcmp(entries, "16") == 0) assert_true(skiplist_seen > 0);
}

static void test_zset_random_walk_matches_a_model(void **state) {
    (void)state;
    random_walk("128", 1);
    random_walk("16", 2);
    random_walk("0", 3);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_zset_listpack_stores_scores_as_redis_does, agg_reset),
        cmocka_unit_test_setup(test_zset_entries_limit_converts_one_past_it, agg_reset),
        cmocka_unit_test_setup(test_zset_value_limit_converts_one_byte_past_it, agg_reset),
        cmocka_unit_test_setup(test_zset_lowered_limit_applies_at_the_next_new_member, agg_reset),
        cmocka_unit_test_setup(test_zset_memory_usage_counts_every_allocation, agg_reset),
        cmocka_unit_test_setup(test_zset_emptied_set_is_deleted, agg_reset),
        cmocka_unit_test_setup(test_zset_commands_reject_other_types, agg_reset),
        cmocka_unit_test_setup(test_zset_copy_duplicates_both_encodings, agg_reset),
        cmocka_unit_test_setup(test_zset_defrag_moves_every_allocation_in_slices, agg_reset),
        cmocka_unit_test_setup(test_zset_random_walk_matches_a_model, agg_reset),
    };
    return cmocka_run_group_tests_name("kv_zset", tests, agg_setup, agg_teardown);
}
