/* SPDX-License-Identifier: MIT */
/*
 * geohash.h - the 52-bit interleaved geohash that geo commands store as sorted-set scores,
 * with Redis's ranges (longitude -180..180, latitude -85.05112878..85.05112878), its earth
 * radius and its choice of search cells, so the same members get the same scores, distances
 * and result order as redis-server. Internal to kvcore/.
 *
 * A hash of `step` bits per axis interleaves them: latitude in the even bits, longitude in
 * the odd bits, the most significant pair first.
 */
#ifndef KV_GEOHASH_H
#define KV_GEOHASH_H

#include <stdbool.h>
#include <stdint.h>

#define KV_GEO_STEP_MAX     26
#define KV_GEO_LON_MIN      (-180.0)
#define KV_GEO_LON_MAX      180.0
#define KV_GEO_LAT_MIN      (-85.05112878)
#define KV_GEO_LAT_MAX      85.05112878
#define KV_GEO_EARTH_RADIUS 6372797.560856
#define KV_GEO_MERCATOR_MAX 20037726.37

typedef struct kv_geohash {
    uint64_t bits;
    uint8_t step; /* 0 with bits 0: an unused cell */
} kv_geohash_t;

typedef struct kv_geo_range {
    double min, max;
} kv_geo_range_t;

typedef struct kv_geo_area {
    kv_geo_range_t lon, lat;
} kv_geo_area_t;

/* A search shape: centre, and a radius or a width/height box, in units of conversion m. */
typedef struct kv_geo_shape {
    bool box;
    double lon, lat;
    double conversion; /* metres per unit */
    double radius;     /* circle */
    double width, height;
} kv_geo_shape_t;

/* The cells to scan, in the order Redis scans them: the centre, N, S, E, W, NE, NW, SE, SW
 * (unused ones have step 0 and bits 0). */
typedef struct kv_geo_cells {
    kv_geohash_t cell[9];
} kv_geo_cells_t;

/*
 * Encodes lon/lat inside the given ranges with step bits per axis (1..32). False (and
 * *h untouched) when a coordinate is outside Redis's limits or the ranges.
 */
bool kv_geohash_encode(const kv_geo_range_t *lonr, const kv_geo_range_t *latr, double lon,
                       double lat, unsigned step, kv_geohash_t *h);
/* The same over Redis's ranges (the WGS84 / Mercator box). */
bool kv_geohash_encode_wgs84(double lon, double lat, unsigned step, kv_geohash_t *h);
/* The cell's area. False for an unused cell. */
bool kv_geohash_decode(const kv_geo_range_t *lonr, const kv_geo_range_t *latr, kv_geohash_t h,
                       kv_geo_area_t *a);
/* A 52-bit score's cell centre (clamped to the limits) into lon/lat. False if it is none. */
bool kv_geo_score_decode(double score, double *lon, double *lat);
/* The 52-bit score of lon/lat (both must be inside the limits). */
uint64_t kv_geo_score_encode(double lon, double lat);
/* The hash aligned to 52 bits. */
uint64_t kv_geohash_align52(kv_geohash_t h);
/* The 11-character base32 geohash (standard -90..90 latitude) of a score; buf needs 12. */
bool kv_geo_score_to_str(double score, char *buf);

/* Haversine distance in metres, as Redis computes it. */
double kv_geo_distance(double lon1, double lat1, double lon2, double lat2);
/* Distance along a meridian in metres. */
double kv_geo_lat_distance(double lat1, double lat2);
/* True (and *dist) when lon/lat lies inside the shape. */
bool kv_geo_in_shape(const kv_geo_shape_t *s, double lon, double lat, double *dist);
/* The eight neighbours of h. */
void kv_geohash_neighbors(const kv_geohash_t *h, kv_geohash_t out[8]);
/* Step (cell size) Redis picks for a search radius in metres at a latitude. */
unsigned kv_geo_steps_for_radius(double meters, double lat);
/* The cells a search over shape scans (Redis's geohashCalculateAreasByShapeWGS84). */
void kv_geo_cells_for_shape(const kv_geo_shape_t *s, kv_geo_cells_t *out);
/* The [min, max) score interval of a cell. */
void kv_geo_cell_scores(kv_geohash_t h, double *min, double *max);

#endif /* KV_GEOHASH_H */
