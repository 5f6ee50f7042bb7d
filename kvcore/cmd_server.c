/* SPDX-License-Identifier: MIT */
/*
 * cmd_server.c - connection and server commands: PING ECHO QUIT SHUTDOWN INFO TIME HELLO,
 * COMMAND (COUNT INFO DOCS LIST GETKEYS HELP), DEBUG (SLEEP OBJECT POPULATE SEGFAULT
 * SET-ACTIVE-EXPIRE PROTOCOL), LATENCY (LATEST RESET HELP), FUNCTION FLUSH, CLIENT (SETNAME
 * GETNAME ID INFO LIST KILL HELP) and CONFIG (GET SET RESETSTAT HELP; REWRITE is in
 * config_rewrite.c).
 *
 * Replies follow Redis 7.0 in RESP2 and RESP3 (HELLO 2|3 picks the connection's
 * protocol). CONFIG SET with several pairs is atomic as in Redis: every name is checked first, then
 * values are applied and rolled back if one fails. DEBUG obeys enable-debug-command like Redis 7.
 */
#include "kv_internal.h"
#include "rdb.h"
#include "quicklist.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

/* --- PING ECHO QUIT SHUTDOWN TIME INFO --- */

void kv_cmd_ping(kv_client_t *c) {
    if (c->argc > 2) {
        kv_reply_arity_err(c);
        return;
    }
    if (kv_pubsub_reply_ping(c)) return; /* subscribed RESP2 client: ["pong", msg] */
    if (c->argc == 1)
        kv_reply_raw(c, "+PONG\r\n", 7);
    else
        kv_reply_bulk(c, c->argv[1].ptr, c->argv[1].len);
}

void kv_cmd_echo(kv_client_t *c) {
    kv_reply_bulk(c, c->argv[1].ptr, c->argv[1].len);
}

void kv_cmd_quit(kv_client_t *c) {
    kv_reply_ok(c);
    c->flags |= KV_CLIENT_CLOSE_AFTER_REPLY;
}

void kv_cmd_shutdown(kv_client_t *c) {
    bool nosave = false, save = false, abort_ = false, other = false;
    for (int i = 1; i < c->argc; i++) {
        const kv_arg_t *a = &c->argv[i];
        if (kv_arg_is(a, "nosave"))
            nosave = true;
        else if (kv_arg_is(a, "save"))
            save = true;
        else if (kv_arg_is(a, "now") || kv_arg_is(a, "force"))
            other = true;
        else if (kv_arg_is(a, "abort"))
            abort_ = true;
        else {
            kv_reply_syntax_err(c);
            return;
        }
    }
    if ((abort_ && (nosave || save || other)) || (nosave && save)) {
        kv_reply_syntax_err(c);
        return;
    }
    if (abort_) {
        kv_reply_error(c, "ERR No shutdown in progress.");
        return;
    }
    /* Saves first when asked or when save points exist (persist.c); the connection then
     * closes without a reply. */
    if (kv_persist_shutdown(save, nosave) != 0 && !other) {
        kv_reply_error(c, "ERR Errors trying to SHUTDOWN. Check logs.");
        return;
    }
    kv_server_request_shutdown();
}

void kv_cmd_time(kv_client_t *c) {
    int64_t us = kv_ustime();
    kv_reply_array_len(c, 2);
    kv_reply_bulk_ll(c, us / 1000000);
    kv_reply_bulk_ll(c, us % 1000000);
}

void kv_cmd_info(kv_client_t *c) {
    size_t len;
    kv_server_update_mem_stats();
    char *s = kv_info_string(c->argv + 1, c->argc - 1, &len);
    if (s == NULL) {
        kv_reply_oom(c);
        return;
    }
    kv_reply_verbatim(c, s, len);
    free(s);
}

/* --- HELLO --- */

static bool client_name_is_valid(kv_client_t *c, const kv_arg_t *name) {
    for (size_t j = 0; j < name->len; j++) {
        if (name->ptr[j] < '!' || name->ptr[j] > '~') {
            kv_reply_error(
                c, "ERR Client names cannot contain spaces, newlines or special characters.");
            return false;
        }
    }
    return true;
}

static int set_name_or_reply(kv_client_t *c, const kv_arg_t *name) {
    if (name->len == 0) {
        free(c->name);
        c->name = NULL;
        return 0;
    }
    if (!client_name_is_valid(c, name)) return -EINVAL;
    char *n = strndup(name->ptr, name->len);
    if (n == NULL) {
        kv_reply_oom(c);
        return -ENOMEM;
    }
    free(c->name);
    c->name = n;
    return 0;
}

void kv_cmd_hello(kv_client_t *c) {
    long long ver = 0;
    int next = 1;
    if (c->argc >= 2) {
        if (kv_arg_ll_or_reply(c, &c->argv[next++], &ver,
                               "ERR Protocol version is not an integer or out of range") != 0)
            return;
        if (ver < 2 || ver > 3) {
            kv_reply_error(c, "NOPROTO unsupported protocol version");
            return;
        }
    }
    /* Redis 7.0's order: options act as they are parsed (AUTH authenticates at once, a
     * bad SETNAME fails at once), then authentication is required. The name is set only
     * once authenticated (7.0 also set it when replying NOAUTH or WRONGPASS). */
    const kv_arg_t *name = NULL;
    for (int j = next; j < c->argc; j++) {
        int more = c->argc - 1 - j;
        const kv_arg_t *o = &c->argv[j];
        if (kv_arg_is(o, "auth") && more >= 2) {
            if (kv_auth_attempt(c, &c->argv[j + 1], &c->argv[j + 2]) != 0)
                return; /* WRONGPASS, delayed (auth.c) */
            j += 2;
        } else if (kv_arg_is(o, "setname") && more) {
            name = &c->argv[j + 1];
            if (!client_name_is_valid(c, name)) return;
            j++;
        } else {
            kv_reply_errorf(c, "ERR Syntax error in HELLO option '%.*s'", (int)o->len, o->ptr);
            return;
        }
    }
    if (kv_auth_required(c)) {
        kv_reply_error(c, "NOAUTH HELLO must be called with the client already authenticated, "
                          "otherwise the HELLO AUTH <user> <pass> option can be used to "
                          "authenticate the client and select the RESP protocol version at the "
                          "same time");
        return;
    }
    if (name != NULL && set_name_or_reply(c, name) != 0) return;
    if (ver != 0) c->resp = (int)ver; /* HELLO's own reply is in the new protocol */
    kv_reply_map_len(c, 7);
    kv_reply_bulk_cstr(c, "server");
    kv_reply_bulk_cstr(c, "redis");
    kv_reply_bulk_cstr(c, "version");
    kv_reply_bulk_cstr(c, KV_REDIS_VERSION);
    kv_reply_bulk_cstr(c, "proto");
    kv_reply_int(c, c->resp);
    kv_reply_bulk_cstr(c, "id");
    kv_reply_int(c, (long long)c->id);
    kv_reply_bulk_cstr(c, "mode");
    kv_reply_bulk_cstr(c, "standalone");
    kv_reply_bulk_cstr(c, "role");
    kv_reply_bulk_cstr(c, "master");
    kv_reply_bulk_cstr(c, "modules");
    kv_reply_array_len(c, 0);
}

/* --- COMMAND --- */

static const struct {
    uint32_t bit;
    const char *name;
} cmd_flag_names[] = {
    {KV_CMD_WRITE, "write"},
    {KV_CMD_READONLY, "readonly"},
    {KV_CMD_DENYOOM, "denyoom"},
    {KV_CMD_ADMIN, "admin"},
    {KV_CMD_PUBSUB, "pubsub"},
    {KV_CMD_NOSCRIPT, "noscript"},
    {KV_CMD_BLOCKING, "blocking"},
    {KV_CMD_LOADING, "loading"},
    {KV_CMD_STALE, "stale"},
    {KV_CMD_SKIP_MONITOR, "skip_monitor"},
    {KV_CMD_SKIP_SLOWLOG, "skip_slowlog"},
    {KV_CMD_FAST, "fast"},
    {KV_CMD_NO_AUTH, "no_auth"},
    {KV_CMD_MAY_REPLICATE, "may_replicate"},
    {KV_CMD_NO_MULTI, "no_multi"},
    {KV_CMD_ALLOW_BUSY, "allow_busy"},
};

static void reply_words_as_status(kv_client_t *c, const char *words, const char *prefix) {
    void *lenp = kv_reply_deferred(c);
    long n = 0;
    const char *p = words ? words : "";
    while (*p) {
        while (*p == ' ')
            p++;
        const char *e = p;
        while (*e && *e != ' ')
            e++;
        if (e > p) {
            char buf[64];
            snprintf(buf, sizeof(buf), "%s%.*s", prefix, (int)(e - p), p);
            kv_reply_status(c, buf);
            n++;
        }
        p = e;
    }
    kv_reply_set_deferred_set(c, lenp, n);
}

void kv_cmd_reply_info(kv_client_t *c, const kv_cmd_t *cmd) {
    kv_reply_array_len(c, 10);
    kv_reply_bulk_cstr(c, cmd->fullname);
    kv_reply_int(c, cmd->arity);
    void *lenp = kv_reply_deferred(c);
    long n = 0;
    for (size_t i = 0; i < sizeof(cmd_flag_names) / sizeof(cmd_flag_names[0]); i++) {
        if (cmd->flags & cmd_flag_names[i].bit) {
            kv_reply_status(c, cmd_flag_names[i].name);
            n++;
        }
    }
    if (kv_cmd_is_movable(cmd)) {
        kv_reply_status(c, "movablekeys");
        n++;
    }
    kv_reply_set_deferred_set(c, lenp, n);
    kv_reply_int(c, cmd->first_key);
    kv_reply_int(c, cmd->last_key);
    kv_reply_int(c, cmd->key_step);
    reply_words_as_status(c, cmd->acl, "@");
    kv_cmd_reply_tips_and_specs(c, cmd);
    if (cmd->subcmds) {
        long ns = 0;
        for (const kv_cmd_t *s = cmd->subcmds; s->name; s++)
            ns++;
        kv_reply_set_len(c, ns);
        for (const kv_cmd_t *s = cmd->subcmds; s->name; s++)
            kv_cmd_reply_info(c, s);
    } else {
        kv_reply_set_len(c, 0);
    }
}

void kv_cmd_reply_docs(kv_client_t *c, const kv_cmd_t *cmd) {
    long ns = 0;
    if (cmd->subcmds)
        for (const kv_cmd_t *s = cmd->subcmds; s->name; s++)
            ns++;
    kv_reply_map_len(c, ns ? 4 : 3);
    kv_reply_bulk_cstr(c, "summary");
    kv_reply_bulk_cstr(c, cmd->summary ? cmd->summary : "");
    kv_reply_bulk_cstr(c, "since");
    kv_reply_bulk_cstr(c, cmd->since ? cmd->since : "");
    kv_reply_bulk_cstr(c, "group");
    kv_reply_bulk_cstr(c, cmd->group ? cmd->group : "");
    if (ns) {
        kv_reply_bulk_cstr(c, "subcommands");
        kv_reply_map_len(c, ns);
        for (const kv_cmd_t *s = cmd->subcmds; s->name; s++) {
            kv_reply_bulk_cstr(c, s->fullname);
            kv_cmd_reply_docs(c, s);
        }
    }
}

typedef struct each_ctx {
    kv_client_t *c;
    long n;
    int mode; /* 0 info, 1 docs, 2 list */
} each_ctx_t;

static void each_top(kv_cmd_t *cmd, void *priv) {
    each_ctx_t *e = priv;
    if (e->mode == 2) {
        kv_reply_bulk_cstr(e->c, cmd->fullname);
        e->n++;
        return;
    }
    if (cmd->parent) return;
    if (e->mode == 0) {
        kv_cmd_reply_info(e->c, cmd);
    } else {
        kv_reply_bulk_cstr(e->c, cmd->name);
        kv_cmd_reply_docs(e->c, cmd);
    }
    e->n++;
}

static void reply_all(kv_client_t *c, int mode) {
    each_ctx_t e = {c, 0, mode};
    void *lenp = kv_reply_deferred(c);
    kv_cmd_foreach(each_top, &e);
    if (mode == 1)
        kv_reply_set_deferred_map(c, lenp, e.n);
    else
        kv_reply_set_deferred(c, lenp, e.n);
}

void kv_cmd_command(kv_client_t *c) {
    reply_all(c, 0);
}

void kv_cmd_command_count(kv_client_t *c) {
    kv_reply_int(c, (long long)kv_cmd_count());
}

/* "get" or "config|get" */
const kv_cmd_t *kv_cmd_lookup_fullname(const kv_arg_t *a) {
    const char *bar = memchr(a->ptr, '|', a->len);
    if (bar == NULL) return kv_cmd_lookup(a->ptr, a->len);
    kv_cmd_t *base = kv_cmd_lookup(a->ptr, (size_t)(bar - a->ptr));
    if (base == NULL || base->subcmds == NULL) return NULL;
    kv_arg_t sub = {bar + 1, a->len - (size_t)(bar - a->ptr) - 1};
    for (const kv_cmd_t *s = base->subcmds; s->name; s++)
        if (kv_arg_is(&sub, s->name)) return s;
    return NULL;
}

void kv_cmd_command_info(kv_client_t *c) {
    if (c->argc == 2) {
        reply_all(c, 0);
        return;
    }
    kv_reply_array_len(c, c->argc - 2);
    for (int i = 2; i < c->argc; i++) {
        const kv_cmd_t *cmd = kv_cmd_lookup_fullname(&c->argv[i]);
        if (cmd)
            kv_cmd_reply_info(c, cmd);
        else
            kv_reply_null(c); /* Redis 7.0: $-1 for an unknown name */
    }
}

void kv_cmd_command_docs(kv_client_t *c) {
    if (c->argc == 2) {
        reply_all(c, 1);
        return;
    }
    void *lenp = kv_reply_deferred(c);
    long n = 0;
    for (int i = 2; i < c->argc; i++) {
        const kv_cmd_t *cmd = kv_cmd_lookup_fullname(&c->argv[i]);
        if (cmd == NULL) continue;
        kv_reply_bulk_cstr(c, cmd->fullname);
        kv_cmd_reply_docs(c, cmd);
        n++;
    }
    kv_reply_set_deferred_map(c, lenp, n);
}

/* Does the space-separated word list hold the word a? */
static bool words_have(const char *words, const kv_arg_t *a) {
    for (const char *p = words ? words : ""; *p;) {
        while (*p == ' ')
            p++;
        const char *e = p;
        while (*e && *e != ' ')
            e++;
        if ((size_t)(e - p) == a->len && a->len && strncasecmp(p, a->ptr, a->len) == 0) return true;
        p = e;
    }
    return false;
}

typedef struct list_filter {
    kv_client_t *c;
    long n;
    int kind; /* 0 module (kvcore has none), 1 aclcat, 2 pattern */
    const kv_arg_t *arg;
} list_filter_t;

static void each_filtered(kv_cmd_t *cmd, void *priv) {
    list_filter_t *f = priv;
    bool hit = false;
    if (f->kind == 1)
        hit = words_have(cmd->acl, f->arg);
    else if (f->kind == 2)
        hit = kv_glob_match(f->arg->ptr, f->arg->len, cmd->fullname, strlen(cmd->fullname), true);
    if (!hit) return;
    kv_reply_bulk_cstr(f->c, cmd->fullname);
    f->n++;
}

/* COMMAND LIST [FILTERBY MODULE name | ACLCAT category | PATTERN pattern], as Redis 7.0:
 * commands and subcommands by full name; an unknown category or module lists nothing. */
void kv_cmd_command_list(kv_client_t *c) {
    if (c->argc == 2) {
        reply_all(c, 2);
        return;
    }
    list_filter_t f = {c, 0, -1, NULL};
    if (c->argc == 5 && kv_arg_is(&c->argv[2], "filterby")) {
        if (kv_arg_is(&c->argv[3], "module"))
            f.kind = 0;
        else if (kv_arg_is(&c->argv[3], "aclcat"))
            f.kind = 1;
        else if (kv_arg_is(&c->argv[3], "pattern"))
            f.kind = 2;
        f.arg = &c->argv[4];
    }
    if (f.kind < 0) {
        kv_reply_syntax_err(c);
        return;
    }
    void *lenp = kv_reply_deferred(c);
    kv_cmd_foreach(each_filtered, &f);
    kv_reply_set_deferred(c, lenp, f.n);
}

void kv_cmd_command_help(kv_client_t *c) {
    static const char *const help[] = {
        "(no subcommand)",
        "    Return details about all Redis commands.",
        "COUNT",
        "    Return the total number of commands in this Redis server.",
        "LIST",
        "    Return a list of all commands in this Redis server.",
        "INFO [<command-name> ...]",
        "    Return details about multiple Redis commands.",
        "    If no command names are given, documentation details for all",
        "    commands are returned.",
        "DOCS [<command-name> ...]",
        "    Return documentation details about multiple Redis commands.",
        "    If no command names are given, documentation details for all",
        "    commands are returned.",
        "GETKEYS <full-command>",
        "    Return the keys from a full Redis command.",
        "GETKEYSANDFLAGS <full-command>",
        "    Return the keys and the access flags from a full Redis command.",
        NULL};
    kv_reply_help(c, help);
}

/* --- DEBUG --- */

/* Redis's allowProtectedAction: mode 1 (yes) always, 2 (local) from a loopback peer. */
static bool protected_action_allowed(const kv_client_t *c, int mode) {
    if (mode == 1) return true;
    return mode == 2 && (strncmp(c->addr, "127.", 4) == 0 || strncmp(c->addr, "[::1]", 5) == 0);
}

static bool debug_allowed(kv_client_t *c) {
    if (protected_action_allowed(c, kv_srv.cfg.enable_debug_command)) return true;
    kv_reply_error(c, "ERR DEBUG command not allowed. If the enable-debug-command option is set "
                      "to \"local\", you can run it from a local connection, otherwise you need "
                      "to set this option in the configuration file, and then restart the "
                      "server.");
    return false;
}

static void debug_populate(kv_client_t *c) {
    long long count, size = 0;
    if (!kv_str2ll(c->argv[2].ptr, c->argv[2].len, &count) || count < 0) {
        kv_reply_error(c, "ERR value is out of range, must be positive");
        return;
    }
    const char *prefix = "key";
    size_t plen = 3;
    if (c->argc >= 4) {
        prefix = c->argv[3].ptr;
        plen = c->argv[3].len;
    }
    if (c->argc == 5 && (!kv_str2ll(c->argv[4].ptr, c->argv[4].len, &size) || size < 0)) {
        kv_reply_error(c, "ERR value is out of range, must be positive");
        return;
    }
    /* Refuse what could never fit instead of allocating until the OOM killer steps in:
     * no value larger than a client could send (proto-max-bulk-len) or than maxmemory,
     * and not more in all (counted with a per-key overhead) than maxmemory, if set, or
     * the machine's RAM. */
    if (size > kv_srv.cfg.proto_max_bulk_len ||
        (kv_srv.cfg.maxmemory && (unsigned long long)size > kv_srv.cfg.maxmemory)) {
        kv_reply_error(c, "ERR DEBUG POPULATE value size exceeds proto-max-bulk-len or "
                          "maxmemory");
        return;
    }
    unsigned long long per_key = (unsigned long long)size + plen + 64, total;
    long pages = sysconf(_SC_PHYS_PAGES), psize = sysconf(_SC_PAGESIZE);
    unsigned long long ram =
        pages > 0 && psize > 0 ? (unsigned long long)pages * (unsigned long long)psize : 0;
    unsigned long long limit =
        kv_srv.cfg.maxmemory && (!ram || kv_srv.cfg.maxmemory < ram) ? kv_srv.cfg.maxmemory : ram;
    if (count > 0 && (__builtin_mul_overflow((unsigned long long)count, per_key, &total) ||
                      (limit && total > limit))) {
        kv_reply_error(c, "ERR DEBUG POPULATE would need more memory than maxmemory or the "
                          "machine's RAM");
        return;
    }
    char *val = size > 0 ? calloc(1, (size_t)size) : NULL;
    if (size > 0 && val == NULL) {
        kv_reply_oom(c);
        return;
    }
    char key[1024], vbuf[64];
    for (long long j = 0; j < count; j++) {
        int kl = snprintf(key, sizeof(key), "%.*s:%lld", (int)(plen > 900 ? 900 : plen), prefix, j);
        if (kv_db_lookup(c->db, key, (size_t)kl, KV_LOOKUP_NOSTATS | KV_LOOKUP_NOTOUCH)) continue;
        int vl = snprintf(vbuf, sizeof(vbuf), "value:%lld", j);
        kv_obj_t *o;
        if (size == 0) {
            o = kv_obj_new_string(key, (size_t)kl, vbuf, (size_t)vl, -1);
        } else {
            size_t n = (size_t)vl < (size_t)size ? (size_t)vl : (size_t)size;
            memset(val, 0, (size_t)size);
            memcpy(val, vbuf, n);
            o = kv_obj_new_raw_string(key, (size_t)kl, val, (size_t)size, -1);
        }
        if (o == NULL || kv_db_add(c->db, o) != 0) {
            free(val);
            kv_reply_oom(c);
            return;
        }
        kv_signal_modified_key(c, c->db, key, (size_t)kl); /* as Redis: no dirty change */
    }
    free(val);
    kv_reply_ok(c);
}

/* DEBUG PROTOCOL <type>: one sample reply of each type, with Redis 7.0's values. */
static void debug_protocol(kv_client_t *c, const kv_arg_t *type) {
    if (kv_arg_is(type, "string")) {
        kv_reply_bulk_cstr(c, "Hello World");
    } else if (kv_arg_is(type, "integer")) {
        kv_reply_int(c, 12345);
    } else if (kv_arg_is(type, "double")) {
        kv_reply_double(c, 3.141);
    } else if (kv_arg_is(type, "bignum")) {
        static const char big[] = "1234567999999999999999999999999999999";
        kv_reply_bignum(c, big, sizeof(big) - 1);
    } else if (kv_arg_is(type, "null")) {
        kv_reply_null(c);
    } else if (kv_arg_is(type, "array") || kv_arg_is(type, "set")) {
        if (kv_arg_is(type, "array"))
            kv_reply_array_len(c, 3);
        else
            kv_reply_set_len(c, 3);
        for (int j = 0; j < 3; j++)
            kv_reply_int(c, j);
    } else if (kv_arg_is(type, "map")) {
        kv_reply_map_len(c, 3);
        for (int j = 0; j < 3; j++) {
            kv_reply_int(c, j);
            kv_reply_bool(c, j == 1);
        }
    } else if (kv_arg_is(type, "attrib")) {
        if (c->resp >= 3) { /* RESP2 has no attributes: only the reply is sent */
            kv_reply_attribute_len(c, 1);
            kv_reply_bulk_cstr(c, "key-popularity");
            kv_reply_array_len(c, 2);
            kv_reply_bulk_cstr(c, "key:123");
            kv_reply_int(c, 90);
        }
        kv_reply_bulk_cstr(c, "Some real reply following the attribute");
    } else if (kv_arg_is(type, "push")) {
        if (c->resp < 3) {
            kv_reply_error(c, "ERR RESP2 is not supported by this command");
            return;
        }
        kv_reply_push_len(c, 2);
        kv_reply_bulk_cstr(c, "server-cpu-usage");
        kv_reply_int(c, 42);
        kv_reply_bulk_cstr(c, "Some real reply following the push reply");
    } else if (kv_arg_is(type, "verbatim")) {
        static const char text[] = "This is a verbatim\nstring";
        kv_reply_verbatim(c, text, sizeof(text) - 1);
    } else if (kv_arg_is(type, "true") || kv_arg_is(type, "false")) {
        kv_reply_bool(c, kv_arg_is(type, "true"));
    } else {
        kv_reply_error(c, "ERR Wrong protocol type name. Please use one of the following: "
                          "string|integer|double|bignum|null|array|set|map|attrib|push|"
                          "verbatim|true|false");
    }
}

/*
 * DEBUG QUICKLIST-PACKED-THRESHOLD size: Redis stores list elements at or above it in
 * "plain" nodes of their own. kvcore's quicklist always gives an element bigger than a
 * node's size limit a node of its own, whatever the threshold: the size is checked as
 * Redis checks it, and the lists behave the same either way.
 */
static void debug_packed_threshold(kv_client_t *c, const kv_arg_t *a) {
    unsigned long long sz;
    if (!kv_memtoull(a->ptr, a->len, &sz) || sz > (1ULL << 32)) {
        kv_reply_error(c, "ERR argument must be a memory value bigger than 1 and smaller than 4gb");
        return;
    }
    kv_reply_ok(c);
}

/* Redis 7.0's quicklist fields of DEBUG OBJECT, in its order and formats. */
static void debug_quicklist_fields(const kv_ql_t *ql, char *out, size_t cap) {
    size_t raw = 0;
    for (const kv_ql_node_t *n = ql->head; n != NULL; n = n->next)
        raw += kv_ql_node_raw_bytes(n);
    snprintf(out, cap,
             " ql_nodes:%zu ql_avg_node:%.2f ql_listpack_max:%d ql_compressed:%d "
             "ql_uncompressed_size:%zu",
             ql->nodes, ql->nodes ? (double)ql->count / (double)ql->nodes : 0.0, ql->fill,
             ql->depth != 0, raw);
}

bool kv_debug_refuses(kv_client_t *c, const kv_cmd_t *cmd) {
    return cmd->fn == kv_cmd_debug && !debug_allowed(c);
}

void kv_cmd_debug(kv_client_t *c) {
    if (!debug_allowed(c)) return;
    const kv_arg_t *sub = &c->argv[1];
    if (kv_arg_is(sub, "help") && c->argc == 2) {
        static const char *const help[] = {
            "DIGEST",
            "    Output a hex signature representing the current DB content.",
            "DIGEST-VALUE <key> [<key> ...]",
            "    Output a hex signature of the values of all the specified keys.",
            "LOADAOF",
            "    Flush the AOF buffers on disk and reload the AOF in memory.",
            "OBJECT <key>",
            "    Show low level info about `key` and associated value.",
            "POPULATE <count> [<prefix>] [<size>]",
            "    Create <count> string keys named key:<num>. If <prefix> is specified then",
            "    it is used instead of the 'key' prefix. These are not propagated to",
            "    replicas. Cluster slots are not respected so keys not belonging to the",
            "    current node can be created in cluster mode.",
            "PROTOCOL <type>",
            "    Reply with a test value of the specified type. <type> can be: string,",
            "    integer, double, bignum, null, array, set, map, attrib, push, verbatim,",
            "    true, false.",
            "RELOAD",
            "    Save the RDB on disk and reload it back to memory.",
            "SEGFAULT",
            "    Crash the server with sigsegv.",
            "SET-ACTIVE-EXPIRE <0|1>",
            "    Setting it to 0 disables expiring keys in background when they are not",
            "    accessed (otherwise the Redis behavior). Setting it to 1 reenables back the",
            "    default.",
            "SLEEP <seconds>",
            "    Stop the server for <seconds>. Decimals allowed.",
            NULL};
        kv_reply_help(c, help);
    } else if (kv_arg_is(sub, "sleep") && c->argc == 3) {
        char buf[64];
        size_t n = c->argv[2].len < sizeof(buf) - 1 ? c->argv[2].len : sizeof(buf) - 1;
        memcpy(buf, c->argv[2].ptr, n);
        buf[n] = '\0';
        double secs = strtod(buf, NULL); /* as Redis: not a number sleeps 0 */
        /* Validated before any conversion: a double outside long long's range (inf, nan,
         * 1e400) converts with undefined behaviour. Negative sleeps nothing, as Redis. */
        if (isnan(secs) || secs > 9.2e12) {
            kv_reply_error(c, "ERR DEBUG SLEEP seconds out of range");
            return;
        }
        long long us = secs > 0 ? (long long)(secs * 1000000) : 0;
        if (us > 0) {
            struct timespec ts = {(time_t)(us / 1000000), (long)(us % 1000000) * 1000};
            nanosleep(&ts, NULL);
        }
        kv_reply_ok(c);
    } else if (kv_arg_is(sub, "object") && c->argc == 3) {
        /* As Redis: a logically expired key is still there for DEBUG (not expired here). */
        kv_obj_t *o = kv_ht_find(c->db->keys, c->argv[2].ptr, c->argv[2].len);
        if (o == NULL) {
            kv_reply_error(c, "ERR no such key");
            return;
        }
        char buf[384];
        int n =
            snprintf(buf, sizeof(buf),
                     "Value at:%p refcount:1 encoding:%s serializedlength:%zu lru:%u "
                     "lru_seconds_idle:%llu",
                     (void *)o, kv_obj_encoding_name((int)o->encoding), kv_rdb_serialized_len(o),
                     (unsigned)o->lru, (unsigned long long)(kv_obj_idle_ms(o) / 1000));
        if (o->encoding == KV_ENC_QUICKLIST && n > 0 && (size_t)n < sizeof(buf))
            debug_quicklist_fields(kv_obj_ptr(o), buf + n, sizeof(buf) - (size_t)n);
        kv_reply_status(c, buf);
    } else if (kv_arg_is(sub, "reload") && c->argc == 2) {
        char err[512];
        if (kv_persist_debug_reload(err, sizeof(err)) == 0)
            kv_reply_ok(c);
        else
            kv_reply_error(c, "ERR Error trying to load the RDB dump, check server logs.");
    } else if (kv_arg_is(sub, "quicklist-packed-threshold") && c->argc == 3) {
        debug_packed_threshold(c, &c->argv[2]);
    } else if (kv_arg_is(sub, "populate") && c->argc >= 3 && c->argc <= 5) {
        debug_populate(c);
    } else if (kv_arg_is(sub, "protocol") && c->argc == 3) {
        debug_protocol(c, &c->argv[2]);
    } else if (kv_arg_is(sub, "digest") && c->argc == 2) {
        unsigned char d[20];
        char hex[41];
        kv_digest_dataset(d);
        kv_digest_hex(d, hex);
        kv_reply_status(c, hex);
    } else if (kv_arg_is(sub, "digest-value")) {
        kv_reply_array_len(c, c->argc - 2);
        for (int j = 2; j < c->argc; j++) {
            kv_obj_t *o = kv_ht_find(c->db->keys, c->argv[j].ptr, c->argv[j].len);
            unsigned char d[20] = {0};
            char hex[41];
            if (o != NULL) kv_digest_value_ttl(o, d);
            kv_digest_hex(d, hex);
            kv_reply_status(c, hex);
        }
    } else if (kv_arg_is(sub, "segfault") && c->argc == 2) {
        /* As Redis: write to a read-only page, so the crash report (crash.c) can be tested. */
        volatile char *p = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p != MAP_FAILED) *p = 'x';
        kv_reply_error(c, "ERR DEBUG SEGFAULT did not crash");
    } else if (kv_arg_is(sub, "loadaof") && c->argc == 2) {
        kv_aof_debug_loadaof(c); /* aof.c */
    } else if (kv_arg_is(sub, "set-active-expire") && c->argc == 3) {
        long long on; /* as Redis's atoi: not a number is 0 */
        if (!kv_str2ll(c->argv[2].ptr, c->argv[2].len, &on)) on = 0;
        kv_srv.active_expire_enabled = on != 0;
        kv_reply_ok(c);
    } else {
        kv_reply_subcmd_err(c);
    }
}

/* --- LATENCY --- */

/* --- FUNCTION FLUSH (no scripting: a successful no-op, as test harnesses need) --- */

void kv_cmd_function_flush(kv_client_t *c) {
    if (c->argc > 3) {
        kv_reply_subcmd_err(c);
        return;
    }
    if (c->argc == 3 && !kv_arg_is(&c->argv[2], "sync") && !kv_arg_is(&c->argv[2], "async")) {
        kv_reply_error(c, "ERR FUNCTION FLUSH only supports SYNC|ASYNC option");
        return;
    }
    kv_srv.dirty++; /* as Redis: the (empty) function library counts as a change */
    kv_reply_ok(c);
}

/* --- CLIENT --- */

void kv_cmd_client_setname(kv_client_t *c) {
    if (set_name_or_reply(c, &c->argv[2]) == 0) kv_reply_ok(c);
}

void kv_cmd_client_getname(kv_client_t *c) {
    if (c->name)
        kv_reply_bulk_cstr(c, c->name);
    else
        kv_reply_null(c);
}

void kv_cmd_client_id(kv_client_t *c) {
    kv_reply_int(c, (long long)c->id);
}

void kv_cmd_client_info(kv_client_t *c) {
    char *line = kv_client_info_line(c);
    if (line == NULL) {
        kv_reply_oom(c);
        return;
    }
    size_t n = strlen(line);
    char *out = realloc(line, n + 2);
    if (out == NULL) {
        free(line);
        kv_reply_oom(c);
        return;
    }
    out[n] = '\n';
    kv_reply_verbatim(c, out, n + 1);
    free(out);
}

/* A growing CLIENT LIST reply: each client's info line and a newline. */
typedef struct client_list_buf {
    char *p;
    size_t len, cap;
    bool oom;
} client_list_buf_t;

static void client_list_add(client_list_buf_t *b, const kv_client_t *cl) {
    if (b->oom) return;
    char *line = kv_client_info_line(cl);
    if (line == NULL) {
        b->oom = true;
        return;
    }
    size_t n = strlen(line);
    if (b->len + n + 1 > b->cap) {
        size_t cap = (b->len + n + 1) * 2;
        char *np = realloc(b->p, cap);
        if (np == NULL) {
            free(line);
            b->oom = true;
            return;
        }
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->len, line, n);
    b->len += n;
    b->p[b->len++] = '\n';
    free(line);
}

static int cmp_client_id(const void *a, const void *b) {
    uint64_t x = (*(kv_client_t *const *)a)->id, y = (*(kv_client_t *const *)b)->id;
    return x < y ? -1 : x > y;
}

/* CLIENT LIST ID id [id ...], as Redis 7.0: every id must be an integer ("ERR Invalid
 * client ID" otherwise, nothing listed); then the clients are listed in the order of
 * the ids given, once per mention, and an id no client has (0 and negative ones
 * included) lists nothing. Clients are found by binary search over a sorted snapshot,
 * so any number of ids costs O((ids + clients) log clients). 0, -EINVAL (replied) or
 * -ENOMEM. */
static int client_list_ids(kv_client_t *c, client_list_buf_t *b) {
    for (int j = 3; j < c->argc; j++) {
        long long id;
        if (!kv_str2ll(c->argv[j].ptr, c->argv[j].len, &id)) {
            kv_reply_error(c, "ERR Invalid client ID");
            return -EINVAL;
        }
    }
    size_t n = 0;
    for (kv_client_t *cl = kv_srv.clients; cl; cl = cl->next)
        n++;
    kv_client_t **by_id = malloc((n ? n : 1) * sizeof(*by_id));
    if (by_id == NULL) return -ENOMEM;
    n = 0;
    for (kv_client_t *cl = kv_srv.clients; cl; cl = cl->next)
        by_id[n++] = cl;
    qsort(by_id, n, sizeof(*by_id), cmp_client_id);
    for (int j = 3; j < c->argc && !b->oom; j++) {
        long long id = 0;
        (void)kv_str2ll(c->argv[j].ptr, c->argv[j].len, &id);
        if (id <= 0) continue;
        size_t lo = 0, hi = n;
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (by_id[mid]->id < (uint64_t)id)
                lo = mid + 1;
            else
                hi = mid;
        }
        if (lo < n && by_id[lo]->id == (uint64_t)id) client_list_add(b, by_id[lo]);
    }
    free(by_id);
    return b->oom ? -ENOMEM : 0;
}

void kv_cmd_client_list(kv_client_t *c) {
    client_list_buf_t b = {.p = NULL, .len = 0, .cap = 0, .oom = false};
    if (c->argc == 4 && kv_arg_is(&c->argv[2], "type")) {
        if (!kv_arg_is(&c->argv[3], "normal") && !kv_arg_is(&c->argv[3], "master") &&
            !kv_arg_is(&c->argv[3], "replica") && !kv_arg_is(&c->argv[3], "slave") &&
            !kv_arg_is(&c->argv[3], "pubsub")) {
            kv_reply_errorf(c, "ERR Unknown client type '%.*s'", (int)c->argv[3].len,
                            c->argv[3].ptr);
            return;
        }
        if (!kv_arg_is(&c->argv[3], "normal")) {
            kv_reply_verbatim(c, "", 0);
            return;
        }
    } else if (c->argc > 3 && kv_arg_is(&c->argv[2], "id")) {
        if (client_list_ids(c, &b) == -EINVAL) return;
    } else if (c->argc != 2) {
        kv_reply_syntax_err(c);
        return;
    }
    if (!(c->argc > 3 && kv_arg_is(&c->argv[2], "id"))) {
        /* Oldest first, as Redis (new clients are linked at the head). */
        kv_client_t *last = kv_srv.clients;
        while (last && last->next)
            last = last->next;
        for (kv_client_t *cl = last; cl && !b.oom; cl = cl->prev)
            client_list_add(&b, cl);
    }
    if (b.oom) {
        free(b.p);
        kv_reply_oom(c);
        return;
    }
    kv_reply_verbatim(c, b.p ? b.p : "", b.len);
    free(b.p);
}

void kv_cmd_client_kill(kv_client_t *c) {
    const kv_arg_t *addr = NULL, *laddr = NULL;
    unsigned long long id = 0;
    bool skipme = true, type_normal_only = false, type_none = false;
    if (c->argc == 3) {
        addr = &c->argv[2];
        skipme = false;
    } else if (c->argc > 3 && c->argc % 2 == 0) {
        for (int i = 2; i < c->argc; i += 2) {
            const kv_arg_t *o = &c->argv[i], *v = &c->argv[i + 1];
            if (kv_arg_is(o, "id")) {
                long long x;
                if (!kv_str2ll(v->ptr, v->len, &x)) {
                    kv_reply_error(c, "ERR client-id should be greater than 0");
                    return;
                }
                if (x < 1) {
                    kv_reply_error(c, "ERR client-id should be greater than 0");
                    return;
                }
                id = (unsigned long long)x;
            } else if (kv_arg_is(o, "type")) {
                if (kv_arg_is(v, "normal"))
                    type_normal_only = true;
                else if (kv_arg_is(v, "master") || kv_arg_is(v, "replica") ||
                         kv_arg_is(v, "slave") || kv_arg_is(v, "pubsub"))
                    type_none = true;
                else {
                    kv_reply_errorf(c, "ERR Unknown client type '%.*s'", (int)v->len, v->ptr);
                    return;
                }
            } else if (kv_arg_is(o, "addr")) {
                addr = v;
            } else if (kv_arg_is(o, "laddr")) {
                laddr = v;
            } else if (kv_arg_is(o, "user")) {
                if (!kv_arg_is(v, "default")) {
                    kv_reply_errorf(c, "ERR No such user '%.*s'", (int)v->len, v->ptr);
                    return;
                }
            } else if (kv_arg_is(o, "skipme")) {
                if (kv_arg_is(v, "yes"))
                    skipme = true;
                else if (kv_arg_is(v, "no"))
                    skipme = false;
                else {
                    kv_reply_syntax_err(c);
                    return;
                }
            } else {
                kv_reply_syntax_err(c);
                return;
            }
        }
    } else {
        kv_reply_syntax_err(c);
        return;
    }
    (void)type_normal_only;
    long long killed = 0;
    bool close_self = false;
    kv_client_t *next;
    for (kv_client_t *cl = kv_srv.clients; cl && !type_none; cl = next) {
        next = cl->next;
        if (addr && !(strlen(cl->addr) == addr->len && !memcmp(cl->addr, addr->ptr, addr->len)))
            continue;
        if (laddr &&
            !(strlen(cl->laddr) == laddr->len && !memcmp(cl->laddr, laddr->ptr, laddr->len)))
            continue;
        if (id && cl->id != id) continue;
        if (cl == c && skipme) continue;
        if (cl == c)
            close_self = true;
        else
            kv_client_close_async(cl);
        killed++;
    }
    if (c->argc == 3) {
        if (killed == 0)
            kv_reply_error(c, "ERR No such client");
        else
            kv_reply_ok(c);
    } else {
        kv_reply_int(c, killed);
    }
    if (close_self) c->flags |= KV_CLIENT_CLOSE_AFTER_REPLY;
}

void kv_cmd_client_help(kv_client_t *c) {
    static const char *const help[] = {
        "CACHING (YES|NO)",
        "    Enable/disable tracking of the keys for next command in OPTIN/OPTOUT modes.",
        "GETREDIR",
        "    Return the client ID we are redirecting to when tracking is enabled.",
        "GETNAME",
        "    Return the name of the current connection.",
        "ID",
        "    Return the ID of the current connection.",
        "INFO",
        "    Return information about the current client connection.",
        "KILL <ip:port>",
        "    Kill connection made from <ip:port>.",
        "KILL <option> <value> [<option> <value> [...]]",
        "    Kill connections. Options are:",
        "    * ADDR (<ip:port>|<unixsocket>:0)",
        "      Kill connections made from the specified address",
        "    * LADDR (<ip:port>|<unixsocket>:0)",
        "      Kill connections made to specified local address",
        "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
        "      Kill connections by type.",
        "    * USER <username>",
        "      Kill connections authenticated by <username>.",
        "    * SKIPME (YES|NO)",
        "      Skip killing current connection (default: yes).",
        "LIST [options ...]",
        "    Return information about client connections. Options:",
        "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
        "      Return clients of specified type.",
        "UNPAUSE",
        "    Stop the current client pause, resuming traffic.",
        "PAUSE <timeout> [WRITE|ALL]",
        "    Suspend all, or just write, clients for <timeout> milliseconds.",
        "REPLY (ON|OFF|SKIP)",
        "    Control the replies sent to the current connection.",
        "SETNAME <name>",
        "    Assign the name <name> to the current connection.",
        "UNBLOCK <clientid> [TIMEOUT|ERROR]",
        "    Unblock the specified blocked client.",
        "TRACKING (ON|OFF) [REDIRECT <id>] [BCAST] [PREFIX <prefix> [...]]",
        "         [OPTIN] [OPTOUT] [NOLOOP]",
        "    Control server assisted client side caching.",
        "TRACKINGINFO",
        "    Report tracking status for the current connection.",
        "NO-EVICT (ON|OFF)",
        "    Protect current client connection from eviction.",
        NULL};
    kv_reply_help(c, help);
}

/* --- CONFIG --- */

static char *arg_dup(const kv_arg_t *a) {
    return strndup(a->ptr, a->len);
}

static bool name_taken(kv_arg_t *names, int n, const char *name) {
    for (int i = 0; i < n; i++)
        if (names[i].len == strlen(name) && !strncasecmp(names[i].ptr, name, names[i].len))
            return true;
    return false;
}

void kv_cmd_config_get(kv_client_t *c) {
    kv_arg_t names[256];
    int n = 0;
    for (int i = 2; i < c->argc; i++) {
        const kv_arg_t *p = &c->argv[i];
        char *pat = arg_dup(p);
        if (pat == NULL) continue;
        if (strpbrk(pat, "[*?") == NULL) {
            if (kv_config_canonical(pat) && !name_taken(names, n, pat) && n < 256) {
                names[n].ptr = p->ptr;
                names[n].len = p->len;
                n++;
            }
            free(pat);
            continue;
        }
        free(pat);
        for (size_t r = 0; r < kv_config_count(); r++) {
            const char *alias;
            const char *name = kv_config_name_at(r, &alias);
            const char *cand[2] = {name, alias};
            for (int k = 0; k < 2; k++) {
                if (cand[k] == NULL || name_taken(names, n, cand[k]) || n >= 256) continue;
                if (kv_glob_match(p->ptr, p->len, cand[k], strlen(cand[k]), true)) {
                    names[n].ptr = cand[k];
                    names[n].len = strlen(cand[k]);
                    n++;
                }
            }
        }
    }
    kv_reply_map_len(c, n);
    char value[1024];
    for (int i = 0; i < n; i++) {
        char name[128];
        snprintf(name, sizeof(name), "%.*s", (int)names[i].len, names[i].ptr);
        kv_config_get(&kv_srv.cfg, name, value, sizeof(value));
        kv_reply_bulk(c, names[i].ptr, names[i].len);
        kv_reply_bulk_cstr(c, value);
    }
}

void kv_cmd_config_set(kv_client_t *c) {
    if (c->argc % 2 != 0) {
        kv_reply_syntax_err(c);
        return;
    }
    int npairs = (c->argc - 2) / 2;
    char *names[64], *values[64], *olds[64];
    const char *canon[64];
    if (npairs > 64) {
        kv_reply_error(c, "ERR too many parameters");
        return;
    }
    int i, done = 0;
    for (i = 0; i < npairs; i++)
        names[i] = values[i] = olds[i] = NULL;
    for (i = 0; i < npairs; i++) {
        names[i] = arg_dup(&c->argv[2 + 2 * i]);
        values[i] = arg_dup(&c->argv[3 + 2 * i]);
        if (names[i] == NULL || values[i] == NULL) {
            kv_reply_oom(c);
            goto out;
        }
        canon[i] = kv_config_canonical(names[i]);
        if (canon[i] == NULL) {
            kv_reply_errorf(c, "ERR Unknown option or number of arguments for CONFIG SET - '%s'",
                            names[i]);
            goto out;
        }
        if (kv_config_is_immutable(names[i])) {
            kv_reply_errorf(c,
                            "ERR CONFIG SET failed (possibly related to argument '%s') - can't "
                            "set immutable config",
                            names[i]);
            goto out;
        }
        if (kv_config_is_protected(names[i]) &&
            !protected_action_allowed(c, kv_srv.cfg.enable_protected_configs)) {
            kv_reply_errorf(c,
                            "ERR CONFIG SET failed (possibly related to argument '%s') - can't "
                            "set protected config",
                            names[i]);
            goto out;
        }
        for (int j = 0; j < i; j++) {
            if (canon[j] == canon[i]) {
                kv_reply_errorf(c,
                                "ERR CONFIG SET failed (possibly related to argument '%s') - "
                                "duplicate parameter",
                                names[i]);
                goto out;
            }
        }
    }
    for (i = 0; i < npairs; i++) {
        char old[1024];
        kv_config_get(&kv_srv.cfg, canon[i], old, sizeof(old));
        olds[i] = strdup(old);
    }
    for (done = 0; done < npairs; done++) {
        char err[512];
        if (kv_config_set(&kv_srv.cfg, canon[done], values[done], err, sizeof(err)) != 0) {
            for (int j = done - 1; j >= 0; j--)
                if (olds[j]) kv_config_set(&kv_srv.cfg, canon[j], olds[j], err, sizeof(err));
            kv_reply_errorf(c, "ERR CONFIG SET failed (possibly related to argument '%s') - %s",
                            names[done], err);
            goto out;
        }
    }
    kv_defrag_config_apply();
    /* As Redis's maxmemory apply: a new limit evicts at once (the "evicted" events go out
     * before the reply), not at the next command. */
    for (i = 0; i < npairs; i++)
        if (strcmp(canon[i], "maxmemory") == 0 && kv_srv.cfg.maxmemory) (void)kv_evict_perform();
    if (kv_aof_config_apply() != 0) { /* appendonly yes could not start its rewrite */
        kv_srv.cfg.appendonly = false;
        kv_reply_error(c, "ERR CONFIG SET failed (possibly related to argument 'appendonly') - "
                          "Unable to turn on AOF. Check server logs.");
        goto out;
    }
    kv_reply_ok(c);
out:
    for (i = 0; i < npairs; i++) {
        free(names[i]);
        free(values[i]);
        free(olds[i]);
    }
}

void kv_cmd_config_resetstat(kv_client_t *c) {
    kv_server_reset_stats();
    kv_reply_ok(c);
}

void kv_cmd_config_help(kv_client_t *c) {
    static const char *const help[] = {
        "GET <pattern>",
        "    Return parameters matching the glob-like <pattern> and their values.",
        "SET <directive> <value>",
        "    Set the configuration <directive> to <value>.",
        "RESETSTAT",
        "    Reset statistics reported by the INFO command.",
        "REWRITE",
        "    Rewrite the configuration file.",
        NULL};
    kv_reply_help(c, help);
}
