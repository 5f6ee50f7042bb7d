/* SPDX-License-Identifier: MIT */
/*
 * test_kv_reply3.c - the reply writer's RESP3 encodings (reply.c) on a socket-less
 * client: every typed call in RESP3 and its RESP2 fallback, deferred map and set lengths
 * in both protocols, the deferred-length check counting maps, sets, pushes and attributes;
 * and through the real dispatcher HELLO 3 / HELLO 2 switching a connection's protocol,
 * DEBUG PROTOCOL's sample replies and the RESP3 shapes of commands (maps, sets, doubles,
 * score pairs), byte for byte as Redis 7.0.
 */
#include "test_common.h"

#include <math.h>

#include "kv_internal.h"
#include "kv_client_test.h"

static kv_client_t *client_resp(int resp) {
    kv_client_t *c = kv_client_new(-1);
    assert_non_null(c);
    c->flags |= KV_CLIENT_FAKE;
    c->resp = resp;
    return c;
}

/* Writes one of each typed reply. */
static void write_typed(kv_client_t *c) {
    kv_reply_double(c, 1.5);
    kv_reply_double(c, -INFINITY);
    kv_reply_double_text(c, "2.25", 4);
    kv_reply_bignum(c, "12345678901234567890", 20);
    kv_reply_null(c);
    kv_reply_null_array(c);
    kv_reply_map_len(c, 2);
    kv_reply_set_len(c, 3);
    kv_reply_push_len(c, 4);
    kv_reply_attribute_len(c, 1);
    kv_reply_bool(c, true);
    kv_reply_bool(c, false);
    kv_reply_verbatim(c, "a\nb", 3);
}

static void test_reply3_typed_calls_use_resp3_types(void **state) {
    (void)state;
    kv_client_t *c = client_resp(3);
    write_typed(c);
    assert_output(c, ",1.5\r\n,-inf\r\n,2.25\r\n(12345678901234567890\r\n_\r\n_\r\n%2\r\n~3\r\n"
                     ">4\r\n|1\r\n#t\r\n#f\r\n=7\r\ntxt:a\nb\r\n");
    kv_client_free(c);
}

static void test_reply3_typed_calls_fall_back_to_resp2(void **state) {
    (void)state;
    kv_client_t *c = client_resp(2);
    write_typed(c);
    /* No attribute in RESP2: kv_reply_attribute_len writes nothing. */
    assert_output(c, "$3\r\n1.5\r\n$4\r\n-inf\r\n$4\r\n2.25\r\n$20\r\n12345678901234567890\r\n"
                     "$-1\r\n*-1\r\n*4\r\n*3\r\n*4\r\n:1\r\n:0\r\n$3\r\na\nb\r\n");
    kv_client_free(c);
}

static void test_reply3_doubles_format_as_redis(void **state) {
    (void)state;
    kv_client_t *c = client_resp(3);
    kv_reply_double(c, INFINITY);
    kv_reply_double(c, 0.1);
    kv_reply_double(c, 3.0);
    kv_reply_double(c, 1e300);
    kv_reply_double(c, -0.0);
    assert_output(c, ",inf\r\n,0.10000000000000001\r\n,3\r\n,1.0000000000000001e+300\r\n,-0\r\n");
    kv_reply_double(c, NAN);
    char *out = take_output(c);
    /* glibc prints NaN as "nan" or "-nan" by its sign bit, as Redis's "%.17g" does. */
    assert_true(strcmp(out, ",nan\r\n") == 0 || strcmp(out, ",-nan\r\n") == 0);
    free(out);
    kv_client_free(c);
}

static void test_reply3_deferred_map_and_set_in_both_protocols(void **state) {
    (void)state;
    for (int resp = 2; resp <= 3; resp++) {
        kv_client_t *c = client_resp(resp);
        void *m = kv_reply_deferred(c);
        kv_reply_bulk(c, "k", 1);
        kv_reply_int(c, 1);
        kv_reply_bulk(c, "j", 1);
        kv_reply_double(c, 2);
        kv_reply_set_deferred_map(c, m, 2);
        void *s = kv_reply_deferred(c);
        kv_reply_int(c, 7);
        kv_reply_set_deferred_set(c, s, 1);
        if (resp == 3)
            assert_output(c, "%2\r\n$1\r\nk\r\n:1\r\n$1\r\nj\r\n,2\r\n~1\r\n:7\r\n");
        else
            assert_output(c, "*4\r\n$1\r\nk\r\n:1\r\n$1\r\nj\r\n$1\r\n2\r\n*1\r\n:7\r\n");
        kv_client_free(c);
    }
}

/* The check counts a map of N as 2N children, an attribute as no element of its own. */
static void test_reply3_deferred_check_counts_resp3_types(void **state) {
    (void)state;
    kv_reply_check = KV_REPLY_CHECK_LOG;
    uint64_t before = kv_reply_check_failures;
    kv_client_t *c = client_resp(3);

    void *d = kv_reply_deferred(c);
    kv_reply_map_len(c, 2); /* one element with four children */
    for (int i = 0; i < 4; i++)
        kv_reply_bool(c, i & 1);
    kv_reply_set_len(c, 1);
    kv_reply_double(c, 1);
    kv_reply_push_len(c, 1);
    kv_reply_null(c);
    kv_reply_attribute_len(c, 1); /* annotates the verbatim: the pair is not counted */
    kv_reply_bulk(c, "a", 1);
    kv_reply_array_len(c, 1);
    kv_reply_int(c, 1);
    kv_reply_verbatim(c, "v", 1);
    kv_reply_bignum(c, "1", 1);
    kv_reply_set_deferred(c, d, 5);
    assert_int_equal(kv_reply_check_failures - before, 0);

    /* An attribute inside an aggregate, before its last element. */
    d = kv_reply_deferred(c);
    kv_reply_array_len(c, 1);
    kv_reply_attribute_len(c, 1);
    kv_reply_bulk(c, "k", 1);
    kv_reply_int(c, 1);
    kv_reply_int(c, 2);
    kv_reply_set_deferred(c, d, 1);
    assert_int_equal(kv_reply_check_failures - before, 0);

    /* A map announced with the wrong number of pairs; a map missing its last value. */
    d = kv_reply_deferred(c);
    for (int i = 0; i < 6; i++)
        kv_reply_int(c, i);
    kv_reply_set_deferred_map(c, d, 2);
    assert_int_equal(kv_reply_check_failures - before, 1);
    d = kv_reply_deferred(c);
    kv_reply_map_len(c, 1);
    kv_reply_int(c, 1);
    kv_reply_set_deferred(c, d, 1);
    assert_int_equal(kv_reply_check_failures - before, 2);
    kv_client_free(c);
    kv_reply_check = KV_REPLY_CHECK_ABORT;
}

static void test_reply3_hello_switches_the_connection_protocol(void **state) {
    (void)state;
    kv_client_t *c = client_resp(2);
    char want[512];
    feed(c, "HELLO 3\r\n");
    snprintf(want, sizeof(want),
             "%%7\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$%zu\r\n%s\r\n$5\r\nproto"
             "\r\n:3\r\n$2\r\nid\r\n:%llu\r\n$4\r\nmode\r\n$10\r\nstandalone\r\n$4\r\nrole\r\n"
             "$6\r\nmaster\r\n$7\r\nmodules\r\n*0\r\n",
             strlen(KV_REDIS_VERSION), KV_REDIS_VERSION, (unsigned long long)c->id);
    assert_output(c, want);
    assert_int_equal(c->resp, 3);
    feed(c, "GET missing\r\n");
    assert_output(c, "_\r\n");
    /* Errors leave the protocol as it was. */
    feed(c, "HELLO 4\r\nHELLO 1\r\nHELLO x\r\nHELLO 2 bogus\r\n");
    assert_output(c, "-NOPROTO unsupported protocol version\r\n"
                     "-NOPROTO unsupported protocol version\r\n"
                     "-ERR Protocol version is not an integer or out of range\r\n"
                     "-ERR Syntax error in HELLO option 'bogus'\r\n");
    assert_int_equal(c->resp, 3);
    /* HELLO without a version replies in the current protocol and keeps it. */
    feed(c, "HELLO\r\n");
    char *out = take_output(c);
    assert_memory_equal(out, "%7\r\n", 4);
    free(out);
    feed(c, "HELLO 2\r\n");
    out = take_output(c);
    assert_memory_equal(out, "*14\r\n", 5);
    free(out);
    assert_int_equal(c->resp, 2);
    feed(c, "GET missing\r\n");
    assert_output(c, "$-1\r\n");
    kv_client_free(c);
}

static void test_reply3_debug_protocol_replies_as_redis(void **state) {
    (void)state;
    static const struct {
        const char *type, *resp3, *resp2;
    } cases[] = {
        {"string", "$11\r\nHello World\r\n", "$11\r\nHello World\r\n"},
        {"integer", ":12345\r\n", ":12345\r\n"},
        {"double", ",3.141\r\n", "$5\r\n3.141\r\n"},
        {"bignum", "(1234567999999999999999999999999999999\r\n",
         "$37\r\n1234567999999999999999999999999999999\r\n"},
        {"null", "_\r\n", "$-1\r\n"},
        {"array", "*3\r\n:0\r\n:1\r\n:2\r\n", "*3\r\n:0\r\n:1\r\n:2\r\n"},
        {"set", "~3\r\n:0\r\n:1\r\n:2\r\n", "*3\r\n:0\r\n:1\r\n:2\r\n"},
        {"map", "%3\r\n:0\r\n#f\r\n:1\r\n#t\r\n:2\r\n#f\r\n",
         "*6\r\n:0\r\n:0\r\n:1\r\n:1\r\n:2\r\n:0\r\n"},
        {"attrib",
         "|1\r\n$14\r\nkey-popularity\r\n*2\r\n$7\r\nkey:123\r\n:90\r\n$39\r\nSome real reply "
         "following the attribute\r\n",
         "$39\r\nSome real reply following the attribute\r\n"},
        {"push",
         ">2\r\n$16\r\nserver-cpu-usage\r\n:42\r\n$40\r\nSome real reply following the push "
         "reply\r\n",
         "-ERR RESP2 is not supported by this command\r\n"},
        {"verbatim", "=29\r\ntxt:This is a verbatim\nstring\r\n",
         "$25\r\nThis is a verbatim\nstring\r\n"},
        {"TRUE", "#t\r\n", ":1\r\n"},
        {"false", "#f\r\n", ":0\r\n"},
        {"nope",
         "-ERR Wrong protocol type name. Please use one of the following: "
         "string|integer|double|bignum|null|array|set|map|attrib|push|verbatim|true|false\r\n",
         "-ERR Wrong protocol type name. Please use one of the following: "
         "string|integer|double|bignum|null|array|set|map|attrib|push|verbatim|true|false\r\n"},
    };
    kv_srv.cfg.enable_debug_command = 1; /* immutable in CONFIG SET: set as start-up would */
    for (int resp = 2; resp <= 3; resp++) {
        kv_client_t *c = client_resp(resp);
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
            char cmd[64];
            snprintf(cmd, sizeof(cmd), "DEBUG PROTOCOL %s\r\n", cases[i].type);
            feed(c, cmd);
            assert_output(c, resp == 3 ? cases[i].resp3 : cases[i].resp2);
        }
        feed(c, "DEBUG protocol null extra\r\n");
        assert_output(c, "-ERR unknown subcommand or wrong number of arguments for 'protocol'. "
                         "Try DEBUG HELP.\r\n");
        kv_client_free(c);
    }
    kv_srv.cfg.enable_debug_command = 0;
}

/* The RESP3 shapes of a few commands through the dispatcher, each as Redis 7.0 gives it. */
static void test_reply3_command_shapes_match_redis(void **state) {
    (void)state;
    kv_client_t *c = client_resp(3);
    feed(c, "HSET h f v\r\nSADD s x\r\nZADD z 1.5 a 2 b\r\n");
    assert_output(c, ":1\r\n:1\r\n:2\r\n");
    feed(c, "HGETALL h\r\nHGETALL nokey\r\nHRANDFIELD h 1 WITHVALUES\r\nHSCAN h 0\r\n");
    assert_output(c, "%1\r\n$1\r\nf\r\n$1\r\nv\r\n%0\r\n*1\r\n*2\r\n$1\r\nf\r\n$1\r\nv\r\n"
                     "*2\r\n$1\r\n0\r\n*2\r\n$1\r\nf\r\n$1\r\nv\r\n");
    feed(c, "SMEMBERS s\r\nSINTER s nokey\r\nSRANDMEMBER s 5\r\nSPOP nokey 3\r\n");
    assert_output(c, "~1\r\n$1\r\nx\r\n~0\r\n*1\r\n$1\r\nx\r\n~0\r\n");
    feed(c, "ZSCORE z a\r\nZSCORE z nope\r\nZRANGE z 0 -1 WITHSCORES\r\nZRANGE z 0 0\r\n");
    assert_output(c, ",1.5\r\n_\r\n*2\r\n*2\r\n$1\r\na\r\n,1.5\r\n*2\r\n$1\r\nb\r\n,2\r\n"
                     "*1\r\n$1\r\na\r\n");
    feed(c, "ZRANGEBYSCORE z -inf +inf WITHSCORES LIMIT 1 1\r\nZUNION 1 z WITHSCORES\r\n");
    assert_output(c, "*1\r\n*2\r\n$1\r\nb\r\n,2\r\n"
                     "*2\r\n*2\r\n$1\r\na\r\n,1.5\r\n*2\r\n$1\r\nb\r\n,2\r\n");
    /* ZPOPMIN: one flat pair without COUNT, an array of pairs with it. */
    feed(c, "ZPOPMIN z\r\nZPOPMAX z 1\r\nZPOPMIN z\r\n");
    assert_output(c, "*2\r\n$1\r\na\r\n,1.5\r\n*1\r\n*2\r\n$1\r\nb\r\n,2\r\n*0\r\n");
    feed(c, "CONFIG GET maxmemory\r\nGET nokey\r\nLPOP nokey 2\r\nINCRBYFLOAT f 1.5\r\n");
    assert_output(c, "%1\r\n$9\r\nmaxmemory\r\n$1\r\n0\r\n_\r\n_\r\n$3\r\n1.5\r\n");
    feed(c, "FLUSHALL\r\n");
    assert_output(c, "+OK\r\n");
    kv_client_free(c);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reply3_typed_calls_use_resp3_types),
        cmocka_unit_test(test_reply3_typed_calls_fall_back_to_resp2),
        cmocka_unit_test(test_reply3_doubles_format_as_redis),
        cmocka_unit_test(test_reply3_deferred_map_and_set_in_both_protocols),
        cmocka_unit_test(test_reply3_deferred_check_counts_resp3_types),
        cmocka_unit_test(test_reply3_hello_switches_the_connection_protocol),
        cmocka_unit_test(test_reply3_debug_protocol_replies_as_redis),
        cmocka_unit_test(test_reply3_command_shapes_match_redis),
    };
    return cmocka_run_group_tests_name("kv_reply3", tests, kv_server_setup, kv_server_teardown);
}
