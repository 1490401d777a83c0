/*
 * files.h - the files a tenant's containers read: its config documents
 * (STATE_DIR/tenants/TENANT/ROLE.json, mode 0400, bound read-only to
 * /etc/claw/ROLE.json) and its secret values (SECRETS_DIR/TENANT/ROLE/NAME
 * on a tmpfs, mode 0400, the directory 0500 and bound read-only to
 * /run/claw/secrets), all owned by the tenant's own host uid (uids.h), so
 * no other tenant's uid can read them. Secret values are written nowhere
 * else.
 */
#ifndef NA_FILES_H
#define NA_FILES_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include "claw/err.h"
#include "desired.h"

struct na_files {
	char state_dir[512];
	char secrets_dir[512];
	unsigned char hash_key[32]; /* keys the config hashes put in labels */
};

/* Prepare both directories: the secrets directory must be a tmpfs; when
 * it is not, one is mounted there (needs root). msg says what failed. */
enum claw_rc na_files_init(struct na_files *f, const char *state_dir,
			   const char *secrets_dir, char *msg, size_t msglen);

/* Paths of a tenant role's config file and secrets directory. */
void na_files_config_path(const struct na_files *f, const char *tenant,
			  enum na_role r, char *out, size_t outlen);
void na_files_secrets_path(const struct na_files *f, const char *tenant,
			   enum na_role r, char *out, size_t outlen);

/* A keyed hash (64 hex) of a role's config and secrets: it changes when
 * either does, and says nothing about the values. */
void na_files_hash(const struct na_files *f, const struct na_role_spec *rs,
		   char out[65]);

/* Write a role's config file (in place, so a bound file sees it) and its
 * secret files (stale ones removed), all owned by uid (the tenant's host
 * uid, and gid of that number) and readable by it alone. */
enum claw_rc na_files_write(const struct na_files *f, const char *tenant,
			    enum na_role r, const struct na_role_spec *rs,
			    unsigned long uid, char *msg, size_t msglen);

/* The config hash a container was last given (its claw.config-hash label
 * says what it was created with; a reload since is kept here, in
 * STATE_DIR/tenants/TENANT/ROLE.applied as "ID HASH"), so a restarted
 * agent does not signal it again. Load fills hash only when the record is
 * for container id. */
void na_files_applied_save(const struct na_files *f, const char *tenant,
			   enum na_role r, const char *id, const char *hash);
bool na_files_applied_load(const struct na_files *f, const char *tenant,
			   enum na_role r, const char *id, char hash[65]);

/* Remove everything of a tenant (configs and secrets). */
void na_files_remove_tenant(const struct na_files *f, const char *tenant);

#endif
