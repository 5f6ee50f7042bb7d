/* SPDX-License-Identifier: MIT */
/*
 * test_shim_prof - the run-time heap-profile controls (shim/prof.c, prof_unwind.c)
 * against the real jemalloc profiler. The sidecar .env sets
 * MALLOC_CONF=prof:true,prof_active:false, as libmemshim.so's malloc_conf does (this
 * binary links libmemshim.a, which has no malloc_conf). Tests share one process: each
 * starts from the state `reset_state` leaves (inactive, lg_sample 19, no dump dir).
 */
#include "test_common.h"

#include "memshim.h"

#include <jemalloc/jemalloc.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char tmpdir[256];

/*
 * The walker the tests run with. Under `make valgrind` (MEMSHIM_VALGRIND) it is libgcc:
 * libunwind probes stack memory by write(2)-ing it to a pipe, which memcheck reports as
 * "points to uninitialised byte(s)" (a false positive), and the libunwind-only test skips.
 */
static const char *walker = "libunwind";

static int reset_state(void **state) {
    (void)state;
    memshim_prof_disable();
    memshim_prof_reset(19);
    memshim_ctl_set_str("prof.dump_dir", "");
    memshim_ctl_set_str("prof.unwinder", walker);
    return 0;
}

static int group_setup(void **state) {
    const char *base = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(tmpdir, sizeof(tmpdir), "%s/test_shim_prof.XXXXXX", base);
    if (mkdtemp(tmpdir) == NULL) return -1;
    return reset_state(state);
}

static int group_teardown(void **state) {
    (void)state;
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static bool file_exists(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0;
}

/* Reads a whole (small) dump into buf; returns its length. */
static size_t read_file(const char *path, char *buf, size_t len) {
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    size_t n = fread(buf, 1, len - 1, f);
    buf[n] = '\0';
    fclose(f);
    return n;
}

static void test_control_status_starts_available_inactive_with_libunwind(void **state) {
    (void)state;
    memshim_prof_status_t st;
    assert_int_equal(memshim_prof_status(&st), 0);
    assert_true(st.available);
    assert_false(st.active);
    assert_int_equal(st.lg_sample, 19);
    assert_int_equal(st.dumps, 0);
    assert_string_equal(st.last_dump, "");
    assert_string_equal(st.dump_dir, "");
    assert_string_equal(st.unwinder, walker);
}

static void test_control_status_rejects_null(void **state) {
    (void)state;
    assert_int_equal(memshim_prof_status(NULL), -EINVAL);
}

static void test_control_enable_and_disable_toggle_active(void **state) {
    (void)state;
    memshim_prof_status_t st;
    assert_int_equal(memshim_prof_enable(), 0);
    assert_int_equal(memshim_prof_status(&st), 0);
    assert_true(st.active);
    bool je_active = false;
    size_t len = sizeof(je_active);
    assert_int_equal(mallctl("prof.active", &je_active, &len, NULL, 0), 0);
    assert_true(je_active);
    assert_int_equal(memshim_prof_disable(), 0);
    assert_int_equal(memshim_prof_status(&st), 0);
    assert_false(st.active);
}

static void test_control_dump_while_inactive_fails_with_eagain(void **state) {
    (void)state;
    char path[512];
    snprintf(path, sizeof(path), "%s/inactive.heap", tmpdir);
    assert_int_equal(memshim_prof_dump(path, NULL, 0), -EAGAIN);
    assert_false(file_exists(path));
    memshim_prof_status_t st;
    memshim_prof_status(&st);
    assert_int_equal(st.last_error, -EAGAIN);
    assert_non_null(strstr(st.last_errstr, "not active"));
    assert_int_equal(st.dumps, 0);
}

static void test_control_dump_to_path_writes_heap_v2(void **state) {
    (void)state;
    char path[512], out[512], buf[4096];
    snprintf(path, sizeof(path), "%s/given.heap", tmpdir);
    assert_int_equal(memshim_prof_enable(), 0);
    memshim_prof_status_t before;
    memshim_prof_status(&before);
    assert_int_equal(memshim_prof_dump(path, out, sizeof(out)), 0);
    assert_string_equal(out, path);
    read_file(path, buf, sizeof(buf));
    assert_memory_equal(buf, "heap_v2/524288\n", 15);
    assert_non_null(strstr(buf, "MAPPED_LIBRARIES:"));
    memshim_prof_status_t st;
    memshim_prof_status(&st);
    assert_int_equal(st.dumps, before.dumps + 1);
    assert_string_equal(st.last_dump, path);
}

static void test_control_dump_auto_names_use_dir_pid_and_sequence(void **state) {
    (void)state;
    char dir[300], out[512], want[512];
    snprintf(dir, sizeof(dir), "%s/auto", tmpdir);
    assert_int_equal(mkdir(dir, 0755), 0);
    /* A trailing slash is not part of the directory's name. */
    char with_slash[310];
    snprintf(with_slash, sizeof(with_slash), "%s/", dir);
    assert_int_equal(memshim_ctl_set_str("prof.dump_dir", with_slash), 0);
    assert_int_equal(memshim_prof_enable(), 0);
    for (unsigned i = 0; i < 2; i++) {
        assert_int_equal(memshim_prof_dump(NULL, out, sizeof(out)), 0);
        snprintf(want, sizeof(want), "%s/memshim.%d.%u.heap", dir, (int)getpid(), i);
        assert_string_equal(out, want);
        assert_true(file_exists(want));
    }
    memshim_prof_status_t st;
    memshim_prof_status(&st);
    assert_string_equal(st.dump_dir, dir);
    assert_string_equal(st.last_dump, want);
}

static void test_control_dump_in_dir_names_inside_given_dir(void **state) {
    (void)state;
    char dir[300], out[512];
    snprintf(dir, sizeof(dir), "%s/other", tmpdir);
    assert_int_equal(mkdir(dir, 0755), 0);
    assert_int_equal(memshim_prof_enable(), 0);
    assert_int_equal(memshim_prof_dump_in_dir(dir, out, sizeof(out)), 0);
    assert_memory_equal(out, dir, strlen(dir));
    assert_memory_equal(out + strlen(dir), "/memshim.", 9);
    assert_true(file_exists(out));
    assert_int_equal(memshim_prof_dump_in_dir("", out, sizeof(out)), -EINVAL);
}

static void test_control_dump_into_missing_dir_fails_with_enoent(void **state) {
    (void)state;
    char path[512];
    snprintf(path, sizeof(path), "%s/no-such-dir/x.heap", tmpdir);
    assert_int_equal(memshim_prof_enable(), 0);
    assert_int_equal(memshim_prof_dump(path, NULL, 0), -ENOENT);
    memshim_prof_status_t st;
    memshim_prof_status(&st);
    assert_int_equal(st.last_error, -ENOENT);
    assert_non_null(strstr(st.last_errstr, "no-such-dir' does not exist"));
    snprintf(path, sizeof(path), "%s/no-such-dir", tmpdir);
    assert_int_equal(memshim_prof_dump_in_dir(path, NULL, 0), -ENOENT);
    assert_int_equal(memshim_ctl_set_str("prof.dump_dir", path), 0);
    assert_int_equal(memshim_ctl_set_str("prof.dump", ""), -ENOENT);
}

static void test_control_dump_below_a_file_fails_with_enotdir(void **state) {
    (void)state;
    char file[300], path[512];
    snprintf(file, sizeof(file), "%s/plainfile", tmpdir);
    FILE *f = fopen(file, "w");
    assert_non_null(f);
    fclose(f);
    snprintf(path, sizeof(path), "%s/x.heap", file);
    assert_int_equal(memshim_prof_enable(), 0);
    assert_int_equal(memshim_prof_dump(path, NULL, 0), -ENOTDIR);
}

/* Run as an unprivileged user in a child when we are root: root may write anywhere. */
static int dump_in_unwritable_dir(const char *dir) {
    if (geteuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0)) return -EPERM;
    char path[512];
    snprintf(path, sizeof(path), "%s/x.heap", dir);
    int rc = memshim_prof_dump(path, NULL, 0);
    memshim_prof_status_t st;
    memshim_prof_status(&st);
    if (rc == -EACCES && strstr(st.last_errstr, "not writable") == NULL) return -EIO;
    if (file_exists(path)) return -EEXIST;
    return rc;
}

static void test_control_dump_into_unwritable_dir_fails_with_eacces(void **state) {
    (void)state;
    char dir[300];
    snprintf(dir, sizeof(dir), "%s/readonly", tmpdir);
    assert_int_equal(mkdir(dir, 0555), 0);
    assert_int_equal(chmod(dir, 0555), 0);
    assert_int_equal(chmod(tmpdir, 0755), 0);
    assert_int_equal(memshim_prof_enable(), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) _exit(-dump_in_unwritable_dir(dir));
    int st = 0;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), EACCES);
}

static void test_control_dump_with_short_out_buffer_fails_and_writes_nothing(void **state) {
    (void)state;
    char path[512], out[8];
    snprintf(path, sizeof(path), "%s/short.heap", tmpdir);
    assert_int_equal(memshim_prof_enable(), 0);
    assert_int_equal(memshim_prof_dump(path, out, sizeof(out)), -EINVAL);
    assert_int_equal(memshim_prof_dump(path, out, 0), -EINVAL);
    assert_false(file_exists(path));
}

/* Writes text to path (created or truncated). */
static void write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static bool is_link(const char *path) {
    struct stat sb;
    return lstat(path, &sb) == 0 && S_ISLNK(sb.st_mode);
}

/* The next automatic name's sequence number in dir: one dump, read back from its name. */
static unsigned next_seq(const char *dir) {
    char out[512], prefix[400];
    assert_int_equal(memshim_prof_dump_in_dir(dir, out, sizeof(out)), 0);
    snprintf(prefix, sizeof(prefix), "%s/memshim.%d.", dir, (int)getpid());
    assert_memory_equal(out, prefix, strlen(prefix));
    return (unsigned)strtoul(out + strlen(prefix), NULL, 10) + 1;
}

static void auto_path(char *out, size_t len, const char *dir, unsigned seq) {
    snprintf(out, len, "%s/memshim.%d.%u.heap", dir, (int)getpid(), seq);
}

static void test_control_auto_dump_skips_planted_links_and_never_follows_them(void **state) {
    (void)state;
    char dir[300], victim[320], ghost[320], l1[512], l2[512], want[512], out[512], buf[64];
    snprintf(dir, sizeof(dir), "%s/planted", tmpdir);
    assert_int_equal(mkdir(dir, 0755), 0);
    snprintf(victim, sizeof(victim), "%s/victim", tmpdir);
    snprintf(ghost, sizeof(ghost), "%s/ghost", tmpdir);
    write_text(victim, "precious\n");
    assert_int_equal(memshim_prof_enable(), 0);
    unsigned seq = next_seq(dir);
    /* A link to a file outside, then a dangling link, at the next two names. */
    auto_path(l1, sizeof(l1), dir, seq);
    auto_path(l2, sizeof(l2), dir, seq + 1);
    assert_int_equal(symlink(victim, l1), 0);
    assert_int_equal(symlink(ghost, l2), 0);
    assert_int_equal(memshim_prof_dump_in_dir(dir, out, sizeof(out)), 0);
    auto_path(want, sizeof(want), dir, seq + 2);
    assert_string_equal(out, want);
    read_file(out, buf, sizeof(buf));
    assert_memory_equal(buf, "heap_v2/", 8);
    read_file(victim, buf, sizeof(buf));
    assert_string_equal(buf, "precious\n");
    assert_false(file_exists(ghost));
    assert_true(is_link(l1));
    assert_true(is_link(l2));
    /* The sequence moved on: the next dump takes the following name. */
    assert_int_equal(memshim_prof_dump_in_dir(dir, out, sizeof(out)), 0);
    auto_path(want, sizeof(want), dir, seq + 3);
    assert_string_equal(out, want);
    /* The same through prof.dump_dir and an automatic prof.dump (the ctl path). */
    auto_path(l1, sizeof(l1), dir, seq + 4);
    assert_int_equal(symlink(victim, l1), 0);
    assert_int_equal(memshim_ctl_set_str("prof.dump_dir", dir), 0);
    assert_int_equal(memshim_ctl_set_str("prof.dump", ""), 0);
    assert_int_equal(memshim_ctl_get_str("prof.last_dump", out, sizeof(out)), 0);
    auto_path(want, sizeof(want), dir, seq + 5);
    assert_string_equal(out, want);
    read_file(victim, buf, sizeof(buf));
    assert_string_equal(buf, "precious\n");
}

static void test_control_auto_dump_gives_up_after_bounded_tries_then_moves_on(void **state) {
    (void)state;
    char dir[300], victim[320], link[512], want[512], out[512], buf[64];
    snprintf(dir, sizeof(dir), "%s/crowded", tmpdir);
    assert_int_equal(mkdir(dir, 0755), 0);
    snprintf(victim, sizeof(victim), "%s/victim2", tmpdir);
    write_text(victim, "precious\n");
    assert_int_equal(memshim_prof_enable(), 0);
    unsigned seq = next_seq(dir);
    for (unsigned i = 0; i < 64; i++) {
        auto_path(link, sizeof(link), dir, seq + i);
        assert_int_equal(symlink(victim, link), 0);
    }
    assert_int_equal(memshim_prof_dump_in_dir(dir, out, sizeof(out)), -EEXIST);
    memshim_prof_status_t st;
    memshim_prof_status(&st);
    assert_non_null(strstr(st.last_errstr, "no free dump name"));
    /* Not stuck: the next dump starts after the names tried. */
    assert_int_equal(memshim_prof_dump_in_dir(dir, out, sizeof(out)), 0);
    auto_path(want, sizeof(want), dir, seq + 64);
    assert_string_equal(out, want);
    read_file(victim, buf, sizeof(buf));
    assert_string_equal(buf, "precious\n");
}

static void test_control_explicit_dump_path_refuses_a_link(void **state) {
    (void)state;
    char victim[320], link[320], dangling[320], ghost[320], buf[64];
    snprintf(victim, sizeof(victim), "%s/victim3", tmpdir);
    snprintf(link, sizeof(link), "%s/explicit-link.heap", tmpdir);
    snprintf(dangling, sizeof(dangling), "%s/explicit-dangling.heap", tmpdir);
    snprintf(ghost, sizeof(ghost), "%s/ghost3", tmpdir);
    write_text(victim, "precious\n");
    assert_int_equal(symlink(victim, link), 0);
    assert_int_equal(symlink(ghost, dangling), 0);
    assert_int_equal(memshim_prof_enable(), 0);
    memshim_prof_status_t before, st;
    memshim_prof_status(&before);
    assert_int_equal(memshim_prof_dump(link, NULL, 0), -ELOOP);
    memshim_prof_status(&st);
    assert_non_null(strstr(st.last_errstr, "is a symbolic link: refused"));
    assert_int_equal(memshim_prof_dump(dangling, NULL, 0), -ELOOP);
    assert_int_equal(memshim_ctl_set_str("prof.dump", link), -ELOOP);
    read_file(victim, buf, sizeof(buf));
    assert_string_equal(buf, "precious\n");
    assert_false(file_exists(ghost));
    memshim_prof_status(&st);
    assert_int_equal(st.dumps, before.dumps);
}

static void test_control_explicit_dump_overwrites_a_regular_file_refuses_a_fifo(void **state) {
    (void)state;
    char path[320], fifo[320], buf[64];
    snprintf(path, sizeof(path), "%s/existing.heap", tmpdir);
    snprintf(fifo, sizeof(fifo), "%s/fifo.heap", tmpdir);
    write_text(path, "old contents that are longer than nothing\n");
    assert_int_equal(mkfifo(fifo, 0644), 0);
    assert_int_equal(memshim_prof_enable(), 0);
    assert_int_equal(memshim_prof_dump(path, NULL, 0), 0);
    read_file(path, buf, sizeof(buf));
    assert_memory_equal(buf, "heap_v2/", 8);
    /* No reader: refused at once, never blocked on. */
    assert_int_equal(memshim_prof_dump(fifo, NULL, 0), -EINVAL);
    memshim_prof_status_t st;
    memshim_prof_status(&st);
    assert_non_null(strstr(st.last_errstr, "not a regular file"));
}

static void test_control_reset_sets_new_sample_rate(void **state) {
    (void)state;
    memshim_prof_status_t st;
    assert_int_equal(memshim_prof_reset(12), 0);
    memshim_prof_status(&st);
    assert_int_equal(st.lg_sample, 12);
    assert_int_equal(memshim_prof_reset(-1), 0);
    memshim_prof_status(&st);
    assert_int_equal(st.lg_sample, 12);
    assert_int_equal(memshim_prof_reset(63), -EINVAL);
    assert_int_equal(memshim_prof_reset(-2), -EINVAL);
    memshim_prof_status(&st);
    assert_int_equal(st.lg_sample, 12);
    assert_int_equal(st.last_error, -EINVAL);
    /* The dump header carries the new mean interval. */
    char path[512], buf[4096];
    snprintf(path, sizeof(path), "%s/lg12.heap", tmpdir);
    assert_int_equal(memshim_prof_enable(), 0);
    assert_int_equal(memshim_prof_dump(path, NULL, 0), 0);
    read_file(path, buf, sizeof(buf));
    assert_memory_equal(buf, "heap_v2/4096\n", 13);
}

/* Counts the stacks ("@ " lines) of a dump. */
static unsigned count_stacks(const char *path) {
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char line[4096];
    unsigned n = 0;
    while (fgets(line, sizeof(line), f) != NULL)
        if (line[0] == '@') n++;
    fclose(f);
    return n;
}

/*
 * Is some stack's PC inside [lo, lo + span)? Only each stack's first PC when first_only,
 * else any of its PCs.
 */
static bool some_stack_has(const char *path, uintptr_t lo, uintptr_t span, bool first_only) {
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char line[4096];
    bool found = false;
    while (fgets(line, sizeof(line), f) != NULL) {
        if (line[0] != '@') continue;
        char *p = line + 1;
        while (*p == ' ') {
            char *end;
            uintptr_t pc = (uintptr_t)strtoull(p + 1, &end, 16);
            if (end == p + 1) break;
            if (pc >= lo && pc < lo + span) found = true;
            if (first_only) break;
            p = end;
        }
    }
    fclose(f);
    return found;
}

static bool some_stack_starts_in(const char *path, uintptr_t lo, uintptr_t span) {
    return some_stack_has(path, lo, span, true);
}

static bool some_stack_passes(const char *path, uintptr_t lo, uintptr_t span) {
    return some_stack_has(path, lo, span, false);
}

static void *volatile sink;

__attribute__((noinline)) static void *alloc_site(size_t size) {
    void *p = mallocx(size, 0);
    __asm__ volatile("" ::: "memory"); /* keeps the call from being a tail call */
    return p;
}

static void test_control_reset_discards_samples(void **state) {
    (void)state;
    char path[512];
    assert_int_equal(memshim_prof_reset(0), 0); /* every allocation is sampled */
    assert_int_equal(memshim_prof_enable(), 0);
    sink = alloc_site(1 << 20);
    snprintf(path, sizeof(path), "%s/before-reset.heap", tmpdir);
    assert_int_equal(memshim_prof_dump(path, NULL, 0), 0);
    assert_true(some_stack_passes(path, (uintptr_t)alloc_site, 64));
    assert_int_equal(memshim_prof_reset(-1), 0);
    assert_int_equal(memshim_prof_disable(), 0); /* nothing new is sampled */
    assert_int_equal(memshim_prof_enable(), 0);
    snprintf(path, sizeof(path), "%s/after-reset.heap", tmpdir);
    assert_int_equal(memshim_prof_dump(path, NULL, 0), 0);
    assert_false(some_stack_passes(path, (uintptr_t)alloc_site, 64));
    dallocx(sink, 0);
}

static void test_control_libunwind_stacks_start_at_the_allocators_caller(void **state) {
    (void)state;
    if (strcmp(walker, "libunwind") != 0) skip();
    char path[512];
    assert_int_equal(memshim_prof_reset(0), 0);
    assert_int_equal(memshim_prof_enable(), 0);
    sink = alloc_site(1 << 20);
    snprintf(path, sizeof(path), "%s/libunwind.heap", tmpdir);
    assert_int_equal(memshim_prof_dump(path, NULL, 0), 0);
    assert_true(some_stack_starts_in(path, (uintptr_t)alloc_site, 64));
    dallocx(sink, 0);

    /* jemalloc's own walker records its own frames first. */
    assert_int_equal(memshim_ctl_set_str("prof.unwinder", "libgcc"), 0);
    assert_int_equal(memshim_prof_reset(0), 0);
    sink = alloc_site(1 << 20);
    snprintf(path, sizeof(path), "%s/libgcc.heap", tmpdir);
    assert_int_equal(memshim_prof_dump(path, NULL, 0), 0);
    assert_true(count_stacks(path) > 0);
    assert_false(some_stack_starts_in(path, (uintptr_t)alloc_site, 64));
    dallocx(sink, 0);
}

static void test_control_ctl_rows_read_and_write_the_profiler(void **state) {
    (void)state;
    char buf[512];
    assert_int_equal(memshim_ctl_get_str("prof.available", buf, sizeof(buf)), 0);
    assert_string_equal(buf, "true");
    assert_int_equal(memshim_ctl_set_str("prof.active", "true"), 0);
    assert_int_equal(memshim_ctl_get_str("prof.active", buf, sizeof(buf)), 0);
    assert_string_equal(buf, "true");
    assert_int_equal(memshim_ctl_set_str("prof.lg_sample", "14"), 0);
    assert_int_equal(memshim_ctl_get_str("prof.lg_sample", buf, sizeof(buf)), 0);
    assert_string_equal(buf, "14");
    assert_int_equal(memshim_ctl_set_str("prof.lg_sample", "63"), -EINVAL);
    assert_int_equal(memshim_ctl_set_str("prof.reset", "13"), 0);
    assert_int_equal(memshim_ctl_get_str("prof.lg_sample", buf, sizeof(buf)), 0);
    assert_string_equal(buf, "13");
    assert_int_equal(memshim_ctl_set_str("prof.reset", "x"), -EINVAL);
    assert_int_equal(memshim_ctl_set_str("prof.reset", ""), 0);
    assert_int_equal(memshim_ctl_get_str("prof.lg_sample", buf, sizeof(buf)), 0);
    assert_string_equal(buf, "13");

    char path[512];
    snprintf(path, sizeof(path), "%s/ctl.heap", tmpdir);
    assert_int_equal(memshim_ctl_get_str("prof.dumps", buf, sizeof(buf)), 0);
    unsigned long long dumps = strtoull(buf, NULL, 10);
    assert_int_equal(memshim_ctl_set_str("prof.dump", path), 0);
    assert_int_equal(memshim_ctl_get_str("prof.last_dump", buf, sizeof(buf)), 0);
    assert_string_equal(buf, path);
    assert_int_equal(memshim_ctl_get_str("prof.dumps", buf, sizeof(buf)), 0);
    assert_int_equal(strtoull(buf, NULL, 10), dumps + 1);

    assert_int_equal(memshim_ctl_set_str("prof.unwinder", "libgcc"), 0);
    assert_int_equal(memshim_ctl_get_str("prof.unwinder", buf, sizeof(buf)), 0);
    assert_string_equal(buf, "libgcc");
    assert_int_equal(memshim_ctl_set_str("prof.unwinder", "frame-pointer"), -EINVAL);
    assert_int_equal(memshim_ctl_get_str("prof.unwinder", buf, sizeof(buf)), 0);
    assert_string_equal(buf, "libgcc");

    assert_int_equal(memshim_ctl_set_str("prof.dump_at_exit", "true"), 0);
    assert_int_equal(memshim_ctl_get_str("prof.dump_at_exit", buf, sizeof(buf)), 0);
    assert_string_equal(buf, "true");
    assert_int_equal(memshim_ctl_set_str("prof.dump_at_exit", "false"), 0);

    assert_int_equal(memshim_ctl_set_str("prof.active", "false"), 0);
    assert_int_equal(memshim_ctl_set_str("prof.dump", path), -EAGAIN);
    assert_int_equal(memshim_ctl_get_str("prof.last_error", buf, sizeof(buf)), 0);
    assert_non_null(strstr(buf, "not active"));
    assert_int_equal(memshim_ctl_set_str("prof.dumps", "3"), -EPERM);
}

static void test_control_fork_child_restarts_dump_numbering(void **state) {
    (void)state;
    char dir[300], out[512], want[512];
    snprintf(dir, sizeof(dir), "%s/fork", tmpdir);
    assert_int_equal(mkdir(dir, 0755), 0);
    assert_int_equal(memshim_ctl_set_str("prof.dump_dir", dir), 0);
    assert_int_equal(memshim_prof_enable(), 0);
    assert_int_equal(memshim_prof_dump(NULL, out, sizeof(out)), 0);
    /* Earlier tests numbered dumps of this process too: read where the sequence is. */
    unsigned seq = 0;
    char prefix[400];
    snprintf(prefix, sizeof(prefix), "%s/memshim.%d.", dir, (int)getpid());
    assert_memory_equal(out, prefix, strlen(prefix));
    seq = (unsigned)strtoul(out + strlen(prefix), NULL, 10);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        memshim_prof_status_t st;
        memshim_prof_status(&st);
        if (st.dumps != 0 || st.last_dump[0] != '\0') _exit(2);
        if (memshim_prof_dump(NULL, out, sizeof(out)) != 0) _exit(3);
        snprintf(want, sizeof(want), "%s/memshim.%d.0.heap", dir, (int)getpid());
        _exit(strcmp(out, want) == 0 && file_exists(want) ? 0 : 4);
    }
    int st = 0;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
    assert_int_equal(memshim_prof_dump(NULL, out, sizeof(out)), 0);
    snprintf(want, sizeof(want), "%s/memshim.%d.%u.heap", dir, (int)getpid(), seq + 1);
    assert_string_equal(out, want);
}

int main(void) {
    if (getenv("MEMSHIM_VALGRIND") != NULL) walker = "libgcc";
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_control_status_starts_available_inactive_with_libunwind,
                               reset_state),
        cmocka_unit_test_setup(test_control_status_rejects_null, reset_state),
        cmocka_unit_test_setup(test_control_enable_and_disable_toggle_active, reset_state),
        cmocka_unit_test_setup(test_control_dump_while_inactive_fails_with_eagain, reset_state),
        cmocka_unit_test_setup(test_control_dump_to_path_writes_heap_v2, reset_state),
        cmocka_unit_test_setup(test_control_dump_auto_names_use_dir_pid_and_sequence, reset_state),
        cmocka_unit_test_setup(test_control_dump_in_dir_names_inside_given_dir, reset_state),
        cmocka_unit_test_setup(test_control_dump_into_missing_dir_fails_with_enoent, reset_state),
        cmocka_unit_test_setup(test_control_dump_below_a_file_fails_with_enotdir, reset_state),
        cmocka_unit_test_setup(test_control_dump_into_unwritable_dir_fails_with_eacces,
                               reset_state),
        cmocka_unit_test_setup(test_control_dump_with_short_out_buffer_fails_and_writes_nothing,
                               reset_state),
        cmocka_unit_test_setup(test_control_auto_dump_skips_planted_links_and_never_follows_them,
                               reset_state),
        cmocka_unit_test_setup(test_control_auto_dump_gives_up_after_bounded_tries_then_moves_on,
                               reset_state),
        cmocka_unit_test_setup(test_control_explicit_dump_path_refuses_a_link, reset_state),
        cmocka_unit_test_setup(test_control_explicit_dump_overwrites_a_regular_file_refuses_a_fifo,
                               reset_state),
        cmocka_unit_test_setup(test_control_reset_sets_new_sample_rate, reset_state),
        cmocka_unit_test_setup(test_control_reset_discards_samples, reset_state),
        cmocka_unit_test_setup(test_control_libunwind_stacks_start_at_the_allocators_caller,
                               reset_state),
        cmocka_unit_test_setup(test_control_ctl_rows_read_and_write_the_profiler, reset_state),
        cmocka_unit_test_setup(test_control_fork_child_restarts_dump_numbering, reset_state),
    };
    return cmocka_run_group_tests_name("hp_control", tests, group_setup, group_teardown);
}
