/*
 * health.h - liveness of tenant containers: HTTP probes of /healthz, the
 * restart backoff (exponential from backoff_ms, doubling to backoff_max_ms,
 * with +-10 % jitter, reset after healthy_reset_ms healthy) and crash-loop
 * detection. Called by the reconcile thread only.
 */
#ifndef NA_HEALTH_H
#define NA_HEALTH_H

#include "agent.h"

/* The delay before restart number `failures` (1-based), in ms, before
 * jitter: backoff_ms * 2^(failures-1), capped at max_ms. */
long na_backoff_delay_ms(long backoff_ms, long max_ms, unsigned failures);

/* A container of t exited (or was found exited) with exit_code: schedule
 * its restart with backoff, and mark a crash loop after crash_loop_after
 * failures without a reset (the log tail is fetched then). */
void na_health_failed(struct na_agent *a, struct na_tenant *t, enum na_role r,
		      int exit_code, double now);

/* Probe the running containers that are due; kill one that stops
 * answering (its exit then goes through na_health_failed). Returns the
 * time of the next probe due. */
double na_health_probe(struct na_agent *a, struct na_tenant *t, double now);

#endif
