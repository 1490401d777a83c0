/* fuzz_gw_twilio.c - the form parser, the X-Twilio-Signature computation
 * and the Twilio message parser on arbitrary bytes; a message's envelope
 * must pass gw_env_check, and its text splits by SMS segment. */
#include <stddef.h>
#include <stdint.h>

#include "gw.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gw_chan_conf cc = {0};
	json_t *pairs = NULL, *env = NULL;
	char sig[29];
	if (gw_form_parse((const char *)data, size, &pairs) != CLAW_OK)
		return 0;
	gw_twilio_signature("token", "https://example.com/twilio/webhook",
			    pairs, sig);
	if (gw_twilio_parse(&cc, pairs, &env) == CLAW_OK && env) {
		if (gw_env_check(env))
			__builtin_trap();
		json_decref(gw_sms_split(gw_env_str(env, "text"), 3));
	}
	json_decref(env);
	json_decref(pairs);
	return 0;
}
