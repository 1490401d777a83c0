/*
 * test_metrics.c - request counters and histograms in Prometheus text.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "claw/buf.h"
#include "cp.h"
#include "metrics.h"
#include "../testutil.h"

static void test_render(void **state)
{
	static const struct claw_route routes[] = {
		{"GET", "/v1/tenants/{t}", NULL, "tenants.get"},
		{"GET", "/v1/tenants", NULL, NULL},
	};
	struct cp_ctx ctx = {0};
	struct claw_buf b;

	(void)state;
	ctx.metrics = cp_metrics_new(routes, 2);
	assert_non_null(ctx.metrics);
	cp_metrics_observe("tenants.get", 200, 0.0004, &ctx);
	cp_metrics_observe("tenants.get", 200, 0.003, &ctx);
	cp_metrics_observe("tenants.get", 404, 20.0, &ctx);
	cp_metrics_observe("not_found", 404, 0.0001, &ctx);
	cp_metrics_observe("/v1/tenants", 200, 0.0001, &ctx);
	cp_metrics_observe("surprise", 500, 0.0001, &ctx);
	claw_buf_init(&b, 0);
	assert_int_equal(cp_metrics_render(ctx.metrics, NULL, &b), CLAW_OK);
	assert_contains(b.data,
			"# TYPE claw_http_requests_total "
			"counter\n");
	assert_contains(b.data,
			"claw_http_requests_total{route="
			"\"tenants.get\",status=\"200\"} 2\n");
	assert_contains(b.data,
			"claw_http_requests_total{route="
			"\"tenants.get\",status=\"404\"} 1\n");
	assert_contains(b.data,
			"claw_http_requests_total{route="
			"\"not_found\",status=\"404\"} 1\n");
	/* buckets are cumulative; 20 s falls only in +Inf */
	assert_contains(b.data,
			"_bucket{route=\"tenants.get\","
			"le=\"0.0005\"} 1\n");
	assert_contains(b.data,
			"_bucket{route=\"tenants.get\","
			"le=\"0.005\"} 2\n");
	assert_contains(b.data,
			"_bucket{route=\"tenants.get\","
			"le=\"10\"} 2\n");
	assert_contains(b.data,
			"_bucket{route=\"tenants.get\","
			"le=\"+Inf\"} 3\n");
	assert_contains(b.data, "_count{route=\"tenants.get\"} 3\n");
	/* a route without a name is counted under its pattern, an unknown
	 * name under "other" */
	assert_contains(b.data,
			"claw_http_requests_total{route="
			"\"/v1/tenants\",status=\"200\"} 1\n");
	assert_contains(b.data,
			"claw_http_requests_total{route="
			"\"other\",status=\"500\"} 1\n");
	claw_buf_release(&b);
	cp_metrics_free(ctx.metrics);
}

/* The HTTP server's bounds as Prometheus series: gauges of what is in
 * force, counters of what they did. */
static void test_render_httpd(void **state)
{
	struct claw_httpd_stats st = {.open = 7,
				      .limit = 1024,
				      .per_ip_limit = 256,
				      .per_token_limit = 0,
				      .deadline_closed = 11,
				      .pressure_closed = 3,
				      .rate_limited = 42};
	struct claw_buf b;

	(void)state;
	claw_buf_init(&b, 0);
	assert_int_equal(cp_metrics_render_httpd(&st, &b), CLAW_OK);
	for (const char *const *want =
		     (const char *const[]){
			     "# TYPE claw_httpd_connections_open gauge\n"
			     "claw_httpd_connections_open 7\n",
			     "claw_httpd_connection_limit 1024\n",
			     "claw_httpd_per_ip_limit 256\n",
			     "claw_httpd_per_token_limit 0\n",
			     "# TYPE claw_httpd_deadline_closed_total counter\n"
			     "claw_httpd_deadline_closed_total 11\n",
			     "claw_httpd_pressure_closed_total 3\n",
			     "# TYPE claw_httpd_rate_limited_total counter\n"
			     "claw_httpd_rate_limited_total 42\n",
			     NULL};
	     *want; want++)
		assert_contains(b.data, *want);
	claw_buf_release(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_render),
		cmocka_unit_test(test_render_httpd),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
