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
. "$(dirname "$0")/../lib.sh"
ctl_setup
need_sys_python
ctl_nobody "$MS"
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
"$MS" ps >"$TMP/o" 2>"$TMP/e" || fail "ps as root: $(cat "$TMP/e")"
[ -S "$sockdir/$d1.sock" ] || fail "root's ps removed a socket owned by nobody"
grep -q "skipping $sockdir/$d1.sock: owned by uid $nuid" "$TMP/e" || fail "no skip note: $(cat "$TMP/e")"
[ -S "$sockdir/$live.sock" ] || fail "root's ps removed the socket of a live pid"
[ -e "$sockdir/$d2.sock" ] && fail "root's ps kept its own dead socket"
grep -q "removed 1 stale socket(s) from $sockdir" "$TMP/e" || fail "count: $(cat "$TMP/e")"
"$MS" ps >"$TMP/o" 2>"$TMP/e" || fail "ps as root, again"
[ -S "$sockdir/$d1.sock" ] && [ -S "$sockdir/$live.sock" ] || fail "second ps removed something"

# --- as nobody, in nobody's directory ---
dead_sock "$nsockdir/$d3.sock" nobody # dead, nobody's own
dead_sock "$nsockdir/$d4.sock"        # dead, but root's
mkfifo "$TMP/gin" && chown nobody "$TMP/gin"
as_nobody env XDG_RUNTIME_DIR="$nxdg" MEMSHIM_CTL=1 LD_PRELOAD="$SHIM" "$CTL_HOLDER" \
    <"$TMP/gin" >"$TMP/gout" 2>"$TMP/gerr" &
exec 4>"$TMP/gin"
i=0
until grep -q '^ready ' "$TMP/gout" 2>/dev/null; do
    i=$((i + 1))
    [ $i -gt 250 ] && fail "nobody's holder did not start: $(cat "$TMP/gerr")"
    sleep 0.02
done
gpid=$(sed -n 's/^ready //p' "$TMP/gout")
extra_pids=$gpid
wait_path "$nsockdir/$gpid.sock" || fail "nobody's holder has no socket: $(cat "$TMP/gerr")"
as_nobody env XDG_RUNTIME_DIR="$nxdg" "$MS" ps >"$TMP/o" 2>"$TMP/e" ||
    fail "ps as nobody: $(cat "$TMP/e")"
[ -e "$nsockdir/$d3.sock" ] && fail "nobody's ps kept its own dead socket"
[ -S "$nsockdir/$d4.sock" ] || fail "nobody's ps removed a socket owned by root"
grep -q "skipping $nsockdir/$d4.sock: owned by uid 0" "$TMP/e" || fail "no skip note: $(cat "$TMP/e")"
grep -q "removed 1 stale socket(s) from $nsockdir" "$TMP/e" || fail "count: $(cat "$TMP/e")"
grep -Eq "^ *$gpid " "$TMP/o" || fail "live process not listed: $(cat "$TMP/o")"
[ -S "$nsockdir/$gpid.sock" ] || fail "ps removed a live socket"
exec 4>&-
echo "ok: ps removes only provably stale sockets of its own"
exit 0
