/*
 * test_na_uids.c - a host uid per tenant: distinct for every tenant of the
 * range, kept from the labels (a volume's before a container's), never
 * one another tenant holds (on this node or any other on the engine), 0
 * when the range is full; and the hand-over of a data volume to its
 * tenant's uid, which never follows a symlink out of the volume.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "uids.h"
#include "volumes.h"

#define BASE 2000000000L

static void test_distinct(void **state)
{
	(void)state;
	struct na_uids u;
	char name[32];
	unsigned long got[200];
	na_uids_init(&u, BASE, 1000);
	for (int i = 0; i < 200; i++) {
		snprintf(name, sizeof(name), "t%d", i);
		got[i] = na_uids_for(&u, name);
		assert_true(got[i] >= BASE && got[i] < BASE + 1000);
		for (int j = 0; j < i; j++)
			assert_true(got[i] != got[j]);
		/* Asked again: the same. */
		assert_int_equal(na_uids_for(&u, name), got[i]);
	}
	na_uids_release(&u);
}

static void test_labels(void **state)
{
	(void)state;
	struct na_uids u;
	na_uids_init(&u, BASE, 1000);
	/* A restarted agent: the volume's label, then the container's. */
	na_uids_note(&u, "acme", "2000000500", true);
	na_uids_note(&u, "acme", "2000000501", true);
	assert_int_equal(na_uids_for(&u, "acme"), 2000000500);
	/* Another node's tenant holds 2000000007: never given to ours. */
	na_uids_note(&u, "theirs", "2000000007", false);
	na_uids_note(&u, "ours", "2000000007", true);
	assert_int_not_equal(na_uids_for(&u, "ours"), 2000000007);
	/* Nor is acme's, whatever a label says. */
	na_uids_note(&u, "intruder", "2000000500", true);
	assert_int_not_equal(na_uids_for(&u, "intruder"), 2000000500);
	/* The same tenant on another node (moved here): its uid. */
	na_uids_note(&u, "mover", "2000000900", false);
	na_uids_note(&u, "mover", "2000000900", true);
	assert_int_equal(na_uids_for(&u, "mover"), 2000000900);
	/* Out of the range, or not a number: ignored. */
	assert_int_equal(na_uids_parse(&u, "65532"), 0);
	assert_int_equal(na_uids_parse(&u, "2000001000"), 0);
	assert_int_equal(na_uids_parse(&u, "2000000001x"), 0);
	assert_int_equal(na_uids_parse(&u, "-1"), 0);
	assert_int_equal(na_uids_parse(&u, NULL), 0);
	/* A re-read keeps this node's own. */
	na_uids_reset(&u);
	assert_int_equal(na_uids_for(&u, "acme"), 2000000500);
	na_uids_note(&u, "late", "2000000500", true);
	assert_int_not_equal(na_uids_for(&u, "late"), 2000000500);
	na_uids_release(&u);
}

static void test_full(void **state)
{
	(void)state;
	struct na_uids u;
	na_uids_init(&u, BASE, 2);
	assert_int_not_equal(na_uids_for(&u, "a"), 0);
	assert_int_not_equal(na_uids_for(&u, "b"), 0);
	assert_int_equal(na_uids_for(&u, "c"), 0);
	na_uids_release(&u);
}

static void test_chown_tree(void **state)
{
	(void)state;
	char dir[64], path[128], outside[128];
	struct stat st;
	FILE *f;
	if (geteuid() != 0)
		skip();
	snprintf(dir, sizeof(dir), "/tmp/na-vol-XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(outside, sizeof(outside), "%s-outside", dir);
	f = fopen(outside, "w");
	assert_non_null(f);
	fclose(f);
	snprintf(path, sizeof(path), "%s/sub", dir);
	assert_int_equal(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/sub/file", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fclose(f);
	/* A symlink a tenant left pointing out of its volume. */
	snprintf(path, sizeof(path), "%s/sub/escape", dir);
	assert_int_equal(symlink(outside, path), 0);

	assert_int_equal(na_volume_chown_tree(dir, 2000000042), 0);
	assert_int_equal(lstat(dir, &st), 0);
	assert_int_equal(st.st_uid, 2000000042);
	assert_int_equal(st.st_gid, 2000000042);
	snprintf(path, sizeof(path), "%s/sub/file", dir);
	assert_int_equal(lstat(path, &st), 0);
	assert_int_equal(st.st_uid, 2000000042);
	snprintf(path, sizeof(path), "%s/sub/escape", dir);
	assert_int_equal(lstat(path, &st), 0);
	assert_int_equal(st.st_uid, 2000000042); /* the link itself */
	assert_int_equal(lstat(outside, &st), 0);
	assert_int_equal(st.st_uid, 0); /* not what it points to */
	/* A symlink as the volume's directory itself is refused. */
	snprintf(path, sizeof(path), "%s/sub/escape", dir);
	assert_int_not_equal(na_volume_chown_tree(path, 2000000043), 0);

	char cmd[256];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s' '%s'", dir, outside);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_distinct),
		cmocka_unit_test(test_labels),
		cmocka_unit_test(test_full),
		cmocka_unit_test(test_chown_tree),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
