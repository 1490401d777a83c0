/*
 * usage.h - queries on tenants' usage and the node agents' usage reports
 * (migrations/0010_usage.sql). store/usage.c; same rules as store.h.
 *
 * Summing queries return rows of: the key (a bucket's start as RFC 3339
 * UTC text, or a tenant's slug), the provider ('' for the tenant's own
 * counters), then the sums in the column order of enum cp_usage_col.
 */
#ifndef CP_STORE_USAGE_H
#define CP_STORE_USAGE_H

#include <stdbool.h>
#include <libpq-fe.h>

#include "claw/err.h"
#include "usage_report.h"

enum cp_usage_col {
	CP_USC_KEY,
	CP_USC_PROVIDER,
	CP_USC_COUNTS, /* CP_UC__N columns from here */
	CP_USC_PCOUNTS = CP_USC_COUNTS + CP_UC__N, /* then CP_UP__N */
};

/* The id of the live tenant slug placed on node_id; NOT_FOUND when it is
 * not placed there. tenant_id holds CP_ID_MAX. */
enum claw_rc cp_store_usage_placed(PGconn *c, const char *node_id,
				   const char *slug, char *tenant_id);
/* Remember report id of node_id: *fresh false when it was seen before.
 * Forgets the node's ids older than 7 days. */
enum claw_rc cp_store_usage_seen(PGconn *c, const char *node_id, const char *id,
				 bool *fresh);
/* Add report r of tenant_id to its hour's rows. */
enum claw_rc cp_store_usage_add(PGconn *c, const char *tenant_id,
				const struct cp_usage_report *r);
/* Count n refused reports of node_id. */
enum claw_rc cp_store_usage_refused(PGconn *c, const char *node_id,
				    long long n);
/* Every node's refused reports, summed. */
enum claw_rc cp_store_usage_refused_total(PGconn *c, long long *out);

/* The tenant's sums per bucket (unit "hour" or "day") of the hours that
 * start in [since, until) (Unix times), by bucket then provider. */
enum claw_rc cp_store_usage_buckets(PGconn *c, const char *tenant_id,
				    long long since, long long until,
				    const char *unit, PGresult **rows);
/* Every tenant's sums over [since, until), by slug then provider. */
enum claw_rc cp_store_usage_fleet(PGconn *c, long long since, long long until,
				  PGresult **rows);

/* A tenant's quotas (its plan's; -1: none) and what it used of them: turns
 * of this UTC day, input and output tokens of this UTC month. NOT_FOUND
 * when there is no such tenant. */
struct cp_usage_quota {
	long long turns_limit, turns_used;
	long long tokens_limit, tokens_used;
	char message[1025];   /* the plan's quota_message, "" for none */
	char day_reset[32];   /* the next UTC midnight, RFC 3339 */
	char month_reset[32]; /* the next month's first UTC midnight */
};
enum claw_rc cp_store_usage_quota(PGconn *c, const char *tenant_id,
				  struct cp_usage_quota *out);

/* Record whether each quota of tenant_id is exhausted now; *was_* tell
 * what was recorded before (false when nothing was). */
enum claw_rc cp_store_quota_mark(PGconn *c, const char *tenant_id,
				 bool turns_out, bool tokens_out,
				 bool *was_turns_out, bool *was_tokens_out);
/* A new generation for the node the tenant is placed on (its long poll
 * answers; none when it is not placed). */
enum claw_rc cp_store_quota_wake(PGconn *c, const char *tenant_id);
/* The ids of the live tenants on plan, one per row. */
enum claw_rc cp_store_plan_tenants(PGconn *c, const char *plan,
				   PGresult **rows);

#endif
