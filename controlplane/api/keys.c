/*
 * keys.c - /v1/admin/keys: list master key versions and rotate to a new
 * one (admin only). Rotation re-wraps every tenant's data key in small
 * transactions while the API keeps serving; see docs/security.md for where
 * the new key comes from.
 */
#include <stdio.h>
#include <stdlib.h>

#include "api/api.h"
#include "audit.h"
#include "claw/log.h"
#include "cp.h"
#include "errors.h"
#include "secrets.h"

static void keys_rotate(struct claw_http_req *req, void *vctx)
{
	struct cp_ctx *ctx = vctx;
	struct cp_auth auth;
	struct cp_audit_entry e;
	struct cp_key_rotation r;
	char err[512];
	json_t *body = NULL, *out;
	struct claw_json_field fields[] = {{NULL, 0, false, NULL, 0}};
	enum claw_rc rc;

	if (cp_auth_require(req, ctx, CP_R_ADMIN, &auth) ||
	    claw_http_parse_json(req, fields, &body))
		return;
	json_decref(body);
	cp_audit_prepare(&e, req, &auth, "keys.rotate", "master_keys", NULL);
	rc = cp_keys_rotate(ctx, &e, &r, err, sizeof(err));
	if (rc == CLAW_ERR_TIMEOUT) {
		cp_reply_error(req, CP_E_ROTATION_RUNNING, "%s", err);
		return;
	}
	if (rc == CLAW_ERR_INVALID) {
		cp_reply_error(req, CP_E_NO_NEW_MASTER_KEY, "%s", err);
		return;
	}
	if (rc && r.to_version) {
		cp_reply_error(req, CP_E_ROTATION_INCOMPLETE,
			       "master key version %u is active but "
			       "re-wrapping the data keys failed after "
			       "%lld; rotate again to finish",
			       r.to_version, r.rewrapped);
		return;
	}
	if (rc) {
		log_error("%s", err);
		cp_reply_rc(req, rc);
		return;
	}
	out = json_pack("{s:I, s:I, s:I, s:b}", "version",
			(json_int_t)r.to_version, "previous_version",
			(json_int_t)r.from_version, "rewrapped",
			(json_int_t)r.rewrapped, "generated", r.generated);
	if (!out) {
		claw_http_reply_std(req, CLAW_HE_INTERNAL, NULL);
		return;
	}
	claw_http_reply_json(req, 200, out);
}

static void keys_list(struct claw_http_req *req, void *vctx)
{
	struct cp_ctx *ctx = vctx;
	struct cp_auth auth;
	PGresult *rows = NULL;
	json_t *items, *out;
	long long active = 0;
	enum claw_rc rc;
	PGconn *c;

	if (cp_auth_require(req, ctx, CP_R_ADMIN, &auth))
		return;
	c = claw_db_acquire(ctx->db);
	if (!c) {
		claw_http_reply_std(req, CLAW_HE_UNAVAILABLE, NULL);
		return;
	}
	rc = cp_keys_list(c, &rows);
	claw_db_release(ctx->db, c);
	if (rc) {
		cp_reply_rc(req, rc);
		return;
	}
	items = json_array();
	for (int i = 0; i < PQntuples(rows); i++) {
		long long v = strtoll(PQgetvalue(rows, i, 0), NULL, 10);

		if (PQgetvalue(rows, i, 3)[0] == 't')
			active = v;
		json_array_append_new(
			items,
			json_pack("{s:I, s:I, s:s}", "version", (json_int_t)v,
				  "data_keys",
				  (json_int_t)strtoll(PQgetvalue(rows, i, 1),
						      NULL, 10),
				  "created_at", PQgetvalue(rows, i, 2)));
	}
	PQclear(rows);
	out = json_pack("{s:I, s:o}", "active_version", (json_int_t)active,
			"versions", items);
	if (!out) {
		claw_http_reply_std(req, CLAW_HE_INTERNAL, NULL);
		return;
	}
	claw_http_reply_json(req, 200, out);
}

const struct claw_route cp_routes_keys[] = {
	{"GET", "/v1/admin/keys", keys_list, "keys.list"},
	{"POST", "/v1/admin/keys/rotate", keys_rotate, "keys.rotate"},
};
CP_ROUTES_COUNT(keys);
