#!/bin/sh
# SPDX-License-Identifier: MIT
# One command with millions of arguments: `EXISTS k k ...` with 1M, 2M and 4M keys sent
# as one multibulk request over one connection (the server receives it in many reads),
# timed from the first byte sent to the reply. A parser that handles a partly received
# command in time proportional to what arrived scales linearly: the 4M/1M ratio is
# near 4. A parser that revisits every saved argument on each read is quadratic (ratio
# near 16). Redis 7.0 is measured the same way for reference. Median of
# KV_BENCH_ROUNDS (default 3) rounds per size.
# usage: BUILD=build sh tests/bench/kv_bigargs.sh   (KV_BENCH_SIZES="1 2 4", millions)
. "$(dirname "$0")/../lib.sh"
need_cmd redis-cli redis-server python3
ROUNDS=${KV_BENCH_ROUNDS:-3}
SIZES=${KV_BENCH_SIZES:-"1 2 4"}

kv_start_kvcore
kv_start_redis
for p in "$KV_PORT" "$REDIS_PORT"; do redis-cli -p "$p" set k v >/dev/null; done

python3 - "$KV_PORT" "$REDIS_PORT" "$ROUNDS" $SIZES <<'EOF'
import socket, statistics, sys, time

kv_port, redis_port, rounds = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
sizes = [int(x) * 1000000 for x in sys.argv[4:]]
ARG = b"$1\r\nk\r\n"

def request(n):
    return b"*%d\r\n$6\r\nEXISTS\r\n" % (n + 1) + ARG * n

def timed(port, req, n):
    s = socket.create_connection(("127.0.0.1", port), timeout=600)
    t0 = time.monotonic()
    s.sendall(req)
    buf = b""
    while not buf.endswith(b"\r\n"):
        d = s.recv(4096)
        if not d:
            break
        buf += d
    dt = time.monotonic() - t0
    s.close()
    want = b":%d\r\n" % n
    if buf != want:
        return None, buf[:80]
    return dt, None

print("EXISTS with N arguments in one request (seconds, median of %d)" % rounds)
print("%-9s %10s %10s" % ("N", "kvcore", "redis"))
res = {"kvcore": {}, "redis": {}}
for n in sizes:
    req = request(n)
    row = []
    for name, port in (("kvcore", kv_port), ("redis", redis_port)):
        times = []
        for _ in range(rounds):
            dt, bad = timed(port, req, n)
            if dt is None:
                print("%s: unexpected reply to %d arguments: %r" % (name, n, bad))
                sys.exit(1)
            times.append(dt)
        res[name][n] = statistics.median(times)
        row.append(res[name][n])
    print("%-9d %10.3f %10.3f" % (n, row[0], row[1]))
lo, hi = min(sizes), max(sizes)
if lo != hi:
    for name in ("kvcore", "redis"):
        r = res[name][hi] / res[name][lo]
        print("%s time ratio %dM/%dM: %.2f (linear: %.0f, quadratic: %.0f)" %
              (name, hi // 1000000, lo // 1000000, r, hi / lo, (hi / lo) ** 2))
EOF
