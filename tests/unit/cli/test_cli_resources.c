/*
 * test_cli_resources.c - what the resource commands compute locally:
 * the unified line diff of "persona edit" (exact bytes for the shapes that
 * matter, and a patch applier checking that the diff of random texts, also
 * of ones past the LCS bound, turns the old text into the new one), the
 * typed KEY=VALUE rule of --set, and repeated options.
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

/* The diff of a and b as a string (NULL when equal). */
static char *diff(const char *a, const char *b)
{
	struct claw_buf out;
	bool changed = true;

	claw_buf_init(&out, 0);
	assert_int_equal(
		cli_diff(&out, a, strlen(a), b, strlen(b), "a", "b", &changed),
		0);
	if (!changed) {
		assert_int_equal(out.len, 0);
		claw_buf_release(&out);
		return NULL;
	}
	claw_buf_puts(&out, "");
	return claw_buf_steal(&out);
}

static void expect_diff(const char *a, const char *b, const char *want)
{
	char *got = diff(a, b);

	assert_non_null(got);
	assert_string_equal(got, want);
	free(got);
}

static void test_diff_shapes(void **state)
{
	(void)state;
	assert_null(diff("", ""));
	assert_null(diff("same\ntext\n", "same\ntext\n"));
	expect_diff("1\n2\n3\n4\n5\n6\n7\n8\n9\n",
		    "1\n2\n3\n4\nfive\n6\n7\n8\n9\n",
		    "--- a\n+++ b\n@@ -2,7 +2,7 @@\n 2\n 3\n 4\n-5\n+five\n"
		    " 6\n 7\n 8\n");
	expect_diff("", "x\ny\n", "--- a\n+++ b\n@@ -0,0 +1,2 @@\n+x\n+y\n");
	expect_diff("x\ny\n", "", "--- a\n+++ b\n@@ -1,2 +0,0 @@\n-x\n-y\n");
	expect_diff("x", "x\n",
		    "--- a\n+++ b\n@@ -1,1 +1,1 @@\n-x\n"
		    "\\ No newline at end of file\n+x\n");
	/* the longest common part kept: b and c */
	expect_diff("a\nb\nc\n", "b\nc\nd\n",
		    "--- a\n+++ b\n@@ -1,3 +1,3 @@\n-a\n b\n c\n+d\n");
	/* an insertion in the middle */
	expect_diff("a\nb\n", "a\nnew\nb\n",
		    "--- a\n+++ b\n@@ -1,2 +1,3 @@\n a\n+new\n b\n");
}

/* "L1\n".."Ln\n" with line k (1-based) replaced by X when k is in
 * changed. */
static char *lines(int n, int c1, int c2)
{
	struct claw_buf b;

	claw_buf_init(&b, 0);
	for (int k = 1; k <= n; k++)
		if (k == c1 || k == c2)
			claw_buf_printf(&b, "X%d\n", k);
		else
			claw_buf_printf(&b, "L%d\n", k);
	claw_buf_puts(&b, "");
	return claw_buf_steal(&b);
}

static void test_diff_hunks(void **state)
{
	char *a = lines(20, 0, 0), *far = lines(20, 2, 18),
	     *near = lines(20, 5, 11);

	(void)state;
	expect_diff(a, far,
		    "--- a\n+++ b\n@@ -1,5 +1,5 @@\n L1\n-L2\n+X2\n L3\n L4\n"
		    " L5\n@@ -15,6 +15,6 @@\n L15\n L16\n L17\n-L18\n+X18\n"
		    " L19\n L20\n");
	expect_diff(a, near,
		    "--- a\n+++ b\n@@ -2,13 +2,13 @@\n L2\n L3\n L4\n-L5\n"
		    "+X5\n L6\n L7\n L8\n L9\n L10\n-L11\n+X11\n L12\n L13\n"
		    " L14\n");
	free(a);
	free(far);
	free(near);
}

/* Apply a unified diff (as cli_diff writes it) to a; the result. */
static char *apply(const char *a, const char *d)
{
	struct claw_buf out;
	const char *p = strstr(d, "\n@@ ");
	const char *ap = a;
	size_t aline = 0;

	claw_buf_init(&out, 0);
	while (p) {
		size_t s, n, t, m;

		p++;
		assert_int_equal(
			sscanf(p, "@@ -%zu,%zu +%zu,%zu @@", &s, &n, &t, &m),
			4);
		if (n)
			s--;
		while (aline < s) { /* copy untouched lines */
			const char *e = strchr(ap, '\n');
			size_t len = e ? (size_t)(e - ap) + 1 : strlen(ap);

			claw_buf_append(&out, ap, len);
			ap += len;
			aline++;
		}
		p = strchr(p, '\n') + 1;
		while (*p && *p != '@') {
			const char *e = strchr(p, '\n');
			size_t len = (size_t)(e - p);
			bool nonl = !strncmp(e + 1, "\\ No newline", 12);

			if (*p == ' ' || *p == '-') {
				const char *ae = strchr(ap, '\n');
				size_t alen =
					ae ? (size_t)(ae - ap) + 1 : strlen(ap);

				assert_int_equal(alen, len - 1 + !nonl);
				assert_memory_equal(ap, p + 1, len - 1);
				ap += alen;
				aline++;
			}
			if (*p == ' ' || *p == '+')
				claw_buf_append(&out, p + 1, len - 1 + !nonl);
			p = e + 1;
			if (nonl)
				p = strchr(p, '\n') + 1;
		}
		p = *p ? p - 1 : NULL;
	}
	claw_buf_puts(&out, ap);
	return claw_buf_steal(&out);
}

static char *random_text(unsigned *seed, int n)
{
	static const char *const words[] = {"a", "b", "c", "dd", ""};
	struct claw_buf b;

	claw_buf_init(&b, 0);
	for (int k = 0; k < n; k++)
		claw_buf_printf(&b, "%s\n", words[rand_r(seed) % 5]);
	if (n && rand_r(seed) % 3 == 0)
		b.len--; /* no final newline */
	claw_buf_puts(&b, "");
	return claw_buf_steal(&b);
}

static void test_diff_applies(void **state)
{
	unsigned seed = 18;

	(void)state;
	for (int i = 0; i < 400; i++) {
		char *a = random_text(&seed, rand_r(&seed) % 30);
		char *b = random_text(&seed, rand_r(&seed) % 30);
		char *d = diff(a, b);

		if (d) {
			char *got = apply(a, d);

			assert_string_equal(got, b);
			free(got);
		} else {
			assert_string_equal(a, b);
		}
		free(a);
		free(b);
		free(d);
	}
}

/* Past the LCS bound: still a diff that applies (all removed, all
 * added), with the common head and tail kept as context. */
static void test_diff_bounded(void **state)
{
	struct claw_buf a, b;
	char *d, *got;

	(void)state;
	claw_buf_init(&a, 0);
	claw_buf_init(&b, 0);
	claw_buf_puts(&a, "head\n");
	claw_buf_puts(&b, "head\n");
	for (int k = 0; k < 2500; k++) {
		claw_buf_printf(&a, "old %d\n", k);
		claw_buf_printf(&b, "new %d\n", k);
	}
	claw_buf_puts(&a, "tail\n");
	claw_buf_puts(&b, "tail\n");
	d = diff(a.data, b.data);
	assert_non_null(strstr(d, "@@ -1,2502 +1,2502 @@\n head\n-old 0\n"));
	got = apply(a.data, d);
	assert_string_equal(got, b.data);
	free(got);
	free(d);
	claw_buf_release(&a);
	claw_buf_release(&b);
}

static void kv_ok(json_t *o, const char *kv)
{
	char err[200];

	assert_int_equal(cli_kv_set(o, kv, err, sizeof(err)), 0);
}

static void kv_bad(const char *kv, const char *why)
{
	json_t *o = json_object();
	char err[200] = "";

	assert_int_equal(cli_kv_set(o, kv, err, sizeof(err)), -1);
	assert_non_null(strstr(err, why));
	assert_int_equal(json_object_size(o), 0);
	json_decref(o);
}

static void test_kv_typed(void **state)
{
	json_t *o = json_object(), *want;

	(void)state;
	kv_ok(o, "enabled=true");
	kv_ok(o, "rate_limit_per_minute=30");
	kv_ok(o, "ratio=1.5");
	kv_ok(o, "bot_username=claw_bot");
	kv_ok(o, "id=\"1234\"");
	kv_ok(o, "allow_from=[\"alice\",42]");
	kv_ok(o, "fallback.kind=openai");
	kv_ok(o, "fallback.limits.max=2");
	kv_ok(o, "empty=");
	kv_ok(o, "eq=a=b");
	kv_ok(o, "nothing=null");
	kv_ok(o, "word=12abc");
	kv_ok(o, "x=1");
	kv_ok(o, "x.y=2"); /* a scalar on the way becomes an object */
	want = json_pack("{s:b, s:i, s:f, s:s, s:s, s:[s,i], s:{s:s, s:{s:i}},"
			 " s:s, s:s, s:n, s:s, s:{s:i}}",
			 "enabled", 1, "rate_limit_per_minute", 30, "ratio",
			 1.5, "bot_username", "claw_bot", "id", "1234",
			 "allow_from", "alice", 42, "fallback", "kind",
			 "openai", "limits", "max", 2, "empty", "", "eq", "a=b",
			 "nothing", "word", "12abc", "x", "y", 2);
	assert_true(json_equal(o, want));
	json_decref(want);
	json_decref(o);
	kv_bad("novalue", "KEY=VALUE");
	kv_bad("=x", "KEY=VALUE");
	kv_bad("a..b=1", "joined by '.'");
	kv_bad("a.=1", "joined by '.'");
	kv_bad("a.b.c.d.e.f.g.h.i=1", "8 deep");
	kv_bad("list=[1,", "not valid JSON");
	kv_bad("obj={\"a\"}", "not valid JSON");
	kv_bad("s=\"open", "not valid JSON");
}

static void test_opt_values(void **state)
{
	char *argv[] = {
		"add", "--set", "a=1",   "T",  "--set=b=2", "--settings-file",
		"f",   "--set", "c=[1]", "--", "--set",     "d=4"};
	json_t *v = cli_opt_values(12, argv, "set");
	json_t *want = json_pack("[s,s,s]", "a=1", "b=2", "c=[1]");
	struct cap c;

	(void)state;
	assert_true(json_equal(v, want));
	json_decref(v);
	json_decref(want);
	/* applied: the second bad one is named by its position */
	cap_open(&c);
	snprintf(c.ctx.cmd_path, sizeof(c.ctx.cmd_path), "channels add");
	{
		char *bad[] = {"add", "--set", "a=1", "--set", "b=[", NULL};
		json_t *o = json_object();

		assert_int_equal(cli_kv_apply(&c.ctx, 5, bad, "set", o),
				 CLI_EUSAGE);
		cap_flush(&c);
		assert_non_null(strstr(c.err_buf, "--set number 2: "));
		assert_non_null(strstr(c.err_buf,
				       "'clawctl channels add "
				       "--help'"));
		json_decref(o);
	}
	cap_close(&c);
}

/* Credentials never come from argv: there is no option that takes one;
 * every credential option names a file. */
static void test_no_credential_in_argv(void **state)
{
	struct cap c;
	char *argv[] = {"clawctl", "channels", "add", "--help", NULL};

	(void)state;
	cap_open(&c);
	assert_int_equal(cli_main(4, argv, c.ctx.out, c.ctx.err), CLI_OK);
	cap_flush(&c);
	for (const char *p = strstr(c.out_buf, "\nOptions:\n"); p;
	     p = strstr(p + 1, "\n  --")) {
		char name[64];

		if (sscanf(p, "\n  --%63s", name) != 1)
			continue;
		if (strstr(name, "token") || strstr(name, "secret") ||
		    strstr(name, "password") || strstr(name, "key"))
			assert_non_null(strstr(name, "-file"));
	}
	cap_close(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_diff_shapes),
		cmocka_unit_test(test_diff_hunks),
		cmocka_unit_test(test_diff_applies),
		cmocka_unit_test(test_diff_bounded),
		cmocka_unit_test(test_kv_typed),
		cmocka_unit_test(test_opt_values),
		cmocka_unit_test(test_no_credential_in_argv),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
