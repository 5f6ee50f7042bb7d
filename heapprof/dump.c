/* SPDX-License-Identifier: MIT */
/*
 * dump.c - reader for jemalloc's heap_v2 dumps (prof_dump_header / prof_dump_gctx /
 * prof_dump_maps in jemalloc 5.3; layout in docs/formats.md#heap-dumps-heap_v2):
 *
 *   heap_v2/<period>
 *     t*: <objs>: <bytes> [<objs>: <bytes>]            process totals
 *     t<N>: ... [thread name]                          per thread
 *   @ 0x<pc> 0x<pc> ...                                one backtrace, leaf first
 *     t*: ...   t<N>: ...                              its counts, all threads / per thread
 *   (blank)
 *   MAPPED_LIBRARIES:
 *   <copy of /proc/<pid>/maps>
 *
 * One pass, line by line, no backtracking, streamed: the input is read in chunks into one
 * buffer that holds at most HP_DUMP_READ_MAX bytes (a line may not be longer than
 * HP_DUMP_MAX_LINE), so a pipe works and memory follows what is kept, not the file's size.
 * What is kept is merged: a backtrace that appears again adds its counts to the first
 * (each occurrence scaled on its own, as jeprof does), a thread's lines under one stack or
 * in the header are summed, and a mapping line repeated exactly is kept once, so memory is
 * proportional to the distinct stacks, threads and mappings. The first malformed line sets
 * a sticky error that names it ("dump line 42: bad stack address"); a file without the
 * MAPPED_LIBRARIES section or whose last line has no newline is reported as truncated.
 */
#include "heapprof_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct stack_rec {
    size_t pc_off; // into pcs
    size_t depth;
    hp_counts_t counts;     // summed over the backtrace's occurrences (saturating)
    hp_scaled_counts_t scl; // each occurrence scaled, summed
    size_t thr_off;         // into tcounts, after finalize
    size_t nthr;
} stack_rec_t;

enum state { ST_HEADER, ST_TOTALS, ST_STACKS, ST_MAPS };

struct hp_dump {
    int err;
    char errstr[192];
    bool parsed;
    size_t line; // current line number (1-based)

    uint64_t period;
    hp_counts_t totals;
    bool has_totals;

    hp_thread_counts_t *threads; // header per-thread lines
    size_t nthreads, threads_cap;
    size_t *thread_name_off; // parallel to threads until finalized
    size_t thread_name_cap;

    uint64_t *pcs;
    size_t npcs, pcs_cap;
    stack_rec_t *stacks;
    size_t nstacks, stacks_cap;
    hp_thread_counts_t *tcounts; // per-stack per-thread lines
    size_t ntcounts, tcounts_cap;
    size_t *tc_stack; // parallel to tcounts: the stack each belongs to
    size_t tc_stack_cap;

    /* The merging indexes: key hash -> index, checked against the entry on a hit. */
    hp_u64map_t stack_index;  // hash of the PCs -> stack
    hp_u64map_t thread_index; // header thread -> threads index
    hp_u64map_t tc_index;     // (stack, thread) -> tcounts index
    hp_u64map_t map_index;    // hash of a mapping line -> maps index
    uint64_t *pc_scratch;     // the backtrace being read
    size_t pc_scratch_cap;

    /* The occurrence being read: its stack, and whether its t* line was seen. */
    enum state st;
    size_t cur;
    bool cur_counts;

    hp_mapping_t *maps;
    size_t nmaps, maps_cap;
    size_t *map_path_off;
    size_t map_path_cap;

    char *text; // thread names and mapping paths, NUL-separated
    size_t text_len, text_cap;

    hp_progress_fn progress;
    void *progress_ctx;
};

void hp_dump_set_progress(hp_dump_t *d, hp_progress_fn fn, void *ctx) {
    d->progress = fn;
    d->progress_ctx = ctx;
}

hp_dump_t *hp_dump_new(void) {
    hp_dump_t *d = calloc(1, sizeof(hp_dump_t));
    if (d == NULL) return NULL;
    hp_u64map_init(&d->stack_index);
    hp_u64map_init(&d->thread_index);
    hp_u64map_init(&d->tc_index);
    hp_u64map_init(&d->map_index);
    return d;
}

void hp_dump_free(hp_dump_t *d) {
    if (d == NULL) return;
    free(d->threads);
    free(d->thread_name_off);
    free(d->pcs);
    free(d->stacks);
    free(d->tcounts);
    free(d->tc_stack);
    free(d->pc_scratch);
    hp_u64map_fini(&d->stack_index);
    hp_u64map_fini(&d->thread_index);
    hp_u64map_fini(&d->tc_index);
    hp_u64map_fini(&d->map_index);
    free(d->maps);
    free(d->map_path_off);
    free(d->text);
    free(d);
}

const char *hp_dump_errstr(const hp_dump_t *d) {
    return d->errstr;
}

uint64_t hp_dump_period(const hp_dump_t *d) {
    return d->period;
}

const hp_counts_t *hp_dump_totals(const hp_dump_t *d) {
    return &d->totals;
}

const hp_thread_counts_t *hp_dump_threads(const hp_dump_t *d, size_t *count) {
    *count = d->nthreads;
    return d->threads;
}

size_t hp_dump_stack_count(const hp_dump_t *d) {
    return d->nstacks;
}

int hp_dump_stack(const hp_dump_t *d, size_t i, hp_stack_t *out) {
    if (i >= d->nstacks) return -ERANGE;
    const stack_rec_t *r = &d->stacks[i];
    out->pcs = d->pcs + r->pc_off;
    out->depth = r->depth;
    out->counts = r->counts;
    out->scaled = r->scl;
    /* A stack without t<N> lines may come before any exist: tcounts is still NULL. */
    out->threads = r->nthr != 0 ? d->tcounts + r->thr_off : NULL;
    out->nthreads = r->nthr;
    return 0;
}

const hp_mapping_t *hp_dump_mappings(const hp_dump_t *d, size_t *count) {
    *count = d->nmaps;
    return d->maps;
}

/* --- Errors --- */

HP_PRINTF(3, 4) static int fail(hp_dump_t *d, int code, const char *fmt, ...) {
    if (d->err != 0) return d->err;
    d->err = code;
    int n = snprintf(d->errstr, sizeof(d->errstr), "dump line %zu: ", d->line);
    if (n < 0) n = 0;
    if ((size_t)n < sizeof(d->errstr)) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(d->errstr + n, sizeof(d->errstr) - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return code;
}

static int oom(hp_dump_t *d) {
    return fail(d, -ENOMEM, "out of memory");
}

/* --- Tokens. A line is [p, end); helpers advance *p and never read past end. --- */

static void skip_ws(const char **p, const char *end) {
    while (*p < end && (**p == ' ' || **p == '\t'))
        (*p)++;
}

static bool is_ws(char c) {
    return c == ' ' || c == '\t';
}

/* Decimal uint64. 0 ok, 1 no digits, 2 overflow. */
static int parse_dec(const char **p, const char *end, uint64_t *out) {
    const char *s = *p;
    uint64_t v = 0;
    if (s >= end || *s < '0' || *s > '9') return 1;
    while (s < end && *s >= '0' && *s <= '9') {
        unsigned dig = (unsigned)(*s - '0');
        if (v > (UINT64_MAX - dig) / 10) return 2;
        v = v * 10 + dig;
        s++;
    }
    *p = s;
    *out = v;
    return 0;
}

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Hex uint64 with an optional 0x. 0 ok, 1 no digits, 2 overflow. */
static int parse_hex(const char **p, const char *end, bool allow_prefix, uint64_t *out) {
    const char *s = *p;
    if (allow_prefix && end - s >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) s += 2;
    uint64_t v = 0;
    int ndig = 0;
    while (s < end && hexval(*s) >= 0) {
        if (v >> 60) return 2;
        v = (v << 4) | (uint64_t)hexval(*s);
        s++;
        ndig++;
    }
    if (ndig == 0) return 1;
    *p = s;
    *out = v;
    return 0;
}

static bool expect_char(const char **p, const char *end, char c) {
    if (*p < end && **p == c) {
        (*p)++;
        return true;
    }
    return false;
}

static int add_text(hp_dump_t *d, const char *s, size_t len, size_t *off) {
    if (hp_grow((void **)&d->text, &d->text_cap, d->text_len + len + 1, 1) != 0) return oom(d);
    memcpy(d->text + d->text_len, s, len);
    d->text[d->text_len + len] = '\0';
    *off = d->text_len;
    d->text_len += len + 1;
    return 0;
}

/* --- Line kinds --- */

/*
 * A counts line: "t*: n: n [n: n]" or "t<N>: n: n [n: n][ name]". *thread is UINT64_MAX
 * for t*. The name (header lines only) is returned as [*name, *name + *name_len).
 */
static int parse_counts(hp_dump_t *d, const char *p, const char *end, uint64_t *thread,
                        hp_counts_t *c, const char **name, size_t *name_len) {
    uint64_t v[4];
    int rc;
    if (!expect_char(&p, end, 't')) return fail(d, -EPROTO, "bad counts line");
    if (expect_char(&p, end, '*')) {
        *thread = UINT64_MAX;
    } else if ((rc = parse_dec(&p, end, thread)) != 0 || *thread == UINT64_MAX) {
        return fail(d, -EPROTO, rc == 2 ? "number out of range" : "bad counts line");
    }
    /* ": n: n [n: n]" with any blanks where jemalloc puts one. */
    static const char seps[4] = {':', ':', '[', ':'};
    for (int i = 0; i < 4; i++) {
        if (i == 2) skip_ws(&p, end);
        if (!expect_char(&p, end, seps[i])) return fail(d, -EPROTO, "bad counts line");
        skip_ws(&p, end);
        if ((rc = parse_dec(&p, end, &v[i])) != 0)
            return fail(d, -EPROTO, rc == 2 ? "number out of range" : "bad counts line");
    }
    skip_ws(&p, end);
    if (!expect_char(&p, end, ']')) return fail(d, -EPROTO, "bad counts line");
    *name = NULL;
    *name_len = 0;
    if (p < end) {
        if (!is_ws(*p) || *thread == UINT64_MAX) return fail(d, -EPROTO, "bad counts line");
        skip_ws(&p, end);
        *name = p;
        *name_len = (size_t)(end - p);
    }
    c->cur_objs = v[0];
    c->cur_bytes = v[1];
    c->cum_objs = v[2];
    c->cum_bytes = v[3];
    return 0;
}

static uint64_t sat_add(uint64_t a, uint64_t b) {
    return a + b < a ? UINT64_MAX : a + b;
}

static void add_counts(hp_counts_t *to, const hp_counts_t *c) {
    to->cur_objs = sat_add(to->cur_objs, c->cur_objs);
    to->cur_bytes = sat_add(to->cur_bytes, c->cur_bytes);
    to->cum_objs = sat_add(to->cum_objs, c->cum_objs);
    to->cum_bytes = sat_add(to->cum_bytes, c->cum_bytes);
}

/* The index's entry for key whose identity same() confirms, or -1 (absent or collision). */
static long find_index(const hp_u64map_t *m, uint64_t key,
                       bool (*same)(hp_dump_t *, size_t, const void *), hp_dump_t *d,
                       const void *what) {
    uint32_t v;
    if (!hp_u64map_find(m, key, &v) || !same(d, v, what)) return -1;
    return (long)v;
}

/* Remembers key -> idx unless another entry owns key (a hash collision: then not merged). */
static int remember(hp_dump_t *d, hp_u64map_t *m, uint64_t key, size_t idx) {
    uint32_t v;
    if (idx >= UINT32_MAX - 1 || hp_u64map_find(m, key, &v)) return 0;
    return hp_u64map_put(m, key, (uint32_t)idx) != 0 ? oom(d) : 0;
}

typedef struct pcs_key {
    const uint64_t *pcs;
    size_t depth;
} pcs_key_t;

static bool same_stack(hp_dump_t *d, size_t i, const void *what) {
    const pcs_key_t *k = what;
    const stack_rec_t *r = &d->stacks[i];
    return r->depth == k->depth && memcmp(d->pcs + r->pc_off, k->pcs, k->depth * 8) == 0;
}

static int parse_stack(hp_dump_t *d, const char *p, const char *end) {
    p++; // '@'
    size_t depth = 0;
    for (;;) {
        skip_ws(&p, end);
        if (p >= end) break;
        uint64_t pc;
        int rc = parse_hex(&p, end, true, &pc);
        if (rc != 0 || (p < end && !is_ws(*p))) return fail(d, -EPROTO, "bad stack address");
        if (hp_grow((void **)&d->pc_scratch, &d->pc_scratch_cap, depth + 1, sizeof(uint64_t)) != 0)
            return oom(d);
        d->pc_scratch[depth++] = pc;
    }
    if (depth == 0) return fail(d, -EPROTO, "empty stack");
    pcs_key_t k = {d->pc_scratch, depth};
    uint64_t key = hp_hash_bytes(d->pc_scratch, depth * sizeof(uint64_t));
    long found = find_index(&d->stack_index, key, same_stack, d, &k);
    d->cur_counts = false;
    if (found >= 0) {
        d->cur = (size_t)found;
        return 0;
    }
    if (hp_grow((void **)&d->pcs, &d->pcs_cap, d->npcs + depth, sizeof(*d->pcs)) != 0 ||
        hp_grow((void **)&d->stacks, &d->stacks_cap, d->nstacks + 1, sizeof(*d->stacks)) != 0)
        return oom(d);
    memcpy(d->pcs + d->npcs, d->pc_scratch, depth * sizeof(uint64_t));
    d->stacks[d->nstacks] = (stack_rec_t){.pc_off = d->npcs, .depth = depth};
    d->npcs += depth;
    d->cur = d->nstacks++;
    return remember(d, &d->stack_index, key, d->cur);
}

typedef struct thr_key {
    size_t stack;
    uint64_t thread;
} thr_key_t;

static bool same_tc(hp_dump_t *d, size_t i, const void *what) {
    const thr_key_t *k = what;
    return d->tc_stack[i] == k->stack && d->tcounts[i].thread == k->thread;
}

static bool same_thread(hp_dump_t *d, size_t i, const void *what) {
    return d->threads[i].thread == *(const uint64_t *)what;
}

static int parse_stack_counts(hp_dump_t *d, const char *p, const char *end) {
    stack_rec_t *r = &d->stacks[d->cur];
    uint64_t thread;
    hp_counts_t c;
    const char *name;
    size_t name_len;
    int rc = parse_counts(d, p, end, &thread, &c, &name, &name_len);
    if (rc != 0) return rc;
    if (thread == UINT64_MAX) {
        if (d->cur_counts) return fail(d, -EPROTO, "duplicate t* line");
        d->cur_counts = true;
        add_counts(&r->counts, &c);
        double n, b;
        hp_scale(d->period, c.cur_objs, c.cur_bytes, &n, &b);
        r->scl.cur_objs += n;
        r->scl.cur_bytes += b;
        hp_scale(d->period, c.cum_objs, c.cum_bytes, &n, &b);
        r->scl.cum_objs += n;
        r->scl.cum_bytes += b;
        return 0;
    }
    if (!d->cur_counts) return fail(d, -EPROTO, "thread counts before the stack's t* line");
    thr_key_t k = {d->cur, thread};
    uint64_t key = hp_hash_u64(hp_hash_u64(d->cur) ^ thread);
    long found = find_index(&d->tc_index, key, same_tc, d, &k);
    if (found >= 0) {
        add_counts(&d->tcounts[found].counts, &c);
        return 0;
    }
    if (hp_grow((void **)&d->tcounts, &d->tcounts_cap, d->ntcounts + 1, sizeof(*d->tcounts)) != 0 ||
        hp_grow((void **)&d->tc_stack, &d->tc_stack_cap, d->ntcounts + 1, sizeof(*d->tc_stack)) !=
            0)
        return oom(d);
    d->tcounts[d->ntcounts] = (hp_thread_counts_t){.thread = thread, .name = "", .counts = c};
    d->tc_stack[d->ntcounts] = d->cur;
    r->nthr++;
    return remember(d, &d->tc_index, key, d->ntcounts++);
}

static int parse_header_counts(hp_dump_t *d, const char *p, const char *end) {
    uint64_t thread;
    hp_counts_t c;
    const char *name;
    size_t name_len;
    int rc = parse_counts(d, p, end, &thread, &c, &name, &name_len);
    if (rc != 0) return rc;
    if (thread == UINT64_MAX) {
        if (d->has_totals) return fail(d, -EPROTO, "duplicate t* line");
        d->totals = c;
        d->has_totals = true;
        return 0;
    }
    if (!d->has_totals) return fail(d, -EPROTO, "thread counts before the t* totals");
    uint64_t key = hp_hash_u64(thread);
    long found = find_index(&d->thread_index, key, same_thread, d, &thread);
    if (found >= 0) { // the same thread again: its counts add up, its first name stays
        add_counts(&d->threads[found].counts, &c);
        return 0;
    }
    size_t off;
    if (add_text(d, name ? name : "", name_len, &off) != 0) return d->err;
    if (hp_grow((void **)&d->threads, &d->threads_cap, d->nthreads + 1, sizeof(*d->threads)) != 0)
        return oom(d);
    if (hp_grow((void **)&d->thread_name_off, &d->thread_name_cap, d->nthreads + 1,
                sizeof(*d->thread_name_off)) != 0)
        return oom(d);
    d->threads[d->nthreads] = (hp_thread_counts_t){.thread = thread, .counts = c};
    d->thread_name_off[d->nthreads] = off;
    return remember(d, &d->thread_index, key, d->nthreads++);
}

typedef struct map_key {
    const hp_mapping_t *m;
    const char *path;
    size_t plen;
} map_key_t;

static bool same_map(hp_dump_t *d, size_t i, const void *what) {
    const map_key_t *k = what;
    const hp_mapping_t *m = &d->maps[i];
    const char *path = d->text + d->map_path_off[i];
    return m->start == k->m->start && m->end == k->m->end && m->offset == k->m->offset &&
           m->inode == k->m->inode && memcmp(m->perms, k->m->perms, 4) == 0 &&
           strlen(path) == k->plen && memcmp(path, k->path, k->plen) == 0;
}

/* "start-end perms offset dev inode [path]", as the kernel prints /proc/<pid>/maps. */
static int parse_mapping(hp_dump_t *d, const char *p, const char *end) {
    hp_mapping_t m = {0};
    uint64_t dev;
    if (parse_hex(&p, end, false, &m.start) != 0 || !expect_char(&p, end, '-') ||
        parse_hex(&p, end, false, &m.end) != 0 || m.end < m.start || p >= end || !is_ws(*p))
        return fail(d, -EPROTO, "bad mapping line");
    skip_ws(&p, end);
    if (end - p < 4) return fail(d, -EPROTO, "bad mapping line");
    memcpy(m.perms, p, 4);
    for (int i = 0; i < 4; i++) {
        if (m.perms[i] == '\0' || strchr("rwxps-", m.perms[i]) == NULL)
            return fail(d, -EPROTO, "bad mapping line");
    }
    p += 4;
    if (p >= end || !is_ws(*p)) return fail(d, -EPROTO, "bad mapping line");
    skip_ws(&p, end);
    if (parse_hex(&p, end, false, &m.offset) != 0 || p >= end || !is_ws(*p))
        return fail(d, -EPROTO, "bad mapping line");
    skip_ws(&p, end);
    if (parse_hex(&p, end, false, &dev) != 0 || !expect_char(&p, end, ':') ||
        parse_hex(&p, end, false, &dev) != 0 || p >= end || !is_ws(*p))
        return fail(d, -EPROTO, "bad mapping line");
    skip_ws(&p, end);
    if (parse_dec(&p, end, &m.inode) != 0 || (p < end && !is_ws(*p)))
        return fail(d, -EPROTO, "bad mapping line");
    skip_ws(&p, end);
    size_t plen = (size_t)(end - p);
    static const char deleted[] = " (deleted)";
    if (plen > sizeof(deleted) - 1 &&
        memcmp(end - (sizeof(deleted) - 1), deleted, sizeof(deleted) - 1) == 0)
        plen -= sizeof(deleted) - 1;
    map_key_t k = {&m, p, plen};
    uint64_t key = hp_hash_u64(hp_hash_bytes(p, plen) ^ hp_hash_u64(m.start) ^ m.end);
    if (find_index(&d->map_index, key, same_map, d, &k) >= 0) return 0; // an exact repeat
    size_t off;
    if (add_text(d, p, plen, &off) != 0) return d->err;
    if (hp_grow((void **)&d->maps, &d->maps_cap, d->nmaps + 1, sizeof(*d->maps)) != 0 ||
        hp_grow((void **)&d->map_path_off, &d->map_path_cap, d->nmaps + 1,
                sizeof(*d->map_path_off)) != 0)
        return oom(d);
    d->map_path_off[d->nmaps] = off;
    d->maps[d->nmaps] = m;
    return remember(d, &d->map_index, key, d->nmaps++);
}

static int parse_header(hp_dump_t *d, const char *p, const char *end) {
    static const char magic[] = "heap_v2/";
    size_t n = sizeof(magic) - 1;
    if ((size_t)(end - p) < n || memcmp(p, magic, n) != 0)
        return fail(d, -EPROTO, "not a jemalloc heap profile (expected \"heap_v2/<period>\")");
    p += n;
    int rc = parse_dec(&p, end, &d->period);
    skip_ws(&p, end);
    if (rc != 0 || p != end) return fail(d, -EPROTO, "bad sample period");
    return 0;
}

/* --- Driver --- */

/* Thread lines grouped per stack (a repeated backtrace's come after later stacks'). */
static int finalize(hp_dump_t *d) {
    for (size_t i = 0; i < d->nthreads; i++)
        d->threads[i].name = d->text + d->thread_name_off[i];
    for (size_t i = 0; i < d->nmaps; i++)
        d->maps[i].path = d->text + d->map_path_off[i];
    bool sorted = true;
    for (size_t i = 1; i < d->ntcounts && sorted; i++)
        sorted = d->tc_stack[i - 1] <= d->tc_stack[i];
    size_t off = 0;
    for (size_t i = 0; i < d->nstacks; i++) {
        d->stacks[i].thr_off = off;
        off += d->stacks[i].nthr;
    }
    if (sorted || d->ntcounts == 0) return 0;
    hp_thread_counts_t *t = malloc(d->ntcounts * sizeof(*t));
    size_t *fill = calloc(d->nstacks, sizeof(*fill));
    if (t == NULL || fill == NULL) {
        free(t);
        free(fill);
        return oom(d);
    }
    for (size_t i = 0; i < d->ntcounts; i++) {
        const stack_rec_t *r = &d->stacks[d->tc_stack[i]];
        t[r->thr_off + fill[d->tc_stack[i]]++] = d->tcounts[i];
    }
    free(fill);
    free(d->tcounts);
    d->tcounts = t;
    d->tcounts_cap = d->ntcounts;
    return 0;
}

/* One complete line, [p, end) without its newline. */
static int parse_line(hp_dump_t *d, const char *p, const char *end) {
    if (end > p && end[-1] == '\r') end--;
    if (d->st != ST_MAPS) {
        while (end > p && is_ws(end[-1]))
            end--; // as jeprof's s/\s*$//
    }
    if (d->st == ST_MAPS) return end > p ? parse_mapping(d, p, end) : 0;
    if (d->st == ST_HEADER) {
        if (parse_header(d, p, end) != 0) return d->err;
        d->st = ST_TOTALS;
        return 0;
    }
    const char *q = p;
    skip_ws(&q, end);
    if (q == end) return 0; // blank: jemalloc writes one before MAPPED_LIBRARIES
    if (*q == 't')
        return d->st == ST_TOTALS ? parse_header_counts(d, q, end) : parse_stack_counts(d, q, end);
    bool stack = *q == '@';
    if (!stack && !((size_t)(end - q) >= 17 && memcmp(q, "MAPPED_LIBRARIES:", 17) == 0))
        return fail(d, -EPROTO, "unexpected line");
    if (!d->has_totals) return fail(d, -EPROTO, "missing t* totals");
    if (d->st == ST_STACKS && !d->cur_counts) return fail(d, -EPROTO, "stack without a t* line");
    if (!stack) {
        d->st = ST_MAPS;
        return 0;
    }
    d->st = ST_STACKS;
    return parse_stack(d, q, end);
}

/* The input ended with [p, end) not followed by a newline (possibly empty). */
static int parse_end(hp_dump_t *d, const char *p, const char *end, uint64_t nread) {
    if (nread == 0) return fail(d, -EPROTO, "empty file, not a heap profile");
    if (p < end) {
        if (d->st == ST_HEADER && parse_header(d, p, end) != 0) return d->err;
        return fail(d, -EPROTO, "truncated (last line has no newline)");
    }
    if (d->st != ST_MAPS) {
        d->line--; // the last line read
        return fail(d, -EPROTO, "truncated (no MAPPED_LIBRARIES section)");
    }
    return finalize(d);
}

int hp_dump_read(hp_dump_t *d, hp_read_fn read_fn, void *ctx, uint64_t total) {
    if (d->err != 0) return d->err;
    if (d->parsed) return -EINVAL;
    d->parsed = true;
    d->line = 1;
    size_t cap = 64u << 10, have = 0;
    char *buf = malloc(cap);
    if (buf == NULL) return oom(d);
    uint64_t nread = 0, next_report = 4u << 20;
    int rc = 0;
    for (;;) {
        /* Every complete line in the buffer, then what is left moves to its front. */
        size_t start = 0;
        const char *nl;
        while (rc == 0 && (nl = memchr(buf + start, '\n', have - start)) != NULL) {
            rc = parse_line(d, buf + start, nl);
            start = (size_t)(nl - buf) + 1;
            if (rc == 0) d->line++;
        }
        if (rc != 0) break;
        memmove(buf, buf + start, have - start);
        have -= start;
        if (have == cap) { // one line fills the buffer
            if (cap >= HP_DUMP_READ_MAX) {
                if (d->st == ST_HEADER && parse_header(d, buf, buf + have) != 0) break;
                rc = fail(d, -EPROTO, "line too long (%u bytes or more)", HP_DUMP_READ_MAX);
                break;
            }
            char *nb = realloc(buf, cap * 2);
            if (nb == NULL) {
                rc = oom(d);
                break;
            }
            buf = nb;
            cap *= 2;
        }
        ssize_t n = read_fn(ctx, buf + have, cap - have);
        if (n < 0) {
            rc = fail(d, (int)n, "read error: %s", strerror((int)-n));
            break;
        }
        if (n == 0) {
            rc = parse_end(d, buf, buf + have, nread);
            break;
        }
        have += (size_t)n;
        nread += (uint64_t)n;
        if (d->progress != NULL && nread >= next_report) {
            d->progress(d->progress_ctx, "reading", (size_t)nread, (size_t)total);
            next_report = nread + (4u << 20);
        }
    }
    free(buf);
    return rc != 0 ? rc : d->err;
}

typedef struct mem_src {
    const char *p;
    size_t left;
} mem_src_t;

static ssize_t read_mem(void *ctx, void *buf, size_t len) {
    mem_src_t *m = ctx;
    size_t n = len < m->left ? len : m->left;
    memcpy(buf, m->p, n);
    m->p += n;
    m->left -= n;
    return (ssize_t)n;
}

int hp_dump_parse(hp_dump_t *d, const char *buf, size_t len) {
    mem_src_t m = {buf, len};
    return hp_dump_read(d, read_mem, &m, len);
}

static ssize_t read_fd(void *ctx, void *buf, size_t len) {
    int fd = *(const int *)ctx;
    for (;;) {
        ssize_t n = read(fd, buf, len);
        if (n >= 0) return n;
        if (errno != EINTR) return -errno;
    }
}

int hp_dump_read_fd(hp_dump_t *d, int fd) {
    struct stat st;
    uint64_t total = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) ? (uint64_t)st.st_size : 0;
    return hp_dump_read(d, read_fd, &fd, total);
}

int hp_dump_load(hp_dump_t *d, const char *path) {
    if (d->err != 0) return d->err;
    bool std_in = strcmp(path, "-") == 0;
    int fd = std_in ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    struct stat st;
    int e = fd < 0 ? errno : fstat(fd, &st) != 0 ? errno : 0;
    /* A file, a pipe or a FIFO (streamed), or a terminal; never a directory or a disk. */
    if (e == 0 && !S_ISREG(st.st_mode) && !S_ISFIFO(st.st_mode) && !S_ISSOCK(st.st_mode) &&
        !S_ISCHR(st.st_mode))
        e = S_ISDIR(st.st_mode) ? EISDIR : EINVAL;
    if (e == 0) {
        int rc = hp_dump_read_fd(d, fd);
        if (rc != 0 && rc != -EPROTO && rc != -ENOMEM) e = -rc; // read error: name the file
    }
    if (fd >= 0 && !std_in) close(fd);
    if (e != 0) {
        snprintf(d->errstr, sizeof(d->errstr), "%s: %s", std_in ? "stdin" : path, strerror(e));
        return d->err = -e;
    }
    return d->err;
}

/* --- Scaling --- */

void hp_scale(uint64_t period, uint64_t objs, uint64_t bytes, double *objs_out, double *bytes_out) {
    double n = (double)objs, s = (double)bytes;
    if (period != 0 && objs != 0 && bytes != 0) {
        double ratio = (s / n) / (double)period;
        /* jeprof's 1 - exp(-ratio) is 0 when the ratio is below 2^-53 (tiny objects, a
         * huge period): then expm1, exact there, keeps the scale finite (at most ~2^128,
         * so the scaled counts stay below ~2^192, far from DBL_MAX). */
        double denom = 1.0 - exp(-ratio);
        if (!(denom > 0)) denom = -expm1(-ratio);
        if (denom > 0) {
            double scale = 1.0 / denom;
            n *= scale;
            s *= scale;
        }
    }
    *objs_out = n;
    *bytes_out = s;
}
