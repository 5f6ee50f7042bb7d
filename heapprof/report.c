/* SPDX-License-Identifier: MIT */
/*
 * report.c - the top and diff tables (jeprof --text's flat/cum columns) and their text
 * and JSON forms.
 *
 * Flat is charged to the first frame of each stack (the allocation site, after the
 * allocator's frames were dropped); cum to every distinct entry on the stack, once per
 * stack even under recursion (jeprof's ReduceProfile). Entries are functions, or
 * "function file:line" with --lines; an inlined call is its own frame, named after the
 * inlined function. Sorting is jeprof's: by value, then name.
 */
#include "heapprof_internal.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct table_priv {
    hp_strtab_t names;
    size_t cap;
} table_priv_t;

static hp_table_t *table_new(void) {
    hp_table_t *t = calloc(1, sizeof(*t));
    table_priv_t *priv = calloc(1, sizeof(*priv));
    if (t == NULL || priv == NULL) {
        free(t);
        free(priv);
        return NULL;
    }
    hp_strtab_init(&priv->names);
    t->priv = priv;
    return t;
}

void hp_table_free(hp_table_t *t) {
    if (t == NULL) return;
    table_priv_t *priv = t->priv;
    if (priv != NULL) hp_strtab_fini(&priv->names);
    free(priv);
    free(t->entries);
    free(t);
}

/* Returns the index of the entry named s, adding it when new (ids follow the strtab's). */
static int entry_for(hp_table_t *t, const char *s, size_t len, size_t *idx) {
    table_priv_t *priv = t->priv;
    uint32_t id;
    int rc = hp_strtab_intern(&priv->names, s, len, &id);
    if (rc != 0) return rc;
    if (id == t->count) {
        if (hp_grow((void **)&t->entries, &priv->cap, t->count + 1, sizeof(*t->entries)) != 0)
            return -ENOMEM;
        t->entries[t->count++] = (hp_top_entry_t){.name = hp_strtab_get(&priv->names, id)};
    }
    *idx = id;
    return 0;
}

/* Formats a frame's key into *buf (grown as needed). Length or -ENOMEM. */
static int key_of(const hp_profile_t *p, const hp_frame_t *f, bool lines, char **buf, size_t *cap) {
    int n = hp_frame_key(p, f, lines, *buf, *cap);
    if (n >= 0 && (size_t)n >= *cap) {
        if (hp_grow((void **)buf, cap, (size_t)n + 1, 1) != 0) return -ENOMEM;
        n = hp_frame_key(p, f, lines, *buf, *cap);
    }
    return n;
}

static int cmp_flat(const void *a, const void *b) {
    const hp_top_entry_t *x = a, *y = b;
    if (x->flat_bytes != y->flat_bytes) return x->flat_bytes > y->flat_bytes ? -1 : 1;
    return strcmp(x->name, y->name);
}

static int cmp_cum(const void *a, const void *b) {
    const hp_top_entry_t *x = a, *y = b;
    if (x->cum_bytes != y->cum_bytes) return x->cum_bytes > y->cum_bytes ? -1 : 1;
    return strcmp(x->name, y->name);
}

static int cmp_abs(const void *a, const void *b) {
    const hp_top_entry_t *x = a, *y = b;
    double fx = fabs(x->flat_bytes), fy = fabs(y->flat_bytes);
    if (fx != fy) return fx > fy ? -1 : 1;
    fx = fabs(x->cum_bytes), fy = fabs(y->cum_bytes);
    if (fx != fy) return fx > fy ? -1 : 1;
    return strcmp(x->name, y->name);
}

int hp_profile_lacks_alloc(const hp_profile_t *p) {
    const double *t = p->totals;
    return t[HP_ALLOC_OBJECTS] == 0 && t[HP_ALLOC_SPACE] == 0 &&
           (t[HP_INUSE_OBJECTS] != 0 || t[HP_INUSE_SPACE] != 0);
}

int hp_top(const hp_profile_t *p, const hp_report_opts_t *opts, hp_table_t **out) {
    hp_report_opts_t o = opts ? *opts : (hp_report_opts_t){0};
    *out = NULL;
    if (o.alloc && hp_profile_lacks_alloc(p)) return -ENODATA;
    hp_table_t *t = table_new();
    if (t == NULL) return -ENOMEM;
    t->alloc = o.alloc;
    t->lines = o.lines;
    t->period = p->period;
    int vb = o.alloc ? HP_ALLOC_SPACE : HP_INUSE_SPACE;
    int vo = o.alloc ? HP_ALLOC_OBJECTS : HP_INUSE_OBJECTS;
    t->total_bytes = p->totals[vb];
    t->total_objs = p->totals[vo];
    /* Entry index per (func, line) key and a "last sample that counted it" stamp. */
    hp_u64map_t keymap;
    hp_u64map_init(&keymap);
    size_t *stamp = NULL, stamp_cap = 0;
    char *buf = NULL;
    size_t cap = 0;
    int rc = 0;
    for (size_t si = 0; si < p->nsamples && rc == 0; si++) {
        const hp_sample_t *s = &p->samples[si];
        bool first = true;
        for (uint32_t li = 0; li < s->nlocs && rc == 0; li++) {
            const hp_loc_t *l = &p->locs[p->loc_ids[s->first + li]];
            for (uint32_t fi = 0; fi < l->nframes; fi++) {
                const hp_frame_t *f = &p->frames[l->first + fi];
                uint64_t key = ((uint64_t)f->func << 32) | (o.lines ? f->line : 0);
                uint32_t v;
                size_t idx;
                if (hp_u64map_find(&keymap, key, &v)) {
                    idx = v;
                } else {
                    int n = key_of(p, f, o.lines, &buf, &cap);
                    if (n < 0 || (rc = entry_for(t, buf, (size_t)n, &idx)) != 0) {
                        rc = n < 0 ? n : rc;
                        break;
                    }
                    if ((rc = hp_u64map_put(&keymap, key, (uint32_t)idx)) != 0) break;
                }
                if (idx >= stamp_cap) {
                    size_t old = stamp_cap;
                    if (hp_grow((void **)&stamp, &stamp_cap, idx + 1, sizeof(*stamp)) != 0) {
                        rc = -ENOMEM;
                        break;
                    }
                    memset(stamp + old, 0, (stamp_cap - old) * sizeof(*stamp));
                }
                hp_top_entry_t *e = &t->entries[idx];
                if (first) {
                    e->flat_bytes += s->v[vb];
                    e->flat_objs += s->v[vo];
                    first = false;
                }
                /* stamp holds si + 1 so that zeroed memory means "never". */
                if (stamp[idx] != si + 1) {
                    stamp[idx] = si + 1;
                    e->cum_bytes += s->v[vb];
                    e->cum_objs += s->v[vo];
                }
            }
        }
    }
    free(buf);
    free(stamp);
    hp_u64map_fini(&keymap);
    if (rc != 0) {
        hp_table_free(t);
        return rc;
    }
    if (t->count > 1)
        qsort(t->entries, t->count, sizeof(*t->entries), o.sort_cum ? cmp_cum : cmp_flat);
    *out = t;
    return 0;
}

int hp_diff(const hp_table_t *base, const hp_table_t *cur, hp_table_t **out) {
    *out = NULL;
    if (base->alloc != cur->alloc || base->lines != cur->lines) return -EINVAL;
    hp_table_t *t = table_new();
    if (t == NULL) return -ENOMEM;
    t->diff = 1;
    t->alloc = cur->alloc;
    t->lines = cur->lines;
    t->period = cur->period;
    t->base_bytes = base->total_bytes;
    t->base_objs = base->total_objs;
    t->new_bytes = cur->total_bytes;
    t->new_objs = cur->total_objs;
    t->total_bytes = cur->total_bytes - base->total_bytes;
    t->total_objs = cur->total_objs - base->total_objs;
    int rc = 0;
    for (int side = 0; side < 2 && rc == 0; side++) {
        const hp_table_t *src = side == 0 ? cur : base;
        double sign = side == 0 ? 1.0 : -1.0;
        for (size_t i = 0; i < src->count; i++) {
            const hp_top_entry_t *e = &src->entries[i];
            size_t idx;
            if ((rc = entry_for(t, e->name, strlen(e->name), &idx)) != 0) break;
            hp_top_entry_t *d = &t->entries[idx];
            d->flat_bytes += sign * e->flat_bytes;
            d->flat_objs += sign * e->flat_objs;
            d->cum_bytes += sign * e->cum_bytes;
            d->cum_objs += sign * e->cum_objs;
        }
    }
    if (rc != 0) {
        hp_table_free(t);
        return rc;
    }
    /* Entries that did not change are not news. */
    size_t n = 0;
    for (size_t i = 0; i < t->count; i++) {
        hp_top_entry_t *e = &t->entries[i];
        if (hp_round_i64(e->flat_bytes) != 0 || hp_round_i64(e->cum_bytes) != 0 ||
            hp_round_i64(e->flat_objs) != 0 || hp_round_i64(e->cum_objs) != 0)
            t->entries[n++] = *e;
    }
    t->count = n;
    if (t->count > 1) qsort(t->entries, t->count, sizeof(*t->entries), cmp_abs);
    *out = t;
    return 0;
}

/* --- Output --- */

/* A share of the total; "-" when there is no total to share (0 of 0 is not a number). */
static void fmt_pct(char *buf, size_t len, double v, double total) {
    if (total != 0)
        snprintf(buf, len, "%.1f%%", v * 100.0 / fabs(total));
    else
        snprintf(buf, len, "%s", v == 0 ? "-" : v > 0 ? "+inf" : "-inf");
}

int hp_table_write_text(const hp_table_t *t, size_t limit, FILE *out) {
    const char *what = t->alloc ? "allocated" : "in use";
    if (t->diff) {
        fprintf(out,
                "Total: %+.0f B %s, %+.0f objects (base %.0f B -> new %.0f B; "
                "sampling period %llu B)\n",
                t->total_bytes, what, t->total_objs, t->base_bytes, t->new_bytes,
                (unsigned long long)t->period);
    } else {
        fprintf(out, "Total: %.0f B %s in %.0f objects (sampling period %llu B)\n", t->total_bytes,
                what, t->total_objs, (unsigned long long)t->period);
    }
    fprintf(out, "%12s %6s %6s %12s %6s %10s %10s  %s\n", "flat", "flat%", "sum%", "cum", "cum%",
            "flat_objs", "cum_objs", t->lines ? "function file:line" : "function");
    double sum = 0;
    size_t n = limit && limit < t->count ? limit : t->count;
    for (size_t i = 0; i < n; i++) {
        const hp_top_entry_t *e = &t->entries[i];
        char fp[16], sp[16], cp[16];
        sum += e->flat_bytes;
        fmt_pct(fp, sizeof(fp), e->flat_bytes, t->total_bytes);
        fmt_pct(sp, sizeof(sp), sum, t->total_bytes);
        fmt_pct(cp, sizeof(cp), e->cum_bytes, t->total_bytes);
        if (t->diff)
            fprintf(out, "%+12.0f %6s %6s %+12.0f %6s %+10.0f %+10.0f  %s\n", e->flat_bytes, fp, sp,
                    e->cum_bytes, cp, e->flat_objs, e->cum_objs, e->name);
        else
            fprintf(out, "%12.0f %6s %6s %12.0f %6s %10.0f %10.0f  %s\n", e->flat_bytes, fp, sp,
                    e->cum_bytes, cp, e->flat_objs, e->cum_objs, e->name);
    }
    if (n < t->count) fprintf(out, "(%zu more entries; -n 0 shows all)\n", t->count - n);
    return ferror(out) ? -EIO : 0;
}

/* Writes s as a JSON string literal. */
static void json_string(FILE *out, const char *s) {
    fputc('"', out);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '"': fputs("\\\"", out); break;
        case '\\': fputs("\\\\", out); break;
        case '\n': fputs("\\n", out); break;
        case '\t': fputs("\\t", out); break;
        default:
            if (*p < 0x20)
                fprintf(out, "\\u%04x", *p);
            else
                fputc(*p, out);
        }
    }
    fputc('"', out);
}

int hp_table_write_json(const hp_table_t *t, size_t limit, FILE *out) {
    fprintf(out, "{\"kind\":\"%s\",\"sample\":\"%s\",\"granularity\":\"%s\",\"period\":%llu,",
            t->diff ? "diff" : "top", t->alloc ? "alloc" : "inuse",
            t->lines ? "lines" : "functions", (unsigned long long)t->period);
    fprintf(out, "\"total_bytes\":%.0f,\"total_objects\":%.0f,", t->total_bytes, t->total_objs);
    if (t->diff) {
        fprintf(out,
                "\"base_total_bytes\":%.0f,\"base_total_objects\":%.0f,"
                "\"new_total_bytes\":%.0f,\"new_total_objects\":%.0f,",
                t->base_bytes, t->base_objs, t->new_bytes, t->new_objs);
    }
    fputs("\"entries\":[", out);
    size_t n = limit && limit < t->count ? limit : t->count;
    for (size_t i = 0; i < n; i++) {
        const hp_top_entry_t *e = &t->entries[i];
        fputs(i ? ",\n{\"name\":" : "\n{\"name\":", out);
        json_string(out, e->name);
        fprintf(out,
                ",\"flat_bytes\":%.0f,\"flat_objects\":%.0f,\"cum_bytes\":%.0f,"
                "\"cum_objects\":%.0f}",
                e->flat_bytes, e->flat_objs, e->cum_bytes, e->cum_objs);
    }
    fprintf(out, "],\"more\":%zu}\n", t->count - n);
    return ferror(out) ? -EIO : 0;
}
