/*
 * preflight.c - the secrets a deployment's configs name, and the fleet's
 * default secrets (see preflight.h). The gateway's table follows
 * gateway/conf.c's: one row per channel credential, with the mode that
 * makes an otherwise optional one required.
 */
#include "preflight.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "claw/secret.h"
#include "scheduler.h"
#include "secrets.h"

/* A gateway channel's secret: required when the channel is enabled, or
 * only when mode_key has mode_value ("gateway" true for discord). */
struct gw_need {
	const char *channel;
	const char *file;
	bool required;
	const char *mode_value; /* NULL: by required alone */
};

static const struct gw_need gw_needs[] = {
	{"telegram", "telegram_bot_token", true, NULL},
	{"telegram", "telegram_webhook_secret", false, "webhook"},
	{"slack", "slack_bot_token", true, NULL},
	{"slack", "slack_signing_secret", false, "events"},
	{"slack", "slack_app_token", false, "socket"},
	{"discord", "discord_bot_token", false, "gateway"},
	{"whatsapp", "whatsapp_app_secret", true, NULL},
	{"whatsapp", "whatsapp_verify_token", true, NULL},
	{"whatsapp", "whatsapp_access_token", true, NULL},
	{"openai", "openai_api_token", true, NULL},
	{"line", "line_channel_secret", true, NULL},
	{"line", "line_channel_access_token", true, NULL},
	{"twilio", "twilio_auth_token", true, NULL},
	{"mattermost", "mattermost_webhook_token", false, "webhook"},
	{"mattermost", "mattermost_bot_token", true, NULL},
	{"teams", "teams_app_password", true, NULL},
	{"googlechat", "googlechat_service_account", true, NULL},
	{"feishu", "feishu_app_secret", true, NULL},
	{"feishu", "feishu_verification_token", true, NULL},
	{"feishu", "feishu_encrypt_key", false, NULL},
	{"matrix", "matrix_access_token", false, "sync"},
	{"matrix", "matrix_as_token", false, "appservice"},
	{"matrix", "matrix_hs_token", false, "appservice"},
	{"irc", "irc_sasl_password", true, NULL},
	{"email", "email_password", true, NULL},
};

/* The gateway's default mode of a channel (gateway/conf.c). */
static const char *mode_of(const char *channel, const json_t *cc)
{
	const char *m = json_string_value(json_object_get(cc, "mode"));

	if (!strcmp(channel, "discord"))
		return json_is_true(json_object_get(cc, "gateway")) ? "gateway"
								    : "";
	if (m)
		return m;
	if (!strcmp(channel, "matrix"))
		return "sync";
	return !strcmp(channel, "slack") ? "events" : "webhook";
}

/* Append {name, role, required} unless (name, role) is there; a second
 * mention that is required makes it required. -1: out of memory. */
static int need_add(json_t *out, const char *name, const char *role,
		    bool required)
{
	size_t i;
	json_t *e;

	if (!name || !cp_secret_name_valid(name))
		return 0; /* not a secret name: the config is refused later */
	json_array_foreach(out, i, e) {
		if (!strcmp(json_string_value(json_object_get(e, "name")),
			    name) &&
		    !strcmp(json_string_value(json_object_get(e, "role")),
			    role)) {
			if (required)
				json_object_set_new(e, "required", json_true());
			return 0;
		}
	}
	return json_array_append_new(out,
				     json_pack("{s:s, s:s, s:b}", "name", name,
					       "role", role, "required",
					       required));
}

static int gateway_needs(json_t *out, const json_t *cfg)
{
	const json_t *chs = json_object_get(cfg, "channels");
	int r = 0;

	for (size_t i = 0; !r && i < sizeof(gw_needs) / sizeof(gw_needs[0]);
	     i++) {
		const struct gw_need *n = &gw_needs[i];
		const json_t *cc = json_object_get(chs, n->channel);
		bool req = n->required;

		if (!json_is_object(cc) ||
		    json_is_false(json_object_get(cc, "enabled")))
			continue;
		if (n->mode_value &&
		    !strcmp(mode_of(n->channel, cc), n->mode_value))
			req = true;
		r = need_add(out, n->file, "gateway", req);
	}
	if (!r)
		r = need_add(out, "admin_token", "gateway", false);
	return r;
}

/* Every string value of obj (env_secrets, header_secrets). */
static int values_needed(json_t *out, const json_t *obj)
{
	const char *k;
	json_t *v;
	int r = 0;

	json_object_foreach((json_t *)obj, k, v) {
		(void)k;
		if (!r)
			r = need_add(out, json_string_value(v), "runtime",
				     true);
	}
	return r;
}

static const char *str_at(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

static int runtime_needs(json_t *out, const json_t *cfg)
{
	const json_t *ws = json_object_get(cfg, "workspace");
	size_t i;
	json_t *e;
	int r = 0;

	json_array_foreach(json_object_get(cfg, "providers"), i, e) {
		if (!r)
			r = need_add(out, str_at(e, "api_key_secret"),
				     "runtime", true);
	}
	json_array_foreach(json_object_get(cfg, "mcp_servers"), i, e) {
		const json_t *oa = json_object_get(e, "oauth");

		if (!r)
			r = values_needed(out,
					  json_object_get(e, "env_secrets"));
		if (!r)
			r = values_needed(out,
					  json_object_get(e, "header_secrets"));
		if (!r)
			r = need_add(out, str_at(oa, "client_secret_secret"),
				     "runtime", true);
		if (!r)
			r = need_add(out, str_at(oa, "token_secret"), "runtime",
				     false);
	}
	if (!r)
		r = need_add(out, str_at(ws, "token_secret"), "runtime", true);
	if (!r)
		r = need_add(out, "admin_token", "runtime", false);
	return r;
}

json_t *cp_secret_needs(const json_t *gateway_config,
			const json_t *runtime_config)
{
	json_t *out = json_array();

	if (out &&
	    (gateway_needs(out, gateway_config) ||
	     runtime_needs(out, runtime_config))) {
		json_decref(out);
		return NULL;
	}
	return out;
}

json_t *cp_secret_needs_role(const json_t *needs, const char *role)
{
	json_t *out = json_array();
	size_t i;
	json_t *e;

	json_array_foreach(needs, i, e) {
		if (out && !strcmp(str_at(e, "role"), role) &&
		    json_array_append(out, json_object_get(e, "name"))) {
			json_decref(out);
			out = NULL;
		}
	}
	return out;
}

bool cp_secret_names_wildcard(const json_t *names)
{
	size_t i;
	json_t *v;

	json_array_foreach(names, i, v) {
		const char *s = json_string_value(v);

		if (s && !strcmp(s, "*"))
			return true;
	}
	return false;
}

/* ---- fleet default secrets */

#define DEFAULTS_MAX 32

static struct {
	size_t n;
	struct {
		char name[CP_SECRET_NAME_MAX + 1];
		char *value; /* guarded memory */
	} e[DEFAULTS_MAX];
} defaults;

bool cp_secret_generated(const char *name)
{
	return !strcmp(name, "openai_api_token") ||
		!strcmp(name, "telegram_webhook_secret");
}

void cp_default_secrets_free(void)
{
	for (size_t i = 0; i < defaults.n; i++) {
		claw_secret_free(defaults.e[i].value);
		defaults.e[i].value = NULL;
	}
	defaults.n = 0;
}

/* One "NAME=FILE" of len bytes at s. */
static int default_add(const char *s, size_t len, char *err, size_t errlen)
{
	const char *eq = memchr(s, '=', len);
	size_t nl = eq ? (size_t)(eq - s) : 0;
	char path[4096], why[300];

	if (!eq || nl == 0 || nl > CP_SECRET_NAME_MAX ||
	    len - nl - 1 >= sizeof(path) || len - nl - 1 == 0) {
		snprintf(err, errlen,
			 "default-secret: give NAME=FILE[,NAME=FILE...]");
		return -1;
	}
	if (defaults.n == DEFAULTS_MAX) {
		snprintf(err, errlen, "default-secret: at most %d secrets",
			 DEFAULTS_MAX);
		return -1;
	}
	memcpy(defaults.e[defaults.n].name, s, nl);
	defaults.e[defaults.n].name[nl] = '\0';
	memcpy(path, eq + 1, len - nl - 1);
	path[len - nl - 1] = '\0';
	if (!cp_secret_name_valid(defaults.e[defaults.n].name) ||
	    cp_default_secret(defaults.e[defaults.n].name, NULL)) {
		snprintf(err, errlen,
			 "default-secret: '%s' is not a secret name, or is "
			 "given twice",
			 defaults.e[defaults.n].name);
		return -1;
	}
	if (cp_registry_password_read(path, &defaults.e[defaults.n].value, why,
				      sizeof(why))) {
		snprintf(err, errlen, "default-secret %s: %s",
			 defaults.e[defaults.n].name, why);
		return -1;
	}
	if (!defaults.e[defaults.n].value[0]) {
		claw_secret_free(defaults.e[defaults.n].value);
		snprintf(err, errlen, "default-secret %s: the file is empty",
			 defaults.e[defaults.n].name);
		return -1;
	}
	defaults.n++;
	return 0;
}

int cp_default_secrets_load(const char *spec, char *err, size_t errlen)
{
	const char *s = spec;

	cp_default_secrets_free();
	while (s && *s) {
		const char *end = strchr(s, ',');
		size_t len = end ? (size_t)(end - s) : strlen(s);

		if (default_add(s, len, err, errlen)) {
			cp_default_secrets_free();
			return -1;
		}
		s = end ? end + 1 : NULL;
	}
	return 0;
}

const char *cp_default_secret(const char *name, size_t *len)
{
	for (size_t i = 0; i < defaults.n; i++) {
		if (!strcmp(defaults.e[i].name, name)) {
			if (len)
				*len = strlen(defaults.e[i].value);
			return defaults.e[i].value;
		}
	}
	return NULL;
}
