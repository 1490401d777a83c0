/*
 * toolsrv.h - a tenant's tool servers (issue 14): the MCP servers it
 * declares in its assignment's "tool_servers", each run by the node agent
 * as a container of its own on the tenant's internal network, never
 * inside the runtime's container.
 *
 *   "tool_servers": [{"name": "everything",          (1-32 [A-Za-z0-9_-])
 *      "image": "127.0.0.1:5000/claw/toolserver-node:1",
 *      "command": ["node", "/opt/mcp/.../index.js"],  (1-64 strings)
 *      "env": {"VAR": "value"},                       (optional)
 *      "secrets": {"VAR": "value"},                   (optional: files)
 *      "egress": ["api.example.com:443"],             (optional)
 *      "limits": {"cpus": 0.25, "memory_mb": 128, "pids": 64},
 *      "scratch_mb": 16,                              (tmpfs /tmp)
 *      "timeout_ms": 60000}]                          (the runtime's)
 *
 * Each runs hardened as the gateway and runtime (spec.c): read-only root,
 * every capability dropped, no-new-privileges, the agent's seccomp
 * profile, the tenant's host uid, pids/memory/CPU limits, a size-limited
 * tmpfs /tmp, no restart policy. Its entrypoint is claw-mcp-bridge
 * (docs/mcp-bridge.md), bound read-only from the host at /claw/mcp-bridge,
 * which starts `command` and serves its stdio as Streamable HTTP on port
 * 8080 behind a bearer token. The token is per deployment (a keyed hash of
 * tenant, deployment, generation and name under the agent's own key,
 * files.h), and reaches the container only as a file
 * (/run/claw/secrets/claw-mcp-token, with the server's own secrets beside
 * it), never in its environment or labels. Its only way out is the
 * gateway's egress proxy (HTTP(S)_PROXY): the tenant network is internal.
 *
 * na_toolsrv_prepare lays the servers into the tenant's configs: each
 * becomes an "http" entry of the runtime's mcp_servers
 * (http://tool-NAME:8080/mcp, its token as the secret mcp_token_NAME sent
 * as the Authorization header) and its egress entries join the gateway's
 * egress_allow.
 *
 * The reconcile thread alone calls the rest; the servers' state lives
 * here, keyed by tenant. Their operations are the agent's own (ops.h)
 * with role NA_TOOLSRV_ROLE + index and the container's name in op->name.
 */
#ifndef NA_TOOLSRV_H
#define NA_TOOLSRV_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "claw/err.h"
#include "desired.h"

#define NA_TOOLSRV_MAX 32
#define NA_TOOLSRV_PORT 8080
#define NA_TOOLSRV_ROLE 100 /* op->role of a tool server's operations */
#define NA_TOOLSRV_TOKEN_FILE "claw-mcp-token"
/* The host's claw-mcp-bridge, unless CLAW_NODE_AGENT_MCP_BRIDGE names
 * another. */
#define NA_TOOLSRV_BRIDGE "/usr/libexec/claw/claw-mcp-bridge"

struct na_agent;
struct na_tenant;
struct na_op;
struct na_event;

/* Check a tenant entry's "tool_servers" (NULL: none) for tenant t (its
 * runtime image set): fields, bounds, names unique and not already among
 * the runtime config's mcp_servers, and each image from the registry of
 * the runtime's image (the fleet's image policy, as far as a node knows
 * it). msg names the server and field; never quotes a secret value. */
enum claw_rc na_toolsrv_check(const struct na_tenant_spec *t,
			      const json_t *servers, char *msg, size_t msglen);

/* The entry of tenant in d's document, its "tool_servers" array (NULL:
 * none; borrowed). */
const json_t *na_toolsrv_of(const struct na_desired *d, const char *tenant);

/* The bearer token of server `name` of the deployment of t (64 hex),
 * keyed by key. */
void na_toolsrv_token(const unsigned char key[32],
		      const struct na_tenant_spec *t, const char *name,
		      char out[65]);

/* Lay every tenant's tool servers into its runtime and gateway configs
 * and its runtime's secrets (see above); d's specs are updated where a
 * config or secrets object had to be made. CLAW_ERR_NOMEM only. */
enum claw_rc na_toolsrv_prepare(struct na_desired *d,
				const unsigned char key[32]);

struct na_toolsrv_paths {
	const char *bridge;      /* host path of claw-mcp-bridge */
	const char *secrets_dir; /* host dir bound to /run/claw/secrets */
	const char *node;        /* claw.node */
	unsigned long uid;       /* the tenant's host uid */
	const char *seccomp;     /* "seccomp=<profile>" */
	const char *seccomp_hash;
	const char *hash; /* claw.config-hash */
	int slot;         /* the tenant network's slot */
};

/* "claw-TENANT-tool-NAME". */
void na_toolsrv_container_name(const char *tenant, const char *name, char *out,
			       size_t outlen);
/* The body of POST /containers/create for one server (an element of
 * "tool_servers"), pinned to image_ref. New reference, NULL when out of
 * memory. */
json_t *na_toolsrv_spec(const struct na_tenant_spec *t, const json_t *server,
			const char *image_ref,
			const struct na_toolsrv_paths *p);

/* Reconcile thread. */
void na_toolsrv_reconcile(struct na_agent *a, struct na_tenant *t,
			  const struct na_tenant_spec *s, double now,
			  double *next);
/* Apply a finished operation of a tool server (role >= NA_TOOLSRV_ROLE);
 * t may be NULL (the tenant is gone). */
void na_toolsrv_apply(struct na_agent *a, struct na_tenant *t, struct na_op *op,
		      double now);
/* A Docker event of a tool server container: true when it was one. */
bool na_toolsrv_event(struct na_agent *a, const struct na_event *ev,
		      double now);
/* A container of the agent's listing (/containers/json, at start-up or
 * a resync): a tool server's is adopted (id, address, state, what it was
 * made from: kept when it still matches) and true returned. */
bool na_toolsrv_adopt(struct na_agent *a, const json_t *c);
/* Remove every tool server of t (unassigned): true while some remain,
 * so the tenant's network is removed after them. */
bool na_toolsrv_remove(struct na_agent *a, struct na_tenant *t);
/* The servers of tenant as reported ([] when none). New reference. */
json_t *na_toolsrv_status(const char *tenant);

#endif
