/*
 * secrets.c - /v1/tenants/{t}/secrets: put, list and delete a tenant's
 * secret values. Values are write-only: no reply, log line, error message
 * or audit row ever carries one.
 *
 * Who may: admin (any tenant) and a tenant token (its own tenant; another
 * tenant's is 404) write and list; an operator lists names only; auditor
 * and node tokens get 403.
 *
 * The body is read as a secret (CLAW_HTTP_JSON_SECRET): a syntax error is
 * told by line and column only, never with the text near it, and what was
 * parsed is wiped; so is the raw body, whatever the outcome. An empty body
 * is refused as bad_json.
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "audit.h"
#include "claw/log.h"
#include "cp.h"
#include "requests.h"
#include "errors.h"
#include "secrets.h"
#include "validate.h"

#define LIST_DEFAULT 100
#define LIST_MAX 500

struct put_tx {
	struct cp_ctx *ctx;
	struct claw_http_req *req;
	const struct cp_auth *auth;
	const char *tenant_id;
	const char *name;
	const char *value;
	size_t len;
	char target[CP_ID_MAX + CP_SECRET_NAME_MAX + 32];
	struct cp_secret_meta meta;
};

static void set_target(struct put_tx *t)
{
	snprintf(t->target, sizeof(t->target), "tenants/%s/secrets/%s",
		 t->tenant_id, t->name);
}

static enum claw_rc put_fn(PGconn *conn, void *cls)
{
	struct put_tx *t = cls;
	struct cp_audit_entry e;

	cp_audit_prepare(&e, t->req, t->auth, "secret.put", t->target,
			 t->tenant_id);
	return cp_secret_put(t->ctx, conn, t->tenant_id, t->name, t->value,
			     t->len, &e, &t->meta);
}

static enum claw_rc delete_fn(PGconn *conn, void *cls)
{
	struct put_tx *t = cls;
	struct cp_audit_entry e;

	cp_audit_prepare(&e, t->req, t->auth, "secret.delete", t->target,
			 t->tenant_id);
	return cp_secret_delete(t->ctx, conn, t->tenant_id, t->name, &e);
}

/* The path's secret name, or -1 after a 400 reply. */
static int name_param(struct claw_http_req *req, const char **name)
{
	*name = claw_http_param(req, "name");
	if (cp_secret_name_valid(*name))
		return 0;
	cp_reply_error(req, CP_E_INVALID_SECRET_NAME,
		       "a secret name is 1 to %d of A-Z a-z 0-9 _ . -, "
		       "not starting with '.' or '-'",
		       CP_SECRET_NAME_MAX);
	return -1;
}

/* The request body held the value: wipe what we can reach of it. */
static void wipe_body(struct claw_http_req *req, json_t *body,
		      const char *value)
{
	size_t len;
	const char *raw = claw_http_body(req, &len);

	if (value) /* jansson's copy: its memory, freed by json_decref */
		sodium_memzero((char *)value, strlen(value));
	if (len)
		sodium_memzero((char *)raw, len);
	json_decref(body);
}

static json_t *meta_json(const char *name, const struct cp_secret_meta *m)
{
	return json_pack("{s:s, s:I, s:s, s:s}", "name", name, "version",
			 (json_int_t)m->version, "created_at", m->created_at,
			 "updated_at", m->updated_at);
}

static void secret_put(struct claw_http_req *req, void *vctx)
{
	struct cp_ctx *ctx = vctx;
	struct cp_auth auth;
	struct cp_tenant_ref ten;
	struct put_tx t = {.ctx = ctx, .req = req, .auth = &auth};
	struct claw_json_field fields[] = {
		{"value", CLAW_JSON_STRING, true, &t.value,
		 CP_SECRET_VALUE_MAX},
		{NULL, 0, false, NULL, 0},
	};
	json_t *body = NULL, *out;
	enum claw_rc rc;

	if (cp_auth_require(req, ctx, CP_R_ADMIN | CP_R_TENANT, &auth) ||
	    cp_tenant_require(req, ctx, &auth, "t", 0, &ten) ||
	    name_param(req, &t.name) ||
	    claw_http_parse_json_opt(
		    req, fields,
		    CLAW_HTTP_JSON_NONEMPTY | CLAW_HTTP_JSON_SECRET, &body)) {
		wipe_body(req, NULL, NULL);
		return;
	}
	t.tenant_id = ten.id;
	t.len = strlen(t.value);
	set_target(&t);
	rc = claw_db_tx(ctx->db, CLAW_DB_READ_COMMITTED, put_fn, &t);
	wipe_body(req, body, t.value);
	if (rc) {
		cp_reply_rc(req, rc);
		return;
	}
	log_info("secret %s of tenant %s stored (version %lld)", t.name, ten.id,
		 t.meta.version);
	out = meta_json(t.name, &t.meta);
	if (!out) {
		claw_http_reply_std(req, CLAW_HE_INTERNAL, NULL);
		return;
	}
	claw_http_reply_json(req, t.meta.created ? 201 : 200, out);
}

static void secret_delete(struct claw_http_req *req, void *vctx)
{
	struct cp_ctx *ctx = vctx;
	struct cp_auth auth;
	struct cp_tenant_ref ten;
	struct put_tx t = {.ctx = ctx, .req = req, .auth = &auth};
	enum claw_rc rc;

	if (cp_auth_require(req, ctx, CP_R_ADMIN | CP_R_TENANT, &auth) ||
	    cp_tenant_require(req, ctx, &auth, "t", 0, &ten) ||
	    name_param(req, &t.name))
		return;
	t.tenant_id = ten.id;
	set_target(&t);
	rc = claw_db_tx(ctx->db, CLAW_DB_READ_COMMITTED, delete_fn, &t);
	if (rc == CLAW_ERR_NOT_FOUND) {
		cp_reply_error(req, CP_E_SECRET_NOT_FOUND,
			       "the tenant has no secret of that name");
		return;
	}
	if (rc) {
		cp_reply_rc(req, rc);
		return;
	}
	log_info("secret %s of tenant %s deleted", t.name, ten.id);
	claw_http_reply_empty(req, 204);
}

static json_t *secret_row_json(const PGresult *rows, int i)
{
	return json_pack("{s:s, s:I, s:s, s:s}", "name", PQgetvalue(rows, i, 0),
			 "version",
			 (json_int_t)strtoll(PQgetvalue(rows, i, 1), NULL, 10),
			 "created_at", PQgetvalue(rows, i, 2), "updated_at",
			 PQgetvalue(rows, i, 3));
}

static void secret_list(struct claw_http_req *req, void *vctx)
{
	struct cp_ctx *ctx = vctx;
	struct cp_auth auth;
	struct cp_tenant_ref ten;
	const char *cursor;
	int limit;
	PGresult *rows = NULL;
	enum claw_rc rc;
	PGconn *c;

	if (cp_auth_require(req, ctx, CP_R_ADMIN | CP_R_OPERATOR | CP_R_TENANT,
			    &auth) ||
	    cp_tenant_require(req, ctx, &auth, "t", 0, &ten))
		return;
	if (!cp_list_query(req, LIST_DEFAULT, LIST_MAX, cp_secret_name_valid,
			   &limit, &cursor)) {
		cp_reply_error(req, CP_E_INVALID_PARAMETER,
			       "limit must be 1 to %d, cursor a "
			       "next_cursor value",
			       LIST_MAX);
		return;
	}
	c = claw_db_acquire(ctx->db);
	rc = c ? cp_secret_list(c, ten.id, cursor, limit + 1, &rows)
	       : CLAW_ERR_IO;
	if (c)
		claw_db_release(ctx->db, c);
	if (rc)
		cp_reply_rc(req, rc);
	else
		cp_reply_rows(req, rows, limit, 0, secret_row_json);
	PQclear(rows);
}

const struct claw_route cp_routes_secrets[] = {
	{"GET", "/v1/tenants/{t}/secrets", secret_list, "secrets.list"},
	{"PUT", "/v1/tenants/{t}/secrets/{name}", secret_put, "secrets.put"},
	{"DELETE", "/v1/tenants/{t}/secrets/{name}", secret_delete,
	 "secrets.delete"},
};
CP_ROUTES_COUNT(secrets);
