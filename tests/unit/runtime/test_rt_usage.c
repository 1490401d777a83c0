/*
 * test_rt_usage.c - the runtime's usage counters (runtime/usage.c): the
 * GET /v1/usage document (boot_id, started_at, the tenant's counters since
 * boot, the saved totals), totals that survive a reopen while the counters
 * since boot and the boot_id start again, damaged files, and exact counts
 * from several threads at once.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "claw/crypto.h"
#include "config.h"
#include "rt_test.h"
#include "usage.h"
#include "../testutil.h"

static char dir[256], path[300];

static int setup_dir(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/test_rt_usage.XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/usage.json", dir);
	return 0;
}

static int teardown_dir(void **state)
{
	(void)state;
	nftw(dir, test_rm_one, 16, FTW_DEPTH | FTW_PHYS);
	return 0;
}

static struct rt_usage *open_usage(void)
{
	struct rt_usage *u = NULL;
	assert_int_equal(rt_usage_open(path, "acme", &u), CLAW_OK);
	return u;
}

/* The integer at a path of keys in o (NULL-ended); fails when absent. */
static long long num(json_t *o, ...)
{
	va_list ap;
	va_start(ap, o);
	for (const char *k; (k = va_arg(ap, const char *)) != NULL;)
		o = json_object_get(o, k);
	va_end(ap);
	assert_true(json_is_integer(o));
	return json_integer_value(o);
}

/* got equals the JSON text want. */
static void assert_json_equal(json_t *got, const char *want)
{
	json_error_t jerr;
	json_t *w = json_loads(want, 0, &jerr);
	assert_non_null(w);
	if (!json_equal(got, w)) {
		char *g = json_dumps(got, JSON_SORT_KEYS);
		fail_msg("got %s", g ? g : "(null)");
	}
	json_decref(w);
}

static void test_fresh(void **state)
{
	(void)state;
	struct rt_usage *u = open_usage();
	json_t *j = rt_usage_json(u);
	const char *id = json_string_value(json_object_get(j, "boot_id"));
	assert_non_null(id);
	assert_int_equal(strlen(id), 32);
	assert_int_equal(strspn(id, "0123456789abcdef"), 32);
	assert_string_equal(id, rt_usage_boot_id(u));
	const char *at = json_string_value(json_object_get(j, "started_at"));
	assert_non_null(at);
	assert_int_equal(strlen(at), 20); /* 2026-12-06T10:00:00Z */
	assert_int_equal(at[10], 'T');
	assert_int_equal(at[19], 'Z');
	assert_json_str(j, "tenant", "acme");
	assert_json_str(j, "since", at);
	json_t *tenants = json_object_get(j, "tenants");
	assert_int_equal(json_object_size(tenants), 1);
	json_t *t = json_object_get(tenants, "acme");
	const char *keys[] = {"turns",      "messages_in", "messages_out",
			      "tool_calls", "tool_errors", "turn_ms"};
	for (size_t i = 0; i < 6; i++)
		assert_int_equal(num(t, keys[i], NULL), 0);
	assert_int_equal(json_object_size(json_object_get(t, "providers")), 0);
	assert_int_equal(num(j, "llm_requests", NULL), 0);
	json_decref(j);
	rt_usage_close(u);
}

static void test_counts(void **state)
{
	(void)state;
	struct rt_usage *u = open_usage();
	rt_usage_add(u, "main", 10, 5, true);
	rt_usage_add(u, "main", 3, 0, false);
	rt_usage_add(u, "backup", 7, 2, true);
	rt_usage_add(u, NULL, 1, 1, true);
	rt_usage_turn(u);
	rt_usage_turn(u);
	rt_usage_count(u, RT_USAGE_MESSAGES_IN, 3);
	rt_usage_count(u, RT_USAGE_MESSAGES_OUT, 2);
	rt_usage_count(u, RT_USAGE_TOOL_CALLS, 4);
	rt_usage_count(u, RT_USAGE_TOOL_ERRORS, 1);
	rt_usage_count(u, RT_USAGE_TURN_MS, 250);
	rt_usage_count(u, RT_USAGE_EVENTS, 100); /* not a counter: ignored */
	rt_usage_count(u, (enum rt_usage_event) - 1, 100);
	json_t *j = rt_usage_json(u);
	assert_json_equal(
		json_object_get(j, "tenants"),
		"{\"acme\":{\"turns\":2,\"messages_in\":3,\"messages_out\":2,"
		"\"tool_calls\":4,\"tool_errors\":1,\"turn_ms\":250,"
		"\"providers\":{"
		"\"main\":{\"requests\":2,\"errors\":1,\"input_tokens\":13,"
		"\"output_tokens\":5},"
		"\"backup\":{\"requests\":1,\"errors\":0,\"input_tokens\":7,"
		"\"output_tokens\":2},"
		"\"unknown\":{\"requests\":1,\"errors\":0,\"input_tokens\":1,"
		"\"output_tokens\":1}}}}");
	/* the totals in the older shape */
	json_object_del(j, "tenants");
	json_object_del(j, "boot_id");
	json_object_del(j, "started_at");
	json_object_del(j, "since");
	assert_json_equal(
		j,
		"{\"tenant\":\"acme\",\"turns\":2,\"llm_requests\":4,"
		"\"llm_failures\":1,\"input_tokens\":21,\"output_tokens\":8,"
		"\"providers\":{"
		"\"main\":{\"llm_requests\":2,\"llm_failures\":1,"
		"\"input_tokens\":13,\"output_tokens\":5},"
		"\"backup\":{\"llm_requests\":1,\"llm_failures\":0,"
		"\"input_tokens\":7,\"output_tokens\":2},"
		"\"unknown\":{\"llm_requests\":1,\"llm_failures\":0,"
		"\"input_tokens\":1,\"output_tokens\":1}}}");
	json_decref(j);
	rt_usage_close(u);
}

/* The totals survive; the counters since boot and the boot_id do not. */
static void test_reopen(void **state)
{
	(void)state;
	char first[33];
	struct rt_usage *u = open_usage();
	rt_usage_add(u, "main", 10, 5, true);
	rt_usage_turn(u);
	snprintf(first, sizeof(first), "%s", rt_usage_boot_id(u));
	rt_usage_close(u);
	u = open_usage();
	assert_string_not_equal(rt_usage_boot_id(u), first);
	rt_usage_add(u, "main", 1, 1, true);
	json_t *j = rt_usage_json(u);
	json_t *t = json_object_get(json_object_get(j, "tenants"), "acme");
	assert_int_equal(num(t, "turns", NULL), 0);
	assert_int_equal(num(t, "providers", "main", "requests", NULL), 1);
	assert_int_equal(num(t, "providers", "main", "input_tokens", NULL), 1);
	assert_int_equal(num(j, "turns", NULL), 1);
	assert_int_equal(num(j, "llm_requests", NULL), 2);
	assert_int_equal(num(j, "input_tokens", NULL), 11);
	assert_int_equal(num(j, "providers", "main", "output_tokens", NULL), 6);
	json_decref(j);
	rt_usage_close(u);
	/* the file holds the totals only, never a boot's counters */
	json_error_t jerr;
	j = json_load_file(path, 0, &jerr);
	assert_non_null(j);
	assert_null(json_object_get(j, "boot_id"));
	assert_null(json_object_get(j, "tenants"));
	assert_int_equal(num(j, "llm_requests", NULL), 2);
	json_decref(j);
}

/* A damaged file starts fresh totals; a boot's keys in it are dropped. */
static void test_bad_files(void **state)
{
	(void)state;
	const char *bad[] = {"{not json", "[1,2]", "{\"turns\":5}",
			     "{\"providers\":[],\"turns\":5}"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		rt_test_write(dir, "usage.json", bad[i]);
		struct rt_usage *u = open_usage();
		json_t *j = rt_usage_json(u);
		assert_int_equal(num(j, "turns", NULL), 0);
		json_decref(j);
		rt_usage_close(u);
	}
	rt_test_write(dir, "usage.json",
		      "{\"since\":\"2026-01-01T00:00:00Z\",\"turns\":7,"
		      "\"tenant\":\"other\",\"boot_id\":\"0000\","
		      "\"started_at\":\"x\",\"tenants\":{\"other\":{}},"
		      "\"providers\":{\"p\":{\"llm_requests\":\"x\"}}}");
	struct rt_usage *u = open_usage();
	rt_usage_add(u, "p", 1, 1, true);
	json_t *j = rt_usage_json(u);
	assert_int_equal(num(j, "turns", NULL), 7);
	assert_json_str(j, "since", "2026-01-01T00:00:00Z");
	assert_json_str(j, "tenant", "acme");
	assert_string_equal(json_string_value(json_object_get(j, "boot_id")),
			    rt_usage_boot_id(u));
	json_t *tenants = json_object_get(j, "tenants");
	assert_int_equal(json_object_size(tenants), 1);
	assert_null(json_object_get(tenants, "other"));
	/* a non-integer counter counts from 0 */
	assert_int_equal(num(j, "providers", "p", "llm_requests", NULL), 1);
	json_decref(j);
	rt_usage_close(u);
}

#define THREADS 4
#define PER_THREAD 20000

static void *hammer(void *arg)
{
	struct rt_usage *u = arg;
	for (int i = 0; i < PER_THREAD; i++) {
		rt_usage_add(u, i % 2 ? "a" : "b", 2, 1, i % 10 != 0);
		rt_usage_turn(u);
		rt_usage_count(u, RT_USAGE_TOOL_CALLS, 1);
		if (i % 1000 == 0)
			json_decref(rt_usage_json(u));
	}
	return NULL;
}

/* Counts from several threads at once are exact. */
static void test_threads(void **state)
{
	(void)state;
	pthread_t th[THREADS];
	struct rt_usage *u = open_usage();
	for (int i = 0; i < THREADS; i++)
		assert_int_equal(pthread_create(&th[i], NULL, hammer, u), 0);
	for (int i = 0; i < THREADS; i++)
		pthread_join(th[i], NULL);
	json_t *j = rt_usage_json(u);
	json_t *t = json_object_get(json_object_get(j, "tenants"), "acme");
	long long n = (long long)THREADS * PER_THREAD;
	assert_int_equal(num(t, "turns", NULL), n);
	assert_int_equal(num(t, "tool_calls", NULL), n);
	assert_int_equal(num(t, "providers", "a", "requests", NULL), n / 2);
	assert_int_equal(num(t, "providers", "b", "requests", NULL), n / 2);
	assert_int_equal(num(t, "providers", "b", "errors", NULL), n / 10);
	assert_int_equal(num(t, "providers", "a", "input_tokens", NULL), n);
	assert_int_equal(num(j, "llm_requests", NULL), n);
	assert_int_equal(num(j, "output_tokens", NULL), n);
	json_decref(j);
	rt_usage_close(u);
	json_error_t jerr;
	j = json_load_file(path, 0, &jerr); /* saved at close */
	assert_int_equal(num(j, "llm_requests", NULL), n);
	assert_int_equal(num(j, "turns", NULL), n);
	json_decref(j);
}

int main(void)
{
	assert_int_equal(claw_crypto_init(), 0);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_fresh, setup_dir,
						teardown_dir),
		cmocka_unit_test_setup_teardown(test_counts, setup_dir,
						teardown_dir),
		cmocka_unit_test_setup_teardown(test_reopen, setup_dir,
						teardown_dir),
		cmocka_unit_test_setup_teardown(test_bad_files, setup_dir,
						teardown_dir),
		cmocka_unit_test_setup_teardown(test_threads, setup_dir,
						teardown_dir),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
