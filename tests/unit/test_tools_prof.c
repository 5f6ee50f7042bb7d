/* SPDX-License-Identifier: MIT */
/*
 * test_tools_prof - the leak report of `memshim run --prof --report` (tools/memshim_prof.c):
 * when it turns itself on, where the dump at exit goes, and which dump it reads.
 */
#include "test_common.h"

#include "../../tools/memshim_cli.h"

#include <sys/stat.h>
#include <unistd.h>

static char tmpdir[256];
static char base[200] = "/tmp"; /* the TMPDIR the run started with (a test changes it) */

static int setup(void **state) {
    (void)state;
    setenv("TMPDIR", base, 1);
    snprintf(tmpdir, sizeof(tmpdir), "%s/test_tools_prof.XXXXXX", base);
    if (mkdtemp(tmpdir) == NULL) return -1;
    unsetenv("MEMSHIM_REPORT");
    unsetenv("MEMSHIM_PROF");
    unsetenv("MEMSHIM_DUMP_DIR");
    unsetenv("MEMSHIM_DUMP_AT_EXIT");
    return 0;
}

static int teardown(void **state) {
    (void)state;
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static void touch(const char *dir, const char *name) {
    char path[4200];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fclose(f);
}

static void test_prof_find_dump_picks_the_highest_sequence_of_the_pid(void **state) {
    (void)state;
    touch(tmpdir, "memshim.4242.0.heap");
    touch(tmpdir, "memshim.4242.10.heap");
    touch(tmpdir, "memshim.4242.9.heap");
    touch(tmpdir, "memshim.42420.11.heap"); /* another pid with the same prefix digits */
    touch(tmpdir, "memshim.4242.12.heap.tmp");
    touch(tmpdir, "memshim.4242.x.heap");
    char out[512], want[512];
    assert_int_equal(mscli_prof_find_dump(tmpdir, 4242, out, sizeof(out)), 0);
    snprintf(want, sizeof(want), "%s/memshim.4242.10.heap", tmpdir);
    assert_string_equal(out, want);
    assert_int_equal(mscli_prof_find_dump(tmpdir, 7, out, sizeof(out)), -ENOENT);
    assert_int_equal(mscli_prof_find_dump(tmpdir, 4242, out, 8), -ERANGE);
}

static void test_prof_prepare_needs_both_report_and_prof(void **state) {
    (void)state;
    mscli_prof_leak_t lk;
    setenv("MEMSHIM_REPORT", "1", 1);
    assert_int_equal(mscli_prof_leak_prepare(&lk), 0);
    assert_false(lk.enabled);
    assert_null(getenv("MEMSHIM_DUMP_AT_EXIT"));
    unsetenv("MEMSHIM_REPORT");
    setenv("MEMSHIM_PROF", "1", 1);
    assert_int_equal(mscli_prof_leak_prepare(&lk), 0);
    assert_false(lk.enabled);
    assert_null(getenv("MEMSHIM_DUMP_AT_EXIT"));
}

static void test_prof_prepare_uses_the_given_dump_dir_and_keeps_it(void **state) {
    (void)state;
    mscli_prof_leak_t lk;
    setenv("MEMSHIM_REPORT", "1", 1);
    setenv("MEMSHIM_PROF", "true", 1);
    setenv("MEMSHIM_DUMP_DIR", tmpdir, 1);
    assert_int_equal(mscli_prof_leak_prepare(&lk), 0);
    assert_true(lk.enabled);
    assert_false(lk.temporary);
    assert_string_equal(lk.dir, tmpdir);
    assert_string_equal(getenv("MEMSHIM_DUMP_AT_EXIT"), "1");
    assert_string_equal(getenv("MEMSHIM_DUMP_DIR"), tmpdir);
    /* No dump from this pid: reported as missing, and the user's directory stays. */
    assert_int_equal(mscli_prof_leak_report(&lk, 99999999, "cmd", NULL), -ENOENT);
    struct stat sb;
    assert_int_equal(stat(tmpdir, &sb), 0);
}

static void test_prof_prepare_makes_a_temporary_dir_and_report_removes_it(void **state) {
    (void)state;
    mscli_prof_leak_t lk;
    setenv("MEMSHIM_REPORT", "1", 1);
    setenv("MEMSHIM_PROF", "1", 1);
    setenv("TMPDIR", tmpdir, 1);
    assert_int_equal(mscli_prof_leak_prepare(&lk), 0);
    assert_true(lk.enabled);
    assert_true(lk.temporary);
    assert_memory_equal(lk.dir, tmpdir, strlen(tmpdir));
    assert_string_equal(getenv("MEMSHIM_DUMP_DIR"), lk.dir);
    struct stat sb;
    assert_int_equal(stat(lk.dir, &sb), 0);
    assert_true(S_ISDIR(sb.st_mode));
    touch(lk.dir, "memshim.5.0.heap.other");
    assert_int_equal(mscli_prof_leak_report(&lk, 5, "cmd", NULL), -ENOENT);
    assert_int_equal(stat(lk.dir, &sb), -1);
    assert_int_equal(errno, ENOENT);
}

static void test_prof_report_does_nothing_when_not_enabled(void **state) {
    (void)state;
    mscli_prof_leak_t lk;
    assert_int_equal(mscli_prof_leak_prepare(&lk), 0);
    assert_false(lk.enabled);
    assert_int_equal(mscli_prof_leak_report(&lk, 1, "cmd", NULL), 0);
}

int main(void) {
    const char *t = getenv("TMPDIR");
    if (t != NULL && t[0] != '\0') snprintf(base, sizeof(base), "%s", t);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_prof_find_dump_picks_the_highest_sequence_of_the_pid,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_prof_prepare_needs_both_report_and_prof, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_prof_prepare_uses_the_given_dump_dir_and_keeps_it,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_prof_prepare_makes_a_temporary_dir_and_report_removes_it, setup, teardown),
        cmocka_unit_test_setup_teardown(test_prof_report_does_nothing_when_not_enabled, setup,
                                        teardown),
    };
    return cmocka_run_group_tests_name("tools_prof", tests, NULL, NULL);
}
