/*
 * test_listen.c - a server's listen address (claw/listen.h): IPv4 and
 * IPv6 with their sizes and ports, port 0, and the bad ones refused with
 * the address quoted (names, no port, a port out of range, brackets
 * unclosed, a host too long).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <cmocka.h>

#include "claw/listen.h"

static void test_good(void **state)
{
	struct sockaddr_storage ss;
	socklen_t len = 0;
	char err[256] = "";

	(void)state;
	assert_int_equal(
		claw_listen_addr("127.0.0.1:7070", &ss, &len, err, sizeof(err)),
		0);
	assert_int_equal(ss.ss_family, AF_INET);
	assert_int_equal(len, sizeof(struct sockaddr_in));
	assert_int_equal(ntohs(((struct sockaddr_in *)&ss)->sin_port), 7070);
	assert_int_equal(
		claw_listen_addr("[::1]:0", &ss, &len, err, sizeof(err)), 0);
	assert_int_equal(ss.ss_family, AF_INET6);
	assert_int_equal(len, sizeof(struct sockaddr_in6));
	assert_int_equal(ntohs(((struct sockaddr_in6 *)&ss)->sin6_port), 0);
	assert_string_equal(err, "");
}

static void test_bad(void **state)
{
	static const char *bad[] = {
		"localhost:80", "127.0.0.1", "127.0.0.1:", "127.0.0.1:65536",
		"1.2.3.4:-1",   "[::1:80",   "[::1]x:80",  "::1:80",
		"1.2.3.4:80x",  ":80",       "[zz]:1",     ""};
	struct sockaddr_storage ss;
	socklen_t len;
	char err[256], big[300];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		assert_int_equal(
			claw_listen_addr(bad[i], &ss, &len, err, sizeof(err)),
			-1);
		assert_non_null(strstr(err, "invalid listen address"));
	}
	memset(big, 'a', sizeof(big));
	memcpy(big + sizeof(big) - 4, ":80", 4);
	assert_int_equal(claw_listen_addr(big, &ss, &len, err, sizeof(err)),
			 -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_bad),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
