#!/bin/sh
# SPDX-License-Identifier: MIT
# Heap-profile errors are reported, never swallowed (the "prof.dump" control in a process
# under LD_PRELOAD=libmemshim.so, through tests/helpers/prof_sites):
#   profiling unavailable (MALLOC_CONF=prof:false) -> -ENOENT and the reason;
#   not active -> -EAGAIN; missing dump dir -> -ENOENT; unwritable dir -> -EACCES;
#   a failed dump at exit -> one warning on stderr, the exit status is the program's;
#   bad MEMSHIM_PROF_* values -> one warning each, the default kept;
#   a forked child names its dumps with its own pid and restarts the sequence.
set -u
BUILD=${BUILD:-build}
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 2
[ -n "${MEMSHIM_SAN:-}" ] && { echo "preload test: skipped under a sanitizer"; exit 77; }
lib="$top/$BUILD/libmemshim.so"
bin="$top/$BUILD/tests/helpers/prof_sites"
for f in "$lib" "$bin"; do [ -e "$f" ] || { echo "missing $f"; exit 2; }; done

tmp=$(mktemp -d)
chmod 755 "$tmp"
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

# run VAR=VALUE... -- ARGS: prof_sites under the shim; stdout in $tmp/out, stderr in $tmp/err
run() {
    vars=""
    while [ "$1" != "--" ]; do vars="$vars $1"; shift; done
    shift
    # shellcheck disable=SC2086
    env LD_PRELOAD="$lib" $vars "$bin" "$@" >"$tmp/out" 2>"$tmp/err"
    rc=$?
}
expect_out() { grep -q -- "$1" "$tmp/out" || fail "$2: expected '$1' in: $(cat "$tmp/out")"; }

# Profiling unavailable.
run MALLOC_CONF=prof:false -- status dump
expect_out "available=false" "prof:false"
expect_out "dump: error -2: heap profiling is not available: jemalloc's opt.prof is false" \
    "prof:false"
echo "ok: unavailable -> -ENOENT"

# Not active.
run MEMSHIM_DUMP_DIR="$tmp" -- dump
expect_out "dump: error -11: profiling is not active" "inactive"
ls "$tmp"/*.heap >/dev/null 2>&1 && fail "inactive: a dump was written"
echo "ok: not active -> -EAGAIN"

# Missing directory.
run MEMSHIM_PROF=1 MEMSHIM_DUMP_DIR="$tmp/missing" -- dump
expect_out "dump: error -2: dump directory '$tmp/missing' does not exist" "missing dir"
echo "ok: missing dir -> -ENOENT"

# A file where the directory should be.
: >"$tmp/afile"
run MEMSHIM_PROF=1 MEMSHIM_DUMP_DIR="$tmp/afile" -- dump
expect_out "dump: error -20: dump directory '$tmp/afile' is not a directory" "file as dir"
echo "ok: file as dir -> -ENOTDIR"

# Unwritable directory, as an unprivileged user when we are root (root writes anywhere).
mkdir "$tmp/ro" && chmod 555 "$tmp/ro"
if [ "$(id -u)" -eq 0 ]; then
    if command -v setpriv >/dev/null 2>&1; then
        drop="setpriv --reuid=65534 --regid=65534 --clear-groups"
    else
        drop=""
    fi
else
    drop="env"
fi
if [ -n "$drop" ]; then
    $drop env LD_PRELOAD="$lib" MEMSHIM_PROF=1 MEMSHIM_DUMP_DIR="$tmp/ro" "$bin" dump \
        >"$tmp/out" 2>"$tmp/err"
    expect_out "dump: error -13: dump directory '$tmp/ro' is not writable" "unwritable dir"
    echo "ok: unwritable dir -> -EACCES"
else
    echo "note: root without setpriv: unwritable-dir case not run"
fi

# A dump at exit that cannot be written: one warning, the program's own exit status.
run MEMSHIM_PROF=1 MEMSHIM_DUMP_AT_EXIT=1 MEMSHIM_DUMP_DIR="$tmp/missing" -- exit
[ "$rc" -eq 0 ] || fail "exit dump failure changed the exit status to $rc"
[ "$(wc -l <"$tmp/err")" -eq 1 ] || fail "exit dump failure: expected one line: $(cat "$tmp/err")"
grep -q "heap dump at exit failed: dump directory '$tmp/missing' does not exist" "$tmp/err" ||
    fail "exit dump failure message: $(cat "$tmp/err")"
echo "ok: failed dump at exit -> one warning"

# Dump at exit through exit(3) as well as a return from main.
mkdir "$tmp/atexit"
run MEMSHIM_PROF=1 MEMSHIM_DUMP_AT_EXIT=1 MEMSHIM_DUMP_DIR="$tmp/atexit" -- exit
[ "$rc" -eq 0 ] && [ ! -s "$tmp/err" ] || fail "dump at exit(): rc=$rc $(cat "$tmp/err")"
set -- "$tmp/atexit"/memshim.*.0.heap
[ -f "$1" ] || fail "dump at exit(): no dump"
echo "ok: dump at exit() -> $(basename "$1")"

# Bad values: one warning each, defaults kept.
run MEMSHIM_PROF_SAMPLE=abc MEMSHIM_PROF_UNWINDER=frame-pointer MEMSHIM_DUMP_AT_EXIT=maybe -- status
expect_out "lg_sample=19 unwinder=libunwind" "bad values"
expect_out "dump_at_exit=false" "bad values"
[ "$(wc -l <"$tmp/err")" -eq 3 ] || fail "bad values: expected 3 warnings: $(cat "$tmp/err")"
for v in MEMSHIM_PROF_SAMPLE MEMSHIM_PROF_UNWINDER MEMSHIM_DUMP_AT_EXIT; do
    [ "$(grep -c "$v=" "$tmp/err")" -eq 1 ] || fail "bad values: $v: $(cat "$tmp/err")"
done
echo "ok: bad values -> one warning each, defaults"

# The C API is exported by libmemshim.so (memshim_prof_*), for programs linked with -lmemshim.
mkdir "$tmp/api"
run MEMSHIM_PROF=1 -- api "$tmp/api"
pid_re="$tmp/api/memshim\.[0-9]*\.0\.heap (dumps=1)"
grep -q "^api dump: $pid_re$" "$tmp/out" || fail "C API: $(cat "$tmp/out" "$tmp/err")"
echo "ok: memshim_prof_dump_in_dir through libmemshim.so"

# Fork: the child numbers its own dumps from 0 under its own pid; the parent continues.
mkdir "$tmp/fork"
run MEMSHIM_PROF=1 MEMSHIM_DUMP_DIR="$tmp/fork" -- dump fork
[ "$rc" -eq 0 ] || fail "fork: rc=$rc $(cat "$tmp/out" "$tmp/err")"
child=$(sed -n 's/^child pid: //p' "$tmp/out")
parent_first=$(sed -n 's/^dump: //p' "$tmp/out")
case "$parent_first" in "$tmp/fork/memshim."*".0.heap") ;; *) fail "fork: parent dump $parent_first" ;; esac
parent=$(basename "$parent_first" | cut -d. -f2)
expect_out "child dump: $tmp/fork/memshim.$child.0.heap" "fork child"
expect_out "dump after fork: $tmp/fork/memshim.$parent.1.heap" "fork parent"
[ "$child" != "$parent" ] || fail "fork: same pid"
echo "ok: fork -> child memshim.$child.0.heap, parent memshim.$parent.1.heap"
exit 0
