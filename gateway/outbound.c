/*
 * outbound.c - one way to call a channel's API: POST (or another method)
 * a JSON body with an optional Authorization value, read the JSON answer,
 * and classify the result for the retry loop: 2xx done, 429 retry after
 * Retry-After, 408/5xx/transport errors retry with backoff, any other 4xx
 * is final. URLs may hold a token (Telegram), so they are never logged.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "claw/httpc.h"
#include "claw/json.h"
#include "gw.h"

void gw_send_classify(enum claw_rc rc, const struct claw_httpc_resp *resp,
		      struct gw_send_res *res)
{
	char v[32];
	res->retry_after_ms = -1;
	if (rc != CLAW_OK) {
		res->st = GW_SEND_RETRY;
		snprintf(res->detail, sizeof(res->detail), "transport: %.120s",
			 resp->error);
		return;
	}
	snprintf(res->detail, sizeof(res->detail), "HTTP %ld", resp->status);
	if (resp->status >= 200 && resp->status < 300) {
		res->st = GW_SEND_OK;
	} else if (resp->status == 429) {
		res->st = GW_SEND_RETRY;
		if (claw_httpc_resp_header(resp, "Retry-After", v, sizeof(v))) {
			char *end;
			double s = strtod(v, &end);
			if (end != v && !*end && s >= 0 && s < 86400)
				res->retry_after_ms = (long)(s * 1000);
		}
	} else if (resp->status == 408 || resp->status >= 500) {
		res->st = GW_SEND_RETRY;
	} else {
		res->st = GW_SEND_FAIL;
	}
}

void gw_post_json(const struct gw_conf *c, const char *url, const char *auth,
		  const char *method, json_t *body, struct gw_send_res *res,
		  json_t **reply_out)
{
	struct claw_httpc_resp resp;
	char *hauth = NULL;
	const char *headers[3] = {
		"Content-Type: application/json; charset=utf-8", NULL, NULL};
	char *text = body ? claw_json_dumps(body) : NULL;
	if (reply_out)
		*reply_out = NULL;
	if (auth) {
		if (asprintf(&hauth, "Authorization: %s", auth) < 0)
			hauth = NULL;
		headers[1] = hauth;
	}
	if ((body && !text) || (auth && !hauth)) {
		res->st = GW_SEND_RETRY;
		res->retry_after_ms = -1;
		snprintf(res->detail, sizeof(res->detail), "out of memory");
		goto out;
	}
	struct claw_httpc_req req = {
		.method = method,
		.url = url,
		.headers = headers,
		.body = text,
		.body_len = text ? strlen(text) : 0,
		.timeout_ms = 30000,
		.max_response = 1 << 20,
		.ca_file = c->ca_file,
	};
	enum claw_rc rc = claw_httpc_do(&req, &resp);
	gw_send_classify(rc, &resp, res);
	if (reply_out && rc == CLAW_OK && resp.body.len)
		*reply_out = json_loadb(resp.body.data, resp.body.len, 0, NULL);
	claw_httpc_resp_release(&resp);
out:
	if (hauth) {
		memset(hauth, 0, strlen(hauth));
		free(hauth);
	}
	free(text);
}
