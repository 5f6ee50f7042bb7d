/* SPDX-License-Identifier: MIT */
/*
 * aof_load.c - reading append-only files back: the command parser, the manifest parser
 * and the replay of one file through a fake client.
 *
 * A file that starts with "REDIS" begins with an RDB snapshot (a Redis 7 base.rdb, or an
 * older single file's preamble): rdb_load.c reads it, commands may follow. A file is read
 * in 1 MB chunks; each complete command runs at once (MULTI ... EXEC are
 * queued and run at EXEC, as Redis's loader does through the client's MULTI state).
 * Lines starting with '#' are annotations (Redis's aof-timestamp-enabled) and skipped;
 * so are commands that are not writes (a file only holds writes and SELECT).
 * The end of the last file may be torn (the server died inside a write): with
 * aof-load-truncated yes the torn command, or an unfinished MULTI, is dropped, logged,
 * and the file truncated to its last complete command; anything else that is not the
 * format stops the load with the file and offset named. Design:
 * docs/kvcore.md#append-only-file.
 */
#include "kv_internal.h"
#include "aof.h"
#include "rdb.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CHUNK_BYTES (1u << 20)
#define MAX_ARGS    (1 << 20)

/* --- The command parser --- */

/* A "<prefix><digits>\r\n" line at buf[*pos]: 1 with *out, 0 incomplete, -1 malformed. */
static int parse_len_line(const char *buf, size_t len, size_t *pos, char prefix, long long *out) {
    size_t p = *pos;
    if (p >= len) return 0;
    if (buf[p] != prefix) return -1;
    const char *nl = memchr(buf + p, '\r', len - p);
    if (nl == NULL) return len - p > 24 ? -1 : 0;
    size_t digits = (size_t)(nl - buf) - p - 1;
    if ((size_t)(nl - buf) + 1 >= len) return 0;
    if (nl[1] != '\n' || digits == 0 || digits > 19) return -1;
    if (!kv_str2ll(buf + p + 1, digits, out) || *out < 0) return -1;
    *pos = (size_t)(nl - buf) + 2;
    return 1;
}

ssize_t kv_aof_parse_command(const char *buf, size_t len, kv_arg_t *argv, int max_args, int *argc,
                             const char **err) {
    size_t pos = 0;
    long long n;
    int rc = parse_len_line(buf, len, &pos, '*', &n);
    *argc = 0;
    if (rc <= 0) {
        *err = "expected '*<count>'";
        return rc == 0 ? 0 : -EPROTO;
    }
    if (n < 1 || n > MAX_ARGS) {
        *err = "bad argument count";
        return -EPROTO;
    }
    if (n > max_args) {
        *argc = (int)n;
        *err = "too many arguments";
        return -E2BIG;
    }
    for (long long i = 0; i < n; i++) {
        long long blen;
        rc = parse_len_line(buf, len, &pos, '$', &blen);
        if (rc <= 0) {
            *err = "expected '$<length>'";
            return rc == 0 ? 0 : -EPROTO;
        }
        if ((unsigned long long)blen + 2 > len - pos) return 0;
        if (buf[pos + (size_t)blen] != '\r' || buf[pos + (size_t)blen + 1] != '\n') {
            *err = "argument not followed by CRLF";
            return -EPROTO;
        }
        argv[i] = (kv_arg_t){buf + pos, (size_t)blen};
        pos += (size_t)blen + 2;
    }
    *argc = (int)n;
    return (ssize_t)pos;
}

/* --- The manifest --- */

void kv_aof_manifest_fini(kv_aof_manifest_t *m) {
    for (size_t i = 0; i < m->nfiles; i++)
        free(m->files[i].name);
    free(m->files);
    memset(m, 0, sizeof(*m));
}

int kv_aof_manifest_add(kv_aof_manifest_t *m, const char *name, long long seq, char type) {
    if (m->nfiles == m->cap) {
        size_t ncap = m->cap ? m->cap * 2 : 8;
        kv_aof_file_t *n = realloc(m->files, ncap * sizeof(*n));
        if (n == NULL) return -ENOMEM;
        m->files = n;
        m->cap = ncap;
    }
    char *copy = strdup(name);
    if (copy == NULL) return -ENOMEM;
    m->files[m->nfiles++] = (kv_aof_file_t){copy, seq, type};
    if (type == 'b' && seq > m->base_seq) m->base_seq = seq;
    if (type == 'i' && seq > m->incr_seq) m->incr_seq = seq;
    return 0;
}

const kv_aof_file_t *kv_aof_manifest_base(const kv_aof_manifest_t *m) {
    for (size_t i = 0; i < m->nfiles; i++)
        if (m->files[i].type == 'b') return &m->files[i];
    return NULL;
}

/* One line's key/value pairs into name, seq, type. 0 or -EPROTO. */
static int parse_manifest_line(const kv_arg_t *argv, int argc, char *name, size_t cap,
                               long long *seq, char *type, const char **err) {
    bool have_name = false, have_seq = false, have_type = false;
    if (argc % 2 != 0) {
        *err = "Invalid AOF manifest file format";
        return -EPROTO;
    }
    for (int i = 0; i < argc; i += 2) {
        const kv_arg_t *v = &argv[i + 1];
        if (kv_arg_is(&argv[i], "file")) {
            if (v->len == 0 || v->len >= cap || memchr(v->ptr, '/', v->len) != NULL) {
                *err = "Invalid AOF file name in the manifest";
                return -EPROTO;
            }
            memcpy(name, v->ptr, v->len);
            name[v->len] = '\0';
            have_name = true;
        } else if (kv_arg_is(&argv[i], "seq")) {
            if (!kv_str2ll(v->ptr, v->len, seq) || *seq <= 0) {
                *err = "Invalid AOF file sequence in the manifest";
                return -EPROTO;
            }
            have_seq = true;
        } else if (kv_arg_is(&argv[i], "type")) {
            if (v->len != 1 || (v->ptr[0] != 'b' && v->ptr[0] != 'h' && v->ptr[0] != 'i')) {
                *err = "Unknown AOF file type in the manifest";
                return -EPROTO;
            }
            *type = v->ptr[0];
            have_type = true;
        } /* other keys: ignored, as Redis does, for forward compatibility */
    }
    if (!have_name || !have_seq || !have_type) {
        *err = "Invalid AOF manifest file format";
        return -EPROTO;
    }
    return 0;
}

int kv_aof_manifest_parse(kv_aof_manifest_t *m, const char *text, size_t len, const char **err) {
    memset(m, 0, sizeof(*m));
    char *scratch = NULL, name[1024];
    size_t scap = 0;
    kv_arg_t argv[16];
    int rc = 0;
    long long last_incr = 0;
    for (size_t pos = 0; pos < len && rc == 0;) {
        const char *eol = memchr(text + pos, '\n', len - pos);
        size_t ll = eol ? (size_t)(eol - (text + pos)) : len - pos;
        const char *line = text + pos;
        pos += ll + 1;
        if (ll > 0 && line[ll - 1] == '\r') ll--;
        if (ll == 0 || line[0] == '#') continue;
        if (memchr(line, '\0', ll) != NULL) {
            *err = "Invalid AOF manifest file format";
            rc = -EPROTO;
            break;
        }
        int argc = kv_split_args(line, ll, &scratch, &scap, argv, 16);
        if (argc == -ENOMEM) {
            rc = -ENOMEM;
            break;
        }
        long long seq = 0;
        char type = 0;
        if (argc <= 0) {
            *err = "Invalid AOF manifest file format";
            rc = -EPROTO;
        } else {
            rc = parse_manifest_line(argv, argc, name, sizeof(name), &seq, &type, err);
        }
        if (rc == 0 && type == 'b' && kv_aof_manifest_base(m) != NULL) {
            *err = "Found duplicate base file information";
            rc = -EPROTO;
        }
        if (rc == 0 && type == 'i') {
            if (seq <= last_incr) {
                *err = "Found a non-monotonic sequence number";
                rc = -EPROTO;
            }
            last_incr = seq;
        }
        if (rc == 0) rc = kv_aof_manifest_add(m, name, seq, type);
    }
    free(scratch);
    if (rc == 0 && m->nfiles == 0) {
        *err = "Found an empty AOF manifest";
        rc = -EPROTO;
    }
    return rc;
}

static bool needs_quotes(const char *s) {
    for (; *s; s++)
        if (*s <= ' ' || *s == '"' || *s == '\'' || *s == '\\' || (unsigned char)*s >= 127)
            return true;
    return false;
}

/* Appends s as Redis's sdscatrepr would when it needs quoting. */
static size_t put_name(char *out, const char *s) {
    size_t o = 0;
    if (!needs_quotes(s)) {
        size_t n = strlen(s);
        memcpy(out, s, n);
        return n;
    }
    out[o++] = '"';
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\') {
            out[o++] = '\\';
            out[o++] = (char)ch;
        } else if (ch < ' ' || ch >= 127) {
            o += (size_t)sprintf(out + o, "\\x%02x", ch);
        } else {
            out[o++] = (char)ch;
        }
    }
    out[o++] = '"';
    return o;
}

char *kv_aof_manifest_format(const kv_aof_manifest_t *m, size_t *len) {
    size_t cap = 1;
    for (size_t i = 0; i < m->nfiles; i++)
        cap += strlen(m->files[i].name) * 4 + 64;
    char *out = malloc(cap);
    if (out == NULL) return NULL;
    size_t o = 0;
    /* Redis's order: the base, then history, then incremental files. */
    static const char order[] = "bhi";
    for (int k = 0; k < 3; k++) {
        for (size_t i = 0; i < m->nfiles; i++) {
            const kv_aof_file_t *f = &m->files[i];
            if (f->type != order[k]) continue;
            memcpy(out + o, "file ", 5);
            o += 5;
            o += put_name(out + o, f->name);
            o += (size_t)sprintf(out + o, " seq %lld type %c\n", f->seq, f->type);
        }
    }
    out[o] = '\0';
    *len = o;
    return out;
}

/* --- Replay --- */

typedef struct queued {
    int argc;
    kv_arg_t *argv; /* argv and the bytes in one allocation */
} queued_t;

typedef struct replay {
    kv_client_t *c;
    const char *path;
    queued_t *q;
    size_t nq, qcap;
    bool in_multi;
    off_t multi_off; /* where the unfinished MULTI began */
} replay_t;

static void queue_clear(replay_t *r) {
    for (size_t i = 0; i < r->nq; i++)
        free(r->q[i].argv);
    r->nq = 0;
}

static int queue_add(replay_t *r, const kv_arg_t *argv, int argc) {
    if (r->nq == r->qcap) {
        size_t ncap = r->qcap ? r->qcap * 2 : 16;
        queued_t *n = realloc(r->q, ncap * sizeof(*n));
        if (n == NULL) return -ENOMEM;
        r->q = n;
        r->qcap = ncap;
    }
    size_t bytes = (size_t)argc * sizeof(kv_arg_t);
    for (int i = 0; i < argc; i++)
        bytes += argv[i].len;
    kv_arg_t *copy = malloc(bytes ? bytes : 1);
    if (copy == NULL) return -ENOMEM;
    char *p = (char *)(copy + argc);
    for (int i = 0; i < argc; i++) {
        memcpy(p, argv[i].ptr, argv[i].len);
        copy[i] = (kv_arg_t){p, argv[i].len};
        p += argv[i].len;
    }
    r->q[r->nq++] = (queued_t){argc, copy};
    return 0;
}

/* Runs one command on the loading client; its reply is dropped. 0 or -EPROTO. */
static int run_command(replay_t *r, kv_arg_t *argv, int argc) {
    kv_client_t *c = r->c;
    kv_cmd_t *cmd = kv_cmd_lookup_argv(argv, argc);
    if (cmd == NULL) {
        kv_log(KV_LOG_WARNING, "Unknown command '%.*s' reading the append only file %s",
               (int)(argv[0].len > 64 ? 64 : argv[0].len), argv[0].ptr, r->path);
        return -EPROTO;
    }
    if (!(cmd->flags & KV_CMD_WRITE) && cmd->fn != kv_cmd_select) {
        /* Only writes change what a file rebuilds; anything else (reads, DEBUG, CONFIG,
         * SHUTDOWN, BGREWRITEAOF) has no business in one and is not run. */
        kv_log(KV_LOG_WARNING, "Skipping '%s' in the append only file %s: not a write command",
               cmd->fullname, r->path);
        return 0;
    }
    if ((cmd->arity > 0 && cmd->arity != argc) || argc < -cmd->arity) {
        kv_log(KV_LOG_WARNING, "Wrong number of arguments for '%s' reading the append only file %s",
               cmd->fullname, r->path);
        return -EPROTO;
    }
    c->argv = argv;
    c->argc = argc;
    c->cmd = c->lastcmd = cmd;
    cmd->fn(c);
    c->cmd = NULL;
    c->argv = NULL;
    c->argc = 0;
    kv_reply_free_blocks(c);
    c->bufpos = c->sentlen = 0;
    return 0;
}

/* One parsed command: MULTI/EXEC bookkeeping, then run or queue. */
static int replay_command(replay_t *r, kv_arg_t *argv, int argc, off_t off) {
    if (argc == 1 && kv_arg_is(&argv[0], "multi")) {
        if (r->in_multi) {
            kv_log(KV_LOG_WARNING, "Nested MULTI in the append only file %s", r->path);
            return -EPROTO;
        }
        r->in_multi = true;
        r->multi_off = off;
        return 0;
    }
    if (argc == 1 && kv_arg_is(&argv[0], "exec")) {
        if (!r->in_multi) {
            kv_log(KV_LOG_WARNING, "EXEC without MULTI in the append only file %s", r->path);
            return -EPROTO;
        }
        int rc = 0;
        for (size_t i = 0; i < r->nq && rc == 0; i++)
            rc = run_command(r, r->q[i].argv, r->q[i].argc);
        queue_clear(r);
        r->in_multi = false;
        return rc;
    }
    if (r->in_multi) {
        if (kv_cmd_lookup_argv(argv, argc) == NULL) return run_command(r, argv, argc);
        return queue_add(r, argv, argc);
    }
    return run_command(r, argv, argc);
}

/* The file's end was torn at valid (or an unfinished MULTI began there). */
static int handle_torn(const char *path, bool last, off_t valid, off_t size, bool multi) {
    if (!last || !kv_srv.cfg.aof_load_truncated) {
        kv_log(KV_LOG_WARNING,
               "Unexpected end of file reading the append only file %s (offset %lld). You can: "
               "1) Make a backup of your AOF file, then use ./redis-check-aof --fix "
               "<filename.manifest>. 2) Alternatively you can set the 'aof-load-truncated' "
               "configuration option to yes and restart the server.",
               path, (long long)valid);
        return -EPROTO;
    }
    if (multi)
        kv_log(KV_LOG_WARNING, "Revert incomplete MULTI/EXEC transaction in AOF file %s", path);
    kv_log(KV_LOG_WARNING, "!!! Warning: short read while loading the AOF file %s!!!", path);
    kv_log(KV_LOG_WARNING, "!!! Truncating the AOF %s at offset %lld (%lld bytes dropped) !!!",
           path, (long long)valid, (long long)(size - valid));
    if (truncate(path, valid) != 0) {
        kv_log(KV_LOG_WARNING, "Error truncating the AOF file %s: %s", path, strerror(errno));
        return -errno;
    }
    kv_log(KV_LOG_WARNING, "AOF %s loaded anyway because aof-load-truncated is enabled", path);
    return 0;
}

/* Reads the next chunk after the unparsed bytes [start, *len) moved to the front. */
static ssize_t refill(int fd, char **buf, size_t *cap, size_t *len, size_t start) {
    memmove(*buf, *buf + start, *len - start);
    *len -= start;
    if (*cap - *len < CHUNK_BYTES / 2) {
        char *n = realloc(*buf, *cap * 2);
        if (n == NULL) return -ENOMEM;
        *buf = n;
        *cap *= 2;
    }
    ssize_t n;
    do
        n = read(fd, *buf + *len, *cap - *len);
    while (n < 0 && errno == EINTR);
    if (n < 0) return -errno;
    *len += (size_t)n;
    return n;
}

static int replay_fd(replay_t *r, int fd, off_t start, bool last, off_t size, off_t *valid_len) {
    size_t cap = CHUNK_BYTES, len = 0, pos = 0;
    char *buf = malloc(cap);
    int argv_cap = 64;
    kv_arg_t *argv = malloc((size_t)argv_cap * sizeof(*argv));
    off_t base = start; /* file offset of buf[0] */
    int rc = 0;
    bool eof = false;
    if (buf == NULL || argv == NULL) rc = -ENOMEM;
    while (rc == 0) {
        if (pos == len && eof) break;
        const char *err = NULL;
        int argc = 0;
        ssize_t used = 0;
        if (pos < len && buf[pos] == '#') {
            const char *nl = memchr(buf + pos, '\n', len - pos);
            used = nl ? (nl - (buf + pos)) + 1 : 0;
        } else if (pos < len) {
            used = kv_aof_parse_command(buf + pos, len - pos, argv, argv_cap, &argc, &err);
        }
        if (used == -E2BIG) {
            kv_arg_t *n = realloc(argv, (size_t)argc * sizeof(*argv));
            if (n == NULL) {
                rc = -ENOMEM;
                break;
            }
            argv = n;
            argv_cap = argc;
            continue;
        }
        if (used < 0) {
            kv_log(KV_LOG_WARNING,
                   "Bad file format reading the append only file %s at offset %lld (%s): make a "
                   "backup of your AOF file, then use ./redis-check-aof --fix <filename.manifest>",
                   r->path, (long long)(base + (off_t)pos), err);
            rc = -EPROTO;
            break;
        }
        if (used == 0) {
            if (eof) {
                bool multi = r->in_multi;
                *valid_len = multi ? r->multi_off : base + (off_t)pos;
                rc = handle_torn(r->path, last, *valid_len, size, multi);
                if (rc == 0) rc = 1; /* truncated */
                break;
            }
            base += (off_t)pos;
            ssize_t n = refill(fd, &buf, &cap, &len, pos);
            pos = 0;
            if (n < 0) rc = (int)n;
            if (n == 0) eof = true;
            continue;
        }
        off_t off = base + (off_t)pos;
        pos += (size_t)used;
        if (argc > 0) rc = replay_command(r, argv, argc, off);
    }
    if (rc == 0 && r->in_multi) { /* a complete file ending inside MULTI */
        *valid_len = r->multi_off;
        rc = handle_torn(r->path, last, r->multi_off, size, true);
        if (rc == 0) rc = 1;
    }
    if (rc == 0) *valid_len = size;
    free(buf);
    free(argv);
    return rc < 0 ? rc : 0;
}

int kv_aof_load_file(const char *path, bool last, off_t *valid_len) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        kv_log(KV_LOG_WARNING, "Fatal error: can't open the append log file %s for reading: %s",
               path, strerror(e));
        return -e;
    }
    struct stat st;
    char magic[5];
    if (fstat(fd, &st) != 0) st.st_size = 0;
    *valid_len = st.st_size;
    bool was_loading = kv_srv.loading;
    kv_srv.loading = true;
    off_t start = 0;
    if (st.st_size >= 5 && pread(fd, magic, 5, 0) == 5 && memcmp(magic, "REDIS", 5) == 0) {
        kv_rdb_load_stats_t ls = {0};
        char err[512];
        kv_log(KV_LOG_NOTICE, "Reading RDB base file on AOF loading...");
        int rc = kv_rdb_load_fd(fd, KV_RDB_LOAD_AOF_PREAMBLE, &ls, err, sizeof(err));
        if (rc != 0) {
            kv_log(KV_LOG_WARNING, "Bad file format reading the append only file %s: %s", path,
                   err);
            kv_srv.loading = was_loading;
            close(fd);
            return rc == -ENOMEM ? rc : -EPROTO;
        }
        kv_log(KV_LOG_NOTICE, "Reading the remaining AOF tail...");
        start = (off_t)ls.bytes;
        if (lseek(fd, start, SEEK_SET) != start) {
            kv_srv.loading = was_loading;
            close(fd);
            return -EIO;
        }
    }
    replay_t r = {.path = path};
    r.c = kv_client_new(-1);
    if (r.c == NULL) {
        kv_srv.loading = was_loading;
        close(fd);
        return -ENOMEM;
    }
    int rc = replay_fd(&r, fd, start, last, st.st_size, valid_len);
    kv_srv.loading = was_loading;
    queue_clear(&r);
    free(r.q);
    kv_client_free(r.c);
    close(fd);
    return rc;
}
