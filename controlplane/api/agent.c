/*
 * agent.c - the node agent's API (role node only; a node sees only its own
 * assignments):
 *
 *   GET  /v1/agent/assignments?generation=N[&wait=S][&edge=1]  long poll
 *        of the node's desired state: answers at once when its generation
 *        is past N (or N is 0, an agent starting anew) or a relay call (a
 *        log request, an approvals call: rows, left on any replica;
 *        controlplane/relay.h) waits, else when that happens within S
 *        seconds (default 30), else 204. edge=1: the node runs an edge
 *        (below).
 *   POST /v1/agent/heartbeat   {cpus_milli, memory_mb, version,
 *        edge_address}
 *   POST /v1/agent/status      the agent's observed state (its /v1/status)
 *   (POST /v1/agent/usage, the tenants' usage, is api/usage.c's.)
 *
 * The desired state is the document node-agent/desired.h parses (the plan
 * with disk_mb when the deployment's plan limits the disk), with two
 * extra fields per tenant: "secrets_version" (a fingerprint of the
 * deployment and the names and versions of the tenant's secrets) and
 * "secrets_cached": true when the values were left out because this node
 * was already given that version (cp_secrets_release runs, and audits,
 * only when the version changes).
 *
 * The edge (docs/fleet.md, "Public addresses"): each tenant entry has
 * "public_host" ("<slug>.<base-domain>", when base-domain is set) and
 * "domains" (the tenant's claimed domains, lower case); the document has
 * "edge_routes": [{"hosts": [public host, domains...], "node": NAME,
 * "upstream": HOST:PORT}] for every tenant placed (and not stopped) on
 * ANOTHER live node that advertised an edge address, so every node's edge
 * is an entry point. A node's own tenants are never among its routes. The
 * agent reports its edge address as "edge_address" (its --edge-advertise)
 * in heartbeats and status reports; a change of any of this gives every
 * node that runs an edge a new generation (migrations/0008_edge.sql).
 * Only an agent that runs an edge asks with edge=1, and only then has the
 * document "edge_routes" and each tenant's "domains", and do edge changes
 * count in its generation: a fleet's edge changes wake its edges, not
 * every node (bench/fleet-scale). An agent that lacks the values asks
 * again with generation=0. Status reports are fenced by generation: a
 * report about a tenant that is not (or no longer) placed on the node at
 * that generation is ignored. A status report's "edge"."certs" (the
 * validity of each certificate the node's edge serves) is kept in
 * edge_certs (migrations/0015_edge_certs.sql); a certificate that starts
 * or stops expiring is a cert.expiring / cert.renewed event, from which
 * the alert worker raises and resolves cert_expiring (--cert-warn-days).
 *
 * Purged tenants (store/purge.h): the document's "purged" lists the slugs
 * of tenants purged since this node held them (written by the purge for
 * every node that ever held the tenant, which bumps their generations);
 * the agent removes what it kept of them and says so in a status report's
 * "purged_done" (with its "desired_generation"), which deletes them.
 *
 * Each tenant entry carries "quota" (usage_quota.h): the plan's limits,
 * the stored usage of the UTC day and month, when they reset, and the
 * refusal message; a crossing or a plan change gives the node a new
 * generation (docs/fleet.md, "Quotas").
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/api.h"
#include "audit.h"
#include "bounds.h"
#include "claw/crypto.h"
#include "claw/json.h"
#include "claw/log.h"
#include "cp.h"
#include "domains.h"
#include "errors.h"
#include "events.h"
#include "relay.h"
#include "scheduler.h"
#include "secrets.h"
#include "store/deploy.h"
#include "store/edge.h"
#include "store/nodes.h"
#include "store/purge.h"
#include "store/store.h"
#include "usage_quota.h"

#define WAIT_DEFAULT_S 30
#define WAIT_MAX_S 120
#define CP_PURGED_MAX 10000 /* slugs in a purged_done */

/* cp_agent_require on c (NULL: 503), for the token whose hash is given. */
static int agent_auth(struct claw_http_req *req, PGconn *c, const char *hash,
		      struct cp_node_caller *nc)
{
	char stored[65] = "";
	enum claw_rc rc;

	if (!c) {
		claw_http_reply_std(req, CLAW_HE_UNAVAILABLE, NULL);
		return -1;
	}
	rc = cp_store_node_auth(c, hash, &nc->auth, stored, nc->id, nc->name);
	if (cp_auth_check(req, rc, stored, hash, CP_R_NODE, &nc->auth))
		return -1;
	if (!nc->id[0]) {
		cp_reply_error(req, CP_E_NODE_REVOKED,
			       "this credential belongs to no live "
			       "node; join again with a new token");
		return -1;
	}
	return 0;
}

int cp_agent_require(struct claw_http_req *req, struct cp_ctx *ctx,
		     struct cp_node_caller *nc)
{
	char hash[65];
	PGconn *c;
	int bad;

	if (cp_auth_token_hash(req, hash))
		return -1;
	c = claw_db_acquire(ctx->db);
	bad = agent_auth(req, c, hash, nc);
	if (c)
		claw_db_release(ctx->db, c);
	return bad;
}

/* ---- building a node's desired state */

struct build {
	struct cp_ctx *ctx;
	struct claw_http_req *req;
	const struct cp_auth *auth;
	const char *node_id;
	bool fresh; /* the agent has no secrets cached */
	bool edge;  /* the node runs an edge: routes and domains */
	PGconn *conn;
	json_t *doc;
	PGresult *own_domains; /* tenant_id, JSON array of domains */
};

/* The domains of one of the node's tenants, as a new JSON array. */
static json_t *own_domains(const struct build *b, const char *tenant_id)
{
	for (int i = 0; b->own_domains && i < PQntuples(b->own_domains); i++)
		if (!strcmp(PQgetvalue(b->own_domains, i, 0), tenant_id)) {
			json_t *v = json_loads(PQgetvalue(b->own_domains, i, 1),
					       0, NULL);

			if (json_is_array(v))
				return v;
			json_decref(v);
			break;
		}
	return json_array();
}

/* Add public_host and, for an edge, domains to a tenant entry. */
static enum claw_rc edge_fields(const struct build *b, json_t *e,
				const char *tenant_id, const char *slug)
{
	char host[CP_DOMAIN_MAX + 1];

	if (b->edge) {
		json_t *doms = own_domains(b, tenant_id);

		if (!doms || json_object_set_new(e, "domains", doms))
			return CLAW_ERR_NOMEM;
	}
	if (cp_public_host(slug, b->ctx->cfg.fleet.base_domain, host,
			   sizeof(host)) &&
	    json_object_set_new(e, "public_host", json_string(host)))
		return CLAW_ERR_NOMEM;
	return CLAW_OK;
}

/* The routes to tenants on other nodes: an array, or NULL. */
static json_t *edge_routes(const struct build *b, const PGresult *rows)
{
	json_t *out = json_array();

	for (int i = 0; out && i < PQntuples(rows); i++) {
		char host[CP_DOMAIN_MAX + 1];
		json_t *hosts = json_loads(PQgetvalue(rows, i, 3), 0, NULL);
		json_t *r;

		if (!json_is_array(hosts)) {
			json_decref(hosts);
			hosts = json_array();
		}
		if (cp_public_host(PQgetvalue(rows, i, 0),
				   b->ctx->cfg.fleet.base_domain, host,
				   sizeof(host)))
			json_array_insert_new(hosts, 0, json_string(host));
		if (json_array_size(hosts) == 0) {
			json_decref(hosts);
			continue; /* nothing to route by */
		}
		r = json_pack("{s:o, s:s, s:s}", "hosts", hosts, "node",
			      PQgetvalue(rows, i, 1), "upstream",
			      PQgetvalue(rows, i, 2));
		if (!r || json_array_append_new(out, r)) {
			json_decref(out);
			return NULL;
		}
	}
	return out;
}

/* The secrets a role gets: names listed in the spec ("*" for all). */
static json_t *role_secrets(const json_t *spec, const char *role,
			    const struct cp_secret_bundle *b)
{
	json_t *names = json_object_get(json_object_get(spec, "secrets"), role);
	json_t *out = json_object();
	size_t i;
	json_t *n;

	for (size_t k = 0; b && k < b->n; k++) {
		bool want = false;

		json_array_foreach(names, i, n) {
			const char *s = json_string_value(n);

			want |= s &&
				(!strcmp(s, "*") ||
				 !strcmp(s, b->items[k].name));
		}
		if (want)
			json_object_set_new(
				out, b->items[k].name,
				json_stringn((const char *)b->items[k].value,
					     b->items[k].len));
	}
	return out;
}

/* The spec's sandboxed tool servers (compose.h: the tools resource's image
 * servers) as the node agent takes them (docs/node-agent.md, "Tool
 * servers"): each server's secrets, VARIABLE -> secret name, become
 * VARIABLE -> value from the released bundle; with no bundle (the node
 * caches the values) they are left out and the node fills them in. NULL
 * when the spec has none; a new reference. */
static json_t *tool_servers(const json_t *spec,
			    const struct cp_secret_bundle *b)
{
	const json_t *ts = json_object_get(spec, "tool_servers");
	json_t *out, *s;
	size_t i;

	if (!json_array_size(ts))
		return NULL;
	out = json_deep_copy(ts);
	json_array_foreach(out, i, s) {
		json_t *names = json_object_get(s, "secrets"), *vals, *n;
		const char *var;

		if (!json_is_object(names))
			continue;
		vals = json_object();
		json_object_foreach(names, var, n) {
			for (size_t k = 0; b && k < b->n; k++)
				if (!strcmp(b->items[k].name,
					    json_string_value(n)
						    ? json_string_value(n)
						    : ""))
					json_object_set_new(
						vals, var,
						json_stringn((const char *)b
								     ->items[k]
								     .value,
							     b->items[k].len));
		}
		json_object_set_new(s, "secrets", vals);
	}
	return out;
}

/* The registry host both images are pulled from, into host; false when
 * they differ or do not parse. The node agent sends one credential with
 * every pull of a tenant, so a credential may go only where all of them
 * go. */
static bool common_host(const char *gw, const char *rt, char *host,
			size_t hostlen)
{
	struct cp_image_ref a, b;

	if (!cp_image_parse(gw, &a) || !cp_image_parse(rt, &b) ||
	    strcmp(a.host, b.host))
		return false;
	snprintf(host, hostlen, "%s", a.host);
	return true;
}

/* The registry credentials of a tenant's pulls, or NULL: the spec's (the
 * password from a tenant secret) when its server is the images' registry
 * host, else the fleet's credential configured for exactly that host
 * (registry-auth, registry-user). A credential never goes to a host it
 * was not configured for; serveraddress is that host. */
static json_t *registry_auth(const json_t *spec, const char *gw, const char *rt,
			     const struct cp_secret_bundle *b)
{
	const json_t *reg = json_object_get(spec, "registry");
	const char *user, *pw;
	char host[CP_IMAGE_HOST_MAX], server[CP_IMAGE_HOST_MAX];

	if (!common_host(gw, rt, host, sizeof(host)))
		return NULL;
	if (reg) {
		const char *name = json_string_value(
			json_object_get(reg, "password_secret"));

		if (!cp_registry_host_norm(
			    json_string_value(json_object_get(reg, "server")),
			    server, sizeof(server)) ||
		    strcmp(server, host))
			return NULL;
		for (size_t k = 0; b && name && k < b->n; k++)
			if (!strcmp(b->items[k].name, name))
				return json_pack(
					"{s:O, s:s%, s:s}", "username",
					json_object_get(reg, "username"),
					"password",
					(const char *)b->items[k].value,
					b->items[k].len, "serveraddress", host);
		return json_pack("{s:O, s:s, s:s}", "username",
				 json_object_get(reg, "username"), "password",
				 "", "serveraddress", host);
	}
	if (!cp_bounds_registry_cred(host, &user, &pw))
		return NULL;
	return json_pack("{s:s, s:s, s:s}", "username", user, "password", pw,
			 "serveraddress", host);
}

/* The data volume's size limit of a spec's plan (MiB, 0: none), as the
 * node agent takes it (plan.disk_mb, at least CP_PLAN_DISK_MIN; a spec of
 * an older control plane may hold less). */
static json_int_t plan_disk(const json_t *plan)
{
	json_int_t disk = json_integer_value(json_object_get(plan, "disk_mb"));

	if (disk <= 0)
		return 0;
	return disk < CP_PLAN_DISK_MIN ? CP_PLAN_DISK_MIN : disk;
}

/* Add the tenant's "quota" (usage_quota.h): its plan's limits now, so a
 * plan change reaches the gateway without a redeploy. */
static enum claw_rc quota_field(const struct build *b, json_t *e,
				const char *tenant_id)
{
	struct cp_usage_quota q;
	enum claw_rc rc = cp_store_usage_quota(b->conn, tenant_id, &q);

	if (rc)
		return rc;
	return json_object_set_new(e, "quota", cp_usage_quota_json(&q))
		? CLAW_ERR_NOMEM
		: CLAW_OK;
}

static enum claw_rc tenant_entry(struct build *b, const PGresult *rows, int i,
				 json_t **out)
{
	const char *tenant_id = PQgetvalue(rows, i, 0);
	const char *dep = PQgetvalue(rows, i, 2);
	const char *state = PQgetvalue(rows, i, 4);
	json_t *spec = json_loads(PQgetvalue(rows, i, 5), 0, NULL);
	json_t *images = claw_db_value(rows, i, 6)
		? json_loads(PQgetvalue(rows, i, 6), 0, NULL)
		: NULL;
	json_t *plan, *gw_cfg, *e = NULL, *ra;
	struct cp_secret_bundle *bundle = NULL;
	char fp[65], given[65];
	const char *gw_img, *rt_img;
	int count = 0;
	bool cached;
	enum claw_rc rc = CLAW_ERR_INTERNAL;

	*out = NULL;
	if (!spec)
		goto out;
	plan = json_object_get(spec, "plan");
	gw_img = json_string_value(json_object_get(images, "gateway"));
	rt_img = json_string_value(json_object_get(images, "runtime"));
	if (!gw_img)
		gw_img = json_string_value(
			json_object_get(spec, "gateway_image"));
	if (!rt_img)
		rt_img = json_string_value(
			json_object_get(spec, "runtime_image"));
	if (!gw_img || !rt_img)
		goto out;
	rc = cp_store_secret_fp(b->conn, tenant_id, dep, fp, &count);
	if (!rc)
		rc = cp_store_release_get(b->conn, b->node_id, tenant_id,
					  given);
	if (rc)
		goto out;
	cached = !b->fresh && count > 0 && strcmp(fp, given) == 0;
	if (count > 0 && !cached) {
		struct cp_audit_entry a;
		char target[64];

		snprintf(target, sizeof(target), "nodes/%s", b->node_id);
		cp_audit_prepare(&a, b->req, b->auth, "secret.release", target,
				 tenant_id);
		rc = cp_secrets_release(b->ctx, b->conn, tenant_id, &a,
					&bundle);
		if (rc)
			goto out;
	}
	if (strcmp(fp, given) &&
	    (rc = cp_store_release_set(b->conn, b->node_id, tenant_id, fp)))
		goto out;
	gw_cfg = json_deep_copy(json_object_get(spec, "gateway_config"));
	if (!json_is_object(gw_cfg)) {
		json_decref(gw_cfg);
		gw_cfg = json_object();
	}
	json_object_set_new(gw_cfg, "suspended",
			    json_boolean(!strcmp(state, "suspended")));
	e = json_pack("{s:s, s:s, s:I, s:s, s:{s:f, s:O, s:O}, s:{s:s, s:o}, "
		      "s:{s:s, s:O}, s:s}",
		      "tenant", PQgetvalue(rows, i, 1), "deployment", dep,
		      "generation",
		      (json_int_t)strtoll(PQgetvalue(rows, i, 3), NULL, 10),
		      "state", state, "plan", "cpus",
		      (double)json_integer_value(
			      json_object_get(plan, "cpus_milli")) /
			      1000.0,
		      "memory_mb", json_object_get(plan, "memory_mb"), "pids",
		      json_object_get(plan, "pids"), "gateway", "image", gw_img,
		      "config", gw_cfg, "runtime", "image", rt_img, "config",
		      json_object_get(spec, "runtime_config"),
		      "secrets_version", fp);
	if (!e) {
		rc = CLAW_ERR_NOMEM;
		goto out;
	}
	if (plan_disk(plan) > 0 &&
	    json_object_set_new(json_object_get(e, "plan"), "disk_mb",
				json_integer(plan_disk(plan)))) {
		rc = CLAW_ERR_NOMEM;
		goto out;
	}
	/* How long both roles must stay ready before the node calls the
	 * deployment healthy: the spec's (a deploy's or rollout's), else the
	 * fleet's --min-ready-ms. */
	if (json_object_set_new(
		    e, "min_ready_ms",
		    json_is_integer(json_object_get(spec, "min_ready_ms"))
			    ? json_incref(json_object_get(spec, "min_ready_ms"))
			    : json_integer(b->ctx->cfg.fleet.min_ready_ms))) {
		rc = CLAW_ERR_NOMEM;
		goto out;
	}
	rc = edge_fields(b, e, tenant_id, PQgetvalue(rows, i, 1));
	if (!rc)
		rc = quota_field(b, e, tenant_id);
	if (rc)
		goto out;
	if (json_object_get(spec, "tool_servers"))
		json_object_set_new(e, "tool_servers",
				    tool_servers(spec, cached ? NULL : bundle));
	if (cached) {
		json_object_set_new(e, "secrets_cached", json_true());
	} else {
		json_object_set_new(json_object_get(e, "gateway"), "secrets",
				    role_secrets(spec, "gateway", bundle));
		json_object_set_new(json_object_get(e, "runtime"), "secrets",
				    role_secrets(spec, "runtime", bundle));
	}
	if (!cached || !json_object_get(spec, "registry")) {
		ra = registry_auth(spec, gw_img, rt_img, bundle);
		if (ra)
			json_object_set_new(e, "registry_auth", ra);
	}
	*out = e;
	rc = CLAW_OK;
out:
	cp_secret_bundle_free(bundle);
	json_decref(spec);
	json_decref(images);
	return rc;
}

/* "purged": the slugs of purged tenants this node has not acknowledged
 * (store/purge.h). */
static enum claw_rc purged_field(PGconn *c, struct build *b)
{
	PGresult *rows = NULL;
	json_t *slugs;
	enum claw_rc rc = cp_store_purge_list(c, b->node_id, &rows);

	if (rc)
		return rc;
	slugs = json_array();
	for (int i = 0; slugs && i < PQntuples(rows); i++)
		if (json_array_append_new(slugs,
					  json_string(PQgetvalue(rows, i, 0))))
			rc = CLAW_ERR_NOMEM;
	PQclear(rows);
	if (!slugs || json_object_set_new(b->doc, "purged", slugs))
		rc = CLAW_ERR_NOMEM;
	return rc;
}

static enum claw_rc build_tx(PGconn *c, void *cls)
{
	struct build *b = cls;
	PGresult *rows = NULL, *routes = NULL;
	long long gen = 0;
	json_t *tenants, *er;
	enum claw_rc rc;

	json_decref(b->doc);
	b->doc = NULL;
	PQclear(b->own_domains);
	b->own_domains = NULL;
	b->conn = c;
	rc = cp_store_node_generation(c, b->node_id, b->edge, &gen);
	if (!rc && b->fresh)
		rc = cp_store_release_forget(c, b->node_id);
	if (!rc)
		rc = cp_store_desired_rows(c, b->node_id, &rows);
	if (!rc && b->edge)
		rc = cp_store_edge_own_domains(c, b->node_id, &b->own_domains);
	if (!rc && b->edge)
		rc = cp_store_edge_routes(c, b->node_id, &routes);
	if (rc)
		goto out;
	tenants = json_array();
	b->doc = json_pack("{s:I, s:o, s:I}", "generation", (json_int_t)gen,
			   "tenants", tenants, "heartbeat_ms",
			   (json_int_t)b->ctx->cfg.fleet.heartbeat_ms);
	for (int i = 0; b->doc && !rc && i < PQntuples(rows); i++) {
		json_t *e = NULL;

		rc = tenant_entry(b, rows, i, &e);
		if (!rc)
			json_array_append_new(tenants, e);
	}
	if (!rc && !b->doc)
		rc = CLAW_ERR_NOMEM;
	if (!rc && b->edge) {
		er = edge_routes(b, routes);
		if (!er || json_object_set_new(b->doc, "edge_routes", er))
			rc = CLAW_ERR_NOMEM;
	}
	if (!rc)
		rc = purged_field(c, b);
out:
	PQclear(rows);
	PQclear(routes);
	PQclear(b->own_domains);
	b->own_domains = NULL;
	return rc;
}

/* ---- GET /v1/agent/assignments */

static bool parse_nonneg(const char *s, long long max, long long *out)
{
	char *end;
	long long v;

	if (!s || !*s || strspn(s, "0123456789") != strlen(s) || strlen(s) > 18)
		return false;
	v = strtoll(s, &end, 10);
	if (v > max)
		return false;
	*out = v;
	return true;
}

static void assignments(struct claw_http_req *req, void *vctx)
{
	struct cp_ctx *ctx = vctx;
	struct cp_node_caller nc;
	const char *gq = claw_http_query(req, "generation");
	const char *wq = claw_http_query(req, "wait");
	const char *eq = claw_http_query(req, "edge");
	long long have = 0, wait_s = WAIT_DEFAULT_S, gen = 0, edge = 0;
	struct build b = {
		.ctx = ctx, .req = req, .auth = &nc.auth, .node_id = nc.id};
	double deadline;
	struct timespec now;
	struct cp_node_watch *watch = NULL;
	enum claw_rc rc;
	bool relay;

	if (cp_agent_require(req, ctx, &nc))
		return;
	cp_relay_listen(ctx->db);
	if ((gq && !parse_nonneg(gq, (1LL << 62), &have)) ||
	    (wq && !parse_nonneg(wq, WAIT_MAX_S, &wait_s)) ||
	    (eq && !parse_nonneg(eq, 1, &edge))) {
		cp_reply_error(req, CP_E_INVALID_PARAMETER,
			       "generation must be a non-negative "
			       "integer, wait 0 to %d seconds, edge 0 or 1",
			       WAIT_MAX_S);
		return;
	}
	b.edge = edge == 1;
	clock_gettime(CLOCK_MONOTONIC, &now);
	deadline = (double)now.tv_sec + now.tv_nsec / 1e9 + (double)wait_s;
	watch = cp_node_watch(nc.id, b.edge);
	for (;;) {
		uint64_t seq = cp_node_seq(watch);
		PGconn *c = claw_db_acquire(ctx->db);
		long poll_ms;
		double left;

		if (!c) {
			claw_http_reply_std(req, CLAW_HE_UNAVAILABLE, NULL);
			goto out;
		}
		rc = cp_store_node_generation(c, nc.id, b.edge, &gen);
		relay = !rc && cp_relay_pending(c, nc.id);
		claw_db_release(ctx->db, c);
		if (rc) {
			cp_reply_rc(req, rc);
			goto out;
		}
		if (have == 0 || gen > have || relay)
			break;
		clock_gettime(CLOCK_MONOTONIC, &now);
		left = deadline - ((double)now.tv_sec + now.tv_nsec / 1e9);
		if (left <= 0) {
			claw_http_reply_empty(req, 204);
			goto out;
		}
		/* woken per node, from any replica: its new generations and
		 * the relay calls left for it (NOTIFY claw_wake 'node:ID');
		 * read again every long-poll-recheck-ms all the same, every
		 * second while the listener is down */
		poll_ms = cp_relay_listening()
			? ctx->cfg.fleet.long_poll_recheck_ms
			: 1000;
		cp_node_wait(watch, seq,
			     left * 1000 < (double)poll_ms
				     ? (long)(left * 1000) + 1
				     : poll_ms);
	}
	cp_node_unwatch(watch);
	watch = NULL;
	b.fresh = have == 0;
	rc = claw_db_tx(ctx->db, CLAW_DB_READ_COMMITTED, build_tx, &b);
	if (rc) {
		json_decref(b.doc);
		cp_reply_rc(req, rc);
		return;
	}
	cp_relay_take(ctx->db, nc.id, b.doc);
	claw_http_reply_json(req, 200, b.doc);
	return;
out:
	cp_node_unwatch(watch);
}

/* ---- POST /v1/agent/heartbeat */

static enum claw_rc heartbeat_event(PGconn *c, struct claw_http_req *req,
				    const struct cp_node_caller *nc,
				    bool came_back)
{
	char target[64];
	enum claw_rc rc;

	if (!came_back)
		return CLAW_OK;
	log_info("node %s (%s) is back", nc->name, nc->id);
	rc = cp_event_add(
		c, "node.ready", NULL, nc->id,
		json_pack("{s:s, s:s}", "name", nc->name, "status", "ready"));
	snprintf(target, sizeof(target), "nodes/%s", nc->id);
	return rc ? rc
		  : cp_audit_request(c, req, &nc->auth, "node.up", target, NULL,
				     NULL);
}

struct back {
	struct claw_http_req *req;
	const struct cp_node_caller *nc;
};

static enum claw_rc back_tx(PGconn *c, void *cls)
{
	struct back *b = cls;

	return heartbeat_event(c, b->req, b->nc, true);
}

struct beat {
	struct claw_http_req *req;
	const struct cp_node_caller *nc;
	long long cpus, mem;
	json_t *status;    /* a status report, or NULL */
	const char *edge;  /* its edge_address, or NULL */
	char *certs;       /* its edge's certificates (JSON text), or NULL */
	char *purged_done; /* its purged_done (JSON text), or NULL */
	long long desired_gen; /* its desired_generation */
	int cert_warn_days;
	bool changed;
};

static void heartbeat(struct claw_http_req *req, void *vctx)
{
	struct cp_ctx *ctx = vctx;
	struct cp_node_caller nc;
	const char *version = NULL, *edge = NULL;
	json_int_t cpus = 0, mem = 0;
	const struct claw_json_field fields[] = {
		{"cpus_milli", CLAW_JSON_INT, false, &cpus, 0},
		{"memory_mb", CLAW_JSON_INT, false, &mem, 0},
		{"version", CLAW_JSON_STRING, false, &version, 64},
		{"edge_address", CLAW_JSON_STRING, false, &edge,
		 CP_EDGE_ADDRESS_MAX},
		{NULL, 0, false, NULL, 0},
	};
	json_t *body = NULL;
	bool back = false, moved = false;
	long long gen = 0;
	struct back bk = {.req = req, .nc = &nc};
	enum claw_rc rc;
	char hash[65];
	PGconn *c;

	if (cp_auth_token_hash(req, hash))
		return;
	/* All of it on the reserved lane (--db-heartbeat-connections): a
	 * heartbeat late behind a busy pool would mark a healthy node down
	 * and move its tenants. */
	c = claw_db_acquire_reserved(ctx->db);
	if (agent_auth(req, c, hash, &nc) ||
	    claw_http_parse_json(req, fields, &body)) {
		if (c)
			claw_db_release(ctx->db, c);
		return;
	}
	if (edge && !cp_edge_address_valid(edge)) {
		claw_db_release(ctx->db, c);
		json_decref(body);
		claw_http_reply_std(
			req, CLAW_HE_INVALID_FIELD,
			"edge_address: HOST:PORT (a lower-case host "
			"name, an IPv4 or a bracketed IPv6 address)");
		return;
	}
	/* Most heartbeats are two statements: the credential and this. */
	rc = cp_store_node_heartbeat(c, nc.id, cpus, mem, version, &back, &gen);
	if (!rc && edge)
		rc = cp_store_node_edge_set(c, nc.id, edge, &moved);
	if (!rc && back) /* its own transaction: event and audit row */
		rc = claw_db_tx_conn(c, CLAW_DB_READ_COMMITTED, back_tx, &bk);
	if (!rc && (back || moved)) /* read again after what they change */
		rc = cp_store_node_generation(c, nc.id, true, &gen);
	claw_db_release(ctx->db, c);
	json_decref(body);
	if (rc) {
		cp_reply_rc(req, rc);
		return;
	}
	if (back || moved) /* every node's routes may change */
		cp_fleet_wake();
	claw_http_reply_json(
		req, 200,
		json_pack("{s:I, s:I}", "generation", (json_int_t)gen,
			  "heartbeat_ms",
			  (json_int_t)ctx->cfg.fleet.heartbeat_ms));
}

/* ---- POST /v1/agent/status */

static long long restarts_of(const json_t *t)
{
	const json_t *roles = json_object_get(t, "roles");

	return json_integer_value(json_object_get(
		       json_object_get(roles, "gateway"), "restarts")) +
		json_integer_value(json_object_get(
			json_object_get(roles, "runtime"), "restarts"));
}

/* The deployment phase an observed tenant phase moves to (NULL: none),
 * with a reason for failures. */
static const char *dep_phase(const json_t *t, char *reason, size_t len)
{
	const char *ph = json_string_value(json_object_get(t, "phase"));
	const char *why = json_string_value(json_object_get(t, "reason"));

	reason[0] = '\0';
	if (!ph)
		return NULL;
	if (!strcmp(ph, "pulling") || !strcmp(ph, "starting") ||
	    !strcmp(ph, "healthy"))
		return ph;
	if (!strcmp(ph, "failed") || !strcmp(ph, "crash_loop")) {
		const json_t *rt =
			json_object_get(json_object_get(t, "roles"), "runtime");
		const json_t *gw =
			json_object_get(json_object_get(t, "roles"), "gateway");
		const json_t *bad =
			json_is_true(json_object_get(gw, "crash_loop")) ? gw
									: rt;

		if (!strcmp(ph, "crash_loop"))
			snprintf(reason, len,
				 "crash loop: the %s exited with code %lld%s%s",
				 bad == gw ? "gateway" : "runtime",
				 (long long)json_integer_value(json_object_get(
					 bad, "last_exit_code")),
				 why && *why ? "; " : "", why ? why : "");
		else
			snprintf(reason, len, "%s",
				 why && *why ? why : "failed");
		return "failed";
	}
	return NULL;
}

/* Whether what the report says about the tenant's containers is about
 * this generation: each role's container is of it, or there is none yet
 * (a pull). The agent reports the new generation as soon as it has it,
 * while the old containers still run. */
static bool current_instances(const json_t *t, json_int_t gen)
{
	const json_t *roles = json_object_get(t, "roles");
	const char *role;
	json_t *r;

	json_object_foreach((json_t *)roles, role, r) {
		if (json_is_true(json_object_get(r, "exists")) &&
		    json_integer_value(json_object_get(r, "generation")) != gen)
			return false;
	}
	return true;
}

static enum claw_rc observe_tenant(PGconn *c, struct beat *bt, const json_t *t)
{
	const char *slug = json_string_value(json_object_get(t, "tenant"));
	const char *phase = json_string_value(json_object_get(t, "phase"));
	json_t *gen = json_object_get(t, "generation"), *old = NULL;
	PGresult *row = NULL;
	char reason[1200], *text = NULL;
	const char *tenant_id, *dep, *target;
	int changed = 0;
	enum claw_rc rc;

	if (!slug || !phase || strlen(phase) > 16 || !json_is_integer(gen))
		return CLAW_OK;
	rc = cp_store_place_on_node(c, bt->nc->id, slug, &row);
	if (rc == CLAW_ERR_NOT_FOUND)
		return CLAW_OK; /* not ours (any more): fenced */
	if (rc)
		return rc;
	if (strtoll(PQgetvalue(row, 0, 1), NULL, 10) != json_integer_value(gen))
		goto out; /* a report about an older generation */
	tenant_id = PQgetvalue(row, 0, 0);
	dep = PQgetvalue(row, 0, 2);
	if (claw_db_value(row, 0, 4))
		old = json_loads(PQgetvalue(row, 0, 4), 0, NULL);
	target = dep_phase(t, reason, sizeof(reason));
	if (target && !current_instances(t, json_integer_value(gen)))
		target = NULL; /* containers of the previous generation */
	/* Nothing new (an idle tenant between keep-alive reports): what this
	 * report would write is what the last one wrote, in the same kind of
	 * transaction, so a fleet's reports cost a read per tenant. */
	if (old && json_equal(old, t) &&
	    !strcmp(PQgetvalue(row, 0, 3), phase) &&
	    (!target || !strcmp(PQgetvalue(row, 0, 5), target)))
		goto out;
	if (strcmp(PQgetvalue(row, 0, 3), phase)) {
		rc = cp_event_add(c, "tenant.phase", tenant_id, bt->nc->id,
				  json_pack("{s:s, s:s, s:s, s:O*}", "from",
					    PQgetvalue(row, 0, 3), "to", phase,
					    "deployment", dep, "reason",
					    json_object_get(t, "reason")));
		bt->changed = true;
	}
	if (!rc && old && restarts_of(t) > restarts_of(old)) {
		rc = cp_event_add(c, "tenant.restart", tenant_id, bt->nc->id,
				  json_pack("{s:I}", "restarts",
					    (json_int_t)restarts_of(t)));
		bt->changed = true;
	}
	for (int r = 0; !rc && old && r < 2; r++) {
		const char *role = r ? "runtime" : "gateway";
		json_t *now = json_object_get(
			json_object_get(json_object_get(t, "roles"), role),
			"healthy");
		json_t *was = json_object_get(
			json_object_get(json_object_get(old, "roles"), role),
			"healthy");

		if (json_is_boolean(now) && json_is_boolean(was) &&
		    json_is_true(now) != json_is_true(was)) {
			rc = cp_event_add(
				c, "tenant.health", tenant_id, bt->nc->id,
				json_pack("{s:s, s:b}", "role", role, "healthy",
					  json_is_true(now)));
			bt->changed = true;
		}
	}
	text = claw_json_dumps(t);
	if (!rc)
		rc = text ? cp_store_place_observe(c, tenant_id, phase, text)
			  : CLAW_ERR_NOMEM;
	if (!rc && target) {
		rc = cp_store_dep_phase(c, dep, target,
					reason[0] ? reason : NULL, &changed);
		if (!rc && changed) {
			rc = cp_event_add(
				c, "deployment.phase", tenant_id, bt->nc->id,
				json_pack("{s:s, s:s, s:s*}", "deployment", dep,
					  "phase", target, "reason",
					  reason[0] ? reason : NULL));
			bt->changed = true;
		}
	}
	if (!rc) {
		const char *gi = json_string_value(json_object_get(
			json_object_get(t, "images"), "gateway"));
		const char *ri = json_string_value(json_object_get(
			json_object_get(t, "images"), "runtime"));

		if (gi && ri && strstr(gi, "@sha256:") &&
		    strstr(ri, "@sha256:")) {
			json_t *ims = json_pack("{s:s, s:s}", "gateway", gi,
						"runtime", ri);
			char *im = ims ? claw_json_dumps(ims) : NULL;

			json_decref(ims);

			rc = im ? cp_store_dep_images(c, dep, im)
				: CLAW_ERR_NOMEM;
			free(im);
		}
	}
out:
	free(text);
	json_decref(old);
	PQclear(row);
	return rc;
}

/* An RFC 3339 UTC time as the agent writes it: 2026-12-06T12:00:00Z. */
static bool utc_time(const json_t *v)
{
	const char *t = json_string_value(v), *end;
	struct tm tm = {0};

	end = t && strlen(t) == 20 ? strptime(t, "%Y-%m-%dT%H:%M:%SZ", &tm)
				   : NULL;
	return end && !*end;
}

/* The report's "edge"."certs" (edge_caddy.c of the node agent) as JSON
 * text into bt->certs: NULL when absent, false when malformed. */
static bool certs_of(struct beat *bt)
{
	const json_t *certs =
		json_object_get(json_object_get(bt->status, "edge"), "certs");
	const json_t *e;
	size_t i;

	if (!certs)
		return true;
	if (!json_is_array(certs) || json_array_size(certs) > CP_EDGE_CERTS_MAX)
		return false;
	json_array_foreach((json_t *)certs, i, e) {
		const char *host =
			json_string_value(json_object_get(e, "host"));

		if (!host || !*host || strlen(host) > 253)
			return false;
		if (json_is_string(json_object_get(e, "error")))
			continue;
		if (!utc_time(json_object_get(e, "not_before")) ||
		    !utc_time(json_object_get(e, "not_after")))
			return false;
	}
	bt->certs = claw_json_dumps(certs);
	return bt->certs != NULL;
}

/* cert.expiring / cert.renewed for the hosts whose state changed. */
static enum claw_rc certs_tx(PGconn *c, struct beat *bt)
{
	PGresult *r = NULL;
	enum claw_rc rc = cp_store_edge_certs(c, bt->nc->id, bt->certs,
					      bt->cert_warn_days, &r);

	for (int i = 0; !rc && i < PQntuples(r); i++) {
		bool expiring = !strcmp(PQgetvalue(r, i, 2), "t");
		const char *after = claw_db_value(r, i, 1);

		rc = cp_event_add(c,
				  expiring ? "cert.expiring" : "cert.renewed",
				  NULL, bt->nc->id,
				  json_pack("{s:s, s:s*, s:s}", "domain",
					    PQgetvalue(r, i, 0), "not_after",
					    after, "node", bt->nc->name));
		bt->changed = true;
	}
	PQclear(r);
	return rc;
}

static enum claw_rc status_tx(PGconn *c, void *cls)
{
	struct beat *bt = cls;
	bool back = false;
	json_t *t;
	size_t i;
	enum claw_rc rc;

	bt->changed = false;
	rc = cp_store_node_heartbeat(c, bt->nc->id, 0, 0, NULL, &back, NULL);
	if (!rc)
		rc = heartbeat_event(c, bt->req, bt->nc, back);
	bt->changed |= back;
	if (!rc && bt->edge) {
		bool moved = false;

		rc = cp_store_node_edge_set(c, bt->nc->id, bt->edge, &moved);
		bt->changed |= moved;
	}
	if (!rc && bt->certs)
		rc = certs_tx(c, bt);
	json_array_foreach(json_object_get(bt->status, "tenants"), i, t) {
		if (rc)
			break;
		rc = observe_tenant(c, bt, t);
	}
	if (!rc && bt->purged_done)
		rc = cp_store_purge_done(c, bt->nc->id, bt->purged_done,
					 bt->desired_gen);
	return rc;
}

/* The report's "purged_done" (the slugs of "purged" the agent removed,
 * as of its "desired_generation"): its JSON text in bt->purged_done, or
 * NULL when absent; false when malformed. */
static bool purged_done_of(struct beat *bt)
{
	const json_t *done = json_object_get(bt->status, "purged_done");
	const json_t *gen = json_object_get(bt->status, "desired_generation");
	const json_t *v;
	size_t i;

	if (!done)
		return true;
	if (!json_is_array(done) || json_array_size(done) > CP_PURGED_MAX ||
	    !json_is_integer(gen) || json_integer_value(gen) < 0)
		return false;
	json_array_foreach(done, i, v)
		if (!json_is_string(v) || json_string_length(v) > 64)
			return false;
	if (!json_array_size(done))
		return true; /* nothing to delete */
	bt->desired_gen = (long long)json_integer_value(gen);
	bt->purged_done = claw_json_dumps(done);
	return bt->purged_done != NULL;
}

static void status(struct claw_http_req *req, void *vctx)
{
	struct cp_ctx *ctx = vctx;
	struct cp_node_caller nc;
	struct beat bt = {.req = req,
			  .nc = &nc,
			  .cert_warn_days = (int)ctx->cfg.fleet.cert_warn_days};
	enum claw_rc rc;

	/* any fields: the report is the agent's snapshot, which may grow */
	if (cp_agent_require(req, ctx, &nc) ||
	    claw_http_parse_json_opt(req, NULL, CLAW_HTTP_JSON_NONEMPTY,
				     &bt.status))
		return;
	if (!json_is_array(json_object_get(bt.status, "tenants"))) {
		json_decref(bt.status);
		claw_http_reply_std(req, CLAW_HE_INVALID_FIELD,
				    "tenants: an array of observed tenants");
		return;
	}
	bt.edge = json_string_value(json_object_get(bt.status, "edge_address"));
	if (json_object_get(bt.status, "edge_address") &&
	    !cp_edge_address_valid(bt.edge)) {
		json_decref(bt.status);
		claw_http_reply_std(
			req, CLAW_HE_INVALID_FIELD,
			"edge_address: HOST:PORT (a lower-case host "
			"name, an IPv4 or a bracketed IPv6 address)");
		return;
	}
	if (!certs_of(&bt)) {
		json_decref(bt.status);
		claw_http_reply_std(
			req, CLAW_HE_INVALID_FIELD,
			"edge.certs: an array of {\"host\", \"not_before\", "
			"\"not_after\"} (UTC, "
			"2026-12-06T12:00:00Z) or {\"host\", \"error\"}, "
			"100000 at most");
		return;
	}
	if (!purged_done_of(&bt)) {
		free(bt.certs);
		json_decref(bt.status);
		claw_http_reply_std(
			req, CLAW_HE_INVALID_FIELD,
			"purged_done: an array of at most 10000 tenant slugs, "
			"with desired_generation");
		return;
	}
	rc = claw_db_tx(ctx->db, CLAW_DB_READ_COMMITTED, status_tx, &bt);
	free(bt.certs);
	free(bt.purged_done);
	json_decref(bt.status);
	if (rc) {
		cp_reply_rc(req, rc);
		return;
	}
	if (bt.changed)
		cp_fleet_wake();
	claw_http_reply_empty(req, 204);
}

const struct claw_route cp_routes_agent[] = {
	{"GET", "/v1/agent/assignments", assignments, "agent.assignments"},
	{"POST", "/v1/agent/heartbeat", heartbeat, "agent.heartbeat"},
	{"POST", "/v1/agent/status", status, "agent.status"},
};
CP_ROUTES_COUNT(agent);
