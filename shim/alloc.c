/* SPDX-License-Identifier: MIT */
/*
 * alloc.c - the C allocation API with glibc's exact semantics, on jemalloc.
 *
 * override.c forwards every libc name here in one line (malloc and free through the
 * inline ms_malloc/ms_free of memshim_internal.h: one indirect jump each). The
 * invariants:
 *  - nothing here calls an overridden name (no malloc/free), so jemalloc never
 *    recurses into the shim;
 *  - errno is set to ENOMEM on every failure and left untouched on success, even where
 *    jemalloc's own call changes it (malloc_keep_errno, realloc_direct, keep_errno);
 *    free preserves errno (unless config.free_keeps_errno is false: see
 *    free_keep_errno);
 *  - failure injection is one relaxed load and a predicted-not-taken branch when
 *    nothing is armed.
 *
 * Two ways into jemalloc. Its non-standard entry points (mallocx, rallocx, dallocx,
 * sallocx) are linked by symbol and always work, from the very first allocation. But in
 * jemalloc 5.3 mallocx/dallocx take the generic path, while malloc/free have a
 * thread-cache fast path: on tests/bench/alloc_mt.sh the *x-only shim ran ~50% slower
 * than bare jemalloc. So the constructor (ms_alloc_init) looks up jemalloc's own
 * malloc, calloc, realloc and free *in libjemalloc's object* (the handle of the object
 * that defines mallocx, never RTLD_NEXT, whose answer depends on the preload order) and
 * checks each address lies in that object; the four hot calls then go there. Until then,
 * or if the lookup fails, everything takes the *x path. Both paths allocate from the
 * same jemalloc, so a block may be freed by either.
 */
#include "memshim_internal.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jemalloc/jemalloc.h>

typedef void *(*calloc_fn)(size_t, size_t);
typedef void *(*realloc_fn)(void *, size_t);

/* jemalloc's own entry points once ms_alloc_init found them, NULL before. */
static _Atomic(ms_malloc_fn) je_malloc;
static _Atomic(calloc_fn) je_calloc;
static _Atomic(realloc_fn) je_realloc;
static _Atomic(ms_free_fn) je_free;

/* config.free_keeps_errno (MEMSHIM_FREE_KEEPS_ERRNO): glibc's free semantics, default. */
static atomic_bool free_keeps_errno = true;

static void *malloc_slow(size_t size);
static void *calloc_slow(size_t nmemb, size_t size);
static void *realloc_slow(void *ptr, size_t size);
static void free_x(void *ptr);

/*
 * Where the hot calls go: jemalloc's own function (behind the errno wrappers below, and
 * realloc_direct) while it is known and no failure rule is armed, the slow functions
 * below otherwise (failure injection, the *x path).
 * Never NULL, so malloc and free are a single indirect jump (ms_alloc_refresh keeps
 * them in step with je_*, ms_inject_armed and free_keeps_errno).
 */
_Atomic(ms_malloc_fn) ms_malloc_entry = malloc_slow;
_Atomic(ms_free_fn) ms_free_entry = free_x;
static _Atomic(calloc_fn) calloc_entry = calloc_slow;
static _Atomic(realloc_fn) realloc_entry = realloc_slow;

#define ENTRY(f) atomic_load_explicit(&(f), memory_order_relaxed)

/*
 * free must preserve errno (glibc manual; POSIX 2024), and jemalloc's free does not
 * promise to: its purge path calls madvise, whose failure sets errno (tests/helpers/
 * shim_free_errno.c makes that happen). Saving and restoring errno around jemalloc's
 * free is what the direct path's free costs; this keeps it small.
 *
 * On x86-64, glibc's errno is an initial-exec TLS variable of libc.so.6, which is always
 * in the static TLS block: its address is the thread pointer (%fs:0, the first word of
 * every thread's TCB by the x86-64 TLS ABI) plus a constant fixed when libc was loaded.
 * That is exactly how glibc's own __errno_location computes it, so the constant is the
 * same for every thread, whether it was created before the shim was loaded or after,
 * and in a forked child (same layout, same thread pointer). It is computed once, before
 * free_keep_errno is installed, and errno is then one %fs-relative load and store with
 * no call and no per-thread cache. Elsewhere the errno macro does the same job.
 */
#if defined(__x86_64__)
static _Atomic(intptr_t) errno_tpoff;

static inline intptr_t thread_pointer(void) {
    intptr_t tp;
    __asm__("movq %%fs:0, %0" : "=r"(tp));
    return tp;
}

static void errno_tpoff_init(void) {
    atomic_store(&errno_tpoff, (intptr_t)&errno - thread_pointer());
}

/* volatile and "memory": never moved across jemalloc's free. */
static inline int errno_load(void) {
    int v;
    __asm__ volatile("movl %%fs:(%1), %0"
                     : "=r"(v)
                     : "r"(atomic_load_explicit(&errno_tpoff, memory_order_relaxed))
                     : "memory");
    return v;
}

static inline void errno_store(int v) {
    __asm__ volatile("movl %0, %%fs:(%1)"
                     :
                     : "r"(v), "r"(atomic_load_explicit(&errno_tpoff, memory_order_relaxed))
                     : "memory");
}
#else
static void errno_tpoff_init(void) {
}
static inline int errno_load(void) {
    return errno;
}
static inline void errno_store(int v) {
    errno = v;
}
#endif

int *ms_alloc_errno_location(void) {
#if defined(__x86_64__)
    return (int *)(thread_pointer() + atomic_load_explicit(&errno_tpoff, memory_order_relaxed));
#else
    return &errno;
#endif
}

static inline bool inject_fails(size_t size) {
    if (MS_LIKELY(atomic_load_explicit(&ms_inject_armed, memory_order_relaxed) == 0)) return false;
    return ms_inject_should_fail(size);
}

static inline bool is_pow2(size_t x) {
    return x != 0 && (x & (x - 1)) == 0;
}

static size_t page_size(void) {
    static _Atomic size_t cached;
    size_t p = atomic_load_explicit(&cached, memory_order_relaxed);
    if (MS_UNLIKELY(p == 0)) {
        long v = sysconf(_SC_PAGESIZE);
        p = v > 0 ? (size_t)v : 4096;
        atomic_store_explicit(&cached, p, memory_order_relaxed);
    }
    return p;
}

/* p, just returned by a jemalloc call made with errno at `saved`: errno is back at saved
 * on success (jemalloc's slow paths may change it), ENOMEM on failure. */
static inline void *keep_errno(void *p, int saved) {
    errno = MS_LIKELY(p != NULL) ? saved : ENOMEM;
    return p;
}

/* jemalloc requires a non-zero size; malloc(0) returns a unique, freeable pointer. */
static inline void *alloc_flags(size_t size, int flags) {
    if (MS_UNLIKELY(inject_fails(size))) {
        errno = ENOMEM;
        return NULL;
    }
    int saved = errno;
    return keep_errno(mallocx(size != 0 ? size : 1, flags), saved);
}

/* --- The slow paths: failure injection, or jemalloc's *x entry points --- */

/* jemalloc's malloc and calloc accept size 0. */
static void *malloc_slow(size_t size) {
    ms_malloc_fn fn = ENTRY(je_malloc);
    if (fn == NULL) return alloc_flags(size, 0);
    if (MS_UNLIKELY(inject_fails(size))) {
        errno = ENOMEM;
        return NULL;
    }
    int saved = errno;
    return keep_errno(fn(size), saved);
}

static void *calloc_slow(size_t nmemb, size_t size) {
    size_t total;
    if (MS_UNLIKELY(__builtin_mul_overflow(nmemb, size, &total))) {
        errno = ENOMEM;
        return NULL;
    }
    calloc_fn fn = ENTRY(je_calloc);
    if (fn == NULL) return alloc_flags(total, MALLOCX_ZERO);
    if (MS_UNLIKELY(inject_fails(total))) {
        errno = ENOMEM;
        return NULL;
    }
    int saved = errno;
    return keep_errno(fn(nmemb, size), saved);
}

/* ptr is not NULL and size is not 0 here; ptr stays intact on failure, errno is ENOMEM. */
static void *realloc_slow(void *ptr, size_t size) {
    if (MS_UNLIKELY(inject_fails(size))) {
        errno = ENOMEM;
        return NULL;
    }
    realloc_fn fn = ENTRY(je_realloc);
    int saved = errno;
    /* keep_errno also sets the ENOMEM jemalloc 5.3's realloc does not */
    return keep_errno(fn != NULL ? fn(ptr, size) : rallocx(ptr, size, 0), saved);
}

#if defined(__GNUC__) && !defined(__clang__)
#    define MS_NO_FRAME_POINTER __attribute__((optimize("omit-frame-pointer")))
#else
#    define MS_NO_FRAME_POINTER
#endif

/* Before ms_alloc_init, under valgrind, or when jemalloc's free was not found. */
static void free_x(void *ptr) {
    int saved = errno; /* preserves errno */
    if (ptr != NULL) dallocx(ptr, 0);
    errno = saved;
}

/*
 * The default direct free: jemalloc's free between a save and a restore of errno. The
 * knob config.free_keeps_errno=false installs jemalloc's free itself instead (a pure
 * tail jump; errno then is whatever jemalloc leaves). No frame pointer (GCC): it is a
 * leaf-like trampoline, and with one the frame would be 4 instructions longer.
 */
static MS_NO_FRAME_POINTER void free_keep_errno(void *ptr) {
    int saved = errno_load(); /* preserves errno */
    ENTRY(je_free)(ptr);      /* jemalloc's free takes NULL */
    errno_store(saved);
}

/*
 * The default direct malloc and calloc: jemalloc's own, then errno put back on success.
 * jemalloc's malloc changes errno when a system call fails on its slow path even though
 * the allocation then succeeds (a purge whose madvise fails: tests/helpers/
 * shim_free_errno.c, mode malloc), and glibc's malloc leaves errno alone on success; a
 * failure sets ENOMEM. Like free_keep_errno, no frame pointer (GCC).
 */
static MS_NO_FRAME_POINTER void *malloc_keep_errno(size_t size) {
    int saved = errno_load();
    void *p = ENTRY(je_malloc)(size);
    errno_store(MS_LIKELY(p != NULL) ? saved : ENOMEM);
    return p;
}

static MS_NO_FRAME_POINTER void *calloc_keep_errno(size_t nmemb, size_t size) {
    int saved = errno_load();
    void *p = ENTRY(je_calloc)(nmemb, size); /* it checks nmemb * size for overflow */
    errno_store(MS_LIKELY(p != NULL) ? saved : ENOMEM);
    return p;
}

/*
 * realloc between small size classes. jemalloc 5.3's realloc has no fast path: on sqlite3
 * a small block that changes size class costs it about 480 instructions, and about 60
 * more with prof:true (it looks the old block's profiling context up even while
 * profiling is inactive). For two small classes what it does is simple: the block itself
 * when the new size is in the same class (no shrinking within a class), otherwise a new
 * block of the new class, a copy, and the old block freed. The shim does exactly that
 * through jemalloc's malloc and free, whose thread-cache fast paths make it about 180
 * instructions, sallocx and the copy included. Profiling stays exact: the new block is
 * sampled (or not) by malloc like any other. Large blocks keep jemalloc's realloc, which
 * can grow or shrink them in place without copying.
 *
 * small_class[(size + 7) >> 3] is the usable size of a request of `size` bytes up to
 * small_max, from jemalloc's bin table (arenas.bin.<j>.size, all multiples of 8), read
 * once by ms_alloc_use_direct; small_max stays 0 (the path off) if it cannot be read.
 */
#define SMALL_TAB_LEN 2049 /* sizes up to 16 KiB; jemalloc 5.3's largest small class is 14 KiB */
static uint16_t small_class[SMALL_TAB_LEN];
static _Atomic size_t small_max;

static void small_classes_init(void) {
    if (atomic_load(&small_max) != 0) return;
    unsigned nbins = 0;
    size_t len = sizeof(nbins), mib[4], miblen = 4;
    if (mallctl("arenas.nbins", &nbins, &len, NULL, 0) != 0 || nbins == 0 ||
        mallctlnametomib("arenas.bin.0.size", mib, &miblen) != 0)
        return;
    size_t prev = 0;
    for (unsigned j = 0; j < nbins; j++) {
        size_t sz = 0;
        len = sizeof(sz);
        mib[2] = j;
        if (mallctlbymib(mib, miblen, &sz, &len, NULL, 0) != 0 || sz % 8 != 0 || sz <= prev ||
            sz / 8 >= SMALL_TAB_LEN)
            return;
        for (size_t k = prev / 8 + 1; k <= sz / 8; k++)
            small_class[k] = (uint16_t)sz;
        prev = sz;
    }
    atomic_store(&small_max, prev);
}

/* The direct realloc: ptr is not NULL and size is not 0 here (ms_realloc). */
static void *realloc_direct(void *ptr, size_t size) {
    size_t max = atomic_load_explicit(&small_max, memory_order_acquire); /* then the table */
    if (MS_LIKELY(size <= max)) {
        size_t old = sallocx(ptr, 0);
        if (MS_LIKELY(old <= max)) {
            if (small_class[(size + 7) >> 3] == old) return ptr; /* same class: in place */
            int saved = errno_load(); /* success leaves errno alone, whatever jemalloc does */
            void *p = ENTRY(je_malloc)(size);
            if (MS_UNLIKELY(p == NULL)) {
                errno_store(ENOMEM);
                return NULL;
            }
            memcpy(p, ptr, size < old ? size : old);
            ENTRY(je_free)(ptr);
            errno_store(saved);
            return p;
        }
    }
    int saved = errno_load();
    void *p = ENTRY(je_realloc)(ptr, size);
    errno_store(MS_LIKELY(p != NULL) ? saved : ENOMEM); /* jemalloc 5.3's does not set it */
    return p;
}

/* --- The API (ms_malloc and ms_free are inline in memshim_internal.h) --- */

void ms_free_sized(void *ptr, size_t size) {
    (void)size; /* the size a caller claims is not trusted: jemalloc looks it up */
    ms_free(ptr);
}

void *ms_calloc(size_t nmemb, size_t size) {
    return ENTRY(calloc_entry)(nmemb, size); /* both check nmemb * size for overflow */
}

void *ms_realloc(void *ptr, size_t size) {
    if (ptr == NULL) return ms_malloc(size);
    if (size == 0) { /* glibc: realloc(p, 0) frees p and returns NULL */
        ms_free(ptr);
        return NULL;
    }
    return ENTRY(realloc_entry)(ptr, size); /* each entry sets ENOMEM itself */
}

void *ms_reallocarray(void *ptr, size_t nmemb, size_t size) {
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
static void *aligned(size_t alignment, size_t size) {
    if (MS_UNLIKELY(alignment > ((size_t)1 << 62))) { /* no such extent can exist */
        errno = ENOMEM;
        return NULL;
    }
    if (alignment <= 8 || (alignment == 16 && size > 8)) return alloc_flags(size, 0);
    return alloc_flags(size, MALLOCX_ALIGN(alignment));
}

int ms_posix_memalign(void **memptr, size_t alignment, size_t size) {
    if (!is_pow2(alignment) || alignment % sizeof(void *) != 0) return EINVAL;
    int saved = errno; /* posix_memalign reports through its result, never errno */
    void *p = aligned(alignment, size);
    errno = saved;
    if (p == NULL) return ENOMEM;
    *memptr = p;
    return 0;
}

void *ms_aligned_alloc(size_t alignment, size_t size) {
    /* C11/C17 and glibc >= 2.38: an alignment that is not a power of two is invalid. */
    if (!is_pow2(alignment)) {
        errno = EINVAL;
        return NULL;
    }
    return aligned(alignment, size);
}

void *ms_memalign(size_t alignment, size_t size) {
    /* glibc: alignment below the minimum is raised; a non-power of two is rounded up;
     * above SIZE_MAX / 2 + 1 it is EINVAL (and 2^63 itself then fails with ENOMEM). */
    if (alignment > SIZE_MAX / 2 + 1) {
        errno = EINVAL;
        return NULL;
    }
    if (!is_pow2(alignment)) {
        size_t a = 1;
        while (a < alignment)
            a <<= 1;
        alignment = a;
    }
    return aligned(alignment, size);
}

void *ms_valloc(size_t size) {
    return aligned(page_size(), size);
}

void *ms_pvalloc(size_t size) {
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

size_t ms_usable_size(const void *ptr) {
    if (ptr == NULL) return 0;
    return sallocx(ptr, 0);
}

/* The address of `name` in the object `h`, if it really lies in that object. */
static void *lookup_in(void *h, const void *base, const char *name) {
    void *f = dlsym(h, name);
    Dl_info info;
    if (f == NULL || dladdr(f, &info) == 0 || info.dli_fbase != base) return NULL;
    return f;
}

/*
 * Valgrind tools with their own heap (memcheck, helgrind, drd, massif, dhat) replace every
 * malloc/free they find, jemalloc's included, but not mallocx/dallocx: the direct path
 * would then mix their heap with jemalloc's. They preload vgpreload_<tool>.so (callgrind
 * and cachegrind have only vgpreload_core and keep the direct path).
 */
static bool under_valgrind_heap(void) {
    const char *lp = getenv("LD_PRELOAD");
    for (const char *p = lp; p != NULL && (p = strstr(p, "vgpreload_")) != NULL; p += 10)
        if (strncmp(p + 10, "core", 4) != 0) return true;
    return false;
}

int ms_alloc_init(void) {
    errno_tpoff_init();
    if (under_valgrind_heap()) return -ENOTSUP;
    Dl_info info;
    if (dladdr((void *)&mallocx, &info) == 0 || info.dli_fname == NULL) return -ENOENT;
    void *h = dlopen(info.dli_fname, RTLD_LAZY | RTLD_NOLOAD);
    if (h == NULL) return -ENOENT;
    void *m = lookup_in(h, info.dli_fbase, "malloc");
    void *c = lookup_in(h, info.dli_fbase, "calloc");
    void *r = lookup_in(h, info.dli_fbase, "realloc");
    void *f = lookup_in(h, info.dli_fbase, "free");
    dlclose(h); /* libjemalloc stays: it is our DT_NEEDED dependency */
    if (m == NULL || c == NULL || r == NULL || f == NULL) return -ENOENT;
    ms_alloc_use_direct((ms_malloc_fn)m, (calloc_fn)c, (realloc_fn)r, (ms_free_fn)f);
    return 0;
}

void ms_alloc_use_direct(void *(*m)(size_t), void *(*c)(size_t, size_t), void *(*r)(void *, size_t),
                         void (*f)(void *)) {
    errno_tpoff_init();   /* before free_keep_errno can be installed */
    small_classes_init(); /* before realloc_direct can be installed */
    atomic_store(&je_malloc, m);
    atomic_store(&je_calloc, c);
    atomic_store(&je_realloc, r);
    atomic_store(&je_free, f);
    ms_alloc_refresh();
}

void ms_alloc_use_xpath(void) {
    atomic_store(&je_malloc, NULL);
    atomic_store(&je_calloc, NULL);
    atomic_store(&je_realloc, NULL);
    atomic_store(&je_free, NULL);
    ms_alloc_refresh();
}

void ms_alloc_refresh(void) {
    bool armed = atomic_load(&ms_inject_armed) != 0;
    ms_malloc_fn m = atomic_load(&je_malloc);
    calloc_fn c = atomic_load(&je_calloc);
    realloc_fn r = atomic_load(&je_realloc);
    ms_free_fn f = atomic_load(&je_free);
    atomic_store(&ms_malloc_entry, m != NULL && !armed ? malloc_keep_errno : malloc_slow);
    atomic_store(&calloc_entry, c != NULL && !armed ? calloc_keep_errno : calloc_slow);
    atomic_store(&realloc_entry, r != NULL && !armed ? realloc_direct : realloc_slow);
    ms_free_fn fe = free_x;
    if (f != NULL) fe = atomic_load(&free_keeps_errno) ? free_keep_errno : f;
    atomic_store(&ms_free_entry, fe);
}

int ms_ctl_free_keeps_errno_get(void *out) {
    *(bool *)out = atomic_load(&free_keeps_errno);
    return 0;
}

int ms_ctl_free_keeps_errno_set(const void *in) {
    atomic_store(&free_keeps_errno, *(const bool *)in);
    ms_alloc_refresh();
    return 0;
}
