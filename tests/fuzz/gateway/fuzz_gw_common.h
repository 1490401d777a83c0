/* fuzz_gw_common.h - what the gateway's webhook fuzzers check of every
 * envelope a parser yields (it passes gw_env_check and splits to its
 * channel's size), shared so each harness states only its parser. Header
 * only: claw_add_fuzzer builds one source file per harness. */
#ifndef FUZZ_GW_COMMON_H
#define FUZZ_GW_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gw.h"

/* Traps unless env (may be NULL) is a valid envelope that splits. */
static inline void fuzz_gw_env_ok(const json_t *env)
{
	struct gw_conf conf = {0};
	if (!env)
		return;
	if (gw_env_check(env))
		__builtin_trap();
	json_decref(gw_channel_split(&conf, env, gw_env_str(env, "text")));
}

/* Checks the envelope *env of a parse that returned rc, then frees it
 * (a pointer: the parse fills it in, so it is read after the call). */
static inline void fuzz_gw_env_done(enum claw_rc rc, json_t **env)
{
	if (rc == CLAW_OK)
		fuzz_gw_env_ok(*env);
	json_decref(*env);
	*env = NULL;
}

/* Checks each envelope of the array *envs of a parse that returned rc,
 * then frees it. */
static inline void fuzz_gw_envs_done(enum claw_rc rc, json_t **envs)
{
	size_t i;
	json_t *env;
	if (rc == CLAW_OK)
		json_array_foreach(*envs, i, env)
			fuzz_gw_env_ok(env);
	json_decref(*envs);
	*envs = NULL;
}

/* A Matrix parser (gw_matrix_parse, gw_matrix_as_parse) on the input,
 * without and with member counts (a two-member room): the envelopes of
 * its answer checked. */
typedef enum claw_rc (*fuzz_gw_matrix_fn)(const struct gw_chan_conf *cc,
					  const char *body, size_t len,
					  const json_t *members, json_t **out);
static inline void fuzz_gw_matrix_run(fuzz_gw_matrix_fn parse,
				      const uint8_t *data, size_t size)
{
	struct gw_chan_conf cc = {.bot_user_id = "@claw:example.com"};
	json_t *members = json_pack("{s:i}", "!dm:example.com", 2);
	for (int pass = 0; pass < 2; pass++) {
		json_t *out = NULL;
		enum claw_rc rc = parse(&cc, (const char *)data, size,
					pass ? members : NULL, &out);
		json_t *envs = json_incref(json_object_get(out, "envelopes"));
		json_decref(out);
		fuzz_gw_envs_done(rc, &envs);
	}
	json_decref(members);
}

/* The input as a NUL-terminated string (free it), or NULL. */
static inline char *fuzz_gw_cstr(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	if (s) {
		memcpy(s, data, size);
		s[size] = '\0';
	}
	return s;
}

#endif
