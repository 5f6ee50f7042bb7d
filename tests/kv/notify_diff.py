#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""notify_diff.py - keyspace notifications and change counts, differential: run the same
command corpora on two RESP servers (kvcore-server and Debian's redis-server) with
notify-keyspace-events set to every class, and require the same notification stream,
byte for byte, and the same number of dataset changes.

usage: notify_diff.py [--no-dirty] PORT_A PORT_B corpus.txt [corpus.txt ...]

Corpus lines are kvdiff.py's (tests/kv/kvdiff.py): one command each, shlex quoting.
Replies are not compared here (kvdiff.py does that). Directives: ~ @sort @near N are
stripped and the command run; @n N reads N replies; @read N reads N replies already due;
@other runs the rest of the line on a second session connection; @proto N sends HELLO N
on the session connections (now and after each reconnect in the file); @sleep waits;
@reconnect opens new session connections; @raw @scan @kscan @fields are skipped on both.
Each server gets a subscriber connection that PSUBSCRIBEs to __key*@*__:* in RESP2.
After every command a marker is PUBLISHed on a channel that pattern matches (PUBLISH
changes no key and is refused in no state a corpus creates, maxmemory included), and the
subscriber reads up to it: the notifications of each command are compared as one
window. Active expiry is off on both while the corpora run (DEBUG SET-ACTIVE-EXPIRE 0,
restored at the end; the corpora's own SET-ACTIVE-EXPIRE lines are skipped): a key then
expires when a command touches it, at the same point on both servers. After every command, INFO's rdb_changes_since_last_save must have grown
by the same amount on both (--no-dirty: not compared, for a server that does not report
it).

Exit status: 0 when everything matched, 1 otherwise (each difference is printed).
"""
import shlex
import sys
import time

from resp_conn import Conn

MARKER_CHANNEL = b"__keyevent@0__:__notify_diff_marker__"
PATTERN = b"__key*@*__:*"


def value(reply):
    """The parsed value of a Conn reply: a list of (type, value) pairs for an array."""
    return reply[1][1]


class Side:
    """One server: session connections, a marker/admin connection and a subscriber."""

    def __init__(self, port):
        self.port = port
        self.marks = 0
        self.last_dirty = 0
        self.proto = None
        self.sub = Conn(port)
        got = value(self.sub.cmd("PSUBSCRIBE", PATTERN))
        assert got[0][1] == b"psubscribe", got
        self.marker = Conn(port)
        self.marker.cmd("CONFIG", "SET", "notify-keyspace-events", "AKEnm")
        self.marker.cmd("DEBUG", "SET-ACTIVE-EXPIRE", "0")
        self.reconnect()

    def close(self):
        self.marker.cmd("DEBUG", "SET-ACTIVE-EXPIRE", "1")

    def reconnect(self):
        self.session = self.connect()
        self.other = None

    def connect(self):
        conn = Conn(self.port)
        if self.proto:
            conn.cmd("HELLO", self.proto)
        return conn

    def run(self, conn_name, args, replies=1):
        """Sends args on a session connection (None: sends nothing), reads `replies`
        replies and returns the notifications the command caused."""
        if conn_name == "other" and self.other is None:
            self.other = self.connect()
        conn = self.other if conn_name == "other" else self.session
        if args:
            conn.send(args)
        for _ in range(replies):
            conn.read()
        return self.window()

    def window(self):
        """The notifications published since the last window, up to a fresh marker."""
        self.marks += 1
        mark = b"%d" % self.marks
        self.marker.cmd("PUBLISH", MARKER_CHANNEL, mark)
        out = []
        while True:
            fields = [x[1] for x in value(self.sub.read())]
            if fields[0] != b"pmessage":
                out.append(b"unexpected " + fields[0])
                continue
            chan, msg = fields[2], fields[3]
            if chan == MARKER_CHANNEL and msg == mark:
                return out
            out.append(chan + b" " + msg)

    def dirty_delta(self):
        """Changes counted since the last call (the first call counts from start-up)."""
        now = self.dirty()
        delta, self.last_dirty = now - self.last_dirty, now
        return delta

    def dirty(self):
        info = value(self.marker.cmd("INFO", "persistence")).decode()
        for line in info.split("\r\n"):
            if line.startswith("rdb_changes_since_last_save:"):
                return int(line.split(":", 1)[1])
        return None


def words(text):
    return [a.encode("utf-8", "surrogateescape") for a in shlex.split(text)]


def parse(line):
    """(connection, args, replies) for a corpus line; None for lines skipped on both."""
    conn = "session"
    if line.startswith("@other "):
        conn, line = "other", line[len("@other "):]
    if line.startswith("~"):
        line = line[1:]
    replies = 1
    if line.startswith("@sort "):
        line = line[len("@sort "):]
    elif line.startswith("@near "):
        line = line.split(None, 2)[2]
    elif line.startswith("@n "):
        _, n, line = line.split(None, 2)
        replies = int(n)
    elif line.startswith("@read "):
        return conn, None, int(line.split()[1])
    elif line.startswith("@"):
        return None
    args = words(line)
    if [a.lower() for a in args[:2]] == [b"debug", b"set-active-expire"]:
        return None  # active expiry stays off: when it runs is each server's own timing
    return (conn, args, replies) if args else None


def run_file(path, a, b, each_dirty=False):
    bad = 0
    for s in (a, b):
        s.proto = None
        s.reconnect()
    with open(path, encoding="utf-8", errors="surrogateescape") as f:
        lines = f.read().split("\n")
    for lineno, raw in enumerate(lines, 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("@sleep "):
            time.sleep(float(line.split()[1]))
            continue
        if line == "@reconnect":
            for s in (a, b):
                s.reconnect()
            continue
        if line.startswith("@proto "):
            for s in (a, b):
                s.proto = line.split()[1]
                s.session.cmd("HELLO", s.proto)
            continue
        what = parse(line)
        if what is None:
            continue
        got, want = a.run(*what), b.run(*what)
        if got != want:
            bad += 1
            print("%s:%d: %s" % (path, lineno, line))
            print("   kvcore: %r" % got)
            print("   redis:  %r" % want)
        if each_dirty:
            bad += check_dirty(a, b, "%s:%d: %s" % (path, lineno, line))
    return bad


def check_dirty(a, b, where):
    """1 (printed) when the servers counted a different number of changes since the
    last check."""
    da, db = a.dirty_delta(), b.dirty_delta()
    if da == db:
        return 0
    print("%s: rdb_changes_since_last_save grew by %r, redis by %r" % (where, da, db))
    return 1


def main():
    args = sys.argv[1:]
    each_dirty = not (args and args[0] == "--no-dirty")
    if not each_dirty:
        args = args[1:]
    if len(args) < 3:
        print(__doc__)
        return 2
    a, b = Side(int(args[0])), Side(int(args[1]))
    if each_dirty:
        a.dirty_delta()
        b.dirty_delta()
    bad = 0
    for path in args[2:]:
        n = run_file(path, a, b, each_dirty)
        print("%s %s" % ("ok  " if n == 0 else "FAIL", path))
        bad += n
    a.close()
    b.close()
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
