#!/bin/sh
# SPDX-License-Identifier: MIT
# Differential test: every command of tests/kv_corpus/*.txt goes to kvcore-server and to
# Debian's redis-server (both fresh, same options); replies must be byte-identical
# (tests/kv/kvdiff.py; nondeterministic replies are compared by shape only).
. "$(dirname "$0")/../kv/lib.sh"
kv_require_tools redis-cli redis-server python3
kv_start_kvcore --enable-debug-command yes --save ''
kv_start_redis --enable-debug-command yes
python3 tests/kv/kvdiff.py "$KV_PORT" "$REDIS_PORT" tests/kv_corpus/*.txt
