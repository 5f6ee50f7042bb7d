#!/bin/sh
# SPDX-License-Identifier: MIT
# Failure injection under kvcore-server: the server starts cleanly with its control
# socket (MEMSHIM_CTL=1); then, through `memshim ctl PID set inject.*`, allocations fail
# at random (rates 0.1% to 20%, fixed seeds, some only above a size) while tests/helpers/
# kv_load writes, reads and deletes (tolerant: errors are counted, dropped connections
# reopened) and tests/kv/checker.py --tolerant verifies its own keys. The server must
# answer errors or drop a connection, never crash, hang or return a value that was never
# written; after the faults stop, every key the checker saw acknowledged reads back
# exactly, and so does DEBUG DIGEST-VALUE. Finally every command of the differential
# corpus runs under 3% failures and must get exactly one reply (tests/kv/one_reply.py).
. "$(dirname "$0")/../lib.sh"
need_cmd redis-cli python3
[ -z "${MEMSHIM_SAN:-}" ] || skip "failure injection needs libmemshim's malloc (sanitizer build)"
stress_need_load
need_built "$MS"
XDG_RUNTIME_DIR="$TMP/xdg"
export XDG_RUNTIME_DIR
mkdir -m 700 "$XDG_RUNTIME_DIR"
MEMSHIM_CTL=1
export MEMSHIM_CTL
kv_start_kvcore --enable-debug-command yes
unset MEMSHIM_CTL
PHASE_SECONDS=${INJECT_SECONDS:-5}

ctl_set() { # name value: retried, since the control thread's own allocations may fail
    i=0
    until "$MS" ctl "$KV_PID" set "$1" "$2" >/dev/null 2>&1; do
        i=$((i + 1))
        [ $i -lt 100 ] || { echo "FAIL: memshim ctl set $1 $2"; return 1; }
        sleep 0.05
    done
}
ctl_get() {
    "$MS" ctl "$KV_PID" get "$1" 2>/dev/null | awk '{print $NF}'
}

checker_start --tolerant
fail=0
total_failed=0
for phase in "0.001 11 0" "0.01 12 0" "0.05 13 0" "0.01 14 4096" "0.2 15 2048" "0.5 16 16384"; do
    set -- $phase
    ctl_set inject.reset 1 || fail=1
    ctl_set inject.seed "$2" || fail=1
    ctl_set inject.min_size "$3" || fail=1
    ctl_set inject.fail_rate "$1" || fail=1
    rc=0
    out=$("$KV_LOAD" "$KV_PORT" soak "$PHASE_SECONDS" 4 0 5000 8192 tolerant) || rc=$?
    [ "$rc" -eq 0 ] || { echo "FAIL: kv_load exited with $rc"; fail=1; }
    ctl_set inject.fail_rate 0 || fail=1
    failed=$(ctl_get inject.failures)
    seen=$(ctl_get inject.seen)
    total_failed=$((total_failed + ${failed:-0}))
    echo "rate=$1 seed=$2 min_size=$3: allocations failed $failed of $seen counted; load: $out"
    if ! kv_alive "$KV_PORT"; then
        echo "FAIL: server gone after rate=$1 seed=$2"
        tail -n 60 "$TMP"/kvcore.*.log
        exit 1
    fi
done
# Every command of the differential corpus, each followed by a sentinel PING: exactly one
# reply per command while 3% of allocations fail.
ctl_set inject.reset 1 && ctl_set inject.seed 17 && ctl_set inject.min_size 0 &&
    ctl_set inject.fail_rate 0.03 || fail=1
python3 tests/kv/one_reply.py "$KV_PORT" 3 tests/kv_corpus/*.txt || fail=1
ctl_set inject.fail_rate 0 || fail=1
failed=$(ctl_get inject.failures)
total_failed=$((total_failed + ${failed:-0}))
echo "corpus under 3% failures: $failed allocations failed"
kv_alive "$KV_PORT" || { echo "FAIL: server gone after the corpus"; exit 1; }
checker_stop || fail=1
echo "allocations failed on purpose: $total_failed; server alive: yes"
[ "$total_failed" -gt 0 ] || { echo "FAIL: no allocation failed"; fail=1; }
exit $fail
