#!/bin/sh
# SPDX-License-Identifier: MIT
# The heap-profile controls under load (tests/helpers/prof_stress): worker threads allocate
# and throw C++ exceptions through deep stacks while sampling is dense, and the main thread
# dumps, resets with new rates, switches walkers and forks children that dump. Passes when
# it finishes in time (no deadlock), every dump and child succeeded, exceptions were caught
# (libgcc_s, not libunwind's _Unwind_* copies, unwinds them), and every dump is readable.
set -u
BUILD=${BUILD:-build}
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 2
[ -n "${MEMSHIM_SAN:-}" ] && { echo "preload test: skipped under a sanitizer"; exit 77; }
lib="$top/$BUILD/libmemshim.so"
bin="$top/$BUILD/tests/helpers/prof_stress"
for f in "$lib" "$bin"; do [ -e "$f" ] || { echo "missing $f"; exit 2; }; done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

timeout 60 env LD_PRELOAD="$lib" "$bin" "$tmp" 4 3 >"$tmp/out" 2>"$tmp/err"
rc=$?
[ $rc -eq 124 ] && fail "prof_stress did not finish within 60 s (deadlock?)"
[ $rc -eq 0 ] || fail "prof_stress exited $rc: $(cat "$tmp/out" "$tmp/err")"
[ -s "$tmp/err" ] && fail "unexpected stderr: $(cat "$tmp/err")"
cat "$tmp/out"

n=0
for f in "$tmp"/memshim.*.heap; do
    head -n 1 "$f" | grep -q '^heap_v2/[0-9]*$' || fail "$f: bad header"
    grep -q '^MAPPED_LIBRARIES:$' "$f" || fail "$f: truncated"
    n=$((n + 1))
done
[ $n -gt 10 ] || fail "only $n dumps"
echo "ok: $n dumps, all complete"

# The process-wide binding that makes exceptions safe: _Unwind_RaiseException from libgcc_s.
mkdir "$tmp/b"
LD_DEBUG=bindings LD_PRELOAD="$lib" "$bin" "$tmp/b" 1 1 2>"$tmp/bind" >/dev/null ||
    fail "prof_stress (bindings run) failed"
grep '_Unwind_RaiseException' "$tmp/bind" | grep -q 'to /[^ ]*libgcc_s' ||
    fail "_Unwind_RaiseException not bound to libgcc_s: $(grep _Unwind_RaiseException "$tmp/bind")"
echo "ok: C++ exceptions unwind through libgcc_s"
exit 0
