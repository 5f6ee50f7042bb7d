#!/bin/sh
# SPDX-License-Identifier: MIT
# `memshim ctl` on a real program nobody wrote for it: CPython under the shim with
# MEMSHIM_CTL=1 holds ~40 MiB of objects; from outside we enable profiling, make it
# allocate more, dump (the dump must parse: heapprof top, or jeprof), disable, read
# stats and frag, purge after it frees, and see it in `memshim ps`.
set -u
. "$(dirname "$0")/../helpers/ctl_lib.sh"
ctl_setup
py=/usr/bin/python3
[ -x "$py" ] || { echo "no /usr/bin/python3"; exit 77; }

mkfifo "$tmp/in"
MEMSHIM_CTL=1 LD_PRELOAD="$lib" "$py" -u -c '
import os, sys
keep = [bytearray(4000) for _ in range(10000)]
print("ready", os.getpid())
for line in sys.stdin:
    if line.strip() == "more":
        keep += [str(i) * 20 for i in range(200000)]
    elif line.strip() == "drop":
        keep = []
    print("ok", len(keep))
' <"$tmp/in" >"$tmp/out" 2>"$tmp/err" &
hpid=$!
exec 3>"$tmp/in"
i=0
until grep -q '^ready ' "$tmp/out" 2>/dev/null; do
    i=$((i + 1))
    [ $i -gt 500 ] && fail "python did not start: $(cat "$tmp/err")"
    sleep 0.02
done
[ "$(sed -n 's/^ready //p' "$tmp/out")" = "$hpid" ] || fail "pid mismatch"
sock="$sockdir/$hpid.sock"
wait_path "$sock" || fail "python has no control socket: $(cat "$tmp/err")"

"$M" ctl "$hpid" heap enable >/dev/null || fail "heap enable"
[ "$(say more)" = "ok 210000" ] || fail "python allocating"
"$M" ctl "$hpid" heap dump "$tmp/py.heap" >/dev/null || fail "heap dump"
head -n 1 "$tmp/py.heap" | grep -q '^heap_v2/' || fail "dump header"
if [ -x "$BUILD/heapprof" ]; then
    "$BUILD/heapprof" top -q "$tmp/py.heap" -n 5 >"$tmp/top" 2>&1 || fail "heapprof top: $(cat "$tmp/top")"
else
    jeprof --text "$py" "$tmp/py.heap" >"$tmp/top" 2>&1 || fail "jeprof: $(cat "$tmp/top")"
fi
[ "$(wc -l <"$tmp/top")" -ge 3 ] || fail "empty profile: $(cat "$tmp/top")"
"$M" ctl "$hpid" heap disable >/dev/null || fail "heap disable"

"$M" ctl --json "$hpid" stats >"$tmp/stats.json" || fail "stats"
"$py" -c 'import json, sys; d = json.load(open(sys.argv[1])); assert d["allocated"] > 40 << 20, d' \
    "$tmp/stats.json" || fail "python holds less than 40 MiB: $(cat "$tmp/stats.json")"
"$M" ctl "$hpid" frag >"$tmp/frag" || fail "frag"
[ "$(wc -l <"$tmp/frag")" -ge 5 ] || fail "frag table: $(cat "$tmp/frag")"
[ "$(say drop)" = "ok 0" ] || fail "python dropping"
"$M" ctl "$hpid" purge >"$tmp/purge" || fail "purge"
released=$(awk '$1 == "released" { print $2 }' "$tmp/purge")
[ "${released:-0}" -gt 0 ] || fail "purge released nothing after python freed ~50 MiB: $(cat "$tmp/purge")"
"$M" ps | grep -Eq "^ *$hpid .*python3" || fail "ps does not list python"

exec 3>&-
wait "$hpid" || fail "python exit status $?"
hpid=
wait_path "$sock" 1 || fail "socket left after python exited"
echo "ok: ctl on python3 (released $released bytes)"
exit 0
