/* SPDX-License-Identifier: MIT */
/*
 * prof_spike - a known memory spike for the peak-profile tests (tests/integration/prof_peak.sh).
 *
 *   prof_spike spike    steady_alloc keeps 1 MiB (4 KiB blocks) live; spike_alloc
 *                       allocates 64 MiB in 16 KiB blocks, waits until the shim has written
 *                       a peak profile of at least that size (prof.peak_bytes), frees the
 *                       spike and exits with the steady blocks still live.
 *   prof_spike grow N   N successive spikes from spike_alloc, 16 MiB growing by an eighth
 *                       each time (past the shim's step of a sixteenth), each waited for
 *                       as above (a new peak profile, of at least its size) and freed
 *                       before the next.
 *
 * It prints "peak_dumps=D peak_bytes=B peak_path=P" at the end. The wait is on the shim's
 * state, not on time: at most WAIT_MS (a watcher that never dumps is a failure, exit 3).
 * The controls are used through memshim_ctl_get_str/_set_str, looked up with dlsym so the helper
 * runs under LD_PRELOAD without linking the shim (exit 2 without it).
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { BLOCK = 16 << 10, STEADY_BLOCK = 4 << 10, STEADY_N = 256, WAIT_MS = 60000 };

typedef int (*get_str_fn)(const char *name, char *buf, size_t len);
typedef int (*set_str_fn)(const char *name, const char *value);
static get_str_fn get_str;
static set_str_fn set_str;

static void *volatile sink;

static unsigned long long ctl_u64(const char *name) {
    char buf[64];
    if (get_str(name, buf, sizeof(buf)) != 0) {
        fprintf(stderr, "prof_spike: cannot read %s\n", name);
        exit(2);
    }
    return strtoull(buf, NULL, 10);
}

/* Waits until a peak profile newer than the `before`-th covers at least `bytes`. */
static void wait_peak(unsigned long long before, size_t bytes) {
    const struct timespec ms = {0, 1000000L};
    for (int i = 0; i < WAIT_MS; i++) {
        if (ctl_u64("prof.peak_dumps") > before && ctl_u64("prof.peak_bytes") >= bytes) return;
        nanosleep(&ms, NULL);
    }
    fprintf(stderr, "prof_spike: no peak profile of %zu bytes after %d ms (prof.peak_bytes=%llu)\n",
            bytes, WAIT_MS, ctl_u64("prof.peak_bytes"));
    exit(3);
}

static void **steady_alloc(void) {
    void **v = malloc(STEADY_N * sizeof(void *));
    for (int i = 0; i < STEADY_N; i++) {
        v[i] = malloc(STEADY_BLOCK);
        memset(v[i], 1, STEADY_BLOCK);
    }
    return v;
}

static void peak_on(const char *v) {
    if (set_str("prof.peak", v) != 0) {
        fprintf(stderr, "prof_spike: cannot set prof.peak %s\n", v);
        exit(2);
    }
}

/*
 * `bytes` in BLOCK blocks, all live until the peak profile has them, then freed. The
 * watcher is paused while the blocks are allocated: a profile of part of the spike
 * (within the shim's step of the whole) would stand for it.
 */
static void spike_alloc(size_t bytes) {
    peak_on("0");
    unsigned long long before = ctl_u64("prof.peak_dumps");
    size_t n = bytes / BLOCK;
    void **v = malloc(n * sizeof(void *));
    for (size_t i = 0; i < n; i++) {
        v[i] = malloc(BLOCK);
        memset(v[i], 2, 64);
    }
    peak_on("1");
    wait_peak(before, bytes);
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

int main(int argc, char **argv) {
    get_str = (get_str_fn)dlsym(RTLD_DEFAULT, "memshim_ctl_get_str");
    set_str = (set_str_fn)dlsym(RTLD_DEFAULT, "memshim_ctl_set_str");
    if (get_str == NULL || set_str == NULL) {
        fprintf(stderr, "prof_spike: not running under libmemshim\n");
        return 2;
    }
    sink = steady_alloc();
    if (argc >= 2 && strcmp(argv[1], "spike") == 0) {
        spike_alloc((size_t)64 << 20);
    } else if (argc >= 3 && strcmp(argv[1], "grow") == 0) {
        int n = atoi(argv[2]);
        if (n < 1 || n > 24) {
            fprintf(stderr, "prof_spike: grow N: N is 1..24\n");
            return 2;
        }
        size_t bytes = (size_t)16 << 20;
        for (int i = 0; i < n; i++, bytes += bytes / 8)
            spike_alloc(bytes / BLOCK * BLOCK);
    } else {
        fprintf(stderr, "usage: prof_spike spike | grow N\n");
        return 2;
    }
    char path[512];
    if (get_str("prof.peak_path", path, sizeof(path)) != 0) path[0] = '\0';
    printf("peak_dumps=%llu peak_bytes=%llu peak_path=%s\n", ctl_u64("prof.peak_dumps"),
           ctl_u64("prof.peak_bytes"), path);
    return 0;
}
