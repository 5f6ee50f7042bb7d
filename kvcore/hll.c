/* SPDX-License-Identifier: MIT */
/*
 * hll.c - the HyperLogLog representation of Redis 7.0 (see hll.h): hashing, the dense and
 * sparse encodings, in-place sparse updates with sparse-to-dense promotion, merging and
 * the cardinality estimate (Otmar Ertl, "New cardinality estimation algorithms for
 * HyperLogLog sketches", arXiv:1702.01284), so that values are interchangeable with
 * redis-server's through GET and SET.
 *
 * Sparse opcodes: ZERO 00xxxxxx (1..64 zero registers), XZERO 01xxxxxx yyyyyyyy (1..16384
 * zero registers), VAL 1vvvvvxx (1..4 registers of value 1..32). Updates split the opcode
 * covering the register into at most three and then join equal neighbouring VALs, exactly
 * as Redis does, so both servers produce the same bytes for the same additions.
 */
#include "hll.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define VAL_MAX_LEN   4
#define ZERO_MAX_LEN  64
#define XZERO_MAX_LEN 16384
#define OP_XZERO_BIT  0x40
#define OP_VAL_BIT    0x80
#define ALPHA_INF     0.721347520444481703680 /* 0.5 / ln(2) */
#define CARD_STALE    0x80                    /* top bit of the cache's last byte */

enum { OP_ZERO, OP_XZERO, OP_VAL };

typedef struct op {
    int kind;
    long run; /* registers covered */
    int val;  /* VAL only */
    size_t size;
} op_t;

/* --- Hash --- */

uint64_t kv_hll_murmur64a(const void *key, size_t len, uint32_t seed) {
    const uint64_t m = 0xc6a4a7935bd1e995ULL;
    const int r = 47;
    const uint8_t *p = key;
    uint64_t h = seed ^ ((uint64_t)(int)len * m);
    size_t blocks = len / 8;
    for (size_t i = 0; i < blocks; i++, p += 8) {
        uint64_t k = 0;
        for (int b = 7; b >= 0; b--)
            k = (k << 8) | p[b];
        k *= m;
        k ^= k >> r;
        k *= m;
        h ^= k;
        h *= m;
    }
    size_t tail = len & 7;
    if (tail) {
        for (size_t b = tail; b > 0; b--)
            h ^= (uint64_t)p[b - 1] << (8 * (b - 1));
        h *= m;
    }
    h ^= h >> r;
    h *= m;
    h ^= h >> r;
    return h;
}

int kv_hll_pattern(const void *ele, size_t len, long *index) {
    uint64_t hash = kv_hll_murmur64a(ele, len, KV_HLL_SEED);
    *index = (long)(hash & (KV_HLL_REGISTERS - 1));
    hash >>= KV_HLL_P;
    hash |= (uint64_t)1 << KV_HLL_Q; /* the run ends by bit Q: count <= Q + 1 */
    return 1 + __builtin_ctzll(hash);
}

/* --- Header --- */

bool kv_hll_header_ok(const uint8_t *s, size_t len) {
    if (len < KV_HLL_HDR_SIZE || memcmp(s, "HYLL", 4) != 0) return false;
    if (s[4] > KV_HLL_SPARSE) return false;
    return s[4] != KV_HLL_DENSE || len == KV_HLL_DENSE_SIZE;
}

void kv_hll_invalidate(uint8_t *s) {
    s[15] |= CARD_STALE;
}

bool kv_hll_cached(const uint8_t *s, uint64_t *card) {
    if (s[15] & CARD_STALE) return false;
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | s[8 + i];
    *card = v;
    return true;
}

void kv_hll_set_cached(uint8_t *s, uint64_t card) {
    for (int i = 0; i < 8; i++)
        s[8 + i] = (uint8_t)(card >> (8 * i));
}

/* --- Buffers --- */

static int reserve(kv_hll_t *h, size_t cap) {
    if (h->cap >= cap) return 0;
    uint8_t *p = realloc(h->data, cap);
    if (p == NULL) return -ENOMEM;
    h->data = p;
    h->cap = cap;
    return 0;
}

int kv_hll_init_empty(kv_hll_t *h) {
    h->data = calloc(1, KV_HLL_EMPTY_SPARSE_LEN);
    if (h->data == NULL) return -ENOMEM;
    h->len = h->cap = KV_HLL_EMPTY_SPARSE_LEN;
    memcpy(h->data, "HYLL", 4);
    h->data[4] = KV_HLL_SPARSE;
    h->data[KV_HLL_HDR_SIZE] = OP_XZERO_BIT | ((XZERO_MAX_LEN - 1) >> 8);
    h->data[KV_HLL_HDR_SIZE + 1] = (XZERO_MAX_LEN - 1) & 0xff;
    return 0;
}

int kv_hll_init_copy(kv_hll_t *h, const uint8_t *s, size_t len) {
    h->data = malloc(len + 64);
    if (h->data == NULL) return -ENOMEM;
    memcpy(h->data, s, len);
    h->len = len;
    h->cap = len + 64;
    return 0;
}

void kv_hll_fini(kv_hll_t *h) {
    free(h->data);
    h->data = NULL;
    h->len = h->cap = 0;
}

/* --- Dense registers --- */

int kv_hll_dense_get(const uint8_t *regs, long index) {
    size_t bit = (size_t)index * KV_HLL_BITS, byte = bit >> 3;
    unsigned fb = bit & 7, v = regs[byte] >> fb;
    if (fb > 2) v |= (unsigned)regs[byte + 1] << (8 - fb); /* spans two bytes */
    return (int)(v & 63);
}

static void dense_put(uint8_t *regs, long index, unsigned v) {
    size_t bit = (size_t)index * KV_HLL_BITS, byte = bit >> 3;
    unsigned fb = bit & 7;
    regs[byte] = (uint8_t)((regs[byte] & ~(63u << fb)) | (v << fb));
    if (fb > 2) regs[byte + 1] = (uint8_t)((regs[byte + 1] & ~(63u >> (8 - fb))) | (v >> (8 - fb)));
}

static int dense_set(uint8_t *regs, long index, int count) {
    if (kv_hll_dense_get(regs, index) >= count) return 0;
    dense_put(regs, index, (unsigned)count);
    return 1;
}

/* --- Sparse opcodes --- */

/*
 * The opcode at d[p] (p < len). A truncated XZERO (its second byte missing) reads that
 * byte as 0 with size 2: every walk checks p + size <= len and calls the value corrupt.
 */
static op_t op_at(const uint8_t *d, size_t len, size_t p) {
    uint8_t b = d[p];
    op_t op = {OP_ZERO, (b & 0x3f) + 1, 0, 1};
    if (b & OP_VAL_BIT) {
        op.kind = OP_VAL;
        op.val = ((b >> 2) & 0x1f) + 1;
        op.run = (b & 3) + 1;
    } else if (b & OP_XZERO_BIT) {
        op.kind = OP_XZERO;
        op.run = ((long)(b & 0x3f) << 8 | (p + 1 < len ? d[p + 1] : 0)) + 1;
        op.size = 2;
    }
    return op;
}

static uint8_t val_byte(int val, long run) {
    return (uint8_t)(OP_VAL_BIT | (val - 1) << 2 | (run - 1));
}

/* Writes a ZERO or XZERO run of n registers at out; returns the bytes written. */
static int put_zero_run(uint8_t *out, long n) {
    if (n > ZERO_MAX_LEN) {
        out[0] = (uint8_t)(OP_XZERO_BIT | (n - 1) >> 8);
        out[1] = (uint8_t)((n - 1) & 0xff);
        return 2;
    }
    out[0] = (uint8_t)(n - 1);
    return 1;
}

/*
 * Calls fn for every VAL run of a sparse area; 0 when the opcodes cover exactly 16384
 * registers, -EPROTO otherwise (a VAL run past the end stops the walk, as in Redis).
 */
static int sparse_walk(const uint8_t *d, size_t len, void (*fn)(void *, long, long, int),
                       void *arg) {
    long idx = 0;
    for (size_t p = KV_HLL_HDR_SIZE; p < len;) {
        op_t op = op_at(d, len, p);
        if (p + op.size > len) return -EPROTO;
        if (op.kind == OP_VAL) {
            if (idx + op.run > KV_HLL_REGISTERS) break;
            fn(arg, idx, op.run, op.val);
        }
        idx += op.run;
        if (idx > KV_HLL_REGISTERS) break; /* never comes back to the exact total */
        p += op.size;
    }
    return idx == KV_HLL_REGISTERS ? 0 : -EPROTO;
}

static void fill_dense(void *arg, long first, long run, int val) {
    for (long i = first; i < first + run; i++)
        dense_put(arg, i, (unsigned)val);
}

int kv_hll_to_dense(kv_hll_t *h) {
    if (h->data[4] == KV_HLL_DENSE) return 0;
    uint8_t *dense = calloc(1, KV_HLL_DENSE_SIZE);
    if (dense == NULL) return -ENOMEM;
    memcpy(dense, h->data, KV_HLL_HDR_SIZE); /* magic and cached cardinality */
    dense[4] = KV_HLL_DENSE;
    if (sparse_walk(h->data, h->len, fill_dense, dense + KV_HLL_HDR_SIZE) != 0) {
        free(dense);
        return -EPROTO;
    }
    free(h->data);
    h->data = dense;
    h->len = h->cap = KV_HLL_DENSE_SIZE;
    return 0;
}

/* Sparse to dense, then sets the register (which was lower: the result is 1). */
static int promote(kv_hll_t *h, long index, int count) {
    int rc = kv_hll_to_dense(h);
    if (rc != 0) return rc;
    return dense_set(h->data + KV_HLL_HDR_SIZE, index, count);
}

/* Joins equal adjacent VAL opcodes among the (at most 5) opcodes from p on. */
static void join_vals(kv_hll_t *h, size_t p) {
    uint8_t *d = h->data;
    for (int scan = 5; p < h->len && scan-- > 0;) {
        op_t a = op_at(d, h->len, p);
        if (a.kind != OP_VAL) {
            p += a.size;
            continue;
        }
        if (p + 1 < h->len && (d[p + 1] & OP_VAL_BIT)) {
            op_t b = op_at(d, h->len, p + 1);
            if (a.val == b.val && a.run + b.run <= VAL_MAX_LEN) {
                d[p + 1] = val_byte(a.val, a.run + b.run);
                memmove(d + p, d + p + 1, h->len - p - 1);
                h->len--;
                continue; /* try the joined opcode with its right neighbour */
            }
        }
        p++;
    }
}

/* The new opcodes for register index (of an opcode covering first..last) set to count. */
static int split_op(uint8_t seq[5], const op_t *op, long first, long index, int count) {
    long last = first + op->run - 1;
    int n = 0;
    if (op->kind == OP_VAL) {
        if (index != first) seq[n++] = val_byte(op->val, index - first);
        seq[n++] = val_byte(count, 1);
        if (index != last) seq[n++] = val_byte(op->val, last - index);
        return n;
    }
    if (index != first) n += put_zero_run(seq + n, index - first);
    seq[n++] = val_byte(count, 1);
    if (index != last) n += put_zero_run(seq + n, last - index);
    return n;
}

static int sparse_set(kv_hll_t *h, long index, int count, size_t sparse_max) {
    if (count > KV_HLL_SPARSE_VAL_MAX) return promote(h, index, count);
    /* Find the opcode covering index and the one before it. */
    size_t p = KV_HLL_HDR_SIZE, prev = 0;
    bool has_prev = false, found = false;
    long first = 0;
    op_t op = {0};
    while (p < h->len) {
        op = op_at(h->data, h->len, p);
        if (p + op.size > h->len) return -EPROTO; /* truncated XZERO */
        if (index <= first + op.run - 1) {
            found = true;
            break;
        }
        prev = p;
        has_prev = true;
        p += op.size;
        first += op.run;
    }
    if (!found) return -EPROTO;
    uint8_t *d = h->data;
    if (op.kind == OP_VAL && op.val >= count) return 0;
    if ((op.kind == OP_VAL || op.kind == OP_ZERO) && op.run == 1) {
        d[p] = val_byte(count, 1);
    } else {
        uint8_t seq[5];
        int seqlen = split_op(seq, &op, first, index, count);
        long delta = seqlen - (long)op.size;
        if (delta > 0 && h->len + (size_t)delta > sparse_max) return promote(h, index, count);
        if (reserve(h, h->len + (size_t)(delta > 0 ? delta : 0)) != 0) return -ENOMEM;
        d = h->data;
        size_t next = p + op.size;
        if (delta != 0 && next < h->len) memmove(d + next + delta, d + next, h->len - next);
        h->len = (size_t)((long)h->len + delta);
        memcpy(d + p, seq, (size_t)seqlen);
    }
    join_vals(h, has_prev ? prev : KV_HLL_HDR_SIZE);
    kv_hll_invalidate(h->data);
    return 1;
}

int kv_hll_set(kv_hll_t *h, long index, int count, size_t sparse_max) {
    if (h->data[4] == KV_HLL_DENSE) return dense_set(h->data + KV_HLL_HDR_SIZE, index, count);
    return sparse_set(h, index, count, sparse_max);
}

int kv_hll_add(kv_hll_t *h, const void *ele, size_t len, size_t sparse_max) {
    long index;
    int count = kv_hll_pattern(ele, len, &index);
    return kv_hll_set(h, index, count, sparse_max);
}

/* --- Merge and count --- */

static void max_run(void *arg, long first, long run, int val) {
    uint8_t *max = arg;
    for (long i = first; i < first + run; i++)
        if (max[i] < val) max[i] = (uint8_t)val;
}

int kv_hll_merge(uint8_t max[KV_HLL_REGISTERS], const uint8_t *s, size_t len) {
    if (s[4] == KV_HLL_SPARSE) return sparse_walk(s, len, max_run, max);
    for (long i = 0; i < KV_HLL_REGISTERS; i++) {
        int v = kv_hll_dense_get(s + KV_HLL_HDR_SIZE, i);
        if (max[i] < v) max[i] = (uint8_t)v;
    }
    return 0;
}

static double sigma(double x) {
    if (x == 1.) return INFINITY;
    double y = 1, z = x, prev;
    do {
        x *= x;
        prev = z;
        z += x * y;
        y += y;
    } while (prev != z);
    return z;
}

static double tau(double x) {
    if (x == 0. || x == 1.) return 0.;
    double y = 1.0, z = 1 - x, prev;
    do {
        x = sqrt(x);
        prev = z;
        y *= 0.5;
        z -= pow(1 - x, 2) * y;
    } while (prev != z);
    return z / 3;
}

/* The estimate from a histogram of register values (64 slots; values past Q + 1 only
 * come from corrupt dense values and are ignored, as in Redis). */
static uint64_t estimate(const int hist[64]) {
    double m = KV_HLL_REGISTERS;
    double z = m * tau((m - hist[KV_HLL_Q + 1]) / m);
    for (int j = KV_HLL_Q; j >= 1; j--) {
        z += hist[j];
        z *= 0.5;
    }
    z += m * sigma(hist[0] / m);
    return (uint64_t)llroundl(ALPHA_INF * m * m / z);
}

uint64_t kv_hll_count_registers(const uint8_t regs[KV_HLL_REGISTERS]) {
    int hist[64] = {0};
    for (long i = 0; i < KV_HLL_REGISTERS; i++)
        hist[regs[i] & 63]++;
    return estimate(hist);
}

int kv_hll_count(const uint8_t *s, size_t len, uint64_t *card) {
    int hist[64] = {0};
    if (s[4] == KV_HLL_DENSE) {
        for (long i = 0; i < KV_HLL_REGISTERS; i++)
            hist[kv_hll_dense_get(s + KV_HLL_HDR_SIZE, i)]++;
        *card = estimate(hist);
        return 0;
    }
    /* Redis counts every run, even past the end, and then rejects a wrong total. */
    long idx = 0;
    for (size_t p = KV_HLL_HDR_SIZE; p < len;) {
        op_t op = op_at(s, len, p);
        if (p + op.size > len) return -EPROTO;
        hist[op.kind == OP_VAL ? op.val : 0] += (int)op.run;
        idx += op.run;
        if (idx > KV_HLL_REGISTERS) break; /* wrong whatever follows */
        p += op.size;
    }
    if (idx != KV_HLL_REGISTERS) return -EPROTO;
    *card = estimate(hist);
    return 0;
}
