/*
 * oauth.h - the runtime's OAuth 2.1 client for remote (Streamable HTTP)
 * MCP servers (MCP authorization spec). The protocol pieces (challenge,
 * RFC 9728 / RFC 8414 discovery and checks, PKCE S256, registration, the
 * token request and its checked answer) are libclaw's claw/oauth.h,
 * shared with the control plane; this is the per-server client that holds
 * a grant, refreshes it, and (headless, CLI and tests) runs the code flow.
 */
#ifndef RT_OAUTH_H
#define RT_OAUTH_H

#include <stdbool.h>
#include <stddef.h>

#include "claw/err.h"
#include "claw/oauth.h"

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
