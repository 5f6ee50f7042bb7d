/* SPDX-License-Identifier: MIT */
/*
 * ctl_holder - a long-running program for the control-socket tests
 * (tests/integration/ctl_*.sh). It holds memory and obeys one command per stdin line,
 * answering each with one stdout line, so a test can make it allocate between remote
 * `memshim ctl` calls:
 *
 *   alloc N SIZE   keep N more blocks of SIZE bytes (site: holder_alloc_site) -> "ok N"
 *   free_half      free every other block                                  -> "ok N"
 *   free_all       free every block                                        -> "ok 0"
 *   fork           fork a child that sleeps until killed                   -> "child PID"
 *   forkexec       fork a child that execs /bin/sleep 1 without the shim at once, and
 *                  wait for it                                      -> "exec PID STATUS"
 *   exec           exec this program again (same pid; it prints "ready PID" anew)
 *   signals        SIGINT/SIGTERM/SIGPIPE dispositions and the main thread's blocked
 *                  set                       -> "signals dfl dfl dfl blocked 0"
 *   quit / EOF     exit(0) (destructors run: the shim removes its socket)
 * The first line is "ready PID". Built with -fno-inline: holder_alloc_site is a frame.
 */
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void **blocks;
static size_t nblocks, cap;

void *holder_alloc_site(size_t size);

void *holder_alloc_site(size_t size) {
    char *p = malloc(size);
    if (p != NULL) memset(p, 0xa5, size);
    return p;
}

static int do_alloc(size_t n, size_t size) {
    for (size_t i = 0; i < n; i++) {
        if (nblocks == cap) {
            size_t ncap = cap ? 2 * cap : 1024;
            void **nb = realloc(blocks, ncap * sizeof(*nb));
            if (nb == NULL) return -1;
            blocks = nb;
            cap = ncap;
        }
        void *p = holder_alloc_site(size);
        if (p == NULL) return -1;
        blocks[nblocks++] = p;
    }
    return 0;
}

static void do_free(size_t step) {
    size_t kept = 0;
    for (size_t i = 0; i < nblocks; i++) {
        if (step != 0 && i % step != 0)
            blocks[kept++] = blocks[i];
        else
            free(blocks[i]);
    }
    nblocks = kept;
}

static const char *disposition(int sig) {
    struct sigaction sa;
    if (sigaction(sig, NULL, &sa) != 0) return "?";
    return sa.sa_handler == SIG_DFL ? "dfl" : sa.sa_handler == SIG_IGN ? "ign" : "handler";
}

int main(void) {
    char line[256];
    printf("ready %d\n", (int)getpid());
    fflush(stdout);
    while (fgets(line, sizeof(line), stdin) != NULL) {
        size_t n, size;
        if (sscanf(line, "alloc %zu %zu", &n, &size) == 2) {
            if (do_alloc(n, size) != 0)
                printf("error alloc\n");
            else
                printf("ok %zu\n", nblocks);
        } else if (strcmp(line, "free_half\n") == 0) {
            do_free(2);
            printf("ok %zu\n", nblocks);
        } else if (strcmp(line, "free_all\n") == 0) {
            do_free(0);
            printf("ok %zu\n", nblocks);
        } else if (strcmp(line, "fork\n") == 0) {
            fflush(stdout);
            pid_t pid = fork();
            if (pid == 0) {
                for (;;)
                    pause();
            }
            printf("child %d\n", (int)pid);
        } else if (strcmp(line, "forkexec\n") == 0) {
            fflush(stdout);
            pid_t pid = fork();
            if (pid == 0) {
                unsetenv("LD_PRELOAD");
                execl("/bin/sleep", "sleep", "1", (char *)NULL);
                _exit(127);
            }
            int st = 0;
            waitpid(pid, &st, 0);
            printf("exec %d %d\n", (int)pid, WIFEXITED(st) ? WEXITSTATUS(st) : -1);
        } else if (strcmp(line, "exec\n") == 0) {
            char self[PATH_MAX];
            ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
            if (n > 0) {
                self[n] = '\0';
                fflush(stdout);
                execl(self, self, (char *)NULL);
            }
            printf("error exec\n");
        } else if (strcmp(line, "signals\n") == 0) {
            sigset_t cur;
            sigprocmask(SIG_BLOCK, NULL, &cur);
            int blocked = 0;
            for (int s = 1; s < NSIG; s++)
                blocked += sigismember(&cur, s) == 1;
            printf("signals %s %s %s blocked %d\n", disposition(SIGINT), disposition(SIGTERM),
                   disposition(SIGPIPE), blocked);
        } else if (strcmp(line, "quit\n") == 0) {
            break;
        } else {
            printf("error unknown\n");
        }
        fflush(stdout);
    }
    exit(0);
}
