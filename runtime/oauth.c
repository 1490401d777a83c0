/*
 * oauth.c - the pure OAuth 2.1 client pieces of the MCP authorization
 * spec (see oauth.h): URL checks, PKCE S256, the 401 challenge, the
 * well-known discovery URLs, and the checked parsing of protected
 * resource metadata, authorization server metadata and token responses.
 *
 * Every parser works on a bounded copy of what the network sent, refuses
 * the whole document on the first problem (so nothing a bad server sent is
 * kept), and never puts a token into an error message.
 */
#include "oauth.h"

#include <ctype.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "claw/banned.h"

/* Split url into scheme length and authority [a, e). False when it is
 * not http(s)://authority[/...], or carries userinfo, a fragment, or
 * bytes outside printable ASCII. *https: its scheme. */
static bool url_parts(const char *url, bool *https, const char **a,
		      const char **e)
{
	if (!url || strlen(url) >= RT_OAUTH_MAX_URL)
		return false;
	for (const char *p = url; *p; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f ||
		    *p == '#')
			return false;
	if (strncmp(url, "https://", 8) == 0) {
		*https = true;
		*a = url + 8;
	} else if (strncmp(url, "http://", 7) == 0) {
		*https = false;
		*a = url + 7;
	} else {
		return false;
	}
	*e = *a + strcspn(*a, "/?");
	if (*e == *a)
		return false;
	for (const char *p = *a; p < *e; p++)
		if (*p == '@' || *p == '\\')
			return false;
	return true;
}

static bool host_is_loopback(const char *a, const char *e)
{
	size_t n = (size_t)(e - a);
	const char *colon = NULL;
	if (*a == '[') {
		const char *rb = memchr(a, ']', n);
		if (!rb)
			return false;
		return (size_t)(rb - a) == 4 && memcmp(a, "[::1", 4) == 0;
	}
	colon = memchr(a, ':', n);
	size_t hl = colon ? (size_t)(colon - a) : n;
	return (hl == 9 && memcmp(a, "127.0.0.1", 9) == 0) ||
		(hl == 9 && strncasecmp(a, "localhost", 9) == 0);
}

bool rt_oauth_url_allowed(const char *url, bool allow_http_loopback)
{
	bool https;
	const char *a, *e;
	if (!url_parts(url, &https, &a, &e))
		return false;
	return https || (allow_http_loopback && host_is_loopback(a, e));
}

void rt_oauth_pkce_challenge(const char *verifier,
			     char out[RT_OAUTH_PKCE_LEN + 1])
{
	unsigned char h[crypto_hash_sha256_BYTES];
	crypto_hash_sha256(h, (const unsigned char *)verifier,
			   strlen(verifier));
	sodium_bin2base64(out, RT_OAUTH_PKCE_LEN + 1, h, sizeof(h),
			  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

void rt_oauth_pkce_new(char verifier[RT_OAUTH_PKCE_LEN + 1],
		       char challenge[RT_OAUTH_PKCE_LEN + 1])
{
	unsigned char r[32];
	randombytes_buf(r, sizeof(r));
	sodium_bin2base64(verifier, RT_OAUTH_PKCE_LEN + 1, r, sizeof(r),
			  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	sodium_memzero(r, sizeof(r));
	rt_oauth_pkce_challenge(verifier, challenge);
}

bool rt_oauth_challenge_param(const char *hdr, const char *name, char *out,
			      size_t outlen)
{
	const char *p = hdr;
	size_t nl = strlen(name);
	if (!hdr || outlen == 0)
		return false;
	while (*p == ' ' || *p == '\t')
		p++;
	if (strncasecmp(p, "Bearer", 6) != 0 ||
	    (p[6] != ' ' && p[6] != '\t' && p[6] != '\0'))
		return false;
	p += 6;
	for (;;) {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		if (!*p)
			return false;
		const char *k = p;
		while (*p && *p != '=' && *p != ',' && *p != ' ')
			p++;
		size_t kl = (size_t)(p - k);
		while (*p == ' ')
			p++;
		if (*p != '=') /* a bare token: skip it */
			continue;
		p++;
		while (*p == ' ')
			p++;
		size_t o = 0;
		bool match = kl == nl && strncasecmp(k, name, nl) == 0;
		bool fits = true;
		if (*p == '"') {
			p++;
			while (*p && *p != '"') {
				if (*p == '\\' && p[1])
					p++;
				if (o + 1 < outlen)
					out[o++] = *p;
				else
					fits = false;
				p++;
			}
			if (*p != '"')
				return false; /* unterminated */
			p++;
		} else {
			while (*p && *p != ',' && *p != ' ') {
				if (o + 1 < outlen)
					out[o++] = *p;
				else
					fits = false;
				p++;
			}
		}
		if (match) {
			out[o] = '\0';
			return fits;
		}
	}
}

enum claw_rc rt_oauth_prm_urls(const char *server_url, char url[2][2048],
			       char exp[2][2048], int *n)
{
	bool https;
	const char *a, *e;
	*n = 0;
	if (!url_parts(server_url, &https, &a, &e))
		return CLAW_ERR_INVALID;
	size_t origin = (size_t)(e - server_url);
	size_t pl = strcspn(e, "?");
	if (pl == 1 && e[0] == '/')
		pl = 0; /* "https://h/" has no path */
	if (origin + pl + 40 >= 2048)
		return CLAW_ERR_INVALID;
	if (pl) {
		snprintf(url[*n], 2048,
			 "%.*s/.well-known/oauth-protected-"
			 "resource%.*s",
			 (int)origin, server_url, (int)pl, e);
		snprintf(exp[*n], 2048, "%.*s", (int)(origin + pl), server_url);
		(*n)++;
	}
	snprintf(url[*n], 2048, "%.*s/.well-known/oauth-protected-resource",
		 (int)origin, server_url);
	snprintf(exp[*n], 2048, "%.*s", (int)origin, server_url);
	(*n)++;
	return CLAW_OK;
}

enum claw_rc rt_oauth_as_urls(const char *issuer, char url[3][2048], int *n)
{
	bool https;
	const char *a, *e;
	*n = 0;
	if (!url_parts(issuer, &https, &a, &e) || e[strcspn(e, "?")])
		return CLAW_ERR_INVALID;
	size_t origin = (size_t)(e - issuer);
	size_t pl = strlen(e);
	while (pl && e[pl - 1] == '/')
		pl--;
	if (origin + pl + 48 >= 2048)
		return CLAW_ERR_INVALID;
	const char *o = issuer;
	int ol = (int)origin, l = (int)pl;
	if (pl) {
		snprintf(url[0], 2048,
			 "%.*s/.well-known/oauth-authorization-server%.*s", ol,
			 o, l, e);
		snprintf(url[1], 2048,
			 "%.*s/.well-known/openid-configuration"
			 "%.*s",
			 ol, o, l, e);
		snprintf(url[2], 2048,
			 "%.*s%.*s/.well-known/openid-"
			 "configuration",
			 ol, o, l, e);
		*n = 3;
	} else {
		snprintf(url[0], 2048,
			 "%.*s/.well-known/oauth-authorization-server", ol, o);
		snprintf(url[1], 2048, "%.*s/.well-known/openid-configuration",
			 ol, o);
		*n = 2;
	}
	return CLAW_OK;
}

/* Say "out of memory" in err; CLAW_ERR_NOMEM. */
static enum claw_rc no_memory(char *err, size_t errlen)
{
	snprintf(err, errlen, "out of memory");
	return CLAW_ERR_NOMEM;
}

/* Parse body as a JSON object within max bytes. */
static json_t *parse_doc(const char *body, size_t len, size_t max,
			 enum claw_rc *rc, char *err, size_t errlen,
			 const char *what)
{
	if (len > max) {
		snprintf(err, errlen, "the %s is over %zu bytes", what, max);
		*rc = CLAW_ERR_TOO_LARGE;
		return NULL;
	}
	json_t *j = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_object(j)) {
		json_decref(j);
		snprintf(err, errlen, "the %s is not a JSON object", what);
		*rc = CLAW_ERR_PARSE;
		return NULL;
	}
	return j;
}

/* A string member (NULL when absent or not a string of printable ASCII
 * within max bytes; *bad set when present but unacceptable). */
static const char *str_of(json_t *j, const char *key, size_t max, bool *bad)
{
	json_t *v = json_object_get(j, key);
	if (!v)
		return NULL;
	const char *s = json_string_value(v);
	size_t n = s ? json_string_length(v) : 0;
	bool ok = s && n > 0 && n <= max && strlen(s) == n;
	for (size_t i = 0; ok && i < n; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
			ok = false;
	if (!ok) {
		*bad = true;
		return NULL;
	}
	return s;
}

/* a equals b, a single trailing "/" on either aside. */
static bool same_id(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	if (la && a[la - 1] == '/')
		la--;
	if (lb && b[lb - 1] == '/')
		lb--;
	return la == lb && memcmp(a, b, la) == 0;
}

/* ---- The three documents, read by one driver: parse_with checks the
 * size and JSON, runs the document's fill (which says why it refuses in a
 * static string), prefixes the reason with the document's name and
 * releases a half-filled result. */

struct doc_kind {
	const char *what; /* "token response": err's prefix */
	size_t max;       /* bytes */
	size_t out_size;
	enum claw_rc (*fill)(json_t *j, const struct rt_oauth_want *w,
			     void *out, const char **why);
	void (*release)(void *out);
};

static enum claw_rc parse_with(const struct doc_kind *k, const char *body,
			       size_t len, const struct rt_oauth_want *w,
			       void *out, char *err, size_t errlen)
{
	enum claw_rc rc = CLAW_ERR_INVALID;
	const char *why = "refused";
	memset(out, 0, k->out_size);
	json_t *j = parse_doc(body, len, k->max, &rc, err, errlen, k->what);
	if (!j)
		return rc;
	rc = k->fill(j, w, out, &why);
	if (rc)
		k->release(out);
	if (rc == CLAW_ERR_NOMEM)
		no_memory(err, errlen);
	else if (rc)
		snprintf(err, errlen, "%s: %s", k->what, why);
	json_decref(j);
	return rc;
}

/* Copies of the n strings src (NULL stays NULL) into *dst[i];
 * CLAW_ERR_NOMEM when one fails (the caller releases). */
static enum claw_rc dup_all(char **const dst[], const char *const src[],
			    size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (src[i] && !(*dst[i] = strdup(src[i])))
			return CLAW_ERR_NOMEM;
	return CLAW_OK;
}

/* A name and its bit, for names_to_bits. */
struct name_bit {
	const char *name;
	unsigned bit;
};

/* The bits of the n names of tab that the JSON array a holds (0 when a
 * is not an array). */
static unsigned names_to_bits(json_t *a, const struct name_bit *tab, size_t n)
{
	unsigned bits = 0;
	for (size_t i = 0; i < json_array_size(a); i++) {
		const char *s = json_string_value(json_array_get(a, i));
		for (size_t k = 0; s && k < n; k++)
			if (strcmp(s, tab[k].name) == 0)
				bits |= tab[k].bit;
	}
	return bits;
}

/* scopes_supported as one space-separated string in out (outlen bytes). */
static bool scope_list(json_t *sc, char *out, size_t outlen)
{
	size_t i, o = 0;
	json_t *v;
	if (!json_is_array(sc))
		return false;
	json_array_foreach(sc, i, v) {
		const char *s = json_string_value(v);
		size_t n = s ? strlen(s) : 0;
		bool ok = s && n && strcspn(s, " \"\\") == n &&
			o + n + 2 <= outlen;
		for (size_t k = 0; ok && k < n; k++)
			if ((unsigned char)s[k] < 0x21 ||
			    (unsigned char)s[k] > 0x7e)
				ok = false;
		if (!ok)
			return false;
		o += (size_t)snprintf(out + o, outlen - o, "%s%s", o ? " " : "",
				      s);
	}
	return true;
}

void rt_oauth_prm_release(struct rt_oauth_prm *p)
{
	free(p->resource);
	free(p->auth_server);
	free(p->scopes);
	memset(p, 0, sizeof(*p));
}

static enum claw_rc prm_fill(json_t *j, const struct rt_oauth_want *w, void *o,
			     const char **why)
{
	struct rt_oauth_prm *out = o;
	bool bad = false;
	const char *res = str_of(j, "resource", RT_OAUTH_MAX_URL, &bad);
	json_t *as = json_object_get(j, "authorization_servers");
	json_t *sc = json_object_get(j, "scopes_supported");
	const char *as0 = NULL;
	char scopes[1024] = "";
	if (!res || bad) {
		*why = "no valid \"resource\"";
		return CLAW_ERR_INVALID;
	}
	if (!w->id || !same_id(res, w->id)) {
		*why = "\"resource\" does not match the server URL; refused";
		return CLAW_ERR_INVALID;
	}
	if (json_is_array(as) && json_array_size(as) > 0)
		as0 = json_string_value(json_array_get(as, 0));
	if (!as0 || !rt_oauth_url_allowed(as0, w->allow_http_loopback)) {
		*why = "no acceptable authorization server (https required)";
		return CLAW_ERR_INVALID;
	}
	if (sc && !json_is_array(sc)) {
		*why = "scopes_supported is not a list";
		return CLAW_ERR_INVALID;
	}
	if (sc && !scope_list(sc, scopes, sizeof(scopes))) {
		*why = "bad scopes_supported";
		return CLAW_ERR_INVALID;
	}
	return dup_all(
		(char **const[]){&out->resource, &out->auth_server,
				 &out->scopes},
		(const char *const[]){res, as0, scopes[0] ? scopes : NULL}, 3);
}

static void prm_release(void *p)
{
	rt_oauth_prm_release(p);
}

enum claw_rc rt_oauth_parse_prm(const char *body, size_t len,
				const struct rt_oauth_want *want,
				struct rt_oauth_prm *out, char *err,
				size_t errlen)
{
	static const struct doc_kind kind = {
		"protected resource metadata", RT_OAUTH_MAX_DOC,
		sizeof(struct rt_oauth_prm), prm_fill, prm_release};
	return parse_with(&kind, body, len, want, out, err, errlen);
}

void rt_oauth_asm_release(struct rt_oauth_asm *a)
{
	free(a->issuer);
	free(a->authorization_endpoint);
	free(a->token_endpoint);
	free(a->registration_endpoint);
	memset(a, 0, sizeof(*a));
}

/* RFC 8414's lists this client reads, as bits. */
static const struct name_bit auth_names[] = {
	{"none", RT_OAUTH_AUTH_NONE},
	{"client_secret_basic", RT_OAUTH_AUTH_BASIC},
	{"client_secret_post", RT_OAUTH_AUTH_POST}};
enum {
	GRANT_CODE = 1,
	GRANT_CC = 2
};
static const struct name_bit grant_names[] = {
	{"authorization_code", GRANT_CODE}, {"client_credentials", GRANT_CC}};
static const struct name_bit pkce_names[] = {{"S256", 1}};

static enum claw_rc asm_fill(json_t *j, const struct rt_oauth_want *w, void *o,
			     const char **why)
{
	struct rt_oauth_asm *out = o;
	bool bad = false, lo = w->allow_http_loopback;
	const char *iss = str_of(j, "issuer", RT_OAUTH_MAX_URL, &bad);
	const char *az =
		str_of(j, "authorization_endpoint", RT_OAUTH_MAX_URL, &bad);
	const char *tk = str_of(j, "token_endpoint", RT_OAUTH_MAX_URL, &bad);
	const char *rg =
		str_of(j, "registration_endpoint", RT_OAUTH_MAX_URL, &bad);
	json_t *ccm = json_object_get(j, "code_challenge_methods_supported");
	json_t *gt = json_object_get(j, "grant_types_supported");
	if (bad || !iss || !az || !tk) {
		*why = "issuer, authorization_endpoint or token_endpoint "
		       "missing or invalid";
		return CLAW_ERR_INVALID;
	}
	if (!w->id || !same_id(iss, w->id)) {
		*why = "\"issuer\" does not match the authorization server; "
		       "refused";
		return CLAW_ERR_INVALID;
	}
	if (!rt_oauth_url_allowed(az, lo) || !rt_oauth_url_allowed(tk, lo) ||
	    (rg && !rt_oauth_url_allowed(rg, lo))) {
		*why = "an endpoint is not https; refused";
		return CLAW_ERR_INVALID;
	}
	if (ccm && !names_to_bits(ccm, pkce_names, 1)) {
		*why = "PKCE S256 not offered";
		return CLAW_ERR_INVALID;
	}
	out->cimd = json_is_true(
		json_object_get(j, "client_id_metadata_document_supported"));
	/* RFC 8414's defaults: authorization_code, client_secret_basic */
	unsigned grants = names_to_bits(gt, grant_names, 2);
	out->code_grant = !json_is_array(gt) || (grants & GRANT_CODE);
	out->cc_grant = (grants & GRANT_CC) != 0;
	json_t *am =
		json_object_get(j, "token_endpoint_auth_methods_supported");
	out->auth_methods = json_is_array(am) ? names_to_bits(am, auth_names, 3)
					      : RT_OAUTH_AUTH_BASIC;
	return dup_all((char **const[]){&out->issuer,
					&out->authorization_endpoint,
					&out->token_endpoint,
					&out->registration_endpoint},
		       (const char *const[]){iss, az, tk, rg}, 4);
}

static void asm_release(void *a)
{
	rt_oauth_asm_release(a);
}

enum claw_rc rt_oauth_parse_asm(const char *body, size_t len,
				const struct rt_oauth_want *want,
				struct rt_oauth_asm *out, char *err,
				size_t errlen)
{
	static const struct doc_kind kind = {
		"authorization server metadata", RT_OAUTH_MAX_DOC,
		sizeof(struct rt_oauth_asm), asm_fill, asm_release};
	return parse_with(&kind, body, len, want, out, err, errlen);
}

void rt_oauth_token_release(struct rt_oauth_token *t)
{
	if (t->access_token)
		sodium_memzero(t->access_token, strlen(t->access_token));
	if (t->refresh_token)
		sodium_memzero(t->refresh_token, strlen(t->refresh_token));
	free(t->access_token);
	free(t->refresh_token);
	free(t->scope);
	memset(t, 0, sizeof(*t));
}

static enum claw_rc token_fill(json_t *j, const struct rt_oauth_want *w,
			       void *o, const char **why)
{
	struct rt_oauth_token *out = o;
	bool bad = false;
	(void)w;
	const char *at = str_of(j, "access_token", RT_OAUTH_MAX_TOKEN, &bad);
	if (!at || bad) {
		*why = "no valid access_token";
		return CLAW_ERR_INVALID;
	}
	const char *tt = str_of(j, "token_type", 32, &bad);
	if (!tt || bad || strcasecmp(tt, "Bearer") != 0) {
		*why = "token_type is not Bearer";
		return CLAW_ERR_INVALID;
	}
	const char *rt = str_of(j, "refresh_token", RT_OAUTH_MAX_TOKEN, &bad);
	const char *sc = str_of(j, "scope", 1024, &bad);
	if (bad) {
		*why = "invalid refresh_token or scope";
		return CLAW_ERR_INVALID;
	}
	json_t *ei = json_object_get(j, "expires_in");
	if (ei &&
	    (!json_is_integer(ei) || json_integer_value(ei) <= 0 ||
	     json_integer_value(ei) > RT_OAUTH_MAX_EXPIRES_IN)) {
		*why = "expires_in is not a positive number of seconds";
		return CLAW_ERR_INVALID;
	}
	out->expires_in = ei ? (long)json_integer_value(ei) : 0;
	return dup_all((char **const[]){&out->access_token, &out->refresh_token,
					&out->scope},
		       (const char *const[]){at, rt, sc}, 3);
}

static void token_release(void *t)
{
	rt_oauth_token_release(t);
}

enum claw_rc rt_oauth_parse_token(const char *body, size_t len,
				  struct rt_oauth_token *out, char *err,
				  size_t errlen)
{
	static const struct doc_kind kind = {
		"token response", RT_OAUTH_MAX_TOKEN_RESP,
		sizeof(struct rt_oauth_token), token_fill, token_release};
	return parse_with(&kind, body, len, NULL, out, err, errlen);
}

bool rt_oauth_form_escape(char *b, size_t max, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = strlen(b);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (isalnum(c) || c == '-' || c == '.' || c == '_' ||
		    c == '~') {
			if (o + 2 > max)
				return false;
			b[o++] = (char)c;
		} else {
			if (o + 4 > max)
				return false;
			b[o++] = '%';
			b[o++] = hex[c >> 4];
			b[o++] = hex[c & 15];
		}
	}
	b[o] = '\0';
	return true;
}

/* ---- The client: discovery, registration, code flow, refresh ---- */

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "claw/crypto.h"
#include "claw/httpc.h"
#include "claw/log.h"

#define HTTP_TIMEOUT_MS 15000
#define REFRESH_AHEAD_S 60

struct rt_oauth_client {
	atomic_int refs;
	pthread_mutex_t mu;
	bool allow_http_loopback, auto_authorize;
	char *proxy, *ca_file;
	/* the grant (secrets in sodium memory) */
	char *access_token, *refresh_token, *client_id, *client_secret;
	char *token_endpoint, *resource, *client_metadata_url;
	unsigned auth_method; /* RT_OAUTH_AUTH_* used at the token endpoint */
	long long expires_at; /* unix s, 0: unknown */
	int flows;            /* authorization flows run */
	pthread_mutex_t status_mu; /* status only: readable during a flow */
	char status[200];
};

static char *sdup(const char *s)
{
	if (!s)
		return NULL;
	size_t n = strlen(s) + 1;
	char *d = sodium_malloc(n);
	if (d)
		memcpy(d, s, n);
	return d;
}

static void sfree(char **p)
{
	if (*p)
		sodium_free(*p);
	*p = NULL;
}

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
	c->client_id = sdup(s->client_id);
	c->client_secret = sdup(s->client_secret);
	if (s->client_metadata_url &&
	    !rt_oauth_url_allowed(s->client_metadata_url, false)) {
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
			at = str_of(g, "access_token", RT_OAUTH_MAX_TOKEN,
				    &bad);
			rt = str_of(g, "refresh_token", RT_OAUTH_MAX_TOKEN,
				    &bad);
			te = str_of(g, "token_endpoint", RT_OAUTH_MAX_URL,
				    &bad);
			ci = str_of(g, "client_id", 512, &bad);
			cs = str_of(g, "client_secret", 512, &bad);
			rs = str_of(g, "resource", RT_OAUTH_MAX_URL, &bad);
			am = str_of(g, "token_endpoint_auth_method", 64, &bad);
			json_t *ea = json_object_get(g, "expires_at");
			if (ea && !json_is_integer(ea))
				bad = true;
			c->expires_at = ea ? json_integer_value(ea) : 0;
		}
		if (!bad &&
		    (!at || (rt && (!te || !ci)) ||
		     (te && !rt_oauth_url_allowed(te, s->allow_http_loopback))))
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
		c->access_token = sdup(at);
		c->refresh_token = sdup(rt);
		c->token_endpoint = te ? strdup(te) : NULL;
		c->resource = rs ? strdup(rs) : NULL;
		if (ci) {
			sfree(&c->client_id);
			sfree(&c->client_secret);
			c->client_id = sdup(ci);
			c->client_secret = sdup(cs);
		}
		c->auth_method = !am              ? 0
			: strcmp(am, "none") == 0 ? RT_OAUTH_AUTH_NONE
			: strcmp(am, "client_secret_post") == 0
			? RT_OAUTH_AUTH_POST
			: RT_OAUTH_AUTH_BASIC;
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
	sfree(&c->access_token);
	sfree(&c->refresh_token);
	c->expires_at = 0;
}

void rt_oauth_client_unref(struct rt_oauth_client *c)
{
	if (!c || atomic_fetch_sub(&c->refs, 1) != 1)
		return;
	forget_grant(c);
	sfree(&c->client_id);
	sfree(&c->client_secret);
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

/* One request to an OAuth endpoint (url already checked). */
static enum claw_rc http(struct rt_oauth_client *c, const char *method,
			 const char *url, const char *const *headers,
			 const char *body, size_t max,
			 struct claw_httpc_resp *resp, char *err, size_t errlen)
{
	struct claw_httpc_req req = {
		.method = method,
		.url = url,
		.headers = headers,
		.body = body,
		.body_len = body ? strlen(body) : 0,
		.timeout_ms = HTTP_TIMEOUT_MS,
		.max_response = max,
		.proxy = c->proxy,
		.ca_file = c->ca_file,
	};
	enum claw_rc rc = claw_httpc_do(&req, resp);
	if (rc == CLAW_ERR_TOO_LARGE) {
		snprintf(err, errlen,
			 "an OAuth answer was over %zu bytes; "
			 "refused",
			 max);
		return CLAW_ERR_INVALID;
	}
	if (rc != CLAW_OK) {
		snprintf(err, errlen, "OAuth request failed: %s", resp->error);
		return rc;
	}
	return CLAW_OK;
}

/* GET a metadata document: CLAW_OK with body when 200, CLAW_ERR_NOT_FOUND
 * for another status. */
static enum claw_rc get_doc(struct rt_oauth_client *c, const char *url,
			    struct claw_httpc_resp *resp, char *err,
			    size_t errlen)
{
	static const char *const h[] = {"Accept: application/json",
					"MCP-Protocol-Version: 2025-06-18",
					NULL};
	if (!rt_oauth_url_allowed(url, c->allow_http_loopback)) {
		snprintf(err, errlen,
			 "an OAuth metadata URL is not https; "
			 "refused");
		return CLAW_ERR_INVALID;
	}
	enum claw_rc rc = http(c, "GET", url, h, NULL, RT_OAUTH_MAX_DOC + 1,
			       resp, err, errlen);
	if (rc == CLAW_OK && resp->status != 200)
		rc = CLAW_ERR_NOT_FOUND;
	return rc;
}

static const char *body_of(struct claw_httpc_resp *r, size_t *len)
{
	*len = r->body.len;
	return r->body.data ? r->body.data : "";
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

/* Append "&name=value" (escaped) to form. */
static bool form_add(char *form, size_t max, const char *name,
		     const char *value)
{
	size_t o = strlen(form);
	int n = snprintf(form + o, max - o, "%s%s=", o ? "&" : "", name);
	if (n < 0 || (size_t)n >= max - o)
		return false;
	return rt_oauth_form_escape(form, max, value);
}

/* The token endpoint: POST form (client authentication added as the
 * grant's method says), parse and keep the answer. Called with mu held. */
static enum claw_rc token_request(struct rt_oauth_client *c, char *form,
				  size_t max, char *err, size_t errlen)
{
	char basic[1400] = "";
	const char *h[4] = {"Content-Type: application/x-www-form-urlencoded",
			    "Accept: application/json", NULL, NULL};
	if (c->client_id &&
	    (c->auth_method != RT_OAUTH_AUTH_BASIC || !c->client_secret)) {
		if (!form_add(form, max, "client_id", c->client_id))
			goto toolong;
		if (c->auth_method == RT_OAUTH_AUTH_POST && c->client_secret &&
		    !form_add(form, max, "client_secret", c->client_secret))
			goto toolong;
	} else if (c->client_id) {
		char pair[1100] = "", b64[1400];
		if (!rt_oauth_form_escape(pair, 520, c->client_id) ||
		    strlen(pair) + 2 > sizeof(pair))
			goto toolong;
		size_t o = strlen(pair);
		pair[o++] = ':';
		pair[o] = '\0';
		if (!rt_oauth_form_escape(pair, sizeof(pair), c->client_secret))
			goto toolong;
		sodium_bin2base64(b64, sizeof(b64), (unsigned char *)pair,
				  strlen(pair), sodium_base64_VARIANT_ORIGINAL);
		snprintf(basic, sizeof(basic), "Authorization: Basic %s", b64);
		sodium_memzero(pair, sizeof(pair));
		sodium_memzero(b64, sizeof(b64));
		h[2] = basic;
	}
	struct claw_httpc_resp resp;
	enum claw_rc rc = http(c, "POST", c->token_endpoint, h, form,
			       RT_OAUTH_MAX_TOKEN_RESP + 1, &resp, err, errlen);
	sodium_memzero(basic, sizeof(basic));
	sodium_memzero(form, strlen(form));
	if (rc == CLAW_OK && resp.status != 200) {
		snprintf(err, errlen, "the token endpoint answered HTTP %ld",
			 resp.status);
		rc = CLAW_ERR_PROTO;
	}
	if (rc == CLAW_OK) {
		size_t len;
		const char *b = body_of(&resp, &len);
		struct rt_oauth_token t;
		rc = rt_oauth_parse_token(b, len, &t, err, errlen);
		if (rc == CLAW_OK) {
			char *at = sdup(t.access_token);
			char *rt =
				t.refresh_token ? sdup(t.refresh_token) : NULL;
			if (!at || (t.refresh_token && !rt)) {
				sfree(&at);
				sfree(&rt);
				rc = no_memory(err, errlen);
			} else {
				sfree(&c->access_token);
				c->access_token = at;
				if (rt) { /* else the old one stays */
					sfree(&c->refresh_token);
					c->refresh_token = rt;
				}
				c->expires_at = t.expires_in
					? (long long)time(NULL) + t.expires_in
					: 0;
				set_status(c, "");
			}
			rt_oauth_token_release(&t);
		}
	}
	if (resp.body.data)
		sodium_memzero(resp.body.data, resp.body.len);
	claw_httpc_resp_release(&resp);
	return rc;
toolong:
	sodium_memzero(form, strlen(form));
	snprintf(err, errlen, "the token request is too long");
	return CLAW_ERR_INVALID;
}

/* Refresh with the refresh token. Called with mu held. */
static enum claw_rc refresh(struct rt_oauth_client *c, char *err, size_t errlen)
{
	char form[12288] = "";
	if (!c->refresh_token || !c->token_endpoint) {
		snprintf(err, errlen, "no refresh token");
		return CLAW_ERR_CRYPTO;
	}
	if (!form_add(form, sizeof(form), "grant_type", "refresh_token") ||
	    !form_add(form, sizeof(form), "refresh_token", c->refresh_token) ||
	    (c->resource &&
	     !form_add(form, sizeof(form), "resource", c->resource))) {
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
		sfree(&c->refresh_token);
		sfree(&c->access_token);
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

/* Discovery and the authorization code flow; called with mu held. */
struct flow {
	char resource[RT_OAUTH_MAX_URL];
	char scope[1024];
	struct rt_oauth_prm prm;
	struct rt_oauth_asm as;
	bool have_prm;
};

static enum claw_rc discover(struct rt_oauth_client *c, const char *server,
			     const char *www, struct flow *f, char *err,
			     size_t errlen)
{
	char rm[RT_OAUTH_MAX_URL], pu[2][2048], pe[2][2048];
	int n = 0;
	enum claw_rc rc;
	struct claw_httpc_resp resp;
	size_t len;
	if (rt_oauth_prm_urls(server, pu, pe, &n)) {
		snprintf(err, errlen, "the server URL is not an http(s) URL");
		return CLAW_ERR_INVALID;
	}
	if (www &&
	    rt_oauth_challenge_param(www, "resource_metadata", rm,
				     sizeof(rm))) {
		/* RFC 9728 5.1: the document must name the URL that was
		 * asked (the server URL, without its query) */
		snprintf(pu[0], 2048, "%s", rm);
		snprintf(pe[0], 2048, "%.*s", (int)strcspn(server, "?"),
			 server);
		n = 1;
	}
	for (int i = 0; i < n && !f->have_prm; i++) {
		rc = get_doc(c, pu[i], &resp, err, errlen);
		if (rc == CLAW_OK) {
			const char *b = body_of(&resp, &len);
			rc = rt_oauth_parse_prm(
				b, len,
				&(struct rt_oauth_want){pe[i],
							c->allow_http_loopback},
				&f->prm, err, errlen);
			f->have_prm = rc == CLAW_OK;
		}
		claw_httpc_resp_release(&resp);
		if (rc != CLAW_OK && rc != CLAW_ERR_NOT_FOUND)
			return rc; /* refused: nothing kept */
	}
	char issuer[RT_OAUTH_MAX_URL];
	if (f->have_prm) {
		/* The analyzer takes a write into f->resource for one into
		 * all of *f and loses f->prm's strings, which the caller
		 * releases (rt_oauth_prm_release in its cleanup). */
		/* NOLINTBEGIN(clang-analyzer-unix.Malloc) */
		snprintf(f->resource, sizeof(f->resource), "%s",
			 f->prm.resource);
		snprintf(issuer, sizeof(issuer), "%s", f->prm.auth_server);
		/* NOLINTEND(clang-analyzer-unix.Malloc) */
	} else {
		/* 2025-03-26 servers: the MCP server's origin is the
		 * authorization server */
		snprintf(f->resource, sizeof(f->resource), "%.*s",
			 (int)strcspn(server, "?"), server);
		const char *a = strstr(server, "://") + 3;
		snprintf(issuer, sizeof(issuer), "%.*s",
			 (int)(a - server + (long)strcspn(a, "/?")), server);
		if (!rt_oauth_url_allowed(issuer, c->allow_http_loopback)) {
			snprintf(err, errlen,
				 "the authorization server is "
				 "not https; refused");
			return CLAW_ERR_INVALID;
		}
	}
	char au[3][2048];
	bool found = false;
	if (rt_oauth_as_urls(issuer, au, &n)) {
		snprintf(err, errlen,
			 "the authorization server's URL is "
			 "invalid");
		return CLAW_ERR_INVALID;
	}
	for (int i = 0; i < n && !found; i++) {
		rc = get_doc(c, au[i], &resp, err, errlen);
		if (rc == CLAW_OK) {
			const char *b = body_of(&resp, &len);
			rc = rt_oauth_parse_asm(
				b, len,
				&(struct rt_oauth_want){issuer,
							c->allow_http_loopback},
				&f->as, err, errlen);
			found = rc == CLAW_OK;
		}
		claw_httpc_resp_release(&resp);
		if (rc != CLAW_OK && rc != CLAW_ERR_NOT_FOUND)
			return rc;
	}
	if (!found && f->have_prm) {
		snprintf(err, errlen,
			 "no authorization server metadata "
			 "found");
		return CLAW_ERR_NOT_FOUND;
	}
	if (!found) { /* 2025-03-26 default endpoints */
		char u[RT_OAUTH_MAX_URL + 16];
		f->as.issuer = strdup(issuer);
		snprintf(u, sizeof(u), "%s/authorize", issuer);
		f->as.authorization_endpoint = strdup(u);
		snprintf(u, sizeof(u), "%s/token", issuer);
		f->as.token_endpoint = strdup(u);
		snprintf(u, sizeof(u), "%s/register", issuer);
		f->as.registration_endpoint = strdup(u);
		f->as.auth_methods = RT_OAUTH_AUTH_BASIC | RT_OAUTH_AUTH_POST |
			RT_OAUTH_AUTH_NONE;
		f->as.code_grant = true;
		if (!f->as.issuer || !f->as.authorization_endpoint ||
		    !f->as.token_endpoint || !f->as.registration_endpoint) {
			return no_memory(err, errlen);
		}
	}
	/* scope: the challenge's, else what the resource supports */
	char sc[1024];
	if (www && rt_oauth_challenge_param(www, "scope", sc, sizeof(sc)))
		snprintf(f->scope, sizeof(f->scope), "%s", sc);
	else if (f->have_prm && f->prm.scopes)
		snprintf(f->scope, sizeof(f->scope), "%s", f->prm.scopes);
	return CLAW_OK;
}

/* Dynamic client registration (RFC 7591) when there is no client yet. */
static enum claw_rc register_client(struct rt_oauth_client *c, struct flow *f,
				    const char *redirect, char *err,
				    size_t errlen)
{
	if (c->client_id)
		return CLAW_OK; /* pre-registered */
	if (c->client_metadata_url && f->as.cimd) {
		/* SEP-991: the metadata document's URL is the client id (a
		 * public client) */
		c->client_id = sdup(c->client_metadata_url);
		c->auth_method = RT_OAUTH_AUTH_NONE;
		if (!c->client_id) {
			return no_memory(err, errlen);
		}
		return CLAW_OK;
	}
	if (!f->as.registration_endpoint) {
		snprintf(err, errlen,
			 "no client id configured and the "
			 "authorization server offers no "
			 "registration");
		return CLAW_ERR_INVALID;
	}
	unsigned m = f->as.auth_methods;
	const char *want = (m & RT_OAUTH_AUTH_NONE) ? "none"
		: (m & RT_OAUTH_AUTH_BASIC)         ? "client_secret_basic"
						    : "client_secret_post";
	json_t *req = json_pack("{s:s, s:[s], s:[s,s], s:[s], s:s}",
				"client_name", "claw-runtime", "redirect_uris",
				redirect, "grant_types", "authorization_code",
				"refresh_token", "response_types", "code",
				"token_endpoint_auth_method", want);
	char *body = req ? json_dumps(req, JSON_COMPACT) : NULL;
	json_decref(req);
	if (!body) {
		return no_memory(err, errlen);
	}
	static const char *const h[] = {"Content-Type: application/json",
					"Accept: application/json", NULL};
	struct claw_httpc_resp resp;
	enum claw_rc rc = http(c, "POST", f->as.registration_endpoint, h, body,
			       RT_OAUTH_MAX_DOC + 1, &resp, err, errlen);
	free(body);
	if (rc == CLAW_OK && resp.status != 201 && resp.status != 200) {
		snprintf(err, errlen, "client registration answered HTTP %ld",
			 resp.status);
		rc = CLAW_ERR_PROTO;
	}
	if (rc == CLAW_OK) {
		size_t len;
		const char *b = body_of(&resp, &len);
		json_t *j = json_loadb(b, len, JSON_REJECT_DUPLICATES, NULL);
		bool bad = !json_is_object(j);
		const char *id = bad ? NULL : str_of(j, "client_id", 512, &bad);
		const char *sec =
			bad ? NULL : str_of(j, "client_secret", 512, &bad);
		const char *am = bad
			? NULL
			: str_of(j, "token_endpoint_auth_method", 64, &bad);
		if (bad || !id) {
			snprintf(err, errlen,
				 "client registration: no valid "
				 "client_id; refused");
			rc = CLAW_ERR_INVALID;
		} else {
			c->client_id = sdup(id);
			c->client_secret = sdup(sec);
			if (!am)
				am = want;
			c->auth_method = strcmp(am, "none") == 0
				? RT_OAUTH_AUTH_NONE
				: strcmp(am, "client_secret_post") == 0
				? RT_OAUTH_AUTH_POST
				: RT_OAUTH_AUTH_BASIC;
			if (!c->client_id || (sec && !c->client_secret)) {
				rc = no_memory(err, errlen);
			}
		}
		json_decref(j);
	}
	claw_httpc_resp_release(&resp);
	return rc;
}

/* The auth method for a pre-registered client. */
static unsigned pick_method(const struct rt_oauth_client *c, unsigned m)
{
	if (!c->client_secret)
		return RT_OAUTH_AUTH_NONE;
	if (m & RT_OAUTH_AUTH_BASIC)
		return RT_OAUTH_AUTH_BASIC;
	if (m & RT_OAUTH_AUTH_POST)
		return RT_OAUTH_AUTH_POST;
	return RT_OAUTH_AUTH_BASIC;
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

static enum claw_rc code_flow(struct rt_oauth_client *c, struct flow *f,
			      char *err, size_t errlen)
{
	char redirect[64], verifier[RT_OAUTH_PKCE_LEN + 1],
		challenge[RT_OAUTH_PKCE_LEN + 1], state[RT_OAUTH_PKCE_LEN + 1],
		sch[RT_OAUTH_PKCE_LEN + 1];
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
		c->auth_method = pick_method(c, f->as.auth_methods);
	rt_oauth_pkce_new(verifier, challenge);
	rt_oauth_pkce_new(state, sch);
	snprintf(url, sizeof(url), "%s%c", f->as.authorization_endpoint,
		 strchr(f->as.authorization_endpoint, '?') ? '&' : '?');
	char q[6144] = "";
	if (!form_add(q, sizeof(q), "response_type", "code") ||
	    !form_add(q, sizeof(q), "client_id", c->client_id) ||
	    !form_add(q, sizeof(q), "redirect_uri", redirect) ||
	    !form_add(q, sizeof(q), "code_challenge", challenge) ||
	    !form_add(q, sizeof(q), "code_challenge_method", "S256") ||
	    !form_add(q, sizeof(q), "state", state) ||
	    !form_add(q, sizeof(q), "resource", f->resource) ||
	    (f->scope[0] && !form_add(q, sizeof(q), "scope", f->scope)) ||
	    strlen(url) + strlen(q) + 1 > sizeof(url)) {
		snprintf(err, errlen, "the authorization request is too long");
		rc = CLAW_ERR_INVALID;
		goto out;
	}
	memcpy(url + strlen(url), q, strlen(q) + 1);
	struct claw_httpc_resp resp;
	rc = http(c, "GET", url, NULL, NULL, 64u << 10, &resp, err, errlen);
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
	if (!form_add(form, sizeof(form), "grant_type", "authorization_code") ||
	    !form_add(form, sizeof(form), "code", code) ||
	    !form_add(form, sizeof(form), "redirect_uri", redirect) ||
	    !form_add(form, sizeof(form), "code_verifier", verifier) ||
	    !form_add(form, sizeof(form), "resource", f->resource)) {
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
static enum claw_rc cc_flow(struct rt_oauth_client *c, struct flow *f,
			    char *err, size_t errlen)
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
		c->auth_method = pick_method(c, f->as.auth_methods);
	if (!form_add(form, sizeof(form), "grant_type", "client_credentials") ||
	    !form_add(form, sizeof(form), "resource", f->resource) ||
	    (f->scope[0] && !form_add(form, sizeof(form), "scope", f->scope))) {
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
	struct flow f;
	memset(&f, 0, sizeof(f));
	rc = discover(c, server_url, www, &f, err, errlen);
	if (rc == CLAW_OK) {
		if (f.as.code_grant || !f.as.cc_grant || !c->client_secret)
			rc = code_flow(c, &f, err, errlen);
		else
			rc = cc_flow(c, &f, err, errlen);
	}
	rt_oauth_prm_release(&f.prm);
	rt_oauth_asm_release(&f.as);
	if (rc)
		log_warn("oauth: authorization failed: %s", err);
out:
	pthread_mutex_unlock(&c->mu);
	return rc;
}
