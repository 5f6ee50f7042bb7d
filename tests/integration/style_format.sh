#!/bin/sh
# SPDX-License-Identifier: MIT
# The house format (docs/style.md#formatting): every tracked C file is as clang-format (14) writes it,
# which is what `make check-format` checks. Lists the files that are not.
set -u
. "$(dirname "$0")/../lib.sh"
need_cmd clang-format git
git rev-parse --git-dir >/dev/null 2>&1 || skip "not a git checkout"
bad=0
for f in $(git ls-files '*.c' '*.h'); do
    if ! clang-format --dry-run -Werror "$f" >/dev/null 2>&1; then
        echo "not formatted: $f (run: clang-format -i $f)"
        bad=1
    fi
done
exit $bad
