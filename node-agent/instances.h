/*
 * instances.h - Docker operations on one tenant container, by id: create
 * (hardened body from spec.h) and join the egress network, start, inspect
 * its address, signal, remove, and fetch the tail of its log. They only
 * use the engine handle and their arguments, so the op workers (ops.h)
 * call them concurrently.
 */
#ifndef NA_INSTANCES_H
#define NA_INSTANCES_H

#include <stdbool.h>
#include "docker.h"

/* Create container `name` from body (a name left over from an earlier
 * run of ours is replaced) and connect it to the networks egress and
 * edge (each when not NULL). id receives the new container's id. */
enum claw_rc na_inst_create(const struct na_docker *d, const char *name,
			    const json_t *body, const char *egress,
			    const char *edge, char *id, size_t idlen,
			    struct na_docker_err *err);
/* Start (an already running one is fine). */
enum claw_rc na_inst_start(const struct na_docker *d, const char *id,
			   struct na_docker_err *err);
/* Its address on network `net` (ip, "" when none) and on network edge
 * (edge_ip, "" when none or edge is NULL), the host port 8080 is
 * published on (0 when none), and whether it runs. */
enum claw_rc na_inst_inspect(const struct na_docker *d, const char *id,
			     const char *net, char *ip, size_t iplen,
			     const char *edge, char *edge_ip, size_t edge_iplen,
			     unsigned *host_port, bool *running,
			     struct na_docker_err *err);
/* Stop: SIGTERM, SIGKILL after timeout_s; returns once it exited (an
 * absent or stopped one is fine). A container that started less than a
 * second ago is given the rest of that second first (its process may not
 * handle SIGTERM yet). */
enum claw_rc na_inst_stop(const struct na_docker *d, const char *id,
			  int timeout_s, struct na_docker_err *err);
/* Send a signal ("KILL", "HUP"). */
enum claw_rc na_inst_signal(const struct na_docker *d, const char *id,
			    const char *sig, struct na_docker_err *err);
/* Remove (forced, volumes kept); an absent one is fine. */
enum claw_rc na_inst_remove(const struct na_docker *d, const char *id,
			    struct na_docker_err *err);
/* The last lines of the container's log (stdout and stderr) into out. */
enum claw_rc na_inst_log_tail(const struct na_docker *d, const char *id,
			      unsigned lines, char *out, size_t outlen);

#endif
