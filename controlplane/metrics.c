/*
 * metrics.c - Prometheus metrics of the daemon.
 *
 * Routes are few and fixed (plus "not_found"/"method_not_allowed"), so a
 * small array searched under one mutex holds, per route, a count per
 * status and a latency histogram. Names are copied, never trusted to live.
 */
#include "metrics.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "cp.h"

#define MAX_ROUTES 128
#define MAX_STATUSES 16

static const double buckets[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
				 0.05,   0.1,   0.25,   0.5,   1,    2.5,
				 5,      10};
#define N_BUCKETS (sizeof(buckets) / sizeof(buckets[0]))

struct route_stats {
	char *name;
	unsigned statuses[MAX_STATUSES];
	unsigned long long by_status[MAX_STATUSES];
	unsigned long long hist[N_BUCKETS]; /* non-cumulative */
	unsigned long long count;
	double sum;
};

struct cp_metrics {
	pthread_mutex_t mu;
	struct route_stats routes[MAX_ROUTES];
	size_t n;
};

struct cp_metrics *cp_metrics_new(void)
{
	struct cp_metrics *m = calloc(1, sizeof(*m));

	if (m)
		pthread_mutex_init(&m->mu, NULL);
	return m;
}

void cp_metrics_free(struct cp_metrics *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->n; i++)
		free(m->routes[i].name);
	pthread_mutex_destroy(&m->mu);
	free(m);
}

static struct route_stats *find_route(struct cp_metrics *m, const char *name)
{
	for (size_t i = 0; i < m->n; i++)
		if (!strcmp(m->routes[i].name, name))
			return &m->routes[i];
	if (m->n == MAX_ROUTES)
		return NULL;
	m->routes[m->n].name = strdup(name);
	if (!m->routes[m->n].name)
		return NULL;
	return &m->routes[m->n++];
}

void cp_metrics_observe(const char *route, unsigned status, double seconds,
			void *vctx)
{
	struct cp_metrics *m = ((struct cp_ctx *)vctx)->metrics;
	struct route_stats *r;
	size_t b = 0;

	while (b < N_BUCKETS && seconds > buckets[b])
		b++;
	pthread_mutex_lock(&m->mu);
	r = find_route(m, route);
	if (r) {
		for (int i = 0; i < MAX_STATUSES; i++) {
			if (r->statuses[i] == status || r->statuses[i] == 0) {
				r->statuses[i] = status;
				r->by_status[i]++;
				break;
			}
		}
		if (b < N_BUCKETS)
			r->hist[b]++;
		r->count++;
		r->sum += seconds;
	}
	pthread_mutex_unlock(&m->mu);
}

static enum claw_rc render_requests(struct cp_metrics *m, struct claw_buf *o)
{
	enum claw_rc rc = claw_buf_puts(
		o, "# HELP claw_http_requests_total HTTP requests by route and "
		   "status.\n# TYPE claw_http_requests_total counter\n");

	for (size_t i = 0; !rc && i < m->n; i++) {
		struct route_stats *r = &m->routes[i];

		for (int s = 0; !rc && s < MAX_STATUSES && r->statuses[s]; s++)
			rc = claw_buf_printf(
				o,
				"claw_http_requests_total{route=\"%s\","
				"status=\"%u\"} %llu\n",
				r->name, r->statuses[s], r->by_status[s]);
	}
	if (!rc)
		rc = claw_buf_puts(
			o, "# HELP claw_http_request_duration_seconds Time "
			   "to answer a request.\n# TYPE "
			   "claw_http_request_duration_seconds histogram\n");
	for (size_t i = 0; !rc && i < m->n; i++) {
		struct route_stats *r = &m->routes[i];
		unsigned long long cum = 0;

		for (size_t b = 0; !rc && b < N_BUCKETS; b++) {
			cum += r->hist[b];
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
				r->name, r->count, r->name, r->sum, r->name,
				r->count);
	}
	return rc;
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

	pthread_mutex_lock(&m->mu);
	rc = render_requests(m, out);
	pthread_mutex_unlock(&m->mu);
	if (!rc && db)
		rc = render_db(db, out);
	return rc;
}
