/*
 * health.h - liveness of tenant containers: the restart backoff, crash-loop
 * detection and what a /healthz probe's answer means. The first restart
 * after a failure is immediate; then the delay is exponential from
 * backoff_ms, doubling to backoff_max_ms, with +-10 % jitter; healthy_reset_ms
 * of health resets it. Called by the reconcile thread only (the probes
 * themselves run in the probe pool, ops.h).
 */
#ifndef NA_HEALTH_H
#define NA_HEALTH_H

#include "agent.h"

/* The delay before restart number `failures` (1-based), in ms, before
 * jitter: 0 for the first, then backoff_ms * 2^(failures-2), capped at
 * max_ms. */
long na_backoff_delay_ms(long backoff_ms, long max_ms, unsigned failures);

/* A container of t exited (or was found exited) with exit_code: schedule
 * its restart with backoff, and mark a crash loop after crash_loop_after
 * failures without a reset (its log tail is fetched then). */
void na_health_failed(struct na_agent *a, struct na_tenant *t, enum na_role r,
		      int exit_code, double now);

/* A probe of a running container answered (ok) or not: track health,
 * reset the backoff after a long healthy time, and schedule the next
 * probe (na_probe_interval). Returns true when
 * the container should be killed for a restart (3 failed probes once
 * healthy, or no answer within the startup grace). */
bool na_health_probed(struct na_agent *a, struct na_tenant *t, enum na_role r,
		      bool ok, double now);

/* The wait before the next probe of in: 50 ms until it first answers,
 * then probe-interval-ms, and probe-stable-interval-ms once it has been
 * healthy for probe-stable-after-ms with its last probe passed (an idle
 * node's probes cost a tenth; exits still come from Docker's events). */
double na_probe_interval(const struct na_config *cfg, const struct na_inst *in,
			 double now);

#endif
