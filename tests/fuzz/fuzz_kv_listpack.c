/* SPDX-License-Identifier: MIT */
/*
 * fuzz_kv_listpack.c - the listpack validator and decoder (kvcore/listpack.c) on arbitrary
 * blobs, as RESTORE or an RDB loader would hand them over.
 * fuzz-sources: kvcore/listpack.c
 *
 * Properties: kv_lp_validate never reads outside blob[0..len) (the blob is a private block
 * of exactly len bytes, so ASan sees any overrun), shallow or deep. When deep validation
 * passes, the blob is a listpack every other function may trust: walking it forwards and
 * backwards visits the same entries, as many as kv_lp_len says; every entry decodes to
 * bytes inside the blob and equals its own decoded text; seek and find agree with the
 * walk; and appending, inserting, replacing, deleting and merging keep it valid.
 */
#include "fuzz_common.h"

#include "listpack.h"

#include <errno.h>
#include <string.h>

#define MAX_WALK 70000 /* more entries than any blob the fuzzer builds (max_len) holds */

static uint8_t *fwd[MAX_WALK];

/* Walks lp both ways and checks every entry; returns the entry count. */
static size_t walk(uint8_t *lp, size_t size) {
    const uint8_t *end = lp + size - 1; /* the end byte */
    size_t n = 0;
    for (uint8_t *p = kv_lp_first(lp); p != NULL; p = kv_lp_next(lp, p)) {
        FUZZ_CHECK(n < MAX_WALK);
        FUZZ_CHECK(p >= lp + KV_LP_HEADER_BYTES && p < end);
        fwd[n++] = p;
        kv_lp_val_t v;
        kv_lp_get(p, &v);
        char buf[KV_LP_INTBUF];
        size_t len;
        const uint8_t *s = kv_lp_get_bytes(p, buf, &len);
        if (v.str != NULL) {
            FUZZ_CHECK(v.str > p && v.str + v.len <= end);
            FUZZ_CHECK(s == v.str && len == v.len);
        } else {
            FUZZ_CHECK(v.len == 0);
            FUZZ_CHECK(len > 0 && len < KV_LP_INTBUF && (const char *)s == buf);
        }
        /* Every entry equals its own text (a string that spells an integer, which only a
         * blob from outside holds as a string, compares by its bytes). */
        FUZZ_CHECK(kv_lp_equals(p, s, len));
    }
    FUZZ_CHECK(n == kv_lp_len(lp));
    size_t back = n;
    for (uint8_t *p = kv_lp_last(lp); p != NULL; p = kv_lp_prev(lp, p)) {
        FUZZ_CHECK(back > 0);
        FUZZ_CHECK(p == fwd[--back]);
    }
    FUZZ_CHECK(back == 0);
    if (n > 0) {
        FUZZ_CHECK(kv_lp_seek(lp, 0) == fwd[0]);
        FUZZ_CHECK(kv_lp_seek(lp, -1) == fwd[n - 1]);
        FUZZ_CHECK(kv_lp_seek(lp, (long)(n / 2)) == fwd[n / 2]);
        /* The first entry equal to the middle one's text is at or before it. */
        char buf[KV_LP_INTBUF];
        size_t len;
        const uint8_t *s = kv_lp_get_bytes(fwd[n / 2], buf, &len);
        uint8_t *f = kv_lp_find(lp, fwd[0], s, len, 0);
        FUZZ_CHECK(f != NULL && f <= fwd[n / 2]);
    }
    FUZZ_CHECK(kv_lp_seek(lp, (long)n) == NULL);
    FUZZ_CHECK(kv_lp_seek(lp, -(long)n - 1) == NULL);
    return n;
}

/* Applies one change to a copy of lp and checks the result is valid with count n + delta. */
static void mutate(const uint8_t *lp, size_t n, int op) {
    uint8_t *c = kv_lp_dup(lp);
    if (c == NULL) return;
    int rc = 0;
    long delta = 0;
    uint8_t *p;
    switch (op) {
    case 0:
        rc = kv_lp_append(&c, "fuzz", 4);
        delta = 1;
        break;
    case 1:
        rc = kv_lp_prepend_int(&c, INT64_MIN);
        delta = 1;
        break;
    case 2:
        rc = kv_lp_insert_at(&c, n / 2, "12345", 5);
        delta = 1;
        break;
    case 3:
        if (n == 0) break;
        p = kv_lp_seek(c, -1);
        rc = kv_lp_replace(&c, &p, "a longer replacement value than most", 36);
        break;
    case 4:
        if (n == 0) break;
        p = kv_lp_first(c);
        rc = kv_lp_delete(&c, &p);
        delta = -1;
        break;
    case 5:
        rc = kv_lp_delete_range(&c, (long)(n / 3), 2);
        delta = -(long)(n - n / 3 < 2 ? n - n / 3 : 2);
        break;
    default:
        rc = kv_lp_merge(&c, lp);
        delta = (long)n;
        break;
    }
    if (rc == 0) {
        FUZZ_CHECK(kv_lp_check(c) == 0);
        FUZZ_CHECK(kv_lp_len(c) == (size_t)((long)n + delta));
    } else {
        FUZZ_CHECK(rc == -ENOMEM || rc == -ERANGE);
    }
    kv_lp_free(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    uint8_t *blob = fuzz_dup(data, size);
    if (blob == NULL) return 0;
    int shallow = kv_lp_validate(blob, size, false);
    int deep = kv_lp_validate(blob, size, true);
    FUZZ_CHECK(shallow == 0 || shallow == -EPROTO);
    FUZZ_CHECK(deep == 0 || deep == -EPROTO);
    if (deep == 0) {
        FUZZ_CHECK(shallow == 0);
        FUZZ_CHECK(kv_lp_bytes(blob) == size);
        size_t n = walk(blob, size);
        for (int op = 0; op < 7; op++)
            mutate(blob, n, op);
    }
    free(blob);
    return 0;
}
