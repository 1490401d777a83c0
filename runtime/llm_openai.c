/*
 * llm_openai.c - codec for OpenAI-compatible Chat Completions
 * (POST {base}/chat/completions): request bodies from the neutral shape,
 * whole responses, and "chat.completion.chunk" stream events ending in
 * "data: [DONE]".
 */
#include "llm.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One tool of the neutral shape as the provider wants it. */
static json_t *oa_tool(json_t *t)
{
	return json_pack("{s:s, s:{s:O, s:O, s:O}}", "type", "function",
			 "function", "name", json_object_get(t, "name"),
			 "description", json_object_get(t, "description"),
			 "parameters", json_object_get(t, "input_schema"));
}

static json_t *oa_message(json_t *m)
{
	const char *role = json_string_value(json_object_get(m, "role"));
	json_t *content = json_object_get(m, "content");
	if (role && strcmp(role, "tool") == 0)
		return json_pack(
			"{s:s, s:O, s:O}", "role", "tool", "tool_call_id",
			json_object_get(m, "tool_call_id"), "content", content);
	if (!role || strcmp(role, "assistant") != 0)
		return json_pack("{s:s, s:O}", "role", "user", "content",
				 content);
	json_t *out = json_pack("{s:s}", "role", "assistant");
	json_t *calls = json_object_get(m, "tool_calls");
	const char *text = json_string_value(content);
	json_object_set_new(out, "content",
			    text && *text ? json_string(text) : json_null());
	if (json_array_size(calls)) {
		json_t *tc = json_array(), *c;
		size_t i;
		json_array_foreach(calls, i, c) {
			char *args = json_dumps(json_object_get(c, "arguments"),
						JSON_COMPACT);
			json_array_append_new(
				tc,
				json_pack("{s:O, s:s, s:{s:O, s:s}}", "id",
					  json_object_get(c, "id"), "type",
					  "function", "function", "name",
					  json_object_get(c, "name"),
					  "arguments", args ? args : "{}"));
			free(args);
		}
		json_object_set_new(out, "tool_calls", tc);
	}
	return out;
}

json_t *rt_openai_request(const struct rt_provider_cfg *p,
			  const struct rt_llm_request *req, bool stream)
{
	json_t *msgs = json_array(), *m;
	size_t i;
	if (req->system && *req->system)
		json_array_append_new(msgs,
				      json_pack("{s:s, s:s}", "role", "system",
						"content", req->system));
	json_array_foreach(req->messages, i, m)
		json_array_append_new(msgs, oa_message(m));
	json_t *body =
		json_pack("{s:s, s:o, s:i}", "model", p->model, "messages",
			  msgs, "max_tokens", (json_int_t)p->max_tokens);
	rt_llm_set_tools(body, req->tools, oa_tool);
	if (stream) {
		json_object_set_new(body, "stream", json_true());
		json_object_set_new(body, "stream_options",
				    json_pack("{s:b}", "include_usage", 1));
	}
	return body;
}

static const char *const oa_stops[][2] = {
	{"stop", "end"}, {"length", "max_tokens"}, {NULL, NULL}};

static void oa_stop(const char *reason, char *out, size_t n)
{
	rt_llm_stop(reason, oa_stops, out, n);
}

static void oa_usage(json_t *usage, long *in, long *out)
{
	rt_llm_usage(usage, "prompt_tokens", "completion_tokens", in, out);
}

/* CLAW_ERR_PROTO with why set when root is the provider's error object. */
static enum claw_rc oa_error(json_t *root, char *why, size_t whylen)
{
	json_t *err = json_object_get(root, "error");
	if (!err)
		return CLAW_OK;
	return rt_llm_error(err, why, whylen);
}

enum claw_rc rt_openai_parse(const char *body, size_t len,
			     struct rt_llm_result *res, char *why,
			     size_t whylen)
{
	json_t *root;
	enum claw_rc rc =
		rt_llm_load_object(body, len, NULL, NULL, &root, why, whylen);
	if (rc)
		goto out;
	if ((rc = oa_error(root, why, whylen)))
		goto out;
	rc = CLAW_ERR_PROTO;
	json_t *choice = json_array_get(json_object_get(root, "choices"), 0);
	json_t *msg = json_object_get(choice, "message");
	if (!json_is_object(msg)) {
		snprintf(why, whylen, "the answer has no choices[0].message");
		goto out;
	}
	json_t *content = json_object_get(msg, "content");
	if (content && !json_is_string(content) && !json_is_null(content)) {
		snprintf(why, whylen, "message.content is not a string");
		goto out;
	}
	res->text = strdup(json_is_string(content) ? json_string_value(content)
						   : "");
	json_t *calls = json_array(), *c;
	size_t i;
	json_t *tc = json_object_get(msg, "tool_calls");
	if (tc && !json_is_array(tc) && !json_is_null(tc)) {
		json_decref(calls);
		snprintf(why, whylen, "message.tool_calls is not an array");
		goto out;
	}
	json_array_foreach(tc, i, c) {
		json_t *fn = json_object_get(c, "function");
		json_t *args = json_object_get(fn, "arguments");
		json_array_append_new(
			calls,
			json_pack("{s:O?, s:O?, s:s}", "id",
				  json_object_get(c, "id"), "name",
				  json_object_get(fn, "name"), "args",
				  json_is_string(args) ? json_string_value(args)
						       : ""));
	}
	res->tool_calls = rt_llm_calls_finish(calls);
	json_decref(calls);
	if (!res->text) {
		snprintf(why, whylen, "out of memory");
		rc = CLAW_ERR_NOMEM;
		goto out;
	}
	if (!res->tool_calls) {
		snprintf(why, whylen, "a tool call has no valid name");
		goto out;
	}
	oa_stop(json_string_value(json_object_get(choice, "finish_reason")),
		res->stop, sizeof(res->stop));
	oa_usage(json_object_get(root, "usage"), &res->input_tokens,
		 &res->output_tokens);
	rc = CLAW_OK;
out:
	json_decref(root);
	return rc;
}

/* Append more to the string member key of call ("" when absent), at most
 * max bytes in all. */
static enum claw_rc oa_join(struct rt_llm_stream *s, json_t *call,
			    const char *key, const char *more, size_t max)
{
	return rt_llm_join(s, call, key, more, max,
			   "tool call arguments are too long");
}

/* One element of delta.tool_calls (the i-th): its pieces of id, name and
 * arguments are added to the call at its index. */
static enum claw_rc oa_call_delta(struct rt_llm_stream *s, json_t *tc, size_t i)
{
	json_t *idx = json_object_get(tc, "index");
	json_int_t k =
		json_is_integer(idx) ? json_integer_value(idx) : (json_int_t)i;
	enum claw_rc rc = CLAW_OK;
	if (k < 0 || k > 128) {
		snprintf(s->why, sizeof(s->why),
			 "a tool call index is out of range");
		return CLAW_ERR_PROTO;
	}
	while (json_array_size(s->calls) <= (size_t)k)
		json_array_append_new(s->calls, json_pack("{s:s}", "args", ""));
	json_t *call = json_array_get(s->calls, (size_t)k);
	json_t *fn = json_object_get(tc, "function");
	const char *id = json_string_value(json_object_get(tc, "id"));
	const char *name = json_string_value(json_object_get(fn, "name"));
	const char *args = json_string_value(json_object_get(fn, "arguments"));
	if (id)
		json_object_set_new(call, "id", json_string(id));
	if (name)
		rc = oa_join(s, call, "name", name, SIZE_MAX);
	if (!rc && args && *args)
		rc = oa_join(s, call, "args", args, 1u << 20);
	return rc;
}

/* One "data:" payload of a streamed answer. */
enum claw_rc rt_openai_stream_event(struct rt_llm_stream *s, const char *data,
				    size_t len)
{
	if (len == 6 && memcmp(data, "[DONE]", 6) == 0) {
		s->done = true;
		return CLAW_OK;
	}
	json_t *root;
	enum claw_rc rc = rt_llm_load_object(
		data, len, NULL, "a stream chunk is not a JSON object", &root,
		s->why, sizeof(s->why));
	if (rc)
		goto out;
	if ((rc = oa_error(root, s->why, sizeof(s->why))))
		goto out;
	json_t *usage = json_object_get(root, "usage");
	if (json_is_object(usage))
		oa_usage(usage, &s->input_tokens, &s->output_tokens);
	json_t *choice = json_array_get(json_object_get(root, "choices"), 0);
	json_t *delta = json_object_get(choice, "delta");
	const char *fr =
		json_string_value(json_object_get(choice, "finish_reason"));
	oa_stop(fr, s->stop, sizeof(s->stop));
	const char *text = json_string_value(json_object_get(delta, "content"));
	if (text && *text && (rc = rt_llm_stream_text(s, text)))
		goto out;
	json_t *tcs = json_object_get(delta, "tool_calls"), *tc;
	size_t i;
	json_array_foreach(tcs, i, tc) {
		if ((rc = oa_call_delta(s, tc, i)))
			goto out;
	}
out:
	json_decref(root);
	return rc;
}
