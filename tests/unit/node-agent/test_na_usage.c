/*
 * test_na_usage.c - usage deltas from the runtime's cumulative counters
 * (node-agent/usage.h): the first scrape counts from 0, the next ones the
 * differences, nothing changed makes no report, a new boot_id (a restarted
 * runtime) counts from 0 again, as does a counter that went down; only the
 * scraped tenant's entry counts; bad values count as 0 and bad provider
 * names are left out; the pending reports and the last values survive a
 * reload (no report lost, nothing counted twice); sent reports go.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "usage.h"

static char dir[] = "/tmp/test_na_usage.XXXXXX";

static int setup(void **state)
{
	(void)state;
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	char path[128];
	snprintf(path, sizeof(path), "%s/usage.json", dir);
	unlink(path);
	return rmdir(dir);
}

/* A /v1/usage answer of boot `boot` for tenant `t` (turns, an LLM's
 * input tokens), and another tenant's numbers beside it. */
static json_t *answer(const char *boot, const char *t, int turns, int in)
{
	return json_pack("{s:s, s:s, s:{s:{s:i, s:i, s:i, s:i, s:i, "
			 "s:{s:{s:i, s:i, s:i, s:i}}}, s:{s:i}}}",
			 "boot_id", boot, "started_at", "2026-12-06T09:00:00Z",
			 "tenants", t, "turns", turns, "messages_in", turns,
			 "messages_out", turns, "tool_calls", 0, "tool_errors",
			 0, "providers", "openai", "requests", turns, "errors",
			 0, "input_tokens", in, "output_tokens", 7, "other",
			 "turns", 1000);
}

static json_int_t field(const json_t *r, const char *k)
{
	return json_integer_value(json_object_get(r, k));
}

static const char *text(const json_t *r, const char *k)
{
	return json_string_value(json_object_get(r, k));
}

static json_int_t provider(const json_t *r, const char *p, const char *k)
{
	return field(json_object_get(json_object_get(r, "providers"), p), k);
}

static const json_t *last_report(const struct na_usage *u)
{
	return json_array_get(u->pending, json_array_size(u->pending) - 1);
}

static bool observe(struct na_usage *u, json_t *doc_steal)
{
	bool r = na_usage_observe(u, "acme", "d-1", doc_steal,
				  "2026-12-06T10:00:00Z");
	json_decref(doc_steal);
	return r;
}

static void test_deltas(void **state)
{
	(void)state;
	struct na_usage u;
	assert_int_equal(na_usage_load(&u, dir), CLAW_OK);
	assert_int_equal(json_array_size(u.pending), 0);
	/* First scrape: from 0. Only acme's entry counts. */
	assert_true(observe(&u, answer("b1", "acme", 3, 100)));
	const json_t *r = last_report(&u);
	assert_string_equal(text(r, "tenant"), "acme");
	assert_string_equal(text(r, "deployment"), "d-1");
	assert_string_equal(text(r, "at"), "2026-12-06T10:00:00Z");
	assert_int_equal(field(r, "turns"), 3);
	assert_int_equal(provider(r, "openai", "input_tokens"), 100);
	assert_int_equal(provider(r, "openai", "output_tokens"), 7);
	/* The same again: nothing to report. */
	assert_false(observe(&u, answer("b1", "acme", 3, 100)));
	/* Two more turns: the difference; an unchanged provider field 0. */
	assert_true(observe(&u, answer("b1", "acme", 5, 160)));
	r = last_report(&u);
	assert_int_equal(field(r, "turns"), 2);
	assert_int_equal(field(r, "tool_calls"), 0);
	assert_int_equal(provider(r, "openai", "input_tokens"), 60);
	assert_int_equal(provider(r, "openai", "output_tokens"), 0);
	/* The runtime restarted (new boot): its counters from 0. */
	assert_true(observe(&u, answer("b2", "acme", 1, 10)));
	assert_int_equal(field(last_report(&u), "turns"), 1);
	assert_int_equal(provider(last_report(&u), "openai", "input_tokens"),
			 10);
	/* Went down in one boot (it must not): counted from 0 too. */
	assert_true(observe(&u, answer("b2", "acme", 0, 20)));
	assert_int_equal(field(last_report(&u), "turns"), 0);
	assert_int_equal(provider(last_report(&u), "openai", "input_tokens"),
			 20);
	assert_int_equal(json_array_size(u.pending), 4);
	/* Each report has its own id (a resend keeps it: it is stored). */
	assert_int_equal(strlen(text(r, "id")), 32);
	assert_string_not_equal(text(r, "id"), text(last_report(&u), "id"));
	na_usage_release(&u);
}

static void test_untrusted_answer(void **state)
{
	(void)state;
	struct na_usage u;
	assert_int_equal(na_usage_load(&u, dir), CLAW_OK);
	na_usage_sent(&u, 1000);
	/* No boot_id: ignored. Another tenant's numbers only: nothing. */
	assert_false(observe(
		&u, json_pack("{s:{s:{s:i}}}", "tenants", "acme", "turns", 5)));
	assert_false(observe(&u, answer("b9", "bob", 50, 50)));
	/* Bad values count as 0; bad provider names are left out. */
	json_t *doc = json_pack(
		"{s:s, s:{s:{s:i, s:s, s:i, s:f, s:I, s:{s:{s:i}, s:{s:i}, "
		"s:i}}}}",
		"boot_id", "b10", "tenants", "acme", "turns", 4, "messages_in",
		"9", "messages_out", -3, "tool_calls", 2.5, "tool_errors",
		(json_int_t)1 << 60, "providers", "ok-1", "requests", 2,
		"bad name", "requests", 9, "x", 1);
	assert_true(observe(&u, doc));
	const json_t *r = last_report(&u);
	assert_int_equal(field(r, "turns"), 4);
	assert_int_equal(field(r, "messages_in"), 0);
	assert_int_equal(field(r, "messages_out"), 0);
	assert_int_equal(field(r, "tool_calls"), 0);
	assert_int_equal(field(r, "tool_errors"), 0);
	assert_int_equal(provider(r, "ok-1", "requests"), 2);
	assert_null(
		json_object_get(json_object_get(r, "providers"), "bad name"));
	assert_int_equal(json_object_size(json_object_get(r, "providers")), 1);
	na_usage_release(&u);
}

static void test_survives_restart_and_sends(void **state)
{
	(void)state;
	struct na_usage u;
	size_t n;
	struct stat st;
	char path[128];
	assert_int_equal(na_usage_load(&u, dir), CLAW_OK);
	na_usage_sent(&u, 1000);
	assert_true(observe(&u, answer("b1", "acme", 10, 100)));
	assert_true(observe(&u, answer("b1", "acme", 12, 130)));
	char id0[33];
	snprintf(id0, sizeof(id0), "%s",
		 text(json_array_get(u.pending, 0), "id"));
	assert_int_equal(na_usage_save(&u), CLAW_OK);
	na_usage_release(&u);
	snprintf(path, sizeof(path), "%s/usage.json", dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);

	/* A restarted agent: the unsent reports are there, and the same
	 * counters again are not counted twice. */
	assert_int_equal(na_usage_load(&u, dir), CLAW_OK);
	assert_int_equal(json_array_size(u.pending), 2);
	assert_false(observe(&u, answer("b1", "acme", 12, 130)));
	json_t *body = na_usage_body(&u, 1, &n);
	assert_int_equal(n, 1);
	const json_t *reports = json_object_get(body, "reports");
	assert_int_equal(json_array_size(reports), 1);
	assert_int_equal(field(json_array_get(reports, 0), "turns"), 10);
	/* Sent again after the restart: the same id, so counted once. */
	assert_string_equal(text(json_array_get(reports, 0), "id"), id0);
	json_decref(body);
	na_usage_sent(&u, n);
	body = na_usage_body(&u, 500, &n);
	assert_int_equal(n, 1);
	assert_int_equal(
		field(json_array_get(json_object_get(body, "reports"), 0),
		      "turns"),
		2);
	json_decref(body);
	na_usage_sent(&u, n);
	assert_null(na_usage_body(&u, 500, &n));
	assert_int_equal(n, 0);
	na_usage_release(&u);

	/* A file that is not ours: a fresh start, not a crash. */
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs("[1,2", f);
	fclose(f);
	assert_int_equal(na_usage_load(&u, dir), CLAW_OK);
	assert_int_equal(json_array_size(u.pending), 0);
	na_usage_release(&u);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_deltas),
		cmocka_unit_test(test_untrusted_answer),
		cmocka_unit_test(test_survives_restart_and_sends),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
