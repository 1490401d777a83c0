/* fuzz_gw_irc.c - IRC lines (RFC 1459/2812 with IRCv3 tags) on arbitrary
 * bytes: the parser must stay inside its buffer, every PRIVMSG envelope
 * must pass gw_env_check and split to the channel's size, and the reply
 * lines cut from any text must each fit the byte budget without CR or
 * LF. */
#include "fuzz_gw_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct gw_irc_msg m;
	struct gw_chan_conf cc = {.bot_username = "claw"};
	json_t *env = NULL;
	if (gw_irc_parse_line((const char *)data, size, &m) == CLAW_OK) {
		(void)gw_irc_tag(&m, "msgid");
		fuzz_gw_env_done(gw_irc_privmsg_env(&cc, "claw", &m, "irc:fuzz",
						    1, &env),
				 &env);
	}
	char *text = fuzz_gw_cstr(data, size);
	if (!text)
		return 0;
	json_t *lines = gw_irc_lines("#room", text, 200);
	size_t i;
	json_t *l;
	json_array_foreach(lines, i, l) {
		const char *s = json_string_value(l);
		if (!s || strlen(s) > 200 || strpbrk(s, "\r\n"))
			__builtin_trap();
	}
	json_decref(lines);
	free(text);
	return 0;
}
