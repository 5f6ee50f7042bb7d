/* SPDX-License-Identifier: MIT */
/*
 * cmd.c - the command table and the dispatcher.
 *
 * Every command is a static row: name, handler, arity (negative = at least), flags, key
 * positions, and what COMMAND INFO/DOCS report (group, ACL categories, summary, since;
 * copied from Redis 7.0 so clients that introspect see the same). Container commands
 * (CONFIG, CLIENT, OBJECT, MEMORY, COMMAND, LATENCY, FUNCTION) have a subcommand table.
 * Lookup is an open-addressing table built at start-up over the lower-cased names, read a
 * word at a time (lookup_top).
 *
 * kv_cmd_process does what Redis's processCommand does before running a handler, in the
 * same order and with the same texts: unknown command / unknown subcommand, arity,
 * NOAUTH, commands refused inside MULTI, OOM for denyoom commands above maxmemory,
 * MISCONF; each refusal goes through reject() (which also flags an open transaction);
 * then it queues the command (inside MULTI, multi.c) or runs it (kv_cmd_call). The checks
 * after the arity run only when one of them can apply (one test of the client's flags,
 * maxmemory, the MISCONF gates and the row), and kv_cmd_call tests inline whether the
 * slow log, MONITOR or tracking want the call: with the defaults a GET costs what it cost
 * before those features existed (docs/benchmarks.md#per-request-cost-of-the-command-path).
 */
#include "kv_internal.h"
#include "rdb.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* A container's own row: only reached named alone (its arity refuses that first) or with
 * an unknown subcommand (refused before dispatch); answers as Redis would either way, so
 * no row ever has a NULL handler. */
static void container_cmd(kv_client_t *c) {
    if (c->argc < 2)
        kv_reply_errorf(c, "ERR wrong number of arguments for '%s' command", c->cmd->fullname);
    else
        kv_reply_subcmd_err(c);
}

static kv_cmd_t object_subcmds[] = {
    {"idletime", kv_cmd_object_idletime, 3, KV_CMD_READONLY, 2, 2, 1, "generic",
     "keyspace read slow", "Get the time since a Redis object was last accessed", "2.2.3"},
    {"help", kv_cmd_object_help, 2, KV_CMD_LOADING | KV_CMD_STALE, 0, 0, 0, "generic",
     "keyspace slow", "Show helpful text about the different subcommands", "6.2.0"},
    {"freq", kv_cmd_object_freq, 3, KV_CMD_READONLY, 2, 2, 1, "generic", "keyspace read slow",
     "Get the logarithmic access frequency counter of a Redis object", "4.0.0"},
    {"encoding", kv_cmd_object_encoding, 3, KV_CMD_READONLY, 2, 2, 1, "generic",
     "keyspace read slow", "Inspect the internal encoding of a Redis object", "2.2.3"},
    {"refcount", kv_cmd_object_refcount, 3, KV_CMD_READONLY, 2, 2, 1, "generic",
     "keyspace read slow", "Get the number of references to the value of the key", "2.2.3"},
    {NULL}};

static kv_cmd_t command_subcmds[] = {
    {"getkeys", kv_cmd_command_getkeys, -4, KV_CMD_LOADING | KV_CMD_STALE, 0, 0, 0, "server",
     "slow connection", "Extract keys given a full Redis command", "2.8.13"},
    {"getkeysandflags", kv_cmd_command_getkeysandflags, -4, KV_CMD_LOADING | KV_CMD_STALE, 0, 0, 0,
     "server", "slow connection", "Extract keys and access flags given a full Redis command",
     "7.0.0"},
    {"count", kv_cmd_command_count, 2, KV_CMD_LOADING | KV_CMD_STALE, 0, 0, 0, "server",
     "slow connection", "Get total number of Redis commands", "2.8.13"},
    {"docs", kv_cmd_command_docs, -2, KV_CMD_LOADING | KV_CMD_STALE, 0, 0, 0, "server",
     "slow connection", "Get array of specific Redis command documentation", "7.0.0"},
    {"list", kv_cmd_command_list, -2, KV_CMD_LOADING | KV_CMD_STALE, 0, 0, 0, "server",
     "slow connection", "Get an array of Redis command names", "7.0.0"},
    {"help", kv_cmd_command_help, 2, KV_CMD_LOADING | KV_CMD_STALE, 0, 0, 0, "server",
     "slow connection", "Show helpful text about the different subcommands", "5.0.0"},
    {"info", kv_cmd_command_info, -2, KV_CMD_LOADING | KV_CMD_STALE, 0, 0, 0, "server",
     "slow connection",
     "Get array of specific Redis command details, or all when no argument is given.", "2.8.13"},
    {NULL}};

static kv_cmd_t latency_subcmds[] = {
    {"help", kv_cmd_latency_help, 2, KV_CMD_LOADING | KV_CMD_STALE, 0, 0, 0, "server", "slow",
     "Show helpful text about the different subcommands.", "2.8.13"},
    {"history", kv_cmd_latency_history, 3,
     KV_CMD_ADMIN | KV_CMD_NOSCRIPT | KV_CMD_LOADING | KV_CMD_STALE, 0, 0, 0, "server",
     "admin slow dangerous", "Return timestamp-latency samples for the event.", "2.8.13"},
    {"histogram", kv_cmd_latency_histogram, -2,
     KV_CMD_ADMIN | KV_CMD_NOSCRIPT | KV_CMD_LOADING | KV_CMD_STALE, 0, 0, 0, "server",
     "admin slow dangerous",
     "Return the cumulative distribution of latencies of a subset of commands or all.", "7.0.0"},
    {"graph", kv_cmd_latency_graph, 3,
     KV_CMD_ADMIN | KV_CMD_NOSCRIPT | KV_CMD_LOADING | KV_CMD_STALE, 0, 0, 0, "server",
     "admin slow dangerous", "Return a latency graph for the event.", "2.8.13"},
    {"doctor", kv_cmd_latency_doctor, 2,
     KV_CMD_ADMIN | KV_CMD_NOSCRIPT | KV_CMD_LOADING | KV_CMD_STALE, 0, 0, 0, "server",
     "admin slow dangerous", "Return a human readable latency analysis report.", "2.8.13"},
    {"reset", kv_cmd_latency_reset, -2,
     KV_CMD_ADMIN | KV_CMD_NOSCRIPT | KV_CMD_LOADING | KV_CMD_STALE, 0, 0, 0, "server",
     "admin slow dangerous", "Reset latency data for one or more events.", "2.8.13"},
    {"latest", kv_cmd_latency_latest, 2,
     KV_CMD_ADMIN | KV_CMD_NOSCRIPT | KV_CMD_LOADING | KV_CMD_STALE, 0, 0, 0, "server",
     "admin slow dangerous", "Return the latest latency samples for all events.", "2.8.13"},
    {NULL}};

static kv_cmd_t function_subcmds[] = {{"flush", kv_cmd_function_flush, -2,
                                       KV_CMD_WRITE | KV_CMD_NOSCRIPT, 0, 0, 0, "scripting",
                                       "write slow scripting", "Deleting all functions", "7.0.0"},
                                      {NULL}};

static kv_cmd_t client_subcmds[] = {
    {"setname", kv_cmd_client_setname, 3, KV_CMD_NOSCRIPT | KV_CMD_LOADING | KV_CMD_STALE, 0, 0, 0,
     "connection", "slow connection", "Set the current connection name", "2.6.9"},
    {"getname", kv_cmd_client_getname, 2, KV_CMD_NOSCRIPT | KV_CMD_LOADING | KV_CMD_STALE, 0, 0, 0,
     "connection", "slow connection", "Get the current connection name", "2.6.9"},
    {"info", kv_cmd_client_info, 2, KV_CMD_NOSCRIPT | KV_CMD_LOADING | KV_CMD_STALE, 0, 0, 0,
     "connection", "slow connection", "Returns information about the current client connection.",
     "6.2.0"},
    {"id", kv_cmd_client_id, 2, KV_CMD_NOSCRIPT | KV_CMD_LOADING | KV_CMD_STALE, 0, 0, 0,
     "connection", "slow connection", "Returns the client ID for the current connection", "5.0.0"},
    {"list", kv_cmd_client_list, -2, KV_CMD_ADMIN | KV_CMD_NOSCRIPT | KV_CMD_LOADING | KV_CMD_STALE,
     0, 0, 0, "connection", "admin slow dangerous connection", "Get the list of client connections",
     "2.4.0"},
    {"no-evict", kv_cmd_client_no_evict, 3,
     KV_CMD_ADMIN | KV_CMD_NOSCRIPT | KV_CMD_LOADING | KV_CMD_STALE, 0, 0, 0, "connection",
     "admin slow dangerous connection", "Set client eviction mode for the current connection",
     "7.0.0"},
    {"no-touch", kv_cmd_client_no_touch, 3, KV_CMD_NOSCRIPT | KV_CMD_LOADING | KV_CMD_STALE, 0, 0,
     0, "connection", "slow connection",
     "Controls whether commands sent by the client affect the LRU/LFU of accessed keys", "7.2.0"},
    {"setinfo", kv_cmd_client_setinfo, 4, KV_CMD_NOSCRIPT | KV_CMD_LOADING | KV_CMD_STALE, 0, 0, 0,
     "connection", "slow connection", "Set client or connection specific info", "7.2.0"},
    {"reply", kv_cmd_client_reply, 3, KV_CMD_NOSCRIPT | KV_CMD_LOADING | KV_CMD_STALE, 0, 0, 0,
     "connection", "slow connection", "Instruct the server whether to reply to commands", "3.2.0"},
    {"pause", kv_cmd_client_pause, -3,
     KV_CMD_ADMIN | KV_CMD_NOSCRIPT | KV_CMD_LOADING | KV_CMD_STALE, 0, 0, 0, "connection",
     "admin slow dangerous connection", "Stop processing commands from clients for some time",
     "2.9.50"},
    {"unpause", kv_cmd_client_unpause, 2,
     KV_CMD_ADMIN | KV_CMD_NOSCRIPT | KV_CMD_LOADING | KV_CMD_STALE, 0, 0, 0, "connection",
     "admin slow dangerous connection", "Resume processing of clients that were paused", "6.2.0"},
    {"getredir", kv_cmd_client_getredir, 2, KV_CMD_NOSCRIPT | KV_CMD_LOADING | KV_CMD_STALE, 0, 0,
     0, "connection", "slow connection", "Get tracking notifications redirection client ID if any",
     "6.0.0"},
    {"trackinginfo", kv_cmd_client_trackinginfo, 2, KV_CMD_NOSCRIPT | KV_CMD_LOADING | KV_CMD_STALE,
     0, 0, 0, "connection", "slow connection",
     "Return information about server assisted client side caching for the current connection",
     "6.2.0"},
    {"caching", kv_cmd_client_caching, 3, KV_CMD_NOSCRIPT | KV_CMD_LOADING | KV_CMD_STALE, 0, 0, 0,
     "connection", "slow connection",
     "Instruct the server about tracking or not keys in the next request", "6.0.0"},
    {"tracking", kv_cmd_client_tracking, -3, KV_CMD_NOSCRIPT | KV_CMD_LOADING | KV_CMD_STALE, 0, 0,
     0, "connection", "slow connection",
     "Enable or disable server assisted client side caching support", "6.0.0"},
    {"help", kv_cmd_client_help, 2, KV_CMD_LOADING | KV_CMD_STALE, 0, 0, 0, "connection",
     "slow connection", "Show helpful text about the different subcommands", "5.0.0"},
    {"unblock", kv_cmd_client_unblock, -3,
     KV_CMD_ADMIN | KV_CMD_NOSCRIPT | KV_CMD_LOADING | KV_CMD_STALE, 0, 0, 0, "connection",
     "admin slow dangerous connection",
     "Unblock a client blocked in a blocking command from a different connection", "5.0.0"},
    {"kill", kv_cmd_client_kill, -3, KV_CMD_ADMIN | KV_CMD_NOSCRIPT | KV_CMD_LOADING | KV_CMD_STALE,
     0, 0, 0, "connection", "admin slow dangerous connection", "Kill the connection of a client",
     "2.4.0"},
    {NULL}};

static kv_cmd_t config_subcmds[] = {
    {"set", kv_cmd_config_set, -4, KV_CMD_ADMIN | KV_CMD_NOSCRIPT | KV_CMD_LOADING | KV_CMD_STALE,
     0, 0, 0, "server", "admin slow dangerous", "Set configuration parameters to the given values",
     "2.0.0"},
    {"get", kv_cmd_config_get, -3, KV_CMD_ADMIN | KV_CMD_NOSCRIPT | KV_CMD_LOADING | KV_CMD_STALE,
     0, 0, 0, "server", "admin slow dangerous", "Get the values of configuration parameters",
     "2.0.0"},
    {"help", kv_cmd_config_help, 2, KV_CMD_LOADING | KV_CMD_STALE, 0, 0, 0, "server", "slow",
     "Show helpful text about the different subcommands", "5.0.0"},
    {"resetstat", kv_cmd_config_resetstat, 2,
     KV_CMD_ADMIN | KV_CMD_NOSCRIPT | KV_CMD_LOADING | KV_CMD_STALE, 0, 0, 0, "server",
     "admin slow dangerous", "Reset the stats returned by INFO", "2.0.0"},
    {"rewrite", kv_cmd_config_rewrite, 2,
     KV_CMD_ADMIN | KV_CMD_NOSCRIPT | KV_CMD_LOADING | KV_CMD_STALE, 0, 0, 0, "server",
     "admin slow dangerous", "Rewrite the configuration file with the in memory configuration",
     "2.8.0"},
    {NULL}};

static kv_cmd_t slowlog_subcmds[] = {
    {"get", kv_cmd_slowlog_get, -2, KV_CMD_ADMIN | KV_CMD_LOADING | KV_CMD_STALE, 0, 0, 0, "server",
     "admin slow dangerous", "Get the slow log's entries", "2.2.12"},
    {"len", kv_cmd_slowlog_len, 2, KV_CMD_ADMIN | KV_CMD_LOADING | KV_CMD_STALE, 0, 0, 0, "server",
     "admin slow dangerous", "Get the slow log's length", "2.2.12"},
    {"reset", kv_cmd_slowlog_reset, 2, KV_CMD_ADMIN | KV_CMD_LOADING | KV_CMD_STALE, 0, 0, 0,
     "server", "admin slow dangerous", "Clear all entries from the slow log", "2.2.12"},
    {"help", kv_cmd_slowlog_help, 2, KV_CMD_LOADING | KV_CMD_STALE, 0, 0, 0, "server", "slow",
     "Show helpful text about the different subcommands", "6.2.0"},
    {NULL}};

static kv_cmd_t memory_subcmds[] = {
    {"purge", kv_cmd_memory_purge, 2, 0, 0, 0, 0, "server", "slow",
     "Ask the allocator to release memory", "4.0.0"},
    {"help", kv_cmd_memory_help, 2, KV_CMD_LOADING | KV_CMD_STALE, 0, 0, 0, "server", "slow",
     "Show helpful text about the different subcommands", "4.0.0"},
    {"malloc-stats", kv_cmd_memory_malloc_stats, 2, 0, 0, 0, 0, "server", "slow",
     "Show allocator internal stats", "4.0.0"},
    {"stats", kv_cmd_memory_stats, 2, 0, 0, 0, 0, "server", "slow", "Show memory usage details",
     "4.0.0"},
    {"doctor", kv_cmd_memory_doctor, 2, 0, 0, 0, 0, "server", "slow",
     "Outputs memory problems report", "4.0.0"},
    {"heap", kv_cmd_memory_heap, -3, KV_CMD_ADMIN | KV_CMD_NOSCRIPT, 0, 0, 0, "server",
     "admin slow dangerous",
     "Control the jemalloc heap profiler: ENABLE, DISABLE, STATUS, DUMP [dir] (kvcore)",
     "kvcore 0.1.0"},
    {"usage", kv_cmd_memory_usage, -3, KV_CMD_READONLY, 2, 2, 1, "server", "read slow",
     "Estimate the memory usage of a key", "4.0.0"},
    {NULL}};

static kv_cmd_t pubsub_subcmds[] = {
    {"channels", kv_cmd_pubsub_channels, -2, KV_CMD_PUBSUB | KV_CMD_LOADING | KV_CMD_STALE, 0, 0, 0,
     "pubsub", "pubsub slow", "List active channels", "2.8.0"},
    {"numsub", kv_cmd_pubsub_numsub, -2, KV_CMD_PUBSUB | KV_CMD_LOADING | KV_CMD_STALE, 0, 0, 0,
     "pubsub", "pubsub slow", "Get the count of subscribers for channels", "2.8.0"},
    {"numpat", kv_cmd_pubsub_numpat, 2, KV_CMD_PUBSUB | KV_CMD_LOADING | KV_CMD_STALE, 0, 0, 0,
     "pubsub", "pubsub slow", "Get the count of unique patterns pattern subscriptions", "2.8.0"},
    {"shardchannels", kv_cmd_pubsub_shardchannels, -2,
     KV_CMD_PUBSUB | KV_CMD_LOADING | KV_CMD_STALE, 0, 0, 0, "pubsub", "pubsub slow",
     "List active shard channels", "7.0.0"},
    {"shardnumsub", kv_cmd_pubsub_shardnumsub, -2, KV_CMD_PUBSUB | KV_CMD_LOADING | KV_CMD_STALE, 0,
     0, 0, "pubsub", "pubsub slow", "Get the count of subscribers for shard channels", "7.0.0"},
    {"help", kv_cmd_pubsub_help, 2, KV_CMD_LOADING | KV_CMD_STALE, 0, 0, 0, "pubsub", "slow",
     "Show helpful text about the different subcommands", "6.2.0"},
    {NULL}};

static kv_cmd_t cmd_table[] = {
    {"get", kv_cmd_get, 2, KV_CMD_READONLY | KV_CMD_FAST, 1, 1, 1, "string", "read string fast",
     "Get the value of a key", "1.0.0"},
    {"set", kv_cmd_set, -3, KV_CMD_WRITE | KV_CMD_DENYOOM, 1, 1, 1, "string", "write string slow",
     "Set the string value of a key", "1.0.0"},
    {"setnx", kv_cmd_setnx, 3, KV_CMD_WRITE | KV_CMD_DENYOOM | KV_CMD_FAST, 1, 1, 1, "string",
     "write string fast", "Set the value of a key, only if the key does not exist", "1.0.0"},
    {"setex", kv_cmd_setex, 4, KV_CMD_WRITE | KV_CMD_DENYOOM, 1, 1, 1, "string",
     "write string slow", "Set the value and expiration of a key", "2.0.0"},
    {"psetex", kv_cmd_psetex, 4, KV_CMD_WRITE | KV_CMD_DENYOOM, 1, 1, 1, "string",
     "write string slow", "Set the value and expiration in milliseconds of a key", "2.6.0"},
    {"getset", kv_cmd_getset, 3, KV_CMD_WRITE | KV_CMD_DENYOOM | KV_CMD_FAST, 1, 1, 1, "string",
     "write string fast", "Set the string value of a key and return its old value", "1.0.0"},
    {"getdel", kv_cmd_getdel, 2, KV_CMD_WRITE | KV_CMD_FAST, 1, 1, 1, "string", "write string fast",
     "Get the value of a key and delete the key", "6.2.0"},
    {"getex", kv_cmd_getex, -2, KV_CMD_WRITE | KV_CMD_FAST, 1, 1, 1, "string", "write string fast",
     "Get the value of a key and optionally set its expiration", "6.2.0"},
    {"mget", kv_cmd_mget, -2, KV_CMD_READONLY | KV_CMD_FAST, 1, -1, 1, "string", "read string fast",
     "Get the values of all the given keys", "1.0.0"},
    {"mset", kv_cmd_mset, -3, KV_CMD_WRITE | KV_CMD_DENYOOM, 1, -1, 2, "string",
     "write string slow", "Set multiple keys to multiple values", "1.0.1"},
    {"msetnx", kv_cmd_msetnx, -3, KV_CMD_WRITE | KV_CMD_DENYOOM, 1, -1, 2, "string",
     "write string slow", "Set multiple keys to multiple values, only if none of the keys exist",
     "1.0.1"},
    {"incr", kv_cmd_incr, 2, KV_CMD_WRITE | KV_CMD_DENYOOM | KV_CMD_FAST, 1, 1, 1, "string",
     "write string fast", "Increment the integer value of a key by one", "1.0.0"},
    {"decr", kv_cmd_decr, 2, KV_CMD_WRITE | KV_CMD_DENYOOM | KV_CMD_FAST, 1, 1, 1, "string",
     "write string fast", "Decrement the integer value of a key by one", "1.0.0"},
    {"incrby", kv_cmd_incrby, 3, KV_CMD_WRITE | KV_CMD_DENYOOM | KV_CMD_FAST, 1, 1, 1, "string",
     "write string fast", "Increment the integer value of a key by the given amount", "1.0.0"},
    {"decrby", kv_cmd_decrby, 3, KV_CMD_WRITE | KV_CMD_DENYOOM | KV_CMD_FAST, 1, 1, 1, "string",
     "write string fast", "Decrement the integer value of a key by the given number", "1.0.0"},
    {"incrbyfloat", kv_cmd_incrbyfloat, 3, KV_CMD_WRITE | KV_CMD_DENYOOM | KV_CMD_FAST, 1, 1, 1,
     "string", "write string fast", "Increment the float value of a key by the given amount",
     "2.6.0"},
    {"append", kv_cmd_append, 3, KV_CMD_WRITE | KV_CMD_DENYOOM | KV_CMD_FAST, 1, 1, 1, "string",
     "write string fast", "Append a value to a key", "2.0.0"},
    {"strlen", kv_cmd_strlen, 2, KV_CMD_READONLY | KV_CMD_FAST, 1, 1, 1, "string",
     "read string fast", "Get the length of the value stored in a key", "2.2.0"},
    {"getrange", kv_cmd_getrange, 4, KV_CMD_READONLY, 1, 1, 1, "string", "read string slow",
     "Get a substring of the string stored at a key", "2.4.0"},
    {"setrange", kv_cmd_setrange, 4, KV_CMD_WRITE | KV_CMD_DENYOOM, 1, 1, 1, "string",
     "write string slow", "Overwrite part of a string at key starting at the specified offset",
     "2.2.0"},
    {"getbit", kv_cmd_getbit, 3, KV_CMD_READONLY | KV_CMD_FAST, 1, 1, 1, "bitmap",
     "read bitmap fast", "Returns the bit value at offset in the string value stored at key",
     "2.2.0"},
    {"setbit", kv_cmd_setbit, 4, KV_CMD_WRITE | KV_CMD_DENYOOM, 1, 1, 1, "bitmap",
     "write bitmap slow", "Sets or clears the bit at offset in the string value stored at key",
     "2.2.0"},
    {"bitcount", kv_cmd_bitcount, -2, KV_CMD_READONLY, 1, 1, 1, "bitmap", "read bitmap slow",
     "Count set bits in a string", "2.6.0"},
    {"bitpos", kv_cmd_bitpos, -3, KV_CMD_READONLY, 1, 1, 1, "bitmap", "read bitmap slow",
     "Find first bit set or clear in a string", "2.8.7"},
    {"pfadd", kv_cmd_pfadd, -2, KV_CMD_WRITE | KV_CMD_DENYOOM | KV_CMD_FAST, 1, 1, 1, "hyperloglog",
     "write hyperloglog fast", "Adds the specified elements to the specified HyperLogLog.",
     "2.8.9"},
    {"pfcount", kv_cmd_pfcount, -2, KV_CMD_READONLY, 1, -1, 1, "hyperloglog",
     "read hyperloglog slow",
     "Return the approximated cardinality of the set(s) observed by the HyperLogLog at key(s).",
     "2.8.9"},
    {"pfmerge", kv_cmd_pfmerge, -2, KV_CMD_WRITE | KV_CMD_DENYOOM, 1, -1, 1, "hyperloglog",
     "write hyperloglog slow", "Merge N different HyperLogLogs into a single one.", "2.8.9"},
    {"bitop", kv_cmd_bitop, -4, KV_CMD_WRITE | KV_CMD_DENYOOM, 2, -1, 1, "bitmap",
     "write bitmap slow", "Perform bitwise operations between strings", "2.6.0"},
    {"bitfield", kv_cmd_bitfield, -2, KV_CMD_WRITE | KV_CMD_DENYOOM, 1, 1, 1, "bitmap",
     "write bitmap slow", "Perform arbitrary bitfield integer operations on strings", "3.2.0"},
    {"bitfield_ro", kv_cmd_bitfield_ro, -2, KV_CMD_READONLY | KV_CMD_FAST, 1, 1, 1, "bitmap",
     "read bitmap fast",
     "Perform arbitrary bitfield integer operations on strings. Read-only variant of BITFIELD",
     "6.0.0"},
    {"substr", kv_cmd_substr, 4, KV_CMD_READONLY, 1, 1, 1, "string", "read string slow",
     "Get a substring of the string stored at a key", "1.0.0"},
    {"lcs", kv_cmd_lcs, -3, KV_CMD_READONLY, 1, 2, 1, "string", "read string slow",
     "Find longest common substring", "7.0.0"},
    {"sort", kv_cmd_sort, -2, KV_CMD_WRITE | KV_CMD_DENYOOM, 1, 1, 1, "generic",
     "write set sortedset list slow dangerous", "Sort the elements in a list, set or sorted set",
     "1.0.0"},
    {"sort_ro", kv_cmd_sort_ro, -2, KV_CMD_READONLY, 1, 1, 1, "generic",
     "read set sortedset list slow dangerous",
     "Sort the elements in a list, set or sorted set. Read-only variant of SORT.", "7.0.0"},
    {"del", kv_cmd_del, -2, KV_CMD_WRITE, 1, -1, 1, "generic", "keyspace write slow",
     "Delete a key", "1.0.0"},
    {"unlink", kv_cmd_unlink, -2, KV_CMD_WRITE | KV_CMD_FAST, 1, -1, 1, "generic",
     "keyspace write fast",
     "Delete a key asynchronously in another thread. Otherwise it is just as DEL, but non "
     "blocking.",
     "4.0.0"},
    {"exists", kv_cmd_exists, -2, KV_CMD_READONLY | KV_CMD_FAST, 1, -1, 1, "generic",
     "keyspace read fast", "Determine if a key exists", "1.0.0"},
    {"type", kv_cmd_type, 2, KV_CMD_READONLY | KV_CMD_FAST, 1, 1, 1, "generic",
     "keyspace read fast", "Determine the type stored at key", "1.0.0"},
    {"rename", kv_cmd_rename, 3, KV_CMD_WRITE, 1, 2, 1, "generic", "keyspace write slow",
     "Rename a key", "1.0.0"},
    {"renamenx", kv_cmd_renamenx, 3, KV_CMD_WRITE | KV_CMD_FAST, 1, 2, 1, "generic",
     "keyspace write fast", "Rename a key, only if the new key does not exist", "1.0.0"},
    {"keys", kv_cmd_keys, 2, KV_CMD_READONLY, 0, 0, 0, "generic", "keyspace read slow dangerous",
     "Find all keys matching the given pattern", "1.0.0"},
    {"scan", kv_cmd_scan, -2, KV_CMD_READONLY, 0, 0, 0, "generic", "keyspace read slow",
     "Incrementally iterate the keys space", "2.8.0"},
    {"randomkey", kv_cmd_randomkey, 1, KV_CMD_READONLY, 0, 0, 0, "generic", "keyspace read slow",
     "Return a random key from the keyspace", "1.0.0"},
    {"touch", kv_cmd_touch, -2, KV_CMD_READONLY | KV_CMD_FAST, 1, -1, 1, "generic",
     "keyspace read fast",
     "Alters the last access time of a key(s). Returns the number of existing keys specified.",
     "3.2.1"},
    {"expire", kv_cmd_expire, -3, KV_CMD_WRITE | KV_CMD_FAST, 1, 1, 1, "generic",
     "keyspace write fast", "Set a key's time to live in seconds", "1.0.0"},
    {"pexpire", kv_cmd_pexpire, -3, KV_CMD_WRITE | KV_CMD_FAST, 1, 1, 1, "generic",
     "keyspace write fast", "Set a key's time to live in milliseconds", "2.6.0"},
    {"expireat", kv_cmd_expireat, -3, KV_CMD_WRITE | KV_CMD_FAST, 1, 1, 1, "generic",
     "keyspace write fast", "Set the expiration for a key as a UNIX timestamp", "1.2.0"},
    {"pexpireat", kv_cmd_pexpireat, -3, KV_CMD_WRITE | KV_CMD_FAST, 1, 1, 1, "generic",
     "keyspace write fast",
     "Set the expiration for a key as a UNIX timestamp specified in milliseconds", "2.6.0"},
    {"ttl", kv_cmd_ttl, 2, KV_CMD_READONLY | KV_CMD_FAST, 1, 1, 1, "generic", "keyspace read fast",
     "Get the time to live for a key in seconds", "1.0.0"},
    {"pttl", kv_cmd_pttl, 2, KV_CMD_READONLY | KV_CMD_FAST, 1, 1, 1, "generic",
     "keyspace read fast", "Get the time to live for a key in milliseconds", "2.6.0"},
    {"expiretime", kv_cmd_expiretime, 2, KV_CMD_READONLY | KV_CMD_FAST, 1, 1, 1, "generic",
     "keyspace read fast", "Get the expiration Unix timestamp for a key", "7.0.0"},
    {"pexpiretime", kv_cmd_pexpiretime, 2, KV_CMD_READONLY | KV_CMD_FAST, 1, 1, 1, "generic",
     "keyspace read fast", "Get the expiration Unix timestamp for a key in milliseconds", "7.0.0"},
    {"persist", kv_cmd_persist, 2, KV_CMD_WRITE | KV_CMD_FAST, 1, 1, 1, "generic",
     "keyspace write fast", "Remove the expiration from a key", "2.2.0"},
    {"select", kv_cmd_select, 2, KV_CMD_LOADING | KV_CMD_STALE | KV_CMD_FAST, 0, 0, 0, "connection",
     "fast connection", "Change the selected database for the current connection", "1.0.0"},
    {"swapdb", kv_cmd_swapdb, 3, KV_CMD_WRITE | KV_CMD_FAST, 0, 0, 0, "server",
     "keyspace write fast dangerous", "Swaps two Redis databases", "4.0.0"},
    {"flushdb", kv_cmd_flushdb, -1, KV_CMD_WRITE, 0, 0, 0, "server",
     "keyspace write slow dangerous", "Remove all keys from the current database", "1.0.0"},
    {"flushall", kv_cmd_flushall, -1, KV_CMD_WRITE, 0, 0, 0, "server",
     "keyspace write slow dangerous", "Remove all keys from all databases", "1.0.0"},
    {"bgrewriteaof", kv_cmd_bgrewriteaof, 1, KV_CMD_ADMIN | KV_CMD_NOSCRIPT, 0, 0, 0, "server",
     "admin slow dangerous", "Asynchronously rewrite the append-only file", "1.0.0"},
    {"dbsize", kv_cmd_dbsize, 1, KV_CMD_READONLY | KV_CMD_FAST, 0, 0, 0, "server",
     "keyspace read fast", "Return the number of keys in the selected database", "1.0.0"},
    {"dump", kv_cmd_dump, 2, KV_CMD_READONLY, 1, 1, 1, "generic", "keyspace read slow",
     "Return a serialized version of the value stored at the specified key.", "2.6.0"},
    {"restore", kv_cmd_restore, -4, KV_CMD_WRITE | KV_CMD_DENYOOM, 1, 1, 1, "generic",
     "keyspace write slow dangerous",
     "Create a key using the provided serialized value, previously obtained using DUMP.", "2.6.0"},
    {"save", kv_cmd_save, 1, KV_CMD_ADMIN | KV_CMD_NOSCRIPT | KV_CMD_NO_MULTI, 0, 0, 0, "server",
     "admin slow dangerous", "Synchronously save the dataset to disk", "1.0.0"},
    {"bgsave", kv_cmd_bgsave, -1, KV_CMD_ADMIN | KV_CMD_NOSCRIPT, 0, 0, 0, "server",
     "admin slow dangerous", "Asynchronously save the dataset to disk", "1.0.0"},
    {"lastsave", kv_cmd_lastsave, 1, KV_CMD_LOADING | KV_CMD_STALE | KV_CMD_FAST, 0, 0, 0, "server",
     "admin fast dangerous", "Get the UNIX time stamp of the last successful save to disk",
     "1.0.0"},
    {"object", container_cmd, -2, 0, 0, 0, 0, "generic", "slow",
     "A container for object introspection commands", "2.2.3", object_subcmds},
    {"copy", kv_cmd_copy, -3, KV_CMD_WRITE | KV_CMD_DENYOOM, 1, 2, 1, "generic",
     "keyspace write slow", "Copy a key", "6.2.0"},
    {"lpush", kv_cmd_lpush, -3, KV_CMD_WRITE | KV_CMD_DENYOOM | KV_CMD_FAST, 1, 1, 1, "list",
     "write list fast", "Prepend one or multiple elements to a list", "1.0.0"},
    {"rpush", kv_cmd_rpush, -3, KV_CMD_WRITE | KV_CMD_DENYOOM | KV_CMD_FAST, 1, 1, 1, "list",
     "write list fast", "Append one or multiple elements to a list", "1.0.0"},
    {"lpushx", kv_cmd_lpushx, -3, KV_CMD_WRITE | KV_CMD_DENYOOM | KV_CMD_FAST, 1, 1, 1, "list",
     "write list fast", "Prepend an element to a list, only if the list exists", "2.2.0"},
    {"rpushx", kv_cmd_rpushx, -3, KV_CMD_WRITE | KV_CMD_DENYOOM | KV_CMD_FAST, 1, 1, 1, "list",
     "write list fast", "Append an element to a list, only if the list exists", "2.2.0"},
    {"lpop", kv_cmd_lpop, -2, KV_CMD_WRITE | KV_CMD_FAST, 1, 1, 1, "list", "write list fast",
     "Remove and get the first elements in a list", "1.0.0"},
    {"rpop", kv_cmd_rpop, -2, KV_CMD_WRITE | KV_CMD_FAST, 1, 1, 1, "list", "write list fast",
     "Remove and get the last elements in a list", "1.0.0"},
    {"llen", kv_cmd_llen, 2, KV_CMD_READONLY | KV_CMD_FAST, 1, 1, 1, "list", "read list fast",
     "Get the length of a list", "1.0.0"},
    {"lindex", kv_cmd_lindex, 3, KV_CMD_READONLY, 1, 1, 1, "list", "read list slow",
     "Get an element from a list by its index", "1.0.0"},
    {"lset", kv_cmd_lset, 4, KV_CMD_WRITE | KV_CMD_DENYOOM, 1, 1, 1, "list", "write list slow",
     "Set the value of an element in a list by its index", "1.0.0"},
    {"lrange", kv_cmd_lrange, 4, KV_CMD_READONLY, 1, 1, 1, "list", "read list slow",
     "Get a range of elements from a list", "1.0.0"},
    {"lrem", kv_cmd_lrem, 4, KV_CMD_WRITE, 1, 1, 1, "list", "write list slow",
     "Remove elements from a list", "1.0.0"},
    {"ltrim", kv_cmd_ltrim, 4, KV_CMD_WRITE, 1, 1, 1, "list", "write list slow",
     "Trim a list to the specified range", "1.0.0"},
    {"linsert", kv_cmd_linsert, 5, KV_CMD_WRITE | KV_CMD_DENYOOM, 1, 1, 1, "list",
     "write list slow", "Insert an element before or after another element in a list", "2.2.0"},
    {"lpos", kv_cmd_lpos, -3, KV_CMD_READONLY, 1, 1, 1, "list", "read list slow",
     "Return the index of matching elements on a list", "6.0.6"},
    {"lmove", kv_cmd_lmove, 5, KV_CMD_WRITE | KV_CMD_DENYOOM, 1, 2, 1, "list", "write list slow",
     "Pop an element from a list, push it to another list and return it", "6.2.0"},
    {"rpoplpush", kv_cmd_rpoplpush, 3, KV_CMD_WRITE | KV_CMD_DENYOOM, 1, 2, 1, "list",
     "write list slow",
     "Remove the last element in a list, prepend it to another list and return it", "1.2.0"},
    {"blpop", kv_cmd_blpop, -3, KV_CMD_WRITE | KV_CMD_NOSCRIPT | KV_CMD_BLOCKING, 1, -2, 1, "list",
     "write list slow blocking",
     "Remove and get the first element in a list, or block until one is available", "2.0.0"},
    {"brpop", kv_cmd_brpop, -3, KV_CMD_WRITE | KV_CMD_NOSCRIPT | KV_CMD_BLOCKING, 1, -2, 1, "list",
     "write list slow blocking",
     "Remove and get the last element in a list, or block until one is available", "2.0.0"},
    {"blmove", kv_cmd_blmove, 6, KV_CMD_WRITE | KV_CMD_NOSCRIPT | KV_CMD_BLOCKING | KV_CMD_DENYOOM,
     1, 2, 1, "list", "write list slow blocking",
     "Pop an element from a list, push it to another list and return it; or block until one "
     "is available",
     "6.2.0"},
    {"brpoplpush", kv_cmd_brpoplpush, 4,
     KV_CMD_WRITE | KV_CMD_NOSCRIPT | KV_CMD_BLOCKING | KV_CMD_DENYOOM, 1, 2, 1, "list",
     "write list slow blocking",
     "Pop an element from a list, push it to another list and return it; or block until one "
     "is available",
     "2.2.0"},
    {"blmpop", kv_cmd_blmpop, -5, KV_CMD_WRITE | KV_CMD_BLOCKING, 0, 0, 0, "list",
     "write list slow blocking", "Pop elements from a list, or block until one is available",
     "7.0.0"},
    {"lmpop", kv_cmd_lmpop, -4, KV_CMD_WRITE, 0, 0, 0, "list", "write list slow",
     "Pop elements from a list", "7.0.0"},
    {"hset", kv_cmd_hset, -4, KV_CMD_WRITE | KV_CMD_DENYOOM | KV_CMD_FAST, 1, 1, 1, "hash",
     "write hash fast", "Set the string value of a hash field", "2.0.0"},
    {"hsetnx", kv_cmd_hsetnx, 4, KV_CMD_WRITE | KV_CMD_DENYOOM | KV_CMD_FAST, 1, 1, 1, "hash",
     "write hash fast", "Set the value of a hash field, only if the field does not exist", "2.0.0"},
    {"hget", kv_cmd_hget, 3, KV_CMD_READONLY | KV_CMD_FAST, 1, 1, 1, "hash", "read hash fast",
     "Get the value of a hash field", "2.0.0"},
    {"hmget", kv_cmd_hmget, -3, KV_CMD_READONLY | KV_CMD_FAST, 1, 1, 1, "hash", "read hash fast",
     "Get the values of all the given hash fields", "2.0.0"},
    {"hmset", kv_cmd_hmset, -4, KV_CMD_WRITE | KV_CMD_DENYOOM | KV_CMD_FAST, 1, 1, 1, "hash",
     "write hash fast", "Set multiple hash fields to multiple values", "2.0.0"},
    {"hdel", kv_cmd_hdel, -3, KV_CMD_WRITE | KV_CMD_FAST, 1, 1, 1, "hash", "write hash fast",
     "Delete one or more hash fields", "2.0.0"},
    {"hlen", kv_cmd_hlen, 2, KV_CMD_READONLY | KV_CMD_FAST, 1, 1, 1, "hash", "read hash fast",
     "Get the number of fields in a hash", "2.0.0"},
    {"hstrlen", kv_cmd_hstrlen, 3, KV_CMD_READONLY | KV_CMD_FAST, 1, 1, 1, "hash", "read hash fast",
     "Get the length of the value of a hash field", "3.2.0"},
    {"hexists", kv_cmd_hexists, 3, KV_CMD_READONLY | KV_CMD_FAST, 1, 1, 1, "hash", "read hash fast",
     "Determine if a hash field exists", "2.0.0"},
    {"hgetall", kv_cmd_hgetall, 2, KV_CMD_READONLY, 1, 1, 1, "hash", "read hash slow",
     "Get all the fields and values in a hash", "2.0.0"},
    {"hkeys", kv_cmd_hkeys, 2, KV_CMD_READONLY, 1, 1, 1, "hash", "read hash slow",
     "Get all the fields in a hash", "2.0.0"},
    {"hvals", kv_cmd_hvals, 2, KV_CMD_READONLY, 1, 1, 1, "hash", "read hash slow",
     "Get all the values in a hash", "2.0.0"},
    {"hincrby", kv_cmd_hincrby, 4, KV_CMD_WRITE | KV_CMD_DENYOOM | KV_CMD_FAST, 1, 1, 1, "hash",
     "write hash fast", "Increment the integer value of a hash field by the given number", "2.0.0"},
    {"hincrbyfloat", kv_cmd_hincrbyfloat, 4, KV_CMD_WRITE | KV_CMD_DENYOOM | KV_CMD_FAST, 1, 1, 1,
     "hash", "write hash fast", "Increment the float value of a hash field by the given amount",
     "2.6.0"},
    {"hrandfield", kv_cmd_hrandfield, -2, KV_CMD_READONLY, 1, 1, 1, "hash", "read hash slow",
     "Get one or multiple random fields from a hash", "6.2.0"},
    {"hscan", kv_cmd_hscan, -3, KV_CMD_READONLY, 1, 1, 1, "hash", "read hash slow",
     "Incrementally iterate hash fields and associated values", "2.8.0"},
    {"sadd", kv_cmd_sadd, -3, KV_CMD_WRITE | KV_CMD_DENYOOM | KV_CMD_FAST, 1, 1, 1, "set",
     "write set fast", "Add one or more members to a set", "1.0.0"},
    {"srem", kv_cmd_srem, -3, KV_CMD_WRITE | KV_CMD_FAST, 1, 1, 1, "set", "write set fast",
     "Remove one or more members from a set", "1.0.0"},
    {"scard", kv_cmd_scard, 2, KV_CMD_READONLY | KV_CMD_FAST, 1, 1, 1, "set", "read set fast",
     "Get the number of members in a set", "1.0.0"},
    {"sismember", kv_cmd_sismember, 3, KV_CMD_READONLY | KV_CMD_FAST, 1, 1, 1, "set",
     "read set fast", "Determine if a given value is a member of a set", "1.0.0"},
    {"smismember", kv_cmd_smismember, -3, KV_CMD_READONLY | KV_CMD_FAST, 1, 1, 1, "set",
     "read set fast", "Returns the membership associated with the given elements for a set",
     "6.2.0"},
    {"smembers", kv_cmd_smembers, 2, KV_CMD_READONLY, 1, 1, 1, "set", "read set slow",
     "Get all the members in a set", "1.0.0"},
    {"spop", kv_cmd_spop, -2, KV_CMD_WRITE | KV_CMD_FAST, 1, 1, 1, "set", "write set fast",
     "Remove and return one or multiple random members from a set", "1.0.0"},
    {"srandmember", kv_cmd_srandmember, -2, KV_CMD_READONLY, 1, 1, 1, "set", "read set slow",
     "Get one or multiple random members from a set", "1.0.0"},
    {"smove", kv_cmd_smove, 4, KV_CMD_WRITE | KV_CMD_FAST, 1, 2, 1, "set", "write set fast",
     "Move a member from one set to another", "1.0.0"},
    {"sinter", kv_cmd_sinter, -2, KV_CMD_READONLY, 1, -1, 1, "set", "read set slow",
     "Intersect multiple sets", "1.0.0"},
    {"sintercard", kv_cmd_sintercard, -3, KV_CMD_READONLY, 0, 0, 0, "set", "read set slow",
     "Intersect multiple sets and return the cardinality of the result", "7.0.0"},
    {"sunion", kv_cmd_sunion, -2, KV_CMD_READONLY, 1, -1, 1, "set", "read set slow",
     "Add multiple sets", "1.0.0"},
    {"sdiff", kv_cmd_sdiff, -2, KV_CMD_READONLY, 1, -1, 1, "set", "read set slow",
     "Subtract multiple sets", "1.0.0"},
    {"sinterstore", kv_cmd_sinterstore, -3, KV_CMD_WRITE | KV_CMD_DENYOOM, 1, -1, 1, "set",
     "write set slow", "Intersect multiple sets and store the resulting set in a key", "1.0.0"},
    {"sunionstore", kv_cmd_sunionstore, -3, KV_CMD_WRITE | KV_CMD_DENYOOM, 1, -1, 1, "set",
     "write set slow", "Add multiple sets and store the resulting set in a key", "1.0.0"},
    {"sdiffstore", kv_cmd_sdiffstore, -3, KV_CMD_WRITE | KV_CMD_DENYOOM, 1, -1, 1, "set",
     "write set slow", "Subtract multiple sets and store the resulting set in a key", "1.0.0"},
    {"sscan", kv_cmd_sscan, -3, KV_CMD_READONLY, 1, 1, 1, "set", "read set slow",
     "Incrementally iterate Set elements", "2.8.0"},
    {"zadd", kv_cmd_zadd, -4, KV_CMD_WRITE | KV_CMD_DENYOOM | KV_CMD_FAST, 1, 1, 1, "sorted-set",
     "write sortedset fast",
     "Add one or more members to a sorted set, or update its score if it already exists", "1.2.0"},
    {"zincrby", kv_cmd_zincrby, 4, KV_CMD_WRITE | KV_CMD_DENYOOM | KV_CMD_FAST, 1, 1, 1,
     "sorted-set", "write sortedset fast", "Increment the score of a member in a sorted set",
     "1.2.0"},
    {"zrem", kv_cmd_zrem, -3, KV_CMD_WRITE | KV_CMD_FAST, 1, 1, 1, "sorted-set",
     "write sortedset fast", "Remove one or more members from a sorted set", "1.2.0"},
    {"zcard", kv_cmd_zcard, 2, KV_CMD_READONLY | KV_CMD_FAST, 1, 1, 1, "sorted-set",
     "read sortedset fast", "Get the number of members in a sorted set", "1.2.0"},
    {"zscore", kv_cmd_zscore, 3, KV_CMD_READONLY | KV_CMD_FAST, 1, 1, 1, "sorted-set",
     "read sortedset fast", "Get the score associated with the given member in a sorted set",
     "1.2.0"},
    {"zmscore", kv_cmd_zmscore, -3, KV_CMD_READONLY | KV_CMD_FAST, 1, 1, 1, "sorted-set",
     "read sortedset fast", "Get the score associated with the given members in a sorted set",
     "6.2.0"},
    {"zrank", kv_cmd_zrank, -3, KV_CMD_READONLY | KV_CMD_FAST, 1, 1, 1, "sorted-set",
     "read sortedset fast", "Determine the index of a member in a sorted set", "2.0.0"},
    {"zrevrank", kv_cmd_zrevrank, -3, KV_CMD_READONLY | KV_CMD_FAST, 1, 1, 1, "sorted-set",
     "read sortedset fast",
     "Determine the index of a member in a sorted set, with scores ordered from high to low",
     "2.0.0"},
    {"zrange", kv_cmd_zrange, -4, KV_CMD_READONLY, 1, 1, 1, "sorted-set", "read sortedset slow",
     "Return a range of members in a sorted set", "1.2.0"},
    {"zrevrange", kv_cmd_zrevrange, -4, KV_CMD_READONLY, 1, 1, 1, "sorted-set",
     "read sortedset slow",
     "Return a range of members in a sorted set, by index, with scores ordered from high to low",
     "1.2.0"},
    {"zrangebyscore", kv_cmd_zrangebyscore, -4, KV_CMD_READONLY, 1, 1, 1, "sorted-set",
     "read sortedset slow", "Return a range of members in a sorted set, by score", "1.0.5"},
    {"zrevrangebyscore", kv_cmd_zrevrangebyscore, -4, KV_CMD_READONLY, 1, 1, 1, "sorted-set",
     "read sortedset slow",
     "Return a range of members in a sorted set, by score, with scores ordered from high to low",
     "2.2.0"},
    {"zrangebylex", kv_cmd_zrangebylex, -4, KV_CMD_READONLY, 1, 1, 1, "sorted-set",
     "read sortedset slow", "Return a range of members in a sorted set, by lexicographical range",
     "2.8.9"},
    {"zrevrangebylex", kv_cmd_zrevrangebylex, -4, KV_CMD_READONLY, 1, 1, 1, "sorted-set",
     "read sortedset slow",
     "Return a range of members in a sorted set, by lexicographical range, ordered from higher to "
     "lower strings.",
     "2.8.9"},
    {"zcount", kv_cmd_zcount, 4, KV_CMD_READONLY | KV_CMD_FAST, 1, 1, 1, "sorted-set",
     "read sortedset fast", "Count the members in a sorted set with scores within the given values",
     "2.0.0"},
    {"zlexcount", kv_cmd_zlexcount, 4, KV_CMD_READONLY | KV_CMD_FAST, 1, 1, 1, "sorted-set",
     "read sortedset fast",
     "Count the number of members in a sorted set between a given lexicographical range", "2.8.9"},
    {"zpopmin", kv_cmd_zpopmin, -2, KV_CMD_WRITE | KV_CMD_FAST, 1, 1, 1, "sorted-set",
     "write sortedset fast", "Remove and return members with the lowest scores in a sorted set",
     "5.0.0"},
    {"zpopmax", kv_cmd_zpopmax, -2, KV_CMD_WRITE | KV_CMD_FAST, 1, 1, 1, "sorted-set",
     "write sortedset fast", "Remove and return members with the highest scores in a sorted set",
     "5.0.0"},
    {"bzpopmin", kv_cmd_bzpopmin, -3,
     KV_CMD_WRITE | KV_CMD_NOSCRIPT | KV_CMD_BLOCKING | KV_CMD_FAST, 1, -2, 1, "sorted-set",
     "write sortedset fast blocking",
     "Remove and return the member with the lowest score from one or more sorted sets, or "
     "block until one is available",
     "5.0.0"},
    {"bzpopmax", kv_cmd_bzpopmax, -3,
     KV_CMD_WRITE | KV_CMD_NOSCRIPT | KV_CMD_BLOCKING | KV_CMD_FAST, 1, -2, 1, "sorted-set",
     "write sortedset fast blocking",
     "Remove and return the member with the highest score from one or more sorted sets, or "
     "block until one is available",
     "5.0.0"},
    {"bzmpop", kv_cmd_bzmpop, -5, KV_CMD_WRITE | KV_CMD_BLOCKING, 0, 0, 0, "sorted-set",
     "write sortedset slow blocking",
     "Remove and return members with scores in a sorted set or block until one is available",
     "7.0.0"},
    {"zmpop", kv_cmd_zmpop, -4, KV_CMD_WRITE, 0, 0, 0, "sorted-set", "write sortedset slow",
     "Remove and return members with scores in a sorted set", "7.0.0"},
    {"zremrangebyrank", kv_cmd_zremrangebyrank, 4, KV_CMD_WRITE, 1, 1, 1, "sorted-set",
     "write sortedset slow", "Remove all members in a sorted set within the given indexes",
     "2.0.0"},
    {"zremrangebyscore", kv_cmd_zremrangebyscore, 4, KV_CMD_WRITE, 1, 1, 1, "sorted-set",
     "write sortedset slow", "Remove all members in a sorted set within the given scores", "1.2.0"},
    {"zremrangebylex", kv_cmd_zremrangebylex, 4, KV_CMD_WRITE, 1, 1, 1, "sorted-set",
     "write sortedset slow",
     "Remove all members in a sorted set between the given lexicographical range", "2.8.9"},
    {"zscan", kv_cmd_zscan, -3, KV_CMD_READONLY, 1, 1, 1, "sorted-set", "read sortedset slow",
     "Incrementally iterate sorted sets elements and associated scores", "2.8.0"},
    {"zunion", kv_cmd_zunion, -3, KV_CMD_READONLY, 0, 0, 0, "sorted-set", "read sortedset slow",
     "Add multiple sorted sets", "6.2.0"},
    {"zinter", kv_cmd_zinter, -3, KV_CMD_READONLY, 0, 0, 0, "sorted-set", "read sortedset slow",
     "Intersect multiple sorted sets", "6.2.0"},
    {"zdiff", kv_cmd_zdiff, -3, KV_CMD_READONLY, 0, 0, 0, "sorted-set", "read sortedset slow",
     "Subtract multiple sorted sets", "6.2.0"},
    {"zintercard", kv_cmd_zintercard, -3, KV_CMD_READONLY, 0, 0, 0, "sorted-set",
     "read sortedset slow",
     "Intersect multiple sorted sets and return the cardinality of the result", "7.0.0"},
    {"zunionstore", kv_cmd_zunionstore, -4, KV_CMD_WRITE | KV_CMD_DENYOOM, 1, 1, 1, "sorted-set",
     "write sortedset slow",
     "Add multiple sorted sets and store the resulting sorted set in a new key", "2.0.0"},
    {"zinterstore", kv_cmd_zinterstore, -4, KV_CMD_WRITE | KV_CMD_DENYOOM, 1, 1, 1, "sorted-set",
     "write sortedset slow",
     "Intersect multiple sorted sets and store the resulting sorted set in a new key", "2.0.0"},
    {"zdiffstore", kv_cmd_zdiffstore, -4, KV_CMD_WRITE | KV_CMD_DENYOOM, 1, 1, 1, "sorted-set",
     "write sortedset slow",
     "Subtract multiple sorted sets and store the resulting sorted set in a new key", "6.2.0"},
    {"zrangestore", kv_cmd_zrangestore, -5, KV_CMD_WRITE | KV_CMD_DENYOOM, 1, 2, 1, "sorted-set",
     "write sortedset slow", "Store a range of members from sorted set into another key", "6.2.0"},
    {"zrandmember", kv_cmd_zrandmember, -2, KV_CMD_READONLY, 1, 1, 1, "sorted-set",
     "read sortedset slow", "Get one or multiple random elements from a sorted set", "6.2.0"},
    {"geoadd", kv_cmd_geoadd, -5, KV_CMD_WRITE | KV_CMD_DENYOOM, 1, 1, 1, "geo", "write geo slow",
     "Add one or more geospatial items in the geospatial index represented using a sorted set",
     "3.2.0"},
    {"geodist", kv_cmd_geodist, -4, KV_CMD_READONLY, 1, 1, 1, "geo", "read geo slow",
     "Returns the distance between two members of a geospatial index", "3.2.0"},
    {"geohash", kv_cmd_geohash, -2, KV_CMD_READONLY, 1, 1, 1, "geo", "read geo slow",
     "Returns members of a geospatial index as standard geohash strings", "3.2.0"},
    {"geopos", kv_cmd_geopos, -2, KV_CMD_READONLY, 1, 1, 1, "geo", "read geo slow",
     "Returns longitude and latitude of members of a geospatial index", "3.2.0"},
    {"georadius", kv_cmd_georadius, -6, KV_CMD_WRITE | KV_CMD_DENYOOM, 1, 1, 1, "geo",
     "write geo slow",
     "Query a sorted set representing a geospatial index to fetch members matching a given "
     "maximum distance from a point",
     "3.2.0"},
    {"georadius_ro", kv_cmd_georadius_ro, -6, KV_CMD_READONLY, 1, 1, 1, "geo", "read geo slow",
     "A read-only variant for GEORADIUS", "3.2.10"},
    {"georadiusbymember", kv_cmd_georadiusbymember, -5, KV_CMD_WRITE | KV_CMD_DENYOOM, 1, 1, 1,
     "geo", "write geo slow",
     "Query a sorted set representing a geospatial index to fetch members matching a given "
     "maximum distance from a member",
     "3.2.0"},
    {"georadiusbymember_ro", kv_cmd_georadiusbymember_ro, -5, KV_CMD_READONLY, 1, 1, 1, "geo",
     "read geo slow", "A read-only variant for GEORADIUSBYMEMBER", "3.2.10"},
    {"geosearch", kv_cmd_geosearch, -7, KV_CMD_READONLY, 1, 1, 1, "geo", "read geo slow",
     "Query a sorted set representing a geospatial index to fetch members inside an area of a "
     "box or a circle.",
     "6.2.0"},
    {"geosearchstore", kv_cmd_geosearchstore, -8, KV_CMD_WRITE | KV_CMD_DENYOOM, 1, 2, 1, "geo",
     "write geo slow",
     "Query a sorted set representing a geospatial index to fetch members inside an area of a "
     "box or a circle, and store the result in another key.",
     "6.2.0"},
    {"subscribe", kv_cmd_subscribe, -2,
     KV_CMD_PUBSUB | KV_CMD_NOSCRIPT | KV_CMD_LOADING | KV_CMD_STALE, 0, 0, 0, "pubsub",
     "pubsub slow", "Listen for messages published to the given channels", "2.0.0"},
    {"unsubscribe", kv_cmd_unsubscribe, -1,
     KV_CMD_PUBSUB | KV_CMD_NOSCRIPT | KV_CMD_LOADING | KV_CMD_STALE, 0, 0, 0, "pubsub",
     "pubsub slow", "Stop listening for messages posted to the given channels", "2.0.0"},
    {"psubscribe", kv_cmd_psubscribe, -2,
     KV_CMD_PUBSUB | KV_CMD_NOSCRIPT | KV_CMD_LOADING | KV_CMD_STALE, 0, 0, 0, "pubsub",
     "pubsub slow", "Listen for messages published to channels matching the given patterns",
     "2.0.0"},
    {"punsubscribe", kv_cmd_punsubscribe, -1,
     KV_CMD_PUBSUB | KV_CMD_NOSCRIPT | KV_CMD_LOADING | KV_CMD_STALE, 0, 0, 0, "pubsub",
     "pubsub slow", "Stop listening for messages posted to channels matching the given patterns",
     "2.0.0"},
    {"ssubscribe", kv_cmd_ssubscribe, -2,
     KV_CMD_PUBSUB | KV_CMD_NOSCRIPT | KV_CMD_LOADING | KV_CMD_STALE, 1, -1, 1, "pubsub",
     "pubsub slow", "Listen for messages published to the given shard channels", "7.0.0"},
    {"sunsubscribe", kv_cmd_sunsubscribe, -1,
     KV_CMD_PUBSUB | KV_CMD_NOSCRIPT | KV_CMD_LOADING | KV_CMD_STALE, 1, -1, 1, "pubsub",
     "pubsub slow", "Stop listening for messages posted to the given shard channels", "7.0.0"},
    {"publish", kv_cmd_publish, 3, KV_CMD_PUBSUB | KV_CMD_LOADING | KV_CMD_STALE | KV_CMD_FAST, 0,
     0, 0, "pubsub", "pubsub fast", "Post a message to a channel", "2.0.0"},
    {"spublish", kv_cmd_spublish, 3, KV_CMD_PUBSUB | KV_CMD_LOADING | KV_CMD_STALE | KV_CMD_FAST, 1,
     1, 1, "pubsub", "pubsub fast", "Post a message to a shard channel", "7.0.0"},
    {"pubsub", container_cmd, -2, 0, 0, 0, 0, "pubsub", "slow", "A container for Pub/Sub commands",
     "2.8.0", pubsub_subcmds},
    /* no_multi as in Redis 7.2: a nested MULTI is refused and aborts the transaction. */
    {"multi", kv_cmd_multi, 1,
     KV_CMD_NOSCRIPT | KV_CMD_LOADING | KV_CMD_STALE | KV_CMD_FAST | KV_CMD_NO_MULTI |
         KV_CMD_ALLOW_BUSY,
     0, 0, 0, "transactions", "fast transaction", "Mark the start of a transaction block", "1.2.0"},
    {"exec", kv_cmd_exec, 1, KV_CMD_NOSCRIPT | KV_CMD_LOADING | KV_CMD_STALE | KV_CMD_SKIP_SLOWLOG,
     0, 0, 0, "transactions", "slow transaction", "Execute all commands issued after MULTI",
     "1.2.0"},
    {"discard", kv_cmd_discard, 1,
     KV_CMD_NOSCRIPT | KV_CMD_LOADING | KV_CMD_STALE | KV_CMD_FAST | KV_CMD_ALLOW_BUSY, 0, 0, 0,
     "transactions", "fast transaction", "Discard all commands issued after MULTI", "2.0.0"},
    {"watch", kv_cmd_watch, -2,
     KV_CMD_NOSCRIPT | KV_CMD_LOADING | KV_CMD_STALE | KV_CMD_FAST | KV_CMD_ALLOW_BUSY, 1, -1, 1,
     "transactions", "fast transaction",
     "Watch the given keys to determine execution of the MULTI/EXEC block", "2.2.0"},
    {"unwatch", kv_cmd_unwatch, 1,
     KV_CMD_NOSCRIPT | KV_CMD_LOADING | KV_CMD_STALE | KV_CMD_FAST | KV_CMD_ALLOW_BUSY, 0, 0, 0,
     "transactions", "fast transaction", "Forget about all watched keys", "2.2.0"},
    {"ping", kv_cmd_ping, -1, KV_CMD_FAST, 0, 0, 0, "connection", "fast connection",
     "Ping the server", "1.0.0"},
    {"echo", kv_cmd_echo, 2, KV_CMD_LOADING | KV_CMD_STALE | KV_CMD_FAST, 0, 0, 0, "connection",
     "fast connection", "Echo the given string", "1.0.0"},
    {"quit", kv_cmd_quit, -1,
     KV_CMD_NOSCRIPT | KV_CMD_LOADING | KV_CMD_STALE | KV_CMD_FAST | KV_CMD_NO_AUTH |
         KV_CMD_ALLOW_BUSY,
     0, 0, 0, "connection", "fast connection", "Close the connection", "1.0.0"},
    {"shutdown", kv_cmd_shutdown, -1,
     KV_CMD_ADMIN | KV_CMD_NOSCRIPT | KV_CMD_LOADING | KV_CMD_STALE | KV_CMD_NO_MULTI |
         KV_CMD_ALLOW_BUSY,
     0, 0, 0, "server", "admin slow dangerous",
     "Synchronously save the dataset to disk and then shut down the server", "1.0.0"},
    {"info", kv_cmd_info, -1, KV_CMD_LOADING | KV_CMD_STALE, 0, 0, 0, "server", "slow dangerous",
     "Get information and statistics about the server", "1.0.0"},
    {"time", kv_cmd_time, 1, KV_CMD_LOADING | KV_CMD_STALE | KV_CMD_FAST, 0, 0, 0, "server", "fast",
     "Return the current server time", "2.6.0"},
    {"auth", kv_cmd_auth, -2,
     KV_CMD_NOSCRIPT | KV_CMD_LOADING | KV_CMD_STALE | KV_CMD_FAST | KV_CMD_NO_AUTH |
         KV_CMD_SENTINEL | KV_CMD_ALLOW_BUSY,
     0, 0, 0, "connection", "fast connection", "Authenticate to the server", "1.0.0"},
    {"hello", kv_cmd_hello, -1,
     KV_CMD_NOSCRIPT | KV_CMD_LOADING | KV_CMD_STALE | KV_CMD_FAST | KV_CMD_NO_AUTH |
         KV_CMD_ALLOW_BUSY,
     0, 0, 0, "connection", "fast connection", "Handshake with Redis", "6.0.0"},
    {"reset", kv_cmd_reset, 1,
     KV_CMD_NOSCRIPT | KV_CMD_LOADING | KV_CMD_STALE | KV_CMD_FAST | KV_CMD_NO_AUTH |
         KV_CMD_ALLOW_BUSY,
     0, 0, 0, "connection", "fast connection", "Reset the connection", "6.2.0"},
    {"monitor", kv_cmd_monitor, 1, KV_CMD_ADMIN | KV_CMD_NOSCRIPT | KV_CMD_LOADING | KV_CMD_STALE,
     0, 0, 0, "server", "admin slow dangerous",
     "Listen for all requests received by the server in real time", "1.0.0"},
    {"command", kv_cmd_command, -1, KV_CMD_LOADING | KV_CMD_STALE, 0, 0, 0, "server",
     "slow connection", "Get array of Redis command details", "2.8.13", command_subcmds},
    {"debug", kv_cmd_debug, -2, KV_CMD_ADMIN | KV_CMD_NOSCRIPT | KV_CMD_LOADING | KV_CMD_STALE, 0,
     0, 0, "server", "admin slow dangerous", "A container for debugging commands", "1.0.0"},
    {"latency", container_cmd, -2, 0, 0, 0, 0, "server", "slow",
     "A container for latency diagnostics commands", "2.8.13", latency_subcmds},
    {"slowlog", container_cmd, -2, 0, 0, 0, 0, "server", "slow",
     "A container for slow log commands", "2.2.12", slowlog_subcmds},
    {"function", container_cmd, -2, 0, 0, 0, 0, "scripting", "slow",
     "A container for function commands", "7.0.0", function_subcmds},
    {"client", container_cmd, -2, 0, 0, 0, 0, "connection", "slow",
     "A container for client connection commands", "2.4.0", client_subcmds},
    {"config", container_cmd, -2, 0, 0, 0, 0, "server", "slow",
     "A container for server configuration commands", "2.0.0", config_subcmds},
    {"memory", container_cmd, -2, 0, 0, 0, 0, "server", "slow",
     "A container for memory diagnostics commands", "4.0.0", memory_subcmds},
    {"kprofile", kv_cmd_kprofile, -3, KV_CMD_ADMIN | KV_CMD_NOSCRIPT, 0, 0, 0, "server",
     "admin slow dangerous",
     "Kvrocks-compatible heap profiler control: KPROFILE MEMORY ENABLE|DISABLE|STATUS|DUMP dir",
     "kvcore 0.1.0"},
    {NULL}};

/*
 * The lookup table: open addressing over the lower-cased names, each slot holding its
 * name's first 16 bytes as two words (zero-padded) and its length, so a lookup folds the
 * argument's case a word at a time (no per-byte loop), hashes the two words and compares
 * words, not bytes; a name past 16 bytes compares its tail bytewise. kv_cmd_init picks the
 * multiplier (among a fixed few) that leaves the fewest names away from their home slot.
 * Subcommands are looked up in their container's short table (lookup_sub).
 */
#define LOOKUP_BITS  9
#define LOOKUP_SLOTS (1u << LOOKUP_BITS) /* > 2 x commands */
typedef struct lookup_slot {
    uint64_t w0, w1; /* the name's bytes 0-7 and 8-15, lower case, zero-padded */
    kv_cmd_t *cmd;   /* NULL: empty */
    size_t len;
} lookup_slot_t;
static lookup_slot_t lookup_slots[LOOKUP_SLOTS];
/* The lookup probes linearly until an empty slot: the table must stay under half full. */
_Static_assert(sizeof(cmd_table) / sizeof(cmd_table[0]) * 2 < LOOKUP_SLOTS,
               "LOOKUP_SLOTS must exceed twice the number of commands");
static size_t ncommands;
static uint64_t lookup_mult = 0x9e3779b97f4a7c15ull;

/* Command names are ASCII: fold case without the locale tables tolower() consults. */
static inline unsigned char ascii_lower(unsigned char ch) {
    return (unsigned)(ch - 'A') < 26u ? (unsigned char)(ch | 0x20) : ch;
}

/* ascii_lower on each byte of a word: 0x20 added where a byte is 'A'..'Z'. The sums stay
 * below 0x100 per byte (7-bit values plus at most 0x3f), so no carry crosses bytes. */
static inline uint64_t fold_word(uint64_t x) {
    const uint64_t ones = 0x0101010101010101ull, high = 0x8080808080808080ull;
    uint64_t b = x & ~high;
    uint64_t ge_a = b + ones * (0x80 - 'A');
    uint64_t gt_z = b + ones * (0x80 - 'Z' - 1);
    return x | ((ge_a & ~gt_z & ~x & high) >> 2);
}

static inline uint64_t load_le(const char *p, size_t n) { /* n = 1, 4 or 8 */
    uint64_t v = 0;
    if (n == 8) {
        memcpy(&v, p, 8);
    } else if (n == 4) {
        uint32_t w;
        memcpy(&w, p, 4);
        v = w;
    } else {
        v = (unsigned char)p[0];
    }
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap64(v) >> (64 - 8 * n);
#endif
    return v;
}

/*
 * The first 16 bytes of s (len > 0) as two little-endian words, zero-padded, case folded.
 * Reads only s[0..len-1]: short names with overlapping loads (a byte read twice lands in
 * the same place both times).
 */
static inline void name_words(const char *s, size_t len, uint64_t *w0, uint64_t *w1) {
    if (len >= 8) {
        *w0 = fold_word(load_le(s, 8));
        if (len >= 16)
            *w1 = fold_word(load_le(s + 8, 8));
        else if (len > 8)
            *w1 = fold_word(load_le(s + len - 8, 8) >> (8 * (16 - len)));
        else
            *w1 = 0;
        return;
    }
    uint64_t a;
    if (len >= 4)
        a = load_le(s, 4) | load_le(s + len - 4, 4) << (8 * (len - 4));
    else
        a = load_le(s, 1) | load_le(s + len / 2, 1) << (8 * (len / 2)) |
            load_le(s + len - 1, 1) << (8 * (len - 1));
    *w0 = fold_word(a);
    *w1 = 0;
}

static inline uint32_t slot_of(uint64_t w0, uint64_t w1, size_t len, uint64_t mult) {
    uint64_t h = (w0 ^ (w1 * 0xff51afd7ed558ccdull) ^ len) * mult;
    return (uint32_t)(h >> (64 - LOOKUP_BITS));
}

/* The table's names are lower case: compare the argument folded, byte by byte. */
static inline bool name_is(const char *lower_name, const char *s, size_t len) {
    for (size_t i = 0; i < len; i++)
        if (lower_name[i] == '\0' ||
            (unsigned char)lower_name[i] != ascii_lower((unsigned char)s[i]))
            return false;
    return lower_name[len] == '\0';
}

/* Fills the table with mult; returns how many names sit away from their home slot. */
static size_t lookup_build(uint64_t mult) {
    size_t displaced = 0;
    memset(lookup_slots, 0, sizeof(lookup_slots));
    for (kv_cmd_t *cmd = cmd_table; cmd->name; cmd++) {
        size_t len = strlen(cmd->name);
        uint64_t w0, w1;
        name_words(cmd->name, len, &w0, &w1);
        uint32_t i = slot_of(w0, w1, len, mult);
        while (lookup_slots[i].cmd != NULL) {
            i = (i + 1) & (LOOKUP_SLOTS - 1);
            displaced++;
        }
        lookup_slots[i] = (lookup_slot_t){w0, w1, cmd, len};
    }
    return displaced;
}

static void init_row(kv_cmd_t *cmd, const kv_cmd_t *parent) {
    cmd->parent = parent;
    if (parent)
        snprintf(cmd->fullname, sizeof(cmd->fullname), "%s|%s", parent->name, cmd->name);
    else
        snprintf(cmd->fullname, sizeof(cmd->fullname), "%s", cmd->name);
    if (cmd->fn == kv_cmd_debug || cmd->fn == kv_cmd_unsubscribe ||
        cmd->fn == kv_cmd_punsubscribe || cmd->fn == kv_cmd_sunsubscribe)
        cmd->flags |= KV_CMD_CHECKED;
    if (cmd->subcmds) {
        cmd->flags |= KV_CMD_CONTAINER;
        for (kv_cmd_t *s = cmd->subcmds; s->name; s++)
            init_row(s, cmd);
    }
}

int kv_cmd_init(void) {
    ncommands = 0;
    for (kv_cmd_t *cmd = cmd_table; cmd->name; cmd++) {
        init_row(cmd, NULL);
        ncommands++;
    }
    /* A few odd multipliers, the first that places every name at home or else the one
     * displacing the fewest: the same choice on every start, a probe or so per lookup. */
    uint64_t best = 0;
    size_t best_displaced = SIZE_MAX;
    for (uint64_t k = 0; k < 64 && best_displaced > 0; k++) {
        uint64_t mult = 0x9e3779b97f4a7c15ull + 2 * k * 0x632be59bd9b4e019ull;
        size_t d = lookup_build(mult);
        if (d < best_displaced) {
            best_displaced = d;
            best = mult;
        }
    }
    lookup_mult = best;
    lookup_build(best);
    return 0;
}

/* A name past 16 bytes: its tail compared bytewise (no hot command is that long). */
static __attribute__((noinline)) kv_cmd_t *lookup_long(const char *name, size_t len, uint64_t w0,
                                                       uint64_t w1, uint32_t i) {
    for (;; i = (i + 1) & (LOOKUP_SLOTS - 1)) {
        const lookup_slot_t *s = &lookup_slots[i];
        if (s->cmd == NULL) return NULL;
        if (s->w0 == w0 && s->w1 == w1 && s->len == len &&
            name_is(s->cmd->name + 16, name + 16, len - 16))
            return s->cmd;
    }
}

static inline __attribute__((always_inline)) kv_cmd_t *lookup_top(const char *name, size_t len) {
    if (KV_UNLIKELY(len == 0)) return NULL;
    uint64_t w0, w1;
    name_words(name, len, &w0, &w1);
    uint32_t i = slot_of(w0, w1, len, lookup_mult);
    if (KV_UNLIKELY(len > 16)) return lookup_long(name, len, w0, w1, i);
    for (;; i = (i + 1) & (LOOKUP_SLOTS - 1)) {
        const lookup_slot_t *s = &lookup_slots[i];
        if (s->w0 == w0 && s->w1 == w1 && s->len == len) return s->cmd;
        if (s->cmd == NULL) return NULL;
    }
}

kv_cmd_t *kv_cmd_lookup(const char *name, size_t len) {
    return lookup_top(name, len);
}

static kv_cmd_t *lookup_sub(kv_cmd_t *base, const kv_arg_t *a) {
    for (kv_cmd_t *s = base->subcmds; s->name; s++)
        if (a->len == strlen(s->name) && strncasecmp(s->name, a->ptr, a->len) == 0) return s;
    return NULL;
}

static inline __attribute__((always_inline)) kv_cmd_t *lookup_argv(const kv_arg_t *argv, int argc) {
    kv_cmd_t *base = lookup_top(argv[0].ptr, argv[0].len);
    if (base == NULL || argc == 1 || !(base->flags & KV_CMD_CONTAINER)) return base;
    return lookup_sub(base, &argv[1]);
}

kv_cmd_t *kv_cmd_lookup_argv(const kv_arg_t *argv, int argc) {
    return lookup_argv(argv, argc);
}

size_t kv_cmd_count(void) {
    return ncommands;
}

void kv_cmd_foreach(void (*fn)(kv_cmd_t *cmd, void *priv), void *priv) {
    for (kv_cmd_t *cmd = cmd_table; cmd->name; cmd++) {
        fn(cmd, priv);
        if (cmd->subcmds)
            for (kv_cmd_t *s = cmd->subcmds; s->name; s++)
                fn(s, priv);
    }
}

static void reset_one(kv_cmd_t *cmd, void *priv) {
    (void)priv;
    cmd->calls = cmd->usec = cmd->rejected_calls = cmd->failed_calls = 0;
}

void kv_cmd_reset_stats(void) {
    kv_cmd_foreach(reset_one, NULL);
    kv_latency_hist_reset();
}

/* "%.128s" of an argument: stops at a NUL byte like Redis's printf. */
static int arglen128(const kv_arg_t *a, size_t cap) {
    size_t n = a->len > cap ? cap : a->len;
    const char *z = memchr(a->ptr, '\0', n);
    return (int)(z ? (size_t)(z - a->ptr) : n);
}

/* Redis's rejectCommand: counts the refusal and replies msg (its code included; NULL when
 * the caller replied already); inside MULTI the transaction is flagged, and a refused
 * EXEC aborts it (multi.c). */
static void reject(kv_client_t *c, kv_cmd_t *cmd, const char *msg) {
    if (cmd != NULL) cmd->rejected_calls++;
    kv_multi_reject(c, cmd, msg);
}

static void reject_unknown(kv_client_t *c) {
    char msg[1024];
    kv_cmd_t *base = kv_cmd_lookup(c->argv[0].ptr, c->argv[0].len);
    if (base != NULL && (base->flags & KV_CMD_CONTAINER)) {
        char up[40];
        size_t n = strlen(base->name);
        for (size_t i = 0; i <= n; i++)
            up[i] = (char)toupper((unsigned char)base->name[i]);
        snprintf(msg, sizeof(msg), "ERR unknown subcommand '%.*s'. Try %s HELP.",
                 arglen128(&c->argv[1], 128), c->argv[1].ptr, up);
        reject(c, NULL, msg);
        return;
    }
    char args[512];
    size_t len = 0;
    args[0] = '\0';
    for (int i = 1; i < c->argc && len < 128; i++) {
        int w = snprintf(args + len, sizeof(args) - len, "'%.*s' ",
                         arglen128(&c->argv[i], 128 - len), c->argv[i].ptr);
        if (w < 0) break;
        len += (size_t)w;
    }
    snprintf(msg, sizeof(msg), "ERR unknown command '%.*s', with args beginning with: %s",
             arglen128(&c->argv[0], 128), c->argv[0].ptr, args);
    reject(c, NULL, msg);
}

/* Nesting of kv_cmd_call (EXEC runs its queue through it): ready keys are served when
 * the outermost call has finished. */
static int depth;

/* kv_cmd_call's body, inlined into kv_cmd_process (the one call per request). */
static inline __attribute__((always_inline)) void call(kv_client_t *c, kv_cmd_t *cmd) {
    /* One clock read per command: the previous command's end is this one's start (the
     * input batch sets it first). Clock reads were 11% of a pipelined SET profile; the
     * command clock (clock.c) reads the TSC where it can, a quarter of clock_gettime.
     * Inside EXEC each queued command starts where the previous one ended. */
    kv_prop_call_t pc;
    uint64_t start = kv_srv.cmd_clock_us;
    const kv_cmd_t *outer = c->cmd;
    c->cmd = cmd;
    kv_propagate_call_begin(&pc, c, cmd);
    depth++;
    cmd->fn(c);
    depth--;
    kv_propagate_call_end(&pc, c, cmd); /* the AOF form of what changed (propagate.c) */
    c->cmd = outer;
    uint64_t now = kv_clock_us();
    uint64_t dur = now - start;
    kv_srv.cmd_clock_us = now;
    cmd->calls++;
    cmd->usec += dur;
    kv_srv.stat_numcommands++;
    if (dur >= 1000) kv_latency_add("command", dur / 1000);
    /* slowlog-log-slower-than (slowlog.c): negative logs nothing, 0 everything */
    long long slower_than = kv_srv.cfg.slowlog_log_slower_than;
    if (KV_UNLIKELY((long long)dur >= slower_than && slower_than >= 0))
        kv_slowlog_record(c, cmd, dur);
    if (kv_srv.cfg.latency_tracking) kv_latency_hist_add(cmd, dur);
    if (KV_UNLIKELY(kv_monitor_count || kv_tracking_pending || kv_pubsub_self_pending ||
                    (c->flags & KV_CLIENT_TRACKING)))
        kv_client_after_call(c, cmd); /* MONITOR, tracking, own messages (client_ext.c) */
    /* Keys the command (or a whole EXEC) made ready serve their blocked clients now. */
    if (depth == 0 && kv_blocked_any_ready) kv_blocked_serve_ready();
}

/*
 * processCommand's checks between the arity and running the command, in Redis's order.
 * True when one refused the command (replied and counted). kv_cmd_process calls it only
 * when one can apply: a check added here adds its condition to that test (a client flag,
 * a kv_cmd_gates bit, or KV_CMD_CHECKED on its rows).
 */
static bool refused(kv_client_t *c, kv_cmd_t *cmd) {
    if (kv_debug_refuses(c, cmd)) { /* enable-debug-command (cmd_server.c), before NOAUTH */
        reject(c, cmd, NULL);
        return true;
    }
    if (!kv_auth_gate(c, cmd)) return true; /* NOAUTH (auth.c) */
    if ((c->flags & KV_CLIENT_MULTI) && (cmd->flags & KV_CMD_NO_MULTI)) {
        reject(c, cmd, "ERR Command not allowed inside a transaction");
        return true;
    }
    /* As Redis: evict before any command; refuse denyoom ones (and, inside MULTI, any
     * queuing) while still over. */
    if (kv_srv.cfg.maxmemory && kv_evict_perform() != 0 && kv_multi_denies_oom(c, cmd)) {
        reject(c, cmd, "OOM command not allowed when used memory > 'maxmemory'.");
        return true;
    }
    if (!kv_pubsub_cmd_allowed(c, cmd)) { /* RESP2 subscribed mode (pubsub.c) */
        kv_multi_reject(c, cmd, NULL);    /* replied and counted: flag MULTI only */
        return true;
    }
    /* A row without a handler (a container named alone, or a table mistake) is refused,
     * never called; tests/unit/test_kv_cmdtable.c checks that no row has one. */
    if (cmd->fn == NULL) {
        char msg[128];
        snprintf(msg, sizeof(msg), "ERR '%s' has no handler", cmd->fullname);
        reject(c, cmd, msg);
        return true;
    }
    if (kv_persist_deny_write(c, cmd)) { /* MISCONF: the last background save failed */
        reject(c, cmd, NULL);
        return true;
    }
    if (kv_aof_refuses(c, cmd)) { /* MISCONF: the AOF cannot be written (aof.c) */
        reject(c, cmd, NULL);
        return true;
    }
    return false;
}

uint32_t kv_cmd_gates;

void kv_cmd_process(kv_client_t *c) {
    kv_cmd_t *cmd = lookup_argv(c->argv, c->argc);
    if (cmd == NULL) {
        reject_unknown(c);
        return;
    }
    if ((cmd->arity > 0 && cmd->arity != c->argc) || c->argc < -cmd->arity) {
        char msg[128];
        snprintf(msg, sizeof(msg), "ERR wrong number of arguments for '%s' command", cmd->fullname);
        reject(c, cmd, msg);
        return;
    }
    /* Each check of refused() applies only in one of these cases (a client not
     * authenticated, inside MULTI or subscribed; maxmemory set; a MISCONF gate open; a
     * row flagged KV_CMD_CHECKED (DEBUG, the unsubscribes) or without a handler): one
     * test for all of them with the defaults. */
    if (KV_UNLIKELY((c->flags & (KV_CLIENT_AUTHENTICATED | KV_CLIENT_MULTI | KV_CLIENT_PUBSUB)) !=
                        KV_CLIENT_AUTHENTICATED ||
                    kv_cmd_gates != 0 || kv_srv.cfg.maxmemory != 0 ||
                    (cmd->flags & KV_CMD_CHECKED) || cmd->fn == NULL) &&
        refused(c, cmd))
        return;
    c->lastcmd = cmd; /* CLIENT LIST shows the running command (EXEC during EXEC), as Redis */
    if ((c->flags & KV_CLIENT_MULTI) && kv_multi_queue(c, cmd)) return;
    call(c, cmd);
}

void kv_cmd_call(kv_client_t *c, kv_cmd_t *cmd) {
    call(c, cmd);
}
