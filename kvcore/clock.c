/* SPDX-License-Identifier: MIT */
/*
 * clock.c - the command clock: a monotonic microsecond clock cheap enough to read once per
 * command (commandstats durations, the latency monitor, the eviction refresh interval).
 *
 * clock_gettime costs 35-40 ns in a VM even through the vDSO, about 6% of the server's CPU
 * per pipelined GET (perf); the time-stamp counter costs a quarter of that. Where the
 * kernel itself keeps time with the TSC (clocksource "tsc", so the counter is constant
 * and synchronized across CPUs), kv_clock_us scales the TSC by a factor measured against
 * CLOCK_MONOTONIC; anywhere else, and until the first 20 ms of measurement exist, it is
 * kv_monotonic_us. Invariants: values never decrease; the factor is re-measured every
 * RECAL_US of TSC time (at the first read after it) over the whole time since the first
 * anchor (so it only gets more precise), and each re-measurement re-anchors at
 * CLOCK_MONOTONIC, so the clock cannot drift from it by more than the rate error over one
 * interval. The read itself is inline (kv_internal.h): a TSC read, one compare against
 * the span of ticks until the next re-measurement (which also sends a counter read behind
 * the anchor here), a multiply. Single-threaded (the event loop), like the rest of the
 * command path.
 */
#include "kv_internal.h"

#include <fcntl.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#if defined(__x86_64__)
#    include <x86intrin.h>
#    define HAVE_TSC 1
#else
#    define HAVE_TSC 0
#endif

#define CALIBRATE_MIN_NS 20000000ull /* first factor after 20 ms of measurement */
#define RECAL_US         50000u      /* re-measure every 50 ms of TSC time */
#define PAIR_MAX_TICKS   200000u     /* tens of microseconds at any clock rate in use */

enum { TSC_UNKNOWN, TSC_OFF, TSC_CALIBRATING, TSC_ON };

static struct {
    int state;
    uint64_t first_tsc; /* the first anchor: the factor is measured from here */
    uint64_t first_ns;  /* CLOCK_MONOTONIC at first_tsc */
} ck;

kv_clock_tsc_t kv_clock_tsc; /* anchor, factor, span (0: not TSC_ON), last value */

#if HAVE_TSC
static uint64_t mono_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* True when the kernel's current clocksource is the TSC. */
static bool kernel_uses_tsc(void) {
    char buf[32];
    int fd = open("/sys/devices/system/clocksource/clocksource0/current_clocksource",
                  O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0) return false;
    buf[n] = '\0';
    return strcmp(buf, "tsc\n") == 0 || strcmp(buf, "tsc") == 0;
}

static uint64_t read_tsc(void) {
    return __rdtsc();
}

/*
 * Reads the TSC and CLOCK_MONOTONIC as one pair: the clock read is bracketed by two TSC
 * reads and the pair is refused when they are far apart (the thread was preempted in
 * between), which would skew the factor. False when refused.
 */
static bool read_pair(uint64_t *tsc, uint64_t *ns) {
    uint64_t t1 = read_tsc();
    *ns = mono_ns();
    uint64_t t2 = read_tsc();
    if (t2 < t1 || t2 - t1 > PAIR_MAX_TICKS) return false;
    *tsc = t1 + (t2 - t1) / 2;
    return true;
}

/* Measures the factor over [first anchor, now] and re-anchors at now. */
static void calibrate(void) {
    uint64_t ns, tsc;
    if (!read_pair(&tsc, &ns)) return;              /* try again on the next read */
    if (tsc <= ck.first_tsc || ns <= ck.first_ns) { /* the counter went back: give up on it */
        ck.state = TSC_OFF;
        kv_clock_tsc.span = 0;
        return;
    }
    uint64_t dns = ns - ck.first_ns, dtsc = tsc - ck.first_tsc;
    if (ck.state == TSC_CALIBRATING && dns < CALIBRATE_MIN_NS) return;
    /* us per tick in 32.32: dns / 1000 / dtsc * 2^32, computed without overflow. */
    uint64_t mult = (uint64_t)(((unsigned __int128)dns << 32) / ((unsigned __int128)dtsc * 1000u));
    if (mult == 0) { /* over 4 GHz x 2^32: never on a real counter */
        ck.state = TSC_OFF;
        kv_clock_tsc.span = 0;
        return;
    }
    /* The anchor never moves back past a value already returned (the factor changed). */
    uint64_t us = ns / 1000u;
    kv_clock_tsc.anchor_tsc = tsc;
    kv_clock_tsc.anchor_us = us > kv_clock_tsc.last_us ? us : kv_clock_tsc.last_us;
    kv_clock_tsc.mult = mult;
    /* RECAL_US worth of ticks; the inline read's product d x mult < RECAL_US x 2^32 + mult
     * stays far below 2^64 for any span up to this one. */
    kv_clock_tsc.span = ((uint64_t)RECAL_US << 32) / mult;
    ck.state = TSC_ON;
}
#endif

static uint64_t clock_slow(void) {
#if HAVE_TSC
    if (ck.state == TSC_UNKNOWN) {
        ck.state = TSC_OFF;
        if (kernel_uses_tsc()) ck.state = TSC_CALIBRATING;
    }
    if (ck.state == TSC_CALIBRATING) {
        if (ck.first_tsc == 0) {
            if (!read_pair(&ck.first_tsc, &ck.first_ns)) ck.first_tsc = 0;
        } else {
            calibrate();
        }
    }
#endif
    return kv_monotonic_us();
}

/* Every read the inline path in kv_internal.h does not serve. */
uint64_t kv_clock_us_slow(void) {
    uint64_t v;
#if HAVE_TSC
    if (ck.state == TSC_ON) {
        uint64_t tsc = read_tsc();
        /* Behind the anchor (another CPU's counter a hair behind): the last value. */
        if (tsc < kv_clock_tsc.anchor_tsc) return kv_clock_tsc.last_us;
        calibrate(); /* a re-measurement is due (or the TSC was given up) */
        if (ck.state == TSC_ON) {
            tsc = read_tsc();
            uint64_t d = tsc > kv_clock_tsc.anchor_tsc ? tsc - kv_clock_tsc.anchor_tsc : 0;
            v = kv_clock_tsc.anchor_us +
                (uint64_t)(((unsigned __int128)d * kv_clock_tsc.mult) >> 32);
        } else {
            v = kv_monotonic_us();
        }
    } else {
        v = clock_slow();
    }
#else
    v = clock_slow();
#endif
    if (v < kv_clock_tsc.last_us) return kv_clock_tsc.last_us;
    kv_clock_tsc.last_us = v;
    return v;
}

bool kv_clock_uses_tsc(void) {
    return ck.state == TSC_ON;
}
