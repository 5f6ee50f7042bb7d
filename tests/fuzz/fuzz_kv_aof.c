/* SPDX-License-Identifier: MIT */
/*
 * fuzz_kv_aof.c - the append-only file loader (kv_aof_load_file in kvcore/aof_load.c:
 * the command parser, MULTI/EXEC queueing, torn-end handling, the replay through the
 * command table) and the manifest parser, on arbitrary file contents.
 * fuzz-sources: kvcore/[a-z]*.c defrag/[a-z]*.c
 * fuzz-exclude: kvcore/main.c
 * fuzz-libs: -ljemalloc -lunwind -llzf
 * fuzz-options: -max_len=4096
 *
 * Input: data[0] bit 0 says whether the file is the manifest's last one (its end may be
 * torn), bit 1 sets aof-load-truncated; the rest is the file. Every input starts from
 * empty databases. Properties: loading returns 0, -EPROTO or -ENOMEM, never reads outside
 * the file's bytes and leaves no leak; loading.flag is back off; a load that succeeded
 * left the file no longer than it was, and cut it only when the end could be torn; the
 * keyspace tables pass their checks. The same bytes parsed as a manifest either fail with
 * a reason or format back to text that parses to the same entries.
 */
#include "fuzz_common.h"

#include "kv_internal.h"
#include "aof.h"
#include "fuzz_kv_seams.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char path[64];

static void init_once(void) {
    if (path[0] != '\0') return;
    memset(&kv_srv, 0, sizeof(kv_srv));
    FUZZ_CHECK(kv_config_defaults(&kv_srv.cfg) == 0);
    char err[128]; /* no save points: a replayed FLUSHALL would write dump.rdb */
    FUZZ_CHECK(kv_config_set(&kv_srv.cfg, "save", "", err, sizeof(err)) == 0);
    kv_srv.cfg.loglevel = KV_LOG_WARNING + 1; /* the loader's messages are expected output */
    kv_srv.start_ms = kv_srv.mstime = kv_mstime();
    FUZZ_CHECK(kv_cmd_init() == 0);
    FUZZ_CHECK(kv_db_init_all(&kv_srv) == 0);
    snprintf(path, sizeof(path), "/tmp/fuzz_kv_aof.%d.aof", (int)getpid());
}

static void check_manifest(const uint8_t *data, size_t size) {
    kv_aof_manifest_t m, again;
    const char *err = NULL;
    int rc = kv_aof_manifest_parse(&m, (const char *)data, size, &err);
    FUZZ_CHECK(rc == 0 || rc == -EPROTO || rc == -ENOMEM);
    if (rc == -EPROTO) FUZZ_CHECK(err != NULL);
    if (rc == 0) {
        size_t len;
        char *text = kv_aof_manifest_format(&m, &len);
        if (text != NULL) {
            FUZZ_CHECK(kv_aof_manifest_parse(&again, text, len, &err) == 0);
            FUZZ_CHECK(again.nfiles == m.nfiles);
            for (size_t i = 0; i < m.nfiles; i++) {
                /* Formatting orders base, history, increments: find each entry. */
                bool found = false;
                for (size_t j = 0; j < again.nfiles && !found; j++)
                    found = strcmp(m.files[i].name, again.files[j].name) == 0 &&
                            m.files[i].seq == again.files[j].seq &&
                            m.files[i].type == again.files[j].type;
                FUZZ_CHECK(found);
            }
            kv_aof_manifest_fini(&again);
            free(text);
        }
    }
    kv_aof_manifest_fini(&m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    init_once();
    if (size < 1) return 0;
    bool last = data[0] & 1;
    kv_srv.cfg.aof_load_truncated = (data[0] & 2) != 0;
    data++;
    size--;
    check_manifest(data, size);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    FUZZ_CHECK(fd >= 0);
    FUZZ_CHECK(write(fd, data, size) == (ssize_t)size);
    close(fd);
    for (int i = 0; i < kv_srv.ndbs; i++)
        kv_db_flush(&kv_srv.dbs[i]);
    kv_srv.mstime = kv_mstime();
    off_t valid = -1;
    int rc = kv_aof_load_file(path, last, &valid);
    FUZZ_CHECK(rc == 0 || rc == -EPROTO || rc == -ENOMEM);
    FUZZ_CHECK(!kv_srv.loading);
    struct stat st;
    FUZZ_CHECK(stat(path, &st) == 0);
    FUZZ_CHECK((size_t)st.st_size <= size);
    if ((size_t)st.st_size < size) FUZZ_CHECK(rc == 0 && last && kv_srv.cfg.aof_load_truncated);
    for (int i = 0; i < kv_srv.ndbs; i++) {
        FUZZ_CHECK(kv_ht_check(kv_srv.dbs[i].keys) == 0);
        FUZZ_CHECK(kv_ttl_check(kv_srv.dbs[i].expires) == 0);
    }
    unlink(path);
    return 0;
}
