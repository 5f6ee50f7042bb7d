/* SPDX-License-Identifier: MIT */
/*
 * shim_mt_fork.c - a multi-threaded program that forks from a worker thread while the
 * other threads keep allocating, then allocates heavily in the child. Prints only
 * values derived from data (never addresses), so its output is the same under any
 * allocator; a fork-unsafe allocator deadlocks or crashes here instead.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

enum { THREADS = 4, ROUNDS = 20000, SLOTS = 256 };

static volatile int stop;

static uint64_t churn(unsigned seed, int rounds) {
    void *slot[SLOTS] = {0};
    uint64_t sum = 0;
    for (int i = 0; i < rounds; i++) {
        seed = seed * 1103515245u + 12345u;
        unsigned k = (seed >> 8) % SLOTS;
        size_t sz = 16 + (seed >> 16) % 4096;
        free(slot[k]);
        slot[k] = malloc(sz);
        if (slot[k] == NULL) return 0;
        memset(slot[k], (int)(sz & 0xff), sz);
        sum += ((unsigned char *)slot[k])[sz - 1];
        if (i % 7 == 0) {
            char *r = realloc(slot[k], sz * 2);
            if (r == NULL) return 0;
            slot[k] = r;
        }
    }
    for (int k = 0; k < SLOTS; k++)
        free(slot[k]);
    return sum;
}

static void *background(void *arg) {
    unsigned seed = (unsigned)(uintptr_t)arg;
    while (!stop)
        churn(seed++, 2000);
    return NULL;
}

static void *forker(void *arg) {
    (void)arg;
    int *status = malloc(sizeof(int));
    for (int round = 0; round < 3; round++) {
        pid_t pid = fork();
        if (pid == 0) {
            /* The child: one thread, fresh allocator state inherited mid-flight. */
            uint64_t sum = churn(1000u + (unsigned)round, ROUNDS);
            char *s = calloc(1000, 1000);
            if (s == NULL) _exit(3);
            for (int i = 0; i < 1000000; i += 4096)
                sum += (unsigned char)s[i];
            free(s);
            printf("child %d sum %llu\n", round, (unsigned long long)sum);
            fflush(stdout);
            _exit(0);
        }
        if (pid < 0 || waitpid(pid, status, 0) != pid || !WIFEXITED(*status) ||
            WEXITSTATUS(*status) != 0) {
            printf("child %d failed\n", round);
            fflush(stdout);
        }
    }
    free(status);
    return NULL;
}

int main(void) {
    pthread_t bg[THREADS], fk;
    for (int i = 0; i < THREADS; i++)
        pthread_create(&bg[i], NULL, background, (void *)(uintptr_t)(i + 1));
    pthread_create(&fk, NULL, forker, NULL);
    pthread_join(fk, NULL);
    stop = 1;
    for (int i = 0; i < THREADS; i++)
        pthread_join(bg[i], NULL);
    printf("parent sum %llu\n", (unsigned long long)churn(7, ROUNDS));
    return 0;
}
