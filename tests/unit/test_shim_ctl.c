/* SPDX-License-Identifier: MIT */
/*
 * test_shim_ctl.c - the table of dotted controls behind memshim_ctl: unknown names,
 * wrong sizes, read-only and write-only rows, actions, the text forms MEMSHIM_CONF and
 * the CLI use, and the listing.
 */
#include "test_common.h"

#include "memshim_internal.h"

static int reset(void **state) {
    (void)state;
    memshim_ctl("inject.reset", NULL, NULL, NULL, 0);
    return 0;
}

static void test_ctl_unknown_name_is_enoent(void **state) {
    (void)state;
    uint64_t v = 0;
    size_t len = sizeof(v);
    char buf[32];
    assert_int_equal(memshim_ctl("no.such.control", &v, &len, NULL, 0), -ENOENT);
    assert_int_equal(memshim_ctl("inject", &v, &len, NULL, 0), -ENOENT); /* a prefix only */
    assert_int_equal(memshim_ctl("inject.fail_after.x", &v, &len, NULL, 0), -ENOENT);
    assert_int_equal(memshim_ctl("", &v, &len, NULL, 0), -ENOENT);
    assert_int_equal(memshim_ctl(NULL, &v, &len, NULL, 0), -ENOENT);
    assert_int_equal(memshim_ctl_set_str("no.such.control", "1"), -ENOENT);
    assert_int_equal(memshim_ctl_get_str("no.such.control", buf, sizeof(buf)), -ENOENT);
    assert_null(ms_ctl_find("INJECT.SEED")); /* names are case-sensitive */
}

static void test_ctl_wrong_size_is_einval(void **state) {
    (void)state;
    uint32_t small = 0;
    size_t len = sizeof(small);
    assert_int_equal(memshim_ctl("inject.seed", &small, &len, NULL, 0), -EINVAL);
    assert_int_equal(memshim_ctl("inject.seed", NULL, NULL, &small, sizeof(small)), -EINVAL);
    bool b = true;
    len = 8;
    assert_int_equal(memshim_ctl("config.inherit", &b, &len, NULL, 0), -EINVAL);
    uint64_t v;
    assert_int_equal(memshim_ctl("inject.seed", &v, NULL, NULL, 0), -EINVAL); /* no length */
    /* A rejected write changed nothing. */
    len = sizeof(v);
    assert_int_equal(memshim_ctl("inject.seed", &v, &len, NULL, 0), 0);
    assert_int_equal(len, sizeof(uint64_t));
}

static void test_ctl_read_only_control_refuses_writes_with_eperm(void **state) {
    (void)state;
    size_t v = 1;
    assert_int_equal(memshim_ctl("stats.allocated", NULL, NULL, &v, sizeof(v)), -EPERM);
    assert_int_equal(memshim_ctl_set_str("stats.allocated", "1"), -EPERM);
    assert_int_equal(memshim_ctl_set_str("version", "9"), -EPERM);
    uint64_t u = 3;
    assert_int_equal(memshim_ctl("inject.failures", NULL, NULL, &u, sizeof(u)), -EPERM);
}

static void test_ctl_action_cannot_be_read(void **state) {
    (void)state;
    const char *s = NULL;
    size_t len = sizeof(s);
    char buf[16];
    assert_int_equal(memshim_ctl("purge", &s, &len, NULL, 0), -EPERM);
    assert_int_equal(memshim_ctl_get_str("inject.reset", buf, sizeof(buf)), -EPERM);
}

static void test_ctl_actions_run_with_or_without_argument(void **state) {
    (void)state;
    assert_int_equal(memshim_ctl("purge", NULL, NULL, NULL, 0), 0);
    const char *arg = NULL;
    assert_int_equal(memshim_ctl("purge", NULL, NULL, &arg, sizeof(arg)), 0);
    assert_int_equal(memshim_ctl("purge", NULL, NULL, &arg, 3), -EINVAL);
    assert_int_equal(memshim_ctl_set_str("inject.reset", ""), 0);
}

static void test_ctl_value_round_trips_through_memshim_ctl(void **state) {
    (void)state;
    uint64_t in = 123456789, out = 0, old = 0;
    size_t len = sizeof(old);
    assert_int_equal(memshim_ctl("inject.seed", NULL, NULL, &in, sizeof(in)), 0);
    /* Old and new in one call: the old value comes back, the new one is stored. */
    uint64_t next = 42;
    assert_int_equal(memshim_ctl("inject.seed", &old, &len, &next, sizeof(next)), 0);
    assert_int_equal(old, 123456789);
    len = sizeof(out);
    assert_int_equal(memshim_ctl("inject.seed", &out, &len, NULL, 0), 0);
    assert_int_equal(out, 42);
    bool inherit = false;
    assert_int_equal(memshim_ctl("config.inherit", NULL, NULL, &inherit, sizeof(inherit)), 0);
    assert_false(ms_config.inherit);
    inherit = true;
    assert_int_equal(memshim_ctl("config.inherit", NULL, NULL, &inherit, sizeof(inherit)), 0);
}

static void test_ctl_text_forms_parse_each_type(void **state) {
    (void)state;
    char buf[64];
    static const struct {
        const char *in, *out;
    } bools[] = {{"1", "true"},  {"yes", "true"}, {"ON", "true"},   {"True", "true"},
                 {"0", "false"}, {"no", "false"}, {"off", "false"}, {"FALSE", "false"}};
    for (size_t i = 0; i < sizeof(bools) / sizeof(bools[0]); i++) {
        assert_int_equal(memshim_ctl_set_str("config.inherit", bools[i].in), 0);
        assert_int_equal(memshim_ctl_get_str("config.inherit", buf, sizeof(buf)), 0);
        assert_string_equal(buf, bools[i].out);
    }
    static const struct {
        const char *in, *out;
    } sizes[] = {{"0", "0"},        {"4k", "4096"},       {"4K", "4096"}, {"4kb", "4096"},
                 {"3m", "3145728"}, {"1g", "1073741824"}, {"123", "123"}};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        assert_int_equal(memshim_ctl_set_str("inject.min_size", sizes[i].in), 0);
        assert_int_equal(memshim_ctl_get_str("inject.min_size", buf, sizeof(buf)), 0);
        assert_string_equal(buf, sizes[i].out);
    }
    assert_int_equal(memshim_ctl_set_str("inject.seed", "18446744073709551615"), 0);
    assert_int_equal(memshim_ctl_get_str("inject.seed", buf, sizeof(buf)), 0);
    assert_string_equal(buf, "18446744073709551615");
    assert_int_equal(memshim_ctl_set_str("inject.fail_rate", "0.125"), 0);
    assert_int_equal(memshim_ctl_get_str("inject.fail_rate", buf, sizeof(buf)), 0);
    assert_string_equal(buf, "0.125");
    assert_int_equal(memshim_ctl_set_str("config.report_file", "/tmp/r.txt"), 0);
    assert_int_equal(memshim_ctl_get_str("config.report_file", buf, sizeof(buf)), 0);
    assert_string_equal(buf, "/tmp/r.txt");
    assert_int_equal(memshim_ctl_set_str("config.report_file", ""), 0);
}

static void test_ctl_text_forms_reject_malformed_values(void **state) {
    (void)state;
    static const struct {
        const char *name, *value;
    } bad[] = {
        {"inject.seed", "-1"},
        {"inject.seed", "+1"},
        {"inject.seed", " 1"},
        {"inject.seed", "12abc"},
        {"inject.seed", ""},
        {"inject.seed", "4k"},
        {"inject.seed", "18446744073709551616"},
        {"inject.min_size", "1t"},
        {"inject.min_size", "99999999999g"},
        {"config.inherit", "2"},
        {"config.inherit", "truthy"},
        {"inject.fail_rate", "nan"},
        {"inject.fail_rate", "inf"},
        {"inject.fail_rate", "0.5x"},
        {"inject.fail_rate", "-0.5"},
        {"log.level", "4"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(memshim_ctl_set_str(bad[i].name, bad[i].value), -EINVAL);
    assert_int_equal(memshim_ctl_set_str("inject.seed", NULL), -EINVAL);
    char longpath[300];
    memset(longpath, 'p', sizeof(longpath) - 1);
    longpath[sizeof(longpath) - 1] = '\0';
    assert_int_equal(memshim_ctl_set_str("config.report_file", longpath), -EINVAL);
}

static void test_ctl_get_str_reports_a_short_buffer(void **state) {
    (void)state;
    char buf[4];
    assert_int_equal(memshim_ctl_set_str("inject.seed", "123456"), 0);
    assert_int_equal(memshim_ctl_get_str("inject.seed", buf, sizeof(buf)), -ERANGE);
    assert_int_equal(memshim_ctl_get_str("inject.seed", NULL, 10), -EINVAL);
    assert_int_equal(memshim_ctl_get_str("inject.seed", buf, 0), -EINVAL);
}

static void test_ctl_version_and_stats_are_readable(void **state) {
    (void)state;
    char buf[128];
    assert_int_equal(memshim_ctl_get_str("version", buf, sizeof(buf)), 0);
    assert_string_equal(buf, MEMSHIM_VERSION);
    assert_int_equal(memshim_ctl_get_str("jemalloc.version", buf, sizeof(buf)), 0);
    assert_int_equal(strncmp(buf, "5.", 2), 0);
    assert_int_equal(memshim_ctl_get_str("active", buf, sizeof(buf)), 0);
    assert_string_equal(buf, "false"); /* libmemshim.a: malloc is not the shim's */
    size_t before = 0, after = 0, len = sizeof(size_t);
    assert_int_equal(memshim_ctl("stats.allocated", &before, &len, NULL, 0), 0);
    void *p = ms_malloc(16u << 20);
    assert_int_equal(memshim_ctl("stats.allocated", &after, &len, NULL, 0), 0);
    assert_true(after >= before + (16u << 20));
    ms_free(p);
    static const char *const names[] = {"stats.active", "stats.resident", "stats.mapped",
                                        "stats.retained", "stats.metadata"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        assert_int_equal(memshim_ctl_get_str(names[i], buf, sizeof(buf)), 0);
    double ratio = 0;
    len = sizeof(ratio);
    assert_int_equal(memshim_ctl("stats.frag_ratio", &ratio, &len, NULL, 0), 0);
    assert_true(ratio >= 1.0);
}

struct listing {
    int rows;
    int stop_at;
    bool saw_inject_seed;
    bool types_ok;
};

static int list_fn(const char *name, const char *type, const char *help, void *arg) {
    struct listing *l = arg;
    l->rows++;
    if (strcmp(name, "inject.seed") == 0) l->saw_inject_seed = strcmp(type, "u64") == 0;
    static const char *const types[] = {"bool", "u64", "size", "double", "string", "action"};
    bool known = false;
    for (size_t i = 0; i < 6; i++)
        known |= strcmp(type, types[i]) == 0;
    if (!known || help == NULL || help[0] == '\0' || ms_ctl_find(name) == NULL) l->types_ok = false;
    return l->rows == l->stop_at ? 77 : 0;
}

static void test_ctl_foreach_lists_every_row_and_stops_early(void **state) {
    (void)state;
    struct listing l = {0, -1, false, true};
    assert_int_equal(memshim_ctl_foreach(list_fn, &l), 0);
    assert_true(l.rows >= 20);
    assert_true(l.saw_inject_seed);
    assert_true(l.types_ok);
    struct listing s = {0, 3, false, true};
    assert_int_equal(memshim_ctl_foreach(list_fn, &s), 77);
    assert_int_equal(s.rows, 3);
    assert_int_equal(memshim_ctl_foreach(NULL, NULL), -EINVAL);
}

/* A row's flags promise a getter (readable) and a setter (writable or an action). */
static int check_row(const char *name, const char *type, const char *help, void *arg) {
    (void)type;
    const ms_ctl_node_t *n = ms_ctl_find(name);
    assert_non_null(n);
    assert_true(help != NULL && help[0] != '\0');
    assert_true(!(n->flags & MS_CTL_R) || n->get != NULL);
    assert_true(!(n->flags & MS_CTL_W) || n->set != NULL);
    assert_true(n->flags & (MS_CTL_R | MS_CTL_W));
    ++*(int *)arg;
    return 0;
}

static void test_ctl_every_row_has_the_handlers_its_flags_promise(void **state) {
    (void)state;
    int rows = 0;
    assert_int_equal(memshim_ctl_foreach(check_row, &rows), 0);
    assert_true(rows > 0);
}

static void test_ctl_parse_value_checks_the_output_size(void **state) {
    (void)state;
    uint64_t v;
    assert_int_equal(ms_ctl_parse_value(MS_CTL_U64, "5", &v, 4), -EINVAL);
    assert_int_equal(ms_ctl_parse_value(MS_CTL_U64, "5", NULL, sizeof(v)), -EINVAL);
    assert_int_equal(ms_ctl_parse_value(MS_CTL_U64, "5", &v, sizeof(v)), 0);
    assert_int_equal(v, 5);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ctl_unknown_name_is_enoent),
        cmocka_unit_test(test_ctl_wrong_size_is_einval),
        cmocka_unit_test(test_ctl_read_only_control_refuses_writes_with_eperm),
        cmocka_unit_test(test_ctl_action_cannot_be_read),
        cmocka_unit_test_setup_teardown(test_ctl_actions_run_with_or_without_argument, reset,
                                        reset),
        cmocka_unit_test_setup_teardown(test_ctl_value_round_trips_through_memshim_ctl, reset,
                                        reset),
        cmocka_unit_test_setup_teardown(test_ctl_text_forms_parse_each_type, reset, reset),
        cmocka_unit_test_setup_teardown(test_ctl_text_forms_reject_malformed_values, reset, reset),
        cmocka_unit_test(test_ctl_get_str_reports_a_short_buffer),
        cmocka_unit_test(test_ctl_version_and_stats_are_readable),
        cmocka_unit_test(test_ctl_foreach_lists_every_row_and_stops_early),
        cmocka_unit_test(test_ctl_parse_value_checks_the_output_size),
        cmocka_unit_test(test_ctl_every_row_has_the_handlers_its_flags_promise),
    };
    return cmocka_run_group_tests_name("shim_ctl", tests, NULL, NULL);
}
