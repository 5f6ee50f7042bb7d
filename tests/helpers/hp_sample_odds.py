#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""hp_sample_odds - the probability that a sampled heap-profile figure falls outside a window.

The tests that check the bytes `heapprof top` or `jeprof` report for a site (hp_top.sh,
hp_diff.sh, prof_jeprof.sh, prof_run.sh, ...) choose their sites' sizes and tolerances with
this, so that a run fails on sampling luck with a probability far below 1e-9.

The model is jemalloc 5.3's: the distance in bytes to the next sample is geometric with mean
R = 2^lg_sample (memoryless), so an allocation of usable size s is sampled independently of
every other one with probability p = 1 - (1 - 1/R)^s, and a sampled allocation stands for
s/p bytes and 1/p objects in the unbiased figures (jemalloc's prof_unbias, and the
adjustment jeprof and heapprof apply). A site of n allocations of size s therefore reports
K * s/p bytes with K ~ Binomial(n, p); its mean is n * s.

usage: hp_sample_odds.py N SIZE LG_SAMPLE TOLERANCE [WANT]
  prints P(reported bytes outside WANT * (1 +- TOLERANCE)), WANT defaulting to N * SIZE,
  together with the expected number of samples.
example: hp_sample_odds.py 40000 48 12 0.35  ->  2.3e-13 (leak_c of hp_sites)
"""
import math
import sys


def log_pmf(n, p, k):
    return (math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1) +
            k * math.log(p) + (n - k) * math.log1p(-p))


def outside(n, size, lg_sample, tol, want=None):
    rate = float(1 << lg_sample)
    p = -math.expm1(size * math.log1p(-1.0 / rate))
    per_sample = size / p
    if want is None:
        want = n * size
    k_lo = math.ceil(want * (1.0 - tol) / per_sample)   # fewest samples inside the window
    k_hi = math.floor(want * (1.0 + tol) / per_sample)  # most samples inside the window
    prob = sum(math.exp(log_pmf(n, p, k)) for k in range(0, max(0, min(k_lo, n + 1))))
    prob += sum(math.exp(log_pmf(n, p, k)) for k in range(max(0, k_hi + 1), n + 1))
    return prob, n * p


def main(argv):
    if len(argv) not in (5, 6):
        sys.stderr.write(__doc__)
        return 1
    try:
        n, size, lg = int(argv[1]), int(argv[2]), int(argv[3])
        tol = float(argv[4])
        want = float(argv[5]) if len(argv) == 6 else None
    except ValueError:
        sys.stderr.write("hp_sample_odds: N, SIZE and LG_SAMPLE are integers, TOLERANCE a number\n")
        return 1
    if n < 1 or size < 1 or not 0 <= lg <= 62 or not 0 <= tol < 1:
        sys.stderr.write("hp_sample_odds: need N >= 1, SIZE >= 1, 0 <= LG_SAMPLE <= 62, "
                         "0 <= TOLERANCE < 1\n")
        return 1
    prob, samples = outside(n, size, lg, tol, want)
    print("P(outside) = %.3g  (%.1f samples expected)" % (prob, samples))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
