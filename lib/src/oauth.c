/*
 * oauth.c - the OAuth 2.1 client pieces of the MCP authorization spec (see
 * claw/oauth.h), shared by the runtime and the control plane: URL checks,
 * PKCE S256, the 401 challenge, the well-known discovery URLs, the checked
 * parsing of protected resource metadata, authorization server metadata
 * and token responses, and the network steps (discovery, registration,
 * token request).
 *
 * Every parser works on a bounded copy of what the network sent, refuses
 * the whole document on the first problem (so nothing a bad server sent is
 * kept), and never puts a token into an error message.
 */
#include "claw/oauth.h"

#include <ctype.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "claw/httpc.h"

#include "claw/banned.h"

/* Split url into scheme length and authority [a, e). False when it is
 * not http(s)://authority[/...], or carries userinfo, a fragment, or
 * bytes outside printable ASCII. *https: its scheme. */
static bool url_parts(const char *url, bool *https, const char **a,
		      const char **e)
{
	if (!url || strlen(url) >= CLAW_OAUTH_MAX_URL)
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

bool claw_oauth_url_allowed(const char *url, bool allow_http_loopback)
{
	bool https;
	const char *a, *e;
	if (!url_parts(url, &https, &a, &e))
		return false;
	return https || (allow_http_loopback && host_is_loopback(a, e));
}

void claw_oauth_pkce_challenge(const char *verifier,
			       char out[CLAW_OAUTH_PKCE_LEN + 1])
{
	unsigned char h[crypto_hash_sha256_BYTES];
	crypto_hash_sha256(h, (const unsigned char *)verifier,
			   strlen(verifier));
	sodium_bin2base64(out, CLAW_OAUTH_PKCE_LEN + 1, h, sizeof(h),
			  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

void claw_oauth_pkce_new(char verifier[CLAW_OAUTH_PKCE_LEN + 1],
			 char challenge[CLAW_OAUTH_PKCE_LEN + 1])
{
	unsigned char r[32];
	randombytes_buf(r, sizeof(r));
	sodium_bin2base64(verifier, CLAW_OAUTH_PKCE_LEN + 1, r, sizeof(r),
			  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	sodium_memzero(r, sizeof(r));
	claw_oauth_pkce_challenge(verifier, challenge);
}

bool claw_oauth_challenge_param(const char *hdr, const char *name, char *out,
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

enum claw_rc claw_oauth_prm_urls(const char *server_url, char url[2][2048],
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

enum claw_rc claw_oauth_as_urls(const char *issuer, char url[3][2048], int *n)
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
const char *claw_oauth_json_str(json_t *j, const char *key, size_t max,
				bool *bad)
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
	enum claw_rc (*fill)(json_t *j, const struct claw_oauth_want *w,
			     void *out, const char **why);
	void (*release)(void *out);
};

static enum claw_rc parse_with(const struct doc_kind *k, const char *body,
			       size_t len, const struct claw_oauth_want *w,
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

void claw_oauth_prm_release(struct claw_oauth_prm *p)
{
	free(p->resource);
	free(p->auth_server);
	free(p->scopes);
	memset(p, 0, sizeof(*p));
}

static enum claw_rc prm_fill(json_t *j, const struct claw_oauth_want *w,
			     void *o, const char **why)
{
	struct claw_oauth_prm *out = o;
	bool bad = false;
	const char *res =
		claw_oauth_json_str(j, "resource", CLAW_OAUTH_MAX_URL, &bad);
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
	if (!as0 || !claw_oauth_url_allowed(as0, w->allow_http_loopback)) {
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
	claw_oauth_prm_release(p);
}

enum claw_rc claw_oauth_parse_prm(const char *body, size_t len,
				  const struct claw_oauth_want *want,
				  struct claw_oauth_prm *out, char *err,
				  size_t errlen)
{
	static const struct doc_kind kind = {
		"protected resource metadata", CLAW_OAUTH_MAX_DOC,
		sizeof(struct claw_oauth_prm), prm_fill, prm_release};
	return parse_with(&kind, body, len, want, out, err, errlen);
}

void claw_oauth_asm_release(struct claw_oauth_asm *a)
{
	free(a->issuer);
	free(a->authorization_endpoint);
	free(a->token_endpoint);
	free(a->registration_endpoint);
	memset(a, 0, sizeof(*a));
}

/* RFC 8414's lists this client reads, as bits. */
static const struct name_bit auth_names[] = {
	{"none", CLAW_OAUTH_AUTH_NONE},
	{"client_secret_basic", CLAW_OAUTH_AUTH_BASIC},
	{"client_secret_post", CLAW_OAUTH_AUTH_POST}};
enum {
	GRANT_CODE = 1,
	GRANT_CC = 2
};
static const struct name_bit grant_names[] = {
	{"authorization_code", GRANT_CODE}, {"client_credentials", GRANT_CC}};
static const struct name_bit pkce_names[] = {{"S256", 1}};

static enum claw_rc asm_fill(json_t *j, const struct claw_oauth_want *w,
			     void *o, const char **why)
{
	struct claw_oauth_asm *out = o;
	bool bad = false, lo = w->allow_http_loopback;
	const char *iss =
		claw_oauth_json_str(j, "issuer", CLAW_OAUTH_MAX_URL, &bad);
	const char *az = claw_oauth_json_str(j, "authorization_endpoint",
					     CLAW_OAUTH_MAX_URL, &bad);
	const char *tk = claw_oauth_json_str(j, "token_endpoint",
					     CLAW_OAUTH_MAX_URL, &bad);
	const char *rg = claw_oauth_json_str(j, "registration_endpoint",
					     CLAW_OAUTH_MAX_URL, &bad);
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
	if (!claw_oauth_url_allowed(az, lo) ||
	    !claw_oauth_url_allowed(tk, lo) ||
	    (rg && !claw_oauth_url_allowed(rg, lo))) {
		*why = "an endpoint is not https; refused";
		return CLAW_ERR_INVALID;
	}
	if (ccm && !names_to_bits(ccm, pkce_names, 1)) {
		*why = "PKCE S256 not offered";
		return CLAW_ERR_INVALID;
	}
	out->cimd = json_is_true(
		json_object_get(j, "client_id_metadata_document_supported"));
	out->iss_param = json_is_true(json_object_get(
		j, "authorization_response_iss_parameter_supported"));
	/* RFC 8414's defaults: authorization_code, client_secret_basic */
	unsigned grants = names_to_bits(gt, grant_names, 2);
	out->code_grant = !json_is_array(gt) || (grants & GRANT_CODE);
	out->cc_grant = (grants & GRANT_CC) != 0;
	json_t *am =
		json_object_get(j, "token_endpoint_auth_methods_supported");
	out->auth_methods = json_is_array(am) ? names_to_bits(am, auth_names, 3)
					      : CLAW_OAUTH_AUTH_BASIC;
	return dup_all((char **const[]){&out->issuer,
					&out->authorization_endpoint,
					&out->token_endpoint,
					&out->registration_endpoint},
		       (const char *const[]){iss, az, tk, rg}, 4);
}

static void asm_release(void *a)
{
	claw_oauth_asm_release(a);
}

enum claw_rc claw_oauth_parse_asm(const char *body, size_t len,
				  const struct claw_oauth_want *want,
				  struct claw_oauth_asm *out, char *err,
				  size_t errlen)
{
	static const struct doc_kind kind = {
		"authorization server metadata", CLAW_OAUTH_MAX_DOC,
		sizeof(struct claw_oauth_asm), asm_fill, asm_release};
	return parse_with(&kind, body, len, want, out, err, errlen);
}

void claw_oauth_token_release(struct claw_oauth_token *t)
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

static enum claw_rc token_fill(json_t *j, const struct claw_oauth_want *w,
			       void *o, const char **why)
{
	struct claw_oauth_token *out = o;
	bool bad = false;
	(void)w;
	const char *at = claw_oauth_json_str(j, "access_token",
					     CLAW_OAUTH_MAX_TOKEN, &bad);
	if (!at || bad) {
		*why = "no valid access_token";
		return CLAW_ERR_INVALID;
	}
	const char *tt = claw_oauth_json_str(j, "token_type", 32, &bad);
	if (!tt || bad || strcasecmp(tt, "Bearer") != 0) {
		*why = "token_type is not Bearer";
		return CLAW_ERR_INVALID;
	}
	const char *rt = claw_oauth_json_str(j, "refresh_token",
					     CLAW_OAUTH_MAX_TOKEN, &bad);
	const char *sc = claw_oauth_json_str(j, "scope", 1024, &bad);
	if (bad) {
		*why = "invalid refresh_token or scope";
		return CLAW_ERR_INVALID;
	}
	json_t *ei = json_object_get(j, "expires_in");
	if (ei &&
	    (!json_is_integer(ei) || json_integer_value(ei) <= 0 ||
	     json_integer_value(ei) > CLAW_OAUTH_MAX_EXPIRES_IN)) {
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
	claw_oauth_token_release(t);
}

enum claw_rc claw_oauth_parse_token(const char *body, size_t len,
				    struct claw_oauth_token *out, char *err,
				    size_t errlen)
{
	static const struct doc_kind kind = {
		"token response", CLAW_OAUTH_MAX_TOKEN_RESP,
		sizeof(struct claw_oauth_token), token_fill, token_release};
	return parse_with(&kind, body, len, NULL, out, err, errlen);
}

bool claw_oauth_form_escape(char *b, size_t max, const char *s)
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

char *claw_oauth_sdup(const char *s)
{
	if (!s)
		return NULL;
	size_t n = strlen(s) + 1;
	char *d = sodium_malloc(n);
	if (d)
		memcpy(d, s, n);
	return d;
}

void claw_oauth_sfree(char **p)
{
	if (*p)
		sodium_free(*p);
	*p = NULL;
}

bool claw_oauth_form_add(char *b, size_t max, const char *name,
			 const char *value)
{
	size_t o = strlen(b);
	int n = snprintf(b + o, max - o, "%s%s=", o ? "&" : "", name);
	if (n < 0 || (size_t)n >= max - o)
		return false;
	return claw_oauth_form_escape(b, max, value);
}

/* ---- Network steps ---- */

#define HTTP_TIMEOUT_MS 15000

enum claw_rc claw_oauth_http(const struct claw_oauth_net *n, const char *method,
			     const char *url, const char *const *headers,
			     const char *body, size_t max,
			     struct claw_httpc_resp *resp, char *err,
			     size_t errlen)
{
	struct claw_httpc_req req = {
		.method = method,
		.url = url,
		.headers = headers,
		.body = body,
		.body_len = body ? strlen(body) : 0,
		.timeout_ms = HTTP_TIMEOUT_MS,
		.max_response = max,
		.proxy = n->proxy,
		.ca_file = n->ca_file,
		.public_only = n->public_only,
		.allow_loopback = n->allow_http_loopback,
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
static enum claw_rc get_doc(const struct claw_oauth_net *n, const char *url,
			    struct claw_httpc_resp *resp, char *err,
			    size_t errlen)
{
	static const char *const h[] = {"Accept: application/json",
					"MCP-Protocol-Version: 2025-06-18",
					NULL};
	memset(resp, 0, sizeof(*resp));
	if (!claw_oauth_url_allowed(url, n->allow_http_loopback)) {
		snprintf(err, errlen,
			 "an OAuth metadata URL is not https; "
			 "refused");
		return CLAW_ERR_INVALID;
	}
	enum claw_rc rc =
		claw_oauth_http(n, "GET", url, h, NULL, CLAW_OAUTH_MAX_DOC + 1,
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

void claw_oauth_disc_release(struct claw_oauth_disc *d)
{
	claw_oauth_prm_release(&d->prm);
	claw_oauth_asm_release(&d->as);
}

/* Protected resource metadata: from the challenge's URL, else the
 * well-known ones. */
static enum claw_rc discover_prm(const struct claw_oauth_net *n,
				 const char *server, const char *www,
				 struct claw_oauth_disc *d, char *err,
				 size_t errlen)
{
	char rm[CLAW_OAUTH_MAX_URL], pu[2][2048], pe[2][2048];
	int cnt = 0;
	enum claw_rc rc;
	struct claw_httpc_resp resp;
	size_t len;
	if (claw_oauth_prm_urls(server, pu, pe, &cnt)) {
		snprintf(err, errlen, "the server URL is not an http(s) URL");
		return CLAW_ERR_INVALID;
	}
	if (www &&
	    claw_oauth_challenge_param(www, "resource_metadata", rm,
				       sizeof(rm))) {
		/* RFC 9728 5.1: the document must name the URL that was
		 * asked (the server URL, without its query) */
		snprintf(pu[0], 2048, "%s", rm);
		snprintf(pe[0], 2048, "%.*s", (int)strcspn(server, "?"),
			 server);
		cnt = 1;
	}
	for (int i = 0; i < cnt && !d->have_prm; i++) {
		rc = get_doc(n, pu[i], &resp, err, errlen);
		if (rc == CLAW_OK) {
			const char *b = body_of(&resp, &len);
			rc = claw_oauth_parse_prm(
				b, len,
				&(struct claw_oauth_want){
					pe[i], n->allow_http_loopback},
				&d->prm, err, errlen);
			d->have_prm = rc == CLAW_OK;
		}
		claw_httpc_resp_release(&resp);
		if (rc != CLAW_OK && rc != CLAW_ERR_NOT_FOUND)
			return rc; /* refused: nothing kept */
	}
	return CLAW_OK;
}

/* 2025-03-26 default endpoints under issuer. */
static enum claw_rc default_asm(struct claw_oauth_asm *as, const char *issuer,
				char *err, size_t errlen)
{
	char u[CLAW_OAUTH_MAX_URL + 16];
	as->issuer = strdup(issuer);
	snprintf(u, sizeof(u), "%s/authorize", issuer);
	as->authorization_endpoint = strdup(u);
	snprintf(u, sizeof(u), "%s/token", issuer);
	as->token_endpoint = strdup(u);
	snprintf(u, sizeof(u), "%s/register", issuer);
	as->registration_endpoint = strdup(u);
	as->auth_methods = CLAW_OAUTH_AUTH_BASIC | CLAW_OAUTH_AUTH_POST |
		CLAW_OAUTH_AUTH_NONE;
	as->code_grant = true;
	if (!as->issuer || !as->authorization_endpoint || !as->token_endpoint ||
	    !as->registration_endpoint)
		return no_memory(err, errlen);
	return CLAW_OK;
}

enum claw_rc claw_oauth_discover(const struct claw_oauth_net *n,
				 const char *server, const char *www,
				 struct claw_oauth_disc *d, char *err,
				 size_t errlen)
{
	enum claw_rc rc = discover_prm(n, server, www, d, err, errlen);
	struct claw_httpc_resp resp;
	size_t len;
	int cnt = 0;
	if (rc)
		return rc;
	char issuer[CLAW_OAUTH_MAX_URL];
	if (d->have_prm) {
		/* The analyzer takes a write into d->resource for one into
		 * all of *d and loses d->prm's strings, which the caller
		 * releases (claw_oauth_disc_release). */
		/* NOLINTBEGIN(clang-analyzer-unix.Malloc) */
		snprintf(d->resource, sizeof(d->resource), "%s",
			 d->prm.resource);
		snprintf(issuer, sizeof(issuer), "%s", d->prm.auth_server);
		/* NOLINTEND(clang-analyzer-unix.Malloc) */
	} else {
		/* 2025-03-26 servers: the MCP server's origin is the
		 * authorization server */
		snprintf(d->resource, sizeof(d->resource), "%.*s",
			 (int)strcspn(server, "?"), server);
		const char *a = strstr(server, "://") + 3;
		snprintf(issuer, sizeof(issuer), "%.*s",
			 (int)(a - server + (long)strcspn(a, "/?")), server);
		if (!claw_oauth_url_allowed(issuer, n->allow_http_loopback)) {
			snprintf(err, errlen,
				 "the authorization server is "
				 "not https; refused");
			return CLAW_ERR_INVALID;
		}
	}
	char au[3][2048];
	bool found = false;
	if (claw_oauth_as_urls(issuer, au, &cnt)) {
		snprintf(err, errlen,
			 "the authorization server's URL is "
			 "invalid");
		return CLAW_ERR_INVALID;
	}
	for (int i = 0; i < cnt && !found; i++) {
		rc = get_doc(n, au[i], &resp, err, errlen);
		if (rc == CLAW_OK) {
			const char *b = body_of(&resp, &len);
			rc = claw_oauth_parse_asm(
				b, len,
				&(struct claw_oauth_want){
					issuer, n->allow_http_loopback},
				&d->as, err, errlen);
			found = rc == CLAW_OK;
		}
		claw_httpc_resp_release(&resp);
		if (rc != CLAW_OK && rc != CLAW_ERR_NOT_FOUND)
			return rc;
	}
	if (!found && d->have_prm) {
		snprintf(err, errlen,
			 "no authorization server metadata "
			 "found");
		return CLAW_ERR_NOT_FOUND;
	}
	if (!found && (rc = default_asm(&d->as, issuer, err, errlen)))
		return rc;
	/* scope: the challenge's, else what the resource supports */
	char sc[1024];
	if (www && claw_oauth_challenge_param(www, "scope", sc, sizeof(sc)))
		snprintf(d->scope, sizeof(d->scope), "%s", sc);
	else if (d->have_prm && d->prm.scopes)
		snprintf(d->scope, sizeof(d->scope), "%s", d->prm.scopes);
	return CLAW_OK;
}

void claw_oauth_cli_release(struct claw_oauth_cli *c)
{
	claw_oauth_sfree(&c->client_id);
	claw_oauth_sfree(&c->client_secret);
	c->auth_method = 0;
}

static unsigned method_bit(const char *am)
{
	return strcmp(am, "none") == 0                  ? CLAW_OAUTH_AUTH_NONE
		: strcmp(am, "client_secret_post") == 0 ? CLAW_OAUTH_AUTH_POST
							: CLAW_OAUTH_AUTH_BASIC;
}

/* Keep the registration answer in *out. */
static enum claw_rc take_registration(const char *b, size_t len,
				      const char *want,
				      struct claw_oauth_cli *out, char *err,
				      size_t errlen)
{
	enum claw_rc rc = CLAW_OK;
	json_t *j = json_loadb(b, len, JSON_REJECT_DUPLICATES, NULL);
	bool bad = !json_is_object(j);
	const char *id =
		bad ? NULL : claw_oauth_json_str(j, "client_id", 512, &bad);
	const char *sec =
		bad ? NULL : claw_oauth_json_str(j, "client_secret", 512, &bad);
	const char *am = bad
		? NULL
		: claw_oauth_json_str(j, "token_endpoint_auth_method", 64,
				      &bad);
	if (bad || !id) {
		snprintf(err, errlen,
			 "client registration: no valid "
			 "client_id; refused");
		rc = CLAW_ERR_INVALID;
	} else {
		out->client_id = claw_oauth_sdup(id);
		out->client_secret = claw_oauth_sdup(sec);
		out->auth_method = method_bit(am ? am : want);
		if (!out->client_id || (sec && !out->client_secret)) {
			claw_oauth_cli_release(out);
			rc = no_memory(err, errlen);
		}
	}
	json_decref(j);
	return rc;
}

enum claw_rc claw_oauth_register(const struct claw_oauth_net *n,
				 const struct claw_oauth_asm *as,
				 const char *client_name, const char *redirect,
				 struct claw_oauth_cli *out, char *err,
				 size_t errlen)
{
	memset(out, 0, sizeof(*out));
	if (!as->registration_endpoint) {
		snprintf(err, errlen,
			 "no client id configured and the "
			 "authorization server offers no "
			 "registration");
		return CLAW_ERR_INVALID;
	}
	unsigned m = as->auth_methods;
	const char *want = (m & CLAW_OAUTH_AUTH_NONE) ? "none"
		: (m & CLAW_OAUTH_AUTH_BASIC)         ? "client_secret_basic"
						      : "client_secret_post";
	json_t *req = json_pack("{s:s, s:[s], s:[s,s], s:[s], s:s}",
				"client_name", client_name, "redirect_uris",
				redirect, "grant_types", "authorization_code",
				"refresh_token", "response_types", "code",
				"token_endpoint_auth_method", want);
	char *body = req ? json_dumps(req, JSON_COMPACT) : NULL;
	json_decref(req);
	if (!body)
		return no_memory(err, errlen);
	static const char *const h[] = {"Content-Type: application/json",
					"Accept: application/json", NULL};
	struct claw_httpc_resp resp;
	enum claw_rc rc =
		claw_oauth_http(n, "POST", as->registration_endpoint, h, body,
				CLAW_OAUTH_MAX_DOC + 1, &resp, err, errlen);
	free(body);
	if (rc == CLAW_OK && resp.status != 201 && resp.status != 200) {
		snprintf(err, errlen, "client registration answered HTTP %ld",
			 resp.status);
		rc = CLAW_ERR_PROTO;
	}
	if (rc == CLAW_OK) {
		size_t len;
		const char *b = body_of(&resp, &len);
		rc = take_registration(b, len, want, out, err, errlen);
	}
	claw_httpc_resp_release(&resp);
	return rc;
}

unsigned claw_oauth_pick_method(bool has_secret, unsigned m)
{
	if (!has_secret)
		return CLAW_OAUTH_AUTH_NONE;
	if (m & CLAW_OAUTH_AUTH_BASIC)
		return CLAW_OAUTH_AUTH_BASIC;
	if (m & CLAW_OAUTH_AUTH_POST)
		return CLAW_OAUTH_AUTH_POST;
	return CLAW_OAUTH_AUTH_BASIC;
}

/* The "Authorization: Basic" header of client_secret_basic. */
static bool basic_header(const struct claw_oauth_cli *cli, char *out,
			 size_t outlen)
{
	char pair[1100] = "", b64[1400];
	bool ok = claw_oauth_form_escape(pair, 520, cli->client_id) &&
		strlen(pair) + 2 <= sizeof(pair);
	if (ok) {
		size_t o = strlen(pair);
		pair[o++] = ':';
		pair[o] = '\0';
		ok = claw_oauth_form_escape(pair, sizeof(pair),
					    cli->client_secret);
	}
	if (ok) {
		sodium_bin2base64(b64, sizeof(b64), (unsigned char *)pair,
				  strlen(pair), sodium_base64_VARIANT_ORIGINAL);
		snprintf(out, outlen, "Authorization: Basic %s", b64);
	}
	sodium_memzero(pair, sizeof(pair));
	sodium_memzero(b64, sizeof(b64));
	return ok;
}

enum claw_rc claw_oauth_token_post(const struct claw_oauth_net *n,
				   const char *token_endpoint,
				   const struct claw_oauth_cli *cli, char *form,
				   size_t max, struct claw_oauth_token *out,
				   char *err, size_t errlen)
{
	char basic[1400] = "";
	const char *h[4] = {"Content-Type: application/x-www-form-urlencoded",
			    "Accept: application/json", NULL, NULL};
	memset(out, 0, sizeof(*out));
	bool ok = true;
	if (cli->client_id &&
	    (cli->auth_method != CLAW_OAUTH_AUTH_BASIC ||
	     !cli->client_secret)) {
		ok = claw_oauth_form_add(form, max, "client_id",
					 cli->client_id) &&
			!(cli->auth_method == CLAW_OAUTH_AUTH_POST &&
			  cli->client_secret &&
			  !claw_oauth_form_add(form, max, "client_secret",
					       cli->client_secret));
	} else if (cli->client_id) {
		ok = basic_header(cli, basic, sizeof(basic));
		h[2] = basic;
	}
	if (!ok) {
		sodium_memzero(form, strlen(form));
		snprintf(err, errlen, "the token request is too long");
		return CLAW_ERR_INVALID;
	}
	struct claw_httpc_resp resp;
	enum claw_rc rc = claw_oauth_http(n, "POST", token_endpoint, h, form,
					  CLAW_OAUTH_MAX_TOKEN_RESP + 1, &resp,
					  err, errlen);
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
		rc = claw_oauth_parse_token(b, len, out, err, errlen);
	}
	if (resp.body.data)
		sodium_memzero(resp.body.data, resp.body.len);
	claw_httpc_resp_release(&resp);
	return rc;
}

bool claw_oauth_authorize_url(const struct claw_oauth_authz *a, char *out,
			      size_t outlen)
{
	char q[6144] = "";
	const char *ep = a->endpoint;
	int n = snprintf(out, outlen, "%s%c", ep, strchr(ep, '?') ? '&' : '?');
	if (n < 0 || (size_t)n >= outlen)
		return false;
	if (!claw_oauth_form_add(q, sizeof(q), "response_type", "code") ||
	    !claw_oauth_form_add(q, sizeof(q), "client_id", a->client_id) ||
	    !claw_oauth_form_add(q, sizeof(q), "redirect_uri", a->redirect) ||
	    !claw_oauth_form_add(q, sizeof(q), "code_challenge",
				 a->challenge) ||
	    !claw_oauth_form_add(q, sizeof(q), "code_challenge_method",
				 "S256") ||
	    !claw_oauth_form_add(q, sizeof(q), "state", a->state) ||
	    !claw_oauth_form_add(q, sizeof(q), "resource", a->resource) ||
	    (a->scope && a->scope[0] &&
	     !claw_oauth_form_add(q, sizeof(q), "scope", a->scope)) ||
	    (size_t)n + strlen(q) + 1 > outlen)
		return false;
	memcpy(out + n, q, strlen(q) + 1);
	return true;
}

bool claw_oauth_code_form(char *form, size_t max, const char *code,
			  const char *redirect, const char *verifier,
			  const char *resource)
{
	return claw_oauth_form_add(form, max, "grant_type",
				   "authorization_code") &&
		claw_oauth_form_add(form, max, "code", code) &&
		claw_oauth_form_add(form, max, "redirect_uri", redirect) &&
		claw_oauth_form_add(form, max, "code_verifier", verifier) &&
		claw_oauth_form_add(form, max, "resource", resource);
}

const char *claw_oauth_method_name(unsigned m)
{
	return m == CLAW_OAUTH_AUTH_NONE    ? "none"
		: m == CLAW_OAUTH_AUTH_POST ? "client_secret_post"
					    : "client_secret_basic";
}
