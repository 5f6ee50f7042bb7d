/* SPDX-License-Identifier: MIT */
/*
 * kv_util.h - the lowest helpers of kvcore, which need nothing of the server: the
 * little-endian fields of the compact encodings (listpack, intset, the hash seed), the
 * integer formatter and kvcore's one pseudo-random generator (util.c). The encodings (ht.c,
 * intset.c, listpack.c, zskiplist.c) include this instead of kv_internal.h; the rest get it from
 * kv_internal.h.
 */
#ifndef KV_UTIL_H
#define KV_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* --- Compiler hints and assertions --- */

#define KV_LIKELY(x)    __builtin_expect(!!(x), 1)
#define KV_UNLIKELY(x)  __builtin_expect(!!(x), 0)
#define KV_PRINTF(f, a) __attribute__((format(printf, f, a)))

/* Debug builds (MEMSHIM_DEBUG >= 1) check kv_assert; both branches always compile. */
#ifndef MEMSHIM_DEBUG
#    define MEMSHIM_DEBUG 0
#endif
static const bool kv_config_debug __attribute__((unused)) = MEMSHIM_DEBUG >= 1;

/* Writes "file:line: assertion failed: expr" to stderr with write(2), then abort() (util.c). */
void kv_assert_fail(const char *file, int line, const char *expr);

#define kv_assert(e)                                                                               \
    do {                                                                                           \
        if (kv_config_debug && !(e)) kv_assert_fail(__FILE__, __LINE__, #e);                       \
    } while (0)

/* --- Little-endian fields (any alignment) --- */

static inline uint16_t kv_rd16(const uint8_t *p) {
    return (uint16_t)(p[0] | p[1] << 8);
}

static inline void kv_wr16(uint8_t *p, uint16_t v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static inline uint32_t kv_rd32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline void kv_wr32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static inline uint64_t kv_rd64(const uint8_t *p) {
    return (uint64_t)kv_rd32(p) | (uint64_t)kv_rd32(p + 4) << 32;
}

/* --- Decimal text --- */

/*
 * Writes v in decimal to buf (at least 21 bytes), NUL-terminated; returns the length.
 * kvcore's one integer formatter (replies, INT strings, listpack and intset members, the
 * crash report: it is async-signal-safe). Doubles: kv_d2str (kv_internal.h).
 */
static inline size_t kv_ll2str(char *buf, long long v) {
    char tmp[24];
    size_t n = 0;
    unsigned long long u = v < 0 ? 0 - (unsigned long long)v : (unsigned long long)v;
    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u != 0);
    size_t len = 0;
    if (v < 0) buf[len++] = '-';
    while (n > 0)
        buf[len++] = tmp[--n];
    buf[len] = '\0';
    return len;
}

/* --- Pseudo-random numbers (util.c) --- */

/*
 * splitmix64, one state per thread, seeded from the monotonic clock and the thread on
 * first use, or by kv_rand_seed (kvcore-server seeds it once at start-up from
 * getrandom). For sampling and randomized commands, never for secrets.
 */
uint64_t kv_rand64(void);
/* A double in [0, 1). */
double kv_rand_double(void);
/* Seeds this thread's generator (0 is replaced by a fixed non-zero value). */
void kv_rand_seed(uint64_t seed);

#endif /* KV_UTIL_H */
