#!/bin/sh
# SPDX-License-Identifier: MIT
# A multi-threaded program forks from a worker thread while other threads allocate, and
# the child allocates heavily: same output under the shim, no deadlock (fork handlers
# take the shim's lock before jemalloc's), repeated to catch an unlucky interleaving.
. "$(dirname "$0")/../lib.sh"
need_preload
need_built "$SHIM"
need_helper shim_mt_fork
for i in 1 2 3 4 5; do
    same_output "mt_fork_$i" timeout 60 "$HELPERS/shim_mt_fork"
done
grep -c '^child . sum' "$TMP/mt_fork_1.shim" | grep -qx 3 || fail "children did not all report"
