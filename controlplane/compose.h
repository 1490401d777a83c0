/*
 * compose.h - a deploy's configs built from the tenant's resources
 * (resources.h) and the fleet's defaults (docs/resources.md,
 * "Composition").
 *
 * gateway_config: the fleet's default gateway config (or {}), "tenant" the
 * slug, each channel resource as channels.KIND (with the policies
 * resource's channels.KIND laid over it), egress_allow the default's plus
 * what the model and the remote tools need (host:port of their URLs and
 * each tool's "egress").
 *
 * runtime_config: the fleet's default runtime config (or {}), "tenant" the
 * slug; the model resource replaces "providers" (the main provider named
 * "main", the fallback "fallback") and "limits" when it has them;
 * remote tools are appended to "mcp_servers" (their secrets as
 * header_secrets) and "allow" becomes tools.allow; the policies'
 * tool_policy, tool_categories and elicitation replace the default's; the
 * persona resource becomes "persona" ({"soul", "agents", "skills"}, the
 * runtime's inline persona, docs/runtime.md) unless the default runtime
 * config names a "workspace" (config-as-code keeps its repository's).
 *
 * Outside the two configs: "persona" (the same texts, for whoever shows or
 * compares them), "tool_servers" (the sandboxed image tools,
 * for the node agent to start beside the runtime), and "versions", the
 * resource versions used ({"channels": {KIND: N}, "persona": N, ...}),
 * which a deployment records so that cp_compose with those versions
 * rebuilds exactly what it ran (a rollback restores them).
 */
#ifndef CP_COMPOSE_H
#define CP_COMPOSE_H

#include <jansson.h>
#include <libpq-fe.h>

#include "claw/err.h"
#include "cp.h"

struct cp_composed {
	json_t *gateway_config; /* each a new reference, or NULL */
	json_t *runtime_config;
	json_t *persona;      /* NULL: the tenant has none */
	json_t *tool_servers; /* an array (empty: none) */
	json_t *versions;     /* an object */
};

/* Pure: compose from res (as cp_store_res_set gives it) and the defaults
 * (each may be NULL). CLAW_ERR_NOMEM, else CLAW_OK with *out filled
 * (release with cp_composed_release). */
enum claw_rc cp_compose_build(const json_t *res, const char *slug,
			      const json_t *default_gateway_config,
			      const json_t *default_runtime_config,
			      struct cp_composed *out);

/* Load the tenant's resources on c (versions NULL: the current ones; else
 * the versions a deployment recorded) and compose them with the fleet's
 * defaults of fc. NOT_FOUND when a recorded version is gone; the store's
 * codes otherwise. */
enum claw_rc cp_compose(PGconn *c, const struct cp_fleet_config *fc,
			const char *tenant_id, const char *slug,
			const json_t *versions, struct cp_composed *out);

void cp_composed_release(struct cp_composed *c);

#endif
