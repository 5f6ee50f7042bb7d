/* SPDX-License-Identifier: MIT */
/*
 * propagate.c - what a command's effects look like on the append-only file: the command
 * as a client sent it when that replays the same way, else the deterministic form Redis
 * 7.0 propagates (relative expires as PEXPIREAT or SET ... PXAT, INCRBYFLOAT as SET
 * KEEPTTL, SPOP as SREM, expired and evicted keys as DEL, ...).
 *
 * kv_cmd_call brackets every handler call (top level or inside EXEC) with
 * kv_propagate_call_begin/end. Everything propagated while a top-level call runs (lazy
 * expiry DELs, a handler's own kv_propagate_rewrite, the rewritten command) collects in
 * one execution unit; at the end of the top-level call the unit goes to the AOF, wrapped
 * in MULTI/EXEC when it holds more than one command (as Redis 7.0's also_propagate). A
 * command propagates itself only when kv_srv.dirty grew during its call (or its handler
 * forced it: FLUSHALL, FLUSHDB), it ran no nested calls (EXEC) and its handler neither
 * rewrote nor prevented it.
 * Design: docs/kvcore.md#append-only-file.
 */
#include "kv_internal.h"
#include "rdb.h"
#include "t_hash.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

typedef struct op {
    int dbid; /* -1: any db (MULTI, EXEC) */
    size_t off, len;
} op_t;

/* The execution unit: serialized commands waiting for the end of the top-level call. */
static struct {
    char *buf;
    size_t len, cap;
    op_t *ops;
    size_t nops, ops_cap;
    bool oom;
} unit;

static kv_prop_call_t *current; /* the innermost running call, NULL between commands */

/* --- Serialization --- */

static bool unit_reserve(size_t more) {
    if (unit.len + more <= unit.cap) return true;
    size_t ncap = unit.cap ? unit.cap : 256;
    while (ncap < unit.len + more)
        ncap *= 2;
    char *n = realloc(unit.buf, ncap);
    if (n == NULL) return false;
    unit.buf = n;
    unit.cap = ncap;
    return true;
}

static void put_len_line(char prefix, size_t v) {
    char num[24];
    size_t n = kv_ll2str(num, (long long)v);
    unit.buf[unit.len++] = prefix;
    memcpy(unit.buf + unit.len, num, n);
    unit.len += n;
    unit.buf[unit.len++] = '\r';
    unit.buf[unit.len++] = '\n';
}

size_t kv_propagate_encoded_len(const kv_arg_t *argv, int argc) {
    size_t n = 1 + 20 + 2;
    for (int i = 0; i < argc; i++)
        n += 1 + 20 + 2 + argv[i].len + 2;
    return n;
}

/* Appends argv in RESP form to the unit as one op. */
static void unit_add(int dbid, const kv_arg_t *argv, int argc) {
    if (unit.oom) return;
    if (unit.nops == unit.ops_cap) {
        size_t ncap = unit.ops_cap ? unit.ops_cap * 2 : 8;
        op_t *n = realloc(unit.ops, ncap * sizeof(*n));
        if (n == NULL) goto oom;
        unit.ops = n;
        unit.ops_cap = ncap;
    }
    if (!unit_reserve(kv_propagate_encoded_len(argv, argc))) goto oom;
    op_t *op = &unit.ops[unit.nops++];
    op->dbid = dbid;
    op->off = unit.len;
    put_len_line('*', (size_t)argc);
    for (int i = 0; i < argc; i++) {
        put_len_line('$', argv[i].len);
        memcpy(unit.buf + unit.len, argv[i].ptr, argv[i].len);
        unit.len += argv[i].len;
        unit.buf[unit.len++] = '\r';
        unit.buf[unit.len++] = '\n';
    }
    op->len = unit.len - op->off;
    return;
oom:
    /* A command that cannot be recorded would make the file diverge from memory: the
     * write path reports it as an AOF write error (kv_aof_feed_failed). */
    unit.oom = true;
}

static void unit_flush(void) {
    static const char multi[] = "*1\r\n$5\r\nMULTI\r\n", exec[] = "*1\r\n$4\r\nEXEC\r\n";
    if (unit.oom) kv_aof_feed_failed(ENOMEM);
    if (unit.nops > 1) kv_aof_feed(unit.ops[0].dbid, multi, sizeof(multi) - 1);
    for (size_t i = 0; i < unit.nops; i++)
        kv_aof_feed(unit.ops[i].dbid, unit.buf + unit.ops[i].off, unit.ops[i].len);
    if (unit.nops > 1) kv_aof_feed(-1, exec, sizeof(exec) - 1);
    unit.nops = unit.len = 0;
    unit.oom = false;
    if (unit.cap > 65536) {
        free(unit.buf);
        unit.buf = NULL;
        unit.cap = 0;
    }
}

void kv_propagate(int dbid, const kv_arg_t *argv, int argc) {
    if (!kv_aof_wants_feed()) return;
    unit_add(dbid, argv, argc);
    if (current == NULL) unit_flush(); /* cron work (active expiry): a unit of its own */
}

void kv_propagate_del(kv_db_t *db, const char *key, size_t klen, bool lazy) {
    if (!kv_aof_wants_feed()) return;
    kv_arg_t argv[2] = {{lazy ? "UNLINK" : "DEL", lazy ? 6 : 3}, {key, klen}};
    kv_propagate(db->id, argv, 2);
}

void kv_propagate_rewrite(kv_client_t *c, const kv_arg_t *argv, int argc) {
    if (current != NULL) current->replaced = true;
    if (!kv_aof_wants_feed()) return;
    unit_add(c->db ? c->db->id : c->dbid, argv, argc);
}

void kv_propagate_prevent(kv_client_t *c) {
    (void)c;
    if (current != NULL) current->prevented = true;
}

void kv_propagate_force(kv_client_t *c) {
    (void)c;
    if (current != NULL) current->forced = true;
}

/* --- Deterministic forms (Redis 7.0's rewriteClientCommandVector calls) --- */

typedef kv_prop_form_t rw_t;

static void rw_add(rw_t *r, const char *p, size_t len) {
    if (r->argc < KV_PROP_FORM_ARGS) r->argv[r->argc++] = (kv_arg_t){p, len};
}

static void rw_word(rw_t *r, const char *w) {
    rw_add(r, w, strlen(w));
}

static void rw_ll(rw_t *r, int slot, long long v) {
    size_t n = kv_ll2str(r->num[slot], v);
    rw_add(r, r->num[slot], n);
}

/* The key as it is now, without expiring or touching it (the command already ran). */
static kv_obj_t *peek(kv_db_t *db, const kv_arg_t *key) {
    return kv_ht_find(db->keys, key->ptr, key->len);
}

static bool has_option(const kv_client_t *c, int from, const char *const *words) {
    for (int i = from; i < c->argc; i++)
        for (const char *const *w = words; *w; w++)
            if (kv_arg_is(&c->argv[i], *w)) return true;
    return false;
}

/* SET key val PXAT <ms>: the key's expire as the command left it. */
static bool rw_set_pxat(rw_t *r, kv_db_t *db, const kv_arg_t *key, const kv_arg_t *val) {
    kv_obj_t *o = peek(db, key);
    if (o == NULL || kv_obj_expire(o) < 0) return false;
    rw_word(r, "SET");
    rw_add(r, key->ptr, key->len);
    rw_add(r, val->ptr, val->len);
    rw_word(r, "PXAT");
    rw_ll(r, 0, kv_obj_expire(o));
    return true;
}

static bool rw_set(kv_client_t *c, kv_db_t *db, rw_t *r) {
    static const char *const rel[] = {"ex", "px", "exat", NULL};
    if (!has_option(c, 3, rel)) return false;
    return rw_set_pxat(r, db, &c->argv[1], &c->argv[2]);
}

static bool rw_setex(kv_client_t *c, kv_db_t *db, rw_t *r) {
    return rw_set_pxat(r, db, &c->argv[1], &c->argv[3]);
}

static bool rw_del(kv_client_t *c, rw_t *r) {
    rw_word(r, "DEL");
    rw_add(r, c->argv[1].ptr, c->argv[1].len);
    return true;
}

/* EXPIRE family: PEXPIREAT key <ms> [options], or DEL when the time had passed. */
static bool rw_expire(kv_client_t *c, kv_db_t *db, rw_t *r) {
    kv_obj_t *o = peek(db, &c->argv[1]);
    if (o == NULL) return rw_del(c, r);
    if (kv_obj_expire(o) < 0) return false;
    rw_word(r, "PEXPIREAT");
    rw_add(r, c->argv[1].ptr, c->argv[1].len);
    rw_ll(r, 0, kv_obj_expire(o));
    for (int i = 3; i < c->argc && r->argc < KV_PROP_FORM_ARGS; i++)
        rw_add(r, c->argv[i].ptr, c->argv[i].len);
    return true;
}

static bool rw_getex(kv_client_t *c, kv_db_t *db, rw_t *r) {
    static const char *const persist[] = {"persist", NULL};
    kv_obj_t *o = peek(db, &c->argv[1]);
    if (o == NULL) return rw_del(c, r);
    if (has_option(c, 2, persist)) {
        rw_word(r, "PERSIST");
        rw_add(r, c->argv[1].ptr, c->argv[1].len);
        return true;
    }
    if (kv_obj_expire(o) < 0) return false;
    rw_word(r, "PEXPIREAT");
    rw_add(r, c->argv[1].ptr, c->argv[1].len);
    rw_ll(r, 0, kv_obj_expire(o));
    return true;
}

static bool rw_getdel(kv_client_t *c, kv_db_t *db, rw_t *r) {
    (void)db;
    return rw_del(c, r);
}

/* INCRBYFLOAT: SET key <new value> KEEPTTL (float formatting must not differ on replay). */
static bool rw_incrbyfloat(kv_client_t *c, kv_db_t *db, rw_t *r) {
    kv_obj_t *o = peek(db, &c->argv[1]);
    if (o == NULL || o->type != KV_TYPE_STRING) return false;
    size_t len;
    const char *v = kv_obj_str(o, r->num[1], &len);
    rw_word(r, "SET");
    rw_add(r, c->argv[1].ptr, c->argv[1].len);
    rw_add(r, v, len);
    rw_word(r, "KEEPTTL");
    return true;
}

/* HINCRBYFLOAT: HSET key field <new value>. */
static bool rw_hincrbyfloat(kv_client_t *c, kv_db_t *db, rw_t *r) {
    kv_obj_t *o = peek(db, &c->argv[1]);
    kv_arg_t val;
    if (o == NULL || o->type != KV_TYPE_HASH || !kv_hash_get(o, &c->argv[2], &val, r->num[1]))
        return false;
    rw_word(r, "HSET");
    rw_add(r, c->argv[1].ptr, c->argv[1].len);
    rw_add(r, c->argv[2].ptr, c->argv[2].len);
    rw_add(r, val.ptr, val.len);
    return true;
}

/* RESTORE with a relative TTL: RESTORE key <ms> payload [options] ABSTTL. */
static bool rw_restore(kv_client_t *c, kv_db_t *db, rw_t *r) {
    static const char *const absttl[] = {"absttl", NULL};
    if (kv_arg_is(&c->argv[2], "0") || has_option(c, 4, absttl)) return false;
    kv_obj_t *o = peek(db, &c->argv[1]);
    if (o == NULL || kv_obj_expire(o) < 0 || c->argc + 1 > KV_PROP_FORM_ARGS) return false;
    rw_word(r, "RESTORE");
    rw_add(r, c->argv[1].ptr, c->argv[1].len);
    rw_ll(r, 0, kv_obj_expire(o));
    for (int i = 3; i < c->argc; i++)
        rw_add(r, c->argv[i].ptr, c->argv[i].len);
    rw_word(r, "ABSTTL");
    return true;
}

typedef bool (*rw_fn)(kv_client_t *c, kv_db_t *db, rw_t *r);

static const struct {
    kv_cmd_fn cmd;
    rw_fn rewrite;
} rewrites[] = {
    {kv_cmd_set, rw_set},
    {kv_cmd_setex, rw_setex},
    {kv_cmd_psetex, rw_setex},
    {kv_cmd_expire, rw_expire},
    {kv_cmd_pexpire, rw_expire},
    {kv_cmd_expireat, rw_expire},
    {kv_cmd_pexpireat, rw_expire},
    {kv_cmd_getex, rw_getex},
    {kv_cmd_getdel, rw_getdel},
    {kv_cmd_incrbyfloat, rw_incrbyfloat},
    {kv_cmd_hincrbyfloat, rw_hincrbyfloat},
    {kv_cmd_restore, rw_restore},
};

bool kv_propagate_form(kv_client_t *c, const kv_cmd_t *cmd, kv_prop_form_t *form) {
    form->argc = 0;
    for (size_t i = 0; i < sizeof(rewrites) / sizeof(rewrites[0]); i++)
        if (rewrites[i].cmd == cmd->fn) return rewrites[i].rewrite(c, c->db, form);
    return false;
}

/* --- Calls --- */

void kv_propagate_call_begin(kv_prop_call_t *pc, kv_client_t *c, const kv_cmd_t *cmd) {
    (void)cmd;
    pc->outer = current;
    pc->dirty = kv_srv.dirty;
    pc->dbid = c->db ? c->db->id : c->dbid;
    pc->replaced = pc->prevented = pc->nested = pc->forced = false;
    if (current != NULL) current->nested = true;
    current = pc;
}

static __attribute__((noinline)) void call_end(kv_prop_call_t *pc, kv_client_t *c,
                                               const kv_cmd_t *cmd) {
    bool self =
        (kv_srv.dirty > pc->dirty || pc->forced) && !pc->replaced && !pc->prevented && !pc->nested;
    if (self && kv_aof_wants_feed()) {
        kv_prop_form_t form;
        if (kv_propagate_form(c, cmd, &form))
            unit_add(pc->dbid, form.argv, form.argc);
        else
            unit_add(pc->dbid, c->argv, c->argc);
    }
    if (current == NULL && unit.nops > 0) unit_flush();
}

void kv_propagate_call_end(kv_prop_call_t *pc, kv_client_t *c, const kv_cmd_t *cmd) {
    current = pc->outer;
    /* appendonly off (its gate bit clear): nothing to add, and nothing to flush unless
     * it was turned off while this unit collected. */
    if ((kv_cmd_gates & KV_GATE_AOF) || unit.nops > 0) call_end(pc, c, cmd);
}

void kv_propagate_fini(void) {
    free(unit.buf);
    free(unit.ops);
    memset(&unit, 0, sizeof(unit));
}
