/*
 * approval_audit.h - the tenants' tool-call approvals into the control
 * plane's audit log (docs/fleet.md, "Approvals in the audit log"; the control plane's side
 * is controlplane/api/approval_audit.c).
 *
 * Approvals live in each tenant's runtime (runtime/approvals.h). Every
 * record carries a "rev" set when it is created and again when it is
 * decided or expires; revs only grow. Each pass, for every tenant whose
 * runtime runs here, the agent asks the runtime's audit feed (GET
 * /v1/approvals?after=CURSOR, with the runtime's admin token, rpc.h) for
 * what changed past its cursor, turns each record into events (a
 * "request" for every record, and a "decision" for a decided or expired
 * one) and posts them (POST /v1/agent/approvals); the cursor moves on
 * only when the control plane took them. The events carry tenant,
 * approval id, tool, category, channel, sender, decision, decided_by and
 * times; never the tool's arguments (the feed has none).
 *
 * Exactly once is the control plane's (one row per tenant, approval and
 * event, whatever is reported again): cursors are in memory only, so a
 * restarted agent reports each tenant's records again from the start, and
 * a runtime whose newest rev is below the cursor (its volume was replaced)
 * is read again from the start. A feed that is not what the runtime
 * sends (it is the tenant's container: untrusted) is logged and skipped;
 * a body the control plane refuses as malformed (400, 422) is dropped
 * (logged) so it does not block what follows; any other failure is tried
 * again at the next pass.
 *
 * One thread (source_cp.c's) runs the passes; the state is not locked.
 */
#ifndef NA_APPROVAL_AUDIT_H
#define NA_APPROVAL_AUDIT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "agent.h"

#define NA_APR_PAGE_MAX 500 /* changes in one page of a feed */

struct na_apr_audit;

struct na_apr_audit *na_apr_audit_new(void);
void na_apr_audit_free(struct na_apr_audit *st);

/* Post body (a JSON text) to the control plane's /v1/agent/approvals:
 * the HTTP status, 0 when no answer came; a refusal's error message (up
 * to msglen bytes) into msg. */
typedef long (*na_apr_post_fn)(void *cls, const char *body, char *msg,
			       size_t msglen);

/* One pass over the tenants of a's snapshot whose runtime runs. */
void na_apr_audit_pass(struct na_agent *a, struct na_apr_audit *st,
		       na_apr_post_fn post, void *cls);

/* The events of one page of tenant's feed (the runtime's answer to
 * ?after=after: {"changes": [...], "rev": N, "more": bool}): an array
 * (new reference) with *next the cursor once they are taken and *more
 * whether pages follow; a feed whose rev is below after gives no events,
 * *next 0 and *more true (read again from the start). A change that is
 * not a well-formed record (*skipped counts them) gives no event, and the
 * cursor passes it. NULL with err set when the feed itself is malformed
 * (the cursor stays). Pure (the unit tests and the fuzzer). */
json_t *na_apr_events(const char *tenant, const json_t *feed, long long after,
		      long long *next, bool *more, size_t *skipped, char *err,
		      size_t errlen);

#endif
