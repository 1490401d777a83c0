/*
 * test_na_disk.c - a tenant's disk (plan.disk_mb): a file system of that
 * size, mounted, the tenant's (root and role directories owned by its
 * uid), that refuses writes past its size (ENOSPC: the host is not
 * filled), grows in place while mounted, is never shrunk, takes the data
 * of a plain volume, and is unmounted (image kept) and mounted again with
 * its data. Needs root and loop devices (skipped otherwise); the plan's
 * disk_mb is checked by the desired-state parser.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "disk.h"

#define UID 2000000042UL

static char state[64];

static int setup(void **s)
{
	(void)s;
	snprintf(state, sizeof(state), "/tmp/na-disk-XXXXXX");
	return mkdtemp(state) ? 0 : -1;
}

static int teardown(void **s)
{
	char cmd[160];
	(void)s;
	na_disk_release(state, "acme");
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", state);
	return system(cmd) == 0 ? 0 : -1;
}

/* Write n MiB to path: 0, or the errno that stopped it. */
static int fill(const char *path, int n)
{
	static char mib[1 << 20];
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600), e = 0;
	if (fd < 0)
		return errno;
	for (int i = 0; i < n && !e; i++)
		if (write(fd, mib, sizeof(mib)) != (ssize_t)sizeof(mib))
			e = errno ? errno : EIO;
	if (!e && fsync(fd))
		e = errno;
	close(fd);
	return e;
}

static long fs_mb(const char *path)
{
	struct statvfs sv;
	assert_int_equal(statvfs(path, &sv), 0);
	return (long)(sv.f_blocks * sv.f_frsize >> 20);
}

static void test_disk(void **s)
{
	(void)s;
	char msg[512], mnt[128], dir[160], file[200], from[128];
	struct stat st, parent;
	int fresh;
	if (geteuid() != 0 || access("/dev/loop-control", F_OK))
		skip();
	enum claw_rc rc = na_disk_ensure(state, "acme", 32, UID, &fresh, msg,
					 sizeof(msg));
	if (rc && strstr(msg, "mount"))
		skip(); /* no loop mounts here (a container without them) */
	assert_int_equal(rc, CLAW_OK);
	assert_int_equal(fresh, 1);
	assert_int_equal(na_disk_size_mb(state, "acme"), 32);
	snprintf(mnt, sizeof(mnt), "%s/disks/acme", state);
	assert_int_equal(stat(mnt, &st), 0);
	snprintf(dir, sizeof(dir), "%s/disks", state);
	assert_int_equal(stat(dir, &parent), 0);
	assert_int_not_equal(st.st_dev, parent.st_dev); /* mounted */
	assert_int_equal(st.st_uid, UID);
	na_disk_role_dir(state, "acme", NA_RUNTIME, dir, sizeof(dir));
	assert_int_equal(stat(dir, &st), 0);
	assert_int_equal(st.st_uid, UID);
	assert_int_equal(st.st_mode & 07777, 0700);
	/* Full at its size: the rest of the host is untouched. */
	snprintf(file, sizeof(file), "%s/big", dir);
	assert_int_equal(fill(file, 64), ENOSPC);
	unlink(file);
	/* A bigger plan: grown in place, or (without CAP_SYS_RESOURCE, as
	 * in some containers) at the next mount. */
	assert_int_equal(na_disk_ensure(state, "acme", 64, UID, &fresh, msg,
					sizeof(msg)),
			 CLAW_OK);
	assert_int_equal(fresh, 0);
	if (msg[0]) {
		assert_non_null(strstr(msg, "when it is next mounted"));
		na_disk_release(state, "acme");
		assert_int_equal(na_disk_ensure(state, "acme", 64, UID, &fresh,
						msg, sizeof(msg)),
				 CLAW_OK);
		assert_string_equal(msg, "");
	}
	assert_true(fs_mb(dir) > 48);
	assert_int_equal(fill(file, 40), 0);
	/* A smaller one: kept, with a note. */
	assert_int_equal(na_disk_ensure(state, "acme", 16, UID, &fresh, msg,
					sizeof(msg)),
			 CLAW_OK);
	assert_non_null(strstr(msg, "shrinking"));
	assert_int_equal(na_disk_size_mb(state, "acme"), 64);
	/* A plain volume's data comes over, the tenant's. */
	snprintf(from, sizeof(from), "%s/oldvol", state);
	assert_int_equal(mkdir(from, 0755), 0);
	snprintf(file, sizeof(file), "%s/journal", from);
	assert_int_equal(fill(file, 1), 0);
	na_disk_role_dir(state, "acme", NA_GATEWAY, dir, sizeof(dir));
	assert_int_equal(na_disk_import(from, dir, UID, msg, sizeof(msg)),
			 CLAW_OK);
	snprintf(file, sizeof(file), "%s/journal", dir);
	assert_int_equal(stat(file, &st), 0);
	assert_int_equal(st.st_uid, UID);
	/* Released: unmounted, the image stays; mounted again: the data. */
	na_disk_release(state, "acme");
	assert_int_not_equal(stat(file, &st), 0);
	assert_int_equal(na_disk_ensure(state, "acme", 64, UID, &fresh, msg,
					sizeof(msg)),
			 CLAW_OK);
	assert_int_equal(fresh, 0);
	assert_int_equal(stat(file, &st), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_disk),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
