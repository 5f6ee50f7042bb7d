/* SPDX-License-Identifier: MIT */
/*
 * test_kv_client_ext.c - the client extras through the real dispatcher with socket-less
 * clients: CLIENT REPLY OFF/SKIP/ON, CLIENT PAUSE WRITE holding writes until UNPAUSE,
 * CLIENT TRACKING (default mode with RESP3 pushes, NOLOOP, a client's own change sent
 * after its reply, OPTIN/CACHING, BCAST prefixes, flushes, a broken redirect),
 * TRACKINGINFO, MONITOR's line format with redaction, RESET, NO-TOUCH, key extraction
 * from key specs, the latency histograms (buckets and percentiles as Redis's
 * HdrHistogram), OBJECT REFCOUNT of shared integers, ZRANK WITHSCORE, HSCAN NOVALUES,
 * ZSCAN NOSCORES, and Redis 7.2's SCAN TYPE and LPOS RANK checks.
 */
#include "test_common.h"

#include "kv_internal.h"
#include "kv_client_test.h"

static void test_reply_off_skip_on(void **state) {
    (void)state;
    kv_client_t *c = kv_client_new(-1);
    feed(c, "CLIENT REPLY OFF\r\nSET k 1\r\nGET k\r\nNOSUCH\r\n");
    assert_output(c, "");
    feed(c, "CLIENT REPLY ON\r\nGET k\r\n");
    assert_output(c, "+OK\r\n$1\r\n1\r\n");
    feed(c, "CLIENT REPLY SKIP\r\nINCR k\r\nGET k\r\n");
    assert_output(c, "$1\r\n2\r\n");
    feed(c, "CLIENT REPLY maybe\r\n");
    assert_output(c, "-ERR syntax error\r\n");
    kv_client_free(c);
    kv_db_flush(kv_db_get(0));
}

static void test_pause_write_holds_writes_until_unpause(void **state) {
    (void)state;
    kv_client_t *admin = listed_client();
    kv_client_t *c = listed_client();
    feed(admin, "CLIENT PAUSE 100000 WRITE\r\n");
    assert_output(admin, "+OK\r\n");
    assert_true(kv_pause_is_active(true));
    assert_false(kv_pause_is_active(false));
    feed(c, "GET k\r\nSET k v\r\nGET k\r\n");
    /* The read ran; the write waits, and the read after it waits behind it. */
    assert_output(c, "$-1\r\n");
    assert_true(c->flags & KV_CLIENT_PAUSED);
    assert_int_equal(kv_pause_waiting_clients(), 1); /* INFO blocked_clients */
    feed(c, "NOSUCH\r\n");                           /* more input queues behind the held write */
    assert_output(c, "");
    feed(admin, "CLIENT UNPAUSE\r\n");
    assert_output(admin, "+OK\r\n");
    assert_false(c->flags & KV_CLIENT_PAUSED);
    assert_int_equal(kv_pause_waiting_clients(), 0);
    assert_output(
        c, "+OK\r\n$1\r\nv\r\n-ERR unknown command 'NOSUCH', with args beginning with: \r\n");
    /* PUBLISH waits too (its message would reach replicas). */
    feed(admin, "CLIENT PAUSE 100000 WRITE\r\n");
    free(take_output(admin));
    feed(c, "PUBLISH ch m\r\n");
    assert_output(c, "");
    feed(admin, "CLIENT UNPAUSE\r\n");
    free(take_output(admin));
    assert_output(c, ":0\r\n");
    /* A transaction is queued as usual; its EXEC waits when the queue holds a write. */
    feed(c, "MULTI\r\nGET k\r\nEXEC\r\nMULTI\r\nSET k w\r\n");
    assert_output(c, "+OK\r\n+QUEUED\r\n*1\r\n$1\r\nv\r\n+OK\r\n+QUEUED\r\n");
    feed(admin, "CLIENT PAUSE 100000 WRITE\r\n");
    free(take_output(admin));
    feed(c, "EXEC\r\n");
    assert_output(c, "");
    feed(admin, "CLIENT UNPAUSE\r\n");
    free(take_output(admin));
    assert_output(c, "*1\r\n+OK\r\n");
    /* While paused, an expired key reads as missing but stays until the pause ends. */
    feed(c, "SET e v\r\n");
    free(take_output(c));
    kv_db_t *db = kv_db_get(0);
    kv_db_set_expire(db, kv_db_lookup(db, "e", 1, KV_LOOKUP_NOSTATS | KV_LOOKUP_NOTOUCH), 1);
    feed(admin, "CLIENT PAUSE 100000 WRITE\r\nGET e\r\nDBSIZE\r\nCLIENT UNPAUSE\r\n"
                "GET e\r\nDBSIZE\r\n");
    assert_output(admin, "+OK\r\n$-1\r\n:2\r\n+OK\r\n$-1\r\n:1\r\n");
    feed(admin, "CLIENT PAUSE 100000 nope\r\nCLIENT PAUSE x\r\nCLIENT PAUSE -1\r\n");
    assert_output(admin, "-ERR CLIENT PAUSE mode must be WRITE or ALL\r\n"
                         "-ERR timeout is not an integer or out of range\r\n"
                         "-ERR timeout is negative\r\n");
    unlist_and_free(c);
    unlist_and_free(admin);
    kv_db_flush(kv_db_get(0));
}

static void test_tracking_default_mode_pushes_invalidations(void **state) {
    (void)state;
    kv_client_t *t = listed_client();
    kv_client_t *w = listed_client();
    feed(t, "HELLO 3\r\n");
    free(take_output(t));
    feed(t, "CLIENT TRACKING on\r\nGET a\r\nMGET b c\r\n");
    assert_output(t, "+OK\r\n_\r\n*2\r\n_\r\n_\r\n");
    size_t clients, keys, items, prefixes;
    kv_tracking_info(&clients, &keys, &items, &prefixes);
    assert_int_equal(clients, 1);
    assert_int_equal(keys, 3);
    feed(w, "SET a 1\r\nSET a 2\r\n");
    assert_output(w, "+OK\r\n+OK\r\n");
    /* One message: the key left the table after the first change. */
    assert_output(t, ">2\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\na\r\n");
    /* The tracking client's own change: the message follows its reply. */
    feed(t, "SET b x\r\n");
    assert_output(t, "+OK\r\n>2\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\nb\r\n");
    /* Invalidations are pushes: CLIENT REPLY OFF does not silence them. */
    feed(t, "GET a\r\nCLIENT REPLY OFF\r\n");
    assert_output(t, "$1\r\n2\r\n");
    feed(w, "SET a 3\r\n");
    free(take_output(w));
    assert_output(t, ">2\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\na\r\n");
    feed(t, "CLIENT REPLY ON\r\n");
    assert_output(t, "+OK\r\n");
    /* NOLOOP: its own changes are not reported. */
    feed(t, "CLIENT TRACKING on NOLOOP\r\nGET c\r\nSET c y\r\n");
    assert_output(t, "+OK\r\n_\r\n+OK\r\n");
    /* A flush invalidates everything with a null. */
    feed(t, "GET d\r\n");
    free(take_output(t));
    feed(w, "FLUSHALL\r\n"); /* no save points: nothing written (main's setup) */
    free(take_output(w));
    assert_output(t, ">2\r\n$10\r\ninvalidate\r\n_\r\n");
    feed(t, "CLIENT TRACKING off\r\n");
    assert_output(t, "+OK\r\n");
    kv_tracking_info(&clients, &keys, &items, &prefixes);
    assert_int_equal(clients, 0);
    assert_int_equal(keys, 0);
    unlist_and_free(w);
    unlist_and_free(t);
}

static void test_tracking_served_blocked_client_gets_reply_first(void **state) {
    (void)state;
    kv_client_t *t = listed_client();
    kv_client_t *w = listed_client();
    feed(t, "HELLO 3\r\n");
    free(take_output(t));
    feed(t, "CLIENT TRACKING on\r\nLRANGE l2 0 -1\r\nBLMOVE l1 l2 LEFT LEFT 0\r\n");
    assert_output(t, "+OK\r\n*0\r\n");
    feed(w, "RPUSH l1 foo\r\n");
    free(take_output(w));
    /* The BLMOVE's reply, then the invalidation of l2 it caused. */
    assert_output(t, "$3\r\nfoo\r\n>2\r\n$10\r\ninvalidate\r\n*1\r\n$2\r\nl2\r\n");
    feed(t, "CLIENT TRACKING off\r\n");
    free(take_output(t));
    unlist_and_free(w);
    unlist_and_free(t);
    kv_db_flush(kv_db_get(0));
}

static void test_tracking_table_limit_invalidates_the_excess(void **state) {
    (void)state;
    kv_client_t *t = listed_client();
    feed(t, "HELLO 3\r\n");
    free(take_output(t));
    feed(t, "CLIENT TRACKING on\r\nMGET a b c\r\nCONFIG SET tracking-table-max-keys 1\r\n");
    free(take_output(t));
    kv_client_ext_before_sleep();
    size_t clients, keys, items, prefixes;
    kv_tracking_info(&clients, &keys, &items, &prefixes);
    assert_int_equal(keys, 1);
    char *out = take_output(t);
    /* Two of the three keys were invalidated, one message each. */
    int n = 0;
    for (char *p = out; (p = strstr(p, ">2\r\n$10\r\ninvalidate\r\n*1\r\n")) != NULL; p++)
        n++;
    assert_int_equal(n, 2);
    free(out);
    feed(t, "CONFIG SET tracking-table-max-keys 1000000\r\nCLIENT TRACKING off\r\n");
    free(take_output(t));
    unlist_and_free(t);
}

static void test_tracking_optin_tracks_only_after_caching_yes(void **state) {
    (void)state;
    kv_client_t *t = listed_client();
    kv_client_t *w = listed_client();
    feed(t, "HELLO 3\r\n");
    free(take_output(t));
    feed(t, "CLIENT TRACKING on OPTIN\r\nGET a\r\nCLIENT CACHING yes\r\nGET b\r\nGET c\r\n");
    free(take_output(t));
    feed(w, "SET a 1\r\nSET b 1\r\nSET c 1\r\n");
    free(take_output(w));
    assert_output(t, ">2\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\nb\r\n");
    feed(t, "CLIENT CACHING no\r\n");
    assert_output(t, "-ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT "
                     "mode.\r\n");
    feed(t, "CLIENT TRACKINGINFO\r\n");
    assert_output(t, "%3\r\n$5\r\nflags\r\n~2\r\n$2\r\non\r\n$5\r\noptin\r\n$8\r\nredirect\r\n"
                     ":0\r\n$8\r\nprefixes\r\n*0\r\n");
    unlist_and_free(w);
    unlist_and_free(t);
    kv_db_flush(kv_db_get(0));
}

static void test_tracking_bcast_sends_prefix_matches_before_sleep(void **state) {
    (void)state;
    kv_client_t *t = listed_client();
    kv_client_t *w = listed_client();
    feed(t, "HELLO 3\r\n");
    free(take_output(t));
    feed(t, "CLIENT TRACKING on BCAST PREFIX user: PREFIX us\r\n");
    assert_output(t, "-ERR Prefix 'user:' overlaps with another provided prefix 'us'. Prefixes "
                     "for a single client must not overlap.\r\n");
    feed(t, "CLIENT TRACKING on BCAST\r\nCLIENT TRACKINGINFO\r\nCLIENT TRACKING off\r\n");
    assert_output(t, "+OK\r\n%3\r\n$5\r\nflags\r\n~2\r\n$2\r\non\r\n$5\r\nbcast\r\n"
                     "$8\r\nredirect\r\n:0\r\n$8\r\nprefixes\r\n*1\r\n$0\r\n\r\n+OK\r\n");
    feed(t, "CLIENT TRACKING on BCAST PREFIX user: PREFIX item:\r\n");
    assert_output(t, "+OK\r\n");
    feed(w, "SET user:1 a\r\nSET other b\r\nSET user:2 c\r\nSET user:1 d\r\n");
    free(take_output(w));
    assert_output(t, ""); /* collected, sent before the loop sleeps */
    kv_client_ext_before_sleep();
    assert_output(t, ">2\r\n$10\r\ninvalidate\r\n*2\r\n$6\r\nuser:1\r\n$6\r\nuser:2\r\n");
    kv_client_ext_before_sleep();
    assert_output(t, "");
    feed(t, "CLIENT TRACKING on\r\n");
    assert_output(t, "-ERR You can't switch BCAST mode on/off before disabling tracking for "
                     "this client, and then re-enabling it with a different mode.\r\n");
    unlist_and_free(w);
    unlist_and_free(t); /* leaves its prefixes */
    size_t clients, keys, items, prefixes;
    kv_tracking_info(&clients, &keys, &items, &prefixes);
    assert_int_equal(prefixes, 0);
    assert_int_equal(clients, 0);
    kv_db_flush(kv_db_get(0));
}

static void test_tracking_redirect_to_a_gone_client_is_flagged_broken(void **state) {
    (void)state;
    kv_client_t *t = listed_client();
    kv_client_t *r = listed_client();
    kv_client_t *w = listed_client();
    char cmd[96];
    snprintf(cmd, sizeof(cmd), "CLIENT TRACKING on REDIRECT %llu\r\n", (unsigned long long)r->id);
    feed(t, "HELLO 3\r\n");
    free(take_output(t));
    feed(t, cmd);
    assert_output(t, "+OK\r\n");
    feed(t, "CLIENT GETREDIR\r\nGET k\r\n");
    snprintf(cmd, sizeof(cmd), ":%llu\r\n_\r\n", (unsigned long long)r->id);
    assert_output(t, cmd);
    unsigned long long rid = r->id;
    unlist_and_free(r);
    feed(w, "SET k v\r\n");
    free(take_output(w));
    snprintf(cmd, sizeof(cmd), ">2\r\n$21\r\ntracking-redir-broken\r\n:%llu\r\n", rid);
    assert_output(t, cmd);
    char *line = kv_client_info_line(t);
    assert_non_null(strstr(line, " flags=tR "));
    free(line);
    unlist_and_free(w);
    unlist_and_free(t);
    kv_db_flush(kv_db_get(0));
}

static void test_monitor_shows_commands_with_secrets_redacted(void **state) {
    (void)state;
    kv_client_t *m = kv_client_new(-1);
    kv_client_t *c = kv_client_new(-1);
    feed(m, "MONITOR\r\n");
    assert_output(m, "+OK\r\n");
    feed(c, "SELECT 2\r\n*3\r\n$3\r\nSET\r\n$3\r\na b\r\n$4\r\nx\"\n\1\r\nAUTH secret\r\n"
            "CONFIG GET maxmemory\r\nNOSUCH\r\n");
    char *out = take_output(m);
    /* +<secs>.<usecs> [db addr] args: the time varies, the rest is fixed. */
    char *p = out;
    const char *want[] = {" [2 ?:0] \"SELECT\" \"2\"\r\n",
                          " [2 ?:0] \"SET\" \"a b\" \"x\\\"\\n\\x01\"\r\n",
                          " [2 ?:0] \"AUTH\" \"(redacted)\"\r\n"};
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        assert_int_equal(*p, '+');
        char *sp = strchr(p, ' ');
        assert_non_null(sp);
        assert_memory_equal(sp, want[i], strlen(want[i]));
        p = sp + strlen(want[i]);
    }
    assert_string_equal(p, ""); /* CONFIG (admin) and the rejected command are not shown */
    free(out);
    kv_client_free(c); /* leaves nothing behind in the monitor list */
    feed(m, "RESET\r\n");
    assert_output(m, "+RESET\r\n");
    assert_int_equal(kv_monitor_count, 0);
    kv_client_free(m);
}

static void test_reset_restores_a_fresh_connection(void **state) {
    (void)state;
    kv_client_t *c = kv_client_new(-1);
    feed(c, "SELECT 5\r\nCLIENT SETNAME n\r\nCLIENT NO-TOUCH on\r\nCLIENT NO-EVICT on\r\n");
    free(take_output(c));
    assert_true(c->flags & KV_CLIENT_NO_TOUCH);
    feed(c, "RESET\r\nCLIENT GETNAME\r\n");
    assert_output(c, "+RESET\r\n$-1\r\n");
    /* A transaction is discarded, subscriptions dropped. */
    feed(c, "MULTI\r\nSET x 1\r\nRESET\r\nGET x\r\nSUBSCRIBE ch\r\nRESET\r\nPING\r\n");
    assert_output(c, "+OK\r\n+QUEUED\r\n+RESET\r\n$-1\r\n"
                     "*3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n+RESET\r\n+PONG\r\n");
    assert_false(c->flags & (KV_CLIENT_MULTI | KV_CLIENT_PUBSUB));
    assert_int_equal(c->dbid, 0);
    assert_false(c->flags & (KV_CLIENT_NO_TOUCH | KV_CLIENT_NO_EVICT));
    kv_client_free(c);
}

static void test_no_touch_keeps_the_access_time(void **state) {
    (void)state;
    kv_client_t *c = kv_client_new(-1);
    feed(c, "SET k v\r\n");
    free(take_output(c));
    kv_obj_t *o = kv_db_lookup(kv_db_get(0), "k", 1, KV_LOOKUP_NOTOUCH | KV_LOOKUP_NOSTATS);
    o->lru = 5;
    feed(c, "CLIENT NO-TOUCH on\r\nGET k\r\n");
    free(take_output(c));
    o = kv_db_lookup(kv_db_get(0), "k", 1, KV_LOOKUP_NOTOUCH | KV_LOOKUP_NOSTATS);
    assert_int_equal(o->lru, 5);
    feed(c, "TOUCH k\r\n"); /* TOUCH still touches */
    free(take_output(c));
    o = kv_db_lookup(kv_db_get(0), "k", 1, KV_LOOKUP_NOTOUCH | KV_LOOKUP_NOSTATS);
    assert_int_not_equal(o->lru, 5);
    feed(c, "CLIENT NO-TOUCH maybe\r\n");
    assert_output(c, "-ERR syntax error\r\n");
    kv_client_free(c);
    kv_db_flush(kv_db_get(0));
}

static int keys_of(const char *cmdline, int *pos, const char **flags) {
    kv_arg_t argv[16];
    char *scratch = NULL;
    size_t cap = 0;
    int argc = kv_split_args(cmdline, strlen(cmdline), &scratch, &cap, argv, 16);
    assert_true(argc > 0);
    kv_cmd_t *cmd = kv_cmd_lookup_argv(argv, argc);
    assert_non_null(cmd);
    kv_keyref_t *keys;
    int n = kv_cmd_get_keys(cmd, argv, argc, &keys);
    for (int i = 0; i < n; i++) {
        pos[i] = keys[i].pos;
        flags[i] = keys[i].flags;
    }
    if (n > 0) free(keys);
    free(scratch);
    return n;
}

static void test_keys_come_from_the_key_specs(void **state) {
    (void)state;
    int pos[8];
    const char *flags[8];
    assert_int_equal(keys_of("mset a 1 b 2", pos, flags), 2);
    assert_int_equal(pos[0], 1);
    assert_int_equal(pos[1], 3);
    assert_int_equal(keys_of("zunionstore d 2 a b WEIGHTS 1 2", pos, flags), 3);
    assert_int_equal(pos[2], 4);
    assert_int_equal(keys_of("zunionstore d 3 a b", pos, flags), -1);
    assert_int_equal(keys_of("georadius k 1 2 3 m STORE d", pos, flags), 2);
    assert_int_equal(pos[1], 7);
    assert_int_equal(keys_of("sort k BY x LIMIT 0 1 STORE d STORE e", pos, flags), 2);
    assert_int_equal(pos[1], 10);
    assert_memory_equal(flags[1], "OW update", 9);
    assert_int_equal(keys_of("set k v get", pos, flags), 1);
    assert_memory_equal(flags[0], "RW access update", 16);
    assert_int_equal(keys_of("ping", pos, flags), 0);
}

static void test_latency_histogram_buckets_and_percentiles(void **state) {
    (void)state;
    kv_client_t *c = kv_client_new(-1);
    feed(c, "CONFIG RESETSTAT\r\n");
    free(take_output(c));
    kv_cmd_t *set = kv_cmd_lookup("set", 3);
    kv_latency_hist_reset();
    kv_latency_hist_record(set, 5);
    kv_latency_hist_record(set, 5);
    kv_latency_hist_record(set, 7);
    kv_latency_hist_record(set, 20000);
    feed(c, "LATENCY HISTOGRAM set nosuch\r\n");
    /* Cumulative counts at Redis's reporting levels (1024 ns doubling, each shown as the
     * bucket's highest value in us): 4 us: none, 8 us: 3, 16908 us: 3, 33816 us: 4. */
    assert_output(c, "*2\r\n$3\r\nset\r\n*4\r\n$5\r\ncalls\r\n:4\r\n$14\r\nhistogram_usec\r\n"
                     "*4\r\n:8\r\n:3\r\n:33816\r\n:4\r\n");
    char *info = kv_latency_info_stats();
    assert_non_null(strstr(info, "latency_percentiles_usec_set:p50=5.023,p99=20054.015,"
                                 "p99.9=20054.015\r\n"));
    free(info);
    kv_latency_hist_reset();
    kv_client_free(c);
}

static void test_object_refcount_of_shared_integers(void **state) {
    (void)state;
    kv_client_t *c = kv_client_new(-1);
    feed(c, "SET a 9999\r\nSET b 10000\r\nSET c -1\r\nSET d 012\r\n");
    free(take_output(c));
    feed(c, "OBJECT REFCOUNT a\r\nOBJECT REFCOUNT b\r\nOBJECT REFCOUNT c\r\n"
            "OBJECT REFCOUNT d\r\n");
    assert_output(c, ":2147483647\r\n:1\r\n:1\r\n:1\r\n");
    kv_client_free(c);
    kv_db_flush(kv_db_get(0));
}

static void test_redis72_options_withscore_novalues_noscores(void **state) {
    (void)state;
    kv_client_t *c = kv_client_new(-1);
    feed(c, "ZADD z 1.5 a 2 b\r\nHSET h f v\r\n");
    free(take_output(c));
    feed(c, "ZRANK z b WITHSCORE\r\nZREVRANK z b withscore\r\nZRANK z x WITHSCORE\r\n"
            "ZRANK z b foo\r\nZRANK z b WITHSCORE x\r\n");
    assert_output(c, "*2\r\n:1\r\n$1\r\n2\r\n*2\r\n:0\r\n$1\r\n2\r\n*-1\r\n"
                     "-ERR syntax error\r\n"
                     "-ERR wrong number of arguments for 'zrank' command\r\n");
    feed(c, "HSCAN h 0 NOVALUES\r\nZSCAN z 0 NOSCORES\r\nSSCAN s 0 NOVALUES\r\n"
            "HSCAN h 0 NOSCORES\r\n");
    assert_output(c,
                  "*2\r\n$1\r\n0\r\n*1\r\n$1\r\nf\r\n*2\r\n$1\r\n0\r\n*2\r\n$1\r\na\r\n$1\r\nb\r\n"
                  "*2\r\n$1\r\n0\r\n*0\r\n-ERR syntax error\r\n");
    kv_client_free(c);
    kv_db_flush(kv_db_get(0));
}

/* Redis 7.2's argument checks: SCAN TYPE of an unknown type (7.0: an empty scan) and LPOS
 * RANK of LLONG_MIN (7.0 took it as -LLONG_MAX) are errors. */
static void test_redis72_scan_unknown_type_and_lpos_rank_llong_min(void **state) {
    (void)state;
    kv_client_t *c = kv_client_new(-1);
    feed(c, "SET s v\r\nRPUSH l c\r\n");
    free(take_output(c));
    feed(c, "SCAN 0 TYPE string1\r\nSCAN 0 TYPE module\r\nSCAN 0 TYPE foo COUNT 0\r\n"
            "SCAN 0 COUNT 0 TYPE foo\r\nSCAN 0 TYPE STRING\r\nSCAN 0 TYPE stream\r\n");
    assert_output(c, "-ERR unknown type name 'string1'\r\n-ERR unknown type name 'module'\r\n"
                     "-ERR unknown type name 'foo'\r\n-ERR syntax error\r\n"
                     "*2\r\n$1\r\n0\r\n*1\r\n$1\r\ns\r\n*2\r\n$1\r\n0\r\n*0\r\n");
    /* The name is printed as C text: up to a NUL byte. */
    static const char nul[] = "*4\r\n$4\r\nSCAN\r\n$1\r\n0\r\n$4\r\nTYPE\r\n$3\r\na\0b\r\n";
    feed_bytes(c, nul, sizeof(nul) - 1);
    assert_output(c, "-ERR unknown type name 'a'\r\n");
    feed(c, "LPOS l c RANK -9223372036854775808\r\nLPOS l c RANK -9223372036854775807\r\n"
            "LPOS l c RANK 0\r\n");
    assert_output(c, "-ERR value is out of range, value must between -9223372036854775807 and "
                     "9223372036854775807\r\n$-1\r\n"
                     "-ERR RANK can't be zero: use 1 to start from the first match, 2 from the "
                     "second ... or use negative to start from the end of the list\r\n");
    kv_client_free(c);
    kv_db_flush(kv_db_get(0));
}

/* The server's defaults, without save points (FLUSHALL would write a dump file). */
static int setup(void **state) {
    char err[128];
    if (kv_server_setup(state) != 0) return -1;
    return kv_config_set(&kv_srv.cfg, "save", "", err, sizeof(err));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reply_off_skip_on),
        cmocka_unit_test(test_pause_write_holds_writes_until_unpause),
        cmocka_unit_test(test_tracking_default_mode_pushes_invalidations),
        cmocka_unit_test(test_tracking_served_blocked_client_gets_reply_first),
        cmocka_unit_test(test_tracking_table_limit_invalidates_the_excess),
        cmocka_unit_test(test_tracking_optin_tracks_only_after_caching_yes),
        cmocka_unit_test(test_tracking_bcast_sends_prefix_matches_before_sleep),
        cmocka_unit_test(test_tracking_redirect_to_a_gone_client_is_flagged_broken),
        cmocka_unit_test(test_monitor_shows_commands_with_secrets_redacted),
        cmocka_unit_test(test_reset_restores_a_fresh_connection),
        cmocka_unit_test(test_no_touch_keeps_the_access_time),
        cmocka_unit_test(test_keys_come_from_the_key_specs),
        cmocka_unit_test(test_latency_histogram_buckets_and_percentiles),
        cmocka_unit_test(test_object_refcount_of_shared_integers),
        cmocka_unit_test(test_redis72_options_withscore_novalues_noscores),
        cmocka_unit_test(test_redis72_scan_unknown_type_and_lpos_rank_llong_min),
    };
    return cmocka_run_group_tests_name("kv_client_ext", tests, setup, kv_server_teardown);
}
