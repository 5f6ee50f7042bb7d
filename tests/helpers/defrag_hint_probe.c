/* SPDX-License-Identifier: MIT */
/*
 * defrag_hint_probe.c - the shim's defrag hints on plain malloc/free pointers, for
 * tests/integration/defrag_hint_preload.sh. Allocates 200,000 blocks of 40 bytes with
 * malloc, frees a pseudo-random 70%, then moves every block memshim_defrag_should_move
 * hints (four passes), and prints one "key: value" line per figure: supported, moved,
 * active_before, active_after, frag_before, frag_after, intact. Finds the shim with
 * dlsym, so it knows neither library at link time; exits 3 when they are absent.
 */
#include <dlfcn.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NBLOCKS 200000
#define BLOCK   40 /* a 48-byte class: the copy keeps every usable byte */
#define BATCH   128

typedef int (*mallctl_fn)(const char *, void *, size_t *, void *, size_t);
typedef int (*should_move_fn)(void *const *, size_t, bool *);
typedef void *(*move_fn)(void *);
typedef bool (*supported_fn)(void);

typedef struct frag {
    size_t frag_bytes, allocated;
    double frag_pct;
    uint64_t age_us;
} frag_t;
typedef int (*frag_fn)(frag_t *);

static mallctl_fn mc;

static size_t active(void) {
    uint64_t epoch = 1;
    size_t len = sizeof(epoch), v = 0;
    mc("epoch", &epoch, &len, &epoch, len);
    len = sizeof(v);
    return mc("stats.active", &v, &len, NULL, 0) == 0 ? v : 0;
}

static void fill(unsigned char *p, size_t i) {
    for (size_t k = 0; k < BLOCK; k++)
        p[k] = (unsigned char)(i * 31 + k);
}

static bool intact(const unsigned char *p, size_t i) {
    for (size_t k = 0; k < BLOCK; k++)
        if (p[k] != (unsigned char)(i * 31 + k)) return false;
    return true;
}

int main(void) {
    mc = (mallctl_fn)dlsym(RTLD_DEFAULT, "mallctl");
    should_move_fn should_move = (should_move_fn)dlsym(RTLD_DEFAULT, "memshim_defrag_should_move");
    move_fn move = (move_fn)dlsym(RTLD_DEFAULT, "memshim_defrag_move");
    supported_fn supported = (supported_fn)dlsym(RTLD_DEFAULT, "memshim_defrag_supported");
    frag_fn frag_get = (frag_fn)dlsym(RTLD_DEFAULT, "memshim_defrag_frag_get");
    if (mc == NULL || should_move == NULL || move == NULL || supported == NULL ||
        frag_get == NULL) {
        puts("shim: absent");
        return 3;
    }
    unsigned char **b = calloc(NBLOCKS, sizeof(*b));
    if (b == NULL) return 2;
    for (size_t i = 0; i < NBLOCKS; i++) {
        b[i] = malloc(BLOCK);
        if (b[i] == NULL) return 2;
        fill(b[i], i);
    }
    uint64_t x = 88172645463325252ull;
    for (size_t i = 0; i < NBLOCKS; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        if (x % 100 < 70) {
            free(b[i]);
            b[i] = NULL;
        }
    }
    frag_t f0, f1;
    frag_get(&f0);
    size_t before = active(), moved = 0;
    for (int pass = 0; pass < 4; pass++) {
        void *ptrs[BATCH];
        size_t idx[BATCH], m = 0;
        bool out[BATCH];
        for (size_t i = 0; i <= NBLOCKS; i++) {
            if (i < NBLOCKS && b[i] != NULL) {
                idx[m] = i;
                ptrs[m++] = b[i];
            }
            if (m == BATCH || (i == NBLOCKS && m > 0)) {
                if (should_move(ptrs, m, out) < 0) return 2;
                for (size_t k = 0; k < m; k++) {
                    if (!out[k]) continue;
                    void *n = move(ptrs[k]);
                    if (n == NULL) return 2;
                    b[idx[k]] = n;
                    moved++;
                }
                m = 0;
            }
        }
    }
    size_t after = active();
    frag_get(&f1);
    bool ok = true;
    for (size_t i = 0; i < NBLOCKS; i++)
        if (b[i] != NULL && !intact(b[i], i)) ok = false;
    printf("supported: %s\n", supported() ? "yes" : "no");
    printf("moved: %zu\n", moved);
    printf("active_before: %zu\nactive_after: %zu\n", before, after);
    printf("frag_before: %zu\nfrag_after: %zu\n", f0.frag_bytes, f1.frag_bytes);
    printf("intact: %s\n", ok ? "yes" : "no");
    for (size_t i = 0; i < NBLOCKS; i++)
        free(b[i]);
    free(b);
    return 0;
}
