# SPDX-License-Identifier: MIT
# tests/fuzz/lib.sh - shared by tests/fuzz/run.sh (make fuzz) and
# tests/integration/fuzz_replay.sh (make test); sourced, POSIX sh, run from the repo top.
#
# A target is tests/fuzz/fuzz_<parser>.c; its header comment names the project sources it
# links on a line " * fuzz-sources: a.c b.c" (without one, the module .c files its
# header comment names, e.g. in a build command) and may add libFuzzer flags on a line
# " * fuzz-options: -max_len=N". fuzz-sources may use shell globs (kvcore/*.c); a line
# " * fuzz-exclude: a.c" drops files from them, " * fuzz-libs: -lx" adds link flags.
# Its seed corpus is tests/fuzz/corpus/<parser>/ and an optional dictionary
# tests/fuzz/fuzz_<parser>.dict. Two builds of each:
#   fuzz    clang -fsanitize=fuzzer,address,undefined      -> $BUILD/fuzz/<target>
#   replay  <cc> -fsanitize=address,undefined replay_main.c -> $BUILD/fuzz-replay/<target>

FUZZ_INC="-Ishim -Iheapprof -Idefrag -Ikvcore -Itests/fuzz -I/usr/include/liblzf"
FUZZ_CFLAGS="-std=c11 -D_GNU_SOURCE -g -O1 -fno-omit-frame-pointer -Wall -Wextra -Werror \
-Wno-missing-field-initializers -fno-sanitize-recover=all"

# The target names, one per line (fuzz_hp_dump ...).
fuzz_targets() {
    for f in tests/fuzz/fuzz_*.c; do
        [ -f "$f" ] && basename "$f" .c
    done
}

# The sources a target links (its "fuzz-sources:" line, else its header's clang line).
fuzz_sources() {
    src=$(sed -n 's/^ \* fuzz-sources: *//p' "tests/fuzz/$1.c" | head -n 1)
    if [ -z "$src" ]; then
        src=$(sed -n '/^ \*\/$/q; p' "tests/fuzz/$1.c" | tr ' \t' '\n\n' |
            grep -E '^(shim|heapprof|defrag|kvcore)/[a-z0-9_]+\.c$' | tr '\n' ' ')
    fi
    ex=$(sed -n 's/^ \* fuzz-exclude: *//p' "tests/fuzz/$1.c" | head -n 1)
    out=
    for s in $src; do
        case " $ex " in *" $s "*) ;; *) out="$out $s" ;; esac
    done
    echo "$out"
}

# Extra link flags of a target (its "fuzz-libs:" line), possibly empty.
fuzz_libs() {
    sed -n 's/^ \* fuzz-libs: *//p' "tests/fuzz/$1.c" | head -n 1
}

# The committed seed corpus of a target.
fuzz_corpus() {
    echo "tests/fuzz/corpus/${1#fuzz_}"
}

# Extra libFuzzer flags of a target (its "fuzz-options:" line), possibly empty.
fuzz_options() {
    sed -n 's/^ \* fuzz-options: *//p' "tests/fuzz/$1.c" | head -n 1
}

# Prints the sources of a target that do not exist (e.g. a parser not written yet).
fuzz_missing() {
    for s in $(fuzz_sources "$1"); do
        [ -f "$s" ] || printf '%s ' "$s"
    done
}

# A compiler that takes the given sanitizer flags, or nothing (status 1).
# usage: fuzz_pick_cc "<flags>"; FUZZ_CC, when set, is tried first.
fuzz_pick_cc() {
    tmp=$(mktemp -d)
    cat >"$tmp/t.c" <<'PROBE'
#include <stddef.h>
#include <stdint.h>
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    return data != NULL && size > 0 ? 0 : 0;
}
PROBE
    case "$1" in
    *fuzzer*) ;;
    *) echo 'int main(void) { return LLVMFuzzerTestOneInput(NULL, 0); }' >>"$tmp/t.c" ;;
    esac
    for c in ${FUZZ_CC:-} clang clang-14 cc; do
        # shellcheck disable=SC2086
        if command -v "$c" >/dev/null 2>&1 && "$c" $1 -o "$tmp/t" "$tmp/t.c" >/dev/null 2>&1 &&
            "$tmp/t" -runs=0 >/dev/null 2>&1; then
            rm -rf "$tmp"
            echo "$c"
            return 0
        fi
    done
    rm -rf "$tmp"
    return 1
}

# Compiles one source of a target to an object under its mode's object directory, unless
# the object is newer than the source and every header its last compile read (.d file).
# usage: fuzz_obj <cc> "<flags>" <source> <object>
fuzz_obj() {
    cc=$1 flags=$2 src=$3 o=$4
    if [ -f "$o" ] && [ -f "${o%.o}.d" ]; then
        stale=no
        for d in $(sed -e 's/^[^:]*://' -e 's/\\$//' "${o%.o}.d"); do
            { [ ! -e "$d" ] || [ "$d" -nt "$o" ]; } && stale=yes && break
        done
        [ $stale = no ] && return 0
    fi
    mkdir -p "$(dirname "$o")"
    # shellcheck disable=SC2086 # word splitting of the flag lists is intended
    "$cc" $FUZZ_CFLAGS $flags $FUZZ_INC -MMD -MF "${o%.o}.d" -c -o "$o" "$src"
}

# Builds one target when a dependency is newer than the binary. The parser sources are
# compiled once per mode into objects the targets share (kvcore's whole tree is in several
# targets), two compiles at a time, and only again when a source or header changed.
# usage: fuzz_build <target> fuzz|replay <cc> <out>
fuzz_build() {
    t=$1 mode=$2 cc=$3 out=$4
    srcs=$(fuzz_sources "$t")
    deps="tests/fuzz/$t.c tests/fuzz/fuzz_common.h tests/fuzz/replay_main.c tests/fuzz/lib.sh"
    for s in $srcs; do
        deps="$deps $s $(ls "$(dirname "$s")"/*.h 2>/dev/null)"
    done
    if [ -x "$out" ]; then
        stale=no
        for d in $deps; do
            [ "$d" -nt "$out" ] && stale=yes && break
        done
        [ $stale = no ] && return 0
    fi
    mkdir -p "$(dirname "$out")"
    # Unused functions are dropped, so a parser's file may refer to server code the target
    # does not link, as long as the parser itself never calls it.
    gc="-ffunction-sections -fdata-sections"
    if [ "$mode" = fuzz ]; then
        san="-fsanitize=fuzzer,address,undefined $gc -Wl,--gc-sections"
        objsan="-fsanitize=fuzzer-no-link,address,undefined $gc"
        extra=
    else
        san="-fsanitize=address,undefined $gc -Wl,--gc-sections"
        objsan="-fsanitize=address,undefined $gc"
        extra=tests/fuzz/replay_main.c
    fi
    # One object directory per compiler and flag set, so changed flags never reuse objects.
    objdir="$(dirname "$out")/obj-$(echo "$cc $objsan $FUZZ_CFLAGS $FUZZ_INC" | cksum | cut -d' ' -f1)"
    objs=
    for s in $srcs; do
        objs="$objs $objdir/${s%.c}.o"
    done
    export FUZZ_CFLAGS FUZZ_INC
    # shellcheck disable=SC2016 # expanded by the inner shell
    printf '%s\n' $srcs | xargs -P "${FUZZ_JOBS:-2}" -I{} sh -c \
        '. tests/fuzz/lib.sh; fuzz_obj "$1" "$2" "$3" "$4/${3%.c}.o"' _ "$cc" "$objsan" {} "$objdir" ||
        return 1
    # shellcheck disable=SC2086 # word splitting of the flag lists is intended
    "$cc" $FUZZ_CFLAGS $san $FUZZ_INC -o "$out" "tests/fuzz/$t.c" $extra $objs -lm $(fuzz_libs "$t")
}
