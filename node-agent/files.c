/*
 * files.c - tenant config and secret files on the host; see files.h.
 */
#include "files.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "claw/crypto.h"
#include "claw/json.h"
#include "rpc.h"

#define NA_TMPFS_MAGIC 0x01021994

static enum claw_rc mkdirs(const char *path, mode_t mode)
{
	char tmp[1024];
	snprintf(tmp, sizeof(tmp), "%s", path);
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(tmp, 0755) && errno != EEXIST)
			return CLAW_ERR_IO;
		*p = '/';
	}
	if (mkdir(tmp, mode) && errno != EEXIST)
		return CLAW_ERR_IO;
	return CLAW_OK;
}

static enum claw_rc write_all(const char *path, int flags, mode_t mode,
			      const char *data, size_t len)
{
	int fd = open(path, flags | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd < 0)
		return CLAW_ERR_IO;
	while (len) {
		ssize_t w = write(fd, data, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			close(fd);
			return CLAW_ERR_IO;
		}
		data += w;
		len -= (size_t)w;
	}
	return close(fd) ? CLAW_ERR_IO : CLAW_OK;
}

static enum claw_rc load_key(struct na_files *f, char *msg, size_t msglen)
{
	char path[600];
	int fd;
	snprintf(path, sizeof(path), "%s/hash.key", f->state_dir);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		ssize_t r = read(fd, f->hash_key, sizeof(f->hash_key));
		close(fd);
		if (r == (ssize_t)sizeof(f->hash_key))
			return CLAW_OK;
	}
	randombytes_buf(f->hash_key, sizeof(f->hash_key));
	if (write_all(path, O_CREAT | O_TRUNC, 0600, (const char *)f->hash_key,
		      sizeof(f->hash_key))) {
		snprintf(msg, msglen, "unable to write '%s': %s", path,
			 strerror(errno));
		return CLAW_ERR_IO;
	}
	return CLAW_OK;
}

enum claw_rc na_files_init(struct na_files *f, const char *state_dir,
			   const char *secrets_dir, char *msg, size_t msglen)
{
	struct statfs sf;
	memset(f, 0, sizeof(*f));
	if (strlen(state_dir) >= 400 || strlen(secrets_dir) >= 400) {
		snprintf(msg, msglen,
			 "state or secrets directory path too long");
		return CLAW_ERR_INVALID;
	}
	snprintf(f->state_dir, sizeof(f->state_dir), "%s", state_dir);
	snprintf(f->secrets_dir, sizeof(f->secrets_dir), "%s", secrets_dir);
	if (mkdirs(state_dir, 0700) || mkdirs(secrets_dir, 0711)) {
		snprintf(msg, msglen, "unable to create '%s' or '%s': %s",
			 state_dir, secrets_dir, strerror(errno));
		return CLAW_ERR_IO;
	}
	if (statfs(secrets_dir, &sf)) {
		snprintf(msg, msglen, "unable to stat '%s': %s", secrets_dir,
			 strerror(errno));
		return CLAW_ERR_IO;
	}
	if ((unsigned long)sf.f_type != NA_TMPFS_MAGIC &&
	    mount("tmpfs", secrets_dir, "tmpfs",
		  MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=0711,size=64m")) {
		snprintf(msg, msglen,
			 "'%s' is not a tmpfs and mounting one failed (%s): "
			 "secrets must never reach a disk",
			 secrets_dir, strerror(errno));
		return CLAW_ERR_IO;
	}
	return load_key(f, msg, msglen);
}

void na_files_config_path(const struct na_files *f, const char *tenant,
			  enum na_role r, char *out, size_t outlen)
{
	snprintf(out, outlen, "%s/tenants/%s/%s.json", f->state_dir, tenant,
		 na_role_name(r));
}

void na_files_secrets_path(const struct na_files *f, const char *tenant,
			   enum na_role r, char *out, size_t outlen)
{
	snprintf(out, outlen, "%s/%s/%s", f->secrets_dir, tenant,
		 na_role_name(r));
}

void na_files_hash(const struct na_files *f, const struct na_role_spec *rs,
		   char out[65])
{
	crypto_generichash_state st;
	unsigned char h[32];
	char *cfg = rs->config
		? json_dumps(rs->config, JSON_SORT_KEYS | JSON_COMPACT)
		: NULL;
	char *sec = rs->secrets
		? json_dumps(rs->secrets, JSON_SORT_KEYS | JSON_COMPACT)
		: NULL;
	crypto_generichash_init(&st, f->hash_key, sizeof(f->hash_key),
				sizeof(h));
	crypto_generichash_update(&st, (const unsigned char *)(cfg ? cfg : ""),
				  cfg ? strlen(cfg) + 1 : 1);
	crypto_generichash_update(&st, (const unsigned char *)(sec ? sec : ""),
				  sec ? strlen(sec) : 0);
	crypto_generichash_final(&st, h, sizeof(h));
	claw_hex_encode(h, sizeof(h), out);
	free(cfg);
	if (sec) {
		sodium_memzero(sec, strlen(sec));
		free(sec);
	}
}

static void remove_stale(const char *dir, const json_t *secrets,
			 const char *keep)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char path[1200];
	if (!d)
		return;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.' ||
		    (secrets && json_object_get(secrets, e->d_name)) ||
		    (keep && !strcmp(e->d_name, keep)))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		unlink(path);
	}
	closedir(d);
}

/* dir and its parents made (mode); with own, dir is the tenant's (u:g)
 * with exactly that mode. On failure msg says which. */
static enum claw_rc make_dir(const char *dir, mode_t mode, bool own, uid_t u,
			     gid_t g, char *msg, size_t msglen)
{
	if (mkdirs(dir, mode) ||
	    (own && (chown(dir, u, g) || chmod(dir, mode)))) {
		snprintf(msg, msglen, "unable to create '%s': %s", dir,
			 strerror(errno));
		return CLAW_ERR_IO;
	}
	return CLAW_OK;
}

enum claw_rc na_files_write(const struct na_files *f, const char *tenant,
			    enum na_role r, const struct na_role_spec *rs,
			    unsigned long uid, char *msg, size_t msglen)
{
	const uid_t u = (uid_t)uid;
	const gid_t g = (gid_t)uid;
	char path[1024], dir[1024], file[1200], tmp[1300];
	const char *name;
	json_t *v;
	char *cfg;
	enum claw_rc rc;

	snprintf(dir, sizeof(dir), "%s/tenants/%s", f->state_dir, tenant);
	if ((rc = make_dir(dir, 0755, false, u, g, msg, msglen)))
		return rc;
	na_files_config_path(f, tenant, r, path, sizeof(path));
	cfg = rs->config
		? json_dumps(rs->config, JSON_INDENT(2) | JSON_SORT_KEYS)
		: strdup("{}");
	if (!cfg)
		return CLAW_ERR_NOMEM;
	/* In place (not renamed): a bound file keeps its inode. Readable by
	 * the tenant's uid alone. */
	rc = write_all(path, O_CREAT | O_TRUNC, 0400, cfg, strlen(cfg));
	free(cfg);
	if (rc == CLAW_OK && (chown(path, u, g) || chmod(path, 0400)))
		rc = CLAW_ERR_IO;
	if (rc) {
		snprintf(msg, msglen, "unable to write '%s': %s", path,
			 strerror(errno));
		return rc;
	}

	snprintf(dir, sizeof(dir), "%s/%s", f->secrets_dir, tenant);
	if ((rc = make_dir(dir, 0711, false, u, g, msg, msglen)))
		return rc;
	na_files_secrets_path(f, tenant, r, dir, sizeof(dir));
	if ((rc = make_dir(dir, 0500, true, u, g, msg, msglen)))
		return rc;
	/* The runtime's admin token is generated here when the tenant set
	 * none (rpc.h), and kept. */
	remove_stale(dir, rs->secrets, r == NA_RUNTIME ? NA_RPC_TOKEN : NULL);
	json_object_foreach((json_t *)rs->secrets, name, v) {
		snprintf(file, sizeof(file), "%s/%s", dir, name);
		snprintf(tmp, sizeof(tmp), "%s/.%s.new", dir, name);
		unlink(tmp);
		rc = write_all(tmp, O_CREAT | O_EXCL, 0400,
			       json_string_value(v), json_string_length(v));
		if (rc == CLAW_OK && (chown(tmp, u, g) || rename(tmp, file)))
			rc = CLAW_ERR_IO;
		if (rc) {
			snprintf(msg, msglen,
				 "unable to write secret '%s' of tenant '%s': "
				 "%s",
				 name, tenant, strerror(errno));
			unlink(tmp);
			return rc;
		}
	}
	if (r == NA_RUNTIME && !json_object_get(rs->secrets, NA_RPC_TOKEN) &&
	    na_rpc_token_ensure(dir, u)) {
		snprintf(msg, msglen,
			 "unable to write the admin token of tenant '%s': %s",
			 tenant, strerror(errno));
		return CLAW_ERR_IO;
	}
	return CLAW_OK;
}

static void applied_path(const struct na_files *f, const char *tenant,
			 enum na_role r, char *out, size_t outlen)
{
	snprintf(out, outlen, "%s/tenants/%s/%s.applied", f->state_dir, tenant,
		 na_role_name(r));
}

void na_files_applied_save(const struct na_files *f, const char *tenant,
			   enum na_role r, const char *id, const char *hash)
{
	char path[1100], tmp[1120], line[160];
	applied_path(f, tenant, r, path, sizeof(path));
	snprintf(tmp, sizeof(tmp), "%s.new", path);
	int n = snprintf(line, sizeof(line), "%s %s\n", id, hash);
	if (write_all(tmp, O_CREAT | O_TRUNC, 0600, line, (size_t)n) ||
	    rename(tmp, path))
		unlink(tmp); /* a later restart signals once more: harmless */
}

bool na_files_applied_load(const struct na_files *f, const char *tenant,
			   enum na_role r, const char *id, char hash[65])
{
	char path[1100], line[160], rid[80], rhash[80];
	applied_path(f, tenant, r, path, sizeof(path));
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	ssize_t n = read(fd, line, sizeof(line) - 1);
	close(fd);
	if (n <= 0)
		return false;
	line[n] = 0;
	if (sscanf(line, "%79s %79s", rid, rhash) != 2 || strcmp(rid, id) ||
	    strlen(rhash) != 64)
		return false;
	memcpy(hash, rhash, 65);
	return true;
}

static void remove_tree(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *e;
	char sub[1200];
	struct stat st;
	if (d) {
		while ((e = readdir(d))) {
			if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
				continue;
			snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name);
			if (lstat(sub, &st) == 0 && S_ISDIR(st.st_mode))
				remove_tree(sub);
			else
				unlink(sub);
		}
		closedir(d);
	}
	rmdir(path);
}

void na_files_remove_tenant(const struct na_files *f, const char *tenant)
{
	char path[1024];
	snprintf(path, sizeof(path), "%s/tenants/%s", f->state_dir, tenant);
	remove_tree(path);
	snprintf(path, sizeof(path), "%s/%s", f->secrets_dir, tenant);
	remove_tree(path);
}
