// SPDX-License-Identifier: MIT
// shim_cxx.cc - C++ new/delete in every variant: plain, array, nothrow, aligned
// (C++17), sized (C++14) and their combinations. Under the shim each allocation must
// move jemalloc's own stats.allocated (read through mallctl, found with dlsym), and
// each delete must move it back. Prints one line per variant; "--require-jemalloc"
// fails when mallctl is not there.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dlfcn.h>
#include <new>

typedef int (*mallctl_fn)(const char *, void *, size_t *, void *, size_t);
static mallctl_fn mc;
static const size_t BIG = 8u << 20; // large enough to stand out of the noise

static size_t allocated() {
    if (mc == nullptr) return 0;
    uint64_t epoch = 1;
    size_t len = sizeof(epoch), v = 0;
    mc("epoch", &epoch, &len, &epoch, len);
    len = sizeof(v);
    mc("stats.allocated", &v, &len, nullptr, 0);
    return v;
}

struct alignas(256) Wide {
    unsigned char bytes[BIG];
};

static int failures;
static void *volatile sink; // the pointers escape, so no new/delete pair can be elided

static void check(const char *what, size_t before, size_t during, size_t after, uintptr_t addr,
                  size_t align) {
    bool aligned = addr % align == 0;
    bool in_je = mc == nullptr || (during >= before + BIG && after + BIG <= during);
    if (!aligned || !in_je) failures++;
    std::printf("%-28s %s%s\n", what, in_je ? "ok" : "NOT IN JEMALLOC",
                aligned ? "" : " MISALIGNED");
}

#define VARIANT(name, align, alloc, release)                                                       \
    do {                                                                                           \
        size_t b0 = allocated();                                                                   \
        auto *p = alloc;                                                                           \
        sink = p;                                                                                  \
        uintptr_t addr = reinterpret_cast<uintptr_t>(p);                                           \
        std::memset(static_cast<void *>(p), 1, BIG);                                               \
        size_t b1 = allocated();                                                                   \
        release;                                                                                   \
        size_t b2 = allocated();                                                                   \
        check(name, b0, b1, b2, addr, align);                                                      \
    } while (0)

int main(int argc, char **argv) {
    mc = reinterpret_cast<mallctl_fn>(dlsym(RTLD_DEFAULT, "mallctl"));
    if (argc > 1 && std::strcmp(argv[1], "--require-jemalloc") == 0 && mc == nullptr) {
        std::printf("mallctl not found: not running on jemalloc\n");
        return 1;
    }
    const std::align_val_t al{256};
    VARIANT("new/delete", 16, new unsigned char[BIG], delete[] p);
    VARIANT("operator new/delete", 16, static_cast<unsigned char *>(::operator new(BIG)),
            ::operator delete(p));
    VARIANT("operator new/sized delete", 16, static_cast<unsigned char *>(::operator new(BIG)),
            ::operator delete(p, BIG));
    VARIANT("new[]/delete[]", 16, static_cast<unsigned char *>(::operator new[](BIG)),
            ::operator delete[](p));
    VARIANT("new[]/sized delete[]", 16, static_cast<unsigned char *>(::operator new[](BIG)),
            ::operator delete[](p, BIG));
    VARIANT("nothrow new/delete", 16,
            static_cast<unsigned char *>(::operator new(BIG, std::nothrow)),
            ::operator delete(p, std::nothrow));
    VARIANT("nothrow new[]/delete[]", 16,
            static_cast<unsigned char *>(::operator new[](BIG, std::nothrow)),
            ::operator delete[](p, std::nothrow));
    VARIANT("aligned new/delete", 256, new Wide, delete p);
    VARIANT("aligned op new/delete", 256, static_cast<unsigned char *>(::operator new(BIG, al)),
            ::operator delete(p, al));
    VARIANT("aligned sized delete", 256, static_cast<unsigned char *>(::operator new(BIG, al)),
            ::operator delete(p, BIG, al));
    VARIANT("aligned new[]/delete[]", 256, static_cast<unsigned char *>(::operator new[](BIG, al)),
            ::operator delete[](p, al));
    VARIANT("aligned sized delete[]", 256, static_cast<unsigned char *>(::operator new[](BIG, al)),
            ::operator delete[](p, BIG, al));
    VARIANT("aligned nothrow", 256,
            static_cast<unsigned char *>(::operator new(BIG, al, std::nothrow)),
            ::operator delete(p, al, std::nothrow));
    VARIANT("aligned nothrow[]", 256,
            static_cast<unsigned char *>(::operator new[](BIG, al, std::nothrow)),
            ::operator delete[](p, al, std::nothrow));
    // Many small objects of every kind, freed through the sized paths the compiler emits.
    for (int i = 0; i < 100000; i++) {
        auto *s = new std::uint64_t(static_cast<std::uint64_t>(i));
        auto *a = new char[1 + i % 300];
        auto *w = new (std::nothrow) Wide[0];
        sink = s;
        sink = a;
        sink = w;
        delete s;
        delete[] a;
        delete[] w;
    }
    std::printf("small objects ok\n");
    return failures == 0 ? 0 : 1;
}
