/* SPDX-License-Identifier: MIT */
/*
 * geohash.c - the geohash arithmetic behind the geo commands (see geohash.h).
 *
 * The numbers must come out as redis-server's do, bit for bit: the same offsets scaled by
 * 2^step and truncated to 32 bits, the same cell-centre decoding, the same haversine (with
 * its shortcut on equal longitudes), and the same cell choice for a search, since that
 * choice decides the order of unsorted results and which members COUNT ANY returns.
 */
#include "geohash.h"

#include <math.h>
#include <stddef.h>

#define DEG_RAD(d) ((d) * (M_PI / 180.0))
#define RAD_DEG(r) ((r) / (M_PI / 180.0))

static const kv_geo_range_t lon_wgs84 = {KV_GEO_LON_MIN, KV_GEO_LON_MAX};
static const kv_geo_range_t lat_wgs84 = {KV_GEO_LAT_MIN, KV_GEO_LAT_MAX};

/* Spreads the 32 bits of v over the even bits of the result. */
static uint64_t spread(uint32_t v) {
    uint64_t x = v;
    x = (x | (x << 16)) & 0x0000FFFF0000FFFFULL;
    x = (x | (x << 8)) & 0x00FF00FF00FF00FFULL;
    x = (x | (x << 4)) & 0x0F0F0F0F0F0F0F0FULL;
    x = (x | (x << 2)) & 0x3333333333333333ULL;
    x = (x | (x << 1)) & 0x5555555555555555ULL;
    return x;
}

/* Gathers the even bits of x into 32 bits. */
static uint32_t gather(uint64_t x) {
    x &= 0x5555555555555555ULL;
    x = (x | (x >> 1)) & 0x3333333333333333ULL;
    x = (x | (x >> 2)) & 0x0F0F0F0F0F0F0F0FULL;
    x = (x | (x >> 4)) & 0x00FF00FF00FF00FFULL;
    x = (x | (x >> 8)) & 0x0000FFFF0000FFFFULL;
    x = (x | (x >> 16)) & 0x00000000FFFFFFFFULL;
    return (uint32_t)x;
}

/* double -> uint32 as an x86-64 truncation would give for the offsets in range. */
static uint32_t to_u32(double d) {
    if (!(d >= 0) || d >= 4294967296.0) return 0;
    return (uint32_t)d;
}

bool kv_geohash_encode(const kv_geo_range_t *lonr, const kv_geo_range_t *latr, double lon,
                       double lat, unsigned step, kv_geohash_t *h) {
    if (h == NULL || step == 0 || step > 32) return false;
    if (latr->max - latr->min == 0 || lonr->max - lonr->min == 0) return false;
    if (lon > KV_GEO_LON_MAX || lon < KV_GEO_LON_MIN || lat > KV_GEO_LAT_MAX ||
        lat < KV_GEO_LAT_MIN)
        return false;
    if (lat < latr->min || lat > latr->max || lon < lonr->min || lon > lonr->max) return false;
    double lat_off = (lat - latr->min) / (latr->max - latr->min);
    double lon_off = (lon - lonr->min) / (lonr->max - lonr->min);
    lat_off *= (double)(1ULL << step);
    lon_off *= (double)(1ULL << step);
    h->bits = spread(to_u32(lat_off)) | (spread(to_u32(lon_off)) << 1);
    h->step = (uint8_t)step;
    return true;
}

bool kv_geohash_encode_wgs84(double lon, double lat, unsigned step, kv_geohash_t *h) {
    return kv_geohash_encode(&lon_wgs84, &lat_wgs84, lon, lat, step, h);
}

bool kv_geohash_decode(const kv_geo_range_t *lonr, const kv_geo_range_t *latr, kv_geohash_t h,
                       kv_geo_area_t *a) {
    if ((h.bits == 0 && h.step == 0) || h.step > 32) return false;
    if (latr->max - latr->min == 0 || lonr->max - lonr->min == 0) return false;
    uint32_t ilat = gather(h.bits), ilon = gather(h.bits >> 1);
    double cells = (double)(1ULL << h.step);
    double lat_scale = latr->max - latr->min, lon_scale = lonr->max - lonr->min;
    a->lat.min = latr->min + (ilat * 1.0 / cells) * lat_scale;
    a->lat.max = latr->min + ((uint32_t)(ilat + 1) * 1.0 / cells) * lat_scale;
    a->lon.min = lonr->min + (ilon * 1.0 / cells) * lon_scale;
    a->lon.max = lonr->min + ((uint32_t)(ilon + 1) * 1.0 / cells) * lon_scale;
    return true;
}

/* A score's bits, converted as a C cast compiles on x86-64 (scores out of range included). */
static uint64_t score_bits(double score) {
    if (score >= 0 && score < 18446744073709551616.0) return (uint64_t)score;
    if (score < 0 && score >= -9223372036854775808.0) return (uint64_t)(int64_t)score;
    return score >= 0 ? 0 : 0x8000000000000000ULL;
}

bool kv_geo_score_decode(double score, double *lon, double *lat) {
    kv_geohash_t h = {score_bits(score), KV_GEO_STEP_MAX};
    kv_geo_area_t a;
    if (!kv_geohash_decode(&lon_wgs84, &lat_wgs84, h, &a)) return false;
    double x = (a.lon.min + a.lon.max) / 2, y = (a.lat.min + a.lat.max) / 2;
    if (x > KV_GEO_LON_MAX) x = KV_GEO_LON_MAX;
    if (x < KV_GEO_LON_MIN) x = KV_GEO_LON_MIN;
    if (y > KV_GEO_LAT_MAX) y = KV_GEO_LAT_MAX;
    if (y < KV_GEO_LAT_MIN) y = KV_GEO_LAT_MIN;
    *lon = x;
    *lat = y;
    return true;
}

uint64_t kv_geohash_align52(kv_geohash_t h) {
    return h.bits << (52 - h.step * 2);
}

uint64_t kv_geo_score_encode(double lon, double lat) {
    kv_geohash_t h = {0, 0};
    if (!kv_geohash_encode_wgs84(lon, lat, KV_GEO_STEP_MAX, &h)) return 0;
    return kv_geohash_align52(h);
}

bool kv_geo_score_to_str(double score, char *buf) {
    static const char alphabet[] = "0123456789bcdefghjkmnpqrstuvwxyz";
    double lon, lat;
    if (!kv_geo_score_decode(score, &lon, &lat)) return false;
    const kv_geo_range_t lonr = {-180, 180}, latr = {-90, 90};
    kv_geohash_t h = {0, 0};
    kv_geohash_encode(&lonr, &latr, lon, lat, 26, &h);
    for (int i = 0; i < 11; i++) {
        unsigned idx = i == 10 ? 0 : (unsigned)((h.bits >> (52 - (i + 1) * 5)) & 0x1f);
        buf[i] = alphabet[idx];
    }
    buf[11] = '\0';
    return true;
}

double kv_geo_lat_distance(double lat1, double lat2) {
    return KV_GEO_EARTH_RADIUS * fabs(DEG_RAD(lat2) - DEG_RAD(lat1));
}

double kv_geo_distance(double lon1, double lat1, double lon2, double lat2) {
    double lon1r = DEG_RAD(lon1), lon2r = DEG_RAD(lon2);
    double v = sin((lon2r - lon1r) / 2);
    if (v == 0.0) return kv_geo_lat_distance(lat1, lat2);
    double lat1r = DEG_RAD(lat1), lat2r = DEG_RAD(lat2);
    double u = sin((lat2r - lat1r) / 2);
    double a = u * u + cos(lat1r) * cos(lat2r) * v * v;
    return 2.0 * KV_GEO_EARTH_RADIUS * asin(sqrt(a));
}

bool kv_geo_in_shape(const kv_geo_shape_t *s, double lon, double lat, double *dist) {
    if (!s->box) {
        double d = kv_geo_distance(s->lon, s->lat, lon, lat);
        if (d > s->radius * s->conversion) return false;
        *dist = d;
        return true;
    }
    double w = s->width * s->conversion, hgt = s->height * s->conversion;
    if (kv_geo_lat_distance(lat, s->lat) > hgt / 2) return false;
    if (kv_geo_distance(lon, lat, s->lon, lat) > w / 2) return false;
    *dist = kv_geo_distance(s->lon, s->lat, lon, lat);
    return true;
}

/* Moves a cell by d (+1/-1) along longitude (odd bits) or latitude (even bits). */
static void move(kv_geohash_t *h, int d, bool along_lon) {
    const uint64_t odd = 0xaaaaaaaaaaaaaaaaULL, even = 0x5555555555555555ULL;
    uint64_t mine = h->bits & (along_lon ? odd : even);
    uint64_t other = h->bits & (along_lon ? even : odd);
    unsigned shift = 64 - h->step * 2u;
    uint64_t fill = (along_lon ? even : odd) >> shift;
    if (d > 0) {
        mine = mine + (fill + 1);
    } else {
        mine = mine | fill;
        mine = mine - (fill + 1);
    }
    mine &= (along_lon ? odd : even) >> shift;
    h->bits = mine | other;
}

void kv_geohash_neighbors(const kv_geohash_t *h, kv_geohash_t out[8]) {
    /* N, S, E, W, NE, NW, SE, SW */
    static const int dx[8] = {0, 0, 1, -1, 1, -1, 1, -1};
    static const int dy[8] = {1, -1, 0, 0, 1, 1, -1, -1};
    for (int i = 0; i < 8; i++) {
        out[i] = *h;
        if (dx[i] != 0) move(&out[i], dx[i], true);
        if (dy[i] != 0) move(&out[i], dy[i], false);
    }
}

unsigned kv_geo_steps_for_radius(double meters, double lat) {
    if (meters == 0) return 26;
    int step = 1;
    for (int guard = 0; meters < KV_GEO_MERCATOR_MAX && guard < 2000; guard++) {
        meters *= 2;
        step++;
    }
    step -= 2;
    if (lat > 66 || lat < -66) {
        step--;
        if (lat > 80 || lat < -80) step--;
    }
    if (step < 1) step = 1;
    if (step > 26) step = 26;
    return (unsigned)step;
}

void kv_geo_cells_for_shape(const kv_geo_shape_t *s, kv_geo_cells_t *out) {
    double hgt = s->conversion * (s->box ? s->height / 2 : s->radius);
    double wid = s->conversion * (s->box ? s->width / 2 : s->radius);
    double lat_delta = RAD_DEG(hgt / KV_GEO_EARTH_RADIUS);
    double lon_top = RAD_DEG(wid / KV_GEO_EARTH_RADIUS / cos(DEG_RAD(s->lat + lat_delta)));
    double lon_bottom = RAD_DEG(wid / KV_GEO_EARTH_RADIUS / cos(DEG_RAD(s->lat - lat_delta)));
    bool south = s->lat < 0;
    double min_lon = south ? s->lon - lon_bottom : s->lon - lon_top;
    double max_lon = south ? s->lon + lon_bottom : s->lon + lon_top;
    double min_lat = s->lat - lat_delta, max_lat = s->lat + lat_delta;

    double radius = s->box
                        ? sqrt((s->width / 2) * (s->width / 2) + (s->height / 2) * (s->height / 2))
                        : s->radius;
    radius *= s->conversion;
    unsigned steps = kv_geo_steps_for_radius(radius, s->lat);

    kv_geohash_t h = {0, 0}, nb[8];
    kv_geo_area_t area = {{0, 0}, {0, 0}};
    kv_geohash_encode_wgs84(s->lon, s->lat, steps, &h);
    kv_geohash_neighbors(&h, nb);
    kv_geohash_decode(&lon_wgs84, &lat_wgs84, h, &area);

    kv_geo_area_t n, so, e, w;
    kv_geohash_decode(&lon_wgs84, &lat_wgs84, nb[0], &n);
    kv_geohash_decode(&lon_wgs84, &lat_wgs84, nb[1], &so);
    kv_geohash_decode(&lon_wgs84, &lat_wgs84, nb[2], &e);
    kv_geohash_decode(&lon_wgs84, &lat_wgs84, nb[3], &w);
    bool decrease =
        n.lat.max < max_lat || so.lat.min > min_lat || e.lon.max < max_lon || w.lon.min > min_lon;
    if (steps > 1 && decrease) {
        steps--;
        kv_geohash_encode_wgs84(s->lon, s->lat, steps, &h);
        kv_geohash_neighbors(&h, nb);
        kv_geohash_decode(&lon_wgs84, &lat_wgs84, h, &area);
    }
    enum { N, S, E, W, NE, NW, SE, SW };
    if (steps >= 2) {
        const kv_geohash_t zero = {0, 0};
        if (area.lat.min < min_lat) nb[S] = nb[SW] = nb[SE] = zero;
        if (area.lat.max > max_lat) nb[N] = nb[NE] = nb[NW] = zero;
        if (area.lon.min < min_lon) nb[W] = nb[SW] = nb[NW] = zero;
        if (area.lon.max > max_lon) nb[E] = nb[SE] = nb[NE] = zero;
    }
    out->cell[0] = h;
    for (int i = 0; i < 8; i++)
        out->cell[i + 1] = nb[i];
}

void kv_geo_cell_scores(kv_geohash_t h, double *min, double *max) {
    *min = (double)kv_geohash_align52(h);
    h.bits++;
    *max = (double)kv_geohash_align52(h);
}
