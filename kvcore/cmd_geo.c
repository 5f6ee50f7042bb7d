/* SPDX-License-Identifier: MIT */
/*
 * cmd_geo.c - geo commands on sorted sets: GEOADD GEODIST GEOHASH GEOPOS GEOSEARCH
 * GEOSEARCHSTORE GEORADIUS GEORADIUSBYMEMBER (and the _RO forms).
 *
 * A position is stored as a member whose score is its 52-bit geohash (geohash.h). The
 * handlers follow Redis 7.0's geo.c step for step, since the order of parsing, lookup and
 * checks decides which error a bad call gets: GEOADD turns its triples into a ZADD call;
 * the searches scan the same nine cells in the same order and filter by the same distance
 * test, so unsorted results (and COUNT ANY's pick) come out as redis-server's do. Replies:
 * distances "%.4f", coordinates as Redis's human-friendly long double ("%.17Lf" without
 * trailing zeros). tests/kv_corpus/geo.txt holds us to redis-server's bytes.
 */
#include "geohash.h"
#include "t_zset.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* --- Argument helpers --- */

/* Redis's extractLongLatOrReply over argv[0], argv[1]: 0 or -EINVAL (replied). */
static int lonlat_or_reply(kv_client_t *c, const kv_arg_t *a, double *lon, double *lat) {
    if (!kv_str2d(a[0].ptr, a[0].len, lon) || !kv_str2d(a[1].ptr, a[1].len, lat)) {
        kv_reply_error(c, "ERR value is not a valid float");
        return -EINVAL;
    }
    if (*lon < KV_GEO_LON_MIN || *lon > KV_GEO_LON_MAX || *lat < KV_GEO_LAT_MIN ||
        *lat > KV_GEO_LAT_MAX) {
        kv_reply_errorf(c, "ERR invalid longitude,latitude pair %f,%f", *lon, *lat);
        return -EINVAL;
    }
    return 0;
}

/* Metres per unit, or -1 (replied) for an unknown unit. */
static double unit_or_reply(kv_client_t *c, const kv_arg_t *u) {
    if (kv_arg_is(u, "m")) return 1;
    if (kv_arg_is(u, "km")) return 1000;
    if (kv_arg_is(u, "ft")) return 0.3048;
    if (kv_arg_is(u, "mi")) return 1609.34;
    kv_reply_error(c, "ERR unsupported unit provided. please use M, KM, FT, MI");
    return -1;
}

static int double_or_reply(kv_client_t *c, const kv_arg_t *a, double *v, const char *msg) {
    if (kv_str2d(a->ptr, a->len, v)) return 0;
    kv_reply_error(c, msg);
    return -EINVAL;
}

/* radius unit: 0 or -EINVAL (replied). */
static int distance_or_reply(kv_client_t *c, const kv_arg_t *a, kv_geo_shape_t *s) {
    double d;
    if (double_or_reply(c, &a[0], &d, "ERR need numeric radius") != 0) return -EINVAL;
    if (d < 0) {
        kv_reply_error(c, "ERR radius cannot be negative");
        return -EINVAL;
    }
    s->radius = d;
    double conv = unit_or_reply(c, &a[1]);
    if (conv < 0) return -EINVAL;
    s->conversion = conv;
    return 0;
}

/* width height unit: 0 or -EINVAL (replied). */
static int box_or_reply(kv_client_t *c, const kv_arg_t *a, kv_geo_shape_t *s) {
    double w, h;
    if (double_or_reply(c, &a[0], &w, "ERR need numeric width") != 0 ||
        double_or_reply(c, &a[1], &h, "ERR need numeric height") != 0)
        return -EINVAL;
    if (h < 0 || w < 0) {
        kv_reply_error(c, "ERR height or width cannot be negative");
        return -EINVAL;
    }
    s->width = w;
    s->height = h;
    double conv = unit_or_reply(c, &a[2]);
    if (conv < 0) return -EINVAL;
    s->conversion = conv;
    return 0;
}

/* A member's decoded position; false when absent. */
static bool member_pos(const kv_obj_t *o, const kv_arg_t *m, double *lon, double *lat,
                       double *score) {
    double sc;
    if (!kv_zset_score(o, m->ptr, m->len, &sc)) return false;
    if (score != NULL) *score = sc;
    return kv_geo_score_decode(sc, lon, lat);
}

static void reply_distance(kv_client_t *c, double d) {
    char buf[512];
    int n = snprintf(buf, sizeof(buf), "%.4f", d);
    kv_reply_bulk(c, buf, n > 0 && (size_t)n < sizeof(buf) ? (size_t)n : 0);
}

static void reply_coord(kv_client_t *c, double v) {
    char buf[512];
    size_t n = kv_ld2str(buf, sizeof(buf), (long double)v);
    kv_reply_double_text(c, buf, n); /* Redis's addReplyHumanLongDouble: a double in RESP3 */
}

/* --- GEOADD --- */

void kv_cmd_geoadd(kv_client_t *c) {
    bool xx = false, nx = false;
    int longidx = 2;
    for (; longidx < c->argc; longidx++) {
        const kv_arg_t *a = &c->argv[longidx];
        if (kv_arg_is(a, "nx"))
            nx = true;
        else if (kv_arg_is(a, "xx"))
            xx = true;
        else if (!kv_arg_is(a, "ch"))
            break;
    }
    if ((c->argc - longidx) % 3 != 0 || (xx && nx)) {
        kv_reply_syntax_err(c);
        return;
    }
    /* The same ZADD call Redis makes: the options as given, then score/member pairs. */
    int elements = (c->argc - longidx) / 3;
    int argc = longidx + elements * 2;
    kv_arg_t *argv = malloc(sizeof(*argv) * (size_t)argc);
    char(*scores)[24] = malloc(sizeof(*scores) * (size_t)(elements > 0 ? elements : 1));
    if (argv == NULL || scores == NULL) {
        free(argv);
        free(scores);
        kv_reply_oom(c);
        return;
    }
    argv[0].ptr = "zadd";
    argv[0].len = 4;
    for (int i = 1; i < longidx; i++)
        argv[i] = c->argv[i];
    for (int i = 0; i < elements; i++) {
        double lon, lat;
        if (lonlat_or_reply(c, &c->argv[longidx + i * 3], &lon, &lat) != 0) goto out;
        uint64_t bits = kv_geo_score_encode(lon, lat);
        int n = snprintf(scores[i], sizeof(scores[i]), "%llu", (unsigned long long)bits);
        argv[longidx + i * 2].ptr = scores[i];
        argv[longidx + i * 2].len = (size_t)n;
        argv[longidx + i * 2 + 1] = c->argv[longidx + i * 3 + 2];
    }
    kv_arg_t *saved_argv = c->argv;
    int saved_argc = c->argc;
    c->argv = argv;
    c->argc = argc;
    kv_cmd_zadd(c);
    c->argv = saved_argv;
    c->argc = saved_argc;
out:
    free(argv);
    free(scores);
}

/* --- GEODIST GEOHASH GEOPOS --- */

void kv_cmd_geodist(kv_client_t *c) {
    double to_meter = 1;
    if (c->argc == 5) {
        to_meter = unit_or_reply(c, &c->argv[4]);
        if (to_meter < 0) return;
    } else if (c->argc > 5) {
        kv_reply_syntax_err(c);
        return;
    }
    bool wrong;
    kv_obj_t *o = kv_lookup_type_or_reply(c, &c->argv[1], KV_TYPE_ZSET, false, &wrong);
    if (wrong) return;
    double s1, s2, x1, y1, x2, y2;
    if (o == NULL || !kv_zset_score(o, c->argv[2].ptr, c->argv[2].len, &s1) ||
        !kv_zset_score(o, c->argv[3].ptr, c->argv[3].len, &s2) ||
        !kv_geo_score_decode(s1, &x1, &y1) || !kv_geo_score_decode(s2, &x2, &y2)) {
        kv_reply_null(c);
        return;
    }
    reply_distance(c, kv_geo_distance(x1, y1, x2, y2) / to_meter);
}

void kv_cmd_geohash(kv_client_t *c) {
    bool wrong;
    kv_obj_t *o = kv_lookup_type_or_reply(c, &c->argv[1], KV_TYPE_ZSET, false, &wrong);
    if (wrong) return;
    kv_reply_array_len(c, c->argc - 2);
    for (int j = 2; j < c->argc; j++) {
        double score;
        char buf[12];
        if (o == NULL || !kv_zset_score(o, c->argv[j].ptr, c->argv[j].len, &score) ||
            !kv_geo_score_to_str(score, buf))
            kv_reply_null(c);
        else
            kv_reply_bulk(c, buf, 11);
    }
}

void kv_cmd_geopos(kv_client_t *c) {
    bool wrong;
    kv_obj_t *o = kv_lookup_type_or_reply(c, &c->argv[1], KV_TYPE_ZSET, false, &wrong);
    if (wrong) return;
    kv_reply_array_len(c, c->argc - 2);
    for (int j = 2; j < c->argc; j++) {
        double lon, lat;
        if (o == NULL || !member_pos(o, &c->argv[j], &lon, &lat, NULL)) {
            kv_reply_null_array(c);
            continue;
        }
        kv_reply_array_len(c, 2);
        reply_coord(c, lon);
        reply_coord(c, lat);
    }
}

/* --- The searches --- */

typedef struct geo_point {
    double lon, lat, dist, score;
    char *member;
    size_t len;
} geo_point_t;

typedef struct geo_array {
    geo_point_t *p;
    size_t used, cap;
} geo_array_t;

static void geo_array_free(geo_array_t *ga) {
    for (size_t i = 0; i < ga->used; i++)
        free(ga->p[i].member);
    free(ga->p);
}

static int geo_array_push(geo_array_t *ga, const kv_zset_elem_t *e, double lon, double lat,
                          double dist) {
    if (ga->used == ga->cap) {
        size_t cap = ga->cap ? ga->cap * 2 : 16;
        geo_point_t *p = realloc(ga->p, cap * sizeof(*p));
        if (p == NULL) return -ENOMEM;
        ga->p = p;
        ga->cap = cap;
    }
    char *m = malloc(e->len ? e->len : 1);
    if (m == NULL) return -ENOMEM;
    memcpy(m, e->member, e->len);
    ga->p[ga->used++] = (geo_point_t){lon, lat, dist, e->score, m, e->len};
    return 0;
}

/* Every member of o inside cell h and inside the shape, until limit (0: none) are found. */
static int points_in_cell(const kv_obj_t *o, kv_geohash_t h, const kv_geo_shape_t *s,
                          geo_array_t *ga, size_t limit) {
    kv_zsl_range_t r;
    kv_geo_cell_scores(h, &r.min, &r.max);
    r.minex = false;
    r.maxex = true;
    kv_zset_iter_t it;
    kv_zset_elem_t e;
    kv_zset_iter_score(&it, o, &r, false);
    while (kv_zset_iter_next(&it, &e)) {
        if (!kv_zset_score_lte_max(e.score, &r)) break;
        double lon, lat, dist;
        if (!kv_geo_score_decode(e.score, &lon, &lat) || !kv_geo_in_shape(s, lon, lat, &dist))
            continue;
        if (geo_array_push(ga, &e, lon, lat, dist) != 0) return -ENOMEM;
        if (limit && ga->used >= limit) break;
    }
    return 0;
}

static int points_in_shape(const kv_obj_t *o, const kv_geo_shape_t *s, geo_array_t *ga,
                           size_t limit) {
    kv_geo_cells_t cells;
    kv_geo_cells_for_shape(s, &cells);
    int last = 0;
    for (int i = 0; i < 9; i++) {
        kv_geohash_t h = cells.cell[i];
        if (h.bits == 0 && h.step == 0) continue;
        /* Huge radii make neighbours repeat: skip one equal to the last scanned. */
        if (last != 0 && h.bits == cells.cell[last].bits && h.step == cells.cell[last].step)
            continue;
        if (ga->used && limit && ga->used >= limit) break;
        if (points_in_cell(o, h, s, ga, limit) != 0) return -ENOMEM;
        last = i;
    }
    return 0;
}

/* Stable merge sort by distance (ties keep the scan order, as glibc's qsort does). */
static void sort_points(geo_point_t *p, geo_point_t *tmp, size_t n, bool desc) {
    if (n < 2) return;
    size_t h = n / 2;
    sort_points(p, tmp, h, desc);
    sort_points(p + h, tmp, n - h, desc);
    size_t i = 0, j = h, k = 0;
    while (i < h && j < n) {
        bool take_right = desc ? p[j].dist > p[i].dist : p[j].dist < p[i].dist;
        tmp[k++] = take_right ? p[j++] : p[i++];
    }
    while (i < h)
        tmp[k++] = p[i++];
    while (j < n)
        tmp[k++] = p[j++];
    memcpy(p, tmp, n * sizeof(*p));
}

enum {
    GEO_COORDS = 1u << 0,     /* GEORADIUS: lon lat radius unit */
    GEO_MEMBER = 1u << 1,     /* GEORADIUSBYMEMBER: member radius unit */
    GEO_NOSTORE = 1u << 2,    /* the _RO forms */
    GEO_SEARCH = 1u << 3,     /* GEOSEARCH */
    GEO_SEARCHSTORE = 1u << 4 /* GEOSEARCHSTORE */
};
enum { SORT_NONE, SORT_ASC, SORT_DESC };

static void store_points(kv_client_t *c, const kv_arg_t *dst, geo_array_t *ga, size_t n,
                         const kv_geo_shape_t *s, bool storedist, const char *event) {
    if (n == 0) {
        kv_notify_store_empty(c, dst);
        kv_reply_int(c, 0);
        return;
    }
    bool skiplist = kv_srv.cfg.zset_max_listpack_entries == 0;
    kv_obj_t *o = kv_zset_new(dst->ptr, dst->len, skiplist, -1);
    if (o == NULL) {
        kv_reply_oom(c);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        geo_point_t *gp = &ga->p[i];
        double score = storedist ? gp->dist / s->conversion : gp->score;
        unsigned res;
        if (kv_zset_add(o, score, gp->member, gp->len, 0, &res, NULL) != 0) {
            kv_obj_free(o);
            kv_reply_oom(c);
            return;
        }
    }
    if (kv_db_set(c->db, o, false) != 0) {
        kv_reply_oom(c);
        return;
    }
    kv_notify_key_changed(c, dst, KV_NOTIFY_ZSET, event);
    kv_srv.dirty += (long long)n;
    kv_reply_int(c, (long long)n);
}

static void georadius_generic(kv_client_t *c, int src, unsigned flags) {
    const kv_arg_t *storekey = NULL;
    bool storedist = false;
    bool wrong;
    kv_obj_t *o = kv_lookup_type_or_reply(c, &c->argv[src], KV_TYPE_ZSET, false, &wrong);
    if (wrong) return;

    int base;
    kv_geo_shape_t shape;
    memset(&shape, 0, sizeof(shape));
    if (flags & GEO_COORDS) {
        base = 6;
        if (lonlat_or_reply(c, &c->argv[2], &shape.lon, &shape.lat) != 0 ||
            distance_or_reply(c, &c->argv[base - 2], &shape) != 0)
            return;
    } else if ((flags & GEO_MEMBER) && o == NULL) {
        base = 5; /* parse the options anyway: they decide the empty reply's kind */
    } else if (flags & GEO_MEMBER) {
        base = 5;
        if (!member_pos(o, &c->argv[2], &shape.lon, &shape.lat, NULL)) {
            kv_reply_error(c, "ERR could not decode requested zset member");
            return;
        }
        if (distance_or_reply(c, &c->argv[base - 2], &shape) != 0) return;
    } else {
        base = 2;
        if (flags & GEO_SEARCHSTORE) {
            base = 3;
            storekey = &c->argv[1];
        }
    }

    bool withdist = false, withhash = false, withcoords = false, any = false;
    bool frommember = false, fromloc = false, byradius = false, bybox = false;
    int sort = SORT_NONE;
    long long count = 0;
    int remaining = c->argc - base;
    for (int i = 0; i < remaining; i++) {
        const kv_arg_t *a = &c->argv[base + i];
        if (kv_arg_is(a, "withdist")) {
            withdist = true;
        } else if (kv_arg_is(a, "withhash")) {
            withhash = true;
        } else if (kv_arg_is(a, "withcoord")) {
            withcoords = true;
        } else if (kv_arg_is(a, "any")) {
            any = true;
        } else if (kv_arg_is(a, "asc")) {
            sort = SORT_ASC;
        } else if (kv_arg_is(a, "desc")) {
            sort = SORT_DESC;
        } else if (kv_arg_is(a, "count") && i + 1 < remaining) {
            if (kv_arg_ll_or_reply(c, &c->argv[base + i + 1], &count, NULL) != 0) return;
            if (count <= 0) {
                kv_reply_error(c, "ERR COUNT must be > 0");
                return;
            }
            i++;
        } else if ((kv_arg_is(a, "store") || kv_arg_is(a, "storedist")) && i + 1 < remaining &&
                   !(flags & GEO_NOSTORE) && !(flags & GEO_SEARCH)) {
            storekey = &c->argv[base + i + 1];
            storedist = kv_arg_is(a, "storedist");
            i++;
        } else if (kv_arg_is(a, "storedist") && (flags & GEO_SEARCH) && (flags & GEO_SEARCHSTORE)) {
            storedist = true;
        } else if (kv_arg_is(a, "frommember") && i + 1 < remaining && (flags & GEO_SEARCH) &&
                   !fromloc) {
            if (o != NULL && !member_pos(o, &c->argv[base + i + 1], &shape.lon, &shape.lat, NULL)) {
                kv_reply_error(c, "ERR could not decode requested zset member");
                return;
            }
            frommember = true;
            i++;
        } else if (kv_arg_is(a, "fromlonlat") && i + 2 < remaining && (flags & GEO_SEARCH) &&
                   !frommember) {
            if (lonlat_or_reply(c, &c->argv[base + i + 1], &shape.lon, &shape.lat) != 0) return;
            fromloc = true;
            i += 2;
        } else if (kv_arg_is(a, "byradius") && i + 2 < remaining && (flags & GEO_SEARCH) &&
                   !bybox) {
            if (distance_or_reply(c, &c->argv[base + i + 1], &shape) != 0) return;
            shape.box = false;
            byradius = true;
            i += 2;
        } else if (kv_arg_is(a, "bybox") && i + 3 < remaining && (flags & GEO_SEARCH) &&
                   !byradius) {
            if (box_or_reply(c, &c->argv[base + i + 1], &shape) != 0) return;
            shape.box = true;
            bybox = true;
            i += 3;
        } else {
            kv_reply_syntax_err(c);
            return;
        }
    }

    if (storekey && (withdist || withhash || withcoords)) {
        kv_reply_errorf(c, "ERR %s is not compatible with WITHDIST, WITHHASH and WITHCOORD options",
                        (flags & GEO_SEARCHSTORE) ? "GEOSEARCHSTORE" : "STORE option in GEORADIUS");
        return;
    }
    if ((flags & GEO_SEARCH) && !(frommember || fromloc)) {
        kv_reply_errorf(c, "ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for %.*s",
                        (int)c->argv[0].len, c->argv[0].ptr);
        return;
    }
    if ((flags & GEO_SEARCH) && !(byradius || bybox)) {
        kv_reply_errorf(c, "ERR exactly one of BYRADIUS and BYBOX can be specified for %.*s",
                        (int)c->argv[0].len, c->argv[0].ptr);
        return;
    }
    if (any && !count) {
        kv_reply_error(c, "ERR the ANY argument requires COUNT argument");
        return;
    }
    if (o == NULL) {
        if (storekey) {
            kv_notify_store_empty(c, storekey);
            kv_reply_int(c, 0);
        } else {
            kv_reply_array_len(c, 0);
        }
        return;
    }
    if (count != 0 && sort == SORT_NONE && !any) sort = SORT_ASC;

    geo_array_t ga = {NULL, 0, 0};
    if (points_in_shape(o, &shape, &ga, any ? (size_t)count : 0) != 0) {
        geo_array_free(&ga);
        kv_reply_oom(c);
        return;
    }
    if (ga.used == 0 && storekey == NULL) {
        kv_reply_array_len(c, 0);
        geo_array_free(&ga);
        return;
    }
    size_t n = (count == 0 || ga.used < (unsigned long long)count) ? ga.used : (size_t)count;
    if (sort != SORT_NONE && ga.used > 1) {
        geo_point_t *tmp = malloc(ga.used * sizeof(*tmp));
        if (tmp == NULL) {
            geo_array_free(&ga);
            kv_reply_oom(c);
            return;
        }
        sort_points(ga.p, tmp, ga.used, sort == SORT_DESC);
        free(tmp);
    }
    if (storekey != NULL) {
        store_points(c, storekey, &ga, n, &shape, storedist,
                     flags & GEO_SEARCHSTORE ? "geosearchstore" : "georadiusstore");
        geo_array_free(&ga);
        return;
    }
    long extras = (long)withdist + (long)withcoords + (long)withhash;
    kv_reply_array_len(c, (long)n);
    for (size_t i = 0; i < n; i++) {
        const geo_point_t *gp = &ga.p[i];
        if (extras) kv_reply_array_len(c, extras + 1);
        kv_reply_bulk(c, gp->member, gp->len);
        if (withdist) reply_distance(c, gp->dist / shape.conversion);
        if (withhash) kv_reply_int(c, (long long)gp->score);
        if (withcoords) {
            kv_reply_array_len(c, 2);
            reply_coord(c, gp->lon);
            reply_coord(c, gp->lat);
        }
    }
    geo_array_free(&ga);
}

void kv_cmd_georadius(kv_client_t *c) {
    georadius_generic(c, 1, GEO_COORDS);
}

void kv_cmd_georadius_ro(kv_client_t *c) {
    georadius_generic(c, 1, GEO_COORDS | GEO_NOSTORE);
}

void kv_cmd_georadiusbymember(kv_client_t *c) {
    georadius_generic(c, 1, GEO_MEMBER);
}

void kv_cmd_georadiusbymember_ro(kv_client_t *c) {
    georadius_generic(c, 1, GEO_MEMBER | GEO_NOSTORE);
}

void kv_cmd_geosearch(kv_client_t *c) {
    georadius_generic(c, 1, GEO_SEARCH);
}

void kv_cmd_geosearchstore(kv_client_t *c) {
    georadius_generic(c, 2, GEO_SEARCH | GEO_SEARCHSTORE);
}
