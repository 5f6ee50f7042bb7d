#!/bin/sh
# SPDX-License-Identifier: MIT
# heapprof streams its input: a dump read from a pipe on standard input ("-") or from a
# named pipe (neither can be mapped nor sized, so this works only if the reader streams)
# gives exactly the output of the same dump read from a file, in every command. A dump
# that repeats its stacks many times (far more text than distinct stacks) reads the same
# as its short form. Every run is bounded by `timeout`.
set -u
. "$(dirname "$0")/../lib.sh"
hp_setup
need_helper hp_sites
need_cmd timeout

jemalloc_run "$TMP/je" 12 "$HELPERS/hp_sites"
good=$DUMP

# same_streamed NAME ARGS...: `heapprof ARGS` with the file, then with "-" fed by a pipe and
# with a FIFO fed by a writer in the background, all give the same stdout and exit 0
same_streamed() {
    name=$1
    shift
    timeout 60 "$HP" "$@" "$good" >"$TMP/file.out" 2>"$TMP/err" || fail "$name (file): $(cat "$TMP/err")"
    timeout 60 "$HP" "$@" - <"$good" >"$TMP/redirect.out" 2>"$TMP/err" || fail "$name (stdin): $(cat "$TMP/err")"
    cat "$good" | timeout 60 "$HP" "$@" - >"$TMP/stdin.out" 2>"$TMP/err" || fail "$name (pipe): $(cat "$TMP/err")"
    rm -f "$TMP/fifo"
    mkfifo "$TMP/fifo" || fail "mkfifo"
    timeout 60 cat "$good" >"$TMP/fifo" &
    writer=$!
    track_pid "$writer"
    timeout 60 "$HP" "$@" "$TMP/fifo" >"$TMP/fifo.out" 2>"$TMP/err"
    rc=$?
    kill "$writer" 2>/dev/null
    wait "$writer" 2>/dev/null
    untrack_pid "$writer"
    [ $rc -eq 0 ] || fail "$name (FIFO): exit $rc: $(cat "$TMP/err")"
    # (a flame graph's subtitle names its input: the file, "-" or the FIFO)
    for how in file redirect stdin fifo; do
        grep -v 'id="subtitle"' "$TMP/$how.out" >"$TMP/$how.cmp"
    done
    for how in redirect stdin fifo; do
        cmp -s "$TMP/file.cmp" "$TMP/$how.cmp" || fail "$name: $how output differs from the file's"
    done
    [ -s "$TMP/file.out" ] || fail "$name: no output"
}

same_streamed top top
same_streamed "top --cum --lines --json" top --cum --lines --json # (no --alloc: the dump has no allocation totals)
same_streamed collapsed collapsed
same_streamed flame flame -o -

# The same dump with every stack record written 200 times: the counts add up 200-fold and
# the reader keeps one stack each (its output names the same functions).
awk '
    /^MAPPED_LIBRARIES:/ { maps = 1 }
    maps || NR == 1 || (!seen && /^ *t/) { if (!maps) hdr = hdr $0 "\n"; else rest = rest $0 "\n"; next }
    /^@/ { seen = 1; if (rec != "") recs = recs rec; rec = $0 "\n"; next }
    { rec = rec $0 "\n" }
    END {
        recs = recs rec
        printf "%s", hdr
        for (i = 0; i < 200; i++) printf "%s", recs
        printf "%s", rest
    }' "$good" >"$TMP/repeated.heap"
[ "$(grep -c '^@' "$TMP/repeated.heap")" -eq $((200 * $(grep -c '^@' "$good"))) ] ||
    fail "the repeated dump does not have 200 times the stacks"
timeout 60 "$HP" collapsed "$good" >"$TMP/short.out" 2>"$TMP/err" || fail "collapsed: $(cat "$TMP/err")"
cat "$TMP/repeated.heap" | timeout 60 "$HP" collapsed - >"$TMP/long.out" 2>"$TMP/err" ||
    fail "collapsed of the repeated dump: $(cat "$TMP/err")"
cut -d' ' -f1 "$TMP/short.out" >"$TMP/short.names"
cut -d' ' -f1 "$TMP/long.out" >"$TMP/long.names"
cmp -s "$TMP/short.names" "$TMP/long.names" || fail "the repeated dump has other stacks"
awk 'NR == FNR { v[$1] = $2; next } { if (!within($2, 200 * v[$1])) bad = bad " " $1 }
     function within(x, w) { d = x - w; if (d < 0) d = -d; return d <= w * 1e-9 + 200 }
     END { if (bad != "") { print "not 200-fold:" bad; exit 1 } }' "$TMP/short.out" "$TMP/long.out" ||
    fail "the repeated dump's values are not 200 times the original's"
echo "stdin, pipe and FIFO outputs match the file's; a 200-fold repeated dump reads as 200x"
echo "ok"
