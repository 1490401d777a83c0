/*
 * persona.c - "clawctl persona": a tenant's SOUL.md (and AGENTS.md,
 * skills) as the versioned persona resource (docs/resources.md).
 *
 *   show TENANT [N]       the current SOUL.md (or version N's) as text
 *   edit TENANT           $VISUAL, else $EDITOR, else vi, on the current
 *                         SOUL.md in a 0600 temporary file; then the
 *                         unified diff of the change (diff.c), a y/N
 *                         question (--yes skips it; without a terminal
 *                         on stdin, --yes is required and checked before
 *                         the editor starts), and a PUT of the new text
 *                         with AGENTS.md and skills kept as they were
 *   history TENANT        GET .../persona/versions
 *   rollback TENANT N     version N's persona PUT as a new version
 *
 * The editor runs as "/bin/sh -c '$EDITOR \"$1\"'" so a variable such as
 * "code --wait" works and the file name is never parsed by the shell.
 */
#include "cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "claw/file.h"

#define PERSONA_PATH "/v1/tenants/%s/persona"
#define SOUL_MAX (64u << 10) /* the control plane's bound on a text */

static const struct cli_col version_cols[] = {
	{"VERSION", "version"}, {"CREATED", "created_at"}, {"BY", "created_by"},
	{"BYTES", "bytes"},     {"DELETED", "deleted"},
};

/* The persona resource (version NULL: the current one) into *out; a
 * tenant with none gets {"body": {}} when empty_ok. */
static int persona_get(struct cli_ctx *ctx, const char *tenant,
		       const char *version, bool empty_ok, json_t **out)
{
	int ex;

	if (version)
		return cli_api_callf(ctx, "GET", NULL, out,
				     "/v1/tenants/%s/persona/versions/%s",
				     tenant, version);
	if (!empty_ok)
		return cli_api_callf(ctx, "GET", NULL, out, PERSONA_PATH,
				     tenant);
	ex = cli_get_or_none(ctx, out, PERSONA_PATH, tenant);
	if (ex != CLI_ABSENT)
		return ex;
	*out = json_pack("{s:{}}", "body");
	return *out ? CLI_OK : CLI_ELOCAL;
}

static const char *soul_of(const json_t *res)
{
	const char *s = json_string_value(cli_path_get(res, "body.soul"));

	return s ? s : "";
}

static int persona_show(struct cli_ctx *ctx, int argc, char **argv)
{
	const struct cli_spec spec = {
		"persona show TENANT [VERSION]",
		"Print the tenant's SOUL.md (of VERSION, else the current "
		"one) as it is; -o json|yaml prints the whole persona "
		"(AGENTS.md and skills too) with its version.",
		NULL, 1, 2};
	const char *pos[2] = {NULL, NULL};
	json_t *res = NULL;
	int ex;

	if (!cli_args_ok(ctx, &spec, argc, argv, pos, &ex))
		return ex;
	ex = persona_get(ctx, pos[0], pos[1], false, &res);
	if (ex)
		return ex;
	if (cli_out_machine(ctx))
		cli_print_value(ctx, res);
	else
		fputs(soul_of(res), ctx->out);
	json_decref(res);
	return CLI_OK;
}

static int persona_history(struct cli_ctx *ctx, int argc, char **argv)
{
	return cli_list_path_cmd(
		ctx, argc, argv, "/v1/tenants/%s/persona/versions",
		"persona history TENANT [options]",
		"List the persona's versions, newest first: who made each, "
		"when, and its size. 'persona show TENANT N' prints one; "
		"'persona rollback TENANT N' makes it current again.",
		1, true, version_cols,
		sizeof(version_cols) / sizeof(version_cols[0]));
}

static int persona_rollback(struct cli_ctx *ctx, int argc, char **argv)
{
	const char *pos[2];
	json_t *res = NULL;
	bool deploy = false;
	int ex;

	if (!cli_res_args(ctx, argc, argv,
			  "persona rollback TENANT VERSION [--deploy]",
			  "Make an earlier version of the persona current: its "
			  "SOUL.md, AGENTS.md and skills are stored as a new "
			  "version (history keeps every version).",
			  2, pos, &deploy, &ex))
		return ex;
	ex = persona_get(ctx, pos[0], pos[1], false, &res);
	if (!ex)
		ex = cli_res_put(ctx, json_object_get(res, "body"), pos[0],
				 deploy, PERSONA_PATH);
	json_decref(res);
	return ex;
}

/* Run the editor on path; CLI_OK when it exited 0. */
static int run_editor(struct cli_ctx *ctx, const char *path)
{
	const char *ed = getenv("VISUAL");
	int status;
	pid_t pid;

	if (!ed || !*ed)
		ed = getenv("EDITOR");
	if (!ed || !*ed)
		ed = "vi";
	fflush(ctx->out);
	fflush(ctx->err);
	pid = fork();
	if (pid < 0) {
		fprintf(ctx->err, "error: unable to start the editor: %s\n",
			strerror(errno));
		return CLI_ELOCAL;
	}
	if (pid == 0) {
		char cmd[1024];

		snprintf(cmd, sizeof(cmd), "%s \"$1\"", ed);
		execl("/bin/sh", "sh", "-c", cmd, "sh", path, (char *)NULL);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return CLI_ELOCAL;
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		fprintf(ctx->err,
			"error: the editor '%s' failed (exit %d); nothing "
			"saved\n",
			ed, WIFEXITED(status) ? WEXITSTATUS(status) : -1);
		return CLI_EFAIL;
	}
	return CLI_OK;
}

/* The text edited: old written to a 0600 temporary file, the editor run
 * on it, the file read back into *out (allocated) and removed. */
static int edit_text(struct cli_ctx *ctx, const char *old, char **out,
		     size_t *len)
{
	const char *dir = getenv("TMPDIR");
	char path[4096], err[512];
	size_t n = strlen(old);
	int fd, ex;

	snprintf(path, sizeof(path), "%s/clawctl-SOUL-XXXXXX.md",
		 dir && *dir ? dir : "/tmp");
	fd = mkstemps(path, 3); /* 0600 */
	if (fd < 0 || fchmod(fd, 0600) ||
	    (n && write(fd, old, n) != (ssize_t)n)) {
		fprintf(ctx->err,
			"error: unable to write a temporary file in %s: %s; "
			"set TMPDIR to a writable directory\n",
			dir && *dir ? dir : "/tmp", strerror(errno));
		if (fd >= 0) {
			close(fd);
			unlink(path);
		}
		return CLI_ELOCAL;
	}
	close(fd);
	ex = run_editor(ctx, path);
	if (!ex && claw_file_load(path, SOUL_MAX, out, len, err, sizeof(err))) {
		fprintf(ctx->err,
			"error: %s (SOUL.md may hold at most %u bytes); "
			"nothing saved\n",
			err, SOUL_MAX);
		ex = CLI_ELOCAL;
	}
	unlink(path);
	return ex;
}

/* Ask "save? [y/N]" on the terminal: true for y or yes. */
static bool confirm(struct cli_ctx *ctx, const char *tenant)
{
	char line[16];

	fprintf(ctx->err, "save this as a new version of %s's persona? [y/N] ",
		tenant);
	fflush(ctx->err);
	if (!fgets(line, sizeof(line), stdin))
		return false;
	line[strcspn(line, "\r\n")] = '\0';
	return !strcasecmp(line, "y") || !strcasecmp(line, "yes");
}

static int persona_edit(struct cli_ctx *ctx, int argc, char **argv)
{
	bool yes = false, deploy = false;
	const struct cli_opt opts[] = {
		{"yes", NULL, NULL, &yes,
		 "save without asking (required when stdin is not a "
		 "terminal)"},
		CLI_DEPLOY_OPT(deploy),
		CLI_OPT_END,
	};
	const struct cli_spec spec = {
		"persona edit TENANT [--yes] [--deploy]",
		"Edit the tenant's SOUL.md in $VISUAL, else $EDITOR, else vi: "
		"the text is shown as a unified diff against the current one "
		"and saved as a new version after you answer y (AGENTS.md "
		"and skills stay as they are).",
		opts, 1, 1};
	const char *pos[1];
	json_t *res = NULL, *body;
	struct claw_buf diff;
	char *text = NULL;
	size_t len = 0;
	bool changed = false;
	int ex;

	if (!cli_args_ok(ctx, &spec, argc, argv, pos, &ex))
		return ex;
	if (!yes && !isatty(STDIN_FILENO)) {
		fprintf(ctx->err,
			"error: standard input is not a terminal, so clawctl "
			"cannot ask before saving; run it at a terminal or "
			"add --yes\n");
		return CLI_EUSAGE;
	}
	ex = persona_get(ctx, pos[0], NULL, true, &res);
	if (ex)
		return ex;
	ex = edit_text(ctx, soul_of(res), &text, &len);
	claw_buf_init(&diff, 0);
	if (!ex &&
	    cli_diff(&diff, soul_of(res), strlen(soul_of(res)), text, len,
		     "SOUL.md (current)", "SOUL.md (edited)", &changed)) {
		fprintf(ctx->err, "error: out of memory\n");
		ex = CLI_ELOCAL;
	}
	if (!ex && !changed) {
		fprintf(ctx->err, "no change; nothing saved\n");
		goto out;
	}
	if (!ex) {
		fwrite(diff.data, 1, diff.len, ctx->out);
		fflush(ctx->out);
	}
	if (!ex && !yes && !confirm(ctx, pos[0])) {
		fprintf(ctx->err, "not saved\n");
		goto out;
	}
	body = json_object_get(res, "body");
	if (!ex &&
	    (!json_is_object(body) ||
	     json_object_set_new(body, "soul", json_stringn(text, len)))) {
		fprintf(ctx->err,
			"error: the edited text is not UTF-8 or holds a NUL "
			"byte; nothing saved\n");
		ex = CLI_EUSAGE;
	}
	if (!ex)
		ex = cli_res_put(ctx, body, pos[0], deploy, PERSONA_PATH);
out:
	claw_buf_release(&diff);
	free(text);
	json_decref(res);
	return ex;
}

static const struct cli_cmd cmds[] = {
	{"show", persona_show, "print SOUL.md (current or a version)"},
	{"edit", persona_edit, "edit SOUL.md in $EDITOR, see the diff, save"},
	{"history", persona_history, "list the persona's versions"},
	{"rollback", persona_rollback, "make an earlier version current"},
};

CLI_GROUP(cli_cmd_persona, "persona", cmds)
