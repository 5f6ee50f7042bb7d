#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""sweep.py - the command-table sweep: every command kvcore-server implements, and every
name Redis 7's COMMAND LIST has that kvcore does not, sent with bad and borderline
arguments, with the framing of each reply checked and its bytes compared to redis-server.

usage: sweep.py [--resp3] KVCORE_PORT REDIS_PORT [name-filter]

--resp3: the sweep's connections speak RESP3 (HELLO 3 first); replies must then parse
under a strict RESP3 grammar (no RESP2 null "$-1"/"*-1"), and without it under RESP2's
(no RESP3 type byte).

The command list comes from the servers themselves: kvcore's COMMAND INFO (names, arity,
key positions, subcommands, group) and redis-server's COMMAND INFO (every name it has).
For each kvcore command (and subcommand) the argument vectors are, deterministically:
  - no arguments; its arity; one more than its arity;
  - key positions filled with a key of every type and encoding (string int/embstr/raw,
    list listpack/quicklist, hash listpack/hashtable, set intset/hashtable, zset
    listpack/skiplist, and a missing key), the other positions "1";
  - on the keys of the command's own type (and a missing key), every other position in
    turn, and all of them at once, set to each hostile value of PALETTE (empty string,
    non-numbers, negatives, inf/nan, 2^32, the int64 limits, 2^64, lex/score bounds).
Redis-only names (and Redis subcommands kvcore lacks) go to kvcore only, with no, one and
two arguments, and must get an error.

After every command, on the same connection and in the same write, kvcore also gets
`PING sweep-sentinel`, reads of five probe keys the sweep never names, and `PING sweep-end`.
The bytes received must parse under a strict RESP2 grammar (type byte, canonical numbers,
CRLF everywhere, bulk lengths exact, array counts exact) into exactly that many replies
with nothing left over: the command got exactly one well-formed reply, the server still
answers PING, and the probe keys are unchanged. The reply is then compared with
redis-server's to the same command (see MODE and KNOWN for what is not compared byte for
byte, and why). Both servers' keyspaces are flushed and rebuilt the same way before each
command, and before each key variant of a write command, so they stay identical.

Nothing is random: the same servers give the same run. Prints every finding and a
summary; exit 0 when there was none.
"""
import socket
import sys
import time

from resp_conn import Conn

ARGS = sys.argv[1:]
RESP3 = ARGS[:1] == ["--resp3"]
if RESP3:
    ARGS = ARGS[1:]
KV_PORT, REDIS_PORT = int(ARGS[0]), int(ARGS[1])
FILTER = ARGS[2].lower() if len(ARGS) > 2 else ""

PALETTE = ["", "abc", "-1", "0", "1.5", "inf", "-inf", "+inf", "nan", "4294967296",
           "9223372036854775807", "-9223372036854775808", "18446744073709551616",
           "(1", "[a", "-", "+"]
DEFAULT = "1"

# Key variants: name -> (type, commands that build it). Big ones exceed Redis 7.0's
# listpack/intset limits (128 entries / 64-byte values, 512 integers).
BIG = 200
HBIG = 600  # hash-max-listpack-entries is 512 in both servers' built-in defaults
KEYS = {
    "k:none": ("none", []),
    "k:str:int": ("string", [["SET", "k:str:int", "12345"]]),
    "k:str:emb": ("string", [["SET", "k:str:emb", "hello"]]),
    "k:str:raw": ("string", [["SET", "k:str:raw", "r" * 100]]),
    "k:list:lp": ("list", [["RPUSH", "k:list:lp", "a", "b", "c", "1", "2", "3"]]),
    "k:list:ql": ("list", [["RPUSH", "k:list:ql"] + ["e%03d" % i + "q" * 60
                                                    for i in range(BIG)]]),
    "k:hash:lp": ("hash", [["HSET", "k:hash:lp", "f1", "v1", "f2", "v2", "n", "5"]]),
    "k:hash:ht": ("hash", [["HSET", "k:hash:ht"] + [x for i in range(HBIG)
                                                    for x in ("f%d" % i, str(i))]]),
    "k:set:is": ("set", [["SADD", "k:set:is", "1", "2", "3", "5", "8"]]),
    "k:set:ht": ("set", [["SADD", "k:set:ht"] + ["m%d" % i for i in range(BIG)]]),
    "k:zset:lp": ("zset", [["ZADD", "k:zset:lp", "1", "a", "2", "b", "3", "c"]]),
    "k:zset:sl": ("zset", [["ZADD", "k:zset:sl"] + [x for i in range(BIG)
                                                    for x in (str(i), "z%d" % i)]]),
}
GROUP_TYPE = {"string": "string", "bitmap": "string", "list": "list", "hash": "hash",
              "set": "set", "sorted-set": "zset", "geo": "zset"}

PROBES = [["SET", "probe:str", "probe-value"],
          ["RPUSH", "probe:list", "p1", "p2", "p3"],
          ["HSET", "probe:hash", "pf", "pv", "pg", "pw"],
          ["SADD", "probe:set", "7", "8", "9"],
          ["ZADD", "probe:zset", "1", "pa", "2.5", "pb"]]
PROBE_READS = [["GET", "probe:str"], ["LRANGE", "probe:list", "0", "-1"],
               ["HGETALL", "probe:hash"], ["SMEMBERS", "probe:set"],
               ["ZRANGE", "probe:zset", "0", "-1", "WITHSCORES"]]

# Not sent at all, and why. Lower-case full names ("container|sub").
SKIP = {
    "shutdown": "stops the server",
    "quit": "closes the connection (covered by kv_differential's corpus)",
    "multi": "queues the probes that follow (covered by the corpus multi.txt, test_kv_multi)",
    "debug": "swept through DEBUG_VECTORS (SLEEP blocks, SEGFAULT crashes on purpose)",
    "memory|heap": "kvcore's heap profiler: DUMP writes files (covered by kv_heap.sh)",
    "kprofile": "kvcore's heap profiler: DUMP writes files (covered by kv_heap.sh)",
    "client|kill": "hostile values only (a sane one may kill the sweep's own connection)",
    "config|set": "hostile values only (a sane one changes the server under the sweep)",
    "save": "writes the dataset to disk (covered by kv_rdb.sh)",
    "bgsave": "forks a background save whose progress is timing (covered by kv_rdb.sh)",
    "client|pause": "pauses every client, the sweep's own included (covered by kv_client_ext)",
    "monitor": "turns the connection into a command feed (covered by kv_client_ext)",
}
# One reply per channel, and RESP2 subscribed mode after: kv_corpus/pubsub.txt covers them.
for _n in ("subscribe", "unsubscribe", "psubscribe", "punsubscribe", "ssubscribe",
           "sunsubscribe"):
    SKIP[_n] = "a reply per channel, then subscribed mode (covered by the pubsub corpus)"
# The blocking pops would wait (a timeout of "0" or "1"): kv_blocking's scenarios and the
# blocking corpus compare them with redis-server instead.
for _n in ("blpop", "brpop", "blmove", "brpoplpush", "blmpop", "bzpopmin", "bzpopmax", "bzmpop"):
    SKIP[_n] = "blocks (covered by kv_blocking and tests/kv_corpus/blocking.txt)"
# These get only PALETTE values, never DEFAULT or key names, in every position.
HOSTILE_ONLY = {"client|kill", "config|set"}

# DEBUG is not in COMMAND INFO with subcommands: its safe subcommands, by hand.
DEBUG_VECTORS = [["DEBUG"], ["DEBUG", "help"], ["DEBUG", "nosuch"], ["DEBUG", "digest"],
                 ["DEBUG", "digest", "x"], ["DEBUG", "digest-value"],
                 ["DEBUG", "object"], ["DEBUG", "object", "k:none"],
                 ["DEBUG", "set-active-expire"], ["DEBUG", "set-active-expire", "abc"],
                 ["DEBUG", "populate"], ["DEBUG", "populate", "abc"],
                 ["DEBUG", "populate", "-1"], ["DEBUG", "populate", "0"],
                 ["DEBUG", "populate", "3", "dp", "5"], ["DEBUG", "populate", "2", "dp", "x"],
                 ["DEBUG", "sleep"]]
DEBUG_VECTORS += [["DEBUG", "digest-value", k] for k in KEYS]
DEBUG_VECTORS += [["DEBUG", "object", k] for k in KEYS]

# How replies are compared with redis-server's (default: byte for byte). In every mode an
# error reply must be byte-identical, and a non-error must have the same RESP type.
MODE = {}
# State that differs between two servers by nature: only errors and the type compared.
for n in ("info", "time", "lastsave", "config|get", "config|help", "memory|stats",
          "memory|usage", "memory|malloc-stats", "memory|doctor", "memory|help",
          "client|list", "client|info", "client|id", "latency|latest", "latency|help",
          "object|idletime", "object|freq", "command|docs", "command|info",
          "command|list", "command|count", "command|help", "command|getkeys",
          "scan", "hscan", "sscan", "zscan", "ttl", "pttl", "expiretime", "pexpiretime",
          "client|help", "object|help", "hello", "command", "debug", "debug|object",
          "debug|help", "dump"):
    MODE[n] = "errors"
# Which commands took longer than slowlog-log-slower-than is timing (a loaded machine, ASan).
MODE["slowlog|get"] = MODE["slowlog|len"] = "errors"
MODE["debug|digest"] = MODE["debug|digest-value"] = "exact"
# Random picks: same type and array length. SPOP also makes the two keyspaces differ
# until the next rebuild, so the commands after it on that key are compared by shape too.
for n in ("spop", "srandmember", "hrandfield", "zrandmember", "randomkey"):
    MODE[n] = "shape"
# Order follows the hash table's layout: compare the elements as a multiset.
for n in ("smembers", "sinter", "sunion", "sdiff", "keys", "hgetall", "hkeys", "hvals"):
    MODE[n] = "sorted"
# Per-command call counts of the sweep itself, in each server's own table order.
MODE["latency|histogram"] = "errors"

# Known differences, each with its reason: (full name, predicate on the argument vector)
# -> why. A vector that matches is still framed, PING-checked and probe-checked; only the
# comparison with redis-server is waived.
KNOWN = [
    ("object|encoding", lambda a: a[-1] == "k:list:lp",
     "a small list is a bare listpack, reported as Redis 7.2 does (7.0 says quicklist; "
     "README, list-max-listpack-size)"),
]
# ZRANK/ZREVRANK take Redis 7.2's WITHSCORE (clients send it): with a fourth argument 7.0
# answers an arity error, kvcore the 7.2 reply or its syntax error.
for _n in ("zrank", "zrevrank"):
    KNOWN.append((_n, lambda a: len(a) == 4,
                  "Redis 7.2's WITHSCORE option (7.0 has no fourth argument)"))
# SORT of a hash-table set BY a name without '*' does not sort: the members come in the
# set's own hash-table order, which each server has its own of (Redis: "unordered").
for _n in ("sort", "sort_ro"):
    KNOWN.append((_n, lambda a: a[1] == "k:set:ht" and len(a) > 3 and a[2].lower() == "by"
                  and "*" not in a[3],
                  "SORT of a hash-table set BY a constant replies it in hash-table order"))


# Redis 7.2 behaviour kvcore follows (docs/kvcore.md#differences-from-redis): each
# predicate models exactly the argument vectors where 7.2 and 7.0 answer differently.
def _is_ll(x):
    """Redis's string2ll: an optional minus, digits without a leading zero, in range."""
    t = x[1:] if x[:1] == "-" else x
    if not t.isdigit() or not t.isascii() or (len(t) > 1 and t[0] == "0") or x == "-0":
        return False
    return -2**63 <= int(x) < 2**63


def _key_type(name):
    return KEYS[name][0] if name in KEYS else "none"


def _range_error_72(rest):
    """BITCOUNT/BITPOS's [start [end [BYTE|BIT]]] as 7.2 checks it (start, unit, end)."""
    if len(rest) > 3:
        return True
    if rest and not _is_ll(rest[0]):
        return True
    if len(rest) == 3 and rest[2].lower() not in ("bit", "byte"):
        return True
    return len(rest) >= 2 and not _is_ll(rest[1])


def _bitcount_72(a):
    rest = a[2:]
    if _key_type(a[1]) != "string":  # 7.0 answered 0 / WRONGTYPE before the arguments
        return _range_error_72(rest)
    # A string: 7.2 takes a lone start (counts, or "not an integer"; 7.0: syntax error)
    # and checks the unit before the end (7.0: the end first).
    if len(rest) == 1:
        return True
    return (len(rest) == 3 and _is_ll(rest[0]) and not _is_ll(rest[1])
            and rest[2].lower() not in ("bit", "byte"))


def _bitpos_72(a):  # the bit is checked first by both; 7.0 then answered a missing key
    return (a[2] in ("0", "1") and _key_type(a[1]) != "string"
            and _range_error_72(a[3:]))


def _lpos_72(a):  # options as parsed: a RANK of LLONG_MIN reached before any error
    j = 3
    while j + 1 < len(a):
        opt, val = a[j].lower(), a[j + 1]
        if opt == "rank":
            if val == "-9223372036854775808":
                return True
            if not _is_ll(val) or val == "0":
                return False
        elif opt in ("count", "maxlen"):
            if not _is_ll(val) or val.startswith("-"):
                return False
        else:
            return False
        j += 2
    return False


SCAN_TYPES = ("string", "list", "set", "zset", "hash", "stream")


def _scan_72(a):  # options as 7.2 parses them: the first error is an unknown TYPE
    j = 2
    while j + 1 < len(a):
        opt, val = a[j].lower(), a[j + 1]
        if opt == "count":
            if not _is_ll(val) or int(val) < 1:
                return False
        elif opt == "type":
            if val.lower() not in SCAN_TYPES:
                return True
        elif opt != "match":
            return False
        j += 2
    return False


KNOWN += [
    ("bitcount", _bitcount_72, "Redis 7.2 behaviour: BITCOUNT's arguments checked before "
     "the key, a start without an end"),
    ("bitpos", _bitpos_72, "Redis 7.2 behaviour: BITPOS's arguments checked before the key"),
    ("lpos", _lpos_72, "Redis 7.2 behaviour: LPOS RANK of LLONG_MIN is out of range"),
    ("scan", _scan_72, "Redis 7.2 behaviour: SCAN TYPE of an unknown type is an error"),
]

REBUILD_CMDS = [["SELECT", "0"], ["FLUSHALL"]] + PROBES + [
    c for _, build in KEYS.values() for c in build]
REBUILD = b"".join(Conn.encode(c) for c in REBUILD_CMDS)
SENTINEL = b"sweep-sentinel"
END = b"sweep-end"


def enc(args):
    return Conn.encode(args)


LINE_TYPES = (b"+", b"-", b":", b",", b"#", b"(")
BLOB_TYPES = (b"$", b"=", b"!")
AGGREGATES = (b"*", b"~", b">", b"%")
RESP3_TYPES = (b"_", b",", b"#", b"(", b"=", b"!", b"~", b">", b"%", b"|")


class Strict:
    """A strict RESP2 (or, with RESP3 set, RESP3) reader over a byte string; raises
    ValueError on any deviation. A map's value is its 2N keys and values in order; an
    attribute's its 2N pairs followed by the reply it annotates."""

    def __init__(self, buf, resp3=None):
        self.buf, self.pos = buf, 0
        self.resp3 = RESP3 if resp3 is None else resp3

    def line(self):
        i = self.buf.find(b"\r\n", self.pos)
        if i < 0:
            raise ValueError("no CRLF after byte %d" % self.pos)
        s = self.buf[self.pos:i]
        if b"\r" in s or b"\n" in s:
            raise ValueError("bare CR or LF in a line at %d" % self.pos)
        self.pos = i + 2
        return s

    def number(self, s, allow_neg1_only=False):
        if s == b"-1" and allow_neg1_only:
            if self.resp3:
                raise ValueError("a RESP2 null in RESP3")
            return -1
        if allow_neg1_only:
            ok = s.isdigit() and (s == b"0" or s[:1] != b"0")
        else:
            t = s[1:] if s[:1] == b"-" else s
            ok = t.isdigit() and (t == b"0" or t[:1] != b"0") and s != b"-0"
        if not ok:
            raise ValueError("not a canonical number: %r" % s)
        return int(s)

    def check_line(self, t, s):
        if t == b":":
            self.number(s)
        elif t == b"#" and s not in (b"t", b"f"):
            raise ValueError("bad boolean %r" % s)
        elif t == b"(" and not (s[1:] if s[:1] == b"-" else s).isdigit():
            raise ValueError("bad big number %r" % s)
        elif t == b",":
            if s not in (b"inf", b"-inf", b"nan", b"-nan"):
                try:
                    float(s)
                except ValueError:
                    raise ValueError("bad double %r" % s)
                if s[:1] in (b"+", b" ") or s.lower() in (b"infinity", b"-infinity"):
                    raise ValueError("bad double %r" % s)

    def reply(self):
        if self.pos >= len(self.buf):
            raise ValueError("missing reply")
        t = self.buf[self.pos:self.pos + 1]
        self.pos += 1
        s = self.line()
        if t in RESP3_TYPES and not self.resp3:
            raise ValueError("RESP3 type %r in RESP2" % t)
        if t in LINE_TYPES:
            self.check_line(t, s)
            return (t, s)
        if t == b"_":
            if s:
                raise ValueError("null with a payload")
            return (t, None)
        if t in BLOB_TYPES:
            n = self.number(s, t == b"$")
            if n < 0:
                return (t, None)
            if self.buf[self.pos + n:self.pos + n + 2] != b"\r\n":
                raise ValueError("bulk of %d bytes not followed by CRLF" % n)
            v = self.buf[self.pos:self.pos + n]
            if t == b"=" and (n < 4 or v[3:4] != b":"):
                raise ValueError("verbatim string without its format")
            self.pos += n + 2
            return (t, v)
        if t in AGGREGATES or t == b"|":
            n = self.number(s, t == b"*")
            if n < 0:
                return (t, None)
            items = [self.reply() for _ in range(n * (2 if t in (b"%", b"|") else 1))]
            if t == b"|":
                items.append(self.reply())
            return (t, items)
        raise ValueError("bad type byte %r" % t)


class Server:
    def __init__(self, port, name, resp3=None):
        self.port, self.name = port, name
        self.resp3 = RESP3 if resp3 is None else resp3
        self.connect()

    def connect(self):
        self.sock = socket.create_connection(("127.0.0.1", self.port), timeout=20)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.resp3:
            replies, _ = self.exchange([["HELLO", "3"]])
            if replies[0][0] != b"%":
                raise RuntimeError("%s: HELLO 3 answered %r" % (self.name, replies[0]))

    def send(self, cmds, pre=b""):
        self.sock.sendall(pre + b"".join(enc(c) for c in cmds))

    def recv_until_end(self):
        """Bytes up to the `PING sweep-end` reply; None if the server closed."""
        tail = b"$%d\r\n%s\r\n" % (len(END), END)
        buf = b""
        while not buf.endswith(tail):
            try:
                d = self.sock.recv(1 << 20)
            except socket.timeout:
                raise TimeoutError("no reply within 20 s")
            if not d:
                return None
            buf += d
        return buf

    def exchange(self, cmds, pre=b"", npre=0):
        """Sends pre (npre encoded commands), cmds and PING sweep-end; returns the
        strictly parsed replies (or raises)."""
        self.send(cmds + [["PING", END]], pre)
        buf = self.recv_until_end()
        if buf is None:
            raise EOFError("connection closed")
        p = Strict(buf, self.resp3)
        out = [p.reply() for _ in range(npre + len(cmds) + 1)]
        if p.pos != len(buf):
            raise ValueError("%d bytes left over" % (len(buf) - p.pos))
        if out[-1] != (b"$", END):
            raise ValueError("replies out of step: last is %r" % (out[-1],))
        return out[:-1], buf


def raw(v):
    """The RESP bytes of a parsed reply (for messages and exact comparison)."""
    t, x = v
    if t in LINE_TYPES:
        return t + x + b"\r\n"
    if t == b"_":
        return b"_\r\n"
    if t in BLOB_TYPES:
        return t + b"-1\r\n" if x is None else t + b"%d\r\n%s\r\n" % (len(x), x)
    if x is None:
        return t + b"-1\r\n"
    n = len(x) // 2 if t in (b"%", b"|") else len(x)
    return t + b"%d\r\n" % n + b"".join(raw(e) for e in x)


def flat(v):
    t, x = v
    if t in AGGREGATES and x is not None:
        return [y for e in x for y in flat(e)]
    return [raw(v)]


def same(mode, a, b):
    if a[0] == b"-" or b[0] == b"-":
        return raw(a) == raw(b)
    if a[0] != b[0]:
        return False
    if mode == "errors":
        return True
    if mode == "shape":
        return a[0] not in AGGREGATES or (a[1] is None) == (b[1] is None) and len(
            a[1] or []) == len(b[1] or [])
    if mode == "sorted":
        return sorted(flat(a)) == sorted(flat(b))
    return raw(a) == raw(b)


def short(b, n=160):
    return repr(b if len(b) <= n else b[:n] + b"...")


class Sweep:
    def __init__(self):
        self.kv = Server(KV_PORT, "kvcore")
        self.rd = Server(REDIS_PORT, "redis")
        self.findings = []
        self.sent = 0
        self.compared = 0
        self.waived = {}
        self.probe_ref = None
        self.changed = False

    def finding(self, argv, what):
        self.findings.append((argv, what))
        if len(self.findings) <= 200:
            print("FINDING %s: %s" % (" ".join(repr(a) for a in argv), what), flush=True)

    def rebuild(self):
        """Both keyspaces flushed and rebuilt identically (db 0, the sweep's connection)."""
        for s in (self.kv, self.rd):
            replies, _ = s.exchange([], REBUILD, len(REBUILD_CMDS))
            bad = [r for r in replies if r[0] == b"-"]
            if bad:
                raise RuntimeError("%s: rebuilding the keyspace failed: %r" % (s.name, bad))
        if self.probe_ref is None:
            self.probe_ref, _ = self.kv.exchange(PROBE_READS)
            rref, _ = self.rd.exchange(PROBE_READS)
            if [raw(x) for x in rref] != [raw(x) for x in self.probe_ref]:
                raise RuntimeError("probe keys differ between the servers")

    def reconnect(self, s):
        try:
            s.sock.close()
        except OSError:
            pass
        s.connect()

    def run(self, full, argv, compare=True):
        """One vector: kvcore framed + probe-checked, compared with redis when asked."""
        self.sent += 1
        post = [["PING", SENTINEL]] + PROBE_READS
        if full == "select":
            post = [["SELECT", "0"]] + post
        if full == "reset" and RESP3:  # RESET goes back to RESP2, as in Redis
            post = [["HELLO", "3"]] + post
        kv_err = rd = None
        try:
            self.kv.send([argv] + post + [["PING", END]])
            if compare:
                self.rd.send([argv, ["PING", END]])
            buf = self.kv.recv_until_end()
            if buf is None:
                kv_err = "connection closed by kvcore"
            else:
                p = Strict(buf)
                replies = [p.reply() for _ in range(len(post) + 2)]
                if p.pos != len(buf):
                    kv_err = "%d bytes after the last reply: %s" % (len(buf) - p.pos,
                                                                   short(buf[p.pos:]))
                elif replies[-1] != (b"$", END):
                    kv_err = "replies out of step: %s" % short(buf)
        except ValueError as e:
            kv_err = "malformed reply stream (%s): %s" % (e, short(buf))
        except (TimeoutError, OSError) as e:
            kv_err = "no answer (%s)" % e
        if compare:
            try:
                rbuf = self.rd.recv_until_end()
                if rbuf is not None:
                    p = Strict(rbuf)
                    rd = p.reply()
            except (ValueError, TimeoutError, OSError):
                rd = None
        self.changed = kv_err is not None or rd is None or rd[0] != b"-"
        if kv_err is not None:
            alive = self.alive()
            self.finding(argv, kv_err + ("" if alive else "; kvcore-server is DOWN"))
            if not alive:
                raise SystemExit("kvcore-server died; stopping the sweep")
            self.reconnect(self.kv)
            if compare:
                self.reconnect(self.rd)
            self.rebuild()
            return
        kv = replies[0]
        self.changed = self.changed or kv[0] != b"-"
        off = 2 if full == "select" or (full == "reset" and RESP3) else 1
        if full == "select" and replies[1] != (b"+", b"OK"):
            self.finding(argv, "SELECT 0 after it failed")
        if full == "reset" and RESP3:
            if replies[1][0] != b"%":
                self.finding(argv, "HELLO 3 after it answered %s" % short(raw(replies[1])))
            if compare:
                self.reconnect(self.rd)  # redis-server's connection is back in RESP2 too
        if replies[off] != (b"$", SENTINEL):
            self.finding(argv, "PING after it answered %s" % short(raw(replies[off])))
        got = replies[off + 1:off + 1 + len(PROBE_READS)]
        if full in ("flushall", "flushdb", "swapdb") and kv[0] != b"-":
            self.rebuild()  # the probes went with the rest: nothing to check
        else:
            for want, have, q in zip(self.probe_ref, got, PROBE_READS):
                if raw(want) != raw(have):
                    self.finding(argv, "probe %s changed: %s -> %s" % (
                        q[1], short(raw(want)), short(raw(have))))
        if not compare:
            if kv[0] != b"-":
                self.finding(argv, "not implemented by kvcore, yet not an error: %s"
                             % short(raw(kv)))
            return
        if rd is None:
            self.reconnect(self.rd)
            self.rebuild()
            return  # redis-server closed or misbehaved: nothing to compare
        self.compared += 1
        if full == "debug" and len(argv) > 1:
            full = "debug|" + argv[1].lower()
        mode = MODE.get(full, MODE.get(full.split("|")[0], "exact"))
        if same(mode, kv, rd):
            return
        for name, pred, why in KNOWN:
            if name == full and pred(argv):
                self.waived[why] = self.waived.get(why, 0) + 1
                return
        self.finding(argv, "differs from redis-server (%s):\n    kvcore: %s\n    redis:  %s"
                     % (mode, short(raw(kv)), short(raw(rd))))

    def alive(self):
        try:
            c = Server(KV_PORT, "check")
            r, _ = c.exchange([["PING"]])
            c.sock.close()
            return r[0] == (b"+", b"PONG")
        except (OSError, ValueError, EOFError, TimeoutError):
            return False


def info_rows(conn):
    """kvcore/redis COMMAND INFO -> {full name: (arity, first, last, step, group-ish)}."""
    replies, _ = conn.exchange([["COMMAND", "INFO"]])
    rows = {}

    def add(e, parent):
        name = e[1][0][1].decode().lower()
        arity = int(e[1][1][1])
        first, last, step = (int(e[1][i][1]) for i in (3, 4, 5))
        cats = [x[1].decode() for x in e[1][6][1]]
        rows[name] = (arity, first, last, step, cats)
        if len(e[1]) > 9 and e[1][9][1]:
            for s in e[1][9][1]:
                add(s, name)

    for e in replies[0][1]:
        if e[0] == b"*":
            add(e, None)
    return rows


def doc_tokens(conn):
    """redis-server's COMMAND DOCS -> {full name: [option tokens, in order]}."""
    replies, _ = conn.exchange([["COMMAND", "DOCS"]])
    out = {}

    def fields(v):
        x = v[1] or []
        return {x[i][1].decode(): x[i + 1] for i in range(0, len(x) - 1, 2)}

    def walk(args, acc):
        for a in args[1] or []:
            f = fields(a)
            if "token" in f and f["token"][1]:
                t = f["token"][1].decode()
                if t not in acc:
                    acc.append(t)
            if "arguments" in f:
                walk(f["arguments"], acc)

    def add(name, doc):
        f = fields(doc)
        acc = []
        if "arguments" in f:
            walk(f["arguments"], acc)
        out[name] = acc
        if "subcommands" in f:
            sub = f["subcommands"][1] or []
            for i in range(0, len(sub) - 1, 2):
                add(sub[i][1].decode().lower(), sub[i + 1])

    x = replies[0][1]
    for i in range(0, len(x) - 1, 2):
        add(x[i][1].decode().lower(), x[i + 1])
    return out


def key_type(cats):
    for c in cats:
        c = c.lstrip("@")
        if c in ("string", "bitmap"):
            return "string"
        if c in ("list", "hash", "set"):
            return c
        if c == "sortedset":
            return "zset"
    return None


TOKEN_VALUES = ["", "abc", "-1", "inf", "nan", "9223372036854775807",
                "-9223372036854775808"]


def vectors(full, row, tokens=()):
    """The argument vectors of one command (deterministic order)."""
    arity, first, last, step, cats = row
    prefix = [p.upper() for p in full.split("|")]
    n = max(abs(arity), len(prefix))
    out = [list(prefix)]
    hostile = full in HOSTILE_ONLY

    def keypos(i, length):
        if first <= 0 or i < first:
            return False
        lst = last if last >= 0 else length + last
        return i <= lst and (i - first) % max(step, 1) == 0

    want = key_type(cats)
    for length in (n, n + 1):
        positions = list(range(len(prefix), length))
        has_key = any(keypos(i, length) for i in positions)
        variants = list(KEYS) if has_key else [None]
        for k in variants:
            own = k is None or k == "k:none" or KEYS[k][0] == want or (
                want is None and k in ("k:str:emb", "k:list:lp"))
            base = [(k if keypos(i, length) and k else DEFAULT) for i in positions]
            if hostile:
                base = ["abc"] * len(positions)
            if positions:
                out.append(prefix + base)
            if not own or length != n:
                continue
            free = [i for i in positions if not (k and keypos(i, length))]
            for v in PALETTE:
                for i in free:
                    a = list(base)
                    a[i - len(prefix)] = v
                    out.append(prefix + a)
                if len(free) > 1:
                    a = list(base)
                    for i in free:
                        a[i - len(prefix)] = v
                    out.append(prefix + a)
    # Option tokens (from redis-server's COMMAND DOCS): after the required arguments,
    # alone, with each hostile value, and as "T 1 v" (LIMIT offset count); and right after
    # the first key (where ZADD, ZRANGESTORE... read their options).
    if tokens and not hostile:
        own = [x for x in KEYS if KEYS[x][0] == want] or ["k:str:emb"]
        positions = list(range(len(prefix), n))
        big = [(own[-1] if keypos(i, n) else DEFAULT) for i in positions]
        for t in tokens:  # the big encoding: fewer values
            out += [prefix + big + [t, v] for v in TOKEN_VALUES]
        for k in own[:1]:
            base = [(k if keypos(i, n) else DEFAULT) for i in positions]
            cut = first - len(prefix) + 1 if first >= len(prefix) and base else None
            for t in tokens:
                out.append(prefix + base + [t])
                out += [prefix + base + [t, v] for v in PALETTE + [DEFAULT]]
                out += [prefix + base + [t, DEFAULT, v] for v in TOKEN_VALUES]
                if cut is not None and cut < len(base):
                    out.append(prefix + base[:cut] + [t] + base[cut:])
                    out += [prefix + base[:cut] + [t, v] + base[cut:] for v in TOKEN_VALUES]
    seen, uniq = set(), []
    for a in out:
        t = tuple(a)
        if t not in seen:
            seen.add(t)
            uniq.append(a)
    return uniq


def main():
    sw = Sweep()
    t0 = time.monotonic()
    # The command table is read in RESP2 (its parsers expect RESP2's flat shapes).
    kv_rows = info_rows(Server(KV_PORT, "kvcore", False))
    rd_rows = info_rows(Server(REDIS_PORT, "redis", False))
    tokens = doc_tokens(Server(REDIS_PORT, "redis", False))
    sw.rebuild()
    counts = {"kvcore": 0, "unimplemented": 0, "skipped": 0}
    for full in sorted(kv_rows):
        if FILTER and FILTER not in full:
            continue
        if full in SKIP and full not in HOSTILE_ONLY:
            counts["skipped"] += 1
            continue
        row = kv_rows[full]
        if row[0] == 0 or (full in ("command", "client", "config", "memory", "object",
                                    "latency", "function")):
            # A container: bare and with an unknown subcommand.
            vecs = [[full.upper()], [full.upper(), "nosuch"], [full.upper(), ""]]
        else:
            vecs = vectors(full, row, tokens.get(full, ()) if full in rd_rows else ())
        counts["kvcore"] += 1
        compare = full in rd_rows or full.split("|")[0] in ("debug",)
        writes = "@write" in row[4] or full in ("flushall", "flushdb", "swapdb", "debug")
        for argv in vecs:
            sw.run(full, argv, compare)
            if writes and sw.changed:
                sw.rebuild()  # a write that did not fail may have changed anything
    if not FILTER or "debug" in FILTER:
        for argv in DEBUG_VECTORS:
            sw.run("debug", argv, True)
            if sw.changed:
                sw.rebuild()
    for full in sorted(rd_rows):
        if full in kv_rows or (FILTER and FILTER not in full):
            continue
        counts["unimplemented"] += 1
        prefix = [p.upper() for p in full.split("|")]
        for extra in ([], ["1"], ["k:str:emb", "abc"]):
            sw.run(full, prefix + extra, compare=False)
    secs = time.monotonic() - t0
    print("sweep (RESP%d): %d kvcore commands, %d redis-only names, %d skipped (%s); %d vectors sent, "
          "%d compared with redis-server, %d known differences waived, %d findings, %.1f s"
          % (3 if RESP3 else 2, counts["kvcore"], counts["unimplemented"], counts["skipped"],
             ", ".join(sorted(k for k in SKIP if k not in HOSTILE_ONLY)), sw.sent,
             sw.compared, sum(sw.waived.values()), len(sw.findings), secs))
    for why, n in sorted(sw.waived.items()):
        print("  waived %d: %s" % (n, why))
    return 1 if sw.findings else 0


if __name__ == "__main__":
    sys.exit(main())
