/* SPDX-License-Identifier: MIT */
/*
 * memshim_serve.h - the pure parts of `memshim serve` (tools/memshim_serve.c) that unit
 * tests call: the HTTP request parser, query parameters and the escaping of Prometheus
 * label values and JSON strings.
 */
#ifndef MEMSHIM_SERVE_H
#define MEMSHIM_SERVE_H

#include <stdbool.h>
#include <stddef.h>

#define MSSERVE_MAX_HEAD    8192 /* request line + headers, the blank line included */
#define MSSERVE_MAX_TARGET  2048 /* the request target (path and query) */
#define MSSERVE_MAX_HEADERS 64

/* One parsed request head. Strings are NUL-terminated copies. */
typedef struct msserve_req {
    char method[16];
    char path[MSSERVE_MAX_TARGET];  /* the target up to '?' (not decoded) */
    char query[MSSERVE_MAX_TARGET]; /* after '?', "" when none */
    char host[256];                 /* the Host header, "" when absent */
    char auth[512];                 /* the Authorization header, "" when absent */
    long long content_length;       /* -1 when absent */
    bool chunked;                   /* a Transfer-Encoding header was given */
    int minor;                      /* HTTP/1.<minor> */
} msserve_req_t;

/*
 * Parses the request head at buf[0..len) (lines end in "\r\n" or "\n"). Returns 1 when
 * the head is complete (*head_len: its length, the blank line included), 0 when more
 * bytes are needed, or minus the HTTP status to answer with why set: -400 (malformed:
 * bad request line, header without ':', space before ':', folded or control bytes,
 * duplicate Host or Content-Length, a target not starting with '/'), -414 (target longer
 * than MSSERVE_MAX_TARGET), -431 (head of MSSERVE_MAX_HEAD bytes or more without its end,
 * a header value too long, or more than MSSERVE_MAX_HEADERS headers), -505 (not HTTP/1.x).
 */
int msserve_parse_request(const char *buf, size_t len, msserve_req_t *req, size_t *head_len,
                          char *why, size_t wlen);

/*
 * The value of parameter name in query ("a=1&b=2"), percent-decoded ('+' is a space),
 * into out. 1 found, 0 absent, -EINVAL (bad %-escape, a decoded NUL) or -ERANGE (out is
 * too small).
 */
int msserve_query_get(const char *query, const char *name, char *out, size_t len);

/*
 * A label value of the Prometheus text format 0.0.4: '\\' -> "\\\\", '"' -> "\\\"",
 * '\n' -> "\\n"; other control bytes and invalid UTF-8 become U+FFFD, so the output is
 * always valid UTF-8. Writes at most cap bytes (NUL included; never cuts an escape or a
 * character) and returns the length written.
 */
size_t msserve_label_escape(const char *in, char *out, size_t cap);

/* The same for a JSON string's contents (without the quotes): '"', '\\' and control
 * bytes escaped, invalid UTF-8 as U+FFFD. */
size_t msserve_json_escape(const char *in, char *out, size_t cap);

/* A pid as a query or path gives it: decimal 1..4194304, nothing else. 0 or -EINVAL. */
int msserve_parse_pid(const char *s, int *out);

#endif /* MEMSHIM_SERVE_H */
