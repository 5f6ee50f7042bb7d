/* SPDX-License-Identifier: MIT */
/*
 * kv_agg_test.h - runs kvcore commands on a fake client for the list and sorted-set unit
 * tests: a server with default configuration and 16 databases, commands given as one
 * space-separated line (no quoting; "\x01" is not needed by these tests), replies read back
 * as raw RESP text; the usable size of an allocation for memory accounting checks. Include
 * after test_common.h and kv_internal.h.
 */
#ifndef KV_AGG_TEST_H
#define KV_AGG_TEST_H

#include <malloc.h>

static kv_client_t *agg_client;
static char agg_reply[1 << 16];

static int agg_setup(void **state) {
    (void)state;
    if (kv_config_defaults(&kv_srv.cfg) != 0) return -1;
    if (kv_cmd_init() != 0 || kv_db_init_all(&kv_srv) != 0) return -1;
    agg_client = kv_client_new(-1);
    return agg_client == NULL ? -1 : 0;
}

static int agg_teardown(void **state) {
    (void)state;
    kv_client_free(agg_client);
    kv_db_free_all(&kv_srv);
    kv_config_fini(&kv_srv.cfg);
    return 0;
}

/* Empties the keyspace and restores the encoding configs before each test. */
static int agg_reset(void **state) {
    (void)state;
    kv_db_flush(&kv_srv.dbs[0]);
    kv_config_fini(&kv_srv.cfg);
    return kv_config_defaults(&kv_srv.cfg);
}

/* Runs one command line; returns its reply as RESP text (valid until the next call). */
static const char *agg_run(const char *line) {
    static char copy[1 << 16];
    static kv_arg_t argv[4096];
    int argc = 0;
    size_t n = strlen(line);
    assert_true(n < sizeof(copy));
    memcpy(copy, line, n + 1);
    char *save = NULL;
    for (char *t = strtok_r(copy, " ", &save); t != NULL; t = strtok_r(NULL, " ", &save)) {
        assert_true(argc < 4096);
        argv[argc].ptr = t;
        argv[argc].len = strlen(t);
        argc++;
    }
    kv_client_t *c = agg_client;
    c->argv = argv;
    c->argc = argc;
    c->bufpos = 0;
    kv_cmd_process(c);
    assert_null(c->rhead); /* the tests' replies fit the client buffer */
    assert_true(c->bufpos < sizeof(agg_reply));
    memcpy(agg_reply, c->buf, c->bufpos);
    agg_reply[c->bufpos] = '\0';
    c->bufpos = 0;
    c->argv = NULL;
    c->argc = 0;
    return agg_reply;
}

/* Runs a command whose reply must be exactly `want`. */
#define AGG_EXPECT(line, want) assert_string_equal(agg_run(line), want)

/* The object under key in db 0, or NULL. */
static kv_obj_t *agg_obj(const char *key) {
    return kv_ht_find(kv_srv.dbs[0].keys, key, strlen(key));
}

/* The usable size of an allocation (what MEMORY USAGE adds up). */
static size_t usable(const void *p) {
    return malloc_usable_size((void *)p);
}

/* Sets a config as CONFIG SET does; the call must succeed. */
static void agg_config(const char *name, const char *value) {
    char err[256];
    assert_int_equal(kv_config_set(&kv_srv.cfg, name, value, err, sizeof(err)), 0);
}

#endif /* KV_AGG_TEST_H */
