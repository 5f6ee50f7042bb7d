/* SPDX-License-Identifier: MIT */
/*
 * test_kv_geo.c - kvcore's geohash arithmetic (kvcore/geohash.h): the 52-bit scores,
 * geohash strings, coordinates and distances redis-server gives for the same points, the
 * encode/decode round trip, neighbour cells, and the cells a search scans against a brute
 * force over every point (seeded, so every run checks the same cases).
 */
#include "test_common.h"

#include <math.h>
#include <string.h>

#include "geohash.h"
#include "kv_internal.h"

/* Values read from redis-server 7.0 for GEOADD Sicily 13.361389 38.115556 Palermo
 * 15.087269 37.502669 Catania (ZSCORE, GEOHASH, GEOPOS, GEODIST). */
static void test_geo_matches_redis_for_known_points(void **state) {
    (void)state;
    assert_true(kv_geo_score_encode(13.361389, 38.115556) == 3479099956230698ULL);
    assert_true(kv_geo_score_encode(15.087269, 37.502669) == 3479447370796909ULL);
    assert_true(kv_geo_score_encode(0, 0) == 3377699720527872ULL);
    assert_true(kv_geo_score_encode(1, 0) == 3377736806566050ULL);
    char gh[12];
    assert_true(kv_geo_score_to_str(3479099956230698.0, gh));
    assert_string_equal(gh, "sqc8b49rny0");
    assert_true(kv_geo_score_to_str(3479447370796909.0, gh));
    assert_string_equal(gh, "sqdtr74hyu0");
    double lon, lat;
    assert_true(kv_geo_score_decode(3479099956230698.0, &lon, &lat));
    char buf[64];
    kv_ld2str(buf, sizeof(buf), (long double)lon);
    assert_string_equal(buf, "13.36138933897018433");
    kv_ld2str(buf, sizeof(buf), (long double)lat);
    assert_string_equal(buf, "38.11555639549629859");
    double lon2, lat2;
    assert_true(kv_geo_score_decode(3479447370796909.0, &lon2, &lat2));
    snprintf(buf, sizeof(buf), "%.4f", kv_geo_distance(lon, lat, lon2, lat2));
    assert_string_equal(buf, "166274.1516");
    snprintf(buf, sizeof(buf), "%.4f", kv_geo_distance(lon, lat, lon2, lat2) / 1609.34);
    assert_string_equal(buf, "103.3182");
    assert_true(kv_geo_score_decode(3377699720527872.0, &lon, &lat));
    assert_true(kv_geo_score_decode(3377736806566050.0, &lon2, &lat2));
    snprintf(buf, sizeof(buf), "%.4f", kv_geo_distance(lon, lat, lon2, lat2));
    assert_string_equal(buf, "111225.9950");
}

static void test_geo_encode_refuses_out_of_range(void **state) {
    (void)state;
    kv_geohash_t h;
    assert_false(kv_geohash_encode_wgs84(180.0001, 0, 26, &h));
    assert_false(kv_geohash_encode_wgs84(-180.0001, 0, 26, &h));
    assert_false(kv_geohash_encode_wgs84(0, 85.06, 26, &h));
    assert_false(kv_geohash_encode_wgs84(0, -85.06, 26, &h));
    assert_false(kv_geohash_encode_wgs84(0, 0, 0, &h));
    assert_true(kv_geohash_encode_wgs84(180, KV_GEO_LAT_MAX, 26, &h));
    assert_true(kv_geohash_encode_wgs84(-180, KV_GEO_LAT_MIN, 26, &h));
    assert_true(h.bits == 0);
    kv_geohash_t zero = {0, 0};
    kv_geo_area_t a;
    assert_false(
        kv_geohash_decode(&(kv_geo_range_t){-180, 180}, &(kv_geo_range_t){-90, 90}, zero, &a));
}

/* xorshift64*: a fixed sequence, so every run checks the same points. */
static uint64_t rnd_state = 0x9E3779B97F4A7C15ULL;
static double rnd_unit(void) {
    rnd_state ^= rnd_state >> 12;
    rnd_state ^= rnd_state << 25;
    rnd_state ^= rnd_state >> 27;
    return (double)((rnd_state * 2685821657736338717ULL) >> 11) / 9007199254740992.0;
}
static double rnd_in(double lo, double hi) {
    return lo + (hi - lo) * rnd_unit();
}

static void test_geo_roundtrip_stays_inside_the_cell(void **state) {
    (void)state;
    double cell_lon = 360.0 / (1 << 26), cell_lat = (2 * KV_GEO_LAT_MAX) / (1 << 26);
    for (int i = 0; i < 100000; i++) {
        double lon = rnd_in(-180, 180), lat = rnd_in(KV_GEO_LAT_MIN, KV_GEO_LAT_MAX);
        uint64_t bits = kv_geo_score_encode(lon, lat);
        assert_true(bits < (1ULL << 52));
        double dlon, dlat;
        assert_true(kv_geo_score_decode((double)bits, &dlon, &dlat));
        assert_true(fabs(dlon - lon) <= cell_lon / 2 + 1e-12);
        assert_true(fabs(dlat - lat) <= cell_lat / 2 + 1e-12);
        /* the centre of a cell encodes back to the same cell */
        assert_true(kv_geo_score_encode(dlon, dlat) == bits);
        char gh[12];
        assert_true(kv_geo_score_to_str((double)bits, gh));
        assert_int_equal(strlen(gh), 11);
        assert_int_equal(gh[10], '0');
    }
}

static void test_geo_neighbours_are_adjacent(void **state) {
    (void)state;
    for (int i = 0; i < 20000; i++) {
        unsigned step = 1 + (unsigned)(rnd_unit() * 26);
        kv_geohash_t h, nb[8], back[8];
        assert_true(kv_geohash_encode_wgs84(rnd_in(-170, 170), rnd_in(-80, 80), step, &h));
        kv_geohash_neighbors(&h, nb);
        /* east's west, west's east, north's south, south's north: the cell itself */
        kv_geohash_neighbors(&nb[2], back);
        assert_true(back[3].bits == h.bits);
        kv_geohash_neighbors(&nb[3], back);
        assert_true(back[2].bits == h.bits);
        kv_geohash_neighbors(&nb[0], back);
        assert_true(back[1].bits == h.bits);
        kv_geohash_neighbors(&nb[1], back);
        assert_true(back[0].bits == h.bits);
        kv_geo_range_t lonr = {-180, 180}, latr = {KV_GEO_LAT_MIN, KV_GEO_LAT_MAX};
        kv_geo_area_t a, n, e;
        assert_true(kv_geohash_decode(&lonr, &latr, h, &a));
        assert_true(kv_geohash_decode(&lonr, &latr, nb[0], &n));
        assert_true(kv_geohash_decode(&lonr, &latr, nb[2], &e));
        if (a.lat.max < KV_GEO_LAT_MAX) assert_true(n.lat.min == a.lat.max);
        if (a.lon.max < 180) assert_true(e.lon.min == a.lon.max);
    }
}

static void test_geo_distance_properties(void **state) {
    (void)state;
    double deg = KV_GEO_EARTH_RADIUS * M_PI / 180;
    assert_true(fabs(kv_geo_distance(0, 0, 1, 0) - deg) < 1e-6);
    assert_true(fabs(kv_geo_distance(10, 0, 10, 1) - deg) < 1e-6);
    assert_true(kv_geo_distance(13, 37, 13, 37) == 0);
    for (int i = 0; i < 10000; i++) {
        double a = rnd_in(-180, 180), b = rnd_in(-85, 85), c = rnd_in(-180, 180),
               d = rnd_in(-85, 85);
        double x = kv_geo_distance(a, b, c, d), y = kv_geo_distance(c, d, a, b);
        assert_true(fabs(x - y) < 1e-6);
        assert_true(x >= 0 && x <= M_PI * KV_GEO_EARTH_RADIUS + 1e-6);
    }
    assert_int_equal(kv_geo_steps_for_radius(0, 0), 26);
    assert_int_equal(kv_geo_steps_for_radius(1e9, 0), 1);
    assert_true(kv_geo_steps_for_radius(1000, 0) > kv_geo_steps_for_radius(100000, 0));
    assert_true(kv_geo_steps_for_radius(1000, 70) < kv_geo_steps_for_radius(1000, 0));
}

#define NPTS 3000

/* Every point inside the shape must lie in one of the cells the search scans. */
static void test_geo_cells_cover_the_shape(void **state) {
    (void)state;
    static double score[NPTS], plon[NPTS], plat[NPTS];
    for (int round = 0; round < 60; round++) {
        double clon = rnd_in(-150, 150), clat = rnd_in(-60, 60);
        double spread = rnd_in(0.05, 20);
        kv_geo_shape_t s = {0};
        s.lon = clon;
        s.lat = clat;
        s.conversion = 1000;
        s.box = round % 2 == 1;
        s.radius = rnd_in(1, 1500);
        s.width = rnd_in(1, 2500);
        s.height = rnd_in(1, 2500);
        for (int i = 0; i < NPTS; i++) {
            double lon = clon + rnd_in(-spread, spread), lat = clat + rnd_in(-spread, spread);
            score[i] = (double)kv_geo_score_encode(lon, lat);
            assert_true(kv_geo_score_decode(score[i], &plon[i], &plat[i]));
        }
        kv_geo_cells_t cells;
        kv_geo_cells_for_shape(&s, &cells);
        int inside = 0;
        for (int i = 0; i < NPTS; i++) {
            double dist;
            if (!kv_geo_in_shape(&s, plon[i], plat[i], &dist)) continue;
            inside++;
            if (!s.box) assert_true(dist <= s.radius * 1000);
            bool covered = false;
            for (int k = 0; k < 9 && !covered; k++) {
                kv_geohash_t h = cells.cell[k];
                if (h.bits == 0 && h.step == 0) continue;
                double lo, hi;
                kv_geo_cell_scores(h, &lo, &hi);
                covered = score[i] >= lo && score[i] < hi;
            }
            assert_true(covered);
        }
        assert_true(inside > 0 || spread > 5);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_geo_matches_redis_for_known_points),
        cmocka_unit_test(test_geo_encode_refuses_out_of_range),
        cmocka_unit_test(test_geo_roundtrip_stays_inside_the_cell),
        cmocka_unit_test(test_geo_neighbours_are_adjacent),
        cmocka_unit_test(test_geo_distance_properties),
        cmocka_unit_test(test_geo_cells_cover_the_shape),
    };
    return cmocka_run_group_tests_name("kv_geo", tests, NULL, NULL);
}
