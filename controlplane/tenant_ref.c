/*
 * tenant_ref.c - finds a tenant by id or slug as a token may see it. This
 * is where tenants are kept apart: a tenant token sees only its own tenant,
 * and everything else is "not found" (never "forbidden", which would tell
 * that it exists).
 */
#include <stdio.h>
#include <string.h>

#include "cp.h"
#include "store/store.h"
#include "validate.h"

enum claw_rc cp_tenant_resolve(PGconn *conn, const struct cp_auth *auth,
			       const char *id_or_slug, unsigned flags,
			       struct cp_tenant_ref *out)
{
	PGresult *row = NULL;
	enum claw_rc rc;

	if (!id_or_slug ||
	    (!cp_slug_valid(id_or_slug) && !cp_id_valid(id_or_slug, "tnt_")))
		return CLAW_ERR_NOT_FOUND;
	rc = cp_store_tenant_get(conn, id_or_slug, &row);
	if (rc)
		return rc;
	snprintf(out->id, sizeof(out->id), "%s", PQgetvalue(row, 0, CP_TC_ID));
	snprintf(out->slug, sizeof(out->slug), "%s",
		 PQgetvalue(row, 0, CP_TC_SLUG));
	out->deleted = !PQgetisnull(row, 0, CP_TC_DELETED);
	PQclear(row);
	return cp_tenant_visible(auth, out->id, out->deleted, flags)
		? CLAW_OK
		: CLAW_ERR_NOT_FOUND;
}

bool cp_tenant_visible(const struct cp_auth *auth, const char *tenant_id,
		       bool deleted, unsigned flags)
{
	bool privileged =
		auth->role == CP_ROLE_ADMIN || auth->role == CP_ROLE_OPERATOR;

	if (auth->role == CP_ROLE_TENANT && strcmp(auth->tenant_id, tenant_id))
		return false;
	return !deleted || (privileged && (flags & CP_TENANT_ALLOW_DELETED));
}

int cp_tenant_require(struct claw_http_req *req, struct cp_ctx *ctx,
		      const struct cp_auth *auth, const char *param,
		      unsigned flags, struct cp_tenant_ref *out)
{
	PGconn *c = claw_db_acquire(ctx->db);
	enum claw_rc rc;

	if (!c) {
		claw_http_reply_std(req, CLAW_HE_UNAVAILABLE, NULL);
		return -1;
	}
	rc = cp_tenant_resolve(c, auth, claw_http_param(req, param), flags,
			       out);
	claw_db_release(ctx->db, c);
	if (rc) {
		cp_reply_tenant_rc(req, rc);
		return -1;
	}
	return 0;
}
