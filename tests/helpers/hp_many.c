/* SPDX-License-Identifier: MIT */
/*
 * hp_many - a program with thousands of distinct allocation stacks, for the heapprof
 * benchmark: every path of a FANOUT-ary call tree of DEPTH levels (32 generated step
 * functions, each one frame) ends in one of two leaf functions that keep one 16 KiB block
 * live. With jemalloc's lg_prof_sample:12 nearly every block is sampled, so a dump has
 * about FANOUT^DEPTH stacks.
 *
 * usage: hp_many [DEPTH (default 3)] [FANOUT (default 16, at most 32)]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BLOCK 16384

static volatile unsigned sink;
static void **keep;
static unsigned nkeep;
static unsigned fanout = 16;

__attribute__((noinline)) static void leaf_even(unsigned id) {
    keep[id] = malloc(BLOCK);
    memset(keep[id], 1, 64);
}

__attribute__((noinline)) static void leaf_odd(unsigned id) {
    keep[id] = malloc(BLOCK);
    memset(keep[id], 2, 64);
}

static void descend(unsigned path, unsigned id, int depth);

/* The work after the call keeps each step a real frame (no sibling call). */
#define STEP(n)                                                                                    \
    __attribute__((noinline)) static void step##n(unsigned path, unsigned id, int depth) {         \
        descend(path, id, depth);                                                                  \
        sink += n;                                                                                 \
    }
STEP(0)
STEP(1)
STEP(2)
STEP(3)
STEP(4)
STEP(5)
STEP(6)
STEP(7)
STEP(8)
STEP(9)
STEP(10)
STEP(11)
STEP(12)
STEP(13)
STEP(14)
STEP(15)
STEP(16)
STEP(17)
STEP(18)
STEP(19)
STEP(20)
STEP(21)
STEP(22)
STEP(23)
STEP(24)
STEP(25)
STEP(26)
STEP(27)
STEP(28)
STEP(29)
STEP(30)
STEP(31)

typedef void (*step_fn)(unsigned, unsigned, int);
static const step_fn steps[32] = {
    step0,  step1,  step2,  step3,  step4,  step5,  step6,  step7,  step8,  step9,  step10,
    step11, step12, step13, step14, step15, step16, step17, step18, step19, step20, step21,
    step22, step23, step24, step25, step26, step27, step28, step29, step30, step31,
};

static void descend(unsigned path, unsigned id, int depth) {
    if (depth == 0) {
        if (id % 2 == 0)
            leaf_even(id);
        else
            leaf_odd(id);
        return;
    }
    steps[path % fanout](path / fanout, id, depth - 1);
}

int main(int argc, char **argv) {
    int depth = argc > 1 ? atoi(argv[1]) : 3;
    fanout = argc > 2 ? (unsigned)atoi(argv[2]) : 16;
    if (depth < 1 || depth > 6 || fanout < 2 || fanout > 32) {
        fprintf(stderr, "usage: hp_many [DEPTH 1..6] [FANOUT 2..32]\n");
        return 2;
    }
    nkeep = 1;
    for (int i = 0; i < depth; i++)
        nkeep *= fanout;
    keep = calloc(nkeep, sizeof(*keep));
    if (keep == NULL) return 1;
    for (unsigned id = 0; id < nkeep; id++)
        descend(id, id, depth);
    printf("hp_many: %u paths, %u KiB live\n", nkeep, nkeep * (BLOCK / 1024));
    return 0;
}
