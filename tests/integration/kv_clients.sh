#!/bin/sh
# SPDX-License-Identifier: MIT
# kvcore-server through real clients and as a process: redis-cli replies and error texts,
# redis-benchmark (pipelined and not), start-up log, config-file errors naming the line,
# --version, CLIENT LIST/KILL, SHUTDOWN and SIGTERM exit cleanly.
. "$(dirname "$0")/../lib.sh"
need_cmd redis-cli redis-benchmark
expect() { # want cmd...
    want=$1
    shift
    got=$(redis-cli -p "$KV_PORT" "$@" 2>&1)
    [ "$got" = "$want" ] || fail "redis-cli $*: got '$got', want '$want'"
}

kv_start_kvcore
grep -q "Ready to accept connections" "$TMP/kvcore.$KV_PORT.log" || fail "no ready line"
grep -q "pid=$KV_PID" "$TMP/kvcore.$KV_PORT.log" || fail "no pid in start line"

expect OK set greeting hello
expect hello get greeting
expect 5 strlen greeting
expect "ERR wrong number of arguments for 'get' command" get
expect "ERR unknown command 'nosuch', with args beginning with: 'a' " nosuch a
expect "ERR value is not an integer or out of range" incr greeting
expect 1 exists greeting
expect "$(printf 'hello\n')" mget greeting greeting_b
redis-cli -p "$KV_PORT" info server | grep -q '^redis_version:7.0.15' || fail "INFO server"
redis-cli -p "$KV_PORT" info memory | grep -q '^mem_allocator:jemalloc' || fail "INFO memory"
redis-cli -p "$KV_PORT" info | tr -d '\r' | grep -q '^db0:keys=1,expires=0,avg_ttl=0$' ||
    fail "INFO keyspace"
redis-cli -p "$KV_PORT" client setname tester >/dev/null
redis-cli -p "$KV_PORT" client list | grep -q "cmd=client|list" || fail "CLIENT LIST"

# redis-benchmark: plain and pipelined; every request answered, keys written.
out=$(redis-benchmark -p "$KV_PORT" -t set,get,incr,mset -n 20000 -c 20 -q 2>&1)
echo "$out" | grep -q "SET: [0-9.]* requests per second" || fail "redis-benchmark: $out"
out=$(redis-benchmark -p "$KV_PORT" -t set,get -n 50000 -c 50 -P 16 -q 2>&1)
echo "$out" | grep -q "GET: [0-9.]* requests per second" || fail "redis-benchmark -P 16: $out"
expect OK flushall
out=$(redis-benchmark -p "$KV_PORT" -t set -n 10000 -r 1000 -q 2>&1)
n=$(redis-cli -p "$KV_PORT" dbsize)
[ "$n" -gt 500 ] && [ "$n" -le 1000 ] || fail "random keys after benchmark: $n"

# SHUTDOWN ends the process with status 0.
redis-cli -p "$KV_PORT" shutdown >/dev/null 2>&1
i=0
while kill -0 "$KV_PID" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
kill -0 "$KV_PID" 2>/dev/null && fail "SHUTDOWN did not stop the server"
wait "$KV_PID"
[ $? -eq 0 ] || fail "SHUTDOWN exit status"

# SIGTERM: clean shutdown, status 0.
kv_start_kvcore
kill -TERM "$KV_PID"
wait "$KV_PID"
[ $? -eq 0 ] || fail "SIGTERM exit status"
grep -q "Received SIGTERM scheduling shutdown" "$TMP/kvcore.$KV_PORT.log" || fail "SIGTERM log"
grep -q "ready to exit, bye bye" "$TMP/kvcore.$KV_PORT.log" || fail "bye log"

# Configuration errors stop start-up and name the line.
printf 'port 7000\n\nfrobnicate yes\n' >"$TMP/bad.conf"
out=$("$KV_BIN" "$TMP/bad.conf" 2>&1) && fail "bad config accepted"
echo "$out" | grep -q "at line 3" || fail "bad config message: $out"
echo "$out" | grep -q ">>> 'frobnicate yes'" || fail "bad config line: $out"
out=$("$KV_BIN" --port notaport 2>&1) && fail "bad --port accepted"
echo "$out" | grep -q "argument couldn't be parsed into an integer" || fail "bad --port: $out"
printf 'port 0\nmaxmemory 10mb\nsave ""\n' >"$TMP/good.conf"
"$KV_BIN" --version | grep -q "kvcore-server v=" || fail "--version"
KV_PORT=$(free_port)
"$KV_BIN" "$TMP/good.conf" --port "$KV_PORT" >"$TMP/good.log" 2>&1 &
KV_PID=$!
track_pid "$KV_PID"
kv_wait_ready "$KV_PORT" "$KV_PID" || fail "config file + --port"
expect "$(printf 'maxmemory\n10485760')" config get maxmemory
expect "$(printf 'port\n%s' "$KV_PORT")" config get port
echo "client and process checks ok"
