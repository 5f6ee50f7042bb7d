/* SPDX-License-Identifier: MIT */
/*
 * intset.h - a sorted set of integers in one allocation (internal to kvcore/; include it
 * only from kvcore's files).
 *
 * Layout (Redis's intset): [width: u32 LE = 2, 4 or 8][count: u32 LE][count values of that
 * width, LE, strictly increasing]. Adding a value that needs a wider type upgrades every
 * element; removing never narrows. Lookups are binary searches. A blob from outside must
 * pass kv_is_validate(deep) before the other functions may read it.
 *
 * Changes may reallocate the set (hence `kv_intset_t **isp`). Errors: 0 or -errno
 * (-ENOMEM, -ERANGE, -EPROTO).
 */
#ifndef KV_INTSET_H
#define KV_INTSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct kv_intset kv_intset_t;

#define KV_IS_HEADER_BYTES 8

/* A new empty set (16-bit width); NULL on out-of-memory. */
kv_intset_t *kv_is_new(void);
/* NULL is a no-op. */
void kv_is_free(kv_intset_t *is);

/* Adds v; *added (if not NULL) says whether it was new. 0 or -ENOMEM (set unchanged). */
int kv_is_add(kv_intset_t **isp, int64_t v, bool *added);
/* Removes v; *removed (if not NULL) says whether it was there. Returns 0. */
int kv_is_remove(kv_intset_t **isp, int64_t v, bool *removed);
bool kv_is_find(const kv_intset_t *is, int64_t v);
/* The value at pos (0 = smallest) in *v. 0 or -ERANGE. */
int kv_is_get(const kv_intset_t *is, size_t pos, int64_t *v);
/* A uniformly chosen element. pre: kv_is_len(is) > 0. */
int64_t kv_is_random(const kv_intset_t *is);
/* Smallest and largest element. pre: kv_is_len(is) > 0. */
int64_t kv_is_min(const kv_intset_t *is);
int64_t kv_is_max(const kv_intset_t *is);

size_t kv_is_len(const kv_intset_t *is);
/* Size of the allocation's contents: header plus values. */
size_t kv_is_bytes(const kv_intset_t *is);
/* Bytes per value: 2, 4 or 8. */
unsigned kv_is_width(const kv_intset_t *is);

/*
 * Checks that blob[0..len) is a well-formed intset without reading outside it: the
 * width, and that count values fill the blob exactly; with deep, that the values are
 * strictly increasing. An empty set is valid. 0 or -EPROTO.
 */
int kv_is_validate(const void *blob, size_t len, bool deep);
/* kv_is_validate(is, kv_is_bytes(is), true): for tests after each change. */
int kv_is_check(const kv_intset_t *is);

#endif /* KV_INTSET_H */
