/* SPDX-License-Identifier: MIT */
/*
 * shim_deepbind.c - dlopens argv[1] with RTLD_DEEPBIND and mixes heaps across the
 * boundary: the library allocates and the program frees, and the other way round. With
 * DEEPBIND honoured the library binds to glibc's malloc and the program's free (the
 * shim's) gets a glibc-heap pointer; the shim drops the flag so both sides share
 * jemalloc. Under the shim it also checks, through jemalloc's own stats.allocated, that
 * a block the library allocates is jemalloc's.
 */
#include <dlfcn.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef int (*mallctl_fn)(const char *, void *, size_t *, void *, size_t);

static size_t allocated(mallctl_fn mc) {
    uint64_t epoch = 1;
    size_t len = sizeof(epoch), v = 0;
    mc("epoch", &epoch, &len, &epoch, len);
    len = sizeof(v);
    mc("stats.allocated", &v, &len, NULL, 0);
    return v;
}

int main(int argc, char **argv) {
    if (argc < 2) return 2;
    void *h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND);
    if (h == NULL) {
        printf("dlopen: %s\n", dlerror());
        return 1;
    }
    void *(*lib_alloc)(size_t) = (void *(*)(size_t))dlsym(h, "lib_alloc");
    void (*lib_free)(void *) = (void (*)(void *))dlsym(h, "lib_free");
    if (lib_alloc == NULL || lib_free == NULL) return 1;
    mallctl_fn mc = (mallctl_fn)dlsym(RTLD_DEFAULT, "mallctl");
    size_t before = mc ? allocated(mc) : 0;
    enum { BIG = 16 << 20 };
    char *p = lib_alloc(BIG);
    if (p == NULL) return 1;
    memset(p, 5, BIG);
    size_t after = mc ? allocated(mc) : 0;
    if (mc != NULL) printf("library block in jemalloc: %s\n", after >= before + BIG ? "yes" : "no");
    free(p); /* the library's pointer, freed by the program */
    for (int i = 0; i < 1000; i++) {
        char *q = lib_alloc(16 + (size_t)i);
        free(q);
        q = malloc(16 + (size_t)i);
        lib_free(q); /* the program's pointer, freed by the library */
    }
    printf("deepbind ok\n");
    return 0;
}
