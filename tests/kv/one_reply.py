#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""one_reply.py - every command gets exactly one reply, whatever fails inside the server.

usage: one_reply.py PORT ROUNDS corpus.txt...

Sends each command of the differential corpus (tests/kv_corpus/*.txt; commands that
change connection or server state are left out) followed by `PING one-reply-sentinel`,
and reads replies up to the sentinel: there must be exactly two. Meant to run while
allocations fail at random (stress_kv_inject.sh): an error reply or a closed connection
is fine, a missing or an extra reply (the pipeline out of step) is not. Prints one line;
exit 0 when no command got a wrong number of replies.
"""
import collections
import shlex
import socket
import sys

PORT, ROUNDS = int(sys.argv[1]), int(sys.argv[2])
SENTINEL = b"one-reply-sentinel"
SKIP = {"QUIT", "SHUTDOWN", "DEBUG", "CLIENT", "FLUSHALL", "SWAPDB", "SELECT", "CONFIG",
        "HELLO", "AUTH", "RESET", "MONITOR",
        # a transaction queues the sentinel PING ("+QUEUED"), a WATCH state outlives its line
        "MULTI", "EXEC", "DISCARD", "WATCH", "UNWATCH",
        # a reply per channel, then subscribed mode
        "SUBSCRIBE", "PSUBSCRIBE", "SSUBSCRIBE", "UNSUBSCRIBE", "PUNSUBSCRIBE", "SUNSUBSCRIBE",
        # would wait on an empty key (a timeout of 0 is forever)
        "BLPOP", "BRPOP", "BLMOVE", "BRPOPLPUSH", "BLMPOP", "BZPOPMIN", "BZPOPMAX", "BZMPOP",
        # fork children and files: covered by the persistence tests
        "SAVE", "BGSAVE", "BGREWRITEAOF"}


def enc(a):
    out = b"*%d\r\n" % len(a)
    for x in a:
        x = x.encode("utf-8", "surrogateescape")
        out += b"$%d\r\n%s\r\n" % (len(x), x)
    return out


def parse(buf, pos):
    """(end, is_sentinel) of the reply at pos, or (None, False) when incomplete."""
    e = buf.find(b"\r\n", pos)
    if e < 0:
        return None, False
    t = buf[pos:pos + 1]
    if t in (b"+", b"-", b":"):
        return e + 2, False
    if t == b"$":
        n = int(buf[pos + 1:e])
        if n < 0:
            return e + 2, False
        if len(buf) < e + 4 + n:
            return None, False
        return e + 4 + n, buf[e + 2:e + 2 + n] == SENTINEL
    if t == b"*":
        q = e + 2
        for _ in range(max(int(buf[pos + 1:e]), 0)):
            q, _ = parse(buf, q)
            if q is None:
                return None, False
        return q, False
    raise ValueError("bad reply %r" % buf[pos:pos + 40])


cmds = []
for path in sys.argv[3:]:
    for line in open(path, encoding="utf-8"):
        line = line.strip().lstrip("~")
        if not line or line[0] in "#@":
            continue
        try:
            a = shlex.split(line)
        except ValueError:
            continue
        if a and a[0].upper() not in SKIP:
            cmds.append(a)

wrong, sent, closed = collections.Counter(), 0, 0
s, buf = None, b""
for _ in range(ROUNDS):
    for a in cmds:
        if s is None:
            try:
                s = socket.create_connection(("127.0.0.1", PORT), timeout=10)
                buf = b""
            except OSError:
                continue
        try:
            s.sendall(enc(a) + enc(["PING", SENTINEL.decode()]))
            sent += 1
            n, pos = 0, 0
            while True:
                q, last = parse(buf, pos)
                if q is None:
                    d = s.recv(1 << 20)
                    if not d:
                        raise EOFError
                    buf += d
                    continue
                pos, n = q, n + 1
                if last:
                    break
            buf = buf[pos:]
            if n != 2:
                wrong[a[0].upper()] += 1
                if wrong[a[0].upper()] <= 2:
                    print("%r got %d replies" % (a[:4], n - 1), flush=True)
        except (EOFError, OSError):
            s, closed = None, closed + 1
print("one_reply: %d commands sent (%d distinct), %d connections closed by the server, "
      "wrong reply counts: %s" % (sent, len(cmds), closed, dict(wrong) or "none"))
sys.exit(1 if wrong else 0)
