/*
 * replay.c - refuses a signed request seen before. Slack and Discord sign
 * a timestamp with the body and requests older than 5 minutes are refused
 * anyway, so remembering each accepted signature for that window is
 * enough to refuse an exact replay (a channel's own retry carries a new
 * timestamp, hence a new signature, and is caught by the message dedupe
 * instead). The key is the signature's bytes, never the header's
 * spelling: hex in upper case (or mixed) decodes to the same bytes, and
 * the verifiers accept it, so keying on the text would let a replay
 * through. Keys are "<channel>:<lower-case hex of the bytes>".
 */
#include <stdlib.h>
#include <string.h>

#include "claw/crypto.h"

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

#define SIG_MAX 64

bool gw_replay_check(enum gw_channel ch, const uint8_t *sig, size_t len)
{
	char signature[16 + 2 * SIG_MAX + 1];
	double now = gw_now();
	bool fresh = true;
	size_t n = strlen(gw_channel_name(ch));
	if (len > SIG_MAX)
		len = SIG_MAX; /* longer signatures: their first 64 bytes */
	memcpy(signature, gw_channel_name(ch), n);
	signature[n++] = ':';
	claw_hex_encode(sig, len, signature + n);
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
