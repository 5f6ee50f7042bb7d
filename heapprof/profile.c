/* SPDX-License-Identifier: MIT */
/*
 * profile.c - turns a parsed dump into the symbolized, scaled profile every report reads.
 *
 * For each stack: the PCs become locations (return addresses looked up at pc - 1, as
 * jeprof's FixCallerAddresses and pprof do; the leaf as is), each location gets its frames
 * from the symbolizer, the allocator's own frames are dropped from the top, and the t*
 * counts come scaled with hp_scale by the reader (in-use from the cur pair, allocated
 * from the cum pair).
 *
 * Dropping allocator frames follows jeprof's RemoveUninterestingFrames: everything up to
 * and including the last frame (nearest the root) that is one of the allocation entry
 * points (malloc, operator new, ...) or lies in an allocator object (libjemalloc,
 * libmemshim, libunwind) goes; then any leading frames whose names are the allocator's
 * internals (je_, prof_, ms_, hp_, memshim_) go too, so the first frame left is the user's
 * call site. A stack that would lose every frame keeps its outermost one.
 */
#include "heapprof_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Per-location facts needed only while building. */
typedef struct loc_info {
    bool cut;    // an allocator entry point or allocator object: drop it and all before
    bool prefix; // an allocator-internal name: drop it when it leads the stack
} loc_info_t;

typedef struct builder {
    hp_profile_t *p;
    hp_symbolizer_t *sym;
    const hp_dump_t *dump;
    hp_u64map_t loc_by_addr;
    hp_u64map_t str_map;  // symbolizer string id -> profile string id
    hp_u64map_t func_map; // (name, decl) -> func index
    loc_info_t *info;
    size_t info_cap;
    uint32_t *path;
    size_t path_cap;
    bool *map_used; // per dump mapping
} builder_t;

static const char *const internal_prefixes[] = {"je_", "prof_", "ms_", "hp_", "memshim_"};

static bool is_internal_name(const char *name) {
    for (size_t i = 0; i < sizeof(internal_prefixes) / sizeof(internal_prefixes[0]); i++) {
        if (strncmp(name, internal_prefixes[i], strlen(internal_prefixes[i])) == 0) return true;
    }
    return false;
}

static int map_string(builder_t *b, uint32_t sym_id, uint32_t *out) {
    if (sym_id == HP_NO_STR) {
        *out = HP_NO_STR;
        return 0;
    }
    if (hp_u64map_find(&b->str_map, sym_id, out)) return 0;
    const char *s = hp_strtab_get(hp_symbolizer_strings(b->sym), sym_id);
    int rc = hp_strtab_intern(&b->p->strs, s, strlen(s), out);
    if (rc == 0) rc = hp_u64map_put(&b->str_map, sym_id, *out);
    return rc;
}

static int func_for(builder_t *b, const hp_sym_frame_t *f, uint32_t file, uint32_t *out) {
    uint32_t name, sys, decl;
    int rc = map_string(b, f->func, &name);
    if (rc == 0) rc = map_string(b, f->sysname, &sys);
    if (rc == 0) rc = map_string(b, f->decl, &decl);
    if (rc != 0) return rc;
    uint64_t key = ((uint64_t)name << 32) | decl;
    if (hp_u64map_find(&b->func_map, key, out)) return 0;
    hp_profile_t *p = b->p;
    if (hp_grow((void **)&p->funcs, &p->funcs_cap, p->nfuncs + 1, sizeof(*p->funcs)) != 0)
        return -ENOMEM;
    /* The function's file: where it is declared, else where its first line seen is. */
    bool decl_is_file = decl != HP_NO_STR && hp_strtab_get(&p->strs, decl)[0] != '@';
    p->funcs[p->nfuncs] = (hp_func_t){name, sys, decl_is_file ? decl : file, decl};
    *out = (uint32_t)p->nfuncs++;
    return hp_u64map_put(&b->func_map, key, *out);
}

static int loc_for(builder_t *b, uint64_t addr, uint32_t *out) {
    if (hp_u64map_find(&b->loc_by_addr, addr, out)) return 0;
    hp_sym_addr_t r;
    int rc = hp_symbolizer_lookup(b->sym, addr, &r);
    if (rc != 0) return rc;
    hp_profile_t *p = b->p;
    if (hp_grow((void **)&p->locs, &p->locs_cap, p->nlocs + 1, sizeof(*p->locs)) != 0 ||
        hp_grow((void **)&b->info, &b->info_cap, p->nlocs + 1, sizeof(*b->info)) != 0 ||
        hp_grow((void **)&p->frames, &p->frames_cap, p->nframes + r.nframes, sizeof(*p->frames)) !=
            0)
        return -ENOMEM;
    hp_loc_t *l = &p->locs[p->nlocs];
    l->addr = addr;
    l->map = r.map;
    l->first = (uint32_t)p->nframes;
    l->nframes = r.nframes;
    l->known = r.known;
    loc_info_t info = {.cut = r.allocator, .prefix = r.allocator};
    const hp_sym_frame_t *sf = hp_symbolizer_frames(b->sym) + r.first;
    const hp_strtab_t *ss = hp_symbolizer_strings(b->sym);
    for (uint32_t i = 0; i < r.nframes; i++) {
        uint32_t func, file;
        if ((rc = map_string(b, sf[i].file, &file)) != 0) return rc;
        if ((rc = func_for(b, &sf[i], file, &func)) != 0) return rc;
        p->frames[p->nframes++] = (hp_frame_t){func, sf[i].line, file};
        if (r.known) {
            const char *name = hp_strtab_get(ss, sf[i].func);
            const char *sys = hp_strtab_get(ss, sf[i].sysname);
            if (hp_sym_is_allocator_name(name)) info.cut = true;
            if (is_internal_name(name) || is_internal_name(sys)) info.prefix = true;
        }
    }
    if (r.map >= 0) b->map_used[r.map] = true;
    b->info[p->nlocs] = info;
    *out = (uint32_t)p->nlocs++;
    return hp_u64map_put(&b->loc_by_addr, addr, *out);
}

static int add_stack(builder_t *b, const hp_stack_t *st) {
    hp_profile_t *p = b->p;
    if (hp_grow((void **)&b->path, &b->path_cap, st->depth + 1, sizeof(*b->path)) != 0)
        return -ENOMEM;
    size_t n = 0;
    for (size_t j = 0; j < st->depth; j++) {
        uint64_t pc = st->pcs[j];
        if (pc > 0x7fffffffffffffffull) continue; // jeprof: fake entries on some kernels
        uint64_t addr = j == 0 || pc == 0 ? pc : pc - 1;
        int rc = loc_for(b, addr, &b->path[n]);
        if (rc != 0) return rc;
        n++;
    }
    size_t start = 0;
    for (size_t j = 0; j < n; j++) {
        if (b->info[b->path[j]].cut) start = j + 1;
    }
    while (start < n && b->info[b->path[start]].prefix)
        start++;
    if (start >= n && n > 0) start = n - 1;
    if (hp_grow((void **)&p->loc_ids, &p->loc_ids_cap, p->nloc_ids + (n - start),
                sizeof(*p->loc_ids)) != 0 ||
        hp_grow((void **)&p->samples, &p->samples_cap, p->nsamples + 1, sizeof(*p->samples)) != 0)
        return -ENOMEM;
    hp_sample_t *s = &p->samples[p->nsamples++];
    s->first = (uint32_t)p->nloc_ids;
    s->nlocs = (uint32_t)(n - start);
    memcpy(p->loc_ids + p->nloc_ids, b->path + start, (n - start) * sizeof(*b->path));
    p->nloc_ids += n - start;
    s->v[HP_INUSE_OBJECTS] = st->scaled.cur_objs; // hp_scale'd by the reader
    s->v[HP_INUSE_SPACE] = st->scaled.cur_bytes;
    s->v[HP_ALLOC_OBJECTS] = st->scaled.cum_objs;
    s->v[HP_ALLOC_SPACE] = st->scaled.cum_bytes;
    for (int k = 0; k < HP_NVALUES; k++)
        p->totals[k] += s->v[k];
    return 0;
}

static int intern_str(hp_profile_t *p, const char *s, const char **out) {
    uint32_t id;
    int rc = hp_strtab_intern(&p->strs, s, strlen(s), &id);
    if (rc == 0) *out = hp_strtab_get(&p->strs, id);
    return rc;
}

/* The executable mappings some location uses, main program first (pprof: mapping[0]). */
static int build_mappings(builder_t *b) {
    hp_profile_t *p = b->p;
    size_t nmaps;
    const hp_mapping_t *maps = hp_dump_mappings(b->dump, &nmaps);
    p->map_index = malloc((nmaps + 1) * sizeof(*p->map_index));
    p->maps = calloc(nmaps + 1, sizeof(*p->maps));
    if (p->map_index == NULL || p->maps == NULL) return -ENOMEM;
    p->nmap_index = nmaps;
    for (size_t i = 0; i < nmaps; i++)
        p->map_index[i] = -1;
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < nmaps; i++) {
            if (!b->map_used[i] || p->map_index[i] >= 0) continue;
            int oi = hp_symbolizer_map_object(b->sym, i);
            const hp_sym_object_t *o = oi >= 0 ? hp_symbolizer_object(b->sym, (size_t)oi) : NULL;
            if (pass == 0 && (o == NULL || !o->is_main)) continue;
            hp_mapping_info_t *mi = &p->maps[p->nmaps];
            mi->start = maps[i].start;
            mi->limit = maps[i].end;
            mi->offset = maps[i].offset;
            int rc = intern_str(p, maps[i].path, &mi->path);
            if (rc == 0) rc = intern_str(p, o ? o->build_id : "", &mi->build_id);
            if (rc != 0) return rc;
            mi->has_functions = o != NULL && o->has_symbols;
            mi->has_lines = o != NULL && o->has_lines;
            mi->open_error = o != NULL ? o->open_error : 0;
            p->map_index[i] = (int32_t)p->nmaps++;
        }
    }
    /* Locations refer to profile mappings from now on. */
    for (size_t i = 0; i < p->nlocs; i++) {
        if (p->locs[i].map >= 0) p->locs[i].map = p->map_index[p->locs[i].map];
    }
    return 0;
}

static const char *base_name(const char *path) {
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

static int cmp_func_name(const void *a, const void *b, void *ctx) {
    const hp_func_t *f = ctx;
    uint32_t x = f[*(const uint32_t *)a].name, y = f[*(const uint32_t *)b].name;
    if (x != y) return x < y ? -1 : 1;
    return *(const uint32_t *)a < *(const uint32_t *)b ? -1 : 1;
}

/*
 * Gives every function whose name another function shares a qualified name: "name (file)"
 * by the base name of its declaration file, by the whole path when two of those files
 * share a base name, "name@addr" for a local symbol no file is known for; a function
 * with no decl at all keeps the bare name.
 */
static int qualify_names(hp_profile_t *p) {
    if (p->nfuncs < 2) return 0;
    uint32_t *ord = malloc(p->nfuncs * sizeof(*ord));
    if (ord == NULL) return -ENOMEM;
    for (size_t i = 0; i < p->nfuncs; i++)
        ord[i] = (uint32_t)i;
    qsort_r(ord, p->nfuncs, sizeof(*ord), cmp_func_name, p->funcs);
    char *buf = NULL;
    size_t cap = 0;
    int rc = 0;
    for (size_t lo = 0, hi; lo < p->nfuncs && rc == 0; lo = hi) {
        uint32_t name = p->funcs[ord[lo]].name;
        bool differ = false;
        for (hi = lo + 1; hi < p->nfuncs && p->funcs[ord[hi]].name == name; hi++)
            differ = differ || p->funcs[ord[hi]].decl != p->funcs[ord[lo]].decl;
        if (!differ) continue; // one function (the same decl, or one decl unknown)
        for (size_t i = lo; i < hi && rc == 0; i++) {
            hp_func_t *f = &p->funcs[ord[i]];
            if (f->decl == HP_NO_STR) continue;
            const char *decl = hp_strtab_get(&p->strs, f->decl);
            const char *shown = base_name(decl);
            for (size_t j = lo; j < hi && shown != decl; j++) {
                uint32_t other = p->funcs[ord[j]].decl;
                if (other == HP_NO_STR || other == f->decl) continue;
                const char *o = hp_strtab_get(&p->strs, other);
                /* "t_hash.c" (a symbol table's) may be the same file as "/src/t_hash.c". */
                if (strcmp(base_name(o), shown) == 0 && strchr(o, '/') && strchr(decl, '/'))
                    shown = decl;
            }
            const char *nm = hp_strtab_get(&p->strs, name);
            size_t need = strlen(nm) + strlen(shown) + 4;
            if (hp_grow((void **)&buf, &cap, need, 1) != 0) {
                rc = -ENOMEM;
                break;
            }
            int n = decl[0] == '@' ? snprintf(buf, cap, "%s%s", nm, decl)
                                   : snprintf(buf, cap, "%s (%s)", nm, shown);
            uint32_t id;
            if ((rc = hp_strtab_intern(&p->strs, buf, (size_t)n, &id)) == 0) f->name = id;
        }
    }
    free(buf);
    free(ord);
    return rc;
}

int hp_profile_build(const hp_dump_t *d, const hp_sym_opts_t *opts, hp_profile_t **out) {
    *out = NULL;
    hp_profile_t *p = calloc(1, sizeof(*p));
    if (p == NULL) return -ENOMEM;
    hp_strtab_init(&p->strs);
    p->period = hp_dump_period(d);
    builder_t b = {.p = p, .dump = d};
    hp_u64map_init(&b.loc_by_addr);
    hp_u64map_init(&b.str_map);
    hp_u64map_init(&b.func_map);
    int rc = -ENOMEM;
    size_t nmaps;
    hp_dump_mappings(d, &nmaps);
    b.map_used = calloc(nmaps + 1, sizeof(*b.map_used));
    b.sym = hp_symbolizer_new(d, opts);
    if (b.map_used == NULL || b.sym == NULL) goto out;
    size_t n = hp_dump_stack_count(d);
    hp_progress_fn progress = opts ? opts->progress : NULL;
    for (size_t i = 0; i < n; i++) {
        hp_stack_t st;
        hp_dump_stack(d, i, &st);
        if ((rc = add_stack(&b, &st)) != 0) goto out;
        if (progress != NULL && (i & 255) == 255)
            progress(opts->progress_ctx, "symbolizing", i + 1, n);
    }
    if (progress != NULL) progress(opts->progress_ctx, "symbolizing", n, n);
    rc = build_mappings(&b);
    if (rc == 0) rc = qualify_names(p);
out:
    hp_symbolizer_free(b.sym);
    hp_u64map_fini(&b.loc_by_addr);
    hp_u64map_fini(&b.str_map);
    hp_u64map_fini(&b.func_map);
    free(b.info);
    free(b.path);
    free(b.map_used);
    if (rc != 0) {
        hp_profile_free(p);
        return rc;
    }
    *out = p;
    return 0;
}

void hp_profile_free(hp_profile_t *p) {
    if (p == NULL) return;
    hp_strtab_fini(&p->strs);
    free(p->locs);
    free(p->frames);
    free(p->funcs);
    free(p->loc_ids);
    free(p->samples);
    free(p->maps);
    free(p->map_index);
    free(p);
}

const double *hp_profile_totals(const hp_profile_t *p) {
    return p->totals;
}

uint64_t hp_profile_period(const hp_profile_t *p) {
    return p->period;
}

size_t hp_profile_sample_count(const hp_profile_t *p) {
    return p->nsamples;
}

const hp_mapping_info_t *hp_profile_mappings(const hp_profile_t *p, size_t *count) {
    *count = p->nmaps;
    return p->maps;
}

int hp_frame_key(const hp_profile_t *p, const hp_frame_t *f, bool lines, char *buf, size_t len) {
    const hp_func_t *fn = &p->funcs[f->func];
    const char *name = hp_strtab_get(&p->strs, fn->name);
    int n;
    if (lines && f->file != HP_NO_STR && f->line != 0)
        n = snprintf(buf, len, "%s %s:%u", name, hp_strtab_get(&p->strs, f->file), f->line);
    else
        n = snprintf(buf, len, "%s", name);
    return n < 0 ? -EINVAL : n;
}
