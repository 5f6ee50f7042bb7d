/* SPDX-License-Identifier: MIT */
/*
 * test_shim_ctlsock.c - the control socket's life cycle in-process (shim/ctlsock.c):
 * ctl.enable opens <XDG_RUNTIME_DIR>/memshim/<pid>.sock served by one thread that blocks
 * every signal, disabling removes it (also when asked through the socket itself), it
 * can be re-enabled at once, and its own settings are range-checked. Clients are served
 * side by side: a half-sent request delays no other, and a full table (16) evicts the
 * connection idle the longest.
 */
#include "test_common.h"

#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "memshim.h"

static char tmpdir[64];
static char sock_path[100];

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static bool wait_exists(const char *path, bool want) {
    for (int i = 0; i < 500; i++) {
        if ((access(path, F_OK) == 0) == want) return true;
        sleep_ms(10);
    }
    return false;
}

/* Sends line and returns the whole reply (header and body) in out. */
static void request(const char *line, char *out, size_t cap) {
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", sock_path);
    assert_int_equal(connect(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
    assert_int_equal(send(fd, line, strlen(line), MSG_NOSIGNAL), (ssize_t)strlen(line));
    assert_int_equal(shutdown(fd, SHUT_WR), 0);
    size_t got = 0;
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        assert_int_equal(poll(&p, 1, 5000), 1);
        ssize_t n = recv(fd, out + got, cap - 1 - got, 0);
        assert_true(n >= 0);
        if (n == 0) break;
        got += (size_t)n;
    }
    out[got] = '\0';
    close(fd);
}

static void set(const char *name, const char *value) {
    assert_int_equal(memshim_ctl_set_str(name, value), 0);
}

static void test_ctlsock_enable_opens_private_socket(void **state) {
    (void)state;
    set("ctl.enable", "true");
    assert_true(wait_exists(sock_path, true));
    struct stat st;
    assert_int_equal(stat(sock_path, &st), 0);
    assert_true(S_ISSOCK(st.st_mode));
    assert_int_equal(st.st_mode & 0777, 0600);
    char dir[96];
    snprintf(dir, sizeof(dir), "%s/memshim", tmpdir);
    assert_int_equal(stat(dir, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
    char got[128];
    assert_int_equal(memshim_ctl_get_str("ctl.socket", got, sizeof(got)), 0);
    assert_string_equal(got, sock_path);
}

static void test_ctlsock_answers_requests(void **state) {
    (void)state;
    char reply[256];
    request("get version\n", reply, sizeof(reply));
    assert_string_equal(reply, "OK 14 kv\nversion\t" MEMSHIM_VERSION "\n");
    request("nonsense\n", reply, sizeof(reply));
    assert_string_equal(reply, "ERR unknown command 'nonsense', try 'help'\n");
}

/* A connected client socket (blocking), or fails the test. */
static int connect_client(void) {
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", sock_path);
    assert_int_equal(connect(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
    return fd;
}

/* Reads one line (at most cap - 1 bytes) within 5 s; "" on EOF. */
static void read_line(int fd, char *out, size_t cap) {
    size_t got = 0;
    while (got < cap - 1) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        assert_int_equal(poll(&p, 1, 5000), 1);
        ssize_t n = recv(fd, out + got, 1, 0);
        if (n <= 0 || out[got] == '\n') break;
        got++;
    }
    out[got] = '\0';
}

static void test_ctlsock_half_request_does_not_delay_others(void **state) {
    (void)state;
    set("ctl.timeout_ms", "600000");
    int slow[3];
    for (int i = 0; i < 3; i++) {
        slow[i] = connect_client();
        assert_int_equal(send(slow[i], "get ver", 7, MSG_NOSIGNAL), 7);
    }
    /* Served at once (request() gives up after 5 s; the slow ones hold 600 s). */
    char reply[256];
    request("get ctl.enable\n", reply, sizeof(reply));
    assert_string_equal(reply, "OK 16 kv\nctl.enable\ttrue\n");
    /* The slow ones are still served once their line is complete. */
    for (int i = 0; i < 3; i++) {
        assert_int_equal(send(slow[i], "sion\n", 5, MSG_NOSIGNAL), 5);
        read_line(slow[i], reply, sizeof(reply));
        assert_string_equal(reply, "OK 14 kv");
        close(slow[i]);
    }
    set("ctl.timeout_ms", "5000");
}

/* Reads exactly len bytes within 5 s each step. */
static void read_exact(int fd, char *out, size_t len) {
    size_t got = 0;
    while (got < len) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        assert_int_equal(poll(&p, 1, 5000), 1);
        ssize_t n = recv(fd, out + got, len - got, 0);
        assert_true(n > 0);
        got += (size_t)n;
    }
}

static void test_ctlsock_client_not_reading_delays_no_other(void **state) {
    (void)state;
    enum { N = 800 };
    set("ctl.timeout_ms", "600000");
    /* N help requests in one write, far more reply than a socket buffer holds. */
    static char reqs[N * 5], body[64 * 1024];
    for (int i = 0; i < N; i++)
        memcpy(reqs + 5 * i, "help\n", 5);
    int slow = connect_client();
    assert_int_equal(send(slow, reqs, sizeof(reqs), MSG_NOSIGNAL), (ssize_t)sizeof(reqs));
    char reply[256];
    request("get ctl.enable\n", reply, sizeof(reply));
    assert_string_equal(reply, "OK 16 kv\nctl.enable\ttrue\n");
    /* Every reply still arrives, whole and in order, once the client reads. */
    for (int i = 0; i < N; i++) {
        char head[64];
        read_line(slow, head, sizeof(head));
        unsigned long len = 0;
        assert_int_equal(sscanf(head, "OK %lu text", &len), 1);
        assert_true(len > 0 && len < sizeof(body));
        read_exact(slow, body, len);
        assert_memory_equal(body, "memshim control socket", 22);
    }
    close(slow);
    set("ctl.timeout_ms", "5000");
}

static void test_ctlsock_full_table_evicts_the_idlest(void **state) {
    (void)state;
    set("ctl.timeout_ms", "600000");
    char before[32], after[32], line[128];
    assert_int_equal(memshim_ctl_get_str("ctl.evicted", before, sizeof(before)), 0);
    int idle[17];
    for (int i = 0; i < 17; i++)
        idle[i] = connect_client();
    /* The 17th connection pushed out the first one accepted, which is told why. */
    read_line(idle[0], line, sizeof(line));
    assert_string_equal(line, "ERR too many connections: closing the one idle the longest");
    read_line(idle[0], line, sizeof(line));
    assert_string_equal(line, "");
    assert_int_equal(memshim_ctl_get_str("ctl.evicted", after, sizeof(after)), 0);
    assert_int_equal(strtoull(after, NULL, 10), strtoull(before, NULL, 10) + 1);
    /* The newest still works. */
    assert_int_equal(send(idle[16], "get ctl.enable\n", 15, MSG_NOSIGNAL), 15);
    read_line(idle[16], line, sizeof(line));
    assert_string_equal(line, "OK 16 kv");
    for (int i = 0; i < 17; i++)
        close(idle[i]);
    set("ctl.timeout_ms", "5000");
}

static void test_ctlsock_thread_blocks_all_signals(void **state) {
    (void)state;
    char path[96], comm[32];
    bool found = false;
    for (int tid = getpid(); tid < getpid() + 4096 && !found; tid++) {
        snprintf(path, sizeof(path), "/proc/self/task/%d/comm", tid);
        FILE *f = fopen(path, "r");
        if (f == NULL) continue;
        found = fgets(comm, sizeof(comm), f) != NULL && strcmp(comm, "memshim-ctl\n") == 0;
        fclose(f);
        if (!found) continue;
        snprintf(path, sizeof(path), "/proc/self/task/%d/status", tid);
        f = fopen(path, "r");
        assert_non_null(f);
        char line[128];
        unsigned long long blk = 0;
        while (fgets(line, sizeof(line), f) != NULL)
            if (sscanf(line, "SigBlk: %llx", &blk) == 1) break;
        fclose(f);
        /* Every standard signal that can be blocked at all (not SIGKILL, SIGSTOP). */
        for (int sig = 1; sig < 32; sig++)
            if (sig != SIGKILL && sig != SIGSTOP) assert_true(blk & (1ull << (sig - 1)));
    }
    assert_true(found);
    sigset_t mine;
    sigprocmask(SIG_BLOCK, NULL, &mine);
    assert_int_equal(sigismember(&mine, SIGTERM), 0); /* the caller's mask is restored */
}

static void test_ctlsock_disable_removes_socket(void **state) {
    (void)state;
    set("ctl.enable", "false");
    assert_true(wait_exists(sock_path, false));
    sleep_ms(50); /* the thread clears ctl.socket as it exits */
    char got[128] = "x";
    assert_int_equal(memshim_ctl_get_str("ctl.socket", got, sizeof(got)), 0);
    assert_string_equal(got, "");
}

static void test_ctlsock_reenables_right_after_disable(void **state) {
    (void)state;
    set("ctl.enable", "true");
    assert_true(wait_exists(sock_path, true));
    set("ctl.enable", "false");
    set("ctl.enable", "true"); /* waits for the stopping thread, then starts anew */
    assert_true(wait_exists(sock_path, true));
    char reply[256];
    request("get ctl.enable\n", reply, sizeof(reply));
    assert_string_equal(reply, "OK 16 kv\nctl.enable\ttrue\n");
}

static void test_ctlsock_can_be_disabled_through_itself(void **state) {
    (void)state;
    char reply[256];
    request("set ctl.enable false\n", reply, sizeof(reply));
    assert_string_equal(reply, "OK 17 kv\nctl.enable\tfalse\n");
    assert_true(wait_exists(sock_path, false));
}

static void test_ctlsock_timeout_is_range_checked(void **state) {
    (void)state;
    assert_int_equal(memshim_ctl_set_str("ctl.timeout_ms", "5"), -EINVAL);
    assert_int_equal(memshim_ctl_set_str("ctl.timeout_ms", "3600001"), -EINVAL);
    assert_int_equal(memshim_ctl_set_str("ctl.timeout_ms", "250"), 0);
    char got[32];
    assert_int_equal(memshim_ctl_get_str("ctl.timeout_ms", got, sizeof(got)), 0);
    assert_string_equal(got, "250");
    assert_int_equal(memshim_ctl_set_str("ctl.refused", "1"), -EPERM);
}

static int setup(void **state) {
    (void)state;
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_ctlsock.XXXXXX");
    if (mkdtemp(tmpdir) == NULL) return -1;
    setenv("XDG_RUNTIME_DIR", tmpdir, 1);
    snprintf(sock_path, sizeof(sock_path), "%s/memshim/%d.sock", tmpdir, (int)getpid());
    return 0;
}

static int teardown(void **state) {
    (void)state;
    memshim_ctl_set_str("ctl.enable", "false");
    wait_exists(sock_path, false);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ctlsock_enable_opens_private_socket),
        cmocka_unit_test(test_ctlsock_answers_requests),
        cmocka_unit_test(test_ctlsock_half_request_does_not_delay_others),
        cmocka_unit_test(test_ctlsock_client_not_reading_delays_no_other),
        cmocka_unit_test(test_ctlsock_full_table_evicts_the_idlest),
        cmocka_unit_test(test_ctlsock_thread_blocks_all_signals),
        cmocka_unit_test(test_ctlsock_disable_removes_socket),
        cmocka_unit_test(test_ctlsock_reenables_right_after_disable),
        cmocka_unit_test(test_ctlsock_can_be_disabled_through_itself),
        cmocka_unit_test(test_ctlsock_timeout_is_range_checked),
    };
    return cmocka_run_group_tests_name("shim_ctlsock", tests, setup, teardown);
}
