/* SPDX-License-Identifier: MIT */
/*
 * hll.h - the HyperLogLog value of Redis 7.0, byte for byte: a string starting "HYLL",
 * a 16-byte header (magic, encoding, 3 unused bytes, the cached cardinality in 8
 * little-endian bytes whose top bit marks it stale), then 16384 6-bit registers packed
 * (dense, 12288 bytes) or run-length opcodes ZERO/XZERO/VAL (sparse). Needs nothing of
 * the server: cmd_hll.c drives it, and so do the unit test and the fuzz target.
 *
 * A value from outside (SET, RESTORE) is untrusted: kv_hll_header_ok checks the header,
 * and every walk over sparse opcodes checks its bounds and reports -EPROTO when the
 * opcodes do not describe exactly 16384 registers, never reading or writing outside.
 */
#ifndef KV_HLL_H
#define KV_HLL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KV_HLL_P                14
#define KV_HLL_Q                (64 - KV_HLL_P)
#define KV_HLL_REGISTERS        (1 << KV_HLL_P)
#define KV_HLL_BITS             6
#define KV_HLL_HDR_SIZE         16
#define KV_HLL_DENSE_SIZE       (KV_HLL_HDR_SIZE + (KV_HLL_REGISTERS * KV_HLL_BITS + 7) / 8)
#define KV_HLL_SPARSE_VAL_MAX   32 /* largest register value a VAL opcode holds */
#define KV_HLL_SEED             0xadc83b19u
#define KV_HLL_EMPTY_SPARSE_LEN (KV_HLL_HDR_SIZE + 2) /* one XZERO of 16384 */

enum { KV_HLL_DENSE = 0, KV_HLL_SPARSE = 1 };

/* A value being changed: the bytes, their length and the buffer's capacity (malloc). */
typedef struct kv_hll {
    uint8_t *data;
    size_t len, cap;
} kv_hll_t;

/* MurmurHash64A (endian neutral), as Redis hashes HLL elements with KV_HLL_SEED. */
uint64_t kv_hll_murmur64a(const void *key, size_t len, uint32_t seed);
/* The register an element goes to (*index) and its run length: 1 + trailing zeros of the
 * hash's upper 50 bits (1..51). */
int kv_hll_pattern(const void *ele, size_t len, long *index);

/* True if s[0..len) has the header Redis accepts as an HLL: length >= 16, "HYLL", an
 * encoding of 0 or 1, and exactly KV_HLL_DENSE_SIZE bytes when dense. */
bool kv_hll_header_ok(const uint8_t *s, size_t len);

/* A new empty sparse value (cardinality cache valid, 0). 0 or -ENOMEM. */
int kv_hll_init_empty(kv_hll_t *h);
/* A working copy of an existing value with some room to grow. 0 or -ENOMEM. */
int kv_hll_init_copy(kv_hll_t *h, const uint8_t *s, size_t len);
void kv_hll_fini(kv_hll_t *h);

/*
 * Raises register index to count if it is lower. A sparse value becomes dense when count
 * exceeds KV_HLL_SPARSE_VAL_MAX or the value would grow past sparse_max bytes. Returns 1
 * when the register changed, 0 when not, -EPROTO for corrupt sparse opcodes (the value is
 * left as it was, or partly updated as Redis leaves it) or -ENOMEM.
 */
int kv_hll_set(kv_hll_t *h, long index, int count, size_t sparse_max);
/* kv_hll_set for an element (hashed with kv_hll_pattern). */
int kv_hll_add(kv_hll_t *h, const void *ele, size_t len, size_t sparse_max);
/* Converts a sparse value to dense (no-op when dense). 0, -EPROTO or -ENOMEM. */
int kv_hll_to_dense(kv_hll_t *h);

/* Marks the cached cardinality stale. */
void kv_hll_invalidate(uint8_t *s);
/* True if the cached cardinality is valid; stores it. */
bool kv_hll_cached(const uint8_t *s, uint64_t *card);
/* Stores card as the (valid) cached cardinality. */
void kv_hll_set_cached(uint8_t *s, uint64_t card);

/* Register values of a value with a valid header into max[] (max[i] = MAX(max[i], reg)).
 * 0, or -EPROTO when sparse opcodes do not cover exactly 16384 registers. */
int kv_hll_merge(uint8_t max[KV_HLL_REGISTERS], const uint8_t *s, size_t len);
/* The estimate of a value with a valid header (Ertl's improved estimator, as Redis 7.0).
 * 0, or -EPROTO for corrupt sparse opcodes. */
int kv_hll_count(const uint8_t *s, size_t len, uint64_t *card);
/* The estimate for plain registers (one byte each, values 0..63). */
uint64_t kv_hll_count_registers(const uint8_t regs[KV_HLL_REGISTERS]);
/* One register of a dense value's register area (index < 16384). */
int kv_hll_dense_get(const uint8_t *regs, long index);

#endif
