#!/bin/sh
# SPDX-License-Identifier: MIT
# Stress: 256 threads allocate under libmemshim and hand every block to another thread,
# which checks its contents, resizes some and frees them (tests/helpers/stress_threads.c).
# The output (counts and an order-independent checksum) must match a run without the
# shim, no block may be corrupt, and the bytes the shim counts as held must return to
# where they started once everything is freed. Repeated with heap profiling sampling at a
# high rate, so the unwinder and the profile tables run in all 256 threads at once.
. "$(dirname "$0")/../lib.sh"
need_preload
need_built "$SHIM"
need_helper stress_threads
bin="$HELPERS/stress_threads"

same_output threads timeout 60 "$bin" 256 2000
grep -q ' corrupt 0$' "$TMP/threads.shim" || fail "corrupt blocks: $(cat "$TMP/threads.shim")"
held=$(sed -n 's/^memshim allocated: before \([0-9]*\) after \([0-9]*\)$/\1 \2/p' \
    "$TMP/threads.shim.err")
[ -n "$held" ] || fail "the shim was not active (no memshim_stats_get): $(cat "$TMP/threads.shim.err")"
set -- $held
# Thread stacks and their TLS blocks stay cached by glibc after join: allow 1 MiB.
[ $(($2 - $1)) -lt 1048576 ] || fail "the shim holds $(($2 - $1)) more bytes after freeing everything"
echo "ok: threads: $(cat "$TMP/threads.shim"); held before/after $1/$2 bytes"

MEMSHIM_PROF=1 MEMSHIM_PROF_SAMPLE=14 LD_PRELOAD="$SHIM" timeout 60 "$bin" 256 1000 \
    >"$TMP/prof.out" 2>"$TMP/prof.err"
rc=$?
[ $rc -eq 0 ] || fail "with profiling: exit $rc: $(tail -n 3 "$TMP/prof.err")"
"$bin" 256 1000 >"$TMP/prof.ref" 2>/dev/null || fail "reference run failed"
cmp -s "$TMP/prof.ref" "$TMP/prof.out" || fail "with profiling: output differs"
echo "ok: threads with prof.lg_sample 14: $(cat "$TMP/prof.out")"
