/*
 * test_gw_verify.c - request verification of each channel, checked against
 * the examples in the channels' own documentation where they publish one:
 * Slack's "Verifying requests from Slack" worked example, GitHub's
 * X-Hub-Signature-256 example (the same scheme Meta uses for WhatsApp) and
 * the Ed25519 test vectors of RFC 8032 (Discord publishes none); and the
 * replay memory, keyed by a signature's bytes per channel.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include <sodium.h>

#include "gw.h"

static const char slack_secret[] = "8f742231b10e8888abcd99yyyzzz85a5";
static const char slack_body[] =
	"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain="
	"testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id="
	"U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&"
	"response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F"
	"397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015."
	"47445629121.803a0bc887a14d10d2c447fce8b6703c";
static const char slack_sig[] =
	"v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";

static void slack_documented_example(void **state)
{
	(void)state;
	size_t n = strlen(slack_body);
	assert_true(gw_slack_verify(slack_secret, "1531420618", slack_sig,
				    slack_body, n, 1531420618));
	/* within the 5-minute window either way */
	assert_true(gw_slack_verify(slack_secret, "1531420618", slack_sig,
				    slack_body, n, 1531420618 + 300));
	assert_true(gw_slack_verify(slack_secret, "1531420618", slack_sig,
				    slack_body, n, 1531420618 - 300));
}

static void slack_refusals(void **state)
{
	(void)state;
	size_t n = strlen(slack_body);
	char bad[sizeof(slack_sig)];
	memcpy(bad, slack_sig, sizeof(bad));
	bad[10] ^= 1;
	/* stale, future, forged, tampered, wrong secret, junk headers */
	assert_false(gw_slack_verify(slack_secret, "1531420618", slack_sig,
				     slack_body, n, 1531420618 + 301));
	assert_false(gw_slack_verify(slack_secret, "1531420618", slack_sig,
				     slack_body, n, 1531420618 - 301));
	assert_false(gw_slack_verify(slack_secret, "1531420618", bad,
				     slack_body, n, 1531420618));
	assert_false(gw_slack_verify(slack_secret, "1531420618", slack_sig,
				     slack_body, n - 1, 1531420618));
	assert_false(gw_slack_verify("other", "1531420618", slack_sig,
				     slack_body, n, 1531420618));
	assert_false(gw_slack_verify(slack_secret, "1531420618x", slack_sig,
				     slack_body, n, 1531420618));
	assert_false(gw_slack_verify(slack_secret, "", slack_sig, slack_body, n,
				     1531420618));
	assert_false(gw_slack_verify(slack_secret, NULL, slack_sig, slack_body,
				     n, 1531420618));
	assert_false(gw_slack_verify(slack_secret, "1531420618",
				     "v0=", slack_body, n, 1531420618));
	assert_false(gw_slack_verify(NULL, "1531420618", slack_sig, slack_body,
				     n, 1531420618));
}

static void hub_documented_example(void **state)
{
	(void)state;
	static const char sig[] =
		"sha256=757107ea0eb2509fc211221cce984b8a37570b6"
		"d7586c22c46f4379c8b043e17";
	assert_true(gw_hub_verify("It's a Secret to Everybody", sig,
				  "Hello, World!", 13));
	assert_false(gw_hub_verify("It's a Secret to Everybody", sig,
				   "Hello, World?", 13));
	assert_false(gw_hub_verify("another secret", sig, "Hello, World!", 13));
	assert_false(gw_hub_verify("It's a Secret to Everybody", sig + 7,
				   "Hello, World!", 13));
	assert_false(gw_hub_verify("It's a Secret to Everybody", NULL,
				   "Hello, World!", 13));
}

/* RFC 8032 section 7.1, TEST 1 (empty message) and TEST 2 (one byte). */
static void ed25519_rfc8032(void **state)
{
	(void)state;
	static const char pk1[] = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa6"
				  "2325af021a68f707511a";
	static const char sig1[] =
		"e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901"
		"555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a"
		"100b";
	static const char pk2[] = "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4"
				  "968cc0cd55f12af4660c";
	static const char sig2[] =
		"92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69"
		"da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb"
		"0c00";
	assert_true(gw_discord_verify(pk1, sig1, "", "", 0));
	/* Discord signs timestamp + body: the split does not matter */
	assert_true(gw_discord_verify(pk2, sig2, "r", "", 0));
	assert_true(gw_discord_verify(pk2, sig2, "", "r", 1));
	assert_false(gw_discord_verify(pk2, sig2, "", "s", 1));
	assert_false(gw_discord_verify(pk1, sig2, "", "r", 1));
	assert_false(gw_discord_verify(pk2, "00", "", "r", 1));
	assert_false(gw_discord_verify(pk2, sig2, NULL, "r", 1));
	assert_false(gw_discord_verify("zz", sig2, "", "r", 1));
}

static void replay_keys_are_bytes(void **state)
{
	(void)state;
	uint8_t sig[64], other[64];
	randombytes_buf(sig, sizeof(sig));
	memcpy(other, sig, sizeof(other));
	other[63] ^= 1;
	assert_true(gw_replay_check(GW_CH_DISCORD, sig, sizeof(sig)));
	assert_false(gw_replay_check(GW_CH_DISCORD, sig, sizeof(sig)));
	assert_true(gw_replay_check(GW_CH_DISCORD, other, sizeof(other)));
	/* another channel's memory is its own */
	assert_true(gw_replay_check(GW_CH_SLACK, sig, 32));
	assert_false(gw_replay_check(GW_CH_SLACK, sig, 32));
	gw_replay_release();
	assert_true(gw_replay_check(GW_CH_DISCORD, sig, sizeof(sig)));
	gw_replay_release();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(slack_documented_example),
		cmocka_unit_test(slack_refusals),
		cmocka_unit_test(hub_documented_example),
		cmocka_unit_test(ed25519_rfc8032),
		cmocka_unit_test(replay_keys_are_bytes),
	};
	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
