/* SPDX-License-Identifier: MIT */
/*
 * test_hp_report.c - the analyser's arithmetic: jeprof's unsampling formula, flat and
 * cumulative sums (recursion counted once), folded stacks, and diffs. The dumps here have
 * no mappings, so frames are named by their (adjusted) address: the leaf as is, return
 * addresses minus one, exactly as they are looked up.
 */
#include "test_common.h"

#include "heapprof.h"
#include "hp_test_dumps.h"

#include <math.h>

/* Period 1 and >= 100 bytes per object: the scale is exactly 1, so sums are exact. */
static const char dump_a[] = "heap_v2/1\n"
                             "  t*: 7: 700 [0: 0]\n"
                             "@ 0xa0 0xb1 0xc1\n"
                             "  t*: 2: 200 [0: 0]\n"
                             "@ 0xa0 0xd1 0xc1\n"
                             "  t*: 1: 100 [0: 0]\n"
                             "@ 0xe0 0xb1 0xb1 0xc1\n"
                             "  t*: 4: 400 [0: 0]\n"
                             "\n"
                             "MAPPED_LIBRARIES:\n";

static const char dump_b[] = "heap_v2/1\n"
                             "  t*: 9: 900 [0: 0]\n"
                             "@ 0xa0 0xb1 0xc1\n"
                             "  t*: 3: 300 [0: 0]\n"
                             "@ 0xa0 0xd1 0xc1\n"
                             "  t*: 1: 100 [0: 0]\n"
                             "@ 0xf0 0xc1\n"
                             "  t*: 5: 500 [0: 0]\n"
                             "\n"
                             "MAPPED_LIBRARIES:\n";

static hp_table_t *top_of(const char *text) {
    hp_profile_t *p = profile_of(text);
    hp_table_t *t = NULL;
    assert_int_equal(hp_top(p, NULL, &t), 0);
    hp_profile_free(p);
    return t;
}

static void expect_entry(const hp_top_entry_t *e, const char *name, double flat, double cum) {
    assert_string_equal(e->name, name);
    assert_true(e->flat_bytes == flat);
    assert_true(e->cum_bytes == cum);
}

static void test_scale_matches_jeprof_adjust_samples(void **state) {
    (void)state;
    double n, s;
    /* Values from jeprof's own formula run in perl on a real dump's stacks. */
    hp_scale(4096, 329, 1310486, &n, &s);
    assert_true(fabs(n - 529.064437337) < 1e-6);
    assert_true(fabs(s - 2107390.693703548) < 1e-6);
    hp_scale(4096, 128, 8388607, &n, &s);
    assert_true(fabs(n - 128.000014405) < 1e-6);
    assert_true(fabs(s - 8388607.944015262) < 1e-6);
    hp_scale(524288, 1, 48, &n, &s);
    assert_true(fabs(n - 10923.166674296) < 1e-6);
    assert_true(fabs(s - 524312.000366194) < 1e-6);
}

static void test_scale_leaves_unscalable_counts_alone(void **state) {
    (void)state;
    double n, s;
    hp_scale(4096, 0, 500, &n, &s); // jeprof: objs == 0 -> no change
    assert_true(n == 0 && s == 500);
    hp_scale(0, 3, 300, &n, &s); // no sampling period: no change
    assert_true(n == 3 && s == 300);
    hp_scale(4096, 3, 0, &n, &s); // no bytes: the formula would divide by zero
    assert_true(n == 3 && s == 0);
}

static char *capture(int (*fn)(const hp_profile_t *, const hp_report_opts_t *, FILE *),
                     const hp_profile_t *p);

static void test_scale_stays_finite_for_huge_counts(void **state) {
    (void)state;
    double n, s;
    /* 1 - exp(-ratio) rounds to 0 here: the scale must not become infinite. */
    hp_scale(UINT64_MAX, 1, 1, &n, &s);
    assert_true(isfinite(n) && isfinite(s) && n >= 1 && s >= 1);
    hp_scale(UINT64_MAX, UINT64_MAX, 1, &n, &s);
    assert_true(isfinite(n) && isfinite(s) && n >= (double)UINT64_MAX && s >= 1);
    hp_scale(UINT64_MAX, UINT64_MAX, UINT64_MAX, &n, &s);
    assert_true(isfinite(n) && isfinite(s) && n >= (double)UINT64_MAX);
    hp_scale(1, UINT64_MAX, UINT64_MAX, &n, &s); // ratio 1: an ordinary scale
    assert_true(fabs(n / (double)UINT64_MAX - 1.0 / (1.0 - exp(-1.0))) < 1e-12);
}

static void test_reports_of_huge_counts_are_finite_and_in_range(void **state) {
    (void)state;
    hp_profile_t *p = profile_of(dump_huge);
    const double *tot = hp_profile_totals(p);
    for (int k = 0; k < HP_NVALUES; k++)
        assert_true(isfinite(tot[k]) && tot[k] > 0);
    hp_table_t *t;
    assert_int_equal(hp_top(p, NULL, &t), 0);
    assert_true(isfinite(t->total_bytes) && isfinite(t->total_objs));
    for (size_t i = 0; i < t->count; i++)
        assert_true(isfinite(t->entries[i].flat_bytes) && isfinite(t->entries[i].cum_bytes));
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_int_equal(hp_table_write_json(t, 0, f), 0);
    fclose(f);
    assert_null(strstr(buf, "inf"));
    assert_null(strstr(buf, "nan"));
    free(buf);
    hp_table_free(t);
    /* Folded values are clamped to int64, never wrapped to a negative number. */
    char *out = capture(hp_collapsed_write, p);
    assert_null(strstr(out, " -"));
    assert_non_null(strstr(out, "0xc0;0xa0 9223372036854775807\n"));
    assert_non_null(strstr(out, "0xd0 9223372036854775807\n"));
    free(out);
    hp_profile_free(p);
}

static void test_top_sums_flat_and_cum_once_per_stack(void **state) {
    (void)state;
    hp_table_t *t = top_of(dump_a);
    assert_true(t->total_bytes == 700);
    assert_true(t->total_objs == 7);
    assert_int_equal(t->count, 5);
    expect_entry(&t->entries[0], "0xe0", 400, 400);
    expect_entry(&t->entries[1], "0xa0", 300, 300);
    expect_entry(&t->entries[2], "0xb0", 0, 600); // recursive in one stack: counted once
    expect_entry(&t->entries[3], "0xc0", 0, 700);
    expect_entry(&t->entries[4], "0xd0", 0, 100);
    assert_true(t->entries[1].flat_objs == 3);
    assert_true(t->entries[3].cum_objs == 7);
    hp_table_free(t);
}

static void test_top_sorts_by_cum_when_asked(void **state) {
    (void)state;
    hp_profile_t *p = profile_of(dump_a);
    hp_report_opts_t ro = {.sort_cum = 1};
    hp_table_t *t;
    assert_int_equal(hp_top(p, &ro, &t), 0);
    expect_entry(&t->entries[0], "0xc0", 0, 700);
    expect_entry(&t->entries[1], "0xb0", 0, 600);
    hp_table_free(t);
    hp_profile_free(p);
}

static void test_alloc_values_come_from_the_cum_pair(void **state) {
    (void)state;
    hp_profile_t *p = profile_of("heap_v2/1\n  t*: 1: 100 [3: 900]\n@ 0xa0\n"
                                 "  t*: 1: 100 [3: 900]\n\nMAPPED_LIBRARIES:\n");
    const double *tot = hp_profile_totals(p);
    assert_true(tot[HP_INUSE_SPACE] == 100 && tot[HP_INUSE_OBJECTS] == 1);
    assert_true(tot[HP_ALLOC_SPACE] == 900 && tot[HP_ALLOC_OBJECTS] == 3);
    hp_report_opts_t ro = {.alloc = 1};
    hp_table_t *t;
    assert_int_equal(hp_top(p, &ro, &t), 0);
    expect_entry(&t->entries[0], "0xa0", 900, 900);
    hp_table_free(t);
    hp_profile_free(p);
}

static char *capture(int (*fn)(const hp_profile_t *, const hp_report_opts_t *, FILE *),
                     const hp_profile_t *p) {
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    assert_int_equal(fn(p, NULL, f), 0);
    fclose(f);
    return buf;
}

static void test_collapsed_writes_root_first_merged_sorted(void **state) {
    (void)state;
    hp_profile_t *p = profile_of("heap_v2/1\n  t*: 7: 700 [0: 0]\n"
                                 "@ 0xa0 0xb1 0xc1\n  t*: 2: 200 [0: 0]\n"
                                 "@ 0xe0 0xb1 0xb1 0xc1\n  t*: 4: 400 [0: 0]\n"
                                 "@ 0xa0 0xd1 0xc1\n  t*: 1: 100 [0: 0]\n"
                                 "\nMAPPED_LIBRARIES:\n");
    char *out = capture(hp_collapsed_write, p);
    assert_string_equal(out, "0xc0;0xb0;0xa0 200\n"
                             "0xc0;0xb0;0xb0;0xe0 400\n"
                             "0xc0;0xd0;0xa0 100\n");
    free(out);
    hp_profile_free(p);
}

/* dump_a was written with prof_accum off (every "[0: 0]"): it has no allocation totals. */
static void test_alloc_reports_refuse_a_dump_without_alloc_totals(void **state) {
    (void)state;
    hp_profile_t *p = profile_of(dump_a);
    assert_int_equal(hp_profile_lacks_alloc(p), 1);
    hp_report_opts_t ro = {.alloc = 1};
    hp_table_t *t = (hp_table_t *)1;
    assert_int_equal(hp_top(p, &ro, &t), -ENODATA);
    assert_null(t);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_int_equal(hp_collapsed_write(p, &ro, f), -ENODATA);
    fclose(f);
    assert_int_equal(len, 0); // nothing written
    free(buf);
    /* In-use reports of the same dump are not affected. */
    assert_int_equal(hp_top(p, NULL, &t), 0);
    hp_table_free(t);
    hp_profile_free(p);
    /* A dump with allocation totals, and an empty one, have nothing to refuse. */
    p = profile_of("heap_v2/1\n  t*: 1: 100 [3: 900]\n@ 0xa0\n"
                   "  t*: 1: 100 [3: 900]\n\nMAPPED_LIBRARIES:\n");
    assert_int_equal(hp_profile_lacks_alloc(p), 0);
    hp_profile_free(p);
    p = profile_of("heap_v2/1\n  t*: 0: 0 [0: 0]\n\nMAPPED_LIBRARIES:\n");
    assert_int_equal(hp_profile_lacks_alloc(p), 0);
    assert_int_equal(hp_top(p, &ro, &t), 0);
    assert_true(t->total_bytes == 0 && t->count == 0);
    hp_table_free(t);
    hp_profile_free(p);
}

/* Rows of a table whose total is 0 (objects of 0 bytes) show "-" for their share, not nan. */
static void test_zero_total_table_prints_no_nan(void **state) {
    (void)state;
    hp_table_t *t = top_of("heap_v2/1\n  t*: 5: 0 [0: 0]\n@ 0xa0\n"
                           "  t*: 5: 0 [0: 0]\n\nMAPPED_LIBRARIES:\n");
    assert_true(t->total_bytes == 0 && t->count == 1);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_int_equal(hp_table_write_text(t, 0, f), 0);
    fclose(f);
    assert_null(strstr(buf, "nan"));
    assert_non_null(strstr(buf, "           0      -      -            0      -          5"
                                "          5  0xa0\n"));
    free(buf);
    hp_table_free(t);
}

static void test_diff_subtracts_per_entry_and_sorts_by_size(void **state) {
    (void)state;
    hp_table_t *a = top_of(dump_a), *b = top_of(dump_b), *d;
    assert_int_equal(hp_diff(a, b, &d), 0);
    assert_true(d->diff);
    assert_true(d->total_bytes == 200);
    assert_true(d->total_objs == 2);
    assert_true(d->base_bytes == 700 && d->new_bytes == 900);
    assert_int_equal(d->count, 5); // 0xd0 did not change: left out
    expect_entry(&d->entries[0], "0xf0", 500, 500);
    expect_entry(&d->entries[1], "0xe0", -400, -400);
    expect_entry(&d->entries[2], "0xa0", 100, 100);
    expect_entry(&d->entries[3], "0xb0", 0, -300);
    expect_entry(&d->entries[4], "0xc0", 0, 200);
    assert_true(d->entries[0].flat_objs == 5);
    hp_table_free(d);
    hp_table_free(a);
    hp_table_free(b);
}

static void test_diff_rejects_tables_of_different_kinds(void **state) {
    (void)state;
    hp_profile_t *p = profile_of(dump_a);
    hp_report_opts_t ro = {.lines = 1};
    hp_table_t *a, *b, *d = (hp_table_t *)1;
    assert_int_equal(hp_top(p, NULL, &a), 0);
    assert_int_equal(hp_top(p, &ro, &b), 0);
    assert_int_equal(hp_diff(a, b, &d), -EINVAL);
    assert_null(d);
    hp_table_free(a);
    hp_table_free(b);
    hp_profile_free(p);
}

static void test_table_text_and_json_forms(void **state) {
    (void)state;
    hp_table_t *t = top_of(dump_a);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_int_equal(hp_table_write_text(t, 2, f), 0);
    fclose(f);
    assert_string_equal(buf, "Total: 700 B in use in 7 objects (sampling period 1 B)\n"
                             "        flat  flat%   sum%          cum   cum%  flat_objs   cum_objs "
                             " function\n"
                             "         400  57.1%  57.1%          400  57.1%          4          4 "
                             " 0xe0\n"
                             "         300  42.9% 100.0%          300  42.9%          3          3 "
                             " 0xa0\n"
                             "(3 more entries; -n 0 shows all)\n");
    free(buf);
    f = open_memstream(&buf, &len);
    assert_int_equal(hp_table_write_json(t, 1, f), 0);
    fclose(f);
    assert_string_equal(buf, "{\"kind\":\"top\",\"sample\":\"inuse\",\"granularity\":\"functions\","
                             "\"period\":1,\"total_bytes\":700,\"total_objects\":7,\"entries\":[\n"
                             "{\"name\":\"0xe0\",\"flat_bytes\":400,\"flat_objects\":4,"
                             "\"cum_bytes\":400,\"cum_objects\":4}],\"more\":4}\n");
    free(buf);
    hp_table_free(t);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scale_matches_jeprof_adjust_samples),
        cmocka_unit_test(test_scale_leaves_unscalable_counts_alone),
        cmocka_unit_test(test_scale_stays_finite_for_huge_counts),
        cmocka_unit_test(test_reports_of_huge_counts_are_finite_and_in_range),
        cmocka_unit_test(test_top_sums_flat_and_cum_once_per_stack),
        cmocka_unit_test(test_top_sorts_by_cum_when_asked),
        cmocka_unit_test(test_alloc_values_come_from_the_cum_pair),
        cmocka_unit_test(test_collapsed_writes_root_first_merged_sorted),
        cmocka_unit_test(test_alloc_reports_refuse_a_dump_without_alloc_totals),
        cmocka_unit_test(test_zero_total_table_prints_no_nan),
        cmocka_unit_test(test_diff_subtracts_per_entry_and_sorts_by_size),
        cmocka_unit_test(test_diff_rejects_tables_of_different_kinds),
        cmocka_unit_test(test_table_text_and_json_forms),
    };
    return cmocka_run_group_tests_name("hp_report", tests, NULL, NULL);
}
