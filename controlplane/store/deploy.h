/*
 * deploy.h - queries on deployments (immutable versions of a tenant's
 * spec) and placements (what should run for a tenant, where, and what was
 * last seen of it). store/deploy.c; same rules as store.h.
 */
#ifndef CP_STORE_DEPLOY_H
#define CP_STORE_DEPLOY_H

#include <jansson.h>
#include <libpq-fe.h>

#include "claw/err.h"
#include "cp.h"

/* Columns of every deployment result. */
enum cp_dep_col {
	CP_DC_ID,
	CP_DC_TENANT,
	CP_DC_SPEC,
	CP_DC_IMAGES,
	CP_DC_PHASE,
	CP_DC_REASON,
	CP_DC_ROLLBACK_OF,
	CP_DC_CREATED_BY,
	CP_DC_CREATED,
	CP_DC_UPDATED,
	CP_DC_SEQ,
};

/* spec and images are JSON texts (images may be NULL); phase NULL is
 * "pending" ("resolving": its workspace is being resolved). *row: the
 * new deployment. */
enum claw_rc cp_store_dep_insert(PGconn *c, const char *id,
				 const char *tenant_id, const char *spec,
				 const char *images, const char *rollback_of,
				 const char *created_by, const char *phase,
				 PGresult **row);
enum claw_rc cp_store_dep_get(PGconn *c, const char *tenant_id, const char *id,
			      PGresult **row);
/* Newest first, before seq before_seq (0: from the newest). */
enum claw_rc cp_store_dep_list(PGconn *c, const char *tenant_id,
			       long long before_seq, int limit,
			       PGresult **rows);
/* The newest healthy deployment older than the tenant's current one.
 * NOT_FOUND when there is none. */
enum claw_rc cp_store_dep_previous_healthy(PGconn *c, const char *tenant_id,
					   PGresult **row);
/* Move a deployment that is not finished (pending, pulling, starting) to
 * phase with reason (may be NULL), or a healthy one to failed (it became
 * healthy, then crash-looped: it is no rollback target); *changed tells
 * whether it moved. */
enum claw_rc cp_store_dep_phase(PGconn *c, const char *id, const char *phase,
				const char *reason, int *changed);
/* Record the image references the first node resolved (only once). */
enum claw_rc cp_store_dep_images(PGconn *c, const char *id, const char *images);
/* Unfinished deployments of the tenant but keep_id (resolving ones
 * included): superseded. With resolving_only, only its resolving ones (a
 * newer deploy was made while they resolved). */
enum claw_rc cp_store_dep_supersede(PGconn *c, const char *tenant_id,
				    const char *keep_id, bool resolving_only);
/* A resolving deployment resolved: its spec (JSON text, the commit
 * pinned) and phase pending. NOT_FOUND when it is not resolving any more
 * (superseded, or failed by the sweep). *row: the deployment. */
enum claw_rc cp_store_dep_resolved(PGconn *c, const char *id, const char *spec,
				   PGresult **row);
/* A resolving deployment failed with reason; *changed says whether it was
 * still resolving. */
enum claw_rc cp_store_dep_resolve_failed(PGconn *c, const char *id,
					 const char *reason, int *changed);
/* Deployments resolving for more than older_s seconds (their resolver
 * went with a stopped replica): failed with reason. *rows: id, tenant
 * id and tenant slug of each. */
enum claw_rc cp_store_dep_fail_stale(PGconn *c, double older_s,
				     const char *reason, PGresult **rows);
json_t *cp_dep_json(const PGresult *res, int r);
/* Column col of row r as JSON: a string (cp_store_col_str) or the JSON
 * document its text holds (cp_store_col_doc); null when the column is
 * NULL (or, for a document, not JSON). New references. */
json_t *cp_store_col_str(const PGresult *res, int r, int col);
json_t *cp_store_col_doc(const PGresult *res, int r, int col);

/* ---- placements: columns of every placement result */
enum cp_place_col {
	CP_PC_TENANT,
	CP_PC_DEP,
	CP_PC_STATE,
	CP_PC_NODE,
	CP_PC_GEN,
	CP_PC_REASON,
	CP_PC_PHASE,
	CP_PC_OBSERVED,
	CP_PC_UPDATED,
	CP_PC_NODE_NAME,
};

/* Point the tenant at deployment dep_id in state state ("running", or
 * "suspended" for a tenant whose suspension outlives deploys), keeping its
 * node; a new generation. *old_node gets the node ("" if none). */
enum claw_rc cp_store_place_deploy(PGconn *c, const char *tenant_id,
				   const char *dep_id, const char *state,
				   char old_node[CP_ID_MAX]);
/* NOT_FOUND when the tenant has no placement. */
enum claw_rc cp_store_place_get(PGconn *c, const char *tenant_id,
				PGresult **row);
/* Set the state (running, suspended, stopped); *node gets the node. */
enum claw_rc cp_store_place_state(PGconn *c, const char *tenant_id,
				  const char *state, char node[CP_ID_MAX]);
/* Remove the placement; *node gets the node it was on. */
enum claw_rc cp_store_place_delete(PGconn *c, const char *tenant_id,
				   char node[CP_ID_MAX]);
/* Put the placement on node_id ("" : pending with reason), a new
 * generation, moved_from set to the node it leaves. */
enum claw_rc cp_store_place_move(PGconn *c, const char *tenant_id,
				 const char *node_id, const char *reason);
/* Record what the agent saw (phase and the observed JSON text). */
enum claw_rc cp_store_place_observe(PGconn *c, const char *tenant_id,
				    const char *phase, const char *observed);
json_t *cp_place_json(const PGresult *res, int r);

/* The rows of a node's desired state: tenant id, slug, deployment id,
 * generation, state, spec, images. */
enum claw_rc cp_store_desired_rows(PGconn *c, const char *node_id,
				   PGresult **rows);
/* The placement of the tenant with this slug on node_id, for a status
 * report: tenant id, generation, deployment id, phase, observed, the
 * deployment's phase. NOT_FOUND when it is not placed there. */
enum claw_rc cp_store_place_on_node(PGconn *c, const char *node_id,
				    const char *slug, PGresult **row);

/* The fingerprint of what a node is given for a tenant: the deployment
 * and the names and versions of the tenant's live secrets (never values),
 * as SQL over a tenant id and a deployment id expression. */
#define CP_SECRET_FP_SQL(tenant, dep)                                          \
	"(SELECT encode(sha256(convert_to(" dep " || '|' || "                  \
	"coalesce(string_agg(s.name || ':' || s.version, ',' "                 \
	"ORDER BY s.name), ''), 'UTF8')), 'hex') FROM secrets s "              \
	"WHERE s.tenant_id = " tenant " AND s.deleted_at IS NULL)"
/* The fingerprint now, and how many live secrets the tenant has. */
enum claw_rc cp_store_secret_fp(PGconn *c, const char *tenant_id,
				const char *dep_id, char out[65], int *count);
/* What the node was last given for the tenant ("" if nothing). */
enum claw_rc cp_store_release_get(PGconn *c, const char *node_id,
				  const char *tenant_id, char out[65]);
enum claw_rc cp_store_release_set(PGconn *c, const char *node_id,
				  const char *tenant_id, const char *fp);
/* Forget what the node was given (an agent that starts anew). */
enum claw_rc cp_store_release_forget(PGconn *c, const char *node_id);

#endif
