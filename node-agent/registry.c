/*
 * registry.c - registry hosts and the credentials for a pull; see
 * registry.h.
 */
#include "registry.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define HUB "docker.io"

/* host (len bytes) normalised into out; see registry.h. */
static enum claw_rc host_norm(const char *host, size_t len, char *out,
			      size_t outlen)
{
	if (len == 0 || len >= outlen)
		return CLAW_ERR_INVALID;
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)host[i];
		/* Names, IPv4 and [IPv6] addresses and a port. */
		if (!strchr("abcdefghijklmnopqrstuvwxyz"
			    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:[]",
			    ch) ||
		    ch == 0)
			return CLAW_ERR_INVALID;
		out[i] = (char)(ch >= 'A' && ch <= 'Z' ? ch - 'A' + 'a' : ch);
	}
	out[len] = 0;
	if (len > 4 && strcmp(out + len - 4, ":443") == 0)
		out[len - 4] = 0;
	if (!strcmp(out, "index.docker.io") ||
	    !strcmp(out, "registry-1.docker.io"))
		snprintf(out, outlen, HUB);
	return out[0] && out[0] != ':' ? CLAW_OK : CLAW_ERR_INVALID;
}

enum claw_rc na_image_registry(const char *ref, char *host, size_t hostlen)
{
	const char *slash = strchr(ref, '/');
	size_t n = slash ? (size_t)(slash - ref) : 0;
	bool upper = false;
	for (size_t i = 0; i < n; i++)
		upper |= ref[i] >= 'A' && ref[i] <= 'Z';
	if (!slash ||
	    !(memchr(ref, '.', n) || memchr(ref, ':', n) ||
	      (n == 9 && !strncmp(ref, "localhost", 9)) || upper)) {
		if (hostlen <= strlen(HUB))
			return CLAW_ERR_TOO_LARGE;
		snprintf(host, hostlen, HUB);
		return CLAW_OK;
	}
	return host_norm(ref, n, host, hostlen);
}

enum claw_rc na_registry_normalise(const char *serveraddress, char *host,
				   size_t hostlen)
{
	const char *s = serveraddress;
	if (!strncasecmp(s, "https://", 8))
		s += 8;
	else if (!strncasecmp(s, "http://", 7))
		s += 7;
	size_t n = strcspn(s, "/");
	return host_norm(s, n, host, hostlen);
}

static bool auth_matches(const json_t *auth, const char *host)
{
	char h[256];
	const char *sa =
		json_string_value(json_object_get(auth, "serveraddress"));
	return sa && na_registry_normalise(sa, h, sizeof(h)) == CLAW_OK &&
		strcmp(h, host) == 0;
}

const json_t *na_image_auth_for(const char *ref, const json_t *auths,
				bool *withheld)
{
	char host[256];
	size_t i;
	const json_t *a;
	if (withheld)
		*withheld = false;
	if (!auths || (json_is_array(auths) && json_array_size(auths) == 0))
		return NULL;
	if (na_image_registry(ref, host, sizeof(host)) == CLAW_OK) {
		if (json_is_object(auths) && auth_matches(auths, host))
			return auths;
		json_array_foreach(auths, i, a)
			if (auth_matches(a, host))
				return a;
	}
	if (withheld)
		*withheld = true;
	return NULL;
}

static void wipe_one(json_t *auth)
{
	static const char *const keys[] = {"password", "auth", "identitytoken",
					   "registrytoken"};
	for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
		const char *v =
			json_string_value(json_object_get(auth, keys[k]));
		if (v)
			sodium_memzero((void *)v, strlen(v));
	}
}

void na_registry_auth_wipe(json_t *auths)
{
	size_t i;
	json_t *a;
	if (json_is_object(auths))
		wipe_one(auths);
	json_array_foreach(auths, i, a)
		wipe_one(a);
}
