/*
 * templates.c - /v1/templates: the admins' templates of a tenant's
 * resources (templates.h, docs/resources.md):
 *
 *   POST   /v1/templates          {"name": N, "persona": ..., "model": ...,
 *                                  "channels": ..., "tools": ...,
 *                                  "policies": ...}           201
 *   GET    /v1/templates          in name order, paged
 *   GET    /v1/templates/{name}
 *   PUT    /v1/templates/{name}   the parts, replacing them (version + 1)
 *   DELETE /v1/templates/{name}   204
 *
 * Admins write; admins and operators read; other roles get 403. Every
 * change is audited in the transaction that makes it. A template holds no
 * secret value (422 naming the field).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "audit.h"
#include "claw/db.h"
#include "claw/log.h"
#include "cp.h"
#include "errors.h"
#include "requests.h"
#include "resources_page.h"
#include "store/templates.h"
#include "templates.h"
#include "validate.h"

#define LIST_DEFAULT 50
#define LIST_MAX 200

struct tpl_tx {
	struct claw_http_req *req;
	const struct cp_auth *auth;
	const char *name;
	const char *action; /* "template.create", ... */
	json_t *body;       /* the stored form, or NULL (delete) */
	long long version;
};

static enum claw_rc tpl_fn(PGconn *c, void *cls)
{
	struct tpl_tx *t = cls;
	char target[96];
	enum claw_rc rc;

	t->version = 1;
	if (!strcmp(t->action, "template.create"))
		rc = cp_store_template_create(c, t->name, t->body);
	else if (t->body)
		rc = cp_store_template_update(c, t->name, t->body, &t->version);
	else
		rc = cp_store_template_delete(c, t->name);
	if (rc)
		return rc;
	snprintf(target, sizeof(target), "templates/%s", t->name);
	return cp_audit_request(c, t->req, t->auth, t->action, target, NULL,
				json_pack("{s:s, s:I}", "name", t->name,
					  "version", (json_int_t)t->version));
}

static json_t *tpl_json(const char *name, long long version, json_t *body)
{
	return json_pack("{s:s, s:I, s:O}", "name", name, "version",
			 (json_int_t)version, "body", body);
}

/* Run the change and reply (status on success). */
static void tpl_run(struct tpl_tx *t, struct cp_ctx *ctx, unsigned status)
{
	enum claw_rc rc =
		claw_db_tx(ctx->db, CLAW_DB_READ_COMMITTED, tpl_fn, t);

	if (rc == CLAW_ERR_INVALID &&
	    !strcmp(claw_db_last_sqlstate(), "23505")) {
		cp_reply_error(t->req, CP_E_TEMPLATE_NAME_TAKEN,
			       "a template named '%s' exists", t->name);
		return;
	}
	if (rc == CLAW_ERR_NOT_FOUND) {
		cp_reply_error(t->req, CP_E_TEMPLATE_NOT_FOUND,
			       "no template is named '%s'", t->name);
		return;
	}
	if (rc) {
		cp_reply_rc(t->req, rc);
		return;
	}
	log_info("template %s: %s (version %lld)", t->name, t->action,
		 t->version);
	if (!t->body)
		claw_http_reply_empty(t->req, 204);
	else
		claw_http_reply_json(t->req, status,
				     tpl_json(t->name, t->version, t->body));
}

/* The path's name, or -1 after a 400 reply. */
static int name_ok(struct claw_http_req *req, const char *name)
{
	if (cp_slug_valid(name))
		return 0;
	claw_http_reply_def(req, claw_http_error_def(CLAW_HE_INVALID_FIELD),
			    "name: a template's name is a DNS label (1 to 63 "
			    "of a-z 0-9 -, not starting or ending with -)");
	return -1;
}

/* Check body (without "name") into t->body; -1 after a 422 reply. */
static int body_take(struct claw_http_req *req, struct tpl_tx *t, json_t *body)
{
	struct cp_res_problem p;

	if (!cp_template_check(body, &t->body, &p))
		return 0;
	claw_http_reply_def(req, claw_http_error_def(CLAW_HE_INVALID_FIELD),
			    "%s: %s", p.field, p.message);
	return -1;
}

static void tpl_create(struct claw_http_req *req, void *vctx)
{
	struct cp_auth auth;
	struct tpl_tx t = {
		.req = req, .auth = &auth, .action = "template.create"};
	json_t *body = NULL;

	if (cp_auth_require(req, vctx, CP_R_ADMIN, &auth) ||
	    claw_http_parse_json_opt(req, NULL, CLAW_HTTP_JSON_NONEMPTY, &body))
		return;
	t.name = json_string_value(json_object_get(body, "name"));
	if (!name_ok(req, t.name)) {
		json_t *rest = json_copy(body);

		json_object_del(rest, "name");
		if (!body_take(req, &t, rest))
			tpl_run(&t, vctx, 201);
		json_decref(rest);
	}
	json_decref(t.body);
	json_decref(body);
}

static void tpl_put(struct claw_http_req *req, void *vctx)
{
	struct cp_auth auth;
	struct tpl_tx t = {
		.req = req, .auth = &auth, .action = "template.update"};
	json_t *body = NULL;

	t.name = claw_http_param(req, "name");
	if (cp_auth_require(req, vctx, CP_R_ADMIN, &auth) ||
	    name_ok(req, t.name) ||
	    claw_http_parse_json_opt(req, NULL, CLAW_HTTP_JSON_NONEMPTY, &body))
		return;
	if (!body_take(req, &t, body))
		tpl_run(&t, vctx, 200);
	json_decref(t.body);
	json_decref(body);
}

static void tpl_delete(struct claw_http_req *req, void *vctx)
{
	struct cp_auth auth;
	struct tpl_tx t = {
		.req = req, .auth = &auth, .action = "template.delete"};

	t.name = claw_http_param(req, "name");
	if (cp_auth_require(req, vctx, CP_R_ADMIN, &auth) ||
	    name_ok(req, t.name))
		return;
	tpl_run(&t, vctx, 204);
}

static void tpl_get(struct claw_http_req *req, void *vctx)
{
	struct cp_ctx *ctx = vctx;
	struct cp_auth auth;
	const char *name = claw_http_param(req, "name");
	json_t *body = NULL;
	long long v = 0;
	enum claw_rc rc;
	PGconn *c;

	if (cp_auth_require(req, ctx, CP_R_ADMIN | CP_R_OPERATOR, &auth) ||
	    name_ok(req, name))
		return;
	c = claw_db_acquire(ctx->db);
	rc = c ? cp_store_template_get(c, name, &body, &v) : CLAW_ERR_IO;
	if (c)
		claw_db_release(ctx->db, c);
	if (rc == CLAW_ERR_NOT_FOUND)
		cp_reply_error(req, CP_E_TEMPLATE_NOT_FOUND,
			       "no template is named '%s'", name);
	else if (rc)
		cp_reply_rc(req, rc);
	else
		claw_http_reply_json(req, 200, tpl_json(name, v, body));
	json_decref(body);
}

static json_t *tpl_row_json(const PGresult *rows, int i)
{
	return json_pack("{s:s, s:I, s:s, s:s, s:o}", "name",
			 PQgetvalue(rows, i, 0), "version",
			 (json_int_t)strtoll(PQgetvalue(rows, i, 1), NULL, 10),
			 "created_at", PQgetvalue(rows, i, 2), "updated_at",
			 PQgetvalue(rows, i, 3), "body",
			 json_loads(PQgetvalue(rows, i, 4), 0, NULL));
}

static enum claw_rc tpl_read(PGconn *c, const char *cursor, int limit,
			     void *cls, PGresult **rows)
{
	(void)cls;
	return cp_store_template_list(c, cursor, limit, rows);
}

static void tpl_list(struct claw_http_req *req, void *vctx)
{
	static const struct cp_page page = {LIST_DEFAULT,  LIST_MAX,
					    cp_slug_valid, tpl_read,
					    tpl_row_json,  0};
	struct cp_auth auth;

	if (!cp_auth_require(req, vctx, CP_R_ADMIN | CP_R_OPERATOR, &auth))
		cp_reply_list(req, vctx, &page, NULL);
}

const struct claw_route cp_routes_templates[] = {
	{"POST", "/v1/templates", tpl_create, "templates.create"},
	{"GET", "/v1/templates", tpl_list, "templates.list"},
	{"GET", "/v1/templates/{name}", tpl_get, "templates.get"},
	{"PUT", "/v1/templates/{name}", tpl_put, "templates.put"},
	{"DELETE", "/v1/templates/{name}", tpl_delete, "templates.delete"},
};
CP_ROUTES_COUNT(templates);
