/* SPDX-License-Identifier: MIT */
/*
 * test_kv_cmdtable.c - the command table (cmd.c) as data: every command and every
 * subcommand has a handler, a non-zero arity and key positions that fit it, its
 * documentation fields, and is found again by its own name; the dispatcher refuses a row
 * without a handler instead of calling it; COMMAND alone (what redis-cli and some client
 * libraries send on connect) answers one array with one entry per top-level command.
 * The lookup table (word-at-a-time case folding and hashing): every name in any case
 * finds its row, subcommands too; names one byte off (a non-letter moved by 0x20, a
 * letter with its high bit set, a byte more or less, a changed tail past 16 bytes) and
 * unknown names find nothing; a lookup reads no byte past the name (a guard page).
 */
#include "test_common.h"

#include "kv_internal.h"
#include "kv_client_test.h"

#include <sys/mman.h>
#include <unistd.h>

typedef struct walk {
    size_t rows, top, bad;
} walk_t;

static bool row_bad(const char *why, const kv_cmd_t *cmd) {
    print_error("command table row '%s': %s\n", cmd->fullname, why);
    return true;
}

static bool lower_ascii(const char *s) {
    for (; *s; s++)
        if ((*s >= 'A' && *s <= 'Z') || *s == ' ' || *s == '|' || (unsigned char)*s > 0x7e)
            return false;
    return true;
}

static void check_row(kv_cmd_t *cmd, void *priv) {
    walk_t *w = priv;
    bool bad = false;
    w->rows++;
    if (cmd->parent == NULL) w->top++;
    if (cmd->name == NULL || cmd->name[0] == '\0' || !lower_ascii(cmd->name))
        bad |= row_bad("name must be non-empty lower-case ASCII", cmd);
    if (cmd->fn == NULL) bad |= row_bad("no handler", cmd);
    if (cmd->arity == 0) bad |= row_bad("arity 0", cmd);
    /* A subcommand counts its container's name: at least two arguments. */
    if (cmd->parent != NULL && cmd->arity > -2 && cmd->arity < 2)
        bad |= row_bad("subcommand arity below 2", cmd);
    if (cmd->parent != NULL && cmd->subcmds != NULL) bad |= row_bad("nested container", cmd);
    int min_args = cmd->arity > 0 ? cmd->arity : -cmd->arity;
    if (cmd->first_key == 0) {
        if (cmd->last_key != 0 || cmd->key_step != 0)
            bad |= row_bad("no first key but a last key or step", cmd);
    } else {
        int first_key_min = cmd->parent ? 2 : 1;
        if (cmd->first_key < first_key_min) bad |= row_bad("first key is the command name", cmd);
        if (cmd->key_step < 1) bad |= row_bad("key step below 1", cmd);
        if (cmd->last_key >= 0 && cmd->last_key < cmd->first_key)
            bad |= row_bad("last key before first key", cmd);
        if (cmd->first_key >= min_args && cmd->arity > 0)
            bad |= row_bad("first key beyond the arity", cmd);
        if (cmd->arity > 0 && cmd->last_key >= cmd->arity)
            bad |= row_bad("last key beyond the arity", cmd);
        if (cmd->last_key < 0 && cmd->arity > 0) bad |= row_bad("open key range, fixed arity", cmd);
    }
    if (cmd->group == NULL || cmd->acl == NULL || cmd->summary == NULL || cmd->since == NULL)
        bad |= row_bad("missing group, ACL categories, summary or since", cmd);
    /* Found again by name: top level through the lookup table, subcommands by argv. */
    if (cmd->parent == NULL) {
        if (kv_cmd_lookup(cmd->name, strlen(cmd->name)) != cmd) bad |= row_bad("not found", cmd);
    } else {
        kv_arg_t argv[2] = {{cmd->parent->name, strlen(cmd->parent->name)},
                            {cmd->name, strlen(cmd->name)}};
        if (kv_cmd_lookup_argv(argv, 2) != cmd) bad |= row_bad("subcommand not found", cmd);
    }
    if (bad) w->bad++;
}

static void test_every_row_is_sane(void **state) {
    (void)state;
    walk_t w = {0, 0, 0};
    kv_cmd_foreach(check_row, &w);
    assert_true(w.rows > 100);
    assert_int_equal(w.top, kv_cmd_count());
    assert_int_equal(w.bad, 0);
}

/* A row whose handler is missing is refused with an error, never called. */
static void test_null_handler_is_refused(void **state) {
    (void)state;
    kv_cmd_t *echo = kv_cmd_lookup("echo", 4);
    assert_non_null(echo);
    kv_cmd_fn saved = echo->fn;
    echo->fn = NULL;
    kv_client_t *c = kv_client_new(-1);
    assert_non_null(c);
    feed(c, "*2\r\n$4\r\nECHO\r\n$2\r\nhi\r\n*1\r\n$4\r\nPING\r\n");
    echo->fn = saved;
    char *out = take_output(c);
    assert_string_equal(out, "-ERR 'echo' has no handler\r\n+PONG\r\n");
    free(out);
    kv_client_free(c);
}

/* COMMAND alone: one array of COMMAND INFO entries, one per top-level command. */
static void test_command_alone_answers(void **state) {
    (void)state;
    kv_client_t *c = kv_client_new(-1);
    assert_non_null(c);
    feed(c, "*1\r\n$7\r\nCOMMAND\r\n*1\r\n$4\r\nPING\r\n");
    char *out = take_output(c);
    char head[32];
    snprintf(head, sizeof(head), "*%zu\r\n*10\r\n", kv_cmd_count());
    assert_memory_equal(out, head, strlen(head));
    size_t n = strlen(out);
    assert_true(n > 7);
    assert_string_equal(out + n - 7, "+PONG\r\n");
    free(out);
    /* Containers named alone still fail their arity check. */
    feed(c, "*1\r\n$6\r\nCONFIG\r\n");
    out = take_output(c);
    assert_string_equal(out, "-ERR wrong number of arguments for 'config' command\r\n");
    free(out);
    kv_client_free(c);
}

/* s in the case pattern k: 0 lower, 1 upper, 2 alternating from upper, 3 from lower. */
static void recase(char *out, const char *s, size_t len, int k) {
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        bool up = k == 1 || (k == 2 && i % 2 == 0) || (k == 3 && i % 2 == 1);
        out[i] = (char)(up && ch >= 'a' && ch <= 'z' ? ch - 32 : ch);
    }
    out[len] = '\0';
}

static void check_cases(kv_cmd_t *cmd, void *priv) {
    size_t *bad = priv;
    char name[64], parent[64];
    size_t len = strlen(cmd->name);
    assert_true(len < sizeof(name));
    for (int k = 0; k < 4; k++) {
        recase(name, cmd->name, len, k);
        if (cmd->parent == NULL) {
            if (kv_cmd_lookup(name, len) != cmd) {
                print_error("'%s' not found as '%s'\n", cmd->name, name);
                (*bad)++;
            }
            kv_arg_t argv[2] = {{name, len}, {"x", 1}};
            /* Alone, or with an argument: a container wants a known subcommand. */
            if (kv_cmd_lookup_argv(argv, 1) != cmd ||
                (!(cmd->flags & KV_CMD_CONTAINER) && kv_cmd_lookup_argv(argv, 2) != cmd)) {
                print_error("'%s' not found by argv as '%s'\n", cmd->name, name);
                (*bad)++;
            }
        } else {
            size_t plen = strlen(cmd->parent->name);
            recase(parent, cmd->parent->name, plen, 3 - k);
            kv_arg_t argv[3] = {{parent, plen}, {name, len}, {"x", 1}};
            if (kv_cmd_lookup_argv(argv, 2) != cmd || kv_cmd_lookup_argv(argv, 3) != cmd) {
                print_error("'%s' not found as '%s %s'\n", cmd->fullname, parent, name);
                (*bad)++;
            }
        }
    }
}

static void test_every_name_in_any_case(void **state) {
    (void)state;
    size_t bad = 0;
    kv_cmd_foreach(check_cases, &bad);
    assert_int_equal(bad, 0);
}

/* name with one byte changed or added or removed must not find cmd (nor, for most, any
 * command: checked against the table by exact name). */
static void expect_other(const kv_cmd_t *cmd, const char *name, size_t len, size_t *bad) {
    kv_cmd_t *got = kv_cmd_lookup(name, len);
    if (got == NULL) return;
    /* Another command may be one byte away ("get" and "set" are not, "del" and "dels"?):
     * then its name must be exactly this text, lower-cased. */
    char low[64];
    bool same = strlen(got->name) == len && len < sizeof(low);
    for (size_t i = 0; same && i < len; i++) {
        unsigned char ch = (unsigned char)name[i];
        low[i] = (char)(ch >= 'A' && ch <= 'Z' ? ch + 32 : ch);
        same = low[i] == got->name[i];
    }
    if (got == cmd || !same) {
        print_error("'%.*s' (one byte off '%s') found '%s'\n", (int)len, name, cmd->name,
                    got->name);
        (*bad)++;
    }
}

static void check_near_misses(kv_cmd_t *cmd, void *priv) {
    size_t *bad = priv;
    if (cmd->parent != NULL) return;
    char name[80];
    size_t len = strlen(cmd->name);
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)cmd->name[i];
        bool letter = ch >= 'a' && ch <= 'z';
        memcpy(name, cmd->name, len);
        /* A non-letter moved by 0x20 ('_' to DEL, '0' to DLE), a letter with bit 7 set. */
        name[i] = (char)(letter ? ch | 0x80 : ch ^ 0x20);
        expect_other(cmd, name, len, bad);
        name[i] = (char)((ch - 32) | 0x80); /* the upper-case letter with bit 7 */
        expect_other(cmd, name, len, bad);
        name[i] = '\0';
        expect_other(cmd, name, len, bad);
    }
    memcpy(name, cmd->name, len);
    name[len] = 'x';
    expect_other(cmd, name, len + 1, bad);
    name[len] = '\0';
    expect_other(cmd, name, len + 1, bad);
    if (len > 1) expect_other(cmd, cmd->name, len - 1, bad);
}

static void test_near_misses_and_unknown_names(void **state) {
    (void)state;
    size_t bad = 0;
    kv_cmd_foreach(check_near_misses, &bad);
    assert_int_equal(bad, 0);
    static const char *unknown[] = {"gett",
                                    "ge",
                                    "g",
                                    "xyzzy",
                                    "GET ",
                                    " get",
                                    "g_t",
                                    "georadiusbymember_rx",
                                    "georadiusbymember_r",
                                    "georadiusbymember_roo",
                                    "abcdefghijklmnopqrstuvwxyz0123456789"};
    for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++)
        assert_null(kv_cmd_lookup(unknown[i], strlen(unknown[i])));
    assert_null(kv_cmd_lookup("get", 0));
    assert_null(kv_cmd_lookup("get\0", 4));
    assert_null(kv_cmd_lookup("\xc7\xc5\xd4", 3)); /* "GET" with bit 7 set */
    char big[300];
    memset(big, 'a', sizeof(big));
    assert_null(kv_cmd_lookup(big, sizeof(big)));
    /* Unknown subcommands of a container, known ones of another container. */
    kv_arg_t argv[2] = {{"CONFIG", 6}, {"GETT", 4}};
    assert_null(kv_cmd_lookup_argv(argv, 2));
    argv[1] = (kv_arg_t){"SETNAME", 7}; /* CLIENT's, not CONFIG's */
    assert_null(kv_cmd_lookup_argv(argv, 2));
    argv[1] = (kv_arg_t){"get", 3};
    kv_cmd_t *cg = kv_cmd_lookup_argv(argv, 2);
    assert_non_null(cg);
    assert_string_equal(cg->fullname, "config|get");
}

/* Each name (and each length of every prefix) ends on the last byte of a page followed by
 * an inaccessible one: a lookup that read past the name would fault. */
static void check_guard(kv_cmd_t *cmd, void *priv) {
    char *end = priv; /* the first byte of the guard page */
    size_t len = strlen(cmd->name);
    for (size_t n = 1; n <= len; n++) {
        memcpy(end - n, cmd->name, n);
        kv_cmd_t *got = kv_cmd_lookup(end - n, n);
        if (n == len && cmd->parent == NULL) assert_ptr_equal(got, cmd);
    }
}

static void test_lookup_reads_only_the_name(void **state) {
    (void)state;
    long page = sysconf(_SC_PAGESIZE);
    assert_true(page > 0);
    char *p =
        mmap(NULL, (size_t)page * 2, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(p != MAP_FAILED);
    assert_int_equal(mprotect(p + page, (size_t)page, PROT_NONE), 0);
    kv_cmd_foreach(check_guard, p + page);
    /* Every length up to well past 16 bytes, of a name that is no command. */
    for (size_t n = 1; n <= 40; n++) {
        memset(p + page - n, 'Q', n);
        assert_null(kv_cmd_lookup(p + page - n, n));
    }
    munmap(p, (size_t)page * 2);
}

static int setup(void **state) {
    (void)state;
    if (kv_config_defaults(&kv_srv.cfg) != 0) return -1;
    return kv_cmd_init();
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_row_is_sane),
        cmocka_unit_test(test_null_handler_is_refused),
        cmocka_unit_test(test_command_alone_answers),
        cmocka_unit_test(test_every_name_in_any_case),
        cmocka_unit_test(test_near_misses_and_unknown_names),
        cmocka_unit_test(test_lookup_reads_only_the_name),
    };
    return cmocka_run_group_tests_name("kv_cmdtable", tests, setup, NULL);
}
