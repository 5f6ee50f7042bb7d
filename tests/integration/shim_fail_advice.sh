#!/bin/sh
# SPDX-License-Identifier: MIT
# The README's failure-injection advice works as written: injection aimed at large requests
# (--fail-min-size 64k --fail-rate 0.05) lets CPython start and run for every seed tried,
# and injection switched on at run time through `memshim ctl ... set inject.fail_rate`
# reaches a running program. Seeds make each run reproducible (CPython's start-up is
# single-threaded), so the outcome is the same on every run.
. "$(dirname "$0")/../lib.sh"
need_built "$MS" "$SHIM"
need_preload
need_sys_python
# Python's hash seed changes its dictionaries' sizes from run to run: fix it, so each seed
# injects at the same allocations every time.
PYTHONHASHSEED=0
export PYTHONHASHSEED

for seed in 1 2 3 4 5 6 7 8; do
    out=$("$MS" run --fail-min-size 64k --fail-rate 0.05 --seed "$seed" -- \
        "$py" -c 'print("started")' 2>&1) || fail "seed $seed: python3 did not start: $out"
    [ "$out" = started ] || fail "seed $seed: python3 printed '$out'"
done
echo "ok: --fail-min-size 64k --fail-rate 0.05: python3 starts for seeds 1..8"

# Injection switched on once the program is up, as the README shows: a python loop that
# allocates 1 MiB buffers gets a MemoryError once the rate is set through the socket.
ctl_xdg
LD_PRELOAD=$SHIM MEMSHIM_CTL=1 "$py" -c '
import sys, time
open(sys.argv[1], "w").close()  # start-up is over: from here on only the loop allocates
n = 0
try:
    while n < 600:
        b = bytearray(1 << 20); n += 1; time.sleep(0.05)
    print("no failure in", n)
except MemoryError:
    print("MemoryError")
' "$TMP/ready" >"$TMP/py.out" 2>&1 &
pid=$!
track_pid "$pid"
wait_for 1500 0.02 test -e "$sockdir/$pid.sock" || fail "python3's control socket did not appear"
wait_for 1500 0.02 test -e "$TMP/ready" || fail "python3 did not start: $(cat "$TMP/py.out")"
"$MS" ctl "$pid" set inject.min_size 65536 >/dev/null || fail "ctl set inject.min_size"
"$MS" ctl "$pid" set inject.fail_rate 1 >/dev/null || fail "ctl set inject.fail_rate"
wait "$pid"
untrack_pid "$pid"
[ "$(cat "$TMP/py.out")" = MemoryError ] || fail "python3 printed '$(cat "$TMP/py.out")'"
echo "ok: memshim ctl PID set inject.fail_rate reaches a running python3 (MemoryError)"
