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
 *     "runtime": {"image": "REF", "config": {...}, "secrets": {...}},
 *     "min_ready_ms": 2000,   (optional, 0..600000: both roles ready this
 *                             long before the pair counts as healthy)
 *     "public_host": "acme.claw.example",        (optional: the edge)
 *     "domains": ["chat.acme.com"],              (optional, custom domains)
 *     "quota": {"turns_per_day": {"limit", "used", "resets_at"} | null,
 *               "tokens_per_month": ..., "message"}}],  (optional; given
 *                             to the gateway in its config, desired.c)
 *  "edge_routes": [{"hosts": ["bob.claw.example", "chat.bob.com"],
 *     "node": "node-b", "upstream": "10.0.0.2:8444",
 *     "tenant": "bob"}]}      (tenants on other nodes; "tenant" optional)
 *
 * A host (public_host, a domain) is a lower-case DNS name of at least two
 * labels, never an IP address, and appears once in the whole document.
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
#define NA_DOMAINS_MAX                                                         \
	64 /* custom domains per tenant (the control plane
			   * allows 50) */
#define NA_HOST_MAX 253
#define NA_EDGE_ROUTES_MAX 10000

struct na_role_spec {
	const char *image;     /* borrowed from the document */
	const json_t *config;  /* object (borrowed), {} when absent */
	const json_t *secrets; /* object name -> string (borrowed) or NULL */
};

/* The entry's "quota" (parse_quota): counts below 2^53, a message of at
 * most 1024 bytes; the agent puts it into the gateway's config. */
#define NA_QUOTA_COUNT_MAX ((json_int_t)1 << 53)
#define NA_QUOTA_MESSAGE_MAX 1024

struct na_tenant_spec {
	const char *tenant;
	const char *deployment;
	int64_t generation;
	enum na_state state;
	double cpus;
	int64_t memory_mb;
	int64_t pids;
	int64_t disk_mb;   /* the data's size limit, 0: none (disk.h) */
	long min_ready_ms; /* readiness window (ready.h), default 2000 */
	const json_t *registry_auth; /* object, array of them, or NULL
				      * (borrowed) */
	struct na_role_spec role[NA_ROLES];
	const char *public_host; /* "slug.base-domain" or NULL (borrowed) */
	const json_t *domains;   /* array of host strings or NULL (borrowed) */
};

/* A tenant that runs on another node: its hosts are proxied to that
 * node's edge (its advertised address), the Host header kept. */
struct na_edge_route {
	const char *tenant;   /* or NULL */
	const json_t *hosts;  /* array of 1..NA_DOMAINS_MAX + 1 hosts */
	const char *node;     /* the node it runs on (reports only) */
	const char *upstream; /* "HOST:PORT": that node's edge */
};

struct na_desired {
	json_t *doc; /* owns everything the specs borrow */
	int64_t generation;
	size_t n;
	struct na_tenant_spec *tenants;
	size_t n_routes;
	struct na_edge_route *routes; /* edge_routes */
	const json_t *purged; /* "purged": tenant names (borrowed), or NULL
			       * (purge.h) */
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
/* A host: 2..NA_HOST_MAX bytes, labels of [a-z0-9-] (1-63, no '-' at
 * either end), two labels at least, the last not all digits (no IPv4
 * address). */
int na_valid_host(const char *s);
/* "HOST:PORT": HOST a host, a single-label name, an IPv4 address or a
 * bracketed IPv6 address; PORT 1..65535. */
int na_valid_upstream(const char *s);

#endif
