/* SPDX-License-Identifier: MIT */
/*
 * test_common.h - what every cmocka unit test includes first. cmocka 1.1.5 needs these
 * system headers before <cmocka.h>. UNIT_TESTING is never defined: it would swap malloc
 * for cmocka's test allocator, which fights the shim (docs/style.md#tests).
 */
#ifndef TEST_COMMON_H
#define TEST_COMMON_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#endif /* TEST_COMMON_H */
