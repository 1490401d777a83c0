/*
 * sched.c - the worker pool with per-conversation ordering.
 *
 * Each conversation has a FIFO of jobs and is in the ready queue at most
 * once; a worker takes a conversation, runs its first job, and puts the
 * conversation back at the tail when more jobs wait. So the jobs of one
 * conversation run one at a time, in order, while different conversations
 * run in parallel on all workers. Each worker knows its scheduler
 * (gw_sched_self): the journal queues the entries it reads back from the
 * file on the worker that just finished one.
 *
 * Journaled jobs are bounded by the journal (max_backlog); notices (the
 * polite refusals and "unavailable" answers, not journaled) are bounded
 * here: past MAX_NOTICES queued, a new one is dropped (its message was
 * refused anyway and is acknowledged), so a flood against a suspended
 * tenant does not grow memory either.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "claw/log.h"
#include "gw.h"

#define WORKER_NICE 5
#define MAX_NOTICES GW_MAX_BACKLOG_DEFAULT

struct conv {
	char *key;
	struct gw_job *head, *tail;
	struct conv *next_ready;
};

struct gw_sched {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct gw_map *convs; /* key -> struct conv, while it has work */
	struct conv *ready_head, *ready_tail;
	bool stop;
	bool notices_full; /* logged once until there is room again */
	size_t notices;    /* notice jobs queued or running */
	gw_job_fn fn;
	void *cls;
	unsigned n;
	pthread_t thr[];
};

void gw_job_free(struct gw_job *job)
{
	if (!job)
		return;
	json_decref(job->env);
	free(job->notice);
	free(job);
}

static void ready_push(struct gw_sched *s, struct conv *c)
{
	GW_FIFO_APPEND(s->ready_head, s->ready_tail, c, next_ready);
}

static void conv_free(void *p)
{
	struct conv *c = p;
	while (c->head) {
		struct gw_job *n = c->head->next;
		gw_job_free(c->head);
		c->head = n;
	}
	free(c->key);
	free(c);
}

static _Thread_local struct gw_sched *self;

struct gw_sched *gw_sched_self(void)
{
	return self;
}

static void *worker(void *arg)
{
	struct gw_sched *s = arg;
	self = s;
	/* replies are throughput, acknowledgements are latency: under CPU
	 * pressure the threads that acknowledge webhooks go first */
	setpriority(PRIO_PROCESS, (id_t)gettid(), WORKER_NICE);
	pthread_mutex_lock(&s->mu);
	for (;;) {
		while (!s->ready_head && !s->stop)
			pthread_cond_wait(&s->cv, &s->mu);
		if (s->stop)
			break;
		struct conv *c = s->ready_head;
		s->ready_head = c->next_ready;
		if (!s->ready_head)
			s->ready_tail = NULL;
		struct gw_job *job = c->head;
		c->head = job->next;
		if (!c->head)
			c->tail = NULL;
		job->next = NULL;
		bool notice = job->notice != NULL;
		pthread_mutex_unlock(&s->mu);
		s->fn(job, s->cls);
		gw_job_free(job);
		pthread_mutex_lock(&s->mu);
		if (notice && --s->notices < MAX_NOTICES / 2)
			s->notices_full = false;
		if (c->head) {
			ready_push(s, c);
			pthread_cond_signal(&s->cv);
		} else {
			gw_map_del(s->convs, c->key);
			conv_free(c);
		}
	}
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

void gw_sched_push(struct gw_sched *s, struct gw_job *job)
{
	const char *key = gw_env_str(job->env, "conversation");
	job->next = NULL;
	pthread_mutex_lock(&s->mu);
	if (job->notice && s->notices >= MAX_NOTICES) {
		bool first = !s->notices_full;
		s->notices_full = true;
		pthread_mutex_unlock(&s->mu);
		if (first)
			log_warn("%d notices queued already: dropping new ones "
				 "until they are sent",
				 MAX_NOTICES);
		gw_job_free(job);
		return;
	}
	if (job->notice)
		s->notices++;
	struct conv *c = gw_map_get(s->convs, key);
	if (!c) {
		c = calloc(1, sizeof(*c));
		if (c)
			c->key = strdup(key);
		if (!c || !c->key || gw_map_put(s->convs, key, c, NULL)) {
			if (job->notice)
				s->notices--;
			pthread_mutex_unlock(&s->mu);
			log_error("out of memory queueing a job; the journal "
				  "keeps "
				  "it for the next start");
			if (c)
				free(c->key);
			free(c);
			gw_job_free(job);
			return;
		}
		c->head = c->tail = job;
		ready_push(s, c);
		pthread_cond_signal(&s->cv);
	} else {
		/* running or ready: just append, the worker re-queues it */
		GW_FIFO_APPEND(c->head, c->tail, job, next);
	}
	pthread_mutex_unlock(&s->mu);
}

enum claw_rc gw_sched_start(unsigned workers, gw_job_fn fn, void *cls,
			    struct gw_sched **out)
{
	struct gw_sched *s =
		calloc(1, sizeof(*s) + workers * sizeof(pthread_t));
	if (!s)
		return CLAW_ERR_NOMEM;
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, NULL);
	s->convs = gw_map_new();
	s->fn = fn;
	s->cls = cls;
	if (!s->convs) {
		free(s);
		return CLAW_ERR_NOMEM;
	}
	for (s->n = 0; s->n < workers; s->n++) {
		int err = gw_thread_create(&s->thr[s->n], NULL, worker, s);
		if (err) {
			log_error("unable to start worker %u of %u: %s",
				  s->n + 1, workers, strerror(err));
			gw_sched_stop(s); /* joins the ones started */
			return CLAW_ERR_INTERNAL;
		}
	}
	*out = s;
	return CLAW_OK;
}

void gw_sched_stop(struct gw_sched *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->mu);
	s->stop = true;
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
	for (unsigned i = 0; i < s->n; i++)
		pthread_join(s->thr[i], NULL);
	gw_map_free(s->convs, conv_free);
	pthread_cond_destroy(&s->cv);
	pthread_mutex_destroy(&s->mu);
	free(s);
}
