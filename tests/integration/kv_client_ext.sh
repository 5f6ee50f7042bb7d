#!/bin/sh
# SPDX-License-Identifier: MIT
# kvcore-server's client extras through real connections, side by side with redis-server
# where the reply is deterministic: MONITOR seen by a second connection (redis-cli
# MONITOR's output format), CLIENT PAUSE WRITE holding another connection's write until
# UNPAUSE while reads go on, CLIENT TRACKING with REDIRECT to a RESP2 subscriber on
# __redis__:invalidate and with RESP3 pushes, CLIENT REPLY OFF/SKIP, RESET, and LATENCY
# HISTOGRAM / INFO latencystats naming the commands run.
. "$(dirname "$0")/../lib.sh"
need_cmd python3 redis-cli redis-server
fail=0
kv_start_kvcore
kv_start_redis

# MONITOR: redis-cli prints each line; the same commands give the same lines (but the
# time and the client's port).
monitor_lines() { # port
    redis-cli -p "$1" MONITOR >"$TMP/mon.$1" 2>&1 &
    mpid=$!
    track_pid "$mpid"
    wait_for 100 0.05 grep -q OK "$TMP/mon.$1" || fail "MONITOR did not answer on $1"
    redis-cli -p "$1" SET "a b" "x\"y" >/dev/null
    redis-cli -p "$1" AUTH nopass >/dev/null 2>&1
    redis-cli -p "$1" CONFIG GET maxmemory >/dev/null
    redis-cli -p "$1" -n 3 INCR counter >/dev/null
    wait_for 100 0.05 grep -q counter "$TMP/mon.$1" || fail "MONITOR missed a command on $1"
    stop_pid "$mpid"
    # Drop the time and the client's address: "+1700000000.123456 [0 127.0.0.1:5555] ..."
    sed -e 's/^[0-9]*\.[0-9]\{6\} \[\([0-9]*\) [^]]*\]/[\1]/' "$TMP/mon.$1" | tr -d '\r'
}
check "MONITOR lines" "$(monitor_lines "$REDIS_PORT")" "$(monitor_lines "$KV_PORT")"

cat >"$TMP/ext.py" <<'EOF'
import sys, time
sys.path.insert(0, "tests/kv")
from resp_conn import Conn

def wait_until(pred, what):
    deadline = time.monotonic() + 20
    while not pred():
        if time.monotonic() > deadline:
            sys.exit("timed out waiting for " + what)
        time.sleep(0.02)

def info_field(conn, section, name):
    text = conn.call(["INFO", section])[1][1].decode()
    for line in text.splitlines():
        if line.startswith(name + ":"):
            return line.split(":", 1)[1]
    return None

port = int(sys.argv[1])
out = []
a, b, admin = Conn(port), Conn(port), Conn(port)

# CLIENT PAUSE WRITE: b's SET waits (its GET before it is answered), a read from a goes
# on; after UNPAUSE the SET and the GET queued behind it are answered in order.
admin.call(["SET", "k", "old"])
out.append(admin.call(["CLIENT", "PAUSE", "60000", "WRITE"])[0])
b.sock.sendall(Conn.encode(["GET", "k"]) + Conn.encode(["SET", "k", "new"]) + Conn.encode(["GET", "k"]))
out.append(b.read()[0])
out.append(a.call(["GET", "k"])[0])
b.sock.settimeout(0.3)
try:
    b._fill()
    sys.exit("a paused write was answered")
except TimeoutError:
    pass
b.sock.settimeout(10)
out.append(admin.call(["CLIENT", "UNPAUSE"])[0])
out.append(b.read()[0])
out.append(b.read()[0])

# CLIENT TRACKING with REDIRECT to a RESP2 subscriber.
bid = b.call(["CLIENT", "ID"])[1][1]
out.append(b.call(["SUBSCRIBE", "__redis__:invalidate"])[0])
out.append(a.call(["CLIENT", "TRACKING", "on", "REDIRECT", bid])[0])
out.append(a.call(["GET", "k"])[0])
admin.call(["SET", "k", "x"])
out.append(b.read()[0])
out.append(a.call(["CLIENT", "TRACKING", "off"])[0])

# RESP3 pushes on the tracking connection itself, BCAST with a prefix.
c = Conn(port)
c.call(["HELLO", "3"])
out.append(c.call(["CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "p:"])[0])
admin.call(["SET", "p:1", "v"])
admin.call(["SET", "q:1", "v"])
out.append(c.read()[0])

# CLIENT REPLY OFF / SKIP / ON on one connection.
d = Conn(port)
d.sock.sendall(b"".join(Conn.encode(x) for x in (
    ["CLIENT", "REPLY", "OFF"], ["SET", "r", "1"], ["CLIENT", "REPLY", "ON"],
    ["CLIENT", "REPLY", "SKIP"], ["INCR", "r"], ["GET", "r"])))
out.append(d.read()[0])
out.append(d.read()[0])

# RESET: back to db 0, RESP2, no name.
out.append(d.call(["SELECT", "2"])[0])
out.append(d.call(["RESET"])[0])
out.append(d.call(["CLIENT", "GETNAME"])[0])
out.append(d.call(["DBSIZE"])[0])

for raw in out:
    print(raw)

# kvcore only (timing-free shape checks): histograms of the commands just run.
if len(sys.argv) > 2:
    h = admin.call(["LATENCY", "HISTOGRAM", "set", "client|pause"])[1][1]
    names = sorted(h[i][1] for i in range(0, len(h), 2))
    print("histogram", names)
    print("latencystats", info_field(admin, "latencystats", "latency_percentiles_usec_set") is not None)
EOF
python3 "$TMP/ext.py" "$KV_PORT" kvcore >"$TMP/kv.out" 2>&1 || fail "kvcore: $(cat "$TMP/kv.out")"
python3 "$TMP/ext.py" "$REDIS_PORT" >"$TMP/redis.out" 2>&1 || fail "redis: $(cat "$TMP/redis.out")"
grep -v '^histogram\|^latencystats' "$TMP/kv.out" >"$TMP/kv.cmp"
if diff "$TMP/redis.out" "$TMP/kv.cmp"; then echo "ok   client extras replies"; else
    echo "FAIL client extras replies (diff above: redis, kvcore)"
    fail=1
fi
check "histogram names" "histogram [b'client|pause', b'set']" "$(grep '^histogram' "$TMP/kv.out")"
check "latencystats" "latencystats True" "$(grep '^latencystats' "$TMP/kv.out")"
exit $fail
