/*
 * instances.h - Docker operations on one tenant container (struct
 * na_inst): create hardened and start, start again, signal, remove, read
 * its address, and fetch the tail of its log. Called by the reconcile
 * thread only.
 */
#ifndef NA_INSTANCES_H
#define NA_INSTANCES_H

#include "agent.h"

/* Create, connect (gateway: egress network), start, inspect. */
enum claw_rc na_inst_create(struct na_agent *a, struct na_tenant *t,
			    const struct na_tenant_spec *spec, enum na_role r,
			    struct na_docker_err *err);
/* Start an existing stopped container and read its address again. */
enum claw_rc na_inst_start(struct na_agent *a, struct na_tenant *t,
			   enum na_role r, struct na_docker_err *err);
/* Send a signal ("KILL", "HUP"). */
enum claw_rc na_inst_signal(struct na_agent *a, struct na_inst *in,
			    const char *sig, struct na_docker_err *err);
/* Remove (forced) and forget. */
enum claw_rc na_inst_remove(struct na_agent *a, struct na_inst *in,
			    struct na_docker_err *err);
/* Fill in->ip and in->host_port from an inspect. */
enum claw_rc na_inst_inspect(struct na_agent *a, const char *tenant,
			     struct na_inst *in, struct na_docker_err *err);
/* The last lines of the container's log (stdout and stderr) into out. */
enum claw_rc na_inst_log_tail(const struct na_docker *d, const char *id,
			      unsigned lines, char *out, size_t outlen);

#endif
