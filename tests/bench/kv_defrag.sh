#!/bin/sh
# SPDX-License-Identifier: MIT
# Active defragmentation in kvcore-server, on a fragmenting workload:
# N keys (default 1.5M) of mixed types, values 20-200 bytes, a pseudo-random two thirds
# deleted (tests/kv/defrag_load.py). Two identical servers in turn: one gets
# CONFIG SET activedefrag yes (active-defrag-ignore-bytes 1mb, everything else default),
# the other keeps activedefrag no. On each, redis-benchmark GETs surviving and deleted
# string keys (-r N over the same key names) from the moment defrag is enabled, while
# INFO is sampled every 100 ms. KV_BENCH_ROUNDS rounds (default 3) alternate the two
# servers in ABBA order and medians are reported (the p99.9 ratio is the median of the
# per-round ratios). KV_BENCH_PIN=1 puts the server on CPU 1 and the
# clients on CPU 0 (taskset), which helps on an idle machine and hurts on a shared one.
# The server's verbose log gives each cycle's slices: count, longest (wall and CPU
# time: a slice's wall time includes any time the thread was descheduled), and how many
# took longer than 2 ms. Reports the time until allocator_frag_ratio < 1.1, GET latency
# p50/p99/p99.9/max with and without defrag, the longest defrag slice (LATENCY
# "active-defrag-cycle", threshold 1 ms), and draws ratio and RSS over time as an SVG.
# Targets: ratio < 1.1 within 10 s at the default cycle-max; GET p99.9 during
# defrag at most 1.5x without; no stall over 2 ms.
# usage: BUILD=build sh tests/bench/kv_defrag.sh
#   KV_DEFRAG_BENCH_KEYS (1500000), KV_DEFRAG_BENCH_REQUESTS (400000 GETs per side),
#   KV_DEFRAG_BENCH_CLIENTS (20), KV_BENCH_ROUNDS (3), KV_BENCH_PIN (0),
#   KV_DEFRAG_BENCH_CONFIG (more CONFIG SET pairs for both servers, e.g.
#   "active-defrag-cycle-us 200"),
#   KV_BENCH_OUT (directory for the
#   chart, samples and redis-benchmark outputs, default $BUILD/bench)
. "$(dirname "$0")/../lib.sh"
need_cmd redis-cli redis-benchmark python3
N=${KV_DEFRAG_BENCH_KEYS:-1500000}
REQ=${KV_DEFRAG_BENCH_REQUESTS:-400000}
CLIENTS=${KV_DEFRAG_BENCH_CLIENTS:-20}
ROUNDS=${KV_BENCH_ROUNDS:-3}
PIN=""
SRV_CPU=""
if [ "${KV_BENCH_PIN:-0}" = 1 ] && command -v taskset >/dev/null 2>&1 && [ "$(nproc)" -ge 2 ]; then
    PIN="taskset -c 0"
    SRV_CPU=1
fi
OUT=${KV_BENCH_OUT:-$BUILD/bench}
LOAD="python3 tests/kv/defrag_load.py"
mkdir -p "$OUT"

field() { redis-cli -p "$1" info "$2" | tr -d '\r' | sed -n "s/^$3://p"; }

# side NAME yes|no: one server, the workload, the benchmark; leaves $TMP/NAME.*
side() {
    name=$1
    kv_start_kvcore --save '' --enable-debug-command yes --latency-monitor-threshold 1 \
        --loglevel verbose
    port=$KV_PORT
    [ -n "$SRV_CPU" ] && taskset -apc "$SRV_CPU" "$KV_PID" >/dev/null
    $LOAD fill "$port" "$N" >/dev/null || exit 1
    $LOAD delete "$port" "$N" >/dev/null || exit 1
    # shellcheck disable=SC2086 # KV_DEFRAG_BENCH_CONFIG is "name value ..." pairs
    redis-cli -p "$port" config set active-defrag-ignore-bytes 1mb ${KV_DEFRAG_BENCH_CONFIG:-} >/dev/null
    sleep 0.5
    echo "$(field "$port" memory allocator_frag_ratio) $(field "$port" memory used_memory_rss)" \
        >"$TMP/$name.before"
    stop="$TMP/$name.stop"
    $PIN $LOAD sample "$port" "$TMP/$name.samples" "$stop" &
    spid=$!
    sleep 1
    t_on=$(python3 -c 'import time; print(int(time.time() * 1000))')
    echo "$t_on" >"$TMP/$name.t_on"
    [ "$2" = yes ] && redis-cli -p "$port" config set activedefrag yes >/dev/null
    [ -n "$SRV_CPU" ] && taskset -apc "$SRV_CPU" "$KV_PID" >/dev/null # jemalloc's thread too
    $PIN redis-benchmark -p "$port" -c "$CLIENTS" -n "$REQ" -r "$N" --precision 3 \
        GET key:__rand_int__ >"$TMP/$name.bench" 2>&1
    # Sample on until the cycles are over (yes) or for as long as that took (no).
    i=0
    while [ $i -lt 300 ]; do
        now=$(python3 -c 'import time; print(int(time.time() * 1000))')
        if [ "$2" = yes ]; then
            [ "$(field "$port" memory active_defrag_running)" = 0 ] && [ $((now - t_on)) -gt 3000 ] && break
        else
            [ $((now - t_on)) -gt "${YES_MS:-10000}" ] && break
        fi
        sleep 0.1
        i=$((i + 1))
    done
    [ "$2" = yes ] && YES_MS=$((now - t_on + 1000))
    sleep 1
    touch "$stop"
    wait $spid
    redis-cli -p "$port" latency latest >"$TMP/$name.latency"
    redis-cli -p "$port" info stats | tr -d '\r' | grep active_defrag >"$TMP/$name.stats"
    redis-cli -p "$port" info memory | tr -d '\r' >"$TMP/$name.memory"
    grep 'Active defrag slices' "$TMP/kvcore.$port.log" >"$TMP/$name.slices"
    kill "$KV_PID"
    while kill -0 "$KV_PID" 2>/dev/null; do sleep 0.1; done
}

echo "kv_defrag: $N keys, 2/3 deleted; $REQ GETs x $CLIENTS clients from CONFIG SET" \
    "activedefrag yes${KV_DEFRAG_BENCH_CONFIG:+ ($KV_DEFRAG_BENCH_CONFIG)};" \
    "$ROUNDS rounds${SRV_CPU:+, server on CPU 1, clients on CPU 0};" \
    "load average $(cut -d' ' -f1-3 /proc/loadavg)"
r=1
while [ $r -le "$ROUNDS" ]; do
    # ABBA: odd rounds start with defrag on, even rounds with it off, so a drift of the
    # machine's speed over the run does not always favour the same side.
    if [ $((r % 2)) = 1 ]; then
        side on$r yes
        side off$r no
    else
        side off$r no
        side on$r yes
    fi
    r=$((r + 1))
done

python3 - "$TMP" "$N" "$REQ" "$CLIENTS" "$OUT" "$ROUNDS" <<'PY'
import os, re, statistics, sys
tmp, n, req, clients, out, rounds = sys.argv[1:7]
rounds = int(rounds)

def samples(name):
    t_on = float(open(os.path.join(tmp, name + ".t_on")).read())
    rows = []
    for ln in open(os.path.join(tmp, name + ".samples")):
        p = ln.split()
        rows.append(((float(p[0]) - t_on) / 1000, float(p[1]), int(p[2]), int(p[3]), int(p[4])))
    return rows

def bench(name):
    text = open(os.path.join(tmp, name + ".bench")).read().replace("\r", "\n")
    cut = text.find("Cumulative distribution")
    dist = [(float(a), float(b)) for a, b in
            re.findall(r"([\d.]+)% <= ([\d.]+) milliseconds", text[:cut if cut > 0 else None])]
    p999 = next((ms for p, ms in dist if p >= 99.9), float("nan"))
    m = re.search(r"avg\s+min\s+p50\s+p95\s+p99\s+max\s*\n\s*([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+"
                  r"([\d.]+)\s+([\d.]+)\s+([\d.]+)", text)
    rps = re.search(r"throughput summary: ([\d.]+) requests per second", text)
    if not m:
        return None
    v = [float(x) for x in m.groups()]
    return {"p50": v[2], "p99": v[4], "p999": p999, "max": v[5],
            "rps": float(rps.group(1)) if rps else 0.0}

def slices(name):
    """(slices, longest wall us, longest CPU us, slices over 2 ms) over the round's cycles."""
    tot = [0, 0, 0, 0]
    for ln in open(os.path.join(tmp, name + ".slices")):
        m = re.search(r"slices: (\d+), longest (\d+) us \((\d+) us CPU\), (\d+) longer", ln)
        if m:
            v = [int(x) for x in m.groups()]
            tot = [tot[0] + v[0], max(tot[1], v[1]), max(tot[2], v[2]), tot[3] + v[3]]
    return tot

def slice_max(name):
    lat = open(os.path.join(tmp, name + ".latency")).read().split()
    if "active-defrag-cycle" not in lat:
        return 0
    return int(lat[lat.index("active-defrag-cycle") + 3])

rows = []
for r in range(1, rounds + 1):
    on, off = samples("on%d" % r), samples("off%d" % r)
    before = open(os.path.join(tmp, "on%d.before" % r)).read().split()
    reach = next((t for t, ratio, *_ in on if t >= 0 and ratio < 1.1), None)
    busy = [t for t, ratio, rss, run, hits in on if run > 0]
    stats = dict(l.strip().split(":", 1) for l in open(os.path.join(tmp, "on%d.stats" % r)) if ":" in l)
    rows.append({"ratio0": float(before[0]), "ratio1": on[-1][1], "rss0": int(before[1]) / 1e6,
                 "rss1": on[-1][2] / 1e6, "off_ratio": off[-1][1], "off_rss": off[-1][2] / 1e6,
                 "reach": reach, "busy": (max(busy) - min(busy) + 0.1) if busy else 0.0,
                 "hits": int(stats.get("active_defrag_hits", 0)),
                 "key_hits": int(stats.get("active_defrag_key_hits", 0)),
                 "slice": slice_max("on%d" % r), "sl": slices("on%d" % r),
                 "on": bench("on%d" % r), "off": bench("off%d" % r)})

def med(vals):
    vals = [v for v in vals if v is not None]
    return statistics.median(vals) if vals else float("nan")

for i, x in enumerate(rows, 1):
    line = ("  round %d: ratio %.2f -> %.2f, RSS %.0f -> %.0f MB (off: %.2f, %.0f MB); < 1.1 after %s;"
            " cycles %.1f s; hits %d, key hits %d; %d slices, longest %.1f ms (%.1f ms CPU),"
            " %d longer than 2 ms"
            % (i, x["ratio0"], x["ratio1"], x["rss0"], x["rss1"], x["off_ratio"], x["off_rss"],
               "%.1f s" % x["reach"] if x["reach"] is not None else "never", x["busy"], x["hits"],
               x["key_hits"], x["sl"][0], x["sl"][1] / 1000, x["sl"][2] / 1000, x["sl"][3]))
    print(line)
    for label in ("on", "off"):
        b = x[label]
        if b:
            print("     GET %-3s p50 %.3f p99 %.3f p99.9 %.3f max %.3f ms, %.0f rps"
                  % (label, b["p50"], b["p99"], b["p999"], b["max"], b["rps"]))
        else:
            print("     GET %-3s: redis-benchmark output not understood (%s/kv_defrag.*.bench)" % (label, out))
print("  median of %d rounds:" % rounds)
print("    time to allocator_frag_ratio < 1.1: %.1f s (target 10 s); ratio %.2f -> %.2f; RSS %.0f -> %.0f MB"
      % (med([x["reach"] for x in rows]), med([x["ratio0"] for x in rows]),
         med([x["ratio1"] for x in rows]), med([x["rss0"] for x in rows]), med([x["rss1"] for x in rows])))
print("    longest defrag slice: %.1f ms wall, %.1f ms CPU (max over rounds; LATENCY"
      " active-defrag-cycle max %s); slices longer than 2 ms: %d of %d"
      % (max(x["sl"][1] for x in rows) / 1000, max(x["sl"][2] for x in rows) / 1000,
         "%d ms" % max(x["slice"] for x in rows) if any(x["slice"] for x in rows) else "< 1 ms",
         sum(x["sl"][3] for x in rows), sum(x["sl"][0] for x in rows)))
ok = [x for x in rows if x["on"] and x["off"]]
if ok:
    print("    GET latency (ms), %s clients, %s requests   p50     p99   p99.9     max      rps" % (clients, req))
    for label, key in (("during defrag (activedefrag yes)", "on"), ("identical server, activedefrag no", "off")):
        print("      %-36s %7.3f %7.3f %7.3f %7.3f %8.0f" % (label, med([x[key]["p50"] for x in ok]),
              med([x[key]["p99"] for x in ok]), med([x[key]["p999"] for x in ok]),
              med([x[key]["max"] for x in ok]), med([x[key]["rps"] for x in ok])))
    ratio = med([x["on"]["p999"] / x["off"]["p999"] for x in ok if x["off"]["p999"]])
    print("      p99.9 yes/no: %.2f (target <= 1.5)" % ratio)
PY
python3 tests/bench/kv_defrag_chart.py "$TMP/on1.samples" "$TMP/off1.samples" \
    "$(cat "$TMP/on1.t_on")" \
    "kvcore-server active defrag: $N keys, 2/3 deleted, ignore-bytes 1mb" \
    "$OUT/kv_defrag.svg"
for f in "$TMP"/on*.samples "$TMP"/off*.samples "$TMP"/on*.bench "$TMP"/off*.bench; do
    cp "$f" "$OUT/kv_defrag.$(basename "$f")"
done
echo "  chart: $OUT/kv_defrag.svg; load average at the end $(cut -d' ' -f1-3 /proc/loadavg)"
