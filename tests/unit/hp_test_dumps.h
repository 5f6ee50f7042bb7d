/* SPDX-License-Identifier: MIT */
/*
 * hp_test_dumps.h - heap dumps shared by the heapprof unit tests. Include after
 * test_common.h.
 */
#ifndef HP_TEST_DUMPS_H
#define HP_TEST_DUMPS_H

/*
 * Counts near UINT64_MAX and a sampling period that makes 1 - exp(-ratio) round to 0, so
 * the scale is huge: every scaled value, total and output derived from it must stay
 * finite and in range.
 */
static const char dump_huge[] =
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

#endif /* HP_TEST_DUMPS_H */
