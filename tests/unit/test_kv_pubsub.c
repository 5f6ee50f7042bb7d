/* SPDX-License-Identifier: MIT */
/*
 * test_kv_pubsub.c - publish/subscribe (pubsub.c) through the real dispatcher with
 * socket-less clients: the (un)subscribe replies and their counts, the null-channel reply,
 * NOSUB outside subscribed mode and one's own messages after the reply (Redis 7.2),
 * delivery order to channel and pattern subscribers, shard channels kept apart, the RESP2
 * subscribed-mode gate and PING, unsubscribing from the middle of a long subscriber list,
 * the tables emptied when clients go (nothing left behind), the output-limit class, and
 * Redis's glob rules as PSUBSCRIBE uses them.
 */
#include "test_common.h"

#include "kv_internal.h"
#include "kv_client_test.h"

/* Drops the client's queued output (subscribe confirmations a test does not check). */
static void discard_output(kv_client_t *c) {
    free(take_output(c));
}

static void stats(size_t *ch, size_t *pat, size_t *shard) {
    kv_pubsub_stats(ch, pat, shard);
}

static void assert_tables_empty(void) {
    size_t ch, pat, shard;
    stats(&ch, &pat, &shard);
    assert_int_equal(ch, 0);
    assert_int_equal(pat, 0);
    assert_int_equal(shard, 0);
}

static void test_pubsub_subscribe_replies_one_count_per_channel(void **state) {
    (void)state;
    kv_client_t *c = kv_client_new(-1);
    feed(c, "SUBSCRIBE a a b\r\n");
    assert_output(c, "*3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n"
                     "*3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n"
                     "*3\r\n$9\r\nsubscribe\r\n$1\r\nb\r\n:2\r\n");
    feed(c, "PSUBSCRIBE p*\r\n");
    assert_output(c, "*3\r\n$10\r\npsubscribe\r\n$2\r\np*\r\n:3\r\n");
    /* Shard channels have their own count. */
    feed(c, "SSUBSCRIBE s\r\n");
    assert_output(c, "*3\r\n$10\r\nssubscribe\r\n$1\r\ns\r\n:1\r\n");
    assert_true(c->flags & KV_CLIENT_PUBSUB);
    size_t sub, psub, ssub;
    kv_pubsub_client_counts(c, &sub, &psub, &ssub);
    assert_int_equal(sub, 2);
    assert_int_equal(psub, 1);
    assert_int_equal(ssub, 1);
    kv_client_free(c);
    assert_tables_empty();
}

/* Redis 7.2: outside subscribed mode the unsubscribe commands are refused with NOSUB (a
 * rejected call; inside MULTI the transaction aborts). 7.0 replied a null-channel event. */
static void test_pubsub_unsubscribe_outside_subscribed_mode_is_nosub(void **state) {
    (void)state;
    kv_client_t *c = kv_client_new(-1);
    kv_cmd_t *unsub = kv_cmd_lookup("unsubscribe", 11);
    uint64_t rejected = unsub->rejected_calls;
    feed(c, "UNSUBSCRIBE\r\nPUNSUBSCRIBE\r\nSUNSUBSCRIBE\r\nUNSUBSCRIBE x y\r\n");
    assert_output(c, "-NOSUB 'unsubscribe' command executed not in subscribed mode\r\n"
                     "-NOSUB 'punsubscribe' command executed not in subscribed mode\r\n"
                     "-NOSUB 'sunsubscribe' command executed not in subscribed mode\r\n"
                     "-NOSUB 'unsubscribe' command executed not in subscribed mode\r\n");
    assert_int_equal(unsub->rejected_calls, rejected + 2);
    assert_false(c->flags & KV_CLIENT_PUBSUB);
    feed(c, "MULTI\r\nUNSUBSCRIBE x\r\nPING\r\nEXEC\r\n");
    assert_output(c, "+OK\r\n-NOSUB 'unsubscribe' command executed not in subscribed mode\r\n"
                     "+QUEUED\r\n"
                     "-EXECABORT Transaction discarded because of previous errors.\r\n");
    /* Subscribed (to a shard channel only), every unsubscribe command is accepted. */
    feed(c, "SSUBSCRIBE s\r\nUNSUBSCRIBE x\r\nPUNSUBSCRIBE\r\nSUNSUBSCRIBE\r\n"
            "SUNSUBSCRIBE\r\n");
    assert_output(c, "*3\r\n$10\r\nssubscribe\r\n$1\r\ns\r\n:1\r\n"
                     "*3\r\n$11\r\nunsubscribe\r\n$1\r\nx\r\n:0\r\n"
                     "*3\r\n$12\r\npunsubscribe\r\n$-1\r\n:0\r\n"
                     "*3\r\n$12\r\nsunsubscribe\r\n$1\r\ns\r\n:0\r\n"
                     "-NOSUB 'sunsubscribe' command executed not in subscribed mode\r\n");
    kv_client_free(c);
    assert_tables_empty();
}

static void test_pubsub_unsubscribe_all_answers_in_subscription_order(void **state) {
    (void)state;
    kv_client_t *c = kv_client_new(-1);
    feed(c, "PSUBSCRIBE z* y* x*\r\nSUBSCRIBE a\r\n");
    discard_output(c);
    feed(c, "PUNSUBSCRIBE\r\n");
    assert_output(c, "*3\r\n$12\r\npunsubscribe\r\n$2\r\nz*\r\n:3\r\n"
                     "*3\r\n$12\r\npunsubscribe\r\n$2\r\ny*\r\n:2\r\n"
                     "*3\r\n$12\r\npunsubscribe\r\n$2\r\nx*\r\n:1\r\n");
    assert_true(c->flags & KV_CLIENT_PUBSUB);
    feed(c, "UNSUBSCRIBE\r\n");
    assert_output(c, "*3\r\n$11\r\nunsubscribe\r\n$1\r\na\r\n:0\r\n");
    assert_false(c->flags & KV_CLIENT_PUBSUB);
    assert_null(c->pubsub);
    assert_tables_empty();
    kv_client_free(c);
}

static void test_pubsub_publish_counts_channel_then_pattern_receivers(void **state) {
    (void)state;
    kv_client_t *s1 = kv_client_new(-1), *s2 = kv_client_new(-1), *p = kv_client_new(-1);
    feed(s1, "SUBSCRIBE news\r\n");
    feed(s2, "SUBSCRIBE news\r\nPSUBSCRIBE n*\r\n");
    discard_output(s1);
    discard_output(s2);
    feed(p, "PUBLISH news hi\r\n");
    assert_output(p, ":3\r\n");
    assert_output(s1, "*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$2\r\nhi\r\n");
    assert_output(s2, "*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$2\r\nhi\r\n"
                      "*4\r\n$8\r\npmessage\r\n$2\r\nn*\r\n$4\r\nnews\r\n$2\r\nhi\r\n");
    /* Pushes are written with KV_CLIENT_PUSHING set (CLIENT REPLY OFF lets them through);
     * the flag does not outlive them. */
    assert_false(s1->flags & KV_CLIENT_PUSHING);
    assert_false(s2->flags & KV_CLIENT_PUSHING);
    feed(p, "PUBLISH other x\r\n");
    assert_output(p, ":0\r\n");
    assert_output(s1, "");
    /* The C entry point other modules use (keyspace notifications). */
    assert_int_equal(kv_pubsub_publish("nx", 2, "m", 1, false), 1);
    assert_output(s2, "*4\r\n$8\r\npmessage\r\n$2\r\nn*\r\n$2\r\nnx\r\n$1\r\nm\r\n");
    kv_client_free(s1);
    kv_client_free(s2);
    kv_client_free(p);
    assert_tables_empty();
}

static void test_pubsub_shard_channels_are_a_separate_namespace(void **state) {
    (void)state;
    kv_client_t *s = kv_client_new(-1), *p = kv_client_new(-1);
    feed(s, "SSUBSCRIBE ch\r\nPSUBSCRIBE *\r\n");
    discard_output(s);
    feed(p, "PUBLISH ch a\r\n");
    assert_output(p, ":1\r\n"); /* the pattern only */
    assert_output(s, "*4\r\n$8\r\npmessage\r\n$1\r\n*\r\n$2\r\nch\r\n$1\r\na\r\n");
    feed(p, "SPUBLISH ch b\r\n");
    assert_output(p, ":1\r\n"); /* patterns never see shard messages */
    assert_output(s, "*3\r\n$8\r\nsmessage\r\n$2\r\nch\r\n$1\r\nb\r\n");
    feed(p, "PUBSUB SHARDNUMSUB ch x\r\nPUBSUB NUMSUB ch\r\nPUBSUB NUMPAT\r\n");
    assert_output(p, "*4\r\n$2\r\nch\r\n:1\r\n$1\r\nx\r\n:0\r\n*2\r\n$2\r\nch\r\n:0\r\n:1\r\n");
    kv_client_free(s);
    kv_client_free(p);
    assert_tables_empty();
}

static void test_pubsub_resp2_subscribed_mode_allows_only_subscription_commands(void **state) {
    (void)state;
    kv_client_t *c = kv_client_new(-1);
    feed(c, "SUBSCRIBE a\r\n");
    discard_output(c);
    kv_cmd_t *get = kv_cmd_lookup("get", 3);
    uint64_t rejected = get->rejected_calls;
    feed(c, "GET k\r\nCONFIG GET x\r\n");
    assert_output(c, "-ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / "
                     "QUIT / RESET are allowed in this context\r\n"
                     "-ERR Can't execute 'config|get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / "
                     "PING / QUIT / RESET are allowed in this context\r\n");
    assert_int_equal(get->rejected_calls, rejected + 1);
    feed(c, "PING\r\nPING hey\r\n");
    assert_output(c, "*2\r\n$4\r\npong\r\n$0\r\n\r\n*2\r\n$4\r\npong\r\n$3\r\nhey\r\n");
    /* Leaving subscribed mode restores every command and the plain PONG. */
    kv_pubsub_unsubscribe_all(c);
    assert_output(c, "");
    assert_false(c->flags & KV_CLIENT_PUBSUB);
    feed(c, "PING\r\nGET k\r\n");
    assert_output(c, "+PONG\r\n$-1\r\n");
    kv_client_free(c);
    assert_tables_empty();
}

static void test_pubsub_resp3_client_keeps_every_command(void **state) {
    (void)state;
    kv_client_t *c = kv_client_new(-1);
    feed(c, "SUBSCRIBE a\r\n");
    discard_output(c);
    c->resp = 3;
    feed(c, "GET k\r\n");
    char *out = take_output(c);
    assert_null(strstr(out, "Can't execute"));
    free(out);
    c->resp = 2;
    kv_client_free(c);
    assert_tables_empty();
}

/* 1000 subscribers; every third leaves: the rest still get messages in subscription
 * order, and the count is exact. */
static void test_pubsub_unsubscribing_from_the_middle_keeps_the_list_whole(void **state) {
    (void)state;
    enum { N = 1000 };
    kv_client_t **subs = calloc(N, sizeof(*subs));
    assert_non_null(subs);
    for (int i = 0; i < N; i++) {
        subs[i] = kv_client_new(-1);
        feed(subs[i], "SUBSCRIBE ch\r\n");
        discard_output(subs[i]);
    }
    for (int i = 0; i < N; i += 3) {
        feed(subs[i], "UNSUBSCRIBE ch\r\n");
        assert_output(subs[i], "*3\r\n$11\r\nunsubscribe\r\n$2\r\nch\r\n:0\r\n");
    }
    long expect = N - (N + 2) / 3;
    assert_int_equal(kv_pubsub_publish("ch", 2, "m", 1, false), expect);
    for (int i = 0; i < N; i++)
        assert_output(subs[i], i % 3 == 0 ? "" : "*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$1\r\nm\r\n");
    for (int i = 0; i < N; i++)
        kv_client_free(subs[i]);
    free(subs);
    assert_tables_empty();
}

static void test_pubsub_freed_client_leaves_no_channel_behind(void **state) {
    (void)state;
    kv_client_t *a = kv_client_new(-1), *b = kv_client_new(-1);
    feed(a, "SUBSCRIBE x y\r\nPSUBSCRIBE p*\r\nSSUBSCRIBE s\r\n");
    feed(b, "SUBSCRIBE y\r\n");
    size_t ch, pat, shard;
    stats(&ch, &pat, &shard);
    assert_int_equal(ch, 2);
    assert_int_equal(pat, 1);
    assert_int_equal(shard, 1);
    kv_client_free(a);
    stats(&ch, &pat, &shard);
    assert_int_equal(ch, 1); /* y still has b */
    assert_int_equal(pat, 0);
    assert_int_equal(shard, 0);
    assert_int_equal(kv_pubsub_publish("y", 1, "m", 1, false), 1);
    kv_client_free(b);
    assert_tables_empty();
}

static void test_pubsub_channels_filters_by_pattern(void **state) {
    (void)state;
    kv_client_t *s = kv_client_new(-1), *p = kv_client_new(-1);
    feed(s, "SUBSCRIBE news.a news.b sport\r\nSSUBSCRIBE shard1\r\n");
    feed(p, "PUBSUB CHANNELS news.*\r\nPUBSUB CHANNELS\r\nPUBSUB SHARDCHANNELS s*\r\n");
    assert_output(p, "*2\r\n$6\r\nnews.a\r\n$6\r\nnews.b\r\n"
                     "*3\r\n$6\r\nnews.a\r\n$6\r\nnews.b\r\n$5\r\nsport\r\n"
                     "*1\r\n$6\r\nshard1\r\n");
    feed(p, "PUBSUB CHANNELS a b\r\n");
    assert_output(p, "-ERR unknown subcommand or wrong number of arguments for 'CHANNELS'. Try "
                     "PUBSUB HELP.\r\n");
    kv_client_free(s);
    kv_client_free(p);
    assert_tables_empty();
}

static void test_pubsub_subscribed_client_uses_the_pubsub_output_limit(void **state) {
    (void)state;
    kv_client_t *c = kv_client_new(-1);
    assert_ptr_equal(kv_client_obuf_limit(c), &kv_srv.cfg.obuf_limits[0]);
    feed(c, "SSUBSCRIBE s\r\n");
    assert_ptr_equal(kv_client_obuf_limit(c), &kv_srv.cfg.obuf_limits[2]);
    /* Redis's default for the class: 32mb hard, 8mb soft for 60 seconds. */
    assert_int_equal(kv_client_obuf_limit(c)->hard, 32ull << 20);
    assert_int_equal(kv_client_obuf_limit(c)->soft, 8ull << 20);
    assert_int_equal(kv_client_obuf_limit(c)->soft_seconds, 60);
    feed(c, "SUNSUBSCRIBE\r\n");
    assert_ptr_equal(kv_client_obuf_limit(c), &kv_srv.cfg.obuf_limits[0]);
    kv_client_free(c);
}

/* CLIENT REPLY OFF silences a command's replies but never a push: the subscribe events
 * of the client's own commands and the messages others publish still arrive. */
static void test_pubsub_pushes_pass_client_reply_off(void **state) {
    (void)state;
    kv_client_t *c = kv_client_new(-1), *p = kv_client_new(-1);
    feed(c, "CLIENT REPLY OFF\r\nSUBSCRIBE a\r\nGET k\r\nPING\r\n");
    assert_output(c, "*3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n");
    feed(p, "PUBLISH a m\r\n");
    assert_output(p, ":1\r\n");
    assert_output(c, "*3\r\n$7\r\nmessage\r\n$1\r\na\r\n$1\r\nm\r\n");
    feed(c, "UNSUBSCRIBE\r\nPING\r\nCLIENT REPLY ON\r\n");
    assert_output(c, "*3\r\n$11\r\nunsubscribe\r\n$1\r\na\r\n:0\r\n+OK\r\n");
    kv_client_free(c);
    kv_client_free(p);
    assert_tables_empty();
}

/* Redis 7.2: messages for the client running the publishing command come after that
 * command's reply (after EXEC's whole array), another client's at once. */
static void test_pubsub_own_messages_follow_the_reply(void **state) {
    (void)state;
    kv_client_t *c = kv_client_new(-1), *o = kv_client_new(-1);
    feed(o, "SUBSCRIBE foo\r\n");
    discard_output(o);
    c->resp = 3;
    feed(c, "SUBSCRIBE foo\r\nPSUBSCRIBE f*\r\n");
    discard_output(c);
    static const char msgs[] = ">3\r\n$7\r\nmessage\r\n$3\r\nfoo\r\n$3\r\nbar\r\n"
                               ">4\r\n$8\r\npmessage\r\n$2\r\nf*\r\n$3\r\nfoo\r\n$3\r\nbar\r\n";
    feed(c, "PUBLISH foo bar\r\n");
    char want[512];
    snprintf(want, sizeof(want), ":3\r\n%s", msgs);
    assert_output(c, want);
    assert_output(o, "*3\r\n$7\r\nmessage\r\n$3\r\nfoo\r\n$3\r\nbar\r\n");
    feed(c, "MULTI\r\nPING abc\r\nPUBLISH foo bar\r\nPING def\r\n");
    discard_output(c);
    feed(c, "EXEC\r\n");
    snprintf(want, sizeof(want), "*3\r\n$3\r\nabc\r\n:3\r\n$3\r\ndef\r\n%s", msgs);
    assert_output(c, want);
    assert_output(o, "*3\r\n$7\r\nmessage\r\n$3\r\nfoo\r\n$3\r\nbar\r\n");
    assert_false(kv_pubsub_self_pending);
    /* A keyspace event of one's own write, too. */
    feed(c, "CONFIG SET notify-keyspace-events K$\r\nSUBSCRIBE __keyspace@0__:k\r\n");
    discard_output(c);
    feed(c, "SET k v\r\n");
    assert_output(c, "+OK\r\n>3\r\n$7\r\nmessage\r\n$16\r\n__keyspace@0__:k\r\n$3\r\nset\r\n");
    feed(c, "CONFIG SET notify-keyspace-events \"\"\r\nDEL k\r\n");
    assert_output(c, "+OK\r\n:1\r\n");
    c->resp = 2;
    kv_client_free(c);
    /* RESP2: subscribing and publishing inside one EXEC (the subscribe reply stays inside
     * the array; the message follows it). */
    feed(o, "UNSUBSCRIBE\r\n");
    discard_output(o);
    feed(o, "MULTI\r\nSUBSCRIBE ch\r\nPUBLISH ch m\r\nPING\r\n");
    discard_output(o);
    feed(o, "EXEC\r\n");
    assert_output(o, "*3\r\n*3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n:1\r\n"
                     "*2\r\n$4\r\npong\r\n$0\r\n\r\n"
                     "*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$1\r\nm\r\n");
    kv_client_free(o);
    assert_tables_empty();
}

static bool glob(const char *pat, const char *s) {
    return kv_glob_match(pat, strlen(pat), s, strlen(s), false);
}

static void test_pubsub_patterns_follow_redis_glob_rules(void **state) {
    (void)state;
    assert_false(glob("*", "")); /* as Redis: an empty channel matches no pattern */
    assert_true(glob("*", "x"));
    assert_true(glob("news.*", "news.sport"));
    assert_false(glob("news.*", "new.sport"));
    assert_true(glob("h?llo", "hallo"));
    assert_false(glob("h?llo", "hllo"));
    assert_true(glob("h[ae]llo", "hello"));
    assert_false(glob("h[ae]llo", "hillo"));
    assert_true(glob("h[^e]llo", "hallo"));
    assert_false(glob("h[^e]llo", "hello"));
    assert_true(glob("h[a-b]llo", "hbllo"));
    assert_true(glob("h[b-a]llo", "hallo")); /* reversed ranges are swapped */
    assert_true(glob("a\\*b", "a*b"));
    assert_false(glob("a\\*b", "axb"));
    assert_true(glob("[\\]]", "]"));
    assert_false(glob("News", "news")); /* channels are case-sensitive */
    assert_true(glob("*a*b*c*", "xxaxxbxxcxx"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pubsub_subscribe_replies_one_count_per_channel),
        cmocka_unit_test(test_pubsub_unsubscribe_outside_subscribed_mode_is_nosub),
        cmocka_unit_test(test_pubsub_unsubscribe_all_answers_in_subscription_order),
        cmocka_unit_test(test_pubsub_publish_counts_channel_then_pattern_receivers),
        cmocka_unit_test(test_pubsub_shard_channels_are_a_separate_namespace),
        cmocka_unit_test(test_pubsub_resp2_subscribed_mode_allows_only_subscription_commands),
        cmocka_unit_test(test_pubsub_resp3_client_keeps_every_command),
        cmocka_unit_test(test_pubsub_unsubscribing_from_the_middle_keeps_the_list_whole),
        cmocka_unit_test(test_pubsub_freed_client_leaves_no_channel_behind),
        cmocka_unit_test(test_pubsub_channels_filters_by_pattern),
        cmocka_unit_test(test_pubsub_subscribed_client_uses_the_pubsub_output_limit),
        cmocka_unit_test(test_pubsub_pushes_pass_client_reply_off),
        cmocka_unit_test(test_pubsub_own_messages_follow_the_reply),
        cmocka_unit_test(test_pubsub_patterns_follow_redis_glob_rules),
    };
    return cmocka_run_group_tests_name("kv_pubsub", tests, kv_server_setup, kv_server_teardown);
}
