/*
 * toolsrv.c - a tenant's tool servers as containers; see toolsrv.h.
 *
 * The state of each server (its container, probes, failures) lives in a
 * list keyed by tenant, touched by the reconcile thread only. A server is
 * pulled (an NA_OP_PULL of its image), then created and started on the
 * tenant network of the current slot once the runtime's files are
 * written; it is probed on /healthz (the bridge) and /readyz (the server
 * behind it has answered the bridge's own MCP initialize: an MCP-level
 * check, docs/mcp-bridge.md); a container that dies is restarted after
 * the agent's backoff and, after crash_loop_after failures in a row,
 * reported as crash looping with its log tail; a bridge whose server is
 * not ready past the start-up grace (it keeps exiting, or never answers
 * initialize: the bridge times it out and restarts it itself) is
 * reported "server_down" with the log tail and the reason found in it
 * ("timed out waiting for initialize", "the server exited with status
 * 3").
 *
 * Each server is kept per slot ("claw-T-tool-NAME" in slot 0,
 * "claw-T-tool-NAME.1" in slot 1, on that slot's network): a blue/green
 * redeploy or rollback (reconcile.c) starts the new generation's servers
 * in the new slot and keeps the draining pair's, with their own tokens,
 * until that pair is removed; then they are retired. A change of
 * the server's declaration, deployment, slot, uid or seccomp profile
 * (its config hash) replaces the container.
 */
#include "toolsrv.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent.h"
#include "claw/log.h"
#include "claw/secret.h"
#include "gc.h"
#include "health.h"
#include "images.h"
#include "ops.h"
#include "spec.h"

/* ---- the declaration ------------------------------------------------ */

#define FAIL(...)                                                              \
	do {                                                                   \
		snprintf(msg, msglen, __VA_ARGS__);                            \
		return CLAW_ERR_INVALID;                                       \
	} while (0)

static bool name_ok(const char *s, size_t max, bool env)
{
	size_t n = s ? strlen(s) : 0;
	if (!n || n > max || (env && s[0] >= '0' && s[0] <= '9'))
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			(c >= '0' && c <= '9') || c == '_';
		if (!alnum && (env || c != '-'))
			return false;
	}
	return env || !strstr(s, "__");
}

/* A string without NUL of at most max bytes (one_line: no CR, LF). */
static bool str_ok(const json_t *v, size_t max, bool one_line)
{
	const char *s = json_string_value(v);
	return s && strlen(s) == json_string_length(v) &&
		json_string_length(v) <= max &&
		!(one_line && strpbrk(s, "\r\n"));
}

/* An object of up to 64 environment variable names to strings. */
static bool vars_ok(const json_t *o, size_t max_value, bool one_line)
{
	const char *k;
	json_t *v;
	bool ok = !o || (json_is_object(o) && json_object_size(o) <= 64);
	json_object_foreach((json_t *)o, k, v)
		ok = ok && name_ok(k, 128, true) &&
			str_ok(v, max_value, one_line);
	return ok;
}

/* An array of min..max strings of at most len bytes each. */
static bool argv_ok(const json_t *a, size_t min, size_t max, size_t len)
{
	size_t i;
	json_t *v;
	bool ok = json_array_size(a) >= min && json_array_size(a) <= max &&
		json_is_array(a);
	json_array_foreach(a, i, v)
		ok = ok && str_ok(v, len, true);
	return ok;
}

static bool num_in(const json_t *v, double lo, double hi)
{
	return !v ||
		(json_is_number(v) && json_number_value(v) >= lo &&
		 json_number_value(v) <= hi);
}

/* The registry part of an image reference ("" for Docker Hub's). */
static void registry_of(const char *ref, char *out, size_t outlen)
{
	const char *slash = strchr(ref, '/');
	size_t n = slash ? (size_t)(slash - ref) : 0;
	if (n && !memchr(ref, '.', n) && !memchr(ref, ':', n) &&
	    strncmp(ref, "localhost", n))
		n = 0;
	snprintf(out, outlen, "%.*s", (int)n, ref);
}

static bool runtime_has(const struct na_tenant_spec *t, const char *name)
{
	size_t i;
	json_t *v;
	json_array_foreach(
		json_object_get(t->role[NA_RUNTIME].config, "mcp_servers"), i,
		v) {
		const char *n = json_string_value(json_object_get(v, "name"));
		if (n && !strcmp(n, name))
			return true;
	}
	return false;
}

static enum claw_rc server_check(const struct na_tenant_spec *t,
				 const json_t *o, size_t i, const char *reg,
				 char *msg, size_t msglen)
{
	static const char *const known[] = {
		"name",   "image",  "command",    "env",        "secrets",
		"egress", "limits", "scratch_mb", "timeout_ms", NULL};
	static const struct {
		const char *key;
		json_int_t lo, hi;
	} ints[] = {{"scratch_mb", 1, 1024}, {"timeout_ms", 100, 3600000}};
	const char *key, *name, *image;
	char repo[256], tag[128], ireg[256];
	json_t *v, *lim;
	if (!json_is_object(o))
		FAIL("tenant '%s': 'tool_servers[%zu]' must be an object",
		     t->tenant, i);
	json_object_foreach((json_t *)o, key, v) {
		bool ok = false;
		for (const char *const *k = known; *k; k++)
			ok |= !strcmp(*k, key);
		if (!ok)
			FAIL("tenant '%s': unknown field "
			     "'tool_servers[%zu].%s'",
			     t->tenant, i, key);
	}
	name = json_string_value(json_object_get(o, "name"));
	if (!name_ok(name, 32, false))
		FAIL("tenant '%s': 'tool_servers[%zu].name' must be 1-32 "
		     "letters, digits, '-' or '_' (no '__')",
		     t->tenant, i);
	if (runtime_has(t, name))
		FAIL("tenant '%s': tool server '%s': the runtime config "
		     "already has an MCP server of that name",
		     t->tenant, name);
	snprintf(repo, sizeof(repo), "mcp_token_%s", name);
	if (json_object_get(t->role[NA_RUNTIME].secrets, repo))
		FAIL("tenant '%s': tool server '%s': the runtime's secret "
		     "'%s' is the server's token",
		     t->tenant, name, repo);
	image = json_string_value(json_object_get(o, "image"));
	if (!image || strlen(image) > 255 ||
	    na_image_split(image, repo, sizeof(repo), tag, sizeof(tag)))
		FAIL("tenant '%s': tool server '%s': 'image' must be an image "
		     "reference",
		     t->tenant, name);
	registry_of(image, ireg, sizeof(ireg));
	if (strcmp(ireg, reg))
		FAIL("tenant '%s': tool server '%s': image '%s' is outside "
		     "the fleet's image policy (images come from the "
		     "registry '%s', as the runtime's)",
		     t->tenant, name, image, reg[0] ? reg : "docker.io");
	if (!argv_ok(json_object_get(o, "command"), 1, 64, 4096))
		FAIL("tenant '%s': tool server '%s': 'command' must be 1-64 "
		     "strings (the stdio server's argv)",
		     t->tenant, name);
	if (!vars_ok(json_object_get(o, "env"), 4096, true))
		FAIL("tenant '%s': tool server '%s': 'env' must map up to 64 "
		     "variable names to one-line strings",
		     t->tenant, name);
	if (!vars_ok(json_object_get(o, "secrets"), NA_SECRET_MAX, false))
		FAIL("tenant '%s': tool server '%s': 'secrets' must map up to "
		     "64 variable names to strings of at most %u bytes",
		     t->tenant, name, NA_SECRET_MAX);
	if (json_object_get(o, "egress") &&
	    !argv_ok(json_object_get(o, "egress"), 0, 64, 300))
		FAIL("tenant '%s': tool server '%s': 'egress' must be up to 64 "
		     "\"host:port\" entries",
		     t->tenant, name);
	lim = json_object_get(o, "limits");
	if (lim &&
	    (!json_is_object(lim) ||
	     !num_in(json_object_get(lim, "cpus"), 0.01, t->cpus) ||
	     !num_in(json_object_get(lim, "memory_mb"), 16,
		     (double)t->memory_mb) ||
	     !num_in(json_object_get(lim, "pids"), 8, (double)t->pids) ||
	     json_object_size(lim) !=
		     (size_t) !!json_object_get(lim, "cpus") +
			     (size_t) !!json_object_get(lim, "memory_mb") +
			     (size_t) !!json_object_get(lim, "pids")))
		FAIL("tenant '%s': tool server '%s': 'limits' takes cpus, "
		     "memory_mb (>= 16) and pids (>= 8), each within the "
		     "tenant's plan",
		     t->tenant, name);
	for (size_t k = 0; k < sizeof(ints) / sizeof(ints[0]); k++) {
		const json_t *n = json_object_get(o, ints[k].key);
		if (n &&
		    (!json_is_integer(n) ||
		     json_integer_value(n) < ints[k].lo ||
		     json_integer_value(n) > ints[k].hi))
			FAIL("tenant '%s': tool server '%s': '%s' must be an "
			     "integer of %" JSON_INTEGER_FORMAT
			     "-%" JSON_INTEGER_FORMAT,
			     t->tenant, name, ints[k].key, ints[k].lo,
			     ints[k].hi);
	}
	return CLAW_OK;
}

static double lim_of(const json_t *server, const char *key, double def);

enum claw_rc na_toolsrv_check(const struct na_tenant_spec *t,
			      const json_t *servers, char *msg, size_t msglen)
{
	char reg[256];
	size_t i;
	json_t *o;
	double cpus = 0, mem = 0, pids = 0;
	if (!servers)
		return CLAW_OK;
	if (!json_is_array(servers) ||
	    json_array_size(servers) > NA_TOOLSRV_MAX)
		FAIL("tenant '%s': 'tool_servers' must be an array of at most "
		     "%d servers",
		     t->tenant, NA_TOOLSRV_MAX);
	/* Where prepare puts them: arrays when there. */
	const json_t *mcp =
		json_object_get(t->role[NA_RUNTIME].config, "mcp_servers");
	const json_t *allow =
		json_object_get(t->role[NA_GATEWAY].config, "egress_allow");
	if ((mcp && !json_is_array(mcp)) || (allow && !json_is_array(allow)))
		FAIL("tenant '%s': with tool servers, the runtime config's "
		     "'mcp_servers' and the gateway config's 'egress_allow' "
		     "must be arrays",
		     t->tenant);
	registry_of(t->role[NA_RUNTIME].image, reg, sizeof(reg));
	json_array_foreach(servers, i, o) {
		enum claw_rc rc = server_check(t, o, i, reg, msg, msglen);
		if (rc)
			return rc;
		for (size_t j = 0; j < i; j++)
			if (json_equal(
				    json_object_get(o, "name"),
				    json_object_get(json_array_get(servers, j),
						    "name")))
				FAIL("tenant '%s': tool server '%s' is "
				     "declared twice",
				     t->tenant,
				     json_string_value(
					     json_object_get(o, "name")));
		cpus += lim_of(o, "cpus", 0.25);
		mem += lim_of(o, "memory_mb", 128);
		pids += lim_of(o, "pids", 64);
	}
	/* counted against the tenant's plan together, defaults included */
	if (cpus > t->cpus + 1e-9 || mem > (double)t->memory_mb ||
	    pids > (double)t->pids)
		FAIL("tenant '%s': the tool servers' limits together (%.2f "
		     "CPU, %.0f MB, %.0f pids; 0.25, 128 and 64 each when "
		     "not given) exceed the tenant's plan (%.2f CPU, %lld MB, "
		     "%lld pids)",
		     t->tenant, cpus, mem, pids, t->cpus,
		     (long long)t->memory_mb, (long long)t->pids);
	return CLAW_OK;
}

const json_t *na_toolsrv_of(const struct na_desired *d, const char *tenant)
{
	size_t i;
	json_t *e;
	json_array_foreach(json_object_get(d->doc, "tenants"), i, e) {
		const char *n = json_string_value(json_object_get(e, "tenant"));
		if (n && !strcmp(n, tenant))
			return json_object_get(e, "tool_servers");
	}
	return NULL;
}

void na_toolsrv_token(const unsigned char key[32],
		      const struct na_tenant_spec *t, const char *name,
		      char out[65])
{
	crypto_generichash_state st;
	unsigned char h[32];
	char gen[24];
	snprintf(gen, sizeof(gen), "%" PRId64, t->generation);
	crypto_generichash_init(&st, key, 32, sizeof(h));
	const char *parts[] = {"claw-mcp-token", t->tenant, t->deployment, gen,
			       name};
	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++)
		crypto_generichash_update(&st, (const unsigned char *)parts[i],
					  strlen(parts[i]) + 1);
	crypto_generichash_final(&st, h, sizeof(h));
	sodium_bin2hex(out, 65, h, sizeof(h));
	sodium_memzero(h, sizeof(h));
}

/* obj[key] as an object or array, made (kind) when absent. */
static json_t *child(json_t *obj, const char *key, bool array)
{
	json_t *v = json_object_get(obj, key);
	if (v)
		return v;
	v = array ? json_array() : json_object();
	return json_object_set_new(obj, key, v) ? NULL : v;
}

/* The role's config or secrets object, made in the document when absent
 * (the spec borrows it). */
static json_t *role_obj(json_t *entry, const char *role, const json_t **field,
			const char *key)
{
	json_t *v = (json_t *)*field;
	if (!v && (v = child(json_object_get(entry, role), key, false)))
		*field = v;
	return v;
}

static enum claw_rc prepare_tenant(struct na_tenant_spec *t, json_t *entry,
				   const unsigned char key[32])
{
	const json_t *servers = json_object_get(entry, "tool_servers");
	size_t i, j;
	json_t *o, *e;
	if (!json_array_size(servers))
		return CLAW_OK;
	json_t *rt = role_obj(entry, "runtime", &t->role[NA_RUNTIME].config,
			      "config");
	json_t *sec = role_obj(entry, "runtime", &t->role[NA_RUNTIME].secrets,
			       "secrets");
	json_t *gw = role_obj(entry, "gateway", &t->role[NA_GATEWAY].config,
			      "config");
	json_t *mcp = rt ? child(rt, "mcp_servers", true) : NULL;
	json_t *allow = gw ? child(gw, "egress_allow", true) : NULL;
	if (!sec || !mcp || !allow)
		return CLAW_ERR_NOMEM;
	json_array_foreach(servers, i, o) {
		const char *name =
			json_string_value(json_object_get(o, "name"));
		char url[128], secname[64], tok[65], bearer[80];
		snprintf(url, sizeof(url), "http://tool-%s:%d/mcp", name,
			 NA_TOOLSRV_PORT);
		snprintf(secname, sizeof(secname), "mcp_token_%s", name);
		na_toolsrv_token(key, t, name, tok);
		snprintf(bearer, sizeof(bearer), "Bearer %s", tok);
		json_t *m = json_pack("{s:s, s:s, s:{s:s}}", "name", name,
				      "url", url, "header_secrets",
				      "Authorization", secname);
		if (m && json_object_get(o, "timeout_ms"))
			json_object_set(m, "timeout_ms",
					json_object_get(o, "timeout_ms"));
		int bad = json_array_append_new(mcp, m) ||
			json_object_set_new(sec, secname, json_string(bearer));
		sodium_memzero(tok, sizeof(tok));
		sodium_memzero(bearer, sizeof(bearer));
		if (bad)
			return CLAW_ERR_NOMEM;
		json_t *self =
			json_sprintf("tool-%s:%d", name, NA_TOOLSRV_PORT);
		if (!self || json_array_append_new(allow, self))
			return CLAW_ERR_NOMEM;
		json_array_foreach(json_object_get(o, "egress"), j, e) {
			size_t k;
			json_t *have;
			bool dup = false;
			json_array_foreach(allow, k, have)
				dup |= json_equal(have, e);
			if (!dup && json_array_append(allow, e))
				return CLAW_ERR_NOMEM;
		}
	}
	return CLAW_OK;
}

enum claw_rc na_toolsrv_prepare(struct na_desired *d,
				const unsigned char key[32])
{
	size_t i;
	json_t *e;
	json_array_foreach(json_object_get(d->doc, "tenants"), i, e) {
		const char *n = json_string_value(json_object_get(e, "tenant"));
		for (size_t k = 0; n && k < d->n; k++)
			if (!strcmp(d->tenants[k].tenant, n) &&
			    prepare_tenant(&d->tenants[k], e, key))
				return CLAW_ERR_NOMEM;
	}
	return CLAW_OK;
}

/* ---- the container -------------------------------------------------- */

void na_toolsrv_container_name(const char *tenant, const char *name, char *out,
			       size_t outlen)
{
	snprintf(out, outlen, "claw-%s-tool-%s", tenant, name);
}

static double lim_of(const json_t *server, const char *key, double def)
{
	json_t *v = json_object_get(json_object_get(server, "limits"), key);
	return v ? json_number_value(v) : def;
}

json_t *na_toolsrv_spec(const struct na_tenant_spec *t, const json_t *server,
			const char *image_ref, const struct na_toolsrv_paths *p)
{
	const char *name = json_string_value(json_object_get(server, "name"));
	char net[64], gen[24], user[48], uid[24], alias[48], tmpfs[64],
		bind_br[600], bind_sec[1100], proxy[64], slot[4];
	const char *k;
	size_t i;
	json_t *v;
	na_network_name(t->tenant, p->slot, net, sizeof(net));
	snprintf(gen, sizeof(gen), "%" PRId64, t->generation);
	snprintf(user, sizeof(user), "%lu:%lu", p->uid, p->uid);
	snprintf(uid, sizeof(uid), "%lu", p->uid);
	snprintf(alias, sizeof(alias), "tool-%s", name);
	snprintf(slot, sizeof(slot), "%d", p->slot ? 1 : 0);
	json_int_t scratch =
		json_integer_value(json_object_get(server, "scratch_mb"));
	snprintf(tmpfs, sizeof(tmpfs),
		 "rw,noexec,nosuid,nodev,size=%" JSON_INTEGER_FORMAT "m",
		 scratch ? scratch : 16);
	snprintf(bind_br, sizeof(bind_br), "%s:/claw/mcp-bridge:ro", p->bridge);
	snprintf(bind_sec, sizeof(bind_sec), "%s:/run/claw/secrets:ro",
		 p->secrets_dir);
	snprintf(proxy, sizeof(proxy), "http://gateway:%d",
		 NA_GATEWAY_PROXY_PORT);
	int64_t mem = (int64_t)lim_of(server, "memory_mb", 128) * 1024 * 1024;
	json_t *host = json_pack(
		"{s:b, s:[s], s:[s,s], s:I, s:I, s:I, s:I, s:{s:s}, s:[s,s],"
		" s:s, s:{s:s}, s:{s:s, s:{s:s, s:s}}}",
		"ReadonlyRootfs", 1, "CapDrop", "ALL", "SecurityOpt",
		"no-new-privileges:true", p->seccomp, "PidsLimit",
		(json_int_t)lim_of(server, "pids", 64), "Memory",
		(json_int_t)mem, "MemorySwap", (json_int_t)mem, "NanoCpus",
		(json_int_t)(lim_of(server, "cpus", 0.25) * 1e9), "Tmpfs",
		"/tmp", tmpfs, "Binds", bind_br, bind_sec, "NetworkMode", net,
		"RestartPolicy", "Name", "no", "LogConfig", "Type", "json-file",
		"Config", "max-size", "10m", "max-file", "3");
	/* The bridge's own options, then the server's argv after "--". */
	json_t *cmd = json_pack(
		"[s,s,s,s,s]", "--listen", "0.0.0.0:8080", "--token-file",
		"/run/claw/secrets/" NA_TOOLSRV_TOKEN_FILE, "--");
	json_t *env = json_array();
	if (!host || !cmd || !env)
		goto nomem;
	json_array_foreach(json_object_get(server, "command"), i, v)
		json_array_append(cmd, v);
	json_object_foreach(json_object_get(server, "env"), k, v)
		json_array_append_new(
			env, json_sprintf("%s=%s", k, json_string_value(v)));
	const char *const pv[] = {"HTTP_PROXY", "HTTPS_PROXY", "http_proxy",
				  "https_proxy"};
	for (i = 0; i < 4; i++)
		json_array_append_new(env, json_sprintf("%s=%s", pv[i], proxy));
	json_array_append_new(env, json_string("HOME=/tmp"));
	json_array_append_new(
		env, json_string("CLAW_SECRETS_DIR=/run/claw/secrets"));
	json_t *body = json_pack(
		"{s:s, s:s, s:[s], s:o, s:o, s:{s:s, s:s, s:s, s:s, s:s, s:s,"
		" s:s, s:s, s:s, s:s, s:s, s:s}, s:{s:{}}, s:o,"
		" s:{s:{s:{s:[s]}}}}",
		"Image", image_ref, "User", user, "Entrypoint",
		"/claw/mcp-bridge", "Cmd", cmd, "Env", env, "Labels",
		"claw.managed", "1", "claw.tenant", t->tenant,
		"claw.deployment", t->deployment, "claw.generation", gen,
		"claw.role", "tool", "claw.tool", name, "claw.config-hash",
		p->hash, "claw.node", p->node, "claw.uid", uid, "claw.seccomp",
		p->seccomp_hash, "claw.slot", slot, "claw.volume", "",
		"ExposedPorts", "8080/tcp", "HostConfig", host,
		"NetworkingConfig", "EndpointsConfig", net, "Aliases", alias);
	return body;
nomem:
	json_decref(host);
	json_decref(cmd);
	json_decref(env);
	return NULL;
}

/* ---- the servers' state (reconcile thread) ---------------------------- */

struct ts_inst {
	char name[40];
	int slot;        /* the tenant network's slot it runs on */
	bool draining;   /* the old pair's, kept while it drains */
	char cname[128]; /* its container's name */
	char id[72];
	bool exists, running, busy, probing, ready, crash_loop, tail_pending;
	bool gone; /* no longer declared: being removed */
	bool pull_busy;
	char pinned[256]; /* its image, pulled */
	char image[256];  /* the reference pinned was pulled for */
	char hash[65];    /* what it was created from */
	char ip[48];
	unsigned failures, restarts, probe_fail;
	int last_exit;
	double next_start, next_probe, started_at, next_tail;
	char error[512];
	char log_tail[1024];
};

struct ts_tenant {
	char tenant[48];
	json_t *allowed; /* "IP:8080" entries put into the gateway's
			  * egress_allow, or NULL */
	size_t n;
	struct ts_inst s[NA_TOOLSRV_MAX * 2]; /* both slots' */
	struct ts_tenant *next;
};

static struct ts_tenant *tenants; /* reconcile thread only */

static struct ts_tenant *ts_get(const char *tenant, bool make)
{
	struct ts_tenant *t;
	for (t = tenants; t; t = t->next)
		if (!strcmp(t->tenant, tenant))
			return t;
	if (!make || !(t = calloc(1, sizeof(*t))))
		return NULL;
	snprintf(t->tenant, sizeof(t->tenant), "%s", tenant);
	t->next = tenants;
	tenants = t;
	return t;
}

static struct ts_inst *ts_find(struct ts_tenant *tt, const char *name, int slot)
{
	for (size_t i = 0; tt && i < tt->n; i++)
		if (!strcmp(tt->s[i].name, name) && tt->s[i].slot == slot)
			return &tt->s[i];
	return NULL;
}

/* Server name's entry in slot, made when absent (NULL when full). */
static struct ts_inst *ts_make(struct ts_tenant *tt, const char *name, int slot)
{
	struct ts_inst *in = ts_find(tt, name, slot);
	if (in || tt->n >= NA_TOOLSRV_MAX * 2)
		return in;
	/* named on the stack: in lies in tt, which holds the tenant's name */
	char cname[sizeof(in->cname)];
	na_toolsrv_container_name(tt->tenant, name, cname, sizeof(cname));
	in = &tt->s[tt->n++];
	memset(in, 0, sizeof(*in));
	snprintf(in->name, sizeof(in->name), "%s", name);
	in->slot = slot;
	/* '.' is in no server name: slot 1's is never another's */
	snprintf(in->cname, sizeof(in->cname), "%s%s", cname, slot ? ".1" : "");
	return in;
}

static struct ts_inst *ts_by_cname(struct ts_tenant *tt, const char *cname)
{
	for (size_t i = 0; tt && i < tt->n; i++)
		if (!strcmp(tt->s[i].cname, cname))
			return &tt->s[i];
	return NULL;
}

static struct na_op *ts_op(struct na_agent *a, enum na_op_kind kind,
			   struct ts_tenant *tt, struct ts_inst *in)
{
	struct na_op *op = na_op_new(a, kind, tt->tenant,
				     NA_TOOLSRV_ROLE + (int)(in - tt->s));
	if (op)
		snprintf(op->name, sizeof(op->name), "%s", in->cname);
	return op;
}

static void ts_forget(struct ts_inst *in)
{
	in->id[0] = in->ip[0] = 0;
	in->exists = in->running = in->ready = false;
}

/* The server's files: SECRETS_DIR/TENANT/tool-NAME/{claw-mcp-token,
 * VAR...}, the directory 0500 and the files 0400, owned by the tenant's
 * uid (the tenant's directory is made by na_files_write first). */
static enum claw_rc ts_files(const char *dir, const char *token,
			     const json_t *secrets, uid_t u, char *msg,
			     size_t msglen)
{
	const char *k;
	json_t *v;
	char path[1200];
	if ((mkdir(dir, 0500) && errno != EEXIST) || chown(dir, u, u) ||
	    chmod(dir, 0500)) {
		snprintf(msg, msglen, "unable to make '%s': %s", dir,
			 strerror(errno));
		return CLAW_ERR_IO;
	}
	json_object_foreach((json_t *)secrets, k, v) {
		snprintf(path, sizeof(path), "%s/%s", dir, k);
		if (claw_secret_file_write(path, json_string_value(v),
					   json_string_length(v), 0400, true,
					   msg, msglen) ||
		    chown(path, u, u))
			return CLAW_ERR_IO;
	}
	snprintf(path, sizeof(path), "%s/%s", dir, NA_TOOLSRV_TOKEN_FILE);
	if (claw_secret_file_write(path, token, strlen(token), 0400, true, msg,
				   msglen) ||
	    chown(path, u, u))
		return CLAW_ERR_IO;
	return CLAW_OK;
}

static const char *bridge_path(void)
{
	const char *e = getenv("CLAW_NODE_AGENT_MCP_BRIDGE");
	return e && e[0] ? e : NA_TOOLSRV_BRIDGE;
}

static const json_t *server_of(const json_t *servers, const char *name)
{
	size_t i;
	json_t *o;
	json_array_foreach(servers, i, o) {
		const char *n = json_string_value(json_object_get(o, "name"));
		if (n && !strcmp(n, name))
			return o;
	}
	return NULL;
}

/* What a container is made from, keyed (it says nothing of the secret
 * values it covers). */
static void ts_hash(const struct na_agent *a, const struct na_tenant *t,
		    const struct na_tenant_spec *s, const json_t *server,
		    const struct ts_inst *in, char out[65])
{
	crypto_generichash_state st;
	unsigned char h[32];
	char *decl = json_dumps(server, JSON_COMPACT | JSON_SORT_KEYS);
	char extra[512];
	int n = snprintf(extra, sizeof(extra), "%s|%" PRId64 "|%d|%lu|%s|%s|%s",
			 s->deployment, s->generation, t->slot, t->uid,
			 a->seccomp_hash, in->pinned, bridge_path());
	crypto_generichash_init(&st, a->files.hash_key,
				sizeof(a->files.hash_key), sizeof(h));
	if (decl)
		crypto_generichash_update(&st, (const unsigned char *)decl,
					  strlen(decl));
	crypto_generichash_update(&st, (const unsigned char *)extra, (size_t)n);
	crypto_generichash_final(&st, h, sizeof(h));
	sodium_bin2hex(out, 65, h, sizeof(h));
	if (decl) {
		sodium_memzero(decl, strlen(decl));
		free(decl);
	}
}

static void ts_tail(struct na_agent *a, struct ts_tenant *tt,
		    struct ts_inst *in, double now)
{
	struct na_op *op;
	if (in->tail_pending || !in->id[0] ||
	    !(op = ts_op(a, NA_OP_LOGTAIL, tt, in)))
		return;
	snprintf(op->id, sizeof(op->id), "%s", in->id);
	in->tail_pending = true;
	in->next_tail = now + 10;
	na_op_submit(a, op);
}

/* When the next try after `failures` failures in a row is due. */
static double ts_retry_at(const struct na_agent *a, unsigned failures,
			  double now)
{
	return now +
		na_backoff_delay_ms(a->cfg.backoff_ms, a->cfg.backoff_max_ms,
				    failures) /
		1000.0;
}

/* It died or stopped answering: restart after the backoff. */
static void ts_failed(struct na_agent *a, struct ts_tenant *tt,
		      struct ts_inst *in, int exit_code, double now)
{
	in->running = in->ready = false;
	in->probe_fail = 0;
	in->last_exit = exit_code;
	in->failures++;
	in->restarts++;
	in->next_start = ts_retry_at(a, in->failures, now);
	if (in->failures >= (unsigned)a->cfg.crash_loop_after) {
		if (!in->crash_loop)
			log_warn("tenant '%s' tool server '%s' is crash "
				 "looping: exit code %d, %u failures",
				 tt->tenant, in->name, exit_code, in->failures);
		in->crash_loop = true;
		ts_tail(a, tt, in, now);
	} else {
		log_info("tenant '%s' tool server '%s' exited with code %d; "
			 "restart in %.1f s",
			 tt->tenant, in->name, exit_code, in->next_start - now);
	}
}

static void ts_pull(struct na_agent *a, struct ts_tenant *tt,
		    struct ts_inst *in, const struct na_tenant_spec *s,
		    const char *image)
{
	struct na_op *op = ts_op(a, NA_OP_PULL, tt, in);
	if (!op)
		return;
	for (int r = 0; r < NA_ROLES; r++)
		snprintf(op->image[r], sizeof(op->image[r]), "%s", image);
	op->auth = s->registry_auth ? json_deep_copy(s->registry_auth) : NULL;
	in->pull_busy = true;
	na_op_submit(a, op);
}

static void ts_start(struct na_agent *a, struct na_tenant *t,
		     const struct na_tenant_spec *s, struct ts_tenant *tt,
		     struct ts_inst *in, const json_t *server, const char *hash,
		     double now)
{
	char dir[1200], tok[65];
	na_toolsrv_token(a->files.hash_key, s, in->name, tok);
	snprintf(dir, sizeof(dir), "%s/%s/tool-%s", a->files.secrets_dir,
		 t->name, in->name);
	enum claw_rc rc = ts_files(dir, tok, json_object_get(server, "secrets"),
				   (uid_t)t->uid, in->error, sizeof(in->error));
	sodium_memzero(tok, sizeof(tok));
	if (rc) {
		in->next_start = now + 5;
		return;
	}
	struct na_toolsrv_paths p = {
		.bridge = bridge_path(),
		.secrets_dir = dir,
		.node = a->cfg.node_name,
		.uid = t->uid,
		.seccomp = a->seccomp_opt,
		.seccomp_hash = a->seccomp_hash,
		.hash = hash,
		.slot = t->slot,
	};
	struct na_op *op = ts_op(a, NA_OP_START, tt, in);
	if (!op)
		return;
	if (!(op->body = na_toolsrv_spec(s, server, in->pinned, &p))) {
		na_op_free(op);
		return;
	}
	snprintf(op->old_id[0], sizeof(op->old_id[0]), "%s", in->id);
	ts_forget(in);
	na_network_name(t->name, t->slot, op->net, sizeof(op->net));
	op->slot = t->slot;
	op->uid = t->uid;
	op->generation = s->generation;
	snprintf(op->deployment, sizeof(op->deployment), "%s", s->deployment);
	snprintf(op->cfg_hash, sizeof(op->cfg_hash), "%s", hash);
	in->busy = true;
	in->running = true;
	in->probe_fail = 0;
	in->started_at = now;
	log_info("tenant '%s' tool server '%s': starting", t->name, in->name);
	na_op_submit(a, op);
}

static void ts_retire(struct na_agent *a, struct ts_tenant *tt,
		      struct ts_inst *in)
{
	struct na_op *op = ts_op(a, NA_OP_RETIRE, tt, in);
	if (!op)
		return;
	snprintf(op->old_id[0], sizeof(op->old_id[0]), "%s", in->id);
	in->busy = true;
	in->running = false;
	na_op_submit(a, op);
}

static bool ts_busy(const struct ts_tenant *tt)
{
	for (size_t i = 0; i < tt->n; i++)
		if (tt->s[i].busy || tt->s[i].pull_busy || tt->s[i].probing ||
		    tt->s[i].tail_pending)
			return true;
	return false;
}

/* A server's images in the agent's image history (gc.h): a list of
 * their own, "TENANT/tool-NAME", so they never push the pair's images
 * out of the tenant's last image_keep. */
static void ts_gc_key(const struct ts_tenant *tt, const struct ts_inst *in,
		      char *out, size_t outlen)
{
	snprintf(out, outlen, "%s/tool-%s", tt->tenant, in->name);
}

/* Drop the servers removed (none of its ops in flight: they find theirs
 * by container name, but not while the array moves); their images are
 * no longer kept. */
static void ts_compact(struct na_agent *a, struct ts_tenant *tt)
{
	size_t k = 0;
	char key[96];
	if (ts_busy(tt))
		return;
	for (size_t i = 0; i < tt->n; i++) {
		struct ts_inst *in = &tt->s[i];
		bool twin = false; /* the other slot's, kept */
		for (size_t j = 0; j < tt->n; j++)
			twin |= j != i && !strcmp(tt->s[j].name, in->name) &&
				(!tt->s[j].gone || tt->s[j].exists);
		if (!in->gone || in->exists) {
			tt->s[k++] = *in;
		} else if (!twin) {
			ts_gc_key(tt, in, key, sizeof(key));
			na_gc_forget(a, key);
		}
	}
	tt->n = k;
}

static void ts_probe(struct na_agent *a, struct ts_tenant *tt,
		     struct ts_inst *in)
{
	struct na_op *op = ts_op(a, NA_OP_PROBE, tt, in);
	if (!op)
		return;
	snprintf(op->id, sizeof(op->id), "%s", in->id);
	snprintf(op->url, sizeof(op->url), "http://%s:%d/healthz", in->ip,
		 NA_TOOLSRV_PORT);
	snprintf(op->ready_url, sizeof(op->ready_url), "http://%s:%d/readyz",
		 in->ip, NA_TOOLSRV_PORT);
	in->probing = true;
	na_op_submit(a, op);
}

static long index_of(const json_t *arr, const json_t *v)
{
	size_t i;
	json_t *e;
	json_array_foreach(arr, i, e)
		if (json_equal(e, v))
			return (long)i;
	return -1;
}

/* The gateway's proxy reaches a server by its address only when an
 * address entry names it (a name resolving to an internal address is
 * refused, gateway/egress.c): each running server's "IP:8080" is put
 * into the gateway's egress_allow, and taken out when it goes. A change
 * is a new config hash, so the gateway gets it with a SIGHUP. */
static bool ts_allow(struct ts_tenant *tt, const struct na_tenant_spec *s)
{
	json_t *allow = json_object_get(s->role[NA_GATEWAY].config,
					"egress_allow"),
	       *want = json_array(), *v;
	bool changed = false;
	size_t i;
	if (!json_is_array(allow) || !want) {
		json_decref(want);
		return false;
	}
	for (i = 0; i < tt->n; i++)
		if (tt->s[i].ip[0] && !tt->s[i].gone && !tt->s[i].draining)
			json_array_append_new(want,
					      json_sprintf("%s:%d", tt->s[i].ip,
							   NA_TOOLSRV_PORT));
	json_array_foreach(tt->allowed, i, v) {
		long k = index_of(allow, v);
		if (index_of(want, v) < 0 && k >= 0) {
			json_array_remove(allow, (size_t)k);
			changed = true;
		}
	}
	json_array_foreach(want, i, v) {
		if (index_of(allow, v) < 0) {
			json_array_append(allow, v);
			changed = true;
		}
	}
	json_decref(tt->allowed);
	tt->allowed = want;
	return changed;
}

static double min_of(double x, double y)
{
	return x < y ? x : y;
}

/* Why a running bridge's server is not ready, from the bridge's own log
 * lines in the tail (tools/mcp-bridge/main.c's messages; the newest
 * wins; its own kill after a time-out is logged as "stopped by the
 * bridge", not as a reason). */
static void not_ready_reason(struct ts_inst *in)
{
	static const char *const why[] = {
		"timed out waiting for initialize",
		"the server refused initialize",
		"the server exited with status",
		"the server was killed by signal",
	};
	const char *best = NULL, *p;
	size_t k, n = 0;
	for (k = 0; k < sizeof(why) / sizeof(why[0]); k++)
		for (p = in->log_tail; (p = strstr(p, why[k])); p++)
			if (!best || p > best) {
				best = p;
				n = strcspn(p, "\";\n");
			}
	snprintf(in->error, sizeof(in->error),
		 "the MCP server is not ready: %.*s (see log_tail)", (int)n,
		 best ? best : "it has not answered initialize");
}

void na_toolsrv_reconcile(struct na_agent *a, struct na_tenant *t,
			  const struct na_tenant_spec *s, double now,
			  double *next)
{
	const json_t *servers = na_toolsrv_of(&a->desired, t->name);
	struct ts_tenant *tt = ts_get(t->name, json_array_size(servers) > 0);
	size_t i;
	json_t *o;
	char hash[65];
	if (!tt || t->removing)
		return;
	for (i = 0; i < tt->n; i++) {
		struct ts_inst *in = &tt->s[i];
		/* The other slot's serve the draining pair until it goes
		 * (whatever the new generation declares). */
		in->draining = in->slot != t->slot;
		in->gone =
			!in->draining || !t->draining || s->state != NA_RUNNING;
	}
	json_array_foreach(servers, i, o) {
		struct ts_inst *in = ts_make(
			tt, json_string_value(json_object_get(o, "name")),
			t->slot);
		if (in)
			in->gone = s->state != NA_RUNNING;
	}
	/* A blue/green redeploy is coming (reconcile.c starts the new pair
	 * in the other slot once it has what it needs): the serving pair's
	 * servers are not replaced in place meanwhile. */
	const struct na_inst *gw = &t->inst[NA_GATEWAY];
	bool hold = a->cfg.edge_admin && s->state == NA_RUNNING &&
		!s->disk_mb && !t->draining && gw->exists && gw->running &&
		gw->healthy &&
		(gw->generation != s->generation ||
		 strcmp(gw->deployment, s->deployment));
	/* The runtime's files hold the tokens: they are written first. */
	bool can_start = t->uid && t->net_ok[t->slot] &&
		t->files_hash[NA_RUNTIME][0] &&
		t->files_uid[NA_RUNTIME] == t->uid;
	for (i = 0; i < tt->n; i++) {
		struct ts_inst *in = &tt->s[i];
		const json_t *server = server_of(servers, in->name);
		const char *image =
			json_string_value(json_object_get(server, "image"));
		if (in->busy || in->pull_busy)
			continue;
		if (in->gone) {
			if (in->exists)
				ts_retire(a, tt, in);
			continue;
		}
		if (in->draining || !can_start || !image)
			continue;
		if (strcmp(in->image, image)) {
			if (now >= in->next_start)
				ts_pull(a, tt, in, s, image);
			else
				*next = min_of(*next, in->next_start);
			continue;
		}
		ts_hash(a, t, s, server, in, hash);
		if ((in->exists && strcmp(in->hash, hash) &&
		     !(hold && in->running)) ||
		    ((!in->exists || !in->running) && now >= in->next_start)) {
			ts_start(a, t, s, tt, in, server, hash, now);
			continue;
		}
		if (!in->running) {
			*next = min_of(*next, in->next_start);
		} else if (in->ip[0] && !in->probing) {
			if (now >= in->next_probe)
				ts_probe(a, tt, in);
			else
				*next = min_of(*next, in->next_probe);
		}
	}
	ts_compact(a, tt);
	if (ts_allow(tt, s)) {
		t->want_hash_seq = 0; /* the gateway's config changed */
		*next = now;
	}
}

void na_toolsrv_apply(struct na_agent *a, struct na_tenant *t, struct na_op *op,
		      double now)
{
	struct ts_tenant *tt = ts_get(op->tenant, false);
	struct ts_inst *in = ts_by_cname(tt, op->name);
	char key[96];
	(void)t;
	if (!in)
		return;
	switch (op->kind) {
	case NA_OP_PULL:
		in->pull_busy = false;
		if (op->rc) {
			snprintf(in->error, sizeof(in->error),
				 "image '%.200s': %.290s", op->image[0],
				 op->err.message);
			/* +1: not at once, as the pair's pulls */
			in->next_start =
				ts_retry_at(a, ++in->failures + 1, now);
			break;
		}
		snprintf(in->pinned, sizeof(in->pinned), "%s", op->pinned[0]);
		snprintf(in->image, sizeof(in->image), "%s", op->image[0]);
		ts_gc_key(tt, in, key, sizeof(key));
		na_gc_record(a, key, in->pinned);
		in->error[0] = 0;
		break;
	case NA_OP_START:
		in->busy = false;
		if (op->id[0]) {
			snprintf(in->id, sizeof(in->id), "%s", op->id);
			in->exists = true;
			snprintf(in->hash, sizeof(in->hash), "%s",
				 op->cfg_hash);
		}
		if (op->rc) {
			snprintf(in->error, sizeof(in->error), "%.500s",
				 op->err.message);
			ts_failed(a, tt, in, -1, now);
			break;
		}
		snprintf(in->ip, sizeof(in->ip), "%s", op->ip);
		in->running = op->running;
		in->next_probe = now;
		in->error[0] = 0;
		if (!op->running)
			ts_failed(a, tt, in, -1, now);
		break;
	case NA_OP_PROBE:
		in->probing = false;
		if (strcmp(in->id, op->id) || !in->running || in->busy)
			break;
		in->next_probe = now + a->cfg.probe_interval_ms / 1000.0;
		if (!op->ok) {
			/* Three misses: replaced (a container that died
			 * unseen, or a bridge that hangs). */
			if (++in->probe_fail >= 3)
				ts_failed(a, tt, in, -1, now);
			break;
		}
		in->probe_fail = 0;
		if (op->ready && !in->ready)
			log_info("tenant '%s' tool server '%s' is ready",
				 tt->tenant, in->name);
		in->ready = op->ready;
		if (op->ready) {
			in->failures = 0;
			in->crash_loop = false;
			in->log_tail[0] = 0;
			in->error[0] = 0;
		} else if (now - in->started_at >
				   min_of(a->cfg.startup_grace_ms / 1000.0,
					  10) &&
			   now >= in->next_tail) {
			/* The bridge runs, its server does not: why. */
			ts_tail(a, tt, in, now);
		}
		break;
	case NA_OP_LOGTAIL:
		in->tail_pending = false;
		if (op->rc == CLAW_OK && !strcmp(in->id, op->id)) {
			snprintf(in->log_tail, sizeof(in->log_tail), "%s",
				 op->text);
			if (in->running && !in->ready && !in->crash_loop)
				not_ready_reason(in);
		}
		break;
	case NA_OP_RETIRE:
		in->busy = false;
		if (op->rc == CLAW_OK)
			ts_forget(in);
		break;
	default:
		in->busy = false;
		break;
	}
}

bool na_toolsrv_event(struct na_agent *a, const struct na_event *ev, double now)
{
	if (strcmp(ev->role, "tool"))
		return false;
	struct ts_tenant *tt = ts_get(ev->tenant, false);
	for (size_t i = 0; tt && i < tt->n; i++) {
		struct ts_inst *in = &tt->s[i];
		if (strcmp(in->id, ev->id))
			continue;
		if (!strcmp(ev->action, "die") && in->running && !in->busy)
			ts_failed(a, tt, in, ev->exit_code, now);
		else if (!strcmp(ev->action, "destroy") && !in->busy)
			ts_forget(in);
	}
	return true;
}

static const char *str_of(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

bool na_toolsrv_adopt(struct na_agent *a, const json_t *c)
{
	const json_t *labels = json_object_get(c, "Labels");
	const char *role = str_of(labels, "claw.role");
	const char *tenant = str_of(labels, "claw.tenant");
	const char *name = str_of(labels, "claw.tool");
	const char *id = str_of(c, "Id"), *state = str_of(c, "State");
	const char *hash = str_of(labels, "claw.config-hash");
	const char *slot = str_of(labels, "claw.slot");
	char net[64];
	(void)a;
	if (!role || strcmp(role, "tool"))
		return false;
	struct ts_tenant *tt =
		tenant && name && id ? ts_get(tenant, true) : NULL;
	struct ts_inst *in =
		tt ? ts_make(tt, name, slot && !strcmp(slot, "1")) : NULL;
	if (!in || in->busy)
		return true;
	snprintf(in->id, sizeof(in->id), "%s", id);
	snprintf(in->hash, sizeof(in->hash), "%s", hash ? hash : "");
	in->exists = true;
	in->running = state && !strcmp(state, "running");
	/* Its hash says whether it still matches, once its image is
	 * pinned again (a pull that finds it present). */
	na_network_name(tenant, slot && !strcmp(slot, "1"), net, sizeof(net));
	const char *ip = str_of(
		json_object_get(
			json_object_get(json_object_get(c, "NetworkSettings"),
					"Networks"),
			net),
		"IPAddress");
	snprintf(in->ip, sizeof(in->ip), "%s", in->running && ip ? ip : "");
	return true;
}

bool na_toolsrv_remove(struct na_agent *a, struct na_tenant *t)
{
	struct ts_tenant *tt = ts_get(t->name, false), **pp;
	bool left = false;
	if (!tt)
		return false;
	for (size_t i = 0; i < tt->n; i++) {
		struct ts_inst *in = &tt->s[i];
		in->gone = true;
		if (!in->busy && !in->pull_busy && in->exists)
			ts_retire(a, tt, in);
		left |= in->exists || in->busy || in->pull_busy ||
			in->probing || in->tail_pending;
	}
	if (left)
		return true;
	ts_compact(a, tt); /* all gone: their images forgotten */
	for (pp = &tenants; *pp != tt; pp = &(*pp)->next)
		;
	*pp = tt->next;
	json_decref(tt->allowed);
	free(tt);
	return false;
}

static const char *ts_state(const struct ts_inst *in)
{
	if (in->gone)
		return "removing";
	if (in->draining)
		return "draining";
	if (in->crash_loop)
		return "crash_loop";
	if (!in->pinned[0])
		return in->error[0] ? "failed" : "pulling";
	if (!in->exists || !in->ip[0])
		return in->error[0] ? "failed" : "starting";
	if (!in->running)
		return "restarting";
	/* not ready: "starting" until the log tail has said why */
	return in->ready ? "ready" : in->error[0] ? "server_down" : "starting";
}

json_t *na_toolsrv_status(const char *tenant)
{
	struct ts_tenant *tt = ts_get(tenant, false);
	json_t *arr = json_array();
	for (size_t i = 0; arr && tt && i < tt->n; i++) {
		const struct ts_inst *in = &tt->s[i];
		json_array_append_new(
			arr,
			json_pack("{s:s, s:s, s:s, s:s, s:b, s:i, s:i, s:s,"
				  " s:s, s:s, s:i}",
				  "name", in->name, "container", in->cname,
				  "id", in->id, "state", ts_state(in), "ready",
				  in->ready, "restarts", (int)in->restarts,
				  "last_exit", in->last_exit, "image",
				  in->pinned, "error", in->error, "log_tail",
				  in->log_tail, "slot", in->slot));
	}
	return arr;
}
