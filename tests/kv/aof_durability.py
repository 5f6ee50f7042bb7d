# SPDX-License-Identifier: MIT
"""kill -9 under a write load, then count acknowledged writes that did not survive.

  aof_durability.py load PORT PID STATE [--threads N] [--seconds S] [--min-acks N]
      N connections (default 4) each SET t<thread>:<i> <i> in order, one at a time, and
      record the highest i acknowledged. Once S seconds (default 3) have passed and at
      least --min-acks writes were acknowledged, the server PID gets SIGKILL while the
      writers are still writing. Writes whose reply never came are not acknowledged.
      STATE (JSON) gets per thread the last acknowledged i and the write rate.
  aof_durability.py verify PORT STATE
      Against the restarted server: per thread, how many acknowledged keys are missing
      (a key with the wrong value counts as missing), and the time those writes represent
      at the thread's rate. Prints one line per thread and a summary line
      "lost=<writes> lost_ms=<worst thread's time>"; exit status 0 (the shell decides).
Standard library only; the client is resp_conn.py.
"""
import json
import os
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from resp_conn import Conn  # noqa: E402


def writer(port, tid, acks, stop):
    try:
        c = Conn(port, timeout=30)
    except OSError:
        return
    i = 0
    start = time.monotonic()
    acks[tid] = {"last": -1, "start": start, "end": start}
    try:
        while not stop.is_set():
            c.send(["SET", "t%d:%d" % (tid, i), str(i)])
            raw, _ = c.read()
            if not raw.startswith(b"+OK"):
                break
            acks[tid]["last"] = i
            acks[tid]["end"] = time.monotonic()
            i += 1
    except (OSError, ValueError, EOFError):
        pass


def load(port, pid, state, threads, seconds, min_acks):
    acks = {}
    stop = threading.Event()
    ts = [threading.Thread(target=writer, args=(port, t, acks, stop)) for t in range(threads)]
    for t in ts:
        t.start()
    start = time.monotonic()
    deadline = start + 120  # a bound, not a condition: the load must reach min_acks first
    while time.monotonic() < deadline:
        total = sum(a["last"] + 1 for a in list(acks.values()))
        if time.monotonic() - start >= seconds and total >= min_acks:
            break
        time.sleep(0.01)
    os.kill(pid, signal.SIGKILL)
    for t in ts:
        t.join(60)
    stop.set()
    out = {}
    for tid, a in acks.items():
        dur = max(a["end"] - a["start"], 1e-6)
        out[str(tid)] = {"last": a["last"], "rate": (a["last"] + 1) / dur}
    with open(state, "w") as f:
        json.dump(out, f)
    total = sum(a["last"] + 1 for a in out.values())
    print("acknowledged=%d over %d threads" % (total, len(out)))


def verify(port, state):
    with open(state) as f:
        st = json.load(f)
    c = Conn(port, timeout=30)
    lost_total, worst_ms = 0, 0.0
    for tid, a in sorted(st.items()):
        last = a["last"]
        keys = ["t%s:%d" % (tid, i) for i in range(last + 1)]
        missing = 0
        for k0 in range(0, len(keys), 1000):
            chunk = keys[k0:k0 + 1000]
            if not chunk:
                continue
            _, (_, vals) = c.cmd("MGET", *chunk)
            for j, v in enumerate(vals):
                if v[1] != str(k0 + j).encode():
                    missing += 1
        ms = missing / a["rate"] * 1000 if a["rate"] > 0 else 0.0
        print("thread %s: acknowledged %d, missing %d (%.0f ms at %.0f writes/s)"
              % (tid, last + 1, missing, ms, a["rate"]))
        lost_total += missing
        worst_ms = max(worst_ms, ms)
    print("lost=%d lost_ms=%.0f" % (lost_total, worst_ms))


def main():
    args = sys.argv[1:]
    if len(args) >= 4 and args[0] == "load":
        opts = {"--threads": 4, "--seconds": 3.0, "--min-acks": 1000}
        rest = args[4:]
        for k in range(0, len(rest) - 1, 2):
            opts[rest[k]] = type(opts[rest[k]])(rest[k + 1])
        load(int(args[1]), int(args[2]), args[3], opts["--threads"], opts["--seconds"],
             opts["--min-acks"])
    elif len(args) == 3 and args[0] == "verify":
        verify(int(args[1]), args[2])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
