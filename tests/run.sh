#!/bin/sh
# SPDX-License-Identifier: MIT
# memshim test runner: the unit binaries of tests/unit/test_*.c (cmocka, TAP output), then
# the scripts tests/integration/*.sh. Both lists come from the sources, never from $BUILD:
# a binary left there by a test whose source is gone is not run. Nor is a binary that the
# current sources did not build: before running anything, `make -q` checks that the unit
# binary (for integration tests: the programs, libraries and helpers) is up to date, and
# a missing or out-of-date one is reported as a failure, not run. `make unit`/`make
# integration`/`make test` build first, so they only see this when a source changes
# between the build and the run. MEMSHIM_TEST_STALE=run runs out-of-date binaries anyway
# (marked "stale"), for a tree that others are editing while you test.
# A name-filter runs the tests whose name contains it; one that matches none is an error.
# Prints one closing line "total: N passed, N failed" and exits non-zero on failure.
# usage: BUILD=build [NOSHIM=1] sh tests/run.sh [unit|integration|all] [name-filter]
#   (NOSHIM=1 for a build made with NOSHIM=1, as `make asan`/`make valgrind` do)
set -u
BUILD=${BUILD:-build}
what=${1:-all}
filter=${2:-}
case "$what" in all | unit | integration) ;; *)
    echo "usage: BUILD=build sh tests/run.sh [unit|integration|all] [name-filter]" >&2
    exit 2
    ;;
esac
export BUILD
export CMOCKA_MESSAGE_OUTPUT=TAP
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 2
logdir="$BUILD/test-logs"
mkdir -p "$logdir"
pass=0; fail=0; skip=0; failed=""
stale_ok=0
[ "${MEMSHIM_TEST_STALE:-}" = run ] && stale_ok=1

run_one() { # kind name cmd...
    kind=$1; name=$2; shift 2
    log="$logdir/$name.log"
    start=$(date +%s)
    "$@" >"$log" 2>&1
    rc=$?
    secs=$(( $(date +%s) - start ))
    if [ $rc -eq 0 ]; then
        pass=$((pass + 1)); printf 'ok   %-12s %-40s %3ss%s\n' "$kind" "$name" "$secs" "$note"
    elif [ $rc -eq 77 ]; then
        skip=$((skip + 1)); printf 'skip %-12s %-40s (%s)%s\n' "$kind" "$name" "$(tail -n 1 "$log")" "$note"
    else
        fail=$((fail + 1)); failed="$failed $name"
        printf 'FAIL %-12s %-40s rc=%s%s\n' "$kind" "$name" "$rc" "$note"
        sed 's/^/    | /' "$log" | tail -n 40
    fi
}

not_run() { # kind name why
    fail=$((fail + 1)); failed="$failed $2"
    printf 'FAIL %-12s %-40s not run: %s\n' "$1" "$2" "$3"
}

# up_to_date TARGET...: make has nothing to do for any TARGET (same BUILD and NOSHIM as the
# build; the make that may have started us must not pass its flags or jobserver down).
up_to_date() {
    env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u MAKEOVERRIDES \
        make -q -C "$top" BUILD="$BUILD" NOSHIM="${NOSHIM:-0}" "$@" >/dev/null 2>&1
}

# usable KIND NAME STATE: runs nothing; sets $note for a binary in STATE (fresh, stale or
# missing), or reports NAME as a failure that was not run and returns 1
usable() {
    note=""
    case "$3" in
    fresh) return 0 ;;
    missing) not_run "$1" "$2" "not built (make BUILD=$BUILD all unit-bins)" ;;
    *)
        if [ $stale_ok = 1 ]; then
            note="  (stale)"
            return 0
        fi
        not_run "$1" "$2" "built from older sources (make BUILD=$BUILD all unit-bins, or MEMSHIM_TEST_STALE=run)"
        ;;
    esac
    return 1
}

if [ "$what" = all ] || [ "$what" = unit ]; then
    srcs=""
    for src in tests/unit/test_*.c; do
        [ -f "$src" ] || continue
        name=$(basename "$src" .c)
        case "$name" in *"$filter"*) srcs="$srcs $name" ;; esac
    done
    # One make -q for all of them; one per binary only when something is out of date.
    bins=""
    for name in $srcs; do bins="$bins $BUILD/tests/$name"; done
    all_fresh=0
    # shellcheck disable=SC2086
    [ -n "$bins" ] && up_to_date $bins && all_fresh=1
    for name in $srcs; do
        t="$BUILD/tests/$name"
        state=fresh
        if [ $all_fresh = 0 ]; then
            if [ ! -x "$t" ]; then state=missing; elif ! up_to_date "$t"; then state=stale; fi
        fi
        usable unit "$name" $state || continue
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
    # What the scripts run: the programs and libraries of `make all`, and the helpers.
    built=""
    for h in tests/helpers/*.c tests/helpers/*.cc; do
        [ -f "$h" ] || continue
        h=$(basename "$h"); built="$built $BUILD/tests/helpers/${h%.*}"
    done
    state=fresh
    # shellcheck disable=SC2086
    if ! up_to_date all $built; then
        state=stale
        for t in $built "$BUILD/libmemshim.so"; do [ -e "$t" ] || state=missing; done
    fi
    for s in tests/integration/*.sh; do
        [ -f "$s" ] || continue
        name=$(basename "$s" .sh)
        case "$name" in *"$filter"*) ;; *) continue ;; esac
        usable integration "$name" $state || continue
        # A script may ask for a longer limit with a "# test-timeout: SECONDS" line.
        limit=$(sed -n 's/^# test-timeout: *\([0-9][0-9]*\)$/\1/p' "$s" | head -n 1)
        run_one integration "$name" timeout "${MEMSHIM_TEST_TIMEOUT:-${limit:-180}}" sh "$s"
    done
fi

echo
if [ -n "$filter" ] && [ $((pass + fail + skip)) -eq 0 ]; then
    echo "no $what test has '$filter' in its name"
    exit 1
fi
[ -n "$failed" ] && echo "failed:$failed"
echo "total: $pass passed, $fail failed, $skip skipped"
[ $fail -eq 0 ]
