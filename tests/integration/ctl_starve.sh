#!/bin/sh
# SPDX-License-Identifier: MIT
# A slow client cannot starve the control socket. With ctl.timeout_ms at 60 s, 20 idle
# connections and 5 that sent half a request ("get version", no newline) are held open
# the whole time; `memshim ctl PID stats` must still be answered (within a 30 s bound a
# server serving one client at a time would miss by minutes: each held client would
# keep it for 60 s, and its backlog would already be full). The 16-connection limit
# evicts the 10 oldest idle ones with an ERR line, the 5 half-requests are answered
# once completed, and the host is unaffected.
set -u
. "$(dirname "$0")/../lib.sh"
ctl_setup
need_sys_python

holder_start
"$MS" ctl "$hpid" set ctl.timeout_ms 60000 >/dev/null || fail "set ctl.timeout_ms"

cat >"$TMP/flood.py" <<'PYEOF'
import socket, sys, time

path, log = sys.argv[1], open(sys.argv[2], "w", buffering=1)

def connect():
    s = socket.socket(socket.AF_UNIX)
    s.setblocking(False)  # a full backlog says EAGAIN instead of waiting
    try:
        s.connect(path)
    except BlockingIOError:
        s.close()
        return None
    return s

idle = [connect() for _ in range(20)]
partial = [connect() for _ in range(5)]
refused = sum(s is None for s in idle + partial)
for s in partial:
    if s is not None:
        s.sendall(b"get version")
log.write("held %d refused %d\n" % (len(idle) + len(partial) - refused, refused))
sys.stdin.readline()  # the test ran `memshim ctl` meanwhile

def read_all(s, until_eof):
    s.setblocking(True)
    s.settimeout(10)
    data = b""
    while True:
        try:
            chunk = s.recv(65536)
        except (socket.timeout, ConnectionResetError):
            break
        if not chunk:
            break
        data += chunk
        if not until_eof and data.endswith(b"\n") and data.count(b"\n") >= 2:
            break
    return data

ok = 0
for s in partial:
    if s is None:
        continue
    s.sendall(b"\n")
    if read_all(s, False).startswith(b"OK "):
        ok += 1
log.write("partial answered %d\n" % ok)
evicted = []
for i, s in enumerate(idle):
    if s is None:
        continue
    s.setblocking(False)
    try:
        data = s.recv(4096)
    except BlockingIOError:
        continue
    if data.startswith(b"ERR too many connections"):
        evicted.append(i)
log.write("evicted %s\n" % " ".join(map(str, evicted)))
log.write("done\n")
PYEOF

mkfifo "$TMP/flood.in"
"$py" "$TMP/flood.py" "$sock" "$TMP/flood.log" <"$TMP/flood.in" >"$TMP/flood.out" 2>&1 &
extra_pids=$!
exec 4>"$TMP/flood.in"
i=0
until grep -q '^held ' "$TMP/flood.log" 2>/dev/null; do
    i=$((i + 1))
    [ $i -gt 500 ] && fail "flood client did not start: $(cat "$TMP/flood.out")"
    sleep 0.02
done

# The assertion: answered while every slow client is still held open.
timeout 30 "$MS" ctl --timeout 20000 "$hpid" stats >"$TMP/stats" 2>&1 ||
    fail "memshim ctl starved (status $?): $(cat "$TMP/stats"); $(cat "$TMP/flood.log")"
grep -Eq '^allocated +[0-9]+$' "$TMP/stats" || fail "stats reply: $(cat "$TMP/stats")"
grep -qx 'held 25 refused 0' "$TMP/flood.log" || fail "connections not all queued: $(cat "$TMP/flood.log")"
echo "ok: memshim ctl answered with 20 idle and 5 half-request clients held open"

echo go >&4
i=0
until grep -q '^done' "$TMP/flood.log" 2>/dev/null; do
    i=$((i + 1))
    [ $i -gt 2500 ] && fail "flood client did not finish: $(cat "$TMP/flood.log" "$TMP/flood.out")"
    sleep 0.02
done
grep -qx 'partial answered 5' "$TMP/flood.log" || fail "half requests: $(cat "$TMP/flood.log")"
grep -qx 'evicted 0 1 2 3 4 5 6 7 8 9' "$TMP/flood.log" ||
    fail "eviction of the idlest: $(cat "$TMP/flood.log")"
echo "ok: the 5 half requests answered once completed; the 10 idlest evicted"
exec 4>&-

# The host is unaffected and the socket still serves.
kill -0 "$hpid" || fail "holder died"
[ "$(say 'alloc 100 64')" = "ok 100" ] || fail "holder stopped working"
"$MS" ctl "$hpid" get ctl.evicted | grep -Eq '^ctl.evicted +1[0-9]$' || fail "ctl.evicted"
[ -s "$TMP/err" ] && fail "unexpected stderr from the host: $(cat "$TMP/err")"
echo "ok: ctl starve"
exit 0
