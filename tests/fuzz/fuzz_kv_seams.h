/* SPDX-License-Identifier: MIT */
/*
 * fuzz_kv_seams.h - link seams for the fuzz targets that link all of kvcore (kv_cmd,
 * kv_aof, kv_rdb): libmemshim (the allocator statistics, defrag moves and the heap profiler's
 * control) is not linked, the sanitizer owns malloc. Each answers "not available". Include
 * once per target, after kv_internal.h.
 */
#ifndef FUZZ_KV_SEAMS_H
#define FUZZ_KV_SEAMS_H

#include "memshim.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int memshim_stats_get(memshim_stats_t *out) {
    if (out == NULL) return -EINVAL;
    memset(out, 0, sizeof(*out));
    out->frag_ratio = 1.0;
    return 0;
}
int memshim_purge(void) {
    return 0;
}
int memshim_defrag_frag_get(memshim_frag_t *out) {
    if (out == NULL) return -EINVAL;
    memset(out, 0, sizeof(*out));
    return -ENOSYS;
}
int memshim_defrag_frag_get_cached(memshim_frag_t *out, uint64_t max_age_us) {
    (void)max_age_us;
    return memshim_defrag_frag_get(out);
}
int memshim_defrag_should_move(void *const *ptrs, size_t n, bool *out) {
    (void)ptrs;
    for (size_t i = 0; i < n; i++)
        out[i] = false;
    return 0;
}
int memshim_defrag_should_pack(void *const *ptrs, size_t n, bool *out) {
    return memshim_defrag_should_move(ptrs, n, out);
}
void *memshim_defrag_move(void *ptr) {
    (void)ptr;
    return NULL;
}
int memshim_defrag_move_batch(void **ptrs, size_t n, bool pack) {
    (void)ptrs;
    (void)n;
    (void)pack;
    return 0;
}
void *memshim_defrag_alloc_copy(void *ptr) {
    (void)ptr;
    return NULL;
}
void memshim_defrag_free(void *ptr) {
    free(ptr);
}
int memshim_prof_enable(void) {
    return -ENOENT;
}
int memshim_prof_disable(void) {
    return -ENOENT;
}
int memshim_prof_dump_in_dir(const char *dir, char *out_path, size_t out_len) {
    (void)dir;
    (void)out_path;
    (void)out_len;
    return -ENOENT;
}
int memshim_prof_status(memshim_prof_status_t *out) {
    if (out == NULL) return -EINVAL;
    memset(out, 0, sizeof(*out));
    out->unwinder = "none";
    return 0;
}
int memshim_prof_peak(bool on) {
    (void)on;
    return -ENOENT;
}
int memshim_ctl_set_str(const char *name, const char *value) {
    (void)name;
    (void)value;
    return -ENOENT;
}
int memshim_prof_peak_status(memshim_prof_peak_status_t *out) {
    if (out == NULL) return -EINVAL;
    memset(out, 0, sizeof(*out));
    return 0;
}

#endif /* FUZZ_KV_SEAMS_H */
