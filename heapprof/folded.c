/* SPDX-License-Identifier: MIT */
/*
 * folded.c - folded stacks ("main;f;g 1234"), the input of flamegraph.pl, speedscope and
 * Pyroscope: one line per distinct stack, root first, frames separated by ';', then the
 * bytes (in use or allocated, scaled and rounded). Identical stacks (after the allocator's
 * frames were dropped) are merged; lines are sorted, so the output is deterministic.
 * Frame names are those of `top` (function, or "function file:line" with lines); a ';' in
 * a name would split the frame, so it is written as ':'.
 */
#include "heapprof_internal.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct folded_line {
    const char *text;
    double value;
} folded_line_t;

static int cmp_line(const void *a, const void *b) {
    return strcmp(((const folded_line_t *)a)->text, ((const folded_line_t *)b)->text);
}

static int append(char **buf, size_t *cap, size_t *len, const char *s, size_t n) {
    if (hp_grow((void **)buf, cap, *len + n + 1, 1) != 0) return -ENOMEM;
    memcpy(*buf + *len, s, n);
    *len += n;
    (*buf)[*len] = '\0';
    return 0;
}

int hp_collapsed_write(const hp_profile_t *p, const hp_report_opts_t *opts, FILE *out) {
    hp_report_opts_t o = opts ? *opts : (hp_report_opts_t){0};
    if (o.alloc && hp_profile_lacks_alloc(p)) return -ENODATA;
    int vb = o.alloc ? HP_ALLOC_SPACE : HP_INUSE_SPACE;
    hp_strtab_t stacks;
    hp_strtab_init(&stacks);
    double *values = NULL;
    size_t values_cap = 0;
    char *line = NULL, *key = NULL;
    size_t line_cap = 0, key_cap = 0;
    int rc = 0;
    for (size_t si = 0; si < p->nsamples && rc == 0; si++) {
        const hp_sample_t *s = &p->samples[si];
        size_t len = 0;
        for (uint32_t li = s->nlocs; li-- > 0 && rc == 0;) {
            const hp_loc_t *l = &p->locs[p->loc_ids[s->first + li]];
            for (uint32_t fi = l->nframes; fi-- > 0;) {
                const hp_frame_t *f = &p->frames[l->first + fi];
                int n = hp_frame_key(p, f, o.lines, key, key_cap);
                if (n >= 0 && (size_t)n >= key_cap) {
                    if (hp_grow((void **)&key, &key_cap, (size_t)n + 1, 1) != 0) {
                        rc = -ENOMEM;
                        break;
                    }
                    n = hp_frame_key(p, f, o.lines, key, key_cap);
                }
                if (n < 0) {
                    rc = n;
                    break;
                }
                for (char *c = key; *c; c++) {
                    if (*c == ';' || *c == '\n') *c = ':';
                }
                if ((len > 0 && (rc = append(&line, &line_cap, &len, ";", 1)) != 0) ||
                    (rc = append(&line, &line_cap, &len, key, (size_t)n)) != 0)
                    break;
            }
        }
        if (rc != 0) break;
        if (len == 0) continue;
        uint32_t id;
        if ((rc = hp_strtab_intern(&stacks, line, len, &id)) != 0) break;
        if (id >= values_cap) {
            size_t old = values_cap;
            if (hp_grow((void **)&values, &values_cap, (size_t)id + 1, sizeof(*values)) != 0) {
                rc = -ENOMEM;
                break;
            }
            memset(values + old, 0, (values_cap - old) * sizeof(*values));
        }
        values[id] += s->v[vb];
    }
    folded_line_t *lines = NULL;
    if (rc == 0 && stacks.count > 0) {
        lines = malloc(stacks.count * sizeof(*lines));
        if (lines == NULL) rc = -ENOMEM;
    }
    if (rc == 0) {
        for (size_t i = 0; i < stacks.count; i++)
            lines[i] = (folded_line_t){hp_strtab_get(&stacks, (uint32_t)i), values[i]};
        if (stacks.count > 0) qsort(lines, stacks.count, sizeof(*lines), cmp_line);
        for (size_t i = 0; i < stacks.count; i++) {
            int64_t v = hp_round_i64(lines[i].value);
            if (v != 0) fprintf(out, "%s %lld\n", lines[i].text, (long long)v);
        }
        if (ferror(out)) rc = -EIO;
    }
    free(lines);
    free(values);
    free(line);
    free(key);
    hp_strtab_fini(&stacks);
    return rc;
}
