#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""cmd_regress.py - replies that once broke the server or the connection, checked with a
strict RESP2 parser: every command gets exactly one well-formed reply (counts and lengths
match what follows), and a pipelined PING right behind it pairs with its own reply.

usage: cmd_regress.py KV_PORT [REDIS_PORT] [section,...]

Sections: command memory_stats debug config (the default set, for servers started with
enable-debug-command yes), config_open (servers started with enable-protected-configs yes
whose dir holds a directory "sub").

With REDIS_PORT (a redis-server 7), error texts and reply shapes are compared with it.
Prints one line per check; exit 0 when all pass.
"""
import sys

from resp_conn import Conn, enc, plain

KV = int(sys.argv[1])
REDIS = int(sys.argv[2]) if len(sys.argv) > 2 and sys.argv[2] else None
failed = 0


def check(ok, what, detail=""):
    global failed
    print(("ok   " if ok else "FAIL ") + what + ("" if ok else ": " + detail))
    if not ok:
        failed += 1


class Strict(Conn):
    """A connection whose parser rejects anything not exactly RESP2."""

    def __init__(self, port):
        super().__init__(port, timeout=30, strict=True)

    def one(self, *args):
        """Sends args and PING <sentinel> in one write; returns (raw, value) of args' reply
        after checking that the next reply is the sentinel and nothing else follows it
        (a second PING, sent only then, must answer +PONG as the very next bytes)."""
        self.sock.sendall(enc(*args) + enc("PING", "cmd-regress-sentinel"))
        raw, val = self.read()
        _, s = self.read()
        if s != (b"$", b"cmd-regress-sentinel"):
            raise ValueError("reply out of step: %r follows %r" % (s, raw[:80]))
        self.sock.sendall(enc("PING"))
        _, p = self.read()
        if p != (b"+", b"PONG") or self.buf:
            raise ValueError("bytes left over after the reply: %r" % (p,))
        return raw, val


def try_one(conn, *args):
    try:
        return conn.one(*args)
    except (ValueError, EOFError, OSError) as e:
        check(False, " ".join(str(a) for a in args), "%s: %s" % (type(e).__name__, e))
        return None, None


kv = Strict(KV)
rd = Strict(REDIS) if REDIS else None


def same_as_redis(*args):
    """The raw reply of args is byte-identical on both servers."""
    raw, _ = try_one(kv, *args)
    if rd is None or raw is None:
        return
    want, _ = rd.one(*args)
    check(raw == want, "same as redis: " + " ".join(str(a) for a in args),
          "kvcore %r, redis %r" % (raw[:200], want[:200]))


def section_memory_stats():
    for db in (0, 1):  # with no key, and with one key in db 0 (a nested db.0 map)
        if db:
            kv.one("SET", "memstats-key", "v")
            if rd:
                rd.one("SET", "memstats-key", "v")
        raw, val = try_one(kv, "MEMORY", "STATS")
        if raw is None:
            continue
        check(True, "MEMORY STATS: one reply, counts match (%d keys in db 0)" % db)
        keys = [k.decode() for k in plain(val)[::2]]
        check(len(set(keys)) == len(keys), "MEMORY STATS: no field twice", repr(keys))
        if rd:
            want = [k.decode() for k in plain(rd.one("MEMORY", "STATS")[1])[::2]]
            # kvcore adds Redis 7.2's db.dict.rehashing.count after overhead.total.
            got = [k for k in keys if k != "db.dict.rehashing.count"]
            check(got == want, "MEMORY STATS: Redis 7's fields in Redis 7's order",
                  "kvcore %r, redis %r" % (got, want))
        check("db.dict.rehashing.count" in keys, "MEMORY STATS: db.dict.rehashing.count")


def section_command():
    # COMMAND alone is what redis-cli and some client libraries send on connect.
    raw, val = try_one(kv, "COMMAND")
    if raw is not None:
        n = len(plain(val))
        check(n == plain(kv.one("COMMAND", "COUNT")[1]) and n > 100,
              "COMMAND: one entry per command (%d)" % n)
    for args in (["COMMAND", "INFO", "config|get", "no-such-command"], ["COMMAND", "INFO", "config|get"],
                 ["COMMAND", "COUNT", "x"], ["COMMAND", "LIST", "x"],
                 ["COMMAND", "LIST", "FILTERBY", "PATTERN"],
                 ["COMMAND", "LIST", "FILTERBY", "PATTERN", "xyz*"],
                 ["COMMAND", "LIST", "FILTERBY", "pattern", "CONFIG|GET"],
                 ["COMMAND", "LIST", "FILTERBY", "MODULE", "m"],
                 ["COMMAND", "LIST", "FILTERBY", "ACLCAT", "no-such-category"],
                 ["COMMAND", "LIST", "FILTERBY", "bogus", "x"], ["COMMAND", "GETKEYS"],
                 ["COMMAND", "GETKEYS", "mset", "a", "1", "b", "2"],
                 ["COMMAND", "GETKEYS", "ping"], ["COMMAND", "GETKEYS", "nosuch", "a"],
                 ["COMMAND", "DOCS", "no-such-command"], ["COMMAND", "bogus"], ["CONFIG"]):
        same_as_redis(*args)
    raw, val = try_one(kv, "COMMAND", "LIST", "FILTERBY", "PATTERN", "config*")
    if raw is not None:
        got = sorted(x.decode() for x in plain(val))
        check(got == ["config", "config|get", "config|help", "config|resetstat", "config|rewrite",
                      "config|set"],
              "COMMAND LIST FILTERBY PATTERN config*", repr(got))
    raw, val = try_one(kv, "COMMAND", "LIST", "FILTERBY", "ACLCAT", "hash")
    if raw is not None:
        got = [x.decode() for x in plain(val)]
        check("hset" in got and "get" not in got, "COMMAND LIST FILTERBY ACLCAT hash", repr(got))
        if rd:
            want = set(x.decode() for x in plain(rd.one("COMMAND", "LIST", "FILTERBY", "ACLCAT",
                                                        "hash")[1]))
            check(set(got) <= want, "ACLCAT hash: a subset of Redis's", repr(set(got) - want))


def expect_error(args, want, what):
    raw, val = try_one(kv, *args)
    if raw is not None:
        got = plain(val)
        check(isinstance(got, Exception) and str(got) == want, what, repr(raw[:200]))


def section_debug():
    # DEBUG SLEEP: a value whose microseconds do not fit a long long is refused before it
    # is converted; what Redis sleeps 0 for (negative, not a number) answers OK at once.
    for v in ("inf", "nan", "-nan", "1e400", "9.3e12"):
        expect_error(["DEBUG", "SLEEP", v], "ERR DEBUG SLEEP seconds out of range",
                     "DEBUG SLEEP %s refused" % v)
    for v in ("-1", "abc", "", "0", "-1e300", "-inf", "0.000001"):
        same_as_redis("DEBUG", "SLEEP", v)
    # DEBUG POPULATE: argument errors as Redis's; sizes and totals that cannot fit are
    # refused before anything is allocated (the limits are lowered so that the unfixed
    # server would only allocate a few MB here, not run the machine out of memory).
    for args in (["DEBUG", "POPULATE", "-1"], ["DEBUG", "POPULATE", "abc"],
                 ["DEBUG", "POPULATE", "1", "k", "-5"], ["DEBUG", "POPULATE", "1", "k", "x"]):
        same_as_redis(*args)
    kv.one("FLUSHALL")
    kv.one("CONFIG", "SET", "proto-max-bulk-len", "1mb")
    expect_error(["DEBUG", "POPULATE", "1", "big", "2000000"],
                 "ERR DEBUG POPULATE value size exceeds proto-max-bulk-len or maxmemory",
                 "DEBUG POPULATE: a value above proto-max-bulk-len refused")
    kv.one("CONFIG", "SET", "proto-max-bulk-len", "512mb")
    kv.one("CONFIG", "SET", "maxmemory", "4mb")
    expect_error(["DEBUG", "POPULATE", "1", "big", "5000000"],
                 "ERR DEBUG POPULATE value size exceeds proto-max-bulk-len or maxmemory",
                 "DEBUG POPULATE: a value above maxmemory refused")
    expect_error(["DEBUG", "POPULATE", "100", "many", "100000"],
                 "ERR DEBUG POPULATE would need more memory than maxmemory or the machine's RAM",
                 "DEBUG POPULATE: a total above maxmemory refused")
    kv.one("CONFIG", "SET", "maxmemory", "0")
    expect_error(["DEBUG", "POPULATE", "9223372036854775807", "k", "100"],
                 "ERR DEBUG POPULATE would need more memory than maxmemory or the machine's RAM",
                 "DEBUG POPULATE: a count beyond the machine's RAM refused")
    check(plain(kv.one("DBSIZE")[1]) == 0, "DEBUG POPULATE: nothing created when refused")
    raw, val = try_one(kv, "DEBUG", "POPULATE", "3", "dp", "10")
    check(raw == b"+OK\r\n" and plain(kv.one("DBSIZE")[1]) == 3, "DEBUG POPULATE 3 dp 10")
    kv.one("FLUSHALL")


CONFIG_CASES = (["CONFIG", "SET", "dir", "/tmp"], ["CONFIG", "SET", "dir", ""],
                ["CONFIG", "SET", "dir", "/nonexistent-kvcore-dir"],
                ["CONFIG", "SET", "dbfilename", "/etc/passwd"],
                ["CONFIG", "SET", "dbfilename", "../x.rdb"], ["CONFIG", "SET", "dbfilename", "a/b"],
                ["CONFIG", "SET", "DIR", "."],
                ["CONFIG", "SET", "maxmemory", "0", "dbfilename", "x/y"],
                ["CONFIG", "SET", "enable-protected-configs", "yes"],
                ["CONFIG", "GET", "enable-protected-configs"])


def section_config():
    # enable-protected-configs no (the default): dir and dbfilename are refused.
    before = plain(kv.one("CONFIG", "GET", "dir")[1])
    for args in CONFIG_CASES + (["CONFIG", "SET", "dbfilename", "ok.rdb"],):
        same_as_redis(*args)
    check(plain(kv.one("CONFIG", "GET", "dir")[1]) == before, "CONFIG SET dir: dir unchanged")


def section_config_open():
    # enable-protected-configs yes: paths in dbfilename and a missing dir are refused with
    # Redis's texts; a good dir and dbfilename are set; a failed pair changes nothing.
    dirs = {}
    for name, conn in (("kv", kv), ("redis", rd)):
        if conn is not None:
            dirs[name] = plain(conn.one("CONFIG", "GET", "dir")[1])[1]
    for args in CONFIG_CASES:
        same_as_redis(*args)
    for name, conn in (("kv", kv), ("redis", rd)):
        if conn is not None:
            conn.one("CONFIG", "SET", "dir", dirs[name] + b"/sub")
    raw, val = try_one(kv, "CONFIG", "GET", "dir")
    if raw is not None:
        check(plain(val)[1] == dirs["kv"] + b"/sub", "CONFIG SET dir to an existing directory",
              repr(plain(val)))
    same_as_redis("CONFIG", "SET", "dir", "", "dbfilename", "ok.rdb")
    raw, val = try_one(kv, "CONFIG", "GET", "dir")
    check(raw is not None and plain(val)[1] == dirs["kv"] + b"/sub",
          "CONFIG SET dir '': dir unchanged")
    same_as_redis("CONFIG", "SET", "dbfilename", "ok.rdb")
    same_as_redis("CONFIG", "GET", "dbfilename")


SECTIONS = {
    "config": section_config,
    "config_open": section_config_open,
    "debug": section_debug,
    "command": section_command,
    "memory_stats": section_memory_stats,
}

DEFAULT = ["command", "memory_stats", "debug", "config"]
for name in (sys.argv[3].split(",") if len(sys.argv) > 3 else DEFAULT):
    SECTIONS[name]()
try:
    kv.one("PING")
    check(True, "server alive at the end")
except (OSError, EOFError, ValueError) as e:
    check(False, "server alive at the end", str(e))
sys.exit(1 if failed else 0)
