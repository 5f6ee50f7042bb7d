#!/bin/sh
# SPDX-License-Identifier: MIT
# Soak: kvcore-server under maxmemory (48 MB, volatile-lru) for SOAK_SECONDS (default 75)
# with everything at once:
#   - tests/helpers/kv_load: 6 connections, 32 commands in flight each, random strings,
#     hashes, lists, sets and sorted sets with TTLs, deletes and EXPIREs (so keys expire
#     and are evicted all the time);
#   - active defrag on (activedefrag yes, low thresholds);
#   - every 4 s, heap profiling from both sides in turn: MEMORY HEAP ENABLE/DUMP/DISABLE
#     over the protocol, and `memshim ctl PID heap enable/dump/disable` from outside
#     (the server runs with MEMSHIM_CTL=1);
#   - tests/kv/checker.py in db 9, verifying its own keys by value and DEBUG DIGEST-VALUE,
#     and at the end (the load's db emptied) DEBUG DIGEST of the whole dataset against
#     its model;
#   - tests/kv/soak_sample.py: INFO every second into $SOAK_OUT/soak_kv.csv, drawn as
#     $SOAK_OUT/soak_kv.svg (RSS and used_memory over time).
# Passes when no reply was wrong, the digest matches, every heap operation succeeded,
# keys were both evicted and expired, RSS stayed under 4x maxmemory and did not creep
# (the second half's peak is within 25% + 8 MB of the first half's).
# Sanitizer builds (MEMSHIM_SAN=1: the sanitizer owns malloc, so there is no jemalloc
# used-memory figure, fragmentation or heap profiling) run it for SOAK_SECONDS (default
# 30 there) on a smaller keyspace without maxmemory, defrag and heap dumps, and check
# correctness only (replies, the checker, the final digest, sanitizer reports).
. "$(dirname "$0")/../lib.sh"
need_cmd redis-cli python3
stress_need_load
SAN=${MEMSHIM_SAN:-}
if [ -n "$SAN" ]; then SECS=${SOAK_SECONDS:-30}; else SECS=${SOAK_SECONDS:-75}; fi
SOAK_OUT=${SOAK_OUT:-$BUILD/soak}
mkdir -p "$SOAK_OUT" "$TMP/heap"
MAXMEM_MB=48

extra="--maxmemory ${MAXMEM_MB}mb --maxmemory-policy volatile-lru"
KEYS=300000
MAXVAL=4096
if [ -n "$SAN" ]; then
    extra=""
    KEYS=20000
    MAXVAL=1024
else
    need_built "$MS"
    ctl_xdg
    MEMSHIM_CTL=1
    export MEMSHIM_CTL
    extra="$extra --activedefrag yes --active-defrag-ignore-bytes 1mb
           --active-defrag-threshold-lower 5 --heap-dump-dir $TMP/heap"
fi
# shellcheck disable=SC2086
kv_start_kvcore --enable-debug-command yes --hz 20 $extra
unset MEMSHIM_CTL
R="redis-cli -p $KV_PORT"

checker_start --final-digest
python3 tests/kv/soak_sample.py "$KV_PORT" "$SOAK_OUT/soak_kv.csv" "$TMP/sample.stop" &
SAMPLE_PID=$!
"$KV_LOAD" "$KV_PORT" soak "$SECS" 6 0 "$KEYS" "$MAXVAL" >"$TMP/load.out" 2>&1 &
LOAD_PID=$!

fail=0
heap_proto=0
heap_ctl=0
heap_bad=0
n=0
while kill -0 "$LOAD_PID" 2>/dev/null; do
    sleep 4
    kill -0 "$LOAD_PID" 2>/dev/null || break
    [ -z "$SAN" ] || continue
    n=$((n + 1))
    if [ $((n % 2)) = 1 ]; then
        a=$($R memory heap enable)
        p=$($R memory heap dump)
        b=$($R memory heap disable)
        if [ "$a" = OK ] && [ "$b" = OK ] && [ -s "$p" ] && head -1 "$p" | grep -q '^heap_v2/'; then
            heap_proto=$((heap_proto + 1))
        else
            heap_bad=$((heap_bad + 1))
            echo "FAIL: MEMORY HEAP enable/dump/disable: '$a' '$p' '$b'"
        fi
        rm -f "$p"
    else
        p="$TMP/heap/ctl-$n.heap"
        if "$MS" ctl "$KV_PID" heap enable >/dev/null && "$MS" ctl "$KV_PID" heap dump "$p" >/dev/null &&
            "$MS" ctl "$KV_PID" heap disable >/dev/null && head -1 "$p" | grep -q '^heap_v2/'; then
            heap_ctl=$((heap_ctl + 1))
        else
            heap_bad=$((heap_bad + 1))
            echo "FAIL: memshim ctl heap enable/dump/disable"
        fi
        rm -f "$p"
    fi
done
wait "$LOAD_PID" || fail=1
echo "load: $(cat "$TMP/load.out")"

# The checker's final DEBUG DIGEST needs its database alone.
$R flushdb >/dev/null
checker_stop || fail=1
touch "$TMP/sample.stop"
wait "$SAMPLE_PID"
kv_alive "$KV_PORT" || { echo "FAIL: server gone"; fail=1; }

evicted=$(kv_info "$KV_PORT" evicted_keys)
expired=$(kv_info "$KV_PORT" expired_keys)
hits=$(kv_info "$KV_PORT" active_defrag_hits)
defrag_ms=$(kv_info "$KV_PORT" total_active_defrag_time)
title="kvcore-server soak: ${SECS} s, maxmemory ${MAXMEM_MB} MB volatile-lru, defrag, heap dumps"
[ -z "$SAN" ] || title="kvcore-server soak: ${SECS} s, sanitizer build (no maxmemory)"
python3 tests/kv/soak_chart.py "$SOAK_OUT/soak_kv.csv" "$title" "$SOAK_OUT/soak_kv.svg" || fail=1
# RSS: bounded, and no creep from the first half to the second (with jemalloc; a
# sanitizer's quarantine and shadow memory make RSS meaningless).
python3 - "$SOAK_OUT/soak_kv.csv" "$MAXMEM_MB" "$SAN" <<'EOF' || fail=1
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
mb = lambda v: int(v) / 2**20
rss = [mb(r["rss"]) for r in rows]
used = [mb(r["used_memory"]) for r in rows]
half = len(rss) // 2
first, second = max(rss[:half] or [0]), max(rss[half:] or [0])
limit = 4 * int(sys.argv[2])
print("samples=%d rss_peak=%.1fMB rss_first_half_peak=%.1fMB rss_second_half_peak=%.1fMB "
      "rss_last=%.1fMB used_memory_peak=%.1fMB" % (len(rss), max(rss), first, second, rss[-1],
                                                   max(used)))
ok = sys.argv[3] != "" or (max(rss) < limit and second <= first * 1.25 + 8)
if not ok:
    print("FAIL: RSS not bounded (limit %d MB, or the second half grew past the first)" % limit)
sys.exit(0 if ok else 1)
EOF
echo "soak: ${SECS} s; evicted_keys=$evicted expired_keys=$expired active_defrag_hits=$hits" \
    "total_active_defrag_time=${defrag_ms}ms heap dumps: protocol=$heap_proto ctl=$heap_ctl" \
    "failed=$heap_bad; chart: $SOAK_OUT/soak_kv.svg"
grep -q " bad=0 " "$TMP/load.out" || fail=1
[ "$heap_bad" = 0 ] || fail=1
[ -n "$SAN" ] || [ $((heap_proto + heap_ctl)) -gt 0 ] || { echo "FAIL: no heap dump taken"; fail=1; }
[ -n "$SAN" ] || [ "${evicted:-0}" -gt 0 ] || { echo "FAIL: nothing was evicted"; fail=1; }
[ "${expired:-0}" -gt 0 ] || { echo "FAIL: nothing expired"; fail=1; }
exit $fail
