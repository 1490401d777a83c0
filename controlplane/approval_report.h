/*
 * approval_report.h - what the node agents report of the tenants' tool-call
 * approvals as the control plane reads it: the body of POST
 * /v1/agent/approvals checked into plain structs. Pure functions
 * (approval_report.c), so the unit tests and the fuzzer run exactly what
 * the handler (api/approval_audit.c) runs; docs/fleet.md, "Approvals in the audit log".
 *
 *   {"events": [{"tenant": SLUG, "approval": "apr_...",
 *                "event": "request" | "decision",
 *                "tool": NAME, "category": NAME, "channel": NAME,
 *                "sender": ID, "at": UNIX_S, "expires": UNIX_S,
 *                "decision": "approved" | "denied" | "expired",
 *                "decided_by": WHO}]}
 *
 * A request carries no decision and no decided_by; a decision carries
 * both ("expired" is decided by "expiry"). category, channel, sender and
 * expires are optional. Never the tool's arguments: there is no field for
 * them, and an unknown field refuses the whole body.
 */
#ifndef CP_APPROVAL_REPORT_H
#define CP_APPROVAL_REPORT_H

#include <stdbool.h>
#include <stddef.h>

#include "claw/json.h"
#include "cp.h"

#define CP_APR_EVENTS_MAX 500
#define CP_APR_ID_MAX 64
#define CP_APR_TOOL_MAX 200
#define CP_APR_NAME_MAX 64    /* category, channel */
#define CP_APR_SENDER_MAX 256 /* a channel's user id */
#define CP_APR_BY_MAX 300     /* "chat:CHANNEL:USER", "admin tok_..." */

enum cp_apr_event_kind {
	CP_APR_REQUEST,
	CP_APR_DECISION,
};

struct cp_apr_event {
	char tenant[CP_SLUG_MAX + 1];
	char approval[CP_APR_ID_MAX + 1];
	enum cp_apr_event_kind kind;
	char tool[CP_APR_TOOL_MAX + 1];
	char category[CP_APR_NAME_MAX + 1]; /* "" when none */
	char channel[CP_APR_NAME_MAX + 1];  /* "" when none */
	char sender[CP_APR_SENDER_MAX + 1]; /* "" when none */
	char decision[16];                  /* "" for a request */
	char decided_by[CP_APR_BY_MAX + 1]; /* "" for a request */
	long long at;                       /* unix seconds */
	long long expires;                  /* 0 when not given */
};

struct cp_apr_batch {
	size_t n;
	struct cp_apr_event *events; /* n of them; owned */
};

/* Check body into *out. 0, or -1 with *p filled (BAD_JSON, UNKNOWN_FIELD,
 * MISSING_FIELD or INVALID_FIELD with the field's path, e.g.
 * "events[2].decision") and *out empty. Release *out with
 * cp_apr_batch_release either way. */
int cp_apr_parse(const json_t *body, struct cp_apr_batch *out,
		 struct claw_json_problem *p);
void cp_apr_batch_release(struct cp_apr_batch *b);

/* The audit action of e: "approval.request", "approval.decided" or
 * "approval.expired" (static). */
const char *cp_apr_action(const struct cp_apr_event *e);

#endif
