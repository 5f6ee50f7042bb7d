/* SPDX-License-Identifier: MIT */
/*
 * hp_sites - a program with known allocation sites, for the heapprof analyser tests.
 *
 *   alloc_a keeps 8 MiB live (64 blocks of 128 KiB)
 *   alloc_b keeps 4 MiB live (1024 blocks of 4 KiB)
 *   leak_c  leaks small blocks (48 B each): 10000 before the early dump, 30000 after it
 *   churn   allocates and frees 32 MiB, so nothing of it is live at exit
 *
 * The tests run it sampled every 2^12 B and check the sites' order and amounts, so the sizes
 * are chosen for the order to be certain, not likely. A block of s bytes is sampled with
 * probability p = 1 - (1 - 2^-12)^s, independently of the others, and stands for s/p bytes
 * (tests/helpers/hp_sample_odds.py computes the odds below):
 *   alloc_a: p = 1 - 1.3e-14 per block; all 64 are sampled except with probability 8.1e-13,
 *            so it reports 8388608 B and 64 objects, exactly.
 *   alloc_b: p = 0.63, 647 samples expected; outside 4 MiB +-20% with probability 7.1e-17.
 *   leak_c:  p = 0.0117, 466 samples expected; outside 1920000 B +-35% with probability
 *            2.3e-13, and its 30000 later blocks outside 1440000 B +-40% with 5.8e-13.
 * Those windows do not overlap (8 MiB > 5.03 MB > 3.36 MB > 2.59 MB > 1.25 MB), and the
 * rest of the heap (stdio buffers, libstdc++'s pool) is under 0.2 MB, so a dump ranks
 * alloc_a > alloc_b > leak_c > everything else except with probability < 1.1e-12. (With
 * alloc_b at 2 MiB, 53 dumps in 1000 ranked leak_c above it; the model says 59.)
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

static void *keep_a[64];
static void *keep_b[1024];
static void *leaked_list; // leak_c's blocks, chained so that they stay reachable

void alloc_a(void);
void alloc_b(void);
void leak_c(int n);
void churn(void);

void alloc_a(void) {
    for (int i = 0; i < 64; i++) {
        keep_a[i] = malloc(128 * 1024);
        memset(keep_a[i], 'a', 128 * 1024);
    }
}

void alloc_b(void) {
    for (int i = 0; i < 1024; i++) {
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
