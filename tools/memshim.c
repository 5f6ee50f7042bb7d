/* SPDX-License-Identifier: MIT */
/*
 * memshim.c - main() of the `memshim` tool: a static table of subcommands.
 *
 * Each row names a subcommand, its entry point (declared in memshim_cli.h, defined in
 * tools/memshim_<name>.c) and a one-line summary for the usage text. Only main() lives
 * here, so unit tests link every other tools/memshim*.o.
 */
#include "memshim_cli.h"

#include <stdio.h>
#include <string.h>

static const struct {
    const char *name;
    int (*main)(int argc, char **argv);
    const char *summary;
} commands[] = {
    {"run", mscli_run_main, "run a program under libmemshim (preloaded, options as MEMSHIM_*)"},
    {"ctl", mscli_ctl_main, "control a running process: heap profiles, stats, frag, config"},
    {"ps", mscli_ps_main, "list this user's processes that have a control socket"},
    {"serve", mscli_serve_main, "HTTP agent: Prometheus /metrics, /targets, pprof heap profiles"},
};

static void usage(FILE *f) {
    fprintf(f, "usage: memshim <command> [args...]   (memshim <command> --help for details)\n"
               "       memshim --version\n\n");
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].summary);
}

static int (*find(const char *name))(int, char **) {
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (strcmp(commands[i].name, name) == 0) return commands[i].main;
    return NULL;
}

int main(int argc, char **argv) {
    if (argc < 2) return mscli_usage_error(NULL, "no command given (run, ctl, ps or serve)");
    const char *cmd = argv[1];
    if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "help") == 0) {
        if (argc < 3) {
            usage(stdout);
            return 0;
        }
        /* `memshim help CMD` is `memshim CMD --help`. */
        int (*sub)(int, char **) = find(argv[2]);
        if (sub == NULL) return mscli_usage_error(NULL, "unknown command '%s'", argv[2]);
        char *help_argv[] = {argv[2], (char *)"--help", NULL};
        return sub(2, help_argv);
    }
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "-V") == 0 || strcmp(cmd, "version") == 0)
        return mscli_print_version();
    int (*sub)(int, char **) = find(cmd);
    if (sub != NULL) return sub(argc - 1, argv + 1);
    return mscli_usage_error(NULL, "unknown command '%s'", cmd);
}
