/*
 * fuzz_rt_oauth.c - libFuzzer harness of the OAuth client's parsers: the
 * first byte picks the parser (protected resource metadata, authorization
 * server metadata, token response, WWW-Authenticate challenge, discovery
 * URLs), the rest is what a server sent. Every input is either refused
 * with an error and an empty output, or accepted with every field the
 * checks promise: an exact resource/issuer, acceptable URLs, a Bearer
 * token within its bounds.
 */
#include <sodium.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "oauth.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	int which = data[0] % 5;
	const char *body = (const char *)data + 1;
	size_t len = size - 1;
	char err[300];
	bool loop = (data[0] & 0x80) != 0;
	switch (which) {
	case 0: {
		struct claw_oauth_prm p;
		enum claw_rc rc = claw_oauth_parse_prm(
			body, len,
			&(struct claw_oauth_want){"http://127.0.0.1:8/mcp",
						  loop},
			&p, err, sizeof(err));
		if (rc == CLAW_OK) {
			if (strcmp(p.resource, "http://127.0.0.1:8/mcp") &&
			    strcmp(p.resource, "http://127.0.0.1:8/mcp/"))
				abort();
			if (!claw_oauth_url_allowed(p.auth_server, loop))
				abort();
			claw_oauth_prm_release(&p);
		} else if (p.resource || p.auth_server || !err[0]) {
			abort();
		}
		break;
	}
	case 1: {
		struct claw_oauth_asm a;
		enum claw_rc rc = claw_oauth_parse_asm(
			body, len,
			&(struct claw_oauth_want){"https://as.example", loop},
			&a, err, sizeof(err));
		if (rc == CLAW_OK) {
			if (!claw_oauth_url_allowed(a.authorization_endpoint,
						    loop) ||
			    !claw_oauth_url_allowed(a.token_endpoint, loop) ||
			    strncmp(a.issuer, "https://as.example", 18))
				abort();
			claw_oauth_asm_release(&a);
		} else if (a.issuer || !err[0]) {
			abort();
		}
		break;
	}
	case 2: {
		struct claw_oauth_token t;
		enum claw_rc rc =
			claw_oauth_parse_token(body, len, &t, err, sizeof(err));
		if (rc == CLAW_OK) {
			if (strlen(t.access_token) > CLAW_OAUTH_MAX_TOKEN ||
			    t.expires_in < 0)
				abort();
			claw_oauth_token_release(&t);
		} else if (t.access_token || !err[0]) {
			abort();
		}
		break;
	}
	case 3: {
		char *h = malloc(len + 1), v[512];
		if (!h)
			return 0;
		memcpy(h, body, len);
		h[len] = '\0';
		if (claw_oauth_challenge_param(h, "resource_metadata", v,
					       sizeof(v)) &&
		    strlen(v) >= sizeof(v))
			abort();
		claw_oauth_challenge_param(h, "scope", v, sizeof(v));
		free(h);
		break;
	}
	default: {
		char *u = malloc(len + 1), pu[2][2048], pe[2][2048],
		     au[3][2048];
		int n;
		if (!u)
			return 0;
		memcpy(u, body, len);
		u[len] = '\0';
		claw_oauth_prm_urls(u, pu, pe, &n);
		claw_oauth_as_urls(u, au, &n);
		claw_oauth_url_allowed(u, loop);
		char ch[CLAW_OAUTH_PKCE_LEN + 1];
		claw_oauth_pkce_challenge(u, ch);
		free(u);
		break;
	}
	}
	return 0;
}
