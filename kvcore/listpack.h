/* SPDX-License-Identifier: MIT */
/*
 * listpack.h - a compact list of strings and integers in one byte array (internal to
 * kvcore/; include it only from kvcore's files).
 *
 * Layout (the public listpack format of Redis 7):
 *   [total bytes: u32 LE][entry count: u16 LE, 65535 = count it][entries...][0xFF]
 * and each entry is [encoding + data][backlen], where backlen is the size of
 * encoding + data in 1 to 5 bytes, written so it can be read from its last byte
 * leftwards: the list walks both ways. Integers take 1 to 9 bytes, strings a 1, 2 or
 * 5 byte length header. Strings that spell a canonical int64 ("42", not "042") are
 * stored as integers and read back as integers.
 *
 * Positions are `uint8_t *` into the blob; every call that changes the listpack may
 * reallocate it (hence `uint8_t **lpp`) and invalidates all positions except the one it
 * hands back. Values passed in must not point into the listpack being changed.
 * A blob from outside (RDB, RESTORE, fuzzing) must pass kv_lp_validate(deep) first; the
 * other functions trust their input.
 *
 * Errors: 0 or -errno (-ENOMEM, -ERANGE: the listpack would pass 4 GiB, -EPROTO).
 */
#ifndef KV_LISTPACK_H
#define KV_LISTPACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KV_LP_HEADER_BYTES 6
#define KV_LP_INTBUF       21 /* room for any int64 in decimal plus NUL */

enum { KV_LP_BEFORE = 0, KV_LP_AFTER = 1 };

/* One decoded entry. */
typedef struct kv_lp_val {
    const uint8_t *str; /* the string's bytes, inside the listpack; NULL for an integer */
    size_t len;         /* the string's length (0 for an integer) */
    int64_t ival;       /* the integer, when str == NULL */
} kv_lp_val_t;

/* A new empty listpack (7 bytes); NULL on out-of-memory. Free with kv_lp_free. */
uint8_t *kv_lp_new(void);
/* A copy of lp; NULL on out-of-memory. */
uint8_t *kv_lp_dup(const uint8_t *lp);
/* NULL is a no-op. */
void kv_lp_free(uint8_t *lp);

/* Total size of the blob in bytes (header, entries and end byte). */
size_t kv_lp_bytes(const uint8_t *lp);
/* Number of entries; walks the list when the header says 65535 (unknown). */
size_t kv_lp_len(const uint8_t *lp);

/* --- Walking: positions or NULL at either end --- */

uint8_t *kv_lp_first(uint8_t *lp);
uint8_t *kv_lp_last(uint8_t *lp);
uint8_t *kv_lp_next(uint8_t *lp, uint8_t *p);
uint8_t *kv_lp_prev(uint8_t *lp, uint8_t *p);
/* The entry at index (negative counts from the end: -1 is the last), or NULL. */
uint8_t *kv_lp_seek(uint8_t *lp, long index);
/* Decodes the entry at p. v->str points into the listpack until it changes. */
void kv_lp_get(const uint8_t *p, kv_lp_val_t *v);
/*
 * The entry's bytes: a string's own bytes, or an integer written into buf (at least
 * KV_LP_INTBUF bytes). *len gets the length.
 */
const uint8_t *kv_lp_get_bytes(const uint8_t *p, char *buf, size_t *len);
/* True if the entry at p equals s[0..len) (integers compare by value). */
bool kv_lp_equals(const uint8_t *p, const void *s, size_t len);
/*
 * From p on, the first entry equal to s[0..len), comparing one entry and then skipping
 * `skip` entries (skip=1 looks only at the fields of a field/value listpack). NULL if none.
 */
uint8_t *kv_lp_find(uint8_t *lp, uint8_t *p, const void *s, size_t len, size_t skip);

/* --- Changes (each may move the blob: *lpp is updated) --- */

/* Adds a string (or an integer) at the end or the front. 0, -ENOMEM or -ERANGE. */
int kv_lp_append(uint8_t **lpp, const void *s, size_t len);
int kv_lp_prepend(uint8_t **lpp, const void *s, size_t len);
int kv_lp_append_int(uint8_t **lpp, int64_t v);
int kv_lp_prepend_int(uint8_t **lpp, int64_t v);
/*
 * Inserts a string before or after the entry at p (KV_LP_BEFORE / KV_LP_AFTER); *newp,
 * if newp is not NULL, gets the new entry's position. 0, -ENOMEM or -ERANGE.
 */
int kv_lp_insert(uint8_t **lpp, uint8_t *p, int where, const void *s, size_t len, uint8_t **newp);
int kv_lp_insert_int(uint8_t **lpp, uint8_t *p, int where, int64_t v, uint8_t **newp);
/* Inserts at index 0..len (len appends). 0, -ENOMEM, -ERANGE (index out of range too). */
int kv_lp_insert_at(uint8_t **lpp, size_t index, const void *s, size_t len);
/* Replaces the entry at *p; *p gets its new position. 0, -ENOMEM or -ERANGE. */
int kv_lp_replace(uint8_t **lpp, uint8_t **p, const void *s, size_t len);
int kv_lp_replace_int(uint8_t **lpp, uint8_t **p, int64_t v);
/* Deletes the entry at *p; *p gets the entry that followed it, or NULL. Returns 0. */
int kv_lp_delete(uint8_t **lpp, uint8_t **p);
/*
 * Deletes up to count entries from index (negative counts from the end); an index out of
 * range deletes nothing and deleting past the end stops at the end. Returns 0 (a
 * shrinking realloc that fails keeps the larger block).
 */
int kv_lp_delete_range(uint8_t **lpp, long index, size_t count);
/* Appends every entry of `second` to *firstp. 0, -ENOMEM or -ERANGE. */
int kv_lp_merge(uint8_t **firstp, const uint8_t *second);

/* --- Building a listpack in one pass (RDB and DUMP payloads of compact hashes) --- */

/*
 * Bytes an entry takes, backlen included: kv_lp_val_t as kv_lp_get gives it (str NULL for
 * an integer; a string is stored as a string, the caller having decided it is not a
 * canonical integer). kv_lp_put writes that entry at dst and returns the position after
 * it. kv_lp_init_header writes the header and end byte of a listpack of `bytes` bytes
 * whose `count` entries were put at lp + KV_LP_HEADER_BYTES. pre: bytes <= UINT32_MAX.
 */
size_t kv_lp_entry_bytes(const kv_lp_val_t *v);
uint8_t *kv_lp_put(uint8_t *dst, const kv_lp_val_t *v);
void kv_lp_init_header(uint8_t *lp, size_t bytes, size_t count);

/* --- Validation --- */

/*
 * Checks that blob[0..len) is a well-formed listpack without ever reading outside it:
 * header size and end byte always; with deep, every entry's encoding, lengths and
 * backlen, and the count. 0 or -EPROTO.
 */
int kv_lp_validate(const uint8_t *blob, size_t len, bool deep);
/* kv_lp_validate(lp, kv_lp_bytes(lp), true): for tests after each change. */
int kv_lp_check(const uint8_t *lp);

/* Writes v in decimal into buf (KV_LP_INTBUF bytes), NUL-terminated; returns the length. */
size_t kv_lp_int_to_str(int64_t v, char *buf);
/* True if s[0..len) is a canonical int64 in decimal (what the listpack stores as integer). */
bool kv_lp_str_to_int(const void *s, size_t len, int64_t *out);

#endif /* KV_LISTPACK_H */
