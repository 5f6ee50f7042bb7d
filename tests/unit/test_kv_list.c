/* SPDX-License-Identifier: MIT */
/*
 * test_kv_list.c - the list type (kvcore/t_list.h, cmd_list.c): listpack at and below
 * list-max-listpack-size, quicklist one past it (by count and by bytes), back to listpack
 * at half the limit, a lowered limit applied by CONFIG SET, memory accounting, deletion of
 * emptied lists, list-compress-depth (DEBUG OBJECT's quicklist fields and serialized
 * length as Redis 7.0 prints them, MEMORY USAGE, digests, the depth kept by each list), and
 * a random walk of every command against a model with kv_list_check after each change,
 * plain and compressed.
 */
#include "test_common.h"

#include "kv_internal.h"
#include "t_list.h"
#include "kv_agg_test.h"

static void assert_list(const char *key, int encoding, size_t len) {
    kv_obj_t *o = agg_obj(key);
    assert_non_null(o);
    assert_int_equal(kv_list_check(o), 0);
    assert_int_equal(o->encoding, encoding);
    assert_int_equal(kv_list_len(o), len);
}

static void test_list_small_list_is_a_listpack(void **state) {
    (void)state;
    AGG_EXPECT("RPUSH l a b 3", ":3\r\n");
    assert_list("l", KV_ENC_LISTPACK, 3);
    AGG_EXPECT("OBJECT ENCODING l", "$8\r\nlistpack\r\n");
    AGG_EXPECT("TYPE l", "+list\r\n");
    AGG_EXPECT("LRANGE l 0 -1", "*3\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\n3\r\n");
}

static void test_list_count_limit_converts_one_past_it(void **state) {
    (void)state;
    agg_config("list-max-listpack-size", "4");
    AGG_EXPECT("RPUSH l 1 2 3 4", ":4\r\n");
    assert_list("l", KV_ENC_LISTPACK, 4); /* at the limit */
    AGG_EXPECT("RPUSH l 5", ":5\r\n");
    assert_list("l", KV_ENC_QUICKLIST, 5); /* one past it */
    AGG_EXPECT("OBJECT ENCODING l", "$9\r\nquicklist\r\n");
    AGG_EXPECT("LRANGE l 0 -1", "*5\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n$1\r\n4\r\n$1\r\n5\r\n");
    /* A push of several values is judged as a whole, before any goes in. */
    AGG_EXPECT("RPUSH m 1 2 3 4 5", ":5\r\n");
    assert_list("m", KV_ENC_QUICKLIST, 5);
}

static void test_list_byte_limit_converts_one_byte_past_it(void **state) {
    (void)state;
    /* -2: 8192 bytes. An empty listpack is 7 bytes; Redis adds only the values' bytes. */
    static char line[9000];
    snprintf(line, sizeof(line), "RPUSH l %08185d", 0);
    assert_int_equal(strlen(line), 8 + 8185);
    line[8] = 'x'; /* a string, not an integer */
    AGG_EXPECT(line, ":1\r\n");
    assert_list("l", KV_ENC_LISTPACK, 1); /* 7 + 8185 = 8192: at the limit */
    snprintf(line, sizeof(line), "RPUSH m %08186d", 0);
    line[8] = 'x';
    AGG_EXPECT(line, ":1\r\n");
    assert_list("m", KV_ENC_QUICKLIST, 1); /* 8193: one past */
    AGG_EXPECT("RPUSH l y", ":2\r\n");
    assert_list("l", KV_ENC_QUICKLIST, 2);
}

static void test_list_shrinks_back_at_half_the_limit(void **state) {
    (void)state;
    agg_config("list-max-ziplist-size", "4"); /* the old name works too */
    AGG_EXPECT("RPUSH l a b c d e", ":5\r\n");
    assert_list("l", KV_ENC_QUICKLIST, 5);
    AGG_EXPECT("RPOP l", "$1\r\ne\r\n");
    assert_list("l", KV_ENC_QUICKLIST, 4); /* one node of 4 > 4/2 */
    AGG_EXPECT("RPOP l", "$1\r\nd\r\n");
    assert_list("l", KV_ENC_QUICKLIST, 3);
    AGG_EXPECT("LREM l 1 c", ":1\r\n");
    assert_list("l", KV_ENC_LISTPACK, 2); /* 2 <= 4/2 */
    AGG_EXPECT("LRANGE l 0 -1", "*2\r\n$1\r\na\r\n$1\r\nb\r\n");
    /* The byte limit halves too: 8192 / 2 = 4096 bytes. */
    agg_config("list-max-listpack-size", "-2");
    static char line[13000];
    memcpy(line, "RPUSH big", 9);
    for (int i = 0; i < 3; i++) {
        line[9 + i * 4001] = ' ';
        memset(line + 10 + i * 4001, 'x', 4000);
    }
    line[9 + 3 * 4001] = '\0';
    AGG_EXPECT(line, ":3\r\n");
    assert_list("big", KV_ENC_QUICKLIST, 3);
    AGG_EXPECT("LTRIM big 0 0", "+OK\r\n");
    assert_list("big", KV_ENC_LISTPACK, 1); /* about 4011 bytes <= 4096 */
}

static void test_list_lowered_limit_applies_at_the_next_push(void **state) {
    (void)state;
    AGG_EXPECT("RPUSH l 1 2 3 4 5 6 7 8 9 10", ":10\r\n");
    assert_list("l", KV_ENC_LISTPACK, 10);
    agg_config("list-max-listpack-size", "3");
    assert_list("l", KV_ENC_LISTPACK, 10); /* nothing happens until the list changes */
    AGG_EXPECT("LPUSH l 0", ":11\r\n");
    assert_list("l", KV_ENC_QUICKLIST, 11);
    const kv_ql_t *ql = kv_obj_ptr(agg_obj("l"));
    assert_int_equal(ql->fill, 3);
    assert_int_equal(ql->nodes, 5); /* [0] [1 2 3] [4 5 6] [7 8 9] [10] */
    AGG_EXPECT("LINDEX l 0", "$1\r\n0\r\n");
    AGG_EXPECT("LINDEX l -1", "$2\r\n10\r\n");
}

static void test_list_lset_and_linsert_convert_before_growing(void **state) {
    (void)state;
    agg_config("list-max-listpack-size", "3");
    AGG_EXPECT("RPUSH l a b", ":2\r\n");
    AGG_EXPECT("LINSERT l AFTER b c", ":3\r\n");
    assert_list("l", KV_ENC_LISTPACK, 3);
    AGG_EXPECT("LINSERT l AFTER nope x", ":-1\r\n");
    assert_list("l", KV_ENC_QUICKLIST, 3); /* Redis 7.2 converts before the search */
    AGG_EXPECT("LSET l 0 A", "+OK\r\n");
    AGG_EXPECT("LRANGE l 0 -1", "*3\r\n$1\r\nA\r\n$1\r\nb\r\n$1\r\nc\r\n");
}

static void test_list_memory_usage_counts_every_allocation(void **state) {
    (void)state;
    AGG_EXPECT("RPUSH l a b c", ":3\r\n");
    kv_obj_t *o = agg_obj("l");
    size_t lp_bytes = usable(o) + usable(kv_obj_ptr(o));
    assert_int_equal(kv_obj_mem_bytes(o), lp_bytes);
    char want[64];
    snprintf(want, sizeof(want), ":%zu\r\n", lp_bytes);
    AGG_EXPECT("MEMORY USAGE l", want);

    agg_config("list-max-listpack-size", "2");
    AGG_EXPECT("RPUSH l d e", ":5\r\n");
    o = agg_obj("l");
    const kv_ql_t *ql = kv_obj_ptr(o);
    size_t sum = usable(o) + usable(ql);
    size_t nodes = 0;
    for (const kv_ql_node_t *n = ql->head; n != NULL; n = n->next, nodes++)
        sum += usable(n) + usable(n->lp);
    assert_int_equal(nodes, 3);
    assert_int_equal(kv_obj_mem_bytes(o), sum);
    assert_true(sum > lp_bytes);
}

static void test_list_emptied_list_is_deleted(void **state) {
    (void)state;
    AGG_EXPECT("RPUSH l a", ":1\r\n");
    AGG_EXPECT("LPOP l", "$1\r\na\r\n");
    assert_null(agg_obj("l"));
    AGG_EXPECT("RPUSH l a b", ":2\r\n");
    AGG_EXPECT("LTRIM l 5 6", "+OK\r\n");
    assert_null(agg_obj("l"));
    AGG_EXPECT("RPUSH l a a", ":2\r\n");
    AGG_EXPECT("LREM l 0 a", ":2\r\n");
    assert_null(agg_obj("l"));
    AGG_EXPECT("RPUSH l a", ":1\r\n");
    AGG_EXPECT("LMOVE l m LEFT RIGHT", "$1\r\na\r\n");
    assert_null(agg_obj("l"));
    assert_list("m", KV_ENC_LISTPACK, 1);
    AGG_EXPECT("RPOP m 5", "*1\r\n$1\r\na\r\n");
    AGG_EXPECT("EXISTS m", ":0\r\n");
}

static void test_list_commands_reject_other_types(void **state) {
    (void)state;
    static const char *const cmds[] = {
        "LPUSH s a",
        "RPUSHX s a",
        "LPOP s",
        "RPOP s 2",
        "LLEN s",
        "LINDEX s 0",
        "LSET s 0 a",
        "LRANGE s 0 -1",
        "LREM s 0 a",
        "LTRIM s 0 1",
        "LINSERT s BEFORE a b",
        "LPOS s a",
        "LMOVE s l LEFT LEFT",
        "RPOPLPUSH l s",
    };
    AGG_EXPECT("SET s v", "+OK\r\n");
    AGG_EXPECT("RPUSH l a", ":1\r\n");
    for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
        AGG_EXPECT(cmds[i],
                   "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n");
    AGG_EXPECT("LRANGE l 0 -1", "*1\r\n$1\r\na\r\n"); /* RPOPLPUSH left the source alone */
}

static void test_list_copy_duplicates_both_encodings(void **state) {
    (void)state;
    AGG_EXPECT("RPUSH l a 1 b", ":3\r\n");
    AGG_EXPECT("COPY l l2", ":1\r\n");
    assert_list("l2", KV_ENC_LISTPACK, 3);
    agg_config("list-max-listpack-size", "2");
    AGG_EXPECT("RPUSH q a 1 b c", ":4\r\n");
    AGG_EXPECT("COPY q q2", ":1\r\n");
    assert_list("q2", KV_ENC_QUICKLIST, 4);
    AGG_EXPECT("RPOP q", "$1\r\nc\r\n");
    AGG_EXPECT("LRANGE q2 0 -1", "*4\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$1\r\nc\r\n");
    const char *scan = agg_run("SCAN 0 TYPE list COUNT 100");
    assert_memory_equal(scan, "*2\r\n$1\r\n0\r\n*4\r\n", 15); /* l l2 q q2, in any order */
}

/* --- list-compress-depth --- */

static const char *debug_object_tail(const char *key) {
    char line[64];
    snprintf(line, sizeof(line), "DEBUG OBJECT %s", key);
    const char *r = agg_run(line);
    const char *t = strstr(r, " serializedlength:");
    assert_non_null(t);
    return t;
}

static void push_long_values(const char *key, int n) {
    char line[160];
    for (int i = 1; i <= n; i++) {
        snprintf(line, sizeof(line), "RPUSH %s %s%d", key,
                 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", i);
        agg_run(line);
    }
}

static void test_list_compress_depth_shows_in_debug_object(void **state) {
    (void)state;
    kv_srv.cfg.enable_debug_command = 1;
    agg_config("list-max-listpack-size", "4");
    agg_config("list-compress-depth", "1");
    push_long_values("c", 20);
    /* What redis-server 7.0.15 prints for the same commands. */
    const char *t = debug_object_tail("c");
    assert_non_null(strstr(t, " serializedlength:199 "));
    const char *want = " ql_nodes:5 ql_avg_node:4.00 ql_listpack_max:4 ql_compressed:1 "
                       "ql_uncompressed_size:1626\r\n";
    assert_string_equal(t + strlen(t) - strlen(want), want);
    const kv_ql_t *ql = kv_obj_ptr(agg_obj("c"));
    for (const kv_ql_node_t *n = ql->head->next; n != ql->tail; n = n->next)
        assert_true(kv_ql_node_is_compressed(n));
    /* The same list without compression: the same digest and RDB size, more memory. */
    agg_config("list-compress-depth", "0");
    push_long_values("p", 20);
    t = debug_object_tail("p");
    want = " ql_nodes:5 ql_avg_node:4.00 ql_listpack_max:4 ql_compressed:0 "
           "ql_uncompressed_size:1626\r\n";
    assert_string_equal(t + strlen(t) - strlen(want), want);
    char dc[64], dp[64];
    snprintf(dc, sizeof(dc), "%s", agg_run("DEBUG DIGEST-VALUE c"));
    snprintf(dp, sizeof(dp), "%s", agg_run("DEBUG DIGEST-VALUE p"));
    assert_string_equal(dc, dp);
    size_t mc = kv_obj_mem_bytes(agg_obj("c")), mp = kv_obj_mem_bytes(agg_obj("p"));
    assert_true(mc * 3 < mp * 2); /* the three interior nodes shrink to a fraction */
    /* A list keeps the depth it was created with, as in Redis. */
    assert_non_null(strstr(debug_object_tail("c"), " ql_compressed:1 "));
    AGG_EXPECT("LINDEX c 9",
               "$77\r\naaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
               "aaaaaaaaa10\r\n");
    for (const kv_ql_node_t *n = ql->head->next; n != ql->tail; n = n->next)
        assert_true(kv_ql_node_is_compressed(n)); /* LINDEX compressed its node back */
    AGG_EXPECT("LPOS c x", "$-1\r\n");
    AGG_EXPECT("SORT c ALPHA LIMIT 0 1",
               "*1\r\n$76\r\n"
               "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
               "aaaaaaaaa1\r\n");
    assert_int_equal(kv_list_check(agg_obj("c")), 0);
    /* COPY keeps it too; the copy digests the same. */
    AGG_EXPECT("COPY c c2", ":1\r\n");
    assert_non_null(strstr(debug_object_tail("c2"), " ql_compressed:1 "));
    assert_string_equal(agg_run("DEBUG DIGEST-VALUE c2"), dc);
    /* A listpack-encoded list has no quicklist fields. */
    AGG_EXPECT("RPUSH small a", ":1\r\n");
    assert_null(strstr(debug_object_tail("small"), "ql_"));
    kv_srv.cfg.enable_debug_command = 0;
}

/* --- Random walk against a model --- */

#define MODEL_MAX 1000

static char model[MODEL_MAX][16];
static int model_len;

static void model_check(void) {
    kv_obj_t *o = agg_obj("w");
    if (model_len == 0) {
        assert_null(o);
        return;
    }
    assert_non_null(o);
    assert_int_equal(kv_list_check(o), 0);
    assert_int_equal(kv_list_len(o), (size_t)model_len);
    kv_list_iter_t it;
    kv_list_entry_t e;
    int i = 0;
    assert_int_equal(kv_list_iter_init(&it, o, 0, true), 0);
    while (kv_list_iter_next(&it, &e)) {
        char buf[KV_LP_INTBUF];
        size_t len;
        const uint8_t *s = kv_lp_get_bytes(e.p, buf, &len);
        assert_true(i < model_len);
        assert_int_equal(len, strlen(model[i]));
        assert_memory_equal(s, model[i], len);
        i++;
    }
    assert_int_equal(i, model_len);
}

static void model_insert_at(int at, const char *v) {
    memmove(model[at + 1], model[at], (size_t)(model_len - at) * sizeof(model[0]));
    snprintf(model[at], sizeof(model[0]), "%s", v);
    model_len++;
}

static void model_delete_at(int at) {
    memmove(model[at], model[at + 1], (size_t)(model_len - at - 1) * sizeof(model[0]));
    model_len--;
}

static void random_walk(const char *fill, const char *depth, unsigned seed) {
    char line[128], v[16];
    agg_config("list-max-listpack-size", fill);
    agg_config("list-compress-depth", depth);
    size_t most_compressed = 0;
    AGG_EXPECT("DEL w", model_len ? ":1\r\n" : ":0\r\n");
    model_len = 0;
    srand(seed);
    int converted = 0, shrunk = 0, prev_enc = -1, maxlen = 0;
    for (int step = 0; step < 4000; step++) {
        snprintf(v, sizeof(v), (rand() & 1) ? "%d" : "v%d-abcdefghij", rand() % 100);
        int op = rand() % 12;
        if (op >= 9) op &= 1; /* pushes 5 times in 12, so the list grows past the limit */
        if (step < 2000 && op >= 5 && rand() % 2 != 0) op = 1;  /* first it grows */
        if (step >= 2000 && op <= 1 && rand() % 4 != 0) op = 8; /* then it shrinks again */
        if (model_len >= MODEL_MAX - 2) op = 2;                 /* keep within the model */
        if (op == 0) {
            snprintf(line, sizeof(line), "LPUSH w %s", v);
            agg_run(line);
            model_insert_at(0, v);
        } else if (op == 1) {
            snprintf(line, sizeof(line), "RPUSH w %s", v);
            agg_run(line);
            model_insert_at(model_len, v);
        } else if (op == 2) {
            bool left = rand() & 1;
            agg_run(left ? "LPOP w" : "RPOP w");
            if (model_len == 0) {
                assert_string_equal(agg_reply, "$-1\r\n");
            } else {
                int at = left ? 0 : model_len - 1;
                snprintf(line, sizeof(line), "$%zu\r\n%.15s\r\n", strlen(model[at]), model[at]);
                assert_string_equal(agg_reply, line);
                model_delete_at(at);
            }
        } else if (op == 3 && model_len > 0) {
            int idx = rand() % model_len;
            snprintf(line, sizeof(line), "LSET w %d %s", idx, v);
            AGG_EXPECT(line, "+OK\r\n");
            snprintf(model[idx], sizeof(model[0]), "%s", v);
        } else if (op == 4 && model_len > 0) {
            int idx = rand() % model_len;
            snprintf(line, sizeof(line), "LINSERT w BEFORE %.15s %s", model[idx], v);
            agg_run(line);
            for (int i = 0; i < model_len; i++)
                if (strcmp(model[i], model[idx]) == 0) {
                    model_insert_at(i, v);
                    break;
                }
        } else if (op == 5) {
            int count = rand() % 5 - 2;
            snprintf(line, sizeof(line), "LREM w %d %s", count, v);
            agg_run(line);
            int removed = 0, limit = count < 0 ? -count : count;
            if (count >= 0) {
                for (int i = 0; i < model_len && (limit == 0 || removed < limit);)
                    if (strcmp(model[i], v) == 0) {
                        model_delete_at(i);
                        removed++;
                    } else {
                        i++;
                    }
            } else {
                for (int i = model_len - 1; i >= 0 && removed < limit; i--)
                    if (strcmp(model[i], v) == 0) {
                        model_delete_at(i);
                        removed++;
                    }
            }
            snprintf(line, sizeof(line), ":%d\r\n", removed);
            assert_string_equal(agg_reply, line);
        } else if (op == 6 && model_len > 4) {
            snprintf(line, sizeof(line), "LTRIM w 1 -2");
            AGG_EXPECT(line, "+OK\r\n");
            model_delete_at(model_len - 1);
            model_delete_at(0);
        } else if (op == 7 && model_len > 0) {
            snprintf(line, sizeof(line), "$%zu\r\n%.15s\r\n", strlen(model[0]), model[0]);
            AGG_EXPECT("LMOVE w w LEFT RIGHT", line);
            char head[16];
            snprintf(head, sizeof(head), "%s", model[0]);
            model_delete_at(0);
            model_insert_at(model_len, head);
        } else if (op == 8) {
            int n = rand() % 4;
            snprintf(line, sizeof(line), "RPOP w %d", n);
            agg_run(line);
            int k = n < model_len ? n : model_len;
            model_len -= k;
        }
        model_check();
        if (model_len > maxlen) maxlen = model_len;
        kv_obj_t *o = agg_obj("w");
        int enc = o ? (int)o->encoding : -1;
        if (prev_enc == KV_ENC_LISTPACK && enc == KV_ENC_QUICKLIST) converted++;
        if (prev_enc == KV_ENC_QUICKLIST && enc == KV_ENC_LISTPACK) shrunk++;
        prev_enc = enc;
        if (enc == KV_ENC_QUICKLIST) {
            size_t compressed = 0;
            for (const kv_ql_node_t *n = ((kv_ql_t *)kv_obj_ptr(o))->head; n; n = n->next)
                compressed += kv_ql_node_is_compressed(n);
            if (compressed > most_compressed) most_compressed = compressed;
        }
    }
    if (strcmp(depth, "0") != 0) assert_true(most_compressed > 0);
    /* The walk crossed the limit both ways (a fill of 1 converts at the second entry). */
    assert_true(maxlen > 300);
    assert_true(converted > 0);
    if (strcmp(fill, "1") != 0) assert_true(shrunk > 0);
}

static void test_list_random_walk_matches_a_model(void **state) {
    (void)state;
    random_walk("8", "0", 1);
    random_walk("-1", "0", 2);
    random_walk("1", "0", 3);
}

static void test_list_random_walk_on_compressed_lists_matches_a_model(void **state) {
    (void)state;
    random_walk("8", "1", 4);
    random_walk("4", "2", 5);
    random_walk("-1", "1", 6);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_list_small_list_is_a_listpack, agg_reset),
        cmocka_unit_test_setup(test_list_count_limit_converts_one_past_it, agg_reset),
        cmocka_unit_test_setup(test_list_byte_limit_converts_one_byte_past_it, agg_reset),
        cmocka_unit_test_setup(test_list_shrinks_back_at_half_the_limit, agg_reset),
        cmocka_unit_test_setup(test_list_lowered_limit_applies_at_the_next_push, agg_reset),
        cmocka_unit_test_setup(test_list_lset_and_linsert_convert_before_growing, agg_reset),
        cmocka_unit_test_setup(test_list_memory_usage_counts_every_allocation, agg_reset),
        cmocka_unit_test_setup(test_list_emptied_list_is_deleted, agg_reset),
        cmocka_unit_test_setup(test_list_commands_reject_other_types, agg_reset),
        cmocka_unit_test_setup(test_list_copy_duplicates_both_encodings, agg_reset),
        cmocka_unit_test_setup(test_list_compress_depth_shows_in_debug_object, agg_reset),
        cmocka_unit_test_setup(test_list_random_walk_matches_a_model, agg_reset),
        cmocka_unit_test_setup(test_list_random_walk_on_compressed_lists_matches_a_model,
                               agg_reset),
    };
    return cmocka_run_group_tests_name("kv_list", tests, agg_setup, agg_teardown);
}
