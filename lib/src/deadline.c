/*
 * deadline.c - absolute times for timed waits (see deadline.h).
 */
#include "claw/deadline.h"

struct timespec claw_deadline_ms(clockid_t clock, long ms)
{
	struct timespec t;

	clock_gettime(clock, &t);
	t.tv_sec += ms / 1000;
	t.tv_nsec += (ms % 1000) * 1000000L;
	if (t.tv_nsec >= 1000000000L) {
		t.tv_sec++;
		t.tv_nsec -= 1000000000L;
	}
	return t;
}

bool claw_deadline_passed(clockid_t clock, const struct timespec *t)
{
	struct timespec now;

	clock_gettime(clock, &now);
	return now.tv_sec > t->tv_sec ||
		(now.tv_sec == t->tv_sec && now.tv_nsec >= t->tv_nsec);
}
