/* SPDX-License-Identifier: MIT */
/*
 * inject.c - failure injection for test workloads.
 *
 * Three rules, combinable: fail every allocation after the N-th (inject.fail_after),
 * fail each allocation with probability P (inject.fail_rate) from a reproducible
 * sequence (inject.seed), and apply both only to requests of at least B bytes
 * (inject.min_size). The k-th countable allocation fails at random iff
 * splitmix64(splitmix64(seed) + k * GOLDEN) < P * 2^64: each seed picks its own
 * starting point of the SplitMix64 sequence (splitmix64(seed), a random 64-bit offset),
 * so different seeds, even consecutive ones, give independent patterns rather than one
 * pattern shifted by an allocation, and a given seed fails the same allocations in a
 * single-threaded program run after run. Allocations made by the shim's own threads
 * (ms_tls_internal) are never counted and never failed.
 */
#include "memshim_internal.h"

#include <errno.h>
#include <math.h>
#include <string.h>

#define FAIL_AFTER_OFF UINT64_MAX

atomic_int ms_inject_armed;
MS_TLS int ms_tls_internal;

static _Atomic uint64_t fail_after = FAIL_AFTER_OFF;
static _Atomic uint64_t fail_threshold; /* P * 2^64, 0 = never */
static _Atomic uint64_t fail_rate_bits; /* the double as set, for reading back */
static _Atomic uint64_t fail_seed;
static _Atomic uint64_t fail_stream = 0xe220a8397b1dcdafull; /* splitmix64(fail_seed) */
static _Atomic size_t fail_min_size;
static _Atomic uint64_t seen;
static _Atomic uint64_t failures;

#define GOLDEN 0x9e3779b97f4a7c15ull /* SplitMix64's increment, 2^64 / phi */

static uint64_t splitmix64(uint64_t x) {
    x += GOLDEN;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static void rearm(void) {
    int armed = atomic_load(&fail_after) != FAIL_AFTER_OFF || atomic_load(&fail_threshold) != 0;
    atomic_store(&ms_inject_armed, armed);
    ms_alloc_refresh();
}

bool ms_inject_should_fail(size_t size) {
    if (ms_tls_internal) return false;
    if (size < atomic_load_explicit(&fail_min_size, memory_order_relaxed)) return false;
    uint64_t k = atomic_fetch_add_explicit(&seen, 1, memory_order_relaxed) + 1;
    bool fail = k > atomic_load_explicit(&fail_after, memory_order_relaxed);
    uint64_t thr = atomic_load_explicit(&fail_threshold, memory_order_relaxed);
    if (!fail && thr != 0)
        fail =
            splitmix64(atomic_load_explicit(&fail_stream, memory_order_relaxed) + k * GOLDEN) < thr;
    if (fail) atomic_fetch_add_explicit(&failures, 1, memory_order_relaxed);
    return fail;
}

uint64_t ms_inject_failures(void) {
    return atomic_load(&failures);
}

uint64_t ms_inject_seen(void) {
    return atomic_load(&seen);
}

/* --- Control handlers (rows of the table in ctl.c) --- */

int ms_ctl_inject_fail_after_get(void *out) {
    uint64_t v = atomic_load(&fail_after);
    *(uint64_t *)out = v == FAIL_AFTER_OFF ? 0 : v;
    return 0;
}

/* 0 turns the rule off; N > 0 lets N allocations through, then fails every one. */
int ms_ctl_inject_fail_after_set(const void *in) {
    uint64_t v = *(const uint64_t *)in;
    atomic_store(&seen, 0);
    atomic_store(&fail_after, v == 0 ? FAIL_AFTER_OFF : v);
    rearm();
    return 0;
}

int ms_ctl_inject_fail_rate_get(void *out) {
    uint64_t bits = atomic_load(&fail_rate_bits);
    memcpy(out, &bits, sizeof(double));
    return 0;
}

int ms_ctl_inject_fail_rate_set(const void *in) {
    double p = *(const double *)in;
    if (!(p >= 0.0 && p <= 1.0)) return -EINVAL; /* also rejects NaN */
    uint64_t bits;
    memcpy(&bits, &p, sizeof(bits));
    atomic_store(&fail_rate_bits, bits);
    uint64_t thr = p >= 1.0 ? UINT64_MAX : (uint64_t)ldexp(p, 64);
    atomic_store(&fail_threshold, thr);
    rearm();
    return 0;
}

int ms_ctl_inject_seed_get(void *out) {
    *(uint64_t *)out = atomic_load(&fail_seed);
    return 0;
}

int ms_ctl_inject_seed_set(const void *in) {
    uint64_t seed = *(const uint64_t *)in;
    atomic_store(&fail_seed, seed);
    atomic_store(&fail_stream, splitmix64(seed));
    atomic_store(&seen, 0);
    return 0;
}

int ms_ctl_inject_min_size_get(void *out) {
    *(size_t *)out = atomic_load(&fail_min_size);
    return 0;
}

int ms_ctl_inject_min_size_set(const void *in) {
    atomic_store(&fail_min_size, *(const size_t *)in);
    return 0;
}

int ms_ctl_inject_failures_get(void *out) {
    *(uint64_t *)out = atomic_load(&failures);
    return 0;
}

int ms_ctl_inject_seen_get(void *out) {
    *(uint64_t *)out = atomic_load(&seen);
    return 0;
}

/* Disarms every rule and zeroes the counters. */
int ms_ctl_inject_reset_set(const void *in) {
    (void)in;
    atomic_store(&fail_after, FAIL_AFTER_OFF);
    atomic_store(&fail_threshold, 0);
    atomic_store(&fail_rate_bits, 0); /* +0.0 */
    atomic_store(&fail_min_size, 0);
    atomic_store(&seen, 0);
    atomic_store(&failures, 0);
    rearm();
    return 0;
}
