/* SPDX-License-Identifier: MIT */
/*
 * compat.c - glibc's heap introspection calls, answered from jemalloc.
 *
 * Under a replacement allocator glibc's mallinfo reports its own empty heap and
 * malloc_trim does nothing (docs/design.md#glibc-introspection-calls). Programs that
 * read them (Python, glibc-aware daemons) get jemalloc's figures instead: mallinfo2's uordblks is
 * stats.allocated, arena is stats.mapped, fordblks is active - allocated, keepcost is
 * resident - active; malloc_trim purges every arena; malloc_stats prints jemalloc's
 * report to stderr.
 */
#include "memshim_internal.h"

#include <malloc.h>
#include <string.h>
#include <unistd.h>

#include <jemalloc/jemalloc.h>

struct mallinfo2 ms_mallinfo2(void) {
    struct mallinfo2 mi;
    memset(&mi, 0, sizeof(mi));
    memshim_stats_t st;
    if (memshim_stats_get(&st) != 0) return mi;
    mi.arena = st.mapped;
    mi.uordblks = st.allocated;
    mi.fordblks = st.active - (st.active >= st.allocated ? st.allocated : st.active);
    mi.keepcost = st.rss_overhead_bytes;
    mi.hblkhd = st.retained;
    return mi;
}

static int clamp_int(size_t v) {
    return v > (size_t)__INT_MAX__ ? __INT_MAX__ : (int)v;
}

struct mallinfo ms_mallinfo(void) {
    struct mallinfo2 m2 = ms_mallinfo2();
    struct mallinfo mi;
    memset(&mi, 0, sizeof(mi));
    mi.arena = clamp_int(m2.arena);
    mi.uordblks = clamp_int(m2.uordblks);
    mi.fordblks = clamp_int(m2.fordblks);
    mi.keepcost = clamp_int(m2.keepcost);
    mi.hblkhd = clamp_int(m2.hblkhd);
    return mi;
}

/* glibc returns 1 when memory was released; we return 1 when resident bytes fell. */
int ms_malloc_trim(size_t pad) {
    (void)pad;
    size_t before = 0, after = 0;
    if (ms_je_epoch() == 0) ms_je_get_size("stats.resident", &before);
    if (memshim_purge() != 0) return 0;
    if (ms_je_epoch() == 0) ms_je_get_size("stats.resident", &after);
    return after < before;
}

static void write_cb(void *opaque, const char *s) {
    (void)opaque;
    size_t len = strlen(s);
    while (len > 0) {
        ssize_t n = write(STDERR_FILENO, s, len);
        if (n <= 0) return;
        s += n;
        len -= (size_t)n;
    }
}

void ms_malloc_stats(void) {
    malloc_stats_print(write_cb, NULL, NULL);
}
