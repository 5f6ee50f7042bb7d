#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""maxmemory_fill.py - fills a kvcore-server that has maxmemory set and checks what the
policy did (tests/integration/kv_maxmemory.sh runs it once per policy).

usage: maxmemory_fill.py PORT POLICY MAXMEMORY_BYTES

Writes strings, hashes and sets: "per:<n>" keys without a TTL (about a quarter of the
limit, so volatile-* policies always have TTL keys left to evict) and "vol:<n>" keys with
a TTL that grows with n, in pipelined batches, until 2.5 times the limit was written
(noeviction: until writes are refused). Between batches the "per:hot:<n>" keys are read,
so LRU/LFU policies see them as recently and often used; before the limit is reached the
writer pauses 2.2 s so that the LRU clock (1 s resolution) tells old keys from hot ones.

noeviction: the first refused write and every one after it must get exactly the OOM
error; every key written before must still hold exactly its value; reads and DEL keep
working. Eviction policies: no write refused, used_memory stays under the limit,
evicted_keys > 0, volatile-* keep every key without a TTL, LRU keeps the hot keys while
older keys remain, LFU keeps them throughout,
volatile-ttl evicts the soonest-expiring keys first.
Exit status 0 on success; each failed check is printed.
"""
import sys
import time

from resp_conn import Conn

OOM = b"-OOM command not allowed when used memory > 'maxmemory'.\r\n"


def info_field(conn, section, name):
    _, (_, text) = conn.cmd("INFO", section)
    for line in text.decode().split("\r\n"):
        if line.startswith(name + ":"):
            return line.split(":", 1)[1]
    return None


def key_write(kind, name, n, ttl):
    """The command writing key `name` (of kind 0 string, 1 hash, 2 set) and its value."""
    val = ("%s-%d-" % (name, n)) * 6
    if kind == 0:
        cmd = ["SET", name, val]
        if ttl:
            cmd += ["EX", str(ttl)]
        return [cmd], ("string", val)
    if kind == 1:
        fields = {"f%d" % i: "%s%d" % (val[:20], i) for i in range(5)}
        cmd = ["HSET", name]
        for f, v in fields.items():
            cmd += [f, v]
        cmds = [cmd]
        if ttl:
            cmds.append(["EXPIRE", name, str(ttl)])
        return cmds, ("hash", fields)
    members = ["m%d-%d" % (n, i) for i in range(5)] + [str(n * 10 + i) for i in range(3)]
    cmds = [["SADD", name] + members]
    if ttl:
        cmds.append(["EXPIRE", name, str(ttl)])
    return cmds, ("set", set(members))


def check_value(conn, name, want):
    """True if the key holds exactly its value, False if another, None if it is gone."""
    kind, val = want
    if kind == "string":
        raw, (t, v) = conn.cmd("GET", name)
        return None if v is None else v == val.encode()
    if kind == "hash":
        raw, (t, items) = conn.cmd("HGETALL", name)
        if not items:
            return None
        got = {items[i][1].decode(): items[i + 1][1].decode() for i in range(0, len(items), 2)}
        return got == val
    raw, (t, items) = conn.cmd("SMEMBERS", name)
    if not items:
        return None
    return {x[1].decode() for x in items} == val


def main():
    port, policy, maxmem = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    conn = Conn(port, timeout=30)
    failures = []
    written = {}  # name -> expected value (per keys and vol keys)
    ttls = {}
    hot = ["per:hot:%d" % i for i in range(100)]
    batch, n, total, refused = [], 0, 0, 0
    per_budget = maxmem // 4
    first_oom = None
    # Hot keys first, then per/vol keys in a 1:3 mix until the per budget is spent.
    for h in hot:
        cmds, want = key_write(0, h, 0, 0)
        for (raw, _) in conn.send_many(cmds):
            if raw != b"+OK\r\n":
                failures.append("writing %s: %r" % (h, raw))
        written[h] = want
    paused = False
    hot_mid = None
    while total < 5 * maxmem // 2:
        if not paused and total >= maxmem // 3 and policy.endswith("-lru"):
            # Before the limit is reached: LRU clocks tick once a second, so let everything
            # written so far grow idle, then read the hot keys: they alone are recent.
            paused = True
            time.sleep(2.2)
            conn.send_many([["GET", h] for h in hot])
        if hot_mid is None and total >= 2 * (maxmem // 3):
            # About half of the keys from before the pause were evicted: while keys that
            # idle remain, LRU must not take a hot key. (Later the whole keyspace turns
            # over within a second, below the LRU clock's resolution, and LRU cannot tell.)
            hot_mid = sum(1 for (raw, _) in conn.send_many([["EXISTS", h] for h in hot])
                          if raw == b":1\r\n")
        batch, names = [], []
        for _ in range(200):
            n += 1
            is_per = (n % 4 == 0) and total < per_budget
            name = ("per:%d" if is_per else "vol:%d") % n
            ttl = 0 if is_per else 10000 + n
            cmds, want = key_write(n % 3, name, n, ttl)
            for c in cmds:
                batch.append(c)
                names.append((name, want, ttl, c[0]))
            total += sum(len(str(a)) for c in cmds for a in c)
        replies = conn.send_many(batch)
        failed_keys = set()
        for (raw, _), (name, want, ttl, cname) in zip(replies, names):
            if raw.startswith(b"-"):
                failed_keys.add(name)
                if raw != OOM:
                    failures.append("%s %s: unexpected error %r" % (cname, name, raw))
                refused += 1
                if first_oom is None:
                    first_oom = name
            elif first_oom is not None and policy == "noeviction" and cname in ("SET", "HSET", "SADD"):
                failures.append("%s %s accepted after a refused write" % (cname, name))
        for (name, want, ttl, cname) in names:
            if name not in failed_keys:
                written[name] = want
                ttls[name] = ttl
        # Touch the hot keys (several times: LFU counters grow logarithmically).
        for _ in range(3):
            conn.send_many([["GET", h] for h in hot])
        if policy == "noeviction" and first_oom is not None:
            break
    used = int(info_field(conn, "memory", "used_memory"))
    evicted = int(info_field(conn, "stats", "evicted_keys"))
    print("%s: wrote %d bytes in %d keys, refused %d writes, evicted %d, used_memory %d of %d"
          % (policy, total, len(written), refused, evicted, used, maxmem))

    if policy == "noeviction":
        if first_oom is None:
            failures.append("noeviction: no write was refused")
        if evicted != 0:
            failures.append("noeviction: evicted_keys %d" % evicted)
        # Every key written before the limit holds exactly its value.
        bad = [k for k, v in written.items() if check_value(conn, k, v) is not True]
        if bad:
            failures.append("noeviction: %d keys lost or changed, e.g. %s" % (len(bad), bad[:5]))
        # Client buffers freed since may have brought usage back under the limit: write
        # single keys until one is refused; the next writes are refused too.
        for i in range(100000):
            raw, _ = conn.cmd("SET", "after:%d" % i, "x" * 100)
            if raw == OOM:
                break
            if raw != b"+OK\r\n":
                failures.append("noeviction: SET gave %r" % raw)
                break
        raw, _ = conn.cmd("SET", "another", "x")
        if raw != OOM:
            failures.append("noeviction: SET over the limit gave %r" % raw)
        raw, _ = conn.cmd("HSET", "per:hot:0x", "f", "v")
        if raw != OOM:
            failures.append("noeviction: HSET over the limit gave %r" % raw)
        raw, _ = conn.cmd("SADD", "sx", "1")
        if raw != OOM:
            failures.append("noeviction: SADD over the limit gave %r" % raw)
        raw, _ = conn.cmd("GET", hot[0])
        if not raw.startswith(b"$"):
            failures.append("noeviction: GET over the limit gave %r" % raw)
        raw, _ = conn.cmd("DEL", hot[0])
        if raw != b":1\r\n":
            failures.append("noeviction: DEL over the limit gave %r" % raw)
    else:
        if refused:
            failures.append("%s: %d writes refused" % (policy, refused))
        if evicted == 0:
            failures.append("%s: nothing evicted" % policy)
        conn.cmd("PING")  # every command first evicts down to the limit
        used = int(info_field(conn, "memory", "used_memory"))
        slack = max(64 * 1024, maxmem // 50)
        if used > maxmem + slack:
            failures.append("%s: used_memory %d above maxmemory %d" % (policy, used, maxmem))
        alive = set()
        names = list(written)
        for i in range(0, len(names), 500):
            chunk = names[i:i + 500]
            for name, (raw, _) in zip(chunk, conn.send_many([["EXISTS", k] for k in chunk])):
                if raw == b":1\r\n":
                    alive.add(name)
        per = [k for k in written if k.startswith("per:")]
        per_alive = [k for k in per if k in alive]
        vol = [k for k in written if k.startswith("vol:")]
        vol_alive = [k for k in vol if k in alive]
        hot_alive = [k for k in hot if k in alive]
        print("  alive: per %d/%d (hot %d/%d), vol %d/%d"
              % (len(per_alive), len(per), len(hot_alive), len(hot), len(vol_alive), len(vol)))
        if policy.startswith("volatile-") and len(per_alive) != len(per):
            failures.append("%s evicted %d keys without a TTL" % (policy, len(per) - len(per_alive)))
        if policy.startswith("volatile-") and len(vol_alive) == len(vol):
            failures.append("%s evicted no TTL key" % policy)
        if policy.startswith("allkeys-") and len(per_alive) + len(vol_alive) == len(written):
            failures.append("%s evicted nothing that was written" % policy)
        print("  hot keys alive half-way: %s" % hot_mid)
        if policy == "allkeys-lru" and (hot_mid is None or hot_mid < 90):
            failures.append("%s kept only %s of 100 hot keys half-way" % (policy, hot_mid))
        if policy == "allkeys-lfu" and len(hot_alive) < 90:
            failures.append("%s kept only %d of 100 hot keys" % (policy, len(hot_alive)))
        if policy == "volatile-ttl" and vol_alive:
            # The survivors should be the latest-expiring keys: their median TTL is high.
            surv = sorted(ttls[k] for k in vol_alive)
            gone = sorted(ttls[k] for k in vol if k not in alive)
            if gone and surv[len(surv) // 2] < gone[len(gone) // 2]:
                failures.append("volatile-ttl kept keys that expire sooner than those it evicted")
        # Surviving keys still hold their values.
        bad = [k for k in list(alive)[:2000] if check_value(conn, k, written[k]) is False]
        if bad:
            failures.append("%s: %d surviving keys changed, e.g. %s" % (policy, len(bad), bad[:5]))
    for f in failures:
        print("FAIL " + f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
