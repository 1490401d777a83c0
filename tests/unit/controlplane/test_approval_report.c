/*
 * test_approval_report.c - the node agents' approval reports as the
 * control plane checks them (controlplane/approval_report.c): a request
 * and a decision are read into their fields and audit actions; every bad
 * body is refused with its stable code and the place of the problem, and
 * a field for the tool's arguments is refused as unknown.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "approval_report.h"

#define REQ                                                                    \
	"\"tenant\":\"acme\",\"approval\":\"apr_0123abcd\",\"tool\":"          \
	"\"shop/pay\",\"at\":1765000000"

static int parse(const char *text, struct cp_apr_batch *b,
		 struct claw_json_problem *p)
{
	json_t *o = json_loads(text, 0, NULL);
	int rc;

	assert_non_null(o);
	rc = cp_apr_parse(o, b, p);
	json_decref(o);
	return rc;
}

static void test_good(void **state)
{
	struct cp_apr_batch b;
	struct claw_json_problem p = {0};

	(void)state;
	assert_int_equal(
		parse("{\"events\":[{" REQ ",\"event\":\"request\","
		      "\"category\":\"payment\",\"channel\":\"telegram\","
		      "\"sender\":\"42\",\"expires\":1765086400},"
		      "{" REQ ",\"event\":\"decision\",\"decision\":\"denied\","
		      "\"decided_by\":\"chat:telegram:42\"},"
		      "{" REQ
		      ",\"event\":\"decision\",\"decision\":\"expired\","
		      "\"decided_by\":\"expiry\"},"
		      "{" REQ ",\"event\":\"decision\",\"decision\":"
		      "\"approved\",\"decided_by\":\"admin tok_x\"}]}",
		      &b, &p),
		0);
	assert_int_equal(b.n, 4);
	assert_int_equal(b.events[0].kind, CP_APR_REQUEST);
	assert_string_equal(b.events[0].tenant, "acme");
	assert_string_equal(b.events[0].approval, "apr_0123abcd");
	assert_string_equal(b.events[0].tool, "shop/pay");
	assert_string_equal(b.events[0].category, "payment");
	assert_string_equal(b.events[0].sender, "42");
	assert_int_equal(b.events[0].at, 1765000000);
	assert_int_equal(b.events[0].expires, 1765086400);
	assert_string_equal(b.events[0].decided_by, "");
	assert_string_equal(cp_apr_action(&b.events[0]), "approval.request");
	assert_string_equal(b.events[1].decided_by, "chat:telegram:42");
	assert_string_equal(cp_apr_action(&b.events[1]), "approval.decided");
	assert_string_equal(cp_apr_action(&b.events[2]), "approval.expired");
	assert_string_equal(cp_apr_action(&b.events[3]), "approval.decided");
	cp_apr_batch_release(&b);
	assert_int_equal(parse("{\"events\":[]}", &b, &p), 0);
	assert_int_equal(b.n, 0);
	cp_apr_batch_release(&b);
}

static void bad(const char *text, enum claw_http_error e, const char *field)
{
	struct cp_apr_batch b;
	struct claw_json_problem p = {0};

	assert_int_equal(parse(text, &b, &p), -1);
	assert_null(b.events);
	assert_int_equal(b.n, 0);
	if (p.error != e || strcmp(p.field, field)) {
		fprintf(stderr, "%s: got %d %s (%s)\n", text, (int)p.error,
			p.field, p.message);
		fail();
	}
	assert_non_null(strstr(p.message, field));
	cp_apr_batch_release(&b);
}

static void test_bad(void **state)
{
	(void)state;
	bad("{}", CLAW_HE_MISSING_FIELD, "events");
	bad("{\"events\":{}}", CLAW_HE_INVALID_FIELD, "events");
	bad("{\"events\":[],\"x\":1}", CLAW_HE_UNKNOWN_FIELD, "#2");
	bad("{\"events\":[1]}", CLAW_HE_INVALID_FIELD, "events[0]");
	bad("{\"events\":[{" REQ "}]}", CLAW_HE_MISSING_FIELD,
	    "events[0].event");
	bad("{\"events\":[{" REQ ",\"event\":\"request\"},{" REQ
	    ",\"event\":\"maybe\"}]}",
	    CLAW_HE_INVALID_FIELD, "events[1].event");
	/* the arguments have no place in a report */
	bad("{\"events\":[{" REQ ",\"event\":\"request\",\"arguments\":{}}]}",
	    CLAW_HE_UNKNOWN_FIELD, "events[0].#6");
	bad("{\"events\":[{\"tenant\":\"Not A Slug\",\"approval\":\"apr_1\","
	    "\"tool\":\"t\",\"at\":1,\"event\":\"request\"}]}",
	    CLAW_HE_INVALID_FIELD, "events[0].tenant");
	bad("{\"events\":[{\"tenant\":\"a\",\"approval\":\"../x\","
	    "\"tool\":\"t\",\"at\":1,\"event\":\"request\"}]}",
	    CLAW_HE_INVALID_FIELD, "events[0].approval");
	bad("{\"events\":[{\"tenant\":\"a\",\"approval\":\"apr_1\","
	    "\"tool\":\"a\\nb\",\"at\":1,\"event\":\"request\"}]}",
	    CLAW_HE_INVALID_FIELD, "events[0].tool");
	bad("{\"events\":[{" REQ ",\"event\":\"request\",\"at\":-1}]}",
	    CLAW_HE_INVALID_FIELD, "events[0].at");
	bad("{\"events\":[{" REQ ",\"event\":\"request\",\"category\":\"\"}]}",
	    CLAW_HE_INVALID_FIELD, "events[0].category");
	bad("{\"events\":[{" REQ ",\"event\":\"request\",\"decision\":"
	    "\"approved\"}]}",
	    CLAW_HE_INVALID_FIELD, "events[0].decision");
	bad("{\"events\":[{" REQ ",\"event\":\"decision\",\"decided_by\":"
	    "\"x\"}]}",
	    CLAW_HE_MISSING_FIELD, "events[0].decision");
	bad("{\"events\":[{" REQ ",\"event\":\"decision\",\"decision\":"
	    "\"pending\",\"decided_by\":\"x\"}]}",
	    CLAW_HE_INVALID_FIELD, "events[0].decision");
	bad("{\"events\":[{" REQ ",\"event\":\"decision\",\"decision\":"
	    "\"denied\"}]}",
	    CLAW_HE_MISSING_FIELD, "events[0].decided_by");
	bad("{\"events\":[{" REQ ",\"event\":\"request\",\"tool\":7}]}",
	    CLAW_HE_INVALID_FIELD, "events[0].tool");
}

static void test_too_many(void **state)
{
	json_t *a = json_array(), *body;
	struct cp_apr_batch b;
	struct claw_json_problem p = {0};

	(void)state;
	for (int i = 0; i <= CP_APR_EVENTS_MAX; i++)
		json_array_append_new(a,
				      json_pack("{s:s, s:s, s:s, s:s, s:i}",
						"tenant", "a", "approval",
						"apr_1", "event", "request",
						"tool", "t", "at", 1));
	body = json_pack("{s:o}", "events", a);
	assert_int_equal(cp_apr_parse(body, &b, &p), -1);
	assert_int_equal(p.error, CLAW_HE_INVALID_FIELD);
	assert_string_equal(p.field, "events");
	json_array_remove(json_object_get(body, "events"), 0);
	assert_int_equal(cp_apr_parse(body, &b, &p), 0);
	assert_int_equal(b.n, CP_APR_EVENTS_MAX);
	cp_apr_batch_release(&b);
	json_decref(body);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_bad),
		cmocka_unit_test(test_too_many),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
