/* SPDX-License-Identifier: MIT */
/*
 * prof_sites - a program with known allocation sites, for the heap-profile control tests
 * (tests/integration/prof_*.sh). Run it under libmemshim with profiling active:
 *
 *   alloc_a keeps 8 MiB live  (2048 blocks of 4 KiB)
 *   alloc_b keeps 2 MiB live  (32 blocks of 64 KiB)
 *   leak_c  leaks 1 MiB in small blocks (16384 blocks of 64 B, never freed)
 *   churn   allocates and frees 64 MiB, so nothing of it is live at exit
 *
 * The tests sample every 2^12 B and check each site's bytes within a window chosen so that
 * sampling luck cannot fail them: a block of s bytes is sampled with probability
 * p = 1 - (1 - 2^-12)^s and stands for s/p bytes, so (tests/helpers/hp_sample_odds.py)
 * alloc_a falls outside 8 MiB +-15% with probability 9.3e-19, alloc_b outside 2 MiB +-15%
 * with 3.6e-30 (one of its blocks is missed only with 3.6e-6, and costs 3%), and leak_c,
 * 254 samples expected, outside 1 MiB +-45% with 5.5e-12 (+-30% would fail 2e-6 of the
 * runs). The windows do not overlap, so alloc_a > alloc_b > leak_c follows.
 *
 * Arguments (optional, any order):
 *   dump        write a dump through the shim's control "prof.dump" (automatic name)
 *               after the sites ran, and print the path it wrote ("dump: PATH")
 *   fork        fork a child that writes a dump of its own, print its path and pid
 *   exit        call exit(0) instead of returning from main
 *   status      print the prof.* controls first ("status: active=.. lg_sample=.. ...")
 *   api DIR     dump with the C API exported by libmemshim.so (memshim_prof_dump_in_dir)
 *               into DIR and print "api dump: PATH (dumps=N)"
 * The shim's controls are found with dlsym, so the program also runs without the shim
 * (the dump then fails with "dump: unavailable"). Built with -fno-inline: every site is
 * its own frame.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

typedef int (*ctl_set_fn)(const char *, const char *);
typedef int (*ctl_get_fn)(const char *, char *, size_t);
typedef int (*dump_in_dir_fn)(const char *, char *, size_t);

static void *keep_a[2048];
static void *keep_b[32];
static void *leaked; /* leak_c's blocks, chained */

void alloc_a(void);
void alloc_b(void);
void leak_c(void);
void churn(void);

void alloc_a(void) {
    for (int i = 0; i < 2048; i++) {
        keep_a[i] = malloc(4096);
        memset(keep_a[i], 'a', 4096);
    }
}

void alloc_b(void) {
    for (int i = 0; i < 32; i++) {
        keep_b[i] = malloc(64 * 1024);
        memset(keep_b[i], 'b', 64 * 1024);
    }
}

void leak_c(void) {
    for (int i = 0; i < 16384; i++) {
        void **p = malloc(64);
        p[0] = leaked;
        leaked = p;
    }
}

void churn(void) {
    for (int i = 0; i < 16384; i++) {
        char *p = malloc(4096);
        p[0] = (char)i;
        free(p);
    }
}

static int dump_now(const char *who) {
    ctl_set_fn set = (ctl_set_fn)(void (*)(void))dlsym(RTLD_DEFAULT, "memshim_ctl_set_str");
    ctl_get_fn get = (ctl_get_fn)(void (*)(void))dlsym(RTLD_DEFAULT, "memshim_ctl_get_str");
    if (set == NULL || get == NULL) {
        printf("%s: unavailable\n", who);
        return 1;
    }
    int rc = set("prof.dump", "");
    char buf[512];
    if (rc != 0) {
        if (get("prof.last_error", buf, sizeof(buf)) != 0) buf[0] = '\0';
        printf("%s: error %d: %s\n", who, rc, buf);
        return 1;
    }
    if (get("prof.last_dump", buf, sizeof(buf)) != 0) return 1;
    printf("%s: %s\n", who, buf);
    return 0;
}

static void print_status(void) {
    ctl_get_fn get = (ctl_get_fn)(void (*)(void))dlsym(RTLD_DEFAULT, "memshim_ctl_get_str");
    static const char *const names[] = {"prof.available", "prof.active",   "prof.lg_sample",
                                        "prof.unwinder",  "prof.dump_dir", "prof.dump_at_exit"};
    printf("status:");
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        char buf[512] = "?";
        if (get == NULL || get(names[i], buf, sizeof(buf)) != 0) snprintf(buf, sizeof(buf), "?");
        printf(" %s=%s", names[i] + 5, buf);
    }
    printf("\n");
}

/* memshim.h's memshim_prof_dump_in_dir, as a program linked with -lmemshim would call it. */
static int api_dump(const char *dir) {
    dump_in_dir_fn fn =
        (dump_in_dir_fn)(void (*)(void))dlsym(RTLD_DEFAULT, "memshim_prof_dump_in_dir");
    ctl_get_fn get = (ctl_get_fn)(void (*)(void))dlsym(RTLD_DEFAULT, "memshim_ctl_get_str");
    if (fn == NULL || get == NULL) {
        printf("api dump: unavailable\n");
        return 1;
    }
    char path[512], dumps[32];
    int rc = fn(dir, path, sizeof(path));
    if (rc != 0 || get("prof.dumps", dumps, sizeof(dumps)) != 0) {
        printf("api dump: error %d\n", rc);
        return 1;
    }
    printf("api dump: %s (dumps=%s)\n", path, dumps);
    return 0;
}

int main(int argc, char **argv) {
    int want_dump = 0, want_fork = 0, want_exit = 0;
    const char *api_dir = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "dump") == 0) want_dump = 1;
        if (strcmp(argv[i], "fork") == 0) want_fork = 1;
        if (strcmp(argv[i], "exit") == 0) want_exit = 1;
        if (strcmp(argv[i], "api") == 0 && i + 1 < argc) api_dir = argv[++i];
        if (strcmp(argv[i], "status") == 0) print_status();
    }
    alloc_a();
    alloc_b();
    leak_c();
    churn();
    int rc = 0;
    if (want_dump) rc |= dump_now("dump");
    if (api_dir != NULL) rc |= api_dump(api_dir);
    fflush(stdout);
    if (want_fork) {
        pid_t pid = fork();
        if (pid == 0) {
            printf("child pid: %d\n", (int)getpid());
            int crc = dump_now("child dump");
            fflush(stdout);
            _exit(crc);
        }
        int st = 0;
        if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
            rc |= 1;
        if (want_dump) rc |= dump_now("dump after fork");
    }
    fflush(stdout);
    if (want_exit) exit(rc);
    return rc;
}
