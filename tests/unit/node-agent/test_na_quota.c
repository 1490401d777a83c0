/*
 * test_na_quota.c - the assignment's "quota" (desired.c, parse_quota):
 * a good one lands in the gateway's config (created when the entry had
 * none), and negative, wrong-typed, malformed or unknown values refuse
 * the document with the stable code invalid_quota; the gateway's refusal
 * total becomes reports of its increase (usage.c), kept over the agent's
 * restart, never counted twice.
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

#include "desired.h"
#include "usage.h"

#define HEAD                                                                   \
	"{\"generation\":1,\"tenants\":[{\"tenant\":\"acme\","                 \
	"\"deployment\":\"d-1\",\"generation\":1,"                             \
	"\"runtime\":{\"image\":\"r/rt:1\"},"
#define TURNS(l, u)                                                            \
	"{\"limit\":" l ",\"used\":" u                                         \
	",\"resets_at\":\"2026-12-07T00:00:00Z\"}"

static enum claw_rc parse(const char *gateway, const char *quota,
			  struct na_desired *d, char *msg, size_t msglen)
{
	char doc[2048];
	snprintf(doc, sizeof(doc), HEAD "\"gateway\":%s,\"quota\":%s}]}",
		 gateway, quota);
	return na_desired_parse(d, doc, strlen(doc), msg, msglen);
}

static void test_given_to_gateway(void **state)
{
	(void)state;
	struct na_desired d;
	char msg[256] = "";
	assert_int_equal(
		parse("{\"image\":\"r/gw:1\"}",
		      "{\"turns_per_day\":" TURNS(
			      "2", "1") ","
					"\"tokens_per_month\":null,\"message\":"
					"\"Out of turns\"}",
		      &d, msg, sizeof(msg)),
		CLAW_OK);
	const json_t *cfg = d.tenants[0].role[NA_GATEWAY].config;
	const json_t *q = json_object_get(cfg, "quota");
	assert_non_null(q);
	assert_int_equal(json_integer_value(json_object_get(
				 json_object_get(q, "turns_per_day"), "limit")),
			 2);
	assert_string_equal(json_string_value(json_object_get(q, "message")),
			    "Out of turns");
	na_desired_release(&d);

	/* an existing config keeps its keys */
	assert_int_equal(parse("{\"image\":\"r/gw:1\",\"config\":{\"x\":1}}",
			       "{\"turns_per_day\":null}", &d, msg,
			       sizeof(msg)),
			 CLAW_OK);
	cfg = d.tenants[0].role[NA_GATEWAY].config;
	assert_int_equal(json_integer_value(json_object_get(cfg, "x")), 1);
	assert_non_null(json_object_get(cfg, "quota"));
	na_desired_release(&d);
}

static void refused(const char *quota, const char *needle)
{
	struct na_desired d;
	char msg[256] = "";
	assert_int_equal(
		parse("{\"image\":\"r/gw:1\"}", quota, &d, msg, sizeof(msg)),
		CLAW_ERR_INVALID);
	if (!strstr(msg, "invalid_quota") || !strstr(msg, needle))
		fail_msg("message '%s' lacks invalid_quota or '%s'", msg,
			 needle);
	na_desired_release(&d);
}

static void test_bad_values(void **state)
{
	(void)state;
	refused("[]", "'quota'");
	refused("{\"turns_per_day\":" TURNS("-1", "0") "}", "turns_per_day");
	refused("{\"turns_per_day\":" TURNS("2", "-3") "}", "turns_per_day");
	refused("{\"turns_per_day\":" TURNS("\"2\"", "0") "}", "turns_per_day");
	refused("{\"tokens_per_month\":" TURNS("2.5", "0") "}",
		"tokens_per_month");
	refused("{\"tokens_per_month\":5}", "tokens_per_month");
	refused("{\"turns_per_day\":{\"limit\":2,\"used\":0,"
		"\"resets_at\":\"tomorrow\"}}",
		"turns_per_day");
	refused("{\"turns_per_day\":{\"limit\":2,\"used\":0}}",
		"turns_per_day");
	refused("{\"turns_per_day\":" TURNS("9007199254740993", "0") "}",
		"turns_per_day");
	refused("{\"turns_per_day\":null,\"extra\":1}", "quota.extra");
	refused("{\"message\":7}", "quota.message");
	refused("{\"message\":\"\"}", "quota.message");
}

static void test_message_bound(void **state)
{
	(void)state;
	char quota[1200];
	struct na_desired d;
	char msg[256] = "";
	memset(quota, 0, sizeof(quota));
	memcpy(quota, "{\"message\":\"", 12);
	memset(quota + 12, 'a', 1024);
	memcpy(quota + 12 + 1024, "\"}", 3);
	assert_int_equal(
		parse("{\"image\":\"r/gw:1\"}", quota, &d, msg, sizeof(msg)),
		CLAW_OK);
	na_desired_release(&d);
	memset(quota + 12, 'a', 1025);
	memcpy(quota + 12 + 1025, "\"}", 3);
	refused(quota, "quota.message");
}

static long long pending_refusals(const struct na_usage *u)
{
	long long n = 0;
	size_t i;
	json_t *r;
	json_array_foreach(u->pending, i, r) {
		assert_string_equal(
			json_string_value(json_object_get(r, "tenant")),
			"acme");
		assert_int_equal(
			json_object_size(json_object_get(r, "providers")), 0);
		n += json_integer_value(json_object_get(r, "quota_refusals"));
	}
	return n;
}

static void test_refusals_reported(void **state)
{
	(void)state;
	char dir[] = "/tmp/na-quota-XXXXXX";
	struct na_usage u;
	assert_non_null(mkdtemp(dir));
	assert_int_equal(na_usage_load(&u, dir), CLAW_OK);
	assert_true(na_usage_observe_refusals(&u, "acme", "d-1", 3,
					      "2026-12-06T10:00:00Z"));
	assert_false(na_usage_observe_refusals(&u, "acme", "d-1", 3,
					       "2026-12-06T10:00:10Z"));
	assert_true(na_usage_observe_refusals(&u, "acme", "d-1", 5,
					      "2026-12-06T10:00:20Z"));
	assert_int_equal(json_array_size(u.pending), 2);
	assert_int_equal(pending_refusals(&u), 5);
	/* the agent restarts: nothing counted again */
	assert_int_equal(na_usage_save(&u), CLAW_OK);
	na_usage_release(&u);
	assert_int_equal(na_usage_load(&u, dir), CLAW_OK);
	assert_false(na_usage_observe_refusals(&u, "acme", "d-1", 5,
					       "2026-12-06T10:00:30Z"));
	/* a total that went down (a new volume) counts from 0 */
	assert_true(na_usage_observe_refusals(&u, "acme", "d-1", 1,
					      "2026-12-06T10:00:40Z"));
	assert_int_equal(pending_refusals(&u), 6);
	assert_false(na_usage_observe_refusals(&u, "acme", "d-1", -1,
					       "2026-12-06T10:00:50Z"));
	na_usage_release(&u);
	char path[64];
	snprintf(path, sizeof(path), "%s/usage.json", dir);
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_given_to_gateway),
		cmocka_unit_test(test_bad_values),
		cmocka_unit_test(test_message_bound),
		cmocka_unit_test(test_refusals_reported),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
