#!/bin/sh
# SPDX-License-Identifier: MIT
# `memshim ctl` end to end on a real long-running program: ctl_holder runs under
# LD_PRELOAD=libmemshim.so with MEMSHIM_CTL=1; from outside we enable heap profiling, make
# it allocate, dump, check the dump (heapprof top when built, else jeprof), disable, read
# stats (text and JSON), frag and config, purge, and find it in `memshim ps`. The control
# thread must leave the host alone (no signal handlers, no blocked signals in the main
# thread; its own thread blocks them all), must not be hit by failure injection, and the
# socket must be gone when the program exits.
set -u
. "$(dirname "$0")/../lib.sh"
ctl_setup

holder_start MEMSHIM_PROF_SAMPLE=12
[ "$(stat -c %a "$sockdir")" = 700 ] || fail "socket dir mode $(stat -c %a "$sockdir")"
[ "$(stat -c %a "$sock")" = 600 ] || fail "socket mode $(stat -c %a "$sock")"

# --- The host is not perturbed ---
# The same program without the shim, started the same way (a background job of sh gets
# SIGINT ignored), is the reference.
printf 'signals\nquit\n' | "$CTL_HOLDER" >"$TMP/plain" &
wait $!
want=$(sed -n 's/^signals /signals /p' "$TMP/plain")
[ "$(say signals)" = "$want" ] || fail "host signals: $(say signals), without the shim: $want"
case "$want" in *" blocked 0") ;; *) fail "reference run has blocked signals: $want" ;; esac
ctl_tid=
for t in /proc/"$hpid"/task/*; do
    [ "$(cat "$t/comm")" = memshim-ctl ] && ctl_tid=${t##*/}
done
[ -n "$ctl_tid" ] || fail "no memshim-ctl thread in $hpid"
[ "$(ls /proc/"$hpid"/task | wc -l)" -eq 2 ] || fail "expected 2 threads: $(ls /proc/"$hpid"/task)"
grep -q '^SigBlk:.*fffffff' "/proc/$hpid/task/$ctl_tid/status" ||
    fail "control thread does not block signals: $(grep SigBlk "/proc/$hpid/task/$ctl_tid/status")"

# --- Heap profile: enable, allocate, dump, check, disable ---
"$MS" ctl "$hpid" heap enable >"$TMP/en" || fail "heap enable: $(cat "$TMP/en")"
grep -Eq '^active +true$' "$TMP/en" || fail "heap enable reply: $(cat "$TMP/en")"
[ "$(say 'alloc 2048 4096')" = "ok 2048" ] || fail "holder alloc"
"$MS" ctl "$hpid" heap dump "$TMP/h1.heap" >"$TMP/dump" || fail "heap dump: $(cat "$TMP/dump")"
grep -Eq "^path +$TMP/h1.heap\$" "$TMP/dump" || fail "dump reply: $(cat "$TMP/dump")"
head -n 1 "$TMP/h1.heap" | grep -qx 'heap_v2/4096' || fail "dump header: $(head -n 1 "$TMP/h1.heap")"
if [ -x "$HP" ]; then
    "$HP" top "$TMP/h1.heap" -n 5 >"$TMP/top" 2>"$TMP/top.err" ||
        fail "heapprof top: $(cat "$TMP/top.err")"
    checker="heapprof top"
else
    command -v jeprof >/dev/null || skip "neither heapprof nor jeprof to check the dump"
    jeprof --text "$CTL_HOLDER" "$TMP/h1.heap" >"$TMP/top" 2>"$TMP/top.err" ||
        fail "jeprof: $(cat "$TMP/top.err")"
    checker="jeprof --text"
fi
grep -q holder_alloc_site "$TMP/top" || fail "$checker does not show holder_alloc_site:
$(cat "$TMP/top")"
"$MS" ctl "$hpid" heap disable | grep -Eq '^active +false$' || fail "heap disable"
"$MS" ctl "$hpid" heap status >"$TMP/st" || fail "heap status"
grep -Eq '^dumps +1$' "$TMP/st" || fail "heap status: $(cat "$TMP/st")"
"$MS" ctl "$hpid" heap dump "$TMP/h2.heap" 2>"$TMP/err2"
[ $? -eq 1 ] || fail "dump while disabled must answer ERR (exit 1)"
grep -q 'profiling is not active' "$TMP/err2" || fail "dump while disabled: $(cat "$TMP/err2")"
# The error names the user's command (this very PID), not the library's API.
grep -q "memshim ctl $hpid heap enable" "$TMP/err2" || fail "dump while disabled: $(cat "$TMP/err2")"
grep -q 'memshim_prof_enable\|prof\.active' "$TMP/err2" && fail "internal names: $(cat "$TMP/err2")"

# --- stats, frag, purge, config ---
"$MS" ctl "$hpid" stats >"$TMP/stats" || fail "stats"
alloc=$(awk '$1 == "allocated" { print $2 }' "$TMP/stats")
[ "${alloc:-0}" -ge $((2048 * 4096)) ] || fail "allocated $alloc < 8 MiB: $(cat "$TMP/stats")"
"$MS" ctl --json "$hpid" stats >"$TMP/stats.json" || fail "stats --json"
/usr/bin/python3 - "$TMP/stats.json" "$hpid" <<'EOF' || fail "stats JSON: $(cat "$TMP/stats.json")"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["pid"] == int(sys.argv[2]), d
assert d["allocated"] >= 2048 * 4096 and d["resident"] > 0 and d["prof_active"] is False, d
EOF
[ "$(say 'alloc 20000 48')" = "ok 22048" ] || fail "holder alloc small"
[ "$(say free_half)" = "ok 11024" ] || fail "holder free_half"
"$MS" ctl "$hpid" frag >"$TMP/frag" || fail "frag"
head -n 1 "$TMP/frag" | grep -Eq '^bin +size +regions +used +free +slabs +nonfull +util +wasted$' ||
    fail "frag header: $(head -n 1 "$TMP/frag")"
"$MS" ctl --json "$hpid" frag >"$TMP/frag.json" || fail "frag --json"
/usr/bin/python3 - "$TMP/frag.json" <<'EOF' || fail "frag JSON: $(cat "$TMP/frag.json")"
import json, sys
rows = json.load(open(sys.argv[1]))
assert rows, "no rows"
for r in rows:
    assert r["regions"] == r["used"] + r["free"], r
    assert r["wasted"] == r["free"] * r["size"], r
    assert 0 <= r["util"] <= 1 and r["nonfull"] <= r["slabs"], r
b48 = [r for r in rows if r["size"] == 48]
# 20000 blocks of 48 B, every other one freed: about half of that class is free.
assert b48 and b48[0]["free"] >= 9000 and b48[0]["util"] < 0.75, b48
EOF
"$MS" ctl "$hpid" purge >"$TMP/purge" || fail "purge"
grep -Eq '^released +[0-9]+$' "$TMP/purge" || fail "purge reply: $(cat "$TMP/purge")"
"$MS" ctl "$hpid" config >"$TMP/config" || fail "config"
grep -Eq "^ctl.socket +string +ro +$sock\$" "$TMP/config" || fail "config: $(grep ctl "$TMP/config")"
grep -Eq '^prof.lg_sample +u64 +rw +12$' "$TMP/config" || fail "config shows MEMSHIM_PROF_SAMPLE"
"$MS" ctl "$hpid" get stats.allocated | grep -Eq '^stats.allocated +[0-9]+$' || fail "get"
"$MS" ctl "$hpid" set log.level 0 | grep -Eq '^log.level +0$' || fail "set"

# --- Failure injection never touches the control thread ---
"$MS" ctl "$hpid" set inject.fail_rate 1 >/dev/null || fail "arm injection"
"$MS" ctl "$hpid" config >/dev/null || fail "config with every allocation failing"
"$MS" ctl "$hpid" frag >/dev/null || fail "frag with every allocation failing"
"$MS" ctl "$hpid" set inject.fail_rate 0 >/dev/null || fail "disarm injection"
"$MS" ctl "$hpid" get inject.failures | grep -Eq '^inject.failures +0$' ||
    fail "the control thread's allocations were counted"
[ "$(say 'alloc 1 100')" = "ok 11025" ] || fail "host allocation after injection"

# --- memshim ps lists it ---
"$MS" ps >"$TMP/ps" || fail "memshim ps"
grep -Eq "^ *$hpid +[0-9.]+[BKMG] +[0-9.]+[BKMG] +off +$CTL_HOLDER\$" "$TMP/ps" || fail "ps: $(cat "$TMP/ps")"
"$MS" ps --json >"$TMP/ps.json" || fail "memshim ps --json"
/usr/bin/python3 - "$TMP/ps.json" "$hpid" "$CTL_HOLDER" <<'EOF' || fail "ps JSON: $(cat "$TMP/ps.json")"
import json, sys
rows = json.load(open(sys.argv[1]))
mine = [r for r in rows if r["pid"] == int(sys.argv[2])]
assert len(mine) == 1 and mine[0]["cmdline"] == sys.argv[3], rows
assert mine[0]["allocated"] >= 2048 * 4096 and mine[0]["prof_active"] is False, mine
EOF

# --- Errors are reported, not hidden ---
"$MS" ctl "$hpid" frobnicate 2>"$TMP/e"
[ $? -eq 1 ] && grep -q "unknown command 'frobnicate'" "$TMP/e" || fail "unknown command: $(cat "$TMP/e")"
"$MS" ctl 2147483647 stats 2>"$TMP/e"
[ $? -eq 3 ] || fail "a pid without socket must exit 3: $(cat "$TMP/e")"

# --- At exit the socket goes away ---
echo quit >&3
wait "$hpid" || fail "holder exit status $?"
hpid=
wait_path "$sock" 1 || fail "socket $sock left after exit"
"$MS" ps | grep -q "$CTL_HOLDER" && fail "ps still lists the exited holder"
echo "ok: ctl basic ($checker)"
exit 0
