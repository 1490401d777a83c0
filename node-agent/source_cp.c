/*
 * source_cp.c - the node agent's control-plane client: join, long poll of
 * assignments, heartbeats and status reports, the log relay (see
 * source_cp.h). The Docker socket is used here only by log relays, each
 * with its own client (the reconcile thread owns the agent's).
 */
#include "source_cp.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "claw/buf.h"
#include "claw/daemon.h"
#include "claw/httpc.h"
#include "claw/json.h"
#include "claw/log.h"
#include "claw/secret.h"
#include "claw/urls.h"
#include "approval_audit.h"
#include "rpc.h"
#include "spec.h"
#include "threads.h"
#include "usage.h"

#define CRED_MAX 128
#define BACKOFF_MIN_MS 500
#define BACKOFF_MAX_MS 30000
#define POLL_WAIT_S 30
#define STATUS_MIN_MS 100
#define REPORT_TICK_MS 25
#define USAGE_POST_MAX 500 /* usage reports per POST */

struct cp_client {
	struct na_cp_opts *o;
	struct na_agent *a;
	char cred[CRED_MAX];
	char auth[CRED_MAX + 32];
	long heartbeat_ms;
	json_t *cache;      /* tenant -> {version, gateway, runtime, auth} */
	pthread_mutex_t mu; /* heartbeat_ms */
};

static bool stopping(struct na_agent *a)
{
	bool s;

	pthread_mutex_lock(&a->mu);
	s = a->stop;
	pthread_mutex_unlock(&a->mu);
	return s;
}

/* Sleep up to ms, returning early (true) when the agent stops. */
static bool nap(struct na_agent *a, long ms)
{
	for (long t = 0; t < ms; t += 25) {
		if (stopping(a))
			return true;
		usleep((useconds_t)(ms - t < 25 ? ms - t : 25) * 1000);
	}
	return stopping(a);
}

static long backoff_next(long *cur)
{
	long d = *cur + (long)(randombytes_uniform((uint32_t)(*cur / 5 + 1))) -
		*cur / 10;

	*cur = *cur * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : *cur * 2;
	return d;
}

/* One call to the control plane at base; body may be NULL. */
static enum claw_rc cp_call_at(struct cp_client *c, const char *base,
			       const char *method, const char *path,
			       const char *body, const char *ctype,
			       long timeout_ms, struct claw_httpc_resp *resp)
{
	char url[1024], ct[128];
	const char *headers[3] = {c->auth[0] ? c->auth : NULL, NULL, NULL};
	struct claw_httpc_req req = {0};

	snprintf(url, sizeof(url), "%s%s", base, path);
	snprintf(ct, sizeof(ct), "Content-Type: %s",
		 ctype ? ctype : "application/json");
	if (body)
		headers[headers[0] ? 1 : 0] = ct;
	req.method = method;
	req.url = url;
	req.headers = headers;
	req.body = body;
	req.body_len = body ? strlen(body) : 0;
	req.timeout_ms = timeout_ms;
	req.connect_timeout_ms = 5000;
	req.max_response = 32u << 20;
	req.ca_file = c->o->ca_file;
	memset(resp, 0, sizeof(*resp));
	return claw_httpc_do(&req, resp);
}

/* The control plane's replicas (--control-plane URL[,URL...]), shared by
 * every thread of the client: a call that gets no answer, or a 502, 503
 * or 504, is made again at once on the next replica, and the threads
 * stay with the one that answered (claw/urls.h). Set once, before any
 * thread, by na_source_cp_main. */
static struct claw_urls cps;

/* One call to the control plane; body may be NULL. */
static enum claw_rc cp_call(struct cp_client *c, const char *method,
			    const char *path, const char *body,
			    const char *ctype, long timeout_ms,
			    struct claw_httpc_resp *resp)
{
	char base[CLAW_URL_MAX];
	enum claw_rc rc = CLAW_ERR_IO;

	memset(resp, 0, sizeof(*resp));
	for (size_t i = 0; i < cps.n; i++) {
		size_t at = claw_urls_get(&cps, base, sizeof(base));

		if (i)
			claw_httpc_resp_release(resp);
		rc = cp_call_at(c, base, method, path, body, ctype, timeout_ms,
				resp);
		if (!claw_urls_retryable(rc, resp->status))
			break;
		if (cps.n > 1)
			log_warn("control plane %s: %s; trying the next "
				 "replica",
				 base, rc ? resp->error : "unavailable");
		claw_urls_failed(&cps, at);
	}
	return rc;
}

/* ---- the credential */

static const char *cred_path(struct cp_client *c, char *buf, size_t len)
{
	if (c->o->credential_file)
		return c->o->credential_file;
	snprintf(buf, len, "%s/node.credential", c->a->cfg.state_dir);
	return buf;
}

/* The credential file is a secret file: claw_secret_read reads it (regular
 * files only, into guarded memory, trailing line breaks dropped). A missing
 * file means "not joined yet"; any other failure is said, then the agent
 * joins again as if there were none. */
static bool cred_load(struct cp_client *c)
{
	char pbuf[512], dir[1024], err[256];
	const char *path = cred_path(c, pbuf, sizeof(pbuf));
	const char *slash = strrchr(path, '/');
	const char *name = slash ? slash + 1 : path;
	size_t dlen = slash ? (size_t)(slash - path) : 0;
	char *val = NULL;
	size_t n = 0;
	enum claw_rc rc;

	if (dlen >= sizeof(dir)) {
		log_warn("credential file path '%.200s...' is too long", path);
		return false;
	}
	if (!slash)
		snprintf(dir, sizeof(dir), ".");
	else if (dlen == 0)
		snprintf(dir, sizeof(dir), "/");
	else
		snprintf(dir, sizeof(dir), "%.*s", (int)dlen, path);
	rc = claw_secret_read(dir, name, &val, &n, err, sizeof(err));
	if (rc == CLAW_OK && n >= sizeof(c->cred)) {
		snprintf(err, sizeof(err),
			 "the credential in '%.200s' is over %d bytes", path,
			 CRED_MAX - 1);
		rc = CLAW_ERR_TOO_LARGE;
	}
	if (rc == CLAW_OK)
		memcpy(c->cred, val, n + 1);
	else if (rc != CLAW_ERR_NOT_FOUND)
		log_warn("unable to load the node credential: %s", err);
	claw_secret_free(val);
	return rc == CLAW_OK && n > 0;
}

static enum claw_rc cred_store(struct cp_client *c)
{
	char pbuf[512], tmp[560];
	const char *path = cred_path(c, pbuf, sizeof(pbuf));
	size_t n = strlen(c->cred);
	int fd;

	snprintf(tmp, sizeof(tmp), "%s.new", path);
	unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, c->cred, n) != (ssize_t)n || fsync(fd) ||
	    close(fd) || rename(tmp, path)) {
		log_error("unable to write the node credential to '%s': %s",
			  path, strerror(errno));
		if (fd >= 0)
			unlink(tmp);
		return CLAW_ERR_IO;
	}
	return CLAW_OK;
}

static json_t *labels_json(const char *spec)
{
	json_t *o = json_object();
	char *copy = spec ? strdup(spec) : NULL, *save = NULL, *kv;

	for (kv = copy ? strtok_r(copy, ",", &save) : NULL; kv;
	     kv = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(kv, '=');

		if (!eq)
			continue;
		*eq = '\0';
		json_object_set_new(o, kv, json_string(eq + 1));
	}
	free(copy);
	return o;
}

static long long cap_cpus(const struct na_agent *a)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return a->cfg.capacity_cpus_milli > 0 ? a->cfg.capacity_cpus_milli
					      : (n > 0 ? n : 1) * 1000LL;
}

static long long cap_mem(const struct na_agent *a)
{
	long long pages = sysconf(_SC_PHYS_PAGES);
	long long psz = sysconf(_SC_PAGESIZE);

	return a->cfg.capacity_memory_mb > 0 ? a->cfg.capacity_memory_mb
					     : pages * psz / (1024 * 1024);
}

/* Join with the join token; retried by the caller. */
static enum claw_rc join(struct cp_client *c, bool *fatal)
{
	const char *token = c->a->cfg.join_token;
	struct claw_httpc_resp resp;
	json_t *body, *ans = NULL;
	char *text;
	enum claw_rc rc;

	*fatal = false;
	if (!token || !token[0]) {
		log_error("no node credential in the credential file and no "
			  "join token: give --join-token (or CLAW_JOIN_TOKEN)");
		*fatal = true;
		return CLAW_ERR_INVALID;
	}
	body = json_pack("{s:s, s:s, s:o, s:I, s:I, s:s}", "token", token,
			 "name", c->a->cfg.node_name, "labels",
			 labels_json(c->a->cfg.labels), "cpus_milli",
			 (json_int_t)cap_cpus(c->a), "memory_mb",
			 (json_int_t)cap_mem(c->a), "version",
			 c->o->version ? c->o->version : "");
	text = body ? claw_json_dumps(body) : NULL;
	json_decref(body);
	if (!text)
		return CLAW_ERR_NOMEM;
	rc = cp_call(c, "POST", "/v1/nodes/join", text, NULL, 15000, &resp);
	sodium_memzero(text, strlen(text));
	free(text);
	if (rc) {
		log_warn("control plane unreachable for the join: %s",
			 resp.error);
		goto out;
	}
	if (resp.status != 201) {
		log_error("join refused (HTTP %ld): %.*s", resp.status,
			  (int)(resp.body.len > 300 ? 300 : resp.body.len),
			  resp.body.data ? resp.body.data : "");
		*fatal = resp.status == 401 || resp.status == 409 ||
			resp.status == 422;
		rc = CLAW_ERR_INVALID;
		goto out;
	}
	ans = json_loadb(resp.body.data, resp.body.len, 0, NULL);
	{
		const char *cred =
			json_string_value(json_object_get(ans, "credential"));

		if (!cred || strlen(cred) >= sizeof(c->cred)) {
			rc = CLAW_ERR_PROTO;
			goto out;
		}
		snprintf(c->cred, sizeof(c->cred), "%s", cred);
	}
	rc = cred_store(c);
	if (!rc)
		log_info("joined the control plane as node '%s' (%s)",
			 c->a->cfg.node_name,
			 json_string_value(json_object_get(ans, "node_id")));
out:
	if (resp.body.data)
		sodium_memzero(resp.body.data, resp.body.len);
	json_decref(ans);
	claw_httpc_resp_release(&resp);
	return rc;
}

/* ---- the log relay: one detached thread per request, with its own
 * copies of what it needs (it may outlive the source thread) */

static pthread_mutex_t relays_mu = PTHREAD_MUTEX_INITIALIZER;
static json_t *relays_live; /* ids of requests being served */

struct relay {
	struct na_agent *a;
	struct cp_client c; /* a copy: auth and options only */
	char id[48];
	char tenant[NA_TENANT_MAX + 1];
	const char *role;
	unsigned tail;
	bool follow, gone;
	struct na_mux mux;
	struct claw_buf out;
};

/* The request is no longer served here (done, or never started): the
 * control plane may ask for it again. */
static void relay_forget(const char *id)
{
	pthread_mutex_lock(&relays_mu);
	for (size_t i = 0; i < json_array_size(relays_live); i++)
		if (!strcmp(json_string_value(json_array_get(relays_live, i)),
			    id))
			json_array_remove(relays_live, i--);
	pthread_mutex_unlock(&relays_mu);
}

static enum claw_rc relay_frame(int stream, const char *data, size_t len,
				void *cls)
{
	struct relay *r = cls;

	(void)stream;
	return claw_buf_append(&r->out, data, len);
}

/* Post what was gathered (and the end mark); false when the control plane
 * no longer wants it. */
static bool relay_flush(struct relay *r, bool end)
{
	char path[160];
	struct claw_httpc_resp resp;
	bool ok;

	if (!r->out.len && !end)
		return true;
	if (claw_buf_append(&r->out, "", 1)) /* a NUL ends the text */
		return false;
	snprintf(path, sizeof(path), "/v1/agent/logs/%s%s", r->id,
		 end ? "?end=1" : "");
	ok = cp_call(&r->c, "POST", path, r->out.data,
		     "text/plain; charset=utf-8", 15000, &resp) == CLAW_OK &&
		resp.status == 204;
	claw_httpc_resp_release(&resp);
	claw_buf_reset(&r->out);
	return ok;
}

static int relay_data(const char *data, size_t len, void *cls)
{
	struct relay *r = cls;

	if (na_mux_feed(&r->mux, data, len))
		return 1;
	if (!relay_flush(r, false)) {
		r->gone = true;
		return 1;
	}
	return 0;
}

/* The container of the relay's tenant and role, from the snapshot. */
static bool relay_container(struct relay *r, char *id, size_t idlen)
{
	json_t *snap = na_agent_snapshot(r->a), *t;
	size_t i;

	id[0] = '\0';
	json_array_foreach(json_object_get(snap, "tenants"), i, t) {
		const char *cid = json_string_value(json_object_get(
			json_object_get(json_object_get(t, "roles"), r->role),
			"container"));

		if (!strcmp(json_string_value(json_object_get(t, "tenant")),
			    r->tenant) &&
		    cid)
			snprintf(id, idlen, "%s", cid);
	}
	json_decref(snap);
	return id[0] != '\0';
}

static void *relay_main(void *arg)
{
	struct relay *r = arg;
	struct na_docker d;
	struct na_docker_err err;
	char id[72], path[256];
	long status = 0;

	if (!relay_container(r, id, sizeof(id)) ||
	    na_docker_connect(&d, r->a->cfg.docker_socket, &err)) {
		claw_buf_puts(&r->out, "(the container is not running here)\n");
	} else {
		snprintf(path, sizeof(path),
			 "/containers/%s/logs?stdout=1&stderr=1&tail=%u&"
			 "follow=%d",
			 id, r->tail, r->follow);
		na_mux_init(&r->mux, relay_frame, r);
		na_docker_stream(&d, "GET", path, NULL,
				 r->follow ? 3600000L : 30000L, relay_data, r,
				 &status, &err);
		if (status >= 400)
			claw_buf_printf(&r->out, "(docker: %s)\n", err.message);
	}
	if (!r->gone) {
		relay_flush(r, false);
		relay_flush(r, true);
	}
	relay_forget(r->id);
	claw_buf_release(&r->out);
	sodium_memzero(r->c.auth, sizeof(r->c.auth));
	free(r);
	return NULL;
}

static void relay_start(struct cp_client *c, const json_t *req)
{
	const char *id = json_string_value(json_object_get(req, "id"));
	const char *tenant = json_string_value(json_object_get(req, "tenant"));
	const char *role = json_string_value(json_object_get(req, "role"));
	json_int_t tail = json_integer_value(json_object_get(req, "tail"));
	struct relay *r;
	size_t i;
	json_t *v;

	if (!id || strlen(id) >= 48 ||
	    strspn(id,
		   "abcdefghijklmnopqrstuvwxyz"
		   "0123456789_") != strlen(id) ||
	    !tenant || !na_valid_tenant(tenant) || !role ||
	    (strcmp(role, "gateway") && strcmp(role, "runtime")) || tail < 1 ||
	    tail > 10000)
		return;
	pthread_mutex_lock(&relays_mu);
	if (!relays_live)
		relays_live = json_array();
	json_array_foreach(relays_live, i, v)
		if (!strcmp(json_string_value(v), id)) {
			pthread_mutex_unlock(&relays_mu);
			return;
		}
	json_array_append_new(relays_live, json_string(id));
	pthread_mutex_unlock(&relays_mu);
	r = calloc(1, sizeof(*r));
	if (!r) {
		relay_forget(id);
		return;
	}
	r->a = c->a;
	memcpy(r->c.auth, c->auth, sizeof(c->auth));
	r->c.o = c->o;
	snprintf(r->id, sizeof(r->id), "%s", id);
	snprintf(r->tenant, sizeof(r->tenant), "%s", tenant);
	r->role = strcmp(role, "gateway") ? "runtime" : "gateway";
	r->tail = (unsigned)tail;
	r->follow = json_is_true(json_object_get(req, "follow"));
	claw_buf_init(&r->out, 4u << 20);
	if (na_thread_start_detached(relay_main, r)) {
		/* The control plane's request times out; a new one may try
		 * again. */
		log_warn("unable to start a log relay thread for tenant '%s': "
			 "%s",
			 r->tenant, strerror(errno));
		relay_forget(r->id);
		claw_buf_release(&r->out);
		sodium_memzero(r->c.auth, sizeof(r->c.auth));
		free(r);
	}
}

/* ---- the approvals relay (rpc.h): a copy of the client posts back */

static bool rpc_post(void *cls, const char *path, const char *body)
{
	struct claw_httpc_resp resp;
	bool ok = cp_call(cls, "POST", path, body, NULL, 10000, &resp) ==
			CLAW_OK &&
		resp.status == 204;

	claw_httpc_resp_release(&resp);
	return ok;
}

static void rpc_release(void *cls)
{
	struct cp_client *l = cls;

	sodium_memzero(l->auth, sizeof(l->auth));
	free(l);
}

static void rpc_take(struct cp_client *c, const json_t *calls)
{
	size_t i;
	json_t *call;

	json_array_foreach(calls, i, call) {
		struct cp_client *l = calloc(1, sizeof(*l));
		struct na_rpc_back back = {rpc_post, rpc_release, l};

		if (!l)
			return;
		l->o = c->o;
		l->a = c->a;
		memcpy(l->auth, c->auth, sizeof(c->auth));
		na_rpc_start(c->a, call, &back);
	}
}

/* ---- assignments */

/* The tool servers' secret values, {SERVER: {VARIABLE: value}}, to cache
 * (NULL when there are none); a new reference. */
static json_t *tools_values(const json_t *servers)
{
	json_t *out = NULL, *s;
	size_t i;

	json_array_foreach((json_t *)servers, i, s) {
		const char *name =
			json_string_value(json_object_get(s, "name"));
		json_t *v = json_object_get(s, "secrets");

		if (!name || !json_object_size(v))
			continue;
		if (!out)
			out = json_object();
		json_object_set(out, name, v);
	}
	return out;
}

/* The cached values back into servers the control plane sent without
 * them (its secrets_cached). */
static void tools_cached(json_t *servers, const json_t *cache)
{
	json_t *s;
	size_t i;

	json_array_foreach(servers, i, s) {
		json_t *v = json_object_get(
			cache, json_string_value(json_object_get(s, "name")));

		if (v)
			json_object_set(s, "secrets", v);
	}
}

/* Fill in cached secret values and strip the control plane's extra
 * fields; false when a tenant's values are not in the cache. */
static bool apply_cache(struct cp_client *c, json_t *doc)
{
	json_t *tenants = json_object_get(doc, "tenants"), *t, *keep;
	bool complete = true;
	size_t i;

	keep = json_object();
	json_array_foreach(tenants, i, t) {
		const char *name =
			json_string_value(json_object_get(t, "tenant"));
		const char *ver = json_string_value(
			json_object_get(t, "secrets_version"));
		bool cached =
			json_is_true(json_object_get(t, "secrets_cached"));
		json_t *entry = name ? json_object_get(c->cache, name) : NULL;

		if (!name || !ver)
			continue;
		if (cached) {
			if (!entry ||
			    strcmp(json_string_value(
					   json_object_get(entry, "version")),
				   ver)) {
				complete = false;
				continue;
			}
			json_object_set(json_object_get(t, "gateway"),
					"secrets",
					json_object_get(entry, "gateway"));
			json_object_set(json_object_get(t, "runtime"),
					"secrets",
					json_object_get(entry, "runtime"));
			if (!json_object_get(t, "registry_auth") &&
			    json_object_get(entry, "auth"))
				json_object_set(t, "registry_auth",
						json_object_get(entry, "auth"));
			tools_cached(json_object_get(t, "tool_servers"),
				     json_object_get(entry, "tools"));
		} else {
			entry = json_pack(
				"{s:s, s:O?, s:O?, s:O?, s:o*}", "version", ver,
				"gateway",
				json_object_get(json_object_get(t, "gateway"),
						"secrets"),
				"runtime",
				json_object_get(json_object_get(t, "runtime"),
						"secrets"),
				"auth", json_object_get(t, "registry_auth"),
				"tools",
				tools_values(
					json_object_get(t, "tool_servers")));
		}
		if (entry)
			json_object_set(keep, name, entry);
		if (!cached)
			json_decref(entry);
		json_object_del(t, "secrets_version");
		json_object_del(t, "secrets_cached");
	}
	json_decref(c->cache);
	c->cache = keep;
	return complete;
}

/* Take one answer of the long poll; *gen moves on when it was applied. */
static void take_assignments(struct cp_client *c, const char *text, size_t len,
			     long long *gen)
{
	json_t *doc = json_loadb(text, len, 0, NULL), *logs, *hb, *g;
	struct na_desired *d;
	char msg[512];
	size_t i;
	json_t *r;

	if (!doc) {
		log_error("the control plane sent assignments that are not "
			  "JSON");
		return;
	}
	logs = json_object_get(doc, "logs");
	json_array_foreach(logs, i, r)
		relay_start(c, r);
	rpc_take(c, json_object_get(doc, "rpc"));
	hb = json_object_get(doc, "heartbeat_ms");
	if (json_is_integer(hb) && json_integer_value(hb) >= 100) {
		pthread_mutex_lock(&c->mu);
		c->heartbeat_ms = (long)json_integer_value(hb);
		pthread_mutex_unlock(&c->mu);
	}
	g = json_object_get(doc, "generation");
	json_object_del(doc, "logs");
	json_object_del(doc, "rpc");
	json_object_del(doc, "heartbeat_ms");
	if (*gen > 0 && json_integer_value(g) <= *gen) {
		json_decref(doc); /* only log requests this time */
		return;
	}
	if (!apply_cache(c, doc)) {
		log_info("secret values not cached here: asking for all");
		*gen = 0;
		json_decref(doc);
		return;
	}
	d = calloc(1, sizeof(*d));
	if (d && na_desired_from_json(d, doc, msg, sizeof(msg)) == CLAW_OK) {
		log_info("desired state from the control plane: generation "
			 "%lld, %zu tenants",
			 (long long)d->generation, d->n);
		*gen = d->generation;
		na_agent_set_desired(c->a, d);
	} else {
		log_error("desired state from the control plane refused: %s",
			  d ? msg : "out of memory");
		if (d) {
			na_desired_release(d);
			free(d);
		}
		*gen = json_integer_value(g); /* do not ask again at once */
	}
	json_decref(doc);
}

static void forsake(struct cp_client *c)
{
	struct na_desired *d = calloc(1, sizeof(*d));
	char msg[128];
	json_t *empty = json_pack("{s:I, s:[]}", "generation", (json_int_t)0,
				  "tenants");

	if (d && empty &&
	    na_desired_from_json(d, empty, msg, sizeof(msg)) == CLAW_OK) {
		na_agent_set_desired(c->a, d);
		d = NULL;
	}
	if (d) {
		na_desired_release(d);
		free(d);
	}
	json_decref(empty);
	json_decref(c->cache);
	c->cache = json_object();
}

/* ---- reports */

static void *reporter_main(void *arg)
{
	struct cp_client *c = arg;
	struct timespec ts;
	uint64_t posted = 0;
	double last_status = 0, last_beat = 0;

	while (!nap(c->a, REPORT_TICK_MS)) {
		struct claw_httpc_resp resp;
		uint64_t seq;
		long hb;
		double now;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		now = (double)ts.tv_sec + ts.tv_nsec / 1e9;
		pthread_mutex_lock(&c->a->mu);
		seq = c->a->snapshot_seq;
		pthread_mutex_unlock(&c->a->mu);
		pthread_mutex_lock(&c->mu);
		hb = c->heartbeat_ms;
		pthread_mutex_unlock(&c->mu);
		if (seq &&
		    (seq != posted || now - last_status > hb * 10 / 1e3) &&
		    now - last_status >= STATUS_MIN_MS / 1e3) {
			json_t *snap = na_agent_snapshot(c->a);
			char *text = snap ? claw_json_dumps(snap) : NULL;

			json_decref(snap);
			if (text &&
			    cp_call(c, "POST", "/v1/agent/status", text, NULL,
				    10000, &resp) == CLAW_OK &&
			    resp.status == 204) {
				posted = seq;
				last_status = last_beat = now;
			}
			free(text);
			claw_httpc_resp_release(&resp);
			continue;
		}
		if (now - last_beat >= hb / 1e3) {
			char body[512];
			const char *adv = c->a->cfg.edge_admin
				? c->a->cfg.edge_advertise
				: NULL;

			/* edge_address: where other nodes' edges reach this
			 * one (checked at start: HOST:PORT, no quotes) */
			snprintf(body, sizeof(body),
				 "{\"cpus_milli\":%lld,\"memory_mb\":%lld%s%s%"
				 "s}",
				 cap_cpus(c->a), cap_mem(c->a),
				 adv ? ",\"edge_address\":\"" : "",
				 adv ? adv : "", adv ? "\"" : "");
			if (cp_call(c, "POST", "/v1/agent/heartbeat", body,
				    NULL, 10000, &resp) == CLAW_OK &&
			    resp.status == 200)
				last_beat = now;
			else
				last_beat = now - hb / 2e3; /* retry sooner */
			claw_httpc_resp_release(&resp);
		}
	}
	return NULL;
}

/* ---- approvals into the audit log (approval_audit.h), each heartbeat */

static long apr_post(void *cls, const char *body, char *msg, size_t msglen)
{
	struct claw_httpc_resp resp;
	long st = cp_call(cls, "POST", "/v1/agent/approvals", body, NULL, 10000,
			  &resp) == CLAW_OK
		? resp.status
		: 0;
	json_t *e = st >= 400 && resp.body.data
		? json_loadb(resp.body.data, resp.body.len, 0, NULL)
		: NULL;
	const char *m = json_string_value(
		json_object_get(json_object_get(e, "error"), "message"));

	snprintf(msg, msglen, "%s", m ? m : "");
	json_decref(e);
	claw_httpc_resp_release(&resp);
	return st;
}

static void *approvals_main(void *arg)
{
	struct cp_client *c = arg;
	struct na_apr_audit *st = na_apr_audit_new();
	long ms;

	do {
		pthread_mutex_lock(&c->mu);
		ms = c->heartbeat_ms;
		pthread_mutex_unlock(&c->mu);
		if (st)
			na_apr_audit_pass(c->a, st, apr_post, c);
	} while (!nap(c->a, ms));
	na_apr_audit_free(st);
	return NULL;
}

/* ---- the source thread */

/* ---- usage (usage.h) */

/* GET http://ip:port/path of a tenant's container on its network (2 s,
 * at most 1 MiB): the body (NUL-terminated, buf.h) when it answered 200,
 * else NULL; release resp in every case. */
static const char *tenant_get(const char *ip, unsigned port, const char *path,
			      struct claw_httpc_resp *resp)
{
	char url[128];
	struct claw_httpc_req req = {
		.url = url,
		.timeout_ms = 2000,
		.connect_timeout_ms = 1000,
		.max_response = 1u << 20,
	};
	snprintf(url, sizeof(url), "http://%s:%u%s", ip, port, path);
	if (claw_httpc_do(&req, resp) == CLAW_OK && resp->status == 200 &&
	    resp->body.data)
		return resp->body.data;
	return NULL;
}

/* GET /v1/usage of the runtime at ip (new reference, NULL when it did not
 * answer with JSON). */
static json_t *usage_scrape(const char *ip)
{
	struct claw_httpc_resp resp;
	json_t *doc = NULL;
	if (tenant_get(ip, NA_RUNTIME_PORT, "/v1/usage", &resp))
		doc = json_loadb(resp.body.data, resp.body.len, 0, NULL);
	claw_httpc_resp_release(&resp);
	return doc;
}

/* The gateway's claw_gateway_quota_refusals_total (its /metrics) at ip,
 * or -1 when it did not answer with one. */
static long long refusals_scrape(const char *ip)
{
	static const char name[] = "\nclaw_gateway_quota_refusals_total ";
	struct claw_httpc_resp resp;
	const char *body = tenant_get(ip, NA_GATEWAY_PORT, "/metrics", &resp);
	const char *p = body ? strstr(body, name) : NULL;
	long long n = -1;
	if (p) {
		char *end;
		p += sizeof(name) - 1;
		n = strtoll(p, &end, 10);
		if (end == p || (*end != '\n' && *end) || n < 0)
			n = -1;
	}
	claw_httpc_resp_release(&resp);
	return n;
}

/* Hand the pending reports over, USAGE_POST_MAX at a time; a 2xx clears
 * them. A 400 or 422 says the batch itself is malformed: sending it again
 * would block every later report behind it, so it is dropped (logged).
 * False when the control plane did not take them. */
static bool usage_send(struct cp_client *c, struct na_usage *u)
{
	size_t n;
	json_t *body;
	while ((body = na_usage_body(u, USAGE_POST_MAX, &n))) {
		struct claw_httpc_resp resp;
		char *text = claw_json_dumps(body);
		long status = text &&
				cp_call(c, "POST", "/v1/agent/usage", text,
					NULL, 10000, &resp) == CLAW_OK
			? resp.status
			: 0;
		if (text)
			claw_httpc_resp_release(&resp);
		free(text);
		json_decref(body);
		if (status == 400 || status == 422)
			log_error("the control plane refused %zu usage reports "
				  "as malformed (HTTP %ld); they are dropped",
				  n, status);
		else if (status < 200 || status >= 300)
			return false;
		na_usage_sent(u, n);
		na_usage_save(u);
	}
	return true;
}

/* Scrape the runtime of every tenant whose runtime runs here, then send
 * what is pending. */
static void usage_pass(struct cp_client *c, struct na_usage *u, bool *failing)
{
	json_t *snap = na_agent_snapshot(c->a), *t;
	char at[32];
	time_t now = time(NULL);
	struct tm tm;
	bool changed = false;
	size_t i;
	gmtime_r(&now, &tm);
	strftime(at, sizeof(at), "%Y-%m-%dT%H:%M:%SZ", &tm);
	json_array_foreach(json_object_get(snap, "tenants"), i, t) {
		const json_t *rt =
			json_object_get(json_object_get(t, "roles"), "runtime");
		const char *ip = json_string_value(json_object_get(rt, "ip"));
		const char *tenant =
			json_string_value(json_object_get(t, "tenant"));
		const char *dep =
			json_string_value(json_object_get(t, "deployment"));
		const json_t *gw =
			json_object_get(json_object_get(t, "roles"), "gateway");
		const char *gw_ip =
			json_string_value(json_object_get(gw, "ip"));
		json_t *doc;
		if (json_is_true(json_object_get(gw, "running")) && gw_ip &&
		    tenant && dep && dep[0]) {
			long long n = refusals_scrape(gw_ip);
			if (n >= 0)
				changed |= na_usage_observe_refusals(
					u, tenant, dep, n, at);
		}
		if (!json_is_true(json_object_get(rt, "running")) || !ip ||
		    !tenant || !dep || !dep[0])
			continue;
		doc = usage_scrape(ip);
		if (doc)
			changed |= na_usage_observe(u, tenant, dep, doc, at);
		json_decref(doc);
	}
	json_decref(snap);
	if (changed)
		na_usage_save(u);
	bool ok = usage_send(c, u);
	if (ok != !*failing)
		log_info(ok ? "usage reports taken by the control plane again"
			    : "the control plane does not take usage reports; "
			      "kept on disk, sent again later");
	*failing = !ok;
}

static void *usage_main(void *arg)
{
	struct cp_client *c = arg;
	struct na_usage u;
	bool failing = false;
	if (na_usage_load(&u, c->a->cfg.state_dir))
		return NULL;
	while (!nap(c->a, c->a->cfg.usage_interval_ms))
		usage_pass(c, &u, &failing);
	na_usage_release(&u);
	return NULL;
}

void *na_source_cp_main(void *arg)
{
	struct na_cp_opts *o = arg;
	struct cp_client c = {.o = o, .a = o->agent, .heartbeat_ms = 2000};
	long backoff = BACKOFF_MIN_MS;
	long long gen = 0;
	bool reporter = false, usage = false, forsaken = false, apr = false;
	pthread_t th, uth, ath;
	char err[256];

	pthread_mutex_init(&c.mu, NULL);
	c.cache = json_object();
	if (claw_urls_parse(&cps, c.a->cfg.control_plane, err, sizeof(err))) {
		log_error("--control-plane: %s", err); /* checked in main */
		goto out;
	}
	if (c.a->cfg.heartbeat_ms >= 100)
		c.heartbeat_ms = c.a->cfg.heartbeat_ms;
	while (!cred_load(&c)) {
		bool fatal;

		if (join(&c, &fatal) == CLAW_OK)
			break;
		if (fatal || nap(c.a, backoff_next(&backoff)))
			goto out;
	}
	snprintf(c.auth, sizeof(c.auth), "Authorization: Bearer %s", c.cred);
	backoff = BACKOFF_MIN_MS;
	/* Without the reporter the control plane would take this node for
	 * lost and place its tenants elsewhere while they still run here:
	 * the agent stops instead (its supervisor restarts it). */
	if (na_thread_start(&th, reporter_main, &c)) {
		log_error("unable to start the reporter thread: %s; stopping",
			  strerror(errno));
		claw_daemon_stop(CLAW_ERR_NOMEM);
		goto out;
	}
	reporter = true;
	/* Usage waits on disk meanwhile: the agent goes on without it. */
	if (na_thread_start(&uth, usage_main, &c))
		log_error("unable to start the usage thread: %s; no usage is "
			  "collected",
			  strerror(errno));
	else
		usage = true;
	if (na_thread_start(&ath, approvals_main, &c))
		log_error("unable to start the approvals audit thread: %s",
			  strerror(errno));
	else
		apr = true;
	while (!stopping(c.a)) {
		struct claw_httpc_resp resp;
		char path[128];
		enum claw_rc rc;

		/* edge=1: this node's edge needs the routes and domains */
		snprintf(path, sizeof(path),
			 "/v1/agent/assignments?generation=%lld&wait=%d%s", gen,
			 POLL_WAIT_S, c.a->cfg.edge_admin ? "&edge=1" : "");
		rc = cp_call(&c, "GET", path, NULL, NULL,
			     (POLL_WAIT_S + 15) * 1000L, &resp);
		if (rc == CLAW_OK && resp.status == 200) {
			backoff = BACKOFF_MIN_MS;
			forsaken = false;
			take_assignments(&c, resp.body.data, resp.body.len,
					 &gen);
		} else if (rc == CLAW_OK && resp.status == 204) {
			backoff = BACKOFF_MIN_MS;
		} else if (rc == CLAW_OK && resp.status == 401) {
			if (!forsaken)
				log_error("the control plane refuses this "
					  "node's credential (revoked): "
					  "stopping every tenant here");
			if (!forsaken)
				forsake(&c);
			forsaken = true;
			gen = 0;
			nap(c.a, BACKOFF_MAX_MS);
		} else {
			long d = backoff_next(&backoff);

			log_warn("control plane unreachable (%s); what runs "
				 "keeps running; retry in %ld ms",
				 rc ? resp.error : "bad answer", d);
			nap(c.a, d);
		}
		if (resp.body.data) /* it held secret values */
			sodium_memzero(resp.body.data, resp.body.len);
		claw_httpc_resp_release(&resp);
	}
	if (reporter)
		pthread_join(th, NULL);
	if (usage)
		pthread_join(uth, NULL);
	if (apr)
		pthread_join(ath, NULL);
out:
	sodium_memzero(c.cred, sizeof(c.cred));
	sodium_memzero(c.auth, sizeof(c.auth));
	json_decref(c.cache);
	pthread_mutex_destroy(&c.mu);
	return NULL;
}
