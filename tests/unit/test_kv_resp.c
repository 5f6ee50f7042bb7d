/* SPDX-License-Identifier: MIT */
/*
 * test_kv_resp.c - the RESP request parser (kv_req_parse) on every malformed-input class
 * with Redis's exact error text, incomplete input and resumption after the buffer moved,
 * inline quoting, pipelining; and the reply writer (buffer, overflow blocks, deferred
 * lengths, error sanitizing) on a socket-less client.
 */
#include "test_common.h"

#include <limits.h>

#include "kv_internal.h"
#include "kv_client_test.h"

#define MAXBULK (512LL * 1024 * 1024)

static ssize_t parse(kv_req_t *r, const char *s) {
    return kv_req_parse(r, s, strlen(s));
}

static void assert_arg(const kv_req_t *r, int i, const char *want) {
    assert_true(i < r->argc);
    assert_int_equal(r->argv[i].len, strlen(want));
    assert_memory_equal(r->argv[i].ptr, want, strlen(want));
}

/* Parses one malformed input and checks the sticky error and its text. */
static void expect_proto_error(const char *in, size_t len, const char *text) {
    kv_req_t r;
    kv_req_init(&r, MAXBULK);
    assert_int_equal(kv_req_parse(&r, in, len), -EPROTO);
    assert_string_equal(r.errstr, text);
    /* Sticky: the next call fails at once, whatever the input. */
    assert_int_equal(parse(&r, "PING\r\n"), -EPROTO);
    assert_int_equal(r.argc, 0);
    kv_req_fini(&r);
}

static void test_resp_parses_multibulk_command(void **state) {
    (void)state;
    kv_req_t r;
    kv_req_init(&r, MAXBULK);
    const char *in = "*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n";
    assert_int_equal(parse(&r, in), (ssize_t)strlen(in));
    assert_int_equal(r.argc, 3);
    assert_arg(&r, 0, "SET");
    assert_arg(&r, 1, "key");
    assert_arg(&r, 2, "value");
    assert_false(r.is_inline);
    kv_req_fini(&r);
}

static void test_resp_bulk_payload_may_hold_crlf_and_nul(void **state) {
    (void)state;
    kv_req_t r;
    kv_req_init(&r, MAXBULK);
    static const char in[] = "*2\r\n$4\r\nECHO\r\n$5\r\na\r\n\0b\r\n";
    assert_int_equal(kv_req_parse(&r, in, sizeof(in) - 1), (ssize_t)(sizeof(in) - 1));
    assert_int_equal(r.argv[1].len, 5);
    assert_memory_equal(r.argv[1].ptr, "a\r\n\0b", 5);
    kv_req_fini(&r);
}

static void test_resp_pipelined_commands_parse_one_at_a_time(void **state) {
    (void)state;
    kv_req_t r;
    kv_req_init(&r, MAXBULK);
    const char *in = "*1\r\n$4\r\nPING\r\nECHO hi\r\n*1\r\n$4\r\nPING\r\n";
    size_t off = 0, len = strlen(in);
    ssize_t n = kv_req_parse(&r, in, len);
    assert_int_equal(n, 14);
    assert_arg(&r, 0, "PING");
    off += (size_t)n;
    n = kv_req_parse(&r, in + off, len - off);
    assert_int_equal(n, 9);
    assert_true(r.is_inline);
    assert_arg(&r, 1, "hi");
    off += (size_t)n;
    n = kv_req_parse(&r, in + off, len - off);
    assert_int_equal((size_t)n, len - off);
    kv_req_fini(&r);
}

static void test_resp_incomplete_command_reports_need_and_resumes_after_move(void **state) {
    (void)state;
    kv_req_t r;
    kv_req_init(&r, MAXBULK);
    const char *full = "*2\r\n$4\r\nECHO\r\n$10\r\n0123456789\r\n";
    size_t len = strlen(full);
    /* Header and first argument only. */
    char *a = malloc(len);
    memcpy(a, full, 20);
    assert_int_equal(kv_req_parse(&r, a, 20), 0);
    assert_int_equal(r.need, len); /* the whole command: 19 bytes of headers + 10 + CRLF */
    /* The caller moved its buffer; the progress is kept as offsets. */
    char *b = malloc(len);
    memcpy(b, full, len);
    free(a);
    assert_int_equal(kv_req_parse(&r, b, len), (ssize_t)len);
    assert_int_equal(r.argc, 2);
    assert_arg(&r, 0, "ECHO");
    assert_arg(&r, 1, "0123456789");
    assert_true(r.argv[0].ptr >= b && r.argv[0].ptr < b + len);
    free(b);
    kv_req_fini(&r);
}

static void test_resp_every_prefix_of_a_command_is_incomplete(void **state) {
    (void)state;
    const char *full = "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2\r\nvv\r\n";
    size_t len = strlen(full);
    for (size_t cut = 0; cut < len; cut++) {
        kv_req_t r;
        kv_req_init(&r, MAXBULK);
        assert_int_equal(kv_req_parse(&r, full, cut), 0);
        assert_int_equal(kv_req_parse(&r, full, len), (ssize_t)len);
        assert_arg(&r, 2, "vv");
        kv_req_fini(&r);
    }
}

static void test_resp_zero_and_negative_multibulk_count_run_nothing(void **state) {
    (void)state;
    kv_req_t r;
    kv_req_init(&r, MAXBULK);
    assert_int_equal(parse(&r, "*0\r\n"), 4);
    assert_int_equal(r.argc, 0);
    assert_int_equal(parse(&r, "*-1\r\n"), 5);
    assert_int_equal(r.argc, 0);
    kv_req_fini(&r);
}

static void test_resp_inline_splits_quotes_and_escapes(void **state) {
    (void)state;
    kv_req_t r;
    kv_req_init(&r, MAXBULK);
    const char *in = "SET \"a b\\x41\\n\" 'it\\'s'  plain\r\n";
    assert_int_equal(parse(&r, in), (ssize_t)strlen(in));
    assert_int_equal(r.argc, 3 + 1);
    assert_arg(&r, 0, "SET");
    assert_arg(&r, 1, "a bA\n");
    assert_arg(&r, 2, "it's");
    assert_arg(&r, 3, "plain");
    assert_int_equal(parse(&r, "\r\n"), 2);
    assert_int_equal(r.argc, 0);
    assert_int_equal(parse(&r, "PING\n"), 5);
    assert_arg(&r, 0, "PING");
    kv_req_fini(&r);
}

static void test_resp_rejects_negative_bulk_len(void **state) {
    (void)state;
    expect_proto_error("*1\r\n$-1\r\n", 9, "Protocol error: invalid bulk length");
}

static void test_resp_rejects_non_numeric_bulk_len(void **state) {
    (void)state;
    expect_proto_error("*1\r\n$1x\r\n", 9, "Protocol error: invalid bulk length");
    expect_proto_error("*1\r\n$+1\r\n", 9, "Protocol error: invalid bulk length");
    expect_proto_error("*1\r\n$\r\n", 7, "Protocol error: invalid bulk length");
}

static void test_resp_rejects_bulk_len_above_proto_max_bulk_len(void **state) {
    (void)state;
    expect_proto_error("*1\r\n$536870913\r\n", 16, "Protocol error: invalid bulk length");
    expect_proto_error("*1\r\n$99999999999999999999\r\n", 27,
                       "Protocol error: invalid bulk length");
    /* Exactly the limit is accepted (and waits for the payload). */
    kv_req_t r;
    kv_req_init(&r, MAXBULK);
    assert_int_equal(parse(&r, "*1\r\n$536870912\r\n"), 0);
    assert_int_equal(r.need, 16 + 536870912 + 2);
    kv_req_fini(&r);
}

static void test_resp_rejects_invalid_multibulk_count(void **state) {
    (void)state;
    expect_proto_error("*x\r\n", 4, "Protocol error: invalid multibulk length");
    expect_proto_error("*2147483648\r\n", 13, "Protocol error: invalid multibulk length");
    expect_proto_error("*\r\n", 3, "Protocol error: invalid multibulk length");
}

/* Count lines follow Redis's string2ll on every path the parser takes (fast and general). */
static void test_resp_count_lines_follow_string2ll_rules(void **state) {
    (void)state;
    expect_proto_error("*01\r\n", 5, "Protocol error: invalid multibulk length");
    expect_proto_error("*1\r\n$01\r\nx\r\n", 13, "Protocol error: invalid bulk length");
    expect_proto_error("*1\r\n$-0\r\n", 9, "Protocol error: invalid bulk length");
    kv_req_t r;
    kv_req_init(&r, LLONG_MAX);
    /* A lone zero is a valid length: an empty argument. */
    assert_int_equal(parse(&r, "*1\r\n$0\r\n\r\n"), 10);
    assert_int_equal(r.argc, 1);
    assert_int_equal(r.argv[0].len, 0);
    /* 18 and 19 digits: read exactly, then the command waits for its payload. */
    assert_int_equal(parse(&r, "*1\r\n$123456789012345678\r\n"), 0);
    assert_int_equal(r.need, 4 + 21 + 123456789012345678ULL + 2);
    kv_req_fini(&r);
    kv_req_init(&r, LLONG_MAX);
    assert_int_equal(parse(&r, "*1\r\n$1234567890123456789\r\n"), 0);
    assert_int_equal(r.need, 4 + 22 + 1234567890123456789ULL + 2);
    kv_req_fini(&r);
    /* A '\r' as the last byte received is not a line end yet. */
    kv_req_init(&r, MAXBULK);
    assert_int_equal(parse(&r, "*1\r\n$3\r"), 0);
    assert_int_equal(parse(&r, "*1\r\n$3\r\nGET\r\n"), 13);
    assert_arg(&r, 0, "GET");
    kv_req_fini(&r);
}

static void test_resp_rejects_argument_not_starting_with_dollar(void **state) {
    (void)state;
    expect_proto_error("*1\r\n+PING\r\n", 11, "Protocol error: expected '$', got '+'");
}

static void test_resp_rejects_too_big_inline_request(void **state) {
    (void)state;
    size_t n = KV_PROTO_INLINE_MAX + 1;
    char *in = malloc(n);
    memset(in, 'a', n);
    expect_proto_error(in, n, "Protocol error: too big inline request");
    /* Just below the limit it waits for the newline. */
    kv_req_t r;
    kv_req_init(&r, MAXBULK);
    assert_int_equal(kv_req_parse(&r, in, KV_PROTO_INLINE_MAX), 0);
    kv_req_fini(&r);
    free(in);
}

static void test_resp_rejects_too_big_count_strings(void **state) {
    (void)state;
    size_t n = KV_PROTO_INLINE_MAX + 16;
    char *in = malloc(n);
    memset(in, '1', n);
    in[0] = '*';
    expect_proto_error(in, n, "Protocol error: too big mbulk count string");
    memcpy(in, "*1\r\n$", 5);
    expect_proto_error(in, n, "Protocol error: too big bulk count string");
    free(in);
}

static void test_resp_rejects_unbalanced_quotes(void **state) {
    (void)state;
    expect_proto_error("ECHO \"abc\r\n", 11, "Protocol error: unbalanced quotes in request");
    expect_proto_error("ECHO 'abc\r\n", 11, "Protocol error: unbalanced quotes in request");
    /* A closing quote must be followed by a space. */
    expect_proto_error("ECHO \"a\"b\r\n", 11, "Protocol error: unbalanced quotes in request");
}

static void test_resp_huge_argument_count_does_not_preallocate(void **state) {
    (void)state;
    kv_req_t r;
    kv_req_init(&r, MAXBULK);
    /* A client announcing a million arguments and sending one costs one slot, not 16 MB. */
    assert_int_equal(parse(&r, "*1000000\r\n$1\r\na\r\n"), 0);
    assert_true(r.argv_cap <= 16);
    kv_req_fini(&r);
}

/*
 * Feeds `in` to a parser in reads of `step` bytes into a buffer that moves to a new block
 * whenever it grows (doubling, as net.c's query buffer); `*buf` is the final buffer, which
 * argv points into (the caller frees it).
 */
static void parse_in_reads(kv_req_t *r, const char *in, size_t len, size_t step, char **buf) {
    char *q = NULL;
    size_t have = 0, cap = 0;
    ssize_t n = 0;
    while (have < len) {
        size_t add = len - have < step ? len - have : step;
        if (have + add > cap) {
            cap = (have + add) * 2;
            char *nq = malloc(cap); /* a new block: the old addresses die */
            assert_non_null(nq);
            if (have > 0) memcpy(nq, q, have);
            free(q);
            q = nq;
        }
        memcpy(q + have, in + have, add);
        have += add;
        n = kv_req_parse(r, q, have);
        if (have < len) {
            assert_int_equal(n, 0);
            assert_true(r->need > have);
        }
    }
    assert_int_equal(n, (ssize_t)len);
    *buf = q;
}

/* "*<n+1>\r\n$6\r\nEXISTS\r\n" then n arguments "k<i>" of growing lengths. */
static char *many_args_command(int n, size_t *len) {
    size_t cap = 64 + (size_t)n * 40, o = 0;
    char *s = malloc(cap);
    assert_non_null(s);
    o += (size_t)snprintf(s + o, cap - o, "*%d\r\n$6\r\nEXISTS\r\n", n + 1);
    for (int i = 0; i < n; i++) {
        char arg[24];
        int al = snprintf(arg, sizeof(arg), "k%d", i);
        o += (size_t)snprintf(s + o, cap - o, "$%d\r\n%s\r\n", al, arg);
    }
    *len = o;
    return s;
}

static void test_resp_many_arguments_split_across_many_reads(void **state) {
    (void)state;
    const int nargs = 50000;
    size_t len;
    char *in = many_args_command(nargs, &len);
    static const size_t steps[] = {1, 3, 7, 100, 16384};
    for (size_t si = 0; si < sizeof(steps) / sizeof(steps[0]); si++) {
        kv_req_t r;
        kv_req_init(&r, MAXBULK);
        char *buf;
        parse_in_reads(&r, in, len, steps[si], &buf);
        assert_int_equal(r.argc, nargs + 1);
        assert_arg(&r, 0, "EXISTS");
        for (int i = 0; i < nargs; i++) {
            char arg[24];
            snprintf(arg, sizeof(arg), "k%d", i);
            assert_arg(&r, i + 1, arg);
            assert_true(r.argv[i + 1].ptr > buf && r.argv[i + 1].ptr < buf + len);
        }
        /* The parser is back at a command start: the next command parses from scratch. */
        assert_int_equal(parse(&r, "*1\r\n$4\r\nPING\r\n"), 14);
        assert_int_equal(r.argc, 1);
        assert_arg(&r, 0, "PING");
        free(buf);
        kv_req_fini(&r);
    }
    free(in);
}

static void test_resp_long_inline_command_split_across_reads(void **state) {
    (void)state;
    /* An inline line of 2000 arguments (about 12 KB, under the 64 KB inline limit). */
    size_t cap = 20000, o = 0;
    char *in = malloc(cap);
    assert_non_null(in);
    o += (size_t)snprintf(in, cap, "EXISTS");
    for (int i = 0; i < 2000; i++)
        o += (size_t)snprintf(in + o, cap - o, " k%d", i);
    o += (size_t)snprintf(in + o, cap - o, "\r\n");
    static const size_t steps[] = {1, 5, 4096};
    for (size_t si = 0; si < sizeof(steps) / sizeof(steps[0]); si++) {
        kv_req_t r;
        kv_req_init(&r, MAXBULK);
        char *buf;
        parse_in_reads(&r, in, o, steps[si], &buf);
        assert_true(r.is_inline);
        assert_int_equal(r.argc, 2001);
        assert_arg(&r, 0, "EXISTS");
        assert_arg(&r, 1, "k0");
        assert_arg(&r, 2000, "k1999");
        free(buf);
        kv_req_fini(&r);
    }
    free(in);
}

/* Before authentication: at most 10 arguments and 16 KB bulks, with Redis 7's texts. */
static void test_resp_unauthenticated_limits(void **state) {
    (void)state;
    kv_req_t r;
    kv_req_init(&r, MAXBULK);
    r.unauth = true;
    assert_int_equal(parse(&r, "*11\r\n"), -EPROTO);
    assert_string_equal(r.errstr, "Protocol error: unauthenticated multibulk length");
    kv_req_fini(&r);
    kv_req_init(&r, MAXBULK);
    r.unauth = true;
    assert_int_equal(parse(&r, "*2\r\n$4\r\nECHO\r\n$16385\r\n"), -EPROTO);
    assert_string_equal(r.errstr, "Protocol error: unauthenticated bulk length");
    kv_req_fini(&r);
    /* The limits themselves are allowed; a length above proto-max-bulk-len stays invalid. */
    kv_req_init(&r, MAXBULK);
    r.unauth = true;
    assert_int_equal(parse(&r, "*10\r\n$4\r\nECHO\r\n$16384\r\n"), 0);
    assert_int_equal(r.need, 5 + 10 + 8 + 16384 + 2);
    kv_req_fini(&r);
    kv_req_init(&r, MAXBULK);
    r.unauth = true;
    assert_int_equal(parse(&r, "*1\r\n$536870913\r\n"), -EPROTO);
    assert_string_equal(r.errstr, "Protocol error: invalid bulk length");
    kv_req_fini(&r);
    /* Inline commands are bounded by the inline limit only, as in Redis. */
    kv_req_init(&r, MAXBULK);
    r.unauth = true;
    assert_int_equal(parse(&r, "EXISTS a b c d e f g h i j k l\r\n"), 32);
    assert_int_equal(r.argc, 13);
    /* Authenticated: no such limits. */
    r.unauth = false;
    assert_int_equal(parse(&r, "*11\r\n"), 0);
    kv_req_fini(&r);
}

static void test_resp_argument_memory_is_reported_and_trimmed(void **state) {
    (void)state;
    size_t len;
    char *in = many_args_command(5000, &len);
    kv_req_t r;
    kv_req_init(&r, MAXBULK);
    /* Mid-command: the argument array holds the progress, and is counted. */
    size_t half = len / 2;
    assert_int_equal(kv_req_parse(&r, in, half), 0);
    assert_true(kv_req_mem(&r) >= (size_t)r.mb_argc * sizeof(kv_arg_t));
    assert_true(r.mb_argc > 2000);
    kv_req_trim(&r); /* never during a command */
    assert_true(r.argv_cap >= r.mb_argc);
    assert_int_equal(kv_req_parse(&r, in, len), (ssize_t)len);
    assert_int_equal(r.argc, 5001);
    assert_true(kv_req_mem(&r) >= 5001 * sizeof(kv_arg_t));
    /* Between commands a big array is given back; a small one is kept. */
    kv_req_trim(&r);
    assert_int_equal(kv_req_mem(&r), 0);
    assert_int_equal(parse(&r, "*1\r\n$4\r\nPING\r\n"), 14);
    size_t small = kv_req_mem(&r);
    kv_req_trim(&r);
    assert_int_equal(kv_req_mem(&r), small);
    kv_req_fini(&r);
    free(in);
}

/*
 * client-query-buffer-limit counts a partly received command's argument array, not only
 * the query buffer bytes: 40000 empty arguments are 240 KB of protocol but hold 640 KB
 * or more of argument slots.
 */
static void test_resp_query_limit_counts_argument_memory(void **state) {
    (void)state;
    const int nargs = 40000;
    size_t cap = 64 + (size_t)nargs * 6, o = 0;
    char *in = malloc(cap);
    assert_non_null(in);
    o += (size_t)snprintf(in, cap, "*%d\r\n$6\r\nEXISTS\r\n", nargs + 2); /* never completes */
    for (int i = 0; i < nargs; i++) {
        memcpy(in + o, "$0\r\n\r\n", 6);
        o += 6;
    }
    kv_client_t *c = kv_client_new(-1);
    assert_non_null(c);
    feed_bytes(c, in, o);
    assert_int_equal(c->qlen - c->qpos, o); /* nothing ran */
    size_t mem = kv_client_query_mem(c);
    assert_true(mem >= o + (size_t)(nargs + 1) * sizeof(kv_arg_t));
    /* Under the limit: kept. */
    unsigned long long saved = kv_srv.cfg.client_query_buffer_limit;
    kv_srv.cfg.client_query_buffer_limit = mem;
    assert_false(kv_client_check_query_limit(c));
    /* Over it although the query buffer alone is not: closed and counted. */
    kv_srv.cfg.client_query_buffer_limit = o + 1024;
    uint64_t before = kv_srv.stat_client_qbuf_limit_disconnections;
    assert_true(kv_client_check_query_limit(c)); /* c is freed */
    assert_int_equal(kv_srv.stat_client_qbuf_limit_disconnections - before, 1);
    kv_srv.cfg.client_query_buffer_limit = saved;
    free(in);
}

/* --- Reply writer --- */

static char *collect(const kv_client_t *c, size_t *len) {
    size_t n = c->bufpos;
    for (const kv_reply_block_t *b = c->rhead; b; b = b->next)
        n += b->used;
    char *out = malloc(n + 1);
    memcpy(out, c->buf, c->bufpos);
    size_t o = c->bufpos;
    for (const kv_reply_block_t *b = c->rhead; b; b = b->next) {
        memcpy(out + o, b->data, b->used);
        o += b->used;
    }
    out[n] = '\0';
    *len = n;
    return out;
}

static int setup(void **state) {
    (void)state;
    return kv_config_defaults(&kv_srv.cfg);
}

static int teardown(void **state) {
    (void)state;
    kv_config_fini(&kv_srv.cfg);
    return 0;
}

static void test_reply_formats_match_resp2(void **state) {
    (void)state;
    kv_client_t *c = kv_client_new(-1);
    assert_non_null(c);
    kv_reply_ok(c);
    kv_reply_int(c, -42);
    kv_reply_bulk(c, "ab", 2);
    kv_reply_null(c);
    kv_reply_null_array(c);
    kv_reply_array_len(c, 2);
    kv_reply_bulk_ll(c, 7);
    kv_reply_double(c, 1.5);
    kv_reply_error(c, "ERR bad\r\nthing");
    size_t len;
    char *out = collect(c, &len);
    assert_string_equal(out,
                        "+OK\r\n:-42\r\n$2\r\nab\r\n$-1\r\n*-1\r\n*2\r\n$1\r\n7\r\n$3\r\n1.5\r\n"
                        "-ERR bad  thing\r\n");
    free(out);
    kv_client_free(c);
}

static void test_reply_deferred_length_is_filled_in_place(void **state) {
    (void)state;
    kv_client_t *c = kv_client_new(-1);
    kv_reply_status(c, "before");
    void *d = kv_reply_deferred(c);
    for (int i = 0; i < 12; i++)
        kv_reply_int(c, i);
    kv_reply_set_deferred(c, d, 12);
    size_t len;
    char *out = collect(c, &len);
    assert_memory_equal(out, "+before\r\n*12\r\n:0\r\n:1\r\n", 22);
    assert_string_equal(out + len - 5, ":11\r\n");
    free(out);
    kv_client_free(c);
}

/*
 * The deferred-length check: on in every unit test (kv_reply_check starts at ABORT, so a
 * command test that announces a wrong count aborts); here in LOG mode to see it count.
 */
static void test_reply_deferred_length_check_catches_a_wrong_count(void **state) {
    (void)state;
    assert_int_equal(kv_reply_check, KV_REPLY_CHECK_ABORT);
    kv_reply_check = KV_REPLY_CHECK_LOG;
    uint64_t before = kv_reply_check_failures;
    kv_client_t *c = kv_client_new(-1);

    /* Right: nested aggregates, a nested deferred length and big bulks count as one each. */
    void *outer = kv_reply_deferred(c);
    kv_reply_array_len(c, 2);
    kv_reply_bulk(c, "a", 1);
    kv_reply_int(c, 1);
    void *inner = kv_reply_deferred(c);
    kv_reply_map_len(c, 1);
    kv_reply_bulk(c, "k", 1);
    kv_reply_null_array(c);
    kv_reply_set_deferred(c, inner, 1);
    char *big = calloc(1, KV_REPLY_BUF * 2);
    kv_reply_bulk(c, big, KV_REPLY_BUF * 2);
    free(big);
    kv_reply_status(c, "x");
    kv_reply_error(c, "ERR e");
    kv_reply_null(c);
    kv_reply_set_deferred(c, outer, 6);
    assert_int_equal(kv_reply_check_failures - before, 0);

    /* One element more than announced (the MEMORY STATS shape), and one fewer. */
    void *d = kv_reply_deferred(c);
    for (int i = 0; i < 3; i++)
        kv_reply_int(c, i);
    kv_reply_set_deferred(c, d, 2);
    assert_int_equal(kv_reply_check_failures - before, 1);
    d = kv_reply_deferred(c);
    kv_reply_set_deferred(c, d, 1);
    assert_int_equal(kv_reply_check_failures - before, 2);
    /* An aggregate missing children, and a nested placeholder never filled in. */
    d = kv_reply_deferred(c);
    kv_reply_array_len(c, 3);
    kv_reply_int(c, 1);
    kv_reply_set_deferred(c, d, 1);
    assert_int_equal(kv_reply_check_failures - before, 3);
    d = kv_reply_deferred(c);
    (void)kv_reply_deferred(c);
    kv_reply_set_deferred(c, d, 1);
    assert_int_equal(kv_reply_check_failures - before, 4);
    kv_client_free(c);

    /* Off (in a build without MEMSHIM_DEBUG, which always checks): not checked. */
    if (!kv_config_debug) {
        kv_reply_check = KV_REPLY_CHECK_OFF;
        c = kv_client_new(-1);
        d = kv_reply_deferred(c);
        kv_reply_set_deferred(c, d, 5);
        assert_int_equal(kv_reply_check_failures - before, 4);
        kv_client_free(c);
    }
    kv_reply_check = KV_REPLY_CHECK_ABORT;
    assert_int_equal(kv_reply_check_parse(NULL), KV_REPLY_CHECK_OFF);
    assert_int_equal(kv_reply_check_parse("0"), KV_REPLY_CHECK_OFF);
    assert_int_equal(kv_reply_check_parse("log"), KV_REPLY_CHECK_LOG);
    assert_int_equal(kv_reply_check_parse("1"), KV_REPLY_CHECK_ABORT);
}

static void test_reply_larger_than_buffer_spills_into_blocks(void **state) {
    (void)state;
    kv_client_t *c = kv_client_new(-1);
    size_t big = KV_REPLY_BUF * 3 + 17;
    char *payload = malloc(big);
    for (size_t i = 0; i < big; i++)
        payload[i] = (char)('a' + i % 26);
    kv_reply_bulk(c, payload, big);
    kv_reply_ok(c);
    assert_int_equal(c->bufpos, KV_REPLY_BUF);
    assert_non_null(c->rhead);
    size_t len;
    char *out = collect(c, &len);
    char hdr[32];
    int h = snprintf(hdr, sizeof(hdr), "$%zu\r\n", big);
    assert_int_equal(len, (size_t)h + big + 2 + 5);
    assert_memory_equal(out, hdr, (size_t)h);
    assert_memory_equal(out + h, payload, big);
    assert_memory_equal(out + h + big, "\r\n+OK\r\n", 7);
    assert_int_equal(kv_client_pending_bytes(c), len);
    free(out);
    free(payload);
    kv_client_free(c);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_resp_parses_multibulk_command),
        cmocka_unit_test(test_resp_bulk_payload_may_hold_crlf_and_nul),
        cmocka_unit_test(test_resp_pipelined_commands_parse_one_at_a_time),
        cmocka_unit_test(test_resp_incomplete_command_reports_need_and_resumes_after_move),
        cmocka_unit_test(test_resp_every_prefix_of_a_command_is_incomplete),
        cmocka_unit_test(test_resp_zero_and_negative_multibulk_count_run_nothing),
        cmocka_unit_test(test_resp_inline_splits_quotes_and_escapes),
        cmocka_unit_test(test_resp_rejects_negative_bulk_len),
        cmocka_unit_test(test_resp_rejects_non_numeric_bulk_len),
        cmocka_unit_test(test_resp_rejects_bulk_len_above_proto_max_bulk_len),
        cmocka_unit_test(test_resp_rejects_invalid_multibulk_count),
        cmocka_unit_test(test_resp_count_lines_follow_string2ll_rules),
        cmocka_unit_test(test_resp_rejects_argument_not_starting_with_dollar),
        cmocka_unit_test(test_resp_rejects_too_big_inline_request),
        cmocka_unit_test(test_resp_rejects_too_big_count_strings),
        cmocka_unit_test(test_resp_rejects_unbalanced_quotes),
        cmocka_unit_test(test_resp_huge_argument_count_does_not_preallocate),
        cmocka_unit_test(test_resp_many_arguments_split_across_many_reads),
        cmocka_unit_test(test_resp_long_inline_command_split_across_reads),
        cmocka_unit_test(test_resp_unauthenticated_limits),
        cmocka_unit_test(test_resp_argument_memory_is_reported_and_trimmed),
        cmocka_unit_test(test_resp_query_limit_counts_argument_memory),
        cmocka_unit_test(test_reply_formats_match_resp2),
        cmocka_unit_test(test_reply_deferred_length_is_filled_in_place),
        cmocka_unit_test(test_reply_larger_than_buffer_spills_into_blocks),
        cmocka_unit_test(test_reply_deferred_length_check_catches_a_wrong_count),
    };
    return cmocka_run_group_tests_name("kv_resp", tests, setup, teardown);
}
