/*
 * settings.c - what the resource commands (channels, model, tools) take
 * from the command line beyond cli_args_parse: options that repeat
 * ("--set K=V --set K=V", "--secret NAME ..."), "KEY=VALUE" settings typed
 * by one documented rule (docs/clawctl.md, "Settings"), and JSON files.
 *
 * The rule: VALUE is JSON when it reads as JSON (true, false, null, 12,
 * 1.5, "text", [..], {..}), else the text itself as a string; a VALUE
 * starting with [ { or " must be valid JSON (a typo there is an error, not
 * a string). So enabled=true is a boolean, rate_limit_per_minute=30 a
 * number, bot_username=claw_bot a string, and a string that looks like a
 * number is written quoted: bot_username='"1234"'. KEY is a dotted path
 * into nested objects (fallback.kind=openai).
 */
#include "cli.h"

#include <errno.h>
#include <string.h>

#define KEY_DEPTH 8
#define KEY_SEG_MAX 128 /* a name of a dotted key, with its NUL */

json_t *cli_opt_values(int argc, char **argv, const char *opt)
{
	json_t *a = json_array();
	size_t n = strlen(opt);

	for (int i = 1; a && i < argc; i++) {
		const char *s = argv[i];

		if (!strcmp(s, "--"))
			break;
		if (strncmp(s, "--", 2) || strncmp(s + 2, opt, n))
			continue;
		if (s[2 + n] == '=')
			json_array_append_new(a, json_string(s + 3 + n));
		else if (!s[2 + n] && i + 1 < argc)
			json_array_append_new(a, json_string(argv[++i]));
	}
	return a;
}

/* VALUE typed by the rule above; NULL when it must be JSON and is not. */
static json_t *typed(const char *v)
{
	json_t *j = json_loads(v, JSON_DECODE_ANY, NULL);

	if (j || (v[0] && strchr("[{\"", v[0])))
		return j;
	return json_string(v);
}

/* Whether the KEY of "KEY=VALUE" (up to eq) is a good dotted path. */
static bool key_ok(const char *kv, const char *eq)
{
	json_t *utf8 = json_stringn(kv, (size_t)(eq - kv));
	int depth = 0;

	if (!utf8)
		return false;
	json_decref(utf8);
	for (const char *seg = kv;; seg++) {
		size_t n = strcspn(seg, ".=");

		if (!n || n >= KEY_SEG_MAX || ++depth > KEY_DEPTH)
			return false;
		seg += n;
		if (seg == eq)
			return true;
	}
}

int cli_kv_set(json_t *obj, const char *kv, char *err, size_t errlen)
{
	const char *eq = strchr(kv, '=');
	const char *seg = kv;
	json_t *at = obj, *v;
	char key[KEY_SEG_MAX];

	if (!eq || eq == kv) {
		snprintf(err, errlen, "is not KEY=VALUE");
		return -1;
	}
	if (!key_ok(kv, eq)) {
		snprintf(err, errlen,
			 "the key must be UTF-8 names of 1 to %d characters "
			 "joined by '.', at most %d deep",
			 KEY_SEG_MAX - 1, KEY_DEPTH);
		return -1;
	}
	v = typed(eq + 1);
	if (!v) {
		snprintf(err, errlen, "%s",
			 strchr("[{\"", eq[1]) && eq[1]
				 ? "the value starts like JSON but is not "
				   "valid JSON; quote a plain string as "
				   "'\"...\"' or fix the JSON"
				 : "the value is not UTF-8 text");
		return -1;
	}
	for (;;) {
		size_t n = strcspn(seg, ".=");
		json_t *next;

		memcpy(key, seg, n);
		key[n] = '\0';
		if (seg + n == eq)
			break;
		next = json_object_get(at, key);
		if (!json_is_object(next)) {
			next = json_object();
			json_object_set_new(at, key, next);
		}
		at = next;
		seg += n + 1;
	}
	if (json_object_set_new(at, key, v)) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

int cli_kv_apply(struct cli_ctx *ctx, int argc, char **argv, const char *opt,
		 json_t *obj)
{
	json_t *all = cli_opt_values(argc, argv, opt), *e;
	char err[200];
	size_t i;

	if (!all) {
		fprintf(ctx->err, "error: out of memory\n");
		return CLI_ELOCAL;
	}
	json_array_foreach(all, i, e) {
		if (!cli_kv_set(obj, json_string_value(e), err, sizeof(err)))
			continue;
		fprintf(ctx->err,
			"error: --%s number %zu: %s; see '%s %s --help'\n", opt,
			i + 1, err, ctx->prog, ctx->cmd_path);
		json_decref(all);
		return CLI_EUSAGE;
	}
	json_decref(all);
	return CLI_OK;
}

int cli_json_file(struct cli_ctx *ctx, const char *file, json_t **out)
{
	FILE *f = strcmp(file, "-") ? fopen(file, "rb") : stdin;
	json_error_t jerr;

	*out = NULL;
	if (!f) {
		fprintf(ctx->err, "error: unable to open '%s': %s\n", file,
			strerror(errno));
		return CLI_ELOCAL;
	}
	*out = json_loadf(f, JSON_REJECT_DUPLICATES, &jerr);
	if (f != stdin)
		fclose(f);
	if (!json_is_object(*out)) {
		fprintf(ctx->err,
			"error: '%s' is not one JSON object (line %d: %s)\n",
			file, jerr.line, *out ? "not an object" : jerr.text);
		json_decref(*out);
		*out = NULL;
		return CLI_EUSAGE;
	}
	return CLI_OK;
}
