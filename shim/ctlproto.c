/* SPDX-License-Identifier: MIT */
/*
 * ctlproto.c - the control socket's wire protocol: request lines, the command table,
 * reply framing, TSV-to-JSON bodies, where sockets live, and the frag arithmetic.
 *
 * Pure on purpose (ctlproto.h): it is linked both into libmemshim, where it runs on the
 * control thread, and into the memshim CLI. Nothing here allocates; every buffer is
 * caller-owned, and overflow is reported, never truncated silently.
 */
#include "ctlproto.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

/* --- The command table --- */

#define ROW(id, fn, name, sub, min, max, kind, usage, help)                                        \
    {name, sub, min, max, MS_CTLCMD_##id, usage, help},
static const ms_ctlcmd_t commands[] = {MS_CTLCMD_LIST(ROW)};
#undef ROW

_Static_assert(sizeof(commands) / sizeof(commands[0]) == MS_CTLCMD_COUNT,
               "one command row per ms_ctlcmd_id_t");

const ms_ctlcmd_t *ms_ctlproto_commands(size_t *count) {
    if (count != NULL) *count = sizeof(commands) / sizeof(commands[0]);
    return commands;
}

/* --- Requests --- */

static bool is_sep(unsigned char c) {
    return c == ' ' || c == '\t';
}

int ms_ctlproto_parse(ms_ctlproto_req_t *req, const char *line, size_t len) {
    req->ntok = 0;
    req->json = false;
    req->errstr[0] = '\0';
    if (len >= MS_CTLPROTO_MAX_LINE) {
        snprintf(req->errstr, sizeof(req->errstr), "request too long (max %d bytes)",
                 MS_CTLPROTO_MAX_LINE - 1);
        return -EMSGSIZE;
    }
    if (len > 0 && line[len - 1] == '\r') len--;
    memcpy(req->buf, line, len);
    req->buf[len] = '\0';
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)req->buf[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f) {
            snprintf(req->errstr, sizeof(req->errstr),
                     "malformed request: control byte 0x%02x at offset %zu", c, i);
            return -EPROTO;
        }
    }
    char *p = req->buf;
    while (*p != '\0') {
        while (is_sep((unsigned char)*p))
            *p++ = '\0';
        if (*p == '\0') break;
        char *start = p;
        while (*p != '\0' && !is_sep((unsigned char)*p))
            p++;
        if (*p != '\0') *p++ = '\0';
        if (strcmp(start, "--json") == 0) {
            req->json = true;
            continue;
        }
        if (req->ntok == MS_CTLPROTO_MAX_TOKENS) {
            snprintf(req->errstr, sizeof(req->errstr), "too many arguments (max %d)",
                     MS_CTLPROTO_MAX_TOKENS);
            return -EPROTO;
        }
        req->tok[req->ntok++] = start;
    }
    if (req->ntok == 0) {
        snprintf(req->errstr, sizeof(req->errstr), "empty request");
        return -EPROTO;
    }
    return 0;
}

int ms_ctlproto_match(const ms_ctlproto_req_t *req, const ms_ctlcmd_t **cmd, int *argi, char *err,
                      size_t errlen) {
    const size_t n = sizeof(commands) / sizeof(commands[0]);
    const char *name = req->ntok > 0 ? req->tok[0] : "";
    const char *sub = req->ntok > 1 ? req->tok[1] : NULL;
    bool known = false;
    for (size_t i = 0; i < n; i++) {
        const ms_ctlcmd_t *c = &commands[i];
        if (strcasecmp(c->name, name) != 0) continue;
        known = true;
        if (c->sub != NULL && (sub == NULL || strcasecmp(c->sub, sub) != 0)) continue;
        int first = c->sub != NULL ? 2 : 1;
        int nargs = req->ntok - first;
        if (nargs < c->min_args || nargs > c->max_args) {
            snprintf(err, errlen, "wrong number of arguments for '%s' (usage: %s)",
                     c->sub ? c->usage : c->name, c->usage);
            return -EINVAL;
        }
        *cmd = c;
        *argi = first;
        return 0;
    }
    if (!known) {
        snprintf(err, errlen, "unknown command '%.64s', try 'help'", name);
        return -ENOENT;
    }
    /* A known command that takes a subcommand: list them. */
    size_t o = 0;
    int w = snprintf(err, errlen,
                     sub ? "unknown subcommand '%.64s' for '%s', try one of:"
                         : "'%.64s%s' needs a subcommand, one of:",
                     sub ? sub : name, sub ? name : "");
    o = w > 0 ? (size_t)w : 0;
    for (size_t i = 0; i < n && o < errlen; i++) {
        if (strcasecmp(commands[i].name, name) != 0) continue;
        w = snprintf(err + o, errlen - o, " %s", commands[i].sub);
        if (w < 0) break;
        o += (size_t)w;
    }
    return sub ? -ENOENT : -EINVAL;
}

/* --- Line assembly --- */

void ms_ctlproto_lbuf_init(ms_ctlproto_lbuf_t *lb) {
    lb->len = 0;
    lb->skip = 0;
    lb->err = 0;
}

static void lbuf_drop_taken(ms_ctlproto_lbuf_t *lb) {
    if (lb->skip == 0) return;
    memmove(lb->data, lb->data + lb->skip, lb->len - lb->skip);
    lb->len -= lb->skip;
    lb->skip = 0;
}

char *ms_ctlproto_lbuf_space(ms_ctlproto_lbuf_t *lb, size_t *avail) {
    lbuf_drop_taken(lb);
    *avail = lb->err != 0 ? 0 : sizeof(lb->data) - lb->len;
    return lb->data + lb->len;
}

void ms_ctlproto_lbuf_commit(ms_ctlproto_lbuf_t *lb, size_t n) {
    if (n > sizeof(lb->data) - lb->len) n = sizeof(lb->data) - lb->len;
    lb->len += n;
}

int ms_ctlproto_lbuf_take(ms_ctlproto_lbuf_t *lb, bool at_eof, const char **line, size_t *len) {
    if (lb->err != 0) return lb->err;
    lbuf_drop_taken(lb);
    const char *nl = memchr(lb->data, '\n', lb->len);
    if (nl != NULL) {
        *line = lb->data;
        *len = (size_t)(nl - lb->data);
        lb->skip = *len + 1;
        return 1;
    }
    if (lb->len == sizeof(lb->data)) return lb->err = -EMSGSIZE;
    if (at_eof && lb->len > 0) {
        *line = lb->data;
        *len = lb->len;
        lb->skip = lb->len;
        return 1;
    }
    return 0;
}

/* --- Bodies --- */

static const char *const kind_names[] = {"text", "kv", "table", "json"};

const char *ms_ctlproto_kind_name(ms_ctlproto_kind_t kind) {
    return (unsigned)kind < 4 ? kind_names[kind] : "text";
}

int ms_ctlproto_kind_parse(const char *name, size_t len) {
    for (int i = 0; i < 4; i++)
        if (strlen(kind_names[i]) == len && memcmp(kind_names[i], name, len) == 0) return i;
    return -1;
}

void ms_ctlproto_body_init(ms_ctlproto_body_t *b, char *buf, size_t cap, ms_ctlproto_kind_t kind) {
    b->buf = buf;
    b->cap = cap;
    b->len = 0;
    b->overflow = false;
    b->row_open = false;
    b->kind = kind;
}

void ms_ctlproto_body_add(ms_ctlproto_body_t *b, const char *s, size_t n) {
    if (b->overflow) return;
    if (n > b->cap - b->len) {
        b->overflow = true;
        return;
    }
    memcpy(b->buf + b->len, s, n);
    b->len += n;
}

__attribute__((format(printf, 2, 0))) static void body_vprintf(ms_ctlproto_body_t *b,
                                                               const char *fmt, va_list ap) {
    if (b->overflow) return;
    size_t room = b->cap - b->len;
    int w = vsnprintf(b->buf + b->len, room, fmt, ap);
    if (w < 0 || (size_t)w >= room) {
        b->overflow = true;
        return;
    }
    b->len += (size_t)w;
}

void ms_ctlproto_body_printf(ms_ctlproto_body_t *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    body_vprintf(b, fmt, ap);
    va_end(ap);
}

void ms_ctlproto_body_cell(ms_ctlproto_body_t *b, const char *s) {
    if (b->row_open) ms_ctlproto_body_add(b, "\t", 1);
    b->row_open = true;
    if (s == NULL || *s == '\0') {
        ms_ctlproto_body_add(b, "-", 1); /* an empty cell would be invisible in a table */
        return;
    }
    size_t start = b->len;
    ms_ctlproto_body_add(b, s, strlen(s));
    if (b->overflow) return;
    for (size_t i = start; i < b->len; i++) {
        unsigned char c = (unsigned char)b->buf[i];
        if (c < 0x20 || c == 0x7f) b->buf[i] = ' ';
    }
}

void ms_ctlproto_body_cellf(ms_ctlproto_body_t *b, const char *fmt, ...) {
    char cell[512];
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(cell, sizeof(cell), fmt, ap);
    va_end(ap);
    if (w < 0 || (size_t)w >= sizeof(cell)) {
        b->overflow = true;
        return;
    }
    ms_ctlproto_body_cell(b, cell);
}

void ms_ctlproto_body_endrow(ms_ctlproto_body_t *b) {
    ms_ctlproto_body_add(b, "\n", 1);
    b->row_open = false;
}

void ms_ctlproto_body_kvf(ms_ctlproto_body_t *b, const char *key, const char *fmt, ...) {
    char cell[512];
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(cell, sizeof(cell), fmt, ap);
    va_end(ap);
    if (w < 0 || (size_t)w >= sizeof(cell)) {
        b->overflow = true;
        return;
    }
    ms_ctlproto_body_cell(b, key);
    ms_ctlproto_body_cell(b, cell);
    ms_ctlproto_body_endrow(b);
}

/* --- JSON --- */

static bool is_json_number(const char *s, size_t n) {
    size_t i = 0;
    if (i < n && s[i] == '-') i++;
    if (i >= n) return false;
    if (s[i] == '0') {
        i++;
    } else if (s[i] >= '1' && s[i] <= '9') {
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
    } else {
        return false;
    }
    if (i < n && s[i] == '.') {
        i++;
        size_t d = i;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
        if (i == d) return false;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-')) i++;
        size_t d = i;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
        if (i == d) return false;
    }
    return i == n;
}

static void json_string(ms_ctlproto_body_t *out, const char *s, size_t n) {
    ms_ctlproto_body_add(out, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            char esc[2] = {'\\', (char)c};
            ms_ctlproto_body_add(out, esc, 2);
        } else if (c == '\n') {
            ms_ctlproto_body_add(out, "\\n", 2);
        } else if (c == '\t') {
            ms_ctlproto_body_add(out, "\\t", 2);
        } else if (c < 0x20 || c == 0x7f) {
            ms_ctlproto_body_printf(out, "\\u%04x", c);
        } else {
            ms_ctlproto_body_add(out, (const char *)&s[i], 1);
        }
    }
    ms_ctlproto_body_add(out, "\"", 1);
}

static void json_value(ms_ctlproto_body_t *out, const char *s, size_t n) {
    if (n == 1 && s[0] == '-') { /* the body builder's placeholder for an empty cell */
        ms_ctlproto_body_add(out, "null", 4);
        return;
    }
    if (is_json_number(s, n) || (n == 4 && memcmp(s, "true", 4) == 0) ||
        (n == 5 && memcmp(s, "false", 5) == 0))
        ms_ctlproto_body_add(out, s, n);
    else
        json_string(out, s, n);
}

/* Walks the '\t'-separated cells of one line [p, end). */
typedef struct cells {
    const char *p;
    const char *end;
    bool done;
} cells_t;

static bool next_cell(cells_t *cs, const char **cell, size_t *n) {
    if (cs->done) return false;
    const char *tab = memchr(cs->p, '\t', (size_t)(cs->end - cs->p));
    const char *stop = tab != NULL ? tab : cs->end;
    *cell = cs->p;
    *n = (size_t)(stop - cs->p);
    if (tab != NULL)
        cs->p = tab + 1;
    else
        cs->done = true;
    return true;
}

static bool next_line(const char **p, const char *end, cells_t *line) {
    if (*p >= end) return false;
    const char *nl = memchr(*p, '\n', (size_t)(end - *p));
    line->p = *p;
    line->end = nl != NULL ? nl : end;
    line->done = false;
    *p = nl != NULL ? nl + 1 : end;
    return true;
}

int ms_ctlproto_to_json(ms_ctlproto_kind_t kind, const char *body, size_t len,
                        ms_ctlproto_body_t *out) {
    out->kind = MS_CTLPROTO_JSON;
    const char *p = body, *end = body + len;
    cells_t line;
    switch (kind) {
    case MS_CTLPROTO_JSON: ms_ctlproto_body_add(out, body, len); break;
    case MS_CTLPROTO_TEXT:
        if (len > 0 && body[len - 1] == '\n') len--;
        ms_ctlproto_body_add(out, "{\"text\": ", 9);
        json_string(out, body, len);
        ms_ctlproto_body_add(out, "}", 1);
        break;
    case MS_CTLPROTO_KV: {
        bool first = true;
        ms_ctlproto_body_add(out, "{", 1);
        while (next_line(&p, end, &line)) {
            const char *k, *v = "", *extra;
            size_t kn, vn = 0, en;
            next_cell(&line, &k, &kn);
            next_cell(&line, &v, &vn);
            if (next_cell(&line, &extra, &en)) return -EPROTO; /* a third cell */
            if (!first) ms_ctlproto_body_add(out, ", ", 2);
            first = false;
            json_string(out, k, kn);
            ms_ctlproto_body_add(out, ": ", 2);
            json_value(out, v, vn);
        }
        ms_ctlproto_body_add(out, "}", 1);
        break;
    }
    case MS_CTLPROTO_TABLE: {
        cells_t head;
        ms_ctlproto_body_add(out, "[", 1);
        if (!next_line(&p, end, &head)) {
            ms_ctlproto_body_add(out, "]", 1);
            break;
        }
        bool first_row = true;
        while (next_line(&p, end, &line)) {
            ms_ctlproto_body_add(out, first_row ? "{" : ",\n {", first_row ? 1 : 4);
            first_row = false;
            cells_t h = head;
            const char *hn, *cv;
            size_t hl, cl;
            bool first = true;
            while (next_cell(&line, &cv, &cl)) {
                if (!next_cell(&h, &hn, &hl)) return -EPROTO;
                if (!first) ms_ctlproto_body_add(out, ", ", 2);
                first = false;
                json_string(out, hn, hl);
                ms_ctlproto_body_add(out, ": ", 2);
                json_value(out, cv, cl);
            }
            ms_ctlproto_body_add(out, "}", 1);
        }
        ms_ctlproto_body_add(out, "]", 1);
        break;
    }
    }
    ms_ctlproto_body_add(out, "\n", 1);
    return out->overflow ? -ENOSPC : 0;
}

/* --- Framing --- */

int ms_ctlproto_ok_head(char *out, size_t cap, ms_ctlproto_kind_t kind, size_t nbytes) {
    int w = snprintf(out, cap, "OK %zu %s\n", nbytes, ms_ctlproto_kind_name(kind));
    return (w < 0 || (size_t)w >= cap) ? -ENOSPC : w;
}

int ms_ctlproto_err_head(char *out, size_t cap, const char *reason) {
    if (cap < 6) return -ENOSPC;
    size_t o = 0;
    memcpy(out, "ERR ", 4);
    o = 4;
    if (reason == NULL || *reason == '\0') reason = "error";
    size_t limit = cap - 1 < MS_CTLPROTO_MAX_REASON + 4 ? cap - 1 : MS_CTLPROTO_MAX_REASON + 4;
    for (const char *r = reason; *r != '\0' && o < limit; r++) {
        unsigned char c = (unsigned char)*r;
        out[o++] = (c < 0x20 || c == 0x7f) ? ' ' : (char)c;
    }
    out[o++] = '\n';
    return (int)o;
}

int ms_ctlproto_parse_head(const char *buf, size_t len, ms_ctlproto_reply_t *out,
                           size_t *head_len) {
    const char *nl = memchr(buf, '\n', len < MS_CTLPROTO_MAX_HEAD ? len : MS_CTLPROTO_MAX_HEAD);
    if (nl == NULL) return len >= MS_CTLPROTO_MAX_HEAD ? -EPROTO : 0;
    size_t n = (size_t)(nl - buf);
    memset(out, 0, sizeof(*out));
    *head_len = n + 1;
    if (n >= 4 && memcmp(buf, "ERR ", 4) == 0) {
        size_t r = n - 4;
        if (r >= sizeof(out->reason)) r = sizeof(out->reason) - 1;
        memcpy(out->reason, buf + 4, r);
        out->reason[r] = '\0';
        return 1;
    }
    if (n < 3 || memcmp(buf, "OK ", 3) != 0) return -EPROTO;
    const char *p = buf + 3, *end = buf + n;
    size_t v = 0;
    const char *d = p;
    while (p < end && *p >= '0' && *p <= '9') {
        if (v > MS_CTLPROTO_MAX_BODY) return -EPROTO;
        v = v * 10 + (size_t)(*p - '0');
        p++;
    }
    if (p == d || v > MS_CTLPROTO_MAX_BODY || p >= end || *p != ' ') return -EPROTO;
    p++;
    int kind = ms_ctlproto_kind_parse(p, (size_t)(end - p));
    if (kind < 0) return -EPROTO;
    out->ok = true;
    out->kind = (ms_ctlproto_kind_t)kind;
    out->body_len = v;
    return 1;
}

/* --- Where sockets live --- */

int ms_ctlproto_sock_dir(char *out, size_t cap) {
    const char *xdg = getenv("XDG_RUNTIME_DIR");
    int w;
    if (xdg != NULL && xdg[0] == '/')
        w = snprintf(out, cap, "%s/memshim", xdg);
    else
        w = snprintf(out, cap, "/tmp/memshim-%u", (unsigned)geteuid());
    return (w < 0 || (size_t)w >= cap) ? -ENAMETOOLONG : 0;
}

int ms_ctlproto_sock_path(const char *dir, pid_t pid, char *out, size_t cap) {
    struct sockaddr_un sun;
    int w = snprintf(out, cap, "%s/%d.sock", dir, (int)pid);
    if (w < 0 || (size_t)w >= cap || (size_t)w >= sizeof(sun.sun_path)) return -ENAMETOOLONG;
    return 0;
}

int ms_ctlproto_dir_prepare(const char *dir, bool create) {
    if (create && mkdir(dir, 0700) != 0 && errno != EEXIST) return -errno;
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return errno == ELOOP ? -ENOTDIR : -errno;
    struct stat st;
    int rc = 0;
    if (fstat(fd, &st) != 0) {
        rc = -errno;
    } else if (!S_ISDIR(st.st_mode)) {
        rc = -ENOTDIR;
    } else if (st.st_uid != geteuid()) {
        rc = -EPERM;
    } else if ((st.st_mode & 0777) != 0700 && fchmod(fd, 0700) != 0) {
        rc = -errno;
    }
    close(fd);
    return rc;
}

/* --- Control values as text --- */

int ms_ctlproto_parse_u64(const char *s, uint64_t *out, bool suffixes) {
    if (s == NULL || !isdigit((unsigned char)*s)) return -EINVAL;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0) return -EINVAL;
    uint64_t mul = 1;
    if (suffixes && *end != '\0') {
        switch (tolower((unsigned char)*end)) {
        case 'k': mul = 1ull << 10; break;
        case 'm': mul = 1ull << 20; break;
        case 'g': mul = 1ull << 30; break;
        default: return -EINVAL;
        }
        end++;
        if (tolower((unsigned char)*end) == 'b') end++;
    }
    if (*end != '\0') return -EINVAL;
    if (v != 0 && mul > UINT64_MAX / v) return -EINVAL;
    *out = (uint64_t)v * mul;
    return 0;
}

/* --- The frag table's arithmetic --- */

void ms_frag_row_compute(const ms_frag_bin_t *bin, ms_frag_row_t *row) {
    row->regions = bin->curslabs * (uint64_t)bin->nregs;
    row->used = bin->curregs < row->regions ? bin->curregs : row->regions;
    row->free_regs = row->regions - row->used;
    row->util = row->regions != 0 ? (double)row->used / (double)row->regions : 1.0;
    row->wasted = row->free_regs * (uint64_t)bin->reg_size;
}
