#!/bin/sh
# SPDX-License-Identifier: MIT
# Active defragmentation of values far bigger than one step: a hash, a sorted set and a
# list of M elements each (default 100000, 3000 steps of the later list's budget each;
# KV_DEFRAG_BIG=1000000 for the benchmark's size, which takes minutes on a busy
# machine, mostly DEBUG DIGEST) among 100000 fragmented small keys. The defragmenter defers them to its later list and relocates them in
# bounded, resumable steps, looked up again by name at every step. While cycles run, a
# client keeps changing the three values on this server and, command for command, on a
# second one loaded from the same RDB file with activedefrag no (defrag_load.py mutate):
# elements go and come at both ends and in the middle, and every 50 rounds one value is
# deleted, turned into a string, or written anew with the same type but a fraction of
# its size, so a resumed cursor meets a value that changed under it. Passes when both
# servers gave the same replies, a cycle ran and completed during the changes with
# hits, and DEBUG DIGEST of the two datasets is identical at the end.
# test-timeout: 600
. "$(dirname "$0")/../lib.sh"
need_cmd redis-cli python3
[ -z "${MEMSHIM_SAN:-}" ] || skip "fragmentation is jemalloc's, and a sanitizer owns malloc"
M=${KV_DEFRAG_BIG:-100000}
N=100000
LOAD="python3 tests/kv/defrag_load.py"
kv_start_kvcore --enable-debug-command yes --loglevel verbose --dbfilename big.rdb
A=$KV_PORT
LOG="$TMP/kvcore.$A.log"
fail() { echo "FAIL: $*"; tail -n 20 "$LOG"; exit 1; }
field() { redis-cli -p "$1" info "$2" | tr -d '\r' | sed -n "s/^$3://p"; }

$LOAD fill "$A" "$N" || fail "fill"
$LOAD big "$A" "$M" || fail "big values"
$LOAD delete "$A" "$N" || fail "delete"
for k in hash zset list; do
    case $k in hash) c=hlen ;; zset) c=zcard ;; list) c=llen ;; esac
    [ "$(redis-cli -p "$A" $c big:$k)" = "$M" ] || fail "big:$k does not have $M elements"
done
[ "$(redis-cli -p "$A" save)" = OK ] || fail "SAVE"
kv_start_kvcore --enable-debug-command yes --dbfilename big.rdb
B=$KV_PORT
[ "$(redis-cli -p "$A" debug digest)" = "$(redis-cli -p "$B" debug digest)" ] ||
    fail "the reference server did not load the same dataset"

stop="$TMP/stop"
$LOAD mutate "$A" "$B" "$M" "$stop" >"$TMP/mutate.out" 2>&1 &
mpid=$!
track_pid "$mpid"
# cycle-max 5: a slow cycle, so that the changes fall on the big values' steps.
redis-cli -p "$A" config set active-defrag-ignore-bytes 1mb active-defrag-threshold-lower 5 \
    active-defrag-cycle-max 5 >/dev/null
redis-cli -p "$A" config set activedefrag yes >/dev/null
# Until a cycle has started and completed during the changes. Waits on progress, not on
# a clock: gives up when no cycle has run and no hit was added for 10 s, or at the 400 s
# safety cap (a loaded machine slows the slow cycle further; it does not stop it).
i=0
idle=0
last_hits=-1
while [ $i -lt 4000 ] && [ $idle -lt 100 ] && ! grep -q 'Active defrag done' "$LOG"; do
    sleep 0.1
    i=$((i + 1))
    hits=$(field "$A" stats active_defrag_hits)
    if [ "$(field "$A" memory active_defrag_running)" = 0 ] && [ "$hits" = "$last_hits" ]; then
        idle=$((idle + 1))
    else
        idle=0
    fi
    last_hits=$hits
done
grep -q 'Active defrag done' "$LOG" ||
    fail "no cycle completed ($((i / 10)) s, defragmenter idle for $((idle / 10)) s)"
touch "$stop"
wait $mpid
mrc=$?
cat "$TMP/mutate.out"
[ $mrc -eq 0 ] || fail "the servers' replies differed"
redis-cli -p "$A" config set activedefrag no >/dev/null
grep 'Active defrag' "$LOG" | sed -n 1,4p
hits=$(field "$A" stats active_defrag_hits)
[ "${hits:-0}" -gt 0 ] || fail "no active_defrag_hits"
dA=$(redis-cli -p "$A" debug digest)
dB=$(redis-cli -p "$B" debug digest)
echo "DEBUG DIGEST defragmented $dA, reference $dB"
[ "$dA" = "$dB" ] || fail "the datasets differ"
echo "ok"
