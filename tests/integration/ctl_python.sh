#!/bin/sh
# SPDX-License-Identifier: MIT
# `memshim ctl` on a real program nobody wrote for it: CPython under the shim with
# MEMSHIM_CTL=1 holds ~40 MiB of objects; from outside we enable profiling, make it
# allocate more, dump (the dump must parse: heapprof top, or jeprof), disable, read
# stats and frag, purge after it frees, and see it in `memshim ps`.
set -u
. "$(dirname "$0")/../lib.sh"
ctl_setup
need_sys_python

mkfifo "$TMP/in"
MEMSHIM_CTL=1 LD_PRELOAD="$SHIM" "$py" -u -c '
import os, sys
keep = [bytearray(4000) for _ in range(10000)]
print("ready", os.getpid())
for line in sys.stdin:
    if line.strip() == "more":
        keep += [str(i) * 20 for i in range(200000)]
    elif line.strip() == "drop":
        keep = []
    print("ok", len(keep))
' <"$TMP/in" >"$TMP/out" 2>"$TMP/err" &
hpid=$!
exec 3>"$TMP/in"
i=0
until grep -q '^ready ' "$TMP/out" 2>/dev/null; do
    i=$((i + 1))
    [ $i -gt 500 ] && fail "python did not start: $(cat "$TMP/err")"
    sleep 0.02
done
[ "$(sed -n 's/^ready //p' "$TMP/out")" = "$hpid" ] || fail "pid mismatch"
sock="$sockdir/$hpid.sock"
wait_path "$sock" || fail "python has no control socket: $(cat "$TMP/err")"

"$MS" ctl "$hpid" heap enable >/dev/null || fail "heap enable"
[ "$(say more)" = "ok 210000" ] || fail "python allocating"
"$MS" ctl "$hpid" heap dump "$TMP/py.heap" >/dev/null || fail "heap dump"
head -n 1 "$TMP/py.heap" | grep -q '^heap_v2/' || fail "dump header"
if [ -x "$HP" ]; then
    "$HP" top -q "$TMP/py.heap" -n 5 >"$TMP/top" 2>&1 || fail "heapprof top: $(cat "$TMP/top")"
else
    jeprof --text "$py" "$TMP/py.heap" >"$TMP/top" 2>&1 || fail "jeprof: $(cat "$TMP/top")"
fi
[ "$(wc -l <"$TMP/top")" -ge 3 ] || fail "empty profile: $(cat "$TMP/top")"
"$MS" ctl "$hpid" heap disable >/dev/null || fail "heap disable"

"$MS" ctl --json "$hpid" stats >"$TMP/stats.json" || fail "stats"
"$py" -c 'import json, sys; d = json.load(open(sys.argv[1])); assert d["allocated"] > 40 << 20, d' \
    "$TMP/stats.json" || fail "python holds less than 40 MiB: $(cat "$TMP/stats.json")"
"$MS" ctl "$hpid" frag >"$TMP/frag" || fail "frag"
[ "$(wc -l <"$TMP/frag")" -ge 5 ] || fail "frag table: $(cat "$TMP/frag")"
[ "$(say drop)" = "ok 0" ] || fail "python dropping"
"$MS" ctl "$hpid" purge >"$TMP/purge" || fail "purge"
released=$(awk '$1 == "released" { print $2 }' "$TMP/purge")
[ "${released:-0}" -gt 0 ] || fail "purge released nothing after python freed ~50 MiB: $(cat "$TMP/purge")"
"$MS" ps | grep -Eq "^ *$hpid .*python3" || fail "ps does not list python"

exec 3>&-
wait "$hpid" || fail "python exit status $?"
hpid=
wait_path "$sock" 1 || fail "socket left after python exited"
echo "ok: ctl on python3 (released $released bytes)"
exit 0
