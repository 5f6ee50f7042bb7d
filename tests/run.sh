#!/bin/sh
# SPDX-License-Identifier: MIT
# memshim test runner: every unit binary (cmocka, TAP output), then every integration
# script. Prints one closing line "total: N passed, N failed" and exits non-zero on failure.
# usage: BUILD=build sh tests/run.sh [unit|integration|all] [name-filter]
set -u
BUILD=${BUILD:-build}
what=${1:-all}
filter=${2:-}
export BUILD
export CMOCKA_MESSAGE_OUTPUT=TAP
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 2
logdir="$BUILD/test-logs"
mkdir -p "$logdir"
pass=0; fail=0; skip=0; failed=""

run_one() { # kind name cmd...
    kind=$1; name=$2; shift 2
    log="$logdir/$name.log"
    start=$(date +%s)
    "$@" >"$log" 2>&1
    rc=$?
    secs=$(( $(date +%s) - start ))
    if [ $rc -eq 0 ]; then
        pass=$((pass + 1)); printf 'ok   %-12s %-40s %3ss\n' "$kind" "$name" "$secs"
    elif [ $rc -eq 77 ]; then
        skip=$((skip + 1)); printf 'skip %-12s %-40s (%s)\n' "$kind" "$name" "$(tail -n 1 "$log")"
    else
        fail=$((fail + 1)); failed="$failed $name"
        printf 'FAIL %-12s %-40s rc=%s\n' "$kind" "$name" "$rc"
        sed 's/^/    | /' "$log" | tail -n 40
    fi
}

if [ "$what" = all ] || [ "$what" = unit ]; then
    for t in "$BUILD"/tests/test_*; do
        [ -x "$t" ] || continue
        name=$(basename "$t")
        case "$name" in *"$filter"*) ;; *) continue ;; esac
        envf="tests/unit/$name.env"
        if [ -n "${MEMSHIM_VALGRIND:-}" ]; then
            run_one unit "$name" env $( [ -f "$envf" ] && grep -v '^#' "$envf" ) \
                valgrind -q --error-exitcode=9 --suppressions="$top/tests/valgrind.supp" \
                --leak-check=full --errors-for-leak-kinds=definite "$t"
        else
            run_one unit "$name" env $( [ -f "$envf" ] && grep -v '^#' "$envf" ) "$t"
        fi
    done
fi

if [ "$what" = all ] || [ "$what" = integration ]; then
    for s in tests/integration/*.sh; do
        [ -f "$s" ] || continue
        name=$(basename "$s" .sh)
        case "$name" in *"$filter"*) ;; *) continue ;; esac
        run_one integration "$name" timeout "${MEMSHIM_TEST_TIMEOUT:-180}" sh "$s"
    done
fi

echo
[ -n "$failed" ] && echo "failed:$failed"
echo "total: $pass passed, $fail failed, $skip skipped"
[ $fail -eq 0 ]
