#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""pubsub_load.py - publish/subscribe under load, against one kvcore-server.

usage: pubsub_load.py PORT patterns N      one client subscribes to N patterns (100 commands
                                           of N/100), publishes reach exactly the matching
                                           one, PUNSUBSCRIBE answers N times with exact
                                           counts; a second client with N patterns
                                           disconnects; nothing is left and used_memory
                                           comes back
       pubsub_load.py PORT slow MEGABYTES  a subscriber that never reads while a publisher
                                           sends MEGABYTES of messages: a third client is
                                           answered throughout, the subscriber is dropped by
                                           the pubsub output-buffer limit, used_memory comes
                                           back
With PUBSUB_LOAD_NO_MEMORY=1 in the environment the used_memory checks are left out (a
sanitizer or valgrind owns malloc, so jemalloc's figure means nothing).
Prints one "ok ..." line per check; exits 1 at the first failed one.
"""
import os
import socket
import sys
import time

from resp_conn import Conn, PlainConn


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def check(name, cond, detail=""):
    if not cond:
        fail("%s %s" % (name, detail))
    print("ok   " + name)


def info_field(c, field):
    text = c.cmd("INFO", "everything").decode()
    for line in text.split("\r\n"):
        if line.startswith(field + ":"):
            return line.split(":", 1)[1]
    fail("INFO has no " + field)


def wait_until(what, fn, seconds=60):
    """Polls fn (bounded) until it returns a true value; fails with `what` otherwise."""
    deadline = time.time() + seconds
    while time.time() < deadline:
        v = fn()
        if v:
            return v
        time.sleep(0.05)
    fail("timed out waiting for " + what)


MEMORY = os.environ.get("PUBSUB_LOAD_NO_MEMORY") != "1"


def memory_back(c, baseline, slack):
    if not MEMORY:
        print("ok   used_memory check left out (PUBSUB_LOAD_NO_MEMORY)")
        return
    wait_until("used_memory to return below baseline + %d bytes" % slack,
               lambda: int(info_field(c, "used_memory")) <= baseline + slack)
    print("ok   used_memory back within %d MB of %d" % (slack >> 20, baseline))


def subscribe_patterns(port, n, tag):
    conn = Conn(port, timeout=60)
    per = max(n // 100, 1)
    done = 0
    while done < n:
        k = min(per, n - done)
        conn.send(["PSUBSCRIBE"] + ["%s:%d:*" % (tag, done + i) for i in range(k)])
        for i in range(k):
            _, v = conn.read()
            if v[1][2] != (b":", str(done + i + 1).encode()):
                fail("PSUBSCRIBE reply %d: %r" % (done + i, v))
        done += k
    return conn


def run_patterns(port, n):
    ctl = PlainConn(port, timeout=60)
    baseline = int(info_field(ctl, "used_memory"))
    sub = subscribe_patterns(port, n, "p")
    check("NUMPAT counts %d patterns" % n, ctl.cmd("PUBSUB", "NUMPAT") == n)
    check("INFO pubsub_patterns", info_field(ctl, "pubsub_patterns") == str(n))
    line = [x for x in ctl.cmd("CLIENT", "LIST").decode().split("\n") if "psub=%d " % n in x]
    check("CLIENT LIST psub=%d flags=P" % n, len(line) == 1 and "flags=P " in line[0], line)
    for probe in (0, n // 2, n - 1):
        got = ctl.cmd("PUBLISH", "p:%d:x" % probe, "m%d" % probe)
        check("PUBLISH reaches exactly pattern %d" % probe, got == 1, got)
        _, v = sub.read()
        want = [b"pmessage", b"p:%d:*" % probe, b"p:%d:x" % probe, b"m%d" % probe]
        check("pmessage for pattern %d" % probe, [x[1] for x in v[1]] == want, v)
    check("no pattern matches q:1", ctl.cmd("PUBLISH", "q:1", "x") == 0)
    # The second subscriber disconnects with all of its patterns.
    other = subscribe_patterns(port, n, "o")
    check("NUMPAT counts both", ctl.cmd("PUBSUB", "NUMPAT") == 2 * n)
    other.close()
    wait_until("the disconnected client's patterns to go",
               lambda: ctl.cmd("PUBSUB", "NUMPAT") == n)
    print("ok   disconnect removed %d patterns" % n)
    # PUNSUBSCRIBE with no argument: one reply per pattern, in subscription order.
    sub.send(["PUNSUBSCRIBE"])
    for i in range(n):
        _, v = sub.read()
        if v[1][1] != (b"$", b"p:%d:*" % i) or v[1][2] != (b":", str(n - i - 1).encode()):
            fail("PUNSUBSCRIBE reply %d: %r" % (i, v))
    print("ok   PUNSUBSCRIBE answered %d times in order with exact counts" % n)
    check("subscribed mode left", sub.call(["GET", "x"])[1] == (b"$", None))
    check("NUMPAT 0", ctl.cmd("PUBSUB", "NUMPAT") == 0)
    check("INFO pubsub_patterns 0", info_field(ctl, "pubsub_patterns") == "0")
    sub.close()
    memory_back(ctl, baseline, 4 << 20)


def slow_subscriber(port):
    """A subscriber with a small receive buffer that never reads."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.settimeout(30)
    s.connect(("127.0.0.1", port))
    s.sendall(Conn.encode(["CLIENT", "ID"]) + Conn.encode(["SUBSCRIBE", "flood"]))
    buf = b""
    while buf.count(b"\r\n") < 7:  # ":id", then the 3-element subscribe reply
        d = s.recv(4096)
        if not d:
            fail("the subscriber was closed before subscribing")
        buf += d
    return s, int(buf.split(b"\r\n")[0][1:])


def run_slow(port, megabytes):
    ctl = PlainConn(port, timeout=60)
    third = PlainConn(port, timeout=60)
    check("pubsub limit is Redis's default",
          ctl.cmd("CONFIG", "GET", "client-output-buffer-limit")[1].endswith(
              b"pubsub 33554432 8388608 60"))
    before = int(info_field(ctl, "client_output_buffer_limit_disconnections"))
    baseline = int(info_field(ctl, "used_memory"))
    sub, sub_id = slow_subscriber(port)
    pub = Conn(port, timeout=60)
    msg = b"x" * 16384
    total = megabytes << 20
    sent = delivered = pings = peak = 0
    batch = 32
    while sent < total:
        for _ in range(batch):
            pub.send(["PUBLISH", "flood", msg])
        for _ in range(batch):
            _, v = pub.read()
            delivered += int(v[1])
        sent += batch * len(msg)
        # The third client is served while the flood goes on (its read would time out
        # after 60 s otherwise).
        if third.cmd("PING") != "PONG":
            fail("PING during the flood")
        pings += 1
        if MEMORY and pings % 16 == 0:
            peak = max(peak, int(info_field(third, "used_memory")))
    print("ok   published %d MB (%d messages delivered to the subscriber), %d PINGs answered"
          % (sent >> 20, delivered, pings))
    # The subscriber's queue is bounded by the 32 MB hard limit (plus one message and the
    # publisher's own replies): a server that kept queueing would pass 64 MB.
    if MEMORY:
        check("used_memory stayed bounded while flooding (peak seen %d bytes over baseline)"
              % (peak - baseline), peak < baseline + (64 << 20))
    check("the slow subscriber was not sent everything",
          delivered < total // len(msg), "(%d)" % delivered)
    gone = wait_until("the slow subscriber to be dropped",
                      lambda: ("id=%d " % sub_id) not in ctl.cmd("CLIENT", "LIST").decode())
    check("the slow subscriber is gone", gone)
    check("counted in client_output_buffer_limit_disconnections",
          int(info_field(ctl, "client_output_buffer_limit_disconnections")) == before + 1)
    check("PUBSUB NUMSUB flood 0", ctl.cmd("PUBSUB", "NUMSUB", "flood") == [b"flood", 0])
    check("INFO pubsub_channels 0", info_field(ctl, "pubsub_channels") == "0")
    memory_back(ctl, baseline, 8 << 20)
    sub.close()
    pub.close()


def main():
    if len(sys.argv) != 4 or sys.argv[2] not in ("patterns", "slow"):
        print(__doc__)
        return 2
    port, what, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    if what == "patterns":
        run_patterns(port, n)
    else:
        run_slow(port, n)
    return 0


if __name__ == "__main__":
    sys.exit(main())
