#!/bin/sh
# SPDX-License-Identifier: MIT
# The control socket across fork, exec and death: a forked child gets its own socket
# (ctl.fork, after a short grace delay) and answers for its own pid while the parent
# keeps answering; with ctl.fork=false it gets none; a fork-then-exec child never
# creates one; a process that execs itself (same pid) replaces the socket its old
# image left, even when something else was planted at that path; a killed process's
# socket is removed by `memshim ps`; and `memshim run --ctl` opens a socket.
set -u
. "$(dirname "$0")/../lib.sh"
ctl_setup

holder_start

# --- fork: the child re-arms for its own pid ---
cpid=$(say fork | sed -n 's/^child //p')
[ -n "$cpid" ] || fail "fork"
extra_pids=$cpid
wait_path "$sockdir/$cpid.sock" || fail "forked child has no socket"
"$MS" ctl "$cpid" stats | grep -Eq "^pid +$cpid\$" || fail "child answers for another pid"
"$MS" ctl "$cpid" get ctl.socket | grep -q "$sockdir/$cpid.sock" || fail "child's ctl.socket"
"$MS" ctl "$hpid" stats | grep -Eq "^pid +$hpid\$" || fail "parent stopped answering"
[ "$(ls /proc/"$cpid"/task | wc -l)" -eq 2 ] || fail "child should have its thread + control thread"
"$MS" ps >"$TMP/ps" || fail "ps"
grep -Eq "^ *$hpid " "$TMP/ps" && grep -Eq "^ *$cpid " "$TMP/ps" || fail "ps: $(cat "$TMP/ps")"

# --- a killed process leaves a stale socket; ps removes it ---
kill -9 "$cpid"
i=0
# The holder does not reap it: it stays a zombie, which ps must count as dead.
until [ "$(awk '{ print $3 }' "/proc/$cpid/stat" 2>/dev/null)" = Z ] || ! kill -0 "$cpid" 2>/dev/null; do
    i=$((i + 1))
    [ $i -gt 250 ] && fail "killed child still running"
    sleep 0.02
done
[ -S "$sockdir/$cpid.sock" ] || fail "expected the killed child's socket to be left behind"
"$MS" ctl "$cpid" stats 2>"$TMP/e"
[ $? -eq 3 ] || fail "ctl to a dead pid must exit 3: $(cat "$TMP/e")"
"$MS" ps >"$TMP/ps" 2>"$TMP/ps.err" || fail "ps after kill"
grep -q 'removed 1 stale socket' "$TMP/ps.err" || fail "ps did not report the stale socket: $(cat "$TMP/ps.err")"
[ -e "$sockdir/$cpid.sock" ] && fail "stale socket not removed"
grep -Eq "^ *$cpid " "$TMP/ps" && fail "ps lists a dead process"

# --- ctl.fork=false: no socket in the child ---
"$MS" ctl "$hpid" set ctl.fork false >/dev/null || fail "set ctl.fork"
c2=$(say fork | sed -n 's/^child //p')
extra_pids=$c2
sleep 0.5
[ -e "$sockdir/$c2.sock" ] && fail "child with ctl.fork=false has a socket"
[ "$(ls /proc/"$c2"/task | wc -l)" -eq 1 ] || fail "child with ctl.fork=false has extra threads"
kill -9 "$c2"
"$MS" ctl "$hpid" set ctl.fork true >/dev/null || fail "reset ctl.fork"

# --- fork then exec at once: the grace delay means no socket is ever made ---
out=$(say forkexec)
epid=$(echo "$out" | awk '$1 == "exec" && $3 == 0 { print $2 }')
[ -n "$epid" ] || fail "forkexec: $out"
[ -e "$sockdir/$epid.sock" ] && fail "a fork-then-exec child left a socket"

# --- exec (same pid): the socket left by the old image is replaced, never trusted ---
rm -f "$sock"
echo "planted, not a socket" >"$sock"
n=$(grep -c '^ready ' "$TMP/out")
echo exec >&3
i=0
while [ "$(grep -c '^ready ' "$TMP/out")" -le "$n" ]; do
    i=$((i + 1))
    [ $i -gt 250 ] && fail "holder did not come back after exec: $(cat "$TMP/err")"
    sleep 0.02
done
i=0
until [ -S "$sock" ]; do
    i=$((i + 1))
    [ $i -gt 250 ] && fail "the planted file was not replaced by a socket"
    sleep 0.02
done
"$MS" ctl "$hpid" stats | grep -Eq "^pid +$hpid\$" || fail "new image does not answer"
"$MS" ctl "$hpid" get ctl.clients | grep -Eq '^ctl.clients +2$' || fail "new image's counters (stats, then this get)"

echo quit >&3
wait "$hpid"
hpid=
wait_path "$sock" 1 || fail "socket left after exit"

# --- memshim run --ctl ---
exec 3>&-
rm -f "$TMP/in" "$TMP/out"
mkfifo "$TMP/in"
"$MS" run --ctl -- "$CTL_HOLDER" <"$TMP/in" >"$TMP/out" 2>"$TMP/err" &
rjob=$!
exec 3>"$TMP/in"
i=0
until grep -q '^ready ' "$TMP/out" 2>/dev/null; do
    i=$((i + 1))
    [ $i -gt 250 ] && fail "memshim run --ctl: holder did not start: $(cat "$TMP/err")"
    sleep 0.02
done
rpid=$(sed -n 's/^ready //p' "$TMP/out")
extra_pids=$rpid
wait_path "$sockdir/$rpid.sock" || fail "memshim run --ctl: no socket"
"$MS" ctl "$rpid" get ctl.enable | grep -Eq '^ctl.enable +true$' || fail "run --ctl: ctl.enable"
echo quit >&3
wait "$rjob" || fail "memshim run exit status $?"
extra_pids=
wait_path "$sockdir/$rpid.sock" 1 || fail "run --ctl: socket left after exit"
echo "ok: ctl fork/exec/stale"
exit 0
