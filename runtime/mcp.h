/*
 * mcp.h - Model Context Protocol client: one handle per configured server,
 * over stdio (a child process speaking newline-delimited JSON-RPC 2.0) or
 * Streamable HTTP (POST with JSON or SSE answers, a session id, the
 * standalone GET stream and Last-Event-ID resumption of each stream).
 *
 * rt_mcp_start runs the lifecycle: initialize (offering the newest
 * protocol version and accepting the ones we know, declaring form
 * elicitation), the initialized notification, the standalone GET stream
 * (HTTP: opened then, before any other request), then tools/list with
 * paging. Calls are thread-safe; a call that times out is cancelled with
 * notifications/cancelled. A stdio server that dies is restarted with
 * exponential backoff on the next use.
 *
 * The server's own requests are answered whichever stream brings them:
 * ping at once; elicitation/create through the environment's elicit
 * callback (on a thread of its own, the timeout of the tool call it
 * belongs to paused while the user is asked) or declined at once without
 * one; every accepted answer is checked against the requested schema
 * (elicit.h) before it is sent; sampling and roots, which this client
 * does not offer, get a JSON-RPC error.
 */
#ifndef RT_MCP_H
#define RT_MCP_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include "claw/err.h"
#include "config.h"

#define RT_MCP_VERSION_LATEST "2025-11-25"

struct rt_mcp;

enum rt_elicit_action {
	RT_ELICIT_DECLINE,
	RT_ELICIT_ACCEPT,
	RT_ELICIT_CANCEL,
};

/* Ask the user an elicitation (form mode; schema already checked, both
 * borrowed). call_ctx: what the caller gave rt_mcp_call_tool_ctx for the
 * tool call the request belongs to, or NULL when it belongs to none that
 * can be told (then no user should be asked). Runs on a thread of its own
 * and may block until the user answers. Returns the action; for accept,
 * the answer in *content (new reference), which is then completed with
 * the schema's defaults and checked: an answer that does not fit is
 * declined. */
typedef enum rt_elicit_action (*rt_mcp_elicit_fn)(void *cls, void *call_ctx,
						  const char *server,
						  const char *message,
						  json_t *schema,
						  json_t **content);

struct rt_mcp_net {
	const char *proxy;   /* for URL servers, or NULL */
	const char *ca_file; /* or NULL */
	/* NULL: every elicitation is declined at once */
	rt_mcp_elicit_fn elicit;
	void *elicit_cls;
	long elicit_timeout_ms; /* the longest elicit may take */
	/* URL servers: the OAuth client that answers a 401 (oauth.h), or
	 * NULL; rt_mcp_start takes a reference of its own. */
	struct rt_oauth_client *oauth;
};

/* Create the client and connect. A server that cannot be reached still
 * gives a handle (calls retry the connection with backoff) and err says
 * why (err is left as it was when the server is up); CLAW_ERR_NOMEM only
 * when the handle cannot be made. cfg must outlive the handle (the HTTP
 * transport keeps its own copies, so its threads may end later); net is
 * copied. rt_mcp_stop releases it. */
enum claw_rc rt_mcp_start(const struct rt_mcp_server_cfg *cfg,
			  const struct rt_mcp_net *net, struct rt_mcp **out,
			  char *err, size_t errlen);
/* Stop: waits for the threads that answer the server's requests (an
 * elicit callback must return), ends the session; other transport
 * threads end by themselves and hold their own reference. */
void rt_mcp_stop(struct rt_mcp *m);
const char *rt_mcp_name(const struct rt_mcp *m);
/* Whether the server is up and initialized now. */
bool rt_mcp_ready(struct rt_mcp *m);
/* The OAuth grant's state ("" when fine or not OAuth; else e.g. "grant
 * expired: ..."), for status reports. */
void rt_mcp_auth_status(struct rt_mcp *m, char *out, size_t outlen);
/* The server's tools as MCP Tool objects (new reference; [] when down). */
json_t *rt_mcp_tools(struct rt_mcp *m);
/* tools/call (args borrowed). *result: the CallToolResult (new reference;
 * NULL on failure). CLAW_OK, or with err set: CLAW_ERR_TIMEOUT (the call
 * is cancelled), CLAW_ERR_IO (the server is down or its transport failed),
 * CLAW_ERR_INVALID (a JSON-RPC error answer), CLAW_ERR_PROTO (a malformed
 * answer or an unexpected HTTP status), CLAW_ERR_NOT_FOUND (a stdio
 * program that is not there), CLAW_ERR_NOMEM. */
enum claw_rc rt_mcp_call_tool(struct rt_mcp *m, const char *tool, json_t *args,
			      long timeout_ms, json_t **result, char *err,
			      size_t errlen);
/* The same, with call_ctx handed to the elicit callback for the server's
 * requests that belong to this call. */
enum claw_rc rt_mcp_call_tool_ctx(struct rt_mcp *m, void *call_ctx,
				  const char *tool, json_t *args,
				  long timeout_ms, json_t **result, char *err,
				  size_t errlen);
/* A CallToolResult as text for the model (text as is, images and audio
 * described, resources inlined when text); at most max bytes. Caller
 * frees. */
char *rt_mcp_result_text(json_t *result, size_t max, bool *is_error);

#endif
