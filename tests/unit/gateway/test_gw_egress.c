/*
 * test_gw_egress.c - the egress proxy's decisions (egress.c): which
 * allow-list entries are well-formed, which targets they name (names,
 * addresses, networks, IPv4-mapped IPv6), which addresses are internal,
 * and the single resolution that checks every address (a counting stand-in
 * resolver proves there is one lookup and that internal answers are
 * refused unless an address entry names them).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <cmocka.h>
#include <sodium.h>

#include "claw/log.h"
#include "gw.h"

static void entries(void **state)
{
	(void)state;
	static const char *const good[] = {
		"api.openai.com:443", "*.example.com:443", "llm_1.test:80",
		"10.0.0.5:8080",      "10.1.0.0/16:8080",  "10.0.0.0/8:1",
		"1.2.3.4/32:443",     "[fd00::5]:8080",    "[fd00:1::/32]:8080",
		"[::1]:65535",        "fd00::5:8080",      "localhost:80",
	};
	static const char *const bad[] = {
		"api.openai.com",
		":443",
		"x:0",
		"x:65536",
		"x:44a",
		"x:",
		"a/b:443",
		"10.0.0.0/7:80",
		"10.0.0.0/33:80",
		"0.0.0.0/0:443",
		"[::/0]:443",
		"[fd00::/15]:80",
		"[10.0.0.1]:80",
		"[::ffff:10.0.0.1]:80",
		"ex ample.com:80",
		"*.:80",
		"*:80",
		"[fd00::5:80",
		"fd00::zz:80",
		"http://x:80",
	};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_true(gw_egress_entry_valid(good[i]));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (gw_egress_entry_valid(bad[i]))
			fail_msg("'%s' was accepted", bad[i]);
	}
	assert_false(gw_egress_entry_valid(NULL));
}

static void names_and_addresses(void **state)
{
	(void)state;
	json_t *allow = json_pack("[s, s, s, s, s, s]", "api.openai.com:443",
				  "*.example.com:443", "127.0.0.1:5000",
				  "10.1.0.0/16:8080", "[fd00:1::/32]:8080",
				  "[fe80::1]:22");
	/* names, as before */
	assert_true(gw_egress_allowed(allow, "API.OpenAI.com", 443));
	assert_false(gw_egress_allowed(allow, "api.openai.com", 80));
	assert_true(gw_egress_allowed(allow, "a.b.example.com", 443));
	assert_false(gw_egress_allowed(allow, "example.com", 443));
	assert_false(gw_egress_allowed(allow, "badexample.com", 443));
	/* an address literal is named by address entries only */
	assert_true(gw_egress_allowed(allow, "127.0.0.1", 5000));
	assert_true(gw_egress_allowed(allow, "::ffff:127.0.0.1", 5000));
	assert_false(gw_egress_allowed(allow, "127.0.0.1", 5001));
	assert_false(gw_egress_allowed(allow, "127.0.0.2", 5000));
	assert_false(gw_egress_allowed(allow, "localhost", 5000));
	assert_true(gw_egress_allowed(allow, "10.1.200.3", 8080));
	assert_false(gw_egress_allowed(allow, "10.2.0.1", 8080));
	assert_true(gw_egress_allowed(allow, "fd00:1:2::3", 8080));
	assert_false(gw_egress_allowed(allow, "fd00:2::3", 8080));
	assert_true(gw_egress_allowed(allow, "fe80::1", 22));
	/* an IPv6 network never covers IPv4 (mapped) space */
	json_t *wide = json_pack("[s]", "[::/16]:80");
	assert_false(gw_egress_allowed(wide, "127.0.0.1", 80));
	assert_false(gw_egress_allowed(wide, "::ffff:127.0.0.1", 80));
	assert_true(gw_egress_allowed(wide, "::1", 80));
	json_decref(wide);
	assert_false(gw_egress_allowed(NULL, "api.openai.com", 443));
	json_decref(allow);
}

static void internal(const char *text, const char *why)
{
	uint8_t a[16];
	if (inet_pton(AF_INET6, text, a) != 1) {
		struct in_addr v4;
		assert_int_equal(inet_pton(AF_INET, text, &v4), 1);
		memset(a, 0, 10);
		a[10] = a[11] = 0xff;
		memcpy(a + 12, &v4, 4);
	}
	const char *got = gw_addr_internal(a);
	if (!why && got)
		fail_msg("%s is public, not %s", text, got);
	if (why && (!got || strcmp(got, why) != 0))
		fail_msg("%s: expected %s, got %s", text, why,
			 got ? got : "public");
}

static void address_classes(void **state)
{
	(void)state;
	internal("127.0.0.1", "loopback");
	internal("127.255.0.9", "loopback");
	internal("::1", "loopback");
	internal("169.254.169.254", "link-local");
	internal("fe80::1", "link-local");
	internal("febf::1", "link-local");
	internal("10.1.2.3", "private");
	internal("172.16.0.1", "private");
	internal("172.31.255.255", "private");
	internal("192.168.1.1", "private");
	internal("fc00::1", "unique-local");
	internal("fd12:3456::1", "unique-local");
	internal("0.0.0.0", "unspecified");
	internal("::", "unspecified");
	internal("224.0.0.1", "multicast");
	internal("ff02::1", "multicast");
	internal("255.255.255.255", "broadcast");
	internal("240.0.0.1", "reserved");
	internal("100.64.0.1", "shared (carrier-grade NAT)");
	/* IPv6 forms that embed an internal IPv4 address */
	internal("::ffff:127.0.0.1", "loopback");
	internal("::ffff:169.254.169.254", "link-local");
	internal("::ffff:10.0.0.1", "private");
	internal("64:ff9b::a9fe:a9fe", "link-local");
	internal("2002:7f00:1::1", "loopback");
	internal("::127.0.0.1", "IPv4-compatible (deprecated)");
	/* public */
	internal("8.8.8.8", NULL);
	internal("172.32.0.1", NULL);
	internal("169.255.0.1", NULL);
	internal("::ffff:8.8.8.8", NULL);
	internal("2606:4700:4700::1111", NULL);
	internal("64:ff9b::808:808", NULL);
	internal("2002:808:808::1", NULL);
}

/* ------------------------------------------------ the one resolution */
static int calls;
static int numeric_host_asked;

/* Names resolve to fixed addresses; "mixed.test" to a public one then a
 * loopback one; everything through the real getaddrinfo on numbers, so
 * freeaddrinfo frees what it returns. */
static int fake_resolve(const char *node, const char *service,
			const struct addrinfo *hints, struct addrinfo **res)
{
	struct addrinfo h = *hints;
	calls++;
	if (hints->ai_flags & AI_NUMERICHOST)
		numeric_host_asked++;
	h.ai_flags |= AI_NUMERICHOST;
	if (strcmp(node, "svc.test") == 0)
		return getaddrinfo("127.0.0.1", service, &h, res);
	if (strcmp(node, "meta.test") == 0)
		return getaddrinfo("::ffff:169.254.169.254", service, &h, res);
	if (strcmp(node, "public.test") == 0)
		return getaddrinfo("8.8.8.8", service, &h, res);
	if (strcmp(node, "mixed.test") == 0) {
		struct addrinfo *a = NULL, *b = NULL;
		if (getaddrinfo("8.8.8.8", service, &h, &a))
			return EAI_FAIL;
		if (getaddrinfo("127.0.0.1", service, &h, &b)) {
			freeaddrinfo(a);
			return EAI_FAIL;
		}
		struct addrinfo *last = a;
		while (last->ai_next)
			last = last->ai_next;
		last->ai_next = b;
		*res = a;
		return 0;
	}
	if (hints->ai_flags & AI_NUMERICHOST)
		return getaddrinfo(node, service, hints, res);
	return EAI_NONAME;
}

static enum claw_rc resolve(json_t *allow, const char *host, unsigned port,
			    char *why)
{
	struct addrinfo *ai = NULL;
	enum claw_rc rc = gw_egress_resolve(allow, host, port, &ai, why, 160);
	if (rc)
		assert_null(ai);
	else
		assert_non_null(ai);
	if (ai)
		freeaddrinfo(ai);
	return rc;
}

static void one_resolution_every_address(void **state)
{
	(void)state;
	char why[160];
	gw_egress_getaddrinfo = fake_resolve;
	json_t *allow =
		json_pack("[s, s, s, s]", "svc.test:5000", "meta.test:80",
			  "public.test:443", "mixed.test:443");
	calls = numeric_host_asked = 0;
	/* a listed name that resolves to loopback: refused, one lookup */
	assert_int_equal(resolve(allow, "svc.test", 5000, why),
			 CLAW_ERR_INVALID);
	assert_string_equal(why, "127.0.0.1 is loopback");
	assert_int_equal(calls, 1);
	/* the metadata service behind an IPv4-mapped answer */
	assert_int_equal(resolve(allow, "meta.test", 80, why),
			 CLAW_ERR_INVALID);
	assert_string_equal(why, "169.254.169.254 is link-local");
	/* one internal address among public ones refuses the name */
	assert_int_equal(resolve(allow, "mixed.test", 443, why),
			 CLAW_ERR_INVALID);
	assert_int_equal(resolve(allow, "public.test", 443, why), CLAW_OK);
	assert_int_equal(resolve(allow, "nowhere.test", 443, why),
			 CLAW_ERR_NOT_FOUND);
	assert_int_equal(calls, 5);
	assert_int_equal(numeric_host_asked, 0);
	/* naming the address explicitly allows it, for that port only */
	json_array_append_new(allow, json_string("127.0.0.1:5000"));
	json_array_append_new(allow, json_string("169.254.0.0/16:80"));
	assert_int_equal(resolve(allow, "svc.test", 5000, why), CLAW_OK);
	assert_int_equal(resolve(allow, "meta.test", 80, why), CLAW_OK);
	assert_int_equal(resolve(allow, "svc.test", 5001, why),
			 CLAW_ERR_INVALID);
	/* an address literal is never sent to DNS */
	assert_int_equal(resolve(allow, "127.0.0.1", 5000, why), CLAW_OK);
	assert_int_equal(numeric_host_asked, 1);
	json_decref(allow);
	gw_egress_getaddrinfo = getaddrinfo;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(entries),
		cmocka_unit_test(names_and_addresses),
		cmocka_unit_test(address_classes),
		cmocka_unit_test(one_resolution_every_address),
	};
	if (sodium_init() < 0)
		return 1;
	claw_log_init("test", CLAW_LOG_ERROR, NULL);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
