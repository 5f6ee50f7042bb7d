/* SPDX-License-Identifier: MIT */
/*
 * ctlcmd.c - what the control socket's commands do: one handler per row of the command
 * table in ctlproto.c, in a table indexed by ms_ctlcmd_id_t.
 *
 * A handler fills a text, kv or table body (ctlproto.h) or returns -errno with a
 * client-facing reason; ms_ctlcmd_handle turns either into one framed reply, converting
 * the body to JSON when the request said --json. Handlers reach the process only
 * through the public controls (memshim_ctl*, memshim_stats_get, memshim_purge,
 * memshim_defrag_bins_get, memshim_prof_*), so a name on the socket
 * means exactly what it means to MEMSHIM_CONF. Runs on the control thread only: the
 * reply buffers are static and the function is not reentrant.
 */
#include "memshim_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctlproto.h"

#define BODY_CAP (64u * 1024)
#define JSON_CAP (160u * 1024)
#define MAX_BINS 128

typedef int (*cmd_fn)(const ms_ctlproto_req_t *req, int argi, ms_ctlproto_body_t *b, char *err,
                      size_t errlen);

static const char *errtext(int rc) {
    const char *s = strerrordesc_np(rc < 0 ? -rc : rc);
    return s != NULL ? s : "unknown error";
}

/* --- heap --- */

/* The reason the profile control recorded for its last failure, or the errno text. */
static int hp_fail(int rc, const char *what, char *err, size_t errlen) {
    memshim_prof_status_t st;
    if (memshim_prof_status(&st) == 0 && st.last_error == rc && st.last_errstr[0] != '\0')
        snprintf(err, errlen, "%s", st.last_errstr);
    else
        snprintf(err, errlen, "%s: %s", what, errtext(rc));
    return rc;
}

static int heap_state_body(ms_ctlproto_body_t *b, char *err, size_t errlen) {
    memshim_prof_status_t st;
    int rc = memshim_prof_status(&st);
    if (rc != 0) return hp_fail(rc, "heap status", err, errlen);
    ms_ctlproto_body_kvf(b, "available", "%s", st.available ? "true" : "false");
    ms_ctlproto_body_kvf(b, "active", "%s", st.active ? "true" : "false");
    ms_ctlproto_body_kvf(b, "lg_sample", "%u", st.lg_sample);
    return 0;
}

static int cmd_heap_enable(const ms_ctlproto_req_t *req, int argi, ms_ctlproto_body_t *b, char *err,
                           size_t errlen) {
    (void)req, (void)argi;
    int rc = memshim_prof_enable();
    if (rc != 0) return hp_fail(rc, "heap enable", err, errlen);
    return heap_state_body(b, err, errlen);
}

static int cmd_heap_disable(const ms_ctlproto_req_t *req, int argi, ms_ctlproto_body_t *b,
                            char *err, size_t errlen) {
    (void)req, (void)argi;
    int rc = memshim_prof_disable();
    if (rc != 0) return hp_fail(rc, "heap disable", err, errlen);
    return heap_state_body(b, err, errlen);
}

static int cmd_heap_status(const ms_ctlproto_req_t *req, int argi, ms_ctlproto_body_t *b, char *err,
                           size_t errlen) {
    (void)req, (void)argi;
    memshim_prof_status_t st;
    int rc = memshim_prof_status(&st);
    if (rc != 0) return hp_fail(rc, "heap status", err, errlen);
    ms_ctlproto_body_kvf(b, "available", "%s", st.available ? "true" : "false");
    ms_ctlproto_body_kvf(b, "active", "%s", st.active ? "true" : "false");
    ms_ctlproto_body_kvf(b, "lg_sample", "%u", st.lg_sample);
    ms_ctlproto_body_kvf(b, "sample_bytes", "%llu",
                         st.lg_sample < 64 ? 1ull << st.lg_sample : 0ull);
    ms_ctlproto_body_kvf(b, "dumps", "%llu", (unsigned long long)st.dumps);
    ms_ctlproto_body_kvf(b, "last_dump", "%s", st.last_dump);
    ms_ctlproto_body_kvf(b, "last_error", "%s", st.last_errstr);
    ms_ctlproto_body_kvf(b, "dump_dir", "%s", st.dump_dir);
    ms_ctlproto_body_kvf(b, "unwinder", "%s", st.unwinder != NULL ? st.unwinder : "");
    return 0;
}

static int cmd_heap_dump(const ms_ctlproto_req_t *req, int argi, ms_ctlproto_body_t *b, char *err,
                         size_t errlen) {
    const char *path = argi < req->ntok ? req->tok[argi] : NULL;
    char written[512];
    int rc = memshim_prof_dump(path, written, sizeof(written));
    if (rc != 0) return hp_fail(rc, "heap dump", err, errlen);
    ms_ctlproto_body_kvf(b, "path", "%s", written);
    return 0;
}

/* A decimal in [lo, hi], nothing else. */
static int parse_int(const char *s, long lo, long hi, long *out) {
    char *end;
    if (*s == '\0' || *s == '+' || *s == ' ') return -EINVAL;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < lo || v > hi) return -EINVAL;
    *out = v;
    return 0;
}

static int cmd_heap_reset(const ms_ctlproto_req_t *req, int argi, ms_ctlproto_body_t *b, char *err,
                          size_t errlen) {
    long lg = -1;
    if (argi < req->ntok && parse_int(req->tok[argi], 0, 62, &lg) != 0) {
        snprintf(err, errlen, "LG_SAMPLE must be an integer from 0 to 62, not '%.64s'",
                 req->tok[argi]);
        return -EINVAL;
    }
    int rc = memshim_prof_reset((int)lg);
    if (rc != 0) return hp_fail(rc, "heap reset", err, errlen);
    return heap_state_body(b, err, errlen);
}

/* --- stats, frag, purge --- */

static int cmd_stats(const ms_ctlproto_req_t *req, int argi, ms_ctlproto_body_t *b, char *err,
                     size_t errlen) {
    (void)req, (void)argi;
    memshim_stats_t st;
    int rc = memshim_stats_get(&st);
    if (rc != 0) {
        snprintf(err, errlen, "jemalloc statistics are unavailable (%s)", errtext(rc));
        return rc;
    }
    memshim_prof_status_t hs;
    bool prof = memshim_prof_status(&hs) == 0 && hs.active;
    ms_ctlproto_body_kvf(b, "pid", "%d", (int)getpid());
    ms_ctlproto_body_kvf(b, "allocated", "%zu", st.allocated);
    ms_ctlproto_body_kvf(b, "active", "%zu", st.active);
    ms_ctlproto_body_kvf(b, "resident", "%zu", st.resident);
    ms_ctlproto_body_kvf(b, "mapped", "%zu", st.mapped);
    ms_ctlproto_body_kvf(b, "retained", "%zu", st.retained);
    ms_ctlproto_body_kvf(b, "metadata", "%zu", st.metadata);
    ms_ctlproto_body_kvf(b, "frag_bytes", "%zu", st.frag_bytes);
    ms_ctlproto_body_kvf(b, "frag_ratio", "%.4f", st.frag_ratio);
    ms_ctlproto_body_kvf(b, "rss_overhead_bytes", "%zu", st.rss_overhead_bytes);
    ms_ctlproto_body_kvf(b, "fail_injected", "%llu", (unsigned long long)st.fail_injected);
    ms_ctlproto_body_kvf(b, "fail_countable", "%llu", (unsigned long long)st.fail_countable);
    ms_ctlproto_body_kvf(b, "prof_active", "%s", prof ? "true" : "false");
    return 0;
}

static int cmd_frag(const ms_ctlproto_req_t *req, int argi, ms_ctlproto_body_t *b, char *err,
                    size_t errlen) {
    (void)req, (void)argi;
    static memshim_bin_info_t bins[MAX_BINS];
    size_t nbins = 0;
    int rc = memshim_defrag_bins_get(bins, MAX_BINS, &nbins);
    if (rc != 0) {
        snprintf(err, errlen, "jemalloc bin statistics are unavailable (%s)", errtext(rc));
        return rc;
    }
    if (nbins > MAX_BINS) nbins = MAX_BINS;
    static const char *const cols[] = {"bin",   "size",    "regions", "used",  "free",
                                       "slabs", "nonfull", "util",    "wasted"};
    for (size_t i = 0; i < sizeof(cols) / sizeof(cols[0]); i++)
        ms_ctlproto_body_cell(b, cols[i]);
    ms_ctlproto_body_endrow(b);
    for (size_t j = 0; j < nbins; j++) {
        if (bins[j].curslabs == 0) continue; /* a class nobody uses: nothing to show */
        ms_frag_bin_t in = {.reg_size = bins[j].size,
                            .nregs = bins[j].nregs,
                            .curregs = bins[j].curregs,
                            .curslabs = bins[j].curslabs,
                            .nonfull_slabs = bins[j].nonfull_slabs};
        ms_frag_row_t row;
        ms_frag_row_compute(&in, &row);
        ms_ctlproto_body_cellf(b, "%zu", j);
        ms_ctlproto_body_cellf(b, "%zu", bins[j].size);
        ms_ctlproto_body_cellf(b, "%llu", (unsigned long long)row.regions);
        ms_ctlproto_body_cellf(b, "%llu", (unsigned long long)row.used);
        ms_ctlproto_body_cellf(b, "%llu", (unsigned long long)row.free_regs);
        ms_ctlproto_body_cellf(b, "%llu", (unsigned long long)in.curslabs);
        ms_ctlproto_body_cellf(b, "%llu", (unsigned long long)in.nonfull_slabs);
        ms_ctlproto_body_cellf(b, "%.3f", row.util);
        ms_ctlproto_body_cellf(b, "%llu", (unsigned long long)row.wasted);
        ms_ctlproto_body_endrow(b);
    }
    return 0;
}

static int cmd_purge(const ms_ctlproto_req_t *req, int argi, ms_ctlproto_body_t *b, char *err,
                     size_t errlen) {
    (void)req, (void)argi;
    memshim_stats_t before, after;
    int rc = memshim_stats_get(&before);
    if (rc == 0) rc = memshim_purge();
    if (rc == 0) rc = memshim_stats_get(&after);
    if (rc != 0) {
        snprintf(err, errlen, "purge failed (%s)", errtext(rc));
        return rc;
    }
    ms_ctlproto_body_kvf(b, "resident_before", "%zu", before.resident);
    ms_ctlproto_body_kvf(b, "resident_after", "%zu", after.resident);
    ms_ctlproto_body_kvf(b, "released", "%zu",
                         before.resident > after.resident ? before.resident - after.resident
                                                          : (size_t)0);
    return 0;
}

/* --- config, get, set --- */

static const char *access_name(unsigned flags) {
    bool r = flags & MS_CTL_R, w = flags & MS_CTL_W;
    return r && w ? "rw" : r ? "ro" : "wo";
}

static int config_row(const char *name, const char *type, const char *help, void *arg) {
    (void)help;
    ms_ctlproto_body_t *b = arg;
    const ms_ctl_node_t *n = ms_ctl_find(name);
    char value[512];
    if (n == NULL || !(n->flags & MS_CTL_R))
        snprintf(value, sizeof(value), "-");
    else if (memshim_ctl_get_str(name, value, sizeof(value)) != 0)
        snprintf(value, sizeof(value), "(unreadable)");
    ms_ctlproto_body_cell(b, name);
    ms_ctlproto_body_cell(b, type);
    ms_ctlproto_body_cell(b, n != NULL ? access_name(n->flags) : "-");
    ms_ctlproto_body_cell(b, value);
    ms_ctlproto_body_endrow(b);
    return 0;
}

static int cmd_config(const ms_ctlproto_req_t *req, int argi, ms_ctlproto_body_t *b, char *err,
                      size_t errlen) {
    (void)req, (void)argi, (void)err, (void)errlen;
    ms_ctlproto_body_printf(b, "name\ttype\taccess\tvalue\n");
    return memshim_ctl_foreach(config_row, b);
}

/* The reason for a failed memshim_ctl* call on a control, as a client reads it. */
static int ctl_fail(int rc, const char *name, const char *value, char *err, size_t errlen) {
    const ms_ctl_node_t *n = ms_ctl_find(name);
    static const char *const tnames[] = {"bool", "u64", "size", "double", "string", "action"};
    switch (rc) {
    case -ENOENT:
        if (n == NULL) {
            snprintf(err, errlen, "unknown control '%.64s', see 'config'", name);
            break;
        }
        snprintf(err, errlen, "%.64s: %s", name, errtext(rc));
        break;
    case -EPERM:
        snprintf(err, errlen, "'%.64s' is %s", name,
                 n != NULL && (n->flags & MS_CTL_R) ? "read-only" : "write-only");
        break;
    case -EINVAL:
        if (n != NULL && value != NULL && n->type != MS_CTL_ACTION)
            snprintf(err, errlen, "invalid or out-of-range value '%.64s' for '%.64s' (%s)", value,
                     name, tnames[n->type]);
        else
            snprintf(err, errlen, "%.64s: invalid argument", name);
        break;
    default: snprintf(err, errlen, "%.64s: %s", name, errtext(rc)); break;
    }
    return rc;
}

static int cmd_get(const ms_ctlproto_req_t *req, int argi, ms_ctlproto_body_t *b, char *err,
                   size_t errlen) {
    const char *name = req->tok[argi];
    char value[512];
    int rc = memshim_ctl_get_str(name, value, sizeof(value));
    if (rc != 0) return ctl_fail(rc, name, NULL, err, errlen);
    ms_ctlproto_body_kvf(b, name, "%s", value);
    return 0;
}

static int cmd_set(const ms_ctlproto_req_t *req, int argi, ms_ctlproto_body_t *b, char *err,
                   size_t errlen) {
    const char *name = req->tok[argi];
    const char *value = argi + 1 < req->ntok ? req->tok[argi + 1] : NULL;
    const ms_ctl_node_t *n = ms_ctl_find(name);
    if (n != NULL && n->type != MS_CTL_ACTION && value == NULL) {
        snprintf(err, errlen, "missing VALUE for '%.64s' (usage: set NAME VALUE)", name);
        return -EINVAL;
    }
    int rc = memshim_ctl_set_str(name, value != NULL ? value : "");
    if (rc != 0) return ctl_fail(rc, name, value, err, errlen);
    char now[512];
    if (n != NULL && (n->flags & MS_CTL_R) && memshim_ctl_get_str(name, now, sizeof(now)) == 0)
        ms_ctlproto_body_kvf(b, name, "%s", now);
    else
        ms_ctlproto_body_kvf(b, name, "%s", "done");
    return 0;
}

/* --- help --- */

static int cmd_help(const ms_ctlproto_req_t *req, int argi, ms_ctlproto_body_t *b, char *err,
                    size_t errlen) {
    (void)req, (void)argi, (void)err, (void)errlen;
    size_t n;
    const ms_ctlcmd_t *cmds = ms_ctlproto_commands(&n);
    ms_ctlproto_body_printf(b, "memshim control socket, pid %d. Commands:\n", (int)getpid());
    for (size_t i = 0; i < n; i++)
        ms_ctlproto_body_printf(b, "  %-24s %s\n", cmds[i].usage, cmds[i].help);
    ms_ctlproto_body_printf(b, "Add --json to any command for a JSON body. Control names: "
                               "'config'.\n");
    return 0;
}

/* --- Dispatch --- */

/* Generated from MS_CTLCMD_LIST: every command has its cmd_<handler>, or this does not
 * compile. */
#define HANDLER(id, fn, name, sub, min, max, kind, usage, help)                                    \
    [MS_CTLCMD_##id] = {cmd_##fn, MS_CTLPROTO_##kind},
static const struct {
    cmd_fn fn;
    ms_ctlproto_kind_t kind;
} handlers[] = {MS_CTLCMD_LIST(HANDLER)};
#undef HANDLER

_Static_assert(sizeof(handlers) / sizeof(handlers[0]) == MS_CTLCMD_COUNT,
               "one handler row per ms_ctlcmd_id_t");

bool ms_ctlcmd_table_complete(void) {
    for (size_t i = 0; i < MS_CTLCMD_COUNT; i++)
        if (handlers[i].fn == NULL || handlers[i].kind > MS_CTLPROTO_JSON) return false;
    return true;
}

static ms_ctlproto_req_t req;
static char body_buf[BODY_CAP];
static char json_buf[JSON_CAP];

static size_t err_reply(char *head, size_t cap, const char *reason, const char **body,
                        size_t *body_len) {
    *body = NULL;
    *body_len = 0;
    int n = ms_ctlproto_err_head(head, cap, reason);
    return n > 0 ? (size_t)n : 0;
}

size_t ms_ctlcmd_handle(const char *line, size_t len, char *head, size_t cap, const char **body,
                        size_t *body_len) {
    char err[MS_CTLPROTO_MAX_REASON] = "";
    int rc = ms_ctlproto_parse(&req, line, len);
    if (rc != 0) return err_reply(head, cap, req.errstr, body, body_len);
    const ms_ctlcmd_t *cmd;
    int argi;
    rc = ms_ctlproto_match(&req, &cmd, &argi, err, sizeof(err));
    if (rc != 0) return err_reply(head, cap, err, body, body_len);

    ms_ctlproto_body_t b;
    ms_ctlproto_body_init(&b, body_buf, sizeof(body_buf), handlers[cmd->id].kind);
    rc = handlers[cmd->id].fn(&req, argi, &b, err, sizeof(err));
    if (rc != 0) {
        if (err[0] == '\0') snprintf(err, sizeof(err), "%s: %s", cmd->usage, errtext(rc));
        return err_reply(head, cap, err, body, body_len);
    }
    if (b.overflow) return err_reply(head, cap, "reply too large", body, body_len);
    *body = body_buf;
    *body_len = b.len;
    if (req.json) {
        ms_ctlproto_body_t j;
        ms_ctlproto_body_init(&j, json_buf, sizeof(json_buf), MS_CTLPROTO_JSON);
        if (ms_ctlproto_to_json(b.kind, body_buf, b.len, &j) != 0)
            return err_reply(head, cap, "reply too large", body, body_len);
        b = j;
        *body = json_buf;
        *body_len = j.len;
    }
    int n = ms_ctlproto_ok_head(head, cap, b.kind, *body_len);
    if (n < 0) return err_reply(head, cap, "reply header does not fit", body, body_len);
    return (size_t)n;
}
