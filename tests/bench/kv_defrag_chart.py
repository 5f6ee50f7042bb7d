# SPDX-License-Identifier: MIT
"""Draws the kv_defrag benchmark's chart as one self-contained SVG (standard library only).

usage: kv_defrag_chart.py ON_SAMPLES ENABLE_MS TITLE OUT.svg [--off OFF_SAMPLES]
                          [--valkey VK_SAMPLES VK_ENABLE_MS]

Each samples file has lines "unix_ms allocator_frag_ratio rss_bytes active_defrag_running
active_defrag_hits" (tests/kv/defrag_load.py sample). ON is the kvcore server that turned
activedefrag on at ENABLE_MS; OFF (optional) the identical server that kept it off (its
samples are aligned on its own start of sampling plus the same lead); VK (optional) a
Valkey server that turned activedefrag on at VK_ENABLE_MS, through the same workload.
The chart shows allocator_frag_ratio (left axis) and RSS (right axis) over time, the 1.1
line, the moment defrag was enabled, when each server's ratio first fell below 1.1, and
bands where a kvcore cycle was running.
"""
import math
import sys
from xml.sax.saxutils import escape

W, H = 960, 520
ML, MR, MT, MB = 70, 80, 60, 70
PW, PH = W - ML - MR, H - MT - MB


def load(path):
    rows = []
    for ln in open(path):
        p = ln.split()
        if len(p) >= 5:
            rows.append((float(p[0]), float(p[1]), float(p[2]) / 1e6, int(p[3]), int(p[4])))
    return rows


def nice_step(span, n=6):
    raw = max(span, 1e-9) / n
    mag = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 2.5, 5, 10):
        if raw <= m * mag:
            return m * mag
    return 10 * mag


def main(argv):
    if len(argv) < 5:
        print(__doc__, file=sys.stderr)
        return 2
    on, t_on, title, out = load(argv[1]), float(argv[2]), argv[3], argv[4]
    off, vk, t_vk = [], [], 0.0
    rest = argv[5:]
    while rest:
        if rest[0] == "--off" and len(rest) >= 2:
            off, rest = load(rest[1]), rest[2:]
        elif rest[0] == "--valkey" and len(rest) >= 3:
            vk, t_vk, rest = load(rest[1]), float(rest[2]), rest[3:]
        else:
            print(__doc__, file=sys.stderr)
            return 2
    lead = t_on - on[0][0] if on else 0.0
    son = [((r[0] - t_on) / 1000.0,) + r[1:] for r in on]
    soff = [((r[0] - off[0][0] - lead) / 1000.0,) + r[1:] for r in off] if off else []
    svk = [((r[0] - t_vk) / 1000.0,) + r[1:] for r in vk]
    allr = son + soff + svk
    tmin = min(r[0] for r in allr)
    tmax = max(r[0] for r in allr)
    rmax = max(r[1] for r in allr) * 1.05
    rmin = 0.9
    mmax = max(r[2] for r in allr) * 1.1
    mmin = 0.0

    def x(t):
        return ML + (t - tmin) / (tmax - tmin) * PW

    def yr(v):
        return MT + PH - (v - rmin) / (rmax - rmin) * PH

    def ym(v):
        return MT + PH - (v - mmin) / (mmax - mmin) * PH

    s = []
    s.append('<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" '
             'font-family="DejaVu Sans, Arial, sans-serif" font-size="12">' % (W, H, W, H))
    s.append('<rect width="100%" height="100%" fill="white"/>')
    s.append('<text x="%d" y="28" font-size="16" font-weight="bold">%s</text>' % (ML, escape(title)))
    # bands where a cycle was running (ON server)
    run_start = None
    for i, r in enumerate(son):
        if r[3] > 0 and run_start is None:
            run_start = r[0]
        end = r[3] == 0 or i == len(son) - 1
        if run_start is not None and end:
            s.append('<rect x="%.1f" y="%d" width="%.1f" height="%d" fill="#dbe9f6"/>'
                     % (x(run_start), MT, max(1.0, x(r[0]) - x(run_start)), PH))
            run_start = None
    # grid and axes
    st = nice_step(tmax - tmin)
    t = (int(tmin / st) - 1) * st
    while t <= tmax:
        if t >= tmin:
            s.append('<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#eee"/>' % (x(t), MT, x(t), MT + PH))
            s.append('<text x="%.1f" y="%d" text-anchor="middle">%g</text>' % (x(t), MT + PH + 18, round(t, 3)))
        t += st
    s.append('<text x="%.1f" y="%d" text-anchor="middle">seconds since CONFIG SET activedefrag yes</text>'
             % (ML + PW / 2, MT + PH + 40))
    sr = nice_step(rmax - rmin)
    v = (int(rmin / sr)) * sr
    while v <= rmax:
        if v >= rmin:
            s.append('<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#eee"/>' % (ML, yr(v), ML + PW, yr(v)))
            s.append('<text x="%d" y="%.1f" text-anchor="end" fill="#1f5fa8">%.2f</text>' % (ML - 6, yr(v) + 4, v))
        v += sr
    sm = nice_step(mmax - mmin)
    v = 0.0
    while v <= mmax:
        s.append('<text x="%d" y="%.1f" fill="#c0392b">%g</text>' % (ML + PW + 6, ym(v) + 4, round(v, 1)))
        v += sm
    s.append('<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="#888"/>' % (ML, MT, PW, PH))
    s.append('<text transform="translate(18,%d) rotate(-90)" text-anchor="middle" fill="#1f5fa8">'
             'allocator_frag_ratio</text>' % (MT + PH / 2))
    s.append('<text transform="translate(%d,%d) rotate(90)" text-anchor="middle" fill="#c0392b">'
             'RSS (MB)</text>' % (W - 22, MT + PH / 2))
    # the 1.1 line and the enable moment
    if rmin < 1.1 < rmax:
        s.append('<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#2e8b57" stroke-dasharray="6,4"/>'
                 % (ML, yr(1.1), ML + PW, yr(1.1)))
        s.append('<text x="%d" y="%.1f" fill="#2e8b57">1.1</text>' % (ML + 4, yr(1.1) - 4))
    s.append('<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#555" stroke-dasharray="2,3"/>'
             % (x(0), MT, x(0), MT + PH))
    for rows, color, who, dy in ((son, "#1f5fa8", "kvcore", 14), (svk, "#7b3fa0", "valkey", 30)):
        reach = next((r[0] for r in rows if r[0] >= 0 and r[1] < 1.1), None)
        if reach is None:
            continue
        s.append('<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="%s" stroke-dasharray="2,3"/>'
                 % (x(reach), MT, x(reach), MT + PH, color))
        s.append('<text x="%.1f" y="%d" fill="%s">%s: ratio &lt; 1.1 after %.1f s</text>'
                 % (x(reach) + 4, MT + dy, color, who, reach))

    def poly(rows, col, yf, color, dash):
        pts = " ".join("%.1f,%.1f" % (x(r[0]), yf(r[col])) for r in rows)
        return ('<polyline fill="none" stroke="%s" stroke-width="2"%s points="%s"/>'
                % (color, ' stroke-dasharray="7,5"' if dash else "", pts))

    if soff:
        s.append(poly(soff, 2, ym, "#e8a59c", True))
        s.append(poly(soff, 1, yr, "#9bb8d9", True))
    if svk:
        s.append(poly(svk, 2, ym, "#e0a040", True))
        s.append(poly(svk, 1, yr, "#7b3fa0", False))
    s.append(poly(son, 2, ym, "#c0392b", False))
    s.append(poly(son, 1, yr, "#1f5fa8", False))
    # legend
    items = [("#1f5fa8", False, "ratio, kvcore" if svk else "frag ratio, activedefrag yes")]
    if soff:
        items.append(("#9bb8d9", True, "ratio, defrag off" if svk else "frag ratio, activedefrag no"))
    if svk:
        items.append(("#7b3fa0", False, "ratio, valkey"))
    items.append(("#c0392b", False, "RSS, kvcore" if svk else "RSS, activedefrag yes"))
    if soff:
        items.append(("#e8a59c", True, "RSS, defrag off" if svk else "RSS, activedefrag no"))
    if svk:
        items.append(("#e0a040", True, "RSS, valkey"))
    lx = ML
    for color, dash, label in items:
        s.append('<line x1="%d" y1="44" x2="%d" y2="44" stroke="%s" stroke-width="2"%s/>'
                 % (lx, lx + 24, color, ' stroke-dasharray="7,5"' if dash else ""))
        s.append('<text x="%d" y="48">%s</text>' % (lx + 30, escape(label)))
        lx += 30 + 7 * len(label) + (10 if svk else 24)
    s.append('<rect x="%d" y="%d" width="14" height="10" fill="#dbe9f6"/>' % (ML + PW - 120, MT + PH + 46))
    s.append('<text x="%d" y="%d">cycle running</text>' % (ML + PW - 100, MT + PH + 55))
    s.append("</svg>")
    with open(out, "w") as f:
        f.write("\n".join(s) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
