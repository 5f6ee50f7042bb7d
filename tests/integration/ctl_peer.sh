#!/bin/sh
# SPDX-License-Identifier: MIT
# The control socket's security model, as root: (1) a peer of another uid (`nobody`)
# cannot even reach the socket through its 0700 directory; (2) given a path to the
# socket anyway (a hard link in a public directory), it is refused by SO_PEERCRED with
# "ERR permission denied", and the refusal is counted in ctl.refused; (3) root may talk
# to another user's process; (4) a process refuses a socket directory owned by someone
# else (as an attacker could pre-create /tmp/memshim-<uid>) and keeps running.
set -u
. "$(dirname "$0")/../helpers/ctl_lib.sh"
ctl_setup
[ "$(id -u)" = 0 ] || { echo "needs root (to run a client as nobody)"; exit 77; }
command -v setpriv >/dev/null || { echo "setpriv not installed"; exit 77; }
py=/usr/bin/python3
[ -x "$py" ] || { echo "no /usr/bin/python3"; exit 77; }
as_nobody() { setpriv --reuid=nobody --regid=nogroup --clear-groups "$@"; }
as_nobody true 2>/dev/null || { echo "cannot switch to nobody here"; exit 77; }
chmod 711 "$tmp" # nobody may traverse $tmp, not list it; $tmp/xdg stays 0700
as_nobody test -x "$M" || { echo "nobody cannot execute $M"; exit 77; }

holder_start

# (1) The directory keeps nobody out.
cat >"$tmp/peer.py" <<'EOF'
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
out=$(as_nobody "$py" "$tmp/peer.py" "$sock" 2>&1)
[ "$out" = EACCES ] || fail "nobody reached the socket through its directory: $out"

# (2) Through a public hard link, SO_PEERCRED refuses it.
mkdir -m 755 "$tmp/pub"
ln "$sock" "$tmp/pub/ctl.sock" || { echo "cannot hard-link the socket here"; exit 77; }
chmod 666 "$tmp/pub/ctl.sock"
out=$(as_nobody "$py" "$tmp/peer.py" "$tmp/pub/ctl.sock" 2>&1)
[ "$out" = "b'ERR permission denied\\n'" ] || fail "nobody was not refused: $out"
as_nobody "$M" ctl --socket "$tmp/pub/ctl.sock" stats >"$tmp/nb.out" 2>"$tmp/nb.err"
rc=$?
[ $rc -eq 1 ] && grep -q 'permission denied' "$tmp/nb.err" ||
    fail "memshim ctl as nobody: rc=$rc $(cat "$tmp/nb.out" "$tmp/nb.err")"
"$M" ctl "$hpid" get ctl.refused | grep -Eq '^ctl.refused +2$' ||
    fail "refusals not counted: $("$M" ctl "$hpid" get ctl.refused)"
# root through the same link is welcome, and the host is unharmed.
"$M" ctl --socket "$tmp/pub/ctl.sock" get ctl.clients | grep -Eq '^ctl.clients +[0-9]+$' ||
    fail "root refused through the link"
[ "$(say 'alloc 10 100')" = "ok 10" ] || fail "host after refusals"

# (3) root controls a process of another user (socket in that user's directory).
mkdir -m 700 "$tmp/xdg-nobody" && chown nobody:nogroup "$tmp/xdg-nobody"
mkfifo "$tmp/in2"
as_nobody env XDG_RUNTIME_DIR="$tmp/xdg-nobody" MEMSHIM_CTL=1 LD_PRELOAD="$lib" "$holder" \
    <"$tmp/in2" >"$tmp/out2" 2>"$tmp/err2" &
njob=$!
exec 4>"$tmp/in2"
i=0
until grep -q '^ready ' "$tmp/out2" 2>/dev/null; do
    i=$((i + 1))
    [ $i -gt 250 ] && fail "nobody's holder did not start: $(cat "$tmp/err2")"
    sleep 0.02
done
npid=$(sed -n 's/^ready //p' "$tmp/out2") # setpriv's child, not the subshell $! names
extra_pids=$npid
nsock="$tmp/xdg-nobody/memshim/$npid.sock"
wait_path "$nsock" || fail "nobody's holder has no socket: $(cat "$tmp/err2")"
[ "$(stat -c %U "$nsock")" = nobody ] || fail "socket owner $(stat -c %U "$nsock")"
"$M" ctl --socket "$nsock" stats >"$tmp/ns" || fail "root refused by nobody's process"
grep -Eq "^pid +$npid\$" "$tmp/ns" || fail "wrong process answered: $(cat "$tmp/ns")"
exec 4>&-
wait "$njob"
wait_path "$nsock" 1 || fail "nobody's socket left after exit"

# (4) A socket directory owned by someone else is refused; the program runs on.
mkdir -m 755 "$tmp/xdg-evil" && mkdir -m 777 "$tmp/xdg-evil/memshim"
mkfifo "$tmp/in3"
as_nobody env XDG_RUNTIME_DIR="$tmp/xdg-evil" MEMSHIM_CTL=1 LD_PRELOAD="$lib" "$holder" \
    <"$tmp/in3" >"$tmp/out3" 2>"$tmp/err3" &
epid=$!
extra_pids="$npid $epid"
exec 5>"$tmp/in3"
echo "alloc 5 64" >&5
i=0
until grep -q '^ok 5$' "$tmp/out3" 2>/dev/null; do
    i=$((i + 1))
    [ $i -gt 250 ] && fail "holder with a hostile directory did not run: $(cat "$tmp/err3")"
    sleep 0.02
done
i=0
until grep -q 'control socket disabled' "$tmp/err3"; do
    i=$((i + 1))
    [ $i -gt 250 ] && fail "no warning about the hostile directory: $(cat "$tmp/err3")"
    sleep 0.02
done
grep -q "xdg-evil/memshim is not owned by uid 65534" "$tmp/err3" || fail "warning: $(cat "$tmp/err3")"
[ -z "$(ls "$tmp/xdg-evil/memshim")" ] || fail "a socket was created in the hostile directory"
exec 5>&-
wait "$epid"
extra_pids=
echo "ok: ctl peer checks"
exit 0
