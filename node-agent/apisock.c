/*
 * apisock.c - the local API's unix socket, made owner-only and without a
 * race; see apisock.h.
 */
#include "apisock.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define FAIL(rc_, ...)                                                         \
	do {                                                                   \
		snprintf(msg, msglen, __VA_ARGS__);                            \
		rc = (rc_);                                                    \
		goto out;                                                      \
	} while (0)

static int mkdirs(const char *path)
{
	char tmp[sizeof(((struct sockaddr_un *)0)->sun_path)];
	snprintf(tmp, sizeof(tmp), "%s", path);
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(tmp, 0755) && errno != EEXIST)
			return -1;
		*p = '/';
	}
	return mkdir(tmp, 0755) && errno != EEXIST ? -1 : 0;
}

/* The directory must be ours (or root's) and writable by nobody else:
 * otherwise someone else could swap what is at the path. */
static bool dir_safe(const char *dir)
{
	struct stat st;
	return lstat(dir, &st) == 0 && S_ISDIR(st.st_mode) &&
		(st.st_uid == geteuid() || st.st_uid == 0) &&
		!(st.st_mode & (S_IWGRP | S_IWOTH));
}

enum claw_rc na_apisock_open(struct na_apisock *s, const char *path, long group,
			     char *msg, size_t msglen)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	char dir[sizeof(sa.sun_path)], tmpdir[sizeof(sa.sun_path)];
	char lock[sizeof(sa.sun_path) + 8];
	const char *slash = strrchr(path, '/');
	struct stat st;
	enum claw_rc rc = CLAW_OK;
	bool made_tmp = false, bound = false;

	memset(s, 0, sizeof(*s));
	s->fd = s->lock_fd = -1;
	msg[0] = 0;
	/* The private directory's name is 15 bytes longer than dir. */
	if (path[0] != '/' || !slash[1] || strlen(path) + 16 >= sizeof(dir))
		FAIL(CLAW_ERR_INVALID,
		     "the API socket must be an absolute path of at most %zu "
		     "bytes",
		     sizeof(dir) - 17);
	snprintf(s->path, sizeof(s->path), "%s", path);
	if (slash == path)
		snprintf(dir, sizeof(dir), "/");
	else
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	if (mkdirs(dir))
		FAIL(CLAW_ERR_IO, "unable to create '%s': %s", dir,
		     strerror(errno));
	if (!dir_safe(dir))
		FAIL(CLAW_ERR_INVALID,
		     "'%s' must be a directory of the agent's user (or root) "
		     "that nobody else may write to",
		     dir);

	/* One agent per path: the lock is held while it runs. */
	snprintf(lock, sizeof(lock), "%s.lock", path);
	s->lock_fd = open(
		lock, O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC,
		0600);
	if (s->lock_fd < 0)
		FAIL(CLAW_ERR_IO, "unable to open '%s': %s", lock,
		     strerror(errno));
	if (fstat(s->lock_fd, &st) || !S_ISREG(st.st_mode))
		FAIL(CLAW_ERR_INVALID, "'%s' is not a regular file", lock);
	if (flock(s->lock_fd, LOCK_EX | LOCK_NB)) {
		if (errno == EWOULDBLOCK)
			FAIL(CLAW_ERR_INVALID, "another node agent serves '%s'",
			     path);
		FAIL(CLAW_ERR_IO, "unable to lock '%s': %s", lock,
		     strerror(errno));
	}
	if (lstat(path, &st) == 0 && !S_ISSOCK(st.st_mode))
		FAIL(CLAW_ERR_INVALID,
		     "'%s' exists and is not a socket; remove it or choose "
		     "another path",
		     path);

	/* Bound where nobody else can reach it, given its mode there, then
	 * renamed into place (over a stale socket, atomically). */
	snprintf(tmpdir, sizeof(tmpdir), "%s/.na-api-XXXXXX", dir);
	if (!mkdtemp(tmpdir))
		FAIL(CLAW_ERR_IO, "unable to create a directory in '%s': %s",
		     dir, strerror(errno));
	made_tmp = true;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/s", tmpdir);
	s->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->fd < 0)
		FAIL(CLAW_ERR_IO, "unable to make a socket: %s",
		     strerror(errno));
	if (bind(s->fd, (struct sockaddr *)&sa, sizeof(sa)))
		FAIL(CLAW_ERR_IO, "unable to bind a socket in '%s': %s", dir,
		     strerror(errno));
	bound = true;
	if (group >= 0 && chown(sa.sun_path, (uid_t)-1, (gid_t)group))
		FAIL(CLAW_ERR_IO, "unable to give the API socket group %ld: %s",
		     group, strerror(errno));
	if (chmod(sa.sun_path, group >= 0 ? 0660 : 0600) || listen(s->fd, 128))
		FAIL(CLAW_ERR_IO, "unable to prepare the API socket: %s",
		     strerror(errno));
	if (rename(sa.sun_path, path))
		FAIL(CLAW_ERR_IO, "unable to move the API socket to '%s': %s",
		     path, strerror(errno));
	bound = false;
	if (lstat(path, &st) == 0) {
		s->dev = st.st_dev;
		s->ino = st.st_ino;
	}
out:
	if (bound)
		unlink(sa.sun_path);
	if (made_tmp)
		rmdir(tmpdir);
	if (rc) {
		if (s->fd >= 0)
			close(s->fd);
		if (s->lock_fd >= 0)
			close(s->lock_fd);
		s->fd = s->lock_fd = -1;
	}
	return rc;
}

void na_apisock_close(struct na_apisock *s)
{
	struct stat st;
	if (s->lock_fd < 0)
		return;
	if (lstat(s->path, &st) == 0 && st.st_dev == s->dev &&
	    st.st_ino == s->ino)
		unlink(s->path);
	close(s->lock_fd);
	s->lock_fd = -1;
}

enum claw_rc na_apisock_group(const char *name, gid_t *gid)
{
	char buf[4096], *end;
	struct group gr, *res = NULL;
	if (!name || !*name)
		return CLAW_ERR_INVALID;
	if (strspn(name, "0123456789") == strlen(name)) {
		errno = 0;
		unsigned long v = strtoul(name, &end, 10);
		if (errno || *end || v >= (gid_t)-1)
			return CLAW_ERR_INVALID;
		*gid = (gid_t)v;
		return CLAW_OK;
	}
	if (getgrnam_r(name, &gr, buf, sizeof(buf), &res) || !res)
		return CLAW_ERR_NOT_FOUND;
	*gid = res->gr_gid;
	return CLAW_OK;
}
