/* SPDX-License-Identifier: MIT */
/*
 * test_kv_aof.c - the append-only file's pieces without a server: the command parser
 * (complete, torn at every byte, corrupt), the manifest (parse, format, round trip, the
 * errors), the deterministic forms commands propagate as (kvcore/propagate.c: relative
 * expires become PEXPIREAT / SET PXAT, INCRBYFLOAT becomes SET KEEPTTL, ...), loading a
 * file (torn end with aof-load-truncated yes and no, corruption in the middle, an
 * unfinished MULTI) and a rewrite read back to the same dataset digest.
 */
#include "test_common.h"

#include "kv_internal.h"
#include "aof.h"
#include "rdb.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static kv_client_t *cl;
static char tmpdir[64];

static int setup(void **state) {
    (void)state;
    memset(&kv_srv, 0, sizeof(kv_srv));
    if (kv_config_defaults(&kv_srv.cfg) != 0) return -1;
    if (kv_db_init_all(&kv_srv) != 0) return -1;
    if (kv_cmd_init() != 0) return -1;
    cl = kv_client_new(-1);
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_kv_aof.%d", (int)getpid());
    if (cl == NULL || mkdir(tmpdir, 0700) != 0) return -1;
    return 0;
}

static int teardown(void **state) {
    (void)state;
    kv_client_free(cl);
    kv_db_free_all(&kv_srv);
    kv_config_fini(&kv_srv.cfg);
    rmdir(tmpdir);
    return 0;
}

static int reset(void **state) {
    (void)state;
    for (int i = 0; i < kv_srv.ndbs; i++)
        kv_db_flush(&kv_srv.dbs[i]);
    kv_srv.mstime = kv_mstime();
    kv_srv.cfg.aof_load_truncated = true;
    cl->db = kv_db_get(0);
    cl->dbid = 0;
    return 0;
}

/* --- helpers --- */

static kv_arg_t words[16];
static char line[512];

/* Splits s at spaces into words; returns the count. */
static int split(const char *s) {
    snprintf(line, sizeof(line), "%s", s);
    int n = 0;
    for (char *tok = strtok(line, " "); tok && n < 16; tok = strtok(NULL, " "))
        words[n++] = (kv_arg_t){tok, strlen(tok)};
    return n;
}

/* Runs a command through kv_cmd_call on the test client; returns its table row. */
static kv_cmd_t *run(const char *s) {
    int n = split(s);
    kv_cmd_t *cmd = kv_cmd_lookup_argv(words, n);
    assert_non_null(cmd);
    cl->argv = words;
    cl->argc = n;
    kv_cmd_call(cl, cmd);
    kv_reply_free_blocks(cl);
    cl->bufpos = cl->sentlen = 0;
    return cmd;
}

/* The form the last run() command propagates as, words joined by spaces ("" = as sent). */
static const char *form_of(kv_cmd_t *cmd) {
    static char out[512];
    kv_prop_form_t f;
    out[0] = '\0';
    if (!kv_propagate_form(cl, cmd, &f)) return out;
    size_t o = 0;
    for (int i = 0; i < f.argc; i++)
        o += (size_t)snprintf(out + o, sizeof(out) - o, "%s%.*s", i ? " " : "", (int)f.argv[i].len,
                              f.argv[i].ptr);
    return out;
}

static int64_t expire_of(const char *key) {
    kv_obj_t *o = kv_ht_find(kv_db_get(0)->keys, key, strlen(key));
    assert_non_null(o);
    return kv_obj_expire(o);
}

static void write_file(const char *path, const char *data, size_t len) {
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, len), (ssize_t)len);
    close(fd);
}

static long long size_of(const char *path) {
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return (long long)st.st_size;
}

static const char *str_value(const char *key) {
    static char ibuf[32];
    kv_obj_t *o = kv_ht_find(kv_db_get(0)->keys, key, strlen(key));
    if (o == NULL) return NULL;
    size_t len;
    const char *v = kv_obj_str(o, ibuf, &len);
    static char out[256];
    snprintf(out, sizeof(out), "%.*s", (int)len, v);
    return out;
}

/* --- The command parser --- */

static const char set_cmd[] = "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nhello\r\n";

static void test_aof_parse_reads_one_command(void **state) {
    (void)state;
    kv_arg_t argv[8];
    int argc;
    const char *err = NULL;
    ssize_t n = kv_aof_parse_command(set_cmd, sizeof(set_cmd) - 1, argv, 8, &argc, &err);
    assert_int_equal(n, (ssize_t)sizeof(set_cmd) - 1);
    assert_int_equal(argc, 3);
    assert_int_equal(argv[2].len, 5);
    assert_memory_equal(argv[2].ptr, "hello", 5);
}

static void test_aof_parse_every_prefix_is_incomplete(void **state) {
    (void)state;
    kv_arg_t argv[8];
    int argc;
    const char *err = NULL;
    for (size_t len = 0; len < sizeof(set_cmd) - 1; len++)
        assert_int_equal(kv_aof_parse_command(set_cmd, len, argv, 8, &argc, &err), 0);
}

static void test_aof_parse_rejects_corrupt_input(void **state) {
    (void)state;
    static const char *const bad[] = {
        "SET k v\r\n",               /* inline, not the format */
        "*0\r\n",                    /* no arguments */
        "*-1\r\n",                   /* negative count */
        "*1\r\n+OK\r\n",             /* not a bulk */
        "*1\r\n$-1\r\n",             /* null bulk */
        "*1\r\n$3\r\nSETX\r\n",      /* bulk longer than announced */
        "*1x\r\n",                   /* not a number */
        "*1\r\n$03\r\nSET\r\n",      /* leading zero */
        "*1\n$3\r\nSET\r\n",         /* LF without CR */
        "*99999999999999999999\r\n", /* overflow */
        "*1\r\n$3\r\nSET\r\r",       /* CR not followed by LF */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        kv_arg_t argv[8];
        int argc;
        const char *err = NULL;
        ssize_t n = kv_aof_parse_command(bad[i], strlen(bad[i]), argv, 8, &argc, &err);
        if (n != -EPROTO) fail_msg("input %zu: %zd", i, n);
        assert_non_null(err);
    }
}

static void test_aof_parse_reports_too_many_arguments(void **state) {
    (void)state;
    kv_arg_t argv[2];
    int argc = 0;
    const char *err = NULL;
    assert_int_equal(kv_aof_parse_command(set_cmd, sizeof(set_cmd) - 1, argv, 2, &argc, &err),
                     -E2BIG);
    assert_int_equal(argc, 3);
}

/* --- The manifest --- */

static const char manifest_text[] = "file appendonly.aof.2.base.aof seq 2 type b\n"
                                    "file appendonly.aof.1.incr.aof seq 1 type h\n"
                                    "file appendonly.aof.3.incr.aof seq 3 type i\n"
                                    "file appendonly.aof.4.incr.aof seq 4 type i\n";

static void test_aof_manifest_round_trips(void **state) {
    (void)state;
    kv_aof_manifest_t m;
    const char *err = NULL;
    assert_int_equal(kv_aof_manifest_parse(&m, manifest_text, strlen(manifest_text), &err), 0);
    assert_int_equal(m.nfiles, 4);
    assert_int_equal(m.base_seq, 2);
    assert_int_equal(m.incr_seq, 4);
    assert_string_equal(kv_aof_manifest_base(&m)->name, "appendonly.aof.2.base.aof");
    size_t len;
    char *text = kv_aof_manifest_format(&m, &len);
    assert_non_null(text);
    assert_string_equal(text, manifest_text);
    free(text);
    kv_aof_manifest_fini(&m);
}

static void test_aof_manifest_quotes_names_with_spaces(void **state) {
    (void)state;
    kv_aof_manifest_t m;
    memset(&m, 0, sizeof(m));
    assert_int_equal(kv_aof_manifest_add(&m, "my aof.1.base.aof", 1, 'b'), 0);
    size_t len;
    char *text = kv_aof_manifest_format(&m, &len);
    assert_string_equal(text, "file \"my aof.1.base.aof\" seq 1 type b\n");
    kv_aof_manifest_fini(&m);
    const char *err = NULL;
    assert_int_equal(kv_aof_manifest_parse(&m, text, len, &err), 0);
    assert_string_equal(m.files[0].name, "my aof.1.base.aof");
    free(text);
    kv_aof_manifest_fini(&m);
}

static void test_aof_manifest_rejects_bad_lines(void **state) {
    (void)state;
    static const char *const bad[] = {
        "",                                           /* empty */
        "file a seq 1\n",                             /* no type */
        "file a seq x type b\n",                      /* seq not a number */
        "file a seq 0 type b\n",                      /* seq not positive */
        "file a seq 1 type z\n",                      /* unknown type */
        "file a/b seq 1 type b\n",                    /* a path */
        "file a seq 1 type b\nfile b seq 2 type b\n", /* two bases */
        "file a seq 2 type i\nfile b seq 2 type i\n", /* seq not increasing */
        "file \"a seq 1 type b\n",                    /* unbalanced quote */
        "file a seq 1 type\n",                        /* odd word count */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        kv_aof_manifest_t m;
        const char *err = NULL;
        int rc = kv_aof_manifest_parse(&m, bad[i], strlen(bad[i]), &err);
        if (rc != -EPROTO) fail_msg("manifest %zu: %d", i, rc);
        assert_non_null(err);
        kv_aof_manifest_fini(&m);
    }
}

/* --- Deterministic forms --- */

static void test_prop_set_ex_becomes_set_pxat(void **state) {
    (void)state;
    kv_cmd_t *cmd = run("SET k v EX 100");
    char want[128];
    snprintf(want, sizeof(want), "SET k v PXAT %lld", (long long)expire_of("k"));
    assert_string_equal(form_of(cmd), want);
    assert_true(expire_of("k") > kv_mstime() + 90000);
    cmd = run("SET k2 v2 NX PX 5000 GET");
    snprintf(want, sizeof(want), "SET k2 v2 PXAT %lld", (long long)expire_of("k2"));
    assert_string_equal(form_of(cmd), want);
}

static void test_prop_plain_set_and_pxat_propagate_as_sent(void **state) {
    (void)state;
    assert_string_equal(form_of(run("SET k v")), "");
    assert_string_equal(form_of(run("SET k v KEEPTTL")), "");
    assert_string_equal(form_of(run("SET k v PXAT 99999999999999")), "");
}

static void test_prop_setex_and_psetex_become_set_pxat(void **state) {
    (void)state;
    char want[128];
    kv_cmd_t *cmd = run("SETEX a 100 va");
    snprintf(want, sizeof(want), "SET a va PXAT %lld", (long long)expire_of("a"));
    assert_string_equal(form_of(cmd), want);
    cmd = run("PSETEX b 100000 vb");
    snprintf(want, sizeof(want), "SET b vb PXAT %lld", (long long)expire_of("b"));
    assert_string_equal(form_of(cmd), want);
}

static void test_prop_expire_family_becomes_pexpireat(void **state) {
    (void)state;
    static const char *const cmds[] = {"EXPIRE k 100", "PEXPIRE k 100000", "EXPIREAT k 99999999999",
                                       "EXPIRE k 200 LT"};
    for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
        run("SET k v");
        kv_cmd_t *cmd = run(cmds[i]);
        char want[128];
        snprintf(want, sizeof(want), "PEXPIREAT k %lld%s", (long long)expire_of("k"),
                 i == 3 ? " LT" : "");
        assert_string_equal(form_of(cmd), want);
    }
}

static void test_prop_expire_in_the_past_becomes_del(void **state) {
    (void)state;
    run("SET k v");
    kv_cmd_t *cmd = run("EXPIRE k -1");
    assert_null(kv_ht_find(kv_db_get(0)->keys, "k", 1));
    assert_string_equal(form_of(cmd), "DEL k");
}

static void test_prop_getex_forms(void **state) {
    (void)state;
    char want[128];
    run("SET k v");
    kv_cmd_t *cmd = run("GETEX k EX 100");
    snprintf(want, sizeof(want), "PEXPIREAT k %lld", (long long)expire_of("k"));
    assert_string_equal(form_of(cmd), want);
    assert_string_equal(form_of(run("GETEX k PERSIST")), "PERSIST k");
    assert_string_equal(form_of(run("GETDEL k")), "DEL k");
}

static void test_prop_incrbyfloat_becomes_set_keepttl(void **state) {
    (void)state;
    run("SET f 10.5"); /* binary fractions: the same sum in any long double precision */
    assert_string_equal(form_of(run("INCRBYFLOAT f 0.25")), "SET f 10.75 KEEPTTL");
    run("HSET h x 1");
    assert_string_equal(form_of(run("HINCRBYFLOAT h x 1.5")), "HSET h x 2.5");
}

static void test_prop_other_commands_propagate_as_sent(void **state) {
    (void)state;
    assert_string_equal(form_of(run("RPUSH l a b")), "");
    assert_string_equal(form_of(run("INCR n")), "");
    assert_string_equal(form_of(run("DEL l")), "");
}

static void test_prop_restore_with_ttl_becomes_absttl(void **state) {
    (void)state;
    run("SET k v");
    unsigned char *payload;
    size_t plen;
    assert_int_equal(kv_rdb_dump_payload(kv_ht_find(kv_db_get(0)->keys, "k", 1), &payload, &plen),
                     0);
    run("DEL k");
    kv_arg_t argv[4] = {{"RESTORE", 7}, {"k", 1}, {"100000", 6}, {(char *)payload, plen}};
    kv_cmd_t *cmd = kv_cmd_lookup_argv(argv, 4);
    cl->argv = argv;
    cl->argc = 4;
    kv_cmd_call(cl, cmd);
    kv_reply_free_blocks(cl);
    cl->bufpos = cl->sentlen = 0;
    kv_prop_form_t f;
    assert_true(kv_propagate_form(cl, cmd, &f));
    char when[32];
    snprintf(when, sizeof(when), "%lld", (long long)expire_of("k"));
    assert_int_equal(f.argc, 5);
    assert_memory_equal(f.argv[0].ptr, "RESTORE", 7);
    assert_int_equal(f.argv[2].len, strlen(when));
    assert_memory_equal(f.argv[2].ptr, when, strlen(when));
    assert_int_equal(f.argv[3].len, plen);
    assert_memory_equal(f.argv[4].ptr, "ABSTTL", 6);
    free(payload);
}

/* --- Loading --- */

static char path[128];

static int load(bool last) {
    off_t valid = -1;
    return kv_aof_load_file(path, last, &valid);
}

static const char good_file[] = "*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n"
                                "*3\r\n$3\r\nSET\r\n$1\r\na\r\n$1\r\n1\r\n"
                                "#TS:1700000000\r\n"
                                "*1\r\n$5\r\nMULTI\r\n"
                                "*2\r\n$4\r\nINCR\r\n$1\r\na\r\n"
                                "*2\r\n$4\r\nINCR\r\n$1\r\na\r\n"
                                "*1\r\n$4\r\nEXEC\r\n"
                                "*3\r\n$3\r\nSET\r\n$1\r\nb\r\n$1\r\n2\r\n";

static void test_aof_load_replays_commands_and_transactions(void **state) {
    (void)state;
    snprintf(path, sizeof(path), "%s/good.aof", tmpdir);
    write_file(path, good_file, sizeof(good_file) - 1);
    assert_int_equal(load(true), 0);
    assert_string_equal(str_value("a"), "3");
    assert_string_equal(str_value("b"), "2");
    assert_false(kv_srv.loading);
    unlink(path);
}

static void test_aof_load_drops_a_torn_last_command_when_allowed(void **state) {
    (void)state;
    snprintf(path, sizeof(path), "%s/torn.aof", tmpdir);
    size_t full = sizeof(good_file) - 1;
    size_t torn = full - 5; /* inside the last SET */
    write_file(path, good_file, torn);
    assert_int_equal(load(true), 0);
    assert_string_equal(str_value("a"), "3");
    assert_null(str_value("b"));
    /* The file was cut at the last complete command. */
    assert_int_equal(size_of(path),
                     (long long)(full - strlen("*3\r\n$3\r\nSET\r\n$1\r\nb\r\n$1\r\n2\r\n")));
    unlink(path);
}

static void test_aof_load_refuses_a_torn_end_when_not_allowed(void **state) {
    (void)state;
    snprintf(path, sizeof(path), "%s/torn2.aof", tmpdir);
    write_file(path, good_file, sizeof(good_file) - 6);
    kv_srv.cfg.aof_load_truncated = false;
    assert_int_equal(load(true), -EPROTO);
    assert_int_equal(size_of(path), (long long)sizeof(good_file) - 6);
    kv_srv.cfg.aof_load_truncated = true;
    assert_int_equal(load(false), -EPROTO); /* not the last file: never allowed */
    unlink(path);
}

static void test_aof_load_reverts_an_unfinished_multi(void **state) {
    (void)state;
    snprintf(path, sizeof(path), "%s/multi.aof", tmpdir);
    static const char text[] = "*3\r\n$3\r\nSET\r\n$1\r\na\r\n$1\r\n1\r\n"
                               "*1\r\n$5\r\nMULTI\r\n"
                               "*2\r\n$4\r\nINCR\r\n$1\r\na\r\n";
    write_file(path, text, sizeof(text) - 1);
    assert_int_equal(load(true), 0);
    assert_string_equal(str_value("a"), "1"); /* the queued INCR never ran */
    assert_int_equal(size_of(path), (long long)strlen("*3\r\n$3\r\nSET\r\n$1\r\na\r\n$1\r\n1\r\n"));
    unlink(path);
}

static void test_aof_load_stops_at_corruption_in_the_middle(void **state) {
    (void)state;
    snprintf(path, sizeof(path), "%s/bad.aof", tmpdir);
    static const char text[] = "*3\r\n$3\r\nSET\r\n$1\r\na\r\n$1\r\n1\r\n"
                               "garbage\r\n"
                               "*3\r\n$3\r\nSET\r\n$1\r\nb\r\n$1\r\n2\r\n";
    write_file(path, text, sizeof(text) - 1);
    assert_int_equal(load(true), -EPROTO);
    assert_int_equal(size_of(path), (long long)sizeof(text) - 1); /* untouched */
    unlink(path);
}

static void test_aof_load_refuses_unknown_commands(void **state) {
    (void)state;
    snprintf(path, sizeof(path), "%s/unknown.aof", tmpdir);
    static const char text[] = "*2\r\n$6\r\nNOSUCH\r\n$1\r\na\r\n";
    write_file(path, text, sizeof(text) - 1);
    assert_int_equal(load(true), -EPROTO);
    unlink(path);
}

/* --- Rewrite --- */

static void test_aof_rewrite_reads_back_to_the_same_dataset(void **state) {
    (void)state;
    run("SET s hello");
    run("SET n 12345");
    run("SET t v PX 100000000");
    run("RPUSH l a b 3 c");
    run("SADD st x y 1 2");
    run("ZADD z 1.5 a -2 b 3e10 c");
    run("HSET h f1 v1 f2 2");
    for (int i = 0; i < 150; i++) { /* more than one batch of 64 */
        char cmd[64];
        snprintf(cmd, sizeof(cmd), "RPUSH big %d", i);
        run(cmd);
    }
    run("SELECT 5");
    run("SET other db");
    cl->db = kv_db_get(0);
    cl->dbid = 0;
    unsigned char before[20], after[20];
    kv_digest_dataset(before);
    snprintf(path, sizeof(path), "%s/base.aof", tmpdir);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    unsigned long long bytes = 0;
    assert_int_equal(kv_aof_write_dataset(fd, true, &bytes), 0);
    close(fd);
    assert_int_equal((long long)bytes, size_of(path));
    for (int i = 0; i < kv_srv.ndbs; i++)
        kv_db_flush(&kv_srv.dbs[i]);
    assert_int_equal(load(true), 0);
    kv_digest_dataset(after);
    assert_memory_equal(before, after, 20);
    unlink(path);
}

static void test_aof_rdb_base_with_a_command_tail_reads_back(void **state) {
    (void)state;
    run("SET s hello");
    run("RPUSH l a b 3");
    run("ZADD z 1.5 a");
    run("HSET h f v");
    run("SADD st x 1");
    run("SET t v PX 100000000");
    snprintf(path, sizeof(path), "%s/base.rdb", tmpdir);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    unsigned long long bytes = 0;
    assert_int_equal(kv_aof_write_base(fd, true, &bytes), 0);
    static const char tail[] = "*3\r\n$3\r\nSET\r\n$4\r\ntail\r\n$1\r\n1\r\n";
    assert_int_equal(write(fd, tail, sizeof(tail) - 1), (ssize_t)sizeof(tail) - 1);
    close(fd);
    assert_int_equal((long long)bytes + (long long)sizeof(tail) - 1, size_of(path));
    run("SET tail 1");
    unsigned char before[20], after[20];
    kv_digest_dataset(before);
    for (int i = 0; i < kv_srv.ndbs; i++)
        kv_db_flush(&kv_srv.dbs[i]);
    assert_int_equal(load(true), 0);
    kv_digest_dataset(after);
    assert_memory_equal(before, after, 20);
    unlink(path);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_aof_parse_reads_one_command),
        cmocka_unit_test(test_aof_parse_every_prefix_is_incomplete),
        cmocka_unit_test(test_aof_parse_rejects_corrupt_input),
        cmocka_unit_test(test_aof_parse_reports_too_many_arguments),
        cmocka_unit_test(test_aof_manifest_round_trips),
        cmocka_unit_test(test_aof_manifest_quotes_names_with_spaces),
        cmocka_unit_test(test_aof_manifest_rejects_bad_lines),
        cmocka_unit_test_setup(test_prop_set_ex_becomes_set_pxat, reset),
        cmocka_unit_test_setup(test_prop_plain_set_and_pxat_propagate_as_sent, reset),
        cmocka_unit_test_setup(test_prop_setex_and_psetex_become_set_pxat, reset),
        cmocka_unit_test_setup(test_prop_expire_family_becomes_pexpireat, reset),
        cmocka_unit_test_setup(test_prop_expire_in_the_past_becomes_del, reset),
        cmocka_unit_test_setup(test_prop_getex_forms, reset),
        cmocka_unit_test_setup(test_prop_incrbyfloat_becomes_set_keepttl, reset),
        cmocka_unit_test_setup(test_prop_other_commands_propagate_as_sent, reset),
        cmocka_unit_test_setup(test_aof_load_replays_commands_and_transactions, reset),
        cmocka_unit_test_setup(test_aof_load_drops_a_torn_last_command_when_allowed, reset),
        cmocka_unit_test_setup(test_aof_load_refuses_a_torn_end_when_not_allowed, reset),
        cmocka_unit_test_setup(test_aof_load_reverts_an_unfinished_multi, reset),
        cmocka_unit_test_setup(test_aof_load_stops_at_corruption_in_the_middle, reset),
        cmocka_unit_test_setup(test_aof_load_refuses_unknown_commands, reset),
        cmocka_unit_test_setup(test_aof_rewrite_reads_back_to_the_same_dataset, reset),
        cmocka_unit_test_setup(test_aof_rdb_base_with_a_command_tail_reads_back, reset),
        cmocka_unit_test_setup(test_prop_restore_with_ttl_becomes_absttl, reset),
    };
    return cmocka_run_group_tests_name("kv_aof", tests, setup, teardown);
}
