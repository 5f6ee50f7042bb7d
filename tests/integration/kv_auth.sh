#!/bin/sh
# SPDX-License-Identifier: MIT
# Access control against Debian's redis-server 7.0, side by side:
#  1. requirepass: tests/kv_corpus_auth/*.txt through kvdiff.py (NOAUTH gate, AUTH and
#     HELLO AUTH in every form, pipelined AUTH, run-time password changes), and
#     redis-cli -a with a right and a wrong password;
#  2. wrong passwords are counted (INFO acl_access_denied_auth) and their reply is
#     delayed by a timer: >= 100 ms for the failing client while another client's PINGs
#     are answered at once;
#  3. protected mode: a connection from 127.0.0.2 (loopback, but not 127.0.0.1, so not
#     "local" for Redis) gets the identical -DENIED text and is closed, and counted in
#     rejected_connections; with protected-mode no, or a password, it is served.
# Loopback only: both servers bind 127.0.0.1.
. "$(dirname "$0")/../lib.sh"
need_cmd redis-cli redis-server python3

python3 - <<'EOF' || skip "cannot bind a client socket to 127.0.0.2"
import socket
s = socket.socket()
s.bind(("127.0.0.2", 0))
EOF

fail=0
info_field() { # port field [password]
    redis-cli -p "$1" ${3:+-a "$3"} --no-auth-warning info stats | tr -d '\r' |
        sed -n "s/^$2://p"
}

# --- 1. requirepass, differential ---
kv_start_kvcore
kv_start_redis
for p in "$KV_PORT" "$REDIS_PORT"; do
    redis-cli -p "$p" config set requirepass secret >/dev/null
done
python3 tests/kv/kvdiff.py "$KV_PORT" "$REDIS_PORT" tests/kv_corpus_auth/*.txt || fail=1
for pw in secret wrong; do
    a=$(redis-cli -p "$KV_PORT" -a "$pw" --no-auth-warning ping 2>&1)
    b=$(redis-cli -p "$REDIS_PORT" -a "$pw" --no-auth-warning ping 2>&1)
    check "redis-cli -a $pw ping" "$b" "$a"
done

# --- 2. counted and delayed without blocking others ---
before=$(info_field "$KV_PORT" acl_access_denied_auth secret)
python3 - "$KV_PORT" <<'EOF' || fail=1
import socket, sys, time
port = int(sys.argv[1])
def conn():
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    return s
def reply(s):
    buf = b""
    while not buf.endswith(b"\r\n"):
        buf += s.recv(4096)
    return buf
bad, other = conn(), conn()
other.sendall(b"AUTH secret\r\n")
assert reply(other) == b"+OK\r\n"
t0 = time.monotonic()
bad.sendall(b"AUTH nope\r\n")
worst = 0.0
t_pings = time.monotonic()
for _ in range(20):  # served while the failing client waits
    t = time.monotonic()
    other.sendall(b"PING\r\n")
    assert reply(other) == b"+PONG\r\n"
    worst = max(worst, time.monotonic() - t)
pings = time.monotonic() - t_pings
r = reply(bad)
waited = time.monotonic() - t0
assert r.startswith(b"-WRONGPASS"), r
t0 = time.monotonic()
bad.sendall(b"AUTH nope\r\n")
r = reply(bad)
waited2 = time.monotonic() - t0
print("first WRONGPASS after %.0f ms, second after %.0f ms; the other client's 20 PINGs "
      "meanwhile took %.1f ms (slowest %.1f ms)" % (waited * 1000, waited2 * 1000,
                                                    pings * 1000, worst * 1000))
assert waited >= 0.1 and waited2 >= 0.2, (waited, waited2)
# A server that slept through the delay would answer the PINGs only after it.
assert pings < waited / 2, (pings, waited)
EOF
after=$(info_field "$KV_PORT" acl_access_denied_auth secret)
check "acl_access_denied_auth counts 2 failures" 2 $((after - before))

# --- 3. protected mode ---
stop_pid "$KV_PID" || { echo "FAIL: the server under $KV_SERVER_WRAPPER reported errors"; fail=1; }
stop_pid "$REDIS_PID" || { echo "FAIL: the server under $KV_SERVER_WRAPPER reported errors"; fail=1; }
kv_start_kvcore
kv_start_redis
from_127_0_0_2() { # port [bytes to send]: prints what the server sent, then <closed> or <open>
    python3 - "$1" "${2:-}" <<'EOF'
import socket, sys
s = socket.socket()
s.bind(("127.0.0.2", 0))
s.settimeout(2)
s.connect(("127.0.0.1", int(sys.argv[1])))
if sys.argv[2]:
    s.sendall(sys.argv[2].encode().replace(b"\\r\\n", b"\r\n"))
got, state = b"", "<open>"
try:
    while True:
        d = s.recv(65536)
        if not d:
            state = "<closed>"
            break
        got += d
        if sys.argv[2] and got.endswith(b"\r\n"):
            break
except socket.timeout:
    pass
sys.stdout.write(repr(got) + state + "\n")
EOF
}
a=$(from_127_0_0_2 "$KV_PORT")
b=$(from_127_0_0_2 "$REDIS_PORT")
check "protected mode: same -DENIED text, connection closed" "$b" "$a"
case $a in *"-DENIED Redis is running in protected mode"*"<closed>") ;; *) echo "FAIL protected mode: no -DENIED"; fail=1 ;; esac
check "protected mode: rejected_connections" 1 "$(info_field "$KV_PORT" rejected_connections)"
check "protected mode: 127.0.0.1 is served" PONG "$(redis-cli -p "$KV_PORT" ping)"
for p in "$KV_PORT" "$REDIS_PORT"; do redis-cli -p "$p" config set requirepass pw >/dev/null; done
a=$(from_127_0_0_2 "$KV_PORT" 'PING\r\n')
b=$(from_127_0_0_2 "$REDIS_PORT" 'PING\r\n')
check "protected mode with a password: served (NOAUTH)" "$b" "$a"
for p in "$KV_PORT" "$REDIS_PORT"; do
    redis-cli -p "$p" -a pw --no-auth-warning config set requirepass "" >/dev/null
    redis-cli -p "$p" config set protected-mode no >/dev/null
done
a=$(from_127_0_0_2 "$KV_PORT" 'PING\r\n')
b=$(from_127_0_0_2 "$REDIS_PORT" 'PING\r\n')
check "protected-mode no: served" "$b" "$a"
check "protected-mode no: PONG" "b'+PONG\\r\\n'<open>" "$a"
exit $fail
