/*
 * test_secret_file.c - private files read whole and written atomically
 * (claw_secret_file_read/write, claw/secret.h), as the control plane's
 * master key file and audit signing key use them: the text and its length,
 * and every refusal (missing, readable by others, a FIFO that must not
 * hang the reader, a directory, a symbolic link, over the ceiling); a
 * write that makes a file with its mode, refuses to replace one unless
 * asked, replaces it whole, and leaves no temporary file behind.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include <sodium.h>

#include "claw/secret.h"

static char dir[] = "/tmp/claw-secret-file-XXXXXX";

static int setup(void **state)
{
	(void)state;
	return sodium_init() < 0 || !mkdtemp(dir) ? -1 : 0;
}

/* Each test removes what it made (remove_all), so the directory is empty
 * at the end. */
static int teardown(void **state)
{
	(void)state;
	return rmdir(dir);
}

static void path(char *out, size_t n, const char *name)
{
	snprintf(out, n, "%s/%s", dir, name);
}

static void remove_all(const char *const *names, size_t n)
{
	char p[256];

	for (size_t i = 0; i < n; i++) {
		path(p, sizeof(p), names[i]);
		assert_int_equal(remove(p), 0);
	}
}

static void put(const char *name, const char *text, unsigned mode)
{
	char p[256];
	FILE *f;

	path(p, sizeof(p), name);
	f = fopen(p, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	assert_int_equal(chmod(p, mode), 0);
}

static enum claw_rc rd(const char *name, size_t max, char **text, size_t *len,
		       char *err)
{
	char p[256];

	path(p, sizeof(p), name);
	return claw_secret_file_read(p, "test key file", max, text, len, err,
				     512);
}

static void test_read(void **state)
{
	(void)state;
	char *text = (char *)"x", err[512] = "";
	size_t len = 0;

	put("key", "line one\nline two\n", 0600);
	assert_int_equal(rd("key", 64, &text, &len, err), CLAW_OK);
	assert_string_equal(text, "line one\nline two\n");
	assert_int_equal(len, 18);
	claw_secret_free(text);
	/* exactly the ceiling is fine; one more byte is not */
	assert_int_equal(rd("key", 18, &text, NULL, err), CLAW_OK);
	claw_secret_free(text);
	assert_int_equal(rd("key", 17, &text, NULL, err), CLAW_ERR_INVALID);
	assert_null(text);
	assert_non_null(strstr(err, "test key file '"));
	assert_non_null(strstr(err, "is not a regular file of at most 17"));
	/* empty */
	put("empty", "", 0600);
	assert_int_equal(rd("empty", 64, &text, &len, err), CLAW_OK);
	assert_string_equal(text, "");
	assert_int_equal(len, 0);
	claw_secret_free(text);
	remove_all((const char *const[]){"key", "empty"}, 2);
}

static void test_refusals(void **state)
{
	(void)state;
	char *text = (char *)"x", err[512] = "", p[256], link_p[256];

	assert_int_equal(rd("absent", 64, &text, NULL, err),
			 CLAW_ERR_NOT_FOUND);
	assert_null(text);
	assert_non_null(strstr(err, "unable to open test key file '"));
	/* others may read it: refused, and the message says how to fix */
	put("open", "k\n", 0644);
	assert_int_equal(rd("open", 64, &text, NULL, err), CLAW_ERR_INVALID);
	assert_non_null(strstr(err, "can be read by others (mode 644)"));
	assert_non_null(strstr(err, "chmod 600"));
	assert_null(strstr(err, "k\n"));
	put("group", "k\n", 0640);
	assert_int_equal(rd("group", 64, &text, NULL, err), CLAW_ERR_INVALID);
	/* a FIFO with no writer: refused at once, not waited on */
	path(p, sizeof(p), "fifo");
	assert_int_equal(mkfifo(p, 0600), 0);
	assert_int_equal(rd("fifo", 64, &text, NULL, err), CLAW_ERR_INVALID);
	assert_non_null(strstr(err, "is not a regular file"));
	/* a directory */
	path(p, sizeof(p), "adir");
	assert_int_equal(mkdir(p, 0700), 0);
	assert_int_equal(rd("adir", 64, &text, NULL, err), CLAW_ERR_INVALID);
	/* a symbolic link, even to a good file */
	put("real", "k\n", 0600);
	path(p, sizeof(p), "real");
	path(link_p, sizeof(link_p), "link");
	assert_int_equal(symlink(p, link_p), 0);
	assert_int_equal(rd("link", 64, &text, NULL, err), CLAW_ERR_IO);
	assert_null(text);
	remove_all((const char *const[]){"open", "group", "fifo", "adir",
					 "real", "link"},
		   6);
}

static void test_write(void **state)
{
	(void)state;
	char p[256], tmp[300], err[512] = "", *text = NULL;
	struct stat st;

	path(p, sizeof(p), "new.key");
	assert_int_equal(claw_secret_file_write(p, "one\n", 4, 0600, false, err,
						sizeof(err)),
			 CLAW_OK);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	/* it exists: left as it was */
	assert_int_equal(claw_secret_file_write(p, "two\n", 4, 0600, false, err,
						sizeof(err)),
			 CLAW_ERR_INVALID);
	assert_int_equal(rd("new.key", 64, &text, NULL, err), CLAW_OK);
	assert_string_equal(text, "one\n");
	claw_secret_free(text);
	/* replaced whole when asked */
	assert_int_equal(claw_secret_file_write(p, "three\n", 6, 0600, true,
						err, sizeof(err)),
			 CLAW_OK);
	assert_int_equal(rd("new.key", 64, &text, NULL, err), CLAW_OK);
	assert_string_equal(text, "three\n");
	claw_secret_free(text);
	/* no temporary file is left behind */
	snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", p, (long)getpid());
	assert_int_not_equal(access(tmp, F_OK), 0);
	/* another mode for a file that is not secret */
	path(p, sizeof(p), "pub");
	assert_int_equal(claw_secret_file_write(p, "pk\n", 3, 0644, false, err,
						sizeof(err)),
			 CLAW_OK);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0644 & ~(unsigned)umask(022));
	/* a directory that does not exist */
	path(p, sizeof(p), "no/such/dir/key");
	assert_int_equal(claw_secret_file_write(p, "x", 1, 0600, false, err,
						sizeof(err)),
			 CLAW_ERR_IO);
	assert_non_null(strstr(err, "unable to create"));
	remove_all((const char *const[]){"new.key", "pub"}, 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_read),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_write),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
