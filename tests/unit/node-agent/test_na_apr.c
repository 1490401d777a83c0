/*
 * test_na_apr.c - the approvals audit feed as the node agent reads it
 * (approval_audit.h, na_apr_events): a pending record is one request
 * event, a decided or expired one a request and a decision; only the
 * fields the control plane takes are copied (never arguments or a
 * reply); the cursor moves to the newest rev; a feed whose rev is below
 * the cursor is read again from the start; a malformed record is skipped
 * (the cursor passes it); a malformed feed is refused (the cursor stays).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <string.h>

#include "approval_audit.h"

static json_t *events(const char *feed, long long after, long long *next,
		      bool *more, size_t *skipped)
{
	char err[200];
	json_t *f = json_loads(feed, JSON_ALLOW_NUL, NULL), *ev;

	assert_non_null(f);
	err[0] = '\0';
	ev = na_apr_events("acme", f, after, next, more, skipped, err,
			   sizeof(err));
	json_decref(f);
	assert_true(ev || err[0]);
	return ev;
}

static const char *s(json_t *o, const char *k)
{
	const char *v = json_string_value(json_object_get(o, k));
	return v ? v : "";
}

static void test_events(void **state)
{
	long long next;
	bool more;
	size_t skipped;
	json_t *ev, *e;

	(void)state;
	ev = events("{\"changes\":[{\"id\":\"apr_1\",\"rev\":11,\"tool\":"
		    "\"shop/pay\",\"category\":\"payment\",\"channel\":"
		    "\"telegram\",\"sender\":\"42\",\"state\":\"pending\","
		    "\"created\":100,\"expires\":200,\"arguments\":{\"k\":"
		    "\"secret\"}},"
		    "{\"id\":\"apr_2\",\"rev\":12,\"tool\":\"t\",\"channel\":"
		    "\"\",\"state\":\"denied\",\"decided_by\":\"chat:web:u\","
		    "\"created\":100,\"decided_at\":150,\"reply\":\"x\"}],"
		    "\"rev\":12,\"more\":true}",
		    10, &next, &more, &skipped);
	assert_non_null(ev);
	assert_int_equal(next, 12);
	assert_true(more);
	assert_int_equal(skipped, 0);
	assert_int_equal(json_array_size(ev), 3);
	e = json_array_get(ev, 0);
	assert_string_equal(s(e, "event"), "request");
	assert_string_equal(s(e, "tenant"), "acme");
	assert_string_equal(s(e, "approval"), "apr_1");
	assert_string_equal(s(e, "category"), "payment");
	assert_string_equal(s(e, "sender"), "42");
	assert_int_equal(json_integer_value(json_object_get(e, "at")), 100);
	assert_int_equal(json_integer_value(json_object_get(e, "expires")),
			 200);
	e = json_array_get(ev, 1);
	assert_string_equal(s(e, "event"), "request");
	assert_null(json_object_get(e, "channel")); /* "" left out */
	e = json_array_get(ev, 2);
	assert_string_equal(s(e, "event"), "decision");
	assert_string_equal(s(e, "decision"), "denied");
	assert_string_equal(s(e, "decided_by"), "chat:web:u");
	assert_int_equal(json_integer_value(json_object_get(e, "at")), 150);
	char *text = json_dumps(ev, 0);
	assert_null(strstr(text, "secret"));
	assert_null(strstr(text, "arguments"));
	assert_null(strstr(text, "reply"));
	free(text);
	json_decref(ev);
}

static void test_cursor(void **state)
{
	long long next;
	bool more;
	size_t skipped;
	json_t *ev;

	(void)state;
	/* nothing new: the cursor stays */
	ev = events("{\"changes\":[],\"rev\":12,\"more\":false}", 12, &next,
		    &more, &skipped);
	assert_int_equal(json_array_size(ev), 0);
	assert_int_equal(next, 12);
	assert_false(more);
	json_decref(ev);
	/* a new store (rev below the cursor): from the start again */
	ev = events("{\"changes\":[],\"rev\":3}", 12, &next, &more, &skipped);
	assert_int_equal(json_array_size(ev), 0);
	assert_int_equal(next, 0);
	assert_true(more);
	json_decref(ev);
	/* a malformed record is skipped, its rev passed */
	ev = events("{\"changes\":[{\"id\":\"apr_x\",\"rev\":13,\"tool\":"
		    "\"t\",\"state\":\"approved\",\"created\":1},"
		    "{\"id\":\"../x\",\"rev\":14,\"tool\":\"t\",\"state\":"
		    "\"pending\",\"created\":1},"
		    "{\"id\":\"apr_y\",\"rev\":15,\"tool\":\"a\\u0000b\","
		    "\"state\":\"pending\",\"created\":1},"
		    "{\"id\":\"apr_z\",\"rev\":16,\"tool\":\"t\",\"state\":"
		    "\"maybe\",\"created\":1}],\"rev\":16}",
		    12, &next, &more, &skipped);
	assert_int_equal(json_array_size(ev), 0);
	assert_int_equal(skipped, 4);
	assert_int_equal(next, 16);
	json_decref(ev);
}

static void test_malformed_feed(void **state)
{
	static const char *const feeds[] = {
		"{}",
		"{\"changes\":{},\"rev\":1}",
		"{\"changes\":[],\"rev\":\"1\"}",
		"{\"changes\":[],\"rev\":-1}",
		"{\"changes\":[],\"rev\":1,\"more\":1}",
		/* a rev at or before the cursor */
		"{\"changes\":[{\"id\":\"apr_1\",\"rev\":5}],\"rev\":9}",
		"{\"changes\":[{\"id\":\"apr_1\"}],\"rev\":9}",
	};
	long long next;
	bool more;
	size_t skipped;

	(void)state;
	for (size_t i = 0; i < sizeof(feeds) / sizeof(feeds[0]); i++) {
		assert_null(events(feeds[i], 5, &next, &more, &skipped));
		assert_int_equal(next, 5);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_events),
		cmocka_unit_test(test_cursor),
		cmocka_unit_test(test_malformed_feed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
