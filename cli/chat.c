/*
 * chat.c - "clawctl chat TENANT [MESSAGE]": talk to a tenant's agent
 * through its gateway's OpenAI-compatible endpoint (docs/gateway.md,
 * "OpenAI-compatible endpoints"): POST {base}/chat/completions with
 * "stream": true, the reply printed as its chunks arrive.
 *
 * One MESSAGE: one turn. Without it, an interactive session: each line of
 * stdin is a turn (a prompt on stderr at a terminal), the conversation
 * (user and assistant messages) kept here and sent whole with each turn,
 * as OpenAI clients do; EOF ends it.
 *
 * Two ways to reach it (docs/clawctl.md):
 *   - through the control plane's chat relay (POST
 *     /v1/tenants/{t}/chat/completions with clawctl's own token; the
 *     control plane adds the tenant's key, which nobody has to handle):
 *     the default;
 *   - straight to the gateway with the tenant's openai_api_token from
 *     --key-file (or CLAW_CHAT_KEY_FILE): --endpoint URL, else the control
 *     plane's view of the tenant (GET /v1/tenants/{t}: webhooks.openai,
 *     else public_url + "v1"). For a gateway the control plane cannot
 *     reach, or a client's-eye test of the public address.
 */
#include "cli.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

int cli_chat_chunk(FILE *out, FILE *err, const char *data,
		   struct claw_buf *reply)
{
	json_t *j, *e;
	const char *text, *msg;

	if (!strcmp(data, "[DONE]"))
		return CLI_OK;
	j = json_loads(data, 0, NULL);
	if (!j) {
		fprintf(err,
			"\nerror: the endpoint sent an event that is not "
			"JSON; is --endpoint an OpenAI-compatible API?\n");
		return CLI_EFAIL;
	}
	e = json_object_get(j, "error");
	if (e) {
		msg = json_string_value(json_object_get(e, "message"));
		fprintf(err, "\nerror: %s (%s)\n",
			msg ? msg : "the agent failed",
			json_string_value(json_object_get(e, "code"))
				? json_string_value(json_object_get(e, "code"))
				: "no code");
		json_decref(j);
		return CLI_EFAIL;
	}
	text = json_string_value(
		cli_path_get(json_array_get(json_object_get(j, "choices"), 0),
			     "delta.content"));
	if (text && *text) {
		fputs(text, out);
		fflush(out);
		claw_buf_puts(reply, text);
	}
	json_decref(j);
	return CLI_STREAM_GO_ON;
}

static int on_chunk(struct cli_ctx *ctx, const char *event, const char *data,
		    void *cls)
{
	(void)event;
	return cli_chat_chunk(ctx->out, ctx->err, data, cls);
}

/* url without trailing slashes, and with "/v1" unless it ends so
 * (allocated; NULL when out of memory). */
static char *api_base(const char *url)
{
	struct claw_buf b;
	size_t n = strlen(url);

	while (n && url[n - 1] == '/')
		n--;
	claw_buf_init(&b, 0);
	if (claw_buf_append(&b, url, n) ||
	    ((n < 3 || strncmp(url + n - 3, "/v1", 3)) &&
	     claw_buf_puts(&b, "/v1"))) {
		claw_buf_release(&b);
		return NULL;
	}
	return claw_buf_steal(&b);
}

/* The API base ("https://x/v1") of tenant t into *base (allocated):
 * given, else the control plane's view of the tenant. */
static int find_base(struct cli_ctx *ctx, const char *t, const char *given,
		     char **base)
{
	json_t *ten = NULL;
	const char *url = given;
	int ex;

	if (!url) {
		ex = cli_api_callf(ctx, "GET", NULL, &ten, "/v1/tenants/%s", t);
		if (ex)
			return ex;
		url = json_string_value(cli_path_get(ten, "webhooks.openai"));
		if (!url)
			url = json_string_value(
				json_object_get(ten, "public_url"));
	}
	if (!url) {
		fprintf(ctx->err,
			"error: tenant '%s' has no public URL (the fleet has "
			"no base domain); give its gateway's address with "
			"--endpoint URL\n",
			t);
		json_decref(ten);
		return CLI_EUSAGE;
	}
	*base = api_base(url);
	json_decref(ten);
	if (!*base) {
		fprintf(ctx->err, "error: out of memory\n");
		return CLI_ELOCAL;
	}
	return CLI_OK;
}

/* One turn, POST path: history gets the user's text, then (on success)
 * the reply. */
static int turn(struct cli_ctx *chat, const char *path, json_t *req,
		const char *text)
{
	json_t *history = json_object_get(req, "messages");
	struct claw_buf reply;
	char *body;
	int ex;

	json_array_append_new(
		history,
		json_pack("{s:s, s:s?}", "role", "user", "content", text));
	body = json_dumps(req, JSON_COMPACT);
	if (!body) {
		fprintf(chat->err, "error: the message must be UTF-8 text\n");
		json_array_remove(history, json_array_size(history) - 1);
		return CLI_EUSAGE;
	}
	claw_buf_init(&reply, 0);
	ex = cli_stream_post(chat, path, body, on_chunk, &reply);
	free(body);
	fputc('\n', chat->out);
	fflush(chat->out);
	if (ex)
		json_array_remove(history, json_array_size(history) - 1);
	else
		json_array_append_new(
			history,
			json_pack("{s:s, s:s#}", "role", "assistant", "content",
				  reply.data ? reply.data : "", reply.len));
	claw_buf_release(&reply);
	return ex;
}

/* Lines of stdin as turns until EOF. */
static int session(struct cli_ctx *chat, const char *path, json_t *req)
{
	bool tty = isatty(STDIN_FILENO);
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int ex = CLI_OK;

	for (;;) {
		if (tty) {
			fputs("you> ", chat->err);
			fflush(chat->err);
		}
		n = getline(&line, &cap, stdin);
		if (n < 0)
			break;
		while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			line[--n] = '\0';
		if (!n)
			continue;
		ex = turn(chat, path, req, line);
		if (ex && ex != CLI_EFAIL && ex != CLI_EUSAGE)
			break; /* transport or auth: the next turn would fail */
	}
	free(line);
	return ex;
}

/* The conversation with the tenant at chat (its URL and token), POSTing
 * each turn to path: one MESSAGE, or a session. */
static int converse(struct cli_ctx *chat, const char *path, const char *model,
		    const char *message)
{
	json_t *req = json_pack("{s:s, s:b, s:[]}", "model", model, "stream", 1,
				"messages");
	int ex;

	if (!req)
		ex = CLI_EUSAGE;
	else if (message)
		ex = turn(chat, path, req, message);
	else
		ex = session(chat, path, req);
	json_decref(req);
	return ex;
}

int cli_cmd_chat(struct cli_ctx *ctx, int argc, char **argv)
{
	const char *endpoint = NULL, *key_file = NULL, *model = "claw";
	const struct cli_opt opts[] = {
		{"endpoint", "URL", &endpoint, NULL,
		 "with --key-file: the tenant's OpenAI API base "
		 "(https://HOST/v1; default: what the control plane reports "
		 "for it)"},
		{"key-file", "FILE", &key_file, NULL,
		 "go straight to the gateway with the tenant's "
		 "openai_api_token (env CLAW_CHAT_KEY_FILE); default: through "
		 "the control plane's relay"},
		{"model", "NAME", &model, NULL,
		 "the model name sent (default claw; any is accepted)"},
		CLI_OPT_END,
	};
	const struct cli_spec spec = {
		"chat TENANT [MESSAGE] [--key-file FILE [--endpoint URL]]",
		"Send MESSAGE to TENANT's agent and print the reply as it "
		"streams in; without MESSAGE, chat line by line from stdin "
		"(the conversation is kept for the session) until EOF. Goes "
		"through the control plane's chat relay (which adds the "
		"tenant's key), or with --key-file straight to the tenant's "
		"OpenAI-compatible endpoint; either way its gateway config "
		"must enable that endpoint.",
		opts, 1, 2};
	const char *pos[2] = {NULL, NULL};
	struct cli_ctx chat;
	struct claw_buf path;
	char err[512];
	char *base = NULL;
	int ex;

	if (!cli_args_ok(ctx, &spec, argc, argv, pos, &ex))
		return ex;
	if (!key_file)
		key_file = getenv("CLAW_CHAT_KEY_FILE");
	if (!key_file || !*key_file) {
		if (endpoint) {
			fprintf(ctx->err,
				"error: --endpoint goes straight to the "
				"gateway, which needs the tenant's "
				"openai_api_token: give it with --key-file "
				"FILE, or leave out --endpoint to go through "
				"the control plane\n");
			return CLI_EUSAGE;
		}
		claw_buf_init(&path, 0);
		if (cli_pathf(&path, "/v1/tenants/%s/chat/completions",
			      pos[0])) {
			fprintf(ctx->err, "error: out of memory\n");
			ex = CLI_ELOCAL;
		} else {
			ex = converse(ctx, path.data, model, pos[1]);
		}
		claw_buf_release(&path);
		return ex;
	}
	ex = find_base(ctx, pos[0], endpoint, &base);
	if (ex)
		return ex;
	chat = *ctx; /* the endpoint with its own bearer token */
	chat.url = base;
	chat.url_alloc = NULL;
	chat.url_list = NULL;
	chat.urls = NULL; /* the endpoint, no replicas */
	chat.resolved = true;
	chat.token = cli_token_read(key_file, err, sizeof(err));
	if (!chat.token) {
		fprintf(ctx->err, "error: %s\n", err);
		free(base);
		return CLI_ELOCAL;
	}
	ex = converse(&chat, "/chat/completions", model, pos[1]);
	sodium_memzero(chat.token, strlen(chat.token));
	free(chat.token);
	free(base);
	return ex;
}
