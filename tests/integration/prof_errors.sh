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
. "$(dirname "$0")/../lib.sh"
need_preload
bin="$HELPERS/prof_sites"
need_built "$SHIM" "$bin"

chmod 755 "$TMP"

# run VAR=VALUE... -- ARGS: prof_sites under the shim; stdout in $TMP/out, stderr in $TMP/err
run() {
    vars=""
    while [ "$1" != "--" ]; do vars="$vars $1"; shift; done
    shift
    # shellcheck disable=SC2086
    env LD_PRELOAD="$SHIM" $vars "$bin" "$@" >"$TMP/out" 2>"$TMP/err"
    rc=$?
}
expect_out() { grep -q -- "$1" "$TMP/out" || fail "$2: expected '$1' in: $(cat "$TMP/out")"; }

# Profiling unavailable.
run MALLOC_CONF=prof:false -- status dump
expect_out "available=false" "prof:false"
expect_out "dump: error -2: heap profiling is not available: jemalloc's opt.prof is false" \
    "prof:false"
echo "ok: unavailable -> -ENOENT"

# Not active.
run MEMSHIM_DUMP_DIR="$TMP" -- dump
expect_out "dump: error -11: profiling is not active" "inactive"
ls "$TMP"/*.heap >/dev/null 2>&1 && fail "inactive: a dump was written"
echo "ok: not active -> -EAGAIN"

# Missing directory.
run MEMSHIM_PROF=1 MEMSHIM_DUMP_DIR="$TMP/missing" -- dump
expect_out "dump: error -2: dump directory '$TMP/missing' does not exist" "missing dir"
echo "ok: missing dir -> -ENOENT"

# A file where the directory should be.
: >"$TMP/afile"
run MEMSHIM_PROF=1 MEMSHIM_DUMP_DIR="$TMP/afile" -- dump
expect_out "dump: error -20: dump directory '$TMP/afile' is not a directory" "file as dir"
echo "ok: file as dir -> -ENOTDIR"

# Unwritable directory, as an unprivileged user when we are root (root writes anywhere).
mkdir "$TMP/ro" && chmod 555 "$TMP/ro"
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
    $drop env LD_PRELOAD="$SHIM" MEMSHIM_PROF=1 MEMSHIM_DUMP_DIR="$TMP/ro" "$bin" dump \
        >"$TMP/out" 2>"$TMP/err"
    expect_out "dump: error -13: dump directory '$TMP/ro' is not writable" "unwritable dir"
    echo "ok: unwritable dir -> -EACCES"
else
    echo "note: root without setpriv: unwritable-dir case not run"
fi

# A dump at exit that cannot be written: one warning, the program's own exit status.
run MEMSHIM_PROF=1 MEMSHIM_DUMP_AT_EXIT=1 MEMSHIM_DUMP_DIR="$TMP/missing" -- exit
[ "$rc" -eq 0 ] || fail "exit dump failure changed the exit status to $rc"
[ "$(wc -l <"$TMP/err")" -eq 1 ] || fail "exit dump failure: expected one line: $(cat "$TMP/err")"
grep -q "heap dump at exit failed: dump directory '$TMP/missing' does not exist" "$TMP/err" ||
    fail "exit dump failure message: $(cat "$TMP/err")"
echo "ok: failed dump at exit -> one warning"

# Dump at exit through exit(3) as well as a return from main.
mkdir "$TMP/atexit"
run MEMSHIM_PROF=1 MEMSHIM_DUMP_AT_EXIT=1 MEMSHIM_DUMP_DIR="$TMP/atexit" -- exit
[ "$rc" -eq 0 ] && [ ! -s "$TMP/err" ] || fail "dump at exit(): rc=$rc $(cat "$TMP/err")"
set -- "$TMP/atexit"/memshim.*.0.heap
[ -f "$1" ] || fail "dump at exit(): no dump"
echo "ok: dump at exit() -> $(basename "$1")"

# Bad values: one warning each, defaults kept.
run MEMSHIM_PROF_SAMPLE=abc MEMSHIM_PROF_UNWINDER=frame-pointer MEMSHIM_DUMP_AT_EXIT=maybe -- status
expect_out "lg_sample=19 unwinder=libunwind" "bad values"
expect_out "dump_at_exit=false" "bad values"
[ "$(wc -l <"$TMP/err")" -eq 3 ] || fail "bad values: expected 3 warnings: $(cat "$TMP/err")"
for v in MEMSHIM_PROF_SAMPLE MEMSHIM_PROF_UNWINDER MEMSHIM_DUMP_AT_EXIT; do
    [ "$(grep -c "$v=" "$TMP/err")" -eq 1 ] || fail "bad values: $v: $(cat "$TMP/err")"
done
echo "ok: bad values -> one warning each, defaults"

# The C API is exported by libmemshim.so (memshim_prof_*), for programs linked with -lmemshim.
mkdir "$TMP/api"
run MEMSHIM_PROF=1 -- api "$TMP/api"
pid_re="$TMP/api/memshim\.[0-9]*\.0\.heap (dumps=1)"
grep -q "^api dump: $pid_re$" "$TMP/out" || fail "C API: $(cat "$TMP/out" "$TMP/err")"
echo "ok: memshim_prof_dump_in_dir through libmemshim.so"

# Fork: the child numbers its own dumps from 0 under its own pid; the parent continues.
mkdir "$TMP/fork"
run MEMSHIM_PROF=1 MEMSHIM_DUMP_DIR="$TMP/fork" -- dump fork
[ "$rc" -eq 0 ] || fail "fork: rc=$rc $(cat "$TMP/out" "$TMP/err")"
child=$(sed -n 's/^child pid: //p' "$TMP/out")
parent_first=$(sed -n 's/^dump: //p' "$TMP/out")
case "$parent_first" in "$TMP/fork/memshim."*".0.heap") ;; *) fail "fork: parent dump $parent_first" ;; esac
parent=$(basename "$parent_first" | cut -d. -f2)
expect_out "child dump: $TMP/fork/memshim.$child.0.heap" "fork child"
expect_out "dump after fork: $TMP/fork/memshim.$parent.1.heap" "fork parent"
[ "$child" != "$parent" ] || fail "fork: same pid"
echo "ok: fork -> child memshim.$child.0.heap, parent memshim.$parent.1.heap"
exit 0
