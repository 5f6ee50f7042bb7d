#!/bin/sh
# SPDX-License-Identifier: MIT
# Hostile heap dumps: whatever a dump's MAPPED_LIBRARIES names, heapprof opens only regular
# files. A mapping naming a FIFO (whose open would block forever), /dev/zero or a directory
# gets one warning ("not a regular file", "Is a directory") and its frames are shown as
# addresses, in every command; so does a FIFO planted where a stripped object's debug file
# is looked for (the debug store's .build-id path, and the .gnu_debuglink name next to it).
# Every run is bounded by `timeout`: a hang is a failure (exit 124), not a stuck test.
set -u
. "$(dirname "$0")/../lib.sh"
hp_setup
need_helper hp_sites
need_cmd timeout
need_cmd objcopy
need_cmd readelf

# hostile_dump FILE PATH: a dump with one stack whose leaf lies in a mapping of PATH
hostile_dump() {
    cat >"$1" <<EOF
heap_v2/524288
  t*: 2: 2048 [0: 0]
@ 0x401010 0x7f0000001234
  t*: 2: 2048 [0: 0]

MAPPED_LIBRARIES:
00400000-00500000 r-xp 00000000 00:00 0 $2
7f0000000000-7f0000100000 r-xp 00000000 00:00 0 /nonexistent/libx.so
EOF
}

# run_cmd CMD DUMP: runs one command on DUMP under timeout; output in $TMP/out, $TMP/err
run_cmd() {
    case $1 in
    top | collapsed) timeout 20 "$HP" "$1" "$2" >"$TMP/out" 2>"$TMP/err" ;;
    flame) timeout 20 "$HP" flame "$2" -o "$TMP/out.svg" >"$TMP/out" 2>"$TMP/err" ;;
    pprof) timeout 20 "$HP" pprof "$2" -o "$TMP/out.pb.gz" >"$TMP/out" 2>"$TMP/err" ;;
    diff) timeout 20 "$HP" diff "$2" "$2" >"$TMP/out" 2>"$TMP/err" ;;
    esac
    rc=$?
    [ $rc -ne 124 ] || fail "$1 $(basename "$2"): hung (killed by timeout)"
    [ $rc -eq 0 ] || fail "$1 $(basename "$2"): exit $rc: $(cat "$TMP/err")"
}

# run_all DUMP WARNING: every command finishes, exits 0, warns about the object, and
# names the leaf frame by object and offset
run_all() {
    for cmd in top collapsed flame pprof diff; do
        rm -f "$TMP/out.svg" "$TMP/out.pb.gz"
        run_cmd $cmd "$1"
        grep -q "$2 (its frames are shown as addresses)" "$TMP/err" ||
            fail "$cmd $(basename "$1"): no warning '$2': $(cat "$TMP/err")"
        case $cmd in
        top) grep -q '+0x1010$' "$TMP/out" || fail "top: leaf not named by address: $(cat "$TMP/out")" ;;
        collapsed) grep -q '+0x1010 [0-9]*$' "$TMP/out" || fail "collapsed: $(cat "$TMP/out")" ;;
        flame) grep -q '</svg>' "$TMP/out.svg" || fail "flame: no SVG" ;;
        pprof) [ -s "$TMP/out.pb.gz" ] || fail "pprof: no output" ;;
        esac
    done
    echo "$(basename "$1"): $(head -n 1 "$TMP/err")"
}

mkfifo "$TMP/fifo" || fail "mkfifo"
hostile_dump "$TMP/fifo.heap" "$TMP/fifo"
run_all "$TMP/fifo.heap" "$TMP/fifo: not a regular file"
hostile_dump "$TMP/zero.heap" /dev/zero
run_all "$TMP/zero.heap" "/dev/zero: not a regular file"
mkdir "$TMP/dir"
hostile_dump "$TMP/dir.heap" "$TMP/dir"
run_all "$TMP/dir.heap" "$TMP/dir: Is a directory"

# A stripped object whose debug file is looked up by build-id in the store and by its
# .gnu_debuglink next to it: both places hold a FIFO.
mkdir -p "$TMP/bin"
bin="$TMP/bin/hp_stripped"
cp "$HELPERS/hp_sites" "$bin"
bid=$(readelf -n "$bin" | sed -n 's/.*Build ID: \([0-9a-f]*\).*/\1/p')
[ -n "$bid" ] || skip "hp_sites has no build-id note"
objcopy --only-keep-debug "$bin" "$TMP/bin/hp_stripped.debug" || fail "objcopy --only-keep-debug"
objcopy --strip-all --add-gnu-debuglink="$TMP/bin/hp_stripped.debug" "$bin" || fail "objcopy --strip-all"
rm -f "$TMP/bin/hp_stripped.debug"
mkfifo "$TMP/bin/hp_stripped.debug" || fail "mkfifo"
store="$TMP/store/.build-id/$(echo "$bid" | cut -c1-2)"
mkdir -p "$store"
mkfifo "$store/$(echo "$bid" | cut -c3-).debug" || fail "mkfifo"
hostile_dump "$TMP/debug.heap" "$bin"
timeout 20 "$HP" top "$TMP/debug.heap" --debug-dir "$TMP/store" >"$TMP/out" 2>"$TMP/err"
rc=$?
[ $rc -ne 124 ] || fail "top with FIFO debug files: hung (killed by timeout)"
[ $rc -eq 0 ] || fail "top with FIFO debug files: exit $rc: $(cat "$TMP/err")"
echo "FIFO debug files: $(tail -n 1 "$TMP/out")"
echo "ok"
