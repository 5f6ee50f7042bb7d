/* SPDX-License-Identifier: MIT */
/*
 * monitor.c - MONITOR: every command run by any client, shown to the monitoring clients
 * as Redis 7.0 shows it, one status line per command after it ran:
 *     +<unix seconds>.<microseconds> [<db> <ip:port>] "arg" "arg" ...
 * with the arguments quoted and escaped as Redis's sdscatrepr, the db the client is on
 * after the command, passwords of AUTH and HELLO ... AUTH replaced by "(redacted)", and
 * admin commands (CONFIG, DEBUG, MONITOR itself...) not shown.
 */
#include "kv_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

size_t kv_monitor_count;
static kv_client_t **monitors;
static size_t monitors_cap;

void kv_cmd_monitor(kv_client_t *c) {
    if (c->flags & KV_CLIENT_MONITOR) return; /* already: Redis ignores it, no reply */
    if (c->flags & KV_CLIENT_MULTI) {
        kv_reply_error(c, "ERR MONITOR isn't allowed for DENY BLOCKING client");
        return;
    }
    if (kv_monitor_count == monitors_cap) {
        size_t cap = monitors_cap ? monitors_cap * 2 : 8;
        kv_client_t **m = realloc(monitors, cap * sizeof(*m));
        if (m == NULL) {
            kv_reply_oom(c);
            return;
        }
        monitors = m;
        monitors_cap = cap;
    }
    monitors[kv_monitor_count++] = c;
    c->flags |= KV_CLIENT_MONITOR;
    kv_reply_ok(c);
}

void kv_monitor_remove(kv_client_t *c) {
    for (size_t i = 0; i < kv_monitor_count; i++) {
        if (monitors[i] != c) continue;
        memmove(monitors + i, monitors + i + 1, (kv_monitor_count - i - 1) * sizeof(*monitors));
        kv_monitor_count--;
        break;
    }
    c->flags &= ~KV_CLIENT_MONITOR;
    if (kv_monitor_count == 0) {
        free(monitors);
        monitors = NULL;
        monitors_cap = 0;
    }
}

/* A growing line. */
typedef struct line {
    char *p;
    size_t len, cap;
    bool oom;
} line_t;

static void put(line_t *l, const char *s, size_t n) {
    if (l->oom) return;
    if (l->len + n > l->cap) {
        size_t cap = (l->len + n) * 2 + 64;
        char *p = realloc(l->p, cap);
        if (p == NULL) {
            l->oom = true;
            return;
        }
        l->p = p;
        l->cap = cap;
    }
    memcpy(l->p + l->len, s, n);
    l->len += n;
}

/* Redis's sdscatrepr: "..." with \\ \" \n \r \t \a \b and \xHH for the rest. */
static void put_repr(line_t *l, const char *s, size_t n) {
    put(l, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        char esc[5];
        switch (ch) {
        case '\\': put(l, "\\\\", 2); break;
        case '"': put(l, "\\\"", 2); break;
        case '\n': put(l, "\\n", 2); break;
        case '\r': put(l, "\\r", 2); break;
        case '\t': put(l, "\\t", 2); break;
        case '\a': put(l, "\\a", 2); break;
        case '\b': put(l, "\\b", 2); break;
        default:
            if (ch >= 0x20 && ch < 0x7f) {
                put(l, (const char *)&ch, 1);
            } else {
                snprintf(esc, sizeof(esc), "\\x%02x", ch);
                put(l, esc, 4);
            }
        }
    }
    put(l, "\"", 1);
}

/* Which arguments are secrets: AUTH's, and the two after HELLO's AUTH. */
static bool redacted(const kv_client_t *c, const kv_cmd_t *cmd, int i) {
    if (strcmp(cmd->name, "auth") == 0) return i >= 1;
    if (strcmp(cmd->name, "hello") != 0) return false;
    for (int j = 2; j < c->argc && j < i; j++) {
        if (kv_arg_is(&c->argv[j], "auth") && j + 2 < c->argc) {
            if (i == j + 1 || i == j + 2) return true;
            j += 2;
        } else if (kv_arg_is(&c->argv[j], "setname")) {
            j++;
        }
    }
    return false;
}

void kv_monitor_feed(const kv_client_t *c, const kv_cmd_t *cmd) {
    if (kv_monitor_count == 0 || (cmd->flags & (KV_CMD_ADMIN | KV_CMD_SKIP_MONITOR))) return;
    const kv_cmd_t *top = cmd->parent ? cmd->parent : cmd;
    if (top->flags & (KV_CMD_ADMIN | KV_CMD_SKIP_MONITOR)) return;
    struct timeval tv;
    gettimeofday(&tv, NULL);
    char head[160];
    int n = snprintf(head, sizeof(head), "+%ld.%06ld [%d %s] ", (long)tv.tv_sec, (long)tv.tv_usec,
                     c->dbid, c->addr);
    line_t l = {0};
    put(&l, head, (size_t)n);
    for (int i = 0; i < c->argc; i++) {
        if (redacted(c, top, i))
            put(&l, "\"(redacted)\"", 12);
        else
            put_repr(&l, c->argv[i].ptr, c->argv[i].len);
        if (i != c->argc - 1) put(&l, " ", 1);
    }
    put(&l, "\r\n", 2);
    if (!l.oom)
        for (size_t i = 0; i < kv_monitor_count; i++)
            kv_reply_raw(monitors[i], l.p, l.len);
    free(l.p);
}
