/* SPDX-License-Identifier: MIT */
/*
 * cmd_memory.c - MEMORY USAGE STATS DOCTOR MALLOC-STATS PURGE HELP, and heap profiling
 * over the protocol: MEMORY HEAP ENABLE|DISABLE|STATUS|DUMP [dir]|PEAK and the Kvrocks
 * spelling KPROFILE MEMORY ENABLE|DISABLE|STATUS|DUMP <dir>.
 *
 * Heap profiling drives libmemshim's profile control (memshim_prof_*, memshim.h). A network
 * client must not be able to write files where it likes: dumps go only to the
 * start-up-only `heap-dump-dir` or an existing directory inside it. A relative DIR is
 * taken inside heap-dump-dir; any ".." component is refused; the resolved path (symlinks
 * followed) must still be inside heap-dump-dir. DUMP replies with the path of the file
 * it wrote, or an error saying why none was written - never OK on failure.
 */
#include "kv_internal.h"
#include "rdb.h"

#include <errno.h>
#include <jemalloc/jemalloc.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "memshim.h"

/* --- MEMORY USAGE / STATS / DOCTOR / MALLOC-STATS / PURGE --- */

void kv_cmd_memory_usage(kv_client_t *c) {
    for (int j = 3; j < c->argc; j++) {
        long long samples;
        if (kv_arg_is(&c->argv[j], "samples") && j + 1 < c->argc) {
            if (kv_arg_ll_or_reply(c, &c->argv[j + 1], &samples, NULL) != 0) return;
            if (samples < 0) {
                kv_reply_syntax_err(c);
                return;
            }
            j++;
        } else {
            kv_reply_syntax_err(c);
            return;
        }
    }
    kv_obj_t *o = kv_ht_find(c->db->keys, c->argv[2].ptr, c->argv[2].len);
    if (o == NULL) {
        kv_reply_null(c);
        return;
    }
    kv_reply_int(c, (long long)kv_obj_mem_bytes(o));
}

static size_t total_keys(void) {
    size_t n = 0;
    for (int i = 0; i < kv_srv.ndbs; i++)
        n += kv_db_size(&kv_srv.dbs[i]);
    return n;
}

static size_t clients_bytes(void) {
    size_t n = 0;
    for (kv_client_t *cl = kv_srv.clients; cl; cl = cl->next)
        n += sizeof(*cl) + cl->bufsize + cl->qcap + cl->reply_bytes;
    return n;
}

/* One top-level MEMORY STATS field name, counted. */
static void stat_key(kv_client_t *c, long *n, const char *name) {
    kv_reply_bulk_cstr(c, name);
    (*n)++;
}

void kv_cmd_memory_stats(kv_client_t *c) {
    kv_server_update_mem_stats();
    const kv_mem_stats_t *m = &kv_srv.mem;
    size_t used = m->allocated, startup = kv_srv.startup_allocated;
    size_t cbytes = clients_bytes(), dbover = 0, ndb = 0, rehashing = 0;
    for (int i = 0; i < kv_srv.ndbs; i++) {
        const kv_db_t *db = &kv_srv.dbs[i];
        dbover += kv_db_overhead_bytes(db, false) + kv_db_overhead_bytes(db, true);
        if (kv_db_size(db) || kv_db_expires_size(db)) ndb++;
        if (kv_ht_is_rehashing(db->keys)) rehashing++;
    }
    size_t overhead = startup + cbytes + dbover;
    if (overhead > used) overhead = used;
    size_t keys = total_keys();
    size_t net = used > startup ? used - startup : 0;
    size_t dataset = used - overhead;
    /* The length is counted, not announced up front: one field more or less can never
     * put the reply out of step with its header. */
    void *lenp = kv_reply_deferred(c);
    long n = 0;
    stat_key(c, &n, "peak.allocated");
    kv_reply_int(c, (long long)(m->peak > used ? m->peak : used));
    stat_key(c, &n, "total.allocated");
    kv_reply_int(c, (long long)used);
    stat_key(c, &n, "startup.allocated");
    kv_reply_int(c, (long long)startup);
    stat_key(c, &n, "replication.backlog");
    kv_reply_int(c, 0);
    stat_key(c, &n, "clients.slaves");
    kv_reply_int(c, 0);
    stat_key(c, &n, "clients.normal");
    kv_reply_int(c, (long long)cbytes);
    stat_key(c, &n, "cluster.links");
    kv_reply_int(c, 0);
    stat_key(c, &n, "aof.buffer");
    kv_reply_int(c, 0);
    stat_key(c, &n, "lua.caches");
    kv_reply_int(c, 0);
    stat_key(c, &n, "functions.caches");
    kv_reply_int(c, 0);
    for (int i = 0; i < kv_srv.ndbs; i++) {
        const kv_db_t *db = &kv_srv.dbs[i];
        if (!kv_db_size(db) && !kv_db_expires_size(db)) continue;
        char name[32];
        snprintf(name, sizeof(name), "db.%d", i);
        stat_key(c, &n, name);
        kv_reply_map_len(c, 2);
        kv_reply_bulk_cstr(c, "overhead.hashtable.main");
        kv_reply_int(c, (long long)kv_db_overhead_bytes(db, false));
        kv_reply_bulk_cstr(c, "overhead.hashtable.expires");
        kv_reply_int(c, (long long)kv_db_overhead_bytes(db, true));
    }
    stat_key(c, &n, "overhead.total");
    kv_reply_int(c, (long long)overhead);
    stat_key(c, &n, "db.dict.rehashing.count");
    kv_reply_int(c, (long long)rehashing);
    stat_key(c, &n, "keys.count");
    kv_reply_int(c, (long long)keys);
    stat_key(c, &n, "keys.bytes-per-key");
    kv_reply_int(c, keys ? (long long)(net / keys) : 0);
    stat_key(c, &n, "dataset.bytes");
    kv_reply_int(c, (long long)dataset);
    stat_key(c, &n, "dataset.percentage");
    kv_reply_double(c, net ? 100.0 * (double)dataset / (double)net : 0);
    stat_key(c, &n, "peak.percentage");
    kv_reply_double(c, m->peak ? 100.0 * (double)used / (double)m->peak : 100.0);
    stat_key(c, &n, "allocator.allocated");
    kv_reply_int(c, (long long)m->allocated);
    stat_key(c, &n, "allocator.active");
    kv_reply_int(c, (long long)m->active);
    stat_key(c, &n, "allocator.resident");
    kv_reply_int(c, (long long)m->resident);
    stat_key(c, &n, "allocator-fragmentation.ratio");
    kv_reply_double(c, used ? 1.0 + (double)m->frag_smallbins / (double)used : 1.0);
    stat_key(c, &n, "allocator-fragmentation.bytes");
    kv_reply_int(c, (long long)m->frag_smallbins);
    stat_key(c, &n, "allocator-rss.ratio");
    kv_reply_double(c, m->active ? (double)m->resident / (double)m->active : 1.0);
    stat_key(c, &n, "allocator-rss.bytes");
    kv_reply_int(c, (long long)m->resident - (long long)m->active);
    stat_key(c, &n, "rss-overhead.ratio");
    kv_reply_double(c, m->resident ? (double)m->rss / (double)m->resident : 1.0);
    stat_key(c, &n, "rss-overhead.bytes");
    kv_reply_int(c, (long long)m->rss - (long long)m->resident);
    stat_key(c, &n, "fragmentation");
    kv_reply_double(c, used ? (double)m->rss / (double)used : 1.0);
    stat_key(c, &n, "fragmentation.bytes");
    kv_reply_int(c, (long long)m->rss - (long long)used);
    kv_reply_set_deferred_map(c, lenp, n);
}

void kv_cmd_memory_doctor(kv_client_t *c) {
    kv_server_update_mem_stats();
    const kv_mem_stats_t *m = &kv_srv.mem;
    if (m->allocated < 5 * 1024 * 1024) {
        static const char empty[] =
            "Hi Sam, this instance is empty or is using very little memory, my issues detector "
            "can't be used in these conditions. Please, leave for your mission on Earth and fill "
            "it with some data. The new Sam and I will be back to our programming as soon as I "
            "finished rebooting.\n";
        kv_reply_verbatim(c, empty, sizeof(empty) - 1);
        return;
    }
    const size_t mb10 = 10u << 20;
    double used = (double)m->allocated;
    bool big_peak = (double)m->peak / used > 1.5;
    bool high_frag = (double)m->rss / used > 1.4 && m->rss - m->allocated > mb10;
    bool high_alloc_frag = 1.0 + (double)m->frag_smallbins / used > 1.1 && m->frag_smallbins > mb10;
    bool high_alloc_rss = m->active && (double)m->resident / (double)m->active > 1.1 &&
                          m->resident - m->active > mb10;
    bool high_proc_rss = m->resident && (double)m->rss / (double)m->resident > 1.1 &&
                         m->rss > m->resident && m->rss - m->resident > mb10;
    uint64_t cow = kv_persist_last_cow_bytes();
    bool high_cow = cow > mb10 && (double)cow > used / 10; /* fork copy-on-write (persist.c) */
    char out[4096];
    size_t n;
    if (!big_peak && !high_frag && !high_alloc_frag && !high_alloc_rss && !high_proc_rss &&
        !high_cow) {
        n = (size_t)snprintf(out, sizeof(out),
                             "Hi Sam, I can't find any memory issue in your instance. I can only "
                             "account for what occurs on this base.\n");
        kv_reply_verbatim(c, out, n);
        return;
    }
    n = (size_t)snprintf(
        out, sizeof(out),
        "Sam, I detected a few issues in this Redis instance memory implants:\n\n");
    if (big_peak)
        n += (size_t)snprintf(out + n, sizeof(out) - n,
                              " * Peak memory: In the past this instance used more than 150%% the "
                              "memory that is currently using. If the memory peak was only "
                              "occasional and you want to try to reclaim memory, please try the "
                              "MEMORY PURGE command.\n\n");
    if (high_frag)
        n += (size_t)snprintf(out + n, sizeof(out) - n,
                              " * High total RSS: This instance has a memory fragmentation and RSS "
                              "overhead greater than 1.4. Note: The currently used allocator is "
                              "\"jemalloc-5.3.0\".\n\n");
    if (high_alloc_frag)
        n += (size_t)snprintf(out + n, sizeof(out) - n,
                              " * High allocator fragmentation: This instance has an allocator "
                              "external fragmentation greater than 1.1. You can try enabling "
                              "'activedefrag' config option.\n\n");
    if (high_alloc_rss)
        n += (size_t)snprintf(out + n, sizeof(out) - n,
                              " * High allocator RSS overhead: This instance has an RSS memory "
                              "overhead is greater than 1.1, you can try the MEMORY PURGE command "
                              "to reclaim it.\n\n");
    if (high_proc_rss)
        n += (size_t)snprintf(out + n, sizeof(out) - n,
                              " * High process RSS overhead: This instance has non-allocator RSS "
                              "memory overhead is greater than 1.1.\n\n");
    if (high_cow)
        n += (size_t)snprintf(out + n, sizeof(out) - n,
                              " * Fork copy-on-write: The last background save's child copied "
                              "%llu MB of pages the server wrote meanwhile (rdb_last_cow_size), "
                              "more than 10%% of the dataset. A save needs that much free memory "
                              "again; save when writes are fewer, or leave room for it.\n\n",
                              (unsigned long long)(cow >> 20));
    n += (size_t)snprintf(out + n, sizeof(out) - n,
                          "I'm here to keep you safe, Sam. I want to help you.\n");
    kv_reply_verbatim(c, out, n);
}

typedef struct text {
    char *p;
    size_t len, cap;
} text_t;

static void stats_write(void *priv, const char *s) {
    text_t *t = priv;
    size_t n = strlen(s);
    if (t->p == NULL && t->cap) return; /* an earlier allocation failed */
    if (t->len + n + 1 > t->cap) {
        size_t ncap = (t->len + n + 1) * 2;
        char *np = realloc(t->p, ncap);
        if (np == NULL) {
            free(t->p);
            t->p = NULL;
            t->cap = 1;
            return;
        }
        t->p = np;
        t->cap = ncap;
    }
    memcpy(t->p + t->len, s, n + 1);
    t->len += n;
}

void kv_cmd_memory_malloc_stats(kv_client_t *c) {
    text_t t = {0};
    malloc_stats_print(stats_write, &t, NULL);
    if (t.p == NULL) {
        kv_reply_oom(c);
        return;
    }
    kv_reply_verbatim(c, t.p, t.len);
    free(t.p);
}

void kv_cmd_memory_purge(kv_client_t *c) {
    if (memshim_purge() == 0)
        kv_reply_ok(c);
    else
        kv_reply_error(c, "ERR Error purging dirty pages");
}

void kv_cmd_memory_help(kv_client_t *c) {
    static const char *const help[] = {
        "DOCTOR",
        "    Return memory problems reports.",
        "MALLOC-STATS",
        "    Return internal statistics report from the memory allocator.",
        "PURGE",
        "    Attempt to purge dirty pages for reclamation by the allocator.",
        "STATS",
        "    Return information about the memory usage of the server.",
        "USAGE <key> [SAMPLES <count>]",
        "    Return memory in bytes used by <key> and its value. Nested values are",
        "    sampled up to <count> times (default: 5, 0 means sample all).",
        "HEAP ENABLE|DISABLE|STATUS|DUMP [<dir>]|PEAK",
        "    Control jemalloc's heap profiler (kvcore). DUMP writes a heap profile into",
        "    heap-dump-dir (or <dir> inside it) and returns its path. PEAK returns the",
        "    path of the profile at the heap's high-water mark (MEMSHIM_PROF_PEAK=1).",
        NULL};
    kv_reply_help(c, help);
}

/* --- Heap profiling --- */

static void reply_prof_error(kv_client_t *c, int rc, const char *what) {
    memshim_prof_status_t st;
    const char *detail = "";
    if (memshim_prof_status(&st) == 0 && st.last_errstr[0]) detail = st.last_errstr;
    switch (rc) {
    case -ENOENT:
        if (!st.available) {
            kv_reply_error(c, "ERR heap profiling is not available in this process: jemalloc's "
                              "opt.prof is false (run under libmemshim without "
                              "MALLOC_CONF=prof:false)");
            return;
        }
        break;
    case -EAGAIN:
        kv_reply_error(c, "ERR jemalloc profiling is not active, please enable it first");
        return;
    default: break;
    }
    kv_reply_errorf(c, "ERR %s failed: %s%s%s", what, strerror(-rc), detail[0] ? ": " : "", detail);
}

/*
 * Resolves the directory a dump may go to: heap-dump-dir itself (dir NULL) or an existing
 * directory inside it. Writes the canonical path to out. 0, or -EPERM/-ENOENT/-ENOTDIR
 * with a message in err.
 */
static int resolve_dump_dir(const kv_arg_t *dir, char *out, size_t outlen, char *err,
                            size_t errlen) {
    const char *base = kv_srv.heap_dump_dir_real;
    if (base[0] == '\0') {
        snprintf(err, errlen,
                 "ERR heap dumps are disabled: start the server with "
                 "--heap-dump-dir <dir> (it cannot be set at run time)");
        return -EPERM;
    }
    if (dir == NULL) {
        snprintf(out, outlen, "%s", base);
        return 0;
    }
    if (dir->len == 0 || dir->len >= PATH_MAX - 1 || memchr(dir->ptr, '\0', dir->len)) {
        snprintf(err, errlen, "ERR invalid dump directory");
        return -EINVAL;
    }
    /* Refuse any ".." component, before touching the file system. */
    for (size_t i = 0; i < dir->len;) {
        size_t j = i;
        while (j < dir->len && dir->ptr[j] != '/')
            j++;
        if (j - i == 2 && dir->ptr[i] == '.' && dir->ptr[i + 1] == '.') {
            snprintf(err, errlen, "ERR dump directory must not contain '..'");
            return -EPERM;
        }
        i = j + 1;
    }
    char cand[PATH_MAX * 2];
    if (dir->ptr[0] == '/')
        snprintf(cand, sizeof(cand), "%.*s", (int)dir->len, dir->ptr);
    else
        snprintf(cand, sizeof(cand), "%s/%.*s", base, (int)dir->len, dir->ptr);
    char real[PATH_MAX];
    struct stat st;
    if (realpath(cand, real) == NULL || stat(real, &st) != 0) {
        int e = errno != 0 ? errno : ENOENT;
        if (e == ENOENT)
            snprintf(err, errlen, "ERR dump directory \"%.*s\" does not exist", (int)dir->len,
                     dir->ptr);
        else if (e == ENOTDIR)
            snprintf(err, errlen, "ERR \"%.*s\" is not a directory", (int)dir->len, dir->ptr);
        else
            snprintf(err, errlen, "ERR dump directory \"%.*s\": %s", (int)dir->len, dir->ptr,
                     strerror(e));
        return -e;
    }
    size_t bl = strlen(base);
    bool inside = strcmp(real, base) == 0 || (strncmp(real, base, bl) == 0 &&
                                              (real[bl] == '/' || (bl == 1 && base[0] == '/')));
    if (!inside) {
        snprintf(err, errlen, "ERR dump directory must be heap-dump-dir or inside it");
        return -EPERM;
    }
    if (!S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "ERR \"%.*s\" is not a directory", (int)dir->len, dir->ptr);
        return -ENOTDIR;
    }
    snprintf(out, outlen, "%s", real);
    return 0;
}

enum { HEAP_ENABLE, HEAP_DISABLE, HEAP_STATUS, HEAP_DUMP, HEAP_PEAK };

/*
 * MEMORY HEAP PEAK: the path of the shim's peak profile (prof.peak, written to the
 * shim's dump directory), when that file is a regular file in heap-dump-dir or a
 * directory inside it; otherwise an error saying why there is none.
 */
static void heap_peak(kv_client_t *c) {
    char real[PATH_MAX], err[512];
    if (resolve_dump_dir(NULL, real, sizeof(real), err, sizeof(err)) != 0) {
        kv_reply_error(c, err);
        return;
    }
    memshim_prof_peak_status_t pk;
    memshim_prof_status_t st;
    if (memshim_prof_peak_status(&pk) != 0 || memshim_prof_status(&st) != 0) {
        kv_reply_error(c, "ERR could not read the profiler status");
        return;
    }
    if (pk.path[0] == '\0') {
        if (!st.available)
            kv_reply_error(c, "ERR no peak profile: heap profiling is not available in this "
                              "process");
        else if (!pk.enabled)
            kv_reply_error(c, "ERR no peak profile: peak profiles are off (start the server "
                              "with MEMSHIM_PROF_PEAK=1 and MEMSHIM_DUMP_DIR=<heap-dump-dir>)");
        else if (!st.active)
            kv_reply_error(c, "ERR no peak profile yet: profiling is not active (MEMORY HEAP "
                              "ENABLE)");
        else
            kv_reply_error(c, "ERR no peak profile yet: the heap has not grown by 1 MiB since "
                              "peak profiles were turned on");
        return;
    }
    const char *slash = strrchr(pk.path, '/');
    kv_arg_t dir = {pk.path, slash != NULL && slash > pk.path ? (size_t)(slash - pk.path) : 1};
    struct stat sb;
    if (pk.path[0] != '/' || resolve_dump_dir(&dir, real, sizeof(real), err, sizeof(err)) != 0) {
        kv_reply_error(c, "ERR the peak profile is not in heap-dump-dir (start the server with "
                          "MEMSHIM_DUMP_DIR=<heap-dump-dir>)");
        return;
    }
    if (lstat(pk.path, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        kv_reply_error(c, "ERR the peak profile is gone or not a regular file");
        return;
    }
    kv_reply_bulk_cstr(c, pk.path);
}

/* Runs one heap operation; `kvrocks` selects KPROFILE's reply shapes. */
static void heap_op(kv_client_t *c, int op, const kv_arg_t *dir, bool kvrocks) {
    int rc;
    memshim_prof_status_t st;
    switch (op) {
    case HEAP_ENABLE:
    case HEAP_DISABLE:
        rc = op == HEAP_ENABLE ? memshim_prof_enable() : memshim_prof_disable();
        if (rc != 0)
            reply_prof_error(c, rc, op == HEAP_ENABLE ? "enable" : "disable");
        else
            kv_reply_ok(c);
        return;
    case HEAP_STATUS:
        if (memshim_prof_status(&st) != 0) {
            kv_reply_error(c, "ERR could not read the profiler status");
            return;
        }
        if (kvrocks) {
            kv_reply_status(c, st.available && st.active ? "enabled" : "disabled");
            return;
        }
        kv_reply_map_len(c, 8);
        kv_reply_bulk_cstr(c, "status");
        kv_reply_bulk_cstr(c, !st.available ? "unavailable" : st.active ? "enabled" : "disabled");
        kv_reply_bulk_cstr(c, "available");
        kv_reply_int(c, st.available);
        kv_reply_bulk_cstr(c, "active");
        kv_reply_int(c, st.active);
        kv_reply_bulk_cstr(c, "lg_sample");
        kv_reply_int(c, st.lg_sample);
        kv_reply_bulk_cstr(c, "dumps");
        kv_reply_int(c, (long long)st.dumps);
        kv_reply_bulk_cstr(c, "last_dump");
        kv_reply_bulk_cstr(c, st.last_dump);
        kv_reply_bulk_cstr(c, "heap_dump_dir");
        kv_reply_bulk_cstr(c, kv_srv.heap_dump_dir_real);
        kv_reply_bulk_cstr(c, "last_error");
        kv_reply_bulk_cstr(c, st.last_errstr);
        return;
    case HEAP_DUMP: {
        char real[PATH_MAX], err[512], path[PATH_MAX + 64];
        if (resolve_dump_dir(dir, real, sizeof(real), err, sizeof(err)) != 0) {
            kv_reply_error(c, err);
            return;
        }
        rc = memshim_prof_dump_in_dir(real, path, sizeof(path));
        if (rc != 0) {
            reply_prof_error(c, rc, "dump");
            return;
        }
        kv_reply_bulk_cstr(c, path);
        return;
    }
    default: kv_reply_syntax_err(c);
    }
}

static int heap_op_by_name(const kv_arg_t *a) {
    if (kv_arg_is(a, "enable")) return HEAP_ENABLE;
    if (kv_arg_is(a, "disable")) return HEAP_DISABLE;
    if (kv_arg_is(a, "status")) return HEAP_STATUS;
    if (kv_arg_is(a, "dump")) return HEAP_DUMP;
    if (kv_arg_is(a, "peak")) return HEAP_PEAK;
    return -1;
}

void kv_cmd_memory_heap(kv_client_t *c) {
    int op = heap_op_by_name(&c->argv[2]);
    if (op < 0) {
        kv_reply_error(
            c, "ERR MEMORY HEAP subcommand must be one of ENABLE, DISABLE, STATUS, DUMP, PEAK");
        return;
    }
    if ((op != HEAP_DUMP && c->argc != 3) || (op == HEAP_DUMP && c->argc > 4)) {
        kv_reply_arity_err(c);
        return;
    }
    if (op == HEAP_PEAK) {
        heap_peak(c);
        return;
    }
    heap_op(c, op, op == HEAP_DUMP && c->argc == 4 ? &c->argv[3] : NULL, false);
}

void kv_cmd_kprofile(kv_client_t *c) {
    if (!kv_arg_is(&c->argv[1], "memory")) {
        kv_reply_error(c, "ERR only supports MEMORY subcommand");
        return;
    }
    int op = heap_op_by_name(&c->argv[2]);
    if (op < 0 || op == HEAP_PEAK) {
        kv_reply_error(c, "ERR MEMORY subcommand must be one of ENABLE, DISABLE, STATUS, DUMP");
        return;
    }
    if ((op != HEAP_DUMP && c->argc != 3) || (op == HEAP_DUMP && c->argc != 4)) {
        kv_reply_arity_err(c);
        return;
    }
    heap_op(c, op, op == HEAP_DUMP ? &c->argv[3] : NULL, true);
}
