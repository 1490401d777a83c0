/*
 * test_na_threads.c - every thread start of the node agent is checked:
 * pthread_create is wrapped (-Wl,--wrap) so that a chosen call fails as it
 * does when the node is out of threads (EAGAIN). Starting the agent's
 * threads is all or none (those started are stopped and joined, the error
 * comes back), a worker pool that cannot get all its workers fails whole,
 * and a detached start reports its failure.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#define NA_THREADS_IMPL /* this file calls pthread_create's wrapper */
#include "pool.h"
#include "threads.h"

int __real_pthread_create(pthread_t *th, const pthread_attr_t *at,
			  void *(*fn)(void *), void *arg);
int __wrap_pthread_create(pthread_t *th, const pthread_attr_t *at,
			  void *(*fn)(void *), void *arg);

static atomic_int calls, fail_at; /* fail_at: 1-based call that fails */

int __wrap_pthread_create(pthread_t *th, const pthread_attr_t *at,
			  void *(*fn)(void *), void *arg)
{
	if (atomic_fetch_add(&calls, 1) + 1 == atomic_load(&fail_at))
		return EAGAIN;
	return __real_pthread_create(th, at, fn, arg);
}

static void fail_call(int n)
{
	atomic_store(&calls, 0);
	atomic_store(&fail_at, n);
}

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static bool stop;
static int running, finished;

static void *waiter(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&mu);
	running++;
	while (!stop)
		pthread_cond_wait(&cond, &mu);
	finished++;
	pthread_mutex_unlock(&mu);
	return NULL;
}

static int stops;

static void stop_all(void *cls)
{
	(void)cls;
	pthread_mutex_lock(&mu);
	stop = true;
	stops++;
	pthread_cond_broadcast(&cond);
	pthread_mutex_unlock(&mu);
}

static void reset(void)
{
	stop = false;
	running = finished = stops = 0;
}

static const struct na_thread_def defs[3] = {
	{"first", waiter, NULL},
	{"second", waiter, NULL},
	{"third", waiter, NULL},
};

static void test_all_or_none(void **state)
{
	(void)state;
	pthread_t th[3];
	/* The third cannot start: the two that did are stopped and joined
	 * before the call returns. */
	reset();
	fail_call(3);
	assert_int_equal(na_threads_start_all(defs, 3, th, stop_all, NULL),
			 CLAW_ERR_NOMEM);
	assert_int_equal(stops, 1);
	assert_int_equal(finished, 2);
	/* The first cannot start: nothing to join. */
	reset();
	fail_call(1);
	assert_int_equal(na_threads_start_all(defs, 3, th, stop_all, NULL),
			 CLAW_ERR_NOMEM);
	assert_int_equal(finished, 0);
	/* All start: all run until stopped. */
	reset();
	fail_call(0);
	assert_int_equal(na_threads_start_all(defs, 3, th, stop_all, NULL),
			 CLAW_OK);
	assert_int_equal(stops, 0);
	stop_all(NULL);
	for (int i = 0; i < 3; i++)
		pthread_join(th[i], NULL);
	assert_int_equal(finished, 3);
}

static void noop_done(struct na_job *j, void *cls)
{
	(void)j;
	(void)cls;
}

static void test_pool(void **state)
{
	(void)state;
	struct na_pool p;
	fail_call(4);
	assert_int_equal(na_pool_start(&p, 8, noop_done, NULL), CLAW_ERR_NOMEM);
	assert_int_equal(p.n, 0); /* the three started are joined */
	fail_call(0);
	assert_int_equal(na_pool_start(&p, 8, noop_done, NULL), CLAW_OK);
	assert_int_equal(p.n, 8);
	assert_null(na_pool_stop(&p));
}

static void *nothing(void *arg)
{
	return arg;
}

static void test_detached(void **state)
{
	(void)state;
	fail_call(1);
	errno = 0;
	assert_int_equal(na_thread_start_detached(nothing, NULL),
			 CLAW_ERR_NOMEM);
	assert_int_equal(errno, EAGAIN);
	fail_call(0);
	assert_int_equal(na_thread_start_detached(nothing, NULL), CLAW_OK);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_all_or_none),
		cmocka_unit_test(test_pool),
		cmocka_unit_test(test_detached),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
