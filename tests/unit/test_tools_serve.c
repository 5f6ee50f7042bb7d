/* SPDX-License-Identifier: MIT */
/*
 * test_tools_serve.c - the pure parts of `memshim serve` (tools/memshim_serve.c): the
 * HTTP request-head parser and its limits, query parameters, pids, and the escaping of
 * Prometheus label values and JSON strings.
 */
#include "test_common.h"

#include <errno.h>
#include <string.h>

#include "../../tools/memshim_serve.h"

static msserve_req_t req;
static char why[128];
static size_t head_len;

static int parse(const char *s) {
    return msserve_parse_request(s, strlen(s), &req, &head_len, why, sizeof(why));
}

static void test_parse_simple_get(void **state) {
    (void)state;
    const char *s = "GET /metrics?pid=42&x=1 HTTP/1.1\r\nHost: 127.0.0.1:9278\r\n"
                    "Authorization:   Bearer abc  \r\nAccept: */*\r\n\r\ntrailing";
    assert_int_equal(parse(s), 1);
    assert_string_equal(req.method, "GET");
    assert_string_equal(req.path, "/metrics");
    assert_string_equal(req.query, "pid=42&x=1");
    assert_string_equal(req.host, "127.0.0.1:9278");
    assert_string_equal(req.auth, "Bearer abc");
    assert_int_equal(req.minor, 1);
    assert_int_equal(req.content_length, -1);
    assert_false(req.chunked);
    assert_int_equal(head_len, strlen(s) - strlen("trailing"));
}

static void test_parse_bare_newlines_and_http10(void **state) {
    (void)state;
    assert_int_equal(parse("GET / HTTP/1.0\n\n"), 1);
    assert_string_equal(req.path, "/");
    assert_string_equal(req.query, "");
    assert_int_equal(req.minor, 0);
}

static void test_parse_needs_more(void **state) {
    (void)state;
    assert_int_equal(parse(""), 0);
    assert_int_equal(parse("GET /metr"), 0);
    assert_int_equal(parse("GET /metrics HTTP/1.1\r\nHost: x\r\n"), 0);
    assert_int_equal(parse("GET /metrics HTTP/1.1\r\nHost: x\r\n\r"), 0);
}

static void test_parse_malformed_is_400(void **state) {
    (void)state;
    static const char *const bad[] = {
        "GET\r\n\r\n",
        "GET /x\r\n\r\n",
        " GET /x HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET x HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET http://h/x HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET /x HTTP/1.1 extra\r\nHost: x\r\n\r\n",
        "GET /x HTTX/1.1\r\nHost: x\r\n\r\n",
        "GET /x HTTP/1.1\r\nHost: x\r\nNoColon\r\n\r\n",
        "GET /x HTTP/1.1\r\nHost: x\r\nBad Name: 1\r\n\r\n",
        "GET /x HTTP/1.1\r\nHost : x\r\n\r\n",
        "GET /x HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n",
        "GET /x HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n",
        "GET /x HTTP/1.1\r\nHost: x\r\nContent-Length: 1x\r\n\r\n",
        "GET /x HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n",
        "GET /x HTTP/1.1\r\nHost: a\x01\r\n\r\n",
        "GET /x HTTP/1.1\r\n\r\n", /* 1.1 without Host */
        "G(T /x HTTP/1.1\r\nHost: x\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int rc = parse(bad[i]);
        if (rc != -400) fail_msg("case %zu: %d (%s)", i, rc, why);
        assert_true(why[0] != '\0');
    }
    char nul[] = "GET /a\0b HTTP/1.1\r\nHost: x\r\n\r\n";
    assert_int_equal(msserve_parse_request(nul, sizeof(nul) - 1, &req, &head_len, why, sizeof(why)),
                     -400);
}

static void test_parse_version_505(void **state) {
    (void)state;
    assert_int_equal(parse("GET / HTTP/2.0\r\nHost: x\r\n\r\n"), -505);
}

static void test_parse_limits(void **state) {
    (void)state;
    static char buf[MSSERVE_MAX_HEAD * 2];
    /* A target longer than the limit: 414. */
    memset(buf, 0, sizeof(buf));
    strcpy(buf, "GET /");
    memset(buf + 5, 'a', MSSERVE_MAX_TARGET + 10);
    strcat(buf, " HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_int_equal(parse(buf), -414);
    /* A head that never ends within the limit: 431. */
    memset(buf, 0, sizeof(buf));
    strcpy(buf, "GET / HTTP/1.1\r\nHost: x\r\n");
    while (strlen(buf) < MSSERVE_MAX_HEAD + 100)
        strcat(buf, "X-Pad: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n");
    assert_int_equal(parse(buf), -431);
    /* Too many fields, even short ones. */
    memset(buf, 0, sizeof(buf));
    strcpy(buf, "GET / HTTP/1.1\r\nHost: x\r\n");
    for (int i = 0; i < MSSERVE_MAX_HEADERS + 1; i++)
        strcat(buf, "A: b\r\n");
    strcat(buf, "\r\n");
    assert_int_equal(parse(buf), -431);
    /* A Host value that does not fit. */
    memset(buf, 0, sizeof(buf));
    strcpy(buf, "GET / HTTP/1.1\r\nHost: ");
    memset(buf + strlen(buf), 'h', 300);
    strcat(buf, "\r\n\r\n");
    assert_int_equal(parse(buf), -431);
    /* An endless request line: 414 (before the head limit is reached it needs more). */
    memset(buf, 0, sizeof(buf));
    strcpy(buf, "GET /");
    memset(buf + 5, 'b', 100);
    assert_int_equal(parse(buf), 0);
    memset(buf + 5, 'b', MSSERVE_MAX_HEAD);
    assert_int_equal(parse(buf), -414);
}

static void test_parse_body_fields(void **state) {
    (void)state;
    assert_int_equal(parse("GET / HTTP/1.1\r\nHost: x\r\ncontent-length: 12\r\n\r\n"), 1);
    assert_int_equal(req.content_length, 12);
    assert_int_equal(parse("GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"), 1);
    assert_true(req.chunked);
}

static void test_query_get(void **state) {
    (void)state;
    char v[16];
    assert_int_equal(msserve_query_get("pid=42&gc=1", "pid", v, sizeof(v)), 1);
    assert_string_equal(v, "42");
    assert_int_equal(msserve_query_get("pid=42&gc=1", "gc", v, sizeof(v)), 1);
    assert_string_equal(v, "1");
    assert_int_equal(msserve_query_get("pidx=1&xpid=2", "pid", v, sizeof(v)), 0);
    assert_int_equal(msserve_query_get("", "pid", v, sizeof(v)), 0);
    assert_int_equal(msserve_query_get("seconds", "seconds", v, sizeof(v)), 1);
    assert_string_equal(v, "");
    assert_int_equal(msserve_query_get("a=%34%32+b", "a", v, sizeof(v)), 1);
    assert_string_equal(v, "42 b");
    assert_int_equal(msserve_query_get("a=%4", "a", v, sizeof(v)), -EINVAL);
    assert_int_equal(msserve_query_get("a=%zz", "a", v, sizeof(v)), -EINVAL);
    assert_int_equal(msserve_query_get("a=%00", "a", v, sizeof(v)), -EINVAL);
    assert_int_equal(msserve_query_get("a=0123456789abcdefg", "a", v, sizeof(v)), -ERANGE);
}

static void test_parse_pid(void **state) {
    (void)state;
    int pid = 0;
    assert_int_equal(msserve_parse_pid("1", &pid), 0);
    assert_int_equal(pid, 1);
    assert_int_equal(msserve_parse_pid("4194304", &pid), 0);
    static const char *const bad[] = {
        "", "0", "-1", "+1", "01", "1x", " 1", "4194305", "99999999999999999999"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(msserve_parse_pid(bad[i], &pid), -EINVAL);
}

static void test_label_escape(void **state) {
    (void)state;
    char out[64];
    assert_int_equal(msserve_label_escape("plain", out, sizeof(out)), 5);
    assert_string_equal(out, "plain");
    msserve_label_escape("a\"b\\c\nd", out, sizeof(out));
    assert_string_equal(out, "a\\\"b\\\\c\\nd");
    /* Other controls and invalid UTF-8 become U+FFFD; valid UTF-8 stays. */
    msserve_label_escape("t\tx\x7f", out, sizeof(out));
    assert_string_equal(out, "t\xef\xbf\xbdx\xef\xbf\xbd");
    msserve_label_escape("\xc3\xa9\xff\xc0\xaf\xed\xa0\x80", out, sizeof(out));
    assert_string_equal(out, "\xc3\xa9\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"
                             "\xef\xbf\xbd");
    /* Truncation never cuts an escape or a character. */
    assert_int_equal(msserve_label_escape("ab\"", out, 4), 2);
    assert_string_equal(out, "ab");
    assert_int_equal(msserve_label_escape("a\xc3\xa9", out, 3), 1);
    assert_string_equal(out, "a");
    assert_int_equal(msserve_label_escape("x", out, 0), 0);
}

static void test_json_escape(void **state) {
    (void)state;
    char out[64];
    msserve_json_escape("a\"b\\c\nd\x01", out, sizeof(out));
    assert_string_equal(out, "a\\\"b\\\\c\\nd\\u0001");
    msserve_json_escape("\xfe", out, sizeof(out));
    assert_string_equal(out, "\xef\xbf\xbd");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_simple_get),
        cmocka_unit_test(test_parse_bare_newlines_and_http10),
        cmocka_unit_test(test_parse_needs_more),
        cmocka_unit_test(test_parse_malformed_is_400),
        cmocka_unit_test(test_parse_version_505),
        cmocka_unit_test(test_parse_limits),
        cmocka_unit_test(test_parse_body_fields),
        cmocka_unit_test(test_query_get),
        cmocka_unit_test(test_parse_pid),
        cmocka_unit_test(test_label_escape),
        cmocka_unit_test(test_json_escape),
    };
    return cmocka_run_group_tests_name("tools_serve", tests, NULL, NULL);
}
