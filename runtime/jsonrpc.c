/*
 * jsonrpc.c - classify JSON-RPC 2.0 messages; see jsonrpc.h.
 */
#include "jsonrpc.h"

#include <stdio.h>
#include <string.h>

enum claw_rc rt_jsonrpc_classify(json_t *v, struct rt_jsonrpc_msg *out,
				 char *why, size_t whylen)
{
	memset(out, 0, sizeof(*out));
	if (!json_is_object(v)) {
		snprintf(why, whylen, "a message is not a JSON object");
		return CLAW_ERR_PROTO;
	}
	const char *ver = json_string_value(json_object_get(v, "jsonrpc"));
	if (!ver || strcmp(ver, "2.0") != 0) {
		snprintf(why, whylen, "a message lacks \"jsonrpc\": \"2.0\"");
		return CLAW_ERR_PROTO;
	}
	json_t *id = json_object_get(v, "id");
	json_t *method = json_object_get(v, "method");
	json_t *result = json_object_get(v, "result");
	json_t *error = json_object_get(v, "error");
	if (id && !json_is_integer(id) && !json_is_string(id) &&
	    !(json_is_null(id) && error)) {
		snprintf(why, whylen, "a message id is not a number or string");
		return CLAW_ERR_PROTO;
	}
	if (method) {
		if (!json_is_string(method) || !json_string_length(method) ||
		    result || error) {
			snprintf(why, whylen, "a request has a bad method");
			return CLAW_ERR_PROTO;
		}
		json_t *params = json_object_get(v, "params");
		if (params && !json_is_object(params) &&
		    !json_is_array(params)) {
			snprintf(why, whylen, "params is not an object");
			return CLAW_ERR_PROTO;
		}
		out->kind = id ? RT_JSONRPC_REQUEST : RT_JSONRPC_NOTIFICATION;
		out->method = json_string_value(method);
		out->params = params;
	} else if (result && !error && id) {
		out->kind = RT_JSONRPC_RESULT;
		out->result = result;
	} else if (error && !result) {
		json_t *code = json_object_get(error, "code");
		json_t *msg = json_object_get(error, "message");
		if (!json_is_integer(code) || !json_is_string(msg)) {
			snprintf(why, whylen, "an error lacks code or message");
			return CLAW_ERR_PROTO;
		}
		out->kind = RT_JSONRPC_ERROR;
		out->error_code = (long)json_integer_value(code);
		out->error_message = json_string_value(msg);
	} else {
		snprintf(why, whylen,
			 "a message is neither a request nor a "
			 "response");
		return CLAW_ERR_PROTO;
	}
	out->id = json_is_null(id) ? NULL : id;
	out->root = json_incref(v);
	return CLAW_OK;
}

enum claw_rc rt_jsonrpc_parse(const char *data, size_t len,
			      struct rt_jsonrpc_msg *out, char *why,
			      size_t whylen)
{
	json_error_t jerr;
	json_t *v = json_loadb(data, len, 0, &jerr);
	if (!v) {
		memset(out, 0, sizeof(*out));
		snprintf(why, whylen, "a message is not JSON: %.100s",
			 jerr.text);
		return CLAW_ERR_PARSE;
	}
	enum claw_rc rc = rt_jsonrpc_classify(v, out, why, whylen);
	json_decref(v);
	return rc;
}

void rt_jsonrpc_release(struct rt_jsonrpc_msg *m)
{
	json_decref(m->root);
	memset(m, 0, sizeof(*m));
}
