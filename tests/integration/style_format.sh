#!/bin/sh
# SPDX-License-Identifier: MIT
# The house format (docs/style.md#formatting): every tracked C file is as clang-format (14) writes it,
# which is what `make check-format` checks. Lists the files that are not.
set -u
cd "$(dirname "$0")/../.." || exit 2
command -v clang-format >/dev/null 2>&1 || { echo "clang-format not installed"; exit 77; }
command -v git >/dev/null 2>&1 && git rev-parse --git-dir >/dev/null 2>&1 ||
    { echo "not a git checkout"; exit 77; }
bad=0
for f in $(git ls-files '*.c' '*.h'); do
    if ! clang-format --dry-run -Werror "$f" >/dev/null 2>&1; then
        echo "not formatted: $f (run: clang-format -i $f)"
        bad=1
    fi
done
exit $bad
