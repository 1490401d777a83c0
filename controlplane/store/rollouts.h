/*
 * rollouts.h - queries on rollouts and their tenants (rollout.h,
 * migrations/0009). store/rollouts.c; same rules as store.h: parameters
 * bound, statements prepared once per connection, the caller's
 * transaction.
 */
#ifndef CP_STORE_ROLLOUTS_H
#define CP_STORE_ROLLOUTS_H

#include <jansson.h>
#include <libpq-fe.h>

#include "claw/err.h"
#include "cp.h"

/* Columns of every rollout result. */
enum cp_ro_col {
	CP_RC_ID,
	CP_RC_STATE,
	CP_RC_SELECTOR,
	CP_RC_IMAGES,
	CP_RC_GW_CONFIG, /* JSON text or NULL */
	CP_RC_RT_CONFIG,
	CP_RC_MAX_UNAVAILABLE,
	CP_RC_THRESHOLD,
	CP_RC_MIN_READY, /* NULL: not given */
	CP_RC_BATCH,
	CP_RC_REASON,
	CP_RC_CREATED_BY,
	CP_RC_CREATED,
	CP_RC_UPDATED,
	CP_RC_SEQ,
	CP_RC_TOTAL,
	CP_RC_PENDING,
	CP_RC_DEPLOYING,
	CP_RC_HEALTHY,
	CP_RC_FAILED,
	CP_RC_ROLLED_BACK,
	CP_RC_SKIPPED,
};

/* What a new rollout holds: JSON texts (configs may be NULL), min_ready
 * < 0 when not given. */
struct cp_ro_new {
	const char *id;
	const char *selector;
	const char *images;
	const char *gateway_config;
	const char *runtime_config;
	int max_unavailable;
	int failure_threshold;
	long min_ready_ms;
	const char *created_by;
};

/* Serialise rollout creations (a transaction-scoped advisory lock), so
 * the overlap check and the insert are one step. */
enum claw_rc cp_store_ro_lock(PGconn *c);
/* The live tenants the selector (checked JSON text) matches, in creation
 * order: columns id, slug. */
enum claw_rc cp_store_ro_match(PGconn *c, const char *selector,
			       PGresult **rows);
/* A running or paused rollout holding one of the tenants (a JSON array of
 * ids as text): *row has its id and the tenant's slug, NOT_FOUND when
 * none. */
enum claw_rc cp_store_ro_overlap(PGconn *c, const char *tenant_ids,
				 PGresult **row);
/* Insert the rollout and its tenants (a JSON array of ids, in order);
 * *row: the rollout. */
enum claw_rc cp_store_ro_insert(PGconn *c, const struct cp_ro_new *n,
				const char *tenant_ids, PGresult **row);
/* By id; with lock, FOR UPDATE (waits for a worker's step). NOT_FOUND
 * when none. */
enum claw_rc cp_store_ro_get(PGconn *c, const char *id, bool lock,
			     PGresult **row);
/* Newest first, before seq (0: from the newest), state NULL: any. */
enum claw_rc cp_store_ro_list(PGconn *c, const char *state,
			      long long before_seq, int limit, PGresult **rows);
/* The next running rollout after seq whose row no one else holds, locked
 * (FOR UPDATE SKIP LOCKED): *id, *seq; NOT_FOUND when none. */
enum claw_rc cp_store_ro_take(PGconn *c, long long after_seq,
			      char id[CP_ID_MAX], long long *seq);
/* Set state (and reason, NULL: kept); pending tenants become skipped
 * when the state ends the rollout (halted, aborted). */
enum claw_rc cp_store_ro_state(PGconn *c, const char *id, const char *state,
			       const char *reason);
enum claw_rc cp_store_ro_batch(PGconn *c, const char *id, int batch);

/* Columns of a rollout's tenants. */
enum cp_rot_col {
	CP_RT_TENANT_ID,
	CP_RT_SLUG,
	CP_RT_STATE,
	CP_RT_BATCH,
	CP_RT_DEP,
	CP_RT_PREV,
	CP_RT_ERROR,
	CP_RT_DEP_PHASE,  /* the deployment's phase, or NULL */
	CP_RT_DEP_REASON, /* its reason, or NULL */
	CP_RT_AGE_S,      /* seconds since its batch started, or NULL */
};

/* In position order; state NULL: all. */
enum claw_rc cp_store_ro_tenants(PGconn *c, const char *id, const char *state,
				 PGresult **rows);
/* Move a tenant to state; batch < 0, dep, prev NULL keep theirs; error
 * replaces (NULL clears). deploying also stamps started_at. */
enum claw_rc cp_store_ro_tenant_set(PGconn *c, const char *id,
				    const char *tenant_id, const char *state,
				    int batch, const char *dep,
				    const char *prev, const char *error);

/* JSON of row r of a rollout result (without "tenants"). */
json_t *cp_ro_json(const PGresult *res, int r);
/* The counters of row r ({"rollout", "total", ...}) for events. */
json_t *cp_ro_counters(const PGresult *res, int r);
/* JSON of row r of a tenants result. */
json_t *cp_ro_tenant_json(const PGresult *res, int r);

#endif
