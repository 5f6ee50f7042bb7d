/* SPDX-License-Identifier: MIT */
/*
 * hp_sites - a program with known allocation sites, for the heapprof analyser tests.
 *
 *   alloc_a keeps 8 MiB live (128 blocks of 64 KiB)
 *   alloc_b keeps 2 MiB live (512 blocks of 4 KiB)
 *   leak_c  leaks small blocks (48 B each): 10000 before the early dump, 30000 after it
 *   churn   allocates and frees 32 MiB, so nothing of it is live at exit
 *
 * Run it with jemalloc's profiler on (MALLOC_CONF=prof:true,prof_final:true,...); with an
 * argument it also writes an early dump to that path through jemalloc's prof.dump (looked up
 * with dlsym, so the program runs under any allocator), before the second batch of leaks.
 * Built with -fno-inline, so every site is its own frame.
 */
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef int (*mallctl_fn)(const char *, void *, size_t *, void *, size_t);

static void *keep_a[128];
static void *keep_b[512];
static void *leaked_list; // leak_c's blocks, chained so that they stay reachable

void alloc_a(void);
void alloc_b(void);
void leak_c(int n);
void churn(void);

void alloc_a(void) {
    for (int i = 0; i < 128; i++) {
        keep_a[i] = malloc(64 * 1024);
        memset(keep_a[i], 'a', 64 * 1024);
    }
}

void alloc_b(void) {
    for (int i = 0; i < 512; i++) {
        keep_b[i] = malloc(4096);
        memset(keep_b[i], 'b', 4096);
    }
}

void leak_c(int n) {
    for (int i = 0; i < n; i++) {
        void **p = malloc(48);
        p[0] = leaked_list;
        leaked_list = p;
    }
}

void churn(void) {
    for (int i = 0; i < 2048; i++) {
        char *p = malloc(16 * 1024);
        p[0] = (char)i;
        free(p);
    }
}

static int early_dump(const char *path) {
    mallctl_fn ctl = (mallctl_fn)(uintptr_t)dlsym(RTLD_DEFAULT, "mallctl");
    if (ctl == NULL) {
        fprintf(stderr, "hp_sites: no mallctl in this process (is jemalloc loaded?)\n");
        return -1;
    }
    int rc = ctl("prof.dump", NULL, NULL, (void *)&path, sizeof(path));
    if (rc != 0) {
        fprintf(stderr, "hp_sites: prof.dump(%s) failed: %s\n", path, strerror(rc));
        return -1;
    }
    return 0;
}

int main(int argc, char **argv) {
    alloc_a();
    alloc_b();
    leak_c(10000);
    churn();
    if (argc > 1 && early_dump(argv[1]) != 0) return 1;
    leak_c(30000);
    churn();
    printf("hp_sites: done\n");
    return 0;
}
