/* SPDX-License-Identifier: MIT */
/*
 * fuzz_kv_resp.c - the RESP request parser (kv_req_parse in kvcore/resp.c), inline and
 * multibulk, on arbitrary client byte streams.
 * fuzz-sources: kvcore/resp.c kvcore/util.c
 *
 * Input: data[0] picks the read size of the chunked pass (1 + data[0] % 97 bytes) and
 * data[1] bit 0 the proto-max-bulk-len (64 bytes or 512 MB); the rest is what a client sent.
 * The stream is parsed twice, as net.c does: once whole, and once arriving in chunks into a
 * buffer that moves on every read (an incomplete multibulk command resumes from offsets).
 * Properties: the parser never reads outside the bytes it was given; every argument lies
 * inside the command it was parsed from (multibulk) or inside the parser's scratch
 * (inline); an incomplete command asks for more bytes than it has; an error is sticky and
 * carries a "Protocol error" text; and the chunked pass yields exactly the commands of the
 * whole pass - or, when it stopped on an oversized line, a prefix of them (a line that may
 * not grow past 64 KB without its newline is only refused while it is incomplete, as Redis).
 */
#include "fuzz_common.h"

#include "kv_internal.h"

#include <errno.h>
#include <string.h>

/* The parser links alone (resp.c, util.c): the reply writer is reply.c, not linked here. */

#define MAX_CMDS 8192

typedef struct pass {
    size_t ncmds;
    int err;                /* 0, or the parser's final error */
    bool too_big;           /* stopped on a line that grew past the inline limit */
    uint64_t cmd[MAX_CMDS]; /* a hash of each command's argc and argument bytes (last: the
                               reset before each pass stops here) */
} pass_t;

static pass_t whole, chunked;

static uint64_t fnv(uint64_t h, const void *p, size_t n) {
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 0x100000001b3ULL;
    return h;
}

/* Checks one parsed command of buf[0..used) and records it. */
static void record(pass_t *ps, const kv_req_t *r, const char *buf, size_t used) {
    FUZZ_CHECK(r->argc >= 0 && r->argc <= r->argv_cap);
    uint64_t h = fnv(0xcbf29ce484222325ULL, &r->argc, sizeof(r->argc));
    for (int i = 0; i < r->argc; i++) {
        const kv_arg_t *a = &r->argv[i];
        if (r->is_inline) {
            FUZZ_CHECK(a->ptr >= r->scratch && a->len <= r->scratch_cap &&
                       (size_t)(a->ptr - r->scratch) <= r->scratch_cap - a->len);
        } else {
            FUZZ_CHECK(a->ptr > buf && a->len < used &&
                       (size_t)(a->ptr - buf) <= used - a->len - 2); /* then CR LF (skipped) */
        }
        h = fnv(h, &a->len, sizeof(a->len));
        h = fnv(h, a->ptr, a->len);
    }
    if (ps->ncmds < MAX_CMDS) ps->cmd[ps->ncmds] = h;
    ps->ncmds++;
}

static void check_error(pass_t *ps, kv_req_t *r, ssize_t n, const char *buf, size_t len) {
    FUZZ_CHECK(n == -EPROTO || n == -ENOMEM);
    ps->err = (int)n;
    if (n != -EPROTO) return;
    FUZZ_CHECK(strncmp(r->errstr, "Protocol error", 14) == 0);
    ps->too_big = strstr(r->errstr, "too big") != NULL;
    FUZZ_CHECK(kv_req_parse(r, buf, len) == n); /* sticky */
}

/* Parses all of buf[0..len) from the start. */
static void parse_whole(const char *buf, size_t len, long long max_bulk) {
    kv_req_t r;
    kv_req_init(&r, max_bulk);
    memset(&whole, 0, offsetof(pass_t, cmd));
    size_t off = 0;
    while (whole.ncmds < MAX_CMDS) {
        ssize_t n = kv_req_parse(&r, buf + off, len - off);
        if (n > 0) {
            FUZZ_CHECK((size_t)n <= len - off);
            record(&whole, &r, buf + off, (size_t)n);
            off += (size_t)n;
        } else if (n == 0) {
            FUZZ_CHECK(r.argc == 0 && r.need > len - off);
            break;
        } else {
            check_error(&whole, &r, n, buf + off, len - off);
            break;
        }
    }
    kv_req_fini(&r);
}

/* Delivers data in reads of `step` bytes into a buffer that moves on every read. */
static void parse_chunked(const char *data, size_t len, size_t step, long long max_bulk) {
    kv_req_t r;
    kv_req_init(&r, max_bulk);
    memset(&chunked, 0, offsetof(pass_t, cmd));
    char *q = NULL; /* pending bytes: the unparsed rest, starting at a command */
    size_t qlen = 0, fed = 0;
    while (fed < len && chunked.ncmds < MAX_CMDS && chunked.err == 0) {
        size_t add = len - fed < step ? len - fed : step;
        char *nq = malloc(qlen + add); /* a new block: the old addresses die */
        if (nq == NULL) break;
        if (qlen > 0) memcpy(nq, q, qlen);
        memcpy(nq + qlen, data + fed, add);
        free(q);
        q = nq;
        qlen += add;
        fed += add;
        size_t off = 0;
        while (chunked.ncmds < MAX_CMDS) {
            ssize_t n = kv_req_parse(&r, q + off, qlen - off);
            if (n > 0) {
                FUZZ_CHECK((size_t)n <= qlen - off);
                record(&chunked, &r, q + off, (size_t)n);
                off += (size_t)n;
            } else if (n == 0) {
                FUZZ_CHECK(r.argc == 0 && r.need > qlen - off);
                break;
            } else {
                check_error(&chunked, &r, n, q + off, qlen - off);
                break;
            }
        }
        memmove(q, q + off, qlen - off);
        qlen -= off;
    }
    free(q);
    kv_req_fini(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 2) return 0;
    size_t step = 1 + data[0] % 97u;
    long long max_bulk = (data[1] & 1) ? 64 : 512LL * 1024 * 1024;
    size_t len = size - 2;
    char *buf = (char *)fuzz_dup(data + 2, len);
    if (buf == NULL) return 0;
    parse_whole(buf, len, max_bulk);
    parse_chunked(buf, len, step, max_bulk);
    free(buf);
    if (whole.err == -ENOMEM || chunked.err == -ENOMEM) return 0;

    size_t n = chunked.ncmds < MAX_CMDS ? chunked.ncmds : MAX_CMDS;
    FUZZ_CHECK(chunked.ncmds <= whole.ncmds);
    for (size_t i = 0; i < n; i++)
        FUZZ_CHECK(chunked.cmd[i] == whole.cmd[i]);
    if (chunked.err != 0 && chunked.too_big) return 0;
    if (whole.ncmds >= MAX_CMDS) return 0;
    FUZZ_CHECK(chunked.ncmds == whole.ncmds);
    FUZZ_CHECK(chunked.err == whole.err);
    return 0;
}
