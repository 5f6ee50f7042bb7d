/* SPDX-License-Identifier: MIT */
/*
 * ctlproto.h - the control socket's wire protocol, shared by the shim (server side,
 * shim/ctlsock.c + shim/ctlcmd.c) and the `memshim ctl` / `memshim ps` client.
 *
 * Everything declared here is pure: no jemalloc, no threads, no allocation, no stdio
 * streams, so the CLI links shim/ctlproto.c on its own (Makefile TOOL_MS_EXTRA).
 *
 * Requests are one line each: at most MS_CTLPROTO_MAX_LINE bytes including the '\n'
 * ("\r\n" is accepted), tokens separated by spaces or tabs, printable bytes only. A
 * token "--json" anywhere asks for a JSON body. Replies are framed so a client always
 * knows where one ends:
 *     OK <nbytes> <kind>\n<body of exactly nbytes bytes>
 *     ERR <reason>\n
 * kind is text (free text), kv (lines "key\tvalue"), table (a header line of column
 * names, then rows; cells separated by '\t') or json. kv and table cells never contain
 * tabs or newlines (the body builder replaces them).
 */
#ifndef MS_CTLPROTO_H
#define MS_CTLPROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define MS_CTLPROTO_MAX_LINE   4096 /* one request, '\n' included */
#define MS_CTLPROTO_MAX_TOKENS 16
#define MS_CTLPROTO_MAX_HEAD   320        /* one reply header line, '\n' included */
#define MS_CTLPROTO_MAX_BODY   (1u << 20) /* a client refuses a longer body */
#define MS_CTLPROTO_MAX_REASON 256

/* --- Requests --- */

/* A parsed request. tok[] points into buf; all of it is owned by the struct. */
typedef struct ms_ctlproto_req {
    int ntok;
    bool json; /* a "--json" token was given (it is not in tok[]) */
    const char *tok[MS_CTLPROTO_MAX_TOKENS];
    char buf[MS_CTLPROTO_MAX_LINE];
    char errstr[128]; /* why parsing failed, "" on success */
} ms_ctlproto_req_t;

/*
 * Splits one request line (without its '\n'; a trailing '\r' is dropped) into tokens.
 * Returns 0; -EPROTO for an empty line, a control byte or too many tokens;
 * -EMSGSIZE when len is MS_CTLPROTO_MAX_LINE or more. On error req->errstr says why.
 */
int ms_ctlproto_parse(ms_ctlproto_req_t *req, const char *line, size_t len);

/*
 * The commands of the control socket, the one list everything else is generated from:
 * the ids below, the command table of ctlproto.c (names, arity, usage, help: shared with
 * the CLI) and the handler table of ctlcmd.c. A row is
 *   X(ID, HANDLER, NAME, SUB, MIN_ARGS, MAX_ARGS, KIND, USAGE, HELP)
 * where ctlcmd.c must define cmd_<HANDLER> (a missing one does not compile) and KIND is
 * the MS_CTLPROTO_<KIND> body it fills. A new command is one row plus its handler.
 */
#define MS_CTLCMD_LIST(X)                                                                          \
    X(HEAP_ENABLE, heap_enable, "heap", "enable", 0, 0, KV, "heap enable",                         \
      "start sampling allocations (prof.active)")                                                  \
    X(HEAP_DISABLE, heap_disable, "heap", "disable", 0, 0, KV, "heap disable", "stop sampling")    \
    X(HEAP_STATUS, heap_status, "heap", "status", 0, 0, KV, "heap status",                         \
      "profiler state, sample rate, last dump")                                                    \
    X(HEAP_DUMP, heap_dump, "heap", "dump", 0, 1, KV, "heap dump [PATH]",                          \
      "write a heap profile (jeprof format); default name in the dump dir")                        \
    X(HEAP_RESET, heap_reset, "heap", "reset", 0, 1, KV, "heap reset [LG_SAMPLE]",                 \
      "discard samples; optionally sample every 2^LG_SAMPLE bytes")                                \
    X(STATS, stats, "stats", NULL, 0, 0, KV, "stats", "allocator counters")                        \
    X(FRAG, frag, "frag", NULL, 0, 0, TABLE, "frag", "per size-class slab utilisation")            \
    X(PURGE, purge, "purge", NULL, 0, 0, KV, "purge", "return unused dirty pages to the system")   \
    X(CONFIG, config, "config", NULL, 0, 0, TABLE, "config", "every control with its value")       \
    X(GET, get, "get", NULL, 1, 1, KV, "get NAME", "read one control")                             \
    X(SET, set, "set", NULL, 1, 2, KV, "set NAME [VALUE]",                                         \
      "write one control (VALUE is optional for actions)")                                         \
    X(HELP, help, "help", NULL, 0, 0, TEXT, "help", "this list")

#define MS_CTLCMD_ENUM_(id, fn, name, sub, min, max, kind, usage, help) MS_CTLCMD_##id,
typedef enum ms_ctlcmd_id { MS_CTLCMD_LIST(MS_CTLCMD_ENUM_) MS_CTLCMD_COUNT } ms_ctlcmd_id_t;
#undef MS_CTLCMD_ENUM_

/* One row of the command table: "name [sub] args...", with its arity after the words. */
typedef struct ms_ctlcmd {
    const char *name;
    const char *sub; /* NULL when the command has no subcommand */
    int min_args;
    int max_args;
    ms_ctlcmd_id_t id;
    const char *usage;
    const char *help;
} ms_ctlcmd_t;

/* The command table, in help order; *count receives its length. Static storage. */
const ms_ctlcmd_t *ms_ctlproto_commands(size_t *count);

/*
 * Finds the command a parsed request names (case-insensitive) and checks its arity.
 * On success *cmd is the row and *argi the index in req->tok of its first argument.
 * Returns 0; -ENOENT (unknown command or subcommand) or -EINVAL (wrong number of
 * arguments, missing subcommand), with a client-facing reason in err.
 */
int ms_ctlproto_match(const ms_ctlproto_req_t *req, const ms_ctlcmd_t **cmd, int *argi, char *err,
                      size_t errlen);

/*
 * Line assembly for a byte stream. The caller reads into ms_ctlproto_lbuf_space, then
 * commits what it read; take hands out whole lines. Once a line exceeds
 * MS_CTLPROTO_MAX_LINE the error is sticky: the stream cannot be resynchronised.
 */
typedef struct ms_ctlproto_lbuf {
    size_t len;  /* bytes held */
    size_t skip; /* bytes of the line last handed out, dropped by the next take */
    int err;     /* sticky: 0 or -EMSGSIZE */
    char data[MS_CTLPROTO_MAX_LINE];
} ms_ctlproto_lbuf_t;

void ms_ctlproto_lbuf_init(ms_ctlproto_lbuf_t *lb);
/* Where to read next, and how many bytes fit (0 when full). */
char *ms_ctlproto_lbuf_space(ms_ctlproto_lbuf_t *lb, size_t *avail);
void ms_ctlproto_lbuf_commit(ms_ctlproto_lbuf_t *lb, size_t n);
/*
 * Hands out the next whole line (without '\n'); *line stays valid until the next call.
 * With at_eof, unterminated bytes count as a last line. Returns 1 (a line), 0 (need
 * more bytes) or -EMSGSIZE (a line is too long; sticky).
 */
int ms_ctlproto_lbuf_take(ms_ctlproto_lbuf_t *lb, bool at_eof, const char **line, size_t *len);

/* --- Reply bodies --- */

typedef enum ms_ctlproto_kind {
    MS_CTLPROTO_TEXT,
    MS_CTLPROTO_KV,
    MS_CTLPROTO_TABLE,
    MS_CTLPROTO_JSON,
} ms_ctlproto_kind_t;

/* "text", "kv", "table", "json"; and back (-1 for an unknown name). */
const char *ms_ctlproto_kind_name(ms_ctlproto_kind_t kind);
int ms_ctlproto_kind_parse(const char *name, size_t len);

/*
 * Builds a body in caller-owned storage. Overflow is sticky: further appends do
 * nothing and `overflow` stays set, so a handler can append freely and check once.
 */
typedef struct ms_ctlproto_body {
    char *buf;
    size_t cap;
    size_t len;
    bool overflow;
    bool row_open; /* a cell was added since the last end of row */
    ms_ctlproto_kind_t kind;
} ms_ctlproto_body_t;

void ms_ctlproto_body_init(ms_ctlproto_body_t *b, char *buf, size_t cap, ms_ctlproto_kind_t kind);
/* Appends raw bytes / formatted text (text bodies). */
void ms_ctlproto_body_add(ms_ctlproto_body_t *b, const char *s, size_t n);
void ms_ctlproto_body_printf(ms_ctlproto_body_t *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Appends one cell of the current row; tabs, newlines and control bytes become ' '. */
void ms_ctlproto_body_cell(ms_ctlproto_body_t *b, const char *s);
void ms_ctlproto_body_cellf(ms_ctlproto_body_t *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void ms_ctlproto_body_endrow(ms_ctlproto_body_t *b);
/* One kv row: key, then the formatted value. */
void ms_ctlproto_body_kvf(ms_ctlproto_body_t *b, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * Converts a text, kv or table body to JSON into out (a json-kind body): text becomes
 * {"text": "..."}, kv an object, table an array of objects keyed by the header. Cells
 * that are JSON numbers or true/false stay bare, "-" (an empty cell) becomes null, and
 * everything else becomes a string.
 * Returns 0, -EPROTO (a table row has more cells than the header) or -ENOSPC.
 */
int ms_ctlproto_to_json(ms_ctlproto_kind_t kind, const char *body, size_t len,
                        ms_ctlproto_body_t *out);

/* --- Reply framing --- */

/* Writes "OK <nbytes> <kind>\n" into out. Returns its length, or -ENOSPC. */
int ms_ctlproto_ok_head(char *out, size_t cap, ms_ctlproto_kind_t kind, size_t nbytes);
/* Writes "ERR <reason>\n" (reason made single-line and shortened). Returns the length. */
int ms_ctlproto_err_head(char *out, size_t cap, const char *reason);

typedef struct ms_ctlproto_reply {
    bool ok;
    ms_ctlproto_kind_t kind;             /* OK only */
    size_t body_len;                     /* OK only */
    char reason[MS_CTLPROTO_MAX_REASON]; /* ERR only */
} ms_ctlproto_reply_t;

/*
 * Parses a reply header at the start of buf[0..len). Returns 1 with *head_len set
 * (the body, if any, follows); 0 when no complete line is there yet; -EPROTO when
 * it is not a valid header (or no '\n' within MS_CTLPROTO_MAX_HEAD bytes).
 */
int ms_ctlproto_parse_head(const char *buf, size_t len, ms_ctlproto_reply_t *out, size_t *head_len);

/* --- Where sockets live --- */

/*
 * The control-socket directory of this effective user: "$XDG_RUNTIME_DIR/memshim" when
 * XDG_RUNTIME_DIR is set to an absolute path, else "/tmp/memshim-<euid>".
 * Returns 0 or -ENAMETOOLONG.
 */
int ms_ctlproto_sock_dir(char *out, size_t cap);

/* "<dir>/<pid>.sock"; -ENAMETOOLONG when it does not fit a sockaddr_un. */
int ms_ctlproto_sock_path(const char *dir, pid_t pid, char *out, size_t cap);

/*
 * Makes sure dir is a private directory of this effective user: created with mode
 * 0700 when missing (and `create`), else it must be a real directory (not a symlink)
 * owned by the euid; a directory we own with another mode is set to 0700.
 * Returns 0; -EPERM (owned by someone else), -ENOTDIR, -ENOENT (missing and not
 * created) or the -errno of mkdir/open.
 */
int ms_ctlproto_dir_prepare(const char *dir, bool create);

/* --- The frag table's arithmetic --- */

/* One small size class as jemalloc reports it (stats.arenas.<i>.bins.<j>.*). */
typedef struct ms_frag_bin {
    size_t reg_size;        /* arenas.bin.<j>.size */
    uint32_t nregs;         /* arenas.bin.<j>.nregs: regions per slab */
    uint64_t curregs;       /* regions in use */
    uint64_t curslabs;      /* slabs */
    uint64_t nonfull_slabs; /* slabs with at least one free region */
} ms_frag_bin_t;

/* The derived columns of one row of `frag`. */
typedef struct ms_frag_row {
    uint64_t regions;   /* curslabs * nregs */
    uint64_t used;      /* curregs (capped at regions) */
    uint64_t free_regs; /* regions - used */
    double util;        /* used / regions; 1.0 for a bin with no slabs */
    uint64_t wasted;    /* free_regs * reg_size: bytes held in slabs but not in use */
} ms_frag_row_t;

void ms_frag_row_compute(const ms_frag_bin_t *bin, ms_frag_row_t *row);

/* --- Control values as text --- */

/*
 * Parses an unsigned decimal control value as MEMSHIM_CONF, the socket and `memshim run`
 * all accept it: digits first (no sign or space), and with suffixes an optional k, m or g
 * (binary, case-insensitive) and then an optional b. 0, or -EINVAL for anything else,
 * including NULL and a value past UINT64_MAX. May set errno.
 */
int ms_ctlproto_parse_u64(const char *s, uint64_t *out, bool suffixes);

#endif /* MS_CTLPROTO_H */
