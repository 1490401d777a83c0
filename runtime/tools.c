/*
 * tools.c - the tool registry: MCP tools named "server__tool", the
 * built-in memory tools, the allow-list, and the wrapping of every result
 * as untrusted external content; see tools.h.
 */
#include "tools.h"
#include "oauth.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "claw/buf.h"
#include "claw/log.h"
#include "llm.h"
#include "mcp.h"
#include "memory.h"

#define TAG "untrusted-content"

/* The MCP client's elicit callback in "ask" mode: the tool call's
 * context asks its turn's user. */
static enum rt_elicit_action tools_elicit(void *cls, void *call_ctx,
					  const char *server,
					  const char *message, json_t *schema,
					  json_t **content)
{
	struct rt_tool_ctx *ctx = call_ctx;
	(void)cls;
	*content = NULL;
	if (!ctx || !ctx->ask) {
		log_info("mcp %s: an elicitation that belongs to no tool call "
			 "of a chat; declined",
			 server);
		return RT_ELICIT_DECLINE;
	}
	long long t0 = rt_now_ms();
	enum rt_elicit_action act =
		ctx->ask(ctx->ask_cls, server, message, schema, content);
	atomic_fetch_add(&ctx->asked_ms, rt_now_ms() - t0);
	return act;
}

struct rt_tools {
	const struct rt_config *cfg;
	char *memory_dir;
	struct rt_mcp **mcp;
	size_t n_mcp;
	struct rt_mcp_net net;
};

enum claw_rc rt_tools_open(const struct rt_config *cfg, const char *memory_dir,
			   struct rt_tools **out, char *err, size_t errlen)
{
	struct rt_tools *t = calloc(1, sizeof(*t));
	if (!t || !(t->memory_dir = strdup(memory_dir)) ||
	    !(t->mcp = calloc(cfg->n_mcp + 1, sizeof(struct rt_mcp *)))) {
		snprintf(err, errlen, "out of memory");
		rt_tools_close(t);
		return CLAW_ERR_NOMEM;
	}
	t->cfg = cfg;
	t->net.proxy = cfg->proxy;
	t->net.ca_file = cfg->ca_file;
	if (cfg->elicitation == RT_ELICIT_MODE_ASK) {
		t->net.elicit = tools_elicit;
		t->net.elicit_cls = t;
		t->net.elicit_timeout_ms = cfg->elicitation_timeout_ms;
	}
	for (size_t i = 0; i < cfg->n_mcp; i++) {
		char why[300] = "";
		const struct rt_mcp_server_cfg *sc = &cfg->mcp[i];
		struct rt_mcp_net net = t->net;
		enum claw_rc rc = CLAW_OK;
		if (sc->oauth) {
			/* the grant from the tenant's secret; the handle
			 * keeps its own reference of the client */
			struct rt_oauth_settings os = {
				.allow_http_loopback =
					sc->oauth_allow_http_loopback,
				.client_id = sc->oauth_client_id,
				.client_secret = sc->oauth_client_secret,
				.grant_json = sc->oauth_grant,
				.client_metadata_url =
					sc->oauth_client_metadata_url,
				.proxy = cfg->proxy,
				.ca_file = cfg->ca_file,
			};
			rc = rt_oauth_client_new(&os, &net.oauth, why,
						 sizeof(why));
		}
		if (!rc)
			rc = rt_mcp_start(sc, &net, &t->mcp[t->n_mcp], why,
					  sizeof(why));
		rt_oauth_client_unref(net.oauth);
		if (rc) {
			snprintf(err, errlen, "mcp server '%s': %s",
				 cfg->mcp[i].name, why);
			rt_tools_close(t);
			return rc;
		}
		if (why[0])
			log_warn("mcp server '%s' is not up yet: %s",
				 cfg->mcp[i].name, why);
		t->n_mcp++;
	}
	*out = t;
	return CLAW_OK;
}

void rt_tools_close(struct rt_tools *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->n_mcp; i++)
		rt_mcp_stop(t->mcp[i]);
	free(t->mcp);
	free(t->memory_dir);
	free(t);
}

json_t *rt_tools_auth_status(struct rt_tools *t)
{
	json_t *o = json_object();
	for (size_t i = 0; o && i < t->n_mcp; i++) {
		char st[200];
		rt_mcp_auth_status(t->mcp[i], st, sizeof(st));
		if (st[0])
			json_object_set_new(o, rt_mcp_name(t->mcp[i]),
					    json_string(st));
	}
	return o;
}

json_t *rt_tools_down(struct rt_tools *t)
{
	json_t *a = json_array();
	for (size_t i = 0; a && i < t->n_mcp; i++)
		if (!rt_mcp_ready(t->mcp[i]))
			json_array_append_new(
				a, json_string(rt_mcp_name(t->mcp[i])));
	return a;
}

void rt_tools_counts(struct rt_tools *t, size_t *servers, size_t *up)
{
	*servers = t->n_mcp;
	*up = 0;
	for (size_t i = 0; i < t->n_mcp; i++)
		if (rt_mcp_ready(t->mcp[i]))
			(*up)++;
}

/* "server__tool" with characters providers refuse replaced by '_';
 * CLAW_ERR_TOO_LARGE past 64 characters (providers refuse such names). */
static enum claw_rc model_name(const char *server, const char *tool, char *out,
			       size_t n)
{
	int len = snprintf(out, n, "%s__%s", server, tool);
	if (len < 0 || (size_t)len >= n || len > 64)
		return CLAW_ERR_TOO_LARGE;
	for (char *p = out; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '_' || *p == '-'))
			*p = '_';
	return CLAW_OK;
}

static void add_builtin(struct rt_tools *t, json_t *list, const char *name,
			const char *desc, json_t *schema_steal)
{
	if (rt_config_tool_allowed(t->cfg, name))
		json_array_append_new(list,
				      json_pack("{s:s, s:s, s:o}", "name", name,
						"description", desc,
						"input_schema", schema_steal));
	else
		json_decref(schema_steal);
}

json_t *rt_tools_list(struct rt_tools *t)
{
	json_t *list = json_array(), *tool;
	size_t k;
	add_builtin(t, list, "memory_save",
		    "Save a short note about the current user for later "
		    "conversations (preferences, facts they asked you to "
		    "remember). Notes are shown to you in later turns.",
		    json_pack("{s:s, s:{s:{s:s, s:s}}, s:[s]}", "type",
			      "object", "properties", "note", "type", "string",
			      "description", "the note, one or two sentences",
			      "required", "note"));
	add_builtin(t, list, "memory_delete",
		    "Delete one of the saved notes about the current user by "
		    "its number.",
		    json_pack("{s:s, s:{s:{s:s}}, s:[s]}", "type", "object",
			      "properties", "number", "type", "integer",
			      "required", "number"));
	for (size_t i = 0; i < t->n_mcp; i++) {
		json_t *tools = rt_mcp_tools(t->mcp[i]);
		json_array_foreach(tools, k, tool) {
			const char *n = json_string_value(
				json_object_get(tool, "name"));
			char name[128];
			if (!n ||
			    model_name(rt_mcp_name(t->mcp[i]), n, name,
				       sizeof(name)) ||
			    !rt_config_tool_allowed(t->cfg, name))
				continue;
			json_t *schema = json_object_get(tool, "inputSchema");
			schema = json_is_object(schema)
				? json_incref(schema)
				: json_pack("{s:s}", "type", "object");
			const char *d = json_string_value(
				json_object_get(tool, "description"));
			json_array_append_new(
				list,
				json_pack("{s:s, s:s, s:o}", "name", name,
					  "description", d ? d : "",
					  "input_schema", schema));
		}
		json_decref(tools);
	}
	return list;
}

/* Wrap external text so the model reads it as data. */
static char *wrap_untrusted(const char *source, const char *text)
{
	struct claw_buf b;
	claw_buf_init(&b, 0);
	claw_buf_printf(&b, "<" TAG " source=\"%s\">\n", source);
	size_t tl = strlen(TAG);
	for (const char *p = text; *p;) {
		if (strncasecmp(p, TAG, tl) == 0) {
			claw_buf_puts(&b, "untrusted_content");
			p += tl;
		} else {
			claw_buf_append(&b, p, 1);
			p++;
		}
	}
	claw_buf_puts(&b, "\n</" TAG ">");
	return claw_buf_steal(&b);
}

static char *text_error(const char *fmt, const char *a, const char *b)
{
	char *s = NULL;
	if (asprintf(&s, fmt, a, b) < 0)
		return NULL;
	return s;
}

static char *memory_call(struct rt_tools *t, const struct rt_tool_ctx *ctx,
			 const char *name, json_t *args, bool *is_error)
{
	char err[200];
	enum claw_rc rc;
	if (strcmp(name, "memory_save") == 0) {
		const char *note =
			json_string_value(json_object_get(args, "note"));
		if (!note)
			return text_error("Error: %s needs a string 'note'%s",
					  name, "");
		rc = rt_memory_save(t->memory_dir, ctx->sender_key, note, err,
				    sizeof(err));
	} else {
		json_t *n = json_object_get(args, "number");
		if (!json_is_integer(n))
			return text_error("Error: %s needs an integer "
					  "'number'%s",
					  name, "");
		rc = rt_memory_delete(t->memory_dir, ctx->sender_key,
				      (long)json_integer_value(n), err,
				      sizeof(err));
	}
	if (rc)
		return text_error("Error: %s failed: %s", name, err);
	*is_error = false;
	return strdup("ok");
}

static struct rt_mcp *find_server(struct rt_tools *t, const char *name,
				  char *tool, size_t n)
{
	for (size_t i = 0; i < t->n_mcp; i++) {
		const char *sn = rt_mcp_name(t->mcp[i]);
		size_t l = strlen(sn);
		if (strncmp(name, sn, l) != 0 ||
		    strncmp(name + l, "__", 2) != 0)
			continue;
		/* The model sees sanitised names; find the real one. */
		json_t *tools = rt_mcp_tools(t->mcp[i]), *tl;
		size_t k;
		json_array_foreach(tools, k, tl) {
			const char *real =
				json_string_value(json_object_get(tl, "name"));
			char mn[128];
			if (real && !model_name(sn, real, mn, sizeof(mn)) &&
			    strcmp(mn, name) == 0) {
				snprintf(tool, n, "%s", real);
				json_decref(tools);
				return t->mcp[i];
			}
		}
		json_decref(tools);
	}
	return NULL;
}

char *rt_tools_call(struct rt_tools *t, struct rt_tool_ctx *ctx,
		    const char *name, json_t *args, long timeout_ms,
		    bool *is_error)
{
	char tool[256], err[300];
	*is_error = true;
	if (!rt_config_tool_allowed(t->cfg, name))
		return text_error("Error: the tool '%s' is not allowed for "
				  "this agent%s",
				  name, "");
	if (strcmp(name, "memory_save") == 0 ||
	    strcmp(name, "memory_delete") == 0)
		return memory_call(t, ctx, name, args, is_error);
	struct rt_mcp *m = find_server(t, name, tool, sizeof(tool));
	if (!m)
		return text_error("Error: there is no tool named '%s'%s", name,
				  "");
	json_t *result = NULL;
	if (rt_mcp_call_tool_ctx(m, ctx, tool, args, timeout_ms, &result, err,
				 sizeof(err))) {
		log_warn("tool %s failed: %s", name, err);
		return text_error("Error: the tool '%s' failed: %s", name, err);
	}
	char *text = rt_mcp_result_text(
		result, (size_t)t->cfg->limits.max_tool_result, is_error);
	json_decref(result);
	char source[300];
	snprintf(source, sizeof(source), "tool %s", name);
	char *wrapped = text ? wrap_untrusted(source, text) : NULL;
	free(text);
	return wrapped;
}
