/*
 * test_na_drain.c - the old pair's way out of a blue/green redeploy
 * (node-agent/drain.h), as tables: a live old gateway is probed; one
 * found dead while the tenant is to run is started once (never twice,
 * never for a suspended tenant), and one that stops again after that is
 * not waited for but reported when its journal was not seen empty
 * (finding 3 of docs/reliability.md); depths: 0 and "no gauge" are done,
 * a journal not empty in time is reported, anything else is read again;
 * and how a redeploy begins: beside a pair that serves, after any
 * operation in flight on it (finding 17).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "drain.h"

struct next_case {
	bool exists, running, has_ip, revived, serving;
	long depth;
	enum na_drain_act want;
};

static void test_next(void **state)
{
	(void)state;
	static const struct next_case cases[] = {
		/* a live old gateway is read, suspended meanwhile or not */
		{true, true, true, false, true, -1, NA_DRAIN_PROBE},
		{true, true, true, true, true, 2, NA_DRAIN_PROBE},
		{true, true, true, false, false, 3, NA_DRAIN_PROBE},
		/* found dead: started, whatever it said before */
		{true, false, false, false, true, -1, NA_DRAIN_REVIVE},
		{true, false, true, false, true, 2, NA_DRAIN_REVIVE},
		/* dead again after that start: not started twice, reported */
		{true, false, true, true, true, 2, NA_DRAIN_LEFT},
		{true, false, false, true, true, -1, NA_DRAIN_LEFT},
		/* ... unless its journal was seen empty, or it has no gauge */
		{true, false, true, true, true, 0, NA_DRAIN_DONE},
		{true, false, true, true, true, -2, NA_DRAIN_DONE},
		/* running but unreachable (no address), started by us or
		 * found so: reported too, never retired in silence */
		{true, true, false, true, true, 5, NA_DRAIN_LEFT},
		{true, true, false, false, true, -1, NA_DRAIN_LEFT},
		{true, true, false, false, false, 3, NA_DRAIN_LEFT},
		{true, true, false, false, true, 0, NA_DRAIN_DONE},
		/* a tenant not to run: its old pair is not started */
		{true, false, true, false, false, -1, NA_DRAIN_DONE},
		/* gone: its volume is all there is */
		{false, false, false, false, true, -1, NA_DRAIN_DONE},
		{false, false, false, true, true, 4, NA_DRAIN_DONE},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct next_case *c = &cases[i];
		assert_int_equal(na_drain_next(c->exists, c->running, c->has_ip,
					       c->revived, c->serving,
					       c->depth),
				 c->want);
	}
}

/* How a redeploy begins: an operation in flight on the pair (a restart
 * after a kill) is waited for, never a reason to replace the other role
 * in place (finding 17). */
static void test_bluegreen_start(void **state)
{
	(void)state;
	static const struct {
		bool stale, busy, serving;
		enum na_bg_act want;
	} cases[] = {
		{false, false, true, NA_BG_NONE}, /* up to date */
		{false, true, true, NA_BG_NONE},
		{true, false, true, NA_BG_BEGIN},
		{true, true, true, NA_BG_WAIT}, /* finding 17 */
		/* nothing serves: replaced in place, as before */
		{true, true, false, NA_BG_NONE},
		{true, false, false, NA_BG_NONE},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_int_equal(na_bluegreen_start(cases[i].stale,
						    cases[i].busy,
						    cases[i].serving),
				 cases[i].want);
}

static void test_depths(void **state)
{
	(void)state;
	static const struct {
		long depth;
		double waited;
		enum na_drain_act want;
	} cases[] = {
		{0, 1, NA_DRAIN_DONE},    {-2, 1, NA_DRAIN_DONE},
		{2, 1, NA_DRAIN_WAIT},    {-1, 1, NA_DRAIN_WAIT},
		{2, 300, NA_DRAIN_WAIT},  {2, 300.5, NA_DRAIN_LEFT},
		{-1, 301, NA_DRAIN_LEFT}, {0, 301, NA_DRAIN_DONE},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_int_equal(
			na_drain_depth(cases[i].depth, cases[i].waited, 300),
			cases[i].want);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_next),
		cmocka_unit_test(test_depths),
		cmocka_unit_test(test_bluegreen_start),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
