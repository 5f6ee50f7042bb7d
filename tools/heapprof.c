/* SPDX-License-Identifier: MIT */
/*
 * heapprof - the offline analyser of jemalloc heap dumps (libheapprof's front end).
 *
 *   heapprof top DUMP [--binary BIN] [-n N] [--inuse|--alloc] [--lines] [--cum] [--json]
 *   heapprof diff BASE NEW [...same...]
 *   heapprof collapsed DUMP [-o FILE]
 *   heapprof flame DUMP -o out.svg [--title T] [--width PX]
 *   heapprof pprof DUMP -o out.pb.gz
 *
 * DUMP is a file, a FIFO or "-" (standard input): the dump is streamed, never held whole.
 * Commands and options are tables; `heapprof --help`, `heapprof CMD --help` (or `heapprof
 * help CMD`) and `heapprof --version` print to stdout and exit 0. Exit status: 0 ok, 1 usage
 * or output error (a usage error is one line plus "Try 'heapprof CMD --help'"; --alloc on a
 * dump without allocation totals is one too), 2 the dump cannot be read (missing,
 * truncated, corrupt, not a heap dump: one line on stderr naming the line). A progress line
 * goes to stderr when it is a terminal and the work takes more than half a second
 * (HEAPPROF_PROGRESS_DELAY=SECONDS changes that); nothing when piped.
 */
#include "heapprof.h"
#include "memshim.h" // MEMSHIM_VERSION

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum { EXIT_USAGE = 1, EXIT_INPUT = 2, EXIT_MISMATCH = 3 };

#define HP_CLI_PRINTF(f, a) __attribute__((format(printf, f, a)))

/* Which options a command takes. */
enum {
    OPT_BINARY = 1 << 0,
    OPT_LIMIT = 1 << 1,
    OPT_VALUES = 1 << 2, // --inuse / --alloc
    OPT_LINES = 1 << 3,
    OPT_JSON = 1 << 4,
    OPT_OUTPUT = 1 << 5,
    OPT_TITLE = 1 << 6,
    OPT_CUM = 1 << 7,
    OPT_COMMON = OPT_BINARY,
};

typedef struct args {
    const char *files[2];
    int nfiles;
    const char *binary;
    const char *debug_dir;
    const char *output;
    const char *title;
    long limit; // -1: not given
    int width;
    bool alloc, lines, json, cum, no_symbols, quiet, force;
} args_t;

typedef struct progress {
    bool tty;
    bool shown;
    double delay; // seconds before the first progress line
    struct timespec start, last;
} progress_t;

typedef int (*cmd_fn)(const args_t *a, progress_t *pr);

typedef struct command {
    const char *name;
    int nfiles;
    unsigned opts;
    cmd_fn run;
    const char *usage;
    const char *summary;
} command_t;

static double secs_since(const struct timespec *t) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - t->tv_sec) + (double)(now.tv_nsec - t->tv_nsec) / 1e9;
}

static void on_progress(void *ctx, const char *what, size_t done, size_t total) {
    progress_t *pr = ctx;
    if (!pr->tty || secs_since(&pr->start) < pr->delay) return;
    if (pr->shown && secs_since(&pr->last) < 0.1 && done != total) return;
    clock_gettime(CLOCK_MONOTONIC, &pr->last);
    if (strcmp(what, "reading") == 0 && total == 0) // a pipe: its size is not known
        fprintf(stderr, "\rheapprof: reading %zu MB\033[K", done >> 20);
    else if (strcmp(what, "reading") == 0)
        fprintf(stderr, "\rheapprof: reading %zu/%zu MB\033[K", done >> 20, total >> 20);
    else
        fprintf(stderr, "\rheapprof: %s %zu/%zu %s\033[K", what, done, total,
                strcmp(what, "drawing") == 0 ? "frames" : "stacks");
    pr->shown = true;
}

static void progress_done(progress_t *pr) {
    if (pr->shown) fputs("\r\033[K", stderr);
    pr->shown = false;
}

/* Loads and symbolizes one dump. 0, or an exit status after printing the error. */
static int load_profile(const args_t *a, progress_t *pr, const char *path, hp_profile_t **out) {
    hp_dump_t *d = hp_dump_new();
    if (d == NULL) {
        fprintf(stderr, "heapprof: out of memory\n");
        return EXIT_INPUT;
    }
    hp_dump_set_progress(d, on_progress, pr);
    int rc = hp_dump_load(d, path);
    if (rc != 0) {
        const char *err = hp_dump_errstr(d);
        if (strncmp(err, path, strlen(path)) == 0) // open errors already name the file
            fprintf(stderr, "heapprof: %s\n", err);
        else
            fprintf(stderr, "heapprof: %s: %s\n", path, err);
        hp_dump_free(d);
        return EXIT_INPUT;
    }
    hp_sym_opts_t so = {.binary = a->binary,
                        .debug_dir = a->debug_dir,
                        .no_symbols = a->no_symbols,
                        .system_lines = a->lines,
                        .progress = on_progress,
                        .progress_ctx = pr};
    char bin_why[1024];
    int bin = hp_check_binary(d, &so, bin_why, sizeof(bin_why));
    if (bin == HP_BIN_MISMATCH && !a->force) {
        fprintf(stderr, "heapprof: %s: %s (--force analyses it anyway)\n", path, bin_why);
        hp_dump_free(d);
        return EXIT_MISMATCH;
    }
    if (bin == HP_BIN_MISMATCH)
        fprintf(stderr, "heapprof: WARNING: %s: %s; --force: going on anyway\n", path, bin_why);
    else if (bin == HP_BIN_UNVERIFIED && !a->quiet)
        fprintf(stderr, "heapprof: warning: %s: %s\n", path, bin_why);
    rc = hp_profile_build(d, &so, out);
    hp_dump_free(d);
    progress_done(pr);
    if (rc != 0) {
        fprintf(stderr, "heapprof: %s: %s\n", path, strerror(-rc));
        return EXIT_INPUT;
    }
    if (a->alloc && hp_profile_lacks_alloc(*out)) {
        fprintf(stderr,
                "heapprof: %s: this dump has no allocation totals (jemalloc's prof_accum was "
                "off when it was written), so --alloc has nothing to show; profile with "
                "MALLOC_CONF=prof_accum:true to record them\n",
                path);
        hp_profile_free(*out);
        *out = NULL;
        return EXIT_USAGE;
    }
    if (!a->quiet) {
        size_t n;
        const hp_mapping_info_t *m = hp_profile_mappings(*out, &n);
        for (size_t i = 0; i < n; i++) {
            bool seen = false;
            for (size_t j = 0; j < i && !seen; j++)
                seen = strcmp(m[j].path, m[i].path) == 0;
            if (m[i].open_error == 0 || seen) continue;
            const char *why = m[i].open_error == -ENOEXEC  ? "not an ELF file"
                              : m[i].open_error == -ENODEV ? "not a regular file"
                                                           : strerror(-m[i].open_error);
            fprintf(stderr, "heapprof: warning: %s: %s (its frames are shown as addresses)\n",
                    m[i].path, why);
        }
    }
    return 0;
}

static hp_report_opts_t report_opts(const args_t *a) {
    return (hp_report_opts_t){.alloc = a->alloc, .lines = a->lines, .sort_cum = a->cum};
}

static FILE *open_output(const args_t *a) {
    if (a->output == NULL || strcmp(a->output, "-") == 0) return stdout;
    FILE *f = fopen(a->output, "w");
    if (f == NULL) fprintf(stderr, "heapprof: %s: %s\n", a->output, strerror(errno));
    return f;
}

static int close_output(const args_t *a, FILE *f, int rc) {
    if (f != stdout) {
        if (fclose(f) != 0 && rc == 0) rc = -errno;
    } else if (fflush(f) != 0 && rc == 0) {
        rc = -EIO;
    }
    if (rc != 0) {
        fprintf(stderr, "heapprof: %s: %s\n", a->output ? a->output : "stdout", strerror(-rc));
        return EXIT_USAGE;
    }
    return 0;
}

static int write_table(const args_t *a, const hp_table_t *t) {
    FILE *f = open_output(a);
    if (f == NULL) return EXIT_USAGE;
    size_t limit = a->limit < 0 ? 0 : (size_t)a->limit;
    int rc = a->json ? hp_table_write_json(t, limit, f) : hp_table_write_text(t, limit, f);
    return close_output(a, f, rc);
}

static int cmd_top(const args_t *a, progress_t *pr) {
    hp_profile_t *p;
    int st = load_profile(a, pr, a->files[0], &p);
    if (st != 0) return st;
    hp_report_opts_t ro = report_opts(a);
    hp_table_t *t;
    int rc = hp_top(p, &ro, &t);
    hp_profile_free(p);
    if (rc != 0) {
        fprintf(stderr, "heapprof: %s\n", strerror(-rc));
        return EXIT_USAGE;
    }
    st = write_table(a, t);
    hp_table_free(t);
    return st;
}

static int cmd_diff(const args_t *a, progress_t *pr) {
    hp_table_t *t[2] = {NULL, NULL}, *d = NULL;
    hp_report_opts_t ro = report_opts(a);
    int st = 0, rc = 0;
    for (int i = 0; i < 2 && st == 0 && rc == 0; i++) {
        hp_profile_t *p;
        st = load_profile(a, pr, a->files[i], &p);
        if (st != 0) break;
        rc = hp_top(p, &ro, &t[i]);
        hp_profile_free(p);
    }
    if (st == 0 && rc == 0) rc = hp_diff(t[0], t[1], &d);
    if (st == 0 && rc != 0) {
        fprintf(stderr, "heapprof: %s\n", strerror(-rc));
        st = EXIT_USAGE;
    }
    if (st == 0) st = write_table(a, d);
    hp_table_free(t[0]);
    hp_table_free(t[1]);
    hp_table_free(d);
    return st;
}

static int cmd_collapsed(const args_t *a, progress_t *pr) {
    hp_profile_t *p;
    int st = load_profile(a, pr, a->files[0], &p);
    if (st != 0) return st;
    FILE *f = open_output(a);
    if (f == NULL) {
        hp_profile_free(p);
        return EXIT_USAGE;
    }
    hp_report_opts_t ro = report_opts(a);
    int rc = hp_collapsed_write(p, &ro, f);
    hp_profile_free(p);
    return close_output(a, f, rc);
}

static int cmd_flame(const args_t *a, progress_t *pr) {
    hp_profile_t *p;
    int st = load_profile(a, pr, a->files[0], &p);
    if (st != 0) return st;
    FILE *f = open_output(a);
    if (f == NULL) {
        hp_profile_free(p);
        return EXIT_USAGE;
    }
    const char *base = strrchr(a->files[0], '/');
    hp_flame_opts_t fo = {.report = report_opts(a),
                          .title = a->title,
                          .subtitle = base ? base + 1 : a->files[0],
                          .width = a->width,
                          .progress = on_progress,
                          .progress_ctx = pr};
    int rc = hp_flame_write(p, &fo, f);
    progress_done(pr);
    hp_profile_free(p);
    return close_output(a, f, rc);
}

static int cmd_pprof(const args_t *a, progress_t *pr) {
    hp_profile_t *p;
    int st = load_profile(a, pr, a->files[0], &p);
    if (st != 0) return st;
    int rc = hp_pprof_write_file(p, a->output);
    hp_profile_free(p);
    if (rc != 0) {
        fprintf(stderr, "heapprof: %s: %s\n", a->output, strerror(-rc));
        return EXIT_USAGE;
    }
    return 0;
}

static const command_t commands[] = {
    {"top", 1, OPT_COMMON | OPT_LIMIT | OPT_VALUES | OPT_LINES | OPT_JSON | OPT_CUM | OPT_OUTPUT,
     cmd_top, "top DUMP [--binary BIN] [-n N] [--inuse|--alloc] [--lines] [--cum] [--json]",
     "the functions that hold (or allocated) the most bytes, with flat and cumulative sums"},
    {"diff", 2, OPT_COMMON | OPT_LIMIT | OPT_VALUES | OPT_LINES | OPT_JSON | OPT_OUTPUT, cmd_diff,
     "diff BASE NEW [--binary BIN] [-n N] [--inuse|--alloc] [--lines] [--json]",
     "what changed from BASE to NEW, per function (NEW - BASE), largest change first"},
    {"collapsed", 1, OPT_COMMON | OPT_VALUES | OPT_LINES | OPT_OUTPUT, cmd_collapsed,
     "collapsed DUMP [--binary BIN] [--inuse|--alloc] [--lines] [-o FILE]",
     "folded stacks (\"main;f;g 1234\") for flamegraph.pl, speedscope or Pyroscope"},
    {"flame", 1, OPT_COMMON | OPT_VALUES | OPT_LINES | OPT_OUTPUT | OPT_TITLE, cmd_flame,
     "flame DUMP -o OUT.svg [--binary BIN] [--inuse|--alloc] [--lines] [--title T] [--width PX]",
     "a self-contained SVG flame graph (click to zoom, search)"},
    {"pprof", 1, OPT_COMMON | OPT_OUTPUT, cmd_pprof, "pprof DUMP -o OUT.pb.gz [--binary BIN]",
     "a gzipped pprof profile for `go tool pprof`, Pyroscope or Parca (no alloc_* sample types "
     "when the dump has no allocation totals)"},
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

/* Option table: name, short name, takes a value, the command mask bit that allows it. */
typedef struct option_row {
    const char *name;
    const char *alias;
    bool value;
    unsigned mask;
    const char *meta; // the value's name in the help, NULL for flags
    const char *help; // for `heapprof CMD --help`
} option_row_t;

static const option_row_t options[] = {
    {"--binary", NULL, true, OPT_BINARY, "BIN",
     "the main program's file (when the dump's path is stale)"},
    {"--debug-dir", NULL, true, 0, "DIR",
     "debug store with .build-id/xx/rest.debug (default /usr/lib/debug)"},
    {"--no-symbols", NULL, false, 0, NULL, "name frames by address only"},
    {"--quiet", "-q", false, 0, NULL, "no warnings about unreadable objects"},
    {"--force", NULL, false, 0, NULL, "analyse with a main program that is not the build that ran"},
    {"-n", "--limit", true, OPT_LIMIT, "N", "show the first N rows (0: all)"},
    {"--inuse", NULL, false, OPT_VALUES, NULL,
     "bytes in use when the dump was written (the default)"},
    {"--alloc", NULL, false, OPT_VALUES, NULL,
     "bytes allocated since start (needs a dump written with MALLOC_CONF=prof_accum:true)"},
    {"--lines", NULL, false, OPT_LINES, NULL, "one entry per function file:line"},
    {"--json", NULL, false, OPT_JSON, NULL, "one JSON object instead of the text table"},
    {"--cum", NULL, false, OPT_CUM, NULL, "sort by cumulative instead of flat bytes"},
    {"--output", "-o", true, OPT_OUTPUT, "FILE", "write there instead of standard output"},
    {"--title", NULL, true, OPT_TITLE, "T", "the flame graph's title"},
    {"--width", NULL, true, OPT_TITLE, "PX", "the flame graph's width (200..100000, default 1200)"},
};

#define NOPTIONS (sizeof(options) / sizeof(options[0]))

/* "  -o, --output FILE    help": the short name first, whichever is the row's name. */
static void print_option(FILE *out, const option_row_t *o) {
    const char *shrt = o->name[1] != '-'                ? o->name
                       : o->alias && o->alias[1] != '-' ? o->alias
                                                        : NULL;
    const char *lng = o->name[1] == '-' ? o->name : o->alias;
    char names[48];
    snprintf(names, sizeof(names), "%s%s%s%s%s", shrt ? shrt : "", shrt && lng ? ", " : "",
             lng ? lng : "", o->meta ? " " : "", o->meta ? o->meta : "");
    fprintf(out, "  %-20s %s\n", names, o->help);
}

static void usage(FILE *out) {
    fputs("usage: heapprof <command> ...   (heapprof <command> --help for details)\n", out);
    for (size_t i = 0; i < NCOMMANDS; i++)
        fprintf(out, "  heapprof %s\n", commands[i].usage);
    fputs("options for every command:\n", out);
    for (size_t i = 0; i < NOPTIONS; i++) {
        if ((options[i].mask & ~(unsigned)OPT_COMMON) == 0) print_option(out, &options[i]);
    }
    fputs("  -h, --help           this text (heapprof CMD --help: the command's)\n"
          "  --version            heapprof's version\n"
          "a DUMP may be a file, a pipe or FIFO, or - (standard input); it is streamed\n"
          "exit status: 0 ok, 1 usage or output error, 2 unreadable or malformed dump,\n"
          "             3 the main program is not the build that ran\n",
          out);
}

static void command_help(const command_t *cmd) {
    printf("usage: heapprof %s\n%s\n\noptions:\n", cmd->usage, cmd->summary);
    for (size_t i = 0; i < NOPTIONS; i++) {
        const option_row_t *o = &options[i];
        if (o->mask != 0 && !(cmd->opts & o->mask)) continue;
        print_option(stdout, o);
    }
    puts("  -h, --help           this text\n"
         "a DUMP may be a file, a pipe or FIFO, or - (standard input); it is streamed\n"
         "exit status: 0 ok, 1 usage or output error, 2 unreadable or malformed dump,\n"
         "             3 the main program is not the build that ran");
}

/* A usage error: one line naming it, one line pointing at the help. EXIT_USAGE. */
HP_CLI_PRINTF(2, 3) static int usage_error(const command_t *cmd, const char *fmt, ...) {
    va_list ap;
    fprintf(stderr, "heapprof%s%s: ", cmd ? " " : "", cmd ? cmd->name : "");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry 'heapprof%s%s --help' for more information.\n", cmd ? " " : "",
            cmd ? cmd->name : "");
    return EXIT_USAGE;
}

static int set_option(args_t *a, const char *name, const char *val) {
    char *end;
    if (strcmp(name, "--binary") == 0) {
        a->binary = val;
    } else if (strcmp(name, "--debug-dir") == 0) {
        a->debug_dir = val;
    } else if (strcmp(name, "--no-symbols") == 0) {
        a->no_symbols = true;
    } else if (strcmp(name, "--quiet") == 0) {
        a->quiet = true;
    } else if (strcmp(name, "--force") == 0) {
        a->force = true;
    } else if (strcmp(name, "-n") == 0) {
        errno = 0;
        a->limit = strtol(val, &end, 10);
        if (errno != 0 || *end != '\0' || a->limit < 0) return -EINVAL;
    } else if (strcmp(name, "--inuse") == 0) {
        a->alloc = false;
    } else if (strcmp(name, "--alloc") == 0) {
        a->alloc = true;
    } else if (strcmp(name, "--lines") == 0) {
        a->lines = true;
    } else if (strcmp(name, "--json") == 0) {
        a->json = true;
    } else if (strcmp(name, "--cum") == 0) {
        a->cum = true;
    } else if (strcmp(name, "--output") == 0) {
        a->output = val;
    } else if (strcmp(name, "--title") == 0) {
        a->title = val;
    } else if (strcmp(name, "--width") == 0) {
        errno = 0;
        long w = strtol(val, &end, 10);
        if (errno != 0 || *end != '\0' || w < 200 || w > 100000) return -EINVAL;
        a->width = (int)w;
    }
    return 0;
}

static const command_t *find_command(const char *name) {
    for (size_t i = 0; i < NCOMMANDS; i++) {
        if (strcmp(name, commands[i].name) == 0) return &commands[i];
    }
    return NULL;
}

static bool is_help(const char *arg) {
    return strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0;
}

/* Seconds a command runs before its progress line appears (HEAPPROF_PROGRESS_DELAY). */
static double progress_delay(void) {
    const char *s = getenv("HEAPPROF_PROGRESS_DELAY");
    if (s == NULL || *s == '\0') return 0.5;
    char *end;
    errno = 0;
    double d = strtod(s, &end);
    return errno == 0 && *end == '\0' && d >= 0 && d <= 3600 ? d : 0.5;
}

int main(int argc, char **argv) {
    if (argc < 2)
        return usage_error(NULL, "no command given (top, diff, collapsed, flame or pprof)");
    if (is_help(argv[1]) || strcmp(argv[1], "help") == 0) {
        const command_t *c =
            argc > 2 && strcmp(argv[1], "help") == 0 ? find_command(argv[2]) : NULL;
        if (c != NULL)
            command_help(c);
        else
            usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
        printf("heapprof (memshim) %s\n", MEMSHIM_VERSION);
        return 0;
    }
    const command_t *cmd = find_command(argv[1]);
    if (cmd == NULL) {
        return usage_error(NULL, "unknown command '%s' (top, diff, collapsed, flame or pprof)",
                           argv[1]);
    }
    /* --help anywhere wins over every other argument, right or wrong. */
    for (int i = 2; i < argc; i++) {
        if (is_help(argv[i])) {
            command_help(cmd);
            return 0;
        }
    }
    args_t a = {.limit = -1};
    for (int i = 2; i < argc; i++) {
        const char *arg = argv[i];
        if (arg[0] != '-' || strcmp(arg, "-") == 0) {
            if (a.nfiles >= cmd->nfiles) return usage_error(cmd, "unexpected argument '%s'", arg);
            a.files[a.nfiles++] = arg;
            continue;
        }
        const option_row_t *o = NULL;
        const char *inline_val = NULL;
        for (size_t j = 0; j < NOPTIONS && o == NULL; j++) {
            size_t n = strlen(options[j].name);
            if (strcmp(arg, options[j].name) == 0 ||
                (options[j].alias && strcmp(arg, options[j].alias) == 0)) {
                o = &options[j];
            } else if (options[j].value && strncmp(arg, options[j].name, n) == 0 && arg[n] == '=') {
                o = &options[j];
                inline_val = arg + n + 1;
            }
        }
        if (o == NULL) return usage_error(cmd, "unknown option '%s'", arg);
        if (o->mask != 0 && !(cmd->opts & o->mask))
            return usage_error(cmd, "option '%s' does not apply to %s", arg, cmd->name);
        const char *val = inline_val;
        if (o->value && val == NULL) {
            if (i + 1 >= argc) return usage_error(cmd, "%s needs a value", arg);
            val = argv[++i];
        }
        if (set_option(&a, o->name, val) != 0)
            return usage_error(cmd, "bad value '%s' for %s", val, arg);
    }
    if (a.nfiles != cmd->nfiles) {
        return usage_error(cmd, "%s",
                           cmd->nfiles == 2 ? "needs two dumps, BASE and NEW"
                                            : "needs a DUMP (a file, a FIFO or -)");
    }
    if (cmd->run == cmd_pprof && (a.output == NULL || strcmp(a.output, "-") == 0))
        return usage_error(cmd, "-o FILE is required (the output is gzipped binary)");
    progress_t pr = {.tty = isatty(STDERR_FILENO) == 1, .delay = progress_delay()};
    clock_gettime(CLOCK_MONOTONIC, &pr.start);
    return cmd->run(&a, &pr);
}
