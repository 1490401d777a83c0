/*
 * audit.c - /v1/audit: read the audit log (filters: tenant, actor, action,
 * time range; newest first, cursor pagination) and verify its hash chain.
 * Admin and auditor tokens only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "audit.h"
#include "claw/log.h"
#include "cp.h"
#include "errors.h"
#include "store/audit_list.h"
#include "validate.h"

#define LIST_DEFAULT 100
#define LIST_MAX 1000
#define FILTER_MAX 200

static bool digits(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

/* RFC 3339: YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM). */
static bool rfc3339(const char *s)
{
	size_t n = strlen(s), i = 19;

	if (n < 20 || n > 40 || !digits(s, 4) || s[4] != '-' ||
	    !digits(s + 5, 2) || s[7] != '-' || !digits(s + 8, 2) ||
	    (s[10] != 'T' && s[10] != 't') || !digits(s + 11, 2) ||
	    s[13] != ':' || !digits(s + 14, 2) || s[16] != ':' ||
	    !digits(s + 17, 2))
		return false;
	if (s[i] == '.') {
		size_t start = ++i;

		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++;
		if (i == start)
			return false;
	}
	if (i + 1 == n && (s[i] == 'Z' || s[i] == 'z'))
		return true;
	return i + 6 == n && (s[i] == '+' || s[i] == '-') &&
		digits(s + i + 1, 2) && s[i + 3] == ':' && digits(s + i + 4, 2);
}

static bool filter_ok(const char *s)
{
	return !s || (*s && strlen(s) <= FILTER_MAX);
}

static json_t *row_json(const PGresult *res, int r)
{
	const char *details = claw_db_value(res, r, CP_AC_DETAILS);
	json_t *d = details ? json_loads(details, JSON_DECODE_ANY, NULL)
			    : json_null();
	json_t *o;

#define S(c) json_string_nocheck(claw_db_value(res, r, c))
	o = json_pack(
		"{s:I, s:s, s:o?, s:o?, s:s, s:o?, s:o?, s:o?, s:o?,"
		" s:o, s:s, s:s}",
		"id",
		(json_int_t)strtoll(PQgetvalue(res, r, CP_AC_ID), NULL, 10),
		"time", PQgetvalue(res, r, CP_AC_TIME), "actor_id",
		S(CP_AC_ACTOR_ID), "actor_role", S(CP_AC_ACTOR_ROLE), "action",
		PQgetvalue(res, r, CP_AC_ACTION), "target", S(CP_AC_TARGET),
		"tenant_id", S(CP_AC_TENANT_ID), "request_id",
		S(CP_AC_REQUEST_ID), "source_addr", S(CP_AC_SOURCE), "details",
		d ? d : json_null(), "prev_hash",
		PQgetvalue(res, r, CP_AC_PREV_HASH), "hash",
		PQgetvalue(res, r, CP_AC_HASH));
#undef S
	return o;
}

/* The tenant filter: an id is used as it is (purged tenants' rows stay
 * findable); a slug is looked up. *none when it names no tenant. */
static enum claw_rc tenant_filter(PGconn *c, const struct cp_auth *auth,
				  const char *q, struct cp_tenant_ref *ten,
				  const char **out, bool *none)
{
	enum claw_rc rc;

	*none = false;
	*out = q;
	if (!q || cp_id_valid(q, "tnt_"))
		return CLAW_OK;
	rc = cp_tenant_resolve(c, auth, q, CP_TENANT_ALLOW_DELETED, ten);
	if (rc == CLAW_ERR_NOT_FOUND) {
		*none = true;
		return CLAW_OK;
	}
	*out = ten->id;
	return rc;
}

static void audit_list(struct claw_http_req *req, void *vctx)
{
	struct cp_ctx *ctx = vctx;
	struct cp_auth auth;
	struct cp_tenant_ref ten;
	struct cp_audit_filter f = {
		.actor_id = claw_http_query(req, "actor"),
		.action = claw_http_query(req, "action"),
		.since = claw_http_query(req, "since"),
		.until = claw_http_query(req, "until"),
		.limit = LIST_DEFAULT,
	};
	const char *tenant = claw_http_query(req, "tenant");
	const char *limit_s = claw_http_query(req, "limit");
	const char *cursor = claw_http_query(req, "cursor");
	PGresult *rows = NULL;
	json_t *items, *out;
	bool none = false;
	enum claw_rc rc;
	int n, limit;
	PGconn *c;

	if (cp_auth_require(req, ctx, CP_R_ADMIN | CP_R_AUDITOR, &auth))
		return;
	if (!filter_ok(tenant) || !filter_ok(f.actor_id) ||
	    !filter_ok(f.action) || (f.since && !rfc3339(f.since)) ||
	    (f.until && !rfc3339(f.until)) ||
	    (limit_s && !cp_parse_limit(limit_s, LIST_MAX, &f.limit)) ||
	    (cursor && !cp_parse_cursor(cursor, &f.before_id))) {
		cp_reply_error(req, CP_E_INVALID_PARAMETER,
			       "since and until must be RFC 3339 times "
			       "(2026-01-31T12:00:00Z), limit 1 to %d, "
			       "cursor a next_cursor value, tenant, "
			       "actor and action 1 to %d bytes",
			       LIST_MAX, FILTER_MAX);
		return;
	}
	limit = f.limit;
	f.limit = limit + 1;
	c = claw_db_acquire(ctx->db);
	if (!c) {
		claw_http_reply_std(req, CLAW_HE_UNAVAILABLE, NULL);
		return;
	}
	rc = tenant_filter(c, &auth, tenant, &ten, &f.tenant_id, &none);
	if (!rc && !none)
		rc = cp_audit_list(c, &f, &rows);
	claw_db_release(ctx->db, c);
	if (rc == CLAW_ERR_INVALID) {
		cp_reply_error(req, CP_E_INVALID_PARAMETER,
			       "since or until is not a valid time");
		return;
	}
	if (rc) {
		cp_reply_rc(req, rc);
		return;
	}
	n = rows ? PQntuples(rows) : 0;
	items = json_array();
	for (int i = 0; i < n && i < limit; i++)
		json_array_append_new(items, row_json(rows, i));
	out = json_pack(
		"{s:o, s:o}", "items", items, "next_cursor",
		n > limit ? json_string(PQgetvalue(rows, limit - 1, CP_AC_ID))
			  : json_null());
	PQclear(rows);
	if (!out) {
		claw_http_reply_std(req, CLAW_HE_INTERNAL, NULL);
		return;
	}
	claw_http_reply_json(req, 200, out);
}

static void audit_verify(struct claw_http_req *req, void *vctx)
{
	struct cp_ctx *ctx = vctx;
	struct cp_auth auth;
	struct cp_audit_verify_result v;
	enum claw_rc rc;
	json_t *out;
	PGconn *c;

	if (cp_auth_require(req, ctx, CP_R_ADMIN | CP_R_AUDITOR, &auth))
		return;
	c = claw_db_acquire(ctx->db);
	if (!c) {
		claw_http_reply_std(req, CLAW_HE_UNAVAILABLE, NULL);
		return;
	}
	rc = cp_audit_verify(c, &v);
	claw_db_release(ctx->db, c);
	if (rc) {
		cp_reply_rc(req, rc);
		return;
	}
	if (v.broken_id)
		log_warn("audit chain broken at row %lld: %s", v.broken_id,
			 v.reason);
	out = json_pack(
		"{s:b, s:I, s:o, s:o}", "ok", v.broken_id == 0, "rows_checked",
		(json_int_t)v.rows_checked, "first_broken_id",
		v.broken_id ? json_integer(v.broken_id) : json_null(), "reason",
		v.reason ? json_string(v.reason) : json_null());
	if (!out) {
		claw_http_reply_std(req, CLAW_HE_INTERNAL, NULL);
		return;
	}
	claw_http_reply_json(req, 200, out);
}

const struct claw_route cp_routes_audit[] = {
	{"GET", "/v1/audit", audit_list, "audit.list"},
	{"GET", "/v1/audit/verify", audit_verify, "audit.verify"},
};
CP_ROUTES_COUNT(audit);
