/* SPDX-License-Identifier: MIT */
/*
 * test_kv_zskiplist.c - kvcore's skiplist (kvcore/zskiplist.h): (score, member) order,
 * ranks, score and member ranges with open and closed ends, range deletion, score
 * updates that keep the node, changes against a sorted model with kv_zsl_check after
 * each one, memory accounting and the defrag hook's pointer fix-ups.
 */
#include "test_common.h"

#include <malloc.h>
#include <math.h>

#include "zskiplist.h"

static kv_zsl_node_t *add(kv_zsl_t *zsl, double score, const char *member) {
    kv_zsl_node_t *n = kv_zsl_insert(zsl, score, member, strlen(member));
    assert_non_null(n);
    assert_int_equal(kv_zsl_check(zsl), 0);
    return n;
}

static void assert_member(const kv_zsl_node_t *n, const char *want) {
    assert_non_null(n);
    size_t len;
    const uint8_t *m = kv_zsl_node_member(n, &len);
    assert_int_equal(len, strlen(want));
    assert_memory_equal(m, want, len);
}

/* The members in order, joined by spaces, into buf. */
static const char *order(const kv_zsl_t *zsl, char *buf, size_t cap) {
    size_t used = 0;
    buf[0] = '\0';
    for (kv_zsl_node_t *x = kv_zsl_first(zsl); x != NULL; x = kv_zsl_node_next(x)) {
        size_t len;
        const uint8_t *m = kv_zsl_node_member(x, &len);
        used += (size_t)snprintf(buf + used, cap - used, "%s%.*s", used ? " " : "", (int)len,
                                 (const char *)m);
    }
    return buf;
}

static void test_zsl_orders_by_score_then_member(void **state) {
    (void)state;
    kv_zsl_t *zsl = kv_zsl_new();
    assert_non_null(zsl);
    assert_int_equal(kv_zsl_check(zsl), 0);
    assert_null(kv_zsl_first(zsl));
    assert_null(kv_zsl_last(zsl));
    add(zsl, 2, "b");
    add(zsl, 1, "z");
    add(zsl, 2, "a");
    add(zsl, 2, "ab");
    add(zsl, -INFINITY, "low");
    add(zsl, INFINITY, "high");
    add(zsl, 2, "");
    char buf[256];
    assert_string_equal(order(zsl, buf, sizeof(buf)), "low z  a ab b high");
    assert_member(kv_zsl_first(zsl), "low");
    assert_member(kv_zsl_last(zsl), "high");
    assert_null(kv_zsl_node_prev(kv_zsl_first(zsl)));
    assert_member(kv_zsl_node_prev(kv_zsl_last(zsl)), "b");
    assert_int_equal(kv_zsl_len(zsl), 7);
    assert_int_equal(kv_zsl_rank(zsl, 2, "ab", 2), 5);
    assert_int_equal(kv_zsl_rank(zsl, 2, "", 0), 3);
    assert_int_equal(kv_zsl_rank(zsl, 3, "ab", 2), 0);
    assert_int_equal(kv_zsl_rank(zsl, 2, "abc", 3), 0);
    assert_member(kv_zsl_by_rank(zsl, 4), "a");
    assert_null(kv_zsl_by_rank(zsl, 0));
    assert_null(kv_zsl_by_rank(zsl, 8));

    assert_int_equal(kv_zsl_delete(zsl, 2, "a", 1), 0);
    assert_int_equal(kv_zsl_delete(zsl, 2, "a", 1), -ENOENT);
    assert_int_equal(kv_zsl_delete(zsl, 3, "b", 1), -ENOENT); /* right member, wrong score */
    assert_int_equal(kv_zsl_check(zsl), 0);
    assert_string_equal(order(zsl, buf, sizeof(buf)), "low z  ab b high");
    kv_zsl_free(zsl);
    kv_zsl_free(NULL);
}

static void test_zsl_rank_and_by_rank_agree_at_10k(void **state) {
    (void)state;
    kv_zsl_t *zsl = kv_zsl_new();
    char m[32];
    unsigned rng = 1;
    for (int i = 0; i < 10000; i++) {
        rng = rng * 1103515245u + 12345u;
        int n = snprintf(m, sizeof(m), "m%d", i);
        assert_non_null(kv_zsl_insert(zsl, (double)(rng >> 20), m, (size_t)n));
    }
    assert_int_equal(kv_zsl_check(zsl), 0);
    assert_int_equal(zsl->level > 4, 1); /* 10k nodes at p=1/4 reach ~7 levels */
    size_t r = 0;
    for (kv_zsl_node_t *x = kv_zsl_first(zsl); x != NULL; x = kv_zsl_node_next(x)) {
        r++;
        size_t len;
        const uint8_t *mem = kv_zsl_node_member(x, &len);
        assert_int_equal(kv_zsl_rank(zsl, x->score, mem, len), r);
        assert_ptr_equal(kv_zsl_by_rank(zsl, r), x);
    }
    assert_int_equal(r, 10000);
    kv_zsl_free(zsl);
}

static void test_zsl_update_score_keeps_the_node(void **state) {
    (void)state;
    kv_zsl_t *zsl = kv_zsl_new();
    add(zsl, 1, "a");
    kv_zsl_node_t *b = add(zsl, 2, "b");
    add(zsl, 3, "c");
    char buf[64];
    /* Between its neighbours: in place. */
    kv_zsl_update_score(zsl, b, 2.5);
    assert_int_equal(kv_zsl_check(zsl), 0);
    assert_true(b->score == 2.5);
    /* Past a neighbour: moved, same address. */
    kv_zsl_update_score(zsl, b, 10);
    assert_int_equal(kv_zsl_check(zsl), 0);
    assert_string_equal(order(zsl, buf, sizeof(buf)), "a c b");
    assert_ptr_equal(kv_zsl_last(zsl), b);
    kv_zsl_update_score(zsl, b, -1);
    assert_int_equal(kv_zsl_check(zsl), 0);
    assert_string_equal(order(zsl, buf, sizeof(buf)), "b a c");
    assert_ptr_equal(kv_zsl_first(zsl), b);
    /* Equal to a neighbour's score: ordered by member. */
    kv_zsl_update_score(zsl, b, 3);
    assert_int_equal(kv_zsl_check(zsl), 0);
    assert_string_equal(order(zsl, buf, sizeof(buf)), "a b c");
    assert_int_equal(kv_zsl_rank(zsl, 3, "b", 1), 2);
    assert_int_equal(kv_zsl_delete_node(zsl, b), 0);
    assert_int_equal(kv_zsl_check(zsl), 0);
    assert_string_equal(order(zsl, buf, sizeof(buf)), "a c");
    kv_zsl_free(zsl);
}

/* --- Ranges --- */

static kv_zsl_t *one_to_ten(void) {
    kv_zsl_t *zsl = kv_zsl_new();
    char m[16];
    for (int i = 1; i <= 10; i++) {
        snprintf(m, sizeof(m), "s%d", i);
        add(zsl, i, m);
    }
    return zsl;
}

static void assert_range(const kv_zsl_t *zsl, kv_zsl_range_t r, const char *first,
                         const char *last) {
    if (first == NULL) {
        assert_null(kv_zsl_first_in_range(zsl, &r));
        assert_null(kv_zsl_last_in_range(zsl, &r));
        return;
    }
    assert_true(kv_zsl_is_in_range(zsl, &r));
    assert_member(kv_zsl_first_in_range(zsl, &r), first);
    assert_member(kv_zsl_last_in_range(zsl, &r), last);
}

static void test_zsl_score_ranges_honour_open_and_closed_ends(void **state) {
    (void)state;
    kv_zsl_t *zsl = one_to_ten();
    assert_range(zsl, (kv_zsl_range_t){3, 7, false, false}, "s3", "s7");
    assert_range(zsl, (kv_zsl_range_t){3, 7, true, false}, "s4", "s7");
    assert_range(zsl, (kv_zsl_range_t){3, 7, false, true}, "s3", "s6");
    assert_range(zsl, (kv_zsl_range_t){2.5, 3.5, false, false}, "s3", "s3");
    assert_range(zsl, (kv_zsl_range_t){5, 5, false, false}, "s5", "s5");
    assert_range(zsl, (kv_zsl_range_t){5, 5, true, false}, NULL, NULL);
    assert_range(zsl, (kv_zsl_range_t){7, 3, false, false}, NULL, NULL);
    assert_range(zsl, (kv_zsl_range_t){5.1, 5.9, false, false}, NULL, NULL);
    assert_range(zsl, (kv_zsl_range_t){10, INFINITY, true, false}, NULL, NULL);
    assert_range(zsl, (kv_zsl_range_t){-INFINITY, INFINITY, false, false}, "s1", "s10");
    assert_range(zsl, (kv_zsl_range_t){-INFINITY, 1, false, true}, NULL, NULL);
    /* is_in_range is the quick overlap test: exact for empty and outside ranges only. */
    assert_false(kv_zsl_is_in_range(zsl, &(kv_zsl_range_t){5, 5, true, false}));
    assert_false(kv_zsl_is_in_range(zsl, &(kv_zsl_range_t){7, 3, false, false}));
    assert_false(kv_zsl_is_in_range(zsl, &(kv_zsl_range_t){10, 20, true, false}));
    assert_false(kv_zsl_is_in_range(zsl, &(kv_zsl_range_t){-5, 1, false, true}));
    assert_true(kv_zsl_is_in_range(zsl, &(kv_zsl_range_t){5.1, 5.9, false, false}));
    kv_zsl_free(zsl);
}

static void assert_lex(const kv_zsl_t *zsl, kv_zsl_lexrange_t r, const char *first,
                       const char *last) {
    if (first == NULL) {
        assert_false(kv_zsl_is_in_lex_range(zsl, &r));
        assert_null(kv_zsl_first_in_lex_range(zsl, &r));
        assert_null(kv_zsl_last_in_lex_range(zsl, &r));
        return;
    }
    assert_true(kv_zsl_is_in_lex_range(zsl, &r));
    assert_member(kv_zsl_first_in_lex_range(zsl, &r), first);
    assert_member(kv_zsl_last_in_lex_range(zsl, &r), last);
}

static kv_zsl_lexrange_t lex(const char *min, const char *max) {
    /* "-", "+", "[x" (inclusive) or "(x" (exclusive), as ZRANGEBYLEX parses them. */
    kv_zsl_lexrange_t r = {0};
    if (min[0] == '-' || min[0] == '+') {
        r.min_inf = min[0] == '-' ? -1 : 1;
    } else {
        r.min = min + 1;
        r.minlen = strlen(min + 1);
        r.minex = min[0] == '(';
    }
    if (max[0] == '-' || max[0] == '+') {
        r.max_inf = max[0] == '-' ? -1 : 1;
    } else {
        r.max = max + 1;
        r.maxlen = strlen(max + 1);
        r.maxex = max[0] == '(';
    }
    return r;
}

static void test_zsl_lex_ranges_follow_zrangebylex(void **state) {
    (void)state;
    kv_zsl_t *zsl = kv_zsl_new();
    static const char *members[] = {"a", "b", "ba", "c", "d", "e"};
    for (int i = 0; i < 6; i++)
        add(zsl, 0, members[i]);
    assert_lex(zsl, lex("-", "+"), "a", "e");
    assert_lex(zsl, lex("[b", "[d"), "b", "d");
    assert_lex(zsl, lex("(b", "(d"), "ba", "c");
    assert_lex(zsl, lex("[bb", "+"), "c", "e");
    assert_lex(zsl, lex("-", "(b"), "a", "a");
    assert_lex(zsl, lex("[c", "[c"), "c", "c");
    assert_lex(zsl, lex("(c", "[c"), NULL, NULL);
    assert_lex(zsl, lex("[d", "[b"), NULL, NULL);
    assert_lex(zsl, lex("+", "+"), NULL, NULL);
    assert_lex(zsl, lex("-", "-"), NULL, NULL);
    assert_lex(zsl, lex("(e", "+"), NULL, NULL);
    kv_zsl_free(zsl);
}

/* --- Range deletion --- */

typedef struct deleted {
    char names[256];
    size_t used;
} deleted_t;

static void note_deleted(void *priv, kv_zsl_node_t *node) {
    deleted_t *d = priv;
    size_t len;
    const uint8_t *m = kv_zsl_node_member(node, &len);
    d->used += (size_t)snprintf(d->names + d->used, sizeof(d->names) - d->used, "%s%.*s",
                                d->used ? " " : "", (int)len, (const char *)m);
}

static void test_zsl_range_deletes_report_each_node(void **state) {
    (void)state;
    char buf[256];
    kv_zsl_t *zsl = one_to_ten();
    deleted_t d = {.used = 0};
    kv_zsl_range_t r = {3, 6, true, false};
    assert_int_equal(kv_zsl_delete_range_by_score(zsl, &r, note_deleted, &d), 3);
    assert_string_equal(d.names, "s4 s5 s6");
    assert_int_equal(kv_zsl_check(zsl), 0);
    assert_string_equal(order(zsl, buf, sizeof(buf)), "s1 s2 s3 s7 s8 s9 s10");
    d.used = 0;
    assert_int_equal(kv_zsl_delete_range_by_rank(zsl, 2, 3, note_deleted, &d), 2);
    assert_string_equal(d.names, "s2 s3");
    assert_int_equal(kv_zsl_check(zsl), 0);
    assert_int_equal(kv_zsl_delete_range_by_rank(zsl, 4, 100, NULL, NULL), 2);
    assert_int_equal(kv_zsl_delete_range_by_rank(zsl, 0, 1, NULL, NULL), 0);
    assert_int_equal(kv_zsl_delete_range_by_rank(zsl, 3, 2, NULL, NULL), 0);
    assert_int_equal(kv_zsl_check(zsl), 0);
    assert_string_equal(order(zsl, buf, sizeof(buf)), "s1 s7 s8");
    r = (kv_zsl_range_t){100, 200, false, false};
    assert_int_equal(kv_zsl_delete_range_by_score(zsl, &r, NULL, NULL), 0);
    kv_zsl_free(zsl);

    zsl = kv_zsl_new();
    static const char *members[] = {"a", "b", "c", "d", "e"};
    for (int i = 0; i < 5; i++)
        add(zsl, 0, members[i]);
    d.used = 0;
    kv_zsl_lexrange_t lr = lex("(a", "[c");
    assert_int_equal(kv_zsl_delete_range_by_lex(zsl, &lr, note_deleted, &d), 2);
    assert_string_equal(d.names, "b c");
    assert_int_equal(kv_zsl_check(zsl), 0);
    lr = lex("+", "-");
    assert_int_equal(kv_zsl_delete_range_by_lex(zsl, &lr, NULL, NULL), 0);
    lr = lex("-", "+");
    assert_int_equal(kv_zsl_delete_range_by_lex(zsl, &lr, NULL, NULL), 3);
    assert_int_equal(kv_zsl_len(zsl), 0);
    assert_int_equal(zsl->level, 1);
    assert_int_equal(kv_zsl_check(zsl), 0);
    kv_zsl_free(zsl);
}

/* --- Randomized against a sorted model --- */

typedef struct item {
    double score;
    char member[16];
} item_t;

static int item_cmp(const void *a, const void *b) {
    const item_t *x = a, *y = b;
    if (x->score != y->score) return x->score < y->score ? -1 : 1;
    return strcmp(x->member, y->member);
}

static void test_zsl_random_changes_match_a_model(void **state) {
    (void)state;
    enum { KEYS = 400 };
    kv_zsl_t *zsl = kv_zsl_new();
    item_t model[KEYS];
    bool present[KEYS] = {false};
    kv_zsl_node_t *nodes[KEYS] = {NULL};
    unsigned rng = 9;
    for (int op = 0; op < 20000; op++) {
        rng = rng * 1103515245u + 12345u;
        int k = (int)((rng >> 8) % KEYS);
        double score = (double)((rng >> 20) % 50); /* many ties */
        unsigned what = (rng >> 4) % 6;
        if (!present[k]) {
            snprintf(model[k].member, sizeof(model[k].member), "k%d", k);
            model[k].score = score;
            nodes[k] = kv_zsl_insert(zsl, score, model[k].member, strlen(model[k].member));
            assert_non_null(nodes[k]);
            present[k] = true;
        } else if (what < 2) {
            assert_int_equal(
                kv_zsl_delete(zsl, model[k].score, model[k].member, strlen(model[k].member)), 0);
            present[k] = false;
        } else if (what < 4) {
            kv_zsl_update_score(zsl, nodes[k], score);
            model[k].score = score;
        } else {
            size_t rank = 1;
            for (int j = 0; j < KEYS; j++)
                if (present[j] && item_cmp(&model[j], &model[k]) < 0) rank++;
            assert_int_equal(
                kv_zsl_rank(zsl, model[k].score, model[k].member, strlen(model[k].member)), rank);
            assert_ptr_equal(kv_zsl_by_rank(zsl, rank), nodes[k]);
        }
        assert_int_equal(kv_zsl_check(zsl), 0);
    }
    item_t sorted[KEYS];
    size_t n = 0;
    for (int j = 0; j < KEYS; j++)
        if (present[j]) sorted[n++] = model[j];
    qsort(sorted, n, sizeof(sorted[0]), item_cmp);
    assert_int_equal(kv_zsl_len(zsl), n);
    size_t i = 0;
    for (kv_zsl_node_t *x = kv_zsl_first(zsl); x != NULL; x = kv_zsl_node_next(x), i++) {
        assert_true(x->score == sorted[i].score);
        assert_member(x, sorted[i].member);
    }
    kv_zsl_free(zsl);
}

/* --- Memory and defrag --- */

static void test_zsl_mem_bytes_counts_levels_and_member(void **state) {
    (void)state;
    kv_zsl_t *zsl = kv_zsl_new();
    size_t empty = kv_zsl_mem_bytes(zsl);
    assert_int_equal(empty, sizeof(kv_zsl_t) + sizeof(kv_zsl_node_t) +
                                KV_ZSL_MAXLEVEL * sizeof(kv_zsl_level_t) + 1);
    kv_zsl_node_t *n = add(zsl, 1, "member");
    assert_int_equal(kv_zsl_node_bytes(n),
                     sizeof(kv_zsl_node_t) + n->height * sizeof(kv_zsl_level_t) + 7);
    assert_int_equal(kv_zsl_mem_bytes(zsl), empty + kv_zsl_node_bytes(n));
    kv_zsl_free(zsl);
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

static void *move_none(void *ptr) {
    (void)ptr;
    return NULL;
}

/* A move that also spoils the copy's score: a walk that searched for the next node by
 * (score, member) would go astray past it. */
static void *move_and_spoil_score(void *ptr) {
    kv_zsl_node_t *n = move_alloc(ptr);
    n->score = INFINITY;
    return n;
}

static void *last_moved_old[8], *last_moved_new[8];
static int nmoved_fn;

static void note_moved(void *priv, const kv_zsl_node_t *old, kv_zsl_node_t *moved) {
    (void)priv;
    if (nmoved_fn < 8) {
        last_moved_old[nmoved_fn] = (void *)(uintptr_t)old;
        last_moved_new[nmoved_fn] = moved;
    }
    nmoved_fn++;
}

/* A skiplist of 2000 nodes "r<i>" with score i; its order (order()) into before. */
static kv_zsl_t *numbered_zsl(char *before) {
    kv_zsl_t *zsl = kv_zsl_new();
    char m[16];
    for (int i = 0; i < 2000; i++) {
        int len = snprintf(m, sizeof(m), "r%d", i);
        assert_non_null(kv_zsl_insert(zsl, i, m, (size_t)len));
    }
    order(zsl, before, 32768);
    return zsl;
}

/* After moves that spoiled scores: gives the nodes their rank as score again, then the
 * list checks whole and in the order recorded in before. */
static void assert_whole_once_rescored(kv_zsl_t *zsl, const char *before, char *after) {
    size_t r = 0;
    for (kv_zsl_node_t *x = kv_zsl_first(zsl); x != NULL; x = kv_zsl_node_next(x))
        x->score = (double)r++;
    assert_int_equal(r, 2000);
    assert_int_equal(kv_zsl_check(zsl), 0);
    assert_string_equal(order(zsl, after, 32768), before);
    assert_member(kv_zsl_by_rank(zsl, 1000), "r999");
}

static void test_zsl_defrag_range_walks_in_pieces_without_searching(void **state) {
    (void)state;
    char *before = malloc(32768), *after = malloc(32768);
    kv_zsl_t *zsl = numbered_zsl(before);
    /* Pieces of 7 from rank 1: each moves 7 nodes and says where the next one starts. */
    moves = 0;
    size_t rank = 1, pieces = 0;
    while (rank != 0) {
        int was = moves;
        nmoved_fn = 0;
        kv_zsl_node_t *first = kv_zsl_by_rank(zsl, rank);
        size_t next =
            kv_zsl_defrag_range(zsl, rank, 7, move_and_spoil_score, NULL, note_moved, NULL);
        assert_true(moves - was <= 7);
        assert_int_equal(nmoved_fn, moves - was);
        assert_ptr_equal(last_moved_old[0], first);
        assert_ptr_equal(last_moved_new[0], kv_zsl_by_rank(zsl, rank));
        assert_true(next == 0 || next == rank + 7);
        rank = next;
        pieces++;
    }
    /* Every node moved although every moved node's score says it is last. */
    assert_int_equal(moves, 2000);
    assert_int_equal(pieces, (2000 + 6) / 7);
    assert_whole_once_rescored(zsl, before, after);
    /* A move that declines changes nothing and still advances; past the end is 0. */
    moves = 0;
    assert_int_equal(kv_zsl_defrag_range(zsl, 1990, 5, move_none, NULL, NULL, NULL), 1995);
    assert_int_equal(kv_zsl_defrag_range(zsl, 1996, 5, move_none, NULL, NULL, NULL), 0);
    assert_int_equal(kv_zsl_defrag_range(zsl, 2001, 5, move_alloc, NULL, NULL, NULL), 0);
    assert_int_equal(kv_zsl_defrag_range(zsl, 0, 5, move_alloc, NULL, NULL, NULL), 0);
    assert_int_equal(moves, 0);
    assert_int_equal(kv_zsl_check(zsl), 0);
    /* The tail is fixed when the last node moves. */
    assert_int_equal(kv_zsl_defrag_range(zsl, 2000, 5, move_alloc, NULL, NULL, NULL), 0);
    assert_int_equal(moves, 1);
    assert_int_equal(kv_zsl_check(zsl), 0);
    free(before);
    free(after);
    kv_zsl_free(zsl);
}

/* The batched form of move_and_spoil_score: moves every node whose position in the
 * calls so far is not a multiple of 3 (runs mix moved and kept neighbours). */
static int batch_calls, batch_seen;
static void move_batch_and_spoil(void **ptrs, size_t n) {
    batch_calls++;
    assert_true(n >= 1 && n <= 32);
    for (size_t i = 0; i < n; i++)
        if (batch_seen++ % 3 != 0) ptrs[i] = move_and_spoil_score(ptrs[i]);
}

static void test_zsl_defrag_range_moves_runs_in_one_batch(void **state) {
    (void)state;
    char *before = malloc(32768), *after = malloc(32768);
    kv_zsl_t *zsl = numbered_zsl(before);
    /* Pieces of 45: a run of 32 and one of 13 each, every node given to a run once; the
     * moved ones (two thirds) are reported, each with the node it was. */
    moves = 0;
    batch_calls = batch_seen = 0;
    size_t rank = 1, pieces = 0;
    while (rank != 0) {
        int was = moves;
        nmoved_fn = 0;
        size_t next =
            kv_zsl_defrag_range(zsl, rank, 45, move_alloc, move_batch_and_spoil, note_moved, NULL);
        assert_int_equal(nmoved_fn, moves - was);
        assert_true(next == 0 || next == rank + 45);
        rank = next;
        pieces++;
    }
    assert_int_equal(batch_seen, 2000);
    assert_int_equal(pieces, (2000 + 44) / 45);
    assert_int_equal(batch_calls, 2 * (2000 / 45) + 1); /* 44 pieces of 2 runs, one of 20 */
    assert_int_equal(moves, 2000 - (2000 + 2) / 3);
    /* Links, backward pointers, tail and spans hold; only the spoiled scores differ. */
    assert_whole_once_rescored(zsl, before, after);
    assert_member(kv_zsl_by_rank(zsl, 2000), "r1999");
    free(before);
    free(after);
    kv_zsl_free(zsl);
}

static void test_zsl_defrag_moves_nodes_and_fixes_links(void **state) {
    (void)state;
    kv_zsl_t *zsl = kv_zsl_new();
    char m[16];
    for (int i = 0; i < 500; i++) {
        int len = snprintf(m, sizeof(m), "d%d", i);
        assert_non_null(kv_zsl_insert(zsl, i % 37, m, (size_t)len));
    }
    char *before = malloc(8192), *after = malloc(8192);
    order(zsl, before, 8192);
    moves = 0;
    size_t walked = 0;
    for (kv_zsl_node_t *x = kv_zsl_first(zsl); x != NULL;
         x = kv_zsl_node_next(kv_zsl_defrag_node(zsl, x, move_alloc)))
        walked++;
    assert_int_equal(walked, 500);
    assert_int_equal(moves, 500);
    assert_int_equal(kv_zsl_check(zsl), 0);
    assert_string_equal(order(zsl, after, 8192), before);
    /* Ranks still work through the moved nodes' spans. */
    assert_member(kv_zsl_by_rank(zsl, 1), "d0");
    assert_int_equal(kv_zsl_rank(zsl, 0, "d0", 2), 1);
    /* A move that declines changes nothing. */
    kv_zsl_node_t *first = kv_zsl_first(zsl);
    assert_ptr_equal(kv_zsl_defrag_node(zsl, first, move_none), first);
    moves = 0;
    kv_zsl_defrag_struct(&zsl, move_alloc);
    assert_int_equal(moves, 2);
    assert_int_equal(kv_zsl_check(zsl), 0);
    assert_string_equal(order(zsl, after, 8192), before);
    free(before);
    free(after);
    kv_zsl_free(zsl);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_zsl_orders_by_score_then_member),
        cmocka_unit_test(test_zsl_rank_and_by_rank_agree_at_10k),
        cmocka_unit_test(test_zsl_update_score_keeps_the_node),
        cmocka_unit_test(test_zsl_score_ranges_honour_open_and_closed_ends),
        cmocka_unit_test(test_zsl_lex_ranges_follow_zrangebylex),
        cmocka_unit_test(test_zsl_range_deletes_report_each_node),
        cmocka_unit_test(test_zsl_random_changes_match_a_model),
        cmocka_unit_test(test_zsl_mem_bytes_counts_levels_and_member),
        cmocka_unit_test(test_zsl_defrag_moves_nodes_and_fixes_links),
        cmocka_unit_test(test_zsl_defrag_range_walks_in_pieces_without_searching),
        cmocka_unit_test(test_zsl_defrag_range_moves_runs_in_one_batch),
    };
    return cmocka_run_group_tests_name("kv_zskiplist", tests, NULL, NULL);
}
