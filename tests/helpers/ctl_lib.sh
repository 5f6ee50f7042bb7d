# SPDX-License-Identifier: MIT
# Shared by tests/integration/ctl_*.sh (sourced, POSIX sh): a private socket directory,
# one ctl_holder under the shim with MEMSHIM_CTL=1, driven line by line through a fifo.
#   ctl_setup              checks the build, makes $tmp, exports XDG_RUNTIME_DIR=$tmp/xdg
#   holder_start [VAR=...] starts the holder; sets $hpid and $sock, waits for the socket
#   say CMD                sends one line to the holder, prints its one-line answer
#   wait_path PATH [GONE]  waits (5 s) for PATH to exist, or with GONE=1 to disappear
#   fail MSG               prints FAIL: MSG and exits 1 (the trap cleans up)
# Binaries: $M (memshim), $lib (libmemshim.so), $holder.

fail() {
    echo "FAIL: $*"
    exit 1
}

ctl_setup() {
    BUILD=${BUILD:-build}
    top=$(cd "$(dirname "$0")/../.." && pwd)
    cd "$top" || exit 2
    [ -n "${MEMSHIM_SAN:-}" ] && { echo "preload test: skipped under a sanitizer"; exit 77; }
    lib="$top/$BUILD/libmemshim.so"
    M="$top/$BUILD/memshim"
    holder="$top/$BUILD/tests/helpers/ctl_holder"
    for f in "$lib" "$M" "$holder"; do [ -e "$f" ] || { echo "missing $f"; exit 2; }; done
    tmp=$(mktemp -d /tmp/memshim-ctltest.XXXXXX)
    XDG_RUNTIME_DIR="$tmp/xdg"
    export XDG_RUNTIME_DIR
    mkdir -m 700 "$XDG_RUNTIME_DIR"
    sockdir="$XDG_RUNTIME_DIR/memshim"
    hpid=
    trap ctl_cleanup EXIT
    trap 'exit 143' INT TERM # e.g. the runner's timeout: still clean up through EXIT
}

ctl_cleanup() {
    exec 3>&- 2>/dev/null
    [ -n "$hpid" ] && kill -9 "$hpid" 2>/dev/null
    [ -n "${extra_pids:-}" ] && kill -9 $extra_pids 2>/dev/null
    wait 2>/dev/null
    rm -rf "$tmp"
}

wait_path() { # PATH [GONE]
    i=0
    while [ $i -lt 250 ]; do
        if [ "${2:-0}" = 1 ]; then [ -e "$1" ] || return 0; else [ -e "$1" ] && return 0; fi
        sleep 0.02
        i=$((i + 1))
    done
    return 1
}

holder_start() { # [VAR=value...]
    mkfifo "$tmp/in"
    env "$@" MEMSHIM_CTL=1 LD_PRELOAD="$lib" "$holder" <"$tmp/in" >"$tmp/out" 2>"$tmp/err" &
    hpid=$!
    exec 3>"$tmp/in"
    i=0
    until grep -q '^ready ' "$tmp/out" 2>/dev/null; do
        i=$((i + 1))
        [ $i -gt 250 ] && fail "holder did not start: $(cat "$tmp/err")"
        sleep 0.02
    done
    [ "$(sed -n 's/^ready //p' "$tmp/out")" = "$hpid" ] || fail "holder pid mismatch"
    sock="$sockdir/$hpid.sock"
    wait_path "$sock" || fail "no control socket $sock: $(cat "$tmp/err")"
}

say() { # CMD: one line to the holder, its one-line answer on stdout
    n=$(wc -l <"$tmp/out")
    echo "$1" >&3
    i=0
    while [ "$(wc -l <"$tmp/out")" -le "$n" ]; do
        i=$((i + 1))
        [ $i -gt 1500 ] && fail "holder did not answer '$1'"
        sleep 0.02
    done
    tail -n 1 "$tmp/out"
}
