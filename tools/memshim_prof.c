/* SPDX-License-Identifier: MIT */
/*
 * memshim_prof.c - the leak report of `memshim run --prof --report`: the top allocation
 * sites still live when CMD exits, in one command.
 *
 * Before CMD starts, the launcher asks the shim for a heap dump at exit
 * (MEMSHIM_DUMP_AT_EXIT=1) into MEMSHIM_DUMP_DIR, or into a private temporary directory
 * when none was given. After CMD exits, the last dump CMD's pid wrote there
 * (<dir>/memshim.<pid>.<seq>.heap, shim/prof.c's names) is summarised by the
 * analyser, `heapprof top` (next to this binary, else on PATH). A temporary directory is
 * removed afterwards; a directory the user named keeps its dumps. With --peak
 * (MEMSHIM_PROF_PEAK=1) the top sites of the peak profile come first.
 *
 * A directory the user named may be shared: only regular files count as dumps (a link
 * planted at a higher sequence number is skipped), and the analyser reads the file this
 * process opened with O_NOFOLLOW, through /proc/self/fd, never the name again.
 */
#include "memshim_cli.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* The shim's automatic dump names start with this (shim/prof.c, DUMP_PREFIX). */
#define DUMP_PREFIX "memshim."

static bool env_true(const char *name) {
    const char *v = getenv(name);
    return v != NULL && (strcmp(v, "1") == 0 || strcasecmp(v, "true") == 0 ||
                         strcasecmp(v, "yes") == 0 || strcasecmp(v, "on") == 0);
}

int mscli_prof_leak_prepare(mscli_prof_leak_t *lk) {
    memset(lk, 0, sizeof(*lk));
    if (!env_true("MEMSHIM_REPORT") || !env_true("MEMSHIM_PROF")) return 0;
    const char *dir = getenv("MEMSHIM_DUMP_DIR");
    if (dir != NULL && dir[0] != '\0') {
        if (snprintf(lk->dir, sizeof(lk->dir), "%s", dir) >= (int)sizeof(lk->dir)) return -ERANGE;
    } else {
        const char *tmp = getenv("TMPDIR");
        if (tmp == NULL || tmp[0] == '\0') tmp = "/tmp";
        if (snprintf(lk->dir, sizeof(lk->dir), "%s/memshim-run.XXXXXX", tmp) >=
            (int)sizeof(lk->dir))
            return -ERANGE;
        if (mkdtemp(lk->dir) == NULL) return -errno;
        lk->temporary = true;
        if (setenv("MEMSHIM_DUMP_DIR", lk->dir, 1) != 0) return -ENOMEM;
    }
    if (setenv("MEMSHIM_DUMP_AT_EXIT", "1", 1) != 0) return -ENOMEM;
    lk->enabled = true;
    return 0;
}

int mscli_prof_find_dump(const char *dir, long pid, char *out, size_t len) {
    DIR *d = opendir(dir);
    if (d == NULL) return -errno;
    char prefix[64];
    snprintf(prefix, sizeof(prefix), DUMP_PREFIX "%ld.", pid);
    size_t plen = strlen(prefix);
    long best = -1;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, prefix, plen) != 0) continue;
        char *end;
        errno = 0;
        long seq = strtol(e->d_name + plen, &end, 10);
        if (errno != 0 || end == e->d_name + plen || strcmp(end, ".heap") != 0 || seq < 0) continue;
        struct stat sb; /* links, fifos and directories at a dump's name are not dumps */
        if (fstatat(dirfd(d), e->d_name, &sb, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(sb.st_mode))
            continue;
        if (seq > best) best = seq;
    }
    closedir(d);
    if (best < 0) return -ENOENT;
    int n = snprintf(out, len, "%s/" DUMP_PREFIX "%ld.%ld.heap", dir, pid, best);
    return n < 0 || (size_t)n >= len ? -ERANGE : 0;
}

/* The analyser: `heapprof` next to self_exe, else the one on PATH. */
static void find_analyser(const char *self_exe, char *out, size_t len) {
    const char *slash = self_exe ? strrchr(self_exe, '/') : NULL;
    if (slash != NULL) {
        snprintf(out, len, "%.*s/heapprof", (int)(slash - self_exe), self_exe);
        if (access(out, X_OK) == 0) return;
    }
    snprintf(out, len, "heapprof");
}

/* Opens dump path for reading, not through a link: the descriptor, -EINVAL, -errno. */
static int open_dump(const char *path) {
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd < 0) return -errno;
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return -EINVAL;
    }
    return fd;
}

/*
 * Runs `heapprof top /proc/self/fd/<fd> -n 10` (fd: the dump, from open_dump) with its
 * output on stderr; its exit status or -errno.
 */
static int run_top(const char *analyser, int fd) {
    char dump[64];
    snprintf(dump, sizeof(dump), "/proc/self/fd/%d", fd);
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) return -errno;
    if (pid == 0) {
        dup2(STDERR_FILENO, STDOUT_FILENO);
        /* The analyser inherits the dump and runs without the shim. */
        if (fcntl(fd, F_SETFD, 0) != 0) _exit(127);
        unsetenv("LD_PRELOAD");
        execlp(analyser, analyser, "top", dump, "-n", "10", (char *)NULL);
        _exit(127);
    }
    int st = 0;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR) return -errno;
    return mscli_exit_status(st);
}

static void remove_dir(const char *dir) {
    DIR *d = opendir(dir);
    if (d != NULL) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
            char path[PATH_MAX];
            if (snprintf(path, sizeof(path), "%s/%s", dir, e->d_name) < (int)sizeof(path))
                unlink(path);
        }
        closedir(d);
    }
    rmdir(dir);
}

/*
 * With --peak: the top sites of the peak profile, <dir>/memshim.<pid>.peak.heap
 * (shim/prof.c), printed before the sites still live at exit. 0 or -errno.
 */
static int peak_report(const mscli_prof_leak_t *lk, long pid, const char *cmd,
                       const char *analyser) {
    char path[PATH_MAX];
    if (snprintf(path, sizeof(path), "%s/" DUMP_PREFIX "%ld.peak.heap", lk->dir, pid) >=
        (int)sizeof(path))
        return -ERANGE;
    int fd = open_dump(path);
    if (fd < 0) {
        fprintf(stderr,
                "memshim run: no peak profile from %s (pid %ld) in %s: %s (a heap that never "
                "grew past 1 MiB has none)\n",
                cmd, pid, lk->dir, fd == -EINVAL ? "not a regular file" : strerror(-fd));
        return fd;
    }
    struct stat sb;
    char when[32] = "?";
    struct tm tm;
    if (fstat(fd, &sb) == 0 && localtime_r(&sb.st_mtime, &tm) != NULL)
        strftime(when, sizeof(when), "%H:%M:%S", &tm);
    fprintf(stderr, "memshim run: heap at the peak of %s (pid %ld, written %s), top sites:\n", cmd,
            pid, when);
    int trc = run_top(analyser, fd);
    close(fd);
    if (trc != 0) {
        fprintf(stderr, "memshim run: `%s top` could not summarise %s (status %d)\n", analyser,
                path, trc);
        return -EIO;
    }
    return 0;
}

int mscli_prof_leak_report(mscli_prof_leak_t *lk, long pid, const char *cmd, const char *self_exe) {
    if (!lk->enabled) return 0;
    int rc = 0;
    if (env_true("MEMSHIM_PROF_PEAK")) {
        char analyser[PATH_MAX];
        find_analyser(self_exe, analyser, sizeof(analyser));
        if (peak_report(lk, pid, cmd, analyser) == -EIO) lk->temporary = false;
    }
    char dump[PATH_MAX];
    int frc = mscli_prof_find_dump(lk->dir, pid, dump, sizeof(dump));
    if (frc != 0) {
        fprintf(stderr,
                "memshim run: no heap dump at exit from %s (pid %ld) in %s: it was killed, "
                "ended with _exit(), or the dump failed (see above)\n",
                cmd, pid, lk->dir);
        rc = -ENOENT;
        goto out;
    }
    int fd = open_dump(dump);
    if (fd < 0) {
        fprintf(stderr, "memshim run: cannot open the heap dump %s: %s\n", dump,
                fd == -EINVAL ? "not a regular file" : strerror(-fd));
        lk->temporary = false; /* keep it for the user to look at */
        rc = fd;
        goto out;
    }
    char analyser[PATH_MAX];
    find_analyser(self_exe, analyser, sizeof(analyser));
    fprintf(stderr, "memshim run: heap still live when %s (pid %ld) exited, top sites:\n", cmd,
            pid);
    int trc = run_top(analyser, fd);
    close(fd);
    if (trc != 0) {
        fprintf(stderr,
                "memshim run: `%s top` could not summarise %s (status %d); the dump is kept\n",
                analyser, dump, trc);
        lk->temporary = false; /* keep the dump for the user */
        rc = -EIO;
    } else if (!lk->temporary) {
        fprintf(stderr, "memshim run: dump: %s\n", dump);
    }
out:
    if (lk->temporary) remove_dir(lk->dir);
    return rc;
}
