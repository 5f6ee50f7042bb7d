/* SPDX-License-Identifier: MIT */
/*
 * test_kv_blocked.c - blocked.c through the real dispatcher with socket-less clients:
 * Redis 7.2's timeout parsing, FIFO wake-up, serving from the key that became ready,
 * a key of another type leaving its waiters blocked, input held while blocked, timeouts
 * in deadline order (the heap), and that a client gone while blocked (even on 10000
 * keys) leaves no waiter, key or timeout behind.
 */
#include "test_common.h"

#include "kv_internal.h"
#include "kv_client_test.h"

#include <limits.h>

#define SEC 1000000ull

static kv_client_t *client(void) {
    kv_client_t *c = kv_client_new(-1);
    assert_non_null(c);
    return c;
}

static void assert_empty_state(void) {
    assert_int_equal(kv_blocked_clients(), 0);
    assert_int_equal(kv_blocked_keys(), 0);
    assert_int_equal(kv_blocked_in_timeout_table(), 0);
}

/* As Redis 7.2: ceil(seconds * 1000); past LLONG_MAX ms, or a deadline (now + timeout)
 * past it, "out of range" (7.0 said "negative" for what it could not convert). */
static void test_blocked_timeout_parses_as_redis_7_2(void **state) {
    (void)state;
    static const struct {
        const char *arg;
        long long ms; /* -1: refused with err */
        const char *err;
    } cases[] = {
        {"0", 0, NULL},
        {"1", 1000, NULL},
        {"0.1", 100, NULL},
        {"0.0001", 1, NULL}, /* rounded up: never 0 (forever) */
        {"-0.0001", 0, NULL},
        {"1e-400", 1, NULL}, /* needs x87's 80-bit long double (not valgrind's 64) */
        {"0x10", 16000, NULL},
        {"abc", -1, "-ERR timeout is not a float or out of range\r\n"},
        {"", -1, "-ERR timeout is not a float or out of range\r\n"},
        {" 1", -1, "-ERR timeout is not a float or out of range\r\n"},
        {"1 ", -1, "-ERR timeout is not a float or out of range\r\n"},
        {"nan", -1, "-ERR timeout is not a float or out of range\r\n"},
        {"-1", -1, "-ERR timeout is negative\r\n"},
        {"-inf", -1, "-ERR timeout is negative\r\n"},
        {"inf", -1, "-ERR timeout is out of range\r\n"},
        {"1e20", -1, "-ERR timeout is out of range\r\n"},
        {"9223372036854776", -1, "-ERR timeout is out of range\r\n"},
        {"0x7FFFFFFFFFFFFF", -1, "-ERR timeout is out of range\r\n"},
        /* Below LLONG_MAX ms, but now + timeout is past it. */
        {"9223372036854775", -1, "-ERR timeout is out of range\r\n"},
        {"9223372036854", 9223372036854000, NULL},
    };
    bool ld64 = getenv("MEMSHIM_VALGRIND") != NULL;
    kv_client_t *c = client();
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        if (ld64 && strcmp(cases[i].arg, "1e-400") == 0) continue;
        kv_arg_t a = {cases[i].arg, strlen(cases[i].arg)};
        long long ms = -7;
        int rc = kv_blocked_parse_timeout(c, &a, &ms);
        if (cases[i].err == NULL) {
            assert_int_equal(rc, 0);
            assert_int_equal(ms, cases[i].ms);
            assert_output(c, "");
        } else {
            assert_int_equal(rc, -EINVAL);
            assert_output(c, cases[i].err);
        }
    }
    kv_client_free(c);
}

static void test_blocked_clients_are_served_first_come_first_served(void **state) {
    (void)state;
    kv_client_t *a = client(), *b = client(), *w = client();
    feed(a, "BRPOP f 0\r\n");
    feed(b, "BRPOP f 0\r\n");
    assert_output(a, "");
    assert_true(a->flags & KV_CLIENT_BLOCKED);
    assert_int_equal(kv_blocked_clients(), 2);
    assert_int_equal(kv_blocked_keys(), 1);
    feed(w, "RPUSH f 1 2 3\r\n");
    assert_output(w, ":3\r\n");
    assert_output(a, "*2\r\n$1\r\nf\r\n$1\r\n3\r\n");
    assert_output(b, "*2\r\n$1\r\nf\r\n$1\r\n2\r\n");
    assert_false(a->flags & KV_CLIENT_BLOCKED);
    assert_empty_state();
    feed(w, "LRANGE f 0 -1\r\n");
    assert_output(w, "*1\r\n$1\r\n1\r\n");
    feed(w, "DEL f\r\n");
    assert_output(w, ":1\r\n");
    kv_client_free(a);
    kv_client_free(b);
    kv_client_free(w);
}

static void test_blocked_client_is_served_from_the_key_that_became_ready(void **state) {
    (void)state;
    kv_client_t *a = client(), *w = client();
    feed(a, "BLMPOP 0 3 k1 k2 k1 LEFT COUNT 5\r\n");
    assert_int_equal(kv_blocked_keys(), 2); /* k1 once */
    feed(w, "RPUSH k2 x y\r\n");
    assert_output(w, ":2\r\n");
    assert_output(a, "*2\r\n$2\r\nk2\r\n*2\r\n$1\r\nx\r\n$1\r\ny\r\n");
    assert_empty_state();
    kv_client_free(a);
    kv_client_free(w);
}

static void test_blocked_waiter_of_another_type_stays_blocked(void **state) {
    (void)state;
    kv_client_t *l = client(), *z = client(), *w = client();
    feed(l, "BLPOP k 0\r\n");
    feed(z, "BZPOPMAX k 0\r\n");
    feed(w, "ZADD k 1.5 m\r\n");
    assert_output(w, ":1\r\n");
    assert_output(z, "*3\r\n$1\r\nk\r\n$1\r\nm\r\n$3\r\n1.5\r\n");
    assert_output(l, "");
    assert_int_equal(kv_blocked_clients(), 1);
    feed(w, "SET k v\r\n");
    assert_output(w, "+OK\r\n");
    assert_int_equal(kv_blocked_clients(), 1);
    feed(w, "DEL k\r\nLPUSH k e\r\n");
    assert_output(w, ":1\r\n:1\r\n");
    assert_output(l, "*2\r\n$1\r\nk\r\n$1\r\ne\r\n");
    assert_empty_state();
    kv_client_free(l);
    kv_client_free(z);
    kv_client_free(w);
}

static void test_blocked_client_input_waits_until_it_is_served(void **state) {
    (void)state;
    kv_client_t *a = client(), *w = client();
    feed(a, "BLMOVE src dst RIGHT LEFT 0\r\nPING\r\n");
    assert_output(a, "");
    assert_true(a->qpos < a->qlen); /* PING not run */
    feed(w, "RPUSH src v\r\n");
    assert_output(w, ":1\r\n");
    assert_output(a, "$1\r\nv\r\n");
    kv_client_process_input(a); /* what before-sleep does for a socket client */
    assert_output(a, "+PONG\r\n");
    feed(w, "LRANGE dst 0 -1\r\nEXISTS src\r\nDEL dst\r\n");
    assert_output(w, "*1\r\n$1\r\nv\r\n:0\r\n:1\r\n");
    assert_empty_state();
    kv_client_free(a);
    kv_client_free(w);
}

static void test_blocked_timeouts_fire_in_deadline_order(void **state) {
    (void)state;
    enum { N = 64 };
    kv_client_t *cs[N];
    int secs[N];
    for (int i = 0; i < N; i++) /* a permutation of 1..N */
        secs[i] = (i * 37) % N + 1;
    uint64_t start = kv_monotonic_us();
    for (int i = 0; i < N; i++) {
        char cmd[64];
        cs[i] = client();
        snprintf(cmd, sizeof(cmd), "BZPOPMIN z%d %d\r\n", i, secs[i]);
        feed(cs[i], cmd);
    }
    uint64_t spent = kv_monotonic_us() - start;
    feed(cs[0], "PING\r\n"); /* held: cs[0] is blocked */
    assert_int_equal(kv_blocked_in_timeout_table(), N);
    assert_int_equal(kv_blocked_expire(start), 0);
    /* Half a second after the k-th deadline exactly k clients have timed out, the ones
     * with the k shortest timeouts (checked when blocking them took under 0.5 s). */
    for (int k = 1; k <= N && spent < SEC / 2; k++) {
        kv_blocked_expire(start + (uint64_t)k * SEC + SEC / 2);
        assert_int_equal(kv_blocked_clients(), N - k);
        for (int i = 0; i < N; i++)
            assert_int_equal(!(cs[i]->flags & KV_CLIENT_BLOCKED), secs[i] <= k);
    }
    kv_blocked_expire(start + (uint64_t)(N + 1) * SEC + spent);
    for (int i = 0; i < N; i++) {
        assert_output(cs[i], "*-1\r\n");
        kv_client_free(cs[i]);
    }
    assert_empty_state();
}

static void test_blocked_client_gone_leaves_nothing_behind(void **state) {
    (void)state;
    enum { NKEYS = 10000 };
    /* BLPOP k0 ... k9999 0.5, as one inline command. */
    size_t cap = 16 + NKEYS * 8;
    char *cmd = malloc(cap);
    assert_non_null(cmd);
    size_t o = (size_t)snprintf(cmd, cap, "BLPOP");
    for (int i = 0; i < NKEYS; i++)
        o += (size_t)snprintf(cmd + o, cap - o, " k%d", i);
    snprintf(cmd + o, cap - o, " 0.5\r\n");
    kv_client_t *a = client(), *b = client(), *w = client();
    feed(a, cmd);
    feed(b, cmd);
    free(cmd);
    assert_int_equal(kv_blocked_keys(), NKEYS);
    assert_int_equal(kv_blocked_in_timeout_table(), 2);
    kv_client_free(a);
    assert_int_equal(kv_blocked_keys(), NKEYS);
    feed(w, "RPUSH k9999 v\r\n");
    assert_output(w, ":1\r\n");
    assert_output(b, "*2\r\n$5\r\nk9999\r\n$1\r\nv\r\n");
    assert_empty_state();
    feed(w, "BLPOP x 0\r\n");
    kv_client_free(w);
    assert_empty_state();
    kv_client_free(b);
}

static void test_blocking_pops_inside_exec_answer_null_at_once(void **state) {
    (void)state;
    kv_client_t *c = client();
    c->flags |= KV_CLIENT_EXEC;
    feed(c, "BLPOP nx 0\r\nBLMOVE nx d LEFT LEFT 0\r\nBZMPOP 0 1 nx MIN\r\nBZPOPMIN nx 0\r\n");
    assert_output(c, "*-1\r\n$-1\r\n*-1\r\n*-1\r\n");
    assert_empty_state();
    kv_client_free(c);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_blocked_timeout_parses_as_redis_7_2),
        cmocka_unit_test(test_blocked_clients_are_served_first_come_first_served),
        cmocka_unit_test(test_blocked_client_is_served_from_the_key_that_became_ready),
        cmocka_unit_test(test_blocked_waiter_of_another_type_stays_blocked),
        cmocka_unit_test(test_blocked_client_input_waits_until_it_is_served),
        cmocka_unit_test(test_blocked_timeouts_fire_in_deadline_order),
        cmocka_unit_test(test_blocked_client_gone_leaves_nothing_behind),
        cmocka_unit_test(test_blocking_pops_inside_exec_answer_null_at_once),
    };
    int rc = cmocka_run_group_tests_name("kv_blocked", tests, kv_server_setup, kv_server_teardown);
    kv_blocked_fini();
    return rc;
}
