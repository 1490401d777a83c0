/*
 * threads.c - checked thread starts; see threads.h.
 */
#define NA_THREADS_IMPL
#include "threads.h"

#include <errno.h>
#include <string.h>

#include "claw/log.h"

enum claw_rc na_thread_start(pthread_t *th, void *(*fn)(void *), void *arg)
{
	int e = pthread_create(th, NULL, fn, arg);
	if (e) {
		errno = e;
		return CLAW_ERR_NOMEM;
	}
	return CLAW_OK;
}

enum claw_rc na_thread_start_detached(void *(*fn)(void *), void *arg)
{
	pthread_attr_t at;
	pthread_t th;
	int e = pthread_attr_init(&at);
	if (e == 0) {
		pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
		e = pthread_create(&th, &at, fn, arg);
		pthread_attr_destroy(&at);
	}
	if (e) {
		errno = e;
		return CLAW_ERR_NOMEM;
	}
	return CLAW_OK;
}

enum claw_rc na_threads_start_all(const struct na_thread_def *defs, size_t n,
				  pthread_t *th, void (*stop)(void *),
				  void *cls)
{
	for (size_t i = 0; i < n; i++) {
		if (na_thread_start(&th[i], defs[i].fn, defs[i].arg) == CLAW_OK)
			continue;
		log_error("unable to start the %s thread: %s", defs[i].name,
			  strerror(errno));
		stop(cls);
		while (i--)
			pthread_join(th[i], NULL);
		return CLAW_ERR_NOMEM;
	}
	return CLAW_OK;
}
