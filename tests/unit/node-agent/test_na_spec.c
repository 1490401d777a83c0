/*
 * test_na_spec.c - the container and network bodies carry the hardening:
 * read-only root, uid 65532, no capabilities, no-new-privileges, limits,
 * tmpfs scratch, no secret anywhere in the body, the gateway alone
 * published on the configured address, internal tenant network.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "claw/json.h"
#include "spec.h"

static const char *doc =
	"{\"tenants\":[{\"tenant\":\"acme\",\"deployment\":\"d-1\","
	"\"generation\":4,\"plan\":{\"cpus\":0.5,\"memory_mb\":128,"
	"\"pids\":99},\"gateway\":{\"image\":\"r/gw:1\",\"secrets\":{"
	"\"TOKEN\":\"very-secret-value\"}},\"runtime\":{\"image\":\"r/"
	"rt:1\"}}]}";

static json_t *body_for(struct na_desired *d, enum na_role r)
{
	char msg[256];
	assert_int_equal(
		na_desired_parse(d, doc, strlen(doc), msg, sizeof(msg)),
		CLAW_OK);
	struct na_spec_paths p = {"/s/acme/gw.json", "/run/sec/acme/gateway",
				  "127.0.0.9", "hash", "node-1"};
	return na_spec_container(&d->tenants[0], r, "r/gw@sha256:x", &p);
}

static void test_hardening(void **state)
{
	(void)state;
	struct na_desired d;
	for (int r = 0; r < NA_ROLES; r++) {
		json_t *b = body_for(&d, (enum na_role)r);
		json_t *h = json_object_get(b, "HostConfig");
		char *text = claw_json_dumps(b);
		assert_non_null(text);
		assert_null(strstr(text, "very-secret-value"));
		free(text);
		assert_string_equal(
			json_string_value(json_object_get(b, "User")),
			"65532:65532");
		assert_true(json_is_true(json_object_get(h, "ReadonlyRootfs")));
		assert_string_equal(json_string_value(json_array_get(
					    json_object_get(h, "CapDrop"), 0)),
				    "ALL");
		assert_string_equal(
			json_string_value(json_array_get(
				json_object_get(h, "SecurityOpt"), 0)),
			"no-new-privileges:true");
		assert_int_equal(
			json_integer_value(json_object_get(h, "PidsLimit")),
			99);
		assert_int_equal(
			json_integer_value(json_object_get(h, "Memory")),
			128 * 1024 * 1024);
		assert_int_equal(
			json_integer_value(json_object_get(h, "NanoCpus")),
			500000000);
		assert_non_null(
			json_object_get(json_object_get(h, "Tmpfs"), "/tmp"));
		assert_string_equal(
			json_string_value(json_object_get(h, "NetworkMode")),
			"claw-t-acme");
		assert_string_equal(json_string_value(json_object_get(
					    json_object_get(b, "Labels"),
					    "claw.generation")),
				    "4");
		assert_string_equal(
			json_string_value(json_object_get(
				json_object_get(b, "Labels"), "claw.node")),
			"node-1");
		json_t *pb = json_object_get(h, "PortBindings");
		if (r == NA_GATEWAY)
			assert_string_equal(
				json_string_value(json_object_get(
					json_array_get(
						json_object_get(pb, "8080/tcp"),
						0),
					"HostIp")),
				"127.0.0.9");
		else
			assert_null(pb);
		json_decref(b);
		na_desired_release(&d);
	}
}

static void test_networks(void **state)
{
	(void)state;
	json_t *n = na_spec_tenant_network("acme");
	assert_true(json_is_true(json_object_get(n, "Internal")));
	assert_string_equal(json_string_value(json_object_get(n, "Name")),
			    "claw-t-acme");
	json_decref(n);
	n = na_spec_egress_network("claw-egress");
	assert_string_equal(json_string_value(json_object_get(
				    json_object_get(n, "Options"),
				    "com.docker.network.bridge.enable_icc")),
			    "false");
	json_decref(n);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hardening),
		cmocka_unit_test(test_networks),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
