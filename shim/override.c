/* SPDX-License-Identifier: MIT */
/*
 * override.c - the libc allocation names, each a one-line forward to an ms_ function
 * (mimalloc's alloc-override.c). This file goes into libmemshim.so only, never into
 * libmemshim.a, so a sanitizer can own malloc in unit tests.
 *
 * The set is complete on purpose (docs/design.md#override-the-whole-api): a name left to
 * glibc hands out glibc-heap pointers that jemalloc's free then crashes on. It also carries the
 * malloc_conf that makes jemalloc profiling ready but inactive, the dlopen filter that
 * keeps RTLD_DEEPBIND libraries off glibc's heap, and the C++ delete operators.
 */
#include "memshim_internal.h"

#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <stdlib.h>
#include <unistd.h>

/* These are libc's and libstdc++'s ABI names; no header of ours can declare them all. */
#pragma GCC diagnostic ignored "-Wmissing-prototypes"

/*
 * jemalloc reads this weak symbol at initialisation; ours interposes on Debian's
 * default. Profiling is compiled in but inactive until enabled at run time; a user's
 * MALLOC_CONF is parsed after it, so it wins wherever it says otherwise.
 */
MS_EXPORT const char *malloc_conf = "prof:true,prof_active:false";

/* --- C ---
 * valgrind's memcheck (and every valgrind tool with a heap of its own) replaces, by
 * address and in every loaded object, ours included: malloc, free, cfree, calloc,
 * realloc, memalign, posix_memalign, aligned_alloc, valloc, malloc_usable_size and the
 * C++ operators. It does not replace reallocarray, pvalloc, free_sized,
 * free_aligned_sized or the __libc_* aliases, so each of those calls one of the
 * replaced names (MS_NOINLINE keeps the call a jump to that name's address): under
 * valgrind every entry point then ends in the tool's heap, natively in jemalloc. Had
 * reallocarray gone to jemalloc, memcheck's free would reject its blocks ("Invalid
 * free()") and jemalloc would crash on memcheck's. The cost is one direct jump. */

MS_EXPORT MS_NOINLINE void *malloc(size_t size) {
    return ms_malloc(size);
}
MS_EXPORT MS_NOINLINE void free(void *ptr) {
    ms_free(ptr);
}
MS_EXPORT void cfree(void *ptr) {
    ms_free(ptr);
}
/* The size a caller claims is not trusted: jemalloc looks it up. */
MS_EXPORT void free_sized(void *ptr, size_t size) {
    (void)size;
    free(ptr);
}
MS_EXPORT void free_aligned_sized(void *ptr, size_t al, size_t size) {
    (void)al;
    (void)size;
    free(ptr);
}
MS_EXPORT MS_NOINLINE void *calloc(size_t n, size_t size) {
    return ms_calloc(n, size);
}
MS_EXPORT MS_NOINLINE void *realloc(void *ptr, size_t size) {
    return ms_realloc(ptr, size);
}
MS_EXPORT void *reallocarray(void *ptr, size_t n, size_t size) {
    size_t total;
    if (MS_UNLIKELY(__builtin_mul_overflow(n, size, &total))) {
        errno = ENOMEM;
        return NULL;
    }
    return realloc(ptr, total);
}
MS_EXPORT MS_NOINLINE int posix_memalign(void **p, size_t al, size_t size) {
    return ms_posix_memalign(p, al, size);
}
MS_EXPORT void *aligned_alloc(size_t al, size_t size) {
    return ms_aligned_alloc(al, size);
}
MS_EXPORT MS_NOINLINE void *memalign(size_t al, size_t size) {
    return ms_memalign(al, size);
}
MS_EXPORT MS_NOINLINE void *valloc(size_t size) {
    return ms_valloc(size);
}
/* glibc's: valloc of the size rounded up to whole pages, one page for 0. */
MS_EXPORT MS_NOINLINE void *pvalloc(size_t size) {
    size_t ps = (size_t)getpagesize();
    size_t rounded;
    if (MS_UNLIKELY(__builtin_add_overflow(size, ps - 1, &rounded))) {
        errno = ENOMEM;
        return NULL;
    }
    rounded &= ~(ps - 1);
    return memalign(ps, rounded == 0 ? ps : rounded);
}
MS_EXPORT size_t malloc_usable_size(void *ptr) {
    return ms_usable_size(ptr);
}

/* glibc's internal aliases, which some programs and libraries call directly. */
MS_EXPORT void *__libc_malloc(size_t size) {
    return malloc(size);
}
MS_EXPORT void __libc_free(void *ptr) {
    free(ptr);
}
MS_EXPORT void __libc_cfree(void *ptr) {
    free(ptr);
}
MS_EXPORT void *__libc_calloc(size_t n, size_t size) {
    return calloc(n, size);
}
MS_EXPORT void *__libc_realloc(void *ptr, size_t size) {
    return realloc(ptr, size);
}
MS_EXPORT void *__libc_memalign(size_t al, size_t size) {
    return memalign(al, size);
}
MS_EXPORT void *__libc_valloc(size_t size) {
    return valloc(size);
}
MS_EXPORT void *__libc_pvalloc(size_t size) {
    return pvalloc(size);
}
MS_EXPORT int __posix_memalign(void **p, size_t al, size_t size) {
    return posix_memalign(p, al, size);
}

/* glibc's heap introspection, answered from jemalloc (compat.c). */
MS_EXPORT struct mallinfo2 mallinfo2(void) {
    return ms_mallinfo2();
}
MS_EXPORT struct mallinfo mallinfo(void) {
    return ms_mallinfo();
}
MS_EXPORT int malloc_trim(size_t pad) {
    return ms_malloc_trim(pad);
}
MS_EXPORT void malloc_stats(void) {
    ms_malloc_stats();
}

/* --- C++ delete: every variant ends in jemalloc. ---
 * operator new is left to libstdc++ (it must throw std::bad_alloc and call the
 * new-handler, which needs C++); it allocates through malloc/aligned_alloc above.
 * Only the two base deletes free directly. Every other variant calls its base form
 * through the PLT, as libstdc++ does, so a program that replaces just
 * operator new(size_t)/operator delete(void *) (a pool, a tracker) still gets its own
 * delete for the sized, array and nothrow forms the compiler emits; calling ms_free
 * there would hand the program's pointers to jemalloc. Sized forms ignore the size:
 * libstdc++'s aligned new rounds the request up, so sdallocx with the caller's size
 * could name the wrong size class. */

MS_EXPORT void _ZdlPv(void *p) {
    ms_free(p);
}
MS_EXPORT void _ZdlPvSt11align_val_t(void *p, size_t al) {
    (void)al;
    ms_free(p);
}
MS_EXPORT void _ZdaPv(void *p) {
    _ZdlPv(p);
}
MS_EXPORT void _ZdlPvm(void *p, size_t n) {
    (void)n;
    _ZdlPv(p);
}
MS_EXPORT void _ZdaPvm(void *p, size_t n) {
    (void)n;
    _ZdaPv(p);
}
MS_EXPORT void _ZdlPvRKSt9nothrow_t(void *p, const void *nt) {
    (void)nt;
    _ZdlPv(p);
}
MS_EXPORT void _ZdaPvRKSt9nothrow_t(void *p, const void *nt) {
    (void)nt;
    _ZdaPv(p);
}
MS_EXPORT void _ZdaPvSt11align_val_t(void *p, size_t al) {
    _ZdlPvSt11align_val_t(p, al);
}
MS_EXPORT void _ZdlPvmSt11align_val_t(void *p, size_t n, size_t al) {
    (void)n;
    _ZdlPvSt11align_val_t(p, al);
}
MS_EXPORT void _ZdaPvmSt11align_val_t(void *p, size_t n, size_t al) {
    (void)n;
    _ZdaPvSt11align_val_t(p, al);
}
MS_EXPORT void _ZdlPvSt11align_val_tRKSt9nothrow_t(void *p, size_t al, const void *nt) {
    (void)nt;
    _ZdlPvSt11align_val_t(p, al);
}
MS_EXPORT void _ZdaPvSt11align_val_tRKSt9nothrow_t(void *p, size_t al, const void *nt) {
    (void)nt;
    _ZdaPvSt11align_val_t(p, al);
}

/* --- dlopen: no RTLD_DEEPBIND (docs/design.md#rtld_deepbind) ---
 * A library opened with RTLD_DEEPBIND binds to libc's malloc before ours and hands out
 * glibc-heap pointers. The flag is dropped, as heaptrack does. The call to the real
 * dlopen is a tail call, so glibc still sees the original caller's return address (it
 * uses it for $ORIGIN and the namespace); tests/check_symbols.sh verifies the jump. */

/* GCC: keep the tail call even where -O settings would not (clang makes it at -O1+). */
#if defined(__GNUC__) && !defined(__clang__)
#    define MS_SIBLING_CALLS __attribute__((optimize("optimize-sibling-calls")))
#else
#    define MS_SIBLING_CALLS
#endif

typedef void *(*dlopen_fn)(const char *, int);
static _Atomic(dlopen_fn) real_dlopen;

MS_EXPORT MS_SIBLING_CALLS void *dlopen(const char *file, int flags) {
    dlopen_fn fn = atomic_load_explicit(&real_dlopen, memory_order_acquire);
    if (MS_UNLIKELY(fn == NULL)) {
        fn = (dlopen_fn)dlsym(RTLD_NEXT, "dlopen");
        atomic_store_explicit(&real_dlopen, fn, memory_order_release);
    }
    return fn(file, flags & ~RTLD_DEEPBIND);
}

/* True when the process's malloc is this file's: the interposable reference to malloc
 * (through the GOT) lands in the same loaded object as this function. */
MS_EXPORT bool memshim_is_active(void) {
    void *(*volatile global)(size_t) = malloc;
    Dl_info a, b;
    if (dladdr((void *)global, &a) == 0 || dladdr((void *)&memshim_is_active, &b) == 0)
        return false;
    return a.dli_fbase == b.dli_fbase;
}
