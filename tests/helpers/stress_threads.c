/* SPDX-License-Identifier: MIT */
/*
 * stress_threads.c - many threads allocating and freeing across threads. Every thread is a
 * producer and a consumer: it allocates blocks (malloc, calloc, realloc, aligned_alloc,
 * posix_memalign; tiny to 1 MB), fills them with a pattern derived from (producer, seq),
 * and hands them to the next thread's queue; it takes blocks from its own queue, checks
 * every byte against the pattern, sometimes reallocates them (a foreign block grown or
 * shrunk) and checks again, then frees them. So nearly every free is of another
 * thread's block.
 * usage: stress_threads [threads=256] [items per thread=1000]
 * Prints counts and an order-independent checksum (never addresses), so the output is
 * the same under any allocator; exits 1 on a corrupted block or a failed allocation.
 * Under libmemshim it also prints, on stderr, the bytes held before and after the run
 * (memshim_stats_get): every block was freed, so they should match.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { QCAP = 32 };

typedef struct item {
    uint32_t producer, seq;
    size_t size;   /* bytes of the block, header included */
    uint64_t csum; /* sum of the payload bytes' pattern values */
} item_t;

typedef struct queue {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    item_t *slot[QCAP];
    unsigned head, len;
} queue_t;

static unsigned nthreads, nitems;
static queue_t *queues;
static atomic_ulong consumed, bad, total_bytes;
static atomic_ullong total_csum;

/* Reports a problem; only the first few are printed. */
static void report(const char *what, const item_t *it) {
    if (atomic_fetch_add(&bad, 1) < 10)
        fprintf(stderr, "%s (block of thread %u, seq %u)\n", what, it ? it->producer : 0,
                it ? it->seq : 0);
}

static uint64_t mix(uint64_t x) {
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

/* The pattern: 64-bit word j of a payload is key + j * golden; a tail byte is its index. */
static inline uint64_t pat(uint64_t key, size_t j) {
    return key + j * 0x9e3779b97f4a7c15ull;
}

/* Fills (or, with check, verifies) n payload bytes; returns the checksum, or sets *bad. */
static uint64_t pattern(uint8_t *pl, size_t n, uint64_t key, bool check, bool *bad) {
    uint64_t sum = 0;
    size_t words = n / 8;
    for (size_t j = 0; j < words; j++) {
        uint64_t w = pat(key, j);
        if (check) {
            uint64_t have;
            memcpy(&have, pl + 8 * j, 8);
            if (have != w) *bad = true;
        } else {
            memcpy(pl + 8 * j, &w, 8);
        }
        sum += w;
    }
    for (size_t i = 8 * words; i < n; i++) {
        if (check && pl[i] != (uint8_t)i) *bad = true;
        if (!check) pl[i] = (uint8_t)i;
        sum += (uint8_t)i;
    }
    return sum;
}

static size_t pick_size(uint64_t r) {
    switch (r % 64) {
    case 0: return sizeof(item_t) + (r >> 8) % (1u << 20); /* large, up to 1 MB */
    case 1:
    case 2:
    case 3:
    case 4: return sizeof(item_t) + (r >> 8) % 32768;
    default: return sizeof(item_t) + (r >> 8) % 512;
    }
}

static item_t *produce(unsigned id, unsigned seq) {
    uint64_t key = mix((uint64_t)id << 32 | seq);
    size_t size = pick_size(mix(key));
    item_t *it = NULL;
    switch (key % 5) {
    case 0: it = malloc(size); break;
    case 1: it = calloc(1, size); break;
    case 2:
        it = malloc(size / 2 + sizeof(item_t));
        if (it != NULL) {
            item_t *r = realloc(it, size);
            if (r == NULL) free(it);
            it = r;
        }
        break;
    case 3: it = aligned_alloc(64, (size + 63) & ~(size_t)63); break;
    default: {
        void *p = NULL;
        it = posix_memalign(&p, 4096, size) == 0 ? p : NULL;
        break;
    }
    }
    if (it == NULL) return NULL;
    it->producer = id;
    it->seq = seq;
    it->size = size;
    it->csum = pattern((uint8_t *)(it + 1), size - sizeof(*it), key, false, NULL);
    return it;
}

/* Checks the first n payload bytes of a block against its pattern (n: all, or whole words). */
static int verify(item_t *it, size_t n) {
    uint64_t key = mix((uint64_t)it->producer << 32 | it->seq);
    bool bad_bytes = false;
    uint64_t sum = pattern((uint8_t *)(it + 1), n, key, true, &bad_bytes);
    if (bad_bytes) return -1;
    return n != it->size - sizeof(*it) || sum == it->csum ? 0 : -1;
}

static void consume(item_t *it) {
    if (verify(it, it->size - sizeof(*it)) != 0) report("corrupt block", it);
    atomic_fetch_add(&total_csum, it->csum);
    atomic_fetch_add(&total_bytes, it->size);
    if (it->seq % 4 == 0) {
        /* A foreign block resized by its consumer: the prefix must survive. */
        size_t keep =
            it->seq % 8 == 0 ? it->size : sizeof(*it) + ((it->size - sizeof(*it)) / 2 & ~(size_t)7);
        size_t nsize = it->seq % 8 == 0 ? it->size * 2 : keep;
        item_t *r = realloc(it, nsize);
        if (r == NULL) {
            report("realloc failed", it);
        } else {
            it = r;
            if (verify(it, keep - sizeof(*it)) != 0) report("realloc lost data", it);
        }
    }
    free(it);
    atomic_fetch_add(&consumed, 1);
}

static void push(queue_t *q, item_t *it, queue_t *own) {
    for (;;) {
        pthread_mutex_lock(&q->mu);
        if (q->len < QCAP) {
            q->slot[(q->head + q->len++) % QCAP] = it;
            pthread_cond_signal(&q->cv);
            pthread_mutex_unlock(&q->mu);
            return;
        }
        pthread_mutex_unlock(&q->mu);
        /* The next queue is full: drain our own so the ring keeps moving. */
        pthread_mutex_lock(&own->mu);
        item_t *mine = own->len > 0 ? own->slot[own->head] : NULL;
        if (mine != NULL) {
            own->head = (own->head + 1) % QCAP;
            own->len--;
        }
        pthread_mutex_unlock(&own->mu);
        if (mine != NULL)
            consume(mine);
        else
            sched_yield();
    }
}

static item_t *pop(queue_t *q, bool wait) {
    pthread_mutex_lock(&q->mu);
    if (q->len == 0 && wait) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 5 * 1000 * 1000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&q->cv, &q->mu, &ts);
    }
    item_t *it = NULL;
    if (q->len > 0) {
        it = q->slot[q->head];
        q->head = (q->head + 1) % QCAP;
        q->len--;
    }
    pthread_mutex_unlock(&q->mu);
    return it;
}

static void *worker(void *arg) {
    unsigned id = (unsigned)(uintptr_t)arg;
    queue_t *own = &queues[id], *next = &queues[(id + 1) % nthreads];
    for (unsigned seq = 0; seq < nitems; seq++) {
        item_t *it = produce(id, seq);
        if (it == NULL) {
            report("allocation failed", NULL);
            atomic_fetch_add(&consumed, 1); /* nothing to wait for */
            continue;
        }
        push(next, it, own);
        item_t *got = pop(own, false);
        if (got != NULL) consume(got);
    }
    const unsigned long total = (unsigned long)nthreads * nitems;
    while (atomic_load(&consumed) < total) {
        item_t *got = pop(own, true);
        if (got != NULL) consume(got);
    }
    return NULL;
}

/* Bytes the program holds according to libmemshim (memshim_stats_get), if it is loaded. */
static long long shim_allocated(void) {
    typedef struct {
        size_t allocated, rest[16];
    } stats_t; /* memshim_stats_t starts with allocated; room for the rest */
    int (*get)(stats_t *) = (int (*)(stats_t *))dlsym(RTLD_DEFAULT, "memshim_stats_get");
    stats_t st;
    return get != NULL && get(&st) == 0 ? (long long)st.allocated : -1;
}

int main(int argc, char **argv) {
    nthreads = argc > 1 ? (unsigned)strtoul(argv[1], NULL, 10) : 256;
    nitems = argc > 2 ? (unsigned)strtoul(argv[2], NULL, 10) : 1000;
    if (nthreads < 2 || nitems < 1) return 2;
    long long before = shim_allocated();
    queues = calloc(nthreads, sizeof(*queues));
    pthread_t *tid = calloc(nthreads, sizeof(*tid));
    if (queues == NULL || tid == NULL) return 1;
    for (unsigned i = 0; i < nthreads; i++) {
        pthread_mutex_init(&queues[i].mu, NULL);
        pthread_cond_init(&queues[i].cv, NULL);
    }
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 256 * 1024);
    for (unsigned i = 0; i < nthreads; i++) {
        if (pthread_create(&tid[i], &attr, worker, (void *)(uintptr_t)i) != 0) {
            fprintf(stderr, "pthread_create %u failed\n", i);
            return 1;
        }
    }
    for (unsigned i = 0; i < nthreads; i++)
        pthread_join(tid[i], NULL);
    printf("threads %u items %lu bytes %lu checksum %llu corrupt %lu\n", nthreads,
           atomic_load(&consumed), atomic_load(&total_bytes),
           (unsigned long long)atomic_load(&total_csum), atomic_load(&bad));
    for (unsigned i = 0; i < nthreads; i++) {
        pthread_mutex_destroy(&queues[i].mu);
        pthread_cond_destroy(&queues[i].cv);
    }
    free(queues);
    free(tid);
    if (before >= 0) /* stderr: only under the shim */
        fprintf(stderr, "memshim allocated: before %lld after %lld\n", before, shim_allocated());
    return atomic_load(&bad) == 0 ? 0 : 1;
}
