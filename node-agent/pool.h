/*
 * pool.h - a fixed set of worker threads that run jobs handed to them in
 * order. The node agent's reconcile thread decides and the pools do the
 * slow work (Docker calls, health probes), so one tenant's slow pull or a
 * hung probe never holds up another tenant's restart.
 *
 * A job is a struct na_job embedded first in the caller's own struct; the
 * pool calls job->run in a worker, then done(job, cls) from that worker.
 * Ownership: a submitted job belongs to the pool until done() is called
 * (or na_pool_stop hands it back unrun).
 */
#ifndef NA_POOL_H
#define NA_POOL_H

#include <pthread.h>
#include <stdbool.h>
#include "claw/err.h"

#define NA_POOL_MAX 32

struct na_job {
	void (*run)(struct na_job *j);
	struct na_job *next;
};

typedef void (*na_pool_done_fn)(struct na_job *j, void *cls);

struct na_pool {
	pthread_mutex_t mu;
	pthread_cond_t cond;
	struct na_job *head, *tail;
	bool stop;
	unsigned n; /* threads running */
	pthread_t th[NA_POOL_MAX];
	na_pool_done_fn done;
	void *cls;
};

/* Start n (1..NA_POOL_MAX) workers. */
enum claw_rc na_pool_start(struct na_pool *p, unsigned n, na_pool_done_fn done,
			   void *cls);
/* Queue a job (taken over). */
void na_pool_submit(struct na_pool *p, struct na_job *j);
/* Let running jobs finish, join the workers, and return the jobs that
 * never ran (a list through ->next; the caller frees them). */
struct na_job *na_pool_stop(struct na_pool *p);

#endif
