/*
 * usage.h - what the tenant used, counted cheaply on the turn's path and
 * served on GET /v1/usage for the node agent to collect.
 *
 * Two views of the same counters:
 *  - since boot: per tenant (turns, messages in and out, tool calls and
 *    errors, the turns' milliseconds summed) and per provider (requests, errors, input and output tokens),
 *    from zero at rt_usage_open, with a random boot_id. A collector keeps
 *    (boot_id, last counters): the same boot_id means "add the difference",
 *    a new one means the counters restarted (process start or reload) and
 *    the whole value is new.
 *  - the totals since "since", saved to DATA/usage.json (replaced
 *    atomically, at most once a second and at close) so they survive
 *    restarts: the shape older consumers read.
 *
 * Counting is lock-free (atomic adds); a provider seen for the first time
 * takes a mutex once. See docs/runtime.md for the JSON.
 */
#ifndef RT_USAGE_H
#define RT_USAGE_H

#include <jansson.h>
#include <stdbool.h>

#include "claw/err.h"

struct rt_usage;

/* The per-tenant counters of rt_usage_count. */
enum rt_usage_event {
	RT_USAGE_TURNS,        /* messages the agent ran a turn for */
	RT_USAGE_MESSAGES_IN,  /* messages accepted, redeliveries included */
	RT_USAGE_MESSAGES_OUT, /* replies sent */
	RT_USAGE_TOOL_CALLS,   /* tool calls the model asked for */
	RT_USAGE_TOOL_ERRORS,  /* of which ended in an error result */
	RT_USAGE_TURN_MS,      /* milliseconds the turns took, summed */
	RT_USAGE_EVENTS
};

/* The totals saved at path (fresh ones when it is absent or unreadable),
 * counted for tenant, with a new boot_id (needs claw_crypto_init).
 * CLAW_OK with *out released by rt_usage_close (which saves it), or
 * CLAW_ERR_NOMEM. */
enum claw_rc rt_usage_open(const char *path, const char *tenant,
			   struct rt_usage **out);
void rt_usage_close(struct rt_usage *u);
/* One LLM request's outcome (provider NULL counts as "unknown"). */
void rt_usage_add(struct rt_usage *u, const char *provider, long in_tokens,
		  long out_tokens, bool ok);
/* n more of what. */
void rt_usage_count(struct rt_usage *u, enum rt_usage_event what, long n);
/* A turn starts: rt_usage_count(u, RT_USAGE_TURNS, 1). */
void rt_usage_turn(struct rt_usage *u);
/* The saved totals plus "boot_id", "started_at" and "tenants" (new
 * reference, or NULL without memory). */
json_t *rt_usage_json(struct rt_usage *u);
/* This epoch's boot_id (32 hex characters, borrowed). */
const char *rt_usage_boot_id(const struct rt_usage *u);

#endif
