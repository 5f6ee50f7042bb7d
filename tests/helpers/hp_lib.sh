# SPDX-License-Identifier: MIT
# Sourced by tests/integration/hp_*.sh and tests/bench/hp_vs_jeprof.sh: the analyser, the
# helper programs, a scratch directory, and dumps written by Debian's own jemalloc
# (LD_PRELOAD + MALLOC_CONF, no memshim involved). Under a sanitizer (MEMSHIM_SAN=1) the
# analyser runs sanitized, while the programs that write the dumps are built here without
# one, since they must take Debian's jemalloc; tests that need libmemshim.so skip there.
BUILD=${BUILD:-build}
BUILD_ABS=$(cd "$BUILD" 2>/dev/null && pwd) || { echo "no build directory $BUILD"; exit 1; }
HP="$BUILD_ABS/heapprof"
HELPERS="$BUILD_ABS/tests/helpers"
JEMALLOC=$(ls /usr/lib/x86_64-linux-gnu/libjemalloc.so.2 /usr/lib/*/libjemalloc.so.2 2>/dev/null | head -n 1)
[ -x "$HP" ] || { echo "missing $HP (make BUILD=$BUILD all)"; exit 1; }
[ -n "$JEMALLOC" ] || { echo "Debian's libjemalloc2 is not installed"; exit 77; }
TMP=$(mktemp -d "${TMPDIR:-/tmp}/heapprof-it.XXXXXX") || exit 1
trap 'rm -rf "$TMP"' EXIT INT TERM
HP_SAN=0
if [ "${MEMSHIM_SAN:-}" = 1 ]; then
    HP_SAN=1
    HELPERS="$TMP/helpers"
    mkdir -p "$HELPERS"
fi

fail() {
    echo "FAIL: $*"
    exit 1
}

need_helper() { # name
    if [ "$HP_SAN" = 1 ] && [ ! -x "$HELPERS/$1" ]; then
        if [ -f "tests/helpers/$1.c" ]; then
            cc -std=c11 -D_GNU_SOURCE -O1 -g -fno-omit-frame-pointer -fno-inline \
                -o "$HELPERS/$1" "tests/helpers/$1.c" -lpthread -ldl || fail "cannot build $1"
        else
            c++ -std=c++17 -O1 -g -o "$HELPERS/$1" "tests/helpers/$1.cc" -lpthread || fail "cannot build $1"
        fi
    fi
    [ -x "$HELPERS/$1" ] || fail "missing helper $HELPERS/$1 (make BUILD=$BUILD unit-bins)"
}

need_cmd() { # command
    command -v "$1" >/dev/null 2>&1 || { echo "$1 is not installed"; exit 77; }
}

# jemalloc_run DIR LG PROG ARGS...: runs PROG under Debian's jemalloc with profiling on
# (sample every 2^LG bytes) and a final dump at exit, whose path it puts in $DUMP.
jemalloc_run() {
    dir=$1
    lg=$2
    shift 2
    mkdir -p "$dir"
    env LD_PRELOAD="$JEMALLOC" MALLOC_CONF="prof:true,prof_final:true,lg_prof_sample:$lg,prof_prefix:$dir/jeprof" \
        "$@" >"$dir/stdout" 2>"$dir/stderr" || fail "$* exited $? under jemalloc: $(cat "$dir/stderr")"
    set -- "$dir"/jeprof.*.f.heap
    [ $# -eq 1 ] && [ -f "$1" ] || fail "expected one final dump in $dir, found: $(ls "$dir")"
    DUMP=$1
}

# flat_of FILE NAME: the flat bytes of entry NAME in `heapprof top` text output
flat_of() {
    awk -v n="$2" 'NR > 2 && $NF == n { print $1; exit }' "$1"
}

# within VALUE WANT PCT: VALUE is within PCT percent of WANT
within() {
    awk -v v="$1" -v w="$2" -v p="$3" 'BEGIN { d = v - w; if (d < 0) d = -d; exit !(v != "" && d <= w * p / 100) }'
}
