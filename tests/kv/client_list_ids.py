#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""client_list_ids.py - CLIENT LIST ID compared with redis-server.

usage: client_list_ids.py KVCORE_PORT REDIS_PORT

On each server three connections A, B, C learn their ids; then A sends CLIENT LIST ID
with id lists built from those (0, negatives, the int64 limits, ids no client has,
duplicates, a reversed order, valid ids past the 64th argument, an invalid one past the
64th, 5,000 ids) and non-integers (empty, "abc", "01", " 1", "+1", "1.0", 2^64). The
reply must be the same as redis-server's: an error byte for byte, or the same sequence
of clients (mapped back to A/B/C, in order, repeats included; the info lines themselves
have fields that differ by nature). Exit 0 when every case matched.
"""
import re
import sys

from resp_conn import Conn

KV_PORT, REDIS_PORT = int(sys.argv[1]), int(sys.argv[2])

# Symbolic id lists: "A"/"B"/"C" stand for that connection's id, anything else is sent
# as it is. "X" is an id no client has (the largest id + 1000).
FILLER = ["0", "-1", "X"] * 22  # 66 arguments that list nothing
CASES = [
    ["0"], ["-1"], ["-9223372036854775808"], ["9223372036854775807"], ["X"],
    ["A"], ["A", "B", "C"], ["C", "B", "A"], ["A", "A"], ["B", "0", "A", "-5", "B"],
    ["0", "A"], ["X", "C"],
    [""], ["abc"], ["01"], [" 1"], ["+1"], ["1.0"], ["-0"], ["18446744073709551616"],
    ["A", "abc"], ["abc", "A"], ["A", ""],
    FILLER + ["B", "A"],              # valid ids after the 64th argument
    FILLER + ["A", "nope"],           # an invalid one after the 64th
    ["X"] * 66 + ["B", "A"], ["X"] * 66 + ["nope"],
    ["0"] * 5000 + ["C"] + ["X"] * 5000 + ["A"],
]


def ids_of(reply):
    return [int(m) for m in re.findall(rb"(?:^|\n)id=(\d+) ", reply)]


def run(port):
    conns = [Conn(port) for _ in range(3)]
    ids = {n: int(c.cmd("CLIENT", "ID")[1][1]) for n, c in zip("ABC", conns)}
    ids["X"] = max(ids.values()) + 1000
    back = {v: k for k, v in ids.items()}
    out = []
    for case in CASES:
        argv = ["CLIENT", "LIST", "ID"] + [str(ids[a]) if a in ids else a for a in case]
        raw, val = conns[0].call(argv)
        if val[0] == b"-":
            out.append(raw)
        elif val[0] == b"$":
            out.append(("listed", [back.get(i, "?%d" % i) for i in ids_of(val[1])]))
        else:
            out.append(("unexpected", raw[:80]))
    for c in conns:
        c.close()
    return out


def main():
    kv, rd = run(KV_PORT), run(REDIS_PORT)
    bad = 0
    for case, a, b in zip(CASES, kv, rd):
        if a != b:
            bad += 1
            print("CLIENT LIST ID %s:\n    kvcore: %r\n    redis:  %r" % (
                " ".join(case)[:80], a, b))
    print("client_list_ids: %d cases, %d differ" % (len(CASES), bad))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
