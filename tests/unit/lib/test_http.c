/*
 * test_http.c - the HTTP server and client together on 127.0.0.1: routing,
 * path parameters, 404/405/413/415/422, request ids, streams, graceful stop.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "claw/crypto.h"
#include "claw/httpc.h"
#include "claw/httpd.h"

static void h_echo(struct claw_http_req *r, void *ctx)
{
	(void)ctx;
	json_t *body = NULL;
	const char *name = NULL;
	const struct claw_json_field f[] = {
		{"name", CLAW_JSON_STRING, true, &name, 16},
		{NULL, 0, false, NULL, 0},
	};
	if (claw_http_parse_json(r, f, &body))
		return;
	claw_http_reply_json(r, 201,
			     json_pack("{s:s,s:s,s:s}", "t",
				       claw_http_param(r, "t"), "name", name,
				       "q", claw_http_query(r, "q") ?: ""));
	json_decref(body);
}

static void h_silent(struct claw_http_req *r, void *ctx)
{
	(void)r;
	(void)ctx;
}

struct counter {
	int left;
};

static ssize_t count_down(void *cls, char *out, size_t max)
{
	struct counter *c = cls;
	if (c->left == 0)
		return -1;
	return snprintf(out, max, "data: %d\n\n", c->left--);
}

static void h_stream(struct claw_http_req *r, void *ctx)
{
	(void)ctx;
	struct counter *c = malloc(sizeof(*c));
	c->left = 3;
	claw_http_reply_stream(r, 200, "text/event-stream", count_down, c,
			       free);
}

static const struct claw_route routes[] = {
	{"POST", "/v1/things/{t}", h_echo, "things"},
	{"GET", "/v1/silent", h_silent, NULL},
	{"GET", "/v1/stream", h_stream, NULL},
};

static struct claw_httpd_config cfg = {
	.listen = "127.0.0.1:0",
	.max_body = 1024,
	.routes = routes,
	.n_routes = sizeof(routes) / sizeof(routes[0]),
};

static long call(struct claw_httpd *h, const char *method, const char *path,
		 const char *const *headers, const char *body, json_t **out,
		 struct claw_httpc_resp *keep)
{
	char url[256];
	snprintf(url, sizeof(url), "http://127.0.0.1:%u%s",
		 claw_httpd_port(h), path);
	struct claw_httpc_req req = {
		.method = method, .url = url, .headers = headers,
		.body = body, .body_len = body ? strlen(body) : 0,
		.timeout_ms = 5000,
	};
	struct claw_httpc_resp resp;
	assert_int_equal(claw_httpc_do(&req, &resp), CLAW_OK);
	long status = resp.status;
	if (out)
		*out = json_loadb(resp.body.data ? resp.body.data : "",
				  resp.body.len, 0, NULL);
	if (keep)
		*keep = resp;
	else
		claw_httpc_resp_release(&resp);
	return status;
}

static const char *err_code(json_t *v)
{
	return json_string_value(
		json_object_get(json_object_get(v, "error"), "code"));
}

static void test_routes_and_errors(void **state)
{
	(void)state;
	struct claw_httpd *h;
	char err[256];
	assert_int_equal(claw_httpd_start(&cfg, &h, err, sizeof(err)), CLAW_OK);
	const char *json_ct[] = {"Content-Type: application/json",
				 "X-Request-Id: test-req-1", NULL};
	json_t *v;
	struct claw_httpc_resp resp;

	assert_int_equal(call(h, "POST", "/v1/things/abc?q=z", json_ct,
			      "{\"name\":\"x\"}", &v, &resp),
			 201);
	assert_string_equal(json_string_value(json_object_get(v, "t")), "abc");
	assert_string_equal(json_string_value(json_object_get(v, "q")), "z");
	char rid[80];
	assert_true(claw_httpc_resp_header(&resp, "x-request-id", rid,
					   sizeof(rid)));
	assert_string_equal(rid, "test-req-1");
	claw_httpc_resp_release(&resp);
	json_decref(v);

	assert_int_equal(call(h, "POST", "/v1/things/abc", json_ct, "{\"name\":",
			      &v, NULL),
			 400);
	assert_string_equal(err_code(v), "bad_json");
	assert_string_equal(
		json_string_value(json_object_get(json_object_get(v, "error"),
						  "request_id")),
		"test-req-1");
	json_decref(v);

	assert_int_equal(call(h, "POST", "/v1/things/abc", json_ct,
			      "{\"name\":\"x\",\"extra\":1}", &v, NULL),
			 422);
	assert_string_equal(err_code(v), "unknown_field");
	assert_non_null(strstr(json_string_value(json_object_get(
				       json_object_get(v, "error"), "message")),
			       "extra"));
	json_decref(v);

	const char *text_ct[] = {"Content-Type: text/plain", NULL};
	assert_int_equal(call(h, "POST", "/v1/things/abc", text_ct, "hi", &v,
			      NULL),
			 415);
	json_decref(v);

	char big[2048];
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(call(h, "POST", "/v1/things/abc", json_ct, big, &v,
			      NULL),
			 413);
	assert_string_equal(err_code(v), "body_too_large");
	json_decref(v);

	assert_int_equal(call(h, "GET", "/v1/things/abc", NULL, NULL, &v,
			      &resp),
			 405);
	assert_true(claw_httpc_resp_header(&resp, "Allow", rid, sizeof(rid)));
	assert_string_equal(rid, "POST");
	claw_httpc_resp_release(&resp);
	assert_string_equal(err_code(v), "method_not_allowed");
	json_decref(v);

	assert_int_equal(call(h, "GET", "/v1/nothing", NULL, NULL, &v, &resp),
			 404);
	assert_true(claw_httpc_resp_header(&resp, "X-Request-Id", rid,
					   sizeof(rid)));
	assert_int_equal(strlen(rid), 32);
	claw_httpc_resp_release(&resp);
	json_decref(v);

	assert_int_equal(call(h, "GET", "/v1/silent", NULL, NULL, &v, NULL),
			 500);
	assert_string_equal(err_code(v), "internal");
	json_decref(v);

	assert_int_equal(call(h, "GET", "/v1/stream", NULL, NULL, NULL, &resp),
			 200);
	assert_string_equal(resp.body.data, "data: 3\n\ndata: 2\n\ndata: 1\n\n");
	claw_httpc_resp_release(&resp);

	claw_httpd_shutdown(h, 1000);
}

static void test_bad_listen(void **state)
{
	(void)state;
	struct claw_httpd *h;
	char err[256];
	struct claw_httpd_config bad = cfg;
	bad.listen = "localhost";
	assert_int_equal(claw_httpd_start(&bad, &h, err, sizeof(err)),
			 CLAW_ERR_INVALID);
	assert_non_null(strstr(err, "ADDRESS:PORT"));
}

static void test_client_ceiling(void **state)
{
	(void)state;
	struct claw_httpd *h;
	char err[256];
	assert_int_equal(claw_httpd_start(&cfg, &h, err, sizeof(err)), CLAW_OK);
	char url[128];
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/v1/stream",
		 claw_httpd_port(h));
	struct claw_httpc_req req = {.url = url, .max_response = 8,
				     .timeout_ms = 5000};
	struct claw_httpc_resp resp;
	assert_int_equal(claw_httpc_do(&req, &resp), CLAW_ERR_TOO_LARGE);
	claw_httpc_resp_release(&resp);
	/* Nothing listens on a port we just closed: a transport error. */
	uint16_t port = claw_httpd_port(h);
	claw_httpd_shutdown(h, 1000);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/", port);
	struct claw_httpc_req gone = {.url = url, .timeout_ms = 2000};
	assert_int_equal(claw_httpc_do(&gone, &resp), CLAW_ERR_IO);
	assert_true(resp.error[0] != '\0');
	claw_httpc_resp_release(&resp);
}

int main(void)
{
	claw_crypto_init();
	claw_httpc_global_init();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_routes_and_errors),
		cmocka_unit_test(test_bad_listen),
		cmocka_unit_test(test_client_ceiling),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	claw_httpc_global_cleanup();
	return rc;
}
