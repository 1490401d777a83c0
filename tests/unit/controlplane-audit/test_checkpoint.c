/*
 * test_checkpoint.c - the control plane's side of audit checkpoints
 * (controlplane/checkpoint.c): the signing key file (made 0600 with its
 * .pub beside it, the same key on the next start, refused when others can
 * read it, when it is no key, or when a FIFO stands in its place), lines
 * signed by it that lib's check accepts, the walk's probe handed to lib's
 * verdicts, the time of a checkpoint, and the checkpoint file (made 0640
 * by its first line, then O_APPEND; read back whole, with a ceiling on
 * lines; a FIFO or a directory is refused, not waited on). The format
 * itself is tested in tests/unit/lib/test_checkpoint.c.
 */
#define _XOPEN_SOURCE 700
#include <ftw.h>
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
#include <sodium.h>

#include "checkpoint.h"

static char dir[] = "/tmp/cp-ckpt-test-XXXXXX";

static int setup(void **state)
{
	(void)state;
	if (sodium_init() < 0 || !mkdtemp(dir))
		return -1;
	return 0;
}

static int rm_one(const char *p, const struct stat *st, int flag,
		  struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(p);
}

static int teardown(void **state)
{
	(void)state;
	return nftw(dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

static void path(char *out, size_t n, const char *name)
{
	snprintf(out, n, "%s/%s", dir, name);
}

/* A start checkpoint of rows rows up to row last_id, dated now. */
static struct claw_checkpoint at_row(long long last_id, long long rows)
{
	struct claw_checkpoint c = {.last_id = last_id, .rows = rows};
	const char *why;
	char line[CLAW_CKPT_LINE_MAX];

	cp_ckpt_time_now(c.time);
	snprintf(c.event, sizeof(c.event), "start");
	memset(c.head, 'a', 64);
	snprintf(c.key_id, sizeof(c.key_id), "0000000000000000");
	/* the time is one a line may carry */
	assert_true(claw_ckpt_format(&c, line, sizeof(line)) > 0);
	assert_int_equal(claw_ckpt_parse(line, strlen(line) - 1, &c, &why),
			 CLAW_OK);
	return c;
}

static struct cp_ckpt_signer *signer(const char *name)
{
	char p[256];
	char err[512] = "";
	struct cp_ckpt_signer *s = NULL;

	path(p, sizeof(p), name);
	assert_int_equal(cp_ckpt_signer_load(p, true, &s, err, sizeof(err)),
			 CLAW_OK);
	return s;
}

static void test_sign_verify(void **state)
{
	(void)state;
	struct cp_ckpt_signer *s = signer("k1.key");
	struct claw_ckpt_keys keys = {0};
	struct claw_checkpoint c = at_row(40, 12), back;
	char line[CLAW_CKPT_LINE_MAX], id[17];
	const char *why;
	size_t n;

	cp_ckpt_sign(s, &c);
	assert_string_equal(c.key_id, cp_ckpt_signer_key_id(s));
	claw_ckpt_key_id(cp_ckpt_signer_pk(s), id);
	assert_string_equal(id, cp_ckpt_signer_key_id(s));
	n = claw_ckpt_format(&c, line, sizeof(line));
	assert_true(n > 0 && line[n - 1] == '\n');
	assert_int_equal(claw_ckpt_parse(line, n - 1, &back, &why), CLAW_OK);
	assert_memory_equal(&back, &c, sizeof(c));
	assert_int_equal(claw_ckpt_check_sig(&keys, &back),
			 CLAW_CKPT_UNKNOWN_KEY);
	assert_int_equal(claw_ckpt_keys_add(&keys, cp_ckpt_signer_pk(s)),
			 CLAW_OK);
	assert_int_equal(claw_ckpt_check_sig(&keys, &back), CLAW_CKPT_OK);
	back.rows++;
	assert_int_equal(claw_ckpt_check_sig(&keys, &back),
			 CLAW_CKPT_BAD_SIGNATURE);
	cp_ckpt_signer_free(s);
}

static void test_key_file(void **state)
{
	(void)state;
	char p[256], pub[300], err[512] = "";
	struct cp_ckpt_signer *s = NULL, *again = NULL;
	struct claw_ckpt_keys keys = {0};
	struct stat st;
	FILE *f;

	path(p, sizeof(p), "sign.key");
	/* not there and not to be made */
	assert_int_equal(cp_ckpt_signer_load(p, false, &s, err, sizeof(err)),
			 CLAW_ERR_NOT_FOUND);
	assert_int_equal(cp_ckpt_signer_load(p, true, &s, err, sizeof(err)),
			 CLAW_OK);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	/* the same key on the next start */
	assert_int_equal(cp_ckpt_signer_load(p, true, &again, err, sizeof(err)),
			 CLAW_OK);
	assert_memory_equal(cp_ckpt_signer_pk(s), cp_ckpt_signer_pk(again),
			    CLAW_CKPT_PK_BYTES);
	cp_ckpt_signer_free(again);
	/* the public key beside it loads as an accepted key */
	snprintf(pub, sizeof(pub), "%s.pub", p);
	assert_int_equal(claw_ckpt_keys_load(&keys, pub, err, sizeof(err)),
			 CLAW_OK);
	assert_int_equal(keys.n, 1);
	assert_string_equal(keys.k[0].id, cp_ckpt_signer_key_id(s));
	cp_ckpt_signer_free(s);

	/* others may read it: refused, and the message says how to fix */
	assert_int_equal(chmod(p, 0644), 0);
	s = NULL;
	assert_int_equal(cp_ckpt_signer_load(p, true, &s, err, sizeof(err)),
			 CLAW_ERR_INVALID);
	assert_null(s);
	assert_non_null(strstr(err, "audit signing key file '"));
	assert_non_null(strstr(err, "chmod 600"));

	/* not a key */
	path(p, sizeof(p), "junk.key");
	f = fopen(p, "w");
	assert_non_null(f);
	fputs("not a key\n", f);
	fclose(f);
	assert_int_equal(chmod(p, 0600), 0);
	assert_int_equal(cp_ckpt_signer_load(p, true, &s, err, sizeof(err)),
			 CLAW_ERR_INVALID);
	assert_non_null(strstr(err, "does not hold a key"));

	/* a FIFO in its place: refused at once, start-up does not hang */
	path(p, sizeof(p), "fifo.key");
	assert_int_equal(mkfifo(p, 0600), 0);
	assert_int_equal(cp_ckpt_signer_load(p, true, &s, err, sizeof(err)),
			 CLAW_ERR_INVALID);
	assert_null(s);
	assert_non_null(strstr(err, "is not a regular file"));
}

/* An empty log's head is the chain's genesis, so a checkpoint of an empty
 * log matches (the verdicts themselves: tests/unit/lib). */
static void test_genesis_head(void **state)
{
	(void)state;
	struct claw_checkpoint c = at_row(0, 0);
	char why[400];

	assert_string_equal(CLAW_CKPT_EMPTY_HEAD, CP_AUDIT_GENESIS);
	memcpy(c.head, CP_AUDIT_GENESIS, sizeof(c.head));
	assert_int_equal(claw_ckpt_judge(&c, NULL, 0, why, sizeof(why)),
			 CLAW_CKPT_OK);
}

static void test_file_append_and_read(void **state)
{
	(void)state;
	struct cp_ckpt_signer *s = signer("file.key");
	struct claw_ckpt_keys keys = {0};
	struct claw_checkpoint c[3];
	struct claw_ckpt_entry *e = NULL;
	char p[256], err[512] = "";
	struct stat st;
	size_t n = 0;

	claw_ckpt_keys_add(&keys, cp_ckpt_signer_pk(s));
	path(p, sizeof(p), "ck.jsonl");
	/* no file yet: no checkpoints */
	assert_int_equal(cp_ckpt_file_read(p, 10, &e, &n, err, sizeof(err)),
			 CLAW_OK);
	assert_int_equal(n, 0);
	/* the first line makes the file (0640), the others are appended */
	for (int i = 0; i < 3; i++) {
		c[i] = at_row(100 + i, 50 + i);
		cp_ckpt_sign(s, &c[i]);
		assert_int_equal(cp_ckpt_append(p, &c[i], err, sizeof(err)),
				 CLAW_OK);
		assert_int_equal(stat(p, &st), 0);
		assert_int_equal(st.st_mode & 0777, 0640);
	}
	assert_int_equal(cp_ckpt_file_read(p, 10, &e, &n, err, sizeof(err)),
			 CLAW_OK);
	assert_int_equal(n, 3);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(e[i].line, (long)i + 1);
		assert_memory_equal(&e[i].c, &c[i], sizeof(c[i]));
		assert_int_equal(claw_ckpt_check_sig(&keys, &e[i].c),
				 CLAW_CKPT_OK);
	}
	free(e);
	/* the ceiling on lines */
	assert_int_equal(cp_ckpt_file_read(p, 2, &e, &n, err, sizeof(err)),
			 CLAW_ERR_TOO_LARGE);
	assert_non_null(strstr(err, "more than 2 checkpoints"));
	/* a directory is no checkpoint file */
	assert_int_not_equal(cp_ckpt_append(dir, c, err, sizeof(err)), CLAW_OK);
	assert_int_equal(cp_ckpt_file_read(dir, 10, &e, &n, err, sizeof(err)),
			 CLAW_ERR_INVALID);
	/* nor is a FIFO, and neither call waits on it */
	path(p, sizeof(p), "ck.fifo");
	assert_int_equal(mkfifo(p, 0600), 0);
	assert_int_equal(cp_ckpt_file_read(p, 10, &e, &n, err, sizeof(err)),
			 CLAW_ERR_INVALID);
	assert_non_null(strstr(err, "is not a regular file"));
	assert_int_not_equal(cp_ckpt_append(p, c, err, sizeof(err)), CLAW_OK);
	cp_ckpt_signer_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sign_verify),
		cmocka_unit_test(test_key_file),
		cmocka_unit_test(test_genesis_head),
		cmocka_unit_test(test_file_append_and_read),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
