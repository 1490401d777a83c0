/*
 * args.c - command-line parsing for clawctl: a command's own options
 * (struct cli_spec) plus the global options every command accepts
 * anywhere, and the --help text built from the same tables.
 *
 * Options are "--name VALUE", "--name=VALUE" or a flag "--name"; "-h" is
 * --help and "-o FORMAT" is --output; "--" ends the options.
 */
#include "cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const struct {
	const char *name, *arg, *help;
} globals[] = {
	{"url", "URL",
	 "control plane URL (env CLAW_URL; default "
	 "http://127.0.0.1:7070); its replicas: repeat --url or give "
	 "URL,URL (the next is tried when one does not answer)"},
	{"token-file", "FILE",
	 "read the API token from FILE (env "
	 "CLAW_TOKEN_FILE; or the token itself in env CLAW_TOKEN)"},
	{"context", "NAME",
	 "use this context of the contexts file (env CLAW_CONTEXT; default: "
	 "its current context)"},
	{"output", "FORMAT",
	 "table (default), wide (every field, no cut), json or yaml; -o "
	 "FORMAT"},
	{"timeout", "SECONDS",
	 "give up on one API call after SECONDS "
	 "(default 30)"},
	{"help", NULL, "show this help; -h"},
};

#define HELP_WIDTH 79
#define HELP_COL 27 /* where an option's help starts */

void cli_wrap(FILE *f, int indent, int col, const char *text)
{
	const char *p = text;

	while (*p) {
		const char *end = p, *brk = NULL;

		while (*end && *end != '\n' && col + (end - p) < HELP_WIDTH) {
			if (*end == ' ')
				brk = end;
			end++;
		}
		if (*end && *end != '\n' && brk)
			end = brk;
		fprintf(f, "%.*s\n", (int)(end - p), p);
		p = *end ? end + 1 : end;
		if (*p)
			fprintf(f, "%*s", indent, "");
		col = indent;
	}
}

static void opt_line(FILE *f, const char *name, const char *arg,
		     const char *help)
{
	char left[64];

	snprintf(left, sizeof(left), "--%s%s%s", name, arg ? " " : "",
		 arg ? arg : "");
	fprintf(f, "  %-24s ", left);
	cli_wrap(f, HELP_COL,
		 strlen(left) > 24 ? 3 + (int)strlen(left) : HELP_COL, help);
}

void cli_global_help(FILE *f)
{
	fprintf(f, "Global options:\n");
	for (size_t i = 0; i < sizeof(globals) / sizeof(globals[0]); i++)
		opt_line(f, globals[i].name, globals[i].arg, globals[i].help);
}

int cli_parse_count(struct cli_ctx *ctx, const char *opt, const char *s,
		    long max, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < 1 || v > max) {
		fprintf(ctx->err,
			"error: --%s '%s' is not a whole number from 1 to "
			"%ld\n",
			opt, s, max);
		return CLI_EUSAGE;
	}
	*out = v;
	return CLI_OK;
}

/* Returns 1 when consumed, 0 when not a global option, CLI_EUSAGE. */
int cli_global_opt(struct cli_ctx *ctx, const char *name, const char *value)
{
	long secs;

	if (!strcmp(name, "url")) {
		struct claw_buf b;

		if (!ctx->url) {
			ctx->url = value;
			return 1;
		}
		claw_buf_init(&b, 0);
		if (claw_buf_printf(&b, "%s,%s", ctx->url, value)) {
			claw_buf_release(&b);
			return CLI_EUSAGE;
		}
		free(ctx->url_list);
		ctx->url = ctx->url_list = claw_buf_steal(&b);
		return 1;
	}
	if (!strcmp(name, "token-file")) {
		ctx->token_file = value;
		return 1;
	}
	if (!strcmp(name, "context")) {
		ctx->context = value;
		return 1;
	}
	if (!strcmp(name, "output")) {
		static const char *const names[] = {"table", "json", "yaml",
						    "wide"};

		for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
			if (strcmp(value, names[i]))
				continue;
			ctx->output = (enum cli_output)i;
			ctx->output_set = true;
			return 1;
		}
		fprintf(ctx->err,
			"error: unknown output format '%s'; use 'table', "
			"'wide', 'json' or 'yaml'\n",
			value);
		return -CLI_EUSAGE;
	}
	if (!strcmp(name, "timeout")) {
		if (cli_parse_count(ctx, "timeout", value, 86400, &secs))
			return -CLI_EUSAGE;
		ctx->timeout_ms = secs * 1000;
		return 1;
	}
	return 0;
}

static bool is_global_with_value(const char *name)
{
	for (size_t i = 0; i < sizeof(globals) / sizeof(globals[0]); i++)
		if (globals[i].arg && !strcmp(globals[i].name, name))
			return true;
	return false;
}

static void print_help(struct cli_ctx *ctx, const struct cli_spec *spec)
{
	FILE *f = ctx->out;

	fprintf(f, "usage: %s %s\n\n", ctx->prog, spec->usage);
	cli_wrap(f, 0, 0, spec->help);
	if (spec->opts && spec->opts[0].name) {
		fprintf(f, "\nOptions:\n");
		for (const struct cli_opt *o = spec->opts; o->name; o++)
			opt_line(f, o->name, o->arg, o->help);
	}
	fprintf(f, "\n");
	cli_global_help(f);
}

static const struct cli_opt *find_opt(const struct cli_spec *spec,
				      const char *name, size_t len)
{
	if (!spec->opts)
		return NULL;
	for (const struct cli_opt *o = spec->opts; o->name; o++)
		if (strlen(o->name) == len && !strncmp(o->name, name, len))
			return o;
	return NULL;
}

/* One "--name[=value]" at argv[*i]; advances *i past a separate value. */
static int parse_long(struct cli_ctx *ctx, const struct cli_spec *spec,
		      int argc, char **argv, int *i)
{
	const char *name = argv[*i] + 2;
	const char *eq = strchr(name, '=');
	size_t len = eq ? (size_t)(eq - name) : strlen(name);
	const struct cli_opt *o = find_opt(spec, name, len);
	const char *value = eq ? eq + 1 : NULL;
	char gname[32];
	int r;

	if (len == 4 && !strncmp(name, "help", 4))
		return CLI_HELP_SHOWN;
	if (o && !o->arg) {
		if (value) {
			fprintf(ctx->err, "error: --%s takes no value\n",
				o->name);
			return CLI_EUSAGE;
		}
		*o->flag = true;
		return CLI_OK;
	}
	if (len >= sizeof(gname)) {
		fprintf(ctx->err,
			"error: unknown option '%s'; see '%s %s "
			"--help'\n",
			argv[*i], ctx->prog, ctx->cmd_path);
		return CLI_EUSAGE;
	}
	memcpy(gname, name, len);
	gname[len] = '\0';
	if (!o && !is_global_with_value(gname)) {
		fprintf(ctx->err,
			"error: unknown option '--%s'; see '%s %s "
			"--help'\n",
			gname, ctx->prog, ctx->cmd_path);
		return CLI_EUSAGE;
	}
	if (!value) {
		if (*i + 1 >= argc) {
			fprintf(ctx->err, "error: --%s needs a value\n", gname);
			return CLI_EUSAGE;
		}
		value = argv[++*i];
	}
	if (o) {
		*o->value = value;
		return CLI_OK;
	}
	r = cli_global_opt(ctx, gname, value);
	return r < 0 ? -r : CLI_OK;
}

int cli_args_parse(struct cli_ctx *ctx, const struct cli_spec *spec, int argc,
		   char **argv, const char **pos, int *npos)
{
	bool only_pos = false;
	int r;

	*npos = 0;
	if (ctx->describe) {
		cli_describe_opts(ctx, spec);
		return CLI_HELP_SHOWN;
	}
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!only_pos && !strcmp(a, "--")) {
			only_pos = true;
			continue;
		}
		if (!only_pos && !strcmp(a, "-h")) {
			print_help(ctx, spec);
			return CLI_HELP_SHOWN;
		}
		if (!only_pos && !strncmp(a, "-o", 2)) {
			const char *v = a[2] ? a + 2 : NULL;

			if (!v && i + 1 >= argc) {
				fprintf(ctx->err, "error: -o needs a value\n");
				return CLI_EUSAGE;
			}
			r = cli_global_opt(ctx, "output", v ? v : argv[++i]);
			if (r < 0)
				return -r;
			continue;
		}
		if (!only_pos && !strncmp(a, "--", 2)) {
			r = parse_long(ctx, spec, argc, argv, &i);
			if (r == CLI_HELP_SHOWN) {
				print_help(ctx, spec);
				return r;
			}
			if (r)
				return r;
			continue;
		}
		if (!only_pos && a[0] == '-' && a[1]) {
			fprintf(ctx->err,
				"error: unknown option '%s'; see "
				"'%s %s --help'\n",
				a, ctx->prog, ctx->cmd_path);
			return CLI_EUSAGE;
		}
		if (*npos >= spec->max_pos) {
			/* not quoted: it may be a value meant for stdin */
			fprintf(ctx->err,
				"error: too many arguments (at most "
				"%d); usage: %s %s\n",
				spec->max_pos, ctx->prog, spec->usage);
			return CLI_EUSAGE;
		}
		pos[(*npos)++] = a;
	}
	if (*npos < spec->min_pos) {
		fprintf(ctx->err, "error: missing argument; usage: %s %s\n",
			ctx->prog, spec->usage);
		return CLI_EUSAGE;
	}
	return CLI_OK;
}

bool cli_args_ok(struct cli_ctx *ctx, const struct cli_spec *spec, int argc,
		 char **argv, const char **pos, int *ex)
{
	int npos;

	*ex = cli_args_parse(ctx, spec, argc, argv, pos, &npos);
	if (*ex == CLI_HELP_SHOWN)
		*ex = CLI_OK;
	else if (!*ex)
		return true;
	return false;
}

json_t *cli_split_list(const char *p)
{
	json_t *a = json_array();

	while (*p) {
		size_t n = strcspn(p, ", ");

		if (n)
			json_array_append_new(a, json_stringn(p, n));
		p += n;
		p += strspn(p, ", ");
	}
	return a;
}
