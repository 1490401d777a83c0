/*
 * tools.h - the tools the model may call: every tool of every configured
 * MCP server (exposed as "server__tool") and the built-in memory tools,
 * filtered by the tenant's allow-list. Tool results go back to the model
 * wrapped as untrusted external content.
 */
#ifndef RT_TOOLS_H
#define RT_TOOLS_H

#include <jansson.h>
#include <stdbool.h>
#include "claw/err.h"
#include "config.h"

struct rt_tools;

struct rt_tool_ctx {
	const char *sender_key; /* "channel:sender-id", for memory */
};

/* Starts every MCP server (a server that is down is logged and retried
 * later). cfg must outlive the registry; rt_tools_close releases it.
 * CLAW_OK, or CLAW_ERR_NOMEM with err set. */
enum claw_rc rt_tools_open(const struct rt_config *cfg, const char *memory_dir,
			   struct rt_tools **out, char *err, size_t errlen);
void rt_tools_close(struct rt_tools *t);
/* Allowed tools in the neutral shape of llm.h (new reference). */
json_t *rt_tools_list(struct rt_tools *t);
/* Run one call; never fails hard: an error becomes an error result. The
 * returned text (caller frees) is ready for the model. */
char *rt_tools_call(struct rt_tools *t, const struct rt_tool_ctx *ctx,
		    const char *name, json_t *args, long timeout_ms,
		    bool *is_error);
/* Number of MCP servers configured and up. */
void rt_tools_counts(struct rt_tools *t, size_t *servers, size_t *up);

#endif
