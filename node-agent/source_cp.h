/*
 * source_cp.h - the node agent's control-plane client (docs/fleet.md):
 *
 *   join       once, with a join token (--join-token or CLAW_JOIN_TOKEN):
 *              POST /v1/nodes/join with the node's name, labels, capacity
 *              and version; the node credential it gets is written to the
 *              credential file (mode 0600) and used from then on.
 *   assignments  long poll of GET /v1/agent/assignments?generation=N; each
 *              new desired state is checked (desired.c) and handed to the
 *              reconciler. Secret values come only when their version
 *              changed; the client keeps the last ones per tenant in
 *              memory and asks again from generation 0 when it lacks them.
 *   reports    a reporter thread posts a heartbeat every heartbeat_ms and
 *              the observed state whenever it changes.
 *   logs       log requests handed over by the long poll are followed in
 *              threads of their own and posted back in chunks.
 *   usage      a usage thread scrapes each running runtime's GET /v1/usage
 *              every usage_interval_ms, keeps the deltas on disk and posts
 *              them to POST /v1/agent/usage (usage.h); a 2xx clears them.
 *
 * When the control plane cannot be reached, what runs keeps running and
 * the client retries with exponential backoff and jitter (0.5 s doubling
 * to 30 s). A credential the control plane refuses (the node was revoked)
 * empties the desired state: the node is no longer part of the fleet.
 */
#ifndef NA_SOURCE_CP_H
#define NA_SOURCE_CP_H

#include "agent.h"

struct na_cp_opts {
	struct na_agent *agent;
	const char *credential_file; /* NULL: STATE_DIR/node.credential */
	const char *ca_file;         /* extra CA bundle for HTTPS, or NULL */
	const char *version;         /* reported version */
};

/* The source thread's main (arg: struct na_cp_opts *). */
void *na_source_cp_main(void *opts);

#endif
