/*
 * desired.h - the desired state of a node: which tenants run here, with
 * which deployment, generation, images, plan, configs and secrets. It comes
 * from the control plane's assignments (or a file in standalone mode) as
 * JSON and is checked field by field before anything acts on it:
 *
 * {"generation": 7,
 *  "tenants": [{"tenant": "acme", "deployment": "d-1", "generation": 3,
 *     "state": "running" | "suspended" | "stopped",
 *     "plan": {"cpus": 0.5, "memory_mb": 256, "pids": 256,
 *              "disk_mb": 1024},
 *     "registry_auth": {"username": "u", "password": "p",
 *                       "serveraddress": "127.0.0.1:5000"},
 *                      (or an array of such, one per registry; each is
 *                      sent only with pulls from its serveraddress)
 *     "gateway": {"image": "REF", "config": {...}, "secrets": {"NAME": "v"}},
 *     "runtime": {"image": "REF", "config": {...}, "secrets": {...}}}]}
 */
#ifndef NA_DESIRED_H
#define NA_DESIRED_H

#include <jansson.h>
#include <stdint.h>
#include "claw/err.h"

enum na_role {
	NA_GATEWAY = 0,
	NA_RUNTIME = 1,
	NA_ROLES = 2
};
enum na_state {
	NA_RUNNING = 0,
	NA_SUSPENDED,
	NA_STOPPED
};

#define NA_TENANT_MAX 40
#define NA_SECRET_MAX (64u << 10)
#define NA_AUTH_MAX 16 /* registry credentials per tenant */

struct na_role_spec {
	const char *image;     /* borrowed from the document */
	const json_t *config;  /* object (borrowed), {} when absent */
	const json_t *secrets; /* object name -> string (borrowed) or NULL */
};

struct na_tenant_spec {
	const char *tenant;
	const char *deployment;
	int64_t generation;
	enum na_state state;
	double cpus;
	int64_t memory_mb;
	int64_t pids;
	int64_t disk_mb; /* the data's size limit, 0: none (disk.h) */
	const json_t *registry_auth; /* object, array of them, or NULL
				      * (borrowed) */
	struct na_role_spec role[NA_ROLES];
};

struct na_desired {
	json_t *doc; /* owns everything the specs borrow */
	int64_t generation;
	size_t n;
	struct na_tenant_spec *tenants;
};

/* Parse and check; on failure msg says which field is wrong (never quotes
 * a secret value). The caller releases d in every case. */
enum claw_rc na_desired_parse(struct na_desired *d, const char *text,
			      size_t len, char *msg, size_t msglen);
/* The same from a parsed document (a new reference is taken). */
enum claw_rc na_desired_from_json(struct na_desired *d, json_t *doc, char *msg,
				  size_t msglen);
void na_desired_release(struct na_desired *d);

const struct na_tenant_spec *na_desired_find(const struct na_desired *d,
					     const char *tenant);
const char *na_role_name(enum na_role r);
/* A tenant name: 1..40 of [a-z0-9-], starting with a letter or digit. */
int na_valid_tenant(const char *s);

#endif
