/* SPDX-License-Identifier: MIT */
/*
 * later.c - the "defrag later" list: values too big to walk in one step are deferred by
 * name, with a cursor, and resumed by looking the name up again (Valkey's defrag_later).
 * Keeping names rather than pointers is what makes a key deleted or retyped between two
 * steps harmless. A singly linked FIFO with a tail pointer; each node holds its name.
 */
#include "defrag_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

typedef struct later_node {
    struct later_node *next;
    uint64_t cursor;
    size_t len;
    unsigned char name[];
} later_node_t;

struct defrag_later {
    later_node_t *head;
    later_node_t *tail;
    size_t count;
};

defrag_later_t *defrag_later_new(void) {
    return calloc(1, sizeof(defrag_later_t));
}

void defrag_later_free(defrag_later_t *l) {
    if (l == NULL) return;
    defrag_later_clear(l);
    free(l);
}

int defrag_later_add(defrag_later_t *l, const void *name, size_t len) {
    if (len > SIZE_MAX - sizeof(later_node_t)) return -ENOMEM;
    later_node_t *n = malloc(sizeof(*n) + len);
    if (n == NULL) return -ENOMEM;
    n->next = NULL;
    n->cursor = 0;
    n->len = len;
    if (len > 0) memcpy(n->name, name, len);
    if (l->tail != NULL)
        l->tail->next = n;
    else
        l->head = n;
    l->tail = n;
    l->count++;
    return 0;
}

bool defrag_later_head(defrag_later_t *l, const void **name, size_t *len, uint64_t **cursor) {
    later_node_t *n = l->head;
    if (n == NULL) return false;
    if (name != NULL) *name = n->name;
    if (len != NULL) *len = n->len;
    if (cursor != NULL) *cursor = &n->cursor;
    return true;
}

void defrag_later_pop(defrag_later_t *l) {
    later_node_t *n = l->head;
    if (n == NULL) return;
    l->head = n->next;
    if (l->head == NULL) l->tail = NULL;
    l->count--;
    free(n);
}

void defrag_later_clear(defrag_later_t *l) {
    while (l->head != NULL)
        defrag_later_pop(l);
}

size_t defrag_later_count(const defrag_later_t *l) {
    return l->count;
}

int defrag_later_check(const defrag_later_t *l) {
    size_t n = 0;
    const later_node_t *last = NULL;
    for (const later_node_t *p = l->head; p != NULL; p = p->next) {
        last = p;
        n++;
    }
    if (n != l->count || last != l->tail) return -EPROTO;
    return 0;
}
