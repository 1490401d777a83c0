/*
 * test_domains.c - the edge's names (controlplane/domains.h): custom
 * domain checks and normalisation, the refusals (wildcards, addresses in
 * every spelling, names under the base domain), edge addresses, public
 * URLs and channel webhook URLs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "domains.h"

#define BASE "claw.example"

static void test_claimable(void **state)
{
	char out[CP_DOMAIN_MAX + 1], long_ok[CP_DOMAIN_MAX + 2];

	(void)state;
	assert_int_equal(cp_domain_check("Chat.Example.COM.", BASE, out),
			 CP_DOMAIN_OK);
	assert_string_equal(out, "chat.example.com");
	assert_int_equal(cp_domain_check("xn--bcher-kva.example", BASE, out),
			 CP_DOMAIN_OK);
	assert_int_equal(cp_domain_check("a1.b-c.io", BASE, out), CP_DOMAIN_OK);
	/* 253 characters: 4 labels of 63 and one of 1 */
	memset(long_ok, 'a', 253);
	long_ok[63] = long_ok[127] = long_ok[191] = '.';
	long_ok[251] = '.';
	long_ok[253] = '\0';
	assert_int_equal(cp_domain_check(long_ok, NULL, out), CP_DOMAIN_OK);
	long_ok[253] = 'b';
	long_ok[254] = '\0';
	assert_int_equal(cp_domain_check(long_ok, NULL, out),
			 CP_DOMAIN_MALFORMED);
	/* not claimable-example.com under base "example.com" */
	assert_int_equal(cp_domain_check("myexample.com", "example.com", out),
			 CP_DOMAIN_OK);
}

static void test_refused(void **state)
{
	static const char *malformed[] = {"",
					  ".",
					  "*.example.com",
					  "a.*.com",
					  "localhost",
					  "com.",
					  "-a.com",
					  "a-.com",
					  "a..b.com",
					  ".a.com",
					  "a.com..",
					  "exa_mple.com",
					  "a b.com",
					  "b\xc3\xbc.de",
					  "a.com/x",
					  "a.com:80",
					  NULL};
	static const char *addresses[] = {"127.0.0.1",
					  "1.2.3.4.",
					  "10.1",
					  "0x7f.1",
					  "2130706433",
					  "017.0.0.1",
					  "a.1",
					  "[::1]",
					  "::1",
					  "fe80::1",
					  "[::ffff:127.0.0.1]",
					  NULL};
	static const char *reserved[] = {
		BASE,        "CLAW.example.", "acme." BASE,
		"a.b." BASE, "x-y." BASE ".", NULL};
	char out[CP_DOMAIN_MAX + 1], label[80];

	(void)state;
	for (int i = 0; malformed[i]; i++)
		assert_int_equal(cp_domain_check(malformed[i], BASE, out),
				 CP_DOMAIN_MALFORMED);
	for (int i = 0; addresses[i]; i++)
		assert_int_equal(cp_domain_check(addresses[i], BASE, out),
				 CP_DOMAIN_ADDRESS);
	for (int i = 0; reserved[i]; i++)
		assert_int_equal(cp_domain_check(reserved[i], BASE, out),
				 CP_DOMAIN_RESERVED);
	memset(label, 'a', 64);
	memcpy(label + 64, ".com", 5);
	assert_int_equal(cp_domain_check(label, BASE, out),
			 CP_DOMAIN_MALFORMED);
	assert_int_equal(cp_domain_check(NULL, BASE, out), CP_DOMAIN_MALFORMED);
}

static void test_under(void **state)
{
	(void)state;
	assert_true(cp_domain_under("a.b.c", "b.c"));
	assert_true(cp_domain_under("b.c", "b.c"));
	assert_false(cp_domain_under("ab.c", "b.c"));
	assert_false(cp_domain_under("b.c", NULL));
}

static void test_edge_address(void **state)
{
	static const char *good[] = {"10.0.0.2:8443", "edge-a:443",
				     "node.example.com:1", "[fd00::2]:65535",
				     NULL};
	static const char *bad[] = {"",         "nohost", "h:0",    "h:65536",
				    "h:",       ":80",    "::1:80", "[zz]:1",
				    "Upper:80", "a b:1",  "h:1x",   "h:123456",
				    "1.2.3:80", "[::1]",  NULL};

	(void)state;
	for (int i = 0; good[i]; i++)
		assert_true(cp_edge_address_valid(good[i]));
	for (int i = 0; bad[i]; i++)
		assert_false(cp_edge_address_valid(bad[i]));
	assert_false(cp_edge_address_valid(NULL));
}

static void test_public_url_and_webhooks(void **state)
{
	char url[CP_PUBLIC_URL_MAX];
	json_t *ch, *hooks;

	(void)state;
	assert_false(cp_public_url("acme", NULL, url, sizeof(url)));
	assert_true(cp_public_url("acme", BASE, url, sizeof(url)));
	assert_string_equal(url, "https://acme." BASE "/");
	ch = json_pack("{s:{s:s}, s:{s:s}, s:{}, s:{s:b}, s:{}, s:{}, s:s}",
		       "telegram", "mode", "polling", "slack", "mode", "events",
		       "discord", "line", "enabled", 0, "teams", "unknown",
		       "weird", "x");
	hooks = cp_webhook_urls(ch, url);
	assert_non_null(hooks);
	assert_int_equal(json_object_size(hooks), 3);
	assert_string_equal(json_string_value(json_object_get(hooks, "slack")),
			    "https://acme." BASE "/slack/events");
	assert_string_equal(
		json_string_value(json_object_get(hooks, "discord")),
		"https://acme." BASE "/discord/interactions");
	assert_string_equal(json_string_value(json_object_get(hooks, "teams")),
			    "https://acme." BASE "/teams/messages");
	json_decref(hooks);
	hooks = cp_webhook_urls(ch, NULL);
	assert_int_equal(json_object_size(hooks), 0);
	json_decref(hooks);
	json_decref(ch);
	/* by mode: Matrix's application service is the address itself (its
	 * /sync mode, the default, has nothing inbound); Mattermost's
	 * outgoing webhook, not its bot WebSocket */
	ch = json_pack("{s:{s:s}, s:{s:s}}", "matrix", "mode", "appservice",
		       "mattermost", "mode", "websocket");
	hooks = cp_webhook_urls(ch, url);
	assert_int_equal(json_object_size(hooks), 1);
	assert_string_equal(json_string_value(json_object_get(hooks, "matrix")),
			    "https://acme." BASE);
	json_decref(hooks);
	json_decref(ch);
	ch = json_pack("{s:{}, s:{}}", "matrix", "mattermost");
	hooks = cp_webhook_urls(ch, url);
	assert_int_equal(json_object_size(hooks), 1);
	assert_string_equal(
		json_string_value(json_object_get(hooks, "mattermost")),
		"https://acme." BASE "/mattermost/webhook");
	json_decref(hooks);
	json_decref(ch);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_claimable),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_under),
		cmocka_unit_test(test_edge_address),
		cmocka_unit_test(test_public_url_and_webhooks),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
