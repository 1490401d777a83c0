/*
 * openai.c - the OpenAI-compatible endpoint POST /v1/chat/completions, so
 * programs can talk to the tenant's agent. It needs the bearer token in
 * the secret file openai_api_token (that token opens this endpoint and
 * nothing else). The last user message is the text, earlier user and
 * assistant messages are the history; the request goes straight to the
 * runtime (the caller waits on the connection, so there is nothing to
 * journal or replay). With "stream": true the runtime's SSE deltas are
 * relayed as chat.completion.chunk events ending with "data: [DONE]".
 */
#include <errno.h>
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

/* The message of runtime_error, in a reply and in a stream's error event. */
static const char runtime_failed[] = "the agent runtime failed; retry later";

/* Text of a message's content: a string or an array of text parts. */
static bool content_text(json_t *content, struct claw_buf *b)
{
	if (json_is_string(content))
		return !claw_buf_puts(b, json_string_value(content));
	if (!json_is_array(content))
		return false;
	size_t i;
	json_t *part;
	json_array_foreach(content, i, part) {
		const char *t =
			json_string_value(json_object_get(part, "text"));
		if (t && claw_buf_puts(b, t))
			return false;
	}
	return true;
}

/* Build the envelope from the request; NULL with *why on a bad body. */
static json_t *openai_env(json_t *req, const char **why, bool *stream,
			  const char **model)
{
	json_t *msgs = json_object_get(req, "messages");
	size_t n = json_array_size(msgs), i;
	json_t *m, *env = NULL, *history = NULL;
	struct claw_buf text;
	char id[64], conv[200];
	claw_buf_init(&text, 1 << 20);
	*model = json_string_value(json_object_get(req, "model"));
	*stream = json_is_true(json_object_get(req, "stream"));
	if (!*model) {
		*why = "\"model\" must be a string";
		goto out;
	}
	json_t *last = json_array_get(msgs, n ? n - 1 : 0);
	const char *role = json_string_value(json_object_get(last, "role"));
	if (!n || !role || strcmp(role, "user") != 0 ||
	    !content_text(json_object_get(last, "content"), &text)) {
		*why = "\"messages\" must end with a user message with text "
		       "content";
		goto out;
	}
	history = json_array();
	json_array_foreach(msgs, i, m) {
		struct claw_buf h;
		const char *r = json_string_value(json_object_get(m, "role"));
		if (i == n - 1 || !r ||
		    (strcmp(r, "user") != 0 && strcmp(r, "assistant") != 0))
			continue;
		claw_buf_init(&h, 1 << 20);
		if (content_text(json_object_get(m, "content"), &h))
			json_array_append_new(history,
					      json_pack("{s:s, s:s}", "role", r,
							"content",
							h.data ? h.data : ""));
		claw_buf_release(&h);
	}
	claw_random_hex(12, id + 7);
	memcpy(id, "openai:", 7);
	const char *user = json_string_value(json_object_get(req, "user"));
	if (user && *user && strlen(user) <= 128) {
		char hh[65];
		claw_blake2b_hex(user, strlen(user), hh);
		snprintf(conv, sizeof(conv), "openai:%.32s", hh);
	} else {
		snprintf(conv, sizeof(conv), "%s", id);
	}
	env = gw_env_new(GW_CH_OPENAI, id, "openai", conv,
			 user && *user && strlen(user) <= 128 ? user : "api",
			 NULL, text.data ? text.data : "", gw_unix_now());
	if (env && json_array_size(history))
		json_object_set(env, "history", history);
out:
	json_decref(history);
	claw_buf_release(&text);
	return env;
}

static json_t *chunk_new(const char *cid, long long created, const char *model,
			 const char *delta_text, const char *finish)
{
	json_t *delta = json_object();
	if (delta_text)
		json_object_set_new(delta, "content", json_string(delta_text));
	return json_pack("{s:s, s:s, s:I, s:s, s:[{s:i, s:o, s:o}]}", "id", cid,
			 "object", "chat.completion.chunk", "created",
			 (json_int_t)created, "model", model, "choices",
			 "index", 0, "delta", delta, "finish_reason",
			 finish ? json_string(finish) : json_null());
}

/* ----------------------------------------------------------- streaming */
struct ostream {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int refs;
	bool done, got_done, any;
	struct claw_buf out;
	struct claw_buf raw; /* the body, in case it is not a stream */
	struct claw_sse_parser sse;
	struct gw *g;
	char *body;
	char cid[40], model[128];
	long long created;
};

static void os_unref(struct ostream *s)
{
	pthread_mutex_lock(&s->mu);
	int left = --s->refs;
	pthread_mutex_unlock(&s->mu);
	if (left)
		return;
	claw_buf_release(&s->out);
	claw_buf_release(&s->raw);
	claw_sse_release(&s->sse);
	pthread_cond_destroy(&s->cv);
	pthread_mutex_destroy(&s->mu);
	free(s->body);
	free(s);
}

/* Queue one "data:" event. mu held. */
static void os_emit(struct ostream *s, json_t *o_steal)
{
	char *d = o_steal ? claw_json_dumps(o_steal) : NULL;
	json_decref(o_steal);
	if (d) {
		claw_buf_printf(&s->out, "data: %s\n\n", d);
		free(d);
	}
	pthread_cond_broadcast(&s->cv);
}

static enum claw_rc os_event(const struct claw_sse_event *ev, void *cls)
{
	struct ostream *s = cls;
	json_t *o = json_loadb(ev->data, ev->data_len, 0, NULL);
	pthread_mutex_lock(&s->mu);
	s->any = true;
	if (strcmp(ev->event, "delta") == 0) {
		const char *t = json_string_value(json_object_get(o, "text"));
		if (t)
			os_emit(s,
				chunk_new(s->cid, s->created, s->model, t,
					  NULL));
	} else if (strcmp(ev->event, "done") == 0) {
		s->got_done = true;
		gw_metrics_out(GW_CH_OPENAI);
		os_emit(s,
			chunk_new(s->cid, s->created, s->model, NULL,
				  json_is_true(json_object_get(o, "truncated"))
					  ? "length"
					  : "stop"));
	}
	pthread_mutex_unlock(&s->mu);
	json_decref(o);
	return CLAW_OK;
}

static int os_data(const char *data, size_t len, void *cls)
{
	struct ostream *s = cls;
	claw_buf_append(&s->raw, data, len);
	return claw_sse_feed(&s->sse, data, len) ? 1 : 0;
}

static void *os_thread(void *arg)
{
	struct ostream *s = arg;
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
	};
	enum claw_rc rc = claw_httpc_do(&req, &resp);
	pthread_mutex_lock(&s->mu);
	if (!rc && resp.status == 200 && !s->any) {
		/* a runtime that answered with plain JSON */
		json_t *o = json_loadb(s->raw.data ? s->raw.data : "",
				       s->raw.len, 0, NULL);
		const char *t = json_string_value(json_object_get(o, "reply"));
		if (t) {
			os_emit(s,
				chunk_new(s->cid, s->created, s->model, t,
					  NULL));
			os_emit(s,
				chunk_new(s->cid, s->created, s->model, NULL,
					  "stop"));
			s->got_done = true;
			gw_metrics_out(GW_CH_OPENAI);
		}
		json_decref(o);
	}
	if (!s->got_done) {
		log_warn("runtime stream failed: %s",
			 rc ? resp.error
			    : "no done "
			      "event");
		os_emit(s,
			json_pack("{s:{s:s, s:s}}", "error", "code",
				  gw_error_def(GW_E_RUNTIME_ERROR)->code,
				  "message", runtime_failed));
	}
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
	struct ostream *s = cls;
	struct timespec until;
	ssize_t n = 0;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 1;
	pthread_mutex_lock(&s->mu);
	if (!s->out.len && !s->done)
		pthread_cond_timedwait(&s->cv, &s->mu, &until);
	if (s->out.len) {
		n = (ssize_t)(s->out.len < max ? s->out.len : max);
		memcpy(out, s->out.data, (size_t)n);
		claw_buf_consume(&s->out, (size_t)n);
	} else if (s->done) {
		n = -1;
	}
	pthread_mutex_unlock(&s->mu);
	return n;
}

static void os_release(void *cls)
{
	os_unref(cls);
}

static void start_stream(struct claw_http_req *r, struct gw *g, json_t *env,
			 const char *model)
{
	pthread_t t;
	struct ostream *s = calloc(1, sizeof(*s));
	if (!s) {
		claw_http_reply_std(r, CLAW_HE_INTERNAL, NULL);
		return;
	}
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, NULL);
	claw_buf_init(&s->out, 0);
	claw_buf_init(&s->raw, 4 << 20);
	claw_sse_init(&s->sse, 0, os_event, s);
	s->g = g;
	s->refs = 2;
	s->created = gw_unix_now();
	snprintf(s->cid, sizeof(s->cid), "chatcmpl-%s",
		 gw_env_str(env, "id") + 7);
	snprintf(s->model, sizeof(s->model), "%s", model);
	s->body = gw_env_runtime_body_new(env);
	int err = s->body ? gw_thread_create(&t, NULL, os_thread, s) : ENOMEM;
	if (err) {
		log_error("unable to start a streaming reply: %s",
			  strerror(err));
		s->refs = 1;
		os_unref(s);
		claw_http_reply_std(r, CLAW_HE_INTERNAL, NULL);
		return;
	}
	pthread_detach(t);
	claw_http_reply_stream(r, 200, "text/event-stream", os_next, s,
			       os_release);
}

static void reply_whole(struct claw_http_req *r, struct gw *g, json_t *env,
			const char *model)
{
	char *reply = NULL;
	json_t *usage = NULL;
	struct gw_conf *c = gw_conf_get(g);
	enum claw_rc rc = gw_runtime_ask(g, c, env, &reply, &usage);
	gw_conf_put(c);
	if (rc) {
		gw_reply_error(r, GW_E_RUNTIME_ERROR, "%s", runtime_failed);
		return;
	}
	json_int_t in =
		json_integer_value(json_object_get(usage, "input_tokens"));
	json_int_t outt =
		json_integer_value(json_object_get(usage, "output_tokens"));
	char cid[48];
	snprintf(cid, sizeof(cid), "chatcmpl-%s", gw_env_str(env, "id") + 7);
	json_t *o = json_pack(
		"{s:s, s:s, s:I, s:s, s:[{s:i, s:{s:s, s:s}, s:s}], "
		"s:{s:I, s:I, s:I}}",
		"id", cid, "object", "chat.completion", "created",
		(json_int_t)gw_unix_now(), "model", model, "choices", "index",
		0, "message", "role", "assistant", "content", reply,
		"finish_reason", "stop", "usage", "prompt_tokens", in,
		"completion_tokens", outt, "total_tokens", in + outt);
	json_decref(usage);
	free(reply);
	claw_http_reply_json(r, 200, o);
	gw_metrics_out(GW_CH_OPENAI);
}

void gw_openai_chat(struct claw_http_req *r, void *ctx)
{
	struct gw *g = ctx;
	size_t len;
	const char *why = "the body is not a chat completion request";
	const char *model = NULL;
	bool stream = false;
	char text[400];
	enum gw_refuse reason;
	struct gw_conf *c = gw_conf_get(g);
	const struct gw_chan_conf *cc = &c->ch[GW_CH_OPENAI];
	const char *auth = claw_http_header(r, "Authorization");
	const char *body = claw_http_body(r, &len);
	json_t *req = NULL, *env = NULL;
	if (!cc->enabled) {
		gw_reply_error(r, GW_E_CHANNEL_DISABLED,
			       "the OpenAI-compatible endpoint is not enabled");
		goto out;
	}
	if (!auth || strncmp(auth, "Bearer ", 7) != 0 ||
	    !claw_ct_streq(auth + 7, cc->s1.val)) {
		gw_metrics_refused(GW_CH_OPENAI, GW_REF_BAD_SIGNATURE);
		claw_http_reply_std(r, CLAW_HE_UNAUTHORIZED, NULL);
		goto out;
	}
	if (c->suspended) {
		gw_metrics_refused(GW_CH_OPENAI, GW_REF_SUSPENDED);
		gw_reply_error(r, GW_E_TENANT_SUSPENDED, "%s",
			       c->unavailable_text);
		goto out;
	}
	req = json_loadb(body ? body : "", len, JSON_REJECT_DUPLICATES, NULL);
	env = json_is_object(req) ? openai_env(req, &why, &stream, &model)
				  : NULL;
	if (!env) {
		claw_http_reply_std(r, CLAW_HE_BAD_REQUEST, why);
		goto out;
	}
	enum gw_verdict v =
		gw_policy_check(g->policy, c, env, text, sizeof(text), &reason);
	if (v != GW_PASS) {
		gw_metrics_refused(GW_CH_OPENAI, reason);
		if (reason == GW_REF_RATE)
			claw_http_reply_std(r, CLAW_HE_RATE_LIMITED, text);
		else if (reason == GW_REF_SIZE)
			gw_reply_error(r, GW_E_MESSAGE_TOO_LARGE, "%s", text);
		else
			claw_http_reply_std(r, CLAW_HE_FORBIDDEN,
					    v == GW_REFUSE ? text
							   : "not allowed");
		goto out;
	}
	gw_metrics_in(GW_CH_OPENAI);
	gw_conf_put(c);
	c = NULL;
	if (stream)
		start_stream(r, g, env, model);
	else
		reply_whole(r, g, env, model);
out:
	json_decref(env);
	json_decref(req);
	gw_conf_put(c);
}
