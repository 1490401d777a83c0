/*
 * test_na_purge.c - forgetting a purged tenant (node-agent/purge.h): what
 * to do for a purged slug (an assigned slug is never touched; a tenant
 * still here is waited for; a running purge is not started twice; done is
 * done), the desired state's "purged" (tenant names, each once, an array
 * of a bounded size; absent is none), and the release of the tenant's uid
 * (free again for any tenant; other tenants keep theirs).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "desired.h"
#include "purge.h"
#include "uids.h"

#define BASE 2000000000L

static void test_step(void **state)
{
	(void)state;
	/* assigned wins over everything: never touched */
	assert_int_equal(na_purge_step(true, true, true, false),
			 NA_PURGE_ASSIGNED);
	assert_int_equal(na_purge_step(true, false, false, true),
			 NA_PURGE_ASSIGNED);
	assert_int_equal(na_purge_step(false, false, false, true),
			 NA_PURGE_DONE);
	/* still here (being undeployed), or its purge runs: wait */
	assert_int_equal(na_purge_step(false, true, false, false),
			 NA_PURGE_WAIT);
	assert_int_equal(na_purge_step(false, false, true, false),
			 NA_PURGE_WAIT);
	assert_int_equal(na_purge_step(false, false, false, false),
			 NA_PURGE_RUN);
}

static enum claw_rc parse(const char *text, struct na_desired *d, char *msg,
			  size_t len)
{
	return na_desired_parse(d, text, strlen(text), msg, len);
}

static void test_desired_purged(void **state)
{
	(void)state;
	struct na_desired d;
	char msg[256];

	assert_int_equal(parse("{\"tenants\": []}", &d, msg, sizeof(msg)),
			 CLAW_OK);
	assert_null(d.purged);
	na_desired_release(&d);
	assert_int_equal(
		parse("{\"tenants\": [], \"purged\": [\"a\", \"b-1\"]}", &d,
		      msg, sizeof(msg)),
		CLAW_OK);
	assert_int_equal(json_array_size(d.purged), 2);
	na_desired_release(&d);

	const char *bad[] = {
		"{\"tenants\": [], \"purged\": \"a\"}",
		"{\"tenants\": [], \"purged\": [1]}",
		"{\"tenants\": [], \"purged\": [\"A\"]}",
		"{\"tenants\": [], \"purged\": [\"../x\"]}",
		"{\"tenants\": [], \"purged\": [\"-a\"]}",
		"{\"tenants\": [], \"purged\": [\"\"]}",
		"{\"tenants\": [], \"purged\": [\"a\", \"a\"]}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(parse(bad[i], &d, msg, sizeof(msg)),
				 CLAW_ERR_INVALID);
		assert_non_null(strstr(msg, "purged"));
		na_desired_release(&d);
	}

	/* more than 10000 names */
	json_t *doc = json_pack("{s:[], s:[]}", "tenants", "purged");
	json_t *arr = json_object_get(doc, "purged");
	char name[32];
	for (int i = 0; i <= 10000; i++) {
		snprintf(name, sizeof(name), "t%d", i);
		json_array_append_new(arr, json_string(name));
	}
	assert_int_equal(na_desired_from_json(&d, doc, msg, sizeof(msg)),
			 CLAW_ERR_INVALID);
	na_desired_release(&d);
	json_array_remove(arr, 0);
	assert_int_equal(na_desired_from_json(&d, doc, msg, sizeof(msg)),
			 CLAW_OK);
	na_desired_release(&d);
	json_decref(doc);
}

static void test_uid_forget(void **state)
{
	(void)state;
	struct na_uids u;
	na_uids_init(&u, BASE, 2);
	unsigned long a = na_uids_for(&u, "gone");
	unsigned long b = na_uids_for(&u, "keep");
	assert_int_not_equal(a, 0);
	assert_int_not_equal(b, 0);
	/* the range is full */
	assert_int_equal(na_uids_for(&u, "new"), 0);
	/* a label of another node's tenant on the engine holds a uid too */
	na_uids_forget(&u, "gone");
	assert_int_equal(na_uids_for(&u, "new"), a); /* free again */
	assert_int_equal(na_uids_for(&u, "keep"), b);
	/* forgetting what is not there is a no-op */
	na_uids_forget(&u, "never");
	assert_int_equal(na_uids_for(&u, "keep"), b);
	assert_int_equal(na_uids_for(&u, "new"), a);
	/* a purged tenant of another node, seen by its label only */
	na_uids_release(&u);
	na_uids_init(&u, BASE, 2);
	na_uids_note(&u, "other", "2000000000", false);
	assert_int_equal(na_uids_for(&u, "x"), 2000000001);
	assert_int_equal(na_uids_for(&u, "y"), 0);
	na_uids_forget(&u, "other");
	assert_int_equal(na_uids_for(&u, "y"), 2000000000);
	na_uids_release(&u);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_step),
		cmocka_unit_test(test_desired_purged),
		cmocka_unit_test(test_uid_forget),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
