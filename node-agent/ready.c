/*
 * ready.c - the readiness window and the runtime's start gate; see
 * ready.h.
 */
#include "ready.h"

#include <string.h>

bool na_ready_step(struct na_ready *w, bool gw_ready, bool rt_ready,
		   long min_ready_ms, double now, double *due)
{
	bool both = gw_ready && rt_ready;
	if (!both) {
		if (w->ready)
			w->resets++;
		w->ready = w->healthy = false;
		return false;
	}
	if (!w->ready) {
		w->ready = true;
		w->since = now;
	}
	double at = w->since + min_ready_ms / 1000.0;
	if (now >= at)
		w->healthy = true;
	else if (due && at < *due)
		*due = at;
	return w->healthy;
}

void na_ready_clear(struct na_ready *w)
{
	memset(w, 0, sizeof(*w));
}

void na_ready_adopt(struct na_ready *w, double now)
{
	if (w->ready)
		return;
	w->ready = w->healthy = true;
	w->since = now;
}

enum na_gate na_gate_runtime(bool proxy_ok, double *waiting_since,
			     long max_wait_ms, double now)
{
	if (proxy_ok) {
		*waiting_since = 0;
		return NA_GATE_OPEN;
	}
	if (!*waiting_since)
		*waiting_since = now;
	return (now - *waiting_since) * 1000 >= max_wait_ms ? NA_GATE_TIMEOUT
							    : NA_GATE_WAIT;
}
