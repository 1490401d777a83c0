/*
 * mcp.c - the MCP client core: requests matched to answers by id, the
 * initialize handshake with version negotiation, tools/list paging, tool
 * calls with time-outs and notifications/cancelled, reconnection with
 * backoff, and the mapping of tool results to text; see mcp.h. The
 * server's own requests: mcp_serve.c. Transports: mcp_stdio.c,
 * mcp_http.c.
 *
 * A pending request lives on its caller's stack, in m->pending while it
 * waits; transports and answering threads find it by id under m->mu. Its
 * deadline moves on by the time a user spent answering an elicitation
 * for it, and it does not time out while one is being asked.
 */
#include "mcp_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "claw/log.h"
#include "jsonrpc.h"
#include "oauth.h"
#include "llm.h"

#define BACKOFF_FIRST_MS 1000
#define BACKOFF_MAX_MS 60000
#define MAX_PAGES 100

static const char *const versions[] = {"2025-11-25", "2025-06-18", "2025-03-26",
				       NULL};

const char *rt_mcp_name(const struct rt_mcp *m)
{
	return m->cfg->name;
}

enum claw_rc mcp_send_json(struct rt_mcp *m, json_t *msg, json_int_t id,
			   long timeout_ms, char *err, size_t errlen)
{
	char *s = json_dumps(msg, JSON_COMPACT);
	enum claw_rc rc;
	if (!s) {
		snprintf(err, errlen, "out of memory");
		return CLAW_ERR_NOMEM;
	}
	if (m->cfg->url)
		rc = mcp_http_send(m, s, strlen(s), id, timeout_ms, err,
				   errlen);
	else
		rc = mcp_stdio_send(m, s, strlen(s), err, errlen);
	free(s);
	return rc;
}

static void notify(struct rt_mcp *m, const char *method, json_t *params_steal)
{
	char err[200];
	json_t *msg =
		json_pack("{s:s, s:s}", "jsonrpc", "2.0", "method", method);
	if (params_steal)
		json_object_set_new(msg, "params", params_steal);
	if (mcp_send_json(m, msg, 0, m->cfg->timeout_ms, err, sizeof(err)))
		log_warn("mcp %s: unable to send %s: %s", m->cfg->name, method,
			 err);
	json_decref(msg);
}

static void unlink_pending(struct rt_mcp *m, struct mcp_pending *p)
{
	struct mcp_pending **pp = &m->pending;
	while (*pp && *pp != p)
		pp = &(*pp)->next;
	if (*pp)
		*pp = p->next;
}

bool mcp_pending_done(struct rt_mcp *m, json_int_t id)
{
	bool done = true;
	pthread_mutex_lock(&m->mu);
	for (struct mcp_pending *p = m->pending; p; p = p->next)
		if (p->id == id)
			done = p->done;
	pthread_mutex_unlock(&m->mu);
	return done;
}

void mcp_pending_fail(struct rt_mcp *m, json_int_t id, enum claw_rc rc,
		      const char *why)
{
	pthread_mutex_lock(&m->mu);
	for (struct mcp_pending *p = m->pending; p; p = p->next)
		if (p->id == id && !p->done) {
			snprintf(p->error, sizeof(p->error), "%s", why);
			p->rc = rc;
			p->done = true;
		}
	pthread_cond_broadcast(&m->cond);
	pthread_mutex_unlock(&m->mu);
}

/* Wait on m->cond until p is answered or its deadline passes (m->mu is
 * held); while a user is asked for it, no deadline. */
static void wait_answer(struct rt_mcp *m, const struct mcp_pending *p)
{
	while (!p->done) {
		long long left = p->asking ? 1000 : p->deadline - rt_now_ms();
		if (left <= 0)
			break;
		rt_cond_wait_ms(&m->cond, &m->mu, left);
	}
}

/* The result of an answer msg to method (new reference in *result).
 * CLAW_ERR_PROTO for a malformed answer or a result that is not an
 * object, CLAW_ERR_INVALID for a JSON-RPC error answer. */
static enum claw_rc answer_result(json_t *msg, const char *method,
				  json_t **result, char *err, size_t errlen)
{
	struct rt_jsonrpc_msg jm;
	char why[200];
	enum claw_rc rc = rt_jsonrpc_classify(msg, &jm, why, sizeof(why));
	if (rc) {
		snprintf(err, errlen, "%s", why);
		return rc;
	}
	if (jm.kind == RT_JSONRPC_ERROR) {
		snprintf(err, errlen, "the server answered error %ld: %.150s",
			 jm.error_code, jm.error_message);
		rc = CLAW_ERR_INVALID;
	} else if (!json_is_object(jm.result)) {
		snprintf(err, errlen, "the result of %s is not an object",
			 method);
		rc = CLAW_ERR_PROTO;
	} else {
		*result = json_incref(jm.result);
	}
	rt_jsonrpc_release(&jm);
	return rc;
}

/* Send a request and wait for its answer's result (new reference in
 * *result). call_ctx: for a tool call, what the elicit callback gets.
 * CLAW_OK, or with err set: the transport's code when sending failed,
 * CLAW_ERR_TIMEOUT (then notifications/cancelled is sent), the
 * transport's code (CLAW_ERR_IO when unknown) when it failed while
 * waiting, or answer_result's. */
static enum claw_rc request(struct rt_mcp *m, const char *method,
			    json_t *params_steal, long timeout_ms,
			    void *call_ctx, json_t **result, char *err,
			    size_t errlen)
{
	struct mcp_pending p;
	memset(&p, 0, sizeof(p));
	*result = NULL;
	p.tool_call = strcmp(method, "tools/call") == 0;
	p.call_ctx = call_ctx;
	p.deadline = rt_now_ms() + timeout_ms;
	pthread_mutex_lock(&m->mu);
	p.id = ++m->next_id;
	p.next = m->pending;
	m->pending = &p;
	pthread_mutex_unlock(&m->mu);

	json_t *msg = json_pack("{s:s, s:I, s:s}", "jsonrpc", "2.0", "id", p.id,
				"method", method);
	json_object_set_new(msg, "params",
			    params_steal ? params_steal : json_object());
	enum claw_rc rc = mcp_send_json(m, msg, p.id, timeout_ms, err, errlen);
	json_decref(msg);

	pthread_mutex_lock(&m->mu);
	if (!rc)
		wait_answer(m, &p);
	/* An elicitation of this call still asking uses call_ctx: wait. */
	while (p.asking)
		pthread_cond_wait(&m->cond, &m->mu);
	unlink_pending(m, &p);
	long long deadline = p.deadline;
	pthread_mutex_unlock(&m->mu);
	if (rc && rt_now_ms() < deadline)
		goto out;
	if (!p.done || (p.error[0] && p.rc == CLAW_ERR_TIMEOUT)) {
		snprintf(err, errlen, "%s timed out after %ld ms", method,
			 timeout_ms);
		if (strcmp(method, "initialize") != 0)
			notify(m, "notifications/cancelled",
			       json_pack("{s:I, s:s}", "requestId", p.id,
					 "reason", "timed out"));
		rc = CLAW_ERR_TIMEOUT;
		goto out;
	}
	if (p.error[0]) {
		snprintf(err, errlen, "%s", p.error);
		rc = p.rc ? p.rc : CLAW_ERR_IO;
		goto out;
	}
	rc = answer_result(p.msg, method, result, err, errlen);
out:
	json_decref(p.msg);
	return rc;
}

static void dispatch_one(struct rt_mcp *m, json_t *v, json_int_t stream_req)
{
	struct rt_jsonrpc_msg jm;
	char why[200];
	if (rt_jsonrpc_classify(v, &jm, why, sizeof(why))) {
		log_warn("mcp %s sent a malformed message: %s", m->cfg->name,
			 why);
		return;
	}
	switch (jm.kind) {
	case RT_JSONRPC_RESULT:
	case RT_JSONRPC_ERROR: {
		bool found = false;
		pthread_mutex_lock(&m->mu);
		for (struct mcp_pending *p = m->pending; p; p = p->next)
			if (json_is_integer(jm.id) && !p->done &&
			    p->id == json_integer_value(jm.id)) {
				p->msg = json_incref(jm.root);
				p->done = found = true;
			}
		pthread_cond_broadcast(&m->cond);
		pthread_mutex_unlock(&m->mu);
		if (!found)
			log_debug("mcp %s: an answer for no pending request",
				  m->cfg->name);
		break;
	}
	case RT_JSONRPC_REQUEST:
		mcp_serve_request(m, jm.id, jm.method, jm.params, stream_req);
		break;
	case RT_JSONRPC_NOTIFICATION:
		if (strcmp(jm.method, "notifications/tools/list_changed") ==
		    0) {
			pthread_mutex_lock(&m->mu);
			m->tools_stale = true;
			pthread_mutex_unlock(&m->mu);
		} else if (strcmp(jm.method, "notifications/message") == 0) {
			char *s = json_dumps(jm.params, JSON_COMPACT);
			log_info("mcp %s says: %.500s", m->cfg->name,
				 s ? s : "");
			free(s);
		}
		break;
	}
	rt_jsonrpc_release(&jm);
}

void mcp_dispatch(struct rt_mcp *m, const char *data, size_t len,
		  json_int_t stream_req)
{
	json_error_t jerr;
	json_t *v = json_loadb(data, len, 0, &jerr), *x;
	size_t i;
	if (!v) {
		log_warn("mcp %s sent something that is not JSON: %s",
			 m->cfg->name, jerr.text);
		return;
	}
	if (json_is_array(v)) {
		json_array_foreach(v, i, x)
			dispatch_one(m, x, stream_req);
	} else {
		dispatch_one(m, v, stream_req);
	}
	json_decref(v);
}

void mcp_transport_failed(struct rt_mcp *m, const char *why)
{
	pthread_mutex_lock(&m->mu);
	if (!m->dead && m->up && !atomic_load(&m->stop)) {
		/* A crash: the next start waits its backoff, which grows
		 * unless the server had been running a good while. */
		long long now = rt_now_ms();
		if (now - m->up_since_ms > 30000)
			m->backoff_ms = BACKOFF_FIRST_MS;
		m->next_attempt_ms = now + m->backoff_ms;
		log_warn("mcp %s: %s; restarting in %lld ms", m->cfg->name, why,
			 m->backoff_ms);
		m->backoff_ms = m->backoff_ms * 2 > BACKOFF_MAX_MS
			? BACKOFF_MAX_MS
			: m->backoff_ms * 2;
	}
	m->dead = true;
	m->up = false;
	for (struct mcp_pending *p = m->pending; p; p = p->next)
		if (!p->done) {
			snprintf(p->error, sizeof(p->error), "%s", why);
			p->rc = CLAW_ERR_IO;
			p->done = true;
		}
	pthread_cond_broadcast(&m->cond);
	pthread_mutex_unlock(&m->mu);
}

/* tools/list, every page, into m->tools. request's code, or
 * CLAW_ERR_PROTO when a page has no tools array. */
static enum claw_rc tools_refresh(struct rt_mcp *m, char *err, size_t errlen)
{
	json_t *all = json_array(), *res = NULL;
	char *cursor = NULL;
	enum claw_rc rc;
	/* A list_changed that comes while we list makes the next use list
	 * again. */
	pthread_mutex_lock(&m->mu);
	m->tools_stale = false;
	pthread_mutex_unlock(&m->mu);
	for (int page = 0; page < MAX_PAGES; page++) {
		json_t *params = cursor ? json_pack("{s:s}", "cursor", cursor)
					: json_object();
		free(cursor);
		cursor = NULL;
		rc = request(m, "tools/list", params, m->cfg->timeout_ms, NULL,
			     &res, err, errlen);
		if (rc)
			goto out;
		json_t *tools = json_object_get(res, "tools");
		if (!json_is_array(tools)) {
			snprintf(err, errlen, "tools/list has no tools array");
			rc = CLAW_ERR_PROTO;
			goto out;
		}
		json_array_extend(all, tools);
		const char *next =
			json_string_value(json_object_get(res, "nextCursor"));
		if (next && *next)
			cursor = strdup(next);
		json_decref(res);
		res = NULL;
		if (!cursor)
			break;
	}
	pthread_mutex_lock(&m->mu);
	json_decref(m->tools);
	m->tools = json_incref(all);
	pthread_mutex_unlock(&m->mu);
	rc = CLAW_OK;
out:
	if (rc) {
		pthread_mutex_lock(&m->mu);
		m->tools_stale = true;
		pthread_mutex_unlock(&m->mu);
	}
	free(cursor);
	json_decref(res);
	json_decref(all);
	return rc;
}

static void transport_down(struct rt_mcp *m)
{
	if (m->cfg->url)
		mcp_http_disconnect(m);
	else
		mcp_stdio_disconnect(m);
}

/* Start the transport, initialize, open the HTTP listener, list the
 * tools. The failing step's code; CLAW_ERR_PROTO when the server's
 * protocol version is not one we know. */
static enum claw_rc handshake(struct rt_mcp *m, char *err, size_t errlen)
{
	json_t *res = NULL;
	enum claw_rc rc;
	if (!m->cfg->url && (rc = mcp_stdio_connect(m, err, errlen)))
		return rc;
	json_t *params = json_pack(
		"{s:s, s:{s:{s:{}}}, s:{s:s, s:s}}", "protocolVersion",
		RT_MCP_VERSION_LATEST, "capabilities", "elicitation", "form",
		"clientInfo", "name", "claw-runtime", "version", "0.1.0");
	rc = request(m, "initialize", params, m->cfg->timeout_ms, NULL, &res,
		     err, errlen);
	if (rc)
		return rc;
	const char *v =
		json_string_value(json_object_get(res, "protocolVersion"));
	const char *const *ok = versions;
	while (v && *ok && strcmp(*ok, v) != 0)
		ok++;
	if (!v || !*ok) {
		snprintf(err, errlen,
			 "the server speaks protocol version "
			 "'%.32s', which this client does not support",
			 v ? v : "(none)");
		json_decref(res);
		return CLAW_ERR_PROTO;
	}
	pthread_mutex_lock(&m->mu);
	snprintf(m->version, sizeof(m->version), "%s", v);
	pthread_mutex_unlock(&m->mu);
	json_decref(res);
	notify(m, "notifications/initialized", NULL);
	/* The session is initialized: the GET stream now, before any other
	 * request, so that the server can reach us there at once. */
	if (m->cfg->url && m->listen)
		mcp_http_start_listen(m);
	rc = tools_refresh(m, err, errlen);
	if (rc)
		return rc;
	pthread_mutex_lock(&m->mu);
	m->up = true;
	m->dead = false;
	m->up_since_ms = rt_now_ms();
	pthread_mutex_unlock(&m->mu);
	log_info("mcp %s: connected (protocol %s, %zu tools)", m->cfg->name,
		 m->version, json_array_size(m->tools));
	return CLAW_OK;
}

/* Connect (or reconnect after a failure, with backoff). handshake's code,
 * or CLAW_ERR_IO while the server is down and its backoff not over. */
static enum claw_rc ensure_up(struct rt_mcp *m, char *err, size_t errlen)
{
	enum claw_rc rc = CLAW_OK;
	pthread_mutex_lock(&m->conn_mu);
	pthread_mutex_lock(&m->mu);
	bool up = m->up && !m->dead;
	long long now = rt_now_ms(), next = m->next_attempt_ms;
	pthread_mutex_unlock(&m->mu);
	if (up)
		goto out;
	if (now < next) {
		snprintf(err, errlen,
			 "the server is down; next attempt in "
			 "%lld ms",
			 next - now);
		rc = CLAW_ERR_IO;
		goto out;
	}
	transport_down(m);
	m->up_since_ms = 0;
	pthread_mutex_lock(&m->mu);
	m->version[0] = '\0';
	pthread_mutex_unlock(&m->mu);
	rc = handshake(m, err, errlen);
	if (rc) {
		transport_down(m);
		pthread_mutex_lock(&m->mu);
		m->next_attempt_ms = rt_now_ms() + m->backoff_ms;
		log_warn("mcp %s: %s; next attempt in %lld ms", m->cfg->name,
			 err, m->backoff_ms);
		m->backoff_ms = m->backoff_ms * 2 > BACKOFF_MAX_MS
			? BACKOFF_MAX_MS
			: m->backoff_ms * 2;
		pthread_mutex_unlock(&m->mu);
	}
out:
	pthread_mutex_unlock(&m->conn_mu);
	return rc;
}

enum claw_rc rt_mcp_start(const struct rt_mcp_server_cfg *cfg,
			  const struct rt_mcp_net *net, struct rt_mcp **out,
			  char *err, size_t errlen)
{
	struct rt_mcp *m = calloc(1, sizeof(*m));
	if (!m) {
		snprintf(err, errlen, "out of memory");
		return CLAW_ERR_NOMEM;
	}
	m->cfg = cfg;
	m->net = *net;
	if (m->net.oauth)
		rt_oauth_client_ref(m->net.oauth);
	m->listen = true;
	m->refs = 1;
	m->pid = -1;
	m->in_fd = m->out_fd = m->err_fd = -1;
	m->backoff_ms = BACKOFF_FIRST_MS;
	m->timeout_ms = cfg->timeout_ms;
	pthread_mutex_init(&m->mu, NULL);
	pthread_mutex_init(&m->conn_mu, NULL);
	pthread_mutex_init(&m->write_mu, NULL);
	pthread_cond_init(&m->cond, NULL);
	m->tools = json_array();
	if (mcp_http_copy_cfg(m)) {
		mcp_unref(m);
		snprintf(err, errlen, "out of memory");
		return CLAW_ERR_NOMEM;
	}
	*out = m;
	ensure_up(m, err, errlen); /* a server that is down is retried later */
	return CLAW_OK;
}

void mcp_unref(struct rt_mcp *m)
{
	if (atomic_fetch_sub(&m->refs, 1) != 1)
		return;
	json_decref(m->tools);
	rt_oauth_client_unref(m->net.oauth);
	mcp_http_free_cfg(m);
	pthread_mutex_destroy(&m->mu);
	pthread_mutex_destroy(&m->conn_mu);
	pthread_mutex_destroy(&m->write_mu);
	pthread_cond_destroy(&m->cond);
	free(m);
}

void rt_mcp_stop(struct rt_mcp *m)
{
	if (!m)
		return;
	atomic_store(&m->stop, true);
	mcp_serve_drain(m);
	pthread_mutex_lock(&m->conn_mu);
	transport_down(m);
	pthread_mutex_unlock(&m->conn_mu);
	mcp_unref(m);
}

void rt_mcp_auth_status(struct rt_mcp *m, char *out, size_t outlen)
{
	out[0] = '\0';
	if (m->net.oauth)
		rt_oauth_status(m->net.oauth, out, outlen);
}

bool rt_mcp_ready(struct rt_mcp *m)
{
	pthread_mutex_lock(&m->mu);
	bool up = m->up && !m->dead;
	pthread_mutex_unlock(&m->mu);
	return up;
}

json_t *rt_mcp_tools(struct rt_mcp *m)
{
	char err[300];
	if (ensure_up(m, err, sizeof(err)) == CLAW_OK) {
		pthread_mutex_lock(&m->mu);
		bool stale = m->tools_stale;
		pthread_mutex_unlock(&m->mu);
		if (stale && tools_refresh(m, err, sizeof(err)))
			log_warn("mcp %s: %s", m->cfg->name, err);
	}
	pthread_mutex_lock(&m->mu);
	json_t *copy = json_deep_copy(m->tools);
	pthread_mutex_unlock(&m->mu);
	return copy;
}

enum claw_rc rt_mcp_call_tool_ctx(struct rt_mcp *m, void *call_ctx,
				  const char *tool, json_t *args,
				  long timeout_ms, json_t **result, char *err,
				  size_t errlen)
{
	*result = NULL;
	enum claw_rc rc = ensure_up(m, err, errlen);
	if (rc)
		return rc;
	if (timeout_ms > m->cfg->timeout_ms)
		timeout_ms = m->cfg->timeout_ms;
	return request(m, "tools/call",
		       json_pack("{s:s, s:o}", "name", tool, "arguments",
				 args ? json_incref(args) : json_object()),
		       timeout_ms, call_ctx, result, err, errlen);
}

enum claw_rc rt_mcp_call_tool(struct rt_mcp *m, const char *tool, json_t *args,
			      long timeout_ms, json_t **result, char *err,
			      size_t errlen)
{
	return rt_mcp_call_tool_ctx(m, NULL, tool, args, timeout_ms, result,
				    err, errlen);
}

char *rt_mcp_result_text(json_t *result, size_t max, bool *is_error)
{
	struct claw_buf b;
	json_t *c;
	size_t i;
	claw_buf_init(&b, 0);
	*is_error = json_is_true(json_object_get(result, "isError"));
	json_array_foreach(json_object_get(result, "content"), i, c) {
		const char *type =
			json_string_value(json_object_get(c, "type"));
		const char *mime =
			json_string_value(json_object_get(c, "mimeType"));
		if (b.len)
			claw_buf_puts(&b, "\n");
		if (!type) {
			claw_buf_puts(&b, "[content without a type]");
		} else if (strcmp(type, "text") == 0) {
			const char *t =
				json_string_value(json_object_get(c, "text"));
			claw_buf_puts(&b, t ? t : "");
		} else if (strcmp(type, "image") == 0 ||
			   strcmp(type, "audio") == 0) {
			json_t *d = json_object_get(c, "data");
			claw_buf_printf(&b, "[%s: %s, %zu bytes base64]", type,
					mime ? mime : "unknown type",
					json_string_length(d));
		} else if (strcmp(type, "resource") == 0) {
			json_t *r = json_object_get(c, "resource");
			const char *uri =
				json_string_value(json_object_get(r, "uri"));
			const char *t =
				json_string_value(json_object_get(r, "text"));
			const char *rm = json_string_value(
				json_object_get(r, "mimeType"));
			if (t)
				claw_buf_printf(&b, "[resource %s]\n%s",
						uri ? uri : "", t);
			else
				claw_buf_printf(&b, "[binary resource %s, %s]",
						uri ? uri : "",
						rm ? rm : "unknown type");
		} else if (strcmp(type, "resource_link") == 0) {
			const char *uri =
				json_string_value(json_object_get(c, "uri"));
			const char *name =
				json_string_value(json_object_get(c, "name"));
			claw_buf_printf(&b, "[link %s: %s]", name ? name : "",
					uri ? uri : "");
		} else {
			claw_buf_printf(&b, "[content of type %.32s]", type);
		}
	}
	json_t *sc = json_object_get(result, "structuredContent");
	if (!b.len && sc) {
		char *s = json_dumps(sc, JSON_COMPACT);
		claw_buf_puts(&b, s ? s : "");
		free(s);
	}
	if (b.len > max) {
		size_t total = b.len, keep = rt_utf8_cut(b.data, b.len, max);
		b.len = keep;
		b.data[keep] = '\0';
		claw_buf_printf(&b,
				"\n[cut: the tool result had %zu bytes; "
				"only the first %zu are shown]",
				total, keep);
	}
	return claw_buf_steal(&b);
}
