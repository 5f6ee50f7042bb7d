#!/bin/sh
# SPDX-License-Identifier: MIT
# tests/fuzz/run.sh - `make fuzz`: builds every tests/fuzz/fuzz_<parser>.c with
# clang -fsanitize=fuzzer,address,undefined and runs it for FUZZ_SECONDS seconds on a working
# copy of its seed corpus, then prints one row per target: executions, exec/s, corpus size
# and findings (crash/leak/timeout/oom inputs libFuzzer saved in
# $BUILD/fuzz/artifacts/<target>/ during this run). Exits 1 when anything was found or
# failed to build, 77 when no clang with libFuzzer is installed.
# usage: BUILD=build-fuzz FUZZ_SECONDS=60 [FUZZ_TARGETS="hp_dump ctlproto"] sh tests/fuzz/run.sh
# A finding reproduces with: $BUILD/fuzz/<target> <artifact>; once fixed, copy the artifact
# into tests/fuzz/corpus/<parser>/ (as regress-<what>) so `make test` replays it.
set -u
BUILD=${BUILD:-build-fuzz}
SECS=${FUZZ_SECONDS:-30}
FILTER=${FUZZ_TARGETS:-}
cd "$(dirname "$0")/../.." || exit 2
. tests/fuzz/lib.sh
# Absolute: a target may change directory (a config file's "dir" line does).
case "$BUILD" in /*) ;; *) BUILD="$(pwd)/$BUILD" ;; esac
unset LD_PRELOAD

cc=$(fuzz_pick_cc "-fsanitize=fuzzer,address,undefined") || {
    echo "no clang with the libFuzzer runtime (apt-get install clang libclang-rt-14-dev)"
    exit 77
}
mkdir -p "$BUILD/fuzz"
summary="$BUILD/fuzz/summary.txt"
head=$(printf '%-16s %6s %12s %9s %7s %8s' target secs execs exec/s corpus findings)
echo "$head" >"$summary"
echo "$head"
bad=0

for t in $(fuzz_targets); do
    p=${t#fuzz_}
    if [ -n "$FILTER" ]; then
        case " $FILTER " in *" $p "* | *" $t "*) ;; *) continue ;; esac
    fi
    missing=$(fuzz_missing "$t")
    if [ -n "$missing" ]; then
        row=$(printf '%-16s skipped: %snot written yet' "$p" "$missing")
        echo "$row" | tee -a "$summary"
        continue
    fi
    bin="$BUILD/fuzz/$t"
    log="$BUILD/fuzz/$t.log"
    if ! fuzz_build "$t" fuzz "$cc" "$bin" >"$log" 2>&1; then
        printf '%-16s BUILD FAILED (%s)\n' "$p" "$log" | tee -a "$summary"
        sed 's/^/    | /' "$log" | tail -n 20
        bad=1
        continue
    fi
    work="$BUILD/fuzz/corpus/$p"
    art="$BUILD/fuzz/artifacts/$p"
    mkdir -p "$work" "$art"
    seeds=$(fuzz_corpus "$t")
    [ -d "$seeds" ] || seeds=
    dict=
    [ -f "tests/fuzz/$t.dict" ] && dict="-dict=tests/fuzz/$t.dict"
    marker="$BUILD/fuzz/.start-$p"
    : >"$marker"
    # -timeout: one input taking 60 s is a finding (generous: on a loaded 2-core machine a
    # 10 s limit reported inputs that take 40 ms); -rss_limit_mb bounds a runaway parser.
    # shellcheck disable=SC2086 # dict/options/seeds may be empty
    "$bin" -max_total_time="$SECS" -print_final_stats=1 -timeout=60 -rss_limit_mb=2048 \
        -artifact_prefix="$art/" $dict $(fuzz_options "$t") "$work" $seeds >"$log" 2>&1
    rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
    found=$(find "$art" -type f -newer "$marker" | wc -l)
    ncorp=$(find "$work" -type f | wc -l)
    row=$(printf '%-16s %6s %12s %9s %7s %8s' "$p" "$SECS" "${execs:-?}" "${speed:-?}" \
        "$ncorp" "$found")
    echo "$row" | tee -a "$summary"
    if [ "$found" -gt 0 ] || [ $rc -ne 0 ]; then
        bad=1
        grep -E 'ERROR: |runtime error|fuzz property violated|SUMMARY' "$log" | head -n 5 |
            sed 's/^/    | /'
        find "$art" -type f -newer "$marker" | sed "s|^|    reproduce: $bin |"
        [ "$found" -eq 0 ] && echo "    libFuzzer exited $rc without an artifact: see $log"
    fi
    rm -f "$marker"
done
echo "(summary in $summary, logs in $BUILD/fuzz/<target>.log)"
exit $bad
