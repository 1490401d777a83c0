/* fuzz_gw_teams.c - the Bot Framework activity parser and the check of a
 * token's claims against the activity (serviceUrl, endorsed channel) on
 * arbitrary bytes: every envelope must pass gw_env_check and split to
 * Teams' size. */
#include <stddef.h>
#include <stdint.h>

#include "gw.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gw_chan_conf cc = {0};
	struct gw_conf conf = {0};
	json_t *env = NULL;
	json_t *claims = json_pack("{s:s}", "serviceUrl",
				   "https://smba.trafficmanager.net/amer/");
	json_t *end = json_pack("[s]", "msteams");
	gw_teams_claims_match(claims, end, (const char *)data, size);
	gw_teams_claims_match(claims, NULL, (const char *)data, size);
	if (gw_teams_parse(&cc, (const char *)data, size, &env) == CLAW_OK &&
	    env) {
		if (gw_env_check(env))
			__builtin_trap();
		json_decref(
			gw_channel_split(&conf, env, gw_env_str(env, "text")));
		gw_teams_service_url_ok(
			&cc,
			json_string_value(json_object_get(
				json_object_get(env, GW_ENV_ROUTE),
				"service_url")));
	}
	json_decref(env);
	json_decref(claims);
	json_decref(end);
	return 0;
}
