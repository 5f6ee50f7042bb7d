#!/bin/sh
# SPDX-License-Identifier: MIT
# `memshim ctl PID` as root against a process of another user (`nobody`): (a) a socket
# nobody planted at that process's socket path but served by another of nobody's
# processes (replying with terminal escapes: window title, screen clear, OSC 52
# clipboard write) is refused, found in nobody's own directory or hard-linked into
# root's, and no raw ESC byte is ever printed; through --socket (no identity to check)
# the replies are printed escaped; (b) a genuine process of nobody under the shim, whose
# socket directory is its own $XDG_RUNTIME_DIR/memshim, still answers root.
set -u
. "$(dirname "$0")/../lib.sh"
ctl_setup
need_sys_python
ctl_nobody "$CTL_HOLDER"

# has_esc FILE: the file holds a raw ESC (0x1b) or CSI (0x9b) byte
has_esc() { od -An -v -tx1 "$1" | grep -Eq '(^| )(1b|9b)( |$)'; }

# wait_line FILE PATTERN: waits (5 s) for a line matching PATTERN
wait_line() {
    i=0
    until grep -q "$2" "$1" 2>/dev/null; do
        i=$((i + 1))
        [ $i -gt 250 ] && return 1
        sleep 0.02
    done
}

# The target: one of nobody's processes without the shim (so it has no socket of its
# own), started with nobody's XDG_RUNTIME_DIR.
mkfifo "$TMP/tin" && chown nobody "$TMP/tin"
as_nobody env XDG_RUNTIME_DIR="$nxdg" "$CTL_HOLDER" <"$TMP/tin" >"$TMP/tout" 2>"$TMP/terr" &
exec 4>"$TMP/tin"
wait_line "$TMP/tout" '^ready ' || fail "target did not start: $(cat "$TMP/terr")"
tpid=$(sed -n 's/^ready //p' "$TMP/tout")
extra_pids=$tpid
[ "$(stat -c %u /proc/"$tpid")" = "$nuid" ] || fail "target is not nobody's"

# The impostor: another process of nobody serving the target's socket path.
cat >"$TMP/imp.py" <<'EOF'
import os, socket, sys
path, pidfile = sys.argv[1], sys.argv[2]
evil = b"\x1b]0;owned\x07\x1b[2J\x1b[H\x1b]52;c;ZXZpbA==\x07\x9bHI\n"
s = socket.socket(socket.AF_UNIX)
s.bind(path)
s.listen(8)
with open(pidfile + ".tmp", "w") as f:
    f.write("%d\n" % os.getpid())
os.rename(pidfile + ".tmp", pidfile)
s.settimeout(60)
for _ in range(50):  # bounded: the test makes far fewer connections
    try:
        c, _ = s.accept()
    except socket.timeout:
        break
    c.settimeout(5)
    try:
        req = c.recv(4096)
        if req.startswith(b"get"):
            c.sendall(b"ERR \x1b]0;owned\x07\x1b[2J\n")
        else:
            c.sendall(b"OK %d text\n" % len(evil) + evil)
    except OSError:
        pass
    c.close()
EOF
chmod 644 "$TMP/imp.py"
isock="$nxdg/memshim/$tpid.sock"
as_nobody "$py" "$TMP/imp.py" "$isock" "$nxdg/imp.pid" >"$TMP/imp.out" 2>&1 &
i=0
until [ -s "$nxdg/imp.pid" ]; do
    i=$((i + 1))
    [ $i -gt 250 ] && fail "impostor did not start: $(cat "$TMP/imp.out")"
    sleep 0.02
done
ipid=$(cat "$nxdg/imp.pid")
extra_pids="$tpid $ipid"
[ "$(stat -c %u "$isock")" = "$nuid" ] || fail "impostor socket owner"

# check_refused NAME: `memshim ctl $tpid CMD` was refused and printed no escape byte
check_refused() {
    [ "$rc" -eq 3 ] || fail "$1: rc=$rc, want 3: $(od -c "$TMP/o" "$TMP/e" | head)"
    has_esc "$TMP/o" && fail "$1: raw escape on stdout"
    has_esc "$TMP/e" && fail "$1: raw escape on stderr"
    grep -q "refusing .*/$tpid.sock: served by pid $ipid (uid $nuid), not by process $tpid" \
        "$TMP/e" || fail "$1: unclear error: $(cat "$TMP/e")"
    [ -s "$TMP/o" ] && fail "$1: printed a reply: $(od -c "$TMP/o" | head)"
    return 0
}

# (a1) The impostor in nobody's own socket directory.
"$MS" ctl "$tpid" stats >"$TMP/o" 2>"$TMP/e"
rc=$?
check_refused "nobody's directory"
"$MS" ctl "$tpid" get ctl.socket >"$TMP/o" 2>"$TMP/e"
rc=$?
check_refused "nobody's directory, get"

# (a2) The same socket reached through root's own directory.
mkdir -m 700 "$sockdir"
ln "$isock" "$sockdir/$tpid.sock" || skip "cannot hard-link a socket here"
"$MS" ctl "$tpid" stats >"$TMP/o" 2>"$TMP/e"
rc=$?
check_refused "root's directory"
rm -f "$sockdir/$tpid.sock"

# (a3) Named with --socket there is no process to check, but nothing raw is printed.
"$MS" ctl --socket "$isock" stats >"$TMP/o" 2>"$TMP/e"
rc=$?
[ $rc -eq 0 ] || fail "--socket stats: rc=$rc $(cat "$TMP/e")"
has_esc "$TMP/o" && fail "--socket: raw escape printed: $(od -c "$TMP/o" | head)"
[ "$(cat "$TMP/o")" = '\x1b]0;owned\x07\x1b[2J\x1b[H\x1b]52;c;ZXZpbA==\x07\x9bHI' ] ||
    fail "--socket: $(cat "$TMP/o")"
"$MS" ctl --socket "$isock" get x >"$TMP/o" 2>"$TMP/e"
rc=$?
[ $rc -eq 1 ] || fail "--socket get: rc=$rc $(cat "$TMP/e")"
has_esc "$TMP/e" && fail "--socket: raw escape in the error: $(od -c "$TMP/e" | head)"
[ "$(cat "$TMP/e")" = 'memshim ctl: \x1b]0;owned\x07\x1b[2J' ] || fail "--socket err: $(cat "$TMP/e")"

# (b) A genuine process of nobody under the shim answers root.
mkfifo "$TMP/gin" && chown nobody "$TMP/gin"
as_nobody env XDG_RUNTIME_DIR="$nxdg" MEMSHIM_CTL=1 LD_PRELOAD="$SHIM" "$CTL_HOLDER" \
    <"$TMP/gin" >"$TMP/gout" 2>"$TMP/gerr" &
exec 5>"$TMP/gin"
wait_line "$TMP/gout" '^ready ' || fail "nobody's holder did not start: $(cat "$TMP/gerr")"
gpid=$(sed -n 's/^ready //p' "$TMP/gout")
extra_pids="$tpid $ipid $gpid"
wait_path "$nxdg/memshim/$gpid.sock" || fail "nobody's holder has no socket: $(cat "$TMP/gerr")"
"$MS" ctl "$gpid" stats >"$TMP/o" 2>"$TMP/e" || fail "root refused by nobody's process: $(cat "$TMP/e")"
grep -Eq "^pid +$gpid\$" "$TMP/o" || fail "wrong process answered: $(cat "$TMP/o")"
"$MS" ctl "$gpid" get ctl.socket | grep -q "$nxdg/memshim/$gpid.sock" || fail "ctl.socket"
# The target is still refused while the genuine one is served.
"$MS" ctl "$tpid" stats >"$TMP/o" 2>"$TMP/e"
rc=$?
check_refused "beside a genuine process"
exec 5>&- 4>&-
echo "ok: ctl impostor checks"
exit 0
