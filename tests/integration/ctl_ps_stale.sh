#!/bin/sh
# SPDX-License-Identifier: MIT
# `memshim ps` removes a socket only when it is provably stale and the caller's own: in
# the caller's private directory, owned by the caller, refusing connections, and named
# after a pid that is gone. Run as root and as nobody (`runuser -u nobody`), each with a
# socket directory under this test's temporary directory: a dead socket owned by the
# other user is kept (and reported as skipped), a refusing socket named after a live
# pid is kept however old it is, and the caller's own dead socket is removed; a live
# process of nobody under the shim is listed.
set -u
. "$(dirname "$0")/../helpers/ctl_lib.sh"
ctl_setup
[ "$(id -u)" = 0 ] || { echo "needs root (to run processes as nobody)"; exit 77; }
command -v runuser >/dev/null || { echo "runuser not installed"; exit 77; }
py=/usr/bin/python3
[ -x "$py" ] || { echo "no /usr/bin/python3"; exit 77; }
as_nobody() { runuser -u nobody -- "$@"; }
as_nobody true 2>/dev/null || { echo "cannot switch to nobody here"; exit 77; }
chmod 711 "$tmp"
as_nobody test -x "$M" || { echo "nobody cannot execute $M"; exit 77; }
nuid=$(id -u nobody)
nxdg="$tmp/xdg-nobody"
nsockdir="$nxdg/memshim"
mkdir -m 700 "$nxdg" && chown nobody "$nxdg"
as_nobody mkdir -m 700 "$nsockdir" || fail "mkdir as nobody"
mkdir -m 700 "$sockdir"

# dead_pid: a pid that was used and is not running now
dead_pid() {
    sh -c 'exit 0' &
    p=$!
    wait "$p"
    kill -0 "$p" 2>/dev/null && fail "pid $p still running"
    echo "$p"
}

# A socket file nobody listens on (its creator exits without removing it), one hour old.
mk='import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])'
dead_sock() { # PATH [as_nobody]
    if [ "${2:-}" = nobody ]; then as_nobody "$py" -c "$mk" "$1"; else "$py" -c "$mk" "$1"; fi ||
        fail "cannot create $1"
    touch -h -d '1 hour ago' "$1"
}

d1=$(dead_pid)
d2=$(dead_pid)
d3=$(dead_pid)
d4=$(dead_pid)
live=$$ # this shell: alive, and serves no control socket

# --- as root, in root's directory ---
dead_sock "$sockdir/$d1.sock" && chown nobody "$sockdir/$d1.sock" # dead, nobody's
dead_sock "$sockdir/$live.sock"                                   # refusing, live pid
dead_sock "$sockdir/$d2.sock"                                     # dead, root's own
"$M" ps >"$tmp/o" 2>"$tmp/e" || fail "ps as root: $(cat "$tmp/e")"
[ -S "$sockdir/$d1.sock" ] || fail "root's ps removed a socket owned by nobody"
grep -q "skipping $sockdir/$d1.sock: owned by uid $nuid" "$tmp/e" || fail "no skip note: $(cat "$tmp/e")"
[ -S "$sockdir/$live.sock" ] || fail "root's ps removed the socket of a live pid"
[ -e "$sockdir/$d2.sock" ] && fail "root's ps kept its own dead socket"
grep -q "removed 1 stale socket(s) from $sockdir" "$tmp/e" || fail "count: $(cat "$tmp/e")"
"$M" ps >"$tmp/o" 2>"$tmp/e" || fail "ps as root, again"
[ -S "$sockdir/$d1.sock" ] && [ -S "$sockdir/$live.sock" ] || fail "second ps removed something"

# --- as nobody, in nobody's directory ---
dead_sock "$nsockdir/$d3.sock" nobody # dead, nobody's own
dead_sock "$nsockdir/$d4.sock"        # dead, but root's
mkfifo "$tmp/gin" && chown nobody "$tmp/gin"
as_nobody env XDG_RUNTIME_DIR="$nxdg" MEMSHIM_CTL=1 LD_PRELOAD="$lib" "$holder" \
    <"$tmp/gin" >"$tmp/gout" 2>"$tmp/gerr" &
exec 4>"$tmp/gin"
i=0
until grep -q '^ready ' "$tmp/gout" 2>/dev/null; do
    i=$((i + 1))
    [ $i -gt 250 ] && fail "nobody's holder did not start: $(cat "$tmp/gerr")"
    sleep 0.02
done
gpid=$(sed -n 's/^ready //p' "$tmp/gout")
extra_pids=$gpid
wait_path "$nsockdir/$gpid.sock" || fail "nobody's holder has no socket: $(cat "$tmp/gerr")"
as_nobody env XDG_RUNTIME_DIR="$nxdg" "$M" ps >"$tmp/o" 2>"$tmp/e" ||
    fail "ps as nobody: $(cat "$tmp/e")"
[ -e "$nsockdir/$d3.sock" ] && fail "nobody's ps kept its own dead socket"
[ -S "$nsockdir/$d4.sock" ] || fail "nobody's ps removed a socket owned by root"
grep -q "skipping $nsockdir/$d4.sock: owned by uid 0" "$tmp/e" || fail "no skip note: $(cat "$tmp/e")"
grep -q "removed 1 stale socket(s) from $nsockdir" "$tmp/e" || fail "count: $(cat "$tmp/e")"
grep -Eq "^ *$gpid " "$tmp/o" || fail "live process not listed: $(cat "$tmp/o")"
[ -S "$nsockdir/$gpid.sock" ] || fail "ps removed a live socket"
exec 4>&-
echo "ok: ps removes only provably stale sockets of its own"
exit 0
