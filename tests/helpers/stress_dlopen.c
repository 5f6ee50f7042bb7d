/* SPDX-License-Identifier: MIT */
/*
 * stress_dlopen.c - dlopen/dlclose, over and over, of a library that allocates (its
 * constructor, its destructor, its functions, and its thread-local storage, which a
 * dlopen'ed library gets from malloc through __tls_get_addr), with pointers crossing the
 * boundary both ways: the program frees what the library allocated and the other way
 * round, reallocates across it, and frees blocks of the library after it was unloaded.
 * Phase 1: one thread, each round really unloads the library (checked with RTLD_NOLOAD).
 * Phase 2: several threads open, use and close it at the same time.
 * usage: stress_dlopen LIB.so [rounds=2000] [threads=4]
 * LIB.so exports lib_alloc(n, fill), lib_free(p), lib_dup(s), lib_grow(p, n),
 * lib_tls_touch(n) and lib_tls_release() (tests/integration/stress_shim_dlopen.sh builds
 * it). Prints counts only; exits 1 on any failure.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct lib {
    void *h;
    void *(*alloc)(size_t, int);
    void (*free)(void *);
    char *(*dup)(const char *);
    void *(*grow)(void *, size_t);
    size_t (*tls_touch)(size_t);
    void (*tls_release)(void);
} lib_t;

static const char *path;
static int rounds;
static atomic_int failures, unloads, crossings;

static void fail(const char *what) {
    if (atomic_fetch_add(&failures, 1) < 10) fprintf(stderr, "failure: %s\n", what);
}

static int lib_open(lib_t *l) {
    l->h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (l->h == NULL) {
        fail(dlerror());
        return -1;
    }
    *(void **)&l->alloc = dlsym(l->h, "lib_alloc");
    *(void **)&l->free = dlsym(l->h, "lib_free");
    *(void **)&l->dup = dlsym(l->h, "lib_dup");
    *(void **)&l->grow = dlsym(l->h, "lib_grow");
    *(void **)&l->tls_touch = dlsym(l->h, "lib_tls_touch");
    *(void **)&l->tls_release = dlsym(l->h, "lib_tls_release");
    if (!l->alloc || !l->free || !l->dup || !l->grow || !l->tls_touch || !l->tls_release) {
        fail("missing symbol");
        dlclose(l->h);
        return -1;
    }
    return 0;
}

static int all_bytes(const unsigned char *p, size_t n, int v) {
    for (size_t i = 0; i < n; i++)
        if (p[i] != (unsigned char)v) return 0;
    return 1;
}

/* One round of traffic across the boundary; returns a block the library allocated,
 * for the caller to free after dlclose. */
static void *use(const lib_t *l, unsigned r) {
    size_t n = 16 + (r * 7919u) % 100000;
    /* Program allocates, library frees. */
    void *a = malloc(n);
    if (a == NULL) {
        fail("malloc");
        return NULL;
    }
    memset(a, 1, n);
    l->free(a);
    /* Library allocates, program checks and frees. */
    unsigned char *b = l->alloc(n, 2);
    if (b == NULL || !all_bytes(b, n, 2)) fail("lib_alloc");
    free(b);
    /* Library duplicates, program grows, library frees. */
    char *s = l->dup("crossing the boundary");
    if (s == NULL) {
        fail("lib_dup");
        return NULL;
    }
    char *g = realloc(s, 4096);
    if (g == NULL || strcmp(g, "crossing the boundary") != 0) fail("realloc of lib_dup");
    l->free(g);
    /* Program allocates, library grows, program frees. */
    char *p = malloc(32);
    if (p == NULL) {
        fail("malloc");
        return NULL;
    }
    strcpy(p, "grown by the library");
    char *q = l->grow(p, 65536 + r % 1000);
    if (q == NULL || strcmp(q, "grown by the library") != 0) fail("lib_grow");
    free(q);
    if (l->tls_touch(256 + r % 512) == 0) fail("lib_tls_touch");
    l->tls_release();
    atomic_fetch_add(&crossings, 4);
    /* A block that outlives the library. */
    return l->alloc(1000 + r % 5000, 3);
}

static void *thread_main(void *arg) {
    unsigned base = (unsigned)(uintptr_t)arg;
    for (int i = 0; i < rounds; i++) {
        lib_t l;
        if (lib_open(&l) != 0) return NULL;
        void *keep = use(&l, base + (unsigned)i);
        dlclose(l.h);
        if (keep == NULL || !all_bytes(keep, 1000, 3)) fail("block outliving the library");
        free(keep);
    }
    return NULL;
}

int main(int argc, char **argv) {
    if (argc < 2) return 2;
    path = argv[1];
    rounds = argc > 2 ? atoi(argv[2]) : 2000;
    int nthreads = argc > 3 ? atoi(argv[3]) : 4;
    if (rounds < 1 || nthreads < 1 || nthreads > 64) return 2;

    for (int i = 0; i < rounds; i++) {
        lib_t l;
        if (lib_open(&l) != 0) break;
        void *keep = use(&l, (unsigned)i);
        dlclose(l.h);
        void *again = dlopen(path, RTLD_NOW | RTLD_NOLOAD);
        if (again == NULL)
            atomic_fetch_add(&unloads, 1);
        else
            dlclose(again);
        if (keep == NULL || !all_bytes(keep, 1000, 3)) fail("block outliving the library");
        free(keep);
    }

    pthread_t t[64];
    for (int i = 0; i < nthreads; i++)
        if (pthread_create(&t[i], NULL, thread_main, (void *)(uintptr_t)(i * 1000)) != 0) return 1;
    for (int i = 0; i < nthreads; i++)
        pthread_join(t[i], NULL);

    printf("rounds %d threads %d unloads %d crossings %d failures %d\n", rounds, nthreads,
           atomic_load(&unloads), atomic_load(&crossings), atomic_load(&failures));
    return atomic_load(&failures) == 0 && atomic_load(&unloads) == rounds ? 0 : 1;
}
