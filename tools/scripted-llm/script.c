/*
 * script.c - the scripted LLM's decisions; see script.h.
 */
#include "script.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Text of a message's content: a string, or the text parts of an array. */
static char *content_text(const json_t *content)
{
	if (json_is_string(content))
		return strdup(json_string_value(content));
	if (!json_is_array(content))
		return NULL;
	size_t i, len = 0;
	json_t *part;
	json_array_foreach (content, i, part) {
		const char *t =
			json_string_value(json_object_get(part, "text"));
		len += t ? strlen(t) : 0;
	}
	char *s = malloc(len + 1);
	size_t at = 0;
	if (!s)
		return NULL;
	json_array_foreach (content, i, part) {
		const char *t =
			json_string_value(json_object_get(part, "text"));
		size_t n = t ? strlen(t) : 0;
		/* cannot happen: len counted the same parts */
		if (n > len - at)
			n = len - at;
		memcpy(s + at, t ? t : "", n);
		at += n;
	}
	s[at] = '\0';
	return s;
}

static json_int_t estimate_tokens(const json_t *messages)
{
	size_t i, chars = 0;
	json_t *m;
	json_array_foreach (messages, i, m) {
		char *t = content_text(json_object_get(m, "content"));
		chars += t ? strlen(t) : 0;
		free(t);
	}
	return (json_int_t)chars / 4 + 1;
}

static const json_t *find_tool(const json_t *tools, const char *name,
			       size_t len)
{
	size_t i;
	json_t *t;
	json_array_foreach (tools, i, t) {
		const char *n = json_string_value(json_object_get(
			json_object_get(t, "function"), "name"));
		if (n && strlen(n) == len && strncmp(n, name, len) == 0)
			return t;
	}
	return NULL;
}

/* "use tool NAME {json}" in text: fill the tool call. 1 when found. */
static int tool_request(const char *text, const json_t *tools,
			struct sllm_turn *out)
{
	const char *p = strstr(text, "use tool ");
	if (!p || !json_is_array(tools))
		return 0;
	p += strlen("use tool ");
	size_t len = strcspn(p, " \t\n{");
	if (!len || !find_tool(tools, p, len))
		return 0;
	const char *args = strchr(p + len, '{');
	json_t *parsed = args ? json_loads(args, JSON_DISABLE_EOF_CHECK, NULL)
			      : json_object();
	if (!json_is_object(parsed)) {
		json_decref(parsed);
		parsed = json_object();
	}
	out->tool_name = strndup(p, len);
	out->tool_arguments = json_dumps(parsed, JSON_COMPACT);
	json_decref(parsed);
	return 1;
}

int sllm_decide(const json_t *req, struct sllm_turn *out, char *err,
		size_t errlen)
{
	memset(out, 0, sizeof(*out));
	const json_t *messages = json_object_get(req, "messages");
	if (!json_is_string(json_object_get(req, "model"))) {
		snprintf(err, errlen, "you must provide a model parameter");
		return -1;
	}
	if (!json_is_array(messages) || json_array_size(messages) == 0) {
		snprintf(err, errlen,
			 "'messages' must be a non-empty array of messages");
		return -1;
	}
	size_t n = json_array_size(messages);
	const json_t *last = json_array_get(messages, n - 1);
	const char *role = json_string_value(json_object_get(last, "role"));
	if (!role) {
		snprintf(err, errlen, "messages[%zu] is missing 'role'", n - 1);
		return -1;
	}
	out->prompt_tokens = estimate_tokens(messages);
	char *text = content_text(json_object_get(last, "content"));
	if (strcmp(role, "tool") == 0) {
		size_t sz =
			strlen("tool result: ") + (text ? strlen(text) : 0) + 1;
		out->content = malloc(sz);
		if (out->content)
			snprintf(out->content, sz, "tool result: %s",
				 text ? text : "");
	} else if (text &&
		   tool_request(text, json_object_get(req, "tools"), out)) {
		/* a tool call */
	} else {
		size_t sz = strlen("echo: ") + (text ? strlen(text) : 0) + 1;
		out->content = malloc(sz);
		if (out->content)
			snprintf(out->content, sz, "echo: %s",
				 text ? text : "");
	}
	free(text);
	if (!out->content && !out->tool_name) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	const char *o = out->content ? out->content : out->tool_arguments;
	out->completion_tokens = (json_int_t)strlen(o ? o : "") / 4 + 1;
	return 0;
}

void sllm_turn_release(struct sllm_turn *t)
{
	free(t->content);
	free(t->tool_name);
	free(t->tool_arguments);
	memset(t, 0, sizeof(*t));
}
