/*
 * oauth.h - the OAuth 2.1 client side of the MCP authorization spec, for
 * remote (Streamable HTTP) MCP servers: the pure protocol pieces.
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
 *     positive expires_in when present).
 *
 * "Acceptable" URL: https, or http to a loopback host (127.0.0.1, ::1,
 * localhost) only when the caller allows it (the test-only setting
 * oauth_allow_http_loopback). A document that fails a check is refused as
 * a whole with a message for the operator; nothing it held is kept.
 *
 * Pure functions (no I/O) shared by the MCP client, the unit tests and the
 * fuzzer; the network flow is in oauth_flow (oauth.c's second half).
 */
#ifndef RT_OAUTH_H
#define RT_OAUTH_H

#include <stdbool.h>
#include <stddef.h>

#include "claw/err.h"

#define RT_OAUTH_MAX_DOC (64u << 10)        /* a metadata document */
#define RT_OAUTH_MAX_TOKEN_RESP (16u << 10) /* a token response */
#define RT_OAUTH_MAX_TOKEN 8192             /* one access/refresh token */
#define RT_OAUTH_MAX_URL 2048
#define RT_OAUTH_PKCE_LEN 43 /* verifier and challenge, base64url chars */
#define RT_OAUTH_MAX_EXPIRES_IN (10L * 365 * 24 * 3600)

/* Whether url may be used as an OAuth endpoint or metadata URL. */
bool rt_oauth_url_allowed(const char *url, bool allow_http_loopback);

/* The S256 challenge of verifier: BASE64URL(SHA256(verifier)), no
 * padding, 43 characters + NUL. */
void rt_oauth_pkce_challenge(const char *verifier,
			     char out[RT_OAUTH_PKCE_LEN + 1]);
/* A fresh random verifier (32 random bytes, base64url) and its
 * challenge. */
void rt_oauth_pkce_new(char verifier[RT_OAUTH_PKCE_LEN + 1],
		       char challenge[RT_OAUTH_PKCE_LEN + 1]);

/* The value of auth-param name in a Bearer challenge (quoted or token
 * form). False when absent, not a Bearer challenge, or too long. */
bool rt_oauth_challenge_param(const char *hdr, const char *name, char *out,
			      size_t outlen);

/* Where to look for a server's protected resource metadata, in order:
 * [0] the path-based well-known URL (origin + "/.well-known/oauth-
 * protected-resource" + path), [1] the root one. exp[i] is the resource
 * identifier the document found there must carry: the server URL (no
 * query or fragment) for [0], its origin for [1]. n: how many were
 * written (1 when the URL has no path). Returns CLAW_ERR_INVALID for a URL
 * that is not http(s)://host[:port][/path]. */
enum claw_rc rt_oauth_prm_urls(const char *server_url, char url[2][2048],
			       char exp[2][2048], int *n);

/* Where to look for an authorization server's metadata, in the MCP
 * spec's order: for an issuer with a path, RFC 8414's path-inserted
 * oauth-authorization-server URL, OIDC's path-inserted openid-
 * configuration, then OIDC's path-appended one; without a path, the two
 * root ones. *n: how many (2 or 3). */
enum claw_rc rt_oauth_as_urls(const char *issuer, char url[3][2048], int *n);

/* What a metadata document must name, and which URLs it may give. */
struct rt_oauth_want {
	const char *id;           /* the server URL or the issuer */
	bool allow_http_loopback; /* rt_oauth_url_allowed's */
};

struct rt_oauth_prm {
	char *resource;
	char *auth_server; /* the first of authorization_servers */
	char *scopes;      /* scopes_supported, space-joined, or NULL */
};

/* Parse and check a protected resource metadata document: "resource"
 * exactly want->id, a first authorization server whose URL is
 * acceptable (rt_oauth_url_allowed with want->allow_http_loopback). CLAW_OK with *out filled (release with
 * rt_oauth_prm_release), or CLAW_ERR_TOO_LARGE, CLAW_ERR_PARSE,
 * CLAW_ERR_INVALID with err set and *out empty. */
enum claw_rc rt_oauth_parse_prm(const char *body, size_t len,
				const struct rt_oauth_want *want,
				struct rt_oauth_prm *out, char *err,
				size_t errlen);
void rt_oauth_prm_release(struct rt_oauth_prm *p);

enum {
	RT_OAUTH_AUTH_NONE = 1,  /* public client */
	RT_OAUTH_AUTH_BASIC = 2, /* client_secret_basic */
	RT_OAUTH_AUTH_POST = 4,  /* client_secret_post */
};

struct rt_oauth_asm {
	char *issuer;
	char *authorization_endpoint;
	char *token_endpoint;
	char *registration_endpoint; /* or NULL */
	unsigned auth_methods;       /* RT_OAUTH_AUTH_* offered */
	bool code_grant;             /* authorization_code offered */
	bool cc_grant;               /* client_credentials offered */
	bool cimd; /* client_id_metadata_document_supported (SEP-991) */
};

/* Parse and check authorization server metadata: "issuer" exactly
 * want->id (a trailing "/" aside), authorization and token
 * endpoints present and acceptable, as is the registration endpoint when
 * present; code_challenge_methods_supported, when present, has S256.
 * Codes and release as for rt_oauth_parse_prm. */
enum claw_rc rt_oauth_parse_asm(const char *body, size_t len,
				const struct rt_oauth_want *want,
				struct rt_oauth_asm *out, char *err,
				size_t errlen);
void rt_oauth_asm_release(struct rt_oauth_asm *a);

struct rt_oauth_token {
	char *access_token;
	char *refresh_token; /* or NULL */
	char *scope;         /* or NULL */
	long expires_in;     /* seconds, 0 when the server gave none */
};

/* Parse and check a token response (at most RT_OAUTH_MAX_TOKEN_RESP
 * bytes): access_token (printable ASCII, at most RT_OAUTH_MAX_TOKEN),
 * token_type Bearer (any case), expires_in a positive integer up to ten
 * years when present. Codes and release as for rt_oauth_parse_prm; err
 * never holds a token. */
enum claw_rc rt_oauth_parse_token(const char *body, size_t len,
				  struct rt_oauth_token *out, char *err,
				  size_t errlen);
void rt_oauth_token_release(struct rt_oauth_token *t);

/* "application/x-www-form-urlencoded" escape of s appended to b (max
 * bytes in all). False when it does not fit. */
bool rt_oauth_form_escape(char *b, size_t max, const char *s);

/*
 * The client: one per remote MCP server, shared by its transport's
 * threads (reference-counted, thread-safe). It holds the grant (access
 * token, refresh token, expiry, token endpoint, client credentials,
 * resource) in sodium memory and never logs it.
 *
 * Where the grant comes from: the runtime is given it as the tenant's
 * secret (the control plane ran the interactive authorization; see
 * docs/runtime.md for the JSON shape), or, with auto set (the CLI's
 * --oauth-auto, a test feature), the client runs the whole authorization
 * code flow itself: it discovers the metadata, registers (RFC 7591) or
 * uses the pre-registered client, asks the authorization endpoint with
 * PKCE S256, state and resource, and takes the code from the redirect to
 * its loopback redirect_uri (a headless client: the test authorization
 * servers approve at once, without a user).
 */
struct rt_oauth_settings {
	bool allow_http_loopback; /* tests only: http to 127.0.0.1 */
	bool auto_authorize;      /* run the code flow itself (CLI/tests) */
	const char *client_id;    /* pre-registered, or NULL */
	const char *client_secret;
	const char *grant_json; /* a stored grant, or NULL */
	/* an https URL serving this client's metadata document: used as
	 * the client id where the authorization server supports client ID
	 * metadata documents (SEP-991), before dynamic registration */
	const char *client_metadata_url;
	const char *proxy, *ca_file;
};

struct rt_oauth_client;

/* A new client (one reference). CLAW_OK, or CLAW_ERR_NOMEM /
 * CLAW_ERR_INVALID (a grant_json that is not a grant) with err set. */
enum claw_rc rt_oauth_client_new(const struct rt_oauth_settings *s,
				 struct rt_oauth_client **out, char *err,
				 size_t errlen);
void rt_oauth_client_ref(struct rt_oauth_client *c);
void rt_oauth_client_unref(struct rt_oauth_client *c);

/* The "Authorization: Bearer ..." header line to send (caller frees),
 * or NULL when there is no token yet. A token that expires within a
 * minute is refreshed first when a refresh token is held. */
char *rt_oauth_auth_header(struct rt_oauth_client *c);

/* The server at server_url answered status (401, or 403 with
 * insufficient_scope) with the WWW-Authenticate value www. Get a new
 * token: refresh once when a refresh token is held, else (auto) run the
 * authorization flow, at most RT_OAUTH_MAX_FLOWS times per client.
 * CLAW_OK when the request may be retried with a new token, else
 * CLAW_ERR_INVALID (a server's document refused), CLAW_ERR_PROTO (an
 * unexpected answer), CLAW_ERR_IO, CLAW_ERR_CRYPTO (the grant expired
 * and cannot be renewed here: the status says so) with err set. */
#define RT_OAUTH_MAX_FLOWS 3
enum claw_rc rt_oauth_on_challenge(struct rt_oauth_client *c,
				   const char *server_url, long status,
				   const char *www, char *err, size_t errlen);

/* The grant's state for status reports: "" when fine, else e.g.
 * "grant expired: ..." (no secret inside). */
void rt_oauth_status(struct rt_oauth_client *c, char *out, size_t outlen);

#endif
