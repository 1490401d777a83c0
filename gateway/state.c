/*
 * state.c - small shared helpers of the gateway's global state: the
 * current config behind a mutex with reference counts (so SIGHUP can swap
 * it while workers still use the old one), clocks, and an interruptible
 * sleep for retry loops, and the one pointer every thread of the gateway
 * starts through.
 */
#include <time.h>

#include "gw.h"

int (*gw_thread_create)(pthread_t *thr, const pthread_attr_t *attr,
			void *(*fn)(void *), void *arg) = pthread_create;

struct gw_conf *gw_conf_get(struct gw *g)
{
	pthread_mutex_lock(&g->conf_mu);
	struct gw_conf *c = g->conf;
	atomic_fetch_add(&c->refs, 1);
	pthread_mutex_unlock(&g->conf_mu);
	return c;
}

void gw_conf_swap(struct gw *g, struct gw_conf *c)
{
	pthread_mutex_lock(&g->conf_mu);
	struct gw_conf *old = g->conf;
	g->conf = c;
	pthread_mutex_unlock(&g->conf_mu);
	gw_conf_put(old);
}

double gw_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

long long gw_unix_now(void)
{
	return (long long)time(NULL);
}

void gw_sleep_ms(struct gw *g, long ms)
{
	while (ms > 0 && !atomic_load(&g->stopping)) {
		long step = ms > 50 ? 50 : ms;
		struct timespec ts = {0, step * 1000000L};
		nanosleep(&ts, NULL);
		ms -= step;
	}
}
