/*
 * rollouts.c - /v1/rollouts: fleet rollouts (rollout.h, docs/fleet.md
 * "Rollouts"). Admin and operator tokens only.
 *
 *   POST /v1/rollouts                  201 + the rollout (running)
 *   GET  /v1/rollouts?state=S          newest first, without tenants
 *   GET  /v1/rollouts/{id}             with its tenants
 *   POST /v1/rollouts/{id}/pause | resume | abort
 *
 * Creating one picks its tenants once (the selector), under a
 * transaction-scoped advisory lock so the overlap check (409
 * rollout_overlap) and the insert cannot race another creation. The worker
 * (rollout_worker.c) does the rest. Pause, resume and abort lock the row
 * (waiting for a worker's step) and move the state as cp_rollout_transition
 * allows (409 rollout_state otherwise); abort leaves deployments made so
 * far as they are and skips the pending tenants.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "audit.h"
#include "bounds.h"
#include "claw/log.h"
#include "cp.h"
#include "errors.h"
#include "events.h"
#include "rollout.h"
#include "store/common.h"
#include "store/rollouts.h"
#include "validate.h"

#define ROLES (CP_R_ADMIN | CP_R_OPERATOR)
#define LIST_DEFAULT 20
#define LIST_MAX 100

static enum claw_rc audit_ro(PGconn *c, struct claw_http_req *req,
			     const struct cp_auth *auth, const char *id,
			     const char *action, json_t *details_steal)
{
	char target[64];

	snprintf(target, sizeof(target), "rollouts/%s", id);
	return cp_audit_request(c, req, auth, action, target, NULL,
				details_steal);
}

/* ---- create */

struct create {
	struct claw_http_req *req;
	const struct cp_auth *auth;
	struct cp_ro_new n;
	PGresult *row;
	char overlap[CP_ID_MAX]; /* the rollout holding a tenant */
	char overlap_slug[CP_SLUG_MAX + 1];
	int matched;
	const char *missing_slug; /* a selector.tenants slug with no tenant */
	const json_t *listed;     /* selector.tenants, or NULL */
};

static enum claw_rc create_tx(PGconn *c, void *cls)
{
	struct create *cr = cls;
	PGresult *m = NULL, *o = NULL;
	json_t *ids = json_array();
	char *ids_text = NULL;
	enum claw_rc rc = ids ? cp_store_ro_lock(c) : CLAW_ERR_NOMEM;

	cp_store_clear(&cr->row);
	if (!rc)
		rc = cp_store_ro_match(c, cr->n.selector, &m);
	cr->matched = rc ? 0 : PQntuples(m);
	for (int i = 0; !rc && i < cr->matched; i++)
		json_array_append_new(ids, json_string(PQgetvalue(m, i, 0)));
	if (!rc && cr->listed &&
	    json_array_size(cr->listed) != (size_t)cr->matched) {
		/* name the first slug that matched nothing */
		size_t k;
		json_t *v;

		json_array_foreach(cr->listed, k, v) {
			bool found = false;

			for (int i = 0; i < cr->matched && !found; i++)
				found = !strcmp(PQgetvalue(m, i, 1),
						json_string_value(v));
			if (!found) {
				cr->missing_slug = json_string_value(v);
				break;
			}
		}
		if (cr->missing_slug)
			rc = CLAW_ERR_INVALID;
	}
	if (!rc && cr->matched == 0)
		rc = CLAW_ERR_INVALID;
	if (!rc && !(ids_text = claw_json_dumps(ids)))
		rc = CLAW_ERR_NOMEM;
	if (!rc) {
		rc = cp_store_ro_overlap(c, ids_text, &o);
		if (!rc) {
			snprintf(cr->overlap, sizeof(cr->overlap), "%s",
				 PQgetvalue(o, 0, 0));
			snprintf(cr->overlap_slug, sizeof(cr->overlap_slug),
				 "%s", PQgetvalue(o, 0, 1));
			rc = CLAW_ERR_INVALID;
		} else if (rc == CLAW_ERR_NOT_FOUND) {
			rc = CLAW_OK;
		}
	}
	if (!rc)
		rc = cp_store_ro_insert(c, &cr->n, ids_text, &cr->row);
	if (!rc)
		rc = cp_event_add(c, "rollout.started", NULL, NULL,
				  cp_ro_counters(cr->row, 0));
	if (!rc)
		rc = audit_ro(
			c, cr->req, cr->auth, cr->n.id, "rollout.create",
			json_pack("{s:o, s:o, s:i, s:i, s:i}", "selector",
				  json_loads(cr->n.selector, 0, NULL), "images",
				  json_loads(cr->n.images, 0, NULL),
				  "max_unavailable", cr->n.max_unavailable,
				  "failure_threshold", cr->n.failure_threshold,
				  "tenants", cr->matched));
	PQclear(m);
	PQclear(o);
	free(ids_text);
	json_decref(ids);
	return rc;
}

/* images: {"gateway", "runtime"} references within the image policy.
 * Replies and returns -1 when not. */
static int images_check(struct claw_http_req *req, const json_t *images)
{
	const char *k;
	json_t *v;
	struct cp_image_ref ref;
	const struct cp_image_policy *policy = cp_bounds_policy();

	json_object_foreach((json_t *)images, k, v) {
		const char *s = json_string_value(v);

		if ((strcmp(k, "gateway") && strcmp(k, "runtime")) || !s ||
		    !cp_image_parse(s, &ref)) {
			claw_http_reply_std(req, CLAW_HE_INVALID_FIELD,
					    "images: {\"gateway\": REF, "
					    "\"runtime\": REF}, each "
					    "REPO[:TAG] or REPO@sha256:HEX");
			return -1;
		}
		if (policy && !cp_image_allowed(policy, s)) {
			cp_reply_error(req, CP_E_IMAGE_NOT_ALLOWED,
				       "images.%s: '%s' is not allowed by the "
				       "fleet's image policy (image-allow)",
				       k, s);
			return -1;
		}
	}
	return 0;
}

static void create_reply_failed(struct claw_http_req *req,
				const struct create *cr, enum claw_rc rc)
{
	if (rc == CLAW_ERR_INVALID && cr->overlap[0])
		cp_reply_error(req, CP_E_ROLLOUT_OVERLAP,
			       "rollout %s (running or paused) holds tenant "
			       "'%s'",
			       cr->overlap, cr->overlap_slug);
	else if (rc == CLAW_ERR_INVALID && cr->missing_slug)
		claw_http_reply_def(
			req, claw_http_error_def(CLAW_HE_INVALID_FIELD),
			"selector.tenants: no tenant '%s'", cr->missing_slug);
	else if (rc == CLAW_ERR_INVALID)
		cp_reply_error(req, CP_E_EMPTY_SELECTOR,
			       "the selector matches no tenant");
	else
		cp_reply_rc(req, rc);
}

static void rollout_create(struct claw_http_req *req, void *vctx)
{
	struct cp_ctx *ctx = vctx;
	struct cp_auth auth;
	json_t *body = NULL, *sel = NULL, *images = NULL, *gc = NULL,
	       *rcfg = NULL;
	json_int_t mu = 1, th = 1, mr = -1;
	const struct claw_json_field f[] = {
		{"selector", CLAW_JSON_OBJECT, true, &sel, 0},
		{"images", CLAW_JSON_OBJECT, false, &images, 0},
		{"gateway_config", CLAW_JSON_OBJECT, false, &gc, 0},
		{"runtime_config", CLAW_JSON_OBJECT, false, &rcfg, 0},
		{"max_unavailable", CLAW_JSON_INT, false, &mu, 0},
		{"failure_threshold", CLAW_JSON_INT, false, &th, 0},
		{"min_ready_ms", CLAW_JSON_INT, false, &mr, 0},
		{NULL, 0, false, NULL, 0},
	};
	char id[CP_ID_MAX], msg[200], loc[64];
	struct create cr = {.req = req, .auth = &auth};
	char *texts[4] = {NULL, NULL, NULL, NULL};
	enum claw_rc rc;
	int sc;

	if (cp_auth_require(req, ctx, ROLES, &auth) ||
	    claw_http_parse_json(req, f, &body))
		return;
	sc = cp_rollout_selector_check(sel, msg, sizeof(msg));
	if (sc == -2) {
		cp_reply_error(req, CP_E_EMPTY_SELECTOR,
			       "selector: give all, labels, plan or tenants");
		goto out;
	}
	if (sc) {
		claw_http_reply_std(req, CLAW_HE_INVALID_FIELD, msg);
		goto out;
	}
	if (mu < 1 || mu > CP_ROLLOUT_BATCH_MAX || th < 1 || th > 100000 ||
	    mr < -1 || mr > 600000) {
		claw_http_reply_std(req, CLAW_HE_INVALID_FIELD,
				    "max_unavailable 1..100, failure_threshold "
				    ">= 1, min_ready_ms 0..600000");
		goto out;
	}
	if (!json_object_size(images) && !gc && !rcfg) {
		claw_http_reply_std(req, CLAW_HE_MISSING_FIELD,
				    "give images, gateway_config or "
				    "runtime_config: what the rollout "
				    "changes");
		goto out;
	}
	if (images && images_check(req, images))
		goto out;
	texts[0] = claw_json_dumps(sel);
	texts[1] = images ? claw_json_dumps(images) : strdup("{}");
	texts[2] = gc ? claw_json_dumps(gc) : NULL;
	texts[3] = rcfg ? claw_json_dumps(rcfg) : NULL;
	if (!texts[0] || !texts[1] || (gc && !texts[2]) ||
	    (rcfg && !texts[3])) {
		claw_http_reply_std(req, CLAW_HE_INTERNAL, NULL);
		goto out;
	}
	cp_id_new("ro_", id, sizeof(id));
	cr.n = (struct cp_ro_new){.id = id,
				  .selector = texts[0],
				  .images = texts[1],
				  .gateway_config = texts[2],
				  .runtime_config = texts[3],
				  .max_unavailable = (int)mu,
				  .failure_threshold = (int)th,
				  .min_ready_ms = (long)mr,
				  .created_by = auth.token_id};
	cr.listed = json_object_get(sel, "tenants");
	rc = claw_db_tx(ctx->db, CLAW_DB_READ_COMMITTED, create_tx, &cr);
	if (rc) {
		create_reply_failed(req, &cr, rc);
		goto out;
	}
	log_info("rollout %s created: %d tenant(s)", id, cr.matched);
	cp_fleet_wake();
	snprintf(loc, sizeof(loc), "/v1/rollouts/%s", id);
	claw_http_add_header(req, "Location", loc);
	claw_http_reply_json(req, 201, cp_ro_json(cr.row, 0));
out:
	PQclear(cr.row);
	for (int i = 0; i < 4; i++)
		free(texts[i]);
	json_decref(body);
}

/* ---- read */

static void rollout_list(struct claw_http_req *req, void *vctx)
{
	struct cp_ctx *ctx = vctx;
	struct cp_auth auth;
	const char *state = claw_http_query(req, "state");
	const char *ls = claw_http_query(req, "limit");
	const char *cs = claw_http_query(req, "cursor");
	int limit = LIST_DEFAULT;
	long long cursor = 0;
	PGresult *rows = NULL;
	json_t *items;
	enum claw_rc rc;
	PGconn *c;

	if (cp_auth_require(req, ctx, ROLES, &auth))
		return;
	if ((state && strcmp(state, "running") && strcmp(state, "paused") &&
	     strcmp(state, "halted") && strcmp(state, "aborted") &&
	     strcmp(state, "completed")) ||
	    (ls && !cp_parse_limit(ls, LIST_MAX, &limit)) ||
	    (cs && !cp_parse_cursor(cs, &cursor))) {
		cp_reply_error(req, CP_E_INVALID_PARAMETER,
			       "state running|paused|halted|aborted|"
			       "completed, limit 1 to %d, cursor a "
			       "next_cursor value",
			       LIST_MAX);
		return;
	}
	c = claw_db_acquire(ctx->db);
	rc = c ? cp_store_ro_list(c, state, cursor, limit + 1, &rows)
	       : CLAW_ERR_IO;
	if (c)
		claw_db_release(ctx->db, c);
	if (rc) {
		cp_reply_rc(req, rc);
		return;
	}
	items = json_array();
	for (int i = 0; i < PQntuples(rows) && i < limit; i++)
		json_array_append_new(items, cp_ro_json(rows, i));
	cp_reply_page(req, items, rows, limit, CP_RC_SEQ);
	PQclear(rows);
}

/* The rollout with its tenants, from conn; NULL when out of memory. */
static json_t *rollout_full(PGconn *c, const PGresult *row, enum claw_rc *rc)
{
	PGresult *t = NULL;
	json_t *j = cp_ro_json(row, 0), *list = json_array();

	*rc = cp_store_ro_tenants(c, PQgetvalue(row, 0, CP_RC_ID), NULL, &t);
	for (int i = 0; !*rc && i < PQntuples(t); i++)
		json_array_append_new(list, cp_ro_tenant_json(t, i));
	PQclear(t);
	if (*rc || !j || json_object_set_new(j, "tenants", list)) {
		if (!*rc)
			*rc = CLAW_ERR_NOMEM;
		json_decref(j);
		return NULL;
	}
	return j;
}

static void rollout_get(struct claw_http_req *req, void *vctx)
{
	struct cp_ctx *ctx = vctx;
	struct cp_auth auth;
	const char *id = claw_http_param(req, "id");
	PGresult *row = NULL;
	enum claw_rc rc = CLAW_ERR_NOT_FOUND;
	json_t *j = NULL;
	PGconn *c;

	if (cp_auth_require(req, ctx, ROLES, &auth))
		return;
	if (cp_id_valid(id, "ro_")) {
		c = claw_db_acquire(ctx->db);
		rc = c ? cp_store_ro_get(c, id, false, &row) : CLAW_ERR_IO;
		if (!rc)
			j = rollout_full(c, row, &rc);
		if (c)
			claw_db_release(ctx->db, c);
	}
	PQclear(row);
	if (rc == CLAW_ERR_NOT_FOUND)
		cp_reply_error(req, CP_E_ROLLOUT_NOT_FOUND, NULL);
	else if (rc)
		cp_reply_rc(req, rc);
	else
		claw_http_reply_json(req, 200, j);
}

/* ---- pause, resume, abort */

struct control {
	struct claw_http_req *req;
	const struct cp_auth *auth;
	const char *id;
	const char *action; /* pause, resume, abort */
	bool refused;       /* the transition is not allowed */
	json_t *out;
};

static enum claw_rc control_tx(PGconn *c, void *cls)
{
	struct control *ct = cls;
	PGresult *row = NULL;
	const char *to;
	char kind[16], action[32];
	enum claw_rc rc = cp_store_ro_get(c, ct->id, true, &row);

	json_decref(ct->out);
	ct->out = NULL;
	ct->refused = false;
	if (rc)
		return rc;
	to = cp_rollout_transition(PQgetvalue(row, 0, CP_RC_STATE), ct->action);
	cp_store_clear(&row);
	if (!to) {
		ct->refused = true;
		return CLAW_ERR_INVALID;
	}
	snprintf(kind, sizeof(kind), "%s",
		 !strcmp(to, "paused")            ? "paused"
			 : !strcmp(to, "running") ? "resumed"
						  : "aborted");
	snprintf(action, sizeof(action), "rollout.%s", ct->action);
	rc = cp_store_ro_state(c, ct->id, to,
			       !strcmp(to, "aborted") ? "aborted by an operator"
						      : NULL);
	if (!rc)
		rc = cp_store_ro_get(c, ct->id, false, &row);
	if (!rc) {
		char type[32];

		snprintf(type, sizeof(type), "rollout.%s", kind);
		rc = cp_event_add(c, type, NULL, NULL, cp_ro_counters(row, 0));
	}
	if (!rc)
		ct->out = rollout_full(c, row, &rc);
	if (!rc)
		rc = audit_ro(c, ct->req, ct->auth, ct->id, action,
			      json_pack("{s:s}", "state", to));
	PQclear(row);
	return rc;
}

static void control(struct claw_http_req *req, struct cp_ctx *ctx,
		    const char *action)
{
	struct cp_auth auth;
	struct control ct = {.req = req,
			     .auth = &auth,
			     .id = claw_http_param(req, "id"),
			     .action = action};
	enum claw_rc rc = CLAW_ERR_NOT_FOUND;

	if (cp_auth_require(req, ctx, ROLES, &auth))
		return;
	if (cp_id_valid(ct.id, "ro_"))
		rc = claw_db_tx(ctx->db, CLAW_DB_READ_COMMITTED, control_tx,
				&ct);
	if (rc == CLAW_ERR_NOT_FOUND)
		cp_reply_error(req, CP_E_ROLLOUT_NOT_FOUND, NULL);
	else if (rc == CLAW_ERR_INVALID && ct.refused)
		cp_reply_error(req, CP_E_ROLLOUT_STATE,
			       "a rollout can be paused when running, resumed "
			       "when paused, aborted when either");
	else if (rc)
		cp_reply_rc(req, rc);
	else {
		log_info("rollout %s: %s", ct.id, action);
		cp_fleet_wake();
		claw_http_reply_json(req, 200, ct.out);
		ct.out = NULL;
	}
	json_decref(ct.out);
}

static void ro_pause(struct claw_http_req *req, void *ctx)
{
	control(req, ctx, "pause");
}

static void ro_resume(struct claw_http_req *req, void *ctx)
{
	control(req, ctx, "resume");
}

static void ro_abort(struct claw_http_req *req, void *ctx)
{
	control(req, ctx, "abort");
}

const struct claw_route cp_routes_rollouts[] = {
	{"POST", "/v1/rollouts", rollout_create, "rollout.create"},
	{"GET", "/v1/rollouts", rollout_list, "rollout.list"},
	{"GET", "/v1/rollouts/{id}", rollout_get, "rollout.get"},
	{"POST", "/v1/rollouts/{id}/pause", ro_pause, "rollout.pause"},
	{"POST", "/v1/rollouts/{id}/resume", ro_resume, "rollout.resume"},
	{"POST", "/v1/rollouts/{id}/abort", ro_abort, "rollout.abort"},
};
CP_ROUTES_COUNT(rollouts);
