/* SPDX-License-Identifier: MIT */
/*
 * test_kv_rdb.c - the RDB writer and reader (kvcore/rdb.c, rdb_load.c, crc64.c): the
 * checksum's check value; known bytes of DUMP payloads for each string encoding, a
 * listpack hash and an intset (the bytes Redis 7.0 writes for the same values); a round
 * trip of every type and encoding (same digest, same encoding, same TTL); whole snapshots
 * through memory, with expires and several databases; refusal of corrupt payloads (any
 * flipped byte, truncated or inconsistent values with a correct checksum) without leaving
 * anything behind; a stream or a module key named in the load error; RESTORE's errors
 * and options through the dispatcher; compressed lists (list-compress-depth) written as
 * their nodes' LZF strings and read back, and every corruption of such a node refused or
 * read safely.
 */
#include "test_common.h"

#include <jemalloc/jemalloc.h>

#include "kv_internal.h"
#include "quicklist.h"
#include "rdb.h"
#include "t_hash.h"
#include "t_list.h"
#include "t_zset.h"
#include "kv_client_test.h"

/* Sends a command and drops its reply. */
#define RUN(c, ...)                                                                                \
    do {                                                                                           \
        SEND(c, __VA_ARGS__);                                                                      \
        free(take_output(c));                                                                      \
    } while (0)

static kv_obj_t *key(const char *k) {
    kv_obj_t *o = kv_ht_find(kv_srv.dbs[0].keys, k, strlen(k));
    assert_non_null(o);
    return o;
}

/* Payload with a correct footer: body, version 10, CRC-64. */
static unsigned char *with_footer(const unsigned char *body, size_t n, size_t *len) {
    unsigned char *p = malloc(n + 10);
    assert_non_null(p);
    memcpy(p, body, n);
    p[n] = 10;
    p[n + 1] = 0;
    uint64_t crc = kv_crc64(0, p, n + 2);
    for (int i = 0; i < 8; i++)
        p[n + 2 + i] = (unsigned char)(crc >> (8 * i));
    *len = n + 10;
    return p;
}

static void flush_all(void) {
    for (int i = 0; i < kv_srv.ndbs; i++)
        kv_db_flush(&kv_srv.dbs[i]);
}

static void test_rdb_crc64_check_value(void **state) {
    (void)state;
    assert_true(kv_crc64(0, "123456789", 9) == 0xe9c6d914c4b8d9caull);
    unsigned char buf[1000];
    for (size_t i = 0; i < sizeof(buf); i++)
        buf[i] = (unsigned char)(i * 131 + 7);
    /* Any split of the input gives the same checksum (the 8-byte steps and the tail). */
    for (size_t cut = 0; cut < 20; cut++)
        assert_true(kv_crc64(kv_crc64(0, buf, cut), buf + cut, sizeof(buf) - cut) ==
                    kv_crc64(0, buf, sizeof(buf)));
}

/* The payload of key k without its 10-byte footer must be exactly want[0..n). */
static void assert_dump_body(const char *k, const unsigned char *want, size_t n) {
    unsigned char *p;
    size_t len;
    assert_int_equal(kv_rdb_dump_payload(key(k), &p, &len), 0);
    assert_int_equal(len, n + 10);
    assert_memory_equal(p, want, n);
    assert_int_equal(p[n], 10);
    assert_int_equal(p[n + 1], 0);
    assert_true(kv_rdb_payload_verify(p, len));
    free(p);
}

/* Bytes as Redis 7.0's DUMP gives them for the same values (redis-cli DUMP | xxd). */
static void test_rdb_dump_known_bytes(void **state) {
    (void)state;
    kv_client_t *c = kv_client_new(-1);
    RUN(c, "SET", "i8", "-5");
    RUN(c, "SET", "i16", "1000");
    RUN(c, "SET", "i32", "100000");
    RUN(c, "SET", "i64", "12345678901");
    RUN(c, "SET", "str", "hello");
    RUN(c, "SET", "lzf", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
    RUN(c, "HSET", "h", "f", "v");
    RUN(c, "SADD", "is", "1", "2", "3");
    assert_dump_body("i8", (const unsigned char *)"\x00\xc0\xfb", 3);
    assert_dump_body("i16", (const unsigned char *)"\x00\xc1\xe8\x03", 4);
    assert_dump_body("i32", (const unsigned char *)"\x00\xc2\xa0\x86\x01\x00", 6);
    assert_dump_body("i64",
                     (const unsigned char *)"\x00\x0b"
                                            "12345678901",
                     13);
    assert_dump_body("str", (const unsigned char *)"\x00\x05hello", 7);
    /* 40 'a': LZF, 9 bytes for 40 (literals "aa", a back reference, literals "aa"). */
    assert_dump_body(
        "lzf", (const unsigned char *)"\x00\xc3\x09\x28\x01\x61\x61\xe0\x1b\x00\x01\x61\x61", 13);
    /* A listpack hash: the blob as it is in memory (13 bytes). */
    assert_dump_body("h",
                     (const unsigned char *)"\x10\x0d\x0d\x00\x00\x00\x02\x00\x81\x66\x02\x81"
                                            "\x76\x02\xff",
                     15);
    /* An intset of 16-bit values. */
    assert_dump_body("is",
                     (const unsigned char *)"\x0b\x0e\x02\x00\x00\x00\x03\x00\x00\x00\x01\x00"
                                            "\x02\x00\x03\x00",
                     16);
    kv_client_free(c);
    flush_all();
}

/* The whole payload, footer included, must be exactly want[0..n) (Redis 7.0's bytes). */
static void assert_dump_exact(const char *k, const char *want, size_t n) {
    unsigned char *p;
    size_t len;
    assert_int_equal(kv_rdb_dump_payload(key(k), &p, &len), 0);
    assert_int_equal(len, n);
    assert_memory_equal(p, want, n);
    free(p);
}

/* Aggregates as redis-server 7.0 dumps them (rdbcompression no; redis-cli DUMP): a list
 * as QUICKLIST_2 with one packed node, a listpack sorted set, a skiplist (binary score),
 * a hash table hash and a one-member set. */
static void test_rdb_dump_known_bytes_aggregates(void **state) {
    (void)state;
    kv_client_t *c = kv_client_new(-1);
    char m65[66], v65[66];
    memset(m65, 'm', 65);
    memset(v65, 'v', 65);
    m65[65] = v65[65] = '\0';
    kv_srv.cfg.rdbcompression = false;
    RUN(c, "RPUSH", "l", "a", "1");
    RUN(c, "ZADD", "z", "1.5", "a");
    RUN(c, "ZADD", "zs", "2", m65);
    RUN(c, "HSET", "hh", "f", v65);
    RUN(c, "SADD", "s1", "abc");
    assert_dump_exact("l",
                      "\x12\x01\x02\x0c\x0c\x00\x00\x00\x02\x00\x81"
                      "a\x02\x01\x01\xff\n\x00\x94\x96+#\xac\x17\xaa\x85",
                      26);
    assert_dump_exact("z",
                      "\x11\x0f\x0f\x00\x00\x00\x02\x00\x81"
                      "a\x02\x83"
                      "1.5\x04\xff\n\x00\b\x0cn\x19\x80\x8e}\x98",
                      27);
    char zs[200], hh[200];
    size_t n = 0;
    memcpy(zs + n, "\x05\x01\x40\x41", 4);
    n += 4;
    memcpy(zs + n, m65, 65);
    n += 65;
    memcpy(zs + n, "\x00\x00\x00\x00\x00\x00\x00\x40\n\x00t\x99\x95\xf8\x04\xa4iF", 18);
    assert_dump_exact("zs", zs, n + 18);
    n = 0;
    memcpy(hh + n, "\x04\x01\x01\x66\x40\x41", 6);
    n += 6;
    memcpy(hh + n, v65, 65);
    n += 65;
    memcpy(hh + n, "\n\x00\xc4\xdc\x9er\x8c\xbb\x80\x62", 10);
    assert_dump_exact("hh", hh, n + 10);
    assert_dump_exact("s1",
                      "\x02\x01\x03"
                      "abc\n\x00\xa3\xcb\xecL\x8c/1\xf0",
                      16);
    kv_srv.cfg.rdbcompression = true;
    kv_client_free(c);
    flush_all();
}

/* Every key dumped and loaded back under another name: same value digest, same encoding. */
static void round_trip_all(void) {
    kv_ht_iter_t it;
    void *e;
    int n = 0;
    kv_ht_iter_init(&it, kv_srv.dbs[0].keys);
    while (kv_ht_iter_next(&it, &e)) {
        kv_obj_t *o = e;
        unsigned char *p;
        size_t len;
        assert_int_equal(kv_rdb_dump_payload(o, &p, &len), 0);
        assert_true(kv_rdb_payload_verify(p, len));
        kv_obj_t *back = kv_rdb_payload_load(p, len, "copy", 4, 12345);
        assert_non_null(back);
        unsigned char d1[20], d2[20];
        kv_digest_value(o, d1);
        kv_digest_value(back, d2);
        assert_memory_equal(d1, d2, 20);
        assert_int_equal(back->type, o->type);
        assert_int_equal(back->encoding, o->encoding);
        assert_int_equal(kv_obj_expire(back), 12345);
        assert_int_equal(kv_rdb_serialized_len(o), len - 11); /* no type byte, no footer */
        kv_obj_free(back);
        free(p);
        n++;
    }
    kv_ht_iter_fini(&it);
    assert_true(n >= 14);
}

static void fill_every_encoding(kv_client_t *c) {
    char big[200];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    RUN(c, "SET", "s:int", "42");
    RUN(c, "SET", "s:emb", "short");
    RUN(c, "SET", "s:raw", big);
    RUN(c, "RPUSH", "l:lp", "a", "1", "-7", big);
    RUN(c, "CONFIG", "SET", "list-max-listpack-size", "4");
    for (int i = 0; i < 30; i++) {
        char v[16];
        snprintf(v, sizeof(v), "%d", i * 1000);
        RUN(c, "RPUSH", "l:ql", v, "text");
    }
    RUN(c, "SADD", "set:is", "1", "-70000", "5000000000");
    RUN(c, "SADD", "set:lp", "a", "b", "12");
    RUN(c, "SADD", "set:ht", "a", big);
    RUN(c, "HSET", "h:lp", "f", "v", "n", "17");
    RUN(c, "HSET", "h:ht", "f", big, "g", "1");
    RUN(c, "ZADD", "z:lp", "1", "a", "2.5", "b", "-inf", "c");
    RUN(c, "ZADD", "z:sl", "1", big, "3.25", "b", "inf", "c");
    RUN(c, "SET", "s:neg", "-2147483649");
    RUN(c, "SET", "s:empty", "");
}

static void test_rdb_round_trip_every_encoding(void **state) {
    (void)state;
    kv_client_t *c = kv_client_new(-1);
    fill_every_encoding(c);
    assert_int_equal(key("l:ql")->encoding, KV_ENC_QUICKLIST);
    assert_int_equal(key("set:ht")->encoding, KV_ENC_HASHTABLE);
    assert_int_equal(key("z:sl")->encoding, KV_ENC_SKIPLIST);
    assert_int_equal(key("s:raw")->encoding, KV_ENC_RAW);
    round_trip_all();
    /* Without compression too. */
    kv_srv.cfg.rdbcompression = false;
    round_trip_all();
    kv_srv.cfg.rdbcompression = true;
    RUN(c, "CONFIG", "SET", "list-max-listpack-size", "-2");
    kv_client_free(c);
    flush_all();
}

static void test_rdb_snapshot_round_trip(void **state) {
    (void)state;
    kv_client_t *c = kv_client_new(-1);
    fill_every_encoding(c);
    RUN(c, "CONFIG", "SET", "list-max-listpack-size", "-2");
    RUN(c, "PEXPIRE", "h:lp", "100000");
    RUN(c, "SELECT", "3");
    RUN(c, "SET", "in3", "x");
    RUN(c, "SELECT", "0");
    unsigned char before[20], after[20];
    kv_digest_dataset(before);
    kv_rdb_out_t w;
    kv_rdb_out_init(&w, -1, true);
    kv_rdb_save_stats_t st;
    assert_int_equal(kv_rdb_save_out(&w, 0, &st), 0);
    assert_memory_equal(w.buf, "REDIS0010", 9);
    assert_int_equal(st.keys, 15);
    assert_int_equal(st.bytes, w.len);
    int64_t exp = kv_obj_expire(key("h:lp"));
    flush_all();
    kv_rdb_load_stats_t ls;
    char err[256];
    assert_int_equal(kv_rdb_load_mem(w.buf, w.len, 0, &ls, err, sizeof(err)), 0);
    assert_int_equal(ls.keys_loaded, 15);
    assert_int_equal(ls.bytes, w.len);
    assert_int_equal(ls.version, 10);
    kv_digest_dataset(after);
    assert_memory_equal(before, after, 20);
    assert_int_equal(kv_obj_expire(key("h:lp")), exp);
    assert_int_equal(kv_db_size(&kv_srv.dbs[3]), 1);
    /* A flipped byte in the body fails the checksum; a truncated file is a short read. */
    flush_all();
    w.buf[w.len / 2] ^= 0x01;
    assert_int_not_equal(kv_rdb_load_mem(w.buf, w.len, 0, &ls, err, sizeof(err)), 0);
    flush_all();
    w.buf[w.len / 2] ^= 0x01;
    assert_int_equal(kv_rdb_load_mem(w.buf, w.len - 3, 0, &ls, err, sizeof(err)), -EPROTO);
    assert_non_null(strstr(err, "Short read"));
    flush_all();
    kv_rdb_out_fini(&w);
    kv_client_free(c);
}

/* Every single flipped bit of a payload is caught by the footer check. */
static void test_rdb_payload_any_flip_is_refused(void **state) {
    (void)state;
    kv_client_t *c = kv_client_new(-1);
    RUN(c, "HSET", "h", "field", "value", "n", "1");
    unsigned char *p;
    size_t len;
    assert_int_equal(kv_rdb_dump_payload(key("h"), &p, &len), 0);
    for (size_t i = 0; i < len; i++)
        for (int b = 0; b < 8; b++) {
            p[i] ^= (unsigned char)(1u << b);
            assert_false(kv_rdb_payload_verify(p, len));
            p[i] ^= (unsigned char)(1u << b);
        }
    assert_false(kv_rdb_payload_verify(p, 9));
    free(p);
    kv_client_free(c);
    flush_all();
}

/* Values with a correct checksum but a wrong structure: refused, nothing left allocated
 * (ASan and valgrind runs of this test see any leak). */
static void test_rdb_payload_bad_structure_is_refused(void **state) {
    (void)state;
    static const struct {
        const char *what;
        const char *body;
        size_t n;
    } bad[] = {
        {"string longer than payload",
         "\x00\x20"
         "abc",
         5},
        {"unknown type", "\x63\x01\x61", 3},
        {"stream", "\x0f\x00", 2},
        {"listpack header lies", "\x10\x07\x09\x00\x00\x00\x00\x00\xff", 9},
        {"hash listpack odd count", "\x10\x0d\x0d\x00\x00\x00\x01\x00\x81\x66\x02\xff\x00", 13},
        {"duplicate hash fields", "\x04\x02\x01\x66\x01\x76\x01\x66\x01\x77", 10},
        {"duplicate set members", "\x02\x02\x01\x61\x01\x61", 6},
        {"intset out of order", "\x0b\x0c\x02\x00\x00\x00\x02\x00\x00\x00\x02\x00\x01\x00", 14},
        {"zset nan score", "\x05\x01\x01\x61\x00\x00\x00\x00\x00\x00\xf8\x7f", 12},
        {"empty set", "\x02\x00", 2},
        {"lzf bad", "\x00\xc3\x02\x28\xff\xff", 6},
        {"quicklist bad container", "\x12\x01\x07\x01\x61", 5},
        {"list count past end", "\x01\x80\x7f\xff\xff\xff\x01\x61", 8},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        size_t len;
        unsigned char *p = with_footer((const unsigned char *)bad[i].body, bad[i].n, &len);
        assert_true(kv_rdb_payload_verify(p, len));
        kv_obj_t *o = kv_rdb_payload_load(p, len, "k", 1, -1);
        if (o != NULL) fail_msg("accepted: %s", bad[i].what);
        free(p);
    }
}

/* The ziplist encodings of files from Redis before 7.0: a list ziplist, a quicklist of
 * ziplists, a hash and a sorted set ziplist load; a ziplist whose prevlen, tail offset or
 * count lies is refused. */
static void test_rdb_loads_ziplists(void **state) {
    (void)state;
    /* ["a", 12 (int8)]: zlbytes 17, zltail 13, zllen 2, entries, end. */
    static const char list_zl[] = "\x11\x00\x00\x00\x0d\x00\x00\x00\x02\x00"
                                  "\x00\x01"
                                  "a\x03\xfe\x0c\xff";
    static const char hash_zl[] = "\x11\x00\x00\x00\x0d\x00\x00\x00\x02\x00"
                                  "\x00\x01"
                                  "f\x03\x01v\xff";
    static const char zset_zl[] = "\x13\x00\x00\x00\x0d\x00\x00\x00\x02\x00"
                                  "\x00\x01m\x03\x03"
                                  "1.5\xff";
    unsigned char body[64];
    size_t len;
    kv_obj_t *o;
    /* LIST_ZIPLIST */
    body[0] = KV_RDB_TYPE_LIST_ZIPLIST;
    body[1] = 17;
    memcpy(body + 2, list_zl, 17);
    unsigned char *p = with_footer(body, 19, &len);
    assert_non_null(o = kv_rdb_payload_load(p, len, "l", 1, -1));
    assert_int_equal(o->type, KV_TYPE_LIST);
    assert_int_equal(kv_list_len(o), 2);
    kv_obj_free(o);
    free(p);
    /* A lying prevlen, zltail or zllen. */
    for (int i = 0; i < 3; i++) {
        memcpy(body + 2, list_zl, 17);
        body[2 + (i == 0 ? 13 : i == 1 ? 4 : 8)] ^= 0x01;
        p = with_footer(body, 19, &len);
        assert_null(kv_rdb_payload_load(p, len, "l", 1, -1));
        free(p);
    }
    /* LIST_QUICKLIST (version 1): one ziplist node. */
    body[0] = KV_RDB_TYPE_LIST_QUICKLIST;
    body[1] = 1;
    body[2] = 17;
    memcpy(body + 3, list_zl, 17);
    p = with_footer(body, 20, &len);
    assert_non_null(o = kv_rdb_payload_load(p, len, "q", 1, -1));
    assert_int_equal(kv_list_len(o), 2);
    kv_obj_free(o);
    free(p);
    /* HASH_ZIPLIST and ZSET_ZIPLIST */
    body[0] = KV_RDB_TYPE_HASH_ZIPLIST;
    body[1] = 17;
    memcpy(body + 2, hash_zl, 17);
    p = with_footer(body, 19, &len);
    assert_non_null(o = kv_rdb_payload_load(p, len, "h", 1, -1));
    assert_int_equal(o->type, KV_TYPE_HASH);
    assert_int_equal(kv_hash_len(o), 1);
    kv_obj_free(o);
    free(p);
    body[0] = KV_RDB_TYPE_ZSET_ZIPLIST;
    body[1] = 19;
    memcpy(body + 2, zset_zl, 19);
    p = with_footer(body, 21, &len);
    assert_non_null(o = kv_rdb_payload_load(p, len, "z", 1, -1));
    double score = 0;
    assert_true(kv_zset_score(o, "m", 1, &score));
    assert_true(score == 1.5);
    kv_obj_free(o);
    free(p);
}

/* A snapshot with a stream key stops with an error naming the key and the type. */
static void test_rdb_load_names_unsupported_key(void **state) {
    (void)state;
    unsigned char f[64];
    size_t n = 0;
    memcpy(f, "REDIS0010", 9);
    n = 9;
    f[n++] = KV_RDB_OPCODE_SELECTDB;
    f[n++] = 0;
    f[n++] = KV_RDB_TYPE_STREAM_LISTPACKS_2;
    f[n++] = 6;
    memcpy(f + n, "events", 6);
    n += 6;
    f[n++] = 0;
    kv_rdb_load_stats_t ls;
    char err[256];
    assert_int_equal(kv_rdb_load_mem(f, n, 0, &ls, err, sizeof(err)), -ENOTSUP);
    assert_non_null(strstr(err, "'events'"));
    assert_non_null(strstr(err, "stream"));
    f[11] = KV_RDB_TYPE_MODULE_2;
    assert_int_equal(kv_rdb_load_mem(f, n, 0, &ls, err, sizeof(err)), -ENOTSUP);
    assert_non_null(strstr(err, "module"));
    memcpy(f, "REDIS0011", 9);
    assert_int_equal(kv_rdb_load_mem(f, n, 0, &ls, err, sizeof(err)), -EPROTO);
    assert_string_equal(err, "Can't handle RDB format version 11");
    flush_all();
}

/* Already expired keys are dropped at load (counted), kept for an AOF preamble. */
static void test_rdb_load_skips_expired(void **state) {
    (void)state;
    kv_client_t *c = kv_client_new(-1);
    RUN(c, "SET", "gone", "v");
    RUN(c, "SET", "kept", "v");
    assert_non_null(kv_db_set_expire(&kv_srv.dbs[0], key("gone"), 1000)); /* 1970 */
    kv_rdb_out_t w;
    kv_rdb_out_init(&w, -1, true);
    assert_int_equal(kv_rdb_save_out(&w, 0, NULL), 0);
    flush_all();
    kv_rdb_load_stats_t ls;
    char err[256];
    assert_int_equal(kv_rdb_load_mem(w.buf, w.len, 0, &ls, err, sizeof(err)), 0);
    assert_int_equal(ls.keys_loaded, 1);
    assert_int_equal(ls.keys_expired, 1);
    flush_all();
    assert_int_equal(kv_rdb_load_mem(w.buf, w.len, KV_RDB_LOAD_AOF_PREAMBLE, &ls, err, sizeof(err)),
                     0);
    assert_int_equal(ls.keys_loaded, 2);
    kv_rdb_out_fini(&w);
    kv_client_free(c);
    flush_all();
}

/* RESTORE through the dispatcher: Redis 7.0's replies and error texts. */
static void test_rdb_restore_command(void **state) {
    (void)state;
    kv_client_t *c = kv_client_new(-1);
    RUN(c, "RPUSH", "src", "a", "b");
    unsigned char *p;
    size_t len;
    assert_int_equal(kv_rdb_dump_payload(key("src"), &p, &len), 0);
    char req[512];
    int n =
        snprintf(req, sizeof(req), "*4\r\n$7\r\nRESTORE\r\n$3\r\ndst\r\n$1\r\n0\r\n$%zu\r\n", len);
    memcpy(req + n, p, len);
    memcpy(req + n + len, "\r\n", 2);
    feed_bytes(c, req, (size_t)n + len + 2);
    assert_output(c, "+OK\r\n");
    feed_bytes(c, req, (size_t)n + len + 2);
    assert_output(c, "-BUSYKEY Target key name already exists.\r\n");
    SEND(c, "LRANGE", "dst", "0", "-1");
    assert_output(c, "*2\r\n$1\r\na\r\n$1\r\nb\r\n");
    SEND(c, "RESTORE", "x", "0", "garbage");
    assert_output(c, "-ERR DUMP payload version or checksum are wrong\r\n");
    SEND(c, "RESTORE", "x", "-1", "garbage");
    assert_output(c, "-ERR Invalid TTL value, must be >= 0\r\n");
    SEND(c, "RESTORE", "x", "abc", "garbage");
    assert_output(c, "-ERR value is not an integer or out of range\r\n");
    SEND(c, "RESTORE", "x", "0", "garbage", "FREQ", "300");
    assert_output(c, "-ERR Invalid FREQ value, must be >= 0 and <= 255\r\n");
    SEND(c, "RESTORE", "x", "0", "garbage", "IDLETIME", "-1");
    assert_output(c, "-ERR Invalid IDLETIME value, must be >= 0\r\n");
    SEND(c, "RESTORE", "x", "0", "garbage", "IDLETIME", "1", "FREQ", "1");
    assert_output(c, "-ERR syntax error\r\n");
    SEND(c, "RESTORE", "x", "0", "garbage", "NOSUCH");
    assert_output(c, "-ERR syntax error\r\n");
    /* A payload with a valid footer and a broken value: Bad data format, no key. */
    size_t blen;
    unsigned char *bad = with_footer((const unsigned char *)"\x02\x02\x01\x61\x01\x61", 6, &blen);
    n = snprintf(req, sizeof(req), "*4\r\n$7\r\nRESTORE\r\n$3\r\nbad\r\n$1\r\n0\r\n$%zu\r\n", blen);
    memcpy(req + n, bad, blen);
    memcpy(req + n + blen, "\r\n", 2);
    feed_bytes(c, req, (size_t)n + blen + 2);
    assert_output(c, "-ERR Bad data format\r\n");
    SEND(c, "EXISTS", "bad");
    assert_output(c, ":0\r\n");
    /* REPLACE with ABSTTL in the past: the old key is deleted, nothing is stored. */
    n = snprintf(req, sizeof(req), "*6\r\n$7\r\nRESTORE\r\n$3\r\ndst\r\n$1\r\n1\r\n$%zu\r\n", len);
    memcpy(req + n, p, len);
    memcpy(req + n + len, "\r\n$7\r\nREPLACE\r\n$6\r\nABSTTL\r\n", 27);
    feed_bytes(c, req, (size_t)n + len + 27);
    assert_output(c, "+OK\r\n");
    SEND(c, "EXISTS", "dst");
    assert_output(c, ":0\r\n");
    free(bad);
    free(p);
    kv_client_free(c);
    flush_all();
}

static size_t compressed_nodes(const kv_obj_t *o) {
    size_t n = 0;
    const kv_ql_t *ql = kv_obj_ptr(o);
    for (const kv_ql_node_t *node = ql->head; node != NULL; node = node->next)
        n += kv_ql_node_is_compressed(node);
    return n;
}

/* A compressed list goes out as LZF strings, with or without rdbcompression, and loads
 * back as the same list; corrupt LZF data or lengths (with a correct checksum) are
 * refused or loaded as some valid list, never read out of bounds (ASan runs see that). */
static void test_rdb_compressed_list_round_trip_and_corruption(void **state) {
    (void)state;
    kv_client_t *c = kv_client_new(-1);
    RUN(c, "CONFIG", "SET", "list-max-listpack-size", "8");
    RUN(c, "CONFIG", "SET", "list-compress-depth", "1");
    for (int i = 0; i < 60; i++) {
        char v[64];
        snprintf(v, sizeof(v), "item-%03d-bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", i);
        RUN(c, "RPUSH", "cl", v);
    }
    kv_obj_t *o = key("cl");
    assert_int_equal(o->encoding, KV_ENC_QUICKLIST);
    assert_int_equal(compressed_nodes(o), 6); /* 8 nodes, both ends plain */
    unsigned char d1[20], d2[20];
    kv_digest_value(o, d1);
    for (int pass = 0; pass < 2; pass++) {
        kv_srv.cfg.rdbcompression = pass == 0;
        unsigned char *p;
        size_t len;
        assert_int_equal(kv_rdb_dump_payload(o, &p, &len), 0);
        assert_int_equal(kv_rdb_serialized_len(o), len - 11);
        /* Each interior node is an LZF string: encoding byte 0xc3 after the container. */
        size_t lzf = 0;
        for (size_t i = 0; i + 1 < len; i++)
            lzf += p[i] == 2 && p[i + 1] == 0xc3;
        assert_true(lzf >= 6);
        kv_obj_t *back = kv_rdb_payload_load(p, len, "copy", 4, -1);
        assert_non_null(back);
        kv_digest_value(back, d2);
        assert_memory_equal(d1, d2, 20);
        assert_int_equal(compressed_nodes(back), 6);
        assert_int_equal(kv_list_check(back), 0);
        kv_obj_free(back);
        free(p);
    }
    kv_srv.cfg.rdbcompression = true;
    /* Every byte of the value changed in turn, the footer recomputed. */
    unsigned char *p;
    size_t len;
    assert_int_equal(kv_rdb_dump_payload(o, &p, &len), 0);
    size_t body = len - 10;
    int refused = 0;
    for (size_t i = 0; i < body; i++) {
        for (int delta = 1; delta <= 0x80; delta <<= 7) {
            unsigned char *q = malloc(body);
            assert_non_null(q);
            memcpy(q, p, body);
            q[i] = (unsigned char)(q[i] + delta);
            size_t qlen;
            unsigned char *full = with_footer(q, body, &qlen);
            kv_obj_t *back = kv_rdb_payload_load(full, qlen, "k", 1, -1);
            if (back == NULL)
                refused++;
            else
                assert_int_equal(kv_list_check(back), 0);
            kv_obj_free(back);
            free(full);
            free(q);
        }
    }
    assert_true(refused > (int)body); /* most changes break a length or the LZF stream */
    /* Cut short anywhere. */
    for (size_t cut = 1; cut < body; cut += 7) {
        size_t qlen;
        unsigned char *full = with_footer(p, cut, &qlen);
        assert_null(kv_rdb_payload_load(full, qlen, "k", 1, -1));
        free(full);
    }
    free(p);
    RUN(c, "CONFIG", "SET", "list-compress-depth", "0");
    RUN(c, "CONFIG", "SET", "list-max-listpack-size", "-2");
    kv_client_free(c);
    flush_all();
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rdb_crc64_check_value),
        cmocka_unit_test(test_rdb_dump_known_bytes),
        cmocka_unit_test(test_rdb_dump_known_bytes_aggregates),
        cmocka_unit_test(test_rdb_round_trip_every_encoding),
        cmocka_unit_test(test_rdb_snapshot_round_trip),
        cmocka_unit_test(test_rdb_payload_any_flip_is_refused),
        cmocka_unit_test(test_rdb_payload_bad_structure_is_refused),
        cmocka_unit_test(test_rdb_loads_ziplists),
        cmocka_unit_test(test_rdb_load_names_unsupported_key),
        cmocka_unit_test(test_rdb_load_skips_expired),
        cmocka_unit_test(test_rdb_restore_command),
        cmocka_unit_test(test_rdb_compressed_list_round_trip_and_corruption),
    };
    return cmocka_run_group_tests_name("kv_rdb", tests, kv_server_setup, kv_server_teardown);
}
