/*
 * usage.h - token usage per tenant and provider, kept in memory, saved to
 * DATA/usage.json (replaced atomically) so it survives restarts, and
 * served on GET /v1/usage for the node agent to report upstream.
 */
#ifndef RT_USAGE_H
#define RT_USAGE_H

#include <jansson.h>
#include <stdbool.h>

#include "claw/err.h"

struct rt_usage;

/* The totals saved at path (fresh ones when it is absent or unreadable).
 * CLAW_OK with *out released by rt_usage_close (which saves it), or
 * CLAW_ERR_NOMEM. */
enum claw_rc rt_usage_open(const char *path, const char *tenant,
			   struct rt_usage **out);
void rt_usage_close(struct rt_usage *u);
/* One LLM request's outcome. */
void rt_usage_add(struct rt_usage *u, const char *provider, long in_tokens,
		  long out_tokens, bool ok);
void rt_usage_turn(struct rt_usage *u);
/* The totals (new reference). */
json_t *rt_usage_json(struct rt_usage *u);

#endif
