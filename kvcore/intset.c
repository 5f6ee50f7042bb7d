/* SPDX-License-Identifier: MIT */
/*
 * intset.c - sorted integer array with width upgrade (int16 -> int32 -> int64).
 *
 * Invariant: values strictly increasing, all stored at the set's width, little-endian.
 * An upgrade is only ever caused by a value outside the current width's range, so that
 * value goes at one end and the old values keep their order: they are widened in place
 * from the last to the first.
 */
#include "intset.h"
#include "kv_util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct kv_intset {
    uint8_t width[4]; /* u32 LE: 2, 4 or 8 */
    uint8_t count[4]; /* u32 LE */
    uint8_t values[];
};

static inline unsigned width_of(const kv_intset_t *is) {
    return kv_rd32(is->width);
}

static inline size_t count_of(const kv_intset_t *is) {
    return kv_rd32(is->count);
}

/* Reads the value at pos stored with width w. */
static inline int64_t load(const uint8_t *values, size_t pos, unsigned w) {
    const uint8_t *p = values + pos * w;
    uint64_t u = 0;
    for (unsigned i = 0; i < w; i++)
        u |= (uint64_t)p[i] << (8 * i);
    if (w < 8 && (u >> (8 * w - 1)) != 0) u |= ~(uint64_t)0 << (8 * w); /* sign-extend */
    return (int64_t)u;
}

static inline void store(uint8_t *values, size_t pos, unsigned w, int64_t v) {
    uint8_t *p = values + pos * w;
    uint64_t u = (uint64_t)v;
    for (unsigned i = 0; i < w; i++)
        p[i] = (uint8_t)(u >> (8 * i));
}

static inline unsigned width_for(int64_t v) {
    if (v >= INT16_MIN && v <= INT16_MAX) return 2;
    if (v >= INT32_MIN && v <= INT32_MAX) return 4;
    return 8;
}

/* Binary search: true if found; *pos is its index, or where it would go. */
static bool search(const kv_intset_t *is, int64_t v, size_t *pos) {
    size_t n = count_of(is);
    unsigned w = width_of(is);
    if (n == 0) {
        *pos = 0;
        return false;
    }
    if (v > load(is->values, n - 1, w)) {
        *pos = n;
        return false;
    }
    if (v < load(is->values, 0, w)) {
        *pos = 0;
        return false;
    }
    size_t lo = 0, hi = n; /* answer in [lo, hi) */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int64_t cur = load(is->values, mid, w);
        if (cur == v) {
            *pos = mid;
            return true;
        }
        if (cur < v)
            lo = mid + 1;
        else
            hi = mid;
    }
    *pos = lo;
    return false;
}

static kv_intset_t *resize(kv_intset_t *is, size_t n, unsigned w) {
    return realloc(is, KV_IS_HEADER_BYTES + n * w);
}

kv_intset_t *kv_is_new(void) {
    kv_intset_t *is = malloc(KV_IS_HEADER_BYTES);
    if (is == NULL) return NULL;
    kv_wr32(is->width, 2);
    kv_wr32(is->count, 0);
    return is;
}

void kv_is_free(kv_intset_t *is) {
    free(is);
}

/* Widens every value to w and adds v, which lies outside the old width's range. */
static int upgrade_and_add(kv_intset_t **isp, int64_t v, unsigned w) {
    kv_intset_t *is = *isp;
    size_t n = count_of(is);
    unsigned old_w = width_of(is);
    is = resize(is, n + 1, w);
    if (is == NULL) return -ENOMEM;
    size_t shift = v < 0 ? 1 : 0; /* a negative newcomer is the new minimum */
    for (size_t i = n; i-- > 0;)
        store(is->values, i + shift, w, load(is->values, i, old_w));
    store(is->values, v < 0 ? 0 : n, w, v);
    kv_wr32(is->width, w);
    kv_wr32(is->count, (uint32_t)(n + 1));
    *isp = is;
    return 0;
}

int kv_is_add(kv_intset_t **isp, int64_t v, bool *added) {
    kv_intset_t *is = *isp;
    unsigned w = width_of(is), need = width_for(v);
    if (added != NULL) *added = false;
    if (count_of(is) >= UINT32_MAX) return -ERANGE;
    if (need > w) {
        int rc = upgrade_and_add(isp, v, need);
        if (rc == 0 && added != NULL) *added = true;
        return rc;
    }
    size_t pos;
    if (search(is, v, &pos)) return 0;
    size_t n = count_of(is);
    is = resize(is, n + 1, w);
    if (is == NULL) return -ENOMEM;
    memmove(is->values + (pos + 1) * w, is->values + pos * w, (n - pos) * w);
    store(is->values, pos, w, v);
    kv_wr32(is->count, (uint32_t)(n + 1));
    *isp = is;
    if (added != NULL) *added = true;
    return 0;
}

int kv_is_remove(kv_intset_t **isp, int64_t v, bool *removed) {
    kv_intset_t *is = *isp;
    size_t pos;
    if (removed != NULL) *removed = false;
    if (width_for(v) > width_of(is) || !search(is, v, &pos)) return 0;
    size_t n = count_of(is);
    unsigned w = width_of(is);
    memmove(is->values + pos * w, is->values + (pos + 1) * w, (n - pos - 1) * w);
    kv_wr32(is->count, (uint32_t)(n - 1));
    kv_intset_t *shrunk = resize(is, n - 1, w);
    if (shrunk != NULL) *isp = shrunk; /* else keep the larger block */
    if (removed != NULL) *removed = true;
    return 0;
}

bool kv_is_find(const kv_intset_t *is, int64_t v) {
    size_t pos;
    return width_for(v) <= width_of(is) && search(is, v, &pos);
}

int kv_is_get(const kv_intset_t *is, size_t pos, int64_t *v) {
    if (pos >= count_of(is)) return -ERANGE;
    *v = load(is->values, pos, width_of(is));
    return 0;
}

int64_t kv_is_random(const kv_intset_t *is) {
    return load(is->values, (size_t)(kv_rand64() % count_of(is)), width_of(is));
}

int64_t kv_is_min(const kv_intset_t *is) {
    return load(is->values, 0, width_of(is));
}

int64_t kv_is_max(const kv_intset_t *is) {
    return load(is->values, count_of(is) - 1, width_of(is));
}

size_t kv_is_len(const kv_intset_t *is) {
    return count_of(is);
}

size_t kv_is_bytes(const kv_intset_t *is) {
    return KV_IS_HEADER_BYTES + count_of(is) * width_of(is);
}

unsigned kv_is_width(const kv_intset_t *is) {
    return width_of(is);
}

int kv_is_validate(const void *blob, size_t len, bool deep) {
    const uint8_t *b = blob;
    if (b == NULL || len < KV_IS_HEADER_BYTES) return -EPROTO;
    uint32_t w = kv_rd32(b), n = kv_rd32(b + 4);
    if (w != 2 && w != 4 && w != 8) return -EPROTO;
    if (n > (len - KV_IS_HEADER_BYTES) / w || KV_IS_HEADER_BYTES + (size_t)n * w != len)
        return -EPROTO;
    if (!deep) return 0;
    const uint8_t *values = b + KV_IS_HEADER_BYTES;
    for (size_t i = 1; i < n; i++)
        if (load(values, i - 1, w) >= load(values, i, w)) return -EPROTO;
    return 0;
}

int kv_is_check(const kv_intset_t *is) {
    return kv_is_validate(is, kv_is_bytes(is), true);
}
