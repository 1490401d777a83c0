/*
 * script.c - the scripted LLM's decisions; see script.h.
 */
#include "script.h"

#include <stdbool.h>
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
	json_array_foreach(content, i, part) {
		const char *t =
			json_string_value(json_object_get(part, "text"));
		len += t ? strlen(t) : 0;
	}
	char *s = malloc(len + 1);
	size_t at = 0;
	if (!s)
		return NULL;
	json_array_foreach(content, i, part) {
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
	json_array_foreach(messages, i, m) {
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
	json_array_foreach(tools, i, t) {
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

#define SUMMARY_MARK "Summarise the conversation below."
#define SUMMARY_LINE_MAX 60

/* Append at most n bytes of s (shorter: all of it) to out (of cap bytes, kept terminated),
 * cut back to a UTF-8 character boundary. */
static void put(char *out, size_t cap, const char *s, size_t n)
{
	size_t len = strlen(out), slen = strnlen(s, n + 1);
	if (len + 1 >= cap)
		return;
	if (n > slen)
		n = slen;
	if (n > cap - 1 - len)
		n = cap - 1 - len;
	while (n > 0 && n < slen && ((unsigned char)s[n] & 0xC0) == 0x80)
		n--;
	memcpy(out + len, s, n);
	out[len + n] = '\0';
}

/* The summary answer for a compaction request's text (caller frees). */
static char *summary_of(const char *text)
{
	char *out = calloc(1, SLLM_SUMMARY_MAX + 1);
	const char *earlier = strstr(text, "Summary of what came before it:\n");
	const char *conv = strstr(text, "Conversation:\n");
	bool first = true;
	if (!out)
		return NULL;
	put(out, SLLM_SUMMARY_MAX + 1, "summary: ", 9);
	if (earlier) {
		earlier += strlen("Summary of what came before it:\n");
		size_t n = strcspn(earlier, "\n");
		put(out, SLLM_SUMMARY_MAX + 1, "earlier: ", 9);
		put(out, SLLM_SUMMARY_MAX + 1, earlier, n < 100 ? n : 100);
		first = false;
	}
	for (const char *p = conv; p && *p;) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		if (len > 6 && strncmp(p, "user: ", 6) == 0) {
			if (!first)
				put(out, SLLM_SUMMARY_MAX + 1, " | ", 3);
			first = false;
			put(out, SLLM_SUMMARY_MAX + 1, p + 6,
			    len - 6 < SUMMARY_LINE_MAX ? len - 6
						       : SUMMARY_LINE_MAX);
		}
		p = nl ? nl + 1 : NULL;
	}
	return out;
}

/* The answer to SHOW_SYSTEM: "system: " and the first SLLM_SYSTEM_MAX bytes
 * of the first message's text when its role is "system", else "system: "
 * alone (caller frees). */
static char *system_of(const json_t *messages)
{
	const json_t *first = json_array_get(messages, 0);
	const char *role = json_string_value(json_object_get(first, "role"));
	char *text = role && strcmp(role, "system") == 0
		? content_text(json_object_get(first, "content"))
		: NULL;
	char *out = calloc(1, SLLM_SYSTEM_MAX + 9);
	if (out) {
		put(out, SLLM_SYSTEM_MAX + 9, "system: ", 8);
		if (text)
			put(out, SLLM_SYSTEM_MAX + 9, text, SLLM_SYSTEM_MAX);
	}
	free(text);
	return out;
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
	const char *model = json_string_value(json_object_get(req, "model"));
	if (strcmp(model, SLLM_UNAVAILABLE) == 0) {
		out->status = 503;
		out->content = strdup("The scripted model is unavailable (by "
				      "its script).");
	} else if (strcmp(role, "user") == 0 && text &&
		   strncmp(text, SUMMARY_MARK, strlen(SUMMARY_MARK)) == 0) {
		out->content = summary_of(text);
	} else if (strcmp(role, "user") == 0 && text &&
		   strcmp(text, SLLM_SHOW_SYSTEM) == 0) {
		out->content = system_of(messages);
	} else if (strcmp(role, "user") == 0 && text &&
		   strcmp(text, SLLM_SHOW_MAX_TOKENS) == 0) {
		json_t *mt = json_object_get(req, "max_tokens");

		out->content = malloc(48);
		if (out->content && json_is_integer(mt))
			snprintf(out->content, 48, "max_tokens: %lld",
				 (long long)json_integer_value(mt));
		else if (out->content)
			snprintf(out->content, 48, "max_tokens: none");
	} else if (strcmp(role, "tool") == 0) {
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
