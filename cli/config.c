/*
 * config.c - where clawctl finds the control plane and its token: flags
 * first, then the environment (CLAW_URL, CLAW_TOKEN, CLAW_TOKEN_FILE), then
 * the default URL. The token is never taken from the command line (it would
 * show in ps); it comes from the environment or a file.
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

int cli_config_resolve(struct cli_ctx *ctx)
{
	const char *url = ctx->url ? ctx->url : getenv("CLAW_URL");
	const char *env_tok = getenv("CLAW_TOKEN");
	const char *tok_file = ctx->token_file;
	char err[512];
	size_t n;

	if (ctx->resolved)
		return CLI_OK;
	ctx->resolved = true;
	if (!url || !*url)
		url = CLI_DEFAULT_URL;
	if (strncmp(url, "http://", 7) && strncmp(url, "https://", 8)) {
		fprintf(ctx->err,
			"error: control plane URL '%s' must start "
			"with http:// or https://\n",
			url);
		return CLI_EUSAGE;
	}
	ctx->url_alloc = strdup(url);
	if (!ctx->url_alloc) {
		fprintf(ctx->err, "error: out of memory\n");
		return CLI_ELOCAL;
	}
	n = strlen(ctx->url_alloc);
	while (n > 0 && ctx->url_alloc[n - 1] == '/')
		ctx->url_alloc[--n] = '\0';
	ctx->url = ctx->url_alloc;

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
	if (!tok_file || !*tok_file)
		return CLI_OK;
	ctx->token = cli_token_read(tok_file, err, sizeof(err));
	if (!ctx->token) {
		fprintf(ctx->err, "error: %s\n", err);
		return CLI_ELOCAL;
	}
	return CLI_OK;
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
}
