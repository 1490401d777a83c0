/*
 * gw_testutil.h - helpers shared by the gateway unit tests: a stand-in
 * for gw_thread_create that always refuses (EAGAIN), so a test can prove
 * what a component does when its thread cannot start (point
 * gw_thread_create at gw_test_fail_create, and back at pthread_create
 * after); and the run of a webhook parser over a body or over a list of
 * malformed ones. Include after <cmocka.h> and "gw.h":
 * #include "gw_testutil.h".
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

/* A channel's body parser (Teams, Google Chat, Signal, LINE, ...). */
typedef enum claw_rc (*gw_test_parse_fn)(const struct gw_chan_conf *cc,
					 const char *body, size_t len,
					 json_t **out);

/* body through parse: asserts the result want; what it made (NULL when
 * nothing). */
static inline json_t *gw_test_parse(gw_test_parse_fn parse,
				    const struct gw_chan_conf *cc,
				    const char *body, enum claw_rc want)
{
	json_t *out = NULL;
	assert_int_equal(parse(cc, body, strlen(body), &out), want);
	return out;
}

/* Each of the n bodies is refused (CLAW_ERR_PARSE) and makes nothing. */
static inline void gw_test_all_refused(gw_test_parse_fn parse,
				       const struct gw_chan_conf *cc,
				       const char *const *bodies, size_t n)
{
	for (size_t i = 0; i < n; i++)
		assert_null(
			gw_test_parse(parse, cc, bodies[i], CLAW_ERR_PARSE));
}

#endif
