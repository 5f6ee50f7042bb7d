#!/bin/sh
# SPDX-License-Identifier: MIT
# Where the longest defrag slices of kvcore-server spend their time: one cycle of the
# defrag benchmark's workload (tests/kv/defrag_load.py: N keys, a pseudo-random two
# thirds deleted, then activedefrag yes with active-defrag-ignore-bytes 1mb, 20 GET
# clients throughout) traced system-wide with perf: uprobes on each slice
# (timer_trampoline) and on the functions a slice calls (the keys and expires steps,
# process_chunk, value pieces, the table moves, the hint's statistics refresh, the
# cycle's end), hard and soft interrupts, context switches and page faults
# (KV_TRACE_SYSCALLS=1 adds every syscall; it slows the server a lot).
# tests/bench/kv_defrag_slices.py reports per slice: wall time, time on CPU (less the
# spans switched out), the interrupts that ran in the thread's context (this kernel
# charges them to the thread's CPU clock), and the slice's own time; then the slices with
# the most time on CPU and their longest calls, beside the server's own log line (the
# longest slice by the thread CPU clock). Needs root and perf with uprobes; skips
# otherwise.
# KV_DEFRAG_TRACE_BIG=M adds one hash, one sorted set and one list of M elements each
# (defrag_load.py big) before the deletion, as the benchmark's KV_DEFRAG_BENCH_BIG.
# usage: BUILD=build sh tests/bench/kv_defrag_trace.sh
#   KV_DEFRAG_TRACE_KEYS (1500000), KV_DEFRAG_TRACE_TOP (8), KV_TRACE_SYSCALLS (0),
#   KV_DEFRAG_TRACE_BIG (0)
. "$(dirname "$0")/../lib.sh"
need_cmd perf redis-cli redis-benchmark python3
need_root "perf probe"
need_built "$KV_BIN"
N=${KV_DEFRAG_TRACE_KEYS:-1500000}
BIG=${KV_DEFRAG_TRACE_BIG:-0}
TOP=${KV_DEFRAG_TRACE_TOP:-8}
GROUP=kvdefragtrace
BIN=$(cd "$(dirname "$KV_BIN")" && pwd)/$(basename "$KV_BIN")
LIB=$(dirname "$BIN")/libmemshim.so
LOAD="python3 tests/kv/defrag_load.py"

perf probe -q -d "$GROUP:*" >/dev/null 2>&1
# Removes the probes however this script ends (not tracked: it outlives the script).
(while kill -0 $$ 2>/dev/null; do sleep 1; done; perf probe -q -d "$GROUP:*") >/dev/null 2>&1 &

probe() { # binary function name: entry and return probes; 1 when either fails
    perf probe -q -x "$1" -a "$GROUP:$3=$2" >/dev/null 2>&1 &&
        perf probe -q -x "$1" -a "$GROUP:$3=$2%return" >/dev/null 2>&1
}
probe "$BIN" timer_trampoline slice || skip "perf cannot place uprobes on $BIN"
for fn in keys_step exp_step process_chunk later_drain kv_defrag_value_resume \
    kv_agg_defrag_value kv_zsl_defrag_range kv_ht_defrag_tables defrag_cycle_end; do
    probe "$BIN" "$fn" "$fn" || echo "(no probe on $fn: inlined in this build)"
done
[ -f "$LIB" ] && { probe "$LIB" snap_refresh_locked snap_refresh_locked ||
    echo "(no probe on snap_refresh_locked)"; }
EVENTS=$(perf probe -l 2>/dev/null | awk -v g="$GROUP:" 'index($1, g) == 1 {print $1}' |
    tr '\n' ',' | sed 's/,$//')
TP="irq:softirq_entry,irq:softirq_exit,irq:irq_handler_entry,irq:irq_handler_exit"
TP="$TP,irq_vectors:local_timer_entry,irq_vectors:local_timer_exit"
TP="$TP,irq_vectors:call_function_entry,irq_vectors:call_function_exit"
TP="$TP,irq_vectors:call_function_single_entry,irq_vectors:call_function_single_exit"
TP="$TP,sched:sched_switch,exceptions:page_fault_user"
[ "${KV_TRACE_SYSCALLS:-0}" = 1 ] && TP="$TP,raw_syscalls:sys_enter,raw_syscalls:sys_exit"

kv_start_kvcore --loglevel verbose
$LOAD fill "$KV_PORT" "$N" >/dev/null || exit 1
if [ "$BIG" -gt 0 ]; then $LOAD big "$KV_PORT" "$BIG" >/dev/null || exit 1; fi
$LOAD delete "$KV_PORT" "$N" >/dev/null || exit 1
redis-cli -p "$KV_PORT" config set active-defrag-ignore-bytes 1mb >/dev/null
redis-benchmark -p "$KV_PORT" -c 20 -n 1000000000 -r "$N" -t get -q >/dev/null 2>&1 &
track_pid $!
sleep 1
perf record -a -o "$TMP/perf.data" -e "$EVENTS" -e "$TP" >/dev/null 2>"$TMP/perf.err" &
PERF=$!
track_pid "$PERF"
sleep 1
kill -0 "$PERF" 2>/dev/null || { cat "$TMP/perf.err"; skip "perf record could not start"; }
redis-cli -p "$KV_PORT" config set activedefrag yes >/dev/null
LOG=$TMP/kvcore.$KV_PORT.log
wait_for 1200 0.1 grep -q "Active defrag done" "$LOG" || fail "no defrag cycle ended in 120 s"
kill -INT "$PERF"
wait "$PERF"
untrack_pid "$PERF"
big_note=""
[ "$BIG" -gt 0 ] && big_note=", a hash, a sorted set and a list of $BIG elements each"
echo "kv_defrag_trace: $N keys, 2/3 deleted$big_note, 20 GET clients; load average $(cut -d' ' -f1-3 /proc/loadavg)"
sed -n 's/.*\(Active defrag done in [0-9]*ms\).*/server: \1/p; s/.*Active defrag slices: \([0-9]*\), longest \([0-9]* us ([0-9]* us CPU)\).*/server: \1 slices, longest \2 by its clocks/p' "$LOG" | head -2
perf script -i "$TMP/perf.data" -F comm,tid,cpu,time,event,trace >"$TMP/script.txt" 2>/dev/null
python3 tests/bench/kv_defrag_slices.py "$TMP/script.txt" "$KV_PID" "$TOP"
perf probe -q -d "$GROUP:*" >/dev/null 2>&1
exit 0
