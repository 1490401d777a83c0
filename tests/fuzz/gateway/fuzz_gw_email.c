/* fuzz_gw_email.c - RFC 5322 messages with MIME (headers, folding,
 * multipart, quoted-printable, base64, charsets) and Authentication-
 * Results values on arbitrary bytes: every envelope must pass
 * gw_env_check and split to the channel's size; nothing may read outside
 * the input. */
#include "fuzz_gw_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gw_chan_conf cc = {.address = "claw@bot.test",
				  .authserv_id = "mx.bot.test"};
	json_t *env = NULL;
	enum gw_mail_verdict v;
	fuzz_gw_env_done(gw_email_parse(&cc, (const char *)data, size,
					"uid:1:1", &env, &v),
			 &env);
	char *s = fuzz_gw_cstr(data, size);
	if (s) {
		bool ours;
		(void)gw_email_auth_pass(s, "mx.bot.test", "example.com",
					 &ours);
		free(s);
	}
	return 0;
}
