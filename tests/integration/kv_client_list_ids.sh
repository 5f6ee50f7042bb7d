#!/bin/sh
# SPDX-License-Identifier: MIT
# CLIENT LIST ID against Debian's redis-server: invalid ids (not integers) are an error,
# ids no client has (0 and negative ones included) list nothing, the clients come in the
# order of the ids given, once per mention, and every argument counts, however many
# (tests/kv/client_list_ids.py).
. "$(dirname "$0")/../lib.sh"
need_cmd redis-cli redis-server python3
kv_start_kvcore --save ''
kv_start_redis
python3 tests/kv/client_list_ids.py "$KV_PORT" "$REDIS_PORT"
