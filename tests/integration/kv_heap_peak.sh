#!/bin/sh
# SPDX-License-Identifier: MIT
# MEMORY HEAP PEAK through redis-cli: the path of the shim's peak profile when it is in
# heap-dump-dir; otherwise an error saying why there is none (no heap-dump-dir, peak
# profiles off, the profile written outside heap-dump-dir). The wait is on the server's
# reply, not on time.
. "$(dirname "$0")/../lib.sh"
need_cmd redis-cli
[ -z "${MEMSHIM_SAN:-}" ] || skip "heap profiling needs jemalloc's malloc (sanitizer build)"

expect() { # name want got
    [ "$3" = "$2" ] || fail "$1: got '$3', want '$2'"
}

# No heap-dump-dir: the same refusal as DUMP.
kv_start_kvcore
expect "no heap-dump-dir" "ERR heap dumps are disabled: start the server with --heap-dump-dir <dir> (it cannot be set at run time)" \
    "$(redis-cli -p "$KV_PORT" memory heap peak)"
stop_pid "$KV_PID"

dir="$TMP/dumps"
mkdir -p "$dir" "$TMP/outside"

# Peak profiles off.
kv_start_kvcore --heap-dump-dir "$dir"
expect "peak off" "ERR no peak profile: peak profiles are off (start the server with MEMSHIM_PROF_PEAK=1 and MEMSHIM_DUMP_DIR=<heap-dump-dir>)" \
    "$(redis-cli -p "$KV_PORT" memory heap peak)"
expect "arity" "ERR wrong number of arguments for 'memory|heap' command" \
    "$(redis-cli -p "$KV_PORT" memory heap peak x)"
out=$(redis-cli -p "$KV_PORT" kprofile memory peak)
case "$out" in ERR*) ;; *) fail "kprofile memory peak: $out" ;; esac
stop_pid "$KV_PID"

# 8 values of 1 MiB: the heap grows well past the watcher's 1 MiB step.
head -c 1048576 /dev/zero | tr '\0' x >"$TMP/val"
load() {
    i=0
    while [ $i -lt 8 ]; do
        redis-cli -p "$KV_PORT" -x set "k$i" <"$TMP/val" >/dev/null || fail "set k$i"
        i=$((i + 1))
    done
}
has_peak() { case "$(redis-cli -p "$KV_PORT" memory heap peak)" in ERR*) false ;; *) true ;; esac; }

MEMSHIM_PROF=1 MEMSHIM_PROF_PEAK=1 MEMSHIM_DUMP_DIR="$dir" kv_start_kvcore --heap-dump-dir "$dir"
load
wait_for 400 0.05 has_peak || fail "no peak profile: $(redis-cli -p "$KV_PORT" memory heap peak)"
p=$(redis-cli -p "$KV_PORT" memory heap peak)
expect "peak path" "$(cd "$dir" && pwd -P)/memshim.$KV_PID.peak.heap" "$p"
[ -f "$p" ] && [ ! -L "$p" ] || fail "peak profile $p is not a regular file"
head -n 1 "$p" | grep -q '^heap_v2/' || fail "not a jemalloc heap_v2 dump: $p"
stop_pid "$KV_PID"

# The profile written outside heap-dump-dir is not handed out.
MEMSHIM_PROF=1 MEMSHIM_PROF_PEAK=1 MEMSHIM_DUMP_DIR="$TMP/outside" kv_start_kvcore --heap-dump-dir "$dir"
load
wait_for 400 0.05 test -f "$TMP/outside/memshim.$KV_PID.peak.heap" || fail "no peak profile outside"
expect "outside" "ERR the peak profile is not in heap-dump-dir (start the server with MEMSHIM_DUMP_DIR=<heap-dump-dir>)" \
    "$(redis-cli -p "$KV_PORT" memory heap peak)"
stop_pid "$KV_PID"
echo "ok: MEMORY HEAP PEAK"
