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
	assert_non_null(strstr(b.data,
			       "# TYPE claw_http_requests_total "
			       "counter\n"));
	assert_non_null(strstr(b.data,
			       "claw_http_requests_total{route="
			       "\"tenants.get\",status=\"200\"} 2\n"));
	assert_non_null(strstr(b.data,
			       "claw_http_requests_total{route="
			       "\"tenants.get\",status=\"404\"} 1\n"));
	assert_non_null(strstr(b.data,
			       "claw_http_requests_total{route="
			       "\"not_found\",status=\"404\"} 1\n"));
	/* buckets are cumulative; 20 s falls only in +Inf */
	assert_non_null(strstr(b.data,
			       "_bucket{route=\"tenants.get\","
			       "le=\"0.0005\"} 1\n"));
	assert_non_null(strstr(b.data,
			       "_bucket{route=\"tenants.get\","
			       "le=\"0.005\"} 2\n"));
	assert_non_null(strstr(b.data,
			       "_bucket{route=\"tenants.get\","
			       "le=\"10\"} 2\n"));
	assert_non_null(strstr(b.data,
			       "_bucket{route=\"tenants.get\","
			       "le=\"+Inf\"} 3\n"));
	assert_non_null(strstr(b.data, "_count{route=\"tenants.get\"} 3\n"));
	/* a route without a name is counted under its pattern, an unknown
	 * name under "other" */
	assert_non_null(strstr(b.data,
			       "claw_http_requests_total{route="
			       "\"/v1/tenants\",status=\"200\"} 1\n"));
	assert_non_null(strstr(b.data,
			       "claw_http_requests_total{route="
			       "\"other\",status=\"500\"} 1\n"));
	claw_buf_release(&b);
	cp_metrics_free(ctx.metrics);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_render),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
