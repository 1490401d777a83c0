/*
 * desired.c - parse and check the node's desired state; see desired.h.
 * Every string that later becomes part of a Docker object name, a label or
 * a file name is checked here against a narrow alphabet.
 */
#include "desired.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "disk.h"
#include "registry.h"

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
			"tenant",  "deployment", "generation",
			"state",   "plan",       "registry_auth",
			"gateway", "runtime",    NULL};
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
	return CLAW_OK;
}

enum claw_rc na_desired_from_json(struct na_desired *d, json_t *doc, char *msg,
				  size_t msglen)
{
	json_t *tenants, *g;
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
	for (size_t i = 0; i < json_array_size(tenants); i++) {
		enum claw_rc rc =
			parse_tenant(&d->tenants[i], json_array_get(tenants, i),
				     msg, msglen);
		if (rc)
			return rc;
		for (size_t j = 0; j < i; j++)
			if (strcmp(d->tenants[j].tenant,
				   d->tenants[i].tenant) == 0)
				FAIL("tenant '%s' is listed twice",
				     d->tenants[i].tenant);
		d->n = i + 1;
	}
	return CLAW_OK;
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
