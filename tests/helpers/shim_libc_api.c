/* SPDX-License-Identifier: MIT */
/*
 * shim_libc_api.c - calls under the shim the names Debian's jemalloc does not export:
 * pvalloc (plain libjemalloc preload crashes on pvalloc + free), valloc, memalign,
 * reallocarray, cfree and the __libc_* aliases (through dlsym, as old programs reach
 * them), and glibc's introspection: mallinfo2/mallinfo, malloc_trim and malloc_stats,
 * which must answer from jemalloc. Exits non-zero with a message on the first failure.
 */
#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            printf("FAILED: %s (line %d)\n", #c, __LINE__);                                        \
            return 1;                                                                              \
        }                                                                                          \
    } while (0)

enum { BIG = 32 << 20 };

int main(int argc, char **argv) {
    const size_t ps = (size_t)sysconf(_SC_PAGESIZE);
    if (argc > 1 && strcmp(argv[1], "pvalloc") == 0) {
        /* Only pvalloc + free: what crashes under plain libjemalloc preload. */
        char *p = pvalloc(100);
        CHECK(p != NULL);
        memset(p, 1, ps);
        free(p);
        printf("pvalloc ok\n");
        return 0;
    }
    char *p = pvalloc(100);
    CHECK(p != NULL && (uintptr_t)p % ps == 0 && malloc_usable_size(p) >= ps);
    memset(p, 1, ps);
    free(p);
    p = valloc(10);
    CHECK(p != NULL && (uintptr_t)p % ps == 0);
    free(p);
    p = memalign(256, 10);
    CHECK(p != NULL && (uintptr_t)p % 256 == 0);
    free(p);
    volatile size_t huge = SIZE_MAX / 2; /* hidden from the compiler's size check */
    errno = 0;
    CHECK(reallocarray(NULL, huge, 4) == NULL && errno == ENOMEM);

    void *(*libc_malloc)(size_t) = (void *(*)(size_t))dlsym(RTLD_DEFAULT, "__libc_malloc");
    void (*libc_free)(void *) = (void (*)(void *))dlsym(RTLD_DEFAULT, "__libc_free");
    void *(*libc_memalign)(size_t, size_t) =
        (void *(*)(size_t, size_t))dlsym(RTLD_DEFAULT, "__libc_memalign");
    void (*cfree_fn)(void *) = (void (*)(void *))dlsym(RTLD_DEFAULT, "cfree");
    CHECK(libc_malloc != NULL && libc_free != NULL && libc_memalign != NULL && cfree_fn != NULL);
    p = libc_malloc(64); /* __libc_malloc'd, freed by free: one heap */
    CHECK(p != NULL);
    free(p);
    p = malloc(64); /* malloc'd, freed by __libc_free and cfree */
    libc_free(p);
    p = libc_memalign(64, 64);
    CHECK(p != NULL && (uintptr_t)p % 64 == 0);
    cfree_fn(p);

    /* glibc's introspection, answered from jemalloc. */
    struct mallinfo2 a = mallinfo2();
    char *big = malloc(BIG);
    CHECK(big != NULL);
    memset(big, 2, BIG);
    struct mallinfo2 b = mallinfo2();
    CHECK(b.uordblks >= a.uordblks + BIG); /* glibc would count an mmapped chunk elsewhere */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
    struct mallinfo m1 = mallinfo(); /* deprecated, still called by old programs */
#pragma GCC diagnostic pop
    CHECK((size_t)m1.uordblks >= BIG);
    free(big);
    struct mallinfo2 c = mallinfo2();
    CHECK(c.uordblks + BIG <= b.uordblks);
    /* Freed mid-size blocks stay resident as dirty pages until malloc_trim purges them. */
    enum { N = 256, SZ = 64 * 1024 };
    static char *blk[N];
    for (int i = 0; i < N; i++) {
        blk[i] = malloc(SZ);
        CHECK(blk[i] != NULL);
        memset(blk[i], 3, SZ);
    }
    for (int i = 0; i < N; i++)
        free(blk[i]);
    CHECK(malloc_trim(0) == 1);
    malloc_stats(); /* jemalloc's report, on stderr */
    printf("libc api ok\n");
    return 0;
}
