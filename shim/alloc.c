/* SPDX-License-Identifier: MIT */
/*
 * alloc.c - the C allocation API with glibc's exact semantics, on jemalloc's
 * non-standard entry points (mallocx, rallocx, dallocx, sallocx).
 *
 * override.c forwards every libc name here in one line. The invariants:
 *  - nothing here calls an overridden name (no malloc/free), so jemalloc never
 *    recurses into the shim and there is no dlsym at start-up;
 *  - errno is set to ENOMEM on every failure and left untouched on success;
 *    free preserves errno;
 *  - failure injection is one relaxed load and a predicted-not-taken branch when
 *    nothing is armed.
 */
#include "memshim_internal.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <jemalloc/jemalloc.h>

static inline bool inject_fails(size_t size)
{
    if (MS_LIKELY(atomic_load_explicit(&ms_inject_armed, memory_order_relaxed) == 0))
        return false;
    return ms_inject_should_fail(size);
}

static inline bool is_pow2(size_t x)
{
    return x != 0 && (x & (x - 1)) == 0;
}

static size_t page_size(void)
{
    static _Atomic size_t cached;
    size_t p = atomic_load_explicit(&cached, memory_order_relaxed);
    if (MS_UNLIKELY(p == 0)) {
        long v = sysconf(_SC_PAGESIZE);
        p = v > 0 ? (size_t)v : 4096;
        atomic_store_explicit(&cached, p, memory_order_relaxed);
    }
    return p;
}

/* jemalloc requires a non-zero size; malloc(0) returns a unique, freeable pointer. */
static inline void *alloc_flags(size_t size, int flags)
{
    if (MS_UNLIKELY(inject_fails(size))) {
        errno = ENOMEM;
        return NULL;
    }
    void *p = mallocx(size != 0 ? size : 1, flags);
    if (MS_UNLIKELY(p == NULL)) errno = ENOMEM;
    return p;
}

void *ms_malloc(size_t size)
{
    return alloc_flags(size, 0);
}

void ms_free(void *ptr)
{
    if (ptr == NULL) return;
    int saved = errno; /* preserves errno (glibc manual) */
    dallocx(ptr, 0);
    errno = saved;
}

void ms_free_sized(void *ptr, size_t size)
{
    (void)size; /* the size a caller claims is not trusted: dallocx looks it up */
    ms_free(ptr);
}

void *ms_calloc(size_t nmemb, size_t size)
{
    size_t total;
    if (MS_UNLIKELY(__builtin_mul_overflow(nmemb, size, &total))) {
        errno = ENOMEM;
        return NULL;
    }
    return alloc_flags(total, MALLOCX_ZERO);
}

void *ms_realloc(void *ptr, size_t size)
{
    if (ptr == NULL) return alloc_flags(size, 0);
    if (size == 0) { /* glibc: realloc(p, 0) frees p and returns NULL */
        ms_free(ptr);
        return NULL;
    }
    if (MS_UNLIKELY(inject_fails(size))) {
        errno = ENOMEM;
        return NULL;
    }
    void *p = rallocx(ptr, size, 0);
    if (MS_UNLIKELY(p == NULL)) errno = ENOMEM; /* ptr is left intact */
    return p;
}

void *ms_reallocarray(void *ptr, size_t nmemb, size_t size)
{
    size_t total;
    if (MS_UNLIKELY(__builtin_mul_overflow(nmemb, size, &total))) {
        errno = ENOMEM;
        return NULL;
    }
    return ms_realloc(ptr, total);
}

/*
 * Alignment as a power of two >= 1; jemalloc takes any power of two. A plain mallocx is
 * aligned to its size class: 8 for the 8-byte class, 16 for every other small class
 * (multiples of the 16-byte quantum), a page for large ones. So flags 0 are enough for
 * alignment <= 8, and for 16 once the request is above the 8-byte class; anything else
 * asks jemalloc for the alignment (posix_memalign(&p, 16, 1) must not get an 8-byte slot).
 */
static void *aligned(size_t alignment, size_t size)
{
    if (MS_UNLIKELY(alignment > ((size_t)1 << 62))) { /* no such extent can exist */
        errno = ENOMEM;
        return NULL;
    }
    if (alignment <= 8 || (alignment == 16 && size > 8)) return alloc_flags(size, 0);
    return alloc_flags(size, MALLOCX_ALIGN(alignment));
}

int ms_posix_memalign(void **memptr, size_t alignment, size_t size)
{
    if (!is_pow2(alignment) || alignment % sizeof(void *) != 0) return EINVAL;
    int saved = errno; /* posix_memalign reports through its result, never errno */
    void *p = aligned(alignment, size);
    errno = saved;
    if (p == NULL) return ENOMEM;
    *memptr = p;
    return 0;
}

void *ms_aligned_alloc(size_t alignment, size_t size)
{
    /* C11/C17 and glibc >= 2.38: an alignment that is not a power of two is invalid. */
    if (!is_pow2(alignment)) {
        errno = EINVAL;
        return NULL;
    }
    return aligned(alignment, size);
}

void *ms_memalign(size_t alignment, size_t size)
{
    /* glibc: alignment below the minimum is raised; a non-power of two is rounded up;
     * above SIZE_MAX / 2 + 1 it is EINVAL (and 2^63 itself then fails with ENOMEM). */
    if (alignment > SIZE_MAX / 2 + 1) {
        errno = EINVAL;
        return NULL;
    }
    if (!is_pow2(alignment)) {
        size_t a = 1;
        while (a < alignment) a <<= 1;
        alignment = a;
    }
    return aligned(alignment, size);
}

void *ms_valloc(size_t size)
{
    return aligned(page_size(), size);
}

void *ms_pvalloc(size_t size)
{
    size_t ps = page_size();
    size_t rounded;
    if (MS_UNLIKELY(__builtin_add_overflow(size, ps - 1, &rounded))) {
        errno = ENOMEM;
        return NULL;
    }
    rounded &= ~(ps - 1);
    if (rounded == 0) rounded = ps; /* pvalloc(0) gives one page, as glibc does */
    return aligned(ps, rounded);
}

size_t ms_usable_size(const void *ptr)
{
    if (ptr == NULL) return 0;
    return sallocx(ptr, 0);
}
