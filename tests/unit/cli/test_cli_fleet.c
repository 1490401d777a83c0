/*
 * test_cli_fleet.c - clawctl's fleet-operator parts, offline: YAML output
 * (exact bytes, tricky strings quoted), wide tables, the contexts file
 * (a group/other-readable one refused, precedence flags > env > context,
 * a context's token kept from other servers), rollout progress rendering
 * and the rollout table from canned JSON, top's rows and sorting, chat's
 * stream chunks, log line prefixes, and the command walk completion is
 * made from.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "cli.h"
#include "cli_cap.h"

static json_t *load(const char *text)
{
	json_error_t e;
	json_t *v = json_loads(text, JSON_DECODE_ANY, &e);

	if (!v)
		fail_msg("bad test JSON: %s", e.text);
	return v;
}

/* ---- YAML */

static void yaml_is(const char *json, const char *want)
{
	struct cap c;
	json_t *v = load(json);

	cap_open(&c);
	cli_print_yaml(c.ctx.out, v);
	cap_flush(&c);
	assert_string_equal(c.out_buf, want);
	json_decref(v);
	cap_close(&c);
}

static void test_yaml_shapes(void **state)
{
	(void)state;
	yaml_is("{\"a\":1,\"b\":{\"c\":[1,2],\"d\":{}},\"e\":[],"
		"\"f\":[{\"x\":true,\"y\":null},[3]],\"g\":2.0}",
		"a: 1\n"
		"b:\n"
		"  c:\n"
		"  - 1\n"
		"  - 2\n"
		"  d: {}\n"
		"e: []\n"
		"f:\n"
		"- x: true\n"
		"  \"y\": null\n"
		"- - 3\n"
		"g: 2.0\n");
	yaml_is("[]", "[]\n");
	yaml_is("\"plain text\"", "plain text\n");
}

static void test_yaml_quoting(void **state)
{
	/* each string as JSON, then as the YAML scalar it must become */
	static const char *const cases[][2] = {
		{"\"\"", "\"\""},
		{"\"true\"", "\"true\""},
		{"\"No\"", "\"No\""},
		{"\"on\"", "\"on\""},
		{"\"null\"", "\"null\""},
		{"\"~\"", "\"~\""},
		{"\"123\"", "\"123\""},
		{"\"1e3\"", "\"1e3\""},
		{"\"0x1F\"", "\"0x1F\""},
		{"\".5\"", "\".5\""},
		{"\"+1\"", "\"+1\""},
		{"\"-1\"", "\"-1\""},
		{"\"2026-12-06T09:00:00Z\"", "\"2026-12-06T09:00:00Z\""},
		{"\"- item\"", "\"- item\""},
		{"\"a: b\"", "\"a: b\""},
		{"\"a #c\"", "\"a #c\""},
		{"\"#c\"", "\"#c\""},
		{"\"key:\"", "\"key:\""},
		{"\" lead\"", "\" lead\""},
		{"\"trail \"", "\"trail \""},
		{"\"*ref\"", "\"*ref\""},
		{"\"&anchor\"", "\"&anchor\""},
		{"\"!tag\"", "\"!tag\""},
		{"\"{x}\"", "\"{x}\""},
		{"\"[x]\"", "\"[x]\""},
		{"\"|\"", "\"|\""},
		{"\">\"", "\">\""},
		{"\"'q'\"", "\"'q'\""},
		{"\"%x\"", "\"%x\""},
		{"\"@x\"", "\"@x\""},
		{"\"`x\"", "\"`x\""},
		{"\"say \\\"hi\\\"\"", "say \"hi\""},
		{"\"\\\"q\\\"\"", "\"\\\"q\\\"\""},
		{"\"a\\nb\"", "\"a\\nb\""},
		{"\"t\\tab\\\\\"", "\"t\\tab\\\\\""},
		{"\"\\u0001\\u007f\"", "\"\\x01\\x7F\""},
		{"\"x\\u2028y\\u0085z\"", "\"x\\Ly\\Nz\""},
		{"\"\\ufeffbom\"", "\"\\uFEFFbom\""},
		{"\"https://x.example/v1\"", "https://x.example/v1"},
		{"\"ro_3fa9\"", "ro_3fa9"},
		{"\"héllo wörld\"", "héllo wörld"},
		{"\"a:b\"", "a:b"},
	};
	char json[128], want[128];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(want, sizeof(want), "%s\n", cases[i][1]);
		yaml_is(cases[i][0], want);
		/* and as a key */
		snprintf(json, sizeof(json), "{%s:1}", cases[i][0]);
		snprintf(want, sizeof(want), "%s: 1\n", cases[i][1]);
		yaml_is(json, want);
	}
}

/* ---- wide tables and the output flag */

static void test_wide(void **state)
{
	static const struct cli_col cols[] = {{"SLUG", "slug"}};
	const char *long_name = "nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn"
				"nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn";
	json_t *reply = json_pack("{s:[{s:s, s:s, s:i, s:{}}, {s:s, s:b}]}",
				  "items", "slug", "a", "name", long_name,
				  "version", 3, "plan", "slug", "b", "ok", 1);
	struct cap c;
	char want[512];

	(void)state;
	cap_open(&c);
	assert_int_equal(cli_global_opt(&c.ctx, "output", "wide"), 1);
	assert_int_equal(cli_print_reply(&c.ctx, reply, cols, 1), CLI_OK);
	cap_flush(&c);
	/* every scalar member a column, no cut; "plan" (an object) left out */
	snprintf(want, sizeof(want),
		 "SLUG  NAME%*s  VERSION  OK\n"
		 "a     %s  3        -\n"
		 "b     -%*s  -        true\n",
		 (int)strlen(long_name) - 4, "", long_name,
		 (int)strlen(long_name) - 1, "");
	assert_string_equal(c.out_buf, want);
	assert_int_equal(cli_global_opt(&c.ctx, "output", "xml"), -CLI_EUSAGE);
	cap_flush(&c);
	assert_non_null(strstr(c.err_buf,
			       "'table', 'wide', 'json' or "
			       "'yaml'"));
	json_decref(reply);
	cap_close(&c);
}

/* ---- contexts */

static char dir[64];

static void write_file(const char *path, const char *text, mode_t mode)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	assert_int_equal(chmod(path, mode), 0);
}

static int ctx_setup(void **state)
{
	char path[128];

	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/cli-fleet-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	setenv("XDG_CONFIG_HOME", dir, 1);
	unsetenv("CLAW_URL");
	unsetenv("CLAW_TOKEN");
	unsetenv("CLAW_TOKEN_FILE");
	unsetenv("CLAW_CONTEXT");
	snprintf(path, sizeof(path), "%s/clawctl", dir);
	mkdir(path, 0700);
	snprintf(path, sizeof(path), "%s/ctx.token", dir);
	write_file(path, "tok-from-context\n", 0600);
	snprintf(path, sizeof(path), "%s/flag.token", dir);
	write_file(path, "tok-from-flag\n", 0600);
	return 0;
}

static int ctx_teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) ? -1 : 0;
}

static void write_config(mode_t mode)
{
	char path[128], text[512];

	snprintf(path, sizeof(path), "%s/clawctl/config", dir);
	snprintf(text, sizeof(text),
		 "{\"current-context\":\"a\",\"contexts\":{"
		 "\"a\":{\"server\":\"http://127.0.0.1:7001\","
		 "\"token-file\":\"%s/ctx.token\"},"
		 "\"b\":{\"server\":\"http://127.0.0.1:7002/\","
		 "\"token\":\"inline-b\"}}}",
		 dir);
	write_file(path, text, mode);
}

/* Resolve a fresh context with the flags given (NULL: not given). */
static int resolve(struct cap *c, const char *url, const char *tfile,
		   const char *context)
{
	cap_open(c);
	c->ctx.url = url;
	c->ctx.token_file = tfile;
	c->ctx.context = context;
	return cli_config_resolve(&c->ctx);
}

static void test_context_mode_refused(void **state)
{
	struct cap c;
	char path[128];

	(void)state;
	write_config(0644);
	snprintf(path, sizeof(path), "%s/clawctl/config", dir);
	assert_int_equal(resolve(&c, NULL, NULL, NULL), CLI_ELOCAL);
	cap_flush(&c);
	assert_non_null(strstr(c.err_buf, "may be read by others (mode 0644)"));
	assert_non_null(strstr(c.err_buf, "chmod 600"));
	assert_non_null(strstr(c.err_buf, path));
	assert_null(c.ctx.token);
	cap_close(&c);
	write_config(0640); /* group-readable is refused too */
	assert_int_equal(resolve(&c, NULL, NULL, NULL), CLI_ELOCAL);
	cap_close(&c);
	/* flags and env that give both URL and token never read it */
	setenv("CLAW_TOKEN", "tok-env", 1);
	assert_int_equal(resolve(&c, "http://127.0.0.1:9", NULL, NULL), CLI_OK);
	unsetenv("CLAW_TOKEN");
	cap_close(&c);
}

/* One resolution: the flags and environment given (NULL: not set; a
 * token file "FLAG" is the test's flag.token) and what must come out
 * (want_token NULL: no token). */
static const struct {
	const char *url, *tfile, *context;       /* flags */
	const char *env_url, *env_tok, *env_ctx; /* environment */
	const char *want_url, *want_token;
} precedence[] = {
	/* the current context alone */
	{NULL, NULL, NULL, NULL, NULL, NULL, "http://127.0.0.1:7001",
	 "tok-from-context"},
	/* --context names another (inline token, trailing slash) */
	{NULL, NULL, "b", NULL, NULL, NULL, "http://127.0.0.1:7002",
	 "inline-b"},
	/* env over context: URL and token */
	{NULL, NULL, NULL, NULL, "tok-env", "b", "http://127.0.0.1:7002",
	 "tok-env"},
	/* env URL of the context's server: its token */
	{NULL, NULL, NULL, "http://127.0.0.1:7001", NULL, NULL,
	 "http://127.0.0.1:7001", "tok-from-context"},
	/* flag over env; a server elsewhere gets no context token */
	{"http://127.0.0.1:7999", NULL, NULL, "http://127.0.0.1:7001", NULL,
	 NULL, "http://127.0.0.1:7999", NULL},
	/* env URL elsewhere: no context token either */
	{NULL, NULL, NULL, "http://127.0.0.1:7998", NULL, NULL,
	 "http://127.0.0.1:7998", NULL},
	/* --token-file over everything */
	{NULL, "FLAG", NULL, "http://127.0.0.1:7001", "tok-env", NULL,
	 "http://127.0.0.1:7001", "tok-from-flag"},
};

static void set_or_unset(const char *name, const char *value)
{
	if (value)
		setenv(name, value, 1);
	else
		unsetenv(name);
}

static void test_context_precedence(void **state)
{
	struct cap c;
	char flag_tok[128];

	(void)state;
	write_config(0600);
	snprintf(flag_tok, sizeof(flag_tok), "%s/flag.token", dir);
	for (size_t i = 0; i < sizeof(precedence) / sizeof(precedence[0]);
	     i++) {
		set_or_unset("CLAW_URL", precedence[i].env_url);
		set_or_unset("CLAW_TOKEN", precedence[i].env_tok);
		set_or_unset("CLAW_CONTEXT", precedence[i].env_ctx);
		assert_int_equal(resolve(&c, precedence[i].url,
					 precedence[i].tfile ? flag_tok : NULL,
					 precedence[i].context),
				 CLI_OK);
		assert_string_equal(c.ctx.url, precedence[i].want_url);
		if (precedence[i].want_token)
			assert_string_equal(c.ctx.token,
					    precedence[i].want_token);
		else
			assert_null(c.ctx.token);
		cap_close(&c);
	}
	set_or_unset("CLAW_URL", NULL);
	set_or_unset("CLAW_TOKEN", NULL);
	set_or_unset("CLAW_CONTEXT", NULL);
	/* a context that does not exist */
	assert_int_equal(resolve(&c, NULL, NULL, "nope"), CLI_EUSAGE);
	cap_flush(&c);
	assert_non_null(strstr(c.err_buf, "no context 'nope'"));
	cap_close(&c);
}

static int run(struct cap *c, char **argv)
{
	int argc = 0;

	while (argv[argc])
		argc++;
	cap_open(c);
	return cli_main(argc, argv, c->ctx.out, c->ctx.err);
}

static void test_context_commands(void **state)
{
	char *set[] = {"clawctl",  "config",     "set-context",  "c",
		       "--server", "http://h:1", "--token-file", "rel.tok",
		       NULL};
	char *use[] = {"clawctl", "config", "use-context", "c", NULL};
	char *use_bad[] = {"clawctl", "config", "use-context", "zz", NULL};
	char *cur[] = {"clawctl", "config", "current-context", NULL};
	char *list[] = {"clawctl", "-o",           "json",
			"config",  "get-contexts", NULL};
	char path[128];
	struct cap c;
	struct stat st;
	json_t *items;

	(void)state;
	write_config(0600);
	assert_int_equal(run(&c, set), CLI_OK);
	cap_close(&c);
	snprintf(path, sizeof(path), "%s/clawctl/config", dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(run(&c, use), CLI_OK);
	cap_close(&c);
	assert_int_equal(run(&c, use_bad), CLI_ENOTFOUND);
	cap_close(&c);
	assert_int_equal(run(&c, cur), CLI_OK);
	cap_flush(&c);
	assert_string_equal(c.out_buf, "c\n");
	cap_close(&c);
	assert_int_equal(run(&c, list), CLI_OK);
	cap_flush(&c);
	items = load(c.out_buf);
	assert_int_equal(json_array_size(items), 3);
	/* the inline token is never shown; the file name is absolute */
	assert_null(strstr(c.out_buf, "inline-b"));
	assert_non_null(strstr(c.out_buf, "/rel.tok\""));
	assert_non_null(strstr(c.out_buf, "\"current\": \"*\""));
	json_decref(items);
	cap_close(&c);
}

/* ---- rollouts */

static const char *const ro_json =
	"{\"id\":\"ro_ab12\",\"state\":\"running\",\"total\":30,"
	"\"succeeded\":10,\"failed\":1,\"rolled_back\":1,\"pending\":13,"
	"\"in_progress\":5,\"batch\":3,\"reason\":null,"
	"\"tenants\":[{\"tenant\":\"t1\",\"state\":\"healthy\",\"batch\":1,"
	"\"deployment\":\"d1\",\"previous_deployment\":\"d0\","
	"\"error\":null},{\"tenant\":\"t2\",\"state\":\"failed\","
	"\"batch\":2,\"deployment\":\"d2\",\"previous_deployment\":null,"
	"\"error\":\"unhealthy after 2000 ms\"}]}";

static void test_rollout_line(void **state)
{
	json_t *ro = load(ro_json);
	char line[256];

	(void)state;
	cli_rollout_line(ro, line, sizeof(line));
	/* 12 of 30 done: 12 * 24 / 30 = 9 of 24 cells */
	assert_string_equal(
		line,
		"ro_ab12 running   [#########...............] 12/30  "
		"ok 10  failed 1  rolled back 1  in progress 5  "
		"pending 13  batch 3");
	assert_false(cli_rollout_done(ro));
	json_object_set_new(ro, "state", json_string("halted"));
	assert_true(cli_rollout_done(ro));
	json_object_set_new(ro, "state", json_string("paused"));
	assert_false(cli_rollout_done(ro));
	/* an empty or odd rollout draws, never divides by zero */
	json_decref(ro);
	ro = load("{\"total\":0,\"succeeded\":-4}");
	cli_rollout_line(ro, line, sizeof(line));
	assert_string_equal(line,
			    "? ?         [........................] 0/0  "
			    "ok 0  failed 0  rolled back 0  in progress 0  "
			    "pending 0  batch 0");
	json_decref(ro);
}

static void test_rollout_print(void **state)
{
	json_t *ro = load(ro_json);
	struct cap c;

	(void)state;
	cap_open(&c);
	cli_rollout_print(&c.ctx, ro);
	cap_flush(&c);
	assert_non_null(strstr(c.out_buf, "state:       running\n"));
	assert_non_null(strstr(
		c.out_buf,
		"\nTENANT  STATE    BATCH  DEPLOYMENT  PREVIOUS  ERROR\n"
		"t1      healthy  1      d1          d0        -\n"
		"t2      failed   2      d2          -         unhealthy after "
		"2000 ms\n"));
	cap_close(&c);
	cap_open(&c);
	c.ctx.output = CLI_OUT_YAML;
	cli_rollout_print(&c.ctx, ro);
	cap_flush(&c);
	assert_non_null(strstr(c.out_buf, "- tenant: t2\n  state: failed\n"));
	cap_close(&c);
	json_decref(ro);
}

/* ---- top */

static void test_top(void **state)
{
	json_t *usage = load(
		"{\"tenants\":[{\"tenant\":\"a\",\"totals\":{\"turns\":5,"
		"\"input_tokens\":100,\"output_tokens\":50,\"tool_calls\":2}},"
		"{\"tenant\":\"b\",\"totals\":{\"turns\":9,\"input_tokens\":10,"
		"\"output_tokens\":5,\"tool_calls\":0}}],\"totals\":{}}");
	json_t *res = load("{\"a\":{\"phase\":\"healthy\",\"node\":\"n1\","
			   "\"cpus_milli\":500,\"memory_mb\":256},"
			   "\"c\":{\"phase\":\"not deployed\"},"
			   "\"b\":{\"phase\":\"healthy\",\"node\":\"n2\","
			   "\"cpus_milli\":1000,\"memory_mb\":128}}");
	json_t *rows = cli_top_rows(usage, res);
	const struct cli_col *cols;
	size_t n;
	struct cap c;

	(void)state;
	cols = cli_top_cols(&n);
	assert_int_equal(json_array_size(rows), 3);
	assert_int_equal(cli_top_sort(rows, "tokens"), 0);
	cap_open(&c);
	cli_print_table(c.ctx.out, rows, cols, n);
	cap_flush(&c);
	assert_string_equal(
		c.out_buf,
		"TENANT  PHASE         NODE  TURNS  TOKENS  TOOL_CALLS  CPU_M  "
		"MEM_MB\n"
		"a       healthy       n1    5      150     2           500    "
		"256\n"
		"b       healthy       n2    9      15      0           1000   "
		"128\n"
		"c       not deployed  -     -      -       -           -      "
		"-\n");
	cap_close(&c);
	assert_int_equal(cli_top_sort(rows, "turns"), 0);
	assert_string_equal(json_string_value(json_object_get(
				    json_array_get(rows, 0), "tenant")),
			    "b");
	assert_int_equal(cli_top_sort(rows, "cpu"), 0);
	assert_string_equal(json_string_value(json_object_get(
				    json_array_get(rows, 0), "tenant")),
			    "b");
	assert_int_equal(cli_top_sort(rows, "mem"), 0);
	assert_string_equal(json_string_value(json_object_get(
				    json_array_get(rows, 0), "tenant")),
			    "a");
	assert_int_equal(cli_top_sort(rows, "disk"), -1);
	json_decref(rows);
	/* no usage API: the resources alone */
	rows = cli_top_rows(NULL, res);
	assert_int_equal(json_array_size(rows), 3);
	json_decref(rows);
	json_decref(usage);
	json_decref(res);
}

/* ---- chat chunks */

static void test_chat_chunks(void **state)
{
	struct claw_buf reply;
	struct cap c;

	(void)state;
	claw_buf_init(&reply, 0);
	cap_open(&c);
	assert_int_equal(cli_chat_chunk(c.ctx.out, c.ctx.err,
					"{\"choices\":[{\"delta\":{\"role\":"
					"\"assistant\"}}]}",
					&reply),
			 CLI_STREAM_GO_ON);
	assert_int_equal(cli_chat_chunk(c.ctx.out, c.ctx.err,
					"{\"choices\":[{\"delta\":{"
					"\"content\":\"Hel\"}}]}",
					&reply),
			 CLI_STREAM_GO_ON);
	assert_int_equal(cli_chat_chunk(c.ctx.out, c.ctx.err,
					"{\"choices\":[{\"delta\":{"
					"\"content\":\"lo\"},\"finish_reason\":"
					"\"stop\"}]}",
					&reply),
			 CLI_STREAM_GO_ON);
	assert_int_equal(cli_chat_chunk(c.ctx.out, c.ctx.err, "[DONE]", &reply),
			 CLI_OK);
	cap_flush(&c);
	assert_string_equal(c.out_buf, "Hello");
	assert_int_equal(reply.len, 5);
	assert_int_equal(
		cli_chat_chunk(c.ctx.out, c.ctx.err,
			       "{\"error\":{\"message\":\"the agent failed\","
			       "\"code\":\"runtime_error\"}}",
			       &reply),
		CLI_EFAIL);
	assert_int_equal(cli_chat_chunk(c.ctx.out, c.ctx.err, "nope", &reply),
			 CLI_EFAIL);
	cap_flush(&c);
	assert_non_null(strstr(c.err_buf, "the agent failed (runtime_error)"));
	cap_close(&c);
	claw_buf_release(&reply);
}

/* ---- logs across a rollout: each line prefixed */

static void test_log_lines(void **state)
{
	struct cap c;

	(void)state;
	cap_open(&c);
	cli_log_lines(c.ctx.out, "t1 | ", "one\ntwo\n");
	cli_log_lines(c.ctx.out, "t2 | ", "three");
	cli_log_lines(c.ctx.out, NULL, "four\n");
	cap_flush(&c);
	assert_string_equal(c.out_buf,
			    "t1 | one\nt1 | two\nt2 | three\nfour\n");
	cap_close(&c);
}

/* ---- the walk completion is made from */

static void test_describe(void **state)
{
	struct cap c;
	json_t *words = NULL, *valopts = NULL;

	(void)state;
	cap_open(&c);
	assert_int_equal(cli_describe_all(&c.ctx, &words, &valopts), CLI_OK);
	assert_non_null(strstr(json_string_value(json_object_get(words, "")),
			       "rollout"));
	assert_string_equal(
		json_string_value(json_object_get(words, "rollout")),
		"create list get status pause resume abort");
	assert_string_equal(
		json_string_value(json_object_get(words, "config")),
		"set-context use-context get-contexts current-context "
		"delete-context");
	assert_non_null(strstr(
		json_string_value(json_object_get(words, "rollout status")),
		"--watch"));
	assert_string_equal(json_string_value(json_object_get(words, "top")),
			    "--sort --since");
	assert_non_null(json_object_get(valopts, "sort"));
	assert_null(json_object_get(valopts, "watch"));
	/* the walk ran nothing: no output at all */
	cap_flush(&c);
	assert_int_equal(c.out_len, 0);
	assert_int_equal(c.err_len, 0);
	json_decref(words);
	json_decref(valopts);
	cap_close(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_yaml_shapes),
		cmocka_unit_test(test_yaml_quoting),
		cmocka_unit_test(test_wide),
		cmocka_unit_test_setup_teardown(test_context_mode_refused,
						ctx_setup, ctx_teardown),
		cmocka_unit_test_setup_teardown(test_context_precedence,
						ctx_setup, ctx_teardown),
		cmocka_unit_test_setup_teardown(test_context_commands,
						ctx_setup, ctx_teardown),
		cmocka_unit_test(test_rollout_line),
		cmocka_unit_test(test_rollout_print),
		cmocka_unit_test(test_top),
		cmocka_unit_test(test_chat_chunks),
		cmocka_unit_test(test_log_lines),
		cmocka_unit_test(test_describe),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
