/* SPDX-License-Identifier: MIT */
/*
 * test_kv_defrag.c - kvcore's active defragmentation (kvcore/defrag_kv.c,
 * defrag_types.c) and the dataset digest (kvcore/digest.c): a real cycle on a
 * fragmented keyspace, driven by the real event loop and engine, keeps the keyspace and
 * the TTL index consistent (same object pointers, kv_ht_check) and the digest equal;
 * FLUSHDB and SWAPDB mid-cycle abort the stage cleanly; a quicklist value is relocated
 * in bounded, resumable steps with every node and link fixed; SHA-1 and the digest's
 * order independence.
 */
#include "test_common.h"

#include <jemalloc/jemalloc.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "defrag.h"
#include "kv_internal.h"
#include "memshim.h"
#include "quicklist.h"
#include "t_hash.h"
#include "t_list.h"
#include "t_set.h"
#include "t_zset.h"

static kv_db_t *db;
static int64_t far_ms; /* an expire time an hour ahead, fixed for the whole run */

/*
 * Fragmentation the engine can see even where a sanitizer owns malloc (jemalloc's
 * figures then ignore the dataset): jemalloc blocks, two thirds of them freed.
 */
#define BALLAST 120000
static void *ballast[BALLAST];

static void make_ballast(void) {
    for (int i = 0; i < BALLAST; i++)
        ballast[i] = mallocx(64, 0);
    for (int i = 0; i < BALLAST; i++) {
        if (i % 3 == 0) continue;
        dallocx(ballast[i], 0);
        ballast[i] = NULL;
    }
}

/* Keeps kv_loop_process from sleeping forever when no defrag timer is armed. */
static int64_t heartbeat(kv_loop_t *loop, int64_t id, void *priv) {
    (void)loop;
    (void)id;
    (void)priv;
    return 10000;
}

static int setup(void **state) {
    (void)state;
    memset(&kv_srv, 0, sizeof(kv_srv));
    if (kv_config_defaults(&kv_srv.cfg) != 0) return -1;
    kv_srv.cfg.loglevel = KV_LOG_WARNING;
    if (kv_db_init_all(&kv_srv) != 0) return -1;
    kv_srv.loop = kv_loop_new(64);
    if (kv_srv.loop == NULL) return -1;
    kv_srv.effective_hz = 10;
    if (kv_defrag_init(&kv_srv) != 0) return -1;
    if (kv_timer_add(kv_srv.loop, 10000, heartbeat, NULL) < 0) return -1;
    make_ballast();
    db = kv_db_get(0);
    far_ms = kv_mstime() + 3600 * 1000;
    return 0;
}

static int teardown(void **state) {
    (void)state;
    kv_defrag_fini();
    for (int i = 0; i < BALLAST; i++)
        if (ballast[i] != NULL) dallocx(ballast[i], 0);
    kv_db_free_all(&kv_srv);
    kv_loop_free(kv_srv.loop);
    kv_srv.loop = NULL;
    kv_config_fini(&kv_srv.cfg);
    return 0;
}

/* activedefrag no, and a running cycle stopped. */
static void disable_defrag(void) {
    kv_srv.cfg.activedefrag = false;
    kv_defrag_config_apply();
    defrag_stop(kv_defrag_engine());
}

static int reset(void **state) {
    (void)state;
    disable_defrag();
    for (int i = 0; i < kv_srv.ndbs; i++)
        kv_db_flush(&kv_srv.dbs[i]);
    kv_srv.mstime = kv_mstime();
    return 0;
}

/* --- Helpers --- */

static void fill_strings(kv_db_t *d, const char *prefix, int n, unsigned seed) {
    char key[64], val[256];
    srand(seed);
    for (int i = 0; i < n; i++) {
        int kl = snprintf(key, sizeof(key), "%s:%d", prefix, i);
        size_t vl = 20 + (size_t)(rand() % 181);
        for (size_t j = 0; j < vl; j++)
            val[j] = (char)('a' + (i + (int)j) % 26);
        if (i % 11 == 0) vl = (size_t)snprintf(val, sizeof(val), "%d", i); /* INT */
        int64_t exp = i % 3 == 0 ? far_ms + i : -1;
        kv_obj_t *o = kv_obj_new_string(key, (size_t)kl, val, vl, exp);
        assert_non_null(o);
        assert_int_equal(kv_db_add(d, o), 0);
    }
}

/* Deletes about two thirds of the keys, at random. */
static void delete_two_thirds(kv_db_t *d, const char *prefix, int n, unsigned seed) {
    char key[64];
    srand(seed);
    for (int i = 0; i < n; i++) {
        if (rand() % 3 == 0) continue;
        int kl = snprintf(key, sizeof(key), "%s:%d", prefix, i);
        assert_true(kv_db_delete(d, key, (size_t)kl));
    }
}

/* Every TTL-index entry is the keyspace's object for that key, and every keyspace object
 * with an expire time is in the index. */
static void check_db(kv_db_t *d) {
    assert_int_equal(kv_ht_check(d->keys), 0);
    assert_int_equal(kv_ttl_check(d->expires), 0);
    size_t with_ttl = 0;
    kv_ht_iter_t it;
    void *e;
    kv_ht_iter_init(&it, d->keys);
    while (kv_ht_iter_next(&it, &e)) {
        kv_obj_t *o = e;
        assert_int_equal(kv_obj_check(o), 0);
        if (kv_obj_expire(o) >= 0) {
            with_ttl++;
            assert_ptr_equal(kv_ttl_at(d->expires, kv_obj_ttl_pos(o)), o);
        }
    }
    kv_ht_iter_fini(&it);
    assert_int_equal(with_ttl, kv_ttl_size(d->expires));
}

static void enable_defrag(void) {
    kv_srv.cfg.activedefrag = true;
    kv_srv.cfg.active_defrag_ignore_bytes = 1;
    kv_srv.cfg.active_defrag_threshold_lower = 0;
    kv_srv.cfg.active_defrag_cycle_min = 50;
    kv_srv.cfg.active_defrag_cycle_max = 50;
    assert_int_equal(kv_defrag_config_apply(), 0);
}

/* Runs the loop until the engine has ended `cycles` cycles in all (10 s at most). */
static void run_until_cycles(uint64_t cycles) {
    defrag_metrics_t m;
    int64_t until = kv_mstime() + 10000;
    do {
        kv_loop_process(kv_srv.loop);
        defrag_metrics_get(kv_defrag_engine(), &m);
    } while (m.cycles < cycles && kv_mstime() < until);
    assert_true(m.cycles >= cycles);
}

static void digest(unsigned char out[20]) {
    kv_digest_dataset(out);
}

/* A move that always relocates (malloc + copy + free), for deterministic fix-up tests. */
static size_t forced_moves;
static void *move_always(void *p) {
    size_t n = malloc_usable_size(p);
    void *q = malloc(n);
    assert_non_null(q);
    memcpy(q, p, n);
    free(p);
    forced_moves++;
    return q;
}

/* The batched form: moves a pseudo-random two thirds of the blocks it is given (so runs
 * mix moved and kept neighbours, the same ones in every run), counting its calls and
 * the blocks they carried. */
static size_t batch_calls, batch_blocks, batch_longest;
static uint64_t batch_rng;
static void move_batch_some(void **ptrs, size_t n) {
    batch_calls++;
    batch_blocks += n;
    if (n > batch_longest) batch_longest = n;
    for (size_t i = 0; i < n; i++) {
        batch_rng = batch_rng * 6364136223846793005ULL + 1442695040888963407ULL;
        if (ptrs[i] != NULL && (batch_rng >> 33) % 3 != 0) ptrs[i] = move_always(ptrs[i]);
    }
}

static void batch_reset(void) {
    batch_calls = batch_blocks = batch_longest = 0;
    batch_rng = 1;
}

/* Every one of n elements went to move_batch_some exactly once, in runs of at most 32. */
static void assert_each_element_in_one_run(size_t n) {
    assert_int_equal(batch_blocks, n);
    assert_true(batch_longest <= 32 && batch_calls >= n / 32);
}

/* One block at a time, and in batched runs. */
static const kv_defrag_mover_t always = {.move = move_always};
static const kv_defrag_mover_t batched = {.move = move_always, .move_batch = move_batch_some};

/* --- Cycles on the keyspace --- */

static void test_defrag_cycle_keeps_keyspace_ttl_index_and_digest(void **state) {
    (void)state;
    const int n = 60000;
    fill_strings(db, "k", n, 7);
    delete_two_thirds(db, "k", n, 8);
    check_db(db);
    unsigned char before[20], after[20];
    digest(before);
    defrag_metrics_t m0, m1;
    defrag_metrics_get(kv_defrag_engine(), &m0);
    enable_defrag();
    kv_defrag_cron(&kv_srv, NULL);
    assert_true(kv_defrag_is_running());
    assert_true(kv_srv.active_defrag_running >= 1);
    run_until_cycles(m0.cycles + 1);
    disable_defrag();
    check_db(db);
    digest(after);
    assert_memory_equal(before, after, 20);
    defrag_metrics_get(kv_defrag_engine(), &m1);
    assert_true(m1.key_hits + m1.key_misses >= m0.key_hits + m0.key_misses + (uint64_t)n / 4);
    if (memshim_defrag_supported()) {
        assert_true(m1.hits > m0.hits);
        assert_true(m1.key_hits > m0.key_hits);
    }
    kv_defrag_metrics_sync();
    assert_int_equal(kv_srv.stat_active_defrag_hits, m1.hits);
    assert_int_equal(kv_srv.stat_active_defrag_key_misses, m1.key_misses);
    /* INFO's longest slice (wall and CPU) stays after the cycle; RESETSTAT zeroes it. */
    assert_true(kv_srv.stat_active_defrag_longest_slice_us > 0);
    assert_true(kv_srv.stat_active_defrag_longest_slice_cpu_us > 0);
    kv_defrag_reset_stats();
    assert_int_equal(kv_srv.stat_active_defrag_longest_slice_us, 0);
    assert_int_equal(kv_srv.stat_active_defrag_longest_slice_cpu_us, 0);
}

/*
 * A slice's first step re-reads the hint's bin statistics once they are 80 ms old, so
 * the epoch is paid inside the slice's planned length instead of in a move near its end
 * (the packing hint itself waits until 100 ms). Each attempt: fresh statistics, 80.1 ms
 * without a slice, then one slice; an attempt is telling when that slice was over before
 * the statistics were 99.9 ms old (the hint alone would not have re-read them), and then
 * they must be younger than the slice.
 */
static void test_defrag_slice_start_refreshes_hint_statistics(void **state) {
    (void)state;
    fill_strings(db, "h", 60000, 17);
    delete_two_thirds(db, "h", 60000, 18);
    enable_defrag();
    kv_defrag_cron(&kv_srv, NULL);
    assert_true(kv_defrag_is_running());
    memshim_frag_t f;
    if (memshim_defrag_refresh() != 0) skip();
    int telling = 0;
    for (int attempt = 0; attempt < 40 && telling < 3 && kv_defrag_is_running(); attempt++) {
        assert_int_equal(memshim_defrag_refresh(), 0);
        uint64_t t_ref = kv_monotonic_us();
        while (kv_monotonic_us() - t_ref < 80100) {
        }
        defrag_metrics_t m0, m1;
        defrag_metrics_get(kv_defrag_engine(), &m0);
        do {
            kv_loop_process(kv_srv.loop);
            defrag_metrics_get(kv_defrag_engine(), &m1);
        } while (m1.slices == m0.slices && kv_defrag_is_running());
        uint64_t t_end = kv_monotonic_us();
        assert_int_equal(memshim_defrag_frag_get_cached(&f, UINT64_MAX), 0);
        uint64_t t_q = kv_monotonic_us();
        if (m1.slices == m0.slices || t_end - t_ref >= 99900) continue;
        telling++;
        assert_true(f.age_us <= t_q - t_ref - 80100); /* re-read after the 80.1 ms */
    }
    if (telling == 0) skip(); /* a machine too loaded for a slice within 19.8 ms */
}

/* The replies a loop iteration produced go out before its defrag slice (the server's
 * before-timers hook), so the slice's length is not added to their latency. The test
 * loop has no before_sleep: only that hook can have written this one. And a running
 * cycle suspends the loop's busy polling. */
static void test_defrag_slice_sends_pending_replies_first(void **state) {
    (void)state;
    kv_loop_set_before_timers(kv_srv.loop, kv_server_before_timers, NULL);
    fill_strings(db, "r", 30000, 11);
    delete_two_thirds(db, "r", 30000, 12);
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    kv_client_t *c = kv_client_new(sv[0]);
    assert_non_null(c);
    kv_reply_status(c, "OK");
    assert_ptr_equal(kv_srv.pending_write, c);
    defrag_metrics_t m0, m;
    defrag_metrics_get(kv_defrag_engine(), &m0);
    enable_defrag();
    kv_srv.cfg.busy_poll_us = 50;
    assert_int_equal(kv_server_busy_poll_us(), 50);
    kv_defrag_cron(&kv_srv, NULL);
    assert_true(kv_defrag_is_running());
    /* A running cycle suspends busy polling; it comes back when the cycle ends. */
    assert_int_equal(kv_server_busy_poll_us(), 0);
    do {
        kv_loop_process(kv_srv.loop);
        defrag_metrics_get(kv_defrag_engine(), &m);
    } while (m.slices == m0.slices);
    char buf[16];
    ssize_t r = recv(sv[1], buf, sizeof(buf), MSG_DONTWAIT);
    assert_int_equal(r, 5);
    assert_memory_equal(buf, "+OK\r\n", 5);
    assert_null(kv_srv.pending_write);
    defrag_stop(kv_defrag_engine());
    assert_int_equal(kv_server_busy_poll_us(), 50);
    kv_loop_set_before_timers(kv_srv.loop, NULL, NULL);
    kv_client_free(c);
    close(sv[1]);
}

static void test_defrag_config_change_lowers_the_running_target(void **state) {
    (void)state;
    fill_strings(db, "c", 30000, 21);
    delete_two_thirds(db, "c", 30000, 22);
    enable_defrag(); /* cycle-min = cycle-max = 50 */
    kv_defrag_cron(&kv_srv, NULL);
    assert_true(kv_defrag_is_running());
    assert_int_equal(kv_srv.active_defrag_running, 50);
    kv_defrag_metrics_sync();
    assert_int_equal(kv_srv.active_defrag_running, 50);
    /* threshold-lower does not let the target fall... */
    kv_srv.cfg.active_defrag_threshold_lower = 1;
    assert_int_equal(kv_defrag_config_apply(), 0);
    kv_defrag_cron(&kv_srv, NULL);
    assert_int_equal(kv_srv.active_defrag_running, 50);
    /* ...cycle-min/max do, at the next cron (Valkey's active_defrag_configuration_changed). */
    kv_srv.cfg.active_defrag_cycle_min = 1;
    kv_srv.cfg.active_defrag_cycle_max = 1;
    assert_int_equal(kv_defrag_config_apply(), 0);
    kv_defrag_cron(&kv_srv, NULL);
    assert_int_equal(kv_srv.active_defrag_running, 1);
    kv_defrag_metrics_sync();
    assert_int_equal(kv_srv.active_defrag_running, 1);
    /* Turning it off ends the cycle at its next slice. */
    kv_srv.cfg.activedefrag = false;
    assert_int_equal(kv_defrag_config_apply(), 0);
    int64_t until = kv_mstime() + 2000;
    while (kv_defrag_is_running() && kv_mstime() < until)
        kv_loop_process(kv_srv.loop);
    assert_false(kv_defrag_is_running());
    kv_defrag_metrics_sync();
    assert_int_equal(kv_srv.active_defrag_running, 0);
    assert_int_equal(kv_srv.stat_current_active_defrag_time_ms, 0);
    kv_srv.cfg.active_defrag_threshold_lower = 10;
}

static void test_defrag_flushdb_mid_cycle_aborts_the_stage(void **state) {
    (void)state;
    fill_strings(db, "f", 40000, 1);
    delete_two_thirds(db, "f", 40000, 2);
    kv_db_t *db1 = kv_db_get(1);
    fill_strings(db1, "g", 3000, 3);
    kv_srv.cfg.active_defrag_cycle_us = 100;
    enable_defrag();
    defrag_metrics_t m0;
    defrag_metrics_get(kv_defrag_engine(), &m0);
    kv_defrag_cron(&kv_srv, NULL);
    /* Run until the keys stage of db 0 is under way, then flush db 0. */
    int64_t until = kv_mstime() + 5000;
    while (kv_mstime() < until) {
        kv_loop_process(kv_srv.loop);
        const char *cur = defrag_stage_current(kv_defrag_engine());
        if (cur != NULL && strcmp(cur, "keys") == 0) break;
    }
    assert_string_equal(defrag_stage_current(kv_defrag_engine()), "keys");
    kv_db_flush(db);
    assert_int_equal(defrag_check(kv_defrag_engine()), 0);
    run_until_cycles(m0.cycles + 1);
    check_db(db);
    check_db(db1);
    assert_int_equal(kv_db_size(db), 0);
    assert_int_equal(kv_db_size(db1), 3000);
    kv_srv.cfg.active_defrag_cycle_us = 500;
}

static void test_defrag_swapdb_mid_cycle_keeps_both_dbs_consistent(void **state) {
    (void)state;
    kv_db_t *db1 = kv_db_get(1);
    fill_strings(db, "s", 40000, 4);
    delete_two_thirds(db, "s", 40000, 5);
    fill_strings(db1, "t", 20000, 6);
    delete_two_thirds(db1, "t", 20000, 7);
    unsigned char before[20], after[20];
    kv_srv.cfg.active_defrag_cycle_us = 100;
    enable_defrag();
    defrag_metrics_t m0;
    defrag_metrics_get(kv_defrag_engine(), &m0);
    kv_defrag_cron(&kv_srv, NULL);
    for (int i = 0; i < 3; i++)
        kv_loop_process(kv_srv.loop);
    kv_db_swap(db, db1);
    digest(before);
    run_until_cycles(m0.cycles + 1);
    digest(after);
    assert_memory_equal(before, after, 20);
    check_db(db);
    check_db(db1);
    kv_srv.cfg.active_defrag_cycle_us = 500;
}

/* The n-th change: list:i with i % 3 == 0 deleted, with i % 3 == 1 made a string. */
static void change_list(int n) {
    char key[32];
    int i = n % 2 == 0 ? n / 2 * 3 : n / 2 * 3 + 1;
    int kl = snprintf(key, sizeof(key), "list:%d", i);
    if (i % 3 == 0) {
        assert_true(kv_db_delete(db, key, (size_t)kl));
    } else {
        kv_obj_t *o = kv_obj_new_string(key, (size_t)kl, "now a string", 12, -1);
        assert_int_equal(kv_db_set(db, o, false), 0);
    }
}

static void test_defrag_deferred_values_survive_deleted_and_retyped_keys(void **state) {
    (void)state;
    /* 60 quicklists of 1000 elements of about 100 bytes: above max-scan-fields 10, so each
     * is deferred and resumed by name over several slices of 50 us. */
    enum { NLISTS = 60, NELEMS = 1000 };
    char key[32], el[128];
    for (int i = 0; i < NLISTS; i++) {
        int kl = snprintf(key, sizeof(key), "list:%d", i);
        kv_obj_t *o = kv_list_new(key, (size_t)kl, -1);
        assert_non_null(o);
        for (int j = 0; j < NELEMS; j++) {
            int len = snprintf(el, sizeof(el), "element-%d-%d-%080d", i, j, j);
            assert_int_equal(kv_list_grow(o, (size_t)len, 1), 0);
            assert_int_equal(kv_list_push(o, KV_LIST_TAIL, el, (size_t)len), 0);
        }
        assert_int_equal(o->encoding, KV_ENC_QUICKLIST);
        assert_int_equal(kv_db_add(db, o), 0);
    }
    fill_strings(db, "d", 20000, 11);
    delete_two_thirds(db, "d", 20000, 12);
    kv_srv.cfg.active_defrag_max_scan_fields = 10;
    kv_srv.cfg.active_defrag_cycle_us = 50;
    enable_defrag();
    defrag_metrics_t m0, m;
    defrag_metrics_get(kv_defrag_engine(), &m0);
    kv_defrag_cron(&kv_srv, NULL);
    /* Between every two slices, delete a list or turn one into a string (three at a
     * time, the rest after the cycle if it ends first). */
    int next = 0, during = 0;
    int64_t until = kv_mstime() + 10000;
    do {
        kv_loop_process(kv_srv.loop);
        defrag_metrics_get(kv_defrag_engine(), &m);
        for (int k = 0; k < 3 && next < 2 * NLISTS / 3; k++, next++) {
            change_list(next);
            if (m.cycles == m0.cycles) during++;
        }
    } while (m.cycles == m0.cycles && kv_mstime() < until);
    assert_true(m.cycles > m0.cycles);
    assert_true(during > 0);
    for (; next < 2 * NLISTS / 3; next++)
        change_list(next);
    check_db(db);
    for (int i = 0; i < NLISTS; i++) {
        int kl = snprintf(key, sizeof(key), "list:%d", i);
        kv_obj_t *o = kv_ht_find(db->keys, key, (size_t)kl);
        if (i % 3 == 0) {
            assert_null(o);
        } else if (i % 3 == 1) {
            assert_non_null(o);
            assert_int_equal(o->type, KV_TYPE_STRING);
        } else {
            assert_non_null(o);
            assert_int_equal(kv_list_len(o), NELEMS);
            assert_int_equal(kv_ql_check(kv_obj_ptr(o)), 0);
            kv_ql_entry_t e;
            assert_int_equal(kv_ql_index(kv_obj_ptr(o), 500, &e), 0);
            int len = snprintf(el, sizeof(el), "element-%d-%d-%080d", i, 500, 500);
            assert_true(kv_ql_entry_equals(&e, el, (size_t)len));
        }
    }
    kv_srv.cfg.active_defrag_max_scan_fields = 1000;
    kv_srv.cfg.active_defrag_cycle_us = 500;
}

/* --- Values --- */

static void ql_free_value(void *p, int encoding) {
    (void)encoding;
    kv_ql_free(p);
}

/*
 * A 1000-element list of 250 nodes relocated in 40-element pieces. With resume, each
 * piece records where it stopped and the next starts there; the record is dropped every
 * fifth piece (as after a new lookup) and made stale every seventh (another index), and
 * either way the walk falls back to the node index.
 */
static void defrag_quicklist_in_steps(bool resume) {
    const kv_type_ops_t *prev = kv_obj_type_ops(KV_TYPE_LIST);
    kv_type_ops_t saved = prev ? *prev : (kv_type_ops_t){0};
    if (prev == NULL || prev->free_value == NULL) {
        kv_type_ops_t ops = {.free_value = ql_free_value};
        kv_obj_register_type(KV_TYPE_LIST, &ops);
    }
    kv_ql_t *ql = kv_ql_new(4); /* 4 entries per node: many nodes */
    assert_non_null(ql);
    char buf[32];
    for (int i = 0; i < 1000; i++) {
        int len = snprintf(buf, sizeof(buf), "element-%d", i);
        assert_int_equal(kv_ql_push(ql, KV_QL_TAIL, buf, (size_t)len), 0);
    }
    kv_obj_t *o = kv_obj_new_ptr("list", 4, KV_TYPE_LIST, KV_ENC_QUICKLIST, ql, -1);
    assert_non_null(o);
    assert_int_equal(kv_db_add(db, o), 0);
    unsigned char before[20], after[20];
    kv_digest_value(o, before);
    assert_int_equal(kv_defrag_value_len(o), 1000);

    forced_moves = 0;
    uint64_t cursor = 0;
    int calls = 0;
    bool done;
    kv_defrag_resume_t r = {0};
    do {
        if (resume && calls % 5 == 4) r = (kv_defrag_resume_t){0};
        if (resume && calls % 7 == 6) r.idx++;
        done = resume ? kv_defrag_value_resume(o, &cursor, 40, &always, &r)
                      : kv_defrag_value(o, &cursor, 40, &always);
        calls++;
        if (!done) {
            assert_true(cursor != 0);
            assert_true(cursor < (UINT64_C(1) << 56));
        }
        if (!done && resume) { /* the recorded node is the one at the cursor's index */
            assert_ptr_equal(r.ql, kv_obj_ptr(o));
            assert_int_equal(r.idx, cursor - 1);
            assert_ptr_equal(r.node, kv_ql_node_at(kv_obj_ptr(o), r.idx));
        }
    } while (!done && calls < 1000);
    assert_true(done);
    assert_int_equal(cursor, 0);
    assert_true(calls >= 1000 / 40);
    /* The struct, then 250 nodes and their listpacks. */
    assert_int_equal(forced_moves, 1 + 2 * 250);
    ql = kv_obj_ptr(o);
    assert_int_equal(kv_ql_check(ql), 0);
    assert_int_equal(kv_ql_len(ql), 1000);
    kv_digest_value(o, after);
    assert_memory_equal(before, after, 20);
    kv_ql_entry_t e;
    assert_int_equal(kv_ql_index(ql, 777, &e), 0);
    assert_true(kv_ql_entry_equals(&e, "element-777", 11));
    kv_db_flush(db);
    if (prev == NULL)
        kv_obj_register_type(KV_TYPE_LIST, &(kv_type_ops_t){0});
    else
        kv_obj_register_type(KV_TYPE_LIST, &saved);
}

static void test_defrag_quicklist_value_moves_in_resumable_steps(void **state) {
    (void)state;
    defrag_quicklist_in_steps(false);
}

static void test_defrag_quicklist_resume_point_skips_the_walk(void **state) {
    (void)state;
    defrag_quicklist_in_steps(true);
}

static void test_defrag_raw_string_value_moves_and_keeps_bytes(void **state) {
    (void)state;
    char val[300];
    memset(val, 'x', sizeof(val));
    kv_obj_t *o = kv_obj_new_raw_string("raw", 3, val, sizeof(val), -1);
    assert_non_null(o);
    assert_int_equal(o->encoding, KV_ENC_RAW);
    const void *old = kv_obj_ptr(o);
    uint64_t cursor = 0;
    forced_moves = 0;
    assert_true(kv_defrag_value(o, &cursor, SIZE_MAX, &always));
    assert_int_equal(forced_moves, 1);
    assert_ptr_not_equal(kv_obj_ptr(o), NULL);
    (void)old;
    char ibuf[24];
    size_t len;
    const char *s = kv_obj_str(o, ibuf, &len);
    assert_int_equal(len, sizeof(val));
    assert_memory_equal(s, val, sizeof(val));
    assert_int_equal(kv_obj_check(o), 0);
    kv_obj_free(o);
}

static kv_arg_t arg(const char *s) {
    return (kv_arg_t){s, strlen(s)};
}

static kv_obj_t *make_hash(const char *key, int n, bool table) {
    kv_obj_t *o = kv_hash_new(key, strlen(key), -1);
    assert_non_null(o);
    char f[32], v[64];
    for (int i = 0; i < n; i++) {
        snprintf(f, sizeof(f), "field-%d", i);
        snprintf(v, sizeof(v), "value-%d-%d", i, i * 31);
        kv_arg_t fa = arg(f), va = arg(v);
        assert_int_equal(kv_hash_set(&o, &fa, &va), 1);
    }
    if (table) assert_int_equal(kv_hash_convert(&o), 0);
    return o;
}

static kv_obj_t *make_set(const char *key, int n, int encoding) {
    kv_arg_t first = arg("1");
    kv_obj_t *o = kv_set_new(key, strlen(key), &first, 1);
    assert_non_null(o);
    char m[32];
    for (int i = n; i >= 1; i--) { /* descending: insertion order differs from sorted */
        snprintf(m, sizeof(m), "%d", i);
        kv_arg_t ma = arg(m);
        assert_true(kv_set_add(o, &ma) >= 0);
    }
    if (encoding != KV_ENC_INTSET) assert_int_equal(kv_set_convert(o, encoding), 0);
    assert_int_equal(o->encoding, encoding);
    return o;
}

/* Relocates the value of o (len elements; its digest into before) through mv in steps of
 * budget elements, from zeroed move counters; returns the steps that left work. */
static int relocate_in_steps(kv_obj_t *o, size_t len, size_t budget, const kv_defrag_mover_t *mv,
                             unsigned char before[20]) {
    kv_digest_value(o, before);
    assert_int_equal(kv_defrag_value_len(o), len);
    forced_moves = 0;
    batch_reset();
    uint64_t cursor = 0;
    int calls = 0;
    while (!kv_defrag_value(o, &cursor, budget, mv)) {
        assert_true(cursor != 0 && cursor < (UINT64_C(1) << 56));
        calls++;
    }
    return calls;
}

static void test_defrag_hashtable_values_move_with_entries_and_keep_content(void **state) {
    (void)state;
    for (int b = 0; b < 2; b++) {
        const kv_defrag_mover_t *mv = b == 0 ? &always : &batched;
        kv_obj_t *h = make_hash("h", 300, true);
        kv_obj_t *st = make_set("s", 300, KV_ENC_HASHTABLE);
        assert_int_equal(h->encoding, KV_ENC_HASHTABLE);
        kv_obj_t *objs[2] = {h, st};
        for (int k = 0; k < 2; k++) {
            kv_obj_t *o = objs[k];
            unsigned char before[20], after[20];
            int calls = relocate_in_steps(o, 300, 50, mv, before);
            assert_true(calls >= 300 / 50 - 1);
            if (b == 0) {
                /* the table struct, its bucket array, and each of the 300 entries at least */
                assert_true(forced_moves >= 302);
                assert_int_equal(batch_calls, 0);
            } else {
                /* Every entry went through a run, exactly once; about two thirds of them
                 * moved. */
                assert_each_element_in_one_run(300);
                assert_true(forced_moves >= 2 + 150);
            }
            kv_digest_value(o, after);
            assert_memory_equal(before, after, 20);
            assert_int_equal(o->type == KV_TYPE_HASH ? kv_hash_check(o) : kv_set_check(o), 0);
            kv_obj_free(o);
        }
    }
}

static kv_obj_t *make_zset(const char *key, int n, bool skiplist) {
    kv_obj_t *o = kv_zset_new(key, strlen(key), skiplist, -1);
    assert_non_null(o);
    char m[32];
    for (int i = n - 1; i >= 0; i--) {
        int len = snprintf(m, sizeof(m), "member-%d", i);
        unsigned out = 0;
        assert_int_equal(kv_zset_add(o, i * 1.5, m, (size_t)len, 0, &out, NULL), 0);
    }
    return o;
}

static void test_defrag_zset_moves_nodes_table_and_skiplist_in_steps(void **state) {
    (void)state;
    for (int b = 0; b < 2; b++) {
        kv_obj_t *o = make_zset("z", 300, true);
        assert_int_equal(o->encoding, KV_ENC_SKIPLIST);
        unsigned char before[20], after[20];
        int calls = relocate_in_steps(o, 300, 40, b == 0 ? &always : &batched, before);
        assert_true(calls >= 300 / 40);
        if (b == 0) {
            /* kv_zset_t, table struct and array, skiplist struct and header, 300 nodes */
            assert_true(forced_moves >= 305);
        } else {
            /* The nodes went in runs (within the budget of 40), each once; moved nodes
             * were relinked and their table slots repointed. */
            assert_each_element_in_one_run(300);
            assert_true(forced_moves >= 5 + 150);
        }
        assert_int_equal(kv_zset_check(o), 0);
        kv_digest_value(o, after);
        assert_memory_equal(before, after, 20);
        double score = 0;
        assert_true(kv_zset_score(o, "member-123", 10, &score));
        assert_true(score == 123 * 1.5);
        assert_int_equal(kv_zset_rank(o, "member-200", 10, false), 200);
        kv_obj_free(o);
    }
}

/* A list of n elements "element-<i>" in quicklist form with 16 entries per node. */
static kv_obj_t *make_list(const char *key, int n) {
    long long fill = kv_srv.cfg.list_max_listpack_size;
    kv_srv.cfg.list_max_listpack_size = 16;
    kv_obj_t *o = kv_list_new(key, strlen(key), -1);
    assert_non_null(o);
    char el[32];
    for (int i = 0; i < n; i++) {
        int len = snprintf(el, sizeof(el), "element-%d", i);
        assert_int_equal(kv_list_grow(o, (size_t)len, 1), 0);
        assert_int_equal(kv_list_push(o, KV_LIST_TAIL, el, (size_t)len), 0);
    }
    kv_srv.cfg.list_max_listpack_size = fill;
    return o;
}

/* The k-th change between two steps, applied alike to the value being relocated and to
 * its twin that is not: elements vanish before and after the cursor, new ones arrive
 * at both ends (which shifts ranks and node indexes under a resumed cursor), and at
 * k == 3 a third of the value goes at once (a hash table then shrinks mid-scan). */
static void change_value(kv_obj_t *o, int k, int n) {
    char a[48], b[48];
    if (o->type == KV_TYPE_HASH) {
        kv_obj_t *h = o; /* a hashtable: changes never move its object */
        for (int j = 0; j < (k == 3 ? n / 3 : 3); j++) {
            snprintf(a, sizeof(a), "field-%d", (k * 37 + j * 7) % n);
            kv_arg_t fa = arg(a);
            (void)kv_hash_del(&h, &fa);
        }
        snprintf(a, sizeof(a), "new-%d", k);
        snprintf(b, sizeof(b), "new-value-%d", k);
        kv_arg_t fa = arg(a), va = arg(b);
        assert_int_equal(kv_hash_set(&h, &fa, &va), 1);
        assert_ptr_equal(h, o);
    } else if (o->type == KV_TYPE_ZSET) {
        for (int j = 0; j < (k == 3 ? n / 3 : 3); j++) {
            int len = snprintf(a, sizeof(a), "member-%d", (k * 37 + j * 7) % n);
            (void)kv_zset_del(o, a, (size_t)len);
        }
        int len = snprintf(a, sizeof(a), "first-%d", k);
        unsigned out = 0;
        assert_int_equal(kv_zset_add(o, -1.0 - k, a, (size_t)len, 0, &out, NULL), 0);
    } else {
        (void)kv_list_del_range(o, 0, k == 3 ? (size_t)n / 3 : 3);
        (void)kv_list_del_range(o, -2, 1);
        int len = snprintf(a, sizeof(a), "head-%d", k);
        assert_int_equal(kv_list_grow(o, (size_t)len, 1), 0);
        assert_int_equal(kv_list_push(o, KV_LIST_HEAD, a, (size_t)len), 0);
        len = snprintf(a, sizeof(a), "tail-%d", k);
        assert_int_equal(kv_list_grow(o, (size_t)len, 1), 0);
        assert_int_equal(kv_list_push(o, KV_LIST_TAIL, a, (size_t)len), 0);
    }
}

static void test_defrag_big_values_stay_consistent_when_changed_between_steps(void **state) {
    (void)state;
    enum { N = 2000, BUDGET = 50 };
    kv_obj_t *moved[3] = {make_hash("h", N, true), make_zset("z", N, true), make_list("l", N)};
    kv_obj_t *twin[3] = {make_hash("h2", N, true), make_zset("z2", N, true), make_list("l2", N)};
    assert_int_equal(moved[0]->encoding, KV_ENC_HASHTABLE);
    assert_int_equal(moved[1]->encoding, KV_ENC_SKIPLIST);
    assert_int_equal(moved[2]->encoding, KV_ENC_QUICKLIST);
    for (int t = 0; t < 6; t++) { /* each type one block at a time, then in runs */
        const kv_defrag_mover_t *mv = t < 3 ? &always : &batched;
        if (t == 3) {
            moved[0] = make_hash("h", N, true), moved[1] = make_zset("z", N, true);
            moved[2] = make_list("l", N);
            twin[0] = make_hash("h2", N, true), twin[1] = make_zset("z2", N, true);
            twin[2] = make_list("l2", N);
            batch_reset();
        }
        kv_obj_t *o = moved[t % 3];
        uint64_t cursor = 0;
        int steps = 0;
        forced_moves = 0;
        /* More elements than one budget: the value is relocated over many steps, and
         * changed between each two. */
        assert_true(kv_defrag_value_len(o) > BUDGET);
        while (!kv_defrag_value(o, &cursor, BUDGET, mv)) {
            assert_true(cursor != 0 && cursor < (UINT64_C(1) << 56));
            change_value(o, steps, N);
            change_value(twin[t % 3], steps, N);
            steps++;
            assert_true(steps < 10 * N);
        }
        assert_true(steps >= 4);
        /* Most entries (hash, zset) or nodes (list, 16 entries each) moved. */
        assert_true(forced_moves > (size_t)(t % 3 == 2 ? N / 16 : t < 3 ? N / 2 : N / 3));
        int rc = t % 3 == 0 ? kv_hash_check(o) : t % 3 == 1 ? kv_zset_check(o) : kv_list_check(o);
        assert_int_equal(rc, 0);
        unsigned char a[20], b[20];
        kv_digest_value(o, a);
        kv_digest_value(twin[t % 3], b);
        assert_memory_equal(a, b, 20);
        /* And a value changed after the last step is still whole: one more full pass. */
        change_value(o, steps, N);
        change_value(twin[t % 3], steps, N);
        cursor = 0;
        while (!kv_defrag_value(o, &cursor, BUDGET, mv))
            ;
        kv_digest_value(o, a);
        kv_digest_value(twin[t % 3], b);
        assert_memory_equal(a, b, 20);
        kv_obj_free(o);
        kv_obj_free(twin[t % 3]);
    }
    assert_true(batch_calls > 0); /* the hash's entries and the zset's nodes went in runs */
}

/* Runs one whole cycle on the keyspace as it is, then stops the engine: the dataset's
 * digest, the keyspace and the TTL index come out as they went in. */
static void one_cycle_keeps_the_dataset(void) {
    unsigned char d0[20], d1[20];
    digest(d0);
    defrag_metrics_t m0;
    defrag_metrics_get(kv_defrag_engine(), &m0);
    enable_defrag();
    kv_defrag_cron(&kv_srv, NULL);
    run_until_cycles(m0.cycles + 1);
    disable_defrag();
    check_db(db);
    digest(d1);
    assert_memory_equal(d0, d1, 20);
}

/* The values a defrag batch relocates itself: exactly the one-allocation encodings. */
static void test_defrag_value_block_is_the_one_allocation(void **state) {
    (void)state;
    char val[300];
    memset(val, 'v', sizeof(val));
    kv_obj_t *raw = kv_obj_new_raw_string("r", 1, val, sizeof(val), -1);
    kv_obj_t *emb = kv_obj_new_string("e", 1, "short", 5, -1);
    kv_obj_t *num = kv_obj_new_string("n", 1, "12345", 5, -1);
    kv_obj_t *block[] = {raw, make_set("si", 5, KV_ENC_INTSET), make_set("sl", 5, KV_ENC_LISTPACK),
                         make_zset("zl", 5, false)};
    kv_obj_t *none[] = {emb,
                        num,
                        make_hash("hp", 5, false),
                        make_hash("ht", 5, true),
                        make_set("st", 5, KV_ENC_HASHTABLE),
                        make_zset("zs", 5, true),
                        make_list("q", 50)};
    assert_int_equal(raw->encoding, KV_ENC_RAW);
    assert_int_equal(block[3]->encoding, KV_ENC_LISTPACK);
    for (size_t i = 0; i < sizeof(block) / sizeof(block[0]); i++) {
        assert_non_null(kv_defrag_value_block(block[i]));
        assert_ptr_equal(kv_defrag_value_block(block[i]), kv_obj_ptr(block[i]));
        kv_obj_free(block[i]);
    }
    for (size_t i = 0; i < sizeof(none) / sizeof(none[0]); i++) {
        assert_null(kv_defrag_value_block(none[i]));
        kv_obj_free(none[i]);
    }
}

/*
 * A cycle over a keyspace of one-allocation values (intset and listpack sets, listpack
 * sorted sets, RAW strings), two thirds deleted: the batched value moves store each new
 * block in its object (digest, structure checks) and, with jemalloc, move most of them.
 */
static void test_defrag_cycle_moves_one_block_values_in_batches(void **state) {
    (void)state;
    enum { N = 30000, KINDS = 3 };
    static const void *before[N];
    char key[32], val[120];
    memset(val, 'r', sizeof(val));
    for (int i = 0; i < N; i++) {
        snprintf(key, sizeof(key), "v:%d", i);
        kv_obj_t *o =
            i % KINDS == 0   ? make_set(key, 4 + i % 5, i % 2 ? KV_ENC_LISTPACK : KV_ENC_INTSET)
            : i % KINDS == 1 ? make_zset(key, 3 + i % 4, false)
                             : kv_obj_new_raw_string(key, strlen(key), val, sizeof(val), -1);
        assert_non_null(o);
        assert_int_equal(kv_db_add(db, o), 0);
    }
    delete_two_thirds(db, "v", N, 11);
    int survivors[KINDS] = {0}, moved[KINDS] = {0};
    for (int i = 0; i < N; i++) {
        int kl = snprintf(key, sizeof(key), "v:%d", i);
        kv_obj_t *o = kv_ht_find(db->keys, key, (size_t)kl);
        before[i] = o != NULL ? kv_defrag_value_block(o) : NULL;
        if (o != NULL) assert_non_null(before[i]);
    }
    one_cycle_keeps_the_dataset();
    for (int i = 0; i < N; i++) {
        if (before[i] == NULL) continue;
        int kl = snprintf(key, sizeof(key), "v:%d", i);
        kv_obj_t *o = kv_ht_find(db->keys, key, (size_t)kl);
        assert_non_null(o);
        survivors[i % KINDS]++;
        if (kv_defrag_value_block(o) != before[i]) moved[i % KINDS]++;
    }
    for (int k = 0; k < KINDS; k++) {
        fprintf(stderr, "# kind %d: %d of %d values moved\n", k, moved[k], survivors[k]);
        assert_true(survivors[k] > N / KINDS / 5);
        if (memshim_defrag_supported()) assert_true(moved[k] > survivors[k] / 10);
    }
}

/*
 * Values of more than one piece (32 elements) but within active-defrag-max-scan-fields
 * are not relocated in one go either: each is deferred and moved piece by piece, the
 * deadline checked in between; one-piece values are moved at once.
 */
static void test_defrag_values_over_one_piece_move_in_pieces(void **state) {
    (void)state;
    enum { MEDIUM = 24 };
    assert_true(kv_srv.cfg.active_defrag_max_scan_fields >= 300);
    char key[32];
    for (int i = 0; i < MEDIUM; i++) {
        snprintf(key, sizeof(key), "m:%d", i);
        kv_obj_t *o = i % 4 == 0   ? make_hash(key, 300, true)
                      : i % 4 == 1 ? make_set(key, 300, KV_ENC_HASHTABLE)
                      : i % 4 == 2 ? make_zset(key, 300, true)
                                   : make_list(key, 300);
        assert_int_equal(kv_defrag_value_len(o), 300);
        assert_int_equal(kv_db_add(db, o), 0);
    }
    fill_strings(db, "k", 20000, 5);
    delete_two_thirds(db, "k", 20000, 6);
    uint64_t deferred0 = kv_defrag_deferred_total();
    one_cycle_keeps_the_dataset();
    /* Every medium value went through the later list in the cycle. */
    assert_true(kv_defrag_deferred_total() >= deferred0 + MEDIUM);
    for (int i = 0; i < MEDIUM; i++) {
        int kl = snprintf(key, sizeof(key), "m:%d", i);
        kv_obj_t *o = kv_ht_find(db->keys, key, (size_t)kl);
        assert_non_null(o);
        int rc = i % 4 == 0   ? kv_hash_check(o)
                 : i % 4 == 1 ? kv_set_check(o)
                 : i % 4 == 2 ? kv_zset_check(o)
                              : kv_list_check(o);
        assert_int_equal(rc, 0);
    }
}

static void test_digest_value_is_blind_to_encoding_and_insertion_order(void **state) {
    (void)state;
    unsigned char a[20], b[20], c[20];
    kv_obj_t *s1 = make_set("s1", 40, KV_ENC_INTSET);
    kv_obj_t *s2 = make_set("s2", 40, KV_ENC_LISTPACK);
    kv_obj_t *s3 = make_set("s3", 40, KV_ENC_HASHTABLE);
    kv_digest_value(s1, a);
    kv_digest_value(s2, b);
    kv_digest_value(s3, c);
    assert_memory_equal(a, b, 20);
    assert_memory_equal(a, c, 20);
    kv_obj_t *z1 = make_zset("z1", 30, false), *z2 = make_zset("z2", 30, true);
    assert_int_equal(z1->encoding, KV_ENC_LISTPACK);
    kv_digest_value(z1, a);
    kv_digest_value(z2, b);
    assert_memory_equal(a, b, 20);
    kv_obj_free(z1);
    kv_obj_free(z2);
    kv_obj_t *h1 = make_hash("h1", 20, false), *h2 = make_hash("h2", 20, true);
    kv_digest_value(h1, a);
    kv_digest_value(h2, b);
    assert_memory_equal(a, b, 20);
    /* One value more and the digest differs. */
    kv_arg_t f = arg("extra"), v = arg("x");
    assert_int_equal(kv_hash_set(&h2, &f, &v), 1);
    kv_digest_value(h2, c);
    assert_memory_not_equal(a, c, 20);
    kv_obj_free(s1);
    kv_obj_free(s2);
    kv_obj_free(s3);
    kv_obj_free(h1);
    kv_obj_free(h2);
}

/* --- Digest --- */

static void hex(const unsigned char d[20], char out[41]) {
    kv_digest_hex(d, out);
}

static void test_digest_sha1_matches_fips_vectors(void **state) {
    (void)state;
    unsigned char d[20];
    char h[41];
    kv_sha1("", 0, d);
    hex(d, h);
    assert_string_equal(h, "da39a3ee5e6b4b0d3255bfef95601890afd80709");
    kv_sha1("abc", 3, d);
    hex(d, h);
    assert_string_equal(h, "a9993e364706816aba3e25717850c26c9cd0d89d");
    const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    kv_sha1(two, strlen(two), d);
    hex(d, h);
    assert_string_equal(h, "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
    char *million = malloc(1000000);
    assert_non_null(million);
    memset(million, 'a', 1000000);
    kv_sha1(million, 1000000, d);
    free(million);
    hex(d, h);
    assert_string_equal(h, "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
}

static void test_digest_is_zero_when_empty_and_order_independent(void **state) {
    (void)state;
    unsigned char d0[20], d1[20], d2[20], zero[20] = {0};
    digest(d0);
    assert_memory_equal(d0, zero, 20);
    fill_strings(db, "o", 500, 9);
    digest(d1);
    assert_memory_not_equal(d1, zero, 20);
    kv_db_flush(db);
    /* The same keys added in the opposite order. */
    char key[64], val[256];
    srand(9);
    kv_obj_t *objs[500];
    for (int i = 0; i < 500; i++) {
        int kl = snprintf(key, sizeof(key), "o:%d", i);
        size_t vl = 20 + (size_t)(rand() % 181);
        for (size_t j = 0; j < vl; j++)
            val[j] = (char)('a' + (i + (int)j) % 26);
        if (i % 11 == 0) vl = (size_t)snprintf(val, sizeof(val), "%d", i);
        objs[i] = kv_obj_new_string(key, (size_t)kl, val, vl, i % 3 == 0 ? far_ms + i : -1);
        assert_non_null(objs[i]);
    }
    for (int i = 499; i >= 0; i--)
        assert_int_equal(kv_db_add(db, objs[i]), 0);
    digest(d2);
    assert_memory_equal(d1, d2, 20);
}

static void test_digest_changes_with_value_ttl_and_db(void **state) {
    (void)state;
    unsigned char a[20], b[20], c[20], v1[20], v2[20];
    kv_obj_t *o = kv_obj_new_string("x", 1, "hello", 5, -1);
    assert_int_equal(kv_db_add(db, o), 0);
    digest(a);
    kv_digest_value(o, v1);
    o = kv_db_set_expire(db, o, kv_mstime() + 100000);
    assert_non_null(o);
    digest(b);
    assert_memory_not_equal(a, b, 20);
    kv_digest_value(o, v2);
    assert_memory_equal(v1, v2, 20); /* DIGEST-VALUE ignores the TTL */
    kv_db_swap(db, kv_db_get(1));
    digest(c);
    assert_memory_not_equal(b, c, 20);
    kv_db_swap(db, kv_db_get(1));
    /* An integer and the same digits as a string digest alike (encoding-blind). */
    kv_obj_t *i1 = kv_obj_new_string("n", 1, "12345", 5, -1);
    kv_obj_t *i2 = kv_obj_new_raw_string("n", 1, "12345", 5, -1);
    assert_int_equal(i1->encoding, KV_ENC_INT);
    assert_int_not_equal(i2->encoding, KV_ENC_INT);
    kv_digest_value(i1, v1);
    kv_digest_value(i2, v2);
    assert_memory_equal(v1, v2, 20);
    kv_obj_free(i1);
    kv_obj_free(i2);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_defrag_cycle_keeps_keyspace_ttl_index_and_digest, reset),
        cmocka_unit_test_setup(test_defrag_slice_sends_pending_replies_first, reset),
        cmocka_unit_test_setup(test_defrag_slice_start_refreshes_hint_statistics, reset),
        cmocka_unit_test_setup(test_defrag_config_change_lowers_the_running_target, reset),
        cmocka_unit_test_setup(test_defrag_flushdb_mid_cycle_aborts_the_stage, reset),
        cmocka_unit_test_setup(test_defrag_swapdb_mid_cycle_keeps_both_dbs_consistent, reset),
        cmocka_unit_test_setup(test_defrag_deferred_values_survive_deleted_and_retyped_keys, reset),
        cmocka_unit_test_setup(test_defrag_quicklist_value_moves_in_resumable_steps, reset),
        cmocka_unit_test_setup(test_defrag_quicklist_resume_point_skips_the_walk, reset),
        cmocka_unit_test_setup(test_defrag_raw_string_value_moves_and_keeps_bytes, reset),
        cmocka_unit_test_setup(test_defrag_hashtable_values_move_with_entries_and_keep_content,
                               reset),
        cmocka_unit_test_setup(test_defrag_zset_moves_nodes_table_and_skiplist_in_steps, reset),
        cmocka_unit_test_setup(test_defrag_big_values_stay_consistent_when_changed_between_steps,
                               reset),
        cmocka_unit_test_setup(test_defrag_value_block_is_the_one_allocation, reset),
        cmocka_unit_test_setup(test_defrag_cycle_moves_one_block_values_in_batches, reset),
        cmocka_unit_test_setup(test_defrag_values_over_one_piece_move_in_pieces, reset),
        cmocka_unit_test_setup(test_digest_sha1_matches_fips_vectors, reset),
        cmocka_unit_test_setup(test_digest_value_is_blind_to_encoding_and_insertion_order, reset),
        cmocka_unit_test_setup(test_digest_is_zero_when_empty_and_order_independent, reset),
        cmocka_unit_test_setup(test_digest_changes_with_value_ttl_and_db, reset),
    };
    return cmocka_run_group_tests_name("kv_defrag", tests, setup, teardown);
}
