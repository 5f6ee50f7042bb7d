#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""soak_chart.py - the soak's memory curve as one self-contained SVG (standard library).

usage: soak_chart.py SAMPLES.csv TITLE OUT.svg

Draws RSS and used_memory (MB, from tests/kv/soak_sample.py) over time, maxmemory as a
dashed line, and the number of keys on a second axis; the legend gives the peaks.
"""
import csv
import math
import sys
from xml.sax.saxutils import escape

W, H = 960, 480
ML, MR, MT, MB = 70, 80, 60, 60
PW, PH = W - ML - MR, H - MT - MB


def nice_step(span, n=6):
    raw = max(span, 1e-9) / n
    mag = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 2.5, 5, 10):
        if raw <= m * mag:
            return m * mag
    return 10 * mag


def main(argv):
    rows = list(csv.DictReader(open(argv[1])))
    title, out = argv[2], argv[3]
    t = [float(r["t"]) for r in rows]
    rss = [int(r["rss"]) / 2**20 for r in rows]
    used = [int(r["used_memory"]) / 2**20 for r in rows]
    keys = [int(r["keys"]) for r in rows]
    maxmem = int(rows[-1]["maxmemory"]) / 2**20 if rows else 0
    tmax = max(t[-1], 1.0)
    ymax = max(max(rss), max(used), maxmem) * 1.15
    kmax = max(max(keys), 1) * 1.15
    ystep, kstep, tstep = nice_step(ymax), nice_step(kmax), nice_step(tmax, 10)

    def x(v):
        return ML + v / tmax * PW

    def y(v):
        return MT + PH - v / ymax * PH

    def yk(v):
        return MT + PH - v / kmax * PH

    s = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" '
         'font-family="sans-serif" font-size="12">' % (W, H, W, H),
         '<rect width="100%" height="100%" fill="white"/>',
         '<text x="%d" y="24" font-size="16" font-weight="bold">%s</text>' % (ML, escape(title))]
    v = 0.0
    while v <= ymax:
        s.append('<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#eee"/>' % (ML, ML + PW, y(v), y(v)))
        s.append('<text x="%d" y="%.1f" text-anchor="end">%g</text>' % (ML - 6, y(v) + 4, v))
        v += ystep
    v = 0.0
    while v <= kmax:
        s.append('<text x="%d" y="%.1f" fill="#888">%s</text>' % (ML + PW + 6, yk(v) + 4, "{:,}".format(int(v))))
        v += kstep
    v = 0.0
    while v <= tmax:
        s.append('<text x="%.1f" y="%d" text-anchor="middle">%g</text>' % (x(v), MT + PH + 18, v))
        v += tstep
    s.append('<text x="%d" y="%d" text-anchor="middle">seconds</text>' % (ML + PW / 2, H - 16))
    s.append('<text x="18" y="%d" transform="rotate(-90 18 %d)" text-anchor="middle">MB</text>'
             % (MT + PH / 2, MT + PH / 2))
    s.append('<text x="%d" y="%d" transform="rotate(90 %d %d)" text-anchor="middle" fill="#888">keys</text>'
             % (W - 14, MT + PH / 2, W - 14, MT + PH / 2))
    s.append('<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="#444"/>' % (ML, MT, PW, PH))
    if maxmem:
        s.append('<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#c00" stroke-dasharray="6,4"/>'
                 % (ML, ML + PW, y(maxmem), y(maxmem)))

    def path(xs, ys, f, color, width=2):
        pts = " ".join("%.1f,%.1f" % (x(a), f(b)) for a, b in zip(xs, ys))
        s.append('<polyline points="%s" fill="none" stroke="%s" stroke-width="%d"/>' % (pts, color, width))

    path(t, keys, yk, "#bbb", 1)
    path(t, used, y, "#2a7", 2)
    path(t, rss, y, "#15c", 2)
    legend = [("#15c", "RSS (peak %.1f MB, last %.1f MB)" % (max(rss), rss[-1])),
              ("#2a7", "used_memory (peak %.1f MB)" % max(used)),
              ("#c00", "maxmemory %.0f MB" % maxmem), ("#bbb", "keys (peak {:,})".format(max(keys)))]
    lx = ML + 10
    for c, label in legend:
        s.append('<line x1="%d" x2="%d" y1="44" y2="44" stroke="%s" stroke-width="3"/>' % (lx, lx + 18, c))
        s.append('<text x="%d" y="48">%s</text>' % (lx + 24, escape(label)))
        lx += 24 + int(len(label) * 6.6) + 18
    s.append("</svg>")
    with open(out, "w") as f:
        f.write("\n".join(s) + "\n")


if __name__ == "__main__":
    main(sys.argv)
