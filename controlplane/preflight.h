/*
 * preflight.h - what a deployment's containers need before they start: the
 * secrets each role's final (composed) config names, and the fleet's
 * default secrets.
 *
 * The one place that knows how configs name secrets (docs/gateway.md
 * "Secrets", docs/runtime.md "Config"): the gateway needs one file per
 * enabled channel's credentials (some only in a mode: telegram webhook,
 * slack events or socket, discord with "gateway": true); the runtime needs
 * providers[].api_key_secret, mcp_servers[].env_secrets and
 * header_secrets values, mcp_servers[].oauth.client_secret_secret and
 * workspace.token_secret; oauth.token_secret (a grant the runtime stores
 * later) and the gateway's feishu_encrypt_key, telegram_webhook_secret in
 * polling mode and admin_token are optional: delivered when set, never
 * required. A deploy delivers to each container only the names its own
 * config names (cp_secret_needs) and refuses one whose required names the
 * tenant has not set and no fleet default covers (422 missing_secrets).
 *
 * Fleet default secrets (--default-secret NAME=FILE[,NAME=FILE...]): read
 * once at start with claw_secret_read into guarded memory, never logged.
 * A tenant that needs NAME and has not set it gets the default's value
 * sealed as its own secret by the deploy (api/deploy.c), in the deploy's
 * transaction with a 'secret.put' audit row that names the secret and
 * "source": "fleet-default" (never the value). The node then receives it
 * exactly like any other secret of the tenant (envelope-encrypted at rest,
 * released once per version, a tmpfs file in the container), so no second
 * delivery path exists and nothing fleet-wide ever reaches a node that
 * does not run a tenant needing it.
 */
#ifndef CP_PREFLIGHT_H
#define CP_PREFLIGHT_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

/* The secrets the configs name, as a new JSON array of
 * {"name": N, "role": "gateway"|"runtime", "required": bool} in config
 * order, each (name, role) once. Either config may be NULL. NULL when out
 * of memory. */
json_t *cp_secret_needs(const json_t *gateway_config,
			const json_t *runtime_config);

/* The names of needs for role (a new array of strings), for a spec's
 * "secrets". */
json_t *cp_secret_needs_role(const json_t *needs, const char *role);

/* Whether names (a spec's secrets list of one role) holds "*". */
bool cp_secret_names_wildcard(const json_t *names);

/* Whether name is a token only the platform uses, so a deploy that needs
 * it and finds it unset makes one up (32 random bytes, base64url) and
 * seals it as the tenant's own secret, audited like a fleet default with
 * the source "generated": openai_api_token (the bearer of the tenant's
 * OpenAI endpoint, which the control plane's chat relay uses, and which
 * a tenant may replace with its own) and telegram_webhook_secret (the
 * secret_token the gateway gives Telegram's setWebhook). Credentials that
 * come from an outside platform are never made up. */
bool cp_secret_generated(const char *name);

/* ---- fleet default secrets */

/* Parse spec ("NAME=FILE,NAME=FILE"; NULL or "": none) and read each file.
 * -1 with err saying what is wrong (the name, never a value). */
int cp_default_secrets_load(const char *spec, char *err, size_t errlen);
void cp_default_secrets_free(void);
/* The default's value (guarded memory, borrowed until
 * cp_default_secrets_free) or NULL. */
const char *cp_default_secret(const char *name, size_t *len);

#endif
