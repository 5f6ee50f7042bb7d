#!/bin/sh
# SPDX-License-Identifier: MIT
# Hostile and clumsy clients must neither crash nor hang the host: garbage bytes and
# empty lines get ERR on a connection that stays usable; an oversized line gets ERR and
# a clean close; a silent or trickling client is cut off after ctl.timeout_ms, and a
# client connecting meanwhile is served right away (clients are served side by side, so
# a half-sent request delays no one else); a client that never reads its replies is cut
# off too; pipelined requests get one framed reply each; a last line without '\n' before
# the client's shutdown is still answered. The holder must then still work.
set -u
. "$(dirname "$0")/../lib.sh"
ctl_setup
need_sys_python

holder_start
"$MS" ctl "$hpid" set ctl.timeout_ms 300 >/dev/null || fail "set ctl.timeout_ms"

cat >"$TMP/abuse.py" <<'EOF'
import socket, sys, time

path = sys.argv[1]

def conn():
    # With a timeout set, Python connects non-blocking: a full backlog (the server
    # takes one client at a time) says EAGAIN instead of waiting. Retry for 5 s.
    for attempt in range(500):
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(5)
        try:
            s.connect(path)
            return s
        except BlockingIOError:
            s.close()
            time.sleep(0.01)
    raise TimeoutError("backlog stayed full")

def read_reply(s, buf=b""):
    """One framed reply: (head, body, leftover bytes)."""
    while b"\n" not in buf:
        chunk = s.recv(65536)
        if not chunk:
            raise EOFError("closed before a reply header; got %r" % buf)
        buf += chunk
    head, buf = buf.split(b"\n", 1)
    if head.startswith(b"OK "):
        n = int(head.split()[1])
        while len(buf) < n:
            chunk = s.recv(65536)
            if not chunk:
                raise EOFError("closed inside a body")
            buf += chunk
        return head, buf[:n], buf[n:]
    assert head.startswith(b"ERR "), head
    return head, b"", buf

def read_eof(s):
    data = s.recv(65536)
    assert data == b"", "expected EOF, got %r" % data[:80]

def check(name, cond, detail=""):
    if not cond:
        print("FAIL %s %s" % (name, detail))
        sys.exit(1)

# Garbage and empty lines: ERR, and the same connection still answers.
s = conn()
s.sendall(b"\x00\x01\xff\xfe binary\n\n   \nstats\n")
h1, _, rest = read_reply(s)
h2, _, rest = read_reply(s, rest)
h3, _, rest = read_reply(s, rest)
h4, body, rest = read_reply(s, rest)
check("garbage", h1 == b"ERR malformed request: control byte 0x00 at offset 0", h1)
check("empty", h2 == b"ERR empty request" and h3 == b"ERR empty request", (h2, h3))
check("usable", h4.startswith(b"OK ") and body.startswith(b"pid\t"), h4)
s.close()

# Oversized line, with or without a newline later: ERR, then a clean close.
for tail in (b"", b"\n"):
    s = conn()
    s.sendall(b"a" * 10000 + tail)
    h, _, rest = read_reply(s)
    check("oversized", h == b"ERR request too long (max 4095 bytes); closing", h)
    read_eof(s)
    s.close()

# Exactly the longest request (4095 bytes + '\n') is parsed, not refused.
s = conn()
s.sendall(b"get " + b"x" * 4091 + b"\n")
h, _, _ = read_reply(s)
check("max line", h.startswith(b"ERR unknown control 'xxxx"), h)
s.close()

# Pipelining: 200 requests in one write, 200 framed replies in order.
s = conn()
s.sendall(b"get version\n" * 200)
rest = b""
for i in range(200):
    h, body, rest = read_reply(s, rest)
    check("pipelined %d" % i, h.startswith(b"OK ") and body.startswith(b"version\t"), h)
s.close()

# A last line without '\n', then shutdown: still answered.
s = conn()
s.sendall(b"get version")
s.shutdown(socket.SHUT_WR)
h, body, _ = read_reply(s)
check("eof line", h.startswith(b"OK ") and body.startswith(b"version\t"), h)
s.close()

# A silent client is cut off after the timeout (300 ms) ...
t0 = time.monotonic()
idle = conn()
# ... and a client behind it is served soon after.
t1 = time.monotonic()
b = conn()
b.sendall(b"stats\n")
h, _, _ = read_reply(b)
waited = time.monotonic() - t1
check("queued client", h.startswith(b"OK ") and waited < 2.0, "%r after %.2fs" % (h, waited))
h, _, _ = read_reply(idle)
check("idle cut", h == b"ERR timeout: no complete request in time; closing", h)
read_eof(idle)
check("idle time", time.monotonic() - t0 < 2.0, time.monotonic() - t0)
idle.close(); b.close()

# A trickling client (one byte per 50 ms, never a newline) is cut off too.
s = conn()
t0 = time.monotonic()
try:
    for i in range(60):
        s.send(b"x")
        time.sleep(0.05)
except (BrokenPipeError, ConnectionResetError):
    pass
h, _, _ = read_reply(s)
check("trickle", h.startswith(b"ERR timeout"), h)
check("trickle time", time.monotonic() - t0 < 3.5, time.monotonic() - t0)
s.close()

# A client that never reads: the server gives up on it, then serves others.
s = conn()
s.setblocking(False)
sent = 0
try:
    for i in range(5000):
        sent += s.send(b"config\n")
except BlockingIOError:
    pass
time.sleep(1.0)
s.close()
b = conn()
b.sendall(b"stats\n")
h, _, _ = read_reply(b)
check("after non-reader", h.startswith(b"OK "), h)
b.close()

# Connection churn.
for i in range(200):
    c = conn()
    c.close()
b = conn()
b.sendall(b"get ctl.clients\n")
h, body, _ = read_reply(b)
check("churn", h.startswith(b"OK ") and int(body.split(b"\t")[1]) >= 200, body)
b.close()
print("abuse ok")
EOF
"$py" "$TMP/abuse.py" "$sock" >"$TMP/abuse.out" 2>&1 || fail "$(cat "$TMP/abuse.out")"
grep -qx 'abuse ok' "$TMP/abuse.out" || fail "$(cat "$TMP/abuse.out")"

# The host is alive, still allocating, and still answering.
kill -0 "$hpid" || fail "holder died"
[ "$(say 'alloc 100 64')" = "ok 100" ] || fail "holder stopped working"
"$MS" ctl "$hpid" stats >/dev/null || fail "stats after the abuse"
[ -s "$TMP/err" ] && fail "unexpected stderr from the host: $(cat "$TMP/err")"
echo "ok: ctl garbage"
exit 0
