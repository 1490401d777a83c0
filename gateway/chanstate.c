/*
 * chanstate.c - what /readyz says of each enabled channel ("channels"),
 * for the operator: the node agent relays it to the control plane, which
 * shows it beside the channel (docs/gateway.md, "Connection states").
 *
 *   "state"       a channel the gateway pulls from or keeps a socket to
 *                 (bg.c): "connecting" until its first round ends,
 *                 "connected" after a good round (a WebSocket: once it is
 *                 established), "retrying" after a failed one; every
 *                 other channel "webhook": it waits for the platform
 *   "since"       when the state began (UTC)
 *   "last_event"  when the platform last delivered a verified message
 *                 (ingest.c), absent before the first
 *
 * One lock for all channels: updates are a few per round or message.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "gw.h"

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

static void iso(time_t t, char out[32])
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void gw_chan_set(struct gw *g, enum gw_channel ch, const char *state)
{
	struct gw_chan_state *s = &g->chan_state[ch];

	pthread_mutex_lock(&mu);
	if (strcmp(s->state, state)) {
		snprintf(s->state, sizeof(s->state), "%s", state);
		s->since = time(NULL);
	}
	pthread_mutex_unlock(&mu);
}

void gw_chan_event(struct gw *g, enum gw_channel ch)
{
	pthread_mutex_lock(&mu);
	g->chan_state[ch].last_event = time(NULL);
	pthread_mutex_unlock(&mu);
}

json_t *gw_chan_states_new(struct gw *g, const struct gw_conf *c)
{
	json_t *out = json_object();
	char t[32];

	pthread_mutex_lock(&mu);
	for (int i = 0; out && i < GW_CH__COUNT; i++) {
		const struct gw_chan_state *s = &g->chan_state[i];
		json_t *o;

		if (!c->ch[i].enabled)
			continue;
		o = json_pack("{s:s}", "state",
			      s->state[0] ? s->state : "webhook");
		if (o && s->since) {
			iso(s->since, t);
			json_object_set_new(o, "since", json_string(t));
		}
		if (o && s->last_event) {
			iso(s->last_event, t);
			json_object_set_new(o, "last_event", json_string(t));
		}
		json_object_set_new(out, gw_channel_name((enum gw_channel)i),
				    o);
	}
	pthread_mutex_unlock(&mu);
	return out;
}
