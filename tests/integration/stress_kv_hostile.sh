#!/bin/sh
# SPDX-License-Identifier: MIT
# Abusive clients at scale against kvcore-server while a checker client verifies its own
# keys (tests/kv/hostile.py, tests/kv/checker.py): bulk lengths announced far beyond what
# is sent and beyond proto-max-bulk-len (refused, nothing allocated), slow readers past
# client-output-buffer-limit (hard and soft: dropped, everyone else served), and 3,000
# clients vanishing mid-command and mid-reply (connections and memory given back).
. "$(dirname "$0")/../lib.sh"
need_cmd redis-cli python3
stress_need_load
kv_start_kvcore --enable-debug-command yes
checker_start
fail=0
for c in bulk slowreader vanish; do
    python3 tests/kv/hostile.py "$KV_PORT" "$c" || fail=1
done
checker_stop || fail=1
kv_alive "$KV_PORT" || { echo "FAIL: server gone"; fail=1; }
exit $fail
