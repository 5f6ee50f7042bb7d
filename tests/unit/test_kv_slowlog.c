/* SPDX-License-Identifier: MIT */
/*
 * test_kv_slowlog.c - the slow log (slowlog.c): the threshold (-1 off, 0 every call),
 * an entry's fields in SLOWLOG GET's reply, arguments cut to 32 and to 128 bytes,
 * passwords of AUTH, HELLO and CONFIG SET redacted, slowlog-max-len dropping the oldest,
 * RESET, KV_CMD_SKIP_SLOWLOG, GET's count and its errors, and a command run through the
 * real dispatcher landing in the log.
 */
#include "test_common.h"

#include <stdio.h>

#include "kv_internal.h"
#include "kv_client_test.h"

static kv_cmd_t plain_cmd = {"plain", NULL, -1, 0, 0, 0, 0, "server", "slow", "", ""};
static kv_cmd_t skip_cmd = {"skip", NULL, -1, KV_CMD_SKIP_SLOWLOG, 0, 0, 0, "server",
                            "slow", "",   ""};

static kv_client_t *client_new(void) {
    kv_client_t *c = kv_client_new(-1);
    assert_non_null(c);
    snprintf(c->addr, sizeof(c->addr), "1.2.3.4:5");
    return c;
}

/* Records a call of the space-separated words of line that took usec. */
static void record(kv_client_t *c, const kv_cmd_t *cmd, const char *line, uint64_t usec) {
    char words[2048];
    kv_arg_t argv[64];
    int argc = 0;
    snprintf(words, sizeof(words), "%s", line);
    for (char *save = NULL, *w = strtok_r(words, " ", &save); w; w = strtok_r(NULL, " ", &save))
        argv[argc++] = (kv_arg_t){w, strlen(w)};
    int saved_argc = c->argc;
    kv_arg_t *saved_argv = c->argv;
    c->argc = argc;
    c->argv = argv;
    kv_slowlog_record(c, cmd, usec);
    c->argc = saved_argc;
    c->argv = saved_argv;
}

/* The reply to `line` must contain want. */
static void expect_contains(kv_client_t *c, const char *line, const char *want) {
    feed_words(c, line);
    char *out = take_output(c);
    if (strstr(out, want) == NULL) fail_msg("%s: %s lacks %s", line, out, want);
    free(out);
}

static void expect(kv_client_t *c, const char *line, const char *reply) {
    feed_words(c, line);
    assert_output(c, reply);
}

static int reset_log(void **state) {
    (void)state;
    kv_slowlog_reset();
    kv_srv.cfg.slowlog_log_slower_than = 10000;
    kv_srv.cfg.slowlog_max_len = 128;
    return 0;
}

static void test_slowlog_threshold_decides_what_is_logged(void **state) {
    (void)state;
    kv_client_t *c = client_new();
    kv_srv.cfg.slowlog_log_slower_than = -1;
    record(c, &plain_cmd, "set k v", 1000000);
    assert_int_equal(kv_slowlog_len(), 0);
    kv_srv.cfg.slowlog_log_slower_than = 1000;
    record(c, &plain_cmd, "set k v", 999);
    assert_int_equal(kv_slowlog_len(), 0);
    record(c, &plain_cmd, "set k v", 1000);
    assert_int_equal(kv_slowlog_len(), 1);
    kv_srv.cfg.slowlog_log_slower_than = 0;
    record(c, &plain_cmd, "get k", 0);
    assert_int_equal(kv_slowlog_len(), 2);
    record(c, &skip_cmd, "exec", 5000);
    assert_int_equal(kv_slowlog_len(), 2);
    kv_client_free(c);
}

static void test_slowlog_entry_fields_newest_first(void **state) {
    (void)state;
    kv_client_t *c = client_new();
    kv_srv.cfg.slowlog_log_slower_than = 0;
    record(c, &plain_cmd, "set k v", 1234);
    c->name = strdup("cli");
    record(c, &plain_cmd, "get k", 77);
    kv_srv.cfg.slowlog_log_slower_than = -1; /* SLOWLOG GET itself stays out */
    feed_words(c, "SLOWLOG GET");
    char *out = take_output(c);
    assert_memory_equal(out, "*2\r\n*6\r\n:", 9);
    const char *get =
        strstr(out, ":77\r\n*2\r\n$3\r\nget\r\n$1\r\nk\r\n$9\r\n1.2.3.4:5\r\n$3\r\ncli\r\n");
    const char *set = strstr(out, ":1234\r\n*3\r\n$3\r\nset\r\n$1\r\nk\r\n$1\r\nv\r\n"
                                  "$9\r\n1.2.3.4:5\r\n$0\r\n\r\n");
    assert_non_null(get);
    assert_non_null(set);
    assert_true(get < set);
    /* ids grow: the newer entry's id is the older one's plus one */
    long long id_new = 0, id_old = 0;
    assert_int_equal(sscanf(out, "*2\r\n*6\r\n:%lld", &id_new), 1);
    const char *second = strstr(out + 9, "*6\r\n:");
    assert_non_null(second);
    assert_int_equal(sscanf(second, "*6\r\n:%lld", &id_old), 1);
    assert_int_equal(id_new, id_old + 1);
    free(out);
    kv_client_free(c);
}

static void test_slowlog_cuts_arguments_as_redis(void **state) {
    (void)state;
    kv_client_t *c = client_new();
    kv_srv.cfg.slowlog_log_slower_than = 0;
    char line[2048] = "rpush l";
    for (int i = 1; i <= 40; i++)
        snprintf(line + strlen(line), sizeof(line) - strlen(line), " %d", i);
    record(c, &plain_cmd, line, 1);
    char big[300];
    memset(big, 'a', 200);
    big[200] = '\0';
    snprintf(line, sizeof(line), "set k %s", big);
    record(c, &plain_cmd, line, 1);
    kv_srv.cfg.slowlog_log_slower_than = -1;
    expect_contains(c, "SLOWLOG GET 2", "*32\r\n$5\r\nrpush\r\n$1\r\nl\r\n$1\r\n1\r\n");
    expect_contains(c, "SLOWLOG GET 2", "$2\r\n29\r\n$23\r\n... (11 more arguments)\r\n$9\r\n");
    char want[400];
    memset(big, 'a', 128);
    big[128] = '\0';
    snprintf(want, sizeof(want), "*3\r\n$3\r\nset\r\n$1\r\nk\r\n$147\r\n%s... (72 more bytes)\r\n",
             big);
    expect_contains(c, "SLOWLOG GET 1", want);
    kv_client_free(c);
}

static void test_slowlog_redacts_passwords(void **state) {
    (void)state;
    kv_client_t *c = client_new();
    kv_srv.cfg.slowlog_log_slower_than = 0;
    record(c, &plain_cmd, "auth user secret", 1);
    kv_srv.cfg.slowlog_log_slower_than = -1;
    expect_contains(c, "SLOWLOG GET 1",
                    "*3\r\n$4\r\nauth\r\n$10\r\n(redacted)\r\n$10\r\n(redacted)\r\n");
    kv_srv.cfg.slowlog_log_slower_than = 0;
    record(c, &plain_cmd, "hello 3 setname n auth user secret", 1);
    kv_srv.cfg.slowlog_log_slower_than = -1;
    expect_contains(c, "SLOWLOG GET 1",
                    "$7\r\nsetname\r\n$1\r\nn\r\n$4\r\nauth\r\n$10\r\n(redacted)\r\n$10\r\n("
                    "redacted)\r\n");
    kv_srv.cfg.slowlog_log_slower_than = 0;
    record(c, &plain_cmd, "config set maxmemory 0 requirepass secret", 1);
    kv_srv.cfg.slowlog_log_slower_than = -1;
    expect_contains(c, "SLOWLOG GET 1",
                    "$9\r\nmaxmemory\r\n$1\r\n0\r\n$11\r\nrequirepass\r\n$10\r\n(redacted)\r\n");
    kv_srv.cfg.slowlog_log_slower_than = 0;
    record(c, &plain_cmd, "set auth secret", 1);
    kv_srv.cfg.slowlog_log_slower_than = -1;
    expect_contains(c, "SLOWLOG GET 1", "$4\r\nauth\r\n$6\r\nsecret\r\n");
    kv_client_free(c);
}

static void test_slowlog_max_len_reset_and_get_count(void **state) {
    (void)state;
    kv_client_t *c = client_new();
    kv_srv.cfg.slowlog_log_slower_than = 0;
    kv_srv.cfg.slowlog_max_len = 3;
    for (int i = 0; i < 5; i++)
        record(c, &plain_cmd, "ping", (uint64_t)i);
    assert_int_equal(kv_slowlog_len(), 3);
    kv_srv.cfg.slowlog_log_slower_than = -1;
    expect(c, "SLOWLOG LEN", ":3\r\n");
    expect_contains(c, "SLOWLOG GET -1", "*3\r\n*6\r\n");
    expect_contains(c, "SLOWLOG GET 100", "*3\r\n*6\r\n");
    expect(c, "SLOWLOG GET 0", "*0\r\n");
    expect(c, "SLOWLOG GET -2", "-ERR count should be greater than or equal to -1\r\n");
    expect(c, "SLOWLOG GET x", "-ERR count should be greater than or equal to -1\r\n");
    expect(c, "SLOWLOG GET 1 2",
           "-ERR unknown subcommand or wrong number of arguments for 'GET'. Try SLOWLOG "
           "HELP.\r\n");
    /* the oldest kept entry is the third call (duration 2) */
    expect_contains(c, "SLOWLOG GET -1", ":2\r\n*1\r\n$4\r\nping\r\n");
    kv_srv.cfg.slowlog_max_len = 0;
    kv_srv.cfg.slowlog_log_slower_than = 0;
    record(c, &plain_cmd, "ping", 1);
    assert_int_equal(kv_slowlog_len(), 0);
    kv_srv.cfg.slowlog_max_len = 128;
    record(c, &plain_cmd, "ping", 1);
    kv_srv.cfg.slowlog_log_slower_than = -1;
    expect(c, "SLOWLOG RESET", "+OK\r\n");
    expect(c, "SLOWLOG LEN", ":0\r\n");
    expect(c, "SLOWLOG GET", "*0\r\n");
    kv_client_free(c);
}

static void test_slowlog_through_the_dispatcher(void **state) {
    (void)state;
    kv_client_t *c = client_new();
    expect(c, "CONFIG SET slowlog-log-slower-than 0", "+OK\r\n");
    expect(c, "SET key value", "+OK\r\n");
    expect(c, "MULTI", "+OK\r\n");
    expect(c, "INCR n", "+QUEUED\r\n");
    expect(c, "EXEC", "*1\r\n:1\r\n");
    /* EXEC is not logged, its queued INCR is; MULTI is */
    expect_contains(c, "SLOWLOG GET 1", "*2\r\n$4\r\nINCR\r\n$1\r\nn\r\n");
    expect_contains(c, "SLOWLOG GET 4", "*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n");
    feed_words(c, "SLOWLOG GET -1");
    char *out = take_output(c);
    assert_null(strstr(out, "$4\r\nEXEC\r\n"));
    assert_non_null(strstr(out, "$5\r\nMULTI\r\n"));
    free(out);
    expect(c, "CONFIG SET slowlog-log-slower-than -1", "+OK\r\n");
    kv_client_free(c);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_slowlog_threshold_decides_what_is_logged, reset_log),
        cmocka_unit_test_setup(test_slowlog_entry_fields_newest_first, reset_log),
        cmocka_unit_test_setup(test_slowlog_cuts_arguments_as_redis, reset_log),
        cmocka_unit_test_setup(test_slowlog_redacts_passwords, reset_log),
        cmocka_unit_test_setup(test_slowlog_max_len_reset_and_get_count, reset_log),
        cmocka_unit_test_setup(test_slowlog_through_the_dispatcher, reset_log),
    };
    int rc = cmocka_run_group_tests_name("kv_slowlog", tests, kv_server_setup, kv_server_teardown);
    kv_slowlog_reset();
    return rc;
}
