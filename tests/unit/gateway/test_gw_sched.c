/*
 * test_gw_sched.c - the worker pool: jobs of one conversation run one at a
 * time in the order queued; different conversations run on several
 * workers at once; a pool whose third worker cannot start is refused and
 * the two started are stopped (LSan and the join prove it).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "gw.h"

#define CONVS 4
#define PER 40

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int next_seq[CONVS], running[CONVS], finished, max_parallel, now_par;
static bool order_ok = true, exclusive_ok = true;

static void job_fn(struct gw_job *job, void *cls)
{
	(void)cls;
	int conv = (int)json_integer_value(json_object_get(job->env, "c"));
	int seq = (int)json_integer_value(json_object_get(job->env, "n"));
	pthread_mutex_lock(&mu);
	if (running[conv]++)
		exclusive_ok = false;
	if (next_seq[conv] != seq)
		order_ok = false;
	next_seq[conv] = seq + 1;
	if (++now_par > max_parallel)
		max_parallel = now_par;
	pthread_mutex_unlock(&mu);
	usleep(1000);
	pthread_mutex_lock(&mu);
	running[conv]--;
	now_par--;
	finished++;
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);
}

static void order_and_parallelism(void **state)
{
	(void)state;
	struct gw_sched *s = NULL;
	assert_int_equal(gw_sched_start(4, job_fn, NULL, &s), CLAW_OK);
	for (int n = 0; n < PER; n++) {
		for (int c = 0; c < CONVS; c++) {
			char key[16];
			snprintf(key, sizeof(key), "conv%d", c);
			struct gw_job *job = calloc(1, sizeof(*job));
			job->env = json_pack("{s:s, s:i, s:i}", "conversation",
					     key, "c", c, "n", n);
			gw_sched_push(s, job);
		}
	}
	pthread_mutex_lock(&mu);
	while (finished < CONVS * PER)
		pthread_cond_wait(&cv, &mu);
	pthread_mutex_unlock(&mu);
	gw_sched_stop(s);
	assert_true(order_ok);
	assert_true(exclusive_ok);
	assert_true(max_parallel > 1);
}

static int created;

static int fail_third(pthread_t *thr, const pthread_attr_t *attr,
		      void *(*fn)(void *), void *arg)
{
	if (++created == 3)
		return EAGAIN;
	return pthread_create(thr, attr, fn, arg);
}

static void worker_start_fails(void **state)
{
	(void)state;
	struct gw_sched *s = NULL;
	created = 0;
	gw_thread_create = fail_third;
	assert_int_equal(gw_sched_start(4, job_fn, NULL, &s),
			 CLAW_ERR_INTERNAL);
	gw_thread_create = pthread_create;
	assert_null(s);
	assert_int_equal(created, 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(order_and_parallelism),
		cmocka_unit_test(worker_start_fails),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
