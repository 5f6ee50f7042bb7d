/* SPDX-License-Identifier: MIT */
/*
 * fuzz_kv_rdb.c - the RDB reader (kvcore/rdb_load.c) on arbitrary input, both ways it is
 * fed: a RESTORE payload and a whole snapshot file.
 * fuzz-sources: kvcore/[a-z]*.c defrag/[a-z]*.c
 * fuzz-exclude: kvcore/main.c
 * fuzz-libs: -ljemalloc -lunwind -llzf
 * fuzz-options: -max_len=4096
 *
 * Input: data[0] bit 0 picks the mode. Payload (0): the rest is a value as DUMP writes it
 * (type byte, value); a correct footer is appended, so the input reaches the value
 * reader instead of the checksum. Snapshot (1): the rest is an RDB file, loaded into
 * empty databases with rdbchecksum off (again: past the checksum). Every input starts
 * from empty databases and the default configuration.
 * Properties: nothing reads outside the input (a private block of exactly its size) and
 * nothing leaks; a payload gives NULL (refused, nothing left allocated) or an object
 * whose structure passes its type's check and that dumps and loads back to the same
 * digest; a snapshot load returns 0, -EPROTO, -ENOTSUP or -ENOMEM and leaves tables that
 * pass kv_ht_check.
 */
#include "fuzz_common.h"

#include "kv_internal.h"
#include "rdb.h"
#include "t_hash.h"
#include "t_list.h"
#include "t_set.h"
#include "t_zset.h"
#include "fuzz_kv_seams.h"

#include <errno.h>
#include <string.h>

static bool ready;

static void init_once(void) {
    if (ready) return;
    memset(&kv_srv, 0, sizeof(kv_srv));
    FUZZ_CHECK(kv_config_defaults(&kv_srv.cfg) == 0);
    kv_srv.cfg.loglevel = KV_LOG_WARNING + 1; /* the loader's messages are expected output */
    kv_srv.cfg.rdbchecksum = false;
    kv_srv.start_ms = kv_srv.mstime = kv_mstime();
    FUZZ_CHECK(kv_cmd_init() == 0);
    FUZZ_CHECK(kv_db_init_all(&kv_srv) == 0);
    ready = true;
}

static int type_check(const kv_obj_t *o) {
    switch (o->type) {
    case KV_TYPE_STRING: return kv_obj_check(o);
    case KV_TYPE_LIST: return kv_list_check(o);
    case KV_TYPE_SET: return kv_set_check(o);
    case KV_TYPE_ZSET: return kv_zset_check(o);
    case KV_TYPE_HASH: return kv_hash_check(o);
    default: return -EPROTO;
    }
}

static void payload(const uint8_t *data, size_t size) {
    uint8_t *p = malloc(size + 10);
    if (p == NULL) return;
    memcpy(p, data, size);
    p[size] = KV_RDB_VERSION;
    p[size + 1] = 0;
    uint64_t crc = kv_crc64(0, p, size + 2);
    for (int i = 0; i < 8; i++)
        p[size + 2 + i] = (uint8_t)(crc >> (8 * i));
    FUZZ_CHECK(kv_rdb_payload_verify(p, size + 10));
    kv_obj_t *o = kv_rdb_payload_load(p, size + 10, "k", 1, -1);
    free(p);
    if (o == NULL) return;
    FUZZ_CHECK(type_check(o) == 0);
    unsigned char *again;
    size_t len;
    if (kv_rdb_dump_payload(o, &again, &len) == 0) {
        kv_obj_t *back = kv_rdb_payload_load(again, len, "k", 1, -1);
        FUZZ_CHECK(back != NULL);
        unsigned char d1[20], d2[20];
        kv_digest_value(o, d1);
        kv_digest_value(back, d2);
        FUZZ_CHECK(memcmp(d1, d2, 20) == 0);
        kv_obj_free(back);
        free(again);
    }
    kv_obj_free(o);
}

static void snapshot(const uint8_t *data, size_t size) {
    uint8_t *p = fuzz_dup(data, size);
    if (p == NULL) return;
    kv_rdb_load_stats_t st;
    char err[256];
    int rc = kv_rdb_load_mem(p, size, 0, &st, err, sizeof(err));
    FUZZ_CHECK(rc == 0 || rc == -EPROTO || rc == -ENOTSUP || rc == -ENOMEM);
    if (rc == 0) FUZZ_CHECK(st.bytes <= size);
    for (int i = 0; i < kv_srv.ndbs; i++) {
        FUZZ_CHECK(kv_ht_check(kv_srv.dbs[i].keys) == 0);
        FUZZ_CHECK(kv_ttl_check(kv_srv.dbs[i].expires) == 0);
        kv_db_flush(&kv_srv.dbs[i]);
    }
    free(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    init_once();
    if (size < 1) return 0;
    if (data[0] & 1)
        snapshot(data + 1, size - 1);
    else
        payload(data + 1, size - 1);
    return 0;
}
