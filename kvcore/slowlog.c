/* SPDX-License-Identifier: MIT */
/*
 * slowlog.c - the slow log and SLOWLOG GET/LEN/RESET/HELP, as Redis 7.0.
 *
 * kv_cmd_call hands every finished call to kv_slowlog_record. A call that took at least
 * slowlog-log-slower-than microseconds (negative: nothing is logged, 0: every call) is
 * copied into a new entry at the head of the log: a growing id, the unix time, the
 * duration, the arguments (at most 32: the 32nd reads "... (N more arguments)"; each at
 * most 128 bytes followed by "... (N more bytes)"), the client's address and name.
 * Passwords never reach the log: AUTH's arguments, HELLO's AUTH username and password
 * and CONFIG SET's requirepass/masterauth values read "(redacted)". The log keeps the
 * newest slowlog-max-len entries; older ones are freed at once, and by SLOWLOG RESET.
 * Commands flagged KV_CMD_SKIP_SLOWLOG (EXEC: its queued commands are logged one by
 * one) and calls that left the client blocked are not logged.
 */
#include "kv_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define SLOWLOG_MAX_ARGC 32
#define SLOWLOG_MAX_ARG  128
#define SLOWLOG_REDACTED "(redacted)"

typedef struct slowlog_entry {
    struct slowlog_entry *prev, *next; /* next: older */
    long long id;
    long long time;
    long long duration;
    int argc;
    kv_arg_t *argv; /* owned copies */
    char *peer;
    char *cname;
} slowlog_entry_t;

static struct {
    slowlog_entry_t *head, *tail; /* newest, oldest */
    long long len;
    long long next_id;
} slowlog;

static bool arg_is(const kv_arg_t *a, const char *s) {
    return a->len == strlen(s) && strncasecmp(a->ptr, s, a->len) == 0;
}

static bool config_is_sensitive(const kv_arg_t *a) {
    return arg_is(a, "requirepass") || arg_is(a, "masterauth");
}

/* True when argument i of this call is a password Redis redacts. */
static bool arg_redacted(int argc, const kv_arg_t *argv, int i) {
    if (arg_is(&argv[0], "auth")) return argc <= 3 && i >= 1;
    if (arg_is(&argv[0], "hello")) {
        for (int j = 2; j < argc; j++) {
            int more = argc - 1 - j;
            if (arg_is(&argv[j], "auth") && more >= 2) {
                if (i == j + 1 || i == j + 2) return true;
                j += 2;
            } else if (arg_is(&argv[j], "setname") && more >= 1) {
                j++;
            } else {
                return false;
            }
        }
        return false;
    }
    if (argc >= 2 && arg_is(&argv[0], "config") && arg_is(&argv[1], "set") && argc % 2 == 0)
        return i >= 3 && i % 2 == 1 && config_is_sensitive(&argv[i - 1]);
    return false;
}

static char *dup_bytes(const char *p, size_t len) {
    char *s = malloc(len + 1);
    if (s == NULL) return NULL;
    memcpy(s, p, len);
    s[len] = '\0';
    return s;
}

/* Argument i as the log keeps it: redacted, cut to 128 bytes or replaced by the count
 * of arguments left out. */
static bool copy_arg(kv_arg_t *out, int argc, const kv_arg_t *argv, int i, int kept) {
    char note[64];
    const char *p = argv[i].ptr;
    size_t len = argv[i].len;
    if (kept != argc && i == kept - 1) {
        len = (size_t)snprintf(note, sizeof(note), "... (%d more arguments)", argc - kept + 1);
        p = note;
    } else if (arg_redacted(argc, argv, i)) {
        p = SLOWLOG_REDACTED;
        len = strlen(p);
    } else if (len > SLOWLOG_MAX_ARG) {
        int n = snprintf(note, sizeof(note), "... (%zu more bytes)", len - SLOWLOG_MAX_ARG);
        char *s = malloc(SLOWLOG_MAX_ARG + (size_t)n + 1);
        if (s == NULL) return false;
        memcpy(s, p, SLOWLOG_MAX_ARG);
        memcpy(s + SLOWLOG_MAX_ARG, note, (size_t)n + 1);
        out->ptr = s;
        out->len = SLOWLOG_MAX_ARG + (size_t)n;
        return true;
    }
    out->ptr = dup_bytes(p, len);
    out->len = len;
    return out->ptr != NULL;
}

static void entry_free(slowlog_entry_t *e) {
    if (e == NULL) return;
    for (int i = 0; i < e->argc; i++)
        free((void *)e->argv[i].ptr);
    free(e->argv);
    free(e->peer);
    free(e->cname);
    free(e);
}

static slowlog_entry_t *entry_new(const kv_client_t *c, long long duration) {
    slowlog_entry_t *e = calloc(1, sizeof(*e));
    if (e == NULL) return NULL;
    int kept = c->argc < SLOWLOG_MAX_ARGC ? c->argc : SLOWLOG_MAX_ARGC;
    e->argv = calloc((size_t)(kept ? kept : 1), sizeof(*e->argv));
    e->peer = dup_bytes(c->addr, strlen(c->addr));
    e->cname = c->name ? dup_bytes(c->name, strlen(c->name)) : dup_bytes("", 0);
    if (e->argv == NULL || e->peer == NULL || e->cname == NULL) {
        entry_free(e);
        return NULL;
    }
    for (; e->argc < kept; e->argc++) {
        if (!copy_arg(&e->argv[e->argc], c->argc, c->argv, e->argc, kept)) {
            entry_free(e);
            return NULL;
        }
    }
    e->duration = duration;
    e->time = (long long)time(NULL);
    return e;
}

/* Frees the oldest entries until at most max are left. */
static void trim_to(long long max) {
    while (slowlog.len > max && slowlog.tail) {
        slowlog_entry_t *e = slowlog.tail;
        slowlog.tail = e->prev;
        if (slowlog.tail)
            slowlog.tail->next = NULL;
        else
            slowlog.head = NULL;
        slowlog.len--;
        entry_free(e);
    }
}

void kv_slowlog_record(const kv_client_t *c, const kv_cmd_t *cmd, uint64_t usec) {
    long long threshold = kv_srv.cfg.slowlog_log_slower_than;
    if (threshold < 0 || (long long)usec < threshold) return;
    if ((cmd->flags & KV_CMD_SKIP_SLOWLOG) || (c->flags & KV_CLIENT_BLOCKED)) return;
    slowlog_entry_t *e = entry_new(c, (long long)usec);
    if (e == NULL) return; /* out of memory: the entry is lost, nothing else */
    e->id = slowlog.next_id++;
    e->next = slowlog.head;
    if (slowlog.head) slowlog.head->prev = e;
    slowlog.head = e;
    if (slowlog.tail == NULL) slowlog.tail = e;
    slowlog.len++;
    trim_to(kv_srv.cfg.slowlog_max_len);
}

long long kv_slowlog_len(void) {
    return slowlog.len;
}

void kv_slowlog_reset(void) {
    trim_to(0);
}

static void reply_entry(kv_client_t *c, const slowlog_entry_t *e) {
    kv_reply_array_len(c, 6);
    kv_reply_int(c, e->id);
    kv_reply_int(c, e->time);
    kv_reply_int(c, e->duration);
    kv_reply_array_len(c, e->argc);
    for (int i = 0; i < e->argc; i++)
        kv_reply_bulk(c, e->argv[i].ptr, e->argv[i].len);
    kv_reply_bulk_cstr(c, e->peer);
    kv_reply_bulk_cstr(c, e->cname);
}

void kv_cmd_slowlog_get(kv_client_t *c) {
    long long count = 10;
    if (c->argc > 3) {
        kv_reply_subcmd_err(c); /* Redis's table says -2, its handler takes one count */
        return;
    }
    if (c->argc == 3) {
        if (!kv_str2ll(c->argv[2].ptr, c->argv[2].len, &count) || count < -1) {
            kv_reply_error(c, "ERR count should be greater than or equal to -1");
            return;
        }
        if (count == -1) count = slowlog.len;
    }
    if (count > slowlog.len) count = slowlog.len;
    kv_reply_array_len(c, (long)count);
    const slowlog_entry_t *e = slowlog.head;
    for (long long i = 0; i < count; i++, e = e->next)
        reply_entry(c, e);
}

void kv_cmd_slowlog_len(kv_client_t *c) {
    kv_reply_int(c, slowlog.len);
}

void kv_cmd_slowlog_reset(kv_client_t *c) {
    kv_slowlog_reset();
    kv_reply_ok(c);
}

void kv_cmd_slowlog_help(kv_client_t *c) {
    static const char *const help[] = {
        "GET [<count>]",
        "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
        "    Entries are made of:",
        "    id, timestamp, time in microseconds, arguments array, client IP and port,",
        "    client name",
        "LEN",
        "    Return the length of the slowlog.",
        "RESET",
        "    Reset the slowlog.",
        NULL};
    kv_reply_help(c, help);
}
