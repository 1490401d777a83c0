/*
 * oauth.c - OAuth 2.1 "connect" of a tenant's remote MCP server, the
 * control plane being the OAuth client's redirect endpoint (MCP
 * authorization spec; docs/fleet.md, "Connecting an OAuth MCP server"):
 *
 *   POST /v1/tenants/{t}/mcp/{server}/connect        (admin, operator, the
 *        tenant's own token) start a flow: 201 {"authorization_url",
 *        "flow", "expires_at", "redeploy_required"}
 *   GET  /v1/oauth/callback?code=&state=[&iss=]      (no token: the
 *        operator's browser lands here) finish it: a small HTML page
 *   GET  /v1/tenants/{t}/mcp/{server}/connect/{flow} its state: pending,
 *        connected or failed (with reason), for clawctl to wait on
 *
 * Connect: the server is the entry of the tenant's current deployment's
 * runtime_config mcp_servers with that name, with an oauth object
 * (token_secret required). The control plane asks the server without a
 * token, then discovers (the 401's resource_metadata, RFC 9728; RFC 8414
 * authorization server metadata; libclaw's claw/oauth.h, the runtime's
 * checks), takes the pre-registered client (oauth.client_id and the
 * tenant secret oauth.client_secret_secret) or registers one (RFC 7591),
 * and makes the authorization URL with PKCE S256, a random state and the
 * resource indicator (RFC 8707). Every endpoint must be https unless the
 * test-only --oauth-allow-http-loopback is set.
 *
 * What the callback needs is kept in oauth_flows: the state only as its
 * hash; the code verifier, client and token endpoint as one document
 * sealed under a key derived from the state (so the table alone cannot
 * finish a flow). A flow lives FLOW_TTL_S and is taken once (the claim
 * moves it out of pending in one statement): an unknown state, a replay
 * or an expired flow is refused, as are an error from the authorization
 * server, an iss that is not the issuer (RFC 9207: required when the
 * server says it sends it), a refused token response (over 16 KiB, not
 * Bearer); each with its code, and nothing stored. A good token response
 * becomes the grant (docs/runtime.md's contract) stored as the tenant's
 * secret oauth.token_secret through the secrets code (sealed, versioned,
 * audited as secret.put by the token that started the flow), in the same
 * transaction that marks the flow connected. The runtime reads it at its
 * next start: a redeploy is needed, and every reply says so.
 *
 * Tokens, codes, verifiers and client secrets are never logged, audited
 * or put into a reply; the callback page is no-store and no-referrer.
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/api.h"
#include "audit.h"
#include "claw/crypto.h"
#include "claw/db.h"
#include "claw/buf.h"
#include "claw/httpc.h"
#include "claw/log.h"
#include "claw/oauth.h"
#include "cp.h"
#include "errors.h"
#include "secrets.h"
#include "store/deploy.h"
#include "store/oauth.h"
#include "validate.h"

#define ROLES (CP_R_ADMIN | CP_R_OPERATOR | CP_R_TENANT)
#define FLOW_TTL_S 600
#define SERVER_MAX 64
#define SEAL_PERS "claw-oauth-seal1" /* 16 bytes: the sealing key's */
#define PROBE_MAX (64u << 10)

/* ---- the server's settings, from the current deployment */

struct server_cfg {
	char url[CLAW_OAUTH_MAX_URL];
	char token_secret[CP_SECRET_NAME_MAX + 1];
	char client_id[512];
	char client_secret_secret[CP_SECRET_NAME_MAX + 1];
};

/* Copy member k of o (a string that fits) into out; false otherwise. */
static bool copy_str(const json_t *o, const char *k, char *out, size_t len)
{
	const char *s = json_string_value(json_object_get(o, k));

	if (!s || strlen(s) >= len)
		return false;
	memcpy(out, s, strlen(s) + 1);
	return true;
}

/* The entry named server in spec's runtime_config mcp_servers. 0, or -1
 * after a reply. */
static int server_from_spec(struct claw_http_req *req, const json_t *spec,
			    const char *server, struct server_cfg *out)
{
	const json_t *list = json_object_get(
		json_object_get(spec, "runtime_config"), "mcp_servers");
	const json_t *e, *oa;
	size_t i;

	json_array_foreach((json_t *)list, i, e) {
		if (!json_is_string(json_object_get(e, "name")) ||
		    strcmp(json_string_value(json_object_get(e, "name")),
			   server))
			continue;
		oa = json_object_get(e, "oauth");
		if (!copy_str(e, "url", out->url, sizeof(out->url))) {
			cp_reply_error(req, CP_E_OAUTH_NOT_CONFIGURED,
				       "the server has no url");
			return -1;
		}
		if (!copy_str(oa, "token_secret", out->token_secret,
			      sizeof(out->token_secret)) ||
		    !cp_secret_name_valid(out->token_secret)) {
			cp_reply_error(req, CP_E_OAUTH_NOT_CONFIGURED,
				       "the server has no oauth.token_secret "
				       "(a secret name) to store the grant "
				       "in");
			return -1;
		}
		out->client_id[0] = out->client_secret_secret[0] = '\0';
		if (json_object_get(oa, "client_id") &&
		    !copy_str(oa, "client_id", out->client_id,
			      sizeof(out->client_id))) {
			cp_reply_error(req, CP_E_OAUTH_NOT_CONFIGURED,
				       "oauth.client_id is not a string of at "
				       "most 511 bytes");
			return -1;
		}
		if (json_object_get(oa, "client_secret_secret"))
			copy_str(oa, "client_secret_secret",
				 out->client_secret_secret,
				 sizeof(out->client_secret_secret));
		return 0;
	}
	cp_reply_error(req, CP_E_MCP_SERVER_NOT_FOUND,
		       "the tenant's current deployment has no MCP server "
		       "of that name");
	return -1;
}

/* Find server in the tenant's current deployment. 0, or -1 after a
 * reply. */
static int server_find(struct claw_http_req *req, struct cp_ctx *ctx,
		       const char *tenant_id, const char *server,
		       struct server_cfg *out)
{
	PGconn *c = claw_db_acquire(ctx->db);
	PGresult *place = NULL, *dep = NULL;
	enum claw_rc rc =
		c ? cp_store_place_get(c, tenant_id, &place) : CLAW_ERR_IO;
	json_t *spec = NULL;
	int r = -1;

	if (!rc)
		rc = cp_store_dep_get(c, tenant_id,
				      PQgetvalue(place, 0, CP_PC_DEP), &dep);
	if (c)
		claw_db_release(ctx->db, c);
	if (!rc)
		spec = cp_store_col_doc(dep, 0, CP_DC_SPEC);
	if (rc == CLAW_ERR_NOT_FOUND)
		cp_reply_error(req, CP_E_MCP_SERVER_NOT_FOUND,
			       "the tenant has no deployment");
	else if (rc)
		cp_reply_rc(req, rc);
	else
		r = server_from_spec(req, spec, server, out);
	json_decref(spec);
	PQclear(place);
	PQclear(dep);
	return r;
}

/* ---- the sealed part of a flow */

/* The sealing key of a flow: BLAKE2b keyed by nothing but personalised,
 * of its state (the stored hash is the plain BLAKE2b, another value). */
static void seal_key(const char *state, unsigned char key[32])
{
	static const unsigned char salt[crypto_generichash_blake2b_SALTBYTES];

	crypto_generichash_blake2b_salt_personal(
		key, 32, (const unsigned char *)state, strlen(state), NULL, 0,
		salt, (const unsigned char *)SEAL_PERS);
}

/* plain sealed under state's key as hex (caller frees), or NULL. */
static char *seal(const char *state, const char *plain)
{
	size_t n = strlen(plain);
	size_t cl = crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES + n;
	unsigned char key[32], *ct = malloc(cl);
	char *hex = ct ? malloc(2 * cl + 1) : NULL;

	if (!hex) {
		free(ct);
		return NULL;
	}
	seal_key(state, key);
	randombytes_buf(ct, crypto_secretbox_NONCEBYTES);
	crypto_secretbox_easy(ct + crypto_secretbox_NONCEBYTES,
			      (const unsigned char *)plain, n, ct, key);
	sodium_memzero(key, sizeof(key));
	claw_hex_encode(ct, cl, hex);
	free(ct);
	return hex;
}

/* The document sealed in hex, opened with state's key: a JSON object
 * (its strings to be wiped by the caller), or NULL. */
static json_t *unseal(const char *state, const char *hex)
{
	size_t cl = strlen(hex) / 2;
	unsigned char key[32], *ct = malloc(cl + 1), *pt = NULL;
	json_t *j = NULL;

	if (!ct ||
	    cl < crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES ||
	    claw_hex_decode(hex, ct, cl) != CLAW_OK)
		goto out;
	pt = sodium_malloc(cl);
	seal_key(state, key);
	if (pt &&
	    crypto_secretbox_open_easy(pt, ct + crypto_secretbox_NONCEBYTES,
				       cl - crypto_secretbox_NONCEBYTES, ct,
				       key) == 0)
		j = json_loadb((const char *)pt,
			       cl - crypto_secretbox_NONCEBYTES -
				       crypto_secretbox_MACBYTES,
			       JSON_REJECT_DUPLICATES, NULL);
	sodium_memzero(key, sizeof(key));
out:
	if (pt)
		sodium_free(pt);
	free(ct);
	if (j && !json_is_object(j)) {
		json_decref(j);
		j = NULL;
	}
	return j;
}

/* Wipe every string value of object j, then release it. */
static void wipe_json(json_t *j)
{
	const char *k;
	json_t *v;

	json_object_foreach(j, k, v) {
		const char *s = json_string_value(v);

		if (s)
			sodium_memzero((char *)s, strlen(s));
	}
	json_decref(j);
}

/* ---- connect */

struct connect {
	struct cp_ctx *ctx;
	struct claw_http_req *req;
	const struct cp_auth *auth;
	const char *tenant_id, *server;
	struct server_cfg cfg;
	struct claw_oauth_net net;
	char redirect[CLAW_OAUTH_MAX_URL];
	struct claw_oauth_disc disc;
	struct claw_oauth_cli cli;
	char state[CLAW_OAUTH_PKCE_LEN + 1], verifier[CLAW_OAUTH_PKCE_LEN + 1];
	char flow_id[CP_ID_MAX];
	char *sealed;
	PGresult *row;
};

/* The redirect URI: PUBLIC_URL/v1/oauth/callback. */
static void redirect_uri(const struct cp_ctx *ctx, char *out, size_t len)
{
	const struct cp_config *c = &ctx->cfg;

	if (c->public_url)
		snprintf(out, len, "%.*s/v1/oauth/callback",
			 (int)(strlen(c->public_url) -
			       (strlen(c->public_url) &&
				c->public_url[strlen(c->public_url) - 1] ==
					'/')),
			 c->public_url);
	else
		snprintf(out, len, "%s://%s/v1/oauth/callback",
			 c->tls_cert ? "https" : "http", c->listen);
}

/* Ask the server without a token for its 401's WWW-Authenticate (into
 * www, "" when it gave none). */
static enum claw_rc probe(struct connect *k, char *www, size_t len, char *err,
			  size_t errlen)
{
	static const char *const h[] = {
		"Content-Type: application/json",
		"Accept: application/json, text/event-stream",
		"MCP-Protocol-Version: 2025-06-18", NULL};
	static const char body[] =
		"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\","
		"\"params\":{\"protocolVersion\":\"2025-06-18\","
		"\"capabilities\":{},\"clientInfo\":{\"name\":"
		"\"claw-controlplane\",\"version\":\"1\"}}}";
	struct claw_httpc_resp resp;
	enum claw_rc rc;

	www[0] = '\0';
	if (!claw_oauth_url_allowed(k->cfg.url, k->net.allow_http_loopback)) {
		snprintf(err, errlen, "the server's URL is not https; refused");
		return CLAW_ERR_INVALID;
	}
	rc = claw_oauth_http(&k->net, "POST", k->cfg.url, h, body, PROBE_MAX,
			     &resp, err, errlen);
	if (!rc && resp.status == 401)
		claw_httpc_resp_header(&resp, "www-authenticate", www, len);
	claw_httpc_resp_release(&resp);
	return rc;
}

/* The pre-registered client's secret (the tenant secret named by
 * oauth.client_secret_secret) into k->cli, in a transaction of its own
 * with its secret.release audit row. */
struct cs_tx {
	struct connect *k;
	bool found;
};

static enum claw_rc client_secret_fn(PGconn *conn, void *cls)
{
	struct cs_tx *t = cls;
	struct connect *k = t->k;
	struct cp_audit_entry e;
	struct cp_secret_bundle *b = NULL;
	char target[CP_ID_MAX + SERVER_MAX + 32];
	enum claw_rc rc;

	snprintf(target, sizeof(target), "tenants/%s/mcp/%s", k->tenant_id,
		 k->server);
	cp_audit_prepare(&e, k->req, k->auth, "secret.release", target,
			 k->tenant_id);
	rc = cp_secrets_release(k->ctx, conn, k->tenant_id, &e, &b);
	for (size_t i = 0; !rc && i < b->n; i++) {
		if (strcmp(b->items[i].name, k->cfg.client_secret_secret))
			continue;
		claw_oauth_sfree(&k->cli.client_secret);
		k->cli.client_secret =
			claw_oauth_sdup((const char *)b->items[i].value);
		t->found = k->cli.client_secret != NULL;
	}
	cp_secret_bundle_free(b);
	return rc;
}

/* The client: pre-registered, else registered now. 0, or -1 after a
 * reply. */
static int client_get(struct connect *k, char *err, size_t errlen)
{
	enum claw_rc rc;

	if (k->cfg.client_id[0]) {
		k->cli.client_id = claw_oauth_sdup(k->cfg.client_id);
		if (k->cfg.client_secret_secret[0]) {
			struct cs_tx t = {k, false};

			rc = claw_db_tx(k->ctx->db, CLAW_DB_READ_COMMITTED,
					client_secret_fn, &t);
			if (rc) {
				cp_reply_rc(k->req, rc);
				return -1;
			}
			if (!t.found) {
				cp_reply_error(k->req,
					       CP_E_OAUTH_NOT_CONFIGURED,
					       "the tenant has no secret %s "
					       "(oauth.client_secret_secret)",
					       k->cfg.client_secret_secret);
				return -1;
			}
		}
		k->cli.auth_method = claw_oauth_pick_method(
			k->cli.client_secret != NULL, k->disc.as.auth_methods);
		return 0;
	}
	if (!k->disc.as.registration_endpoint) {
		cp_reply_error(k->req, CP_E_OAUTH_NOT_CONFIGURED,
			       "the authorization server offers no client "
			       "registration: give the server oauth.client_id "
			       "(and oauth.client_secret_secret)");
		return -1;
	}
	rc = claw_oauth_register(&k->net, &k->disc.as, "claw-controlplane",
				 k->redirect, &k->cli, err, errlen);
	if (rc) {
		cp_reply_error(k->req, CP_E_OAUTH_SERVER_REFUSED, "%s", err);
		return -1;
	}
	return 0;
}

/* What the callback needs, sealed under the state's key into k->sealed.
 * False on no memory. */
static bool flow_seal(struct connect *k)
{
	json_t *d = json_pack(
		"{s:s, s:s, s:s, s:s, s:s, s:s, s:b, s:s}", "verifier",
		k->verifier, "client_id", k->cli.client_id, "method",
		claw_oauth_method_name(k->cli.auth_method), "token_endpoint",
		k->disc.as.token_endpoint, "resource", k->disc.resource,
		"issuer", k->disc.as.issuer, "iss_param",
		(int)k->disc.as.iss_param, "redirect", k->redirect);
	char *plain;

	if (d && k->cli.client_secret &&
	    json_object_set_new(d, "client_secret",
				json_string(k->cli.client_secret))) {
		wipe_json(d);
		return false;
	}
	plain = d ? json_dumps(d, JSON_COMPACT) : NULL;
	wipe_json(d);
	if (!plain)
		return false;
	k->sealed = seal(k->state, plain);
	sodium_memzero(plain, strlen(plain));
	free(plain);
	return k->sealed != NULL;
}

static enum claw_rc connect_fn(PGconn *conn, void *cls)
{
	struct connect *k = cls;
	struct cp_audit_entry e;
	char hash[65], target[CP_ID_MAX + SERVER_MAX + 32];
	struct cp_oauth_flow_row f = {
		.id = k->flow_id,
		.tenant_id = k->tenant_id,
		.server = k->server,
		.token_secret = k->cfg.token_secret,
		.state_hash = hash,
		.sealed = k->sealed,
		.created_by = k->auth->token_id[0] ? k->auth->token_id : NULL,
		.created_role = cp_role_name(k->auth->role),
		.ttl_s = FLOW_TTL_S,
	};
	enum claw_rc rc;

	claw_blake2b_hex(k->state, strlen(k->state), hash);
	PQclear(k->row);
	k->row = NULL;
	rc = cp_store_oauth_insert(conn, &f, &k->row);
	if (rc)
		return rc;
	snprintf(target, sizeof(target), "tenants/%s/mcp/%s", k->tenant_id,
		 k->server);
	cp_audit_prepare(&e, k->req, k->auth, "mcp.connect", target,
			 k->tenant_id);
	return cp_audit_append_details(
		conn, &e, "mcp.connect",
		json_pack("{s:s, s:s, s:s}", "server", k->server, "flow",
			  k->flow_id, "token_secret", k->cfg.token_secret));
}

/* The server's path name: the runtime's names. */
static bool server_name_ok(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (n < 1 || n > SERVER_MAX || strstr(s, "__"))
		return false;
	return strspn(s,
		      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
		      "0123456789-_") == n;
}

/* Discovery, client, PKCE and the flow row; replies. */
static void connect_run(struct connect *k)
{
	char err[300], www[2048], url[8192], challenge[CLAW_OAUTH_PKCE_LEN + 1],
		sch[CLAW_OAUTH_PKCE_LEN + 1];
	enum claw_rc rc = probe(k, www, sizeof(www), err, sizeof(err));

	if (!rc)
		rc = claw_oauth_discover(&k->net, k->cfg.url,
					 www[0] ? www : NULL, &k->disc, err,
					 sizeof(err));
	if (rc) {
		cp_reply_error(k->req, CP_E_OAUTH_SERVER_REFUSED, "%s", err);
		return;
	}
	if (client_get(k, err, sizeof(err)))
		return;
	claw_oauth_pkce_new(k->verifier, challenge);
	claw_oauth_pkce_new(k->state, sch);
	struct claw_oauth_authz az = {k->disc.as.authorization_endpoint,
				      k->cli.client_id,
				      k->redirect,
				      challenge,
				      k->state,
				      k->disc.resource,
				      k->disc.scope};
	if (!k->cli.client_id ||
	    !claw_oauth_authorize_url(&az, url, sizeof(url))) {
		cp_reply_error(k->req, CP_E_OAUTH_SERVER_REFUSED,
			       "the authorization request does not fit");
		return;
	}
	if (!flow_seal(k)) {
		claw_http_reply_std(k->req, CLAW_HE_INTERNAL, NULL);
		return;
	}
	cp_id_new("oaf_", k->flow_id, sizeof(k->flow_id));
	rc = claw_db_tx(k->ctx->db, CLAW_DB_READ_COMMITTED, connect_fn, k);
	if (rc) {
		cp_reply_rc(k->req, rc);
		return;
	}
	log_info("oauth: connect of MCP server %s of tenant %s started "
		 "(flow %s)",
		 k->server, k->tenant_id, k->flow_id);
	claw_http_reply_json(k->req, 201,
			     json_pack("{s:s, s:s, s:s, s:s, s:s, s:b}", "flow",
				       k->flow_id, "server", k->server,
				       "authorization_url", url, "expires_at",
				       PQgetvalue(k->row, 0, 0), "token_secret",
				       k->cfg.token_secret, "redeploy_required",
				       1));
}

static void mcp_connect(struct claw_http_req *req, void *vctx)
{
	struct cp_ctx *ctx = vctx;
	struct cp_auth auth;
	struct cp_tenant_ref ten;
	struct connect k = {.ctx = ctx, .req = req, .auth = &auth};

	if (cp_auth_require(req, ctx, ROLES, &auth) ||
	    cp_tenant_require(req, ctx, &auth, "t", 0, &ten))
		return;
	k.tenant_id = ten.id;
	k.server = claw_http_param(req, "server");
	if (!server_name_ok(k.server)) {
		cp_reply_error(req, CP_E_MCP_SERVER_NOT_FOUND,
			       "an MCP server name is 1-64 letters, digits, "
			       "'-' or '_'");
		return;
	}
	if (server_find(req, ctx, ten.id, k.server, &k.cfg))
		return;
	/* the tenant names these hosts: never one inside (SSRF) */
	k.net = (struct claw_oauth_net){ctx->cfg.oauth_allow_http_loopback,
					NULL, NULL, true};
	redirect_uri(ctx, k.redirect, sizeof(k.redirect));
	connect_run(&k);
	claw_oauth_disc_release(&k.disc);
	claw_oauth_cli_release(&k.cli);
	sodium_memzero(k.verifier, sizeof(k.verifier));
	sodium_memzero(k.state, sizeof(k.state));
	free(k.sealed);
	PQclear(k.row);
}

/* ---- the callback */

/* The HTML entity of c, or NULL when c stands for itself. */
static const char *entity(char c)
{
	static const char *const ent[][2] = {
		{"<", "&lt;"}, {">", "&gt;"}, {"&", "&amp;"}, {"\"", "&quot;"}};

	for (size_t i = 0; i < sizeof(ent) / sizeof(ent[0]); i++)
		if (c == ent[i][0][0])
			return ent[i][1];
	return NULL;
}

/* Write s HTML-escaped into b. */
static void html_escape(struct claw_buf *b, const char *s)
{
	for (; *s; s++) {
		const char *e = entity(*s);

		if (e)
			claw_buf_puts(b, e);
		else
			claw_buf_append(b, s, 1);
	}
}

/* The page the browser sees: status, a title, the error code (or NULL)
 * and a message. */
static void page(struct claw_http_req *req, unsigned status, const char *title,
		 const char *code, const char *msg)
{
	struct claw_buf b;
	static const char head[] =
		"<!doctype html><html><head><meta charset=\"utf-8\">"
		"<title>Claw: MCP server connection</title></head><body><h1>";

	claw_buf_init(&b, 16384);
	claw_buf_puts(&b, head);
	html_escape(&b, title);
	claw_buf_puts(&b, "</h1><p>");
	html_escape(&b, msg);
	claw_buf_puts(&b, "</p>");
	if (code) {
		claw_buf_puts(&b, "<p>Error code: <code>");
		html_escape(&b, code);
		claw_buf_puts(&b, "</code></p>");
	}
	claw_buf_puts(&b, "</body></html>\n");
	claw_http_add_header(req, "Cache-Control", "no-store");
	claw_http_add_header(req, "Referrer-Policy", "no-referrer");
	claw_http_add_header(req, "Content-Security-Policy",
			     "default-src 'none'");
	claw_http_reply_raw(req, status, "text/html; charset=utf-8",
			    b.data ? b.data : "", b.len);
	claw_buf_release(&b);
}

static void page_error(struct claw_http_req *req, enum cp_error e,
		       const char *msg)
{
	const struct claw_error_def *d = cp_error_def(e);

	page(req, d->http_status, "Not connected", d->code, msg);
}

struct finish {
	struct cp_ctx *ctx;
	struct claw_http_req *req;
	struct cp_auth auth; /* the token that started the flow */
	const char *id, *tenant_id, *token_secret;
	const char *status, *reason;
	char *grant; /* sodium memory */
	struct cp_secret_meta meta;
};

static enum claw_rc finish_fn(PGconn *conn, void *cls)
{
	struct finish *f = cls;
	struct cp_audit_entry e;
	char target[CP_ID_MAX + CP_SECRET_NAME_MAX + 32];
	enum claw_rc rc = CLAW_OK;

	if (f->grant) {
		snprintf(target, sizeof(target), "tenants/%s/secrets/%s",
			 f->tenant_id, f->token_secret);
		cp_audit_prepare(&e, f->req, &f->auth, "secret.put", target,
				 f->tenant_id);
		rc = cp_secret_put(f->ctx, conn, f->tenant_id, f->token_secret,
				   f->grant, strlen(f->grant), &e, &f->meta);
	}
	if (!rc)
		rc = cp_store_oauth_finish(conn, f->id, f->status, f->reason);
	return rc;
}

/* Mark the flow failed with reason (nothing stored); then the page. */
static void fail_flow(struct finish *f, enum cp_error e, const char *reason)
{
	f->status = "failed";
	f->reason = reason;
	claw_oauth_sfree(&f->grant);
	if (claw_db_tx(f->ctx->db, CLAW_DB_READ_COMMITTED, finish_fn, f))
		log_warn("oauth: flow %s: could not record its failure", f->id);
	log_warn("oauth: flow %s of tenant %s failed: %s", f->id, f->tenant_id,
		 reason);
	page_error(f->req, e, reason);
}

/* The grant (docs/runtime.md) of token response t for the flow's sealed
 * document d, in sodium memory, or NULL. */
static char *grant_json(const struct claw_oauth_token *t, json_t *d)
{
	json_t *g = json_pack(
		"{s:s, s:O, s:O, s:O, s:O}", "access_token", t->access_token,
		"token_endpoint", json_object_get(d, "token_endpoint"),
		"client_id", json_object_get(d, "client_id"),
		"token_endpoint_auth_method", json_object_get(d, "method"),
		"resource", json_object_get(d, "resource"));
	char *s = NULL, *out = NULL;

	if (g && t->refresh_token)
		json_object_set_new(g, "refresh_token",
				    json_string(t->refresh_token));
	if (g && t->expires_in)
		json_object_set_new(
			g, "expires_at",
			json_integer((json_int_t)time(NULL) + t->expires_in));
	if (g && json_object_get(d, "client_secret"))
		json_object_set(g, "client_secret",
				json_object_get(d, "client_secret"));
	s = g ? json_dumps(g, JSON_COMPACT) : NULL;
	if (g) {
		/* its own copies of the tokens (the rest is wiped with d) */
		const char *k[] = {"access_token", "refresh_token"};

		for (size_t i = 0; i < 2; i++) {
			const char *v =
				json_string_value(json_object_get(g, k[i]));

			if (v)
				sodium_memzero((char *)v, strlen(v));
		}
		json_decref(g);
	}
	if (s) {
		out = claw_oauth_sdup(s);
		sodium_memzero(s, strlen(s));
		free(s);
	}
	return out;
}

/* The issuer check of RFC 9207. NULL when fine, else why. */
static const char *iss_problem(struct claw_http_req *req, json_t *d)
{
	const char *iss = claw_http_query(req, "iss");
	const char *want = json_string_value(json_object_get(d, "issuer"));

	if (!iss && json_is_true(json_object_get(d, "iss_param")))
		return "the authorization server sends iss (RFC 9207) but the "
		       "redirect had none; refused";
	if (iss && (!want || strcmp(iss, want)))
		return "the redirect's iss is not the authorization server's "
		       "issuer; refused";
	return NULL;
}

/* Exchange code for the grant and store it. Replies. */
static void exchange(struct finish *f, json_t *d, const char *code)
{
	const char *s = NULL;
	char form[12288] = "", err[300];
	struct claw_oauth_net net = {f->ctx->cfg.oauth_allow_http_loopback,
				     NULL, NULL, true};
	struct claw_oauth_cli cli = {
		(char *)json_string_value(json_object_get(d, "client_id")),
		(char *)json_string_value(json_object_get(d, "client_secret")),
		0};
	const char *m = json_string_value(json_object_get(d, "method"));
	struct claw_oauth_token t;
	enum claw_rc rc;

	cli.auth_method = !m                       ? CLAW_OAUTH_AUTH_NONE
		: !strcmp(m, "none")               ? CLAW_OAUTH_AUTH_NONE
		: !strcmp(m, "client_secret_post") ? CLAW_OAUTH_AUTH_POST
						   : CLAW_OAUTH_AUTH_BASIC;
	if (!(s = json_string_value(json_object_get(d, "token_endpoint"))) ||
	    !claw_oauth_code_form(
		    form, sizeof(form), code,
		    json_string_value(json_object_get(d, "redirect")),
		    json_string_value(json_object_get(d, "verifier")),
		    json_string_value(json_object_get(d, "resource")))) {
		sodium_memzero(form, sizeof(form));
		fail_flow(f, CP_E_OAUTH_SERVER_REFUSED,
			  "the token request does not fit");
		return;
	}
	rc = claw_oauth_token_post(&net, s, &cli, form, sizeof(form), &t, err,
				   sizeof(err));
	if (rc) {
		fail_flow(f, CP_E_OAUTH_SERVER_REFUSED, err);
		return;
	}
	f->grant = grant_json(&t, d);
	claw_oauth_token_release(&t);
	if (!f->grant) {
		fail_flow(f, CP_E_OAUTH_SERVER_REFUSED, "out of memory");
		return;
	}
	f->status = "connected";
	rc = claw_db_tx(f->ctx->db, CLAW_DB_READ_COMMITTED, finish_fn, f);
	claw_oauth_sfree(&f->grant);
	if (rc) {
		page(f->req, 503, "Not connected", "unavailable",
		     "the grant could not be stored; connect again");
		return;
	}
	log_info("oauth: flow %s: grant stored as secret %s of tenant %s "
		 "(version %lld); redeploy the tenant",
		 f->id, f->token_secret, f->tenant_id, f->meta.version);
	page(f->req, 200, "Connected", NULL,
	     "The MCP server is connected: its grant is stored as the "
	     "tenant's secret. Redeploy the tenant for its runtime to use "
	     "it. You may close this page.");
}

/* No flow was taken for state_hash: why. Replies. */
static void claim_refused(struct cp_ctx *ctx, struct claw_http_req *req,
			  const char *hash)
{
	PGconn *c = claw_db_acquire(ctx->db);
	PGresult *row = NULL;
	enum claw_rc rc = c ? cp_store_oauth_peek(c, hash, &row) : CLAW_ERR_IO;

	if (!rc && !strcmp(PQgetvalue(row, 0, 1), "pending") &&
	    !strcmp(PQgetvalue(row, 0, 2), "t")) {
		cp_store_oauth_finish(c, PQgetvalue(row, 0, 0), "failed",
				      "expired");
		page_error(req, CP_E_OAUTH_FLOW_EXPIRED,
			   "this authorization expired; connect again");
	} else if (!rc) {
		page_error(req, CP_E_OAUTH_STATE_USED,
			   "this authorization was already used");
	} else if (rc == CLAW_ERR_NOT_FOUND) {
		page_error(req, CP_E_OAUTH_STATE_INVALID,
			   "no authorization has this state");
	} else {
		page(req, 503, "Not connected", "unavailable",
		     "the database is unreachable; retry shortly");
	}
	if (c)
		claw_db_release(ctx->db, c);
	PQclear(row);
}

static void oauth_callback(struct claw_http_req *req, void *vctx)
{
	struct cp_ctx *ctx = vctx;
	const char *state = claw_http_query(req, "state");
	const char *code = claw_http_query(req, "code");
	const char *error = claw_http_query(req, "error");
	char hash[65], reason[200];
	PGconn *c;
	PGresult *row = NULL;
	enum claw_rc rc;
	json_t *d = NULL;
	struct finish f = {.ctx = ctx, .req = req};
	int role;

	if (!state || !state[0] || strlen(state) > 256) {
		page_error(req, CP_E_OAUTH_STATE_INVALID,
			   "the redirect carries no valid state");
		return;
	}
	claw_blake2b_hex(state, strlen(state), hash);
	c = claw_db_acquire(ctx->db);
	rc = c ? cp_store_oauth_claim(c, hash, &row) : CLAW_ERR_IO;
	if (c)
		claw_db_release(ctx->db, c);
	if (rc) {
		PQclear(row);
		claim_refused(ctx, req, hash);
		return;
	}
	f.id = PQgetvalue(row, 0, 0);
	f.tenant_id = PQgetvalue(row, 0, 1);
	f.token_secret = PQgetvalue(row, 0, 3);
	snprintf(f.auth.token_id, sizeof(f.auth.token_id), "%s",
		 PQgetvalue(row, 0, 5));
	role = cp_role_parse(PQgetvalue(row, 0, 6));
	f.auth.role = role < 0 ? CP_ROLE_ADMIN : (enum cp_role)role;
	if (f.auth.role == CP_ROLE_TENANT)
		snprintf(f.auth.tenant_id, sizeof(f.auth.tenant_id), "%s",
			 f.tenant_id);
	d = unseal(state, PQgetvalue(row, 0, 4));
	if (!d) {
		fail_flow(&f, CP_E_OAUTH_STATE_INVALID,
			  "the flow's sealed part does not open");
	} else if (error) {
		snprintf(reason, sizeof(reason),
			 "the authorization server refused: %.60s", error);
		for (char *p = reason; *p; p++)
			if ((unsigned char)*p < 0x20 ||
			    (unsigned char)*p > 0x7e)
				*p = '?';
		fail_flow(&f, CP_E_OAUTH_DENIED, reason);
	} else if (iss_problem(req, d)) {
		fail_flow(&f, CP_E_OAUTH_ISSUER_MISMATCH, iss_problem(req, d));
	} else if (!code || !code[0] || strlen(code) > 1024) {
		fail_flow(&f, CP_E_OAUTH_DENIED,
			  "the redirect carries no valid code");
	} else {
		exchange(&f, d, code);
	}
	if (d)
		wipe_json(d);
	PQclear(row);
}

/* ---- a flow's state */

/* The row of flow id of the tenant's server (cp_store_oauth_get). */
static enum claw_rc flow_row(struct cp_ctx *ctx, const char *tenant_id,
			     const char *server, const char *id, PGresult **row)
{
	PGconn *c = claw_db_acquire(ctx->db);
	enum claw_rc rc;

	if (!c)
		return CLAW_ERR_IO;
	rc = cp_store_oauth_get(c, tenant_id, server, id, row);
	claw_db_release(ctx->db, c);
	return rc;
}

static void flow_get(struct claw_http_req *req, void *vctx)
{
	struct cp_ctx *ctx = vctx;
	struct cp_auth auth;
	struct cp_tenant_ref ten;
	PGresult *row = NULL;
	enum claw_rc rc;
	const char *st, *reason;
	bool expired;

	if (cp_auth_require(req, ctx, ROLES, &auth) ||
	    cp_tenant_require(req, ctx, &auth, "t", 0, &ten))
		return;
	rc = flow_row(ctx, ten.id, claw_http_param(req, "server"),
		      claw_http_param(req, "flow"), &row);
	if (rc) {
		cp_reply_rc(req, rc);
		return;
	}
	st = PQgetvalue(row, 0, 0);
	reason = claw_db_value(row, 0, 1);
	expired = !strcmp(PQgetvalue(row, 0, 3), "t");
	if (!strcmp(st, "exchanging"))
		st = "pending";
	if (!strcmp(st, "pending") && expired) {
		st = "failed";
		reason = "expired";
	}
	claw_http_reply_json(
		req, 200,
		json_pack("{s:s, s:s, s:s, s:s?, s:s, s:s, s:b}", "flow",
			  claw_http_param(req, "flow"), "server",
			  claw_http_param(req, "server"), "state", st, "reason",
			  reason, "expires_at", PQgetvalue(row, 0, 2),
			  "created_at", PQgetvalue(row, 0, 4),
			  "redeploy_required", !strcmp(st, "connected")));
	PQclear(row);
}

const struct claw_route cp_routes_oauth[] = {
	{"POST", "/v1/tenants/{t}/mcp/{server}/connect", mcp_connect,
	 "mcp.connect"},
	{"GET", "/v1/tenants/{t}/mcp/{server}/connect/{flow}", flow_get,
	 "mcp.connect.get"},
	{"GET", "/v1/oauth/callback", oauth_callback, "oauth.callback"},
};
CP_ROUTES_COUNT(oauth);
