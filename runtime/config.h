/*
 * config.h - the runtime's JSON config (/etc/claw/runtime.json): providers,
 * MCP servers, the tool allow-list, limits, the workspace, the proxy.
 *
 * The prompt's persona comes from the workspace when one is configured,
 * else from "persona" (texts inline), else a default (prompt.h).
 *
 * rt_config_load parses and validates the whole file (unknown keys are
 * refused, every problem names its JSON path) and reads the secret files it
 * names from the secrets directory. Secret values live in sodium_malloc
 * memory, are wiped on release and never reach a log or an error message.
 * The struct owns every pointer in it; rt_config_release frees them.
 */
#ifndef RT_CONFIG_H
#define RT_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "claw/err.h"
#include "claw/secret.h"
#include "policy.h"

enum rt_provider_kind {
	RT_PROVIDER_OPENAI,
	RT_PROVIDER_ANTHROPIC,
};

struct rt_provider_cfg {
	char *name;
	enum rt_provider_kind kind;
	char *base_url; /* without a trailing slash */
	char *model;
	char *api_key; /* secret value (sodium memory), or NULL for none */
	long timeout_ms, connect_timeout_ms;
	long max_retries;
	long max_tokens;
};

struct rt_mcp_server_cfg {
	char *name;
	char **argv; /* stdio: NULL-terminated command, or NULL */
	char **env;  /* stdio: "NAME=value", NULL-terminated (secrets inside) */
	char *url;   /* Streamable HTTP endpoint, or NULL */
	char **headers; /* http: "Name: value", NULL-terminated (secrets) */
	long timeout_ms;
	/* http, "oauth": the stored grant (JSON, a secret; docs/runtime.md)
	 * and a pre-registered client, or NULL */
	char *oauth_grant;
	char *oauth_client_id;
	char *oauth_client_secret;       /* a secret */
	char *oauth_client_metadata_url; /* SEP-991 client id, or NULL */
	bool oauth;                      /* "oauth" given */
	bool oauth_allow_http_loopback;  /* tests only */
};

struct rt_limits {
	long max_steps;       /* model calls per turn */
	long turn_timeout_ms; /* wall-clock budget per turn */
	long context_tokens;  /* estimated prompt budget */
	long max_tool_result; /* bytes of one tool result shown to the model */
	long max_message;     /* bytes of one user message */
	long session_cache;   /* sessions kept in memory */
	long compact_at_percent; /* compact past this share of the prompt
				    budget; 0: never (older turns are left
				    out with a note) */
	long summary_tokens;     /* the most a summary may hold */
};

enum rt_elicit_mode {
	RT_ELICIT_MODE_DECLINE, /* every elicitation declined at once */
	RT_ELICIT_MODE_ASK,     /* asked of the chat user */
};

struct rt_workspace_cfg {
	char *repo;   /* git URL or local path, or NULL */
	char *commit; /* the pinned commit (40 hex), with repo */
	char *token;  /* HTTPS token value (secret), or NULL */
	char *token_user;
	char *path; /* a plain directory used as it is, or NULL */
};

/* The prompt's texts given inline ("persona"): SOUL.md, AGENTS.md and
 * skills/NAME/SKILL.md as the control plane's persona resource holds them
 * (docs/resources.md). Each text is UTF-8 without NUL, at most
 * RT_PERSONA_TEXT_MAX bytes. */
#define RT_PERSONA_TEXT_MAX 65536 /* what the prompt shows of one text */
#define RT_PERSONA_SKILLS_MAX 64
#define RT_PERSONA_SKILL_NAME_MAX 64

struct rt_persona_skill {
	char *name;
	char *text;
};

struct rt_persona {
	bool set;                        /* "persona" given */
	char *soul;                      /* NULL: none (the default persona) */
	char *agents;                    /* or NULL */
	struct rt_persona_skill *skills; /* in name order (strcmp) */
	size_t n_skills;
};

struct rt_config {
	char *tenant;
	char *proxy;   /* "http://gateway:3128", or NULL */
	char *ca_file; /* CA bundle for TLS, or NULL (libcurl's default) */
	struct rt_provider_cfg *providers; /* in fallback order */
	size_t n_providers;
	struct rt_mcp_server_cfg *mcp;
	size_t n_mcp;
	char **allow; /* tool patterns; NULL when every tool is allowed */
	size_t n_allow;
	struct rt_limits limits;
	struct rt_workspace_cfg workspace;
	struct rt_persona persona; /* used when there is no workspace */
	enum rt_elicit_mode elicitation;
	long elicitation_timeout_ms; /* how long a user may take to answer */
	char *compaction_model;  /* the first provider's model for summaries,
				   or NULL: its own model */
	struct rt_policy policy; /* "tool_policy" and "tool_categories" */
};

/* Load path into *out (released with rt_config_release; on failure it is
 * left empty). CLAW_OK, or with err set (a message for the operator that
 * names the JSON path of the problem, never a secret):
 *   CLAW_ERR_IO, CLAW_ERR_TOO_LARGE  the file cannot be read (over 32 MiB)
 *   CLAW_ERR_PARSE                   it is not JSON (or has a duplicate key)
 *   CLAW_ERR_INVALID                 a value is missing, unknown or wrong
 *   CLAW_ERR_NOT_FOUND               a secret file it names does not exist
 *   CLAW_ERR_NOMEM */
enum claw_rc rt_config_load(const char *path, const char *secrets_dir,
			    struct rt_config *out, char *err, size_t errlen);
void rt_config_release(struct rt_config *c);

/* A sodium_malloc'd copy of "prefix" + secret (for header lines); claw_secret_free releases it. */
char *rt_secret_concat(const char *prefix, const char *secret);

/* Whether a tool named name ("server__tool") passes the allow-list: exact
 * names, "server__*" or "*". */
/* Free what p holds and clear it (config release and prompt.c's
 * workspace reader). */
void rt_persona_release(struct rt_persona *p);

bool rt_config_tool_allowed(const struct rt_config *c, const char *name);

#endif
