/*
 * rollout_worker.c - what drives rollouts (rollout.h). Every replica's
 * sweeper thread (scheduler.c) calls cp_rollout_tick on each pass, leader
 * or not: it takes each running rollout whose row no other replica holds
 * (FOR UPDATE SKIP LOCKED) and advances it by one step in that
 * transaction:
 *
 *   1. each deploying tenant whose deployment is healthy becomes healthy;
 *      one that failed (or was superseded, or is not healthy within
 *      CP_ROLLOUT_DEADLINE_S) becomes failed and is rolled back at once
 *      (its previous deployment redeployed, audited
 *      "rollout.tenant.rollback");
 *   2. then cp_rollout_decide: failures at the threshold halt the rollout
 *      and roll back the rest of the current batch; nothing deploying and
 *      tenants pending starts the next batch of max_unavailable (a deploy
 *      the preflight or the bounds refuse fails that tenant); nothing left
 *      completes it.
 *
 * Every change is an event ("rollout.*", data: the counters) and an audit
 * row (actor "system", the rollout in the details). All state is in the
 * database, so a replica killed mid-step loses only that uncommitted step.
 */
#include "rollout.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "claw/db.h"
#include "claw/log.h"
#include "events.h"
#include "store/rollouts.h"

#define CP_ROLLOUT_DEADLINE_S 600

struct step {
	struct cp_ctx *ctx;
	long long after; /* seq of the last rollout looked at */
	bool done;       /* no more running rollouts this pass */
	bool changed;    /* something to wake the nodes for */
	char id[CP_ID_MAX];
};

static enum claw_rc audit_ro(PGconn *c, const char *id, const char *action,
			     const char *tenant_id, json_t *details_steal)
{
	char target[64];

	snprintf(target, sizeof(target), "rollouts/%s", id);
	if (details_steal)
		json_object_set_new(details_steal, "rollout", json_string(id));
	return cp_audit_request(c, NULL, NULL, action, target, tenant_id,
				details_steal);
}

/* An event "rollout.KIND" with the rollout's counters now (and extra's
 * fields, stolen). */
static enum claw_rc event_ro(PGconn *c, const char *id, const char *kind,
			     const char *tenant_id, json_t *extra)
{
	PGresult *ro = NULL;
	enum claw_rc rc = cp_store_ro_get(c, id, false, &ro);
	char type[48];
	json_t *data;

	if (rc) {
		json_decref(extra);
		return rc;
	}
	data = cp_ro_counters(ro, 0);
	PQclear(ro);
	if (data && extra)
		json_object_update(data, extra);
	json_decref(extra);
	snprintf(type, sizeof(type), "rollout.%s", kind);
	return cp_event_add(c, type, tenant_id, NULL, data);
}

/* A tenant changed state: the row, its event and (with action) audit. */
static enum claw_rc tenant_move(PGconn *c, const char *id, const PGresult *t,
				int i, const char *state, int batch,
				const char *dep, const char *prev,
				const char *error)
{
	const char *tid = PQgetvalue(t, i, CP_RT_TENANT_ID);
	enum claw_rc rc = cp_store_ro_tenant_set(c, id, tid, state, batch, dep,
						 prev, error);

	if (!rc)
		rc = event_ro(c, id, "tenant", tid,
			      json_pack("{s:s, s:s, s:s?, s:s?}", "tenant",
					PQgetvalue(t, i, CP_RT_SLUG), "state",
					state, "deployment", dep, "error",
					error));
	return rc;
}

/* Redeploy tenant i's previous deployment: rolled_back (failed when it
 * had none to go back to). */
static enum claw_rc roll_back(PGconn *c, struct step *s, const PGresult *t,
			      int i, const char *error)
{
	const char *prev = claw_db_value(t, i, CP_RT_PREV);
	char dep[CP_ID_MAX] = "";
	enum claw_rc rc = CLAW_OK;

	if (prev && prev[0])
		rc = cp_deploy_rollback_to(
			c, s->ctx, s->id, PQgetvalue(t, i, CP_RT_TENANT_ID),
			PQgetvalue(t, i, CP_RT_SLUG), prev, dep);
	if (rc == CLAW_ERR_INVALID || rc == CLAW_ERR_NOT_FOUND) {
		log_warn("rollout %s: tenant %s: unable to roll back to %s",
			 s->id, PQgetvalue(t, i, CP_RT_SLUG), prev);
		rc = CLAW_OK;
		dep[0] = '\0';
	}
	if (rc)
		return rc;
	s->changed = true;
	return tenant_move(c, s->id, t, i, dep[0] ? "rolled_back" : "failed",
			   -1, NULL, NULL, error);
}

/* Step 1: what the deploying tenants' deployments became. */
static enum claw_rc observe(PGconn *c, struct step *s)
{
	PGresult *t = NULL;
	enum claw_rc rc = cp_store_ro_tenants(c, s->id, "deploying", &t);

	for (int i = 0; !rc && i < PQntuples(t); i++) {
		const char *phase = claw_db_value(t, i, CP_RT_DEP_PHASE);
		const char *why = claw_db_value(t, i, CP_RT_DEP_REASON);
		const char *age = claw_db_value(t, i, CP_RT_AGE_S);
		char err[400];

		if (phase && !strcmp(phase, "healthy")) {
			rc = tenant_move(c, s->id, t, i, "healthy", -1, NULL,
					 NULL, NULL);
			continue;
		}
		if (phase &&
		    (!strcmp(phase, "failed") || !strcmp(phase, "superseded")))
			snprintf(err, sizeof(err), "deployment %s: %s", phase,
				 why ? why : "no reason given");
		else if (age && strtoll(age, NULL, 10) > CP_ROLLOUT_DEADLINE_S)
			snprintf(err, sizeof(err),
				 "not healthy within %d s (phase %s)",
				 CP_ROLLOUT_DEADLINE_S, phase ? phase : "?");
		else
			continue;
		rc = audit_ro(c, s->id, "rollout.tenant.fail",
			      PQgetvalue(t, i, CP_RT_TENANT_ID),
			      json_pack("{s:s, s:s}", "tenant",
					PQgetvalue(t, i, CP_RT_SLUG), "error",
					err));
		if (!rc)
			rc = roll_back(c, s, t, i, err);
	}
	PQclear(t);
	return rc;
}

static int col_int(const PGresult *r, int col)
{
	return (int)strtol(PQgetvalue(r, 0, col), NULL, 10);
}

/* Halt: the rest of the current batch (deploying or healthy) rolled
 * back, pending tenants skipped. */
static int col_int_at(const PGresult *r, int row, int col)
{
	return (int)strtol(PQgetvalue(r, row, col), NULL, 10);
}

static enum claw_rc halt(PGconn *c, struct step *s, const PGresult *ro,
			 int failed)
{
	char reason[200];
	PGresult *t = NULL;
	int batch = col_int(ro, CP_RC_BATCH);
	enum claw_rc rc;

	snprintf(reason, sizeof(reason),
		 "%d tenant(s) failed, failure_threshold %d", failed,
		 col_int(ro, CP_RC_THRESHOLD));
	rc = cp_store_ro_tenants(c, s->id, NULL, &t);
	for (int i = 0; !rc && i < PQntuples(t); i++) {
		const char *st = PQgetvalue(t, i, CP_RT_STATE);

		if (col_int_at(t, i, CP_RT_BATCH) != batch ||
		    (strcmp(st, "deploying") && strcmp(st, "healthy")))
			continue;
		rc = roll_back(c, s, t, i, "rolled back: the rollout halted");
	}
	PQclear(t);
	if (!rc)
		rc = cp_store_ro_state(c, s->id, "halted", reason);
	if (!rc)
		rc = event_ro(c, s->id, "halted", NULL,
			      json_pack("{s:s}", "reason", reason));
	if (!rc)
		rc = audit_ro(c, s->id, "rollout.halt", NULL,
			      json_pack("{s:s}", "reason", reason));
	if (!rc)
		log_warn("rollout %s halted: %s", s->id, reason);
	return rc;
}

/* Start the next batch: up to max_unavailable pending tenants deployed. */
static enum claw_rc next_batch(PGconn *c, struct step *s, const PGresult *ro)
{
	int batch = col_int(ro, CP_RC_BATCH) + 1;
	int room = col_int(ro, CP_RC_MAX_UNAVAILABLE);
	json_t *images = json_loads(PQgetvalue(ro, 0, CP_RC_IMAGES), 0, NULL);
	json_t *gc = claw_db_value(ro, 0, CP_RC_GW_CONFIG)
		? json_loads(PQgetvalue(ro, 0, CP_RC_GW_CONFIG), 0, NULL)
		: NULL;
	json_t *rcfg = claw_db_value(ro, 0, CP_RC_RT_CONFIG)
		? json_loads(PQgetvalue(ro, 0, CP_RC_RT_CONFIG), 0, NULL)
		: NULL;
	const char *mr = claw_db_value(ro, 0, CP_RC_MIN_READY);
	PGresult *t = NULL;
	enum claw_rc rc = cp_store_ro_batch(c, s->id, batch);
	json_t *slugs = json_array();

	if (!rc)
		rc = cp_store_ro_tenants(c, s->id, "pending", &t);
	for (int i = 0; !rc && i < PQntuples(t) && i < room; i++) {
		struct cp_rollout_deploy rd = {
			.rollout_id = s->id,
			.tenant_id = PQgetvalue(t, i, CP_RT_TENANT_ID),
			.slug = PQgetvalue(t, i, CP_RT_SLUG),
			.images = images,
			.gateway_config = gc,
			.runtime_config = rcfg,
			.min_ready_ms = mr ? strtol(mr, NULL, 10) : -1};

		rc = cp_deploy_for_rollout(c, s->ctx, &rd);
		json_array_append_new(slugs, json_string(rd.slug));
		if (rc == CLAW_ERR_INVALID) {
			rc = tenant_move(c, s->id, t, i, "failed", batch, NULL,
					 rd.previous[0] ? rd.previous : NULL,
					 rd.error);
			if (!rc)
				rc = audit_ro(c, s->id, "rollout.tenant.fail",
					      rd.tenant_id,
					      json_pack("{s:s, s:s}", "tenant",
							rd.slug, "error",
							rd.error));
			continue;
		}
		if (!rc)
			rc = tenant_move(c, s->id, t, i, "deploying", batch,
					 rd.deployment, rd.previous, NULL);
		s->changed = true;
	}
	if (!rc)
		rc = event_ro(c, s->id, "batch", NULL,
			      json_pack("{s:O}", "tenants", slugs));
	if (!rc)
		rc = audit_ro(c, s->id, "rollout.batch", NULL,
			      json_pack("{s:i, s:O}", "batch", batch, "tenants",
					slugs));
	json_decref(slugs);
	json_decref(images);
	json_decref(gc);
	json_decref(rcfg);
	PQclear(t);
	return rc;
}

static enum claw_rc step_tx(PGconn *c, void *cls)
{
	struct step *s = cls;
	long long seq = 0;
	PGresult *ro = NULL;
	struct cp_rollout_counts n;
	enum claw_rc rc = cp_store_ro_take(c, s->after, s->id, &seq);

	if (rc == CLAW_ERR_NOT_FOUND) {
		s->done = true;
		return CLAW_OK;
	}
	if (!rc)
		rc = observe(c, s);
	if (!rc)
		rc = cp_store_ro_get(c, s->id, false, &ro);
	if (rc) {
		PQclear(ro);
		return rc;
	}
	n = (struct cp_rollout_counts){
		.pending = col_int(ro, CP_RC_PENDING),
		.deploying = col_int(ro, CP_RC_DEPLOYING),
		.healthy = col_int(ro, CP_RC_HEALTHY),
		.failed = col_int(ro, CP_RC_FAILED),
		.rolled_back = col_int(ro, CP_RC_ROLLED_BACK),
		.skipped = col_int(ro, CP_RC_SKIPPED)};
	switch (cp_rollout_decide(&n, col_int(ro, CP_RC_THRESHOLD))) {
	case CP_RO_HALT:
		rc = halt(c, s, ro, n.failed + n.rolled_back);
		break;
	case CP_RO_NEXT_BATCH:
		rc = next_batch(c, s, ro);
		break;
	case CP_RO_COMPLETE:
		rc = cp_store_ro_state(c, s->id, "completed", NULL);
		if (!rc)
			rc = event_ro(c, s->id, "completed", NULL, NULL);
		if (!rc)
			rc = audit_ro(c, s->id, "rollout.complete", NULL,
				      json_object());
		if (!rc)
			log_info("rollout %s completed", s->id);
		break;
	case CP_RO_WAIT:
		break;
	}
	PQclear(ro);
	if (!rc)
		s->after = seq;
	return rc;
}

enum claw_rc cp_rollout_tick(struct cp_ctx *ctx)
{
	struct step s = {.ctx = ctx};
	enum claw_rc rc = CLAW_OK;

	while (!rc && !s.done) {
		s.changed = false;
		rc = claw_db_tx(ctx->db, CLAW_DB_READ_COMMITTED, step_tx, &s);
		if (!rc && s.changed)
			cp_fleet_wake();
	}
	if (rc)
		log_warn("rollout %s: step failed (%s); retried on the next "
			 "pass",
			 s.id[0] ? s.id : "?", claw_strerror(rc));
	return rc;
}
