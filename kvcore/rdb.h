/* SPDX-License-Identifier: MIT */
/*
 * rdb.h - RDB snapshots in Redis 7.0's format (RDB version 10), both directions (internal
 * to kvcore/; include it only from kvcore's files).
 *
 * rdb.c writes (the value serializer, whole snapshots to a descriptor or a file, DUMP
 * payloads), rdb_load.c reads (snapshots, RESTORE payloads; every blob is validated, a
 * value kvcore cannot hold is refused by name), crc64.c is Redis's checksum, persist.c
 * the commands, background saves and save points. The format and what kvcore writes for
 * each encoding are described in docs/kvcore.md#persistence.
 *
 * Errors: 0 or -errno (-EIO and the write's errno when writing; -EPROTO for a malformed
 * input, with a message naming what was wrong; -ENOTSUP for a type kvcore has no
 * structure for; -ENOMEM).
 */
#ifndef KV_RDB_H
#define KV_RDB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kv_internal.h"

#define KV_RDB_VERSION 10

/* Value types (the byte before a key). */
enum {
    KV_RDB_TYPE_STRING = 0,
    KV_RDB_TYPE_LIST = 1,
    KV_RDB_TYPE_SET = 2,
    KV_RDB_TYPE_ZSET = 3,
    KV_RDB_TYPE_HASH = 4,
    KV_RDB_TYPE_ZSET_2 = 5,
    KV_RDB_TYPE_MODULE = 6,
    KV_RDB_TYPE_MODULE_2 = 7,
    KV_RDB_TYPE_HASH_ZIPMAP = 9,
    KV_RDB_TYPE_LIST_ZIPLIST = 10,
    KV_RDB_TYPE_SET_INTSET = 11,
    KV_RDB_TYPE_ZSET_ZIPLIST = 12,
    KV_RDB_TYPE_HASH_ZIPLIST = 13,
    KV_RDB_TYPE_LIST_QUICKLIST = 14,
    KV_RDB_TYPE_STREAM_LISTPACKS = 15,
    KV_RDB_TYPE_HASH_LISTPACK = 16,
    KV_RDB_TYPE_ZSET_LISTPACK = 17,
    KV_RDB_TYPE_LIST_QUICKLIST_2 = 18,
    KV_RDB_TYPE_STREAM_LISTPACKS_2 = 19,
    KV_RDB_TYPE_SET_LISTPACK = 20,
    KV_RDB_TYPE_STREAM_LISTPACKS_3 = 21,
};

/* Opcodes in the key stream. */
enum {
    KV_RDB_OPCODE_FUNCTION2 = 245,
    KV_RDB_OPCODE_FUNCTION = 246,
    KV_RDB_OPCODE_MODULE_AUX = 247,
    KV_RDB_OPCODE_IDLE = 248,
    KV_RDB_OPCODE_FREQ = 249,
    KV_RDB_OPCODE_AUX = 250,
    KV_RDB_OPCODE_RESIZEDB = 251,
    KV_RDB_OPCODE_EXPIRETIME_MS = 252,
    KV_RDB_OPCODE_EXPIRETIME = 253,
    KV_RDB_OPCODE_SELECTDB = 254,
    KV_RDB_OPCODE_EOF = 255,
};

/* Quicklist 2 node containers. */
enum { KV_RDB_QL_PLAIN = 1, KV_RDB_QL_PACKED = 2 };

/* Redis's CRC-64 (Jones polynomial, reflected, no final xor): crc64(0, "123456789", 9) is
 * 0xe9c6d914c4b8d9ca. Continue a running checksum by passing the previous value. */
uint64_t kv_crc64(uint64_t crc, const void *p, size_t len);

/* --- Writing (rdb.c) --- */

/*
 * A buffered output: to a descriptor (fd >= 0, flushed every 64 KiB) or into a growing
 * memory block (fd -1: buf/len hold the bytes; the caller frees buf). Keeps a running
 * CRC-64 of every byte and a sticky error: once err is set nothing more is written.
 */
typedef struct kv_rdb_out {
    int fd;
    unsigned char *buf;
    size_t len, cap;
    uint64_t crc;
    uint64_t bytes; /* written in total */
    int err;        /* 0 or -errno */
    bool compress;  /* rdbcompression: LZF for strings over 20 bytes */
    /* Called every 1024 keys by kv_rdb_save_fd (the fork child reports progress). */
    void (*progress)(uint64_t keys, void *priv);
    void *progress_priv;
} kv_rdb_out_t;

/* Starts an output to fd, or to memory with fd -1. */
void kv_rdb_out_init(kv_rdb_out_t *w, int fd, bool compress);
/* Writes what is buffered to the descriptor. 0 or the sticky error. */
int kv_rdb_out_flush(kv_rdb_out_t *w);
/* Frees the buffer (after a memory output's bytes were taken, set buf to NULL first). */
void kv_rdb_out_fini(kv_rdb_out_t *w);
void kv_rdb_write(kv_rdb_out_t *w, const void *p, size_t len);
void kv_rdb_write_type(kv_rdb_out_t *w, int type);
void kv_rdb_write_len(kv_rdb_out_t *w, uint64_t len);
/* A string as Redis writes it: integer-encoded when it is a short canonical int32, LZF
 * compressed when compress is on, it is over 20 bytes and it shrinks, else plain. */
void kv_rdb_write_string(kv_rdb_out_t *w, const void *s, size_t len);
void kv_rdb_write_ll_string(kv_rdb_out_t *w, long long v);

/* The RDB type byte kvcore writes for o's type and encoding. */
int kv_rdb_object_type(const kv_obj_t *o);
/* o's value (without type byte, key or expire). Errors are w's sticky error. */
void kv_rdb_write_object(kv_rdb_out_t *w, const kv_obj_t *o);

/* kv_rdb_save_fd flags. */
enum { KV_RDB_SAVE_AOF_BASE = 1u << 0 };

/* What a save wrote. */
typedef struct kv_rdb_save_stats {
    uint64_t keys;
    uint64_t bytes;
} kv_rdb_save_stats_t;

/*
 * Writes a whole snapshot of every database to fd at its current offset: "REDIS0010", the
 * AUX fields (redis-ver, redis-bits, ctime, used-mem, aof-base: 1 with
 * KV_RDB_SAVE_AOF_BASE, the AOF's RDB preamble), then per non-empty db SELECTDB, RESIZEDB
 * and its keys (EXPIRETIME_MS, IDLE or FREQ as the maxmemory policy tracks), EOF and the
 * CRC-64 (zero with rdbchecksum no). Compression and checksum follow rdbcompression and
 * rdbchecksum. Does not fsync or close fd. st (may be NULL) gets the counts. pre: nothing
 * changes the dataset meanwhile (a fork child, or the event-loop thread). 0 or -errno.
 */
int kv_rdb_save_fd(int fd, unsigned flags, kv_rdb_save_stats_t *st);
/* A hook kv_rdb_save_fd and kv_rdb_save_file call every 1024 keys (the fork child's
 * progress and copy-on-write reports); NULL removes it. */
void kv_rdb_save_progress_hook(void (*fn)(uint64_t keys, void *priv), void *priv);
/* Same into a memory output already initialised by the caller (tests, DEBUG RELOAD). */
int kv_rdb_save_out(kv_rdb_out_t *w, unsigned flags, kv_rdb_save_stats_t *st);
/*
 * Writes a snapshot to path safely: into "temp-<pid>.rdb" in path's directory, fsync,
 * rename over path, fsync the directory. On failure the temp file is removed, path is
 * left as it was and err gets Redis's wording. 0 or -errno.
 */
int kv_rdb_save_file(const char *path, kv_rdb_save_stats_t *st, char *err, size_t errlen);

/*
 * DUMP's payload for o: type byte, value, RDB version (2 bytes LE) and CRC-64 (8 bytes
 * LE) of everything before it. *out is malloc'd (the caller frees it). 0 or -ENOMEM.
 */
int kv_rdb_dump_payload(const kv_obj_t *o, unsigned char **out, size_t *len);
/* Bytes o's value takes serialized (DEBUG OBJECT's serializedlength). */
size_t kv_rdb_serialized_len(const kv_obj_t *o);

/* --- Reading (rdb_load.c) --- */

/*
 * A buffered input: from memory (fd -1, p/len) or a descriptor. Sticky error with a
 * message (errmsg); pos counts the bytes consumed. With checksum the running CRC-64 of
 * consumed bytes is kept in crc.
 */
typedef struct kv_rdb_in {
    int fd;
    const unsigned char *p; /* memory input, or the descriptor's buffer */
    size_t len, off;        /* valid bytes and the read position in p */
    unsigned char *fbuf;    /* the descriptor's buffer */
    uint64_t pos;           /* bytes consumed in total */
    uint64_t limit;         /* bytes the whole input holds (UINT64_MAX: unknown) */
    uint64_t crc;
    int err;
    char errmsg[256];
} kv_rdb_in_t;

/* A memory input over p[0..len). */
void kv_rdb_in_init_mem(kv_rdb_in_t *r, const void *p, size_t len);
/* A descriptor input; the caller closes fd. 0 or -ENOMEM. */
int kv_rdb_in_init_fd(kv_rdb_in_t *r, int fd);
void kv_rdb_in_fini(kv_rdb_in_t *r);

/*
 * Reads one value of RDB type `type` into a new object under key, with expire_ms (-1:
 * none), checking every length, listpack and intset, refusing duplicates, NaN scores and
 * empty aggregates (-ENODATA). The object is owned by the caller. NULL on failure with
 * r->err and r->errmsg set (-ENOTSUP names a type kvcore cannot hold).
 */
kv_obj_t *kv_rdb_read_object(kv_rdb_in_t *r, int type, const char *key, size_t klen,
                             int64_t expire_ms);

/* True when payload[0..len) has a DUMP footer with version <= 10 and a matching CRC-64. */
bool kv_rdb_payload_verify(const void *payload, size_t len);
/*
 * The object a DUMP payload holds, under key with expire_ms (-1: none). pre:
 * kv_rdb_payload_verify passed. NULL for a malformed value (nothing is left allocated).
 */
kv_obj_t *kv_rdb_payload_load(const void *payload, size_t len, const char *key, size_t klen,
                              int64_t expire_ms);

/* Redis's objectSetLRUOrLFU: the LFU counter (lfu_freq >= 0) under an LFU policy, else
 * the idle time in seconds (lru_idle_s >= 0); -1 leaves o as it is. */
void kv_rdb_object_set_lru_lfu(kv_obj_t *o, long long lfu_freq, long long lru_idle_s);

/* How a snapshot load went. */
typedef struct kv_rdb_load_stats {
    uint64_t keys_loaded;
    uint64_t keys_expired; /* already expired, skipped */
    uint64_t empty_skipped;
    uint64_t bytes;
    int version;
    /* In (kv_rdb_load_fd): the input's size, for the progress line (KV_RDB_LOAD_PROGRESS). */
    uint64_t total_bytes;
} kv_rdb_load_stats_t;

/* kv_rdb_load_fd flags. */
enum {
    KV_RDB_LOAD_AOF_PREAMBLE = 1u << 0, /* keep expired keys, as Redis does */
    KV_RDB_LOAD_PROGRESS = 1u << 1,     /* log lines at each tenth of a big file: keys, % read */
};

/*
 * Loads a snapshot from fd at its current offset into the (empty) databases, up to and
 * including the checksum. On success st->bytes tells how many bytes were consumed (the
 * AOF loader continues after them). On failure err names the key and the problem and
 * the databases hold what was loaded so far (the caller exits or flushes). 0 or -errno.
 */
int kv_rdb_load_fd(int fd, unsigned flags, kv_rdb_load_stats_t *st, char *err, size_t errlen);
/* kv_rdb_load_fd over a memory block (DEBUG RELOAD, tests). */
int kv_rdb_load_mem(const void *p, size_t len, unsigned flags, kv_rdb_load_stats_t *st, char *err,
                    size_t errlen);

/* --- Persistence (persist.c) --- */

/* Registers the cron hook and loads dir/dbfilename when it exists (logging progress).
 * 0, or -errno after logging why the server must not start. */
int kv_persist_init(kv_server_t *srv);
/* The child of a background save, if one runs (0: none). */
pid_t kv_persist_child_pid(void);
/* True (with MISCONF replied) when c's write command must be refused because the last
 * background save failed and stop-writes-on-bgsave-error is on. */
bool kv_persist_deny_write(kv_client_t *c, const kv_cmd_t *cmd);
/* INFO's Persistence lines about RDB (from "loading" to "rdb_last_load_keys_loaded"),
 * appended to buf (NUL-terminated, truncated to cap). Returns the length written. */
size_t kv_persist_info(char *buf, size_t cap);
/* At shutdown: saves when asked (save true), or when save points exist and nosave is
 * false. Kills a running child. 0, or -errno when the save failed (shutdown refused). */
int kv_persist_shutdown(bool save, bool nosave);
/* FLUSHALL: kills a running child and saves the empty dataset when save points exist. */
void kv_persist_flushall(void);
/* DEBUG RELOAD: save, flush, load. 0 or -errno with err set. */
int kv_persist_debug_reload(char *err, size_t errlen);
/* The copy-on-write bytes of the last background save (rdb_last_cow_size, MEMORY DOCTOR). */
uint64_t kv_persist_last_cow_bytes(void);

void kv_cmd_save(kv_client_t *c);
void kv_cmd_bgsave(kv_client_t *c);
void kv_cmd_lastsave(kv_client_t *c);
void kv_cmd_dump(kv_client_t *c);
void kv_cmd_restore(kv_client_t *c);

#endif /* KV_RDB_H */
