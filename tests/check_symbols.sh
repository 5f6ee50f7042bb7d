#!/bin/sh
# SPDX-License-Identifier: MIT
# Compares the dynamic symbols a library defines (nm -D --defined-only) with an
# allow-list: every exported name must be allowed, and every required name exported.
# usage: sh tests/check_symbols.sh build/libmemshim.so tests/exported_symbols.txt
set -u
so=$1
list=$2
[ -f "$so" ] || { echo "check-symbols: no $so"; exit 2; }
[ -f "$list" ] || { echo "check-symbols: no $list"; exit 2; }
exported=$(nm -D --defined-only "$so" | awk 'NF == 3 { print $3 }' | sed 's/@.*//' | sort -u)
patterns=$(grep -v '^[[:space:]]*#' "$list" | grep -v '^[[:space:]]*$' | sed 's/^?//')
required=$(grep -v '^[[:space:]]*#' "$list" | grep -v '^[[:space:]]*$' | grep -v '^?' | grep -v '\*')
bad=0
for sym in $exported; do
    ok=0
    for pat in $patterns; do
        # shellcheck disable=SC2254
        case "$sym" in $pat) ok=1; break ;; esac
    done
    if [ $ok -eq 0 ]; then
        echo "check-symbols: $sym is exported but not allowed"
        bad=1
    fi
done
for name in $required; do
    if ! printf '%s\n' "$exported" | grep -qx "$name"; then
        echo "check-symbols: $name is required but not exported"
        bad=1
    fi
done
n=$(printf '%s\n' "$exported" | wc -l)
if [ $bad -eq 0 ]; then
    echo "check-symbols: $n exported symbols of $so, all allowed, none missing"
fi
exit $bad
