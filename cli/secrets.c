/*
 * secrets.c - "clawctl secrets": set, list and delete a tenant's secrets
 * over /v1/tenants/{t}/secrets.
 *
 * A value is never taken from the command line (it would show in ps and
 * the shell's history): it is read from a file (--from-file) or standard
 * input, exactly as it is, except that a value typed at a terminal (read
 * with echo off) loses its final newline. Every copy of it in memory is
 * wiped after the call; values never come back from the API.
 */
#include "cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <sodium.h>

#define SECRET_MAX CLI_SECRET_MAX

/* Read all of f into a sodium-wiped buffer of SECRET_MAX + 1 bytes. */
static int read_value(struct cli_ctx *ctx, FILE *f, const char *what, char *buf,
		      size_t *len)
{
	size_t n = fread(buf, 1, SECRET_MAX + 1, f);

	if (ferror(f)) {
		fprintf(ctx->err,
			"error: unable to read the value from %s: "
			"%s\n",
			what, strerror(errno));
		return CLI_ELOCAL;
	}
	if (n > SECRET_MAX) {
		fprintf(ctx->err,
			"error: the value in %s is over %d bytes; "
			"store a smaller value\n",
			what, SECRET_MAX);
		return CLI_EUSAGE;
	}
	*len = n;
	return CLI_OK;
}

/* A value typed at the terminal, echo off, one line. */
static int read_tty(struct cli_ctx *ctx, const char *name, char *buf,
		    size_t *len)
{
	struct termios old, quiet;
	bool restore = tcgetattr(STDIN_FILENO, &old) == 0;
	char *nl;

	fprintf(ctx->err, "value for %s (input hidden): ", name);
	fflush(ctx->err);
	if (restore) {
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
	}
	if (!fgets(buf, SECRET_MAX + 1, stdin))
		buf[0] = '\0';
	if (restore)
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
	fprintf(ctx->err, "\n");
	nl = strchr(buf, '\n');
	if (nl)
		*nl = '\0';
	*len = strlen(buf);
	if (!*len) {
		fprintf(ctx->err,
			"error: no value was typed; nothing "
			"stored\n");
		return CLI_EUSAGE;
	}
	return CLI_OK;
}

int cli_secret_value(struct cli_ctx *ctx, const char *name, const char *file,
		     char *buf, size_t *len)
{
	FILE *f;
	int ex;

	if (!file || !strcmp(file, "-")) {
		if (!file && isatty(STDIN_FILENO))
			return read_tty(ctx, name, buf, len);
		return read_value(ctx, stdin, "standard input", buf, len);
	}
	f = fopen(file, "rb");
	if (!f) {
		fprintf(ctx->err, "error: unable to open '%s': %s\n", file,
			strerror(errno));
		return CLI_ELOCAL;
	}
	ex = read_value(ctx, f, file, buf, len);
	fclose(f);
	return ex;
}

static int secrets_set(struct cli_ctx *ctx, int argc, char **argv)
{
	const char *file = NULL;
	const struct cli_opt opts[] = {
		{"from-file", "FILE", &file, NULL,
		 "read the value from FILE ('-': standard input)"},
		CLI_OPT_END,
	};
	const struct cli_spec spec = {
		"secrets set TENANT NAME [--from-file FILE] < value",
		"Store a secret value (a new version when NAME exists). The "
		"value is read from FILE or standard input, never from the "
		"command line; at a terminal it is asked for with echo off. "
		"NAME is 1 to 128 of A-Z a-z 0-9 _ . - (it becomes a file "
		"name in the tenant's containers).",
		opts, 2, 2};
	const char *pos[2];
	struct claw_buf path;
	struct cli_call c = {.method = "PUT"};
	char *buf = NULL, *text = NULL;
	json_t *body = NULL;
	size_t len = 0;
	int ex;

	if (!cli_args_ok(ctx, &spec, argc, argv, pos, &ex))
		return ex;
	claw_buf_init(&path, 0);
	buf = sodium_malloc(SECRET_MAX + 1);
	if (!buf ||
	    cli_pathf(&path, "/v1/tenants/%s/secrets/%s", pos[0], pos[1])) {
		fprintf(ctx->err, "error: out of memory\n");
		ex = CLI_ELOCAL;
		goto out;
	}
	ex = cli_secret_value(ctx, pos[1], file, buf, &len);
	if (ex)
		goto out;
	body = json_object();
	if (!body ||
	    json_object_set_new(body, "value", json_stringn(buf, len))) {
		fprintf(ctx->err,
			"error: the value is not UTF-8 text or "
			"holds a NUL byte; encode binary values (base64) "
			"first\n");
		ex = CLI_EUSAGE;
		goto out;
	}
	text = json_dumps(body, JSON_COMPACT);
	if (!text) {
		fprintf(ctx->err, "error: out of memory\n");
		ex = CLI_ELOCAL;
		goto out;
	}
	c.path = path.data;
	c.raw_body = text;
	c.raw_len = strlen(text);
	ex = cli_api_print(ctx, &c);
out:
	if (text) {
		sodium_memzero(text, strlen(text));
		free(text);
	}
	if (body) {
		json_t *v = json_object_get(body, "value");

		if (v)
			sodium_memzero((char *)json_string_value(v),
				       json_string_length(v));
		json_decref(body);
	}
	sodium_free(buf);
	claw_buf_release(&path);
	return ex;
}

static const struct cli_col secret_cols[] = {
	{"NAME", "name"},
	{"VERSION", "version"},
	{"CREATED", "created_at"},
	{"UPDATED", "updated_at"},
};

static int secrets_list(struct cli_ctx *ctx, int argc, char **argv)
{
	return cli_list_path_cmd(
		ctx, argc, argv, "/v1/tenants/%s/secrets",
		"secrets list TENANT [options]",
		"List a tenant's secrets: names, versions and times. Values "
		"are never shown.",
		1, true, secret_cols,
		sizeof(secret_cols) / sizeof(secret_cols[0]));
}

static int secrets_delete(struct cli_ctx *ctx, int argc, char **argv)
{
	return cli_path_cmd(ctx, argc, argv, "DELETE",
			    "/v1/tenants/%s/secrets/%s",
			    "secrets delete TENANT NAME",
			    "Delete a secret: its value is dropped at once.", 2,
			    "secret deleted");
}

static const struct cli_cmd cmds[] = {
	{"set", secrets_set, "store a value (from stdin or a file)"},
	{"list", secrets_list, "list names and versions (never values)"},
	{"delete", secrets_delete, "delete a secret"},
};

CLI_GROUP(cli_cmd_secrets, "secrets", cmds)
