/* SPDX-License-Identifier: MIT */
/*
 * rdb.c - the RDB writer: the value serializer shared by snapshots and DUMP, whole
 * snapshots to a descriptor, the safe file save (temp file, fsync, rename, fsync of the
 * directory) and DUMP payloads.
 *
 * What each encoding becomes (Redis 7.0 reads all of it): strings as strings (integer and
 * LZF encodings as Redis chooses them); lists as QUICKLIST_2 with one packed listpack node
 * per quicklist node (a listpack-encoded list is one node; a compressed node goes out as
 * its LZF data, an LZF string); hash and sorted-set listpacks
 * as HASH_LISTPACK / ZSET_LISTPACK blobs; intsets as SET_INTSET blobs; set listpacks (a
 * Redis 7.2 encoding 7.0 cannot read) as plain SET; hashtables and skiplists element by
 * element. kvcore's listpack and intset layouts are Redis's byte for byte, so blobs are
 * written as they are in memory. docs/kvcore.md#persistence has the details.
 */
#include "rdb.h"

#include <errno.h>
#include <fcntl.h>
#include <lzf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "intset.h"
#include "quicklist.h"
#include "t_hash.h"
#include "t_list.h"
#include "t_set.h"
#include "t_zset.h"

#define OUT_FD_BUF     (64 * 1024)
#define LZF_MIN_LEN    20 /* Redis compresses strings longer than this */
#define RDB_ENC_INT8   0
#define RDB_ENC_INT16  1
#define RDB_ENC_INT32  2
#define RDB_ENC_LZF    3
#define RDB_ENCVAL     3
#define PROGRESS_EVERY 1024

/* --- The output --- */

void kv_rdb_out_init(kv_rdb_out_t *w, int fd, bool compress) {
    memset(w, 0, sizeof(*w));
    w->fd = fd;
    w->compress = compress;
}

static int write_all(int fd, const unsigned char *p, size_t len) {
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR) continue;
            return -errno;
        }
        if (n == 0) return -EIO;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int kv_rdb_out_flush(kv_rdb_out_t *w) {
    if (w->err != 0 || w->fd < 0 || w->len == 0) return w->err;
    int rc = write_all(w->fd, w->buf, w->len);
    if (rc != 0) w->err = rc;
    w->len = 0;
    return w->err;
}

void kv_rdb_out_fini(kv_rdb_out_t *w) {
    free(w->buf);
    w->buf = NULL;
    w->len = w->cap = 0;
}

static bool reserve(kv_rdb_out_t *w, size_t more) {
    if (w->cap - w->len >= more) return true;
    size_t want = w->len + more;
    size_t cap = w->cap ? w->cap : (w->fd >= 0 ? OUT_FD_BUF : 256);
    while (cap < want)
        cap *= 2;
    unsigned char *nb = realloc(w->buf, cap);
    if (nb == NULL) {
        w->err = -ENOMEM;
        return false;
    }
    w->buf = nb;
    w->cap = cap;
    return true;
}

void kv_rdb_write(kv_rdb_out_t *w, const void *p, size_t len) {
    if (w->err != 0 || len == 0) return;
    w->crc = kv_crc64(w->crc, p, len);
    w->bytes += len;
    if (w->fd >= 0) {
        if (w->buf == NULL && !reserve(w, OUT_FD_BUF)) return;
        if (w->len + len > w->cap && kv_rdb_out_flush(w) != 0) return;
        if (len >= w->cap) { /* a big blob goes straight out */
            int rc = write_all(w->fd, p, len);
            if (rc != 0) w->err = rc;
            return;
        }
    } else if (!reserve(w, len)) {
        return;
    }
    memcpy(w->buf + w->len, p, len);
    w->len += len;
}

void kv_rdb_write_type(kv_rdb_out_t *w, int type) {
    unsigned char b = (unsigned char)type;
    kv_rdb_write(w, &b, 1);
}

void kv_rdb_write_len(kv_rdb_out_t *w, uint64_t len) {
    unsigned char b[9];
    size_t n;
    if (len < (1u << 6)) {
        b[0] = (unsigned char)len;
        n = 1;
    } else if (len < (1u << 14)) {
        b[0] = (unsigned char)(0x40 | (len >> 8));
        b[1] = (unsigned char)len;
        n = 2;
    } else if (len <= UINT32_MAX) {
        b[0] = 0x80;
        for (int i = 0; i < 4; i++)
            b[1 + i] = (unsigned char)(len >> (24 - 8 * i));
        n = 5;
    } else {
        b[0] = 0x81;
        for (int i = 0; i < 8; i++)
            b[1 + i] = (unsigned char)(len >> (56 - 8 * i));
        n = 9;
    }
    kv_rdb_write(w, b, n);
}

/* The integer encodings of a value that fits 32 bits: the number of bytes put in enc. */
static size_t encode_int(long long v, unsigned char *enc) {
    if (v >= INT8_MIN && v <= INT8_MAX) {
        enc[0] = (RDB_ENCVAL << 6) | RDB_ENC_INT8;
        enc[1] = (unsigned char)v;
        return 2;
    }
    if (v >= INT16_MIN && v <= INT16_MAX) {
        enc[0] = (RDB_ENCVAL << 6) | RDB_ENC_INT16;
        enc[1] = (unsigned char)v;
        enc[2] = (unsigned char)(v >> 8);
        return 3;
    }
    if (v >= INT32_MIN && v <= INT32_MAX) {
        enc[0] = (RDB_ENCVAL << 6) | RDB_ENC_INT32;
        for (int i = 0; i < 4; i++)
            enc[1 + i] = (unsigned char)(v >> (8 * i));
        return 5;
    }
    return 0;
}

/* An LZF string: the encoding byte, the compressed and original lengths, the data. */
static void write_lzf_blob(kv_rdb_out_t *w, const void *data, size_t clen, size_t len) {
    unsigned char b = (RDB_ENCVAL << 6) | RDB_ENC_LZF;
    kv_rdb_write(w, &b, 1);
    kv_rdb_write_len(w, clen);
    kv_rdb_write_len(w, len);
    kv_rdb_write(w, data, clen);
}

/* LZF as Redis's rdbSaveLzfStringObject: only when it saves more than 4 bytes. */
static bool write_lzf(kv_rdb_out_t *w, const void *s, size_t len) {
    size_t outlen = len - 4;
    unsigned char *out = malloc(outlen + 1);
    if (out == NULL) return false; /* written uncompressed instead */
    unsigned int clen = lzf_compress(s, (unsigned int)len, out, (unsigned int)outlen);
    if (clen == 0) {
        free(out);
        return false;
    }
    write_lzf_blob(w, out, clen, len);
    free(out);
    return true;
}

void kv_rdb_write_string(kv_rdb_out_t *w, const void *s, size_t len) {
    if (len <= 11) {
        long long v;
        unsigned char enc[5];
        size_t n;
        if (kv_str2ll(s, len, &v) && (n = encode_int(v, enc)) > 0) {
            kv_rdb_write(w, enc, n);
            return;
        }
    }
    if (w->compress && len > LZF_MIN_LEN && len <= UINT32_MAX && write_lzf(w, s, len)) return;
    kv_rdb_write_len(w, len);
    kv_rdb_write(w, s, len);
}

void kv_rdb_write_ll_string(kv_rdb_out_t *w, long long v) {
    unsigned char enc[5];
    size_t n = encode_int(v, enc);
    if (n > 0) {
        kv_rdb_write(w, enc, n);
        return;
    }
    char buf[24];
    size_t len = kv_ll2str(buf, v);
    kv_rdb_write_len(w, len);
    kv_rdb_write(w, buf, len);
}

static void write_binary_double(kv_rdb_out_t *w, double d) {
    unsigned char b[8];
    uint64_t bits;
    memcpy(&bits, &d, 8);
    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)(bits >> (8 * i));
    kv_rdb_write(w, b, 8);
}

/* --- Values --- */

int kv_rdb_object_type(const kv_obj_t *o) {
    switch (o->type) {
    case KV_TYPE_STRING: return KV_RDB_TYPE_STRING;
    case KV_TYPE_LIST: return KV_RDB_TYPE_LIST_QUICKLIST_2;
    case KV_TYPE_SET:
        return o->encoding == KV_ENC_INTSET ? KV_RDB_TYPE_SET_INTSET : KV_RDB_TYPE_SET;
    case KV_TYPE_ZSET:
        return o->encoding == KV_ENC_LISTPACK ? KV_RDB_TYPE_ZSET_LISTPACK : KV_RDB_TYPE_ZSET_2;
    case KV_TYPE_HASH:
        return o->encoding == KV_ENC_HASHPACK ? KV_RDB_TYPE_HASH_LISTPACK : KV_RDB_TYPE_HASH;
    default: return -1;
    }
}

static void write_string_value(kv_rdb_out_t *w, const kv_obj_t *o) {
    long long v;
    if (o->encoding == KV_ENC_INT && kv_obj_get_ll(o, &v)) {
        kv_rdb_write_ll_string(w, v);
        return;
    }
    char ibuf[32];
    size_t len;
    const char *s = kv_obj_str(o, ibuf, &len);
    kv_rdb_write_string(w, s, len);
}

static void write_lp_blob(kv_rdb_out_t *w, const uint8_t *lp) {
    kv_rdb_write_string(w, lp, kv_lp_bytes(lp));
}

static void write_list(kv_rdb_out_t *w, const kv_obj_t *o) {
    if (o->encoding == KV_ENC_LISTPACK) {
        kv_rdb_write_len(w, 1);
        kv_rdb_write_len(w, KV_RDB_QL_PACKED);
        write_lp_blob(w, kv_obj_ptr(o));
        return;
    }
    const kv_ql_t *ql = kv_obj_ptr(o);
    kv_rdb_write_len(w, ql->nodes);
    for (const kv_ql_node_t *n = ql->head; n != NULL; n = n->next) {
        kv_rdb_write_len(w, KV_RDB_QL_PACKED);
        /* A compressed node goes out as it is held, whatever rdbcompression says, as
         * Redis's rdbSaveLzfBlob: the same LZF string encoding any reader accepts. */
        if (kv_ql_node_is_compressed(n))
            write_lzf_blob(w, n->lp, n->lzf_bytes, n->raw_bytes);
        else
            write_lp_blob(w, n->lp);
    }
}

static void write_set(kv_rdb_out_t *w, const kv_obj_t *o) {
    if (o->encoding == KV_ENC_INTSET) {
        const kv_intset_t *is = kv_obj_ptr(o);
        kv_rdb_write_string(w, is, kv_is_bytes(is));
        return;
    }
    kv_rdb_write_len(w, kv_set_len(o));
    kv_set_iter_t it;
    kv_arg_t m;
    kv_set_iter_init(&it, (kv_obj_t *)o);
    while (kv_set_iter_next(&it, &m))
        kv_rdb_write_string(w, m.ptr, m.len);
    kv_set_iter_fini(&it);
}

/* A small hash goes out as the Redis listpack of its pack, built for the write (on the
 * stack when it is small), so payloads are byte for byte redis-server's. */
static void write_hash(kv_rdb_out_t *w, const kv_obj_t *o) {
    if (o->encoding == KV_ENC_HASHPACK) {
        uint8_t small[512];
        size_t bytes = kv_hash_lp_bytes(o);
        uint8_t *lp = bytes <= sizeof(small) ? small : malloc(bytes);
        if (lp == NULL) {
            if (w->err == 0) w->err = -ENOMEM;
            return;
        }
        kv_hash_to_lp(o, lp, bytes);
        write_lp_blob(w, lp);
        if (lp != small) free(lp);
        return;
    }
    kv_rdb_write_len(w, kv_hash_len(o));
    kv_hash_iter_t it;
    kv_arg_t f, v;
    kv_hash_iter_init(&it, (kv_obj_t *)o);
    while (kv_hash_iter_next(&it, &f, &v)) {
        kv_rdb_write_string(w, f.ptr, f.len);
        kv_rdb_write_string(w, v.ptr, v.len);
    }
    kv_hash_iter_fini(&it);
}

/* A skiplist from the tail, as Redis: the loader then inserts each element at the head. */
static void write_zset(kv_rdb_out_t *w, const kv_obj_t *o) {
    if (o->encoding == KV_ENC_LISTPACK) {
        write_lp_blob(w, kv_obj_ptr(o));
        return;
    }
    const kv_zset_t *zs = kv_obj_ptr(o);
    kv_rdb_write_len(w, zs->zsl->length);
    for (const kv_zsl_node_t *n = zs->zsl->tail; n != NULL; n = kv_zsl_node_prev(n)) {
        size_t len;
        const uint8_t *m = kv_zsl_node_member(n, &len);
        kv_rdb_write_string(w, m, len);
        write_binary_double(w, n->score);
    }
}

void kv_rdb_write_object(kv_rdb_out_t *w, const kv_obj_t *o) {
    switch (o->type) {
    case KV_TYPE_STRING: write_string_value(w, o); break;
    case KV_TYPE_LIST: write_list(w, o); break;
    case KV_TYPE_SET: write_set(w, o); break;
    case KV_TYPE_ZSET: write_zset(w, o); break;
    case KV_TYPE_HASH: write_hash(w, o); break;
    default:
        if (w->err == 0) w->err = -EINVAL;
        break;
    }
}

/* --- Snapshots --- */

static void write_aux(kv_rdb_out_t *w, const char *key, const char *val) {
    kv_rdb_write_type(w, KV_RDB_OPCODE_AUX);
    kv_rdb_write_string(w, key, strlen(key));
    kv_rdb_write_string(w, val, strlen(val));
}

static void write_aux_ll(kv_rdb_out_t *w, const char *key, long long v) {
    char buf[24];
    kv_ll2str(buf, v);
    write_aux(w, key, buf);
}

static bool policy_is_lru(void) {
    int p = kv_srv.cfg.maxmemory_policy;
    return p == KV_POLICY_ALLKEYS_LRU || p == KV_POLICY_VOLATILE_LRU;
}

static bool policy_is_lfu(void) {
    int p = kv_srv.cfg.maxmemory_policy;
    return p == KV_POLICY_ALLKEYS_LFU || p == KV_POLICY_VOLATILE_LFU;
}

static void write_key(kv_rdb_out_t *w, const kv_obj_t *o) {
    int64_t exp = kv_obj_expire(o);
    if (exp >= 0) {
        unsigned char b[8];
        for (int i = 0; i < 8; i++)
            b[i] = (unsigned char)((uint64_t)exp >> (8 * i));
        kv_rdb_write_type(w, KV_RDB_OPCODE_EXPIRETIME_MS);
        kv_rdb_write(w, b, 8);
    }
    if (policy_is_lru()) {
        kv_rdb_write_type(w, KV_RDB_OPCODE_IDLE);
        kv_rdb_write_len(w, kv_obj_idle_ms(o) / 1000);
    } else if (policy_is_lfu()) {
        unsigned char f = (unsigned char)kv_obj_lfu_freq(o);
        kv_rdb_write_type(w, KV_RDB_OPCODE_FREQ);
        kv_rdb_write(w, &f, 1);
    }
    size_t klen;
    const char *key = kv_obj_key(o, &klen);
    kv_rdb_write_type(w, kv_rdb_object_type(o));
    kv_rdb_write_string(w, key, klen);
    kv_rdb_write_object(w, o);
}

static void write_db(kv_rdb_out_t *w, kv_db_t *db, uint64_t *keys) {
    kv_rdb_write_type(w, KV_RDB_OPCODE_SELECTDB);
    kv_rdb_write_len(w, (uint64_t)db->id);
    kv_rdb_write_type(w, KV_RDB_OPCODE_RESIZEDB);
    kv_rdb_write_len(w, kv_db_size(db));
    kv_rdb_write_len(w, kv_db_expires_size(db));
    kv_ht_iter_t it;
    void *e;
    kv_ht_iter_init(&it, db->keys);
    while (w->err == 0 && kv_ht_iter_next(&it, &e)) {
        write_key(w, e);
        if (kv_srv.cfg.rdb_key_save_delay > 0) usleep((useconds_t)kv_srv.cfg.rdb_key_save_delay);
        if (++*keys % PROGRESS_EVERY == 0 && w->progress) w->progress(*keys, w->progress_priv);
    }
    kv_ht_iter_fini(&it);
}

int kv_rdb_save_out(kv_rdb_out_t *w, unsigned flags, kv_rdb_save_stats_t *st) {
    char magic[16];
    snprintf(magic, sizeof(magic), "REDIS%04d", KV_RDB_VERSION);
    kv_rdb_write(w, magic, 9);
    write_aux(w, "redis-ver", KV_REDIS_VERSION);
    write_aux_ll(w, "redis-bits", 64);
    write_aux_ll(w, "ctime", (long long)time(NULL));
    write_aux_ll(w, "used-mem", (long long)kv_evict_used_memory());
    write_aux_ll(w, "aof-base", (flags & KV_RDB_SAVE_AOF_BASE) ? 1 : 0);
    uint64_t keys = 0;
    for (int i = 0; i < kv_srv.ndbs && w->err == 0; i++)
        if (kv_db_size(&kv_srv.dbs[i]) > 0) write_db(w, &kv_srv.dbs[i], &keys);
    kv_rdb_write_type(w, KV_RDB_OPCODE_EOF);
    uint64_t crc = kv_srv.cfg.rdbchecksum ? w->crc : 0;
    unsigned char b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)(crc >> (8 * i));
    kv_rdb_write(w, b, 8);
    kv_rdb_out_flush(w);
    if (st) {
        st->keys = keys;
        st->bytes = w->bytes;
    }
    return w->err;
}

static void (*progress_fn)(uint64_t keys, void *priv);
static void *progress_priv;

void kv_rdb_save_progress_hook(void (*fn)(uint64_t keys, void *priv), void *priv) {
    progress_fn = fn;
    progress_priv = priv;
}

int kv_rdb_save_fd(int fd, unsigned flags, kv_rdb_save_stats_t *st) {
    kv_rdb_out_t w;
    kv_rdb_out_init(&w, fd, kv_srv.cfg.rdbcompression);
    w.progress = progress_fn;
    w.progress_priv = progress_priv;
    int rc = kv_rdb_save_out(&w, flags, st);
    kv_rdb_out_fini(&w);
    return rc;
}

/* The directory part of path ("." when it has none) into buf. */
static void dir_of(const char *path, char *buf, size_t cap) {
    const char *slash = strrchr(path, '/');
    if (slash == NULL) {
        snprintf(buf, cap, ".");
    } else if (slash == path) {
        snprintf(buf, cap, "/");
    } else {
        size_t n = (size_t)(slash - path);
        snprintf(buf, cap, "%.*s", (int)n, path);
    }
}

static int fsync_dir(const char *dir) {
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return -errno;
    int rc = fsync(fd) == 0 ? 0 : -errno;
    close(fd);
    return rc;
}

int kv_rdb_save_file(const char *path, kv_rdb_save_stats_t *st, char *err, size_t errlen) {
    char dir[4096], tmp[4200];
    dir_of(path, dir, sizeof(dir));
    snprintf(tmp, sizeof(tmp), "%s/temp-%d.rdb", dir, (int)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        int e = errno;
        char cwd[4096];
        if (getcwd(cwd, sizeof(cwd)) == NULL) snprintf(cwd, sizeof(cwd), "unknown");
        snprintf(err, errlen,
                 "Failed opening the temp RDB file %s (in server root dir %s) for saving: %s", tmp,
                 cwd, strerror(e));
        return -e;
    }
    int rc = kv_rdb_save_fd(fd, 0, st);
    if (rc == 0 && fsync(fd) != 0) rc = -errno;
    if (close(fd) != 0 && rc == 0) rc = -errno;
    if (rc != 0) {
        snprintf(err, errlen, "Write error saving DB on disk: %s", strerror(-rc));
        unlink(tmp);
        return rc;
    }
    if (rename(tmp, path) != 0) {
        rc = -errno;
        snprintf(err, errlen,
                 "Error moving temp DB file %s on the final destination %s (in server root "
                 "dir %s): %s",
                 tmp, path, dir, strerror(-rc));
        unlink(tmp);
        return rc;
    }
    rc = fsync_dir(dir);
    if (rc != 0) {
        snprintf(err, errlen, "Failed to fsync directory %s: %s", dir, strerror(-rc));
        return rc;
    }
    return 0;
}

/* --- DUMP --- */

int kv_rdb_dump_payload(const kv_obj_t *o, unsigned char **out, size_t *len) {
    kv_rdb_out_t w;
    kv_rdb_out_init(&w, -1, kv_srv.cfg.rdbcompression);
    kv_rdb_write_type(&w, kv_rdb_object_type(o));
    kv_rdb_write_object(&w, o);
    unsigned char footer[10];
    footer[0] = KV_RDB_VERSION & 0xff;
    footer[1] = (KV_RDB_VERSION >> 8) & 0xff;
    kv_rdb_write(&w, footer, 2);
    uint64_t crc = w.crc;
    for (int i = 0; i < 8; i++)
        footer[2 + i] = (unsigned char)(crc >> (8 * i));
    kv_rdb_write(&w, footer + 2, 8);
    if (w.err != 0) {
        int rc = w.err;
        kv_rdb_out_fini(&w);
        return rc;
    }
    *out = w.buf;
    *len = w.len;
    return 0;
}

size_t kv_rdb_serialized_len(const kv_obj_t *o) {
    kv_rdb_out_t w;
    kv_rdb_out_init(&w, -1, kv_srv.cfg.rdbcompression);
    kv_rdb_write_object(&w, o);
    size_t n = (size_t)w.bytes;
    kv_rdb_out_fini(&w);
    return n;
}
