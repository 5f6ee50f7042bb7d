/* SPDX-License-Identifier: MIT */
/*
 * tracking.c - CLIENT TRACKING: server-assisted client-side caching, as Redis 7.0.
 *
 * Default mode: after a read-only command of a tracking client (in OPTIN mode only after
 * CLIENT CACHING yes, in OPTOUT mode unless CLIENT CACHING no), the keys it read are
 * remembered in the tracking table (key name -> ids of the clients that read it, for
 * every db). When such a key changes (kv_signal_modified_key) each of those clients gets
 * one invalidation message and the key leaves the table: a RESP3 push
 * [invalidate, [key]] on its own connection, or, with REDIRECT to a RESP2 client that
 * subscribed, a pub/sub message on __redis__:invalidate. NOLOOP spares the client that
 * made the change; a change made by the tracking client itself is sent after the reply of
 * its command. A flush sends every tracking client a null invalidation (all keys).
 *
 * BCAST mode: nothing is remembered; a changed key that starts with one of the prefixes
 * (none = every key) is collected per prefix and the collected keys go out in one message
 * per client before the loop sleeps.
 */
#include "kv_internal.h"

#include <stdlib.h>
#include <string.h>

/* --- The tracking table: key -> client ids --- */

typedef struct tkey {
    struct tkey *next;
    uint64_t *ids;
    uint32_t nids, cap;
    size_t klen;
    char key[];
} tkey_t;

static tkey_t **table;
static size_t table_size, table_keys, table_items;
static void signal_gate_update(void);

static size_t bucket(const char *key, size_t klen) {
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < klen; i++)
        h = (h ^ (unsigned char)key[i]) * 1099511628211ull;
    return (size_t)h & (table_size - 1);
}

static tkey_t **find_slot(const char *key, size_t klen) {
    if (table_size == 0) return NULL;
    tkey_t **pp = &table[bucket(key, klen)];
    while (*pp && !((*pp)->klen == klen && memcmp((*pp)->key, key, klen) == 0))
        pp = &(*pp)->next;
    return pp;
}

static int grow_table(void) {
    size_t size = table_size ? table_size * 2 : 64;
    tkey_t **t = calloc(size, sizeof(*t));
    if (t == NULL) return -1;
    size_t old = table_size;
    tkey_t **ot = table;
    table = t;
    table_size = size;
    for (size_t i = 0; i < old; i++) {
        for (tkey_t *k = ot[i], *n; k; k = n) {
            n = k->next;
            size_t b = bucket(k->key, k->klen);
            k->next = table[b];
            table[b] = k;
        }
    }
    free(ot);
    return 0;
}

static void remember(const char *key, size_t klen, uint64_t id) {
    if (table_keys >= table_size && grow_table() != 0) return;
    tkey_t **pp = find_slot(key, klen);
    tkey_t *k = *pp;
    if (k == NULL) {
        k = calloc(1, sizeof(*k) + klen);
        if (k == NULL) return;
        memcpy(k->key, key, klen);
        k->klen = klen;
        *pp = k;
        table_keys++;
        signal_gate_update();
    }
    for (uint32_t i = 0; i < k->nids; i++)
        if (k->ids[i] == id) return;
    if (k->nids == k->cap) {
        uint32_t cap = k->cap ? k->cap * 2 : 2;
        uint64_t *ids = realloc(k->ids, cap * sizeof(*ids));
        if (ids == NULL) return;
        k->ids = ids;
        k->cap = cap;
    }
    k->ids[k->nids++] = id;
    table_items++;
}

static void free_tkey(tkey_t *k) {
    table_items -= k->nids;
    table_keys--;
    signal_gate_update();
    free(k->ids);
    free(k);
}

static void clear_table(void) {
    for (size_t i = 0; i < table_size; i++) {
        for (tkey_t *k = table[i], *n; k; k = n) {
            n = k->next;
            free_tkey(k);
        }
    }
    free(table);
    table = NULL;
    table_size = 0;
}

/* --- BCAST prefixes --- */

typedef struct pkey {
    uint64_t by; /* the client that changed it (NOLOOP), 0 for none */
    size_t klen;
    char key[];
} pkey_t;

typedef struct prefix {
    char *p;
    size_t len;
    kv_client_t **clients;
    size_t nclients, ccap;
    pkey_t **keys; /* changed since the last broadcast */
    size_t nkeys, kcap;
} prefix_t;

static prefix_t **prefixes;
static size_t nprefixes;
static size_t tracking_clients;

/* kv_signal_modified_key calls in only while a client tracks or keys are remembered. */
static void signal_gate_update(void) {
    kv_signal_gate_set(KV_SIGNAL_TRACKING, tracking_clients > 0 || table_keys > 0);
}

static prefix_t *prefix_find(const char *p, size_t len) {
    for (size_t i = 0; i < nprefixes; i++)
        if (prefixes[i]->len == len && memcmp(prefixes[i]->p, p, len) == 0) return prefixes[i];
    return NULL;
}

static void prefix_free_keys(prefix_t *px) {
    for (size_t i = 0; i < px->nkeys; i++)
        free(px->keys[i]);
    px->nkeys = 0;
}

static void prefix_drop(prefix_t *px) {
    for (size_t i = 0; i < nprefixes; i++) {
        if (prefixes[i] != px) continue;
        prefixes[i] = prefixes[--nprefixes];
        break;
    }
    prefix_free_keys(px);
    free(px->keys);
    free(px->clients);
    free(px->p);
    free(px);
}

static int prefix_add_client(const char *p, size_t len, kv_client_t *c) {
    prefix_t *px = prefix_find(p, len);
    if (px == NULL) {
        prefix_t **np = realloc(prefixes, (nprefixes + 1) * sizeof(*np));
        if (np == NULL) return -1;
        prefixes = np;
        px = calloc(1, sizeof(*px));
        if (px == NULL || (px->p = malloc(len ? len : 1)) == NULL) {
            free(px);
            return -1;
        }
        memcpy(px->p, p, len);
        px->len = len;
        prefixes[nprefixes++] = px;
    }
    for (size_t i = 0; i < px->nclients; i++)
        if (px->clients[i] == c) return 0;
    if (px->nclients == px->ccap) {
        size_t cap = px->ccap ? px->ccap * 2 : 4;
        kv_client_t **cl = realloc(px->clients, cap * sizeof(*cl));
        if (cl == NULL) return -1;
        px->clients = cl;
        px->ccap = cap;
    }
    px->clients[px->nclients++] = c;
    return 0;
}

static void prefix_remove_client(const char *p, size_t len, kv_client_t *c) {
    prefix_t *px = prefix_find(p, len);
    if (px == NULL) return;
    for (size_t i = 0; i < px->nclients; i++) {
        if (px->clients[i] != c) continue;
        px->clients[i] = px->clients[--px->nclients];
        break;
    }
    if (px->nclients == 0) prefix_drop(px);
}

static void prefix_note_key(prefix_t *px, const char *key, size_t klen, uint64_t by) {
    for (size_t i = 0; i < px->nkeys; i++) {
        if (px->keys[i]->klen == klen && memcmp(px->keys[i]->key, key, klen) == 0) {
            px->keys[i]->by = by;
            return;
        }
    }
    if (px->nkeys == px->kcap) {
        size_t cap = px->kcap ? px->kcap * 2 : 8;
        pkey_t **k = realloc(px->keys, cap * sizeof(*k));
        if (k == NULL) return;
        px->keys = k;
        px->kcap = cap;
    }
    pkey_t *k = malloc(sizeof(*k) + klen);
    if (k == NULL) return;
    k->by = by;
    k->klen = klen;
    memcpy(k->key, key, klen);
    px->keys[px->nkeys++] = k;
}

/* --- Messages --- */

/* Invalidations are pushes: CLIENT REPLY OFF/SKIP let them through (reply.c). */
static bool push_begin(kv_client_t *c) {
    bool was = (c->flags & KV_CLIENT_PUSHING) != 0;
    c->flags |= KV_CLIENT_PUSHING;
    return was;
}

static void push_end(kv_client_t *c, bool was) {
    if (!was) c->flags &= ~KV_CLIENT_PUSHING;
}

/*
 * Where c's invalidations go: c itself, or its redirect target (NULL when that client is
 * gone: c is flagged broken and, in RESP3, told so once per message). *redir says which.
 */
static kv_client_t *message_target(kv_client_t *c, bool *redir) {
    kv_client_ext_t *x = c->ext;
    *redir = false;
    if (x == NULL || x->trk_redirect == 0) return c;
    kv_client_t *t = kv_client_by_id(x->trk_redirect);
    if (t == NULL || (t->flags & KV_CLIENT_CLOSE_ASAP)) {
        x->trk |= KV_TRK_BROKEN_REDIR;
        if (c->resp > 2) {
            bool was = push_begin(c);
            kv_reply_push_len(c, 2);
            kv_reply_bulk_cstr(c, "tracking-redir-broken");
            kv_reply_int(c, (long long)x->trk_redirect);
            push_end(c, was);
        }
        return NULL;
    }
    *redir = true;
    return t;
}

/* The head of an invalidation message: true when the keys part should follow. */
static bool message_head(kv_client_t *t, bool redir) {
    if (t->resp > 2) {
        kv_reply_push_len(t, 2);
        kv_reply_bulk_cstr(t, "invalidate");
        return true;
    }
    if (redir && (t->flags & KV_CLIENT_PUBSUB)) {
        kv_reply_array_len(t, 3);
        kv_reply_bulk_cstr(t, "message");
        kv_reply_bulk_cstr(t, "__redis__:invalidate");
        return true;
    }
    return false; /* RESP2 without redirection: nowhere to send it */
}

static void send_key(kv_client_t *c, const char *key, size_t klen) {
    bool redir;
    kv_client_t *t = message_target(c, &redir);
    if (t == NULL) return;
    bool was = push_begin(t);
    if (message_head(t, redir)) {
        kv_reply_array_len(t, 1);
        kv_reply_bulk(t, key, klen);
    }
    push_end(t, was);
}

static void send_flush(kv_client_t *c) {
    bool redir;
    kv_client_t *t = message_target(c, &redir);
    if (t == NULL) return;
    bool was = push_begin(t);
    /* The null of the tracking client's protocol, as Redis sends it. */
    if (message_head(t, redir))
        kv_reply_raw(t, c->resp > 2 ? "_\r\n" : "$-1\r\n", c->resp > 2 ? 3 : 5);
    push_end(t, was);
}

/* Keys a running command invalidated for its own client: sent after its reply. */
typedef struct pending {
    char *key; /* NULL: a flush */
    size_t klen;
} pending_t;
static pending_t *pending;
static size_t npending, pending_cap;
static kv_client_t *pending_client;
/* npending != 0, read inline by kv_client_after_call. */
bool kv_tracking_pending;

static void pend(kv_client_t *c, const char *key, size_t klen) {
    if (npending == pending_cap) {
        size_t cap = pending_cap ? pending_cap * 2 : 8;
        pending_t *p = realloc(pending, cap * sizeof(*p));
        if (p == NULL) return;
        pending = p;
        pending_cap = cap;
    }
    char *copy = NULL;
    if (key != NULL && (copy = malloc(klen ? klen : 1)) == NULL) return;
    if (copy) memcpy(copy, key, klen);
    pending[npending].key = copy;
    pending[npending].klen = klen;
    npending++;
    pending_client = c;
    kv_tracking_pending = true;
}

static void flush_pending(void) {
    for (size_t i = 0; i < npending; i++) {
        kv_client_t *c = pending_client;
        if (c && (c->flags & KV_CLIENT_TRACKING)) {
            if (pending[i].key)
                send_key(c, pending[i].key, pending[i].klen);
            else
                send_flush(c);
        }
        free(pending[i].key);
    }
    npending = 0;
    pending_client = NULL;
    kv_tracking_pending = false;
}

/* A blocked client being served (blocked.c): its reply is written outside a call. */
static kv_client_t *held_client;

void kv_tracking_hold(kv_client_t *c, bool hold) {
    held_client = hold ? c : NULL;
    if (!hold && npending && pending_client == c) flush_pending();
}

/* Is c running a command (its own, a queued one in EXEC, or one served after blocking)?
 * Then its messages wait for that command's reply. */
static bool is_running(const kv_client_t *c) {
    return c->cmd != NULL || c == held_client;
}

/* --- Signals --- */

void kv_tracking_invalidate_key(kv_client_t *by, const char *key, size_t klen) {
    if (tracking_clients == 0 && table_keys == 0) return;
    for (size_t i = 0; i < nprefixes; i++) {
        prefix_t *px = prefixes[i];
        if (klen >= px->len && memcmp(key, px->p, px->len) == 0)
            prefix_note_key(px, key, klen, by ? by->id : 0);
    }
    tkey_t **pp = find_slot(key, klen);
    if (pp == NULL || *pp == NULL) return;
    tkey_t *k = *pp;
    *pp = k->next;
    for (uint32_t i = 0; i < k->nids; i++) {
        kv_client_t *t = kv_client_by_id(k->ids[i]);
        if (t == NULL || !(t->flags & KV_CLIENT_TRACKING) || !t->ext ||
            (t->ext->trk & KV_TRK_BCAST))
            continue;
        if ((t->ext->trk & KV_TRK_NOLOOP) && t == by) continue;
        if (is_running(t))
            pend(t, key, klen);
        else
            send_key(t, key, klen);
    }
    free_tkey(k);
}

/* A FLUSHALL signals each db: one flush message per command, as Redis sends. */
static uint64_t last_flush_cmd = UINT64_MAX;

void kv_tracking_invalidate_all(void) {
    if (last_flush_cmd == kv_srv.stat_numcommands && kv_srv.current_client != NULL) return;
    last_flush_cmd = kv_srv.stat_numcommands;
    if (tracking_clients > 0) {
        for (kv_client_t *c = kv_srv.clients; c; c = c->next) {
            if (!(c->flags & KV_CLIENT_TRACKING)) continue;
            if (is_running(c))
                pend(c, NULL, 0);
            else
                send_flush(c);
        }
    }
    clear_table();
}

void kv_tracking_after_command(kv_client_t *c, const kv_cmd_t *cmd) {
    if (npending && pending_client == c && c->cmd == NULL) flush_pending();
    if (!(c->flags & KV_CLIENT_TRACKING) || c->ext == NULL) return;
    kv_client_ext_t *x = c->ext;
    bool caching = (x->trk & KV_TRK_CACHING) != 0;
    /* CLIENT CACHING applies to the next command: any CLIENT subcommand keeps it. */
    const kv_cmd_t *top = cmd->parent ? cmd->parent : cmd;
    if (strcmp(top->name, "client") != 0 && !(c->flags & KV_CLIENT_MULTI))
        x->trk &= ~KV_TRK_CACHING;
    if (!(cmd->flags & KV_CMD_READONLY) || (x->trk & KV_TRK_BCAST)) return;
    if ((x->trk & KV_TRK_OPTIN) && !caching) return;
    if ((x->trk & KV_TRK_OPTOUT) && caching) return;
    kv_keyref_t *keys;
    int n = kv_cmd_get_keys(cmd, c->argv, c->argc, &keys);
    for (int i = 0; i < n; i++)
        remember(c->argv[keys[i].pos].ptr, c->argv[keys[i].pos].len, c->id);
    if (n > 0) free(keys);
}

/* tracking-table-max-keys: over it, keys leave the table (their clients invalidated as
 * if the keys changed), with an effort that grows while the table stays over the limit. */
static void limit_table(void) {
    static unsigned rounds;
    static size_t cursor;
    long long max = kv_srv.cfg.tracking_table_max_keys;
    if (max <= 0 || table_keys <= (size_t)max) {
        rounds = 0;
        return;
    }
    for (int effort = 100 * (int)(rounds + 1); effort > 0 && table_keys > (size_t)max; effort--) {
        while (table[cursor & (table_size - 1)] == NULL)
            cursor++;
        tkey_t *k = table[cursor & (table_size - 1)];
        kv_tracking_invalidate_key(NULL, k->key, k->klen);
    }
    rounds = table_keys > (size_t)max ? rounds + 1 : 0;
}

/* Before the loop sleeps: the table's size limit, then each BCAST client gets the keys
 * changed under its prefixes (NOLOOP: not those it changed itself), one message per
 * prefix. */
void kv_tracking_before_sleep(void) {
    if (tracking_clients > 0 || table_keys > 0) limit_table();
    for (size_t i = 0; i < nprefixes; i++) {
        prefix_t *px = prefixes[i];
        if (px->nkeys == 0) continue;
        for (size_t j = 0; j < px->nclients; j++) {
            kv_client_t *c = px->clients[j];
            bool noloop = c->ext && (c->ext->trk & KV_TRK_NOLOOP);
            long n = 0;
            for (size_t k = 0; k < px->nkeys; k++)
                if (!(noloop && px->keys[k]->by == c->id)) n++;
            if (n == 0) continue;
            bool redir;
            kv_client_t *t = message_target(c, &redir);
            if (t == NULL) continue;
            bool was = push_begin(t);
            if (message_head(t, redir)) {
                kv_reply_array_len(t, n);
                for (size_t k = 0; k < px->nkeys; k++)
                    if (!(noloop && px->keys[k]->by == c->id))
                        kv_reply_bulk(t, px->keys[k]->key, px->keys[k]->klen);
            }
            push_end(t, was);
        }
        prefix_free_keys(px);
    }
}

/* --- CLIENT TRACKING --- */

void kv_tracking_disable(kv_client_t *c) {
    if (!(c->flags & KV_CLIENT_TRACKING)) return;
    kv_client_ext_t *x = c->ext;
    if (x != NULL) {
        if (x->trk & KV_TRK_BCAST) {
            for (int i = 0; i < x->nprefixes; i++) {
                prefix_remove_client(x->prefixes[i].ptr, x->prefixes[i].len, c);
                free((char *)x->prefixes[i].ptr);
            }
        }
        free(x->prefixes);
        x->prefixes = NULL;
        x->nprefixes = 0;
        x->trk = 0;
        x->trk_redirect = 0;
    }
    if (pending_client == c) pending_client = NULL;
    c->flags &= ~KV_CLIENT_TRACKING;
    tracking_clients--;
    signal_gate_update();
}

/* Two prefixes overlap when one starts with the other. */
static bool overlaps(const char *a, size_t alen, const char *b, size_t blen) {
    return memcmp(a, b, alen < blen ? alen : blen) == 0;
}

static bool prefixes_ok_or_reply(kv_client_t *c, const kv_arg_t *np, int n) {
    kv_client_ext_t *x = c->ext;
    for (int i = 0; i < n; i++) {
        for (int j = 0; x && j < x->nprefixes; j++) {
            if (!overlaps(x->prefixes[j].ptr, x->prefixes[j].len, np[i].ptr, np[i].len)) continue;
            kv_reply_errorf(c,
                            "ERR Prefix '%.*s' overlaps with an existing prefix '%.*s'. Prefixes "
                            "for a single client must not overlap.",
                            (int)np[i].len, np[i].ptr, (int)x->prefixes[j].len, x->prefixes[j].ptr);
            return false;
        }
        for (int j = i + 1; j < n; j++) {
            if (!overlaps(np[i].ptr, np[i].len, np[j].ptr, np[j].len)) continue;
            kv_reply_errorf(c,
                            "ERR Prefix '%.*s' overlaps with another provided prefix '%.*s'. "
                            "Prefixes for a single client must not overlap.",
                            (int)np[i].len, np[i].ptr, (int)np[j].len, np[j].ptr);
            return false;
        }
    }
    return true;
}

typedef struct trk_opts {
    uint32_t trk;
    long long redir;
    kv_arg_t *prefixes;
    int nprefixes;
} trk_opts_t;

/* Parses the options after ON|OFF, replying the error: 0 or -1. */
static int parse_opts(kv_client_t *c, trk_opts_t *o) {
    for (int j = 3; j < c->argc; j++) {
        bool more = j + 1 < c->argc;
        const kv_arg_t *a = &c->argv[j];
        if (kv_arg_is(a, "redirect") && more) {
            j++;
            if (o->redir != 0) {
                kv_reply_error(c, "ERR A client can only redirect to a single other client");
                return -1;
            }
            if (kv_arg_ll_or_reply(c, &c->argv[j], &o->redir, NULL) != 0) return -1;
            if (kv_client_by_id((uint64_t)o->redir) == NULL) {
                kv_reply_error(c, "ERR The client ID you want redirect to does not exist");
                return -1;
            }
        } else if (kv_arg_is(a, "bcast")) {
            o->trk |= KV_TRK_BCAST;
        } else if (kv_arg_is(a, "optin")) {
            o->trk |= KV_TRK_OPTIN;
        } else if (kv_arg_is(a, "optout")) {
            o->trk |= KV_TRK_OPTOUT;
        } else if (kv_arg_is(a, "noloop")) {
            o->trk |= KV_TRK_NOLOOP;
        } else if (kv_arg_is(a, "prefix") && more) {
            o->prefixes[o->nprefixes++] = c->argv[++j];
        } else {
            kv_reply_syntax_err(c);
            return -1;
        }
    }
    return 0;
}

static const char *mode_error(const kv_client_t *c, const trk_opts_t *o) {
    uint32_t cur = (c->flags & KV_CLIENT_TRACKING) && c->ext ? c->ext->trk : 0;
    if (!(o->trk & KV_TRK_BCAST) && o->nprefixes)
        return "ERR PREFIX option requires BCAST mode to be enabled";
    if ((c->flags & KV_CLIENT_TRACKING) && ((cur ^ o->trk) & KV_TRK_BCAST))
        return "ERR You can't switch BCAST mode on/off before disabling tracking for this client, "
               "and then re-enabling it with a different mode.";
    if ((o->trk & KV_TRK_BCAST) && (o->trk & (KV_TRK_OPTIN | KV_TRK_OPTOUT)))
        return "ERR OPTIN and OPTOUT are not compatible with BCAST";
    if ((o->trk & KV_TRK_OPTIN) && (o->trk & KV_TRK_OPTOUT))
        return "ERR You can't specify both OPTIN mode and OPTOUT mode";
    if (((o->trk & KV_TRK_OPTIN) && (cur & KV_TRK_OPTOUT)) ||
        ((o->trk & KV_TRK_OPTOUT) && (cur & KV_TRK_OPTIN)))
        return "ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, "
               "and then re-enabling it with a different mode.";
    return NULL;
}

/* Turns tracking on with o (or adds prefixes to a BCAST client): 0 or -1 (OOM). */
static int enable(kv_client_t *c, const trk_opts_t *o) {
    kv_client_ext_t *x = kv_client_ext_get(c);
    if (x == NULL) return -1;
    kv_arg_t *np = realloc(x->prefixes, (size_t)(x->nprefixes + o->nprefixes + 1) * sizeof(*np));
    if (np == NULL) return -1;
    x->prefixes = np;
    if (!(c->flags & KV_CLIENT_TRACKING)) {
        c->flags |= KV_CLIENT_TRACKING;
        tracking_clients++;
        signal_gate_update();
        x->trk = 0;
    }
    x->trk = (x->trk & KV_TRK_CACHING) | o->trk;
    x->trk_redirect = (uint64_t)o->redir;
    if (!(o->trk & KV_TRK_BCAST)) return 0;
    static const kv_arg_t everything = {"", 0};
    const kv_arg_t *add = o->nprefixes ? o->prefixes : &everything;
    int nadd = o->nprefixes ? o->nprefixes : x->nprefixes == 0;
    for (int i = 0; i < nadd; i++) {
        char *copy = malloc(add[i].len ? add[i].len : 1);
        if (copy == NULL || prefix_add_client(add[i].ptr, add[i].len, c) != 0) {
            free(copy);
            return -1;
        }
        memcpy(copy, add[i].ptr, add[i].len);
        x->prefixes[x->nprefixes].ptr = copy;
        x->prefixes[x->nprefixes].len = add[i].len;
        x->nprefixes++;
    }
    return 0;
}

/* CLIENT TRACKING ON|OFF [REDIRECT id] [BCAST] [PREFIX p ...] [OPTIN] [OPTOUT] [NOLOOP] */
void kv_cmd_client_tracking(kv_client_t *c) {
    trk_opts_t o = {0, 0, NULL, 0};
    o.prefixes = malloc((size_t)c->argc * sizeof(*o.prefixes));
    if (o.prefixes == NULL) {
        kv_reply_oom(c);
        return;
    }
    if (parse_opts(c, &o) != 0) goto done;
    if (kv_arg_is(&c->argv[2], "on")) {
        const char *err = mode_error(c, &o);
        if (err != NULL) {
            kv_reply_error(c, err);
            goto done;
        }
        if ((o.trk & KV_TRK_BCAST) && !prefixes_ok_or_reply(c, o.prefixes, o.nprefixes)) goto done;
        if (enable(c, &o) != 0) {
            kv_reply_oom(c);
            goto done;
        }
    } else if (kv_arg_is(&c->argv[2], "off")) {
        kv_tracking_disable(c);
    } else {
        kv_reply_syntax_err(c);
        goto done;
    }
    kv_reply_ok(c);
done:
    free(o.prefixes);
}

void kv_tracking_info(size_t *clients, size_t *keys, size_t *items, size_t *nprefix) {
    *clients = tracking_clients;
    *keys = table_keys;
    *items = table_items;
    *nprefix = nprefixes;
}
