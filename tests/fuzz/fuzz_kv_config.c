/* SPDX-License-Identifier: MIT */
/*
 * fuzz_kv_config.c - the configuration-file parser (kv_config_load_string in
 * kvcore/config.c) on arbitrary file contents.
 * fuzz-sources: kvcore/config.c kvcore/util.c kvcore/notify_flags.c
 *
 * The input up to its first NUL byte is the file text (the API takes a C string).
 * Properties: loading never reads or writes outside its buffers and either succeeds or
 * fails with -EINVAL and Redis's "FATAL CONFIG FILE ERROR" text naming a line (or
 * -ENOMEM); nothing leaks, whichever way it ends. After a load, succeeded or not, every
 * row of the table reads back, and every row that CONFIG SET may change accepts the text
 * CONFIG GET gives for it and then reads back the same text (what CONFIG REWRITE relies on).
 * A "dir" line really changes directory: the target returns to its own after each input.
 */
#include "fuzz_common.h"

#include "kv_internal.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

static char home[4096];

static void check_rows(kv_config_values_t *cfg) {
    static char got[4096], again[4096];
    char err[256];
    for (size_t i = 0; i < kv_config_count(); i++) {
        const char *alias = NULL;
        const char *name = kv_config_name_at(i, &alias);
        FUZZ_CHECK(name != NULL);
        FUZZ_CHECK(kv_config_canonical(name) == name);
        if (alias != NULL) FUZZ_CHECK(kv_config_canonical(alias) == name);
        got[sizeof(got) - 1] = '\0';
        FUZZ_CHECK(kv_config_get(cfg, name, got, sizeof(got)));
        FUZZ_CHECK(memchr(got, '\0', sizeof(got)) != NULL);
        if (kv_config_is_immutable(name) || strcmp(name, "dir") == 0) continue;
        int rc = kv_config_set(cfg, name, got, err, sizeof(err));
        if (rc == -ENOMEM) continue;
        if (rc != 0) fprintf(stderr, "CONFIG SET %s '%s' refused: %s\n", name, got, err);
        FUZZ_CHECK(rc == 0);
        FUZZ_CHECK(kv_config_get(cfg, name, again, sizeof(again)));
        if (strcmp(got, again) != 0) fprintf(stderr, "%s: '%s' became '%s'\n", name, got, again);
        FUZZ_CHECK(strcmp(got, again) == 0);
    }
    FUZZ_CHECK(kv_config_name_at(kv_config_count(), NULL) == NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (home[0] == '\0' && getcwd(home, sizeof(home)) == NULL) abort();
    const uint8_t *nul = memchr(data, '\0', size);
    size_t len = nul != NULL ? (size_t)(nul - data) : size;
    char *text = malloc(len + 1);
    if (text == NULL) return 0;
    memcpy(text, data, len);
    text[len] = '\0';

    kv_config_values_t cfg;
    if (kv_config_defaults(&cfg) != 0) goto out;
    char err[1024];
    err[0] = '\0';
    int rc = kv_config_load_string(&cfg, text, err, sizeof(err));
    FUZZ_CHECK(rc == 0 || rc == -EINVAL || rc == -ENOMEM);
    if (rc == -EINVAL) FUZZ_CHECK(strstr(err, "FATAL CONFIG FILE ERROR") != NULL);
    check_rows(&cfg);
out:
    kv_config_fini(&cfg);
    free(text);
    if (chdir(home) != 0) abort();
    return 0;
}
