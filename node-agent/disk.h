/*
 * disk.h - a size limit on a tenant's data (the plan's disk_mb).
 *
 * Docker's local volumes live on the engine's own file system and cannot
 * be limited on overlay/ext4 (quotas would need xfs project quotas on the
 * data root, which a node rarely has). So a tenant whose plan names a disk
 * gets a file system of its own: STATE_DIR/disks/TENANT.img, a file of
 * exactly that size (allocated up front, so the tenant's data can never
 * take more of the host than its plan, and a full disk is the tenant's
 * alone), formatted ext4 with its root owned by the tenant's uid, and
 * loop-mounted (nosuid, nodev) at STATE_DIR/disks/TENANT, with one
 * directory per role (gateway, runtime). Each role's data volume is then a
 * Docker volume bound to its directory, so the volume's labels still record
 * the tenant's uid (uids.h).
 *
 * A larger plan grows the file system while it is mounted (the containers
 * keep running) where the kernel lets the agent (CAP_SYS_RESOURCE), else
 * when it is next mounted (offline, after e2fsck); a smaller one is
 * refused (shrinking would lose data) and the disk keeps its size. When the tenant leaves the node the disk is
 * unmounted and its image kept, as volumes are. Data a tenant had in its
 * plain volumes (before its plan had a disk) is copied onto a new disk
 * once (the reconciler stops its containers first).
 *
 * Uses the node's mkfs.ext4, e2fsck, resize2fs, mount and losetup (the
 * Debian packages e2fsprogs, mount), run as the agent (root). Called from
 * the op workers; one tenant's disk is handled by one operation at a time.
 */
#ifndef NA_DISK_H
#define NA_DISK_H

#include <stddef.h>

#include "claw/err.h"
#include "desired.h"

#define NA_DISK_MIN_MB 16
#define NA_DISK_MAX_MB (16L << 20) /* 16 TiB */

/* STATE_DIR/disks/TENANT/ROLE: what the role's volume binds. */
void na_disk_role_dir(const char *state_dir, const char *tenant, enum na_role r,
		      char *out, size_t outlen);

/* Make the tenant's disk of size_mb, mounted, owned by uid, with its role
 * directories: create and format it, mount it, grow it, as needed.
 * *fresh says whether it was just made (empty). msg says what failed (or,
 * with CLAW_OK, a note for the log: a refused shrink, a growth put off to
 * the next mount), "" otherwise. */
enum claw_rc na_disk_ensure(const char *state_dir, const char *tenant,
			    long size_mb, unsigned long uid, int *fresh,
			    char *msg, size_t msglen);

/* Copy the content of directory from (a plain volume's) into the role's
 * directory on the disk, owned by uid. */
enum claw_rc na_disk_import(const char *from, const char *to, unsigned long uid,
			    char *msg, size_t msglen);

/* Unmount the tenant's disk when it is mounted (its image stays). */
void na_disk_release(const char *state_dir, const char *tenant);

/* A purged tenant (purge.h): unmount its disk, remove its image and its
 * mount directory (all of it gone already is fine). */
void na_disk_remove(const char *state_dir, const char *tenant);

/* The size in MiB of the tenant's disk image, 0 when it has none. */
long na_disk_size_mb(const char *state_dir, const char *tenant);

#endif
