#!/bin/sh
# SPDX-License-Identifier: MIT
# kvcore pub/sub side by side with Debian's redis-server:
#  1. bytes per subscription (used_memory delta / N, read 0.5 s after the load) for one client
#     subscribed to N patterns, then to N channels (each client closed before the next);
#  2. the mean time of a PUBLISH that has to match N patterns (200 publishes, one match
#     each, timed at the client);
# Reports only; never fails on a number.
# usage: BUILD=build sh tests/bench/kv_pubsub.sh   (KV_BENCH_PATTERNS=N default 100000)
. "$(dirname "$0")/../lib.sh"
need_cmd redis-cli redis-server python3
N=${KV_BENCH_PATTERNS:-100000}
kv_start_kvcore --save ''
kv_start_redis

measure() { # port
    python3 - "$1" "$N" <<'PY'
import sys, time
sys.path.insert(0, "tests/kv")
from resp_conn import Conn, PlainConn
port, n = int(sys.argv[1]), int(sys.argv[2])
ctl = PlainConn(port, timeout=120)

def used():
    time.sleep(0.5)
    for line in ctl.cmd("INFO", "memory").decode().split("\r\n"):
        if line.startswith("used_memory:"):
            return int(line.split(":")[1])

def subscribe(cmd, fmt):
    c = Conn(port, timeout=120)
    for b in range(0, n, 1000):
        k = min(1000, n - b)
        c.send([cmd] + [fmt % (b + i) for i in range(k)])
        for _ in range(k):
            c.read()
    return c

base = used()
s = subscribe("PSUBSCRIBE", "p:%d:*")
per_pattern = (used() - base) / n
t = time.time()
for i in range(200):
    ctl.cmd("PUBLISH", "p:%d:x" % (i * (n // 200)), "m")
publish_ms = (time.time() - t) / 200 * 1000
s.close()
while ctl.cmd("PUBSUB", "NUMPAT") != 0:
    time.sleep(0.05)
base = used()
s = subscribe("SUBSCRIBE", "c:%d")
per_channel = (used() - base) / n
s.close()
print("%.1f %.1f %.2f" % (per_pattern, per_channel, publish_ms))
PY
}

echo "kv_pubsub: $N subscriptions by one client; used_memory delta per subscription"
printf '%-8s %12s %12s %24s\n' server B/pattern B/channel "PUBLISH ms ($N patterns)"
for who in kvcore redis; do
    if [ $who = kvcore ]; then port=$KV_PORT; else port=$REDIS_PORT; fi
    # shellcheck disable=SC2046
    set -- $(measure "$port")
    printf '%-8s %12s %12s %24s\n' $who "$1" "$2" "$3"
done
