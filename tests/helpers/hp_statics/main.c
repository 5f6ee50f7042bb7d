/* SPDX-License-Identifier: MIT */
/*
 * hp_statics - two static functions named entry_new, in hash.c and set.c, each keeping a
 * known amount live: 16 MiB (hash.c) and 4 MiB (set.c). hp_statics.sh builds it with cc
 * (it has three translation units, so it is not one of the one-file helpers) and checks
 * that heapprof keeps the two apart. With -DHP_VARIANT=2 main also keeps 64 KiB through
 * extra_site, which changes the code (and so the GNU build-id): hp_buildid.sh's "rebuilt"
 * program.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void hash_fill(void);
void set_fill(void);

#if defined(HP_VARIANT) && HP_VARIANT == 2
static void *extra;
__attribute__((noinline)) static void extra_site(void) {
    extra = malloc(64 * 1024);
    if (extra != NULL) memset(extra, 'x', 64 * 1024);
}
#endif

int main(void) {
#if defined(HP_VARIANT) && HP_VARIANT == 2
    extra_site();
#endif
    hash_fill();
    set_fill();
    puts("done");
    return 0;
}
