/* SPDX-License-Identifier: MIT */
/*
 * shim_probe.c - reports, one "key: value" line each, what this process runs on:
 * whether jemalloc's mallctl is reachable, jemalloc's opt.prof and prof.active, and
 * whether libmemshim is active (memshim_is_active, found with dlsym). Knows nothing of
 * either library at link time.
 */
#include <dlfcn.h>
#include <stdbool.h>
#include <stdio.h>

typedef int (*mallctl_fn)(const char *, void *, size_t *, void *, size_t);

static const char *je_bool(mallctl_fn mc, const char *name) {
    bool v = false;
    size_t len = sizeof(v);
    if (mc == NULL || mc(name, &v, &len, NULL, 0) != 0) return "n/a";
    return v ? "true" : "false";
}

int main(void) {
    mallctl_fn mc = (mallctl_fn)dlsym(RTLD_DEFAULT, "mallctl");
    bool (*active)(void) = (bool (*)(void))dlsym(RTLD_DEFAULT, "memshim_is_active");
    printf("mallctl: %s\n", mc ? "yes" : "no");
    printf("opt.prof: %s\n", je_bool(mc, "opt.prof"));
    printf("prof.active: %s\n", je_bool(mc, "prof.active"));
    printf("memshim: %s\n", active && active() ? "active" : "absent");
    return 0;
}
