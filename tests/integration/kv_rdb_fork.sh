#!/bin/sh
# SPDX-License-Identifier: MIT
# The background save's child and the shim: kvcore-server runs under libmemshim with its
# control socket, peak heap profiles and failure injection of every allocation of 64 KiB
# or more (the child's 64 KiB output buffer is one). rdb-key-save-delay keeps the child
# alive for at least 1.5 s, far past the shim's 100 ms grace before a forked child would
# bind a socket of its own. Checked: the save succeeds (injection is off in the child),
# the child never appears in `memshim ps` nor gets a socket, no heap profile is named
# after it, and the parent's socket keeps answering. Then a save while the active
# defragmenter runs: the cycle stops at the fork (active_defrag_running 0 and no new
# defrag hits while the child lives), resumes after it, and the dump holds the dataset
# as it was at the fork (DEBUG DIGEST after loading it in a second server).
. "$(dirname "$0")/../lib.sh"
need_cmd redis-cli python3 pgrep
[ -n "${MEMSHIM_SAN:-}" ] && skip "the shim's controls and jemalloc's fragmentation need libmemshim.so"
need_built "$MS"
ctl_xdg
cli() { redis-cli -p "$KV_PORT" "$@"; }
field() { kv_info "$KV_PORT" "$1"; }
bg_running() { [ "$(field rdb_bgsave_in_progress)" = 1 ]; }
bg_idle() { [ "$(field rdb_bgsave_in_progress)" = 0 ]; }

dumps="$TMP/dumps"
mkdir -p "$dumps" "$TMP/a" "$TMP/b"
MEMSHIM_CTL=1 MEMSHIM_PROF=1 MEMSHIM_PROF_PEAK=1 MEMSHIM_DUMP_DIR="$dumps"
export MEMSHIM_CTL MEMSHIM_PROF MEMSHIM_PROF_PEAK MEMSHIM_DUMP_DIR
kv_start_kvcore --enable-debug-command yes --dir "$TMP/a" --heap-dump-dir "$dumps"
unset MEMSHIM_CTL MEMSHIM_PROF MEMSHIM_PROF_PEAK MEMSHIM_DUMP_DIR
wait_path "$XDG_RUNTIME_DIR/memshim/$KV_PID.sock" || fail "no control socket: $(ls -la "$XDG_RUNTIME_DIR"/memshim)"
cli debug populate 1500 key 100 >/dev/null
cli config set rdb-key-save-delay 1000 >/dev/null # 1500 keys: the child lives >= 1.5 s
"$MS" ctl "$KV_PID" set inject.min_size 65536 >/dev/null || fail "inject.min_size"
"$MS" ctl "$KV_PID" set inject.fail_rate 1 >/dev/null || fail "inject.fail_rate"

[ "$(cli bgsave)" = "Background saving started" ] || fail "BGSAVE"
child=$(pgrep -P "$KV_PID" | head -n 1)
[ -n "$child" ] || fail "no child process"
polls=0
while bg_running; do
    "$MS" ps >"$TMP/ps" 2>&1
    grep -Eq "^ *$child " "$TMP/ps" && fail "the child is in memshim ps: $(cat "$TMP/ps")"
    [ -e "$XDG_RUNTIME_DIR/memshim/$child.sock" ] && fail "the child bound a control socket"
    polls=$((polls + 1))
    [ $polls -lt 600 ] || fail "BGSAVE never finished"
    sleep 0.05
done
[ $polls -ge 5 ] || fail "the child lived less than rdb-key-save-delay allows ($polls polls)"
[ "$(field rdb_last_bgsave_status)" = ok ] || fail "the save failed under injection: $(tail -3 "$TMP/kvcore.$KV_PORT.log")"
ls "$dumps" | grep -q "\.$child\." && fail "a heap profile is named after the child: $(ls "$dumps")"
"$MS" ctl "$KV_PID" get inject.fail_rate | grep -q 1 || fail "the parent's injection changed"
"$MS" ctl "$KV_PID" set inject.reset >/dev/null || fail "parent's socket does not answer"
echo "ok: the child is quiet in the shim ($polls polls)"
stop_pid "$KV_PID"

# --- a save while the active defragmenter runs ---
N=60000
LOAD="python3 tests/kv/defrag_load.py"
kv_start_kvcore --enable-debug-command yes --dir "$TMP/b"
$LOAD fill "$KV_PORT" "$N" || fail "fill"
$LOAD delete "$KV_PORT" "$N" || fail "delete"
cli config set active-defrag-ignore-bytes 100kb active-defrag-threshold-lower 1 \
    active-defrag-cycle-min 1 active-defrag-cycle-max 5 >/dev/null
cli config set activedefrag yes >/dev/null
defrag_on() { [ "$(field active_defrag_running)" != 0 ]; }
wait_for 200 0.05 defrag_on || fail "the defragmenter never started"
digest=$(cli debug digest)
cli config set rdb-key-save-delay 100 >/dev/null # ~20000 keys: >= 2 s
[ "$(cli bgsave)" = "Background saving started" ] || fail "BGSAVE"
hits0=$(field active_defrag_hits)
polls=0
while bg_running; do
    [ "$(field active_defrag_running)" = 0 ] || fail "defrag runs while the child lives"
    [ "$(field active_defrag_hits)" = "$hits0" ] || fail "objects moved while the child lives"
    polls=$((polls + 1))
    [ $polls -lt 1200 ] || fail "BGSAVE never finished"
    sleep 0.05
done
[ $polls -ge 5 ] || fail "the child lived too short to check ($polls polls)"
[ "$(field rdb_last_bgsave_status)" = ok ] || fail "bgsave failed"
grep -q "Fork CoW for RDB" "$TMP/kvcore.$KV_PORT.log" || fail "no CoW line"
resumed() { defrag_on || [ "$(field active_defrag_hits)" != "$hits0" ]; }
wait_for 200 0.05 resumed || fail "the defragmenter did not resume after the save"
kv_start_kvcore --enable-debug-command yes --dir "$TMP/b"
[ "$(redis-cli -p "$KV_PORT" debug digest)" = "$digest" ] || fail "the dump differs from the dataset at the fork"
echo "ok: save while defragmenting ($polls polls, defrag hits $hits0 -> resumed)"
