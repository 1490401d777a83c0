/*
 * threads.h - the node agent's only way to start a thread. pthread_create
 * can fail (EAGAIN: the process or the node is out of threads or memory),
 * and a thread that silently never ran leaves the agent half alive (no
 * reports, no restarts) while its API still answers. So every start is
 * checked: the result is marked warn_unused_result (an error under
 * -Werror), and pthread_create itself is poisoned in every file that
 * includes this header, so a new unchecked call does not compile.
 */
#ifndef NA_THREADS_H
#define NA_THREADS_H

#include <pthread.h>
#include <stddef.h>

#include "claw/err.h"

/* Start a joinable thread running fn(arg) into *th. CLAW_ERR_NOMEM when
 * the system gives none (nothing started; the caller decides). */
enum claw_rc na_thread_start(pthread_t *th, void *(*fn)(void *), void *arg)
	__attribute__((warn_unused_result));

/* The same, detached (it cleans up after itself). */
enum claw_rc na_thread_start_detached(void *(*fn)(void *), void *arg)
	__attribute__((warn_unused_result));

struct na_thread_def {
	const char *name; /* for the log */
	void *(*fn)(void *);
	void *arg;
};

/* Start n threads into th[0..n), all or none: when one cannot start, the
 * failure is logged, stop(cls) is called (it must make the threads already
 * started return), they are joined, and the error is returned. */
enum claw_rc na_threads_start_all(const struct na_thread_def *defs, size_t n,
				  pthread_t *th, void (*stop)(void *),
				  void *cls)
	__attribute__((warn_unused_result));

#ifndef NA_THREADS_IMPL
#pragma GCC poison pthread_create
#endif

#endif
