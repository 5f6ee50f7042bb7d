/* SPDX-License-Identifier: MIT */
/*
 * test_tools_ctl.c - the `memshim ctl` client's pure parts (tools/memshim_ctl.c): how
 * command words become one request line, and how reply bodies are printed for people.
 */
#include "test_common.h"

#include "ctlproto.h"
#include "../../tools/memshim_cli.h"

static char line[MS_CTLPROTO_MAX_LINE + 64];
static char err[256];

static int build(int argc, const char **argv, bool json, const char *cwd) {
    return mscli_ctl_build_line(argc, (char **)argv, json, cwd, line, sizeof(line), err,
                                sizeof(err));
}

static void test_ctl_line_joins_words_with_spaces(void **state) {
    (void)state;
    const char *argv[] = {"set", "log.level", "2"};
    assert_int_equal(build(3, argv, false, "/home/u"), 0);
    assert_string_equal(line, "set log.level 2");
}

static void test_ctl_line_appends_json_flag(void **state) {
    (void)state;
    const char *argv[] = {"stats"};
    assert_int_equal(build(1, argv, true, NULL), 0);
    assert_string_equal(line, "stats --json");
}

static void test_ctl_line_makes_relative_dump_path_absolute(void **state) {
    (void)state;
    const char *rel[] = {"heap", "dump", "out/a.heap"};
    assert_int_equal(build(3, rel, false, "/home/u"), 0);
    assert_string_equal(line, "heap dump /home/u/out/a.heap");
    const char *abs[] = {"heap", "dump", "/tmp/a.heap"};
    assert_int_equal(build(3, abs, false, "/home/u"), 0);
    assert_string_equal(line, "heap dump /tmp/a.heap");
    const char *other[] = {"get", "rel/name"}; /* only dump paths are paths */
    assert_int_equal(build(2, other, false, "/home/u"), 0);
    assert_string_equal(line, "get rel/name");
}

static void test_ctl_line_rejects_words_with_whitespace(void **state) {
    (void)state;
    const char *argv[] = {"heap", "dump", "/tmp/a b.heap"};
    assert_int_equal(build(3, argv, false, NULL), -EINVAL);
    assert_string_equal(err, "argument 3 ('/tmp/a b.heap') is empty or contains whitespace");
    const char *empty[] = {"get", ""};
    assert_int_equal(build(2, empty, false, NULL), -EINVAL);
    const char *ctrl[] = {"get", "a\nb"};
    assert_int_equal(build(2, ctrl, false, NULL), -EINVAL);
}

static void test_ctl_line_rejects_no_command(void **state) {
    (void)state;
    assert_int_equal(build(0, NULL, false, NULL), -EINVAL);
    assert_string_equal(err, "no command given (try 'help')");
}

static void test_ctl_line_rejects_oversized_request(void **state) {
    (void)state;
    static char big[MS_CTLPROTO_MAX_LINE];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    const char *argv[] = {"get", big};
    assert_int_equal(build(2, argv, false, NULL), -EMSGSIZE);
    assert_string_equal(err, "request longer than 4095 bytes");
}

/* Renders into a memory stream and returns what was printed. */
static const char *render(int kind, const char *body) {
    static char out[4096];
    memset(out, 0, sizeof(out));
    FILE *f = fmemopen(out, sizeof(out) - 1, "w");
    assert_non_null(f);
    assert_int_equal(mscli_ctl_render(kind, body, strlen(body), f), 0);
    fclose(f);
    return out;
}

static void test_ctl_render_aligns_kv(void **state) {
    (void)state;
    assert_string_equal(render(MS_CTLPROTO_KV, "allocated\t1024\npid\t7\n"),
                        "allocated  1024\n"
                        "pid           7\n"); /* numbers right-aligned */
}

static void test_ctl_render_right_aligns_numeric_columns(void **state) {
    (void)state;
    assert_string_equal(render(MS_CTLPROTO_TABLE, "bin\tsize\tutil\n0\t8\t0.5\n12\t256\t1.000\n"),
                        "bin  size   util\n"
                        "0       8    0.5\n"
                        "12    256  1.000\n");
}

static void test_ctl_render_left_aligns_text_columns(void **state) {
    (void)state;
    assert_string_equal(render(MS_CTLPROTO_TABLE, "name\tvalue\nlog.level\t1\nprof.dump_dir\t-\n"
                                                  "ctl.socket\t/tmp/x.sock\n"),
                        "name           value\n"
                        "log.level      1\n"
                        "prof.dump_dir  -\n"
                        "ctl.socket     /tmp/x.sock\n");
}

static void test_ctl_render_prints_text_and_json_verbatim(void **state) {
    (void)state;
    assert_string_equal(render(MS_CTLPROTO_TEXT, "a\tb\n"), "a\tb\n");
    assert_string_equal(render(MS_CTLPROTO_JSON, "{\"a\": 1}\n"), "{\"a\": 1}\n");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ctl_line_joins_words_with_spaces),
        cmocka_unit_test(test_ctl_line_appends_json_flag),
        cmocka_unit_test(test_ctl_line_makes_relative_dump_path_absolute),
        cmocka_unit_test(test_ctl_line_rejects_words_with_whitespace),
        cmocka_unit_test(test_ctl_line_rejects_no_command),
        cmocka_unit_test(test_ctl_line_rejects_oversized_request),
        cmocka_unit_test(test_ctl_render_aligns_kv),
        cmocka_unit_test(test_ctl_render_right_aligns_numeric_columns),
        cmocka_unit_test(test_ctl_render_left_aligns_text_columns),
        cmocka_unit_test(test_ctl_render_prints_text_and_json_verbatim),
    };
    return cmocka_run_group_tests_name("tools_ctl", tests, NULL, NULL);
}
