/*
 * test_alerts.c - the pure parts of alerts (controlplane/alert_rules.c,
 * controlplane/notify.c): what each fleet event means (fire, resolve,
 * nothing; the subject that dedupes), the retry backoff, the webhook's
 * HMAC signature against a value computed independently, Slack's payload
 * and its mrkdwn escapes, the RFC 5322 message and its refusal of header
 * injection, mail address checks.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <sodium.h>

#include "alert.h"
#include "notify.h"

static size_t classify(const char *type, const char *tenant, const char *node,
		       const char *data,
		       struct cp_alert_match m[CP_ALERT_MATCH_MAX])
{
	json_t *d = json_loads(data ? data : "{}", 0, NULL);
	struct cp_alert_event ev = {.type = type,
				    .tenant_id = tenant,
				    .tenant = tenant ? "acme" : NULL,
				    .node_id = node,
				    .node = node ? "n1" : NULL,
				    .data = d};
	size_t n = cp_alert_classify(&ev, m);

	json_decref(d);
	return n;
}

static void test_fire_and_resolve(void **state)
{
	struct cp_alert_match m[CP_ALERT_MATCH_MAX];

	(void)state;
	assert_int_equal(classify("tenant.phase", "tnt_1", "nod_1",
				  "{\"to\":\"crash_loop\",\"reason\":\"exit "
				  "1\"}",
				  m),
			 1);
	assert_int_equal(m[0].verdict, CP_ALERT_FIRE);
	assert_int_equal(m[0].kind, CP_AK_CRASH_LOOP);
	assert_string_equal(m[0].subject, "tnt_1");
	assert_non_null(strstr(m[0].summary, "acme"));
	assert_non_null(strstr(m[0].summary, "exit 1"));
	assert_int_equal(classify("tenant.phase", "tnt_1", NULL,
				  "{\"to\":\"healthy\"}", m),
			 1);
	assert_int_equal(m[0].verdict, CP_ALERT_RESOLVE);
	/* a phase that is neither says nothing */
	assert_int_equal(classify("tenant.phase", "tnt_1", NULL,
				  "{\"to\":\"starting\"}", m),
			 0);
	/* a removed tenant resolves both of its kinds */
	assert_int_equal(classify("tenant.state", "tnt_1", NULL,
				  "{\"state\":\"removed\"}", m),
			 2);
	assert_int_equal(m[0].kind, CP_AK_CRASH_LOOP);
	assert_int_equal(m[1].kind, CP_AK_DEPLOY_FAILED);
	assert_int_equal(classify("deployment.phase", "tnt_1", NULL,
				  "{\"phase\":\"failed\"}", m),
			 1);
	assert_int_equal(m[0].kind, CP_AK_DEPLOY_FAILED);
	assert_string_equal(m[0].subject, "tnt_1"); /* per tenant */
	assert_int_equal(classify("node.down", NULL, "nod_1", NULL, m), 1);
	assert_int_equal(m[0].kind, CP_AK_NODE_LOST);
	assert_string_equal(m[0].subject, "nod_1");
	assert_int_equal(classify("node.ready", NULL, "nod_1", NULL, m), 1);
	assert_int_equal(m[0].verdict, CP_ALERT_RESOLVE);
	assert_int_equal(classify("rollout.halted", NULL, NULL,
				  "{\"rollout\":\"ro_1\",\"reason\":\"2 "
				  "failed\"}",
				  m),
			 1);
	assert_string_equal(m[0].subject, "ro_1");
	assert_int_equal(classify("quota.exhausted", "tnt_1", NULL,
				  "{\"quota\":\"turns_per_day\",\"limit\":"
				  "50,\"used\":51}",
				  m),
			 1);
	assert_string_equal(m[0].subject, "tnt_1/turns_per_day");
	assert_non_null(strstr(m[0].summary, "51 of 50 used"));
	assert_int_equal(classify("cert.expiring", NULL, "nod_1",
				  "{\"domain\":\"a.example\"}", m),
			 1);
	assert_string_equal(m[0].subject, "a.example");
}

static void test_nothing(void **state)
{
	struct cp_alert_match m[CP_ALERT_MATCH_MAX];

	(void)state;
	/* the alerts' own events never raise alerts */
	assert_int_equal(classify("alert.fired", "tnt_1", NULL, NULL, m), 0);
	assert_int_equal(classify("alert.delivery_failed", NULL, NULL, NULL, m),
			 0);
	assert_int_equal(classify("tenant.restart", "tnt_1", NULL, NULL, m), 0);
	/* no subject, no alert */
	assert_int_equal(classify("node.down", NULL, NULL, NULL, m), 0);
	assert_int_equal(classify("deployment.phase", NULL, NULL,
				  "{\"phase\":\"failed\"}", m),
			 0);
	assert_int_equal(classify("quota.exhausted", NULL, NULL, NULL, m), 0);
	assert_int_equal(classify("rollout.halted", NULL, NULL, "{}", m), 0);
}

static void test_kinds_and_backoff(void **state)
{
	(void)state;
	for (int k = 0; k < CP_AK__COUNT; k++)
		assert_int_equal(cp_alert_kind_parse(cp_alert_kind_name(k)), k);
	assert_int_equal(cp_alert_kind_parse("nope"), -1);
	assert_int_equal(cp_alert_kind_parse(NULL), -1);
	assert_int_equal(cp_alert_backoff_ms(1), 1000);
	assert_int_equal(cp_alert_backoff_ms(2), 2000);
	assert_int_equal(cp_alert_backoff_ms(5), 16000);
	assert_int_equal(cp_alert_backoff_ms(40), 300000);
}

static const struct cp_notice notice = {
	.alert_id = 7,
	.delivery_id = 9,
	.kind = "node_lost",
	.subject = "nod_1\r\nBcc: evil@example.com",
	.status = "firing",
	.summary = "node <n1> & co is lost",
	.fired_at = "2026-12-06T10:00:00.000000Z",
	.occurrences = 1};

static void test_signature(void **state)
{
	char sig[CP_NOTIFY_SIG_LEN];

	(void)state;
	/* python3: hmac.new(b"0123456789abcdef-key",
	 * b'1700000000.{"a":1}', hashlib.sha256).hexdigest() */
	cp_notify_sign("0123456789abcdef-key", 20, "1700000000", "{\"a\":1}", 7,
		       sig);
	assert_string_equal(sig,
			    "sha256=5dee649719c614c59684367e4bc02f4084af"
			    "fd0b3b1872b29cbcc676e2e1f0d8");
}

static void test_webhook_body(void **state)
{
	char *s = cp_notify_webhook_body(&notice);
	json_t *o = json_loads(s, 0, NULL);
	json_t *a = json_object_get(o, "alert");

	(void)state;
	assert_non_null(a);
	assert_int_equal(json_integer_value(json_object_get(o, "version")), 1);
	assert_int_equal(json_integer_value(json_object_get(o, "delivery")), 9);
	assert_string_equal(json_string_value(json_object_get(a, "status")),
			    "firing");
	assert_true(json_is_null(json_object_get(a, "resolved_at")));
	assert_true(json_is_null(json_object_get(a, "tenant_id")));
	json_decref(o);
	free(s);
}

static void test_slack_body(void **state)
{
	char *s = cp_notify_slack_body(&notice);
	json_t *o = json_loads(s, 0, NULL);
	const char *text = json_string_value(json_object_get(o, "text"));
	json_t *b0 = json_array_get(json_object_get(o, "blocks"), 0);

	(void)state;
	assert_non_null(text);
	assert_non_null(strstr(text, "node &lt;n1&gt; &amp; co is lost"));
	assert_null(strchr(text, '<'));
	assert_string_equal(json_string_value(json_object_get(b0, "type")),
			    "section");
	assert_string_equal(json_string_value(json_object_get(
				    json_object_get(b0, "text"), "type")),
			    "mrkdwn");
	json_decref(o);
	free(s);
}

static void test_email_message(void **state)
{
	struct claw_buf b;
	json_t *to = json_pack("[s, s]", "ops@example.com", "b@example.org");
	const char *head_end;

	(void)state;
	claw_buf_init(&b, 65536);
	/* 2026-12-06T10:00:00Z is a Sunday */
	assert_int_equal(cp_notify_email_message(&notice, "claw@example.com",
						 to, 1796551200, &b),
			 CLAW_OK);
	head_end = strstr(b.data, "\r\n\r\n");
	assert_non_null(head_end);
	assert_non_null(strstr(b.data,
			       "Date: Sun, 06 Dec 2026 10:00:00 "
			       "+0000\r\n"));
	assert_non_null(strstr(b.data,
			       "Message-ID: "
			       "<alert-7.9@claw-controlplane>\r\n"));
	assert_non_null(strstr(b.data, "From: claw@example.com\r\n"));
	assert_non_null(
		strstr(b.data, "To: ops@example.com, b@example.org\r\n"));
	/* the CR LF of the subject became spaces: no Bcc header */
	assert_non_null(strstr(b.data,
			       "Subject: [claw] FIRING node_lost: "
			       "nod_1  Bcc: evil@example.com\r\n"));
	assert_null(strstr(b.data, "\r\nBcc:"));
	assert_true(strstr(b.data, "Subject:") < head_end);
	claw_buf_release(&b);
	json_decref(to);
}

static void test_addresses(void **state)
{
	(void)state;
	assert_true(cp_notify_address_valid("ops@example.com"));
	assert_false(cp_notify_address_valid(NULL));
	assert_false(cp_notify_address_valid("@example.com"));
	assert_false(cp_notify_address_valid("ops@"));
	assert_false(cp_notify_address_valid("a@b@c"));
	assert_false(cp_notify_address_valid("ops@example.com\r\nRCPT TO:x"));
	assert_false(cp_notify_address_valid("<ops@example.com>"));
	assert_false(cp_notify_address_valid("o ps@example.com"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fire_and_resolve),
		cmocka_unit_test(test_nothing),
		cmocka_unit_test(test_kinds_and_backoff),
		cmocka_unit_test(test_signature),
		cmocka_unit_test(test_webhook_body),
		cmocka_unit_test(test_slack_body),
		cmocka_unit_test(test_email_message),
		cmocka_unit_test(test_addresses),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
