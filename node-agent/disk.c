/*
 * disk.c - a file system of its plan's size per tenant; see disk.h.
 */
#include "disk.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tool.h"
#include "volumes.h"

#define MIB (1024L * 1024L)

static void disks_dir(const char *state_dir, char *out, size_t outlen)
{
	snprintf(out, outlen, "%s/disks", state_dir);
}

static void mount_dir(const char *state_dir, const char *tenant, char *out,
		      size_t outlen)
{
	snprintf(out, outlen, "%s/disks/%s", state_dir, tenant);
}

static void image_path(const char *state_dir, const char *tenant, char *out,
		       size_t outlen)
{
	snprintf(out, outlen, "%s/disks/%s.img", state_dir, tenant);
}

void na_disk_role_dir(const char *state_dir, const char *tenant, enum na_role r,
		      char *out, size_t outlen)
{
	snprintf(out, outlen, "%s/disks/%s/%s", state_dir, tenant,
		 na_role_name(r));
}

/* The size of the ext4 file system in img, from its superblock (0 when
 * it cannot be read). */
static long long fs_bytes(const char *img)
{
	unsigned char sb[1024];
	int fd = open(img, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return 0;
	ssize_t n = pread(fd, sb, sizeof(sb), 1024);
	close(fd);
	if (n != (ssize_t)sizeof(sb) || sb[0x38] != 0x53 || sb[0x39] != 0xEF)
		return 0; /* no ext2/3/4 magic */
#define LE32(o)                                                                \
	((uint32_t)sb[o] | (uint32_t)sb[(o) + 1] << 8 |                        \
	 (uint32_t)sb[(o) + 2] << 16 | (uint32_t)sb[(o) + 3] << 24)
	unsigned long long blocks = LE32(4);
	uint32_t log = LE32(24);
	if (LE32(0x60) & 0x80) /* INCOMPAT_64BIT */
		blocks |= (unsigned long long)LE32(0x150) << 32;
#undef LE32
	if (log > 6)
		return 0;
	return (long long)(blocks << (10 + log));
}

static bool is_mounted(const char *state_dir, const char *mnt)
{
	char parent[600];
	struct stat a, b;
	disks_dir(state_dir, parent, sizeof(parent));
	return stat(mnt, &a) == 0 && stat(parent, &b) == 0 &&
		a.st_dev != b.st_dev;
}

/* The device mounted at mnt ("/dev/loop3"), from mountinfo. */
static bool mount_source(const char *mnt, char *dev, size_t devlen)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char line[2048];
	bool found = false;
	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f)) {
		char point[1024], fstype[64], source[256];
		/* ID PARENT MAJ:MIN ROOT POINT OPTIONS... - TYPE SOURCE ... */
		const char *dash = strstr(line, " - ");
		if (!dash ||
		    sscanf(line, "%*s %*s %*s %*s %1023s", point) != 1 ||
		    sscanf(dash + 3, "%63s %255s", fstype, source) != 2)
			continue;
		if (strcmp(point, mnt) == 0) {
			snprintf(dev, devlen, "%s", source);
			found = strncmp(source, "/dev/loop", 9) == 0;
		}
	}
	fclose(f);
	return found;
}

static int allocate(const char *img, long bytes, int flags)
{
	int fd = open(img, O_WRONLY | O_CLOEXEC | O_NOFOLLOW | flags, 0600);
	if (fd < 0)
		return -1;
	int e = posix_fallocate(fd, 0, bytes);
	if (e == EOPNOTSUPP || e == EINVAL)
		e = ftruncate(fd, bytes) ? errno : 0;
	if (close(fd) && !e)
		e = errno;
	errno = e;
	return e ? -1 : 0;
}

static enum claw_rc fail(char *msg, size_t msglen, const char *what,
			 const char *detail)
{
	char d[400];
	snprintf(d, sizeof(d), "%s", detail);
	snprintf(msg, msglen, "%s: %s", what, d);
	return CLAW_ERR_IO;
}

enum claw_rc na_disk_ensure(const char *state_dir, const char *tenant,
			    long size_mb, unsigned long uid, int *fresh,
			    char *msg, size_t msglen)
{
	char dir[600], mnt[700], img[700], out[512], owner[64], dev[256];
	long want = size_mb * MIB;
	bool grow = false;
	struct stat st;

	*fresh = 0;
	msg[0] = 0;
	disks_dir(state_dir, dir, sizeof(dir));
	mount_dir(state_dir, tenant, mnt, sizeof(mnt));
	image_path(state_dir, tenant, img, sizeof(img));
	if ((mkdir(dir, 0700) && errno != EEXIST) ||
	    (mkdir(mnt, 0700) && errno != EEXIST))
		return fail(msg, msglen,
			    "unable to create the disk's directory",
			    strerror(errno));
	bool mounted = is_mounted(state_dir, mnt);
	if (lstat(img, &st)) {
		if (errno != ENOENT || mounted)
			return fail(msg, msglen, "the disk image is gone",
				    strerror(errno));
		if (allocate(img, want, O_CREAT | O_EXCL)) {
			int e = errno;
			unlink(img);
			return fail(msg, msglen,
				    "unable to allocate the tenant's disk",
				    strerror(e));
		}
		snprintf(owner, sizeof(owner),
			 "root_owner=%lu:%lu,lazy_itable_init=1", uid, uid);
		char *const mkfs[] = {"mkfs.ext4", "-q",  "-F", "-m", "0",
				      "-E",        owner, img,  NULL};
		if (na_tool_run(mkfs, out, sizeof(out)) != 0) {
			unlink(img);
			return fail(msg, msglen, "mkfs.ext4 failed", out);
		}
		*fresh = 1;
	} else if (!S_ISREG(st.st_mode)) {
		return fail(msg, msglen, "the disk image is not a file", img);
	} else if (st.st_size < want) {
		if (allocate(img, want, 0))
			return fail(msg, msglen, "unable to grow the disk",
				    strerror(errno));
		grow = true;
	} else if (st.st_size > want) {
		snprintf(msg, msglen,
			 "the plan's disk (%ld MiB) is smaller than the "
			 "tenant's (%lld MiB): kept, shrinking would lose data",
			 size_mb, (long long)(st.st_size / MIB));
	}
	if (!mounted) {
		/* Grown while it was not mounted, or while the kernel refused
		 * to resize it online: the file system follows its file
		 * first (offline, after a check). */
		if (lstat(img, &st) == 0 && fs_bytes(img) < st.st_size) {
			char *const fsck[] = {"e2fsck", "-f", "-p", img, NULL};
			char *const resize[] = {"resize2fs", img, NULL};
			int f = na_tool_run(fsck, out, sizeof(out));
			if ((f != 0 && f != 1) ||
			    na_tool_run(resize, out, sizeof(out)) != 0)
				return fail(msg, msglen,
					    "unable to grow the disk", out);
		}
		char *const mnt_argv[] = {
			"mount", "-o", "loop,nosuid,nodev,noatime",
			img,     mnt,  NULL};
		if (na_tool_run(mnt_argv, out, sizeof(out)) != 0)
			return fail(msg, msglen, "unable to mount the disk",
				    out);
	} else if (grow) {
		/* Online, while the containers use it. The kernel wants
		 * CAP_SYS_RESOURCE for that; without it the disk grows when
		 * it is next mounted. */
		char *const capacity[] = {"losetup", "-c", dev, NULL};
		char *const resize[] = {"resize2fs", dev, NULL};
		if (!mount_source(mnt, dev, sizeof(dev)))
			snprintf(out, sizeof(out),
				 "its loop device is unknown");
		else if (na_tool_run(capacity, out, sizeof(out)) == 0 &&
			 na_tool_run(resize, out, sizeof(out)) == 0)
			out[0] = 0;
		if (out[0])
			snprintf(msg, msglen,
				 "the disk grows to %ld MiB when it is next "
				 "mounted (online: %.300s)",
				 size_mb, out);
	}
	/* The tenant's (its uid may have changed since it was made). */
	if (lstat(mnt, &st) ||
	    ((st.st_uid != (uid_t)uid || st.st_gid != (gid_t)uid) &&
	     na_volume_chown_tree(mnt, uid)))
		return fail(msg, msglen,
			    "unable to give the disk to the tenant",
			    strerror(errno));
	for (int r = 0; r < NA_ROLES; r++) {
		char role[800];
		na_disk_role_dir(state_dir, tenant, (enum na_role)r, role,
				 sizeof(role));
		if ((mkdir(role, 0700) && errno != EEXIST) ||
		    lchown(role, (uid_t)uid, (gid_t)uid))
			return fail(msg, msglen,
				    "unable to prepare the disk's directories",
				    strerror(errno));
	}
	return CLAW_OK;
}

enum claw_rc na_disk_import(const char *from, const char *to, unsigned long uid,
			    char *msg, size_t msglen)
{
	char src[1024], out[512];
	snprintf(src, sizeof(src), "%s/.", from);
	char *const cp[] = {"cp", "-a", "--", src, (char *)to, NULL};
	if (na_tool_run(cp, out, sizeof(out)) != 0)
		return fail(msg, msglen,
			    "the tenant's data does not fit its plan's disk",
			    out);
	if (na_volume_chown_tree(to, uid))
		return fail(msg, msglen,
			    "unable to give the data to the tenant",
			    strerror(errno));
	return CLAW_OK;
}

void na_disk_release(const char *state_dir, const char *tenant)
{
	char mnt[700];
	mount_dir(state_dir, tenant, mnt, sizeof(mnt));
	if (!is_mounted(state_dir, mnt))
		return;
	/* The loop device goes with the last user (mount set autoclear). */
	if (umount2(mnt, 0) && errno == EBUSY)
		umount2(mnt, MNT_DETACH);
}

void na_disk_remove(const char *state_dir, const char *tenant)
{
	char path[700];
	na_disk_release(state_dir, tenant);
	for (int r = 0; r < NA_ROLES; r++) {
		na_disk_role_dir(state_dir, tenant, (enum na_role)r, path,
				 sizeof(path));
		rmdir(path); /* empty: the file system is unmounted */
	}
	mount_dir(state_dir, tenant, path, sizeof(path));
	rmdir(path);
	image_path(state_dir, tenant, path, sizeof(path));
	unlink(path);
}

long na_disk_size_mb(const char *state_dir, const char *tenant)
{
	char img[700];
	struct stat st;
	image_path(state_dir, tenant, img, sizeof(img));
	return lstat(img, &st) == 0 && S_ISREG(st.st_mode)
		? (long)(st.st_size / MIB)
		: 0;
}
