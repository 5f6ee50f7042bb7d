/* SPDX-License-Identifier: MIT */
/*
 * memshim_serve.c - `memshim serve`: one HTTP agent per host for this user's processes
 * that run under the shim with a control socket (the ones `memshim ps` lists).
 *
 *   GET /metrics[?pid=N], /pid/N/metrics   Prometheus text format 0.0.4, one series per
 *                                          process and figure (labels pid, comm, exe)
 *   GET /targets                           Prometheus http_sd_configs JSON: one target
 *                                          per process (__param_pid, its own instance)
 *   GET /debug/pprof/heap?pid=N,           a fresh heap profile, gzipped pprof: dumped
 *       /pid/N/debug/pprof/heap            through the control socket into a private
 *                                          directory, converted with libheapprof, removed
 *
 * Every figure is asked for when a request comes (stats, frag, heap status on the
 * control socket, the same client code as `memshim ctl`), so the agent keeps nothing
 * that grows with time: a process that exits is gone from the next answer. One thread
 * per connection, at most MAX_CONNS at once (more get 503), one request per connection
 * (Connection: close), a request head of at most MSSERVE_MAX_HEAD bytes that must arrive
 * within HEAD_DEADLINE_MS, and every control-socket exchange bounded by --timeout (a
 * process that does not answer gets 504; the agent goes on).
 * Loopback only unless --listen names another address, which needs --token FILE: then
 * every request must carry "Authorization: Bearer <the file's first line>".
 */
#include "memshim_serve.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "ctlproto.h"
#include "heapprof.h"
#include "memshim_cli.h"

#define DEFAULT_LISTEN     "127.0.0.1:9278"
#define DEFAULT_TIMEOUT_MS 3000
#define MAX_CONNS          32
#define HEAD_DEADLINE_MS   10000
#define SEND_TIMEOUT_S     10
#define MAX_PROCS          4096
#define MAX_CLASSES        128

/* --- Small pieces: growable text, UTF-8, escaping --- */

typedef struct sbuf {
    char *p;
    size_t len, cap;
    bool oom;
} sbuf_t;

static void sb_add(sbuf_t *b, const char *s, size_t n) {
    if (b->oom) return;
    if (b->len + n + 1 > b->cap) {
        size_t ncap = b->cap ? b->cap : 4096;
        while (ncap < b->len + n + 1)
            ncap *= 2;
        char *np = realloc(b->p, ncap);
        if (np == NULL) {
            b->oom = true;
            return;
        }
        b->p = np;
        b->cap = ncap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

__attribute__((format(printf, 2, 3))) static void sb_printf(sbuf_t *b, const char *fmt, ...) {
    char tmp[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n < sizeof(tmp)) {
        sb_add(b, tmp, (size_t)n);
        return;
    }
    char *big = malloc((size_t)n + 1);
    if (big == NULL) {
        b->oom = true;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    sb_add(b, big, (size_t)n);
    free(big);
}

/* The length of the valid UTF-8 sequence at p (1..4), 0 when invalid. */
static size_t utf8_seq(const unsigned char *p) {
    unsigned c = p[0];
    if (c < 0x80) return 1;
    size_t n;
    unsigned min, cp;
    if (c >= 0xc2 && c <= 0xdf) {
        n = 2, min = 0x80, cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3, min = 0x800, cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4, min = 0x10000, cp = c & 0x07;
    } else {
        return 0;
    }
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80) return 0;
        cp = (cp << 6) | (p[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
    return n;
}

/* Escapes in for a label value (json false) or a JSON string (json true). */
static size_t escape(const char *in, char *out, size_t cap, bool json) {
    if (cap == 0) return 0;
    size_t o = 0;
    const unsigned char *p = (const unsigned char *)in;
    while (*p != '\0') {
        char tmp[8];
        size_t tn, adv = 1;
        size_t seq = utf8_seq(p);
        if (*p == '\\' || *p == '"') {
            tmp[0] = '\\', tmp[1] = (char)*p, tn = 2;
        } else if (*p == '\n') {
            tmp[0] = '\\', tmp[1] = 'n', tn = 2;
        } else if (json && *p < 0x20) {
            tn = (size_t)snprintf(tmp, sizeof(tmp), "\\u%04x", *p);
        } else if (*p < 0x20 || *p == 0x7f || seq == 0) {
            memcpy(tmp, "\xef\xbf\xbd", 3), tn = 3; /* U+FFFD */
        } else {
            memcpy(tmp, p, seq), tn = seq, adv = seq;
        }
        if (o + tn + 1 > cap) break;
        memcpy(out + o, tmp, tn);
        o += tn;
        p += adv;
    }
    out[o] = '\0';
    return o;
}

size_t msserve_label_escape(const char *in, char *out, size_t cap) {
    return escape(in, out, cap, false);
}

size_t msserve_json_escape(const char *in, char *out, size_t cap) {
    return escape(in, out, cap, true);
}

int msserve_parse_pid(const char *s, int *out) {
    if (*s < '1' || *s > '9') return -EINVAL;
    long v = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9') return -EINVAL;
        v = v * 10 + (*p - '0');
        if (v > 4194304) return -EINVAL;
    }
    *out = (int)v;
    return 0;
}

/* --- HTTP request head --- */

static int bad(char *why, size_t wlen, int status, const char *msg) {
    snprintf(why, wlen, "%s", msg);
    return -status;
}

static bool tchar(unsigned char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* The end of the line at p (its '\n'), or NULL within [p, end). */
static const char *line_end(const char *p, const char *end) {
    return memchr(p, '\n', (size_t)(end - p));
}

int msserve_parse_request(const char *buf, size_t len, msserve_req_t *req, size_t *head_len,
                          char *why, size_t wlen) {
    memset(req, 0, sizeof(*req));
    req->content_length = -1;
    why[0] = '\0';
    const char *p = buf, *end = buf + len;
    /* Leading empty lines are tolerated (RFC 9112 2.2). */
    while (p < end && (*p == '\r' || *p == '\n'))
        p++;
    const char *nl = line_end(p, end);
    if (nl == NULL) {
        if (len >= MSSERVE_MAX_HEAD)
            return bad(why, wlen, (size_t)(end - p) > MSSERVE_MAX_TARGET ? 414 : 431,
                       "request line too long");
        return 0;
    }
    /* Request line: METHOD SP TARGET SP HTTP/1.x */
    const char *le = nl > p && nl[-1] == '\r' ? nl - 1 : nl;
    const char *sp1 = memchr(p, ' ', (size_t)(le - p));
    if (sp1 == NULL || sp1 == p) return bad(why, wlen, 400, "malformed request line");
    const char *sp2 = memchr(sp1 + 1, ' ', (size_t)(le - sp1 - 1));
    if (sp2 == NULL) return bad(why, wlen, 400, "malformed request line");
    if ((size_t)(sp1 - p) >= sizeof(req->method))
        return bad(why, wlen, 400, "malformed request line");
    for (const char *q = p; q < sp1; q++)
        if (!tchar((unsigned char)*q)) return bad(why, wlen, 400, "malformed method");
    memcpy(req->method, p, (size_t)(sp1 - p));
    const char *t = sp1 + 1;
    size_t tlen = (size_t)(sp2 - t);
    if (tlen >= MSSERVE_MAX_TARGET) return bad(why, wlen, 414, "request target too long");
    if (tlen == 0 || *t != '/') return bad(why, wlen, 400, "the request target must start with /");
    for (size_t i = 0; i < tlen; i++)
        if ((unsigned char)t[i] <= ' ' || (unsigned char)t[i] >= 0x7f)
            return bad(why, wlen, 400, "control byte or space in the request target");
    const char *ver = sp2 + 1;
    size_t vlen = (size_t)(le - ver);
    if (vlen != 8 || memcmp(ver, "HTTP/", 5) != 0 || ver[6] != '.' || ver[5] < '0' ||
        ver[5] > '9' || ver[7] < '0' || ver[7] > '9')
        return bad(why, wlen, 400, "malformed HTTP version");
    if (ver[5] != '1') return bad(why, wlen, 505, "only HTTP/1.x is served");
    req->minor = ver[7] - '0';
    const char *qm = memchr(t, '?', tlen);
    size_t plen = qm != NULL ? (size_t)(qm - t) : tlen;
    memcpy(req->path, t, plen);
    if (qm != NULL) memcpy(req->query, qm + 1, tlen - plen - 1);

    /* Header fields until an empty line. */
    bool host_seen = false, cl_seen = false;
    int nheaders = 0;
    for (p = nl + 1;; p = nl + 1) {
        nl = line_end(p, end);
        if (nl == NULL) {
            if (len >= MSSERVE_MAX_HEAD) return bad(why, wlen, 431, "request header too large");
            return 0;
        }
        if ((size_t)(nl + 1 - buf) > MSSERVE_MAX_HEAD)
            return bad(why, wlen, 431, "request header too large");
        le = nl > p && nl[-1] == '\r' ? nl - 1 : nl;
        if (le == p) break; /* the empty line */
        if (++nheaders > MSSERVE_MAX_HEADERS)
            return bad(why, wlen, 431, "too many request header fields");
        if (*p == ' ' || *p == '\t') return bad(why, wlen, 400, "folded header line");
        const char *colon = memchr(p, ':', (size_t)(le - p));
        if (colon == NULL || colon == p) return bad(why, wlen, 400, "header line without a name");
        for (const char *q = p; q < colon; q++)
            if (!tchar((unsigned char)*q)) return bad(why, wlen, 400, "malformed header name");
        const char *v = colon + 1, *ve = le;
        while (v < ve && (*v == ' ' || *v == '\t'))
            v++;
        while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
            ve--;
        for (const char *q = v; q < ve; q++)
            if ((unsigned char)*q < 0x20 && *q != '\t')
                return bad(why, wlen, 400, "control byte in a header value");
        size_t nlen = (size_t)(colon - p), vl = (size_t)(ve - v);
        if (nlen == 4 && strncasecmp(p, "host", 4) == 0) {
            if (host_seen) return bad(why, wlen, 400, "more than one Host header");
            host_seen = true;
            if (vl >= sizeof(req->host)) return bad(why, wlen, 431, "Host header too long");
            memcpy(req->host, v, vl);
        } else if (nlen == 13 && strncasecmp(p, "authorization", 13) == 0) {
            if (vl >= sizeof(req->auth))
                return bad(why, wlen, 431, "Authorization header too long");
            memcpy(req->auth, v, vl);
        } else if (nlen == 14 && strncasecmp(p, "content-length", 14) == 0) {
            if (cl_seen) return bad(why, wlen, 400, "more than one Content-Length header");
            cl_seen = true;
            long long cl = 0;
            if (vl == 0 || vl > 15) return bad(why, wlen, 400, "malformed Content-Length");
            for (const char *q = v; q < ve; q++) {
                if (*q < '0' || *q > '9') return bad(why, wlen, 400, "malformed Content-Length");
                cl = cl * 10 + (*q - '0');
            }
            req->content_length = cl;
        } else if (nlen == 17 && strncasecmp(p, "transfer-encoding", 17) == 0) {
            req->chunked = true;
        }
    }
    if (req->minor >= 1 && !host_seen) return bad(why, wlen, 400, "HTTP/1.1 request without Host");
    *head_len = (size_t)(nl + 1 - buf);
    return 1;
}

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

int msserve_query_get(const char *query, const char *name, char *out, size_t len) {
    size_t nl = strlen(name);
    for (const char *p = query; *p != '\0';) {
        const char *amp = strchr(p, '&');
        const char *e = amp != NULL ? amp : p + strlen(p);
        const char *eq = memchr(p, '=', (size_t)(e - p));
        const char *ke = eq != NULL ? eq : e;
        if ((size_t)(ke - p) == nl && memcmp(p, name, nl) == 0) {
            size_t o = 0;
            for (const char *v = eq != NULL ? eq + 1 : e; v < e; v++) {
                char c = *v;
                if (c == '+') {
                    c = ' ';
                } else if (c == '%') {
                    if (e - v < 3 || hexval(v[1]) < 0 || hexval(v[2]) < 0) return -EINVAL;
                    c = (char)(hexval(v[1]) * 16 + hexval(v[2]));
                    if (c == '\0') return -EINVAL;
                    v += 2;
                }
                if (o + 1 >= len) return -ERANGE;
                out[o++] = c;
            }
            out[o] = '\0';
            return 1;
        }
        p = amp != NULL ? amp + 1 : e;
    }
    return 0;
}

/* --- Configuration and shared state (fixed size) --- */

static int g_timeout_ms = DEFAULT_TIMEOUT_MS;
static char g_token[256];
static bool g_token_set;
static char g_listen_name[128]; /* "127.0.0.1:9278", for /targets without a Host header */
static atomic_int g_conns;
static atomic_ullong g_scrape_errors, g_requests;
static pthread_mutex_t g_hp_lock = PTHREAD_MUTEX_INITIALIZER; /* one conversion at a time */
static volatile sig_atomic_t g_stop;

/* --- The processes and their figures --- */

typedef struct proc {
    int pid;
    char labels[1536]; /* pid="N",comm="...",exe="..." (escaped) */
    char comm[64];
    unsigned long long allocated, active, resident, mapped, retained, metadata, frag_bytes,
        injected, prof_active, dumps;
    double frag_ratio;
    bool have_heap;
    size_t nclasses;
    struct {
        unsigned long long size, wasted;
    } classes[MAX_CLASSES];
} proc_t;

static int int_cmp(const void *a, const void *b) {
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

/*
 * The pids with a control socket in this user's socket directory (sockets we own, named
 * "<pid>.sock", whose pid is alive and ours), sorted. Returns the count (at most max).
 */
static size_t list_pids(int *pids, size_t max) {
    char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
    if (ms_ctlproto_sock_dir(dir, sizeof(dir)) != 0) return 0;
    struct stat st;
    uid_t me = geteuid();
    if (lstat(dir, &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != me || (st.st_mode & 077))
        return 0;
    DIR *d = opendir(dir);
    if (d == NULL) return 0;
    size_t n = 0;
    struct dirent *de;
    while (n < max && (de = readdir(d)) != NULL) {
        char name[32];
        const char *dot = strchr(de->d_name, '.');
        int pid;
        if (dot == NULL || strcmp(dot, ".sock") != 0 || (size_t)(dot - de->d_name) >= sizeof(name))
            continue;
        memcpy(name, de->d_name, (size_t)(dot - de->d_name));
        name[dot - de->d_name] = '\0';
        if (msserve_parse_pid(name, &pid) != 0) continue;
        if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISSOCK(st.st_mode) ||
            st.st_uid != me)
            continue;
        uid_t uid;
        if (mscli_proc_euid(pid, &uid) != 0 || uid != me) continue;
        pids[n++] = pid;
    }
    closedir(d);
    qsort(pids, n, sizeof(*pids), int_cmp);
    return n;
}

static unsigned long long kv_u64(const char *body, const char *key) {
    char v[64];
    return mscli_kv_get(body, key, v, sizeof(v)) != NULL ? strtoull(v, NULL, 10) : 0;
}

/* One control request; 0 with *body (malloc'd) when the process answered OK. On failure
 * the HTTP status that fits and a message. */
static int ask(int pid, const char *line, char **body, int *status, char *err, size_t errlen) {
    ms_ctlproto_reply_t reply;
    int rc = mscli_ctl_request_pid(pid, line, g_timeout_ms, &reply, body, err, errlen);
    if (rc == 0 && reply.ok) return 0;
    if (rc == 0) {
        snprintf(err, errlen, "pid %d: %s", pid, reply.reason);
        free(*body);
        *body = NULL;
        *status = 502;
        return -EIO;
    }
    free(*body);
    *body = NULL;
    *status = rc == -ESRCH || rc == -ENOENT       ? 404
              : rc == -EPERM                      ? 403
              : rc == -ETIMEDOUT || rc == -EAGAIN ? 504
                                                  : 502;
    if (rc == -ETIMEDOUT || rc == -EAGAIN) {
        char tmp[512];
        snprintf(tmp, sizeof(tmp), "%s", err);
        snprintf(err, errlen, "pid %d did not answer within %d ms: %s", pid, g_timeout_ms, tmp);
    }
    return rc;
}

static void read_small(const char *path, char *out, size_t len) {
    out[0] = '\0';
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    ssize_t n = read(fd, out, len - 1);
    close(fd);
    if (n <= 0) return;
    out[n] = '\0';
    out[strcspn(out, "\n")] = '\0';
}

/* Fills *pr for pid. 0, or -errno with *status and err. */
static int collect(int pid, proc_t *pr, int *status, char *err, size_t errlen) {
    memset(pr, 0, offsetof(proc_t, classes));
    pr->pid = pid;
    char *body = NULL;
    int rc = ask(pid, "stats", &body, status, err, errlen);
    if (rc != 0) return rc;
    pr->allocated = kv_u64(body, "allocated");
    pr->active = kv_u64(body, "active");
    pr->resident = kv_u64(body, "resident");
    pr->mapped = kv_u64(body, "mapped");
    pr->retained = kv_u64(body, "retained");
    pr->metadata = kv_u64(body, "metadata");
    pr->frag_bytes = kv_u64(body, "frag_bytes");
    pr->injected = kv_u64(body, "fail_injected");
    char v[64];
    pr->frag_ratio = mscli_kv_get(body, "frag_ratio", v, sizeof(v)) ? strtod(v, NULL) : 0.0;
    free(body);

    if (ask(pid, "heap status", &body, status, err, errlen) == 0) {
        pr->have_heap = true;
        pr->prof_active = mscli_kv_get(body, "active", v, sizeof(v)) && strcmp(v, "true") == 0;
        pr->dumps = kv_u64(body, "dumps");
        free(body);
    }
    if (ask(pid, "frag", &body, status, err, errlen) == 0) {
        /* A table: header, then rows; columns "size" and "wasted" by name. */
        int csize = -1, cwaste = -1, col = 0;
        const char *p = body;
        const char *nl = strchr(p, '\n');
        for (const char *c = p; nl != NULL && c < nl; col++) {
            size_t w = strcspn(c, "\t\n");
            if (w == 4 && strncmp(c, "size", 4) == 0) csize = col;
            if (w == 6 && strncmp(c, "wasted", 6) == 0) cwaste = col;
            c += w;
            if (*c == '\t') c++;
        }
        for (p = nl != NULL ? nl + 1 : NULL;
             p != NULL && *p != '\0' && csize >= 0 && cwaste >= 0 && pr->nclasses < MAX_CLASSES;) {
            unsigned long long size = 0, wasted = 0;
            col = 0;
            const char *c = p;
            while (*c != '\0' && *c != '\n') {
                if (col == csize) size = strtoull(c, NULL, 10);
                if (col == cwaste) wasted = strtoull(c, NULL, 10);
                c += strcspn(c, "\t\n");
                if (*c == '\t') c++;
                col++;
            }
            pr->classes[pr->nclasses].size = size;
            pr->classes[pr->nclasses].wasted = wasted;
            pr->nclasses++;
            p = *c == '\n' ? c + 1 : NULL;
        }
        free(body);
    }

    char path[64], exe[PATH_MAX], ecomm[256], eexe[1024];
    snprintf(path, sizeof(path), "/proc/%d/comm", pid);
    read_small(path, pr->comm, sizeof(pr->comm));
    snprintf(path, sizeof(path), "/proc/%d/exe", pid);
    ssize_t n = readlink(path, exe, sizeof(exe) - 1);
    exe[n > 0 ? n : 0] = '\0';
    msserve_label_escape(pr->comm, ecomm, sizeof(ecomm));
    msserve_label_escape(exe, eexe, sizeof(eexe));
    snprintf(pr->labels, sizeof(pr->labels), "pid=\"%d\",comm=\"%s\",exe=\"%s\"", pid, ecomm, eexe);
    return 0;
}

/* --- Answers --- */

static const char *reason_phrase(int status) {
    switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return "Error";
    }
}

static void send_all(int fd, const char *p, size_t n) {
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return; /* the client is gone or too slow (SO_SNDTIMEO) */
        p += w;
        n -= (size_t)w;
    }
}

static void respond(int fd, int status, const char *ctype, const char *extra, const void *body,
                    size_t len) {
    char head[512];
    int n = snprintf(head, sizeof(head),
                     "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                     "Connection: close\r\nCache-Control: no-store\r\n%s\r\n",
                     status, reason_phrase(status), ctype, len, extra != NULL ? extra : "");
    send_all(fd, head, (size_t)n);
    send_all(fd, body, len);
}

__attribute__((format(printf, 3, 4))) static void respond_text(int fd, int status, const char *fmt,
                                                               ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(msg, sizeof(msg) - 1, fmt, ap);
    va_end(ap);
    if (n < 0) n = 0;
    if ((size_t)n > sizeof(msg) - 2) n = (int)sizeof(msg) - 2;
    msg[n++] = '\n';
    msg[n] = '\0';
    respond(fd, status, "text/plain; charset=utf-8",
            status == 405   ? "Allow: GET\r\n"
            : status == 401 ? "WWW-Authenticate: Bearer\r\n"
                            : NULL,
            msg, (size_t)n);
}

enum { F_U64, F_DBL };
#define PF(field) offsetof(proc_t, field)
static const struct family {
    const char *name, *type, *help;
    size_t off;
    int kind;
} families[] = {
    {"memshim_allocated_bytes", "gauge", "Bytes the application has allocated and not freed.",
     PF(allocated), F_U64},
    {"memshim_active_bytes", "gauge", "Bytes in active pages of the allocator.", PF(active), F_U64},
    {"memshim_resident_bytes", "gauge", "Bytes of the allocator's physically resident pages.",
     PF(resident), F_U64},
    {"memshim_mapped_bytes", "gauge", "Bytes in active extents mapped by the allocator.",
     PF(mapped), F_U64},
    {"memshim_retained_bytes", "gauge",
     "Bytes of virtual memory the allocator retains (unmapped from use, kept for reuse).",
     PF(retained), F_U64},
    {"memshim_metadata_bytes", "gauge", "Bytes the allocator uses for its own metadata.",
     PF(metadata), F_U64},
    {"memshim_fragmentation_ratio", "gauge",
     "Active bytes over allocated bytes (1 when nothing is allocated).", PF(frag_ratio), F_DBL},
    {"memshim_fragmentation_bytes", "gauge",
     "Active bytes minus allocated bytes: held in active pages, not allocated.", PF(frag_bytes),
     F_U64},
    {"memshim_injected_failures_total", "counter",
     "Allocation failures injected by memshim's failure injection.", PF(injected), F_U64},
    {"memshim_profiling_active", "gauge", "1 when heap profiling samples allocations, else 0.",
     PF(prof_active), F_U64},
    {"memshim_heap_dumps_total", "counter", "Heap profile dumps written by the process.", PF(dumps),
     F_U64},
};

static void write_metrics(sbuf_t *b, const proc_t *procs, size_t n, size_t errors) {
    for (size_t f = 0; f < sizeof(families) / sizeof(families[0]); f++) {
        const struct family *fm = &families[f];
        bool heap = fm->off == PF(prof_active) || fm->off == PF(dumps);
        sb_printf(b, "# HELP %s %s\n# TYPE %s %s\n", fm->name, fm->help, fm->name, fm->type);
        for (size_t i = 0; i < n; i++) {
            if (heap && !procs[i].have_heap) continue;
            const char *base = (const char *)&procs[i];
            if (fm->kind == F_U64)
                sb_printf(b, "%s{%s} %llu\n", fm->name, procs[i].labels,
                          *(const unsigned long long *)(base + fm->off));
            else
                sb_printf(b, "%s{%s} %.6g\n", fm->name, procs[i].labels,
                          *(const double *)(base + fm->off));
        }
    }
    sb_printf(b, "# HELP memshim_size_class_wasted_bytes Bytes of free regions in the slabs of "
                 "one small size class.\n# TYPE memshim_size_class_wasted_bytes gauge\n");
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < procs[i].nclasses; k++)
            sb_printf(b, "memshim_size_class_wasted_bytes{%s,size=\"%llu\"} %llu\n",
                      procs[i].labels, procs[i].classes[k].size, procs[i].classes[k].wasted);
    sb_printf(b,
              "# HELP memshim_serve_processes Processes with a control socket found by this "
              "scrape.\n# TYPE memshim_serve_processes gauge\nmemshim_serve_processes %zu\n"
              "# HELP memshim_serve_process_errors Processes that did not answer this scrape.\n"
              "# TYPE memshim_serve_process_errors gauge\nmemshim_serve_process_errors %zu\n"
              "# HELP memshim_serve_scrape_errors_total Processes that did not answer a scrape, "
              "since the agent started.\n# TYPE memshim_serve_scrape_errors_total counter\n"
              "memshim_serve_scrape_errors_total %llu\n"
              "# HELP memshim_serve_requests_total HTTP requests served.\n"
              "# TYPE memshim_serve_requests_total counter\nmemshim_serve_requests_total %llu\n",
              n + errors, errors, (unsigned long long)atomic_load(&g_scrape_errors),
              (unsigned long long)atomic_load(&g_requests));
}

static void serve_metrics(int fd, int only_pid) {
    int *pids = malloc(MAX_PROCS * sizeof(*pids));
    size_t n = pids != NULL ? list_pids(pids, MAX_PROCS) : 0;
    if (only_pid > 0) {
        bool found = false;
        for (size_t i = 0; i < n && !found; i++)
            found = pids[i] == only_pid;
        if (!found) {
            free(pids);
            respond_text(fd, 404, "no process %d with a control socket of this user", only_pid);
            return;
        }
        pids[0] = only_pid;
        n = 1;
    }
    proc_t *procs = malloc((n ? n : 1) * sizeof(*procs));
    if (pids == NULL || procs == NULL) {
        free(pids);
        free(procs);
        respond_text(fd, 500, "out of memory");
        return;
    }
    size_t ok = 0, errors = 0;
    for (size_t i = 0; i < n; i++) {
        int status;
        char err[512];
        int rc = collect(pids[i], &procs[ok], &status, err, sizeof(err));
        if (rc != 0 && only_pid > 0) { /* the one process asked for: say why */
            atomic_fetch_add(&g_scrape_errors, 1);
            free(pids);
            free(procs);
            respond_text(fd, status, "%s", err);
            return;
        }
        if (rc == 0)
            ok++;
        else if (rc != -ESRCH && rc != -ENOENT && rc != -ECONNREFUSED)
            errors++; /* a process that just exited is no error */
    }
    atomic_fetch_add(&g_scrape_errors, errors);
    sbuf_t b = {0};
    write_metrics(&b, procs, ok, errors);
    if (b.oom)
        respond_text(fd, 500, "out of memory");
    else
        respond(fd, 200, "text/plain; version=0.0.4; charset=utf-8", NULL, b.p, b.len);
    free(b.p);
    free(procs);
    free(pids);
}

/* A Host header fit to be echoed as a target address. */
static bool host_ok(const char *h) {
    if (*h == '\0') return false;
    for (const char *p = h; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
              strchr(".-:[]", *p) != NULL))
            return false;
    return true;
}

static void serve_targets(int fd, const msserve_req_t *req) {
    int *pids = malloc(MAX_PROCS * sizeof(*pids));
    if (pids == NULL) {
        respond_text(fd, 500, "out of memory");
        return;
    }
    size_t n = list_pids(pids, MAX_PROCS);
    const char *addr = host_ok(req->host) ? req->host : g_listen_name;
    sbuf_t b = {0};
    sb_add(&b, "[", 1);
    for (size_t i = 0; i < n; i++) {
        char path[64], comm[64], ecomm[256];
        snprintf(path, sizeof(path), "/proc/%d/comm", pids[i]);
        read_small(path, comm, sizeof(comm));
        msserve_json_escape(comm, ecomm, sizeof(ecomm));
        sb_printf(&b,
                  "%s\n  {\"targets\": [\"%s\"], \"labels\": {\"__param_pid\": \"%d\", "
                  "\"instance\": \"%s/pid/%d\", \"__meta_memshim_pid\": \"%d\", "
                  "\"__meta_memshim_comm\": \"%s\"}}",
                  i ? "," : "", addr, pids[i], addr, pids[i], pids[i], ecomm);
    }
    sb_add(&b, "\n]\n", 3);
    if (b.oom)
        respond_text(fd, 500, "out of memory");
    else
        respond(fd, 200, "application/json", NULL, b.p, b.len);
    free(b.p);
    free(pids);
}

static void serve_heap(int fd, int pid, const char *query) {
    char v[64];
    int q = msserve_query_get(query, "seconds", v, sizeof(v));
    if (q != 0) {
        respond_text(fd, 400,
                     "seconds=N (a delta heap profile) is not supported: take two profiles and "
                     "compare them (go tool pprof -diff_base, heapprof diff)");
        return;
    }
    q = msserve_query_get(query, "debug", v, sizeof(v));
    if (q < 0 || (q == 1 && strcmp(v, "0") != 0)) {
        respond_text(fd, 400,
                     "debug=N text output is not supported: the profile is pprof protobuf only "
                     "(read it with go tool pprof or heapprof)");
        return;
    }
    /* gc=1 is accepted and ignored: there is no collector to run. */
    uid_t uid;
    int rc = mscli_proc_euid(pid, &uid);
    if (rc == -ESRCH) {
        respond_text(fd, 404, "no process %d", pid);
        return;
    }
    if (rc == 0 && uid != geteuid()) {
        respond_text(fd, 403, "process %d belongs to another user", pid);
        return;
    }
    char *body = NULL, err[768];
    int status;
    if (ask(pid, "heap status", &body, &status, err, sizeof(err)) != 0) {
        respond_text(fd, status, "%s", err);
        return;
    }
    bool active = mscli_kv_get(body, "active", v, sizeof(v)) && strcmp(v, "true") == 0;
    bool avail = mscli_kv_get(body, "available", v, sizeof(v)) && strcmp(v, "true") == 0;
    free(body);
    if (!active) {
        if (avail)
            respond_text(fd, 409, "profiling is off in pid %d: run memshim ctl %d heap enable", pid,
                         pid);
        else
            respond_text(fd, 409,
                         "profiling is not available in pid %d: start it with memshim run "
                         "--prof (MEMSHIM_PROF=1)",
                         pid);
        return;
    }
    const char *tmpdir = getenv("TMPDIR");
    char dir[256], dump[320], line[400];
    if (tmpdir == NULL || tmpdir[0] != '/' || strpbrk(tmpdir, " \t\r\n") != NULL ||
        strlen(tmpdir) > 200)
        tmpdir = "/tmp";
    snprintf(dir, sizeof(dir), "%s/memshim-serve.XXXXXX", tmpdir);
    if (mkdtemp(dir) == NULL) {
        respond_text(fd, 500, "cannot create a private directory in %s: %s", tmpdir,
                     strerror(errno));
        return;
    }
    snprintf(dump, sizeof(dump), "%s/heap.%d.heap", dir, pid);
    snprintf(line, sizeof(line), "heap dump %s", dump);
    rc = ask(pid, line, &body, &status, err, sizeof(err));
    free(body);
    if (rc != 0) {
        unlink(dump);
        rmdir(dir);
        respond_text(fd, status, "%s", err);
        return;
    }
    uint8_t *pb = NULL;
    size_t pblen = 0;
    const char *what = "";
    pthread_mutex_lock(&g_hp_lock);
    hp_dump_t *d = hp_dump_new();
    hp_profile_t *prof = NULL;
    rc = d == NULL ? -ENOMEM : hp_dump_load(d, dump);
    if (rc != 0) what = d != NULL ? hp_dump_errstr(d) : "out of memory";
    if (rc == 0 && (rc = hp_profile_build(d, NULL, &prof)) != 0) what = "building the profile";
    if (rc == 0 && (rc = hp_pprof_encode(prof, &pb, &pblen)) != 0) what = "encoding pprof";
    hp_profile_free(prof);
    char detail[256];
    snprintf(detail, sizeof(detail), "%s", what);
    hp_dump_free(d);
    pthread_mutex_unlock(&g_hp_lock);
    unlink(dump);
    rmdir(dir);
    if (rc != 0)
        respond_text(fd, 500, "converting the dump of pid %d failed: %s (%s)", pid, detail,
                     strerror(-rc));
    else
        respond(fd, 200, "application/octet-stream",
                "Content-Disposition: attachment; filename=\"heap\"\r\n", pb, pblen);
    free(pb);
}

static const char index_text[] =
    "memshim serve: this user's processes under libmemshim with a control socket\n"
    "  /metrics                  Prometheus metrics of every process (?pid=N: one)\n"
    "  /pid/N/metrics            the same for process N\n"
    "  /targets                  Prometheus http_sd_configs target list (one per process)\n"
    "  /debug/pprof/heap?pid=N   a heap profile of process N, gzipped pprof\n"
    "  /pid/N/debug/pprof/heap   the same\n";

/* Constant-time comparison of the Authorization header with the token. */
static bool auth_ok(const char *auth) {
    if (!g_token_set) return true;
    if (strncasecmp(auth, "Bearer ", 7) != 0) return false;
    const char *t = auth + 7;
    size_t tl = strlen(t), gl = strlen(g_token);
    unsigned diff = (unsigned)(tl ^ gl);
    for (size_t i = 0; i < gl; i++)
        diff |= (unsigned)(unsigned char)g_token[i] ^ (unsigned)(unsigned char)(i < tl ? t[i] : 0);
    return diff == 0;
}

static void route(int fd, const msserve_req_t *req) {
    if (strcmp(req->method, "GET") != 0) {
        respond_text(fd, 405, "only GET is served");
        return;
    }
    if (req->content_length > 0 || req->chunked) {
        respond_text(fd, 413, "request bodies are not accepted");
        return;
    }
    if (!auth_ok(req->auth)) {
        respond_text(fd, 401, "a valid Authorization: Bearer token is required");
        return;
    }
    const char *path = req->path;
    int pid = 0;
    char v[64];
    if (strncmp(path, "/pid/", 5) == 0) {
        char num[16];
        const char *s = path + 5, *slash = strchr(s, '/');
        size_t nl = slash != NULL ? (size_t)(slash - s) : strlen(s);
        if (nl == 0 || nl >= sizeof(num)) {
            respond_text(fd, 400, "bad pid in the path");
            return;
        }
        memcpy(num, s, nl);
        num[nl] = '\0';
        if (msserve_parse_pid(num, &pid) != 0) {
            respond_text(fd, 400, "bad pid '%s' in the path", num);
            return;
        }
        path = s + nl;
        if (strcmp(path, "/metrics") != 0 && strcmp(path, "/debug/pprof/heap") != 0) {
            respond_text(fd, 404, "no such page: %s (see /)", req->path);
            return;
        }
    } else {
        int q = msserve_query_get(req->query, "pid", v, sizeof(v));
        if (q < 0 || (q == 1 && msserve_parse_pid(v, &pid) != 0)) {
            respond_text(fd, 400, "bad pid parameter (a positive decimal process id)");
            return;
        }
    }
    if (strcmp(path, "/metrics") == 0) {
        serve_metrics(fd, pid);
    } else if (strcmp(path, "/targets") == 0) {
        serve_targets(fd, req);
    } else if (strcmp(path, "/debug/pprof/heap") == 0) {
        if (pid == 0)
            respond_text(fd, 400, "which process? /debug/pprof/heap?pid=N (see /targets)");
        else
            serve_heap(fd, pid, req->query);
    } else if (strcmp(path, "/") == 0) {
        respond(fd, 200, "text/plain; charset=utf-8", NULL, index_text, sizeof(index_text) - 1);
    } else {
        respond_text(fd, 404, "no such page (see /)");
    }
}

static uint64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Reads and discards what the client still sends, for a bounded time, so the answer is
 * not lost to a reset when the socket closes with unread bytes. */
static void drain(int fd) {
    shutdown(fd, SHUT_WR);
    uint64_t deadline = now_ms() + 1000;
    char junk[4096];
    size_t total = 0;
    while (total < (1u << 20)) {
        uint64_t now = now_ms();
        if (now >= deadline) break;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, (int)(deadline - now)) <= 0) break;
        ssize_t n = recv(fd, junk, sizeof(junk), MSG_DONTWAIT);
        if (n <= 0) break;
        total += (size_t)n;
    }
}

static void handle_conn(int fd) {
    struct timeval tv = {.tv_sec = SEND_TIMEOUT_S};
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    char *buf = malloc(MSSERVE_MAX_HEAD);
    msserve_req_t *req = malloc(sizeof(*req));
    if (buf == NULL || req == NULL) {
        free(buf);
        free(req);
        return;
    }
    size_t have = 0, head_len = 0;
    char why[128];
    uint64_t deadline = now_ms() + HEAD_DEADLINE_MS;
    int rc = 0;
    for (;;) {
        rc = msserve_parse_request(buf, have, req, &head_len, why, sizeof(why));
        if (rc != 0) break;
        if (have == MSSERVE_MAX_HEAD) {
            rc = -431;
            snprintf(why, sizeof(why), "request header too large");
            break;
        }
        uint64_t now = now_ms();
        if (now >= deadline) {
            rc = -408;
            snprintf(why, sizeof(why), "the request did not arrive within %d s",
                     HEAD_DEADLINE_MS / 1000);
            break;
        }
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int pr = poll(&p, 1, (int)(deadline - now));
        if (pr < 0 && errno == EINTR) continue;
        if (pr <= 0) continue; /* the deadline check above ends it */
        ssize_t n = recv(fd, buf + have, MSSERVE_MAX_HEAD - have, MSG_DONTWAIT);
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
        if (n <= 0) {
            rc = -1; /* the client went away: nothing to answer */
            break;
        }
        have += (size_t)n;
    }
    atomic_fetch_add(&g_requests, 1);
    if (rc == 1)
        route(fd, req);
    else if (rc < -1)
        respond_text(fd, -rc, "%s", why);
    free(buf);
    free(req);
    if (rc != -1) drain(fd);
}

static void *conn_main(void *arg) {
    int fd = (int)(intptr_t)arg;
    handle_conn(fd);
    close(fd);
    atomic_fetch_sub(&g_conns, 1);
    return NULL;
}

/* --- Listening --- */

static void on_signal(int sig) {
    (void)sig;
    g_stop = 1;
}

static bool addr_is_loopback(const struct sockaddr *sa) {
    if (sa->sa_family == AF_INET)
        return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) == 127;
    if (sa->sa_family == AF_INET6) {
        const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
        if (IN6_IS_ADDR_LOOPBACK(a)) return true;
        return IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127;
    }
    return false;
}

/* Opens the TCP listener for "ADDR:PORT" / "[ADDR6]:PORT". Returns the fd or -1 (message
 * printed); *loopback says whether the address is a loopback one. */
static int listen_tcp(const char *spec, bool *loopback) {
    char host[128], port[16];
    const char *colon;
    if (spec[0] == '[') {
        const char *rb = strchr(spec, ']');
        if (rb == NULL || rb[1] != ':' || (size_t)(rb - spec - 1) >= sizeof(host)) goto usage;
        memcpy(host, spec + 1, (size_t)(rb - spec - 1));
        host[rb - spec - 1] = '\0';
        colon = rb + 1;
    } else {
        colon = strrchr(spec, ':');
        if (colon == NULL || (size_t)(colon - spec) >= sizeof(host)) goto usage;
        memcpy(host, spec, (size_t)(colon - spec));
        host[colon - spec] = '\0';
    }
    if (strlen(colon + 1) == 0 || strlen(colon + 1) >= sizeof(port) ||
        strspn(colon + 1, "0123456789") != strlen(colon + 1))
        goto usage;
    snprintf(port, sizeof(port), "%s", colon + 1);
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE},
                    *ai;
    int g = getaddrinfo(host[0] ? host : NULL, port, &hints, &ai);
    if (g != 0) {
        fprintf(stderr, "memshim serve: --listen %s: %s\n", spec, gai_strerror(g));
        return -1;
    }
    *loopback = addr_is_loopback(ai->ai_addr);
    if (!*loopback && !g_token_set) { /* refused before anything listens */
        freeaddrinfo(ai);
        return -2;
    }
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd >= 0) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (fd < 0 || bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, 64) != 0) {
        fprintf(stderr, "memshim serve: cannot listen on %s: %s\n", spec, strerror(errno));
        if (fd >= 0) close(fd);
        freeaddrinfo(ai);
        return -1;
    }
    freeaddrinfo(ai);
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    char h[INET6_ADDRSTRLEN] = "?";
    int p = 0;
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0) {
        if (ss.ss_family == AF_INET) {
            inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, h, sizeof(h));
            p = ntohs(((struct sockaddr_in *)&ss)->sin_port);
            snprintf(g_listen_name, sizeof(g_listen_name), "%s:%d", h, p);
        } else {
            inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, h, sizeof(h));
            p = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
            snprintf(g_listen_name, sizeof(g_listen_name), "[%s]:%d", h, p);
        }
    }
    return fd;
usage:
    fprintf(stderr, "memshim serve: --listen takes ADDR:PORT or [ADDR6]:PORT, not '%s'\n", spec);
    return -1;
}

static int listen_unix(const char *path) {
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof(sun.sun_path)) {
        fprintf(stderr, "memshim serve: --unix %s: path too long\n", path);
        return -1;
    }
    memcpy(sun.sun_path, path, strlen(path) + 1);
    struct stat st;
    if (lstat(path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode) || st.st_uid != geteuid()) {
            fprintf(stderr, "memshim serve: --unix %s: exists and is not a socket of ours\n", path);
            return -1;
        }
        unlink(path); /* a socket of ours left by an earlier agent */
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    mode_t old = umask(077);
    int rc = fd < 0 ? -1 : bind(fd, (struct sockaddr *)&sun, sizeof(sun));
    umask(old);
    if (rc != 0 || listen(fd, 64) != 0) {
        fprintf(stderr, "memshim serve: cannot listen on %s: %s\n", path, strerror(errno));
        if (fd >= 0) close(fd);
        return -1;
    }
    return fd;
}

static int read_token(const char *path) {
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        fprintf(stderr, "memshim serve: --token %s: %s\n", path, strerror(errno));
        if (fd >= 0) close(fd);
        return -1;
    }
    if (!S_ISREG(st.st_mode) || (st.st_mode & 077) != 0) {
        fprintf(stderr,
                "memshim serve: --token %s: must be a regular file only its owner can "
                "read (chmod 600)\n",
                path);
        close(fd);
        return -1;
    }
    ssize_t n = read(fd, g_token, sizeof(g_token) - 1);
    close(fd);
    g_token[n > 0 ? n : 0] = '\0';
    g_token[strcspn(g_token, "\r\n")] = '\0';
    size_t l = strlen(g_token);
    if (l < 16 || strpbrk(g_token, " \t") != NULL) {
        fprintf(stderr,
                "memshim serve: --token %s: the first line must be a token of 16 or "
                "more characters without spaces\n",
                path);
        return -1;
    }
    g_token_set = true;
    return 0;
}

static void serve_usage(FILE *f) {
    fprintf(f,
            "usage: memshim serve [--listen ADDR:PORT] [--unix PATH] [--token FILE] "
            "[--timeout MS]\n\n"
            "An HTTP agent for this user's processes with a control socket (memshim ps):\n"
            "%s\n"
            "  --listen ADDR:PORT  TCP address (default %s; port 0 picks one). An address\n"
            "                      other than loopback needs --token.\n"
            "  --unix PATH         also (or, without --listen, only) serve on a Unix socket\n"
            "  --token FILE        require 'Authorization: Bearer TOKEN', TOKEN the first line\n"
            "                      of FILE (mode 600, 16+ characters)\n"
            "  --timeout MS        deadline of each control-socket exchange (default %d)\n"
            "The first lines on stdout name the addresses listened on.\n",
            index_text, DEFAULT_LISTEN, DEFAULT_TIMEOUT_MS);
}

int mscli_serve_main(int argc, char **argv) {
    const char *listen_spec = NULL, *unix_path = NULL, *token = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            serve_usage(stdout);
            return 0;
        }
        if (strcmp(a, "--version") == 0) return mscli_print_version();
        const char **dst = strcmp(a, "--listen") == 0  ? &listen_spec
                           : strcmp(a, "--unix") == 0  ? &unix_path
                           : strcmp(a, "--token") == 0 ? &token
                                                       : NULL;
        bool is_timeout = strcmp(a, "--timeout") == 0;
        if (dst == NULL && !is_timeout) return mscli_usage_error("serve", "unknown option '%s'", a);
        if (i + 1 >= argc) return mscli_usage_error("serve", "option '%s' needs a value", a);
        if (is_timeout) {
            char *end;
            long v = strtol(argv[++i], &end, 10);
            if (*end != '\0' || v < 1 || v > 600000)
                return mscli_usage_error("serve", "--timeout takes 1..600000 ms");
            g_timeout_ms = (int)v;
        } else {
            *dst = argv[++i];
        }
    }
    if (token != NULL && read_token(token) != 0) return 2;
    int fds[2], nfds = 0;
    if (listen_spec != NULL || unix_path == NULL) {
        bool loopback = true;
        int fd = listen_tcp(listen_spec != NULL ? listen_spec : DEFAULT_LISTEN, &loopback);
        if (fd == -2)
            return mscli_usage_error("serve", "listening on %s (not loopback) needs --token FILE",
                                     listen_spec);
        if (fd < 0) return 1;
        fds[nfds++] = fd;
        printf("memshim serve: listening on http://%s/\n", g_listen_name);
    } else {
        snprintf(g_listen_name, sizeof(g_listen_name), "localhost");
    }
    if (unix_path != NULL) {
        int fd = listen_unix(unix_path);
        if (fd < 0) {
            if (nfds) close(fds[0]);
            return 1;
        }
        fds[nfds++] = fd;
        printf("memshim serve: listening on unix:%s\n", unix_path);
    }
    fflush(stdout);
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    while (!g_stop) {
        struct pollfd p[2];
        for (int k = 0; k < nfds; k++)
            p[k] = (struct pollfd){.fd = fds[k], .events = POLLIN};
        if (poll(p, (nfds_t)nfds, -1) < 0) continue; /* EINTR: a signal, g_stop is checked */
        for (int k = 0; k < nfds; k++) {
            if (!(p[k].revents & POLLIN)) continue;
            int c = accept4(fds[k], NULL, NULL, SOCK_CLOEXEC);
            if (c < 0) continue;
            if (atomic_fetch_add(&g_conns, 1) >= MAX_CONNS) {
                atomic_fetch_sub(&g_conns, 1);
                static const char busy[] = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: "
                                           "5\r\nConnection: close\r\n\r\nbusy\n";
                (void)!send(c, busy, sizeof(busy) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
                close(c);
                continue;
            }
            pthread_t t;
            if (pthread_create(&t, &attr, conn_main, (void *)(intptr_t)c) != 0) {
                atomic_fetch_sub(&g_conns, 1);
                close(c);
            }
        }
    }
    pthread_attr_destroy(&attr);
    if (unix_path != NULL) unlink(unix_path);
    return 0;
}
