/*
 * events.c - fleet events (rows of fleet_events), the process-wide
 * wake-up counter waiters sleep on, and the node-keyed watches of the
 * nodes' long polls (see events.h). A watch is one long poll's: a counter
 * and a condition variable of its own, in a bucket of a small hash table
 * by node id, all under the one mutex; waking a node walks one bucket.
 */
#include "events.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "claw/deadline.h"
#include "claw/json.h"
#include "cp.h"
#include "store/events.h"

static pthread_mutex_t wake_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake_cond;
static pthread_once_t wake_once = PTHREAD_ONCE_INIT;
static uint64_t wake_seq;

#define WATCH_BUCKETS 1024

struct cp_node_watch {
	struct cp_node_watch *next;
	char node_id[CP_ID_MAX];
	bool edge; /* woken by edge changes too */
	uint64_t seq;
	pthread_cond_t cond;
};

static struct cp_node_watch *watches[WATCH_BUCKETS];

enum claw_rc cp_event_add(PGconn *c, const char *type, const char *tenant_id,
			  const char *node_id, json_t *data_steal)
{
	char *data = data_steal ? claw_json_dumps(data_steal) : NULL;
	enum claw_rc rc;

	json_decref(data_steal);
	if (data_steal && !data)
		return CLAW_ERR_NOMEM;
	rc = cp_store_event_insert(c, type, tenant_id, node_id, data);
	free(data);
	return rc;
}

static void wake_init(void)
{
	pthread_condattr_t a;

	pthread_condattr_init(&a);
	pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
	pthread_cond_init(&wake_cond, &a);
	pthread_condattr_destroy(&a);
}

void cp_fleet_wake(void)
{
	pthread_once(&wake_once, wake_init);
	pthread_mutex_lock(&wake_mu);
	wake_seq++;
	pthread_cond_broadcast(&wake_cond);
	pthread_mutex_unlock(&wake_mu);
}

uint64_t cp_fleet_seq(void)
{
	uint64_t s;

	pthread_mutex_lock(&wake_mu);
	s = wake_seq;
	pthread_mutex_unlock(&wake_mu);
	return s;
}

uint64_t cp_fleet_wait(uint64_t seen, long timeout_ms)
{
	struct timespec until = claw_deadline_ms(CLOCK_MONOTONIC, timeout_ms);
	uint64_t s;

	pthread_once(&wake_once, wake_init);
	pthread_mutex_lock(&wake_mu);
	while (wake_seq == seen &&
	       pthread_cond_timedwait(&wake_cond, &wake_mu, &until) == 0)
		;
	s = wake_seq;
	pthread_mutex_unlock(&wake_mu);
	return s;
}

/* FNV-1a of the node id: its bucket. */
static struct cp_node_watch **bucket(const char *node_id)
{
	uint32_t h = 2166136261u;

	for (const unsigned char *p = (const unsigned char *)node_id; *p; p++)
		h = (h ^ *p) * 16777619u;
	return &watches[h % WATCH_BUCKETS];
}

struct cp_node_watch *cp_node_watch(const char *node_id, bool edge)
{
	struct cp_node_watch *w = calloc(1, sizeof(*w)), **b;
	pthread_condattr_t a;

	if (!w || strlen(node_id) >= sizeof(w->node_id)) {
		free(w);
		return NULL;
	}
	memcpy(w->node_id, node_id, strlen(node_id) + 1);
	w->edge = edge;
	pthread_condattr_init(&a);
	pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
	pthread_cond_init(&w->cond, &a);
	pthread_condattr_destroy(&a);
	pthread_mutex_lock(&wake_mu);
	b = bucket(node_id);
	w->next = *b;
	*b = w;
	pthread_mutex_unlock(&wake_mu);
	return w;
}

void cp_node_unwatch(struct cp_node_watch *w)
{
	struct cp_node_watch **p;

	if (!w)
		return;
	pthread_mutex_lock(&wake_mu);
	for (p = bucket(w->node_id); *p && *p != w; p = &(*p)->next)
		;
	if (*p)
		*p = w->next;
	pthread_mutex_unlock(&wake_mu);
	pthread_cond_destroy(&w->cond);
	free(w);
}

uint64_t cp_node_seq(const struct cp_node_watch *w)
{
	uint64_t s = 0;

	if (w) {
		pthread_mutex_lock(&wake_mu);
		s = w->seq;
		pthread_mutex_unlock(&wake_mu);
	}
	return s;
}

void cp_node_wait(struct cp_node_watch *w, uint64_t seen, long timeout_ms)
{
	struct timespec until = claw_deadline_ms(CLOCK_MONOTONIC, timeout_ms);

	if (!w) {
		nanosleep(&(struct timespec){.tv_sec = timeout_ms / 1000,
					     .tv_nsec = (timeout_ms % 1000) *
						     1000000L},
			  NULL);
		return;
	}
	pthread_mutex_lock(&wake_mu);
	while (w->seq == seen &&
	       pthread_cond_timedwait(&w->cond, &wake_mu, &until) == 0)
		;
	pthread_mutex_unlock(&wake_mu);
}

static void wake_one(struct cp_node_watch *w)
{
	w->seq++;
	pthread_cond_signal(&w->cond);
}

/* Wake every watch, or every edge node's. */
static void wake_every(bool edges_only)
{
	pthread_mutex_lock(&wake_mu);
	for (size_t i = 0; i < WATCH_BUCKETS; i++)
		for (struct cp_node_watch *w = watches[i]; w; w = w->next)
			if (w->edge || !edges_only)
				wake_one(w);
	pthread_mutex_unlock(&wake_mu);
}

void cp_node_wake_all(void)
{
	wake_every(false);
}

void cp_node_wake(const char *node_id)
{
	struct cp_node_watch *w;

	if (!strcmp(node_id, "*")) {
		wake_every(true);
		return;
	}
	pthread_mutex_lock(&wake_mu);
	for (w = *bucket(node_id); w; w = w->next)
		if (!strcmp(w->node_id, node_id))
			wake_one(w);
	pthread_mutex_unlock(&wake_mu);
}
