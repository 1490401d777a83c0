/*
 * mcp.h - Model Context Protocol client: one handle per configured server,
 * over stdio (a child process speaking newline-delimited JSON-RPC 2.0) or
 * Streamable HTTP (POST with JSON or SSE answers, a session id, the GET
 * stream with Last-Event-ID resumption).
 *
 * rt_mcp_start runs the lifecycle: initialize (offering the newest
 * protocol version and accepting the ones we know), the initialized
 * notification, then tools/list with paging. Calls are thread-safe; a call
 * that times out is cancelled with notifications/cancelled. A stdio server
 * that dies is restarted with exponential backoff on the next use.
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

struct rt_mcp_net {
	const char *proxy;   /* for URL servers, or NULL */
	const char *ca_file; /* or NULL */
};

/* Create the client and connect. A server that cannot be reached still
 * gives a handle (calls retry the connection with backoff) and err says
 * why (err is left as it was when the server is up); CLAW_ERR_NOMEM only
 * when the handle cannot be made. cfg and net must outlive the handle;
 * rt_mcp_stop releases it. */
enum claw_rc rt_mcp_start(const struct rt_mcp_server_cfg *cfg,
			  const struct rt_mcp_net *net, struct rt_mcp **out,
			  char *err, size_t errlen);
void rt_mcp_stop(struct rt_mcp *m);
const char *rt_mcp_name(const struct rt_mcp *m);
/* Whether the server is up and initialized now. */
bool rt_mcp_ready(struct rt_mcp *m);
/* The server's tools as MCP Tool objects (new reference; [] when down). */
json_t *rt_mcp_tools(struct rt_mcp *m);
/* tools/call (args borrowed). *result: the CallToolResult (new reference;
 * NULL on failure). CLAW_OK, or with err set: CLAW_ERR_TIMEOUT (the call
 * is cancelled), CLAW_ERR_IO (the server is down or its transport failed),
 * CLAW_ERR_INVALID (a JSON-RPC error answer), CLAW_ERR_PROTO (a malformed
 * answer), CLAW_ERR_NOT_FOUND (a stdio program that is not there),
 * CLAW_ERR_NOMEM. */
enum claw_rc rt_mcp_call_tool(struct rt_mcp *m, const char *tool, json_t *args,
			      long timeout_ms, json_t **result, char *err,
			      size_t errlen);
/* A CallToolResult as text for the model (text as is, images and audio
 * described, resources inlined when text); at most max bytes. Caller
 * frees. */
char *rt_mcp_result_text(json_t *result, size_t max, bool *is_error);

#endif
