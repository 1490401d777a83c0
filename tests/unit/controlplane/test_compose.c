/*
 * test_compose.c - a deploy's configs composed from a tenant's resources
 * (controlplane/compose.h), and the proof that what the control plane's
 * resource checks accept the daemons accept: the composed gateway config
 * goes through the gateway's own gw_conf_check and the runtime config
 * through the runtime's own rt_config_load (with the secret files it
 * names), the persona inside it (or left out under a workspace). Only this test links the gateway's and runtime's code beside the
 * control plane's; the daemons themselves stay apart (ARCHITECTURE.md).
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
#include <sodium.h>

#include "compose.h"
#include "resources.h"
/* by path: controlplane/ has a config.h and an errors.h of its own */
#include "../../../gateway/gw.h"
#include "../../../runtime/config.h"

static char tmpdir[] = "/tmp/cp_compose_XXXXXX";

static json_t *J(const char *text)
{
	json_t *v = json_loads(text, 0, NULL);

	assert_non_null(v);
	return v;
}

static void write_file(const char *name, const char *text)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* The smallest default runtime config: one provider. */
static json_t *min_runtime(void)
{
	return J("{\"providers\": [{\"kind\": \"openai\", \"base_url\": "
		 "\"http://l/v1\", \"model\": \"m\"}]}");
}

/* What a side said of a case, for a failure's message. */
static const char *verdict(bool ok)
{
	return ok ? "accepts" : "refuses";
}

/* The gateway's verdict on a config; err gets its reason. */
static enum claw_rc gw_accepts(json_t *cfg, char *err, size_t errlen)
{
	struct gw_conf c;

	memset(&c, 0, sizeof(c));
	return gw_conf_check(cfg, &c, err, errlen);
}

/* The runtime's verdict, with every secret the config names as a file. */
static enum claw_rc rt_accepts(const json_t *cfg, char *err, size_t errlen)
{
	struct rt_config c;
	char path[256];
	enum claw_rc rc;

	memset(&c, 0, sizeof(c));
	snprintf(path, sizeof(path), "%s/runtime.json", tmpdir);
	assert_int_equal(json_dump_file(cfg, path, 0), 0);
	rc = rt_config_load(path, tmpdir, &c, err, errlen);
	if (!rc)
		rt_config_release(&c);
	return rc;
}

#define RES                                                                    \
	"{\"channels\": {"                                                     \
	"  \"telegram\": {\"version\": 3, \"body\": {\"mode\": \"webhook\", "  \
	"    \"bot_username\": \"acme_bot\", \"dm_policy\": \"open\"}},"       \
	"  \"slack\": {\"version\": 1, \"body\": {\"mode\": \"events\"}}},"    \
	" \"persona\": {\"version\": 7, \"body\": {\"soul\": \"Be kind.\", "   \
	"   \"skills\": {\"greet\": \"Say hi.\"}}},"                           \
	" \"model\": {\"version\": 2, \"body\": {\"kind\": \"openai\", "       \
	"   \"base_url\": \"https://llm.example/v1\", \"model\": \"m\", "      \
	"   \"api_key_secret\": \"model_api_key\", \"max_tokens\": 256, "      \
	"   \"limits\": {\"max_steps\": 5}, \"fallback\": {\"kind\": "         \
	"   \"anthropic\", \"base_url\": \"https://a.example\", \"model\": "   \
	"   \"c\", \"api_key_secret\": \"model_fallback_api_key\"}}},"         \
	" \"tools\": {\"version\": 4, \"body\": {\"servers\": ["               \
	"   {\"name\": \"web\", \"url\": \"https://mcp.example/mcp\", "        \
	"    \"headers\": {\"X-Client\": \"claw\"}, "                          \
	"    \"secrets\": {\"Authorization\": \"web_auth\"}},"                 \
	"   {\"name\": \"fs\", \"image\": \"registry.test/mcp/fs:1\", "        \
	"    \"egress\": [\"api.github.com:443\"]}], \"allow\": "              \
	"[\"web__*\"]}},"                                                      \
	" \"policies\": {\"version\": 1, \"body\": {"                          \
	"   \"channels\": {\"telegram\": {\"dm_policy\": \"pairing\"}},"       \
	"   \"elicitation\": \"ask\", \"tool_policy\": {\"default\": "         \
	"\"ask\", "                                                            \
	"   \"rules\": [{\"category\": \"payment\", \"action\": \"deny\"}]},"  \
	"   \"tool_categories\": {\"shop/pay*\": \"payment\"}}}}"

static void test_compose_all(void **state)
{
	json_t *res = J(RES);
	json_t *dgw =
		J("{\"tenant\": \"x\", \"egress_allow\": "
		  "[\"llm.fleet:443\"], \"channels\": {\"webchat\": {}}}");
	json_t *drt = J("{\"providers\": [{\"kind\": \"openai\", "
			"\"base_url\": \"https://llm.fleet/v1\", \"model\": "
			"\"d\"}], \"mcp_servers\": [{\"name\": \"mem\", "
			"\"url\": \"https://mem.fleet/mcp\"}]}");
	struct cp_composed c;
	json_t *gw, *rt, *eg, *want;
	char err[400] = "";

	(void)state;
	assert_int_equal(cp_compose_build(res, "acme", dgw, drt, &c), CLAW_OK);
	gw = c.gateway_config;
	rt = c.runtime_config;
	assert_string_equal(json_string_value(json_object_get(gw, "tenant")),
			    "acme");
	/* the policies resource's channel policy lies over the channel */
	assert_string_equal(
		json_string_value(json_object_get(
			json_object_get(json_object_get(gw, "channels"),
					"telegram"),
			"dm_policy")),
		"pairing");
	assert_non_null(
		json_object_get(json_object_get(gw, "channels"), "webchat"));
	eg = json_object_get(gw, "egress_allow");
	want = J("[\"llm.fleet:443\", \"llm.example:443\", "
		 "\"a.example:443\", \"mcp.example:443\", "
		 "\"api.github.com:443\"]");
	assert_true(json_equal(eg, want));
	json_decref(want);
	/* runtime: the model's providers replace the default's */
	assert_int_equal(json_array_size(json_object_get(rt, "providers")), 2);
	assert_string_equal(
		json_string_value(json_object_get(
			json_array_get(json_object_get(rt, "providers"), 1),
			"name")),
		"fallback");
	/* the remote tool joins the default's servers, the image tool not */
	assert_int_equal(json_array_size(json_object_get(rt, "mcp_servers")),
			 2);
	assert_int_equal(json_array_size(c.tool_servers), 1);
	assert_string_equal(
		json_string_value(json_object_get(
			json_array_get(c.tool_servers, 0), "image")),
		"registry.test/mcp/fs:1");
	assert_string_equal(
		json_string_value(json_object_get(c.persona, "soul")),
		"Be kind.");
	/* the persona reaches the runtime inside its config */
	want = J("{\"soul\": \"Be kind.\", \"skills\": {\"greet\": "
		 "\"Say hi.\"}}");
	assert_true(json_equal(json_object_get(rt, "persona"), want));
	json_decref(want);
	want = J("{\"channels\": {\"telegram\": 3, \"slack\": 1}, "
		 "\"persona\": 7, \"model\": 2, \"tools\": 4, "
		 "\"policies\": 1}");
	assert_true(json_equal(c.versions, want));
	json_decref(want);

	/* both daemons take what was composed */
	if (gw_accepts(gw, err, sizeof(err)))
		fail_msg("the gateway refuses the composed config: %s", err);
	write_file("model_api_key", "sk-1\n");
	write_file("model_fallback_api_key", "sk-2\n");
	write_file("web_auth", "Bearer x\n");
	if (rt_accepts(rt, err, sizeof(err)))
		fail_msg("the runtime refuses the composed config: %s", err);

	cp_composed_release(&c);
	json_decref(res);
	json_decref(dgw);
	json_decref(drt);
}

/* A default runtime config naming a workspace keeps the repository's
 * persona: none goes into runtime_config, the version is still recorded. */
static void test_compose_workspace_wins(void **state)
{
	json_t *res = J("{\"persona\": {\"version\": 2, \"body\": "
			"{\"soul\": \"Inline.\"}}}");
	json_t *drt = min_runtime();
	struct cp_composed c;
	char err[400] = "";

	(void)state;
	assert_int_equal(json_object_set_new(drt, "workspace",
					     J("{\"path\": \"/srv/agent\"}")),
			 0);
	assert_int_equal(cp_compose_build(res, "t", NULL, drt, &c), CLAW_OK);
	assert_null(json_object_get(c.runtime_config, "persona"));
	assert_int_equal(
		json_integer_value(json_object_get(c.versions, "persona")), 2);
	if (rt_accepts(c.runtime_config, err, sizeof(err)))
		fail_msg("the runtime refuses: %s", err);
	cp_composed_release(&c);
	/* without the workspace it goes in, and the runtime takes it */
	json_object_del(drt, "workspace");
	assert_int_equal(cp_compose_build(res, "t", NULL, drt, &c), CLAW_OK);
	assert_string_equal(
		json_string_value(json_object_get(
			json_object_get(c.runtime_config, "persona"), "soul")),
		"Inline.");
	if (rt_accepts(c.runtime_config, err, sizeof(err)))
		fail_msg("the runtime refuses: %s", err);
	cp_composed_release(&c);
	json_decref(drt);
	json_decref(res);
}

/* Whether the control plane's persona check and the runtime agree on body
 * (consumed): what the control plane stores goes through compose to the
 * runtime; what it refuses is given to the runtime as it is. */
static void persona_agree(json_t *body, bool ok, const char *what)
{
	json_t *drt = min_runtime();
	json_t *stored = NULL;
	struct cp_res_problem p;
	struct cp_composed c;
	char err[400] = "";
	bool cp_ok = cp_persona_check(body, &stored, &p) == 0, rt_ok;

	if (cp_ok) {
		json_t *res = json_pack("{s:{s:i, s:o}}", "persona", "version",
					1, "body", stored);

		assert_int_equal(cp_compose_build(res, "t", NULL, drt, &c),
				 CLAW_OK);
		rt_ok = rt_accepts(c.runtime_config, err, sizeof(err)) ==
			CLAW_OK;
		cp_composed_release(&c);
		json_decref(res);
	} else {
		assert_int_equal(json_object_set(drt, "persona", body), 0);
		rt_ok = rt_accepts(drt, err, sizeof(err)) == CLAW_OK;
	}
	if (cp_ok != ok || rt_ok != ok)
		fail_msg("persona %s: control plane %s, runtime %s (%s)", what,
			 verdict(cp_ok), verdict(rt_ok), err);
	json_decref(drt);
	json_decref(body);
}

/* The persona's checks agree, at the edges of each bound. */
static void test_persona_checks_agree(void **state)
{
	static const struct {
		const char *persona;
		bool ok;
	} cases[] = {
		{"{\"soul\": \"s\"}", true},
		{"{\"soul\": \"\"}", true},
		{"{\"soul\": \"s\", \"agents\": \"a\", \"skills\": "
		 "{\"a-b_C9\": \"t\", \"x\": \"\"}}",
		 true},
		{"{\"soul\": \"SGk=\", \"encoding\": \"base64\", "
		 "\"skills\": {\"k\": \"w6k=\"}}",
		 true},
		{"{\"soul\": \"s\", \"skills\": {\"-a\": \"t\"}}", false},
		{"{\"soul\": \"s\", \"skills\": {\"a.b\": \"t\"}}", false},
		{"{\"soul\": \"s\", \"skills\": {\"\": \"t\"}}", false},
		{"{\"soul\": \"s\", \"skills\": {\"a\": 1}}", false},
		{"{\"soul\": \"s\", \"skills\": []}", false},
		{"{\"agents\": \"a\"}", false},
		{"{\"soul\": 1}", false},
		{"{\"soul\": \"s\", \"extra\": 1}", false},
	};
	char name[80];
	json_t *skills;
	char *big;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		persona_agree(J(cases[i].persona), cases[i].ok,
			      cases[i].persona);
	/* a name of 64 characters passes, 65 do not */
	memset(name, 'n', sizeof(name));
	name[64] = '\0';
	persona_agree(
		json_pack("{s:s, s:{s:s}}", "soul", "s", "skills", name, "t"),
		true, "64-byte name");
	name[64] = 'n';
	name[65] = '\0';
	persona_agree(
		json_pack("{s:s, s:{s:s}}", "soul", "s", "skills", name, "t"),
		false, "65-byte name");
	/* 64 skills pass, 65 do not */
	skills = json_object();
	for (int i = 0; i < 64; i++) {
		snprintf(name, sizeof(name), "s%d", i);
		json_object_set_new(skills, name, json_string("t"));
	}
	persona_agree(json_pack("{s:s, s:O}", "soul", "s", "skills", skills),
		      true, "64 skills");
	json_object_set_new(skills, "more", json_string("t"));
	persona_agree(json_pack("{s:s, s:o}", "soul", "s", "skills", skills),
		      false, "65 skills");
	/* a text of 64 KiB passes, one byte more does not */
	big = malloc(65538);
	assert_non_null(big);
	memset(big, 'b', 65537);
	big[65536] = '\0';
	persona_agree(json_pack("{s:s, s:s}", "soul", "s", "agents", big), true,
		      "64 KiB agents");
	big[65536] = 'b';
	big[65537] = '\0';
	persona_agree(json_pack("{s:s, s:s}", "soul", "s", "agents", big),
		      false, "64 KiB + 1 agents");
	free(big);
}

static void test_compose_nothing(void **state)
{
	json_t *res = json_object();
	struct cp_composed c;

	(void)state;
	assert_int_equal(cp_compose_build(res, "t", NULL, NULL, &c), CLAW_OK);
	assert_string_equal(
		json_string_value(json_object_get(c.gateway_config, "tenant")),
		"t");
	assert_int_equal(
		json_object_size(json_object_get(c.gateway_config, "channels")),
		0);
	assert_null(c.persona);
	assert_null(json_object_get(c.runtime_config, "persona"));
	assert_int_equal(json_array_size(c.tool_servers), 0);
	assert_int_equal(
		json_object_size(json_object_get(c.versions, "channels")), 0);
	assert_null(json_object_get(c.runtime_config, "providers"));
	cp_composed_release(&c);
	json_decref(res);
}

/* Each channel setting the control plane accepts the gateway accepts, and
 * each it refuses the gateway refuses: a corpus of both sides. */
static void test_channel_checks_agree(void **state)
{
	static const struct {
		const char *kind, *settings;
		bool ok;
	} cases[] = {
		{"telegram", "{\"mode\": \"polling\"}", true},
		{"telegram", "{\"mode\": \"push\"}", false},
		{"telegram", "{\"webhook_url\": \"https://a.example:88/x\"}",
		 true},
		{"telegram", "{\"webhook_url\": \"https://a.example:99/x\"}",
		 false},
		{"telegram", "{\"webhook_url\": \"http://a.example/x\"}",
		 false},
		{"telegram",
		 "{\"dm_policy\": \"allowlist\", \"allow_from\": "
		 "[\"1\", \"2\"]}",
		 true},
		{"telegram", "{\"group_policy\": \"never\"}", false},
		{"telegram", "{\"allow_from\": [\"\"]}", false},
		{"telegram", "{\"rate_limit_per_minute\": 100001}", false},
		{"telegram", "{\"max_message_bytes\": 0}", false},
		{"telegram", "{\"api_base\": \"ftp://x\"}", false},
		{"telegram", "{\"unknown\": true}", false},
		{"slack", "{\"mode\": \"socket\", \"bot_user_id\": \"U1\"}",
		 true},
		{"slack", "{\"mode\": \"rtm\"}", false},
		{"discord",
		 "{\"public_key\": "
		 "\"0123456789abcdef0123456789abcdef0123456789abcdef0123456789"
		 "abcdef\", \"application_id\": \"11\", \"gateway\": true}",
		 true},
		{"discord",
		 "{\"public_key\": \"00\", \"application_id\": \"1\"}", false},
		{"discord", "{\"application_id\": \"1\"}", false},
		{"whatsapp", "{\"phone_number_id\": \"106\"}", true},
		{"whatsapp", "{}", false},
		{"webchat", "{\"rate_limit_per_minute\": 10}", true},
		{"webchat", "{\"api_base\": \"https://x\"}", false},
		{"openai", "{\"models\": [\"claw\", \"gpt-4o\"]}", true},
		{"openai", "{\"models\": [\"a b\"]}", false},
		{"line", "{\"dm_policy\": \"pairing\"}", true},
		{"twilio",
		 "{\"account_sid\": \"AC0123456789abcdef0123456789abcdef\", "
		 "\"webhook_url\": \"https://a.example/twilio/webhook\", "
		 "\"max_segments\": 4}",
		 true},
		{"twilio",
		 "{\"account_sid\": \"AC0123456789abcdef0123456789abcdef\", "
		 "\"webhook_url\": \"https://a.example\", \"max_segments\": "
		 "11}",
		 false},
		{"twilio",
		 "{\"account_sid\": \"AC0123456789abcdef0123456789abcdef\", "
		 "\"webhook_url\": \"https://a.example\", "
		 "\"messaging_service_sid\": \"MGx\"}",
		 false},
		{"mattermost", "{\"api_base\": \"https://chat.example\"}",
		 true},
		{"mattermost", "{}", false},
		{"teams", "{\"app_id\": \"8f1c3a52\"}", true},
		{"teams", "{\"app_id\": \"a b\"}", false},
		{"teams", "{\"app_id\": \"a\", \"service_url_prefixes\": []}",
		 false},
		{"googlechat", "{\"project_number\": \"614286524212\"}", true},
		{"googlechat", "{\"project_number\": \"6x\"}", false},
		{"feishu", "{\"app_id\": \"cli_a1\"}", true},
		{"feishu", "{\"app_id\": \"a b\"}", false},
		{"matrix",
		 "{\"api_base\": \"https://m\", \"user_id\": \"@c:m\"}", true},
		{"matrix", "{\"api_base\": \"https://m\", \"user_id\": \"c\"}",
		 false},
		{"signal",
		 "{\"api_base\": \"http://s:8080\", \"account\": "
		 "\"+15550001000\"}",
		 true},
		{"signal", "{\"api_base\": \"http://s\", \"account\": \"a b\"}",
		 false},
		{"irc",
		 "{\"server\": \"irc.example.net:6697\", \"nick\": "
		 "\"clawbot\", "
		 "\"channels\": [\"#claw\"], \"flood_burst\": 2}",
		 true},
		{"irc", "{\"server\": \"irc.example.net\", \"nick\": \"c\"}",
		 false},
		{"irc",
		 "{\"server\": \"irc.example.net:6697\", \"nick\": \"9c\"}",
		 false},
		{"irc",
		 "{\"server\": \"i:6697\", \"nick\": \"c\", \"channels\": "
		 "[\"claw\"]}",
		 false},
		{"irc",
		 "{\"server\": \"i:6697\", \"nick\": \"c\", "
		 "\"flood_interval_ms\": 50}",
		 false},
		{"email",
		 "{\"imap_url\": \"imaps://mail.example.com\", \"smtp_url\": "
		 "\"smtps://mail.example.com:465\", \"address\": "
		 "\"bot@example.com\", \"authserv_id\": \"mail.example.com\", "
		 "\"dm_policy\": \"allowlist\"}",
		 true},
		{"email",
		 "{\"imap_url\": \"imaps://mail.example.com\", \"smtp_url\": "
		 "\"smtps://mail.example.com\", \"address\": "
		 "\"bot@example.com\", \"authserv_id\": \"mail.example.com\"}",
		 false},
		{"email",
		 "{\"imap_url\": \"https://mail.example.com\", \"smtp_url\": "
		 "\"smtps://mail.example.com\", \"address\": "
		 "\"bot@example.com\", \"authserv_id\": \"m\", \"dm_policy\": "
		 "\"pairing\"}",
		 false},
		{"email",
		 "{\"imap_url\": \"imaps://m\", \"smtp_url\": \"smtps://m\", "
		 "\"address\": \"Bot@example.com\", \"authserv_id\": \"m\", "
		 "\"dm_policy\": \"pairing\"}",
		 false},
	};
	char err[400];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *s = J(cases[i].settings);
		json_t *gw = json_pack("{s:s, s:{s:O}}", "tenant", "t",
				       "channels", cases[i].kind, s);
		struct cp_res_problem p;
		bool cp_ok = cp_channel_check(cases[i].kind, s, NULL, &p) == 0;
		bool gw_ok = gw_accepts(gw, err, sizeof(err)) == CLAW_OK;

		if (cp_ok != cases[i].ok || gw_ok != cases[i].ok)
			fail_msg("%s %s: control plane %s, gateway %s "
				 "(expected %s)",
				 cases[i].kind, cases[i].settings,
				 verdict(cp_ok), verdict(gw_ok),
				 cases[i].ok ? "accepted" : "refused");
		json_decref(gw);
		json_decref(s);
	}
}

/* The same for the policies resource's tool policy: each the control
 * plane accepts the runtime loads, each it refuses the runtime refuses. */
static void test_policy_checks_agree(void **state)
{
	static const struct {
		const char *policies;
		bool ok;
	} cases[] = {
		{"{\"tool_policy\": {\"default\": \"ask\", \"rules\": "
		 "[{\"tool\": "
		 "\"fs/[]a]*\", \"action\": \"deny\"}]}}",
		 true},
		{"{\"tool_policy\": {\"rules\": [{\"tool\": \"a[!]\", "
		 "\"action\": "
		 "\"deny\"}]}}",
		 false},
		{"{\"tool_policy\": {\"rules\": [{\"tool\": \"a\\\\\", "
		 "\"action\": \"deny\"}]}}",
		 false},
		{"{\"tool_policy\": {\"rules\": [{\"tool\": \"a\\\\[\", "
		 "\"action\": \"deny\"}]}}",
		 true},
		{"{\"tool_policy\": {\"rules\": [{\"category\": \"payment\", "
		 "\"action\": \"ask\", \"chat_approval\": true, \"args\": "
		 "[{\"pointer\": \"/to~1x\", \"glob\": \"*\"}]}]}}",
		 true},
		{"{\"tool_policy\": {\"rules\": [{\"tool\": \"x\", \"action\": "
		 "\"deny\", \"args\": [{\"pointer\": \"/a~2\", \"glob\": "
		 "\"*\"}]}]}}",
		 false},
		{"{\"tool_policy\": {\"rules\": [{\"tool\": \"x\", \"action\": "
		 "\"deny\", \"args\": [{\"pointer\": \"a\", \"glob\": "
		 "\"*\"}]}]}}",
		 false},
		{"{\"tool_policy\": {\"rules\": [{\"category\": \"magic\", "
		 "\"action\": \"deny\"}]}}",
		 false},
		{"{\"tool_policy\": {\"approval_ttl_s\": 0}}", false},
		{"{\"tool_policy\": {\"default\": \"maybe\"}}", false},
		{"{\"tool_categories\": {\"shop/*\": \"payment\"}, "
		 "\"elicitation\": \"decline\"}",
		 true},
		{"{\"tool_categories\": {\"shop/*\": \"shopping\"}}", false},
	};
	char err[400];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *pol = J(cases[i].policies);
		json_t *res = json_pack("{s:{s:i, s:O}}", "policies", "version",
					1, "body", pol);
		json_t *drt = min_runtime();
		struct cp_res_problem p;
		struct cp_composed c;
		bool cp_ok = cp_policies_check(pol, &p) == 0, rt_ok;

		assert_int_equal(cp_compose_build(res, "t", NULL, drt, &c),
				 CLAW_OK);
		rt_ok = rt_accepts(c.runtime_config, err, sizeof(err)) ==
			CLAW_OK;
		if (cp_ok != cases[i].ok || rt_ok != cases[i].ok)
			fail_msg("%s: control plane %s, runtime %s (%s)",
				 cases[i].policies, verdict(cp_ok),
				 verdict(rt_ok), err);
		cp_composed_release(&c);
		json_decref(drt);
		json_decref(res);
		json_decref(pol);
	}
}

static int setup(void **state)
{
	(void)state;
	return sodium_init() >= 0 && mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[300];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_compose_all),
		cmocka_unit_test(test_compose_nothing),
		cmocka_unit_test(test_compose_workspace_wins),
		cmocka_unit_test(test_persona_checks_agree),
		cmocka_unit_test(test_channel_checks_agree),
		cmocka_unit_test(test_policy_checks_agree),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
