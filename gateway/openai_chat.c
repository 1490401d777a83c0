/*
 * openai_chat.c - POST /v1/chat/completions, OpenAI's Chat Completions
 * for programs that talk to the tenant's agent. The last user message is
 * the text, earlier user and assistant messages are the history (system
 * and developer messages are the tenant's SOUL's business, not the
 * caller's, and are left out). "user" names the conversation (hashed);
 * without it every request is a conversation of its own. Any model name
 * is accepted and echoed (one agent answers whatever the client calls
 * it; GET /v1/models lists the configured names).
 *
 * "max_completion_tokens" (or the older "max_tokens") caps each model
 * call's answer for this request: the runtime asks its provider for no
 * more (a cheap call for a key test, say); the provider's own cap wins
 * when it is lower.
 *
 * "stream": true relays the runtime's deltas as chat.completion.chunk
 * events ending with "data: [DONE]"; with stream_options.include_usage
 * every chunk carries "usage": null and one last chunk with empty
 * choices carries the usage, as OpenAI sends it. A runtime failure in a
 * stream is a data event with OpenAI's error object, then [DONE].
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "claw/buf.h"
#include "claw/crypto.h"
#include "claw/httpd.h"
#include "claw/log.h"
#include "errors.h"
#include "gw.h"

struct chat_req {
	const char *model;
	bool stream, include_usage;
	json_int_t max_tokens; /* 0: none given */
	struct gw_openai_fault fault;
};

/* The options: model, stream, stream_options. */
static bool chat_options(json_t *req, struct chat_req *q)
{
	json_t *so = json_object_get(req, "stream_options");
	q->model = gw_json_str(req, "model");
	q->stream = json_is_true(json_object_get(req, "stream"));
	if (!q->model || !*q->model) {
		q->fault.param = "model";
		q->fault.why = "\"model\" must be a non-empty string";
		return false;
	}
	if (so && !json_is_null(so) && !json_is_object(so)) {
		q->fault.param = "stream_options";
		q->fault.why = "\"stream_options\" must be an object";
		return false;
	}
	q->include_usage =
		q->stream && json_is_true(json_object_get(so, "include_usage"));
	for (const char *const *k =
		     (const char *const[]){"max_completion_tokens",
					   "max_tokens", NULL};
	     *k && !q->max_tokens; k++) {
		json_t *v = json_object_get(req, *k);

		if (!v || json_is_null(v))
			continue;
		q->max_tokens = json_integer_value(v);
		if (!json_is_integer(v) || q->max_tokens < 1 ||
		    q->max_tokens > 1000000) {
			q->fault.param = *k;
			q->fault.why = "must be an integer from 1 to 1000000";
			return false;
		}
	}
	return true;
}

/* Earlier user and assistant messages, in order. New array. */
static json_t *chat_history(json_t *msgs, size_t n)
{
	json_t *history = json_array(), *m;
	size_t i;
	json_array_foreach(msgs, i, m) {
		struct claw_buf h;
		const char *r = gw_json_str(m, "role");
		if (i == n - 1 || !r ||
		    (strcmp(r, "user") != 0 && strcmp(r, "assistant") != 0))
			continue;
		claw_buf_init(&h, 1 << 20);
		if (gw_openai_content_text(json_object_get(m, "content"), &h))
			json_array_append_new(history,
					      json_pack("{s:s, s:s}", "role", r,
							"content",
							h.data ? h.data : ""));
		claw_buf_release(&h);
	}
	return history;
}

/* The envelope of a request; NULL with q->fault set when the body is
 * not a chat completion request. */
static json_t *chat_env(json_t *req, void *arg)
{
	struct chat_req *q = arg;
	json_t *msgs = json_object_get(req, "messages");
	size_t n = json_array_size(msgs);
	json_t *env = NULL, *history = NULL;
	struct claw_buf text;
	char id[64], conv[200];
	claw_buf_init(&text, 1 << 20);
	if (!chat_options(req, q))
		goto out;
	json_t *last = json_array_get(msgs, n ? n - 1 : 0);
	const char *role = gw_json_str(last, "role");
	if (!n || !role || strcmp(role, "user") != 0 ||
	    !gw_openai_content_text(json_object_get(last, "content"), &text)) {
		q->fault.param = "messages";
		q->fault.why = n
			? "\"messages\" must end with a user message with "
			  "text content"
			: "\"messages\" must be a non-empty array";
		goto out;
	}
	history = chat_history(msgs, n);
	gw_openai_id(id);
	const char *user = gw_json_str(req, "user");
	bool named = user && *user && strlen(user) <= 128;
	if (named) {
		char hh[65];
		claw_blake2b_hex(user, strlen(user), hh);
		snprintf(conv, sizeof(conv), "openai:%.32s", hh);
	} else {
		snprintf(conv, sizeof(conv), "%s", id);
	}
	env = gw_openai_env_new(id, conv, named ? user : "api", &text, history);
	if (env && q->max_tokens)
		json_object_set_new(env, "max_tokens",
				    json_integer(q->max_tokens));
out:
	json_decref(history);
	claw_buf_release(&text);
	return env;
}

json_t *gw_openai_chat_parse(const char *body, size_t len, const char **param)
{
	struct chat_req q = {0};
	return gw_openai_parse(body, len, chat_env, &q, &q.fault, param);
}

static json_t *chunk_new(const char *cid, long long created, const char *model,
			 const char *delta_text, const char *finish,
			 bool usage_null)
{
	json_t *delta = json_object();
	if (delta_text)
		json_object_set_new(delta, "content", json_string(delta_text));
	json_t *o = json_pack("{s:s, s:s, s:I, s:s, s:[{s:i, s:o, s:o}]}", "id",
			      cid, "object", "chat.completion.chunk", "created",
			      (json_int_t)created, "model", model, "choices",
			      "index", 0, "delta", delta, "finish_reason",
			      finish ? json_string(finish) : json_null());
	if (o && usage_null)
		json_object_set_new(o, "usage", json_null());
	return o;
}

/* ----------------------------------------------------------- streaming */
struct chat_stream {
	char cid[48], model[160];
	long long created;
	bool include_usage, started;
};

static void cs_delta(struct gw_ostream *s, const char *text)
{
	struct chat_stream *c = gw_ostream_cls(s);
	if (!c->started) { /* the first chunk says who speaks */
		json_t *o = chunk_new(c->cid, c->created, c->model, "", NULL,
				      c->include_usage);
		json_object_set_new(
			json_object_get(
				json_array_get(json_object_get(o, "choices"),
					       0),
				"delta"),
			"role", json_string("assistant"));
		gw_ostream_emit(s, NULL, o);
		c->started = true;
	}
	gw_ostream_emit(s, NULL,
			chunk_new(c->cid, c->created, c->model, text, NULL,
				  c->include_usage));
}

static void cs_done(struct gw_ostream *s, const char *reply,
		    const json_t *usage, bool truncated)
{
	struct chat_stream *c = gw_ostream_cls(s);
	(void)reply;
	if (!c->started)
		cs_delta(s, "");
	gw_ostream_emit(s, NULL,
			chunk_new(c->cid, c->created, c->model, NULL,
				  truncated ? "length" : "stop",
				  c->include_usage));
	if (c->include_usage)
		gw_ostream_emit(s, NULL,
				json_pack("{s:s, s:s, s:I, s:s, s:[], s:o}",
					  "id", c->cid, "object",
					  "chat.completion.chunk", "created",
					  (json_int_t)c->created, "model",
					  c->model, "choices", "usage",
					  gw_openai_usage_new(usage, false)));
}

static void cs_fail(struct gw_ostream *s)
{
	gw_ostream_emit(
		s, NULL,
		json_pack("{s:o}", "error",
			  gw_openai_error_new(gw_error_def(GW_E_RUNTIME_ERROR),
					      NULL, gw_openai_runtime_failed,
					      NULL)));
}

static const struct gw_ostream_ops chat_ops = {
	.delta = cs_delta,
	.done = cs_done,
	.fail = cs_fail,
	.release = free,
	.done_marker = true,
};

static void chat_stream(struct claw_http_req *r, struct gw *g, json_t *env,
			const struct chat_req *q)
{
	struct chat_stream *c = calloc(1, sizeof(*c));
	if (!c) {
		gw_openai_error(r, claw_http_error_def(CLAW_HE_INTERNAL), NULL,
				NULL);
		return;
	}
	c->created = gw_unix_now();
	c->include_usage = q->include_usage;
	snprintf(c->cid, sizeof(c->cid), "chatcmpl-%s",
		 gw_env_str(env, "id") + 7);
	snprintf(c->model, sizeof(c->model), "%s", q->model);
	gw_openai_stream(r, g, env, &chat_ops, c);
}

struct chat_whole {
	const char *cid, *model;
};

static json_t *chat_completion(const void *cls, const char *reply,
			       const json_t *usage, bool truncated)
{
	const struct chat_whole *w = cls;
	return json_pack(
		"{s:s, s:s, s:I, s:s, s:[{s:i, s:{s:s, s:s, s:n}, s:s, s:n}], "
		"s:o}",
		"id", w->cid, "object", "chat.completion", "created",
		(json_int_t)gw_unix_now(), "model", w->model, "choices",
		"index", 0, "message", "role", "assistant", "content", reply,
		"refusal", "finish_reason", truncated ? "length" : "stop",
		"logprobs", "usage", gw_openai_usage_new(usage, false));
}

static void chat_whole(struct claw_http_req *r, struct gw *g, json_t *env,
		       const char *model)
{
	char cid[48];
	snprintf(cid, sizeof(cid), "chatcmpl-%s", gw_env_str(env, "id") + 7);
	struct chat_whole w = {cid, model};
	gw_openai_whole(r, g, env, chat_completion, &w);
}

static void chat_answer(struct claw_http_req *r, struct gw *g, json_t *env,
			void *arg)
{
	const struct chat_req *q = arg;
	if (q->stream)
		chat_stream(r, g, env, q);
	else
		chat_whole(r, g, env, q->model);
}

void gw_openai_chat(struct claw_http_req *r, void *ctx)
{
	struct chat_req q = {
		.fault.why = "the body is not a chat completion request"};
	gw_openai_serve(r, ctx, chat_env, chat_answer, &q, &q.fault);
}
