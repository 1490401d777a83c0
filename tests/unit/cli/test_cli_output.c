/*
 * test_cli_output.c - clawctl's output and error mapping: table cells and
 * alignment (exact bytes), key/value objects, list replies, path and query
 * escaping, HTTP status to exit code, the API's error shape printed, and
 * token files.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "cli.h"
#include "../testutil.h"

static char *mem_buf;
static size_t mem_len;

static FILE *mem_open(void)
{
	FILE *f = open_memstream(&mem_buf, &mem_len);

	assert_non_null(f);
	return f;
}

/* Close f and return what was written (caller frees). */
static char *mem_close(FILE *f)
{
	fclose(f);
	return mem_buf;
}

static void test_cells(void **state)
{
	char out[80];
	json_t *v = json_loads("{\"s\":\"a\\nb\",\"i\":42,\"r\":1.5,\"t\":true,"
			       "\"f\":false,\"n\":null,\"o\":{\"b\":1,\"a\":2},"
			       "\"long\":\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
			       "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
			       "xxxxxxxxxxxxxxxxxx\"}",
			       0, NULL);

	(void)state;
	assert_non_null(v);
	/* each member's cell (NULL: an absent one) */
	static const char *const cells[][2] = {
		{"s", "a b"},   {"i", "42"},
		{"r", "1.5"},   {"t", "true"},
		{"f", "false"}, {"n", "-"},
		{NULL, "-"},    {"o", "{\"a\":2,\"b\":1}"}};
	for (size_t i = 0; i < sizeof(cells) / sizeof(cells[0]); i++) {
		cli_cell(cells[i][0] ? json_object_get(v, cells[i][0]) : NULL,
			 out, sizeof(out));
		assert_string_equal(out, cells[i][1]);
	}
	cli_cell(json_object_get(v, "long"), out, sizeof(out));
	assert_int_equal(strlen(out), 72);
	assert_string_equal(out + 69, "...");
	json_decref(v);
}

static void test_path_get(void **state)
{
	json_t *v = json_loads("{\"actor\":{\"id\":\"tok_1\",\"x\":{\"y\":3}},"
			       "\"s\":\"z\"}",
			       0, NULL);

	(void)state;
	assert_string_equal(json_string_value(cli_path_get(v, "actor.id")),
			    "tok_1");
	assert_int_equal(json_integer_value(cli_path_get(v, "actor.x.y")), 3);
	assert_null(cli_path_get(v, "actor.nope"));
	assert_null(cli_path_get(v, "s.deeper"));
	json_decref(v);
}

static void test_table_exact(void **state)
{
	static const struct cli_col cols[] = {
		{"SLUG", "slug"}, {"NAME", "name"}, {"VERSION", "version"}};
	json_t *items = json_loads("[{\"slug\":\"acme\",\"name\":\"Acme "
				   "Corp\",\"version\":1},{\"slug\":\"b\","
				   "\"version\":12}]",
				   0, NULL);
	FILE *f = mem_open();
	char *s;

	(void)state;
	assert_int_equal(cli_print_table(f, items, cols, 3), 0);
	s = mem_close(f);
	assert_string_equal(s,
			    "SLUG  NAME       VERSION\n"
			    "acme  Acme Corp  1\n"
			    "b     -          12\n");
	free(s);
	/* an empty list still prints its header */
	f = mem_open();
	json_array_clear(items);
	assert_int_equal(cli_print_table(f, items, cols, 3), 0);
	s = mem_close(f);
	assert_string_equal(s, "SLUG  NAME  VERSION\n");
	free(s);
	json_decref(items);
}

static void test_object(void **state)
{
	json_t *v = json_loads("{\"id\":\"tnt_1\",\"labels\":{\"a\":\"b\"},"
			       "\"slug\":\"acme\",\"deleted_at\":null}",
			       0, NULL);
	FILE *f = mem_open();
	char *s;

	(void)state;
	cli_print_object(f, v);
	s = mem_close(f);
	assert_string_equal(s,
			    "id:         tnt_1\n"
			    "slug:       acme\n"
			    "deleted_at: -\n"
			    "labels:     {\"a\":\"b\"}\n");
	free(s);
	json_decref(v);
}

static void test_reply_formats(void **state)
{
	static const struct cli_col cols[] = {{"ID", "id"}};
	json_t *list = json_loads("{\"items\":[{\"id\":\"a\"}],"
				  "\"next_cursor\":\"17\"}",
				  0, NULL);
	struct cli_ctx ctx = {.prog = "clawctl"};
	char *out, *err, *errbuf;
	size_t errlen;

	(void)state;
	assert_ptr_equal(cli_list_items(list), json_object_get(list, "items"));
	assert_string_equal(cli_list_next(list), "17");
	ctx.out = mem_open();
	ctx.err = open_memstream(&errbuf, &errlen);
	assert_int_equal(cli_print_reply(&ctx, list, cols, 1), CLI_OK);
	out = mem_close(ctx.out);
	fclose(ctx.err);
	err = errbuf;
	assert_string_equal(out, "ID\na\n");
	assert_string_equal(err, "more: repeat with --cursor 17\n");
	free(out);
	free(err);
	/* json: the reply as it came, pretty */
	ctx.output = CLI_OUT_JSON;
	ctx.out = mem_open();
	assert_int_equal(cli_print_reply(&ctx, list, cols, 1), CLI_OK);
	out = mem_close(ctx.out);
	assert_string_equal(out,
			    "{\n  \"items\": [\n    {\n      \"id\": "
			    "\"a\"\n    }\n  ],\n  \"next_cursor\": "
			    "\"17\"\n}\n");
	free(out);
	json_decref(list);
	/* a bare array is a list too; an object without items is not */
	list = json_loads("[1]", JSON_DECODE_ANY, NULL);
	assert_ptr_equal(cli_list_items(list), list);
	assert_null(cli_list_next(list));
	json_decref(list);
	list = json_loads("{\"items\":{}}", 0, NULL);
	assert_null(cli_list_items(list));
	json_decref(list);
}

static void test_escape(void **state)
{
	struct claw_buf b;

	(void)state;
	claw_buf_init(&b, 0);
	assert_int_equal(cli_pathf(&b, "/v1/tenants/%s/secrets/%s", "acme",
				   "a b/../c?d"),
			 0);
	assert_string_equal(b.data,
			    "/v1/tenants/acme/secrets/a%20b%2F..%2Fc%3Fd");
	claw_buf_reset(&b);
	assert_int_equal(claw_buf_puts(&b, "/v1/audit"), 0);
	assert_int_equal(cli_query_add(&b, "tenant", "acme"), 0);
	assert_int_equal(cli_query_add(&b, "nothing", NULL), 0);
	assert_int_equal(
		cli_query_add(&b, "since", "2026-01-01T00:00:00+01:00"), 0);
	assert_string_equal(b.data,
			    "/v1/audit?tenant=acme&since="
			    "2026-01-01T00%3A00%3A00%2B01%3A00");
	claw_buf_release(&b);
}

static void test_exit_codes(void **state)
{
	/* {HTTP status, exit code} */
	static const int cases[][2] = {
		{200, CLI_OK},        {204, CLI_OK},       {400, CLI_EINVALID},
		{401, CLI_EAUTH},     {403, CLI_EAUTH},    {404, CLI_ENOTFOUND},
		{409, CLI_ECONFLICT}, {413, CLI_EINVALID}, {422, CLI_EINVALID},
		{500, CLI_ESERVER},   {503, CLI_ESERVER},  {302, CLI_ESERVER}};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_int_equal(cli_exit_for_status(cases[i][0]), cases[i][1]);
}

static void test_api_error_text(void **state)
{
	const char *shape = "{\"error\":{\"code\":\"slug_taken\",\"message\":"
			    "\"a tenant with slug 'acme' exists\","
			    "\"request_id\":\"r-1\"}}";
	FILE *f = mem_open();
	char *s;

	(void)state;
	cli_print_api_error(f, 409, shape, strlen(shape));
	cli_print_api_error(f, 502, "<html>bad gateway</html>", 24);
	cli_print_api_error(f, 404, NULL, 0);
	s = mem_close(f);
	assert_string_equal(
		s,
		"error: a tenant with slug 'acme' exists (slug_taken, HTTP "
		"409, request id r-1)\n"
		"error: the control plane answered HTTP 502 without an "
		"error description; retry, or check its log\n"
		"error: the control plane answered HTTP 404 without an "
		"error description\n");
	free(s);
}

static void test_token_file(void **state)
{
	char path[] = "/tmp/clawctl-tokXXXXXX";
	char err[256];
	char *tok;
	int fd = mkstemp(path);
	FILE *f;

	(void)state;
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	fputs("  claw_abc123 \n second line\n", f);
	fclose(f);
	tok = cli_token_read(path, err, sizeof(err));
	assert_non_null(tok);
	assert_string_equal(tok, "claw_abc123");
	free(tok);
	f = fopen(path, "w");
	fclose(f);
	assert_null(cli_token_read(path, err, sizeof(err)));
	assert_contains(err, "is empty");
	unlink(path);
	assert_null(cli_token_read(path, err, sizeof(err)));
	assert_contains(err, "unable to open token file");
}

static void test_config(void **state)
{
	struct cli_ctx ctx = {.prog = "clawctl"};
	char xdg[] = "/tmp/cli-config-XXXXXX";
	char *errbuf;
	size_t errlen;

	(void)state;
	/* an empty config folder: no context of the user's answers */
	assert_non_null(mkdtemp(xdg));
	setenv("XDG_CONFIG_HOME", xdg, 1);
	unsetenv("CLAW_CONTEXT");
	ctx.err = open_memstream(&errbuf, &errlen);
	unsetenv("CLAW_TOKEN_FILE");
	setenv("CLAW_URL", "http://127.0.0.1:9/api//", 1);
	setenv("CLAW_TOKEN", "t-env", 1);
	assert_int_equal(cli_config_resolve(&ctx), CLI_OK);
	assert_string_equal(ctx.url, "http://127.0.0.1:9/api");
	assert_string_equal(ctx.token, "t-env");
	fclose(ctx.err);
	free(errbuf);
	cli_ctx_release(&ctx);
	memset(&ctx, 0, sizeof(ctx));
	ctx.err = open_memstream(&errbuf, &errlen);
	ctx.url = "ftp://x";
	assert_int_equal(cli_config_resolve(&ctx), CLI_EUSAGE);
	fclose(ctx.err);
	assert_contains(errbuf,
			"must start with http:// or "
			"https://");
	free(errbuf);
	cli_ctx_release(&ctx);
	memset(&ctx, 0, sizeof(ctx));
	ctx.err = open_memstream(&errbuf, &errlen);
	unsetenv("CLAW_URL");
	unsetenv("CLAW_TOKEN");
	assert_int_equal(cli_config_resolve(&ctx), CLI_OK);
	assert_string_equal(ctx.url, "http://127.0.0.1:7070");
	assert_null(ctx.token);
	fclose(ctx.err);
	free(errbuf);
	cli_ctx_release(&ctx);
	rmdir(xdg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cells),
		cmocka_unit_test(test_path_get),
		cmocka_unit_test(test_table_exact),
		cmocka_unit_test(test_object),
		cmocka_unit_test(test_reply_formats),
		cmocka_unit_test(test_escape),
		cmocka_unit_test(test_exit_codes),
		cmocka_unit_test(test_api_error_text),
		cmocka_unit_test(test_token_file),
		cmocka_unit_test(test_config),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
