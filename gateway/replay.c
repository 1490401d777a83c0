/*
 * replay.c - refuses a signed request seen before. Slack and Discord sign
 * a timestamp with the body and requests older than 5 minutes are refused
 * anyway, so remembering each accepted signature for that window is
 * enough to refuse an exact replay (a channel's own retry carries a new
 * timestamp, hence a new signature, and is caught by the message dedupe
 * instead).
 */
#include <stdlib.h>

#include "gw.h"

#define REPLAY_WINDOW_S 600.0
#define PRUNE_EVERY 1024

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct gw_map *seen; /* signature -> double * (expiry) */
static unsigned inserts;

static bool expired(const char *key, void *val, void *cls)
{
	(void)key;
	if (*(double *)val < *(double *)cls) {
		free(val);
		return true;
	}
	return false;
}

bool gw_replay_check(const char *signature)
{
	double now = gw_now();
	bool fresh = true;
	pthread_mutex_lock(&mu);
	if (!seen)
		seen = gw_map_new();
	double *exp = seen ? gw_map_get(seen, signature) : NULL;
	if (exp && *exp >= now) {
		fresh = false;
	} else if (seen) {
		if (++inserts % PRUNE_EVERY == 0)
			gw_map_each(seen, expired, &now);
		double *v = exp ? exp : malloc(sizeof(*v));
		if (v) {
			*v = now + REPLAY_WINDOW_S;
			if (!exp && gw_map_put(seen, signature, v, NULL))
				free(v);
		}
	}
	pthread_mutex_unlock(&mu);
	return fresh;
}

void gw_replay_release(void)
{
	pthread_mutex_lock(&mu);
	gw_map_free(seen, free);
	seen = NULL;
	pthread_mutex_unlock(&mu);
}
