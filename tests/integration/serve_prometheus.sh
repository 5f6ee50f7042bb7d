#!/bin/sh
# SPDX-License-Identifier: MIT
# Debian's Prometheus scrapes memshim serve: its own instance on a free loopback port with
# a temporary data directory, a 1 s scrape interval and http_sd_configs pointing at the
# agent's /targets. Two shimmed programs appear as two series of memshim_allocated_bytes
# (label pid), both series grow when the programs allocate more, and when one program
# exits its target leaves /targets and Prometheus's active targets. Every wait is a
# bounded poll; nothing depends on how fast a scrape comes.
set -u
. "$(dirname "$0")/../lib.sh"
serve_setup
need_cmd prometheus

proc_start a
proc_start b
proc_say a "alloc 10 100000" >/dev/null
proc_say b "alloc 10 100000" >/dev/null
serve_start
fail=0

PROM_PORT=$(free_port)
mkdir "$TMP/prom"
cat >"$TMP/prometheus.yml" <<YEOF
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: memshim
    http_sd_configs:
      - url: $SERVE_URL/targets
        refresh_interval: 1s
YEOF
prometheus --config.file="$TMP/prometheus.yml" --storage.tsdb.path="$TMP/prom" \
    --web.listen-address="127.0.0.1:$PROM_PORT" >"$TMP/prom.log" 2>&1 &
PROM_PID=$!
track_pid "$PROM_PID"
PROM="http://127.0.0.1:$PROM_PORT"

# pid value lines of memshim_allocated_bytes as Prometheus has them now.
series() {
    [ "$(http_get "$PROM/api/v1/query?query=memshim_allocated_bytes")" = 200 ] || return 1
    python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
for r in d["data"]["result"]:
    print(r["metric"].get("pid"), r["value"][1])' "$TMP/body"
}
value_of() { # PID: its latest value, empty when Prometheus has no series
    series 2>/dev/null | awk -v p="$1" '$1 == p { print $2 }'
}
has_both() {
    [ -n "$(value_of "$a_pid")" ] && [ -n "$(value_of "$b_pid")" ]
}
wait_for 600 0.1 has_both || {
    cat "$TMP/prom.log" | tail -n 20
    fail "Prometheus never had both processes' series: $(series)"
}
echo "ok   both processes scraped"
a0=$(value_of "$a_pid")
b0=$(value_of "$b_pid")
proc_say a "alloc 100 100000" >/dev/null
proc_say b "alloc 200 100000" >/dev/null
grown() {
    av=$(value_of "$a_pid")
    bv=$(value_of "$b_pid")
    [ -n "$av" ] && [ -n "$bv" ] && awk -v a="$av" -v a0="$a0" -v b="$bv" -v b0="$b0" \
        'BEGIN { exit !(a > a0 + 9000000 && b > b0 + 19000000) }'
}
wait_for 600 0.1 grown || check "both series grew" "> $a0, > $b0" "$(value_of "$a_pid") $(value_of "$b_pid")"
[ $fail = 0 ] && echo "ok   both series grew ($a0 -> $av, $b0 -> $bv)"

# One program exits: its target goes from /targets and from Prometheus.
proc_quit b
in_targets() {
    [ "$(http_get "$SERVE_URL/targets")" = 200 ] && grep -q "\"__param_pid\": \"$1\"" "$TMP/body"
}
gone_from_targets() { ! in_targets "$b_pid"; }
wait_for 250 0.02 gone_from_targets || check "exited process left /targets" gone present
in_targets "$a_pid" || check "the other process stays in /targets" present gone
prom_active() { # PID: Prometheus has an active target for it
    [ "$(http_get "$PROM/api/v1/targets?state=active")" = 200 ] && python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
sys.exit(0 if any(t["discoveredLabels"].get("__param_pid") == sys.argv[2]
                  for t in d["data"]["activeTargets"]) else 1)' "$TMP/body" "$1"
}
prom_b_gone() { ! prom_active "$b_pid"; }
wait_for 600 0.1 prom_b_gone || check "exited process left Prometheus's targets" gone present
prom_active "$a_pid" || check "Prometheus still scrapes the other process" active gone
[ $fail = 0 ] && echo "ok   the exited process's target is gone"
serve_alive || fail "agent down"
exit $fail
