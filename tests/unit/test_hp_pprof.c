/* SPDX-License-Identifier: MIT */
/*
 * test_hp_pprof.c - the pprof output round-trips: gunzip with zlib, decode with the
 * protobuf-c code it was encoded with, and check the sample types, the totals (equal to
 * the profile's), the leaf-first location order and the id references.
 */
#include "test_common.h"

#include "heapprof.h"
#include "hp_test_dumps.h"
#include "profile.pb-c.h"

#include <unistd.h>
#include <zlib.h>

static const char dump[] = "heap_v2/1\n"
                           "  t*: 7: 700 [9: 900]\n"
                           "@ 0xa0 0xb1 0xc1\n"
                           "  t*: 2: 200 [3: 300]\n"
                           "@ 0xe0 0xc1\n"
                           "  t*: 5: 500 [6: 600]\n"
                           "\n"
                           "MAPPED_LIBRARIES:\n";

static Perftools__Profiles__Profile *encode_decode(const char *text, hp_profile_t **pout) {
    hp_profile_t *p = profile_of(text);
    uint8_t *gz;
    size_t gzlen;
    assert_int_equal(hp_pprof_encode(p, &gz, &gzlen), 0);
    assert_true(gzlen > 18);
    assert_int_equal(gz[0], 0x1f); // gzip magic
    assert_int_equal(gz[1], 0x8b);
    size_t cap = 1 << 20;
    uint8_t *raw = malloc(cap);
    z_stream z;
    memset(&z, 0, sizeof(z));
    assert_int_equal(inflateInit2(&z, 15 + 16), Z_OK);
    z.next_in = gz;
    z.avail_in = (uInt)gzlen;
    z.next_out = raw;
    z.avail_out = (uInt)cap;
    assert_int_equal(inflate(&z, Z_FINISH), Z_STREAM_END);
    size_t rawlen = cap - z.avail_out;
    inflateEnd(&z);
    Perftools__Profiles__Profile *m = perftools__profiles__profile__unpack(NULL, rawlen, raw);
    assert_non_null(m);
    free(raw);
    free(gz);
    *pout = p;
    return m;
}

static const char *str(const Perftools__Profiles__Profile *m, int64_t i) {
    assert_true(i >= 0 && (size_t)i < m->n_string_table);
    return m->string_table[i];
}

static void test_pprof_has_heap_sample_types_and_period(void **state) {
    (void)state;
    hp_profile_t *p;
    Perftools__Profiles__Profile *m = encode_decode(dump, &p);
    assert_string_equal(m->string_table[0], "");
    assert_int_equal(m->n_sample_type, 4);
    static const char *const want[4][2] = {{"alloc_objects", "count"},
                                           {"alloc_space", "bytes"},
                                           {"inuse_objects", "count"},
                                           {"inuse_space", "bytes"}};
    for (int i = 0; i < 4; i++) {
        assert_string_equal(str(m, m->sample_type[i]->type), want[i][0]);
        assert_string_equal(str(m, m->sample_type[i]->unit), want[i][1]);
    }
    assert_string_equal(str(m, m->default_sample_type), "inuse_space");
    assert_string_equal(str(m, m->period_type->type), "space");
    assert_string_equal(str(m, m->period_type->unit), "bytes");
    assert_int_equal(m->period, 1);
    perftools__profiles__profile__free_unpacked(m, NULL);
    hp_profile_free(p);
}

static void test_pprof_samples_sum_to_profile_totals(void **state) {
    (void)state;
    hp_profile_t *p;
    Perftools__Profiles__Profile *m = encode_decode(dump, &p);
    int64_t sum[4] = {0, 0, 0, 0};
    assert_int_equal(m->n_sample, 2);
    for (size_t i = 0; i < m->n_sample; i++) {
        assert_int_equal(m->sample[i]->n_value, 4);
        for (int k = 0; k < 4; k++)
            sum[k] += m->sample[i]->value[k];
    }
    const double *tot = hp_profile_totals(p);
    assert_int_equal(sum[0], 9);
    assert_int_equal(sum[1], 900);
    assert_int_equal(sum[2], 7);
    assert_int_equal(sum[3], 700);
    assert_true(tot[HP_INUSE_SPACE] == 700 && tot[HP_ALLOC_OBJECTS] == 9);
    perftools__profiles__profile__free_unpacked(m, NULL);
    hp_profile_free(p);
}

static void test_pprof_locations_are_leaf_first_with_adjusted_addresses(void **state) {
    (void)state;
    hp_profile_t *p;
    Perftools__Profiles__Profile *m = encode_decode(dump, &p);
    const Perftools__Profiles__Sample *s = m->sample[0];
    assert_int_equal(s->n_location_id, 3);
    uint64_t want[3] = {0xa0, 0xb0, 0xc0};
    for (size_t i = 0; i < 3; i++) {
        uint64_t id = s->location_id[i];
        assert_true(id >= 1 && id <= m->n_location);
        const Perftools__Profiles__Location *l = m->location[id - 1];
        assert_int_equal(l->id, id);
        assert_int_equal(l->address, want[i]);
        assert_int_equal(l->n_line, 0); // not symbolized: left to the consumer
        assert_int_equal(l->mapping_id, 0);
    }
    /* 0xc1 is shared by both stacks: one location. */
    assert_int_equal(m->n_location, 4);
    perftools__profiles__profile__free_unpacked(m, NULL);
    hp_profile_free(p);
}

static void test_pprof_write_file_creates_gzip(void **state) {
    (void)state;
    hp_profile_t *p;
    Perftools__Profiles__Profile *m = encode_decode(dump, &p);
    perftools__profiles__profile__free_unpacked(m, NULL);
    char path[] = "/tmp/test_hp_pprof.XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(hp_pprof_write_file(p, path), 0);
    gzFile g = gzopen(path, "rb");
    assert_non_null(g);
    uint8_t buf[4096];
    int n = gzread(g, buf, sizeof(buf));
    gzclose(g);
    assert_true(n > 0);
    m = perftools__profiles__profile__unpack(NULL, (size_t)n, buf);
    assert_non_null(m);
    assert_int_equal(m->n_sample, 2);
    perftools__profiles__profile__free_unpacked(m, NULL);
    assert_int_equal(hp_pprof_write_file(p, "/nonexistent/dir/x.pb.gz"), -ENOENT);
    unlink(path);
    hp_profile_free(p);
}

/* prof_accum off: every allocated-since-start count is 0, so alloc_* are left out. */
static void test_pprof_leaves_out_alloc_types_without_alloc_totals(void **state) {
    (void)state;
    hp_profile_t *p;
    Perftools__Profiles__Profile *m = encode_decode("heap_v2/1\n"
                                                    "  t*: 7: 700 [0: 0]\n"
                                                    "@ 0xa0 0xb1 0xc1\n"
                                                    "  t*: 2: 200 [0: 0]\n"
                                                    "@ 0xe0 0xc1\n"
                                                    "  t*: 5: 500 [0: 0]\n"
                                                    "\n"
                                                    "MAPPED_LIBRARIES:\n",
                                                    &p);
    assert_int_equal(m->n_sample_type, 2);
    assert_string_equal(str(m, m->sample_type[0]->type), "inuse_objects");
    assert_string_equal(str(m, m->sample_type[0]->unit), "count");
    assert_string_equal(str(m, m->sample_type[1]->type), "inuse_space");
    assert_string_equal(str(m, m->sample_type[1]->unit), "bytes");
    assert_string_equal(str(m, m->default_sample_type), "inuse_space");
    for (size_t i = 0; i < m->n_string_table; i++)
        assert_null(strstr(m->string_table[i], "alloc_"));
    int64_t sum[2] = {0, 0};
    assert_int_equal(m->n_sample, 2);
    for (size_t i = 0; i < m->n_sample; i++) {
        assert_int_equal(m->sample[i]->n_value, 2);
        sum[0] += m->sample[i]->value[0];
        sum[1] += m->sample[i]->value[1];
    }
    assert_int_equal(sum[0], 7);
    assert_int_equal(sum[1], 700);
    perftools__profiles__profile__free_unpacked(m, NULL);
    hp_profile_free(p);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pprof_has_heap_sample_types_and_period),
        cmocka_unit_test(test_pprof_samples_sum_to_profile_totals),
        cmocka_unit_test(test_pprof_locations_are_leaf_first_with_adjusted_addresses),
        cmocka_unit_test(test_pprof_write_file_creates_gzip),
        cmocka_unit_test(test_pprof_leaves_out_alloc_types_without_alloc_totals),
    };
    return cmocka_run_group_tests_name("hp_pprof", tests, NULL, NULL);
}
