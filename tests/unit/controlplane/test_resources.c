/*
 * test_resources.c - the checks of a tenant's resources
 * (controlplane/resources.h) and of templates (templates.h): channel
 * settings and credential shapes (Telegram's token format), the persona's
 * size and UTF-8, the model's URLs, tools and policies; every refusal
 * names its field. (test_compose.c holds the proof that what is accepted
 * here the gateway and the runtime accept.)
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "resources.h"
#include "templates.h"

static json_t *J(const char *text)
{
	json_t *v = json_loads(text, 0, NULL);

	assert_non_null(v);
	return v;
}

/* r and p of a check of what: field NULL expects acceptance, else a
 * refusal naming field. */
static void verdict(int r, const struct cp_res_problem *p, const char *what,
		    const char *field)
{
	if (!field && r)
		fail_msg("%s refused: %s: %s", what, p->field, p->message);
	if (field && (r != -1 || strcmp(p->field, field)))
		fail_msg("%s: %s (wanted a refusal of %s)", what,
			 r ? p->field : "accepted", field);
}

/* Check a channel: field NULL expects acceptance, else a refusal naming
 * field. */
static void chan(const char *kind, const char *settings, const char *creds,
		 const char *field)
{
	json_t *s = J(settings), *c = creds ? J(creds) : NULL;
	struct cp_res_problem p = {{0}, {0}};
	verdict(cp_channel_check(kind, s, c, &p), &p, settings, field);
	json_decref(s);
	json_decref(c);
}

static void test_telegram_token_shape(void **state)
{
	static const char *good[] = {
		"{\"bot_token\": "
		"\"110201543:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw\"}",
		"{\"bot_token\": "
		"\"123456:ABC-DEF1234ghIkl-zyx57W2v1u123ew11\"}",
		"{\"bot_token\": "
		"\"7000000000:AAE_abcdefghijklmnopqrstuvwxyz-012\"}",
	};
	static const char *bad[] = {
		"{\"bot_token\": \"123:fleet-token\"}",
		"{\"bot_token\": \"1234:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw\"}",
		"{\"bot_token\": "
		"\"110201543AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw\"}",
		"{\"bot_token\": "
		"\"11020x543:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw\"}",
		"{\"bot_token\": \"110201543:AAHdqTcvCH1vGWJxfSeofSAs0K5PAL "
		"sa\"}",
		"{\"bot_token\": \"110201543:short\"}",
		"{\"bot_token\": \"\"}",
		"{\"bot_token\": 5}",
		"{\"bot_token\": "
		"\"110201543:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw\\n\"}",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		chan("telegram", "{}", good[i], NULL);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		chan("telegram", "{}", bad[i], "credentials.bot_token");
	chan("telegram", "{}", "{\"webhook_secret\": \"a_b-C9\"}", NULL);
	chan("telegram", "{}", "{\"webhook_secret\": \"a b\"}",
	     "credentials.webhook_secret");
	chan("telegram", "{}", "{\"app_token\": \"x\"}", "credentials.#1");
}

static void test_channel_settings(void **state)
{
	char name[64];

	(void)state;
	chan("icq", "{}", NULL, "kind");
	chan("telegram", "[]", NULL, "settings");
	chan("telegram", "{\"mode\": \"polling\", \"allow_from\": [\"1\"]}",
	     NULL, NULL);
	chan("telegram", "{\"mode\": \"push\"}", NULL, "settings.mode");
	chan("telegram", "{\"dm_policy\": \"closed\"}", NULL,
	     "settings.dm_policy");
	chan("telegram", "{\"allow_from\": [1]}", NULL, "settings.allow_from");
	chan("telegram", "{\"rate_limit_per_minute\": -1}", NULL,
	     "settings.rate_limit_per_minute");
	chan("telegram", "{\"api_base\": \"ftp://x\"}", NULL,
	     "settings.api_base");
	chan("telegram", "{\"webhook_url\": \"http://a.example/x\"}", NULL,
	     "settings.webhook_url");
	chan("telegram", "{\"webhook_url\": \"https://a.example:8443/x\"}",
	     NULL, NULL);
	chan("telegram", "{\"zzz\": 1}", NULL, "settings.#1");
	chan("webchat", "{\"api_base\": \"https://x\"}", NULL, "settings.#1");
	chan("slack", "{\"mode\": \"socket\"}",
	     "{\"bot_token\": \"xoxb-1-2-abc\", \"app_token\": \"xapp-1-A\"}",
	     NULL);
	chan("slack", "{}", "{\"signing_secret\": \"nothex\"}",
	     "credentials.signing_secret");
	chan("discord", "{\"application_id\": \"1\"}", NULL,
	     "settings.public_key");
	chan("twilio",
	     "{\"account_sid\": \"AC0123456789abcdef0123456789abcdef\", "
	     "\"webhook_url\": \"https://a.example/twilio/webhook\"}",
	     "{\"auth_token\": \"0123456789abcdef0123456789abcdef\"}", NULL);
	chan("twilio",
	     "{\"account_sid\": \"XX0123456789abcdef0123456789abcdef\", "
	     "\"webhook_url\": \"https://a.example\"}",
	     NULL, "settings.account_sid");
	chan("matrix", "{\"user_id\": \"@a:b\"}", NULL, "settings.api_base");
	chan("matrix", "{\"user_id\": \"a:b\", \"api_base\": \"https://m\"}",
	     NULL, "settings.user_id");
	chan("matrix",
	     "{\"user_id\": \"@a:b\", \"api_base\": \"https://m\", "
	     "\"mode\": \"appservice\"}",
	     "{\"as_token\": \"a\", \"hs_token\": \"h\"}", NULL);
	chan("matrix",
	     "{\"user_id\": \"@a:b\", \"api_base\": \"https://m\", "
	     "\"mode\": \"push\"}",
	     NULL, "settings.mode");
	chan("mattermost",
	     "{\"api_base\": \"https://m\", \"mode\": \"websocket\"}",
	     "{\"bot_token\": \"b\"}", NULL);
	chan("mattermost", "{\"api_base\": \"https://m\", \"mode\": \"x\"}",
	     NULL, "settings.mode");
	chan("openai", "{\"models\": []}", NULL, "settings.models");
	chan("googlechat", "{\"project_number\": \"12a\"}", NULL,
	     "settings.project_number");
	chan("googlechat", "{\"project_number\": \"12\"}",
	     "{\"service_account\": \"{\\\"client_email\\\": \\\"a\\\"}\"}",
	     "credentials.service_account");
	assert_true(cp_channel_secret_name("telegram", "bot_token", name,
					   sizeof(name)));
	assert_string_equal(name, "telegram_bot_token");
	assert_false(
		cp_channel_secret_name("telegram", "x", name, sizeof(name)));
	assert_false(
		cp_channel_secret_name("icq", "bot_token", name, sizeof(name)));
}

static void test_utf8(void **state)
{
	(void)state;
	assert_true(cp_utf8_valid((const unsigned char *)"Gr\xc3\xbc\xc3\x9f"
							 "e \xf0\x9f\x98\x80",
				  12));
	assert_false(cp_utf8_valid((const unsigned char *)"\xc3", 1));
	assert_false(cp_utf8_valid((const unsigned char *)"\xc0\xaf", 2));
	assert_false(cp_utf8_valid((const unsigned char *)"\xed\xa0\x80", 3));
	assert_false(cp_utf8_valid((const unsigned char *)"\xe0\x80\xaf", 3));
	assert_false(
		cp_utf8_valid((const unsigned char *)"\xf4\x90\x80\x80", 4));
	assert_false(cp_utf8_valid((const unsigned char *)"a\0b", 3));
	assert_false(cp_utf8_valid((const unsigned char *)"\xff", 1));
}

static void persona(const char *body, const char *field)
{
	json_t *b = J(body), *out = NULL;
	struct cp_res_problem p = {{0}, {0}};
	verdict(cp_persona_check(b, &out, &p), &p, body, field);
	assert_true(!out == !!field);
	json_decref(out);
	json_decref(b);
}

static void test_persona(void **state)
{
	char *big = malloc(CP_PERSONA_TEXT_MAX + 40);
	json_t *b, *out = NULL;
	struct cp_res_problem p;

	(void)state;
	persona("{\"soul\": \"hi\", \"agents\": \"x\", \"skills\": "
		"{\"greet\": \"hello\"}}",
		NULL);
	persona("{\"agents\": \"x\"}", "soul");
	persona("{\"soul\": \"x\", \"skills\": {\"-a\": \"x\"}}", "skills.#1");
	persona("{\"soul\": \"x\", \"skills\": {\"a\": 1}}", "skills.a");
	persona("{\"soul\": \"x\", \"encoding\": \"utf16\"}", "encoding");
	/* base64 of "Gr\xfc\xdf" (Latin-1): not UTF-8 */
	persona("{\"soul\": \"R3L83w==\", \"encoding\": \"base64\"}", "soul");
	persona("{\"soul\": \"!!!\", \"encoding\": \"base64\"}", "soul");
	/* base64 of UTF-8 "Grüße" */
	b = J("{\"soul\": \"R3LDvMOfZQ==\", \"encoding\": \"base64\"}");
	assert_int_equal(cp_persona_check(b, &out, &p), 0);
	assert_string_equal(json_string_value(json_object_get(out, "soul")),
			    "Gr\xc3\xbc\xc3\x9f"
			    "e");
	assert_null(json_object_get(out, "encoding"));
	json_decref(out);
	json_decref(b);
	/* the size bound: 64 KiB passes, one byte more does not */
	assert_non_null(big);
	memset(big, 'a', CP_PERSONA_TEXT_MAX + 1);
	big[CP_PERSONA_TEXT_MAX] = '\0';
	b = json_pack("{s:s}", "soul", big);
	assert_int_equal(cp_persona_check(b, &out, &p), 0);
	json_decref(out);
	json_decref(b);
	big[CP_PERSONA_TEXT_MAX] = 'a';
	big[CP_PERSONA_TEXT_MAX + 1] = '\0';
	b = json_pack("{s:s}", "soul", big);
	assert_int_equal(cp_persona_check(b, &out, &p), -1);
	assert_string_equal(p.field, "soul");
	json_decref(b);
	free(big);
}

/* A check of kind k (through cp_res_check, the templates' path, except
 * for api_key which templates refuse). */
static void res(int (*fn)(const json_t *, struct cp_res_problem *),
		const char *body, const char *field)
{
	json_t *b = J(body);
	struct cp_res_problem p = {{0}, {0}};
	verdict(fn(b, &p), &p, body, field);
	json_decref(b);
}

#define M                                                                      \
	"\"kind\": \"openai\", \"base_url\": \"https://llm.example/v1\", "     \
	"\"model\": \"m\""

static void test_model(void **state)
{
	(void)state;
	res(cp_model_check, "{" M "}", NULL);
	res(cp_model_check,
	    "{" M ", \"api_key\": \"sk-1\", \"limits\": "
	    "{\"max_steps\": 3}, \"fallback\": {\"kind\": "
	    "\"anthropic\", \"base_url\": \"http://a\", "
	    "\"model\": \"c\", \"api_key_secret\": \"k\"}}",
	    NULL);
	res(cp_model_check,
	    "{\"kind\": \"openai\", \"base_url\": \"file:///x\", \"model\": "
	    "\"m\"}",
	    "base_url");
	res(cp_model_check,
	    "{\"kind\": \"gpt\", \"base_url\": \"https://x\", \"model\": "
	    "\"m\"}",
	    "kind");
	res(cp_model_check,
	    "{\"kind\": \"openai\", \"base_url\": \"https://x\"}", "model");
	res(cp_model_check,
	    "{" M ", \"api_key\": \"a\", \"api_key_secret\": "
	    "\"b\"}",
	    "api_key");
	res(cp_model_check, "{" M ", \"api_key_secret\": \".x\"}",
	    "api_key_secret");
	res(cp_model_check, "{" M ", \"limits\": {\"max_steps\": 1001}}",
	    "limits.max_steps");
	res(cp_model_check, "{" M ", \"limits\": {\"x\": 1}}", "limits.#1");
	res(cp_model_check, "{" M ", \"timeout_ms\": 5}", "timeout_ms");
	res(cp_model_check,
	    "{" M ", \"fallback\": {\"kind\": \"openai\", "
	    "\"base_url\": \"gopher://x\", \"model\": \"m\"}}",
	    "fallback.base_url");
}

static void test_tools_and_policies(void **state)
{
	json_t *b, *refs, *eg;
	char hp[300];

	(void)state;
	res(cp_tools_check,
	    "{\"servers\": [{\"name\": \"web\", \"url\": "
	    "\"https://mcp.example/mcp\", \"secrets\": {\"Authorization\": "
	    "\"web_auth\"}}, {\"name\": \"fs\", \"image\": "
	    "\"registry.test/mcp/fs:1\", \"command\": [\"serve\"], \"egress\": "
	    "[\"api.github.com:443\"]}], \"allow\": [\"web__*\"]}",
	    NULL);
	res(cp_tools_check, "{\"servers\": [{\"name\": \"a\"}]}",
	    "servers[0].url");
	res(cp_tools_check,
	    "{\"servers\": [{\"name\": \"a\", \"url\": \"ws://x\"}]}",
	    "servers[0].url");
	res(cp_tools_check,
	    "{\"servers\": [{\"name\": \"a\", \"image\": "
	    "\"registry.test/a/../b\"}]}",
	    "servers[0].image");
	res(cp_tools_check,
	    "{\"servers\": [{\"name\": \"a\", \"url\": \"https://x\", "
	    "\"egress\": [\"nohost\"]}]}",
	    "servers[0].egress");
	res(cp_tools_check,
	    "{\"servers\": [{\"name\": \"a\", \"url\": \"https://x\"}, "
	    "{\"name\": \"a\", \"url\": \"https://y\"}]}",
	    "servers[1].name");
	res(cp_tools_check,
	    "{\"servers\": [{\"name\": \"a\", \"url\": \"https://x\", "
	    "\"secrets\": {\"H\": \"bad name\"}}]}",
	    "servers[0].secrets");
	/* a sandboxed server's limits and scratch space */
	res(cp_tools_check,
	    "{\"servers\": [{\"name\": \"a\", \"image\": \"r.test/i:1\", "
	    "\"limits\": {\"cpus\": 0.5, \"memory_mb\": 64, \"pids\": 32}, "
	    "\"scratch_mb\": 16}]}",
	    NULL);
	res(cp_tools_check,
	    "{\"servers\": [{\"name\": \"a\", \"image\": \"r.test/i:1\", "
	    "\"limits\": {\"memory_mb\": 8}}]}",
	    "servers[0].limits");
	res(cp_tools_check,
	    "{\"servers\": [{\"name\": \"a\", \"image\": \"r.test/i:1\", "
	    "\"limits\": {\"disk\": 1}}]}",
	    "servers[0].limits");
	res(cp_tools_check,
	    "{\"servers\": [{\"name\": \"a\", \"url\": \"https://x\", "
	    "\"scratch_mb\": 8}]}",
	    "servers[0].limits");
	/* OAuth: a url server's; its grant's secret may not exist yet */
	res(cp_tools_check,
	    "{\"servers\": [{\"name\": \"a\", \"url\": \"https://x\", "
	    "\"oauth\": {\"token_secret\": \"a_grant\", \"client_id\": "
	    "\"c1\", \"client_secret_secret\": \"a_client\"}}]}",
	    NULL);
	res(cp_tools_check,
	    "{\"servers\": [{\"name\": \"a\", \"image\": \"r.test/i:1\", "
	    "\"oauth\": {}}]}",
	    "servers[0].oauth");
	res(cp_tools_check,
	    "{\"servers\": [{\"name\": \"a\", \"url\": \"https://x\", "
	    "\"oauth\": {\"token_secret\": \"bad name\"}}]}",
	    "servers[0].oauth");
	res(cp_tools_check,
	    "{\"servers\": [{\"name\": \"a\", \"url\": \"https://x\", "
	    "\"oauth\": {\"scope\": \"x\"}}]}",
	    "servers[0].oauth.#1");
	b = J("{\"servers\": [{\"name\": \"w\", \"url\": "
	      "\"https://mcp.example/mcp\", \"secrets\": {\"A\": \"s1\", "
	      "\"B\": \"s1\"}}, {\"name\": \"i\", \"image\": \"r.test/i:1\", "
	      "\"egress\": [\"e.example:8443\"], \"secrets\": {\"C\": "
	      "\"s2\"}}]}");
	refs = cp_res_secret_refs(CP_RES_TOOLS, b);
	eg = cp_res_egress_needs(CP_RES_TOOLS, b);
	assert_int_equal(json_array_size(refs), 2);
	assert_int_equal(json_array_size(eg), 2);
	assert_string_equal(json_string_value(json_array_get(eg, 0)),
			    "mcp.example:443");
	assert_string_equal(json_string_value(json_array_get(eg, 1)),
			    "e.example:8443");
	json_decref(refs);
	json_decref(eg);
	json_decref(b);
	assert_true(cp_url_host_port("http://u:p@h.example:8080/x", hp,
				     sizeof(hp)));
	assert_string_equal(hp, "h.example:8080");
	assert_true(cp_url_host_port("http://[::1]/x", hp, sizeof(hp)));
	assert_string_equal(hp, "[::1]:80");
	assert_false(cp_url_host_port("ftp://h", hp, sizeof(hp)));
	assert_false(cp_url_host_port("https:///x", hp, sizeof(hp)));

	res(cp_policies_check,
	    "{\"channels\": {\"telegram\": {\"dm_policy\": \"pairing\", "
	    "\"allow_from\": [\"1\"]}}, \"elicitation\": \"ask\", "
	    "\"tool_categories\": {\"shop/pay*\": \"payment\"}, "
	    "\"tool_policy\": {\"default\": \"ask\", \"approval_ttl_s\": 60, "
	    "\"rules\": [{\"tool\": \"mail/send\", \"args\": [{\"pointer\": "
	    "\"/to\", \"glob\": \"*@a.example\"}], \"action\": \"allow\"}, "
	    "{\"category\": \"payment\", \"action\": \"ask\", "
	    "\"chat_approval\": true}]}}",
	    NULL);
	res(cp_policies_check, "{\"channels\": {\"icq\": {}}}", "channels");
	res(cp_policies_check,
	    "{\"channels\": {\"telegram\": {\"mode\": \"polling\"}}}",
	    "channels.telegram.#1");
	res(cp_policies_check,
	    "{\"tool_policy\": {\"rules\": [{\"action\": \"deny\"}]}}",
	    "tool_policy.rules[0].tool");
	res(cp_policies_check,
	    "{\"tool_policy\": {\"rules\": [{\"tool\": \"a[\", \"action\": "
	    "\"deny\"}]}}",
	    "tool_policy.rules[0].tool");
	res(cp_policies_check,
	    "{\"tool_policy\": {\"rules\": [{\"category\": \"magic\", "
	    "\"action\": \"deny\"}]}}",
	    "tool_policy.rules[0].category");
	res(cp_policies_check,
	    "{\"tool_policy\": {\"rules\": [{\"tool\": \"a\", \"action\": "
	    "\"deny\", \"chat_approval\": true}]}}",
	    "tool_policy.rules[0].chat_approval");
	res(cp_policies_check, "{\"elicitation\": \"always\"}", "elicitation");
}

static void tpl(const char *body, const char *field)
{
	json_t *b = J(body), *out = NULL;
	struct cp_res_problem p = {{0}, {0}};
	verdict(cp_template_check(b, &out, &p), &p, body, field);
	json_decref(out);
	json_decref(b);
}

static void test_templates(void **state)
{
	(void)state;
	tpl("{\"persona\": {\"soul\": \"x\"}, \"model\": {" M "}, "
	    "\"channels\": {\"telegram\": {\"mode\": \"polling\"}}, "
	    "\"tools\": {\"allow\": [\"*\"]}, \"policies\": {}}",
	    NULL);
	tpl("{\"model\": {" M ", \"api_key\": \"sk\"}}", "model.api_key");
	tpl("{\"channels\": {\"telegram\": {\"mode\": \"x\"}}}",
	    "channels.settings.mode");
	tpl("{\"channels\": {\"icq\": {}}}", "channels");
	tpl("{\"secrets\": {}}", "#1");
	tpl("{\"persona\": {\"soul\": 1}}", "persona.soul");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_telegram_token_shape),
		cmocka_unit_test(test_channel_settings),
		cmocka_unit_test(test_utf8),
		cmocka_unit_test(test_persona),
		cmocka_unit_test(test_model),
		cmocka_unit_test(test_tools_and_policies),
		cmocka_unit_test(test_templates),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
