/*
 * runtime.c - the gateway's side of the runtime message API
 * (docs/contracts.md): POST /v1/messages with one envelope, read
 * {"reply": ...}. The envelope id doubles as the request id, so a replayed
 * message keeps its identity and the runtime can drop a repeat.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "claw/httpc.h"
#include "claw/log.h"
#include "gw.h"

enum claw_rc gw_runtime_ask(struct gw *g, const struct gw_conf *c,
			    const json_t *env, char **reply_out,
			    json_t **usage_out)
{
	struct claw_httpc_resp resp;
	char url[1024], rid[300];
	enum claw_rc rc = CLAW_ERR_NOMEM;
	(void)c;
	*reply_out = NULL;
	if (usage_out)
		*usage_out = NULL;
	char *body = gw_env_runtime_body_new(env);
	if (!body)
		return rc;
	snprintf(url, sizeof(url), "%s/v1/messages", g->runtime_url);
	snprintf(rid, sizeof(rid), "X-Request-Id: %s", gw_env_str(env, "id"));
	const char *headers[] = {"Content-Type: application/json",
				 "Accept: application/json", rid, NULL};
	struct claw_httpc_req req = {
		.url = url,
		.headers = headers,
		.body = body,
		.body_len = strlen(body),
		.timeout_ms = g->runtime_timeout_ms,
		.connect_timeout_ms = 2000,
		.max_response = 4 << 20,
	};
	rc = claw_httpc_do(&req, &resp);
	free(body);
	if (rc) {
		log_warn("runtime unreachable for '%s': %s",
			 gw_env_str(env, "id"), resp.error);
		rc = CLAW_ERR_IO;
		goto out;
	}
	if (resp.status != 200) {
		log_warn("runtime answered %ld for '%s'", resp.status,
			 gw_env_str(env, "id"));
		rc = resp.status >= 500 || resp.status == 429
				     || resp.status == 408
			     ? CLAW_ERR_IO
			     : CLAW_ERR_INVALID;
		goto out;
	}
	json_t *o = json_loadb(resp.body.data, resp.body.len, 0, NULL);
	const char *reply = json_string_value(json_object_get(o, "reply"));
	if (!reply) {
		log_warn("runtime reply for '%s' has no \"reply\" string",
			 gw_env_str(env, "id"));
		rc = CLAW_ERR_IO;
	} else {
		*reply_out = strdup(reply);
		rc = *reply_out ? CLAW_OK : CLAW_ERR_NOMEM;
		if (usage_out)
			*usage_out = json_incref(json_object_get(o, "usage"));
	}
	json_decref(o);
out:
	claw_httpc_resp_release(&resp);
	return rc;
}

bool gw_runtime_ready(struct gw *g)
{
	struct claw_httpc_resp resp;
	char url[1024];
	snprintf(url, sizeof(url), "%s/healthz", g->runtime_url);
	struct claw_httpc_req req = {
		.url = url,
		.timeout_ms = 1000,
		.connect_timeout_ms = 1000,
		.max_response = 4096,
	};
	bool ok = claw_httpc_do(&req, &resp) == CLAW_OK && resp.status == 200;
	claw_httpc_resp_release(&resp);
	return ok;
}
