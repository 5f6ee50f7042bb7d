/* SPDX-License-Identifier: MIT */
/*
 * test_kv_notify.c - keyspace notifications and change counts (notify.c, the write
 * commands): notify-keyspace-events parsing and its canonical text, the channel and
 * message bytes, class filtering, and, command by command through the dispatcher, the
 * events Redis 7.0 publishes (recorded through kv_notify_set_sink) and how much
 * kv_srv.dirty grows.
 */
#include "test_common.h"

#include "kv_internal.h"
#include "kv_client_test.h"

#include <stdio.h>

/* --- Recording sink --- */

static char recorded[8192];
static size_t nrecorded;

/* Appends "channel|message;" for each publication. */
static long record(const char *ch, size_t chlen, const char *msg, size_t mlen, bool sharded) {
    assert_false(sharded);
    int n = snprintf(recorded + strlen(recorded), sizeof(recorded) - strlen(recorded), "%.*s|%.*s;",
                     (int)chlen, ch, (int)mlen, msg);
    assert_true(n > 0 && strlen(recorded) < sizeof(recorded) - 1);
    nrecorded++;
    return 1;
}

static void clear_recorded(void) {
    recorded[0] = '\0';
    nrecorded = 0;
}

/* Runs one command given as space-separated words; returns how much kv_srv.dirty grew. */
static long long run(kv_client_t *c, const char *line) {
    char words[512], proto[1024];
    snprintf(words, sizeof(words), "%s", line);
    char *argv[32];
    int argc = 0;
    for (char *t = strtok(words, " "); t && argc < 32; t = strtok(NULL, " "))
        argv[argc++] = t;
    size_t o = (size_t)snprintf(proto, sizeof(proto), "*%d\r\n", argc);
    for (int i = 0; i < argc; i++)
        o += (size_t)snprintf(proto + o, sizeof(proto) - o, "$%zu\r\n%s\r\n", strlen(argv[i]),
                              argv[i]);
    long long before = kv_srv.dirty;
    feed(c, proto);
    free(take_output(c));
    return kv_srv.dirty - before;
}

static kv_client_t *client;

static int setup(void **state) {
    if (kv_server_setup(state) != 0) return -1;
    char err[128];
    /* No save points: FLUSHALL would otherwise write dump.rdb into the working directory. */
    if (kv_config_set(&kv_srv.cfg, "save", "", err, sizeof(err)) != 0) return -1;
    kv_notify_set_sink(record);
    client = kv_client_new(-1);
    return client ? 0 : -1;
}

static int teardown(void **state) {
    kv_client_free(client);
    kv_notify_set_sink(NULL);
    return kv_server_teardown(state);
}

/* Each test starts from empty databases, db 0, keyevent notifications of every class. */
static int reset(void **state) {
    (void)state;
    kv_srv.cfg.notify_keyspace_events = kv_notify_flags_parse("EAnm");
    kv_srv.mstime = 1000000;
    run(client, "FLUSHALL");
    run(client, "SELECT 0");
    clear_recorded();
    return 0;
}

/* --- notify-keyspace-events --- */

static void assert_canonical(const char *in, const char *want) {
    char buf[32];
    int flags = kv_notify_flags_parse(in);
    assert_true(flags >= 0);
    kv_notify_flags_str(flags, buf, sizeof(buf));
    assert_string_equal(buf, want);
}

static void test_notify_flags_parse_to_redis_canonical_text(void **state) {
    (void)state;
    assert_canonical("", "");
    assert_canonical("KEA", "AKE");
    assert_canonical("AKEnm", "AKEm"); /* as Redis: 'A' hides n */
    assert_canonical("gn", "gn");
    assert_canonical("$lshzxetdn", "$lshzxetdn");
    assert_canonical("nd$glhszxetKE", "AKE");
    assert_canonical("nd$glhszxeKE", "g$lshzxednKE");
    assert_canonical("g$lshzxetd", "A");
    assert_canonical("Ex$", "$xE");
    assert_canonical("mK", "Km");
    assert_int_equal(kv_notify_flags_parse("KEAb"), -1);
    assert_int_equal(kv_notify_flags_parse(" "), -1);
    assert_int_equal(kv_notify_flags_parse("A"), KV_NOTIFY_ALL);
    assert_int_equal(kv_notify_flags_parse("Kg"), KV_NOTIFY_KEYSPACE | KV_NOTIFY_GENERIC);
}

static void test_notify_config_set_get_and_error_text(void **state) {
    (void)state;
    feed(client,
         "*4\r\n$6\r\nCONFIG\r\n$3\r\nSET\r\n$22\r\nnotify-keyspace-events\r\n$5\r\nnEKAm\r\n");
    assert_output(client, "+OK\r\n");
    feed(client, "*3\r\n$6\r\nCONFIG\r\n$3\r\nGET\r\n$22\r\nnotify-keyspace-events\r\n");
    assert_output(client, "*2\r\n$22\r\nnotify-keyspace-events\r\n$4\r\nAKEm\r\n");
    feed(client,
         "*4\r\n$6\r\nCONFIG\r\n$3\r\nSET\r\n$22\r\nnotify-keyspace-events\r\n$2\r\nKw\r\n");
    assert_output(client, "-ERR CONFIG SET failed (possibly related to argument "
                          "'notify-keyspace-events') - Invalid event class character. Use "
                          "'Ag$lshzxeKEtmdn'.\r\n");
    char err[512];
    assert_int_equal(
        kv_config_load_string(&kv_srv.cfg, "notify-keyspace-events \"\"\n", err, sizeof(err)), 0);
    assert_int_equal(kv_srv.cfg.notify_keyspace_events, 0);
    assert_int_equal(
        kv_config_load_string(&kv_srv.cfg, "notify-keyspace-events Elx\n", err, sizeof(err)), 0);
    assert_int_equal(kv_srv.cfg.notify_keyspace_events,
                     KV_NOTIFY_KEYEVENT | KV_NOTIFY_LIST | KV_NOTIFY_EXPIRED);
    assert_int_equal(
        kv_config_load_string(&kv_srv.cfg, "notify-keyspace-events E?\n", err, sizeof(err)),
        -EINVAL);
    assert_non_null(strstr(err, "Invalid event class character. Use 'Ag$lshzxeKEtmdn'."));
}

/* --- Channels and filtering --- */

static void test_notify_off_publishes_nothing_but_counts_changes(void **state) {
    (void)state;
    kv_srv.cfg.notify_keyspace_events = 0;
    assert_int_equal(run(client, "SET k v"), 1);
    assert_int_equal(run(client, "DEL k"), 1);
    assert_int_equal(run(client, "GET k"), 0);
    assert_int_equal(nrecorded, 0);
}

static void test_notify_keyspace_and_keyevent_channels_name_db_key_and_event(void **state) {
    (void)state;
    kv_srv.cfg.notify_keyspace_events = kv_notify_flags_parse("KE$");
    run(client, "SELECT 3");
    run(client, "SET key:1 v");
    assert_string_equal(recorded, "__keyspace@3__:key:1|set;__keyevent@3__:set|key:1;");
    /* A key longer than the channel's stack buffer. */
    char line[400], key[300];
    memset(key, 'x', sizeof(key) - 1);
    key[sizeof(key) - 1] = '\0';
    snprintf(line, sizeof(line), "APPEND %s y", key);
    clear_recorded();
    run(client, line);
    char want[800];
    snprintf(want, sizeof(want), "__keyspace@3__:%s|append;__keyevent@3__:append|%s;", key, key);
    assert_string_equal(recorded, want);
}

static void test_notify_publishes_only_the_configured_classes(void **state) {
    (void)state;
    kv_srv.cfg.notify_keyspace_events = kv_notify_flags_parse("Kg");
    run(client, "SET k v");
    run(client, "LPUSH l a");
    assert_int_equal(nrecorded, 0);
    run(client, "DEL k l");
    assert_string_equal(recorded, "__keyspace@0__:k|del;__keyspace@0__:l|del;");
    kv_srv.cfg.notify_keyspace_events = kv_notify_flags_parse("En");
    clear_recorded();
    run(client, "RPUSH l a");
    run(client, "RPUSH l b");
    assert_string_equal(recorded, "__keyevent@0__:new|l;");
    kv_srv.cfg.notify_keyspace_events = kv_notify_flags_parse("KA"); /* m is not in A */
    clear_recorded();
    run(client, "GET missing");
    assert_int_equal(nrecorded, 0);
    kv_srv.cfg.notify_keyspace_events = kv_notify_flags_parse("Km");
    run(client, "GET missing");
    run(client, "OBJECT ENCODING missing"); /* as Redis: OBJECT looks up without a miss event */
    assert_string_equal(recorded, "__keyspace@0__:missing|keymiss;");
}

/* --- Command by command --- */

typedef struct case_ {
    const char *cmd;
    long long dirty;    /* how much kv_srv.dirty grows */
    const char *events; /* "event key" pairs, space separated, in publication order */
} case_t;

/* The recorded keyevent publications as "event key event key ...". */
static void events_of_recording(char *out, size_t cap) {
    out[0] = '\0';
    const char *p = recorded;
    const char *prefix = "__keyevent@";
    while (*p) {
        const char *bar = strchr(p, '|'), *semi = strchr(p, ';');
        assert_non_null(bar);
        assert_non_null(semi);
        assert_memory_equal(p, prefix, strlen(prefix));
        const char *ev = strstr(p, "__:") + 3;
        size_t n = strlen(out);
        snprintf(out + n, cap - n, "%s%.*s %.*s", n ? " " : "", (int)(bar - ev), ev,
                 (int)(semi - bar - 1), bar + 1);
        p = semi + 1;
    }
}

static void run_cases(const case_t *cases, size_t n) {
    for (size_t i = 0; i < n; i++) {
        clear_recorded();
        long long d = run(client, cases[i].cmd);
        char got[4096];
        events_of_recording(got, sizeof(got));
        if (strcmp(got, cases[i].events) != 0 || d != cases[i].dirty)
            fail_msg("%s: events [%s] dirty %lld, want [%s] dirty %lld", cases[i].cmd, got, d,
                     cases[i].events, cases[i].dirty);
    }
}

#define RUN_CASES(cases) run_cases(cases, sizeof(cases) / sizeof(cases[0]))

static void test_notify_string_commands(void **state) {
    (void)state;
    static const case_t cases[] = {
        {"SET s v", 1, "new s set s"},
        {"SET s v NX", 0, ""},
        {"SET s w XX GET", 1, "set s"},
        {"SET s2 v EX 100", 1, "new s2 set s2 expire s2"},
        {"SETNX s x", 0, ""},
        {"SETEX s3 10 v", 1, "new s3 set s3 expire s3"},
        {"GETSET s x", 1, "set s"},
        {"GETSET nos x", 1, "keymiss nos new nos set nos"},
        {"GETDEL nos", 1, "del nos"},
        {"GETDEL nos", 0, "keymiss nos"},
        {"GETEX s2 PERSIST", 1, "persist s2"},
        {"GETEX s2 PERSIST", 0, ""},
        {"GETEX s2 EX 50", 1, "expire s2"},
        {"GETEX s2 PXAT 1", 1, "del s2"},
        {"MSET a 1 b 2", 2, "new a set a new b set b"},
        {"MSETNX a 1 c 2", 0, ""},
        {"INCR c", 1, "new c incrby c"},
        {"DECRBY c 5", 1, "incrby c"},
        {"INCRBYFLOAT c 0.5", 1, "incrbyfloat c"},
        {"INCR s", 0, ""},
        {"APPEND ap x", 1, "new ap append ap"},
        {"SETRANGE sr 0 ", 0, ""},
        {"SETRANGE ap 3 yz", 1, "setrange ap"},
        {"SETBIT bit 9 1", 1, "new bit setbit bit"},
        {"SETBIT bit 9 1", 0, ""},
        {"SETBIT bit 9 0", 1, "setbit bit"},
        {"SETBIT bit 40 0", 1, "setbit bit"},
        {"BITFIELD bf SET u8 0 7 GET u8 0", 1, "new bf setbit bf"},
        {"BITFIELD bf SET u8 0 7", 0, ""},
        {"BITFIELD bf INCRBY u8 0 1 INCRBY u8 8 1", 2, "setbit bf"},
        {"BITFIELD bf OVERFLOW FAIL INCRBY u8 0 255", 0, ""},
        {"BITOP OR bo a b", 1, "new bo set bo"},
        {"BITOP OR bo nokey", 1, "keymiss nokey del bo"},
        {"BITOP OR bo nokey", 0, "keymiss nokey"},
        {"LPUSH list x", 1, "new list lpush list"},
        {"SET list v", 1, "set list"}, /* SET replaces any type */
        {"GET nokey", 0, "keymiss nokey"},
        {"MGET nokey a", 0, "keymiss nokey"},
    };
    RUN_CASES(cases);
}

static void test_notify_keyspace_commands(void **state) {
    (void)state;
    static const case_t cases[] = {
        {"MSET a 1 b 2 c 3", 3, "new a set a new b set b new c set c"},
        {"DEL a nokey b", 2, "del a del b"},
        {"UNLINK c", 1, "del c"},
        {"SET x v", 1, "new x set x"},
        {"EXPIRE x 100", 1, "expire x"},
        {"EXPIRE x 100 NX", 0, ""},
        {"PEXPIRE x 5000 XX", 1, "expire x"},
        {"PERSIST x", 1, "persist x"},
        {"PERSIST x", 0, ""},
        {"EXPIRE nokey 10", 0, ""},
        {"EXPIRE x -1", 1, "del x"},
        {"SET r v", 1, "new r set r"},
        {"RENAME r r", 0, ""},
        {"RENAME r r2", 1, "new r2 rename_from r rename_to r2"},
        {"SET r3 v", 1, "new r3 set r3"},
        {"RENAME r2 r3", 1, "new r3 rename_from r2 rename_to r3"},
        {"RENAMENX r3 r3", 0, ""},
        {"RENAMENX r3 r4", 1, "new r4 rename_from r3 rename_to r4"},
        {"COPY r4 cp", 1, "new cp copy_to cp"},
        {"COPY r4 cp", 0, ""},
        {"COPY r4 cp REPLACE", 1, "new cp copy_to cp"},
        {"COPY nokey cp", 0, "keymiss nokey"},
        {"EXISTS nokey r4", 0, "keymiss nokey"},
        {"TYPE nokey", 0, "keymiss nokey"},
        {"TTL nokey", 0, "keymiss nokey"},
        {"TOUCH nokey", 0, "keymiss nokey"},
    };
    RUN_CASES(cases);
}

static void test_notify_list_commands(void **state) {
    (void)state;
    static const case_t cases[] = {
        {"LPUSH l a b c", 3, "new l lpush l"},
        {"RPUSH l d", 1, "rpush l"},
        {"LPUSHX nol a", 0, ""},
        {"RPUSHX l e", 1, "rpush l"},
        {"LPOP l", 1, "lpop l"},
        {"RPOP l 2", 2, "rpop l"},
        {"LPOP l 0", 0, ""},
        {"LSET l 0 z", 1, "lset l"},
        {"LINSERT l BEFORE z y", 1, "linsert l"},
        {"LINSERT l BEFORE nopivot y", 0, ""},
        {"LREM l 0 nothing", 0, ""},
        {"LREM l 0 y", 1, "lrem l"},
        {"RPUSH l a b c", 3, "rpush l"},
        {"LTRIM l 0 -1", 0, "ltrim l"},
        {"LTRIM l 1 -1", 1, "ltrim l"},
        {"LMOVE l l2 LEFT RIGHT", 1, "new l2 rpush l2 lpop l"},
        {"RPOPLPUSH l l", 1, "lpush l rpop l"},
        {"LTRIM l 5 10", 3, "ltrim l del l"},
        {"RPOPLPUSH l2 l2", 1, "lpush l2 rpop l2"},
        {"RPOPLPUSH l2 l3", 1, "new l3 lpush l3 rpop l2 del l2"},
        {"LREM l3 0 a", 1, "lrem l3 del l3"},
        {"LPOP l3", 0, ""},
    };
    RUN_CASES(cases);
}

static void test_notify_hash_and_set_commands(void **state) {
    (void)state;
    static const case_t cases[] = {
        {"HSET h f1 v1 f2 v2", 2, "new h hset h"},
        {"HSET h f1 v1", 1, "hset h"}, /* as Redis: every pair counts, changed or not */
        {"HSETNX h f1 x", 0, ""},
        {"HSETNX h f3 x", 1, "hset h"},
        {"HINCRBY h n 2", 1, "hincrby h"},
        {"HINCRBYFLOAT h n 0.5", 1, "hincrbyfloat h"},
        {"HDEL h nofield", 0, ""},
        {"HDEL h f1 f2 nofield", 2, "hdel h"},
        {"HDEL h f3 n", 2, "hdel h del h"},
        {"SADD s a b c", 3, "new s sadd s"},
        {"SADD s a", 0, ""},
        {"SREM s nomember", 0, ""},
        {"SREM s a", 1, "srem s"},
        {"SMOVE s s2 b", 2, "srem s new s2 sadd s2"},
        {"SMOVE s s2 c", 2, "srem s del s sadd s2"},
        {"SADD s3 c", 1, "new s3 sadd s3"},
        {"SMOVE s3 s2 c", 1, "srem s3 del s3"}, /* already a member of s2 */
        {"SPOP s2 0", 0, ""},
        {"SPOP s2 5", 2, "spop s2 del s2"},
        {"SADD one x", 1, "new one sadd one"},
        {"SPOP one", 1, "spop one del one"},
        {"SADD i1 a b", 2, "new i1 sadd i1"},
        {"SADD i2 b c", 2, "new i2 sadd i2"},
        {"SINTERSTORE d i1 i2", 1, "new d sinterstore d"},
        {"SUNIONSTORE d i1 i2", 1, "sunionstore d"},
        {"SDIFFSTORE d i1 i2", 1, "sdiffstore d"},
        {"SDIFFSTORE d i1 i1", 1, "del d"},
        {"SINTERSTORE d i1 nokey", 0, "keymiss nokey"},
    };
    RUN_CASES(cases);
}

static void test_notify_zset_and_store_commands(void **state) {
    (void)state;
    static const case_t cases[] = {
        {"ZADD z 1 a 2 b", 2, "new z zadd z"},
        {"ZADD z 1 a", 0, ""},
        {"ZADD z XX CH 5 a", 1, "zadd z"},
        {"ZADD z INCR 1 a", 1, "zincr z"},
        {"ZINCRBY z 1 b", 1, "zincr z"},
        {"ZADD noz XX 1 a", 0, ""},
        {"ZREM z nomember", 0, ""},
        {"ZADD z 3 c 4 d", 2, "zadd z"},
        {"ZREMRANGEBYRANK z 0 0", 1, "zremrangebyrank z"},
        {"ZREMRANGEBYSCORE z 100 200", 0, ""},
        {"ZREMRANGEBYSCORE z 4 4", 1, "zremrangebyscore z"},
        {"ZPOPMIN z", 1, "zpopmin z"},
        {"ZPOPMAX z 9", 1, "zpopmax z del z"},
        {"ZADD zl 0 a 0 b", 2, "new zl zadd zl"},
        {"ZREMRANGEBYLEX zl - +", 2, "zremrangebylex zl del zl"},
        {"ZADD z1 1 a 2 b", 2, "new z1 zadd z1"},
        {"ZADD z2 2 b", 1, "new z2 zadd z2"},
        {"ZUNIONSTORE zd 2 z1 z2", 1, "new zd zunionstore zd"},
        {"ZINTERSTORE zd 2 z1 z2", 1, "zinterstore zd"},
        {"ZDIFFSTORE zd 2 z1 z2", 1, "zdiffstore zd"},
        {"ZRANGESTORE zr z1 0 -1", 1, "new zr zrangestore zr"},
        {"ZRANGESTORE zr z1 5 9", 1, "del zr"},
        {"ZDIFFSTORE zd 2 z1 z1", 1, "del zd"},
        {"RPUSH sl 2 1", 2, "new sl rpush sl"},
        {"SORT sl STORE so", 2, "new so sortstore so"},
        {"SORT nokey STORE so", 1, "keymiss nokey del so"},
        {"GEOADD g 13.36 38.11 p1 15.08 37.50 p2", 2, "new g zadd g"},
        {"GEORADIUS g 15 37 200 km STORE gs", 2, "new gs georadiusstore gs"},
        {"GEOSEARCHSTORE gs g FROMLONLAT 15 37 BYRADIUS 1 m", 1, "del gs"},
        {"GEOSEARCHSTORE gs g FROMLONLAT 15 37 BYRADIUS 100 km", 1, "new gs geosearchstore gs"},
    };
    RUN_CASES(cases);
}

/* --- Expiry, databases --- */

/* Gives key a TTL that ended long ago (1 ms after the epoch), without a command. */
static void expire_in_the_past(const char *key) {
    kv_obj_t *o = kv_ht_find(client->db->keys, key, strlen(key));
    assert_non_null(o);
    assert_non_null(kv_db_set_expire(client->db, o, 1));
}

static void test_notify_lazy_expiry_signals_expired_then_the_command(void **state) {
    (void)state;
    run(client, "MSET e1 v e2 v e3 v");
    expire_in_the_past("e1");
    expire_in_the_past("e2");
    expire_in_the_past("e3");
    clear_recorded();
    static const case_t cases[] = {
        {"GET e1", 0, "expired e1 keymiss e1"},
        {"SET e2 w", 1, "expired e2 new e2 set e2"},
        {"SET e3 w KEEPTTL", 1, "expired e3 new e3 set e3"},
        {"TTL e3", 0, ""},
    };
    RUN_CASES(cases);
    feed(client, "*2\r\n$3\r\nTTL\r\n$2\r\ne3\r\n");
    assert_output(client, ":-1\r\n"); /* the expired key's TTL did not carry over */
    assert_int_equal(kv_db_size(client->db), 2);
}

static void test_notify_active_expiry_signals_expired(void **state) {
    (void)state;
    run(client, "MSET a v b v");
    expire_in_the_past("a");
    expire_in_the_past("b");
    clear_recorded();
    kv_srv.active_expire_enabled = true;
    long long dirty = kv_srv.dirty;
    for (int i = 0; i < 100 && kv_db_size(client->db) > 0; i++)
        kv_expire_cycle_slow(&kv_srv);
    assert_int_equal(kv_db_size(client->db), 0);
    assert_int_equal(kv_srv.dirty, dirty); /* as Redis: expiry is not a change of its own */
    assert_true(strcmp(recorded, "__keyevent@0__:expired|a;__keyevent@0__:expired|b;") == 0 ||
                strcmp(recorded, "__keyevent@0__:expired|b;__keyevent@0__:expired|a;") == 0);
}

static void test_notify_flush_and_swapdb_count_keys_without_events(void **state) {
    (void)state;
    run(client, "MSET a 1 b 2 c 3");
    run(client, "SELECT 1");
    run(client, "SET d 4");
    clear_recorded();
    assert_int_equal(run(client, "SWAPDB 0 1"), 1);
    assert_int_equal(run(client, "SWAPDB 2 2"), 1);
    assert_int_equal(run(client, "FLUSHDB"), 3); /* db 1 now holds a, b, c */
    assert_int_equal(run(client, "FLUSHDB"), 0);
    assert_int_equal(run(client, "FLUSHALL"), 1);
    assert_int_equal(run(client, "FLUSHALL"), 0);
    assert_int_equal(nrecorded, 0);
}

static void test_notify_loaded_keys_are_added_without_new_event(void **state) {
    (void)state;
    kv_obj_t *loaded = kv_obj_new_string("loaded", 6, "v", 1, -1);
    kv_obj_t *added = kv_obj_new_string("added", 5, "v", 1, -1);
    assert_non_null(loaded);
    assert_non_null(added);
    assert_int_equal(kv_db_add_loaded(client->db, loaded), 0);
    assert_int_equal(nrecorded, 0);
    assert_int_equal(kv_db_add(client->db, added), 0);
    assert_string_equal(recorded, "__keyevent@0__:new|added;");
    assert_int_equal(kv_db_size(client->db), 2);
}

static void test_notify_errors_change_nothing(void **state) {
    (void)state;
    run(client, "SET str v");
    clear_recorded();
    static const case_t cases[] = {
        {"LPUSH str a", 0, ""},  {"HSET str f v", 0, ""},   {"SADD str a", 0, ""},
        {"ZADD str 1 a", 0, ""}, {"INCR str", 0, ""},       {"SETBIT str -1 1", 0, ""},
        {"EXPIRE str x", 0, ""}, {"RENAME nokey x", 0, ""},
    };
    RUN_CASES(cases);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_notify_flags_parse_to_redis_canonical_text, reset),
        cmocka_unit_test_setup(test_notify_config_set_get_and_error_text, reset),
        cmocka_unit_test_setup(test_notify_off_publishes_nothing_but_counts_changes, reset),
        cmocka_unit_test_setup(test_notify_keyspace_and_keyevent_channels_name_db_key_and_event,
                               reset),
        cmocka_unit_test_setup(test_notify_publishes_only_the_configured_classes, reset),
        cmocka_unit_test_setup(test_notify_string_commands, reset),
        cmocka_unit_test_setup(test_notify_keyspace_commands, reset),
        cmocka_unit_test_setup(test_notify_list_commands, reset),
        cmocka_unit_test_setup(test_notify_hash_and_set_commands, reset),
        cmocka_unit_test_setup(test_notify_zset_and_store_commands, reset),
        cmocka_unit_test_setup(test_notify_lazy_expiry_signals_expired_then_the_command, reset),
        cmocka_unit_test_setup(test_notify_active_expiry_signals_expired, reset),
        cmocka_unit_test_setup(test_notify_flush_and_swapdb_count_keys_without_events, reset),
        cmocka_unit_test_setup(test_notify_loaded_keys_are_added_without_new_event, reset),
        cmocka_unit_test_setup(test_notify_errors_change_nothing, reset),
    };
    return cmocka_run_group_tests_name("kv_notify", tests, setup, teardown);
}
