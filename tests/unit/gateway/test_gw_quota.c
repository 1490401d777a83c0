/*
 * test_gw_quota.c - the quota arithmetic of quota.c: the control plane's
 * figure plus the turns forwarded since, a new figure restarting the
 * local count, the UTC day's rollover (a stale figure counts for nothing
 * after its resets_at), tokens from the figure only, the state line that
 * carries the count over a restart, and the config's "quota" refusals.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "gw.h"

#define DAY 86400LL
#define T0 (20000 * DAY) /* a UTC midnight */

static struct gw_quota_conf conf(long long turns, long long used,
				 long long tokens, long long tok_used)
{
	struct gw_quota_conf qc = {
		.turns = {turns, used, T0 + DAY},
		.tokens = {tokens, tok_used, T0 + 30 * DAY},
		.message = "out",
	};
	return qc;
}

/* Count a turn the way gw_quota_admit does: refuse or count. */
static bool admit(const struct gw_quota_conf *qc, struct gw_quota_count *q,
		  long long now)
{
	gw_quota_rebase(q, &qc->turns, now);
	if (gw_quota_check(qc, q, now)) {
		q->refusals++;
		return false;
	}
	gw_quota_count_turn(q, now);
	return true;
}

static void test_local_count(void **state)
{
	(void)state;
	struct gw_quota_conf qc = conf(2, 0, -1, 0);
	struct gw_quota_count q = {0};
	long long now = T0 + 3600;
	assert_true(admit(&qc, &q, now));
	assert_true(admit(&qc, &q, now + 1));
	assert_false(admit(&qc, &q, now + 2));
	assert_string_equal(gw_quota_check(&qc, &q, now + 2), "turns_per_day");
	assert_int_equal(q.refusals, 1);
	/* the same figure again (a reload): the local count stays */
	gw_quota_rebase(&q, &qc.turns, now + 3);
	assert_int_equal(gw_quota_turns_used(&q, now + 3), 2);
	/* a raised limit with the reported figure: used 2, one more each */
	qc = conf(5, 2, -1, 0);
	assert_true(admit(&qc, &q, now + 4));
	assert_int_equal(gw_quota_turns_used(&q, now + 4), 3);
	assert_true(admit(&qc, &q, now + 5));
	assert_true(admit(&qc, &q, now + 6));
	assert_false(admit(&qc, &q, now + 7));
}

static void test_day_rollover(void **state)
{
	(void)state;
	struct gw_quota_conf qc = conf(2, 2, -1, 0);
	struct gw_quota_count q = {0};
	assert_false(admit(&qc, &q, T0 + 100));
	/* past resets_at the stale figure counts nothing: a new day */
	assert_true(admit(&qc, &q, T0 + DAY + 5));
	assert_true(admit(&qc, &q, T0 + DAY + 6));
	assert_false(admit(&qc, &q, T0 + DAY + 7));
	assert_int_equal(gw_quota_turns_used(&q, T0 + DAY + 7), 2);
	/* and the day after, again */
	assert_int_equal(gw_quota_turns_used(&q, T0 + 2 * DAY), 0);
	/* the next day's figure arrives: counted from it */
	qc.turns = (struct gw_quota_lim){2, 1, T0 + 2 * DAY};
	assert_true(admit(&qc, &q, T0 + DAY + 8));
	assert_false(admit(&qc, &q, T0 + DAY + 9));
}

static void test_tokens(void **state)
{
	(void)state;
	struct gw_quota_conf qc = conf(-1, 0, 1000, 999);
	struct gw_quota_count q = {0};
	assert_null(gw_quota_check(&qc, &q, T0));
	qc.tokens.used = 1000;
	assert_string_equal(gw_quota_check(&qc, &q, T0), "tokens_per_month");
	/* a new month: the figure is stale */
	assert_null(gw_quota_check(&qc, &q, T0 + 30 * DAY));
	/* a limit of 0 refuses at once */
	qc = conf(0, 0, -1, 0);
	assert_string_equal(gw_quota_check(&qc, &q, T0), "turns_per_day");
}

static void test_restart(void **state)
{
	(void)state;
	struct gw_quota_conf qc = conf(3, 1, -1, 0);
	struct gw_quota_count q = {0}, back = {0};
	char line[160];
	assert_true(admit(&qc, &q, T0 + 10));
	gw_quota_count_text(&q, line, sizeof(line));
	assert_true(gw_quota_count_parse(line, &back));
	/* the restarted gateway sees the same figure: no reset */
	assert_true(admit(&qc, &back, T0 + 11));
	assert_false(admit(&qc, &back, T0 + 12));
	assert_int_equal(back.refusals, 1);
	assert_false(gw_quota_count_parse("v1 1 2 3", &back));
	assert_false(gw_quota_count_parse("v1 1 2 -3 4 5", &back));
	assert_false(gw_quota_count_parse("v1 1 2 3 4 5 6", &back));
	assert_false(gw_quota_count_parse(NULL, &back));
}

static void conf_refused(const char *text)
{
	json_t *o = json_loads(text, 0, NULL);
	struct gw_quota_conf qc;
	char err[256] = "";
	assert_non_null(o);
	assert_int_equal(gw_quota_conf_parse(o, &qc, err, sizeof(err)),
			 CLAW_ERR_INVALID);
	assert_non_null(strstr(err, "quota"));
	json_decref(o);
}

static void test_conf(void **state)
{
	(void)state;
	struct gw_quota_conf qc;
	char err[256];
	json_t *o = json_loads(
		"{\"turns_per_day\": {\"limit\": 2, \"used\": 1, "
		"\"resets_at\": \"2026-12-07T00:00:00Z\"}, "
		"\"tokens_per_month\": null, \"message\": \"No more today.\"}",
		0, NULL);
	assert_int_equal(gw_quota_conf_parse(o, &qc, err, sizeof(err)),
			 CLAW_OK);
	assert_int_equal(qc.turns.limit, 2);
	assert_int_equal(qc.turns.used, 1);
	assert_int_equal(qc.turns.resets_at, 1796601600LL);
	assert_int_equal(qc.tokens.limit, -1);
	assert_string_equal(qc.message, "No more today.");
	json_decref(o);
	assert_int_equal(gw_quota_conf_parse(NULL, &qc, err, sizeof(err)),
			 CLAW_OK);
	assert_int_equal(qc.turns.limit, -1);
	assert_string_equal(qc.message, gw_quota_default_message);
	conf_refused("[]");
	conf_refused("{\"turns_per_day\": {\"limit\": -1, \"used\": 0, "
		     "\"resets_at\": \"2026-12-07T00:00:00Z\"}}");
	conf_refused("{\"turns_per_day\": {\"limit\": \"2\", \"used\": 0, "
		     "\"resets_at\": \"2026-12-07T00:00:00Z\"}}");
	conf_refused("{\"turns_per_day\": 2}");
	conf_refused("{\"tokens_per_month\": {\"limit\": 2, \"used\": 0, "
		     "\"resets_at\": \"soon\"}}");
	conf_refused("{\"message\": \"\"}");
	conf_refused("{\"other\": 1}");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_local_count),
		cmocka_unit_test(test_day_rollover),
		cmocka_unit_test(test_tokens),
		cmocka_unit_test(test_restart),
		cmocka_unit_test(test_conf),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
