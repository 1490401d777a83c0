/*
 * spec.h - the Docker objects the node agent creates for a tenant, as JSON
 * bodies and names: the hardened container of one role, the tenant's
 * internal network, the shared egress network. Pure functions (no I/O), so
 * the hardening is checked by unit tests.
 *
 * Names: container "claw-TENANT-ROLE", network "claw-t-TENANT", volume
 * "claw-TENANT-ROLE-data". Labels: claw.managed=1, claw.tenant,
 * claw.deployment, claw.generation, claw.role, claw.config-hash, claw.node
 * (the agent that owns it: an agent only ever touches its own objects).
 */
#ifndef NA_SPEC_H
#define NA_SPEC_H

#include <jansson.h>
#include <stddef.h>
#include "desired.h"

#define NA_GATEWAY_PORT 8080
#define NA_RUNTIME_PORT 8081
#define NA_UID "65532:65532"

struct na_spec_paths {
	const char *config_file; /* host file bound to /etc/claw/ROLE.json */
	const char *secrets_dir; /* host tmpfs dir bound to /run/claw/secrets */
	const char *publish_ip;  /* host address the gateway port binds to */
	const char *config_hash; /* label value */
	const char *node;        /* claw.node label: the agent owning it */
};

void na_container_name(const char *tenant, enum na_role r, char *out,
		       size_t outlen);
void na_network_name(const char *tenant, char *out, size_t outlen);
unsigned na_role_port(enum na_role r);

/* The body of POST /containers/create for one role of a tenant, pinned to
 * image_ref. New reference. */
json_t *na_spec_container(const struct na_tenant_spec *t, enum na_role r,
			  const char *image_ref,
			  const struct na_spec_paths *paths);
/* POST /networks/create bodies. */
json_t *na_spec_tenant_network(const char *tenant);
json_t *na_spec_egress_network(const char *name);

#endif
