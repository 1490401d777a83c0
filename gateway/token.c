/*
 * token.c - API access tokens that a channel obtains for itself and
 * reuses until they expire: Microsoft's client-credentials token (Teams),
 * a Google service account's token from a JWT grant (Google Chat), and
 * Feishu's tenant access token. One cache a channel: the token (locked
 * memory, wiped when replaced), its expiry, and the identity of the
 * credentials it was made from (a hash of the token URL, the client id
 * and the secret), so a reload with other credentials never reuses it.
 * A token is used until EXPIRY_MARGIN_S before it expires (or half its
 * life for short ones), fetched again then; a 401 from the API with a
 * token drops it (gw_token_drop) so the retry fetches a fresh one.
 * Fetches are serialised per cache: concurrent workers wait for one
 * fetch instead of each making one. The channels share the rest too:
 * gw_chan_token (a channel's cached token for the current config),
 * gw_token_oauth (an OAuth 2.0 form grant) and gw_token_post (a JSON
 * POST with the token, a 401 dropping it).
 *
 * Also here: the key documents (JWKS, certificates) fetched for the
 * key caches of jwt.c, and the caches' and tokens' home in struct gw.
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "claw/buf.h"
#include "claw/crypto.h"
#include "claw/httpc.h"
#include "claw/log.h"
#include "gw.h"

#define EXPIRY_MARGIN_S 300
#define TOKEN_MAX 8192

struct gw_token {
	pthread_mutex_t mu;
	char *value; /* sodium_malloc'd "Bearer …" or NULL */
	size_t cap;
	char ident[65];      /* whose credentials */
	long long use_until; /* unix seconds */
};

struct gw_token *gw_token_new(void)
{
	struct gw_token *t = calloc(1, sizeof(*t));
	if (t)
		pthread_mutex_init(&t->mu, NULL);
	return t;
}

static void clear(struct gw_token *t)
{
	if (t->value)
		sodium_free(t->value);
	t->value = NULL;
	t->use_until = 0;
}

void gw_token_free(struct gw_token *t)
{
	if (!t)
		return;
	clear(t);
	pthread_mutex_destroy(&t->mu);
	free(t);
}

void gw_token_ident(const char *a, const char *b, const char *secret,
		    char out[65])
{
	crypto_generichash_state st;
	uint8_t h[32];
	crypto_generichash_init(&st, NULL, 0, sizeof(h));
	for (const char *const *p = (const char *const[]){a, b, secret, NULL};
	     *p; p++)
		crypto_generichash_update(&st, (const unsigned char *)*p,
					  strlen(*p) + 1);
	crypto_generichash_final(&st, h, sizeof(h));
	claw_hex_encode(h, sizeof(h), out);
}

enum claw_rc gw_token_get(struct gw_token *t, const char *ident, long long now,
			  gw_token_fetch_fn fetch, void *cls, char *out,
			  size_t outlen, struct gw_send_res *res)
{
	enum claw_rc rc = CLAW_OK;
	pthread_mutex_lock(&t->mu);
	if (!t->value || strcmp(t->ident, ident) != 0 || now >= t->use_until) {
		char *tok = NULL;
		long life = 0;
		clear(t);
		rc = fetch(cls, &tok, &life, res);
		if (!rc &&
		    (!tok || !*tok || strlen(tok) > TOKEN_MAX ||
		     strpbrk(tok, "\r\n") || life <= 0)) {
			res->st = GW_SEND_RETRY;
			snprintf(res->detail, sizeof(res->detail),
				 "the token endpoint's answer has no usable "
				 "token");
			rc = CLAW_ERR_PARSE;
		}
		if (!rc) {
			t->cap = strlen(tok) + 8;
			t->value = sodium_malloc(t->cap);
			if (!t->value) {
				rc = CLAW_ERR_NOMEM;
			} else {
				snprintf(t->value, t->cap, "Bearer %s", tok);
				snprintf(t->ident, sizeof(t->ident), "%s",
					 ident);
				long margin = life > 2 * EXPIRY_MARGIN_S
					? EXPIRY_MARGIN_S
					: life / 2;
				t->use_until = now + life - margin;
			}
		}
		if (tok) {
			sodium_memzero(tok, strlen(tok));
			free(tok);
		}
	}
	if (!rc && strlen(t->value) >= outlen)
		rc = CLAW_ERR_TOO_LARGE;
	if (!rc)
		snprintf(out, outlen, "%s", t->value);
	pthread_mutex_unlock(&t->mu);
	return rc;
}

struct conf_fetch {
	const struct gw_conf *c;
	gw_conf_fetch_fn fetch;
};

static enum claw_rc by_conf(void *cls, char **tok, long *life,
			    struct gw_send_res *res)
{
	const struct conf_fetch *f = cls;
	return f->fetch(f->c, tok, life, res);
}

enum claw_rc gw_chan_token(struct gw *g, enum gw_channel ch,
			   const struct gw_conf *c, const char *a,
			   const char *b, gw_conf_fetch_fn fetch, char *auth,
			   size_t authlen, struct gw_send_res *res)
{
	char ident[65];
	struct conf_fetch f = {c, fetch};
	gw_token_ident(a, b, c->ch[ch].s1.val, ident);
	enum claw_rc rc = gw_token_get(g->tokens[ch], ident, gw_unix_now(),
				       by_conf, &f, auth, authlen, res);
	if (rc && res->st == GW_SEND_OK)
		res->st = GW_SEND_RETRY;
	return rc;
}

void gw_token_drop(struct gw_token *t, const char *value)
{
	pthread_mutex_lock(&t->mu);
	if (t->value && value && strcmp(t->value, value) == 0)
		clear(t);
	pthread_mutex_unlock(&t->mu);
}

void gw_token_post(const struct gw_conf *c, struct gw_token *t, const char *url,
		   const char *auth, json_t *body, const char *name,
		   const char *code_key, struct gw_send_res *res)
{
	json_t *reply = NULL;
	gw_post_json(c, url, auth, NULL, body, res, &reply);
	if (res->http_status == 401) {
		/* the token was refused: fetch a fresh one next time */
		gw_token_drop(t, auth);
		res->st = GW_SEND_RETRY;
	}
	json_t *err = json_object_get(reply, "error");
	const char *m = gw_json_str(err, "message");
	const char *code = gw_json_str(err, code_key);
	if (res->st != GW_SEND_OK && (m || code))
		snprintf(res->detail, sizeof(res->detail),
			 "%s: HTTP %ld %.40s: %.80s", name, res->http_status,
			 code ? code : "", m ? m : "");
	json_decref(reply);
}

enum claw_rc gw_token_oauth(const struct gw_conf *c, const char *url,
			    struct claw_buf *form, bool built, const char *name,
			    char **tok, long *life, struct gw_send_res *res)
{
	json_t *reply = NULL;
	enum claw_rc rc = CLAW_ERR_NOMEM;
	if (!built) {
		res->st = GW_SEND_RETRY;
		goto out;
	}
	struct gw_http_out o = {
		.url = url,
		.content_type = "application/x-www-form-urlencoded",
		.body = form->data,
		.body_len = form->len,
	};
	gw_http_send(c, &o, res, &reply);
	rc = gw_token_answer(reply, "access_token", "expires_in", tok, life,
			     res);
	const char *e = gw_json_str(reply, "error");
	if (rc && e)
		snprintf(res->detail, sizeof(res->detail),
			 "%s token: %.60s (HTTP %ld)", name, e,
			 res->http_status);
out:
	if (form->data)
		sodium_memzero(form->data, form->len);
	claw_buf_release(form);
	json_decref(reply);
	return rc;
}

enum claw_rc gw_token_answer(json_t *reply, const char *token_key,
			     const char *life_key, char **tok, long *life,
			     struct gw_send_res *res)
{
	const char *v = gw_json_str(reply, token_key);
	json_t *l = json_object_get(reply, life_key);
	if (res->st != GW_SEND_OK)
		return CLAW_ERR_IO;
	if (!v || !json_is_integer(l) || json_integer_value(l) <= 0 ||
	    json_integer_value(l) > 86400 * 30) {
		res->st = GW_SEND_RETRY;
		snprintf(res->detail, sizeof(res->detail),
			 "the token endpoint's answer lacks %s or %s",
			 token_key, life_key);
		return CLAW_ERR_PARSE;
	}
	*tok = strdup(v);
	*life = (long)json_integer_value(l);
	return *tok ? CLAW_OK : CLAW_ERR_NOMEM;
}

/* ------------------------------------------------------ key documents */
enum claw_rc gw_fetch_doc(const struct gw_conf *c, const char *url,
			  struct claw_buf *doc, char *why, size_t whylen)
{
	struct claw_httpc_resp resp;
	const char *headers[] = {"Accept: application/json", NULL};
	struct claw_httpc_req req = {
		.url = url,
		.headers = headers,
		.timeout_ms = 10000,
		.max_response = 1 << 20,
		.ca_file = c->ca_file,
	};
	if (!url ||
	    (strncmp(url, "https://", 8) != 0 &&
	     strncmp(url, "http://", 7) != 0)) {
		snprintf(why, whylen, "not an http(s) URL");
		return CLAW_ERR_INVALID;
	}
	enum claw_rc rc = claw_httpc_do(&req, &resp);
	if (rc)
		snprintf(why, whylen, "%.150s", resp.error);
	else if (resp.status != 200) {
		snprintf(why, whylen, "HTTP %ld", resp.status);
		rc = CLAW_ERR_IO;
	} else {
		rc = claw_buf_append(doc, resp.body.data ? resp.body.data : "",
				     resp.body.len);
	}
	claw_httpc_resp_release(&resp);
	return rc;
}

/* ----------------------------------------------------- in struct gw */
enum claw_rc gw_auth_init(struct gw *g)
{
	/* keys live a day; an unknown kid fetches again at most once a
	 * minute */
	for (int i = 0; i < GW_CH__COUNT; i++) {
		g->keys[i] = gw_keycache_new(86400, 60);
		g->tokens[i] = gw_token_new();
		if (!g->keys[i] || !g->tokens[i])
			return CLAW_ERR_NOMEM;
	}
	return CLAW_OK;
}

void gw_auth_release(struct gw *g)
{
	for (int i = 0; i < GW_CH__COUNT; i++) {
		gw_keycache_free(g->keys[i]);
		gw_token_free(g->tokens[i]);
		g->keys[i] = NULL;
		g->tokens[i] = NULL;
	}
}
