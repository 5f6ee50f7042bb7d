#!/bin/sh
# SPDX-License-Identifier: MIT
# Command-table sweep: every command kvcore-server implements (and every name Redis 7's
# COMMAND LIST has that it does not) is sent with no arguments, its arity, one more, and
# hostile values, on keys of every type and encoding; each reply must be exactly one
# well-formed RESP reply, PING must answer and the probe keys stay intact after it, and
# where redis-server implements the command the reply (error texts byte for byte) must
# match (tests/kv/sweep.py). The sweep runs in RESP2, then again in RESP3 (strict RESP3
# grammar, replies compared with redis-server's RESP3 ones). Under `make asan` the
# sanitized server runs it (lib.sh's kv_cleanup fails the test on a sanitizer report in
# the server's log).
# test-timeout: 600
. "$(dirname "$0")/../lib.sh"
need_cmd redis-cli redis-server python3
# ~14k commands: minutes under valgrind's slowdown; `make asan` runs the sweep sanitized.
[ -z "${KV_SERVER_WRAPPER:-}" ] || skip "under $KV_SERVER_WRAPPER (too slow; make asan covers it)"
kv_start_kvcore --enable-debug-command yes --save '' --busy-poll-us 0
kv_start_redis --enable-debug-command yes
fail=0
python3 tests/kv/sweep.py "$KV_PORT" "$REDIS_PORT" ${KV_SWEEP_FILTER:-} || fail=1
python3 tests/kv/sweep.py --resp3 "$KV_PORT" "$REDIS_PORT" ${KV_SWEEP_FILTER:-} || fail=1
exit $fail
