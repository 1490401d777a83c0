/*
 * gw_testutil.h - helpers shared by the gateway unit tests. For now one:
 * a stand-in for gw_thread_create that always refuses (EAGAIN), so a test
 * can prove what a component does when its thread cannot start. Point
 * gw_thread_create at gw_test_fail_create, and back at pthread_create
 * after. Include after "gw.h": #include "gw_testutil.h".
 */
#ifndef CLAW_TEST_GW_TESTUTIL_H
#define CLAW_TEST_GW_TESTUTIL_H

#include <errno.h>
#include <pthread.h>

/* A pthread_create that never starts the thread: EAGAIN, as when the
 * process is out of threads. */
static inline int gw_test_fail_create(pthread_t *thr,
				      const pthread_attr_t *attr,
				      void *(*fn)(void *), void *arg)
{
	(void)thr;
	(void)attr;
	(void)fn;
	(void)arg;
	return EAGAIN;
}

#endif
