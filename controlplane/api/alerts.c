/*
 * alerts.c - /v1/alerts: the fleet's alerts and the operator's
 * notification targets (docs/alerts.md). Admin only: every other role
 * gets 403.
 *
 *   GET    /v1/alerts                  open alerts and those resolved in
 *                                      the last 7 days (?state=open: open
 *                                      only), each with its deliveries
 *   GET    /v1/alerts/targets          the targets, secrets left out
 *   POST   /v1/alerts/targets          {name, type, ...} (below) -> 201
 *   DELETE /v1/alerts/targets/{id}     by id or name -> 204
 *
 * A target: "webhook" {url, secret (the HMAC key, 16..1024 bytes)};
 * "slack" {url (the incoming webhook URL, itself a secret)}; "email"
 * {smtp_url (smtp:// or smtps://), from, to [1..20 addresses], username,
 * password}; any type: kinds [alert kinds; absent: all], max_per_hour
 * (1..100000, default 60). The secret (webhook secret, Slack url, SMTP
 * password) is sealed in the store's transaction and never returned,
 * logged or audited: GET shows "secret_set". The body is read as a secret
 * (CLAW_HTTP_JSON_SECRET) and wiped after use.
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alert.h"
#include "api/api.h"
#include "audit.h"
#include "claw/log.h"
#include "cp.h"
#include "notify.h"
#include "store/alerts.h"
#include "store/common.h"
#include "validate.h"

#define URL_MAX 2048
#define SECRET_MIN 16
#define SECRET_MAX 1024
#define TO_MAX 20
#define MPH_DEFAULT 60
#define MPH_MAX 100000

/* ---- reading */

static json_t *target_json(const PGresult *r, int i)
{
	const char *kinds = claw_db_value(r, i, CP_ATC_KINDS);

	return json_pack(
		"{s:s, s:s, s:s, s:o, s:o, s:I, s:b, s:s}", "id",
		PQgetvalue(r, i, CP_ATC_ID), "name",
		PQgetvalue(r, i, CP_ATC_NAME), "type",
		PQgetvalue(r, i, CP_ATC_TYPE), "config",
		json_loads(PQgetvalue(r, i, CP_ATC_CONFIG), 0, NULL), "kinds",
		kinds ? json_loads(kinds, 0, NULL) : json_null(),
		"max_per_hour",
		(json_int_t)strtoll(PQgetvalue(r, i, CP_ATC_MAX_PER_HOUR), NULL,
				    10),
		"secret_set", !strcmp(PQgetvalue(r, i, CP_ATC_SECRET_SET), "t"),
		"created_at", PQgetvalue(r, i, CP_ATC_CREATED_AT));
}

static json_t *alert_json(const PGresult *r, int i)
{
	json_t *o = json_object();
	static const char *const names[CP_AC__COUNT] = {
		"id",          "kind",     "subject",         "tenant_id",
		"node_id",     "summary",  "resolve_summary", "state",
		"occurrences", "fired_at", "last_seen_at",    "resolved_at",
		"deliveries"};

	for (int c = 0; c < CP_AC__COUNT; c++) {
		const char *v = claw_db_value(r, i, c);
		json_t *j = !v                  ? json_null()
			: c == CP_AC_DELIVERIES ? json_loads(v, 0, NULL)
			: c == CP_AC_ID || c == CP_AC_OCCURRENCES
			? json_integer(strtoll(v, NULL, 10))
			: json_string(v);

		json_object_set_new(o, names[c], j ? j : json_null());
	}
	return o;
}

typedef enum claw_rc (*list_fn)(PGconn *c, const void *arg, PGresult **rows);

static enum claw_rc list_targets(PGconn *c, const void *arg, PGresult **rows)
{
	(void)arg;
	return cp_store_alert_target_list(c, rows);
}

static enum claw_rc list_alerts(PGconn *c, const void *arg, PGresult **rows)
{
	return cp_store_alert_list(c, *(const bool *)arg, rows);
}

/* Reply {"items": [...], "next_cursor": null}: item() of each of fn's
 * rows, read on a pooled connection. */
static void reply_list(struct claw_http_req *req, struct cp_ctx *ctx,
		       list_fn fn, const void *arg,
		       json_t *(*item)(const PGresult *, int))
{
	PGresult *rows = NULL;
	PGconn *c = claw_db_acquire(ctx->db);
	enum claw_rc rc = c ? fn(c, arg, &rows) : CLAW_ERR_IO;
	json_t *items = rc ? NULL : json_array();

	claw_db_release(ctx->db, c);
	for (int i = 0; items && i < PQntuples(rows); i++)
		json_array_append_new(items, item(rows, i));
	PQclear(rows);
	if (items)
		cp_reply_page(req, items, NULL, 0, 0);
	else
		cp_reply_rc(req, rc ? rc : CLAW_ERR_NOMEM);
}

static void alerts_list(struct claw_http_req *req, void *vctx)
{
	struct cp_ctx *ctx = vctx;
	struct cp_auth auth;
	const char *state;
	bool open_only;

	if (cp_auth_require(req, ctx, CP_R_ADMIN, &auth))
		return;
	state = claw_http_query(req, "state");
	if (state && strcmp(state, "open") && strcmp(state, "all")) {
		claw_http_reply_std(req, CLAW_HE_INVALID_FIELD,
				    "state is 'open' or 'all'");
		return;
	}
	open_only = state && !strcmp(state, "open");
	reply_list(req, ctx, list_alerts, &open_only, alert_json);
}

static void targets_list(struct claw_http_req *req, void *vctx)
{
	struct cp_ctx *ctx = vctx;
	struct cp_auth auth;

	if (cp_auth_require(req, ctx, CP_R_ADMIN, &auth))
		return;
	reply_list(req, ctx, list_targets, NULL, target_json);
}

/* ---- create */

struct body {
	const char *name, *type, *url, *secret, *smtp_url, *from, *username,
		*password;
	json_t *to, *kinds;
	json_int_t max_per_hour;
};

struct create {
	struct cp_ctx *ctx;
	struct claw_http_req *req;
	const struct cp_auth *auth;
	struct cp_alert_target_new t;
	json_t *config; /* what is not secret, for the row and the audit */
	PGresult *row;
};

static bool printable(const char *s, size_t max)
{
	size_t n = 0;

	for (; s && *s; s++, n++)
		if ((unsigned char)*s <= ' ' || *s == 0x7f)
			return false;
	return s && n > 0 && n <= max;
}

static bool url_ok(const char *u, const char *s1, const char *s2)
{
	return printable(u, URL_MAX) &&
		((!strncmp(u, s1, strlen(s1)) && u[strlen(s1)]) ||
		 (!strncmp(u, s2, strlen(s2)) && u[strlen(s2)]));
}

/* Fields given that the type does not take: the first one's name. */
static const char *stray(const struct body *b, bool webhook, bool slack,
			 bool email)
{
	if (!(webhook || slack) && b->url)
		return "url";
	if (!webhook && b->secret)
		return "secret";
	if (!email &&
	    (b->smtp_url || b->from || b->to || b->username || b->password))
		return "smtp_url, from, to, username and password";
	return NULL;
}

/* Check b for its type; the problem into msg, or NULL when none. */
static const char *check(const struct body *b, char *msg, size_t n)
{
	bool webhook = !strcmp(b->type, "webhook");
	bool slack = !strcmp(b->type, "slack");
	bool email = !strcmp(b->type, "email");
	const char *s = NULL;
	size_t i;
	json_t *v;

	if (!cp_slug_valid(b->name))
		return "name must be a DNS label: 1 to 63 of a-z, 0-9 and '-'";
	if (!webhook && !slack && !email)
		return "type is 'webhook', 'slack' or 'email'";
	if ((s = stray(b, webhook, slack, email))) {
		snprintf(msg, n, "a %s target takes no %s", b->type, s);
		return msg;
	}
	if ((webhook || slack) && !url_ok(b->url, "https://", "http://"))
		return "url: an http:// or https:// URL is required";
	if (webhook &&
	    (!b->secret || strlen(b->secret) < SECRET_MIN ||
	     strlen(b->secret) > SECRET_MAX))
		return "secret: the HMAC key, 16 to 1024 bytes, is required";
	if (email && !url_ok(b->smtp_url, "smtp://", "smtps://"))
		return "smtp_url: an smtp:// or smtps:// URL is required";
	if (email && !cp_notify_address_valid(b->from))
		return "from: a mail address is required";
	if (email &&
	    (!json_is_array(b->to) || !json_array_size(b->to) ||
	     json_array_size(b->to) > TO_MAX))
		return "to: an array of 1 to 20 mail addresses is required";
	json_array_foreach(email ? b->to : NULL, i, v) {
		if (!cp_notify_address_valid(json_string_value(v)))
			return "to: each entry must be a mail address";
	}
	if (b->username && !printable(b->username, 256))
		return "username: 1 to 256 printable characters";
	if (b->password &&
	    (!b->username || !b->password[0] ||
	     strlen(b->password) > SECRET_MAX))
		return "password: 1 to 1024 bytes, with a username";
	if (b->kinds && !json_is_array(b->kinds))
		return "kinds: an array of alert kinds";
	json_array_foreach(b->kinds, i, v) {
		if (cp_alert_kind_parse(json_string_value(v)) < 0)
			return "kinds: each entry is one of crash_loop, "
			       "deploy_failed, rollout_halted, node_lost, "
			       "quota_exhausted, cert_expiring";
	}
	if (b->max_per_hour < 1 || b->max_per_hour > MPH_MAX)
		return "max_per_hour: 1 to 100000";
	return NULL;
}

/* The PostgreSQL array text of kinds ("{a,b}": names are [a-z_]). */
static char *kinds_text(const json_t *kinds)
{
	struct claw_buf b;
	size_t i;
	json_t *v;
	enum claw_rc rc;

	if (!kinds)
		return NULL;
	claw_buf_init(&b, 4096);
	rc = claw_buf_puts(&b, "{");
	json_array_foreach((json_t *)kinds, i, v) {
		if (!rc)
			rc = claw_buf_printf(&b, "%s%s", i ? "," : "",
					     json_string_value(v));
	}
	if (!rc)
		rc = claw_buf_puts(&b, "}");
	if (rc) {
		claw_buf_release(&b);
		return NULL;
	}
	return claw_buf_steal(&b);
}

static json_t *config_of(const struct body *b)
{
	if (!strcmp(b->type, "webhook"))
		return json_pack("{s:s}", "url", b->url);
	if (!strcmp(b->type, "email"))
		return json_pack("{s:s, s:s, s:O, s:s?}", "smtp_url",
				 b->smtp_url, "from", b->from, "to", b->to,
				 "username", b->username);
	return json_object();
}

static enum claw_rc create_tx(PGconn *c, void *cls)
{
	struct create *cr = cls;
	char target[96];
	enum claw_rc rc;

	cp_store_clear(&cr->row);
	rc = cp_store_alert_target_insert(cr->ctx, c, &cr->t, &cr->row);
	if (rc)
		return rc;
	snprintf(target, sizeof(target), "alerts/targets/%s", cr->t.id);
	return cp_audit_request(
		c, cr->req, cr->auth, "alert_target.create", target, NULL,
		json_pack("{s:s, s:s, s:O, s:s?, s:I, s:b}", "name", cr->t.name,
			  "type", cr->t.type, "config", cr->config, "kinds",
			  cr->t.kinds, "max_per_hour",
			  (json_int_t)cr->t.max_per_hour, "secret_set",
			  cr->t.secret != NULL));
}

/* Store the checked target b (its secret apart) and reply 201. */
static void create(struct claw_http_req *req, struct cp_ctx *ctx,
		   const struct cp_auth *auth, const struct body *b,
		   const char *secret)
{
	struct create cr = {.ctx = ctx, .req = req, .auth = auth};
	char loc[96], id[CP_ID_MAX], *config;
	enum claw_rc rc;

	cp_id_new("atg_", id, sizeof(id));
	cr.t = (struct cp_alert_target_new){
		.id = id,
		.name = b->name,
		.type = b->type,
		.kinds = kinds_text(b->kinds),
		.max_per_hour = (long)b->max_per_hour,
		.secret = secret,
		.secret_len = secret ? strlen(secret) : 0};
	cr.config = config_of(b);
	config = cr.config ? claw_json_dumps(cr.config) : NULL;
	cr.t.config = config;
	rc = !config || (b->kinds && !cr.t.kinds)
		? CLAW_ERR_NOMEM
		: claw_db_tx(ctx->db, CLAW_DB_READ_COMMITTED, create_tx, &cr);
	if (rc == CLAW_ERR_INVALID && !strcmp(claw_db_last_sqlstate(), "23505"))
		claw_http_reply_std(req, CLAW_HE_CONFLICT,
				    "an alert target has that name");
	else if (rc)
		cp_reply_rc(req, rc);
	if (!rc) {
		snprintf(loc, sizeof(loc), "/v1/alerts/targets/%s", id);
		claw_http_add_header(req, "Location", loc);
		claw_http_reply_json(req, 201, target_json(cr.row, 0));
		log_info("alert target %s (%s, %s) created", b->name, id,
			 b->type);
	}
	PQclear(cr.row);
	json_decref(cr.config);
	free(config);
	free((char *)cr.t.kinds);
}

static void target_create(struct claw_http_req *req, void *vctx)
{
	struct cp_ctx *ctx = vctx;
	struct cp_auth auth;
	struct body b = {.max_per_hour = MPH_DEFAULT};
	const struct claw_json_field fields[] = {
		{"name", CLAW_JSON_STRING, true, &b.name, 64},
		{"type", CLAW_JSON_STRING, true, &b.type, 16},
		{"url", CLAW_JSON_STRING, false, &b.url, URL_MAX + 1},
		{"secret", CLAW_JSON_STRING, false, &b.secret, SECRET_MAX + 1},
		{"smtp_url", CLAW_JSON_STRING, false, &b.smtp_url, URL_MAX + 1},
		{"from", CLAW_JSON_STRING, false, &b.from, 255},
		{"to", CLAW_JSON_ARRAY, false, &b.to, 0},
		{"username", CLAW_JSON_STRING, false, &b.username, 257},
		{"password", CLAW_JSON_STRING, false, &b.password,
		 SECRET_MAX + 1},
		{"kinds", CLAW_JSON_ARRAY, false, &b.kinds, 0},
		{"max_per_hour", CLAW_JSON_INT, false, &b.max_per_hour, 0},
		{NULL, 0, false, NULL, 0},
	};
	json_t *body = NULL;
	const char *bad, *secret = NULL, *raw;
	char msg[160];
	size_t len;

	if (cp_auth_require(req, ctx, CP_R_ADMIN, &auth))
		return;
	if (!claw_http_parse_json_opt(
		    req, fields,
		    CLAW_HTTP_JSON_NONEMPTY | CLAW_HTTP_JSON_SECRET, &body)) {
		/* the one secret: the webhook key, the Slack URL, the
		 * password */
		secret = !strcmp(b.type, "slack") ? b.url
			: b.secret                ? b.secret
						  : b.password;
		if ((bad = check(&b, msg, sizeof(msg))))
			claw_http_reply_std(req, CLAW_HE_INVALID_FIELD, bad);
		else
			create(req, ctx, &auth, &b, secret);
	}
	/* whatever happened: the secret (jansson's copy, freed with the
	 * body) and the raw body wiped */
	if (secret)
		sodium_memzero((char *)secret, strlen(secret));
	raw = claw_http_body(req, &len);
	if (len)
		sodium_memzero((char *)raw, len);
	json_decref(body);
}

/* ---- delete */

struct del {
	struct claw_http_req *req;
	const struct cp_auth *auth;
	const char *id;
};

static enum claw_rc delete_tx(PGconn *c, void *cls)
{
	struct del *d = cls;
	PGresult *row = NULL;
	char target[96];
	enum claw_rc rc = cp_store_alert_target_delete(c, d->id, &row);

	if (rc)
		return rc;
	snprintf(target, sizeof(target), "alerts/targets/%s",
		 PQgetvalue(row, 0, CP_ATC_ID));
	rc = cp_audit_request(
		c, d->req, d->auth, "alert_target.delete", target, NULL,
		json_pack("{s:s, s:s}", "name", PQgetvalue(row, 0, CP_ATC_NAME),
			  "type", PQgetvalue(row, 0, CP_ATC_TYPE)));
	PQclear(row);
	return rc;
}

static void target_delete(struct claw_http_req *req, void *vctx)
{
	struct cp_ctx *ctx = vctx;
	struct cp_auth auth;
	struct del d = {.req = req, .auth = &auth};
	enum claw_rc rc;

	if (cp_auth_require(req, ctx, CP_R_ADMIN, &auth))
		return;
	d.id = claw_http_param(req, "id");
	if (!d.id || !(cp_id_valid(d.id, "atg_") || cp_slug_valid(d.id))) {
		claw_http_reply_std(req, CLAW_HE_NOT_FOUND,
				    "no alert target has that id or name");
		return;
	}
	rc = claw_db_tx(ctx->db, CLAW_DB_READ_COMMITTED, delete_tx, &d);
	if (rc == CLAW_ERR_NOT_FOUND)
		claw_http_reply_std(req, CLAW_HE_NOT_FOUND,
				    "no alert target has that id or name");
	else if (rc)
		cp_reply_rc(req, rc);
	else
		claw_http_reply_empty(req, 204);
	if (!rc)
		log_info("alert target %s deleted", d.id);
}

const struct claw_route cp_routes_alerts[] = {
	{"GET", "/v1/alerts", alerts_list, "alerts.list"},
	{"GET", "/v1/alerts/targets", targets_list, "alerts.targets.list"},
	{"POST", "/v1/alerts/targets", target_create, "alerts.targets.create"},
	{"DELETE", "/v1/alerts/targets/{id}", target_delete,
	 "alerts.targets.delete"},
};
CP_ROUTES_COUNT(alerts);
