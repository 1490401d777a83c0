/*
 * test_secret.c - claw_secret_read: values, trailing newlines, and every
 * refusal (missing, bad name, not a regular file, NUL or line break
 * inside, too large) with an error that never quotes the value.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "claw/crypto.h"
#include "claw/secret.h"

static char dir[64];

static void put(const char *name, const char *data, size_t len)
{
	char path[128];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	fclose(f);
}

static enum claw_rc rd(const char *name, char **v, size_t *n, char *err)
{
	return claw_secret_read(dir, name, v, n, err, 300);
}

static void test_values(void **state)
{
	(void)state;
	char *v, err[300];
	size_t n = 99;
	put("plain", "s3cr3t", 6);
	assert_int_equal(rd("plain", &v, &n, err), CLAW_OK);
	assert_string_equal(v, "s3cr3t");
	assert_int_equal(n, 6);
	claw_secret_free(v);
	put("nl", "tok\r\n\n", 6);
	assert_int_equal(rd("nl", &v, NULL, err), CLAW_OK);
	assert_string_equal(v, "tok");
	claw_secret_free(v);
	put("empty", "\n", 1);
	assert_int_equal(rd("empty", &v, &n, err), CLAW_OK);
	assert_string_equal(v, "");
	assert_int_equal(n, 0);
	claw_secret_free(v);
	claw_secret_free(NULL);
}

static void test_refusals(void **state)
{
	(void)state;
	char *v = (char *)"x", err[300];
	assert_int_equal(rd("absent", &v, NULL, err), CLAW_ERR_NOT_FOUND);
	assert_null(v);
	assert_non_null(strstr(err, "unable to open secret 'absent'"));
	assert_int_equal(rd("../etc", &v, NULL, err), CLAW_ERR_INVALID);
	assert_int_equal(rd(".hidden", &v, NULL, err), CLAW_ERR_INVALID);
	assert_int_equal(rd("", &v, NULL, err), CLAW_ERR_INVALID);
	char sub[128];
	snprintf(sub, sizeof(sub), "%s/adir", dir);
	assert_int_equal(mkdir(sub, 0700), 0);
	assert_int_equal(rd("adir", &v, NULL, err), CLAW_ERR_INVALID);
	char fifo[128];
	snprintf(fifo, sizeof(fifo), "%s/fifo", dir);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	assert_int_equal(rd("fifo", &v, NULL, err), CLAW_ERR_INVALID);
	put("nul", "ab\0cd", 5);
	assert_int_equal(rd("nul", &v, NULL, err), CLAW_ERR_INVALID);
	put("inner", "Bearer x\r\nX-Evil: 1", 19);
	assert_int_equal(rd("inner", &v, NULL, err), CLAW_ERR_INVALID);
	assert_null(strstr(err, "Bearer"));
	assert_null(strstr(err, "Evil"));
	char *big = malloc(CLAW_SECRET_MAX + 1);
	assert_non_null(big);
	memset(big, 'k', CLAW_SECRET_MAX + 1);
	put("big", big, CLAW_SECRET_MAX);
	assert_int_equal(rd("big", &v, NULL, err), CLAW_OK);
	claw_secret_free(v);
	put("big", big, CLAW_SECRET_MAX + 1);
	assert_int_equal(rd("big", &v, NULL, err), CLAW_ERR_TOO_LARGE);
	assert_null(strstr(err, "kkkk"));
	free(big);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_refusals),
	};
	assert_int_equal(claw_crypto_init(), CLAW_OK);
	snprintf(dir, sizeof(dir), "/tmp/claw-secret-XXXXXX");
	assert_non_null(mkdtemp(dir));
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		rc = 1;
	return rc;
}
