/*
 * rpc.h - the node agent's side of the control plane's approvals relay
 * (controlplane/api/approvals.c, docs/fleet.md): a call handed over by the
 * long poll of assignments ("rpc": [{id, tenant, op, approval, decision,
 * by}]) is made against the tenant's runtime on its internal network, on
 * the runtime's approvals API (docs/contracts.md), and its answer is
 * posted back as {"status": N, "body": JSON} (status 0: the runtime did
 * not answer, or runs nowhere here).
 *
 *   op approvals.list    GET  /v1/approvals
 *   op approvals.get     GET  /v1/approvals/{approval}
 *   op approvals.decide  POST /v1/approvals/{approval}
 *                        {"decision": ..., "by": ...}
 *
 * No other call can be relayed: the control plane names an operation, not
 * a path. Each call runs on a detached thread of its own (at most
 * NA_RPC_MAX at once; past that a call is left unanswered and the control
 * plane's request times out).
 *
 * The runtime's admin token. The approvals API needs "Authorization:
 * Bearer" the runtime's admin_token secret file. When the tenant set no
 * admin_token secret, the node agent generates one for the tenant (32
 * random bytes, hex) the first time it writes the runtime's secret files
 * and keeps it there (na_rpc_token_ensure): a file on the secrets tmpfs
 * like every other secret, never in a log, an environment or a label. The
 * relay reads the file for each call and wipes it after.
 */
#ifndef NA_RPC_H
#define NA_RPC_H

#include <jansson.h>
#include <stdbool.h>
#include <sys/types.h>

#include "agent.h"

#define NA_RPC_MAX 128
#define NA_RPC_TOKEN "admin_token"

/* The way back to the control plane: post(cls, path, body) posts body (a
 * JSON text) to path and says whether it was taken; release(cls) is called
 * once the call is done (or could not start). Ownership of cls passes to
 * na_rpc_start. */
struct na_rpc_back {
	bool (*post)(void *cls, const char *path, const char *body);
	void (*release)(void *cls);
	void *cls;
};

/* Serve call (borrowed) on a thread of its own. A malformed call is
 * dropped (logged); back is released in every case. */
void na_rpc_start(struct na_agent *a, const json_t *call,
		  const struct na_rpc_back *back);

/* Make call against the runtime at ip:port with token (the runtime's
 * admin token): {"status": N, "body": JSON or null} (new reference);
 * status 0 when no answer came. NULL when call is malformed. */
json_t *na_rpc_runtime(const char *ip, unsigned port, const char *token,
		       const json_t *call);

/* The runtime's address of a tenant entry of the agent's snapshot when
 * its runtime runs (borrowed from entry), else NULL. */
const char *na_rpc_runtime_ip(const json_t *entry);

/* method path (a runtime API path; body may be NULL) against the runtime
 * of tenant at ip (NA_RUNTIME_PORT) with the runtime's admin token, read
 * from its secrets directory for this call and wiped after: the answer as
 * na_rpc_runtime's (new reference); status 0 when ip is empty, the token
 * is missing or the runtime did not answer. Also the approvals audit's
 * way to the runtime's feed (approval_audit.h). */
json_t *na_rpc_tenant(struct na_agent *a, const char *tenant, const char *ip,
		      const char *method, const char *path, const json_t *body);

/* Make sure dir (a runtime's secrets directory) holds NA_RPC_TOKEN: kept
 * when it is there, else 32 random bytes in hex written as a secret file
 * (mode 0400, owned by uid:uid). CLAW_OK or CLAW_ERR_IO. */
enum claw_rc na_rpc_token_ensure(const char *dir, uid_t uid);

#endif
