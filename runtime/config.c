/*
 * config.c - load and validate the runtime's JSON config; see config.h.
 *
 * Each object is checked against the keys it may hold (cfg_keys), then its
 * values are taken with typed getters that report the JSON path of the
 * first problem ("providers[1].kind: must be 'openai' or 'anthropic'").
 */
#include "config.h"

#include <jansson.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "claw/file.h"

/* Ceiling on the config file (a real one is a few KiB; an inline persona
 * of 66 texts of 64 KiB, JSON-escaped, stays under it). */
#define CONFIG_MAX (32u << 20)

struct cfg_ctx {
	char *err;
	size_t errlen;
	const char *secrets_dir;
};

/* Say what is wrong at path, into c->err. */
static void cfg_say(struct cfg_ctx *c, const char *path, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void cfg_say(struct cfg_ctx *c, const char *path, const char *fmt, ...)
{
	char msg[400];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(c->err, c->errlen, "%s: %s", path, msg);
}

/* cfg_say as an expression worth CLAW_ERR_INVALID; a macro, so that the
 * static analyzer sees the code (it does not follow variadic calls). */
#define cfg_fail(c, path, ...)                                                 \
	(cfg_say((c), (path), __VA_ARGS__), CLAW_ERR_INVALID)

static enum claw_rc cfg_nomem(struct cfg_ctx *c, const char *path)
{
	snprintf(c->err, c->errlen, "%s: out of memory", path);
	return CLAW_ERR_NOMEM;
}

/* Refuse keys of obj not in the NULL-terminated list. */
static enum claw_rc cfg_keys(struct cfg_ctx *c, const char *path, json_t *obj,
			     const char *const *keys)
{
	const char *k;
	json_t *v;
	if (!json_is_object(obj))
		return cfg_fail(c, path, "must be an object");
	json_object_foreach(obj, k, v) {
		const char *const *p = keys;
		while (*p && strcmp(*p, k) != 0)
			p++;
		if (!*p)
			return cfg_fail(c, path, "unknown key '%.64s'", k);
	}
	return CLAW_OK;
}

/* A string value (copied into *out), or NULL when absent and optional. */
static enum claw_rc cfg_str(struct cfg_ctx *c, const char *path, json_t *obj,
			    const char *key, bool required, char **out)
{
	json_t *v = json_object_get(obj, key);
	char where[160];
	snprintf(where, sizeof(where), "%s.%s", path, key);
	if (!v || json_is_null(v)) {
		if (required)
			return cfg_fail(c, where, "is required");
		return CLAW_OK;
	}
	if (!json_is_string(v) || json_string_length(v) == 0 ||
	    strlen(json_string_value(v)) != json_string_length(v))
		return cfg_fail(c, where, "must be a non-empty string");
	free(*out);
	*out = strdup(json_string_value(v));
	if (!*out)
		return cfg_nomem(c, where);
	return CLAW_OK;
}

static enum claw_rc cfg_int(struct cfg_ctx *c, const char *path, json_t *obj,
			    const char *key, long def, long min, long max,
			    long *out)
{
	json_t *v = json_object_get(obj, key);
	*out = def;
	if (!v)
		return CLAW_OK;
	if (!json_is_integer(v) || json_integer_value(v) < min ||
	    json_integer_value(v) > max) {
		char where[160];
		snprintf(where, sizeof(where), "%s.%s", path, key);
		return cfg_fail(c, where,
				"must be a whole number from %ld to %ld", min,
				max);
	}
	*out = (long)json_integer_value(v);
	return CLAW_OK;
}

static bool name_ok(const char *s, size_t max)
{
	size_t n = strlen(s);
	if (n == 0 || n > max || strstr(s, "__"))
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '-' || ch == '_'))
			return false;
	}
	return true;
}

char *rt_secret_concat(const char *prefix, const char *secret)
{
	size_t a = strlen(prefix), b = strlen(secret);
	char *s = sodium_malloc(a + b + 1);
	if (!s)
		return NULL;
	snprintf(s, a + b + 1, "%s%s", prefix, secret);
	return s;
}

/* The secret file name in the secrets directory; claw_secret_read's code
 * (CLAW_ERR_NOT_FOUND, CLAW_ERR_INVALID, ...) with its message. */
static enum claw_rc cfg_secret(struct cfg_ctx *c, const char *path,
			       const char *name, char **out)
{
	char err[300];
	enum claw_rc rc = claw_secret_read(c->secrets_dir, name, out, NULL, err,
					   sizeof(err));
	if (rc)
		snprintf(c->err, c->errlen, "%s: %s", path, err);
	return rc;
}

static enum claw_rc cfg_provider(struct cfg_ctx *c, const char *path, json_t *o,
				 struct rt_provider_cfg *p)
{
	static const char *const keys[] = {"name",
					   "kind",
					   "base_url",
					   "model",
					   "api_key_secret",
					   "timeout_ms",
					   "connect_timeout_ms",
					   "max_retries",
					   "max_tokens",
					   NULL};
	char *kind = NULL, *secret = NULL;
	enum claw_rc rc = cfg_keys(c, path, o, keys);
	if (!rc)
		rc = cfg_str(c, path, o, "kind", true, &kind);
	if (!rc && strcmp(kind, "openai") == 0)
		p->kind = RT_PROVIDER_OPENAI;
	else if (!rc && strcmp(kind, "anthropic") == 0)
		p->kind = RT_PROVIDER_ANTHROPIC;
	else if (!rc)
		rc = cfg_fail(c, path, "kind must be 'openai' or 'anthropic'");
	if (!rc)
		rc = cfg_str(c, path, o, "name", false, &p->name);
	if (!rc && !p->name && !(p->name = strdup(kind)))
		rc = cfg_nomem(c, path);
	if (!rc)
		rc = cfg_str(c, path, o, "base_url", true, &p->base_url);
	if (!rc && strncmp(p->base_url, "http://", 7) != 0 &&
	    strncmp(p->base_url, "https://", 8) != 0)
		rc = cfg_fail(c, path,
			      "base_url must start with http:// or "
			      "https://");
	if (!rc) {
		size_t n = strlen(p->base_url);
		while (n && p->base_url[n - 1] == '/')
			p->base_url[--n] = '\0';
	}
	if (!rc)
		rc = cfg_str(c, path, o, "model", true, &p->model);
	if (!rc)
		rc = cfg_str(c, path, o, "api_key_secret", false, &secret);
	if (!rc && secret)
		rc = cfg_secret(c, path, secret, &p->api_key);
	if (!rc)
		rc = cfg_int(c, path, o, "timeout_ms", 120000, 100, 3600000,
			     &p->timeout_ms);
	if (!rc)
		rc = cfg_int(c, path, o, "connect_timeout_ms", 10000, 100,
			     600000, &p->connect_timeout_ms);
	if (!rc)
		rc = cfg_int(c, path, o, "max_retries", 2, 0, 10,
			     &p->max_retries);
	if (!rc)
		rc = cfg_int(c, path, o, "max_tokens", 1024, 1, 1000000,
			     &p->max_tokens);
	free(kind);
	free(secret);
	return rc;
}

/* {"K": "value"} and {"K": "secret-name"} into "K<sep>value" lines. */
static enum claw_rc cfg_pairs(struct cfg_ctx *c, const char *path,
			      json_t *plain, json_t *secret, const char *sep,
			      char ***out)
{
	size_t n = json_object_size(plain) + json_object_size(secret), i = 0;
	const char *k;
	json_t *v;
	char **list = calloc(n + 1, sizeof(*list));
	if (!list)
		return cfg_nomem(c, path);
	*out = list;
	for (int pass = 0; pass < 2; pass++) {
		json_t *obj = pass ? secret : plain;
		if (!obj)
			continue;
		if (!json_is_object(obj))
			return cfg_fail(c, path,
					"env and headers must be "
					"objects of strings");
		json_object_foreach(obj, k, v) {
			if (!json_is_string(v) || !k[0] ||
			    strpbrk(k, "=:\r\n") ||
			    strpbrk(json_string_value(v), "\r\n"))
				return cfg_fail(c, path,
						"'%.64s' needs a "
						"one-line string value",
						k);
			char *val = NULL;
			enum claw_rc rc = CLAW_OK;
			if (pass)
				rc = cfg_secret(c, path, json_string_value(v),
						&val);
			if (rc)
				return rc;
			char *prefix = malloc(strlen(k) + strlen(sep) + 1);
			if (!prefix) {
				claw_secret_free(val);
				return cfg_nomem(c, path);
			}
			snprintf(prefix, strlen(k) + strlen(sep) + 1, "%s%s", k,
				 sep);
			list[i] = rt_secret_concat(
				prefix, pass ? val : json_string_value(v));
			free(prefix);
			claw_secret_free(val);
			if (!list[i++])
				return cfg_nomem(c, path);
		}
	}
	return CLAW_OK;
}

/* A URL server's "oauth": {"token_secret": NAME (the stored grant; a
 * secret not stored yet leaves the server without one until it is),
 * "client_id": ID, "client_secret_secret": NAME} (all optional), and
 * "oauth_allow_http_loopback" (tests only). */
static enum claw_rc cfg_oauth(struct cfg_ctx *c, const char *path, json_t *o,
			      struct rt_mcp_server_cfg *m)
{
	static const char *const keys[] = {"token_secret", "client_id",
					   "client_secret_secret",
					   "client_metadata_url", NULL};
	json_t *oa = json_object_get(o, "oauth");
	json_t *lb = json_object_get(o, "oauth_allow_http_loopback");
	char p[128], *tok = NULL, *sec = NULL;
	enum claw_rc rc = CLAW_OK;
	if (lb && !json_is_boolean(lb))
		return cfg_fail(c, path,
				"oauth_allow_http_loopback must be a boolean");
	m->oauth_allow_http_loopback = json_is_true(lb);
	if (!oa)
		return CLAW_OK;
	snprintf(p, sizeof(p), "%s.oauth", path);
	if (!json_is_object(oa) || !m->url)
		return cfg_fail(c, p, "must be an object, for a url server");
	m->oauth = true;
	for (size_t i = 0; m->headers && m->headers[i]; i++)
		if (strncasecmp(m->headers[i], "Authorization:", 14) == 0)
			return cfg_fail(c, p,
					"an Authorization header and oauth "
					"cannot both be given");
	rc = cfg_keys(c, p, oa, keys);
	if (!rc)
		rc = cfg_str(c, p, oa, "token_secret", false, &tok);
	if (!rc)
		rc = cfg_str(c, p, oa, "client_id", false, &m->oauth_client_id);
	if (!rc)
		rc = cfg_str(c, p, oa, "client_secret_secret", false, &sec);
	if (!rc)
		rc = cfg_str(c, p, oa, "client_metadata_url", false,
			     &m->oauth_client_metadata_url);
	if (!rc && m->oauth_client_metadata_url &&
	    strncmp(m->oauth_client_metadata_url, "https://", 8) != 0)
		rc = cfg_fail(c, p, "client_metadata_url must be https");
	if (!rc && tok) {
		rc = cfg_secret(c, p, tok, &m->oauth_grant);
		/* not connected yet (clawctl mcp connect stores the grant,
		 * then a redeploy brings it): the server waits, the rest
		 * of the runtime serves */
		if (rc == CLAW_ERR_NOT_FOUND) {
			rc = CLAW_OK;
			c->err[0] = '\0';
		}
	}
	if (!rc && sec)
		rc = cfg_secret(c, p, sec, &m->oauth_client_secret);
	free(tok);
	free(sec);
	return rc;
}

static enum claw_rc cfg_mcp(struct cfg_ctx *c, const char *path, json_t *o,
			    struct rt_mcp_server_cfg *m)
{
	static const char *const keys[] = {"name",
					   "command",
					   "env",
					   "env_secrets",
					   "url",
					   "headers",
					   "header_secrets",
					   "timeout_ms",
					   "oauth",
					   "oauth_allow_http_loopback",
					   NULL};
	enum claw_rc rc = cfg_keys(c, path, o, keys);
	json_t *cmd = json_object_get(o, "command");
	if (!rc)
		rc = cfg_str(c, path, o, "name", true, &m->name);
	if (!rc && !name_ok(m->name, 32))
		rc = cfg_fail(c, path,
			      "name must be 1-32 letters, digits, "
			      "'-' or '_' (no '__')");
	if (!rc)
		rc = cfg_str(c, path, o, "url", false, &m->url);
	if (!rc && !m->url == !cmd)
		rc = cfg_fail(c, path, "give either command or url");
	if (!rc && m->url && strncmp(m->url, "http://", 7) != 0 &&
	    strncmp(m->url, "https://", 8) != 0)
		rc = cfg_fail(c, path,
			      "url must start with http:// or "
			      "https://");
	if (!rc && cmd) {
		size_t i, n = json_array_size(cmd);
		if (!json_is_array(cmd) || n == 0)
			return cfg_fail(c, path,
					"command must be a non-empty "
					"array of strings");
		m->argv = calloc(n + 1, sizeof(char *));
		if (!m->argv)
			return cfg_nomem(c, path);
		for (i = 0; i < n; i++) {
			json_t *a = json_array_get(cmd, i);
			if (!json_is_string(a))
				return cfg_fail(c, path,
						"command must be an "
						"array of strings");
			if (!(m->argv[i] = strdup(json_string_value(a))))
				return cfg_nomem(c, path);
		}
		rc = cfg_pairs(c, path, json_object_get(o, "env"),
			       json_object_get(o, "env_secrets"), "=", &m->env);
	}
	if (!rc && m->url)
		rc = cfg_pairs(c, path, json_object_get(o, "headers"),
			       json_object_get(o, "header_secrets"), ": ",
			       &m->headers);
	if (!rc)
		rc = cfg_int(c, path, o, "timeout_ms", 60000, 100, 3600000,
			     &m->timeout_ms);
	if (!rc)
		rc = cfg_oauth(c, path, o, m);
	return rc;
}

static enum claw_rc cfg_limits(struct cfg_ctx *c, json_t *o,
			       struct rt_limits *l)
{
	static const char *const keys[] = {"max_steps",
					   "turn_timeout_ms",
					   "context_tokens",
					   "max_tool_result_bytes",
					   "max_message_bytes",
					   "session_cache",
					   "compact_at_percent",
					   "summary_tokens",
					   NULL};
	json_t *empty = json_object();
	if (!o)
		o = empty;
	enum claw_rc rc = cfg_keys(c, "limits", o, keys);
	if (!rc)
		rc = cfg_int(c, "limits", o, "max_steps", 25, 1, 1000,
			     &l->max_steps);
	if (!rc)
		rc = cfg_int(c, "limits", o, "turn_timeout_ms", 300000, 100,
			     86400000, &l->turn_timeout_ms);
	if (!rc)
		rc = cfg_int(c, "limits", o, "context_tokens", 32000, 256,
			     10000000, &l->context_tokens);
	if (!rc)
		rc = cfg_int(c, "limits", o, "max_tool_result_bytes", 65536,
			     256, 16 << 20, &l->max_tool_result);
	if (!rc)
		rc = cfg_int(c, "limits", o, "max_message_bytes", 65536, 256,
			     1 << 20, &l->max_message);
	if (!rc)
		rc = cfg_int(c, "limits", o, "session_cache", 256, 1, 1000000,
			     &l->session_cache);
	if (!rc)
		rc = cfg_int(c, "limits", o, "compact_at_percent", 80, 0, 100,
			     &l->compact_at_percent);
	if (!rc)
		rc = cfg_int(c, "limits", o, "summary_tokens", 1024, 64, 100000,
			     &l->summary_tokens);
	json_decref(empty);
	return rc;
}

static enum claw_rc cfg_workspace(struct cfg_ctx *c, json_t *o,
				  struct rt_workspace_cfg *w)
{
	static const char *const keys[] = {
		"repo", "commit", "token_secret", "token_user", "path", NULL};
	char *secret = NULL;
	enum claw_rc rc = cfg_keys(c, "workspace", o, keys);
	if (!rc)
		rc = cfg_str(c, "workspace", o, "repo", false, &w->repo);
	if (!rc)
		rc = cfg_str(c, "workspace", o, "commit", false, &w->commit);
	if (!rc)
		rc = cfg_str(c, "workspace", o, "path", false, &w->path);
	if (!rc)
		rc = cfg_str(c, "workspace", o, "token_user", false,
			     &w->token_user);
	if (!rc)
		rc = cfg_str(c, "workspace", o, "token_secret", false, &secret);
	if (!rc && !w->repo == !w->path)
		rc = cfg_fail(c, "workspace",
			      "give either repo (with commit) "
			      "or path");
	if (!rc && w->repo) {
		size_t n = w->commit ? strlen(w->commit) : 0;
		if (n != 40 || strspn(w->commit, "0123456789abcdef") != 40)
			rc = cfg_fail(c, "workspace.commit",
				      "must be the "
				      "pinned commit: 40 lowercase hex digits");
	}
	if (!rc && secret)
		rc = cfg_secret(c, "workspace.token_secret", secret, &w->token);
	if (!rc && !w->token_user &&
	    !(w->token_user = strdup("x-access-token")))
		rc = cfg_nomem(c, "workspace");
	free(secret);
	return rc;
}

/* One persona text at path: a string (jansson has checked its UTF-8)
 * without NUL, at most RT_PERSONA_TEXT_MAX bytes; may be empty. */
static enum claw_rc cfg_text(struct cfg_ctx *c, const char *path, json_t *v,
			     char **out)
{
	if (!json_is_string(v) ||
	    strlen(json_string_value(v)) != json_string_length(v))
		return cfg_fail(c, path, "must be a string (UTF-8, no NUL)");
	if (json_string_length(v) > RT_PERSONA_TEXT_MAX)
		return cfg_fail(c, path, "is over %u bytes",
				(unsigned)RT_PERSONA_TEXT_MAX);
	*out = strdup(json_string_value(v));
	return *out ? CLAW_OK : cfg_nomem(c, path);
}

/* The control plane's skill names (controlplane/resources.c): 1 to 64 of
 * A-Z a-z 0-9 _ -, not starting with '-'. */
static bool skill_name_ok(const char *s)
{
	size_t n = strlen(s);
	return n >= 1 && n <= RT_PERSONA_SKILL_NAME_MAX && s[0] != '-' &&
		strspn(s,
		       "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
		       "0123456789_-") == n;
}

static int cmp_skill(const void *a, const void *b)
{
	return strcmp(((const struct rt_persona_skill *)a)->name,
		      ((const struct rt_persona_skill *)b)->name);
}

/* "persona": {"soul": TEXT, "agents": TEXT, "skills": {NAME: TEXT}}. */
static enum claw_rc cfg_persona(struct cfg_ctx *c, json_t *o,
				struct rt_persona *p)
{
	static const char *const keys[] = {"soul", "agents", "skills", NULL};
	json_t *skills = json_object_get(o, "skills"), *v;
	const char *name;
	char where[160];
	enum claw_rc rc = cfg_keys(c, "persona", o, keys);

	p->set = true;
	if (!rc && !json_object_get(o, "soul"))
		rc = cfg_fail(c, "persona.soul", "is required");
	if (!rc)
		rc = cfg_text(c, "persona.soul", json_object_get(o, "soul"),
			      &p->soul);
	if (!rc && json_object_get(o, "agents"))
		rc = cfg_text(c, "persona.agents", json_object_get(o, "agents"),
			      &p->agents);
	if (rc || !skills)
		return rc;
	if (!json_is_object(skills) ||
	    json_object_size(skills) > RT_PERSONA_SKILLS_MAX)
		return cfg_fail(c, "persona.skills",
				"must be an object of at most %d texts",
				RT_PERSONA_SKILLS_MAX);
	p->skills = calloc(json_object_size(skills) + 1, sizeof(*p->skills));
	if (!p->skills)
		return cfg_nomem(c, "persona.skills");
	json_object_foreach(skills, name, v) {
		struct rt_persona_skill *s = &p->skills[p->n_skills];
		if (!skill_name_ok(name))
			return cfg_fail(c, "persona.skills",
					"skill #%zu: a name is 1 to %d of "
					"A-Z a-z 0-9 _ -, not starting with "
					"'-'",
					p->n_skills + 1,
					RT_PERSONA_SKILL_NAME_MAX);
		snprintf(where, sizeof(where), "persona.skills.%s", name);
		if (!(s->name = strdup(name)))
			return cfg_nomem(c, where);
		p->n_skills++;
		if ((rc = cfg_text(c, where, v, &s->text)))
			return rc;
	}
	qsort(p->skills, p->n_skills, sizeof(*p->skills), cmp_skill);
	return CLAW_OK;
}

static enum claw_rc cfg_tools(struct cfg_ctx *c, json_t *o,
			      struct rt_config *cfg)
{
	static const char *const keys[] = {"allow", NULL};
	enum claw_rc rc = cfg_keys(c, "tools", o, keys);
	json_t *allow = json_object_get(o, "allow");
	if (rc || !allow)
		return rc;
	if (!json_is_array(allow))
		return cfg_fail(c, "tools.allow",
				"must be an array of tool "
				"names or patterns");
	cfg->n_allow = json_array_size(allow);
	cfg->allow = calloc(cfg->n_allow + 1, sizeof(char *));
	if (!cfg->allow)
		return cfg_nomem(c, "tools.allow");
	for (size_t i = 0; i < cfg->n_allow; i++) {
		json_t *v = json_array_get(allow, i);
		if (!json_is_string(v) || !json_string_length(v))
			return cfg_fail(c, "tools.allow",
					"entry %zu must be a "
					"non-empty string",
					i);
		if (!(cfg->allow[i] = strdup(json_string_value(v))))
			return cfg_nomem(c, "tools.allow");
	}
	return CLAW_OK;
}

static enum claw_rc cfg_root(struct cfg_ctx *c, json_t *root,
			     struct rt_config *cfg)
{
	static const char *const keys[] = {"tenant",
					   "proxy",
					   "ca_file",
					   "providers",
					   "mcp_servers",
					   "tools",
					   "limits",
					   "workspace",
					   "elicitation",
					   "elicitation_timeout_ms",
					   "compaction_model",
					   "tool_policy",
					   "tool_categories",
					   "persona",
					   NULL};
	char *elicit = NULL;
	char path[64];
	enum claw_rc rc = cfg_keys(c, "config", root, keys);
	if (!rc)
		rc = cfg_str(c, "config", root, "tenant", false, &cfg->tenant);
	if (!rc && !cfg->tenant && !(cfg->tenant = strdup("default")))
		rc = cfg_nomem(c, "config");
	if (!rc)
		rc = cfg_str(c, "config", root, "proxy", false, &cfg->proxy);
	if (!rc && cfg->proxy && strncmp(cfg->proxy, "http://", 7) != 0)
		rc = cfg_fail(c, "config.proxy",
			      "must be an http:// URL (the "
			      "gateway's CONNECT proxy)");
	if (!rc)
		rc = cfg_str(c, "config", root, "ca_file", false,
			     &cfg->ca_file);
	if (!rc)
		rc = cfg_str(c, "config", root, "elicitation", false, &elicit);
	if (!rc && elicit && strcmp(elicit, "ask") == 0)
		cfg->elicitation = RT_ELICIT_MODE_ASK;
	else if (!rc && elicit && strcmp(elicit, "decline") != 0)
		rc = cfg_fail(c, "config.elicitation",
			      "must be 'decline' or 'ask'");
	free(elicit);
	if (!rc)
		rc = cfg_int(c, "config", root, "elicitation_timeout_ms",
			     600000, 1000, 86400000,
			     &cfg->elicitation_timeout_ms);
	if (!rc)
		rc = cfg_str(c, "config", root, "compaction_model", false,
			     &cfg->compaction_model);
	if (!rc)
		rc = rt_policy_parse(json_object_get(root, "tool_policy"),
				     json_object_get(root, "tool_categories"),
				     &cfg->policy, c->err, c->errlen);
	if (rc)
		return rc;

	json_t *prov = json_object_get(root, "providers");
	if (!json_is_array(prov) || json_array_size(prov) == 0)
		return cfg_fail(c, "config.providers",
				"must be a non-empty "
				"array (the first is used, the rest are "
				"fallbacks)");
	cfg->n_providers = json_array_size(prov);
	cfg->providers = calloc(cfg->n_providers, sizeof(*cfg->providers));
	if (!cfg->providers)
		return cfg_nomem(c, "config");
	for (size_t i = 0; i < cfg->n_providers; i++) {
		snprintf(path, sizeof(path), "providers[%zu]", i);
		rc = cfg_provider(c, path, json_array_get(prov, i),
				  &cfg->providers[i]);
		if (rc)
			return rc;
	}

	json_t *mcp = json_object_get(root, "mcp_servers");
	if (mcp && !json_is_array(mcp))
		return cfg_fail(c, "config.mcp_servers", "must be an array");
	cfg->n_mcp = json_array_size(mcp);
	cfg->mcp = calloc(cfg->n_mcp + 1, sizeof(*cfg->mcp));
	if (!cfg->mcp)
		return cfg_nomem(c, "config");
	for (size_t i = 0; i < cfg->n_mcp; i++) {
		snprintf(path, sizeof(path), "mcp_servers[%zu]", i);
		rc = cfg_mcp(c, path, json_array_get(mcp, i), &cfg->mcp[i]);
		if (rc)
			return rc;
		for (size_t j = 0; j < i; j++)
			if (strcmp(cfg->mcp[j].name, cfg->mcp[i].name) == 0)
				return cfg_fail(c, path,
						"name '%s' is used "
						"twice",
						cfg->mcp[i].name);
	}
	json_t *tools = json_object_get(root, "tools");
	if (tools && (rc = cfg_tools(c, tools, cfg)))
		return rc;
	rc = cfg_limits(c, json_object_get(root, "limits"), &cfg->limits);
	if (rc)
		return rc;
	json_t *ws = json_object_get(root, "workspace");
	if (ws && (rc = cfg_workspace(c, ws, &cfg->workspace)))
		return rc;
	json_t *persona = json_object_get(root, "persona");
	if (persona)
		rc = cfg_persona(c, persona, &cfg->persona);
	return rc;
}

enum claw_rc rt_config_load(const char *path, const char *secrets_dir,
			    struct rt_config *out, char *err, size_t errlen)
{
	struct cfg_ctx c = {err, errlen, secrets_dir};
	json_error_t jerr;
	char *text = NULL;
	size_t len = 0;
	memset(out, 0, sizeof(*out));
	enum claw_rc rc =
		claw_file_load(path, CONFIG_MAX, &text, &len, err, errlen);
	if (rc)
		return rc;
	json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	free(text);
	if (!root) {
		snprintf(err, errlen,
			 "unable to load config '%s': %s (line "
			 "%d column %d)",
			 path, jerr.text, jerr.line, jerr.column);
		return CLAW_ERR_PARSE;
	}
	rc = cfg_root(&c, root, out);
	json_decref(root);
	if (rc)
		rt_config_release(out);
	return rc;
}

static void free_list(char **l, bool secret)
{
	for (size_t i = 0; l && l[i]; i++)
		if (secret)
			claw_secret_free(l[i]);
		else
			free(l[i]);
	free(l);
}

void rt_config_release(struct rt_config *c)
{
	for (size_t i = 0; i < c->n_providers && c->providers; i++) {
		struct rt_provider_cfg *p = &c->providers[i];
		free(p->name);
		free(p->base_url);
		free(p->model);
		claw_secret_free(p->api_key);
	}
	free(c->providers);
	for (size_t i = 0; i < c->n_mcp && c->mcp; i++) {
		struct rt_mcp_server_cfg *m = &c->mcp[i];
		free(m->name);
		free_list(m->argv, false);
		free_list(m->env, true);
		free(m->url);
		free_list(m->headers, true);
		claw_secret_free(m->oauth_grant);
		free(m->oauth_client_id);
		free(m->oauth_client_metadata_url);
		claw_secret_free(m->oauth_client_secret);
	}
	free(c->mcp);
	free_list(c->allow, false);
	free(c->tenant);
	free(c->proxy);
	free(c->ca_file);
	free(c->workspace.repo);
	free(c->workspace.commit);
	claw_secret_free(c->workspace.token);
	free(c->workspace.token_user);
	free(c->workspace.path);
	free(c->compaction_model);
	rt_persona_release(&c->persona);
	rt_policy_release(&c->policy);
	memset(c, 0, sizeof(*c));
}

void rt_persona_release(struct rt_persona *p)
{
	free(p->soul);
	free(p->agents);
	for (size_t i = 0; i < p->n_skills; i++) {
		free(p->skills[i].name);
		free(p->skills[i].text);
	}
	free(p->skills);
	memset(p, 0, sizeof(*p));
}

bool rt_config_tool_allowed(const struct rt_config *c, const char *name)
{
	if (!c->allow)
		return true;
	for (size_t i = 0; i < c->n_allow; i++) {
		const char *p = c->allow[i];
		size_t n = strlen(p);
		if (strcmp(p, "*") == 0 || strcmp(p, name) == 0)
			return true;
		if (n >= 2 && p[n - 1] == '*' && strncmp(p, name, n - 1) == 0)
			return true;
	}
	return false;
}
