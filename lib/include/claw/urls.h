/*
 * urls.h - a list of equivalent base URLs, the replicas of one service
 * (the control plane's, given to node agents and clawctl as
 * "URL[,URL...]"), with failover: callers ask for the current one; a
 * caller whose call failed the way another replica may not fail (no
 * answer, 502, 503, 504) says so and the list moves on to the next, and
 * then stays there while it works. Thread-safe: the threads of one
 * process share one list, so one that found a dead replica spares the
 * others the wait.
 */
#ifndef CLAW_URLS_H
#define CLAW_URLS_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include "claw/err.h"

#define CLAW_URLS_MAX 16
#define CLAW_URL_MAX 512

struct claw_urls {
	pthread_mutex_t mu;
	char v[CLAW_URLS_MAX][CLAW_URL_MAX]; /* without a trailing '/' */
	size_t n, cur;
};

/* Parse list: URLs separated by commas (spaces around them ignored), each
 * http:// or https://, at most CLAW_URLS_MAX of CLAW_URL_MAX - 1 bytes.
 * CLAW_ERR_INVALID with err saying why. */
enum claw_rc claw_urls_parse(struct claw_urls *u, const char *list, char *err,
			     size_t errlen);
void claw_urls_release(struct claw_urls *u);
/* The current URL into out; returns its index (for claw_urls_failed). */
size_t claw_urls_get(struct claw_urls *u, char *out, size_t outlen);
/* The URL at idx failed: the list moves on to the next one, unless
 * another caller moved it already. */
void claw_urls_failed(struct claw_urls *u, size_t idx);
/* Whether a call's outcome is one another replica may not share: no
 * answer at all (rc CLAW_ERR_IO: refused, reset, unreachable), or a
 * status of 502, 503 or 504. A timeout is not (the call may still be
 * running there), nor a 500 (the request may have been applied). */
bool claw_urls_retryable(enum claw_rc rc, long status);

#endif
