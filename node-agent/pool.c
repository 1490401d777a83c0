/*
 * pool.c - worker threads running queued jobs; see pool.h.
 */
#include "pool.h"

#include <string.h>

#include "threads.h"

static void *worker(void *cls)
{
	struct na_pool *p = cls;
	for (;;) {
		pthread_mutex_lock(&p->mu);
		while (!p->stop && !p->head)
			pthread_cond_wait(&p->cond, &p->mu);
		if (p->stop) {
			pthread_mutex_unlock(&p->mu);
			return NULL;
		}
		struct na_job *j = p->head;
		p->head = j->next;
		if (!p->head)
			p->tail = NULL;
		pthread_mutex_unlock(&p->mu);
		j->next = NULL;
		j->run(j);
		p->done(j, p->cls);
	}
}

enum claw_rc na_pool_start(struct na_pool *p, unsigned n, na_pool_done_fn done,
			   void *cls)
{
	memset(p, 0, sizeof(*p));
	if (n == 0 || n > NA_POOL_MAX)
		return CLAW_ERR_INVALID;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cond, NULL);
	p->done = done;
	p->cls = cls;
	for (; p->n < n; p->n++)
		if (na_thread_start(&p->th[p->n], worker, p)) {
			na_pool_stop(p);
			return CLAW_ERR_NOMEM;
		}
	return CLAW_OK;
}

void na_pool_submit(struct na_pool *p, struct na_job *j)
{
	j->next = NULL;
	pthread_mutex_lock(&p->mu);
	if (p->tail)
		p->tail->next = j;
	else
		p->head = j;
	p->tail = j;
	pthread_cond_signal(&p->cond);
	pthread_mutex_unlock(&p->mu);
}

struct na_job *na_pool_stop(struct na_pool *p)
{
	pthread_mutex_lock(&p->mu);
	p->stop = true;
	pthread_cond_broadcast(&p->cond);
	struct na_job *left = p->head;
	p->head = p->tail = NULL;
	pthread_mutex_unlock(&p->mu);
	for (unsigned i = 0; i < p->n; i++)
		pthread_join(p->th[i], NULL);
	p->n = 0;
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->cond);
	return left;
}
