/* SPDX-License-Identifier: MIT */
/*
 * aof_rewrite.c - the dataset as the shortest list of commands that rebuilds it: the
 * base file a rewrite writes (in the forked child, or at start-up when there is none).
 *
 * Per non-empty db a SELECT, then per key one command per 64 elements (RPUSH, SADD,
 * ZADD, HMSET; SET for strings) and a PEXPIREAT for a key with a TTL; keys whose time has
 * passed are left out, as Redis's rewrite does. Output goes through a 64 KB buffer;
 * with aof-rewrite-incremental-fsync the file is fsynced every 4 MB so the final fsync
 * does not stall on a large dirty page cache. With aof-use-rdb-preamble yes the base is
 * an RDB snapshot instead (rdb.c, flagged aof-base), as Redis 7.0 writes it.
 * Design: docs/kvcore.md#append-only-file.
 */
#include "kv_internal.h"
#include "aof.h"
#include "rdb.h"
#include "t_hash.h"
#include "t_list.h"
#include "t_set.h"
#include "t_zset.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#define ITEMS_PER_CMD  64
#define WBUF_BYTES     65536
#define FSYNC_INTERVAL (4u << 20)

typedef struct writer {
    int fd;
    int err;
    bool incremental_fsync;
    size_t len;
    size_t since_fsync;
    unsigned long long written;
    char buf[WBUF_BYTES];
} writer_t;

static void w_flush(writer_t *w) {
    size_t off = 0;
    while (w->err == 0 && off < w->len) {
        ssize_t n = write(w->fd, w->buf + off, w->len - off);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            w->err = n < 0 ? errno : ENOSPC;
            break;
        }
        off += (size_t)n;
    }
    w->written += off;
    w->since_fsync += off;
    w->len = 0;
    if (w->err == 0 && w->incremental_fsync && w->since_fsync >= FSYNC_INTERVAL) {
        if (fdatasync(w->fd) != 0) w->err = errno;
        w->since_fsync = 0;
    }
}

static void w_put(writer_t *w, const void *p, size_t len) {
    const char *s = p;
    while (len > 0 && w->err == 0) {
        size_t room = WBUF_BYTES - w->len;
        size_t n = len < room ? len : room;
        memcpy(w->buf + w->len, s, n);
        w->len += n;
        s += n;
        len -= n;
        if (w->len == WBUF_BYTES) w_flush(w);
    }
}

static void w_header(writer_t *w, char kind, long long n) {
    char line[32];
    line[0] = kind;
    size_t l = 1 + kv_ll2str(line + 1, n);
    line[l++] = '\r';
    line[l++] = '\n';
    w_put(w, line, l);
}

static void w_bulk(writer_t *w, const void *p, size_t len) {
    w_header(w, '$', (long long)len);
    w_put(w, p, len);
    w_put(w, "\r\n", 2);
}

static void w_bulk_ll(writer_t *w, long long v) {
    char num[24];
    w_bulk(w, num, kv_ll2str(num, v));
}

/* The start of a command that adds n elements: "*<2 + n * per>" CMD key. */
static void w_cmd_start(writer_t *w, const char *cmd, const char *key, size_t klen, size_t n,
                        int per) {
    w_header(w, '*', 2 + (long long)n * per);
    w_bulk(w, cmd, strlen(cmd));
    w_bulk(w, key, klen);
}

static void write_list(writer_t *w, kv_obj_t *o, const char *key, size_t klen) {
    size_t left = kv_list_len(o), batch = 0;
    kv_list_iter_t it;
    kv_list_entry_t e;
    if (kv_list_iter_init(&it, o, 0, true) != 0) return;
    while (kv_list_iter_next(&it, &e)) {
        if (batch == 0) {
            batch = left < ITEMS_PER_CMD ? left : ITEMS_PER_CMD;
            w_cmd_start(w, "RPUSH", key, klen, batch, 1);
            left -= batch;
        }
        if (e.val.str != NULL)
            w_bulk(w, e.val.str, e.val.len);
        else
            w_bulk_ll(w, e.val.ival);
        batch--;
    }
}

static void write_set(writer_t *w, kv_obj_t *o, const char *key, size_t klen) {
    size_t left = kv_set_len(o), batch = 0;
    kv_set_iter_t it;
    kv_arg_t m;
    kv_set_iter_init(&it, o);
    while (kv_set_iter_next(&it, &m)) {
        if (batch == 0) {
            batch = left < ITEMS_PER_CMD ? left : ITEMS_PER_CMD;
            w_cmd_start(w, "SADD", key, klen, batch, 1);
            left -= batch;
        }
        w_bulk(w, m.ptr, m.len);
        batch--;
    }
    kv_set_iter_fini(&it);
}

static void write_zset(writer_t *w, kv_obj_t *o, const char *key, size_t klen) {
    size_t left = kv_zset_len(o), batch = 0;
    kv_zset_iter_t it;
    kv_zset_elem_t e;
    kv_zset_iter_rank(&it, o, 0, false);
    while (kv_zset_iter_next(&it, &e)) {
        if (batch == 0) {
            batch = left < ITEMS_PER_CMD ? left : ITEMS_PER_CMD;
            w_cmd_start(w, "ZADD", key, klen, batch, 2);
            left -= batch;
        }
        char score[32];
        w_bulk(w, score, kv_zset_score_str(e.score, score));
        w_bulk(w, e.member, e.len);
        batch--;
    }
}

static void write_hash(writer_t *w, kv_obj_t *o, const char *key, size_t klen) {
    size_t left = kv_hash_len(o), batch = 0;
    kv_hash_iter_t it;
    kv_arg_t f, v;
    kv_hash_iter_init(&it, o);
    while (kv_hash_iter_next(&it, &f, &v)) {
        if (batch == 0) {
            batch = left < ITEMS_PER_CMD ? left : ITEMS_PER_CMD;
            w_cmd_start(w, "HMSET", key, klen, batch, 2);
            left -= batch;
        }
        w_bulk(w, f.ptr, f.len);
        w_bulk(w, v.ptr, v.len);
        batch--;
    }
    kv_hash_iter_fini(&it);
}

static void write_key(writer_t *w, kv_obj_t *o) {
    size_t klen;
    const char *key = kv_obj_key(o, &klen);
    switch (o->type) {
    case KV_TYPE_STRING: {
        char ibuf[32];
        size_t vlen;
        const char *v = kv_obj_str(o, ibuf, &vlen);
        w_cmd_start(w, "SET", key, klen, 1, 1);
        w_bulk(w, v, vlen);
        break;
    }
    case KV_TYPE_LIST: write_list(w, o, key, klen); break;
    case KV_TYPE_SET: write_set(w, o, key, klen); break;
    case KV_TYPE_ZSET: write_zset(w, o, key, klen); break;
    case KV_TYPE_HASH: write_hash(w, o, key, klen); break;
    default: w->err = EINVAL; return;
    }
    int64_t when = kv_obj_expire(o);
    if (when >= 0) {
        w_cmd_start(w, "PEXPIREAT", key, klen, 1, 1);
        w_bulk_ll(w, when);
    }
}

int kv_aof_write_dataset(int fd, bool incremental_fsync, unsigned long long *bytes) {
    static writer_t w; /* 64 KB: not on the stack of a forked child */
    memset(&w, 0, offsetof(writer_t, buf));
    w.fd = fd;
    w.incremental_fsync = incremental_fsync;
    int64_t now = kv_mstime();
    for (int i = 0; i < kv_srv.ndbs && w.err == 0; i++) {
        kv_db_t *db = &kv_srv.dbs[i];
        if (kv_db_size(db) == 0) continue;
        w_header(&w, '*', 2);
        w_bulk(&w, "SELECT", 6);
        w_bulk_ll(&w, i);
        kv_ht_iter_t it;
        void *entry;
        kv_ht_iter_init(&it, db->keys);
        while (w.err == 0 && kv_ht_iter_next(&it, &entry)) {
            kv_obj_t *o = entry;
            int64_t when = kv_obj_expire(o);
            if (when >= 0 && when < now) continue;
            write_key(&w, o);
        }
        kv_ht_iter_fini(&it);
    }
    w_flush(&w);
    if (w.err == 0 && fsync(fd) != 0) w.err = errno;
    if (bytes) *bytes = w.written;
    return -w.err;
}

int kv_aof_write_base(int fd, bool rdb, unsigned long long *bytes) {
    if (!rdb) return kv_aof_write_dataset(fd, kv_srv.cfg.aof_rewrite_incremental_fsync, bytes);
    kv_rdb_save_stats_t st = {0, 0};
    int rc = kv_rdb_save_fd(fd, KV_RDB_SAVE_AOF_BASE, &st);
    if (rc == 0 && fsync(fd) != 0) rc = -errno;
    if (bytes) *bytes = st.bytes;
    return rc;
}
