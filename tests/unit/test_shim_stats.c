/* SPDX-License-Identifier: MIT */
/*
 * test_shim_stats.c - jemalloc's counters through memshim_stats_get, glibc's
 * introspection calls answered from them (mallinfo2/mallinfo, malloc_trim,
 * malloc_stats), and the exit report's sampler and text.
 */
#include "test_common.h"

#include <malloc.h>
#include <unistd.h>

#include "memshim_internal.h"

enum { BIG = 32u << 20 };

/* Runs fn with stderr captured into buf (NUL-terminated, truncated to len). */
static void capture_stderr(void (*fn)(void), char *buf, size_t len) {
    char path[] = "/tmp/test_shim_stats.XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    unlink(path);
    int saved = dup(STDERR_FILENO);
    dup2(fd, STDERR_FILENO);
    fn();
    dup2(saved, STDERR_FILENO);
    close(saved);
    ssize_t n = pread(fd, buf, len - 1, 0);
    close(fd);
    buf[n > 0 ? n : 0] = '\0';
}

static void test_stats_get_rejects_null(void **state) {
    (void)state;
    assert_int_equal(memshim_stats_get(NULL), -EINVAL);
}

static void test_stats_follow_an_allocation_and_its_free(void **state) {
    (void)state;
    memshim_stats_t a, b, c;
    assert_int_equal(memshim_stats_get(&a), 0);
    char *p = ms_malloc(BIG);
    assert_non_null(p);
    memset(p, 1, BIG);
    assert_int_equal(memshim_stats_get(&b), 0);
    ms_free(p);
    assert_int_equal(memshim_stats_get(&c), 0);
    assert_true(b.allocated >= a.allocated + BIG);
    assert_true(b.resident >= BIG);
    assert_true(c.allocated + BIG <= b.allocated);
    assert_true(b.active >= b.allocated);
    assert_true(b.mapped >= b.active);
    assert_true(b.metadata > 0);
    assert_int_equal(b.frag_bytes, b.active - b.allocated);
    assert_true(b.frag_ratio >= 1.0);
}

static void test_stats_mallinfo2_reports_jemalloc_not_glibc(void **state) {
    (void)state;
    char *p = ms_malloc(BIG);
    assert_non_null(p);
    memshim_stats_t st;
    assert_int_equal(memshim_stats_get(&st), 0);
    struct mallinfo2 mi = ms_mallinfo2();
    assert_true(mi.uordblks >= BIG); /* glibc's own heap never saw this block */
    assert_int_equal(mi.uordblks, st.allocated);
    assert_int_equal(mi.arena, st.mapped);
    assert_int_equal(mi.fordblks, st.active - st.allocated);
    struct mallinfo m1 = ms_mallinfo();
    assert_true((size_t)m1.uordblks >= BIG);
    ms_free(p);
    struct mallinfo2 after = ms_mallinfo2();
    assert_true(after.uordblks + BIG <= mi.uordblks);
}

static void test_stats_malloc_trim_purges_freed_pages(void **state) {
    (void)state;
    /* Many mid-size blocks: freed, their dirty pages stay resident until purged. */
    enum { N = 512, SZ = 64 * 1024 };
    static char *blocks[N];
    for (int i = 0; i < N; i++) {
        blocks[i] = ms_malloc(SZ);
        assert_non_null(blocks[i]);
        memset(blocks[i], 3, SZ);
    }
    for (int i = 0; i < N; i++)
        ms_free(blocks[i]);
    memshim_stats_t before, after;
    assert_int_equal(memshim_stats_get(&before), 0);
    assert_int_equal(ms_malloc_trim(0), 1);
    assert_int_equal(memshim_stats_get(&after), 0);
    assert_true(after.resident < before.resident);
    assert_int_equal(ms_malloc_trim(0), 0); /* nothing left to release */
    assert_int_equal(memshim_purge(), 0);
}

static void stats_print(void) {
    ms_malloc_stats();
}

static void test_stats_malloc_stats_prints_jemalloc_report_to_stderr(void **state) {
    (void)state;
    static char buf[1 << 16];
    capture_stderr(stats_print, buf, sizeof(buf));
    assert_non_null(strstr(buf, "___ Begin jemalloc statistics ___"));
    assert_non_null(strstr(buf, "Version: \"5."));
}

static void test_report_sample_raises_peaks_only_upwards(void **state) {
    (void)state;
    char *p = ms_malloc(BIG);
    assert_non_null(p);
    memset(p, 1, BIG);
    memshim_stats_t st;
    assert_int_equal(ms_report_sample(&st), 0);
    ms_free(p);
    assert_int_equal(ms_report_sample(NULL), 0);
    size_t pa, pc, pr;
    ms_report_peaks(&pa, &pc, &pr);
    assert_true(pa >= st.allocated);
    assert_true(pa >= BIG);
    assert_true(pc >= st.active);
    assert_true(pr >= st.resident);
}

static void test_report_format_names_every_figure(void **state) {
    (void)state;
    memshim_stats_t fin = {0};
    fin.allocated = 1536;
    fin.active = 4096;
    fin.resident = 3u << 20;
    fin.frag_bytes = 2560;
    fin.frag_ratio = 4096.0 / 1536.0;
    fin.fail_injected = 3;
    fin.fail_countable = 10;
    char buf[1024];
    int n = ms_report_format(buf, sizeof(buf), "prog", &fin, 100, (size_t)5 << 30, 512);
    assert_true(n > 0);
    assert_int_equal((size_t)n, strlen(buf));
    assert_non_null(strstr(buf, "report for prog\n"));
    assert_non_null(strstr(buf, "allocated  peak        100 B  final      1.5 KiB\n"));
    assert_non_null(strstr(buf, "active     peak      5.0 GiB  final      4.0 KiB\n"));
    assert_non_null(strstr(buf, "resident   peak        512 B  final      3.0 MiB\n"));
    assert_non_null(strstr(buf, "fragmentation  2.667 (active/allocated), 2.5 KiB"));
    assert_non_null(strstr(buf, "failures injected  3 of 10 counted allocations\n"));
    char prefix[32];
    snprintf(prefix, sizeof(prefix), "memshim[%d]: ", (int)getpid());
    assert_int_equal(strncmp(buf, prefix, strlen(prefix)), 0);
    char tiny[40];
    assert_int_equal(ms_report_format(tiny, sizeof(tiny), "prog", &fin, 1, 1, 1), -ERANGE);
}

static void report_write(void) {
    ms_report_write();
}

static void test_report_write_goes_to_stderr_or_the_report_file(void **state) {
    (void)state;
    char buf[2048];
    capture_stderr(report_write, buf, sizeof(buf));
    assert_non_null(strstr(buf, "report for test_shim_stats\n"));
    assert_non_null(strstr(buf, "failures injected"));
    char path[] = "/tmp/test_shim_report.XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(memshim_ctl_set_str("config.report_file", path), 0);
    capture_stderr(report_write, buf, sizeof(buf));
    assert_string_equal(buf, "");
    ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
    assert_true(n > 0);
    buf[n] = '\0';
    assert_non_null(strstr(buf, "report for test_shim_stats\n"));
    close(fd);
    unlink(path);
    assert_int_equal(memshim_ctl_set_str("config.report_file", ""), 0);
}

static void test_report_prof_lines_say_what_profiling_costs(void **state) {
    (void)state;
    ms_report_prof_t p = {0};
    char buf[1024];
    assert_int_equal(ms_report_format_prof(buf, sizeof(buf), &p), 0); /* never active */
    assert_string_equal(buf, "");
    p.seen = true;
    p.lg_sample = 12;
    p.metadata_peak = 5u << 20;
    p.metadata_final = 3u << 20;
    p.run_size = 16384;
    p.runs_peak = 640;
    p.runs_final = 2;
    int n = ms_report_format_prof(buf, sizeof(buf), &p);
    assert_true(n > 0);
    assert_int_equal((size_t)n, strlen(buf));
    assert_non_null(strstr(buf,
                           "profiler   lg_sample 12 (a sample per 4.0 KiB); jemalloc metadata, "
                           "its tables included: peak 5.0 MiB, final 3.0 MiB\n"));
    assert_non_null(strstr(buf, "sampling this dense inflates memory: each sampled small block "
                                "takes a 16.0 KiB run (runs of that size live: peak 10.0 MiB, "
                                "final 32.0 KiB); the default lg_sample is 19\n"));
    char prefix[32];
    snprintf(prefix, sizeof(prefix), "memshim[%d]: ", (int)getpid());
    assert_int_equal(strncmp(buf, prefix, strlen(prefix)), 0);
    assert_non_null(strstr(strchr(buf, '\n') + 1, prefix));
    char tiny[60];
    assert_int_equal(ms_report_format_prof(tiny, sizeof(tiny), &p), -ERANGE);
    p.lg_sample = 16; /* not dense: no hint */
    n = ms_report_format_prof(buf, sizeof(buf), &p);
    assert_true(n > 0);
    assert_non_null(strstr(buf, "lg_sample 16 (a sample per 64.0 KiB)"));
    assert_null(strstr(buf, "inflates"));
    assert_int_equal(strchr(buf, '\n') - buf + 1, n); /* one line */
}

/* libmemshim.a in this test carries no malloc_conf: jemalloc runs without opt.prof. */
static void test_report_prof_get_without_profiling(void **state) {
    (void)state;
    ms_report_prof_t p;
    assert_int_equal(ms_report_prof_get(&p), -ENOENT);
    char buf[2048];
    capture_stderr(report_write, buf, sizeof(buf));
    assert_non_null(strstr(buf, "report for test_shim_stats\n"));
    assert_null(strstr(buf, "profiler"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stats_get_rejects_null),
        cmocka_unit_test(test_stats_follow_an_allocation_and_its_free),
        cmocka_unit_test(test_stats_mallinfo2_reports_jemalloc_not_glibc),
        cmocka_unit_test(test_stats_malloc_trim_purges_freed_pages),
        cmocka_unit_test(test_stats_malloc_stats_prints_jemalloc_report_to_stderr),
        cmocka_unit_test(test_report_sample_raises_peaks_only_upwards),
        cmocka_unit_test(test_report_format_names_every_figure),
        cmocka_unit_test(test_report_write_goes_to_stderr_or_the_report_file),
        cmocka_unit_test(test_report_prof_lines_say_what_profiling_costs),
        cmocka_unit_test(test_report_prof_get_without_profiling),
    };
    return cmocka_run_group_tests_name("shim_stats", tests, NULL, NULL);
}
