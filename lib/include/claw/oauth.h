/*
 * claw/oauth.h - the OAuth 2.1 client side of the MCP authorization spec,
 * shared by the runtime (its MCP client refreshes and, headless, runs the
 * flow) and the control plane (the redirect endpoint of the interactive
 * "connect"):
 *
 *   - the WWW-Authenticate challenge of a 401 (resource_metadata, scope);
 *   - protected resource metadata (RFC 9728): where to look for it (the
 *     challenge's URL, else the path-based then the root well-known URL),
 *     and the document checked: its "resource" must be exactly the
 *     identifier it was looked up for, and its authorization server's URL
 *     acceptable;
 *   - authorization server metadata (RFC 8414, with the OpenID Connect
 *     discovery fallbacks the MCP spec lists), checked: "issuer" exactly
 *     the authorization server's identifier, every endpoint acceptable,
 *     S256 offered;
 *   - PKCE S256 (RFC 7636);
 *   - the token response, size-capped and checked (token_type Bearer, a
 *     positive expires_in when present);
 *   - the network steps both callers run the same way (claw_oauth_net):
 *     discovery, dynamic client registration (RFC 7591) and the token
 *     endpoint request with client authentication.
 *
 * "Acceptable" URL: https, or http to a loopback host (127.0.0.1, ::1,
 * localhost) only when the caller allows it (the test-only settings
 * oauth_allow_http_loopback / --oauth-allow-http-loopback). A document
 * that fails a check is refused as a whole with a message for the
 * operator; nothing it held is kept. Errors never hold a token.
 */
#ifndef CLAW_OAUTH_H
#define CLAW_OAUTH_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "claw/err.h"

#define CLAW_OAUTH_MAX_DOC (64u << 10)        /* a metadata document */
#define CLAW_OAUTH_MAX_TOKEN_RESP (16u << 10) /* a token response */
#define CLAW_OAUTH_MAX_TOKEN 8192             /* one access/refresh token */
#define CLAW_OAUTH_MAX_URL 2048
#define CLAW_OAUTH_PKCE_LEN 43 /* verifier and challenge, base64url chars */
#define CLAW_OAUTH_MAX_EXPIRES_IN (10L * 365 * 24 * 3600)

/* Whether url may be used as an OAuth endpoint or metadata URL. */
bool claw_oauth_url_allowed(const char *url, bool allow_http_loopback);

/* The S256 challenge of verifier: BASE64URL(SHA256(verifier)), no
 * padding, 43 characters + NUL. */
void claw_oauth_pkce_challenge(const char *verifier,
			       char out[CLAW_OAUTH_PKCE_LEN + 1]);
/* A fresh random verifier (32 random bytes, base64url) and its
 * challenge. */
void claw_oauth_pkce_new(char verifier[CLAW_OAUTH_PKCE_LEN + 1],
			 char challenge[CLAW_OAUTH_PKCE_LEN + 1]);

/* The value of auth-param name in a Bearer challenge (quoted or token
 * form). False when absent, not a Bearer challenge, or too long. */
bool claw_oauth_challenge_param(const char *hdr, const char *name, char *out,
				size_t outlen);

/* Where to look for a server's protected resource metadata, in order:
 * [0] the path-based well-known URL (origin + "/.well-known/oauth-
 * protected-resource" + path), [1] the root one. exp[i] is the resource
 * identifier the document found there must carry: the server URL (no
 * query or fragment) for [0], its origin for [1]. n: how many were
 * written (1 when the URL has no path). Returns CLAW_ERR_INVALID for a URL
 * that is not http(s)://host[:port][/path]. */
enum claw_rc claw_oauth_prm_urls(const char *server_url, char url[2][2048],
				 char exp[2][2048], int *n);

/* Where to look for an authorization server's metadata, in the MCP
 * spec's order: for an issuer with a path, RFC 8414's path-inserted
 * oauth-authorization-server URL, OIDC's path-inserted openid-
 * configuration, then OIDC's path-appended one; without a path, the two
 * root ones. *n: how many (2 or 3). */
enum claw_rc claw_oauth_as_urls(const char *issuer, char url[3][2048], int *n);

/* What a metadata document must name, and which URLs it may give. */
struct claw_oauth_want {
	const char *id;           /* the server URL or the issuer */
	bool allow_http_loopback; /* claw_oauth_url_allowed's */
};

struct claw_oauth_prm {
	char *resource;
	char *auth_server; /* the first of authorization_servers */
	char *scopes;      /* scopes_supported, space-joined, or NULL */
};

/* Parse and check a protected resource metadata document: "resource"
 * exactly want->id, a first authorization server whose URL is
 * acceptable (claw_oauth_url_allowed with want->allow_http_loopback). CLAW_OK with *out filled (release with
 * claw_oauth_prm_release), or CLAW_ERR_TOO_LARGE, CLAW_ERR_PARSE,
 * CLAW_ERR_INVALID with err set and *out empty. */
enum claw_rc claw_oauth_parse_prm(const char *body, size_t len,
				  const struct claw_oauth_want *want,
				  struct claw_oauth_prm *out, char *err,
				  size_t errlen);
void claw_oauth_prm_release(struct claw_oauth_prm *p);

enum {
	CLAW_OAUTH_AUTH_NONE = 1,  /* public client */
	CLAW_OAUTH_AUTH_BASIC = 2, /* client_secret_basic */
	CLAW_OAUTH_AUTH_POST = 4,  /* client_secret_post */
};

struct claw_oauth_asm {
	char *issuer;
	char *authorization_endpoint;
	char *token_endpoint;
	char *registration_endpoint; /* or NULL */
	unsigned auth_methods;       /* CLAW_OAUTH_AUTH_* offered */
	bool code_grant;             /* authorization_code offered */
	bool cc_grant;               /* client_credentials offered */
	bool cimd; /* client_id_metadata_document_supported (SEP-991) */
	/* authorization_response_iss_parameter_supported (RFC 9207): the
	 * redirect must carry iss, the issuer */
	bool iss_param;
};

/* Parse and check authorization server metadata: "issuer" exactly
 * want->id (a trailing "/" aside), authorization and token
 * endpoints present and acceptable, as is the registration endpoint when
 * present; code_challenge_methods_supported, when present, has S256.
 * Codes and release as for claw_oauth_parse_prm. */
enum claw_rc claw_oauth_parse_asm(const char *body, size_t len,
				  const struct claw_oauth_want *want,
				  struct claw_oauth_asm *out, char *err,
				  size_t errlen);
void claw_oauth_asm_release(struct claw_oauth_asm *a);

struct claw_oauth_token {
	char *access_token;
	char *refresh_token; /* or NULL */
	char *scope;         /* or NULL */
	long expires_in;     /* seconds, 0 when the server gave none */
};

/* Parse and check a token response (at most CLAW_OAUTH_MAX_TOKEN_RESP
 * bytes): access_token (printable ASCII, at most CLAW_OAUTH_MAX_TOKEN),
 * token_type Bearer (any case), expires_in a positive integer up to ten
 * years when present. Codes and release as for claw_oauth_parse_prm; err
 * never holds a token. */
enum claw_rc claw_oauth_parse_token(const char *body, size_t len,
				    struct claw_oauth_token *out, char *err,
				    size_t errlen);
void claw_oauth_token_release(struct claw_oauth_token *t);

/* "application/x-www-form-urlencoded" escape of s appended to b (max
 * bytes in all). False when it does not fit. */
bool claw_oauth_form_escape(char *b, size_t max, const char *s);

/* A string member of object j: NULL when absent; NULL with *bad set when
 * present but not a string of 1..max printable ASCII bytes. */
const char *claw_oauth_json_str(json_t *j, const char *key, size_t max,
				bool *bad);

/* A copy of s in sodium guarded memory (NULL for NULL or no memory), and
 * its release (wiped; *p set to NULL). */
char *claw_oauth_sdup(const char *s);
void claw_oauth_sfree(char **p);

/* Append "&name=value" (value escaped) to the form in b (max bytes). */
bool claw_oauth_form_add(char *b, size_t max, const char *name,
			 const char *value);

/* ---- Network steps (libcurl through claw/httpc.h) ---- */

struct claw_httpc_resp;

/* How to reach OAuth endpoints. */
struct claw_oauth_net {
	bool allow_http_loopback; /* tests only */
	const char *proxy;        /* or NULL */
	const char *ca_file;      /* or NULL */
	/* the endpoints are someone else's (a tenant's server and its
	 * metadata): public addresses only (httpc.h), loopback ones too
	 * with allow_http_loopback */
	bool public_only;
};

/* One HTTP exchange with an OAuth endpoint, the answer capped at max
 * bytes (over it: CLAW_ERR_INVALID, "refused"). The caller releases
 * resp (claw_httpc_resp_release) whatever the result. */
enum claw_rc claw_oauth_http(const struct claw_oauth_net *n, const char *method,
			     const char *url, const char *const *headers,
			     const char *body, size_t max,
			     struct claw_httpc_resp *resp, char *err,
			     size_t errlen);

/* What discovery found for one MCP server. */
struct claw_oauth_disc {
	char resource[CLAW_OAUTH_MAX_URL]; /* RFC 8707 resource indicator */
	char scope[1024];                  /* to ask for, or "" */
	struct claw_oauth_prm prm;
	struct claw_oauth_asm as;
	bool have_prm;
};

/* Discovery for server_url, given the WWW-Authenticate value of its 401
 * (or NULL): protected resource metadata, then authorization server
 * metadata (2025-03-26 defaults when a server has neither). CLAW_OK with
 * *d filled, else an error with err set; release *d with
 * claw_oauth_disc_release either way (it must start zeroed). */
enum claw_rc claw_oauth_discover(const struct claw_oauth_net *n,
				 const char *server_url, const char *www,
				 struct claw_oauth_disc *d, char *err,
				 size_t errlen);
void claw_oauth_disc_release(struct claw_oauth_disc *d);

/* A client: id, secret (both sodium memory, claw_oauth_sdup) and the
 * token endpoint's authentication method (CLAW_OAUTH_AUTH_*). */
struct claw_oauth_cli {
	char *client_id;
	char *client_secret; /* or NULL */
	unsigned auth_method;
};
void claw_oauth_cli_release(struct claw_oauth_cli *c);

/* Dynamic client registration (RFC 7591) at as->registration_endpoint for
 * redirect (authorization_code + refresh_token, the most public auth
 * method offered). CLAW_OK with *out filled, else err set and *out
 * empty. */
enum claw_rc claw_oauth_register(const struct claw_oauth_net *n,
				 const struct claw_oauth_asm *as,
				 const char *client_name, const char *redirect,
				 struct claw_oauth_cli *out, char *err,
				 size_t errlen);

/* The auth method for a pre-registered client given the methods the
 * server offers (none without a secret). */
unsigned claw_oauth_pick_method(bool has_secret, unsigned offered);

/* POST form (max bytes of room; client authentication added as cli's
 * method says, then the form is wiped) to token_endpoint; the answer must
 * be 200 and pass claw_oauth_parse_token. CLAW_OK with *out filled. */
enum claw_rc claw_oauth_token_post(const struct claw_oauth_net *n,
				   const char *token_endpoint,
				   const struct claw_oauth_cli *cli, char *form,
				   size_t max, struct claw_oauth_token *out,
				   char *err, size_t errlen);

/* The authorization request (authorization code with PKCE S256, state
 * and the RFC 8707 resource indicator). */
struct claw_oauth_authz {
	const char *endpoint; /* authorization_endpoint */
	const char *client_id, *redirect, *challenge, *state, *resource;
	const char *scope; /* or NULL / "" */
};
/* Its URL into out. False when it does not fit. */
bool claw_oauth_authorize_url(const struct claw_oauth_authz *a, char *out,
			      size_t outlen);

/* The token request's form for an authorization code (grant_type, code,
 * redirect_uri, code_verifier, resource) appended to form. */
bool claw_oauth_code_form(char *form, size_t max, const char *code,
			  const char *redirect, const char *verifier,
			  const char *resource);

/* The token_endpoint_auth_method name of a CLAW_OAUTH_AUTH_* bit. */
const char *claw_oauth_method_name(unsigned m);

#endif
