/*
 * runtime.c - the gateway's side of the runtime message API
 * (docs/contracts.md): POST /v1/messages with one envelope, read
 * {"reply": ...}, or the server-sent events variant (delta pieces, then
 * done) for channels that show a reply as it is written. The envelope id
 * doubles as the request id, so a replayed message keeps its identity and
 * the runtime can drop a repeat.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "claw/httpc.h"
#include "claw/json.h"
#include "claw/log.h"
#include "claw/sse.h"
#include "gw.h"

/* One POST /v1/messages, its body and headers (body freed by the caller) */
struct rt_call {
	char url[1024], rid[300], accept[64];
	const char *headers[4];
	char *body;
	struct claw_httpc_req req;
};

static enum claw_rc rt_prepare(struct gw *g, const json_t *env,
			       const char *accept, struct rt_call *c)
{
	memset(c, 0, sizeof(*c));
	c->body = gw_env_runtime_body_new(env);
	if (!c->body)
		return CLAW_ERR_NOMEM;
	snprintf(c->url, sizeof(c->url), "%s/v1/messages", g->runtime_url);
	snprintf(c->rid, sizeof(c->rid), "X-Request-Id: %s",
		 gw_env_str(env, "id"));
	snprintf(c->accept, sizeof(c->accept), "Accept: %s", accept);
	c->headers[0] = "Content-Type: application/json";
	c->headers[1] = c->accept;
	c->headers[2] = c->rid;
	c->req.url = c->url;
	c->req.headers = c->headers;
	c->req.body = c->body;
	c->req.body_len = strlen(c->body);
	c->req.timeout_ms = g->runtime_timeout_ms;
	c->req.connect_timeout_ms = 2000;
	/* Stopping, nothing waits for the runtime: the message stays
	 * unanswered in the journal, and the successor asks again. */
	c->req.cancel = &g->stopping;
	return CLAW_OK;
}

enum claw_rc gw_runtime_ask(struct gw *g, const struct gw_conf *c,
			    const json_t *env, char **reply_out,
			    json_t **answer_out)
{
	struct claw_httpc_resp resp;
	struct rt_call call;
	enum claw_rc rc = CLAW_ERR_NOMEM;
	(void)c;
	*reply_out = NULL;
	if (answer_out)
		*answer_out = NULL;
	if (rt_prepare(g, env, "application/json", &call))
		return rc;
	call.req.max_response = 4 << 20;
	rc = claw_httpc_do(&call.req, &resp);
	free(call.body);
	if (rc) {
		log_warn("runtime unreachable for '%s': %s",
			 gw_env_str(env, "id"), resp.error);
		rc = CLAW_ERR_IO;
		goto out;
	}
	if (resp.status != 200) {
		log_warn("runtime answered %ld for '%s'", resp.status,
			 gw_env_str(env, "id"));
		rc = resp.status >= 500 || resp.status == 429 ||
				resp.status == 408
			? CLAW_ERR_IO
			: CLAW_ERR_INVALID;
		goto out;
	}
	json_t *o = json_loadb(resp.body.data, resp.body.len, 0, NULL);
	const char *reply = gw_json_str(o, "reply");
	if (!reply) {
		log_warn("runtime reply for '%s' has no \"reply\" string",
			 gw_env_str(env, "id"));
		rc = CLAW_ERR_IO;
	} else {
		*reply_out = strdup(reply);
		rc = *reply_out ? CLAW_OK : CLAW_ERR_NOMEM;
		if (answer_out)
			*answer_out = json_incref(o);
	}
	json_decref(o);
out:
	claw_httpc_resp_release(&resp);
	return rc;
}

bool gw_runtime_ready(struct gw *g)
{
	struct claw_httpc_resp resp;
	char url[1024];
	snprintf(url, sizeof(url), "%s/healthz", g->runtime_url);
	struct claw_httpc_req req = {
		.url = url,
		.timeout_ms = 1000,
		.connect_timeout_ms = 1000,
		.max_response = 4096,
	};
	bool ok = claw_httpc_do(&req, &resp) == CLAW_OK && resp.status == 200;
	claw_httpc_resp_release(&resp);
	return ok;
}

/* ------------------------------------------------------------ streaming */
struct rstream {
	struct claw_sse_parser sse;
	struct claw_buf raw; /* the body, in case it is plain JSON */
	void (*on_delta)(const char *text, void *cls);
	void *cls;
	char *reply; /* from the done event */
	bool any;
};

static enum claw_rc rs_event(const struct claw_sse_event *ev, void *cls)
{
	struct rstream *s = cls;
	json_t *o = json_loadb(ev->data, ev->data_len, 0, NULL);
	const char *t = gw_json_str(o, "text");
	s->any = true;
	if (strcmp(ev->event, "delta") == 0 && t) {
		s->on_delta(t, s->cls);
	} else if (strcmp(ev->event, "done") == 0) {
		const char *r = gw_json_str(o, "reply");
		free(s->reply);
		s->reply = r ? strdup(r) : NULL;
	}
	json_decref(o);
	return CLAW_OK;
}

static int rs_data(const char *data, size_t len, void *cls)
{
	struct rstream *s = cls;
	claw_buf_append(&s->raw, data, len);
	return claw_sse_feed(&s->sse, data, len) ? 1 : 0;
}

enum claw_rc gw_runtime_ask_stream(struct gw *g, const json_t *env,
				   void (*on_delta)(const char *text,
						    void *cls),
				   void *cls, char **reply_out)
{
	struct claw_httpc_resp resp;
	struct rstream s = {.on_delta = on_delta, .cls = cls};
	struct rt_call call;
	enum claw_rc rc = CLAW_ERR_NOMEM;
	*reply_out = NULL;
	if (rt_prepare(g, env, "text/event-stream", &call))
		return rc;
	claw_sse_init(&s.sse, 0, rs_event, &s);
	claw_buf_init(&s.raw, 4 << 20);
	call.req.on_data = rs_data;
	call.req.cls = &s;
	rc = claw_httpc_do(&call.req, &resp);
	free(call.body);
	if (rc || resp.status != 200) {
		log_warn("runtime stream for '%s' failed: %s",
			 gw_env_str(env, "id"), rc ? resp.error : "not 200");
		rc = rc || resp.status >= 500 || resp.status == 429 ||
				resp.status == 408
			? CLAW_ERR_IO
			: CLAW_ERR_INVALID;
		goto out;
	}
	if (!s.any) { /* a runtime that answered with plain JSON */
		json_t *o = json_loadb(s.raw.data ? s.raw.data : "", s.raw.len,
				       0, NULL);
		const char *r = gw_json_str(o, "reply");
		s.reply = r ? strdup(r) : NULL;
		json_decref(o);
	}
	rc = s.reply ? CLAW_OK : CLAW_ERR_IO;
	*reply_out = s.reply;
	s.reply = NULL;
out:
	free(s.reply);
	claw_sse_release(&s.sse);
	claw_buf_release(&s.raw);
	claw_httpc_resp_release(&resp);
	return rc;
}
