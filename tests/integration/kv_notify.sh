#!/bin/sh
# SPDX-License-Identifier: MIT
# Keyspace notifications through the real server: every command of tests/kv_corpus/*.txt
# (but pubsub.txt, which subscribes on its own) runs on kvcore-server and on Debian's
# redis-server, each with notify-keyspace-events AKEnm and a PSUBSCRIBE __key*@*__:*
# subscriber; the two notification streams must be byte-identical command by command,
# and rdb_changes_since_last_save must grow by the same amount per command
# (tests/kv/notify_diff.py). Then kvcore alone: "expired" from the active expiry cycle
# and "evicted" from maxmemory, against INFO's counters (tests/kv/notify_live.py), and
# the setting from the command line with its canonical CONFIG GET text. Eviction skips
# under a sanitizer (used memory is jemalloc's).
. "$(dirname "$0")/../lib.sh"
need_cmd redis-cli redis-server python3
kv_start_kvcore --enable-debug-command yes --save ''
kv_start_redis --enable-debug-command yes
mkdir -p "$TMP/corpus"
for f in tests/kv_corpus/*.txt; do
    case $f in */pubsub.txt) continue ;; esac
    if [ -n "${KV_SERVER_WRAPPER:-}" ]; then
        # Valgrind's long double is not x87's: INCRBYFLOAT results differ, and a timeout
        # of 1e-400 (a tiny positive value) reads as 0, which blocks forever.
        grep -v -i -e 'INCRBYFLOAT' -e 'e-400' "$f" >"$TMP/corpus/$(basename "$f")"
    else
        cp "$f" "$TMP/corpus/"
    fi
done
fail=0
python3 tests/kv/notify_diff.py "$KV_PORT" "$REDIS_PORT" "$TMP"/corpus/*.txt || fail=1
python3 tests/kv/notify_live.py "$KV_PORT" expire || fail=1
kill "$KV_PID"

kv_start_kvcore --dbfilename events.rdb --notify-keyspace-events 'Elg$Kx'
check "notify-keyspace-events from the command line" 'g$lxKE' \
    "$(redis-cli -p "$KV_PORT" config get notify-keyspace-events | tail -1)"
check "CONFIG SET of an unknown class" \
    "ERR CONFIG SET failed (possibly related to argument 'notify-keyspace-events') - Invalid event class character. Use 'Ag\$lshzxeKEtmdn'." \
    "$(redis-cli -p "$KV_PORT" config set notify-keyspace-events KEq)"
kill "$KV_PID"

if [ -z "${MEMSHIM_SAN:-}" ]; then
    # Its own dump file name: the corpora's DEBUG RELOAD left dump.rdb in $TMP.
    kv_start_kvcore --dbfilename evict.rdb --maxmemory 4mb --maxmemory-policy allkeys-random
    python3 tests/kv/notify_live.py "$KV_PORT" evict || fail=1
else
    echo "skip eviction: used memory is jemalloc's, and a sanitizer owns malloc"
fi
exit $fail
