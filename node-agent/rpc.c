/*
 * rpc.c - relayed approvals calls against a tenant's runtime, and the
 * runtime's generated admin token; see rpc.h.
 */
#include "rpc.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "claw/crypto.h"
#include "claw/httpc.h"
#include "claw/json.h"
#include "claw/log.h"
#include "claw/secret.h"
#include "files.h"
#include "spec.h"
#include "threads.h"

#define ID_CHARS "abcdefghijklmnopqrstuvwxyz0123456789_"
#define CALL_MS 10000
#define TOKEN_MAX 512

static pthread_mutex_t live_mu = PTHREAD_MUTEX_INITIALIZER;
static unsigned live; /* calls being served */

struct rpc {
	struct na_agent *a;
	json_t *call;
	struct na_rpc_back back;
};

static bool id_ok(const char *s, size_t max)
{
	size_t n = s ? strlen(s) : 0;

	return n > 0 && n <= max && strspn(s, ID_CHARS) == n;
}

/* The runtime's method, path and body of call; false when it is not one
 * of the relayed operations. */
static bool call_parse(const json_t *call, const char **method, char *path,
		       size_t pathlen, json_t **body)
{
	const char *op = json_string_value(json_object_get(call, "op"));
	const char *apr = json_string_value(json_object_get(call, "approval"));
	const char *dec = json_string_value(json_object_get(call, "decision"));
	const char *by = json_string_value(json_object_get(call, "by"));

	*body = NULL;
	if (op && !strcmp(op, "approvals.list")) {
		*method = "GET";
		snprintf(path, pathlen, "/v1/approvals");
		return true;
	}
	if (!op || !id_ok(apr, 64))
		return false;
	snprintf(path, pathlen, "/v1/approvals/%s", apr);
	if (!strcmp(op, "approvals.get")) {
		*method = "GET";
		return true;
	}
	if (strcmp(op, "approvals.decide") || !dec ||
	    (strcmp(dec, "approve") && strcmp(dec, "deny")) || !by || !by[0] ||
	    strlen(by) > 200)
		return false;
	*method = "POST";
	*body = json_pack("{s:s, s:s}", "decision", dec, "by", by);
	return *body != NULL;
}

/* method path (body may be NULL) against the runtime at ip:port with
 * token: {"status": N, "body": JSON or null}, status 0 when no answer. */
static json_t *runtime_do(const char *ip, unsigned port, const char *token,
			  const char *method, const char *path,
			  const json_t *body)
{
	char url[320];
	char *auth = NULL, *text = NULL;
	const char *headers[3] = {NULL, NULL, NULL};
	struct claw_httpc_req req = {
		.url = url,
		.method = method,
		.headers = headers,
		.timeout_ms = CALL_MS,
		.connect_timeout_ms = 2000,
		.max_response = 4u << 20,
	};
	struct claw_httpc_resp resp;
	json_t *out;
	size_t alen = token ? strlen(token) + 32 : 0;

	snprintf(url, sizeof(url), "http://%s:%u%s", ip, port, path);
	if (token && (auth = sodium_malloc(alen))) {
		snprintf(auth, alen, "Authorization: Bearer %s", token);
		headers[0] = auth;
	}
	if (body) {
		text = claw_json_dumps(body);
		headers[headers[0] ? 1 : 0] = "Content-Type: application/json";
		req.body = text;
		req.body_len = text ? strlen(text) : 0;
	}
	if (claw_httpc_do(&req, &resp) == CLAW_OK && resp.status > 0)
		out = json_pack(
			"{s:I, s:o?}", "status", (json_int_t)resp.status,
			"body",
			json_loadb(resp.body.data, resp.body.len, 0, NULL));
	else
		out = json_pack("{s:i, s:n}", "status", 0, "body");
	claw_httpc_resp_release(&resp);
	if (auth) {
		sodium_memzero(auth, alen);
		sodium_free(auth);
	}
	free(text);
	return out;
}

json_t *na_rpc_runtime(const char *ip, unsigned port, const char *token,
		       const json_t *call)
{
	char path[96];
	const char *method;
	json_t *body, *out;

	if (!call_parse(call, &method, path, sizeof(path), &body))
		return NULL;
	out = runtime_do(ip, port, token, method, path, body);
	json_decref(body);
	return out;
}

json_t *na_rpc_tenant(struct na_agent *a, const char *tenant, const char *ip,
		      const char *method, const char *path, const json_t *body)
{
	char dir[1024], err[160];
	char *token = NULL;
	json_t *ans = NULL;

	na_files_secrets_path(&a->files, tenant, NA_RUNTIME, dir, sizeof(dir));
	if (ip && ip[0] &&
	    claw_secret_read(dir, NA_RPC_TOKEN, &token, NULL, err,
			     sizeof(err)) == CLAW_OK &&
	    strlen(token) < TOKEN_MAX)
		ans = runtime_do(ip, NA_RUNTIME_PORT, token, method, path,
				 body);
	claw_secret_free(token);
	return ans ? ans : json_pack("{s:i, s:n}", "status", 0, "body");
}

const char *na_rpc_runtime_ip(const json_t *entry)
{
	const json_t *rt =
		json_object_get(json_object_get(entry, "roles"), "runtime");

	return json_is_true(json_object_get(rt, "running"))
		? json_string_value(json_object_get(rt, "ip"))
		: NULL;
}

/* The runtime's address of tenant from the snapshot ("" when it does not
 * run here). */
static void runtime_ip(struct na_agent *a, const char *tenant, char *ip,
		       size_t iplen)
{
	json_t *snap = na_agent_snapshot(a), *t;
	size_t i;

	ip[0] = '\0';
	json_array_foreach(json_object_get(snap, "tenants"), i, t) {
		const char *v = na_rpc_runtime_ip(t);

		if (!strcmp(json_string_value(json_object_get(t, "tenant")),
			    tenant) &&
		    v)
			snprintf(ip, iplen, "%s", v);
	}
	json_decref(snap);
}

static void *rpc_main(void *arg)
{
	struct rpc *r = arg;
	const char *id = json_string_value(json_object_get(r->call, "id"));
	const char *tenant =
		json_string_value(json_object_get(r->call, "tenant"));
	char ip[64], path[96];
	const char *method;
	char *text;
	json_t *ans = NULL, *body = NULL;

	runtime_ip(r->a, tenant, ip, sizeof(ip));
	if (call_parse(r->call, &method, path, sizeof(path), &body))
		ans = na_rpc_tenant(r->a, tenant, ip, method, path, body);
	else
		ans = json_pack("{s:i, s:n}", "status", 0, "body");
	json_decref(body);
	text = ans ? claw_json_dumps(ans) : NULL;
	snprintf(path, sizeof(path), "/v1/agent/rpc/%s", id);
	if (text && !r->back.post(r->back.cls, path, text))
		log_warn("the answer of approvals call %s of tenant '%s' was "
			 "not taken (the control plane gave up on it)",
			 id, tenant);
	free(text);
	json_decref(ans);
	r->back.release(r->back.cls);
	json_decref(r->call);
	free(r);
	pthread_mutex_lock(&live_mu);
	live--;
	pthread_mutex_unlock(&live_mu);
	return NULL;
}

void na_rpc_start(struct na_agent *a, const json_t *call,
		  const struct na_rpc_back *back)
{
	const char *id = json_string_value(json_object_get(call, "id"));
	const char *tenant = json_string_value(json_object_get(call, "tenant"));
	char path[96];
	const char *method;
	json_t *body = NULL;
	struct rpc *r = NULL;
	bool ok = id_ok(id, 47) && tenant && na_valid_tenant(tenant) &&
		call_parse(call, &method, path, sizeof(path), &body);

	json_decref(body);
	if (!ok) {
		log_warn("an approvals call from the control plane is "
			 "malformed; dropped");
		back->release(back->cls);
		return;
	}
	pthread_mutex_lock(&live_mu);
	ok = live < NA_RPC_MAX;
	live += ok;
	pthread_mutex_unlock(&live_mu);
	if (ok && (r = calloc(1, sizeof(*r)))) {
		r->a = a;
		r->call = json_deep_copy(call);
		r->back = *back;
	}
	if (r && r->call && !na_thread_start_detached(rpc_main, r))
		return;
	if (ok) {
		log_warn("unable to serve approvals call %s: %s", id,
			 r ? strerror(errno) : "too many calls at once");
		pthread_mutex_lock(&live_mu);
		live--;
		pthread_mutex_unlock(&live_mu);
	} else {
		log_warn("approvals call %s dropped: %d calls are being "
			 "served",
			 id, NA_RPC_MAX);
	}
	if (r)
		json_decref(r->call);
	free(r);
	back->release(back->cls);
}

enum claw_rc na_rpc_token_ensure(const char *dir, uid_t uid)
{
	char file[1100], tmp[1120], hex[65];
	unsigned char raw[32];
	struct stat st;
	enum claw_rc rc = CLAW_OK;
	int fd;

	snprintf(file, sizeof(file), "%s/%s", dir, NA_RPC_TOKEN);
	if (lstat(file, &st) == 0 && S_ISREG(st.st_mode))
		return CLAW_OK;
	snprintf(tmp, sizeof(tmp), "%s/.%s.new", dir, NA_RPC_TOKEN);
	unlink(tmp);
	randombytes_buf(raw, sizeof(raw));
	claw_hex_encode(raw, sizeof(raw), hex);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
		  0400);
	if (fd < 0 || write(fd, hex, 64) != 64 || fsync(fd) ||
	    fchown(fd, uid, (gid_t)uid) || rename(tmp, file))
		rc = CLAW_ERR_IO;
	if (fd >= 0)
		close(fd);
	if (rc)
		unlink(tmp);
	sodium_memzero(raw, sizeof(raw));
	sodium_memzero(hex, sizeof(hex));
	return rc;
}
