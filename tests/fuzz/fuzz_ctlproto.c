/* SPDX-License-Identifier: MIT */
/*
 * fuzz_ctlproto.c - the control socket's wire protocol (shim/ctlproto.c) on arbitrary bytes.
 * fuzz-sources: shim/ctlproto.c
 *
 * The first input byte picks what the rest feeds:
 *   0  a byte stream: line assembly (lbuf, in chunks of 1 + data[1] % 64 bytes), then every
 *      line through ms_ctlproto_parse and ms_ctlproto_match, as the control thread does;
 *   1  a reply header through ms_ctlproto_parse_head, as `memshim ctl` does;
 *   2  a text/kv/table body (kind data[1] % 3) through ms_ctlproto_to_json into a buffer of
 *      16 * data[2] bytes (0 = 64 KiB);
 *   3  framing round trips: an ERR head built from the bytes and an OK head built from a
 *      length read from them both parse back to what was written.
 * Properties: nothing reads or writes outside its buffers; parsed tokens are non-empty,
 * NUL-terminated and free of separators and control bytes; a matched command's argument
 * count is within its arity; a converted body that fits is well-formed JSON.
 */
#include "fuzz_common.h"

#include "ctlproto.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

/* --- A structural JSON checker (RFC 8259 grammar; bytes >= 0x80 are taken as is) --- */

typedef struct jcur {
    const char *p, *end;
    int depth;
} jcur_t;

static bool j_value(jcur_t *j);

static void j_ws(jcur_t *j) {
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\n' || *j->p == '\t' || *j->p == '\r'))
        j->p++;
}

static bool j_lit(jcur_t *j, const char *lit) {
    size_t n = strlen(lit);
    if ((size_t)(j->end - j->p) < n || memcmp(j->p, lit, n) != 0) return false;
    j->p += n;
    return true;
}

static bool j_digits(jcur_t *j) {
    const char *s = j->p;
    while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
        j->p++;
    return j->p > s;
}

static bool j_number(jcur_t *j) {
    if (j->p < j->end && *j->p == '-') j->p++;
    if (j->p < j->end && *j->p == '0') {
        j->p++;
    } else if (!j_digits(j)) {
        return false;
    }
    if (j->p < j->end && *j->p == '.') {
        j->p++;
        if (!j_digits(j)) return false;
    }
    if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
        j->p++;
        if (j->p < j->end && (*j->p == '+' || *j->p == '-')) j->p++;
        if (!j_digits(j)) return false;
    }
    return true;
}

static bool j_string(jcur_t *j) {
    if (j->p >= j->end || *j->p != '"') return false;
    j->p++;
    while (j->p < j->end) {
        unsigned char c = (unsigned char)*j->p++;
        if (c == '"') return true;
        if (c < 0x20) return false;
        if (c != '\\') continue;
        if (j->p >= j->end) return false;
        c = (unsigned char)*j->p++;
        if (c == 'u') {
            for (int i = 0; i < 4; i++, j->p++) {
                if (j->p >= j->end || strchr("0123456789abcdefABCDEF", *j->p) == NULL ||
                    *j->p == '\0')
                    return false;
            }
        } else if (strchr("\"\\/bfnrt", (char)c) == NULL || c == '\0') {
            return false;
        }
    }
    return false;
}

static bool j_members(jcur_t *j, char close, bool keyed) {
    j->p++; /* the opening bracket */
    j_ws(j);
    if (j->p < j->end && *j->p == close) {
        j->p++;
        return true;
    }
    for (;;) {
        j_ws(j);
        if (keyed) {
            if (!j_string(j)) return false;
            j_ws(j);
            if (j->p >= j->end || *j->p++ != ':') return false;
        }
        if (!j_value(j)) return false;
        j_ws(j);
        if (j->p >= j->end) return false;
        char c = *j->p++;
        if (c == close) return true;
        if (c != ',') return false;
    }
}

static bool j_value(jcur_t *j) {
    bool ok;
    j_ws(j);
    if (j->p >= j->end || ++j->depth > 64) return false;
    switch (*j->p) {
    case '{': ok = j_members(j, '}', true); break;
    case '[': ok = j_members(j, ']', false); break;
    case '"': ok = j_string(j); break;
    case 't': ok = j_lit(j, "true"); break;
    case 'f': ok = j_lit(j, "false"); break;
    case 'n': ok = j_lit(j, "null"); break;
    default: ok = j_number(j); break;
    }
    j->depth--;
    return ok;
}

static bool json_valid(const char *s, size_t n) {
    jcur_t j = {s, s + n, 0};
    if (!j_value(&j)) return false;
    j_ws(&j);
    return j.p == j.end;
}

/* --- Modes --- */

static void check_request(const char *line, size_t len) {
    static ms_ctlproto_req_t req; /* 4 KiB: not on the fuzzer's stack */
    int rc = ms_ctlproto_parse(&req, line, len);
    FUZZ_CHECK(memchr(req.errstr, '\0', sizeof(req.errstr)) != NULL);
    if (rc != 0) {
        FUZZ_CHECK(rc == -EPROTO || rc == -EMSGSIZE);
        FUZZ_CHECK(req.errstr[0] != '\0');
        return;
    }
    FUZZ_CHECK(req.ntok >= 1 && req.ntok <= MS_CTLPROTO_MAX_TOKENS);
    for (int i = 0; i < req.ntok; i++) {
        const char *t = req.tok[i];
        FUZZ_CHECK(t >= req.buf && t < req.buf + sizeof(req.buf));
        size_t tl = strnlen(t, (size_t)(req.buf + sizeof(req.buf) - t));
        FUZZ_CHECK(tl > 0 && t + tl < req.buf + sizeof(req.buf));
        FUZZ_CHECK(strcmp(t, "--json") != 0);
        for (size_t k = 0; k < tl; k++) {
            unsigned char c = (unsigned char)t[k];
            FUZZ_CHECK(c >= 0x20 && c != 0x7f && c != ' ');
        }
    }
    const ms_ctlcmd_t *cmd = NULL;
    int argi = -1;
    char err[MS_CTLPROTO_MAX_REASON];
    rc = ms_ctlproto_match(&req, &cmd, &argi, err, sizeof(err));
    FUZZ_CHECK(memchr(err, '\0', sizeof(err)) != NULL || rc == 0);
    if (rc != 0) {
        FUZZ_CHECK(rc == -ENOENT || rc == -EINVAL);
        return;
    }
    FUZZ_CHECK(cmd != NULL && argi >= 1 && argi <= req.ntok);
    int nargs = req.ntok - argi;
    FUZZ_CHECK(nargs >= cmd->min_args && nargs <= cmd->max_args);
}

static void mode_stream(const uint8_t *data, size_t size) {
    static ms_ctlproto_lbuf_t lb;
    size_t chunk = size > 0 ? 1 + data[0] % 64u : 1;
    if (size > 0) data++, size--;
    ms_ctlproto_lbuf_init(&lb);
    size_t off = 0;
    for (;;) {
        bool eof = off == size;
        const char *line;
        size_t len;
        int rc;
        while ((rc = ms_ctlproto_lbuf_take(&lb, eof, &line, &len)) == 1) {
            FUZZ_CHECK(len < MS_CTLPROTO_MAX_LINE);
            FUZZ_CHECK(memchr(line, '\n', len) == NULL);
            check_request(line, len);
        }
        if (rc < 0) {
            FUZZ_CHECK(rc == -EMSGSIZE);
            size_t avail;
            ms_ctlproto_lbuf_space(&lb, &avail);
            FUZZ_CHECK(avail == 0); /* sticky: the connection is done */
            return;
        }
        if (eof) return;
        size_t avail;
        char *dst = ms_ctlproto_lbuf_space(&lb, &avail);
        size_t n = size - off < chunk ? size - off : chunk;
        if (n > avail) n = avail;
        memcpy(dst, data + off, n);
        ms_ctlproto_lbuf_commit(&lb, n);
        off += n;
    }
}

static void mode_head(const uint8_t *data, size_t size) {
    ms_ctlproto_reply_t r;
    size_t head_len = 0;
    int rc = ms_ctlproto_parse_head((const char *)data, size, &r, &head_len);
    FUZZ_CHECK(rc == 1 || rc == 0 || rc == -EPROTO);
    if (rc != 1) return;
    FUZZ_CHECK(head_len >= 1 && head_len <= size && head_len <= MS_CTLPROTO_MAX_HEAD);
    FUZZ_CHECK(data[head_len - 1] == '\n');
    if (r.ok) {
        FUZZ_CHECK(r.body_len <= MS_CTLPROTO_MAX_BODY);
        FUZZ_CHECK((unsigned)r.kind <= MS_CTLPROTO_JSON);
    } else {
        FUZZ_CHECK(memchr(r.reason, '\0', sizeof(r.reason)) != NULL);
    }
}

static void mode_json(const uint8_t *data, size_t size) {
    if (size < 2) return;
    ms_ctlproto_kind_t kind = (ms_ctlproto_kind_t)(data[0] % 3u); /* text, kv, table */
    size_t cap = data[1] != 0 ? 16u * data[1] : 65536u;
    data += 2, size -= 2;
    char *out = malloc(cap);
    if (out == NULL) return;
    ms_ctlproto_body_t b;
    ms_ctlproto_body_init(&b, out, cap, MS_CTLPROTO_TEXT);
    int rc = ms_ctlproto_to_json(kind, (const char *)data, size, &b);
    FUZZ_CHECK(rc == 0 || rc == -EPROTO || rc == -ENOSPC);
    FUZZ_CHECK(b.len <= cap);
    FUZZ_CHECK(b.kind == MS_CTLPROTO_JSON);
    if (rc == 0) {
        FUZZ_CHECK(!b.overflow);
        FUZZ_CHECK(b.len > 0 && out[b.len - 1] == '\n');
        FUZZ_CHECK(json_valid(out, b.len));
    }
    free(out);
}

static void mode_frame(const uint8_t *data, size_t size) {
    char reason[MS_CTLPROTO_MAX_REASON * 2];
    size_t n = size < sizeof(reason) - 1 ? size : sizeof(reason) - 1;
    memcpy(reason, data, n);
    reason[n] = '\0';
    size_t cap = size > 0 ? 6 + data[0] % 300u : 6;
    char head[320];
    int w = ms_ctlproto_err_head(head, cap, reason);
    FUZZ_CHECK(w >= 5 && (size_t)w <= cap);
    FUZZ_CHECK(memchr(head, '\n', (size_t)w) == head + w - 1);
    ms_ctlproto_reply_t r;
    size_t head_len;
    FUZZ_CHECK(ms_ctlproto_parse_head(head, (size_t)w, &r, &head_len) == 1);
    FUZZ_CHECK(!r.ok && head_len == (size_t)w);

    size_t body = 0;
    for (size_t i = 0; i < size && i < 3; i++)
        body = body << 8 | data[i];
    body %= MS_CTLPROTO_MAX_BODY + 1;
    ms_ctlproto_kind_t kind = (ms_ctlproto_kind_t)(size > 3 ? data[3] % 4u : 0);
    w = ms_ctlproto_ok_head(head, sizeof(head), kind, body);
    FUZZ_CHECK(w > 0);
    FUZZ_CHECK(ms_ctlproto_parse_head(head, (size_t)w, &r, &head_len) == 1);
    FUZZ_CHECK(r.ok && r.kind == kind && r.body_len == body && head_len == (size_t)w);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0) return 0;
    uint8_t *rest = fuzz_dup(data + 1, size - 1);
    if (rest == NULL) return 0;
    switch (data[0] % 4u) {
    case 0: mode_stream(rest, size - 1); break;
    case 1: mode_head(rest, size - 1); break;
    case 2: mode_json(rest, size - 1); break;
    default: mode_frame(rest, size - 1); break;
    }
    free(rest);
    return 0;
}
