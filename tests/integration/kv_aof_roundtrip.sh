#!/bin/sh
# SPDX-License-Identifier: MIT
# kv_aof_roundtrip: kvcore-server's append-only file read back. A dataset of every type,
# with TTLs and the commands that propagate in another form (SET EX, INCRBYFLOAT, SPOP,
# HINCRBYFLOAT, EXPIRE, GETEX) and a second db, must give the same DEBUG DIGEST after a
# restart, after BGREWRITEAOF (new base, old files gone) and a restart, after DEBUG
# LOADAOF, and after CONFIG SET appendonly yes turned the AOF on at run time (then an
# automatic rewrite: auto-aof-rewrite-percentage 50). The files:
# Redis 7.0's manifest and names; redis-check-aof accepts them; Debian's redis-server
# loads kvcore's directory and kvcore loads redis-server's to the same digest. All of it
# with an RDB base (aof-use-rdb-preamble yes, the default) and a command base (no).
# Parts needing redis-server/redis-check-aof skip alone.
. "$(dirname "$0")/../lib.sh"
need_cmd redis-cli
# Under valgrind (make valgrind) a forked rewrite child exits 99 from its own leak check
# (its copy of the dataset is never freed), so every rewrite would count as failed.
[ -z "${KV_SERVER_WRAPPER:-}" ] || skip "rewrite children exit 99 under the valgrind wrapper"
fail=0

wait_info() { # port field want: polls INFO persistence (bounded, 20 s)
    i=0
    while [ $i -lt 200 ]; do
        [ "$(kv_info "$1" "$2" persistence)" = "$3" ] && return 0
        sleep 0.1
        i=$((i + 1))
    done
    echo "INFO $2 never became '$3' (is '$(kv_info "$1" "$2" persistence)')"
    return 1
}

populate() { # port
    r="redis-cli -p $1"
    $r set s hello >/dev/null
    $r set n 10 >/dev/null
    $r incrbyfloat f 1.5 >/dev/null
    $r set ttl v ex 100000 >/dev/null
    $r setex ttl2 100000 v >/dev/null
    $r rpush l a b c 1 2 3 >/dev/null
    $r sadd st a b c d e >/dev/null
    $r spop st >/dev/null
    $r spop st 2 >/dev/null
    $r zadd z 1 a 2.5 b -3 c >/dev/null
    $r hset h f v g 1 >/dev/null
    $r hincrbyfloat h g 2.5 >/dev/null
    $r expire n 100000 >/dev/null
    $r set gone v >/dev/null
    $r expire gone -1 >/dev/null
    $r set gx v >/dev/null
    $r getex gx px 100000 >/dev/null
    $r -n 3 set other db3 >/dev/null
    $r -n 3 lpush ol x y >/dev/null
}

digest() { # port
    redis-cli -p "$1" debug digest
}

roundtrip() { # aof-use-rdb-preamble: yes (an RDB base, Redis's default) or no (commands)
    pre=$1
    ext=rdb
    [ "$pre" = yes ] || ext=aof
    d=$TMP/kv$pre
    mkdir -p "$d"
    kv_start_kvcore --dir "$d" --appendonly yes --save '' --enable-debug-command yes \
        --aof-use-rdb-preamble "$pre"
    populate "$KV_PORT"
    want=$(digest "$KV_PORT")
    check "$pre: INFO aof_enabled" 1 "$(kv_info "$KV_PORT" aof_enabled persistence)"
    check "$pre: INFO aof_last_write_status" ok \
        "$(kv_info "$KV_PORT" aof_last_write_status persistence)"
    check "$pre: manifest" "file appendonly.aof.1.base.$ext seq 1 type b
file appendonly.aof.1.incr.aof seq 1 type i" "$(cat "$d/appendonlydir/appendonly.aof.manifest")"
    incr=$d/appendonlydir/appendonly.aof.1.incr.aof
    grep -q SREM "$incr" || { echo "FAIL SPOP not as SREM"; fail=1; }
    grep -q PXAT "$incr" || { echo "FAIL SET EX not as PXAT"; fail=1; }
    if grep -qi incrbyfloat "$incr"; then
        echo "FAIL INCRBYFLOAT propagated as sent"
        fail=1
    fi
    stop_pid "$KV_PID"

    kv_start_kvcore --dir "$d" --appendonly yes --save '' --enable-debug-command yes \
        --aof-use-rdb-preamble "$pre"
    check "$pre: digest after restart" "$want" "$(digest "$KV_PORT")"
    ttl=$(redis-cli -p "$KV_PORT" ttl ttl)
    [ "$ttl" -gt 90000 ] || { echo "FAIL ttl after restart: $ttl"; fail=1; }

    # BGREWRITEAOF: a new base (seq 2), the new increment, the old files deleted.
    check "$pre: BGREWRITEAOF" "Background append only file rewriting started" \
        "$(redis-cli -p "$KV_PORT" bgrewriteaof)"
    wait_info "$KV_PORT" aof_rewrites 1 || fail=1
    wait_info "$KV_PORT" aof_rewrite_in_progress 0 || fail=1
    check "$pre: last bgrewrite" ok "$(kv_info "$KV_PORT" aof_last_bgrewrite_status persistence)"
    check "$pre: files after rewrite" "appendonly.aof.2.base.$ext
appendonly.aof.2.incr.aof
appendonly.aof.manifest" "$(ls "$d/appendonlydir")"
    redis-cli -p "$KV_PORT" rpush l after >/dev/null
    redis-cli -p "$KV_PORT" -n 5 set five 5 >/dev/null
    want=$(digest "$KV_PORT")
    base=$(kv_info "$KV_PORT" aof_base_size persistence)
    [ "$base" -gt 0 ] || { echo "FAIL aof_base_size $base"; fail=1; }
    check "$pre: DEBUG LOADAOF" OK "$(redis-cli -p "$KV_PORT" debug loadaof)"
    check "$pre: digest after DEBUG LOADAOF" "$want" "$(digest "$KV_PORT")"
    stop_pid "$KV_PID"
    kv_start_kvcore --dir "$d" --appendonly yes --save '' --enable-debug-command yes \
        --aof-use-rdb-preamble "$pre"
    check "$pre: digest after rewrite and restart" "$want" "$(digest "$KV_PORT")"
    stop_pid "$KV_PID"

    if command -v redis-check-aof >/dev/null 2>&1; then
        out=$(redis-check-aof "$d/appendonlydir/appendonly.aof.manifest" 2>&1)
        check "$pre: redis-check-aof" 1 \
            "$(echo "$out" | grep -c "All AOF files and manifest are valid")"
    else
        echo "skip redis-check-aof: not installed"
    fi

    if command -v redis-server >/dev/null 2>&1; then
        # redis-server reads kvcore's directory.
        cp -r "$d" "$TMP/r1$pre"
        kv_start_redis --dir "$TMP/r1$pre" --appendonly yes --aof-use-rdb-preamble "$pre" \
            --enable-debug-command yes
        check "$pre: redis-server loads kvcore's AOF" "$want" "$(digest "$REDIS_PORT")"
        stop_pid "$REDIS_PID"
        # kvcore reads redis-server's.
        mkdir -p "$TMP/r2$pre"
        kv_start_redis --dir "$TMP/r2$pre" --appendonly yes --aof-use-rdb-preamble "$pre" \
            --enable-debug-command yes
        populate "$REDIS_PORT"
        redis-cli -p "$REDIS_PORT" bgrewriteaof >/dev/null
        wait_info "$REDIS_PORT" aof_rewrites 1 || fail=1
        redis-cli -p "$REDIS_PORT" set after-rewrite 1 >/dev/null
        rwant=$(digest "$REDIS_PORT")
        stop_pid "$REDIS_PID"
        kv_start_kvcore --dir "$TMP/r2$pre" --appendonly yes --save '' \
            --enable-debug-command yes --aof-use-rdb-preamble "$pre"
        check "$pre: kvcore loads redis-server's AOF" "$rwant" "$(digest "$KV_PORT")"
        stop_pid "$KV_PID"
    else
        echo "skip redis-server interoperability: not installed"
    fi
}

roundtrip yes
roundtrip no

# CONFIG SET appendonly yes on a server with data: a rewrite writes the first base.
mkdir -p "$TMP/live"
kv_start_kvcore --dir "$TMP/live" --save '' --enable-debug-command yes
populate "$KV_PORT"
check "CONFIG SET appendonly yes" OK "$(redis-cli -p "$KV_PORT" config set appendonly yes)"
wait_info "$KV_PORT" aof_rewrites 1 || fail=1
wait_info "$KV_PORT" aof_rewrite_in_progress 0 || fail=1
redis-cli -p "$KV_PORT" set after-on 1 >/dev/null
# The automatic rewrite: the files grew past 50% of their size after the last rewrite.
redis-cli -p "$KV_PORT" config set auto-aof-rewrite-percentage 50 auto-aof-rewrite-min-size 1 \
    >/dev/null
i=0
while [ $i -lt 100 ]; do
    redis-cli -p "$KV_PORT" set "grow$i" "$(printf '%0100d' "$i")" >/dev/null
    i=$((i + 1))
done
i=0
while [ "$(kv_info "$KV_PORT" aof_rewrites persistence)" -lt 2 ] && [ $i -lt 200 ]; do
    sleep 0.1
    i=$((i + 1))
done
[ "$(kv_info "$KV_PORT" aof_rewrites persistence)" -ge 2 ] || { echo "FAIL no automatic rewrite"; fail=1; }
wait_info "$KV_PORT" aof_rewrite_in_progress 0 || fail=1
[ "$(grep -c 'Starting automatic rewriting of AOF' "$TMP/kvcore.$KV_PORT.log")" -ge 1 ] ||
    { echo "FAIL no automatic rewrite logged"; fail=1; }
want=$(digest "$KV_PORT")
stop_pid "$KV_PID"
kv_start_kvcore --dir "$TMP/live" --appendonly yes --save '' --enable-debug-command yes
check "digest after turning AOF on and restarting" "$want" "$(digest "$KV_PORT")"
exit $fail
