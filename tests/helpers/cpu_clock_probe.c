/* SPDX-License-Identifier: MIT */
/*
 * cpu_clock_probe - how far this machine's thread CPU clock strays on a fixed piece of
 * work. It calibrates a loop to about WORK_US microseconds of thread CPU time (the median
 * of 51 runs), then for SECONDS runs that same loop, sleeping GAP_US between runs (a
 * duty cycle like a defragmenter's slices), and reads CLOCK_THREAD_CPUTIME_ID around each
 * run. The work is identical every time, so whatever a run reads above the median is
 * time the clock charged to the thread for something else: on a kernel without
 * CONFIG_IRQ_TIME_ACCOUNTING, interrupts and softirqs (loopback network traffic
 * included) served while the thread runs count as its CPU time.
 *
 * Prints one line:
 *   cpu_clock_probe: runs N, work median M us CPU, p99.9 P us, max X us, over 1 ms: C
 * SIGTERM or SIGINT ends the runs early; the line is printed all the same.
 * usage: cpu_clock_probe SECONDS [WORK_US (400)] [GAP_US (2000)]
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static volatile uint64_t sink;
static volatile sig_atomic_t stopped;

static void on_stop(int sig) {
    (void)sig;
    stopped = 1;
}

static uint64_t clock_us(clockid_t id) {
    struct timespec ts;
    clock_gettime(id, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* A fixed amount of register-only work: an xorshift chain of n steps. */
static void work(uint64_t n) {
    uint64_t x = 0x9E3779B97F4A7C15u;
    for (uint64_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
    }
    sink = x;
}

static uint64_t timed(uint64_t n) {
    uint64_t t0 = clock_us(CLOCK_THREAD_CPUTIME_ID);
    work(n);
    return clock_us(CLOCK_THREAD_CPUTIME_ID) - t0;
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static uint64_t median_of(uint64_t n, uint64_t *buf, size_t runs) {
    for (size_t i = 0; i < runs; i++)
        buf[i] = timed(n);
    qsort(buf, runs, sizeof *buf, cmp_u64);
    return buf[runs / 2];
}

static long parse(const char *s, long lo, long hi) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi) {
        fprintf(stderr, "cpu_clock_probe: bad number '%s' (%ld..%ld)\n", s, lo, hi);
        exit(2);
    }
    return v;
}

int main(int argc, char **argv) {
    if (argc < 2 || argc > 4) {
        fprintf(stderr, "usage: cpu_clock_probe SECONDS [WORK_US] [GAP_US]\n");
        return 2;
    }
    long secs = parse(argv[1], 1, 86400);
    long work_us = argc > 2 ? parse(argv[2], 10, 100000) : 400;
    long gap_us = argc > 3 ? parse(argv[3], 0, 1000000) : 2000;

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    uint64_t cal[51];
    uint64_t n = 1000;
    while (median_of(n, cal, 5) < 50)
        n *= 2; /* reach a measurable size first */
    for (int i = 0; i < 4; i++) {
        uint64_t m = median_of(n, cal, 51);
        if (m == 0) m = 1;
        n = n * (uint64_t)work_us / m;
        if (n == 0) n = 1;
    }

    size_t cap = 1024, len = 0;
    uint64_t *runs = malloc(cap * sizeof *runs);
    if (runs == NULL) return 1;
    uint64_t end = clock_us(CLOCK_MONOTONIC) + (uint64_t)secs * 1000000u;
    struct timespec gap = {gap_us / 1000000, (gap_us % 1000000) * 1000};
    while (!stopped && clock_us(CLOCK_MONOTONIC) < end) {
        if (len == cap) {
            uint64_t *r = realloc(runs, 2 * cap * sizeof *runs);
            if (r == NULL) break;
            runs = r;
            cap *= 2;
        }
        runs[len++] = timed(n);
        if (gap_us > 0) nanosleep(&gap, NULL);
    }
    if (len == 0) {
        printf("cpu_clock_probe: runs 0\n");
        free(runs);
        return 0;
    }
    qsort(runs, len, sizeof *runs, cmp_u64);
    size_t over = 0;
    for (size_t i = 0; i < len; i++)
        over += runs[i] > 1000;
    printf("cpu_clock_probe: runs %zu, work median %llu us CPU, p99.9 %llu us, max %llu us, "
           "over 1 ms: %zu\n",
           len, (unsigned long long)runs[len / 2], (unsigned long long)runs[len * 999 / 1000],
           (unsigned long long)runs[len - 1], over);
    free(runs);
    return 0;
}
