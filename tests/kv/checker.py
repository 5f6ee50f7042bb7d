#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""checker.py - a client that keeps a model of its own keys and verifies the server
against it while other clients load, abuse or starve the server (stress, soak and
failure-injection tests of kvcore-server).

usage: checker.py PORT [--db N] [--keys N] [--seconds S] [--stop-file F]
                  [--tolerant] [--final-digest] [--quiet-db N ...] [--stats F]

It works in its own database (SELECT N, default 9) on keys chk:0..N-1 with: SET (plain,
integer, and with an absolute expire time PXAT, so the model knows the exact TTL),
APPEND, INCRBY, DEL, HSET/RPUSH/SADD on typed keys, PERSIST, and reads: GET, and DEBUG
DIGEST-VALUE over a sample of keys compared with the digest computed here the way
kvcore's digest.c and Redis do (SHA-1 "mix" and "xor" of type, members and values).

Rules: a key without TTL must always read back exactly. A key with a TTL may vanish
(expired, or evicted by a volatile-* maxmemory policy), but if it is there its value is
exact, and once its time has passed (plus a small margin) it must be gone.

--tolerant (failure injection): an error reply to a write leaves the key "either the
old or the new value" until the next read settles it; a dropped connection is reopened
and the in-flight command's key becomes uncertain the same way. Replies that are neither
an acknowledged result nor an error are always failures.

At the end (after S seconds, or when the stop file appears) it waits for its TTLs to
pass, reads every key, checks the exact key set with SCAN and every value with DEBUG
DIGEST-VALUE and PEXPIRETIME; with --final-digest it also waits until no other database
holds keys (the test empties them) and compares DEBUG DIGEST of the whole dataset with
the model's digest. Prints one summary line; exit 0 when nothing was wrong.
"""
import hashlib
import os
import random
import socket
import sys
import time

args = sys.argv[1:]
PORT = int(args[0])


def opt(name, default, conv=str):
    if name in args:
        return conv(args[args.index(name) + 1])
    return default


DB = opt("--db", 9, int)
NKEYS = opt("--keys", 300, int)
SECONDS = opt("--seconds", 30.0, float)
STOP = opt("--stop-file", None)
STATS = opt("--stats", None)
TOLERANT = "--tolerant" in args
FINAL_DIGEST = "--final-digest" in args
MARGIN_MS = 50

stats = {"ops": 0, "reads": 0, "digests": 0, "errors": 0, "reconnects": 0, "vanished": 0,
         "uncertain": 0, "failures": 0}
problems = []


def fail(msg):
    stats["failures"] += 1
    if len(problems) < 20:
        problems.append(msg)
        print("CHECKER FAIL: " + msg, file=sys.stderr, flush=True)


class Dropped(Exception):
    pass


class Conn:
    def __init__(self):
        self.s = None
        self.buf = b""
        self.open()

    def open(self):
        for _ in range(200):
            try:
                self.s = socket.create_connection(("127.0.0.1", PORT), timeout=30)
                self.buf = b""
                r = self.call("SELECT", str(DB))
                if r == ("+", b"OK"):
                    return
                self.s.close()
            except (OSError, Dropped):
                pass
            time.sleep(0.05)
        raise SystemExit("checker: cannot connect to port %d" % PORT)

    def send(self, *a):
        out = b"*%d\r\n" % len(a)
        for x in a:
            x = x if isinstance(x, bytes) else str(x).encode()
            out += b"$%d\r\n%s\r\n" % (len(x), x)
        try:
            self.s.sendall(out)
        except OSError:
            raise Dropped()

    def _fill(self):
        try:
            d = self.s.recv(1 << 16)
        except OSError:
            raise Dropped()
        if not d:
            raise Dropped()
        self.buf += d

    def _line(self):
        while b"\r\n" not in self.buf:
            self._fill()
        i = self.buf.index(b"\r\n")
        line, self.buf = self.buf[:i], self.buf[i + 2:]
        return line

    def read(self):
        line = self._line()
        t, rest = line[:1].decode(), line[1:]
        if t in "+-":
            return (t, rest)
        if t == ":":
            return (t, int(rest))
        if t == "$":
            n = int(rest)
            if n < 0:
                return ("$", None)
            while len(self.buf) < n + 2:
                self._fill()
            v, self.buf = self.buf[:n], self.buf[n + 2:]
            return ("$", v)
        if t == "*":
            n = int(rest)
            return ("*", None if n < 0 else [self.read() for _ in range(n)])
        raise Dropped()

    def call(self, *a):
        self.send(*a)
        return self.read()


# --- The digest, as kvcore/digest.c computes it ---

def sha1(b):
    return hashlib.sha1(b).digest()


def xor20(a, b):
    return bytes(x ^ y for x, y in zip(a, b))


def mix(d, b):
    return sha1(xor20(d, sha1(b)))


TYPES = {"string": 0, "list": 1, "set": 2, "hash": 4}


def digest_object(d, kind, val):
    d = mix(d, TYPES[kind].to_bytes(4, "big"))
    if kind == "string":
        d = mix(d, val)
    elif kind == "list":
        for e in val:
            d = mix(d, e)
    elif kind == "set":
        for m in val:
            d = xor20(d, sha1(m))
    elif kind == "hash":
        for f, v in val.items():
            d = xor20(d, sha1(mix(mix(bytes(20), f), v)))
    return d


def digest_value(kind, val, expire):
    """DEBUG DIGEST-VALUE: type and value, and SHA1("!!expire!!") when it has a TTL."""
    d = digest_object(bytes(20), kind, val)
    if expire is not None:
        d = xor20(d, sha1(b"!!expire!!"))
    return d


def digest_key(name, kind, val, expire):
    """A key's part of DEBUG DIGEST: its name mixed first, then as digest_value."""
    d = digest_object(mix(bytes(20), name), kind, val)
    if expire is not None:
        d = xor20(d, sha1(b"!!expire!!"))
    return sha1(d)


# --- The model: name -> Entry, or a list of possible entries while uncertain ---

class Entry:
    __slots__ = ("kind", "val", "expire")

    def __init__(self, kind, val, expire=None):
        self.kind, self.val, self.expire = kind, val, expire

    def copy(self):
        v = self.val
        if isinstance(v, (list, set, dict)):
            v = type(v)(v)
        return Entry(self.kind, v, self.expire)


model = {}      # name -> Entry (absent = no key)
uncertain = {}  # name -> list of possible Entry/None, settled by the next read
# name -> the Entry whose TTL passed: until something deletes it, the server keeps such a
# key, and DEBUG DIGEST-VALUE (which does not expire keys, as Redis) may still see it.
expired = {}


def now_ms():
    return int(time.time() * 1000)


def current(name, at=None):
    """The model's entry, dropping one whose time had passed at `at` (default: now). A
    read judges by the time it was sent: its reply may come back late."""
    e = model.get(name)
    if e is not None and e.expire is not None and (at or now_ms()) > e.expire + MARGIN_MS:
        del model[name]
        expired[name] = e
        return None
    return e


def settle(name, kind, got):
    """A read saw `got` (bytes/None for strings): resolve an uncertain key."""
    options = uncertain.pop(name)
    for o in options:
        if o is None and got is None:
            model.pop(name, None)
            return True
        if o is not None and got is not None and o.kind == kind and o.val == got:
            model[name] = o
            return True
        if o is not None and o.expire is not None and got is None:
            model.pop(name, None)  # it may have expired or been evicted meanwhile
            return True
    fail("key %s: read %r, none of the possible values %r" %
         (name, got, [(o.kind, o.val) if o else None for o in options]))
    model.pop(name, None)
    return False


def mark_uncertain(name, new_entry):
    old = current(name)
    opts = uncertain.get(name, [old.copy() if old else None])
    opts.append(new_entry)
    uncertain[name] = opts
    stats["uncertain"] += 1


conn = Conn()


def do(name, new_entry, *cmd, ok=None):
    """Runs a write. ok(reply) says whether it is the acknowledged result; then the
    model takes new_entry (None = the key is gone)."""
    stats["ops"] += 1
    try:
        r = conn.call(*cmd)
    except Dropped:
        if not TOLERANT:
            fail("connection dropped during %r" % (cmd,))
        stats["reconnects"] += 1
        conn.open()
        mark_uncertain(name, new_entry)
        return None
    if r[0] == "-":
        stats["errors"] += 1
        if not TOLERANT and not r[1].startswith(b"OOM"):
            fail("%r -> error %r" % (cmd, r[1]))
        mark_uncertain(name, new_entry)
        return r
    if ok is not None and not ok(r):
        fail("%r -> unexpected reply %r" % (cmd, r))
        return r
    if name in uncertain:
        # The write's result tells us nothing about the old value; it is now new_entry.
        uncertain.pop(name)
    if new_entry is None:
        model.pop(name, None)
    else:
        model[name] = new_entry
    return r


def read_key(name):
    """GET/LRANGE/SMEMBERS/HGETALL as the key's name says (one type per prefix)."""
    kind = kind_of(name)
    cmd = {"string": ("GET", name), "list": ("LRANGE", name, "0", "-1"),
           "set": ("SMEMBERS", name), "hash": ("HGETALL", name)}[kind]
    stats["reads"] += 1
    sent = now_ms()
    try:
        r = conn.call(*cmd)
    except Dropped:
        if not TOLERANT:
            fail("connection dropped during %r" % (cmd,))
        stats["reconnects"] += 1
        conn.open()
        return
    if r[0] == "-":
        stats["errors"] += 1
        if not TOLERANT:
            fail("%r -> error %r" % (cmd, r[1]))
        return
    if r[0] != ("$" if kind == "string" else "*"):
        fail("%r -> %r: a reply of the wrong type (the reply stream is out of step)" % (cmd, r))
        conn.s.close()
        stats["reconnects"] += 1
        conn.open()
        return
    if kind == "string":
        got = r[1]
    else:
        items = [x[1] for x in r[1]]
        if not items:
            got = None
        elif kind == "list":
            got = items
        elif kind == "set":
            got = set(items)
        else:
            got = dict(zip(items[0::2], items[1::2]))
    if name in uncertain:
        settle(name, kind, got)
        return
    e = current(name, sent)
    if e is None:
        if got is not None:
            fail("key %s should not exist, read %r" % (name, got))
        return
    if got is None:
        if e.expire is not None:
            stats["vanished"] += 1  # expired or evicted: allowed for volatile keys
            del model[name]
            return
        fail("key %s (no TTL) is missing; model %r" % (name, e.val))
        return
    if got != e.val:
        fail("key %s: read %r, model %r" % (name, got, e.val))


def digest_sample(names):
    names = [n for n in names if n not in uncertain]
    if not names:
        return
    sent = now_ms()
    try:
        r = conn.call("DEBUG", "DIGEST-VALUE", *names)
    except Dropped:
        stats["reconnects"] += 1
        conn.open()
        return
    if r[0] == "-":
        stats["errors"] += 1
        if not TOLERANT:
            fail("DEBUG DIGEST-VALUE -> %r" % (r[1],))
        return
    stats["digests"] += 1
    for name, (_, hexd) in zip(names, r[1]):
        e = current(name, sent)
        got = bytes.fromhex(hexd.decode())
        if e is None:
            x = expired.get(name)
            if got != bytes(20) and (x is None or got != digest_value(x.kind, x.val, x.expire)):
                fail("digest of %s: key should not exist" % name)
        elif got == bytes(20) and e.expire is not None:
            stats["vanished"] += 1
            del model[name]
        elif got != digest_value(e.kind, e.val, e.expire):
            other = digest_value(e.kind, e.val, None if e.expire is not None else 0)
            if TOLERANT and got == other:
                # Under injected allocation failures the model cannot always know whether
                # a failed write's TTL reached the key (the value is read back, its TTL is
                # not): the value matched, the TTL's presence is left unjudged here.
                stats["ttl_unjudged"] = stats.get("ttl_unjudged", 0) + 1
                continue
            fail("digest of %s differs from the model (%s %r, expire %r%s)" %
                 (name, e.kind, e.val, e.expire,
                  "; it matches the value with the TTL's presence flipped" if got == other else ""))


rng = random.Random(os.getpid())


PREFIX = {"string": b"chk:", "list": b"chkl:", "set": b"chks:", "hash": b"chkh:"}


def kind_of(name):
    return next(k for k, p in PREFIX.items() if name.startswith(p))


def key_name(i, kind):
    return PREFIX[kind] + b"%d" % i


def step():
    i = rng.randrange(NKEYS)
    roll = rng.random()
    if roll < 0.55:
        name = key_name(i, "string")
        e = current(name)
        r = rng.random()
        if r < 0.25:
            v = ("%d" % rng.randrange(-10**6, 10**6)).encode()
            do(name, Entry("string", v), "SET", name, v, ok=lambda x: x == ("+", b"OK"))
        elif r < 0.45:
            v = os.urandom(rng.randrange(1, 300))
            do(name, Entry("string", v), "SET", name, v, ok=lambda x: x == ("+", b"OK"))
        elif r < 0.6:
            v = b"ttl-" + os.urandom(rng.randrange(1, 80))
            t = now_ms() + rng.randrange(100, 3000)
            do(name, Entry("string", v, t), "SET", name, v, "PXAT", str(t),
               ok=lambda x: x == ("+", b"OK"))
        elif r < 0.7 and name not in uncertain:
            suffix = os.urandom(rng.randrange(1, 40))
            if e is None or e.expire is None:
                old = e.val if e is not None else b""
                n = Entry("string", old + suffix)
                do(name, n, "APPEND", name, suffix,
                   ok=lambda x, L=len(old + suffix): x == (":", L))
        elif r < 0.8 and name not in uncertain and e is not None and e.expire is None:
            try:
                cur = int(e.val)
            except ValueError:
                cur = None
            if cur is not None and e.val == str(cur).encode():
                by = rng.randrange(-1000, 1000)
                nv = cur + by
                do(name, Entry("string", str(nv).encode()), "INCRBY", name, str(by),
                   ok=lambda x, nv=nv: x == (":", nv))
        elif r < 0.88:
            if name not in uncertain and (e is None or e.expire is None):
                want = 1 if e is not None else 0
                do(name, None, "DEL", name, ok=lambda x, w=want: x == (":", w))
            else:
                do(name, None, "DEL", name, ok=lambda x: x[0] == ":")
        else:
            read_key(name)
    elif roll < 0.85:
        kind = rng.choice(["list", "set", "hash"])
        name = key_name(i, kind)
        e = current(name)
        if name in uncertain or (e is not None and e.expire is not None):
            read_key(name)
            return
        if rng.random() < 0.3:
            read_key(name)
            return
        if e is not None and rng.random() < 0.1:
            do(name, None, "DEL", name, ok=lambda x: x == (":", 1))
            return
        m = b"m%d" % rng.randrange(200)
        if kind == "list":
            n = Entry("list", (e.val if e else []) + [m])
            if len(n.val) > 150:
                do(name, None, "DEL", name, ok=lambda x: x == (":", 1))
                return
            do(name, n, "RPUSH", name, m, ok=lambda x, L=len(n.val): x == (":", L))
        elif kind == "set":
            n = Entry("set", set(e.val) if e else set())
            added = m not in n.val
            n.val.add(m)
            do(name, n, "SADD", name, m, ok=lambda x, a=added: x == (":", int(a)))
        else:
            f = b"f%d" % rng.randrange(50)
            v = os.urandom(rng.randrange(1, 100))
            n = Entry("hash", dict(e.val) if e else {})
            added = f not in n.val
            n.val[f] = v
            do(name, n, "HSET", name, f, v, ok=lambda x, a=added: x == (":", int(a)))
    elif roll < 0.97:
        names = [key_name(rng.randrange(NKEYS), rng.choice(list(TYPES))) for _ in range(20)]
        digest_sample(names)
    else:
        read_key(key_name(i, rng.choice(list(TYPES))))


def final_check():
    # Let every TTL pass, then make the server drop those keys (lazy expiry on read).
    pending = [e.expire for e in model.values() if e.expire is not None]
    for opts in uncertain.values():
        pending += [o.expire for o in opts if o is not None and o.expire is not None]
    if pending:
        time.sleep(max(0, max(pending) + 2 * MARGIN_MS - now_ms()) / 1000.0)
    for name in list(uncertain):
        read_key(name)
    for name in list(model):
        read_key(name)
    for name in list(uncertain):
        fail("key %s still uncertain at the end" % name)
    # The exact key set.
    seen, cursor = set(), b"0"
    while True:
        r = conn.call("SCAN", cursor, "COUNT", "1000")
        cursor = r[1][0][1]
        seen.update(x[1] for x in r[1][1][1])
        if cursor == b"0":
            break
    want = {n for n, e in model.items()}
    if seen != want:
        fail("key set differs: extra %r, missing %r" %
             (sorted(seen - want)[:5], sorted(want - seen)[:5]))
    names = sorted(want)
    for k in range(0, len(names), 200):
        digest_sample(names[k:k + 200])
    for name in names:
        r = conn.call("PEXPIRETIME", name)
        if r != (":", -1):
            fail("%s has an expire time %r, the model has none" % (name, r))
    if FINAL_DIGEST:
        deadline = time.time() + 60
        while time.time() < deadline:
            info = conn.call("INFO", "keyspace")[1].decode()
            dbs = [l.split(":")[0] for l in info.split("\r\n") if l.startswith("db")]
            if dbs in ([], ["db%d" % DB]):
                break
            time.sleep(0.2)
        else:
            fail("other databases never became empty for the final DEBUG DIGEST")
        d = bytes(20)
        if model:
            d = mix(bytes(20), DB.to_bytes(4, "big"))
            for n, e in model.items():
                d = xor20(d, digest_key(n, e.kind, e.val, e.expire))
        got = conn.call("DEBUG", "DIGEST")[1].decode()
        stats["final_digest"] = got
        if got != d.hex():
            fail("DEBUG DIGEST %s, model %s" % (got, d.hex()))
    stats["keys_at_end"] = len(model)


def main():
    conn.call("FLUSHDB")
    start = time.time()
    next_report = start + 5
    while time.time() - start < SECONDS:
        if STOP and os.path.exists(STOP):
            break
        step()
        if STATS and time.time() >= next_report:
            with open(STATS, "w") as f:
                f.write(" ".join("%s=%s" % kv for kv in stats.items()) + "\n")
            next_report = time.time() + 5
    stats["seconds"] = round(time.time() - start, 1)
    final_check()
    line = "checker " + " ".join("%s=%s" % kv for kv in stats.items())
    print(line, flush=True)
    if STATS:
        with open(STATS, "w") as f:
            f.write(line + "\n")
    return 1 if stats["failures"] else 0


if __name__ == "__main__":
    sys.exit(main())
