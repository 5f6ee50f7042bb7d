#!/bin/sh
# SPDX-License-Identifier: MIT
# `memshim ctl --timeout MS` bounds the connect too: a listener that never accepts and
# whose backlog is full makes ctl fail with "timed out" (exit 3), not hang. The listener
# is a python3 process (listen(0), its backlog filled by its own non-blocking connects).
# The bound is the runner's: a hang would be killed by the `timeout 60` below (exit 124).
set -u
BUILD=${BUILD:-build}
top=$(cd "$(dirname "$0")/../.." && pwd)
M="$top/$BUILD/memshim"
[ -x "$M" ] || {
    echo "missing $M"
    exit 2
}
command -v python3 >/dev/null 2>&1 || {
    echo "skip: python3 not installed"
    exit 77
}
fail() {
    echo "FAIL: $*"
    exit 1
}
tmp=$(mktemp -d /tmp/memshim-ctlconn.XXXXXX) || exit 2
lpid=
cleanup() {
    [ -n "$lpid" ] && kill -9 "$lpid" 2>/dev/null
    wait 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 143' INT TERM

sock=$tmp/full.sock
python3 - "$sock" >"$tmp/listener.out" 2>&1 <<'EOF' &
import socket, sys, time
path = sys.argv[1]
srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
srv.bind(path)
srv.listen(0)
held = []
for _ in range(64):  # fill the backlog: a non-blocking connect says EAGAIN when it is full
    c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    c.setblocking(False)
    try:
        c.connect(path)
    except BlockingIOError:
        c.close()
        break
    held.append(c)
else:
    print("backlog never filled", flush=True)
    sys.exit(1)
print("full", len(held), flush=True)
time.sleep(120)  # never accepts
EOF
lpid=$!
i=0
until grep -q '^full' "$tmp/listener.out" 2>/dev/null; do
    i=$((i + 1))
    [ $i -le 100 ] || fail "the listener did not fill its backlog: $(cat "$tmp/listener.out")"
    kill -0 "$lpid" 2>/dev/null || fail "listener exited: $(cat "$tmp/listener.out")"
    sleep 0.1
done

timeout 60 "$M" ctl --timeout 300 --socket "$sock" stats >"$tmp/out" 2>"$tmp/err"
rc=$?
[ $rc -ne 124 ] || fail "memshim ctl hung on a full backlog (killed after 60 s)"
[ $rc -eq 3 ] || fail "memshim ctl exited $rc, expected 3: $(cat "$tmp/err")"
grep -q "cannot connect to $sock: Connection timed out" "$tmp/err" ||
    fail "unexpected message: $(cat "$tmp/err")"
echo "ok: ctl on a listener with a full backlog: $(cat "$tmp/err")"
