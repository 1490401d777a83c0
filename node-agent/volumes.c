/*
 * volumes.c - the tenants' data volumes; see volumes.h.
 */
#include "volumes.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define NA_CALL_MS 30000L
#define NA_TREE_DEPTH 512

/* Every entry under the directory dfd (which this closes), by name, never
 * through a symlink, never into another file system. */
static int chown_dir(int dfd, dev_t dev, uid_t uid, int depth)
{
	DIR *d = fdopendir(dfd);
	struct dirent *e;
	struct stat st;
	int rc = 0;
	if (!d) {
		close(dfd);
		return -1;
	}
	while (rc == 0 && (errno = 0, e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW)) {
			rc = errno == ENOENT ? 0 : -1;
			continue;
		}
		if (st.st_dev != dev)
			continue;
		if ((st.st_uid != uid || st.st_gid != (gid_t)uid) &&
		    fchownat(dirfd(d), e->d_name, uid, (gid_t)uid,
			     AT_SYMLINK_NOFOLLOW) &&
		    errno != ENOENT)
			rc = -1;
		if (rc == 0 && S_ISDIR(st.st_mode)) {
			if (depth >= NA_TREE_DEPTH) {
				errno = ELOOP;
				rc = -1;
				break;
			}
			int sub = openat(dirfd(d), e->d_name,
					 O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
						 O_CLOEXEC);
			if (sub >= 0)
				rc = chown_dir(sub, dev, uid, depth + 1);
			else if (errno != ENOENT)
				rc = -1;
		}
	}
	if (rc == 0 && errno)
		rc = -1;
	int saved = errno;
	closedir(d);
	errno = saved;
	return rc;
}

int na_volume_chown_tree(const char *path, unsigned long uid)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) || fchown(fd, (uid_t)uid, (gid_t)uid)) {
		int saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	return chown_dir(fd, st.st_dev, (uid_t)uid, 0);
}

enum claw_rc na_volume_ensure(const struct na_docker *d, const json_t *body,
			      unsigned long uid, struct na_docker_err *err)
{
	json_t *out = NULL;
	struct stat st;
	const char *name = json_string_value(json_object_get(body, "Name"));
	enum claw_rc rc = na_docker_json(d, "POST", "/volumes/create", NULL,
					 body, NA_CALL_MS, &out, err);
	if (rc)
		goto out;
	/* Bound to the tenant's disk (disk.h), which is the tenant's
	 * already: Docker mounts it there only while a container uses it. */
	if (json_object_get(body, "DriverOpts"))
		goto out;
	const char *mp = json_string_value(json_object_get(out, "Mountpoint"));
	err->status = 200;
	if (!mp || mp[0] != '/') {
		snprintf(err->message, sizeof(err->message),
			 "the engine gave volume '%s' no directory", name);
		rc = CLAW_ERR_PROTO;
		goto out;
	}
	if (lstat(mp, &st) || !S_ISDIR(st.st_mode)) {
		snprintf(err->message, sizeof(err->message),
			 "the directory of volume '%s' (%.300s) is not visible "
			 "to the agent",
			 name, mp);
		rc = CLAW_ERR_IO;
		goto out;
	}
	if (st.st_uid == (uid_t)uid && st.st_gid == (gid_t)uid)
		goto out; /* the tenant's already */
	if (na_volume_chown_tree(mp, uid)) {
		snprintf(err->message, sizeof(err->message),
			 "unable to give volume '%s' to uid %lu: %s", name, uid,
			 strerror(errno));
		rc = CLAW_ERR_IO;
	}
out:
	json_decref(out);
	return rc;
}
