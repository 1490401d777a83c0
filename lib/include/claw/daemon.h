/*
 * daemon.h - the skeleton every claw daemon runs on: signals, reload on
 * SIGHUP, a periodic tick, child exits, a graceful stop with a deadline
 * and a readiness flag.
 *
 * Signals are never handled asynchronously. claw_daemon_init, called in
 * the main thread before any thread starts (threads inherit the mask),
 * blocks SIGTERM, SIGINT, SIGHUP, SIGUSR1 (reserved: the skeleton's own
 * wake-up; sent from outside it does nothing) and, when a child callback
 * is given, SIGCHLD, and ignores SIGPIPE and SIGXFSZ (a write then fails
 * with EPIPE or EFBIG instead of killing the daemon). Children the daemon spawns
 * inherit that mask: reset it between fork and exec. claw_daemon_run
 * waits for the signals in the main thread with sigtimedwait and calls the
 * daemon's callbacks there, one at a time; no handler ever runs in a
 * random thread.
 *
 * A daemon's main() reads:
 *
 *	claw_daemon_init(&dc);        config loaded, no thread started yet
 *	...start threads, the HTTP server...
 *	printf("listening on ...\n");
 *	claw_daemon_set_ready(true);
 *	rc = claw_daemon_run();       SIGHUP -> dc.reload, ticks, SIGCHLD
 *	...stop steps: httpd shutdown with its grace, join threads, free...
 *	claw_daemon_stopped();
 *	return rc ? 1 : 0;
 *
 * The stop. claw_daemon_run returns CLAW_OK on SIGTERM or SIGINT, or the
 * failure a child callback or claw_daemon_stop asked for. From then on a
 * watchdog thread bounds the caller's stop steps: a second SIGTERM/SIGINT,
 * or stop_timeout_ms passing since run returned, logs why and ends the
 * process at once with _exit(1) (no atexit handlers, buffered stdio
 * lost). claw_daemon_stopped ends the watch.
 *
 * State is per process (signals are), so there is one daemon per process.
 * Nothing here allocates that the caller frees.
 */
#ifndef CLAW_DAEMON_H
#define CLAW_DAEMON_H

#include <stdbool.h>

#include "claw/err.h"

struct claw_daemon_config {
	/* SIGHUP, in the main thread: load and apply the new config.
	 * CLAW_OK when it is in use; any other value means the running
	 * config was kept (the callback logs why) and the daemon runs on.
	 * NULL: SIGHUP is logged and ignored. */
	enum claw_rc (*reload)(void *cls);
	/* Every tick_ms, in the main thread, between signals (both or
	 * neither; a slow tick is not caught up). */
	void (*tick)(void *cls);
	unsigned tick_ms;
	/* Non-NULL: SIGCHLD is blocked as well and this runs, in the main
	 * thread, on each one. It reaps only its own children (waitpid on
	 * their pids with WNOHANG; signals coalesce, so check every child it
	 * owns). CLAW_OK runs on; any other value stops: run returns it. */
	enum claw_rc (*child)(void *cls);
	/* Passed to every callback; borrowed. */
	void *cls;
	/* Longest the stop steps may take, counted from the moment run
	 * returns; then the process exits with status 1. 0: no deadline (a
	 * second stop signal still ends it). Give it the HTTP server's
	 * grace plus what the other steps need. */
	unsigned stop_timeout_ms;
};

/* Copy cfg, block the signals in the calling thread and every thread it
 * starts later, ignore SIGPIPE and SIGXFSZ and clear the readiness flag. Call once in
 * the main thread before any thread exists. CLAW_ERR_INVALID for a tick
 * without a period or a period without a tick. */
enum claw_rc claw_daemon_init(const struct claw_daemon_config *cfg);

/* Wait for signals and run the callbacks until the daemon is to stop;
 * see the top of this file. Clears the readiness flag and starts the stop
 * deadline before returning. In the main thread, after claw_daemon_init. */
enum claw_rc claw_daemon_run(void);

/* Make claw_daemon_run return rc (an error: the daemon fails). From a
 * callback, run returns once the callback is back; from another thread,
 * the main thread is woken. Before run, run returns at once. */
void claw_daemon_stop(enum claw_rc rc);

/* The stop steps are done: end the deadline and the watch for a second
 * signal. A no-op when run has not returned. */
void claw_daemon_stopped(void);

/* Whether the daemon serves: set it once the server listens (and the
 * "listening on" line is printed); run clears it when the stop begins.
 * Any thread; a /readyz route may consult claw_daemon_ready. */
void claw_daemon_set_ready(bool ready);
bool claw_daemon_ready(void);

#endif
