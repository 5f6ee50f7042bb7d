/* SPDX-License-Identifier: MIT */
/*
 * test_kv_multi.c - transactions (multi.c) through the real dispatcher: queued replies
 * and EXEC's array, arguments copied out of the query buffer, EXECABORT after a queuing
 * error, a nested MULTI (Redis 7.2) and for a refused EXEC, commands refused inside MULTI, WATCH
 * failed by a change from another client, by FLUSHDB/FLUSHALL and SWAPDB only when the key exists,
 * by a key expiring before EXEC but not by the deletion of a key already expired when watched; the
 * watch counters, CLIENT LIST's multi fields and a freed client leaving nothing. kv_multi_check
 * runs after every command.
 */
#include "test_common.h"

#include <stdio.h>

#include "kv_internal.h"
#include "kv_client_test.h"

/* Runs line and asserts its reply, then the invariants (the index, c's state). */
static void expect(kv_client_t *c, const char *line, const char *reply) {
    feed_words(c, line);
    assert_output(c, reply);
    assert_int_equal(kv_multi_check(c), 0);
}

static kv_client_t *client_new(void) {
    kv_client_t *c = kv_client_new(-1);
    assert_non_null(c);
    return c;
}

static int flush_all(void **state) {
    (void)state;
    for (int i = 0; i < kv_srv.ndbs; i++)
        kv_db_flush(&kv_srv.dbs[i]);
    kv_srv.cfg.maxmemory = 0;
    return 0;
}

static void test_multi_queues_commands_and_exec_replies_in_order(void **state) {
    (void)state;
    kv_client_t *c = client_new();
    expect(c, "MULTI", "+OK\r\n");
    expect(c, "SET k v", "+QUEUED\r\n");
    expect(c, "GET k", "+QUEUED\r\n");
    expect(c, "INCR k", "+QUEUED\r\n");
    assert_int_equal(kv_multi_queued_count(c), 3);
    assert_null(kv_db_lookup(c->db, "k", 1, KV_LOOKUP_NOSTATS)); /* nothing ran yet */
    expect(c, "EXEC", "*3\r\n+OK\r\n$1\r\nv\r\n-ERR value is not an integer or out of range\r\n");
    assert_int_equal(kv_multi_queued_count(c), -1);
    assert_false(c->flags & (KV_CLIENT_MULTI | KV_CLIENT_EXEC));
    assert_null(c->multi); /* nothing kept after the transaction */
    expect(c, "EXEC", "-ERR EXEC without MULTI\r\n");
    expect(c, "DISCARD", "-ERR DISCARD without MULTI\r\n");
    kv_client_free(c);
}

static void test_multi_queued_arguments_survive_the_query_buffer(void **state) {
    (void)state;
    kv_client_t *c = client_new();
    expect(c, "MULTI", "+OK\r\n");
    /* Each command reuses the start of the query buffer: the queue must hold copies. */
    expect(c, "SET first aaaaaaaa", "+QUEUED\r\n");
    expect(c, "SET second bbbbbbbb", "+QUEUED\r\n");
    expect(c, "MGET first second", "+QUEUED\r\n");
    assert_true(kv_multi_mem(c) > 0);
    expect(c, "EXEC", "*3\r\n+OK\r\n+OK\r\n*2\r\n$8\r\naaaaaaaa\r\n$8\r\nbbbbbbbb\r\n");
    assert_int_equal(kv_multi_mem(c), 0);
    kv_client_free(c);
}

static void test_multi_watch_inside_does_not_abort(void **state) {
    (void)state;
    kv_client_t *c = client_new();
    expect(c, "MULTI", "+OK\r\n");
    expect(c, "WATCH k", "-ERR WATCH inside MULTI is not allowed\r\n");
    expect(c, "PING", "+QUEUED\r\n");
    expect(c, "EXEC", "*1\r\n+PONG\r\n");
    kv_client_free(c);
}

/* Redis 7.2: MULTI is a no-multi command, so a nested one is refused (a rejected call) and
 * aborts the transaction; nothing queued runs. */
static void test_multi_nested_multi_aborts_exec(void **state) {
    (void)state;
    kv_client_t *c = client_new();
    kv_cmd_t *multi = kv_cmd_lookup("multi", 5);
    uint64_t rejected = multi->rejected_calls;
    expect(c, "MULTI", "+OK\r\n");
    expect(c, "SET k v", "+QUEUED\r\n");
    expect(c, "MULTI", "-ERR Command not allowed inside a transaction\r\n");
    assert_int_equal(multi->rejected_calls, rejected + 1);
    expect(c, "PING", "+QUEUED\r\n");
    expect(c, "EXEC", "-EXECABORT Transaction discarded because of previous errors.\r\n");
    expect(c, "EXISTS k", ":0\r\n");
    expect(c, "MULTI", "+OK\r\n"); /* the client left MULTI */
    expect(c, "EXEC", "*0\r\n");
    kv_client_free(c);
}

static void test_multi_queuing_errors_abort_exec(void **state) {
    (void)state;
    const char *bad[] = {"NOSUCH a b", "SET k", "CONFIG NOSUCH", "SHUTDOWN NOSAVE"};
    const char *err[] = {
        "-ERR unknown command 'NOSUCH', with args beginning with: 'a' 'b' \r\n",
        "-ERR wrong number of arguments for 'set' command\r\n",
        "-ERR unknown subcommand 'NOSUCH'. Try CONFIG HELP.\r\n",
        "-ERR Command not allowed inside a transaction\r\n",
    };
    kv_client_t *c = client_new();
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        expect(c, "MULTI", "+OK\r\n");
        expect(c, "SET k aborted", "+QUEUED\r\n");
        expect(c, bad[i], err[i]);
        assert_true(c->flags & KV_CLIENT_DIRTY_EXEC);
        expect(c, "SET k later", "+QUEUED\r\n");
        assert_int_equal(kv_multi_queued_count(c), 0); /* an aborted queue keeps nothing */
        expect(c, "EXEC", "-EXECABORT Transaction discarded because of previous errors.\r\n");
        assert_null(kv_db_lookup(c->db, "k", 1, KV_LOOKUP_NOSTATS));
    }
    kv_client_free(c);
}

static void test_multi_refused_exec_aborts_with_its_reason(void **state) {
    (void)state;
    kv_client_t *c = client_new();
    expect(c, "MULTI", "+OK\r\n");
    expect(c, "SET k v", "+QUEUED\r\n");
    expect(c, "EXEC foo",
           "-EXECABORT Transaction discarded because of: wrong number of arguments for "
           "'exec' command\r\n");
    assert_false(c->flags & KV_CLIENT_MULTI);
    expect(c, "EXEC", "-ERR EXEC without MULTI\r\n");
    /* As Redis, also outside MULTI. */
    expect(c, "EXEC foo",
           "-EXECABORT Transaction discarded because of: wrong number of arguments for "
           "'exec' command\r\n");
    assert_null(kv_db_lookup(c->db, "k", 1, KV_LOOKUP_NOSTATS));
    kv_client_free(c);
}

static void test_multi_discard_drops_queue_and_watches(void **state) {
    (void)state;
    kv_client_t *c = client_new();
    expect(c, "WATCH a b", "+OK\r\n");
    expect(c, "MULTI", "+OK\r\n");
    expect(c, "SET k v", "+QUEUED\r\n");
    assert_int_equal(kv_multi_watched_keys(), 2);
    expect(c, "DISCARD", "+OK\r\n");
    assert_int_equal(kv_multi_watched_keys(), 0);
    assert_int_equal(kv_multi_watching_clients(), 0);
    assert_null(c->multi);
    assert_null(kv_db_lookup(c->db, "k", 1, KV_LOOKUP_NOSTATS));
    kv_client_free(c);
}

static void test_watch_fails_exec_when_another_client_changes_the_key(void **state) {
    (void)state;
    kv_client_t *c = client_new(), *other = client_new();
    expect(c, "SET w 1", "+OK\r\n");
    expect(c, "WATCH w", "+OK\r\n");
    expect(other, "GET w", "$1\r\n1\r\n"); /* reading changes nothing */
    expect(c, "MULTI", "+OK\r\n");
    expect(c, "INCR w", "+QUEUED\r\n");
    expect(c, "EXEC", "*1\r\n:2\r\n");

    expect(c, "WATCH w", "+OK\r\n");
    expect(c, "MULTI", "+OK\r\n");
    expect(c, "INCR w", "+QUEUED\r\n");
    kv_signal_modified_key(other, other->db, "w", 1); /* what every write command signals */
    assert_int_equal(kv_multi_check(c), 0);
    assert_true(c->flags & KV_CLIENT_DIRTY_CAS);
    assert_int_equal(kv_multi_queued_count(c), 0);
    assert_int_equal(kv_multi_watched_keys(), 0); /* a dirty client drops its watches */
    expect(c, "INCR w", "+QUEUED\r\n");
    expect(c, "EXEC", "*-1\r\n");
    expect(c, "GET w", "$1\r\n2\r\n");
    assert_false(c->flags & KV_CLIENT_DIRTY_CAS);
    kv_client_free(c);
    kv_client_free(other);
}

static void test_watch_remembers_the_db_of_the_key(void **state) {
    (void)state;
    kv_client_t *c = client_new();
    expect(c, "SELECT 1", "+OK\r\n");
    expect(c, "WATCH w", "+OK\r\n");
    expect(c, "SELECT 0", "+OK\r\n");
    kv_signal_modified_key(NULL, kv_db_get(0), "w", 1);
    assert_false(c->flags & KV_CLIENT_DIRTY_CAS);
    kv_signal_modified_key(NULL, kv_db_get(1), "w", 1);
    assert_true(c->flags & KV_CLIENT_DIRTY_CAS);
    expect(c, "UNWATCH", "+OK\r\n");
    assert_false(c->flags & KV_CLIENT_DIRTY_CAS);
    kv_client_free(c);
}

static void test_watch_flush_fails_exec_only_for_existing_keys(void **state) {
    (void)state;
    kv_client_t *c = client_new(), *other = client_new();
    expect(c, "WATCH nokey", "+OK\r\n");
    expect(other, "FLUSHALL", "+OK\r\n");
    expect(c, "MULTI", "+OK\r\n");
    expect(c, "PING", "+QUEUED\r\n");
    expect(c, "EXEC", "*1\r\n+PONG\r\n");

    expect(c, "SET w 1", "+OK\r\n");
    expect(c, "WATCH w", "+OK\r\n");
    expect(other, "SELECT 1", "+OK\r\n");
    expect(other, "FLUSHDB", "+OK\r\n"); /* another db */
    assert_false(c->flags & KV_CLIENT_DIRTY_CAS);
    expect(other, "SELECT 0", "+OK\r\n");
    expect(other, "FLUSHDB", "+OK\r\n");
    assert_true(c->flags & KV_CLIENT_DIRTY_CAS);
    expect(c, "MULTI", "+OK\r\n");
    expect(c, "EXEC", "*-1\r\n");
    kv_client_free(c);
    kv_client_free(other);
}

static void test_watch_swapdb_fails_exec_when_the_key_exists_on_either_side(void **state) {
    (void)state;
    kv_client_t *c = client_new(), *other = client_new();
    expect(c, "SET x 1", "+OK\r\n");
    expect(c, "WATCH k", "+OK\r\n");
    expect(other, "SWAPDB 0 1", "+OK\r\n"); /* k in neither db */
    assert_false(c->flags & KV_CLIENT_DIRTY_CAS);
    expect(other, "SELECT 1", "+OK\r\n");
    expect(other, "SET k v", "+OK\r\n");
    assert_false(c->flags & KV_CLIENT_DIRTY_CAS); /* db 1's k is not the watched one */
    expect(other, "SWAPDB 1 0", "+OK\r\n");       /* k comes into db 0 */
    assert_true(c->flags & KV_CLIENT_DIRTY_CAS);
    expect(c, "MULTI", "+OK\r\n");
    expect(c, "EXEC", "*-1\r\n");
    kv_client_free(c);
    kv_client_free(other);
}

/* Stores key in db 0 with a TTL already in the past (as a key not yet reclaimed). */
static void add_expired_key(const char *key) {
    kv_obj_t *o = kv_obj_new_string(key, strlen(key), "v", 1, kv_mstime() - 1000);
    assert_non_null(o);
    assert_int_equal(kv_db_add(kv_db_get(0), o), 0);
}

static void test_watch_expiry_rules_follow_redis_7_0(void **state) {
    (void)state;
    kv_client_t *c = client_new();
    /* A key alive when watched that expires before EXEC fails it. */
    kv_obj_t *o = kv_obj_new_string("t", 1, "v", 1, kv_mstime() + 100000);
    assert_non_null(o);
    assert_int_equal(kv_db_add(c->db, o), 0);
    expect(c, "WATCH t", "+OK\r\n");
    o = kv_ht_find(c->db->keys, "t", 1);
    assert_non_null(kv_db_set_expire(c->db, o, kv_mstime() - 1));
    expect(c, "MULTI", "+OK\r\n");
    expect(c, "EXEC", "*-1\r\n");
    kv_db_flush(c->db);

    /* Already expired when watched: its deletion is no change. */
    add_expired_key("t");
    expect(c, "WATCH t", "+OK\r\n");
    kv_db_delete(c->db, "t", 1);
    kv_signal_modified_key(NULL, c->db, "t", 1);
    assert_false(c->flags & KV_CLIENT_DIRTY_CAS);
    expect(c, "MULTI", "+OK\r\n");
    expect(c, "EXEC", "*0\r\n");

    /* ... nor is FLUSHALL taking it away ... */
    add_expired_key("t");
    expect(c, "WATCH t", "+OK\r\n");
    kv_db_flush(c->db);
    assert_false(c->flags & KV_CLIENT_DIRTY_CAS);
    expect(c, "UNWATCH", "+OK\r\n");

    /* ... but writing a new value is. */
    add_expired_key("t");
    expect(c, "WATCH t", "+OK\r\n");
    expect(c, "SET t new", "+OK\r\n");
    kv_signal_modified_key(c, c->db, "t", 1);
    assert_true(c->flags & KV_CLIENT_DIRTY_CAS);
    expect(c, "MULTI", "+OK\r\n");
    expect(c, "EXEC", "*-1\r\n");
    kv_client_free(c);
}

static void test_watch_counters_and_client_free_leave_nothing(void **state) {
    (void)state;
    kv_client_t *a = client_new(), *b = client_new();
    expect(a, "WATCH k1 k2 k1", "+OK\r\n");
    expect(b, "WATCH k2 k3", "+OK\r\n");
    assert_int_equal(kv_multi_watching_clients(), 2);
    assert_int_equal(kv_multi_watched_keys(), 3);
    expect(a, "MULTI", "+OK\r\n");
    expect(a, "SET k v", "+QUEUED\r\n");
    char *line = kv_client_info_line(a);
    assert_non_null(line);
    assert_non_null(strstr(line, " flags=x "));
    assert_non_null(strstr(line, " multi=1 "));
    assert_null(strstr(line, " multi-mem=0 "));
    free(line);
    kv_client_free(a); /* disconnecting inside MULTI, with watches */
    assert_int_equal(kv_multi_check(b), 0);
    assert_int_equal(kv_multi_watching_clients(), 1);
    assert_int_equal(kv_multi_watched_keys(), 2);
    kv_signal_modified_key(NULL, kv_db_get(0), "k1", 2); /* nobody left to flag */
    kv_signal_modified_key(NULL, kv_db_get(0), "k3", 2);
    line = kv_client_info_line(b);
    assert_non_null(line);
    assert_non_null(strstr(line, " flags=d "));
    assert_non_null(strstr(line, " multi=-1 "));
    free(line);
    kv_client_free(b);
    assert_int_equal(kv_multi_check(NULL), 0);
    assert_int_equal(kv_multi_watching_clients(), 0);
    assert_int_equal(kv_multi_watched_keys(), 0);
}

static void test_multi_queue_counts_against_the_query_buffer_limit(void **state) {
    (void)state;
    kv_client_t *c = client_new();
    expect(c, "MULTI", "+OK\r\n");
    size_t before = kv_client_query_mem(c);
    for (int i = 0; i < 100; i++)
        expect(c, "SET somekey somevalue", "+QUEUED\r\n");
    /* At least the copied bytes of every argument. */
    assert_true(kv_client_query_mem(c) >= before + 100 * strlen("SETsomekeysomevalue"));
    expect(c, "DISCARD", "+OK\r\n");
    assert_int_equal(kv_multi_mem(c), 0);
    assert_int_equal(kv_client_query_mem(c), kv_req_mem(&c->req)); /* the parser's only */
    kv_client_free(c);
}

static void test_multi_over_maxmemory_refuses_queuing_but_not_exec(void **state) {
    (void)state;
    kv_client_t *c = client_new();
    expect(c, "MULTI", "+OK\r\n");
    expect(c, "SET k v", "+QUEUED\r\n");
    kv_srv.cfg.maxmemory = 1; /* noeviction: always over */
    expect(c, "EXEC",
           "-EXECABORT Transaction discarded because of: OOM command not allowed when used "
           "memory > 'maxmemory'.\r\n");
    expect(c, "MULTI", "+OK\r\n");
    expect(c, "GET k", "-OOM command not allowed when used memory > 'maxmemory'.\r\n");
    expect(c, "EXEC", "-EXECABORT Transaction discarded because of previous errors.\r\n");
    expect(c, "MULTI", "+OK\r\n");
    expect(c, "EXEC", "*0\r\n");
    expect(c, "MULTI", "+OK\r\n");
    expect(c, "DISCARD", "+OK\r\n");
    kv_srv.cfg.maxmemory = 0;
    assert_null(kv_db_lookup(c->db, "k", 1, KV_LOOKUP_NOSTATS));
    kv_client_free(c);
}

static void test_multi_exec_carries_the_write_flags_of_its_queue(void **state) {
    (void)state;
    kv_client_t *c = client_new();
    kv_cmd_t *exec = kv_cmd_lookup("exec", 4), *get = kv_cmd_lookup("get", 3);
    expect(c, "MULTI", "+OK\r\n");
    expect(c, "GET k", "+QUEUED\r\n");
    assert_false(kv_multi_cmd_flags(c, exec) & (KV_CMD_WRITE | KV_CMD_DENYOOM));
    expect(c, "SET k v", "+QUEUED\r\n");
    assert_true(kv_multi_cmd_flags(c, exec) & KV_CMD_WRITE); /* MISCONF, CLIENT PAUSE */
    assert_true(kv_multi_cmd_flags(c, exec) & KV_CMD_DENYOOM);
    assert_int_equal(kv_multi_cmd_flags(c, get), get->flags);
    expect(c, "DISCARD", "+OK\r\n");
    assert_int_equal(kv_multi_cmd_flags(c, exec), exec->flags);
    kv_client_free(c);
}

static void test_multi_refuses_a_protected_debug_at_queuing(void **state) {
    (void)state;
    kv_client_t *c = client_new();
    int saved = kv_srv.cfg.enable_debug_command;
    kv_srv.cfg.enable_debug_command = 0; /* "no": DEBUG is refused before it is queued */
    expect(c, "MULTI", "+OK\r\n");
    feed_words(c, "DEBUG SLEEP 0");
    char *out = take_output(c);
    assert_non_null(strstr(out, "-ERR DEBUG command not allowed."));
    free(out);
    expect(c, "EXEC", "-EXECABORT Transaction discarded because of previous errors.\r\n");
    kv_srv.cfg.enable_debug_command = saved;
    kv_client_free(c);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_multi_queues_commands_and_exec_replies_in_order, flush_all),
        cmocka_unit_test_setup(test_multi_queued_arguments_survive_the_query_buffer, flush_all),
        cmocka_unit_test_setup(test_multi_watch_inside_does_not_abort, flush_all),
        cmocka_unit_test_setup(test_multi_nested_multi_aborts_exec, flush_all),
        cmocka_unit_test_setup(test_multi_queuing_errors_abort_exec, flush_all),
        cmocka_unit_test_setup(test_multi_refused_exec_aborts_with_its_reason, flush_all),
        cmocka_unit_test_setup(test_multi_discard_drops_queue_and_watches, flush_all),
        cmocka_unit_test_setup(test_watch_fails_exec_when_another_client_changes_the_key,
                               flush_all),
        cmocka_unit_test_setup(test_watch_remembers_the_db_of_the_key, flush_all),
        cmocka_unit_test_setup(test_watch_flush_fails_exec_only_for_existing_keys, flush_all),
        cmocka_unit_test_setup(test_watch_swapdb_fails_exec_when_the_key_exists_on_either_side,
                               flush_all),
        cmocka_unit_test_setup(test_watch_expiry_rules_follow_redis_7_0, flush_all),
        cmocka_unit_test_setup(test_watch_counters_and_client_free_leave_nothing, flush_all),
        cmocka_unit_test_setup(test_multi_queue_counts_against_the_query_buffer_limit, flush_all),
        cmocka_unit_test_setup(test_multi_over_maxmemory_refuses_queuing_but_not_exec, flush_all),
        cmocka_unit_test_setup(test_multi_exec_carries_the_write_flags_of_its_queue, flush_all),
        cmocka_unit_test_setup(test_multi_refuses_a_protected_debug_at_queuing, flush_all),
    };
    return cmocka_run_group_tests_name("kv_multi", tests, kv_server_setup, kv_server_teardown);
}
