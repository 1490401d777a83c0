/*
 * oauth.c - the runtime's OAuth client for one remote MCP server (see
 * oauth.h): holds the grant in sodium memory, refreshes it, and, headless
 * (CLI and tests), runs discovery, registration and the code flow itself.
 * The protocol pieces and network steps are libclaw's (claw/oauth.h).
 */
#include "oauth.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <jansson.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "claw/banned.h"
#include "claw/crypto.h"
#include "claw/httpc.h"
#include "claw/log.h"

#define REFRESH_AHEAD_S 60

/* The network settings of client c (its way out is the gateway's
 * egress proxy, which decides where it may go). */
#define NET(c)                                                                 \
	((struct claw_oauth_net){(c)->allow_http_loopback, (c)->proxy,         \
				 (c)->ca_file, false})

/* Say "out of memory" in err; CLAW_ERR_NOMEM. */
static enum claw_rc no_memory(char *err, size_t errlen)
{
	snprintf(err, errlen, "out of memory");
	return CLAW_ERR_NOMEM;
}
struct rt_oauth_client {
	atomic_int refs;
	pthread_mutex_t mu;
	bool allow_http_loopback, auto_authorize;
	char *proxy, *ca_file;
	/* the grant (secrets in sodium memory) */
	char *access_token, *refresh_token, *client_id, *client_secret;
	char *token_endpoint, *resource, *client_metadata_url;
	unsigned auth_method; /* CLAW_OAUTH_AUTH_* used at the token endpoint */
	long long expires_at; /* unix s, 0: unknown */
	int flows;            /* authorization flows run */
	pthread_mutex_t status_mu; /* status only: readable during a flow */
	char status[200];
};

static void set_status(struct rt_oauth_client *c, const char *s)
{
	pthread_mutex_lock(&c->status_mu);
	snprintf(c->status, sizeof(c->status), "%s", s);
	pthread_mutex_unlock(&c->status_mu);
}

enum claw_rc rt_oauth_client_new(const struct rt_oauth_settings *s,
				 struct rt_oauth_client **out, char *err,
				 size_t errlen)
{
	struct rt_oauth_client *c = calloc(1, sizeof(*c));
	*out = NULL;
	if (!c) {
		return no_memory(err, errlen);
	}
	c->refs = 1;
	pthread_mutex_init(&c->mu, NULL);
	pthread_mutex_init(&c->status_mu, NULL);
	c->allow_http_loopback = s->allow_http_loopback;
	c->auto_authorize = s->auto_authorize;
	c->proxy = s->proxy ? strdup(s->proxy) : NULL;
	c->ca_file = s->ca_file ? strdup(s->ca_file) : NULL;
	c->client_id = claw_oauth_sdup(s->client_id);
	c->client_secret = claw_oauth_sdup(s->client_secret);
	if (s->client_metadata_url &&
	    !claw_oauth_url_allowed(s->client_metadata_url, false)) {
		rt_oauth_client_unref(c);
		snprintf(err, errlen, "the client metadata URL must be https");
		return CLAW_ERR_INVALID;
	}
	c->client_metadata_url =
		s->client_metadata_url ? strdup(s->client_metadata_url) : NULL;
	bool nomem = (s->client_metadata_url && !c->client_metadata_url) ||
		(s->proxy && !c->proxy) || (s->ca_file && !c->ca_file) ||
		(s->client_id && !c->client_id) ||
		(s->client_secret && !c->client_secret);
	if (!nomem && s->grant_json) {
		json_t *g =
			json_loads(s->grant_json, JSON_REJECT_DUPLICATES, NULL);
		bool bad = !json_is_object(g);
		const char *at = NULL, *rt = NULL, *te = NULL, *ci = NULL,
			   *cs = NULL, *rs = NULL, *am = NULL;
		if (!bad) {
			at = claw_oauth_json_str(g, "access_token",
						 CLAW_OAUTH_MAX_TOKEN, &bad);
			rt = claw_oauth_json_str(g, "refresh_token",
						 CLAW_OAUTH_MAX_TOKEN, &bad);
			te = claw_oauth_json_str(g, "token_endpoint",
						 CLAW_OAUTH_MAX_URL, &bad);
			ci = claw_oauth_json_str(g, "client_id", 512, &bad);
			cs = claw_oauth_json_str(g, "client_secret", 512, &bad);
			rs = claw_oauth_json_str(g, "resource",
						 CLAW_OAUTH_MAX_URL, &bad);
			am = claw_oauth_json_str(
				g, "token_endpoint_auth_method", 64, &bad);
			json_t *ea = json_object_get(g, "expires_at");
			if (ea && !json_is_integer(ea))
				bad = true;
			c->expires_at = ea ? json_integer_value(ea) : 0;
		}
		if (!bad &&
		    (!at || (rt && (!te || !ci)) ||
		     (te &&
		      !claw_oauth_url_allowed(te, s->allow_http_loopback))))
			bad = true;
		if (bad) {
			json_decref(g);
			rt_oauth_client_unref(c);
			snprintf(err, errlen,
				 "the stored OAuth grant is not a grant "
				 "(access_token, and with refresh_token an "
				 "https token_endpoint and client_id)");
			return CLAW_ERR_INVALID;
		}
		c->access_token = claw_oauth_sdup(at);
		c->refresh_token = claw_oauth_sdup(rt);
		c->token_endpoint = te ? strdup(te) : NULL;
		c->resource = rs ? strdup(rs) : NULL;
		if (ci) {
			claw_oauth_sfree(&c->client_id);
			claw_oauth_sfree(&c->client_secret);
			c->client_id = claw_oauth_sdup(ci);
			c->client_secret = claw_oauth_sdup(cs);
		}
		c->auth_method = !am              ? 0
			: strcmp(am, "none") == 0 ? CLAW_OAUTH_AUTH_NONE
			: strcmp(am, "client_secret_post") == 0
			? CLAW_OAUTH_AUTH_POST
			: CLAW_OAUTH_AUTH_BASIC;
		nomem = !c->access_token || (rt && !c->refresh_token) ||
			(te && !c->token_endpoint) || (rs && !c->resource) ||
			(ci && !c->client_id) || (cs && !c->client_secret);
		json_decref(g);
	}
	if (nomem) {
		rt_oauth_client_unref(c);
		return no_memory(err, errlen);
	}
	*out = c;
	return CLAW_OK;
}

void rt_oauth_client_ref(struct rt_oauth_client *c)
{
	atomic_fetch_add(&c->refs, 1);
}

static void forget_grant(struct rt_oauth_client *c)
{
	claw_oauth_sfree(&c->access_token);
	claw_oauth_sfree(&c->refresh_token);
	c->expires_at = 0;
}

void rt_oauth_client_unref(struct rt_oauth_client *c)
{
	if (!c || atomic_fetch_sub(&c->refs, 1) != 1)
		return;
	forget_grant(c);
	claw_oauth_sfree(&c->client_id);
	claw_oauth_sfree(&c->client_secret);
	free(c->token_endpoint);
	free(c->resource);
	free(c->client_metadata_url);
	free(c->proxy);
	free(c->ca_file);
	pthread_mutex_destroy(&c->mu);
	pthread_mutex_destroy(&c->status_mu);
	free(c);
}

void rt_oauth_status(struct rt_oauth_client *c, char *out, size_t outlen)
{
	pthread_mutex_lock(&c->status_mu);
	snprintf(out, outlen, "%s", c->status);
	pthread_mutex_unlock(&c->status_mu);
}

/* The value of query parameter name in q ("a=1&b=2"), percent-decoded.
 * False when absent or too long. */
static bool query_param(const char *q, const char *name, char *out,
			size_t outlen)
{
	size_t nl = strlen(name);
	while (q && *q) {
		const char *end = q + strcspn(q, "&");
		if ((size_t)(end - q) > nl && strncmp(q, name, nl) == 0 &&
		    q[nl] == '=') {
			size_t o = 0;
			for (const char *p = q + nl + 1; p < end; p++) {
				char ch = *p;
				if (ch == '+') {
					ch = ' ';
				} else if (ch == '%' && end - p > 2 &&
					   isxdigit((unsigned char)p[1]) &&
					   isxdigit((unsigned char)p[2])) {
					char hx[3] = {p[1], p[2], 0};
					ch = (char)strtol(hx, NULL, 16);
					p += 2;
				}
				if (o + 1 >= outlen)
					return false;
				out[o++] = ch;
			}
			out[o] = '\0';
			return true;
		}
		q = *end ? end + 1 : end;
	}
	return false;
}

/* The token endpoint: POST form (client authentication added as the
 * grant's method says), parse and keep the answer. Called with mu held. */
static enum claw_rc token_request(struct rt_oauth_client *c, char *form,
				  size_t max, char *err, size_t errlen)
{
	struct claw_oauth_cli v = {c->client_id, c->client_secret,
				   c->auth_method};
	struct claw_oauth_token t;
	enum claw_rc rc = claw_oauth_token_post(&NET(c), c->token_endpoint, &v,
						form, max, &t, err, errlen);
	if (rc != CLAW_OK)
		return rc;
	char *at = claw_oauth_sdup(t.access_token);
	char *rt = t.refresh_token ? claw_oauth_sdup(t.refresh_token) : NULL;
	if (!at || (t.refresh_token && !rt)) {
		claw_oauth_sfree(&at);
		claw_oauth_sfree(&rt);
		rc = no_memory(err, errlen);
	} else {
		claw_oauth_sfree(&c->access_token);
		c->access_token = at;
		if (rt) { /* else the old one stays */
			claw_oauth_sfree(&c->refresh_token);
			c->refresh_token = rt;
		}
		c->expires_at =
			t.expires_in ? (long long)time(NULL) + t.expires_in : 0;
		set_status(c, "");
	}
	claw_oauth_token_release(&t);
	return rc;
}

/* Refresh with the refresh token. Called with mu held. */
static enum claw_rc refresh(struct rt_oauth_client *c, char *err, size_t errlen)
{
	char form[12288] = "";
	if (!c->refresh_token || !c->token_endpoint) {
		snprintf(err, errlen, "no refresh token");
		return CLAW_ERR_CRYPTO;
	}
	if (!claw_oauth_form_add(form, sizeof(form), "grant_type",
				 "refresh_token") ||
	    !claw_oauth_form_add(form, sizeof(form), "refresh_token",
				 c->refresh_token) ||
	    (c->resource &&
	     !claw_oauth_form_add(form, sizeof(form), "resource",
				  c->resource))) {
		snprintf(err, errlen, "the refresh request is too long");
		return CLAW_ERR_INVALID;
	}
	enum claw_rc rc = token_request(c, form, sizeof(form), err, errlen);
	if (rc != CLAW_OK) {
		/* The grant is dead: say so in status, and do not try this
		 * refresh token again. */
		char s[200];
		snprintf(s, sizeof(s), "grant expired: the refresh failed (%s)",
			 err);
		set_status(c, s);
		claw_oauth_sfree(&c->refresh_token);
		claw_oauth_sfree(&c->access_token);
		log_warn("oauth: %s", s);
	}
	return rc;
}

char *rt_oauth_auth_header(struct rt_oauth_client *c)
{
	char *h = NULL;
	pthread_mutex_lock(&c->mu);
	if (c->access_token && c->refresh_token && c->expires_at &&
	    (long long)time(NULL) + REFRESH_AHEAD_S >= c->expires_at) {
		char err[200];
		refresh(c, err, sizeof(err));
	}
	if (c->access_token) {
		size_t n = strlen(c->access_token) + 32;
		h = malloc(n);
		if (h)
			snprintf(h, n, "Authorization: Bearer %s",
				 c->access_token);
	}
	pthread_mutex_unlock(&c->mu);
	return h;
}

/* Dynamic client registration (RFC 7591) when there is no client yet. */
static enum claw_rc register_client(struct rt_oauth_client *c,
				    struct claw_oauth_disc *f,
				    const char *redirect, char *err,
				    size_t errlen)
{
	if (c->client_id)
		return CLAW_OK; /* pre-registered */
	if (c->client_metadata_url && f->as.cimd) {
		/* SEP-991: the metadata document's URL is the client id (a
		 * public client) */
		c->client_id = claw_oauth_sdup(c->client_metadata_url);
		c->auth_method = CLAW_OAUTH_AUTH_NONE;
		if (!c->client_id) {
			return no_memory(err, errlen);
		}
		return CLAW_OK;
	}
	struct claw_oauth_cli r;
	enum claw_rc rc = claw_oauth_register(&NET(c), &f->as, "claw-runtime",
					      redirect, &r, err, errlen);
	if (rc == CLAW_OK) {
		c->client_id = r.client_id;
		c->client_secret = r.client_secret;
		c->auth_method = r.auth_method;
	}
	return rc;
}

/* A loopback redirect_uri on a port this process holds while the flow
 * runs. fd: the socket (closed by the caller). */
static int loopback_redirect(char *out, size_t outlen)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof(a);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
	    listen(fd, 1) != 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &al) != 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	snprintf(out, outlen, "http://127.0.0.1:%u/callback",
		 (unsigned)ntohs(a.sin_port));
	return fd;
}

static enum claw_rc code_flow(struct rt_oauth_client *c,
			      struct claw_oauth_disc *f, char *err,
			      size_t errlen)
{
	char redirect[64], verifier[CLAW_OAUTH_PKCE_LEN + 1],
		challenge[CLAW_OAUTH_PKCE_LEN + 1],
		state[CLAW_OAUTH_PKCE_LEN + 1], sch[CLAW_OAUTH_PKCE_LEN + 1];
	char url[8192], code[1024], got_state[128], loc[4096];
	enum claw_rc rc;
	int fd = loopback_redirect(redirect, sizeof(redirect));
	if (fd < 0) {
		snprintf(err, errlen, "no loopback port for the redirect");
		return CLAW_ERR_IO;
	}
	rc = register_client(c, f, redirect, err, errlen);
	if (rc)
		goto out;
	if (!c->auth_method)
		c->auth_method = claw_oauth_pick_method(
			c->client_secret != NULL, f->as.auth_methods);
	claw_oauth_pkce_new(verifier, challenge);
	claw_oauth_pkce_new(state, sch);
	struct claw_oauth_authz az = {f->as.authorization_endpoint,
				      c->client_id,
				      redirect,
				      challenge,
				      state,
				      f->resource,
				      f->scope};
	if (!claw_oauth_authorize_url(&az, url, sizeof(url))) {
		snprintf(err, errlen, "the authorization request is too long");
		rc = CLAW_ERR_INVALID;
		goto out;
	}
	struct claw_httpc_resp resp;
	rc = claw_oauth_http(&NET(c), "GET", url, NULL, NULL, 64u << 10, &resp,
			     err, errlen);
	if (rc == CLAW_OK &&
	    (resp.status < 300 || resp.status > 399 ||
	     !claw_httpc_resp_header(&resp, "location", loc, sizeof(loc)))) {
		snprintf(err, errlen,
			 "the authorization endpoint answered HTTP %ld "
			 "without a redirect",
			 resp.status);
		rc = CLAW_ERR_PROTO;
	}
	claw_httpc_resp_release(&resp);
	if (rc)
		goto out;
	size_t rl = strlen(redirect);
	if (strncmp(loc, redirect, rl) != 0 || loc[rl] != '?') {
		snprintf(err, errlen,
			 "the authorization endpoint redirected "
			 "elsewhere; refused");
		rc = CLAW_ERR_PROTO;
		goto out;
	}
	const char *qs = loc + rl + 1;
	if (query_param(qs, "error", got_state, sizeof(got_state))) {
		snprintf(err, errlen, "authorization refused: %.60s",
			 got_state);
		rc = CLAW_ERR_PROTO;
		goto out;
	}
	if (!query_param(qs, "state", got_state, sizeof(got_state)) ||
	    !claw_ct_streq(got_state, state)) {
		snprintf(err, errlen,
			 "the authorization's state does not "
			 "match; refused");
		rc = CLAW_ERR_PROTO;
		goto out;
	}
	if (!query_param(qs, "code", code, sizeof(code)) || !code[0]) {
		snprintf(err, errlen, "the authorization gave no code");
		rc = CLAW_ERR_PROTO;
		goto out;
	}
	char *te = strdup(f->as.token_endpoint);
	char *res = strdup(f->resource);
	if (!te || !res) {
		free(te);
		free(res);
		rc = no_memory(err, errlen);
		goto out;
	}
	free(c->token_endpoint);
	c->token_endpoint = te;
	free(c->resource);
	c->resource = res;
	char form[12288] = "";
	if (!claw_oauth_code_form(form, sizeof(form), code, redirect, verifier,
				  f->resource)) {
		snprintf(err, errlen, "the token request is too long");
		rc = CLAW_ERR_INVALID;
		goto out;
	}
	rc = token_request(c, form, sizeof(form), err, errlen);
out:
	sodium_memzero(verifier, sizeof(verifier));
	sodium_memzero(code, sizeof(code));
	close(fd);
	return rc;
}

/* client_credentials (a machine client with a pre-registered secret). */
static enum claw_rc cc_flow(struct rt_oauth_client *c,
			    struct claw_oauth_disc *f, char *err, size_t errlen)
{
	char form[4096] = "";
	char *te = strdup(f->as.token_endpoint), *res = strdup(f->resource);
	if (!te || !res) {
		free(te);
		free(res);
		return no_memory(err, errlen);
	}
	free(c->token_endpoint);
	c->token_endpoint = te;
	free(c->resource);
	c->resource = res;
	if (!c->auth_method)
		c->auth_method = claw_oauth_pick_method(
			c->client_secret != NULL, f->as.auth_methods);
	if (!claw_oauth_form_add(form, sizeof(form), "grant_type",
				 "client_credentials") ||
	    !claw_oauth_form_add(form, sizeof(form), "resource", f->resource) ||
	    (f->scope[0] &&
	     !claw_oauth_form_add(form, sizeof(form), "scope", f->scope))) {
		snprintf(err, errlen, "the token request is too long");
		return CLAW_ERR_INVALID;
	}
	return token_request(c, form, sizeof(form), err, errlen);
}

enum claw_rc rt_oauth_on_challenge(struct rt_oauth_client *c,
				   const char *server_url, long status,
				   const char *www, char *err, size_t errlen)
{
	enum claw_rc rc;
	bool step_up = status == 403;
	pthread_mutex_lock(&c->mu);
	if (status == 401 && c->refresh_token) {
		rc = refresh(c, err, errlen);
		if (rc == CLAW_OK || !c->auto_authorize) {
			if (rc)
				rc = CLAW_ERR_CRYPTO;
			goto out;
		}
	}
	if (!c->auto_authorize) {
		snprintf(err, errlen,
			 "the server requires OAuth authorization and no "
			 "valid grant is held (grant expired or missing)");
		set_status(c, "grant expired: authorize the server again");
		rc = CLAW_ERR_CRYPTO;
		goto out;
	}
	if (c->flows >= RT_OAUTH_MAX_FLOWS) {
		snprintf(err, errlen,
			 "gave up OAuth authorization after %d "
			 "attempts",
			 c->flows);
		rc = CLAW_ERR_CRYPTO;
		goto out;
	}
	c->flows++;
	(void)step_up;
	struct claw_oauth_disc f;
	memset(&f, 0, sizeof(f));
	rc = claw_oauth_discover(&NET(c), server_url, www, &f, err, errlen);
	if (rc == CLAW_OK) {
		if (f.as.code_grant || !f.as.cc_grant || !c->client_secret)
			rc = code_flow(c, &f, err, errlen);
		else
			rc = cc_flow(c, &f, err, errlen);
	}
	claw_oauth_disc_release(&f);
	if (rc)
		log_warn("oauth: authorization failed: %s", err);
out:
	pthread_mutex_unlock(&c->mu);
	return rc;
}
