/*
 * tools.h - the tools the model may call: every tool of every configured
 * MCP server (exposed as "server__tool") and the built-in memory tools,
 * filtered by the tenant's allow-list. Tool results go back to the model
 * wrapped as untrusted external content.
 */
#ifndef RT_TOOLS_H
#define RT_TOOLS_H

#include <jansson.h>
#include <stdatomic.h>
#include <stdbool.h>
#include "claw/err.h"
#include "config.h"
#include "mcp.h"

struct rt_tools;

/* Ask the turn's chat user an MCP server's elicitation (schema checked)
 * and wait for the answer: the action, and for accept *content (new
 * reference). */
typedef enum rt_elicit_action (*rt_tool_ask_fn)(void *cls, const char *server,
						const char *message,
						json_t *schema,
						json_t **content);

struct rt_tool_ctx {
	const char *sender_key; /* "channel:sender-id", for memory */
	rt_tool_ask_fn ask;     /* or NULL: nobody to ask */
	void *ask_cls;
	atomic_llong asked_ms; /* time spent waiting for the user */
};

/* Starts every MCP server (a server that is down is logged and retried
 * later). With the "ask" elicitation setting, a server's elicitation
 * during a tool call goes to the call's ctx->ask (declined when it has
 * none); with "decline", every one is declined at once. cfg must outlive
 * the registry; rt_tools_close releases it. CLAW_OK, or CLAW_ERR_NOMEM
 * with err set. */
enum claw_rc rt_tools_open(const struct rt_config *cfg, const char *memory_dir,
			   struct rt_tools **out, char *err, size_t errlen);
void rt_tools_close(struct rt_tools *t);
/* Allowed tools in the neutral shape of llm.h (new reference). */
json_t *rt_tools_list(struct rt_tools *t);
/* Run one call; never fails hard: an error becomes an error result. The
 * returned text (caller frees) is ready for the model. ctx must stay
 * valid during the call (elicitations of the call use it). */
char *rt_tools_call(struct rt_tools *t, struct rt_tool_ctx *ctx,
		    const char *name, json_t *args, long timeout_ms,
		    bool *is_error);
/* Number of MCP servers configured and up. */
void rt_tools_counts(struct rt_tools *t, size_t *servers, size_t *up);
/* {"server": "grant expired: ..."} for each OAuth server whose grant is
 * not fine (new reference; {} when all are). */
json_t *rt_tools_auth_status(struct rt_tools *t);
/* The names of the MCP servers not ready now (down, reconnecting, not
 * yet initialized), in config order; new reference ([] when none). Their
 * tools are missing from the turns meanwhile; the others' are offered. */
json_t *rt_tools_down(struct rt_tools *t);

#endif
