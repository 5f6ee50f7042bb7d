/* SPDX-License-Identifier: MIT */
/*
 * shim_entry_points.c - calls every allocation entry point libmemshim.so exports, and
 * frees each block through another entry point than the one that made it (reallocarray
 * then free, pvalloc then free, malloc then free_sized, __libc_malloc then free...).
 * Natively and under the shim every pair must agree on one heap; under valgrind's
 * memcheck (tests/integration/shim_valgrind.sh) every pair must end in memcheck's heap,
 * so memcheck reports no invalid free and no invalid access. Names glibc does not
 * declare or no longer links (cfree, free_sized, __libc_*) are found with dlsym and
 * skipped when absent. Writes every byte it asked for. Prints "ok N" (N calls made);
 * exits 1 with a message when a call fails.
 */
#ifndef _GNU_SOURCE
#    define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int calls;

static void check(int ok, const char *what) {
    if (!ok) {
        fprintf(stderr, "shim_entry_points: %s failed\n", what);
        exit(1);
    }
    calls++;
}

/* Fills n bytes (memcheck flags any byte outside the block) and checks the alignment. */
static void *use(void *p, size_t n, size_t align, const char *what) {
    check(p != NULL, what);
    check(((uintptr_t)p & (align - 1)) == 0, what);
    memset(p, 0x5a, n);
    return p;
}

static void *sym(const char *name) {
    return dlsym(RTLD_DEFAULT, name);
}

int main(void) {
    size_t ps = (size_t)sysconf(_SC_PAGESIZE);

    /* The standard names. */
    void *p = use(malloc(24), 24, 1, "malloc");
    p = use(realloc(p, 4000), 4000, 1, "realloc");
    p = use(reallocarray(p, 10, 700), 7000, 1, "reallocarray (grow)");
    p = use(reallocarray(p, 3, 5), 15, 1, "reallocarray (shrink)");
    free(p);
    p = use(reallocarray(NULL, 7, 9), 63, 1, "reallocarray (NULL)");
    check(malloc_usable_size(p) >= 63, "malloc_usable_size");
    free(p);
    p = use(calloc(5, 11), 55, 1, "calloc");
    p = use(realloc(p, 9), 9, 1, "realloc (shrink)");
    free(p);
    check(posix_memalign(&p, 64, 100) == 0, "posix_memalign");
    free(use(p, 100, 64, "posix_memalign"));
    free(use(aligned_alloc(128, 256), 256, 128, "aligned_alloc"));
    free(use(memalign(256, 10), 10, 256, "memalign"));
    free(use(valloc(10), 10, ps, "valloc"));
    free(use(pvalloc(10), ps, ps, "pvalloc"));
    free(use(pvalloc(0), ps, ps, "pvalloc(0)"));
    p = use(pvalloc(ps + 1), 2 * ps, ps, "pvalloc (two pages)");
    p = use(reallocarray(p, 2, 3), 6, 1, "reallocarray (pvalloc block)");
    free(p);

    /* Names glibc does not link (or no longer does): the shim's, when preloaded. */
    void (*cfree_)(void *) = (void (*)(void *))sym("cfree");
    void (*free_sized_)(void *, size_t) = (void (*)(void *, size_t))sym("free_sized");
    void (*free_aligned_sized_)(void *, size_t, size_t) =
        (void (*)(void *, size_t, size_t))sym("free_aligned_sized");
    void *(*libc_malloc)(size_t) = (void *(*)(size_t))sym("__libc_malloc");
    void (*libc_free)(void *) = (void (*)(void *))sym("__libc_free");
    void (*libc_cfree)(void *) = (void (*)(void *))sym("__libc_cfree");
    void *(*libc_calloc)(size_t, size_t) = (void *(*)(size_t, size_t))sym("__libc_calloc");
    void *(*libc_realloc)(void *, size_t) = (void *(*)(void *, size_t))sym("__libc_realloc");
    void *(*libc_memalign)(size_t, size_t) = (void *(*)(size_t, size_t))sym("__libc_memalign");
    void *(*libc_valloc)(size_t) = (void *(*)(size_t))sym("__libc_valloc");
    void *(*libc_pvalloc)(size_t) = (void *(*)(size_t))sym("__libc_pvalloc");
    int (*posix_memalign_)(void **, size_t, size_t) =
        (int (*)(void **, size_t, size_t))sym("__posix_memalign");

    if (cfree_ != NULL) cfree_(use(malloc(33), 33, 1, "malloc for cfree"));
    if (free_sized_ != NULL) {
        free_sized_(use(malloc(40), 40, 1, "malloc for free_sized"), 40);
        free_sized_(use(calloc(3, 50), 150, 1, "calloc for free_sized"), 150);
        free_sized_(NULL, 0);
    }
    if (free_aligned_sized_ != NULL)
        free_aligned_sized_(use(aligned_alloc(64, 128), 128, 64, "aligned_alloc"), 64, 128);
    if (libc_malloc != NULL) {
        p = use(libc_malloc(70), 70, 1, "__libc_malloc");
        if (libc_realloc != NULL) p = use(libc_realloc(p, 700), 700, 1, "__libc_realloc");
        free(p);
        p = use(malloc(12), 12, 1, "malloc for __libc_free");
        if (libc_free != NULL)
            libc_free(p);
        else
            free(p);
    }
    if (libc_cfree != NULL) libc_cfree(use(malloc(13), 13, 1, "malloc for __libc_cfree"));
    if (libc_calloc != NULL) free(use(libc_calloc(4, 4), 16, 1, "__libc_calloc"));
    if (libc_memalign != NULL) free(use(libc_memalign(512, 3), 3, 512, "__libc_memalign"));
    if (libc_valloc != NULL) free(use(libc_valloc(3), 3, ps, "__libc_valloc"));
    if (libc_pvalloc != NULL) free(use(libc_pvalloc(3), ps, ps, "__libc_pvalloc"));
    if (posix_memalign_ != NULL) {
        check(posix_memalign_(&p, 32, 48) == 0, "__posix_memalign");
        free(use(p, 48, 32, "__posix_memalign"));
    }
    printf("ok %d\n", calls);
    return 0;
}
