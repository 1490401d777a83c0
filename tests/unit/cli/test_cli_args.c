/*
 * test_cli_args.c - clawctl's command line: options and flags in every
 * spelling, global options anywhere, positional counts, --help, the exit
 * codes of usage errors, and the top-level dispatch.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "cli.h"
#include "cli_cap.h"
#include "../testutil.h"

/* A captured context for the command "things do". */
static void cap_start(struct cap *c)
{
	cap_open(c);
	snprintf(c->ctx.cmd_path, sizeof(c->ctx.cmd_path), "things do");
}

static const char *name_v, *limit_v;
static bool all_f;
static const struct cli_opt opts[] = {
	{"name", "NAME", &name_v, NULL, "the name"},
	{"limit", "N", &limit_v, NULL, "how many"},
	{"all", NULL, NULL, &all_f, "everything"},
	{NULL, NULL, NULL, NULL, NULL},
};
static const struct cli_spec spec = {"things do ARG [ARG2]", "Do things.", opts,
				     1, 2};

static int parse(struct cap *c, const char **pos, int *npos, ...)
{
	char *argv[16];
	int argc = 0;
	va_list ap;
	const char *a;

	name_v = limit_v = NULL;
	all_f = false;
	argv[argc++] = (char *)"do";
	va_start(ap, npos);
	while ((a = va_arg(ap, const char *)))
		argv[argc++] = (char *)a;
	va_end(ap);
	argv[argc] = NULL;
	return cli_args_parse(&c->ctx, &spec, argc, argv, pos, npos);
}

static void test_options_every_spelling(void **state)
{
	struct cap c;
	const char *pos[2];
	int npos;

	(void)state;
	cap_start(&c);
	assert_int_equal(parse(&c, pos, &npos, "x", "--name", "n1", "--all",
			       "--limit=5", "y", NULL),
			 CLI_OK);
	assert_int_equal(npos, 2);
	assert_string_equal(pos[0], "x");
	assert_string_equal(pos[1], "y");
	assert_string_equal(name_v, "n1");
	assert_string_equal(limit_v, "5");
	assert_true(all_f);
	/* "--" makes what follows positional, even if it looks like an
	 * option */
	assert_int_equal(parse(&c, pos, &npos, "--", "--name", NULL), CLI_OK);
	assert_int_equal(npos, 1);
	assert_string_equal(pos[0], "--name");
	assert_null(name_v);
	cap_close(&c);
}

static void test_globals_anywhere(void **state)
{
	struct cap c;
	const char *pos[2];
	int npos;

	(void)state;
	cap_start(&c);
	assert_int_equal(parse(&c, pos, &npos, "x", "-o", "json", "--url",
			       "http://h:1", "--timeout=7", NULL),
			 CLI_OK);
	assert_int_equal(c.ctx.output, CLI_OUT_JSON);
	assert_true(c.ctx.output_set);
	assert_string_equal(c.ctx.url, "http://h:1");
	assert_int_equal(c.ctx.timeout_ms, 7000);
	/* --url again: the replicas, in order */
	assert_int_equal(parse(&c, pos, &npos, "x", "--url", "http://h:2",
			       "--url=http://h:3", NULL),
			 CLI_OK);
	assert_string_equal(c.ctx.url, "http://h:1,http://h:2,http://h:3");
	assert_int_equal(parse(&c, pos, &npos, "x", "-otable", NULL), CLI_OK);
	assert_int_equal(c.ctx.output, CLI_OUT_TABLE);
	assert_int_equal(parse(&c, pos, &npos, "x", "--output=json", NULL),
			 CLI_OK);
	assert_int_equal(c.ctx.output, CLI_OUT_JSON);
	cap_close(&c);
}

static void test_usage_errors(void **state)
{
	struct cap c;
	const char *pos[2];
	int npos;

	(void)state;
	cap_start(&c);
	assert_int_equal(parse(&c, pos, &npos, "x", "--nope", NULL),
			 CLI_EUSAGE);
	assert_int_equal(parse(&c, pos, &npos, "x", "--name", NULL),
			 CLI_EUSAGE);
	assert_int_equal(parse(&c, pos, &npos, "x", "--all=1", NULL),
			 CLI_EUSAGE);
	assert_int_equal(parse(&c, pos, &npos, "x", "-z", NULL), CLI_EUSAGE);
	assert_int_equal(parse(&c, pos, &npos, NULL), CLI_EUSAGE);
	assert_int_equal(parse(&c, pos, &npos, "a", "b", "c", NULL),
			 CLI_EUSAGE);
	assert_int_equal(parse(&c, pos, &npos, "a", "-o", "xml", NULL),
			 CLI_EUSAGE);
	assert_int_equal(parse(&c, pos, &npos, "a", "--timeout", "0", NULL),
			 CLI_EUSAGE);
	cap_flush(&c);
	assert_contains(c.err_buf,
			"error: unknown option '--nope'; "
			"see 'clawctl things do --help'");
	assert_contains(c.err_buf, "error: --name needs a value");
	assert_contains(c.err_buf, "error: --all takes no value");
	assert_contains(c.err_buf,
			"error: missing argument; usage: "
			"clawctl things do ARG [ARG2]");
	assert_contains(c.err_buf,
			"error: too many arguments (at "
			"most 2)");
	assert_lacks(c.err_buf, "'c'");
	assert_contains(c.err_buf, "unknown output format 'xml'");
	assert_contains(c.err_buf,
			"--timeout '0' is not a whole "
			"number from 1 to 86400");
	/* nothing for the user went to stdout */
	assert_int_equal(c.out_len, 0);
	cap_close(&c);
}

static void test_help(void **state)
{
	struct cap c;
	const char *pos[2];
	int npos;

	(void)state;
	cap_start(&c);
	assert_int_equal(parse(&c, pos, &npos, "--help", NULL), CLI_HELP_SHOWN);
	assert_int_equal(parse(&c, pos, &npos, "x", "-h", NULL),
			 CLI_HELP_SHOWN);
	cap_flush(&c);
	assert_contains(c.out_buf,
			"usage: clawctl things do ARG "
			"[ARG2]\n\nDo things.\n");
	assert_contains(c.out_buf, "  --limit N");
	assert_contains(c.out_buf, "Global options:");
	assert_contains(c.out_buf, "--token-file FILE");
	cap_close(&c);
}

static void test_count(void **state)
{
	struct cap c;
	long v = 0;

	(void)state;
	cap_start(&c);
	assert_int_equal(cli_parse_count(&c.ctx, "limit", "12", 100, &v),
			 CLI_OK);
	assert_int_equal(v, 12);
	assert_int_equal(cli_parse_count(&c.ctx, "limit", "101", 100, &v),
			 CLI_EUSAGE);
	assert_int_equal(cli_parse_count(&c.ctx, "limit", "1x", 100, &v),
			 CLI_EUSAGE);
	assert_int_equal(cli_parse_count(&c.ctx, "limit", "", 100, &v),
			 CLI_EUSAGE);
	assert_int_equal(cli_parse_count(&c.ctx, "limit", "-3", 100, &v),
			 CLI_EUSAGE);
	cap_close(&c);
}

static void test_wrap(void **state)
{
	char *buf;
	size_t len;
	FILE *f = open_memstream(&buf, &len);

	(void)state;
	fprintf(f, "  --x    ");
	cli_wrap(f, 9, 9,
		 "aaaa bbbb cccc dddd eeee ffff gggg hhhh iiii jjjj "
		 "kkkk llll mmmm nnnn oooo pppp");
	cli_wrap(f, 0, 0, "short");
	cli_wrap(f, 0, 0, "line one\nline two");
	fclose(f);
	assert_string_equal(
		buf,
		"  --x    aaaa bbbb cccc dddd eeee ffff gggg hhhh iiii jjjj "
		"kkkk llll mmmm nnnn\n"
		"         oooo pppp\n"
		"short\n"
		"line one\nline two\n");
	free(buf);
}

static int run_main(struct cap *c, int argc, char **argv)
{
	int ex = cli_main(argc, argv, c->ctx.out, c->ctx.err);

	cap_flush(c);
	return ex;
}

static void test_main_dispatch(void **state)
{
	struct cap c;
	char *help[] = {"clawctl", "--help", NULL};
	char *none[] = {"clawctl", NULL};
	char *bad[] = {"clawctl", "frobnicate", NULL};
	char *badsub[] = {"clawctl", "tenants", "frob", NULL};
	char *grp[] = {"clawctl", "tenants", "--help", NULL};
	char *badout[] = {"clawctl", "-o", "xml", "tenants", "list", NULL};
	char *badopt[] = {"clawctl", "--frob", "tenants", NULL};
	char *sub_help[] = {"clawctl", "--url",  "http://x", "tenants",
			    "create",  "--help", NULL};
	char *purge[] = {"clawctl", "tenants", "purge", "acme", NULL};

	(void)state;
	cap_start(&c);
	assert_int_equal(run_main(&c, 2, help), CLI_OK);
	assert_contains(c.out_buf, "Commands:\n  tenants");
	assert_contains(c.out_buf, "Exit codes: 0 ok");
	assert_int_equal(run_main(&c, 1, none), CLI_EUSAGE);
	assert_int_equal(run_main(&c, 2, bad), CLI_EUSAGE);
	assert_contains(c.err_buf,
			"error: 'frobnicate' is not a "
			"clawctl command; see 'clawctl --help'");
	assert_int_equal(run_main(&c, 3, badsub), CLI_EUSAGE);
	assert_contains(c.err_buf,
			"error: 'frob' is not a "
			"subcommand of 'tenants'");
	assert_int_equal(run_main(&c, 3, grp), CLI_OK);
	assert_contains(c.out_buf,
			"usage: clawctl tenants "
			"SUBCOMMAND");
	assert_int_equal(run_main(&c, 5, badout), CLI_EUSAGE);
	assert_int_equal(run_main(&c, 3, badopt), CLI_EUSAGE);
	assert_int_equal(run_main(&c, 6, sub_help), CLI_OK);
	assert_contains(c.out_buf,
			"usage: clawctl tenants create "
			"SLUG");
	/* a destructive command wants --yes before any call is made */
	assert_int_equal(run_main(&c, 4, purge), CLI_EUSAGE);
	assert_contains(c.err_buf, "repeat with --yes to confirm");
	cap_close(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_options_every_spelling),
		cmocka_unit_test(test_globals_anywhere),
		cmocka_unit_test(test_usage_errors),
		cmocka_unit_test(test_help),
		cmocka_unit_test(test_count),
		cmocka_unit_test(test_wrap),
		cmocka_unit_test(test_main_dispatch),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
