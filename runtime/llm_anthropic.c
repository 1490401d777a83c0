/*
 * llm_anthropic.c - codec for Anthropic Messages (POST {base}/v1/messages):
 * request bodies with tool_use/tool_result blocks, whole responses, and the
 * stream events message_start, content_block_start/_delta/_stop,
 * message_delta, message_stop, ping and error.
 */
#include "llm.h"

#include <stdio.h>
#include <string.h>

/* Add blocks as one message of role, merged into the last message when it
 * has the same role (the API wants alternating roles). */
static void an_push(json_t *msgs, const char *role, json_t *blocks_steal)
{
	json_t *last = json_array_get(msgs, json_array_size(msgs) - 1);
	const char *lr = json_string_value(json_object_get(last, "role"));
	if (lr && strcmp(lr, role) == 0)
		json_array_extend(json_object_get(last, "content"),
				  blocks_steal);
	else
		json_array_append_new(msgs,
				      json_pack("{s:s, s:O}", "role", role,
						"content", blocks_steal));
	json_decref(blocks_steal);
}

/* One tool of the neutral shape as the provider wants it. */
static json_t *an_tool(json_t *t)
{
	return json_pack("{s:O, s:O, s:O}", "name", json_object_get(t, "name"),
			 "description", json_object_get(t, "description"),
			 "input_schema", json_object_get(t, "input_schema"));
}

static void an_message(json_t *msgs, json_t *m)
{
	const char *role = json_string_value(json_object_get(m, "role"));
	const char *text = json_string_value(json_object_get(m, "content"));
	json_t *blocks = json_array();
	if (role && strcmp(role, "tool") == 0) {
		json_array_append_new(
			blocks,
			json_pack(
				"{s:s, s:O, s:s, s:b}", "type", "tool_result",
				"tool_use_id",
				json_object_get(m, "tool_call_id"), "content",
				text ? text : "", "is_error",
				json_is_true(json_object_get(m, "is_error"))));
		an_push(msgs, "user", blocks);
		return;
	}
	if (!role || strcmp(role, "assistant") != 0) {
		json_array_append_new(blocks,
				      json_pack("{s:s, s:s}", "type", "text",
						"text",
						text && *text ? text : "."));
		an_push(msgs, "user", blocks);
		return;
	}
	json_t *calls = json_object_get(m, "tool_calls"), *c;
	size_t i;
	if (text && *text)
		json_array_append_new(
			blocks,
			json_pack("{s:s, s:s}", "type", "text", "text", text));
	json_array_foreach(calls, i, c)
		json_array_append_new(
			blocks,
			json_pack("{s:s, s:O, s:O, s:O}", "type", "tool_use",
				  "id", json_object_get(c, "id"), "name",
				  json_object_get(c, "name"), "input",
				  json_object_get(c, "arguments")));
	if (!json_array_size(blocks))
		json_array_append_new(
			blocks,
			json_pack("{s:s, s:s}", "type", "text", "text", "."));
	an_push(msgs, "assistant", blocks);
}

json_t *rt_anthropic_request(const struct rt_provider_cfg *p,
			     const struct rt_llm_request *req, bool stream)
{
	json_t *msgs = json_array(), *m;
	size_t i;
	json_array_foreach(req->messages, i, m)
		an_message(msgs, m);
	json_t *body =
		json_pack("{s:s, s:i, s:o}", "model", p->model, "max_tokens",
			  (json_int_t)p->max_tokens, "messages", msgs);
	if (req->system && *req->system)
		json_object_set_new(body, "system", json_string(req->system));
	rt_llm_set_tools(body, req->tools, an_tool);
	if (stream)
		json_object_set_new(body, "stream", json_true());
	return body;
}

static const char *const an_stops[][2] = {{"end_turn", "end"},
					  {"stop_sequence", "end"},
					  {"tool_use", "tool_calls"},
					  {NULL, NULL}};

static void an_stop(const char *reason, char *out, size_t n)
{
	rt_llm_stop(reason, an_stops, out, n);
}

static void an_usage(json_t *usage, long *in, long *out)
{
	rt_llm_usage(usage, "input_tokens", "output_tokens", in, out);
}

/* CLAW_ERR_PROTO with why set when root is the provider's error object. */
static enum claw_rc an_error(json_t *root, char *why, size_t whylen)
{
	const char *type = json_string_value(json_object_get(root, "type"));
	if (!type || strcmp(type, "error") != 0)
		return CLAW_OK;
	return rt_llm_error(json_object_get(root, "error"), why, whylen);
}

enum claw_rc rt_anthropic_parse(const char *body, size_t len,
				struct rt_llm_result *res, char *why,
				size_t whylen)
{
	struct claw_buf text;
	enum claw_rc rc;
	claw_buf_init(&text, 0);
	json_t *calls = json_array(), *b, *root;
	if ((rc = rt_llm_load_object(body, len, NULL, NULL, &root, why,
				     whylen)))
		goto out;
	if ((rc = an_error(root, why, whylen)))
		goto out;
	rc = CLAW_ERR_PROTO;
	json_t *content = json_object_get(root, "content");
	if (!json_is_array(content)) {
		snprintf(why, whylen, "the answer has no content array");
		goto out;
	}
	size_t i;
	json_array_foreach(content, i, b) {
		const char *type =
			json_string_value(json_object_get(b, "type"));
		if (type && strcmp(type, "text") == 0) {
			const char *t =
				json_string_value(json_object_get(b, "text"));
			if (!t) {
				snprintf(why, whylen,
					 "a text block has no text");
				goto out;
			}
			if (claw_buf_puts(&text, t)) {
				snprintf(why, whylen, "out of memory");
				rc = CLAW_ERR_NOMEM;
				goto out;
			}
		} else if (type && strcmp(type, "tool_use") == 0) {
			json_t *input = json_object_get(b, "input");
			char *args =
				input ? json_dumps(input, JSON_COMPACT) : NULL;
			json_array_append_new(
				calls,
				json_pack("{s:O?, s:O?, s:s}", "id",
					  json_object_get(b, "id"), "name",
					  json_object_get(b, "name"), "args",
					  args ? args : ""));
			free(args);
		}
	}
	res->tool_calls = rt_llm_calls_finish(calls);
	if (!res->tool_calls) {
		snprintf(why, whylen, "a tool call has no valid name");
		goto out;
	}
	res->text = claw_buf_steal(&text);
	an_stop(json_string_value(json_object_get(root, "stop_reason")),
		res->stop, sizeof(res->stop));
	an_usage(json_object_get(root, "usage"), &res->input_tokens,
		 &res->output_tokens);
	rc = CLAW_OK;
out:
	claw_buf_release(&text);
	json_decref(calls);
	json_decref(root);
	return rc;
}

static enum claw_rc an_block_start(struct rt_llm_stream *s, json_t *root)
{
	json_t *blk = json_object_get(root, "content_block");
	json_t *idx = json_object_get(root, "index");
	const char *type = json_string_value(json_object_get(blk, "type"));
	if (!json_is_integer(idx) || json_integer_value(idx) < 0 ||
	    json_integer_value(idx) > 256 || !type) {
		snprintf(s->why, sizeof(s->why),
			 "content_block_start without index or type");
		return CLAW_ERR_PROTO;
	}
	char key[24];
	snprintf(key, sizeof(key), "%lld", (long long)json_integer_value(idx));
	if (strcmp(type, "tool_use") == 0) {
		json_object_set_new(
			s->blocks, key,
			json_integer((json_int_t)json_array_size(s->calls)));
		json_array_append_new(
			s->calls,
			json_pack("{s:O?, s:O?, s:s}", "id",
				  json_object_get(blk, "id"), "name",
				  json_object_get(blk, "name"), "args", ""));
	} else if (strcmp(type, "text") == 0) {
		const char *t = json_string_value(json_object_get(blk, "text"));
		if (t && *t)
			return rt_llm_stream_text(s, t);
	}
	return CLAW_OK;
}

static enum claw_rc an_block_delta(struct rt_llm_stream *s, json_t *root)
{
	json_t *delta = json_object_get(root, "delta");
	const char *type = json_string_value(json_object_get(delta, "type"));
	if (!type) {
		snprintf(s->why, sizeof(s->why),
			 "content_block_delta without a delta type");
		return CLAW_ERR_PROTO;
	}
	if (strcmp(type, "text_delta") == 0) {
		const char *t =
			json_string_value(json_object_get(delta, "text"));
		if (!t) {
			snprintf(s->why, sizeof(s->why),
				 "text_delta without text");
			return CLAW_ERR_PROTO;
		}
		return rt_llm_stream_text(s, t);
	}
	if (strcmp(type, "input_json_delta") != 0)
		return CLAW_OK; /* thinking and signature: not shown */
	char key[24];
	json_t *idx = json_object_get(root, "index");
	snprintf(key, sizeof(key), "%lld",
		 json_is_integer(idx) ? (long long)json_integer_value(idx)
				      : -1LL);
	json_t *ci = json_object_get(s->blocks, key);
	const char *part =
		json_string_value(json_object_get(delta, "partial_json"));
	json_t *call = json_array_get(s->calls, (size_t)json_integer_value(ci));
	if (!ci || !call || !part) {
		snprintf(s->why, sizeof(s->why),
			 "input_json_delta for no tool_use block");
		return CLAW_ERR_PROTO;
	}
	return rt_llm_join(s, call, "args", part, 1u << 20,
			   "tool input is too long");
}

/* One event of a streamed answer (the type is in the data as well). */
enum claw_rc rt_anthropic_stream_event(struct rt_llm_stream *s,
				       const char *data, size_t len)
{
	json_t *root;
	enum claw_rc rc = rt_llm_load_object(
		data, len, "type",
		"a stream event is not a JSON object with a type", &root,
		s->why, sizeof(s->why));
	if (rc)
		goto out;
	const char *type = json_string_value(json_object_get(root, "type"));
	if ((rc = an_error(root, s->why, sizeof(s->why))))
		goto out;
	if (strcmp(type, "message_start") == 0) {
		an_usage(json_object_get(json_object_get(root, "message"),
					 "usage"),
			 &s->input_tokens, &s->output_tokens);
	} else if (strcmp(type, "content_block_start") == 0) {
		rc = an_block_start(s, root);
	} else if (strcmp(type, "content_block_delta") == 0) {
		rc = an_block_delta(s, root);
	} else if (strcmp(type, "message_delta") == 0) {
		an_stop(json_string_value(json_object_get(
				json_object_get(root, "delta"), "stop_reason")),
			s->stop, sizeof(s->stop));
		an_usage(json_object_get(root, "usage"), &s->input_tokens,
			 &s->output_tokens);
	} else if (strcmp(type, "message_stop") == 0) {
		s->done = true;
	}
out:
	json_decref(root);
	return rc;
}
