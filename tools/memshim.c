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

#include "memshim.h"

static const struct {
    const char *name;
    int (*main)(int argc, char **argv);
    const char *summary;
} commands[] = {
    {"run", mscli_run_main, "run a program under libmemshim (preloaded, options as MEMSHIM_*)"},
    {"ctl", mscli_ctl_main, "control a running process: heap profiles, stats, frag, config"},
    {"ps", mscli_ps_main, "list this user's processes that have a control socket"},
};

static void usage(FILE *f) {
    fprintf(f, "usage: memshim <command> [args...]   (memshim <command> --help for details)\n\n");
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].summary);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0) {
        printf("memshim %s\n", MEMSHIM_VERSION);
        return 0;
    }
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (strcmp(commands[i].name, cmd) == 0) return commands[i].main(argc - 1, argv + 1);
    fprintf(stderr, "memshim: unknown command '%s'\n", cmd);
    usage(stderr);
    return 2;
}
