/* SPDX-License-Identifier: MIT */
/*
 * test_kv_auth.c - access control (auth.c): protected mode's locality rule on
 * fake peer addresses, the password comparison, the NOAUTH gate through the
 * real dispatcher, AUTH and HELLO replies with Redis 7.0's texts, the failure
 * counter, and the delayed WRONGPASS: a paused client keeps its pipelined
 * commands until the loop's timer releases it, while another client is served
 * at once; and the protocol limits of a client that has not authenticated.
 */
#include "test_common.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "kv_internal.h"
#include "kv_client_test.h"

static const char wrongpass[] =
    "-WRONGPASS invalid username-password pair or user is disabled.\r\n";

static void set_pass(const char *p) {
    char err[256];
    assert_int_equal(kv_config_set(&kv_srv.cfg, "requirepass", p, err, sizeof(err)), 0);
}

static struct sockaddr_in v4(const char *ip) {
    struct sockaddr_in s;
    memset(&s, 0, sizeof(s));
    s.sin_family = AF_INET;
    s.sin_port = htons(40000);
    assert_int_equal(inet_pton(AF_INET, ip, &s.sin_addr), 1);
    return s;
}

static struct sockaddr_in6 v6(const char *ip) {
    struct sockaddr_in6 s;
    memset(&s, 0, sizeof(s));
    s.sin6_family = AF_INET6;
    s.sin6_port = htons(40000);
    assert_int_equal(inet_pton(AF_INET6, ip, &s.sin6_addr), 1);
    return s;
}

#define SA(x) ((const struct sockaddr *)&(x)), sizeof(x)

static void test_auth_only_127_0_0_1_and_ipv6_loopback_and_unix_are_local(void **state) {
    (void)state;
    struct sockaddr_in a = v4("127.0.0.1"), b = v4("127.0.0.2"), c = v4("10.1.2.3"),
                       d = v4("0.0.0.0");
    struct sockaddr_in6 e = v6("::1"), f = v6("::ffff:127.0.0.1"), g = v6("fe80::1");
    struct sockaddr_un u;
    memset(&u, 0, sizeof(u));
    u.sun_family = AF_UNIX;
    assert_true(kv_auth_peer_is_local(SA(a)));
    assert_false(kv_auth_peer_is_local(SA(b)));
    assert_false(kv_auth_peer_is_local(SA(c)));
    assert_false(kv_auth_peer_is_local(SA(d)));
    assert_true(kv_auth_peer_is_local(SA(e)));
    assert_false(kv_auth_peer_is_local(SA(f)));
    assert_false(kv_auth_peer_is_local(SA(g)));
    assert_true(kv_auth_peer_is_local(SA(u)));
    /* A truncated address is never local. */
    assert_false(kv_auth_peer_is_local((const struct sockaddr *)&a, 2));
    assert_false(kv_auth_peer_is_local(NULL, 0));
}

static void test_auth_protected_mode_refuses_remote_peers_only_without_password(void **state) {
    (void)state;
    struct sockaddr_in remote = v4("192.0.2.7"), local = v4("127.0.0.1");
    set_pass("");
    kv_srv.cfg.protected_mode = true;
    assert_true(kv_auth_protected_refuses(SA(remote)));
    assert_false(kv_auth_protected_refuses(SA(local)));
    kv_srv.cfg.protected_mode = false;
    assert_false(kv_auth_protected_refuses(SA(remote)));
    kv_srv.cfg.protected_mode = true;
    set_pass("s3cret");
    assert_false(kv_auth_protected_refuses(SA(remote)));
    set_pass("");
}

static void test_auth_password_comparison_is_exact(void **state) {
    (void)state;
    set_pass("s3cret");
    assert_true(kv_auth_password_matches("s3cret", 6));
    assert_false(kv_auth_password_matches("s3cre", 5));
    assert_false(kv_auth_password_matches("s3cret ", 7));
    assert_false(kv_auth_password_matches("S3cret", 6));
    assert_false(kv_auth_password_matches("", 0));
    set_pass("");
}

static void test_auth_new_client_is_authenticated_only_without_password(void **state) {
    (void)state;
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    set_pass("");
    kv_client_t *a = kv_client_new(sv[0]);
    assert_non_null(a);
    assert_false(kv_auth_required(a));
    set_pass("pw");
    kv_client_t *b = kv_client_new(sv[1]);
    assert_non_null(b);
    assert_true(kv_auth_required(b));
    /* As Redis: setting a password later does not log anybody out. */
    assert_false(kv_auth_required(a));
    kv_client_free(a);
    kv_client_free(b);
    set_pass("");
}

/* A socket-less client that has not authenticated (fake clients start
 * authenticated). */
static kv_client_t *unauthenticated_client(void) {
    kv_client_t *c = kv_client_new(-1);
    assert_non_null(c);
    c->flags &= ~KV_CLIENT_AUTHENTICATED;
    return c;
}

static void test_auth_gate_allows_only_auth_hello_quit_before_authenticating(void **state) {
    (void)state;
    set_pass("pw");
    kv_client_t *c = unauthenticated_client();
    uint64_t before = kv_srv.stat_total_error_replies;
    feed(c, "PING\r\nGET k\r\nCLIENT SETNAME x\r\nHELLO\r\n");
    assert_output(c, "-NOAUTH Authentication required.\r\n"
                     "-NOAUTH Authentication required.\r\n"
                     "-NOAUTH Authentication required.\r\n"
                     "-NOAUTH HELLO must be called with the client already authenticated, "
                     "otherwise the HELLO AUTH <user> <pass> option can be used to "
                     "authenticate "
                     "the client and select the RESP protocol version at the same time\r\n");
    assert_int_equal(kv_srv.stat_total_error_replies - before, 4);
    /* Unknown commands and arity errors come first, as in Redis. */
    feed(c, "NOPE\r\nGET\r\n");
    assert_output(c, "-ERR unknown command 'NOPE', with args beginning with: \r\n"
                     "-ERR wrong number of arguments for 'get' command\r\n");
    /* So does DEBUG refused by enable-debug-command; allowed, it needs authentication. */
    kv_srv.cfg.enable_debug_command = 0;
    feed(c, "DEBUG HELP\r\n");
    char *out = take_output(c);
    assert_memory_equal(out, "-ERR DEBUG command not allowed.", 31);
    free(out);
    kv_srv.cfg.enable_debug_command = 1;
    feed(c, "DEBUG HELP\r\n");
    assert_output(c, "-NOAUTH Authentication required.\r\n");
    kv_srv.cfg.enable_debug_command = 0;
    feed(c, "AUTH pw\r\nPING\r\n");
    assert_output(c, "+OK\r\n+PONG\r\n");
    feed(c, "QUIT\r\n");
    assert_output(c, "+OK\r\n");
    kv_client_free(c);
    set_pass("");
}

static void test_auth_replies_match_redis_without_password(void **state) {
    (void)state;
    set_pass("");
    kv_client_t *c = kv_client_new(-1);
    uint64_t denied = kv_srv.stat_acl_denied_auth;
    feed(c, "AUTH anything\r\n");
    assert_output(c, "-ERR AUTH <password> called without any password configured for the "
                     "default user. Are you sure your configuration is correct?\r\n");
    feed(c, "AUTH default anything\r\nAUTH a b c\r\n");
    assert_output(c, "+OK\r\n-ERR syntax error\r\n");
    /* Only the default user exists: another name is a wrong password (counted).
     */
    feed(c, "AUTH bob anything\r\n");
    assert_output(c, wrongpass);
    assert_int_equal(kv_srv.stat_acl_denied_auth - denied, 1);
    kv_client_free(c);
}

static void test_auth_wrong_passwords_are_counted_and_do_not_log_out(void **state) {
    (void)state;
    set_pass("pw");
    kv_client_t *c = unauthenticated_client();
    uint64_t denied = kv_srv.stat_acl_denied_auth;
    feed(c, "AUTH nope\r\nAUTH default nope\r\nHELLO 2 AUTH default nope\r\n");
    assert_output(c, "-WRONGPASS invalid username-password pair or user is disabled.\r\n"
                     "-WRONGPASS invalid username-password pair or user is disabled.\r\n"
                     "-WRONGPASS invalid username-password pair or user is disabled.\r\n");
    assert_int_equal(kv_srv.stat_acl_denied_auth - denied, 3);
    assert_int_equal(c->auth_fails, 3);
    assert_true(kv_auth_required(c));
    feed(c, "AUTH default pw\r\n");
    assert_output(c, "+OK\r\n");
    assert_int_equal(c->auth_fails, 0);
    feed(c, "AUTH nope\r\nPING\r\n");
    assert_output(c, "-WRONGPASS invalid username-password pair or user is disabled.\r\n"
                     "+PONG\r\n");
    kv_client_free(c);
    set_pass("");
}

static void
test_auth_hello_checks_name_after_auth_and_sets_it_only_once_authenticated(void **state) {
    (void)state;
    set_pass("pw");
    kv_client_t *c = unauthenticated_client();
    feed(c, "HELLO 2 AUTH default nope SETNAME bad\x01name\r\n");
    assert_output(c, wrongpass);
    feed(c, "HELLO 2 SETNAME bad\x01name\r\n");
    assert_output(c, "-ERR Client names cannot contain spaces, newlines or "
                     "special characters.\r\n");
    feed(c, "HELLO 2 SETNAME early\r\n");
    char *out = take_output(c);
    assert_memory_equal(out, "-NOAUTH HELLO must be called", 28);
    free(out);
    assert_null(c->name);
    feed(c, "HELLO 2 AUTH default pw SETNAME good\r\n");
    out = take_output(c);
    assert_memory_equal(out, "*14\r\n$6\r\nserver\r\n", 17);
    free(out);
    assert_string_equal(c->name, "good");
    feed(c, "HELLO 2 auth default\r\n");
    assert_output(c, "-ERR Syntax error in HELLO option 'auth'\r\n");
    kv_client_free(c);
    set_pass("");
}

static void test_auth_wrong_password_pauses_the_client_without_blocking_others(void **state) {
    (void)state;
    kv_srv.loop = kv_loop_new(1024);
    assert_non_null(kv_srv.loop);
    int sv[2], sw[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sw), 0);
    set_pass("pw");
    kv_client_t *slow = kv_client_new(sv[0]);
    kv_client_t *other = kv_client_new(sw[0]);
    assert_non_null(slow);
    assert_non_null(other);
    uint64_t t0 = kv_monotonic_us();
    feed(slow, "AUTH nope\r\nPING\r\n");
    /* Paused: neither the WRONGPASS nor the pipelined PING has a reply yet. */
    assert_true(slow->flags & KV_CLIENT_AUTH_PAUSED);
    assert_int_equal(kv_client_pending_bytes(slow), 0);
    assert_int_equal(kv_auth_paused_count(), 1);
    /* Another client is served meanwhile. */
    feed(other, "AUTH pw\r\nPING\r\n");
    assert_output(other, "+OK\r\n+PONG\r\n");
    while (slow->flags & KV_CLIENT_AUTH_PAUSED)
        kv_loop_process(kv_srv.loop);
    uint64_t waited = kv_monotonic_us() - t0;
    assert_true(waited >= 100000);
    assert_output(slow, "-WRONGPASS invalid username-password pair or user is disabled.\r\n"
                        "-NOAUTH Authentication required.\r\n");
    assert_int_equal(kv_auth_paused_count(), 0);
    /* The second failure in a row waits twice as long. */
    t0 = kv_monotonic_us();
    feed(slow, "AUTH nope2\r\n");
    while (slow->flags & KV_CLIENT_AUTH_PAUSED)
        kv_loop_process(kv_srv.loop);
    assert_true(kv_monotonic_us() - t0 >= 200000);
    assert_output(slow, wrongpass);
    /* A client that goes away while paused is simply forgotten by the release. */
    feed(slow, "AUTH nope3\r\n");
    kv_client_free(slow);
    uint64_t deadline = kv_monotonic_us() + 2000000;
    while (kv_auth_paused_count() > 0 && kv_monotonic_us() < deadline)
        kv_loop_process(kv_srv.loop);
    assert_int_equal(kv_auth_paused_count(), 0);
    assert_int_equal(kv_loop_timer_count(kv_srv.loop), 0);
    kv_client_free(other);
    close(sv[1]);
    close(sw[1]);
    kv_auth_fini();
    kv_loop_free(kv_srv.loop);
    kv_srv.loop = NULL;
    set_pass("");
}

/*
 * With requirepass set, a client that has not authenticated may send at most 10
 * arguments and 16 KB bulks (Redis since 6.2.6): a bigger header is a protocol error with
 * Redis 7's text and the connection closes after the reply. Once authenticated (also by
 * an AUTH pipelined before it), or without a password, the same command runs.
 */
static void test_auth_unauthenticated_client_gets_small_protocol_limits(void **state) {
    (void)state;
    static const char mbulk_err[] = "-ERR Protocol error: unauthenticated multibulk length\r\n";
    static const char bulk_err[] = "-ERR Protocol error: unauthenticated bulk length\r\n";
    char exists11[256];
    size_t o = (size_t)snprintf(exists11, sizeof(exists11), "*11\r\n$6\r\nEXISTS\r\n");
    for (int i = 0; i < 10; i++)
        o += (size_t)snprintf(exists11 + o, sizeof(exists11) - o, "$1\r\n%c\r\n", 'a' + i);
    set_pass("pw");

    kv_client_t *c = unauthenticated_client();
    feed(c, exists11);
    assert_output(c, mbulk_err);
    assert_true(c->flags & KV_CLIENT_CLOSE_AFTER_REPLY);
    kv_client_free(c);

    c = unauthenticated_client();
    feed(c, "*1\r\n$4\r\nPING\r\n*2\r\n$4\r\nECHO\r\n$16385\r\n");
    assert_output(c, "-NOAUTH Authentication required.\r\n-ERR Protocol error: "
                     "unauthenticated bulk length\r\n");
    assert_true(c->flags & KV_CLIENT_CLOSE_AFTER_REPLY);
    kv_client_free(c);
    c = unauthenticated_client();
    feed(c, "*2\r\n$4\r\nECHO\r\n$16385\r\n");
    assert_output(c, bulk_err);
    kv_client_free(c);

    /* At the limits: waits for the rest, no error. */
    c = unauthenticated_client();
    feed(c, "*10\r\n$4\r\nECHO\r\n$16384\r\n");
    assert_int_equal(kv_client_pending_bytes(c), 0);
    assert_false(c->flags & KV_CLIENT_CLOSE_AFTER_REPLY);
    kv_client_free(c);

    /* AUTH first, in the same pipeline: the big command is parsed after it ran. */
    c = unauthenticated_client();
    char *both = malloc(strlen(exists11) + 32);
    assert_non_null(both);
    sprintf(both, "AUTH pw\r\n%s", exists11);
    feed(c, both);
    assert_output(c, "+OK\r\n:0\r\n");
    kv_client_free(c);

    free(both);

    /* No password: no limits. */
    set_pass("");
    c = kv_client_new(-1);
    feed(c, exists11);
    assert_output(c, ":0\r\n");
    kv_client_free(c);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_auth_only_127_0_0_1_and_ipv6_loopback_and_unix_are_local),
        cmocka_unit_test(test_auth_protected_mode_refuses_remote_peers_only_without_password),
        cmocka_unit_test(test_auth_password_comparison_is_exact),
        cmocka_unit_test(test_auth_new_client_is_authenticated_only_without_password),
        cmocka_unit_test(test_auth_gate_allows_only_auth_hello_quit_before_authenticating),
        cmocka_unit_test(test_auth_replies_match_redis_without_password),
        cmocka_unit_test(test_auth_wrong_passwords_are_counted_and_do_not_log_out),
        cmocka_unit_test(
            test_auth_hello_checks_name_after_auth_and_sets_it_only_once_authenticated),
        cmocka_unit_test(test_auth_wrong_password_pauses_the_client_without_blocking_others),
        cmocka_unit_test(test_auth_unauthenticated_client_gets_small_protocol_limits),
    };
    return cmocka_run_group_tests_name("kv_auth", tests, kv_server_setup, kv_server_teardown);
}
