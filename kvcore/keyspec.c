/* SPDX-License-Identifier: MIT */
/*
 * keyspec.c - key specifications: where a command's keys are in its arguments, and what
 * it does with them, as Redis 7.0 describes it (the data: cmd_keyspecs.c, generated).
 * Used by COMMAND INFO (tips, key specs, the movablekeys flag), COMMAND GETKEYS and
 * GETKEYSANDFLAGS, and client tracking (which keys a read command read).
 *
 * Key extraction follows Redis's rules: a spec's begin search (an index, or a keyword
 * searched from a position) gives the first key, its find-keys part (a range, or a count
 * argument) the last; arguments that do not fit make the whole extraction invalid.
 * SET, BITFIELD (flags that depend on the arguments), SORT (STORE anywhere) and SORT_RO
 * are computed as Redis's own key functions compute them.
 */
#include "kv_internal.h"

#include <stdlib.h>
#include <string.h>

static int cmp_meta(const void *key, const void *elem) {
    return strcmp((const char *)key, ((const kv_cmd_meta_t *)elem)->name);
}

const kv_cmd_meta_t *kv_cmd_meta_find(const char *fullname) {
    return bsearch(fullname, kv_cmd_meta, kv_cmd_meta_count, sizeof(kv_cmd_meta[0]), cmp_meta);
}

bool kv_cmd_is_movable(const kv_cmd_t *cmd) {
    const kv_cmd_meta_t *m = kv_cmd_meta_find(cmd->fullname);
    return m && m->movable;
}

/* One parsed spec ("notes|flags|begin|find"). */
typedef struct spec {
    kv_arg_t notes, flags, keyword;
    char bs, fk; /* 'i' 'k' 'u' / 'r' 'n' 'u' */
    int index, startfrom;
    int a, b, c; /* range: lastkey keystep limit; keynum: keynumidx firstkey keystep */
} spec_t;

static const char *field(const char *p, const char *end, char sep, kv_arg_t *out) {
    const char *q = memchr(p, sep, (size_t)(end - p));
    if (q == NULL) q = end;
    out->ptr = p;
    out->len = (size_t)(q - p);
    return q < end ? q + 1 : end;
}

static int num(const char **p) {
    char *e;
    long v = strtol(*p, &e, 10);
    *p = *e == ',' ? e + 1 : e;
    return (int)v;
}

static void parse_spec(const char *p, const char *end, spec_t *s) {
    kv_arg_t begin, find;
    memset(s, 0, sizeof(*s));
    p = field(p, end, '|', &s->notes);
    p = field(p, end, '|', &s->flags);
    p = field(p, end, '|', &begin);
    field(p, end, '|', &find);
    s->bs = begin.len ? begin.ptr[0] : 'u';
    const char *q = begin.ptr + 1;
    if (s->bs == 'i') {
        s->index = num(&q);
    } else if (s->bs == 'k') {
        const char *comma = memchr(q, ',', begin.len - 1);
        s->keyword.ptr = q;
        s->keyword.len = comma ? (size_t)(comma - q) : 0;
        q = comma ? comma + 1 : q;
        s->startfrom = num(&q);
    }
    s->fk = find.len ? find.ptr[0] : 'u';
    q = find.ptr + 1;
    if (s->fk == 'r' || s->fk == 'n') {
        s->a = num(&q);
        s->b = num(&q);
        s->c = num(&q);
    }
}

/* Calls fn for each spec of the command's metadata; returns how many there are. */
static int each_spec(const kv_cmd_meta_t *m, void (*fn)(const spec_t *, void *), void *priv) {
    int n = 0;
    if (m == NULL || m->specs[0] == '\0') return 0;
    const char *p = m->specs, *end = p + strlen(p);
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *e = nl ? nl : end;
        spec_t s;
        parse_spec(p, e, &s);
        if (fn) fn(&s, priv);
        n++;
        p = nl ? nl + 1 : end;
    }
    return n;
}

/* --- COMMAND INFO: tips and key specs --- */

static void reply_words(kv_client_t *c, const kv_arg_t *w, bool status) {
    long n = 0;
    for (size_t i = 0; i < w->len;) {
        while (i < w->len && w->ptr[i] == ' ')
            i++;
        if (i < w->len) n++;
        while (i < w->len && w->ptr[i] != ' ')
            i++;
    }
    kv_reply_set_len(c, n);
    for (size_t i = 0; i < w->len;) {
        while (i < w->len && w->ptr[i] == ' ')
            i++;
        size_t j = i;
        while (j < w->len && w->ptr[j] != ' ')
            j++;
        if (j > i) {
            if (status) {
                char buf[64];
                size_t len = j - i < sizeof(buf) - 1 ? j - i : sizeof(buf) - 1;
                memcpy(buf, w->ptr + i, len);
                buf[len] = '\0';
                kv_reply_status(c, buf);
            } else {
                kv_reply_bulk(c, w->ptr + i, j - i);
            }
        }
        i = j;
    }
}

static void reply_spec(const spec_t *s, void *priv) {
    kv_client_t *c = priv;
    kv_reply_map_len(c, s->notes.len ? 4 : 3);
    if (s->notes.len) {
        kv_reply_bulk_cstr(c, "notes");
        kv_reply_bulk(c, s->notes.ptr, s->notes.len);
    }
    kv_reply_bulk_cstr(c, "flags");
    reply_words(c, &s->flags, true);
    kv_reply_bulk_cstr(c, "begin_search");
    kv_reply_map_len(c, 2);
    kv_reply_bulk_cstr(c, "type");
    kv_reply_bulk_cstr(c, s->bs == 'i' ? "index" : s->bs == 'k' ? "keyword" : "unknown");
    kv_reply_bulk_cstr(c, "spec");
    if (s->bs == 'i') {
        kv_reply_map_len(c, 1);
        kv_reply_bulk_cstr(c, "index");
        kv_reply_int(c, s->index);
    } else if (s->bs == 'k') {
        kv_reply_map_len(c, 2);
        kv_reply_bulk_cstr(c, "keyword");
        kv_reply_bulk(c, s->keyword.ptr, s->keyword.len);
        kv_reply_bulk_cstr(c, "startfrom");
        kv_reply_int(c, s->startfrom);
    } else {
        kv_reply_map_len(c, 0);
    }
    kv_reply_bulk_cstr(c, "find_keys");
    kv_reply_map_len(c, 2);
    kv_reply_bulk_cstr(c, "type");
    kv_reply_bulk_cstr(c, s->fk == 'r' ? "range" : s->fk == 'n' ? "keynum" : "unknown");
    kv_reply_bulk_cstr(c, "spec");
    static const char *const names[2][3] = {{"lastkey", "keystep", "limit"},
                                            {"keynumidx", "firstkey", "keystep"}};
    if (s->fk == 'r' || s->fk == 'n') {
        const char *const *nm = names[s->fk == 'n'];
        kv_reply_map_len(c, 3);
        kv_reply_bulk_cstr(c, nm[0]);
        kv_reply_int(c, s->a);
        kv_reply_bulk_cstr(c, nm[1]);
        kv_reply_int(c, s->b);
        kv_reply_bulk_cstr(c, nm[2]);
        kv_reply_int(c, s->c);
    } else {
        kv_reply_map_len(c, 0);
    }
}

void kv_cmd_reply_tips_and_specs(kv_client_t *c, const kv_cmd_t *cmd) {
    const kv_cmd_meta_t *m = kv_cmd_meta_find(cmd->fullname);
    kv_arg_t tips = {m ? m->tips : "", m ? strlen(m->tips) : 0};
    reply_words(c, &tips, false);
    kv_reply_set_len(c, each_spec(m, NULL, NULL));
    each_spec(m, reply_spec, c);
}

/* --- Key extraction --- */

typedef struct keys_ctx {
    const kv_arg_t *argv;
    int argc;
    kv_keyref_t *keys;
    int n, cap;
    bool invalid;
} keys_ctx_t;

static void add_key(keys_ctx_t *k, int pos, const char *flags, size_t flen) {
    if (k->n == k->cap) {
        int cap = k->cap ? k->cap * 2 : 8;
        kv_keyref_t *nk = realloc(k->keys, (size_t)cap * sizeof(*nk));
        if (nk == NULL) {
            k->invalid = true;
            return;
        }
        k->keys = nk;
        k->cap = cap;
    }
    k->keys[k->n].pos = pos;
    k->keys[k->n].flags = flags;
    k->keys[k->n].flags_len = flen;
    k->n++;
}

/* The first key of a keyword spec: after the keyword, searched from startfrom towards
 * the end (or, negative, from the end towards the start). 0 when absent. */
static int keyword_first(const keys_ctx_t *k, const spec_t *s) {
    int start = s->startfrom > 0 ? s->startfrom : k->argc + s->startfrom;
    int end = s->startfrom > 0 ? k->argc - 1 : 1;
    for (int i = start; i != end; i = start <= end ? i + 1 : i - 1) {
        if (i >= k->argc || i < 1) break;
        if (k->argv[i].len == s->keyword.len &&
            strncasecmp(k->argv[i].ptr, s->keyword.ptr, s->keyword.len) == 0)
            return i + 1;
    }
    return 0;
}

static void spec_keys(const spec_t *s, void *priv) {
    keys_ctx_t *k = priv;
    if (k->invalid) return;
    if (s->flags.len >= 7 && memmem(s->flags.ptr, s->flags.len, "not_key", 7)) return;
    int first = 0, last, step;
    if (s->bs == 'i') {
        first = s->index;
    } else if (s->bs == 'k') {
        if ((first = keyword_first(k, s)) == 0) return;
    } else {
        k->invalid = true;
        return;
    }
    if (s->fk == 'r') {
        step = s->b;
        if (s->a >= 0)
            last = first + s->a;
        else if (s->c == 0)
            last = k->argc + s->a;
        else
            last = first + ((k->argc - first) / s->c + s->a);
    } else if (s->fk == 'n') {
        step = s->c;
        long long numkeys;
        if (first + s->a >= k->argc ||
            !kv_str2ll(k->argv[first + s->a].ptr, k->argv[first + s->a].len, &numkeys) ||
            numkeys < 0 || numkeys > k->argc) {
            k->invalid = true;
            return;
        }
        first += s->b;
        last = first + (int)numkeys - 1;
    } else {
        k->invalid = true;
        return;
    }
    if (last >= k->argc || last < first || first >= k->argc || step <= 0) {
        k->invalid = true;
        return;
    }
    for (int i = first; i <= last; i += step)
        add_key(k, i, s->flags.ptr, s->flags.len);
}

#define FLAGS(s) s, sizeof(s) - 1

static bool any_arg_is(const kv_arg_t *argv, int argc, int from, const char *word) {
    for (int i = from; i < argc; i++)
        if (kv_arg_is(&argv[i], word)) return true;
    return false;
}

/* SORT: the key, and the destination of the last STORE (LIMIT takes two arguments,
 * BY and GET one: skipped). */
static void sort_keys(keys_ctx_t *k) {
    add_key(k, 1, FLAGS("RO access"));
    int store = 0;
    for (int i = 2; i < k->argc; i++) {
        if (kv_arg_is(&k->argv[i], "limit"))
            i += 2;
        else if (kv_arg_is(&k->argv[i], "get") || kv_arg_is(&k->argv[i], "by"))
            i += 1;
        else if (kv_arg_is(&k->argv[i], "store") && i + 1 < k->argc)
            store = i + 1;
    }
    if (store) add_key(k, store, FLAGS("OW update"));
}

int kv_cmd_get_keys(const kv_cmd_t *cmd, const kv_arg_t *argv, int argc, kv_keyref_t **out) {
    keys_ctx_t k = {argv, argc, NULL, 0, 0, false};
    const char *name = cmd->fullname;
    if (strcmp(name, "sort") == 0) {
        sort_keys(&k);
    } else if (strcmp(name, "sort_ro") == 0) {
        add_key(&k, 1, FLAGS("RO access")); /* BY/GET name no key: only the sorted one */
    } else if (strcmp(name, "set") == 0) {
        if (any_arg_is(argv, argc, 3, "get"))
            add_key(&k, 1, FLAGS("RW access update"));
        else
            add_key(&k, 1, FLAGS("OW update"));
    } else if (strcmp(name, "bitfield") == 0) {
        if (any_arg_is(argv, argc, 2, "set") || any_arg_is(argv, argc, 2, "incrby"))
            add_key(&k, 1, FLAGS("RW access update"));
        else
            add_key(&k, 1, FLAGS("RO access"));
    } else {
        each_spec(kv_cmd_meta_find(name), spec_keys, &k);
    }
    if (k.invalid || k.n == 0) {
        free(k.keys);
        *out = NULL;
        return k.invalid ? -1 : 0;
    }
    *out = k.keys;
    return k.n;
}

bool kv_cmd_has_keys(const kv_cmd_t *cmd) {
    return each_spec(kv_cmd_meta_find(cmd->fullname), NULL, NULL) > 0;
}

/* --- COMMAND GETKEYS / GETKEYSANDFLAGS --- */

static void getkeys(kv_client_t *c, bool with_flags) {
    const kv_arg_t *argv = c->argv + 2;
    int argc = c->argc - 2;
    kv_cmd_t *cmd = kv_cmd_lookup_argv(argv, argc);
    if (cmd == NULL) {
        kv_reply_error(c, "ERR Invalid command specified");
        return;
    }
    if (!kv_cmd_has_keys(cmd)) {
        kv_reply_error(c, "ERR The command has no key arguments");
        return;
    }
    if ((cmd->arity > 0 && cmd->arity != argc) || argc < -cmd->arity) {
        kv_reply_error(c, "ERR Invalid number of arguments specified for command");
        return;
    }
    kv_keyref_t *keys;
    int n = kv_cmd_get_keys(cmd, argv, argc, &keys);
    if (n <= 0) {
        kv_reply_error(c, "ERR Invalid arguments specified for command");
        return;
    }
    kv_reply_array_len(c, n);
    for (int i = 0; i < n; i++) {
        const kv_arg_t *key = &argv[keys[i].pos];
        if (!with_flags) {
            kv_reply_bulk(c, key->ptr, key->len);
            continue;
        }
        kv_reply_array_len(c, 2);
        kv_reply_bulk(c, key->ptr, key->len);
        kv_arg_t flags = {keys[i].flags, keys[i].flags_len};
        reply_words(c, &flags, true);
    }
    free(keys);
}

void kv_cmd_command_getkeys(kv_client_t *c) {
    getkeys(c, false);
}

void kv_cmd_command_getkeysandflags(kv_client_t *c) {
    getkeys(c, true);
}
