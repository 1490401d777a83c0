/*
 * purge.h - forgetting a purged tenant (docs/node-agent.md, "Purged
 * tenants"). The control plane lists, in the desired state's "purged",
 * the slugs of tenants purged since this node held them. For each, once
 * the tenant is no longer here (an undeploy's removal of its containers
 * and networks ran first: remove_unassigned in reconcile.c), one
 * operation (NA_OP_PURGE, ops.c) removes its data volumes (every slot,
 * the runtime's, its disk's; found by the labels claw.tenant and
 * claw.node), its networks if any are left and its disk image; then the
 * reconcile thread removes its config and secret files and releases its
 * uid (uids.h), and the slug is reported in the status's "purged_done".
 *
 * A slug that is in the desired state's tenants is never touched: the
 * tenant assigned now (a new tenant of the same slug) wins, and the slug
 * is reported done at once. A purge of what is already gone is done at
 * once (every removal treats "no such thing" as done). The set of done
 * slugs is of one desired generation: a new one runs each listed slug
 * again (cheap when nothing is left), so a later purge of a re-created
 * tenant of the same slug is never answered by an earlier one's.
 *
 * Reconcile thread only, but for the operation itself.
 */
#ifndef NA_PURGE_H
#define NA_PURGE_H

#include <stdbool.h>

#include "ops.h"

enum na_purge_step {
	NA_PURGE_DONE,     /* done for this generation: reported */
	NA_PURGE_ASSIGNED, /* the slug is assigned here: nothing touched,
			    * reported done */
	NA_PURGE_WAIT,     /* the tenant is still here (being removed) or
			    * its purge runs */
	NA_PURGE_RUN,      /* start its purge */
};

/* What to do for a purged slug: assigned (in the desired tenants), here
 * (the reconciler still has the tenant: containers, tool servers or an
 * undeploy in flight), busy (its purge runs, or failed and waits a few
 * seconds before it is tried again), done (finished for this
 * generation). */
enum na_purge_step na_purge_step(bool assigned, bool here, bool busy,
				 bool done);

/* One pass: start the purges due (after remove_unassigned). */
void na_purge_pass(struct na_agent *a);
/* A new desired state was taken: what was done is of the old one. */
void na_purge_new_desired(struct na_agent *a);
/* The result of an NA_OP_PURGE. */
void na_purge_apply(struct na_agent *a, struct na_op *op);
/* The status's "purged_done" (new array, sorted). */
json_t *na_purge_done_json(const struct na_agent *a);
/* At the end of the reconcile thread. */
void na_purge_release(struct na_agent *a);

/* The engine side (an op worker): remove op->tenant's volumes of this
 * node, its networks and its disk; op->rc CLAW_OK when nothing of it is
 * left. */
void na_purge_run(struct na_op *op);

#endif
