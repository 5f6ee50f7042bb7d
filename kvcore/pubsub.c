/* SPDX-License-Identifier: MIT */
/*
 * pubsub.c - publish/subscribe: channels, patterns and shard channels, the SUBSCRIBE
 * family, PUBLISH/SPUBLISH, PUBSUB, and the RESP2 subscribed-mode rules.
 *
 * One subscription (a client on a channel, pattern or shard channel) is one node linked
 * twice: into the channel's subscriber list (delivery order = subscription order) and into
 * the client's list of that kind (UNSUBSCRIBE with no argument answers in subscription
 * order). Server tables (kv_ht, name -> channel) find a channel; client tables (kv_ht,
 * name -> node) find a client's subscription; so subscribing, unsubscribing and a
 * disconnect cost O(1) per subscription whatever the fan-out. A channel with no
 * subscriber is freed at once, and a table that empties is freed, so nothing outlives
 * the last subscription. Patterns are also chained in creation order for PUBLISH, which
 * matches every pattern (kv_glob_match) as Redis does. See docs/kvcore.md#publishsubscribe.
 */
#include "kv_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { KIND_CHANNEL, KIND_PATTERN, KIND_SHARD, NKINDS };

typedef struct ps_chan ps_chan_t;

/* One client's subscription to one channel (or pattern, or shard channel). */
typedef struct ps_sub {
    struct ps_sub *cprev, *cnext; /* the channel's subscribers */
    struct ps_sub *kprev, *knext; /* the client's subscriptions of this kind */
    kv_client_t *client;
    ps_chan_t *chan;
} ps_sub_t;

struct ps_chan {
    ps_sub_t *head, *tail;
    size_t nsubs;
    ps_chan_t *prev, *next; /* every channel of the kind, in creation order */
    size_t len;
    char name[];
};

/* Every channel of one kind. */
typedef struct ps_table {
    kv_ht_t *ht; /* name -> ps_chan_t; NULL while empty */
    ps_chan_t *first, *last;
} ps_table_t;

/* One client's subscriptions of one kind. */
typedef struct ps_client_kind {
    kv_ht_t *ht; /* name -> ps_sub_t; NULL while empty */
    ps_sub_t *head, *tail;
    size_t count;
} ps_client_kind_t;

struct kv_pubsub_client {
    ps_client_kind_t kind[NKINDS];
};

/* What each kind replies. */
static const struct {
    const char *sub, *unsub, *message;
} kind_words[NKINDS] = {
    {"subscribe", "unsubscribe", "message"},
    {"psubscribe", "punsubscribe", "pmessage"},
    {"ssubscribe", "sunsubscribe", "smessage"},
};

static ps_table_t tables[NKINDS];

/*
 * Messages for the client that is running the command that published them (PUBLISH to
 * one's own channel, a keyspace event of one's own write, from a command, EXEC's queue or
 * a blocked command being served) wait until that command has replied, as Redis 7.2 does:
 * a RESP3 client gets EXEC's array whole, then the messages (7.0 wrote them in the
 * middle of the reply). They are rendered when published, in the client's protocol then,
 * and appended by kv_pubsub_flush_self (client_ext.c, after the outermost call).
 */
static struct {
    kv_client_t *c;
    char *buf;
    size_t len, cap;
} self_pending;
bool kv_pubsub_self_pending;

static const void *chan_key(const void *entry, size_t *len) {
    const ps_chan_t *ch = entry;
    *len = ch->len;
    return ch->name;
}

static const void *sub_key(const void *entry, size_t *len) {
    const ps_sub_t *s = entry;
    *len = s->chan->len;
    return s->chan->name;
}

static const kv_ht_type_t chan_type = {chan_key, NULL, NULL};
static const kv_ht_type_t sub_type = {sub_key, NULL, NULL};

/* --- Channels --- */

static ps_chan_t *chan_find(int kind, const char *name, size_t len) {
    return tables[kind].ht ? kv_ht_find(tables[kind].ht, name, len) : NULL;
}

static ps_chan_t *chan_get_or_create(int kind, const char *name, size_t len) {
    ps_table_t *t = &tables[kind];
    ps_chan_t *ch = chan_find(kind, name, len);
    if (ch != NULL) return ch;
    if (t->ht == NULL && (t->ht = kv_ht_new(&chan_type)) == NULL) return NULL;
    ch = malloc(sizeof(*ch) + len + 1);
    if (ch == NULL) return NULL;
    memset(ch, 0, sizeof(*ch));
    ch->len = len;
    memcpy(ch->name, name, len);
    ch->name[len] = '\0';
    if (kv_ht_add(t->ht, ch) != 0) {
        free(ch);
        return NULL;
    }
    ch->prev = t->last;
    if (t->last)
        t->last->next = ch;
    else
        t->first = ch;
    t->last = ch;
    return ch;
}

/* Frees a channel that has no subscriber left, and its table when that empties. */
static void chan_release_if_empty(int kind, ps_chan_t *ch) {
    if (ch->nsubs > 0) return;
    ps_table_t *t = &tables[kind];
    kv_ht_pop(t->ht, ch->name, ch->len);
    if (ch->prev)
        ch->prev->next = ch->next;
    else
        t->first = ch->next;
    if (ch->next)
        ch->next->prev = ch->prev;
    else
        t->last = ch->prev;
    free(ch);
    if (kv_ht_size(t->ht) == 0) {
        kv_ht_free(t->ht);
        t->ht = NULL;
    }
}

/* --- Per-client subscriptions --- */

static size_t client_count(const kv_client_t *c, int kind) {
    return c->pubsub ? c->pubsub->kind[kind].count : 0;
}

/* The count a (un)subscribe reply carries: channels + patterns, or shard channels. */
static long reply_count(const kv_client_t *c, int kind) {
    if (kind == KIND_SHARD) return (long)client_count(c, KIND_SHARD);
    return (long)(client_count(c, KIND_CHANNEL) + client_count(c, KIND_PATTERN));
}

static size_t client_total(const kv_client_t *c) {
    return client_count(c, KIND_CHANNEL) + client_count(c, KIND_PATTERN) +
           client_count(c, KIND_SHARD);
}

/* Drops the client's state once it has no subscription (RESP2 leaves subscribed mode). */
static void client_maybe_leave(kv_client_t *c) {
    if (c->pubsub == NULL || client_total(c) > 0) return;
    for (int k = 0; k < NKINDS; k++)
        kv_ht_free(c->pubsub->kind[k].ht);
    free(c->pubsub);
    c->pubsub = NULL;
    c->flags &= ~(uint32_t)KV_CLIENT_PUBSUB;
}

/* Pushes (message, subscribe and unsubscribe events) are written with KV_CLIENT_PUSHING
 * set, so CLIENT REPLY OFF/SKIP, which silence a command's replies, let them through (as
 * Redis). Returns the flag's previous state for push_end. */
static bool push_begin(kv_client_t *c) {
    bool was = c->flags & KV_CLIENT_PUSHING;
    c->flags |= KV_CLIENT_PUSHING;
    return was;
}

static void push_end(kv_client_t *c, bool was) {
    if (!was) c->flags &= ~(uint32_t)KV_CLIENT_PUSHING;
}

static void reply_event(kv_client_t *c, const char *word, const char *name, size_t len,
                        long count) {
    bool was = push_begin(c);
    kv_reply_push_len(c, 3);
    kv_reply_bulk_cstr(c, word);
    if (name != NULL)
        kv_reply_bulk(c, name, len);
    else
        kv_reply_null(c);
    kv_reply_int(c, count);
    push_end(c, was);
}

/* Subscribes c; 0 (also when already subscribed) or -ENOMEM (nothing changed). */
static int subscribe_one(kv_client_t *c, int kind, const char *name, size_t len) {
    if (c->pubsub == NULL && (c->pubsub = calloc(1, sizeof(*c->pubsub))) == NULL) return -ENOMEM;
    ps_client_kind_t *ck = &c->pubsub->kind[kind];
    if (ck->ht != NULL && kv_ht_find(ck->ht, name, len) != NULL) return 0;
    if (ck->ht == NULL && (ck->ht = kv_ht_new(&sub_type)) == NULL) return -ENOMEM;
    ps_chan_t *ch = chan_get_or_create(kind, name, len);
    ps_sub_t *s = ch ? calloc(1, sizeof(*s)) : NULL;
    if (s != NULL) {
        s->client = c;
        s->chan = ch;
        if (kv_ht_add(ck->ht, s) != 0) {
            free(s);
            s = NULL;
        }
    }
    if (s == NULL) {
        if (ch != NULL) chan_release_if_empty(kind, ch);
        return -ENOMEM;
    }
    s->cprev = ch->tail;
    if (ch->tail)
        ch->tail->cnext = s;
    else
        ch->head = s;
    ch->tail = s;
    ch->nsubs++;
    s->kprev = ck->tail;
    if (ck->tail)
        ck->tail->knext = s;
    else
        ck->head = s;
    ck->tail = s;
    ck->count++;
    return 0;
}

/* Removes the subscription s of c; replies when notify (before the channel can go). */
static void unsubscribe_sub(kv_client_t *c, int kind, ps_sub_t *s, bool notify) {
    ps_client_kind_t *ck = &c->pubsub->kind[kind];
    ps_chan_t *ch = s->chan;
    kv_ht_pop(ck->ht, ch->name, ch->len);
    if (s->kprev)
        s->kprev->knext = s->knext;
    else
        ck->head = s->knext;
    if (s->knext)
        s->knext->kprev = s->kprev;
    else
        ck->tail = s->kprev;
    ck->count--;
    if (s->cprev)
        s->cprev->cnext = s->cnext;
    else
        ch->head = s->cnext;
    if (s->cnext)
        s->cnext->cprev = s->cprev;
    else
        ch->tail = s->cprev;
    ch->nsubs--;
    free(s);
    if (notify) reply_event(c, kind_words[kind].unsub, ch->name, ch->len, reply_count(c, kind));
    chan_release_if_empty(kind, ch);
}

static void unsubscribe_all_kind(kv_client_t *c, int kind, bool notify) {
    bool any = false;
    while (c->pubsub != NULL && c->pubsub->kind[kind].head != NULL) {
        unsubscribe_sub(c, kind, c->pubsub->kind[kind].head, notify);
        any = true;
    }
    if (c->pubsub != NULL && c->pubsub->kind[kind].count == 0) {
        kv_ht_free(c->pubsub->kind[kind].ht);
        c->pubsub->kind[kind].ht = NULL;
    }
    if (notify && !any) reply_event(c, kind_words[kind].unsub, NULL, 0, reply_count(c, kind));
}

void kv_pubsub_unsubscribe_all(kv_client_t *c) {
    if (self_pending.c == c) { /* a client going away mid-command: nothing to append */
        self_pending.c = NULL;
        self_pending.len = 0;
        kv_pubsub_self_pending = false;
    }
    for (int k = 0; k < NKINDS; k++)
        unsubscribe_all_kind(c, k, false);
    client_maybe_leave(c);
    c->flags &= ~(uint32_t)KV_CLIENT_PUBSUB;
}

void kv_pubsub_client_counts(const kv_client_t *c, size_t *channels, size_t *patterns,
                             size_t *shard) {
    *channels = client_count(c, KIND_CHANNEL);
    *patterns = client_count(c, KIND_PATTERN);
    *shard = client_count(c, KIND_SHARD);
}

static size_t table_size(int kind) {
    return tables[kind].ht ? kv_ht_size(tables[kind].ht) : 0;
}

void kv_pubsub_stats(size_t *channels, size_t *patterns, size_t *shard) {
    *channels = table_size(KIND_CHANNEL);
    *patterns = table_size(KIND_PATTERN);
    *shard = table_size(KIND_SHARD);
}

/* --- Delivery --- */

static void pend_bytes(const char *p, size_t n) {
    if (self_pending.len + n > self_pending.cap) {
        size_t cap = self_pending.cap ? self_pending.cap : 256;
        while (cap < self_pending.len + n)
            cap *= 2;
        char *b = realloc(self_pending.buf, cap);
        if (b == NULL) {
            /* Out of memory for a message: the client cannot get a consistent stream. */
            kv_client_close_async(self_pending.c);
            return;
        }
        self_pending.buf = b;
        self_pending.cap = cap;
    }
    memcpy(self_pending.buf + self_pending.len, p, n);
    self_pending.len += n;
}

static void pend_header(char type, size_t n) {
    char hdr[32];
    int w = snprintf(hdr, sizeof(hdr), "%c%zu\r\n", type, n);
    pend_bytes(hdr, (size_t)w);
}

static void pend_bulk(const char *p, size_t n) {
    pend_header('$', n);
    pend_bytes(p, n);
    pend_bytes("\r\n", 2);
}

/* Appends the messages held for c (no-op for another client, or while c still runs). */
void kv_pubsub_flush_self(kv_client_t *c) {
    if (self_pending.c != c || c->cmd != NULL) return;
    if (self_pending.len > 0) {
        bool was = push_begin(c);
        kv_reply_raw(c, self_pending.buf, self_pending.len);
        push_end(c, was);
    }
    self_pending.c = NULL;
    self_pending.len = 0;
    if (self_pending.cap > 64 * 1024) { /* a burst does not stay allocated */
        free(self_pending.buf);
        self_pending.buf = NULL;
        self_pending.cap = 0;
    }
    kv_pubsub_self_pending = false;
}

static void deliver(kv_client_t *to, int kind, const ps_chan_t *pat, const char *ch, size_t chlen,
                    const char *msg, size_t mlen) {
    const char *word = kind_words[kind].message;
    if (to->cmd != NULL) {          /* to is running the publishing command: after its reply */
        if (self_pending.c != to) { /* only one client runs at a time */
            if (self_pending.c != NULL) kv_pubsub_flush_self(self_pending.c);
            self_pending.c = to;
            self_pending.len = 0;
        }
        kv_pubsub_self_pending = true;
        pend_header(to->resp >= 3 ? '>' : '*', pat ? 4 : 3);
        pend_bulk(word, strlen(word));
        if (pat != NULL) pend_bulk(pat->name, pat->len);
        pend_bulk(ch, chlen);
        pend_bulk(msg, mlen);
        return;
    }
    bool was = push_begin(to);
    kv_reply_push_len(to, pat ? 4 : 3);
    kv_reply_bulk(to, word, strlen(word));
    if (pat != NULL) kv_reply_bulk(to, pat->name, pat->len);
    kv_reply_bulk(to, ch, chlen);
    kv_reply_bulk(to, msg, mlen);
    push_end(to, was);
}

/*
 * Delivery only queues replies: a subscriber over its output limit is closed
 * asynchronously (reply.c), never freed here, so the lists stay valid while walked.
 */
long kv_pubsub_publish(const char *ch, size_t chlen, const char *msg, size_t mlen, bool sharded) {
    long receivers = 0;
    int kind = sharded ? KIND_SHARD : KIND_CHANNEL;
    ps_chan_t *chan = chan_find(kind, ch, chlen);
    for (ps_sub_t *s = chan ? chan->head : NULL; s != NULL; s = s->cnext, receivers++)
        deliver(s->client, kind, NULL, ch, chlen, msg, mlen);
    if (sharded) return receivers;
    for (ps_chan_t *p = tables[KIND_PATTERN].first; p != NULL; p = p->next) {
        if (!kv_glob_match(p->name, p->len, ch, chlen, false)) continue;
        for (ps_sub_t *s = p->head; s != NULL; s = s->cnext, receivers++)
            deliver(s->client, KIND_PATTERN, p, ch, chlen, msg, mlen);
    }
    return receivers;
}

/* --- Subscribed mode (RESP2) --- */

static bool is_unsubscribe(const kv_cmd_t *cmd) {
    return cmd->fn == kv_cmd_unsubscribe || cmd->fn == kv_cmd_punsubscribe ||
           cmd->fn == kv_cmd_sunsubscribe;
}

bool kv_pubsub_cmd_allowed(kv_client_t *c, kv_cmd_t *cmd) {
    static const char *const allowed[] = {"ping",         "subscribe",    "ssubscribe",
                                          "unsubscribe",  "sunsubscribe", "psubscribe",
                                          "punsubscribe", "quit",         "reset"};
    if (!(c->flags & KV_CLIENT_PUBSUB)) {
        /* Redis 7.2: an unsubscribe outside subscribed mode is refused (7.0 replied one
         * "unsubscribe" event per channel with a count of 0). */
        if (!is_unsubscribe(cmd)) return true;
        cmd->rejected_calls++;
        kv_reply_errorf(c, "NOSUB '%s' command executed not in subscribed mode", cmd->fullname);
        return false;
    }
    if (c->resp != 2) return true;
    if (cmd->parent == NULL)
        for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++)
            if (strcmp(cmd->name, allowed[i]) == 0) return true;
    cmd->rejected_calls++;
    kv_reply_errorf(c,
                    "ERR Can't execute '%s': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / "
                    "QUIT / RESET are allowed in this context",
                    cmd->fullname);
    return false;
}

bool kv_pubsub_reply_ping(kv_client_t *c) {
    if (!(c->flags & KV_CLIENT_PUBSUB) || c->resp != 2) return false;
    kv_reply_array_len(c, 2);
    kv_reply_bulk(c, "pong", 4);
    if (c->argc > 1)
        kv_reply_bulk(c, c->argv[1].ptr, c->argv[1].len);
    else
        kv_reply_bulk(c, "", 0);
    return true;
}

/* --- Commands --- */

static void subscribe_generic(kv_client_t *c, int kind) {
    for (int i = 1; i < c->argc; i++) {
        const kv_arg_t *a = &c->argv[i];
        if (subscribe_one(c, kind, a->ptr, a->len) != 0) {
            kv_reply_oom(c);
            continue;
        }
        reply_event(c, kind_words[kind].sub, a->ptr, a->len, reply_count(c, kind));
    }
    if (client_total(c) > 0) c->flags |= KV_CLIENT_PUBSUB;
    client_maybe_leave(c);
}

static void unsubscribe_generic(kv_client_t *c, int kind) {
    if (c->argc == 1) {
        unsubscribe_all_kind(c, kind, true);
    } else {
        for (int i = 1; i < c->argc; i++) {
            const kv_arg_t *a = &c->argv[i];
            ps_client_kind_t *ck = c->pubsub ? &c->pubsub->kind[kind] : NULL;
            ps_sub_t *s = ck && ck->ht ? kv_ht_find(ck->ht, a->ptr, a->len) : NULL;
            if (s != NULL)
                unsubscribe_sub(c, kind, s, true);
            else
                reply_event(c, kind_words[kind].unsub, a->ptr, a->len, reply_count(c, kind));
        }
    }
    client_maybe_leave(c);
}

void kv_cmd_subscribe(kv_client_t *c) {
    subscribe_generic(c, KIND_CHANNEL);
}

void kv_cmd_psubscribe(kv_client_t *c) {
    subscribe_generic(c, KIND_PATTERN);
}

/* As Redis, shard subscriptions are refused inside EXEC (a client that must get one reply
 * per command), while SUBSCRIBE and PSUBSCRIBE are allowed there. */
void kv_cmd_ssubscribe(kv_client_t *c) {
    if (c->flags & KV_CLIENT_EXEC) {
        kv_reply_error(c, "ERR SSUBSCRIBE isn't allowed for a DENY BLOCKING client");
        return;
    }
    subscribe_generic(c, KIND_SHARD);
}

void kv_cmd_unsubscribe(kv_client_t *c) {
    unsubscribe_generic(c, KIND_CHANNEL);
}

void kv_cmd_punsubscribe(kv_client_t *c) {
    unsubscribe_generic(c, KIND_PATTERN);
}

void kv_cmd_sunsubscribe(kv_client_t *c) {
    unsubscribe_generic(c, KIND_SHARD);
}

void kv_cmd_publish(kv_client_t *c) {
    kv_reply_int(c, kv_pubsub_publish(c->argv[1].ptr, c->argv[1].len, c->argv[2].ptr,
                                      c->argv[2].len, false));
}

void kv_cmd_spublish(kv_client_t *c) {
    kv_reply_int(
        c, kv_pubsub_publish(c->argv[1].ptr, c->argv[1].len, c->argv[2].ptr, c->argv[2].len, true));
}

static void reply_channels(kv_client_t *c, int kind) {
    if (c->argc > 3) {
        kv_reply_subcmd_err(c);
        return;
    }
    const kv_arg_t *pat = c->argc == 3 ? &c->argv[2] : NULL;
    void *lenp = kv_reply_deferred(c);
    long n = 0;
    for (const ps_chan_t *ch = tables[kind].first; ch != NULL; ch = ch->next) {
        if (pat && !kv_glob_match(pat->ptr, pat->len, ch->name, ch->len, false)) continue;
        kv_reply_bulk(c, ch->name, ch->len);
        n++;
    }
    kv_reply_set_deferred(c, lenp, n);
}

static void reply_numsub(kv_client_t *c, int kind) {
    kv_reply_array_len(c, (long)(c->argc - 2) * 2);
    for (int i = 2; i < c->argc; i++) {
        const ps_chan_t *ch = chan_find(kind, c->argv[i].ptr, c->argv[i].len);
        kv_reply_bulk(c, c->argv[i].ptr, c->argv[i].len);
        kv_reply_int(c, ch ? (long long)ch->nsubs : 0);
    }
}

void kv_cmd_pubsub_channels(kv_client_t *c) {
    reply_channels(c, KIND_CHANNEL);
}

void kv_cmd_pubsub_shardchannels(kv_client_t *c) {
    reply_channels(c, KIND_SHARD);
}

void kv_cmd_pubsub_numsub(kv_client_t *c) {
    reply_numsub(c, KIND_CHANNEL);
}

void kv_cmd_pubsub_shardnumsub(kv_client_t *c) {
    reply_numsub(c, KIND_SHARD);
}

void kv_cmd_pubsub_numpat(kv_client_t *c) {
    kv_reply_int(c, (long long)table_size(KIND_PATTERN));
}

void kv_cmd_pubsub_help(kv_client_t *c) {
    static const char *const lines[] = {
        "CHANNELS [<pattern>]",
        "    Return the currently active channels matching a <pattern> (default: '*').",
        "NUMPAT",
        "    Return number of subscriptions to patterns.",
        "NUMSUB [<channel> ...]",
        "    Return the number of subscribers for the specified channels, excluding",
        "    pattern subscriptions(default: no channels).",
        "SHARDCHANNELS [<pattern>]",
        "    Return the currently active shard level channels matching a <pattern> (default: "
        "'*').",
        "SHARDNUMSUB [<shardchannel> ...]",
        "    Return the number of subscribers for the specified shard level channel(s)",
        NULL};
    kv_reply_help(c, lines);
}
