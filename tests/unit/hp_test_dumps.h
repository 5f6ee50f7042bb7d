/* SPDX-License-Identifier: MIT */
/*
 * hp_test_dumps.h - heap dumps shared by the heapprof unit tests, and the profile built
 * from one. Include after test_common.h and heapprof.h.
 */
#ifndef HP_TEST_DUMPS_H
#define HP_TEST_DUMPS_H

/*
 * Counts near UINT64_MAX and a sampling period that makes 1 - exp(-ratio) round to 0, so
 * the scale is huge: every scaled value, total and output derived from it must stay
 * finite and in range.
 */
static const char dump_huge[] __attribute__((unused)) =
    "heap_v2/18446744073709551615\n"
    "  t*: 18446744073709551615: 18446744073709551615 [0: 0]\n"
    "@ 0xa0 0xc1\n"
    "  t*: 18446744073709551615: 1 [18446744073709551615: 18446744073709551614]\n"
    "@ 0xb0 0xc1\n"
    "  t*: 18446744073709551615: 18446744073709551615 [1: 1]\n"
    "@ 0xd0\n"
    "  t*: 1: 1 [0: 0]\n"
    "\n"
    "MAPPED_LIBRARIES:\n";

/* The profile of a dump's text, frames named by address (the caller frees it). */
static inline hp_profile_t *profile_of(const char *text) {
    hp_dump_t *d = hp_dump_new();
    assert_non_null(d);
    assert_int_equal(hp_dump_parse(d, text, strlen(text)), 0);
    hp_sym_opts_t so = {.no_symbols = 1};
    hp_profile_t *p = NULL;
    assert_int_equal(hp_profile_build(d, &so, &p), 0);
    hp_dump_free(d);
    return p;
}

#endif /* HP_TEST_DUMPS_H */
