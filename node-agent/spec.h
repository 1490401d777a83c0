/*
 * spec.h - the Docker objects the node agent creates for a tenant, as JSON
 * bodies and names: the hardened container of one role, the tenant's
 * internal network, the shared egress network. Pure functions (no I/O), so
 * the hardening is checked by unit tests.
 *
 * Names: container "claw-TENANT-ROLE", network "claw-t-TENANT", volume
 * "claw-TENANT-ROLE-data" for slot 0; the second slot of a blue/green
 * redeploy (edge.h) adds "-1": "claw-TENANT-ROLE-1", "claw-t-TENANT-1"
 * and, for the gateway only (its journal), "claw-TENANT-gateway-1-data"
 * (the runtime's data is the tenant's, shared by both slots). Labels: claw.managed=1, claw.tenant,
 * claw.deployment, claw.generation, claw.role, claw.config-hash, claw.node
 * (the agent that owns it: an agent only ever touches its own objects),
 * claw.uid (the tenant's host uid, uids.h), claw.seccomp (the hash of
 * the seccomp profile it runs under, seccomp.h), claw.volume (its data
 * volume) and, on gateways, claw.edge (the edge network it joins, "" when
 * its port is published instead); volumes carry claw.managed, claw.node, claw.tenant, claw.role,
 * claw.uid (and claw.disk=1 when bound to the tenant's disk, disk.h).
 */
#ifndef NA_SPEC_H
#define NA_SPEC_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "desired.h"

#define NA_GATEWAY_PORT 8080
#define NA_RUNTIME_PORT 8081
#define NA_GATEWAY_PROXY_PORT 3128 /* its egress proxy (gateway/proxy.c) */

struct na_spec_paths {
	const char *config_file; /* host file bound to /etc/claw/ROLE.json */
	const char *secrets_dir; /* host tmpfs dir bound to /run/claw/secrets */
	const char *publish_ip;  /* host address the gateway port binds to,
				  * NULL: not published (the edge reaches it) */
	const char *config_hash; /* label value */
	const char *node;        /* claw.node label: the agent owning it */
	unsigned long uid;       /* the tenant's host uid (and gid), uids.h */
	const char *seccomp;     /* SecurityOpt "seccomp=<profile JSON>" */
	const char *seccomp_hash; /* claw.seccomp label */
	const char *volume;       /* the data volume's name (na_volume_name) */
	const char *peer_volume;  /* the other slot's gateway volume, bound
				   * read only at /var/lib/claw-peer (its
				   * gateway's answers are not replayed,
				   * docs/node-agent.md), or NULL */
	const char *edge_net;     /* claw.edge label: the edge network the
				   * gateway joins, "" or NULL for none */
	int slot;                 /* 0 or 1 (claw.slot): names, network */
};

void na_container_name(const char *tenant, enum na_role r, int slot, char *out,
		       size_t outlen);
void na_network_name(const char *tenant, int slot, char *out, size_t outlen);
unsigned na_role_port(enum na_role r);

/* The body of POST /containers/create for one role of a tenant, pinned to
 * image_ref. New reference. */
json_t *na_spec_container(const struct na_tenant_spec *t, enum na_role r,
			  const char *image_ref,
			  const struct na_spec_paths *paths);
/* The data volume of a tenant role: its name ("claw-TENANT-ROLE-data", or
 * "claw-TENANT-ROLE-disk" for one bound to the tenant's disk, disk.h) and
 * the body of POST /volumes/create, labelled with the tenant's uid; with
 * bind_dir a local volume bound to that directory (claw.disk=1). */
void na_volume_name(const char *tenant, enum na_role r, bool disk, int slot,
		    char *out, size_t outlen);
json_t *na_spec_volume(const char *tenant, enum na_role r, int slot,
		       const char *node, unsigned long uid,
		       const char *bind_dir);
/* POST /networks/create bodies. */
json_t *na_spec_tenant_network(const char *tenant, int slot);
/* An IPv4 network "A.B.C.D/N" with N 8..30 and no host bits: true, with
 * its address (host order) in *net when net is not NULL; else false. */
bool na_cidr_parse(const char *cidr, uint32_t *net);
/* The shared networks; subnet (na_cidr_parse, checked by the flags) NULL:
 * the engine's pool picks. */
json_t *na_spec_egress_network(const char *name, const char *subnet);
json_t *na_spec_edge_network(const char *name, const char *subnet);

#endif
