/*
 * bg.c - a background thread that runs one round of a channel's pull loop
 * (a long poll, a WebSocket connection) again and again until the gateway
 * stops: after a good round it goes on at once (or after the pause the
 * round asked for), after a failed one it backs off exponentially up to
 * --retry-max-ms. A WebSocket round asks instead for the reconnect
 * backoff (GW_BG_RECONNECT): 1 s doubling to 5 min, half of it random so
 * that many gateways dropped at once do not return at once, restarting
 * after a healthy session; or it ends the thread (GW_BG_STOP) when the
 * channel said that retrying cannot help. The round owns nothing; the
 * state (cls) is released when the thread is stopped: with free(), or
 * with the release function given to gw_bg_start_release.
 *
 * A thread started for a channel keeps that channel's connection state
 * (chanstate.c): "connecting" until the first round ends, "connected"
 * after a good round, "retrying" after a failed one or while a WebSocket
 * waits to reconnect; a WebSocket round says "connected" itself once the
 * socket is established (gw_bg_connected, through a thread-local
 * pointer to the running thread), as it returns only when it ends.
 */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "claw/log.h"
#include "gw.h"

#define BACKOFF_START_MS 500
#define ATTEMPTS_MAX 64

struct gw_bg {
	struct gw *g;
	int ch; /* its channel, -1: none */
	gw_bg_round round;
	void *cls;
	void (*release)(void *cls);
	pthread_t thr;
};

long gw_backoff_ms(unsigned attempt, uint32_t rnd)
{
	long d = GW_RECONNECT_MAX_MS;
	if (attempt < 20) {
		d = GW_RECONNECT_MIN_MS << attempt;
		if (d > GW_RECONNECT_MAX_MS)
			d = GW_RECONNECT_MAX_MS;
	}
	long ms = d / 2 + (long)(rnd % (uint32_t)(d / 2 + 1));
	return ms < GW_RECONNECT_MIN_MS ? GW_RECONNECT_MIN_MS : ms;
}

static __thread struct gw_bg *running; /* this thread's, for rounds */

static void set_state(struct gw_bg *b, const char *state)
{
	if (b && b->ch >= 0)
		gw_chan_set(b->g, (enum gw_channel)b->ch, state);
}

void gw_bg_connected(void)
{
	set_state(running, "connected");
}

static void *run(void *arg)
{
	struct gw_bg *b = arg;
	long backoff = BACKOFF_START_MS;
	unsigned attempt = 0;
	running = b;
	set_state(b, "connecting");
	while (!atomic_load(&b->g->stopping)) {
		long wait = -1;
		bool ok = b->round(b->g, b->cls, &wait);
		if (wait == GW_BG_STOP)
			break;
		/* a WebSocket round returns when its session ended */
		set_state(b,
			  ok && wait != GW_BG_RECONNECT ? "connected"
							: "retrying");
		if (wait == GW_BG_RECONNECT) {
			if (ok)
				attempt = 0;
			long ms = gw_backoff_ms(attempt, randombytes_random());
			log_info("websocket: reconnecting in %ld ms (attempt "
				 "%u)",
				 ms, attempt + 1);
			if (attempt < ATTEMPTS_MAX)
				attempt++;
			gw_sleep_ms(b->g, ms);
			continue;
		}
		if (ok) {
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

enum claw_rc gw_bg_start_release(struct gw *g, int ch, gw_bg_round round,
				 void *cls_steal, void (*release)(void *cls),
				 struct gw_bg **out)
{
	struct gw_bg *b = calloc(1, sizeof(*b));
	if (!b) {
		release(cls_steal);
		return CLAW_ERR_NOMEM;
	}
	b->g = g;
	b->ch = ch;
	b->round = round;
	b->cls = cls_steal;
	b->release = release;
	int err = gw_thread_create(&b->thr, NULL, run, b);
	if (err) {
		log_error("unable to start a channel's thread: %s",
			  strerror(err));
		release(cls_steal);
		free(b);
		return CLAW_ERR_INTERNAL;
	}
	*out = b;
	return CLAW_OK;
}

enum claw_rc gw_bg_start(struct gw *g, int ch, gw_bg_round round,
			 void *cls_steal, struct gw_bg **out)
{
	return gw_bg_start_release(g, ch, round, cls_steal, free, out);
}

void gw_bg_stop(struct gw_bg *b)
{
	if (!b)
		return;
	pthread_join(b->thr, NULL);
	b->release(b->cls);
	free(b);
}
