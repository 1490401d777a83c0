/*
 * test_na_ready.c - the readiness window and the runtime's start gate
 * (node-agent/ready.h) on a fake clock: healthy only after both roles
 * stayed ready for min_ready_ms, a role dropping out restarts the window
 * (before and after it passed), the wake-up time handed back, a window of
 * 0, and the gate that holds the runtime until the gateway's proxy
 * answers, bounded.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "ready.h"

#define T0 1000.0 /* the fake clock's start, seconds */

static void test_healthy_only_after_the_window(void **state)
{
	(void)state;
	struct na_ready w;
	double due = T0 + 100;
	na_ready_clear(&w);
	/* Not ready: never healthy, no wake-up asked. */
	assert_false(na_ready_step(&w, false, true, 2000, T0, &due));
	assert_true(due == T0 + 100);
	assert_false(na_ready_step(&w, true, false, 2000, T0 + 1, &due));
	assert_int_equal(w.resets, 0);
	/* Both ready at T0+2: the window runs to T0+4. */
	assert_false(na_ready_step(&w, true, true, 2000, T0 + 2, &due));
	assert_true(due == T0 + 4);
	assert_false(na_ready_step(&w, true, true, 2000, T0 + 3.999, &due));
	assert_true(na_ready_step(&w, true, true, 2000, T0 + 4, &due));
	assert_true(na_ready_step(&w, true, true, 2000, T0 + 50, NULL));
	assert_int_equal(w.resets, 0);
}

static void test_a_drop_restarts_the_window(void **state)
{
	(void)state;
	struct na_ready w;
	na_ready_clear(&w);
	assert_false(na_ready_step(&w, true, true, 2000, T0, NULL));
	assert_false(na_ready_step(&w, true, true, 2000, T0 + 1.5, NULL));
	/* The runtime drops out inside the window ... */
	assert_false(na_ready_step(&w, true, false, 2000, T0 + 1.9, NULL));
	assert_int_equal(w.resets, 1);
	/* ... so the old start no longer counts. */
	assert_false(na_ready_step(&w, true, true, 2000, T0 + 2.0, NULL));
	assert_false(na_ready_step(&w, true, true, 2000, T0 + 3.9, NULL));
	assert_true(na_ready_step(&w, true, true, 2000, T0 + 4.0, NULL));
	/* After it passed: a drop makes the pair not healthy, and a full
	 * window again is needed. */
	assert_false(na_ready_step(&w, false, true, 2000, T0 + 10, NULL));
	assert_int_equal(w.resets, 2);
	assert_false(na_ready_step(&w, true, true, 2000, T0 + 11, NULL));
	assert_false(na_ready_step(&w, true, true, 2000, T0 + 12.5, NULL));
	assert_true(na_ready_step(&w, true, true, 2000, T0 + 13, NULL));
	/* Staying out counts once. */
	assert_false(na_ready_step(&w, false, false, 2000, T0 + 14, NULL));
	assert_false(na_ready_step(&w, false, false, 2000, T0 + 15, NULL));
	assert_int_equal(w.resets, 3);
}

static void test_flapping_never_gets_healthy(void **state)
{
	(void)state;
	struct na_ready w;
	na_ready_clear(&w);
	/* Ready 1 s, out 0.5 s, for a minute: never 2 s in a row. */
	for (int i = 0; i < 40; i++) {
		double t = T0 + i * 1.5;
		assert_false(na_ready_step(&w, true, true, 2000, t, NULL));
		assert_false(
			na_ready_step(&w, true, true, 2000, t + 0.99, NULL));
		assert_false(
			na_ready_step(&w, true, false, 2000, t + 1.0, NULL));
	}
	assert_int_equal(w.resets, 40);
	/* It stops flapping: healthy a full window later. */
	assert_false(na_ready_step(&w, true, true, 2000, T0 + 60, NULL));
	assert_true(na_ready_step(&w, true, true, 2000, T0 + 62, NULL));
}

static void test_zero_window(void **state)
{
	(void)state;
	struct na_ready w;
	double due = T0 + 100;
	na_ready_clear(&w);
	assert_true(na_ready_step(&w, true, true, 0, T0, &due));
	assert_true(due == T0 + 100);
	assert_false(na_ready_step(&w, true, false, 0, T0 + 1, &due));
	na_ready_clear(&w);
	assert_false(w.ready || w.healthy || w.resets);
}

static void test_gate_waits_for_the_proxy_bounded(void **state)
{
	(void)state;
	double since = 0;
	assert_int_equal(na_gate_runtime(false, &since, 5000, T0),
			 NA_GATE_WAIT);
	assert_true(since == T0);
	assert_int_equal(na_gate_runtime(false, &since, 5000, T0 + 4.9),
			 NA_GATE_WAIT);
	assert_int_equal(na_gate_runtime(false, &since, 5000, T0 + 5),
			 NA_GATE_TIMEOUT);
	assert_int_equal(na_gate_runtime(false, &since, 5000, T0 + 9),
			 NA_GATE_TIMEOUT);
	/* The proxy answers late: open, and the wait is forgotten. */
	assert_int_equal(na_gate_runtime(true, &since, 5000, T0 + 10),
			 NA_GATE_OPEN);
	assert_true(since == 0);
	assert_int_equal(na_gate_runtime(false, &since, 5000, T0 + 20),
			 NA_GATE_WAIT);
	assert_true(since == T0 + 20);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_healthy_only_after_the_window),
		cmocka_unit_test(test_a_drop_restarts_the_window),
		cmocka_unit_test(test_flapping_never_gets_healthy),
		cmocka_unit_test(test_zero_window),
		cmocka_unit_test(test_gate_waits_for_the_proxy_bounded),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
