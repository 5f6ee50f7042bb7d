#!/bin/sh
# SPDX-License-Identifier: MIT
# Stress: failure injection at random rates (MEMSHIM_FAIL_RATE with a seed; some runs only
# for requests of at least MEMSHIM_FAIL_MIN_SIZE bytes, so python gets past its start-up
# and meets the failures in its own work) under real programs: python3 on an allocation-heavy
# script and sort (also with --parallel). Every run must end in one of three ways:
#   ok     exit 0 with exactly the output of a run without injection (nothing corrupted);
#   error  a non-zero exit status with a message (MemoryError, "memory exhausted", ...);
#   abort  python's own "Fatal Python error" abort, its documented answer to running out
#          of memory where it cannot raise MemoryError;
# never a crash (SIGSEGV, SIGBUS, an abort without the program's message) and never a hang
# (30 s each). Prints the tally and the number of allocations failed on purpose (from
# each run's exit report).
. "$(dirname "$0")/../lib.sh"
need_preload
need_built "$SHIM"
ok=0 errors=0 aborts=0 runs=0 injected=0
# Each seed has its own stream (the k-th allocation fails iff
# splitmix64(splitmix64(seed) + k * golden) < rate * 2^64), so any distinct seeds give
# independent runs; these far-apart ones date from when seeds 1, 2, 3 were one sequence
# shifted by an allocation.
SEEDS="11 1000000007 2000000011 3000000019"

# classify NAME RC: checks one finished run whose files are $TMP/NAME.{out,err,rep}.
classify() {
    name=$1 rc=$2
    runs=$((runs + 1))
    n=$(sed -n 's/.*failures injected *\([0-9]*\) of.*/\1/p' "$TMP/$name.rep" 2>/dev/null | tail -n 1)
    injected=$((injected + ${n:-0}))
    if [ "$rc" -eq 0 ]; then
        cmp -s "$TMP/$name.out" "$TMP/$ref" || fail "$name: exit 0 but the output differs (corrupted)"
        ok=$((ok + 1))
    elif [ "$rc" -eq 124 ]; then
        fail "$name: still running after 30 s (hang)"
    elif [ "$rc" -eq 134 ] && grep -q 'Fatal Python error' "$TMP/$name.err"; then
        aborts=$((aborts + 1))
    elif [ "$rc" -gt 128 ]; then
        fail "$name: killed by signal $((rc - 128)) ($(tail -n 3 "$TMP/$name.err"))"
    elif [ -s "$TMP/$name.err" ]; then
        errors=$((errors + 1))
    else
        fail "$name: exit $rc without a message"
    fi
}

# inject NAME RATE MIN_SIZE SEED CMD...: one run of CMD under the shim with injection.
inject() {
    name=$1 rate=$2 min=$3 seed=$4
    shift 4
    # env is the first process to get the preload; it execs CMD under the same pid, so
    # the exit report is CMD's.
    timeout 30 env LD_PRELOAD="$SHIM" MEMSHIM_FAIL_RATE="$rate" MEMSHIM_FAIL_MIN_SIZE="$min" \
        MEMSHIM_FAIL_SEED="$seed" MEMSHIM_REPORT=1 MEMSHIM_REPORT_FILE="$TMP/$name.rep" \
        "$@" >"$TMP/$name.out" 2>"$TMP/$name.err"
    classify "$name" $?
}

if [ -x /usr/bin/python3 ]; then
    cat >"$TMP/work.py" <<'PY'
import json, random
rng = random.Random(5)
d = {}
for i in range(40000):
    d["k%d" % i] = [rng.random() for _ in range(rng.randrange(0, 6))]
    if i % 7 == 0:
        d.pop("k%d" % (i // 2), None)
s = json.dumps(d, sort_keys=True)
t = sorted(s.split(","))
print(len(json.loads(s)), len(s), len(t), t[len(t) // 2])
PY
    export PYTHONHASHSEED=0
    ref=py.ref
    /usr/bin/python3 "$TMP/work.py" >"$TMP/py.ref" || fail "python3 reference run failed"
    for cfg in 0.01:0 0.0001:0 0.0005:0 0.002:512 0.02:8192 0.1:32768 0.3:262144; do
        for seed in $SEEDS; do
            inject "py.$cfg.$seed" "${cfg%:*}" "${cfg#*:}" "$seed" /usr/bin/python3 "$TMP/work.py"
        done
    done
    echo "python3: $runs runs: ok $ok, error $errors, python abort $aborts"
else
    echo "python3: not run, /usr/bin/python3 is not installed"
fi

awk 'BEGIN { srand(3); for (i = 0; i < 60000; i++) printf "%08d %s\n", int(rand() * 1e8), i }' \
    >"$TMP/sort.in"
ref=sort.ref
LC_ALL=C sort -S 256K "$TMP/sort.in" >"$TMP/sort.ref" || fail "sort reference run failed"
for rate in 0.01 0.1 0.3 0.6; do
    for seed in $SEEDS; do
        inject "sort.$rate.$seed" "$rate" 0 "$seed" env LC_ALL=C sort -S 256K -T "$TMP" "$TMP/sort.in"
        inject "psort.$rate.$seed" "$rate" 0 "$seed" env LC_ALL=C sort --parallel=4 -S 4M \
            -T "$TMP" "$TMP/sort.in"
    done
done

echo "runs $runs: ok $ok, error $errors, python abort $aborts, crashes 0;" \
    "allocations failed on purpose: $injected"
[ "$injected" -gt 0 ] || fail "no allocation was failed: injection did not work"
