/* SPDX-License-Identifier: MIT */
/*
 * multi.c - transactions: MULTI, EXEC, DISCARD, WATCH and UNWATCH with Redis 7.0's
 * semantics and texts.
 *
 * A client's state (struct kv_multi, made by its first MULTI or WATCH, freed once it holds
 * nothing) is its queue and its watches. A queued command is one allocation: its argv
 * array followed by a NUL-terminated copy of every argument (the originals point into the
 * query buffer, which the next read reuses). Each db has an index, key -> the watches on
 * it (a kv_ht of wkey_t, made with its first watch and freed with its last), so a signal
 * finds a key's watchers with one lookup.
 *
 * Invariants: a watch is on its client's list and on its key's list; a wkey_t exists iff
 * it has a watcher; a client watches a (db, key) at most once; the queue is empty while
 * the client is flagged DIRTY_CAS or DIRTY_EXEC (EXEC will fail: nothing is kept). The
 * queue and the watches count against client-query-buffer-limit (docs/kvcore.md).
 */
#include "kv_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

typedef struct watch watch_t;

/* One watched key of one db: the index entry. */
typedef struct wkey {
    watch_t *watchers; /* linked through kprev/knext */
    size_t klen;
    char key[];
} wkey_t;

/* One client watching one key. */
struct watch {
    wkey_t *wk;
    kv_client_t *client;
    int dbid;
    bool expired; /* the key was already logically expired when WATCH ran */
    watch_t *kprev, *knext;
    watch_t *cnext; /* the client's other watches */
};

typedef struct queued {
    kv_cmd_t *cmd;
    int argc;
    kv_arg_t *argv; /* the allocation holding the array and the bytes */
    size_t bytes;   /* its size */
} queued_t;

struct kv_multi {
    queued_t *q;
    size_t n, cap;
    size_t qbytes;   /* bytes of the queued commands' allocations */
    uint32_t qflags; /* every queued command's flags, or-ed (EXEC's denyoom) */
    watch_t *watches;
    size_t nwatches;
    size_t wbytes; /* watches and their keys' bytes */
};

/* Per db id: the watched-key index, NULL when nothing is watched there. */
static kv_ht_t **index_of;
static size_t nwatched_keys;
static size_t nwatching_clients;

static const void *wkey_key(const void *entry, size_t *len) {
    const wkey_t *wk = entry;
    *len = wk->klen;
    return wk->key;
}

static const kv_ht_type_t wkey_type = {.entry_key = wkey_key};

/* --- Client state --- */

static struct kv_multi *state_get(kv_client_t *c) {
    if (c->multi == NULL) c->multi = calloc(1, sizeof(*c->multi));
    return c->multi;
}

static void queue_free(struct kv_multi *m) {
    for (size_t i = 0; i < m->n; i++)
        free(m->q[i].argv);
    free(m->q);
    m->q = NULL;
    m->n = m->cap = m->qbytes = 0;
    m->qflags = 0;
}

/* Frees the state of a client that is not in MULTI and watches nothing. */
static void state_release_if_idle(kv_client_t *c) {
    struct kv_multi *m = c->multi;
    if (m == NULL || (c->flags & KV_CLIENT_MULTI) || m->watches != NULL || m->n != 0) return;
    free(m->q);
    free(m);
    c->multi = NULL;
}

/* Copies c's argv into one allocation and appends it. 0 or -ENOMEM (nothing queued). */
static int queue_push(struct kv_multi *m, kv_client_t *c, kv_cmd_t *cmd) {
    if (m->n == m->cap) {
        size_t ncap = m->cap ? m->cap * 2 : 4;
        queued_t *q = realloc(m->q, ncap * sizeof(*q));
        if (q == NULL) return -ENOMEM;
        m->q = q;
        m->cap = ncap;
    }
    size_t bytes = (size_t)c->argc * sizeof(kv_arg_t);
    for (int i = 0; i < c->argc; i++)
        bytes += c->argv[i].len + 1;
    kv_arg_t *argv = malloc(bytes);
    if (argv == NULL) return -ENOMEM;
    char *p = (char *)(argv + c->argc);
    for (int i = 0; i < c->argc; i++) {
        memcpy(p, c->argv[i].ptr, c->argv[i].len);
        p[c->argv[i].len] = '\0';
        argv[i].ptr = p;
        argv[i].len = c->argv[i].len;
        p += c->argv[i].len + 1;
    }
    m->q[m->n++] = (queued_t){cmd, c->argc, argv, bytes};
    m->qbytes += bytes;
    m->qflags |= cmd->flags;
    return 0;
}

/* --- The watched-key index --- */

/* Frees db's index when it is empty, and the array when nothing is watched anywhere. */
static void index_trim(int dbid) {
    if (index_of == NULL) return;
    if (index_of[dbid] != NULL && kv_ht_size(index_of[dbid]) == 0) {
        kv_ht_free(index_of[dbid]);
        index_of[dbid] = NULL;
    }
    if (nwatched_keys == 0) {
        for (int i = 0; i < kv_srv.ndbs; i++)
            kv_ht_free(index_of[i]);
        free(index_of);
        index_of = NULL;
    }
}

static kv_ht_t *index_get(int dbid) {
    if (index_of == NULL || dbid < 0 || dbid >= kv_srv.ndbs) return NULL;
    return index_of[dbid];
}

static void unlink_watch(watch_t *w) {
    wkey_t *wk = w->wk;
    if (w->kprev != NULL)
        w->kprev->knext = w->knext;
    else
        wk->watchers = w->knext;
    if (w->knext != NULL) w->knext->kprev = w->kprev;
    if (wk->watchers != NULL) return;
    kv_ht_pop(index_of[w->dbid], wk->key, wk->klen);
    free(wk);
    nwatched_keys--;
    kv_signal_gate_set(KV_SIGNAL_WATCH, nwatched_keys > 0);
    index_trim(w->dbid);
}

/* Drops every watch of c (the caller clears DIRTY_CAS and releases the state). */
static void unwatch_all(kv_client_t *c) {
    struct kv_multi *m = c->multi;
    if (m == NULL || m->watches == NULL) return;
    watch_t *next;
    for (watch_t *w = m->watches; w != NULL; w = next) {
        next = w->cnext;
        unlink_watch(w);
        free(w);
    }
    m->watches = NULL;
    m->nwatches = m->wbytes = 0;
    nwatching_clients--;
}

/* True when the key is in db and logically expired (not deleted here, as Redis's
 * keyIsExpired). */
static bool key_is_expired(kv_db_t *db, const char *key, size_t klen) {
    kv_obj_t *o = kv_ht_find(db->keys, key, klen);
    return o != NULL && kv_db_key_is_expired(o);
}

/* c watches key in its db. 0 (also when it already did) or -ENOMEM (nothing added). */
static int watch_key(kv_client_t *c, struct kv_multi *m, const kv_arg_t *key) {
    int dbid = c->dbid;
    if (index_of == NULL) {
        index_of = calloc((size_t)kv_srv.ndbs, sizeof(*index_of));
        if (index_of == NULL) return -ENOMEM;
    }
    if (index_of[dbid] == NULL && (index_of[dbid] = kv_ht_new(&wkey_type)) == NULL) {
        index_trim(dbid);
        return -ENOMEM;
    }
    wkey_t *wk = kv_ht_find(index_of[dbid], key->ptr, key->len);
    if (wk != NULL)
        for (watch_t *w = wk->watchers; w != NULL; w = w->knext)
            if (w->client == c) return 0;
    watch_t *w = calloc(1, sizeof(*w));
    if (w == NULL) {
        index_trim(dbid);
        return -ENOMEM;
    }
    if (wk == NULL) {
        wk = malloc(sizeof(*wk) + key->len);
        if (wk != NULL) {
            wk->watchers = NULL;
            wk->klen = key->len;
            memcpy(wk->key, key->ptr, key->len);
        }
        if (wk == NULL || kv_ht_add(index_of[dbid], wk) != 0) {
            free(wk);
            free(w);
            index_trim(dbid);
            return -ENOMEM;
        }
        nwatched_keys++;
        kv_signal_gate_set(KV_SIGNAL_WATCH, nwatched_keys > 0);
    }
    *w = (watch_t){.wk = wk, .client = c, .dbid = dbid, .knext = wk->watchers};
    w->expired = key_is_expired(c->db, key->ptr, key->len);
    if (wk->watchers != NULL) wk->watchers->kprev = w;
    wk->watchers = w;
    w->cnext = m->watches;
    m->watches = w;
    if (m->nwatches++ == 0) nwatching_clients++;
    m->wbytes += sizeof(*w) + key->len;
    return 0;
}

/* EXEC fails when a key watched while it was alive has expired since (Redis 7.0). */
static bool watched_key_expired(const kv_client_t *c) {
    for (watch_t *w = c->multi ? c->multi->watches : NULL; w != NULL; w = w->cnext)
        if (!w->expired && key_is_expired(kv_db_get(w->dbid), w->wk->key, w->wk->klen)) return true;
    return false;
}

/* The transaction of c cannot succeed any more: nothing queued is worth keeping. */
static void flag_dirty_cas(kv_client_t *c) {
    c->flags |= KV_CLIENT_DIRTY_CAS;
    if (c->multi != NULL) queue_free(c->multi);
}

/* Leaves MULTI: drops the queue, the watches and the transaction flags. */
static void discard(kv_client_t *c) {
    if (c->multi != NULL) queue_free(c->multi);
    c->flags &= ~(KV_CLIENT_MULTI | KV_CLIENT_DIRTY_CAS | KV_CLIENT_DIRTY_EXEC);
    unwatch_all(c);
    state_release_if_idle(c);
}

/* --- Signals --- */

void kv_multi_touch_key(kv_db_t *db, const char *key, size_t klen) {
    kv_ht_t *ht = db ? index_get(db->id) : NULL;
    wkey_t *wk = ht ? kv_ht_find(ht, key, klen) : NULL;
    if (wk == NULL) return;
    /* Each dirty client drops all its watches (it is done with them), which may free wk
     * together with its last watcher: read the next one first, touch nothing after. */
    watch_t *next;
    for (watch_t *w = wk->watchers; w != NULL; w = next) {
        next = w->knext;
        if (w->expired) {
            /* Watched while already expired: its deletion (signalled before or after it
             * happens) is logically no change; once it is gone, a new value is one. */
            kv_obj_t *o = kv_ht_find(db->keys, key, klen);
            if (o == NULL) w->expired = false;
            if (o == NULL || kv_db_key_is_expired(o)) continue;
        }
        kv_client_t *c = w->client;
        flag_dirty_cas(c);
        unwatch_all(c);
        state_release_if_idle(c);
    }
}

/*
 * db is emptied (FLUSHDB, FLUSHALL) or gets replaced_with's keys (SWAPDB), as Redis's
 * touchAllWatchedKeysInDb: a watch fails when its key exists on either side, except that
 * a key already expired when watched that goes away, or stays expired, changes nothing.
 * The index is being iterated: dirty clients keep their watches until EXEC or DISCARD.
 */
void kv_multi_touch_db(kv_db_t *db, kv_db_t *replaced_with) {
    kv_ht_t *ht = db ? index_get(db->id) : NULL;
    if (ht == NULL) return;
    kv_ht_iter_t it;
    void *entry;
    kv_ht_iter_init(&it, ht);
    while (kv_ht_iter_next(&it, &entry)) {
        wkey_t *wk = entry;
        bool here = kv_ht_find(db->keys, wk->key, wk->klen) != NULL;
        bool there = replaced_with && kv_ht_find(replaced_with->keys, wk->key, wk->klen);
        if (!here && !there) continue;
        bool there_expired = there && key_is_expired(replaced_with, wk->key, wk->klen);
        for (watch_t *w = wk->watchers; w != NULL; w = w->knext) {
            if (w->expired) {
                if (!there) {
                    w->expired = false; /* the expired key goes away: no change */
                    continue;
                }
                if (there_expired) continue; /* expired before, expired after */
            } else if (!here && there_expired) {
                w->expired = true; /* a missing key replaced by an expired one */
                continue;
            }
            flag_dirty_cas(w->client);
        }
    }
    kv_ht_iter_fini(&it);
}

/* --- Hooks for kv_cmd_process --- */

/* A top-level command by name (RESET, when the table has it: not LATENCY RESET). */
static bool is_named(const kv_cmd_t *cmd, const char *name) {
    return cmd->parent == NULL && strcmp(cmd->name, name) == 0;
}

/* What runs at once inside MULTI instead of being queued (Redis's processCommand). */
static bool runs_inside_multi(const kv_cmd_t *cmd) {
    return cmd->fn == kv_cmd_exec || cmd->fn == kv_cmd_discard || cmd->fn == kv_cmd_multi ||
           cmd->fn == kv_cmd_watch || cmd->fn == kv_cmd_quit || is_named(cmd, "reset");
}

void kv_multi_reject(kv_client_t *c, const kv_cmd_t *cmd, const char *msg) {
    if (msg == NULL) { /* the refusal was replied already */
        if (cmd != NULL && cmd->fn == kv_cmd_exec)
            discard(c);
        else if (c->flags & KV_CLIENT_MULTI)
            c->flags |= KV_CLIENT_DIRTY_EXEC;
        if (c->multi != NULL && (c->flags & KV_CLIENT_DIRTY_EXEC)) queue_free(c->multi);
        return;
    }
    if (cmd != NULL && cmd->fn == kv_cmd_exec) {
        /* Redis's execCommandAbort, also outside MULTI: the reason without its "ERR ". */
        discard(c);
        kv_reply_errorf(c, "EXECABORT Transaction discarded because of: %s",
                        strncmp(msg, "ERR ", 4) == 0 ? msg + 4 : msg);
        return;
    }
    if (c->flags & KV_CLIENT_MULTI) {
        c->flags |= KV_CLIENT_DIRTY_EXEC;
        if (c->multi != NULL) queue_free(c->multi);
    }
    kv_reply_error(c, msg);
}

bool kv_multi_denies_oom(const kv_client_t *c, const kv_cmd_t *cmd) {
    if (cmd->flags & KV_CMD_DENYOOM) return true;
    if (!(c->flags & KV_CLIENT_MULTI)) return false;
    /* Queuing could take any amount of memory: only EXEC (of a queue holding a denyoom
     * command), DISCARD, QUIT and RESET pass. */
    if (cmd->fn == kv_cmd_exec) return (kv_multi_cmd_flags(c, cmd) & KV_CMD_DENYOOM) != 0;
    return !(cmd->fn == kv_cmd_discard || cmd->fn == kv_cmd_quit || is_named(cmd, "reset"));
}

uint32_t kv_multi_cmd_flags(const kv_client_t *c, const kv_cmd_t *cmd) {
    if (cmd->fn != kv_cmd_exec || c->multi == NULL) return cmd->flags;
    return cmd->flags | (c->multi->qflags & (KV_CMD_WRITE | KV_CMD_MAY_REPLICATE | KV_CMD_DENYOOM));
}

bool kv_multi_queue(kv_client_t *c, kv_cmd_t *cmd) {
    if (runs_inside_multi(cmd)) return false;
    /* A transaction already bound to fail keeps nothing (as Redis 7.0). */
    if (!(c->flags & (KV_CLIENT_DIRTY_CAS | KV_CLIENT_DIRTY_EXEC))) {
        struct kv_multi *m = state_get(c);
        if (m == NULL || queue_push(m, c, cmd) != 0) {
            c->flags |= KV_CLIENT_DIRTY_EXEC;
            if (m != NULL) queue_free(m);
            kv_reply_oom(c);
            return true;
        }
    }
    kv_reply_status(c, "QUEUED");
    return true;
}

void kv_multi_reset(kv_client_t *c) {
    discard(c);
}

void kv_multi_client_free(kv_client_t *c) {
    if (c->multi == NULL) return;
    queue_free(c->multi);
    unwatch_all(c);
    free(c->multi);
    c->multi = NULL;
}

long kv_multi_queued_count(const kv_client_t *c) {
    if (!(c->flags & KV_CLIENT_MULTI)) return -1;
    return c->multi ? (long)c->multi->n : 0;
}

size_t kv_multi_mem(const kv_client_t *c) {
    const struct kv_multi *m = c->multi;
    if (m == NULL) return 0;
    return sizeof(*m) + m->cap * sizeof(queued_t) + m->qbytes + m->wbytes;
}

size_t kv_multi_watching_clients(void) {
    return nwatching_clients;
}

size_t kv_multi_watched_keys(void) {
    return nwatched_keys;
}

/* --- Invariants --- */

static bool key_list_has(const wkey_t *wk, const watch_t *w) {
    for (const watch_t *x = wk->watchers; x != NULL; x = x->knext)
        if (x == w) return true;
    return false;
}

/* The index: every key has watchers that point back to it, in its db, linked both ways,
 * and the key count matches. */
static int index_check(void) {
    size_t keys = 0;
    for (int i = 0; index_of != NULL && i < kv_srv.ndbs; i++) {
        if (index_of[i] == NULL) continue;
        if (kv_ht_size(index_of[i]) == 0) return -EPROTO; /* an empty index is freed */
        kv_ht_iter_t it;
        void *entry;
        int rc = 0;
        kv_ht_iter_init(&it, index_of[i]);
        while (rc == 0 && kv_ht_iter_next(&it, &entry)) {
            const wkey_t *wk = entry;
            keys++;
            if (wk->watchers == NULL || wk->watchers->kprev != NULL) rc = -EPROTO;
            for (const watch_t *w = wk->watchers; rc == 0 && w != NULL; w = w->knext)
                if (w->wk != wk || w->dbid != i || (w->knext && w->knext->kprev != w)) rc = -EPROTO;
        }
        kv_ht_iter_fini(&it);
        if (rc != 0) return rc;
    }
    return keys == nwatched_keys && (index_of != NULL || keys == 0) ? 0 : -EPROTO;
}

int kv_multi_check(const kv_client_t *c) {
    if (index_check() != 0) return -EPROTO;
    const struct kv_multi *m = c ? c->multi : NULL;
    if (m == NULL) return 0;
    size_t n = 0, wbytes = 0, qbytes = 0;
    for (const watch_t *w = m->watches; w != NULL; w = w->cnext, n++) {
        if (w->client != c || !key_list_has(w->wk, w)) return -EPROTO;
        wbytes += sizeof(*w) + w->wk->klen;
    }
    for (size_t i = 0; i < m->n; i++)
        qbytes += m->q[i].bytes;
    if (n != m->nwatches || wbytes != m->wbytes || qbytes != m->qbytes || m->n > m->cap)
        return -EPROTO;
    if ((c->flags & (KV_CLIENT_DIRTY_CAS | KV_CLIENT_DIRTY_EXEC)) && m->n != 0) return -EPROTO;
    return 0;
}

/* --- Commands --- */

void kv_cmd_multi(kv_client_t *c) {
    if (c->flags & KV_CLIENT_MULTI) {
        kv_reply_error(c, "ERR MULTI calls can not be nested");
        return;
    }
    if (state_get(c) == NULL) {
        kv_reply_oom(c);
        return;
    }
    c->flags |= KV_CLIENT_MULTI;
    kv_reply_ok(c);
}

void kv_cmd_discard(kv_client_t *c) {
    if (!(c->flags & KV_CLIENT_MULTI)) {
        kv_reply_error(c, "ERR DISCARD without MULTI");
        return;
    }
    discard(c);
    kv_reply_ok(c);
}

void kv_cmd_exec(kv_client_t *c) {
    if (!(c->flags & KV_CLIENT_MULTI)) {
        kv_reply_error(c, "ERR EXEC without MULTI");
        return;
    }
    if (watched_key_expired(c)) flag_dirty_cas(c);
    if (c->flags & (KV_CLIENT_DIRTY_CAS | KV_CLIENT_DIRTY_EXEC)) {
        if (c->flags & KV_CLIENT_DIRTY_EXEC)
            kv_reply_error(c, "EXECABORT Transaction discarded because of previous errors.");
        else
            kv_reply_null_array(c);
        discard(c);
        return;
    }
    unwatch_all(c); /* at once: what the queue writes must not flag this client */
    /* Nothing can change the queue while it runs: the client watches nothing, queues
     * nothing (kv_cmd_call skips kv_cmd_process) and is never freed inside a command. */
    struct kv_multi *m = c->multi;
    int argc = c->argc;
    kv_arg_t *argv = c->argv;
    c->flags |= KV_CLIENT_EXEC;
    kv_reply_array_len(c, (long)m->n);
    for (size_t i = 0; i < m->n; i++) {
        c->argc = m->q[i].argc;
        c->argv = m->q[i].argv;
        kv_cmd_call(c, m->q[i].cmd);
    }
    c->argc = argc;
    c->argv = argv;
    c->flags &= ~KV_CLIENT_EXEC;
    discard(c);
}

void kv_cmd_watch(kv_client_t *c) {
    if (c->flags & KV_CLIENT_MULTI) {
        kv_reply_error(c, "ERR WATCH inside MULTI is not allowed");
        return;
    }
    /* No point in watching more once a watched key changed. */
    if (c->flags & KV_CLIENT_DIRTY_CAS) {
        kv_reply_ok(c);
        return;
    }
    struct kv_multi *m = state_get(c);
    for (int i = 1; m != NULL && i < c->argc; i++) {
        if (watch_key(c, m, &c->argv[i]) != 0) m = NULL;
    }
    if (m == NULL) {
        state_release_if_idle(c);
        kv_reply_oom(c);
        return;
    }
    kv_reply_ok(c);
}

void kv_cmd_unwatch(kv_client_t *c) {
    unwatch_all(c);
    c->flags &= ~KV_CLIENT_DIRTY_CAS;
    state_release_if_idle(c);
    kv_reply_ok(c);
}
