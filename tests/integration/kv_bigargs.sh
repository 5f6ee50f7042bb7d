#!/bin/sh
# SPDX-License-Identifier: MIT
# Big and many arguments over real sockets, kvcore-server against Debian's redis-server 7.0:
#  1. requirepass set, not authenticated: a multibulk count above 10 and a bulk length
#     above 16384 get Redis's "-ERR Protocol error: unauthenticated ..." reply and the
#     connection is closed; 10 arguments and 16384-byte bulks are accepted (NOAUTH), also
#     after a wrong password, and inline commands keep only the inline limit; byte for
#     byte the same replies as redis-server;
#  2. authenticated (AUTH pipelined in front): EXISTS with 200000 arguments and a 100 KB
#     value work, sent in one write each, with the same replies as redis-server;
#  3. client-query-buffer-limit counts a partly received command's argument memory:
#     with the limit at 1 MB, 100000 empty arguments (600 KB of protocol, but 16 bytes of
#     argument slot each) close the connection, counted in
#     client_query_buffer_limit_disconnections and logged as Redis logs it. (Redis 7.0
#     counts only its query buffer there, so it keeps that client.)
#  4. the server runs with the deferred-reply-length check on (tests/lib.sh).
# Every read is bounded by a socket timeout (10 or 20 s); no result depends on timing.
. "$(dirname "$0")/../lib.sh"
need_cmd redis-cli redis-server python3

fail=0

kv_start_kvcore
kv_start_redis
for p in "$KV_PORT" "$REDIS_PORT"; do redis-cli -p "$p" config set requirepass pw >/dev/null; done

cat >"$TMP/probe.py" <<'EOF'
import socket, sys

port = int(sys.argv[1])

def cmd(*args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out

def session(steps):
    """steps: (bytes to send, what to read: an int = that many CRLF-ended replies,
    or "eof" = everything until the server closes). Returns what was read."""
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    got = b""
    for data, want in steps:
        try:
            s.sendall(data)
        except OSError:  # the server closed mid-send (limits): read what it said
            want = "eof"
        buf = b""
        try:
            while True:
                if want != "eof" and buf.count(b"\r\n") >= want:
                    break
                d = s.recv(65536)
                if not d:
                    buf += b"<closed>"
                    break
                buf += d
        except ConnectionResetError:
            buf += b"<closed>"
        except socket.timeout:
            buf += b"<no reply>"
        got += buf
        if buf.endswith(b">"):
            break
    s.close()
    return got

ten = cmd(b"EXISTS", *[b"k%d" % i for i in range(9)])
eleven = cmd(b"EXISTS", *[b"k%d" % i for i in range(10)])
cases = {
    "mbulk 11": [(b"*11\r\n", "eof")],
    "mbulk 11 after NOAUTH": [(cmd(b"PING") + b"*11\r\n", "eof")],
    "mbulk 11 after a null count": [(b"*-1\r\n*11\r\n", "eof")],
    "mbulk 10": [(ten, 1)],
    "bulk 16385": [(b"*2\r\n$4\r\nECHO\r\n$16385\r\n", "eof")],
    "bulk 16384": [(b"*2\r\n$4\r\nECHO\r\n$16384\r\n" + b"x" * 16384 + b"\r\n", 1)],
    "mbulk 11 after a wrong password": [(cmd(b"AUTH", b"nope") + eleven, "eof")],
    "mbulk huge": [(b"*1000000\r\n", "eof")],
    "inline 20000 bytes": [(b"ECHO " + b"a" * 20000 + b"\r\n", 1)],
    "authenticated mbulk 11": [(cmd(b"AUTH", b"pw") + eleven, 2)],
}
for name in sys.argv[2:]:
    print("%s: %r" % (name, session(cases[name])))
EOF

cases="mbulk-11 mbulk-11-after-NOAUTH mbulk-11-after-a-null-count mbulk-10 bulk-16385 bulk-16384
mbulk-11-after-a-wrong-password mbulk-huge inline-20000-bytes authenticated-mbulk-11"
for c in $cases; do
    name=$(echo "$c" | tr '-' ' ')
    a=$(python3 "$TMP/probe.py" "$KV_PORT" "$name")
    b=$(python3 "$TMP/probe.py" "$REDIS_PORT" "$name")
    [ -n "$a" ] || a="(no output)"
    check "unauthenticated: $name" "$b" "$a"
done
a=$(python3 "$TMP/probe.py" "$KV_PORT" "mbulk 11")
check "unauthenticated multibulk text" \
    "mbulk 11: b'-ERR Protocol error: unauthenticated multibulk length\\r\\n<closed>'" "$a"
a=$(python3 "$TMP/probe.py" "$KV_PORT" "bulk 16385")
check "unauthenticated bulk text" \
    "bulk 16385: b'-ERR Protocol error: unauthenticated bulk length\\r\\n<closed>'" "$a"

# --- 2. authenticated: many and big arguments ---
big() { # port
    python3 - "$1" <<'EOF'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=20)
def cmd(*args):
    return b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args)
n = 200000
val = bytes(range(256)) * 400  # 102400 bytes
req = (cmd(b"AUTH", b"pw") + cmd(b"SET", b"k1", val) +
       cmd(b"EXISTS", *[b"k%d" % (i % 3) for i in range(n)]) + cmd(b"STRLEN", b"k1") +
       cmd(b"DEL", b"k1"))
s.sendall(req)
buf = b""
while buf.count(b"\r\n") < 5:
    d = s.recv(65536)
    if not d:
        buf += b"<closed>"
        break
    buf += d
print(repr(buf))
EOF
}
a=$(big "$KV_PORT")
b=$(big "$REDIS_PORT")
check "authenticated: 200000 arguments and a 100 KB value" "$b" "$a"
check "authenticated: replies" "b'+OK\\r\\n+OK\\r\\n:66667\\r\\n:102400\\r\\n:1\\r\\n'" "$a"

# --- 3. client-query-buffer-limit counts argument memory ---
qlimit() { # port: prints how the server ended the connection
    python3 - "$1" <<'EOF'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=20)
s.sendall(b"*2\r\n$4\r\nAUTH\r\n$2\r\npw\r\n")
buf = b""
while not buf.endswith(b"\r\n"):
    buf += s.recv(100)
n = 100000
try:  # never completes: two more arguments announced than sent
    s.sendall(b"*%d\r\n$6\r\nEXISTS\r\n" % (n + 3) + b"$0\r\n\r\n" * n)
    # Complete it: a server that kept the client answers it.
    s.sendall(b"$0\r\n\r\n$0\r\n\r\n")
    buf = b""
    while not buf.endswith(b"\r\n"):
        d = s.recv(65536)
        if not d:
            break
        buf += d
    print("kept: %r" % buf if buf else "closed")
except (ConnectionResetError, BrokenPipeError):
    print("closed")
EOF
}
before=$(redis-cli -p "$KV_PORT" -a pw --no-auth-warning info stats | tr -d '\r' |
    sed -n 's/^client_query_buffer_limit_disconnections://p')
redis-cli -p "$KV_PORT" -a pw --no-auth-warning config set client-query-buffer-limit 1mb >/dev/null
check "query limit: 100000 empty arguments over 1 MB with their slots" closed "$(qlimit "$KV_PORT")"
after=$(redis-cli -p "$KV_PORT" -a pw --no-auth-warning info stats | tr -d '\r' |
    sed -n 's/^client_query_buffer_limit_disconnections://p')
check "query limit: client_query_buffer_limit_disconnections" 1 $((after - before))
grep -q 'Closing client that reached max query buffer length: id=[0-9]* addr=127.0.0.1:.* (qbuf initial bytes: "\*100003\\r\\n\$6\\r\\nEXISTS' \
    "$TMP/kvcore.$KV_PORT.log" || { echo "FAIL query limit: no log line"; fail=1; }
# Under the limit (the default 1 GB) the same command completes.
redis-cli -p "$KV_PORT" -a pw --no-auth-warning config set client-query-buffer-limit 1gb >/dev/null
check "query limit: kept under the default limit" "kept: b':0\\r\\n'" "$(qlimit "$KV_PORT")"
check "server alive" PONG "$(redis-cli -p "$KV_PORT" -a pw --no-auth-warning ping)"
# lib.sh runs test servers with the deferred-reply-length check on.
grep -q 'Deferred reply lengths are checked (KVCORE_CHECK_REPLIES=abort)' \
    "$TMP/kvcore.$KV_PORT.log" || { echo "FAIL the reply length check is off"; fail=1; }
exit $fail
