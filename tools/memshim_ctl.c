/* SPDX-License-Identifier: MIT */
/*
 * memshim_ctl.c - `memshim ctl PID COMMAND...` and `memshim ps`: the client side of the
 * control socket (the wire protocol is shim/ctlproto.h, linked in here).
 *
 * ctl sends one request line and prints the framed reply: tables aligned for people by
 * default, the server's JSON with --json. Whatever the server sends is printed with
 * control bytes escaped (mscli_escape_dup), so a reply cannot drive the terminal. For
 * `ctl PID` the server must prove it is that process before it gets the request: the
 * socket's directory and file belong to the process's user, and SO_PEERCRED names the
 * process itself (the listener is a thread of it, so the peer pid is the PID).
 * ps walks this user's socket directory, asks each live process for `stats` (its server
 * proven by SO_PEERCRED to be the pid in the socket's name), and removes only sockets
 * that are provably stale: ours, in our private directory, refusing connections, and
 * named after a pid that is gone.
 */
#include "memshim_cli.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "ctlproto.h"

#define DEFAULT_TIMEOUT_MS 10000
#define PS_TIMEOUT_MS      2000

/* --- Request line --- */

static bool word_ok(const char *w) {
    if (*w == '\0') return false;
    for (const unsigned char *p = (const unsigned char *)w; *p; p++)
        if (*p <= ' ' || *p == 0x7f) return false;
    return true;
}

int mscli_ctl_build_line(int argc, char **argv, bool json, const char *cwd, char *out, size_t len,
                         char *err, size_t errlen) {
    if (argc < 1) {
        snprintf(err, errlen, "no command given (try 'help')");
        return -EINVAL;
    }
    size_t o = 0;
    bool dump = argc >= 2 && strcasecmp(argv[0], "heap") == 0 && strcasecmp(argv[1], "dump") == 0;
    for (int i = 0; i < argc; i++) {
        if (!word_ok(argv[i])) {
            snprintf(err, errlen, "argument %d ('%s') is empty or contains whitespace", i + 1,
                     argv[i]);
            return -EINVAL;
        }
        /* The host's cwd is not ours: a relative dump path is made absolute here. */
        const char *prefix = "", *sep = "";
        if (dump && i == 2 && argv[i][0] != '/' && cwd != NULL) {
            prefix = cwd;
            sep = "/";
        }
        int w = snprintf(out + o, len - o, "%s%s%s%s", o > 0 ? " " : "", prefix, sep, argv[i]);
        if (w < 0 || (size_t)w >= len - o) goto too_long;
        o += (size_t)w;
    }
    if (json) {
        int w = snprintf(out + o, len - o, " --json");
        if (w < 0 || (size_t)w >= len - o) goto too_long;
        o += (size_t)w;
    }
    if (o >= MS_CTLPROTO_MAX_LINE) goto too_long;
    return 0;
too_long:
    snprintf(err, errlen, "request longer than %d bytes", MS_CTLPROTO_MAX_LINE - 1);
    return -EMSGSIZE;
}

/* --- Escaping what the server sends --- */

/* Length of the valid UTF-8 sequence at p that encodes a printable code point (not C1,
 * not a surrogate, not overlong), or 0. */
static size_t utf8_printable(const unsigned char *p, size_t avail) {
    unsigned char c = p[0];
    size_t n;
    unsigned char lo = 0x80, hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) {
        n = 2;
        if (c == 0xc2) lo = 0xa0; /* U+0080..U+009F are the C1 controls */
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        if (c == 0xe0) lo = 0xa0;
        if (c == 0xed) hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        if (c == 0xf0) lo = 0x90;
        if (c == 0xf4) hi = 0x8f;
    } else {
        return 0;
    }
    if (avail < n || p[1] < lo || p[1] > hi) return 0;
    for (size_t k = 2; k < n; k++)
        if (p[k] < 0x80 || p[k] > 0xbf) return 0;
    return n;
}

char *mscli_escape_dup(const char *s, size_t len, size_t *out_len) {
    if (len > (SIZE_MAX - 1) / 4) return NULL;
    char *out = malloc(4 * len + 1);
    if (out == NULL) return NULL;
    const unsigned char *p = (const unsigned char *)s;
    size_t o = 0;
    for (size_t i = 0; i < len;) {
        unsigned char c = p[i];
        if (c == '\n' || c == '\t' || (c >= 0x20 && c < 0x7f)) {
            out[o++] = (char)c;
            i++;
            continue;
        }
        size_t n = c >= 0x80 ? utf8_printable(p + i, len - i) : 0;
        if (n > 0) {
            memcpy(out + o, p + i, n);
            o += n;
            i += n;
            continue;
        }
        static const char hex[] = "0123456789abcdef";
        out[o++] = '\\';
        out[o++] = 'x';
        out[o++] = hex[c >> 4];
        out[o++] = hex[c & 15];
        i++;
    }
    out[o] = '\0';
    if (out_len != NULL) *out_len = o;
    return out;
}

/* Prints s (from the server or another process) to f with control bytes escaped. */
static void fputs_escaped(const char *s, FILE *f) {
    char *e = mscli_escape_dup(s, strlen(s), NULL);
    fputs(e != NULL ? e : "?", f);
    free(e);
}

/* --- Rendering --- */

static bool is_number(const char *s) {
    if (*s == '-') s++;
    if (*s < '0' || *s > '9') return false;
    char *end;
    (void)strtod(s, &end);
    return *end == '\0';
}

#define MAX_COLS 16

/* Splits body (modified in place) into rows of cells; returns the number of rows. */
static size_t split_rows(char *body, char ***rows_out, size_t *ncols_out) {
    size_t nrows = 0, cap = 64, ncols = 0;
    char **cells = malloc(cap * MAX_COLS * sizeof(*cells));
    if (cells == NULL) return 0;
    char *p = body;
    while (*p != '\0') {
        char *nl = strchr(p, '\n');
        if (nl != NULL) *nl = '\0';
        if (nrows == cap) {
            cap *= 2;
            char **n = realloc(cells, cap * MAX_COLS * sizeof(*cells));
            if (n == NULL) break;
            cells = n;
        }
        size_t c = 0;
        char *cell = p;
        for (;;) {
            char *tab = strchr(cell, '\t');
            if (tab != NULL) *tab = '\0';
            if (c < MAX_COLS) cells[nrows * MAX_COLS + c++] = cell;
            if (tab == NULL) break;
            cell = tab + 1;
        }
        for (size_t k = c; k < MAX_COLS; k++)
            cells[nrows * MAX_COLS + k] = NULL;
        if (c > ncols) ncols = c;
        nrows++;
        if (nl == NULL) break;
        p = nl + 1;
    }
    *rows_out = cells;
    *ncols_out = ncols;
    return nrows;
}

static int render_columns(char *body, bool header, FILE *out) {
    char **cells = NULL;
    size_t ncols = 0;
    size_t nrows = split_rows(body, &cells, &ncols);
    if (cells == NULL) return -ENOMEM;
    size_t width[MAX_COLS] = {0};
    bool numeric[MAX_COLS];
    for (size_t c = 0; c < MAX_COLS; c++)
        numeric[c] = true;
    for (size_t r = 0; r < nrows; r++)
        for (size_t c = 0; c < ncols; c++) {
            const char *s = cells[r * MAX_COLS + c];
            if (s == NULL) continue;
            if (strlen(s) > width[c]) width[c] = strlen(s);
            if ((!header || r > 0) && !is_number(s) && strcmp(s, "-") != 0) numeric[c] = false;
        }
    for (size_t r = 0; r < nrows; r++) {
        for (size_t c = 0; c < ncols; c++) {
            const char *s = cells[r * MAX_COLS + c];
            if (s == NULL) s = "";
            bool last = c + 1 == ncols;
            bool right = numeric[c] && c > 0;
            if (right)
                fprintf(out, "%*s", (int)width[c], s);
            else if (last)
                fputs(s, out); /* no trailing blanks */
            else
                fprintf(out, "%-*s", (int)width[c], s);
            if (!last) fputs("  ", out);
        }
        fputc('\n', out);
    }
    free(cells);
    return ferror(out) ? -EIO : 0;
}

int mscli_ctl_render(int kind, const char *body, size_t len, FILE *out) {
    size_t elen;
    char *copy = mscli_escape_dup(body, len, &elen); /* keeps '\n' and '\t' */
    if (copy == NULL) return -ENOMEM;
    int rc;
    if (kind == MS_CTLPROTO_TEXT || kind == MS_CTLPROTO_JSON)
        rc = fwrite(copy, 1, elen, out) == elen ? 0 : -EIO;
    else
        rc = render_columns(copy, kind == MS_CTLPROTO_TABLE, out);
    free(copy);
    return rc;
}

/* --- Finding and talking to a socket --- */

/* A socket directory to trust: a directory (not a link) owned by uid, private to it.
 * 0, -ENOENT or -EPERM. */
static int check_dir(const char *dir, uid_t uid) {
    struct stat st;
    if (lstat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) return -ENOENT;
    if (st.st_uid != uid || (st.st_mode & 077) != 0) return -EPERM;
    return 0;
}

int mscli_proc_euid(pid_t pid, uid_t *out) {
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "re");
    if (f == NULL) return errno == ENOENT ? -ESRCH : -errno;
    int rc = -EPROTO;
    while (fgets(line, sizeof(line), f) != NULL) {
        unsigned long real, eff;
        if (strncmp(line, "Uid:", 4) != 0) continue;
        if (sscanf(line + 4, "%lu %lu", &real, &eff) == 2) {
            *out = (uid_t)eff;
            rc = 0;
        }
        break;
    }
    fclose(f);
    return rc;
}

#define ENVIRON_MAX (1u << 20)

int mscli_proc_getenv(pid_t pid, const char *name, char *out, size_t len) {
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/environ", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return errno == ENOENT ? -ESRCH : -errno;
    char *buf = malloc(ENVIRON_MAX + 1);
    if (buf == NULL) {
        close(fd);
        return -ENOMEM;
    }
    size_t have = 0;
    while (have < ENVIRON_MAX) {
        ssize_t n = read(fd, buf + have, ENVIRON_MAX - have);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        have += (size_t)n;
    }
    close(fd);
    buf[have] = '\0';
    size_t nl = strlen(name);
    int rc = -ENOENT;
    for (size_t i = 0; i < have; i += strlen(buf + i) + 1) {
        if (strncmp(buf + i, name, nl) != 0 || buf[i + nl] != '=') continue;
        const char *v = buf + i + nl + 1;
        rc = snprintf(out, len, "%s", v) < (int)len ? 0 : -ERANGE;
        break;
    }
    free(buf);
    return rc;
}

int mscli_ctl_check_socket(const char *path, uid_t uid, char *err, size_t errlen) {
    struct stat st;
    if (lstat(path, &st) != 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -errno;
    }
    if (!S_ISSOCK(st.st_mode)) {
        snprintf(err, errlen, "refusing %s: not a socket", path);
        return -EPERM;
    }
    if (st.st_uid != uid) {
        snprintf(err, errlen, "refusing %s: owned by uid %u, not by the process's uid %u", path,
                 (unsigned)st.st_uid, (unsigned)uid);
        return -EPERM;
    }
    return 0;
}

int mscli_ctl_check_peer(int fd, pid_t pid, uid_t uid, const char *path, char *err, size_t errlen) {
    struct ucred cred;
    socklen_t clen = sizeof(cred);
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) != 0 || clen != sizeof(cred)) {
        int e = errno != 0 ? errno : EPROTO;
        snprintf(err, errlen, "%s: cannot identify the server: %s", path, strerror(e));
        return -e;
    }
    if (cred.pid != pid || cred.uid != uid) {
        snprintf(err, errlen, "refusing %s: served by pid %d (uid %u), not by process %d (uid %u)",
                 path, (int)cred.pid, (unsigned)cred.uid, (int)pid, (unsigned)uid);
        return -EPERM;
    }
    return 0;
}

static uint64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/*
 * Connects to path within timeout_ms. A Unix-domain connect does not complete in the
 * background (a non-blocking one fails at once with EAGAIN while the listener's backlog is
 * full), so the wait is bounded with SO_SNDTIMEO, which the kernel's connect sleeps on
 * until the backlog has room: a listener that never accepts costs timeout_ms, not forever.
 * Returns the socket or -errno (-ETIMEDOUT when the backlog stayed full).
 */
static int connect_path(const char *path, int timeout_ms) {
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof(sun.sun_path)) return -ENAMETOOLONG;
    memcpy(sun.sun_path, path, strlen(path) + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -errno;
    struct timeval tv = {.tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000};
    int rc = 0;
    if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) != 0) rc = -errno;
    while (rc == 0 && connect(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
        if (errno == EINTR) continue; /* a signal cut the wait short: wait again */
        rc = errno == EAGAIN ? -ETIMEDOUT : -errno;
    }
    struct timeval none = {0};
    if (rc == 0 && setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &none, sizeof(none)) != 0) rc = -errno;
    if (rc != 0) {
        close(fd);
        return rc;
    }
    return fd;
}

/* Waits for fd to be ready for events before deadline. 0, -ETIMEDOUT or -errno. */
static int wait_fd(int fd, short events, uint64_t deadline) {
    for (;;) {
        uint64_t now = now_ms();
        if (now >= deadline) return -ETIMEDOUT;
        struct pollfd p = {.fd = fd, .events = events};
        int n = poll(&p, 1, (int)(deadline - now));
        if (n > 0) return 0;
        if (n < 0 && errno != EINTR) return -errno;
    }
}

/* One request and its whole reply on a connected fd. *body is malloc'd (NUL-terminated). */
static int exchange(int fd, const char *line, int timeout_ms, ms_ctlproto_reply_t *reply,
                    char **body, char *err, size_t errlen) {
    uint64_t deadline = now_ms() + (uint64_t)timeout_ms;
    size_t llen = strlen(line);
    char req[MS_CTLPROTO_MAX_LINE + 1];
    if (llen >= MS_CTLPROTO_MAX_LINE) {
        snprintf(err, errlen, "request too long");
        return -EMSGSIZE;
    }
    memcpy(req, line, llen);
    req[llen++] = '\n';
    for (size_t sent = 0; sent < llen;) {
        ssize_t n = send(fd, req + sent, llen - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) {
            sent += (size_t)n;
            continue;
        }
        if (n < 0 && errno != EAGAIN && errno != EINTR) {
            snprintf(err, errlen, "send: %s", strerror(errno));
            return -errno;
        }
        if (wait_fd(fd, POLLOUT, deadline) != 0) {
            snprintf(err, errlen, "timed out sending the request");
            return -ETIMEDOUT;
        }
    }
    char head[MS_CTLPROTO_MAX_HEAD];
    size_t have = 0, head_len = 0;
    char *buf = NULL;
    size_t want = 0, got = 0;
    int rc;
    for (;;) {
        if (buf == NULL) {
            rc = ms_ctlproto_parse_head(head, have, reply, &head_len);
            if (rc < 0) {
                snprintf(err, errlen, "malformed reply from the process");
                return -EPROTO;
            }
            if (rc == 1) {
                want = reply->ok ? reply->body_len : 0;
                buf = malloc(want + 1);
                if (buf == NULL) return -ENOMEM;
                got = have - head_len < want ? have - head_len : want;
                memcpy(buf, head + head_len, got);
            }
        }
        if (buf != NULL && got == want) break;
        if (wait_fd(fd, POLLIN, deadline) != 0) {
            snprintf(err, errlen, "timed out waiting for the reply (the process may be busy)");
            free(buf);
            return -ETIMEDOUT;
        }
        ssize_t n = buf == NULL ? recv(fd, head + have, sizeof(head) - have, MSG_DONTWAIT)
                                : recv(fd, buf + got, want - got, MSG_DONTWAIT);
        if (n == 0) {
            snprintf(err, errlen, "the process closed the connection");
            free(buf);
            return -ECONNRESET;
        }
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR) continue;
            snprintf(err, errlen, "recv: %s", strerror(errno));
            free(buf);
            return -errno;
        }
        if (buf == NULL)
            have += (size_t)n;
        else
            got += (size_t)n;
    }
    buf[want] = '\0';
    *body = buf;
    return 0;
}

static int ctl_request_fd(int fd, const char *path, const char *line, int timeout_ms,
                          ms_ctlproto_reply_t *reply, char **body, char *err, size_t errlen) {
    if (fd < 0) {
        snprintf(err, errlen, "cannot connect to %s: %s", path, strerror(-fd));
        return fd;
    }
    int rc = exchange(fd, line, timeout_ms, reply, body, err, errlen);
    close(fd);
    return rc;
}

/*
 * Connects to the control socket of process pid, proven to be served by it. Looks in
 * this user's directory, then (as root, or for a process of ours) in the process's own
 * $XDG_RUNTIME_DIR/memshim, /run/user/UID/memshim and /tmp/memshim-UID. A candidate is
 * used only when its directory and socket belong to the process's user and SO_PEERCRED
 * names pid and that user; otherwise the next is tried, and the first refusal is
 * reported. Returns the connected socket, or -errno with err set (-EPERM: only
 * impostors or unsafe paths were found).
 */
static int ctl_connect_pid(pid_t pid, int timeout_ms, char *path, size_t plen, char *err,
                           size_t errlen) {
    uid_t uid, me = geteuid();
    int rc = mscli_proc_euid(pid, &uid);
    if (rc != 0) {
        if (rc == -ESRCH)
            snprintf(err, errlen, "no process %d", (int)pid);
        else
            snprintf(err, errlen, "cannot read /proc/%d/status: %s", (int)pid, strerror(-rc));
        return rc;
    }
    enum { NDIRS = 4 };
    char dirs[NDIRS][sizeof(((struct sockaddr_un *)0)->sun_path)];
    uid_t owners[NDIRS];
    int n = 0;
    if (ms_ctlproto_sock_dir(dirs[0], sizeof(dirs[0])) != 0) {
        snprintf(err, errlen, "socket directory name too long");
        return -ENAMETOOLONG;
    }
    owners[n++] = me;
    if (check_dir(dirs[0], me) == -EPERM) {
        snprintf(err, errlen, "refusing %s: not a private directory owned by uid %u", dirs[0],
                 (unsigned)me);
        return -EPERM;
    }
    if (me == 0 || uid == me) {
        char xdg[sizeof(dirs[0])];
        if (mscli_proc_getenv(pid, "XDG_RUNTIME_DIR", xdg, sizeof(xdg)) == 0 && xdg[0] == '/' &&
            snprintf(dirs[n], sizeof(dirs[n]), "%s/memshim", xdg) < (int)sizeof(dirs[n]))
            owners[n++] = uid;
        snprintf(dirs[n], sizeof(dirs[n]), "/run/user/%u/memshim", (unsigned)uid);
        owners[n++] = uid;
        snprintf(dirs[n], sizeof(dirs[n]), "/tmp/memshim-%u", (unsigned)uid);
        owners[n++] = uid;
    }
    char why[512] = "", msg[512], cand[sizeof(dirs[0])];
    int first = 0;
    bool refused = false;
    for (int k = 0; k < n; k++) {
        struct stat st;
        if (check_dir(dirs[k], owners[k]) != 0) continue;
        if (ms_ctlproto_sock_path(dirs[k], pid, cand, sizeof(cand)) != 0) continue;
        if (lstat(cand, &st) != 0) continue;
        rc = mscli_ctl_check_socket(cand, uid, msg, sizeof(msg));
        if (rc == 0) {
            int fd = connect_path(cand, timeout_ms);
            if (fd == -ECONNREFUSED || fd == -ENOENT) {
                refused = true;
                continue;
            }
            if (fd >= 0) {
                rc = mscli_ctl_check_peer(fd, pid, uid, cand, msg, sizeof(msg));
                if (rc == 0) {
                    snprintf(path, plen, "%s", cand);
                    return fd;
                }
                close(fd);
            } else {
                rc = fd;
                snprintf(msg, sizeof(msg), "cannot connect to %s: %s", cand, strerror(-fd));
            }
        }
        if (first == 0) {
            first = rc;
            snprintf(why, sizeof(why), "%s", msg);
        }
    }
    if (first != 0) {
        snprintf(err, errlen, "%s", why);
        return first;
    }
    if (refused)
        snprintf(err, errlen, "process %d does not serve its control socket (connection refused)",
                 (int)pid);
    else
        snprintf(err, errlen,
                 "process %d has no control socket in %s (start it with MEMSHIM_CTL=1 or "
                 "`memshim run --ctl`)",
                 (int)pid, dirs[0]);
    return refused ? -ECONNREFUSED : -ENOENT;
}

int mscli_ctl_request_pid(pid_t pid, const char *line, int timeout_ms,
                          struct ms_ctlproto_reply *reply, char **body, char *err, size_t errlen) {
    char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
    *body = NULL;
    int fd = ctl_connect_pid(pid, timeout_ms, path, sizeof(path), err, errlen);
    if (fd < 0) return fd;
    return ctl_request_fd(fd, path, line, timeout_ms, reply, body, err, errlen);
}

/* --- memshim ctl --- */

static void ctl_usage(FILE *f) {
    fprintf(f, "usage: memshim ctl [--json] [--timeout MS] [--socket PATH] PID COMMAND [ARGS...]\n"
               "       memshim ctl --socket PATH COMMAND [ARGS...]\n\n"
               "Talks to a process started with MEMSHIM_CTL=1 (or `memshim run --ctl`).\n"
               "Commands:\n");
    size_t n;
    const ms_ctlcmd_t *cmds = ms_ctlproto_commands(&n);
    for (size_t i = 0; i < n; i++)
        fprintf(f, "  %-24s %s\n", cmds[i].usage, cmds[i].help);
    fprintf(f, "\nExit status: 0 OK, 1 the process answered ERR, 2 usage, 3 no connection.\n");
}

static int parse_pid(const char *s, pid_t *out) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || *s == '\0' || *end != '\0' || v <= 0 || v > INT32_MAX) return -EINVAL;
    *out = (pid_t)v;
    return 0;
}

int mscli_ctl_main(int argc, char **argv) {
    bool json = false;
    int timeout_ms = DEFAULT_TIMEOUT_MS;
    const char *socket_path = NULL;
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--") == 0) {
            i++;
            break;
        } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            ctl_usage(stdout);
            return 0;
        } else if (strcmp(a, "--version") == 0) {
            return mscli_print_version();
        } else if (strcmp(a, "--json") == 0) {
            json = true;
        } else if ((strcmp(a, "--timeout") == 0 || strcmp(a, "--socket") == 0) && i + 1 < argc) {
            if (a[2] == 's') {
                socket_path = argv[++i];
            } else {
                char *end;
                long v = strtol(argv[++i], &end, 10);
                if (*end != '\0' || v < 1 || v > 3600000)
                    return mscli_usage_error("ctl", "--timeout takes 1..3600000 ms");
                timeout_ms = (int)v;
            }
        } else if (strcmp(a, "--timeout") == 0 || strcmp(a, "--socket") == 0) {
            return mscli_usage_error("ctl", "option '%s' needs a value", a);
        } else {
            return mscli_usage_error("ctl", "unknown option '%s'", a);
        }
    }
    pid_t pid = 0;
    if (socket_path == NULL) {
        if (i >= argc || parse_pid(argv[i], &pid) != 0)
            return mscli_usage_error("ctl", "expected a PID%s%s", i < argc ? ", not " : "",
                                     i < argc ? argv[i] : "");
        i++;
    }
    char err[512], cwd[2048], line[MS_CTLPROTO_MAX_LINE + 16];
    if (mscli_ctl_build_line(argc - i, argv + i, json, getcwd(cwd, sizeof(cwd)), line, sizeof(line),
                             err, sizeof(err)) != 0)
        return mscli_usage_error("ctl", "%s", err);
    char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
    int fd;
    if (socket_path == NULL) {
        fd = ctl_connect_pid(pid, timeout_ms, path, sizeof(path), err, sizeof(err));
        if (fd < 0) {
            fprintf(stderr, "memshim ctl: %s\n", err);
            return 3;
        }
        socket_path = path;
    } else {
        fd = connect_path(socket_path, timeout_ms);
    }
    ms_ctlproto_reply_t reply;
    char *body = NULL;
    int rc = ctl_request_fd(fd, socket_path, line, timeout_ms, &reply, &body, err, sizeof(err));
    if (rc != 0) {
        fputs("memshim ctl: ", stderr);
        fputs_escaped(err, stderr);
        fputc('\n', stderr);
        return 3;
    }
    int status = 0;
    if (!reply.ok) {
        fputs("memshim ctl: ", stderr);
        fputs_escaped(reply.reason, stderr);
        fputc('\n', stderr);
        status = 1;
    } else if (mscli_ctl_render((int)reply.kind, body, reply.body_len, stdout) != 0 ||
               fflush(stdout) != 0) {
        status = 1;
    }
    free(body);
    return status;
}

/* --- memshim ps --- */

typedef struct ps_row {
    int pid;
    char cmdline[1024];
    unsigned long long allocated, resident;
    bool prof;
} ps_row_t;

/* The command line of pid, arguments separated by spaces, escaped for a terminal. */
static void read_cmdline(int pid, char *out, size_t len) {
    char path[64], raw[1024];
    snprintf(path, sizeof(path), "/proc/%d/cmdline", pid);
    out[0] = '\0';
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    ssize_t n = read(fd, raw, sizeof(raw));
    close(fd);
    if (n <= 0) return;
    while (n > 0 && raw[n - 1] == '\0')
        n--;
    for (ssize_t k = 0; k < n; k++)
        if (raw[k] == '\0') raw[k] = ' ';
    char *e = mscli_escape_dup(raw, (size_t)n, NULL);
    if (e != NULL) snprintf(out, len, "%s", e);
    free(e);
}

const char *mscli_kv_get(const char *body, const char *key, char *out, size_t len) {
    size_t kl = strlen(key);
    out[0] = '\0';
    for (const char *p = body; p != NULL && *p != '\0';) {
        const char *nl = strchr(p, '\n');
        if (strncmp(p, key, kl) == 0 && p[kl] == '\t') {
            const char *v = p + kl + 1;
            size_t vl = nl != NULL ? (size_t)(nl - v) : strlen(v);
            if (vl >= len) vl = len - 1;
            memcpy(out, v, vl);
            out[vl] = '\0';
            return out;
        }
        p = nl != NULL ? nl + 1 : NULL;
    }
    return NULL;
}

static void human(unsigned long long v, char *out, size_t len) {
    static const char units[] = "BKMGT";
    double d = (double)v;
    int u = 0;
    while (d >= 1024.0 && u < 4) {
        d /= 1024.0;
        u++;
    }
    if (u == 0)
        snprintf(out, len, "%lluB", v);
    else
        snprintf(out, len, "%.1f%c", d, units[u]);
}

static void json_str(FILE *f, const char *s) {
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

/* Gone, or a zombie nobody has reaped yet: either way nothing serves its socket. */
static bool pid_is_dead(pid_t pid) {
    if (kill(pid, 0) != 0 && errno == ESRCH) return true;
    char path[64], buf[256];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return errno == ENOENT;
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0) return false;
    buf[n] = '\0';
    const char *paren = strrchr(buf, ')'); /* the command name may contain anything */
    return paren != NULL && paren[1] == ' ' && (paren[2] == 'Z' || paren[2] == 'X');
}

static int pid_cmp(const void *a, const void *b) {
    const ps_row_t *x = a, *y = b;
    return (x->pid > y->pid) - (x->pid < y->pid);
}

int mscli_ps_main(int argc, char **argv) {
    bool json = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) {
            json = true;
        } else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            printf("usage: memshim ps [--json]\n\nLists this user's processes with a live "
                   "control socket, and removes this user's sockets whose process is gone.\n");
            return 0;
        } else if (strcmp(argv[i], "--version") == 0) {
            return mscli_print_version();
        } else {
            return mscli_usage_error("ps", "unknown argument '%s'", argv[i]);
        }
    }
    char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
    if (ms_ctlproto_sock_dir(dir, sizeof(dir)) != 0) {
        fprintf(stderr, "memshim ps: socket directory name too long\n");
        return 1;
    }
    size_t nrows = 0, cap = 16, stale = 0;
    ps_row_t *rows = malloc(cap * sizeof(*rows));
    if (rows == NULL) return 1;
    struct stat dst;
    uid_t me = geteuid();
    DIR *d = NULL;
    if (lstat(dir, &dst) == 0) {
        if (!S_ISDIR(dst.st_mode) || dst.st_uid != me || (dst.st_mode & 077) != 0) {
            fprintf(stderr, "memshim ps: refusing %s: not a private directory owned by uid %u\n",
                    dir, (unsigned)me);
            free(rows);
            return 1;
        }
        d = opendir(dir);
    }
    struct dirent *de;
    while (d != NULL && (de = readdir(d)) != NULL) {
        pid_t pid;
        char name[64];
        const char *dot = strchr(de->d_name, '.');
        if (dot == NULL || strcmp(dot, ".sock") != 0 || (size_t)(dot - de->d_name) >= sizeof(name))
            continue;
        memcpy(name, de->d_name, (size_t)(dot - de->d_name));
        name[dot - de->d_name] = '\0';
        if (parse_pid(name, &pid) != 0) continue;
        char path[sizeof(dir) + sizeof(de->d_name) + 2];
        snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
        struct stat st;
        if (lstat(path, &st) != 0 || !S_ISSOCK(st.st_mode)) continue;
        if (st.st_uid != me) { /* not ours to query or remove, even in our directory */
            fprintf(stderr, "memshim ps: skipping %s: owned by uid %u\n", path,
                    (unsigned)st.st_uid);
            continue;
        }
        int fd = connect_path(path, PS_TIMEOUT_MS);
        if (fd == -ECONNREFUSED) {
            /* Provably stale: nobody listens and the pid in its name is gone. A live pid
             * may be starting up, or have exec'd without the shim: leave its socket. The
             * inode is checked again so a socket a new process just bound is kept. */
            struct stat again;
            if (pid_is_dead(pid) && lstat(path, &again) == 0 && again.st_dev == st.st_dev &&
                again.st_ino == st.st_ino && unlink(path) == 0)
                stale++;
            continue;
        }
        if (fd == -ENOENT) continue; /* removed meanwhile */
        ms_ctlproto_reply_t reply;
        char *body = NULL, err[1024];
        /* A failed connect (fd < 0) is reported by ctl_request_fd. */
        int rc = fd < 0 ? 0 : mscli_ctl_check_peer(fd, pid, me, path, err, sizeof(err));
        if (rc != 0)
            close(fd);
        else
            rc = ctl_request_fd(fd, path, "stats", PS_TIMEOUT_MS, &reply, &body, err, sizeof(err));
        if (rc != 0 || !reply.ok) {
            fprintf(stderr, "memshim ps: pid %d: ", (int)pid);
            fputs_escaped(rc != 0 ? err : reply.reason, stderr);
            fputc('\n', stderr);
            free(body);
            continue;
        }
        if (nrows == cap) {
            ps_row_t *n = realloc(rows, 2 * cap * sizeof(*rows));
            if (n == NULL) {
                free(body);
                break;
            }
            rows = n;
            cap *= 2;
        }
        ps_row_t *r = &rows[nrows++];
        char v[64];
        r->pid = (int)pid;
        r->allocated = (mscli_kv_get(body, "allocated", v, sizeof(v)), strtoull(v, NULL, 10));
        r->resident = (mscli_kv_get(body, "resident", v, sizeof(v)), strtoull(v, NULL, 10));
        r->prof = mscli_kv_get(body, "prof_active", v, sizeof(v)) != NULL && strcmp(v, "true") == 0;
        read_cmdline(r->pid, r->cmdline, sizeof(r->cmdline));
        free(body);
    }
    if (d != NULL) closedir(d);
    qsort(rows, nrows, sizeof(*rows), pid_cmp);
    if (json) {
        printf("[");
        for (size_t k = 0; k < nrows; k++) {
            printf("%s{\"pid\": %d, \"allocated\": %llu, \"resident\": %llu, \"prof_active\": "
                   "%s, \"cmdline\": ",
                   k ? ",\n " : "", rows[k].pid, rows[k].allocated, rows[k].resident,
                   rows[k].prof ? "true" : "false");
            json_str(stdout, rows[k].cmdline);
            printf("}");
        }
        printf("]\n");
    } else {
        printf("%7s  %10s  %10s  %-4s  %s\n", "PID", "ALLOCATED", "RESIDENT", "PROF", "COMMAND");
        for (size_t k = 0; k < nrows; k++) {
            char a[16], r[16];
            human(rows[k].allocated, a, sizeof(a));
            human(rows[k].resident, r, sizeof(r));
            printf("%7d  %10s  %10s  %-4s  %.100s\n", rows[k].pid, a, r,
                   rows[k].prof ? "on" : "off", rows[k].cmdline);
        }
    }
    if (stale > 0) fprintf(stderr, "memshim ps: removed %zu stale socket(s) from %s\n", stale, dir);
    free(rows);
    return fflush(stdout) == 0 ? 0 : 1;
}
