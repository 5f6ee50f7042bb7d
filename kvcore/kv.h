/* SPDX-License-Identifier: MIT */
/*
 * kv.h - the public face of kvcore, the Redis-protocol key-value server in this tree.
 *
 * What code outside kvcore/ (the server's main, the active defragmenter's glue, tools)
 * may use: start the server, reach the one kv_server_t, and hook into its event loop
 * with microsecond timers and cron callbacks. Everything else (objects, keyspace,
 * commands) is internal to kvcore/ (kv_internal.h).
 *
 * Error convention: 0 or -errno.
 */
#ifndef KV_H
#define KV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The server (one per process) and its event loop. Fields are private (kv_internal.h). */
typedef struct kv_server kv_server_t;
typedef struct kv_loop kv_loop_t;

/*
 * A timer callback: runs on the loop's thread when its time has come. Returns the delay
 * in microseconds until it should run again (0 = on the next loop iteration), or -1 to
 * stop; a stopped timer's id is invalid afterwards.
 */
typedef int64_t (*kv_timer_fn)(kv_loop_t *loop, int64_t id, void *priv);

/*
 * Registers fn to run in delay_us microseconds (0 = next iteration). Returns the timer's
 * id (> 0), or -ENOMEM. The loop does not own priv.
 */
int64_t kv_timer_add(kv_loop_t *loop, int64_t delay_us, kv_timer_fn fn, void *priv);
/* Removes a timer (also allowed from inside its own callback). 0 or -ENOENT. */
int kv_timer_del(kv_loop_t *loop, int64_t id);

/* A monotonic clock in microseconds (CLOCK_MONOTONIC). */
uint64_t kv_monotonic_us(void);

/*
 * A cron hook: called from the server's cron, `hz` times per second (config `hz`,
 * default 10), after kvcore's own periodic work (expiry, memory stats refresh).
 */
typedef void (*kv_cron_fn)(kv_server_t *srv, void *priv);
/* Adds a cron hook (at most 16). 0, -ENOMEM when the table is full. */
int kv_cron_hook_add(kv_server_t *srv, kv_cron_fn fn, void *priv);

/* The process's server, or NULL before kv_server_main has set it up. */
kv_server_t *kv_server_get(void);
/* The server's event loop. */
kv_loop_t *kv_server_loop(kv_server_t *srv);

/*
 * Runs the server as `kvcore-server [configfile] [--name value ...]` does: parses the
 * configuration, listens, serves until SHUTDOWN or SIGTERM/SIGINT. Returns the process
 * exit status (0 after a clean shutdown, 1 on a configuration or start-up error).
 */
int kv_server_main(int argc, char **argv);

#ifdef __cplusplus
}
#endif

#endif /* KV_H */
