/* SPDX-License-Identifier: MIT */
/*
 * blocked.c - the blocking pops (BLPOP BRPOP BLMOVE BRPOPLPUSH BLMPOP BZPOPMIN BZPOPMAX
 * BZMPOP), their non-blocking forms LMPOP and ZMPOP, CLIENT UNBLOCK, and the state of
 * clients blocked on keys: who waits for which key, in which order, until when.
 *
 * Each database with waiters has a table of blocked keys; a key's entry holds its
 * waiters in the order they blocked (FIFO). A blocked client owns one kv_blocked_t with
 * one waiter per distinct key, a copy of what it asked for (type, end, count, BLMOVE's
 * destination) and its deadline; deadlines are a binary heap behind one loop timer.
 * Creating a list or sorted set (kv_db_add, kv_db_set) calls kv_signal_key_ready, which
 * queues the key when someone waits for it; kv_cmd_process serves the queue when the
 * outermost command (EXEC included) has finished, as Redis 7.0's handleClientsBlockedOnKeys:
 * per ready key, its waiters of the key's type in FIFO order while the key holds
 * elements, through the same pop cores the non-blocking commands use (cmd_list.c,
 * cmd_zset.c), then propagated as Redis 7.0 propagates it (LPOP, LMOVE, ZPOPMIN...). A
 * waiter of another type stays blocked. Served, timed-out and unblocked clients have
 * their pending input run before the loop sleeps. Every step is O(1) or O(log n) per key
 * and client: no scans of all waiters (docs/kvcore.md, blocking commands).
 */
#include "t_list.h"
#include "t_zset.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct bkey bkey_t;

/* One client waiting for one key: a link in the key's FIFO. */
typedef struct waiter {
    struct kv_blocked *bs;
    bkey_t *bk;
    struct waiter *prev, *next;
} waiter_t;

/* A key somebody waits for, in one database. */
struct bkey {
    waiter_t *head, *tail;
    bkey_t *ready_next;
    int dbid;
    bool ready; /* on the ready list: freed by the server loop, not by its last waiter */
    size_t klen;
    char key[];
};

/* What a blocking command asked for. */
typedef struct pop_spec {
    int type;            /* KV_TYPE_LIST or KV_TYPE_ZSET */
    int where;           /* lists: KV_LIST_HEAD/TAIL; sorted sets: 1 = max, 0 = min */
    int whereto;         /* BLMOVE: the destination end */
    long long count;     /* elements to pop */
    int form;            /* KV_POP_KEY_VALUE or KV_POP_KEY_ARRAY (reply shape) */
    const kv_arg_t *dst; /* BLMOVE's destination, NULL for the pops */
} pop_spec_t;

struct kv_blocked {
    kv_client_t *c;
    pop_spec_t spec;
    kv_arg_t dst;         /* spec.dst points here when set; bytes owned */
    uint64_t deadline_us; /* kv_monotonic_us time; 0 = forever */
    size_t heap_idx;      /* position in the deadline heap, SIZE_MAX when not there */
    bool blocked;         /* false: unblocked, waiting in the resume list for its input */
    struct kv_blocked *resume_next, *resume_prev;
    size_t nwaiters;
    waiter_t waiters[];
};

static struct {
    kv_ht_t **tables; /* per database id, NULL until someone blocks there */
    int ntables;
    bkey_t *ready_head, *ready_tail;
    kv_blocked_t **heap; /* blocked clients with a deadline, earliest first */
    size_t nheap, heapcap;
    int64_t timer_id; /* the loop timer for heap[0], -1 when none */
    uint64_t timer_at;
    kv_blocked_t *resume_head; /* unblocked clients whose input waits to be run */
    size_t nblocked;
    size_t nkeys; /* keys with waiters, over all databases */
    bool serving;
} B = {.timer_id = -1};

static const void *bkey_key(const void *entry, size_t *len) {
    const bkey_t *bk = entry;
    *len = bk->klen;
    return bk->key;
}

static const kv_ht_type_t bkey_type = {.entry_key = bkey_key, .entry_free = NULL};

static kv_ht_t *table_for(int dbid, bool create) {
    if (dbid < B.ntables && B.tables[dbid] != NULL) return B.tables[dbid];
    if (!create) return NULL;
    if (dbid >= B.ntables) {
        int n = kv_srv.ndbs > dbid ? kv_srv.ndbs : dbid + 1;
        kv_ht_t **t = realloc(B.tables, (size_t)n * sizeof(*t));
        if (t == NULL) return NULL;
        memset(t + B.ntables, 0, (size_t)(n - B.ntables) * sizeof(*t));
        B.tables = t;
        B.ntables = n;
    }
    B.tables[dbid] = kv_ht_new(&bkey_type);
    return B.tables[dbid];
}

/* --- The deadline heap and its timer --- */

static bool heap_less(size_t i, size_t j) {
    return B.heap[i]->deadline_us < B.heap[j]->deadline_us;
}

static void heap_swap(size_t i, size_t j) {
    kv_blocked_t *t = B.heap[i];
    B.heap[i] = B.heap[j];
    B.heap[j] = t;
    B.heap[i]->heap_idx = i;
    B.heap[j]->heap_idx = j;
}

static void heap_sift(size_t i) {
    while (i > 0 && heap_less(i, (i - 1) / 2)) {
        heap_swap(i, (i - 1) / 2);
        i = (i - 1) / 2;
    }
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < B.nheap && heap_less(l, m)) m = l;
        if (r < B.nheap && heap_less(r, m)) m = r;
        if (m == i) return;
        heap_swap(i, m);
        i = m;
    }
}

static int heap_add(kv_blocked_t *bs) {
    if (B.nheap == B.heapcap) {
        size_t ncap = B.heapcap ? B.heapcap * 2 : 16;
        kv_blocked_t **h = realloc(B.heap, ncap * sizeof(*h));
        if (h == NULL) return -ENOMEM;
        B.heap = h;
        B.heapcap = ncap;
    }
    bs->heap_idx = B.nheap;
    B.heap[B.nheap++] = bs;
    heap_sift(bs->heap_idx);
    return 0;
}

static void heap_del(kv_blocked_t *bs) {
    size_t i = bs->heap_idx;
    if (i == SIZE_MAX) return;
    bs->heap_idx = SIZE_MAX;
    if (--B.nheap == i) return;
    B.heap[i] = B.heap[B.nheap];
    B.heap[i]->heap_idx = i;
    heap_sift(i);
}

static int64_t timeout_timer(kv_loop_t *loop, int64_t id, void *priv);

/* Keeps the loop timer at the earliest deadline (the timer only ever moves earlier here;
 * its callback moves it later). */
static void arm_timer(void) {
    if (kv_srv.loop == NULL || B.nheap == 0) return;
    uint64_t at = B.heap[0]->deadline_us;
    if (at == UINT64_MAX) return; /* beyond any representable time: never fires */
    if (B.timer_id >= 0 && B.timer_at <= at) return;
    if (B.timer_id >= 0) kv_timer_del(kv_srv.loop, B.timer_id);
    uint64_t now = kv_monotonic_us();
    B.timer_at = at;
    B.timer_id = kv_timer_add(kv_srv.loop, at > now ? (int64_t)(at - now) : 0, timeout_timer, NULL);
}

/* --- Blocking and unblocking --- */

/* True while a key waits in the ready list: kv_cmd_call tests it inline. */
bool kv_blocked_any_ready;

static void ready_push(bkey_t *bk) {
    bk->ready = true;
    bk->ready_next = NULL;
    if (B.ready_tail)
        B.ready_tail->ready_next = bk;
    else
        B.ready_head = bk;
    B.ready_tail = bk;
    kv_blocked_any_ready = true;
}

static void bkey_free(bkey_t *bk) {
    kv_ht_t *t = table_for(bk->dbid, false);
    if (t != NULL) kv_ht_pop(t, bk->key, bk->klen);
    B.nkeys--;
    free(bk);
}

static void waiter_unlink(waiter_t *w) {
    bkey_t *bk = w->bk;
    if (w->prev)
        w->prev->next = w->next;
    else
        bk->head = w->next;
    if (w->next)
        w->next->prev = w->prev;
    else
        bk->tail = w->prev;
    if (bk->head == NULL && !bk->ready) bkey_free(bk);
}

/* Appends a waiter for key unless c already waits for it (BLPOP k k: one waiter). */
static int waiter_add(kv_blocked_t *bs, kv_ht_t *t, int dbid, const kv_arg_t *key) {
    bkey_t *bk = kv_ht_find(t, key->ptr, key->len);
    if (bk != NULL && bk->tail != NULL && bk->tail->bs == bs) return 0;
    if (bk == NULL) {
        bk = malloc(sizeof(*bk) + key->len);
        if (bk == NULL) return -ENOMEM;
        memset(bk, 0, sizeof(*bk));
        bk->dbid = dbid;
        bk->klen = key->len;
        memcpy(bk->key, key->ptr, key->len);
        if (kv_ht_add(t, bk) != 0) {
            free(bk);
            return -ENOMEM;
        }
        B.nkeys++;
    }
    waiter_t *w = &bs->waiters[bs->nwaiters++];
    w->bs = bs;
    w->bk = bk;
    w->next = NULL;
    w->prev = bk->tail;
    if (bk->tail)
        bk->tail->next = w;
    else
        bk->head = w;
    bk->tail = w;
    return 0;
}

static void resume_unlink(kv_blocked_t *bs) {
    if (bs->resume_prev)
        bs->resume_prev->resume_next = bs->resume_next;
    else if (B.resume_head == bs)
        B.resume_head = bs->resume_next;
    if (bs->resume_next) bs->resume_next->resume_prev = bs->resume_prev;
    bs->resume_next = bs->resume_prev = NULL;
}

/* Takes c out of every key's FIFO and the deadline heap. With resume, c's state waits in
 * the resume list until before-sleep runs c's pending input; without, it is freed. */
static void unblock(kv_client_t *c, bool resume) {
    kv_blocked_t *bs = c->bstate;
    if (bs == NULL) return;
    if (bs->blocked) {
        for (size_t i = 0; i < bs->nwaiters; i++)
            waiter_unlink(&bs->waiters[i]);
        bs->nwaiters = 0;
        heap_del(bs);
        bs->blocked = false;
        c->flags &= ~(uint32_t)KV_CLIENT_BLOCKED;
        B.nblocked--;
        if (resume && !(c->flags & KV_CLIENT_FAKE)) {
            bs->resume_prev = NULL;
            bs->resume_next = B.resume_head;
            if (B.resume_head) B.resume_head->resume_prev = bs;
            B.resume_head = bs;
            return;
        }
    } else {
        resume_unlink(bs);
    }
    c->bstate = NULL;
    free((void *)bs->dst.ptr);
    free(bs);
}

/* Blocks c on keys[0..n) for spec until deadline (0 = forever). 0 or -ENOMEM (c is not
 * blocked then). */
static int block_on(kv_client_t *c, const kv_arg_t *keys, int n, const pop_spec_t *spec,
                    uint64_t deadline) {
    unblock(c, false); /* a state still waiting for its resume */
    kv_blocked_t *bs = calloc(1, sizeof(*bs) + (size_t)n * sizeof(waiter_t));
    if (bs == NULL) return -ENOMEM;
    bs->c = c;
    bs->spec = *spec;
    bs->deadline_us = deadline;
    bs->heap_idx = SIZE_MAX;
    bs->blocked = true;
    if (spec->dst != NULL) {
        char *d = malloc(spec->dst->len ? spec->dst->len : 1);
        if (d == NULL) {
            free(bs);
            return -ENOMEM;
        }
        memcpy(d, spec->dst->ptr, spec->dst->len);
        bs->dst.ptr = d;
        bs->dst.len = spec->dst->len;
        bs->spec.dst = &bs->dst;
    }
    c->bstate = bs;
    c->flags |= KV_CLIENT_BLOCKED;
    B.nblocked++;
    kv_ht_t *t = table_for(c->dbid, true);
    int rc = t == NULL ? -ENOMEM : 0;
    for (int i = 0; i < n && rc == 0; i++)
        rc = waiter_add(bs, t, c->dbid, &keys[i]);
    if (rc == 0 && deadline != 0) rc = heap_add(bs);
    if (rc != 0) {
        unblock(c, false);
        return rc;
    }
    arm_timer();
    return 0;
}

/* --- Serving --- */

/*
 * Pops for c from o (the non-empty list or sorted set under key, of the type spec asks
 * for) and propagates the change as Redis 7.0 does: LPOP/RPOP key [n], LMOVE src dst
 * from to, ZPOPMIN/ZPOPMAX key [n]; as the running command's form (in_call) or, for a
 * client served after another's command, as a unit of its own.
 */
static void serve(kv_client_t *c, const kv_arg_t *key, kv_obj_t *o, const pop_spec_t *sp,
                  bool in_call) {
    long long len =
        sp->type == KV_TYPE_LIST ? (long long)kv_list_len(o) : (long long)kv_zset_len(o);
    long long n = sp->count < len ? sp->count : len;
    long long dirty = kv_srv.dirty;
    if (sp->dst != NULL)
        kv_list_move_reply(c, key, o, sp->dst, sp->where, sp->whereto);
    else if (sp->type == KV_TYPE_LIST)
        kv_list_pop_reply(c, key, o, sp->where, sp->count, sp->form);
    else
        kv_zset_pop_reply(c, key, o, sp->where == 1, sp->count, sp->form);
    if (kv_srv.dirty == dirty) return; /* BLMOVE to a key of another type: nothing moved */
    static const char *const list_pops[] = {"LPOP", "RPOP"}, *const sides[] = {"LEFT", "RIGHT"};
    char num[24];
    kv_arg_t argv[5];
    int argc = 2;
    argv[1] = *key;
    if (sp->dst != NULL) {
        argv[0] = (kv_arg_t){"LMOVE", 5};
        argv[2] = *sp->dst;
        argv[3] = (kv_arg_t){sides[sp->where == KV_LIST_TAIL], sp->where == KV_LIST_TAIL ? 5u : 4u};
        argv[4] =
            (kv_arg_t){sides[sp->whereto == KV_LIST_TAIL], sp->whereto == KV_LIST_TAIL ? 5u : 4u};
        argc = 5;
    } else {
        argv[0].ptr = sp->type == KV_TYPE_LIST ? list_pops[sp->where == KV_LIST_TAIL]
                                               : (sp->where == 1 ? "ZPOPMAX" : "ZPOPMIN");
        argv[0].len = strlen(argv[0].ptr);
        if (sp->form == KV_POP_KEY_ARRAY) argv[argc++] = (kv_arg_t){num, kv_ll2str(num, n)};
    }
    if (in_call)
        kv_propagate_rewrite(c, argv, argc);
    else
        kv_propagate(c->db->id, argv, argc);
}

/* Serves bk's waiters in FIFO order while the key holds elements of their type. */
static void serve_key(bkey_t *bk) {
    kv_db_t *db = kv_db_get(bk->dbid);
    waiter_t *w = bk->head;
    while (w != NULL && db != NULL) {
        kv_obj_t *o = kv_db_lookup(db, bk->key, bk->klen, KV_LOOKUP_NOSTATS);
        if (o == NULL) return;
        waiter_t *next = w->next; /* another client's: serving w unlinks only w's own */
        kv_blocked_t *bs = w->bs;
        if ((int)o->type == bs->spec.type) {
            kv_client_t *c = bs->c;
            pop_spec_t spec = bs->spec;
            kv_arg_t dst = bs->dst;
            bs->dst.ptr = NULL; /* kept until the reply is written */
            spec.dst = spec.dst ? &dst : NULL;
            kv_arg_t key = {bk->key, bk->klen};
            unblock(c, true);
            kv_tracking_hold(c, true); /* its own invalidations after the reply */
            /* As Redis 7.0's updateStatsOnUnblock: the time and an error reply count for
             * the blocked command (its call was counted when it blocked). */
            const kv_cmd_t *outer = c->cmd;
            uint64_t t0 = kv_clock_us();
            c->cmd = c->lastcmd;
            serve(c, &key, o, &spec, false);
            if (c->lastcmd != NULL) ((kv_cmd_t *)c->lastcmd)->usec += kv_clock_us() - t0;
            c->cmd = outer;
            kv_tracking_hold(c, false);
            if (kv_pubsub_self_pending) kv_pubsub_flush_self(c); /* after the reply too */
            free((void *)dst.ptr);
        }
        w = next;
    }
}

void kv_blocked_serve_ready(void) {
    if (B.serving || B.ready_head == NULL) return;
    B.serving = true;
    while (B.ready_head != NULL) {
        bkey_t *bk = B.ready_head;
        B.ready_head = bk->ready_next;
        if (B.ready_head == NULL) B.ready_tail = NULL;
        /* As Redis 7.0, keys are judged at the time of serving: a key that expired while
         * the command ran (EXEC ... DEBUG SLEEP) is deleted, not served. */
        kv_srv.mstime = kv_mstime();
        serve_key(bk); /* bk stays marked ready meanwhile: its last waiter leaves it be */
        bk->ready = false;
        if (bk->head == NULL) bkey_free(bk);
    }
    B.serving = false;
    kv_blocked_any_ready = false;
}

void kv_signal_key_ready(kv_db_t *db, const char *key, size_t klen) {
    if (B.nkeys == 0) return;
    kv_ht_t *t = table_for(db->id, false);
    if (t == NULL) return;
    bkey_t *bk = kv_ht_find(t, key, klen);
    if (bk != NULL && !bk->ready) ready_push(bk);
}

void kv_blocked_db_swapped(kv_db_t *a, kv_db_t *b) {
    kv_db_t *dbs[2] = {a, b};
    for (int i = 0; i < 2 && B.nkeys > 0; i++) {
        kv_ht_t *t = table_for(dbs[i]->id, false);
        if (t == NULL) continue;
        kv_ht_iter_t it;
        void *e;
        kv_ht_iter_init(&it, t);
        while (kv_ht_iter_next(&it, &e)) {
            bkey_t *bk = e;
            if (!bk->ready && kv_ht_find(dbs[i]->keys, bk->key, bk->klen) != NULL) ready_push(bk);
        }
        kv_ht_iter_fini(&it);
    }
}

/* --- Timeouts, resumption, client life cycle --- */

size_t kv_blocked_expire(uint64_t now_us) {
    size_t n = 0;
    while (B.nheap > 0 && B.heap[0]->deadline_us <= now_us) {
        kv_client_t *c = B.heap[0]->c;
        unblock(c, true);
        kv_reply_null_array(c); /* as Redis 7.0 for every timed-out pop, BLMOVE too */
        n++;
    }
    return n;
}

static int64_t timeout_timer(kv_loop_t *loop, int64_t id, void *priv) {
    (void)loop;
    (void)id;
    (void)priv;
    kv_blocked_expire(kv_monotonic_us());
    if (B.nheap == 0 || B.heap[0]->deadline_us == UINT64_MAX) {
        B.timer_id = -1;
        return -1;
    }
    uint64_t now = kv_monotonic_us(), at = B.heap[0]->deadline_us;
    B.timer_at = at;
    return at > now ? (int64_t)(at - now) : 0;
}

void kv_blocked_before_sleep(void) {
    kv_blocked_expire(kv_monotonic_us()); /* a late timer must not delay a due timeout */
    while (B.resume_head != NULL) {
        kv_blocked_t *bs = B.resume_head;
        kv_client_t *c = bs->c;
        unblock(c, false);
        if (c->qpos < c->qlen && !(c->flags & KV_CLIENT_CLOSE_ASAP)) {
            kv_srv.current_client = c;
            kv_client_process_input(c);
            kv_srv.current_client = NULL;
        }
    }
}

void kv_blocked_client_gone(kv_client_t *c) {
    unblock(c, false);
}

size_t kv_blocked_clients(void) {
    return B.nblocked;
}

size_t kv_blocked_keys(void) {
    return B.nkeys;
}

size_t kv_blocked_in_timeout_table(void) {
    return B.nheap;
}

void kv_blocked_fini(void) {
    while (B.resume_head != NULL)
        unblock(B.resume_head->c, false);
    for (int i = 0; i < B.ntables; i++)
        kv_ht_free(B.tables[i]);
    free(B.tables);
    free(B.heap);
    if (B.timer_id >= 0 && kv_srv.loop != NULL) kv_timer_del(kv_srv.loop, B.timer_id);
    B.tables = NULL;
    B.heap = NULL;
    B.ntables = 0;
    B.nheap = B.heapcap = 0;
    B.timer_id = -1;
    B.ready_head = B.ready_tail = NULL;
    kv_blocked_any_ready = false;
}

/* --- Argument parsing --- */

int kv_blocked_parse_timeout(kv_client_t *c, const kv_arg_t *a, long long *ms) {
    long double v;
    if (!kv_str2ld(a->ptr, a->len, &v)) {
        kv_reply_error(c, "ERR timeout is not a float or out of range");
        return -EINVAL;
    }
    /* As Redis 7.2: milliseconds past LLONG_MAX, or a deadline (now + timeout in wall-clock
     * ms) past it, are "out of range" (7.0 converted them unchecked and, on x86-64, got
     * LLONG_MIN: "negative"). -inf still converts to LLONG_MIN: "negative". */
    long double t = v * 1000.0L;
    if (t > (long double)LLONG_MAX) {
        kv_reply_error(c, "ERR timeout is out of range");
        return -EINVAL;
    }
    t = ceill(t);
    long long tval = t < -9223372036854775808.0L   ? LLONG_MIN
                     : t >= 9223372036854775808.0L ? LLONG_MAX /* 2^63 with 64-bit long double */
                                                   : (long long)t;
    if (tval < 0) {
        kv_reply_error(c, "ERR timeout is negative");
        return -EINVAL;
    }
    if (tval > LLONG_MAX - kv_mstime()) {
        kv_reply_error(c, "ERR timeout is out of range");
        return -EINVAL;
    }
    *ms = tval;
    return 0;
}

/* The deadline of a timeout of ms milliseconds from now; 0 = forever. A deadline past
 * what the clock can hold never fires (Redis 7.0 blocks such a client for good too). */
static uint64_t deadline_of(long long ms) {
    if (ms == 0) return 0;
    uint64_t now = kv_monotonic_us();
    if ((uint64_t)ms > (UINT64_MAX - 1 - now) / 1000) return UINT64_MAX;
    return now + (uint64_t)ms * 1000;
}

/* numkeys of LMPOP/ZMPOP/BLMPOP/BZMPOP at argv[idx]: 1..LONG_MAX, and the keys present. */
static bool parse_numkeys(kv_client_t *c, int idx, long long *n) {
    if (!kv_str2ll(c->argv[idx].ptr, c->argv[idx].len, n) || *n < 1) {
        kv_reply_error(c, "ERR numkeys should be greater than 0");
        return false;
    }
    if (*n > c->argc - idx - 2) { /* the keys, then the direction */
        kv_reply_syntax_err(c);
        return false;
    }
    return true;
}

/* [COUNT n] after the direction of an MPOP; *count 1 when absent. */
static bool parse_mpop_count(kv_client_t *c, int first, long long *count) {
    *count = -1;
    for (int j = first; j < c->argc; j++) {
        if (kv_arg_is(&c->argv[j], "count") && j + 1 < c->argc && *count == -1) {
            j++;
            if (!kv_str2ll(c->argv[j].ptr, c->argv[j].len, count) || *count < 1) {
                kv_reply_error(c, "ERR count should be greater than 0");
                return false;
            }
        } else {
            kv_reply_syntax_err(c);
            return false;
        }
    }
    if (*count == -1) *count = 1;
    return true;
}

/* --- The commands --- */

/*
 * The first key (in argument order) that holds elements is served now; WRONGTYPE on the
 * way ends the command. With none: null inside EXEC (Redis 7.0's non-blocking rule;
 * BLMOVE answers a null bulk there), otherwise the client blocks until timeout_ms.
 */
static void pop_or_block(kv_client_t *c, const kv_arg_t *keys, int n, const pop_spec_t *sp,
                         long long timeout_ms) {
    for (int i = 0; i < n; i++) {
        bool wrong;
        kv_obj_t *o = kv_lookup_type_or_reply(c, &keys[i], sp->type, true, &wrong);
        if (wrong) return;
        if (o != NULL) {
            serve(c, &keys[i], o, sp, true);
            return;
        }
    }
    if (timeout_ms < 0 || (c->flags & KV_CLIENT_EXEC)) {
        if (sp->dst != NULL)
            kv_reply_null(c);
        else
            kv_reply_null_array(c);
        return;
    }
    if (block_on(c, keys, n, sp, deadline_of(timeout_ms)) != 0) kv_reply_oom(c);
}

static void bpop_generic(kv_client_t *c, int type, int where) {
    long long ms;
    if (kv_blocked_parse_timeout(c, &c->argv[c->argc - 1], &ms) != 0) return;
    pop_spec_t sp = {.type = type, .where = where, .count = 1, .form = KV_POP_KEY_VALUE};
    pop_or_block(c, &c->argv[1], c->argc - 2, &sp, ms);
}

void kv_cmd_blpop(kv_client_t *c) {
    bpop_generic(c, KV_TYPE_LIST, KV_LIST_HEAD);
}

void kv_cmd_brpop(kv_client_t *c) {
    bpop_generic(c, KV_TYPE_LIST, KV_LIST_TAIL);
}

void kv_cmd_bzpopmin(kv_client_t *c) {
    bpop_generic(c, KV_TYPE_ZSET, 0);
}

void kv_cmd_bzpopmax(kv_client_t *c) {
    bpop_generic(c, KV_TYPE_ZSET, 1);
}

static void bmove_generic(kv_client_t *c, int wherefrom, int whereto, const kv_arg_t *timeout) {
    long long ms;
    if (kv_blocked_parse_timeout(c, timeout, &ms) != 0) return;
    pop_spec_t sp = {.type = KV_TYPE_LIST,
                     .where = wherefrom,
                     .whereto = whereto,
                     .count = 1,
                     .dst = &c->argv[2]};
    pop_or_block(c, &c->argv[1], 1, &sp, ms);
}

void kv_cmd_blmove(kv_client_t *c) {
    int wherefrom, whereto;
    if (!kv_list_parse_side(c, &c->argv[3], &wherefrom) ||
        !kv_list_parse_side(c, &c->argv[4], &whereto))
        return;
    bmove_generic(c, wherefrom, whereto, &c->argv[5]);
}

void kv_cmd_brpoplpush(kv_client_t *c) {
    bmove_generic(c, KV_LIST_TAIL, KV_LIST_HEAD, &c->argv[3]);
}

/*
 * LMPOP/ZMPOP (first = 1) and BLMPOP/BZMPOP (first = 2, the timeout at argv[1]): numkeys,
 * keys, direction, [COUNT n] are parsed before the timeout, as Redis 7.0 does.
 */
static void mpop_generic(kv_client_t *c, int type, int first) {
    long long numkeys, count, ms = -1;
    if (!parse_numkeys(c, first, &numkeys)) return;
    int where_idx = first + 1 + (int)numkeys;
    const kv_arg_t *w = &c->argv[where_idx];
    int where;
    if (type == KV_TYPE_LIST && (kv_arg_is(w, "left") || kv_arg_is(w, "right")))
        where = kv_arg_is(w, "left") ? KV_LIST_HEAD : KV_LIST_TAIL;
    else if (type == KV_TYPE_ZSET && (kv_arg_is(w, "min") || kv_arg_is(w, "max")))
        where = kv_arg_is(w, "max");
    else {
        kv_reply_syntax_err(c);
        return;
    }
    if (!parse_mpop_count(c, where_idx + 1, &count)) return;
    if (first == 2 && kv_blocked_parse_timeout(c, &c->argv[1], &ms) != 0) return;
    pop_spec_t sp = {.type = type, .where = where, .count = count, .form = KV_POP_KEY_ARRAY};
    pop_or_block(c, &c->argv[first + 1], (int)numkeys, &sp, ms);
}

void kv_cmd_lmpop(kv_client_t *c) {
    mpop_generic(c, KV_TYPE_LIST, 1);
}

void kv_cmd_blmpop(kv_client_t *c) {
    mpop_generic(c, KV_TYPE_LIST, 2);
}

void kv_cmd_zmpop(kv_client_t *c) {
    mpop_generic(c, KV_TYPE_ZSET, 1);
}

void kv_cmd_bzmpop(kv_client_t *c) {
    mpop_generic(c, KV_TYPE_ZSET, 2);
}

void kv_cmd_client_unblock(kv_client_t *c) {
    bool error = false;
    if (c->argc > 4) {
        kv_reply_subcmd_err(c);
        return;
    }
    if (c->argc == 4) {
        if (kv_arg_is(&c->argv[3], "error")) {
            error = true;
        } else if (!kv_arg_is(&c->argv[3], "timeout")) {
            kv_reply_error(c, "ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR");
            return;
        }
    }
    long long id;
    if (kv_arg_ll_or_reply(c, &c->argv[2], &id, NULL) != 0) return;
    kv_client_t *target = id > 0 ? kv_client_by_id((uint64_t)id) : NULL;
    if (target == NULL || !(target->flags & KV_CLIENT_BLOCKED)) {
        kv_reply_int(c, 0);
        return;
    }
    unblock(target, true);
    if (error) {
        target->cmd = target->lastcmd; /* a failed call of the blocked command, as Redis */
        kv_reply_error(target, "UNBLOCKED client unblocked via CLIENT UNBLOCK");
        target->cmd = NULL;
    } else {
        kv_reply_null_array(target);
    }
    kv_reply_int(c, 1);
}
