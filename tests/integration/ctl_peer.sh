#!/bin/sh
# SPDX-License-Identifier: MIT
# The control socket's security model, as root: (1) a peer of another uid (`nobody`)
# cannot even reach the socket through its 0700 directory; (2) given a path to the
# socket anyway (a hard link in a public directory), it is refused by SO_PEERCRED with
# "ERR permission denied", and the refusal is counted in ctl.refused; (3) root may talk
# to another user's process; (4) a process refuses a socket directory owned by someone
# else (as an attacker could pre-create /tmp/memshim-<uid>) and keeps running.
set -u
. "$(dirname "$0")/../lib.sh"
ctl_setup
need_root "to run a client as nobody"
need_cmd setpriv
need_sys_python
as_nobody() { setpriv --reuid=nobody --regid=nogroup --clear-groups "$@"; }
as_nobody true 2>/dev/null || skip "cannot switch to nobody here"
chmod 711 "$TMP" # nobody may traverse $TMP, not list it; $TMP/xdg stays 0700
as_nobody test -x "$MS" || { echo "nobody cannot execute $MS"; exit 77; }

holder_start

# (1) The directory keeps nobody out.
cat >"$TMP/peer.py" <<'EOF'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(5)
try:
    s.connect(sys.argv[1])
except PermissionError:
    print("EACCES"); sys.exit(0)
s.sendall(b"config\n")
data = b""
while True:
    chunk = s.recv(4096)
    if not chunk:
        break
    data += chunk
print(repr(data))
EOF
out=$(as_nobody "$py" "$TMP/peer.py" "$sock" 2>&1)
[ "$out" = EACCES ] || fail "nobody reached the socket through its directory: $out"

# (2) Through a public hard link, SO_PEERCRED refuses it.
mkdir -m 755 "$TMP/pub"
ln "$sock" "$TMP/pub/ctl.sock" || skip "cannot hard-link the socket here"
chmod 666 "$TMP/pub/ctl.sock"
out=$(as_nobody "$py" "$TMP/peer.py" "$TMP/pub/ctl.sock" 2>&1)
[ "$out" = "b'ERR permission denied\\n'" ] || fail "nobody was not refused: $out"
as_nobody "$MS" ctl --socket "$TMP/pub/ctl.sock" stats >"$TMP/nb.out" 2>"$TMP/nb.err"
rc=$?
[ $rc -eq 1 ] && grep -q 'permission denied' "$TMP/nb.err" ||
    fail "memshim ctl as nobody: rc=$rc $(cat "$TMP/nb.out" "$TMP/nb.err")"
"$MS" ctl "$hpid" get ctl.refused | grep -Eq '^ctl.refused +2$' ||
    fail "refusals not counted: $("$MS" ctl "$hpid" get ctl.refused)"
# root through the same link is welcome, and the host is unharmed.
"$MS" ctl --socket "$TMP/pub/ctl.sock" get ctl.clients | grep -Eq '^ctl.clients +[0-9]+$' ||
    fail "root refused through the link"
[ "$(say 'alloc 10 100')" = "ok 10" ] || fail "host after refusals"

# (3) root controls a process of another user (socket in that user's directory).
mkdir -m 700 "$TMP/xdg-nobody" && chown nobody:nogroup "$TMP/xdg-nobody"
mkfifo "$TMP/in2"
as_nobody env XDG_RUNTIME_DIR="$TMP/xdg-nobody" MEMSHIM_CTL=1 LD_PRELOAD="$SHIM" "$CTL_HOLDER" \
    <"$TMP/in2" >"$TMP/out2" 2>"$TMP/err2" &
njob=$!
exec 4>"$TMP/in2"
i=0
until grep -q '^ready ' "$TMP/out2" 2>/dev/null; do
    i=$((i + 1))
    [ $i -gt 250 ] && fail "nobody's holder did not start: $(cat "$TMP/err2")"
    sleep 0.02
done
npid=$(sed -n 's/^ready //p' "$TMP/out2") # setpriv's child, not the subshell $! names
extra_pids=$npid
nsock="$TMP/xdg-nobody/memshim/$npid.sock"
wait_path "$nsock" || fail "nobody's holder has no socket: $(cat "$TMP/err2")"
[ "$(stat -c %U "$nsock")" = nobody ] || fail "socket owner $(stat -c %U "$nsock")"
"$MS" ctl --socket "$nsock" stats >"$TMP/ns" || fail "root refused by nobody's process"
grep -Eq "^pid +$npid\$" "$TMP/ns" || fail "wrong process answered: $(cat "$TMP/ns")"
exec 4>&-
wait "$njob"
wait_path "$nsock" 1 || fail "nobody's socket left after exit"

# (4) A socket directory owned by someone else is refused; the program runs on.
mkdir -m 755 "$TMP/xdg-evil" && mkdir -m 777 "$TMP/xdg-evil/memshim"
mkfifo "$TMP/in3"
as_nobody env XDG_RUNTIME_DIR="$TMP/xdg-evil" MEMSHIM_CTL=1 LD_PRELOAD="$SHIM" "$CTL_HOLDER" \
    <"$TMP/in3" >"$TMP/out3" 2>"$TMP/err3" &
epid=$!
extra_pids="$npid $epid"
exec 5>"$TMP/in3"
echo "alloc 5 64" >&5
i=0
until grep -q '^ok 5$' "$TMP/out3" 2>/dev/null; do
    i=$((i + 1))
    [ $i -gt 250 ] && fail "holder with a hostile directory did not run: $(cat "$TMP/err3")"
    sleep 0.02
done
i=0
until grep -q 'control socket disabled' "$TMP/err3"; do
    i=$((i + 1))
    [ $i -gt 250 ] && fail "no warning about the hostile directory: $(cat "$TMP/err3")"
    sleep 0.02
done
grep -q "xdg-evil/memshim is not owned by uid 65534" "$TMP/err3" || fail "warning: $(cat "$TMP/err3")"
[ -z "$(ls "$TMP/xdg-evil/memshim")" ] || fail "a socket was created in the hostile directory"
exec 5>&-
wait "$epid"
extra_pids=
echo "ok: ctl peer checks"
exit 0
