/*
 * audit.c - /v1/audit: read the audit log (filters: tenant, actor, action,
 * time range; newest first, cursor pagination) and verify it: its hash
 * chain, and that it extends every signed checkpoint of the daemon's
 * checkpoint file (checkpointer.h). ?at=ID,... also reports what the
 * database holds at those ids, for clawctl to check a checkpoint file of
 * its own. Admin and auditor tokens only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "audit.h"
#include "checkpointer.h"
#include "claw/crypto.h"
#include "claw/log.h"
#include "cp.h"
#include "errors.h"
#include "store/audit_list.h"
#include "validate.h"

#define LIST_DEFAULT 100
#define LIST_MAX 1000
#define FILTER_MAX 200
#define AT_MAX 200 /* ids in one ?at= of verify */

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
	json_t *items;
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
	cp_reply_page(req, items, rows, limit, CP_AC_ID);
	PQclear(rows);
}

/* ---- verify: the chain, and the checkpoints outside the database */

/* ids of ?at=ID,ID,... (1..AT_MAX of them, each 1..10^18); false when
 * malformed. */
static bool parse_at(const char *s, long long *ids, size_t *n)
{
	*n = 0;
	while (*s) {
		long long v = 0;
		int digits = 0;

		while (*s >= '0' && *s <= '9' && digits < 18) {
			v = v * 10 + (*s++ - '0');
			digits++;
		}
		if (!digits || v == 0 || *n == AT_MAX || (*s && *s != ','))
			return false;
		ids[(*n)++] = v;
		if (*s == ',' && !*++s)
			return false;
	}
	return *n > 0;
}

static int cmp_ll(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;

	return (x > y) - (x < y);
}

static int cmp_probe(const void *key, const void *elem)
{
	long long id = *(const long long *)key;
	const struct claw_ckpt_probe *p = elem;

	return (id > p->id) - (id < p->id);
}

/* Probes for the ids asked for and every well-signed checkpoint's id,
 * sorted and unique. */
static struct claw_ckpt_probe *probes_build(const long long *at, size_t nat,
					    const struct claw_ckpt_entry *e,
					    size_t ne, size_t *n)
{
	long long *ids = calloc(nat + ne + 1, sizeof(*ids));
	struct claw_ckpt_probe *p;
	size_t k = 0, u = 0;

	if (!ids)
		return NULL;
	for (size_t i = 0; i < nat; i++)
		ids[k++] = at[i];
	for (size_t i = 0; i < ne; i++)
		if (e[i].verdict == CLAW_CKPT_OK && e[i].c.last_id > 0)
			ids[k++] = e[i].c.last_id;
	qsort(ids, k, sizeof(*ids), cmp_ll);
	p = calloc(k + 1, sizeof(*p));
	if (p)
		for (size_t i = 0; i < k; i++)
			if (i == 0 || ids[i] != ids[i - 1])
				p[u++].id = ids[i];
	free(ids);
	*n = u;
	return p;
}

static json_t *probe_json(const struct claw_ckpt_probe *p)
{
	return json_pack("{s:I, s:b, s:b, s:o, s:o}", "id", (json_int_t)p->id,
			 "known", p->known, "found", p->found, "rows",
			 p->known ? json_integer(p->rows) : json_null(), "hash",
			 p->found ? json_string(p->hash) : json_null());
}

static json_t *checkpoint_json(const struct claw_ckpt_entry *e, const char *why)
{
	json_t *o = json_pack("{s:I, s:s, s:s, s:s, s:I, s:I, s:s, s:s}",
			      "line", (json_int_t)e->line, "problem",
			      claw_ckpt_verdict_name(e->verdict), "time",
			      e->c.time, "event", e->c.event, "last_id",
			      (json_int_t)e->c.last_id, "rows",
			      (json_int_t)e->c.rows, "head", e->c.head,
			      "key_id", e->c.key_id);

	if (o && why)
		json_object_set_new(o, "reason", json_string(why));
	return o;
}

/* What the checkpoints say against the walk: verdicts into e[], the first
 * failure (file order) into *failed and its sentence into why. */
static bool checkpoints_judge(struct claw_ckpt_entry *e, size_t ne,
			      const struct claw_ckpt_probe *p, size_t np,
			      long long last_id, size_t *failed, char *why,
			      size_t whylen)
{
	bool ok = true;
	char w[400];

	why[0] = '\0';
	for (size_t i = 0; i < ne; i++) {
		const struct claw_ckpt_probe *at = NULL;

		if (e[i].verdict == CLAW_CKPT_OK && e[i].c.last_id > 0)
			at = bsearch(&e[i].c.last_id, p, np, sizeof(*p),
				     cmp_probe);
		claw_ckpt_entry_judge(&e[i], at, last_id, w, sizeof(w));
		if (e[i].verdict == CLAW_CKPT_OK ||
		    e[i].verdict == CLAW_CKPT_UNCHECKED || !ok)
			continue;
		ok = false;
		*failed = i;
		claw_ckpt_entry_reason(&e[i], w, why, whylen);
	}
	return ok;
}

static json_t *keys_json(const struct claw_ckpt_keys *keys)
{
	json_t *a = json_array();

	for (size_t i = 0; keys && a && i < keys->n; i++) {
		char pk[2 * CLAW_CKPT_PK_BYTES + 1];

		claw_hex_encode(keys->k[i].pk, CLAW_CKPT_PK_BYTES, pk);
		json_array_append_new(a,
				      json_pack("{s:s, s:s}", "key_id",
						keys->k[i].id, "public_key",
						pk));
	}
	return a;
}

struct verify_state {
	long long at[AT_MAX];
	size_t nat;
	struct claw_ckpt_entry *e;
	size_t ne;
	bool file_ok; /* the checkpoint file could be read */
	struct claw_ckpt_probe *p;
	size_t np;
	struct cp_audit_verify_result v;
};

static json_t *verify_reply(struct cp_ctx *ctx, struct verify_state *st)
{
	char why[600];
	size_t failed = 0;
	bool ckpt_ok = st->file_ok &&
		checkpoints_judge(st->e, st->ne, st->p, st->np, st->v.last_id,
				  &failed, why, sizeof(why));
	bool chain_ok = st->v.broken_id == 0;
	const char *reason = st->v.reason;
	json_t *cks, *out, *latest = json_null();

	if (!st->file_ok)
		snprintf(why, sizeof(why),
			 "the checkpoint file cannot be read (see the "
			 "control plane's log)");
	if (chain_ok && !ckpt_ok)
		reason = why;
	for (size_t i = st->ne; i-- > 0;)
		if (st->e[i].verdict == CLAW_CKPT_OK) {
			json_decref(latest);
			latest = checkpoint_json(&st->e[i], NULL);
			json_object_del(latest, "problem");
			break;
		}
	cks = json_pack("{s:I, s:b, s:o, s:o}", "checked", (json_int_t)st->ne,
			"ok", ckpt_ok, "failed",
			!ckpt_ok && st->file_ok
				? checkpoint_json(&st->e[failed], why)
				: json_null(),
			"latest", latest);
	out = json_pack(
		"{s:b, s:I, s:o, s:o, s:{s:I, s:I, s:s}, s:o, s:o}", "ok",
		chain_ok && ckpt_ok, "rows_checked",
		(json_int_t)st->v.rows_checked, "first_broken_id",
		st->v.broken_id ? json_integer(st->v.broken_id) : json_null(),
		"reason", reason ? json_string(reason) : json_null(), "head",
		"last_id", (json_int_t)st->v.last_id, "rows",
		(json_int_t)st->v.rows, "hash", st->v.last_hash, "checkpoints",
		cks, "keys",
		keys_json(ctx->checkpoints
				  ? cp_checkpointer_keys(ctx->checkpoints)
				  : NULL));
	if (out && st->nat) {
		json_t *a = json_array();

		for (size_t i = 0; i < st->nat; i++) {
			struct claw_ckpt_probe *p =
				bsearch(&st->at[i], st->p, st->np,
					sizeof(*st->p), cmp_probe);

			if (p)
				json_array_append_new(a, probe_json(p));
		}
		json_object_set_new(out, "at", a);
	}
	if (!chain_ok)
		log_warn("audit chain broken at row %lld: %s", st->v.broken_id,
			 st->v.reason);
	else if (!ckpt_ok)
		log_warn("audit log does not extend its checkpoints: %s", why);
	return out;
}

static void audit_verify(struct claw_http_req *req, void *vctx)
{
	struct cp_ctx *ctx = vctx;
	struct cp_auth auth;
	struct verify_state *st;
	const char *at = claw_http_query(req, "at");
	char err[512];
	enum claw_rc rc;
	json_t *out = NULL;
	PGconn *c;

	if (cp_auth_require(req, ctx, CP_R_ADMIN | CP_R_AUDITOR, &auth))
		return;
	st = calloc(1, sizeof(*st));
	if (!st) {
		claw_http_reply_std(req, CLAW_HE_INTERNAL, NULL);
		return;
	}
	if (at && !parse_at(at, st->at, &st->nat)) {
		cp_reply_error(req, CP_E_INVALID_PARAMETER,
			       "at must be 1 to %d row ids (1 to 18 digits), "
			       "comma-separated",
			       AT_MAX);
		goto out;
	}
	st->file_ok = true;
	if (ctx->checkpoints &&
	    cp_checkpointer_read(ctx->checkpoints, &st->e, &st->ne, err,
				 sizeof(err))) {
		log_error("audit checkpoints: %s", err);
		st->file_ok = false;
	}
	st->p = probes_build(st->at, st->nat, st->e, st->ne, &st->np);
	if (!st->p) {
		claw_http_reply_std(req, CLAW_HE_INTERNAL, NULL);
		goto out;
	}
	c = claw_db_acquire(ctx->db);
	if (!c) {
		claw_http_reply_std(req, CLAW_HE_UNAVAILABLE, NULL);
		goto out;
	}
	rc = cp_audit_verify(c, st->p, st->np, &st->v);
	claw_db_release(ctx->db, c);
	if (rc) {
		cp_reply_rc(req, rc);
		goto out;
	}
	out = verify_reply(ctx, st);
	if (!out) {
		claw_http_reply_std(req, CLAW_HE_INTERNAL, NULL);
		goto out;
	}
	claw_http_reply_json(req, 200, out);
out:
	free(st->e);
	free(st->p);
	free(st);
}

const struct claw_route cp_routes_audit[] = {
	{"GET", "/v1/audit", audit_list, "audit.list"},
	{"GET", "/v1/audit/verify", audit_verify, "audit.verify"},
};
CP_ROUTES_COUNT(audit);
