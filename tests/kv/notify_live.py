#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""notify_live.py - keyspace notifications the server sends on its own: "expired" from
the active expiry cycle and "evicted" from maxmemory eviction, each checked against the
counters INFO reports, delivered to a subscriber on a real socket.

usage: notify_live.py PORT expire   keys with a short TTL, never touched again: one
                                    "expired" keyevent per key (each key once), and
                                    expired_keys counts them
       notify_live.py PORT evict    (server started with a small maxmemory and an
                                    allkeys policy) writes until keys are evicted: one
                                    "evicted" keyevent per evicted key, as many as
                                    evicted_keys says, each naming a key that was written
                                    and is gone
Waits are polls with a generous bound, never a fixed sleep. Exit status 0 or 1.
"""
import sys
import time

from resp_conn import Conn

DEADLINE_S = 60


def value(reply):
    return reply[1][1]


def info_int(conn, field):
    text = value(conn.cmd("INFO", "stats")).decode()
    for line in text.split("\r\n"):
        if line.startswith(field + ":"):
            return int(line.split(":", 1)[1])
    raise KeyError(field)


def subscriber(port, event):
    sub = Conn(port)
    sub.cmd("SUBSCRIBE", "__keyevent@0__:" + event)
    return sub


def read_messages(sub, want, deadline):
    """Keys named by the next `want` messages (fails on anything else or the deadline)."""
    keys = []
    sub.sock.settimeout(1)
    while len(keys) < want:
        if time.monotonic() > deadline:
            raise TimeoutError("%d of %d messages" % (len(keys), want))
        try:
            fields = [x[1] for x in value(sub.read())]
        except OSError:
            continue
        if fields[0] != b"message":
            raise ValueError("unexpected %r" % fields)
        keys.append(fields[2])
    return keys


def check_expire(port):
    conn = Conn(port)
    conn.cmd("FLUSHALL")
    conn.cmd("CONFIG", "SET", "notify-keyspace-events", "Ex")
    sub = subscriber(port, "expired")
    before = info_int(conn, "expired_keys")
    n = 200
    names = [b"exp:%d" % i for i in range(n)]
    conn.send_many([["SET", k, "v", "PX", "20"] for k in names])
    keys = read_messages(sub, n, time.monotonic() + DEADLINE_S)
    ok = True
    if sorted(keys) != sorted(names):
        print("FAIL expired messages name other keys or some twice")
        ok = False
    expired = info_int(conn, "expired_keys") - before
    if expired != n:
        print("FAIL expired_keys grew by %d, %d keys expired" % (expired, n))
        ok = False
    if value(conn.cmd("DBSIZE")) != b"0":
        print("FAIL keys left after every expired message")
        ok = False
    print("%s active expiry: %d expired messages" % ("ok  " if ok else "FAIL", len(keys)))
    return ok


def check_evict(port):
    conn = Conn(port)
    conn.cmd("FLUSHALL")  # every key evicted is then one of ours, in db 0
    conn.cmd("CONFIG", "SET", "notify-keyspace-events", "Ee")
    sub = subscriber(port, "evicted")
    written = set()
    deadline = time.monotonic() + DEADLINE_S
    i = 0
    while info_int(conn, "evicted_keys") == 0:
        if time.monotonic() > deadline:
            print("FAIL nothing was evicted")
            return False
        batch = [b"ev:%d" % (i + j) for j in range(500)]
        conn.send_many([["SET", k, "x" * 200] for k in batch])
        written.update(batch)
        i += len(batch)
    # Eviction may go on in a timer after the last reply: read up to what evicted_keys
    # says, until it says no more than has been read. Messages are queued to the
    # subscriber as the keys go, before INFO's reply is written.
    keys = []
    evicted = info_int(conn, "evicted_keys")
    while len(keys) < evicted:
        keys += read_messages(sub, evicted - len(keys), deadline + DEADLINE_S)
        evicted = info_int(conn, "evicted_keys")
    ok = True
    if len(keys) != evicted:
        print("FAIL %d evicted messages, evicted_keys %d" % (len(keys), evicted))
        ok = False
    if len(set(keys)) != len(keys) or not set(keys) <= written:
        dup = sorted(k for k in set(keys) if keys.count(k) > 1)
        print("FAIL evicted messages repeat keys %r or name keys never written %r" %
              (dup[:5], sorted(set(keys) - written)[:5]))
        ok = False
    gone = value(conn.call(["EXISTS"] + keys))
    if int(gone) != 0:
        print("FAIL %s evicted keys still exist" % gone.decode())
        ok = False
    print("%s eviction: %d evicted messages, evicted_keys %d" %
          ("ok  " if ok else "FAIL", len(keys), evicted))
    return ok


def main():
    if len(sys.argv) != 3 or sys.argv[2] not in ("expire", "evict"):
        print(__doc__)
        return 2
    port = int(sys.argv[1])
    ok = check_expire(port) if sys.argv[2] == "expire" else check_evict(port)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
