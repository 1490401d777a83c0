/*
 * deploy.c - one-click deploy and the life of a tenant's deployment:
 *
 *   POST   /v1/tenants/{t}/deploy            202 + the new deployment
 *   GET    /v1/tenants/{t}/deployments       newest first
 *   GET    /v1/tenants/{t}/deployments/{id}
 *   GET    /v1/tenants/{t}/placement         where it runs, what was seen
 *   POST   /v1/tenants/{t}/rollback          redeploy the previous healthy
 *   POST   /v1/tenants/{t}/stop | start | suspend | resume
 *   DELETE /v1/tenants/{t}/deployment        take the tenant off its node
 *
 * A deployment is an immutable version of the tenant's spec; an empty
 * body deploys the configured default images, plan and tenant configs
 * (a default config gets the tenant's slug as its "tenant"). A git workspace
 * (agent config as code) is pinned to a commit (workspace.h: only
 * repositories the fleet allows), so a rollback redeploys that commit: a
 * commit id at once, a branch or tag off the request thread (the
 * deployment is "resolving" until a worker pins it and places it, or fails
 * it; see "resolving a workspace" below). The spec is normalised here (see
 * docs/fleet.md) and kept as JSON; images given by digest are pinned at
 * once, tags are pinned to the digest the first node resolves. The answer
 * comes at once: the agent's status reports move the deployment through
 * pending, pulling, starting to healthy or failed. Every change is audited
 * and wakes the node's long poll, so a suspend reaches the node within the
 * poll's round trip.
 *
 * Bounds (docs/fleet.md, "Tenant bounds"): every image must pass the
 * fleet's image policy, whoever deploys; a tenant token also stays within
 * its plan, egress bound, node-labels bound and channel base URLs, and
 * changes nothing while an operator's suspension (a lock on the tenant
 * row) holds. The checks run before a workspace is looked at, again inside
 * the transaction on the tenant's locked row, and once more when a
 * workspace was resolved; a refusal is audited ("ACTION.denied") and
 * answered 403 with the code of the bound (or fails the resolved
 * deployment).
 *
 * Preflight (preflight.h, docs/fleet.md "Deploy preflight and default
 * secrets"): in the same transaction, every secret the composed configs
 * require must be set for the tenant or have a fleet default (sealed as the
 * tenant's own there); else 422 missing_secrets naming each with its role,
 * nothing written. Each role's spec "secrets" is what its own config names
 * unless the body lists them ("*" from admin tokens only). Rollouts make
 * their deploys and rollbacks through the same transaction function
 * (cp_deploy_for_rollout, cp_deploy_rollback_to; rollout.h).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "api/api.h"
#include "audit.h"
#include "bounds.h"
#include "claw/log.h"
#include "compose.h"
#include "cp.h"
#include "domains.h"
#include "errors.h"
#include "events.h"
#include "preflight.h"
#include "rollout.h"
#include "scheduler.h"
#include "secrets.h"
#include "store/common.h"
#include "store/deploy.h"
#include "store/nodes.h"
#include "store/plans.h"
#include "store/store.h"
#include "validate.h"
#include "workspace.h"

#define ROLES (CP_R_ADMIN | CP_R_OPERATOR | CP_R_TENANT)
#define IMAGE_MAX 255
#define SLUG_DEPLOY_MAX 40 /* the node agent's tenant names */
#define LIST_DEFAULT 20
#define LIST_MAX 100

static enum claw_rc audit(PGconn *c, struct claw_http_req *req,
			  const struct cp_auth *auth, const char *action,
			  const struct cp_tenant_ref *ten, json_t *details)
{
	char target[128];

	snprintf(target, sizeof(target), "tenants/%s", ten->slug);
	return cp_audit_request(c, req, auth, action, target, ten->id, details);
}

/* ---- bounds: what the operator allows (bounds.h, docs/fleet.md) */

/* A refusal: code names the bound (CP_E__COUNT: none); msg is the reply's
 * message and goes to the audit row (it names fields and values of the
 * request, never a secret). */
struct denial {
	enum cp_error code;
	char msg[400];
};

static void deny_set(struct denial *d, enum cp_error code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void deny_set(struct denial *d, enum cp_error code, const char *fmt, ...)
{
	va_list ap;

	d->code = code;
	va_start(ap, fmt);
	vsnprintf(d->msg, sizeof(d->msg), fmt, ap);
	va_end(ap);
}

/* The tenant's bounds with the built-in plan's values filled in from the
 * options; with lock, its row stays locked for the transaction. */
static enum claw_rc bounds_load(PGconn *c, const struct cp_fleet_config *fc,
				const char *tenant_id, bool lock,
				struct cp_tenant_bounds *b)
{
	enum claw_rc rc = cp_store_tenant_bounds(c, tenant_id, lock, b);

	if (!rc && !b->has_plan) {
		b->plan.cpus_milli = fc->default_cpus_milli;
		b->plan.memory_mb = fc->default_memory_mb;
		b->plan.pids = fc->default_pids;
		b->plan.disk_mb = fc->default_disk_mb;
	}
	return rc;
}

/* The same on a pooled connection; replies 503/500 and returns -1. */
static int bounds_fetch(struct claw_http_req *req, struct cp_ctx *ctx,
			const struct cp_tenant_ref *ten,
			struct cp_tenant_bounds *b)
{
	PGconn *c = claw_db_acquire(ctx->db);
	enum claw_rc rc;

	rc = c ? bounds_load(c, &ctx->cfg.fleet, ten->id, false, b)
	       : CLAW_ERR_IO;
	if (c)
		claw_db_release(ctx->db, c);
	if (rc) {
		cp_reply_tenant_rc(req, rc);
		return -1;
	}
	return 0;
}

/* For a tenant token: node_labels within the tenant's node_labels bound
 * (placement is the operator's), and every URL of the gateway config the
 * gateway would call directly (channels.*.api_base; bounds.h) the fleet
 * default config's or within the tenant's api_base_allow. false with d
 * filled. */
static bool placement_within(const json_t *spec,
			     const struct cp_fleet_config *fc,
			     const struct cp_tenant_bounds *b, struct denial *d)
{
	const json_t *labels = json_object_get(spec, "node_labels");
	const char *bad;
	char field[128];

	if (cp_labels_check(labels, b->node_labels, &bad)) {
		if (json_object_size(b->node_labels) == 0)
			deny_set(d, CP_E_NODE_LABELS_NOT_ALLOWED,
				 "node_labels: placement is the operator's; "
				 "this tenant may name no node labels");
		else if (strlen(bad) <= CP_LABEL_LEN_MAX &&
			 json_object_get(b->node_labels, bad))
			deny_set(d, CP_E_NODE_LABELS_NOT_ALLOWED,
				 "node_labels.%s: that value is outside the "
				 "tenant's node_labels bound",
				 bad);
		else
			deny_set(d, CP_E_NODE_LABELS_NOT_ALLOWED,
				 "node_labels: a label outside the tenant's "
				 "node_labels bound");
		return false;
	}
	if (cp_api_base_check(json_object_get(spec, "gateway_config"),
			      fc->default_gateway_config, b->api_base_allow,
			      field, sizeof(field))) {
		deny_set(d, CP_E_API_BASE_NOT_ALLOWED,
			 "gateway_config.%s: the gateway calls this address "
			 "directly (outside its egress proxy); this tenant "
			 "may leave it at its default or use one its "
			 "api_base_allow lists",
			 field);
		return false;
	}
	return true;
}

/* Whether spec (with the pinned images, may be NULL) stays within what
 * the operator allows: every image within the fleet's image policy, for
 * every role; for a tenant token also the plan within the tenant's plan and
 * the gateway's egress_allow within the tenant's egress bound (with the
 * egress_allow of the fleet's default gateway config, which the operator
 * gives every tenant). false with d filled. */
static bool spec_within(const json_t *spec, const json_t *images,
			const struct cp_auth *auth,
			const struct cp_fleet_config *fc,
			const struct cp_tenant_bounds *b, struct denial *d)
{
	const struct cp_image_policy *policy = cp_bounds_policy();
	const char *img[4] = {
		json_string_value(json_object_get(spec, "gateway_image")),
		json_string_value(json_object_get(spec, "runtime_image")),
		json_string_value(json_object_get(images, "gateway")),
		json_string_value(json_object_get(images, "runtime"))};
	const json_t *plan = json_object_get(spec, "plan");
	struct cp_plan asked = {
		.cpus_milli =
			json_integer_value(json_object_get(plan, "cpus_milli")),
		.memory_mb =
			json_integer_value(json_object_get(plan, "memory_mb")),
		.pids = json_integer_value(json_object_get(plan, "pids")),
		.disk_mb = json_integer_value(json_object_get(plan, "disk_mb")),
	};
	const char *field, *bad;
	json_t *bound, *ts;
	size_t k;
	int r;

	for (int i = 0; policy && i < 4; i++) {
		if (img[i] && !cp_image_allowed(policy, img[i])) {
			deny_set(d, CP_E_IMAGE_NOT_ALLOWED,
				 "image '%s' is not allowed by the fleet's "
				 "image policy (image-allow)",
				 img[i]);
			return false;
		}
	}
	/* the sandboxed tool servers' images too (issue 14) */
	json_array_foreach(json_object_get(spec, "tool_servers"), k, ts) {
		const char *ti =
			json_string_value(json_object_get(ts, "image"));

		if (policy && ti && !cp_image_allowed(policy, ti)) {
			deny_set(d, CP_E_IMAGE_NOT_ALLOWED,
				 "tool server '%s': image '%s' is not allowed "
				 "by the fleet's image policy (image-allow)",
				 json_string_value(json_object_get(ts, "name")),
				 ti);
			return false;
		}
	}
	if (auth->role != CP_ROLE_TENANT)
		return true;
	field = cp_plan_exceeded(&asked, &b->plan);
	if (field) {
		long long want = !strcmp(field, "cpus_milli") ? asked.cpus_milli
			: !strcmp(field, "memory_mb")         ? asked.memory_mb
			: !strcmp(field, "pids")              ? asked.pids
							      : asked.disk_mb;
		long long lim = !strcmp(field, "cpus_milli")
			? b->plan.cpus_milli
			: !strcmp(field, "memory_mb") ? b->plan.memory_mb
			: !strcmp(field, "pids")      ? b->plan.pids
						      : b->plan.disk_mb;

		deny_set(d, CP_E_PLAN_EXCEEDED,
			 "plan.%s %lld%s exceeds the tenant's plan '%s' "
			 "(%lld)",
			 field, want,
			 !strcmp(field, "disk_mb") && !want ? " (no limit)"
							    : "",
			 b->plan.name, lim);
		return false;
	}
	bound = json_copy(b->egress_allow);
	if (!bound) {
		deny_set(d, CP_E_EGRESS_NOT_ALLOWED, "out of memory");
		return false;
	}
	json_array_extend(
		bound,
		json_object_get(fc->default_gateway_config, "egress_allow"));
	r = cp_egress_check(
		json_object_get(json_object_get(spec, "gateway_config"),
				"egress_allow"),
		bound, &bad);
	json_decref(bound);
	if (r) {
		if (bad[0])
			deny_set(d, CP_E_EGRESS_NOT_ALLOWED,
				 "gateway_config.egress_allow: '%s' is outside "
				 "the tenant's egress bound",
				 bad);
		else
			deny_set(d, CP_E_EGRESS_NOT_ALLOWED,
				 "gateway_config.egress_allow must be an "
				 "array of \"host:port\" entries within the "
				 "tenant's egress bound");
		return false;
	}
	return placement_within(spec, fc, b, d);
}

struct denied_audit {
	struct claw_http_req *req;
	const struct cp_auth *auth;
	const struct cp_tenant_ref *ten;
	const char *action;
	const struct denial *d;
};

static enum claw_rc denied_tx(PGconn *c, void *cls)
{
	const struct denied_audit *da = cls;
	char action[64];

	snprintf(action, sizeof(action), "%s.denied", da->action);
	return audit(c, da->req, da->auth, action, da->ten,
		     json_pack("{s:s, s:s}", "code",
			       cp_error_def(da->d->code)->code, "message",
			       da->d->msg));
}

/* Audit a refused action ("ACTION.denied", in a transaction of its own:
 * the refused change wrote nothing) and reply the refusal. */
static void deny_reply(struct claw_http_req *req, struct cp_ctx *ctx,
		       const struct cp_auth *auth,
		       const struct cp_tenant_ref *ten, const char *action,
		       const struct denial *d)
{
	struct denied_audit da = {req, auth, ten, action, d};

	if (claw_db_tx(ctx->db, CLAW_DB_READ_COMMITTED, denied_tx, &da))
		log_error("tenant %s: unable to audit a refused %s", ten->slug,
			  action);
	log_info("tenant %s: %s refused (%s)", ten->slug, action,
		 cp_error_def(d->code)->code);
	cp_reply_error(req, d->code, "%s", d->msg);
}

/* A tenant token changes nothing of a tenant an operator suspended. */
static bool lock_allows(const struct cp_auth *auth,
			const struct cp_tenant_bounds *b, struct denial *d)
{
	if (auth->role == CP_ROLE_TENANT &&
	    !strcmp(b->suspended_by, "operator")) {
		deny_set(d, CP_E_OPERATOR_LOCKED,
			 "an operator suspended this tenant; only an admin "
			 "or operator token can resume it");
		return false;
	}
	return true;
}

/* ---- the spec */

static bool image_valid(const char *s)
{
	size_t n = strlen(s);

	return n >= 1 && n <= IMAGE_MAX &&
		strspn(s,
		       "abcdefghijklmnopqrstuvwxyz0123456789"
		       "ABCDEFGHIJKLMNOPQRSTUVWXYZ./:@_-") == n &&
		s[0] != '-' && s[0] != '.' && s[0] != '/';
}

static bool labels_valid(const json_t *o)
{
	const char *k;
	json_t *v;

	if (!json_is_object(o) || json_object_size(o) > 32)
		return false;
	json_object_foreach((json_t *)o, k, v)
		if (strlen(k) < 1 || strlen(k) > 63 || !json_is_string(v) ||
		    json_string_length(v) > 63)
			return false;
	return true;
}

static bool names_valid(const json_t *a)
{
	size_t i;
	json_t *v;

	if (!json_is_array(a) || json_array_size(a) > 256)
		return false;
	json_array_foreach(a, i, v) {
		const char *s = json_string_value(v);

		if (!s || (strcmp(s, "*") && !cp_secret_name_valid(s)))
			return false;
	}
	return true;
}

/* A new reference to v, or dflt_new when v is NULL (else dflt_new is
 * released). */
static json_t *or_empty(json_t *v, json_t *dflt_new)
{
	if (!v)
		return dflt_new;
	json_decref(dflt_new);
	return json_incref(v);
}

/* ---- agent config as code: a git workspace pinned to a commit */

static bool is_commit(const char *s)
{
	return strlen(s) == 40 && strspn(s, "0123456789abcdef") == 40;
}

/* Pin a workspace to commit: the spec records repo, ref and commit, and
 * the runtime's config gets a workspace of repo + commit (+ token_secret),
 * which is what the node is given. -1 when out of memory. */
static int workspace_pin(json_t *spec, const char *repo, const char *ref,
			 const char *commit, const char *tok)
{
	json_t *rc_cfg = json_object_get(spec, "runtime_config");
	/* both made before either is set: the strings may be the spec's */
	json_t *w = json_pack("{s:s, s:s, s:s, s:s*}", "repo", repo, "ref", ref,
			      "commit", commit, "token_secret", tok);
	json_t *rw = json_pack("{s:s, s:s, s:s*}", "repo", repo, "commit",
			       commit, "token_secret", tok);

	if (!w || !rw) {
		json_decref(w);
		json_decref(rw);
		return -1;
	}
	/* json_object_set_new takes its value even when it fails */
	if (json_object_set_new(rc_cfg, "workspace", rw)) {
		json_decref(w);
		return -1;
	}
	return json_object_set_new(spec, "workspace", w) ? -1 : 0;
}

/* Check body's "workspace" {repo, ref, token_secret} and put it in the
 * spec: a full commit id is pinned at once; any other ref is recorded
 * without a commit and *resolve set, for a worker to resolve off the
 * request thread (the deployment is then "resolving"). The repository
 * must be one the fleet allows (workspace.h): else -1 with d filled and
 * nothing replied. Other failures reply 422 (500) and return -1; no
 * message repeats the URL. */
static int workspace_take(struct claw_http_req *req,
			  const struct cp_fleet_config *fc, json_t *spec,
			  const json_t *ws, struct denial *d, bool *resolve)
{
	const struct cp_ws_rules rules = {fc->workspace_hosts,
					  fc->workspace_allow_local,
					  fc->workspace_timeout_ms};
	const char *why;
	const char *repo = NULL, *ref = "HEAD", *tok = NULL;
	const struct claw_json_field f[] = {
		{"repo", CLAW_JSON_STRING, true, &repo, 1024},
		{"ref", CLAW_JSON_STRING, false, &ref, 255},
		{"token_secret", CLAW_JSON_STRING, false, &tok,
		 CP_SECRET_NAME_MAX},
		{NULL, 0, false, NULL, 0},
	};
	struct claw_json_problem p;

	if (claw_json_unpack(ws, f, &p)) {
		claw_http_reply_std(req, p.error, p.message);
		return -1;
	}
	if (!repo[0] || !ref[0] || (tok && !cp_secret_name_valid(tok))) {
		claw_http_reply_std(req, CLAW_HE_INVALID_FIELD,
				    "workspace: repo is a git URL or path, "
				    "ref a branch, tag or commit id, "
				    "token_secret a secret name");
		return -1;
	}
	if (tok && !is_commit(ref)) {
		claw_http_reply_std(req, CLAW_HE_INVALID_FIELD,
				    "workspace: with token_secret give ref "
				    "as a full commit id (the control plane "
				    "does not hold repository credentials)");
		return -1;
	}
	if (!cp_ws_allowed(&rules, repo, &why)) {
		deny_set(d, CP_E_WORKSPACE_NOT_ALLOWED, "workspace: %s", why);
		return -1;
	}
	*resolve = !is_commit(ref);
	if (*resolve ? json_object_set_new(spec, "workspace",
					   json_pack("{s:s, s:s, s:s*}", "repo",
						     repo, "ref", ref,
						     "token_secret", tok))
		     : workspace_pin(spec, repo, ref, ref, tok)) {
		claw_http_reply_std(req, CLAW_HE_INTERNAL, NULL);
		return -1;
	}
	return 0;
}

/* A role's config: a copy of the body's, else of the fleet's default with
 * "tenant" set to the slug, else an empty object. */
static json_t *role_config(const json_t *given, const json_t *dflt,
			   const char *slug)
{
	json_t *c;

	if (given)
		return json_deep_copy(given);
	if (!dflt)
		return json_object();
	c = json_deep_copy(dflt);
	if (c && json_object_set_new(c, "tenant", json_string(slug))) {
		json_decref(c);
		return NULL;
	}
	return c;
}

/* spec's secrets.ROLE: the names its composed config names (preflight.h).
 * -1 when out of memory. */
static int secrets_compute(json_t *spec, const char *role)
{
	json_t *needs =
		cp_secret_needs(json_object_get(spec, "gateway_config"),
				json_object_get(spec, "runtime_config"));
	json_t *names = needs ? cp_secret_needs_role(needs, role) : NULL;

	json_decref(needs);
	return names ? json_object_set_new(json_object_get(spec, "secrets"),
					   role, names)
		     : -1;
}

/* Build the normalised spec from the request's body (empty: the fleet's
 * default images and configs, the tenant's plan), or reply 400/415/422 and
 * return NULL. A spec outside the bounds (spec_within) returns NULL with
 * d filled and nothing replied, before any workspace is looked at.
 * *resolve: its workspace names a ref still to be resolved. *compose: the
 * body gave no configs and no secret lists, so the deploy builds them
 * from the tenant's resources (compose.h) when it has any. */
static json_t *spec_from_body(struct claw_http_req *req,
			      const struct cp_fleet_config *fc,
			      const char *slug, const struct cp_auth *auth,
			      const struct cp_tenant_bounds *b,
			      struct denial *d, bool *resolve, bool *compose)
{
	const char *gw = fc->default_gateway_image;
	const char *rt = fc->default_runtime_image;
	json_t *plan = NULL, *labels = NULL, *gcfg = NULL, *rcfg = NULL;
	json_t *secrets = NULL, *registry = NULL, *workspace = NULL;
	json_t *body = NULL, *spec = NULL;
	json_int_t cpus = b->plan.cpus_milli;
	json_int_t mem = b->plan.memory_mb;
	json_int_t pids = b->plan.pids;
	json_int_t disk = b->plan.disk_mb;
	const struct claw_json_field fields[] = {
		{"gateway_image", CLAW_JSON_STRING, false, &gw, IMAGE_MAX},
		{"runtime_image", CLAW_JSON_STRING, false, &rt, IMAGE_MAX},
		{"plan", CLAW_JSON_OBJECT, false, &plan, 0},
		{"node_labels", CLAW_JSON_OBJECT, false, &labels, 0},
		{"gateway_config", CLAW_JSON_OBJECT, false, &gcfg, 0},
		{"runtime_config", CLAW_JSON_OBJECT, false, &rcfg, 0},
		{"secrets", CLAW_JSON_OBJECT, false, &secrets, 0},
		{"registry", CLAW_JSON_OBJECT, false, &registry, 0},
		{"workspace", CLAW_JSON_OBJECT, false, &workspace, 0},
		{NULL, 0, false, NULL, 0},
	};
	const struct claw_json_field plan_fields[] = {
		{"cpus_milli", CLAW_JSON_INT, false, &cpus, 0},
		{"memory_mb", CLAW_JSON_INT, false, &mem, 0},
		{"pids", CLAW_JSON_INT, false, &pids, 0},
		{"disk_mb", CLAW_JSON_INT, false, &disk, 0},
		{NULL, 0, false, NULL, 0},
	};
	const char *ru = NULL, *rs = NULL, *rp = NULL;
	const struct claw_json_field reg_fields[] = {
		{"username", CLAW_JSON_STRING, true, &ru, 255},
		{"server", CLAW_JSON_STRING, true, &rs, 255},
		{"password_secret", CLAW_JSON_STRING, true, &rp,
		 CP_SECRET_NAME_MAX},
		{NULL, 0, false, NULL, 0},
	};
	json_t *sg = NULL, *sr = NULL;
	const struct claw_json_field sec_fields[] = {
		{"gateway", CLAW_JSON_ARRAY, false, &sg, 0},
		{"runtime", CLAW_JSON_ARRAY, false, &sr, 0},
		{NULL, 0, false, NULL, 0},
	};
	struct claw_json_problem p;

	if (claw_http_parse_json(req, fields, &body))
		return NULL;
	if ((plan && claw_json_unpack(plan, plan_fields, &p)) ||
	    (registry && claw_json_unpack(registry, reg_fields, &p)) ||
	    (secrets && claw_json_unpack(secrets, sec_fields, &p))) {
		claw_http_reply_std(req, p.error, p.message);
		goto out;
	}
	if (!gw || !rt) {
		claw_http_reply_std(req, CLAW_HE_MISSING_FIELD,
				    "no default image is configured: give "
				    "gateway_image and runtime_image");
		goto out;
	}
	if (!image_valid(gw) || !image_valid(rt)) {
		claw_http_reply_def(req,
				    claw_http_error_def(CLAW_HE_INVALID_FIELD),
				    "images: REPO[:TAG] or REPO@sha256:HEX, "
				    "up to %d characters",
				    IMAGE_MAX);
		goto out;
	}
	if (cpus < 10 || cpus > 256000 || mem < 16 || mem > 1048576 ||
	    pids < 8 || pids > 65536 || !cp_plan_disk_valid(disk)) {
		claw_http_reply_std(req, CLAW_HE_INVALID_FIELD,
				    "plan: cpus_milli 10..256000, memory_mb "
				    "16..1048576, pids 8..65536, disk_mb 0 (no "
				    "limit) or 16..16777216");
		goto out;
	}
	if ((labels && !labels_valid(labels)) || (sg && !names_valid(sg)) ||
	    (sr && !names_valid(sr)) || (rp && !cp_secret_name_valid(rp))) {
		claw_http_reply_std(req, CLAW_HE_INVALID_FIELD,
				    "node_labels: up to 32 names to short "
				    "strings; secrets.gateway/runtime: "
				    "secret names or \"*\"");
		goto out;
	}
	if (auth->role != CP_ROLE_ADMIN &&
	    (cp_secret_names_wildcard(sg) || cp_secret_names_wildcard(sr))) {
		claw_http_reply_std(req, CLAW_HE_FORBIDDEN,
				    "secrets: \"*\" (every secret of the "
				    "tenant) is for admin tokens only; list "
				    "the names, or leave secrets out to give "
				    "each container what its config names");
		goto out;
	}
	spec = json_pack("{s:s, s:s, s:{s:I, s:I, s:I, s:I}, s:o, s:o, s:o, "
			 "s:{s:o, s:o}}",
			 "gateway_image", gw, "runtime_image", rt, "plan",
			 "cpus_milli", cpus, "memory_mb", mem, "pids", pids,
			 "disk_mb", disk, "node_labels",
			 or_empty(labels, json_object()), "gateway_config",
			 role_config(gcfg, fc->default_gateway_config, slug),
			 "runtime_config",
			 role_config(rcfg, fc->default_runtime_config, slug),
			 "secrets", "gateway", or_empty(sg, json_array()),
			 "runtime", or_empty(sr, json_array()));
	if (spec &&
	    ((!sg && secrets_compute(spec, "gateway")) ||
	     (!sr && secrets_compute(spec, "runtime")))) {
		json_decref(spec);
		spec = NULL;
	}
	if (spec && registry)
		json_object_set_new(spec, "registry",
				    json_pack("{s:s, s:s, s:s}", "username", ru,
					      "server", rs, "password_secret",
					      rp));
	if (!spec) {
		claw_http_reply_std(req, CLAW_HE_INTERNAL, NULL);
		goto out;
	}
	if (!spec_within(spec, NULL, auth, fc, b, d)) {
		json_decref(spec);
		spec = NULL;
		goto out;
	}
	if (workspace && workspace_take(req, fc, spec, workspace, d, resolve)) {
		json_decref(spec);
		spec = NULL;
	}
	*compose = !gcfg && !rcfg && !sg && !sr;
out:
	json_decref(body);
	return spec;
}

/* ---- deploy and rollback */

struct deploy {
	struct claw_http_req *req;
	const struct cp_auth *auth;
	const struct cp_tenant_ref *ten;
	const struct cp_fleet_config *fc;
	char id[CP_ID_MAX];
	char *spec, *images; /* JSON texts; images may be NULL */
	const char *rollback_of;
	const char *action;
	struct cp_ws_job *ws; /* a workspace to resolve: made "resolving" */
	PGresult *row;
	struct denial den; /* the bounds refused it (checked in the tx) */
	struct cp_ctx *ctx;
	json_t *missing;   /* preflight: [{secret, role}] the tenant lacks */
	json_t *defaulted; /* names given the fleet's default value */
	const char *rollout_id; /* a rollout's deploy (no request) */
	bool compose; /* configs from the tenant's resources (compose.h) */
};

/* The bounds again, on the tenant's locked row (a plan, bound or lock
 * changed since the request began is seen): false with d->den set. The
 * state the placement gets: a suspension outlives deploys. */
static enum claw_rc deploy_bounds(PGconn *c, struct deploy *d,
				  const char **state)
{
	struct cp_tenant_bounds b;
	json_t *spec = json_loads(d->spec, 0, NULL);
	json_t *images = d->images ? json_loads(d->images, 0, NULL) : NULL;
	enum claw_rc rc = spec ? bounds_load(c, d->fc, d->ten->id, true, &b)
			       : CLAW_ERR_INTERNAL;

	if (!rc) {
		if (!lock_allows(d->auth, &b, &d->den) ||
		    !spec_within(spec, images, d->auth, d->fc, &b, &d->den))
			rc = CLAW_ERR_INVALID;
		*state = b.suspended_by[0] ? "suspended" : "running";
		cp_tenant_bounds_release(&b);
	}
	json_decref(spec);
	json_decref(images);
	return rc;
}

/* ---- preflight: the secrets the spec needs (preflight.h) */

/* Add {secret, role} to *list (made on first use) unless there. */
static int need_note(json_t **list, const char *name, const char *role)
{
	size_t i;
	json_t *e;

	if (!*list && !(*list = json_array()))
		return -1;
	json_array_foreach(*list, i, e) {
		if (!strcmp(json_string_value(json_object_get(e, "secret")),
			    name) &&
		    !strcmp(json_string_value(json_object_get(e, "role")),
			    role))
			return 0;
	}
	return json_array_append_new(
		*list, json_pack("{s:s, s:s}", "secret", name, "role", role));
}

/* Whether rows (cp_secret_list: name first) hold name. */
static bool secret_set(const PGresult *rows, const char *name)
{
	for (int i = 0; i < PQntuples(rows); i++)
		if (!strcmp(PQgetvalue(rows, i, 0), name))
			return true;
	return false;
}

/* Whether needs (cp_secret_needs) names name for role. */
static bool need_named(const json_t *needs, const char *name, const char *role)
{
	size_t i;
	json_t *e;

	json_array_foreach(needs, i, e) {
		if (!strcmp(json_string_value(json_object_get(e, "name")),
			    name) &&
		    !strcmp(json_string_value(json_object_get(e, "role")),
			    role))
			return true;
	}
	return false;
}

/* The secrets spec requires: what its configs need, the names its secrets
 * lists give ("*" aside), the registry password and a workspace's token,
 * as {name, role} entries. NULL when out of memory. */
static json_t *spec_required(const json_t *spec)
{
	json_t *needs =
		cp_secret_needs(json_object_get(spec, "gateway_config"),
				json_object_get(spec, "runtime_config"));
	json_t *out = json_array();
	const char *roles[2] = {"gateway", "runtime"};
	const char *extra[2][2] = {
		{json_string_value(json_object_get(
			 json_object_get(spec, "registry"), "password_secret")),
		 "registry"},
		{json_string_value(json_object_get(
			 json_object_get(spec, "workspace"), "token_secret")),
		 "runtime"}};
	size_t i;
	json_t *e;
	int r = needs && out ? 0 : -1;

	json_array_foreach(needs, i, e) {
		if (!r && json_is_true(json_object_get(e, "required")))
			r = json_array_append(out, e);
	}
	for (int k = 0; !r && k < 2; k++) {
		json_array_foreach(
			json_object_get(json_object_get(spec, "secrets"),
					roles[k]),
			i, e) {
			const char *n = json_string_value(e);

			/* a name the configs name is as required as they
			 * say (admin_token, say, is optional) */
			if (!r && n && strcmp(n, "*") &&
			    !need_named(needs, n, roles[k]))
				r = json_array_append_new(
					out,
					json_pack("{s:s, s:s}", "name", n,
						  "role", roles[k]));
		}
		if (!r && extra[k][0])
			r = json_array_append_new(
				out,
				json_pack("{s:s, s:s}", "name", extra[k][0],
					  "role", extra[k][1]));
	}
	/* each sandboxed tool server's own (compose.h: tool_servers) */
	json_array_foreach(json_object_get(spec, "tool_servers"), i, e) {
		const char *var;
		json_t *n;

		json_object_foreach(json_object_get(e, "secrets"), var, n) {
			if (!r && json_is_string(n))
				r = json_array_append_new(
					out,
					json_pack("{s:O, s:s}", "name", n,
						  "role", "tools"));
		}
	}
	json_decref(needs);
	if (r) {
		json_decref(out);
		return NULL;
	}
	return out;
}

/* Seal name for the tenant, audited: the fleet default's value (source
 * "fleet"), or a fresh random token (source "generated": 32 bytes from
 * libsodium, base64url; preflight.h says which names). */
static enum claw_rc default_put(PGconn *c, struct deploy *d, const char *name,
				const char *source)
{
	struct cp_audit_entry e;
	struct cp_secret_meta meta;
	char target[CP_SLUG_MAX + CP_SECRET_NAME_MAX + 32];
	unsigned char raw[32];
	char token[sodium_base64_ENCODED_LEN(
		sizeof(raw), sodium_base64_VARIANT_URLSAFE_NO_PADDING)];
	size_t len = 0;
	const char *v;
	enum claw_rc rc;

	if (!strcmp(source, "generated")) {
		randombytes_buf(raw, sizeof(raw));
		v = sodium_bin2base64(token, sizeof(token), raw, sizeof(raw),
				      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
		len = strlen(v);
	} else {
		v = cp_default_secret(name, &len);
	}
	snprintf(target, sizeof(target), "tenants/%s/secrets/%s", d->ten->slug,
		 name);
	cp_audit_prepare(&e, d->req, d->req ? d->auth : NULL, "secret.put",
			 target, d->ten->id);
	rc = cp_secret_put(d->ctx, c, d->ten->id, name, v, len, &e, &meta);
	sodium_memzero(raw, sizeof(raw));
	sodium_memzero(token, sizeof(token));
	return rc;
}

/* Every secret spec requires is set, or has a fleet default, or is one the
 * platform makes up (each sealed as the tenant's own here); else
 * CLAW_ERR_INVALID with d->missing. */
static enum claw_rc preflight(PGconn *c, struct deploy *d, const json_t *spec)
{
	json_t *req = spec_required(spec);
	PGresult *rows = NULL;
	enum claw_rc rc = req ? cp_secret_list(c, d->ten->id, "", 1000, &rows)
			      : CLAW_ERR_NOMEM;
	size_t i;
	json_t *e;

	json_decref(d->missing);
	json_decref(d->defaulted);
	d->missing = NULL;
	d->defaulted = json_array();
	json_array_foreach(req, i, e) {
		const char *n = json_string_value(json_object_get(e, "name"));
		const char *role =
			json_string_value(json_object_get(e, "role"));

		if (rc || secret_set(rows, n))
			continue;
		if (cp_default_secret(n, NULL) || cp_secret_generated(n)) {
			if (need_note(&d->defaulted, n,
				      cp_default_secret(n, NULL) ? "fleet"
								 : "generated"))
				rc = CLAW_ERR_NOMEM;
		} else if (need_note(&d->missing, n, role)) {
			rc = CLAW_ERR_NOMEM;
		}
	}
	if (!rc && d->missing)
		rc = CLAW_ERR_INVALID;
	json_array_foreach(d->defaulted, i, e) {
		if (!rc)
			rc = default_put(
				c, d,
				json_string_value(json_object_get(e, "secret")),
				json_string_value(json_object_get(e, "role")));
	}
	PQclear(rows);
	json_decref(req);
	return rc;
}

/* The 422 of a preflight: each missing secret with the role needing it. */
static void reply_missing(struct claw_http_req *req, const json_t *missing)
{
	const struct claw_error_def *def = cp_error_def(CP_E_MISSING_SECRETS);
	char msg[400] = "the tenant has not set: ";
	size_t at = strlen(msg), i;
	json_t *e;
	const char *rid = claw_http_request_id(req);

	json_array_foreach(missing, i, e) {
		int n = snprintf(
			msg + at, sizeof(msg) - at, "%s%s (%s)", i ? ", " : "",
			json_string_value(json_object_get(e, "secret")),
			json_string_value(json_object_get(e, "role")));

		if (n < 0 || (size_t)n >= sizeof(msg) - at)
			break;
		at += (size_t)n;
	}
	claw_http_reply_json(req, def->http_status,
			     json_pack("{s:{s:s, s:s, s:s?, s:O}}", "error",
				       "code", def->code, "message", msg,
				       "request_id", rid, "missing", missing));
}

/* Point the tenant at deployment d->id (pending): older unfinished ones
 * superseded, the placement (its node kept, or placed anew) moved to it,
 * which wakes the node. */
static enum claw_rc deploy_place(PGconn *c, struct deploy *d, const char *state,
				 char old[CP_ID_MAX])
{
	enum claw_rc rc = cp_store_dep_supersede(c, d->ten->id, d->id, false);

	if (!rc)
		rc = cp_store_place_deploy(c, d->ten->id, d->id, state, old);
	if (!rc)
		rc = old[0]
			? cp_store_node_bump(c, old)
			: cp_sched_place(c, d->ten->id, NULL, "deploy", false);
	return rc;
}

/* The tenant's Telegram webhook_url (its public address), where telegram
 * runs in webhook mode without one and the fleet has a base domain: the
 * gateway then calls setWebhook with it (docs/gateway.md). */
static int webhook_fill(json_t *spec, const struct cp_fleet_config *fc,
			const char *slug)
{
	json_t *tg = json_object_get(
		json_object_get(json_object_get(spec, "gateway_config"),
				"channels"),
		"telegram");
	char url[CP_DOMAIN_MAX + 16];
	json_t *hooks;
	int r = 0;

	if (!json_is_object(tg) || json_object_get(tg, "webhook_url") ||
	    !cp_public_url(slug, fc->base_domain, url, sizeof(url)))
		return 0;
	hooks = cp_webhook_urls(
		json_object_get(json_object_get(spec, "gateway_config"),
				"channels"),
		url);
	if (!hooks)
		return -1;
	if (json_object_get(hooks, "telegram"))
		r = json_object_set(tg, "webhook_url",
				    json_object_get(hooks, "telegram"));
	json_decref(hooks);
	return r;
}

/* The spec's last touches in the deploy's transaction: the configs from
 * the tenant's resources when d->compose and it has any (the versions
 * used recorded as resource_versions, so the deployment says what it ran;
 * a workspace keeps the persona its repository holds), each role's
 * secrets computed again from them, and the Telegram webhook URL. */
static enum claw_rc spec_finish(PGconn *c, struct deploy *d)
{
	json_t *spec = json_loads(d->spec, 0, NULL);
	struct cp_composed comp = {0};
	enum claw_rc rc = spec ? CLAW_OK : CLAW_ERR_INTERNAL;
	char *text;

	if (!rc && d->compose)
		rc = cp_compose(c, d->fc, d->ten->id, d->ten->slug, NULL,
				&comp);
	if (!rc && json_object_size(comp.versions)) {
		/* a workspace (config as code) keeps its repository's persona:
		 * the pinned workspace stays in the runtime's config */
		json_t *ws = json_object_get(
			json_object_get(spec, "runtime_config"), "workspace");

		if (ws && json_object_set(comp.runtime_config, "workspace", ws))
			rc = CLAW_ERR_NOMEM;
		if (json_object_get(spec, "workspace") || ws)
			json_object_del(comp.runtime_config, "persona");
		if (rc ||
		    json_object_set(spec, "gateway_config",
				    comp.gateway_config) ||
		    json_object_set(spec, "runtime_config",
				    comp.runtime_config) ||
		    json_object_set(spec, "resource_versions", comp.versions) ||
		    (json_array_size(comp.tool_servers) &&
		     json_object_set(spec, "tool_servers",
				     comp.tool_servers)) ||
		    secrets_compute(spec, "gateway") ||
		    secrets_compute(spec, "runtime"))
			rc = CLAW_ERR_NOMEM;
	}
	if (!rc && webhook_fill(spec, d->fc, d->ten->slug))
		rc = CLAW_ERR_NOMEM;
	if (!rc) {
		text = json_dumps(spec, JSON_COMPACT);
		if (text) {
			free(d->spec);
			d->spec = text;
		} else {
			rc = CLAW_ERR_NOMEM;
		}
	}
	cp_composed_release(&comp);
	json_decref(spec);
	return rc;
}

static enum claw_rc deploy_tx(PGconn *c, void *cls)
{
	struct deploy *d = cls;
	char old[CP_ID_MAX] = "";
	const char *state = "running";
	const char *phase = d->ws ? "resolving" : "pending";
	enum claw_rc rc;

	cp_store_clear(&d->row);
	d->den.code = CP_E__COUNT;
	rc = spec_finish(c, d);
	if (!rc)
		rc = deploy_bounds(c, d, &state);
	if (!rc) {
		json_t *spec = json_loads(d->spec, 0, NULL);

		rc = spec ? preflight(c, d, spec) : CLAW_ERR_INTERNAL;
		json_decref(spec);
	}
	if (!rc)
		rc = cp_store_dep_insert(c, d->id, d->ten->id, d->spec,
					 d->images, d->rollback_of,
					 d->auth->token_id,
					 d->ws ? phase : NULL, &d->row);
	/* a resolving deployment is placed once its commit is pinned; a
	 * newer deploy supersedes the older ones still resolving */
	if (!rc)
		rc = d->ws ? cp_store_dep_supersede(c, d->ten->id, d->id, true)
			   : deploy_place(c, d, state, old);
	if (!rc)
		rc = cp_event_add(c, "deployment.created", d->ten->id,
				  old[0] ? old : NULL,
				  json_pack("{s:s, s:s, s:s?}", "deployment",
					    d->id, "phase", phase,
					    "rollback_of", d->rollback_of));
	if (!rc)
		rc = audit(
			c, d->req, d->req ? d->auth : NULL, d->action, d->ten,
			json_pack("{s:s, s:s?, s:o?, s:O?, s:s?}", "deployment",
				  d->id, "rollback_of", d->rollback_of, "spec",
				  json_loads(d->spec, 0, NULL),
				  "default_secrets",
				  json_array_size(d->defaulted) ? d->defaulted
								: NULL,
				  "rollout", d->rollout_id));
	return rc;
}

static void resolving_start(struct cp_ctx *ctx, struct deploy *d);

/* The edge's fields of a deploy result or placement (docs/fleet.md,
 * "Public addresses"): public_url (null without base-domain) and, for a
 * spec, webhooks: each enabled channel's URL on it. -1: out of memory. */
static int edge_fields(json_t *j, const struct cp_ctx *ctx, const char *slug,
		       const char *spec_text)
{
	char url[CP_PUBLIC_URL_MAX];
	bool has = cp_public_url(slug, ctx->cfg.fleet.base_domain, url,
				 sizeof(url));
	json_t *spec, *hooks;

	if (json_object_set_new(j, "public_url",
				has ? json_string(url) : json_null()))
		return -1;
	if (!spec_text)
		return 0;
	spec = json_loads(spec_text, 0, NULL);
	hooks = cp_webhook_urls(
		json_object_get(json_object_get(spec, "gateway_config"),
				"channels"),
		has ? url : NULL);
	json_decref(spec);
	return hooks && !json_object_set_new(j, "webhooks", hooks) ? 0 : -1;
}

static void deploy_run(struct claw_http_req *req, struct cp_ctx *ctx,
		       struct deploy *d)
{
	enum claw_rc rc;
	json_t *j;
	char loc[160];

	cp_id_new("dep_", d->id, sizeof(d->id));
	d->fc = &ctx->cfg.fleet;
	d->ctx = ctx;
	d->den.code = CP_E__COUNT;
	rc = claw_db_tx(ctx->db, CLAW_DB_READ_COMMITTED, deploy_tx, d);
	if (rc == CLAW_ERR_INVALID && d->missing) {
		reply_missing(req, d->missing);
		goto out;
	}
	if (rc && d->den.code != CP_E__COUNT) {
		deny_reply(req, ctx, d->auth, d->ten, d->action, &d->den);
		goto out;
	}
	if (rc) {
		cp_reply_rc(req, rc);
		goto out;
	}
	log_info("tenant %s: %s %s%s", d->ten->slug, d->action, d->id,
		 d->ws ? " (resolving its workspace)" : "");
	j = cp_dep_json(d->row, 0);
	if (j && edge_fields(j, ctx, d->ten->slug, d->spec)) {
		json_decref(j);
		j = NULL;
	}
	if (d->ws)
		resolving_start(ctx, d); /* takes d->ws */
	cp_fleet_wake();
	snprintf(loc, sizeof(loc), "/v1/tenants/%s/deployments/%s",
		 d->ten->slug, d->id);
	claw_http_add_header(req, "Location", loc);
	if (!j)
		claw_http_reply_std(req, CLAW_HE_INTERNAL, NULL);
	else
		claw_http_reply_json(req, 202, j);
out:
	cp_ws_job_drop(d->ws);
	PQclear(d->row);
	free(d->spec);
	free(d->images);
	json_decref(d->missing);
	json_decref(d->defaulted);
}

/* ---- resolving a workspace off the request thread
 *
 * A deploy whose workspace names a branch or tag is answered at once with
 * the deployment "resolving". A worker (workspace.h) lists the refs under
 * the deadline and then, in one transaction on the tenant's locked row,
 * checks the bounds again, pins the commit in the spec and places the
 * deployment (pending), or fails it with a fixed sentence. Its event is a
 * deployment.phase; its audit row ("deploy.resolve", or "deploy.denied"
 * when the bounds changed meanwhile) names the requester's token, request
 * id and address. A deployment superseded while it resolved is left as it
 * is. */

struct resolving {
	struct cp_ctx *ctx;
	struct cp_auth auth;
	struct cp_tenant_ref ten;
	char id[CP_ID_MAX];
	char request_id[80];
	char source[80];
	char *spec; /* as stored: the workspace without a commit */
	/* the worker's result */
	enum cp_ws_result res;
	char commit[41];
	char reason[400];
	bool changed; /* the deployment moved (placed or failed) */
};

static void resolving_free(struct resolving *r)
{
	if (!r)
		return;
	free(r->spec);
	free(r);
}

/* An audit row of the resolution, as the request that made it. */
static enum claw_rc audit_resolving(PGconn *c, const struct resolving *r,
				    const char *action, json_t *details)
{
	struct cp_audit_entry e;
	char target[128];
	enum claw_rc rc;

	snprintf(target, sizeof(target), "tenants/%s", r->ten.slug);
	cp_audit_prepare(&e, NULL, &r->auth, action, target, r->ten.id);
	e.request_id = r->request_id[0] ? r->request_id : NULL;
	e.source_addr = r->source[0] ? r->source : NULL;
	e.details = details;
	rc = cp_audit_append(c, &e);
	json_decref(details);
	return rc;
}

/* The deployment failed with r->reason (when still resolving). */
static enum claw_rc resolve_fail(PGconn *c, struct resolving *r,
				 const char *action, json_t *details)
{
	int changed = 0;
	enum claw_rc rc =
		cp_store_dep_resolve_failed(c, r->id, r->reason, &changed);

	r->changed = changed;
	if (rc || !changed) {
		json_decref(details);
		return rc;
	}
	rc = cp_event_add(c, "deployment.phase", r->ten.id, NULL,
			  json_pack("{s:s, s:s, s:s}", "deployment", r->id,
				    "phase", "failed", "reason", r->reason));
	if (rc) {
		json_decref(details);
		return rc;
	}
	return audit_resolving(c, r, action, details);
}

/* Pin the commit into the stored spec (as workspace_pin does). */
static char *spec_pinned(const struct resolving *r)
{
	json_t *spec = json_loads(r->spec, 0, NULL);
	const json_t *ws = json_object_get(spec, "workspace");
	char *out = NULL;

	if (spec && ws &&
	    !workspace_pin(
		    spec, json_string_value(json_object_get(ws, "repo")),
		    json_string_value(json_object_get(ws, "ref")), r->commit,
		    json_string_value(json_object_get(ws, "token_secret"))))
		out = claw_json_dumps(spec);
	json_decref(spec);
	return out;
}

static enum claw_rc resolve_tx(PGconn *c, void *cls)
{
	struct resolving *r = cls;
	struct deploy d = {.auth = &r->auth,
			   .ten = &r->ten,
			   .fc = &r->ctx->cfg.fleet,
			   .action = "deploy",
			   .den = {.code = CP_E__COUNT}};
	char old[CP_ID_MAX] = "";
	const char *state = "running";
	enum claw_rc rc;

	r->changed = false;
	if (r->res == CP_WS_OK)
		r->reason[0] = '\0';
	else
		return resolve_fail(c, r, "deploy.resolve",
				    json_pack("{s:s, s:s, s:s}", "deployment",
					      r->id, "phase", "failed",
					      "reason", r->reason));
	d.spec = spec_pinned(r);
	if (!d.spec)
		return CLAW_ERR_NOMEM;
	snprintf(d.id, sizeof(d.id), "%s", r->id);
	rc = deploy_bounds(c, &d, &state);
	if (rc == CLAW_ERR_INVALID && d.den.code != CP_E__COUNT) {
		/* a lock, a plan or a bound changed while it resolved */
		snprintf(r->reason, sizeof(r->reason), "refused (%s): %s",
			 cp_error_def(d.den.code)->code, d.den.msg);
		rc = resolve_fail(c, r, "deploy.denied",
				  json_pack("{s:s, s:s, s:s}", "deployment",
					    r->id, "code",
					    cp_error_def(d.den.code)->code,
					    "message", d.den.msg));
		goto out;
	}
	if (!rc)
		rc = cp_store_dep_resolved(c, r->id, d.spec, &d.row);
	if (rc == CLAW_ERR_NOT_FOUND) {
		rc = CLAW_OK; /* superseded (or failed) meanwhile */
		goto out;
	}
	if (!rc)
		rc = deploy_place(c, &d, state, old);
	if (!rc)
		rc = cp_event_add(
			c, "deployment.phase", r->ten.id, old[0] ? old : NULL,
			json_pack("{s:s, s:s, s:s}", "deployment", r->id,
				  "phase", "pending", "commit", r->commit));
	if (!rc)
		rc = audit_resolving(c, r, "deploy.resolve",
				     json_pack("{s:s, s:s, s:s}", "deployment",
					       r->id, "phase", "pending",
					       "commit", r->commit));
	r->changed = !rc;
out:
	PQclear(d.row);
	free(d.spec);
	return rc;
}

/* The worker's callback (its own thread). */
static void resolved(enum cp_ws_result res, const char *commit, void *cls)
{
	struct resolving *r = cls;
	const char *ref = "";
	json_t *spec;
	enum claw_rc rc;

	if (res == CP_WS_CANCELLED) { /* the daemon stops; the sweep of a
				       * later start fails it */
		resolving_free(r);
		return;
	}
	r->res = res;
	if (commit)
		snprintf(r->commit, sizeof(r->commit), "%s", commit);
	spec = json_loads(r->spec, 0, NULL);
	ref = json_string_value(
		json_object_get(json_object_get(spec, "workspace"), "ref"));
	if (res == CP_WS_NO_REF)
		snprintf(r->reason, sizeof(r->reason),
			 "workspace: the repository has no branch or tag "
			 "'%s'",
			 ref ? ref : "");
	else if (res != CP_WS_OK)
		snprintf(r->reason, sizeof(r->reason), "workspace: %s",
			 cp_ws_result_text(res));
	json_decref(spec);
	rc = claw_db_tx(r->ctx->db, CLAW_DB_READ_COMMITTED, resolve_tx, r);
	if (rc)
		log_error("tenant %s: deployment %s: unable to record its "
			  "workspace's resolution (it stays resolving until "
			  "the sweep fails it)",
			  r->ten.slug, r->id);
	else if (r->changed)
		log_info("tenant %s: deployment %s %s%s", r->ten.slug, r->id,
			 res == CP_WS_OK && !r->reason[0] ? "pinned to "
							  : "failed: ",
			 res == CP_WS_OK && !r->reason[0] ? r->commit
							  : r->reason);
	if (!rc && r->changed)
		cp_fleet_wake();
	resolving_free(r);
}

/* Hand d's workspace to a worker; the deployment row is committed. When
 * no worker can start, the deployment fails at once. */
static void resolving_start(struct cp_ctx *ctx, struct deploy *d)
{
	struct resolving *r = calloc(1, sizeof(*r));
	struct cp_ws_job *job = d->ws;
	const char *rid = claw_http_request_id(d->req);
	const char *src = claw_http_remote_addr(d->req);

	d->ws = NULL;
	if (!r || !(r->spec = strdup(d->spec))) {
		free(r);
		cp_ws_job_drop(job);
		log_error("tenant %s: deployment %s: out of memory; it stays "
			  "resolving until the sweep fails it",
			  d->ten->slug, d->id);
		return;
	}
	r->ctx = ctx;
	r->auth = *d->auth;
	r->ten = *d->ten;
	snprintf(r->id, sizeof(r->id), "%s", d->id);
	snprintf(r->request_id, sizeof(r->request_id), "%s", rid ? rid : "");
	snprintf(r->source, sizeof(r->source), "%s", src ? src : "");
	if (cp_ws_job_start(job, ctx->cfg.fleet.workspace_timeout_ms, resolved,
			    r))
		resolved(CP_WS_UNREACHABLE, NULL, r);
}

static int tenant_for_deploy(struct claw_http_req *req, struct cp_ctx *ctx,
			     struct cp_auth *auth, struct cp_tenant_ref *ten)
{
	if (cp_auth_require(req, ctx, ROLES, auth) ||
	    cp_tenant_require(req, ctx, auth, "t", 0, ten))
		return -1;
	if (strlen(ten->slug) > SLUG_DEPLOY_MAX) {
		cp_reply_error(req, CP_E_SLUG_TOO_LONG,
			       "tenants with slugs over %d characters "
			       "cannot be deployed (node names are "
			       "built from the slug)",
			       SLUG_DEPLOY_MAX);
		return -1;
	}
	return 0;
}

static void deploy(struct claw_http_req *req, void *vctx)
{
	struct cp_ctx *ctx = vctx;
	struct cp_auth auth;
	struct cp_tenant_ref ten;
	struct deploy d = {
		.req = req, .auth = &auth, .ten = &ten, .action = "deploy"};
	struct cp_tenant_bounds b;
	struct denial den = {.code = CP_E__COUNT};
	bool resolve = false, compose = false;
	json_t *spec;
	const char *gw, *rt;

	if (tenant_for_deploy(req, ctx, &auth, &ten) ||
	    bounds_fetch(req, ctx, &ten, &b))
		return;
	spec = lock_allows(&auth, &b, &den)
		? spec_from_body(req, &ctx->cfg.fleet, ten.slug, &auth, &b,
				 &den, &resolve, &compose)
		: NULL;
	cp_tenant_bounds_release(&b);
	if (!spec) {
		if (den.code != CP_E__COUNT)
			deny_reply(req, ctx, &auth, &ten, d.action, &den);
		return;
	}
	if (resolve) {
		/* a resolution slot, while the request can still say so */
		const json_t *ws = json_object_get(spec, "workspace");

		d.ws = cp_ws_job_new(
			json_string_value(json_object_get(ws, "repo")),
			json_string_value(json_object_get(ws, "ref")));
		if (!d.ws) {
			json_decref(spec);
			claw_http_reply_std(req, CLAW_HE_UNAVAILABLE,
					    cp_ws_result_text(CP_WS_BUSY));
			return;
		}
	}
	gw = json_string_value(json_object_get(spec, "gateway_image"));
	rt = json_string_value(json_object_get(spec, "runtime_image"));
	if (strstr(gw, "@sha256:") && strstr(rt, "@sha256:")) {
		json_t *ims =
			json_pack("{s:s, s:s}", "gateway", gw, "runtime", rt);

		d.images = ims ? claw_json_dumps(ims) : NULL;
		json_decref(ims);
	}
	d.compose = compose;
	d.spec = claw_json_dumps(spec);
	json_decref(spec);
	if (!d.spec) {
		free(d.images);
		cp_ws_job_drop(d.ws);
		claw_http_reply_std(req, CLAW_HE_INTERNAL, NULL);
		return;
	}
	deploy_run(req, ctx, &d);
}

static void rollback(struct claw_http_req *req, void *vctx)
{
	struct cp_ctx *ctx = vctx;
	struct cp_auth auth;
	struct cp_tenant_ref ten;
	struct deploy d = {
		.req = req, .auth = &auth, .ten = &ten, .action = "rollback"};
	struct cp_tenant_bounds b;
	struct denial den = {.code = CP_E__COUNT};
	char prev[CP_ID_MAX];
	PGresult *row = NULL;
	enum claw_rc rc;
	PGconn *c;
	bool locked;

	if (tenant_for_deploy(req, ctx, &auth, &ten) ||
	    bounds_fetch(req, ctx, &ten, &b))
		return;
	locked = !lock_allows(&auth, &b, &den);
	cp_tenant_bounds_release(&b);
	if (locked) { /* refused before telling what it would redeploy */
		deny_reply(req, ctx, &auth, &ten, d.action, &den);
		return;
	}
	c = claw_db_acquire(ctx->db);
	rc = c ? cp_store_dep_previous_healthy(c, ten.id, &row) : CLAW_ERR_IO;
	if (c)
		claw_db_release(ctx->db, c);
	if (rc == CLAW_ERR_NOT_FOUND) {
		cp_reply_error(req, CP_E_NO_PREVIOUS_HEALTHY,
			       "no deployment older than the current "
			       "one was ever healthy");
		return;
	}
	if (rc) {
		cp_reply_rc(req, rc);
		return;
	}
	snprintf(prev, sizeof(prev), "%s", PQgetvalue(row, 0, CP_DC_ID));
	d.rollback_of = prev;
	d.spec = strdup(PQgetvalue(row, 0, CP_DC_SPEC));
	if (claw_db_value(row, 0, CP_DC_IMAGES))
		d.images = strdup(PQgetvalue(row, 0, CP_DC_IMAGES));
	PQclear(row);
	if (!d.spec) {
		free(d.images);
		claw_http_reply_std(req, CLAW_HE_INTERNAL, NULL);
		return;
	}
	deploy_run(req, ctx, &d);
}

/* ---- reading */

static void reply_dep_rows(struct claw_http_req *req, PGresult *rows, int limit)
{
	json_t *items = json_array();
	int n = PQntuples(rows);

	for (int i = 0; i < n && i < limit; i++)
		json_array_append_new(items, cp_dep_json(rows, i));
	claw_http_reply_json(
		req, 200,
		json_pack("{s:o, s:o}", "items", items, "next_cursor",
			  n > limit ? json_string(PQgetvalue(rows, limit - 1,
							     CP_DC_SEQ))
				    : json_null()));
}

static void deployments_list(struct claw_http_req *req, void *vctx)
{
	struct cp_ctx *ctx = vctx;
	struct cp_auth auth;
	struct cp_tenant_ref ten;
	const char *ls = claw_http_query(req, "limit");
	const char *cs = claw_http_query(req, "cursor");
	int limit = LIST_DEFAULT;
	long long cursor = 0;
	PGresult *rows = NULL;
	enum claw_rc rc;
	PGconn *c;

	if (cp_auth_require(req, ctx, ROLES, &auth) ||
	    cp_tenant_require(req, ctx, &auth, "t", CP_TENANT_ALLOW_DELETED,
			      &ten))
		return;
	if ((ls && !cp_parse_limit(ls, LIST_MAX, &limit)) ||
	    (cs && !cp_parse_cursor(cs, &cursor))) {
		cp_reply_error(req, CP_E_INVALID_PARAMETER,
			       "limit 1 to %d, cursor a next_cursor "
			       "value",
			       LIST_MAX);
		return;
	}
	c = claw_db_acquire(ctx->db);
	rc = c ? cp_store_dep_list(c, ten.id, cursor, limit + 1, &rows)
	       : CLAW_ERR_IO;
	if (c)
		claw_db_release(ctx->db, c);
	if (rc) {
		cp_reply_rc(req, rc);
		return;
	}
	reply_dep_rows(req, rows, limit);
	PQclear(rows);
}

static void deployment_get(struct claw_http_req *req, void *vctx)
{
	struct cp_ctx *ctx = vctx;
	struct cp_auth auth;
	struct cp_tenant_ref ten;
	const char *id = claw_http_param(req, "id");
	PGresult *row = NULL;
	enum claw_rc rc = CLAW_ERR_NOT_FOUND;
	PGconn *c;

	if (cp_auth_require(req, ctx, ROLES, &auth) ||
	    cp_tenant_require(req, ctx, &auth, "t", CP_TENANT_ALLOW_DELETED,
			      &ten))
		return;
	if (cp_id_valid(id, "dep_")) {
		c = claw_db_acquire(ctx->db);
		rc = c ? cp_store_dep_get(c, ten.id, id, &row) : CLAW_ERR_IO;
		if (c)
			claw_db_release(ctx->db, c);
	}
	if (rc == CLAW_ERR_NOT_FOUND) {
		cp_reply_error(req, CP_E_DEPLOYMENT_NOT_FOUND,
			       "the tenant has no deployment with "
			       "that id");
		return;
	}
	if (rc) {
		cp_reply_rc(req, rc);
		return;
	}
	claw_http_reply_json(req, 200, cp_dep_json(row, 0));
	PQclear(row);
}

static void placement_get(struct claw_http_req *req, void *vctx)
{
	struct cp_ctx *ctx = vctx;
	struct cp_auth auth;
	struct cp_tenant_ref ten;
	PGresult *row = NULL;
	enum claw_rc rc;
	PGconn *c;
	json_t *j;

	if (cp_auth_require(req, ctx, ROLES, &auth) ||
	    cp_tenant_require(req, ctx, &auth, "t", 0, &ten))
		return;
	c = claw_db_acquire(ctx->db);
	rc = c ? cp_store_place_get(c, ten.id, &row) : CLAW_ERR_IO;
	if (c)
		claw_db_release(ctx->db, c);
	if (rc == CLAW_ERR_NOT_FOUND) {
		cp_reply_error(req, CP_E_PLACEMENT_NOT_FOUND,
			       "the tenant is not deployed");
		return;
	}
	if (rc) {
		cp_reply_rc(req, rc);
		return;
	}
	j = cp_place_json(row, 0);
	PQclear(row);
	if (!j || edge_fields(j, ctx, ten.slug, NULL)) {
		json_decref(j);
		claw_http_reply_std(req, CLAW_HE_INTERNAL, NULL);
		return;
	}
	claw_http_reply_json(req, 200, j);
}

/* ---- stop, start, suspend, resume, undeploy */

struct state_change {
	struct claw_http_req *req;
	const struct cp_auth *auth;
	const struct cp_tenant_ref *ten;
	const struct cp_fleet_config *fc;
	const char *state; /* NULL: remove the placement */
	const char *action;
	struct denial den;
};

/* Who may change what runs, on the tenant's locked row. An operator's
 * suspension is a lock: a tenant token changes nothing while it holds. A
 * tenant token suspends and resumes (and leaves its own pause any other
 * way) only when the operator allows self-pause. */
static bool state_allowed(const struct state_change *s,
			  const struct cp_tenant_bounds *b, struct denial *d)
{
	bool pausing = !strcmp(s->action, "tenant.suspend") ||
		!strcmp(s->action, "tenant.resume") || b->suspended_by[0];

	if (!lock_allows(s->auth, b, d))
		return false;
	if (s->auth->role == CP_ROLE_TENANT && pausing && !b->self_pause) {
		deny_set(d, CP_E_SELF_PAUSE_NOT_ALLOWED,
			 "this tenant may not suspend or resume itself; an "
			 "operator can allow it (self_pause)");
		return false;
	}
	return true;
}

/* The suspension after the change: set by a suspend (an operator's lock,
 * or the tenant's own pause), cleared when the tenant runs or stops again,
 * kept when it is undeployed (its next deploy stays suspended). */
static enum claw_rc record_suspension(PGconn *c, const struct state_change *s)
{
	if (!s->state)
		return CLAW_OK;
	if (!strcmp(s->state, "suspended"))
		return cp_store_tenant_set_suspended(
			c, s->ten->id,
			s->auth->role == CP_ROLE_TENANT ? "tenant"
							: "operator");
	return cp_store_tenant_set_suspended(c, s->ten->id, NULL);
}

static enum claw_rc state_tx(PGconn *c, void *cls)
{
	struct state_change *s = cls;
	struct cp_tenant_bounds b;
	char node[CP_ID_MAX];
	enum claw_rc rc;

	s->den.code = CP_E__COUNT;
	rc = bounds_load(c, s->fc, s->ten->id, true, &b);
	if (rc)
		return rc;
	if (!state_allowed(s, &b, &s->den))
		rc = CLAW_ERR_INVALID;
	cp_tenant_bounds_release(&b);
	if (rc)
		return rc;
	rc = s->state ? cp_store_place_state(c, s->ten->id, s->state, node)
		      : cp_store_place_delete(c, s->ten->id, node);
	if (!rc)
		rc = record_suspension(c, s);
	if (!rc)
		rc = cp_store_node_bump(c, node);
	if (!rc)
		rc = cp_event_add(c, "tenant.state", s->ten->id,
				  node[0] ? node : NULL,
				  json_pack("{s:s}", "state",
					    s->state ? s->state : "removed"));
	if (!rc)
		rc = audit(c, s->req, s->auth, s->action, s->ten, NULL);
	return rc;
}

static void state_change(struct claw_http_req *req, struct cp_ctx *ctx,
			 const char *state, const char *action)
{
	struct cp_auth auth;
	struct cp_tenant_ref ten;
	struct state_change s = {.req = req,
				 .auth = &auth,
				 .ten = &ten,
				 .fc = &ctx->cfg.fleet,
				 .state = state,
				 .action = action,
				 .den = {.code = CP_E__COUNT}};
	enum claw_rc rc;

	if (cp_auth_require(req, ctx, ROLES, &auth) ||
	    cp_tenant_require(req, ctx, &auth, "t", 0, &ten))
		return;
	rc = claw_db_tx(ctx->db, CLAW_DB_READ_COMMITTED, state_tx, &s);
	if (rc && s.den.code != CP_E__COUNT) {
		deny_reply(req, ctx, &auth, &ten, action, &s.den);
		return;
	}
	if (rc == CLAW_ERR_NOT_FOUND) {
		cp_reply_error(req, CP_E_NOT_DEPLOYED,
			       "the tenant is not deployed; deploy it "
			       "first");
		return;
	}
	if (rc) {
		cp_reply_rc(req, rc);
		return;
	}
	log_info("tenant %s: %s", ten.slug, action);
	cp_fleet_wake();
	if (!state) {
		claw_http_reply_empty(req, 204);
		return;
	}
	placement_get(req, ctx);
}

static void t_stop(struct claw_http_req *req, void *ctx)
{
	state_change(req, ctx, "stopped", "tenant.stop");
}

static void t_start(struct claw_http_req *req, void *ctx)
{
	state_change(req, ctx, "running", "tenant.start");
}

static void t_suspend(struct claw_http_req *req, void *ctx)
{
	state_change(req, ctx, "suspended", "tenant.suspend");
}

static void t_resume(struct claw_http_req *req, void *ctx)
{
	state_change(req, ctx, "running", "tenant.resume");
}

static void t_undeploy(struct claw_http_req *req, void *ctx)
{
	state_change(req, ctx, NULL, "tenant.undeploy");
}

/* ---- deploys made by a rollout (rollout.h), in its transaction */

/* A deploy made by a rollout: spec (and images, may be NULL; JSON texts)
 * of the tenant as the system (the rollout in the audit details), through
 * deploy_tx in the caller's transaction. dep_out gets the deployment;
 * refusals (bounds, preflight) come back as CLAW_ERR_INVALID with err
 * filled and nothing written. */
struct rollout_run {
	struct cp_ctx *ctx;
	const char *action;
	const char *rollout_id;
	const char *tenant_id;
	const char *slug;
	const char *rollback_of;
	char *spec;
	char *images;
};

static enum claw_rc rollout_deploy_run(PGconn *c, const struct rollout_run *rr,
				       char dep_out[CP_ID_MAX], char *err,
				       size_t errlen)
{
	struct cp_auth sys = {.role = CP_ROLE_OPERATOR};
	struct cp_tenant_ref ten = {0};
	struct deploy d = {
		.auth = &sys,
		.ten = &ten,
		.fc = &rr->ctx->cfg.fleet,
		.ctx = rr->ctx,
		.action = rr->action,
		.rollback_of = rr->rollback_of,
		.rollout_id = rr->rollout_id,
		.spec = strdup(rr->spec), /* spec_finish replaces it */
		.images = rr->images};
	enum claw_rc rc;

	if (!d.spec)
		return CLAW_ERR_NOMEM;
	snprintf(ten.id, sizeof(ten.id), "%s", rr->tenant_id);
	snprintf(ten.slug, sizeof(ten.slug), "%s", rr->slug);
	cp_id_new("dep_", d.id, sizeof(d.id));
	rc = deploy_tx(c, &d);
	if (rc == CLAW_ERR_INVALID && d.missing) {
		char *m = claw_json_dumps(d.missing);

		snprintf(err, errlen, "missing_secrets: %s", m ? m : "");
		free(m);
	} else if (rc == CLAW_ERR_INVALID && d.den.code != CP_E__COUNT) {
		snprintf(err, errlen, "%s: %s", cp_error_def(d.den.code)->code,
			 d.den.msg);
	}
	if (!rc)
		snprintf(dep_out, CP_ID_MAX, "%s", d.id);
	PQclear(d.row);
	json_decref(d.missing);
	json_decref(d.defaulted);
	free(d.spec);
	return rc;
}

/* The spec of the tenant's placed deployment with the rollout's images,
 * configs and min_ready_ms; each role's secrets recomputed from the
 * configs it gets (an explicit "*" stays). NULL with rd->error (and
 * CLAW_ERR_INVALID) when the tenant has no deployment. */
static json_t *rollout_spec(PGconn *c, struct cp_rollout_deploy *rd,
			    enum claw_rc *rc)
{
	PGresult *pl = NULL, *dep = NULL;
	json_t *spec = NULL;
	const char *roles[2] = {"gateway", "runtime"};
	const char *img;

	*rc = cp_store_place_get(c, rd->tenant_id, &pl);
	if (!*rc) {
		snprintf(rd->previous, sizeof(rd->previous), "%s",
			 PQgetvalue(pl, 0, CP_PC_DEP));
		*rc = cp_store_dep_get(c, rd->tenant_id, rd->previous, &dep);
	}
	if (*rc == CLAW_ERR_NOT_FOUND) {
		snprintf(rd->error, sizeof(rd->error),
			 "the tenant is not deployed; deploy it first");
		*rc = CLAW_ERR_INVALID;
	}
	if (!*rc &&
	    !(spec = json_loads(PQgetvalue(dep, 0, CP_DC_SPEC), 0, NULL)))
		*rc = CLAW_ERR_INTERNAL;
	if ((img = json_string_value(json_object_get(rd->images, "gateway"))))
		json_object_set_new(spec, "gateway_image", json_string(img));
	if ((img = json_string_value(json_object_get(rd->images, "runtime"))))
		json_object_set_new(spec, "runtime_image", json_string(img));
	if (rd->gateway_config)
		json_object_set_new(spec, "gateway_config",
				    json_deep_copy(rd->gateway_config));
	if (rd->runtime_config)
		json_object_set_new(spec, "runtime_config",
				    json_deep_copy(rd->runtime_config));
	if (rd->min_ready_ms >= 0)
		json_object_set_new(spec, "min_ready_ms",
				    json_integer(rd->min_ready_ms));
	for (int k = 0; spec && k < 2; k++) {
		if (!cp_secret_names_wildcard(json_object_get(
			    json_object_get(spec, "secrets"), roles[k])) &&
		    secrets_compute(spec, roles[k]))
			*rc = CLAW_ERR_NOMEM;
	}
	PQclear(pl);
	PQclear(dep);
	if (*rc) {
		json_decref(spec);
		return NULL;
	}
	return spec;
}

enum claw_rc cp_deploy_for_rollout(PGconn *c, struct cp_ctx *ctx,
				   struct cp_rollout_deploy *rd)
{
	struct rollout_run rr = {.ctx = ctx,
				 .action = "rollout.tenant.deploy",
				 .rollout_id = rd->rollout_id,
				 .tenant_id = rd->tenant_id,
				 .slug = rd->slug};
	enum claw_rc rc;
	json_t *spec;

	rd->deployment[0] = rd->previous[0] = rd->error[0] = '\0';
	spec = rollout_spec(c, rd, &rc);
	if (!spec)
		return rc;
	rr.spec = claw_json_dumps(spec);
	json_decref(spec);
	if (!rr.spec)
		return CLAW_ERR_NOMEM;
	rc = rollout_deploy_run(c, &rr, rd->deployment, rd->error,
				sizeof(rd->error));
	free(rr.spec);
	return rc;
}

enum claw_rc cp_deploy_rollback_to(PGconn *c, struct cp_ctx *ctx,
				   const char *rollout_id,
				   const char *tenant_id, const char *slug,
				   const char *previous,
				   char dep_out[CP_ID_MAX])
{
	struct rollout_run rr = {.ctx = ctx,
				 .action = "rollout.tenant.rollback",
				 .rollout_id = rollout_id,
				 .tenant_id = tenant_id,
				 .slug = slug,
				 .rollback_of = previous};
	PGresult *row = NULL;
	char err[400];
	enum claw_rc rc = cp_store_dep_get(c, tenant_id, previous, &row);

	if (!rc) {
		rr.spec = strdup(PQgetvalue(row, 0, CP_DC_SPEC));
		if (claw_db_value(row, 0, CP_DC_IMAGES))
			rr.images = strdup(PQgetvalue(row, 0, CP_DC_IMAGES));
		rc = rr.spec
			? rollout_deploy_run(c, &rr, dep_out, err, sizeof(err))
			: CLAW_ERR_NOMEM;
	}
	PQclear(row);
	free(rr.spec);
	free(rr.images);
	return rc;
}

const struct claw_route cp_routes_deploy[] = {
	{"POST", "/v1/tenants/{t}/deploy", deploy, "deploy.create"},
	{"GET", "/v1/tenants/{t}/deployments", deployments_list, "deploy.list"},
	{"GET", "/v1/tenants/{t}/deployments/{id}", deployment_get,
	 "deploy.get"},
	{"GET", "/v1/tenants/{t}/placement", placement_get, "deploy.placement"},
	{"POST", "/v1/tenants/{t}/rollback", rollback, "deploy.rollback"},
	{"POST", "/v1/tenants/{t}/stop", t_stop, "deploy.stop"},
	{"POST", "/v1/tenants/{t}/start", t_start, "deploy.start"},
	{"POST", "/v1/tenants/{t}/suspend", t_suspend, "deploy.suspend"},
	{"POST", "/v1/tenants/{t}/resume", t_resume, "deploy.resume"},
	{"DELETE", "/v1/tenants/{t}/deployment", t_undeploy, "deploy.delete"},
};
CP_ROUTES_COUNT(deploy);
