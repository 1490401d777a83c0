/*
 * test_usage_report.c - the node agents' usage reports as the control
 * plane checks them (controlplane/usage_report.c): a full report is read
 * into its counters and its hour; every bad body is refused with its code
 * and the place of the problem; RFC 3339 times, good and bad.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "usage_report.h"

static int parse(const char *text, struct cp_usage_batch *b,
		 struct claw_json_problem *p)
{
	json_t *o = json_loads(text, 0, NULL);
	int rc;

	assert_non_null(o);
	rc = cp_usage_parse(o, b, p);
	json_decref(o);
	return rc;
}

static void test_good(void **state)
{
	struct cp_usage_batch b;
	struct claw_json_problem p = {0};
	const struct cp_usage_report *r;

	(void)state;
	assert_int_equal(
		parse("{\"reports\":[{\"id\":\"n1:42\",\"tenant\":\"acme\","
		      "\"deployment\":\"dep_0123456789abcdef0123456789abcdef\","
		      "\"at\":\"2026-12-06T10:59:59.5+01:00\",\"turns\":3,"
		      "\"messages_in\":4,\"messages_out\":5,\"tool_calls\":6,"
		      "\"tool_errors\":1,\"providers\":{\"openai:eu\":"
		      "{\"requests\":3,\"errors\":0,\"input_tokens\":100,"
		      "\"output_tokens\":20}}},"
		      "{\"tenant\":\"b\",\"at\":\"2026-12-06T00:00:00Z\"}]}",
		      &b, &p),
		0);
	assert_int_equal(b.n, 2);
	r = &b.reports[0];
	assert_string_equal(r->id, "n1:42");
	assert_string_equal(r->tenant, "acme");
	/* 10:59:59+01:00 is 09:59:59Z: the hour of 09:00Z */
	assert_int_equal(r->hour, 1796547600LL);
	assert_int_equal(r->v[CP_UC_TURNS], 3);
	assert_int_equal(r->v[CP_UC_TOOL_ERRORS], 1);
	assert_int_equal(r->n_providers, 1);
	assert_string_equal(r->providers[0].name, "openai:eu");
	assert_int_equal(r->providers[0].v[CP_UP_INPUT_TOKENS], 100);
	assert_int_equal(r->providers[0].v[CP_UP_OUTPUT_TOKENS], 20);
	r = &b.reports[1];
	assert_string_equal(r->id, "");
	assert_int_equal(r->v[CP_UC_TURNS], 0);
	assert_int_equal(r->n_providers, 0);
	cp_usage_batch_release(&b);
	assert_int_equal(parse("{\"reports\":[]}", &b, &p), 0);
	assert_int_equal(b.n, 0);
	cp_usage_batch_release(&b);
}

struct bad_case {
	const char *body;
	enum claw_http_error error;
	const char *field;
};

#define R(x)                                                                   \
	"{\"reports\":[{\"tenant\":\"a\",\"at\":\"2026-01-01T00:00:00Z\"" x    \
	"}]}"

static const struct bad_case bad[] = {
	{"[]", CLAW_HE_BAD_JSON, ""},
	{"{}", CLAW_HE_MISSING_FIELD, "reports"},
	{"{\"reports\":{}}", CLAW_HE_INVALID_FIELD, "reports"},
	{"{\"reports\":[],\"x\":1}", CLAW_HE_UNKNOWN_FIELD, "#2"},
	{"{\"reports\":[1]}", CLAW_HE_INVALID_FIELD, "reports[0]"},
	{"{\"reports\":[{\"at\":\"2026-01-01T00:00:00Z\"}]}",
	 CLAW_HE_MISSING_FIELD, "reports[0].tenant"},
	{"{\"reports\":[{\"tenant\":\"a\"}]}", CLAW_HE_MISSING_FIELD,
	 "reports[0].at"},
	{R(",\"turns\":-1"), CLAW_HE_INVALID_FIELD, "reports[0].turns"},
	{R(",\"turns\":\"3\""), CLAW_HE_INVALID_FIELD, "reports[0].turns"},
	{R(",\"turns\":1.5"), CLAW_HE_INVALID_FIELD, "reports[0].turns"},
	{R(",\"turns\":1000000000001"), CLAW_HE_INVALID_FIELD,
	 "reports[0].turns"},
	{R(",\"bogus\":1"), CLAW_HE_UNKNOWN_FIELD, "reports[0].#3"},
	{R(",\"id\":\"\""), CLAW_HE_INVALID_FIELD, "reports[0].id"},
	{R(",\"id\":\"a b\""), CLAW_HE_INVALID_FIELD, "reports[0].id"},
	{R(",\"id\":\""
	   "0123456789012345678901234567890123456789012345678901"
	   "234567890123456789\""),
	 CLAW_HE_INVALID_FIELD, "reports[0].id"},
	{R(",\"deployment\":\"x\""), CLAW_HE_INVALID_FIELD,
	 "reports[0].deployment"},
	{R(",\"providers\":[]"), CLAW_HE_INVALID_FIELD, "reports[0].providers"},
	{R(",\"providers\":{\"a b\":{}}"), CLAW_HE_INVALID_FIELD,
	 "reports[0].providers.a b"},
	{R(",\"providers\":{\"p\":3}"), CLAW_HE_INVALID_FIELD,
	 "reports[0].providers.p"},
	{R(",\"providers\":{\"p\":{\"input_tokens\":-5}}"),
	 CLAW_HE_INVALID_FIELD, "reports[0].providers.p.input_tokens"},
	{R(",\"providers\":{\"p\":{\"cost\":1}}"), CLAW_HE_UNKNOWN_FIELD,
	 "reports[0].providers.p.#1"},
	{"{\"reports\":[{\"tenant\":\"Bad_Slug\",\"at\":\"2026-01-01T00:00:"
	 "00Z\"}]}",
	 CLAW_HE_INVALID_FIELD, "reports[0].tenant"},
	{"{\"reports\":[{\"tenant\":\"a\",\"at\":\"yesterday\"}]}",
	 CLAW_HE_INVALID_FIELD, "reports[0].at"},
};

static void test_bad(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct cp_usage_batch b;
		struct claw_json_problem p = {0};

		if (parse(bad[i].body, &b, &p) != -1)
			fail_msg("accepted: %s", bad[i].body);
		if (p.error != bad[i].error || strcmp(p.field, bad[i].field))
			fail_msg("%s: got %d '%s', want %d '%s'", bad[i].body,
				 p.error, p.field, bad[i].error, bad[i].field);
		assert_true(p.message[0] != '\0');
		assert_null(b.reports);
		cp_usage_batch_release(&b);
	}
}

static void test_too_many(void **state)
{
	json_t *o = json_object(), *a = json_array(), *r;
	struct cp_usage_batch b;
	struct claw_json_problem p = {0};

	(void)state;
	for (int i = 0; i <= CP_USAGE_REPORTS_MAX; i++)
		json_array_append_new(a,
				      json_pack("{s:s, s:s}", "tenant", "a",
						"at", "2026-01-01T00:00:00Z"));
	json_object_set_new(o, "reports", a);
	assert_int_equal(cp_usage_parse(o, &b, &p), -1);
	assert_string_equal(p.field, "reports");
	json_array_remove(a, 0);
	assert_int_equal(cp_usage_parse(o, &b, &p), 0);
	assert_int_equal(b.n, CP_USAGE_REPORTS_MAX);
	cp_usage_batch_release(&b);
	/* more providers than a report may name */
	r = json_object();
	for (int i = 0; i <= CP_USAGE_PROVIDERS_MAX; i++) {
		char name[8];

		snprintf(name, sizeof(name), "p%d", i);
		json_object_set_new(r, name, json_object());
	}
	json_array_clear(a);
	json_array_append_new(a,
			      json_pack("{s:s, s:s, s:o}", "tenant", "a", "at",
					"2026-01-01T00:00:00Z", "providers",
					r));
	assert_int_equal(cp_usage_parse(o, &b, &p), -1);
	assert_string_equal(p.field, "reports[0].providers");
	cp_usage_batch_release(&b);
	json_decref(o);
}

static void test_rfc3339(void **state)
{
	static const char *const no[] = {
		"",
		"2026-01-01",
		"2026-01-01 00:00:00Z",
		"2026-01-01T00:00:00",
		"2026-13-01T00:00:00Z",
		"2026-02-29T00:00:00Z",
		"2026-01-32T00:00:00Z",
		"2026-01-01T24:00:00Z",
		"2026-01-01T00:60:00Z",
		"2026-01-01T00:00:00.Z",
		"2026-01-01T00:00:00.1234567890Z",
		"2026-01-01T00:00:00+0100",
		"2026-01-01T00:00:00+24:00",
		"2026-01-01T00:00:00Zx",
		"1969-12-31T23:59:59Z",
		"+026-01-01T00:00:00Z",
	};
	long long t = 0;

	(void)state;
	assert_true(cp_rfc3339_parse("1970-01-01T00:00:00Z", &t));
	assert_int_equal(t, 0);
	assert_true(cp_rfc3339_parse("2024-02-29T12:00:00.123456z", &t));
	assert_int_equal(t, 1709208000LL);
	assert_true(cp_rfc3339_parse("2026-12-06T10:00:00-02:30", &t));
	assert_int_equal(t, 1796560200LL);
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		if (cp_rfc3339_parse(no[i], &t))
			fail_msg("accepted '%s'", no[i]);
	assert_false(cp_rfc3339_parse(NULL, &t));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_bad),
		cmocka_unit_test(test_too_many),
		cmocka_unit_test(test_rfc3339),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
