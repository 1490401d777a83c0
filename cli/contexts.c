/*
 * contexts.c - clawctl's contexts: named control planes in one file,
 * $XDG_CONFIG_HOME/clawctl/config (default ~/.config/clawctl/config), and
 * "clawctl config set-context | use-context | get-contexts |
 * current-context | delete-context".
 *
 * The file is JSON (docs/clawctl.md):
 *   {"current-context": "local",
 *    "contexts": {"local": {"server": URL, "token-file": PATH}}}
 * ("token" inline is read too; token-file is what clawctl writes). It may
 * lead to a token, so it must be the user's alone: a file any group or
 * other bit is set on is refused, with the chmod to run (checked with
 * fstat on the descriptor read, so a swap between check and read does not
 * help). clawctl writes it 0600 in a 0700 directory, whole, through a
 * temporary file renamed over it.
 *
 * Precedence (config.c): flags > environment > context, field by field;
 * a context's token is used only with that context's server, so a --url
 * or CLAW_URL pointing elsewhere never receives it.
 */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CONFIG_MAX (1u << 20)

int cli_contexts_path(char *out, size_t len)
{
	const char *xdg = getenv("XDG_CONFIG_HOME");
	const char *home = getenv("HOME");
	int n;

	if (xdg && *xdg)
		n = snprintf(out, len, "%s/clawctl/config", xdg);
	else if (home && *home)
		n = snprintf(out, len, "%s/.config/clawctl/config", home);
	else
		return -1;
	return n < 0 || (size_t)n >= len ? -1 : 0;
}

int cli_contexts_load(FILE *err, const char *path, json_t **out)
{
	struct stat st;
	json_error_t jerr;
	FILE *f;
	int fd;

	*out = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT)
		return CLI_OK;
	if (fd < 0 || fstat(fd, &st)) {
		fprintf(err, "error: unable to open '%s': %s\n", path,
			strerror(errno));
		if (fd >= 0)
			close(fd);
		return CLI_ELOCAL;
	}
	if (!S_ISREG(st.st_mode) || st.st_size > (off_t)CONFIG_MAX) {
		fprintf(err,
			"error: '%s' is not a regular file of at most 1 MiB\n",
			path);
		close(fd);
		return CLI_ELOCAL;
	}
	if (st.st_mode & 077) {
		fprintf(err,
			"error: '%s' may be read by others (mode %04o): it "
			"leads to API tokens; run 'chmod 600 %s'\n",
			path, (unsigned)(st.st_mode & 07777), path);
		close(fd);
		return CLI_ELOCAL;
	}
	f = fdopen(fd, "r");
	if (!f) {
		close(fd);
		fprintf(err, "error: out of memory\n");
		return CLI_ELOCAL;
	}
	*out = json_loadf(f, JSON_REJECT_DUPLICATES, &jerr);
	fclose(f);
	if (!json_is_object(*out) ||
	    (json_object_get(*out, "contexts") &&
	     !json_is_object(json_object_get(*out, "contexts")))) {
		fprintf(err,
			"error: '%s' is not a clawctl config (line %d: %s); "
			"see 'clawctl config --help'\n",
			path, jerr.line, *out ? "not an object" : jerr.text);
		json_decref(*out);
		*out = NULL;
		return CLI_ELOCAL;
	}
	return CLI_OK;
}

/* mkdir -p of the directory of path, each new level 0700. */
static int make_dirs(const char *path)
{
	char dir[1024];
	char *slash;

	if (snprintf(dir, sizeof(dir), "%s", path) >= (int)sizeof(dir))
		return -1;
	slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return 0;
	*slash = '\0';
	for (char *p = dir + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(dir, 0700) && errno != EEXIST)
			return -1;
		*p = '/';
	}
	return mkdir(dir, 0700) && errno != EEXIST ? -1 : 0;
}

int cli_contexts_save(FILE *err, const char *path, const json_t *cfg)
{
	char tmp[1100];
	FILE *f = NULL;
	int fd = -1, bad;

	if (snprintf(tmp, sizeof(tmp), "%s.%ld.tmp", path, (long)getpid()) >=
		    (int)sizeof(tmp) ||
	    make_dirs(path))
		goto fail;
	unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 || !(f = fdopen(fd, "w")))
		goto fail;
	fd = -1;
	bad = json_dumpf(cfg, f, JSON_INDENT(2) | JSON_SORT_KEYS);
	bad |= fputc('\n', f) == EOF;
	bad |= fflush(f) || fsync(fileno(f));
	bad |= fclose(f);
	f = NULL;
	if (bad || rename(tmp, path))
		goto fail;
	return CLI_OK;
fail:
	fprintf(err, "error: unable to write '%s': %s\n", path,
		errno ? strerror(errno) : "path too long");
	if (f)
		fclose(f);
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	return CLI_ELOCAL;
}

/* The config file's path and its contents (an empty config when there is
 * no file yet); CLI_ELOCAL with the message printed. */
static int open_config(struct cli_ctx *ctx, char *path, size_t len,
		       json_t **cfg)
{
	int ex;

	if (cli_contexts_path(path, len)) {
		fprintf(ctx->err,
			"error: neither XDG_CONFIG_HOME nor HOME is set: no "
			"place for the contexts file\n");
		return CLI_ELOCAL;
	}
	ex = cli_contexts_load(ctx->err, path, cfg);
	if (!ex && !*cfg)
		*cfg = json_object();
	if (!ex && !json_is_object(json_object_get(*cfg, "contexts")))
		json_object_set_new(*cfg, "contexts", json_object());
	return ex;
}

/* An absolute form of a file name given on the command line. */
static json_t *abs_path(const char *p)
{
	char cwd[4096];

	if (p[0] == '/' || !getcwd(cwd, sizeof(cwd)))
		return json_string(p);
	return json_sprintf("%s/%s", cwd, p);
}

/* What one config command does to the config cfg: name is its argument
 * (NULL for none), opts its option values (set-context's); *save set when
 * cfg changed and is to be written. Returns an exit code. */
typedef int (*config_op)(struct cli_ctx *ctx, json_t *cfg, const char *name,
			 const char *const *opts, bool *save);

static json_t *context_named(json_t *cfg, const char *name)
{
	return json_object_get(json_object_get(cfg, "contexts"), name);
}

static int no_context(struct cli_ctx *ctx, const char *name)
{
	fprintf(ctx->err,
		"error: no context '%s'; see 'clawctl config get-contexts'\n",
		name);
	return CLI_ENOTFOUND;
}

static int op_set(struct cli_ctx *ctx, json_t *cfg, const char *name,
		  const char *const *opts, bool *save)
{
	json_t *c = context_named(cfg, name);

	if (!json_is_object(c)) {
		c = json_object();
		json_object_set_new(json_object_get(cfg, "contexts"), name, c);
	}
	if (opts[0])
		json_object_set_new(c, "server", json_string(opts[0]));
	if (opts[1]) {
		json_object_set_new(c, "token-file", abs_path(opts[1]));
		json_object_del(c, "token");
	}
	if (!json_string_value(json_object_get(cfg, "current-context")))
		json_object_set_new(cfg, "current-context", json_string(name));
	*save = true;
	fprintf(ctx->out, "context '%s' set\n", name);
	return CLI_OK;
}

static int op_use(struct cli_ctx *ctx, json_t *cfg, const char *name,
		  const char *const *opts, bool *save)
{
	(void)opts;
	if (!context_named(cfg, name))
		return no_context(ctx, name);
	json_object_set_new(cfg, "current-context", json_string(name));
	*save = true;
	fprintf(ctx->out, "switched to context '%s'\n", name);
	return CLI_OK;
}

static int op_delete(struct cli_ctx *ctx, json_t *cfg, const char *name,
		     const char *const *opts, bool *save)
{
	const char *cur =
		json_string_value(json_object_get(cfg, "current-context"));

	(void)opts;
	if (!context_named(cfg, name))
		return no_context(ctx, name);
	if (cur && !strcmp(cur, name))
		json_object_del(cfg, "current-context");
	json_object_del(json_object_get(cfg, "contexts"), name);
	*save = true;
	fprintf(ctx->out, "context '%s' deleted\n", name);
	return CLI_OK;
}

static const struct cli_col ctx_cols[] = {
	{"CURRENT", "current"},
	{"NAME", "name"},
	{"SERVER", "server"},
	{"TOKEN-FILE", "token-file"},
};

static int op_list(struct cli_ctx *ctx, json_t *cfg, const char *name,
		   const char *const *opts, bool *save)
{
	const char *cur =
		json_string_value(json_object_get(cfg, "current-context"));
	json_t *items = json_array(), *c;
	int ex;

	(void)opts;
	(void)save;
	json_object_foreach(json_object_get(cfg, "contexts"), name, c) {
		json_t *row = json_pack(
			"{s:s, s:s, s:O?, s:O?}", "name", name, "current",
			cur && !strcmp(cur, name) ? "*" : "", "server",
			json_object_get(c, "server"), "token-file",
			json_object_get(c, "token-file"));

		/* an inline token is never shown */
		if (row && json_object_get(c, "token"))
			json_object_set_new(row, "token",
					    json_string("(inline)"));
		json_array_append_new(items, row ? row : json_object());
	}
	ex = cli_print_reply(ctx, items, ctx_cols,
			     sizeof(ctx_cols) / sizeof(ctx_cols[0]));
	json_decref(items);
	return ex;
}

static int op_current(struct cli_ctx *ctx, json_t *cfg, const char *name,
		      const char *const *opts, bool *save)
{
	const char *cur =
		json_string_value(json_object_get(cfg, "current-context"));

	(void)name;
	(void)opts;
	(void)save;
	if (!cur) {
		fprintf(ctx->err,
			"error: no current context; run 'clawctl "
			"config use-context NAME'\n");
		return CLI_ENOTFOUND;
	}
	fprintf(ctx->out, "%s\n", cur);
	return CLI_OK;
}

static const struct config_cmd {
	const char *name; /* the subcommand */
	config_op op;
	const char *usage, *help;
	int nargs; /* 1: takes NAME */
} config_cmds[] = {
	{"set-context", op_set,
	 "config set-context NAME [--server URL] [--token-file FILE]",
	 "Create or change the context NAME (only the fields given change). "
	 "The first context made becomes the current one. The token file is "
	 "stored as an absolute path; the token itself never enters the "
	 "config.",
	 1},
	{"use-context", op_use, "config use-context NAME",
	 "Make NAME the current context: the control plane commands talk to "
	 "when no flag or environment variable says otherwise.",
	 1},
	{"get-contexts", op_list, "config get-contexts",
	 "List the contexts; '*' marks the current one. Inline tokens are "
	 "never shown.",
	 0},
	{"current-context", op_current, "config current-context",
	 "Print the name of the current context (exit 5 when none is set).", 0},
	{"delete-context", op_delete, "config delete-context NAME",
	 "Remove the context NAME (when it was the current one, no context "
	 "is current afterwards).",
	 1},
};

static int config_run(struct cli_ctx *ctx, int argc, char **argv)
{
	const char *vals[2] = {NULL, NULL}; /* --server, --token-file */
	const struct cli_opt set_opts[] = {
		{"server", "URL", &vals[0], NULL, "the control plane's URL"},
		{"token-file", "FILE", &vals[1], NULL,
		 "the file holding its API token"},
		CLI_OPT_END,
	};
	const struct config_cmd *cc = config_cmds;
	struct cli_spec spec = {NULL, NULL, NULL, 0, 0};
	const char *pos[1] = {NULL};
	char path[1024];
	json_t *cfg = NULL;
	bool save = false;
	int ex;

	while (cc + 1 < config_cmds +
			       sizeof(config_cmds) / sizeof(config_cmds[0]) &&
	       strcmp(cc->name, argv[0]))
		cc++;
	spec.usage = cc->usage;
	spec.help = cc->help;
	spec.opts = cc->op == op_set ? set_opts : NULL;
	spec.min_pos = spec.max_pos = cc->nargs;
	if (!cli_args_ok(ctx, &spec, argc, argv, pos, &ex))
		return ex;
	if (vals[0] && strncmp(vals[0], "http://", 7) &&
	    strncmp(vals[0], "https://", 8)) {
		fprintf(ctx->err,
			"error: --server '%s' must start with http:// or "
			"https://\n",
			vals[0]);
		return CLI_EUSAGE;
	}
	ex = open_config(ctx, path, sizeof(path), &cfg);
	if (!ex)
		ex = cc->op(ctx, cfg, pos[0], vals, &save);
	if (!ex && save)
		ex = cli_contexts_save(ctx->err, path, cfg);
	json_decref(cfg);
	return ex;
}

static const struct cli_cmd cmds[] = {
	{"set-context", config_run, "create or change a context"},
	{"use-context", config_run, "make a context the current one"},
	{"get-contexts", config_run, "list the contexts"},
	{"current-context", config_run, "print the current context's name"},
	{"delete-context", config_run, "remove a context"},
};

CLI_GROUP(cli_cmd_config, "config", cmds)
