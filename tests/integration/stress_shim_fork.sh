#!/bin/sh
# SPDX-License-Identifier: MIT
# Stress: fork from a multi-threaded process while its other threads allocate, 200 times
# per run from two forking threads (tests/helpers/stress_fork.c); each child allocates,
# starts a thread, sometimes forks again, and leaves through exit(). A child still alive
# after 10 s counts as a deadlock (the helper kills it and fails); timeout(1) guards the
# whole run. Under the shim alone, then with the heap profiler sampling and the control
# socket's thread running, whose locks the fork handlers must also take and release.
# The control socket goes to the test's own XDG_RUNTIME_DIR, so the host's gets no
# memshim directory.
. "$(dirname "$0")/../lib.sh"
need_preload
need_built "$SHIM"
need_helper stress_fork
bin="$HELPERS/stress_fork"
XDG_RUNTIME_DIR="$TMP/xdg"
export XDG_RUNTIME_DIR
mkdir -m 700 "$XDG_RUNTIME_DIR"

same_output fork timeout 120 "$bin" 100 6
grep -qx 'forks 200 ok 200 failed 0 hung 0' "$TMP/fork.shim" || fail "$(cat "$TMP/fork.shim")"
echo "ok: fork under the shim: $(cat "$TMP/fork.shim")"

MEMSHIM_PROF=1 MEMSHIM_PROF_SAMPLE=12 MEMSHIM_CTL=1 LD_PRELOAD="$SHIM" \
    timeout 120 "$bin" 60 4 >"$TMP/fork2.out" 2>"$TMP/fork2.err"
rc=$?
[ $rc -ne 124 ] || fail "with profiling and the control socket: timed out (deadlock?)"
[ $rc -eq 0 ] || fail "with profiling and the control socket: exit $rc: $(tail -n 5 "$TMP/fork2.err")"
grep -qx 'forks 120 ok 120 failed 0 hung 0' "$TMP/fork2.out" || fail "$(cat "$TMP/fork2.out")"
[ -d "$XDG_RUNTIME_DIR/memshim" ] ||
    fail "the control socket was not under the test's own XDG_RUNTIME_DIR"
echo "ok: fork with profiling and the control socket: $(cat "$TMP/fork2.out")"
