/* SPDX-License-Identifier: MIT */
/*
 * client_ext.c - what a connection asks of the server about itself: CLIENT NO-TOUCH,
 * NO-EVICT, REPLY ON|OFF|SKIP, SETINFO, PAUSE/UNPAUSE, GETREDIR, TRACKINGINFO, CACHING,
 * and RESET; the per-client extras (kv_client_ext_t) and the steps net.c runs around
 * each command.
 *
 * REPLY OFF/SKIP: reply.c drops the replies of a client flagged KV_CLIENT_REPLY_OFF or
 * KV_CLIENT_REPLY_SKIP (set here for the command after REPLY SKIP) but lets pushes
 * through. CLIENT PAUSE: a
 * command the pause covers is not consumed; the client is flagged KV_CLIENT_PAUSED and
 * its input is run again when the pause ends (UNPAUSE, or its time, checked before the
 * loop sleeps and by the cron). Texts and replies are Redis 7.0's (NO-TOUCH and SETINFO:
 * Redis 7.2's).
 */
#include "kv_internal.h"

#include <stdlib.h>
#include <string.h>

kv_client_ext_t *kv_client_ext_get(kv_client_t *c) {
    if (c->ext == NULL) c->ext = calloc(1, sizeof(*c->ext));
    return c->ext;
}

/* --- CLIENT PAUSE --- */

bool kv_client_pause_active; /* a CLIENT PAUSE is set (it may have expired) */

static struct {
    bool all;       /* ALL (else WRITE) */
    int64_t end_ms; /* unix ms */
    size_t nwaiting;
} pause_state;

static bool pause_expired(void) {
    return kv_client_pause_active && kv_mstime() >= pause_state.end_ms;
}

size_t kv_pause_waiting_clients(void) {
    return pause_state.nwaiting;
}

bool kv_pause_is_active(bool write) {
    if (!kv_client_pause_active || pause_expired()) return false;
    return pause_state.all || write;
}

/* Runs the input of every paused client again: a command still covered (a new pause)
 * makes it wait again. */
static void pause_release(void) {
    kv_client_pause_active = false;
    if (pause_state.nwaiting == 0) return;
    for (kv_client_t *c = kv_srv.clients, *next; c; c = next) {
        next = c->next;
        if (!(c->flags & KV_CLIENT_PAUSED)) continue;
        c->flags &= ~KV_CLIENT_PAUSED;
        pause_state.nwaiting--;
        kv_client_t *saved = kv_srv.current_client;
        kv_srv.current_client = c;
        kv_client_process_input(c);
        kv_srv.current_client = saved;
    }
}

/* Before the loop sleeps and from the cron: ends a pause whose time is up. */
static void pause_check(void) {
    if (pause_expired()) pause_release();
}

/* Commands that may change what a replica sees without the write flag: PUBLISH and
 * SPUBLISH (the message goes to the replication stream), PFCOUNT (it may rewrite the
 * cached cardinality). CLIENT PAUSE WRITE holds them as Redis does. */
static bool may_replicate(const kv_cmd_t *cmd) {
    return cmd->fn == kv_cmd_publish || cmd->fn == kv_cmd_spublish || cmd->fn == kv_cmd_pfcount;
}

static bool command_is_write(const kv_client_t *c, const kv_cmd_t *cmd) {
    /* EXEC of a queue holding writes is a write (multi.c) */
    return (kv_multi_cmd_flags(c, cmd) & (KV_CMD_WRITE | KV_CMD_MAY_REPLICATE)) != 0 ||
           may_replicate(cmd);
}

/* Would the pause hold this command? Commands that fail their checks (unknown, arity)
 * are refused at once, as Redis refuses them before it looks at the pause. */
static bool pause_holds(kv_client_t *c) {
    if (!kv_client_pause_active || pause_expired()) return false;
    const kv_cmd_t *cmd = kv_cmd_lookup_argv(c->argv, c->argc);
    if (cmd == NULL) return false;
    if ((cmd->arity > 0 && cmd->arity != c->argc) || c->argc < -cmd->arity) return false;
    return pause_state.all || command_is_write(c, cmd);
}

void kv_cmd_client_pause(kv_client_t *c) {
    bool all = true;
    if (c->argc == 4) {
        if (kv_arg_is(&c->argv[3], "write")) {
            all = false;
        } else if (!kv_arg_is(&c->argv[3], "all")) {
            kv_reply_error(c, "ERR CLIENT PAUSE mode must be WRITE or ALL");
            return;
        }
    } else if (c->argc > 4) {
        kv_reply_subcmd_err(c);
        return;
    }
    long long ms;
    if (!kv_str2ll(c->argv[2].ptr, c->argv[2].len, &ms)) {
        kv_reply_error(c, "ERR timeout is not an integer or out of range");
        return;
    }
    if (ms < 0) {
        kv_reply_error(c, "ERR timeout is negative");
        return;
    }
    int64_t now = kv_mstime();
    int64_t end = ms > INT64_MAX - now ? INT64_MAX : now + ms;
    /* As Redis: a pause never shortens or weakens one in force. */
    if (kv_client_pause_active && !pause_expired()) {
        if (end > pause_state.end_ms) pause_state.end_ms = end;
        pause_state.all = pause_state.all || all;
    } else {
        kv_client_pause_active = true;
        pause_state.end_ms = end;
        pause_state.all = all;
    }
    kv_reply_ok(c);
}

void kv_cmd_client_unpause(kv_client_t *c) {
    kv_reply_ok(c);
    pause_release();
}

/* --- Around each command --- */

bool kv_client_before_command(kv_client_t *c, kv_reply_mark_t *m) {
    if (pause_holds(c)) {
        c->flags |= KV_CLIENT_PAUSED;
        pause_state.nwaiting++;
        return false;
    }
    /* CLIENT REPLY SKIP ran before: this command's replies are dropped (reply.c). */
    m->mute = c->ext && c->ext->skip_next;
    if (m->mute) {
        c->ext->skip_next = false;
        c->flags |= KV_CLIENT_REPLY_SKIP;
    }
    return true;
}

void kv_client_after_command(kv_client_t *c, kv_reply_mark_t *m) {
    if (m->mute) c->flags &= ~KV_CLIENT_REPLY_SKIP;
}

/* --- Small CLIENT subcommands --- */

static int on_off_or_reply(kv_client_t *c, const kv_arg_t *a) {
    if (kv_arg_is(a, "on")) return 1;
    if (kv_arg_is(a, "off")) return 0;
    kv_reply_syntax_err(c);
    return -1;
}

bool kv_client_no_touch(const kv_client_t *c) {
    return c != NULL && (c->flags & KV_CLIENT_NO_TOUCH) &&
           !(c->cmd != NULL && c->cmd->fn == kv_cmd_touch);
}

void kv_cmd_client_no_touch(kv_client_t *c) {
    int on = on_off_or_reply(c, &c->argv[2]);
    if (on < 0) return;
    if (on)
        c->flags |= KV_CLIENT_NO_TOUCH;
    else
        c->flags &= ~KV_CLIENT_NO_TOUCH;
    kv_reply_ok(c);
}

void kv_cmd_client_no_evict(kv_client_t *c) {
    int on = on_off_or_reply(c, &c->argv[2]);
    if (on < 0) return;
    if (on)
        c->flags |= KV_CLIENT_NO_EVICT;
    else
        c->flags &= ~KV_CLIENT_NO_EVICT;
    kv_reply_ok(c);
}

/* ON answers OK; OFF and SKIP answer nothing: OFF's OK is dropped (reply.c), SKIP arms
 * the next command's silence and replies nothing itself, as Redis. */
void kv_cmd_client_reply(kv_client_t *c) {
    const kv_arg_t *a = &c->argv[2];
    if (kv_arg_is(a, "on")) {
        c->flags &= ~(KV_CLIENT_REPLY_OFF | KV_CLIENT_REPLY_SKIP);
        if (c->ext) c->ext->skip_next = false;
    } else if (kv_arg_is(a, "off")) {
        c->flags |= KV_CLIENT_REPLY_OFF;
    } else if (kv_arg_is(a, "skip")) {
        kv_client_ext_t *x = kv_client_ext_get(c);
        if (x == NULL) {
            kv_reply_oom(c);
            return;
        }
        if (!(c->flags & KV_CLIENT_REPLY_OFF)) x->skip_next = true;
        return;
    } else {
        kv_reply_syntax_err(c);
        return;
    }
    kv_reply_ok(c);
}

/* Printable ASCII without spaces, as CLIENT LIST can be split on spaces. */
static bool attr_is_valid(const kv_arg_t *a) {
    for (size_t i = 0; i < a->len; i++)
        if (a->ptr[i] < '!' || a->ptr[i] > '~') return false;
    return true;
}

void kv_cmd_client_setinfo(kv_client_t *c) {
    const kv_arg_t *attr = &c->argv[2], *val = &c->argv[3];
    bool is_name = kv_arg_is(attr, "lib-name");
    if (!is_name && !kv_arg_is(attr, "lib-ver")) {
        kv_reply_errorf(c, "ERR Unrecognized option '%.*s'", (int)attr->len, attr->ptr);
        return;
    }
    if (!attr_is_valid(val)) {
        kv_reply_errorf(c, "ERR %.*s cannot contain spaces, newlines or special characters.",
                        (int)attr->len, attr->ptr);
        return;
    }
    kv_client_ext_t *x = kv_client_ext_get(c);
    char *copy = val->len ? strndup(val->ptr, val->len) : NULL;
    if (x == NULL || (val->len && copy == NULL)) {
        free(copy);
        kv_reply_oom(c);
        return;
    }
    char **dst = is_name ? &x->lib_name : &x->lib_ver;
    free(*dst);
    *dst = copy;
    kv_reply_ok(c);
}

/* --- Tracking state as the connection sees it --- */

void kv_cmd_client_getredir(kv_client_t *c) {
    kv_reply_int(c, kv_client_tracking_redir(c));
}

long long kv_client_tracking_redir(const kv_client_t *c) {
    if (!(c->flags & KV_CLIENT_TRACKING)) return -1;
    return c->ext ? (long long)c->ext->trk_redirect : 0;
}

void kv_cmd_client_trackinginfo(kv_client_t *c) {
    bool on = (c->flags & KV_CLIENT_TRACKING) != 0;
    uint32_t t = on && c->ext ? c->ext->trk : 0;
    const char *flags[8];
    long n = 0;
    flags[n++] = on ? "on" : "off";
    if (t & KV_TRK_BCAST) flags[n++] = "bcast";
    if (t & KV_TRK_OPTIN) {
        flags[n++] = "optin";
        if (t & KV_TRK_CACHING) flags[n++] = "caching-yes";
    }
    if (t & KV_TRK_OPTOUT) {
        flags[n++] = "optout";
        if (t & KV_TRK_CACHING) flags[n++] = "caching-no";
    }
    if (t & KV_TRK_NOLOOP) flags[n++] = "noloop";
    if (t & KV_TRK_BROKEN_REDIR) flags[n++] = "broken_redirect";
    kv_reply_map_len(c, 3);
    kv_reply_bulk_cstr(c, "flags");
    kv_reply_set_len(c, n);
    for (long i = 0; i < n; i++)
        kv_reply_bulk_cstr(c, flags[i]);
    kv_reply_bulk_cstr(c, "redirect");
    kv_reply_int(c, kv_client_tracking_redir(c));
    kv_reply_bulk_cstr(c, "prefixes");
    int np = on && c->ext ? c->ext->nprefixes : 0;
    kv_reply_array_len(c, np);
    for (int i = 0; i < np; i++)
        kv_reply_bulk(c, c->ext->prefixes[i].ptr, c->ext->prefixes[i].len);
}

void kv_cmd_client_caching(kv_client_t *c) {
    kv_client_ext_t *x = c->ext;
    if (!(c->flags & KV_CLIENT_TRACKING) || x == NULL) {
        kv_reply_error(c, "ERR CLIENT CACHING can be called only when the client is in tracking "
                          "mode with OPTIN or OPTOUT mode enabled");
        return;
    }
    if (kv_arg_is(&c->argv[2], "yes")) {
        if (!(x->trk & KV_TRK_OPTIN)) {
            kv_reply_error(c, "ERR CLIENT CACHING YES is only valid when tracking is enabled in "
                              "OPTIN mode.");
            return;
        }
    } else if (kv_arg_is(&c->argv[2], "no")) {
        if (!(x->trk & KV_TRK_OPTOUT)) {
            kv_reply_error(c, "ERR CLIENT CACHING NO is only valid when tracking is enabled in "
                              "OPTOUT mode.");
            return;
        }
    } else {
        kv_reply_syntax_err(c);
        return;
    }
    x->trk |= KV_TRK_CACHING;
    kv_reply_ok(c);
}

/* --- CLIENT LIST letters, disconnection --- */

int kv_client_ext_flags(const kv_client_t *c, char *out, bool tail) {
    int n = 0;
    if (!tail) {
        if (c->flags & KV_CLIENT_MONITOR) out[n++] = 'O';
        return n;
    }
    if (c->flags & KV_CLIENT_TRACKING) {
        out[n++] = 't';
        uint32_t t = c->ext ? c->ext->trk : 0;
        if (t & KV_TRK_BROKEN_REDIR) out[n++] = 'R';
        if (t & KV_TRK_BCAST) out[n++] = 'B';
    }
    return n;
}

void kv_client_ext_free(kv_client_t *c) {
    if (c->flags & KV_CLIENT_PAUSED) {
        c->flags &= ~KV_CLIENT_PAUSED;
        pause_state.nwaiting--;
    }
    if (c->flags & KV_CLIENT_MONITOR) kv_monitor_remove(c);
    if (c->flags & KV_CLIENT_TRACKING) kv_tracking_disable(c);
    if (c->ext == NULL) return;
    free(c->ext->lib_name);
    free(c->ext->lib_ver);
    free(c->ext->prefixes);
    free(c->ext);
    c->ext = NULL;
}

/* --- RESET --- */

/*
 * RESET, as Redis 7.0: leaves MULTI (discarding), WATCH, pub/sub, MONITOR and tracking,
 * selects db 0, back to RESP2, forgets the name and authentication (when a password is
 * set), turns REPLY ON and NO-EVICT/NO-TOUCH off; answers +RESET.
 */
void kv_cmd_reset(kv_client_t *c) {
    kv_multi_reset(c);
    kv_pubsub_unsubscribe_all(c);
    if (c->flags & KV_CLIENT_MONITOR) kv_monitor_remove(c);
    if (c->flags & KV_CLIENT_TRACKING) kv_tracking_disable(c);
    c->flags &= ~(KV_CLIENT_NO_TOUCH | KV_CLIENT_NO_EVICT | KV_CLIENT_REPLY_OFF |
                  KV_CLIENT_REPLY_SKIP | KV_CLIENT_MONITOR);
    if (c->ext) c->ext->skip_next = false;
    c->dbid = 0;
    c->db = kv_db_get(0);
    c->resp = 2;
    free(c->name);
    c->name = NULL;
    c->flags &= ~KV_CLIENT_AUTHENTICATED;
    kv_auth_client_init(c);
    kv_reply_status(c, "RESET");
}

void kv_client_after_call(kv_client_t *c, kv_cmd_t *cmd) {
    if (kv_monitor_count) kv_monitor_feed(c, cmd);
    if (kv_tracking_pending || (c->flags & KV_CLIENT_TRACKING)) kv_tracking_after_command(c, cmd);
    if (kv_pubsub_self_pending) kv_pubsub_flush_self(c); /* its own messages, after both */
}

/* Before the loop sleeps (server.c): pause time, BCAST tracking messages. */
void kv_client_ext_before_sleep(void) {
    pause_check();
    kv_tracking_before_sleep();
}
