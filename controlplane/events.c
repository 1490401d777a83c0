/*
 * events.c - fleet events (rows of fleet_events) and the process-wide
 * wake-up counter long polls sleep on (see events.h).
 */
#include "events.h"

#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "claw/json.h"
#include "store/events.h"

static pthread_mutex_t wake_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake_cond;
static pthread_once_t wake_once = PTHREAD_ONCE_INIT;
static uint64_t wake_seq;

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
	struct timespec until;
	uint64_t s;

	pthread_once(&wake_once, wake_init);
	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += timeout_ms / 1000;
	until.tv_nsec += (timeout_ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&wake_mu);
	while (wake_seq == seen &&
	       pthread_cond_timedwait(&wake_cond, &wake_mu, &until) == 0)
		;
	s = wake_seq;
	pthread_mutex_unlock(&wake_mu);
	return s;
}
