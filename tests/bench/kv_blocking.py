#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""kv_blocking.py - what blocking costs a server (a report, never a pass/fail).

usage: kv_blocking.py PORT [N]   (N blocked clients, default 2000)

Prints: the time for N clients to block on one key (until INFO counts them) and the
used_memory per blocked client (connection buffers included); the time from one RPUSH of
N elements to the last of the N replies (served first come, first served); the time one
BLPOP on 10000 keys takes to block and to be served from the last key; used_memory after
every client left, against the start (what is left behind).
"""
import sys
import time

sys.path.insert(0, __file__.rsplit("/", 2)[0] + "/kv")
from resp_conn import Conn  # noqa: E402


def info(c, field, section="clients"):
    raw, _ = c.call(["INFO", section])
    for line in raw.decode().split("\r\n"):
        if line.startswith(field + ":"):
            return int(line.split(":", 1)[1])
    raise KeyError(field)


def wait_blocked(c, n):
    end = time.time() + 60
    while info(c, "blocked_clients") != n:
        if time.time() > end:
            raise TimeoutError("blocked_clients never became %d" % n)
        time.sleep(0.002)


def main():
    port = int(sys.argv[1])
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 2000
    adm = Conn(port, timeout=60)
    adm.cmd("FLUSHALL")
    time.sleep(0.2)  # INFO's memory figures are refreshed every 100 ms
    m0 = info(adm, "used_memory", "memory")
    cs = [Conn(port, timeout=60) for _ in range(n)]
    t = time.time()
    for c in cs:
        c.send(["BLPOP", "q", "0"])
    wait_blocked(adm, n)
    t_block = time.time() - t
    time.sleep(0.2)
    m1 = info(adm, "used_memory", "memory")
    t = time.time()
    adm.cmd("RPUSH", "q", *range(n))
    for c in cs:
        c.read()
    t_serve = time.time() - t
    keys = ["k%d" % i for i in range(10000)]
    t = time.time()
    cs[0].send(["BLPOP", *keys, "0"])
    wait_blocked(adm, 1)
    t_many = time.time() - t
    t = time.time()
    adm.cmd("RPUSH", "k9999", "v")
    cs[0].read()
    s_many = time.time() - t
    for c in cs:
        c.close()
    end = time.time() + 10
    while info(adm, "connected_clients") != 1 and time.time() < end:
        time.sleep(0.01)
    time.sleep(0.2)
    m2 = info(adm, "used_memory", "memory")
    print("%d clients block in %.3f s (%.0f B of used_memory each), served in %.3f s; "
          "BLPOP on 10000 keys blocks in %.3f s, served in %.4f s; used_memory after %+d B"
          % (n, t_block, (m1 - m0) / n, t_serve, t_many, s_many, m2 - m0))


if __name__ == "__main__":
    main()
