/*
 * test_na_rpc.c - the node agent's side of the approvals relay (rpc.h):
 * na_rpc_runtime against an in-process claw_httpd playing the runtime's
 * approvals API (the method, path, bearer token and body each operation
 * sends; the answer as {status, body}; malformed calls refused before any
 * request; a runtime that does not answer is status 0), and the
 * generated admin token (64 hex, mode 0400, kept once written, and kept
 * by na_files_write when the tenant set none, replaced by the tenant's
 * own when it did).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../test_httpd.h"
#include "claw/secret.h"
#include "files.h"
#include "rpc.h"

#define TOKEN "t0ken-of-the-runtime"

static struct claw_httpd *srv;
static char seen[512]; /* "METHOD PATH AUTH BODY" of the last request */

static void record(struct claw_http_req *r, const char *method)
{
	const char *auth = claw_http_header(r, "Authorization");
	size_t len = 0;
	const char *body = claw_http_body(r, &len);

	snprintf(seen, sizeof(seen), "%s %s %s %.*s", method, claw_http_path(r),
		 auth ? auth : "-", (int)len, body ? body : "");
}

static void h_list(struct claw_http_req *r, void *ctx)
{
	(void)ctx;
	record(r, "GET");
	claw_http_reply_json(
		r, 200, json_pack("{s:[], s:i}", "approvals", "pending", 0));
}

static void h_get(struct claw_http_req *r, void *ctx)
{
	(void)ctx;
	record(r, "GET");
	claw_http_reply_std(r, CLAW_HE_NOT_FOUND, "no such approval request");
}

static void h_decide(struct claw_http_req *r, void *ctx)
{
	(void)ctx;
	record(r, "POST");
	claw_http_reply_json(
		r, 409,
		json_pack("{s:{s:s}}", "error", "code", "approval_decided"));
}

static const struct claw_route routes[] = {
	{"GET", "/v1/approvals", h_list, NULL},
	{"GET", "/v1/approvals/{id}", h_get, NULL},
	{"POST", "/v1/approvals/{id}", h_decide, NULL},
};

static int setup(void **state)
{
	(void)state;
	return test_httpd_serve(routes, sizeof(routes) / sizeof(routes[0]),
				&srv);
}

static int teardown(void **state)
{
	(void)state;
	claw_httpd_shutdown(srv, 1000);
	return 0;
}

static json_t *call(const char *text)
{
	json_t *c = json_loads(text, 0, NULL);

	assert_non_null(c);
	return c;
}

/* na_rpc_runtime of call text: the answer's status (body kept in *body). */
static long run(const char *text, json_t **body)
{
	json_t *c = call(text);
	json_t *a = na_rpc_runtime("127.0.0.1", claw_httpd_port(srv), TOKEN, c);
	long st;

	json_decref(c);
	assert_non_null(a);
	st = (long)json_integer_value(json_object_get(a, "status"));
	*body = json_incref(json_object_get(a, "body"));
	json_decref(a);
	return st;
}

static void test_operations(void **state)
{
	json_t *body;

	(void)state;
	assert_int_equal(run("{\"op\":\"approvals.list\"}", &body), 200);
	assert_string_equal(seen, "GET /v1/approvals Bearer " TOKEN " ");
	assert_true(json_is_array(json_object_get(body, "approvals")));
	json_decref(body);

	assert_int_equal(run("{\"op\":\"approvals.get\",\"approval\":"
			     "\"apr_1\"}",
			     &body),
			 404);
	assert_string_equal(seen, "GET /v1/approvals/apr_1 Bearer " TOKEN " ");
	json_decref(body);

	assert_int_equal(run("{\"op\":\"approvals.decide\",\"approval\":"
			     "\"apr_2\",\"decision\":\"deny\",\"by\":"
			     "\"operator tok_x\"}",
			     &body),
			 409);
	assert_string_equal(seen,
			    "POST /v1/approvals/apr_2 Bearer " TOKEN
			    " {\"decision\":\"deny\",\"by\":\"operator "
			    "tok_x\"}");
	assert_string_equal(json_string_value(json_object_get(
				    json_object_get(body, "error"), "code")),
			    "approval_decided");
	json_decref(body);
}

static void test_malformed_calls_send_nothing(void **state)
{
	static const char *const bad[] = {
		"{}",
		"{\"op\":\"exec\"}",
		"{\"op\":\"approvals.get\"}",
		"{\"op\":\"approvals.get\",\"approval\":\"../../v1/x\"}",
		"{\"op\":\"approvals.get\",\"approval\":\"APR\"}",
		"{\"op\":\"approvals.decide\",\"approval\":\"apr_1\","
		"\"decision\":\"maybe\",\"by\":\"x\"}",
		"{\"op\":\"approvals.decide\",\"approval\":\"apr_1\","
		"\"decision\":\"approve\",\"by\":\"\"}",
		"{\"op\":\"approvals.decide\",\"approval\":\"apr_1\","
		"\"decision\":\"approve\"}",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		json_t *c = call(bad[i]);

		seen[0] = '\0';
		assert_null(na_rpc_runtime("127.0.0.1", claw_httpd_port(srv),
					   TOKEN, c));
		assert_string_equal(seen, "");
		json_decref(c);
	}
}

static void test_no_answer_is_status_0(void **state)
{
	json_t *c = call("{\"op\":\"approvals.list\"}");
	json_t *a = na_rpc_runtime("127.0.0.1", 1, TOKEN, c);

	(void)state;
	assert_non_null(a);
	assert_int_equal(json_integer_value(json_object_get(a, "status")), 0);
	assert_true(json_is_null(json_object_get(a, "body")));
	json_decref(a);
	json_decref(c);
}

static char *read_token(const char *dir)
{
	char *v = NULL;

	assert_int_equal(claw_secret_read(dir, NA_RPC_TOKEN, &v, NULL, NULL, 0),
			 CLAW_OK);
	return v;
}

static void test_token_generated_once(void **state)
{
	char dir[] = "/tmp/na-rpc-XXXXXX", path[64];
	char *a, *b;
	struct stat st;

	(void)state;
	assert_non_null(mkdtemp(dir));
	assert_int_equal(na_rpc_token_ensure(dir, getuid()), CLAW_OK);
	a = read_token(dir);
	assert_int_equal(strlen(a), 64);
	assert_int_equal(strspn(a, "0123456789abcdef"), 64);
	snprintf(path, sizeof(path), "%s/%s", dir, NA_RPC_TOKEN);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0400);
	assert_int_equal(na_rpc_token_ensure(dir, getuid()), CLAW_OK);
	b = read_token(dir);
	assert_string_equal(a, b);
	claw_secret_free(a);
	claw_secret_free(b);
	unlink(path);
	rmdir(dir);
}

/* na_files_write keeps the generated token across writes of the secrets
 * (it is no stale file) and writes the tenant's own when it has one. */
static void test_files_keep_the_token(void **state)
{
	char state_dir[] = "/tmp/na-rpc-state-XXXXXX", sec[64], dir[1024];
	struct na_files f;
	struct na_role_spec rs = {0};
	char msg[256], *a, *b;
	json_t *secrets = json_pack("{s:s}", "api_key", "k1");

	(void)state;
	assert_non_null(mkdtemp(state_dir));
	/* /dev/shm is a tmpfs: na_files_init mounts nothing there */
	snprintf(sec, sizeof(sec), "/dev/shm/na-rpc-%d", (int)getpid());
	assert_int_equal(na_files_init(&f, state_dir, sec, msg, sizeof(msg)),
			 CLAW_OK);
	rs.secrets = secrets;
	assert_int_equal(na_files_write(&f, "acme", NA_RUNTIME, &rs, getuid(),
					msg, sizeof(msg)),
			 CLAW_OK);
	na_files_secrets_path(&f, "acme", NA_RUNTIME, dir, sizeof(dir));
	a = read_token(dir);
	json_object_set_new(secrets, "api_key", json_string("k2"));
	assert_int_equal(na_files_write(&f, "acme", NA_RUNTIME, &rs, getuid(),
					msg, sizeof(msg)),
			 CLAW_OK);
	b = read_token(dir);
	assert_string_equal(a, b);
	claw_secret_free(b);
	/* the gateway gets none */
	assert_int_equal(na_files_write(&f, "acme", NA_GATEWAY, &rs, getuid(),
					msg, sizeof(msg)),
			 CLAW_OK);
	na_files_secrets_path(&f, "acme", NA_GATEWAY, dir, sizeof(dir));
	assert_int_not_equal(
		claw_secret_read(dir, NA_RPC_TOKEN, &b, NULL, NULL, 0),
		CLAW_OK);
	/* the tenant's own admin_token wins */
	json_object_set_new(secrets, NA_RPC_TOKEN, json_string("own"));
	assert_int_equal(na_files_write(&f, "acme", NA_RUNTIME, &rs, getuid(),
					msg, sizeof(msg)),
			 CLAW_OK);
	na_files_secrets_path(&f, "acme", NA_RUNTIME, dir, sizeof(dir));
	b = read_token(dir);
	assert_string_equal(b, "own");
	claw_secret_free(a);
	claw_secret_free(b);
	json_decref(secrets);
	na_files_remove_tenant(&f, "acme");
	rmdir(sec);
	snprintf(dir, sizeof(dir), "%s/tenants", state_dir);
	rmdir(dir);
	rmdir(state_dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_operations),
		cmocka_unit_test(test_malformed_calls_send_nothing),
		cmocka_unit_test(test_no_answer_is_status_0),
		cmocka_unit_test(test_token_generated_once),
		cmocka_unit_test(test_files_keep_the_token),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
