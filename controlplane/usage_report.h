/*
 * usage_report.h - what the node agents report of each tenant's use (turns,
 * messages, tool calls, tokens per provider) as the control plane reads
 * it: the body of POST /v1/agent/usage checked into plain structs, and
 * RFC 3339 times. Pure functions (usage_report.c), so the unit tests and the
 * fuzzer run exactly what the handler runs; the storing is
 * store/usage.c, the routes api/usage.c (docs/fleet.md, "Usage").
 *
 * A report is a set of deltas (each 0..CP_USAGE_VALUE_MAX) counted in the
 * hour that holds its "at". Its optional "id" (1..64 bytes of
 * A-Z a-z 0-9 _ . : -) makes it safe to send again after a lost reply: a
 * node's repeated id is ignored.
 */
#ifndef CP_USAGE_REPORT_H
#define CP_USAGE_REPORT_H

#include <stdbool.h>
#include <stddef.h>

#include "claw/json.h"
#include "cp.h"

#define CP_USAGE_REPORTS_MAX 500
#define CP_USAGE_PROVIDERS_MAX 64
#define CP_USAGE_ID_MAX 64
#define CP_USAGE_PROVIDER_MAX 64
#define CP_USAGE_VALUE_MAX 1000000000000LL

/* The tenant's own counters, in the order of the report's fields. */
enum cp_usage_count {
	CP_UC_TURNS,
	CP_UC_MESSAGES_IN,
	CP_UC_MESSAGES_OUT,
	CP_UC_TOOL_CALLS,
	CP_UC_TOOL_ERRORS,
	CP_UC_QUOTA_REFUSALS, /* messages the gateway refused (quotas) */
	CP_UC_TURN_MS,        /* the turns' milliseconds, summed */
	CP_UC__N,
};

/* A provider's counters. */
enum cp_usage_pcount {
	CP_UP_REQUESTS,
	CP_UP_ERRORS,
	CP_UP_INPUT_TOKENS,
	CP_UP_OUTPUT_TOKENS,
	CP_UP__N,
};

/* Field names of both ("turns", ..., "output_tokens"); static. */
extern const char *const cp_usage_count_names[CP_UC__N];
extern const char *const cp_usage_pcount_names[CP_UP__N];

struct cp_usage_provider {
	char name[CP_USAGE_PROVIDER_MAX + 1];
	long long v[CP_UP__N];
};

struct cp_usage_report {
	char id[CP_USAGE_ID_MAX + 1]; /* "" when the report has none */
	char tenant[CP_SLUG_MAX + 1];
	long long hour; /* Unix time of the start of the hour of "at" */
	long long v[CP_UC__N];
	size_t n_providers;
	struct cp_usage_provider *providers; /* n_providers; owned */
};

struct cp_usage_batch {
	size_t n;
	struct cp_usage_report *reports; /* n of them; owned */
};

/* Check body ({"reports": [...]}, as docs/fleet.md "Usage" says) into
 * *out. 0, or -1 with *p filled (UNKNOWN_FIELD, MISSING_FIELD or
 * INVALID_FIELD with the field's path, e.g. "reports[2].providers.x") and
 * *out empty. Release *out with cp_usage_batch_release either way. */
int cp_usage_parse(const json_t *body, struct cp_usage_batch *out,
		   struct claw_json_problem *p);
void cp_usage_batch_release(struct cp_usage_batch *b);

struct claw_db;
struct claw_buf;
/* Append the usage series of /metrics to out (usage_metrics.c): per
 * tenant turns, messages, tool calls and tokens, and the refused
 * reports. Nothing when the database is down. */
enum claw_rc cp_usage_metrics_render(struct claw_db *db, struct claw_buf *out);

/* An RFC 3339 time (2026-01-31T12:00:00Z, fractions and a +hh:mm offset
 * allowed, years 1970..9999) as Unix time; false when s is not one. */
bool cp_rfc3339_parse(const char *s, long long *out);

#endif
