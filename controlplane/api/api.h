/*
 * api.h - the route tables of the control plane's REST API.
 *
 * Each api/NAME.c exports its routes as one array and its length:
 *
 *   const struct claw_route cp_routes_NAME[] = {
 *       {"GET", "/v1/things/{id}", thing_get, NULL}, ...
 *   };
 *   CP_ROUTES_COUNT(NAME);
 *
 * and is registered with one line here (CP_ROUTES_DECLARE(NAME);) and one
 * line in the table of routes.c. Handlers receive the struct cp_ctx * as
 * ctx. Every route must also be described in controlplane/openapi.json
 * (a test compares the two).
 */
#ifndef CP_API_H
#define CP_API_H

#include <stddef.h>
#include "claw/httpd.h"

#define CP_ROUTES_DECLARE(x)                                                   \
	extern const struct claw_route cp_routes_##x[];                        \
	extern const size_t cp_routes_##x##_n
#define CP_ROUTES_COUNT(x)                                                     \
	const size_t cp_routes_##x##_n =                                       \
		sizeof(cp_routes_##x) / sizeof(cp_routes_##x[0])

CP_ROUTES_DECLARE(ops);       /* healthz, readyz, metrics, openapi */
CP_ROUTES_DECLARE(tenants);   /* /v1/tenants */
CP_ROUTES_DECLARE(tokens);    /* /v1/tokens */
CP_ROUTES_DECLARE(secrets);   /* /v1/tenants/{t}/secrets */
CP_ROUTES_DECLARE(audit);     /* /v1/audit */
CP_ROUTES_DECLARE(keys);      /* /v1/admin/keys */
CP_ROUTES_DECLARE(web);       /* the dashboard: /, /ui/{file} */
CP_ROUTES_DECLARE(nodes);     /* /v1/nodes: join, cordon, drain, revoke */
CP_ROUTES_DECLARE(agent);     /* /v1/agent: the node agents' API */
CP_ROUTES_DECLARE(deploy);    /* /v1/tenants/{t}/deploy and friends */
CP_ROUTES_DECLARE(events);    /* /v1/events (server-sent events) */
CP_ROUTES_DECLARE(logs);      /* /v1/tenants/{t}/logs relay */
CP_ROUTES_DECLARE(plans);     /* /v1/plans: the operator's plans */
CP_ROUTES_DECLARE(domains);   /* /v1/tenants/{t}/domains, /v1/edge/ask */
CP_ROUTES_DECLARE(usage);     /* /v1/agent/usage, /v1/{tenants/{t}/,}usage */
CP_ROUTES_DECLARE(rollouts);  /* /v1/rollouts: fleet rollouts */
CP_ROUTES_DECLARE(alerts);    /* /v1/alerts: alerts, notification targets */
CP_ROUTES_DECLARE(chat);      /* /v1/tenants/{t}/chat: the chat relay */
CP_ROUTES_DECLARE(resources); /* /v1/tenants/{t}/channels, persona, ... */
CP_ROUTES_DECLARE(templates); /* /v1/templates: resource templates */
CP_ROUTES_DECLARE(approvals); /* /v1/{tenants/{t}/,}approvals relay */
CP_ROUTES_DECLARE(approval_audit); /* /v1/agent/approvals */
CP_ROUTES_DECLARE(oauth); /* /v1/tenants/{t}/mcp/{s}/connect, callback */

/* The answer of a node's report of its tenants (api/approval_audit.c;
 * POST /v1/agent/approvals and /v1/agent/usage): rc's error, or
 * 200 {"accepted": N, "repeated": N (when not 0), "refused": [{tenant,
 * code}] (when any)}, refusals logged naming node and what was reported.
 * refused_steal is released. */
void cp_reply_agent_report(struct claw_http_req *req, enum claw_rc rc,
			   const char *what, const char *node,
			   long long accepted, long long repeated,
			   json_t *refused_steal);

/* All routes of the daemon, concatenated (routes.c). The array is
 * allocated; free it with free(). */
int cp_routes_build(struct claw_route **out, size_t *n);

#endif
