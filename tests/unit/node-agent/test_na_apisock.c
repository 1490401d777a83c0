/*
 * test_na_apisock.c - the local API's unix socket: mode 0600 (0660 with
 * its group), another user cannot connect, a member of the group can, a
 * stale socket is replaced, a live one (another agent) is refused, as is
 * anything at the path that is not a socket and a directory others may
 * write to; the socket is removed at the end only while it is still ours.
 * The "another user" cases need root (they switch user in a child); as
 * another user they are skipped.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "apisock.h"

#define NOBODY 65534

static char base[64];

static int setup(void **state)
{
	(void)state;
	snprintf(base, sizeof(base), "/tmp/na-apisock-XXXXXX");
	/* Others may pass through: only the socket's own mode keeps them
	 * out. */
	return mkdtemp(base) && chmod(base, 0755) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];
	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", base);
	return system(cmd) == 0 ? 0 : -1;
}

/* 0 when a connection to path succeeds, else the errno. */
static int try_connect(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	int rc = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) ? errno : 0;
	close(fd);
	return rc;
}

/* try_connect as uid:gid in a child process (root only). */
static int connect_as(const char *path, uid_t uid, gid_t gid)
{
	pid_t pid = fork();
	if (pid == 0) {
		if (setgroups(0, NULL) || setgid(gid) || setuid(uid))
			_exit(100);
		_exit(try_connect(path));
	}
	int st = 0;
	waitpid(pid, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void path_of(char *out, size_t len, const char *name)
{
	snprintf(out, len, "%s/%s", base, name);
}

/* base/name (in path) opened as the API socket, owner only: it works. */
static void open_ok(struct na_apisock *s, char *path, size_t len,
		    const char *name)
{
	char msg[256];
	path_of(path, len, name);
	assert_int_equal(na_apisock_open(s, path, -1, msg, sizeof(msg)),
			 CLAW_OK);
}

static void test_owner_only(void **state)
{
	(void)state;
	char path[128];
	struct na_apisock s;
	struct stat st;
	open_ok(&s, path, sizeof(path), "run/deeper/api.sock");
	assert_int_equal(lstat(path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(st.st_uid, geteuid());
	assert_int_equal(try_connect(path), 0);
	if (geteuid() == 0)
		assert_int_equal(connect_as(path, NOBODY, NOBODY), EACCES);
	/* No private directory is left behind. */
	path_of(path, sizeof(path), "run/deeper");
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "test -z \"$(ls -A '%s' | grep -v '^api')\"",
		 path);
	assert_int_equal(system(cmd), 0);
	path_of(path, sizeof(path), "run/deeper/api.sock");
	close(s.fd);
	na_apisock_close(&s);
	assert_int_not_equal(lstat(path, &st), 0);
}

static void test_group(void **state)
{
	(void)state;
	char path[128], msg[256];
	struct na_apisock s;
	struct stat st;
	gid_t g;
	if (geteuid() != 0)
		skip();
	path_of(path, sizeof(path), "grp/api.sock");
	assert_int_equal(na_apisock_group("4242", &g), CLAW_OK);
	assert_int_equal(g, 4242);
	assert_int_equal(na_apisock_group("root", &g), CLAW_OK);
	assert_int_equal(g, 0);
	assert_int_not_equal(na_apisock_group("no-such-group-here", &g),
			     CLAW_OK);
	assert_int_equal(na_apisock_open(&s, path, 4242, msg, sizeof(msg)),
			 CLAW_OK);
	assert_int_equal(lstat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0660);
	assert_int_equal(st.st_gid, 4242);
	/* A member of the group may connect, anyone else may not. */
	assert_int_equal(connect_as(path, NOBODY, 4242), 0);
	assert_int_equal(connect_as(path, NOBODY, NOBODY), EACCES);
	close(s.fd);
	na_apisock_close(&s);
}

static void test_stale_and_live(void **state)
{
	(void)state;
	char path[128], msg[256];
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct na_apisock s, s2;
	path_of(path, sizeof(path), "stale");
	mkdir(path, 0755);
	path_of(path, sizeof(path), "stale/api.sock");
	/* A socket nobody listens on any more: an agent that died. */
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd);
	assert_int_equal(try_connect(path), ECONNREFUSED);
	assert_int_equal(na_apisock_open(&s, path, -1, msg, sizeof(msg)),
			 CLAW_OK);
	assert_int_equal(try_connect(path), 0);
	/* A second agent on the same path is refused, and leaves the first
	 * one's socket alone. */
	assert_int_equal(na_apisock_open(&s2, path, -1, msg, sizeof(msg)),
			 CLAW_ERR_INVALID);
	assert_non_null(strstr(msg, "another node agent"));
	assert_int_equal(s2.fd, -1);
	assert_int_equal(try_connect(path), 0);
	close(s.fd);
	na_apisock_close(&s);
	/* Free again once the first has gone. */
	assert_int_equal(na_apisock_open(&s2, path, -1, msg, sizeof(msg)),
			 CLAW_OK);
	close(s2.fd);
	na_apisock_close(&s2);
}

static void test_refusals(void **state)
{
	(void)state;
	char path[128], target[128], msg[256];
	struct na_apisock s;
	struct stat st;
	FILE *f;

	/* Not a socket: a regular file, a symlink; both stay as they are. */
	path_of(path, sizeof(path), "file.sock");
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("keep", f);
	fclose(f);
	assert_int_equal(na_apisock_open(&s, path, -1, msg, sizeof(msg)),
			 CLAW_ERR_INVALID);
	assert_non_null(strstr(msg, "not a socket"));
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_size, 4);
	path_of(target, sizeof(target), "file.sock");
	path_of(path, sizeof(path), "link.sock");
	assert_int_equal(symlink(target, path), 0);
	assert_int_equal(na_apisock_open(&s, path, -1, msg, sizeof(msg)),
			 CLAW_ERR_INVALID);
	assert_int_equal(lstat(path, &st), 0);
	assert_true(S_ISLNK(st.st_mode));

	/* A directory others may write to: they could swap the socket. */
	path_of(path, sizeof(path), "open");
	mkdir(path, 0755);
	chmod(path, 01777);
	path_of(path, sizeof(path), "open/api.sock");
	assert_int_equal(na_apisock_open(&s, path, -1, msg, sizeof(msg)),
			 CLAW_ERR_INVALID);
	assert_non_null(strstr(msg, "nobody else may write"));
	assert_int_not_equal(lstat(path, &st), 0);
	if (geteuid() == 0) {
		/* ...or another user's directory. */
		path_of(path, sizeof(path), "theirs");
		mkdir(path, 0755);
		assert_int_equal(chown(path, NOBODY, NOBODY), 0);
		path_of(path, sizeof(path), "theirs/api.sock");
		assert_int_equal(
			na_apisock_open(&s, path, -1, msg, sizeof(msg)),
			CLAW_ERR_INVALID);
	}

	/* Relative and over-long paths. */
	assert_int_equal(na_apisock_open(&s, "api.sock", -1, msg, sizeof(msg)),
			 CLAW_ERR_INVALID);
	char longp[200];
	memset(longp, 'a', sizeof(longp) - 1);
	longp[0] = '/';
	longp[sizeof(longp) - 1] = 0;
	assert_int_equal(na_apisock_open(&s, longp, -1, msg, sizeof(msg)),
			 CLAW_ERR_INVALID);
}

static void test_close_leaves_others(void **state)
{
	(void)state;
	char path[128];
	struct na_apisock s;
	struct stat st;
	open_ok(&s, path, sizeof(path), "swap/api.sock");
	/* Someone (root) put another file there: not ours to remove. */
	assert_int_equal(unlink(path), 0);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fclose(f);
	close(s.fd);
	na_apisock_close(&s);
	assert_int_equal(lstat(path, &st), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_owner_only),
		cmocka_unit_test(test_group),
		cmocka_unit_test(test_stale_and_live),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_close_leaves_others),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
