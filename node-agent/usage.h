/*
 * usage.h - what each tenant used, collected from its runtime and handed
 * to the control plane (docs/node-agent.md, "Usage").
 *
 * The runtime serves cumulative counters per process on GET /v1/usage:
 *   {"boot_id", "started_at", "tenants": {T: {"turns", "messages_in",
 *    "messages_out", "tool_calls", "tool_errors", "turn_ms", "providers": {P:
 *    {"requests", "errors", "input_tokens", "output_tokens"}}}}}
 * The agent scrapes it per running tenant, keeps the last values it saw
 * (per tenant: the boot_id and the counters), and turns each scrape into
 * a report of the differences:
 *   {"id" (32 random hex, kept when the report is sent again), "tenant",
 *    "deployment", "at" (RFC 3339), "turns", ..., "providers": {P: {...}}}
 * A changed boot_id means the runtime restarted and its counters began
 * again from 0, so the delta is the counters themselves; a counter that
 * went down (which a runtime must not do) is taken the same way. Nothing
 * changed: no report. Reports wait in `pending` until the control plane
 * took them (POST /v1/agent/usage answered 2xx).
 *
 * The runtime's answer is the tenant's to shape, so it is read as
 * untrusted: only the entry of the tenant that was scraped counts (a
 * runtime cannot report for another tenant), counters are non-negative
 * integers below 2^53 (anything else counts as 0), at most
 * NA_USAGE_PROVIDERS providers with names of [A-Za-z0-9_.:-]{1,64}.
 *
 * Both the last values and the pending reports live in one file,
 * STATE_DIR/usage.json (0600, replaced atomically), so a restarted agent
 * neither loses unsent reports nor counts again what it already counted.
 * At most NA_USAGE_PENDING reports are kept; past that the oldest go (and
 * a warning says how many).
 *
 * The gateway's quota refusals (docs/node-agent.md, "Quotas") come the
 * same way: its GET /metrics line claw_gateway_quota_refusals_total is a
 * total the gateway keeps over its restarts; the agent keeps the last
 * total per tenant (in last[NA_USAGE_REFUSALS_KEY], a key no tenant name
 * can be) and reports an increase as {"quota_refusals": N}. A total that
 * went down (a new data volume) counts from 0.
 *
 * Not thread-safe: one thread (the usage thread, source_cp.c) owns it.
 */
#ifndef NA_USAGE_H
#define NA_USAGE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "claw/err.h"

#define NA_USAGE_PROVIDERS 64
#define NA_USAGE_PENDING 20000
#define NA_USAGE_FILE_MAX (64u << 20)
#define NA_USAGE_REFUSALS_KEY "quota_refusals" /* not a tenant name */

struct na_usage {
	char path[1100];
	json_t *last;          /* tenant -> {"boot_id", "counters"} */
	json_t *pending;       /* reports not yet taken, oldest first */
	unsigned long dropped; /* reports dropped past NA_USAGE_PENDING */
};

/* Load STATE_DIR/usage.json (none yet: empty). A file that cannot be read
 * as ours is logged and started afresh. */
enum claw_rc na_usage_load(struct na_usage *u, const char *state_dir);
/* Write it (tmp file, fsync, rename). */
enum claw_rc na_usage_save(const struct na_usage *u);
void na_usage_release(struct na_usage *u);

/* One scrape of tenant's runtime: doc is its /v1/usage answer (borrowed).
 * Appends a report stamped at (RFC 3339) for deployment when anything
 * changed; true when one was added. A doc without a string boot_id is
 * ignored (false). */
bool na_usage_observe(struct na_usage *u, const char *tenant,
		      const char *deployment, const json_t *doc,
		      const char *at);

/* The body of POST /v1/agent/usage with the oldest n (at most max)
 * pending reports: {"reports": [...]} (new reference; NULL when none). */
json_t *na_usage_body(const struct na_usage *u, size_t max, size_t *n);
/* The control plane took the oldest n. */
void na_usage_sent(struct na_usage *u, size_t n);

/* The gateway's refusal total of tenant now: a report of its increase
 * queued; true when u changed (save it). */
bool na_usage_observe_refusals(struct na_usage *u, const char *tenant,
			       const char *deployment, long long total,
			       const char *at);

#endif
