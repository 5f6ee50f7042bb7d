/* SPDX-License-Identifier: MIT */
/*
 * fuzz_kv_intset.c - the intset validator (kvcore/intset.c) on arbitrary blobs, as RESTORE or
 * an RDB loader would hand them over.
 * fuzz-sources: kvcore/intset.c kvcore/util.c
 *
 * Properties: kv_is_validate never reads outside blob[0..len), shallow or deep. When deep
 * validation passes, every other function may trust the set: its length and size match
 * the blob, kv_is_get walks strictly increasing values and refuses the position past the
 * end, every value is found and its missing neighbours are not, min/max/random agree with
 * the walk, and adding or removing values keeps the set valid with the expected length.
 */
#include "fuzz_common.h"

#include "intset.h"

#include <errno.h>
#include <string.h>

static void walk(const kv_intset_t *is, size_t size) {
    size_t n = kv_is_len(is);
    unsigned w = kv_is_width(is);
    FUZZ_CHECK(w == 2 || w == 4 || w == 8);
    FUZZ_CHECK(kv_is_bytes(is) == size && size == KV_IS_HEADER_BYTES + n * w);
    int64_t prev = 0, v = 0;
    for (size_t i = 0; i < n; i++) {
        FUZZ_CHECK(kv_is_get(is, i, &v) == 0);
        FUZZ_CHECK(i == 0 || v > prev);
        if (w == 2) FUZZ_CHECK(v >= INT16_MIN && v <= INT16_MAX);
        if (w == 4) FUZZ_CHECK(v >= INT32_MIN && v <= INT32_MAX);
        FUZZ_CHECK(kv_is_find(is, v));
        if (v != INT64_MIN && (i == 0 || v - 1 > prev)) FUZZ_CHECK(!kv_is_find(is, v - 1));
        prev = v;
    }
    FUZZ_CHECK(kv_is_get(is, n, &v) == -ERANGE);
    if (n == 0) return;
    int64_t first, last;
    kv_is_get(is, 0, &first);
    kv_is_get(is, n - 1, &last);
    FUZZ_CHECK(kv_is_min(is) == first && kv_is_max(is) == last);
    if (last != INT64_MAX) FUZZ_CHECK(!kv_is_find(is, last + 1));
    int64_t r = kv_is_random(is);
    FUZZ_CHECK(r >= first && r <= last && kv_is_find(is, r));
}

/* Adds (or removes) v in a copy of the set and checks validity and the new length. */
static void mutate(const uint8_t *blob, size_t size, int64_t v, bool add) {
    kv_intset_t *c = (kv_intset_t *)fuzz_dup(blob, size);
    if (c == NULL) return;
    size_t n = kv_is_len(c);
    bool was = kv_is_find(c, v), changed = false;
    int rc = add ? kv_is_add(&c, v, &changed) : kv_is_remove(&c, v, &changed);
    if (rc == 0) {
        FUZZ_CHECK(kv_is_check(c) == 0);
        FUZZ_CHECK(changed == (add ? !was : was));
        FUZZ_CHECK(kv_is_len(c) == (changed ? (add ? n + 1 : n - 1) : n));
        FUZZ_CHECK(kv_is_find(c, v) == add);
    } else {
        FUZZ_CHECK(rc == -ENOMEM || rc == -ERANGE);
    }
    kv_is_free(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    uint8_t *blob = fuzz_dup(data, size);
    if (blob == NULL) return 0;
    int shallow = kv_is_validate(blob, size, false);
    int deep = kv_is_validate(blob, size, true);
    FUZZ_CHECK(shallow == 0 || shallow == -EPROTO);
    FUZZ_CHECK(deep == 0 || deep == -EPROTO);
    if (deep == 0) {
        FUZZ_CHECK(shallow == 0);
        const kv_intset_t *is = (const kv_intset_t *)blob;
        walk(is, size);
        size_t n = kv_is_len(is);
        int64_t mid = 0;
        if (n > 0) kv_is_get(is, n / 2, &mid);
        const int64_t probes[] = {mid,
                                  mid != INT64_MAX ? mid + 1 : mid - 1,
                                  0,
                                  -1,
                                  INT16_MAX + 1,
                                  INT32_MIN - 1LL,
                                  INT64_MIN,
                                  INT64_MAX};
        for (size_t i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
            mutate(blob, size, probes[i], true);
            mutate(blob, size, probes[i], false);
        }
    }
    free(blob);
    return 0;
}
