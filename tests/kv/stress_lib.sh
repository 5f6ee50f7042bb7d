# SPDX-License-Identifier: MIT
# Shared by tests/integration/stress_kv_*.sh and soak_kv.sh (sourced after lib.sh):
#
#   stress_need_load                 skip unless tests/helpers/kv_load is built
#   checker_start [checker args]     run tests/kv/checker.py on $KV_PORT in the background
#                                    (its own db 9) until checker_stop
#   checker_stop                     stop it, print its summary line; returns its status
#   kv_info PORT FIELD               one INFO field's value
#   kv_alive PORT                    true when the server answers PING

KV_LOAD=$BUILD/tests/helpers/kv_load

stress_need_load() {
    [ -z "${KV_SERVER_WRAPPER:-}" ] ||
        kv_skip "skipped: stress and soak run natively and under ASan, too slow under valgrind"
    [ -x "$KV_LOAD" ] || kv_skip "skipped: $KV_LOAD not built (make unit-bins)"
}

checker_start() {
    CHECK_STOP=$KV_TMP/checker.stop
    CHECK_OUT=$KV_TMP/checker.out
    rm -f "$CHECK_STOP"
    python3 tests/kv/checker.py "$KV_PORT" --seconds 3600 --stop-file "$CHECK_STOP" "$@" \
        >"$CHECK_OUT" 2>&1 &
    CHECK_PID=$!
}

checker_stop() {
    touch "$CHECK_STOP"
    wait "$CHECK_PID"
    rc=$?
    cat "$CHECK_OUT"
    return $rc
}

kv_info() {
    redis-cli -p "$1" info everything | tr -d '\r' | sed -n "s/^$2://p"
}

kv_alive() {
    [ "$(redis-cli -p "$1" ping 2>/dev/null)" = PONG ]
}
