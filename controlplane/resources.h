/*
 * resources.h - a tenant's agent setup as resources (docs/resources.md):
 * channels, persona, model, tools and policies, each a JSON document
 * checked here before it is stored.
 *
 * This part is pure (no database, no globals): the unit tests and the
 * fuzzer run exactly what the handlers run. The checks follow the
 * gateway's (gateway/conf.c) and the runtime's (runtime/config.c) own
 * config checks key by key, so a resource accepted here composes into a
 * config both daemons accept: the same keys (unknown ones refused), the
 * same required ones, the same words, ranges and URL schemes. They are
 * kept in step by hand (the components share only lib/); a change to
 * either daemon's config checks changes the table here too.
 *
 * Every check fills a struct cp_res_problem naming the field the way the
 * reply names it ("settings.mode", "credentials.bot_token",
 * "fallback.base_url", "servers[2].url"): a field of the request, never a
 * value (a credential's bytes never reach a message).
 */
#ifndef CP_RESOURCES_H
#define CP_RESOURCES_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

/* The kinds, as the store names them. */
enum cp_res_kind {
	CP_RES_CHANNEL = 0,
	CP_RES_PERSONA,
	CP_RES_MODEL,
	CP_RES_TOOLS,
	CP_RES_POLICIES,
	CP_RES__COUNT
};
/* "channel", "persona", ...; static. */
const char *cp_res_kind_name(enum cp_res_kind k);

/* The name of a resource that is one per tenant (all but channels). */
#define CP_RES_SINGLE "default"

struct cp_res_problem {
	char field[128];
	char message[256];
};

/* ---- channels: {"settings": {...}, "credentials": {"bot_token": ...}} */

#define CP_CHANNEL_KINDS 16
/* Whether kind is a channel the gateway knows ("telegram", ...). */
bool cp_channel_known(const char *kind);
/* The kinds the gateway knows, for messages: "telegram, slack, ...". */
const char *cp_channel_kinds_text(void);

/* Check settings (an object: the gateway's channels.KIND keys, checked as
 * the gateway checks them) and credentials (NULL or an object of the
 * kind's credential names to values: each of the shape the channel
 * documents, one line of 1..16384 bytes). 0, or -1 with p filled. */
int cp_channel_check(const char *kind, const json_t *settings,
		     const json_t *credentials, struct cp_res_problem *p);
/* The tenant secret a channel's credential is stored as:
 * ("telegram", "bot_token") is "telegram_bot_token", the file the gateway
 * reads. false when kind has no such credential. */
bool cp_channel_secret_name(const char *kind, const char *cred, char *out,
			    size_t outlen);

/* ---- persona: {"soul": TEXT, "agents": TEXT, "skills": {NAME: TEXT}}
 * with "encoding": "utf8" (default: the texts are JSON strings) or
 * "base64" (each text is base64 of the file's bytes, so a file that is not
 * UTF-8 is refused by name instead of by the JSON parser). */

#define CP_PERSONA_TEXT_MAX 65536 /* bytes of each text: the runtime's cap */
#define CP_PERSONA_SKILLS_MAX 64  /* the runtime reads at most 64 skills */
#define CP_PERSONA_SKILL_NAME_MAX 64

/* Check body and build the stored form *out (a new object: the texts as
 * UTF-8 strings, "encoding" dropped). 0, or -1 with p filled. */
int cp_persona_check(const json_t *body, json_t **out,
		     struct cp_res_problem *p);
/* Whether the n bytes at s are UTF-8 (shortest forms, no surrogates, no
 * NUL). */
bool cp_utf8_valid(const unsigned char *s, size_t n);

/* ---- model: a provider ("kind", "base_url", "model", "api_key" (a value,
 * stored as a secret) or "api_key_secret" (a secret's name), the runtime's
 * timeouts and max_tokens), "limits" (the runtime's), "fallback" (one more
 * provider). */

/* The secrets a model's keys given as values are stored as. */
#define CP_MODEL_KEY_SECRET "model_api_key"
#define CP_MODEL_FALLBACK_KEY_SECRET "model_fallback_api_key"

/* Check body. 0, or -1 with p filled. */
int cp_model_check(const json_t *body, struct cp_res_problem *p);

/* ---- tools: {"servers": [{"name", "url" | "image" (+ "command", "env"),
 * "headers", "secrets": {HEADER_OR_ENV: SECRET}, "egress": ["host:port"],
 * "timeout_ms"}], "allow": [...]} */

#define CP_TOOLS_MAX 32
int cp_tools_check(const json_t *body, struct cp_res_problem *p);

/* ---- policies: {"channels": {KIND: {dm_policy, group_policy, allow_from,
 * rate_limit_per_minute}}, "tool_policy": {...}, "tool_categories": {...},
 * "elicitation": "ask"|"decline"} */
int cp_policies_check(const json_t *body, struct cp_res_problem *p);

/* ---- what a resource needs */

/* The secret names a stored body refers to (a new array of strings; the
 * model's api_key_secret, a tool's secrets), or NULL when out of memory. */
json_t *cp_res_secret_refs(enum cp_res_kind k, const json_t *body);
/* The egress entries ("host:port") a stored body needs through the
 * gateway's proxy: the model's base URLs, a remote tool's URL, a tool's
 * "egress" (a new array), or NULL when out of memory. */
json_t *cp_res_egress_needs(enum cp_res_kind k, const json_t *body);
/* "host:port" of an http(s) URL (the scheme's port when none is given),
 * or false. */
bool cp_url_host_port(const char *url, char *out, size_t outlen);

/* Check a body of kind k (for a channel, name is its kind): what the
 * templates use, which hold every kind (credentials refused: a template
 * holds no secret). 0, or -1 with p filled. */
int cp_res_check(enum cp_res_kind k, const char *name, const json_t *body,
		 struct cp_res_problem *p);

#endif
