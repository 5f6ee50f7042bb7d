#!/bin/sh
# SPDX-License-Identifier: MIT
# The conformance runner (tests/conformance/run.py, make conformance) works: it runs one
# small file of Valkey's Tcl suite (unit/quit) against a kvcore-server it starts, prints
# the per-file line and the total, counts every test of the file as passed, writes the
# file's log and an empty list of failing tests, and refuses a missing test file. Its
# output parser counts ok/err/skip/ignore/exception lines (colours included) correctly.
# Needs tclsh and a Valkey source tree or tarball in $VALKEY_SRC; skips without them.
. "$(dirname "$0")/../lib.sh"
need_built "$KV_BIN"
need_cmd python3
command -v tclsh8.6 >/dev/null 2>&1 || command -v tclsh >/dev/null 2>&1 || skip "tclsh not installed"
[ -n "${VALKEY_SRC:-}" ] && [ -e "$VALKEY_SRC" ] ||
    skip "VALKEY_SRC (a Valkey 8 source tree or .tar.gz) not set"
fail=0

# The parser, on the suite's own line forms.
got=$(python3 - <<'PY'
import sys
sys.path.insert(0, "tests/conformance")
import run
out = ("\x1b[0;32;49m[ok]\x1b[0m: A works (3 ms)\n[ok]: B (0 ms)\n"
       "\x1b[0;31;49m[err]\x1b[0m: C fails\nin file x\n[skip]: D\n[ignore]: E\n"
       "[exception]: F broke\n[1/1 done]: unit/x (0 seconds)\n")
counts, names = run.parse(out)
print(counts["passed"], counts["failed"], counts["skipped"],
      *("|".join(names[k]) for k in ("passed", "failed", "skipped")))
PY
)
check "parser counts" "2 2 2 A works|B C fails|F broke D|E" "$got"

# One real file: every test of unit/quit passes on kvcore-server.
python3 tests/conformance/run.py --server "$KV_BIN" --valkey-src "$VALKEY_SRC" \
    --files unit/quit --log-dir "$TMP/logs" >"$TMP/out" 2>&1
rc=$?
cat "$TMP/out"
check "runner exit status" 0 "$rc"
want=$(tr -d '\033' <"$TMP/logs/unit_quit.log" | sed 's/\[[0-9;]*m//g' | grep -c '^\[ok\]: ')
[ "$want" -gt 0 ] || fail "no test of unit/quit ran"
grep -q "^unit/quit  passed *$want  failed *0  skipped *0$" "$TMP/out" || fail "per-file line"
grep -q "^total      passed *$want  failed *0  skipped *0$" "$TMP/out" || fail "total line"
check "failures list" "" "$(cat "$TMP/logs/failures.txt")"
grep -q "QUIT returns OK" "$TMP/logs/unit_quit.log" || fail "file log lacks the test names"
check "summary row" "unit/quit	$want	0	0	" "$(sed -n 2p "$TMP/logs/summary.tsv")"

# A test file the tree does not have is an error, not an empty pass.
python3 tests/conformance/run.py --server "$KV_BIN" --valkey-src "$VALKEY_SRC" \
    --files unit/no-such-file --log-dir "$TMP/logs2" >"$TMP/out2" 2>&1 &&
    fail "a missing test file was accepted"
grep -q "no test file tests/unit/no-such-file.tcl" "$TMP/out2" || fail "missing-file message"
exit $fail
