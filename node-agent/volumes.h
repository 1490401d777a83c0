/*
 * volumes.h - a tenant role's data volume (/var/lib/claw in its
 * container): created by the agent with its labels (claw.uid among them,
 * the durable record of the tenant's uid, uids.h) before the container that
 * mounts it, and owned by the tenant's uid. Docker makes a new local
 * volume's directory root's; the agent gives it to the tenant (and a
 * volume of an earlier agent version, or of another uid, is handed over
 * whole: every file in it, symlinks not followed).
 *
 * The volume's directory (its Mountpoint) must be visible to the agent at
 * the path the engine gives: the agent runs on the node, as root.
 */
#ifndef NA_VOLUMES_H
#define NA_VOLUMES_H

#include <jansson.h>

#include "docker.h"

/* Create the volume of body (POST /volumes/create; an existing one is
 * kept as it is) and make it the tenant's: owned by uid:uid (a volume
 * bound to the tenant's disk, with DriverOpts, is left alone: the disk is
 * the tenant's, disk.h). */
enum claw_rc na_volume_ensure(const struct na_docker *d, const json_t *body,
			      unsigned long uid, struct na_docker_err *err);

/* Give the tree at path to uid:uid (no symlink followed, no other file
 * system entered). -1 with errno when it fails. */
int na_volume_chown_tree(const char *path, unsigned long uid);

#endif
