#!/bin/sh
# SPDX-License-Identifier: MIT
# What libmemshim.so costs real programs: sqlite3 building and querying a table, a python3
# workload of dicts and strings, and g++ compiling a generated C++ file, each run under
# glibc's malloc, LD_PRELOAD of Debian's plain libjemalloc.so.2 and LD_PRELOAD of
# build/libmemshim.so.
#  - time mode (default): interleaved rounds (glibc, jemalloc, memshim, glibc, ...), so
#    drift of the loaded machine hits all three alike; prints each configuration's median
#    wall time and the medians of the per-round ratios memshim/jemalloc and memshim/glibc,
#    then the same for CPU time (user + sys of the program and its children, perf stat's
#    task-clock), which waiting for a CPU on a loaded machine does not inflate. With perf,
#    wall time is its duration_time (the program's, not perf's start-up); without perf
#    (or without those events), wall time only, from date.
#  - callgrind mode (MODE=callgrind): the same workloads scaled down, once each under
#    valgrind's callgrind, which counts instructions deterministically; prints the totals
#    and the ratios, then the instructions spent in the allocator (the functions of
#    libjemalloc.so.2, libmemshim.so and glibc's malloc.c) per configuration. A fourth
#    configuration, jeprof (plain jemalloc with memshim's prof:true,prof_active:false),
#    separates what "profiling ready" costs inside jemalloc from the shim's own cost.
# A report, not a pass/fail test.
# usage: BUILD=build [MODE=time|callgrind] [ROUNDS=11] [ROWS=200000] [PROGS="sqlite3 python3 g++"]
#        sh tests/bench/shim_programs.sh
set -u
MODE=${MODE:-time}
PROGS=${PROGS:-sqlite3 python3 g++}
ROUNDS=${ROUNDS:-11}
ROWS=${ROWS:-200000}
. "$(dirname "$0")/../lib.sh"
need_built "$SHIM"
JE=""
for d in /usr/lib/x86_64-linux-gnu /usr/lib64 /usr/lib; do
    [ -e "$d/libjemalloc.so.2" ] && JE="$d/libjemalloc.so.2" && break
done
[ -n "$JE" ] || skip "libjemalloc.so.2 not found"

export PYTHONHASHSEED=0 # the same dict layouts in every run
PY=$(command -v python3) || PY=""
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3 # not a version manager's wrapper script
progs=""
for p in $PROGS; do
    case $p in
    sqlite3) command -v sqlite3 >/dev/null 2>&1 && progs="$progs sqlite3" ;;
    python3) [ -n "$PY" ] && progs="$progs python3" ;;
    g++) command -v g++ >/dev/null 2>&1 && progs="$progs g++" ;;
    *) echo "PROGS: unknown program $p (sqlite3, python3, g++)" >&2 && exit 2 ;;
    esac
done
[ -n "$progs" ] || skip "none of $PROGS installed"

if [ "$MODE" = callgrind ]; then
    command -v valgrind >/dev/null 2>&1 || skip "valgrind not installed"
    ROWS=${CG_ROWS:-20000}
fi
SCALE=$((ROWS / 20000)) # python3 and g++ scale with ROWS too: 10 at the default
[ "$SCALE" -ge 1 ] || SCALE=1

# --- The workloads (generated into $TMP) ---

cat >"$TMP/w.sql" <<EOF
CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT, val REAL, tag TEXT);
WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < $ROWS)
INSERT INTO t SELECT x, printf('name-%d-%s', x, hex(randomblob(8))), x * 1.5, 'tag' || (x % 97) FROM c;
CREATE INDEX t_tag ON t(tag);
SELECT tag, count(*), sum(val) FROM t GROUP BY tag ORDER BY 2 DESC LIMIT 3;
SELECT count(*) FROM t WHERE name LIKE '%-1%';
SELECT length(group_concat(name)) FROM (SELECT name FROM t ORDER BY name DESC LIMIT $((ROWS / 4)));
UPDATE t SET name = name || '-x' WHERE id % 3 = 0;
SELECT count(DISTINCT substr(name, 1, 8)) FROM t;
EOF

cat >"$TMP/w.py" <<EOF
# dicts of strings built, merged, sorted and torn down: malloc, realloc and free heavy
n = $SCALE * 2500
total = 0
for rnd in range(6):
    d = {}
    for i in range(n):
        k = "key-%d-%d" % (i, rnd)
        d[k] = {"name": k * 2, "vals": [str(j) for j in range(i % 7)], "n": i}
    words = sorted(d, key=lambda s: s[::-1])
    joined = ",".join(words[: n // 2])
    parts = joined.split(",")
    merged = {p: len(p) for p in parts}
    total += len(merged) + sum(len(v["name"]) for v in d.values())
print(total)
EOF

{
    echo '#include <algorithm>'
    echo '#include <map>'
    echo '#include <string>'
    echo '#include <unordered_map>'
    echo '#include <vector>'
    echo '#include <functional>'
    echo '#include <sstream>'
    i=0
    while [ $i -lt $((SCALE * 3)) ]; do
        cat <<EOF
template <typename T> struct Box$i {
    std::vector<T> v;
    std::map<std::string, T> m;
    void add(const std::string &k, T x) { v.push_back(x); m[k] = x; }
    T sum() const { T s{}; for (auto &e : v) s += e; return s; }
};
std::string f$i(int n) {
    Box$i<long> b; Box$i<double> c;
    std::unordered_map<std::string, std::vector<int>> u;
    std::ostringstream os;
    for (int j = 0; j < n; j++) { b.add(std::to_string(j), j); c.add("k" + std::to_string(j), j * 0.5); u["x"].push_back(j); }
    std::sort(b.v.begin(), b.v.end(), std::greater<long>());
    os << b.sum() << c.sum() << u.size();
    return os.str();
}
EOF
        i=$((i + 1))
    done
    echo 'int main() { std::string s;'
    i=0
    while [ $i -lt $((SCALE * 3)) ]; do
        echo "s += f$i(3);"
        i=$((i + 1))
    done
    echo 'return (int)s.size() & 1; }'
} >"$TMP/w.cc"

lib_of() { # config: the LD_PRELOAD value
    case $1 in
    glibc) echo "" ;;
    jemalloc | jeprof) echo "$JE" ;;
    memshim) echo "$SHIM" ;;
    esac
}

median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'; }

# --- time mode ---

# perf stat's task-clock (CPU ms of a command and its children) and duration_time (its
# wall ns), when this kernel and perf count them.
PERF=""
perf stat -x, -e task-clock,duration_time -o "$TMP/perf.probe" true >/dev/null 2>&1 &&
    grep -q '^[0-9.]*,msec,task-clock' "$TMP/perf.probe" &&
    grep -q '^[0-9]*,ns,duration_time' "$TMP/perf.probe" && PERF=perf

run_timed() { # prog config: runs one workload (perf's figures in $TMP/perf.out)
    p=$1
    pre=$(lib_of "$2")
    set -- env LD_PRELOAD="$pre" # only the program gets the preload, never perf
    [ -n "$PERF" ] && set -- perf stat -x, -e task-clock,duration_time -o "$TMP/perf.out" "$@"
    case $p in
    sqlite3) "$@" sqlite3 :memory: <"$TMP/w.sql" >/dev/null ;;
    python3) "$@" "$PY" "$TMP/w.py" >/dev/null ;;
    g++) "$@" g++ -O1 -c -o "$TMP/w.o" "$TMP/w.cc" ;;
    esac
}

time_one() { # prog config: appends wall ns to $TMP/<config>.wall, CPU ms to .cpu
    t0=$(date +%s%N)
    run_timed "$1" "$2" || {
        echo "$1 under $2 failed" >&2
        exit 1
    }
    t1=$(date +%s%N)
    if [ -n "$PERF" ]; then
        awk -F, '$3 ~ /^duration_time/ { print $1 }' "$TMP/perf.out" >>"$TMP/$2.wall"
        awk -F, '$3 ~ /^task-clock/ { print $1 }' "$TMP/perf.out" >>"$TMP/$2.cpu"
    else
        echo $((t1 - t0)) >>"$TMP/$2.wall"
    fi
}

# config kind: the ratio memshim/config of the last round's wall or cpu figure
last_ratio() { ratio "$(tail -n 1 "$TMP/memshim.$2")" "$(tail -n 1 "$TMP/$1.$2")"; }

time_mode() {
    echo "$ROUNDS interleaved rounds (glibc, jemalloc, memshim); sqlite3 $ROWS rows"
    kinds="wall"
    [ -n "$PERF" ] && kinds="wall cpu"
    printf '%-8s %-4s %11s %11s %11s %14s %14s\n' program time "glibc ms" "jemalloc ms" \
        "memshim ms" "shim/jemalloc" "shim/glibc"
    for p in $progs; do
        run_timed "$p" glibc || exit 1 # warm the page cache
        for k in wall cpu; do
            for c in glibc jemalloc memshim; do : >"$TMP/$c.$k"; done
            : >"$TMP/rj.$k" && : >"$TMP/rg.$k"
        done
        r=0
        while [ $r -lt "$ROUNDS" ]; do
            for c in glibc jemalloc memshim; do time_one "$p" "$c"; done
            for k in $kinds; do
                last_ratio jemalloc "$k" >>"$TMP/rj.$k" && echo >>"$TMP/rj.$k"
                last_ratio glibc "$k" >>"$TMP/rg.$k" && echo >>"$TMP/rg.$k"
            done
            r=$((r + 1))
        done
        for k in $kinds; do
            div=1e6 # wall in ns, CPU in ms
            [ "$k" = cpu ] && div=1
            ms() { median <"$1" | awk -v d="$div" '{ printf "%.1f", $1 / d }'; }
            printf '%-8s %-4s %11s %11s %11s %14s %14s\n' "$p" "$k" "$(ms "$TMP/glibc.$k")" \
                "$(ms "$TMP/jemalloc.$k")" "$(ms "$TMP/memshim.$k")" "$(median <"$TMP/rj.$k")" \
                "$(median <"$TMP/rg.$k")"
        done
    done
}

# --- callgrind mode ---

cg_one() { # prog config: total instructions (every process of the run)
    rm -f "$TMP"/cg.out.*
    prog=$1 conf=$2 pre=$(lib_of "$2") mc=${MALLOC_CONF:-}
    [ "$conf" = jeprof ] && mc=prof:true,prof_active:false # memshim's jemalloc options
    set -- valgrind --tool=callgrind --trace-children=yes --callgrind-out-file="$TMP/cg.out.%p"
    case $prog in
    sqlite3) LD_PRELOAD=$pre MALLOC_CONF=$mc "$@" sqlite3 :memory: <"$TMP/w.sql" ;;
    python3) LD_PRELOAD=$pre MALLOC_CONF=$mc "$@" "$PY" "$TMP/w.py" ;;
    g++) LD_PRELOAD=$pre MALLOC_CONF=$mc "$@" g++ -O1 -c -o "$TMP/w.o" "$TMP/w.cc" ;;
    esac >/dev/null 2>"$TMP/cg.err" || {
        echo "$prog under callgrind ($conf) failed" >&2
        exit 1
    }
    for f in "$TMP"/cg.out.*; do
        callgrind_annotate --threshold=100 "$f" 2>/dev/null
    done >"$TMP/cg.$prog.$conf"
    sed -n 's/.*Collected : //p' "$TMP/cg.err" | awk '{ s += $1 } END { printf "%.0f\n", s }'
}

# The self cost of the allocator's functions, summed by object: jemalloc's, the shim's and
# libc's malloc family (glibc's malloc.c).
entry_costs() { # annotate-file
    awk '
        { gsub(",", "", $1) }
        $1 !~ /^[0-9]+$/ { next }
        /libjemalloc\.so/ { je += $1; next }
        /libmemshim\.so/ { ms += $1; next }
        /malloc\.c:|malloc\/malloc|arena\.c:/ { gl += $1 }
        END { printf "%12d %12d %12d", je, ms, gl }' "$1"
}

callgrind_mode() {
    echo "callgrind instructions (deterministic); sqlite3 $ROWS rows, python3/g++ at scale $SCALE"
    echo "(jeprof: plain jemalloc with memshim's MALLOC_CONF prof:true,prof_active:false)"
    printf '%-8s %12s %12s %12s %12s %9s %9s %9s\n' program glibc jemalloc jeprof memshim \
        shim/je jeprof/je shim/glibc
    for p in $progs; do
        g=$(cg_one "$p" glibc) || exit 1
        j=$(cg_one "$p" jemalloc) || exit 1
        jp=$(cg_one "$p" jeprof) || exit 1
        m=$(cg_one "$p" memshim) || exit 1
        printf '%-8s %12s %12s %12s %12s %9s %9s %9s\n' "$p" "$g" "$j" "$jp" "$m" \
            "$(ratio "$m" "$j")" "$(ratio "$jp" "$j")" "$(ratio "$m" "$g")"
    done
    echo "allocator self instructions: libjemalloc.so.2, libmemshim.so, glibc malloc.c"
    for p in $progs; do
        for c in glibc jemalloc jeprof memshim; do
            printf '%-8s %-9s %s\n' "$p" "$c" "$(entry_costs "$TMP/cg.$p.$c")"
        done
    done
    echo "memshim's per-function self instructions (sqlite3):"
    grep -E 'libmemshim\.so|libjemalloc\.so.2\]' "$TMP/cg.sqlite3.memshim" | grep -E ':(malloc|free|realloc|calloc|malloc_usable_size|malloc_keep_errno|calloc_keep_errno|free_keep_errno|ms_realloc|realloc_direct|ms_usable_size|sallocx) ' | sed 's/^/  /'
    echo "jemalloc with prof:true,prof_active:false (sqlite3):"
    grep -E 'libjemalloc\.so.2\]' "$TMP/cg.sqlite3.jeprof" | grep -E ':(malloc|free|realloc|calloc|malloc_usable_size|sallocx) ' | sed 's/^/  /'
    echo "plain jemalloc's (sqlite3):"
    grep -E 'libjemalloc\.so.2\]' "$TMP/cg.sqlite3.jemalloc" | grep -E ':(malloc|free|realloc|calloc|malloc_usable_size|sallocx) ' | sed 's/^/  /'
}

case $MODE in
time) time_mode ;;
callgrind) callgrind_mode ;;
*)
    echo "MODE is time or callgrind" >&2
    exit 2
    ;;
esac
