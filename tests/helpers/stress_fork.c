/* SPDX-License-Identifier: MIT */
/*
 * stress_fork.c - fork, again and again, from a multi-threaded process while its other
 * threads allocate. Worker threads churn malloc/realloc/free without pause; two forker
 * threads (and so two concurrent forks at times) each fork `rounds` children. A child
 * allocates (a few thousand blocks, a thread of its own that allocates too, a nested
 * fork every 16th child), checks what it wrote, and leaves through exit() so atexit
 * handlers and library destructors run. A child that does not finish within 10 s is
 * taken as a deadlock (inherited lock held by a thread that no longer exists): it is
 * killed and the run fails.
 * usage: stress_fork [rounds per forker=100] [worker threads=6]
 * Prints counts only (the same under any allocator); exits 1 on any failure.
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { SLOTS = 128, FORKERS = 2, CHILD_TIMEOUT_MS = 10000 };

static atomic_int stop;
static atomic_int forked, ok, failed, hung;

static uint32_t next_rand(uint32_t *s) {
    *s = *s * 1103515245u + 12345u;
    return *s >> 8;
}

/* Allocation churn; returns 0, or -1 if a block lost its contents. */
static int churn(uint32_t seed, long rounds, const atomic_int *until) {
    void *slot[SLOTS] = {0};
    size_t len[SLOTS] = {0};
    int rc = 0;
    for (long i = 0; rounds < 0 || i < rounds; i++) {
        if (until != NULL && atomic_load_explicit(until, memory_order_relaxed)) break;
        unsigned k = next_rand(&seed) % SLOTS;
        if (slot[k] != NULL) {
            unsigned char *p = slot[k];
            if ((len[k] > 1 && p[0] != (unsigned char)k) || p[len[k] - 1] != (unsigned char)len[k])
                rc = -1;
        }
        size_t sz = 1 + next_rand(&seed) % (next_rand(&seed) % 16 == 0 ? 200000 : 2000);
        void *n = next_rand(&seed) % 3 == 0 ? realloc(slot[k], sz) : NULL;
        if (n == NULL) {
            free(slot[k]);
            n = malloc(sz);
        }
        slot[k] = n;
        len[k] = sz;
        if (n == NULL) return -1;
        memset(n, (int)k, sz);
        ((unsigned char *)n)[sz - 1] = (unsigned char)sz;
    }
    for (int k = 0; k < SLOTS; k++)
        free(slot[k]);
    return rc;
}

static void *worker(void *arg) {
    if (churn((uint32_t)(uintptr_t)arg, -1, &stop) != 0) atomic_fetch_add(&failed, 1);
    return NULL;
}

static void *child_thread(void *arg) {
    return (void *)(intptr_t)churn((uint32_t)(uintptr_t)arg, 2000, NULL);
}

/* What a child does; returns its exit status. */
static int child_main(unsigned id, int depth) {
    if (churn(id, 3000, NULL) != 0) return 3;
    pthread_t t;
    void *res;
    if (pthread_create(&t, NULL, child_thread, (void *)(uintptr_t)(id + 7)) != 0) return 4;
    pthread_join(t, &res);
    if (res != NULL) return 5;
    if (depth == 0 && id % 16 == 0) {
        pid_t g = fork();
        if (g < 0) return 6;
        if (g == 0) exit(child_main(id + 1, 1));
        int st;
        if (waitpid(g, &st, 0) != g || !WIFEXITED(st) || WEXITSTATUS(st) != 0) return 7;
    }
    char *s = strdup("child done");
    int rc = s != NULL && strcmp(s, "child done") == 0 ? 0 : 8;
    free(s);
    return rc;
}

/* Waits for pid for at most CHILD_TIMEOUT_MS; kills it on timeout. */
static void reap(pid_t pid) {
    struct timespec nap = {0, 2 * 1000 * 1000};
    for (int waited = 0; waited < CHILD_TIMEOUT_MS; waited += 2) {
        int st;
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid) {
            if (WIFEXITED(st) && WEXITSTATUS(st) == 0) {
                atomic_fetch_add(&ok, 1);
            } else {
                atomic_fetch_add(&failed, 1);
                fprintf(stderr, "child %d: %s %d\n", (int)pid,
                        WIFEXITED(st) ? "exit status" : "killed by signal",
                        WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
            }
            return;
        }
        if (r < 0) {
            atomic_fetch_add(&failed, 1);
            return;
        }
        nanosleep(&nap, NULL);
    }
    atomic_fetch_add(&hung, 1);
    fprintf(stderr, "child %d did not exit within %d ms: deadlocked after fork\n", (int)pid,
            CHILD_TIMEOUT_MS);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
}

static int rounds;

static void *forker(void *arg) {
    unsigned base = (unsigned)(uintptr_t)arg;
    for (int i = 0; i < rounds && atomic_load(&hung) == 0; i++) {
        unsigned id = base + (unsigned)i;
        pid_t pid = fork();
        if (pid < 0) {
            atomic_fetch_add(&failed, 1);
            continue;
        }
        if (pid == 0) exit(child_main(id, 0));
        atomic_fetch_add(&forked, 1);
        reap(pid);
    }
    return NULL;
}

int main(int argc, char **argv) {
    rounds = argc > 1 ? atoi(argv[1]) : 100;
    int nworkers = argc > 2 ? atoi(argv[2]) : 6;
    if (rounds < 1 || nworkers < 1 || nworkers > 64) return 2;
    pthread_t w[64], f[FORKERS];
    for (int i = 0; i < nworkers; i++)
        if (pthread_create(&w[i], NULL, worker, (void *)(uintptr_t)(i + 1)) != 0) return 1;
    for (int i = 0; i < FORKERS; i++)
        if (pthread_create(&f[i], NULL, forker, (void *)(uintptr_t)(i * 100000)) != 0) return 1;
    for (int i = 0; i < FORKERS; i++)
        pthread_join(f[i], NULL);
    atomic_store(&stop, 1);
    for (int i = 0; i < nworkers; i++)
        pthread_join(w[i], NULL);
    printf("forks %d ok %d failed %d hung %d\n", atomic_load(&forked), atomic_load(&ok),
           atomic_load(&failed), atomic_load(&hung));
    return atomic_load(&ok) == FORKERS * rounds && atomic_load(&failed) == 0 &&
                   atomic_load(&hung) == 0
               ? 0
               : 1;
}
