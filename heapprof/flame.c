/* SPDX-License-Identifier: MIT */
/*
 * flame.c - a self-contained SVG flame graph of the profile's bytes (in use or allocated):
 * the root ("all") at the bottom, each frame as wide as the bytes allocated below it,
 * children merged by name and sorted alphabetically (as flamegraph.pl does), so equal
 * stacks line up. The SVG is drawn complete (it reads without scripts, e.g. in an image
 * viewer); the embedded script adds click-to-zoom, Reset Zoom, Search (regexp, Ctrl-F or
 * the button) with the share of bytes matched, and a details line on hover.
 *
 * Frames narrower than 0.1 px at full width are left out (flamegraph.pl's --minwidth).
 * Every <g class="f"> carries data-x/data-v (offset and width in bytes) and data-d
 * (depth), from which the script recomputes the layout on zoom.
 */
#include "heapprof_internal.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct node {
    uint32_t name; // id in the flame's strtab
    uint32_t depth;
    double value;
    double x;                        // offset in bytes, from layout
    uint32_t first_child, nchildren; // into the child index array, after build
    uint32_t parent;
} node_t;

typedef struct flame {
    hp_strtab_t names;
    node_t *nodes;
    size_t nnodes, cap;
    hp_u64map_t edges; // (parent << 32 | name) -> child
    uint32_t *kids;    // children of every node, grouped by parent
    uint32_t maxdepth;
} flame_t;

#define FRAME_H  16
#define FONT_PX  12
#define PAD      10
#define TOP_H    60
#define BOTTOM_H 34
#define MIN_PX   0.1
/* Stacks or frames between two progress reports. */
#define PROGRESS_EVERY 4096

static int child_of(flame_t *f, uint32_t parent, uint32_t name, uint32_t *out) {
    uint64_t key = ((uint64_t)parent << 32) | name;
    if (hp_u64map_find(&f->edges, key, out)) return 0;
    if (hp_grow((void **)&f->nodes, &f->cap, f->nnodes + 1, sizeof(*f->nodes)) != 0) return -ENOMEM;
    uint32_t depth = f->nodes[parent].depth + 1;
    f->nodes[f->nnodes] = (node_t){.name = name, .depth = depth, .parent = parent};
    if (depth > f->maxdepth) f->maxdepth = depth;
    *out = (uint32_t)f->nnodes++;
    return hp_u64map_put(&f->edges, key, *out);
}

static int build_tree(flame_t *f, const hp_profile_t *p, const hp_flame_opts_t *fo) {
    const hp_report_opts_t *o = &fo->report;
    int vb = o->alloc ? HP_ALLOC_SPACE : HP_INUSE_SPACE;
    uint32_t root_name;
    if (hp_strtab_intern(&f->names, "all", 3, &root_name) != 0 ||
        hp_grow((void **)&f->nodes, &f->cap, 1, sizeof(*f->nodes)) != 0)
        return -ENOMEM;
    f->nodes[0] = (node_t){.name = root_name};
    f->nnodes = 1;
    char *key = NULL;
    size_t key_cap = 0;
    int rc = 0;
    for (size_t si = 0; si < p->nsamples && rc == 0; si++) {
        if (fo->progress && si % PROGRESS_EVERY == 0)
            fo->progress(fo->progress_ctx, "merging", si, p->nsamples);
        const hp_sample_t *s = &p->samples[si];
        double v = s->v[vb];
        if (!(v > 0) || !isfinite(v)) continue;
        uint32_t cur = 0;
        f->nodes[0].value += v;
        for (uint32_t li = s->nlocs; li-- > 0 && rc == 0;) {
            const hp_loc_t *l = &p->locs[p->loc_ids[s->first + li]];
            for (uint32_t fi = l->nframes; fi-- > 0;) {
                const hp_frame_t *fr = &p->frames[l->first + fi];
                int n = hp_frame_key(p, fr, o->lines, key, key_cap);
                if (n >= 0 && (size_t)n >= key_cap) {
                    if (hp_grow((void **)&key, &key_cap, (size_t)n + 1, 1) != 0) {
                        rc = -ENOMEM;
                        break;
                    }
                    n = hp_frame_key(p, fr, o->lines, key, key_cap);
                }
                uint32_t name;
                if (n < 0) {
                    rc = n;
                    break;
                }
                if ((rc = hp_strtab_intern(&f->names, key, (size_t)n, &name)) != 0) break;
                if ((rc = child_of(f, cur, name, &cur)) != 0) break;
                f->nodes[cur].value += v;
            }
        }
    }
    free(key);
    if (rc == 0 && fo->progress)
        fo->progress(fo->progress_ctx, "merging", p->nsamples, p->nsamples);
    return rc;
}

static int cmp_kids(const void *a, const void *b, void *ctx) {
    const flame_t *f = ctx;
    const node_t *x = &f->nodes[*(const uint32_t *)a];
    const node_t *y = &f->nodes[*(const uint32_t *)b];
    return strcmp(hp_strtab_get(&f->names, x->name), hp_strtab_get(&f->names, y->name));
}

/* Groups children by parent, sorts them by name and assigns offsets (in bytes). */
static int layout(flame_t *f) {
    size_t n = f->nnodes;
    f->kids = malloc((n ? n : 1) * sizeof(*f->kids));
    uint32_t *fill = calloc(n ? n : 1, sizeof(*fill));
    if (f->kids == NULL || fill == NULL) {
        free(fill);
        return -ENOMEM;
    }
    for (size_t i = 1; i < n; i++)
        f->nodes[f->nodes[i].parent].nchildren++;
    uint32_t off = 0;
    for (size_t i = 0; i < n; i++) {
        f->nodes[i].first_child = off;
        off += f->nodes[i].nchildren;
    }
    for (size_t i = 1; i < n; i++) {
        node_t *par = &f->nodes[f->nodes[i].parent];
        f->kids[par->first_child + fill[f->nodes[i].parent]++] = (uint32_t)i;
    }
    free(fill);
    for (size_t i = 0; i < n; i++) {
        node_t *nd = &f->nodes[i];
        if (nd->nchildren > 1)
            qsort_r(f->kids + nd->first_child, nd->nchildren, sizeof(*f->kids), cmp_kids, f);
    }
    /* Parents come before children in creation order, so one forward pass places all. */
    for (size_t i = 0; i < n; i++) {
        node_t *nd = &f->nodes[i];
        double x = nd->x;
        for (uint32_t k = 0; k < nd->nchildren; k++) {
            node_t *c = &f->nodes[f->kids[nd->first_child + k]];
            c->x = x;
            x += c->value;
        }
    }
    return 0;
}

/* --- Output --- */

static void xml_text(FILE *out, const char *s, size_t max) {
    size_t n = 0;
    for (; *s && n < max; s++, n++) {
        switch (*s) {
        case '&': fputs("&amp;", out); break;
        case '<': fputs("&lt;", out); break;
        case '>': fputs("&gt;", out); break;
        case '"': fputs("&quot;", out); break;
        case '\'': fputs("&apos;", out); break;
        default:
            if ((unsigned char)*s >= 0x20 || *s == '\t') fputc(*s, out);
        }
    }
}

static void color_of(const char *name, int *r, int *g, int *b) {
    /* flamegraph.pl's "mem" palette (greens and blues), from a hash of the name. */
    uint64_t h = hp_hash_bytes(name, strlen(name));
    double v1 = (double)(h & 0xffff) / 65535.0, v2 = (double)((h >> 16) & 0xffff) / 65535.0;
    *r = 0;
    *g = 190 + (int)(50 * v2);
    *b = (int)(210 * v1);
}

static const char flame_script[] =
    "var svg, frames, details, unzoombtn, searchbtn, matchedtxt, W, total;\n"
    "var pad = "
    "10"
    ", fontw = 0.59, fontsize = "
    "12"
    ", searching = false;\n"
    "function init(evt) {\n"
    "  svg = document.documentElement;\n"
    "  frames = document.getElementById('frames');\n"
    "  details = document.getElementById('details').firstChild;\n"
    "  unzoombtn = document.getElementById('unzoom');\n"
    "  searchbtn = document.getElementById('search');\n"
    "  matchedtxt = document.getElementById('matched');\n"
    "  W = parseFloat(svg.getAttribute('width')) - 2 * pad;\n"
    "  total = parseFloat(frames.getAttribute('data-total'));\n"
    "  frames.addEventListener('click', function (e) {\n"
    "    var g = group_of(e.target); if (g) zoom(g); });\n"
    "  frames.addEventListener('mouseover', function (e) {\n"
    "    var g = group_of(e.target); if (g) details.nodeValue = title_of(g); });\n"
    "  frames.addEventListener('mouseout', function (e) { details.nodeValue = ' '; });\n"
    "  unzoombtn.addEventListener('click', unzoom);\n"
    "  searchbtn.addEventListener('click', function () {\n"
    "    if (searching) reset_search(); else search_prompt(); });\n"
    "  window.addEventListener('keydown', function (e) {\n"
    "    if (e.keyCode === 114 || (e.ctrlKey && e.keyCode === 70)) {\n"
    "      e.preventDefault(); search_prompt();\n"
    "    } else if (e.key === 'Escape') { unzoom(); reset_search(); }\n"
    "  });\n"
    "}\n"
    "function group_of(n) {\n"
    "  while (n && n !== frames) {\n"
    "    if (n.classList && n.classList.contains('f')) return n;\n"
    "    n = n.parentNode;\n"
    "  }\n"
    "  return null;\n"
    "}\n"
    "function title_of(g) { return g.querySelector('title').textContent; }\n"
    "function name_of(g) { var t = title_of(g); var i = t.lastIndexOf(' (');\n"
    "  return i < 0 ? t : t.substring(0, i); }\n"
    "function num(g, a) { return parseFloat(g.getAttribute(a)); }\n"
    "function place(g, x, w) {\n"
    "  var r = g.querySelector('rect'), t = g.querySelector('text');\n"
    "  r.setAttribute('x', x.toFixed(2)); r.setAttribute('width', w.toFixed(2));\n"
    "  t.setAttribute('x', (x + 3).toFixed(2));\n"
    "  var max = Math.floor((w - 6) / (fontsize * fontw)), s = name_of(g);\n"
    "  if (max < 3) t.textContent = '';\n"
    "  else t.textContent = s.length <= max ? s : s.substring(0, max - 2) + '..';\n"
    "}\n"
    "function zoom(node) {\n"
    "  var x = num(node, 'data-x'), v = num(node, 'data-v'), d = num(node, 'data-d');\n"
    "  var eps = v * 1e-9, scale = W / v, gs = frames.children;\n"
    "  unzoombtn.classList.remove('hide');\n"
    "  for (var i = 0; i < gs.length; i++) {\n"
    "    var g = gs[i], gx = num(g, 'data-x'), gv = num(g, 'data-v'), gd = num(g, 'data-d');\n"
    "    g.classList.remove('parent');\n"
    "    if (gd < d) {\n"
    "      if (gx <= x + eps && gx + gv >= x + v - eps) {\n"
    "        g.classList.remove('hide'); g.classList.add('parent'); place(g, pad, W);\n"
    "      } else g.classList.add('hide');\n"
    "    } else if (gx < x - eps || gx + gv > x + v + eps || gv * scale < 0.1) {\n"
    "      g.classList.add('hide');\n"
    "    } else {\n"
    "      g.classList.remove('hide'); place(g, pad + (gx - x) * scale, gv * scale);\n"
    "    }\n"
    "  }\n"
    "  if (searching) search(current_re);\n"
    "}\n"
    "function unzoom() {\n"
    "  var gs = frames.children;\n"
    "  unzoombtn.classList.add('hide');\n"
    "  for (var i = 0; i < gs.length; i++) {\n"
    "    var g = gs[i];\n"
    "    g.classList.remove('hide'); g.classList.remove('parent');\n"
    "    place(g, pad + num(g, 'data-x') * W / total, num(g, 'data-v') * W / total);\n"
    "  }\n"
    "}\n"
    "var current_re = null;\n"
    "function search_prompt() {\n"
    "  var term = prompt('Search for (regular expression):', '');\n"
    "  if (term === null || term === '') return;\n"
    "  var re;\n"
    "  try { re = new RegExp(term); } catch (err) { alert('Bad expression: ' + err); return; }\n"
    "  search(re);\n"
    "}\n"
    "function search(re) {\n"
    "  var gs = frames.children, hits = [];\n"
    "  current_re = re; searching = true;\n"
    "  for (var i = 0; i < gs.length; i++) {\n"
    "    var g = gs[i], r = g.querySelector('rect');\n"
    "    if (!r.hasAttribute('data-fill')) r.setAttribute('data-fill', r.getAttribute('fill'));\n"
    "    if (re.test(name_of(g))) {\n"
    "      r.setAttribute('fill', 'rgb(230,0,230)');\n"
    "      hits.push([num(g, 'data-x'), num(g, 'data-v')]);\n"
    "    } else r.setAttribute('fill', r.getAttribute('data-fill'));\n"
    "  }\n"
    "  hits.sort(function (a, b) { return a[0] - b[0] || b[1] - a[1]; });\n"
    "  var sum = 0, end = -1;\n"
    "  for (var k = 0; k < hits.length; k++) {\n"
    "    if (hits[k][0] >= end) { sum += hits[k][1]; end = hits[k][0] + hits[k][1]; }\n"
    "  }\n"
    "  searchbtn.firstChild.nodeValue = 'Reset Search';\n"
    "  matchedtxt.firstChild.nodeValue = 'Matched: ' + (100 * sum / total).toFixed(1) + '%';\n"
    "}\n"
    "function reset_search() {\n"
    "  var gs = frames.children;\n"
    "  for (var i = 0; i < gs.length; i++) {\n"
    "    var r = gs[i].querySelector('rect');\n"
    "    if (r.hasAttribute('data-fill')) r.setAttribute('fill', r.getAttribute('data-fill'));\n"
    "  }\n"
    "  searching = false; current_re = null;\n"
    "  searchbtn.firstChild.nodeValue = 'Search';\n"
    "  matchedtxt.firstChild.nodeValue = ' ';\n"
    "}\n";

/* A share of the width, always in [0, W] (pre: total > 0 and finite). */
static double px(double v, double total, double W) {
    double r = v * W / total;
    return r > 0 ? (r < W ? r : W) : 0; // NaN -> 0
}

static void write_frame(FILE *out, const flame_t *f, const node_t *nd, double total, double W,
                        long height) {
    double x = PAD + px(nd->x, total, W), w = px(nd->value, total, W);
    double y = height - BOTTOM_H - (double)(nd->depth + 1) * FRAME_H;
    const char *name = hp_strtab_get(&f->names, nd->name);
    int r, g, b;
    color_of(name, &r, &g, &b);
    fprintf(out, "<g class=\"f\" data-x=\"%.2f\" data-v=\"%.2f\" data-d=\"%u\"><title>", nd->x,
            nd->value, nd->depth);
    xml_text(out, name, SIZE_MAX);
    fprintf(out, " (%.0f bytes, %.2f%%)</title>", nd->value, 100.0 * nd->value / total);
    fprintf(out,
            "<rect x=\"%.2f\" y=\"%.0f\" width=\"%.2f\" height=\"%d\" fill=\"rgb(%d,%d,%d)\" "
            "rx=\"2\" ry=\"2\"/><text x=\"%.2f\" y=\"%.0f\">",
            x, y, w, FRAME_H - 1, r, g, b, x + 3, y + FRAME_H - 4.5);
    size_t max = w < 6 ? 0 : (size_t)((w - 6) / (FONT_PX * 0.59)); // w <= W: in range
    size_t len = strlen(name);
    if (max >= 3) {
        if (len <= max) {
            xml_text(out, name, len);
        } else {
            xml_text(out, name, max - 2);
            fputs("..", out);
        }
    }
    fputs("</text></g>\n", out);
}

static void write_svg(FILE *out, const flame_t *f, const hp_flame_opts_t *o, uint64_t period) {
    int width = o->width > 0 ? o->width : 1200;
    long height = TOP_H + BOTTOM_H + ((long)f->maxdepth + 1) * FRAME_H;
    double W = width - 2 * PAD, total = f->nodes[0].value;
    fprintf(out, "<?xml version=\"1.0\" standalone=\"no\"?>\n"
                 "<!DOCTYPE svg PUBLIC \"-//W3C//DTD SVG 1.1//EN\" "
                 "\"http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd\">\n");
    fprintf(out,
            "<svg version=\"1.1\" width=\"%d\" height=\"%ld\" viewBox=\"0 0 %d %ld\" "
            "onload=\"init(evt)\" xmlns=\"http://www.w3.org/2000/svg\">\n",
            width, height, width, height);
    fprintf(out, "<defs><linearGradient id=\"background\" y1=\"0\" y2=\"1\" x1=\"0\" x2=\"0\">"
                 "<stop stop-color=\"#eef2ee\" offset=\"5%%\"/>"
                 "<stop stop-color=\"#e0ffe0\" offset=\"95%%\"/></linearGradient></defs>\n");
    fprintf(out,
            "<style type=\"text/css\">\n"
            "text { font-family: Verdana, sans-serif; font-size: %dpx; fill: #000; }\n"
            "#title { text-anchor: middle; font-size: 17px; }\n"
            "#subtitle { text-anchor: middle; fill: #555; }\n"
            "#unzoom, #search { cursor: pointer; }\n"
            "#search, #matched { text-anchor: end; }\n"
            ".f { cursor: pointer; }\n"
            ".f:hover rect { stroke: #000; stroke-width: 0.5; }\n"
            ".hide { display: none; }\n"
            ".parent { opacity: 0.5; }\n"
            "</style>\n",
            FONT_PX);
    fprintf(out, "<script type=\"text/ecmascript\"><![CDATA[\n%s]]></script>\n", flame_script);
    fprintf(out, "<rect x=\"0\" y=\"0\" width=\"100%%\" height=\"100%%\" "
                 "fill=\"url(#background)\"/>\n");
    fprintf(out, "<text id=\"title\" x=\"%d\" y=\"24\">", width / 2);
    xml_text(out, o->title ? o->title : "Heap flame graph", SIZE_MAX);
    fputs("</text>\n", out);
    fprintf(out, "<text id=\"subtitle\" x=\"%d\" y=\"44\">", width / 2);
    if (o->subtitle) {
        xml_text(out, o->subtitle, SIZE_MAX);
        fputs(": ", out);
    }
    fprintf(out, "%.0f bytes %s, sampling period %llu bytes</text>\n", total,
            o->report.alloc ? "allocated" : "in use", (unsigned long long)period);
    fprintf(out, "<text id=\"unzoom\" class=\"hide\" x=\"%d\" y=\"24\">Reset Zoom</text>\n", PAD);
    fprintf(out, "<text id=\"search\" x=\"%d\" y=\"24\">Search</text>\n", width - PAD);
    fprintf(out, "<text id=\"details\" x=\"%d\" y=\"%ld\"> </text>\n", PAD, height - 12);
    fprintf(out, "<text id=\"matched\" x=\"%d\" y=\"%ld\"> </text>\n", width - PAD, height - 12);
    fprintf(out, "<g id=\"frames\" data-total=\"%.2f\">\n", total);
    if (total > 0 && isfinite(total)) {
        for (size_t i = 0; i < f->nnodes; i++) {
            if (o->progress && i % PROGRESS_EVERY == 0)
                o->progress(o->progress_ctx, "drawing", i, f->nnodes);
            const node_t *nd = &f->nodes[i];
            if (px(nd->value, total, W) < MIN_PX) continue;
            write_frame(out, f, nd, total, W, height);
        }
    }
    if (o->progress) o->progress(o->progress_ctx, "drawing", f->nnodes, f->nnodes);
    fputs("</g>\n</svg>\n", out);
}

int hp_flame_write(const hp_profile_t *p, const hp_flame_opts_t *opts, FILE *out) {
    hp_flame_opts_t o = opts ? *opts : (hp_flame_opts_t){0};
    if (o.report.alloc && hp_profile_lacks_alloc(p)) return -ENODATA;
    flame_t f;
    memset(&f, 0, sizeof(f));
    hp_strtab_init(&f.names);
    hp_u64map_init(&f.edges);
    int rc = build_tree(&f, p, &o);
    if (rc == 0) rc = layout(&f);
    if (rc == 0) {
        write_svg(out, &f, &o, p->period);
        if (ferror(out)) rc = -EIO;
    }
    hp_strtab_fini(&f.names);
    hp_u64map_fini(&f.edges);
    free(f.nodes);
    free(f.kids);
    return rc;
}
