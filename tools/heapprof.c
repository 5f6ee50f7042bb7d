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
 * Commands and options are tables. Exit status: 0 ok, 1 usage or output error, 2 the dump
 * cannot be read (missing, truncated, corrupt, not a heap dump: one line on stderr naming
 * the line). A progress line goes to stderr when it is a terminal and the work takes more
 * than half a second; nothing when piped.
 */
#include "heapprof.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum { EXIT_USAGE = 1, EXIT_INPUT = 2 };

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
    bool alloc, lines, json, cum, no_symbols, quiet;
} args_t;

typedef struct progress {
    bool tty;
    bool shown;
    struct timespec start, last;
} progress_t;

typedef int (*cmd_fn)(const args_t *a, progress_t *pr);

typedef struct command {
    const char *name;
    int nfiles;
    unsigned opts;
    cmd_fn run;
    const char *usage;
} command_t;

static double secs_since(const struct timespec *t) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - t->tv_sec) + (double)(now.tv_nsec - t->tv_nsec) / 1e9;
}

static void on_progress(void *ctx, const char *what, size_t done, size_t total) {
    progress_t *pr = ctx;
    if (!pr->tty || secs_since(&pr->start) < 0.5) return;
    if (pr->shown && secs_since(&pr->last) < 0.1 && done != total) return;
    clock_gettime(CLOCK_MONOTONIC, &pr->last);
    if (strcmp(what, "reading") == 0 && total == 0) // a pipe: its size is not known
        fprintf(stderr, "\rheapprof: reading %zu MB\033[K", done >> 20);
    else if (strcmp(what, "reading") == 0)
        fprintf(stderr, "\rheapprof: reading %zu/%zu MB\033[K", done >> 20, total >> 20);
    else
        fprintf(stderr, "\rheapprof: %s %zu/%zu stacks\033[K", what, done, total);
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
    rc = hp_profile_build(d, &so, out);
    hp_dump_free(d);
    progress_done(pr);
    if (rc != 0) {
        fprintf(stderr, "heapprof: %s: %s\n", path, strerror(-rc));
        return EXIT_INPUT;
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
                          .width = a->width};
    int rc = hp_flame_write(p, &fo, f);
    hp_profile_free(p);
    return close_output(a, f, rc);
}

static int cmd_pprof(const args_t *a, progress_t *pr) {
    if (a->output == NULL || strcmp(a->output, "-") == 0) {
        fprintf(stderr, "heapprof pprof: -o FILE is required (the output is gzipped binary)\n");
        return EXIT_USAGE;
    }
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
     cmd_top, "top DUMP [--binary BIN] [-n N] [--inuse|--alloc] [--lines] [--cum] [--json]"},
    {"diff", 2, OPT_COMMON | OPT_LIMIT | OPT_VALUES | OPT_LINES | OPT_JSON | OPT_OUTPUT, cmd_diff,
     "diff BASE NEW [--binary BIN] [-n N] [--inuse|--alloc] [--lines] [--json]"},
    {"collapsed", 1, OPT_COMMON | OPT_VALUES | OPT_LINES | OPT_OUTPUT, cmd_collapsed,
     "collapsed DUMP [--binary BIN] [--inuse|--alloc] [--lines] [-o FILE]"},
    {"flame", 1, OPT_COMMON | OPT_VALUES | OPT_LINES | OPT_OUTPUT | OPT_TITLE, cmd_flame,
     "flame DUMP -o OUT.svg [--binary BIN] [--inuse|--alloc] [--lines] [--title T] [--width PX]"},
    {"pprof", 1, OPT_COMMON | OPT_OUTPUT, cmd_pprof, "pprof DUMP -o OUT.pb.gz [--binary BIN]"},
};

static void usage(FILE *out) {
    fputs("usage: heapprof <command> ...\n", out);
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        fprintf(out, "  heapprof %s\n", commands[i].usage);
    fputs("options for every command:\n"
          "  --binary BIN     the main program's file (when the dump's path is stale)\n"
          "  --debug-dir DIR  debug store with .build-id/xx/rest.debug (default /usr/lib/debug)\n"
          "  --no-symbols     name frames by address only\n"
          "  -q, --quiet      no warnings about unreadable objects\n"
          "a DUMP may be a file, a pipe or FIFO, or - (standard input); it is streamed\n"
          "exit status: 0 ok, 1 usage or output error, 2 unreadable or malformed dump\n",
          out);
}

/* Option table: name, short name, takes a value, the command mask bit that allows it. */
typedef struct option_row {
    const char *name;
    const char *alias;
    bool value;
    unsigned mask;
} option_row_t;

static const option_row_t options[] = {
    {"--binary", NULL, true, OPT_BINARY}, {"--debug-dir", NULL, true, 0},
    {"--no-symbols", NULL, false, 0},     {"--quiet", "-q", false, 0},
    {"-n", "--limit", true, OPT_LIMIT},   {"--inuse", NULL, false, OPT_VALUES},
    {"--alloc", NULL, false, OPT_VALUES}, {"--lines", NULL, false, OPT_LINES},
    {"--json", NULL, false, OPT_JSON},    {"--cum", NULL, false, OPT_CUM},
    {"--output", "-o", true, OPT_OUTPUT}, {"--title", NULL, true, OPT_TITLE},
    {"--width", NULL, true, OPT_TITLE},
};

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

int main(int argc, char **argv) {
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? EXIT_USAGE : 0;
    }
    const command_t *cmd = NULL;
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        if (strcmp(argv[1], commands[i].name) == 0) cmd = &commands[i];
    }
    if (cmd == NULL) {
        fprintf(stderr, "heapprof: unknown command '%s'\n", argv[1]);
        usage(stderr);
        return EXIT_USAGE;
    }
    args_t a = {.limit = -1};
    for (int i = 2; i < argc; i++) {
        const char *arg = argv[i];
        if (arg[0] != '-' || strcmp(arg, "-") == 0) {
            if (a.nfiles >= cmd->nfiles) {
                fprintf(stderr, "heapprof %s: unexpected argument '%s'\n", cmd->name, arg);
                return EXIT_USAGE;
            }
            a.files[a.nfiles++] = arg;
            continue;
        }
        const option_row_t *o = NULL;
        const char *inline_val = NULL;
        for (size_t j = 0; j < sizeof(options) / sizeof(options[0]) && o == NULL; j++) {
            size_t n = strlen(options[j].name);
            if (strcmp(arg, options[j].name) == 0 ||
                (options[j].alias && strcmp(arg, options[j].alias) == 0)) {
                o = &options[j];
            } else if (options[j].value && strncmp(arg, options[j].name, n) == 0 && arg[n] == '=') {
                o = &options[j];
                inline_val = arg + n + 1;
            }
        }
        if (o == NULL || (o->mask != 0 && !(cmd->opts & o->mask))) {
            fprintf(stderr, "heapprof %s: unknown option '%s'\nusage: heapprof %s\n", cmd->name,
                    arg, cmd->usage);
            return EXIT_USAGE;
        }
        const char *val = inline_val;
        if (o->value && val == NULL) {
            if (i + 1 >= argc) {
                fprintf(stderr, "heapprof %s: %s needs a value\n", cmd->name, arg);
                return EXIT_USAGE;
            }
            val = argv[++i];
        }
        if (set_option(&a, o->name, val) != 0) {
            fprintf(stderr, "heapprof %s: bad value '%s' for %s\n", cmd->name, val, arg);
            return EXIT_USAGE;
        }
    }
    if (a.nfiles != cmd->nfiles) {
        fprintf(stderr, "usage: heapprof %s\n", cmd->usage);
        return EXIT_USAGE;
    }
    progress_t pr = {.tty = isatty(STDERR_FILENO) == 1};
    clock_gettime(CLOCK_MONOTONIC, &pr.start);
    return cmd->run(&a, &pr);
}
