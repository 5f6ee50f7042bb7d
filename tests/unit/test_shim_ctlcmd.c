/* SPDX-License-Identifier: MIT */
/*
 * test_shim_ctlcmd.c - the control socket's commands run in-process (shim/ctlcmd.c):
 * every request gets exactly one framed reply, OK with a body of the stated length or
 * ERR with a reason, and the commands act on the same controls as memshim_ctl.
 * The sidecar .env makes jemalloc's profiler ready but inactive, as libmemshim.so does.
 */
#include "test_common.h"

#include <unistd.h>

#include <jemalloc/jemalloc.h>

#include "ctlproto.h"
#include "memshim_internal.h"

typedef struct reply {
    char head[MS_CTLPROTO_MAX_HEAD + 1];
    ms_ctlproto_reply_t r;
    char body[64 * 1024];
    size_t body_len;
} reply_t;

static reply_t rep;

/* Runs line and checks the framing: a parseable header, a body of exactly its length. */
static reply_t *run_bytes(const char *line, size_t len) {
    const char *body = NULL;
    size_t body_len = 0;
    size_t hl = ms_ctlcmd_handle(line, len, rep.head, MS_CTLPROTO_MAX_HEAD, &body, &body_len);
    assert_true(hl > 0 && hl <= MS_CTLPROTO_MAX_HEAD);
    rep.head[hl] = '\0';
    size_t parsed = 0;
    assert_int_equal(ms_ctlproto_parse_head(rep.head, hl, &rep.r, &parsed), 1);
    assert_int_equal(parsed, hl);
    if (rep.r.ok) {
        assert_int_equal(rep.r.body_len, body_len);
        assert_true(body_len < sizeof(rep.body));
        memcpy(rep.body, body, body_len);
    } else {
        assert_int_equal(body_len, 0);
    }
    rep.body_len = rep.r.ok ? body_len : 0;
    rep.body[rep.body_len] = '\0';
    return &rep;
}

static reply_t *run(const char *line) {
    return run_bytes(line, strlen(line));
}

static void assert_err(const char *line, const char *reason) {
    reply_t *r = run(line);
    assert_false(r->r.ok);
    assert_string_equal(r->r.reason, reason);
}

static void test_ctlcmd_stats_is_kv_with_allocator_counters(void **state) {
    (void)state;
    reply_t *r = run("stats");
    assert_true(r->r.ok);
    assert_int_equal(r->r.kind, MS_CTLPROTO_KV);
    char want[64];
    snprintf(want, sizeof(want), "pid\t%d\n", (int)getpid());
    assert_memory_equal(r->body, want, strlen(want));
    assert_non_null(strstr(r->body, "\nallocated\t"));
    assert_non_null(strstr(r->body, "\nresident\t"));
    assert_non_null(strstr(r->body, "\nprof_active\tfalse\n"));
}

static void test_ctlcmd_json_flag_gives_json_object(void **state) {
    (void)state;
    reply_t *r = run("stats --json");
    assert_true(r->r.ok);
    assert_int_equal(r->r.kind, MS_CTLPROTO_JSON);
    char want[64];
    snprintf(want, sizeof(want), "{\"pid\": %d, \"allocated\": ", (int)getpid());
    assert_memory_equal(r->body, want, strlen(want));
    assert_string_equal(r->body + r->body_len - 2, "}\n");
}

static void test_ctlcmd_get_and_set_use_the_control_table(void **state) {
    (void)state;
    reply_t *r = run("get version");
    assert_true(r->r.ok);
    assert_string_equal(r->body, "version\t" MEMSHIM_VERSION "\n");
    r = run("set log.level 2");
    assert_true(r->r.ok);
    assert_string_equal(r->body, "log.level\t2\n");
    uint64_t v = 0;
    size_t len = sizeof(v);
    assert_int_equal(memshim_ctl("log.level", &v, &len, NULL, 0), 0);
    assert_int_equal(v, 2);
    r = run("set log.level 1");
    assert_true(r->r.ok);
}

static void test_ctlcmd_set_runs_actions_without_value(void **state) {
    (void)state;
    reply_t *r = run("set inject.reset");
    assert_true(r->r.ok);
    assert_string_equal(r->body, "inject.reset\tdone\n");
}

static void test_ctlcmd_rejects_bad_control_requests(void **state) {
    (void)state;
    assert_err("get no.such", "unknown control 'no.such', see 'config'");
    assert_err("set version 2", "'version' is read-only");
    assert_err("get purge", "'purge' is write-only");
    assert_err("set log.level nine", "invalid or out-of-range value 'nine' for 'log.level' (u64)");
    assert_err("set log.level", "missing VALUE for 'log.level' (usage: set NAME VALUE)");
}

static void test_ctlcmd_rejects_malformed_requests(void **state) {
    (void)state;
    assert_err("", "empty request");
    assert_err("frobnicate", "unknown command 'frobnicate', try 'help'");
    assert_err("stats now", "wrong number of arguments for 'stats' (usage: stats)");
    assert_err("heap", "'heap' needs a subcommand, one of: enable disable status dump reset");
    reply_t *r = run_bytes("stats\0", 6);
    assert_false(r->r.ok);
    assert_string_equal(r->r.reason, "malformed request: control byte 0x00 at offset 5");
    static char big[MS_CTLPROTO_MAX_LINE + 8];
    memset(big, 'a', sizeof(big));
    r = run_bytes(big, sizeof(big));
    assert_false(r->r.ok);
    assert_string_equal(r->r.reason, "request too long (max 4095 bytes)");
}

static int count_row(const char *name, const char *type, const char *help, void *arg) {
    (void)name, (void)type, (void)help;
    (*(size_t *)arg)++;
    return 0;
}

static void test_ctlcmd_config_lists_every_control(void **state) {
    (void)state;
    reply_t *r = run("config");
    assert_true(r->r.ok);
    assert_int_equal(r->r.kind, MS_CTLPROTO_TABLE);
    assert_memory_equal(r->body, "name\ttype\taccess\tvalue\n", 23);
    assert_non_null(strstr(r->body, "\nctl.enable\tbool\trw\tfalse\n"));
    assert_non_null(strstr(r->body, "\npurge\taction\two\t-\n"));
    assert_non_null(strstr(r->body, "\nversion\tstring\tro\t" MEMSHIM_VERSION "\n"));
    size_t rows = 0, n = 0;
    for (const char *p = r->body; *p; p++)
        rows += *p == '\n';
    assert_int_equal(memshim_ctl_foreach(count_row, &n), 0);
    assert_int_equal(rows, n + 1); /* the header, then one row per control */
}

static void test_ctlcmd_frag_rows_are_consistent(void **state) {
    (void)state;
    void *keep[300];
    for (int i = 0; i < 300; i++)
        keep[i] = mallocx(48, 0); /* jemalloc's, also when a sanitizer owns malloc */
    reply_t *r = run("frag");
    assert_true(r->r.ok);
    assert_int_equal(r->r.kind, MS_CTLPROTO_TABLE);
    const char *hdr = "bin\tsize\tregions\tused\tfree\tslabs\tnonfull\tutil\twasted\n";
    assert_memory_equal(r->body, hdr, strlen(hdr));
    /* Every row: regions = used + free, wasted = free * size, 0 <= util <= 1. */
    size_t rows = 0;
    bool saw48 = false;
    for (const char *p = strchr(r->body, '\n') + 1; *p != '\0'; p = strchr(p, '\n') + 1) {
        unsigned long long bin, size, regions, used, fr, slabs, nonfull, wasted;
        double util;
        assert_int_equal(sscanf(p, "%llu\t%llu\t%llu\t%llu\t%llu\t%llu\t%llu\t%lf\t%llu", &bin,
                                &size, &regions, &used, &fr, &slabs, &nonfull, &util, &wasted),
                         9);
        assert_int_equal(regions, used + fr);
        assert_int_equal(wasted, fr * size);
        assert_true(slabs > 0 && nonfull <= slabs);
        assert_true(util >= 0.0 && util <= 1.0);
        if (size == 48 && used >= 300) saw48 = true;
        rows++;
    }
    assert_true(rows > 0);
    assert_true(saw48);
    for (int i = 0; i < 300; i++)
        dallocx(keep[i], 0);
}

static void test_ctlcmd_frag_json_is_array(void **state) {
    (void)state;
    reply_t *r = run("frag --json");
    assert_true(r->r.ok);
    assert_int_equal(r->r.kind, MS_CTLPROTO_JSON);
    assert_memory_equal(r->body, "[{\"bin\": ", 9);
}

static void test_ctlcmd_purge_reports_resident(void **state) {
    (void)state;
    reply_t *r = run("purge");
    assert_true(r->r.ok);
    assert_memory_equal(r->body, "resident_before\t", 16);
    assert_non_null(strstr(r->body, "\nreleased\t"));
}

static void test_ctlcmd_heap_cycle_enables_dumps_and_disables(void **state) {
    (void)state;
    char path[64];
    snprintf(path, sizeof(path), "/tmp/test_ctlcmd.%d.heap", (int)getpid());
    char line[128];
    snprintf(line, sizeof(line), "heap dump %s", path);
    char why[256];
    snprintf(why, sizeof(why),
             "profiling is not active: enable it first with `memshim ctl %d heap enable`, or "
             "start the program with `memshim run --prof` (MEMSHIM_PROF=1)",
             (int)getpid());
    assert_err(line, why);
    reply_t *r = run("heap enable");
    assert_true(r->r.ok);
    assert_string_equal(r->body, "available\ttrue\nactive\ttrue\nlg_sample\t19\n");
    r = run(line);
    assert_true(r->r.ok);
    char want[96];
    snprintf(want, sizeof(want), "path\t%s\n", path);
    assert_string_equal(r->body, want);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char first[32] = "";
    assert_non_null(fgets(first, sizeof(first), f));
    fclose(f);
    unlink(path);
    assert_memory_equal(first, "heap_v2/", 8);
    r = run("heap reset 12");
    assert_true(r->r.ok);
    assert_non_null(strstr(r->body, "lg_sample\t12\n"));
    assert_err("heap reset 63", "LG_SAMPLE must be an integer from 0 to 62, not '63'");
    r = run("heap disable");
    assert_true(r->r.ok);
    assert_string_equal(r->body, "available\ttrue\nactive\tfalse\nlg_sample\t12\n");
    r = run("heap status");
    assert_true(r->r.ok);
    assert_non_null(strstr(r->body, "\ndumps\t1\n"));
}

static void test_ctlcmd_help_lists_every_command(void **state) {
    (void)state;
    reply_t *r = run("HELP");
    assert_true(r->r.ok);
    assert_int_equal(r->r.kind, MS_CTLPROTO_TEXT);
    size_t n;
    const ms_ctlcmd_t *cmds = ms_ctlproto_commands(&n);
    for (size_t i = 0; i < n; i++)
        assert_non_null(strstr(r->body, cmds[i].usage));
}

/* The tables are generated from one list: ids in table order, a handler for each. */
static void test_ctlcmd_every_command_has_a_handler(void **state) {
    (void)state;
    size_t n;
    const ms_ctlcmd_t *cmds = ms_ctlproto_commands(&n);
    assert_int_equal(n, MS_CTLCMD_COUNT);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(cmds[i].id, i);
        assert_non_null(cmds[i].name);
        assert_non_null(cmds[i].usage);
        assert_non_null(cmds[i].help);
    }
    assert_true(ms_ctlcmd_table_complete());
}

/*
 * Under `make valgrind` the sampled allocations are walked with libgcc: libunwind probes
 * stack memory by write(2)-ing it to a pipe, which memcheck reports as uninitialised
 * bytes (a false positive; see test_shim_prof.c).
 */
static int setup(void **state) {
    (void)state;
    if (getenv("MEMSHIM_VALGRIND") != NULL)
        return memshim_ctl_set_str("prof.unwinder", "libgcc") == 0 ? 0 : -1;
    return 0;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ctlcmd_stats_is_kv_with_allocator_counters),
        cmocka_unit_test(test_ctlcmd_json_flag_gives_json_object),
        cmocka_unit_test(test_ctlcmd_get_and_set_use_the_control_table),
        cmocka_unit_test(test_ctlcmd_set_runs_actions_without_value),
        cmocka_unit_test(test_ctlcmd_rejects_bad_control_requests),
        cmocka_unit_test(test_ctlcmd_rejects_malformed_requests),
        cmocka_unit_test(test_ctlcmd_config_lists_every_control),
        cmocka_unit_test(test_ctlcmd_frag_rows_are_consistent),
        cmocka_unit_test(test_ctlcmd_frag_json_is_array),
        cmocka_unit_test(test_ctlcmd_purge_reports_resident),
        cmocka_unit_test(test_ctlcmd_heap_cycle_enables_dumps_and_disables),
        cmocka_unit_test(test_ctlcmd_help_lists_every_command),
        cmocka_unit_test(test_ctlcmd_every_command_has_a_handler),
    };
    return cmocka_run_group_tests_name("shim_ctlcmd", tests, setup, NULL);
}
