/* SPDX-License-Identifier: MIT */
/*
 * latency.c - the latency monitor and per-command latency histograms, as Redis 7.0.
 *
 * Monitor: an event (e.g. "command", "expire-cycle") at or above
 * latency-monitor-threshold ms keeps its latest and worst sample and a history of the
 * last 160 seconds that had one (one sample per second, the worst). LATENCY LATEST,
 * HISTORY, GRAPH, DOCTOR and RESET read it.
 *
 * Histograms (latency-tracking yes): every command call records its duration in a
 * per-command histogram with the bucket layout of the HdrHistogram Redis uses (values in
 * nanoseconds from 1 to 10^9, two significant digits: 256 sub-buckets per power of two),
 * so LATENCY HISTOGRAM's cumulative counts and INFO latencystats' percentiles read the
 * same values Redis reports. A command's histogram hangs off its table row, allocated at
 * its first call and freed by CONFIG RESETSTAT.
 */
#include "kv_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- Histograms --- */

#define HIST_SUB_BITS   8 /* 256 sub-buckets: two significant decimal digits */
#define HIST_HALF_BITS  (HIST_SUB_BITS - 1)
#define HIST_HALF       (1 << HIST_HALF_BITS)
#define HIST_MAX_NS     1000000000LL
#define HIST_BUCKETS    23 /* 256 << 22 > 10^9 */
#define HIST_COUNTS_LEN ((HIST_BUCKETS + 1) * HIST_HALF)

_Static_assert(HIST_COUNTS_LEN == KV_LATENCY_HIST_COUNTS, "histogram layout (kv_internal.h)");

uint16_t kv_latency_usec_index[KV_LATENCY_FAST_USEC];

static int bit_length(uint64_t v) {
    return v ? 64 - __builtin_clzll(v) : 0;
}

static int bucket_of(int64_t v) {
    return bit_length((uint64_t)v | ((1u << HIST_SUB_BITS) - 1)) - HIST_SUB_BITS;
}

static int counts_index(int64_t v) {
    int b = bucket_of(v);
    int sub = (int)(v >> b);
    return ((b + 1) << HIST_HALF_BITS) + (sub - HIST_HALF);
}

static int64_t value_at_index(int idx) {
    int b = (idx >> HIST_HALF_BITS) - 1;
    int sub = (idx & (HIST_HALF - 1)) + HIST_HALF;
    if (b < 0) {
        sub -= HIST_HALF;
        b = 0;
    }
    return (int64_t)sub << b;
}

/* The largest value counted in the same bucket as v. */
static int64_t highest_equivalent(int64_t v) {
    int b = bucket_of(v);
    int64_t sub = v >> b;
    int64_t lowest = sub << b;
    int64_t size = (int64_t)1 << (sub >= (1 << HIST_SUB_BITS) ? b + 1 : b);
    return lowest + size - 1;
}

static int64_t usec_to_ns(uint64_t usec) {
    int64_t ns = usec > (uint64_t)HIST_MAX_NS / 1000 ? HIST_MAX_NS : (int64_t)usec * 1000;
    return ns < 1 ? 1 : ns;
}

/* The slow path of kv_latency_hist_add: a command's first call, or a long one. */
void kv_latency_hist_record(kv_cmd_t *cmd, uint64_t usec) {
    if (!kv_srv.cfg.latency_tracking) return;
    if (cmd->hist == NULL) {
        static bool index_ready;
        if (!index_ready) {
            for (uint64_t u = 0; u < KV_LATENCY_FAST_USEC; u++)
                kv_latency_usec_index[u] = (uint16_t)counts_index(usec_to_ns(u));
            index_ready = true;
        }
        if ((cmd->hist = calloc(1, sizeof(*cmd->hist))) == NULL) return;
    }
    kv_latency_hist_t *h = cmd->hist;
    h->counts[counts_index(usec_to_ns(usec))]++;
    h->total++;
}

static void free_hist(kv_cmd_t *cmd, void *priv) {
    (void)priv;
    free(cmd->hist);
    cmd->hist = NULL;
}

void kv_latency_hist_reset(void) {
    kv_cmd_foreach(free_hist, NULL);
}

static const kv_latency_hist_t *hist_find(const kv_cmd_t *cmd) {
    return cmd->hist;
}

/* The value (ns) at percentile p, as hdr_value_at_percentile. */
static int64_t value_at_percentile(const kv_latency_hist_t *h, double p) {
    if (p > 100.0) p = 100.0;
    int64_t want = (int64_t)((p / 100.0) * (double)h->total + 0.5);
    if (want < 1) want = 1;
    int64_t seen = 0;
    for (int i = 0; i < HIST_COUNTS_LEN; i++) {
        seen += h->counts[i];
        if (seen >= want)
            return p == 0.0 ? value_at_index(i) : highest_equivalent(value_at_index(i));
    }
    return 0;
}

/* {"calls": n, "histogram_usec": {bucket: cumulative count, ...}} with the buckets of a
 * logarithmic walk from 1024 ns doubling, as LATENCY HISTOGRAM replies. */
static void reply_hist(kv_client_t *c, const kv_latency_hist_t *h) {
    kv_reply_map_len(c, 2);
    kv_reply_bulk_cstr(c, "calls");
    kv_reply_int(c, (long long)h->total);
    kv_reply_bulk_cstr(c, "histogram_usec");
    long long micros[64], cum[64];
    int n = 0;
    uint64_t prev = 0, acc = 0;
    int idx = 0;
    for (int64_t level = 1024; prev < h->total && n < 64; level *= 2) {
        int last = counts_index(level);
        for (; idx <= last && idx < HIST_COUNTS_LEN; idx++)
            acc += h->counts[idx];
        if (acc > prev) {
            micros[n] = highest_equivalent(level) / 1000;
            cum[n++] = (long long)acc;
        }
        prev = acc;
        if (idx >= HIST_COUNTS_LEN) break;
    }
    kv_reply_map_len(c, n);
    for (int i = 0; i < n; i++) {
        kv_reply_int(c, micros[i]);
        kv_reply_int(c, cum[i]);
    }
}

typedef struct hist_all_ctx {
    kv_client_t *c;
    long n;
    bool count_only;
} hist_all_ctx_t;

static void each_hist(kv_cmd_t *cmd, void *priv) {
    hist_all_ctx_t *x = priv;
    const kv_latency_hist_t *h = hist_find(cmd);
    if (h == NULL || h->total == 0) return;
    x->n++;
    if (x->count_only) return;
    kv_reply_bulk_cstr(x->c, cmd->fullname);
    reply_hist(x->c, h);
}

/* LATENCY HISTOGRAM [command ...]: a container names all its subcommands; unknown names
 * and commands never called are left out. */
void kv_cmd_latency_histogram(kv_client_t *c) {
    hist_all_ctx_t x = {c, 0, true};
    if (c->argc == 2) {
        kv_cmd_foreach(each_hist, &x);
        kv_reply_map_len(c, x.n);
        x.count_only = false;
        kv_cmd_foreach(each_hist, &x);
        return;
    }
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1) {
            kv_reply_map_len(c, x.n);
            x.count_only = false;
        }
        x.n = 0;
        for (int j = 2; j < c->argc; j++) {
            const kv_cmd_t *cmd = kv_cmd_lookup_fullname(&c->argv[j]);
            if (cmd == NULL) continue;
            if (cmd->subcmds != NULL && cmd->parent == NULL) {
                for (kv_cmd_t *s = cmd->subcmds; s->name; s++)
                    each_hist(s, &x);
            } else {
                each_hist((kv_cmd_t *)cmd, &x);
            }
        }
    }
}

typedef struct stats_ctx {
    char *out;
    size_t len, cap;
    double pcts[16];
    int npcts;
} stats_ctx_t;

static void append(stats_ctx_t *s, const char *fmt, ...) KV_PRINTF(2, 3);
static void append(stats_ctx_t *s, const char *fmt, ...) {
    va_list ap;
    for (;;) {
        va_start(ap, fmt);
        int n = vsnprintf(s->out ? s->out + s->len : NULL, s->out ? s->cap - s->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) return;
        if (s->out && s->len + (size_t)n < s->cap) {
            s->len += (size_t)n;
            return;
        }
        size_t cap = (s->cap + (size_t)n + 1) * 2;
        char *p = realloc(s->out, cap);
        if (p == NULL) return;
        s->out = p;
        s->cap = cap;
    }
}

/* A percentile as Redis prints it: %f without trailing zeros ("50", "99.9"). */
static void pct_name(char *buf, size_t cap, double p) {
    snprintf(buf, cap, "%f", p);
    char *dot = strchr(buf, '.');
    if (dot == NULL) return;
    char *e = buf + strlen(buf) - 1;
    while (e > dot && *e == '0')
        *e-- = '\0';
    if (e == dot) *e = '\0';
}

static void each_stat(kv_cmd_t *cmd, void *priv) {
    stats_ctx_t *s = priv;
    const kv_latency_hist_t *h = hist_find(cmd);
    if (h == NULL || h->total == 0) return;
    append(s, "latency_percentiles_usec_%s:", cmd->fullname);
    for (int i = 0; i < s->npcts; i++) {
        char name[64];
        pct_name(name, sizeof(name), s->pcts[i]);
        append(s, "p%s=%.3f%s", name, (double)value_at_percentile(h, s->pcts[i]) / 1000.0,
               i + 1 < s->npcts ? "," : "");
    }
    append(s, "\r\n");
}

/* latency-tracking-info-percentiles: up to 16 numbers 0..100 (others are skipped). */
static int parse_percentiles(double *out, int cap) {
    const char *p = kv_srv.cfg.latency_tracking_info_percentiles;
    int n = 0;
    while (p && *p && n < cap) {
        char *e;
        double v = strtod(p, &e);
        if (e == p) break;
        if (v >= 0.0 && v <= 100.0) out[n++] = v;
        p = e;
    }
    return n;
}

char *kv_latency_info_stats(void) {
    stats_ctx_t s = {0};
    s.npcts = parse_percentiles(s.pcts, 16);
    append(&s, "# Latencystats\r\n");
    if (s.npcts > 0) kv_cmd_foreach(each_stat, &s);
    return s.out;
}

/* --- The latency monitor --- */

#define HISTORY_LEN 160

typedef struct history {
    struct {
        int64_t time_s;
        uint32_t ms;
    } samples[HISTORY_LEN];
    int idx; /* the next slot to write */
} history_t;

static history_t histories[sizeof(kv_srv.latency) / sizeof(kv_srv.latency[0])];

static int event_index(const char *name, size_t len) {
    for (int i = 0; i < kv_srv.nlatency; i++)
        if (strlen(kv_srv.latency[i].name) == len && !strncmp(kv_srv.latency[i].name, name, len))
            return i;
    return -1;
}

void kv_latency_add(const char *event, uint64_t ms) {
    long long thr = kv_srv.cfg.latency_monitor_threshold;
    if (thr <= 0 || (long long)ms < thr) return;
    int i = event_index(event, strlen(event));
    if (i < 0) {
        if (kv_srv.nlatency >= (int)(sizeof(histories) / sizeof(histories[0]))) return;
        i = kv_srv.nlatency++;
        memset(&kv_srv.latency[i], 0, sizeof(kv_srv.latency[i]));
        memset(&histories[i], 0, sizeof(histories[i]));
        snprintf(kv_srv.latency[i].name, sizeof(kv_srv.latency[i].name), "%s", event);
    }
    kv_latency_event_t *e = &kv_srv.latency[i];
    int64_t now = kv_mstime() / 1000;
    e->time_s = now;
    e->latest_ms = (uint32_t)ms;
    if (ms > e->max_ms) e->max_ms = (uint32_t)ms;
    history_t *h = &histories[i];
    int prev = (h->idx + HISTORY_LEN - 1) % HISTORY_LEN;
    if (h->samples[prev].time_s == now) {
        if ((uint32_t)ms > h->samples[prev].ms) h->samples[prev].ms = (uint32_t)ms;
        return;
    }
    h->samples[h->idx].time_s = now;
    h->samples[h->idx].ms = (uint32_t)ms;
    h->idx = (h->idx + 1) % HISTORY_LEN;
}

static void remove_event(int i) {
    int last = --kv_srv.nlatency;
    kv_srv.latency[i] = kv_srv.latency[last];
    histories[i] = histories[last];
}

void kv_cmd_latency_latest(kv_client_t *c) {
    kv_reply_array_len(c, kv_srv.nlatency);
    for (int i = 0; i < kv_srv.nlatency; i++) {
        const kv_latency_event_t *e = &kv_srv.latency[i];
        kv_reply_array_len(c, 4);
        kv_reply_bulk_cstr(c, e->name);
        kv_reply_int(c, e->time_s);
        kv_reply_int(c, e->latest_ms);
        kv_reply_int(c, e->max_ms);
    }
}

void kv_cmd_latency_reset(kv_client_t *c) {
    long long n = 0;
    if (c->argc == 2) {
        n = kv_srv.nlatency;
        kv_srv.nlatency = 0;
    } else {
        for (int j = 2; j < c->argc; j++) {
            int i = event_index(c->argv[j].ptr, c->argv[j].len);
            if (i >= 0) {
                remove_event(i);
                n++;
            }
        }
    }
    kv_reply_int(c, n);
}

/* Calls fn for each sample of event i, oldest first. */
static int each_sample(int i, void (*fn)(int64_t t, uint32_t ms, void *priv), void *priv) {
    const history_t *h = &histories[i];
    int n = 0;
    for (int k = 0; k < HISTORY_LEN; k++) {
        int j = (h->idx + k) % HISTORY_LEN;
        if (h->samples[j].time_s == 0) continue;
        if (fn) fn(h->samples[j].time_s, h->samples[j].ms, priv);
        n++;
    }
    return n;
}

static void reply_sample(int64_t t, uint32_t ms, void *priv) {
    kv_client_t *c = priv;
    kv_reply_array_len(c, 2);
    kv_reply_int(c, t);
    kv_reply_int(c, ms);
}

void kv_cmd_latency_history(kv_client_t *c) {
    int i = event_index(c->argv[2].ptr, c->argv[2].len);
    if (i < 0) {
        kv_reply_array_len(c, 0);
        return;
    }
    kv_reply_array_len(c, each_sample(i, NULL, NULL));
    each_sample(i, reply_sample, c);
}

/* --- LATENCY GRAPH: the samples as columns four rows high, labelled below --- */

#define GRAPH_COLS 80
#define GRAPH_ROWS 4

typedef struct graph {
    uint32_t ms[HISTORY_LEN];
    char label[HISTORY_LEN][24];
    int n;
    uint32_t min, max;
} graph_t;

static void graph_sample(int64_t t, uint32_t ms, void *priv) {
    graph_t *g = priv;
    if (g->n == 0 || ms < g->min) g->min = ms;
    if (g->n == 0 || ms > g->max) g->max = ms;
    long ago = (long)(kv_mstime() / 1000 - t);
    if (ago < 60)
        snprintf(g->label[g->n], sizeof(g->label[0]), "%lds", ago);
    else if (ago < 3600)
        snprintf(g->label[g->n], sizeof(g->label[0]), "%ldm", ago / 60);
    else if (ago < 86400)
        snprintf(g->label[g->n], sizeof(g->label[0]), "%ldh", ago / 3600);
    else
        snprintf(g->label[g->n], sizeof(g->label[0]), "%ldd", ago / 86400);
    g->ms[g->n++] = ms;
}

static void graph_render(stats_ctx_t *s, const graph_t *g) {
    int first = g->n > GRAPH_COLS ? g->n - GRAPH_COLS : 0;
    /* Each column's height in steps of a half row: '|' full, '_' half. */
    int steps[GRAPH_COLS];
    for (int k = first; k < g->n; k++) {
        double range = g->max > g->min ? (double)(g->max - g->min) : 1.0;
        double rel = g->max > g->min ? (double)(g->ms[k] - g->min) / range : 1.0;
        steps[k - first] = 1 + (int)lround(rel * (GRAPH_ROWS * 2 - 1));
    }
    for (int row = GRAPH_ROWS - 1; row >= 0; row--) {
        for (int k = first; k < g->n; k++) {
            int st = steps[k - first];
            char ch = st >= (row + 1) * 2 ? '|' : st == row * 2 + 1 ? '_' : ' ';
            append(s, "%c", ch);
        }
        append(s, "\n");
    }
    size_t longest = 0;
    for (int k = first; k < g->n; k++)
        if (strlen(g->label[k]) > longest) longest = strlen(g->label[k]);
    for (size_t r = 0; r < longest; r++) {
        for (int k = first; k < g->n; k++)
            append(s, "%c", r < strlen(g->label[k]) ? g->label[k][r] : ' ');
        append(s, "\n");
    }
}

void kv_cmd_latency_graph(kv_client_t *c) {
    int i = event_index(c->argv[2].ptr, c->argv[2].len);
    if (i < 0) {
        kv_reply_errorf(c, "ERR No samples available for event '%.*s'", (int)c->argv[2].len,
                        c->argv[2].ptr);
        return;
    }
    graph_t *g = calloc(1, sizeof(*g));
    stats_ctx_t s = {0};
    if (g == NULL) {
        kv_reply_oom(c);
        return;
    }
    each_sample(i, graph_sample, g);
    append(&s, "%s - high %lu ms, low %lu ms (all time high %lu ms)\n", kv_srv.latency[i].name,
           (unsigned long)g->max, (unsigned long)g->min, (unsigned long)kv_srv.latency[i].max_ms);
    for (int k = 0; k < GRAPH_COLS; k++)
        append(&s, "-");
    append(&s, "\n");
    graph_render(&s, g);
    free(g);
    if (s.out == NULL) {
        kv_reply_oom(c);
        return;
    }
    kv_reply_verbatim(c, s.out, s.len);
    free(s.out);
}

/* --- LATENCY DOCTOR --- */

typedef struct doc_stats {
    int n;
    double sum, mean_dev;
    int64_t first_t, last_t;
    uint32_t ms[HISTORY_LEN];
} doc_stats_t;

static void doc_sample(int64_t t, uint32_t ms, void *priv) {
    doc_stats_t *d = priv;
    if (d->n == 0) d->first_t = t;
    d->last_t = t;
    d->ms[d->n++] = ms;
    d->sum += ms;
}

void kv_cmd_latency_doctor(kv_client_t *c) {
    stats_ctx_t s = {0};
    if (kv_srv.cfg.latency_monitor_threshold <= 0 && kv_srv.nlatency == 0) {
        /* The two reports without samples are Redis 7.0's texts, byte for byte. */
        append(&s, "I'm sorry, Dave, I can't do that. Latency monitoring is disabled in this "
                   "Redis instance. You may use \"CONFIG SET latency-monitor-threshold "
                   "<milliseconds>.\" in order to enable it. If we weren't in a deep space "
                   "mission I'd suggest to take a look at "
                   "https://redis.io/topics/latency-monitor.\n");
    } else if (kv_srv.nlatency == 0) {
        append(&s, "Dave, no latency spike was observed during the lifetime of this Redis "
                   "instance, not in the slightest bit. I honestly think you ought to sit down "
                   "calmly, take a stress pill, and think things over.\n");
    } else {
        append(&s, "Latency spikes were observed in this instance, event by event:\n\n");
        for (int i = 0; i < kv_srv.nlatency; i++) {
            doc_stats_t d = {0};
            each_sample(i, doc_sample, &d);
            double avg = d.n ? d.sum / d.n : 0;
            for (int k = 0; k < d.n; k++)
                d.mean_dev += fabs(d.ms[k] - avg) / d.n;
            double period = d.n > 1 ? (double)(d.last_t - d.first_t) / (d.n - 1) : 0;
            append(&s,
                   "%d. %s: %d latency spikes (average %.0fms, mean deviation %.0fms, period "
                   "%.2f sec). Worst all time event %ums.\n",
                   i + 1, kv_srv.latency[i].name, d.n, avg, d.mean_dev, period,
                   kv_srv.latency[i].max_ms);
        }
        append(&s, "\nLATENCY HISTORY <event> lists the samples, LATENCY GRAPH <event> draws "
                   "them; SLOWLOG and INFO commandstats name the slow commands.\n");
    }
    if (s.out == NULL) {
        kv_reply_oom(c);
        return;
    }
    kv_reply_verbatim(c, s.out, s.len);
    free(s.out);
}

void kv_cmd_latency_help(kv_client_t *c) {
    static const char *const help[] = {
        "DOCTOR",
        "    Return a human readable latency analysis report.",
        "GRAPH <event>",
        "    Return an ASCII latency graph for the <event> class.",
        "HISTORY <event>",
        "    Return time-latency samples for the <event> class.",
        "LATEST",
        "    Return the latest latency samples for all events.",
        "RESET [<event> ...]",
        "    Reset latency data of one or more <event> classes.",
        "    (default: reset all data for all event classes)",
        "HISTOGRAM [COMMAND ...]",
        "    Return a cumulative distribution of latencies in the format of a histogram for the "
        "specified command names.",
        "    If no commands are specified then all histograms are replied.",
        NULL};
    kv_reply_help(c, help);
}
