/*
 * test_na_desired.c - the desired-state parser: a full document, defaults,
 * and refusals with messages that never quote a secret value; the edge's
 * fields (public_host, domains, edge_routes), host and upstream checks.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
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

/* One tenant with `extra` (",\"key\":value" or "") in it. */
static enum claw_rc parse_with(const char *extra, struct na_desired *d,
			       char *msg, size_t msglen)
{
	char doc[512];
	snprintf(doc, sizeof(doc),
		 "{\"tenants\":[{\"tenant\":\"a\",\"deployment\":\"d\","
		 "\"generation\":1%s,\"gateway\":" ROLE(
			 "x") ",\"runtime\":" ROLE("x") "}]}",
		 extra);
	return na_desired_parse(d, doc, strlen(doc), msg, msglen);
}

static void test_min_ready(void **state)
{
	(void)state;
	static const struct {
		const char *extra;
		long want; /* -1: refused */
	} cases[] = {
		{"", 2000},
		{",\"min_ready_ms\":0", 0},
		{",\"min_ready_ms\":3000", 3000},
		{",\"min_ready_ms\":600000", 600000},
		{",\"min_ready_ms\":600001", -1},
		{",\"min_ready_ms\":-1", -1},
		{",\"min_ready_ms\":\"2000\"", -1},
		{",\"min_ready_ms\":1.5", -1},
		{",\"min_ready_ms\":null", -1},
		{",\"min_ready_ms\":true", -1},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct na_desired d;
		char msg[256] = "";
		enum claw_rc rc =
			parse_with(cases[i].extra, &d, msg, sizeof(msg));
		if (cases[i].want < 0) {
			assert_int_equal(rc, CLAW_ERR_INVALID);
			if (!strstr(msg,
				    "'min_ready_ms' must be an integer "
				    "0..600000"))
				fail_msg("case %zu: message '%s'", i, msg);
		} else {
			assert_int_equal(rc, CLAW_OK);
			assert_int_equal(d.tenants[0].min_ready_ms,
					 cases[i].want);
		}
		na_desired_release(&d);
	}
}

static void test_edge_fields(void **state)
{
	(void)state;
	static const char doc[] =
		"{\"generation\":2,\"tenants\":["
		"{\"tenant\":\"acme\",\"deployment\":\"d\",\"generation\":1,"
		"\"gateway\":{\"image\":\"x\"},\"runtime\":{\"image\":\"x\"},"
		"\"public_host\":\"acme.claw.example\","
		"\"domains\":[\"chat.acme.com\",\"acme.io\"]},"
		"{\"tenant\":\"bare\",\"deployment\":\"d\",\"generation\":1,"
		"\"gateway\":{\"image\":\"x\"},\"runtime\":{\"image\":\"x\"},"
		"\"domains\":[]}],"
		"\"edge_routes\":["
		"{\"tenant\":\"bob\",\"hosts\":[\"bob.claw.example\","
		"\"chat.bob.com\"],\"node\":\"node-b\","
		"\"upstream\":\"10.0.0.2:8444\"},"
		"{\"hosts\":[\"x.example.org\"],\"node\":\"n.c\","
		"\"upstream\":\"[fd00::1]:443\"}]}";
	struct na_desired d;
	char msg[256];
	assert_int_equal(
		na_desired_parse(&d, doc, strlen(doc), msg, sizeof(msg)),
		CLAW_OK);
	const struct na_tenant_spec *t = na_desired_find(&d, "acme");
	assert_string_equal(t->public_host, "acme.claw.example");
	assert_int_equal(json_array_size(t->domains), 2);
	t = na_desired_find(&d, "bare");
	assert_null(t->public_host);
	assert_int_equal(json_array_size(t->domains), 0);
	assert_int_equal(d.n_routes, 2);
	assert_string_equal(d.routes[0].tenant, "bob");
	assert_int_equal(json_array_size(d.routes[0].hosts), 2);
	assert_string_equal(
		json_string_value(json_array_get(d.routes[0].hosts, 1)),
		"chat.bob.com");
	assert_string_equal(d.routes[0].node, "node-b");
	assert_string_equal(d.routes[0].upstream, "10.0.0.2:8444");
	assert_null(d.routes[1].tenant);
	assert_string_equal(d.routes[1].upstream, "[fd00::1]:443");
	na_desired_release(&d);

	/* no edge_routes: none */
	static const char plain[] = "{\"tenants\":[]}";
	assert_int_equal(
		na_desired_parse(&d, plain, strlen(plain), msg, sizeof(msg)),
		CLAW_OK);
	assert_int_equal(d.n_routes, 0);
	na_desired_release(&d);
}

/* A tenant document with extra fields (EXTRA starts with a comma). */
static void refused_tenant(const char *extra, const char *needle)
{
	char doc[1024];
	snprintf(doc, sizeof(doc),
		 "{\"tenants\":[{\"tenant\":\"a\",\"deployment\":\"d\","
		 "\"generation\":1,\"gateway\":{\"image\":\"x\"},"
		 "\"runtime\":{\"image\":\"x\"}%s}]}",
		 extra);
	expect_refused(doc, needle);
}

/* A document with the edge routes given (the inside of the array). */
static void refused_routes(const char *routes, const char *needle)
{
	char doc[1024];
	snprintf(doc, sizeof(doc), "{\"tenants\":[],\"edge_routes\":[%s]}",
		 routes);
	expect_refused(doc, needle);
}

static void test_edge_refusals(void **state)
{
	(void)state;
	refused_tenant(",\"public_host\":\"10.0.0.1\"",
		       "'public_host' must be");
	refused_tenant(",\"public_host\":\"Acme.example\"",
		       "'public_host' must be");
	refused_tenant(",\"public_host\":\"localhost\"",
		       "'public_host' must be");
	refused_tenant(",\"public_host\":\"-a.example\"",
		       "'public_host' must be");
	refused_tenant(",\"public_host\":\"*.a.example\"",
		       "'public_host' must be");
	refused_tenant(",\"public_host\":\"a..example\"",
		       "'public_host' must be");
	refused_tenant(",\"public_host\":7", "'public_host' must be");
	refused_tenant(",\"domains\":\"a.example\"",
		       "'domains' must be an array");
	refused_tenant(",\"domains\":[\"a.example\",1]", "'domains' must hold");
	refused_tenant(",\"domains\":[\"a.example\",\"a.example\"]",
		       "host 'a.example' is listed twice");
	refused_tenant(",\"public_host\":\"a.example\",\"domains\":"
		       "[\"a.example\"]",
		       "host 'a.example' is listed twice");
	expect_refused(
		"{\"tenants\":["
		"{\"tenant\":\"a\",\"deployment\":\"d\",\"generation\":1,"
		"\"gateway\":{\"image\":\"x\"},\"runtime\":{\"image\":\"x\"},"
		"\"public_host\":\"a.example\"},"
		"{\"tenant\":\"b\",\"deployment\":\"d\",\"generation\":1,"
		"\"gateway\":{\"image\":\"x\"},\"runtime\":{\"image\":\"x\"},"
		"\"domains\":[\"a.example\"]}]}",
		"host 'a.example' is listed twice (tenant 'a' and tenant 'b')");
	expect_refused(
		"{\"tenants\":["
		"{\"tenant\":\"a\",\"deployment\":\"d\",\"generation\":1,"
		"\"gateway\":{\"image\":\"x\"},\"runtime\":{\"image\":\"x\"},"
		"\"public_host\":\"a.example\"}],\"edge_routes\":["
		"{\"hosts\":[\"a.example\"],\"node\":\"n\",\"upstream\":"
		"\"10.0.0.2:1\"}]}",
		"host 'a.example' is listed twice");
#define R(host, up)                                                            \
	"{\"hosts\":[\"" host "\"],\"node\":\"n\",\"upstream\":\"" up "\"}"
	refused_routes(
		R("a.example", "b.example:1") "," R("a.example", "c.example:1"),
		"host 'a.example' is listed twice");
	refused_routes(R("a.example", "10.0.0.2"), "'upstream'");
	refused_routes(R("a.example", "10.0.0.2:0"), "'upstream'");
	refused_routes(R("a.example", "10.0.0.2:65536"), "'upstream'");
	refused_routes(R("a.example", "[fd00::1:443"), "'upstream'");
	refused_routes(R("a.example", "bad host:443"), "'upstream'");
	refused_routes(R("a.example", "h:+80"), "'upstream'");
	refused_routes(R("1.2.3.4", "h:1"), "'hosts' must hold");
#undef R
	refused_routes("{\"node\":\"n\",\"upstream\":\"h:1\"}",
		       "'hosts' must be an array");
	refused_routes("{\"hosts\":[],\"node\":\"n\",\"upstream\":\"h:1\"}",
		       "'hosts' must be an array");
	refused_routes("{\"hosts\":[\"a.example\"],\"upstream\":\"h:1\"}",
		       "'node' must be");
	refused_routes("{\"hosts\":[\"a.example\"],\"node\":\"n\","
		       "\"upstream\":\"h:1\",\"via\":1}",
		       "unknown field 'via'");
	refused_routes("{\"hosts\":[\"a.example\"],\"node\":\"n\","
		       "\"upstream\":\"h:1\",\"public_host\":\"b.example\"}",
		       "unknown field 'public_host'");
	refused_routes("{\"tenant\":\"Bad\",\"hosts\":[\"a.example\"],"
		       "\"node\":\"n\",\"upstream\":\"h:1\"}",
		       "'tenant' must be");
	refused_routes("1", "each edge route must be an object");
	expect_refused("{\"tenants\":[],\"edge_routes\":{}}", "'edge_routes'");
}

static void test_hosts(void **state)
{
	(void)state;
	assert_true(na_valid_host("a.b"));
	assert_true(na_valid_host("xn--bcher-kva.example"));
	assert_true(na_valid_host("a1-b.c2.example"));
	assert_false(na_valid_host("a"));
	assert_false(na_valid_host("1.2.3.4"));
	assert_false(na_valid_host("a.example."));
	assert_false(na_valid_host(".a.example"));
	assert_false(na_valid_host("a_b.example"));
	assert_false(na_valid_host("a-.example"));
	char big[300];
	memset(big, 'a', sizeof(big));
	big[63] = '.';
	big[64] = 0;
	assert_false(na_valid_host(big)); /* a label of 63 and an empty one */
	big[63] = 'a';
	big[64] = '.';
	big[66] = 0;
	assert_false(na_valid_host(big)); /* a 64-byte label */
	assert_true(na_valid_upstream("10.0.0.2:8444"));
	assert_true(na_valid_upstream("node-b:8444"));
	assert_true(na_valid_upstream("node-b.internal:1"));
	assert_true(na_valid_upstream("[::1]:65535"));
	assert_false(na_valid_upstream("::1:80"));
	assert_false(na_valid_upstream(":80"));
	assert_false(na_valid_upstream("h:"));
	assert_false(na_valid_upstream("h:80 "));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_min_ready),
		cmocka_unit_test(test_edge_fields),
		cmocka_unit_test(test_edge_refusals),
		cmocka_unit_test(test_hosts),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
