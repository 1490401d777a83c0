/*
 * test_gw_apps.c - the pure parts of the Microsoft Teams, Google Chat,
 * Feishu and Matrix adapters: each parser on the platform's documented
 * payload shapes (Teams' activities from the Bot Framework docs, Google
 * Chat's interaction events, Feishu's im.message.receive_v1, a Matrix
 * /sync response) and on malformed ones; Teams' token-to-activity
 * binding (serviceUrl claim, endorsed channel) and serviceUrl prefixes;
 * signal-cli's receive notifications; the size rules (JSON bytes,
 * twice-escaped JSON for Feishu); the
 * derived idempotency keys; RFC 3339 times; the new config fields and
 * their refusals.
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

#include "claw/buf.h"
#include "gw.h"
#include "gw_testutil.h"

/* ------------------------------------------------------------- Teams */
/* the Bot Framework docs' Teams personal message, trimmed */
static const char teams_personal[] =
	"{\"type\":\"message\",\"id\":\"1485983408511\",\"timestamp\":"
	"\"2017-02-01T21:10:07.437Z\",\"serviceUrl\":"
	"\"https://smba.trafficmanager.net/amer/\",\"channelId\":\"msteams\","
	"\"from\":{\"id\":\"29:1XJKJMvc5GBtc2JwZq0oj8tHZmzrQgFmB39ATiQWA85g\","
	"\"name\":\"Megan Bowen\",\"aadObjectId\":"
	"\"97b1ec61-45bf-453c-9059-6e8984e0cef4\"},\"conversation\":"
	"{\"conversationType\":\"personal\",\"tenantId\":\"72f988bf\",\"id\":"
	"\"a:1Jl4s5yBlxOhnbCBe7xzHsi4lcntzf3hSXrWCp9RAmgcQtzSwNThy8SOJh\"},"
	"\"recipient\":{\"id\":\"28:c9e8c047-2a74-40a2-b28a-b162d5f5327c\","
	"\"name\":\"Teams TestBot\"},\"textFormat\":\"plain\",\"text\":"
	"\"Hello\",\"entities\":[{\"type\":\"clientInfo\",\"locale\":"
	"\"en-US\"}]}";

static const char teams_channel[] =
	"{\"type\":\"message\",\"id\":\"1481567603816\",\"timestamp\":"
	"\"2016-12-12T18:33:24.123+01:00\",\"serviceUrl\":"
	"\"https://smba.trafficmanager.net/amer/\",\"channelId\":\"msteams\","
	"\"from\":{\"id\":\"29:1abc\",\"name\":\"Ann\"},\"conversation\":"
	"{\"isGroup\":true,\"conversationType\":\"channel\",\"id\":"
	"\"19:ed1ac4a1@thread.tacv2;messageid=1481567603816\"},\"recipient\":"
	"{\"id\":\"28:bot\",\"name\":\"Teams TestBot\"},\"text\":"
	"\"<at>Teams TestBot</at> what's up?\",\"entities\":[{\"type\":"
	"\"mention\",\"mentioned\":{\"id\":\"28:bot\",\"name\":"
	"\"Teams TestBot\"},\"text\":\"<at>Teams TestBot</at>\"}],"
	"\"attachments\":[{\"contentType\":\"image/png\",\"contentUrl\":"
	"\"https://smba.trafficmanager.net/amer/v3/attachments/x\",\"name\":"
	"\"a.png\"},{\"contentType\":\"text/html\",\"content\":\"<p>x</p>\"}]}";

static const struct gw_chan_conf no_conf;

static json_t *teams(const char *body)
{
	return gw_test_parse(gw_teams_parse, &no_conf, body, CLAW_OK);
}

static void teams_parse(void **state)
{
	(void)state;
	json_t *env = teams(teams_personal);
	assert_non_null(env);
	assert_int_equal(gw_env_check(env), CLAW_OK);
	assert_string_equal(gw_env_str(env, "channel"), "teams");
	assert_string_equal(gw_env_str(env, "text"), "Hello");
	assert_string_equal(gw_env_str(env, "time"), "2017-02-01T21:10:07Z");
	assert_string_equal(gw_env_str(env, "account"),
			    "28:c9e8c047-2a74-40a2-b28a-b162d5f5327c");
	assert_string_equal(gw_env_str(env, "conversation"),
			    "teams:a:1Jl4s5yBlxOhnbCBe7xzHsi4lcntzf3hSXrWCp9RAm"
			    "gcQtzSwNThy8SOJh");
	assert_int_equal(strncmp(gw_env_str(env, "id"), "teams:", 6), 0);
	assert_non_null(strstr(gw_env_str(env, "id"), ":1485983408511"));
	assert_string_equal(gw_route_str(env, "activity_id"), "1485983408511");
	assert_string_equal(gw_route_str(env, "service_url"),
			    "https://smba.trafficmanager.net/amer/");
	assert_false(json_is_true(json_object_get(env, GW_ENV_GROUP)));
	json_decref(env);

	/* a channel thread: a group message, the mention stripped, the
	 * offset time converted, the image kept, the HTML copy left */
	env = teams(teams_channel);
	assert_string_equal(gw_env_str(env, "text"), "what's up?");
	assert_string_equal(gw_env_str(env, "time"), "2016-12-12T17:33:24Z");
	assert_true(json_is_true(json_object_get(env, GW_ENV_GROUP)));
	assert_true(json_is_true(json_object_get(env, GW_ENV_MENTIONED)));
	json_t *att = json_object_get(env, "attachments");
	assert_int_equal(json_array_size(att), 1);
	assert_string_equal(json_string_value(json_object_get(
				    json_array_get(att, 0), "url")),
			    "teams-attachment:https://smba.trafficmanager.net/"
			    "amer/v3/attachments/x");
	/* the same activity id in another conversation is another message */
	char other[sizeof(teams_channel) + 8];
	snprintf(other, sizeof(other), "%s", teams_channel);
	char *p = strstr(other, "19:ed1ac4a1");
	p[3] = 'f';
	json_t *env2 = teams(other);
	assert_string_not_equal(gw_env_str(env, "id"), gw_env_str(env2, "id"));
	json_decref(env2);
	json_decref(env);

	/* not answered: other activity types, an empty message */
	assert_null(teams("{\"type\":\"conversationUpdate\",\"serviceUrl\":"
			  "\"https://x/\",\"conversation\":{\"id\":\"a\"}}"));
	assert_null(teams("{\"type\":\"message\",\"id\":\"1\",\"serviceUrl\":"
			  "\"https://x/\",\"conversation\":{\"id\":\"a\"},"
			  "\"from\":{\"id\":\"u\"},\"recipient\":{\"id\":"
			  "\"b\"},\"text\":\"  \"}"));
	/* malformed */
	static const char *const bad[] = {
		"",
		"[]",
		"{\"type\":\"message\"}",
		"{\"type\":5,\"serviceUrl\":\"https://x/\",\"conversation\":"
		"{\"id\":\"a\"}}",
		"{\"type\":\"message\",\"id\":\"1\",\"serviceUrl\":\"https://x/"
		"\",\"conversation\":{\"id\":\"a\"},\"recipient\":{\"id\":"
		"\"b\"},\"text\":\"hi\"}",
		"{\"type\":\"message\",\"id\":\"1\",\"serviceUrl\":\"https://x/"
		"\",\"conversation\":{\"id\":\"a\"},\"from\":{\"id\":\"u\"},"
		"\"recipient\":{\"id\":\"b\"},\"text\":7}",
	};
	gw_test_all_refused(gw_teams_parse, &no_conf, bad,
			    sizeof(bad) / sizeof(bad[0]));
}

static void teams_binding(void **state)
{
	(void)state;
	json_t *claims = json_pack("{s:s}", "serviceUrl",
				   "https://smba.trafficmanager.net/amer/");
	json_t *teams_only = json_pack("[s, s]", "msteams", "skype");
	json_t *web_only = json_pack("[s]", "webchat");
	size_t n = strlen(teams_personal);
	assert_true(gw_teams_claims_match(claims, NULL, teams_personal, n));
	assert_true(
		gw_teams_claims_match(claims, teams_only, teams_personal, n));
	/* a key not endorsed for the activity's channel */
	assert_false(
		gw_teams_claims_match(claims, web_only, teams_personal, n));
	/* the claim for another serviceUrl (one more slash, another region) */
	json_t *c2 = json_pack("{s:s}", "serviceUrl",
			       "https://smba.trafficmanager.net/amer");
	assert_false(gw_teams_claims_match(c2, NULL, teams_personal, n));
	json_decref(c2);
	c2 = json_pack("{s:s}", "serviceUrl",
		       "https://smba.trafficmanager.net/emea/");
	assert_false(gw_teams_claims_match(c2, NULL, teams_personal, n));
	json_decref(c2);
	c2 = json_object(); /* no claim */
	assert_false(gw_teams_claims_match(c2, NULL, teams_personal, n));
	json_decref(c2);
	assert_false(gw_teams_claims_match(claims, NULL, "{}", 2));
	/* where replies may go: https by default, else the prefixes */
	struct gw_chan_conf cc = {0};
	assert_true(gw_teams_service_url_ok(
		&cc, "https://smba.trafficmanager.net/amer/"));
	assert_false(gw_teams_service_url_ok(&cc, "http://10.0.0.1/"));
	assert_false(gw_teams_service_url_ok(&cc, "https://a b/"));
	assert_false(gw_teams_service_url_ok(&cc, NULL));
	cc.service_url_prefixes =
		json_pack("[s]", "https://smba.trafficmanager.net/");
	assert_true(gw_teams_service_url_ok(
		&cc, "https://smba.trafficmanager.net/emea/"));
	assert_false(gw_teams_service_url_ok(&cc, "https://evil.example/"));
	assert_false(gw_teams_service_url_ok(
		&cc, "https://smba.trafficmanager.net.evil.example/"));
	json_decref(cc.service_url_prefixes);
	json_decref(claims);
	json_decref(teams_only);
	json_decref(web_only);
}

/* -------------------------------------------------------- Google Chat */
/* "Interaction event" of the Chat API docs: a message in a space that
 * @mentions the app, trimmed */
static const char gc_room[] =
	"{\"type\":\"MESSAGE\",\"eventTime\":\"2017-03-02T19:02:59.910959Z\","
	"\"space\":{\"name\":\"spaces/AAAAAAAAAAA\",\"displayName\":\"Chuck "
	"Norris Discussion Room\",\"type\":\"ROOM\",\"spaceType\":\"SPACE\"},"
	"\"message\":{\"name\":\"spaces/AAAAAAAAAAA/messages/CCCCCCCCCCC\","
	"\"sender\":{\"name\":\"users/12345678901234567890\",\"displayName\":"
	"\"Chuck Norris\",\"email\":\"chuck@example.com\",\"type\":\"HUMAN\"},"
	"\"createTime\":\"2017-03-02T19:02:59.910959Z\",\"text\":\"@TestBot "
	"Violence is my last option.\",\"argumentText\":\" Violence is my "
	"last option.\",\"thread\":{\"name\":\"spaces/AAAAAAAAAAA/threads/"
	"BBBBBBBBBBB\"},\"annotations\":[{\"type\":\"USER_MENTION\","
	"\"startIndex\":0,\"length\":8,\"userMention\":{\"user\":{\"name\":"
	"\"users/0\",\"displayName\":\"TestBot\",\"type\":\"BOT\"},\"type\":"
	"\"MENTION\"}}],\"attachment\":[{\"name\":\"spaces/AAAAAAAAAAA/"
	"messages/CCCCCCCCCCC/attachments/A1\",\"contentName\":\"pic.png\","
	"\"contentType\":\"image/png\",\"attachmentDataRef\":{\"resourceName\":"
	"\"RES1\"},\"source\":\"UPLOADED_CONTENT\"}]},\"user\":{\"name\":"
	"\"users/12345678901234567890\"}}";

static json_t *gchat(const char *body)
{
	return gw_test_parse(gw_googlechat_parse, &no_conf, body, CLAW_OK);
}

static void googlechat_parse(void **state)
{
	(void)state;
	json_t *env = gchat(gc_room);
	assert_non_null(env);
	assert_int_equal(gw_env_check(env), CLAW_OK);
	assert_string_equal(
		gw_env_str(env, "id"),
		"googlechat:spaces/AAAAAAAAAAA/messages/CCCCCCCCCCC");
	assert_string_equal(
		gw_env_str(env, "conversation"),
		"googlechat:spaces/AAAAAAAAAAA/threads/BBBBBBBBBBB");
	assert_string_equal(gw_env_str(env, "text"),
			    "Violence is my last option.");
	assert_string_equal(gw_env_str(env, "time"), "2017-03-02T19:02:59Z");
	assert_true(json_is_true(json_object_get(env, GW_ENV_GROUP)));
	assert_true(json_is_true(json_object_get(env, GW_ENV_MENTIONED)));
	assert_string_equal(gw_route_str(env, "thread"),
			    "spaces/AAAAAAAAAAA/threads/BBBBBBBBBBB");
	assert_string_equal(
		json_string_value(json_object_get(
			json_array_get(json_object_get(env, "attachments"), 0),
			"url")),
		"googlechat-attachment:RES1");
	json_decref(env);
	/* a DM: one conversation, no thread in the route */
	json_t *o = json_loads(gc_room, 0, NULL);
	json_object_set_new(o, "space",
			    json_pack("{s:s, s:s, s:s}", "name",
				      "spaces/AAAAAAAAAAA", "type", "DM",
				      "spaceType", "DIRECT_MESSAGE"));
	char *dm = json_dumps(o, 0);
	json_decref(o);
	env = gchat(dm);
	free(dm);
	assert_string_equal(gw_env_str(env, "conversation"),
			    "googlechat:spaces/AAAAAAAAAAA");
	assert_null(gw_route_str(env, "thread"));
	assert_false(json_is_true(json_object_get(env, GW_ENV_GROUP)));
	json_decref(env);
	/* left: other event types, another app's message */
	assert_null(gchat("{\"type\":\"ADDED_TO_SPACE\",\"space\":{}}"));
	char bot[sizeof(gc_room)];
	snprintf(bot, sizeof(bot), "%s", gc_room);
	memcpy(strstr(bot, "\"HUMAN\""), "\"BOT\"  ", 7);
	assert_null(gchat(bot));
	/* malformed: names that are not Chat's, a message of another space,
	 * a path in a name */
	static const char *const bad[] = {
		"",
		"[]",
		"{\"type\":\"MESSAGE\"}",
		"{\"type\":\"MESSAGE\",\"space\":{\"name\":\"spaces/"
		"A\",\"type\":"
		"\"DM\"},\"message\":{\"name\":\"spaces/B/messages/1\","
		"\"sender\":{\"name\":\"users/1\"},\"text\":\"x\"}}",
		"{\"type\":\"MESSAGE\",\"space\":{\"name\":\"spaces/A/../B\","
		"\"type\":\"DM\"},\"message\":{\"name\":\"spaces/A/../B/"
		"messages/1\",\"sender\":{\"name\":\"users/"
		"1\"},\"text\":\"x\"}}",
		"{\"type\":\"MESSAGE\",\"space\":{\"name\":\"spaces/A?x=1\","
		"\"type\":\"DM\"},\"message\":{\"name\":\"spaces/A?x=1/"
		"messages/1\",\"sender\":{\"name\":\"users/"
		"1\"},\"text\":\"x\"}}",
		"{\"type\":\"MESSAGE\",\"space\":{\"name\":\"spaces/"
		"A\",\"type\":"
		"\"DM\"},\"message\":{\"name\":\"spaces/A/messages/1\","
		"\"sender\":{\"name\":\"users/1\"},\"text\":\"x\",\"thread\":"
		"{\"name\":\"spaces/A/threads/../x\"}}}",
	};
	gw_test_all_refused(gw_googlechat_parse, &no_conf, bad,
			    sizeof(bad) / sizeof(bad[0]));
}

/* ------------------------------------------------------------- Feishu */
/* im.message.receive_v1 as Feishu's event reference shows it, in a
 * group, mentioning the bot and Tom */
static const char fs_group[] =
	"{\"schema\":\"2.0\",\"header\":{\"event_id\":"
	"\"5e3702a84e847582be8db7fb73283c02\",\"event_type\":"
	"\"im.message.receive_v1\",\"create_time\":\"1608725989000\","
	"\"token\":\"rvaYgkR2Oo0wO0ir7ZDGWdlhAvdqKYnn\",\"app_id\":"
	"\"cli_9f5343c580712544\",\"tenant_key\":\"2ca1d211f64f6438\"},"
	"\"event\":{\"sender\":{\"sender_id\":{\"union_id\":"
	"\"on_8ed6aa67826108097d9ee143816345\",\"user_id\":\"e33ggbyz\","
	"\"open_id\":\"ou_84aad35d084aa403a838cf73ee18467\"},\"sender_type\":"
	"\"user\",\"tenant_key\":\"736588c9260f175e\"},\"message\":{"
	"\"message_id\":\"om_5ce6d572455d361153b7cb51da133945\",\"root_id\":"
	"\"om_5ce6d572455d361153b7cb5xxfsdfsdfdsf\",\"create_time\":"
	"\"1609073151345\",\"chat_id\":\"oc_5ce6d572455d361153b7xx51da133945\","
	"\"chat_type\":\"group\",\"message_type\":\"text\",\"content\":"
	"\"{\\\"text\\\":\\\"@_user_1 ask @_user_2 please\\\"}\",\"mentions\":"
	"[{\"key\":\"@_user_1\",\"id\":{\"open_id\":\"ou_bot\"},\"name\":"
	"\"Claw\"},{\"key\":\"@_user_2\",\"id\":{\"open_id\":\"ou_tom\"},"
	"\"name\":\"Tom\"}]}}}";

static const char fs_token[] = "rvaYgkR2Oo0wO0ir7ZDGWdlhAvdqKYnn";

static enum claw_rc feishu(const struct gw_chan_conf *cc, const char *body,
			   json_t **env)
{
	char *ch = NULL;
	enum claw_rc rc =
		gw_feishu_parse(cc, fs_token, body, strlen(body), &ch, env);
	assert_null(ch);
	return rc;
}

static void feishu_parse(void **state)
{
	(void)state;
	struct gw_chan_conf cc = {.app_id = "cli_9f5343c580712544",
				  .bot_user_id = "ou_bot"};
	json_t *env = NULL;
	assert_int_equal(feishu(&cc, fs_group, &env), CLAW_OK);
	assert_int_equal(gw_env_check(env), CLAW_OK);
	assert_string_equal(gw_env_str(env, "id"),
			    "feishu:om_5ce6d572455d361153b7cb51da133945");
	assert_string_equal(gw_env_str(env, "conversation"),
			    "feishu:oc_5ce6d572455d361153b7xx51da133945");
	assert_string_equal(gw_env_str(env, "text"), "ask @Tom please");
	assert_string_equal(gw_env_str(env, "time"), "2020-12-27T12:45:51Z");
	assert_true(json_is_true(json_object_get(env, GW_ENV_GROUP)));
	assert_true(json_is_true(json_object_get(env, GW_ENV_MENTIONED)));
	assert_string_equal(gw_route_str(env, "message_id"),
			    "om_5ce6d572455d361153b7cb51da133945");
	json_decref(env);
	/* another bot id: not mentioned; without one, any mention counts */
	cc.bot_user_id = "ou_other";
	assert_int_equal(feishu(&cc, fs_group, &env), CLAW_OK);
	assert_false(json_is_true(json_object_get(env, GW_ENV_MENTIONED)));
	assert_string_equal(gw_env_str(env, "text"), "@Claw ask @Tom please");
	json_decref(env);
	cc.bot_user_id = NULL;
	assert_int_equal(feishu(&cc, fs_group, &env), CLAW_OK);
	assert_true(json_is_true(json_object_get(env, GW_ENV_MENTIONED)));
	json_decref(env);
	/* the verification token and the app are checked */
	char *ch = NULL;
	assert_int_equal(gw_feishu_parse(&cc, "another-token", fs_group,
					 strlen(fs_group), &ch, &env),
			 CLAW_ERR_CRYPTO);
	assert_int_equal(gw_feishu_parse(&cc, NULL, fs_group, strlen(fs_group),
					 &ch, &env),
			 CLAW_ERR_CRYPTO);
	cc.app_id = "cli_other";
	assert_int_equal(feishu(&cc, fs_group, &env), CLAW_ERR_CRYPTO);
	cc.app_id = NULL;
	/* the URL verification */
	static const char chal[] =
		"{\"challenge\":\"ajls384kdjx98XX\",\"token\":"
		"\"rvaYgkR2Oo0wO0ir7ZDGWdlhAvdqKYnn\","
		"\"type\":\"url_verification\"}";
	assert_int_equal(
		gw_feishu_parse(&cc, fs_token, chal, strlen(chal), &ch, &env),
		CLAW_OK);
	assert_string_equal(ch, "ajls384kdjx98XX");
	free(ch);
	assert_int_equal(
		gw_feishu_parse(&cc, "x", chal, strlen(chal), &ch, &env),
		CLAW_ERR_CRYPTO);
	/* images; an app's message; other events */
	json_t *o = json_loads(fs_group, 0, NULL);
	json_t *m = json_object_get(json_object_get(o, "event"), "message");
	json_object_set_new(m, "message_type", json_string("image"));
	json_object_set_new(m, "content",
			    json_string("{\"image_key\":\"img_v2_041b28e3\"}"));
	json_object_set_new(m, "chat_type", json_string("p2p"));
	char *img = json_dumps(o, 0);
	assert_int_equal(feishu(&cc, img, &env), CLAW_OK);
	assert_string_equal(
		json_string_value(json_object_get(
			json_array_get(json_object_get(env, "attachments"), 0),
			"url")),
		"feishu-file:om_5ce6d572455d361153b7cb51da133945:img_v2_"
		"041b28e3");
	assert_false(json_is_true(json_object_get(env, GW_ENV_GROUP)));
	json_decref(env);
	free(img);
	json_object_set_new(
		json_object_get(json_object_get(o, "event"), "sender"),
		"sender_type", json_string("app"));
	img = json_dumps(o, 0);
	assert_int_equal(feishu(&cc, img, &env), CLAW_OK);
	assert_null(env);
	free(img);
	json_object_set_new(json_object_get(o, "header"), "event_type",
			    json_string("im.chat.member.bot.added_v1"));
	img = json_dumps(o, 0);
	assert_int_equal(feishu(&cc, img, &env), CLAW_OK);
	assert_null(env);
	free(img);
	json_decref(o);
	/* malformed: schema 1.0, content not JSON, ids with paths */
	static const char *const bad[] = {
		"",
		"[]",
		"{\"schema\":\"1.0\",\"header\":{}}",
		"{\"uuid\":\"x\",\"token\":"
		"\"rvaYgkR2Oo0wO0ir7ZDGWdlhAvdqKYnn\","
		"\"type\":\"event_callback\",\"event\":{}}",
		"{\"schema\":\"2.0\",\"header\":{\"token\":"
		"\"rvaYgkR2Oo0wO0ir7ZD"
		"GWdlhAvdqKYnn\",\"event_type\":\"im.message.receive_v1\"},"
		"\"event\":{\"sender\":{\"sender_id\":{\"open_id\":\"ou_1\"},"
		"\"sender_type\":\"user\"},\"message\":{\"message_id\":"
		"\"om_1/../x\",\"chat_id\":\"oc_1\",\"chat_type\":\"p2p\","
		"\"message_type\":\"text\",\"content\":\"{}\"}}}",
		"{\"schema\":\"2.0\",\"header\":{\"token\":"
		"\"rvaYgkR2Oo0wO0ir7ZD"
		"GWdlhAvdqKYnn\",\"event_type\":\"im.message.receive_v1\"},"
		"\"event\":{\"sender\":{\"sender_id\":{\"open_id\":\"ou_1\"},"
		"\"sender_type\":\"user\"},\"message\":{\"message_id\":"
		"\"om_1\",\"chat_id\":\"oc_1\",\"chat_type\":\"p2p\","
		"\"message_type\":\"text\",\"content\":\"not json\"}}}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		env = NULL;
		assert_int_equal(feishu(&cc, bad[i], &env), CLAW_ERR_PARSE);
		assert_null(env);
	}
}

static void feishu_signature(void **state)
{
	(void)state;
	/* computed with Python's hashlib: sha256(ts + nonce + key + body) */
	static const char body[] = "{\"encrypt\":\"P37w+"
				   "VZImNgPEO1RBhJ6RtKl7n6zymIbEG1pReEzghk=\"}";
	static const char sig[] = "bed8fdd3e4bbc581364c140b572ec676edff3db612d5"
				  "7bbc07a24d062c40ddf3";
	size_t n = strlen(body);
	assert_true(gw_feishu_verify("test key", "1700000000", "n0nce", sig,
				     body, n));
	assert_false(gw_feishu_verify("test key", "1700000001", "n0nce", sig,
				      body, n));
	assert_false(gw_feishu_verify("test key", "1700000000", "n0nc3", sig,
				      body, n));
	assert_false(gw_feishu_verify("test kez", "1700000000", "n0nce", sig,
				      body, n));
	assert_false(gw_feishu_verify("test key", "1700000000", "n0nce", sig,
				      body, n - 1));
	assert_false(gw_feishu_verify("test key", "1700000000", "n0nce",
				      "BED8FDD3E4BBC581364C140B572EC676EDFF3DB6"
				      "12D57BBC07A24D062C40DDF3",
				      body, n));
	assert_false(gw_feishu_verify("test key", "1700000000", "n0nce", NULL,
				      body, n));
	assert_false(gw_feishu_verify("test key", NULL, "n0nce", sig, body, n));
}

/* ------------------------------------------------------------- Matrix */
/* a /sync response in the shape of the spec's example, trimmed: a
 * group room with a message mentioning the bot, a notice, an edit, an
 * encrypted event; a DM without a summary; an invite */
static const char mx_sync[] =
	"{\"next_batch\":\"s72595_4483_1934\",\"rooms\":{\"join\":{"
	"\"!726s6s6q:example.com\":{\"summary\":{\"m.heroes\":["
	"\"@alice:example.com\"],\"m.joined_member_count\":3},\"timeline\":{"
	"\"events\":[{\"type\":\"m.room.message\",\"event_id\":"
	"\"$143273582443PhrSn:example.org\",\"sender\":\"@alice:example.org\","
	"\"origin_server_ts\":1432735824653,\"content\":{\"msgtype\":"
	"\"m.text\",\"body\":\"hi claw\",\"m.mentions\":{\"user_ids\":["
	"\"@claw:example.com\"]}}},{\"type\":\"m.room.message\",\"event_id\":"
	"\"$n1:example.org\",\"sender\":\"@bot:example.org\","
	"\"origin_server_ts\":1432735824654,\"content\":{\"msgtype\":"
	"\"m.notice\",\"body\":\"beep\"}},{\"type\":\"m.room.message\","
	"\"event_id\":\"$e1:example.org\",\"sender\":\"@alice:example.org\","
	"\"origin_server_ts\":1432735824655,\"content\":{\"msgtype\":"
	"\"m.text\",\"body\":\"* hi\",\"m.relates_to\":{\"rel_type\":"
	"\"m.replace\",\"event_id\":\"$x\"}}},{\"type\":\"m.room.encrypted\","
	"\"event_id\":\"$c1:example.org\",\"sender\":\"@bob:example.org\","
	"\"origin_server_ts\":1432735824656,\"content\":{\"algorithm\":"
	"\"m.megolm.v1.aes-sha2\",\"ciphertext\":\"AwgAEn\"}},{\"type\":"
	"\"m.room.member\",\"state_key\":\"@bob:example.org\"}],\"limited\":"
	"true,\"prev_batch\":\"t34-23535_0_0\"}},\"!dm:example.com\":{"
	"\"timeline\":{\"events\":[{\"type\":\"m.room.message\",\"event_id\":"
	"\"$d1:example.org\",\"sender\":\"@alice:example.org\","
	"\"origin_server_ts\":1432735825000,\"content\":{\"msgtype\":"
	"\"m.image\",\"body\":\"cat.png\",\"url\":"
	"\"mxc://example.org/JWEIFJgwEIhweiWJE\"}},{\"type\":"
	"\"m.room.message\",\"event_id\":\"$own:example.org\",\"sender\":"
	"\"@claw:example.com\",\"origin_server_ts\":1432735825001,"
	"\"content\":{\"msgtype\":\"m.text\",\"body\":\"mine\"}}]}}},"
	"\"invite\":{\"!696r7674:example.com\":{\"invite_state\":{\"events\":"
	"[]}}},\"leave\":{}},\"presence\":{\"events\":[]}}";

static void matrix_parse(void **state)
{
	(void)state;
	struct gw_chan_conf cc = {.bot_user_id = "@claw:example.com"};
	json_t *out = NULL;
	json_t *members = json_pack("{s:i}", "!dm:example.com", 2);
	assert_int_equal(
		gw_matrix_parse(&cc, mx_sync, strlen(mx_sync), members, &out),
		CLAW_OK);
	assert_string_equal(
		json_string_value(json_object_get(out, "next_batch")),
		"s72595_4483_1934");
	json_t *envs = json_object_get(out, "envelopes");
	assert_int_equal(json_array_size(envs), 2);
	json_t *e = json_array_get(envs, 0);
	assert_int_equal(gw_env_check(e), CLAW_OK);
	assert_string_equal(gw_env_str(e, "id"),
			    "matrix:$143273582443PhrSn:example.org");
	assert_string_equal(gw_env_str(e, "conversation"),
			    "matrix:!726s6s6q:example.com");
	assert_string_equal(gw_env_str(e, "text"), "hi claw");
	assert_string_equal(gw_env_str(e, "time"), "2015-05-27T14:10:24Z");
	assert_true(json_is_true(json_object_get(e, GW_ENV_GROUP)));
	assert_true(json_is_true(json_object_get(e, GW_ENV_MENTIONED)));
	assert_string_equal(gw_route_str(e, "room_id"),
			    "!726s6s6q:example.com");
	e = json_array_get(envs, 1);
	assert_false(json_is_true(json_object_get(e, GW_ENV_GROUP)));
	assert_string_equal(
		json_string_value(json_object_get(
			json_array_get(json_object_get(e, "attachments"), 0),
			"url")),
		"matrix-media:mxc://example.org/JWEIFJgwEIhweiWJE");
	assert_string_equal(json_string_value(json_array_get(
				    json_object_get(out, "invites"), 0)),
			    "!696r7674:example.com");
	assert_string_equal(json_string_value(json_array_get(
				    json_object_get(out, "encrypted"), 0)),
			    "!726s6s6q:example.com");
	assert_int_equal(json_integer_value(json_object_get(
				 json_object_get(out, "members"),
				 "!726s6s6q:example.com")),
			 3);
	json_decref(out);
	/* a room the earlier responses said is large: a group; no mention */
	json_object_set_new(members, "!dm:example.com", json_integer(9));
	assert_int_equal(
		gw_matrix_parse(&cc, mx_sync, strlen(mx_sync), members, &out),
		CLAW_OK);
	e = json_array_get(json_object_get(out, "envelopes"), 1);
	assert_true(json_is_true(json_object_get(e, GW_ENV_GROUP)));
	assert_false(json_is_true(json_object_get(e, GW_ENV_MENTIONED)));
	json_decref(out);
	json_decref(members);
	/* a body holding the user id, a matrix.to link: mentions */
	static const char link[] =
		"{\"next_batch\":\"n\",\"rooms\":{\"join\":{\"!r:x\":{"
		"\"summary\":{\"m.joined_member_count\":4},\"timeline\":{"
		"\"events\":[{\"type\":\"m.room.message\",\"event_id\":\"$a\","
		"\"sender\":\"@u:x\",\"origin_server_ts\":1,\"content\":{"
		"\"msgtype\":\"m.text\",\"body\":\"Claw: hi\",\"format\":"
		"\"org.matrix.custom.html\",\"formatted_body\":\"<a href=\\\""
		"https://matrix.to/#/@claw:example.com\\\">Claw</a>: hi\"}},"
		"{\"type\":\"m.room.message\",\"event_id\":\"$b\",\"sender\":"
		"\"@u:x\",\"origin_server_ts\":1,\"content\":{\"msgtype\":"
		"\"m.emote\",\"body\":\"waves at @claw:example.com\"}}]}}}}}";
	assert_int_equal(gw_matrix_parse(&cc, link, strlen(link), NULL, &out),
			 CLAW_OK);
	envs = json_object_get(out, "envelopes");
	assert_true(json_is_true(
		json_object_get(json_array_get(envs, 0), GW_ENV_MENTIONED)));
	assert_true(json_is_true(
		json_object_get(json_array_get(envs, 1), GW_ENV_MENTIONED)));
	assert_string_equal(gw_env_str(json_array_get(envs, 1), "text"),
			    "* waves at @claw:example.com");
	json_decref(out);
	/* malformed: no next_batch, room ids that are not, event ids with
	 * a path, a timeline that is no array */
	static const char *const bad[] = {
		"",
		"[]",
		"{\"rooms\":{}}",
		"{\"next_batch\":\"n\",\"rooms\":{\"join\":{\"room\":{}}}}",
		"{\"next_batch\":\"n\",\"rooms\":{\"join\":{\"!a/b:x\":{}}}}",
		"{\"next_batch\":\"n\",\"rooms\":{\"join\":{\"!a:x\":{"
		"\"timeline\":{\"events\":{}}}}}}",
		"{\"next_batch\":\"n\",\"rooms\":{\"join\":{\"!a:x\":{"
		"\"timeline\":{\"events\":[{\"type\":\"m.room.message\","
		"\"event_id\":\"$a/../b\",\"sender\":\"@u:x\","
		"\"origin_server_ts\":1,\"content\":{}}]}}}}}",
		"{\"next_batch\":\"n\",\"rooms\":{\"invite\":{\"#alias:x\":{}}}"
		"}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		out = NULL;
		assert_int_equal(gw_matrix_parse(&cc, bad[i], strlen(bad[i]),
						 NULL, &out),
				 CLAW_ERR_PARSE);
		assert_null(out);
	}
	/* transaction ids: stable per message and piece */
	char a[40], b[40];
	gw_matrix_txn_id("matrix:$a", 0, a);
	gw_matrix_txn_id("matrix:$a", 0, b);
	assert_string_equal(a, b);
	assert_int_equal(strlen(a), 36);
	gw_matrix_txn_id("matrix:$a", 1, b);
	assert_string_not_equal(a, b);
}

/* ------------------------------------------------------------- Signal */
/* signal-cli-jsonrpc(5)'s receive notification, and its params as the
 * HTTP daemon's events carry them */
static const char sg_note[] =
	"{\"jsonrpc\":\"2.0\",\"method\":\"receive\",\"params\":{\"envelope\":"
	"{\"source\":\"+33123456789\",\"sourceNumber\":\"+33123456789\","
	"\"sourceUuid\":\"uuid\",\"sourceName\":\"name\",\"sourceDevice\":1,"
	"\"timestamp\":1631458508784,\"dataMessage\":{\"timestamp\":"
	"1631458508784,\"message\":\"foobar\",\"expiresInSeconds\":0,"
	"\"viewOnce\":false,\"mentions\":[],\"attachments\":[],\"contacts\":"
	"[]}},\"account\":\"+15550001000\"}}";

static void signal_parse(void **state)
{
	(void)state;
	struct gw_chan_conf cc = {.account_sid = "+15550001000"};
	json_t *env = gw_test_parse(gw_signal_parse, &cc, sg_note, CLAW_OK);
	assert_int_equal(gw_env_check(env), CLAW_OK);
	assert_string_equal(gw_env_str(env, "id"),
			    "signal:+33123456789:1631458508784");
	assert_string_equal(gw_env_str(env, "conversation"),
			    "signal:+33123456789");
	assert_string_equal(gw_env_str(env, "text"), "foobar");
	assert_string_equal(gw_route_str(env, "recipient"), "+33123456789");
	assert_false(json_is_true(json_object_get(env, GW_ENV_GROUP)));
	json_decref(env);
	/* the params alone (the HTTP daemon's events), in a group that
	 * mentions us, with an attachment */
	json_t *o = json_loads(sg_note, 0, NULL);
	json_t *p = json_incref(json_object_get(o, "params"));
	json_decref(o);
	json_t *dm =
		json_object_get(json_object_get(p, "envelope"), "dataMessage");
	json_object_set_new(dm, "groupInfo",
			    json_pack("{s:s, s:s}", "groupId",
				      "Pmpi+EfPW==", "type", "DELIVER"));
	json_object_set_new(dm, "mentions",
			    json_pack("[{s:s, s:i, s:i}]", "number",
				      "+15550001000", "start", 0, "length", 1));
	json_object_set_new(dm, "attachments",
			    json_pack("[{s:s, s:s, s:s}]", "contentType",
				      "image/jpeg", "id", "ZjQ1Yj.jpg",
				      "filename", "cat.jpg"));
	char *text = json_dumps(p, 0);
	assert_int_equal(gw_signal_parse(&cc, text, strlen(text), &env),
			 CLAW_OK);
	assert_string_equal(gw_env_str(env, "conversation"),
			    "signal:group:Pmpi+EfPW==");
	assert_string_equal(gw_route_str(env, "group_id"), "Pmpi+EfPW==");
	assert_true(json_is_true(json_object_get(env, GW_ENV_GROUP)));
	assert_true(json_is_true(json_object_get(env, GW_ENV_MENTIONED)));
	assert_string_equal(
		json_string_value(json_object_get(
			json_array_get(json_object_get(env, "attachments"), 0),
			"url")),
		"signal-attachment:ZjQ1Yj.jpg");
	json_decref(env);
	free(text);
	/* another account of a multi-account daemon; a receipt; a sync
	 * message (our own send); a reaction; other notifications */
	json_object_set_new(p, "account", json_string("+15550009999"));
	text = json_dumps(p, 0);
	assert_int_equal(gw_signal_parse(&cc, text, strlen(text), &env),
			 CLAW_OK);
	assert_null(env);
	free(text);
	json_decref(p);
	static const char *const none[] = {
		"{\"envelope\":{\"sourceNumber\":\"+1\",\"timestamp\":1,"
		"\"receiptMessage\":{\"when\":1}}}",
		"{\"envelope\":{\"sourceNumber\":\"+1\",\"timestamp\":1,"
		"\"syncMessage\":{\"sentMessage\":{\"message\":\"j\"}}}}",
		"{\"envelope\":{\"sourceNumber\":\"+1\",\"timestamp\":1,"
		"\"dataMessage\":{\"timestamp\":1,\"reaction\":{\"emoji\":"
		"\"+1\"}}}}",
		"{\"jsonrpc\":\"2.0\",\"method\":\"other\",\"params\":{}}",
	};
	for (size_t i = 0; i < sizeof(none) / sizeof(none[0]); i++)
		assert_null(
			gw_test_parse(gw_signal_parse, &cc, none[i], CLAW_OK));
	static const char *const bad[] = {
		"",
		"[]",
		"{}",
		"{\"envelope\":{\"timestamp\":1,\"dataMessage\":{\"timestamp\":"
		"1,\"message\":\"x\"}}}",
		"{\"envelope\":{\"sourceNumber\":\"+1 2\",\"dataMessage\":{"
		"\"timestamp\":1,\"message\":\"x\"}}}",
		"{\"envelope\":{\"sourceNumber\":\"+1\",\"dataMessage\":{"
		"\"timestamp\":\"1\",\"message\":\"x\"}}}",
		"{\"envelope\":{\"sourceNumber\":\"+1\",\"dataMessage\":{"
		"\"timestamp\":1,\"message\":5}}}",
	};
	gw_test_all_refused(gw_signal_parse, &cc, bad,
			    sizeof(bad) / sizeof(bad[0]));
}

/* ------------------------------------------------------------- config */
static enum claw_rc check(const char *text, char *err, size_t errlen)
{
	struct gw_conf c;
	memset(&c, 0, sizeof(c));
	json_t *root = json_loads(text, 0, NULL);
	assert_non_null(root);
	enum claw_rc rc = gw_conf_check(root, &c, err, errlen);
	json_decref(root);
	return rc;
}

static void config_fields(void **state)
{
	(void)state;
	char err[400];
	assert_int_equal(
		check("{\"tenant\":\"t\",\"channels\":{\"teams\":{\"app_id\":"
		      "\"8f1c3a52-6d2e-4c4a-9a6b-2f0b1e7d5c11\",\"token_url\":"
		      "\"https://login.microsoftonline.com/t1/oauth2/v2.0/"
		      "token\",\"service_url_prefixes\":["
		      "\"https://smba.trafficmanager.net/\"]},\"googlechat\":{"
		      "\"project_number\":\"614286524212\"},\"feishu\":{"
		      "\"app_id\":\"cli_a1\",\"bot_open_id\":\"ou_1\","
		      "\"api_base\":\"https://"
		      "open.larksuite.com\"},\"matrix\":{"
		      "\"api_base\":\"https://matrix.example.org\",\"user_id\":"
		      "\"@claw:example.org\"}}}",
		      err, sizeof(err)),
		CLAW_OK);
	static const char *const bad[] = {
		/* teams: no app id, a URL that is not http(s), no prefix,
		 * a prefix that is not a URL, api_base (teams has none) */
		"{\"tenant\":\"t\",\"channels\":{\"teams\":{}}}",
		"{\"tenant\":\"t\",\"channels\":{\"teams\":{\"app_id\":\"a\","
		"\"openid_metadata_url\":\"file:///etc/passwd\"}}}",
		"{\"tenant\":\"t\",\"channels\":{\"teams\":{\"app_id\":\"a\","
		"\"token_url\":\"ftp://x\"}}}",
		"{\"tenant\":\"t\",\"channels\":{\"teams\":{\"app_id\":\"a\","
		"\"service_url_prefixes\":[]}}}",
		"{\"tenant\":\"t\",\"channels\":{\"teams\":{\"app_id\":\"a\","
		"\"service_url_prefixes\":[\"smba.trafficmanager.net\"]}}}",
		"{\"tenant\":\"t\",\"channels\":{\"teams\":{\"app_id\":\"a\","
		"\"api_base\":\"https://x\"}}}",
		"{\"tenant\":\"t\",\"channels\":{\"teams\":{\"app_id\":\"a "
		"b\"}}}",
		/* googlechat: no project, a project that is no number */
		"{\"tenant\":\"t\",\"channels\":{\"googlechat\":{}}}",
		"{\"tenant\":\"t\",\"channels\":{\"googlechat\":{"
		"\"project_number\":\"my-project\"}}}",
		"{\"tenant\":\"t\",\"channels\":{\"googlechat\":{"
		"\"project_number\":\"1\",\"certs_url\":\"x\"}}}",
		/* feishu: no app id */
		"{\"tenant\":\"t\",\"channels\":{\"feishu\":{}}}",
		/* matrix: no server, a user id that is not one */
		"{\"tenant\":\"t\",\"channels\":{\"matrix\":{\"user_id\":"
		"\"@c:x\"}}}",
		"{\"tenant\":\"t\",\"channels\":{\"matrix\":{\"api_base\":"
		"\"https://m\",\"user_id\":\"claw\"}}}",
		/* a field of another channel */
		"{\"tenant\":\"t\",\"channels\":{\"matrix\":{\"api_base\":"
		"\"https://m\",\"user_id\":\"@c:x\",\"app_id\":\"x\"}}}",
		/* signal: no daemon, no account, an account with a slash */
		"{\"tenant\":\"t\",\"channels\":{\"signal\":{\"account\":"
		"\"+1555\"}}}",
		"{\"tenant\":\"t\",\"channels\":{\"signal\":{\"api_base\":"
		"\"http://signal-cli:8080\"}}}",
		"{\"tenant\":\"t\",\"channels\":{\"signal\":{\"api_base\":"
		"\"http://signal-cli:8080\",\"account\":\"+1/2\"}}}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_not_equal(check(bad[i], err, sizeof(err)), CLAW_OK);
	/* the message names the channel and field */
	check("{\"tenant\":\"t\",\"channels\":{\"googlechat\":{"
	      "\"project_number\":\"my-project\"}}}",
	      err, sizeof(err));
	assert_non_null(strstr(err, "channels.googlechat: project_number"));
	/* an unknown channel lists the new ones */
	check("{\"tenant\":\"t\",\"channels\":{\"xmpp\":{}}}", err,
	      sizeof(err));
	assert_non_null(
		strstr(err, "teams, googlechat, feishu, matrix, signal"));
}

/* ----------------------------------------------------- shared helpers */
static void helpers(void **state)
{
	(void)state;
	assert_int_equal(gw_rfc3339_parse("2017-02-01T21:10:07.437Z"),
			 1485983407);
	assert_int_equal(gw_rfc3339_parse("2017-02-01T21:10:07Z"), 1485983407);
	assert_int_equal(gw_rfc3339_parse("2017-02-01T22:10:07+01:00"),
			 1485983407);
	assert_int_equal(gw_rfc3339_parse("2017-02-01T20:40:07.1234567-00:30"),
			 1485983407);
	static const char *const bad[] = {NULL,
					  "",
					  "2017-02-01",
					  "2017-02-01T21:10:07",
					  "2017-13-01T00:00:00Z",
					  "2017-02-01T21:10:07.Z",
					  "2017-02-01T21:10:07Zjunk",
					  "1969-12-31T23:59:59Z",
					  "2017-02-01T21:10:07+0100"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(gw_rfc3339_parse(bad[i]), -1);
	/* JSON weights: as jansson writes them */
	assert_int_equal(gw_json_bytes('a'), 1);
	assert_int_equal(gw_json_bytes('"'), 2);
	assert_int_equal(gw_json_bytes('\n'), 2);
	assert_int_equal(gw_json_bytes(0x01), 6);
	assert_int_equal(gw_json_bytes(0xE9), 2);
	assert_int_equal(gw_json_bytes(0x20AC), 3);
	assert_int_equal(gw_json_bytes(0x1F600), 4);
	assert_int_equal(gw_json2_bytes('"'), 4);
	assert_int_equal(gw_json2_bytes('\n'), 3);
	assert_int_equal(gw_json2_bytes(0x01), 7);
	assert_int_equal(gw_json2_bytes(0x20AC), 3);
	/* a split never exceeds the limit in escaped bytes */
	json_t *parts = gw_split_text_w("\"\"\"\"\"", 4, gw_json_bytes);
	assert_int_equal(json_array_size(parts), 3);
	json_decref(parts);
	/* derived keys: stable, distinct per piece and per domain */
	char a[37], b[37], c[37];
	gw_derived_uuid("x", "id1", 0, a);
	gw_derived_uuid("x", "id1", 0, b);
	assert_string_equal(a, b);
	gw_derived_uuid("x", "id1", 1, b);
	gw_derived_uuid("y", "id1", 0, c);
	assert_string_not_equal(a, b);
	assert_string_not_equal(a, c);
	assert_int_equal(strlen(a), 36);
	assert_int_equal(a[14], '4');
	/* LINE's retry keys did not change with the shared code */
	char line[37];
	gw_line_retry_key("line:1", 0, line);
	gw_derived_uuid("line-retry-key", "line:1", 0, a);
	assert_string_equal(line, a);
	/* URL path segments */
	struct claw_buf buf;
	claw_buf_init(&buf, 0);
	assert_int_equal(gw_url_escape(&buf, "19:a@b;c=d/e f~_.-"), CLAW_OK);
	assert_string_equal(buf.data, "19%3Aa%40b%3Bc%3Dd%2Fe%20f~_.-");
	claw_buf_release(&buf);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(teams_parse),
		cmocka_unit_test(teams_binding),
		cmocka_unit_test(googlechat_parse),
		cmocka_unit_test(feishu_parse),
		cmocka_unit_test(feishu_signature),
		cmocka_unit_test(matrix_parse),
		cmocka_unit_test(signal_parse),
		cmocka_unit_test(config_fields),
		cmocka_unit_test(helpers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
