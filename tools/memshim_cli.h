/* SPDX-License-Identifier: MIT */
/*
 * memshim_cli.h - the `memshim` command line: one entry point per subcommand, listed in
 * the static table of tools/memshim.c, and the pieces of each that unit tests call.
 *
 * A subcommand is `int mscli_<name>_main(int argc, char **argv)` with argv[0] the
 * subcommand's name; it returns the process exit status (0 ok, 2 usage error, or what
 * the subcommand documents). Adding one is a row in tools/memshim.c plus its file
 * tools/memshim_<name>.c; main() stays in memshim.c so tests link everything else.
 */
#ifndef MEMSHIM_CLI_H
#define MEMSHIM_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

/* --- memshim run (tools/memshim_run.c) --- */

/* `memshim run [options] -- CMD [ARGS...]`: exit status of CMD, 128+N when signal N
 * killed it, 127 when CMD was not found, 126 when it could not be executed, 2 for a
 * usage error. */
int mscli_run_main(int argc, char **argv);

/*
 * One option of `memshim run`: the long name (without "--"), the placeholder of its
 * argument (NULL for a flag), the MEMSHIM_* variable it sets, the value a flag sets,
 * a validator for an argument (0 or -EINVAL; NULL accepts anything), whether repeated
 * uses join with ',' (MEMSHIM_CONF) instead of replacing, and a line of help.
 */
typedef struct mscli_run_option {
    const char *name;
    const char *metavar;
    const char *env;
    const char *flag_value;
    int (*check)(const char *arg);
    bool append;
    const char *help;
} mscli_run_option_t;

/* The option table, in the order `memshim run --help` lists it; *count gets its size. */
const mscli_run_option_t *mscli_run_options(size_t *count);

#define MSCLI_RUN_MAX_ENV   32
#define MSCLI_RUN_VALUE_MAX 1024

/* What the command line asked for. env[] holds one entry per distinct variable. */
typedef struct mscli_run_args {
    size_t nenv;
    struct {
        const char *name;                /* static: from the option table */
        char value[MSCLI_RUN_VALUE_MAX]; /* the value to set (appends already joined) */
        bool append;                     /* join with an inherited value too */
    } env[MSCLI_RUN_MAX_ENV];
    char **cmd;   /* CMD and its arguments, NULL-terminated (points into argv) */
    bool help;    /* -h/--help was given: print usage, run nothing */
    bool version; /* --version was given: print the version, run nothing */
    char err[256];
} mscli_run_args_t;

/*
 * Parses `run` arguments (argv[0] is "run"): options ("--name value" or "--name=value"),
 * then "--" or the first non-option word starts CMD. Fills *out. --dump-at-exit implies
 * --prof (MEMSHIM_PROF=1): without sampling there is nothing to dump.
 * Returns 0; -EINVAL with out->err set (unknown option, missing or malformed value,
 * no CMD, too many variables).
 */
int mscli_run_parse(int argc, char **argv, mscli_run_args_t *out);

/* Validators used by the table: a decimal u64; a probability 0..1; a size with an
 * optional k/m/g (KiB/MiB/GiB) suffix; a name:value[,name:value...] list; a sample
 * rate log2 0..62 (as `heap reset` takes); a log level 0..3; an unwinder name
 * (libunwind or libgcc). 0 or -EINVAL. */
int mscli_check_u64(const char *s);
int mscli_check_prob(const char *s);
int mscli_check_size(const char *s);
int mscli_check_conf(const char *s);
int mscli_check_lg_sample(const char *s);
int mscli_check_log_level(const char *s);
int mscli_check_unwinder(const char *s);

/*
 * Finds libmemshim.so for the memshim binary at self_exe: first in the same directory
 * (the build tree), then in ../lib (an install prefix). Writes the absolute path to out.
 * Returns 0, -ENOENT (in neither place) or -ERANGE (out too small).
 */
int mscli_run_find_lib(const char *self_exe, char *out, size_t len);

/*
 * The LD_PRELOAD value that runs the shim first: lib, then the entries of `existing`
 * (may be NULL) that are not some libmemshim, separated by ':'.
 * Returns 0 or -ERANGE (out too small).
 */
int mscli_run_preload_value(const char *lib, const char *existing, char *out, size_t len);

/*
 * Sets the variables of *args and LD_PRELOAD (with lib) in this process's environment,
 * and drops a stale MEMSHIM_REPORT_PID. Returns 0 or -ENOMEM/-ERANGE.
 */
int mscli_run_setenv(const mscli_run_args_t *args, const char *lib);

/*
 * Checks, after the options are in the environment, that MEMSHIM_DUMP_DIR (when set and
 * not empty) is a directory this process may write into, so a missing one is reported
 * before CMD runs. Returns 0, or -errno (ENOENT, ENOTDIR, EACCES...) with err set to a
 * message naming the directory.
 */
int mscli_run_check_dump_dir(char *err, size_t errlen);

/* The credentials an exec starts from: real and effective user and group IDs. */
typedef struct mscli_creds {
    uid_t ruid, euid;
    gid_t rgid, egid;
} mscli_creds_t;

/*
 * Whether LD_PRELOAD cannot work for the program at path when the process with
 * credentials *who (NULL: this process) executes it: a statically linked ELF (no
 * PT_INTERP), or an exec the loader runs in secure mode (AT_SECURE): the effective
 * user/group ID after the exec (set-user/group-ID bits, unless the file system is
 * mounted nosuid) differs from the real one, or a non-root user gains file
 * capabilities. Root executing a set-user-ID-root program is not secure mode. Writes
 * the reason to why and returns true; false when preloading works or when that cannot
 * be told (scripts: their interpreter decides).
 */
bool mscli_run_preload_blocker(const char *path, const mscli_creds_t *who, char *why, size_t len);

/* A wait status as a shell reports it: the exit code, or 128 + the signal number. */
int mscli_exit_status(int wstatus);

/* Prints `memshim run` usage (generated from the option table) to f. */
void mscli_run_usage(FILE *f);

/* --- Shared by the subcommands --- */

/*
 * A usage error as GNU tools print it, on stderr: "memshim[ CMD]: MESSAGE" and the line
 * "Try 'memshim[ CMD] --help' for more information." (cmd NULL: the top level).
 * Returns 2, the exit status of a usage error.
 */
__attribute__((format(printf, 2, 3))) int mscli_usage_error(const char *cmd, const char *fmt, ...);

/* Prints "memshim VERSION" to stdout; returns 0. */
int mscli_print_version(void);

/* --- memshim run --prof --report: the leak report (tools/memshim_prof.c) --- */

/* State of the leak report between the start of CMD and its exit. */
typedef struct mscli_prof_leak {
    bool enabled;   /* MEMSHIM_REPORT and MEMSHIM_PROF are both on */
    bool temporary; /* dir was created for this run and is removed after the report */
    char dir[4096]; /* where the dump at exit goes (MEMSHIM_DUMP_DIR) */
} mscli_prof_leak_t;

/*
 * Called after the options are in the environment: when MEMSHIM_REPORT and MEMSHIM_PROF
 * are on, sets MEMSHIM_DUMP_AT_EXIT=1 and, without MEMSHIM_DUMP_DIR, a new temporary
 * directory as MEMSHIM_DUMP_DIR. Returns 0, or -errno (mkdtemp, setenv, -ERANGE).
 */
int mscli_prof_leak_prepare(mscli_prof_leak_t *lk);

/*
 * After CMD (pid) exited: prints to stderr the top live allocation sites of its last dump
 * (`heapprof top`, found next to self_exe or on PATH), then removes a temporary
 * directory. Does nothing unless prepare enabled it. Returns 0, -ENOENT (no dump) or
 * -EIO (the analyser failed; the dump is kept and its path printed).
 */
int mscli_prof_leak_report(mscli_prof_leak_t *lk, long pid, const char *cmd, const char *self_exe);

/*
 * The newest automatic dump of process pid in dir (<dir>/memshim.<pid>.<seq>.heap with the
 * highest seq) into out. Returns 0, -ENOENT (none), -ERANGE, or -errno of opendir.
 */
int mscli_prof_find_dump(const char *dir, long pid, char *out, size_t len);

/* --- memshim ctl / memshim ps (tools/memshim_ctl.c) --- */

/* `memshim ctl [--json] [--timeout MS] [--socket PATH] PID COMMAND [ARGS...]`: 0 when the
 * process answered OK, 1 when it answered ERR, 2 for a usage error, 3 no connection (or
 * no socket that process is proven to serve). */
int mscli_ctl_main(int argc, char **argv);

/* `memshim ps [--json]`: this user's processes with a live control socket; removes the
 * sockets that are provably stale (owned by this user, in this user's private directory,
 * refusing connections, named after a pid that is gone); sockets of other owners are
 * skipped. 0, or 1 when the socket directory is not ours. */
int mscli_ps_main(int argc, char **argv);

/*
 * Joins the COMMAND words argv[0..argc) into one request line (no '\n') in out: a
 * relative `heap dump PATH` is made absolute against cwd (may be NULL: left as is), and
 * " --json" is appended when json. Returns 0; -EINVAL (no words, or a word that is empty
 * or holds whitespace or control bytes) or -EMSGSIZE (longer than a request may be),
 * with err set.
 */
int mscli_ctl_build_line(int argc, char **argv, bool json, const char *cwd, char *out, size_t len,
                         char *err, size_t errlen);

/*
 * Prints a reply body of the given kind (ms_ctlproto_kind_t) for people, escaped as by
 * mscli_escape_dup: text and json as they are, kv as two aligned columns, table as
 * aligned columns with numeric columns right-aligned. Returns 0, -ENOMEM or -EIO.
 */
int mscli_ctl_render(int kind, const char *body, size_t len, FILE *out);

/*
 * Copies len bytes of s for a terminal: '\n', '\t', printable ASCII and valid UTF-8 of
 * printable code points stay; every other byte (other controls, DEL, C1 controls in
 * either encoding, invalid UTF-8, NUL) becomes the four characters \xNN. Returns a
 * malloc'd NUL-terminated string (its length in *out_len when not NULL), or NULL when
 * out of memory.
 */
char *mscli_escape_dup(const char *s, size_t len, size_t *out_len);
/*
 * The value of `key` in a kv reply body (lines "key<TAB>value"), copied into out (len
 * bytes, truncated, NUL-terminated). Returns out, or NULL (out = "") when key is absent.
 */
const char *mscli_kv_get(const char *body, const char *key, char *out, size_t len);

/* The effective uid of process pid (from /proc/PID/status). 0, -ESRCH or -errno. */
int mscli_proc_euid(pid_t pid, uid_t *out);

/* The value of variable name in the environment process pid started with
 * (/proc/PID/environ). 0, -ENOENT (not set), -ESRCH, -ERANGE or -errno (EACCES...). */
int mscli_proc_getenv(pid_t pid, const char *name, char *out, size_t len);

/* The control socket at path may be trusted for a process of user uid: a socket (not a
 * link) owned by uid. 0, or -EPERM / -errno with err set. */
int mscli_ctl_check_socket(const char *path, uid_t uid, char *err, size_t errlen);

/* The server at the other end of connected socket fd (named path in messages) is
 * process pid running as uid, by SO_PEERCRED (the credentials of the process that
 * called listen()). 0, or -EPERM / -errno with err set. */
int mscli_ctl_check_peer(int fd, pid_t pid, uid_t uid, const char *path, char *err, size_t errlen);

/*
 * One request line to process pid over its control socket, found and proven as for
 * `memshim ctl PID` (the server is the process itself, running as its user). Connecting
 * and the exchange each get timeout_ms. On 0, *reply is the reply and *body its
 * malloc'd, NUL-terminated body (freed by the caller; empty for ERR). Otherwise -errno
 * with err set: -ESRCH (no such process), -ENOENT (no control socket), -ECONNREFUSED,
 * -EPERM (another user's process, or an impostor), -ETIMEDOUT, -EPROTO...
 */
struct ms_ctlproto_reply;
int mscli_ctl_request_pid(pid_t pid, const char *line, int timeout_ms,
                          struct ms_ctlproto_reply *reply, char **body, char *err, size_t errlen);

/* --- memshim serve (tools/memshim_serve.c; its parts for tests: memshim_serve.h) --- */

/* `memshim serve [--listen ADDR:PORT] [--unix PATH] [--token FILE] [--timeout MS]`:
 * serves /metrics, /targets and /debug/pprof/heap until SIGINT/SIGTERM. 0, 1 (cannot
 * listen), 2 usage. */
int mscli_serve_main(int argc, char **argv);

#endif /* MEMSHIM_CLI_H */
