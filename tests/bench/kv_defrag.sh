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
# With VALKEY_SERVER=path, every round also runs that valkey-server (or redis-server)
# through the same workload with activedefrag yes, between the two kvcore servers
# (kvcore, valkey, kvcore, ...), and reports its time to ratio < 1.1 beside kvcore's,
# the median of the per-round kvcore/valkey ratios, and its curve on the same chart.
# KV_DEFRAG_BENCH_OFF=0 skips the activedefrag no servers (no latency comparison).
# KV_DEFRAG_BENCH_PAIRED=1 runs the two kvcore servers of a round side by side, their
# clients started together, so both see the same load from the rest of the machine
# (rounds minutes apart can differ more than the two sides); the twin stops when the
# defrag cycles are over. KV_DEFRAG_BENCH_PROBE=1 adds a probe beside the benchmark on
# every server (one GET at a time, about every 250 us, defrag_load.py probe) and
# reports its p50/p99/p99.9 over the span of the cycles against the twin's over the
# same span: a request window aligned with the cycle.
# KV_DEFRAG_BENCH_BIG=M adds one hash, one sorted set and one list of M elements each
# (defrag_load.py big) to every server before the deletion.
# The server's verbose log gives each cycle's slices: count, longest (wall and CPU
# time: a slice's wall time includes any time the thread was descheduled), how many
# took longer than 2 ms, and how many took over 1 ms of CPU (and of those, how many read
# more CPU than wall time: a jump of the clock, since one thread cannot do that). Reports the time until allocator_frag_ratio < 1.1, GET latency
# p50/p99/p99.9/max with and without defrag, the longest defrag slice (LATENCY
# "active-defrag-cycle", threshold 1 ms), and draws ratio and RSS over time as an SVG.
# Targets: ratio < 1.1 in at most half Valkey's time at the default cycle-max; GET
# p99.9 during defrag at most 1.2x without; no slice over 1 ms of CPU.
# usage: BUILD=build sh tests/bench/kv_defrag.sh
#   KV_DEFRAG_BENCH_KEYS (1500000), KV_DEFRAG_BENCH_REQUESTS (400000 GETs per side),
#   KV_DEFRAG_BENCH_CLIENTS (20), KV_BENCH_ROUNDS (3), KV_BENCH_PIN (0),
#   VALKEY_SERVER (unset), KV_DEFRAG_BENCH_OFF (1), KV_DEFRAG_BENCH_BIG (0),
#   KV_DEFRAG_BENCH_PAIRED (0), KV_DEFRAG_BENCH_PROBE (0),
#   KV_DEFRAG_BENCH_CONFIG (more CONFIG SET pairs for every server, e.g.
#   "active-defrag-cycle-us 200"),
#   KV_BENCH_OUT (directory for the chart, samples, redis-benchmark outputs and server
#   logs, default $BUILD/bench)
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
VK=${VALKEY_SERVER:-}
OFF=${KV_DEFRAG_BENCH_OFF:-1}
BIG=${KV_DEFRAG_BENCH_BIG:-0}
PROBE=${KV_DEFRAG_BENCH_PROBE:-0}
PAIRED=${KV_DEFRAG_BENCH_PAIRED:-0}
[ "$OFF" = 1 ] || PAIRED=0
if [ -n "$VK" ] && [ ! -x "$VK" ]; then
    echo "VALKEY_SERVER=$VK is not an executable" >&2
    exit 2
fi
mkdir -p "$OUT"

# The thread CPU clock's own spread: tests/helpers/cpu_clock_probe times a fixed 400 us
# piece of work every 2 ms beside every server (the same extra load on each side); the
# report gives its figures over the defrag-on kvcore servers' runs.
CLOCK_PROBE=$BUILD/tests/helpers/cpu_clock_probe
field() { redis-cli -p "$1" info "$2" | tr -d '\r' | sed -n "s/^$3://p"; }
now_ms() { python3 -c 'import time; print(int(time.time() * 1000))'; }

# The valkey-server (or redis-server) of VALKEY_SERVER, with kvcore's arguments; sets
# KV_PORT and KV_PID like kv_start_kvcore, log $TMP/kvcore.PORT.log all the same.
start_valkey() {
    KV_PORT=$(free_port)
    KV_STARTED=1
    "$VK" --bind 127.0.0.1 --port "$KV_PORT" --save '' --appendonly no --daemonize no \
        --dir "$TMP" "$@" >"$TMP/kvcore.$KV_PORT.log" 2>&1 &
    KV_PID=$!
    track_pid "$KV_PID"
    kv_wait_ready "$KV_PORT" "$KV_PID" || { cat "$TMP/kvcore.$KV_PORT.log"; exit 1; }
}

# side NAME kvcore|valkey yes|no: one server, the workload, the benchmark; leaves
# $TMP/NAME.*
side() {
    name=$1
    if [ "$2" = valkey ]; then
        start_valkey --enable-debug-command yes --latency-monitor-threshold 1 --loglevel verbose
    else
        kv_start_kvcore --save '' --enable-debug-command yes --latency-monitor-threshold 1 \
            --loglevel verbose
    fi
    port=$KV_PORT
    [ -n "$SRV_CPU" ] && taskset -apc "$SRV_CPU" "$KV_PID" >/dev/null
    $LOAD fill "$port" "$N" >/dev/null || exit 1
    if [ "$BIG" -gt 0 ]; then $LOAD big "$port" "$BIG" >/dev/null || exit 1; fi
    $LOAD delete "$port" "$N" >/dev/null || exit 1
    # shellcheck disable=SC2086 # KV_DEFRAG_BENCH_CONFIG is "name value ..." pairs
    redis-cli -p "$port" config set active-defrag-ignore-bytes 1mb ${KV_DEFRAG_BENCH_CONFIG:-} >/dev/null
    sleep 0.5
    echo "$(field "$port" memory allocator_frag_ratio) $(field "$port" memory used_memory_rss)" \
        >"$TMP/$name.before"
    stop="$TMP/$name.stop"
    $PIN $LOAD sample "$port" "$TMP/$name.samples" "$stop" &
    spid=$!
    ppid=""
    if [ "$PROBE" = 1 ]; then
        $PIN $LOAD probe "$port" "$TMP/$name.probe" "$stop" &
        ppid=$!
    fi
    sleep 1
    if [ -n "${PEER:-}" ]; then # paired: both servers start their clients together
        touch "$TMP/$name.ready"
        while [ ! -e "$TMP/$PEER.ready" ]; do sleep 0.02; done
    fi
    t_on=$(now_ms)
    echo "$t_on" >"$TMP/$name.t_on"
    [ "$3" = yes ] && redis-cli -p "$port" config set activedefrag yes >/dev/null
    cpid=""
    if [ -x "$CLOCK_PROBE" ]; then # beside every server alike: it takes ~1/6 of a CPU
        $CLOCK_PROBE 3600 >"$TMP/$name.clock" &
        cpid=$!
    fi
    [ -n "$SRV_CPU" ] && taskset -apc "$SRV_CPU" "$KV_PID" >/dev/null # jemalloc's thread too
    $PIN redis-benchmark -p "$port" -c "$CLIENTS" -n "$REQ" -r "$N" --precision 3 \
        GET key:__rand_int__ >"$TMP/$name.bench" 2>&1
    # Sample on until the cycles are over (yes) or for as long as that took (no).
    i=0
    while [ $i -lt 600 ]; do
        now=$(now_ms)
        if [ "$3" = yes ]; then
            [ "$(field "$port" memory active_defrag_running)" = 0 ] && [ $((now - t_on)) -gt 3000 ] && break
        elif [ -n "${PEER:-}" ]; then
            [ -e "$TMP/$PEER.over" ] && break
        else
            [ $((now - t_on)) -gt "${YES_MS:-10000}" ] && break
        fi
        sleep 0.1
        i=$((i + 1))
    done
    [ "$3" = yes ] && [ "$2" = kvcore ] && YES_MS=$((now - t_on + 1000))
    [ "$3" = yes ] && touch "$TMP/$name.over"
    if [ -n "$cpid" ]; then
        kill -TERM "$cpid"
        wait "$cpid" || true
    fi
    sleep 1
    touch "$stop"
    wait $spid
    [ -n "$ppid" ] && wait "$ppid"
    redis-cli -p "$port" latency latest >"$TMP/$name.latency"
    redis-cli -p "$port" info stats | tr -d '\r' | grep active_defrag >"$TMP/$name.stats"
    redis-cli -p "$port" info memory | tr -d '\r' >"$TMP/$name.memory"
    grep 'Active defrag slices' "$TMP/kvcore.$port.log" >"$TMP/$name.slices" || true
    kill "$KV_PID"
    while kill -0 "$KV_PID" 2>/dev/null; do sleep 0.1; done
    cp "$TMP/kvcore.$port.log" "$TMP/$name.log"
}

big_note=""
[ "$BIG" -gt 0 ] && big_note="; a hash, a sorted set and a list of $BIG elements each"
echo "kv_defrag: $N keys, 2/3 deleted$big_note; $REQ GETs x $CLIENTS clients" \
    "from CONFIG SET activedefrag yes${KV_DEFRAG_BENCH_CONFIG:+ ($KV_DEFRAG_BENCH_CONFIG)};" \
    "$ROUNDS rounds$([ "$PAIRED" = 1 ] && echo ', the two kvcore servers side by side')${SRV_CPU:+, server on CPU 1, clients on CPU 0}${VK:+; against $VK};" \
    "load average $(cut -d' ' -f1-3 /proc/loadavg)"
r=1
while [ $r -le "$ROUNDS" ]; do
    # ABBA: odd rounds start with defrag on, even rounds with it off, so a drift of the
    # machine's speed over the run does not always favour the same side. Valkey runs
    # between the two kvcore servers.
    if [ "$PAIRED" = 1 ]; then
        PEER=off$r side on$r kvcore yes &
        p1=$!
        PEER=on$r side off$r kvcore no &
        p2=$!
        wait $p1 || exit 1
        wait $p2 || exit 1
        [ -n "$VK" ] && side vk$r valkey yes
    elif [ $((r % 2)) = 1 ]; then
        side on$r kvcore yes
        [ -n "$VK" ] && side vk$r valkey yes
        [ "$OFF" = 1 ] && side off$r kvcore no
    else
        [ "$OFF" = 1 ] && side off$r kvcore no
        [ -n "$VK" ] && side vk$r valkey yes
        side on$r kvcore yes
    fi
    r=$((r + 1))
done

python3 - "$TMP" "$N" "$REQ" "$CLIENTS" "$OUT" "$ROUNDS" "$OFF" "$VK" "$PROBE" <<'PY'
import os, re, statistics, sys
tmp, n, req, clients, out, rounds, off_on, vk, probe_on = sys.argv[1:10]
rounds = int(rounds)
has_off = off_on == "1"

def path(name, ext):
    return os.path.join(tmp, name + "." + ext)

def samples(name):
    t_on = float(open(path(name, "t_on")).read())
    rows = []
    for ln in open(path(name, "samples")):
        p = ln.split()
        rows.append(((float(p[0]) - t_on) / 1000, float(p[1]), int(p[2]), int(p[3]), int(p[4])))
    return rows

def bench(name):
    text = open(path(name, "bench")).read().replace("\r", "\n")
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
    """(slices, longest wall us, longest CPU us, slices over 2 ms wall, slices over 1 ms CPU,
    those of them whose CPU time read more than their wall time) over the round's cycles."""
    tot = [0, 0, 0, 0, 0, 0]
    for ln in open(path(name, "slices")):
        m = re.search(r"slices: (\d+), longest (\d+) us \((\d+) us CPU\), (\d+) longer"
                      r"(?: than 2 ms, (\d+) over 1 ms CPU)?(?: \((\d+) of them reading)?", ln)
        if m:
            v = [int(x or 0) for x in m.groups()]
            tot = [tot[0] + v[0], max(tot[1], v[1]), max(tot[2], v[2]), tot[3] + v[3], tot[4] + v[4],
                   tot[5] + v[5]]
    return tot

def slice_max(name):
    lat = open(path(name, "latency")).read().split()
    if "active-defrag-cycle" not in lat:
        return 0
    return int(lat[lat.index("active-defrag-cycle") + 3])

def clock(name):
    """cpu_clock_probe's line for the cycle: (runs, median us, max us, runs over 1 ms) or None."""
    try:
        text = open(path(name, "clock")).read()
    except OSError:
        return None
    m = re.search(r"runs (\d+), work median (\d+) us CPU, p99.9 \d+ us, max (\d+) us, over 1 ms: (\d+)",
                  text)
    return tuple(int(x) for x in m.groups()) if m else None

def side(name):
    """The figures of one activedefrag yes server."""
    on = samples(name)
    before = open(path(name, "before")).read().split()
    reach = next((t for t, ratio, *_ in on if t >= 0 and ratio < 1.1), None)
    busy = [t for t, ratio, rss, run, hits in on if run > 0]
    stats = dict(l.strip().split(":", 1) for l in open(path(name, "stats")) if ":" in l)
    return {"ratio0": float(before[0]), "ratio1": on[-1][1], "rss0": int(before[1]) / 1e6,
            "rss1": on[-1][2] / 1e6, "reach": reach,
            "busy": (max(busy) - min(busy) + 0.1) if busy else 0.0,
            "hits": int(stats.get("active_defrag_hits", 0)),
            "key_hits": int(stats.get("active_defrag_key_hits", 0)),
            "slice": slice_max(name), "sl": slices(name), "bench": bench(name),
            "clock": clock(name)}

def med(vals):
    vals = [v for v in vals if v is not None]
    return statistics.median(vals) if vals else float("nan")

def secs(t):
    return "%.1f s" % t if t is not None else "never"

rows = []
for r in range(1, rounds + 1):
    x = {"kv": side("on%d" % r)}
    if has_off:
        off = samples("off%d" % r)
        x["off_ratio"], x["off_rss"], x["off"] = off[-1][1], off[-1][2] / 1e6, bench("off%d" % r)
    if vk:
        x["vk"] = side("vk%d" % r)
    rows.append(x)

def gets(label, b):
    if b:
        print("     GET %-6s p50 %.3f p99 %.3f p99.9 %.3f max %.3f ms, %.0f rps"
              % (label, b["p50"], b["p99"], b["p999"], b["max"], b["rps"]))
    else:
        print("     GET %-6s: redis-benchmark output not understood (%s/kv_defrag.*.bench)" % (label, out))

for i, x in enumerate(rows, 1):
    k = x["kv"]
    line = ("  round %d: kvcore ratio %.2f -> %.2f, RSS %.0f -> %.0f MB%s; < 1.1 after %s;"
            " cycles %.1f s; hits %d, key hits %d; %d slices, longest %.1f ms (%.1f ms CPU),"
            " %d longer than 2 ms, %d over 1 ms CPU (%d reading more CPU than wall time)"
            % (i, k["ratio0"], k["ratio1"], k["rss0"], k["rss1"],
               " (off: %.2f, %.0f MB)" % (x["off_ratio"], x["off_rss"]) if has_off else "",
               secs(k["reach"]), k["busy"], k["hits"], k["key_hits"], k["sl"][0], k["sl"][1] / 1000,
               k["sl"][2] / 1000, k["sl"][3], k["sl"][4], k["sl"][5]))
    print(line)
    if k["clock"]:
        print("     thread CPU clock on a fixed piece of work while the server ran: %d runs, median %d us,"
              " max %d us, %d over 1 ms" % k["clock"])
    gets("on", k["bench"])
    if has_off:
        gets("off", x["off"])
    if vk:
        v = x["vk"]
        print("           valkey ratio %.2f -> %.2f, RSS %.0f -> %.0f MB; < 1.1 after %s; cycles %.1f s;"
              " hits %d, key hits %d" % (v["ratio0"], v["ratio1"], v["rss0"], v["rss1"],
                                         secs(v["reach"]), v["busy"], v["hits"], v["key_hits"]))
        gets("valkey", v["bench"])
kv = [x["kv"] for x in rows]
print("  median of %d rounds:" % rounds)
print("    time to allocator_frag_ratio < 1.1: %.1f s; ratio %.2f -> %.2f; RSS %.0f -> %.0f MB"
      % (med([x["reach"] for x in kv]), med([x["ratio0"] for x in kv]),
         med([x["ratio1"] for x in kv]), med([x["rss0"] for x in kv]), med([x["rss1"] for x in kv])))
if vk:
    vks = [x["vk"] for x in rows]
    print("    valkey (%s): %.1f s; ratio %.2f -> %.2f; RSS %.0f -> %.0f MB"
          % (vk, med([x["reach"] for x in vks]), med([x["ratio0"] for x in vks]),
             med([x["ratio1"] for x in vks]), med([x["rss0"] for x in vks]), med([x["rss1"] for x in vks])))
    per = [x["kv"]["reach"] / x["vk"]["reach"] for x in rows
           if x["kv"]["reach"] is not None and x["vk"]["reach"]]
    print("    kvcore / valkey time to < 1.1: %.2f (rounds: %s; target <= 0.5)"
          % (med(per), ", ".join("%.2f" % p for p in per) or "none"))
print("    longest defrag slice: %.1f ms wall, %.2f ms CPU (max over rounds; LATENCY"
      " active-defrag-cycle max %s); slices longer than 2 ms: %d of %d; over 1 ms of CPU:"
      " %d (rounds: %s), of which %d read more CPU than wall time"
      % (max(x["sl"][1] for x in kv) / 1000, max(x["sl"][2] for x in kv) / 1000,
         "%d ms" % max(x["slice"] for x in kv) if any(x["slice"] for x in kv) else "< 1 ms",
         sum(x["sl"][3] for x in kv), sum(x["sl"][0] for x in kv), sum(x["sl"][4] for x in kv),
         ", ".join(str(x["sl"][4]) for x in kv), sum(x["sl"][5] for x in kv)))
ck = [x["clock"] for x in kv if x["clock"]]
if ck:
    print("    the thread CPU clock itself (cpu_clock_probe, a fixed piece of work of median %d us"
          " during the cycles): up to %d us, %d of %d runs over 1 ms"
          % (med([c[1] for c in ck]), max(c[2] for c in ck), sum(c[3] for c in ck),
             sum(c[0] for c in ck)))
ok = [x for x in rows if x["kv"]["bench"] and has_off and x["off"]]
if ok:
    print("    GET latency (ms), %s clients, %s requests   p50     p99   p99.9     max      rps" % (clients, req))
    for label, get in (("during defrag (activedefrag yes)", lambda x: x["kv"]["bench"]),
                       ("identical server, activedefrag no", lambda x: x["off"])):
        print("      %-36s %7.3f %7.3f %7.3f %7.3f %8.0f" % (label, med([get(x)["p50"] for x in ok]),
              med([get(x)["p99"] for x in ok]), med([get(x)["p999"] for x in ok]),
              med([get(x)["max"] for x in ok]), med([get(x)["rps"] for x in ok])))
    per = [x["kv"]["bench"]["p999"] / x["off"]["p999"] for x in ok if x["off"]["p999"]]
    print("      p99.9 yes/no: %.2f (rounds: %s; target <= 1.2)"
          % (med(per), ", ".join("%.2f" % p for p in per)))

def probe(name, t0, t1):
    """The probe's latencies (us) sent between t0 and t1 s after activedefrag yes."""
    t_on = float(open(path(name, "t_on")).read())
    lat = []
    for ln in open(path(name, "probe")):
        t, us = ln.split()
        t = (float(t) - t_on) / 1000
        if t0 <= t < t1:
            lat.append((int(us), t))
    return sorted(lat)

def pct(lat, q):
    return lat[min(len(lat) - 1, int(q * len(lat)))][0] if lat else float("nan")

if probe_on == "1" and has_off:
    print("    probe (one GET every ~250 us beside the benchmark), during the defrag cycles"
          " (the same span on the twin):")
    pr = []
    for i, x in enumerate(rows, 1):
        busy = x["kv"]["busy"]
        a, b = probe("on%d" % i, 0, busy), probe("off%d" % i, 0, busy)
        top = sorted(t for _, t in a[-5:])
        pr.append((pct(a, 0.99) / pct(b, 0.99), pct(a, 0.999) / pct(b, 0.999)))
        print("      round %d: %.1f s, %d/%d GETs; on p50 %d p99 %d p99.9 %d max %d us;"
              " off p50 %d p99 %d p99.9 %d max %d us; 5 slowest on at %s s"
              % (i, busy, len(a), len(b), pct(a, .5), pct(a, .99), pct(a, .999), a[-1][0] if a else 0,
                 pct(b, .5), pct(b, .99), pct(b, .999), b[-1][0] if b else 0,
                 ", ".join("%.2f" % t for t in top)))
    print("      probe p99 yes/no %.2f, p99.9 yes/no %.2f (medians; rounds p99.9: %s)"
          % (med([p[0] for p in pr]), med([p[1] for p in pr]), ", ".join("%.2f" % p[1] for p in pr)))
PY
off1=""
[ "$OFF" = 1 ] && off1="$TMP/off1.samples"
vk1=""
[ -n "$VK" ] && vk1="$TMP/vk1.samples"
python3 tests/bench/kv_defrag_chart.py "$TMP/on1.samples" "$(cat "$TMP/on1.t_on")" \
    "kvcore-server active defrag${VK:+ vs valkey}: $N keys, 2/3 deleted, ignore-bytes 1mb" \
    "$OUT/kv_defrag.svg" \
    ${off1:+--off "$off1"} ${vk1:+--valkey "$vk1" "$(cat "$TMP/vk1.t_on")"}
for f in "$TMP"/on*.samples "$TMP"/off*.samples "$TMP"/vk*.samples "$TMP"/*.bench "$TMP"/*.t_on \
    "$TMP"/*.probe \
    "$TMP"/on*.log "$TMP"/off*.log "$TMP"/vk*.log; do
    [ -e "$f" ] && cp "$f" "$OUT/kv_defrag.$(basename "$f")"
done
echo "  chart: $OUT/kv_defrag.svg; load average at the end $(cut -d' ' -f1-3 /proc/loadavg)"
