/* SPDX-License-Identifier: MIT */
/*
 * log.c - the shim's only way to speak: format into a stack buffer, write(2) to stderr.
 *
 * No stdio stream, no lock, no allocation, so it is safe on the allocation path and in
 * a forked child (jemalloc's malloc_printf and mimalloc's _mi_fputs work the same way).
 */
#include "memshim_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int ms_log_level = MS_LOG_WARN;

void ms_write_all(int fd, const char *buf, size_t len) {
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n < 0) {
            if (errno == EINTR) continue;
            return;
        }
        buf += n;
        len -= (size_t)n;
    }
}

void ms_log(int level, const char *fmt, ...) {
    if (level > ms_log_level) return;
    int saved = errno; /* preserves errno */
    char buf[512];
    int n = snprintf(buf, sizeof(buf), "memshim[%d]: ", (int)getpid());
    if (n < 0) n = 0;
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(buf + n, sizeof(buf) - (size_t)n, fmt, ap);
    va_end(ap);
    size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
    if (len > sizeof(buf) - 2) len = sizeof(buf) - 2;
    buf[len++] = '\n';
    ms_write_all(STDERR_FILENO, buf, len);
    errno = saved;
}

void ms_assert_fail(const char *file, int line, const char *expr) {
    ms_log(MS_LOG_ERROR, "%s:%d: assertion failed: %s", file, line, expr);
    abort();
}
