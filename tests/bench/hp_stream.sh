#!/bin/sh
# SPDX-License-Identifier: MIT
# heapprof's memory on a large dump: a ~1 GB heap_v2 dump with few distinct stacks (8
# backtraces written over and over, each with per-thread lines) is analysed by
# `heapprof top`, from the file and from a pipe, and the peak RSS of each run is reported
# (GNU time's "Maximum resident set size"). The reader streams its input and merges
# repeated stacks, so the peak should be a few MB, whatever the file's size.
# Environment: HP_STREAM_MB (default 1024) sets the dump's size.
set -u
. "$(dirname "$0")/../lib.sh"
need_built "$HP"
[ -x /usr/bin/time ] || skip "GNU time (/usr/bin/time) is not installed"
mb=${HP_STREAM_MB:-1024}
avail=$(df -Pk "$TMP" | awk 'NR == 2 { print int($4 / 1024) }')
[ "$avail" -gt $((mb + 256)) ] || skip "not enough space in $TMP for a $mb MB dump"

# One block of 8 stack records (~1.4 KB), repeated until the file has $mb MB.
awk -v mb="$mb" 'BEGIN {
    print "heap_v2/524288"
    print "  t*: 8: 8192 [0: 0]"
    for (s = 0; s < 8; s++) {
        block = block sprintf("@ 0x%x 0x%x 0x%x 0x%x 0x%x 0x%x\n", 4096 + s * 16, 8208 + s, 12304,
                              16400, 20496, 24592)
        block = block sprintf("  t*: 1: %d [1: %d]\n", 64 * (s + 1), 64 * (s + 1))
        for (t = 0; t < 4; t++)
            block = block sprintf("  t%d: 1: %d [1: %d]\n", t, 64 * (s + 1), 64 * (s + 1))
    }
    n = int(mb * 1048576 / length(block))
    for (i = 0; i < n; i++) printf "%s", block
    print ""
    print "MAPPED_LIBRARIES:"
    print "00001000-00010000 r-xp 00000000 00:00 0 /nonexistent/prog"
}' >"$TMP/big.heap" || { echo "cannot write the dump"; exit 1; }
size=$(stat -c %s "$TMP/big.heap")
stacks=$(grep -c '^@' "$TMP/big.heap")

run() { # label cmd...: runs cmd under GNU time, prints its peak RSS and time
    label=$1
    shift
    /usr/bin/time -v -o "$TMP/time" "$@" >"$TMP/out" 2>"$TMP/err" ||
        { echo "$label: failed: $(cat "$TMP/err")"; exit 1; }
    rss=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$TMP/time")
    wall=$(awk -F': ' '/Elapsed \(wall clock\)/ { print $2 }' "$TMP/time")
    printf '%-28s max RSS %7.1f MB   wall %s\n' "$label" "$(echo "$rss" | awk '{ print $1 / 1024 }')" "$wall"
}

printf 'dump: %.0f MB, %s stack records, 8 distinct\n' "$(echo "$size" | awk '{ print $1 / 1048576 }')" "$stacks"
run "heapprof top FILE" "$HP" top --no-symbols "$TMP/big.heap"
run "heapprof top - (pipe)" sh -c "cat '$TMP/big.heap' | '$HP' top --no-symbols -"
head -n 3 "$TMP/out"
