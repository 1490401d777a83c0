/*
 * compose.c - a deploy's configs from the tenant's resources and the
 * fleet's defaults; see compose.h for what goes where.
 */
#include "compose.h"

#include <string.h>

#include "resources.h"
#include "store/resources.h"

static const json_t *body(const json_t *res, const char *kind)
{
	return json_object_get(json_object_get(res, kind), "body");
}

/* A copy of dflt (or {}) with "tenant" set to slug. */
static json_t *base_config(const json_t *dflt, const char *slug)
{
	json_t *c = dflt ? json_deep_copy(dflt) : json_object();

	if (c && json_object_set_new(c, "tenant", json_string(slug))) {
		json_decref(c);
		return NULL;
	}
	return c;
}

/* Append each string of more to the array a unless it is there. */
static int union_into(json_t *a, const json_t *more)
{
	size_t i, j;
	json_t *v, *w;

	json_array_foreach(more, i, v) {
		bool seen = false;

		json_array_foreach(a, j, w) {
			if (json_equal(v, w))
				seen = true;
		}
		if (!seen && json_array_append(a, v))
			return -1;
	}
	return 0;
}

static int gateway_compose(json_t *gw, const json_t *res)
{
	const json_t *chans = json_object_get(res, "channels");
	const json_t *pol = json_object_get(body(res, "policies"), "channels");
	json_t *out = json_object_get(gw, "channels"), *eg, *need, *v;
	const char *kind;
	int r = 0;

	if (!json_is_object(out) &&
	    json_object_set_new(gw, "channels", out = json_object()))
		return -1;
	json_object_foreach((json_t *)chans, kind, v) {
		json_t *c = json_deep_copy(json_object_get(v, "body"));
		json_t *over = json_object_get(pol, kind);

		if (!c || (over && json_object_update(c, over)) ||
		    json_object_set_new(out, kind, c))
			return -1;
	}
	eg = json_object_get(gw, "egress_allow");
	if (!json_is_array(eg) &&
	    json_object_set_new(gw, "egress_allow", eg = json_array()))
		return -1;
	for (int k = CP_RES_MODEL; k <= CP_RES_TOOLS; k++) {
		need = cp_res_egress_needs((enum cp_res_kind)k,
					   body(res, cp_res_kind_name(k)));
		r |= !need || union_into(eg, need);
		json_decref(need);
	}
	return r ? -1 : 0;
}

/* The runtime's provider of a model resource's provider part. */
static json_t *provider(const json_t *m, const char *name)
{
	static const char *const keys[] = {
		"kind",           "base_url",   "model",
		"api_key_secret", "timeout_ms", "connect_timeout_ms",
		"max_retries",    "max_tokens", NULL};
	json_t *p = json_pack("{s:s}", "name", name);

	for (const char *const *k = keys; p && *k; k++) {
		json_t *v = json_object_get(m, *k);

		if (v && json_object_set(p, *k, v)) {
			json_decref(p);
			return NULL;
		}
	}
	return p;
}

static int model_compose(json_t *rt, const json_t *m)
{
	json_t *provs, *p;
	const json_t *fb = json_object_get(m, "fallback");

	if (!m)
		return 0;
	if (!(provs = json_array()) ||
	    json_object_set_new(rt, "providers", provs))
		return -1;
	if (!(p = provider(m, "main")) || json_array_append_new(provs, p))
		return -1;
	if (fb &&
	    (!(p = provider(fb, "fallback")) ||
	     json_array_append_new(provs, p)))
		return -1;
	if (json_object_get(m, "limits") &&
	    json_object_set(rt, "limits", json_object_get(m, "limits")))
		return -1;
	if (json_object_get(m, "compaction_model") &&
	    json_object_set(rt, "compaction_model",
			    json_object_get(m, "compaction_model")))
		return -1;
	return 0;
}

/* A remote tool as the runtime's mcp_servers entry. */
static json_t *remote_server(const json_t *t)
{
	json_t *s = json_pack("{s:O, s:O}", "name", json_object_get(t, "name"),
			      "url", json_object_get(t, "url"));

	if (s && json_object_get(t, "headers") &&
	    json_object_set(s, "headers", json_object_get(t, "headers")))
		goto bad;
	if (s && json_object_get(t, "secrets") &&
	    json_object_set(s, "header_secrets", json_object_get(t, "secrets")))
		goto bad;
	if (s && json_object_get(t, "timeout_ms") &&
	    json_object_set(s, "timeout_ms", json_object_get(t, "timeout_ms")))
		goto bad;
	if (s && json_object_get(t, "oauth") &&
	    json_object_set(s, "oauth", json_object_get(t, "oauth")))
		goto bad;
	return s;
bad:
	json_decref(s);
	return NULL;
}

static int tools_compose(json_t *rt, json_t *tool_servers, const json_t *t)
{
	json_t *mcp = json_object_get(rt, "mcp_servers"), *v, *tools;
	size_t i;

	if (!t)
		return 0;
	if (!json_is_array(mcp) &&
	    json_object_set_new(rt, "mcp_servers", mcp = json_array()))
		return -1;
	json_array_foreach(json_object_get(t, "servers"), i, v) {
		if (json_object_get(v, "url")) {
			if (json_array_append_new(mcp, remote_server(v)))
				return -1;
		} else if (json_array_append(tool_servers, v)) {
			return -1;
		}
	}
	if (!json_object_get(t, "allow"))
		return 0;
	tools = json_pack("{s:O}", "allow", json_object_get(t, "allow"));
	return json_object_set_new(rt, "tools", tools);
}

static int policies_compose(json_t *rt, const json_t *pol)
{
	static const char *const keys[] = {"tool_policy", "tool_categories",
					   "elicitation", NULL};

	for (const char *const *k = keys; pol && *k; k++)
		if (json_object_get(pol, *k) &&
		    json_object_set(rt, *k, json_object_get(pol, *k)))
			return -1;
	return 0;
}

/* The persona (its stored form is the runtime's "persona": soul, agents,
 * skills as UTF-8 texts) as runtime_config.persona, unless the runtime
 * config names a workspace: config-as-code keeps the persona its
 * repository holds. */
static int persona_compose(json_t *rt, const json_t *persona)
{
	static const char *const keys[] = {"soul", "agents", "skills", NULL};
	json_t *p;

	if (!persona || json_object_get(rt, "workspace"))
		return 0;
	if (!(p = json_object()) || json_object_set_new(rt, "persona", p))
		return -1;
	for (const char *const *k = keys; *k; k++)
		if (json_object_get(persona, *k) &&
		    json_object_set(p, *k, json_object_get(persona, *k)))
			return -1;
	return 0;
}

/* {"channels": {KIND: N}, "persona": N, ...} of res. */
static json_t *versions_of(const json_t *res)
{
	json_t *v = json_object(), *ch = json_object(), *e;
	const char *key;

	if (!v || !ch || json_object_set_new(v, "channels", ch)) {
		json_decref(v);
		return NULL;
	}
	json_object_foreach((json_t *)res, key, e) {
		const char *k2;
		json_t *c;

		if (strcmp(key, "channels")) {
			if (json_object_set(v, key,
					    json_object_get(e, "version")))
				goto bad;
			continue;
		}
		json_object_foreach(e, k2, c) {
			if (json_object_set(ch, k2,
					    json_object_get(c, "version")))
				goto bad;
		}
	}
	return v;
bad:
	json_decref(v);
	return NULL;
}

enum claw_rc cp_compose_build(const json_t *res, const char *slug,
			      const json_t *default_gateway_config,
			      const json_t *default_runtime_config,
			      struct cp_composed *out)
{
	const json_t *persona = body(res, "persona");

	memset(out, 0, sizeof(*out));
	out->gateway_config = base_config(default_gateway_config, slug);
	out->runtime_config = base_config(default_runtime_config, slug);
	out->tool_servers = json_array();
	out->versions = versions_of(res);
	if (persona)
		out->persona = json_deep_copy(persona);
	if (!out->gateway_config || !out->runtime_config ||
	    !out->tool_servers || !out->versions ||
	    (persona && !out->persona) ||
	    gateway_compose(out->gateway_config, res) ||
	    model_compose(out->runtime_config, body(res, "model")) ||
	    tools_compose(out->runtime_config, out->tool_servers,
			  body(res, "tools")) ||
	    policies_compose(out->runtime_config, body(res, "policies")) ||
	    persona_compose(out->runtime_config, persona)) {
		cp_composed_release(out);
		return CLAW_ERR_NOMEM;
	}
	return CLAW_OK;
}

enum claw_rc cp_compose(PGconn *c, const struct cp_fleet_config *fc,
			const char *tenant_id, const char *slug,
			const json_t *versions, struct cp_composed *out)
{
	json_t *res = NULL;
	enum claw_rc rc = cp_store_res_set(c, tenant_id, versions, &res);

	memset(out, 0, sizeof(*out));
	if (!rc)
		rc = cp_compose_build(res, slug, fc->default_gateway_config,
				      fc->default_runtime_config, out);
	json_decref(res);
	return rc;
}

void cp_composed_release(struct cp_composed *c)
{
	json_decref(c->gateway_config);
	json_decref(c->runtime_config);
	json_decref(c->persona);
	json_decref(c->tool_servers);
	json_decref(c->versions);
	memset(c, 0, sizeof(*c));
}
