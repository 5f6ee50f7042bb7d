/* SPDX-License-Identifier: MIT */
/*
 * test_hp_dump.c - the heap_v2 dump reader: a well-formed dump is read field by field, and
 * every class of malformed input gets its own error naming the exact line.
 */
#include "test_common.h"

#include "heapprof.h"

#include <math.h>
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

/*
 * A reader that produces a large dump in small pieces: a header, `records` stack records
 * cycling over three backtraces (each with a thread line), and the mappings. It checks that
 * the dump reader never asks for more than HP_DUMP_READ_MAX bytes at once, and counts
 * what it produced.
 */
typedef struct gen {
    size_t records, next; // records written so far
    int phase;            // 0 header, 1 stacks, 2 mappings, 3 end
    char pend[256];
    size_t pend_len, pend_off;
    size_t max_len;
    uint64_t produced;
} gen_t;

static void gen_refill(gen_t *g) {
    static const char *const stacks[3] = {"@ 0x10 0x21 0x31\n", "@ 0x11 0x21\n",
                                          "@ 0x12 0x22 0x32 0x42\n"};
    int n = 0;
    if (g->phase == 0) {
        n = snprintf(g->pend, sizeof(g->pend), "heap_v2/524288\n  t*: 3: 3000 [0: 0]\n");
        g->phase = 1;
    } else if (g->phase == 1 && g->next < g->records) {
        size_t i = g->next++;
        n = snprintf(g->pend, sizeof(g->pend),
                     "%s  t*: 1: %zu [2: 2000]\n  t%zu: 1: %zu [2: 2000]\n", stacks[i % 3],
                     100 + 100 * (i % 3), i % 2, 100 + 100 * (i % 3));
    } else if (g->phase == 1) {
        n = snprintf(g->pend, sizeof(g->pend), "\nMAPPED_LIBRARIES:\n");
        g->phase = 2;
    } else if (g->phase == 2) {
        n = snprintf(g->pend, sizeof(g->pend), "00001000-00002000 r-xp 00000000 00:00 0 /p\n");
        g->phase = 3;
    }
    g->pend_len = (size_t)n;
    g->pend_off = 0;
}

static ssize_t gen_read(void *ctx, void *buf, size_t len) {
    gen_t *g = ctx;
    if (len > g->max_len) g->max_len = len;
    size_t done = 0;
    while (done < len) {
        if (g->pend_off == g->pend_len) {
            if (g->phase == 3) break;
            gen_refill(g);
            if (g->pend_len == 0) break;
        }
        size_t n = g->pend_len - g->pend_off;
        if (n > len - done) n = len - done;
        memcpy((char *)buf + done, g->pend + g->pend_off, n);
        g->pend_off += n;
        done += n;
    }
    g->produced += done;
    return (ssize_t)done;
}

static void test_dump_streams_with_a_bounded_buffer(void **state) {
    (void)state;
    /* ~45 MB of input through a reader that never holds more than HP_DUMP_READ_MAX: the
     * input is streamed, and what is kept is the three distinct backtraces. */
    gen_t g = {.records = 900000};
    hp_dump_t *d = hp_dump_new();
    assert_int_equal(hp_dump_read(d, gen_read, &g, 0), 0);
    assert_true(g.max_len <= HP_DUMP_READ_MAX);
    assert_true(g.produced > 32ull * HP_DUMP_READ_MAX);
    assert_int_equal(hp_dump_stack_count(d), 3);
    hp_stack_t st;
    assert_int_equal(hp_dump_stack(d, 0, &st), 0);
    assert_int_equal(st.depth, 3);
    assert_int_equal(st.counts.cur_objs, 300000);
    assert_int_equal(st.counts.cur_bytes, 300000ull * 100);
    assert_int_equal(st.counts.cum_bytes, 300000ull * 2000);
    /* Each occurrence scaled on its own, then summed. */
    double n, b;
    hp_scale(524288, 1, 100, &n, &b);
    assert_true(fabs(st.scaled.cur_bytes - 300000 * b) < 1e-6 * 300000 * b);
    assert_true(fabs(st.scaled.cur_objs - 300000 * n) < 1e-6 * 300000 * n);
    assert_int_equal(st.nthreads, 2); // t0 and t1, each summed
    assert_int_equal(st.threads[0].thread, 0);
    assert_int_equal(st.threads[0].counts.cur_objs + st.threads[1].counts.cur_objs, 300000);
    assert_int_equal(hp_dump_stack(d, 2, &st), 0);
    assert_int_equal(st.depth, 4);
    assert_int_equal(st.counts.cur_bytes, 300000ull * 300);
    size_t nmaps;
    hp_dump_mappings(d, &nmaps);
    assert_int_equal(nmaps, 1);
    hp_dump_free(d);
}

/* Hands out the text one byte at a time: every line is split across reads. */
static ssize_t byte_read(void *ctx, void *buf, size_t len) {
    const char **p = ctx;
    if (len == 0 || **p == '\0') return 0;
    *(char *)buf = *(*p)++;
    return 1;
}

static void test_dump_reads_byte_by_byte(void **state) {
    (void)state;
    const char *p = good_dump;
    hp_dump_t *d = hp_dump_new();
    assert_int_equal(hp_dump_read(d, byte_read, &p, 0), 0);
    assert_int_equal(hp_dump_stack_count(d), 2);
    size_t nmaps;
    const hp_mapping_t *m = hp_dump_mappings(d, &nmaps);
    assert_int_equal(nmaps, 4);
    assert_string_equal(m[2].path, "/usr/lib/x.so.2");
    hp_dump_free(d);
    p = "heap_v2/4096\n  t*: 1: x [0: 0]\n";
    d = hp_dump_new();
    assert_int_equal(hp_dump_read(d, byte_read, &p, 0), -EPROTO);
    assert_string_equal(hp_dump_errstr(d), "dump line 2: bad counts line");
    hp_dump_free(d);
}

static void test_dump_merges_repeated_stacks_threads_and_mappings(void **state) {
    (void)state;
    int rc;
    hp_dump_t *d = parse("heap_v2/1\n"
                         "  t*: 3: 300 [0: 0]\n"
                         "  t1: 1: 100 [0: 0] a\n"
                         "  t1: 2: 200 [0: 0] b\n"
                         "@ 0x10 0x20\n"
                         "  t*: 1: 100 [0: 0]\n"
                         "  t1: 1: 100 [0: 0]\n"
                         "@ 0x30\n"
                         "  t*: 1: 100 [0: 0]\n"
                         "  t2: 1: 100 [0: 0]\n"
                         "@ 0x10 0x20\n"
                         "  t*: 1: 50 [0: 0]\n"
                         "  t2: 1: 50 [0: 0]\n"
                         "  t1: 1: 18446744073709551615 [0: 0]\n"
                         "MAPPED_LIBRARIES:\n"
                         "00001000-00002000 r-xp 00000000 00:00 0 /p\n"
                         "00001000-00002000 r-xp 00000000 00:00 0 /p\n"
                         "00002000-00003000 r-xp 00000000 00:00 0 /p\n",
                         &rc);
    assert_int_equal(rc, 0);
    size_t n;
    const hp_thread_counts_t *thr = hp_dump_threads(d, &n);
    assert_int_equal(n, 1);
    assert_string_equal(thr[0].name, "a");
    assert_int_equal(thr[0].counts.cur_objs, 3);
    assert_int_equal(hp_dump_stack_count(d), 2);
    hp_stack_t st;
    assert_int_equal(hp_dump_stack(d, 0, &st), 0);
    assert_int_equal(st.counts.cur_objs, 2);
    assert_int_equal(st.counts.cur_bytes, 150);
    assert_true(st.scaled.cur_bytes == 150);
    assert_int_equal(st.nthreads, 2); // t1 (summed, saturated) then t2
    assert_int_equal(st.threads[0].thread, 1);
    assert_int_equal(st.threads[0].counts.cur_bytes, UINT64_MAX);
    assert_int_equal(st.threads[1].thread, 2);
    assert_int_equal(hp_dump_stack(d, 1, &st), 0);
    assert_int_equal(st.nthreads, 1);
    assert_int_equal(st.threads[0].thread, 2);
    assert_int_equal(st.threads[0].counts.cur_bytes, 100);
    hp_dump_mappings(d, &n);
    assert_int_equal(n, 2);
    hp_dump_free(d);
}

static void test_dump_rejects_overlong_line(void **state) {
    (void)state;
    size_t len = HP_DUMP_READ_MAX + 100;
    char *text = malloc(len + 64);
    assert_non_null(text);
    int off = snprintf(text, 64, "heap_v2/4096\n  t*: 1: 2 [0: 0]\n@");
    for (size_t i = (size_t)off; i < len; i += 4)
        memcpy(text + i, " 0x1", 4);
    strcpy(text + len, "\n");
    hp_dump_t *d = hp_dump_new();
    assert_int_equal(hp_dump_parse(d, text, strlen(text)), -EPROTO);
    assert_string_equal(hp_dump_errstr(d), "dump line 3: line too long (1048576 bytes or more)");
    hp_dump_free(d);
    /* A first line that never ends is not a heap profile. */
    memset(text, 'x', len);
    d = hp_dump_new();
    assert_int_equal(hp_dump_parse(d, text, len), -EPROTO);
    assert_string_equal(hp_dump_errstr(d), "dump line 1: not a jemalloc heap profile (expected "
                                           "\"heap_v2/<period>\")");
    hp_dump_free(d);
    free(text);
}

static ssize_t failing_read(void *ctx, void *buf, size_t len) {
    (void)ctx, (void)buf, (void)len;
    return -EIO;
}

static void test_dump_reports_read_errors(void **state) {
    (void)state;
    hp_dump_t *d = hp_dump_new();
    assert_int_equal(hp_dump_read(d, failing_read, NULL, 0), -EIO);
    assert_string_equal(hp_dump_errstr(d), "dump line 1: read error: Input/output error");
    hp_dump_free(d);
}

static void test_dump_load_reads_a_pipe(void **state) {
    (void)state;
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    /* good_dump fits in a pipe's buffer: write it all, then read from the other end. */
    assert_int_equal(write(fds[1], good_dump, strlen(good_dump)), (ssize_t)strlen(good_dump));
    close(fds[1]);
    hp_dump_t *d = hp_dump_new();
    assert_int_equal(hp_dump_read_fd(d, fds[0]), 0);
    assert_int_equal(hp_dump_stack_count(d), 2);
    hp_dump_free(d);
    close(fds[0]);
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
        cmocka_unit_test(test_dump_streams_with_a_bounded_buffer),
        cmocka_unit_test(test_dump_reads_byte_by_byte),
        cmocka_unit_test(test_dump_merges_repeated_stacks_threads_and_mappings),
        cmocka_unit_test(test_dump_rejects_overlong_line),
        cmocka_unit_test(test_dump_reports_read_errors),
        cmocka_unit_test(test_dump_load_reads_a_pipe),
    };
    return cmocka_run_group_tests_name("hp_dump", tests, NULL, NULL);
}
