/*
 * openai_models.c - GET /v1/models and GET /v1/models/{model}, OpenAI's
 * Models API, so clients that list models before they chat (chat
 * front-ends, IDE plugins, the SDKs' models.list()) find the agent. The
 * list is the config's channels.openai.models (default ["claw"]): names
 * under which the tenant's one agent answers. "created" is when the
 * config was loaded, "owned_by" the tenant. An unknown id is 404
 * model_not_found with param "model", as OpenAI answers it.
 */
#include <string.h>

#include "claw/httpd.h"
#include "errors.h"
#include "gw.h"

json_t *gw_openai_model_ids(const struct gw_conf *c)
{
	json_t *models = c->ch[GW_CH_OPENAI].models;
	if (json_array_size(models))
		return json_copy(models);
	return json_pack("[s]", "claw");
}

static json_t *model_new(const struct gw_conf *c, const char *id)
{
	return json_pack("{s:s, s:s, s:I, s:s}", "id", id, "object", "model",
			 "created", (json_int_t)c->loaded_at, "owned_by",
			 c->tenant);
}

void gw_openai_models(struct claw_http_req *r, void *ctx)
{
	struct gw_conf *c = gw_openai_open(r, ctx);
	size_t i;
	json_t *v;
	if (!c)
		return;
	json_t *ids = gw_openai_model_ids(c);
	json_t *data = json_array();
	json_array_foreach(ids, i, v)
		json_array_append_new(data, model_new(c, json_string_value(v)));
	claw_http_reply_json(r, 200,
			     json_pack("{s:s, s:o}", "object", "list", "data",
				       data ? data : json_array()));
	json_decref(ids);
	gw_conf_put(c);
}

void gw_openai_model(struct claw_http_req *r, void *ctx)
{
	struct gw_conf *c = gw_openai_open(r, ctx);
	const char *id = claw_http_param(r, "model");
	size_t i;
	json_t *v;
	bool found = false;
	if (!c)
		return;
	json_t *ids = gw_openai_model_ids(c);
	json_array_foreach(ids, i, v)
		found = found || (id && strcmp(json_string_value(v), id) == 0);
	if (found)
		claw_http_reply_json(r, 200, model_new(c, id));
	else
		/* the id is not echoed: it is the caller's text */
		gw_openai_error(r, gw_error_def(GW_E_MODEL_NOT_FOUND), "model",
				"no such model; GET /v1/models lists the "
				"models of this endpoint");
	json_decref(ids);
	gw_conf_put(c);
}
