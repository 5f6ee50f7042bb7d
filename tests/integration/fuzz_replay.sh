#!/bin/sh
# SPDX-License-Identifier: MIT
# fuzz_replay.sh - replays every committed fuzz corpus (tests/fuzz/corpus/<parser>/) through
# its target built with ASan+UBSan and a plain main() (tests/fuzz/replay_main.c), so an input
# that once crashed a parser stays fixed. Fast: no fuzzing, each input runs once.
# Targets whose parser is not written yet are reported and left out; skips (77) when no
# compiler takes -fsanitize=address,undefined.
set -u
. "$(dirname "$0")/../lib.sh"
. tests/fuzz/lib.sh
unset LD_PRELOAD

cc=$(fuzz_pick_cc "-fsanitize=address,undefined") ||
    skip "no compiler with -fsanitize=address,undefined (install clang)"
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:allocator_may_return_null=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
ran=0
fail=0
for t in $(fuzz_targets); do
    missing=$(fuzz_missing "$t")
    if [ -n "$missing" ]; then
        echo "$t: left out, ${missing}not written yet"
        continue
    fi
    corpus=$(fuzz_corpus "$t")
    if [ ! -d "$corpus" ]; then
        echo "$t: FAIL, no seed corpus in $corpus"
        fail=1
        continue
    fi
    bin="$BUILD/fuzz-replay/$t"
    if ! fuzz_build "$t" replay "$cc" "$bin"; then
        echo "$t: FAIL, build with $cc"
        fail=1
        continue
    fi
    if out=$(timeout 120 "$bin" "$corpus" 2>&1); then
        echo "$t: $(echo "$out" | tail -n 1) from $corpus ($cc)"
        ran=$((ran + 1))
    else
        echo "$t: FAIL replaying $corpus"
        echo "$out" | tail -n 30
        fail=1
    fi
done
[ $fail -eq 0 ] || exit 1
if [ $ran -eq 0 ]; then
    echo "no fuzz target could be built"
    exit 77
fi
exit 0
