/*
 * test_gw_channels.c - the pure parts of the LINE, Twilio and Mattermost
 * adapters and of the OpenAI-compatible endpoints: signatures against
 * published examples (Twilio's "Webhooks security" example; HMAC-SHA1
 * against RFC 2202; LINE's scheme on RFC 4231's HMAC-SHA256 case, since
 * LINE publishes no worked example), their refusals, the form parser and
 * encoder, each parser on the platform's documented payload shapes and
 * on malformed ones, LINE's retry keys, SMS segment splitting (GSM-7 and
 * UCS-2), LINE's UTF-16 limit, the config's new fields, and OpenAI's
 * error object.
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
#include "claw/crypto.h"
#include "errors.h"
#include "gw.h"
#include "gw_testutil.h"

/* ------------------------------------------------------------- HMAC */
static void hmac_sha1_rfc2202(void **state)
{
	(void)state;
	uint8_t key[80], mac[20];
	char hex[41];
	memset(key, 0x0b, 20);
	assert_int_equal(gw_hmac_sha1(key, 20, "Hi There", 8, mac), CLAW_OK);
	claw_hex_encode(mac, 20, hex);
	assert_string_equal(hex, "b617318655057264e28bc0b6fb378c8ef146be00");
	gw_hmac_sha1("Jefe", 4, "what do ya want for nothing?", 28, mac);
	claw_hex_encode(mac, 20, hex);
	assert_string_equal(hex, "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79");
	/* a key longer than a block is hashed first (test case 6) */
	memset(key, 0xaa, 80);
	static const char m6[] =
		"Test Using Larger Than Block-Size Key - Hash Key First";
	gw_hmac_sha1(key, 80, m6, strlen(m6), mac);
	claw_hex_encode(mac, 20, hex);
	assert_string_equal(hex, "aa4ae5e15272d00e95705637ce8a3b55ed402112");
}

/* ----------------------------------------------------------- Twilio */
static json_t *pairs_of(const char *form)
{
	json_t *p = NULL;
	assert_int_equal(gw_form_parse(form, strlen(form), &p), CLAW_OK);
	return p;
}

/* https://www.twilio.com/docs/usage/webhooks/webhooks-security: auth
 * token 12345, the URL with its query, five parameters. */
static void twilio_published_example(void **state)
{
	(void)state;
	static const char url[] = "https://mycompany.com/myapp.php?foo=1&bar=2";
	/* sent in another order on purpose: the signature sorts them */
	json_t *p = pairs_of("To=%2B18005551212&CallSid=CA1234567890ABCDE&"
			     "Digits=1234&From=%2B12349013030&Caller=%2B123490"
			     "13030");
	char sig[29];
	assert_true(gw_twilio_signature("12345", url, p, sig));
	assert_string_equal(sig, "0/KCTR6DLpKmkAf8muzZqo1nDgQ=");
	assert_true(gw_twilio_verify("12345", url, p,
				     "0/KCTR6DLpKmkAf8muzZqo1nDgQ="));
	/* refusals: another token, URL, query, value; a short, a missing or
	 * an upper-cased signature */
	assert_false(gw_twilio_verify("12346", url, p,
				      "0/KCTR6DLpKmkAf8muzZqo1nDgQ="));
	assert_false(gw_twilio_verify(
		"12345", "https://mycompany.com/myapp.php?foo=1&bar=3", p,
		"0/KCTR6DLpKmkAf8muzZqo1nDgQ="));
	assert_false(gw_twilio_verify("12345",
				      "https://mycompany.com/myapp.php", p,
				      "0/KCTR6DLpKmkAf8muzZqo1nDgQ="));
	assert_false(gw_twilio_verify("12345", url, p,
				      "0/KCTR6DLpKmkAf8muzZqo1nDgQ"));
	assert_false(gw_twilio_verify("12345", url, p,
				      "0/KCTR6DLPKMKAF8MUZZQO1NDGQ="));
	assert_false(gw_twilio_verify("12345", url, p, NULL));
	assert_false(
		gw_twilio_verify(NULL, url, p, "0/KCTR6DLpKmkAf8muzZqo1nDgQ="));
	json_decref(p);
	p = pairs_of("To=%2B18005551212&CallSid=CA1234567890ABCDE&"
		     "Digits=1235&From=%2B12349013030&Caller=%2B12349013030");
	assert_false(gw_twilio_verify("12345", url, p,
				      "0/KCTR6DLpKmkAf8muzZqo1nDgQ="));
	json_decref(p);
	/* an extra parameter is signed too */
	p = pairs_of("To=%2B18005551212&CallSid=CA1234567890ABCDE&"
		     "Digits=1234&From=%2B12349013030&Caller=%2B12349013030&"
		     "X=1");
	assert_false(gw_twilio_verify("12345", url, p,
				      "0/KCTR6DLpKmkAf8muzZqo1nDgQ="));
	json_decref(p);
}

static const char tw_acct[] = "AC0123456789abcdef0123456789abcdef";

/* A Twilio form through gw_twilio_parse: asserts the result want; the
 * envelope (NULL when none). */
static json_t *twilio_form(const struct gw_chan_conf *cc, const char *form,
			   enum claw_rc want)
{
	json_t *env = NULL, *p = pairs_of(form);
	assert_int_equal(gw_twilio_parse(cc, p, &env), want);
	json_decref(p);
	return env;
}

static void twilio_parse(void **state)
{
	(void)state;
	struct gw_chan_conf cc = {.account_sid = tw_acct};
	json_t *env = NULL;
	char form[1024];
	snprintf(form, sizeof(form),
		 "ToCountry=US&SmsMessageSid=SM11111111111111111111111111111111"
		 "&NumMedia=1&SmsSid=SM11111111111111111111111111111111&"
		 "SmsStatus=received&Body=Hello+there%%21&To=%%2B15005550006&"
		 "NumSegments=1&MessageSid=SM11111111111111111111111111111111&"
		 "AccountSid=%s&From=%%2B14155551212&ApiVersion=2010-04-01&"
		 "MediaUrl0=https%%3A%%2F%%2Fapi.twilio.com%%2Fm%%2FME1&"
		 "MediaContentType0=image%%2Fjpeg",
		 tw_acct);
	json_t *p = pairs_of(form);
	assert_int_equal(gw_twilio_parse(&cc, p, &env), CLAW_OK);
	assert_non_null(env);
	assert_int_equal(gw_env_check(env), CLAW_OK);
	assert_string_equal(gw_env_str(env, "id"),
			    "twilio:SM11111111111111111111111111111111");
	assert_string_equal(gw_env_str(env, "text"), "Hello there!");
	assert_string_equal(gw_env_str(env, "conversation"),
			    "twilio:+15005550006:+14155551212");
	json_t *route = json_object_get(env, GW_ENV_ROUTE);
	assert_string_equal(json_string_value(json_object_get(route, "to")),
			    "+14155551212");
	assert_string_equal(json_string_value(json_object_get(route, "from")),
			    "+15005550006");
	json_t *a = json_array_get(json_object_get(env, "attachments"), 0);
	assert_string_equal(json_string_value(json_object_get(a, "type")),
			    "image");
	assert_string_equal(json_string_value(json_object_get(a, "url")),
			    "twilio-media:https://api.twilio.com/m/ME1");
	json_decref(env);
	/* another account's message: refused */
	cc.account_sid = "AC00000000000000000000000000000000";
	assert_int_equal(gw_twilio_parse(&cc, p, &env), CLAW_ERR_INVALID);
	json_decref(p);
	cc.account_sid = tw_acct;
	/* a status callback is left */
	snprintf(form, sizeof(form),
		 "MessageSid=SM11111111111111111111111111111111&AccountSid=%s&"
		 "From=%%2B15005550006&To=%%2B14155551212&MessageStatus="
		 "delivered",
		 tw_acct);
	assert_null(twilio_form(&cc, form, CLAW_OK));
	/* malformed: no sid, a bad sid, no From */
	assert_null(
		twilio_form(&cc, "Body=x&From=%2B1&To=%2B2", CLAW_ERR_PARSE));
	snprintf(form, sizeof(form),
		 "MessageSid=SMxyz&AccountSid=%s&From=a&To=b", tw_acct);
	assert_null(twilio_form(&cc, form, CLAW_ERR_PARSE));
	/* WhatsApp through Twilio: the sender keeps its prefix */
	snprintf(form, sizeof(form),
		 "MessageSid=SM22222222222222222222222222222222&AccountSid=%s&"
		 "From=whatsapp%%3A%%2B14155551212&To=whatsapp%%3A%%2B1415523"
		 "88886&Body=hi&ProfileName=Ann",
		 tw_acct);
	env = twilio_form(&cc, form, CLAW_OK);
	assert_string_equal(json_string_value(json_object_get(
				    json_object_get(env, "sender"), "id")),
			    "whatsapp:+14155551212");
	assert_string_equal(json_string_value(json_object_get(
				    json_object_get(env, "sender"), "name")),
			    "Ann");
	json_decref(env);
}

static void form_codec(void **state)
{
	(void)state;
	json_t *p = NULL;
	struct claw_buf b;
	/* decoding: "+", escapes, an empty value, a name alone, "&&" */
	p = pairs_of("a=1+2&b=%C3%A9%2b&c=&d&&e=%3D");
	assert_int_equal(json_array_size(p), 5);
	assert_string_equal(gw_form_get(p, "a"), "1 2");
	assert_string_equal(gw_form_get(p, "b"), "é+");
	assert_string_equal(gw_form_get(p, "c"), "");
	assert_string_equal(gw_form_get(p, "d"), "");
	assert_string_equal(gw_form_get(p, "e"), "=");
	assert_null(gw_form_get(p, "z"));
	json_decref(p);
	/* refusals: a bad or cut escape, a NUL, not UTF-8, no name */
	static const char *const bad[] = {"a=%zz",    "a=%4", "a=%",   "a=%00",
					  "a=%C3%28", "=1",   "a=1&=2"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		p = (json_t *)1;
		assert_int_equal(gw_form_parse(bad[i], strlen(bad[i]), &p),
				 CLAW_ERR_PARSE);
		assert_null(p);
	}
	/* too many pairs */
	claw_buf_init(&b, 0);
	for (int i = 0; i <= GW_FORM_MAX_PAIRS; i++)
		claw_buf_puts(&b, "a=1&");
	assert_int_equal(gw_form_parse(b.data, b.len, &p), CLAW_ERR_PARSE);
	claw_buf_release(&b);
	/* encoding round trip */
	claw_buf_init(&b, 0);
	assert_int_equal(gw_form_add(&b, "To", "+1 555"), CLAW_OK);
	assert_int_equal(gw_form_add(&b, "Body", "a&b=c é~"), CLAW_OK);
	assert_string_equal(b.data, "To=%2B1%20555&Body=a%26b%3Dc%20%C3%A9~");
	p = pairs_of(b.data);
	assert_string_equal(gw_form_get(p, "Body"), "a&b=c é~");
	json_decref(p);
	claw_buf_release(&b);
}

/* Each piece's septets (GSM-7) or UTF-16 units (UCS-2). */
static size_t weigh(const char *s, bool gsm)
{
	size_t n = 0, len = strlen(s), w;
	for (size_t i = 0; i < len; i += w) {
		uint32_t cp = gw_utf8_next(s + i, len - i, &w, NULL);
		n += gsm ? gw_gsm7_septets(cp) : gw_utf16_units(cp);
	}
	return n;
}

static void sms_segments(void **state)
{
	(void)state;
	char *big = malloc(8000);
	/* GSM-7: 160 alone, 153 a segment concatenated */
	assert_true(gw_sms_gsm7("Hello @ £ € {x} Ünicode? no: ñ"));
	assert_false(gw_sms_gsm7("emoji 😀"));
	assert_false(gw_sms_gsm7("grave `"));
	assert_false(gw_sms_gsm7("na\xc3\xafve")); /* ï is not GSM */
	assert_int_equal(gw_gsm7_septets(0x20AC), 2);
	assert_int_equal(gw_gsm7_septets('['), 2);
	assert_int_equal(gw_gsm7_septets('A'), 1);
	assert_int_equal(gw_gsm7_septets(0x394), 1);
	assert_int_equal(gw_gsm7_septets(0x1F600), 0);
	memset(big, 'a', 3100);
	big[3100] = '\0';
	json_t *p = gw_sms_split(big, 10); /* 1530 septets a piece */
	assert_int_equal(json_array_size(p), 3);
	assert_int_equal(json_string_length(json_array_get(p, 0)), 1530);
	assert_int_equal(json_string_length(json_array_get(p, 2)), 40);
	json_decref(p);
	p = gw_sms_split(big, 1); /* one segment: 160 */
	assert_int_equal(json_string_length(json_array_get(p, 0)), 160);
	json_decref(p);
	p = gw_sms_split(big, 2);
	assert_int_equal(json_string_length(json_array_get(p, 0)), 306);
	json_decref(p);
	/* extension characters weigh two septets */
	for (int i = 0; i < 400; i++)
		memcpy(big + 3 * i, "\xe2\x82\xac", 3); /* € */
	big[1200] = '\0';
	p = gw_sms_split(big, 1);
	assert_int_equal(json_array_size(p), 5);
	for (size_t i = 0; i < json_array_size(p); i++)
		assert_true(weigh(json_string_value(json_array_get(p, i)),
				  true) <= 160);
	json_decref(p);
	/* UCS-2: one non-GSM character makes the whole reply 70/67 units;
	 * astral code points weigh two and are never cut */
	size_t o = 0;
	for (int i = 0; i < 100; i++) {
		memcpy(big + o, "\xf0\x9f\x98\x80", 4); /* 😀 */
		o += 4;
		big[o++] = 'x';
	}
	big[o] = '\0';
	p = gw_sms_split(big, 2); /* 134 units a piece */
	for (size_t i = 0; i < json_array_size(p); i++)
		assert_true(weigh(json_string_value(json_array_get(p, i)),
				  false) <= 134);
	assert_int_equal(json_array_size(p), 3);
	json_decref(p);
	/* never over Twilio's 1600 characters */
	memset(big, 'b', 7000);
	big[7000] = '\0';
	p = gw_sms_split(big, 10);
	assert_true(json_string_length(json_array_get(p, 0)) <= 1600);
	json_decref(p);
	free(big);
}

/* ------------------------------------------------------------- LINE */
static void line_signature(void **state)
{
	(void)state;
	/* LINE's scheme (base64 HMAC-SHA256) on RFC 4231 test case 2 */
	static const char body[] = "what do ya want for nothing?";
	static const char sig[] =
		"W9zBRr9gdU5qBCQmCJV1x1oAPwidJzmDnexYuWTsOEM=";
	assert_true(gw_line_verify("Jefe", sig, body, strlen(body)));
	assert_false(gw_line_verify("Jefe", sig, body, strlen(body) - 1));
	assert_false(gw_line_verify("jefe", sig, body, strlen(body)));
	assert_false(gw_line_verify("Jefe",
				    "W9zBRr9gdU5qBCQmCJV1x1oAPwidJzmDn"
				    "exYuWTsOEM",
				    body, strlen(body)));
	assert_false(gw_line_verify("Jefe", NULL, body, strlen(body)));
	assert_false(gw_line_verify(NULL, sig, body, strlen(body)));
	/* the hex spelling of the same MAC is not LINE's */
	assert_false(gw_line_verify("Jefe",
				    "5bdcc146bf60754e6a042426089575c75a003f08"
				    "9d2739839dec58b964ec3843",
				    body, strlen(body)));
}

static const char line_body[] =
	"{\"destination\":\"Ubot0000000000000000000000000000\",\"events\":["
	"{\"type\":\"message\",\"message\":{\"type\":\"text\",\"id\":"
	"\"468789577898262530\",\"quoteToken\":\"q3Plxr4AgKd\",\"text\":"
	"\"@claw hello\",\"mention\":{\"mentionees\":[{\"index\":0,\"length\":"
	"5,\"type\":\"user\",\"userId\":\"Ubot0000000000000000000000000000\","
	"\"isSelf\":true}]}},\"webhookEventId\":\"01H810YECXQQZ37VAXPF6H9E6T\","
	"\"deliveryContext\":{\"isRedelivery\":false},\"timestamp\":"
	"1692251666727,\"source\":{\"type\":\"group\",\"groupId\":"
	"\"Ca56f94637c0000000000000000000000\",\"userId\":"
	"\"U4af4980629000000000000000000000\"},\"replyToken\":"
	"\"38ef843bde154d9b91c21320ffd17a0f\",\"mode\":\"active\"},"
	"{\"type\":\"follow\",\"timestamp\":1692251666727,\"source\":{"
	"\"type\":\"user\",\"userId\":\"U1\"},\"replyToken\":\"r\",\"mode\":"
	"\"active\",\"webhookEventId\":\"01H\",\"deliveryContext\":{"
	"\"isRedelivery\":false}},"
	"{\"type\":\"message\",\"message\":{\"type\":\"image\",\"id\":"
	"\"468789577898262531\",\"quoteToken\":\"q2\",\"contentProvider\":{"
	"\"type\":\"line\"}},\"timestamp\":1692251666800,\"source\":{\"type\":"
	"\"user\",\"userId\":\"U4af4980629000000000000000000000\"},"
	"\"replyToken\":\"r2\",\"mode\":\"active\",\"webhookEventId\":\"01J\","
	"\"deliveryContext\":{\"isRedelivery\":true}},"
	"{\"type\":\"message\",\"message\":{\"type\":\"sticker\",\"id\":\"9\","
	"\"packageId\":\"1\",\"stickerId\":\"1\"},\"timestamp\":1,\"source\":{"
	"\"type\":\"user\",\"userId\":\"U1\"},\"replyToken\":\"r3\",\"mode\":"
	"\"active\"},"
	"{\"type\":\"message\",\"message\":{\"type\":\"text\",\"id\":\"10\","
	"\"text\":\"standby\"},\"timestamp\":1,\"source\":{\"type\":\"user\","
	"\"userId\":\"U1\"},\"mode\":\"standby\"}]}";

static void line_parse(void **state)
{
	(void)state;
	struct gw_chan_conf cc = {0};
	json_t *envs = NULL;
	assert_int_equal(
		gw_line_parse(&cc, line_body, strlen(line_body), &envs),
		CLAW_OK);
	/* the text in a group (mentioned) and the image in a DM; the
	 * follow, the sticker and the standby event are left */
	assert_int_equal(json_array_size(envs), 2);
	json_t *e = json_array_get(envs, 0);
	assert_int_equal(gw_env_check(e), CLAW_OK);
	assert_string_equal(gw_env_str(e, "id"), "line:468789577898262530");
	assert_string_equal(gw_env_str(e, "conversation"),
			    "line:Ca56f94637c0000000000000000000000");
	assert_string_equal(gw_env_str(e, "time"), "2023-08-17T05:54:26Z");
	assert_true(json_is_true(json_object_get(e, GW_ENV_GROUP)));
	assert_true(json_is_true(json_object_get(e, GW_ENV_MENTIONED)));
	json_t *route = json_object_get(e, GW_ENV_ROUTE);
	assert_string_equal(
		json_string_value(json_object_get(route, "reply_token")),
		"38ef843bde154d9b91c21320ffd17a0f");
	assert_string_equal(json_string_value(json_object_get(route, "to")),
			    "Ca56f94637c0000000000000000000000");
	e = json_array_get(envs, 1);
	assert_false(json_is_true(json_object_get(e, GW_ENV_GROUP)));
	json_t *a = json_array_get(json_object_get(e, "attachments"), 0);
	assert_string_equal(json_string_value(json_object_get(a, "url")),
			    "line-content:468789577898262531");
	json_decref(envs);
	/* the console's "Verify": no events */
	static const char verify[] = "{\"destination\":\"U1\",\"events\":[]}";
	assert_int_equal(gw_line_parse(&cc, verify, strlen(verify), &envs),
			 CLAW_OK);
	assert_int_equal(json_array_size(envs), 0);
	json_decref(envs);
	static const char *const bad[] = {
		"{}",
		"{\"events\":{}}",
		"{\"events\":[1]}",
		"{\"events\":[{\"type\":\"message\"}]}",
		"{\"events\":[{\"type\":\"message\",\"timestamp\":1,"
		"\"message\":"
		"{\"type\":\"text\",\"id\":\"1\",\"text\":\"x\"},\"source\":{"
		"\"type\":\"alien\"}}]}",
		"{\"events\":[{\"type\":\"message\",\"timestamp\":1,"
		"\"message\":"
		"{\"type\":\"text\",\"id\":\"1\"},\"source\":{\"type\":"
		"\"user\","
		"\"userId\":\"U\"}}]}",
		"not json",
	};
	gw_test_all_refused(gw_line_parse, &cc, bad,
			    sizeof(bad) / sizeof(bad[0]));
}

static void line_retry_keys_and_limit(void **state)
{
	(void)state;
	char a[37], b[37], c[37];
	gw_line_retry_key("line:1", 0, a);
	gw_line_retry_key("line:1", 0, b);
	gw_line_retry_key("line:1", 1, c);
	assert_string_equal(a, b); /* the same after a restart */
	assert_string_not_equal(a, c);
	assert_int_equal(strlen(a), 36);
	assert_int_equal(a[8], '-');
	assert_int_equal(a[14], '4');
	/* LINE counts UTF-16 units: 5000 a piece, astral ones weigh two */
	char *big = malloc(4 * 3000 + 1);
	for (int i = 0; i < 3000; i++)
		memcpy(big + 4 * i, "\xf0\x9f\x98\x80", 4);
	big[4 * 3000] = '\0';
	json_t *env = gw_env_new(GW_CH_LINE, "line:1", "", "line:U", "U", NULL,
				 "", 0);
	struct gw_conf conf = {0};
	json_t *p = gw_channel_split(&conf, env, big);
	assert_int_equal(json_array_size(p), 2);
	assert_int_equal(strlen(json_string_value(json_array_get(p, 0))),
			 4 * 2500);
	json_decref(p);
	json_decref(env);
	free(big);
}

/* ------------------------------------------------------- Mattermost */
static void mattermost_parse(void **state)
{
	(void)state;
	struct gw_chan_conf cc = {.bot_username = "claw"};
	json_t *f = NULL, *env = NULL;
	/* the form Mattermost posts (timestamp in seconds) */
	static const char form[] =
		"channel_id=hawos4dqtby53pd64o4a4cmeoo&channel_name=town-"
		"square&"
		"file_ids=&post_id=ok4n5at3rif8dnz5ig7c4g8b3h&team_domain=acme&"
		"team_id=ipbsg6mksbbz5ezi95yj8gd7jh&text=%23ask+what+time&"
		"timestamp=1700000000&token=5xy8y8wpkbb9mphgd1zbuzgaxo&"
		"trigger_word=%23ask&user_id=rnina5xz6fn3ff39yq9tx3xcbr&"
		"user_name=ann";
	assert_int_equal(gw_mattermost_fields("application/x-www-form-"
					      "urlencoded",
					      form, strlen(form), &f),
			 CLAW_OK);
	assert_true(gw_mattermost_verify("5xy8y8wpkbb9mphgd1zbuzgaxo", f));
	assert_false(gw_mattermost_verify("5xy8y8wpkbb9mphgd1zbuzgaxO", f));
	assert_false(gw_mattermost_verify("5xy8y8wpkbb9mphgd1zbuzgax", f));
	assert_false(gw_mattermost_verify(NULL, f));
	assert_int_equal(gw_mattermost_parse(&cc, f, &env), CLAW_OK);
	assert_int_equal(gw_env_check(env), CLAW_OK);
	assert_string_equal(gw_env_str(env, "id"),
			    "mattermost:ok4n5at3rif8dnz5ig7c4g8b3h");
	assert_string_equal(gw_env_str(env, "conversation"),
			    "mattermost:hawos4dqtby53pd64o4a4cmeoo");
	assert_string_equal(gw_env_str(env, "time"), "2023-11-14T22:13:20Z");
	assert_true(json_is_true(json_object_get(env, GW_ENV_GROUP)));
	assert_true(json_is_true(json_object_get(env, GW_ENV_MENTIONED)));
	json_decref(env);
	json_decref(f);
	/* JSON (timestamp in milliseconds), no trigger word, "@claw" */
	static const char js[] =
		"{\"token\":\"5xy8y8wpkbb9mphgd1zbuzgaxo\",\"team_id\":\"t\","
		"\"team_domain\":\"acme\",\"channel_id\":\"c1\",\"channel_"
		"name\":"
		"\"x\",\"timestamp\":1700000000123,\"user_id\":\"u1\","
		"\"user_name\":\"bob\",\"post_id\":\"p1\",\"text\":\"hi "
		"@claw.\","
		"\"trigger_word\":\"\",\"file_ids\":\"f1,f2\"}";
	assert_int_equal(
		gw_mattermost_fields("application/json", js, strlen(js), &f),
		CLAW_OK);
	assert_true(gw_mattermost_verify("5xy8y8wpkbb9mphgd1zbuzgaxo", f));
	assert_int_equal(gw_mattermost_parse(&cc, f, &env), CLAW_OK);
	assert_string_equal(gw_env_str(env, "time"), "2023-11-14T22:13:20Z");
	assert_true(json_is_true(json_object_get(env, GW_ENV_MENTIONED)));
	assert_int_equal(json_array_size(json_object_get(env, "attachments")),
			 2);
	json_decref(env);
	json_decref(f);
	/* "@claw.bot" and "@clawbot" are not "@claw"; the bot's own post
	 * is left */
	static const char js2[] =
		"{\"token\":\"t\",\"channel_id\":\"c1\",\"timestamp\":1,"
		"\"user_id\":\"u1\",\"user_name\":\"claw\",\"post_id\":\"p2\","
		"\"text\":\"@clawbot @claw.bot hi\"}";
	assert_int_equal(
		gw_mattermost_fields("application/json", js2, strlen(js2), &f),
		CLAW_OK);
	assert_int_equal(gw_mattermost_parse(&cc, f, &env), CLAW_OK);
	assert_null(env);
	cc.bot_username = "other";
	assert_int_equal(gw_mattermost_parse(&cc, f, &env), CLAW_OK);
	assert_false(json_is_true(json_object_get(env, GW_ENV_MENTIONED)));
	json_decref(env);
	json_decref(f);
	/* malformed */
	static const char *const bad[] = {
		"{\"token\":1}", "[1]", "{\"timestamp\":\"1\"}", "{\"token\":"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(gw_mattermost_fields("application/json",
						      bad[i], strlen(bad[i]),
						      &f),
				 CLAW_ERR_PARSE);
	f = pairs_of("token=t&channel_id=c&user_id=u&post_id=p&text=x&"
		     "timestamp=12x");
	assert_int_equal(gw_mattermost_parse(&cc, f, &env), CLAW_ERR_PARSE);
	json_decref(f);
}

/* ----------------------------------------------------------- config */
static enum claw_rc check(const char *text)
{
	char err[400];
	struct gw_conf c;
	memset(&c, 0, sizeof(c));
	json_t *root = json_loads(text, 0, NULL);
	assert_non_null(root);
	enum claw_rc rc = gw_conf_check(root, &c, err, sizeof(err));
	json_decref(root);
	return rc;
}

static void config_fields(void **state)
{
	(void)state;
	assert_int_equal(
		check("{\"tenant\":\"t\",\"channels\":{\"twilio\":{"
		      "\"account_sid\":\"AC0123456789abcdef0123456789abcdef\","
		      "\"webhook_url\":\"https://t.example.com/twilio/"
		      "webhook\","
		      "\"max_segments\":3},\"line\":{},\"mattermost\":{"
		      "\"api_base\":\"https://chat.example.com\"},\"openai\":{"
		      "\"models\":[\"claw\",\"claw:v2\"]}}}"),
		CLAW_OK);
	static const char *const bad[] = {
		/* twilio: a bad sid, no URL, a URL that is not http(s),
		 * segments out of range, a bad service sid */
		"{\"tenant\":\"t\",\"channels\":{\"twilio\":{\"account_sid\":"
		"\"AC12\",\"webhook_url\":\"https://x\"}}}",
		"{\"tenant\":\"t\",\"channels\":{\"twilio\":{\"account_sid\":"
		"\"AC0123456789abcdef0123456789abcdef\"}}}",
		"{\"tenant\":\"t\",\"channels\":{\"twilio\":{\"account_sid\":"
		"\"AC0123456789abcdef0123456789abcdef\",\"webhook_url\":"
		"\"ftp://x\"}}}",
		"{\"tenant\":\"t\",\"channels\":{\"twilio\":{\"account_sid\":"
		"\"AC0123456789abcdef0123456789abcdef\",\"webhook_url\":"
		"\"https://x\",\"max_segments\":11}}}",
		"{\"tenant\":\"t\",\"channels\":{\"twilio\":{\"account_sid\":"
		"\"AC0123456789abcdef0123456789abcdef\",\"webhook_url\":"
		"\"https://x\",\"messaging_service_sid\":\"AC0123456789abcdef"
		"0123456789abcdef\"}}}",
		/* mattermost needs its server */
		"{\"tenant\":\"t\",\"channels\":{\"mattermost\":{}}}",
		/* openai: no models, a model with a slash, not strings */
		"{\"tenant\":\"t\",\"channels\":{\"openai\":{\"models\":[]}}}",
		"{\"tenant\":\"t\",\"channels\":{\"openai\":{\"models\":["
		"\"a/b\"]}}}",
		"{\"tenant\":\"t\",\"channels\":{\"openai\":{\"models\":[1]}}}",
		/* a field of another channel */
		"{\"tenant\":\"t\",\"channels\":{\"line\":{\"account_sid\":"
		"\"x\"}}}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_not_equal(check(bad[i]), CLAW_OK);
}

/* ----------------------------------------------------------- OpenAI */
static void openai_error_object(void **state)
{
	(void)state;
	json_t *e = gw_openai_error_new(gw_error_def(GW_E_MODEL_NOT_FOUND),
					"model", "no such model", "rid1");
	assert_string_equal(json_string_value(json_object_get(e, "code")),
			    "model_not_found");
	assert_string_equal(json_string_value(json_object_get(e, "type")),
			    "invalid_request_error");
	assert_string_equal(json_string_value(json_object_get(e, "param")),
			    "model");
	assert_string_equal(json_string_value(json_object_get(e, "message")),
			    "no such model");
	assert_string_equal(json_string_value(json_object_get(e, "request_id")),
			    "rid1");
	json_decref(e);
	e = gw_openai_error_new(gw_error_def(GW_E_RUNTIME_ERROR), NULL, "x",
				NULL);
	assert_true(json_is_null(json_object_get(e, "param")));
	assert_null(json_object_get(e, "request_id"));
	assert_string_equal(json_string_value(json_object_get(e, "type")),
			    "server_error");
	json_decref(e);
	assert_string_equal(gw_openai_error_type(429), "requests");
	assert_string_equal(gw_openai_error_type(401), "invalid_request_error");
	assert_string_equal(gw_openai_error_type(503), "server_error");
	/* usage in both shapes */
	json_t *u =
		json_pack("{s:i, s:i}", "input_tokens", 3, "output_tokens", 5);
	json_t *chat = gw_openai_usage_new(u, false);
	json_t *resp = gw_openai_usage_new(u, true);
	assert_int_equal(
		json_integer_value(json_object_get(chat, "total_tokens")), 8);
	assert_int_equal(
		json_integer_value(json_object_get(chat, "prompt_tokens")), 3);
	assert_int_equal(
		json_integer_value(json_object_get(resp, "output_tokens")), 5);
	assert_int_equal(
		json_integer_value(json_object_get(resp, "total_tokens")), 8);
	json_decref(chat);
	json_decref(resp);
	json_decref(u);
	/* the model list: configured, or the default */
	struct gw_conf c = {0};
	json_t *ids = gw_openai_model_ids(&c);
	assert_string_equal(json_string_value(json_array_get(ids, 0)), "claw");
	json_decref(ids);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(hmac_sha1_rfc2202),
		cmocka_unit_test(twilio_published_example),
		cmocka_unit_test(twilio_parse),
		cmocka_unit_test(form_codec),
		cmocka_unit_test(sms_segments),
		cmocka_unit_test(line_signature),
		cmocka_unit_test(line_parse),
		cmocka_unit_test(line_retry_keys_and_limit),
		cmocka_unit_test(mattermost_parse),
		cmocka_unit_test(config_fields),
		cmocka_unit_test(openai_error_object),
	};
	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
