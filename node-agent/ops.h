/*
 * ops.h - the slow work of the reconciler as operations run by worker
 * pools: each holds copies of everything it needs (the engine handle,
 * names, ids, bodies), runs without touching the agent's state, and comes
 * back to the reconcile thread with its result, which applies it. Docker
 * operations go to the "ops" pool, health probes to the "probes" pool, so
 * a long pull never delays a probe.
 *
 * Ownership: na_op_new returns an op the caller fills and hands to
 * na_op_submit (the pools own it until it is done); the reconcile thread
 * takes finished ops with na_op_take_done and frees them with na_op_free.
 */
#ifndef NA_OPS_H
#define NA_OPS_H

#include "agent.h"

enum na_op_kind {
	NA_OP_PULL,     /* pull and pin both roles' images */
	NA_OP_NETWORK,  /* make sure a network exists (fresh: made anew when
			 * none of its containers runs) */
	NA_OP_START,    /* [remove old_id,] [volume, create from body,]
			 * start */
	NA_OP_SIGNAL,   /* kill with a signal */
	NA_OP_UNASSIGN, /* remove a tenant's containers and network, unmount
			 * its disk */
	NA_OP_PROBE,    /* GET /healthz */
	NA_OP_LOGTAIL,  /* the last lines of a container's log */
	NA_OP_GC,       /* remove images */
	NA_OP_DISK,     /* make, mount or grow a tenant's disk (disk.h) */
	NA_OP_DRAIN,    /* GET an old gateway's /metrics: its journal depth */
	NA_OP_RETIRE,   /* stop (TERM, then KILL) and remove an old pair */
	NA_OP_REVIVE,   /* start an old pair found dead, to drain it */
	NA_OP_PURGE,    /* remove a purged tenant's volumes, networks and
			 * disk (purge.h) */
};

struct na_op {
	struct na_job job; /* first: the pool's link */
	enum na_op_kind kind;
	struct na_agent *a;
	struct na_docker docker; /* a copy: the agent may reconnect */
	char tenant[48];
	int role;
	/* inputs */
	char id[72]; /* the container (START: out when created) */
	char old_id[2 * NA_ROLES][72]; /* START: [0] removed first;
					* UNASSIGN, RETIRE, REVIVE: all
					* given; NETWORK (fresh): the
					* slot's pair, by role */
	char name[128];                /* container or network name */
	json_t *body;                  /* create body (owned) or NULL */
	json_t *volume;                /* START: its volume's body (owned) */
	char volname[96];              /* START: its volume's name */
	json_t *peer_volume;           /* START: the other slot's gateway
					* volume's body (owned), or NULL */
	char peervol[96];              /* START: its name */
	unsigned long uid;             /* START, DISK: the tenant's host uid */
	int64_t disk_mb;               /* DISK: its size */
	char egress[128];              /* START: network to join, or "" */
	char edge[64];                 /* START: the edge network, or "" */
	char net[64];  /* the tenant network (START, REVIVE: read the
			* address) */
	char net1[64]; /* UNASSIGN: the second slot's network */
	int slot;      /* NETWORK, START, DISK: the tenant's slot */
	bool fresh;    /* NETWORK: see na_op_kind; out: it was made anew */
	char sig[8];   /* SIGNAL */
	char image[NA_ROLES][256]; /* PULL */
	json_t *auth;        /* PULL: registry credentials (owned) or NULL */
	char url[128];       /* PROBE: /healthz; DRAIN: /metrics */
	char ready_url[128]; /* PROBE: /readyz, asked when /healthz is 200 */
	char proxy_url[128]; /* PROBE: the gateway's proxy, or "" */
	json_t *channels;    /* PROBE: /readyz's "channels" (owned), or NULL */
	json_t *refs;        /* GC: in, the refs to remove; out, those gone;
			      * NETWORK (egress or edge, fresh): the ids of
			      * the gateways on it */
	/* what the decision assumed, applied with the result (PURGE: the
	 * desired generation) */
	int64_t generation;
	char deployment[72];
	char cfg_hash[65];
	/* results */
	enum claw_rc rc;
	struct na_docker_err err;
	bool created; /* START: the container exists (id is set) */
	char ip[48];
	char edge_ip[48];
	unsigned host_port;
	bool running;
	bool ok;    /* PROBE, DRAIN */
	bool ready; /* PROBE: /readyz answered 200 */
	bool proxy; /* PROBE: the proxy answered (any HTTP status) */
	long depth; /* DRAIN: claw_gateway_journal_depth, -1 unknown */
	char pinned[NA_ROLES][256];
	struct na_progress progress;     /* PULL: the role being pulled */
	struct na_pull_totals pull_base; /* PULL: roles done (worker only) */
	struct na_pull_totals pull;      /* PULL: published under a->mu */
	char text[1024];                 /* LOGTAIL */
	struct na_op *next_done;
};

/* A zeroed op of that kind for a's engine (NULL when out of memory). */
struct na_op *na_op_new(struct na_agent *a, enum na_op_kind kind,
			const char *tenant, int role);
/* Hand it to its pool (counted in a->inflight until applied). */
void na_op_submit(struct na_agent *a, struct na_op *op);
/* The finished ops, oldest first (a list through next_done); call with
 * a->mu held. */
struct na_op *na_op_take_done(struct na_agent *a);
void na_op_free(struct na_op *op);

/* Start both pools (reconcile thread); stop them, freeing ops never run
 * and ops done but not applied. */
enum claw_rc na_ops_start(struct na_agent *a);
void na_ops_stop(struct na_agent *a);

#endif
