/*
 * chat.c - the chat relay: an operator (the dashboard's Try it panel,
 * clawctl chat) talks to a tenant's agent through the control plane,
 * without ever holding the tenant's openai_api_token.
 *
 *   GET  /v1/tenants/{t}/chat/models       -> the gateway's GET /v1/models
 *   POST /v1/tenants/{t}/chat/completions  -> the gateway's
 *        POST /v1/chat/completions with the body as it came; with
 *        "stream": true the gateway's server-sent events are relayed
 *        chunk by chunk as they arrive.
 *
 * Roles: admin, operator and the tenant's own token (another tenant's
 * token gets the 404 of every tenant route, an auditor's the 403).
 *
 * The way there. Tenants are reached only through the edge: the relay
 * connects to the advertised edge address (--edge-advertise, the
 * nodes' edge_address) of the node the tenant is placed on, plain HTTP
 * with the Host header of the tenant's public host, exactly as another
 * node's edge forwards a request (docs/fleet.md, "Between nodes"). So the
 * control plane must reach the nodes' private network, and the call is
 * as private as that network.
 *
 * The bearer token. The tenant's openai_api_token secret (else the fleet
 * default of that name) is decrypted for each call (cp_secrets_release:
 * its 'secret.release' audit row, names and versions only, with the
 * target tenants/SLUG/chat, is the audit of the call; no message content
 * is audited or logged), put in one header in guarded memory, and wiped
 * when the call ends. It is never in a reply, a log line or an error.
 *
 * Replies: the gateway's 200 as it is; its refusals in the API's error
 * shape (400 bad_request, 404/422 invalid_field, 413 body_too_large, 429
 * rate_limited with its Retry-After; anything else, or no answer, 502
 * chat_upstream). Refused before any call, with what to do: 409
 * not_running (no placement, no node, not running), chat_no_openai (the
 * deployed gateway has no enabled openai channel), chat_no_edge (no base
 * domain, or the node advertises no edge address), chat_no_token.
 *
 * Streaming: a thread of its own makes the call and queues what arrives;
 * the connection's thread takes it (claw_http_reply_stream). The queue has
 * a ceiling: the call waits while a slow client catches up, and stops
 * once the client went away. A stream the gateway breaks off after its
 * 200 ends with one event whose data is {"error":{"code":"chat_upstream",
 * ...}}, the shape clawctl chat already reads.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "api/api.h"
#include "audit.h"
#include "claw/buf.h"
#include "claw/httpc.h"
#include "claw/log.h"
#include "cp.h"
#include "domains.h"
#include "errors.h"
#include "preflight.h"
#include "secrets.h"
#include "store/chat.h"

#define ROLES (CP_R_ADMIN | CP_R_OPERATOR | CP_R_TENANT)
#define TOKEN_NAME "openai_api_token"
#define TOKEN_MAX 1024
#define CONNECT_MS 5000
#define CALL_MS 600000 /* a whole turn, streamed or not */
#define REPLY_MAX (4u << 20)
#define QUEUE_MAX (256u << 10) /* stream bytes not taken by the client */
#define ERROR_MAX (64u << 10)  /* a refusal's body */

/* One call to a tenant's gateway: where, as whom, what. */
struct chat_call {
	struct cp_tenant_ref ten;
	char url[CP_DOMAIN_MAX + 64];
	char host[CP_DOMAIN_MAX + 8]; /* "Host: ..." */
	char request_id[96];          /* "X-Request-Id: ..." */
	char *auth;                   /* "Authorization: Bearer ...",
					    * sodium memory */
	const char *headers[6];
};

/* Point cc's header list at its own fields (again after a copy). */
static void headers_set(struct chat_call *cc)
{
	cc->headers[0] = cc->host;
	cc->headers[1] = cc->auth;
	cc->headers[2] = cc->request_id;
	cc->headers[3] = "Content-Type: application/json";
	cc->headers[4] = NULL;
}

static void call_release(struct chat_call *cc)
{
	if (cc->auth)
		sodium_free(cc->auth);
	cc->auth = NULL;
}

/* The bearer header from value[0..len): one line of printable ASCII
 * without spaces (a trailing newline of the file it came from dropped);
 * -1 when it is not usable as a header. */
static int auth_set(struct chat_call *cc, const unsigned char *value,
		    size_t len)
{
	static const char pre[] = "Authorization: Bearer ";

	while (len && (value[len - 1] == '\n' || value[len - 1] == '\r'))
		len--;
	if (!len || len > TOKEN_MAX)
		return -1;
	for (size_t i = 0; i < len; i++)
		if (value[i] <= ' ' || value[i] >= 0x7f)
			return -1;
	cc->auth = sodium_malloc(sizeof(pre) + len);
	if (!cc->auth)
		return -1;
	memcpy(cc->auth, pre, sizeof(pre) - 1);
	memcpy(cc->auth + sizeof(pre) - 1, value, len);
	cc->auth[sizeof(pre) - 1 + len] = '\0';
	return 0;
}

struct token_tx {
	struct chat_call *cc;
	int found; /* 1: set, -1: set but not usable */
	char target[CP_SLUG_MAX + 24];
	struct cp_ctx *ctx;
	struct claw_http_req *req;
	const struct cp_auth *auth;
};

/* Decrypt the tenant's secrets (audited), keep the token's header. */
static enum claw_rc token_tx(PGconn *conn, void *cls)
{
	struct token_tx *t = cls;
	struct cp_secret_bundle *b = NULL;
	struct cp_audit_entry a;
	enum claw_rc rc;

	call_release(t->cc);
	t->found = 0;
	cp_audit_prepare(&a, t->req, t->auth, "secret.release", t->target,
			 t->cc->ten.id);
	rc = cp_secrets_release(t->ctx, conn, t->cc->ten.id, &a, &b);
	if (rc)
		return rc;
	for (size_t i = 0; i < b->n && !t->found; i++)
		if (!strcmp(b->items[i].name, TOKEN_NAME))
			t->found = auth_set(t->cc, b->items[i].value,
					    b->items[i].len)
				? -1
				: 1;
	cp_secret_bundle_free(b);
	return CLAW_OK;
}

/* Whether the deployed gateway config's channels.openai (JSON text, ""
 * when absent) is an enabled channel, as the gateway reads it. */
static bool openai_enabled(const char *text)
{
	json_t *o = *text ? json_loads(text, 0, NULL) : NULL;
	bool on = json_is_object(o) &&
		!json_is_false(json_object_get(o, "enabled"));

	json_decref(o);
	return on;
}

/* Where the tenant's gateway is: cc's url (path appended) and Host
 * header. Replies and returns -1 when it cannot be reached. */
static int target_find(struct claw_http_req *req, struct cp_ctx *ctx,
		       struct chat_call *cc, const char *path)
{
	const char *base = ctx->cfg.fleet.base_domain;
	char host[CP_DOMAIN_MAX + 1];
	PGresult *row = NULL;
	enum claw_rc rc;
	int ret = -1;
	PGconn *c;

	if (!cp_public_host(cc->ten.slug, base, host, sizeof(host))) {
		cp_reply_error(req, CP_E_CHAT_NO_EDGE,
			       "the control plane has no --base-domain: "
			       "tenants have no public host to reach");
		return -1;
	}
	c = claw_db_acquire(ctx->db);
	rc = c ? cp_store_chat_target(c, cc->ten.id, &row) : CLAW_ERR_IO;
	if (c)
		claw_db_release(ctx->db, c);
	if (rc == CLAW_OK &&
	    (!*PQgetvalue(row, 0, CP_CHC_NODE) ||
	     strcmp(PQgetvalue(row, 0, CP_CHC_STATE), "running") ||
	     strcmp(PQgetvalue(row, 0, CP_CHC_NODE_STATUS), "ready")))
		rc = CLAW_ERR_NOT_FOUND;
	if (rc == CLAW_ERR_NOT_FOUND)
		cp_reply_error(req, CP_E_NOT_RUNNING,
			       "tenant '%s' runs on no node now (not "
			       "deployed, stopped, suspended, pending or its "
			       "node is down); deploy or start it first",
			       cc->ten.slug);
	else if (rc)
		cp_reply_rc(req, rc);
	else if (!openai_enabled(PQgetvalue(row, 0, CP_CHC_OPENAI)))
		cp_reply_error(req, CP_E_CHAT_NO_OPENAI,
			       "tenant '%s' is deployed without the openai "
			       "channel; deploy it with "
			       "gateway_config.channels.openai enabled",
			       cc->ten.slug);
	else if (!*PQgetvalue(row, 0, CP_CHC_EDGE))
		cp_reply_error(req, CP_E_CHAT_NO_EDGE,
			       "the node that runs tenant '%s' advertises no "
			       "edge address; start its node agent with "
			       "--edge-advertise",
			       cc->ten.slug);
	else {
		snprintf(cc->url, sizeof(cc->url), "http://%s%s",
			 PQgetvalue(row, 0, CP_CHC_EDGE), path);
		snprintf(cc->host, sizeof(cc->host), "Host: %s", host);
		ret = 0; /* found: no reply sent */
	}
	PQclear(row);
	return ret;
}

/* Everything before a call: the caller, the tenant, the request body
 * (body NULL: none; else a JSON object into *body, the caller's), where
 * it runs and the bearer token. Replies and returns -1 on a refusal; on 0
 * the caller releases cc with call_release. */
static int call_prepare(struct claw_http_req *req, struct cp_ctx *ctx,
			struct chat_call *cc, const char *path, json_t **body)
{
	struct cp_auth auth;
	struct token_tx t = {.ctx = ctx, .req = req, .auth = &auth, .cc = cc};
	const char *fallback;
	size_t flen = 0;
	enum claw_rc rc;

	memset(cc, 0, sizeof(*cc));
	if (cp_auth_require(req, ctx, ROLES, &auth) ||
	    cp_tenant_require(req, ctx, &auth, "t", 0, &cc->ten) ||
	    (body &&
	     claw_http_parse_json_opt(req, NULL, CLAW_HTTP_JSON_NONEMPTY,
				      body)) ||
	    target_find(req, ctx, cc, path)) {
		if (body) {
			json_decref(*body);
			*body = NULL;
		}
		return -1;
	}
	snprintf(t.target, sizeof(t.target), "tenants/%s/chat", cc->ten.slug);
	rc = claw_db_tx(ctx->db, CLAW_DB_READ_COMMITTED, token_tx, &t);
	if (rc) {
		call_release(cc);
		cp_reply_rc(req, rc);
		return -1; /* *body stays the caller's */
	}
	fallback = t.found ? NULL : cp_default_secret(TOKEN_NAME, &flen);
	if (fallback)
		t.found = auth_set(cc, (const unsigned char *)fallback, flen)
			? -1
			: 1;
	if (t.found != 1) {
		call_release(cc);
		cp_reply_error(req, CP_E_CHAT_NO_TOKEN,
			       t.found ? "tenant '%s''s openai_api_token is "
					 "not one line without spaces; set it "
					 "again and redeploy"
				       : "tenant '%s' has no openai_api_token "
					 "secret; set it and redeploy",
			       cc->ten.slug);
		return -1;
	}
	snprintf(cc->request_id, sizeof(cc->request_id), "X-Request-Id: %s",
		 claw_http_request_id(req));
	headers_set(cc);
	return 0;
}

static void call_req(const struct chat_call *cc, struct claw_httpc_req *hr,
		     const char *body, size_t len)
{
	memset(hr, 0, sizeof(*hr));
	hr->method = body ? "POST" : "GET";
	hr->url = cc->url;
	hr->headers = cc->headers;
	hr->body = body;
	hr->body_len = len;
	hr->timeout_ms = CALL_MS;
	hr->connect_timeout_ms = CONNECT_MS;
	hr->max_response = REPLY_MAX;
}

/* The gateway's error.message (OpenAI's shape) into out, or "". */
static void upstream_message(const char *body, size_t len, char *out,
			     size_t outlen)
{
	json_t *j = len ? json_loadb(body, len, 0, NULL) : NULL;
	const char *m = json_string_value(
		json_object_get(json_object_get(j, "error"), "message"));

	snprintf(out, outlen, "%s", m ? m : "");
	json_decref(j);
}

/* A refusal or failure of the gateway (status 0: no answer, error the
 * transport's reason) in the API's error shape. */
static void reply_upstream_error(struct claw_http_req *req, long status,
				 const char *body, size_t len,
				 const char *retry_after, const char *error)
{
	char msg[512];
	enum claw_http_error e = CLAW_HE__COUNT;

	upstream_message(body, len, msg, sizeof(msg));
	if (status == 400)
		e = CLAW_HE_BAD_REQUEST;
	else if (status == 404 || status == 422)
		e = CLAW_HE_INVALID_FIELD;
	else if (status == 413)
		e = CLAW_HE_BODY_TOO_LARGE;
	else if (status == 429)
		e = CLAW_HE_RATE_LIMITED;
	if (e != CLAW_HE__COUNT && *msg) {
		if (retry_after && *retry_after)
			claw_http_add_header(req, "Retry-After", retry_after);
		claw_http_reply_def(req, claw_http_error_def(e),
				    "the tenant's gateway: %s", msg);
	} else if (!status)
		cp_reply_error(req, CP_E_CHAT_UPSTREAM,
			       "the tenant's edge was not reached: %s", error);
	else if (status == 401 || status == 403)
		cp_reply_error(
			req, CP_E_CHAT_UPSTREAM,
			"the tenant's gateway refused its "
			"openai_api_token (HTTP %ld): the secret changed "
			"since its last deploy? redeploy it",
			status);
	else
		cp_reply_error(req, CP_E_CHAT_UPSTREAM,
			       "the tenant's gateway answered HTTP %ld%s%s",
			       status, *msg ? ": " : "", msg);
}

/* One call, its answer collected whole. */
static void call_whole(struct claw_http_req *req, struct chat_call *cc,
		       const char *body, size_t len)
{
	struct claw_httpc_req hr;
	struct claw_httpc_resp resp;
	char ra[32] = "";
	enum claw_rc rc;

	call_req(cc, &hr, body, len);
	rc = claw_httpc_do(&hr, &resp);
	call_release(cc);
	if (rc == CLAW_OK && resp.status == 200)
		claw_http_reply_raw(req, 200, "application/json",
				    resp.body.data ? resp.body.data : "",
				    resp.body.len);
	else {
		claw_httpc_resp_header(&resp, "Retry-After", ra, sizeof(ra));
		reply_upstream_error(req, rc ? 0 : resp.status, resp.body.data,
				     resp.body.len, ra,
				     rc == CLAW_ERR_TOO_LARGE
					     ? "reply too large"
					     : resp.error);
	}
	claw_httpc_resp_release(&resp);
}

/* ---- streams */
struct relay {
	pthread_mutex_t mu;
	pthread_cond_t cond;
	int refs; /* the call's thread, the handler (then the stream) */
	struct chat_call cc;
	char *body;
	size_t body_len;
	struct claw_httpc_resp resp;
	long status;   /* known once started */
	bool started;  /* the status is known (first bytes, or the end) */
	bool finished; /* the call returned */
	bool gone;     /* the client went away */
	bool failed;   /* the call broke off after its 200 */
	enum claw_rc rc;
	struct claw_buf queue; /* bytes for the client, or the refusal */
};

static void relay_unref(struct relay *r)
{
	bool last;

	pthread_mutex_lock(&r->mu);
	last = --r->refs == 0;
	r->gone = true;
	pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&r->mu);
	if (!last)
		return;
	call_release(&r->cc);
	claw_httpc_resp_release(&r->resp);
	claw_buf_release(&r->queue);
	free(r->body);
	pthread_cond_destroy(&r->cond);
	pthread_mutex_destroy(&r->mu);
	free(r);
}

/* The status code of the response whose headers arrived so far. */
static long head_status(const struct claw_buf *h)
{
	long s = 0;

	if (h->len > 9 && !strncmp(h->data, "HTTP/", 5)) {
		const char *sp = strchr(h->data, ' ');

		if (sp)
			s = strtol(sp + 1, NULL, 10);
	}
	return s;
}

static int relay_data(const char *data, size_t len, void *cls)
{
	struct relay *r = cls;
	int stop = 0;

	pthread_mutex_lock(&r->mu);
	if (!r->started) {
		r->status = head_status(&r->resp.headers);
		r->started = true;
		r->queue.max = r->status == 200 ? QUEUE_MAX : ERROR_MAX;
		pthread_cond_broadcast(&r->cond);
	}
	while (r->status == 200 && !r->gone && r->queue.len + len > QUEUE_MAX)
		pthread_cond_wait(&r->cond, &r->mu);
	if (r->gone || claw_buf_append(&r->queue, data, len))
		stop = 1;
	pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&r->mu);
	return stop;
}

static void *relay_main(void *cls)
{
	struct relay *r = cls;
	struct claw_httpc_req hr;
	enum claw_rc rc;

	call_req(&r->cc, &hr, r->body, r->body_len);
	hr.on_data = relay_data;
	hr.cls = r;
	rc = claw_httpc_do(&hr, &r->resp);
	pthread_mutex_lock(&r->mu);
	call_release(&r->cc); /* the token is not needed any more */
	r->rc = rc;
	if (!r->started) {
		r->status = rc ? 0 : r->resp.status;
		r->started = true;
	}
	r->failed = r->status == 200 && rc != CLAW_OK && !r->gone;
	r->finished = true;
	pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&r->mu);
	relay_unref(r);
	return NULL;
}

static ssize_t relay_take(void *cls, char *out, size_t max)
{
	static const char broke[] =
		"data: {\"error\":{\"code\":\"chat_upstream\",\"message\":"
		"\"the tenant's gateway broke off the stream\"}}\n\n";
	struct relay *r = cls;
	struct timespec until;
	ssize_t n = 0;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 1;
	pthread_mutex_lock(&r->mu);
	if (!r->queue.len && !r->finished)
		pthread_cond_timedwait(&r->cond, &r->mu, &until);
	if (!r->queue.len && r->finished && r->failed) {
		r->failed = false;
		claw_buf_puts(&r->queue, broke);
	}
	if (r->queue.len) {
		n = (ssize_t)claw_buf_take(&r->queue, out, max);
		pthread_cond_broadcast(&r->cond);
	} else if (r->finished) {
		n = -1;
	}
	pthread_mutex_unlock(&r->mu);
	return n;
}

static void relay_free(void *cls)
{
	relay_unref(cls);
}

/* A relay of one reference for a copy of body, cc's token moved into it;
 * NULL when out of memory (cc keeps its token then). */
static struct relay *relay_new(struct chat_call *cc, const char *body,
			       size_t len)
{
	struct relay *r = calloc(1, sizeof(*r));

	if (r && !(r->body = malloc(len + 1))) {
		free(r);
		r = NULL;
	}
	if (!r)
		return NULL;
	memcpy(r->body, body, len);
	r->body_len = len;
	r->cc = *cc;
	cc->auth = NULL; /* the relay's now */
	headers_set(&r->cc);
	claw_buf_init(&r->queue, QUEUE_MAX);
	pthread_mutex_init(&r->mu, NULL);
	pthread_cond_init(&r->cond, NULL);
	r->refs = 1;
	return r;
}

/* One streamed call: its 200 relayed as it comes, anything else as an
 * error once the call ended. Takes cc's token. */
static void call_stream(struct claw_http_req *req, struct chat_call *cc,
			const char *body, size_t len)
{
	struct relay *r = relay_new(cc, body, len);
	pthread_attr_t attr;
	pthread_t th;
	char ra[32] = "";
	int err = 1;

	if (r) {
		r->refs = 2;
		pthread_attr_init(&attr);
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		err = pthread_create(&th, &attr, relay_main, r);
		pthread_attr_destroy(&attr);
		if (err)
			r->refs = 1;
	}
	if (err) {
		call_release(cc);
		if (r)
			relay_unref(r);
		claw_http_reply_std(req, CLAW_HE_INTERNAL, NULL);
		return;
	}
	pthread_mutex_lock(&r->mu);
	while (!r->started)
		pthread_cond_wait(&r->cond, &r->mu);
	if (r->status == 200) {
		pthread_mutex_unlock(&r->mu);
		claw_http_add_header(req, "Cache-Control", "no-cache");
		claw_http_reply_stream(req, 200, "text/event-stream",
				       relay_take, r, relay_free);
		return;
	}
	while (!r->finished)
		pthread_cond_wait(&r->cond, &r->mu);
	pthread_mutex_unlock(&r->mu);
	claw_httpc_resp_header(&r->resp, "Retry-After", ra, sizeof(ra));
	reply_upstream_error(req, r->status, r->queue.data, r->queue.len, ra,
			     r->resp.error);
	relay_unref(r);
}

/* ---- the routes */
static void models_get(struct claw_http_req *req, void *vctx)
{
	struct chat_call cc;

	if (call_prepare(req, vctx, &cc, "/v1/models", NULL))
		return;
	call_whole(req, &cc, NULL, 0);
}

static void completions_post(struct claw_http_req *req, void *vctx)
{
	struct chat_call cc;
	const char *body;
	size_t len;
	json_t *j = NULL;
	bool stream;
	int refused;

	refused = call_prepare(req, vctx, &cc, "/v1/chat/completions", &j);
	stream = json_is_true(json_object_get(j, "stream"));
	json_decref(j);
	if (refused)
		return;
	body = claw_http_body(req, &len);
	if (stream)
		call_stream(req, &cc, body, len);
	else
		call_whole(req, &cc, body, len);
}

const struct claw_route cp_routes_chat[] = {
	{"GET", "/v1/tenants/{t}/chat/models", models_get, "chat.models"},
	{"POST", "/v1/tenants/{t}/chat/completions", completions_post,
	 "chat.completions"},
};
CP_ROUTES_COUNT(chat);
