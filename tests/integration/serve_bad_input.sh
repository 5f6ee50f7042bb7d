#!/bin/sh
# SPDX-License-Identifier: MIT
# memshim serve answers bad input with an HTTP error and stays up: unknown paths (404),
# bad pids (400), a pid that does not exist or has no control socket (404), another
# user's process (403, as root), methods other than GET (405), request bodies (413),
# malformed requests (400), long targets (414), huge heads (431), HTTP/2 (505),
# unsupported pprof parameters (400), a client that never finishes its request while
# others are served, a process whose control thread does not answer (SIGSTOP: 504, and
# /metrics still answers, counting the error), a missing or wrong bearer token (401),
# and a non-loopback --listen without --token (refused, exit 2).
set -u
. "$(dirname "$0")/../lib.sh"
serve_setup

proc_start a MEMSHIM_PROF=1
serve_start --timeout 500
fail=0

get() { # NAME WANT PATH
    check "$1" "$2" "$(http_get "$SERVE_URL$3")"
}
get "unknown path" 404 /nope
get "unknown path under /pid" 404 "/pid/$a_pid/nope"
get "pid not a number" 400 "/pid/abc/metrics"
get "pid zero" 400 "/metrics?pid=0"
get "pid too large" 400 "/debug/pprof/heap?pid=99999999999"
get "pid bad escape" 400 "/metrics?pid=%zz"
get "heap without pid" 400 /debug/pprof/heap
nopid=4194000
while [ -e "/proc/$nopid" ] && [ $nopid -gt 4190000 ]; do nopid=$((nopid - 1)); done
get "no such process (heap)" 404 "/debug/pprof/heap?pid=$nopid"
get "no such process (metrics)" 404 "/pid/$nopid/metrics"
sleep 300 &
other=$!
track_pid $other
get "process without a control socket" 404 "/debug/pprof/heap?pid=$other"
grep -q "control socket" "$TMP/body" || check "404 names the control socket" yes no
get "delta profile refused" 400 "/debug/pprof/heap?pid=$a_pid&seconds=5"
grep -q "seconds=N" "$TMP/body" || check "seconds refusal says why" yes no
get "debug=1 refused" 400 "/debug/pprof/heap?pid=$a_pid&debug=1"
get "gc=1 accepted" 200 "/debug/pprof/heap?pid=$a_pid&gc=1"

if [ "$(id -u)" = 0 ] && command -v runuser >/dev/null 2>&1 &&
    runuser -u nobody -- true 2>/dev/null; then
    runuser -u nobody -- sleep 300 &
    nob=$!
    track_pid $nob
    wait_for 100 0.05 sh -c "[ \"\$(stat -c %U /proc/$nob)\" = nobody ]" ||
        wait_for 100 0.05 sh -c "pgrep -u nobody -x sleep >/dev/null"
    nobpid=$(pgrep -u nobody -x sleep | head -n 1)
    [ -n "$nobpid" ] && get "another user's process" 403 "/debug/pprof/heap?pid=$nobpid"
fi

raw() { # NAME WANT PRINTF-FORMAT...
    rn=$1 rw=$2
    shift 2
    printf "$@" >"$TMP/raw.req"
    check "$rn" "$rw" "$(http_raw "$TMP/raw.req")"
}
raw "POST" 405 'POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n'
raw "request body" 413 'GET /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello'
raw "chunked body" 413 'GET /metrics HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'
raw "garbage" 400 'hello there\r\n\r\n'
raw "no Host" 400 'GET /metrics HTTP/1.1\r\n\r\n'
raw "folded header" 400 'GET / HTTP/1.1\r\nHost: x\r\n  more\r\n\r\n'
raw "absolute target" 400 'GET http://127.0.0.1/ HTTP/1.1\r\nHost: x\r\n\r\n'
raw "HTTP/2" 505 'GET / HTTP/2.0\r\nHost: x\r\n\r\n'
python3 -c 'import sys; sys.stdout.write("GET /" + "a" * 5000 + " HTTP/1.1\r\nHost: x\r\n\r\n")' >"$TMP/long.req"
check "long target" 414 "$(http_raw "$TMP/long.req")"
python3 -c 'import sys; sys.stdout.write("GET / HTTP/1.1\r\nHost: x\r\n" + "X-Pad: " + "b" * 1000000 + "\r\n\r\n")' >"$TMP/huge.req"
check "huge header" 431 "$(http_raw "$TMP/huge.req")"
python3 -c 'import sys; sys.stdout.write("GET / HTTP/1.1\r\nHost: x\r\n" + "A: b\r\n" * 200 + "\r\n")' >"$TMP/many.req"
check "too many headers" 431 "$(http_raw "$TMP/many.req")"
printf 'GET / HTTP/1.1\r\nHost: x\r\n\r\n' >"$TMP/ok.req"
check "raw GET /" 200 "$(http_raw "$TMP/ok.req")"

# A client that sends half a request and waits: others are served meanwhile.
python3 - "$SERVE_PORT" "$TMP/slow.ready" <<'PYEOF' &
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
open(sys.argv[2], "w").close()
time.sleep(30)
PYEOF
slow=$!
track_pid $slow
wait_path "$TMP/slow.ready" || fail "slow client did not start"
get "served beside a slow client" 200 /metrics
stop_pid $slow

# A process that does not answer its control socket: 504 after the deadline.
kill -STOP "$a_pid"
get "stopped process: heap" 504 "/debug/pprof/heap?pid=$a_pid"
get "stopped process: its metrics" 504 "/pid/$a_pid/metrics"
get "stopped process: all metrics" 200 /metrics
grep -q '^memshim_serve_process_errors 1$' "$TMP/body" || check "the error is counted" yes no
grep -q "pid=\"$a_pid\"" "$TMP/body" && check "no series for the stopped process" none some
kill -CONT "$a_pid"
get "answers again" 200 "/pid/$a_pid/metrics"

serve_alive || fail "the agent is not up after the bad input"

# Tokens: a non-loopback address needs one; with one, requests must carry it.
"$MS" serve --listen 0.0.0.0:0 >/dev/null 2>"$TMP/tok.err"
check "wildcard without token refused" 2 $?
grep -q -- "--token" "$TMP/tok.err" || check "the refusal names --token" yes no
echo "0123456789abcdef0123" >"$TMP/token"
chmod 644 "$TMP/token"
"$MS" serve --listen 127.0.0.1:0 --token "$TMP/token" >/dev/null 2>&1
check "world-readable token refused" 2 $?
chmod 600 "$TMP/token"
stop_pid "$SERVE_PID"
serve_start --token "$TMP/token"
get "no token" 401 /metrics
check "wrong token" 401 "$(http_get "$SERVE_URL/metrics" "Authorization: Bearer 0123456789abcdef0124")"
check "right token" 200 "$(http_get "$SERVE_URL/metrics" "Authorization: Bearer 0123456789abcdef0123")"
grep -q "memshim_allocated_bytes{pid=\"$a_pid\"" "$TMP/body" || check "metrics with token" yes no
exit $fail
