#!/bin/sh
# SPDX-License-Identifier: MIT
# Failed saves leave the previous dump intact and are reported: in a private mount
# namespace, a 1 MB tmpfs is kvcore-server's dir. A dump that fits is saved; then a
# dataset that does not fit makes BGSAVE fail (INFO rdb_last_bgsave_status:err, write
# commands and PING refused with MISCONF as redis-server words it, reads still served, no
# temporary file left) and SAVE fail (ENOSPC in the log); the remounted read-only dir
# fails the same way (MULTI too); after remounting read-write and deleting the bulk, BGSAVE succeeds
# and writes are accepted again. The old dump passes redis-check-rdb after each failure.
if [ -z "${KV_RDB_FAIL_NS:-}" ]; then
    command -v unshare >/dev/null 2>&1 || { echo "skipped: unshare not installed"; exit 77; }
    [ "$(id -u)" = 0 ] || { echo "skipped: mounting a tmpfs needs root"; exit 77; }
    KV_RDB_FAIL_NS=1 exec unshare -m --propagation private sh "$0" "$@"
fi
. "$(dirname "$0")/../lib.sh"
need_cmd redis-cli redis-server redis-check-rdb md5sum
need_built "$KV_BIN"
# Under valgrind the save's child exits with memcheck's leak report (it never frees the
# dataset; objects hold their pointers unaligned), which fails every BGSAVE.
[ -z "${KV_SERVER_WRAPPER:-}" ] || skip "background saves under valgrind (see kv_rdb.sh)"
mnt="$TMP/mnt"
mkdir -p "$mnt"
mount -t tmpfs -o size=1m tmpfs "$mnt" 2>/dev/null || skip "mount of a tmpfs refused"
cli() { redis-cli -p "$KV_PORT" "$@"; }
status() { kv_info "$KV_PORT" rdb_last_bgsave_status; }
bg_idle() { [ "$(kv_info "$KV_PORT" rdb_bgsave_in_progress)" = 0 ]; }
bgsave_and_wait() {
    [ "$(cli bgsave)" = "Background saving started" ] || fail "BGSAVE did not start"
    wait_for 300 0.1 bg_idle || fail "BGSAVE never finished"
}
intact() { # what
    [ "$(md5sum <"$mnt/dump.rdb")" = "$sum" ] || fail "$1: the previous dump changed"
    redis-check-rdb "$mnt/dump.rdb" 2>&1 | grep -q "RDB looks OK" || fail "$1: dump damaged"
    ls "$mnt"/temp-*.rdb >/dev/null 2>&1 && fail "$1: a temporary file was left"
    return 0
}

kv_start_kvcore --enable-debug-command yes --dir "$mnt" --save "3600 1" --rdbcompression no
cli set small value >/dev/null
[ "$(cli save)" = OK ] || fail "first SAVE"
sum=$(md5sum <"$mnt/dump.rdb")

# Full disk.
cli debug populate 2000 bulk 1000 >/dev/null
bgsave_and_wait
[ "$(status)" = err ] || fail "status after ENOSPC: $(status)"
grep -q "Background saving error" "$TMP/kvcore.$KV_PORT.log" || fail "no error log line"
grep -q "No space left on device" "$TMP/kvcore.$KV_PORT.log" || fail "no ENOSPC in the log"
kv_misconf=$(cli set k v)
case "$kv_misconf" in MISCONF*) ;; *) fail "SET after a failed BGSAVE: $kv_misconf" ;; esac
[ "$(cli ping)" = "$kv_misconf" ] || fail "PING is not refused the same way"
[ "$(cli get small)" = value ] || fail "reads refused"
intact "ENOSPC"
[ "$(cli save)" = ERR ] || fail "SAVE on a full disk"
intact "SAVE on a full disk"
echo "ok: full disk"

# Read-only directory (redis-server beside it, for the MISCONF text).
cli config set stop-writes-on-bgsave-error no >/dev/null
[ "$(cli set k v)" = OK ] || fail "stop-writes-on-bgsave-error no still refuses"
cli config set stop-writes-on-bgsave-error yes >/dev/null
cli del k >/dev/null
mount -o remount,ro "$mnt" || skip "remount read-only refused"
kv_start_redis --dir "$mnt" --save "3600 1" --dbfilename redis.rdb
redis-cli -p "$REDIS_PORT" bgsave >/dev/null
r_failed() { [ "$(kv_info "$REDIS_PORT" rdb_last_bgsave_status)" = err ]; }
wait_for 300 0.1 r_failed || fail "redis-server's BGSAVE did not fail on a read-only dir"
r_misconf=$(redis-cli -p "$REDIS_PORT" set k v)
[ "$kv_misconf" = "$r_misconf" ] || fail "MISCONF text: '$kv_misconf' vs '$r_misconf'"
# Inside MULTI a refused write flags the transaction (EXECABORT), reads are queued.
tx() { printf 'MULTI\nSET k v\nGET nokey\nEXEC\nMULTI\nGET nokey\nEXEC\n' | redis-cli -p "$1"; }
[ "$(tx "$KV_PORT")" = "$(tx "$REDIS_PORT")" ] || fail "MULTI under MISCONF: $(tx "$KV_PORT")"
bgsave_and_wait
[ "$(status)" = err ] || fail "status on a read-only dir"
grep -q "Failed opening the temp RDB file" "$TMP/kvcore.$KV_PORT.log" || fail "no open error"
intact "read-only"
echo "ok: read-only dir"

# Recovery.
mount -o remount,rw "$mnt" || fail "remount read-write"
cli flushall >/dev/null 2>&1 # refused (MISCONF): FLUSHALL is a write
cli config set stop-writes-on-bgsave-error no >/dev/null
cli flushall >/dev/null
cli set small value >/dev/null
cli config set stop-writes-on-bgsave-error yes >/dev/null
bgsave_and_wait
[ "$(status)" = ok ] || fail "BGSAVE after recovery"
[ "$(cli set k v)" = OK ] || fail "writes still refused after a good save"
stop_pid "$KV_PID"
stop_pid "$REDIS_PID"
umount "$mnt"
echo "ok: recovery"
