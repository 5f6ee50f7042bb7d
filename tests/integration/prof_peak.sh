#!/bin/sh
# SPDX-License-Identifier: MIT
# Peak profiles (prof.peak, `memshim run --peak`):
#  - prof_spike allocates a 64 MiB spike in spike_alloc, waits until the shim has written
#    the peak profile, frees it; the peak profile's `heapprof top` names spike_alloc with
#    64 MiB, the dump at exit does not name it; steady_alloc is in both;
#  - 20 growing spikes, each a new peak profile: still one peak file, no temporary left;
#  - `memshim run --peak --report` prints the top sites at the peak before those at exit;
#  - `memshim ctl PID set prof.peak 1` turns it on in a running program.
# No luck involved: lg_sample 10 (a sample per KiB on average) samples a 16 KiB block
# with probability 1 - e^-16 > 0.9999998, so the 64 MiB (4096 blocks) is estimated within
# 0.03% per block missed; the 5% window fails only if 200 of the 4096 blocks are missed
# (probability below 1e-1000). The waits are on the shim's state (prof.peak_dumps), not
# on time.
set -u
. "$(dirname "$0")/../lib.sh"
need_preload
spike="$HELPERS/prof_spike"
need_built "$MS" "$SHIM" "$HP" "$spike"

mib=1048576
spike_bytes=$((64 * mib + 4096 * 8)) # the blocks and spike_alloc's array of them

# --- a spike: named at the peak, gone at exit ---
d="$TMP/spike"
mkdir "$d"
"$MS" run --peak --sample 10 --dump-at-exit --dump-dir "$d" -- "$spike" spike \
    >"$TMP/out" 2>"$TMP/err" || fail "spike: memshim run exited $?: $(cat "$TMP/err")"
pid=$(sed -n 's/.*peak_path=.*memshim\.\([0-9]*\)\.peak\.heap$/\1/p' "$TMP/out")
[ -n "$pid" ] || fail "spike: no peak path: $(cat "$TMP/out" "$TMP/err")"
peak="$d/memshim.$pid.peak.heap"
exitd="$d/memshim.$pid.0.heap"
[ -f "$peak" ] && [ ! -L "$peak" ] || fail "spike: no peak profile $peak: $(ls "$d")"
[ -f "$exitd" ] || fail "spike: no dump at exit: $(ls "$d")"
[ "$(ls -A "$d" | wc -l)" -eq 2 ] || fail "spike: unexpected files: $(ls -A "$d")"
"$HP" top "$peak" -n 0 >"$TMP/peak.txt" || fail "heapprof top on the peak profile failed"
"$HP" top "$exitd" -n 0 >"$TMP/exit.txt" || fail "heapprof top on the exit dump failed"
got=$(flat_of "$TMP/peak.txt" spike_alloc)
within "$got" "$spike_bytes" 5 ||
    fail "spike: peak profile has spike_alloc=${got:-none}, want $spike_bytes ±5%:
$(head -n 6 "$TMP/peak.txt")"
[ -z "$(flat_of "$TMP/exit.txt" spike_alloc)" ] ||
    fail "spike: the exit dump names spike_alloc: $(head -n 6 "$TMP/exit.txt")"
for f in "$TMP/peak.txt" "$TMP/exit.txt"; do
    within "$(flat_of "$f" steady_alloc)" $((256 * 4096)) 5 ||
        fail "spike: steady_alloc not ~1 MiB in $f: $(head -n 6 "$f")"
done
echo "ok: peak profile spike_alloc=$got B (want $spike_bytes), exit dump without it"

# --- many peaks, one file ---
d="$TMP/grow"
mkdir "$d"
"$MS" run --peak --sample 14 --dump-dir "$d" -- "$spike" grow 20 >"$TMP/out" 2>"$TMP/err" ||
    fail "grow: memshim run exited $?: $(cat "$TMP/err")"
dumps=$(sed -n 's/^peak_dumps=\([0-9]*\) .*/\1/p' "$TMP/out")
[ -n "$dumps" ] && [ "$dumps" -ge 20 ] || fail "grow: want >= 20 peak dumps: $(cat "$TMP/out")"
[ "$(ls -A "$d" | wc -l)" -eq 1 ] || fail "grow: want one file, got: $(ls -A "$d")"
set -- "$d"/memshim.*.peak.heap
[ -f "$1" ] || fail "grow: no peak profile: $(ls -A "$d")"
"$HP" top "$1" -n 0 >"$TMP/grow.txt" || fail "grow: heapprof top failed"
[ -n "$(flat_of "$TMP/grow.txt" spike_alloc)" ] || fail "grow: peak without spike_alloc"
echo "ok: $dumps peak profiles written, one file kept"

# --- --report with --peak; a private TMPDIR shows leftovers ---
    mkdir "$TMP/t"
    TMPDIR="$TMP/t" "$MS" run --peak --sample 10 --report -- "$spike" spike \
        >"$TMP/out" 2>"$TMP/err" || fail "--report: memshim run exited $?: $(cat "$TMP/err")"
    [ -z "$(ls -A "$TMP/t")" ] || fail "--report left files behind: $(ls -R "$TMP/t")"
    awk '/heap at the peak of .* top sites:$/ { p = NR } /heap still live when .* top sites:$/ { e = NR }
         p && !e && $NF == "spike_alloc" { s = 1 } e && $NF == "spike_alloc" { bad = 1 }
         END { exit !(p && e && p < e && s && !bad) }' "$TMP/err" ||
        fail "--report --peak: want the peak's sites (spike_alloc) before the exit's:
$(cat "$TMP/err")"
    echo "ok: --report --peak lists spike_alloc at the peak only"

# --- prof.peak through the control socket ---
ctl_xdg
need_built "$CTL_HOLDER"
mkdir "$TMP/ctl"
holder_start MEMSHIM_PROF=1 MEMSHIM_DUMP_DIR="$TMP/ctl"
# On after the allocation: a profile of part of it, within the shim's step, would stand.
say "alloc 1024 16384" >/dev/null
"$MS" ctl "$hpid" set prof.peak 1 | grep -Eq '^prof.peak +true$' || fail "ctl: set prof.peak 1"
peak_at_least() {
    v=$("$MS" ctl "$hpid" get prof.peak_bytes | awk '{ print $2 }')
    [ "${v:-0}" -ge $((16 * mib)) ]
}
wait_for 600 0.05 peak_at_least || fail "ctl: no peak profile of 16 MiB: $(cat "$TMP/err")"
p=$("$MS" ctl "$hpid" get prof.peak_path | awk '{ print $2 }')
[ "$p" = "$TMP/ctl/memshim.$hpid.peak.heap" ] && [ -f "$p" ] || fail "ctl: peak path '$p'"
"$HP" top "$p" -n 0 >"$TMP/ctl.txt" || fail "ctl: heapprof top failed"
[ -n "$(flat_of "$TMP/ctl.txt" holder_alloc_site)" ] ||
    fail "ctl: peak profile without holder_alloc_site: $(head -n 6 "$TMP/ctl.txt")"
t=$("$MS" ctl "$hpid" get prof.peak_time | awk '{ print $2 }')
[ "$t" -gt 1600000000 ] || fail "ctl: prof.peak_time '$t'"
echo "ok: memshim ctl set prof.peak 1"
exit 0
