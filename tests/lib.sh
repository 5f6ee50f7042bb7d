# SPDX-License-Identifier: MIT
# tests/lib.sh: the one shell library of the integration tests (tests/integration/*.sh)
# and the benchmarks (tests/bench/*.sh). POSIX sh; a script sources it first:
#     . "$(dirname "$0")/../lib.sh"
# Sourcing it changes to the top of the tree, sets the paths below, makes a scratch
# directory $TMP and installs the one EXIT trap that cleans up (INT and TERM, e.g. the
# runner's timeout, exit through it). A script that needs more cleanup adds a process
# with track_pid; it never sets its own trap.
#
# Exit codes (what tests/run.sh expects): 0 pass, 77 skip (the reason is the last line
# printed), 1 a failed assertion, 2 not built (a program or helper the script needs is
# missing: `make` builds everything before `make test`, so that is a failure, not a skip).
#
# Paths (absolute):
#   top        the top of the tree (the working directory)
#   BUILD      from the environment, default "build"; BUILD_ABS is its absolute path
#   SHIM       $BUILD/libmemshim.so        MS  $BUILD/memshim     HP  $BUILD/heapprof
#   KV_BIN     $BUILD/kvcore-server (KV_BIN from the environment wins)
#   HELPERS    $BUILD/tests/helpers (for hp_setup under a sanitizer: unsanitized copies)
#   KV_LOAD    $HELPERS/kv_load            CTL_HOLDER $HELPERS/ctl_holder
#   TMP        the scratch directory, removed at exit
#
# General:
#   fail MSG...            prints "FAIL: MSG" and exits 1
#   skip REASON...         prints "skipped: REASON" and exits 77
#   need_built FILE...     exits 2 ("not built") unless every FILE exists
#   need_helper NAME       need_built $HELPERS/NAME (hp_setup under a sanitizer: builds it)
#   need_cmd CMD...        skips unless every CMD is installed
#   need_preload           skips under a sanitizer (MEMSHIM_SAN=1): the sanitizer owns
#                          malloc, so libmemshim.so carries no overrides to preload
#   need_root WHY          skips unless running as root (WHY: what root is needed for)
#   need_runuser           need_root + skips unless runuser is installed
#   need_sys_python        sets $py to /usr/bin/python3; skips when it is not there
#   free_port              prints a free loopback TCP port
#   wait_for N SECS CMD... runs CMD up to N times, SECS apart, until it succeeds (status 1
#                          when it never did)
#   wait_path PATH [GONE]  waits (5 s) for PATH to exist, or with GONE=1 to disappear
#   track_pid PID          stop PID at exit (SIGTERM, then SIGKILL after 5 s, 60 s under
#                          KV_SERVER_WRAPPER); untrack_pid PID forgets it
#   stop_pid PID           stops PID now the same way and forgets it; status 1 (and a
#                          message) when it ran under KV_SERVER_WRAPPER and exited 99
#
# Redis protocol servers (kvcore-server and Debian's redis-server 7 as the reference):
#   kv_start_kvcore [--name value]  starts $KV_BIN (under $KV_SERVER_WRAPPER when set) with
#                                   --dir $TMP (files it writes: AOF, RDB; a later --dir
#                                   wins); sets KV_PORT, KV_PID; log $TMP/kvcore.PORT.log
#   kv_start_redis [--name value]   starts redis-server (skips when not installed); sets
#                                   REDIS_PORT, REDIS_PID; log $TMP/redis.PORT.log
#   kv_wait_ready PORT PID          waits until PING answers (status 1 after ~10 s, ~60 s
#                                   under a wrapper, or when PID exits)
#   kv_info PORT FIELD [SECTION]    one INFO field (SECTION default: everything)
#   kv_alive PORT                   true when the server answers PING
#   kv_settle PORT                  waits until no keyspace table is rehashing and
#                                   used_memory is stable (at most ~35 s)
#   check NAME WANT GOT             prints "ok   NAME", or "FAIL NAME: ..." and sets
#                                   fail=1 (the script sets fail=0 first, exits $fail)
# KVCORE_CHECK_REPLIES is exported as "abort" for tests (not benchmarks) unless already
# set: kvcore-server then aborts when a command announces one reply count and writes
# another. KV_SERVER_WRAPPER (set by `make valgrind`): a command kvcore-server runs under,
# e.g. "valgrind --error-exitcode=99 ..."; at exit a server that exited 99 (errors or
# definite leaks) fails the test and its log is printed. A sanitizer report in a server
# log fails the test too.
#
# Stress (stress_kv_*.sh, soak_kv.sh):
#   stress_need_load                skips under KV_SERVER_WRAPPER; needs $KV_LOAD built
#   checker_start [checker args]    runs tests/kv/checker.py on $KV_PORT (its own db 9)
#   checker_stop                    stops it, prints its summary; returns its status
#
# memshim ctl (ctl_*.sh): one ctl_holder under the shim with MEMSHIM_CTL=1, driven line
# by line through a fifo:
#   ctl_xdg                 exports XDG_RUNTIME_DIR=$TMP/xdg (mode 700); sets $sockdir
#   ctl_setup               need_preload, needs SHIM MS CTL_HOLDER, ctl_xdg
#   ctl_nobody PROG         for a second user, nobody (needs runuser, root): defines
#                           as_nobody CMD..., lets nobody traverse $TMP (mode 711), skips
#                           unless nobody can run PROG; sets $nuid and makes $nxdg
#                           ($TMP/xdg-nobody) and $nsockdir ($nxdg/memshim), nobody's, 700
#   holder_start [VAR=...]  starts the holder; sets $hpid and $sock, waits for the socket
#   say CMD                 sends one line to the holder, prints its one-line answer
#   $extra_pids             more processes killed (SIGKILL) at exit, as $hpid is
#
# Heap profiles (hp_*.sh, hp_vs_jeprof.sh): Debian's own jemalloc writes the dumps.
#   hp_setup                needs $HP; skips without Debian's libjemalloc2 ($JEMALLOC);
#                           under a sanitizer $HELPERS is $TMP/helpers, where need_helper
#                           builds unsanitized copies (they must take Debian's jemalloc)
#   jemalloc_run DIR LG PROG ARGS...  PROG under Debian's jemalloc, profiling on
#                           (sample 2^LG bytes), a final dump at exit: its path in $DUMP
#   flat_of FILE NAME       the flat bytes of entry NAME in `heapprof top` text output
#   within VALUE WANT PCT   VALUE is within PCT percent of WANT
#
# Shim (shim_*.sh, stress_shim_*.sh):
#   same_output NAME CMD... CMD without and with the shim preloaded (stdin from
#                           $TMP/NAME.in when present): same stdout and exit status

# --- paths, scratch directory, cleanup ---
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 2
BUILD=${BUILD:-build}
case $BUILD in /*) BUILD_ABS=$BUILD ;; *) BUILD_ABS=$top/$BUILD ;; esac
SHIM=$BUILD_ABS/libmemshim.so
MS=$BUILD_ABS/memshim
HP=$BUILD_ABS/heapprof
KV_BIN=${KV_BIN:-$BUILD_ABS/kvcore-server}
HELPERS=$BUILD_ABS/tests/helpers
KV_LOAD=$HELPERS/kv_load
CTL_HOLDER=$HELPERS/ctl_holder
TMP=$(mktemp -d "${TMPDIR:-/tmp}/memshim-test.XXXXXX") || exit 2
PIDS=""
KV_STARTED=0
hpid=
extra_pids=
CTL_FIFO=0

lib_cleanup() { # exit status
    rc=$1
    [ $CTL_FIFO = 1 ] && exec 3>&-
    [ -n "$hpid" ] && kill -9 "$hpid" 2>/dev/null
    # shellcheck disable=SC2086
    [ -n "$extra_pids" ] && kill -9 $extra_pids 2>/dev/null
    for p in $PIDS; do kill "$p" 2>/dev/null; done
    wrapped_bad=""
    for p in $PIDS; do
        lib_reap "$p" || wrapped_bad="$wrapped_bad $p"
    done
    # shellcheck disable=SC2086
    [ -n "$hpid$extra_pids" ] && wait $hpid $extra_pids 2>/dev/null
    if [ -n "$wrapped_bad" ]; then
        echo "kvcore-server under '$KV_SERVER_WRAPPER' reported errors (pid$wrapped_bad):"
        sed -n '1,80p' "$TMP"/kvcore.*.log
        rc=1
    fi
    # Sanitizer builds: a report in any log of a test that ran servers fails the test.
    if [ $KV_STARTED = 1 ]; then
        san=$(grep -l -E 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$TMP"/*.log 2>/dev/null)
        for f in $san; do
            echo "sanitizer report in $f:"
            sed -n '1,60p' "$f"
            rc=1
        done
    fi
    rm -rf "$TMP"
    exit $rc
}
trap 'lib_cleanup $?' EXIT
trap 'exit 143' INT TERM

# lib_reap PID: PID was sent SIGTERM; waits (bounded), then SIGKILL. Status 1 when it ran
# under KV_SERVER_WRAPPER and exited 99.
lib_reap() {
    i=0
    limit=50
    [ -z "${KV_SERVER_WRAPPER:-}" ] || limit=600
    while kill -0 "$1" 2>/dev/null && [ $i -lt $limit ]; do
        sleep 0.1
        i=$((i + 1))
    done
    kill -9 "$1" 2>/dev/null
    if [ -n "${KV_SERVER_WRAPPER:-}" ]; then
        wait "$1" 2>/dev/null
        [ $? = 99 ] && return 1
    fi
    return 0
}

track_pid() {
    PIDS="$PIDS $1"
}

untrack_pid() {
    PIDS=$(echo " $PIDS " | sed "s/ $1 / /g")
}

stop_pid() {
    kill "$1" 2>/dev/null
    untrack_pid "$1"
    lib_reap "$1" && return 0
    echo "pid $1 under '$KV_SERVER_WRAPPER' reported errors"
    return 1
}

# --- general helpers ---
fail() {
    echo "FAIL: $*"
    exit 1
}

skip() {
    echo "skipped: $*"
    exit 77
}

need_built() {
    for f in "$@"; do
        [ -e "$f" ] || {
            echo "not built: $f (make BUILD=$BUILD all unit-bins)"
            exit 2
        }
    done
}

need_cmd() {
    for c in "$@"; do
        command -v "$c" >/dev/null 2>&1 || skip "$c is not installed"
    done
}

need_preload() {
    [ -z "${MEMSHIM_SAN:-}" ] ||
        skip "sanitizer build: the sanitizer owns malloc, libmemshim.so is not preloadable"
}

need_root() {
    [ "$(id -u)" = 0 ] || skip "needs root ($*)"
}

need_runuser() {
    need_root "to run processes as nobody"
    need_cmd runuser
}

need_sys_python() {
    py=/usr/bin/python3
    [ -x "$py" ] || skip "no /usr/bin/python3"
}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

wait_for() { # tries seconds cmd...
    wf_n=$1
    wf_s=$2
    shift 2
    wf_i=0
    while [ $wf_i -lt "$wf_n" ]; do
        "$@" && return 0
        sleep "$wf_s"
        wf_i=$((wf_i + 1))
    done
    return 1
}

wait_path() { # PATH [GONE]
    if [ "${2:-0}" = 1 ]; then
        wait_for 250 0.02 lib_absent "$1"
    else
        wait_for 250 0.02 test -e "$1"
    fi
}
lib_absent() { [ ! -e "$1" ]; }

# --- Redis protocol servers ---
case $0 in */bench/*) ;; *) export KVCORE_CHECK_REPLIES="${KVCORE_CHECK_REPLIES-abort}" ;; esac

kv_wait_ready() { # port pid
    i=0
    limit=100
    [ -z "${KV_SERVER_WRAPPER:-}" ] || limit=600
    while [ $i -lt $limit ]; do
        if ! kill -0 "$2" 2>/dev/null; then
            echo "server on port $1 exited during start-up"
            return 1
        fi
        [ "$(redis-cli -p "$1" ping 2>/dev/null)" = PONG ] && return 0
        sleep 0.1
        i=$((i + 1))
    done
    echo "server on port $1 not ready"
    return 1
}

kv_start_kvcore() {
    need_built "$KV_BIN"
    KV_PORT=$(free_port)
    KV_STARTED=1
    # shellcheck disable=SC2086
    ${KV_SERVER_WRAPPER:-} "$KV_BIN" --bind 127.0.0.1 --port "$KV_PORT" --save '' --dir "$TMP" "$@" \
        >"$TMP/kvcore.$KV_PORT.log" 2>&1 &
    KV_PID=$!
    track_pid "$KV_PID"
    kv_wait_ready "$KV_PORT" "$KV_PID" || { cat "$TMP/kvcore.$KV_PORT.log"; exit 1; }
}

kv_start_redis() {
    need_cmd redis-server
    REDIS_PORT=$(free_port)
    KV_STARTED=1
    redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --save '' --appendonly no \
        --daemonize no --dir "$TMP" "$@" >"$TMP/redis.$REDIS_PORT.log" 2>&1 &
    REDIS_PID=$!
    track_pid "$REDIS_PID"
    kv_wait_ready "$REDIS_PORT" "$REDIS_PID" || { cat "$TMP/redis.$REDIS_PORT.log"; exit 1; }
}

kv_info() { # port field [section]
    redis-cli -p "$1" info "${3:-everything}" | tr -d '\r' | sed -n "s/^$2://p"
}

kv_alive() { # port
    [ "$(redis-cli -p "$1" ping 2>/dev/null)" = PONG ]
}

check() { # name expected actual
    if [ "$2" = "$3" ]; then
        echo "ok   $1"
    else
        echo "FAIL $1: expected [$2] got [$3]"
        fail=1
    fi
}

# Prints 1 while a keyspace table of the server on PORT is still rehashing: MEMORY STATS
# for kvcore (KV_PORT), DEBUG HTSTATS for redis-server.
kv_rehashing() { # port
    if [ "$1" = "${KV_PORT:-}" ]; then
        redis-cli -p "$1" memory stats | grep -A1 -x 'db.dict.rehashing.count' | tail -1 |
            grep -qvx 0 && echo 1
    else
        redis-cli -p "$1" debug htstats 0 | grep -q 'rehashing target' && echo 1
    fi
}

kv_settle() { # port
    i=0
    while [ $i -lt 120 ] && [ -n "$(kv_rehashing "$1")" ]; do
        sleep 0.25
        i=$((i + 1))
    done
    last=0
    i=0
    while [ $i -lt 20 ]; do
        cur=$(kv_info "$1" used_memory memory)
        [ "$cur" = "$last" ] && break
        last=$cur
        sleep 0.25
        i=$((i + 1))
    done
}

# --- stress ---
stress_need_load() {
    [ -z "${KV_SERVER_WRAPPER:-}" ] ||
        skip "stress and soak run natively and under ASan, too slow under valgrind"
    need_built "$KV_LOAD"
}

checker_start() {
    CHECK_STOP=$TMP/checker.stop
    CHECK_OUT=$TMP/checker.out
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

# --- memshim ctl ---
ctl_xdg() {
    XDG_RUNTIME_DIR="$TMP/xdg"
    export XDG_RUNTIME_DIR
    mkdir -m 700 "$XDG_RUNTIME_DIR"
    sockdir="$XDG_RUNTIME_DIR/memshim"
}

ctl_setup() {
    need_preload
    need_built "$SHIM" "$MS" "$CTL_HOLDER"
    ctl_xdg
}

ctl_nobody() { # PROG
    need_runuser
    as_nobody() { runuser -u nobody -- "$@"; }
    as_nobody true 2>/dev/null || skip "cannot switch to nobody here"
    chmod 711 "$TMP" # nobody may traverse $TMP, not list it; $TMP/xdg stays root's
    as_nobody test -x "$1" || skip "nobody cannot execute $1"
    nuid=$(id -u nobody)
    nxdg="$TMP/xdg-nobody"
    nsockdir="$nxdg/memshim"
    mkdir -m 700 "$nxdg" && chown nobody "$nxdg"
    as_nobody mkdir -m 700 "$nsockdir" || fail "mkdir as nobody"
}

holder_start() { # [VAR=value...]
    mkfifo "$TMP/in"
    env "$@" MEMSHIM_CTL=1 LD_PRELOAD="$SHIM" "$CTL_HOLDER" <"$TMP/in" >"$TMP/out" 2>"$TMP/err" &
    hpid=$!
    exec 3>"$TMP/in"
    CTL_FIFO=1
    wait_for 250 0.02 grep -q '^ready ' "$TMP/out" 2>/dev/null ||
        fail "holder did not start: $(cat "$TMP/err")"
    [ "$(sed -n 's/^ready //p' "$TMP/out")" = "$hpid" ] || fail "holder pid mismatch"
    sock="$sockdir/$hpid.sock"
    wait_path "$sock" || fail "no control socket $sock: $(cat "$TMP/err")"
}

say() { # CMD: one line to the holder, its one-line answer on stdout
    n=$(wc -l <"$TMP/out")
    echo "$1" >&3
    i=0
    while [ "$(wc -l <"$TMP/out")" -le "$n" ]; do
        i=$((i + 1))
        [ $i -gt 1500 ] && fail "holder did not answer '$1'"
        sleep 0.02
    done
    tail -n 1 "$TMP/out"
}

# --- heap profiles ---
HP_SAN=0

hp_setup() {
    need_built "$HP"
    JEMALLOC=$(ls /usr/lib/x86_64-linux-gnu/libjemalloc.so.2 /usr/lib/*/libjemalloc.so.2 2>/dev/null | head -n 1)
    [ -n "$JEMALLOC" ] || skip "Debian's libjemalloc2 is not installed"
    if [ "${MEMSHIM_SAN:-}" = 1 ]; then
        HP_SAN=1
        HELPERS="$TMP/helpers"
        mkdir -p "$HELPERS"
    fi
}

need_helper() { # name
    if [ "$HP_SAN" = 1 ] && [ ! -x "$HELPERS/$1" ]; then
        if [ -f "tests/helpers/$1.c" ]; then
            cc -std=c11 -D_GNU_SOURCE -O1 -g -fno-omit-frame-pointer -fno-inline \
                -o "$HELPERS/$1" "tests/helpers/$1.c" -lpthread -ldl || fail "cannot build $1"
        else
            c++ -std=c++17 -O1 -g -o "$HELPERS/$1" "tests/helpers/$1.cc" -lpthread || fail "cannot build $1"
        fi
    fi
    need_built "$HELPERS/$1"
}

jemalloc_run() { # dir lg prog args...
    dir=$1
    lg=$2
    shift 2
    mkdir -p "$dir"
    env LD_PRELOAD="$JEMALLOC" MALLOC_CONF="prof:true,prof_final:true,lg_prof_sample:$lg,prof_prefix:$dir/jeprof" \
        "$@" >"$dir/stdout" 2>"$dir/stderr" || fail "$* exited $? under jemalloc: $(cat "$dir/stderr")"
    set -- "$dir"/jeprof.*.f.heap
    [ $# -eq 1 ] && [ -f "$1" ] || fail "expected one final dump in $dir, found: $(ls "$dir")"
    DUMP=$1
}

flat_of() { # file name
    awk -v n="$2" 'NR > 2 && $NF == n { print $1; exit }' "$1"
}

within() { # value want pct
    awk -v v="$1" -v w="$2" -v p="$3" 'BEGIN { d = v - w; if (d < 0) d = -d; exit !(v != "" && d <= w * p / 100) }'
}

# --- shim ---
same_output() { # name cmd...
    name=$1
    shift
    in=/dev/null
    [ -f "$TMP/$name.in" ] && in="$TMP/$name.in"
    "$@" <"$in" >"$TMP/$name.plain" 2>"$TMP/$name.plain.err"
    rc1=$?
    LD_PRELOAD="$SHIM" "$@" <"$in" >"$TMP/$name.shim" 2>"$TMP/$name.shim.err"
    rc2=$?
    [ "$rc1" = "$rc2" ] || fail "$name: exit status $rc1 without the shim, $rc2 with it"
    cmp -s "$TMP/$name.plain" "$TMP/$name.shim" ||
        fail "$name: output differs under the shim ($(wc -c <"$TMP/$name.plain") vs $(wc -c <"$TMP/$name.shim") bytes)"
    echo "ok: $name: $(wc -c <"$TMP/$name.plain") identical bytes, exit $rc1"
}

# --- memshim serve (serve_*.sh) ---
# Every process under the shim and the agent share XDG_RUNTIME_DIR=$TMP/xdg.
#   serve_setup                  ctl_setup and python3; writes $TMP/sv_http.py
#   proc_start NAME [VAR=v...]   a ctl_holder under the shim with MEMSHIM_CTL=1, fed by
#                                the fifo $TMP/NAME.in (fd 4, 5, ... per process); sets
#                                NAME_pid and waits for its control socket
#   proc_say NAME CMD            one line to the holder NAME; its one-line answer on stdout
#   proc_quit NAME               tells NAME to exit and waits for it
#   serve_start [ARGS...]        memshim serve --listen 127.0.0.1:0 ARGS; sets SERVE_URL
#                                (http://127.0.0.1:PORT), SERVE_PORT and SERVE_PID
#   http_get URL [HEADER]        GET with python3 (no proxy); prints the status, the body
#                                goes to $TMP/body (000 when the connection failed)
#   http_raw BYTES_FILE          sends the file's bytes as they are to the agent; prints
#                                the status code of the answer (000: none)
#   serve_alive                  the agent runs and answers GET / with 200

serve_setup() {
    ctl_setup
    need_cmd python3
    sv_fd=4
    cat >"$TMP/sv_http.py" <<'PYEOF'
import http.client, socket, sys, urllib.parse
mode = sys.argv[1]
if mode == "get":
    u = urllib.parse.urlsplit(sys.argv[2])
    headers = {}
    if len(sys.argv) > 4 and sys.argv[4]:
        k, v = sys.argv[4].split(":", 1)
        headers[k.strip()] = v.strip()
    try:
        c = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
        c.request("GET", u.path + ("?" + u.query if u.query else ""), headers=headers)
        r = c.getresponse()
        body = r.read()
        open(sys.argv[3], "wb").write(body)
        print(r.status)
    except Exception as e:
        open(sys.argv[3], "wb").write(str(e).encode())
        print("000")
else:  # raw PORT FILE OUT
    s = socket.create_connection(("127.0.0.1", int(sys.argv[2])), timeout=60)
    data = open(sys.argv[3], "rb").read()
    try:
        s.sendall(data)
    except (BrokenPipeError, ConnectionResetError):
        pass
    got = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            got += chunk
    except (socket.timeout, ConnectionResetError):
        pass
    open(sys.argv[4], "wb").write(got)
    parts = got.split(b" ", 2)
    print(parts[1].decode() if len(parts) > 1 and got.startswith(b"HTTP/1.1 ") else "000")
PYEOF
}

proc_start() { # NAME [VAR=value...]
    ps_name=$1
    shift
    mkfifo "$TMP/$ps_name.in"
    env "$@" MEMSHIM_CTL=1 LD_PRELOAD="$SHIM" "$CTL_HOLDER" <"$TMP/$ps_name.in" \
        >"$TMP/$ps_name.out" 2>"$TMP/$ps_name.err" &
    ps_pid=$!
    track_pid "$ps_pid"
    eval "exec $sv_fd>\"\$TMP/\$ps_name.in\""
    eval "${ps_name}_fd=$sv_fd ${ps_name}_pid=$ps_pid"
    sv_fd=$((sv_fd + 1))
    wait_for 250 0.02 grep -q '^ready ' "$TMP/$ps_name.out" 2>/dev/null ||
        fail "$ps_name did not start: $(cat "$TMP/$ps_name.err")"
    wait_path "$sockdir/$ps_pid.sock" || fail "no control socket for $ps_name"
}

proc_say() { # NAME CMD
    eval "ps_fd=\$${1}_fd"
    ps_n=$(wc -l <"$TMP/$1.out")
    eval "echo \"\$2\" >&$ps_fd"
    ps_i=0
    while [ "$(wc -l <"$TMP/$1.out")" -le "$ps_n" ]; do
        ps_i=$((ps_i + 1))
        [ $ps_i -gt 1500 ] && fail "$1 did not answer '$2'"
        sleep 0.02
    done
    tail -n 1 "$TMP/$1.out"
}

proc_quit() { # NAME
    eval "ps_fd=\$${1}_fd ps_pid=\$${1}_pid"
    eval "echo quit >&$ps_fd"
    eval "exec $ps_fd>&-"
    wait "$ps_pid"
    untrack_pid "$ps_pid"
}

serve_start() { # [ARGS...]
    "$MS" serve --listen 127.0.0.1:0 "$@" >"$TMP/serve.out" 2>"$TMP/serve.err" &
    SERVE_PID=$!
    track_pid "$SERVE_PID"
    wait_for 250 0.02 grep -q 'listening on http://' "$TMP/serve.out" ||
        fail "memshim serve did not start: $(cat "$TMP/serve.err")"
    SERVE_URL=$(sed -n 's|.*listening on \(http://[^/]*\)/$|\1|p' "$TMP/serve.out" | head -n 1)
    SERVE_PORT=${SERVE_URL##*:}
}

http_get() { # URL [HEADER]
    python3 "$TMP/sv_http.py" get "$1" "$TMP/body" "${2:-}"
}

http_raw() { # BYTES_FILE
    python3 "$TMP/sv_http.py" raw "$SERVE_PORT" "$1" "$TMP/body"
}

serve_alive() {
    kill -0 "$SERVE_PID" 2>/dev/null && [ "$(http_get "$SERVE_URL/")" = 200 ]
}
