/*
 * urls.c - a list of replicas' base URLs with failover (see urls.h).
 */
#include "claw/urls.h"

#include <stdio.h>
#include <string.h>

enum claw_rc claw_urls_parse(struct claw_urls *u, const char *list, char *err,
			     size_t errlen)
{
	const char *p = list;

	memset(u, 0, sizeof(*u));
	pthread_mutex_init(&u->mu, NULL);
	while (p && *p) {
		const char *end = strchr(p, ',');
		size_t n = end ? (size_t)(end - p) : strlen(p);

		while (n && (*p == ' ' || *p == '\t'))
			p++, n--;
		while (n &&
		       (p[n - 1] == ' ' || p[n - 1] == '\t' || p[n - 1] == '/'))
			n--;
		if (u->n == CLAW_URLS_MAX) {
			snprintf(err, errlen, "at most %d URLs", CLAW_URLS_MAX);
			return CLAW_ERR_INVALID;
		}
		if (n >= CLAW_URL_MAX ||
		    (strncmp(p, "http://", 7) && strncmp(p, "https://", 8)) ||
		    n <= (size_t)(p[4] == 's' ? 8 : 7)) {
			snprintf(err, errlen,
				 "URL '%.*s' must start with http:// or "
				 "https:// and name a host (at most %d bytes)",
				 (int)(n < 200 ? n : 200), p, CLAW_URL_MAX - 1);
			return CLAW_ERR_INVALID;
		}
		memcpy(u->v[u->n++], p, n);
		p = end ? end + 1 : NULL;
	}
	if (!u->n) {
		snprintf(err, errlen, "no URL given");
		return CLAW_ERR_INVALID;
	}
	return CLAW_OK;
}

void claw_urls_release(struct claw_urls *u)
{
	pthread_mutex_destroy(&u->mu);
}

size_t claw_urls_get(struct claw_urls *u, char *out, size_t outlen)
{
	size_t i;

	pthread_mutex_lock(&u->mu);
	i = u->cur;
	snprintf(out, outlen, "%s", u->v[i]);
	pthread_mutex_unlock(&u->mu);
	return i;
}

void claw_urls_failed(struct claw_urls *u, size_t idx)
{
	pthread_mutex_lock(&u->mu);
	if (u->cur == idx && u->n > 1)
		u->cur = (idx + 1) % u->n;
	pthread_mutex_unlock(&u->mu);
}

bool claw_urls_retryable(enum claw_rc rc, long status)
{
	if (rc)
		return rc == CLAW_ERR_IO;
	return status == 502 || status == 503 || status == 504;
}
