/* SPDX-License-Identifier: MIT */
/*
 * notify_flags.c - the notify-keyspace-events text: Redis's class letters to flags and back
 * to its canonical form. Needs nothing of the server (config.c and its fuzz target use it).
 */
#include "kv_internal.h"

#include <stdio.h>

/* Each class letter and what it stands for; the type classes in the order Redis prints
 * them (CONFIG GET), then the letters printed apart ('A', K E m). */
static const struct {
    char ch;
    int flags;
} class_chars[] = {
    {'g', KV_NOTIFY_GENERIC},  {'$', KV_NOTIFY_STRING},   {'l', KV_NOTIFY_LIST},
    {'s', KV_NOTIFY_SET},      {'h', KV_NOTIFY_HASH},     {'z', KV_NOTIFY_ZSET},
    {'x', KV_NOTIFY_EXPIRED},  {'e', KV_NOTIFY_EVICTED},  {'t', KV_NOTIFY_STREAM},
    {'d', KV_NOTIFY_MODULE},   {'n', KV_NOTIFY_NEW},      {'A', KV_NOTIFY_ALL},
    {'K', KV_NOTIFY_KEYSPACE}, {'E', KV_NOTIFY_KEYEVENT}, {'m', KV_NOTIFY_KEY_MISS},
};
#define NCLASSES     (sizeof(class_chars) / sizeof(class_chars[0]))
#define NTYPECLASSES 11 /* g .. n */

int kv_notify_flags_parse(const char *s) {
    int flags = 0;
    for (; *s; s++) {
        size_t i = 0;
        while (i < NCLASSES && class_chars[i].ch != *s)
            i++;
        if (i == NCLASSES) return -1;
        flags |= class_chars[i].flags;
    }
    return flags;
}

void kv_notify_flags_str(int flags, char *buf, size_t len) {
    char out[NCLASSES + 1];
    size_t n = 0;
    if ((flags & KV_NOTIFY_ALL) == KV_NOTIFY_ALL) {
        out[n++] = 'A'; /* as Redis, even when n is also set */
    } else {
        for (size_t i = 0; i < NTYPECLASSES; i++)
            if (flags & class_chars[i].flags) out[n++] = class_chars[i].ch;
    }
    for (size_t i = NTYPECLASSES + 1; i < NCLASSES; i++)
        if (flags & class_chars[i].flags) out[n++] = class_chars[i].ch;
    out[n] = '\0';
    snprintf(buf, len, "%s", out);
}
