/* SPDX-License-Identifier: MIT */
/*
 * prof_bench - an allocation-heavy loop for timing the profiler's backtrace walkers
 * (tests/bench/prof_unwind.sh). It recurses DEPTH frames deep (a realistic stack for a
 * server), then replaces slots of a ring of live blocks with new blocks of varied sizes
 * (16 B .. 4 KiB, mean ~600 B), and prints the mean cost of one malloc+free pair:
 *
 *   prof_bench [OPS [DEPTH [THREADS [KEEP]]]]     (defaults 4000000, 24, 1, 0)
 *   -> "ops=4000000 depth=24 threads=1 ns_per_op=41.3"  (wall time / all ops)
 *
 * KEEP=1 leaves the ring live at exit, so a dump at exit shows the sampled stacks.
 * Run it under libmemshim with MEMSHIM_PROF=1, MEMSHIM_PROF_SAMPLE and
 * MEMSHIM_PROF_UNWINDER to compare walkers. Built with -fno-inline (every level of the
 * recursion is a real frame).
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

enum { RING = 4096 };

static const size_t sizes[] = {16, 24, 32, 48, 64, 96, 128, 256, 512, 1024, 2048, 4096};

struct job {
    long ops;
    int depth;
    unsigned seed;
    int keep;
};

static void *volatile sink;

static void work(const struct job *j) {
    void **ring = calloc(RING, sizeof(void *));
    unsigned x = j->seed;
    for (long i = 0; i < j->ops; i++) {
        x = x * 1103515245u + 12345u;
        size_t slot = (x >> 8) % RING;
        free(ring[slot]);
        char *p = malloc(sizes[(x >> 20) % (sizeof(sizes) / sizeof(sizes[0]))]);
        p[0] = (char)i;
        ring[slot] = p;
    }
    sink = ring;
    if (j->keep) return;
    for (size_t s = 0; s < RING; s++)
        free(ring[s]);
    free(ring);
}

static int descend(const struct job *j, int level) {
    if (level >= j->depth) {
        work(j);
        return level;
    }
    return descend(j, level + 1) + 1; /* not a tail call: every level keeps its frame */
}

static void *thread_main(void *arg) {
    descend(arg, 0);
    return NULL;
}

int main(int argc, char **argv) {
    long ops = argc > 1 ? atol(argv[1]) : 4000000;
    int depth = argc > 2 ? atoi(argv[2]) : 24;
    int threads = argc > 3 ? atoi(argv[3]) : 1;
    int keep = argc > 4 ? atoi(argv[4]) : 0;
    if (ops <= 0 || depth < 0 || threads <= 0 || threads > 64) {
        fprintf(stderr, "usage: prof_bench [OPS [DEPTH [THREADS [KEEP]]]]\n");
        return 2;
    }
    struct job jobs[64];
    pthread_t tids[64];
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int t = 0; t < threads; t++) {
        jobs[t] = (struct job){ops, depth, 12345u + (unsigned)t, keep};
        if (pthread_create(&tids[t], NULL, thread_main, &jobs[t]) != 0) return 1;
    }
    for (int t = 0; t < threads; t++)
        pthread_join(tids[t], NULL);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double ns = (double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec);
    printf("ops=%ld depth=%d threads=%d ns_per_op=%.1f\n", ops, depth, threads,
           ns / ((double)ops * (double)threads));
    return 0;
}
