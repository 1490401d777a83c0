/*
 * openai.c - what the OpenAI-compatible endpoints share (chat completions
 * in openai_chat.c, the Responses API in openai_responses.c, models in
 * openai_models.c): the intake of a POST (gw_openai_serve: the bearer
 * token check, where the secret file openai_api_token opens these
 * endpoints and nothing else, the suspended tenant, the body, the
 * policies), the envelope and its id, OpenAI's error object, message
 * content as text, the answer without a stream (gw_openai_whole), and the
 * relay of the runtime's server-sent events to a client stream.
 *
 * Errors on these endpoints are OpenAI's object, so the official SDKs
 * raise their typed errors with the message, code and param:
 *   {"error":{"message","type","param","code","request_id"}}
 * code and status come from the registries (gateway/errors.h, the shared
 * codes) as everywhere; type is OpenAI's class of the status
 * (gw_openai_error_type). request_id is the platform's, beside them.
 *
 * Streaming: a thread asks the runtime with Accept: text/event-stream and
 * turns its delta and done events into the endpoint's own events through
 * a small table of callbacks (struct gw_ostream_ops); the connection's
 * thread takes what is queued (claw_http_reply_stream). The runtime is
 * called straight away (the caller waits on the connection, so there is
 * nothing to journal or replay).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "claw/buf.h"
#include "claw/crypto.h"
#include "claw/httpc.h"
#include "claw/httpd.h"
#include "claw/json.h"
#include "claw/log.h"
#include "claw/sse.h"
#include "errors.h"
#include "gw.h"

const char gw_openai_runtime_failed[] = "the agent runtime failed; retry later";

const char *gw_openai_error_type(unsigned status)
{
	/* as OpenAI's API: a rate limit is of type "requests", a failure
	 * of ours "server_error", any other refusal (a bad key, an unknown
	 * model, a bad body) "invalid_request_error" */
	if (status == 429)
		return "requests";
	if (status >= 500)
		return "server_error";
	return "invalid_request_error";
}

json_t *gw_openai_error_new(const struct claw_error_def *def, const char *param,
			    const char *message, const char *request_id)
{
	json_t *m = json_string(message);
	json_t *e =
		json_pack("{s:o, s:s, s:o, s:s}", "message",
			  m ? m : json_string("(message not UTF-8)"), "type",
			  /* OpenAI's own quota refusals: 429 of type
			       * insufficient_quota */
			  def == gw_error_def(GW_E_QUOTA_EXCEEDED)
				  ? "insufficient_quota"
				  : gw_openai_error_type(def->http_status),
			  "param", param ? json_string(param) : json_null(),
			  "code", def->code);
	if (e && request_id)
		json_object_set_new(e, "request_id", json_string(request_id));
	return e;
}

void gw_openai_error(struct claw_http_req *r, const struct claw_error_def *def,
		     const char *param, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	if (!fmt) {
		snprintf(msg, sizeof(msg), "%s", def->hint);
	} else {
		va_start(ap, fmt);
		vsnprintf(msg, sizeof(msg), fmt, ap);
		va_end(ap);
	}
	if (def->http_status >= 500)
		log_error("%u %s: %s", def->http_status, def->code, msg);
	else
		log_info("%u %s: %s", def->http_status, def->code, msg);
	json_t *e =
		gw_openai_error_new(def, param, msg, claw_http_request_id(r));
	claw_http_reply_json(
		r, def->http_status,
		json_pack("{s:o}", "error", e ? e : json_object()));
}

struct gw_conf *gw_openai_open(struct claw_http_req *r, struct gw *g)
{
	struct gw_conf *c = gw_conf_get(g);
	const struct gw_chan_conf *cc = &c->ch[GW_CH_OPENAI];
	const char *auth = claw_http_header(r, "Authorization");
	if (!cc->enabled) {
		gw_openai_error(r, gw_error_def(GW_E_CHANNEL_DISABLED), NULL,
				"the OpenAI-compatible endpoint is not "
				"enabled");
		goto fail;
	}
	if (!auth || strncmp(auth, "Bearer ", 7) != 0 ||
	    !claw_ct_streq(auth + 7, cc->s1.val)) {
		gw_metrics_refused(GW_CH_OPENAI, GW_REF_BAD_SIGNATURE);
		gw_openai_error(r, claw_http_error_def(CLAW_HE_UNAUTHORIZED),
				NULL,
				"send the tenant's API token as "
				"'Authorization: Bearer TOKEN'");
		goto fail;
	}
	gw_chan_event(g, GW_CH_OPENAI); /* a client with the token reached it */
	if (c->suspended) {
		gw_metrics_refused(GW_CH_OPENAI, GW_REF_SUSPENDED);
		/* retrying soon cannot help: say so to the SDKs */
		claw_http_add_header(r, "x-should-retry", "false");
		gw_openai_error(r, gw_error_def(GW_E_TENANT_SUSPENDED), NULL,
				"%s", c->unavailable_text);
		goto fail;
	}
	return c;
fail:
	gw_conf_put(c);
	return NULL;
}

bool gw_openai_admit(struct claw_http_req *r, struct gw *g,
		     const struct gw_conf *c, const json_t *env)
{
	char text[400], secs[16];
	enum gw_refuse reason;
	enum gw_verdict v =
		gw_policy_check(g->policy, c, env, text, sizeof(text), &reason);
	if (v == GW_PASS) {
		char *refusal = gw_quota_admit(g, GW_CH_OPENAI);
		gw_metrics_in(GW_CH_OPENAI);
		if (!refusal)
			return true;
		/* an exhausted quota does not pass by retrying soon */
		claw_http_add_header(r, "x-should-retry", "false");
		gw_openai_error(r, gw_error_def(GW_E_QUOTA_EXCEEDED), NULL,
				"%s", refusal);
		free(refusal);
		return false;
	}
	gw_metrics_refused(GW_CH_OPENAI, reason);
	if (reason == GW_REF_RATE) {
		/* a token every 60/rate seconds */
		long per_min = c->ch[GW_CH_OPENAI].rate_per_min;
		snprintf(secs, sizeof(secs), "%ld",
			 per_min > 0 ? (60 + per_min - 1) / per_min : 60);
		claw_http_add_header(r, "Retry-After", secs);
		gw_openai_error(r, claw_http_error_def(CLAW_HE_RATE_LIMITED),
				NULL, "%s", text);
	} else if (reason == GW_REF_SIZE) {
		gw_openai_error(r, gw_error_def(GW_E_MESSAGE_TOO_LARGE), NULL,
				"%s", text);
	} else {
		gw_openai_error(r, claw_http_error_def(CLAW_HE_FORBIDDEN), NULL,
				"%s", v == GW_REFUSE ? text : "not allowed");
	}
	return false;
}

void gw_openai_serve(struct claw_http_req *r, void *ctx,
		     gw_openai_env_fn env_of, gw_openai_answer_fn answer,
		     void *q, struct gw_openai_fault *fault)
{
	struct gw *g = ctx;
	size_t len;
	const char *body = claw_http_body(r, &len);
	struct gw_conf *c = gw_openai_open(r, g);
	if (!c)
		return;
	json_t *req =
		json_loadb(body ? body : "", len, JSON_REJECT_DUPLICATES, NULL);
	json_t *env = json_is_object(req) ? env_of(req, q) : NULL;
	bool ok = env != NULL;
	if (!ok)
		gw_openai_error(r, claw_http_error_def(CLAW_HE_BAD_REQUEST),
				fault->param, "%s", fault->why);
	else
		ok = gw_openai_admit(r, g, c, env);
	gw_conf_put(c);
	if (ok)
		answer(r, g, env, q);
	json_decref(env);
	json_decref(req);
}

json_t *gw_openai_parse(const char *body, size_t len, gw_openai_env_fn env_of,
			void *q, const struct gw_openai_fault *fault,
			const char **param)
{
	json_t *req = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
	json_t *env = json_is_object(req) ? env_of(req, q) : NULL;
	*param = fault->param;
	json_decref(req);
	return env;
}

void gw_openai_id(char *id)
{
	memcpy(id, "openai:", 7);
	claw_random_hex(12, id + 7);
}

json_t *gw_openai_env_new(const char *id, const char *conv, const char *sender,
			  const struct claw_buf *text, json_t *history)
{
	json_t *env = gw_env_new(GW_CH_OPENAI, id, "openai", conv, sender, NULL,
				 text->data ? text->data : "", gw_unix_now());
	if (env && json_array_size(history))
		json_object_set(env, "history", history);
	return env;
}

bool gw_openai_content_text(const json_t *content, struct claw_buf *b)
{
	if (json_is_string(content))
		return !claw_buf_puts(b, json_string_value(content));
	if (!json_is_array(content))
		return false;
	size_t i;
	json_t *part;
	json_array_foreach(content, i, part) {
		const char *t = gw_json_str(part, "text");
		if (t && claw_buf_puts(b, t))
			return false;
	}
	return true;
}

json_t *gw_openai_usage_new(const json_t *usage, bool responses)
{
	json_int_t in =
		json_integer_value(json_object_get(usage, "input_tokens"));
	json_int_t out =
		json_integer_value(json_object_get(usage, "output_tokens"));
	if (responses)
		return json_pack("{s:I, s:{s:i}, s:I, s:{s:i}, s:I}",
				 "input_tokens", in, "input_tokens_details",
				 "cached_tokens", 0, "output_tokens", out,
				 "output_tokens_details", "reasoning_tokens", 0,
				 "total_tokens", in + out);
	return json_pack("{s:I, s:I, s:I}", "prompt_tokens", in,
			 "completion_tokens", out, "total_tokens", in + out);
}

/* ----------------------------------------------------------- streaming */
struct gw_ostream {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int refs;
	bool done, finished, any;
	struct claw_buf out;
	struct claw_buf raw; /* the body, in case it is not a stream */
	struct claw_sse_parser sse;
	struct gw *g;
	char *body;
	const struct gw_ostream_ops *ops;
	void *cls;
};

void *gw_ostream_cls(struct gw_ostream *s)
{
	return s->cls;
}

static void os_unref(struct gw_ostream *s)
{
	pthread_mutex_lock(&s->mu);
	int left = --s->refs;
	pthread_mutex_unlock(&s->mu);
	if (left)
		return;
	if (s->ops->release)
		s->ops->release(s->cls);
	claw_buf_release(&s->out);
	claw_buf_release(&s->raw);
	claw_sse_release(&s->sse);
	pthread_cond_destroy(&s->cv);
	pthread_mutex_destroy(&s->mu);
	free(s->body);
	free(s);
}

void gw_ostream_emit(struct gw_ostream *s, const char *event, json_t *o_steal)
{
	char *d = o_steal ? claw_json_dumps(o_steal) : NULL;
	json_decref(o_steal);
	if (d) {
		if (event)
			claw_buf_printf(&s->out, "event: %s\ndata: %s\n\n",
					event, d);
		else
			claw_buf_printf(&s->out, "data: %s\n\n", d);
		free(d);
	}
	pthread_cond_broadcast(&s->cv);
}

/* The runtime's done: the whole reply, usage, truncated. mu held. */
static void os_finish(struct gw_ostream *s, const json_t *o)
{
	const char *reply = gw_json_str(o, "reply");
	s->finished = true;
	gw_metrics_out(GW_CH_OPENAI);
	s->ops->done(s, reply ? reply : "", json_object_get(o, "usage"),
		     json_is_true(json_object_get(o, "truncated")));
}

static enum claw_rc os_event(const struct claw_sse_event *ev, void *cls)
{
	struct gw_ostream *s = cls;
	json_t *o = json_loadb(ev->data, ev->data_len, 0, NULL);
	pthread_mutex_lock(&s->mu);
	s->any = true;
	if (!s->finished && strcmp(ev->event, "delta") == 0) {
		const char *t = gw_json_str(o, "text");
		if (t)
			s->ops->delta(s, t);
	} else if (!s->finished && strcmp(ev->event, "done") == 0) {
		os_finish(s, o);
	}
	pthread_mutex_unlock(&s->mu);
	json_decref(o);
	return CLAW_OK;
}

static int os_data(const char *data, size_t len, void *cls)
{
	struct gw_ostream *s = cls;
	claw_buf_append(&s->raw, data, len);
	return claw_sse_feed(&s->sse, data, len) ? 1 : 0;
}

static void *os_thread(void *arg)
{
	struct gw_ostream *s = arg;
	struct claw_httpc_resp resp;
	char url[1024];
	snprintf(url, sizeof(url), "%s/v1/messages", s->g->runtime_url);
	const char *headers[] = {"Content-Type: application/json",
				 "Accept: text/event-stream", NULL};
	struct claw_httpc_req req = {
		.url = url,
		.headers = headers,
		.body = s->body,
		.body_len = strlen(s->body),
		.timeout_ms = s->g->runtime_timeout_ms,
		.connect_timeout_ms = 2000,
		.on_data = os_data,
		.cls = s,
		.cancel = &s->g->stopping,
	};
	pthread_mutex_lock(&s->mu);
	if (s->ops->begin)
		s->ops->begin(s);
	pthread_mutex_unlock(&s->mu);
	enum claw_rc rc = claw_httpc_do(&req, &resp);
	pthread_mutex_lock(&s->mu);
	if (!rc && resp.status == 200 && !s->any) {
		/* a runtime that answered with plain JSON */
		json_t *o = json_loadb(s->raw.data ? s->raw.data : "",
				       s->raw.len, 0, NULL);
		const char *t = gw_json_str(o, "reply");
		if (t) {
			s->ops->delta(s, t);
			os_finish(s, o);
		}
		json_decref(o);
	}
	if (!s->finished) {
		log_warn("runtime stream failed: %s",
			 rc                           ? resp.error
				 : resp.status != 200 ? "not 200"
						      : "no done event");
		s->ops->fail(s);
	}
	if (s->ops->done_marker)
		claw_buf_puts(&s->out, "data: [DONE]\n\n");
	s->done = true;
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
	claw_httpc_resp_release(&resp);
	os_unref(s);
	return NULL;
}

static ssize_t os_next(void *cls, char *out, size_t max)
{
	struct gw_ostream *s = cls;
	struct timespec until;
	ssize_t n = 0;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 1;
	pthread_mutex_lock(&s->mu);
	if (!s->out.len && !s->done)
		pthread_cond_timedwait(&s->cv, &s->mu, &until);
	if (s->out.len)
		n = (ssize_t)claw_buf_take(&s->out, out, max);
	else if (s->done)
		n = -1;
	pthread_mutex_unlock(&s->mu);
	return n;
}

static void os_release(void *cls)
{
	os_unref(cls);
}

void gw_openai_stream(struct claw_http_req *r, struct gw *g, const json_t *env,
		      const struct gw_ostream_ops *ops, void *cls_steal)
{
	pthread_t t;
	struct gw_ostream *s = calloc(1, sizeof(*s));
	if (!s) {
		if (ops->release)
			ops->release(cls_steal);
		gw_openai_error(r, claw_http_error_def(CLAW_HE_INTERNAL), NULL,
				NULL);
		return;
	}
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, NULL);
	claw_buf_init(&s->out, 0);
	claw_buf_init(&s->raw, 4 << 20);
	claw_sse_init(&s->sse, 0, os_event, s);
	s->g = g;
	s->refs = 2;
	s->ops = ops;
	s->cls = cls_steal;
	s->body = gw_env_runtime_body_new(env);
	int err = s->body ? gw_thread_create(&t, NULL, os_thread, s) : ENOMEM;
	if (err) {
		log_error("unable to start a streaming reply: %s",
			  strerror(err));
		s->refs = 1;
		os_unref(s);
		gw_openai_error(r, claw_http_error_def(CLAW_HE_INTERNAL), NULL,
				NULL);
		return;
	}
	pthread_detach(t);
	claw_http_reply_stream(r, 200, "text/event-stream", os_next, s,
			       os_release);
}

void gw_openai_whole(struct claw_http_req *r, struct gw *g, const json_t *env,
		     gw_openai_whole_fn make, const void *cls)
{
	char *reply = NULL;
	json_t *answer = NULL;
	struct gw_conf *c = gw_conf_get(g);
	enum claw_rc rc = gw_runtime_ask(g, c, env, &reply, &answer);
	gw_conf_put(c);
	if (rc) {
		gw_openai_error(r, gw_error_def(GW_E_RUNTIME_ERROR), NULL, "%s",
				gw_openai_runtime_failed);
		return;
	}
	gw_metrics_out(GW_CH_OPENAI);
	json_t *o = make(cls, reply, json_object_get(answer, "usage"),
			 json_is_true(json_object_get(answer, "truncated")));
	json_decref(answer);
	free(reply);
	claw_http_reply_json(r, 200, o);
}
