/*
 * deadline.h - absolute times for timed waits (pthread_cond_timedwait
 * takes one): the time some milliseconds from now on a clock, and
 * whether such a time has passed.
 */
#ifndef CLAW_DEADLINE_H
#define CLAW_DEADLINE_H

#include <stdbool.h>
#include <time.h>

/* The time ms milliseconds (>= 0) from now on clock: CLOCK_MONOTONIC for
 * a condition variable whose attribute set that clock, CLOCK_REALTIME
 * for one made with the defaults. */
struct timespec claw_deadline_ms(clockid_t clock, long ms);
/* Whether t, a time on clock, has come. */
bool claw_deadline_passed(clockid_t clock, const struct timespec *t);

#endif
