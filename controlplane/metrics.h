/*
 * metrics.h - request counters, latency histograms, database pool use and
 * what the HTTP server's bounds on slow and abusive clients did
 * (claw_httpd_stats), rendered in the Prometheus text format for /metrics.
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
/* The server whose counters /metrics shows (NULL: none, before it starts
 * and from just before it stops). Borrowed. */
void cp_metrics_set_httpd(struct cp_metrics *m, struct claw_httpd *h);
/* Append the exposition text to out (db may be NULL). */
enum claw_rc cp_metrics_render(struct cp_metrics *m, struct claw_db *db,
			       struct claw_buf *out);
/* The server's part alone: open connections, the limits in force and the
 * counters of connections closed past their deadlines and of 429s. */
enum claw_rc cp_metrics_render_httpd(const struct claw_httpd_stats *s,
				     struct claw_buf *out);

#endif
