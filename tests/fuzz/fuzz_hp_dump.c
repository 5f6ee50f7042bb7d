/* SPDX-License-Identifier: MIT */
// clang-format off
/*
 * fuzz_hp_dump.c - heapprof's heap_v2 dump reader (heapprof/dump.c) on arbitrary bytes.
 * fuzz-sources: heapprof/dump.c heapprof/util.c
 *
 * Properties: the reader never reads outside the input (it gets an exact-size copy); any
 * input either parses, and then every accessor returns consistent views (stacks have
 * PCs, mappings have 4 permission letters and end >= start, thread names are strings)
 * and jeprof's scaling gives finite, non-negative counts, or it fails with -EPROTO (or
 * -ENOMEM) and a sticky error whose text names a line ("dump line N: ...").
 *
 * Standalone build and run, from the repository root (make fuzz does the same through tests/fuzz/run.sh):
 *   mkdir -p build-fuzz && clang -std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined -Ishim -Iheapprof -Itests/fuzz tests/fuzz/fuzz_hp_dump.c heapprof/dump.c heapprof/util.c -lm -o build-fuzz/fuzz_hp_dump
 *   build-fuzz/fuzz_hp_dump -max_total_time=60 tests/fuzz/corpus/hp_dump
 */
// clang-format on
#include "fuzz_common.h"

#include "heapprof.h"

#include <errno.h>
#include <math.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    uint8_t *copy = fuzz_dup(data, size);
    hp_dump_t *d = hp_dump_new();
    if (copy == NULL || d == NULL) {
        free(copy);
        hp_dump_free(d);
        return 0;
    }
    int rc = hp_dump_parse(d, (const char *)copy, size);
    if (rc != 0) {
        FUZZ_CHECK(rc == -EPROTO || rc == -ENOMEM);
        FUZZ_CHECK(rc != -EPROTO || strncmp(hp_dump_errstr(d), "dump line ", 10) == 0);
        FUZZ_CHECK(hp_dump_parse(d, (const char *)copy, size) == rc); // sticky
        goto out;
    }
    FUZZ_CHECK(hp_dump_errstr(d)[0] == '\0');
    uint64_t period = hp_dump_period(d);
    size_t n;
    const hp_thread_counts_t *thr = hp_dump_threads(d, &n);
    for (size_t i = 0; i < n; i++)
        FUZZ_CHECK(thr[i].name != NULL && strlen(thr[i].name) < size);
    for (size_t i = 0; i < hp_dump_stack_count(d); i++) {
        hp_stack_t st;
        FUZZ_CHECK(hp_dump_stack(d, i, &st) == 0 && st.depth > 0 && st.pcs != NULL);
        volatile uint64_t x = 0;
        for (size_t k = 0; k < st.depth; k++)
            x ^= st.pcs[k];
        for (size_t k = 0; k < st.nthreads; k++)
            x ^= st.threads[k].counts.cur_bytes;
        (void)x; /* read every byte; the value itself does not matter */
        double objs, bytes;
        hp_scale(period, st.counts.cur_objs, st.counts.cur_bytes, &objs, &bytes);
        FUZZ_CHECK(isfinite(objs) && isfinite(bytes) && objs >= 0 && bytes >= 0);
    }
    hp_stack_t st;
    FUZZ_CHECK(hp_dump_stack(d, hp_dump_stack_count(d), &st) == -ERANGE);
    const hp_mapping_t *m = hp_dump_mappings(d, &n);
    for (size_t i = 0; i < n; i++) {
        FUZZ_CHECK(m[i].path != NULL && m[i].end >= m[i].start && strlen(m[i].perms) == 4);
    }
out:
    hp_dump_free(d);
    free(copy);
    return 0;
}
