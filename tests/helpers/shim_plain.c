/* SPDX-License-Identifier: MIT */
/*
 * shim_plain.c - a program that never heard of jemalloc: plain libc malloc/free. It
 * keeps 64 MiB allocated when it exits, so an exit report (MEMSHIM_REPORT=1) taken
 * from jemalloc's own counters must show at least that much.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { CHUNK = 1 << 20, CHUNKS = 64 };

int main(void) {
    static char *keep[CHUNKS];
    unsigned long sum = 0;
    for (int i = 0; i < CHUNKS; i++) {
        keep[i] = malloc(CHUNK);
        if (keep[i] == NULL) return 1;
        memset(keep[i], i, CHUNK);
        sum += (unsigned char)keep[i][CHUNK - 1];
        char *tmp = malloc(100 + (size_t)i);
        free(tmp);
    }
    printf("held %d MiB, sum %lu\n", CHUNKS, sum);
    return 0;
}
