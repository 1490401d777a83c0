/*
 * ready.h - "ready means ready": when a tenant's pair counts as healthy,
 * and when its runtime may start. Pure functions of what the probes saw
 * and the time, so they are unit tested with a fake clock
 * (tests/unit/node-agent/test_na_ready.c); the reconcile thread feeds
 * them (reconcile.c).
 *
 * The window: a pair is healthy only once both roles have answered
 * /readyz continuously for min_ready_ms (the assignment's `min_ready_ms`,
 * default NA_MIN_READY_DEFAULT_MS). A role that drops out of ready, before
 * or after the window passed, restarts it: the pair is healthy again only
 * after another full window. Readiness is what the probes saw last, so a
 * drop between two probes is seen at the next one.
 *
 * The start gate: the runtime is created and started only once its
 * gateway runs, answers /healthz and its egress proxy (port 3128, the
 * runtime's only way out to its LLM and remote MCP servers) answers, so
 * the runtime's MCP servers connect on the first try. The wait is
 * bounded: past max_wait_ms it is reported as a failure (and the gate
 * stays shut until the proxy answers).
 */
#ifndef NA_READY_H
#define NA_READY_H

#include <stdbool.h>

#define NA_MIN_READY_DEFAULT_MS 2000
#define NA_MIN_READY_MAX_MS 600000

struct na_ready {
	bool ready;      /* both roles were ready at the last step */
	bool healthy;    /* ... and have been for the whole window */
	double since;    /* when both became ready (valid while ready) */
	unsigned resets; /* windows restarted by a role dropping out */
};

/* One step at now: gw_ready / rt_ready are what the probes say now.
 * Returns w->healthy. While waiting inside a window, *due (when not
 * NULL) is lowered to the time the window passes, so the caller wakes
 * then. */
bool na_ready_step(struct na_ready *w, bool gw_ready, bool rt_ready,
		   long min_ready_ms, double now, double *due);

/* Forget the window (a new pair, a role replaced). */
void na_ready_clear(struct na_ready *w);

/* A pair found running (a restarted agent adopts it): taken as having
 * passed its window, so adopting reports no false "starting"; the next
 * probes say whether it still is ready. */
void na_ready_adopt(struct na_ready *w, double now);

enum na_gate {
	NA_GATE_WAIT,    /* not yet: keep waiting */
	NA_GATE_OPEN,    /* the gateway's proxy answers: start the runtime */
	NA_GATE_TIMEOUT, /* waited more than max_wait_ms: report it */
};

/* The runtime's start gate. *waiting_since is 0 when not waiting yet (it
 * is set to now on the first closed call, and cleared when open). */
enum na_gate na_gate_runtime(bool proxy_ok, double *waiting_since,
			     long max_wait_ms, double now);

#endif
