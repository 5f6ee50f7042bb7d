#!/bin/sh
# SPDX-License-Identifier: MIT
# The memshim command line's conventions: a usage error is one line plus
# "Try 'memshim[ CMD] --help' ...", exit 2, and runs nothing; every subcommand's --help
# (and `memshim help CMD`) prints its usage on stdout, exit 0; --version works on every
# tool and subcommand; out-of-range values (--sample 99, like --fail-rate 2) are refused
# before CMD runs; --dump-at-exit alone implies --prof and writes the dump; a missing
# dump directory is reported before CMD runs.
. "$(dirname "$0")/../lib.sh"
need_preload
need_built "$SHIM" "$MS" "$KV_BIN"
need_helper prof_sites

# usage_error WHAT HINT CMD...: exit 2, exactly two lines on stderr, the second the hint.
usage_error() {
    what=$1 hint=$2
    shift 2
    "$@" >"$TMP/out" 2>"$TMP/err"
    rc=$?
    [ $rc -eq 2 ] || fail "$what: exit $rc, expected 2"
    [ ! -s "$TMP/out" ] || fail "$what: wrote to stdout: $(cat "$TMP/out")"
    [ "$(wc -l <"$TMP/err")" -eq 2 ] || fail "$what: not two lines: $(cat "$TMP/err")"
    [ "$(sed -n 2p "$TMP/err")" = "Try '$hint --help' for more information." ] ||
        fail "$what: no hint: $(cat "$TMP/err")"
}
usage_error "no command" "memshim" "$MS"
usage_error "unknown command" "memshim" "$MS" frob
usage_error "run: unknown option" "memshim run" "$MS" run --frob -- true
usage_error "run: no command" "memshim run" "$MS" run --report
usage_error "ctl: unknown option" "memshim ctl" "$MS" ctl --frob 1 stats
usage_error "ctl: no pid" "memshim ctl" "$MS" ctl notapid stats
usage_error "ctl: --timeout without value" "memshim ctl" "$MS" ctl --timeout
usage_error "ps: unknown argument" "memshim ps" "$MS" ps --frob
grep -q "unknown argument '--frob'" "$TMP/err" || fail "ps: message: $(cat "$TMP/err")"
echo "ok: usage errors are one line and a hint"

for sub in run ctl ps; do
    "$MS" "$sub" --help >"$TMP/h1" 2>"$TMP/err" || fail "$sub --help: exit $?"
    grep -q "^usage: memshim $sub" "$TMP/h1" || fail "$sub --help: $(cat "$TMP/h1")"
    "$MS" help "$sub" >"$TMP/h2" || fail "help $sub: exit $?"
    cmp -s "$TMP/h1" "$TMP/h2" || fail "memshim help $sub differs from memshim $sub --help"
done
"$MS" --help | grep -q '^usage: memshim <command>' || fail "memshim --help"
want="memshim $(sed -n 's/^#define MEMSHIM_VERSION "\(.*\)"$/\1/p' shim/memshim.h)"
for v in "--version" "run --version" "ctl --version" "ps --version"; do
    # shellcheck disable=SC2086 # the words are the arguments
    [ "$("$MS" $v)" = "$want" ] || fail "memshim $v: '$("$MS" $v 2>&1)', expected '$want'"
done
"$KV_BIN" --version | grep -q '^kvcore-server v=' || fail "kvcore-server --version"
echo "ok: --help and --version ($want)"

# Values the shim would ignore are refused, and CMD never runs.
for bad in "--sample 99" "--sample 63" "--fail-rate 2" "--log-level 9" "--unwinder gdb"; do
    # shellcheck disable=SC2086
    "$MS" run $bad -- touch "$TMP/ran" 2>"$TMP/err"
    rc=$?
    [ $rc -eq 2 ] || fail "run $bad: exit $rc, expected 2"
    [ ! -e "$TMP/ran" ] || fail "run $bad: CMD ran"
    grep -q "^memshim run: bad value '${bad#* }' for ${bad% *} " "$TMP/err" ||
        fail "run $bad: $(cat "$TMP/err")"
done
"$MS" run --sample 99 -- true 2>&1 | grep -q '0\.\.62' || fail "--sample 99 does not give the range"
"$MS" run --sample 62 -- true || fail "--sample 62 refused"
echo "ok: out-of-range values refused before CMD runs"

# --dump-at-exit alone: profiling is on and the dump is written.
mkdir "$TMP/d"
"$MS" run --dump-at-exit --dump-dir "$TMP/d" -- "$HELPERS/prof_sites" status >"$TMP/out" 2>"$TMP/err" ||
    fail "--dump-at-exit: exit $?: $(cat "$TMP/err")"
grep -q 'active=true .*dump_at_exit=true' "$TMP/out" || fail "--dump-at-exit: $(cat "$TMP/out")"
set -- "$TMP/d"/memshim.*.heap
[ -f "$1" ] || fail "--dump-at-exit without --prof wrote no dump: $(cat "$TMP/err")"
head -n 1 "$1" | grep -q '^heap_v2/' || fail "not a heap dump: $1"
"$MS" run --help | grep -q -- '--dump-at-exit .*implies --prof' || fail "--help does not say it"
echo "ok: --dump-at-exit implies --prof"

# A missing dump directory is reported before CMD runs, from the option or the variable.
"$MS" run --prof --dump-at-exit --dump-dir "$TMP/nosuch" -- touch "$TMP/ran" 2>"$TMP/err"
[ $? -eq 2 ] || fail "missing --dump-dir: not refused"
[ ! -e "$TMP/ran" ] || fail "missing --dump-dir: CMD ran"
grep -qx "memshim run: dump directory '$TMP/nosuch' does not exist (create it first)" "$TMP/err" ||
    fail "missing --dump-dir: $(cat "$TMP/err")"
MEMSHIM_DUMP_DIR="$TMP/nosuch" "$MS" run -- touch "$TMP/ran" 2>"$TMP/err"
[ $? -eq 2 ] && [ ! -e "$TMP/ran" ] || fail "missing MEMSHIM_DUMP_DIR: not refused"
grep -q "does not exist" "$TMP/err" || fail "missing MEMSHIM_DUMP_DIR: $(cat "$TMP/err")"
"$MS" run --dump-dir /dev/null -- touch "$TMP/ran" 2>"$TMP/err"
[ $? -eq 2 ] && [ ! -e "$TMP/ran" ] || fail "file as --dump-dir: not refused"
grep -q "is not a directory" "$TMP/err" || fail "file as --dump-dir: $(cat "$TMP/err")"
echo "ok: a missing dump directory is refused before CMD runs"
exit 0
