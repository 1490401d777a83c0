/*
 * resources.c - a tenant's agent setup as resources (docs/resources.md),
 * from the command line: "clawctl channels", "model", "tools" and
 * "templates" (the persona is persona.c).
 *
 *   channels add|list|remove  PUT/GET/DELETE /v1/tenants/{t}/channels/{kind}
 *   model set|show|test       PUT/GET /v1/tenants/{t}/model, and one call
 *                             through the chat relay
 *   tools add|list|remove     GET then PUT /v1/tenants/{t}/tools (one
 *                             resource holding every server)
 *   templates list|get|create|update|delete   /v1/templates
 *
 * Settings are "--set KEY=VALUE" (typed, settings.c) or a JSON file;
 * credentials and API keys come only from files or standard input, never
 * from argv (ps would show them): each is read into locked memory, its
 * final newline dropped (a credential is one line), sent, and wiped with
 * every copy of the request body. A change whose reply says
 * redeploy_required ends with how to redeploy (or, with --deploy, runs
 * "clawctl deploy TENANT").
 */
#include "cli.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

/* ---- the change of a resource, and secret values in its body */

int cli_res_change(struct cli_ctx *ctx, const char *method, const char *body,
		   const char *tenant, bool deploy, const char *fmt,
		   const char *name)
{
	struct claw_buf path;
	struct cli_call c = {.method = method};
	json_t *reply = NULL;
	int ex;

	claw_buf_init(&path, 0);
	if (cli_pathf(&path, fmt, tenant, name)) {
		claw_buf_release(&path);
		fprintf(ctx->err, "error: out of memory\n");
		return CLI_ELOCAL;
	}
	c.path = path.data;
	c.raw_body = body;
	c.raw_len = body ? strlen(body) : 0;
	ex = cli_api(ctx, &c, &reply, NULL, 0);
	claw_buf_release(&path);
	if (ex)
		return ex;
	cli_print_reply(ctx, reply, NULL, 0);
	if (json_is_true(json_object_get(reply, "redeploy_required"))) {
		if (deploy) {
			char *argv[] = {"deploy", (char *)tenant, NULL};

			fprintf(ctx->err, "deploying %s\n", tenant);
			json_decref(reply);
			snprintf(ctx->cmd_path, sizeof(ctx->cmd_path),
				 "deploy");
			return cli_cmd_deploy(ctx, 2, argv);
		}
		fprintf(ctx->err,
			"%s needs a redeploy for this to take effect: %s "
			"deploy %s\n",
			tenant, ctx->prog, tenant);
	}
	json_decref(reply);
	return CLI_OK;
}

int cli_res_put(struct cli_ctx *ctx, const json_t *body, const char *tenant,
		bool deploy, const char *fmt)
{
	char *text = json_dumps(body, JSON_COMPACT);
	int ex;

	if (!text) {
		fprintf(ctx->err, "error: out of memory\n");
		return CLI_ELOCAL;
	}
	ex = cli_res_change(ctx, "PUT", text, tenant, deploy, fmt, NULL);
	free(text);
	return ex;
}

bool cli_res_args(struct cli_ctx *ctx, int argc, char **argv, const char *usage,
		  const char *help, int nargs, const char **pos, bool *deploy,
		  int *ex)
{
	const struct cli_opt opts[] = {
		CLI_DEPLOY_OPT(*deploy),
		CLI_OPT_END,
	};
	const struct cli_spec spec = {usage, help, opts, nargs, nargs};

	return cli_args_ok(ctx, &spec, argc, argv, pos, ex);
}

/* GET as cli_api_callf, a 404 returned without a message. */
static int quiet_get(struct cli_ctx *ctx, json_t **out, const char *fmt,
		     const char *tenant)
{
	FILE *saved = ctx->err;
	char *msg = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&msg, &len);
	int ex;

	if (!mem) {
		fprintf(ctx->err, "error: out of memory\n");
		return CLI_ELOCAL;
	}
	ctx->err = mem;
	ex = cli_api_callf(ctx, "GET", NULL, out, fmt, tenant);
	ctx->err = saved;
	fclose(mem);
	if (ex && ex != CLI_ENOTFOUND)
		fputs(msg, saved);
	free(msg);
	return ex;
}

int cli_get_or_none(struct cli_ctx *ctx, json_t **out, const char *fmt,
		    const char *tenant)
{
	json_t *ten = NULL;
	int ex = quiet_get(ctx, out, fmt, tenant);

	if (ex != CLI_ENOTFOUND)
		return ex;
	/* no such resource, or no such tenant (said, with its exit) */
	ex = cli_api_callf(ctx, "GET", NULL, &ten, "/v1/tenants/%s", tenant);
	json_decref(ten);
	return ex ? ex : CLI_ABSENT;
}

/* A secret value read from file ("-": standard input) as body[key] (a
 * dotted path), one line: its final newline dropped. The buffer is wiped
 * here; the caller wipes the body's copy (wipe_strings). */
static int put_secret_file(struct cli_ctx *ctx, json_t *body, const char *key,
			   const char *file)
{
	char *buf = sodium_malloc(CLI_SECRET_MAX + 1);
	json_t *at = body;
	const char *dot;
	size_t len = 0;
	int ex;

	if (!buf) {
		fprintf(ctx->err, "error: out of memory\n");
		return CLI_ELOCAL;
	}
	/* "-" at a terminal: asked for with echo off */
	ex = cli_secret_value(ctx, key, file && strcmp(file, "-") ? file : NULL,
			      buf, &len);
	while (!ex && len && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
		len--;
	if (!ex && !len) {
		fprintf(ctx->err, "error: '%s' is empty; nothing sent\n",
			file ? file : "-");
		ex = CLI_EUSAGE;
	}
	while (!ex && (dot = strchr(key, '.'))) {
		char part[64];

		snprintf(part, sizeof(part), "%.*s", (int)(dot - key), key);
		if (!json_is_object(json_object_get(at, part)))
			json_object_set_new(at, part, json_object());
		at = json_object_get(at, part);
		key = dot + 1;
	}
	if (!ex && json_object_set_new(at, key, json_stringn(buf, len))) {
		fprintf(ctx->err,
			"error: the value in '%s' is not UTF-8 text or holds a "
			"NUL byte\n",
			file);
		ex = CLI_EUSAGE;
	}
	sodium_free(buf);
	return ex;
}

/* Wipe every string in v (a body that held secret values). */
static void wipe_strings(json_t *v)
{
	const char *k;
	json_t *e;
	size_t i;

	if (json_is_string(v))
		sodium_memzero((char *)json_string_value(v),
			       json_string_length(v));
	json_object_foreach(v, k, e)
		wipe_strings(e);
	json_array_foreach(v, i, e)
		wipe_strings(e);
}

/* Send body (which may hold secret values) as cli_res_change; wipes and
 * releases it and its text. */
static int send_secret_body(struct cli_ctx *ctx, json_t *body,
			    const char *tenant, bool deploy, const char *fmt,
			    const char *name)
{
	char *text = json_dumps(body, JSON_COMPACT);
	int ex;

	if (!text) {
		fprintf(ctx->err, "error: out of memory\n");
		ex = CLI_ELOCAL;
	} else {
		ex = cli_res_change(ctx, "PUT", text, tenant, deploy, fmt,
				    name);
		sodium_memzero(text, strlen(text));
		free(text);
	}
	wipe_strings(body);
	json_decref(body);
	return ex;
}

/* The object a change starts from into *out (NULL on failure): FILE's
 * JSON object ('-': stdin), or {} when there is no FILE. */
static int start_body(struct cli_ctx *ctx, const char *file, json_t **out)
{
	int ex;

	*out = NULL;
	ex = file ? cli_json_file(ctx, file, out) : CLI_OK;
	if (!ex && !*out)
		*out = json_object();
	if (!ex && !*out)
		ex = CLI_ELOCAL;
	return ex;
}

/* The settings of --settings-file (or {}) with each --set over them. */
static int settings_of(struct cli_ctx *ctx, int argc, char **argv,
		       const char *file, json_t **out)
{
	int ex = start_body(ctx, file, out);

	if (!ex)
		ex = cli_kv_apply(ctx, argc, argv, "set", *out);
	if (ex) {
		json_decref(*out);
		*out = NULL;
	}
	return ex;
}

/* ---- channels */

/* Credential options: --NAME-file for each credential short name any
 * channel kind has (docs/resources.md). */
static const char *const cred_names[] = {
	"bot_token",          "webhook_secret",
	"signing_secret",     "app_token",
	"app_secret",         "verify_token",
	"access_token",       "api_token",
	"channel_secret",     "channel_access_token",
	"auth_token",         "webhook_token",
	"app_password",       "service_account",
	"verification_token", "encrypt_key",
};
#define NCRED (sizeof(cred_names) / sizeof(cred_names[0]))

static const struct cli_col channel_cols[] = {
	{"KIND", "kind"},         {"VERSION", "version"},
	{"WEBHOOK", "webhook"},   {"CONNECTION", "connection.state"},
	{"SETTINGS", "settings"},
};

/* The webhooks the control plane reports for the tenant (GET
 * /v1/tenants/{t}: webhooks, kind -> URL) into *hooks (a new reference;
 * NULL when there are none or the call failed). */
static void webhooks_of(struct cli_ctx *ctx, const char *tenant, json_t **hooks)
{
	json_t *ten = NULL;

	*hooks = NULL;
	if (!quiet_get(ctx, &ten, "/v1/tenants/%s", tenant))
		*hooks = json_incref(json_object_get(ten, "webhooks"));
	json_decref(ten);
}

/* Every credential given (--NAME-file, --credential-file NAME=FILE) into
 * creds; at most one from standard input. */
static int read_creds(struct cli_ctx *ctx, int argc, char **argv,
		      const char *const *files, json_t *creds)
{
	json_t *extra = cli_opt_values(argc, argv, "credential-file"), *e;
	int from_stdin = 0, ex = extra ? CLI_OK : CLI_ELOCAL;
	size_t i;

	for (i = 0; !ex && i < NCRED; i++) {
		if (!files[i])
			continue;
		from_stdin += !strcmp(files[i], "-");
		ex = put_secret_file(ctx, creds, cred_names[i], files[i]);
	}
	json_array_foreach(extra, i, e) {
		const char *s = json_string_value(e), *eq = strchr(s, '=');
		char name[64];

		if (ex)
			break;
		if (!eq || eq == s || (size_t)(eq - s) >= sizeof(name) ||
		    memchr(s, '.', (size_t)(eq - s))) {
			fprintf(ctx->err,
				"error: --credential-file takes NAME=FILE (a "
				"credential's short name, e.g. "
				"bot_token=./token)\n");
			ex = CLI_EUSAGE;
			break;
		}
		snprintf(name, sizeof(name), "%.*s", (int)(eq - s), s);
		from_stdin += !strcmp(eq + 1, "-");
		ex = put_secret_file(ctx, creds, name, eq + 1);
	}
	json_decref(extra);
	if (!ex && from_stdin > 1) {
		fprintf(ctx->err,
			"error: only one credential can come from standard "
			"input ('-'); give the others as files\n");
		ex = CLI_EUSAGE;
	}
	return ex;
}

static int channels_add(struct cli_ctx *ctx, int argc, char **argv)
{
	const char *files[NCRED] = {NULL};
	const char *set = NULL, *cred = NULL, *settings_file = NULL;
	bool deploy = false;
	struct cli_opt opts[NCRED + 5];
	char names[NCRED][40], helps[NCRED][80];
	const struct cli_spec spec = {
		"channels add TENANT KIND [--set KEY=VALUE ...] "
		"[--settings-file FILE] [--NAME-file FILE ...] [--deploy]",
		"Connect a channel (telegram, slack, discord, whatsapp, ...) "
		"or replace its settings. Settings are --set KEY=VALUE "
		"(repeatable; VALUE is JSON when it reads as JSON: true, 30, "
		"[\"a\"], else a string) over --settings-file (a JSON object); "
		"the keys are the gateway's channels.KIND (docs/gateway.md). "
		"Credentials come only from files ('-': standard input): "
		"--bot-token-file F and the like, or --credential-file "
		"NAME=FILE; each is one line (a final newline is dropped), "
		"stored as a tenant secret and never shown again.",
		opts, 2, 2};
	const char *pos[2];
	json_t *body = NULL, *settings = NULL, *hooks = NULL;
	const char *hook;
	size_t k = 0;
	int ex;

	for (size_t i = 0; i < NCRED; i++, k++) {
		snprintf(names[i], sizeof(names[i]), "%s-file", cred_names[i]);
		for (char *p = names[i]; *p; p++)
			*p = *p == '_' ? '-' : *p;
		snprintf(helps[i], sizeof(helps[i]),
			 "read the credential %s from FILE ('-': stdin)",
			 cred_names[i]);
		opts[k] = (struct cli_opt){names[i], "FILE", &files[i], NULL,
					   helps[i]};
	}
	opts[k++] = (struct cli_opt)CLI_SET_OPT(
		set, "a setting (repeatable; dotted KEY for nested objects)");
	opts[k++] =
		(struct cli_opt){"settings-file", "FILE", &settings_file, NULL,
				 "the settings as a JSON object ('-': "
				 "stdin)"};
	opts[k++] =
		(struct cli_opt){"credential-file", "NAME=FILE", &cred, NULL,
				 "a credential by its short name (repeatable)"};
	opts[k++] = (struct cli_opt)CLI_DEPLOY_OPT(deploy);
	opts[k] = (struct cli_opt)CLI_OPT_END;
	if (!cli_args_ok(ctx, &spec, argc, argv, pos, &ex))
		return ex;
	ex = settings_of(ctx, argc, argv, settings_file, &settings);
	if (ex)
		return ex;
	body = json_pack("{s:o, s:{}}", "settings", settings, "credentials");
	if (!body) {
		fprintf(ctx->err, "error: out of memory\n");
		return CLI_ELOCAL;
	}
	ex = read_creds(ctx, argc, argv, files,
			json_object_get(body, "credentials"));
	if (!ex && !json_object_size(json_object_get(body, "credentials")))
		json_object_del(body, "credentials");
	if (ex) {
		wipe_strings(body);
		json_decref(body);
		return ex;
	}
	ex = send_secret_body(ctx, body, pos[0], deploy,
			      "/v1/tenants/%s/channels/%s", pos[1]);
	if (ex)
		return ex;
	webhooks_of(ctx, pos[0], &hooks);
	hook = json_string_value(json_object_get(hooks, pos[1]));
	if (hook)
		fprintf(ctx->err,
			"webhook URL of %s (set it in the platform's "
			"console): %s\n",
			pos[1], hook);
	json_decref(hooks);
	return ex;
}

static int channels_list(struct cli_ctx *ctx, int argc, char **argv)
{
	const struct cli_spec spec = {
		"channels list TENANT",
		"List a tenant's channels: kind, version, the webhook URL to "
		"give the platform (when the fleet has a base domain and the "
		"tenant's deployment enables the channel), the connection "
		"state its gateway last reported (unknown before it did) and "
		"the settings. Credentials are never shown.",
		NULL, 1, 1};
	const char *pos[1];
	json_t *reply = NULL, *hooks = NULL, *item, *hook;
	size_t i;
	int ex;

	if (!cli_args_ok(ctx, &spec, argc, argv, pos, &ex))
		return ex;
	ex = cli_api_callf(ctx, "GET", NULL, &reply, "/v1/tenants/%s/channels",
			   pos[0]);
	if (ex)
		return ex;
	webhooks_of(ctx, pos[0], &hooks);
	json_array_foreach(json_object_get(reply, "items"), i, item) {
		hook = json_object_get(
			hooks,
			json_string_value(json_object_get(item, "kind")));
		if (json_is_string(hook))
			json_object_set(item, "webhook", hook);
	}
	json_decref(hooks);
	ex = cli_print_reply(ctx, reply, channel_cols,
			     sizeof(channel_cols) / sizeof(channel_cols[0]));
	json_decref(reply);
	return ex;
}

/* "remove TENANT X" of a resource: DELETE fmt with its change's reply. */
static int remove_cmd(struct cli_ctx *ctx, int argc, char **argv,
		      const char *usage, const char *help, const char *fmt)
{
	const char *pos[2];
	bool deploy = false;
	int ex;

	if (!cli_res_args(ctx, argc, argv, usage, help, 2, pos, &deploy, &ex))
		return ex;
	return cli_res_change(ctx, "DELETE", NULL, pos[0], deploy, fmt, pos[1]);
}

static int channels_remove(struct cli_ctx *ctx, int argc, char **argv)
{
	return remove_cmd(ctx, argc, argv, "channels remove TENANT KIND",
			  "Disconnect a channel: a new version marks it "
			  "removed (its secrets stay; 'secrets delete' drops "
			  "them).",
			  "/v1/tenants/%s/channels/%s");
}

static const struct cli_cmd channel_cmds[] = {
	{"add", channels_add, "connect a channel or change its settings"},
	{"list", channels_list, "list channels with their webhook URLs"},
	{"remove", channels_remove, "disconnect a channel"},
};

CLI_GROUP(cli_cmd_channels, "channels", channel_cmds)

/* ---- model */

static int model_set(struct cli_ctx *ctx, int argc, char **argv)
{
	const char *kind = NULL, *base = NULL, *model = NULL, *key = NULL,
		   *fkey = NULL, *file = NULL, *set = NULL;
	bool deploy = false;
	const struct cli_opt opts[] = {
		{"kind", "KIND", &kind, NULL,
		 "the provider: openai or anthropic"},
		{"base-url", "URL", &base, NULL,
		 "the provider's http(s) base URL"},
		{"model", "MODEL", &model, NULL, "the model name"},
		{"api-key-file", "FILE", &key, NULL,
		 "read the API key from FILE ('-': stdin); stored as the "
		 "secret model_api_key"},
		{"fallback-api-key-file", "FILE", &fkey, NULL,
		 "the fallback provider's key (secret model_fallback_api_key)"},
		CLI_SET_OPT(set,
			    "any other key (repeatable): max_tokens=512, "
			    "limits.max_turns=20, fallback.kind=openai, ..."),
		{"from-file", "FILE", &file, NULL,
		 "start from this JSON object ('-': stdin)"},
		CLI_DEPLOY_OPT(deploy),
		CLI_OPT_END,
	};
	const struct cli_spec spec = {
		"model set TENANT --kind KIND --base-url URL --model MODEL "
		"[--api-key-file FILE] [--set KEY=VALUE ...]",
		"Set the tenant's model: the whole resource is replaced by "
		"what is given (--from-file, then the flags, then each --set). "
		"Keys come only from files or stdin and are stored as "
		"secrets; --set api_key_secret=NAME names a secret set "
		"before. See docs/resources.md for the keys and ranges.",
		opts, 1, 1};
	const char *pos[1];
	json_t *body;
	int ex;

	if (!cli_args_ok(ctx, &spec, argc, argv, pos, &ex))
		return ex;
	ex = start_body(ctx, file, &body);
	if (!ex &&
	    ((kind && json_object_set_new(body, "kind", json_string(kind))) ||
	     (base &&
	      json_object_set_new(body, "base_url", json_string(base))) ||
	     (model &&
	      json_object_set_new(body, "model", json_string(model))))) {
		fprintf(ctx->err, "error: values must be UTF-8 text\n");
		ex = CLI_EUSAGE;
	}
	if (!ex)
		ex = cli_kv_apply(ctx, argc, argv, "set", body);
	if (!ex && key && fkey && !strcmp(key, "-") && !strcmp(fkey, "-")) {
		fprintf(ctx->err,
			"error: only one key can come from standard input\n");
		ex = CLI_EUSAGE;
	}
	if (!ex && key)
		ex = put_secret_file(ctx, body, "api_key", key);
	if (!ex && fkey)
		ex = put_secret_file(ctx, body, "fallback.api_key", fkey);
	if (ex) {
		wipe_strings(body);
		json_decref(body);
		return ex;
	}
	return send_secret_body(ctx, body, pos[0], deploy,
				"/v1/tenants/%s/model", NULL);
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int model_test(struct cli_ctx *ctx, int argc, char **argv)
{
	const char *message = "ping";
	const struct cli_opt opts[] = {
		{"message", "TEXT", &message, NULL,
		 "the message sent (default: ping)"},
		CLI_OPT_END,
	};
	const struct cli_spec spec = {
		"model test TENANT [--message TEXT]",
		"Send one tiny message through the control plane's chat relay "
		"to the tenant's running agent, which calls its model with "
		"the runtime's own provider code, key and limits; print how "
		"long the round trip took, or the provider's error. It proves "
		"the deployed configuration works end to end (gateway, "
		"runtime, provider, key); a model changed since the last "
		"deploy is tested only after a redeploy.",
		opts, 1, 1};
	const char *pos[1];
	json_t *req, *reply = NULL, *res;
	const char *text;
	long t0, ms;
	int ex;

	if (!cli_args_ok(ctx, &spec, argc, argv, pos, &ex))
		return ex;
	req = json_pack("{s:s, s:b, s:i, s:[{s:s, s:s}]}", "model", "claw",
			"stream", 0, "max_tokens", 1, "messages", "role",
			"user", "content", message);
	if (!req) {
		fprintf(ctx->err, "error: the message must be UTF-8 text\n");
		return CLI_EUSAGE;
	}
	t0 = now_ms();
	ex = cli_api_callf(ctx, "POST", req, &reply,
			   "/v1/tenants/%s/chat/completions", pos[0]);
	ms = now_ms() - t0;
	json_decref(req);
	if (ex) {
		fprintf(ctx->err,
			"error: the model test of %s failed after %ld ms (the "
			"error above is what the relay, gateway, runtime or "
			"provider said)\n",
			pos[0], ms);
		return ex;
	}
	text = json_string_value(cli_path_get(
		json_array_get(json_object_get(reply, "choices"), 0),
		"message.content"));
	res = json_pack("{s:s, s:b, s:I, s:s?}", "tenant", pos[0], "ok", 1,
			"latency_ms", (json_int_t)ms, "reply", text);
	if (cli_out_machine(ctx))
		cli_print_value(ctx, res);
	else
		fprintf(ctx->out, "ok: %s's model answered in %ld ms: %s\n",
			pos[0], ms, text ? text : "(no text)");
	json_decref(res);
	json_decref(reply);
	return CLI_OK;
}

static const struct cli_path_def model_paths[] = {
	{"show", "GET", "/v1/tenants/%s/model", "model show TENANT",
	 "Show the tenant's model (keys appear only as secret names).", 1,
	 NULL},
};

static int model_show(struct cli_ctx *ctx, int argc, char **argv)
{
	return cli_path_table_cmd(ctx, argc, argv, model_paths,
				  sizeof(model_paths) / sizeof(model_paths[0]));
}

static const struct cli_cmd model_cmds[] = {
	{"set", model_set, "set the provider, model, key and limits"},
	{"show", model_show, "show the model resource"},
	{"test", model_test, "one cheap call through the running agent"},
};

CLI_GROUP(cli_cmd_model, "model", model_cmds)

/* ---- tools */

static const struct cli_col tool_cols[] = {
	{"NAME", "name"},       {"URL", "url"},       {"IMAGE", "image"},
	{"SECRETS", "secrets"}, {"EGRESS", "egress"},
};

/* The tools resource's body (an empty one when there is none). */
static int tools_body(struct cli_ctx *ctx, const char *tenant, json_t **body)
{
	json_t *res = NULL;
	int ex = cli_get_or_none(ctx, &res, "/v1/tenants/%s/tools", tenant);

	*body = NULL;
	if (ex && ex != CLI_ABSENT)
		return ex;
	*body = json_copy(json_object_get(res, "body"));
	json_decref(res);
	if (!*body)
		*body = json_object();
	if (!json_is_array(json_object_get(*body, "servers")))
		json_object_set_new(*body, "servers", json_array());
	return CLI_OK;
}

/* The index of server name in servers, or -1. */
static long server_index(json_t *servers, const char *name)
{
	json_t *s;
	size_t i;

	json_array_foreach(servers, i, s) {
		const char *n = json_string_value(json_object_get(s, "name"));

		if (n && !strcmp(n, name))
			return (long)i;
	}
	return -1;
}

/* servers[].secrets from each "--secret KEY=NAME" or "--secret NAME". */
static int tool_secrets(struct cli_ctx *ctx, int argc, char **argv,
			json_t *server)
{
	json_t *all = cli_opt_values(argc, argv, "secret"), *e;
	json_t *map = json_object();
	size_t i;

	json_array_foreach(all, i, e) {
		const char *s = json_string_value(e), *eq = strchr(s, '=');
		char k[128];

		snprintf(k, sizeof(k), "%.*s",
			 eq ? (int)(eq - s) : (int)strlen(s), s);
		if (!*k || (eq && !eq[1])) {
			fprintf(ctx->err,
				"error: --secret takes NAME or KEY=NAME (the "
				"header or variable KEY gets the secret "
				"NAME)\n");
			json_decref(all);
			json_decref(map);
			return CLI_EUSAGE;
		}
		json_object_set_new(map, k, json_string(eq ? eq + 1 : s));
	}
	json_decref(all);
	if (json_object_size(map))
		json_object_set(server, "secrets", map);
	json_decref(map);
	return CLI_OK;
}

static int tools_add(struct cli_ctx *ctx, int argc, char **argv)
{
	const char *url = NULL, *image = NULL, *secret = NULL, *egress = NULL,
		   *set = NULL;
	bool deploy = false;
	const struct cli_opt opts[] = {
		{"url", "URL", &url, NULL,
		 "a remote MCP server (Streamable HTTP)"},
		{"image", "IMAGE", &image, NULL,
		 "a sandboxed MCP server: its container image"},
		{"secret", "[KEY=]NAME", &secret, NULL,
		 "a secret it gets: a header (remote) or variable (image) KEY "
		 "set to the tenant secret NAME (repeatable)"},
		{"egress", "HOST:PORT", &egress, NULL,
		 "a host it must reach (repeatable)"},
		CLI_SET_OPT(
			set,
			"any other key of the server (repeatable): "
			"command=[\"srv\",\"--stdio\"], headers.X-Org=acme"),
		CLI_DEPLOY_OPT(deploy),
		CLI_OPT_END,
	};
	const struct cli_spec spec = {
		"tools add TENANT NAME (--url URL | --image IMAGE) "
		"[--secret [KEY=]NAME ...] [--egress HOST:PORT ...]",
		"Add an MCP server to the tenant's tools, or replace the one "
		"named NAME. The secrets it names must exist (clawctl secrets "
		"set); what it reaches must lie in the tenant's egress bound.",
		opts, 2, 2};
	const char *pos[2];
	json_t *body = NULL, *servers, *server, *eg;
	long at;
	int ex;

	if (!cli_args_ok(ctx, &spec, argc, argv, pos, &ex))
		return ex;
	if (!url == !image) {
		fprintf(ctx->err,
			"error: give exactly one of --url (a remote server) "
			"and --image (a sandboxed one)\n");
		return CLI_EUSAGE;
	}
	server = json_pack("{s:s, s:s}", "name", pos[1], url ? "url" : "image",
			   url ? url : image);
	eg = cli_opt_values(argc, argv, "egress");
	if (!server || !eg) {
		json_decref(server);
		json_decref(eg);
		fprintf(ctx->err, "error: arguments must be UTF-8 text\n");
		return CLI_EUSAGE;
	}
	if (json_array_size(eg))
		json_object_set(server, "egress", eg);
	json_decref(eg);
	ex = tool_secrets(ctx, argc, argv, server);
	if (!ex)
		ex = cli_kv_apply(ctx, argc, argv, "set", server);
	if (!ex)
		ex = tools_body(ctx, pos[0], &body);
	if (ex) {
		json_decref(server);
		return ex;
	}
	servers = json_object_get(body, "servers");
	at = server_index(servers, pos[1]);
	if (at >= 0)
		json_array_set_new(servers, (size_t)at, server);
	else
		json_array_append_new(servers, server);
	ex = cli_res_put(ctx, body, pos[0], deploy, "/v1/tenants/%s/tools");
	json_decref(body);
	return ex;
}

static int tools_list(struct cli_ctx *ctx, int argc, char **argv)
{
	const struct cli_spec spec = {
		"tools list TENANT",
		"List the tenant's MCP servers: name, URL or image, the "
		"secrets they get (names only) and their egress.",
		NULL, 1, 1};
	const char *pos[1];
	json_t *body = NULL, *reply;
	int ex;

	if (!cli_args_ok(ctx, &spec, argc, argv, pos, &ex))
		return ex;
	ex = tools_body(ctx, pos[0], &body);
	if (ex)
		return ex;
	reply = json_pack("{s:O}", "items", json_object_get(body, "servers"));
	ex = cli_print_reply(ctx, reply, tool_cols,
			     sizeof(tool_cols) / sizeof(tool_cols[0]));
	json_decref(reply);
	json_decref(body);
	return ex;
}

static int tools_remove(struct cli_ctx *ctx, int argc, char **argv)
{
	const char *pos[2];
	json_t *body = NULL, *servers;
	bool deploy = false;
	long at;
	int ex;

	if (!cli_res_args(ctx, argc, argv,
			  "tools remove TENANT NAME [--deploy]",
			  "Remove the MCP server NAME from the tenant's tools "
			  "(the last one removed deletes the tools resource).",
			  2, pos, &deploy, &ex))
		return ex;
	ex = tools_body(ctx, pos[0], &body);
	if (ex)
		return ex;
	servers = json_object_get(body, "servers");
	at = server_index(servers, pos[1]);
	if (at < 0) {
		fprintf(ctx->err,
			"error: tenant '%s' has no tool '%s'; see '%s tools "
			"list %s'\n",
			pos[0], pos[1], ctx->prog, pos[0]);
		ex = CLI_ENOTFOUND;
	} else if (json_array_remove(servers, (size_t)at),
		   !json_array_size(servers)) {
		ex = cli_res_change(ctx, "DELETE", NULL, pos[0], deploy,
				    "/v1/tenants/%s/tools", NULL);
	} else {
		ex = cli_res_put(ctx, body, pos[0], deploy,
				 "/v1/tenants/%s/tools");
	}
	json_decref(body);
	return ex;
}

static const struct cli_cmd tool_cmds[] = {
	{"add", tools_add, "add or replace an MCP server"},
	{"list", tools_list, "list the MCP servers"},
	{"remove", tools_remove, "remove an MCP server"},
};

CLI_GROUP(cli_cmd_tools, "tools", tool_cmds)

/* ---- templates */

static const struct cli_col template_cols[] = {
	{"NAME", "name"},
	{"VERSION", "version"},
	{"CREATED", "created_at"},
	{"UPDATED", "updated_at"},
};

static int templates_list(struct cli_ctx *ctx, int argc, char **argv)
{
	return cli_list_path_cmd(
		ctx, argc, argv, "/v1/templates", "templates list [options]",
		"List the templates (admins and operators).", 0, true,
		template_cols,
		sizeof(template_cols) / sizeof(template_cols[0]));
}

static const struct cli_path_def template_paths[] = {
	{"get", "GET", "/v1/templates/%s", "templates get NAME",
	 "Show a template: its persona, model, channels, tools and "
	 "policies.",
	 1, NULL},
	{"delete", "DELETE", "/v1/templates/%s", "templates delete NAME",
	 "Delete a template (admin); tenants made from it keep their "
	 "resources.",
	 1, "template deleted"},
};

static int templates_path(struct cli_ctx *ctx, int argc, char **argv)
{
	return cli_path_table_cmd(ctx, argc, argv, template_paths,
				  sizeof(template_paths) /
					  sizeof(template_paths[0]));
}

/* create (POST) or update (PUT) a template from a JSON file. */
static int templates_write(struct cli_ctx *ctx, int argc, char **argv)
{
	bool create = !strcmp(argv[0], "create");
	const char *file = NULL;
	const struct cli_opt opts[] = {
		{"from-file", "FILE", &file, NULL,
		 "the template's parts as one JSON object ('-': stdin)"},
		CLI_OPT_END,
	};
	const struct cli_spec spec = {
		create ? "templates create NAME --from-file FILE"
		       : "templates update NAME --from-file FILE",
		"Write a template (admin): FILE is {\"persona\", \"model\", "
		"\"channels\": {KIND: SETTINGS}, \"tools\", \"policies\"}, "
		"each part optional, with no secret values (name secrets "
		"instead, e.g. model api_key_secret). See docs/resources.md, "
		"\"Templates\".",
		opts, 1, 1};
	const char *pos[1];
	json_t *body = NULL;
	int ex;

	if (!cli_args_ok(ctx, &spec, argc, argv, pos, &ex))
		return ex;
	if (!file) {
		fprintf(ctx->err,
			"error: give the template with --from-file FILE "
			"('-': stdin)\n");
		return CLI_EUSAGE;
	}
	ex = cli_json_file(ctx, file, &body);
	if (ex)
		return ex;
	if (create)
		json_object_set_new(body, "name", json_string(pos[0]));
	ex = create
		? cli_api_printf(ctx, "POST", body, "/v1/templates")
		: cli_api_printf(ctx, "PUT", body, "/v1/templates/%s", pos[0]);
	json_decref(body);
	return ex;
}

static const struct cli_cmd template_cmds[] = {
	{"list", templates_list, "list templates"},
	{"get", templates_path, "show a template"},
	{"create", templates_write, "create a template from a JSON file"},
	{"update", templates_write, "replace a template's parts"},
	{"delete", templates_path, "delete a template"},
};

CLI_GROUP(cli_cmd_templates, "templates", template_cmds)
