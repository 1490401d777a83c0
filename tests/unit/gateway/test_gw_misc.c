/*
 * test_gw_misc.c - the gateway's small pure parts: text splitting at the
 * channels' limits, the envelope, config validation, policies, the
 * channel parsers on typical payloads, the message age check and the
 * proxy's CONNECT parser and allow-list.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <sodium.h>

#include "claw/log.h"
#include "gw.h"

static void split_text(void **state)
{
	(void)state;
	char *big = malloc(9001);
	memset(big, 'a', 9000);
	big[9000] = '\0';
	json_t *p = gw_split_text(big, 4096);
	assert_int_equal(json_array_size(p), 3);
	assert_int_equal(json_string_length(json_array_get(p, 0)), 4096);
	assert_int_equal(json_string_length(json_array_get(p, 2)), 808);
	json_decref(p);
	/* prefers a newline in the second half */
	memset(big, 'b', 30);
	big[20] = '\n';
	big[30] = '\0';
	p = gw_split_text(big, 25);
	assert_int_equal(json_string_length(json_array_get(p, 0)), 21);
	json_decref(p);
	/* never cuts a UTF-8 sequence: 10 x "é" (2 bytes) at 4 code points */
	static const char e10[] = "éééééééééé";
	memcpy(big, e10, sizeof(e10));
	p = gw_split_text(big, 4);
	assert_int_equal(json_array_size(p), 3);
	assert_string_equal(json_string_value(json_array_get(p, 0)), "éééé");
	json_decref(p);
	p = gw_split_text("", 10);
	assert_int_equal(json_array_size(p), 1);
	json_decref(p);
	free(big);
}

static void envelope(void **state)
{
	(void)state;
	json_t *e = gw_env_new(GW_CH_SLACK, "slack:C1:1.2", "T1", "slack:C1",
			       "U1", NULL, "hi", 0);
	assert_int_equal(gw_env_check(e), CLAW_OK);
	assert_string_equal(gw_env_str(e, "time"), "1970-01-01T00:00:00Z");
	json_object_set_new(e, GW_ENV_ROUTE,
			    json_pack("{s:s}", "channel", "C1"));
	json_object_set_new(e, GW_ENV_GROUP, json_true());
	char *body = gw_env_runtime_body_new(e);
	assert_null(strstr(body, "route"));
	assert_null(strstr(body, "is_group"));
	assert_non_null(strstr(body, "\"conversation\":\"slack:C1\""));
	free(body);
	json_object_set_new(e, "channel", json_string("fax"));
	assert_int_equal(gw_env_check(e), CLAW_ERR_INVALID);
	json_decref(e);
	assert_int_equal(gw_env_check(json_null()), CLAW_ERR_INVALID);
}

static enum claw_rc check(const char *text, struct gw_conf *c, char *err)
{
	json_t *root = json_loads(text, 0, NULL);
	memset(c, 0, sizeof(*c));
	enum claw_rc rc = gw_conf_check(root, c, err, 300);
	c->root = root;
	return rc;
}

static void config_validation(void **state)
{
	(void)state;
	struct gw_conf c;
	char err[300];
	assert_int_equal(check("{\"tenant\":\"t\",\"channels\":{\"telegram\":"
			       "{\"dm_policy\":\"pairing\",\"allow_from\":"
			       "[\"1\"]}}}",
			       &c, err),
			 CLAW_OK);
	assert_true(c.ch[GW_CH_TELEGRAM].enabled);
	assert_int_equal(c.ch[GW_CH_TELEGRAM].dm, GW_DM_PAIRING);
	assert_string_equal(c.ch[GW_CH_TELEGRAM].api_base,
			    "https://api.telegram.org");
	assert_false(c.ch[GW_CH_SLACK].enabled);
	assert_int_equal(c.max_event_age_s, 600); /* the default */
	json_decref(c.root);
	assert_int_equal(
		check("{\"tenant\":\"t\",\"channels\":{},"
		      "\"max_event_age_seconds\":3600,\"egress_allow\":"
		      "[\"a.test:443\",\"10.0.0.0/8:80\","
		      "\"[fd00::1]:80\"]}",
		      &c, err),
		CLAW_OK);
	assert_int_equal(c.max_event_age_s, 3600);
	json_decref(c.root);
	static const char *const bad[] = {
		"[]",
		"{\"channels\":{}}",
		"{\"tenant\":\"t\",\"channels\":{},\"extra\":1}",
		"{\"tenant\":\"t\",\"channels\":{\"irc\":{}}}",
		"{\"tenant\":\"t\",\"channels\":{\"slack\":{\"api_base\":"
		"\"ftp://x\"}}}",
		"{\"tenant\":\"t\",\"channels\":{\"discord\":{\"public_key\":"
		"\"zz\",\"application_id\":\"1\"}}}",
		"{\"tenant\":\"t\",\"channels\":{},\"egress_allow\":["
		"\"nohost\"]}",
		"{\"tenant\":\"t\",\"channels\":{},\"workers\":0}",
		"{\"tenant\":\"t\",\"channels\":{},\"egress_allow\":["
		"\"0.0.0.0/0:443\"]}",
		"{\"tenant\":\"t\",\"channels\":{},\"egress_allow\":["
		"\"a b:443\"]}",
		"{\"tenant\":\"t\",\"channels\":{},"
		"\"max_event_age_seconds\":59}",
		"{\"tenant\":\"t\",\"channels\":{},"
		"\"max_event_age_seconds\":604801}",
		"{\"tenant\":\"t\",\"channels\":{\"webchat\":{\"allow_from\":"
		"[1]}}}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_not_equal(check(bad[i], &c, err), CLAW_OK);
		assert_true(strlen(err) > 0);
		json_decref(c.root);
	}
}

/* The age check reads the envelope's time back (any date it can hold). */
static void stale_messages(void **state)
{
	(void)state;
	json_t *e = gw_env_new(GW_CH_TELEGRAM, "telegram:1:2", "b",
			       "telegram:1", "7", NULL, "hi", 1525176000);
	assert_int_equal(gw_env_unix_time(e), 1525176000);
	assert_true(gw_env_stale(e, 600, 1525176000 + 601));
	assert_false(gw_env_stale(e, 600, 1525176000 + 600));
	assert_false(gw_env_stale(e, 600, 1525176000 - 3600)); /* ahead */
	json_decref(e);
	e = gw_env_new(GW_CH_WHATSAPP, "whatsapp:x", "p", "whatsapp:1", "1",
		       NULL, "hi", 0);
	assert_int_equal(gw_env_unix_time(e), 0);
	assert_true(gw_env_stale(e, 600, 1700000000));
	/* a time that cannot be read is not judged */
	json_object_set_new(e, "time", json_string("yesterday"));
	assert_int_equal(gw_env_unix_time(e), -1);
	assert_false(gw_env_stale(e, 600, 1700000000));
	json_decref(e);
}

static json_t *tg_env(struct gw_chan_conf *cc, const char *text,
		      const char *chat_type, long long sender)
{
	char body[600];
	json_t *env = NULL;
	snprintf(body, sizeof(body),
		 "{\"update_id\":1,\"message\":{\"message_id\":5,\"date\":1,"
		 "\"from\":{\"id\":%lld,\"is_bot\":false,\"first_name\":\"A\"},"
		 "\"chat\":{\"id\":-9,\"type\":\"%s\"},\"text\":\"%s\"}}",
		 sender, chat_type, text);
	assert_int_equal(gw_telegram_parse(cc, body, strlen(body), &env),
			 CLAW_OK);
	assert_non_null(env);
	return env;
}

/* Check the Telegram message text from sender in a chat of chat_type
 * against p under c: the verdict must be want; returns the reason given
 * (meaningful on GW_DROP and GW_REFUSE). */
static enum gw_refuse tg_check(struct gw_policy *p, struct gw_conf *c,
			       const char *text, const char *chat_type,
			       long long sender, enum gw_verdict want)
{
	char answer[400];
	enum gw_refuse why = 0;
	json_t *e = tg_env(&c->ch[GW_CH_TELEGRAM], text, chat_type, sender);
	assert_int_equal(gw_policy_check(p, c, e, answer, sizeof(answer), &why),
			 want);
	json_decref(e);
	return why;
}

static void policies(void **state)
{
	(void)state;
	struct gw_conf c;
	char err[300], text[400];
	enum gw_refuse why;
	struct gw_policy *p = NULL;
	assert_int_equal(gw_policy_new(&p), CLAW_OK);
	assert_int_equal(check("{\"tenant\":\"t\",\"channels\":{\"telegram\":{"
			       "\"bot_username\":\"bot\",\"dm_policy\":"
			       "\"allowlist\",\"allow_from\":[\"5\"],"
			       "\"rate_limit_per_minute\":1,"
			       "\"max_message_bytes\":10}}}",
			       &c, err),
			 CLAW_OK);
	struct gw_chan_conf *cc = &c.ch[GW_CH_TELEGRAM];
	assert_int_equal(tg_check(p, &c, "hello", "group", 1, GW_DROP),
			 GW_REF_NOT_MENTIONED);
	tg_check(p, &c, "@bot hi", "group", 1, GW_PASS);
	assert_int_equal(tg_check(p, &c, "hi", "private", 1, GW_REFUSE),
			 GW_REF_NOT_ALLOWED);
	assert_int_equal(
		tg_check(p, &c, "much too long", "private", 5, GW_REFUSE),
		GW_REF_SIZE);
	json_t *e = tg_env(cc, "ok", "private", 5);
	assert_int_equal(gw_policy_check(p, &c, e, text, sizeof(text), &why),
			 GW_PASS);
	assert_int_equal(gw_policy_check(p, &c, e, text, sizeof(text), &why),
			 GW_REFUSE);
	assert_int_equal(why, GW_REF_RATE);
	assert_int_equal(gw_policy_check(p, &c, e, text, sizeof(text), &why),
			 GW_DROP);
	json_decref(e);
	gw_policy_free(p);
	json_decref(c.root);
}

/* The OpenAI endpoint's cap: max_completion_tokens (or max_tokens) into
 * the envelope for the runtime; a bad one names its field. */
static void openai_max_tokens(void **state)
{
	(void)state;
	const char *param = NULL;
	static const char base[] = "{\"model\":\"claw\",\"messages\":"
				   "[{\"role\":\"user\",\"content\":\"hi\"}]";
	static const char *const bad[] = {"0", "-1", "1.5", "\"1\"", "1000001"};
	char body[256];
	json_t *env;

	snprintf(body, sizeof(body), "%s,\"max_tokens\":1}", base);
	env = gw_openai_chat_parse(body, strlen(body), &param);
	assert_non_null(env);
	assert_int_equal(json_integer_value(json_object_get(env, "max_tokens")),
			 1);
	json_decref(env);
	snprintf(body, sizeof(body),
		 "%s,\"max_completion_tokens\":7,\"max_tokens\":9}", base);
	env = gw_openai_chat_parse(body, strlen(body), &param);
	assert_int_equal(json_integer_value(json_object_get(env, "max_tokens")),
			 7);
	json_decref(env);
	snprintf(body, sizeof(body), "%s}", base);
	env = gw_openai_chat_parse(body, strlen(body), &param);
	assert_null(json_object_get(env, "max_tokens"));
	json_decref(env);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(body, sizeof(body), "%s,\"max_completion_tokens\":%s}",
			 base, bad[i]);
		param = NULL;
		assert_null(gw_openai_chat_parse(body, strlen(body), &param));
		assert_string_equal(param, "max_completion_tokens");
	}
}

static void parsers(void **state)
{
	(void)state;
	struct gw_chan_conf cc = {0};
	json_t *env = NULL, *root = NULL, *envs = NULL;
	const char *challenge = NULL;
	int type = 0;
	static const char slack[] =
		"{\"type\":\"event_callback\",\"team_id\":\"T1\",\"event\":"
		"{\"type\":\"message\",\"channel\":\"C1\",\"user\":\"U1\","
		"\"text\":\"hi\",\"ts\":\"1.5\",\"channel_type\":\"channel\"}}";
	assert_int_equal(gw_slack_parse(&cc, slack, strlen(slack), &env,
					&challenge, &root),
			 CLAW_OK);
	assert_string_equal(gw_env_str(env, "id"), "slack:C1:1.5");
	assert_string_equal(gw_env_str(env, "conversation"), "slack:C1:1.5");
	assert_true(json_is_true(json_object_get(env, GW_ENV_GROUP)));
	json_decref(env);
	json_decref(root);
	static const char bot[] =
		"{\"type\":\"event_callback\",\"event\":{\"type\":\"message\","
		"\"bot_id\":\"B1\",\"channel\":\"C1\",\"user\":\"U1\",\"ts\":"
		"\"1\"}}";
	assert_int_equal(
		gw_slack_parse(&cc, bot, strlen(bot), &env, &challenge, &root),
		CLAW_OK);
	assert_null(env);
	json_decref(root);
	static const char wa[] =
		"{\"object\":\"whatsapp_business_account\",\"entry\":[{\"id\":"
		"\"1\",\"changes\":[{\"field\":\"messages\",\"value\":{"
		"\"metadata\":{\"phone_number_id\":\"99\"},\"statuses\":[],"
		"\"messages\":[{\"from\":\"1555\",\"id\":\"wamid.A\","
		"\"timestamp\":\"1\",\"type\":\"image\",\"image\":{\"id\":"
		"\"m1\",\"caption\":\"look\"}}]}}]}]}";
	assert_int_equal(gw_whatsapp_parse(&cc, wa, strlen(wa), &envs),
			 CLAW_OK);
	assert_int_equal(json_array_size(envs), 1);
	env = json_array_get(envs, 0);
	assert_string_equal(gw_env_str(env, "text"), "look");
	assert_string_equal(
		json_string_value(json_object_get(
			json_array_get(json_object_get(env, "attachments"), 0),
			"url")),
		"whatsapp-media:m1");
	json_decref(envs);
	static const char ping[] = "{\"type\":1}";
	assert_int_equal(gw_discord_parse(&cc, ping, strlen(ping), &type, &env),
			 CLAW_OK);
	assert_int_equal(type, 1);
	assert_null(env);
	assert_int_equal(gw_discord_parse(&cc, "[]", 2, &type, &env),
			 CLAW_ERR_PARSE);
	assert_int_equal(gw_telegram_parse(&cc, "{}", 2, &env), CLAW_ERR_PARSE);
}

static void proxy_connect(void **state)
{
	(void)state;
	char host[256];
	unsigned port = 0;
	static const char ok[] = "CONNECT api.openai.com:443 HTTP/1.1\r\n"
				 "Host: api.openai.com:443\r\n\r\n";
	assert_int_equal(gw_proxy_parse_connect(ok, strlen(ok), host,
						sizeof(host), &port),
			 CLAW_OK);
	assert_string_equal(host, "api.openai.com");
	assert_int_equal(port, 443);
	static const char v6[] = "CONNECT [::1]:8443 HTTP/1.1\r\n\r\n";
	assert_int_equal(gw_proxy_parse_connect(v6, strlen(v6), host,
						sizeof(host), &port),
			 CLAW_OK);
	assert_string_equal(host, "::1");
	static const char *const bad[] = {
		"GET http://x/ HTTP/1.1\r\n\r\n",
		"CONNECT x HTTP/1.1\r\n\r\n",
		"CONNECT x:0 HTTP/1.1\r\n\r\n",
		"CONNECT x:65536 HTTP/1.1\r\n\r\n",
		"CONNECT x:443\r\n\r\n",
		"CONNECT a/b:443 HTTP/1.1\r\n\r\n",
		"CONNECT :443 HTTP/1.1\r\n\r\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_not_equal(
			gw_proxy_parse_connect(bad[i], strlen(bad[i]), host,
					       sizeof(host), &port),
			CLAW_OK);
	json_t *allow =
		json_pack("[s, s]", "api.openai.com:443", "*.example.com:443");
	assert_true(gw_egress_allowed(allow, "API.OpenAI.com", 443));
	assert_false(gw_egress_allowed(allow, "api.openai.com", 80));
	assert_true(gw_egress_allowed(allow, "a.b.example.com", 443));
	assert_false(gw_egress_allowed(allow, "example.com", 443));
	assert_false(gw_egress_allowed(allow, "badexample.com", 443));
	assert_false(gw_egress_allowed(allow, "api.openai.com.evil", 443));
	assert_false(gw_egress_allowed(NULL, "api.openai.com", 443));
	json_decref(allow);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(split_text),
		cmocka_unit_test(envelope),
		cmocka_unit_test(stale_messages),
		cmocka_unit_test(config_validation),
		cmocka_unit_test(policies),
		cmocka_unit_test(parsers),
		cmocka_unit_test(openai_max_tokens),
		cmocka_unit_test(proxy_connect),
	};
	if (sodium_init() < 0)
		return 1;
	claw_log_init("test", CLAW_LOG_ERROR, NULL);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
