/* SPDX-License-Identifier: MIT */
/*
 * fuzz_kv_hll.c - the HyperLogLog representation (kvcore/hll.c) on arbitrary values, as
 * SET or RESTORE would hand them to PFADD, PFCOUNT and PFMERGE.
 * fuzz-sources: kvcore/hll.c
 *
 * Input: byte 0 picks hll-sparse-max-bytes, byte 1 how many elements to add, the rest is
 * the value. Properties: nothing reads or writes outside the value (a private block of
 * exactly its length, so ASan sees overruns); count, merge, conversion and additions
 * answer 0/1 or -EPROTO and nothing else; when the value counts, it also merges to the
 * same estimate and converts to dense with the same registers; additions to a valid value
 * keep it valid (header and opcodes) and never lower the estimate's registers.
 */
#include "fuzz_common.h"

#include "hll.h"

#include <errno.h>
#include <string.h>

static uint8_t regs_before[KV_HLL_REGISTERS], regs_after[KV_HLL_REGISTERS];

/* The value as a kv_hll_t that owns a block of exactly len bytes. */
static bool own_copy(kv_hll_t *h, const uint8_t *s, size_t len) {
    h->data = fuzz_dup(s, len);
    h->len = h->cap = len;
    return h->data != NULL;
}

static void check_valid(const kv_hll_t *h, uint8_t *regs) {
    FUZZ_CHECK(kv_hll_header_ok(h->data, h->len));
    uint64_t card;
    FUZZ_CHECK(kv_hll_count(h->data, h->len, &card) == 0);
    memset(regs, 0, KV_HLL_REGISTERS);
    FUZZ_CHECK(kv_hll_merge(regs, h->data, h->len) == 0);
    FUZZ_CHECK(kv_hll_count_registers(regs) == card);
}

static void add_elements(const uint8_t *s, size_t len, size_t sparse_max, int n) {
    kv_hll_t h;
    if (!own_copy(&h, s, len)) return;
    uint64_t card;
    bool valid = kv_hll_count(h.data, h.len, &card) == 0;
    if (valid) check_valid(&h, regs_before);
    for (int i = 0; i < n; i++) {
        size_t off = len ? (size_t)i * 7 % len : 0, elen = len - off < 5 ? len - off : 5;
        int rc = kv_hll_add(&h, s + off, elen, sparse_max);
        FUZZ_CHECK(rc == 0 || rc == 1 || rc == -EPROTO || rc == -ENOMEM);
        if (valid) FUZZ_CHECK(rc != -EPROTO);
        if (rc < 0) break;
    }
    if (valid) {
        check_valid(&h, regs_after);
        for (long i = 0; i < KV_HLL_REGISTERS; i++)
            FUZZ_CHECK(regs_after[i] >= regs_before[i]);
    }
    kv_hll_fini(&h);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 2) return 0;
    size_t sparse_max = (size_t)data[0] * 16;
    int n = data[1] & 15;
    const uint8_t *s = data + 2;
    size_t len = size - 2;
    kv_hll_t h;
    if (!own_copy(&h, s, len)) return 0;
    if (!kv_hll_header_ok(h.data, h.len)) {
        kv_hll_fini(&h);
        return 0;
    }
    uint64_t card = 0;
    int counted = kv_hll_count(h.data, h.len, &card);
    FUZZ_CHECK(counted == 0 || counted == -EPROTO);
    memset(regs_before, 0, sizeof(regs_before));
    int merged = kv_hll_merge(regs_before, h.data, h.len);
    FUZZ_CHECK(merged == 0 || merged == -EPROTO);
    if (counted == 0) {
        FUZZ_CHECK(merged == 0);
        FUZZ_CHECK(kv_hll_count_registers(regs_before) == card);
    }
    int dense = kv_hll_to_dense(&h);
    FUZZ_CHECK(dense == 0 || dense == -EPROTO || dense == -ENOMEM);
    if (dense == 0 && merged == 0) {
        memset(regs_after, 0, sizeof(regs_after));
        FUZZ_CHECK(kv_hll_merge(regs_after, h.data, h.len) == 0);
        FUZZ_CHECK(memcmp(regs_after, regs_before, sizeof(regs_after)) == 0);
    }
    kv_hll_fini(&h);
    add_elements(s, len, sparse_max, n);
    return 0;
}
