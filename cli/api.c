/*
 * api.c - clawctl's calls to the control plane's REST API over claw_httpc:
 * headers (bearer token, JSON), path escaping, and the mapping of the
 * API's error shape {"error":{"code","message","request_id"}} and of
 * transport failures to a message on stderr and an exit code.
 */
#include "cli.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "claw/httpc.h"
#include "claw/json.h"

#define CLI_MAX_REPLY (16u << 20)

int cli_exit_for_status(long status)
{
	if (status >= 200 && status < 300)
		return CLI_OK;
	switch (status) {
	case 401:
	case 403:
		return CLI_EAUTH;
	case 404:
		return CLI_ENOTFOUND;
	case 409:
	case 412:
		return CLI_ECONFLICT;
	case 400:
	case 405:
	case 413:
	case 415:
	case 422:
		return CLI_EINVALID;
	default:
		return CLI_ESERVER;
	}
}

void cli_print_api_error(FILE *f, long status, const char *body, size_t len)
{
	json_t *root = body && len ? json_loadb(body, len, 0, NULL) : NULL;
	json_t *e = root ? json_object_get(root, "error") : NULL;
	const char *code = json_string_value(json_object_get(e, "code"));
	const char *msg = json_string_value(json_object_get(e, "message"));
	const char *rid = json_string_value(json_object_get(e, "request_id"));

	if (msg) {
		fprintf(f, "error: %s (%s, HTTP %ld", msg,
			code ? code : "no code", status);
		if (rid && *rid)
			fprintf(f, ", request id %s", rid);
		fprintf(f, ")\n");
	} else {
		fprintf(f,
			"error: the control plane answered HTTP %ld "
			"without an error description%s\n",
			status,
			status >= 500 ? "; retry, or check its log" : "");
	}
	json_decref(root);
}

int cli_escape(struct claw_buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '_' ||
		    c == '.' || c == '~') {
			if (claw_buf_append(b, s, 1))
				return -1;
		} else {
			char enc[3] = {'%', hex[c >> 4], hex[c & 15]};

			if (claw_buf_append(b, enc, 3))
				return -1;
		}
	}
	return 0;
}

int cli_vpathf(struct claw_buf *b, const char *fmt, va_list ap)
{
	int rc = 0;

	for (const char *p = fmt; *p && !rc; p++) {
		if (p[0] == '%' && p[1] == 's') {
			rc = cli_escape(b, va_arg(ap, const char *));
			p++;
		} else {
			rc = claw_buf_append(b, p, 1) ? -1 : 0;
		}
	}
	return rc;
}

int cli_pathf(struct claw_buf *b, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = cli_vpathf(b, fmt, ap);
	va_end(ap);
	return rc;
}

int cli_query_add(struct claw_buf *b, const char *key, const char *value)
{
	if (!value)
		return 0;
	if (claw_buf_printf(b, "%c%s=",
			    b->data && strchr(b->data, '?') ? '&' : '?', key))
		return -1;
	return cli_escape(b, value);
}

int cli_api_headers(struct cli_ctx *ctx, const char *accept,
		    const char *content_type, const char *if_match,
		    struct claw_buf *store, const char **hdrs, size_t max)
{
	size_t offs[5], n = 0;

	/* Offsets first: the store may move while it grows. */
	if (max < 6)
		return -1;
	if (ctx->token) {
		offs[n++] = store->len;
		if (claw_buf_printf(store, "Authorization: Bearer %s",
				    ctx->token) ||
		    claw_buf_append(store, "", 1))
			return -1;
	}
	offs[n++] = store->len;
	if (claw_buf_printf(store, "Accept: %s", accept) ||
	    claw_buf_append(store, "", 1))
		return -1;
	offs[n++] = store->len;
	if (claw_buf_puts(store, "User-Agent: clawctl/0.1") ||
	    claw_buf_append(store, "", 1))
		return -1;
	if (content_type) {
		offs[n++] = store->len;
		if (claw_buf_printf(store, "Content-Type: %s", content_type) ||
		    claw_buf_append(store, "", 1))
			return -1;
	}
	if (if_match) {
		offs[n++] = store->len;
		if (claw_buf_printf(store, "If-Match: %s", if_match) ||
		    claw_buf_append(store, "", 1))
			return -1;
	}
	for (size_t i = 0; i < n; i++)
		hdrs[i] = store->data + offs[i];
	hdrs[n] = NULL;
	return 0;
}

static void transport_error(struct cli_ctx *ctx, enum claw_rc rc,
			    const struct claw_httpc_resp *resp)
{
	if (rc == CLAW_ERR_TIMEOUT)
		fprintf(ctx->err,
			"error: the control plane at %s did not "
			"answer in time; retry, or raise --timeout\n",
			ctx->url);
	else if (rc == CLAW_ERR_TOO_LARGE)
		fprintf(ctx->err,
			"error: the reply of the control plane at "
			"%s is too large; ask for less (--limit)\n",
			ctx->url);
	else
		fprintf(ctx->err,
			"error: unable to reach the control plane "
			"at %s: %s; check --url or CLAW_URL and that "
			"claw-controlplane is running\n",
			ctx->url,
			resp->error[0] ? resp->error : claw_strerror(rc));
}

int cli_api(struct cli_ctx *ctx, const struct cli_call *c, json_t **out,
	    char *etag, size_t etaglen)
{
	struct claw_buf url, store;
	struct claw_httpc_req req = {0};
	struct claw_httpc_resp resp;
	const char *hdrs[8];
	char *body = NULL;
	enum claw_rc rc;
	int ex = CLI_ELOCAL;

	*out = NULL;
	ex = cli_config_resolve(ctx);
	if (ex)
		return ex;
	ex = CLI_ELOCAL;
	claw_buf_init(&url, 0);
	claw_buf_init(&store, 0);
	if (c->body && !(body = claw_json_dumps(c->body)))
		goto oom;
	if (cli_api_headers(ctx, "application/json",
			    body || c->raw_body ? "application/json" : NULL,
			    c->if_match, &store, hdrs,
			    sizeof(hdrs) / sizeof(hdrs[0])))
		goto oom;
	req.method = c->method;
	req.headers = hdrs;
	req.body = body ? body : c->raw_body;
	req.body_len = body ? strlen(body) : c->raw_len;
	req.timeout_ms = ctx->timeout_ms;
	req.max_response = CLI_MAX_REPLY;
	for (size_t tried = 0;; tried++) {
		size_t at = cli_replica(ctx);

		claw_buf_reset(&url);
		if (claw_buf_printf(&url, "%s%s", ctx->url, c->path))
			goto oom;
		req.url = url.data;
		rc = claw_httpc_do(&req, &resp);
		if (!cli_replica_next(ctx, at, tried, rc, resp.status))
			break;
		claw_httpc_resp_release(&resp);
	}
	if (rc) {
		transport_error(ctx, rc, &resp);
		ex = CLI_ECONNECT;
		goto done;
	}
	ex = cli_exit_for_status(resp.status);
	if (ex) {
		cli_print_api_error(ctx->err, resp.status, resp.body.data,
				    resp.body.len);
		if (resp.status == 401 && !ctx->token)
			fprintf(ctx->err,
				"hint: no token was given; set "
				"CLAW_TOKEN or CLAW_TOKEN_FILE, or pass "
				"--token-file FILE\n");
		goto done;
	}
	if (etag && !claw_httpc_resp_header(&resp, "ETag", etag, etaglen))
		etag[0] = '\0';
	if (resp.body.len) {
		json_error_t jerr;

		*out = json_loadb(resp.body.data, resp.body.len,
				  JSON_DECODE_ANY, &jerr);
		if (!*out) {
			fprintf(ctx->err,
				"error: the control plane's reply "
				"is not JSON (%s); check --url points at "
				"claw-controlplane\n",
				jerr.text);
			ex = CLI_ESERVER;
		}
	}
done:
	claw_httpc_resp_release(&resp);
	goto out;
oom:
	fprintf(ctx->err, "error: out of memory\n");
out:
	free(body);
	claw_buf_release(&url);
	claw_buf_release(&store);
	return ex;
}

/* cli_api of method with body on the path cli_vpathf(fmt, ap); the reply
 * into *out. */
static int vcallf(struct cli_ctx *ctx, const char *method, const json_t *body,
		  json_t **out, const char *fmt, va_list ap)
{
	struct cli_call c = {.method = method, .body = body};
	struct claw_buf path;
	int ex;

	claw_buf_init(&path, 0);
	if (cli_vpathf(&path, fmt, ap)) {
		claw_buf_release(&path);
		fprintf(ctx->err, "error: out of memory\n");
		return CLI_ELOCAL;
	}
	c.path = path.data;
	ex = cli_api(ctx, &c, out, NULL, 0);
	claw_buf_release(&path);
	return ex;
}

int cli_api_callf(struct cli_ctx *ctx, const char *method, const json_t *body,
		  json_t **out, const char *fmt, ...)
{
	va_list ap;
	int ex;

	va_start(ap, fmt);
	ex = vcallf(ctx, method, body, out, fmt, ap);
	va_end(ap);
	return ex;
}

int cli_api_done(struct cli_ctx *ctx, const char *method, const char *done,
		 const char *fmt, ...)
{
	json_t *reply = NULL;
	va_list ap;
	int ex;

	va_start(ap, fmt);
	ex = vcallf(ctx, method, NULL, &reply, fmt, ap);
	va_end(ap);
	json_decref(reply);
	if (!ex)
		fprintf(ctx->out, "%s\n", cli_out_machine(ctx) ? "{}" : done);
	return ex;
}

int cli_api_print(struct cli_ctx *ctx, const struct cli_call *c)
{
	json_t *reply = NULL;
	int ex;

	ex = cli_api(ctx, c, &reply, NULL, 0);
	if (!ex)
		ex = cli_print_reply(ctx, reply, NULL, 0);
	json_decref(reply);
	return ex;
}

int cli_api_printf(struct cli_ctx *ctx, const char *method, const json_t *body,
		   const char *fmt, ...)
{
	json_t *reply = NULL;
	va_list ap;
	int ex;

	va_start(ap, fmt);
	ex = vcallf(ctx, method, body, &reply, fmt, ap);
	va_end(ap);
	if (!ex)
		ex = cli_print_reply(ctx, reply, NULL, 0);
	json_decref(reply);
	return ex;
}

int cli_path_cmd(struct cli_ctx *ctx, int argc, char **argv, const char *method,
		 const char *fmt, const char *usage, const char *help,
		 int nargs, const char *done)
{
	const struct cli_spec spec = {usage, help, NULL, nargs, nargs};
	const char *pos[2] = {"", ""};
	int ex;

	if (!cli_args_ok(ctx, &spec, argc, argv, pos, &ex))
		return ex;
	if (done)
		return cli_api_done(ctx, method, done, fmt, pos[0], pos[1]);
	return cli_api_printf(ctx, method, NULL, fmt, pos[0], pos[1]);
}

int cli_path_table_cmd(struct cli_ctx *ctx, int argc, char **argv,
		       const struct cli_path_def *defs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(defs[i].name, argv[0]))
			return cli_path_cmd(ctx, argc, argv, defs[i].method,
					    defs[i].fmt, defs[i].usage,
					    defs[i].help, defs[i].nargs,
					    defs[i].done);
	fprintf(ctx->err, "error: no command '%s' here\n", argv[0]);
	return CLI_EUSAGE;
}
