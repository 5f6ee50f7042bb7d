#!/bin/sh
# SPDX-License-Identifier: MIT
# kv_aof_propagate: what reaches the append-only file besides the commands themselves.
# A key removed by active expiry and one removed lazily (active expiry off, then looked
# up) are written as DEL; keys evicted under maxmemory (allkeys-random) are written as DEL
# and the file replays to the same DEBUG DIGEST; a BLPOP served at once or after a push
# is written as LPOP; a transaction with two writes is
# written inside MULTI/EXEC and one with a single write without them (Redis 7.0's rule).
# FLUSHDB and FLUSHALL are written even when there was nothing to flush.
. "$(dirname "$0")/../lib.sh"
need_cmd redis-cli
fail=0
d=$TMP/aof
mkdir -p "$d"
kv_start_kvcore --dir "$d" --appendonly yes --aof-use-rdb-preamble no --save '' \
    --enable-debug-command yes
R="redis-cli -p $KV_PORT"
incr=$d/appendonlydir/appendonly.aof.1.incr.aof

# has_cmd WORDS...: the file holds this command (RESP, arguments in order).
has_cmd() {
    python3 - "$incr" "$@" <<'PY'
import sys
words = [w.encode() for w in sys.argv[2:]]
pat = b"*%d\r\n" % len(words) + b"".join(b"$%d\r\n%s\r\n" % (len(w), w) for w in words)
sys.exit(0 if pat in open(sys.argv[1], "rb").read() else 1)
PY
}

# Active expiry.
$R set act v px 50 >/dev/null
wait_for 100 0.1 sh -c "[ \"\$(redis-cli -p $KV_PORT dbsize)\" = 0 ]" ||
    { echo "FAIL active expiry never removed the key"; fail=1; }
has_cmd DEL act && echo "ok   active expiry written as DEL" ||
    { echo "FAIL no DEL for the actively expired key"; fail=1; }

# Lazy expiry: the cycle off, the key looked up after its time.
$R debug set-active-expire 0 >/dev/null
$R set lazy v px 50 >/dev/null
wait_for 100 0.1 sh -c "[ \"\$(redis-cli -p $KV_PORT exists lazy)\" = 0 ]" ||
    { echo "FAIL the lazily expired key stayed"; fail=1; }
has_cmd DEL lazy && echo "ok   lazy expiry written as DEL" ||
    { echo "FAIL no DEL for the lazily expired key"; fail=1; }
$R debug set-active-expire 1 >/dev/null

# Transactions.
printf 'MULTI\r\nINCR t\r\nINCR t\r\nEXEC\r\nMULTI\r\nSET single 1\r\nGET single\r\nEXEC\r\n' |
    $R >/dev/null
has_cmd MULTI && has_cmd EXEC && echo "ok   two writes inside MULTI/EXEC" ||
    { echo "FAIL no MULTI/EXEC in the file"; fail=1; }
check "MULTI/EXEC pairs (the single write is bare)" 1 \
    "$(python3 -c 'import sys; print(open(sys.argv[1], "rb").read().count(b"$5\r\nMULTI\r\n"))' "$incr")"

# Blocking pops: served at once, and served after another client's push.
$R lpush bq x >/dev/null
$R blpop bq 1 >/dev/null
has_cmd LPOP bq && echo "ok   BLPOP served at once written as LPOP" ||
    { echo "FAIL no LPOP for BLPOP"; fail=1; }
$R blpop bq2 10 >"$TMP/blpop.out" &
bpid=$!
wait_for 100 0.1 sh -c "[ \"\$(redis-cli -p $KV_PORT info clients | tr -d '\r' | sed -n 's/^blocked_clients://p')\" = 1 ]" ||
    { echo "FAIL the BLPOP never blocked"; fail=1; }
$R rpush bq2 y >/dev/null
wait "$bpid"
has_cmd LPOP bq2 && echo "ok   a blocked BLPOP served later written as LPOP" ||
    { echo "FAIL no LPOP for the served BLPOP"; fail=1; }

# Eviction (not under a sanitizer: used memory is jemalloc's figure).
if [ -z "${MEMSHIM_SAN:-}" ]; then
    python3 -c 'print("\n".join("SET ev:%d %s" % (i, "x" * 1000) for i in range(3000)))' | $R >/dev/null
    used=$(kv_info "$KV_PORT" used_memory memory)
    $R config set maxmemory-policy allkeys-random >/dev/null
    $R config set maxmemory $((used - 1000000)) >/dev/null
    $R set trigger 1 >/dev/null
    evicted=$(kv_info "$KV_PORT" evicted_keys stats)
    [ "$evicted" -gt 0 ] || { echo "FAIL nothing evicted"; fail=1; }
    dels=$(python3 -c 'import sys; print(open(sys.argv[1], "rb").read().count(b"$3\r\nDEL\r\n$"))' "$incr")
    [ "$dels" -ge $((evicted + 2)) ] && echo "ok   $evicted evictions written as DEL" ||
        { echo "FAIL $evicted keys evicted, $dels DELs in the file"; fail=1; }
else
    echo "skip eviction: used memory is jemalloc's, and a sanitizer owns malloc"
fi
$R config set maxmemory 0 >/dev/null

# FLUSHDB and FLUSHALL reach the file even when there was nothing to flush (as Redis's
# forced propagation): a replay then ends with the same empty databases.
count_cmd() { # NAME: commands of that name in the file, any case
    python3 -c 'import sys, re; print(len(re.findall(rb"(?i)\r\n\$%d\r\n%s\r\n" % (len(sys.argv[2]), sys.argv[2].encode()), open(sys.argv[1], "rb").read())))' "$incr" "$1"
}
fa=$(count_cmd FLUSHALL)
fd=$(count_cmd FLUSHDB)
$R -n 3 flushdb >/dev/null
$R flushall >/dev/null
$R flushall >/dev/null
check "FLUSHDB of an empty db written" $((fd + 1)) "$(count_cmd FLUSHDB)"
check "FLUSHALL twice, the second with nothing to flush, both written" $((fa + 2)) \
    "$(count_cmd FLUSHALL)"
$R set after-flush 1 >/dev/null
want=$($R debug digest)
stop_pid "$KV_PID"
kv_start_kvcore --dir "$d" --appendonly yes --save '' --enable-debug-command yes
check "digest after restart" "$want" "$(redis-cli -p "$KV_PORT" debug digest)"
exit $fail
