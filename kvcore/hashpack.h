/* SPDX-License-Identifier: MIT */
/*
 * hashpack.h - the compact form of a small hash: its fields and values packed in bytes
 * embedded in the hash's own object (internal to kvcore/; include it only from kvcore's
 * files). The object layout around it is obj.c's; the hash operations are t_hash.c's.
 *
 * Layout: [pair count: LEB128 varint][field 1][value 1][field 2][value 2]...
 * and each field or value is one entry, by its first byte (the tag):
 *   0x00-0xBF + bytes        a string of 0 to 191 bytes (the tag is the length)
 *   0xC0-0xEF                an integer 0 to 47 (tag - 0xC0)
 *   0xF0-0xF7 + 1..8 bytes   an integer in tag - 0xEF bytes, little-endian, sign-extended
 *   0xF8 + u16 LE + bytes    a string of 192 to 65535 bytes
 *   0xF9 + u32 LE + bytes    a longer string (below 4 GiB)
 * A string that spells a canonical int64 (kv_lp_str_to_int: what a listpack stores as an
 * integer) is stored as an integer and read back as decimal text; an integer always takes
 * its shortest form and a string its shortest header, so one content has exactly one
 * encoding (kv_hpk_validate checks that) and the listpack built from it for RDB and DUMP
 * (kv_hpk_to_lp) is byte for byte the one Redis builds. Unlike a listpack there is no
 * total size, no per-entry back-length and no end byte: hash operations only ever walk
 * forwards, by count. "field1" -> "value1" takes 14 bytes here, 16 in a listpack.
 *
 * Positions are `const uint8_t *` into the pack; the pack itself trusts its input, except
 * kv_hpk_validate, which reads nothing beyond the bytes it is given.
 */
#ifndef KV_HASHPACK_H
#define KV_HASHPACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kv_util.h"
#include "listpack.h"

#define KV_HPK_STR_MAX 0xBFu /* longest string with a one-byte header */
#define KV_HPK_IMM     0xC0u /* first tag of the immediate integers 0..47 */
#define KV_HPK_INT     0xF0u /* first tag of the 1..8-byte integers */
#define KV_HPK_STR16   0xF8u
#define KV_HPK_STR32   0xF9u
#define KV_HPK_HDR_MAX 9 /* the longest header: a tag and an 8-byte integer */
#define KV_HPK_LEN_MAX UINT32_MAX
#define KV_HPK_EMPTY   1 /* bytes of an empty pack (its count) */

/* An entry ready to be written: header bytes and, for a string, its data (not copied). */
typedef struct kv_hpk_enc {
    uint8_t hdr[KV_HPK_HDR_MAX];
    size_t hdrlen;
    const void *data;
    size_t datalen;
} kv_hpk_enc_t;

/*
 * Encodes s[0..len) (an integer when it is a canonical int64). s must stay valid until
 * kv_hpk_write. 0, or -ERANGE when len > KV_HPK_LEN_MAX.
 */
int kv_hpk_encode(kv_hpk_enc_t *e, const void *s, size_t len);
/* Writes e at p; returns the position after it. */
uint8_t *kv_hpk_write(uint8_t *p, const kv_hpk_enc_t *e);

static inline size_t kv_hpk_enc_bytes(const kv_hpk_enc_t *e) {
    return e->hdrlen + e->datalen;
}

/* --- The count --- */

const uint8_t *kv_hpk_count_slow(const uint8_t *pack, size_t *n);

/* Reads the pair count into *n; returns the first entry's position. */
static inline const uint8_t *kv_hpk_count(const uint8_t *pack, size_t *n) {
    if (KV_LIKELY(pack[0] < 0x80)) {
        *n = pack[0];
        return pack + 1;
    }
    return kv_hpk_count_slow(pack, n);
}

/* Bytes the count n takes. */
size_t kv_hpk_count_bytes(size_t n);
/* Writes the count n at p; returns the position after it. */
uint8_t *kv_hpk_put_count(uint8_t *p, size_t n);

/* --- Walking --- */

/* Size of the entry at p, header included. */
static inline size_t kv_hpk_entry_bytes(const uint8_t *p) {
    unsigned t = p[0];
    if (KV_LIKELY(t <= KV_HPK_STR_MAX)) return 1 + t;
    if (t < KV_HPK_INT) return 1;
    if (t < KV_HPK_STR16) return 1 + (t - (KV_HPK_INT - 1));
    if (t == KV_HPK_STR16) return 3 + kv_rd16(p + 1);
    return 5 + (size_t)kv_rd32(p + 1);
}

/* The entry after the one at p. */
static inline const uint8_t *kv_hpk_skip(const uint8_t *p) {
    return p + kv_hpk_entry_bytes(p);
}

/* The position `pairs` field/value pairs after p. */
const uint8_t *kv_hpk_skip_pairs(const uint8_t *p, size_t pairs);
/*
 * Decodes the entry at p into v (as kv_lp_get: str NULL for an integer, in ival);
 * returns the next entry's position. v->str points into the pack.
 */
const uint8_t *kv_hpk_get(const uint8_t *p, kv_lp_val_t *v);
/*
 * The entry's bytes: *s points at a string's bytes in the pack, or at an integer's
 * decimal text written into ibuf (KV_LP_INTBUF bytes). Returns the next position.
 */
const uint8_t *kv_hpk_get_bytes(const uint8_t *p, char *ibuf, const char **s, size_t *len);
/*
 * Looks for field f among the `pairs` pairs starting at p (the position after the count):
 * returns the field's position with *idx its pair index, or, when it is absent, the end
 * of the pack with *idx = pairs. Integers compare by value, as in a listpack.
 */
const uint8_t *kv_hpk_find(const uint8_t *p, size_t pairs, const void *f, size_t flen, size_t *idx);
/* Total bytes of the pack, count included (walks it). */
size_t kv_hpk_bytes(const uint8_t *pack);

/* --- Listpacks (RDB, DUMP) --- */

/* Bytes of the listpack with the pack's strings in order (field, value, ...). */
size_t kv_hpk_lp_bytes(const uint8_t *pack);
/* Writes that listpack into lp (kv_hpk_lp_bytes(pack) bytes). */
void kv_hpk_to_lp(const uint8_t *pack, uint8_t *lp, size_t bytes);

/* --- Validation --- */

/*
 * Checks that pack[0..avail) starts with a well-formed pack in canonical form (shortest
 * count, integer widths and string headers; no string that spells a canonical integer),
 * reading nothing beyond avail, and stores its size in *used. 0 or -EPROTO. Fields are
 * not checked for uniqueness (kv_hash_check does).
 */
int kv_hpk_validate(const uint8_t *pack, size_t avail, size_t *used);

#endif /* KV_HASHPACK_H */
