#!/bin/sh
# SPDX-License-Identifier: MIT
# `memshim ctl --timeout MS` bounds the connect too: a listener that never accepts and
# whose backlog is full makes ctl fail with "timed out" (exit 3), not hang. The listener
# is a python3 process (listen(0), its backlog filled by its own non-blocking connects).
# The bound is the runner's: a hang would be killed by the `timeout 60` below (exit 124).
. "$(dirname "$0")/../lib.sh"
need_built "$MS"
need_cmd python3

sock=$TMP/full.sock
python3 - "$sock" >"$TMP/listener.out" 2>&1 <<'EOF' &
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
track_pid "$lpid"
i=0
until grep -q '^full' "$TMP/listener.out" 2>/dev/null; do
    i=$((i + 1))
    [ $i -le 100 ] || fail "the listener did not fill its backlog: $(cat "$TMP/listener.out")"
    kill -0 "$lpid" 2>/dev/null || fail "listener exited: $(cat "$TMP/listener.out")"
    sleep 0.1
done

timeout 60 "$MS" ctl --timeout 300 --socket "$sock" stats >"$TMP/out" 2>"$TMP/err"
rc=$?
[ $rc -ne 124 ] || fail "memshim ctl hung on a full backlog (killed after 60 s)"
[ $rc -eq 3 ] || fail "memshim ctl exited $rc, expected 3: $(cat "$TMP/err")"
grep -q "cannot connect to $sock: Connection timed out" "$TMP/err" ||
    fail "unexpected message: $(cat "$TMP/err")"
echo "ok: ctl on a listener with a full backlog: $(cat "$TMP/err")"
