/*
 * domains.c - the edge's names (docs/fleet.md, "Public addresses"):
 *
 *   GET    /v1/tenants/{t}/domains            the tenant's claimed domains
 *   PUT    /v1/tenants/{t}/domains/{domain}   claim one (201; 200 if had)
 *   DELETE /v1/tenants/{t}/domains/{domain}   release it (204)
 *   GET    /v1/edge/ask?domain=NAME           Caddy's on-demand TLS check
 *
 * Who may: admin and operator (any tenant) and a tenant token (its own;
 * another tenant's is 404, as everywhere) claim and release; auditors also
 * list. A domain belongs to at most one tenant (409 domain_taken); names
 * are checked by domains.h (422 domain_invalid, domain_is_address,
 * domain_reserved for anything at or under the base domain). Claims and
 * releases are audited (domain.add, domain.remove) in the transaction
 * that makes them.
 *
 * The ask endpoint takes no token: Caddy calls it before it asks a CA for
 * a certificate. It answers 200 {"ok":true} for a claimed domain of a
 * live tenant or a live tenant's public host, else 404 {"ok":false}, and
 * nothing more (no tenant, no error hint: a 400 for a missing or
 * malformed name is as bare). One indexed query; lib's per-client rate
 * limits apply as to every route.
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
#include "events.h"
#include "store/edge.h"

/* A claim or a release: who asks, of which tenant, for which domain. */
struct dom_tx {
	struct claw_http_req *req;
	struct cp_auth auth;
	struct cp_tenant_ref ten;
	char domain[CP_DOMAIN_MAX + 1];
	char target[CP_ID_MAX + CP_DOMAIN_MAX + 32];
	enum cp_domain_claim claim;
};

static enum claw_rc add_fn(PGconn *conn, void *cls)
{
	struct dom_tx *t = cls;
	enum claw_rc rc;

	rc = cp_store_domain_add(conn, t->ten.id, t->domain, t->auth.token_id,
				 CP_DOMAINS_PER_TENANT, &t->claim);
	if (rc || t->claim != CP_CLAIM_NEW)
		return rc;
	return cp_audit_request(conn, t->req, &t->auth, "domain.add", t->target,
				t->ten.id,
				json_pack("{s:s}", "domain", t->domain));
}

static enum claw_rc remove_fn(PGconn *conn, void *cls)
{
	struct dom_tx *t = cls;
	enum claw_rc rc;

	rc = cp_store_domain_remove(conn, t->ten.id, t->domain);
	if (rc)
		return rc;
	return cp_audit_request(conn, t->req, &t->auth, "domain.remove",
				t->target, t->ten.id,
				json_pack("{s:s}", "domain", t->domain));
}

/* The path's domain, checked and normalised into out; -1 after a 422. */
static int domain_param(struct claw_http_req *req, struct cp_ctx *ctx,
			char out[CP_DOMAIN_MAX + 1])
{
	const char *base = ctx->cfg.fleet.base_domain;

	switch (cp_domain_check(claw_http_param(req, "domain"), base, out)) {
	case CP_DOMAIN_OK:
		return 0;
	case CP_DOMAIN_ADDRESS:
		cp_reply_error(req, CP_E_DOMAIN_IS_ADDRESS,
			       "an IP address cannot be claimed; claim a DNS "
			       "name that points at the fleet's nodes");
		return -1;
	case CP_DOMAIN_RESERVED:
		cp_reply_error(req, CP_E_DOMAIN_RESERVED,
			       "names at or under the base domain %s are the "
			       "tenants' public hosts",
			       base);
		return -1;
	case CP_DOMAIN_MALFORMED:
	default:
		cp_reply_error(req, CP_E_DOMAIN_INVALID, NULL);
		return -1;
	}
}

/* The start of a claim or a release: authorise and find the tenant;
 * -1 after a reply. */
static int dom_start(struct claw_http_req *req, struct cp_ctx *ctx,
		     struct dom_tx *t)
{
	t->req = req;
	return cp_auth_require(req, ctx,
			       CP_R_ADMIN | CP_R_OPERATOR | CP_R_TENANT,
			       &t->auth) ||
			cp_tenant_require(req, ctx, &t->auth, "t", 0, &t->ten)
		? -1
		: 0;
}

/* Run fn (add_fn or remove_fn) for t in one transaction. */
static enum claw_rc dom_run(struct cp_ctx *ctx, struct dom_tx *t,
			    enum claw_rc (*fn)(PGconn *, void *))
{
	snprintf(t->target, sizeof(t->target), "tenants/%s/domains/%s",
		 t->ten.slug, t->domain);
	return claw_db_tx(ctx->db, CLAW_DB_READ_COMMITTED, fn, t);
}

static void domain_put(struct claw_http_req *req, void *vctx)
{
	struct cp_ctx *ctx = vctx;
	struct dom_tx t = {0};
	enum claw_rc rc;

	if (dom_start(req, ctx, &t) || domain_param(req, ctx, t.domain))
		return;
	rc = dom_run(ctx, &t, add_fn);
	if (rc) {
		cp_reply_rc(req, rc);
		return;
	}
	if (t.claim == CP_CLAIM_TAKEN) {
		cp_reply_error(req, CP_E_DOMAIN_TAKEN,
			       "%s belongs to another tenant", t.domain);
		return;
	}
	if (t.claim == CP_CLAIM_LIMIT) {
		cp_reply_error(req, CP_E_DOMAIN_LIMIT,
			       "the tenant has %d domains, the most it may "
			       "claim",
			       CP_DOMAINS_PER_TENANT);
		return;
	}
	if (t.claim == CP_CLAIM_NEW) {
		log_info("tenant %s claimed %s", t.ten.id, t.domain);
		cp_fleet_wake();
	}
	claw_http_reply_json(req, t.claim == CP_CLAIM_NEW ? 201 : 200,
			     json_pack("{s:s, s:s}", "domain", t.domain,
				       "tenant", t.ten.slug));
}

static void domain_delete(struct claw_http_req *req, void *vctx)
{
	struct cp_ctx *ctx = vctx;
	struct dom_tx t = {0};
	enum claw_rc rc;

	/* Released names need no check of the base domain: a claim under
	 * it made before base-domain was set can still be released. */
	if (dom_start(req, ctx, &t))
		return;
	if (cp_domain_check(claw_http_param(req, "domain"), NULL, t.domain) !=
	    CP_DOMAIN_OK) {
		cp_reply_error(req, CP_E_DOMAIN_NOT_FOUND, NULL);
		return;
	}
	rc = dom_run(ctx, &t, remove_fn);
	if (rc == CLAW_ERR_NOT_FOUND) {
		cp_reply_error(req, CP_E_DOMAIN_NOT_FOUND,
			       "the tenant has not claimed %s", t.domain);
		return;
	}
	if (rc) {
		cp_reply_rc(req, rc);
		return;
	}
	log_info("tenant %s released %s", t.ten.id, t.domain);
	cp_fleet_wake();
	claw_http_reply_empty(req, 204);
}

static void domain_list(struct claw_http_req *req, void *vctx)
{
	struct cp_ctx *ctx = vctx;
	struct cp_auth auth;
	struct cp_tenant_ref ten;
	PGresult *rows = NULL;
	json_t *items;
	enum claw_rc rc;
	PGconn *c;

	if (cp_auth_require(req, ctx,
			    CP_R_ADMIN | CP_R_OPERATOR | CP_R_AUDITOR |
				    CP_R_TENANT,
			    &auth) ||
	    cp_tenant_require(req, ctx, &auth, "t", 0, &ten))
		return;
	c = claw_db_acquire(ctx->db);
	if (!c) {
		claw_http_reply_std(req, CLAW_HE_UNAVAILABLE, NULL);
		return;
	}
	rc = cp_store_domain_list(c, ten.id, &rows);
	claw_db_release(ctx->db, c);
	if (rc) {
		cp_reply_rc(req, rc);
		return;
	}
	items = json_array();
	for (int i = 0; items && i < PQntuples(rows); i++)
		json_array_append_new(items,
				      json_pack("{s:s, s:s}", "domain",
						PQgetvalue(rows, i, 0),
						"created_at",
						PQgetvalue(rows, i, 1)));
	PQclear(rows);
	if (!items) {
		claw_http_reply_std(req, CLAW_HE_INTERNAL, NULL);
		return;
	}
	claw_http_reply_json(req, 200, json_pack("{s:o}", "items", items));
}

/* The slug a public host names: "<slug>.<base>" with one label before the
 * base; NULL otherwise. */
static const char *public_slug(const char *name, const char *base, char *slug,
			       size_t len)
{
	size_t n = strlen(name), b = base ? strlen(base) : 0;

	if (!b || n <= b + 1 || name[n - b - 1] != '.' ||
	    strcmp(name + n - b, base) || n - b - 1 >= len ||
	    memchr(name, '.', n - b - 1))
		return NULL;
	memcpy(slug, name, n - b - 1);
	slug[n - b - 1] = '\0';
	return slug;
}

static void edge_ask(struct claw_http_req *req, void *vctx)
{
	struct cp_ctx *ctx = vctx;
	const char *base = ctx->cfg.fleet.base_domain;
	char name[CP_DOMAIN_MAX + 1], slugbuf[CP_SLUG_MAX + 1];
	const char *slug;
	bool known = false;
	enum claw_rc rc;
	PGconn *c;

	switch (cp_domain_check(claw_http_query(req, "domain"), NULL, name)) {
	case CP_DOMAIN_OK:
		break;
	default:
		claw_http_reply_json(req, 404, json_pack("{s:b}", "ok", 0));
		return;
	}
	slug = public_slug(name, base, slugbuf, sizeof(slugbuf));
	c = claw_db_acquire(ctx->db);
	if (!c) {
		claw_http_reply_json(req, 503, json_pack("{s:b}", "ok", 0));
		return;
	}
	rc = cp_store_edge_ask(c, name, slug, &known);
	claw_db_release(ctx->db, c);
	if (rc) {
		claw_http_reply_json(req, 503, json_pack("{s:b}", "ok", 0));
		return;
	}
	claw_http_reply_json(req, known ? 200 : 404,
			     json_pack("{s:b}", "ok", known));
}

const struct claw_route cp_routes_domains[] = {
	{"GET", "/v1/tenants/{t}/domains", domain_list, "domains.list"},
	{"PUT", "/v1/tenants/{t}/domains/{domain}", domain_put, "domains.put"},
	{"DELETE", "/v1/tenants/{t}/domains/{domain}", domain_delete,
	 "domains.delete"},
	{"GET", "/v1/edge/ask", edge_ask, "edge.ask"},
};
CP_ROUTES_COUNT(domains);
