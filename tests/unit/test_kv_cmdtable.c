/* SPDX-License-Identifier: MIT */
/*
 * test_kv_cmdtable.c - the command table (cmd.c) as data: every command and every
 * subcommand has a handler, a non-zero arity and key positions that fit it, its
 * documentation fields, and is found again by its own name; the dispatcher refuses a row
 * without a handler instead of calling it; COMMAND alone (what redis-cli and some client
 * libraries send on connect) answers one array with one entry per top-level command.
 */
#include "test_common.h"

#include "kv_internal.h"
#include "kv_client_test.h"

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
    };
    return cmocka_run_group_tests_name("kv_cmdtable", tests, setup, NULL);
}
