/*
 * completion.c - "clawctl completion bash|zsh": shell completion written
 * by clawctl from the tables its parser uses, so it cannot drift from it.
 *
 * How: with ctx->describe set, cli_dispatch records a group's subcommands
 * and walks into each, and cli_args_parse records a command's options
 * instead of parsing (every command parses before it does anything, so
 * walking runs nothing). The result is a map from command path ("",
 * "tenants", "tenants list") to the words that may follow it; the script
 * is a case over that map plus a loop that finds the path of the words
 * typed so far (skipping options and the values of options that take
 * one). Global options complete after any "-"; "-o" completes the formats.
 */
#include "cli.h"

#include <string.h>

struct cli_describe {
	json_t *words;   /* path -> "word word ..." */
	json_t *valopts; /* "--name" of every option taking a value */
};

static void add_word(struct cli_ctx *ctx, const char *prefix, const char *w)
{
	json_t *words = ctx->describe->words;
	const char *have =
		json_string_value(json_object_get(words, ctx->cmd_path));

	json_object_set_new(words, ctx->cmd_path,
			    json_sprintf("%s%s%s%s", have ? have : "",
					 have && *have ? " " : "", prefix, w));
}

void cli_describe_opts(struct cli_ctx *ctx, const struct cli_spec *spec)
{
	/* a leaf: present even without options, so the loop knows it */
	if (!json_object_get(ctx->describe->words, ctx->cmd_path))
		json_object_set_new(ctx->describe->words, ctx->cmd_path,
				    json_string(""));
	for (const struct cli_opt *o = spec->opts; o && o->name; o++) {
		add_word(ctx, "--", o->name);
		if (o->arg)
			json_object_set_new(ctx->describe->valopts, o->name,
					    json_true());
	}
}

void cli_describe_group(struct cli_ctx *ctx, const struct cli_cmd *cmds,
			size_t n)
{
	size_t len = strlen(ctx->cmd_path);

	for (size_t i = 0; i < n; i++)
		add_word(ctx, "", cmds[i].name);
	for (size_t i = 0; i < n; i++) {
		char *argv[] = {(char *)cmds[i].name, NULL};

		snprintf(ctx->cmd_path + len, sizeof(ctx->cmd_path) - len,
			 "%s%s", len ? " " : "", cmds[i].name);
		cmds[i].fn(ctx, 1, argv);
		ctx->cmd_path[len] = '\0';
	}
}

/* The words of the global options ("--url --token-file ... -o -h"), and
 * those taking a value, into valopts. */
static void global_words(struct claw_buf *b, json_t *valopts)
{
	static const char *const with_value[] = {"url", "token-file", "context",
						 "output", "timeout"};

	claw_buf_puts(b, "--help -h -o");
	for (size_t i = 0; i < sizeof(with_value) / sizeof(with_value[0]);
	     i++) {
		claw_buf_printf(b, " --%s", with_value[i]);
		json_object_set_new(valopts, with_value[i], json_true());
	}
}

static void print_cases(FILE *f, const json_t *words)
{
	const char *path;
	json_t *w;

	fprintf(f, "_clawctl_words() {\n\tcase \"$1\" in\n");
	json_object_foreach((json_t *)words, path, w)
		fprintf(f, "\t'%s') echo '%s' ;;\n", path,
			json_string_value(w));
	fprintf(f, "\t*) return 1 ;;\n\tesac\n}\n");
}

/* The shared part of both scripts: the word list, the globals, the
 * options taking a value, and the loop over the typed words (its index
 * of the first word and of the current one are the shells' own). */
static void print_common(FILE *f, const struct cli_describe *d,
			 const char *globals)
{
	const char *name;
	json_t *v;

	print_cases(f, d->words);
	fprintf(f, "_clawctl_globals='%s'\n_clawctl_valopts=' -o", globals);
	json_object_foreach(d->valopts, name, v)
		fprintf(f, " --%s", name);
	fprintf(f, " '\n");
	/* sets p (the command path) and skip (1: the word being completed is
	 * the value of option prev) from words first..cur-1 of the array
	 * named by $1 */
	fprintf(f,
		"_clawctl_path() {\n"
		"\tlocal w next i\n"
		"\tp='' skip=0 prev=''\n"
		"\tfor ((i = $2; i < $3; i++)); do\n"
		"\t\teval \"w=\\${$1[i]}\"\n"
		"\t\tif ((skip)); then skip=0; continue; fi\n"
		"\t\tcase \"$_clawctl_valopts\" in\n"
		"\t\t*\" $w \"*) skip=1; prev=$w; continue ;;\n"
		"\t\tesac\n"
		"\t\tcase \"$w\" in -*) continue ;; esac\n"
		"\t\tnext=\"${p:+$p }$w\"\n"
		"\t\t_clawctl_words \"$next\" >/dev/null && p=$next\n"
		"\tdone\n"
		"}\n"
		"_clawctl_candidates() {\n"
		"\tif ((skip)); then\n"
		"\t\tcase \"$prev\" in -o|--output) echo 'table wide json "
		"yaml' ;; esac\n"
		"\t\treturn\n"
		"\tfi\n"
		"\tcase \"$1\" in\n"
		"\t-*) echo \"$(_clawctl_words \"$p\") $_clawctl_globals\" ;;\n"
		"\t*) _clawctl_words \"$p\" ;;\n"
		"\tesac\n"
		"}\n");
}

/* What differs between the shells: the header, how the typed words are
 * found, how files and the candidates are offered, and the footer. */
struct shell {
	const char *name, *head, *words, *files, *offer, *foot;
};

static const struct shell shells[] = {
	{"bash", "",
	 "\tlocal cur=${COMP_WORDS[COMP_CWORD]} p skip prev\n"
	 "\t_clawctl_path COMP_WORDS 1 \"$COMP_CWORD\"\n",
	 "\t\tCOMPREPLY=($(compgen -f -- \"$cur\"))\n",
	 "\tCOMPREPLY=($(compgen -W \"$(_clawctl_candidates \"$cur\")\" -- "
	 "\"$cur\"))\n",
	 "complete -F _clawctl clawctl\n"},
	{"zsh", "#compdef clawctl\n",
	 "\tlocal cur=${words[CURRENT]} p skip prev\n"
	 "\tlocal -a cands\n"
	 "\t_clawctl_path words 2 \"$CURRENT\"\n",
	 "\t\t_files\n",
	 "\tcands=(${=$(_clawctl_candidates \"$cur\")})\n"
	 "\tcompadd -- $cands\n",
	 "if [[ \"${funcstack[1]}\" == _clawctl ]]; then\n"
	 "\t_clawctl \"$@\"\n"
	 "else\n"
	 "\tcompdef _clawctl clawctl\n"
	 "fi\n"},
};

static void print_script(FILE *f, const struct shell *sh,
			 const struct cli_describe *d, const char *globals)
{
	fprintf(f,
		"%s# %s completion for clawctl, written by 'clawctl "
		"completion %s'.\n# Use: source <(clawctl completion %s)\n",
		sh->head, sh->name, sh->name, sh->name);
	print_common(f, d, globals);
	fprintf(f,
		"_clawctl() {\n%s"
		"\tif ((skip)) && [[ $prev != -o && $prev != --output ]]; "
		"then\n%s\t\treturn\n\tfi\n%s}\n%s",
		sh->words, sh->files, sh->offer, sh->foot);
}

int cli_describe_all(struct cli_ctx *ctx, json_t **words, json_t **valopts)
{
	struct cli_describe d = {json_object(), json_object()};
	size_t n;
	const struct cli_cmd *top = cli_top_cmds(&n);

	ctx->describe = &d;
	ctx->cmd_path[0] = '\0';
	cli_describe_group(ctx, top, n);
	ctx->describe = NULL;
	*words = d.words;
	*valopts = d.valopts;
	return d.words && d.valopts ? CLI_OK : CLI_ELOCAL;
}

int cli_cmd_completion(struct cli_ctx *ctx, int argc, char **argv)
{
	const struct cli_spec spec = {
		"completion bash|zsh",
		"Print the shell completion script for bash or zsh, made from "
		"clawctl's own command tables. Load it with 'source <(clawctl "
		"completion bash)' (or zsh) in your shell's start-up file.",
		NULL, 1, 1};
	const char *pos[1];
	const struct shell *sh = shells;
	struct cli_describe d;
	struct claw_buf globals;
	char path[sizeof(ctx->cmd_path)];
	int ex;

	if (!cli_args_ok(ctx, &spec, argc, argv, pos, &ex))
		return ex;
	while (sh + 1 < shells + sizeof(shells) / sizeof(shells[0]) &&
	       strcmp(sh->name, pos[0]))
		sh++;
	if (strcmp(sh->name, pos[0])) {
		fprintf(ctx->err,
			"error: no completion for shell '%s'; use 'bash' or "
			"'zsh'\n",
			pos[0]);
		return CLI_EUSAGE;
	}
	memcpy(path, ctx->cmd_path, sizeof(path));
	ex = cli_describe_all(ctx, &d.words, &d.valopts);
	memcpy(ctx->cmd_path, path, sizeof(path));
	claw_buf_init(&globals, 0);
	global_words(&globals, d.valopts);
	if (!ex && globals.data) {
		print_script(ctx->out, sh, &d, globals.data);
	} else {
		fprintf(ctx->err, "error: out of memory\n");
		ex = CLI_ELOCAL;
	}
	claw_buf_release(&globals);
	json_decref(d.words);
	json_decref(d.valopts);
	return ex;
}
