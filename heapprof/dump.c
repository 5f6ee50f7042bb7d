/* SPDX-License-Identifier: MIT */
/*
 * dump.c - reader for jemalloc's heap_v2 dumps (prof_dump_header / prof_dump_gctx /
 * prof_dump_maps in jemalloc 5.3; layout in ../shared/notes/heap-formats.md):
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
 * One pass, line by line, no backtracking. The first malformed line sets a sticky error
 * that names it ("dump line 42: bad stack address"); a file without the MAPPED_LIBRARIES
 * section or whose last line has no newline is reported as truncated. Everything kept is
 * copied, so the input buffer can go away after hp_dump_parse.
 */
#include "heapprof_internal.h"

#include "ms_defs.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct stack_rec {
    size_t pc_off; // into pcs
    size_t depth;
    hp_counts_t counts;
    size_t thr_off; // into tcounts
    size_t nthr;
    bool has_counts;
} stack_rec_t;

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
    return calloc(1, sizeof(hp_dump_t));
}

void hp_dump_free(hp_dump_t *d) {
    if (d == NULL) return;
    free(d->threads);
    free(d->thread_name_off);
    free(d->pcs);
    free(d->stacks);
    free(d->tcounts);
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

MS_PRINTF(3, 4) static int fail(hp_dump_t *d, int code, const char *fmt, ...) {
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

static int parse_stack(hp_dump_t *d, const char *p, const char *end) {
    p++; // '@'
    stack_rec_t r = {.pc_off = d->npcs};
    for (;;) {
        skip_ws(&p, end);
        if (p >= end) break;
        uint64_t pc;
        int rc = parse_hex(&p, end, true, &pc);
        if (rc != 0 || (p < end && !is_ws(*p))) return fail(d, -EPROTO, "bad stack address");
        if (hp_grow((void **)&d->pcs, &d->pcs_cap, d->npcs + 1, sizeof(*d->pcs)) != 0)
            return oom(d);
        d->pcs[d->npcs++] = pc;
        r.depth++;
    }
    if (r.depth == 0) return fail(d, -EPROTO, "empty stack");
    r.thr_off = d->ntcounts;
    if (hp_grow((void **)&d->stacks, &d->stacks_cap, d->nstacks + 1, sizeof(*d->stacks)) != 0)
        return oom(d);
    d->stacks[d->nstacks++] = r;
    return 0;
}

static int parse_stack_counts(hp_dump_t *d, const char *p, const char *end) {
    stack_rec_t *r = &d->stacks[d->nstacks - 1];
    uint64_t thread;
    hp_counts_t c;
    const char *name;
    size_t name_len;
    int rc = parse_counts(d, p, end, &thread, &c, &name, &name_len);
    if (rc != 0) return rc;
    if (thread == UINT64_MAX) {
        if (r->has_counts) return fail(d, -EPROTO, "duplicate t* line");
        r->counts = c;
        r->has_counts = true;
        return 0;
    }
    if (!r->has_counts) return fail(d, -EPROTO, "thread counts before the stack's t* line");
    if (hp_grow((void **)&d->tcounts, &d->tcounts_cap, d->ntcounts + 1, sizeof(*d->tcounts)) != 0)
        return oom(d);
    d->tcounts[d->ntcounts++] = (hp_thread_counts_t){.thread = thread, .name = "", .counts = c};
    r->nthr++;
    return 0;
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
    size_t off;
    if (add_text(d, name ? name : "", name_len, &off) != 0) return d->err;
    if (hp_grow((void **)&d->threads, &d->threads_cap, d->nthreads + 1, sizeof(*d->threads)) != 0)
        return oom(d);
    if (hp_grow((void **)&d->thread_name_off, &d->thread_name_cap, d->nthreads + 1,
                sizeof(*d->thread_name_off)) != 0)
        return oom(d);
    d->threads[d->nthreads] = (hp_thread_counts_t){.thread = thread, .counts = c};
    d->thread_name_off[d->nthreads++] = off;
    return 0;
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
    size_t off;
    if (add_text(d, p, plen, &off) != 0) return d->err;
    if (hp_grow((void **)&d->maps, &d->maps_cap, d->nmaps + 1, sizeof(*d->maps)) != 0 ||
        hp_grow((void **)&d->map_path_off, &d->map_path_cap, d->nmaps + 1,
                sizeof(*d->map_path_off)) != 0)
        return oom(d);
    d->map_path_off[d->nmaps] = off;
    d->maps[d->nmaps++] = m;
    return 0;
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

enum state { ST_HEADER, ST_TOTALS, ST_STACKS, ST_MAPS };

static void finalize(hp_dump_t *d) {
    for (size_t i = 0; i < d->nthreads; i++)
        d->threads[i].name = d->text + d->thread_name_off[i];
    for (size_t i = 0; i < d->nmaps; i++)
        d->maps[i].path = d->text + d->map_path_off[i];
}

int hp_dump_parse(hp_dump_t *d, const char *buf, size_t len) {
    if (d->err != 0) return d->err;
    if (d->parsed) return -EINVAL;
    d->parsed = true;
    d->line = 1;
    if (len == 0) return fail(d, -EPROTO, "empty file, not a heap profile");
    enum state st = ST_HEADER;
    const char *p = buf, *bufend = buf + len;
    const char *next_report = buf + (4u << 20);
    while (p < bufend) {
        if (d->progress != NULL && p >= next_report) {
            d->progress(d->progress_ctx, "reading", (size_t)(p - buf), len);
            next_report = p + (4u << 20);
        }
        const char *nl = memchr(p, '\n', (size_t)(bufend - p));
        if (nl == NULL) {
            if (st == ST_HEADER && parse_header(d, p, bufend) != 0) return d->err;
            return fail(d, -EPROTO, "truncated (last line has no newline)");
        }
        const char *end = nl;
        if (end > p && end[-1] == '\r') end--;
        if (st != ST_MAPS) {
            while (end > p && is_ws(end[-1]))
                end--; // as jeprof's s/\s*$//
        }
        if (st == ST_MAPS) {
            if (end > p && parse_mapping(d, p, end) != 0) return d->err;
        } else if (st == ST_HEADER) {
            if (parse_header(d, p, end) != 0) return d->err;
            st = ST_TOTALS;
        } else {
            const char *q = p;
            skip_ws(&q, end);
            int rc = 0;
            if (q == end) {
                // blank: jemalloc writes one before MAPPED_LIBRARIES
            } else if (*q == 't') {
                rc = st == ST_TOTALS ? parse_header_counts(d, q, end)
                                     : parse_stack_counts(d, q, end);
            } else if (*q == '@') {
                if (!d->has_totals) return fail(d, -EPROTO, "missing t* totals");
                if (st == ST_STACKS && !d->stacks[d->nstacks - 1].has_counts)
                    return fail(d, -EPROTO, "stack without a t* line");
                st = ST_STACKS;
                rc = parse_stack(d, q, end);
            } else if ((size_t)(end - q) >= 17 && memcmp(q, "MAPPED_LIBRARIES:", 17) == 0) {
                if (!d->has_totals) return fail(d, -EPROTO, "missing t* totals");
                if (st == ST_STACKS && !d->stacks[d->nstacks - 1].has_counts)
                    return fail(d, -EPROTO, "stack without a t* line");
                st = ST_MAPS;
            } else {
                rc = fail(d, -EPROTO, "unexpected line");
            }
            if (rc != 0) return rc;
        }
        p = nl + 1;
        d->line++;
    }
    if (st != ST_MAPS) {
        d->line--; // the last line read
        return fail(d, -EPROTO, "truncated (no MAPPED_LIBRARIES section)");
    }
    finalize(d);
    return 0;
}

int hp_dump_load(hp_dump_t *d, const char *path) {
    if (d->err != 0) return d->err;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        snprintf(d->errstr, sizeof(d->errstr), "%s: %s", path, strerror(e));
        return d->err = -e;
    }
    struct stat st;
    int rc = fstat(fd, &st) != 0    ? errno
             : !S_ISREG(st.st_mode) ? (S_ISDIR(st.st_mode) ? EISDIR : EINVAL)
                                    : 0;
    if (rc != 0) {
        int e = rc;
        snprintf(d->errstr, sizeof(d->errstr), "%s: %s", path, strerror(e));
        close(fd);
        return d->err = -e;
    }
    if (st.st_size == 0) {
        close(fd);
        d->line = 1;
        return fail(d, -EPROTO, "empty file, not a heap profile");
    }
    void *map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED) {
        int e = errno;
        snprintf(d->errstr, sizeof(d->errstr), "%s: %s", path, strerror(e));
        return d->err = -e;
    }
    madvise(map, (size_t)st.st_size, MADV_SEQUENTIAL);
    rc = hp_dump_parse(d, map, (size_t)st.st_size);
    munmap(map, (size_t)st.st_size);
    return rc;
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
