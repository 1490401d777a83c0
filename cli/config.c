/*
 * config.c - where clawctl finds the control plane and its token: flags
 * first, then the environment (CLAW_URL, CLAW_TOKEN, CLAW_TOKEN_FILE), then
 * the current context (contexts.c; --context or CLAW_CONTEXT name another),
 * then the default URL. The token is never taken from the command line (it
 * would show in ps); it comes from the environment or a file. A context's
 * token goes only to that context's server: with a --url or CLAW_URL
 * elsewhere it is left out. The URL may name the control plane's replicas
 * ("URL,URL", or --url given more than once): a call that gets no answer,
 * or a 502, 503 or 504, is made again on the next (cli_replica_next).
 */
#include "cli.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#define CLI_DEFAULT_URL "http://127.0.0.1:7070"
#define CLI_TOKEN_MAX 4096

char *cli_token_read(const char *path, char *errbuf, size_t errlen)
{
	char line[CLI_TOKEN_MAX + 2];
	char *s, *e, *tok;
	FILE *f = fopen(path, "r");

	if (!f) {
		snprintf(errbuf, errlen, "unable to open token file '%s': %s",
			 path, strerror(errno));
		return NULL;
	}
	if (!fgets(line, sizeof(line), f)) {
		fclose(f);
		snprintf(errbuf, errlen, "token file '%s' is empty", path);
		return NULL;
	}
	fclose(f);
	s = line;
	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		e--;
	*e = '\0';
	if (!*s || (size_t)(e - s) > CLI_TOKEN_MAX) {
		sodium_memzero(line, sizeof(line));
		snprintf(errbuf, errlen,
			 "token file '%s' holds no token on its first line",
			 path);
		return NULL;
	}
	tok = strdup(s);
	sodium_memzero(line, sizeof(line));
	if (!tok)
		snprintf(errbuf, errlen, "out of memory");
	return tok;
}

/* The context the invocation names (--context, CLAW_CONTEXT) or the
 * current one, into *cfg (kept for its strings) and *cx (borrowed; NULL
 * when there is none). */
static int find_context(struct cli_ctx *ctx, json_t **cfg, json_t **cx)
{
	const char *name = ctx->context ? ctx->context : getenv("CLAW_CONTEXT");
	char path[1024];
	int ex;

	*cx = NULL;
	if (cli_contexts_path(path, sizeof(path))) {
		if (!name || !*name)
			return CLI_OK; /* no contexts file: no context */
		fprintf(ctx->err,
			"error: context '%s' named, but neither "
			"XDG_CONFIG_HOME nor HOME is set\n",
			name);
		return CLI_ELOCAL;
	}
	ex = cli_contexts_load(ctx->err, path, cfg);
	if (ex)
		return ex;
	if (!name || !*name)
		name = json_string_value(
			json_object_get(*cfg, "current-context"));
	if (!name)
		return CLI_OK;
	*cx = json_object_get(json_object_get(*cfg, "contexts"), name);
	if (!json_is_object(*cx)) {
		fprintf(ctx->err,
			"error: no context '%s' in %s; see 'clawctl config "
			"get-contexts'\n",
			name, path);
		return CLI_EUSAGE;
	}
	return CLI_OK;
}

static bool same_server(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);

	while (la && a[la - 1] == '/')
		la--;
	while (lb && b[lb - 1] == '/')
		lb--;
	return la == lb && !strncmp(a, b, la);
}

/* The token of context cx into ctx->token, when it has one and url is its
 * server. */
static int context_token(struct cli_ctx *ctx, const json_t *cx, const char *url)
{
	const char *server = json_string_value(json_object_get(cx, "server"));
	const char *file = json_string_value(json_object_get(cx, "token-file"));
	const char *inl = json_string_value(json_object_get(cx, "token"));
	char err[512];

	if (!cx || !same_server(server ? server : CLI_DEFAULT_URL, url))
		return CLI_OK;
	if (file) {
		ctx->token = cli_token_read(file, err, sizeof(err));
		if (!ctx->token) {
			fprintf(ctx->err, "error: %s (from the context)\n",
				err);
			return CLI_ELOCAL;
		}
	} else if (inl && *inl && !(ctx->token = strdup(inl))) {
		fprintf(ctx->err, "error: out of memory\n");
		return CLI_ELOCAL;
	}
	return CLI_OK;
}

/* The token from the flags or the environment; *given when one was. */
static int flag_env_token(struct cli_ctx *ctx, bool *given)
{
	const char *env_tok = getenv("CLAW_TOKEN");
	const char *tok_file = ctx->token_file;
	char err[512];

	*given = true;
	if (!tok_file && env_tok && *env_tok) {
		ctx->token = strdup(env_tok);
		if (!ctx->token) {
			fprintf(ctx->err, "error: out of memory\n");
			return CLI_ELOCAL;
		}
		return CLI_OK;
	}
	if (!tok_file)
		tok_file = getenv("CLAW_TOKEN_FILE");
	if (!tok_file || !*tok_file) {
		*given = false;
		return CLI_OK;
	}
	ctx->token = cli_token_read(tok_file, err, sizeof(err));
	if (!ctx->token) {
		fprintf(ctx->err, "error: %s\n", err);
		return CLI_ELOCAL;
	}
	return CLI_OK;
}

int cli_config_resolve(struct cli_ctx *ctx)
{
	const char *url = ctx->url ? ctx->url : getenv("CLAW_URL");
	json_t *cfg = NULL, *cx = NULL;
	char err[300];
	bool tok_given;
	size_t n;
	int ex;

	if (ctx->resolved)
		return CLI_OK;
	ctx->resolved = true;
	ex = flag_env_token(ctx, &tok_given);
	if (!ex && (!url || !*url || !tok_given))
		ex = find_context(ctx, &cfg, &cx);
	if (ex)
		goto out;
	if ((!url || !*url) && cx)
		url = json_string_value(json_object_get(cx, "server"));
	if (!url || !*url)
		url = CLI_DEFAULT_URL;
	ex = CLI_ELOCAL;
	ctx->urls = malloc(sizeof(*ctx->urls));
	ctx->url_alloc = strdup(url);
	if (!ctx->url_alloc || !ctx->urls) {
		fprintf(ctx->err, "error: out of memory\n");
		goto out;
	}
	ex = CLI_EUSAGE;
	if (claw_urls_parse(ctx->urls, url, err, sizeof(err))) {
		fprintf(ctx->err, "error: control plane URL: %s\n", err);
		claw_urls_release(ctx->urls);
		free(ctx->urls);
		ctx->urls = NULL;
		goto out;
	}
	ex = CLI_ELOCAL;
	n = strlen(ctx->url_alloc);
	while (n > 0 && ctx->url_alloc[n - 1] == '/')
		ctx->url_alloc[--n] = '\0';
	ctx->url = ctx->urls->v[0];
	ex = tok_given ? CLI_OK : context_token(ctx, cx, ctx->url_alloc);
out:
	json_decref(cfg);
	return ex;
}

void cli_ctx_release(struct cli_ctx *ctx)
{
	if (ctx->token) {
		sodium_memzero(ctx->token, strlen(ctx->token));
		free(ctx->token);
		ctx->token = NULL;
	}
	free(ctx->url_alloc);
	ctx->url_alloc = NULL;
	free(ctx->url_list);
	ctx->url_list = NULL;
	if (ctx->urls)
		claw_urls_release(ctx->urls);
	free(ctx->urls);
	ctx->urls = NULL;
}

size_t cli_replica(struct cli_ctx *ctx)
{
	char tmp[CLAW_URL_MAX];
	size_t at;

	if (!ctx->urls)
		return 0;
	at = claw_urls_get(ctx->urls, tmp, sizeof(tmp));
	ctx->url = ctx->urls->v[at];
	return at;
}

bool cli_replica_next(struct cli_ctx *ctx, size_t at, size_t tried,
		      enum claw_rc rc, long status)
{
	if (!ctx->urls || tried + 1 >= ctx->urls->n ||
	    !claw_urls_retryable(rc, status))
		return false;
	fprintf(ctx->err,
		"note: the control plane at %s did not answer (%s); trying "
		"the next replica\n",
		ctx->url, rc ? claw_strerror(rc) : "unavailable");
	claw_urls_failed(ctx->urls, at);
	return true;
}
