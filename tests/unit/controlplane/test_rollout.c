/*
 * test_rollout.c - the pure rules of rollouts and tenant labels
 * (controlplane/rollout.h): selector checks (empty, several keys, bad
 * labels, plans, slugs), label syntax and ?label= filters, the state
 * transitions of pause/resume/abort, what the worker does next; and the
 * secrets a deploy's configs name (controlplane/preflight.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include <sodium.h>

#include "preflight.h"
#include "rollout.h"

static int sel(const char *text)
{
	char msg[200];
	json_t *j = json_loads(text, 0, NULL);
	int r;

	assert_non_null(j);
	r = cp_rollout_selector_check(j, msg, sizeof(msg));
	json_decref(j);
	return r;
}

static void test_selector(void **state)
{
	(void)state;
	assert_int_equal(sel("{\"all\": true}"), 0);
	assert_int_equal(sel("{\"labels\": {\"tier\": \"gold\"}}"), 0);
	assert_int_equal(sel("{\"plan\": \"pro\"}"), 0);
	assert_int_equal(sel("{\"tenants\": [\"acme\", \"b-2\"]}"), 0);
	/* empty: the caller answers empty_selector */
	assert_int_equal(sel("{}"), -2);
	assert_int_equal(sel("{\"labels\": {}}"), -2);
	/* refused */
	assert_int_equal(sel("{\"all\": false}"), -1);
	assert_int_equal(sel("{\"all\": true, \"plan\": \"x\"}"), -1);
	assert_int_equal(sel("{\"labels\": {\"-bad\": \"x\"}}"), -1);
	assert_int_equal(sel("{\"labels\": {\"k\": 1}}"), -1);
	assert_int_equal(sel("{\"plan\": \"\"}"), -1);
	assert_int_equal(sel("{\"tenants\": []}"), -1);
	assert_int_equal(sel("{\"tenants\": [\"Not_A_Slug\"]}"), -1);
	assert_int_equal(sel("{\"tenants\": \"acme\"}"), -1);
	assert_int_equal(sel("{\"nodes\": [\"a\"]}"), -1);
	assert_int_equal(sel("[]"), -1);
}

static void test_labels(void **state)
{
	json_t *j;
	char k[320], v[64];

	(void)state;
	j = json_pack("{s:s, s:s, s:s}", "tier", "gold", "example.com/zone",
		      "eu-1", "empty", "");
	assert_true(cp_tenant_labels_valid(j));
	json_decref(j);
	j = json_pack("{s:s}", "a/b/c", "x"); /* a prefix has no '/' */
	assert_false(cp_tenant_labels_valid(j));
	json_decref(j);
	j = json_pack("{s:s}", "k", "-starts-with-dash");
	assert_false(cp_tenant_labels_valid(j));
	json_decref(j);
	j = json_pack("{s:s}", "Bad..Prefix/k", "v");
	assert_false(cp_tenant_labels_valid(j));
	json_decref(j);
	j = json_object();
	for (int i = 0; i < 33; i++) {
		char key[8];

		snprintf(key, sizeof(key), "k%d", i);
		json_object_set_new(j, key, json_string("v"));
	}
	assert_false(cp_tenant_labels_valid(j)); /* 33 > 32 */
	json_object_del(j, "k0");
	assert_true(cp_tenant_labels_valid(j));
	json_decref(j);

	assert_true(
		cp_label_filter_parse("tier=gold", k, sizeof(k), v, sizeof(v)));
	assert_string_equal(k, "tier");
	assert_string_equal(v, "gold");
	assert_true(
		cp_label_filter_parse("x.io/a=", k, sizeof(k), v, sizeof(v)));
	assert_string_equal(v, "");
	assert_false(cp_label_filter_parse("tier", k, sizeof(k), v, sizeof(v)));
	assert_false(
		cp_label_filter_parse("=gold", k, sizeof(k), v, sizeof(v)));
	assert_false(
		cp_label_filter_parse("t=a b", k, sizeof(k), v, sizeof(v)));
}

static void test_transitions(void **state)
{
	(void)state;
	assert_string_equal(cp_rollout_transition("running", "pause"),
			    "paused");
	assert_string_equal(cp_rollout_transition("paused", "resume"),
			    "running");
	assert_string_equal(cp_rollout_transition("running", "abort"),
			    "aborted");
	assert_string_equal(cp_rollout_transition("paused", "abort"),
			    "aborted");
	assert_null(cp_rollout_transition("paused", "pause"));
	assert_null(cp_rollout_transition("running", "resume"));
	assert_null(cp_rollout_transition("halted", "resume"));
	assert_null(cp_rollout_transition("completed", "abort"));
	assert_null(cp_rollout_transition("aborted", "abort"));
	assert_null(cp_rollout_transition("running", "delete"));
}

static void test_decide(void **state)
{
	struct cp_rollout_counts n = {.pending = 4};

	(void)state;
	assert_int_equal(cp_rollout_decide(&n, 1), CP_RO_NEXT_BATCH);
	n.deploying = 2;
	assert_int_equal(cp_rollout_decide(&n, 1), CP_RO_WAIT);
	n.failed = 1; /* a failure halts at threshold 1 ... */
	assert_int_equal(cp_rollout_decide(&n, 1), CP_RO_HALT);
	/* ... and not at 2: a rolled back tenant counts too */
	assert_int_equal(cp_rollout_decide(&n, 2), CP_RO_WAIT);
	n.failed = 0;
	n.rolled_back = 2;
	assert_int_equal(cp_rollout_decide(&n, 2), CP_RO_HALT);
	n = (struct cp_rollout_counts){.healthy = 6};
	assert_int_equal(cp_rollout_decide(&n, 1), CP_RO_COMPLETE);
	n.skipped = 2;
	assert_int_equal(cp_rollout_decide(&n, 1), CP_RO_COMPLETE);
}

/* "role:name:required" of every need, comma-joined, into out. */
static void needs_text(const char *gw, const char *rt, char *out, size_t len)
{
	json_t *g = gw ? json_loads(gw, 0, NULL) : NULL;
	json_t *r = rt ? json_loads(rt, 0, NULL) : NULL;
	json_t *n = cp_secret_needs(g, r);
	size_t i, at = 0;
	json_t *e;

	assert_non_null(n);
	out[0] = '\0';
	json_array_foreach(n, i, e) {
		at += (size_t)snprintf(
			out + at, len - at, "%s%s:%s:%d", i ? "," : "",
			json_string_value(json_object_get(e, "role")),
			json_string_value(json_object_get(e, "name")),
			json_is_true(json_object_get(e, "required")));
	}
	json_decref(n);
	json_decref(g);
	json_decref(r);
}

static void test_secret_needs(void **state)
{
	char t[1024];

	(void)state;
	needs_text(NULL, NULL, t, sizeof(t));
	assert_string_equal(t, "gateway:admin_token:0,runtime:admin_token:0");
	/* telegram webhook mode (the default) needs the webhook secret;
	 * polling does not; a disabled channel needs nothing */
	needs_text("{\"channels\": {\"telegram\": {}, \"slack\": "
		   "{\"enabled\": false}}}",
		   "{}", t, sizeof(t));
	assert_string_equal(t,
			    "gateway:telegram_bot_token:1,"
			    "gateway:telegram_webhook_secret:1,"
			    "gateway:admin_token:0,runtime:admin_token:0");
	needs_text("{\"channels\": {\"telegram\": {\"mode\": \"polling\"}, "
		   "\"discord\": {\"gateway\": true}, \"slack\": {\"mode\": "
		   "\"socket\"}}}",
		   NULL, t, sizeof(t));
	assert_string_equal(t,
			    "gateway:telegram_bot_token:1,"
			    "gateway:telegram_webhook_secret:0,"
			    "gateway:slack_bot_token:1,"
			    "gateway:slack_signing_secret:0,"
			    "gateway:slack_app_token:1,"
			    "gateway:discord_bot_token:1,"
			    "gateway:admin_token:0,runtime:admin_token:0");
	/* Matrix: the access token for /sync (the default mode), the two
	 * tokens of an application service; Mattermost's webhook token only
	 * for its outgoing webhooks */
	needs_text("{\"channels\": {\"matrix\": {}, \"mattermost\": "
		   "{\"mode\": \"websocket\"}}}",
		   NULL, t, sizeof(t));
	assert_string_equal(t,
			    "gateway:mattermost_webhook_token:0,"
			    "gateway:mattermost_bot_token:1,"
			    "gateway:matrix_access_token:1,"
			    "gateway:matrix_as_token:0,"
			    "gateway:matrix_hs_token:0,"
			    "gateway:admin_token:0,runtime:admin_token:0");
	needs_text("{\"channels\": {\"matrix\": {\"mode\": "
		   "\"appservice\"}}}",
		   NULL, t, sizeof(t));
	assert_string_equal(t,
			    "gateway:matrix_access_token:0,"
			    "gateway:matrix_as_token:1,"
			    "gateway:matrix_hs_token:1,"
			    "gateway:admin_token:0,runtime:admin_token:0");
	/* the runtime: providers, MCP env/header secrets, OAuth, workspace;
	 * a name given twice once; a bad name is left to the config check */
	needs_text("{}",
		   "{\"providers\": [{\"api_key_secret\": \"k\"}, "
		   "{\"api_key_secret\": \"k\"}, {\"kind\": \"openai\"}], "
		   "\"mcp_servers\": [{\"env_secrets\": {\"T\": \"fs\"}, "
		   "\"header_secrets\": {\"A\": \"h\"}, \"oauth\": "
		   "{\"token_secret\": \"grant\", \"client_secret_secret\": "
		   "\"cs\"}}, {\"env_secrets\": {\"X\": \"../etc\"}}], "
		   "\"workspace\": {\"token_secret\": \"git\"}}",
		   t, sizeof(t));
	assert_string_equal(t,
			    "gateway:admin_token:0,runtime:k:1,"
			    "runtime:fs:1,runtime:h:1,runtime:cs:1,"
			    "runtime:grant:0,runtime:git:1,"
			    "runtime:admin_token:0");
}

static void test_default_secrets(void **state)
{
	char err[300];
	size_t len = 0;

	(void)state;
	assert_int_equal(cp_default_secrets_load(NULL, err, sizeof(err)), 0);
	assert_null(cp_default_secret("llm_api_key", NULL));
	assert_int_equal(cp_default_secrets_load("nofile", err, sizeof(err)),
			 -1);
	assert_int_equal(
		cp_default_secrets_load("bad name=/x", err, sizeof(err)), -1);
	assert_int_equal(cp_default_secrets_load("k=/nonexistent/file", err,
						 sizeof(err)),
			 -1);
	assert_non_null(strstr(err, "default-secret k")); /* names it */
	{
		FILE *f = fopen("default-secret.test", "w");

		assert_non_null(f);
		fputs("s3cret\n", f);
		fclose(f);
	}
	assert_int_equal(cp_default_secrets_load("k=default-secret.test", err,
						 sizeof(err)),
			 0);
	assert_string_equal(cp_default_secret("k", &len), "s3cret");
	assert_int_equal(len, 6);
	assert_int_equal(cp_default_secrets_load("k=default-secret.test,"
						 "k=default-secret.test",
						 err, sizeof(err)),
			 -1); /* twice */
	assert_null(cp_default_secret("k", NULL));
	cp_default_secrets_free();
	remove("default-secret.test");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_selector),
		cmocka_unit_test(test_labels),
		cmocka_unit_test(test_transitions),
		cmocka_unit_test(test_decide),
		cmocka_unit_test(test_secret_needs),
		cmocka_unit_test(test_default_secrets),
	};

	if (sodium_init() < 0) /* default secrets live in sodium memory */
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
