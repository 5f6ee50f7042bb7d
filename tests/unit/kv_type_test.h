/* SPDX-License-Identifier: MIT */
/*
 * kv_type_test.h - fixtures shared by the hash and set type unit tests: a server with
 * default configuration (setup, teardown), this thread's live jemalloc bytes for memory
 * accounting checks, whether jemalloc owns malloc (not under a sanitizer), and an argument
 * from a C string. Include after test_common.h, <jemalloc/jemalloc.h> and kv_internal.h.
 */
#ifndef KV_TYPE_TEST_H
#define KV_TYPE_TEST_H

static int setup(void **state) {
    (void)state;
    memset(&kv_srv, 0, sizeof(kv_srv));
    return kv_config_defaults(&kv_srv.cfg);
}

static int teardown(void **state) {
    (void)state;
    kv_config_fini(&kv_srv.cfg);
    return 0;
}

/* Bytes this thread holds from jemalloc (what used_memory is made of). */
static int64_t live_bytes(void) {
    uint64_t a = 0, d = 0;
    size_t sz = sizeof(a);
    assert_int_equal(mallctl("thread.allocated", &a, &sz, NULL, 0), 0);
    assert_int_equal(mallctl("thread.deallocated", &d, &sz, NULL, 0), 0);
    return (int64_t)(a - d);
}

/* False under a sanitizer build, where malloc is not jemalloc's and its counters stay. */
static bool jemalloc_owns_malloc(void) {
    int64_t before = live_bytes();
    void *volatile p = malloc(4096); /* volatile: the pair must not be optimised out */
    bool moved = live_bytes() != before;
    free(p);
    return moved;
}

static kv_arg_t arg(const char *s) {
    kv_arg_t a = {s, strlen(s)};
    return a;
}

#endif /* KV_TYPE_TEST_H */
