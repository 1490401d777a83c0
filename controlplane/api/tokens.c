/*
 * tokens.c - /v1/tokens: issue, list and revoke API tokens (admin only).
 *
 * A token is shown once, in the reply that creates it; only its BLAKE2b
 * hash is stored. Revoking keeps the row (listed as revoked) so the audit
 * log's actor ids stay meaningful.
 */
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "api/api.h"
#include "audit.h"
#include "claw/crypto.h"
#include "claw/log.h"
#include "cp.h"
#include "errors.h"
#include "requests.h"
#include "store/common.h"
#include "store/store.h"
#include "validate.h"

#define LIST_DEFAULT 50
#define LIST_MAX 200

struct token_change {
	struct claw_http_req *req;
	const struct cp_auth *auth;
	struct cp_token_new t;
	PGresult *row;
};

static enum claw_rc audit(PGconn *c, struct token_change *ch,
			  const char *action, const char *id,
			  const char *tenant_id, json_t *details)
{
	char target[64];

	snprintf(target, sizeof(target), "tokens/%s", id);
	return cp_audit_request(c, ch->req, ch->auth, action, target, tenant_id,
				details);
}

/* ---- POST /v1/tokens */

static enum claw_rc create_tx(PGconn *c, void *cls)
{
	struct token_change *ch = cls;
	enum claw_rc rc;

	cp_store_clear(&ch->row);
	rc = cp_store_token_insert(c, &ch->t, &ch->row);
	if (rc)
		return rc;
	return audit(c, ch, "token.create", ch->t.id, ch->t.tenant_id,
		     json_pack("{s:s, s:s?, s:s?}", "role", ch->t.role,
			       "tenant_id", ch->t.tenant_id, "name",
			       ch->t.name));
}

/* The tenant a tenant token is for; replies 422 and returns -1 when no
 * active tenant has that id or slug. */
static int token_tenant(struct claw_http_req *req, struct cp_ctx *ctx,
			const struct cp_auth *auth, const char *tenant,
			struct cp_tenant_ref *ten)
{
	enum claw_rc rc;
	PGconn *c = claw_db_acquire(ctx->db);

	if (!c) {
		claw_http_reply_std(req, CLAW_HE_UNAVAILABLE, NULL);
		return -1;
	}
	rc = cp_tenant_resolve(c, auth, tenant, 0, ten);
	claw_db_release(ctx->db, c);
	if (rc == CLAW_ERR_NOT_FOUND) {
		claw_http_reply_std(req, CLAW_HE_INVALID_FIELD,
				    "tenant: no active tenant has that id "
				    "or slug");
		return -1;
	}
	if (rc) {
		cp_reply_rc(req, rc);
		return -1;
	}
	return 0;
}

static void token_create(struct claw_http_req *req, void *vctx)
{
	struct cp_ctx *ctx = vctx;
	struct cp_auth auth;
	struct cp_tenant_ref ten;
	struct token_change ch = {.req = req, .auth = &auth};
	struct cp_token_input in = {0};
	char id[CP_ID_MAX], hash[65], token[CP_TOKEN_LEN];
	json_t *body = NULL, *out;
	enum claw_rc rc;

	if (cp_auth_require(req, ctx, CP_R_ADMIN, &auth) ||
	    cp_body_parse(req, CP_BODY_TOKEN_CREATE, &in, &body))
		return;
	if (in.tenant && token_tenant(req, ctx, &auth, in.tenant, &ten)) {
		json_decref(body);
		return;
	}
	cp_id_new("tok_", id, sizeof(id));
	claw_random_token(CP_TOKEN_PREFIX, token, sizeof(token));
	claw_blake2b_hex(token, strlen(token), hash);
	ch.t = (struct cp_token_new){
		.id = id,
		.hash = hash,
		.role = in.role,
		.tenant_id = in.tenant ? ten.id : NULL,
		.name = in.name,
		.created_by = auth.token_id,
		.expires_in_s = in.expires_in,
	};
	rc = claw_db_tx(ctx->db, CLAW_DB_READ_COMMITTED, create_tx, &ch);
	if (rc) {
		cp_reply_rc(req, rc);
		goto out;
	}
	log_info("token %s (role %s) issued", id, in.role);
	out = cp_token_json(ch.row, 0);
	if (!out || json_object_set_new(out, "token", json_string(token))) {
		json_decref(out);
		claw_http_reply_std(req, CLAW_HE_INTERNAL, NULL);
		goto out;
	}
	claw_http_reply_json(req, 201, out);
out:
	sodium_memzero(token, sizeof(token));
	PQclear(ch.row);
	json_decref(body);
}

/* ---- GET /v1/tokens */

static bool token_cursor_ok(const char *s)
{
	return cp_id_valid(s, "tok_");
}

static void token_list(struct claw_http_req *req, void *vctx)
{
	struct cp_ctx *ctx = vctx;
	struct cp_auth auth;
	struct cp_tenant_ref ten;
	const char *role = claw_http_query(req, "role");
	const char *tenant = claw_http_query(req, "tenant");
	const char *cursor;
	int limit;
	PGresult *rows = NULL;
	enum claw_rc rc;
	PGconn *c;

	if (cp_auth_require(req, ctx, CP_R_ADMIN, &auth))
		return;
	if (!cp_list_query(req, LIST_DEFAULT, LIST_MAX, token_cursor_ok, &limit,
			   &cursor) ||
	    (role && cp_role_parse(role) < 0)) {
		cp_reply_error(req, CP_E_INVALID_PARAMETER,
			       "role must be a role, limit 1 to %d, "
			       "cursor a next_cursor value",
			       LIST_MAX);
		return;
	}
	c = claw_db_acquire(ctx->db);
	rc = c ? CLAW_OK : CLAW_ERR_IO;
	if (!rc && tenant)
		rc = cp_tenant_resolve(c, &auth, tenant,
				       CP_TENANT_ALLOW_DELETED, &ten);
	if (!rc)
		rc = cp_store_token_list(c, role, tenant ? ten.id : NULL,
					 cursor ? cursor : "", limit + 1,
					 &rows);
	if (c)
		claw_db_release(ctx->db, c);
	if (rc)
		cp_reply_tenant_rc(req, rc);
	else
		cp_reply_rows(req, rows, limit, 0, cp_token_json);
	PQclear(rows);
}

/* ---- DELETE /v1/tokens/{id} */

struct revoke {
	struct token_change ch;
	const char *id;
};

static enum claw_rc revoke_tx(PGconn *c, void *cls)
{
	struct revoke *rv = cls;
	enum claw_rc rc;

	cp_store_clear(&rv->ch.row);
	rc = cp_store_token_revoke(c, rv->id, &rv->ch.row);
	if (rc)
		return rc;
	return audit(c, &rv->ch, "token.revoke", rv->id,
		     claw_db_value(rv->ch.row, 0, 2),
		     json_pack("{s:s}", "role", PQgetvalue(rv->ch.row, 0, 1)));
}

static void token_delete(struct claw_http_req *req, void *vctx)
{
	struct cp_ctx *ctx = vctx;
	struct cp_auth auth;
	struct revoke rv = {.ch = {.req = req, .auth = &auth}};
	enum claw_rc rc = CLAW_ERR_NOT_FOUND;

	if (cp_auth_require(req, ctx, CP_R_ADMIN, &auth))
		return;
	rv.id = claw_http_param(req, "id");
	if (cp_id_valid(rv.id, "tok_"))
		rc = claw_db_tx(ctx->db, CLAW_DB_READ_COMMITTED, revoke_tx,
				&rv);
	PQclear(rv.ch.row);
	if (rc == CLAW_ERR_NOT_FOUND) {
		cp_reply_error(req, CP_E_TOKEN_NOT_FOUND,
			       "no live token has that id");
		return;
	}
	if (rc) {
		cp_reply_rc(req, rc);
		return;
	}
	log_info("token %s revoked", rv.id);
	claw_http_reply_empty(req, 204);
}

const struct claw_route cp_routes_tokens[] = {
	{"POST", "/v1/tokens", token_create, "tokens.create"},
	{"GET", "/v1/tokens", token_list, "tokens.list"},
	{"DELETE", "/v1/tokens/{id}", token_delete, "tokens.delete"},
};
CP_ROUTES_COUNT(tokens);
