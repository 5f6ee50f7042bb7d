/* SPDX-License-Identifier: MIT */
/*
 * aof.h - the append-only file's private declarations, shared by aof.c (the writer, the
 * manifest, rewrites), aof_load.c (parsing and replay) and aof_rewrite.c (the dataset as
 * commands). The interface the rest of kvcore uses is in kv_internal.h.
 *
 * The manifest is Redis 7.0's: one line per file, "file <name> seq <n> type <b|h|i>"
 * (base, history, incremental), names quoted when they hold spaces or quotes. The base
 * comes first, then the incremental files in sequence order.
 */
#ifndef KV_AOF_H
#define KV_AOF_H

#include <stdbool.h>
#include <stddef.h>

typedef struct kv_aof_file {
    char *name;
    long long seq;
    char type; /* 'b' base, 'h' history, 'i' incremental */
} kv_aof_file_t;

typedef struct kv_aof_manifest {
    kv_aof_file_t *files; /* base first, then incremental files by seq, then history */
    size_t nfiles, cap;
    long long base_seq; /* the highest seq a base had (0: none yet) */
    long long incr_seq; /* the highest seq an incremental file had */
} kv_aof_manifest_t;

/*
 * Parses manifest text. 0, -EPROTO (*err says why: a line without file/seq/type, two
 * bases, a seq that is not a positive number, an unknown type) or -ENOMEM. m is
 * initialised by the call and owned by the caller (kv_aof_manifest_fini) either way.
 */
int kv_aof_manifest_parse(kv_aof_manifest_t *m, const char *text, size_t len, const char **err);
/* The manifest as text (malloc'd, NUL-terminated); NULL on out-of-memory. */
char *kv_aof_manifest_format(const kv_aof_manifest_t *m, size_t *len);
/* Appends a file entry (name copied). 0 or -ENOMEM. */
int kv_aof_manifest_add(kv_aof_manifest_t *m, const char *name, long long seq, char type);
/* The base entry, or NULL. */
const kv_aof_file_t *kv_aof_manifest_base(const kv_aof_manifest_t *m);
void kv_aof_manifest_fini(kv_aof_manifest_t *m);

/*
 * Writes every db's keys as commands to fd, then fsyncs it (aof_rewrite.c). *bytes gets
 * what was written. 0 or -errno.
 */
int kv_aof_write_dataset(int fd, bool incremental_fsync, unsigned long long *bytes);
/* A base file's contents: an RDB snapshot (rdb true, aof-use-rdb-preamble) or commands;
 * fsynced. 0 or -errno. */
int kv_aof_write_base(int fd, bool rdb, unsigned long long *bytes);

#endif /* KV_AOF_H */
