/*
 * test_http.c - the HTTP server and client together on 127.0.0.1: routing,
 * path parameters, 404/405/413/415/422, request ids, streams, graceful stop,
 * and the bounds on slow and abusive clients: head and body deadlines that
 * trickled bytes do not extend, the per-address connection limit (a second
 * loopback address, 127.0.0.2, stands for another client), early closing
 * when the server is nearly full, and the per-credential request cap. What
 * the server logs goes to a temporary file, checked for what must never be
 * in it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <cmocka.h>

#include "claw/crypto.h"
#include "claw/httpc.h"
#include "claw/httpd.h"
#include "claw/log.h"

static FILE *logf_; /* the server's log */

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

static atomic_int wait_entered;
static atomic_bool wait_release;

/* Blocks until the test lets it go (a long request). */
static void h_wait(struct claw_http_req *r, void *ctx)
{
	(void)ctx;
	atomic_fetch_add(&wait_entered, 1);
	while (!atomic_load(&wait_release))
		usleep(1000);
	claw_http_reply_json(r, 200, json_pack("{s:b}", "ok", 1));
}

static void h_ok(struct claw_http_req *r, void *ctx)
{
	(void)ctx;
	claw_http_reply_json(r, 200, json_pack("{s:b}", "ok", 1));
}

static const struct claw_route routes[] = {
	{"POST", "/v1/things/{t}", h_echo, "things"},
	{"GET", "/v1/silent", h_silent, NULL},
	{"GET", "/v1/stream", h_stream, NULL},
	{"GET", "/v1/t/{t}/d/{d}", h_silent, NULL},
	{"GET", "/v1/wait", h_wait, NULL},
	{"GET", "/v1/ok", h_ok, NULL},
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
	snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", claw_httpd_port(h),
		 path);
	struct claw_httpc_req req = {
		.method = method,
		.url = url,
		.headers = headers,
		.body = body,
		.body_len = body ? strlen(body) : 0,
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
	struct claw_httpd_stats st;
	claw_httpd_stats(h, &st); /* the defaults */
	assert_true(st.limit > 0 && st.limit <= 1024);
	assert_int_equal(st.per_ip_limit, (st.limit + 3) / 4);
	assert_int_equal(st.per_token_limit, 32);
	assert_int_equal(st.open, 0);
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

	assert_int_equal(call(h, "POST", "/v1/things/abc", json_ct,
			      "{\"name\":", &v, NULL),
			 400);
	assert_string_equal(err_code(v), "bad_json");
	assert_string_equal(json_string_value(json_object_get(
				    json_object_get(v, "error"), "request_id")),
			    "test-req-1");
	json_decref(v);

	/* an unknown key is named by position, never by its bytes */
	assert_int_equal(call(h, "POST", "/v1/things/abc", json_ct,
			      "{\"name\":\"x\",\"sk-live-KEY-AS-NAME\":1}", &v,
			      NULL),
			 422);
	assert_string_equal(err_code(v), "unknown_field");
	const char *msg = json_string_value(
		json_object_get(json_object_get(v, "error"), "message"));
	assert_null(strstr(msg, "sk-live"));
	assert_non_null(strstr(msg, "#2"));
	assert_non_null(strstr(msg, "name"));
	json_decref(v);

	const char *text_ct[] = {"Content-Type: text/plain", NULL};
	assert_int_equal(
		call(h, "POST", "/v1/things/abc", text_ct, "hi", &v, NULL),
		415);
	json_decref(v);

	char big[2048];
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(
		call(h, "POST", "/v1/things/abc", json_ct, big, &v, NULL), 413);
	assert_string_equal(err_code(v), "body_too_large");
	json_decref(v);

	assert_int_equal(
		call(h, "GET", "/v1/things/abc", NULL, NULL, &v, &resp), 405);
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
	assert_string_equal(resp.body.data,
			    "data: 3\n\ndata: 2\n\ndata: 1\n\n");
	claw_httpc_resp_release(&resp);

	claw_httpd_shutdown(h, 1000);
}

/* A path that fails to match after a capture frees what it captured
 * (LeakSanitizer fails the test otherwise). */
static void test_router_frees_captures(void **state)
{
	(void)state;
	struct claw_httpd *h;
	char err[256];
	assert_int_equal(claw_httpd_start(&cfg, &h, err, sizeof(err)), CLAW_OK);
	json_t *v;
	assert_int_equal(call(h, "GET", "/v1/t/x/d/", NULL, NULL, &v, NULL),
			 404);
	json_decref(v);
	claw_httpd_shutdown(h, 1000);
}

/* ---- raw sockets: what a slow or abusive client does */

/* A TCP connection to the server from src ("127.0.0.2"; NULL: any). */
static int raw_connect(uint16_t port, const char *src)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	struct sockaddr_in a = {.sin_family = AF_INET};
	if (src) {
		assert_int_equal(inet_pton(AF_INET, src, &a.sin_addr), 1);
		assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	}
	a.sin_port = htons(port);
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	return fd;
}

/* Whether the server closed fd (EOF or reset, nothing to read first). */
static bool peer_closed(int fd, int wait_ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	if (poll(&p, 1, wait_ms) <= 0)
		return false;
	char c;
	ssize_t n = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
	return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
}

/* Send s one byte every 100 ms (far more often than any idle timer);
 * returns how many bytes went out before the server closed. */
static size_t trickle(int fd, const char *s)
{
	size_t n = strlen(s);
	for (size_t i = 0; i < n; i++) {
		if (peer_closed(fd, 100))
			return i;
		if (send(fd, s + i, 1, MSG_NOSIGNAL) != 1)
			return i;
	}
	return n;
}

/* Send a whole request and read the first bytes of the answer: "" when
 * the server closed without one. */
static void ask(int fd, const char *req, char *out, size_t cap)
{
	out[0] = '\0';
	if (send(fd, req, strlen(req), MSG_NOSIGNAL) < 0)
		return;
	struct pollfd p = {.fd = fd, .events = POLLIN};
	if (poll(&p, 1, 10000) <= 0)
		return;
	ssize_t n = recv(fd, out, cap - 1, 0);
	out[n > 0 ? n : 0] = '\0';
}

static const char slow_head[] =
	"GET /v1/ok HTTP/1.1\r\nHost: 127.0.0.1\r\n"
	"X-Padding: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n";

/* A head trickled faster than the idle timer fires is cut at the head
 * deadline (1 s here), long before its last byte. */
static void test_head_deadline(void **state)
{
	(void)state;
	struct claw_httpd *h;
	char err[256];
	struct claw_httpd_config c = cfg;
	c.head_timeout_s = 1;
	c.connection_timeout_s = 60;
	assert_int_equal(claw_httpd_start(&c, &h, err, sizeof(err)), CLAW_OK);
	int fd = raw_connect(claw_httpd_port(h), NULL);
	size_t sent = trickle(fd, slow_head);
	assert_true(sent < strlen(slow_head));
	close(fd);
	struct claw_httpd_stats st;
	claw_httpd_stats(h, &st);
	assert_true(st.deadline_closed >= 1);
	assert_int_equal(st.pressure_closed, 0);
	/* a prompt client is served as before */
	json_t *v;
	assert_int_equal(call(h, "GET", "/v1/ok", NULL, NULL, &v, NULL), 200);
	json_decref(v);
	claw_httpd_shutdown(h, 1000);
}

/* The body has its own deadline, from the end of the head. */
static void test_body_deadline(void **state)
{
	(void)state;
	struct claw_httpd *h;
	char err[256];
	struct claw_httpd_config c = cfg;
	c.body_timeout_s = 1;
	c.connection_timeout_s = 60;
	assert_int_equal(claw_httpd_start(&c, &h, err, sizeof(err)), CLAW_OK);
	int fd = raw_connect(claw_httpd_port(h), NULL);
	const char head[] = "POST /v1/things/x HTTP/1.1\r\nHost: 127.0.0.1\r\n"
			    "Content-Type: application/json\r\n"
			    "Content-Length: 60\r\n\r\n";
	char body[61];
	snprintf(body, sizeof(body), "{\"name\":\"x\"%48s}", "");
	assert_int_equal(strlen(body), 60);
	assert_int_equal(send(fd, head, strlen(head), MSG_NOSIGNAL),
			 (ssize_t)strlen(head));
	size_t sent = trickle(fd, body);
	assert_true(sent < strlen(body));
	close(fd);
	struct claw_httpd_stats st;
	claw_httpd_stats(h, &st);
	assert_true(st.deadline_closed >= 1);
	claw_httpd_shutdown(h, 1000);
}

/* One address holds at most per_ip_limit connections; another address
 * is still served. */
static void test_per_ip_limit(void **state)
{
	(void)state;
	struct claw_httpd *h;
	char err[256], buf[64];
	struct claw_httpd_config c = cfg;
	c.per_ip_limit = 2;
	assert_int_equal(claw_httpd_start(&c, &h, err, sizeof(err)), CLAW_OK);
	uint16_t port = claw_httpd_port(h);
	const char req[] = "GET /v1/ok HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
	int a = raw_connect(port, "127.0.0.1");
	int b = raw_connect(port, "127.0.0.1");
	int extra = raw_connect(port, "127.0.0.1");
	ask(extra, req, buf, sizeof(buf));
	assert_string_equal(buf, ""); /* closed at accept */
	int other = raw_connect(port, "127.0.0.2");
	ask(other, req, buf, sizeof(buf));
	assert_memory_equal(buf, "HTTP/1.1 200", 12);
	close(extra);
	close(other);
	/* the two that held the address still get their answers */
	ask(a, req, buf, sizeof(buf));
	assert_memory_equal(buf, "HTTP/1.1 200", 12);
	close(a);
	close(b);
	claw_httpd_shutdown(h, 1000);
}

/* Nearly full (15 of 16 slots held by clients that send nothing; 7/8 is
 * the mark), the head deadline shrinks from 10 s to 1 s until the server
 * is below the mark again: idle ones are closed and new clients get
 * slots. */
static void test_pressure(void **state)
{
	(void)state;
	struct claw_httpd *h;
	char err[256];
	struct claw_httpd_config c = cfg;
	c.connection_limit = 16;
	c.head_timeout_s = 10;
	assert_int_equal(claw_httpd_start(&c, &h, err, sizeof(err)), CLAW_OK);
	struct claw_httpd_stats st;
	claw_httpd_stats(h, &st);
	assert_int_equal(st.limit, 16);
	assert_int_equal(st.per_ip_limit, 4); /* a quarter by default */
	assert_int_equal(st.per_token_limit, 32);
	int fds[15], closed = 0;
	for (int i = 0; i < 15; i++) { /* 3 each from 127.0.0.1 to .5 */
		char src[16];
		snprintf(src, sizeof(src), "127.0.0.%d", i % 5 + 1);
		fds[i] = raw_connect(claw_httpd_port(h), src);
	}
	/* below the mark (14) again well before the 10 s of a calm server */
	for (int round = 0; round < 80 && closed < 2; round++) {
		usleep(100000);
		closed = 0;
		for (int i = 0; i < 15; i++)
			closed += peer_closed(fds[i], 0);
	}
	assert_true(closed >= 2);
	claw_httpd_stats(h, &st);
	assert_true(st.pressure_closed >= 2);
	assert_int_equal(st.deadline_closed, 0);
	json_t *v;
	assert_int_equal(call(h, "GET", "/v1/ok", NULL, NULL, &v, NULL), 200);
	json_decref(v);
	for (int i = 0; i < 15; i++)
		close(fds[i]);
	claw_httpd_shutdown(h, 1000);
}

struct waiter {
	struct claw_httpd *h;
	const char *auth;
	long status;
	pthread_t th;
};

static void *wait_call(void *arg)
{
	struct waiter *w = arg;
	const char *hdrs[] = {w->auth, NULL};
	char url[128];
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/v1/wait",
		 claw_httpd_port(w->h));
	struct claw_httpc_req req = {
		.url = url, .headers = hdrs, .timeout_ms = 20000};
	struct claw_httpc_resp resp;
	if (claw_httpc_do(&req, &resp) == CLAW_OK)
		w->status = resp.status;
	claw_httpc_resp_release(&resp);
	return NULL;
}

#define TOKEN_A "Authorization: Bearer claw_tok-A-must-not-be-logged"

/* Two requests with one credential at once; the third gets 429 until one
 * ends; other credentials and anonymous requests are not affected. */
static void test_token_cap(void **state)
{
	(void)state;
	struct claw_httpd *h;
	char err[256], ra[16];
	struct claw_httpd_config c = cfg;
	c.per_token_limit = 2;
	assert_int_equal(claw_httpd_start(&c, &h, err, sizeof(err)), CLAW_OK);
	atomic_store(&wait_entered, 0);
	atomic_store(&wait_release, false);
	struct waiter w[2] = {{h, TOKEN_A, 0, 0}, {h, TOKEN_A, 0, 0}};
	for (int i = 0; i < 2; i++)
		assert_int_equal(
			pthread_create(&w[i].th, NULL, wait_call, &w[i]), 0);
	for (int i = 0; i < 10000 && atomic_load(&wait_entered) < 2; i++)
		usleep(1000);
	assert_int_equal(atomic_load(&wait_entered), 2);

	const char *a[] = {TOKEN_A, NULL};
	const char *b[] = {"Authorization: Bearer claw_tok-B", NULL};
	json_t *v;
	struct claw_httpc_resp resp;
	assert_int_equal(call(h, "GET", "/v1/ok", a, NULL, &v, &resp), 429);
	assert_string_equal(err_code(v), "rate_limited");
	assert_true(
		claw_httpc_resp_header(&resp, "Retry-After", ra, sizeof(ra)));
	claw_httpc_resp_release(&resp);
	json_decref(v);
	assert_int_equal(call(h, "GET", "/v1/ok", b, NULL, &v, NULL), 200);
	json_decref(v);
	assert_int_equal(call(h, "GET", "/v1/ok", NULL, NULL, &v, NULL), 200);
	json_decref(v);

	atomic_store(&wait_release, true);
	for (int i = 0; i < 2; i++) {
		pthread_join(w[i].th, NULL);
		assert_int_equal(w[i].status, 200);
	}
	/* the slots are free again once the requests are done */
	assert_int_equal(call(h, "GET", "/v1/ok", a, NULL, &v, NULL), 200);
	json_decref(v);
	struct claw_httpd_stats st;
	claw_httpd_stats(h, &st);
	assert_int_equal(st.rate_limited, 1);
	claw_httpd_shutdown(h, 1000);
}

/* A non-empty body must be declared application/json exactly. */
static void test_content_type(void **state)
{
	(void)state;
	struct claw_httpd *h;
	char err[256];
	assert_int_equal(claw_httpd_start(&cfg, &h, err, sizeof(err)), CLAW_OK);
	static const struct {
		const char *ct;
		long status;
	} cases[] = {
		{"Content-Type: application/json", 201},
		{"Content-Type: application/json; charset=utf-8", 201},
		{"Content-Type: Application/JSON;charset=UTF-8", 201},
		{"Content-Type: application/jsonx", 415},
		{"Content-Type: application/json-seq", 415},
		{"Content-Type: application/x-www-form-urlencoded", 415},
		{"Content-Type: text/json", 415},
		{"Content-Type:", 415}, /* none sent */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *hdrs[] = {cases[i].ct, NULL};
		json_t *v;
		print_message("%s\n", cases[i].ct);
		assert_int_equal(call(h, "POST", "/v1/things/x", hdrs,
				      "{\"name\":\"x\"}", &v, NULL),
				 cases[i].status);
		if (cases[i].status == 415)
			assert_string_equal(err_code(v),
					    "unsupported_media_type");
		json_decref(v);
	}
	/* no body, no Content-Type needed: an empty object (name missing) */
	const char *none[] = {"Content-Type:", NULL};
	json_t *v;
	assert_int_equal(call(h, "POST", "/v1/things/x", none, NULL, &v, NULL),
			 422);
	assert_string_equal(err_code(v), "missing_field");
	json_decref(v);
	claw_httpd_shutdown(h, 1000);
}

/* A client's request id is kept only when it is 1 to 64 of [A-Za-z0-9._-];
 * anything else is replaced by a new one (audit rows take this one). */
static void test_request_ids(void **state)
{
	(void)state;
	struct claw_httpd *h;
	char err[256], rid[128];
	char long_id[96], max_id[96];
	memset(long_id, 'a', 65);
	memcpy(long_id, "X-Request-Id: ", 14);
	memset(long_id + 14, 'a', 65);
	long_id[14 + 65] = '\0';
	memcpy(max_id, "X-Request-Id: ", 14);
	memset(max_id + 14, 'b', 64);
	max_id[14 + 64] = '\0';
	assert_int_equal(claw_httpd_start(&cfg, &h, err, sizeof(err)), CLAW_OK);
	static const char *const bad[] = {
		"X-Request-Id: has space",
		"X-Request-Id: a/b",
		"X-Request-Id: <script>",
		"X-Request-Id: caf\xc3\xa9",
		"X-Request-Id: a\"b",
		"X-Request-Id: a;b=c",
		"X-Request-Id: %0d%0aX-Evil: 1",
	};
	struct claw_httpc_resp resp;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]) + 1; i++) {
		const char *hdrs[] = {
			i < sizeof(bad) / sizeof(bad[0]) ? bad[i] : long_id,
			NULL};
		assert_int_equal(
			call(h, "GET", "/v1/ok", hdrs, NULL, NULL, &resp), 200);
		assert_true(claw_httpc_resp_header(&resp, "X-Request-Id", rid,
						   sizeof(rid)));
		assert_int_equal(strlen(rid), 32);
		assert_int_equal(strspn(rid, "0123456789abcdef"), 32);
		claw_httpc_resp_release(&resp);
	}
	const char *ok[] = {max_id, NULL};
	assert_int_equal(call(h, "GET", "/v1/ok", ok, NULL, NULL, &resp), 200);
	assert_true(claw_httpc_resp_header(&resp, "X-Request-Id", rid,
					   sizeof(rid)));
	assert_string_equal(rid, max_id + 14);
	claw_httpc_resp_release(&resp);
	const char *dots[] = {"X-Request-Id: A.b_c-9", NULL};
	assert_int_equal(call(h, "GET", "/v1/ok", dots, NULL, NULL, &resp),
			 200);
	assert_true(claw_httpc_resp_header(&resp, "X-Request-Id", rid,
					   sizeof(rid)));
	assert_string_equal(rid, "A.b_c-9");
	claw_httpc_resp_release(&resp);
	claw_httpd_shutdown(h, 1000);
}

/* The router on its own: captures, 405 methods, and every failed match
 * frees what it captured (LeakSanitizer checks). */
static void test_router_direct(void **state)
{
	(void)state;
	static const struct claw_route rt[] = {
		{"GET", "/v1/tenants/{t}/deployments/{d}", h_ok, NULL},
		{"POST", "/v1/tenants/{t}/deployments", h_ok, NULL},
		{"GET", "/v1/tenants/{t}/deployments", h_ok, NULL},
		{"DELETE", "/v1/tenants/{t}", h_ok, NULL},
	};
	struct claw_route_match m;
	assert_int_equal(claw_route_find(rt, 4, "GET",
					 "/v1/tenants/a/deployments/7", &m),
			 0);
	assert_ptr_equal(m.route, &rt[0]);
	assert_int_equal(m.n_params, 2);
	assert_string_equal(m.params[0].value, "a");
	assert_string_equal(m.params[1].value, "7");
	claw_route_match_release(&m);
	static const char *const misses[] = {
		"/v1/tenants/x/deployments/",
		"/v1/tenants/x/deployments//",
		"/v1/tenants//deployments/1",
		"/v1/tenants/x/deployments/1/",
		"/v1/tenants/x/deployments/1/z",
		"/v1/tenants/x/y",
		"/v1/tenants/x/",
		"/v1/tenants",
	};
	for (size_t i = 0; i < sizeof(misses) / sizeof(misses[0]); i++) {
		assert_int_equal(claw_route_find(rt, 4, "GET", misses[i], &m),
				 0);
		assert_null(m.route);
		assert_int_equal(m.n_params, 0);
		claw_route_match_release(&m);
	}
	assert_int_equal(
		claw_route_find(rt, 4, "PUT", "/v1/tenants/a/deployments", &m),
		0);
	assert_null(m.route);
	assert_string_equal(m.allow, "POST, GET");
	claw_route_match_release(&m);
}

/* A listening socket of the caller's (a unix socket) is served, with the
 * same deadlines; the server closes it on shutdown. */
static void test_listen_fd(void **state)
{
	(void)state;
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	snprintf(a.sun_path, sizeof(a.sun_path), "/tmp/claw-test-%d.sock",
		 (int)getpid());
	unlink(a.sun_path);
	int lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_true(lfd >= 0);
	assert_int_equal(bind(lfd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(lfd, 16), 0);
	struct claw_httpd *h;
	char err[256], buf[64];
	struct claw_httpd_config c = cfg;
	c.listen = NULL;
	c.listen_fd = lfd;
	c.head_timeout_s = 1;
	c.per_ip_limit = 1; /* no address: not applied */
	assert_int_equal(claw_httpd_start(&c, &h, err, sizeof(err)), CLAW_OK);
	int fds[3];
	for (int i = 0; i < 3; i++) {
		fds[i] = socket(AF_UNIX, SOCK_STREAM, 0);
		assert_int_equal(
			connect(fds[i], (struct sockaddr *)&a, sizeof(a)), 0);
	}
	ask(fds[2], "GET /v1/ok HTTP/1.1\r\nHost: x\r\n\r\n", buf, sizeof(buf));
	assert_memory_equal(buf, "HTTP/1.1 200", 12);
	assert_true(trickle(fds[0], slow_head) < strlen(slow_head));
	for (int i = 0; i < 3; i++)
		close(fds[i]);
	claw_httpd_shutdown(h, 1000);
	/* closed by the server: the descriptor number is free again */
	assert_int_equal(fcntl(lfd, F_GETFD), -1);
	unlink(a.sun_path);
	c.listen_fd = -1;
	assert_int_equal(claw_httpd_start(&c, &h, err, sizeof(err)),
			 CLAW_ERR_INVALID);
}

/* Nothing a client sent as a key or a credential reached the log. */
static void test_log_clean(void **state)
{
	(void)state;
	fflush(logf_);
	rewind(logf_);
	static char text[1 << 20];
	size_t n = fread(text, 1, sizeof(text) - 1, logf_);
	text[n] = '\0';
	assert_true(n > 0);
	assert_null(strstr(text, "sk-live"));
	assert_null(strstr(text, "tok-A"));
	assert_null(strstr(text, "tok-B"));
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
	struct claw_httpc_req req = {
		.url = url, .max_response = 8, .timeout_ms = 5000};
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

static void *cancel_later(void *arg)
{
	usleep(300 * 1000);
	atomic_store((atomic_bool *)arg, true);
	return NULL;
}

/* A peer that takes the connection and never answers: the caller's cancel
 * flag ends the wait, not the minute's timeout (the error says which). */
static void test_client_cancel(void **state)
{
	(void)state;
	int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET,
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(sa);
	assert_true(lfd >= 0);
	assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(lfd, 4), 0); /* never accepted: no answer */
	assert_int_equal(getsockname(lfd, (struct sockaddr *)&sa, &len), 0);
	char url[128];
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/v1/messages",
		 ntohs(sa.sin_port));
	atomic_bool cancel = false;
	struct claw_httpc_req req = {.url = url,
				     .body = "{}",
				     .body_len = 2,
				     .timeout_ms = 60000,
				     .cancel = &cancel};
	struct claw_httpc_resp resp;
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, cancel_later, &cancel), 0);
	assert_int_equal(claw_httpc_do(&req, &resp), CLAW_ERR_IO);
	assert_non_null(strstr(resp.error, "cancelled"));
	claw_httpc_resp_release(&resp);
	pthread_join(th, NULL);
	/* set before the call: nothing waits at all */
	assert_int_equal(claw_httpc_do(&req, &resp), CLAW_ERR_IO);
	assert_non_null(strstr(resp.error, "cancelled"));
	claw_httpc_resp_release(&resp);
	close(lfd);
}

/* public_only: a URL someone else gave reaches no internal address,
 * loopback only when allowed (tests); refused before any packet. */
static void test_public_only(void **state)
{
	(void)state;
	struct claw_httpd *h;
	char err[256], url[128];
	static const char *const inside[] = {
		"http://10.1.2.3:9/",          "http://169.254.169.254/x",
		"http://172.16.0.1:9/",        "http://192.168.1.1:9/",
		"http://100.64.0.1:9/",        "http://0.0.0.0:9/",
		"http://[fd00::1]:9/",         "http://[fe80::1]:9/",
		"http://[::ffff:10.0.0.1]:9/", "http://[::]:9/"};
	struct claw_httpc_resp resp;

	assert_int_equal(claw_httpd_start(&cfg, &h, err, sizeof(err)), CLAW_OK);
	for (int host = 0; host < 2; host++) {
		snprintf(url, sizeof(url), "http://%s:%u/v1/ping",
			 host ? "localhost" : "127.0.0.1", claw_httpd_port(h));
		struct claw_httpc_req req = {
			.url = url, .timeout_ms = 5000, .public_only = true};
		assert_int_equal(claw_httpc_do(&req, &resp), CLAW_ERR_IO);
		assert_non_null(strstr(resp.error, "internal address"));
		claw_httpc_resp_release(&resp);
		req.allow_loopback = true;
		assert_int_equal(claw_httpc_do(&req, &resp), CLAW_OK);
		claw_httpc_resp_release(&resp);
	}
	for (size_t i = 0; i < sizeof(inside) / sizeof(inside[0]); i++) {
		struct claw_httpc_req req = {.url = inside[i],
					     .timeout_ms = 2000,
					     .public_only = true,
					     .allow_loopback = true};
		assert_int_equal(claw_httpc_do(&req, &resp), CLAW_ERR_IO);
		assert_non_null(strstr(resp.error, "internal address"));
		claw_httpc_resp_release(&resp);
	}
	claw_httpd_shutdown(h, 1000);
}

int main(void)
{
	claw_crypto_init();
	claw_httpc_global_init();
	logf_ = tmpfile();
	claw_log_init("test", CLAW_LOG_DEBUG, logf_);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_routes_and_errors),
		cmocka_unit_test(test_public_only),
		cmocka_unit_test(test_router_frees_captures),
		cmocka_unit_test(test_router_direct),
		cmocka_unit_test(test_content_type),
		cmocka_unit_test(test_request_ids),
		cmocka_unit_test(test_head_deadline),
		cmocka_unit_test(test_body_deadline),
		cmocka_unit_test(test_per_ip_limit),
		cmocka_unit_test(test_pressure),
		cmocka_unit_test(test_token_cap),
		cmocka_unit_test(test_listen_fd),
		cmocka_unit_test(test_bad_listen),
		cmocka_unit_test(test_client_ceiling),
		cmocka_unit_test(test_client_cancel),
		cmocka_unit_test(test_log_clean),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	claw_httpc_global_cleanup();
	return rc;
}
