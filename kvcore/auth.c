/* SPDX-License-Identifier: MIT */
/*
 * auth.c - access control as Redis 7.0's default user: `requirepass`, AUTH, HELLO's AUTH
 * option, the NOAUTH gate in front of every command, and protected mode.
 *
 * A client is authenticated from birth when no password is set (Redis gives a new
 * connection the default user's nopass state then), or after an AUTH or HELLO AUTH
 * with the right password; setting requirepass later does not log anybody out, as in
 * Redis. Passwords are compared through their SHA-1 digests in constant time, so the
 * reply time says nothing about how many leading bytes were right.
 *
 * A wrong password is counted (INFO acl_access_denied_auth) and slowed down: the
 * WRONGPASS reply waits 100 ms, doubling with each further consecutive failure of the
 * same connection up to 2 s. The wait never blocks the loop: the client is marked
 * paused (its pipelined commands stay in its query buffer, kv_client_process_input
 * does not run them) and one timer releases paused clients when their time comes,
 * replies, and runs what they sent meanwhile. Clients are found again by id, so one
 * that disconnected or was killed while paused is simply gone.
 *
 * Protected mode (Redis 7.0 networking.c clientAcceptHandler): with protected-mode yes
 * and no password, a TCP peer other than 127.0.0.1 or ::1 gets the -DENIED text and is
 * disconnected (rejected_connections counts it). Like Redis, only those two addresses
 * and unix sockets are local: 127.0.0.2 is refused, whatever the bind address.
 */
#include "kv_internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define AUTH_DELAY_BASE_US 100000
#define AUTH_DELAY_MAX_US  2000000

static const char wrongpass_msg[] = "WRONGPASS invalid username-password pair or user is disabled.";

static const char denied_msg[] =
    "-DENIED Redis is running in protected mode because protected mode is enabled and no "
    "password is set for the default user. In this mode connections are only accepted from "
    "the loopback interface. If you want to connect from external computers to Redis you may "
    "adopt one of the following solutions: 1) Just disable protected mode sending the command "
    "'CONFIG SET protected-mode no' from the loopback interface by connecting to Redis from "
    "the same host the server is running, however MAKE SURE Redis is not publicly accessible "
    "from internet if you do so. Use CONFIG REWRITE to make this change permanent. 2) "
    "Alternatively you can just disable the protected mode by editing the Redis configuration "
    "file, and setting the protected mode option to 'no', and then restarting the server. 3) "
    "If you started the server manually just for testing, restart it with the "
    "'--protected-mode no' option. 4) Setup a an authentication password for the default "
    "user. NOTE: You only need to do one of the above things in order for the server to start "
    "accepting connections from the outside.\r\n";

/* Clients waiting for their WRONGPASS reply. */
typedef struct paused {
    uint64_t client_id;
    uint64_t release_us;
} paused_t;

static paused_t *paused;
static size_t npaused, paused_cap;
static int64_t release_timer;   /* 0 = none */
static uint64_t release_due_us; /* when release_timer fires */

/* --- Passwords --- */

bool kv_auth_password_set(void) {
    const char *p = kv_srv.cfg.requirepass;
    return p != NULL && p[0] != '\0';
}

bool kv_auth_required(const kv_client_t *c) {
    return kv_auth_password_set() && !(c->flags & KV_CLIENT_AUTHENTICATED);
}

void kv_auth_client_init(kv_client_t *c) {
    if (!kv_auth_password_set() || (c->flags & KV_CLIENT_FAKE)) c->flags |= KV_CLIENT_AUTHENTICATED;
}

bool kv_auth_password_matches(const char *pass, size_t len) {
    const char *want = kv_srv.cfg.requirepass ? kv_srv.cfg.requirepass : "";
    unsigned char a[20], b[20];
    kv_sha1(pass, len, a);
    kv_sha1(want, strlen(want), b);
    unsigned char diff = 0;
    for (size_t i = 0; i < sizeof(a); i++)
        diff |= (unsigned char)(a[i] ^ b[i]);
    return diff == 0;
}

/* --- The delayed WRONGPASS --- */

static uint64_t failure_delay_us(uint32_t fails) {
    uint64_t d = AUTH_DELAY_BASE_US;
    for (uint32_t i = 1; i < fails && d < AUTH_DELAY_MAX_US; i++)
        d *= 2;
    return d < AUTH_DELAY_MAX_US ? d : AUTH_DELAY_MAX_US;
}

static void release_client(kv_client_t *c) {
    c->flags &= ~KV_CLIENT_AUTH_PAUSED;
    kv_reply_error(c, wrongpass_msg);
    /* Run what the client pipelined behind the failed AUTH. */
    kv_client_t *prev = kv_srv.current_client;
    kv_srv.current_client = c;
    kv_client_process_input(c);
    kv_srv.current_client = prev;
}

static int64_t release_due(kv_loop_t *loop, int64_t id, void *priv) {
    (void)loop;
    (void)id;
    (void)priv;
    uint64_t now = kv_monotonic_us();
    /* Take the due entries out first: running a client's input may pause it again. */
    size_t ndue = 0;
    for (size_t i = 0; i < npaused; i++)
        ndue += paused[i].release_us <= now;
    uint64_t due_small[64];
    uint64_t *due = ndue <= 64 ? due_small : malloc(ndue * sizeof(*due));
    if (due == NULL) return 1000; /* out of memory: try again in 1 ms */
    size_t j = 0, k = 0;
    for (size_t i = 0; i < npaused; i++) {
        if (paused[i].release_us <= now)
            due[k++] = paused[i].client_id;
        else
            paused[j++] = paused[i];
    }
    npaused = j;
    for (size_t i = 0; i < k; i++) {
        kv_client_t *c = kv_client_by_id(due[i]);
        if (c != NULL && (c->flags & KV_CLIENT_AUTH_PAUSED)) release_client(c);
    }
    if (due != due_small) free(due);
    if (npaused == 0) {
        release_timer = 0;
        return -1;
    }
    uint64_t next = paused[0].release_us;
    for (size_t i = 1; i < npaused; i++)
        if (paused[i].release_us < next) next = paused[i].release_us;
    now = kv_monotonic_us();
    release_due_us = next > now ? next : now;
    return (int64_t)(release_due_us - now);
}

/*
 * Pauses c until its WRONGPASS is due. Falls back to replying at once when there is no
 * loop (unit tests) or no memory for the entry.
 */
static void pause_client(kv_client_t *c) {
    uint64_t now = kv_monotonic_us();
    uint64_t when = now + failure_delay_us(c->auth_fails);
    if (kv_srv.loop == NULL || (c->flags & KV_CLIENT_FAKE)) goto reply_now;
    if (npaused == paused_cap) {
        size_t ncap = paused_cap ? paused_cap * 2 : 16;
        paused_t *np = realloc(paused, ncap * sizeof(*np));
        if (np == NULL) goto reply_now;
        paused = np;
        paused_cap = ncap;
    }
    if (release_timer == 0 || when < release_due_us) {
        if (release_timer != 0) kv_timer_del(kv_srv.loop, release_timer);
        int64_t t = kv_timer_add(kv_srv.loop, (int64_t)(when - now), release_due, NULL);
        if (t < 0) {
            release_timer = 0;
            goto reply_now;
        }
        release_timer = t;
        release_due_us = when;
    }
    paused[npaused].client_id = c->id;
    paused[npaused].release_us = when;
    npaused++;
    c->flags |= KV_CLIENT_AUTH_PAUSED;
    return;
reply_now:
    kv_reply_error(c, wrongpass_msg);
}

size_t kv_auth_paused_count(void) {
    return npaused;
}

void kv_auth_fini(void) {
    free(paused);
    paused = NULL;
    npaused = paused_cap = 0;
    release_timer = 0;
}

/* --- AUTH and HELLO AUTH --- */

int kv_auth_attempt(kv_client_t *c, const kv_arg_t *user, const kv_arg_t *pass) {
    bool ok;
    if (user->len != 7 || memcmp(user->ptr, "default", 7) != 0) /* user names are exact */
        ok = false;
    else if (!kv_auth_password_set())
        ok = true; /* the nopass default user takes any password */
    else
        ok = kv_auth_password_matches(pass->ptr, pass->len);
    if (ok) {
        c->flags |= KV_CLIENT_AUTHENTICATED;
        c->auth_fails = 0;
        return 0;
    }
    kv_srv.stat_acl_denied_auth++;
    if (c->auth_fails < UINT32_MAX) c->auth_fails++;
    if (c->cmd != NULL) ((kv_cmd_t *)c->cmd)->failed_calls++;
    kv_log(KV_LOG_VERBOSE, "AUTH failed for client id=%llu addr=%s (%u in a row)",
           (unsigned long long)c->id, c->addr, c->auth_fails);
    pause_client(c);
    return -EACCES;
}

void kv_cmd_auth(kv_client_t *c) {
    if (c->argc > 3) {
        kv_reply_syntax_err(c);
        return;
    }
    static const kv_arg_t default_user = {"default", 7};
    const kv_arg_t *user = &default_user, *pass = &c->argv[1];
    if (c->argc == 2) {
        if (!kv_auth_password_set()) {
            kv_reply_error(c, "ERR AUTH <password> called without any password configured for "
                              "the default user. Are you sure your configuration is correct?");
            return;
        }
    } else {
        user = &c->argv[1];
        pass = &c->argv[2];
    }
    if (kv_auth_attempt(c, user, pass) == 0) kv_reply_ok(c);
}

/* --- The command gate --- */

/* DEBUG's enable-debug-command rule, as cmd_server.c applies it (yes, or local). */
static bool debug_enabled_for(const kv_client_t *c) {
    int mode = kv_srv.cfg.enable_debug_command;
    return mode == 1 ||
           (mode == 2 && (strncmp(c->addr, "127.", 4) == 0 || strncmp(c->addr, "[::1]", 5) == 0));
}

bool kv_auth_gate(kv_client_t *c, kv_cmd_t *cmd) {
    if (!kv_auth_required(c) || (cmd->flags & KV_CMD_NO_AUTH)) return true;
    /* Redis checks a protected command (DEBUG while enable-debug-command refuses it)
     * before authentication: its handler replies that refusal and runs nothing. */
    if (cmd->fn == kv_cmd_debug && !debug_enabled_for(c)) return true;
    cmd->rejected_calls++;
    kv_reply_error(c, "NOAUTH Authentication required.");
    return false;
}

/* --- Protected mode --- */

bool kv_auth_peer_is_local(const struct sockaddr *sa, size_t len) {
    if (sa == NULL || len < sizeof(sa->sa_family)) return false;
    switch (sa->sa_family) {
    case AF_UNIX: return true;
    case AF_INET: {
        if (len < sizeof(struct sockaddr_in)) return false;
        const struct sockaddr_in *s = (const struct sockaddr_in *)(const void *)sa;
        return ntohl(s->sin_addr.s_addr) == INADDR_LOOPBACK; /* 127.0.0.1 only */
    }
    case AF_INET6: {
        if (len < sizeof(struct sockaddr_in6)) return false;
        const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)(const void *)sa;
        return IN6_IS_ADDR_LOOPBACK(&s->sin6_addr); /* ::1 only, not ::ffff:127.0.0.1 */
    }
    default: return false;
    }
}

bool kv_auth_protected_refuses(const struct sockaddr *sa, size_t len) {
    if (!kv_srv.cfg.protected_mode || kv_auth_password_set()) return false;
    return !kv_auth_peer_is_local(sa, len);
}

bool kv_auth_refuse_connection(int fd) {
    if (!kv_srv.cfg.protected_mode || kv_auth_password_set()) return false;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    if (getpeername(fd, (struct sockaddr *)&ss, &sl) != 0) return false;
    if (!kv_auth_protected_refuses((const struct sockaddr *)&ss, sl)) return false;
    /* Best effort, as Redis: a fresh socket's buffer takes the whole text. */
    if (write(fd, denied_msg, sizeof(denied_msg) - 1) < 0) {
    }
    kv_srv.stat_rejected_conn++;
    return true;
}
