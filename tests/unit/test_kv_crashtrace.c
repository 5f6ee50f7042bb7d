/* SPDX-License-Identifier: MIT */
/*
 * test_kv_crashtrace.c - the crash report's stack trace (kvcore/crash.c) names where a
 * crash happened even when the instruction pointer is no code: a call through a NULL
 * function pointer (what a command row without a handler did) left libunwind nothing to
 * start from, and the backtrace was empty. A forked child installs the handler, crashes,
 * and the parent reads the report from the child's logfile. The children dump no core
 * (RLIMIT_CORE 0): the tests run from the repository, where a core file would land.
 */
#include "test_common.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kv_internal.h"

typedef void (*fnptr_t)(void);
static volatile fnptr_t null_fn; /* NULL, read at run time so the call is not folded */

__attribute__((noinline)) void crashtrace_call_null(void) {
    null_fn();
    __asm__ volatile("" ::: "memory"); /* no tail call: the return address stays */
}

__attribute__((noinline)) void crashtrace_write_readonly(void) {
    *(volatile char *)"read-only string" = 'x';
    __asm__ volatile("" ::: "memory");
}

static bool core_pattern_is_pipe(void) {
    char c = 0;
    FILE *f = fopen("/proc/sys/kernel/core_pattern", "r");
    if (f == NULL) return false;
    if (fread(&c, 1, 1, f) != 1) c = 0;
    fclose(f);
    return c == '|';
}

/* Runs fn in a child with the crash handler installed; returns the report text. */
static char *crash_report(void (*fn)(void), int *status) {
    char path[] = "/tmp/kvcrashtrace.XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct rlimit no_core = {0, 0};
        if (setrlimit(RLIMIT_CORE, &no_core) != 0) _exit(5);
        if (kv_config_defaults(&kv_srv.cfg) != 0) _exit(2);
        free(kv_srv.cfg.logfile);
        kv_srv.cfg.logfile = strdup(path);
        if (kv_crash_handler_install() != 0) _exit(3);
        fn();
        _exit(4);
    }
    assert_int_equal(waitpid(pid, status, 0), pid);
    /* No core was written (a core_pattern piping to a handler ignores RLIMIT_CORE 0, but
     * writes no file here either). */
    if (WIFSIGNALED(*status) && WCOREDUMP(*status) && !core_pattern_is_pipe())
        fail_msg("the crashing child dumped a core");
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    buf[n] = '\0';
    fclose(f);
    unlink(path);
    return buf;
}

/* The Backtrace section (up to the registers) of a report. */
static char *backtrace_of(char *report) {
    char *bt = strstr(report, "\nBacktrace:\n");
    assert_non_null(bt);
    char *end = strstr(bt, "------ REGISTERS");
    if (end) *end = '\0';
    return bt;
}

static void test_null_call_names_the_caller(void **state) {
    (void)state;
    int status;
    char *bt = backtrace_of(crash_report(crashtrace_call_null, &status));
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGSEGV);
    if (strstr(bt, "(crashtrace_call_null+0x") == NULL) fail_msg("no caller frame in:%s", bt);
    if (strstr(bt, "(main+0x") == NULL) fail_msg("the trace does not reach main:%s", bt);
}

static void test_fault_in_code_names_the_function(void **state) {
    (void)state;
    int status;
    char *bt = backtrace_of(crash_report(crashtrace_write_readonly, &status));
    assert_true(WIFSIGNALED(status));
    if (strstr(bt, "(crashtrace_write_readonly+0x") == NULL) fail_msg("no frame in:%s", bt);
    if (strstr(bt, "(main+0x") == NULL) fail_msg("the trace does not reach main:%s", bt);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_null_call_names_the_caller),
        cmocka_unit_test(test_fault_in_code_names_the_function),
    };
    return cmocka_run_group_tests_name("kv_crashtrace", tests, NULL, NULL);
}
