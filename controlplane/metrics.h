/*
 * metrics.h - request counters, latency histograms and database pool use,
 * rendered in the Prometheus text format for /metrics.
 */
#ifndef CP_METRICS_H
#define CP_METRICS_H

#include "claw/buf.h"
#include "claw/db.h"
#include "claw/httpd.h"

struct cp_metrics;

/* Counters for each route of routes (by name, the pattern when it has
 * none), plus "not_found", "method_not_allowed" and "other" (any name not
 * known here). Lock-free after this: observing is atomic increments. */
struct cp_metrics *cp_metrics_new(const struct claw_route *routes, size_t n);
void cp_metrics_free(struct cp_metrics *m);

/* The httpd observer (ctx is the struct cp_ctx *). */
void cp_metrics_observe(const char *route, unsigned status, double seconds,
			void *ctx);
/* Append the exposition text to out (db may be NULL). */
enum claw_rc cp_metrics_render(struct cp_metrics *m, struct claw_db *db,
			       struct claw_buf *out);

#endif
