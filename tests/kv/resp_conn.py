# SPDX-License-Identifier: MIT
"""A minimal RESP2/RESP3 client for the kvcore test scripts (standard library only).

Replies are (type byte, value) pairs: b"+", b"-", b":" carry the raw line; b"$" the
bulk bytes or None; b"*" a list of such pairs, or None for a null array. RESP3 (after
HELLO 3): b"_" (None), b",", b"#", b"(" carry the raw line; b"=" (verbatim) and b"!"
(blob error) the bytes; b"%" (map: the 2N keys and values in order), b"~" (set), b">"
(push) a list; b"|" an attribute is read with the reply after it and returned as
(b"|", (attribute list, reply)). Methods that read return (raw bytes of the reply,
parsed value), so tests can compare bytes exactly.
PlainConn gives the same replies as plain Python values (see plain()).
Conn(port, strict=True) also rejects any reply that is not exactly RESP (ValueError):
a stray CR or LF in a line, a non-canonical number, a length below -1, a bulk not
followed by CRLF.
"""
import socket


def connect(port, timeout=10):
    """A TCP connection to the server on 127.0.0.1:port, Nagle off."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def enc(*args):
    """One command as a RESP multibulk; arguments may be bytes, str or numbers."""
    return Conn.encode(args)


class Conn:
    def __init__(self, port, timeout=10, strict=False):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""
        self.strict = strict

    @staticmethod
    def encode(args):
        out = [b"*%d\r\n" % len(args)]
        for a in args:
            if not isinstance(a, bytes):
                a = str(a).encode("utf-8", "surrogateescape")
            out.append(b"$%d\r\n%s\r\n" % (len(a), a))
        return b"".join(out)

    def send(self, args):
        self.sock.sendall(self.encode(args))

    def send_many(self, cmds):
        """Pipelines cmds and returns their replies in order."""
        self.sock.sendall(b"".join(self.encode(c) for c in cmds))
        return [self.read() for _ in cmds]

    def call(self, args):
        self.send(args)
        return self.read()

    def cmd(self, *args):
        return self.call(list(args))

    def _fill(self):
        d = self.sock.recv(1 << 20)
        if not d:
            raise EOFError("connection closed")
        self.buf += d

    def _line(self, pos):
        while True:
            i = self.buf.find(b"\r\n", pos)
            if i >= 0:
                if self.strict and (b"\n" in self.buf[pos:i] or b"\r" in self.buf[pos:i]):
                    raise ValueError("stray CR/LF in a line")
                return i
            self._fill()

    def _int(self, s):
        """The number in a reply line; in strict mode only an optional minus and digits."""
        if self.strict and not (s.isdigit() or (s[:1] == b"-" and s[1:].isdigit())):
            raise ValueError("bad integer %r" % s)
        return int(s)

    def _parse(self, pos):
        """Returns (end position, value) of the reply starting at pos."""
        i = self._line(pos)
        t, rest = self.buf[pos:pos + 1], self.buf[pos + 1:i]
        if t == b":" and self.strict:
            self._int(rest)
        if t in (b"+", b"-", b":", b",", b"#", b"("):
            return i + 2, (t, rest)
        if t == b"_":
            return i + 2, (t, None)
        if t in (b"$", b"=", b"!"):
            n = self._int(rest)
            if self.strict and n < -1:
                raise ValueError("bad bulk length %d" % n)
            if n < 0:
                return i + 2, (t, None)
            while len(self.buf) < i + 2 + n + 2:
                self._fill()
            if self.strict and self.buf[i + 2 + n:i + 4 + n] != b"\r\n":
                raise ValueError("bulk of %d bytes not followed by CRLF" % n)
            return i + 2 + n + 2, (t, self.buf[i + 2:i + 2 + n])
        if t in (b"*", b"%", b"~", b">", b"|"):
            n = self._int(rest)
            if self.strict and n < (-1 if t == b"*" else 0):
                raise ValueError("bad aggregate length %d" % n)
            items, p = [], i + 2
            for _ in range(max(n, 0) * (2 if t in (b"%", b"|") else 1)):
                p, v = self._parse(p)
                items.append(v)
            if t == b"|":
                p, v = self._parse(p)
                return p, (t, (items, v))
            return p, (t, items if n >= 0 else None)
        raise ValueError("bad reply type %r" % t)

    def read(self):
        end, val = self._parse(0)
        raw, self.buf = self.buf[:end], self.buf[end:]
        return raw, val

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def plain(val):
    """A parsed reply as plain Python: bulk -> bytes or None, integer -> int, status ->
    str, error -> Exception, array -> list (None for a null array); RESP3: null -> None,
    double -> float, boolean -> bool, big number -> int, verbatim -> bytes without its
    format, map -> dict, set and push -> list, attribute -> the reply it annotates."""
    t, v = val
    if t in (b"*", b"~", b">"):
        return None if v is None else [plain(x) for x in v]
    if t == b"%":
        items = [plain(x) for x in v]
        return dict(zip(items[0::2], items[1::2]))
    if t == b"|":
        return plain(v[1])
    if t in (b":", b"("):
        return int(v)
    if t == b",":
        return float(v)
    if t == b"#":
        return v == b"t"
    if t == b"=":
        return v[4:]
    if t in (b"-", b"!"):
        return Exception(v.decode())
    if t == b"+":
        return v.decode()
    return v


class PlainConn(Conn):
    """A Conn whose cmd() and value() return plain() values."""

    def cmd(self, *args):
        return plain(self.call(list(args))[1])

    def value(self):
        return plain(self.read()[1])
