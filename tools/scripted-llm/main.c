/*
 * main.c - claw-scripted-llm: a deterministic LLM provider that speaks the
 * OpenAI Chat Completions API (plain and streamed, with tool calls), so the
 * platform's first chat works offline and the end-to-end tests have a
 * provider they can reason about. It is labelled as scripted everywhere it
 * shows: its model is "scripted" and every answer follows script.h.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "claw/buf.h"
#include "claw/cfg.h"
#include "claw/crypto.h"
#include "claw/daemon.h"
#include "claw/httpd.h"
#include "claw/log.h"
#include "script.h"

struct sllm {
	char *listen;
	char *api_key_file;
	char *api_key; /* contents of api_key_file, or NULL: no auth */
	char *log_level;
};

/* OpenAI's error shape: {"error":{"message","type","param","code"}}. */
static void openai_error(struct claw_http_req *r, unsigned status,
			 const char *type, const char *code, const char *msg)
{
	claw_http_reply_json(r, status,
			     json_pack("{s:{s:s,s:s,s:n,s:s?}}", "error",
				       "message", msg, "type", type, "param",
				       "code", code));
}

static int check_key(struct claw_http_req *r, const struct sllm *s)
{
	if (!s->api_key)
		return 0;
	const char *h = claw_http_header(r, "Authorization");
	if (h && strncmp(h, "Bearer ", 7) == 0 &&
	    claw_ct_streq(h + 7, s->api_key))
		return 0;
	openai_error(r, 401, "invalid_request_error", "invalid_api_key",
		     "Incorrect API key provided.");
	return -1;
}

static json_t *message_json(const struct sllm_turn *t)
{
	if (t->content)
		return json_pack("{s:s,s:s}", "role", "assistant", "content",
				 t->content);
	return json_pack("{s:s,s:n,s:[{s:s,s:s,s:{s:s,s:s}}]}", "role",
			 "assistant", "content", "tool_calls", "id",
			 "call_scripted_1", "type", "function", "function",
			 "name", t->tool_name, "arguments", t->tool_arguments);
}

static json_t *usage_json(const struct sllm_turn *t)
{
	return json_pack("{s:I,s:I,s:I}", "prompt_tokens", t->prompt_tokens,
			 "completion_tokens", t->completion_tokens,
			 "total_tokens",
			 t->prompt_tokens + t->completion_tokens);
}

static void chunk(struct claw_buf *out, const char *model, json_t *delta,
		  const char *finish, json_t *usage)
{
	json_t *c = json_pack(
		"{s:s,s:s,s:I,s:s,s:[{s:i,s:o,s:s?}]}", "id",
		"chatcmpl-scripted", "object", "chat.completion.chunk",
		"created", (json_int_t)time(NULL), "model", model, "choices",
		"index", 0, "delta", delta, "finish_reason", finish);
	if (c && usage)
		json_object_set_new(c, "usage", usage);
	else
		json_decref(usage);
	char *s = c ? json_dumps(c, JSON_COMPACT) : NULL;
	json_decref(c);
	if (s)
		claw_buf_printf(out, "data: %s\n\n", s);
	free(s);
}

struct stream {
	char *data;
	size_t len, pos;
};

static ssize_t stream_read(void *cls, char *out, size_t max)
{
	struct stream *st = cls;
	if (st->pos >= st->len)
		return -1;
	size_t n = st->len - st->pos < max ? st->len - st->pos : max;
	memcpy(out, st->data + st->pos, n);
	st->pos += n;
	return (ssize_t)n;
}

static void stream_free(void *cls)
{
	struct stream *st = cls;
	free(st->data);
	free(st);
}

/* The streamed turn: the role, the content in pieces of a few words (or
 * the tool call), the finish reason, usage when asked, then [DONE]. */
static void reply_streamed(struct claw_http_req *r, const char *model,
			   const struct sllm_turn *t, bool with_usage)
{
	struct claw_buf out;
	claw_buf_init(&out, 0);
	chunk(&out, model, json_pack("{s:s}", "role", "assistant"), NULL, NULL);
	if (t->content) {
		const char *p = t->content;
		while (*p) {
			size_t n = strcspn(p + 1, " ") + 1;
			chunk(&out, model, json_pack("{s:s%}", "content", p, n),
			      NULL, NULL);
			p += n;
		}
	} else {
		chunk(&out, model,
		      json_pack("{s:[{s:i,s:s,s:s,s:{s:s,s:s}}]}", "tool_calls",
				"index", 0, "id", "call_scripted_1", "type",
				"function", "function", "name", t->tool_name,
				"arguments", t->tool_arguments),
		      NULL, NULL);
	}
	chunk(&out, model, json_object(), t->content ? "stop" : "tool_calls",
	      NULL);
	if (with_usage) {
		json_t *c = json_pack("{s:s,s:s,s:I,s:s,s:[],s:o}", "id",
				      "chatcmpl-scripted", "object",
				      "chat.completion.chunk", "created",
				      (json_int_t)time(NULL), "model", model,
				      "choices", "usage", usage_json(t));
		char *s = c ? json_dumps(c, JSON_COMPACT) : NULL;
		if (s)
			claw_buf_printf(&out, "data: %s\n\n", s);
		free(s);
		json_decref(c);
	}
	claw_buf_puts(&out, "data: [DONE]\n\n");
	struct stream *st = calloc(1, sizeof(*st));
	if (!st) {
		claw_buf_release(&out);
		openai_error(r, 500, "server_error", NULL, "out of memory");
		return;
	}
	st->len = out.len;
	st->data = claw_buf_steal(&out);
	claw_http_reply_stream(r, 200, "text/event-stream", stream_read, st,
			       stream_free);
}

static void h_completions(struct claw_http_req *r, void *ctx)
{
	struct sllm *s = ctx;
	if (check_key(r, s))
		return;
	size_t len;
	const char *body = claw_http_body(r, &len);
	json_error_t jerr;
	json_t *req = json_loadb(body, len, 0, &jerr);
	if (!json_is_object(req)) {
		json_decref(req);
		openai_error(r, 400, "invalid_request_error", NULL,
			     "We could not parse the JSON body of your "
			     "request.");
		return;
	}
	struct sllm_turn t;
	char err[256];
	if (sllm_decide(req, &t, err, sizeof(err))) {
		json_decref(req);
		openai_error(r, 400, "invalid_request_error", NULL, err);
		return;
	}
	const char *model = json_string_value(json_object_get(req, "model"));
	if (t.status) {
		openai_error(r, (unsigned)t.status, "server_error", NULL,
			     t.content);
	} else if (json_is_true(json_object_get(req, "stream"))) {
		json_t *so = json_object_get(req, "stream_options");
		reply_streamed(
			r, model, &t,
			json_is_true(json_object_get(so, "include_usage")));
	} else {
		claw_http_reply_json(
			r, 200,
			json_pack("{s:s,s:s,s:I,s:s,s:[{s:i,s:o,s:s}],s:o}",
				  "id", "chatcmpl-scripted", "object",
				  "chat.completion", "created",
				  (json_int_t)time(NULL), "model", model,
				  "choices", "index", 0, "message",
				  message_json(&t), "finish_reason",
				  t.content ? "stop" : "tool_calls", "usage",
				  usage_json(&t)));
	}
	sllm_turn_release(&t);
	json_decref(req);
}

static void h_models(struct claw_http_req *r, void *ctx)
{
	if (check_key(r, ctx))
		return;
	claw_http_reply_json(r, 200,
			     json_pack("{s:s,s:[{s:s,s:s,s:i,s:s}]}", "object",
				       "list", "data", "id", "scripted",
				       "object", "model", "created", 0,
				       "owned_by", "claw"));
}

static void h_healthz(struct claw_http_req *r, void *ctx)
{
	(void)ctx;
	claw_http_reply_json(r, 200, json_pack("{s:s}", "status", "ok"));
}

static const struct claw_route routes[] = {
	{"POST", "/v1/chat/completions", h_completions, NULL},
	{"GET", "/v1/models", h_models, NULL},
	{"GET", "/healthz", h_healthz, NULL},
};

static char *read_key(const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		snprintf(err, errlen, "unable to open api key file '%s'", path);
		return NULL;
	}
	char line[512];
	char *key = NULL;
	if (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\r\n")] = '\0';
		if (line[0])
			key = strdup(line);
	}
	fclose(f);
	if (!key)
		snprintf(err, errlen, "api key file '%s' is empty", path);
	return key;
}

int main(int argc, char **argv)
{
	struct sllm s = {0};
	const struct claw_cfg_opt opts[] = {
		{"listen", CLAW_CFG_STRING, &s.listen, "127.0.0.1:8090", 0, 0,
		 "address and port to serve the OpenAI-compatible API on"},
		{"api-key-file", CLAW_CFG_STRING, &s.api_key_file, NULL, 0, 0,
		 "file holding the API key clients must send as a bearer "
		 "token (unset: no key needed)"},
		{"log-level", CLAW_CFG_STRING, &s.log_level, "info", 0, 0,
		 "debug, info, warn or error"},
		{NULL, 0, NULL, NULL, 0, 0, NULL},
	};
	char err[512];
	int rc = 1;
	switch (claw_cfg_load(
		opts, "SCRIPTED_LLM",
		"claw-scripted-llm: a scripted, offline LLM "
		"provider speaking the OpenAI Chat Completions "
		"API (POST /v1/chat/completions, GET /v1/models). "
		"It echoes the last user message, calls a tool "
		"when asked \"use tool NAME {args}\", and reports "
		"tool results. For first runs and tests, not for "
		"real conversations.",
		argc, argv, err, sizeof(err))) {
	case CLAW_CFG_HELP:
		return 0;
	case CLAW_CFG_ERROR:
		fprintf(stderr, "claw-scripted-llm: %s\n", err);
		return 2;
	case CLAW_CFG_OK:
		break;
	}
	int level = claw_log_level_parse(s.log_level);
	if (level < 0) {
		fprintf(stderr, "claw-scripted-llm: unknown log level '%s'\n",
			s.log_level);
		rc = 2;
		goto out;
	}
	claw_log_init("scripted-llm", (enum claw_log_level)level, NULL);
	claw_crypto_init();
	if (s.api_key_file &&
	    !(s.api_key = read_key(s.api_key_file, err, sizeof(err)))) {
		fprintf(stderr, "claw-scripted-llm: %s\n", err);
		rc = 2;
		goto out;
	}
	struct claw_httpd_config hc = {
		.listen = s.listen,
		.routes = routes,
		.n_routes = sizeof(routes) / sizeof(routes[0]),
		.ctx = &s,
	};
	/* the HTTP server's 5 s grace, and some slack */
	const struct claw_daemon_config dc = {.stop_timeout_ms = 10000};
	struct claw_httpd *h;
	if (claw_daemon_init(&dc)) {
		fprintf(stderr, "claw-scripted-llm: unable to block signals\n");
		goto out;
	}
	if (claw_httpd_start(&hc, &h, err, sizeof(err))) {
		fprintf(stderr, "claw-scripted-llm: %s\n", err);
		goto out;
	}
	log_info("scripted LLM listening on port %u", claw_httpd_port(h));
	claw_daemon_set_ready(true);
	rc = claw_daemon_run() ? 1 : 0;
	claw_httpd_shutdown(h, 5000);
	claw_daemon_stopped();
out:
	free(s.api_key);
	claw_cfg_release(opts);
	return rc;
}
