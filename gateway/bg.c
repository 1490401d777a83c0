/*
 * bg.c - a background thread that runs one round of a channel's pull loop
 * (a long poll, a WebSocket connection) again and again until the gateway
 * stops: after a good round it goes on at once (or after the pause the
 * round asked for), after a failed one it backs off exponentially up to
 * --retry-max-ms. The round owns nothing; the state (cls) is freed with
 * free() when the thread is stopped.
 */
#include <stdlib.h>

#include "gw.h"

#define BACKOFF_START_MS 500

struct gw_bg {
	struct gw *g;
	gw_bg_round round;
	void *cls;
	pthread_t thr;
};

static void *run(void *arg)
{
	struct gw_bg *b = arg;
	long backoff = BACKOFF_START_MS;
	while (!atomic_load(&b->g->stopping)) {
		long wait = -1;
		if (b->round(b->g, b->cls, &wait)) {
			backoff = BACKOFF_START_MS;
			if (wait > 0)
				gw_sleep_ms(b->g, wait);
			continue;
		}
		gw_sleep_ms(b->g, wait >= 0 ? wait : backoff);
		backoff = backoff * 2 > b->g->send_retry_max_ms
			? b->g->send_retry_max_ms
			: backoff * 2;
	}
	return NULL;
}

enum claw_rc gw_bg_start(struct gw *g, gw_bg_round round, void *cls_steal,
			 struct gw_bg **out)
{
	struct gw_bg *b = calloc(1, sizeof(*b));
	if (!b) {
		free(cls_steal);
		return CLAW_ERR_NOMEM;
	}
	b->g = g;
	b->round = round;
	b->cls = cls_steal;
	if (pthread_create(&b->thr, NULL, run, b)) {
		free(cls_steal);
		free(b);
		return CLAW_ERR_INTERNAL;
	}
	*out = b;
	return CLAW_OK;
}

void gw_bg_stop(struct gw_bg *b)
{
	if (!b)
		return;
	pthread_join(b->thr, NULL);
	free(b->cls);
	free(b);
}
