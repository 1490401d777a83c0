/*
 * docker.c - the Docker Engine API client; see docker.h.
 */
#include "docker.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "claw/json.h"

#define NA_DOCKER_MAX_BODY (32u << 20)

int na_docker_version_cmp(const char *a, const char *b)
{
	unsigned long amaj = strtoul(a, (char **)&a, 10), amin = 0;
	unsigned long bmaj = strtoul(b, (char **)&b, 10), bmin = 0;
	if (*a == '.')
		amin = strtoul(a + 1, NULL, 10);
	if (*b == '.')
		bmin = strtoul(b + 1, NULL, 10);
	if (amaj != bmaj)
		return amaj < bmaj ? -1 : 1;
	if (amin != bmin)
		return amin < bmin ? -1 : 1;
	return 0;
}

void na_docker_err_from_body(struct na_docker_err *err, long status,
			     const char *body, size_t len)
{
	const char *msg = NULL;
	json_t *o = NULL;
	err->status = status;
	if (body && len)
		o = json_loadb(body, len, 0, NULL);
	if (json_is_object(o))
		msg = json_string_value(json_object_get(o, "message"));
	if (msg && *msg)
		snprintf(err->message, sizeof(err->message), "%s", msg);
	else
		snprintf(err->message, sizeof(err->message),
			 "the engine answered HTTP %ld", status);
	json_decref(o);
}

static void transport_err(struct na_docker_err *err, const struct na_docker *d,
			  const struct claw_httpc_resp *resp)
{
	err->status = 0;
	snprintf(err->message, sizeof(err->message),
		 "the Docker engine at '%s' did not answer: %s", d->socket,
		 resp->error[0] ? resp->error : "no response");
}

static enum claw_rc call(const struct na_docker *d, const char *method,
			 const char *path, bool versioned,
			 const char *const *headers, const char *body,
			 size_t body_len, long timeout_ms,
			 claw_httpc_data_fn fn, void *cls,
			 struct claw_httpc_resp *resp,
			 struct na_docker_err *err)
{
	char url[4096];
	int n;
	if (versioned)
		n = snprintf(url, sizeof(url), "http://localhost/v%s%s", d->api,
			     path);
	else
		n = snprintf(url, sizeof(url), "http://localhost%s", path);
	if (n < 0 || (size_t)n >= sizeof(url)) {
		err->status = 0;
		snprintf(err->message, sizeof(err->message),
			 "request path too long");
		memset(resp, 0, sizeof(*resp));
		return CLAW_ERR_TOO_LARGE;
	}
	struct claw_httpc_req req = {
		.method = method,
		.url = url,
		.unix_socket = d->socket,
		.headers = headers,
		.body = body,
		.body_len = body_len,
		.timeout_ms = timeout_ms,
		.connect_timeout_ms = 3000,
		.max_response = NA_DOCKER_MAX_BODY,
		.on_data = fn,
		.cls = cls,
	};
	enum claw_rc rc = claw_httpc_do(&req, resp);
	if (rc)
		transport_err(err, d, resp);
	return rc;
}

bool na_docker_ping(const struct na_docker *d)
{
	struct claw_httpc_resp resp;
	struct na_docker_err err;
	enum claw_rc rc = call(d, "GET", "/_ping", false, NULL, NULL, 0, 3000,
			       NULL, NULL, &resp, &err);
	bool ok = rc == CLAW_OK && resp.status == 200;
	claw_httpc_resp_release(&resp);
	return ok;
}

enum claw_rc na_docker_connect(struct na_docker *d, const char *socket,
			       struct na_docker_err *err)
{
	struct claw_httpc_resp resp;
	char ver[16];
	enum claw_rc rc;

	memset(d, 0, sizeof(*d));
	if (strlen(socket) >= sizeof(d->socket)) {
		snprintf(err->message, sizeof(err->message),
			 "docker socket path '%s' is too long", socket);
		return CLAW_ERR_INVALID;
	}
	snprintf(d->socket, sizeof(d->socket), "%s", socket);
	rc = call(d, "GET", "/_ping", false, NULL, NULL, 0, 5000, NULL, NULL,
		  &resp, err);
	if (rc)
		goto out;
	if (resp.status != 200) {
		na_docker_err_from_body(err, resp.status, resp.body.data,
					resp.body.len);
		rc = CLAW_ERR_IO;
		goto out;
	}
	if (!claw_httpc_resp_header(&resp, "Api-Version", ver, sizeof(ver)) ||
	    !ver[0]) {
		/* Engines before 1.25 send none: too old for us anyway. */
		snprintf(ver, sizeof(ver), "1.0");
	}
	if (na_docker_version_cmp(ver, NA_DOCKER_API_MIN) < 0) {
		err->status = resp.status;
		snprintf(err->message, sizeof(err->message),
			 "the Docker engine speaks API %s; version %s or newer "
			 "is needed",
			 ver, NA_DOCKER_API_MIN);
		rc = CLAW_ERR_PROTO;
		goto out;
	}
	snprintf(d->api, sizeof(d->api), "%s",
		 na_docker_version_cmp(ver, NA_DOCKER_API_MAX) > 0
			 ? NA_DOCKER_API_MAX
			 : ver);
	if (!claw_httpc_resp_header(&resp, "Server", d->engine,
				    sizeof(d->engine)))
		snprintf(d->engine, sizeof(d->engine), "unknown");
out:
	claw_httpc_resp_release(&resp);
	return rc;
}

enum claw_rc na_docker_json(const struct na_docker *d, const char *method,
			    const char *path, const char *const *headers,
			    const json_t *body, long timeout_ms, json_t **out,
			    struct na_docker_err *err)
{
	struct claw_httpc_resp resp;
	const char *hdrs[16];
	size_t nh = 0;
	char *text = NULL;
	enum claw_rc rc;

	if (out)
		*out = NULL;
	for (const char *const *h = headers; h && *h && nh < 14; h++)
		hdrs[nh++] = *h;
	if (body) {
		text = claw_json_dumps(body);
		if (!text) {
			snprintf(err->message, sizeof(err->message),
				 "out of memory");
			return CLAW_ERR_NOMEM;
		}
		hdrs[nh++] = "Content-Type: application/json";
	}
	hdrs[nh] = NULL;
	rc = call(d, method, path, true, hdrs, text ? text : (body ? "" : NULL),
		  text ? strlen(text) : 0, timeout_ms, NULL, NULL, &resp, err);
	free(text);
	if (rc)
		goto out;
	if (resp.status >= 400) {
		na_docker_err_from_body(err, resp.status, resp.body.data,
					resp.body.len);
		rc = resp.status == 404 ? CLAW_ERR_NOT_FOUND : CLAW_ERR_INVALID;
		goto out;
	}
	if (out && resp.body.len) {
		*out = json_loadb(resp.body.data, resp.body.len, 0, NULL);
		if (!*out) {
			err->status = resp.status;
			snprintf(err->message, sizeof(err->message),
				 "the engine's answer to %s %s is not JSON",
				 method, path);
			rc = CLAW_ERR_PROTO;
		}
	}
out:
	claw_httpc_resp_release(&resp);
	return rc;
}

enum claw_rc na_docker_stream(const struct na_docker *d, const char *method,
			      const char *path, const char *const *headers,
			      long timeout_ms, claw_httpc_data_fn fn, void *cls,
			      long *status, struct na_docker_err *err)
{
	struct claw_httpc_resp resp;
	enum claw_rc rc = call(d, method, path, true, headers,
			       strcmp(method, "POST") == 0 ? "" : NULL, 0,
			       timeout_ms, fn, cls, &resp, err);
	*status = resp.status;
	claw_httpc_resp_release(&resp);
	return rc;
}

enum claw_rc na_docker_qs(const char *s, char *out, size_t outlen)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			(c >= '0' && c <= '9') || c == '-' || c == '_' ||
			c == '.' || c == '~';
		if (o + (plain ? 1 : 3) >= outlen)
			return CLAW_ERR_TOO_LARGE;
		if (plain) {
			out[o++] = (char)c;
		} else {
			out[o++] = '%';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
	}
	out[o] = 0;
	return CLAW_OK;
}

/* See docker.h. Docker's zero time ("0001-01-01T00:00:00Z": a container
 * never started) and times past 2262 do not fit: -1. */
int64_t na_docker_time_ns(const char *text, size_t len)
{
	struct tm tm = {0};
	int n = 0;
	char s[48]; /* sscanf reads to a NUL: a copy of the len bytes */
	if (len < 20 || len >= sizeof(s))
		return -1;
	memcpy(s, text, len);
	s[len] = 0;
	if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon,
		   &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &n) != 6 ||
	    n != 19)
		return -1;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	int64_t frac = 0;
	size_t i = 19;
	if (s[i] == '.') {
		int digits = 0;
		for (i++; i < len && s[i] >= '0' && s[i] <= '9'; i++)
			if (digits++ < 9)
				frac = frac * 10 + (s[i] - '0');
		for (; digits < 9; digits++)
			frac *= 10;
	}
	if (i >= len || s[i] != 'Z')
		return -1;
	time_t t = timegm(&tm);
	if (t < 0 || (int64_t)t >= INT64_MAX / 1000000000 - 1)
		return -1;
	return (int64_t)t * 1000000000 + frac;
}
