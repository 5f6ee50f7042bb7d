/* SPDX-License-Identifier: MIT */
/*
 * test_hp_flame.c - the SVG flame graph: frames are as wide as their bytes, children are
 * merged by name and laid out alphabetically from their parent's left edge, names are
 * XML-escaped, and the zoom/search script is embedded (no external reference).
 */
#include "test_common.h"

#include "heapprof.h"
#include "hp_test_dumps.h"

static const char dump[] = "heap_v2/1\n"
                           "  t*: 7: 700 [0: 0]\n"
                           "@ 0xa0 0xb1 0xc1\n"
                           "  t*: 2: 200 [0: 0]\n"
                           "@ 0xe0 0xb1 0xc1\n"
                           "  t*: 4: 400 [0: 0]\n"
                           "@ 0xa0 0xd1 0xc1\n"
                           "  t*: 1: 100 [0: 0]\n"
                           "\n"
                           "MAPPED_LIBRARIES:\n";

static char *flame_of(const char *text, const hp_flame_opts_t *fo) {
    hp_profile_t *p = profile_of(text);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_int_equal(hp_flame_write(p, fo, f), 0);
    fclose(f);
    hp_profile_free(p);
    return buf;
}

static void test_flame_frames_have_byte_widths_and_sorted_offsets(void **state) {
    (void)state;
    char *svg = flame_of(dump, NULL);
    assert_non_null(strstr(svg, "<g id=\"frames\" data-total=\"700.00\">"));
    assert_non_null(strstr(svg, "data-x=\"0.00\" data-v=\"700.00\" data-d=\"0\"><title>all "
                                "(700 bytes, 100.00%)</title>"));
    assert_non_null(strstr(svg, "data-x=\"0.00\" data-v=\"700.00\" data-d=\"1\"><title>0xc0 "));
    /* Under 0xc0: 0xb0 (600) then 0xd0 (100), alphabetically. */
    assert_non_null(strstr(svg, "data-x=\"0.00\" data-v=\"600.00\" data-d=\"2\"><title>0xb0 "));
    assert_non_null(strstr(svg, "data-x=\"600.00\" data-v=\"100.00\" data-d=\"2\"><title>0xd0 "));
    /* Under 0xb0: 0xa0 (200) merged across stacks, then 0xe0 (400). */
    assert_non_null(strstr(svg, "data-x=\"0.00\" data-v=\"200.00\" data-d=\"3\"><title>0xa0 "));
    assert_non_null(strstr(svg, "data-x=\"200.00\" data-v=\"400.00\" data-d=\"3\"><title>0xe0 "));
    assert_non_null(strstr(svg, "data-x=\"600.00\" data-v=\"100.00\" data-d=\"3\"><title>0xa0 "));
    assert_non_null(strstr(svg, "function zoom(node)"));
    assert_non_null(strstr(svg, "function search(re)"));
    assert_null(strstr(svg, "xlink:href")); // self-contained
    assert_non_null(strstr(svg, "</svg>\n"));
    free(svg);
}

static void test_flame_escapes_title_text(void **state) {
    (void)state;
    hp_flame_opts_t fo = {.title = "a<b & \"c\"", .subtitle = "x.heap", .width = 800};
    char *svg = flame_of(dump, &fo);
    assert_non_null(strstr(svg, ">a&lt;b &amp; &quot;c&quot;</text>"));
    assert_non_null(strstr(svg, "width=\"800\""));
    assert_non_null(strstr(svg, "x.heap: 700 bytes in use, sampling period 1 bytes"));
    free(svg);
}

static void test_flame_huge_counts_stay_finite(void **state) {
    (void)state;
    /* A period that makes 1 - exp(-ratio) round to 0 and counts near UINT64_MAX: the
     * scaled values, the total and every frame's geometry stay finite and in range. */
    for (int alloc = 0; alloc < 2; alloc++) {
        hp_flame_opts_t fo = {.report = {.alloc = alloc}};
        char *svg = flame_of(dump_huge, &fo);
        assert_null(strstr(svg, "nan"));
        assert_null(strstr(svg, "inf"));
        assert_non_null(strstr(svg, "data-d=\"0\"><title>all ("));
        assert_non_null(strstr(svg, "100.00%)</title><rect x=\"10.00\" y="));
        assert_non_null(strstr(svg, "width=\"1180.00\""));
        assert_non_null(strstr(svg, "</svg>\n"));
        free(svg);
    }
}

static void test_flame_zero_total_draws_no_frames(void **state) {
    (void)state;
    static const char zero[] = "heap_v2/524288\n"
                               "  t*: 0: 0 [0: 0]\n"
                               "@ 0xa0 0xc1\n"
                               "  t*: 0: 0 [0: 0]\n"
                               "@ 0xb0\n"
                               "  t*: 5: 0 [0: 0]\n"
                               "\n"
                               "MAPPED_LIBRARIES:\n";
    char *svg = flame_of(zero, NULL);
    assert_non_null(strstr(svg, "<g id=\"frames\" data-total=\"0.00\">\n</g>"));
    assert_non_null(strstr(svg, ">0 bytes in use, sampling period 524288 bytes</text>"));
    assert_null(strstr(svg, "nan"));
    assert_null(strstr(svg, "class=\"f\""));
    free(svg);
}

static void test_flame_alloc_without_alloc_totals_writes_nothing(void **state) {
    (void)state;
    static const char noacc[] = "heap_v2/1\n  t*: 7: 700 [0: 0]\n@ 0xa0 0xc1\n"
                                "  t*: 7: 700 [0: 0]\n\nMAPPED_LIBRARIES:\n";
    hp_profile_t *p = profile_of(noacc);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    hp_flame_opts_t fo = {.report = {.alloc = 1}};
    assert_int_equal(hp_flame_write(p, &fo, f), -ENODATA);
    fclose(f);
    assert_int_equal(len, 0);
    free(buf);
    hp_profile_free(p);
}

typedef struct seen {
    size_t calls;
    size_t merged, merge_total, drawn, draw_total;
    int order_ok;
} seen_t;

static void record(void *ctx, const char *what, size_t done, size_t total) {
    seen_t *s = ctx;
    s->calls++;
    assert_true(done <= total);
    if (strcmp(what, "merging") == 0) {
        s->order_ok &= s->drawn == 0 && s->draw_total == 0; // merging comes first
        s->merged = done;
        s->merge_total = total;
    } else {
        assert_string_equal(what, "drawing");
        s->drawn = done;
        s->draw_total = total;
    }
}

static void test_flame_reports_progress_to_the_end(void **state) {
    (void)state;
    seen_t s = {.order_ok = 1};
    hp_flame_opts_t fo = {.progress = record, .progress_ctx = &s};
    char *svg = flame_of(dump, &fo);
    free(svg);
    assert_true(s.order_ok);
    assert_int_equal(s.merge_total, 3); // the dump's three stacks
    assert_int_equal(s.merged, 3);
    assert_int_equal(s.draw_total, 7); // all, 0xc0, 0xb0, 0xd0, 0xa0, 0xe0, 0xa0
    assert_int_equal(s.drawn, 7);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_flame_frames_have_byte_widths_and_sorted_offsets),
        cmocka_unit_test(test_flame_escapes_title_text),
        cmocka_unit_test(test_flame_huge_counts_stay_finite),
        cmocka_unit_test(test_flame_zero_total_draws_no_frames),
        cmocka_unit_test(test_flame_alloc_without_alloc_totals_writes_nothing),
        cmocka_unit_test(test_flame_reports_progress_to_the_end),
    };
    return cmocka_run_group_tests_name("hp_flame", tests, NULL, NULL);
}
