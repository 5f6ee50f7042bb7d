/* SPDX-License-Identifier: MIT */
/*
 * test_shim_config.c - MEMSHIM_* variables and the MEMSHIM_CONF string: valid values
 * reach the controls they alias, a malformed value gets exactly one warning line on
 * stderr and keeps the default, and nothing aborts the process.
 */
#include "test_common.h"

#include <fcntl.h>
#include <unistd.h>

#include "memshim_internal.h"

static const char *const vars[] = {
    "MEMSHIM_LOG_LEVEL",  "MEMSHIM_INHERIT",   "MEMSHIM_REPORT",    "MEMSHIM_REPORT_FILE",
    "MEMSHIM_FAIL_AFTER", "MEMSHIM_FAIL_RATE", "MEMSHIM_FAIL_SEED", "MEMSHIM_FAIL_MIN_SIZE",
    "MEMSHIM_CONF",       "MEMSHIM_WARNED",    "MEMSHIM_PROF",      "MEMSHIM_FREE_KEEPS_ERRNO",
};

static int clean_env(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
        unsetenv(vars[i]);
    memshim_ctl("inject.reset", NULL, NULL, NULL, 0);
    uint64_t seed = 0; /* not a rule: inject.reset keeps it */
    memshim_ctl("inject.seed", NULL, NULL, &seed, sizeof(seed));
    ms_log_level = MS_LOG_WARN;
    return 0;
}

/* Runs ms_config_apply_env with stderr captured into buf; returns its result. */
static int apply_captured(char *buf, size_t len) {
    char path[] = "/tmp/test_shim_config.XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    unlink(path);
    int saved = dup(STDERR_FILENO);
    dup2(fd, STDERR_FILENO);
    int bad = ms_config_apply_env();
    dup2(saved, STDERR_FILENO);
    close(saved);
    ssize_t n = pread(fd, buf, len - 1, 0);
    close(fd);
    buf[n > 0 ? n : 0] = '\0';
    return bad;
}

static int count_lines(const char *s) {
    int n = 0;
    for (; *s != '\0'; s++)
        n += *s == '\n';
    return n;
}

static uint64_t get_u64(const char *name) {
    uint64_t v = 0;
    size_t len = sizeof(v);
    assert_int_equal(memshim_ctl(name, &v, &len, NULL, 0), 0);
    return v;
}

static void test_config_valid_variables_set_their_controls(void **state) {
    (void)state;
    setenv("MEMSHIM_FAIL_AFTER", "500", 1);
    setenv("MEMSHIM_FAIL_SEED", "99", 1);
    setenv("MEMSHIM_FAIL_MIN_SIZE", "2k", 1);
    setenv("MEMSHIM_FAIL_RATE", "0.5", 1);
    setenv("MEMSHIM_INHERIT", "0", 1);
    char err[512];
    assert_int_equal(apply_captured(err, sizeof(err)), 0);
    assert_string_equal(err, "");
    assert_int_equal(get_u64("inject.fail_after"), 500);
    assert_int_equal(get_u64("inject.seed"), 99);
    char buf[64];
    assert_int_equal(memshim_ctl_get_str("inject.min_size", buf, sizeof(buf)), 0);
    assert_string_equal(buf, "2048");
    assert_int_equal(memshim_ctl_get_str("inject.fail_rate", buf, sizeof(buf)), 0);
    assert_string_equal(buf, "0.5");
    assert_false(ms_config.inherit);
    ms_config.inherit = true;
}

static void test_config_bad_value_warns_once_and_keeps_default(void **state) {
    (void)state;
    setenv("MEMSHIM_FAIL_RATE", "lots", 1);
    char err[512];
    assert_int_equal(apply_captured(err, sizeof(err)), 1);
    assert_int_equal(count_lines(err), 1);
    assert_non_null(strstr(err, "MEMSHIM_FAIL_RATE='lots' ignored"));
    assert_non_null(strstr(err, "using the default"));
    assert_int_equal(atomic_load(&ms_inject_armed), 0);
    double r = -1;
    size_t len = sizeof(r);
    assert_int_equal(memshim_ctl("inject.fail_rate", &r, &len, NULL, 0), 0);
    assert_true(r == 0.0);
}

static void test_config_each_bad_variable_gets_its_own_line(void **state) {
    (void)state;
    setenv("MEMSHIM_FAIL_AFTER", "-3", 1);
    setenv("MEMSHIM_FAIL_RATE", "1.5", 1);     /* out of range */
    setenv("MEMSHIM_FAIL_MIN_SIZE", "12q", 1); /* bad suffix */
    setenv("MEMSHIM_INHERIT", "maybe", 1);
    setenv("MEMSHIM_LOG_LEVEL", "9", 1);
    setenv("MEMSHIM_FAIL_SEED", "99999999999999999999999", 1); /* overflows u64 */
    char err[2048];
    assert_int_equal(apply_captured(err, sizeof(err)), 6);
    assert_int_equal(count_lines(err), 6);
    assert_int_equal(get_u64("inject.fail_after"), 0);
    assert_int_equal(get_u64("inject.seed"), 0);
    assert_true(ms_config.inherit);
    assert_int_equal(ms_log_level, MS_LOG_WARN);
    /* The process that warned marks the environment, so children stay quiet. */
    assert_string_equal(getenv("MEMSHIM_WARNED"), "1");
}

static void test_config_inherited_warning_is_not_repeated(void **state) {
    (void)state;
    setenv("MEMSHIM_WARNED", "1", 1);
    setenv("MEMSHIM_FAIL_AFTER", "x", 1);
    char err[512];
    assert_int_equal(apply_captured(err, sizeof(err)), 1);
    assert_string_equal(err, "");
    assert_int_equal(ms_log_level, MS_LOG_WARN); /* restored after the quiet pass */
}

static void test_config_empty_values_are_rejected(void **state) {
    (void)state;
    setenv("MEMSHIM_FAIL_AFTER", "", 1);
    setenv("MEMSHIM_FAIL_RATE", "", 1);
    char err[1024];
    assert_int_equal(apply_captured(err, sizeof(err)), 2);
    assert_int_equal(count_lines(err), 2);
}

static void test_config_conf_string_sets_several_controls(void **state) {
    (void)state;
    setenv("MEMSHIM_CONF", "inject.seed:7,inject.min_size:1m,,log.level:2", 1);
    char err[512];
    assert_int_equal(apply_captured(err, sizeof(err)), 0);
    assert_string_equal(err, "");
    assert_int_equal(get_u64("inject.seed"), 7);
    size_t min = 0;
    size_t len = sizeof(min);
    assert_int_equal(memshim_ctl("inject.min_size", &min, &len, NULL, 0), 0);
    assert_int_equal(min, 1u << 20);
    assert_int_equal(ms_log_level, 2);
}

static void test_config_conf_string_bad_items_warn_and_good_ones_apply(void **state) {
    (void)state;
    setenv("MEMSHIM_CONF", "nosuch.name:1,inject.seed:5,stats.allocated:3,noval,inject.fail_rate:x",
           1);
    char err[2048];
    assert_int_equal(apply_captured(err, sizeof(err)), 4);
    assert_int_equal(count_lines(err), 4);
    assert_non_null(strstr(err, "'nosuch.name:1' ignored (unknown name)"));
    assert_non_null(strstr(err, "'stats.allocated:3' ignored (read-only)"));
    assert_non_null(strstr(err, "'noval' ignored (expected name:value)"));
    assert_non_null(strstr(err, "'inject.fail_rate:x' ignored (malformed or out of range)"));
    assert_int_equal(get_u64("inject.seed"), 5);
}

static void test_config_overlong_conf_item_is_ignored(void **state) {
    (void)state;
    char conf[1200];
    memset(conf, 'a', sizeof(conf) - 1);
    conf[sizeof(conf) - 1] = '\0';
    memcpy(conf + sizeof(conf) - 15, ",inject.seed:3", 14);
    setenv("MEMSHIM_CONF", conf, 1);
    char err[512];
    assert_int_equal(apply_captured(err, sizeof(err)), 1);
    assert_int_equal(count_lines(err), 1);
    assert_non_null(strstr(err, "too long"));
    assert_int_equal(get_u64("inject.seed"), 3);
}

/*
 * -ENOENT from a name that exists (profiling with jemalloc's opt.prof false, as in this
 * binary: libmemshim.a carries no malloc_conf) is not an unknown name.
 */
static void test_config_unavailable_feature_is_not_reported_as_unknown_name(void **state) {
    (void)state;
    bool avail = true;
    size_t len = sizeof(avail);
    assert_int_equal(memshim_ctl("prof.available", &avail, &len, NULL, 0), 0);
    if (avail) skip(); /* MALLOC_CONF=prof:true in the environment: nothing is unavailable */
    setenv("MEMSHIM_PROF", "1", 1);
    setenv("MEMSHIM_CONF", "prof.active:true,no.such:1", 1);
    char err[2048];
    assert_int_equal(apply_captured(err, sizeof(err)), 3);
    assert_int_equal(count_lines(err), 3);
    assert_non_null(strstr(err, "MEMSHIM_PROF='1' ignored (not available in this process)"));
    assert_non_null(strstr(err, "'prof.active:true' ignored (not available in this process)"));
    assert_non_null(strstr(err, "'no.such:1' ignored (unknown name)"));
    assert_null(strstr(err, "prof.active:true' ignored (unknown name)"));
}

static bool free_keeps_errno(void) {
    bool v = false;
    size_t len = sizeof(v);
    assert_int_equal(memshim_ctl("config.free_keeps_errno", &v, &len, NULL, 0), 0);
    return v;
}

static void test_config_free_keeps_errno_variable_sets_the_control(void **state) {
    (void)state;
    char err[512];
    assert_true(free_keeps_errno()); /* glibc's semantics by default */
    setenv("MEMSHIM_FREE_KEEPS_ERRNO", "0", 1);
    assert_int_equal(apply_captured(err, sizeof(err)), 0);
    assert_false(free_keeps_errno());
    setenv("MEMSHIM_FREE_KEEPS_ERRNO", "sometimes", 1);
    assert_int_equal(apply_captured(err, sizeof(err)), 1);
    assert_non_null(strstr(err, "MEMSHIM_FREE_KEEPS_ERRNO='sometimes' ignored (malformed"));
    assert_false(free_keeps_errno()); /* a bad value changes nothing */
    setenv("MEMSHIM_FREE_KEEPS_ERRNO", "yes", 1);
    assert_int_equal(apply_captured(err, sizeof(err)), 0);
    assert_true(free_keeps_errno());
}

static void test_config_unknown_variable_names_the_closest_setting(void **state) {
    (void)state;
    assert_string_equal(ms_config_env_suggest("MEMSHIM_FAIL_RAT"), "MEMSHIM_FAIL_RATE");
    assert_string_equal(ms_config_env_suggest("MEMSHIM_fail_rate"), "MEMSHIM_FAIL_RATE");
    assert_string_equal(ms_config_env_suggest("MEMSHIM_PRF"), "MEMSHIM_PROF");
    assert_string_equal(ms_config_env_suggest("MEMSHIM_REPROT_FILE"), "MEMSHIM_REPORT_FILE");
    assert_string_equal(ms_config_env_suggest("MEMSHIM_SAMPLE"), "MEMSHIM_PROF_SAMPLE");
    assert_string_equal(ms_config_env_suggest("MEMSHIM_CONFIG"), "MEMSHIM_CONF");
    assert_null(ms_config_env_suggest("MEMSHIM_X"));
    assert_null(ms_config_env_suggest("MEMSHIM_COMPLETELY_DIFFERENT"));
    assert_true(ms_config_env_known("MEMSHIM_FAIL_RATE"));
    assert_true(ms_config_env_known("MEMSHIM_CONF"));
    assert_true(ms_config_env_known("MEMSHIM_WARNED"));
    assert_true(ms_config_env_known("MEMSHIM_REPORT_PID"));
    assert_true(ms_config_env_known("MEMSHIM_TEST_STALE"));
    assert_false(ms_config_env_known("MEMSHIM_FAIL_RAT"));
    setenv("MEMSHIM_FAIL_RAT", "0.1", 1);
    setenv("MEMSHIM_ZZZZZZZZZZ", "1", 1);
    setenv("MEMSHIM_REPORT_PID", "1", 1); /* the shim's own: no warning */
    char err[1024];
    assert_int_equal(apply_captured(err, sizeof(err)), 2);
    assert_non_null(strstr(
        err, "unknown variable MEMSHIM_FAIL_RAT ignored (did you mean MEMSHIM_FAIL_RATE?)\n"));
    assert_non_null(strstr(err, "unknown variable MEMSHIM_ZZZZZZZZZZ ignored\n"));
    assert_int_equal(count_lines(err), 2);
    assert_string_equal(getenv("MEMSHIM_WARNED"), "1");
    assert_int_equal(get_u64("inject.fail_after"), 0); /* nothing armed */
    /* A child with the same environment stays quiet. */
    assert_int_equal(apply_captured(err, sizeof(err)), 2);
    assert_string_equal(err, "");
    unsetenv("MEMSHIM_FAIL_RAT");
    unsetenv("MEMSHIM_ZZZZZZZZZZ");
    unsetenv("MEMSHIM_REPORT_PID");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_config_valid_variables_set_their_controls, clean_env,
                                        clean_env),
        cmocka_unit_test_setup_teardown(test_config_bad_value_warns_once_and_keeps_default,
                                        clean_env, clean_env),
        cmocka_unit_test_setup_teardown(test_config_each_bad_variable_gets_its_own_line, clean_env,
                                        clean_env),
        cmocka_unit_test_setup_teardown(test_config_inherited_warning_is_not_repeated, clean_env,
                                        clean_env),
        cmocka_unit_test_setup_teardown(test_config_empty_values_are_rejected, clean_env,
                                        clean_env),
        cmocka_unit_test_setup_teardown(test_config_conf_string_sets_several_controls, clean_env,
                                        clean_env),
        cmocka_unit_test_setup_teardown(test_config_conf_string_bad_items_warn_and_good_ones_apply,
                                        clean_env, clean_env),
        cmocka_unit_test_setup_teardown(test_config_overlong_conf_item_is_ignored, clean_env,
                                        clean_env),
        cmocka_unit_test_setup_teardown(
            test_config_unavailable_feature_is_not_reported_as_unknown_name, clean_env, clean_env),
        cmocka_unit_test_setup_teardown(test_config_free_keeps_errno_variable_sets_the_control,
                                        clean_env, clean_env),
        cmocka_unit_test_setup_teardown(test_config_unknown_variable_names_the_closest_setting,
                                        clean_env, clean_env),
    };
    return cmocka_run_group_tests_name("shim_config", tests, NULL, NULL);
}
