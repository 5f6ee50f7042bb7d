/* SPDX-License-Identifier: MIT */
/*
 * kv_list_model_test.h - a model list for the listpack and quicklist unit tests: each
 * element kept as its string form (NUL-terminated, with its length), inserted and deleted
 * at a position, so a structure can be compared with it after every change. Include after
 * test_common.h.
 */
#ifndef KV_LIST_MODEL_TEST_H
#define KV_LIST_MODEL_TEST_H

typedef struct model {
    char **items;
    size_t *lens;
    size_t n, cap;
} model_t;

static void model_insert(model_t *m, size_t at, const void *s, size_t len) {
    if (m->n == m->cap) {
        m->cap = m->cap ? m->cap * 2 : 64;
        m->items = realloc(m->items, m->cap * sizeof(char *));
        m->lens = realloc(m->lens, m->cap * sizeof(size_t));
        assert_non_null(m->items);
        assert_non_null(m->lens);
    }
    memmove(m->items + at + 1, m->items + at, (m->n - at) * sizeof(char *));
    memmove(m->lens + at + 1, m->lens + at, (m->n - at) * sizeof(size_t));
    m->items[at] = malloc(len + 1);
    memcpy(m->items[at], s, len);
    m->items[at][len] = '\0';
    m->lens[at] = len;
    m->n++;
}

static void model_delete(model_t *m, size_t at, size_t count) {
    for (size_t i = at; i < at + count; i++)
        free(m->items[i]);
    memmove(m->items + at, m->items + at + count, (m->n - at - count) * sizeof(char *));
    memmove(m->lens + at, m->lens + at + count, (m->n - at - count) * sizeof(size_t));
    m->n -= count;
}

static void model_free(model_t *m) {
    model_delete(m, 0, m->n);
    free(m->items);
    free(m->lens);
}

#endif /* KV_LIST_MODEL_TEST_H */
