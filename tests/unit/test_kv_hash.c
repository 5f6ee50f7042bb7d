/* SPDX-License-Identifier: MIT */
/*
 * test_kv_hash.c - the hash type (kvcore/t_hash.c): pack and hashtable encodings,
 * the conversion boundaries of hash-max-listpack-entries / -value (at the limit, one
 * past it, after the limit is lowered: only the next write converts), field and value
 * round trips in both encodings, iteration, COPY's deep copy, and memory accounting
 * (MEMORY USAGE's figure is the sum of the blocks, and freeing returns every byte).
 * For packs, which live inside the object and move with it: values replaced by longer
 * and shorter ones, deletes at every position, a seeded random walk against a plain
 * model, and out-of-memory at each allocation of each change leaving the hash as it was
 * (this binary is linked with -Wl,--wrap=malloc,--wrap=realloc: the __wrap_ functions
 * below fail the chosen call). kv_hash_check runs after every change.
 */
#include "test_common.h"

#include <jemalloc/jemalloc.h>
#include <malloc.h>

#include "kv_internal.h"
#include "listpack.h"
#include "rdb.h"
#include "t_hash.h"
#include "kv_type_test.h"

/* --- Allocation failures --- */

/* Calls to let through before one fails; -1: none fails. */
static long fail_countdown = -1;
static long failures;

void *__real_malloc(size_t size);
void *__real_realloc(void *ptr, size_t size);

static bool fail_now(void) {
    if (fail_countdown < 0) return false;
    if (fail_countdown-- > 0) return false;
    failures++;
    return true;
}

/* The linker's --wrap names (reserved identifiers, as --wrap requires). */
void *__wrap_malloc(size_t size) {
    return fail_now() ? NULL : __real_malloc(size);
}

void *__wrap_realloc(void *ptr, size_t size) {
    return fail_now() ? NULL : __real_realloc(ptr, size);
}

static int reset_limits(void **state) {
    (void)state;
    kv_srv.cfg.hash_max_listpack_entries = 512;
    kv_srv.cfg.hash_max_listpack_value = 64;
    return 0;
}

/* The number after the first byte of a (not NUL-terminated) string: "f12" -> 12. */
static int num_after_first(const kv_arg_t *a) {
    char buf[32];
    assert_true(a->len >= 2 && a->len < sizeof(buf));
    memcpy(buf, a->ptr + 1, a->len - 1);
    buf[a->len - 1] = '\0';
    return atoi(buf);
}

static kv_obj_t *new_hash(void) {
    kv_obj_t *o = kv_hash_new("h", 1, -1);
    assert_non_null(o);
    assert_int_equal(o->type, KV_TYPE_HASH);
    assert_int_equal(o->encoding, KV_ENC_HASHPACK);
    assert_int_equal(kv_hash_check(o), 0);
    return o;
}

static int set(kv_obj_t **op, const char *f, const char *v) {
    kv_arg_t fa = arg(f), va = arg(v);
    int rc = kv_hash_set(op, &fa, &va);
    assert_int_equal(kv_hash_check(*op), 0);
    assert_int_equal(kv_obj_check(*op), 0);
    return rc;
}

static void assert_field(kv_obj_t *o, const char *f, const char *want) {
    kv_arg_t fa = arg(f), v;
    char ibuf[KV_INTBUF];
    assert_true(kv_hash_get(o, &fa, &v, ibuf));
    assert_int_equal(v.len, strlen(want));
    assert_memory_equal(v.ptr, want, v.len);
}

/* Adds fields f0..f(n-1) with values v0.. */
static void fill(kv_obj_t **op, int n) {
    char f[32], v[32];
    for (int i = 0; i < n; i++) {
        snprintf(f, sizeof(f), "f%d", i);
        snprintf(v, sizeof(v), "v%d", i);
        assert_int_equal(set(op, f, v), 1);
    }
}

static void test_hash_set_get_update_delete_in_listpack(void **state) {
    (void)state;
    kv_obj_t *o = new_hash();
    assert_int_equal(set(&o, "name", "kv"), 1);
    assert_int_equal(set(&o, "n", "42"), 1);
    assert_int_equal(set(&o, "name", "kvcore"), 0);
    assert_int_equal(kv_hash_len(o), 2);
    assert_field(o, "name", "kvcore");
    assert_field(o, "n", "42"); /* stored as an integer, read back as text */
    kv_arg_t missing = arg("nope");
    assert_false(kv_hash_exists(o, &missing));
    kv_arg_t n = arg("n");
    assert_true(kv_hash_del(&o, &n));
    assert_false(kv_hash_del(&o, &n));
    assert_int_equal(kv_hash_check(o), 0);
    assert_int_equal(kv_hash_len(o), 1);
    assert_int_equal(o->encoding, KV_ENC_HASHPACK);
    kv_obj_free(o);
}

static void test_hash_stays_listpack_at_entry_limit(void **state) {
    (void)state;
    kv_srv.cfg.hash_max_listpack_entries = 8;
    kv_obj_t *o = new_hash();
    fill(&o, 8);
    assert_int_equal(o->encoding, KV_ENC_HASHPACK);
    assert_int_equal(kv_hash_len(o), 8);
    kv_obj_free(o);
}

static void test_hash_converts_one_past_entry_limit(void **state) {
    (void)state;
    kv_srv.cfg.hash_max_listpack_entries = 8;
    kv_obj_t *o = new_hash();
    fill(&o, 9);
    assert_int_equal(o->encoding, KV_ENC_HASHTABLE);
    assert_int_equal(kv_hash_len(o), 9);
    char f[32], v[32];
    for (int i = 0; i < 9; i++) {
        snprintf(f, sizeof(f), "f%d", i);
        snprintf(v, sizeof(v), "v%d", i);
        assert_field(o, f, v);
    }
    kv_obj_free(o);
}

static void test_hash_zero_entry_limit_gives_hashtable(void **state) {
    (void)state;
    kv_srv.cfg.hash_max_listpack_entries = 0;
    kv_obj_t *o = new_hash();
    assert_int_equal(set(&o, "a", "1"), 1);
    assert_int_equal(o->encoding, KV_ENC_HASHTABLE);
    kv_obj_free(o);
}

static void test_hash_value_at_limit_stays_one_past_converts(void **state) {
    (void)state;
    kv_srv.cfg.hash_max_listpack_value = 8;
    kv_obj_t *o = new_hash();
    assert_int_equal(set(&o, "12345678", "abcdefgh"), 1);
    assert_int_equal(o->encoding, KV_ENC_HASHPACK);
    assert_int_equal(set(&o, "f", "abcdefghi"), 1);
    assert_int_equal(o->encoding, KV_ENC_HASHTABLE);
    assert_field(o, "12345678", "abcdefgh");
    assert_field(o, "f", "abcdefghi");
    kv_obj_free(o);

    o = new_hash();
    assert_int_equal(set(&o, "123456789", "x"), 1); /* a long field converts too */
    assert_int_equal(o->encoding, KV_ENC_HASHTABLE);
    kv_obj_free(o);
}

static void test_hash_try_convert_checks_every_argument(void **state) {
    (void)state;
    kv_srv.cfg.hash_max_listpack_value = 4;
    kv_obj_t *o = new_hash();
    kv_arg_t args[4] = {arg("a"), arg("1"), arg("b"), arg("1234")};
    assert_int_equal(kv_hash_try_convert(&o, args, 4), 0);
    assert_int_equal(o->encoding, KV_ENC_HASHPACK);
    args[3] = arg("12345");
    assert_int_equal(kv_hash_try_convert(&o, args, 4), 0);
    assert_int_equal(o->encoding, KV_ENC_HASHTABLE);
    assert_int_equal(kv_hash_check(o), 0);
    kv_obj_free(o);
}

static void test_hash_lowered_limit_converts_only_on_next_write(void **state) {
    (void)state;
    kv_obj_t *o = new_hash();
    fill(&o, 10);
    kv_srv.cfg.hash_max_listpack_entries = 5; /* CONFIG SET hash-max-listpack-entries 5 */
    assert_int_equal(o->encoding, KV_ENC_HASHPACK);
    assert_field(o, "f3", "v3"); /* reads do not convert */
    kv_arg_t f9 = arg("f9");
    assert_true(kv_hash_del(&o, &f9)); /* deletes do not convert */
    assert_int_equal(o->encoding, KV_ENC_HASHPACK);
    assert_int_equal(set(&o, "f0", "updated"), 0); /* an update is a write: converts */
    assert_int_equal(o->encoding, KV_ENC_HASHTABLE);
    assert_int_equal(kv_hash_len(o), 9);
    assert_field(o, "f0", "updated");
    kv_obj_free(o);
}

static void test_hash_hashtable_updates_grow_and_shrink_values(void **state) {
    (void)state;
    kv_srv.cfg.hash_max_listpack_entries = 0;
    kv_obj_t *o = new_hash();
    char big[600];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    assert_int_equal(set(&o, "f", "1"), 1);
    assert_int_equal(set(&o, "f", big), 0); /* length header grows to 9 bytes */
    assert_field(o, "f", big);
    assert_int_equal(set(&o, "f", "2"), 0);
    assert_field(o, "f", "2");
    assert_int_equal(set(&o, "", ""), 1); /* empty field and value */
    assert_field(o, "", "");
    assert_int_equal(kv_hash_len(o), 2);
    kv_arg_t f = arg("f");
    assert_true(kv_hash_del(&o, &f));
    assert_int_equal(kv_hash_check(o), 0);
    kv_obj_free(o);
}

static void test_hash_iterates_in_insertion_order_in_listpack(void **state) {
    (void)state;
    kv_obj_t *o = new_hash();
    fill(&o, 5);
    kv_hash_iter_t it;
    kv_arg_t f, v;
    int i = 0;
    kv_hash_iter_init(&it, o);
    while (kv_hash_iter_next(&it, &f, &v)) {
        char want[32];
        snprintf(want, sizeof(want), "f%d", i++);
        assert_int_equal(f.len, strlen(want));
        assert_memory_equal(f.ptr, want, f.len);
    }
    kv_hash_iter_fini(&it);
    assert_int_equal(i, 5);
    kv_obj_free(o);
}

static void test_hash_iterates_every_field_in_hashtable(void **state) {
    (void)state;
    kv_srv.cfg.hash_max_listpack_entries = 16;
    kv_obj_t *o = new_hash();
    fill(&o, 100);
    assert_int_equal(o->encoding, KV_ENC_HASHTABLE);
    bool seen[100] = {false};
    kv_hash_iter_t it;
    kv_arg_t f, v;
    kv_hash_iter_init(&it, o);
    while (kv_hash_iter_next(&it, &f, &v)) {
        int idx = num_after_first(&f);
        assert_true(idx >= 0 && idx < 100);
        assert_false(seen[idx]);
        seen[idx] = true;
        assert_int_equal(num_after_first(&v), idx);
    }
    kv_hash_iter_fini(&it);
    for (int i = 0; i < 100; i++)
        assert_true(seen[i]);
    kv_obj_free(o);
}

static void test_hash_random_returns_members(void **state) {
    (void)state;
    for (int enc = 0; enc < 2; enc++) {
        kv_srv.cfg.hash_max_listpack_entries = enc ? 0 : 512;
        kv_obj_t *o = new_hash();
        fill(&o, 7);
        for (int i = 0; i < 50; i++) {
            kv_arg_t f, v;
            char fb[KV_INTBUF], vb[KV_INTBUF];
            kv_hash_random(o, &f, &v, fb, vb);
            assert_true(f.len >= 2 && f.ptr[0] == 'f');
            assert_true(v.len >= 2 && v.ptr[0] == 'v');
            assert_memory_equal(f.ptr + 1, v.ptr + 1, f.len - 1);
        }
        kv_obj_free(o);
    }
}

static void test_hash_dup_copies_both_encodings(void **state) {
    (void)state;
    for (int enc = 0; enc < 2; enc++) {
        kv_srv.cfg.hash_max_listpack_entries = enc ? 0 : 512;
        kv_obj_t *o = new_hash();
        fill(&o, 20);
        kv_obj_t *d = kv_obj_dup(o, "copy", 4, -1);
        assert_non_null(d);
        assert_int_equal(d->encoding, o->encoding);
        assert_int_equal(kv_hash_check(d), 0);
        kv_obj_free(o); /* the copy owns its own value */
        assert_int_equal(kv_hash_len(d), 20);
        assert_field(d, "f19", "v19");
        kv_obj_free(d);
    }
}

static void test_hash_mem_bytes_sums_the_blocks(void **state) {
    (void)state;
    kv_obj_t *o = new_hash();
    fill(&o, 10);
    /* A pack is inside its object: one block, sized to what it holds (4-byte header, key
     * "h" in 2 bytes, count 1, 10 pairs of 1 + 2 bytes each way: 67 bytes). */
    assert_int_equal(kv_obj_mem_bytes(o), malloc_usable_size(o));
    assert_int_equal(kv_obj_used_bytes(o), 4 + 2 + 1 + 10 * 6);
    if (jemalloc_owns_malloc()) /* under a sanitizer, blocks are exact */
        assert_int_equal(malloc_usable_size(o), nallocx(kv_obj_used_bytes(o), 0));
    size_t lp_total = kv_obj_mem_bytes(o);
    assert_int_equal(kv_hash_convert(&o), 0);
    assert_int_equal(kv_hash_check(o), 0);
    size_t expect = malloc_usable_size(o) + kv_ht_mem_bytes(kv_obj_ptr(o));
    kv_ht_iter_t hi;
    void *e;
    kv_ht_iter_init(&hi, kv_obj_ptr(o));
    while (kv_ht_iter_next(&hi, &e))
        expect += malloc_usable_size(e);
    kv_ht_iter_fini(&hi);
    assert_int_equal(kv_obj_mem_bytes(o), expect);
    assert_true(expect > lp_total); /* the point of the compact encoding */
    kv_obj_free(o);
}

static void test_hash_free_returns_every_byte(void **state) {
    (void)state;
    if (!jemalloc_owns_malloc()) skip(); /* ASan checks leaks there itself */
    for (int enc = 0; enc < 2; enc++) {
        kv_srv.cfg.hash_max_listpack_entries = enc ? 0 : 512;
        int64_t before = live_bytes();
        kv_obj_t *o = new_hash();
        fill(&o, 300);
        kv_arg_t f = arg("f7");
        kv_hash_del(&o, &f);
        set(&o, "f8", "a much longer value than before, to move the entry");
        assert_true(live_bytes() > before);
        kv_obj_free(o);
        assert_int_equal(live_bytes(), before);
    }
}

/* --- Packs: the object moves --- */

/* Every field and value of o, in iteration order, as "f=v;..." (a pack's order is
 * insertion order, so two packs with the same history compare equal). */
static char *dump(kv_obj_t *o) {
    size_t cap = 64, len = 0;
    char *out = malloc(cap);
    assert_non_null(out);
    kv_hash_iter_t it;
    kv_arg_t f, v;
    kv_hash_iter_init(&it, o);
    while (kv_hash_iter_next(&it, &f, &v)) {
        size_t need = len + f.len + v.len + 3;
        if (need > cap) {
            cap = need * 2;
            out = realloc(out, cap);
            assert_non_null(out);
        }
        memcpy(out + len, f.ptr, f.len);
        len += f.len;
        out[len++] = '=';
        memcpy(out + len, v.ptr, v.len);
        len += v.len;
        out[len++] = ';';
    }
    kv_hash_iter_fini(&it);
    out[len] = '\0';
    return out;
}

static void test_hash_pack_values_replaced_longer_and_shorter(void **state) {
    (void)state;
    kv_srv.cfg.hash_max_listpack_value = 1000;
    kv_obj_t *o = new_hash();
    fill(&o, 10);
    char big[600];
    memset(big, 'y', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    /* The middle value grows past several size classes (the object moves), then shrinks
     * back (it may move again), then becomes integers of other widths. */
    const char *vals[] = {
        big, "v5", "-9223372036854775808", "9223372036854775807", "-1", "47", "48", "v", ""};
    for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
        assert_int_equal(set(&o, "f5", vals[i]), 0);
        assert_field(o, "f5", vals[i]);
        assert_field(o, "f4", "v4");
        assert_field(o, "f6", "v6");
        assert_field(o, "f9", "v9");
        assert_int_equal(kv_hash_len(o), 10);
        if (jemalloc_owns_malloc()) /* the allocation follows the pack's size both ways */
            assert_int_equal(malloc_usable_size(o), nallocx(kv_obj_used_bytes(o), 0));
    }
    assert_int_equal(o->encoding, KV_ENC_HASHPACK);
    kv_obj_free(o);
}

static void test_hash_pack_deletes_first_middle_and_last(void **state) {
    (void)state;
    const char *order[3][3] = {{"f0", "f5", "f9"}, {"f9", "f0", "f5"}, {"f5", "f9", "f0"}};
    for (int k = 0; k < 3; k++) {
        kv_obj_t *o = new_hash();
        fill(&o, 10);
        for (int j = 0; j < 3; j++) {
            kv_arg_t f = arg(order[k][j]);
            assert_true(kv_hash_del(&o, &f));
            assert_false(kv_hash_exists(o, &f));
            assert_int_equal(kv_hash_check(o), 0);
        }
        char *d = dump(o);
        assert_string_equal(d, "f1=v1;f2=v2;f3=v3;f4=v4;f6=v6;f7=v7;f8=v8;");
        free(d);
        for (int j = 1; j < 9; j++) {
            char f[8];
            snprintf(f, sizeof(f), "f%d", j);
            kv_arg_t fa = arg(f);
            (void)kv_hash_del(&o, &fa);
        }
        assert_int_equal(kv_hash_len(o), 0);
        assert_int_equal(kv_obj_used_bytes(o), 4 + 2 + 1); /* header, key "h", count 0 */
        kv_obj_free(o);
    }
}

static void test_hash_pack_count_crosses_one_byte(void **state) {
    (void)state;
    kv_obj_t *o = new_hash();
    fill(&o, 127);
    size_t at127 = kv_obj_used_bytes(o);
    assert_int_equal(set(&o, "x", "y"), 1); /* 128 pairs: the count takes 2 bytes */
    assert_int_equal(kv_obj_used_bytes(o), at127 + 1 + 2 + 2);
    assert_field(o, "f0", "v0");
    assert_field(o, "x", "y");
    kv_arg_t f = arg("f0");
    assert_true(kv_hash_del(&o, &f)); /* back to 127 */
    assert_int_equal(kv_obj_used_bytes(o), at127 + 4 - 6);
    assert_field(o, "f1", "v1");
    assert_field(o, "x", "y");
    assert_int_equal(o->encoding, KV_ENC_HASHPACK);
    kv_obj_free(o);
}

static void test_hash_pack_long_strings_stay_at_value_limit(void **state) {
    (void)state;
    kv_srv.cfg.hash_max_listpack_value = 300;
    kv_obj_t *o = new_hash();
    char s[302];
    for (size_t len = 190; len <= 300; len += 1) {
        memset(s, 'a' + (int)(len % 26), len);
        s[len] = '\0';
        assert_true(set(&o, s, s) >= 0);
        assert_field(o, s, s);
    }
    assert_int_equal(o->encoding, KV_ENC_HASHPACK);
    memset(s, 'z', 301);
    s[301] = '\0';
    assert_int_equal(set(&o, "long", s), 1); /* one past the limit */
    assert_int_equal(o->encoding, KV_ENC_HASHTABLE);
    assert_field(o, "long", s);
    assert_int_equal(kv_hash_len(o), 112);
    kv_obj_free(o);
}

static void test_hash_pack_conversion_keeps_key_ttl_and_lru(void **state) {
    (void)state;
    kv_srv.cfg.hash_max_listpack_entries = 4;
    kv_obj_t *o = kv_hash_new("key", 3, 1234567890123LL);
    assert_non_null(o);
    kv_obj_set_ttl_pos(o, 77);
    o->lru = 4242;
    fill(&o, 5);
    assert_int_equal(o->encoding, KV_ENC_HASHTABLE);
    size_t klen;
    assert_memory_equal(kv_obj_key(o, &klen), "key", 3);
    assert_int_equal(klen, 3);
    assert_int_equal(kv_obj_expire(o), 1234567890123LL);
    assert_int_equal(kv_obj_ttl_pos(o), 77);
    assert_int_equal(o->lru, 4242);
    assert_field(o, "f4", "v4");
    kv_obj_free(o);
}

/* A tiny deterministic generator (the walk must be the same on every run). */
static uint64_t walk_state;
static uint64_t walk_next(void) {
    walk_state ^= walk_state << 13;
    walk_state ^= walk_state >> 7;
    walk_state ^= walk_state << 17;
    return walk_state;
}

#define MODEL_MAX 160

typedef struct model {
    char f[MODEL_MAX][320], v[MODEL_MAX][320];
    int n;
} model_t;

/* A field or value: integers of every width, near-integers, short and long strings. */
static void walk_string(char *out) {
    static const char *fixed[] = {"0",
                                  "47",
                                  "48",
                                  "-1",
                                  "127",
                                  "128",
                                  "042",
                                  "-0",
                                  "",
                                  "-9223372036854775808",
                                  "9223372036854775807",
                                  "1e2",
                                  "+5",
                                  "65536",
                                  "-32769"};
    uint64_t r = walk_next();
    switch (r % 4) {
    case 0: strcpy(out, fixed[(r >> 8) % (sizeof(fixed) / sizeof(fixed[0]))]); break;
    case 1: snprintf(out, 320, "%lld", (long long)(walk_next() >> (r >> 8) % 64)); break;
    case 2: snprintf(out, 320, "s%u", (unsigned)((r >> 8) % 200)); break;
    default: {
        size_t len = (size_t)((r >> 8) % 300);
        memset(out, 'a' + (int)(len % 26), len);
        out[len] = '\0';
    }
    }
}

static void test_hash_pack_random_walk_matches_a_model(void **state) {
    (void)state;
    kv_srv.cfg.hash_max_listpack_entries = MODEL_MAX;
    kv_srv.cfg.hash_max_listpack_value = 300;
    model_t *m = calloc(1, sizeof(*m));
    assert_non_null(m);
    walk_state = 0x9E3779B97F4A7C15ULL;
    kv_obj_t *o = new_hash();
    char f[320], v[320];
    for (int step = 0; step < 20000; step++) {
        uint64_t r = walk_next();
        /* Fields come from a pool of 200 (integers, near-integers, strings). */
        if (r % 8 < 1 && m->n > 0) {
            int i = (int)((r >> 8) % (unsigned)m->n);
            kv_arg_t fa = arg(m->f[i]);
            assert_true(kv_hash_del(&o, &fa));
            memmove(m->f[i], m->f[i + 1], sizeof(m->f[0]) * (size_t)(m->n - i - 1));
            memmove(m->v[i], m->v[i + 1], sizeof(m->v[0]) * (size_t)(m->n - i - 1));
            m->n--;
        } else {
            if (r % 8 < 4 && m->n > 0)
                strcpy(f, m->f[(r >> 8) % (unsigned)m->n]); /* an update */
            else
                walk_string(f);
            walk_string(v);
            int i = 0;
            while (i < m->n && strcmp(m->f[i], f) != 0)
                i++;
            if (i == m->n && m->n == MODEL_MAX) continue; /* stay a pack */
            assert_int_equal(set(&o, f, v), i == m->n ? 1 : 0);
            strcpy(m->f[i], f);
            strcpy(m->v[i], v);
            if (i == m->n) m->n++;
        }
        assert_int_equal(o->encoding, KV_ENC_HASHPACK);
        assert_int_equal(kv_hash_len(o), (size_t)m->n);
        if (step % 97 == 0 || m->n < 3) {
            kv_hash_iter_t it;
            kv_arg_t fa, va;
            int i = 0;
            kv_hash_iter_init(&it, o);
            while (kv_hash_iter_next(&it, &fa, &va)) {
                assert_true(i < m->n);
                assert_int_equal(fa.len, strlen(m->f[i]));
                assert_memory_equal(fa.ptr, m->f[i], fa.len);
                assert_int_equal(va.len, strlen(m->v[i]));
                assert_memory_equal(va.ptr, m->v[i], va.len);
                i++;
            }
            kv_hash_iter_fini(&it);
            assert_int_equal(i, m->n);
        }
        if (m->n > 0) {
            int i = (int)(walk_next() % (unsigned)m->n);
            assert_field(o, m->f[i], m->v[i]);
        }
    }
    kv_obj_free(o);
    free(m);
}

/*
 * Runs change on a copy of o with the k-th allocation failing, for k = 0, 1, ... until
 * the change goes through without a failure: every failed attempt must return -ENOMEM
 * and leave the copy's contents exactly as they were, and a pack where it was.
 */
typedef int (*change_fn)(kv_obj_t **op);

static void fail_each_allocation(kv_obj_t *o, change_fn change) {
    char *want = dump(o);
    for (long k = 0;; k++) {
        kv_obj_t *c = kv_obj_dup(o, "h", 1, -1);
        assert_non_null(c);
        kv_obj_t *before = c;
        failures = 0;
        fail_countdown = k;
        int rc = change(&c);
        fail_countdown = -1;
        if (failures == 0) { /* no allocation left to fail: it went through */
            assert_true(rc >= 0);
            assert_true(k > 0); /* and at least one did fail before */
            kv_obj_free(c);
            break;
        }
        if (rc < 0) {
            assert_int_equal(rc, -ENOMEM);
            /* Only a conversion that went through before the write failed moves it. */
            assert_int_equal(kv_hash_check(c), 0);
            if (c->encoding == KV_ENC_HASHPACK) {
                assert_ptr_equal(c, before);
                char *got = dump(c);
                assert_string_equal(got, want); /* order included */
                free(got);
            } else {
                unsigned char a[20], b[20];
                kv_digest_value(o, a);
                kv_digest_value(c, b);
                assert_memory_equal(a, b, 20);
            }
        } else {
            /* A failed conversion after the write keeps a valid pack. */
            assert_int_equal(kv_hash_check(c), 0);
        }
        kv_obj_free(c);
        assert_true(k < 10000);
    }
    free(want);
}

static int change_add(kv_obj_t **op) {
    kv_arg_t f = arg("new field"), v = arg("a new value, long enough to grow the object");
    return kv_hash_set(op, &f, &v);
}

static int change_grow(kv_obj_t **op) {
    kv_arg_t f = arg("f3"), v = arg("a longer value for f3, so the object grows a class");
    return kv_hash_set(op, &f, &v);
}

static int change_shrink(kv_obj_t **op) {
    kv_arg_t f = arg("f2"), v = arg("");
    return kv_hash_set(op, &f, &v);
}

static int change_long_value(kv_obj_t **op) {
    char big[100];
    memset(big, 'q', sizeof(big));
    kv_arg_t f = arg("f1"), v = {big, sizeof(big)}; /* > hash-max-listpack-value 64 */
    return kv_hash_set(op, &f, &v);
}

static int change_try_convert(kv_obj_t **op) {
    char big[100];
    memset(big, 'q', sizeof(big));
    kv_arg_t args[2] = {arg("f"), {big, sizeof(big)}};
    return kv_hash_try_convert(op, args, 2);
}

static int change_entry_limit(kv_obj_t **op) {
    kv_srv.cfg.hash_max_listpack_entries = 10; /* the 11th field converts */
    kv_arg_t f = arg("eleventh"), v = arg("v");
    int rc = kv_hash_set(op, &f, &v);
    kv_srv.cfg.hash_max_listpack_entries = 512;
    return rc;
}

static int change_delete(kv_obj_t **op) {
    kv_arg_t f = arg("f0");
    return kv_hash_del(op, &f) ? 0 : -ENOENT;
}

static void test_hash_pack_out_of_memory_leaves_it_unchanged(void **state) {
    (void)state;
    kv_obj_t *o = new_hash();
    fill(&o, 10);
    change_fn changes[] = {change_add,         change_grow,        change_shrink, change_long_value,
                           change_try_convert, change_entry_limit, change_delete};
    for (size_t i = 0; i < sizeof(changes) / sizeof(changes[0]); i++)
        fail_each_allocation(o, changes[i]);
    /* And the constructor: NULL, nothing leaked (ASan and valgrind check that). */
    fail_countdown = 0;
    assert_null(kv_hash_new("h", 1, -1));
    fail_countdown = -1;
    kv_obj_free(o);
}

/*
 * DUMP writes a pack as the listpack kv_lp_append builds from its strings (rdbcompression
 * off, so the payload holds it as is), and RESTORE's loader makes the same pack of it,
 * byte for byte; each allocation of the load failing gives NULL or the same hash, and
 * leaves nothing behind (ASan and valgrind runs check the leaks).
 */
static void test_hash_pack_dump_is_a_listpack_and_loads_back(void **state) {
    (void)state;
    kv_srv.cfg.rdbcompression = false;
    kv_obj_t *o = new_hash();
    const char *kv[] = {"a",
                        "-1",
                        "42",
                        "-129",
                        "b",
                        "9223372036854775807",
                        "042",
                        "-0",
                        "c",
                        "",
                        "-9223372036854775808",
                        "48",
                        "d",
                        "value-of-d"};
    size_t n = sizeof(kv) / sizeof(kv[0]);
    uint8_t *lp = kv_lp_new();
    assert_non_null(lp);
    for (size_t i = 0; i < n; i += 2) {
        assert_int_equal(set(&o, kv[i], kv[i + 1]), 1);
        assert_int_equal(kv_lp_append(&lp, kv[i], strlen(kv[i])), 0);
        assert_int_equal(kv_lp_append(&lp, kv[i + 1], strlen(kv[i + 1])), 0);
    }
    unsigned char *p;
    size_t len;
    assert_int_equal(kv_rdb_dump_payload(o, &p, &len), 0);
    size_t lpb = kv_lp_bytes(lp);
    assert_true(lpb >= 64 && lpb < 16384);
    assert_int_equal(len, 1 + 2 + lpb + 10); /* type, 14-bit length, blob, footer */
    assert_int_equal(p[0], KV_RDB_TYPE_HASH_LISTPACK);
    assert_int_equal(((size_t)(p[1] & 0x3F) << 8) | p[2], lpb);
    assert_memory_equal(p + 3, lp, lpb);
    assert_int_equal(kv_rdb_serialized_len(o), 2 + lpb);
    kv_obj_t *back = kv_rdb_payload_load(p, len, "h", 1, -1);
    assert_non_null(back);
    assert_int_equal(back->encoding, KV_ENC_HASHPACK);
    assert_int_equal(kv_hash_check(back), 0);
    assert_int_equal(kv_obj_used_bytes(back), kv_obj_used_bytes(o));
    assert_int_equal(back->type, o->type);
    assert_memory_equal((const char *)back + 4, (const char *)o + 4, kv_obj_used_bytes(o) - 4);
    kv_obj_free(back);
    for (long k = 0;; k++) {
        failures = 0;
        fail_countdown = k;
        back = kv_rdb_payload_load(p, len, "h", 1, -1);
        fail_countdown = -1;
        if (failures == 0) {
            assert_non_null(back);
            assert_true(k > 0);
            kv_obj_free(back);
            break;
        }
        if (back != NULL) { /* a failure the loader works around: the same hash anyway */
            assert_int_equal(kv_hash_check(back), 0);
            char *a = dump(o), *b = dump(back);
            assert_string_equal(a, b);
            free(a);
            free(b);
            kv_obj_free(back);
        }
        assert_true(k < 1000);
    }
    free(p);
    kv_lp_free(lp);
    kv_obj_free(o);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_hash_set_get_update_delete_in_listpack, reset_limits),
        cmocka_unit_test_setup(test_hash_stays_listpack_at_entry_limit, reset_limits),
        cmocka_unit_test_setup(test_hash_converts_one_past_entry_limit, reset_limits),
        cmocka_unit_test_setup(test_hash_zero_entry_limit_gives_hashtable, reset_limits),
        cmocka_unit_test_setup(test_hash_value_at_limit_stays_one_past_converts, reset_limits),
        cmocka_unit_test_setup(test_hash_try_convert_checks_every_argument, reset_limits),
        cmocka_unit_test_setup(test_hash_lowered_limit_converts_only_on_next_write, reset_limits),
        cmocka_unit_test_setup(test_hash_hashtable_updates_grow_and_shrink_values, reset_limits),
        cmocka_unit_test_setup(test_hash_iterates_in_insertion_order_in_listpack, reset_limits),
        cmocka_unit_test_setup(test_hash_iterates_every_field_in_hashtable, reset_limits),
        cmocka_unit_test_setup(test_hash_random_returns_members, reset_limits),
        cmocka_unit_test_setup(test_hash_dup_copies_both_encodings, reset_limits),
        cmocka_unit_test_setup(test_hash_mem_bytes_sums_the_blocks, reset_limits),
        cmocka_unit_test_setup(test_hash_free_returns_every_byte, reset_limits),
        cmocka_unit_test_setup(test_hash_pack_values_replaced_longer_and_shorter, reset_limits),
        cmocka_unit_test_setup(test_hash_pack_deletes_first_middle_and_last, reset_limits),
        cmocka_unit_test_setup(test_hash_pack_count_crosses_one_byte, reset_limits),
        cmocka_unit_test_setup(test_hash_pack_long_strings_stay_at_value_limit, reset_limits),
        cmocka_unit_test_setup(test_hash_pack_conversion_keeps_key_ttl_and_lru, reset_limits),
        cmocka_unit_test_setup(test_hash_pack_random_walk_matches_a_model, reset_limits),
        cmocka_unit_test_setup(test_hash_pack_out_of_memory_leaves_it_unchanged, reset_limits),
        cmocka_unit_test_setup(test_hash_pack_dump_is_a_listpack_and_loads_back, reset_limits),
    };
    return cmocka_run_group_tests_name("kv_hash", tests, setup, teardown);
}
