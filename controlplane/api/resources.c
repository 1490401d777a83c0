/*
 * resources.c - a tenant's agent setup as resources (docs/resources.md):
 *
 *   GET              /v1/tenants/{t}/channels          the live channels
 *   PUT, GET, DELETE /v1/tenants/{t}/channels/{kind}
 *   PUT, GET, DELETE /v1/tenants/{t}/persona | model | tools | policies
 *   GET              /v1/tenants/{t}/persona/versions  newest first
 *   GET              /v1/tenants/{t}/persona/versions/{n}
 *
 * A change is checked (resources.h: what the gateway and runtime accept;
 * 422 invalid_field naming the field), then, in one transaction on the
 * tenant's locked row: the bounds of a tenant token (an operator's lock,
 * channel base URLs, the egress bound; the image policy for everyone:
 * 403, audited as "KIND.denied"), the credentials given as values stored
 * as tenant secrets (secrets.h, each audited 'secret.put'), every secret
 * the resource names present (422 missing_secrets), the new version, and
 * its audit row. Any refusal rolls all of it back: nothing is
 * half-applied. The reply says whether the tenant runs a deployment that
 * the change reaches only on a redeploy ("redeploy_required").
 *
 * Who may: admin and a tenant token (its own tenant; another's is 404)
 * change and read; an operator too, except that it may not send secret
 * values (403); auditor and node tokens get 403. Secret values are never
 * stored in a resource, echoed, logged or audited: bodies that may hold
 * them are parsed as secrets (CLAW_HTTP_JSON_SECRET) and wiped.
 */
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "audit.h"
#include "bounds.h"
#include "claw/log.h"
#include "cp.h"
#include "errors.h"
#include "requests.h"
#include "resources.h"
#include "resources_page.h"
#include "secrets.h"
#include "store/deploy.h"
#include "store/plans.h"
#include "store/resources.h"
#include "validate.h"

#define READ_ROLES (CP_R_ADMIN | CP_R_OPERATOR | CP_R_TENANT)
#define WRITE_ROLES (CP_R_ADMIN | CP_R_OPERATOR | CP_R_TENANT)
#define LIST_DEFAULT 20
#define LIST_MAX 100

/* One change of one resource, and what came of it. */
struct change {
	struct cp_ctx *ctx;
	struct claw_http_req *req;
	const struct cp_auth *auth;
	struct cp_tenant_ref ten;
	enum cp_res_kind kind;
	const char *name;    /* the channel's kind, or CP_RES_SINGLE */
	json_t *body;        /* the stored form; NULL: a deletion */
	json_t *secret_vals; /* secret name -> value given now, or NULL */
	char target[160];
	/* outcome, reset at each attempt of the transaction */
	long long version;
	bool placed;
	enum cp_error denied; /* CP_E__COUNT: none */
	char msg[400];
	json_t *missing; /* secret names the resource needs and lacks */
};

static void deny(struct change *ch, enum cp_error code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void deny(struct change *ch, enum cp_error code, const char *fmt, ...)
{
	va_list ap;

	ch->denied = code;
	va_start(ap, fmt);
	vsnprintf(ch->msg, sizeof(ch->msg), fmt, ap);
	va_end(ap);
}

/* The image policy for every role; for a tenant token also the
 * operator's lock, the channel base URLs and the egress bound (with the
 * fleet default gateway config's egress_allow, which every tenant has).
 * false with ch->denied set. */
static bool within(struct change *ch, const struct cp_tenant_bounds *b)
{
	const struct cp_fleet_config *fc = &ch->ctx->cfg.fleet;
	const struct cp_image_policy *policy = cp_bounds_policy();
	json_t *needs, *bound, *gw, *v;
	const char *bad = NULL;
	char field[96];
	size_t i;
	int r;

	if (ch->auth->role == CP_ROLE_TENANT &&
	    !strcmp(b->suspended_by, "operator")) {
		deny(ch, CP_E_OPERATOR_LOCKED,
		     "an operator suspended this tenant; only an admin or "
		     "operator token can change it");
		return false;
	}
	if (!ch->body)
		return true;
	json_array_foreach(ch->kind == CP_RES_TOOLS
				   ? json_object_get(ch->body, "servers")
				   : NULL,
			   i, v) {
		const char *img =
			json_string_value(json_object_get(v, "image"));

		if (img && policy && !cp_image_allowed(policy, img)) {
			deny(ch, CP_E_IMAGE_NOT_ALLOWED,
			     "servers[%zu].image '%s' is not allowed by the "
			     "fleet's image policy (image-allow)",
			     i, img);
			return false;
		}
	}
	if (ch->auth->role != CP_ROLE_TENANT)
		return true;
	if (ch->kind == CP_RES_CHANNEL) {
		gw = json_pack("{s:{s:O}}", "channels", ch->name, ch->body);
		r = gw ? cp_api_base_check(gw, fc->default_gateway_config,
					   b->api_base_allow, field,
					   sizeof(field))
		       : -1;
		json_decref(gw);
		if (r)
			deny(ch, CP_E_API_BASE_NOT_ALLOWED,
			     "settings: %s is outside the channel base URLs "
			     "this tenant may set (the fleet default's, or "
			     "what its api_base_allow lists)",
			     gw ? field : "a URL");
		return r == 0;
	}
	needs = cp_res_egress_needs(ch->kind, ch->body);
	bound = json_copy(b->egress_allow);
	if (bound)
		json_array_extend(bound,
				  json_object_get(fc->default_gateway_config,
						  "egress_allow"));
	r = needs && bound ? cp_egress_check(needs, bound, &bad) : -1;
	if (r)
		deny(ch, CP_E_EGRESS_NOT_ALLOWED,
		     "'%s' (what the %s reaches through the egress proxy) is "
		     "outside the tenant's egress bound",
		     bad ? bad : "", cp_res_kind_name(ch->kind));
	json_decref(needs);
	json_decref(bound);
	return r == 0;
}

static json_t *names_of(const json_t *o)
{
	json_t *a = json_array();
	const char *k;
	json_t *v;

	json_object_foreach((json_t *)o, k, v) {
		if (a && json_array_append_new(a, json_string(k))) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

static enum claw_rc put_secrets(PGconn *c, struct change *ch)
{
	const char *name;
	json_t *v;

	json_object_foreach(ch->secret_vals, name, v) {
		struct cp_audit_entry e;
		struct cp_secret_meta meta;
		char target[CP_ID_MAX + CP_SECRET_NAME_MAX + 32];
		enum claw_rc rc;

		snprintf(target, sizeof(target), "tenants/%s/secrets/%s",
			 ch->ten.id, name);
		cp_audit_prepare(&e, ch->req, ch->auth, "secret.put", target,
				 ch->ten.id);
		rc = cp_secret_put(ch->ctx, c, ch->ten.id, name,
				   json_string_value(v), json_string_length(v),
				   &e, &meta);
		if (rc)
			return rc;
	}
	return CLAW_OK;
}

static enum claw_rc change_tx(PGconn *c, void *cls)
{
	struct change *ch = cls;
	struct cp_tenant_bounds b;
	char action[48];
	json_t *refs, *details;
	enum claw_rc rc;
	bool ok;

	ch->denied = CP_E__COUNT;
	json_decref(ch->missing);
	ch->missing = NULL;
	memset(&b, 0, sizeof(b));
	rc = cp_store_tenant_bounds(c, ch->ten.id, true, &b);
	if (rc)
		return rc;
	ok = within(ch, &b);
	cp_tenant_bounds_release(&b);
	if (!ok)
		return CLAW_ERR_INVALID;
	if ((rc = put_secrets(c, ch)))
		return rc;
	refs = ch->body ? cp_res_secret_refs(ch->kind, ch->body) : json_array();
	if (!refs)
		return CLAW_ERR_NOMEM;
	rc = cp_store_secrets_missing(c, ch->ten.id, refs, &ch->missing);
	json_decref(refs);
	if (!rc && json_array_size(ch->missing))
		return CLAW_ERR_INVALID;
	if (!rc)
		rc = cp_store_res_put(c, ch->ten.id, cp_res_kind_name(ch->kind),
				      ch->name, ch->body, ch->auth->token_id,
				      &ch->version);
	if (!rc)
		rc = cp_store_tenant_placed(c, ch->ten.id, &ch->placed);
	if (rc)
		return rc;
	snprintf(action, sizeof(action), "%s.%s", cp_res_kind_name(ch->kind),
		 ch->body ? "put" : "delete");
	details = json_pack("{s:s, s:I, s:o}", "name", ch->name, "version",
			    (json_int_t)ch->version, "secrets",
			    ch->secret_vals ? names_of(ch->secret_vals)
					    : json_array());
	return cp_audit_request(c, ch->req, ch->auth, action, ch->target,
				ch->ten.id, details);
}

static enum claw_rc denied_tx(PGconn *c, void *cls)
{
	struct change *ch = cls;
	char action[48];

	snprintf(action, sizeof(action), "%s.%s.denied",
		 cp_res_kind_name(ch->kind), ch->body ? "put" : "delete");
	return cp_audit_request(
		c, ch->req, ch->auth, action, ch->target, ch->ten.id,
		json_pack("{s:s, s:s}", "code", cp_error_def(ch->denied)->code,
			  "message", ch->msg));
}

static void reply_missing(struct claw_http_req *req, const struct change *ch)
{
	const char *first = json_string_value(json_array_get(ch->missing, 0));

	cp_reply_error(req, CP_E_MISSING_SECRETS,
		       "%s: names the secret '%s', which the tenant lacks; set "
		       "it first (PUT /v1/tenants/%s/secrets/%s)",
		       ch->kind == CP_RES_MODEL ? "api_key_secret"
						: "servers[].secrets",
		       first, ch->ten.slug, first);
}

/* Run the change and reply. */
static void change_run(struct change *ch)
{
	enum claw_rc rc =
		claw_db_tx(ch->ctx->db, CLAW_DB_READ_COMMITTED, change_tx, ch);
	json_t *out;

	if (rc && ch->denied != CP_E__COUNT) {
		if (claw_db_tx(ch->ctx->db, CLAW_DB_READ_COMMITTED, denied_tx,
			       ch))
			log_warn("resources: the denial could not be audited");
		cp_reply_error(ch->req, ch->denied, "%s", ch->msg);
		return;
	}
	if (rc && json_array_size(ch->missing)) {
		reply_missing(ch->req, ch);
		return;
	}
	if (rc == CLAW_ERR_NOT_FOUND) {
		claw_http_reply_std(ch->req, CLAW_HE_NOT_FOUND,
				    "the tenant has no such resource");
		return;
	}
	if (rc) {
		cp_reply_rc(ch->req, rc);
		return;
	}
	log_info("%s %s of tenant %s %s (version %lld)",
		 cp_res_kind_name(ch->kind), ch->name, ch->ten.id,
		 ch->body ? "stored" : "deleted", ch->version);
	out = json_pack(
		"{s:s, s:s, s:I, s:b, s:o}", "kind", cp_res_kind_name(ch->kind),
		"name", ch->name, "version", (json_int_t)ch->version,
		"redeploy_required", ch->placed, "secrets",
		ch->secret_vals ? names_of(ch->secret_vals) : json_array());
	if (out && ch->body)
		json_object_set(out, "body", ch->body);
	if (!out) {
		claw_http_reply_std(ch->req, CLAW_HE_INTERNAL, NULL);
		return;
	}
	claw_http_reply_json(ch->req, 200, out);
}

/* Wipe what the request held of secret values: the raw body and the
 * strings parsed from it. */
static void wipe(struct claw_http_req *req, json_t *vals)
{
	size_t len;
	const char *raw = claw_http_body(req, &len);
	const char *k;
	json_t *v;

	json_object_foreach(vals, k, v)
		sodium_memzero((char *)json_string_value(v),
			       json_string_length(v));
	if (len)
		sodium_memzero((char *)raw, len);
}

static void reply_problem(struct claw_http_req *req,
			  const struct cp_res_problem *p)
{
	claw_http_reply_def(req, claw_http_error_def(CLAW_HE_INVALID_FIELD),
			    "%s: %s", p->field, p->message);
}

/* auth and tenant of a request; -1 after the reply. */
static int begin(struct claw_http_req *req, struct change *ch,
		 struct cp_auth *auth, unsigned roles)
{
	ch->req = req;
	ch->auth = auth;
	ch->denied = CP_E__COUNT;
	return cp_auth_require(req, ch->ctx, roles, auth) ||
			cp_tenant_require(req, ch->ctx, auth, "t", 0, &ch->ten)
		? -1
		: 0;
}

static void set_target(struct change *ch)
{
	if (ch->kind == CP_RES_CHANNEL)
		snprintf(ch->target, sizeof(ch->target),
			 "tenants/%s/channels/%s", ch->ten.slug, ch->name);
	else
		snprintf(ch->target, sizeof(ch->target), "tenants/%s/%s",
			 ch->ten.slug, cp_res_kind_name(ch->kind));
}

/* An operator may change resources but not send secret values. */
static int values_allowed(struct change *ch)
{
	if (ch->auth->role != CP_ROLE_OPERATOR ||
	    !json_object_size(ch->secret_vals))
		return 0;
	claw_http_reply_std(ch->req, CLAW_HE_FORBIDDEN,
			    "an operator token cannot set secret values; an "
			    "admin or the tenant sets them");
	return -1;
}

/* ---- channels */

static int channel_param(struct claw_http_req *req, const char **kind)
{
	struct cp_res_problem p;

	*kind = claw_http_param(req, "kind");
	if (cp_channel_known(*kind))
		return 0;
	snprintf(p.field, sizeof(p.field), "kind");
	snprintf(p.message, sizeof(p.message),
		 "unknown channel kind; known: %s", cp_channel_kinds_text());
	reply_problem(req, &p);
	return -1;
}

static void channel_put(struct claw_http_req *req, void *vctx)
{
	struct cp_auth auth;
	struct change ch = {.ctx = vctx, .kind = CP_RES_CHANNEL};
	json_t *settings = NULL, *creds = NULL, *body = NULL, *v;
	const struct claw_json_field fields[] = {
		{"settings", CLAW_JSON_OBJECT, true, &settings, 0},
		{"credentials", CLAW_JSON_OBJECT, false, &creds, 0},
		{NULL, 0, false, NULL, 0},
	};
	struct cp_res_problem p;
	const char *k;
	char name[CP_SECRET_NAME_MAX + 1];

	if (begin(req, &ch, &auth, WRITE_ROLES) ||
	    channel_param(req, &ch.name) ||
	    claw_http_parse_json_opt(
		    req, fields,
		    CLAW_HTTP_JSON_NONEMPTY | CLAW_HTTP_JSON_SECRET, &body)) {
		wipe(req, NULL);
		return;
	}
	if (cp_channel_check(ch.name, settings, creds, &p)) {
		wipe(req, creds);
		json_decref(body);
		reply_problem(req, &p);
		return;
	}
	ch.secret_vals = json_object();
	json_object_foreach(creds, k, v) {
		if (ch.secret_vals &&
		    cp_channel_secret_name(ch.name, k, name, sizeof(name)))
			json_object_set(ch.secret_vals, name, v);
	}
	ch.body = settings;
	set_target(&ch);
	if (!ch.secret_vals)
		claw_http_reply_std(req, CLAW_HE_INTERNAL, NULL);
	else if (!values_allowed(&ch))
		change_run(&ch);
	wipe(req, creds);
	json_decref(ch.secret_vals);
	json_decref(ch.missing);
	json_decref(body);
}

static void resource_delete(struct change *ch)
{
	set_target(ch);
	change_run(ch);
	json_decref(ch->missing);
}

static void channel_delete(struct claw_http_req *req, void *vctx)
{
	struct cp_auth auth;
	struct change ch = {.ctx = vctx, .kind = CP_RES_CHANNEL};

	if (!begin(req, &ch, &auth, WRITE_ROLES) &&
	    !channel_param(req, &ch.name))
		resource_delete(&ch);
}

/* Reply the resource (kind, name) at version (0: current). */
static void resource_reply(struct change *ch, long long version)
{
	PGconn *c = claw_db_acquire(ch->ctx->db);
	json_t *body = NULL, *out;
	long long v = 0;
	char at[40] = "";
	enum claw_rc rc = c
		? cp_store_res_get(c, ch->ten.id, cp_res_kind_name(ch->kind),
				   ch->name, version, &body, &v, at)
		: CLAW_ERR_IO;

	if (c)
		claw_db_release(ch->ctx->db, c);
	if (rc == CLAW_ERR_NOT_FOUND) {
		claw_http_reply_std(ch->req, CLAW_HE_NOT_FOUND,
				    version ? "the tenant has no such version"
					    : "the tenant has no such "
					      "resource");
		return;
	}
	if (rc) {
		cp_reply_rc(ch->req, rc);
		return;
	}
	out = json_pack("{s:s, s:s, s:I, s:s, s:o}", "kind",
			cp_res_kind_name(ch->kind), "name", ch->name, "version",
			(json_int_t)v, "created_at", at, "body", body);
	if (!out)
		claw_http_reply_std(ch->req, CLAW_HE_INTERNAL, NULL);
	else
		claw_http_reply_json(ch->req, 200, out);
}

static void channel_get(struct claw_http_req *req, void *vctx)
{
	struct cp_auth auth;
	struct change ch = {.ctx = vctx, .kind = CP_RES_CHANNEL};

	if (!begin(req, &ch, &auth, READ_ROLES) &&
	    !channel_param(req, &ch.name))
		resource_reply(&ch, 0);
}

/* The connection state of each channel as the tenant's gateway last
 * reported it through its node (its /readyz "channels", kept in the
 * placement's observed status): a new reference, {} when there is none. */
static json_t *channel_states(PGconn *c, const char *tenant_id)
{
	PGresult *row = NULL;
	json_t *obs = NULL, *states;

	if (!cp_store_place_get(c, tenant_id, &row) &&
	    claw_db_value(row, 0, CP_PC_OBSERVED))
		obs = json_loads(PQgetvalue(row, 0, CP_PC_OBSERVED), 0, NULL);
	PQclear(row);
	states = json_object_get(obs, "channels");
	states = json_is_object(states) ? json_incref(states) : json_object();
	json_decref(obs);
	return states;
}

static void channels_list(struct claw_http_req *req, void *vctx)
{
	struct cp_auth auth;
	struct change ch = {.ctx = vctx, .kind = CP_RES_CHANNEL};
	json_t *set = NULL, *items, *e, *states = NULL;
	const char *k;
	PGconn *c;
	enum claw_rc rc;

	if (begin(req, &ch, &auth, READ_ROLES))
		return;
	c = claw_db_acquire(ch.ctx->db);
	rc = c ? cp_store_res_set(c, ch.ten.id, NULL, &set) : CLAW_ERR_IO;
	if (!rc)
		states = channel_states(c, ch.ten.id);
	if (c)
		claw_db_release(ch.ctx->db, c);
	if (rc) {
		cp_reply_rc(req, rc);
		return;
	}
	items = json_array();
	json_object_foreach(json_object_get(set, "channels"), k, e) {
		json_t *st = json_object_get(states, k);

		json_array_append_new(
			items,
			json_pack("{s:s, s:O, s:O, s:o}", "kind", k, "version",
				  json_object_get(e, "version"), "settings",
				  json_object_get(e, "body"), "connection",
				  json_is_object(st)
					  ? json_incref(st)
					  : json_pack("{s:s}", "state",
						      "unknown")));
	}
	json_decref(states);
	json_decref(set);
	claw_http_reply_json(req, 200, json_pack("{s:o}", "items", items));
}

/* ---- persona, model, tools, policies */

/* The kind of a route named "KIND.verb". */
static enum cp_res_kind kind_of_path(struct claw_http_req *req)
{
	const char *name = claw_http_route_name(req);
	size_t n = strcspn(name, ".");

	for (int k = CP_RES_PERSONA; k < CP_RES__COUNT; k++)
		if (strlen(cp_res_kind_name(k)) == n &&
		    !strncmp(name, cp_res_kind_name(k), n))
			return (enum cp_res_kind)k;
	return CP_RES_POLICIES;
}

/* The stored form of a model: its keys given as values taken out into
 * ch->secret_vals, each replaced by the secret's name. */
static int model_take_keys(json_t *body, json_t *vals)
{
	json_t *parts[2] = {body, json_object_get(body, "fallback")};
	const char *names[2] = {CP_MODEL_KEY_SECRET,
				CP_MODEL_FALLBACK_KEY_SECRET};

	for (int i = 0; i < 2; i++) {
		json_t *key = json_object_get(parts[i], "api_key");

		if (!key)
			continue;
		if (json_object_set(vals, names[i], key) ||
		    json_object_set_new(parts[i], "api_key_secret",
					json_string(names[i])) ||
		    json_object_del(parts[i], "api_key"))
			return -1;
	}
	return 0;
}

static void single_put(struct claw_http_req *req, void *vctx)
{
	struct cp_auth auth;
	struct change ch = {.ctx = vctx, .name = CP_RES_SINGLE};
	json_t *body = NULL;
	struct cp_res_problem p;
	int r;

	ch.kind = kind_of_path(req);
	if (begin(req, &ch, &auth, WRITE_ROLES) ||
	    claw_http_parse_json_opt(
		    req, NULL, CLAW_HTTP_JSON_NONEMPTY | CLAW_HTTP_JSON_SECRET,
		    &body)) {
		wipe(req, NULL);
		return;
	}
	ch.secret_vals = json_object();
	switch (ch.kind) {
	case CP_RES_PERSONA:
		r = cp_persona_check(body, &ch.body, &p);
		break;
	case CP_RES_MODEL:
		r = cp_model_check(body, &p);
		ch.body = r ? NULL : json_incref(body);
		break;
	case CP_RES_TOOLS:
		r = cp_tools_check(body, &p);
		ch.body = r ? NULL : json_incref(body);
		break;
	default:
		r = cp_policies_check(body, &p);
		ch.body = r ? NULL : json_incref(body);
		break;
	}
	set_target(&ch);
	if (r)
		reply_problem(req, &p);
	else if (!ch.secret_vals || !ch.body ||
		 (ch.kind == CP_RES_MODEL &&
		  model_take_keys(ch.body, ch.secret_vals)))
		claw_http_reply_std(req, CLAW_HE_INTERNAL, NULL);
	else if (!values_allowed(&ch))
		change_run(&ch);
	wipe(req, ch.secret_vals);
	json_decref(ch.secret_vals);
	json_decref(ch.missing);
	json_decref(ch.body);
	json_decref(body);
}

static void single_get(struct claw_http_req *req, void *vctx)
{
	struct cp_auth auth;
	struct change ch = {.ctx = vctx, .name = CP_RES_SINGLE};

	ch.kind = kind_of_path(req);
	if (!begin(req, &ch, &auth, READ_ROLES))
		resource_reply(&ch, 0);
}

static void single_delete(struct claw_http_req *req, void *vctx)
{
	struct cp_auth auth;
	struct change ch = {.ctx = vctx, .name = CP_RES_SINGLE};

	ch.kind = kind_of_path(req);
	if (!begin(req, &ch, &auth, WRITE_ROLES))
		resource_delete(&ch);
}

/* ---- persona versions */

static bool cursor_ok(const char *s)
{
	long long v;

	return cp_parse_cursor(s, &v);
}

static json_t *version_row_json(const PGresult *rows, int i)
{
	return json_pack("{s:I, s:s, s:s, s:b, s:I}", "version",
			 (json_int_t)strtoll(PQgetvalue(rows, i, 0), NULL, 10),
			 "created_at", PQgetvalue(rows, i, 1), "created_by",
			 PQgetvalue(rows, i, 2), "deleted",
			 PQgetvalue(rows, i, 3)[0] == 't', "bytes",
			 (json_int_t)strtoll(PQgetvalue(rows, i, 4), NULL, 10));
}

static enum claw_rc versions_read(PGconn *c, const char *cursor, int limit,
				  void *cls, PGresult **rows)
{
	const struct change *ch = cls;
	long long before = 0;

	if (cursor)
		cp_parse_cursor(cursor, &before);
	return cp_store_res_versions(c, ch->ten.id, "persona", CP_RES_SINGLE,
				     before, limit, rows);
}

static void persona_versions(struct claw_http_req *req, void *vctx)
{
	static const struct cp_page page = {LIST_DEFAULT,     LIST_MAX,
					    cursor_ok,        versions_read,
					    version_row_json, 0};
	struct cp_auth auth;
	struct change ch = {
		.ctx = vctx, .kind = CP_RES_PERSONA, .name = CP_RES_SINGLE};

	if (!begin(req, &ch, &auth, READ_ROLES))
		cp_reply_list(req, ch.ctx, &page, &ch);
}

static void persona_version(struct claw_http_req *req, void *vctx)
{
	struct cp_auth auth;
	struct change ch = {
		.ctx = vctx, .kind = CP_RES_PERSONA, .name = CP_RES_SINGLE};
	long long n;

	if (begin(req, &ch, &auth, READ_ROLES))
		return;
	if (!cp_parse_cursor(claw_http_param(req, "n"), &n) || n < 1) {
		cp_reply_error(req, CP_E_INVALID_PARAMETER,
			       "a version is a whole number >= 1");
		return;
	}
	resource_reply(&ch, n);
}

const struct claw_route cp_routes_resources[] = {
	{"GET", "/v1/tenants/{t}/channels", channels_list, "channels.list"},
	{"PUT", "/v1/tenants/{t}/channels/{kind}", channel_put, "channels.put"},
	{"GET", "/v1/tenants/{t}/channels/{kind}", channel_get, "channels.get"},
	{"DELETE", "/v1/tenants/{t}/channels/{kind}", channel_delete,
	 "channels.delete"},
	{"PUT", "/v1/tenants/{t}/persona", single_put, "persona.put"},
	{"GET", "/v1/tenants/{t}/persona", single_get, "persona.get"},
	{"DELETE", "/v1/tenants/{t}/persona", single_delete, "persona.delete"},
	{"GET", "/v1/tenants/{t}/persona/versions", persona_versions,
	 "persona.versions"},
	{"GET", "/v1/tenants/{t}/persona/versions/{n}", persona_version,
	 "persona.version"},
	{"PUT", "/v1/tenants/{t}/model", single_put, "model.put"},
	{"GET", "/v1/tenants/{t}/model", single_get, "model.get"},
	{"DELETE", "/v1/tenants/{t}/model", single_delete, "model.delete"},
	{"PUT", "/v1/tenants/{t}/tools", single_put, "tools.put"},
	{"GET", "/v1/tenants/{t}/tools", single_get, "tools.get"},
	{"DELETE", "/v1/tenants/{t}/tools", single_delete, "tools.delete"},
	{"PUT", "/v1/tenants/{t}/policies", single_put, "policies.put"},
	{"GET", "/v1/tenants/{t}/policies", single_get, "policies.get"},
	{"DELETE", "/v1/tenants/{t}/policies", single_delete,
	 "policies.delete"},
};
CP_ROUTES_COUNT(resources);
