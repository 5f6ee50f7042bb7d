#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""kvdiff.py - differential test: send the same command corpus to two RESP servers
(kvcore-server and Debian's redis-server) and require byte-identical replies.

usage: kvdiff.py [--resp3] PORT_A PORT_B corpus.txt [corpus.txt ...]

--resp3 runs every file in RESP3: each session connection sends HELLO 3 first (as if
the file started with "@proto 3").

Corpus lines (one command each, shell-like quoting via shlex):
  SET foo bar              send on the session connection, compare the raw reply bytes
  # text                   comment; blank lines are ignored
  ~TIME                    compare only the shape (RESP type, array length)
  @sort KEYS *             reply is an array: compare its elements sorted
  @scan MATCH k*           run SCAN to completion (args appended), compare the key sets
  @kscan ZSCAN z MATCH m*  run an HSCAN/SSCAN/ZSCAN to completion (cursor inserted after
                           the key), compare the sets of elements (pairs for H/Z)
  @near 5 TTL k            integer replies may differ by at most 5
  @fields INFO             "name:value" text: every field name the reference (second
                           server) prints must also be printed by the first, and the
                           "# Section" headers must come in the same order
  @sleep 1.2               wait (e.g. for keys to expire)
  @raw b"*1\\r\\n$4\\r\\nPING\\r\\n"
                           on a fresh connection, send these bytes (a Python bytes
                           literal), read until the server closes or 0.3 s of silence,
                           compare everything received
  @reconnect               new session connections (e.g. after QUIT or SELECT)
  @proto 3                 HELLO 3 (or 2) on the session connections, now and after each
                           reconnect in this file (the replies' ids differ: not compared)
  @n 3 SUBSCRIBE a b c     a command that replies more than once: read 3 replies, compare
                           their bytes together
  @read 2                  send nothing, read 2 replies already due (pushed messages)
  @other PUBLISH ch m      any line after "@other " runs on a second pair of connections
                           (the other session: a publisher beside a subscriber, a second
                           client) in the same protocol; opened when first used, closed by
                           @reconnect
  @v72 b"-ERR ...\r\n" [b"..."]
                           Redis 7.2 behaviour, a named exception for the next command line
                           only: kvcore answers as Redis 7.2 / Valkey 8 do there, redis-server
                           7.0 otherwise. The next line still goes to both servers (their
                           states stay alike) and both replies are read, but kvcore's bytes
                           are compared with this literal (the second one, when given, in
                           RESP3) instead of redis-server's; kvcore's side reads as many
                           replies as the literal holds, redis-server's as the line says.
                           A comment above it says what 7.0 does;
                           docs/kvcore.md#differences-from-redis lists them all.
Each file starts on new connections, in RESP2 (or RESP3 with --resp3).
Exit status: 0 when every reply matched, 1 otherwise (each mismatch is printed).
"""
import ast
import re
import shlex
import socket
import sys
import time

from resp_conn import Conn


AGGREGATES = (b"*", b"%", b"~", b">")
BYTES_LITERAL = re.compile(r"""b"(?:[^"\\]|\\.)*"|b'(?:[^'\\]|\\.)*'""")


def count_replies(data):
    """How many whole RESP replies the bytes hold (ValueError unless exactly whole)."""
    c = Conn.__new__(Conn)
    c.buf, c.strict, c.sock = data, True, None
    n = 0
    while c.buf:
        try:
            c.read()
        except AttributeError:  # ran past the end: _fill has no socket
            raise ValueError("not whole RESP replies: %r" % data)
        n += 1
    return n


def v72_expectation(arg):
    """The literals of an @v72 line: [expected] or [expected in RESP2, in RESP3]."""
    lits = [ast.literal_eval(m.group(0)) for m in BYTES_LITERAL.finditer(arg)]
    if not 1 <= len(lits) <= 2 or BYTES_LITERAL.sub("", arg).strip():
        raise ValueError("@v72 takes one or two bytes literals: %r" % arg)
    for lit in lits:
        count_replies(lit)
    return lits


def shape(v):
    t, x = v
    if t in AGGREGATES and x is not None:
        return (t, len(x))
    return (t,)


class Sessions:
    """The two session connections, in the file's protocol version."""

    def __init__(self, pa, pb, proto):
        self.ports, self.proto = (pa, pb), proto
        self.a = self.b = self.o = None
        self.reconnect()

    def reconnect(self):
        self.close()
        self.a, self.b = Conn(self.ports[0]), Conn(self.ports[1])
        if self.proto != 2:
            self.hello()

    def other(self):
        """The @other pair (a second client on each server), opened when first used."""
        if self.o is not None and self.o.proto != self.proto:  # @proto since it opened
            self.o.close()
            self.o = None
        if self.o is None:
            self.o = Sessions(self.ports[0], self.ports[1], self.proto)
        return self.o.a, self.o.b

    def hello(self):
        """HELLO <proto> on both; true when both replied a map (RESP3) or array (RESP2)."""
        want = b"%" if self.proto == 3 else b"*"
        _, va = self.a.call(["HELLO", str(self.proto)])
        _, vb = self.b.call(["HELLO", str(self.proto)])
        return va[0] == vb[0] == want

    def close(self):
        for c in (self.a, self.b):
            if c is not None:
                c.close()
        if self.o is not None:
            self.o.close()
            self.o = None


def read_n(conn, n):
    """n replies: their bytes concatenated, and their parsed values."""
    raw, vals = b"", []
    for _ in range(n):
        r, v = conn.read()
        raw += r
        vals.append(v)
    return raw, vals


def info_fields(text):
    sections, names = [], []
    for line in text.decode("latin1").split("\r\n"):
        if line.startswith("# "):
            sections.append(line)
        elif ":" in line:
            names.append(line.split(":", 1)[0])
    return sections, names


def raw_exchange(port, data):
    s = socket.create_connection(("127.0.0.1", port), timeout=2)
    s.sendall(data)
    s.settimeout(0.3)
    got = b""
    try:
        while True:
            d = s.recv(65536)
            if not d:
                got += b"<closed>"
                break
            got += d
    except socket.timeout:
        pass
    s.close()
    return got


def scan_all(conn, extra):
    keys, cursor = set(), "0"
    for _ in range(100000):
        conn.send(["SCAN", cursor] + extra)
        _, (t, v) = conn.read()
        if t != b"*":
            return ("error", v)
        cursor = v[0][1].decode()
        keys.update(x[1] for x in v[1][1])
        if cursor == "0":
            return ("keys", sorted(keys))
    return ("runaway", None)


def kscan_all(conn, args):
    """Runs CMD key <cursor> opts... until cursor 0; returns the set of elements."""
    cmd, key, extra = args[0], args[1], args[2:]
    pairs = cmd.upper() in ("HSCAN", "ZSCAN")
    got, cursor = set(), "0"
    for _ in range(100000):
        conn.send([cmd, key, cursor] + extra)
        _, (t, v) = conn.read()
        if t != b"*":
            return ("error", v)
        cursor = v[0][1].decode()
        items = [x[1] for x in v[1][1]]
        if pairs:
            got.update(zip(items[0::2], items[1::2]))
        else:
            got.update(items)
        if cursor == "0":
            return ("elements", sorted(got))
    return ("runaway", None)


def main():
    argv = sys.argv[1:]
    start_proto = 2
    if argv[:1] == ["--resp3"]:
        start_proto, argv = 3, argv[1:]
    if len(argv) < 3:
        print(__doc__)
        return 2
    pa, pb = int(argv[0]), int(argv[1])
    failures = checked = waived = 0
    for path in argv[2:]:
        # Each corpus file starts on fresh connections (a file may end with QUIT).
        sess = Sessions(pa, pb, start_proto)
        a, b = sess.a, sess.b
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
        v72 = None
        for lineno, line in enumerate(lines, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            where = "%s:%d: %s" % (path, lineno, line)
            if line.startswith("@v72 "):
                v72 = v72_expectation(line[5:])
                continue
            expect, v72 = v72, None
            if expect is not None and re.match(r"@(sleep|reconnect|proto|raw|scan|kscan)\b",
                                               re.sub(r"^@other ", "", line)):
                raise ValueError("%s: @v72 applies to a command line" % where)
            mode, arg = "exact", None
            if line.startswith("@sleep "):
                time.sleep(float(line.split()[1]))
                continue
            if line == "@reconnect":
                sess.reconnect()
                a, b = sess.a, sess.b
                continue
            if line.startswith("@proto "):
                sess.proto = int(line.split()[1])
                checked += 1
                if not sess.hello():
                    failures += 1
                    print("MISMATCH %s: HELLO did not switch both servers" % where)
                continue
            ca, cb = a, b
            if line.startswith("@other "):
                line = line[7:].strip()
                ca, cb = sess.other()
            if line.startswith("@raw "):
                data = ast.literal_eval(line[5:].strip())
                ra, rb = raw_exchange(pa, data), raw_exchange(pb, data)
                checked += 1
                if ra != rb:
                    failures += 1
                    print("MISMATCH %s\n  kvcore: %r\n  redis:  %r" % (where, ra, rb))
                continue
            if line.startswith("~"):
                mode, line = "shape", line[1:]
            elif line.startswith("@sort "):
                mode, line = "sort", line[6:]
            elif line.startswith("@kscan "):
                mode, line = "kscan", line[7:]
            elif line.startswith("@scan"):
                mode, line = "scan", line[5:]
            elif line.startswith("@fields "):
                mode, line = "fields", line[8:]
            elif line.startswith("@near "):
                _, n, line = line.split(" ", 2)
                mode, arg = "near", int(n)
            elif line.startswith("@n "):
                _, n, line = line.split(" ", 2)
                mode, arg = "count", int(n)
            elif line.startswith("@read "):
                mode, arg, line = "count", int(line.split()[1]), ""
            args = shlex.split(line)
            checked += 1
            if mode == "scan":
                ra, rb = scan_all(ca, args), scan_all(cb, args)
                same = ra == rb
            elif mode == "kscan":
                ra, rb = kscan_all(ca, args), kscan_all(cb, args)
                same = ra == rb
            else:
                try:
                    if args:
                        ca.send(args)
                        cb.send(args)
                    if expect is not None:  # kvcore sends as many replies as Redis 7.2
                        want = expect[-1] if sess.proto == 3 else expect[0]
                        if mode not in ("exact", "count"):
                            raise ValueError("%s: @v72 needs an exact comparison" % where)
                        raw_a, va = read_n(ca, count_replies(want))
                        raw_b, vb = read_n(cb, arg if mode == "count" else 1)
                    elif mode == "count":
                        (raw_a, va), (raw_b, vb) = read_n(ca, arg), read_n(cb, arg)
                    else:
                        (raw_a, va), (raw_b, vb) = ca.read(), cb.read()
                except (EOFError, OSError) as e:
                    failures += 1
                    print("FAILED %s: %s" % (where, e))
                    sess.reconnect()
                    a, b = sess.a, sess.b
                    continue
                if mode in ("exact", "count"):
                    same = raw_a == raw_b
                elif mode == "shape":
                    same = shape(va) == shape(vb)
                elif mode == "fields":
                    fa, fb = info_fields(va[1] or b""), info_fields(vb[1] or b"")
                    missing = [f for f in fb[1] if f not in fa[1]]
                    same = fa[0] == fb[0] and not missing
                    if not same:
                        raw_a = ("sections %r missing %r" % (fa[0], missing)).encode()
                        raw_b = ("sections %r" % (fb[0],)).encode()
                elif mode == "sort":
                    same = va[0] == vb[0] and va[0] in AGGREGATES and sorted(
                        map(repr, va[1])) == sorted(map(repr, vb[1]))
                else:
                    same = (va[0] == vb[0] == b":" and abs(int(va[1]) - int(vb[1])) <= arg) or \
                        raw_a == raw_b
                ra, rb = raw_a, raw_b
                if expect is not None:  # Redis 7.2 behaviour: kvcore against the literal
                    waived += 1
                    same, rb = raw_a == want, b"(Redis 7.2) " + want
            if not same:
                failures += 1
                print("MISMATCH %s\n  kvcore: %r\n  redis:  %r" % (where, ra, rb))
    sess.close()
    print("%d commands compared, %d mismatches, %d of them against Redis 7.2's reply "
          "(RESP%d)" % (checked, failures, waived, start_proto))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
