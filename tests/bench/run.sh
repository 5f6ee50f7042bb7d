#!/bin/sh
# SPDX-License-Identifier: MIT
# `make bench`: runs every tests/bench/*.sh in turn (each prints its own figures, as
# ratios against its reference). Benchmarks report, they do not pass or fail; this
# exits non-zero only when a benchmark script itself breaks (exit status other than
# 0 or 77 = skipped).
# usage: BUILD=build sh tests/bench/run.sh [name-filter]
set -u
BUILD=${BUILD:-build}
export BUILD
filter=${1:-}
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 2
broken=""
for s in tests/bench/*.sh; do
    name=$(basename "$s" .sh)
    [ "$name" = run ] && continue
    case "$name" in *"$filter"*) ;; *) continue ;; esac
    echo "=== bench $name"
    sh "$s"
    rc=$?
    case $rc in
    0) ;;
    77) echo "(skipped)" ;;
    *) echo "bench $name: exit $rc"; broken="$broken $name" ;;
    esac
    echo
done
[ -z "$broken" ] || { echo "broken benchmarks:$broken"; exit 1; }
exit 0
