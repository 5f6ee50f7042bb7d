#!/bin/sh
# SPDX-License-Identifier: MIT
# Hostile clients (malformed protocol, huge bulk lengths, half-sent commands, clients
# vanishing mid-reply, buffer limits, maxclients) against kvcore-server: each gets an
# error or a disconnect, everyone else keeps being served, no key changes.
# (tests/kv/robust.py)
. "$(dirname "$0")/../lib.sh"
need_cmd redis-cli python3
kv_start_kvcore --save ''
python3 tests/kv/robust.py "$KV_PORT" || exit 1
# The server is still alive and answers after all of it.
[ "$(redis-cli -p "$KV_PORT" ping)" = PONG ] || { echo "server gone"; exit 1; }
