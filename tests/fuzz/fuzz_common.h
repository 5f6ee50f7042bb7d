/* SPDX-License-Identifier: MIT */
/*
 * fuzz_common.h - what every libFuzzer target in tests/fuzz/ shares.
 *
 * A target is tests/fuzz/fuzz_<parser>.c defining LLVMFuzzerTestOneInput; a header line
 * "fuzz-sources: <files>" names the project sources it links, and its seed corpus is
 * tests/fuzz/corpus/<parser>/ (tests/fuzz/lib.sh has the conventions). The same file builds
 * two ways: with -fsanitize=fuzzer,address,undefined for `make fuzz`, and with
 * replay_main.c (no libFuzzer) to replay the committed corpus under `make test`.
 *
 * FUZZ_CHECK is an assertion that stays on in every build (no NDEBUG games): a target
 * states the property it proves, and a violation aborts with the line, which both
 * libFuzzer and the replay driver report as a finding.
 */
#ifndef FUZZ_COMMON_H
#define FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(e)                                                                              \
    do {                                                                                           \
        if (!(e)) {                                                                                \
            fprintf(stderr, "%s:%d: fuzz property violated: %s\n", __FILE__, __LINE__, #e);        \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/*
 * A private copy of data in a block of exactly size bytes (at least 1), so that ASan
 * flags any read past the end and the copy is aligned like any malloc result. NULL when
 * out of memory (the target then returns: libFuzzer's -rss_limit_mb owns that case).
 */
static inline uint8_t *fuzz_dup(const uint8_t *data, size_t size) {
    uint8_t *p = malloc(size ? size : 1);
    if (p != NULL && size > 0) {
        for (size_t i = 0; i < size; i++)
            p[i] = data[i];
    }
    return p;
}

#endif /* FUZZ_COMMON_H */
