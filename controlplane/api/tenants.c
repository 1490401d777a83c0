/*
 * tenants.c - /v1/tenants: create, list, get, update, soft delete, restore
 * and purge.
 *
 * Every change runs in one transaction with its audit row. Updates are
 * optimistic: the version (ETag "N") from If-Match or the body's "version"
 * must still be current, else 409. A tenant token sees only its own tenant.
 *
 * A tenant's bounds (plan, egress_allow, self_pause, node_labels,
 * api_base_allow) are set on create and update by an admin, or by an
 * operator (who may not rename); a tenant token reads them and sets none.
 * So are the tenant's labels (rollout.h: what rollouts select by), and
 * GET /v1/tenants?label=KEY=VALUE filters by one.
 *
 * A purge leaves a tombstone for every node that ever held the tenant
 * (store/purge.h), so each removes the volumes, networks, secret files
 * and uid it kept of it (api/agent.c lists them as "purged").
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "audit.h"
#include "claw/log.h"
#include "cp.h"
#include "domains.h"
#include "errors.h"
#include "requests.h"
#include "rollout.h"
#include "templates.h"
#include "store/common.h"
#include "store/purge.h"
#include "store/store.h"
#include "validate.h"

#define LIST_DEFAULT 50
#define LIST_MAX 200

/* State of one change, passed to its transaction function. */
struct change {
	struct claw_http_req *req;
	const struct cp_auth *auth;
	const char *id;
	const char *slug;
	const char *name;
	struct cp_tenant_set set; /* what create and update set */
	char *egress_text;        /* set.egress_allow, allocated */
	char *labels_text;        /* set.node_labels, allocated */
	char *bases_text;         /* set.api_base_allow, allocated */
	char *tlabels_text;       /* set.labels, allocated */
	long long version;        /* expected, or -1 */
	json_t *details;          /* audit details of the bounds set */
	PGresult *row;            /* the tenant after the change */
	char *template_name;      /* create: a template to apply, allocated */
	json_t *applied;          /* ... the resource versions it wrote */
	bool no_template;         /* ... which does not exist */
	bool stale;               /* the tenant exists at another version */
	bool deleting;            /* delete (true) or restore */
};

static void change_release(struct change *ch)
{
	cp_store_clear(&ch->row);
}

/* Fill ch->set from the body's bounds; "default" names the built-in plan
 * (stored as no plan). Replies 500 and returns -1 when out of memory. */
static int set_from_input(struct claw_http_req *req, struct change *ch,
			  const struct cp_tenant_input *in)
{
	ch->set.name = in->name;
	ch->set.plan = in->plan && !strcmp(in->plan, "default") ? "" : in->plan;
	ch->set.self_pause = in->self_pause ? json_is_true(in->self_pause) : -1;
	if ((in->egress_allow &&
	     !(ch->egress_text = claw_json_dumps(in->egress_allow))) ||
	    (in->node_labels &&
	     !(ch->labels_text = claw_json_dumps(in->node_labels))) ||
	    (in->api_base_allow &&
	     !(ch->bases_text = claw_json_dumps(in->api_base_allow)))) {
		claw_http_reply_std(req, CLAW_HE_INTERNAL, NULL);
		return -1;
	}
	ch->set.egress_allow = ch->egress_text;
	ch->set.node_labels = ch->labels_text;
	ch->set.api_base_allow = ch->bases_text;
	return 0;
}

static void change_free_texts(struct change *ch)
{
	free(ch->egress_text);
	free(ch->labels_text);
	free(ch->bases_text);
	free(ch->tlabels_text);
	free(ch->template_name);
}

/* The audit details of a change's bounds (what was set), or NULL. */
static json_t *set_details(const struct cp_tenant_input *in)
{
	json_t *d = json_object();

	if (in->plan)
		json_object_set_new(d, "plan", json_string(in->plan));
	if (in->egress_allow)
		json_object_set(d, "egress_allow", in->egress_allow);
	if (in->self_pause)
		json_object_set(d, "self_pause", in->self_pause);
	if (in->node_labels)
		json_object_set(d, "node_labels", in->node_labels);
	if (in->api_base_allow)
		json_object_set(d, "api_base_allow", in->api_base_allow);
	return d;
}

/* A plan named in a body that does not exist (SQLSTATE 23503). */
static bool plan_missing(enum claw_rc rc)
{
	return rc == CLAW_ERR_INVALID &&
		!strcmp(claw_db_last_sqlstate(), "23503");
}

static void set_etag(struct claw_http_req *req, const PGresult *row)
{
	char etag[32];

	snprintf(etag, sizeof(etag), "\"%s\"",
		 PQgetvalue(row, 0, CP_TC_VERSION));
	claw_http_add_header(req, "ETag", etag);
}

static void reply_tenant(struct claw_http_req *req, unsigned status,
			 const PGresult *row)
{
	json_t *j = cp_tenant_json(row, 0);

	if (!j) {
		claw_http_reply_std(req, CLAW_HE_INTERNAL, NULL);
		return;
	}
	set_etag(req, row);
	claw_http_reply_json(req, status, j);
}

/* GET's reply: the tenant with its edge fields (docs/fleet.md, "Public
 * addresses"): public_url when base-domain is set, domains, and webhooks,
 * each enabled channel's URL on the public address. */
static void reply_tenant_edge(struct claw_http_req *req, struct cp_ctx *ctx,
			      const PGresult *row)
{
	json_t *j = cp_tenant_json(row, 0);
	json_t *doms =
		json_loads(PQgetvalue(row, 0, CP_TC_AUTHED_DOMAINS), 0, NULL);
	json_t *chans = claw_db_value(row, 0, CP_TC_AUTHED_CHANNELS)
		? json_loads(PQgetvalue(row, 0, CP_TC_AUTHED_CHANNELS), 0, NULL)
		: NULL;
	char url[CP_PUBLIC_URL_MAX];
	bool has_url =
		cp_public_url(PQgetvalue(row, 0, CP_TC_SLUG),
			      ctx->cfg.fleet.base_domain, url, sizeof(url));

	if (!j || !json_is_array(doms) ||
	    json_object_set_new(j, "public_url",
				has_url ? json_string(url) : json_null()) ||
	    json_object_set(j, "domains", doms) ||
	    json_object_set_new(j, "webhooks",
				cp_webhook_urls(chans, has_url ? url : NULL))) {
		json_decref(j);
		json_decref(doms);
		json_decref(chans);
		claw_http_reply_std(req, CLAW_HE_INTERNAL, NULL);
		return;
	}
	json_decref(doms);
	json_decref(chans);
	set_etag(req, row);
	claw_http_reply_json(req, 200, j);
}

static enum claw_rc audit(PGconn *c, struct change *ch, const char *action,
			  json_t *details)
{
	char target[64];

	snprintf(target, sizeof(target), "tenants/%s", ch->id);
	return cp_audit_request(c, ch->req, ch->auth, action, target, ch->id,
				details);
}

/* After an UPDATE matched nothing: stale version, or gone? */
static enum claw_rc note_stale(PGconn *c, struct change *ch)
{
	PGresult *r = NULL;
	enum claw_rc rc = cp_store_tenant_get(c, ch->id, &r);

	if (!rc)
		ch->stale = true;
	PQclear(r);
	return rc == CLAW_OK ? CLAW_ERR_NOT_FOUND : rc;
}

/* Expected version from If-Match ("N", W/"N", *) or the body; -1: any.
 * Replies 400 and returns -1 when If-Match is malformed. */
static int expected_version(struct claw_http_req *req, json_int_t body_ver,
			    long long *out)
{
	const char *m = claw_http_header(req, "If-Match");

	*out = body_ver > 0 ? (long long)body_ver : -1;
	if (!m || cp_parse_if_match(m, out))
		return 0;
	cp_reply_error(req, CP_E_BAD_IF_MATCH,
		       "If-Match must be the ETag of the tenant, as "
		       "\"N\"");
	return -1;
}

static void reply_change_failed(struct claw_http_req *req,
				const struct change *ch, enum claw_rc rc)
{
	if (ch->stale)
		cp_reply_error(req, CP_E_VERSION_CONFLICT,
			       "tenant '%s' changed since version "
			       "%lld; fetch it again and retry",
			       ch->id, ch->version);
	else
		cp_reply_tenant_rc(req, rc);
}

/* ---- POST /v1/tenants */

/* ---- tenant labels (docs/fleet.md, "Tenant labels") and a template
 *
 * The core body spec (requests.h) is full, so "labels" (and on create
 * "template", docs/resources.md) are taken out of the body here, checked
 * (cp_tenant_labels_valid; a template's name as a string) and the rest
 * goes through the usual pipeline: unknown fields are still refused. */

/* cp_body_parse with "labels": ch->set.labels set from it, and "template":
 * ch->template_name. Replies and returns -1 on a bad body. */
static int body_parse_labels(struct claw_http_req *req, enum cp_body k,
			     struct cp_tenant_input *in, json_t **body,
			     struct change *ch)
{
	struct claw_json_field f[CP_FIELDS_MAX];
	struct claw_json_problem p;
	json_t *labels;

	if (claw_http_parse_json(req, NULL, body))
		return -1;
	labels = json_object_get(*body, "labels");
	if (labels && !cp_tenant_labels_valid(labels)) {
		claw_http_reply_std(req, CLAW_HE_INVALID_FIELD,
				    "labels: up to 32 keys (Kubernetes label "
				    "keys: [PREFIX/]NAME) to values of up to "
				    "63 of A-Z a-z 0-9 . _ -");
		goto fail;
	}
	if (labels && !(ch->tlabels_text = claw_json_dumps(labels))) {
		claw_http_reply_std(req, CLAW_HE_INTERNAL, NULL);
		goto fail;
	}
	ch->set.labels = ch->tlabels_text;
	json_object_del(*body, "labels");
	if (k == CP_BODY_TENANT_CREATE && json_object_get(*body, "template")) {
		const char *t =
			json_string_value(json_object_get(*body, "template"));

		if (!t || !*t || strlen(t) > 64) {
			claw_http_reply_std(req, CLAW_HE_INVALID_FIELD,
					    "template: the name of a template "
					    "(GET /v1/templates)");
			goto fail;
		}
		if (!(ch->template_name = strdup(t))) {
			claw_http_reply_std(req, CLAW_HE_INTERNAL, NULL);
			goto fail;
		}
		json_object_del(*body, "template");
	}
	cp_body_fields(k, in, f);
	if (claw_json_unpack(*body, f, &p))
		goto problem;
	/* an update may change only the labels */
	if (k == CP_BODY_TENANT_UPDATE && ch->set.labels &&
	    json_object_size(*body) ==
		    (json_object_get(*body, "version") ? 1u : 0u))
		return 0;
	if (cp_body_validate(k, in, &p))
		goto problem;
	return 0;
problem:
	claw_http_reply_std(req, p.error, p.message);
fail:
	json_decref(*body);
	*body = NULL;
	return -1;
}

static enum claw_rc create_tx(PGconn *c, void *cls)
{
	struct change *ch = cls;
	enum claw_rc rc;

	change_release(ch);
	rc = cp_store_tenant_insert(c, ch->id, ch->slug, ch->name, &ch->set,
				    &ch->row);
	if (!rc)
		rc = audit(c, ch, "tenant.create",
			   json_pack("{s:s, s:s, s:O, s:s?}", "slug", ch->slug,
				     "name", ch->name, "bounds", ch->details,
				     "template", ch->template_name));
	if (!rc && ch->template_name) {
		struct cp_audit_entry e;
		char target[96];

		snprintf(target, sizeof(target), "tenants/%s/template", ch->id);
		cp_audit_prepare(&e, ch->req, ch->auth, "template.apply",
				 target, ch->id);
		json_decref(ch->applied);
		ch->applied = NULL;
		rc = cp_template_apply(c, ch->id, ch->template_name,
				       ch->auth->token_id, &e, &ch->applied);
		ch->no_template = rc == CLAW_ERR_NOT_FOUND;
	}
	return rc;
}

static void tenant_create(struct claw_http_req *req, void *vctx)
{
	struct cp_auth auth;
	struct change ch = {.req = req, .auth = &auth, .version = -1};
	struct cp_tenant_input in = {0};
	char id[CP_ID_MAX], location[64];
	json_t *body = NULL;
	enum claw_rc rc;

	if (cp_auth_require(req, vctx, CP_R_ADMIN, &auth) ||
	    body_parse_labels(req, CP_BODY_TENANT_CREATE, &in, &body, &ch)) {
		change_free_texts(&ch);
		return;
	}
	cp_id_new("tnt_", id, sizeof(id));
	ch.id = id;
	ch.slug = in.slug;
	ch.name = in.name;
	if (set_from_input(req, &ch, &in))
		goto out;
	ch.details = set_details(&in);
	if (ch.set.labels && ch.details)
		json_object_set_new(ch.details, "labels",
				    json_loads(ch.set.labels, 0, NULL));
	rc = claw_db_tx(((struct cp_ctx *)vctx)->db, CLAW_DB_READ_COMMITTED,
			create_tx, &ch);
	if (ch.no_template) {
		claw_http_reply_std(req, CLAW_HE_INVALID_FIELD,
				    "template: no template has that name; list "
				    "them with GET /v1/templates");
		goto out;
	}
	if (plan_missing(rc)) {
		cp_reply_error(req, CP_E_PLAN_NOT_FOUND,
			       "no plan is named '%s'; list the plans",
			       in.plan);
		goto out;
	}
	if (rc == CLAW_ERR_INVALID &&
	    !strcmp(claw_db_last_sqlstate(), "23505")) {
		cp_reply_error(req, CP_E_SLUG_TAKEN,
			       "a tenant with slug '%s' exists (purge "
			       "a deleted one to reuse it)",
			       in.slug);
		goto out;
	}
	if (rc) {
		cp_reply_rc(req, rc);
		goto out;
	}
	log_info("tenant %s (%s) created", id, in.slug);
	snprintf(location, sizeof(location), "/v1/tenants/%s", id);
	claw_http_add_header(req, "Location", location);
	reply_tenant(req, 201, ch.row);
out:
	change_release(&ch);
	change_free_texts(&ch);
	json_decref(ch.details);
	json_decref(ch.applied);
	json_decref(body);
}

/* ---- GET /v1/tenants */

static void tenant_list(struct claw_http_req *req, void *vctx)
{
	struct cp_ctx *ctx = vctx;
	struct cp_auth auth;
	struct cp_tenant_filter f = {.status = "active", .limit = LIST_DEFAULT};
	const char *status = claw_http_query(req, "status");
	const char *prefix = claw_http_query(req, "slug_prefix");
	const char *limit = claw_http_query(req, "limit");
	const char *cursor = claw_http_query(req, "cursor");
	const char *label = claw_http_query(req, "label");
	char lk[320], lv[64], *ltext = NULL;
	PGresult *rows = NULL;
	json_t *items;
	enum claw_rc rc;
	PGconn *c;
	int n;

	if (cp_auth_require(req, ctx, CP_R_ADMIN | CP_R_OPERATOR | CP_R_TENANT,
			    &auth))
		return;
	if (status && strcmp(status, "active") && strcmp(status, "deleted") &&
	    strcmp(status, "all")) {
		cp_reply_error(req, CP_E_INVALID_PARAMETER,
			       "status must be active, deleted or all");
		return;
	}
	if (prefix &&
	    (strlen(prefix) > CP_SLUG_MAX ||
	     strspn(prefix, "abcdefghijklmnopqrstuvwxyz0123456789-") !=
		     strlen(prefix))) {
		cp_reply_error(req, CP_E_INVALID_PARAMETER,
			       "slug_prefix must be the start of a "
			       "slug (a-z, 0-9, '-')");
		return;
	}
	if (limit && !cp_parse_limit(limit, LIST_MAX, &f.limit)) {
		cp_reply_error(req, CP_E_INVALID_PARAMETER,
			       "limit must be a number from 1 to %d", LIST_MAX);
		return;
	}
	if (cursor && !cp_parse_cursor(cursor, &f.after_seq)) {
		cp_reply_error(req, CP_E_INVALID_PARAMETER,
			       "cursor must be a next_cursor value of "
			       "an earlier page");
		return;
	}
	if (label) {
		json_t *o = NULL;

		if (!cp_label_filter_parse(label, lk, sizeof(lk), lv,
					   sizeof(lv))) {
			cp_reply_error(req, CP_E_INVALID_PARAMETER,
				       "label must be KEY=VALUE (a label key "
				       "and value)");
			return;
		}
		o = json_pack("{s:s}", lk, lv);
		ltext = o ? claw_json_dumps(o) : NULL;
		json_decref(o);
		if (!ltext) {
			claw_http_reply_std(req, CLAW_HE_INTERNAL, NULL);
			return;
		}
		f.labels = ltext;
	}
	if (status)
		f.status = status;
	f.slug_prefix = prefix && prefix[0] ? prefix : NULL;
	if (auth.role == CP_ROLE_TENANT) {
		f.only_id = auth.tenant_id;
		f.status = "active";
	}
	f.limit++; /* one more tells whether there is a next page */
	c = claw_db_acquire(ctx->db);
	if (!c) {
		free(ltext);
		claw_http_reply_std(req, CLAW_HE_UNAVAILABLE, NULL);
		return;
	}
	rc = cp_store_tenant_list(c, &f, &rows);
	claw_db_release(ctx->db, c);
	free(ltext);
	if (rc) {
		cp_reply_rc(req, rc);
		return;
	}
	n = PQntuples(rows);
	items = json_array();
	for (int i = 0; i < n && i < f.limit - 1; i++) {
		json_t *j = cp_tenant_json(rows, i);
		char url[CP_PUBLIC_URL_MAX];

		if (j &&
		    cp_public_url(PQgetvalue(rows, i, CP_TC_SLUG),
				  ctx->cfg.fleet.base_domain, url, sizeof(url)))
			json_object_set_new(j, "public_url", json_string(url));
		json_array_append_new(items, j);
	}
	cp_reply_page(req, items, rows, f.limit - 1, CP_TC_SEQ);
	PQclear(rows);
}

/* ---- GET /v1/tenants/{t} */

static void tenant_get(struct claw_http_req *req, void *vctx)
{
	struct cp_ctx *ctx = vctx;
	const char *t = claw_http_param(req, "t");
	struct cp_auth auth;
	char hash[65], stored[65] = "";
	PGresult *row = NULL;
	enum claw_rc rc;
	PGconn *c;

	/* one statement authenticates and fetches: the hot path */
	if (cp_auth_token_hash(req, hash))
		return;
	if (!cp_slug_valid(t) && !cp_id_valid(t, "tnt_"))
		t = "-"; /* matches no tenant; the token is still checked */
	c = claw_db_acquire(ctx->db);
	if (!c) {
		claw_http_reply_std(req, CLAW_HE_UNAVAILABLE, NULL);
		return;
	}
	rc = cp_store_tenant_get_authed(c, hash, t, &auth, stored, &row);
	claw_db_release(ctx->db, c);
	if (cp_auth_check(req, rc, stored, hash,
			  CP_R_ADMIN | CP_R_OPERATOR | CP_R_TENANT, &auth))
		goto out;
	if (PQgetisnull(row, 0, CP_TC_ID) ||
	    !cp_tenant_visible(&auth, PQgetvalue(row, 0, CP_TC_ID),
			       !PQgetisnull(row, 0, CP_TC_DELETED),
			       CP_TENANT_ALLOW_DELETED))
		cp_reply_tenant_rc(req, CLAW_ERR_NOT_FOUND);
	else
		reply_tenant_edge(req, ctx, row);
out:
	PQclear(row);
}

/* ---- PATCH /v1/tenants/{t} */

static enum claw_rc update_tx(PGconn *c, void *cls)
{
	struct change *ch = cls;
	enum claw_rc rc;

	change_release(ch);
	ch->stale = false;
	rc = cp_store_tenant_update(c, ch->id, &ch->set, ch->version, &ch->row);
	if (rc == CLAW_ERR_NOT_FOUND)
		return note_stale(c, ch);
	if (rc)
		return rc;
	return audit(c, ch, "tenant.update",
		     json_pack("{s:s*, s:s, s:O}", "name", ch->name, "version",
			       PQgetvalue(ch->row, 0, CP_TC_VERSION), "bounds",
			       ch->details));
}

static void tenant_update(struct claw_http_req *req, void *vctx)
{
	struct cp_ctx *ctx = vctx;
	struct cp_auth auth;
	struct cp_tenant_ref ten;
	struct change ch = {.req = req, .auth = &auth};
	struct cp_tenant_input in = {0};
	json_t *body = NULL;
	enum claw_rc rc;

	/* an operator sets bounds (plan, egress, self-pause), not names */
	if (cp_auth_require(req, ctx, CP_R_ADMIN | CP_R_OPERATOR, &auth) ||
	    cp_tenant_require(req, ctx, &auth, "t", 0, &ten) ||
	    body_parse_labels(req, CP_BODY_TENANT_UPDATE, &in, &body, &ch)) {
		change_free_texts(&ch);
		return;
	}
	if (auth.role == CP_ROLE_OPERATOR && in.name) {
		claw_http_reply_std(req, CLAW_HE_FORBIDDEN,
				    "an operator may change a tenant's bounds "
				    "(plan, egress_allow, self_pause, "
				    "node_labels, api_base_allow), not its "
				    "name");
		goto out;
	}
	if (expected_version(req, in.version, &ch.version) ||
	    set_from_input(req, &ch, &in))
		goto out;
	ch.id = ten.id;
	ch.name = in.name;
	ch.details = set_details(&in);
	if (ch.set.labels && ch.details)
		json_object_set_new(ch.details, "labels",
				    json_loads(ch.set.labels, 0, NULL));
	rc = claw_db_tx(ctx->db, CLAW_DB_READ_COMMITTED, update_tx, &ch);
	if (plan_missing(rc)) {
		cp_reply_error(req, CP_E_PLAN_NOT_FOUND,
			       "no plan is named '%s'; list the plans",
			       in.plan);
		goto out;
	}
	if (rc) {
		reply_change_failed(req, &ch, rc);
		goto out;
	}
	reply_tenant(req, 200, ch.row);
out:
	change_release(&ch);
	change_free_texts(&ch);
	json_decref(ch.details);
	json_decref(body);
}

/* ---- DELETE /v1/tenants/{t}, POST .../restore */

static enum claw_rc delete_tx(PGconn *c, void *cls)
{
	struct change *ch = cls;
	bool deleting = ch->deleting;
	enum claw_rc rc;

	change_release(ch);
	ch->stale = false;
	rc = cp_store_tenant_set_deleted(c, ch->id, deleting, ch->version,
					 &ch->row);
	if (rc == CLAW_ERR_NOT_FOUND)
		return note_stale(c, ch);
	if (rc)
		return rc;
	return audit(c, ch, deleting ? "tenant.delete" : "tenant.restore",
		     NULL);
}

static void set_deleted(struct claw_http_req *req, struct cp_ctx *ctx,
			bool deleting)
{
	struct cp_auth auth;
	struct cp_tenant_ref ten;
	struct change ch = {.req = req, .auth = &auth};
	enum claw_rc rc;

	if (cp_auth_require(req, ctx, CP_R_ADMIN, &auth) ||
	    cp_tenant_require(req, ctx, &auth, "t", CP_TENANT_ALLOW_DELETED,
			      &ten) ||
	    expected_version(req, 0, &ch.version))
		return;
	if (ten.deleted == deleting) {
		if (deleting)
			cp_reply_error(req, CP_E_TENANT_DELETED,
				       "tenant '%s' is deleted already; purge "
				       "or restore it",
				       ten.slug);
		else
			cp_reply_error(req, CP_E_TENANT_NOT_DELETED,
				       "tenant '%s' is not deleted", ten.slug);
		return;
	}
	ch.id = ten.id;
	ch.deleting = deleting;
	rc = claw_db_tx(ctx->db, CLAW_DB_READ_COMMITTED, delete_tx, &ch);
	if (rc)
		reply_change_failed(req, &ch, rc);
	else
		reply_tenant(req, 200, ch.row);
	change_release(&ch);
}

static void tenant_delete(struct claw_http_req *req, void *vctx)
{
	set_deleted(req, vctx, true);
}

static void tenant_restore(struct claw_http_req *req, void *vctx)
{
	set_deleted(req, vctx, false);
}

/* ---- POST /v1/tenants/{t}/purge */

static enum claw_rc purge_tx(PGconn *c, void *cls)
{
	struct change *ch = cls;
	/* first, while its placement and history still name its nodes:
	 * each of them is told to remove what it keeps of the tenant */
	enum claw_rc rc = cp_store_purge_mark(c, ch->id, ch->slug);

	if (!rc)
		rc = cp_store_tenant_purge(c, ch->id);
	if (rc)
		return rc;
	return audit(c, ch, "tenant.purge",
		     json_pack("{s:s}", "slug", ch->slug));
}

static void tenant_purge(struct claw_http_req *req, void *vctx)
{
	struct cp_ctx *ctx = vctx;
	struct cp_auth auth;
	struct cp_tenant_ref ten;
	struct change ch = {.req = req, .auth = &auth, .version = -1};
	enum claw_rc rc;

	if (cp_auth_require(req, ctx, CP_R_ADMIN, &auth) ||
	    cp_tenant_require(req, ctx, &auth, "t", CP_TENANT_ALLOW_DELETED,
			      &ten))
		return;
	if (!ten.deleted) {
		cp_reply_error(req, CP_E_TENANT_NOT_DELETED,
			       "tenant '%s' is not deleted; delete it "
			       "before purging it",
			       ten.slug);
		return;
	}
	ch.id = ten.id;
	ch.slug = ten.slug;
	rc = claw_db_tx(ctx->db, CLAW_DB_READ_COMMITTED, purge_tx, &ch);
	if (rc) {
		reply_change_failed(req, &ch, rc);
		return;
	}
	log_info("tenant %s (%s) purged", ten.id, ten.slug);
	claw_http_reply_empty(req, 204);
}

const struct claw_route cp_routes_tenants[] = {
	{"POST", "/v1/tenants", tenant_create, "tenants.create"},
	{"GET", "/v1/tenants", tenant_list, "tenants.list"},
	{"GET", "/v1/tenants/{t}", tenant_get, "tenants.get"},
	{"PATCH", "/v1/tenants/{t}", tenant_update, "tenants.update"},
	{"DELETE", "/v1/tenants/{t}", tenant_delete, "tenants.delete"},
	{"POST", "/v1/tenants/{t}/restore", tenant_restore, "tenants.restore"},
	{"POST", "/v1/tenants/{t}/purge", tenant_purge, "tenants.purge"},
};
CP_ROUTES_COUNT(tenants);
