/*
 * daemon.h - signal handling for daemons with worker threads.
 *
 * Block the signals in the main thread before any thread starts (threads
 * inherit the mask), then wait for them synchronously: no handler runs in
 * a random thread, and the main thread sees every SIGTERM.
 */
#ifndef CLAW_DAEMON_H
#define CLAW_DAEMON_H

/* Block SIGTERM, SIGINT, SIGHUP and SIGUSR1 in the calling thread (and the
 * threads it starts later); ignore SIGPIPE. */
void claw_daemon_block_signals(void);
/* Wait for one of the blocked signals; returns its number. */
int claw_daemon_wait_signal(void);

#endif
