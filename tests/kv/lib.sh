# SPDX-License-Identifier: MIT
# Shared helpers for the kvcore integration tests and benchmarks (sourced, POSIX sh).
# Servers listen on free loopback ports and are stopped by PID when the script exits.
#
#   kv_require_tools redis-cli ...   exit 77 (skip) when a tool is missing
#   kv_start_kvcore [--name value]   start build/kvcore-server; sets KV_PORT, KV_PID
#   kv_start_redis [--name value]    start Debian's redis-server; sets REDIS_PORT, REDIS_PID
#   kv_wait_ready PORT PID           wait until PING answers (exit 1 after ~10 s)
#   kv_cleanup                       stop every server started here (trap EXIT)
#   kv_mem_field PORT NAME           print an INFO memory field
#   kv_settle PORT                   wait until no keyspace table is rehashing and
#                                    used_memory is stable (at most ~35 s)
#
# KVCORE_CHECK_REPLIES: exported as "abort" for tests (not benchmarks) unless already set.
# KV_SERVER_WRAPPER (set by `make valgrind`): a command kvcore-server runs under, e.g.
# "valgrind --error-exitcode=99 ...". kv_cleanup then gives each server time to shut down
# and fails the test when one exits with status 99 (errors or definite leaks), printing
# its log.

BUILD=${BUILD:-build}
KV_BIN=${KV_BIN:-$BUILD/kvcore-server}
# Tests run kvcore-server with its deferred-reply-length check (resp.c): a command that
# announces one count and writes another aborts the server. Benchmarks run it as shipped.
case $0 in */bench/*) ;; *) export KVCORE_CHECK_REPLIES="${KVCORE_CHECK_REPLIES-abort}" ;; esac
KV_TMP=$(mktemp -d "${TMPDIR:-/tmp}/kvtest.XXXXXX")
KV_PIDS=""

kv_cleanup() {
    for p in $KV_PIDS; do
        kill "$p" 2>/dev/null
    done
    wrapped_bad=""
    for p in $KV_PIDS; do
        i=0
        # Under a wrapper (valgrind) shutdown and the leak check take longer.
        limit=50
        [ -z "${KV_SERVER_WRAPPER:-}" ] || limit=600
        while kill -0 "$p" 2>/dev/null && [ $i -lt $limit ]; do sleep 0.1; i=$((i + 1)); done
        kill -9 "$p" 2>/dev/null
        if [ -n "${KV_SERVER_WRAPPER:-}" ]; then
            wait "$p" 2>/dev/null
            [ $? = 99 ] && wrapped_bad="$wrapped_bad $p"
        fi
    done
    if [ -n "$wrapped_bad" ]; then
        echo "kvcore-server under '$KV_SERVER_WRAPPER' reported errors (pid$wrapped_bad):"
        sed -n '1,80p' "$KV_TMP"/kvcore.*.log
        rm -rf "$KV_TMP"
        exit 1
    fi
    # Sanitizer builds: a report in any server log fails the test.
    san=$(grep -l -E 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$KV_TMP"/*.log 2>/dev/null)
    if [ -n "$san" ]; then
        for f in $san; do
            echo "sanitizer report in $f:"
            sed -n '1,60p' "$f"
        done
        rm -rf "$KV_TMP"
        exit 1
    fi
    rm -rf "$KV_TMP"
}
trap kv_cleanup EXIT
trap 'exit 130' INT TERM

kv_skip() {
    echo "$1"
    exit 77
}

kv_require_tools() {
    for t in "$@"; do
        command -v "$t" >/dev/null 2>&1 || kv_skip "skipped: $t not installed"
    done
}

kv_free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

kv_wait_ready() {
    i=0
    limit=100
    [ -z "${KV_SERVER_WRAPPER:-}" ] || limit=600
    while [ $i -lt $limit ]; do
        if ! kill -0 "$2" 2>/dev/null; then
            echo "server on port $1 exited during start-up"
            return 1
        fi
        [ "$(redis-cli -p "$1" ping 2>/dev/null)" = PONG ] && return 0
        sleep 0.1
        i=$((i + 1))
    done
    echo "server on port $1 not ready"
    return 1
}

kv_start_kvcore() {
    [ -x "$KV_BIN" ] || kv_skip "skipped: $KV_BIN not built"
    KV_PORT=$(kv_free_port)
    # shellcheck disable=SC2086
    ${KV_SERVER_WRAPPER:-} "$KV_BIN" --bind 127.0.0.1 --port "$KV_PORT" "$@" \
        >"$KV_TMP/kvcore.$KV_PORT.log" 2>&1 &
    KV_PID=$!
    KV_PIDS="$KV_PIDS $KV_PID"
    kv_wait_ready "$KV_PORT" "$KV_PID" || { cat "$KV_TMP/kvcore.$KV_PORT.log"; exit 1; }
}

kv_start_redis() {
    command -v redis-server >/dev/null 2>&1 || kv_skip "skipped: redis-server not installed"
    REDIS_PORT=$(kv_free_port)
    redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --save '' --appendonly no \
        --daemonize no --dir "$KV_TMP" "$@" >"$KV_TMP/redis.$REDIS_PORT.log" 2>&1 &
    REDIS_PID=$!
    KV_PIDS="$KV_PIDS $REDIS_PID"
    kv_wait_ready "$REDIS_PORT" "$REDIS_PID" || { cat "$KV_TMP/redis.$REDIS_PORT.log"; exit 1; }
}

kv_mem_field() { # port name
    redis-cli -p "$1" info memory | tr -d '\r' | sed -n "s/^$2://p"
}

# Prints 1 while a keyspace table of the server on PORT is still rehashing: MEMORY STATS
# for kvcore (KV_PORT), DEBUG HTSTATS for redis-server.
kv_rehashing() { # port
    if [ "$1" = "$KV_PORT" ]; then
        redis-cli -p "$1" memory stats | grep -A1 -x 'db.dict.rehashing.count' | tail -1 |
            grep -qvx 0 && echo 1
    else
        redis-cli -p "$1" debug htstats 0 | grep -q 'rehashing target' && echo 1
    fi
}

kv_settle() { # port
    i=0
    while [ $i -lt 120 ] && [ -n "$(kv_rehashing "$1")" ]; do
        sleep 0.25
        i=$((i + 1))
    done
    last=0
    i=0
    while [ $i -lt 20 ]; do
        cur=$(kv_mem_field "$1" used_memory)
        [ "$cur" = "$last" ] && break
        last=$cur
        sleep 0.25
        i=$((i + 1))
    done
}
