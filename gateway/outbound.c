/*
 * outbound.c - one way to call a channel's API: POST (or another method)
 * a JSON body with an optional Authorization value, read the JSON answer,
 * and classify the result for the retry loop: 2xx done, 429 retry after
 * Retry-After, 408/5xx/transport errors retry with backoff, any other 4xx
 * is final. URLs may hold a token (Telegram), so they are never logged.
 * gw_http_send is the general form (any content type, one extra header,
 * a channel's own rate-limit reset header); gw_post_json sends JSON.
 * Authorization values are wiped after use.
 */
#include <sodium.h>
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
	res->http_status = rc == CLAW_OK ? resp->status : 0;
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

/* Seconds from a header value: digits with an optional fraction, under a
 * day; -1 otherwise. */
static long header_ms(const struct claw_httpc_resp *resp, const char *name)
{
	char v[32], *end;
	if (!name || !claw_httpc_resp_header(resp, name, v, sizeof(v)))
		return -1;
	double s = strtod(v, &end);
	if (end == v || *end || s < 0 || s >= 86400)
		return -1;
	return (long)(s * 1000);
}

void gw_http_send(const struct gw_conf *c, const struct gw_http_out *o,
		  struct gw_send_res *res, json_t **reply_out)
{
	struct claw_httpc_resp resp;
	char *hauth = NULL, *hctype = NULL;
	const char *headers[4] = {NULL, NULL, NULL, NULL};
	size_t nh = 0;
	if (reply_out)
		*reply_out = NULL;
	if (asprintf(&hctype, "Content-Type: %s",
		     o->content_type ? o->content_type
				     : "application/json; charset=utf-8") < 0)
		hctype = NULL;
	headers[nh++] = hctype;
	if (o->auth) {
		if (asprintf(&hauth, "Authorization: %s", o->auth) < 0)
			hauth = NULL;
		headers[nh++] = hauth;
	}
	if (o->extra)
		headers[nh++] = o->extra;
	if (!hctype || (o->auth && !hauth)) {
		res->st = GW_SEND_RETRY;
		res->retry_after_ms = -1;
		snprintf(res->detail, sizeof(res->detail), "out of memory");
		goto out;
	}
	struct claw_httpc_req req = {
		.method = o->method,
		.url = o->url,
		.headers = headers,
		.body = o->body,
		.body_len = o->body ? o->body_len : 0,
		.timeout_ms = 30000,
		.max_response = 1 << 20,
		.ca_file = c->ca_file,
	};
	enum claw_rc rc = claw_httpc_do(&req, &resp);
	gw_send_classify(rc, &resp, res);
	if (rc == CLAW_OK && resp.status == 429 && res->retry_after_ms < 0)
		res->retry_after_ms = header_ms(&resp, o->reset_header);
	if (reply_out && rc == CLAW_OK && resp.body.len)
		*reply_out = json_loadb(resp.body.data, resp.body.len, 0, NULL);
	claw_httpc_resp_release(&resp);
out:
	if (hauth) {
		sodium_memzero(hauth, strlen(hauth));
		free(hauth);
	}
	free(hctype);
}

void gw_post_json(const struct gw_conf *c, const char *url, const char *auth,
		  const char *method, json_t *body, struct gw_send_res *res,
		  json_t **reply_out)
{
	char *text = body ? claw_json_dumps(body) : NULL;
	if (body && !text) {
		if (reply_out)
			*reply_out = NULL;
		res->st = GW_SEND_RETRY;
		res->retry_after_ms = -1;
		snprintf(res->detail, sizeof(res->detail), "out of memory");
		return;
	}
	struct gw_http_out o = {.method = method,
				.url = url,
				.body = text,
				.body_len = text ? strlen(text) : 0,
				.auth = auth};
	gw_http_send(c, &o, res, reply_out);
	free(text);
}
