/* SPDX-License-Identifier: MIT */
/*
 * util.c - the analyser's small containers: array growth, a string interner and a
 * u64 -> u32 map, both open addressing with linear probing at <= 50% load.
 *
 * Strings are stored in chunks that are never reallocated, so the pointer returned for an
 * id stays valid until hp_strtab_fini. See heapprof_internal.h.
 */
#include "heapprof_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A regular file of at most max_size bytes, or the -errno that says why not. */
static int regular_file_error(const struct stat *st, uint64_t max_size) {
    if (S_ISDIR(st->st_mode)) return -EISDIR;
    if (!S_ISREG(st->st_mode)) return -ENODEV;
    if (st->st_size < 0 || (uint64_t)st->st_size > max_size) return -EFBIG;
    return 0;
}

int hp_open_regular(const char *path, uint64_t max_size) {
    struct stat st;
    /* Looking first means a FIFO or a device is never opened at all (opening some devices
     * has effects); the checks that count are made again on the descriptor itself. */
    if (stat(path, &st) != 0) return -errno;
    int rc = regular_file_error(&st, max_size);
    if (rc != 0) return rc;
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) return -errno;
    rc = fstat(fd, &st) != 0 ? -errno : regular_file_error(&st, max_size);
    if (rc == 0) {
        int fl = fcntl(fd, F_GETFL);
        if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) != 0) rc = -errno;
    }
    if (rc != 0) {
        close(fd);
        return rc;
    }
    return fd;
}

int64_t hp_round_i64(double v) {
    if (v != v) return 0;
    if (v >= 9223372036854775807.0) return INT64_MAX; // 2^63: the first double out of range
    if (v <= -9223372036854775808.0) return INT64_MIN;
    return (int64_t)llround(v);
}

int hp_grow(void **data, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap) return 0;
    size_t ncap = *cap ? *cap : 16;
    while (ncap < need) {
        if (ncap > SIZE_MAX / 2) return -ENOMEM;
        ncap *= 2;
    }
    if (ncap > SIZE_MAX / elem) return -ENOMEM;
    void *p = realloc(*data, ncap * elem);
    if (p == NULL) return -ENOMEM;
    *data = p;
    *cap = ncap;
    return 0;
}

uint64_t hp_hash_bytes(const void *p, size_t len) {
    /* FNV-1a, then a final mix so that the low bits used for the slot index are good. */
    const unsigned char *s = p;
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < len; i++) {
        h ^= s[i];
        h *= 0x100000001b3ull;
    }
    return hp_hash_u64(h);
}

uint64_t hp_hash_u64(uint64_t x) {
    /* splitmix64's finalizer. */
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    x ^= x >> 31;
    return x;
}

/* --- String interner --- */

void hp_strtab_init(hp_strtab_t *t) {
    memset(t, 0, sizeof(*t));
}

void hp_strtab_fini(hp_strtab_t *t) {
    for (size_t i = 0; i < t->nchunks; i++)
        free(t->chunks[i]);
    free(t->chunks);
    free(t->ents);
    free(t->slots);
    memset(t, 0, sizeof(*t));
}

const char *hp_strtab_get(const hp_strtab_t *t, uint32_t id) {
    return t->ents[id].s;
}

static int strtab_rehash(hp_strtab_t *t, size_t nslots) {
    uint32_t *slots = calloc(nslots, sizeof(*slots));
    if (slots == NULL) return -ENOMEM;
    for (size_t id = 0; id < t->count; id++) {
        size_t i = hp_hash_bytes(t->ents[id].s, t->ents[id].len) & (nslots - 1);
        while (slots[i] != 0)
            i = (i + 1) & (nslots - 1);
        slots[i] = (uint32_t)id + 1;
    }
    free(t->slots);
    t->slots = slots;
    t->nslots = nslots;
    return 0;
}

static char *strtab_store(hp_strtab_t *t, const char *s, size_t len) {
    if (t->nchunks == 0 || t->chunk_used + len + 1 > t->chunk_size) {
        size_t size = len + 1 > 65536 ? len + 1 : 65536;
        char *chunk = malloc(size);
        if (chunk == NULL) return NULL;
        char **chunks = realloc(t->chunks, (t->nchunks + 1) * sizeof(*chunks));
        if (chunks == NULL) {
            free(chunk);
            return NULL;
        }
        chunks[t->nchunks++] = chunk;
        t->chunks = chunks;
        t->chunk_size = size;
        t->chunk_used = 0;
    }
    char *dst = t->chunks[t->nchunks - 1] + t->chunk_used;
    memcpy(dst, s, len);
    dst[len] = '\0';
    t->chunk_used += len + 1;
    return dst;
}

int hp_strtab_intern(hp_strtab_t *t, const char *s, size_t len, uint32_t *id) {
    if (len > UINT32_MAX - 1) return -ENOMEM;
    if ((t->count + 1) * 2 > t->nslots) {
        int rc = strtab_rehash(t, t->nslots ? t->nslots * 2 : 256);
        if (rc != 0) return rc;
    }
    size_t mask = t->nslots - 1;
    size_t i = hp_hash_bytes(s, len) & mask;
    while (t->slots[i] != 0) {
        uint32_t cand = t->slots[i] - 1;
        if (t->ents[cand].len == len && memcmp(t->ents[cand].s, s, len) == 0) {
            *id = cand;
            return 0;
        }
        i = (i + 1) & mask;
    }
    if (hp_grow((void **)&t->ents, &t->ents_cap, t->count + 1, sizeof(*t->ents)) != 0)
        return -ENOMEM;
    char *copy = strtab_store(t, s, len);
    if (copy == NULL) return -ENOMEM;
    t->ents[t->count].s = copy;
    t->ents[t->count].len = len;
    t->slots[i] = (uint32_t)t->count + 1;
    *id = (uint32_t)t->count++;
    return 0;
}

/* --- u64 -> u32 map --- */

void hp_u64map_init(hp_u64map_t *m) {
    memset(m, 0, sizeof(*m));
}

void hp_u64map_fini(hp_u64map_t *m) {
    free(m->keys);
    free(m->vals);
    memset(m, 0, sizeof(*m));
}

bool hp_u64map_find(const hp_u64map_t *m, uint64_t key, uint32_t *val) {
    if (m->nslots == 0) return false;
    size_t mask = m->nslots - 1;
    for (size_t i = hp_hash_u64(key) & mask;; i = (i + 1) & mask) {
        if (m->vals[i] == 0) return false;
        if (m->keys[i] == key) {
            *val = m->vals[i] - 1;
            return true;
        }
    }
}

static int u64map_rehash(hp_u64map_t *m, size_t nslots) {
    uint64_t *keys = malloc(nslots * sizeof(*keys));
    uint32_t *vals = calloc(nslots, sizeof(*vals));
    if (keys == NULL || vals == NULL) {
        free(keys);
        free(vals);
        return -ENOMEM;
    }
    for (size_t j = 0; j < m->nslots; j++) {
        if (m->vals[j] == 0) continue;
        size_t i = hp_hash_u64(m->keys[j]) & (nslots - 1);
        while (vals[i] != 0)
            i = (i + 1) & (nslots - 1);
        keys[i] = m->keys[j];
        vals[i] = m->vals[j];
    }
    free(m->keys);
    free(m->vals);
    m->keys = keys;
    m->vals = vals;
    m->nslots = nslots;
    return 0;
}

int hp_u64map_put(hp_u64map_t *m, uint64_t key, uint32_t val) {
    if ((m->count + 1) * 2 > m->nslots) {
        int rc = u64map_rehash(m, m->nslots ? m->nslots * 2 : 256);
        if (rc != 0) return rc;
    }
    size_t mask = m->nslots - 1;
    size_t i = hp_hash_u64(key) & mask;
    while (m->vals[i] != 0 && m->keys[i] != key)
        i = (i + 1) & mask;
    if (m->vals[i] == 0) m->count++;
    m->keys[i] = key;
    m->vals[i] = val + 1;
    return 0;
}
