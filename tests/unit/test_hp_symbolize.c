/* SPDX-License-Identifier: MIT */
/*
 * test_hp_symbolize.c - symbolization of a real (PIE, ASLR-loaded) binary: this test
 * writes a dump whose stacks are addresses of its own functions and whose
 * MAPPED_LIBRARIES is its own /proc/self/maps, then checks the names, file:line, the
 * dropping of allocator frames, and the mapping facts (main program first, build-id).
 */
#include "test_common.h"

#include "heapprof.h"
#include "heapprof_internal.h"

#include <inttypes.h>
#include <unistd.h>

static volatile int sink;

/* Functions with bodies long enough that fn+8 and fn+9 are inside them. */
#define BODY                                                                                       \
    for (int i = 0; i < 8; i++)                                                                    \
        sink += i * 3;                                                                             \
    sink ^= 0x55

__attribute__((noinline)) void je_test_internal(void) {
    BODY;
}
__attribute__((noinline)) void tc_malloc(void) { // one of jeprof's allocator entry points
    BODY;
}
__attribute__((noinline)) void user_site(void) {
    BODY;
}
__attribute__((noinline)) void caller_fn(void) {
    BODY;
}

/* A return address inside code inlined into outer_fn, for the inline-chain test. */
__attribute__((noinline)) uintptr_t capture_pc(void) {
    sink++;
    return (uintptr_t)__builtin_return_address(0);
}
static inline __attribute__((always_inline)) uintptr_t inlined_helper(void) {
    sink += 5;
    uintptr_t pc = capture_pc();
    sink += 7;
    return pc;
}
__attribute__((noinline)) uintptr_t outer_fn(void) {
    sink += 2;
    uintptr_t pc = inlined_helper();
    sink += 3;
    return pc;
}

static uintptr_t heap_addr; // the leaf of the third stack: not in any executable mapping

static char *self_dump(void) {
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    uintptr_t je = (uintptr_t)je_test_internal, tc = (uintptr_t)tc_malloc;
    uintptr_t us = (uintptr_t)user_site, ca = (uintptr_t)caller_fn;
    void *heap = malloc(16);
    heap_addr = (uintptr_t)heap;
    fprintf(f, "heap_v2/1\n  t*: 10: 1000 [0: 0]\n");
    fprintf(f, "@ 0x%" PRIxPTR " 0x%" PRIxPTR " 0x%" PRIxPTR " 0x%" PRIxPTR "\n", je + 8, tc + 9,
            us + 9, ca + 9);
    fprintf(f, "  t*: 1: 100 [0: 0]\n");
    fprintf(f, "@ 0x%" PRIxPTR " 0x%" PRIxPTR "\n", us + 8, ca + 9);
    fprintf(f, "  t*: 2: 200 [0: 0]\n");
    fprintf(f, "@ 0x%" PRIxPTR " 0x%" PRIxPTR "\n", (uintptr_t)heap, ca + 9);
    fprintf(f, "  t*: 3: 300 [0: 0]\n");
    fprintf(f, "@ 0x%" PRIxPTR " 0x%" PRIxPTR " 0x%" PRIxPTR "\n", us + 8, outer_fn(), ca + 9);
    fprintf(f, "  t*: 4: 400 [0: 0]\n");
    fprintf(f, "\nMAPPED_LIBRARIES:\n");
    FILE *maps = fopen("/proc/self/maps", "r");
    assert_non_null(maps);
    char line[4096];
    while (fgets(line, sizeof(line), maps))
        fputs(line, f);
    fclose(maps);
    fclose(f);
    free(heap);
    return buf;
}

static hp_profile_t *self_profile(void) {
    char *text = self_dump();
    hp_dump_t *d = hp_dump_new();
    assert_int_equal(hp_dump_parse(d, text, strlen(text)), 0);
    free(text);
    hp_profile_t *p;
    assert_int_equal(hp_profile_build(d, NULL, &p), 0);
    hp_dump_free(d);
    return p;
}

static const hp_top_entry_t *find(const hp_table_t *t, const char *prefix) {
    for (size_t i = 0; i < t->count; i++) {
        if (strncmp(t->entries[i].name, prefix, strlen(prefix)) == 0) return &t->entries[i];
    }
    return NULL;
}

static void test_symbolize_names_own_functions_and_drops_allocator_frames(void **state) {
    (void)state;
    hp_profile_t *p = self_profile();
    hp_table_t *t;
    assert_int_equal(hp_top(p, NULL, &t), 0);
    const hp_top_entry_t *us = find(t, "user_site");
    assert_non_null(us);
    assert_true(us->flat_bytes == 700); // the first stack lost its allocator frames
    const hp_top_entry_t *ca = find(t, "caller_fn");
    assert_non_null(ca);
    assert_true(ca->cum_bytes == 1000 && ca->flat_bytes == 0);
    assert_null(find(t, "tc_malloc"));
    assert_null(find(t, "je_test_internal"));
    /* An address outside every executable mapping is named by itself. */
    char want[32];
    snprintf(want, sizeof(want), "0x%" PRIxPTR, heap_addr);
    const hp_top_entry_t *heap = find(t, want);
    assert_non_null(heap);
    assert_string_equal(heap->name, want);
    assert_true(heap->flat_bytes == 300);
    hp_table_free(t);
    hp_profile_free(p);
}

static void test_symbolize_expands_inlined_calls_into_frames(void **state) {
    (void)state;
    hp_profile_t *p = self_profile();
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_int_equal(hp_collapsed_write(p, NULL, f), 0);
    fclose(f);
    /* Root first: the caller, the function, the inlined helper (its own frame), the leaf. */
    assert_non_null(strstr(buf, "caller_fn;outer_fn;inlined_helper;user_site 400\n"));
    free(buf);
    hp_profile_free(p);
}

static void test_symbolize_gives_file_and_line(void **state) {
    (void)state;
    hp_profile_t *p = self_profile();
    hp_report_opts_t ro = {.lines = 1};
    hp_table_t *t;
    assert_int_equal(hp_top(p, &ro, &t), 0);
    const hp_top_entry_t *us = find(t, "user_site /");
    assert_non_null(us);
    assert_non_null(strstr(us->name, "tests/unit/test_hp_symbolize.c:"));
    hp_table_free(t);
    hp_profile_free(p);
}

static void test_symbolize_lists_main_program_mapping_with_build_id(void **state) {
    (void)state;
    hp_profile_t *p = self_profile();
    size_t n;
    const hp_mapping_info_t *m = hp_profile_mappings(p, &n);
    assert_true(n >= 1);
    char exe[4096];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    assert_true(len > 0);
    exe[len] = '\0';
    assert_string_equal(m[0].path, exe);
    assert_true(m[0].has_functions && m[0].has_lines);
    assert_int_equal(m[0].open_error, 0);
    assert_int_equal(strlen(m[0].build_id), 40);
    assert_int_equal(strspn(m[0].build_id, "0123456789abcdef"), 40);
    hp_profile_free(p);
}

static void test_short_name_follows_jeprof(void **state) {
    (void)state;
    static const char *const cases[][2] = {
        {"std::vector<int, std::allocator<int> >::push_back(int const&)", "std::vector::push_back"},
        {"operator new(unsigned long)", "operator new"},
        {"void foo::bar<int>(int) const", "foo::bar"},
        {"(anonymous namespace)::pool::pool()", "::pool::pool"},
        {"plain_c_function", "plain_c_function"},
        {"std::map<int, int>::operator->() const", "std::map::operator->"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char buf[256];
        snprintf(buf, sizeof(buf), "%s", cases[i][0]);
        hp_sym_short_name(buf);
        assert_string_equal(buf, cases[i][1]);
    }
}

static void test_allocator_names_are_jeprofs(void **state) {
    (void)state;
    assert_true(hp_sym_is_allocator_name("malloc"));
    assert_true(hp_sym_is_allocator_name("operator new"));
    assert_true(hp_sym_is_allocator_name("_malloc"));
    assert_true(hp_sym_is_allocator_name("tcmalloc::Foo"));
    assert_false(hp_sym_is_allocator_name("my_malloc_wrapper"));
    assert_false(hp_sym_is_allocator_name("main"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_symbolize_names_own_functions_and_drops_allocator_frames),
        cmocka_unit_test(test_symbolize_expands_inlined_calls_into_frames),
        cmocka_unit_test(test_symbolize_gives_file_and_line),
        cmocka_unit_test(test_symbolize_lists_main_program_mapping_with_build_id),
        cmocka_unit_test(test_short_name_follows_jeprof),
        cmocka_unit_test(test_allocator_names_are_jeprofs),
    };
    return cmocka_run_group_tests_name("hp_symbolize", tests, NULL, NULL);
}
