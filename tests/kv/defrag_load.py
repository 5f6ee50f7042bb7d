# SPDX-License-Identifier: MIT
"""The fragmenting workload of the active-defrag test and benchmark (kvcore-server).

  defrag_load.py fill   PORT N         N keys of mixed types (strings "key:<i, 12 digits>",
                                       others "agg:<i>"), values of 20-200 bytes
  defrag_load.py big    PORT M         add big:hash, big:zset and big:list of M elements
                                       each (a value bigger than any defrag step)
  defrag_load.py delete PORT N         delete a pseudo-random two thirds of them
  defrag_load.py client PORT N STOP    write and read (verifying) until the file STOP
                                       exists, then delete what it wrote
  defrag_load.py mutate PORT PORT2 M STOP  change big:* (defrag_load.py big M) on both
                                       servers alike until the file STOP exists
  defrag_load.py sample PORT OUT STOP  append "unix_ms ratio rss_bytes running hits" to OUT
                                       every 100 ms until the file STOP exists
  defrag_load.py probe  PORT OUT STOP  one GET at a time, about every 250 us, until the
                                       file STOP exists; then writes "unix_ms latency_us"
                                       per request to OUT (a time-resolved latency view)

Everything is a function of the key's index, so any process can tell a key's type, its
value and whether it survived the deletion. Strings dominate; when the server knows the
aggregate commands (probed with HSET/RPUSH/SADD/ZADD), small hashes, lists, sets and
sorted sets are mixed in, and every 20000th key is a big aggregate (more than
active-defrag-max-scan-fields elements) that the defragmenter has to defer.
Standard library only; talks RESP over a loopback socket with pipelining.
"""
import os
import random
import socket
import sys
import time


def enc(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        if not isinstance(a, bytes):
            a = str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


class Conn:
    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port))
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def _fill(self):
        d = self.s.recv(1 << 20)
        if not d:
            raise EOFError("server closed the connection")
        self.buf += d

    def _line(self):
        while b"\r\n" not in self.buf:
            self._fill()
        i = self.buf.index(b"\r\n")
        ln, self.buf = self.buf[:i], self.buf[i + 2:]
        return ln

    def reply(self):
        ln = self._line()
        t, rest = ln[:1], ln[1:]
        if t in (b"+", b":"):
            return rest if t == b"+" else int(rest)
        if t == b"-":
            return Exception(rest.decode(errors="replace"))
        if t == b"$":
            n = int(rest)
            if n < 0:
                return None
            while len(self.buf) < n + 2:
                self._fill()
            v, self.buf = self.buf[:n], self.buf[n + 2:]
            return v
        if t == b"*":
            n = int(rest)
            return None if n < 0 else [self.reply() for _ in range(n)]
        raise ValueError("bad reply %r" % ln)

    def pipeline(self, cmds):
        self.s.sendall(b"".join(cmds))
        return [self.reply() for _ in cmds]

    def call(self, *args):
        return self.pipeline([enc(*args)])[0]


def kname(i, aggregates=False):
    """Strings as redis-benchmark's key:__rand_int__ (12 digits), so its GETs with -r N
    hit them (or miss deleted ones); aggregates as agg:<12 digits>, out of its way."""
    return (b"key:%012d" if kind(i, aggregates) == "string" else b"agg:%012d") % i


def mix(i):
    return (i * 2654435761) & 0xFFFFFFFF


def survives(i):
    return (mix(i) >> 7) % 3 == 0


def kind(i, aggregates):
    if aggregates and i % 20000 == 19999:
        return "big-" + ("hash", "list", "set", "zset")[(i // 20000) % 4]
    r = (mix(i) >> 11) % 100
    if not aggregates or r < 70:
        return "string"
    return "hash" if r < 80 else "list" if r < 87 else "set" if r < 94 else "zset"


def value(i, salt=0):
    n = 20 + (mix(i + salt) >> 5) % 181
    unit = b"v%d-%d|" % (i, salt)
    return (unit * (n // len(unit) + 1))[:n]


def fill_cmds(i, aggregates):
    k = kname(i, aggregates)
    t = kind(i, aggregates)
    if t == "string":
        if i % 13 == 0:
            return [enc(b"SET", k, i * 7)]  # an integer
        if i % 4 == 0:
            return [enc(b"SET", k, value(i), b"EX", 100000)]
        return [enc(b"SET", k, value(i))]
    if t.startswith("big-"):
        t, n = t[4:], 1500
    else:
        n = 2 + (mix(i) >> 3) % 6
    if t == "hash":
        args = [b"HSET", k]
        for j in range(n):
            args += [b"f%d" % j, value(i, j)[: 20 + j % 40]]
        return [enc(*args)]
    if t == "list":
        return [enc(b"RPUSH", k, *[value(i, j) for j in range(n)])]
    if t == "set":
        return [enc(b"SADD", k, *[value(i, j)[:30] for j in range(n)])]
    args = [b"ZADD", k]
    for j in range(n):
        args += [b"%d.5" % (j * 3), value(i, j)[:30]]
    return [enc(*args)]


def probe_aggregates(c):
    ok = True
    for cmd in (("HSET", "__probe:h", "f", "v"), ("RPUSH", "__probe:l", "x"),
                ("SADD", "__probe:s", "x"), ("ZADD", "__probe:z", "1", "x")):
        if isinstance(c.call(*cmd), Exception):
            ok = False
    c.call("DEL", "__probe:h", "__probe:l", "__probe:s", "__probe:z")
    return ok


def run_batches(c, cmds, size=2000):
    errors = 0
    for b in range(0, len(cmds), size):
        for r in c.pipeline(cmds[b:b + size]):
            if isinstance(r, Exception):
                errors += 1
                if errors < 5:
                    print("error:", r, file=sys.stderr)
    return errors


def fill(port, n):
    c = Conn(port)
    aggregates = probe_aggregates(c)
    errors = 0
    step = 50000
    for base in range(0, n, step):
        cmds = []
        for i in range(base, min(n, base + step)):
            cmds += fill_cmds(i, aggregates)
        errors += run_batches(c, cmds)
    print("filled %d keys (aggregates: %s), %d errors" % (n, "yes" if aggregates else "no", errors))
    return 1 if errors else 0


def big(port, m):
    """Three values of m elements, written 1000 elements per command."""
    c = Conn(port)
    cmds = []
    for base in range(0, m, 1000):
        r = range(base, min(m, base + 1000))
        h, z = [b"HSET", b"big:hash"], [b"ZADD", b"big:zset"]
        for j in r:
            h += [b"f%d" % j, value(j, 3)[:24]]
            z += [b"%d" % (mix(j) % 1000003), b"m%d" % j]
        cmds += [enc(*h), enc(*z), enc(b"RPUSH", b"big:list", *[value(j, 5)[:24] for j in r])]
    errors = run_batches(c, cmds, 100)
    print("big values of %d elements, %d errors" % (m, errors))
    return 1 if errors else 0


def delete(port, n):
    c = Conn(port)
    aggregates = probe_aggregates(c)
    cmds = [enc(b"DEL", kname(i, aggregates)) for i in range(n) if not survives(i)]
    errors = run_batches(c, cmds)
    print("deleted %d keys, %d errors" % (len(cmds), errors))
    return 1 if errors else 0


def client(port, n, stop):
    """Writes its own keys and reads them back, and reads surviving strings of the fill,
    until `stop` exists; every read must return what was written."""
    c = Conn(port)
    rnd = random.Random(42)
    mine = {}
    survivors = [i for i in range(0, n, 7) if survives(i) and kind(i, True) == "string"]
    ops = bad = seq = 0
    latency_max = 0.0
    while not os.path.exists(stop):
        seq += 1
        k = b"bg:%d" % (seq % 5000)
        v = value(seq, 7)
        i = rnd.choice(survivors)
        j = rnd.choice(list(mine)) if mine else None
        cmds = [enc(b"SET", k, v), enc(b"GET", kname(i))]
        if j is not None:
            cmds.append(enc(b"GET", j))
        t0 = time.monotonic()
        r = c.pipeline(cmds)
        latency_max = max(latency_max, time.monotonic() - t0)
        mine[k] = v
        want = str(i * 7).encode() if i % 13 == 0 else value(i)
        if r[0] != b"OK" or r[1] != want or (j is not None and r[2] != mine[j]):
            bad += 1
            if bad < 5:
                print("mismatch: key:%d or %r: %r" % (i, j, r), file=sys.stderr)
        ops += len(cmds)
    run_batches(c, [enc(b"DEL", k) for k in mine])
    print("client: %d operations, %d wrong replies, slowest round trip %.1f ms"
          % (ops, bad, latency_max * 1000))
    return 1 if bad else 0


def mutate(port, port2, m, stop):
    """Changes the big values the same way on two servers until `stop` exists (and for
    at least 600 rounds): fields, members and elements go and come near both ends and in
    the middle of each value's order; and once the first server's defragmenter has
    looked at m allocations (active_defrag_hits + misses, so it is inside the big
    values, which are most of the dataset), every 50th round one value is deleted and
    written anew with the same type but small, sometimes by way of a string: what a
    resumable defrag cursor must survive. Every reply must be the same on both."""
    a, b = Conn(port), Conn(port2)
    rnd = random.Random(7)
    rounds = differ = 0
    replacing = 0
    while rounds < 600 or not os.path.exists(stop):
        rounds += 1
        j = rnd.randrange(m)
        if not replacing and rounds % 20 == 0:
            st = info_fields(a, "stats")
            if int(st["active_defrag_hits"]) + int(st["active_defrag_misses"]) >= m:
                replacing = rounds
        cmds = [enc(b"HDEL", b"big:hash", b"f%d" % j), enc(b"HSET", b"big:hash", b"n%d" % rounds, b"x" * 30),
                enc(b"ZREM", b"big:zset", b"m%d" % j),
                enc(b"ZADD", b"big:zset", b"-%d" % rounds, b"first%d" % rounds),
                enc(b"LPOP", b"big:list"), enc(b"RPUSH", b"big:list", b"tail%d" % rounds),
                enc(b"LSET", b"big:list", b"%d" % rnd.randrange(m // 2), b"set%d" % rounds)]
        if replacing and rounds % 50 == 0:
            key = (b"big:hash", b"big:zset", b"big:list")[(rounds // 50) % 3]
            if (rounds // 150) % 2 == 0:
                cmds += [enc(b"DEL", key), enc(b"SET", key, b"a string now")]
            cmds += [enc(b"DEL", key)]
            if key == b"big:hash":
                cmds += [enc(b"HSET", key, *[b"f%d" % i for i in range(2 * (rounds % 1000 + 10))])]
            elif key == b"big:zset":
                args = []
                for i in range(rounds % 1000 + 10):
                    args += [b"%d" % i, b"m%d" % i]
                cmds += [enc(b"ZADD", key, *args)]
            else:
                cmds += [enc(b"RPUSH", key, *[b"e%d" % i for i in range(rounds % 1000 + 10)])]
        ra, rb = [repr(r) for r in a.pipeline(cmds)], [repr(r) for r in b.pipeline(cmds)]
        if ra != rb:
            differ += 1
            if differ < 5:
                print("replies differ: %r / %r" % (ra, rb), file=sys.stderr)
    print("mutate: %d rounds, values written anew from round %d, %d differing replies"
          % (rounds, replacing, differ))
    return 1 if differ else 0


def info_fields(c, section):
    text = c.call("INFO", section).decode()
    out = {}
    for ln in text.split("\r\n"):
        if ":" in ln:
            a, b = ln.split(":", 1)
            out[a] = b
    return out


def sample(port, out, stop):
    c = Conn(port)
    with open(out, "a") as f:
        while not os.path.exists(stop):
            m = info_fields(c, "memory")
            s = info_fields(c, "stats")
            f.write("%d %s %s %s %s\n" % (time.time() * 1000,
                                          m["allocator_frag_ratio"], m["used_memory_rss"],
                                          m["active_defrag_running"], s["active_defrag_hits"]))
            f.flush()
            time.sleep(0.1)
    return 0


def probe(port, out, stop):
    c = Conn(port)
    rows = []
    clock = time.perf_counter
    offset = time.time() - clock()
    cmd = enc("GET", "key:%012d" % 0)
    i = 0
    while True:
        i += 1
        if i % 64 == 0 and os.path.exists(stop):
            break
        t0 = clock()
        c.s.sendall(cmd)
        c.reply()
        t1 = clock()
        rows.append((t0, t1 - t0))
        time.sleep(0.00025)
    with open(out, "w") as f:
        for t0, dt in rows:
            f.write("%.3f %d\n" % ((t0 + offset) * 1000, dt * 1e6))
    return 0


def main(argv):
    if len(argv) < 4:
        print(__doc__, file=sys.stderr)
        return 2
    what, port = argv[1], int(argv[2])
    if what == "fill":
        return fill(port, int(argv[3]))
    if what == "big":
        return big(port, int(argv[3]))
    if what == "delete":
        return delete(port, int(argv[3]))
    if what == "client":
        return client(port, int(argv[3]), argv[4])
    if what == "mutate":
        return mutate(port, int(argv[3]), int(argv[4]), argv[5])
    if what == "sample":
        return sample(port, argv[3], argv[4])
    if what == "probe":
        return probe(port, argv[3], argv[4])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
