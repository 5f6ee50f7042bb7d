# SPDX-License-Identifier: MIT
# Old name of tests/lib.sh for the kvcore scripts that still source it: new scripts source
# tests/lib.sh and use its names. Maps: KV_TMP (= $TMP), KV_PIDS (the stopped-at-exit
# list), kv_skip, kv_require_tools, kv_free_port, kv_mem_field.
. "$(dirname "$0")/../lib.sh"
KV_TMP=$TMP
KV_PIDS=""
track_pid() { KV_PIDS="$KV_PIDS $1"; }
untrack_pid() { KV_PIDS=$(echo " $KV_PIDS " | sed "s/ $1 / /g"); }
trap 'kv_rc=$?; PIDS=$KV_PIDS; lib_cleanup $kv_rc' EXIT
kv_skip() {
    echo "$1"
    exit 77
}
kv_require_tools() { need_cmd "$@"; }
kv_free_port() { free_port; }
kv_mem_field() { kv_info "$1" "$2" memory; }
