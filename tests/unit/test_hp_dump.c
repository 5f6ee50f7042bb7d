/* SPDX-License-Identifier: MIT */
/*
 * test_hp_dump.c - the heap_v2 dump reader: a well-formed dump is read field by field, and
 * every class of malformed input gets its own error naming the exact line.
 */
#include "test_common.h"

#include "heapprof.h"

#include <unistd.h>

static const char good_dump[] =
    "heap_v2/524288\n"
    "  t*: 3: 1600 [0: 0]\n"
    "  t0: 2: 1000 [0: 0]\n"
    "  t7: 1: 600 [0: 0] worker thread\n"
    "@ 0x7f0000001234 0x55aa00001000 0x55aa00002000\n"
    "  t*: 2: 1000 [5: 2500]\n"
    "  t0: 2: 1000 [5: 2500]\n"
    "@ 0x7f0000001234 0x55aa00003000\n"
    "  t*: 1: 600 [0: 0]\n"
    "  t7: 1: 600 [0: 0]\n"
    "\n"
    "MAPPED_LIBRARIES:\n"
    "55aa00000000-55aa00001000 r--p 00000000 fe:00 5308693                    /usr/bin/prog\n"
    "55aa00001000-55aa00004000 r-xp 00001000 fe:00 5308693                    /usr/bin/prog\n"
    "7f0000000000-7f0000100000 r-xp 00009000 fe:00 14884866                   /usr/lib/x.so.2 "
    "(deleted)\n"
    "7fdd4bf00000-7fdd4cc00000 rw-p 00000000 00:00 0 \n";

static hp_dump_t *parse(const char *text, int *rc) {
    hp_dump_t *d = hp_dump_new();
    assert_non_null(d);
    *rc = hp_dump_parse(d, text, strlen(text));
    return d;
}

/* Parses text, which must fail with -EPROTO and exactly the message want. */
static void expect_error(const char *text, const char *want) {
    int rc;
    hp_dump_t *d = parse(text, &rc);
    assert_int_equal(rc, -EPROTO);
    assert_string_equal(hp_dump_errstr(d), want);
    hp_dump_free(d);
}

static void test_dump_reads_header_stacks_and_mappings(void **state) {
    (void)state;
    int rc;
    hp_dump_t *d = parse(good_dump, &rc);
    assert_int_equal(rc, 0);
    assert_string_equal(hp_dump_errstr(d), "");
    assert_int_equal(hp_dump_period(d), 524288);
    const hp_counts_t *tot = hp_dump_totals(d);
    assert_int_equal(tot->cur_objs, 3);
    assert_int_equal(tot->cur_bytes, 1600);

    size_t nthr;
    const hp_thread_counts_t *thr = hp_dump_threads(d, &nthr);
    assert_int_equal(nthr, 2);
    assert_int_equal(thr[0].thread, 0);
    assert_string_equal(thr[0].name, "");
    assert_int_equal(thr[1].thread, 7);
    assert_string_equal(thr[1].name, "worker thread");
    assert_int_equal(thr[1].counts.cur_bytes, 600);

    assert_int_equal(hp_dump_stack_count(d), 2);
    hp_stack_t st;
    assert_int_equal(hp_dump_stack(d, 0, &st), 0);
    assert_int_equal(st.depth, 3);
    assert_int_equal(st.pcs[0], 0x7f0000001234ull);
    assert_int_equal(st.pcs[2], 0x55aa00002000ull);
    assert_int_equal(st.counts.cur_objs, 2);
    assert_int_equal(st.counts.cur_bytes, 1000);
    assert_int_equal(st.counts.cum_objs, 5);
    assert_int_equal(st.counts.cum_bytes, 2500);
    assert_int_equal(st.nthreads, 1);
    assert_int_equal(st.threads[0].thread, 0);
    assert_int_equal(hp_dump_stack(d, 1, &st), 0);
    assert_int_equal(st.depth, 2);
    assert_int_equal(st.threads[0].thread, 7);
    assert_int_equal(hp_dump_stack(d, 2, &st), -ERANGE);

    size_t nmaps;
    const hp_mapping_t *m = hp_dump_mappings(d, &nmaps);
    assert_int_equal(nmaps, 4);
    assert_int_equal(m[1].start, 0x55aa00001000ull);
    assert_int_equal(m[1].end, 0x55aa00004000ull);
    assert_int_equal(m[1].offset, 0x1000);
    assert_string_equal(m[1].perms, "r-xp");
    assert_string_equal(m[1].path, "/usr/bin/prog");
    assert_int_equal(m[1].inode, 5308693);
    assert_string_equal(m[2].path, "/usr/lib/x.so.2");
    assert_string_equal(m[3].path, "");
    hp_dump_free(d);
}

static void test_dump_accepts_crlf_and_trailing_blanks(void **state) {
    (void)state;
    int rc;
    hp_dump_t *d = parse("heap_v2/4096 \r\n"
                         "  t*: 1: 64 [0: 0]  \r\n"
                         "@ 0x10 0 0xAbC\r\n"
                         "  t*: 1: 64 [0: 0]\r\n"
                         "MAPPED_LIBRARIES:\r\n",
                         &rc);
    assert_int_equal(rc, 0);
    hp_stack_t st;
    assert_int_equal(hp_dump_stack(d, 0, &st), 0);
    assert_int_equal(st.depth, 3);
    assert_int_equal(st.pcs[1], 0);
    assert_int_equal(st.pcs[2], 0xabc);
    hp_dump_free(d);
}

static void test_dump_rejects_empty_file(void **state) {
    (void)state;
    expect_error("", "dump line 1: empty file, not a heap profile");
}

static void test_dump_rejects_non_heap_file(void **state) {
    (void)state;
    expect_error("\x7f"
                 "ELF\x02\x01\x01\n",
                 "dump line 1: not a jemalloc heap profile (expected \"heap_v2/<period>\")");
    expect_error("heap profile:   1:  2 [  1:  2] @ heapprofile\n",
                 "dump line 1: not a jemalloc heap profile (expected \"heap_v2/<period>\")");
}

static void test_dump_rejects_bad_sample_period(void **state) {
    (void)state;
    expect_error("heap_v2/12x\n", "dump line 1: bad sample period");
    expect_error("heap_v2/\n", "dump line 1: bad sample period");
}

static void test_dump_rejects_bad_counts(void **state) {
    (void)state;
    expect_error("heap_v2/4096\n  t*: 1: x [0: 0]\n", "dump line 2: bad counts line");
    expect_error("heap_v2/4096\n  t*: 1: 2 [0: 0\n", "dump line 2: bad counts line");
    expect_error("heap_v2/4096\n  t*: 1: 2 [0: 0] name\n", "dump line 2: bad counts line");
    expect_error("heap_v2/4096\n  t*: 1: 2 [0: 0]\n@ 0x1\n  t*: 1 2 [0: 0]\n",
                 "dump line 4: bad counts line");
}

static void test_dump_rejects_numbers_out_of_range(void **state) {
    (void)state;
    expect_error("heap_v2/4096\n  t*: 18446744073709551616: 2 [0: 0]\n",
                 "dump line 2: number out of range");
    expect_error("heap_v2/4096\n  t*: 1: 2 [0: 0]\n@ 0x10000000000000000\n",
                 "dump line 3: bad stack address");
}

static void test_dump_rejects_bad_stack_address(void **state) {
    (void)state;
    expect_error("heap_v2/4096\n  t*: 1: 2 [0: 0]\n@ 0x1 0x2\n  t*: 1: 2 [0: 0]\n"
                 "@ 0x1 zz 0x3\n",
                 "dump line 5: bad stack address");
    expect_error("heap_v2/4096\n  t*: 1: 2 [0: 0]\n@ 0x1,0x2\n", "dump line 3: bad stack address");
}

static void test_dump_rejects_empty_stack(void **state) {
    (void)state;
    expect_error("heap_v2/4096\n  t*: 1: 2 [0: 0]\n@\n", "dump line 3: empty stack");
}

static void test_dump_rejects_stack_without_counts(void **state) {
    (void)state;
    expect_error("heap_v2/4096\n  t*: 1: 2 [0: 0]\n@ 0x1\n@ 0x2\n",
                 "dump line 4: stack without a t* line");
    expect_error("heap_v2/4096\n  t*: 1: 2 [0: 0]\n@ 0x1\n\nMAPPED_LIBRARIES:\n",
                 "dump line 5: stack without a t* line");
    expect_error("heap_v2/4096\n  t*: 1: 2 [0: 0]\n@ 0x1\n  t3: 1: 2 [0: 0]\n",
                 "dump line 4: thread counts before the stack's t* line");
}

static void test_dump_rejects_duplicate_and_missing_totals(void **state) {
    (void)state;
    expect_error("heap_v2/4096\n  t*: 1: 2 [0: 0]\n  t*: 1: 2 [0: 0]\n",
                 "dump line 3: duplicate t* line");
    expect_error("heap_v2/4096\n@ 0x1\n", "dump line 2: missing t* totals");
    expect_error("heap_v2/4096\n  t1: 1: 2 [0: 0]\n",
                 "dump line 2: thread counts before the t* totals");
}

static void test_dump_rejects_unexpected_line(void **state) {
    (void)state;
    expect_error("heap_v2/4096\n  t*: 1: 2 [0: 0]\n@ 0x1\n  t*: 1: 2 [0: 0]\nhello\n",
                 "dump line 5: unexpected line");
}

static void test_dump_reports_truncation(void **state) {
    (void)state;
    expect_error("heap_v2/4096\n  t*: 1: 2 [0: 0]\n@ 0x1\n  t*: 1: 2 [0: 0]\n",
                 "dump line 4: truncated (no MAPPED_LIBRARIES section)");
    expect_error("heap_v2/4096\n  t*: 1: 2 [0: 0]\n@ 0x1 0x2",
                 "dump line 3: truncated (last line has no newline)");
    expect_error("heap_v2/4096", "dump line 1: truncated (last line has no newline)");
    expect_error("heap_v2/4096\n  t*: 1: 2 [0: 0]\n\nMAPPED_LIBRARIES:\n"
                 "55aa00000000-55aa00001000 r--p 00000000 fe:00 5308693   /usr/bin/p",
                 "dump line 5: truncated (last line has no newline)");
}

static void test_dump_rejects_bad_mapping_line(void **state) {
    (void)state;
    expect_error("heap_v2/4096\n  t*: 1: 2 [0: 0]\n\nMAPPED_LIBRARIES:\n"
                 "55aa00000000-55aa00001000 r--p 00000000 fe:00 5308693   /usr/bin/p\n"
                 "55aa00001000 r-xp 00001000 fe:00 5308693   /usr/bin/p\n",
                 "dump line 6: bad mapping line");
    expect_error("heap_v2/4096\n  t*: 1: 2 [0: 0]\n\nMAPPED_LIBRARIES:\n"
                 "55aa00002000-55aa00001000 r--p 00000000 fe:00 1 /p\n",
                 "dump line 5: bad mapping line");
}

static void test_dump_error_is_sticky(void **state) {
    (void)state;
    int rc;
    hp_dump_t *d = parse("heap_v2/4096\n  t*: 1: x [0: 0]\n", &rc);
    assert_int_equal(rc, -EPROTO);
    assert_int_equal(hp_dump_parse(d, good_dump, strlen(good_dump)), -EPROTO);
    assert_string_equal(hp_dump_errstr(d), "dump line 2: bad counts line");
    hp_dump_free(d);
    d = parse(good_dump, &rc);
    assert_int_equal(rc, 0);
    assert_int_equal(hp_dump_parse(d, good_dump, strlen(good_dump)), -EINVAL);
    hp_dump_free(d);
}

static void test_dump_load_names_missing_file(void **state) {
    (void)state;
    hp_dump_t *d = hp_dump_new();
    assert_int_equal(hp_dump_load(d, "/nonexistent/x.heap"), -ENOENT);
    assert_string_equal(hp_dump_errstr(d), "/nonexistent/x.heap: No such file or directory");
    hp_dump_free(d);
}

static void test_dump_load_reads_a_file(void **state) {
    (void)state;
    char path[] = "/tmp/test_hp_dump.XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, good_dump, strlen(good_dump)), (ssize_t)strlen(good_dump));
    close(fd);
    hp_dump_t *d = hp_dump_new();
    assert_int_equal(hp_dump_load(d, path), 0);
    assert_int_equal(hp_dump_stack_count(d), 2);
    hp_dump_free(d);
    unlink(path);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dump_reads_header_stacks_and_mappings),
        cmocka_unit_test(test_dump_accepts_crlf_and_trailing_blanks),
        cmocka_unit_test(test_dump_rejects_empty_file),
        cmocka_unit_test(test_dump_rejects_non_heap_file),
        cmocka_unit_test(test_dump_rejects_bad_sample_period),
        cmocka_unit_test(test_dump_rejects_bad_counts),
        cmocka_unit_test(test_dump_rejects_numbers_out_of_range),
        cmocka_unit_test(test_dump_rejects_bad_stack_address),
        cmocka_unit_test(test_dump_rejects_empty_stack),
        cmocka_unit_test(test_dump_rejects_stack_without_counts),
        cmocka_unit_test(test_dump_rejects_duplicate_and_missing_totals),
        cmocka_unit_test(test_dump_rejects_unexpected_line),
        cmocka_unit_test(test_dump_reports_truncation),
        cmocka_unit_test(test_dump_rejects_bad_mapping_line),
        cmocka_unit_test(test_dump_error_is_sticky),
        cmocka_unit_test(test_dump_load_names_missing_file),
        cmocka_unit_test(test_dump_load_reads_a_file),
    };
    return cmocka_run_group_tests_name("hp_dump", tests, NULL, NULL);
}
