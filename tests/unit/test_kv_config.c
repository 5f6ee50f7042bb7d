/* SPDX-License-Identifier: MIT */
/*
 * test_kv_config.c - kvcore's configuration table (kvcore/config.c): defaults, the config
 * file (errors name the line and quote it), `--name value` arguments after a file,
 * run-time CONFIG SET semantics (immutable rows, Redis's error texts, aliases) and the
 * values CONFIG GET prints back.
 */
#include "test_common.h"

#include <unistd.h>

#include "kv_internal.h"

static kv_config_values_t cfg;
static char err[2048];

static int setup(void **state) {
    (void)state;
    err[0] = '\0';
    return kv_config_defaults(&cfg);
}

static int teardown(void **state) {
    (void)state;
    kv_config_fini(&cfg);
    return 0;
}

static const char *get(const char *name) {
    static char buf[1024];
    assert_true(kv_config_get(&cfg, name, buf, sizeof(buf)));
    return buf;
}

static void test_config_defaults_match_redis(void **state) {
    (void)state;
    assert_int_equal(cfg.port, 6379);
    assert_string_equal(cfg.bind, "127.0.0.1");
    assert_int_equal(cfg.hz, 10);
    assert_int_equal(cfg.databases, 16);
    assert_int_equal(cfg.maxmemory, 0);
    assert_int_equal(cfg.maxmemory_policy, KV_POLICY_NOEVICTION);
    assert_string_equal(get("proto-max-bulk-len"), "536870912");
    assert_string_equal(get("client-output-buffer-limit"),
                        "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60");
    assert_string_equal(get("save"), "3600 1 300 100 60 10000");
    assert_string_equal(get("activerehashing"), "yes");
    assert_string_equal(get("heap-dump-dir"), "");
}

static void test_config_file_sets_values_with_units_and_aliases(void **state) {
    (void)state;
    const char *text = "# comment\n"
                       "port 7000\n"
                       "\n"
                       "   maxmemory 100mb   \n"
                       "maxmemory-policy allkeys-lru\r\n"
                       "hash-max-ziplist-entries 64\n"
                       "save \"\"\n"
                       "bind 127.0.0.1 -::1\n"
                       "client-output-buffer-limit pubsub 1mb 512kb 30\n"
                       "activedefrag yes\n";
    assert_int_equal(kv_config_load_string(&cfg, text, err, sizeof(err)), 0);
    assert_int_equal(cfg.port, 7000);
    assert_int_equal(cfg.maxmemory, 100ULL * 1024 * 1024);
    assert_int_equal(cfg.maxmemory_policy, KV_POLICY_ALLKEYS_LRU);
    assert_int_equal(cfg.hash_max_listpack_entries, 64);
    assert_string_equal(get("hash-max-listpack-entries"), "64");
    assert_string_equal(get("save"), "");
    assert_string_equal(cfg.bind, "127.0.0.1 -::1");
    assert_int_equal(cfg.obuf_limits[2].hard, 1024 * 1024);
    assert_int_equal(cfg.obuf_limits[2].soft, 512 * 1024);
    assert_int_equal(cfg.obuf_limits[2].soft_seconds, 30);
    assert_true(cfg.activedefrag);
}

static void test_config_unknown_directive_names_the_line(void **state) {
    (void)state;
    const char *text = "port 7000\n# ok\nfrobnicate yes\nport 7001\n";
    assert_int_equal(kv_config_load_string(&cfg, text, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "at line 3\n"));
    assert_non_null(strstr(err, ">>> 'frobnicate yes'"));
    assert_non_null(strstr(err, "Bad directive or wrong number of arguments"));
    assert_int_equal(cfg.port, 7000); /* stopped at the bad line */
}

static void test_config_wrong_argument_count_is_an_error(void **state) {
    (void)state;
    assert_int_equal(kv_config_load_string(&cfg, "port 1 2\n", err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "at line 1\n"));
    assert_non_null(strstr(err, "Bad directive or wrong number of arguments"));
    assert_int_equal(kv_config_load_string(&cfg, "maxmemory\n", err, sizeof(err)), -EINVAL);
}

static void test_config_malformed_values_report_redis_texts(void **state) {
    (void)state;
    static const struct {
        const char *line, *msg;
    } cases[] = {
        {"port abc", "argument couldn't be parsed into an integer"},
        {"port 70000", "argument must be between 0 and 65535 inclusive"},
        {"maxmemory 10xb", "argument must be a memory value"},
        {"activerehashing maybe", "argument must be 'yes' or 'no'"},
        {"maxmemory-policy lru",
         "argument(s) must be one of the following: volatile-lru, volatile-lfu, "
         "volatile-random, volatile-ttl, allkeys-lru, allkeys-lfu, allkeys-random, noeviction"},
        {"client-output-buffer-limit normal 1 2", "Wrong number of arguments in buffer limit "
                                                  "configuration."},
        {"save 100", "Invalid save parameters"},
        {"bind \"127.0.0.1", "Unbalanced quotes in configuration line"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char text[256];
        snprintf(text, sizeof(text), "hz 10\n%s\n", cases[i].line);
        assert_int_equal(kv_config_load_string(&cfg, text, err, sizeof(err)), -EINVAL);
        assert_non_null(strstr(err, "at line 2\n"));
        const char *last = strrchr(err, '\n');
        assert_string_equal(last + 1, cases[i].msg);
    }
}

static void test_config_args_apply_after_file(void **state) {
    (void)state;
    char path[] = "/tmp/kvcfgXXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *text = "port 7000\nhz 20\n";
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    char a[][16] = {"kvcore-server", "--port", "7100", "--save", "", "--maxmemory", "1gb"};
    char *argv[] = {a[0], path, a[1], a[2], a[3], a[4], a[5], a[6], NULL};
    bool want_exit;
    char *file = NULL;
    assert_int_equal(kv_config_from_args(&cfg, 8, argv, err, sizeof(err), &want_exit, &file), 0);
    assert_false(want_exit);
    assert_string_equal(file, path);
    assert_int_equal(cfg.port, 7100);
    assert_int_equal(cfg.hz, 20);
    assert_int_equal(cfg.maxmemory, 1ULL << 30);
    assert_string_equal(get("save"), "");
    free(file);
    unlink(path);
}

static void test_config_bad_argument_names_it(void **state) {
    (void)state;
    char a[][16] = {"kvcore-server", "--port", "7000", "--nosuch", "1"};
    char *argv[] = {a[0], a[1], a[2], a[3], a[4], NULL};
    bool want_exit;
    char *file = NULL;
    assert_int_equal(kv_config_from_args(&cfg, 5, argv, err, sizeof(err), &want_exit, &file),
                     -EINVAL);
    assert_non_null(strstr(err, ">>> '--nosuch 1'"));
    assert_non_null(strstr(err, "Bad directive or wrong number of arguments"));
    assert_null(file);
}

static void test_config_set_respects_immutable_and_bounds(void **state) {
    (void)state;
    assert_int_equal(kv_config_set(&cfg, "heap-dump-dir", "/tmp", err, sizeof(err)), -EPERM);
    assert_string_equal(err, "can't set immutable config");
    assert_int_equal(kv_config_set(&cfg, "databases", "3", err, sizeof(err)), -EPERM);
    assert_int_equal(kv_config_set(&cfg, "nosuch", "1", err, sizeof(err)), -ENOENT);
    assert_int_equal(kv_config_set(&cfg, "maxmemory-samples", "0", err, sizeof(err)), -EINVAL);
    assert_string_equal(err, "argument must be between 1 and 2147483647 inclusive");
    assert_int_equal(kv_config_set(&cfg, "MAXMEMORY", "2mb", err, sizeof(err)), 0);
    assert_string_equal(get("maxmemory"), "2097152");
    /* hz is clamped to 1..500 as Redis's updateHZ does. */
    assert_int_equal(kv_config_set(&cfg, "hz", "1000", err, sizeof(err)), 0);
    assert_string_equal(get("hz"), "500");
    assert_int_equal(kv_config_set(&cfg, "list-max-ziplist-size", "5", err, sizeof(err)), 0);
    assert_string_equal(get("list-max-listpack-size"), "5");
}

/* dir and dbfilename: protected (kv_config_is_protected; CONFIG SET checks the mode),
 * dbfilename is a name, not a path, and dir "" is an error, not a silent no-op. */
static void test_config_dir_and_dbfilename(void **state) {
    (void)state;
    assert_string_equal(get("enable-protected-configs"), "no");
    assert_int_equal(cfg.enable_protected_configs, 0);
    assert_true(kv_config_is_protected("dir"));
    assert_true(kv_config_is_protected("DBFILENAME"));
    assert_false(kv_config_is_protected("maxmemory"));
    assert_true(kv_config_is_immutable("enable-protected-configs"));
    assert_int_equal(
        kv_config_load_string(&cfg, "enable-protected-configs local\n", err, sizeof(err)), 0);
    assert_int_equal(cfg.enable_protected_configs, 2);
    assert_int_equal(kv_config_set(&cfg, "dbfilename", "/etc/passwd", err, sizeof(err)), -EINVAL);
    assert_string_equal(err, "dbfilename can't be a path, just a filename");
    assert_int_equal(kv_config_set(&cfg, "dbfilename", "../x.rdb", err, sizeof(err)), -EINVAL);
    assert_string_equal(get("dbfilename"), "dump.rdb");
    assert_int_equal(kv_config_set(&cfg, "dbfilename", "other.rdb", err, sizeof(err)), 0);
    assert_string_equal(get("dbfilename"), "other.rdb");
    char cwd[1024];
    assert_non_null(getcwd(cwd, sizeof(cwd)));
    assert_int_equal(kv_config_set(&cfg, "dir", "", err, sizeof(err)), -EINVAL);
    assert_string_equal(err, "No such file or directory");
    assert_int_equal(kv_config_set(&cfg, "dir", "/nonexistent-kvcore-dir", err, sizeof(err)),
                     -EINVAL);
    assert_string_equal(get("dir"), cwd);
    /* The file and the command line go through the same check. */
    assert_int_equal(kv_config_load_string(&cfg, "dbfilename a/b\n", err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "dbfilename can't be a path, just a filename"));
}

static void test_config_memory_units(void **state) {
    (void)state;
    unsigned long long v;
    assert_true(kv_memtoull("1k", 2, &v));
    assert_int_equal(v, 1000);
    assert_true(kv_memtoull("1KB", 3, &v));
    assert_int_equal(v, 1024);
    assert_true(kv_memtoull("3g", 2, &v));
    assert_int_equal(v, 3000000000ULL);
    assert_true(kv_memtoull("42", 2, &v));
    assert_int_equal(v, 42);
    assert_false(kv_memtoull("-1", 2, &v));
    assert_false(kv_memtoull("1tb", 3, &v));
    assert_false(kv_memtoull("1.5mb", 5, &v));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_config_defaults_match_redis, setup, teardown),
        cmocka_unit_test_setup_teardown(test_config_file_sets_values_with_units_and_aliases, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_config_unknown_directive_names_the_line, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_config_wrong_argument_count_is_an_error, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_config_malformed_values_report_redis_texts, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_config_args_apply_after_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_config_bad_argument_names_it, setup, teardown),
        cmocka_unit_test_setup_teardown(test_config_set_respects_immutable_and_bounds, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_config_dir_and_dbfilename, setup, teardown),
        cmocka_unit_test_setup_teardown(test_config_memory_units, setup, teardown),
    };
    return cmocka_run_group_tests_name("kv_config", tests, NULL, NULL);
}
