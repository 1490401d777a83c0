/*
 * test_cli_api.c - clawctl's calls against an in-process claw_httpd that
 * answers with canned replies: headers sent (bearer token, JSON, If-Match),
 * replies that are not JSON or not lists, the error shape mapped to exit
 * codes, 204 replies, --all following cursors across pages, and
 * server-sent event streams (events in any framing, the callback's
 * verdict, an error reply).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "claw/crypto.h"
#include "claw/httpc.h"
#include "claw/httpd.h"
#include "cli.h"
#include "cli_cap.h"
#include "../testutil.h"

static void echo(struct claw_http_req *r, void *ctx)
{
	const char *auth = claw_http_header(r, "Authorization");
	const char *im = claw_http_header(r, "If-Match");
	size_t len;
	const char *body = claw_http_body(r, &len);

	(void)ctx;
	claw_http_add_header(r, "ETag", "\"7\"");
	claw_http_reply_json(r, 200,
			     json_pack("{s:s?, s:s?, s:s#, s:s}", "auth", auth,
				       "if_match", im, "body", body ? body : "",
				       len, "method", claw_http_method(r)));
}

static void not_json(struct claw_http_req *r, void *ctx)
{
	(void)ctx;
	claw_http_reply_raw(r, 200, "text/html", "<html>", 6);
}

/* A component's code (the control plane registers it): the CLI must show
 * any code it is sent, not only the shared ones. */
static const struct claw_error_def slug_taken = {"slug_taken", 409,
						 "choose another slug"};

static void conflict(struct claw_http_req *r, void *ctx)
{
	(void)ctx;
	claw_http_reply_def(r, &slug_taken, "slug '%s' is taken", "acme");
}

static void nothing(struct claw_http_req *r, void *ctx)
{
	(void)ctx;
	claw_http_reply_empty(r, 204);
}

/* Three pages of one item each: cursor "" -> a, "1" -> b, "2" -> c. */
static void pages(struct claw_http_req *r, void *ctx)
{
	const char *cur = claw_http_query(r, "cursor");
	char *end = NULL;
	long at = cur ? strtol(cur, &end, 10) : 0;
	char next[8], id[2];

	(void)ctx;
	if (cur && (end == cur || *end || at < 0 || at > 2)) {
		claw_http_reply_std(r, CLAW_HE_INVALID_FIELD,
				    "cursor must be 0..2");
		return;
	}
	id[0] = (char)('a' + at);
	id[1] = '\0';
	snprintf(next, sizeof(next), "%ld", at + 1);
	claw_http_reply_json(
		r, 200,
		json_pack("{s:[{s:s}], s:o}", "items", "id", id, "next_cursor",
			  at < 2 ? json_string(next) : json_null()));
}

static void no_items(struct claw_http_req *r, void *ctx)
{
	(void)ctx;
	claw_http_reply_json(r, 200, json_pack("{s:i}", "count", 3));
}

/* A stream of three events in one go, then its end. */
static ssize_t sse_fn(void *cls, char *out, size_t max)
{
	static const char body[] = ": comment\n\n"
				   "event: log\ndata: one\ndata: two\n\n"
				   "event: log\ndata: three\n\n"
				   "event: end\ndata: {}\n\n";
	int *sent = cls;

	if (*sent || max < sizeof(body) - 1)
		return -1;
	memcpy(out, body, sizeof(body) - 1);
	*sent = 1;
	return (ssize_t)(sizeof(body) - 1);
}

static void sse(struct claw_http_req *r, void *ctx)
{
	int *sent = calloc(1, sizeof(*sent));

	(void)ctx;
	claw_http_reply_stream(r, 200, "text/event-stream", sse_fn, sent, free);
}

/* A replica that cannot serve now (503), and one that fails (500). */
static void busy(struct claw_http_req *r, void *ctx)
{
	(void)ctx;
	claw_http_reply_std(r, CLAW_HE_UNAVAILABLE, NULL);
}

static void broken(struct claw_http_req *r, void *ctx)
{
	(void)ctx;
	claw_http_reply_std(r, CLAW_HE_INTERNAL, NULL);
}

static const struct claw_route routes[] = {
	{"GET", "/busy/echo", busy, NULL},
	{"GET", "/busy/sse", busy, NULL},
	{"GET", "/broken/echo", broken, NULL},
	{"GET", "/sse", sse, NULL},
	{"GET", "/echo", echo, NULL},
	{"PATCH", "/echo", echo, NULL},
	{"GET", "/html", not_json, NULL},
	{"POST", "/conflict", conflict, NULL},
	{"DELETE", "/nothing", nothing, NULL},
	{"GET", "/pages", pages, NULL},
	{"GET", "/noitems", no_items, NULL},
};

static struct claw_httpd *srv;
static char base[64];

/* A captured context talking to the test server. */
static void cap_start(struct cap *c)
{
	cap_open(c);
	c->ctx.url = base;
	c->ctx.timeout_ms = 10000;
}

static int setup(void **state)
{
	static const struct claw_httpd_config cfg = {
		.listen = "127.0.0.1:0",
		.routes = routes,
		.n_routes = sizeof(routes) / sizeof(routes[0]),
	};
	char err[256];

	(void)state;
	if (claw_httpd_start(&cfg, &srv, err, sizeof(err)))
		return -1;
	snprintf(base, sizeof(base), "http://127.0.0.1:%u/",
		 claw_httpd_port(srv));
	setenv("CLAW_TOKEN", "tok-123", 1);
	unsetenv("CLAW_TOKEN_FILE");
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	claw_httpd_shutdown(srv, 1000);
	return 0;
}

static void test_headers_and_body(void **state)
{
	struct cap c;
	struct cli_call call = {
		.method = "PATCH", .path = "/echo", .if_match = "\"3\""};
	json_t *body = json_pack("{s:s}", "name", "x"), *out = NULL;
	char etag[16];

	(void)state;
	cap_start(&c);
	call.body = body;
	assert_int_equal(cli_api(&c.ctx, &call, &out, etag, sizeof(etag)),
			 CLI_OK);
	/* the trailing slash of the URL is dropped */
	assert_int_equal(strlen(c.ctx.url), strlen(base) - 1);
	assert_memory_equal(c.ctx.url, base, strlen(base) - 1);
	assert_json_str(out, "auth", "Bearer tok-123");
	assert_json_str(out, "if_match", "\"3\"");
	assert_json_str(out, "body", "{\"name\":\"x\"}");
	assert_string_equal(etag, "\"7\"");
	json_decref(out);
	json_decref(body);
	cap_close(&c);
}

static void test_error_mapping(void **state)
{
	struct cap c;
	struct cli_call html = {.method = "GET", .path = "/html"};
	struct cli_call conf = {.method = "POST", .path = "/conflict"};
	struct cli_call none = {.method = "GET", .path = "/no/such/route"};
	json_t *out = NULL;

	(void)state;
	cap_start(&c);
	assert_int_equal(cli_api(&c.ctx, &html, &out, NULL, 0), CLI_ESERVER);
	assert_null(out);
	assert_int_equal(cli_api(&c.ctx, &conf, &out, NULL, 0), CLI_ECONFLICT);
	assert_int_equal(cli_api(&c.ctx, &none, &out, NULL, 0), CLI_ENOTFOUND);
	fflush(c.ctx.err);
	assert_contains(c.err_buf,
			"error: the control plane's reply "
			"is not JSON");
	assert_contains(c.err_buf,
			"error: slug 'acme' is taken "
			"(slug_taken, HTTP 409, request id ");
	assert_contains(c.err_buf, "(not_found, HTTP 404");
	assert_int_equal(c.out_len, 0);
	cap_close(&c);
}

static void test_done_and_lists(void **state)
{
	static const struct cli_col cols[] = {{"ID", "id"}};
	struct cap c;
	struct claw_buf p;

	(void)state;
	cap_start(&c);
	assert_int_equal(
		cli_api_done(&c.ctx, "DELETE", "gone", "/%s", "nothing"),
		CLI_OK);
	claw_buf_init(&p, 0);
	assert_int_equal(claw_buf_puts(&p, "/pages"), 0);
	assert_int_equal(cli_list_run(&c.ctx, &p, NULL, false, cols, 1),
			 CLI_OK);
	assert_int_equal(cli_list_run(&c.ctx, &p, "1", false, cols, 1), CLI_OK);
	assert_int_equal(cli_list_run(&c.ctx, &p, NULL, true, cols, 1), CLI_OK);
	claw_buf_reset(&p);
	assert_int_equal(claw_buf_puts(&p, "/noitems"), 0);
	assert_int_equal(cli_list_run(&c.ctx, &p, NULL, true, cols, 1),
			 CLI_ESERVER);
	claw_buf_release(&p);
	fflush(c.ctx.out);
	fflush(c.ctx.err);
	assert_string_equal(c.out_buf,
			    "gone\n"
			    "ID\na\n"
			    "ID\nb\n"
			    "ID\na\nb\nc\n");
	assert_string_equal(c.err_buf,
			    "more: repeat with --cursor 1\n"
			    "more: repeat with --cursor 2\n"
			    "error: the control plane's reply holds no list "
			    "of items; is --url a claw control plane?\n");
	cap_close(&c);
}

struct seen {
	char text[128];
	int n;
};

static int collect(struct cli_ctx *ctx, const char *event, const char *data,
		   void *cls)
{
	struct seen *s = cls;
	size_t len = strlen(s->text);

	(void)ctx;
	s->n++;
	snprintf(s->text + len, sizeof(s->text) - len, "[%s:%s]", event, data);
	return !strcmp(event, "end") ? CLI_OK : CLI_STREAM_GO_ON;
}

static int stop_early(struct cli_ctx *ctx, const char *event, const char *data,
		      void *cls)
{
	(void)ctx;
	(void)event;
	(void)data;
	(void)cls;
	return CLI_EFAIL;
}

static void test_stream(void **state)
{
	struct cap c;
	struct seen s = {0};

	(void)state;
	cap_start(&c);
	assert_int_equal(cli_stream(&c.ctx, "/sse", collect, &s), CLI_OK);
	assert_int_equal(s.n, 3);
	assert_string_equal(s.text, "[log:one\ntwo][log:three][end:{}]");
	/* the callback's verdict is the exit code */
	assert_int_equal(cli_stream(&c.ctx, "/sse", stop_early, NULL),
			 CLI_EFAIL);
	/* an error reply is printed from its error shape, no event seen */
	memset(&s, 0, sizeof(s));
	assert_int_equal(cli_stream(&c.ctx, "/no/such/stream", collect, &s),
			 CLI_ENOTFOUND);
	assert_int_equal(s.n, 0);
	fflush(c.ctx.err);
	assert_contains(c.err_buf,
			"(not_found, HTTP 404, request "
			"id ");
	cap_close(&c);
}

static void test_unreachable(void **state)
{
	struct cap c;
	struct cli_call call = {.method = "GET", .path = "/echo"};
	json_t *out = NULL;

	(void)state;
	cap_start(&c);
	c.ctx.url = "http://127.0.0.1:1";
	assert_int_equal(cli_api(&c.ctx, &call, &out, NULL, 0), CLI_ECONNECT);
	fflush(c.ctx.err);
	assert_contains(c.err_buf,
			"error: unable to reach the control "
			"plane at http://127.0.0.1:1: ");
	cap_close(&c);
}

/* Replicas: a refused one and a 503 are passed over (a note each) and the
 * next one answers, and is kept; a 500 is not passed over. */
static void test_replicas(void **state)
{
	struct cap c;
	struct cli_call call = {.method = "GET", .path = "/echo"};
	struct seen s = {0};
	char list[256];
	json_t *out = NULL;

	(void)state;
	cap_start(&c);
	snprintf(list, sizeof(list), "http://127.0.0.1:1,%sbusy,%s", base,
		 base);
	c.ctx.url = list;
	assert_int_equal(cli_api(&c.ctx, &call, &out, NULL, 0), CLI_OK);
	assert_string_equal(json_string_value(json_object_get(out, "method")),
			    "GET");
	json_decref(out);
	fflush(c.ctx.err);
	assert_contains(c.err_buf, "at http://127.0.0.1:1 did not answer");
	assert_contains(c.err_buf, "busy did not answer (unavailable)");
	assert_int_equal(c.ctx.urls->cur, 2); /* kept */
	assert_int_equal(cli_stream(&c.ctx, "/sse", collect, &s), CLI_OK);
	assert_int_equal(s.n, 3);
	cap_close(&c);
	/* the stream, over a 503 first */
	cap_start(&c);
	snprintf(list, sizeof(list), "%sbusy,%s", base, base);
	c.ctx.url = list;
	memset(&s, 0, sizeof(s));
	assert_int_equal(cli_stream(&c.ctx, "/sse", collect, &s), CLI_OK);
	assert_string_equal(s.text, "[log:one\ntwo][log:three][end:{}]");
	cap_close(&c);
	/* a 500 is the answer */
	cap_start(&c);
	snprintf(list, sizeof(list), "%sbroken,%s", base, base);
	c.ctx.url = list;
	assert_int_equal(cli_api(&c.ctx, &call, &out, NULL, 0), CLI_ESERVER);
	assert_int_equal(c.ctx.urls->cur, 0);
	cap_close(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_headers_and_body),
		cmocka_unit_test(test_error_mapping),
		cmocka_unit_test(test_done_and_lists),
		cmocka_unit_test(test_stream),
		cmocka_unit_test(test_unreachable),
		cmocka_unit_test(test_replicas),
	};

	int failed;

	claw_crypto_init();
	claw_httpc_global_init();
	failed = cmocka_run_group_tests(tests, setup, teardown);
	claw_httpc_global_cleanup();
	return failed;
}
