/* SPDX-License-Identifier: MIT */
/*
 * test_kv_quicklist.c - kvcore's quicklist (kvcore/quicklist.h): fill factors (bytes and
 * counts), both ends, index/insert/replace/delete against a model list with kv_ql_check
 * after each change, iteration with deletion both ways, memory accounting and the
 * node-level defrag walk; compression (list-compress-depth): round trips, which nodes
 * are compressed at each depth, incompressible and small nodes left plain, changes in the
 * middle of compressed lists, and a seeded random walk against the model at depths 1-3.
 */
#include "test_common.h"

#include <lzf.h>
#include <malloc.h>

#include "quicklist.h"
#include "kv_list_model_test.h"

static void assert_entry_is(const kv_ql_entry_t *e, const char *s, size_t len) {
    char buf[KV_LP_INTBUF];
    size_t got_len;
    const uint8_t *got = kv_lp_get_bytes(e->p, buf, &got_len);
    assert_int_equal(got_len, len);
    if (len > 0) assert_memory_equal(got, s, len);
}

/* Checks the structure and that both iteration directions give the model's elements. */
static void assert_matches(kv_ql_t *ql, const model_t *m) {
    assert_int_equal(kv_ql_check(ql), 0);
    assert_int_equal(kv_ql_len(ql), m->n);
    kv_ql_iter_t it;
    kv_ql_entry_t e;
    size_t i = 0;
    kv_ql_iter_init(&it, ql, KV_QL_HEAD);
    while (kv_ql_iter_next(&it, &e)) {
        assert_true(i < m->n);
        assert_entry_is(&e, m->items[i], m->lens[i]);
        i++;
    }
    assert_int_equal(i, m->n);
    kv_ql_iter_init(&it, ql, KV_QL_TAIL);
    while (kv_ql_iter_next(&it, &e)) {
        i--;
        assert_entry_is(&e, m->items[i], m->lens[i]);
    }
    assert_int_equal(i, 0);
}

static unsigned rng = 1;

static unsigned next_rand(void) {
    rng = rng * 1103515245u + 12345u;
    return rng >> 8;
}

/* Values made of a few repeated words: LZF shrinks nodes of them well. */
static bool compressible_values;

static size_t compressible_value(char *buf, size_t cap) {
    static const char *const words[] = {"alpha", "beta", "gamma", "delta", "value-"};
    size_t len = 0, want = next_rand() % 3 == 0 ? 4 : 20 + next_rand() % 200;
    while (len < want && len < cap) {
        const char *w = words[next_rand() % 5];
        for (size_t i = 0; w[i] != '\0' && len < cap; i++)
            buf[len++] = w[i];
    }
    return len;
}

static size_t random_value(char *buf, size_t cap) {
    if (compressible_values) return compressible_value(buf, cap);
    unsigned kind = next_rand() % 10;
    if (kind < 3) return (size_t)snprintf(buf, cap, "%d", (int)(next_rand() % 100000) - 500);
    size_t len = kind < 9 ? next_rand() % 40 : 300 + next_rand() % 3000;
    if (len > cap) len = cap;
    for (size_t i = 0; i < len; i++)
        buf[i] = (char)('a' + next_rand() % 26);
    return len;
}

/* --- Fill factor --- */

static void test_ql_positive_fill_caps_entries_per_node(void **state) {
    (void)state;
    kv_ql_t *ql = kv_ql_new(5);
    for (int i = 0; i < 23; i++)
        assert_int_equal(kv_ql_push(ql, KV_QL_TAIL, "v", 1), 0);
    assert_int_equal(kv_ql_check(ql), 0);
    assert_int_equal(ql->nodes, 5);
    static const uint32_t counts[] = {5, 5, 5, 5, 3};
    size_t i = 0;
    for (kv_ql_node_t *n = ql->head; n != NULL; n = n->next)
        assert_int_equal(n->count, counts[i++]);
    kv_ql_free(ql);
    /* The 8 KiB safety limit applies to positive fills too. */
    ql = kv_ql_new(1000);
    char big[1000];
    memset(big, 'b', sizeof(big));
    for (int j = 0; j < 20; j++)
        assert_int_equal(kv_ql_push(ql, KV_QL_TAIL, big, sizeof(big)), 0);
    assert_int_equal(kv_ql_check(ql), 0);
    for (kv_ql_node_t *n = ql->head; n != NULL; n = n->next)
        assert_true(kv_lp_bytes(n->lp) <= 8192);
    assert_true(ql->nodes >= 3);
    kv_ql_free(ql);
}

static void test_ql_negative_fill_caps_node_bytes(void **state) {
    (void)state;
    char val[100];
    memset(val, 'x', sizeof(val));
    for (int fill = -1; fill >= -5; fill--) {
        kv_ql_t *ql = kv_ql_new(fill);
        size_t limit = (size_t)4096 << (-fill - 1);
        for (int i = 0; i < 3000; i++)
            assert_int_equal(kv_ql_push(ql, i % 2 ? KV_QL_TAIL : KV_QL_HEAD, val, sizeof(val)), 0);
        assert_int_equal(kv_ql_check(ql), 0);
        for (kv_ql_node_t *n = ql->head; n != NULL; n = n->next) {
            assert_true(kv_lp_bytes(n->lp) <= limit);
            /* Nodes are filled, not left half-empty (103 bytes per entry here). */
            if (n != ql->head && n != ql->tail) assert_true(kv_lp_bytes(n->lp) > limit - 150);
        }
        kv_ql_free(ql);
    }
    /* Fills beyond the range are clamped; 0 keeps one entry per node. */
    kv_ql_t *ql = kv_ql_new(-100);
    assert_int_equal(ql->fill, KV_QL_FILL_MIN);
    kv_ql_free(ql);
    ql = kv_ql_new(0);
    for (int i = 0; i < 4; i++)
        assert_int_equal(kv_ql_push(ql, KV_QL_HEAD, "a", 1), 0);
    assert_int_equal(ql->nodes, 4);
    assert_int_equal(kv_ql_check(ql), 0);
    kv_ql_free(ql);
}

static void test_ql_oversized_entry_gets_its_own_node(void **state) {
    (void)state;
    kv_ql_t *ql = kv_ql_new(-1);
    char *huge = malloc(10000);
    memset(huge, 'h', 10000);
    assert_int_equal(kv_ql_push(ql, KV_QL_TAIL, "a", 1), 0);
    assert_int_equal(kv_ql_push(ql, KV_QL_TAIL, huge, 10000), 0);
    assert_int_equal(kv_ql_push(ql, KV_QL_TAIL, "b", 1), 0);
    assert_int_equal(ql->nodes, 3);
    assert_int_equal(ql->head->next->count, 1);
    assert_int_equal(kv_ql_check(ql), 0);
    free(huge);
    kv_ql_free(ql);
}

/* --- Ends, index, insert, replace, delete --- */

static void test_ql_push_pop_both_ends(void **state) {
    (void)state;
    kv_ql_t *ql = kv_ql_new(3);
    kv_ql_popped_t out;
    assert_int_equal(kv_ql_pop(ql, KV_QL_HEAD, &out), -ENOENT);
    assert_int_equal(kv_ql_push(ql, KV_QL_TAIL, "b", 1), 0);
    assert_int_equal(kv_ql_push(ql, KV_QL_HEAD, "a", 1), 0);
    assert_int_equal(kv_ql_push(ql, KV_QL_TAIL, "42", 2), 0);
    assert_int_equal(kv_ql_push(ql, KV_QL_TAIL, "c", 1), 0);
    assert_int_equal(kv_ql_check(ql), 0);
    assert_int_equal(kv_ql_pop(ql, KV_QL_TAIL, &out), 0);
    assert_string_equal(out.str, "c");
    free(out.str);
    assert_int_equal(kv_ql_pop(ql, KV_QL_TAIL, &out), 0);
    assert_null(out.str); /* stored as an integer */
    assert_true(out.ival == 42);
    assert_int_equal(kv_ql_pop(ql, KV_QL_HEAD, &out), 0);
    assert_string_equal(out.str, "a");
    assert_int_equal(out.len, 1);
    free(out.str);
    assert_int_equal(kv_ql_check(ql), 0);
    assert_int_equal(kv_ql_pop(ql, KV_QL_HEAD, &out), 0);
    free(out.str);
    assert_int_equal(kv_ql_len(ql), 0);
    assert_int_equal(ql->nodes, 0);
    assert_null(ql->head);
    assert_null(ql->tail);
    assert_int_equal(kv_ql_check(ql), 0);
    kv_ql_free(ql);
    kv_ql_free(NULL);
}

static void test_ql_index_counts_from_both_ends(void **state) {
    (void)state;
    kv_ql_t *ql = kv_ql_new(4);
    char buf[16];
    for (int i = 0; i < 30; i++) {
        int n = snprintf(buf, sizeof(buf), "e%d", i);
        assert_int_equal(kv_ql_push(ql, KV_QL_TAIL, buf, (size_t)n), 0);
    }
    kv_ql_entry_t e;
    for (int i = 0; i < 30; i++) {
        int n = snprintf(buf, sizeof(buf), "e%d", i);
        assert_int_equal(kv_ql_index(ql, i, &e), 0);
        assert_entry_is(&e, buf, (size_t)n);
        assert_true(kv_ql_entry_equals(&e, buf, (size_t)n));
        assert_int_equal(kv_ql_index(ql, i - 30, &e), 0);
        assert_entry_is(&e, buf, (size_t)n);
    }
    assert_int_equal(kv_ql_index(ql, 30, &e), -ERANGE);
    assert_int_equal(kv_ql_index(ql, -31, &e), -ERANGE);
    kv_ql_free(ql);
}

static void test_ql_insert_into_full_nodes_splits_and_stays_valid(void **state) {
    (void)state;
    kv_ql_t *ql = kv_ql_new(4);
    model_t m = {0};
    char buf[16];
    for (int i = 0; i < 16; i++) {
        int n = snprintf(buf, sizeof(buf), "x%d", i);
        assert_int_equal(kv_ql_push(ql, KV_QL_TAIL, buf, (size_t)n), 0);
        model_insert(&m, m.n, buf, (size_t)n);
    }
    assert_int_equal(ql->nodes, 4);
    /* Middle of a full node, both directions; then at node edges. */
    static const struct {
        long index;
        int where;
    } ops[] = {{1, KV_LP_AFTER},  {6, KV_LP_BEFORE}, {3, KV_LP_AFTER}, {4, KV_LP_BEFORE},
               {0, KV_LP_BEFORE}, {-1, KV_LP_AFTER}, {8, KV_LP_AFTER}, {9, KV_LP_BEFORE}};
    for (size_t k = 0; k < sizeof(ops) / sizeof(ops[0]); k++) {
        kv_ql_entry_t e;
        assert_int_equal(kv_ql_index(ql, ops[k].index, &e), 0);
        int n = snprintf(buf, sizeof(buf), "ins%zu", k);
        assert_int_equal(kv_ql_insert(ql, &e, ops[k].where, buf, (size_t)n), 0);
        size_t at = ops[k].index < 0 ? m.n : (size_t)ops[k].index;
        if (ops[k].where == KV_LP_AFTER && ops[k].index >= 0) at++;
        model_insert(&m, at, buf, (size_t)n);
        assert_matches(ql, &m);
    }
    assert_int_equal(kv_ql_insert_at(ql, 0, "first", 5), 0);
    model_insert(&m, 0, "first", 5);
    assert_int_equal(kv_ql_insert_at(ql, (long)m.n, "last", 4), 0);
    model_insert(&m, m.n, "last", 4);
    assert_int_equal(kv_ql_insert_at(ql, (long)m.n + 1, "x", 1), -ERANGE);
    assert_int_equal(kv_ql_insert_at(ql, -1, "x", 1), -ERANGE);
    assert_matches(ql, &m);
    model_free(&m);
    kv_ql_free(ql);
}

static void test_ql_replace_at_grows_values_across_nodes(void **state) {
    (void)state;
    kv_ql_t *ql = kv_ql_new(-1);
    model_t m = {0};
    char val[200];
    for (int i = 0; i < 100; i++) {
        int n = snprintf(val, sizeof(val), "small%d", i);
        assert_int_equal(kv_ql_push(ql, KV_QL_TAIL, val, (size_t)n), 0);
        model_insert(&m, m.n, val, (size_t)n);
    }
    memset(val, 'R', sizeof(val));
    /* Growing entries eventually overflow the 4 KiB nodes: the replace moves across. */
    for (long i = 0; i < 100; i += 3) {
        assert_int_equal(kv_ql_replace_at(ql, i, val, sizeof(val)), 0);
        model_delete(&m, (size_t)i, 1);
        model_insert(&m, (size_t)i, val, sizeof(val));
        assert_matches(ql, &m);
    }
    assert_int_equal(kv_ql_replace_at(ql, -1, "tail", 4), 0);
    model_delete(&m, m.n - 1, 1);
    model_insert(&m, m.n, "tail", 4);
    assert_int_equal(kv_ql_replace_at(ql, 100, "x", 1), -ERANGE);
    assert_matches(ql, &m);
    model_free(&m);
    kv_ql_free(ql);
}

static void test_ql_del_range_spans_nodes(void **state) {
    (void)state;
    kv_ql_t *ql = kv_ql_new(5);
    model_t m = {0};
    char buf[16];
    for (int i = 0; i < 40; i++) {
        int n = snprintf(buf, sizeof(buf), "d%d", i);
        assert_int_equal(kv_ql_push(ql, KV_QL_TAIL, buf, (size_t)n), 0);
        model_insert(&m, m.n, buf, (size_t)n);
    }
    assert_int_equal(kv_ql_del_range(ql, 3, 12), 12); /* partial, two whole, partial */
    model_delete(&m, 3, 12);
    assert_matches(ql, &m);
    assert_int_equal(kv_ql_del_range(ql, -4, 100), 4); /* stops at the end */
    model_delete(&m, m.n - 4, 4);
    assert_matches(ql, &m);
    assert_int_equal(kv_ql_del_range(ql, 100, 1), 0);
    assert_int_equal(kv_ql_del_range(ql, 0, 0), 0);
    assert_int_equal(kv_ql_del_range(ql, 0, m.n), m.n);
    model_delete(&m, 0, m.n);
    assert_matches(ql, &m);
    assert_int_equal(ql->nodes, 0);
    model_free(&m);
    kv_ql_free(ql);
}

/* --- Iteration --- */

static void test_ql_iterator_deletes_matches_in_both_directions(void **state) {
    (void)state;
    for (int dir = KV_QL_HEAD; dir <= KV_QL_TAIL; dir++) {
        kv_ql_t *ql = kv_ql_new(3);
        model_t m = {0};
        for (int i = 0; i < 31; i++) {
            const char *s = i % 3 == 0 ? "del" : "keep";
            assert_int_equal(kv_ql_push(ql, KV_QL_TAIL, s, strlen(s)), 0);
            if (i % 3 != 0) model_insert(&m, m.n, s, strlen(s));
        }
        /* LREM-style: every match, including whole nodes emptied on the way. */
        kv_ql_iter_t it;
        kv_ql_entry_t e;
        size_t seen = 0, deleted = 0;
        kv_ql_iter_init(&it, ql, dir);
        while (kv_ql_iter_next(&it, &e)) {
            seen++;
            if (kv_ql_entry_equals(&e, "del", 3)) {
                kv_ql_iter_del(&it, &e);
                deleted++;
            }
        }
        assert_int_equal(seen, 31);
        assert_int_equal(deleted, 11);
        assert_matches(ql, &m);
        model_free(&m);
        kv_ql_free(ql);
    }
    /* Deleting everything while iterating empties the list. */
    kv_ql_t *ql = kv_ql_new(2);
    for (int i = 0; i < 9; i++)
        assert_int_equal(kv_ql_push(ql, KV_QL_TAIL, "z", 1), 0);
    kv_ql_iter_t it;
    kv_ql_entry_t e;
    kv_ql_iter_init(&it, ql, KV_QL_TAIL);
    size_t n = 0;
    while (kv_ql_iter_next(&it, &e)) {
        kv_ql_iter_del(&it, &e);
        n++;
    }
    assert_int_equal(n, 9);
    assert_int_equal(kv_ql_len(ql), 0);
    assert_int_equal(kv_ql_check(ql), 0);
    kv_ql_free(ql);
}

static void test_ql_iterator_starts_at_an_index(void **state) {
    (void)state;
    kv_ql_t *ql = kv_ql_new(4);
    char buf[16];
    for (int i = 0; i < 20; i++) {
        int n = snprintf(buf, sizeof(buf), "i%d", i);
        assert_int_equal(kv_ql_push(ql, KV_QL_TAIL, buf, (size_t)n), 0);
    }
    kv_ql_iter_t it;
    kv_ql_entry_t e;
    assert_int_equal(kv_ql_iter_init_at(&it, ql, KV_QL_HEAD, 7), 0);
    for (int i = 7; i < 20; i++) {
        assert_true(kv_ql_iter_next(&it, &e));
        int n = snprintf(buf, sizeof(buf), "i%d", i);
        assert_entry_is(&e, buf, (size_t)n);
    }
    assert_false(kv_ql_iter_next(&it, &e));
    assert_int_equal(kv_ql_iter_init_at(&it, ql, KV_QL_TAIL, -3), 0);
    for (int i = 17; i >= 0; i--) {
        assert_true(kv_ql_iter_next(&it, &e));
        int n = snprintf(buf, sizeof(buf), "i%d", i);
        assert_entry_is(&e, buf, (size_t)n);
    }
    assert_false(kv_ql_iter_next(&it, &e));
    assert_int_equal(kv_ql_iter_init_at(&it, ql, KV_QL_HEAD, 20), -ERANGE);
    assert_false(kv_ql_iter_next(&it, &e));
    kv_ql_free(ql);
}

/* --- Compression helpers --- */

/* True when LZF would store this listpack compressed (the 48-byte and 9-byte rules). */
static bool would_compress(const uint8_t *lp) {
    size_t sz = kv_lp_bytes(lp);
    if (sz < 48) return false;
    uint8_t *out = malloc(sz);
    assert_non_null(out);
    unsigned clen = lzf_compress(lp, (unsigned)sz, out, (unsigned)(sz - 9));
    free(out);
    return clen != 0;
}

/*
 * The depth rule, node by node: the depth nodes at each end plain, every node between
 * compressed exactly when LZF shrinks it enough; and each compressed node decompresses
 * to a listpack of its entries.
 */
static void assert_depth_layout(kv_ql_t *ql) {
    kv_ql_release(ql);
    assert_null(ql->open);
    size_t i = 0;
    for (kv_ql_node_t *n = ql->head; n != NULL; n = n->next, i++) {
        uint8_t *scratch;
        const uint8_t *lp = kv_ql_node_listpack(n, &scratch);
        assert_non_null(lp);
        assert_int_equal(kv_lp_len(lp), n->count);
        assert_int_equal(kv_ql_node_raw_bytes(n), kv_lp_bytes(lp));
        bool within = ql->depth == 0 || i < ql->depth || i + ql->depth >= ql->nodes;
        if (within)
            assert_false(kv_ql_node_is_compressed(n));
        else
            assert_int_equal(kv_ql_node_is_compressed(n), would_compress(lp));
        if (kv_ql_node_is_compressed(n)) assert_true(n->lzf_bytes + 8 < n->raw_bytes);
        free(scratch);
    }
}

/* --- Randomized --- */

static void random_ops(int fill, long depth, int ops) {
    kv_ql_t *ql = kv_ql_new(fill);
    kv_ql_set_depth(ql, depth);
    model_t m = {0};
    static char buf[4000];
    for (int op = 0; op < ops; op++) {
        unsigned what = next_rand() % 10;
        size_t len = random_value(buf, sizeof(buf));
        if (what < 2 || m.n == 0) {
            int where = next_rand() % 2 ? KV_QL_HEAD : KV_QL_TAIL;
            assert_int_equal(kv_ql_push(ql, where, buf, len), 0);
            model_insert(&m, where == KV_QL_HEAD ? 0 : m.n, buf, len);
        } else if (what < 4) {
            size_t at = next_rand() % (m.n + 1);
            assert_int_equal(kv_ql_insert_at(ql, (long)at, buf, len), 0);
            model_insert(&m, at, buf, len);
        } else if (what < 5) {
            size_t at = next_rand() % m.n;
            kv_ql_entry_t e;
            assert_int_equal(kv_ql_index(ql, (long)at, &e), 0);
            assert_entry_is(&e, m.items[at], m.lens[at]);
            assert_int_equal(kv_ql_insert(ql, &e, KV_LP_AFTER, buf, len), 0);
            model_insert(&m, at + 1, buf, len);
        } else if (what < 7) {
            size_t at = next_rand() % m.n;
            assert_int_equal(kv_ql_replace_at(ql, (long)at - (long)m.n, buf, len), 0);
            model_delete(&m, at, 1);
            model_insert(&m, at, buf, len);
        } else if (what < 8) {
            size_t at = next_rand() % m.n, count = 1 + next_rand() % 8;
            if (count > m.n - at) count = m.n - at;
            assert_int_equal(kv_ql_del_range(ql, (long)at, count), count);
            model_delete(&m, at, count);
        } else {
            int where = next_rand() % 2 ? KV_QL_HEAD : KV_QL_TAIL;
            kv_ql_popped_t out;
            assert_int_equal(kv_ql_pop(ql, where, &out), 0);
            size_t at = where == KV_QL_HEAD ? 0 : m.n - 1;
            char ib[KV_LP_INTBUF];
            const char *s = out.str;
            size_t slen = out.len;
            if (s == NULL) slen = kv_lp_int_to_str(out.ival, ib), s = ib;
            assert_int_equal(slen, m.lens[at]);
            assert_memory_equal(s, m.items[at], slen);
            free(out.str);
            model_delete(&m, at, 1);
        }
        assert_int_equal(kv_ql_check(ql), 0);
        if (depth > 0) assert_depth_layout(ql);
        if (op % 100 == 0) assert_matches(ql, &m);
    }
    assert_matches(ql, &m);
    model_free(&m);
    kv_ql_free(ql);
}

static void test_ql_random_changes_match_a_model(void **state) {
    (void)state;
    rng = 5;
    static const int fills[] = {-1, -2, -5, 0, 1, 3, 128};
    for (size_t i = 0; i < sizeof(fills) / sizeof(fills[0]); i++)
        random_ops(fills[i], 0, 1500);
}

static void test_ql_random_changes_on_compressed_lists_match_a_model(void **state) {
    (void)state;
    static const int fills[] = {-1, -2, 4, 16, 128};
    compressible_values = true;
    for (long depth = 1; depth <= 3; depth++) {
        rng = (unsigned)(17 + depth);
        for (size_t i = 0; i < sizeof(fills) / sizeof(fills[0]); i++)
            random_ops(fills[i], depth, 1200);
    }
    compressible_values = false;
    rng = 29; /* the letters of random_value: many nodes do not shrink enough */
    random_ops(8, 1, 1500);
}

/* --- Compression --- */

static size_t value_at(char *buf, size_t cap, int i) {
    return (size_t)snprintf(buf, cap, "value-%06d-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", i);
}

static kv_ql_t *compressed_list(int fill, long depth, int n, model_t *m) {
    kv_ql_t *ql = kv_ql_new(fill);
    kv_ql_set_depth(ql, depth);
    char buf[64];
    for (int i = 0; i < n; i++) {
        size_t len = value_at(buf, sizeof(buf), i);
        assert_int_equal(kv_ql_push(ql, KV_QL_TAIL, buf, len), 0);
        if (m != NULL) model_insert(m, m->n, buf, len);
    }
    return ql;
}

static void test_ql_compress_round_trip(void **state) {
    (void)state;
    model_t m = {0};
    kv_ql_t *ql = compressed_list(8, 1, 200, &m);
    assert_int_equal(ql->nodes, 25);
    assert_false(kv_ql_node_is_compressed(ql->head));
    assert_false(kv_ql_node_is_compressed(ql->tail));
    size_t raw = 0, held = 0;
    for (kv_ql_node_t *n = ql->head->next; n != ql->tail; n = n->next) {
        assert_true(kv_ql_node_is_compressed(n));
        raw += n->raw_bytes;
        held += n->lzf_bytes;
    }
    assert_true(held * 2 < raw); /* these values shrink to well under half */
    assert_depth_layout(ql);
    assert_matches(ql, &m);
    /* Reading decompressed one node at a time and compressed it back. */
    assert_depth_layout(ql);
    /* Depth 0 decompresses everything, to the same entries. */
    size_t compressed_mem = kv_ql_mem_bytes(ql);
    kv_ql_set_depth(ql, 0);
    for (kv_ql_node_t *n = ql->head; n != NULL; n = n->next)
        assert_false(kv_ql_node_is_compressed(n));
    assert_true(kv_ql_mem_bytes(ql) > compressed_mem + raw / 2);
    assert_matches(ql, &m);
    kv_ql_set_depth(ql, 100000); /* clamped to Redis's 16 bits */
    assert_int_equal(ql->depth, KV_QL_DEPTH_MAX);
    assert_depth_layout(ql);
    model_free(&m);
    kv_ql_free(ql);
}

static void test_ql_depth_keeps_ends_plain_and_interior_compressed(void **state) {
    (void)state;
    for (long depth = 1; depth <= 3; depth++) {
        model_t m = {0};
        kv_ql_t *ql = kv_ql_new(4);
        kv_ql_set_depth(ql, depth);
        char buf[64];
        /* Growing from both ends one node at a time: every count of nodes, from all plain
         * (2 * depth nodes or fewer) to interiors compressed. */
        for (int i = 0; i < 120; i++) {
            size_t len = value_at(buf, sizeof(buf), i);
            int where = i % 3 == 0 ? KV_QL_HEAD : KV_QL_TAIL;
            assert_int_equal(kv_ql_push(ql, where, buf, len), 0);
            model_insert(&m, where == KV_QL_HEAD ? 0 : m.n, buf, len);
            assert_int_equal(kv_ql_check(ql), 0);
            assert_depth_layout(ql);
        }
        size_t compressed = 0;
        for (kv_ql_node_t *n = ql->head; n != NULL; n = n->next)
            compressed += kv_ql_node_is_compressed(n);
        assert_int_equal(compressed, ql->nodes - 2 * (size_t)depth);
        /* Shrinking from both ends: interior nodes come out as the ends reach them. */
        while (m.n > 0) {
            int where = m.n % 2 ? KV_QL_HEAD : KV_QL_TAIL;
            kv_ql_popped_t out;
            assert_int_equal(kv_ql_pop(ql, where, &out), 0);
            free(out.str);
            model_delete(&m, where == KV_QL_HEAD ? 0 : m.n - 1, 1);
            assert_int_equal(kv_ql_check(ql), 0);
            assert_depth_layout(ql);
        }
        assert_int_equal(ql->nodes, 0);
        model_free(&m);
        kv_ql_free(ql);
    }
}

static void test_ql_incompressible_and_small_nodes_stay_plain(void **state) {
    (void)state;
    /* Random bytes do not shrink by 9 bytes: left plain beyond the depth. */
    kv_ql_t *ql = kv_ql_new(2);
    kv_ql_set_depth(ql, 1);
    unsigned char noise[300];
    for (int i = 0; i < 20; i++) {
        for (size_t j = 0; j < sizeof(noise); j++)
            noise[j] = (unsigned char)(next_rand() >> 3);
        assert_int_equal(kv_ql_push(ql, KV_QL_TAIL, noise, sizeof(noise)), 0);
    }
    for (kv_ql_node_t *n = ql->head; n != NULL; n = n->next)
        assert_false(kv_ql_node_is_compressed(n));
    assert_depth_layout(ql);
    kv_ql_free(ql);
    /* Nodes under 48 bytes are not tried, however repetitive. */
    ql = kv_ql_new(2);
    kv_ql_set_depth(ql, 1);
    for (int i = 0; i < 20; i++)
        assert_int_equal(kv_ql_push(ql, KV_QL_TAIL, "aaaaaaaaaaaaaaa", 15), 0);
    for (kv_ql_node_t *n = ql->head; n != NULL; n = n->next) {
        assert_true(kv_lp_bytes(n->lp) < 48);
        assert_false(kv_ql_node_is_compressed(n));
    }
    kv_ql_free(ql);
}

static void test_ql_changes_in_the_middle_of_a_compressed_list(void **state) {
    (void)state;
    model_t m = {0};
    kv_ql_t *ql = compressed_list(6, 2, 120, &m);
    char buf[64];
    kv_ql_entry_t e;
    /* A read opens one node; reading another closes it again. */
    assert_int_equal(kv_ql_index(ql, 40, &e), 0);
    assert_entry_is(&e, m.items[40], m.lens[40]);
    assert_non_null(ql->open);
    kv_ql_node_t *first = ql->open;
    assert_int_equal(kv_ql_index(ql, 80, &e), 0);
    assert_entry_is(&e, m.items[80], m.lens[80]);
    assert_true(kv_ql_node_is_compressed(first));
    assert_int_equal(kv_ql_check(ql), 0);
    /* Insert (into full nodes: splits), replace, delete ranges, iterate-delete. */
    for (int k = 0; k < 30; k++) {
        size_t at = 10 + next_rand() % (m.n - 20);
        size_t len = (size_t)snprintf(buf, sizeof(buf), "ins-%d-bbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", k);
        assert_int_equal(kv_ql_index(ql, (long)at, &e), 0);
        assert_int_equal(kv_ql_insert(ql, &e, k % 2 ? KV_LP_AFTER : KV_LP_BEFORE, buf, len), 0);
        model_insert(&m, k % 2 ? at + 1 : at, buf, len);
        assert_int_equal(kv_ql_check(ql), 0);
        assert_depth_layout(ql);
        at = 10 + next_rand() % (m.n - 20);
        assert_int_equal(kv_ql_replace_at(ql, (long)at, buf, len), 0);
        model_delete(&m, at, 1);
        model_insert(&m, at, buf, len);
        assert_int_equal(kv_ql_check(ql), 0);
        assert_depth_layout(ql);
    }
    assert_matches(ql, &m);
    assert_int_equal(kv_ql_del_range(ql, 30, 25), 25); /* cuts two compressed nodes */
    model_delete(&m, 30, 25);
    assert_int_equal(kv_ql_check(ql), 0);
    assert_depth_layout(ql);
    assert_matches(ql, &m);
    /* LREM-style walk from the tail deleting every third element, stopped early. */
    kv_ql_iter_t it;
    size_t seen = 0, idx = m.n; /* deleting idx leaves the indexes below it as they were */
    kv_ql_iter_init(&it, ql, KV_QL_TAIL);
    while (idx > 10 && kv_ql_iter_next(&it, &e)) {
        idx--;
        assert_entry_is(&e, m.items[idx], m.lens[idx]);
        if (seen % 3 == 0) {
            kv_ql_iter_del(&it, &e);
            model_delete(&m, idx, 1);
        }
        seen++;
    }
    assert_int_equal(kv_ql_check(ql), 0);
    assert_depth_layout(ql); /* releases the node the walk stopped in */
    assert_matches(ql, &m);
    /* A walk started at an index inside a compressed node. */
    assert_int_equal(kv_ql_iter_init_at(&it, ql, KV_QL_HEAD, (long)(m.n / 2)), 0);
    for (size_t i = m.n / 2; i < m.n; i++) {
        assert_true(kv_ql_iter_next(&it, &e));
        assert_entry_is(&e, m.items[i], m.lens[i]);
    }
    assert_false(kv_ql_iter_next(&it, &e));
    assert_null(ql->open); /* a walk to the end leaves nothing decompressed */
    model_free(&m);
    kv_ql_free(ql);
}

static void test_ql_compressed_nodes_with_bad_data_are_refused(void **state) {
    (void)state;
    kv_ql_t *ql = compressed_list(8, 1, 40, NULL);
    kv_ql_node_t *n = ql->head->next;
    assert_true(kv_ql_node_is_compressed(n));
    uint8_t *scratch;
    assert_non_null(kv_ql_node_listpack(n, &scratch));
    free(scratch);
    /* A stated size that does not match the data: neither read nor checked as valid. */
    n->raw_bytes += 5;
    assert_null(kv_ql_node_listpack(n, &scratch));
    assert_int_not_equal(kv_ql_check(ql), 0);
    n->raw_bytes -= 5;
    /* Truncated LZF data. */
    uint32_t full = n->lzf_bytes;
    n->lzf_bytes = full / 2;
    assert_null(kv_ql_node_listpack(n, &scratch));
    assert_int_not_equal(kv_ql_check(ql), 0);
    n->lzf_bytes = full;
    assert_int_equal(kv_ql_check(ql), 0);
    kv_ql_free(ql);
}

/* --- Memory and defrag --- */

static void test_ql_mem_bytes_sums_struct_nodes_and_listpacks(void **state) {
    (void)state;
    kv_ql_t *ql = kv_ql_new(10);
    assert_int_equal(kv_ql_mem_bytes(ql), sizeof(kv_ql_t));
    for (int i = 0; i < 55; i++)
        assert_int_equal(kv_ql_push(ql, KV_QL_TAIL, "abc", 3), 0);
    size_t want = sizeof(kv_ql_t);
    for (kv_ql_node_t *n = ql->head; n != NULL; n = n->next)
        want += sizeof(kv_ql_node_t) + kv_lp_bytes(n->lp);
    assert_int_equal(kv_ql_mem_bytes(ql), want);
    /* 6 nodes: 5 of 10 entries (7 + 10 * 5 bytes) and one of 5 (7 + 5 * 5). */
    assert_int_equal(want, sizeof(kv_ql_t) + 6 * sizeof(kv_ql_node_t) + 5 * 57 + 32);
    kv_ql_free(ql);
}

static int moves;

static void *move_alloc(void *ptr) {
    size_t size = malloc_usable_size(ptr);
    void *copy = malloc(size);
    assert_non_null(copy);
    memcpy(copy, ptr, size);
    free(ptr);
    moves++;
    return copy;
}

static void test_ql_defrag_walk_moves_every_node_and_listpack(void **state) {
    (void)state;
    kv_ql_t *ql = kv_ql_new(4);
    model_t m = {0};
    char buf[16];
    for (int i = 0; i < 37; i++) {
        int n = snprintf(buf, sizeof(buf), "f%d", i);
        assert_int_equal(kv_ql_push(ql, KV_QL_TAIL, buf, (size_t)n), 0);
        model_insert(&m, m.n, buf, (size_t)n);
    }
    moves = 0;
    for (kv_ql_node_t *n = ql->head; n != NULL; n = kv_ql_defrag_node(ql, n, move_alloc)->next) {
    }
    assert_int_equal(moves, 2 * (int)ql->nodes);
    assert_matches(ql, &m);
    /* Resuming a walk at a node index reaches the same nodes. */
    assert_ptr_equal(kv_ql_node_at(ql, 0), ql->head);
    assert_ptr_equal(kv_ql_node_at(ql, ql->nodes - 1), ql->tail);
    assert_null(kv_ql_node_at(ql, ql->nodes));
    moves = 0;
    kv_ql_defrag_struct(&ql, move_alloc);
    assert_int_equal(moves, 1);
    assert_matches(ql, &m);
    model_free(&m);
    kv_ql_free(ql);
}

static void test_ql_defrag_walk_moves_compressed_nodes_and_the_open_one(void **state) {
    (void)state;
    model_t m = {0};
    kv_ql_t *ql = compressed_list(4, 1, 60, &m);
    kv_ql_entry_t e;
    assert_int_equal(kv_ql_index(ql, 30, &e), 0); /* leaves one interior node open */
    kv_ql_node_t *open = ql->open;
    assert_non_null(open);
    size_t compressed = 0;
    for (kv_ql_node_t *n = ql->head; n != NULL; n = n->next)
        compressed += kv_ql_node_is_compressed(n);
    moves = 0;
    for (kv_ql_node_t *n = ql->head; n != NULL; n = kv_ql_defrag_node(ql, n, move_alloc)->next) {
    }
    assert_int_equal(moves, 2 * (int)ql->nodes);
    assert_ptr_not_equal(ql->open, open); /* the open node moved and is still known */
    assert_false(kv_ql_node_is_compressed(ql->open));
    size_t after = 0;
    for (kv_ql_node_t *n = ql->head; n != NULL; n = n->next)
        after += kv_ql_node_is_compressed(n);
    assert_int_equal(after, compressed);
    assert_int_equal(kv_ql_check(ql), 0);
    assert_depth_layout(ql); /* compresses the moved open node back */
    assert_matches(ql, &m);
    model_free(&m);
    kv_ql_free(ql);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ql_positive_fill_caps_entries_per_node),
        cmocka_unit_test(test_ql_negative_fill_caps_node_bytes),
        cmocka_unit_test(test_ql_oversized_entry_gets_its_own_node),
        cmocka_unit_test(test_ql_push_pop_both_ends),
        cmocka_unit_test(test_ql_index_counts_from_both_ends),
        cmocka_unit_test(test_ql_insert_into_full_nodes_splits_and_stays_valid),
        cmocka_unit_test(test_ql_replace_at_grows_values_across_nodes),
        cmocka_unit_test(test_ql_del_range_spans_nodes),
        cmocka_unit_test(test_ql_iterator_deletes_matches_in_both_directions),
        cmocka_unit_test(test_ql_iterator_starts_at_an_index),
        cmocka_unit_test(test_ql_random_changes_match_a_model),
        cmocka_unit_test(test_ql_compress_round_trip),
        cmocka_unit_test(test_ql_depth_keeps_ends_plain_and_interior_compressed),
        cmocka_unit_test(test_ql_incompressible_and_small_nodes_stay_plain),
        cmocka_unit_test(test_ql_changes_in_the_middle_of_a_compressed_list),
        cmocka_unit_test(test_ql_compressed_nodes_with_bad_data_are_refused),
        cmocka_unit_test(test_ql_random_changes_on_compressed_lists_match_a_model),
        cmocka_unit_test(test_ql_mem_bytes_sums_struct_nodes_and_listpacks),
        cmocka_unit_test(test_ql_defrag_walk_moves_every_node_and_listpack),
        cmocka_unit_test(test_ql_defrag_walk_moves_compressed_nodes_and_the_open_one),
    };
    return cmocka_run_group_tests_name("kv_quicklist", tests, NULL, NULL);
}
