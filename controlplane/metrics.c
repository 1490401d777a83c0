/*
 * metrics.c - Prometheus metrics of the daemon.
 *
 * The routes are known at start, so each gets its counters then and
 * observing a request is a lookup in a fixed array and a few atomic
 * increments: no lock on the request path. Per route: a count per status
 * (up to MAX_STATUSES distinct ones, claimed with compare-and-swap), a
 * latency histogram, the count and the sum (in microseconds). The HTTP
 * server's own counters (claw_httpd_stats) are read when rendering.
 */
#include "metrics.h"
#include "alert.h"
#include "usage_report.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "cp.h"

#define MAX_STATUSES 16

static const double buckets[] = {0.0005, 0.001, 0.0025, 0.005, 0.01,
				 0.025,  0.05,  0.1,    0.25,  0.5,
				 1,      2.5,   5,      10};
#define N_BUCKETS (sizeof(buckets) / sizeof(buckets[0]))

static const char *const extra_names[] = {"not_found", "method_not_allowed",
					  "other"};
#define N_EXTRA (sizeof(extra_names) / sizeof(extra_names[0]))

struct route_stats {
	const char *name; /* borrowed from the route table or extra_names */
	atomic_uint statuses[MAX_STATUSES];
	atomic_ullong by_status[MAX_STATUSES];
	atomic_ullong hist[N_BUCKETS]; /* non-cumulative */
	atomic_ullong count;
	atomic_ullong sum_us;
};

struct cp_metrics {
	struct route_stats *routes;
	size_t n;
	_Atomic(struct claw_httpd *) httpd;
};

struct cp_metrics *cp_metrics_new(const struct claw_route *routes, size_t n)
{
	struct cp_metrics *m = calloc(1, sizeof(*m));

	if (!m)
		return NULL;
	m->routes = calloc(n + N_EXTRA, sizeof(*m->routes));
	if (!m->routes) {
		free(m);
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		const char *name =
			routes[i].name ? routes[i].name : routes[i].pattern;
		size_t j;

		for (j = 0; j < m->n && strcmp(m->routes[j].name, name); j++)
			;
		if (j == m->n)
			m->routes[m->n++].name = name;
	}
	for (size_t i = 0; i < N_EXTRA; i++)
		m->routes[m->n++].name = extra_names[i];
	return m;
}

void cp_metrics_free(struct cp_metrics *m)
{
	if (!m)
		return;
	free(m->routes);
	free(m);
}

static struct route_stats *find_route(struct cp_metrics *m, const char *name)
{
	for (size_t i = 0; i < m->n; i++)
		if (m->routes[i].name == name)
			return &m->routes[i];
	for (size_t i = 0; i < m->n; i++)
		if (!strcmp(m->routes[i].name, name))
			return &m->routes[i];
	return &m->routes[m->n - 1]; /* "other" */
}

static void count_status(struct route_stats *r, unsigned status)
{
	for (int i = 0; i < MAX_STATUSES; i++) {
		unsigned s = atomic_load(&r->statuses[i]);

		if (s == 0) {
			unsigned zero = 0;

			if (atomic_compare_exchange_strong(&r->statuses[i],
							   &zero, status))
				s = status;
			else
				s = zero; /* someone claimed it: for what? */
		}
		if (s == status) {
			atomic_fetch_add(&r->by_status[i], 1);
			return;
		}
	}
}

void cp_metrics_observe(const char *route, unsigned status, double seconds,
			void *vctx)
{
	struct cp_metrics *m = ((struct cp_ctx *)vctx)->metrics;
	struct route_stats *r = find_route(m, route);
	size_t b = 0;

	while (b < N_BUCKETS && seconds > buckets[b])
		b++;
	count_status(r, status);
	if (b < N_BUCKETS)
		atomic_fetch_add(&r->hist[b], 1);
	atomic_fetch_add(&r->count, 1);
	atomic_fetch_add(&r->sum_us, (unsigned long long)(seconds * 1e6 + 0.5));
}

static enum claw_rc render_requests(struct cp_metrics *m, struct claw_buf *o)
{
	enum claw_rc rc = claw_buf_puts(
		o,
		"# HELP claw_http_requests_total HTTP requests by route and "
		"status.\n# TYPE claw_http_requests_total counter\n");

	for (size_t i = 0; !rc && i < m->n; i++) {
		struct route_stats *r = &m->routes[i];

		for (int s = 0; !rc && s < MAX_STATUSES; s++) {
			unsigned st = atomic_load(&r->statuses[s]);

			if (!st)
				break;
			rc = claw_buf_printf(
				o,
				"claw_http_requests_total{route=\"%s\","
				"status=\"%u\"} %llu\n",
				r->name, st, atomic_load(&r->by_status[s]));
		}
	}
	if (!rc)
		rc = claw_buf_puts(
			o,
			"# HELP claw_http_request_duration_seconds Time "
			"to answer a request.\n# TYPE "
			"claw_http_request_duration_seconds histogram\n");
	for (size_t i = 0; !rc && i < m->n; i++) {
		struct route_stats *r = &m->routes[i];
		unsigned long long cum = 0, count = atomic_load(&r->count);

		if (!count)
			continue;
		for (size_t b = 0; !rc && b < N_BUCKETS; b++) {
			cum += atomic_load(&r->hist[b]);
			rc = claw_buf_printf(
				o,
				"claw_http_request_duration_seconds_bucket{"
				"route=\"%s\",le=\"%g\"} %llu\n",
				r->name, buckets[b], cum);
		}
		if (!rc)
			rc = claw_buf_printf(
				o,
				"claw_http_request_duration_seconds_bucket{"
				"route=\"%s\",le=\"+Inf\"} %llu\n"
				"claw_http_request_duration_seconds_sum{"
				"route=\"%s\"} %.6f\n"
				"claw_http_request_duration_seconds_count{"
				"route=\"%s\"} %llu\n",
				r->name, count, r->name,
				(double)atomic_load(&r->sum_us) / 1e6, r->name,
				count);
	}
	return rc;
}

void cp_metrics_set_httpd(struct cp_metrics *m, struct claw_httpd *h)
{
	if (m)
		atomic_store(&m->httpd, h);
}

enum claw_rc cp_metrics_render_httpd(const struct claw_httpd_stats *s,
				     struct claw_buf *o)
{
	return claw_buf_printf(
		o,
		"# HELP claw_httpd_connections_open HTTP connections open "
		"now.\n"
		"# TYPE claw_httpd_connections_open gauge\n"
		"claw_httpd_connections_open %u\n"
		"# HELP claw_httpd_connection_limit HTTP connections the "
		"server holds at most.\n"
		"# TYPE claw_httpd_connection_limit gauge\n"
		"claw_httpd_connection_limit %u\n"
		"# HELP claw_httpd_per_ip_limit Connections per client "
		"address (0: no limit).\n"
		"# TYPE claw_httpd_per_ip_limit gauge\n"
		"claw_httpd_per_ip_limit %u\n"
		"# HELP claw_httpd_per_token_limit Requests at once per "
		"credential (0: no limit).\n"
		"# TYPE claw_httpd_per_token_limit gauge\n"
		"claw_httpd_per_token_limit %u\n"
		"# HELP claw_httpd_deadline_closed_total Connections closed "
		"because their request head or body missed its deadline.\n"
		"# TYPE claw_httpd_deadline_closed_total counter\n"
		"claw_httpd_deadline_closed_total %llu\n"
		"# HELP claw_httpd_pressure_closed_total Connections closed "
		"past the deadline shortened under pressure.\n"
		"# TYPE claw_httpd_pressure_closed_total counter\n"
		"claw_httpd_pressure_closed_total %llu\n"
		"# HELP claw_httpd_rate_limited_total Requests answered 429 "
		"by the per-credential cap.\n"
		"# TYPE claw_httpd_rate_limited_total counter\n"
		"claw_httpd_rate_limited_total %llu\n",
		s->open, s->limit, s->per_ip_limit, s->per_token_limit,
		s->deadline_closed, s->pressure_closed, s->rate_limited);
}

static enum claw_rc render_db(struct claw_db *db, struct claw_buf *o)
{
	struct claw_db_stats s;

	claw_db_get_stats(db, &s);
	return claw_buf_printf(
		o,
		"# HELP claw_db_pool_connections Database connections open.\n"
		"# TYPE claw_db_pool_connections gauge\n"
		"claw_db_pool_connections %u\n"
		"# HELP claw_db_pool_in_use Connections held by requests.\n"
		"# TYPE claw_db_pool_in_use gauge\n"
		"claw_db_pool_in_use %u\n"
		"# HELP claw_db_pool_max Pool size limit.\n"
		"# TYPE claw_db_pool_max gauge\n"
		"claw_db_pool_max %u\n"
		"# HELP claw_db_pool_waiting Requests waiting for a "
		"connection.\n"
		"# TYPE claw_db_pool_waiting gauge\n"
		"claw_db_pool_waiting %u\n"
		"# HELP claw_db_pool_acquires_total Connections taken.\n"
		"# TYPE claw_db_pool_acquires_total counter\n"
		"claw_db_pool_acquires_total %llu\n"
		"# HELP claw_db_pool_waits_total Takes that had to wait.\n"
		"# TYPE claw_db_pool_waits_total counter\n"
		"claw_db_pool_waits_total %llu\n"
		"# HELP claw_db_pool_errors_total Failed connection "
		"attempts.\n"
		"# TYPE claw_db_pool_errors_total counter\n"
		"claw_db_pool_errors_total %llu\n",
		s.size, s.in_use, s.max, s.waiting, s.acquires, s.waits,
		s.errors);
}

enum claw_rc cp_metrics_render(struct cp_metrics *m, struct claw_db *db,
			       struct claw_buf *out)
{
	enum claw_rc rc;

	struct claw_httpd *h = atomic_load(&m->httpd);

	rc = render_requests(m, out);
	if (!rc && db)
		rc = render_db(db, out);
	if (!rc && db)
		rc = cp_usage_metrics_render(db, out);
	if (!rc && db)
		rc = cp_alert_metrics_render(db, out);
	if (!rc && h) {
		struct claw_httpd_stats st;

		claw_httpd_stats(h, &st);
		rc = cp_metrics_render_httpd(&st, out);
	}
	return rc;
}
