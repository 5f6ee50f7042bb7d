#!/bin/sh
# SPDX-License-Identifier: MIT
# `go tool pprof` reads the heap profile memshim serve makes of a shimmed process
# (/debug/pprof/heap?pid=N and /pid/N/debug/pprof/heap), and its total is heapprof top's
# on a dump taken through the control socket at the same moment. The holder keeps 64 MiB
# in 1 MiB blocks sampled every 4 KiB (each block is sampled with probability 1 - e^-256,
# so both reports see every block: the totals agree within 1% and the allocation site
# holds at least 64 MiB). A process whose profiling is off, or not available, gets 409
# with the command that turns it on, never an empty profile; the dump directory the
# agent used is gone afterwards.
set -u
. "$(dirname "$0")/../lib.sh"
serve_setup
need_built "$HP"
need_cmd go

proc_start p MEMSHIM_PROF=1 MEMSHIM_PROF_SAMPLE=12
proc_start off
check_alloc=$(proc_say p "alloc 64 1048576")
[ "$check_alloc" = "ok 64" ] || fail "holder allocation: $check_alloc"
export TMPDIR="$TMP/agent-tmp"
mkdir -m 700 "$TMPDIR"
serve_start
fail=0
export HOME="$TMP/home" PPROF_TMPDIR="$TMP/pprof" GOFLAGS=-mod=mod
mkdir -p "$HOME" "$PPROF_TMPDIR"

pprof_total() { # URL-or-file: the profile's total inuse_space in bytes
    go tool pprof -top -unit=B "$1" 2>"$TMP/pprof.err" >"$TMP/pprof.top" || {
        cat "$TMP/pprof.err"
        return 1
    }
    sed -n 's/.* of \([0-9.]*\)B total.*/\1/p' "$TMP/pprof.top" | head -n 1
}

t_url=$(pprof_total "$SERVE_URL/debug/pprof/heap?pid=$p_pid") || fail "go tool pprof failed"
"$MS" ctl "$p_pid" heap dump "$TMP/now.heap" >/dev/null || fail "heap dump"
"$HP" top --json "$TMP/now.heap" >"$TMP/top.json" || fail "heapprof top"
t_hp=$(python3 -c 'import json,sys; print(int(json.load(open(sys.argv[1]))["total_bytes"]))' \
    "$TMP/top.json")
echo "go tool pprof total: $t_url B; heapprof top total: $t_hp B"
within "$t_url" "$t_hp" 1 || check "pprof total within 1% of heapprof's" "$t_hp" "$t_url"
site=$(awk '$NF == "holder_alloc_site" { sub("B", "", $1); print $1; exit }' "$TMP/pprof.top")
[ -n "$site" ] && [ "${site%.*}" -ge 67108864 ] ||
    check "holder_alloc_site holds the 64 MiB" ">= 67108864" "$site"
grep -q "^Build ID: " "$TMP/pprof.top" || check "the profile has a build-id" yes no

# The per-process path serves the same kind of profile, and the file is gzipped pprof.
check "per-process path" 200 "$(http_get "$SERVE_URL/pid/$p_pid/debug/pprof/heap")"
cp "$TMP/body" "$TMP/p.pb.gz"
gzip -t "$TMP/p.pb.gz" || check "gzip" ok bad
t_file=$(pprof_total "$TMP/p.pb.gz") || fail "go tool pprof on the file"
within "$t_file" "$t_hp" 1 || check "per-process path total" "$t_hp" "$t_file"

# Profiling off: a clear 409, not an empty profile.
"$MS" ctl "$p_pid" heap disable >/dev/null || fail "heap disable"
check "profiling off" 409 "$(http_get "$SERVE_URL/debug/pprof/heap?pid=$p_pid")"
grep -q "memshim ctl $p_pid heap enable" "$TMP/body" || check "409 says how to enable" yes "$(cat "$TMP/body")"
check "profiling unavailable" 409 "$(http_get "$SERVE_URL/debug/pprof/heap?pid=$off_pid")"
grep -q "prof" "$TMP/body" || check "409 says why" yes "$(cat "$TMP/body")"
"$MS" ctl "$p_pid" heap enable >/dev/null || fail "heap enable"
check "enabled again" 200 "$(http_get "$SERVE_URL/debug/pprof/heap?pid=$p_pid")"

left=$(ls -A "$TMPDIR")
check "no dump left in the agent's temporary directory" "" "$left"
serve_alive || fail "agent down"
exit $fail
