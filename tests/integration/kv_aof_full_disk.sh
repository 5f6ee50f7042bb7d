#!/bin/sh
# SPDX-License-Identifier: MIT
# kv_aof_full_disk: the append-only file on a full disk (a 1 MB tmpfs, mounted in a
# private mount namespace so it goes away with the test; needs root and unshare, skips
# when the mount is refused). appendfsync everysec: the failed write is logged, INFO says
# aof_last_write_status:err, write commands (and PING) get Redis's "MISCONF Errors
# writing to the AOF file: No space left on device" while reads still work; once space
# is freed the cron's retry writes the buffer and writes are accepted again, and a
# restart loads every acknowledged write. appendfsync always: the server exits on the
# failed write, as Redis (a reply already queued cannot be taken back), and every write
# acknowledged before that is in the file.
self=$(cd "$(dirname "$0")" && pwd)/$(basename "$0")
. "$(dirname "$0")/../lib.sh"
need_root "mounting a small tmpfs"
need_cmd redis-cli unshare
if [ -z "${KV_AOF_NS:-}" ]; then
    # The namespace's scratch directory lives in ours, so ours removes what it leaves.
    KV_AOF_NS=1 TMPDIR=$TMP unshare --mount --propagation private sh "$self"
    exit $?
fi
fail=0
v=$(head -c 20000 /dev/zero | tr '\0' x)

small() { # dir size: a fresh tmpfs
    mkdir -p "$1"
    mount -t tmpfs -o "size=$2" tmpfs "$1" 2>/dev/null || skip "cannot mount a tmpfs here"
}

# --- everysec ---
small "$TMP/es" 1m
head -c 262144 /dev/zero >"$TMP/es/filler"
kv_start_kvcore --dir "$TMP/es" --appendonly yes --appendfsync everysec --save '' \
    --enable-debug-command yes
R="redis-cli -p $KV_PORT"
i=0
out=OK
while [ $i -lt 200 ] && [ "$out" = OK ]; do
    i=$((i + 1))
    out=$($R set "k$i" "$v")
done
check "write refused when the disk is full" \
    "MISCONF Errors writing to the AOF file: No space left on device" "$out"
check "PING refused too" "MISCONF Errors writing to the AOF file: No space left on device" \
    "$($R ping)"
check "aof_last_write_status" err "$(kv_info "$KV_PORT" aof_last_write_status persistence)"
check "reads still work" 20000 "$($R strlen k1)"
[ "$(grep -c 'writing to the AOF file' "$TMP/kvcore.$KV_PORT.log")" -ge 1 ] ||
    { echo "FAIL no log line for the failed write"; fail=1; }
rm -f "$TMP/es/filler"
wait_for 100 0.1 sh -c "[ \"\$($R set after-space 1)\" = OK ]" ||
    { echo "FAIL writes not accepted after space was freed"; fail=1; }
check "aof_last_write_status after space was freed" ok \
    "$(kv_info "$KV_PORT" aof_last_write_status persistence)"
want=$($R debug digest)
stop_pid "$KV_PID"
kv_start_kvcore --dir "$TMP/es" --appendonly yes --save '' --enable-debug-command yes
check "every acknowledged write loaded (everysec)" "$want" "$(redis-cli -p "$KV_PORT" debug digest)"
stop_pid "$KV_PID"
umount "$TMP/es"

# --- always ---
small "$TMP/al" 1m
kv_start_kvcore --dir "$TMP/al" --appendonly yes --appendfsync always --save ''
pid=$KV_PID
R="redis-cli -p $KV_PORT"
acked=0
i=0
while [ $i -lt 200 ]; do
    i=$((i + 1))
    [ "$($R set "k$i" "$v" 2>/dev/null)" = OK ] || break
    acked=$i
done
wait_for 100 0.1 sh -c "! kill -0 $pid 2>/dev/null" || { echo "FAIL server kept running"; fail=1; }
untrack_pid "$pid"
check "exit logged" 1 "$(grep -c "Can't recover from AOF write error when the AOF fsync policy is 'always'. Exiting..." "$TMP/kvcore.$KV_PORT.log")"
mount -o remount,size=8m "$TMP/al"
kv_start_kvcore --dir "$TMP/al" --appendonly yes --save ''
R="redis-cli -p $KV_PORT"
missing=0
j=1
while [ $j -le $acked ]; do
    [ "$($R strlen "k$j")" = 20000 ] || missing=$((missing + 1))
    j=$((j + 1))
done
echo "always: $acked writes acknowledged before the exit"
check "acknowledged writes missing (always)" 0 "$missing"
stop_pid "$KV_PID"
umount "$TMP/al"
exit $fail
