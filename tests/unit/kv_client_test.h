/* SPDX-License-Identifier: MIT */
/*
 * kv_client_test.h - a socket-less client driven by hand, shared by the kvcore unit
 * tests that run commands through the real dispatcher: feed protocol into the client's
 * query buffer and run what is complete (as the event loop would, with the client set
 * as the current one), and take the queued reply back as a string. Include after
 * test_common.h and kv_internal.h.
 */
#ifndef KV_CLIENT_TEST_H
#define KV_CLIENT_TEST_H

/* The client's queued output as one NUL-terminated string; clears it. */
static inline char *take_output(kv_client_t *c) {
    size_t n = kv_client_pending_bytes(c);
    char *out = malloc(n + 1);
    assert_non_null(out);
    memcpy(out, c->buf, c->bufpos);
    size_t o = c->bufpos;
    for (kv_reply_block_t *b = c->rhead; b; b = b->next) {
        memcpy(out + o, b->data, b->used);
        o += b->used;
    }
    out[o] = '\0';
    c->bufpos = c->sentlen = 0;
    while (c->rhead) {
        kv_reply_block_t *b = c->rhead;
        c->rhead = b->next;
        free(b);
    }
    c->rtail = NULL;
    c->reply_bytes = 0;
    c->nblocks = 0;
    return out;
}

/* Asserts the client's queued output is exactly want; clears it. */
static inline void assert_output(kv_client_t *c, const char *want) {
    char *out = take_output(c);
    assert_string_equal(out, want);
    free(out);
}

/* Appends n raw bytes to the client's query buffer and runs what is complete. */
static inline void feed_bytes(kv_client_t *c, const char *s, size_t n) {
    if (c->qcap - c->qlen < n) {
        c->qcap = c->qlen + n + 64;
        c->qbuf = realloc(c->qbuf, c->qcap);
        assert_non_null(c->qbuf);
    }
    memcpy(c->qbuf + c->qlen, s, n);
    c->qlen += n;
    kv_srv.current_client = c;
    kv_client_process_input(c);
    kv_srv.current_client = NULL;
}

/* feed_bytes for a NUL-terminated string of protocol. */
static inline void feed(kv_client_t *c, const char *s) {
    feed_bytes(c, s, strlen(s));
}

/* Sends the space-separated words of line (at most 32, 512 bytes) as one multibulk command. */
static inline void feed_words(kv_client_t *c, const char *line) {
    char buf[1024], words[512];
    const char *argv[32];
    int argc = 0;
    snprintf(words, sizeof(words), "%s", line);
    for (char *save = NULL, *w = strtok_r(words, " ", &save); w && argc < 32;
         w = strtok_r(NULL, " ", &save))
        argv[argc++] = w;
    int n = snprintf(buf, sizeof(buf), "*%d\r\n", argc);
    for (int i = 0; i < argc; i++)
        n += snprintf(buf + n, sizeof(buf) - (size_t)n, "$%zu\r\n%s\r\n", strlen(argv[i]), argv[i]);
    feed_bytes(c, buf, (size_t)n);
}

/* Sends argv as one multibulk command (at most 4 KiB of protocol). */
static inline void send_cmd(kv_client_t *c, int argc, const char **argv) {
    char req[4096];
    int n = snprintf(req, sizeof(req), "*%d\r\n", argc);
    for (int i = 0; i < argc; i++)
        n += snprintf(req + n, sizeof(req) - (size_t)n, "$%zu\r\n%s\r\n", strlen(argv[i]), argv[i]);
    assert_true(n > 0 && (size_t)n < sizeof(req));
    feed(c, req);
}

/* SEND(c, "SET", "k", "v"): send_cmd with the words as argv. */
#define SEND(c, ...)                                                                               \
    do {                                                                                           \
        const char *argv_[] = {__VA_ARGS__};                                                       \
        send_cmd(c, (int)(sizeof(argv_) / sizeof(argv_[0])), argv_);                               \
    } while (0)

/* A socket-less client in the server's client list, which kv_client_by_id searches
 * (tracking and CLIENT commands find clients there by id). */
static inline kv_client_t *listed_client(void) {
    kv_client_t *c = kv_client_new(-1);
    assert_non_null(c);
    c->next = kv_srv.clients;
    if (kv_srv.clients) kv_srv.clients->prev = c;
    kv_srv.clients = c;
    return c;
}

/* Takes a listed_client out of the list and frees it. */
static inline void unlist_and_free(kv_client_t *c) {
    if (c->prev)
        c->prev->next = c->next;
    else
        kv_srv.clients = c->next;
    if (c->next) c->next->prev = c->prev;
    c->next = c->prev = NULL;
    kv_client_free(c);
}

/* Group set-up and tear-down: default config, the databases and the command table. */
static inline int kv_server_setup(void **state) {
    (void)state;
    if (kv_config_defaults(&kv_srv.cfg) != 0) return -1;
    char err[128]; /* no save points: FLUSHALL would write dump.rdb into the test's directory */
    if (kv_config_set(&kv_srv.cfg, "save", "", err, sizeof(err)) != 0) return -1;
    if (kv_db_init_all(&kv_srv) != 0) return -1;
    return kv_cmd_init();
}

static inline int kv_server_teardown(void **state) {
    (void)state;
    kv_db_free_all(&kv_srv);
    kv_config_fini(&kv_srv.cfg);
    return 0;
}

#endif /* KV_CLIENT_TEST_H */
