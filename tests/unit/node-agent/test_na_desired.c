/*
 * test_na_desired.c - the desired-state parser: a full document, defaults,
 * and refusals with messages that never quote a secret value.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "desired.h"

#define ROLE(img) "{\"image\":\"" img "\"}"

static void test_full(void **state)
{
	(void)state;
	const char *doc =
		"{\"generation\":7,\"tenants\":[{\"tenant\":\"acme\","
		"\"deployment\":\"d-1\",\"generation\":3,\"state\":"
		"\"suspended\","
		"\"plan\":{\"cpus\":0.5,\"memory_mb\":256,\"pids\":64,"
		"\"disk_mb\":1024},"
		"\"registry_auth\":{\"username\":\"u\",\"password\":\"p\","
		"\"serveraddress\":\"r.example\"},"
		"\"gateway\":{\"image\":\"r/gw:1\",\"config\":{\"x\":1},"
		"\"secrets\":{\"TOKEN\":\"v\"}},\"runtime\":" ROLE(
			"r/rt@sha256:"
			"0123456789abcdef0123456789abcdef0123456789abcdef012345"
			"6789abcdef") "}]}";
	struct na_desired d;
	char msg[256];
	assert_int_equal(
		na_desired_parse(&d, doc, strlen(doc), msg, sizeof(msg)),
		CLAW_OK);
	assert_int_equal(d.generation, 7);
	assert_int_equal(d.n, 1);
	const struct na_tenant_spec *t = na_desired_find(&d, "acme");
	assert_non_null(t);
	assert_int_equal(t->state, NA_SUSPENDED);
	assert_int_equal(t->generation, 3);
	assert_int_equal(t->memory_mb, 256);
	assert_int_equal(t->pids, 64);
	assert_int_equal(t->disk_mb, 1024);
	assert_true(t->cpus > 0.49 && t->cpus < 0.51);
	assert_string_equal(t->role[NA_GATEWAY].image, "r/gw:1");
	assert_non_null(t->registry_auth);
	assert_null(na_desired_find(&d, "other"));
	na_desired_release(&d);
}

static void expect_refused(const char *doc, const char *needle)
{
	struct na_desired d;
	char msg[256] = "";
	assert_int_not_equal(
		na_desired_parse(&d, doc, strlen(doc), msg, sizeof(msg)),
		CLAW_OK);
	if (!strstr(msg, needle))
		fail_msg("message '%s' lacks '%s'", msg, needle);
	assert_null(strstr(msg, "hunter2"));
	na_desired_release(&d);
}

static void test_refusals(void **state)
{
	(void)state;
	expect_refused("[]", "JSON object");
	expect_refused("{\"tenants\":{}}", "'tenants'");
	expect_refused("{\"tenants\":[{\"tenant\":\"Bad_Name\"}]}", "'tenant'");
	expect_refused("{\"tenants\":[{\"tenant\":\"a\",\"deployment\":\"d\","
		       "\"generation\":1,\"gateway\":" ROLE(
			       "x") ",\"runtime\":" ROLE("x") ",\"extra\":1}]}",
		       "unknown field 'extra'");
	expect_refused("{\"tenants\":[{\"tenant\":\"a\",\"deployment\":\"d\","
		       "\"generation\":1,\"gateway\":" ROLE(
			       "bad image") ","
					    "\"runtime\":" ROLE("x") "}]}",
		       "gateway.image");
	expect_refused(
		"{\"tenants\":[{\"tenant\":\"a\",\"deployment\":\"d\","
		"\"generation\":1,\"gateway\":{\"image\":\"x\","
		"\"secrets\":{\"../etc\":\"hunter2\"}},\"runtime\":" ROLE(
			"x") "}]}",
		"secret name");
	expect_refused("{\"tenants\":[{\"tenant\":\"a\",\"deployment\":\"d\","
		       "\"generation\":1,\"gateway\":{\"image\":\"x\","
		       "\"secrets\":{\"K\":5}},\"runtime\":" ROLE("x") "}]}",
		       "secret 'K'");
	expect_refused(
		"{\"tenants\":[{\"tenant\":\"a\",\"deployment\":\"d\","
		"\"generation\":1,\"plan\":{\"cpus\":0},\"gateway\":" ROLE(
			"x") ",\"runtime\":" ROLE("x") "}]}",
		"plan.cpus");
	expect_refused(
		"{\"tenants\":[{\"tenant\":\"a\",\"deployment\":\"d\","
		"\"generation\":1,\"plan\":{\"disk_mb\":8},\"gateway\":" ROLE(
			"x") ",\"runtime\":" ROLE("x") "}]}",
		"plan.disk_mb");
	expect_refused(
		"{\"tenants\":[{\"tenant\":\"a\",\"deployment\":\"d\","
		"\"generation\":1,\"gateway\":" ROLE("x") ",\"runtime\":" ROLE(
			"x") "},{\"tenant\":\"a\",\"deployment\":\"d\","
			     "\"generation\":1,\"gateway\":" ROLE(
				     "x") ",\"runtime\":" ROLE("x") "}]}",
		"twice");
	/* A syntax error near a secret must not quote it. */
	expect_refused("{\"tenants\":[{\"secrets\":{\"K\":\"hunter2\"} hunter2",
		       "not JSON");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full),
		cmocka_unit_test(test_refusals),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
