/* SPDX-License-Identifier: MIT */
/*
 * shim_free_errno.c - does free preserve errno when jemalloc's free itself changes it?
 *
 * A seccomp filter makes madvise fail with EPERM, and MALLOC_CONF=dirty_decay_ms:0 makes
 * jemalloc purge (madvise) inside free, so jemalloc's free sets errno to EPERM. Each
 * thread then frees 1 MiB blocks with errno set to a sentinel and counts the frees that
 * changed it. Threads run in three places: created before the shim was loaded (mode
 * "dlopen": the shim is dlopen'ed after they started, its malloc/free taken by dlsym),
 * created after it, and in a child forked from a worker thread. Mode "preload" uses the
 * process's own malloc/free (run it under LD_PRELOAD).
 *
 * Mode "realloc" checks realloc's success instead, in the main thread: it moves
 * REALLOCS small blocks, in order, to another small size class, so the old blocks'
 * slabs empty one after the other and jemalloc purges them (madvise) inside realloc,
 * and counts the reallocs that changed errno. Mode "malloc" does the same with malloc
 * and free (a new block, then the old one freed) and counts the mallocs that changed
 * errno: jemalloc's malloc purges on its slow path too.
 *
 * Prints "clobbered N of M" and exits 0, or 77 when seccomp is unavailable, 1 on error.
 */
#include <dlfcn.h>
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

enum { THREADS = 3, FREES = 64, SENTINEL = 4242, REALLOCS = 20000 };
#define BLOCK ((size_t)1 << 20)

static void *(*do_malloc)(size_t) = malloc;
static void (*do_free)(void *) = free;
static pthread_barrier_t loaded;

/* madvise fails with EPERM in every thread, present and future. */
static int deny_madvise(void) {
    struct sock_filter f[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_madvise, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {.len = sizeof(f) / sizeof(f[0]), .filter = f};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return -1;
    return (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, &prog);
}

/* The number of frees (of FREES) after which errno was no longer the sentinel. */
static int clobbers(void) {
    int n = 0;
    for (int i = 0; i < FREES; i++) {
        char *p = do_malloc(BLOCK);
        if (p == NULL) return -1;
        memset(p, i, BLOCK);
        errno = SENTINEL;
        do_free(p);
        n += errno != SENTINEL;
    }
    return n;
}

/* The number of successful reallocs (of REALLOCS, 96 to 320 bytes) that changed errno. */
static int realloc_clobbers(void) {
    static char *blocks[REALLOCS];
    for (int i = 0; i < REALLOCS; i++)
        if ((blocks[i] = malloc(96)) == NULL) return -1;
    int n = 0;
    for (int i = 0; i < REALLOCS; i++) {
        memset(blocks[i], i, 96);
        errno = SENTINEL;
        char *p = realloc(blocks[i], 320);
        n += errno != SENTINEL;
        if (p == NULL || p[95] != (char)i) return -1;
        blocks[i] = p;
    }
    for (int i = 0; i < REALLOCS; i++)
        free(blocks[i]);
    return n;
}

/* The number of successful mallocs (of 4 * REALLOCS) that changed errno. */
static int malloc_clobbers(void) {
    static char *old[REALLOCS], *cur[REALLOCS];
    for (int i = 0; i < REALLOCS; i++)
        if ((old[i] = malloc(96)) == NULL) return -1;
    int n = 0;
    for (int i = 0; i < REALLOCS; i++) {
        errno = SENTINEL;
        cur[i] = malloc(320);
        n += errno != SENTINEL;
        if (cur[i] == NULL) return -1;
        free(old[i]);
    }
    for (int r = 0; r < 3; r++) {
        for (int i = 0; i < REALLOCS; i++)
            free(cur[i]);
        for (int i = 0; i < REALLOCS; i++) {
            errno = SENTINEL;
            cur[i] = malloc(100 + 200 * (size_t)r);
            n += errno != SENTINEL;
            if (cur[i] == NULL) return -1;
        }
    }
    for (int i = 0; i < REALLOCS; i++)
        free(cur[i]);
    return n;
}

static void *worker(void *arg) {
    if (arg != NULL) pthread_barrier_wait(&loaded); /* an early thread waits for the shim */
    return (void *)(intptr_t)clobbers();
}

/* Forked from a worker thread: the child's only thread runs the check too. */
static void *forker(void *arg) {
    (void)arg;
    pid_t pid = fork();
    if (pid < 0) return (void *)(intptr_t)-1;
    if (pid == 0) {
        int n = clobbers();
        _exit(n < 0 ? 255 : n);
    }
    int st;
    if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) == 255)
        return (void *)(intptr_t)-1;
    return (void *)(intptr_t)WEXITSTATUS(st);
}

int main(int argc, char **argv) {
    if (argc < 2 ||
        (strcmp(argv[1], "preload") != 0 && strcmp(argv[1], "dlopen") != 0 &&
         strcmp(argv[1], "realloc") != 0 && strcmp(argv[1], "malloc") != 0) ||
        (strcmp(argv[1], "dlopen") == 0 && argc < 3)) {
        fprintf(stderr, "usage: shim_free_errno preload | realloc | malloc | dlopen LIBMEMSHIM\n");
        return 2;
    }
    if (deny_madvise() != 0) {
        printf("seccomp unavailable here (%s)\n", strerror(errno));
        return 77;
    }
    if (strcmp(argv[1], "realloc") == 0) {
        int n = realloc_clobbers();
        if (n < 0) return 1;
        printf("clobbered %d of %d\n", n, REALLOCS);
        return 0;
    }
    if (strcmp(argv[1], "malloc") == 0) {
        int n = malloc_clobbers();
        if (n < 0) return 1;
        printf("clobbered %d of %d\n", n, 4 * REALLOCS);
        return 0;
    }
    pthread_t early[THREADS], late[THREADS], fk;
    int nearly = 0;
    if (strcmp(argv[1], "dlopen") == 0) {
        pthread_barrier_init(&loaded, NULL, THREADS + 1);
        for (; nearly < THREADS; nearly++)
            if (pthread_create(&early[nearly], NULL, worker, &loaded) != 0) return 1;
        void *h = dlopen(argv[2], RTLD_NOW | RTLD_LOCAL);
        if (h == NULL) {
            printf("dlopen: %s\n", dlerror());
            return 1;
        }
        do_malloc = (void *(*)(size_t))dlsym(h, "malloc");
        do_free = (void (*)(void *))dlsym(h, "free");
        if (do_malloc == NULL || do_free == NULL) return 1;
        pthread_barrier_wait(&loaded);
    }
    int total = 0, runs = 0, n = clobbers();
    if (n < 0) return 1;
    total += n, runs++;
    for (int i = 0; i < THREADS; i++)
        if (pthread_create(&late[i], NULL, worker, NULL) != 0) return 1;
    if (pthread_create(&fk, NULL, forker, NULL) != 0) return 1;
    void *r;
    for (int i = 0; i < nearly; i++) {
        pthread_join(early[i], &r);
        if ((intptr_t)r < 0) return 1;
        total += (int)(intptr_t)r, runs++;
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(late[i], &r);
        if ((intptr_t)r < 0) return 1;
        total += (int)(intptr_t)r, runs++;
    }
    pthread_join(fk, &r);
    if ((intptr_t)r < 0) return 1;
    total += (int)(intptr_t)r, runs++;
    printf("clobbered %d of %d\n", total, runs * FREES);
    return 0;
}
