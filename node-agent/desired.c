/*
 * desired.c - parse and check the node's desired state; see desired.h.
 * Every string that later becomes part of a Docker object name, a label or
 * a file name is checked here against a narrow alphabet.
 */
#include "desired.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "disk.h"
#include "errors.h"
#include "ready.h"
#include "registry.h"
#include "toolsrv.h"

static const char *const role_names[NA_ROLES] = {"gateway", "runtime"};

const char *na_role_name(enum na_role r)
{
	return role_names[r];
}

static int all_of(const char *s, const char *alphabet, size_t max)
{
	size_t n = strlen(s);
	return n >= 1 && n <= max && strspn(s, alphabet) == n;
}

int na_valid_tenant(const char *s)
{
	return all_of(s, "abcdefghijklmnopqrstuvwxyz0123456789-",
		      NA_TENANT_MAX) &&
		s[0] != '-';
}

/* Labels of [a-z0-9-], 1-63 each, no '-' at either end; *labels gets
 * their count; the last one's start in *last. */
static int valid_labels(const char *s, size_t max, int *labels,
			const char **last)
{
	size_t n = strlen(s);
	const char *p = s;
	*labels = 0;
	if (n < 1 || n > max ||
	    strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789-.") != n)
		return 0;
	for (;;) {
		size_t l = strcspn(p, ".");
		if (l < 1 || l > 63 || p[0] == '-' || p[l - 1] == '-')
			return 0;
		(*labels)++;
		*last = p;
		if (!p[l])
			return 1;
		p += l + 1;
	}
}

int na_valid_host(const char *s)
{
	int labels;
	const char *last = NULL;
	return valid_labels(s, NA_HOST_MAX, &labels, &last) && labels >= 2 &&
		strspn(last, "0123456789") != strlen(last);
}

int na_valid_upstream(const char *s)
{
	const char *colon = strrchr(s, ':');
	char host[NA_HOST_MAX + 1], *end = NULL;
	unsigned char addr[16];
	size_t hl;
	int labels;
	const char *last;
	if (!colon || !colon[1] ||
	    strspn(colon + 1, "0123456789") != strlen(colon + 1))
		return 0;
	long port = strtol(colon + 1, &end, 10);
	if (*end || port < 1 || port > 65535)
		return 0;
	hl = (size_t)(colon - s);
	if (hl < 1 || hl > NA_HOST_MAX)
		return 0;
	memcpy(host, s, hl);
	host[hl] = 0;
	if (host[0] == '[') {
		if (hl < 3 || host[hl - 1] != ']')
			return 0;
		host[hl - 1] = 0;
		return inet_pton(AF_INET6, host + 1, addr) == 1;
	}
	return inet_pton(AF_INET, host, addr) == 1 ||
		valid_labels(host, NA_HOST_MAX, &labels, &last);
}

static int valid_secret_name(const char *s)
{
	return all_of(s,
		      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
		      "0123456789_.-",
		      64) &&
		s[0] != '.';
}

static int valid_image(const char *s)
{
	/* registry/repo[:tag][@sha256:hex]: no spaces, no control bytes. */
	return all_of(s,
		      "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		      "0123456789-_./:@",
		      255) &&
		s[0] != '-' && s[0] != '/';
}

#define FAIL(...)                                                              \
	do {                                                                   \
		snprintf(msg, msglen, __VA_ARGS__);                            \
		return CLAW_ERR_INVALID;                                       \
	} while (0)

static enum claw_rc parse_role(struct na_role_spec *r, const json_t *o,
			       const char *tenant, const char *name, char *msg,
			       size_t msglen)
{
	const char *key;
	json_t *v;
	if (!json_is_object(o))
		FAIL("tenant '%s': '%s' must be an object", tenant, name);
	json_object_foreach((json_t *)o, key, v) {
		if (strcmp(key, "image") && strcmp(key, "config") &&
		    strcmp(key, "secrets"))
			FAIL("tenant '%s': unknown field '%s.%s'", tenant, name,
			     key);
	}
	r->image = json_string_value(json_object_get(o, "image"));
	if (!r->image || !valid_image(r->image))
		FAIL("tenant '%s': '%s.image' must be an image reference",
		     tenant, name);
	r->config = json_object_get(o, "config");
	if (r->config && !json_is_object(r->config))
		FAIL("tenant '%s': '%s.config' must be an object", tenant,
		     name);
	r->secrets = json_object_get(o, "secrets");
	if (r->secrets && !json_is_object(r->secrets))
		FAIL("tenant '%s': '%s.secrets' must be an object", tenant,
		     name);
	json_object_foreach((json_t *)r->secrets, key, v) {
		if (!valid_secret_name(key))
			FAIL("tenant '%s': secret name '%s' is not allowed "
			     "(use [A-Za-z0-9_.-], up to 64)",
			     tenant, key);
		if (!json_is_string(v) || json_string_length(v) > NA_SECRET_MAX)
			FAIL("tenant '%s': secret '%s' must be a string of at "
			     "most %u bytes",
			     tenant, key, NA_SECRET_MAX);
	}
	return CLAW_OK;
}

/* The tenant's plan (optional; defaults 1 CPU, 512 MB, 256 pids, no disk
 * limit). */
static enum claw_rc parse_plan(struct na_tenant_spec *t, const json_t *plan,
			       char *msg, size_t msglen)
{
	t->cpus = 1.0;
	t->memory_mb = 512;
	t->pids = 256;
	t->disk_mb = 0;
	if (!plan)
		return CLAW_OK;
	json_t *c = json_object_get(plan, "cpus");
	json_t *m = json_object_get(plan, "memory_mb");
	json_t *p = json_object_get(plan, "pids");
	json_t *d = json_object_get(plan, "disk_mb");
	if (!json_is_object(plan) ||
	    json_object_size(plan) !=
		    (size_t) !!c + (size_t) !!m + (size_t) !!p + (size_t) !!d)
		FAIL("tenant '%s': 'plan' takes cpus, memory_mb, pids, disk_mb",
		     t->tenant);
	if (d &&
	    (!json_is_integer(d) || json_integer_value(d) < NA_DISK_MIN_MB ||
	     json_integer_value(d) > NA_DISK_MAX_MB))
		FAIL("tenant '%s': 'plan.disk_mb' must be %d..%ld", t->tenant,
		     NA_DISK_MIN_MB, NA_DISK_MAX_MB);
	if (d)
		t->disk_mb = json_integer_value(d);
	if (c &&
	    (!json_is_number(c) || json_number_value(c) < 0.01 ||
	     json_number_value(c) > 256))
		FAIL("tenant '%s': 'plan.cpus' must be 0.01..256", t->tenant);
	if (m &&
	    (!json_is_integer(m) || json_integer_value(m) < 16 ||
	     json_integer_value(m) > (1 << 20)))
		FAIL("tenant '%s': 'plan.memory_mb' must be 16..1048576",
		     t->tenant);
	if (p &&
	    (!json_is_integer(p) || json_integer_value(p) < 8 ||
	     json_integer_value(p) > 65536))
		FAIL("tenant '%s': 'plan.pids' must be 8..65536", t->tenant);
	if (c)
		t->cpus = json_number_value(c);
	if (m)
		t->memory_mb = json_integer_value(m);
	if (p)
		t->pids = json_integer_value(p);
	return CLAW_OK;
}

/* One registry credential: the strings username, password and
 * serveraddress, which is required (credentials go only to that
 * registry, images.h). */
static enum claw_rc parse_auth(const json_t *auth, const char *tenant,
			       char *msg, size_t msglen)
{
	const char *key;
	json_t *v;
	char host[256];
	if (!json_is_object(auth))
		FAIL("tenant '%s': a 'registry_auth' must be an object",
		     tenant);
	json_object_foreach((json_t *)auth, key, v) {
		if ((strcmp(key, "username") && strcmp(key, "password") &&
		     strcmp(key, "serveraddress")) ||
		    !json_is_string(v))
			FAIL("tenant '%s': 'registry_auth' takes the strings "
			     "username, password, serveraddress",
			     tenant);
	}
	v = json_object_get(auth, "serveraddress");
	if (!v ||
	    na_registry_normalise(json_string_value(v), host, sizeof(host)))
		FAIL("tenant '%s': 'registry_auth.serveraddress' must name "
		     "the registry host the credentials are for",
		     tenant);
	return CLAW_OK;
}

/* registry_auth: one credential, or an array of them (one per registry,
 * at most NA_AUTH_MAX). */
static enum claw_rc parse_auths(const json_t *auth, const char *tenant,
				char *msg, size_t msglen)
{
	size_t i;
	json_t *a;
	enum claw_rc rc;
	if (!json_is_array(auth))
		return parse_auth(auth, tenant, msg, msglen);
	if (json_array_size(auth) > NA_AUTH_MAX)
		FAIL("tenant '%s': at most %d registry credentials", tenant,
		     NA_AUTH_MAX);
	json_array_foreach(auth, i, a) {
		rc = parse_auth(a, tenant, msg, msglen);
		if (rc)
			return rc;
	}
	return CLAW_OK;
}

/* public_host (a host or absent) and domains (an array of hosts or
 * absent), of a tenant or an edge route named what. */
static enum claw_rc parse_hosts(const json_t *o, const char *what,
				const char **public_host,
				const json_t **domains, char *msg,
				size_t msglen)
{
	json_t *ph = json_object_get(o, "public_host");
	json_t *dom = json_object_get(o, "domains"), *v;
	size_t i;
	*public_host = NULL;
	*domains = NULL;
	if (ph &&
	    (!json_is_string(ph) || !na_valid_host(json_string_value(ph))))
		FAIL("%s: 'public_host' must be a lower-case DNS name of two "
		     "labels at least (not an address)",
		     what);
	*public_host = json_string_value(ph);
	if (!dom)
		return CLAW_OK;
	if (!json_is_array(dom) || json_array_size(dom) > NA_DOMAINS_MAX)
		FAIL("%s: 'domains' must be an array of at most %d names", what,
		     NA_DOMAINS_MAX);
	json_array_foreach(dom, i, v) {
		if (!json_is_string(v) || !na_valid_host(json_string_value(v)))
			FAIL("%s: 'domains' must hold lower-case DNS names of "
			     "two labels at least (not addresses)",
			     what);
	}
	*domains = dom;
	return CLAW_OK;
}

/* Every host once in the whole document (seen: host -> its owner). */
static enum claw_rc claim_host(json_t *seen, const char *host,
			       const char *owner, char *msg, size_t msglen)
{
	const char *had = json_string_value(json_object_get(seen, host));
	if (had)
		FAIL("host '%s' is listed twice (%s and %s)", host, had, owner);
	json_object_set_new(seen, host, json_string(owner));
	return CLAW_OK;
}

static enum claw_rc claim_hosts(json_t *seen, const char *public_host,
				const json_t *domains, const char *owner,
				char *msg, size_t msglen)
{
	size_t i;
	json_t *v;
	enum claw_rc rc = CLAW_OK;
	if (public_host)
		rc = claim_host(seen, public_host, owner, msg, msglen);
	json_array_foreach(domains, i, v) {
		if (rc)
			break;
		rc = claim_host(seen, json_string_value(v), owner, msg, msglen);
	}
	return rc;
}

static enum claw_rc parse_route(struct na_edge_route *r, const json_t *o,
				size_t idx, char *msg, size_t msglen)
{
	const char *key;
	json_t *v;
	char what[80];
	size_t i;
	if (!json_is_object(o))
		FAIL("each edge route must be an object");
	r->tenant = json_string_value(json_object_get(o, "tenant"));
	if (json_object_get(o, "tenant") &&
	    (!r->tenant || !na_valid_tenant(r->tenant)))
		FAIL("edge route %zu: 'tenant' must be 1-%d of [a-z0-9-]", idx,
		     NA_TENANT_MAX);
	if (r->tenant)
		snprintf(what, sizeof(what), "edge route of '%s'", r->tenant);
	else
		snprintf(what, sizeof(what), "edge route %zu", idx);
	json_object_foreach((json_t *)o, key, v) {
		if (strcmp(key, "tenant") && strcmp(key, "hosts") &&
		    strcmp(key, "node") && strcmp(key, "upstream"))
			FAIL("%s: unknown field '%s'", what, key);
	}
	r->hosts = json_object_get(o, "hosts");
	if (!json_is_array(r->hosts) || json_array_size(r->hosts) < 1 ||
	    json_array_size(r->hosts) > NA_DOMAINS_MAX + 1)
		FAIL("%s: 'hosts' must be an array of 1-%d names", what,
		     NA_DOMAINS_MAX + 1);
	json_array_foreach(r->hosts, i, v) {
		if (!json_is_string(v) || !na_valid_host(json_string_value(v)))
			FAIL("%s: 'hosts' must hold lower-case DNS names of "
			     "two labels at least (not addresses)",
			     what);
	}
	r->node = json_string_value(json_object_get(o, "node"));
	if (!r->node ||
	    !all_of(r->node,
		    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		    "0123456789._-",
		    64))
		FAIL("%s: 'node' must be 1-64 of [A-Za-z0-9._-]", what);
	r->upstream = json_string_value(json_object_get(o, "upstream"));
	if (!r->upstream || !na_valid_upstream(r->upstream))
		FAIL("%s: 'upstream' must be HOST:PORT (that node's edge)",
		     what);
	return CLAW_OK;
}

static enum claw_rc parse_routes(struct na_desired *d, const json_t *routes,
				 json_t *seen, char *msg, size_t msglen)
{
	char owner[96];
	if (!routes)
		return CLAW_OK;
	if (!json_is_array(routes) ||
	    json_array_size(routes) > NA_EDGE_ROUTES_MAX)
		FAIL("'edge_routes' must be an array of at most %d routes",
		     NA_EDGE_ROUTES_MAX);
	d->routes = calloc(json_array_size(routes) + 1, sizeof(*d->routes));
	if (!d->routes)
		FAIL("out of memory");
	for (size_t i = 0; i < json_array_size(routes); i++) {
		struct na_edge_route *r = &d->routes[i];
		enum claw_rc rc = parse_route(r, json_array_get(routes, i), i,
					      msg, msglen);
		if (rc)
			return rc;
		snprintf(owner, sizeof(owner), "the edge route to node '%s'",
			 r->node);
		rc = claim_hosts(seen, NULL, r->hosts, owner, msg, msglen);
		if (rc)
			return rc;
		d->n_routes = i + 1;
	}
	return CLAW_OK;
}

/* One quota of the entry's "quota": null, or {"limit": N, "used": N,
 * "resets_at": RFC 3339 UTC}, counts 0..2^53. */
static bool valid_quota_lim(const json_t *v)
{
	const json_t *lim = json_object_get(v, "limit");
	const json_t *used = json_object_get(v, "used");
	const char *at = json_string_value(json_object_get(v, "resets_at"));
	int y, mo, d, h, mi, s, n = 0;
	if (json_is_null(v))
		return true;
	return json_is_object(v) && json_object_size(v) == 3 &&
		json_is_integer(lim) && json_integer_value(lim) >= 0 &&
		json_integer_value(lim) < NA_QUOTA_COUNT_MAX &&
		json_is_integer(used) && json_integer_value(used) >= 0 &&
		json_integer_value(used) < NA_QUOTA_COUNT_MAX && at &&
		sscanf(at, "%4d-%2d-%2dT%2d:%2d:%2dZ%n", &y, &mo, &d, &h, &mi,
		       &s, &n) == 6 &&
		!at[n] && n == 20;
}

/* The entry's "quota" (docs/node-agent.md, "Quotas"): checked, then
 * given to the gateway inside its config (the config file the agent
 * writes and reloads with SIGHUP), so a change needs no restart. */
static enum claw_rc parse_quota(struct na_tenant_spec *t, const json_t *o,
				char *msg, size_t msglen)
{
	const json_t *q = json_object_get(o, "quota"), *m;
	const char *key;
	json_t *v, *cfg;
	if (!q)
		return CLAW_OK;
	if (!json_is_object(q))
		FAIL("tenant '%s': %s: 'quota' must be an object", t->tenant,
		     na_error_def(NA_E_INVALID_QUOTA)->code);
	json_object_foreach((json_t *)q, key, v) {
		bool lim = !strcmp(key, "turns_per_day") ||
			!strcmp(key, "tokens_per_month");
		if (!lim && strcmp(key, "message"))
			FAIL("tenant '%s': %s: unknown field 'quota.%s'",
			     t->tenant, na_error_def(NA_E_INVALID_QUOTA)->code,
			     key);
		if (lim && !valid_quota_lim(v))
			FAIL("tenant '%s': %s: 'quota.%s' must be null or "
			     "{\"limit\": N >= 0, \"used\": N >= 0, "
			     "\"resets_at\": RFC 3339 UTC}",
			     t->tenant, na_error_def(NA_E_INVALID_QUOTA)->code,
			     key);
	}
	m = json_object_get(q, "message");
	if (m &&
	    (!json_is_string(m) || json_string_length(m) < 1 ||
	     json_string_length(m) > NA_QUOTA_MESSAGE_MAX))
		FAIL("tenant '%s': %s: 'quota.message' must be a string of "
		     "1-%d bytes",
		     t->tenant, na_error_def(NA_E_INVALID_QUOTA)->code,
		     NA_QUOTA_MESSAGE_MAX);
	cfg = (json_t *)t->role[NA_GATEWAY].config;
	if (!cfg) {
		/* the config is borrowed from the document, which owns it */
		cfg = json_object();
		if (!cfg ||
		    json_object_set_new(json_object_get(o, "gateway"), "config",
					cfg))
			FAIL("out of memory");
		t->role[NA_GATEWAY].config = cfg;
	}
	if (json_object_set(cfg, "quota", (json_t *)q))
		FAIL("out of memory");
	return CLAW_OK;
}

static enum claw_rc parse_tenant(struct na_tenant_spec *t, const json_t *o,
				 char *msg, size_t msglen)
{
	const char *key, *state;
	json_t *v, *auth;
	enum claw_rc rc;
	if (!json_is_object(o))
		FAIL("each tenant must be an object");
	t->tenant = json_string_value(json_object_get(o, "tenant"));
	if (!t->tenant || !na_valid_tenant(t->tenant))
		FAIL("'tenant' must be 1-%d of [a-z0-9-]", NA_TENANT_MAX);
	json_object_foreach((json_t *)o, key, v) {
		static const char *const known[] = {
			"tenant",       "deployment",
			"generation",   "state",
			"plan",         "registry_auth",
			"gateway",      "runtime",
			"public_host",  "domains",
			"min_ready_ms", "quota",
			"tool_servers", NULL};
		int ok = 0;
		for (const char *const *k = known; *k; k++)
			ok |= strcmp(*k, key) == 0;
		if (!ok)
			FAIL("tenant '%s': unknown field '%s'", t->tenant, key);
	}
	t->deployment = json_string_value(json_object_get(o, "deployment"));
	if (!t->deployment ||
	    !all_of(t->deployment,
		    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		    "0123456789-_",
		    64))
		FAIL("tenant '%s': 'deployment' must be 1-64 of [A-Za-z0-9_-]",
		     t->tenant);
	v = json_object_get(o, "generation");
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		FAIL("tenant '%s': 'generation' must be a non-negative integer",
		     t->tenant);
	t->generation = json_integer_value(v);
	state = json_string_value(json_object_get(o, "state"));
	if (!state || strcmp(state, "running") == 0)
		t->state = NA_RUNNING;
	else if (strcmp(state, "suspended") == 0)
		t->state = NA_SUSPENDED;
	else if (strcmp(state, "stopped") == 0)
		t->state = NA_STOPPED;
	else
		FAIL("tenant '%s': 'state' must be running, suspended or "
		     "stopped",
		     t->tenant);
	rc = parse_plan(t, json_object_get(o, "plan"), msg, msglen);
	if (rc)
		return rc;
	v = json_object_get(o, "min_ready_ms");
	if (v &&
	    (!json_is_integer(v) || json_integer_value(v) < 0 ||
	     json_integer_value(v) > NA_MIN_READY_MAX_MS))
		FAIL("tenant '%s': 'min_ready_ms' must be an integer "
		     "0..%d",
		     t->tenant, NA_MIN_READY_MAX_MS);
	t->min_ready_ms =
		v ? (long)json_integer_value(v) : NA_MIN_READY_DEFAULT_MS;
	auth = json_object_get(o, "registry_auth");
	if (auth) {
		rc = parse_auths(auth, t->tenant, msg, msglen);
		if (rc)
			return rc;
	}
	t->registry_auth = auth;
	for (int r = 0; r < NA_ROLES; r++) {
		rc = parse_role(&t->role[r], json_object_get(o, role_names[r]),
				t->tenant, role_names[r], msg, msglen);
		if (rc)
			return rc;
	}
	rc = parse_quota(t, o, msg, msglen);
	if (rc)
		return rc;
	rc = na_toolsrv_check(t, json_object_get(o, "tool_servers"), msg,
			      msglen);
	if (rc)
		return rc;
	{
		char what[80];
		snprintf(what, sizeof(what), "tenant '%s'", t->tenant);
		rc = parse_hosts(o, what, &t->public_host, &t->domains, msg,
				 msglen);
	}
	return rc;
}

/* "purged" (purge.h): an array of tenant names, each once. */
static enum claw_rc parse_purged(struct na_desired *d, const json_t *purged,
				 char *msg, size_t msglen)
{
	const json_t *v;
	size_t i;
	if (!purged)
		return CLAW_OK;
	if (!json_is_array(purged) || json_array_size(purged) > 10000)
		FAIL("'purged' must be an array of at most 10000 tenant names");
	json_t *seen = json_object();
	enum claw_rc rc = seen ? CLAW_OK : CLAW_ERR_NOMEM;
	json_array_foreach(purged, i, v) {
		const char *s = json_string_value(v);
		if (rc)
			break;
		if (!s || !na_valid_tenant(s)) {
			snprintf(msg, msglen,
				 "'purged' must hold tenant names");
			rc = CLAW_ERR_INVALID;
		} else if (json_object_get(seen, s)) {
			snprintf(msg, msglen,
				 "purged tenant '%s' is listed twice", s);
			rc = CLAW_ERR_INVALID;
		} else if (json_object_set_new(seen, s, json_true())) {
			rc = CLAW_ERR_NOMEM;
		}
	}
	json_decref(seen);
	if (!rc)
		d->purged = purged;
	return rc;
}

enum claw_rc na_desired_from_json(struct na_desired *d, json_t *doc, char *msg,
				  size_t msglen)
{
	json_t *tenants, *g, *seen;
	enum claw_rc rc = CLAW_OK;
	memset(d, 0, sizeof(*d));
	if (!json_is_object(doc))
		FAIL("the desired state must be a JSON object");
	d->doc = json_incref(doc);

	g = json_object_get(doc, "generation");
	if (g && (!json_is_integer(g) || json_integer_value(g) < 0))
		FAIL("'generation' must be a non-negative integer");
	d->generation = g ? json_integer_value(g) : 0;
	tenants = json_object_get(doc, "tenants");
	if (!json_is_array(tenants))
		FAIL("'tenants' must be an array");
	if (json_array_size(tenants) > 10000)
		FAIL("too many tenants (%zu)", json_array_size(tenants));
	d->tenants = calloc(json_array_size(tenants) + 1, sizeof(*d->tenants));
	if (!d->tenants)
		FAIL("out of memory");
	seen = json_object();
	if (!seen)
		FAIL("out of memory");
	for (size_t i = 0; i < json_array_size(tenants) && !rc; i++) {
		char owner[64];
		rc = parse_tenant(&d->tenants[i], json_array_get(tenants, i),
				  msg, msglen);
		if (rc)
			break;
		for (size_t j = 0; j < i && !rc; j++)
			if (strcmp(d->tenants[j].tenant,
				   d->tenants[i].tenant) == 0) {
				snprintf(msg, msglen,
					 "tenant '%s' is listed twice",
					 d->tenants[i].tenant);
				rc = CLAW_ERR_INVALID;
			}
		if (rc)
			break;
		snprintf(owner, sizeof(owner), "tenant '%s'",
			 d->tenants[i].tenant);
		rc = claim_hosts(seen, d->tenants[i].public_host,
				 d->tenants[i].domains, owner, msg, msglen);
		d->n = i + 1;
	}
	if (!rc)
		rc = parse_routes(d, json_object_get(doc, "edge_routes"), seen,
				  msg, msglen);
	json_decref(seen);
	if (!rc)
		rc = parse_purged(d, json_object_get(doc, "purged"), msg,
				  msglen);
	return rc;
}

enum claw_rc na_desired_parse(struct na_desired *d, const char *text,
			      size_t len, char *msg, size_t msglen)
{
	json_error_t je;
	json_t *doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
	enum claw_rc rc;
	memset(d, 0, sizeof(*d));
	if (!doc) {
		/* jansson's text may quote the input, which holds secrets:
		 * say only where it broke. */
		snprintf(msg, msglen,
			 "the desired state is not JSON (line %d, column %d)",
			 je.line, je.column);
		return CLAW_ERR_PARSE;
	}
	rc = na_desired_from_json(d, doc, msg, msglen);
	json_decref(doc);
	return rc;
}

void na_desired_release(struct na_desired *d)
{
	free(d->tenants);
	free(d->routes);
	json_decref(d->doc);
	memset(d, 0, sizeof(*d));
}

const struct na_tenant_spec *na_desired_find(const struct na_desired *d,
					     const char *tenant)
{
	for (size_t i = 0; i < d->n; i++)
		if (strcmp(d->tenants[i].tenant, tenant) == 0)
			return &d->tenants[i];
	return NULL;
}
