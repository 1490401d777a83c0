/*
 * openai_responses.c - POST /v1/responses, OpenAI's Responses API, which
 * newer clients use instead of Chat Completions.
 *
 * Request: "model" (any name, echoed), "input" (a string, or an array of
 * messages: {"role", "content": a string or parts with "text"}; the last
 * one must be the user's, earlier user and assistant messages are the
 * history), "stream", "previous_response_id", "user". "instructions",
 * tools and sampling options are accepted and not used: the agent's
 * SOUL, tools and model are the tenant's.
 *
 * Conversations: a response id is "resp_" + 32 hex digits naming the
 * conversation + 24 random ones, so "previous_response_id" continues the
 * conversation it came from (the runtime keeps its history: the gateway
 * stores no response). Without it, "user" names the conversation
 * (hashed), else the request starts a new one. Anyone holding the
 * endpoint's token may continue any conversation of it, as with "user":
 * the token is the one principal of this endpoint.
 *
 * Answer: a response object (status "completed", or "incomplete" with
 * reason max_output_tokens when the runtime truncated) with one
 * assistant message of one output_text part, and usage. Streaming sends
 * the event sequence of OpenAI's API, each with its "type" as the SSE
 * event name and a growing sequence_number: response.created,
 * response.in_progress, response.output_item.added,
 * response.content_part.added, response.output_text.delta...,
 * response.output_text.done, response.content_part.done,
 * response.output_item.done, response.completed (or
 * response.incomplete); a runtime failure ends it with response.failed
 * (error code runtime_error). There is no [DONE] marker in this API.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "claw/buf.h"
#include "claw/crypto.h"
#include "claw/httpd.h"
#include "errors.h"
#include "gw.h"

#define CONV_HEX 32

/* What one request asks for; strings borrowed from the request. */
struct resp_req {
	const char *model, *prev, *user;
	bool stream;
	struct gw_openai_fault fault; /* what is wrong */
	char conv[CONV_HEX + 1];
};

/* The last input item, if it is the user's text, into text; earlier
 * user and assistant messages into history. */
static bool resp_input(json_t *input, struct claw_buf *text, json_t *history)
{
	if (json_is_string(input))
		return !claw_buf_puts(text, json_string_value(input)) &&
			json_string_length(input);
	size_t n = json_array_size(input), i;
	json_t *m;
	if (!n)
		return false;
	json_array_foreach(input, i, m) {
		const char *role = gw_json_str(m, "role");
		const char *type = gw_json_str(m, "type");
		bool msg = !type || strcmp(type, "message") == 0;
		if (i == n - 1)
			return msg && role && strcmp(role, "user") == 0 &&
				gw_openai_content_text(
					json_object_get(m, "content"), text);
		if (!msg || !role ||
		    (strcmp(role, "user") != 0 &&
		     strcmp(role, "assistant") != 0))
			continue;
		struct claw_buf h;
		claw_buf_init(&h, 1 << 20);
		if (gw_openai_content_text(json_object_get(m, "content"), &h))
			json_array_append_new(history,
					      json_pack("{s:s, s:s}", "role",
							role, "content",
							h.data ? h.data : ""));
		claw_buf_release(&h);
	}
	return false;
}

/* The conversation: previous_response_id's, user's (hashed) or new. */
static bool resp_conversation(struct resp_req *q)
{
	if (q->prev) {
		const char *hex = q->prev + 5;
		if (strncmp(q->prev, "resp_", 5) != 0 ||
		    strlen(hex) != CONV_HEX + 24 ||
		    strspn(hex, "0123456789abcdef") != CONV_HEX + 24) {
			q->fault.param = "previous_response_id";
			q->fault.why =
				"\"previous_response_id\" must be the id of "
				"a response of this endpoint";
			return false;
		}
		memcpy(q->conv, hex, CONV_HEX);
		q->conv[CONV_HEX] = '\0';
	} else if (q->user) {
		char hh[65];
		claw_blake2b_hex(q->user, strlen(q->user), hh);
		memcpy(q->conv, hh, CONV_HEX);
		q->conv[CONV_HEX] = '\0';
	} else {
		claw_random_hex(CONV_HEX / 2, q->conv);
	}
	return true;
}

/* The envelope of a request, or NULL with q->fault set. */
static json_t *resp_env(json_t *req, void *arg)
{
	struct resp_req *q = arg;
	json_t *env = NULL, *history = json_array();
	json_t *prev = json_object_get(req, "previous_response_id");
	struct claw_buf text;
	char id[64], conv[64];
	claw_buf_init(&text, 1 << 20);
	q->model = gw_json_str(req, "model");
	q->stream = json_is_true(json_object_get(req, "stream"));
	q->prev = json_string_value(prev);
	q->user = gw_json_str(req, "user");
	if (q->user && (!*q->user || strlen(q->user) > 128))
		q->user = NULL;
	if (!q->model || !*q->model) {
		q->fault.param = "model";
		q->fault.why = "\"model\" must be a non-empty string";
		goto out;
	}
	if (prev && !json_is_null(prev) && !q->prev) {
		q->fault.param = "previous_response_id";
		q->fault.why = "\"previous_response_id\" must be a string";
		goto out;
	}
	if (!history ||
	    !resp_input(json_object_get(req, "input"), &text, history)) {
		q->fault.param = "input";
		q->fault.why =
			"\"input\" must be text, or messages ending with a "
			"user message with text content";
		goto out;
	}
	if (!resp_conversation(q))
		goto out;
	gw_openai_id(id);
	snprintf(conv, sizeof(conv), "openai:%s", q->conv);
	env = gw_openai_env_new(id, conv, q->user ? q->user : "api", &text,
				history);
out:
	json_decref(history);
	claw_buf_release(&text);
	return env;
}

json_t *gw_openai_responses_parse(const char *body, size_t len,
				  const char **param)
{
	struct resp_req q = {0};
	return gw_openai_parse(body, len, resp_env, &q, &q.fault, param);
}

/* ------------------------------------------------------------ objects */
struct resp_state {
	char id[5 + CONV_HEX + 24 + 1], msg_id[4 + 24 + 1];
	char model[160], user[130], prev[80];
	long long created;
	long long seq; /* streaming: the next sequence_number */
};

static void resp_state_init(struct resp_state *st, const struct resp_req *q)
{
	char rnd[25];
	claw_random_hex(12, rnd);
	snprintf(st->id, sizeof(st->id), "resp_%s%s", q->conv, rnd);
	claw_random_hex(12, rnd);
	snprintf(st->msg_id, sizeof(st->msg_id), "msg_%s", rnd);
	snprintf(st->model, sizeof(st->model), "%s", q->model);
	snprintf(st->user, sizeof(st->user), "%s", q->user ? q->user : "");
	snprintf(st->prev, sizeof(st->prev), "%s", q->prev ? q->prev : "");
	st->created = gw_unix_now();
}

static json_t *part_new(const char *text)
{
	return json_pack("{s:s, s:s, s:[], s:[]}", "type", "output_text",
			 "text", text, "annotations", "logprobs");
}

/* The assistant message: in_progress and empty, or completed with
 * text. */
static json_t *item_new(const struct resp_state *st, const char *text)
{
	json_t *content = json_array();
	if (text)
		json_array_append_new(content, part_new(text));
	return json_pack("{s:s, s:s, s:s, s:s, s:o}", "id", st->msg_id, "type",
			 "message", "status",
			 text ? "completed" : "in_progress", "role",
			 "assistant", "content", content);
}

/* A response object: status, its output (stolen), usage (stolen, may
 * be NULL) and error (stolen, may be NULL). */
static json_t *response_new(const struct resp_state *st, const char *status,
			    json_t *output, json_t *usage, json_t *error)
{
	json_t *o = json_pack(
		"{s:s, s:s, s:I, s:s, s:n, s:n, s:n, s:n, s:s, s:o, "
		"s:b, s:n, s:b, s:n, s:{s:{s:s}}, s:s, s:[], s:n, s:s, s:{}}",
		"id", st->id, "object", "response", "created_at",
		(json_int_t)st->created, "status", status, "error",
		"incomplete_details", "instructions", "max_output_tokens",
		"model", st->model, "output", output ? output : json_array(),
		"parallel_tool_calls", 0, "previous_response_id", "store", 0,
		"temperature", "text", "format", "type", "text", "tool_choice",
		"none", "tools", "top_p", "truncation", "disabled", "metadata");
	if (!o) {
		json_decref(usage);
		json_decref(error);
		return NULL;
	}
	json_object_set_new(o, "usage", usage ? usage : json_null());
	if (error)
		json_object_set_new(o, "error", error);
	if (strcmp(status, "incomplete") == 0)
		json_object_set_new(
			o, "incomplete_details",
			json_pack("{s:s}", "reason", "max_output_tokens"));
	if (st->prev[0])
		json_object_set_new(o, "previous_response_id",
				    json_string(st->prev));
	json_object_set_new(o, "user",
			    st->user[0] ? json_string(st->user) : json_null());
	return o;
}

/* ----------------------------------------------------------- streaming */
/* One event: its type is both the SSE event name and "type". */
static void rs_emit(struct gw_ostream *s, const char *type, json_t *o_steal)
{
	struct resp_state *st = gw_ostream_cls(s);
	if (o_steal) {
		json_object_set_new(o_steal, "type", json_string(type));
		json_object_set_new(o_steal, "sequence_number",
				    json_integer(st->seq++));
	}
	gw_ostream_emit(s, type, o_steal);
}

static void rs_begin(struct gw_ostream *s)
{
	struct resp_state *st = gw_ostream_cls(s);
	rs_emit(s, "response.created",
		json_pack("{s:o}", "response",
			  response_new(st, "in_progress", NULL, NULL, NULL)));
	rs_emit(s, "response.in_progress",
		json_pack("{s:o}", "response",
			  response_new(st, "in_progress", NULL, NULL, NULL)));
	rs_emit(s, "response.output_item.added",
		json_pack("{s:i, s:o}", "output_index", 0, "item",
			  item_new(st, NULL)));
	rs_emit(s, "response.content_part.added",
		json_pack("{s:s, s:i, s:i, s:o}", "item_id", st->msg_id,
			  "output_index", 0, "content_index", 0, "part",
			  part_new("")));
}

static void rs_delta(struct gw_ostream *s, const char *text)
{
	struct resp_state *st = gw_ostream_cls(s);
	if (*text)
		rs_emit(s, "response.output_text.delta",
			json_pack("{s:s, s:i, s:i, s:s, s:[]}", "item_id",
				  st->msg_id, "output_index", 0,
				  "content_index", 0, "delta", text,
				  "logprobs"));
}

static void rs_done(struct gw_ostream *s, const char *reply,
		    const json_t *usage, bool truncated)
{
	struct resp_state *st = gw_ostream_cls(s);
	rs_emit(s, "response.output_text.done",
		json_pack("{s:s, s:i, s:i, s:s, s:[]}", "item_id", st->msg_id,
			  "output_index", 0, "content_index", 0, "text", reply,
			  "logprobs"));
	rs_emit(s, "response.content_part.done",
		json_pack("{s:s, s:i, s:i, s:o}", "item_id", st->msg_id,
			  "output_index", 0, "content_index", 0, "part",
			  part_new(reply)));
	rs_emit(s, "response.output_item.done",
		json_pack("{s:i, s:o}", "output_index", 0, "item",
			  item_new(st, reply)));
	const char *status = truncated ? "incomplete" : "completed";
	char type[40];
	snprintf(type, sizeof(type), "response.%s", status);
	rs_emit(s, type,
		json_pack("{s:o}", "response",
			  response_new(st, status,
				       json_pack("[o]", item_new(st, reply)),
				       gw_openai_usage_new(usage, true),
				       NULL)));
}

static void rs_fail(struct gw_ostream *s)
{
	struct resp_state *st = gw_ostream_cls(s);
	const struct claw_error_def *d = gw_error_def(GW_E_RUNTIME_ERROR);
	rs_emit(s, "response.failed",
		json_pack("{s:o}", "response",
			  response_new(st, "failed", NULL, NULL,
				       json_pack("{s:s, s:s}", "code", d->code,
						 "message",
						 gw_openai_runtime_failed))));
}

static const struct gw_ostream_ops resp_ops = {
	.begin = rs_begin,
	.delta = rs_delta,
	.done = rs_done,
	.fail = rs_fail,
	.release = free,
	.done_marker = false,
};

static json_t *resp_whole(const void *cls, const char *reply,
			  const json_t *usage, bool truncated)
{
	const struct resp_state *st = cls;
	return response_new(st, truncated ? "incomplete" : "completed",
			    json_pack("[o]", item_new(st, reply)),
			    gw_openai_usage_new(usage, true), NULL);
}

static void resp_answer(struct claw_http_req *r, struct gw *g, json_t *env,
			void *arg)
{
	const struct resp_req *q = arg;
	struct resp_state *st = calloc(1, sizeof(*st));
	if (!st) {
		gw_openai_error(r, claw_http_error_def(CLAW_HE_INTERNAL), NULL,
				NULL);
		return;
	}
	resp_state_init(st, q);
	if (q->stream) {
		gw_openai_stream(r, g, env, &resp_ops, st);
	} else {
		gw_openai_whole(r, g, env, resp_whole, st);
		free(st);
	}
}

void gw_openai_responses(struct claw_http_req *r, void *ctx)
{
	struct resp_req q = {.fault.why =
				     "the body is not a Responses API request"};
	gw_openai_serve(r, ctx, resp_env, resp_answer, &q, &q.fault);
}
