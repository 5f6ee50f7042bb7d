/* SPDX-License-Identifier: MIT */
/* hp_statics: set.c's entry_new keeps 4 MiB live (4 blocks of 1 MiB). */
#include <stdlib.h>
#include <string.h>

void set_fill(void);

static void *set_blocks[4];

__attribute__((noinline)) static void *entry_new(size_t size) {
    void *p = malloc(size);
    if (p != NULL) memset(p, 's', size);
    return p;
}

void set_fill(void) {
    for (int i = 0; i < 4; i++)
        set_blocks[i] = entry_new(1 << 20);
}
