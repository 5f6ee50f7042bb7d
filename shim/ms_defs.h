/* SPDX-License-Identifier: MIT */
/*
 * ms_defs.h - compiler macros shared by every memshim module.
 *
 * MS_EXPORT marks the few names libmemshim.so exports (it is built with
 * -fvisibility=hidden); MS_LIKELY/MS_UNLIKELY steer branch layout on the malloc
 * path; ms_assert is on when MEMSHIM_DEBUG >= 1 (docs/style.md#assertions-and-invariant-checks)
 * and reports through ms_log, never through stdio.
 */
#ifndef MS_DEFS_H
#define MS_DEFS_H

#include <stdbool.h>

#define MS_EXPORT       __attribute__((visibility("default")))
#define MS_LIKELY(x)    __builtin_expect(!!(x), 1)
#define MS_UNLIKELY(x)  __builtin_expect(!!(x), 0)
#define MS_UNUSED       __attribute__((unused))
#define MS_NOINLINE     __attribute__((noinline))
#define MS_TLS          __thread __attribute__((tls_model("initial-exec")))
#define MS_PRINTF(f, a) __attribute__((format(printf, f, a)))

#ifndef MEMSHIM_DEBUG
#    define MEMSHIM_DEBUG 0
#endif
static const bool ms_config_debug MS_UNUSED = MEMSHIM_DEBUG >= 1;
static const bool ms_config_debug_expensive MS_UNUSED = MEMSHIM_DEBUG >= 2;

/* Reports "file:line: assertion failed: expr" through write(2), then abort(). */
void ms_assert_fail(const char *file, int line, const char *expr);

#define ms_assert(e)                                                                               \
    do {                                                                                           \
        if (ms_config_debug && !(e)) ms_assert_fail(__FILE__, __LINE__, #e);                       \
    } while (0)
#define ms_assert_expensive(e)                                                                     \
    do {                                                                                           \
        if (ms_config_debug_expensive && !(e)) ms_assert_fail(__FILE__, __LINE__, #e);             \
    } while (0)

#endif /* MS_DEFS_H */
