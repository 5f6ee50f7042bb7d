/* SPDX-License-Identifier: MIT */
/*
 * memshim_ctl.c - `memshim ctl PID COMMAND...` and `memshim ps`: the client side of the
 * control socket (issue 4; the wire protocol is shim/ctlproto.h, linked in here).
 *
 * ctl sends one request line and prints the framed reply: tables aligned for people by
 * default, the server's JSON with --json. ps walks this user's socket directory, asks
 * each live process for `stats`, and removes sockets whose process is gone (a socket
 * is never trusted: the directory must be ours, and a refused connection to an old
 * socket means its owner is dead or no longer serving).
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
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "ctlproto.h"

#define DEFAULT_TIMEOUT_MS 10000
#define PS_TIMEOUT_MS      2000
#define STALE_AGE_S        5 /* a refused socket younger than this may be starting up */

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
    if (kind == MS_CTLPROTO_TEXT || kind == MS_CTLPROTO_JSON) {
        if (fwrite(body, 1, len, out) != len) return -EIO;
        return 0;
    }
    char *copy = malloc(len + 1);
    if (copy == NULL) return -ENOMEM;
    memcpy(copy, body, len);
    copy[len] = '\0';
    int rc = render_columns(copy, kind == MS_CTLPROTO_TABLE, out);
    free(copy);
    return rc;
}

/* --- Finding and talking to a socket --- */

/* Tries dir/<pid>.sock; dir must exist and be owned by uid. 0 or -ENOENT/-EPERM. */
static int try_dir(const char *dir, uid_t uid, pid_t pid, char *out, size_t len) {
    struct stat st;
    if (lstat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) return -ENOENT;
    if (st.st_uid != uid || (st.st_mode & 077) != 0) return -EPERM;
    if (ms_ctlproto_sock_path(dir, pid, out, len) != 0) return -ENOENT;
    return access(out, F_OK) == 0 ? 0 : -ENOENT;
}

static int ctl_socket_path(pid_t pid, char *out, size_t len, char *err, size_t errlen) {
    char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
    if (ms_ctlproto_sock_dir(dir, sizeof(dir)) != 0) {
        snprintf(err, errlen, "socket directory name too long");
        return -ENAMETOOLONG;
    }
    int rc = try_dir(dir, geteuid(), pid, out, len);
    if (rc == -EPERM) {
        snprintf(err, errlen, "refusing %s: not a private directory owned by uid %u", dir,
                 (unsigned)geteuid());
        return rc;
    }
    if (rc == 0) return 0;
    /* root may control another user's process: look in that user's directories. */
    char proc[32];
    struct stat st;
    snprintf(proc, sizeof(proc), "/proc/%d", (int)pid);
    if (geteuid() == 0 && stat(proc, &st) == 0 && st.st_uid != 0) {
        char other[sizeof(dir)];
        snprintf(other, sizeof(other), "/run/user/%u/memshim", (unsigned)st.st_uid);
        if (try_dir(other, st.st_uid, pid, out, len) == 0) return 0;
        snprintf(other, sizeof(other), "/tmp/memshim-%u", (unsigned)st.st_uid);
        if (try_dir(other, st.st_uid, pid, out, len) == 0) return 0;
    }
    if (kill(pid, 0) != 0 && errno == ESRCH)
        snprintf(err, errlen, "no process %d", (int)pid);
    else
        snprintf(err, errlen,
                 "process %d has no control socket in %s (start it with MEMSHIM_CTL=1 or "
                 "`memshim run --ctl`)",
                 (int)pid, dir);
    return -ENOENT;
}

static uint64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Connects to path. Returns the socket or -errno. */
static int connect_path(const char *path) {
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof(sun.sun_path)) return -ENAMETOOLONG;
    memcpy(sun.sun_path, path, strlen(path) + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -errno;
    if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
        int e = errno;
        close(fd);
        return -e;
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

static int ctl_request(const char *path, const char *line, int timeout_ms,
                       ms_ctlproto_reply_t *reply, char **body, char *err, size_t errlen) {
    int fd = connect_path(path);
    if (fd < 0) {
        snprintf(err, errlen, "cannot connect to %s: %s", path, strerror(-fd));
        return fd;
    }
    int rc = exchange(fd, line, timeout_ms, reply, body, err, errlen);
    close(fd);
    return rc;
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
        } else if (strcmp(a, "--json") == 0) {
            json = true;
        } else if ((strcmp(a, "--timeout") == 0 || strcmp(a, "--socket") == 0) && i + 1 < argc) {
            if (a[2] == 's') {
                socket_path = argv[++i];
            } else {
                char *end;
                long v = strtol(argv[++i], &end, 10);
                if (*end != '\0' || v < 1 || v > 3600000) {
                    fprintf(stderr, "memshim ctl: --timeout takes 1..3600000 ms\n");
                    return 2;
                }
                timeout_ms = (int)v;
            }
        } else {
            fprintf(stderr, "memshim ctl: unknown option '%s'\n", a);
            ctl_usage(stderr);
            return 2;
        }
    }
    pid_t pid = 0;
    if (socket_path == NULL) {
        if (i >= argc || parse_pid(argv[i], &pid) != 0) {
            fprintf(stderr, "memshim ctl: expected a PID%s%s\n", i < argc ? ", not " : "",
                    i < argc ? argv[i] : "");
            ctl_usage(stderr);
            return 2;
        }
        i++;
    }
    char err[512], cwd[2048], line[MS_CTLPROTO_MAX_LINE + 16];
    if (mscli_ctl_build_line(argc - i, argv + i, json, getcwd(cwd, sizeof(cwd)), line, sizeof(line),
                             err, sizeof(err)) != 0) {
        fprintf(stderr, "memshim ctl: %s\n", err);
        return 2;
    }
    char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
    if (socket_path == NULL) {
        if (ctl_socket_path(pid, path, sizeof(path), err, sizeof(err)) != 0) {
            fprintf(stderr, "memshim ctl: %s\n", err);
            return 3;
        }
        socket_path = path;
    }
    ms_ctlproto_reply_t reply;
    char *body = NULL;
    int rc = ctl_request(socket_path, line, timeout_ms, &reply, &body, err, sizeof(err));
    if (rc != 0) {
        fprintf(stderr, "memshim ctl: %s\n", err);
        return 3;
    }
    int status = 0;
    if (!reply.ok) {
        fprintf(stderr, "memshim ctl: %s\n", reply.reason);
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

static void read_cmdline(int pid, char *out, size_t len) {
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/cmdline", pid);
    out[0] = '\0';
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    ssize_t n = read(fd, out, len - 1);
    close(fd);
    if (n <= 0) return;
    while (n > 0 && out[n - 1] == '\0')
        n--;
    for (ssize_t k = 0; k < n; k++)
        if (out[k] == '\0' || (unsigned char)out[k] < ' ') out[k] = ' ';
    out[n] = '\0';
}

/* Reads the value of key from a kv body (0 when absent). */
static const char *kv_value(const char *body, const char *key, char *out, size_t len) {
    size_t kl = strlen(key);
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
    out[0] = '\0';
    return out;
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
                   "control socket, and removes sockets whose process is gone.\n");
            return 0;
        } else {
            fprintf(stderr, "memshim ps: unknown argument '%s'\n", argv[i]);
            return 2;
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
    DIR *d = NULL;
    if (lstat(dir, &dst) == 0) {
        if (!S_ISDIR(dst.st_mode) || dst.st_uid != geteuid() || (dst.st_mode & 077) != 0) {
            fprintf(stderr, "memshim ps: refusing %s: not a private directory owned by uid %u\n",
                    dir, (unsigned)geteuid());
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
        bool dead = pid_is_dead(pid);
        ms_ctlproto_reply_t reply;
        char *body = NULL, err[256];
        int rc = dead ? -ECONNREFUSED
                      : ctl_request(path, "stats", PS_TIMEOUT_MS, &reply, &body, err, sizeof(err));
        if (rc == -ECONNREFUSED || rc == -ENOENT) {
            /* Nobody listens: the process is gone, or exec'd into something without the
             * shim. A young socket may belong to a process still starting: leave it. */
            if (dead || time(NULL) - st.st_mtime >= STALE_AGE_S) {
                if (unlink(path) == 0) stale++;
            }
            continue;
        }
        if (rc != 0 || !reply.ok) {
            fprintf(stderr, "memshim ps: pid %d: %s\n", (int)pid, rc != 0 ? err : reply.reason);
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
        r->allocated = strtoull(kv_value(body, "allocated", v, sizeof(v)), NULL, 10);
        r->resident = strtoull(kv_value(body, "resident", v, sizeof(v)), NULL, 10);
        r->prof = strcmp(kv_value(body, "prof_active", v, sizeof(v)), "true") == 0;
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
