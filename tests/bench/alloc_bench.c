/* SPDX-License-Identifier: MIT */
/*
 * alloc_bench.c - a multi-threaded allocation-heavy workload for comparing allocators
 * under LD_PRELOAD (tests/bench/alloc_mt.sh runs it side by side).
 *
 * Each thread keeps a window of live blocks and, in a loop, frees a random one and
 * allocates a new block of a random size between 16 B and 4 KiB (skewed to small
 * sizes, as real programs are), writing its first and last bytes. Every 8th block is
 * handed to the next thread, which frees it (cross-thread frees, the remote-free path
 * of every allocator). The hand-over rings are static, so the harness itself does not
 * allocate. Prints the wall time of the threaded part and the rate.
 * usage: alloc_bench [threads] [ops-per-thread]
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

enum { WINDOW = 4096, BATCH = 256, RING = 1 << 16, MAX_THREADS = 64 };

typedef struct mailbox {
    pthread_mutex_t lock;
    size_t head, count;
    void *ring[RING];
} mailbox_t;

static mailbox_t boxes[MAX_THREADS];
static int nthreads;
static long ops_per_thread;
static int touch;
static pthread_barrier_t start;

static uint64_t rng_next(uint64_t *s) {
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

/* 16 B .. 4 KiB, mostly small: 3/4 of requests up to 256 B. */
static size_t pick_size(uint64_t r) {
    if ((r & 3) != 0) return 16 + (size_t)((r >> 8) % 241);
    return 16 + (size_t)((r >> 8) % 4081);
}

static void post(int to, void **items, size_t n) {
    mailbox_t *b = &boxes[to];
    pthread_mutex_lock(&b->lock);
    size_t room = RING - b->count;
    size_t k = n < room ? n : room;
    for (size_t i = 0; i < k; i++)
        b->ring[(b->head + b->count + i) % RING] = items[i];
    b->count += k;
    pthread_mutex_unlock(&b->lock);
    for (size_t i = k; i < n; i++)
        free(items[i]); /* ring full: free locally */
}

static void drain(int self) {
    static __thread void *local[RING];
    mailbox_t *b = &boxes[self];
    pthread_mutex_lock(&b->lock);
    size_t n = b->count;
    for (size_t i = 0; i < n; i++)
        local[i] = b->ring[(b->head + i) % RING];
    b->head = (b->head + n) % RING;
    b->count = 0;
    pthread_mutex_unlock(&b->lock);
    for (size_t i = 0; i < n; i++)
        free(local[i]);
}

static void *worker(void *arg) {
    int self = (int)(intptr_t)arg;
    int next = (self + 1) % nthreads;
    uint64_t seed = 0x9e3779b97f4a7c15ull * (uint64_t)(self + 1);
    void **win = calloc(WINDOW, sizeof(void *));
    void *out[BATCH];
    size_t nout = 0;
    pthread_barrier_wait(&start);
    for (long i = 0; i < ops_per_thread; i++) {
        uint64_t r = rng_next(&seed);
        size_t k = (size_t)(r >> 40) % WINDOW;
        free(win[k]);
        size_t sz = pick_size(r);
        char *p = malloc(sz);
        if (p == NULL) abort();
        if (touch) memset(p, (int)i, sz);
        p[0] = (char)i;
        p[sz - 1] = (char)sz;
        if ((i & 7) == 7 && nthreads > 1) {
            win[k] = NULL;
            out[nout++] = p;
            if (nout == BATCH) {
                post(next, out, nout);
                nout = 0;
            }
        } else {
            win[k] = p;
        }
        if ((i & 1023) == 0) drain(self);
    }
    post(next, out, nout);
    for (size_t k = 0; k < WINDOW; k++)
        free(win[k]);
    free(win);
    return NULL;
}

int main(int argc, char **argv) {
    nthreads = argc > 1 ? atoi(argv[1]) : 4;
    ops_per_thread = argc > 2 ? atol(argv[2]) : 4000000;
    touch = argc > 3 ? atoi(argv[3]) : 0;
    if (nthreads < 1 || nthreads > MAX_THREADS || ops_per_thread < 1) {
        fprintf(stderr, "usage: alloc_bench [threads 1..%d] [ops-per-thread] [touch 0|1]\n",
                MAX_THREADS);
        return 2;
    }
    for (int i = 0; i < nthreads; i++)
        pthread_mutex_init(&boxes[i].lock, NULL);
    pthread_barrier_init(&start, NULL, (unsigned)nthreads + 1);
    pthread_t t[MAX_THREADS];
    for (int i = 0; i < nthreads; i++)
        pthread_create(&t[i], NULL, worker, (void *)(intptr_t)i);
    struct timespec a, b;
    pthread_barrier_wait(&start);
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (int i = 0; i < nthreads; i++)
        pthread_join(t[i], NULL);
    clock_gettime(CLOCK_MONOTONIC, &b);
    for (int i = 0; i < nthreads; i++)
        drain(i);
    double secs = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
    double ops = (double)nthreads * (double)ops_per_thread;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
                 (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
    printf("threads %d ops %.0f seconds %.4f mops_per_sec %.3f cpu_seconds %.4f\n", nthreads, ops,
           secs, ops / secs / 1e6, cpu);
    return 0;
}
