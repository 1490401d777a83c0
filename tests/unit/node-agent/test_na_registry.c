/*
 * test_na_registry.c - registry credentials go only to the registry they
 * were configured for: the registry host of image references (Docker's
 * reading: Hub by default, a first component with '.', ':', "localhost"
 * or upper case is a host), serveraddress normalised (scheme, path, case,
 * ":443", Hub's names), and the choice of credentials for a pull: a
 * credential for another host (or a look-alike) is withheld. Also the
 * desired state's registry_auth: one or an array, serveraddress required.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "desired.h"
#include "registry.h"

static void expect_host(const char *ref, const char *host)
{
	char h[256];
	assert_int_equal(na_image_registry(ref, h, sizeof(h)), CLAW_OK);
	if (strcmp(h, host))
		fail_msg("'%s': host '%s', expected '%s'", ref, h, host);
}

static void test_image_registry(void **state)
{
	(void)state;
	expect_host("ubuntu", "docker.io");
	expect_host("ubuntu:22.04", "docker.io");
	expect_host("busybox@sha256:0123", "docker.io");
	expect_host("library/ubuntu", "docker.io");
	expect_host("user/app:1", "docker.io");
	expect_host("localhost:5000", "docker.io"); /* image localhost, tag */
	expect_host("docker.io/library/ubuntu", "docker.io");
	expect_host("index.docker.io/user/app", "docker.io");
	expect_host("registry-1.docker.io/user/app", "docker.io");
	expect_host("127.0.0.1:5000/claw/gw@sha256:0123", "127.0.0.1:5000");
	expect_host("localhost/x", "localhost");
	expect_host("localhost:5000/x:1", "localhost:5000");
	expect_host("Reg.Example.COM/team/x", "reg.example.com");
	expect_host("MyHost/x", "myhost");
	expect_host("reg.example:443/x", "reg.example");
	expect_host("reg.example:8443/x", "reg.example:8443");
	expect_host("[::1]:5000/x", "[::1]:5000");
	expect_host("evil.example/127.0.0.1:5000/x", "evil.example");
	expect_host("127.0.0.1:5000.evil.example/x",
		    "127.0.0.1:5000.evil.example");
}

static void expect_norm(const char *sa, const char *host)
{
	char h[256];
	enum claw_rc rc = na_registry_normalise(sa, h, sizeof(h));
	if (!host) {
		if (rc == CLAW_OK)
			fail_msg("'%s' accepted as '%s'", sa, h);
		return;
	}
	assert_int_equal(rc, CLAW_OK);
	if (strcmp(h, host))
		fail_msg("'%s': host '%s', expected '%s'", sa, h, host);
}

static void test_normalise(void **state)
{
	(void)state;
	expect_norm("127.0.0.1:5000", "127.0.0.1:5000");
	expect_norm("https://index.docker.io/v1/", "docker.io");
	expect_norm("docker.io", "docker.io");
	expect_norm("registry-1.docker.io", "docker.io");
	expect_norm("HTTPS://Reg.Example:443/", "reg.example");
	expect_norm("http://reg.example:5000/v2/", "reg.example:5000");
	expect_norm("reg.example/", "reg.example");
	expect_norm("", NULL);
	expect_norm("https://", NULL);
	expect_norm("user:pw@evil.example", NULL);
	expect_norm("reg example", NULL);
	expect_norm(":443", NULL);
	expect_norm("reg.example\n", NULL);
}

static void test_auth_for(void **state)
{
	(void)state;
	bool withheld;
	json_t *fleet =
		json_pack("{s:s, s:s, s:s}", "username", "claw", "password",
			  "pw", "serveraddress", "127.0.0.1:5000");
	json_t *hub =
		json_pack("{s:s, s:s, s:s}", "username", "u", "password", "p",
			  "serveraddress", "https://index.docker.io/v1/");
	json_t *both = json_pack("[O, O]", fleet, hub);
	json_t *bare =
		json_pack("{s:s, s:s}", "username", "u", "password", "p");

	/* Its own registry: sent. */
	assert_ptr_equal(
		na_image_auth_for("127.0.0.1:5000/claw/gw:1", fleet, &withheld),
		fleet);
	assert_false(withheld);
	/* Any other host: withheld (the evil.example), look-alikes
	 * and other ports included. */
	const char *others[] = {"evil.example/x:1",
				"127.0.0.1:5001/claw/gw:1",
				"127.0.0.1/claw/gw:1",
				"127.0.0.1:5000.evil.example/x",
				"evil.example/127.0.0.1:5000/x",
				"ubuntu",
				NULL};
	for (const char **o = others; *o; o++) {
		withheld = false;
		assert_null(na_image_auth_for(*o, fleet, &withheld));
		assert_true(withheld);
	}
	/* Hub credentials for Hub images, in any spelling. */
	assert_ptr_equal(na_image_auth_for("ubuntu:22.04", hub, NULL), hub);
	assert_ptr_equal(na_image_auth_for("docker.io/library/x", hub, NULL),
			 hub);
	assert_null(na_image_auth_for("ghcr.io/x/y", hub, NULL));
	/* One per registry: each image gets its own. */
	assert_ptr_equal(na_image_auth_for("127.0.0.1:5000/x", both, NULL),
			 json_array_get(both, 0));
	assert_ptr_equal(na_image_auth_for("user/app", both, NULL),
			 json_array_get(both, 1));
	assert_null(na_image_auth_for("quay.io/x/y", both, &withheld));
	assert_true(withheld);
	/* Without serveraddress nothing says where it belongs. */
	assert_null(na_image_auth_for("127.0.0.1:5000/x", bare, &withheld));
	assert_true(withheld);
	/* Nothing given: nothing withheld. */
	assert_null(na_image_auth_for("127.0.0.1:5000/x", NULL, &withheld));
	assert_false(withheld);

	/* Passwords are wiped in place. */
	na_registry_auth_wipe(both);
	assert_int_equal(json_string_value(json_object_get(
				 json_array_get(both, 0), "password"))[0],
			 0);
	json_decref(fleet);
	json_decref(hub);
	json_decref(both);
	json_decref(bare);
}

#define TENANT(auth)                                                           \
	"{\"tenants\":[{\"tenant\":\"a\",\"deployment\":\"d\","                \
	"\"generation\":1,\"registry_auth\":" auth ","                         \
	"\"gateway\":{\"image\":\"x\"},\"runtime\":{\"image\":\"x\"}}]}"

static enum claw_rc parse(const char *doc, char *msg, size_t msglen)
{
	struct na_desired d;
	enum claw_rc rc = na_desired_parse(&d, doc, strlen(doc), msg, msglen);
	na_desired_release(&d);
	return rc;
}

static void test_desired_auth(void **state)
{
	(void)state;
	char msg[256];
	assert_int_equal(
		parse(TENANT("{\"username\":\"u\",\"password\":\"hunter2\","
			     "\"serveraddress\":\"r.example\"}"),
		      msg, sizeof(msg)),
		CLAW_OK);
	assert_int_equal(
		parse(TENANT("[{\"username\":\"u\",\"password\":\"p\","
			     "\"serveraddress\":\"r.example\"},{\"username\":"
			     "\"v\",\"password\":\"q\",\"serveraddress\":"
			     "\"https://index.docker.io/v1/\"}]"),
		      msg, sizeof(msg)),
		CLAW_OK);
	/* serveraddress is required, and must be a host. */
	assert_int_equal(parse(TENANT("{\"username\":\"u\",\"password\":"
				      "\"hunter2\"}"),
			       msg, sizeof(msg)),
			 CLAW_ERR_INVALID);
	assert_non_null(strstr(msg, "serveraddress"));
	assert_null(strstr(msg, "hunter2"));
	assert_int_equal(parse(TENANT("[{\"username\":\"u\",\"password\":"
				      "\"hunter2\",\"serveraddress\":"
				      "\"a@b\"}]"),
			       msg, sizeof(msg)),
			 CLAW_ERR_INVALID);
	assert_null(strstr(msg, "hunter2"));
	assert_int_equal(parse(TENANT("[1]"), msg, sizeof(msg)),
			 CLAW_ERR_INVALID);
	assert_int_equal(parse(TENANT("\"x\""), msg, sizeof(msg)),
			 CLAW_ERR_INVALID);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_image_registry),
		cmocka_unit_test(test_normalise),
		cmocka_unit_test(test_auth_for),
		cmocka_unit_test(test_desired_auth),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
