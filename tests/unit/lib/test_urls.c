/*
 * test_urls.c - the replicas' URL list (claw/urls.h): parsing (commas,
 * spaces, trailing slashes, the bad ones refused), failover moving on
 * once per failed URL and staying, what counts as worth another replica.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "claw/urls.h"

static void test_parse(void **state)
{
	struct claw_urls u;
	char err[256], big[CLAW_URL_MAX + 20];

	(void)state;
	assert_int_equal(claw_urls_parse(&u,
					 " http://a:1/ , https://b//,"
					 "http://c",
					 err, sizeof(err)),
			 CLAW_OK);
	assert_int_equal(u.n, 3);
	assert_string_equal(u.v[0], "http://a:1");
	assert_string_equal(u.v[1], "https://b");
	assert_string_equal(u.v[2], "http://c");
	claw_urls_release(&u);
	const char *bad[] = {"",        ",",           "ftp://x",
			     "http://", "http://a,,b", "https:// ,http://a"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(claw_urls_parse(&u, bad[i], err, sizeof(err)),
				 CLAW_ERR_INVALID);
		claw_urls_release(&u);
	}
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	memcpy(big, "http://", 7);
	assert_int_equal(claw_urls_parse(&u, big, err, sizeof(err)),
			 CLAW_ERR_INVALID);
	assert_non_null(strstr(err, "must start with http://"));
	claw_urls_release(&u);
	char many[CLAW_URLS_MAX * 12 + 16] = "";
	for (int i = 0; i <= CLAW_URLS_MAX; i++)
		snprintf(many + strlen(many), sizeof(many) - strlen(many),
			 "%shttp://h%d", i ? "," : "", i);
	assert_int_equal(claw_urls_parse(&u, many, err, sizeof(err)),
			 CLAW_ERR_INVALID);
	claw_urls_release(&u);
}

static void test_failover(void **state)
{
	struct claw_urls u;
	char err[256], cur[CLAW_URL_MAX];
	size_t a, b;

	(void)state;
	assert_int_equal(
		claw_urls_parse(&u, "http://a,http://b", err, sizeof(err)),
		CLAW_OK);
	a = claw_urls_get(&u, cur, sizeof(cur));
	assert_string_equal(cur, "http://a");
	b = claw_urls_get(&u, cur, sizeof(cur)); /* another thread, same */
	claw_urls_failed(&u, a);
	claw_urls_failed(&u, b); /* already moved on: stays on b */
	assert_int_equal(claw_urls_get(&u, cur, sizeof(cur)), 1);
	assert_string_equal(cur, "http://b");
	claw_urls_failed(&u, 1); /* round again */
	assert_int_equal(claw_urls_get(&u, cur, sizeof(cur)), 0);
	claw_urls_release(&u);
	assert_int_equal(claw_urls_parse(&u, "http://only", err, sizeof(err)),
			 CLAW_OK);
	claw_urls_failed(&u, 0);
	assert_int_equal(claw_urls_get(&u, cur, sizeof(cur)), 0);
	claw_urls_release(&u);
}

static void test_retryable(void **state)
{
	(void)state;
	assert_true(claw_urls_retryable(CLAW_ERR_IO, 0));
	assert_true(claw_urls_retryable(CLAW_OK, 502));
	assert_true(claw_urls_retryable(CLAW_OK, 503));
	assert_true(claw_urls_retryable(CLAW_OK, 504));
	assert_false(claw_urls_retryable(CLAW_OK, 500));
	assert_false(claw_urls_retryable(CLAW_OK, 200));
	assert_false(claw_urls_retryable(CLAW_OK, 404));
	assert_false(claw_urls_retryable(CLAW_ERR_TIMEOUT, 0));
	assert_false(claw_urls_retryable(CLAW_ERR_TOO_LARGE, 0));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_failover),
		cmocka_unit_test(test_retryable),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
