# SPDX-License-Identifier: MIT
# tests/helpers/serve_lib.sh: shared by tests/integration/serve_*.sh (sourced after
# tests/lib.sh). Every process under the shim and the agent share XDG_RUNTIME_DIR=$TMP/xdg.
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
