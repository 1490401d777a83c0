/*
 * test_bounds.c - the pure half of controlplane/bounds.c: image references
 * parsed as Docker resolves them, the image policy matched on whole hosts
 * and path components (no prefix tricks), egress entries covered by a
 * bound, plan comparison, registry credentials found only for the exact
 * host they were configured for, node labels within a tenant's bound, the
 * gateway's directly called URLs (channels.*.api_base) within the fleet
 * default and a tenant's api_base_allow.
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

#include "bounds.h"
#include "claw/crypto.h"

static void test_image_parse(void **state)
{
	static const struct {
		const char *ref, *host, *path;
	} good[] = {
		{"nginx", "docker.io", "library/nginx"},
		{"nginx:1.25", "docker.io", "library/nginx"},
		{"user/app:v1", "docker.io", "user/app"},
		{"docker.io/nginx", "docker.io", "library/nginx"},
		{"index.docker.io/user/app", "docker.io", "user/app"},
		{"Registry.Example.COM:5000/a/b:1", "registry.example.com:5000",
		 "a/b"},
		{"localhost/x", "localhost", "x"},
		{"localhost:5000/x/y", "localhost:5000", "x/y"},
		{"127.0.0.1:5000/claw/gw@sha256:"
		 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abc"
		 "def",
		 "127.0.0.1:5000", "claw/gw"},
		{"reg.test/a__b/c-d/e.f:T_1.x-y", "reg.test", "a__b/c-d/e.f"},
		{NULL, NULL, NULL},
	};
	static const char *bad[] = {
		"",
		"/x",
		"reg.test/",
		"reg.test//x",
		"reg.test/x/",
		"reg.test/X",
		"reg.test/../x",
		"reg.test/a/../b",
		"reg.test/./x",
		"reg.test/.x",
		"reg.test/x-",
		"reg.test/x:",
		"reg.test/x:-t",
		"reg.test/x@sha256:00",
		"reg.test/x@md5:0123456789abcdef0123456789abcdef",
		"reg.test:0/x",
		"reg.test:99999/x",
		"-reg.test/x",
		"reg..test/x",
		"re g.test/x",
		"reg.test/x y",
		NULL};
	struct cp_image_ref r;

	(void)state;
	for (int i = 0; good[i].ref; i++) {
		assert_true(cp_image_parse(good[i].ref, &r));
		assert_string_equal(r.host, good[i].host);
		assert_string_equal(r.path, good[i].path);
	}
	for (int i = 0; bad[i]; i++)
		assert_false(cp_image_parse(bad[i], &r));
	assert_false(cp_image_parse(NULL, &r));
}

static void test_image_policy(void **state)
{
	struct cp_image_policy *p = NULL;
	char err[256];
	static const char *allowed[] = {
		"registry.example.com/claw/gw:1",
		"registry.example.com/claw:1",
		"registry.example.com/claw/sub/rt@sha256:"
		"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcd"
		"ef",
		"127.0.0.1:5000/anything/at/all:2",
		"nginx:1",
		"docker.io/library/nginx",
		NULL};
	static const char *refused[] = {
		"evil.example/x:1",
		"registry.example.com/claw-evil/gw:1", /* no string prefix */
		"registry.example.com/other:1",
		"registry.example.com.evil.example/claw/gw:1",
		"registry.example.com:444/claw/gw:1", /* another port */
		"127.0.0.1:5001/x:1",
		"user/app:1", /* docker.io, not library/ */
		"reg.test/../x",
		NULL};

	(void)state;
	assert_int_equal(cp_image_policy_parse(
				 "registry.example.com/claw/, 127.0.0.1:5000 "
				 "docker.io/library",
				 &p, err, sizeof(err)),
			 0);
	for (int i = 0; allowed[i]; i++)
		assert_true(cp_image_allowed(p, allowed[i]));
	for (int i = 0; refused[i]; i++)
		assert_false(cp_image_allowed(p, refused[i]));
	cp_image_policy_free(p);
	/* no policy: every well-formed reference */
	assert_true(cp_image_allowed(NULL, "evil.example/x:1"));
	assert_false(cp_image_allowed(NULL, "evil.example/../x"));
	/* bad policies are refused at start, naming the entry */
	assert_int_equal(
		cp_image_policy_parse("reg.test/x:1", &p, err, sizeof(err)),
		-1);
	assert_non_null(strstr(err, "reg.test/x:1"));
	assert_null(p);
	assert_int_equal(cp_image_policy_parse("", &p, err, sizeof(err)), -1);
	assert_int_equal(cp_image_policy_parse(" , ", &p, err, sizeof(err)),
			 -1);
	assert_int_equal(
		cp_image_policy_parse("https://reg.test", &p, err, sizeof(err)),
		-1);
}

static void test_egress(void **state)
{
	json_t *bound = json_pack("[s, s, s]", "api.openai.com:443",
				  "*.mcp.example.com:443", "llm.test:8443");
	json_t *star = json_pack("[s]", "*");
	json_t *asked;
	const char *bad;

	(void)state;
	assert_true(cp_egress_entry_valid("a.b:1", false));
	assert_true(cp_egress_entry_valid("*.b.c:65535", false));
	assert_true(cp_egress_entry_valid("10.0.0.1:80", false));
	assert_false(cp_egress_entry_valid("*", false));
	assert_true(cp_egress_entry_valid("*", true));
	assert_false(cp_egress_entry_valid("a.b", false));
	assert_false(cp_egress_entry_valid("a.b:0", false));
	assert_false(cp_egress_entry_valid("a.b:65536", false));
	assert_false(cp_egress_entry_valid("*.:443", false));
	assert_false(cp_egress_entry_valid("a..b:443", false));
	assert_false(cp_egress_entry_valid("a b:443", false));
	assert_false(cp_egress_entry_valid(":443", false));

	assert_true(cp_egress_covered("api.openai.com:443", bound));
	assert_true(cp_egress_covered("API.OpenAI.com:443", bound));
	assert_true(cp_egress_covered("x.mcp.example.com:443", bound));
	assert_true(cp_egress_covered("a.b.mcp.example.com:443", bound));
	assert_true(cp_egress_covered("*.mcp.example.com:443", bound));
	assert_true(cp_egress_covered("*.x.mcp.example.com:443", bound));
	assert_false(cp_egress_covered("mcp.example.com:443", bound));
	assert_false(cp_egress_covered("xmcp.example.com:443", bound));
	assert_false(cp_egress_covered("*.example.com:443", bound));
	assert_false(cp_egress_covered("api.openai.com:80", bound));
	assert_false(cp_egress_covered("api.openai.com.evil:443", bound));
	assert_false(cp_egress_covered("x.mcp.example.com:444", bound));
	assert_false(cp_egress_covered("169.254.169.254:80", bound));
	assert_true(cp_egress_covered("169.254.169.254:80", star));

	asked = json_pack("[s, s]", "api.openai.com:443",
			  "a.mcp.example.com:443");
	assert_int_equal(cp_egress_check(asked, bound, &bad), 0);
	json_array_append_new(asked, json_string("evil.example:443"));
	assert_int_equal(cp_egress_check(asked, bound, &bad), -1);
	assert_string_equal(bad, "evil.example:443");
	json_decref(asked);
	asked = json_pack("[i]", 1);
	assert_int_equal(cp_egress_check(asked, bound, &bad), -1);
	assert_string_equal(bad, "");
	json_decref(asked);
	asked = json_pack("[s]", "*");
	assert_int_equal(cp_egress_check(asked, star, &bad), -1);
	json_decref(asked);
	assert_int_equal(cp_egress_check(NULL, bound, &bad), 0);
	asked = json_array();
	assert_int_equal(cp_egress_check(asked, asked, &bad), 0);
	json_decref(asked);
	asked = json_pack("[s]", "a.b:1");
	bad = NULL;
	assert_int_equal(cp_egress_check(asked, NULL, &bad), -1);
	assert_string_equal(bad, "a.b:1");
	json_decref(asked);
	json_decref(bound);
	json_decref(star);
}

static void test_plans(void **state)
{
	struct cp_plan lim = {"small", 500, 256, 256, 1024};
	struct cp_plan a = lim;

	(void)state;
	assert_null(cp_plan_exceeded(&a, &lim));
	a.cpus_milli = 256000;
	assert_string_equal(cp_plan_exceeded(&a, &lim), "cpus_milli");
	a = lim;
	a.memory_mb = 257;
	assert_string_equal(cp_plan_exceeded(&a, &lim), "memory_mb");
	a = lim;
	a.pids = 65536;
	assert_string_equal(cp_plan_exceeded(&a, &lim), "pids");
	a = lim;
	a.disk_mb = 0; /* no limit exceeds a limit */
	assert_string_equal(cp_plan_exceeded(&a, &lim), "disk_mb");
	a.disk_mb = 1025;
	assert_string_equal(cp_plan_exceeded(&a, &lim), "disk_mb");
	a = lim;
	a.cpus_milli = 10;
	a.memory_mb = 16;
	a.pids = 8;
	a.disk_mb = 1;
	assert_null(cp_plan_exceeded(&a, &lim));
	lim.disk_mb = 0;
	a.disk_mb = 0;
	assert_null(cp_plan_exceeded(&a, &lim));
	assert_true(cp_plan_name_valid("default"));
	assert_true(cp_plan_name_valid("small-1"));
	assert_false(cp_plan_name_valid("Small"));
	assert_false(cp_plan_name_valid("../x"));
	assert_false(cp_plan_name_valid(""));
	/* the node agent's smallest disk is 16 MiB */
	assert_true(cp_plan_disk_valid(0));
	assert_true(cp_plan_disk_valid(16));
	assert_true(cp_plan_disk_valid(16777216));
	assert_false(cp_plan_disk_valid(1));
	assert_false(cp_plan_disk_valid(15));
	assert_false(cp_plan_disk_valid(-1));
	assert_false(cp_plan_disk_valid(16777217));
}

static json_t *js(const char *text)
{
	json_t *j = json_loads(text, 0, NULL);

	assert_non_null(j);
	return j;
}

static void test_labels(void **state)
{
	json_t *bound = js("{\"zone\": [\"a\", \"b\"], \"gpu\": \"yes\"}");
	json_t *none = js("{}");
	struct {
		const char *asked;
		int want;
		const char *bad;
	} cases[] = {
		{"{}", 0, ""},
		{"{\"zone\": \"a\"}", 0, ""},
		{"{\"zone\": \"b\", \"gpu\": \"yes\"}", 0, ""},
		{"{\"zone\": \"c\"}", -1, "zone"},
		{"{\"gpu\": \"no\"}", -1, "gpu"},
		{"{\"zone\": \"a\", \"rack\": \"1\"}", -1, "rack"},
		{"{\"zone\": [\"a\"]}", -1, "zone"}, /* values are strings */
		{"{\"Zone\": \"a\"}", -1, "Zone"},   /* names exactly */
	};
	const char *bad;

	(void)state;
	assert_true(cp_labels_bound_valid(bound));
	assert_true(cp_labels_bound_valid(none));
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *a = js(cases[i].asked);

		assert_int_equal(cp_labels_check(a, bound, &bad),
				 cases[i].want);
		assert_string_equal(bad, cases[i].bad);
		json_decref(a);
	}
	/* an empty bound allows no label at all, absent labels pass */
	{
		json_t *a = js("{\"zone\": \"a\"}");

		assert_int_equal(cp_labels_check(a, none, &bad), -1);
		assert_int_equal(cp_labels_check(NULL, none, &bad), 0);
		json_decref(a);
	}
	for (const char *const *t =
		     (const char *const[]){"[]", "{\"\": \"a\"}", "{\"z\": 1}",
					   "{\"z\": []}", "{\"z\": [1]}", NULL};
	     *t; t++) {
		json_t *b = js(*t);

		assert_false(cp_labels_bound_valid(b));
		json_decref(b);
	}
	json_decref(bound);
	json_decref(none);
}

static void test_api_base(void **state)
{
	json_t *dflt = js("{\"channels\": {\"telegram\": {\"api_base\": "
			  "\"https://tg.fleet.example\"}}}");
	json_t *allow = js("[\"https://mm.acme.example/\", "
			   "\"ircs://irc.acme.example:6697\", "
			   "\"imaps://mail.acme.example\"]");
	json_t *any = js("[\"*\"]");
	json_t *none = js("[]");
	struct {
		const char *cfg;
		json_t *allow;
		int want;
		const char *field;
	} cases[] = {
		/* nothing set: the gateway's defaults */
		{"{\"channels\": {\"telegram\": {}}}", none, 0, ""},
		/* the fleet default's own value at the same place */
		{"{\"channels\": {\"telegram\": {\"api_base\": "
		 "\"https://tg.fleet.example\"}}}",
		 none, 0, ""},
		/* ... not at another channel */
		{"{\"channels\": {\"slack\": {\"api_base\": "
		 "\"https://tg.fleet.example\"}}}",
		 none, -1, "channels.slack.api_base"},
		{"{\"channels\": {\"telegram\": {\"api_base\": "
		 "\"http://169.254.169.254\"}}}",
		 none, -1, "channels.telegram.api_base"},
		{"{\"channels\": {\"mattermost\": {\"api_base\": "
		 "\"https://mm.acme.example\"}}}",
		 allow, 0, ""},
		{"{\"channels\": {\"mattermost\": {\"api_base\": "
		 "\"https://mm.acme.example.evil\"}}}",
		 allow, -1, "channels.mattermost.api_base"},
		{"{\"channels\": {\"discord\": {\"api_base\": "
		 "\"http://10.0.0.1\"}}}",
		 any, 0, ""},
		/* any URL-named key, not only api_base; not a string either */
		{"{\"channels\": {\"slack\": {\"socket_url\": "
		 "\"wss://x\"}}}",
		 none, -1, "channels.slack.socket_url"},
		{"{\"channels\": {\"slack\": {\"api_base\": 5}}}", none, -1,
		 "channels.slack.api_base"},
		{"{\"proxy_url\": \"http://x\", \"channels\": {}}", none, -1,
		 "proxy_url"},
		/* Twilio's webhook_url is its address of the gateway itself */
		{"{\"channels\": {\"twilio\": {\"webhook_url\": "
		 "\"https://acme.example/twilio\"}}}",
		 none, 0, ""},
		/* IRC's server is dialled too: host:port, as ircs:// in the
		 * bound; only at the irc channel */
		{"{\"channels\": {\"irc\": {\"server\": "
		 "\"10.0.0.5:6697\"}}}",
		 none, -1, "channels.irc.server"},
		{"{\"channels\": {\"irc\": {\"server\": "
		 "\"irc.acme.example:6697\"}}}",
		 allow, 0, ""},
		{"{\"channels\": {\"irc\": {\"server\": "
		 "\"https://mm.acme.example\"}}}",
		 allow, -1, "channels.irc.server"},
		{"{\"channels\": {\"irc\": {\"server\": "
		 "\"169.254.169.254:80\"}}}",
		 any, 0, ""},
		{"{\"channels\": {\"slack\": {\"server\": \"x\"}}}", none, 0,
		 ""},
		/* the email channel's servers by their URLs */
		{"{\"channels\": {\"email\": {\"imap_url\": "
		 "\"imaps://mail.acme.example\", \"smtp_url\": "
		 "\"smtps://10.0.0.9\"}}}",
		 allow, -1, "channels.email.smtp_url"},
		/* a value sent as a key is never named */
		{"{\"channels\": {\"s3cr3t VALUE\": {\"api_base\": "
		 "\"http://x\"}}}",
		 none, -1, "channels.#1.api_base"},
	};
	char field[128];

	(void)state;
	assert_true(cp_gw_url_key("api_base"));
	assert_true(cp_gw_url_key("url"));
	assert_false(cp_gw_url_key("webhook_url"));
	assert_false(cp_gw_url_key("bot_username"));
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *c = js(cases[i].cfg);

		assert_int_equal(cp_api_base_check(c, dflt, cases[i].allow,
						   field, sizeof(field)),
				 cases[i].want);
		assert_string_equal(field, cases[i].field);
		json_decref(c);
	}
	assert_true(cp_api_base_bound_valid(allow));
	assert_true(cp_api_base_bound_valid(any));
	assert_true(cp_api_base_bound_valid(none));
	for (const char *const *t =
		     (const char *const[]){"{}", "[1]", "[\"ftp://x\"]",
					   "[\"https://a b\"]",
					   "[\"https://\"]", NULL};
	     *t; t++) {
		json_t *b = js(*t);

		assert_false(cp_api_base_bound_valid(b));
		json_decref(b);
	}
	json_decref(dflt);
	json_decref(allow);
	json_decref(any);
	json_decref(none);
}

static void test_registry_creds(void **state)
{
	char dir[] = "/tmp/cp-bounds-XXXXXX", path[128], text[512], err[256];
	struct cp_registry_creds *c = NULL;
	const char *user = NULL, *pw = NULL;
	char host[CP_IMAGE_HOST_MAX];
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/pw", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("s3cret\n", f);
	fclose(f);
	snprintf(text, sizeof(text),
		 "Reg.Example:5000=alice:%s, docker.io=bob:%s", path, path);
	assert_int_equal(cp_registry_creds_parse(text, &c, err, sizeof(err)),
			 0);
	assert_true(cp_registry_creds_find(c, "reg.example:5000", &user, &pw));
	assert_string_equal(user, "alice");
	assert_string_equal(pw, "s3cret");
	assert_true(cp_registry_creds_find(c, "docker.io", &user, &pw));
	assert_string_equal(user, "bob");
	/* only the exact host */
	assert_false(cp_registry_creds_find(c, "reg.example", &user, &pw));
	assert_false(cp_registry_creds_find(c, "reg.example:5001", &user, &pw));
	assert_false(cp_registry_creds_find(c, "evil.example", &user, &pw));
	assert_false(cp_registry_creds_find(c, NULL, &user, &pw));
	/* a host given twice */
	assert_int_equal(cp_registry_creds_add(&c, "REG.example:5000", "x", "y",
					       err, sizeof(err)),
			 -1);
	assert_int_equal(cp_registry_creds_add(&c, "other.example", "carol",
					       "pw2", err, sizeof(err)),
			 0);
	assert_true(cp_registry_creds_find(c, "other.example", &user, &pw));
	assert_string_equal(pw, "pw2");
	cp_registry_creds_free(c);
	/* malformed entries and unreadable files; the error names no
	 * password */
	assert_int_equal(
		cp_registry_creds_parse("reg.test=alice", &c, err, sizeof(err)),
		-1);
	assert_null(c);
	assert_int_equal(cp_registry_creds_parse("=a:/x", &c, err, sizeof(err)),
			 -1);
	snprintf(text, sizeof(text), "reg.test=a:%s/none", dir);
	assert_int_equal(cp_registry_creds_parse(text, &c, err, sizeof(err)),
			 -1);
	snprintf(text, sizeof(text), "reg.test=a:%s,reg.test=b:%s", path, path);
	assert_int_equal(cp_registry_creds_parse(text, &c, err, sizeof(err)),
			 -1);
	assert_null(strstr(err, "s3cret"));
	/* registry addresses as deploys give them */
	assert_true(cp_registry_host_norm("https://Reg.Example:5000/v2/", host,
					  sizeof(host)));
	assert_string_equal(host, "reg.example:5000");
	assert_true(
		cp_registry_host_norm("index.docker.io", host, sizeof(host)));
	assert_string_equal(host, "docker.io");
	assert_false(cp_registry_host_norm("", host, sizeof(host)));
	assert_false(cp_registry_host_norm(NULL, host, sizeof(host)));
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_image_parse),
		cmocka_unit_test(test_image_policy),
		cmocka_unit_test(test_egress),
		cmocka_unit_test(test_plans),
		cmocka_unit_test(test_labels),
		cmocka_unit_test(test_api_base),
		cmocka_unit_test(test_registry_creds),
	};

	if (claw_crypto_init())
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
