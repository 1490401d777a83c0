/*
 * test_checkpoint.c - audit checkpoints: the exact canonical text and line,
 * a signed line that verifies, a forged or re-keyed one that does not,
 * strict parsing, the signing key file (made 0600, refused when others can
 * read it), the verdicts of a database that extends a checkpoint or was
 * truncated, rewound or rewritten, and the file (O_APPEND; a last line cut
 * short is ignored).
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

static struct cp_checkpoint sample(void)
{
	struct cp_checkpoint c;

	memset(&c, 0, sizeof(c));
	snprintf(c.time, sizeof(c.time), "2026-01-31T12:00:00Z");
	snprintf(c.event, sizeof(c.event), "periodic");
	c.last_id = 40;
	c.rows = 12;
	memset(c.head, 'a', 64);
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

static void test_canonical_text(void **state)
{
	(void)state;
	struct cp_checkpoint c = sample();
	char text[CP_CKPT_TEXT_MAX];
	size_t n;

	snprintf(c.key_id, sizeof(c.key_id), "0123456789abcdef");
	n = cp_ckpt_text(&c, text, sizeof(text));
	assert_int_equal(n, strlen(text));
	assert_string_equal(text,
			    "claw-audit-checkpoint-v1\n"
			    "key_id=0123456789abcdef\n"
			    "time=2026-01-31T12:00:00Z\n"
			    "event=periodic\n"
			    "last_id=40\n"
			    "rows=12\n"
			    "head=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
			    "aaaaaaaaaaaaaaaaaaaaaa\n");
	assert_int_equal(cp_ckpt_text(&c, text, 20), 0);
}

static void test_sign_format_parse_verify(void **state)
{
	(void)state;
	struct cp_ckpt_signer *s = signer("k1.key");
	struct cp_ckpt_keys keys = {0};
	struct cp_checkpoint c = sample(), back;
	char line[CP_CKPT_LINE_MAX];
	const char *why;
	size_t n;

	cp_ckpt_sign(s, &c);
	assert_string_equal(c.key_id, cp_ckpt_signer_key_id(s));
	n = cp_ckpt_format(&c, line, sizeof(line));
	assert_true(n > 0 && line[n - 1] == '\n');
	assert_int_equal(cp_ckpt_parse(line, n - 1, &back, &why), CLAW_OK);
	assert_memory_equal(&back, &c, sizeof(c));

	/* no accepted key yet: unknown; then accepted */
	assert_int_equal(cp_ckpt_check_sig(&keys, &back), CP_CKPT_UNKNOWN_KEY);
	assert_int_equal(cp_ckpt_keys_add(&keys, cp_ckpt_signer_pk(s)),
			 CLAW_OK);
	assert_int_equal(cp_ckpt_keys_add(&keys, cp_ckpt_signer_pk(s)),
			 CLAW_OK);
	assert_int_equal(keys.n, 1);
	assert_int_equal(cp_ckpt_check_sig(&keys, &back), CP_CKPT_OK);

	/* every signed field is bound by the signature */
	back.rows = 13;
	assert_int_equal(cp_ckpt_check_sig(&keys, &back),
			 CP_CKPT_BAD_SIGNATURE);
	back = c;
	back.last_id = 39;
	assert_int_equal(cp_ckpt_check_sig(&keys, &back),
			 CP_CKPT_BAD_SIGNATURE);
	back = c;
	back.head[0] = 'b';
	assert_int_equal(cp_ckpt_check_sig(&keys, &back),
			 CP_CKPT_BAD_SIGNATURE);
	back = c;
	back.time[18] = '1';
	assert_int_equal(cp_ckpt_check_sig(&keys, &back),
			 CP_CKPT_BAD_SIGNATURE);
	back = c;
	snprintf(back.event, sizeof(back.event), "stop");
	assert_int_equal(cp_ckpt_check_sig(&keys, &back),
			 CP_CKPT_BAD_SIGNATURE);
	back = c;
	back.sig[5] ^= 1;
	assert_int_equal(cp_ckpt_check_sig(&keys, &back),
			 CP_CKPT_BAD_SIGNATURE);
	cp_ckpt_signer_free(s);
}

/* A line signed by another key that claims the accepted key's id. */
static void test_other_key_forges_nothing(void **state)
{
	(void)state;
	struct cp_ckpt_signer *good = signer("good.key");
	struct cp_ckpt_signer *evil = signer("evil.key");
	struct cp_ckpt_keys keys = {0};
	struct cp_checkpoint c = sample();

	cp_ckpt_keys_add(&keys, cp_ckpt_signer_pk(good));
	cp_ckpt_sign(evil, &c);
	assert_int_equal(cp_ckpt_check_sig(&keys, &c), CP_CKPT_UNKNOWN_KEY);
	memcpy(c.key_id, cp_ckpt_signer_key_id(good), sizeof(c.key_id));
	assert_int_equal(cp_ckpt_check_sig(&keys, &c), CP_CKPT_BAD_SIGNATURE);
	cp_ckpt_signer_free(good);
	cp_ckpt_signer_free(evil);
}

static void test_parse_is_strict(void **state)
{
	(void)state;
	static const char *const bad[] = {
		"",
		"[]",
		"{\"v\":1}",
		/* a member too many */
		"{\"v\":1,\"key_id\":\"0123456789abcdef\",\"time\":"
		"\"2026-01-31T12:00:00Z\",\"event\":\"stop\",\"last_id\":1,"
		"\"rows\":1,\"head\":\"%H\",\"sig\":\"%S\",\"x\":1}",
		/* upper-case hex */
		"{\"v\":1,\"key_id\":\"0123456789ABCDEF\",\"time\":"
		"\"2026-01-31T12:00:00Z\",\"event\":\"stop\",\"last_id\":1,"
		"\"rows\":1,\"head\":\"%H\",\"sig\":\"%S\"}",
		/* negative rows */
		"{\"v\":1,\"key_id\":\"0123456789abcdef\",\"time\":"
		"\"2026-01-31T12:00:00Z\",\"event\":\"stop\",\"last_id\":1,"
		"\"rows\":-1,\"head\":\"%H\",\"sig\":\"%S\"}",
		/* a time with a zone */
		"{\"v\":1,\"key_id\":\"0123456789abcdef\",\"time\":"
		"\"2026-01-31T12:00:00+01:00\",\"event\":\"stop\",\"last_id\":"
		"1,"
		"\"rows\":1,\"head\":\"%H\",\"sig\":\"%S\"}",
		/* an unknown event */
		"{\"v\":1,\"key_id\":\"0123456789abcdef\",\"time\":"
		"\"2026-01-31T12:00:00Z\",\"event\":\"later\",\"last_id\":1,"
		"\"rows\":1,\"head\":\"%H\",\"sig\":\"%S\"}",
		/* rows as a string */
		"{\"v\":1,\"key_id\":\"0123456789abcdef\",\"time\":"
		"\"2026-01-31T12:00:00Z\",\"event\":\"stop\",\"last_id\":1,"
		"\"rows\":\"1\",\"head\":\"%H\",\"sig\":\"%S\"}",
		/* version 2 */
		"{\"v\":2,\"key_id\":\"0123456789abcdef\",\"time\":"
		"\"2026-01-31T12:00:00Z\",\"event\":\"stop\",\"last_id\":1,"
		"\"rows\":1,\"head\":\"%H\",\"sig\":\"%S\"}",
		/* a duplicate member */
		"{\"v\":1,\"v\":1,\"key_id\":\"0123456789abcdef\",\"time\":"
		"\"2026-01-31T12:00:00Z\",\"event\":\"stop\",\"last_id\":1,"
		"\"rows\":1,\"head\":\"%H\",\"sig\":\"%S\"}",
	};
	char head[65], sig[129];
	struct cp_checkpoint c;
	const char *why;

	memset(head, 'a', 64);
	head[64] = '\0';
	memset(sig, 'b', 128);
	sig[128] = '\0';
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char line[2048], *h;
		size_t n = 0;

		/* expand %H and %S */
		for (const char *p = bad[i]; *p && n < sizeof(line) - 200;
		     p++) {
			if (p[0] == '%' && (p[1] == 'H' || p[1] == 'S')) {
				h = p[1] == 'H' ? head : sig;
				memcpy(line + n, h, strlen(h));
				n += strlen(h);
				p++;
			} else {
				line[n++] = *p;
			}
		}
		line[n] = '\0';
		assert_int_equal(cp_ckpt_parse(line, n, &c, &why),
				 CLAW_ERR_PARSE);
		assert_non_null(why);
	}
}

static void test_key_file(void **state)
{
	(void)state;
	char p[256], pub[300], err[512] = "";
	struct cp_ckpt_signer *s = NULL, *again = NULL;
	struct cp_ckpt_keys keys = {0};
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
			    CP_CKPT_PK_BYTES);
	cp_ckpt_signer_free(again);
	/* the public key beside it loads as an accepted key */
	snprintf(pub, sizeof(pub), "%s.pub", p);
	assert_int_equal(cp_ckpt_keys_load(&keys, pub, err, sizeof(err)),
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

	/* a public keys file with a comment, a blank line and a bad line */
	path(p, sizeof(p), "pubs");
	f = fopen(p, "w");
	assert_non_null(f);
	fputs("# old key\n\n", f);
	fputs("00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
	      " retired 2026\nzz\n",
	      f);
	fclose(f);
	assert_int_equal(cp_ckpt_keys_load(&keys, p, err, sizeof(err)),
			 CLAW_ERR_PARSE);
	assert_int_equal(keys.n, 2);
	assert_non_null(strstr(err, "line 4"));
}

static struct cp_audit_probe probe(long long id, bool found, long long rows,
				   char hc)
{
	struct cp_audit_probe p = {
		.id = id, .known = true, .found = found, .rows = rows};

	if (found) {
		memset(p.hash, hc, 64);
		p.hash[64] = '\0';
	}
	return p;
}

static void test_db_verdicts(void **state)
{
	(void)state;
	struct cp_checkpoint c = sample(); /* 12 rows up to row 40, 'a'... */
	struct cp_audit_probe p;
	char why[400];

	/* extended: the same row, more rows after it */
	p = probe(40, true, 12, 'a');
	assert_int_equal(cp_ckpt_check_db(&c, &p, 55, why, sizeof(why)),
			 CP_CKPT_OK);
	/* the tail is gone and the head rewound: the log ends before it */
	p = probe(40, false, 9, 0);
	assert_int_equal(cp_ckpt_check_db(&c, &p, 33, why, sizeof(why)),
			 CP_CKPT_TRUNCATED);
	assert_non_null(strstr(why, "removed from its end"));
	assert_non_null(strstr(why, "row 40"));
	/* the row it names is gone, later rows exist */
	assert_int_equal(cp_ckpt_check_db(&c, &p, 41, why, sizeof(why)),
			 CP_CKPT_REWRITTEN);
	/* rewritten head: same id, another hash */
	p = probe(40, true, 12, 'b');
	assert_int_equal(cp_ckpt_check_db(&c, &p, 40, why, sizeof(why)),
			 CP_CKPT_REWRITTEN);
	/* rewound counter: tail removed, ids reused by new rows */
	p = probe(40, true, 10, 'a');
	assert_int_equal(cp_ckpt_check_db(&c, &p, 44, why, sizeof(why)),
			 CP_CKPT_REWRITTEN);
	/* the chain broke before it */
	p = probe(40, false, 0, 0);
	p.known = false;
	assert_int_equal(cp_ckpt_check_db(&c, &p, 20, why, sizeof(why)),
			 CP_CKPT_UNCHECKED);
	/* an empty log's checkpoint holds for every log */
	c.last_id = 0;
	c.rows = 0;
	memcpy(c.head, CP_AUDIT_GENESIS, 65);
	assert_int_equal(cp_ckpt_check_db(&c, NULL, 0, why, sizeof(why)),
			 CP_CKPT_OK);
	c.rows = 3;
	assert_int_equal(cp_ckpt_check_db(&c, NULL, 9, why, sizeof(why)),
			 CP_CKPT_REWRITTEN);
}

static void test_file_append_and_read(void **state)
{
	(void)state;
	struct cp_ckpt_signer *s = signer("file.key");
	struct cp_checkpoint c = sample();
	struct cp_ckpt_entry *e = NULL;
	char p[256], err[512] = "";
	struct stat st;
	size_t n = 0;
	FILE *f;

	path(p, sizeof(p), "ck.jsonl");
	assert_int_equal(cp_ckpt_file_read(p, 10, &e, &n, err, sizeof(err)),
			 CLAW_OK);
	assert_int_equal(n, 0);
	for (int i = 0; i < 3; i++) {
		c.rows = 12 + i;
		c.last_id = 40 + i;
		cp_ckpt_sign(s, &c);
		assert_int_equal(cp_ckpt_append(p, &c, err, sizeof(err)),
				 CLAW_OK);
	}
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0640);
	/* a malformed line in the middle; a cut-short one at the end */
	f = fopen(p, "a");
	assert_non_null(f);
	fputs("garbage\n\n{\"v\":1,\"key_id\":\"0011", f);
	fclose(f);
	assert_int_equal(cp_ckpt_file_read(p, 10, &e, &n, err, sizeof(err)),
			 CLAW_OK);
	assert_int_equal(n, 4);
	assert_int_equal(e[0].verdict, CP_CKPT_OK);
	assert_int_equal(e[2].c.rows, 14);
	assert_int_equal(e[3].verdict, CP_CKPT_MALFORMED);
	assert_int_equal(e[3].line, 4);
	free(e);
	/* the ceiling on lines */
	assert_int_equal(cp_ckpt_file_read(p, 2, &e, &n, err, sizeof(err)),
			 CLAW_ERR_TOO_LARGE);
	/* a directory is no checkpoint file */
	assert_int_equal(cp_ckpt_append(dir, &c, err, sizeof(err)) != CLAW_OK,
			 1);
	cp_ckpt_signer_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_canonical_text),
		cmocka_unit_test(test_sign_format_parse_verify),
		cmocka_unit_test(test_other_key_forges_nothing),
		cmocka_unit_test(test_parse_is_strict),
		cmocka_unit_test(test_key_file),
		cmocka_unit_test(test_db_verdicts),
		cmocka_unit_test(test_file_append_and_read),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
