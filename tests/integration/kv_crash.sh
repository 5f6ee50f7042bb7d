#!/bin/sh
# SPDX-License-Identifier: MIT
# The crash report (kvcore/crash.c): DEBUG SEGFAULT makes kvcore-server write a
# Redis-style bug report to its log (the "crashed by signal" banner, a libunwind stack
# trace whose frames name kvcore functions, the registers, INFO with its fields, the
# client list and the crashing command's arguments) and then die by SIGSEGV itself
# (exit status 139). A SIGABRT sent from outside is reported the same way (status 134).
# Core dumps are off (ulimit -c 0): the server runs from the repository, where a core
# file would otherwise land when the caller allows them.
. "$(dirname "$0")/../lib.sh"
need_cmd redis-cli python3
ulimit -c 0
# Under valgrind the process's death by signal is valgrind's to report; the report itself
# is what this test checks, so it runs the plain binary.
KV_SERVER_WRAPPER=

fail=0
expect() { # file pattern what
    if grep -q -- "$2" "$1"; then
        echo "ok   $3"
    else
        echo "FAIL $3: no '$2' in $1"
        fail=1
    fi
}

crash_run() { # signal-source log
    log=$2
    kv_start_kvcore --enable-debug-command yes --logfile "$log"
    grep -q '^Max core file size  *0 ' "/proc/$KV_PID/limits" ||
        { echo "FAIL core dumps are not off: $(grep core "/proc/$KV_PID/limits")"; fail=1; }
    redis-cli -p "$KV_PORT" set crashkey v >/dev/null
    if [ "$1" = segfault ]; then
        redis-cli -p "$KV_PORT" debug segfault >/dev/null 2>&1
    else
        kill -ABRT "$KV_PID"
    fi
    i=0
    while kill -0 "$KV_PID" 2>/dev/null && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
    wait "$KV_PID"
    status=$?
    untrack_pid "$KV_PID"
}

crash_run segfault "$TMP/segv.log"
log=$TMP/segv.log
[ "$status" = 139 ] && echo "ok   exit status 139 (SIGSEGV)" ||
    { echo "FAIL exit status $status, expected 139"; fail=1; }
expect "$log" "=== KVCORE BUG REPORT START" "report banner"
expect "$log" "crashed by signal: 11 (SIGSEGV)" "crashed by signal: 11"
expect "$log" "Crashed running the command: debug" "names the command"
expect "$log" "^EIP:" "faulting instruction section"
# (GCC may split the handler: its cold part is the frame kv_cmd_debug.part.N.)
expect "$log" "(kv_cmd_debug[.a-z0-9]*+0x" "a stack frame in kv_cmd_debug"
# The trace starts where the crash happened: its first frame is the debug handler.
first=$(sed -n '/^Backtrace:$/{n;p;q}' "$log")
case "$first" in
*"(kv_cmd_debug+0x"* | *"(kv_cmd_debug.part."*) echo "ok   the first backtrace frame is kv_cmd_debug" ;;
*) echo "FAIL first backtrace frame: '$first'"; fail=1 ;;
esac
# The dispatcher that runs handlers: kv_cmd_call's body is inlined into kv_cmd_process.
expect "$log" "(kv_cmd_process+0x" "a stack frame in kv_cmd_process (the dispatcher that runs handlers)"
expect "$log" "(kv_server_main+0x" "the stack reaches kv_server_main"
expect "$log" "^RIP:" "registers"
expect "$log" "------ INFO OUTPUT ------" "INFO section"
expect "$log" "redis_version:7.0.15" "INFO server fields"
expect "$log" "used_memory:" "INFO memory fields"
expect "$log" "db0:keys=1" "INFO keyspace"
expect "$log" "------ CLIENT LIST OUTPUT ------" "client list section"
expect "$log" "^id=.* cmd=debug " "the crashing client's line"
expect "$log" "argv\[1\]: '\"segfault\"'" "the crashing command's arguments"
expect "$log" "=== KVCORE BUG REPORT END" "report end"

crash_run abort "$TMP/abrt.log"
log=$TMP/abrt.log
[ "$status" = 134 ] && echo "ok   SIGABRT: exit status 134" ||
    { echo "FAIL SIGABRT: exit status $status, expected 134"; fail=1; }
expect "$log" "crashed by signal: 6 (SIGABRT)" "SIGABRT reported"
expect "$log" "(kv_loop_run+0x" "SIGABRT: stack from the event loop"
expect "$log" "=== KVCORE BUG REPORT END" "SIGABRT: report end"
[ $fail = 0 ] || sed -n '/BUG REPORT START/,/INFO OUTPUT/p' "$TMP/segv.log"
exit $fail
