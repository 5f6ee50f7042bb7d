/* SPDX-License-Identifier: MIT */
/*
 * test_shim_ctlproto.c - the control socket's wire protocol (shim/ctlproto.c): request
 * parsing and command matching, line assembly, reply framing, TSV-to-JSON bodies, the
 * socket directory rules, and the frag table's arithmetic.
 */
#include "test_common.h"

#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ctlproto.h"

static ms_ctlproto_req_t req;

static int parse_str(const char *s) {
    return ms_ctlproto_parse(&req, s, strlen(s));
}

/* --- Requests --- */

static void test_parse_splits_tokens_on_spaces_and_tabs(void **state) {
    (void)state;
    assert_int_equal(parse_str("  heap \t dump  /tmp/x.heap "), 0);
    assert_int_equal(req.ntok, 3);
    assert_string_equal(req.tok[0], "heap");
    assert_string_equal(req.tok[1], "dump");
    assert_string_equal(req.tok[2], "/tmp/x.heap");
    assert_false(req.json);
}

static void test_parse_drops_trailing_cr(void **state) {
    (void)state;
    assert_int_equal(parse_str("stats\r"), 0);
    assert_int_equal(req.ntok, 1);
    assert_string_equal(req.tok[0], "stats");
}

static void test_parse_takes_json_flag_out_of_tokens(void **state) {
    (void)state;
    assert_int_equal(parse_str("stats --json"), 0);
    assert_int_equal(req.ntok, 1);
    assert_true(req.json);
    assert_int_equal(parse_str("--json frag"), 0);
    assert_int_equal(req.ntok, 1);
    assert_string_equal(req.tok[0], "frag");
    assert_true(req.json);
}

static void test_parse_rejects_empty_line(void **state) {
    (void)state;
    assert_int_equal(parse_str(""), -EPROTO);
    assert_string_equal(req.errstr, "empty request");
    assert_int_equal(parse_str(" \t "), -EPROTO);
    assert_int_equal(parse_str("--json"), -EPROTO);
}

static void test_parse_rejects_control_bytes(void **state) {
    (void)state;
    assert_int_equal(parse_str("sta\x01ts"), -EPROTO);
    assert_string_equal(req.errstr, "malformed request: control byte 0x01 at offset 3");
    assert_int_equal(ms_ctlproto_parse(&req, "get\0x", 5), -EPROTO);
    assert_int_equal(parse_str("get \x7f"), -EPROTO);
    assert_int_equal(parse_str("a\rb"), -EPROTO);
}

static void test_parse_accepts_utf8_bytes(void **state) {
    (void)state;
    assert_int_equal(parse_str("heap dump /tmp/h\xc3\xa9.heap"), 0);
    assert_string_equal(req.tok[2], "/tmp/h\xc3\xa9.heap");
}

static void test_parse_rejects_too_many_tokens(void **state) {
    (void)state;
    char line[128] = "";
    for (int i = 0; i < MS_CTLPROTO_MAX_TOKENS; i++)
        strcat(line, "a ");
    assert_int_equal(parse_str(line), 0);
    assert_int_equal(req.ntok, MS_CTLPROTO_MAX_TOKENS);
    strcat(line, "b");
    assert_int_equal(parse_str(line), -EPROTO);
    assert_string_equal(req.errstr, "too many arguments (max 16)");
}

static void test_parse_rejects_line_at_max_length(void **state) {
    (void)state;
    static char line[MS_CTLPROTO_MAX_LINE + 1];
    memset(line, 'a', sizeof(line));
    assert_int_equal(ms_ctlproto_parse(&req, line, MS_CTLPROTO_MAX_LINE - 1), 0);
    assert_int_equal(strlen(req.tok[0]), MS_CTLPROTO_MAX_LINE - 1);
    assert_int_equal(ms_ctlproto_parse(&req, line, MS_CTLPROTO_MAX_LINE), -EMSGSIZE);
    assert_string_equal(req.errstr, "request too long (max 4095 bytes)");
}

static int match_str(const char *s, const ms_ctlcmd_t **cmd, int *argi, char *err, size_t n) {
    assert_int_equal(parse_str(s), 0);
    return ms_ctlproto_match(&req, cmd, argi, err, n);
}

static void test_match_finds_commands_and_first_argument(void **state) {
    (void)state;
    const ms_ctlcmd_t *cmd = NULL;
    int argi = -1;
    char err[256];
    assert_int_equal(match_str("heap dump /tmp/a", &cmd, &argi, err, sizeof(err)), 0);
    assert_int_equal(cmd->id, MS_CTLCMD_HEAP_DUMP);
    assert_int_equal(argi, 2);
    assert_int_equal(match_str("set log.level 2", &cmd, &argi, err, sizeof(err)), 0);
    assert_int_equal(cmd->id, MS_CTLCMD_SET);
    assert_int_equal(argi, 1);
    assert_int_equal(match_str("HEAP Enable", &cmd, &argi, err, sizeof(err)), 0);
    assert_int_equal(cmd->id, MS_CTLCMD_HEAP_ENABLE);
}

static void test_match_rejects_unknown_command(void **state) {
    (void)state;
    const ms_ctlcmd_t *cmd = NULL;
    int argi;
    char err[256];
    assert_int_equal(match_str("shutdown now", &cmd, &argi, err, sizeof(err)), -ENOENT);
    assert_string_equal(err, "unknown command 'shutdown', try 'help'");
    assert_null(cmd);
}

static void test_match_rejects_unknown_subcommand(void **state) {
    (void)state;
    const ms_ctlcmd_t *cmd = NULL;
    int argi;
    char err[256];
    assert_int_equal(match_str("heap explode", &cmd, &argi, err, sizeof(err)), -ENOENT);
    assert_string_equal(err, "unknown subcommand 'explode' for 'heap', try one of: enable "
                             "disable status dump reset");
}

static void test_match_rejects_missing_subcommand(void **state) {
    (void)state;
    const ms_ctlcmd_t *cmd = NULL;
    int argi;
    char err[256];
    assert_int_equal(match_str("heap", &cmd, &argi, err, sizeof(err)), -EINVAL);
    assert_string_equal(err, "'heap' needs a subcommand, one of: enable disable status dump reset");
}

static void test_match_rejects_wrong_arity(void **state) {
    (void)state;
    const ms_ctlcmd_t *cmd = NULL;
    int argi;
    char err[256];
    assert_int_equal(match_str("heap dump a b", &cmd, &argi, err, sizeof(err)), -EINVAL);
    assert_string_equal(err, "wrong number of arguments for 'heap dump [PATH]' (usage: heap "
                             "dump [PATH])");
    assert_int_equal(match_str("get", &cmd, &argi, err, sizeof(err)), -EINVAL);
    assert_string_equal(err, "wrong number of arguments for 'get' (usage: get NAME)");
    assert_int_equal(match_str("stats extra", &cmd, &argi, err, sizeof(err)), -EINVAL);
    assert_int_equal(match_str("set a b c", &cmd, &argi, err, sizeof(err)), -EINVAL);
}

static void test_match_truncates_long_reason_safely(void **state) {
    (void)state;
    const ms_ctlcmd_t *cmd = NULL;
    int argi;
    char err[24];
    assert_int_equal(match_str("heap nope", &cmd, &argi, err, sizeof(err)), -ENOENT);
    assert_int_equal(strlen(err), sizeof(err) - 1);
}

static void test_command_table_covers_every_id_once(void **state) {
    (void)state;
    size_t n = 0;
    const ms_ctlcmd_t *t = ms_ctlproto_commands(&n);
    assert_int_equal(n, MS_CTLCMD_COUNT);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(t[i].id, (ms_ctlcmd_id_t)i);
}

/* --- Line assembly --- */

static void feed(ms_ctlproto_lbuf_t *lb, const char *s, size_t n) {
    size_t avail;
    char *dst = ms_ctlproto_lbuf_space(lb, &avail);
    assert_true(avail >= n);
    memcpy(dst, s, n);
    ms_ctlproto_lbuf_commit(lb, n);
}

static void test_lbuf_hands_out_lines_one_at_a_time(void **state) {
    (void)state;
    static ms_ctlproto_lbuf_t lb;
    const char *line;
    size_t len;
    ms_ctlproto_lbuf_init(&lb);
    feed(&lb, "stats\nfrag\nhe", 13);
    assert_int_equal(ms_ctlproto_lbuf_take(&lb, false, &line, &len), 1);
    assert_int_equal(len, 5);
    assert_memory_equal(line, "stats", 5);
    assert_int_equal(ms_ctlproto_lbuf_take(&lb, false, &line, &len), 1);
    assert_int_equal(len, 4);
    assert_memory_equal(line, "frag", 4);
    assert_int_equal(ms_ctlproto_lbuf_take(&lb, false, &line, &len), 0);
    feed(&lb, "lp\n", 3);
    assert_int_equal(ms_ctlproto_lbuf_take(&lb, false, &line, &len), 1);
    assert_int_equal(len, 4);
    assert_memory_equal(line, "help", 4);
    assert_int_equal(ms_ctlproto_lbuf_take(&lb, false, &line, &len), 0);
}

static void test_lbuf_takes_unterminated_line_at_eof(void **state) {
    (void)state;
    static ms_ctlproto_lbuf_t lb;
    const char *line;
    size_t len;
    ms_ctlproto_lbuf_init(&lb);
    feed(&lb, "purge", 5);
    assert_int_equal(ms_ctlproto_lbuf_take(&lb, false, &line, &len), 0);
    assert_int_equal(ms_ctlproto_lbuf_take(&lb, true, &line, &len), 1);
    assert_int_equal(len, 5);
    assert_int_equal(ms_ctlproto_lbuf_take(&lb, true, &line, &len), 0);
}

static void test_lbuf_error_on_too_long_line_is_sticky(void **state) {
    (void)state;
    static ms_ctlproto_lbuf_t lb;
    static char junk[MS_CTLPROTO_MAX_LINE];
    const char *line;
    size_t len, avail;
    memset(junk, 'x', sizeof(junk));
    ms_ctlproto_lbuf_init(&lb);
    feed(&lb, junk, sizeof(junk) - 1);
    assert_int_equal(ms_ctlproto_lbuf_take(&lb, false, &line, &len), 0);
    feed(&lb, junk, 1); /* the buffer is now full without a newline */
    assert_int_equal(ms_ctlproto_lbuf_take(&lb, false, &line, &len), -EMSGSIZE);
    ms_ctlproto_lbuf_space(&lb, &avail);
    assert_int_equal(avail, 0);
    assert_int_equal(ms_ctlproto_lbuf_take(&lb, true, &line, &len), -EMSGSIZE);
}

static void test_lbuf_accepts_line_of_max_length(void **state) {
    (void)state;
    static ms_ctlproto_lbuf_t lb;
    static char junk[MS_CTLPROTO_MAX_LINE];
    const char *line;
    size_t len;
    memset(junk, 'x', sizeof(junk));
    junk[sizeof(junk) - 1] = '\n';
    ms_ctlproto_lbuf_init(&lb);
    feed(&lb, junk, sizeof(junk));
    assert_int_equal(ms_ctlproto_lbuf_take(&lb, false, &line, &len), 1);
    assert_int_equal(len, MS_CTLPROTO_MAX_LINE - 1);
    assert_int_equal(ms_ctlproto_parse(&req, line, len), 0);
}

/* --- Bodies and framing --- */

static void test_body_cells_replace_tabs_and_newlines(void **state) {
    (void)state;
    char buf[64];
    ms_ctlproto_body_t b;
    ms_ctlproto_body_init(&b, buf, sizeof(buf), MS_CTLPROTO_KV);
    ms_ctlproto_body_cell(&b, "a\tb");
    ms_ctlproto_body_cell(&b, "c\nd");
    ms_ctlproto_body_endrow(&b);
    ms_ctlproto_body_kvf(&b, "k", "%s", "");
    assert_false(b.overflow);
    assert_int_equal(b.len, 12);
    assert_memory_equal(buf, "a b\tc d\nk\t-\n", 12);
}

static void test_body_overflow_is_sticky(void **state) {
    (void)state;
    char buf[8];
    ms_ctlproto_body_t b;
    ms_ctlproto_body_init(&b, buf, sizeof(buf), MS_CTLPROTO_TEXT);
    ms_ctlproto_body_printf(&b, "%s", "12345");
    assert_false(b.overflow);
    ms_ctlproto_body_printf(&b, "%s", "6789");
    assert_true(b.overflow);
    ms_ctlproto_body_add(&b, "x", 1);
    assert_true(b.overflow);
    assert_int_equal(b.len, 5);
}

static void test_ok_head_states_length_and_kind(void **state) {
    (void)state;
    char head[MS_CTLPROTO_MAX_HEAD];
    assert_int_equal(ms_ctlproto_ok_head(head, sizeof(head), MS_CTLPROTO_TABLE, 1234), 14);
    assert_string_equal(head, "OK 1234 table\n");
    assert_int_equal(ms_ctlproto_ok_head(head, 8, MS_CTLPROTO_TABLE, 1234), -ENOSPC);
}

static void test_err_head_is_one_line(void **state) {
    (void)state;
    char head[MS_CTLPROTO_MAX_HEAD];
    int n = ms_ctlproto_err_head(head, sizeof(head), "bad\nthing");
    assert_int_equal(n, 14);
    assert_memory_equal(head, "ERR bad thing\n", 14);
    char longr[1000];
    memset(longr, 'r', sizeof(longr) - 1);
    longr[sizeof(longr) - 1] = '\0';
    n = ms_ctlproto_err_head(head, sizeof(head), longr);
    assert_int_equal(n, 4 + MS_CTLPROTO_MAX_REASON + 1);
    assert_int_equal(head[n - 1], '\n');
}

static void test_parse_head_reads_ok_and_err(void **state) {
    (void)state;
    ms_ctlproto_reply_t r;
    size_t hl = 0;
    const char ok[] = "OK 12 kv\nbody";
    assert_int_equal(ms_ctlproto_parse_head(ok, sizeof(ok) - 1, &r, &hl), 1);
    assert_true(r.ok);
    assert_int_equal(r.kind, MS_CTLPROTO_KV);
    assert_int_equal(r.body_len, 12);
    assert_int_equal(hl, 9);
    const char err[] = "ERR unknown command 'x'\n";
    assert_int_equal(ms_ctlproto_parse_head(err, sizeof(err) - 1, &r, &hl), 1);
    assert_false(r.ok);
    assert_string_equal(r.reason, "unknown command 'x'");
    assert_int_equal(hl, sizeof(err) - 1);
}

static void test_parse_head_waits_for_newline(void **state) {
    (void)state;
    ms_ctlproto_reply_t r;
    size_t hl;
    assert_int_equal(ms_ctlproto_parse_head("OK 12 k", 7, &r, &hl), 0);
}

static void test_parse_head_rejects_malformed_headers(void **state) {
    (void)state;
    static const char *const bad[] = {
        "HELLO\n",
        "OK\n",
        "OK x kv\n",
        "OK 12\n",
        "OK 12 blob\n",
        "OK -1 text\n",
        "OK 99999999999999999999 text\n",
        "ok 1 kv\n",
    };
    ms_ctlproto_reply_t r;
    size_t hl;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(ms_ctlproto_parse_head(bad[i], strlen(bad[i]), &r, &hl), -EPROTO);
    char big[MS_CTLPROTO_MAX_HEAD + 10];
    memset(big, 'O', sizeof(big));
    assert_int_equal(ms_ctlproto_parse_head(big, sizeof(big), &r, &hl), -EPROTO);
    char head[64];
    snprintf(head, sizeof(head), "OK %u text\n", MS_CTLPROTO_MAX_BODY + 1);
    assert_int_equal(ms_ctlproto_parse_head(head, strlen(head), &r, &hl), -EPROTO);
}

static void test_framing_round_trips(void **state) {
    (void)state;
    char head[MS_CTLPROTO_MAX_HEAD];
    int n = ms_ctlproto_ok_head(head, sizeof(head), MS_CTLPROTO_JSON, 77);
    ms_ctlproto_reply_t r;
    size_t hl;
    assert_int_equal(ms_ctlproto_parse_head(head, (size_t)n, &r, &hl), 1);
    assert_int_equal(hl, (size_t)n);
    assert_int_equal(r.kind, MS_CTLPROTO_JSON);
    assert_int_equal(r.body_len, 77);
}

/* --- JSON --- */

static const char *json_of(ms_ctlproto_kind_t kind, const char *body, char *buf, size_t cap) {
    ms_ctlproto_body_t out;
    ms_ctlproto_body_init(&out, buf, cap - 1, MS_CTLPROTO_TEXT);
    assert_int_equal(ms_ctlproto_to_json(kind, body, strlen(body), &out), 0);
    assert_int_equal(out.kind, MS_CTLPROTO_JSON);
    buf[out.len] = '\0';
    return buf;
}

static void test_json_kv_becomes_object_with_typed_values(void **state) {
    (void)state;
    char buf[512];
    assert_string_equal(json_of(MS_CTLPROTO_KV,
                                "allocated\t1024\nratio\t1.25\nactive\ttrue\npath\t/tmp/a\"b\n"
                                "neg\t-3e5\nzero\t007\nhex\t0x10\nnone\t-\n",
                                buf, sizeof(buf)),
                        "{\"allocated\": 1024, \"ratio\": 1.25, \"active\": true, \"path\": "
                        "\"/tmp/a\\\"b\", \"neg\": -3e5, \"zero\": \"007\", \"hex\": \"0x10\", "
                        "\"none\": null}\n");
}

static void test_json_table_becomes_array_of_objects(void **state) {
    (void)state;
    char buf[512];
    assert_string_equal(
        json_of(MS_CTLPROTO_TABLE, "size\tutil\n16\t0.5\n32\t1\n", buf, sizeof(buf)),
        "[{\"size\": 16, \"util\": 0.5},\n {\"size\": 32, \"util\": 1}]\n");
    assert_string_equal(json_of(MS_CTLPROTO_TABLE, "size\tutil\n", buf, sizeof(buf)), "[]\n");
}

static void test_json_text_is_escaped(void **state) {
    (void)state;
    char buf[512];
    assert_string_equal(json_of(MS_CTLPROTO_TEXT, "a\\b\n\x01\n", buf, sizeof(buf)),
                        "{\"text\": \"a\\\\b\\n\\u0001\"}\n");
}

static void test_json_rejects_row_wider_than_header(void **state) {
    (void)state;
    char buf[512];
    ms_ctlproto_body_t out;
    ms_ctlproto_body_init(&out, buf, sizeof(buf), MS_CTLPROTO_TEXT);
    const char *t = "a\tb\n1\t2\t3\n";
    assert_int_equal(ms_ctlproto_to_json(MS_CTLPROTO_TABLE, t, strlen(t), &out), -EPROTO);
    const char *kv = "a\t1\t2\n";
    ms_ctlproto_body_init(&out, buf, sizeof(buf), MS_CTLPROTO_TEXT);
    assert_int_equal(ms_ctlproto_to_json(MS_CTLPROTO_KV, kv, strlen(kv), &out), -EPROTO);
}

static void test_json_reports_no_space(void **state) {
    (void)state;
    char buf[8];
    ms_ctlproto_body_t out;
    ms_ctlproto_body_init(&out, buf, sizeof(buf), MS_CTLPROTO_TEXT);
    const char *kv = "allocated\t1024\n";
    assert_int_equal(ms_ctlproto_to_json(MS_CTLPROTO_KV, kv, strlen(kv), &out), -ENOSPC);
}

/* --- Where sockets live --- */

static void test_sock_dir_prefers_xdg_runtime_dir(void **state) {
    (void)state;
    char dir[128], want[64];
    setenv("XDG_RUNTIME_DIR", "/run/user/1000", 1);
    assert_int_equal(ms_ctlproto_sock_dir(dir, sizeof(dir)), 0);
    assert_string_equal(dir, "/run/user/1000/memshim");
    setenv("XDG_RUNTIME_DIR", "relative/dir", 1); /* not absolute: ignored */
    assert_int_equal(ms_ctlproto_sock_dir(dir, sizeof(dir)), 0);
    snprintf(want, sizeof(want), "/tmp/memshim-%u", (unsigned)geteuid());
    assert_string_equal(dir, want);
    unsetenv("XDG_RUNTIME_DIR");
    assert_int_equal(ms_ctlproto_sock_dir(dir, sizeof(dir)), 0);
    assert_string_equal(dir, want);
    assert_int_equal(ms_ctlproto_sock_dir(dir, 8), -ENAMETOOLONG);
}

static void test_sock_path_fits_sockaddr(void **state) {
    (void)state;
    char path[256], dir[200];
    assert_int_equal(ms_ctlproto_sock_path("/tmp/memshim-0", 4242, path, sizeof(path)), 0);
    assert_string_equal(path, "/tmp/memshim-0/4242.sock");
    memset(dir, 'd', sizeof(dir) - 1);
    dir[0] = '/';
    dir[sizeof(dir) - 1] = '\0';
    assert_int_equal(ms_ctlproto_sock_path(dir, 1, path, sizeof(path)), -ENAMETOOLONG);
}

static char tmpdir[64];

static int make_tmpdir(void **state) {
    (void)state;
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_ctlproto.XXXXXX");
    return mkdtemp(tmpdir) == NULL ? -1 : 0;
}

static int remove_tmpdir(void **state) {
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static void test_dir_prepare_creates_private_dir(void **state) {
    (void)state;
    char d[128];
    struct stat st;
    snprintf(d, sizeof(d), "%s/new", tmpdir);
    assert_int_equal(ms_ctlproto_dir_prepare(d, false), -ENOENT);
    assert_int_equal(ms_ctlproto_dir_prepare(d, true), 0);
    assert_int_equal(stat(d, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
    assert_int_equal(ms_ctlproto_dir_prepare(d, true), 0); /* existing and fine */
}

static void test_dir_prepare_tightens_mode_of_own_dir(void **state) {
    (void)state;
    char d[128];
    struct stat st;
    snprintf(d, sizeof(d), "%s/loose", tmpdir);
    assert_int_equal(mkdir(d, 0755), 0);
    assert_int_equal(chmod(d, 0777), 0);
    assert_int_equal(ms_ctlproto_dir_prepare(d, true), 0);
    assert_int_equal(stat(d, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
}

static void test_dir_prepare_refuses_symlink_and_file(void **state) {
    (void)state;
    char d[128], f[128];
    snprintf(d, sizeof(d), "%s/link", tmpdir);
    assert_int_equal(symlink("/tmp", d), 0);
    assert_int_equal(ms_ctlproto_dir_prepare(d, true), -ENOTDIR);
    snprintf(f, sizeof(f), "%s/file", tmpdir);
    FILE *fp = fopen(f, "w");
    assert_non_null(fp);
    fclose(fp);
    assert_int_equal(ms_ctlproto_dir_prepare(f, true), -ENOTDIR);
}

static void test_dir_prepare_refuses_dir_of_another_user(void **state) {
    (void)state;
    if (geteuid() != 0) skip(); /* only root can give a directory away */
    char d[128];
    struct stat st;
    snprintf(d, sizeof(d), "%s/foreign", tmpdir);
    assert_int_equal(mkdir(d, 0700), 0);
    assert_int_equal(chown(d, 65534, 65534), 0);
    assert_int_equal(ms_ctlproto_dir_prepare(d, true), -EPERM);
    assert_int_equal(stat(d, &st), 0);
    assert_int_equal(st.st_uid, 65534); /* left alone */
}

/* --- The frag table's arithmetic --- */

static void test_frag_row_counts_regions_and_waste(void **state) {
    (void)state;
    ms_frag_bin_t bin = {
        .reg_size = 48, .nregs = 256, .curregs = 300, .curslabs = 2, .nonfull_slabs = 1};
    ms_frag_row_t row;
    ms_frag_row_compute(&bin, &row);
    assert_int_equal(row.regions, 512);
    assert_int_equal(row.used, 300);
    assert_int_equal(row.free_regs, 212);
    assert_int_equal(row.wasted, 212 * 48);
    assert_true(row.util > 0.5859 && row.util < 0.5860); /* 300 / 512 = 0.58594 */
}

static void test_frag_row_full_bin_wastes_nothing(void **state) {
    (void)state;
    ms_frag_bin_t bin = {.reg_size = 8, .nregs = 512, .curregs = 1024, .curslabs = 2};
    ms_frag_row_t row;
    ms_frag_row_compute(&bin, &row);
    assert_int_equal(row.free_regs, 0);
    assert_int_equal(row.wasted, 0);
    assert_true(row.util == 1.0);
}

static void test_frag_row_without_slabs_is_fully_utilised(void **state) {
    (void)state;
    ms_frag_bin_t bin = {.reg_size = 4096, .nregs = 1};
    ms_frag_row_t row;
    ms_frag_row_compute(&bin, &row);
    assert_int_equal(row.regions, 0);
    assert_int_equal(row.wasted, 0);
    assert_true(row.util == 1.0);
}

static void test_frag_row_caps_used_at_regions(void **state) {
    (void)state;
    /* jemalloc's counters are merged from several arenas without one lock: a snapshot can
     * briefly show more regions in use than the slabs hold. */
    ms_frag_bin_t bin = {.reg_size = 16, .nregs = 256, .curregs = 300, .curslabs = 1};
    ms_frag_row_t row;
    ms_frag_row_compute(&bin, &row);
    assert_int_equal(row.used, 256);
    assert_int_equal(row.free_regs, 0);
    assert_int_equal(row.wasted, 0);
}

static void test_frag_row_wasted_uses_64_bit_arithmetic(void **state) {
    (void)state;
    ms_frag_bin_t bin = {.reg_size = 14336, .nregs = 2, .curregs = 1, .curslabs = 1u << 20};
    ms_frag_row_t row;
    ms_frag_row_compute(&bin, &row);
    assert_int_equal(row.regions, 2ull << 20);
    assert_true(row.wasted == ((2ull << 20) - 1) * 14336ull);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_splits_tokens_on_spaces_and_tabs),
        cmocka_unit_test(test_parse_drops_trailing_cr),
        cmocka_unit_test(test_parse_takes_json_flag_out_of_tokens),
        cmocka_unit_test(test_parse_rejects_empty_line),
        cmocka_unit_test(test_parse_rejects_control_bytes),
        cmocka_unit_test(test_parse_accepts_utf8_bytes),
        cmocka_unit_test(test_parse_rejects_too_many_tokens),
        cmocka_unit_test(test_parse_rejects_line_at_max_length),
        cmocka_unit_test(test_match_finds_commands_and_first_argument),
        cmocka_unit_test(test_match_rejects_unknown_command),
        cmocka_unit_test(test_match_rejects_unknown_subcommand),
        cmocka_unit_test(test_match_rejects_missing_subcommand),
        cmocka_unit_test(test_match_rejects_wrong_arity),
        cmocka_unit_test(test_match_truncates_long_reason_safely),
        cmocka_unit_test(test_command_table_covers_every_id_once),
        cmocka_unit_test(test_lbuf_hands_out_lines_one_at_a_time),
        cmocka_unit_test(test_lbuf_takes_unterminated_line_at_eof),
        cmocka_unit_test(test_lbuf_error_on_too_long_line_is_sticky),
        cmocka_unit_test(test_lbuf_accepts_line_of_max_length),
        cmocka_unit_test(test_body_cells_replace_tabs_and_newlines),
        cmocka_unit_test(test_body_overflow_is_sticky),
        cmocka_unit_test(test_ok_head_states_length_and_kind),
        cmocka_unit_test(test_err_head_is_one_line),
        cmocka_unit_test(test_parse_head_reads_ok_and_err),
        cmocka_unit_test(test_parse_head_waits_for_newline),
        cmocka_unit_test(test_parse_head_rejects_malformed_headers),
        cmocka_unit_test(test_framing_round_trips),
        cmocka_unit_test(test_json_kv_becomes_object_with_typed_values),
        cmocka_unit_test(test_json_table_becomes_array_of_objects),
        cmocka_unit_test(test_json_text_is_escaped),
        cmocka_unit_test(test_json_rejects_row_wider_than_header),
        cmocka_unit_test(test_json_reports_no_space),
        cmocka_unit_test(test_sock_dir_prefers_xdg_runtime_dir),
        cmocka_unit_test(test_sock_path_fits_sockaddr),
        cmocka_unit_test(test_dir_prepare_creates_private_dir),
        cmocka_unit_test(test_dir_prepare_tightens_mode_of_own_dir),
        cmocka_unit_test(test_dir_prepare_refuses_symlink_and_file),
        cmocka_unit_test(test_dir_prepare_refuses_dir_of_another_user),
        cmocka_unit_test(test_frag_row_counts_regions_and_waste),
        cmocka_unit_test(test_frag_row_full_bin_wastes_nothing),
        cmocka_unit_test(test_frag_row_without_slabs_is_fully_utilised),
        cmocka_unit_test(test_frag_row_caps_used_at_regions),
        cmocka_unit_test(test_frag_row_wasted_uses_64_bit_arithmetic),
    };
    return cmocka_run_group_tests_name("shim_ctlproto", tests, make_tmpdir, remove_tmpdir);
}
