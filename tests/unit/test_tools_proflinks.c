/* SPDX-License-Identifier: MIT */
/*
 * test_tools_proflinks - `memshim run --prof --report --dump-dir D` in a directory others
 * can write (tools/memshim_prof.c): only regular files are dumps, so a link, a dangling
 * link, a fifo or a directory at a higher sequence number never shadows the real dump,
 * and the analyser reads the file that was checked (through /proc/self/fd), not a name.
 */
#include "test_common.h"

#include "../../tools/memshim_cli.h"

#include <sys/stat.h>
#include <unistd.h>

static char tmpdir[256];

static int setup(void **state) {
    (void)state;
    const char *t = getenv("TMPDIR");
    snprintf(tmpdir, sizeof(tmpdir), "%s/test_tools_proflinks.XXXXXX",
             t != NULL && t[0] != '\0' ? t : "/tmp");
    return mkdtemp(tmpdir) == NULL ? -1 : 0;
}

static int teardown(void **state) {
    (void)state;
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static void path_in(char *out, size_t len, const char *name) {
    snprintf(out, len, "%s/%s", tmpdir, name);
}

static void write_text(const char *name, const char *text, mode_t mode) {
    char path[512];
    path_in(path, sizeof(path), name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    assert_int_equal(chmod(path, mode), 0);
}

static void read_text(const char *name, char *buf, size_t len) {
    char path[512];
    path_in(path, sizeof(path), name);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    size_t n = fread(buf, 1, len - 1, f);
    buf[n] = '\0';
    fclose(f);
}

/* Plants, at sequence numbers above the real dump (3), everything that is not a dump. */
static void plant(void) {
    char victim[512], ghost[512], p[512];
    path_in(victim, sizeof(victim), "victim");
    path_in(ghost, sizeof(ghost), "ghost");
    write_text("victim", "secret\n", 0644);
    write_text("dumps/memshim.77.3.heap", "heap_v2/524288\n", 0644);
    path_in(p, sizeof(p), "dumps/memshim.77.9.heap");
    assert_int_equal(symlink(victim, p), 0);
    path_in(p, sizeof(p), "dumps/memshim.77.10.heap");
    assert_int_equal(symlink(ghost, p), 0);
    path_in(p, sizeof(p), "dumps/memshim.77.11.heap");
    assert_int_equal(mkfifo(p, 0644), 0);
    path_in(p, sizeof(p), "dumps/memshim.77.12.heap");
    assert_int_equal(mkdir(p, 0755), 0);
}

static void test_proflinks_find_dump_counts_only_regular_files(void **state) {
    (void)state;
    char dumps[512], out[512], want[512];
    path_in(dumps, sizeof(dumps), "dumps");
    assert_int_equal(mkdir(dumps, 0755), 0);
    plant();
    assert_int_equal(mscli_prof_find_dump(dumps, 77, out, sizeof(out)), 0);
    path_in(want, sizeof(want), "dumps/memshim.77.3.heap");
    assert_string_equal(out, want);
}

/* The leak report hands the analyser the checked file: a stand-in `heapprof` records it. */
static void test_proflinks_report_reads_the_checked_dump_not_the_link(void **state) {
    (void)state;
    char dumps[512], self[512], buf[256];
    path_in(dumps, sizeof(dumps), "dumps");
    assert_int_equal(mkdir(dumps, 0755), 0);
    plant();
    char script[1400];
    snprintf(script, sizeof(script),
             "#!/bin/sh\nprintf '%%s\\n' \"$2\" >'%s/arg'\ncat \"$2\" >'%s/seen'\n", tmpdir,
             tmpdir);
    write_text("heapprof", script, 0755);
    path_in(self, sizeof(self), "memshim");
    mscli_prof_leak_t lk = {.enabled = true, .temporary = false};
    snprintf(lk.dir, sizeof(lk.dir), "%s", dumps);
    assert_int_equal(mscli_prof_leak_report(&lk, 77, "cmd", self), 0);
    read_text("arg", buf, sizeof(buf));
    assert_memory_equal(buf, "/proc/self/fd/", 14);
    read_text("seen", buf, sizeof(buf));
    assert_string_equal(buf, "heap_v2/524288\n");
    read_text("victim", buf, sizeof(buf));
    assert_string_equal(buf, "secret\n");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_proflinks_find_dump_counts_only_regular_files, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_proflinks_report_reads_the_checked_dump_not_the_link,
                                        setup, teardown),
    };
    return cmocka_run_group_tests_name("tools_proflinks", tests, NULL, NULL);
}
