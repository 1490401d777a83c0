/*
 * uids.h - the host uid each tenant's containers run as. Every tenant gets
 * its own, from a node-local range (--tenant-uid-base, --tenant-uid-count),
 * so no two tenants ever share a host uid: a process that escaped its
 * container still cannot read another tenant's secrets or data, signal its
 * processes or use up its per-user limits. The gateway and the runtime of
 * one tenant share the tenant's uid (and a gid of the same number).
 *
 * Labels are the agent's memory: containers and data volumes carry
 * claw.uid, so a restarted agent gives each tenant the uid it had. A
 * tenant's volume is kept when it leaves the node, and so is its uid (no
 * other tenant gets it while its files exist), until the tenant is purged
 * (purge.h: its volumes removed, its uid forgotten). A new tenant's uid starts at
 * a hash of its name in the range and takes the next free one, so agents
 * that share an engine (tests) rarely race for one; any claw.uid label on
 * the engine, of any node, counts as taken by its tenant.
 *
 * Reconcile thread only (no locking).
 */
#ifndef NA_UIDS_H
#define NA_UIDS_H

#include <jansson.h>
#include <stdbool.h>

#define NA_UID_BASE_DEFAULT 2000000000L
#define NA_UID_COUNT_DEFAULT 1000000L

struct na_uids {
	long base, count;
	json_t *by_tenant; /* this node's tenant -> uid */
	json_t *used;      /* "uid" -> the tenant that has it (any node) */
};

void na_uids_init(struct na_uids *u, long base, long count);
void na_uids_release(struct na_uids *u);
/* Before the engine's labels are read again: forget the uids of other
 * nodes' tenants; this node's tenants keep theirs. */
void na_uids_reset(struct na_uids *u);

/* Parse a claw.uid label: the uid, or 0 when it is not a number in the
 * range. */
unsigned long na_uids_parse(const struct na_uids *u, const char *label);

/* A claw.uid label seen on a container or volume of tenant (mine: of this
 * node). A uid another tenant holds already is not taken over. */
void na_uids_note(struct na_uids *u, const char *tenant, const char *label,
		  bool mine);

/* A purged tenant (purge.h): its uid is free again, for any tenant. */
void na_uids_forget(struct na_uids *u, const char *tenant);

/* The tenant's uid: what its labels said, else a free one (recorded).
 * 0 when the range is full. */
unsigned long na_uids_for(struct na_uids *u, const char *tenant);

#endif
