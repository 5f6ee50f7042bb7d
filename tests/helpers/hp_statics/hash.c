/* SPDX-License-Identifier: MIT */
/* hp_statics: hash.c's entry_new keeps 16 MiB live (16 blocks of 1 MiB). */
#include <stdlib.h>
#include <string.h>

void hash_fill(void);

static void *hash_blocks[16];

__attribute__((noinline)) static void *entry_new(size_t size) {
    void *p = malloc(size);
    if (p != NULL) memset(p, 'h', size);
    return p;
}

void hash_fill(void) {
    for (int i = 0; i < 16; i++)
        hash_blocks[i] = entry_new(1 << 20);
}
