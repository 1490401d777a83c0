/*
 * test_checkpoint.c - lib's audit checkpoint format (claw/checkpoint.h),
 * as the control plane and clawctl both use it: the exact canonical text
 * and line, a signed line that verifies and every field bound by the
 * signature, a line signed by another key, strict parsing, the set of
 * accepted keys and the public keys file (a FIFO refused), the verdicts of a log that
 * extends a checkpoint or was truncated, rewound or rewritten, the
 * sentences that name a failed checkpoint, and reading a file's lines
 * (a malformed line kept, a last line cut short left out, a ceiling).
 * Lines are signed here with libsodium directly: no signing key file.
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
#include <sodium.h>

#include "claw/checkpoint.h"

struct key {
	unsigned char pk[crypto_sign_PUBLICKEYBYTES];
	unsigned char sk[crypto_sign_SECRETKEYBYTES];
	char id[17];
};

static struct key key_new(void)
{
	struct key k;

	crypto_sign_keypair(k.pk, k.sk);
	claw_ckpt_key_id(k.pk, k.id);
	return k;
}

static void sign(const struct key *k, struct claw_checkpoint *c)
{
	char text[CLAW_CKPT_TEXT_MAX];
	size_t n;

	memcpy(c->key_id, k->id, sizeof(c->key_id));
	n = claw_ckpt_text(c, text, sizeof(text));
	assert_true(n > 0);
	crypto_sign_detached(c->sig, NULL, (const unsigned char *)text, n,
			     k->sk);
}

static struct claw_checkpoint sample(void)
{
	struct claw_checkpoint c;

	memset(&c, 0, sizeof(c));
	snprintf(c.time, sizeof(c.time), "2026-01-31T12:00:00Z");
	snprintf(c.event, sizeof(c.event), "periodic");
	c.last_id = 40;
	c.rows = 12;
	memset(c.head, 'a', 64);
	return c;
}

static int setup(void **state)
{
	(void)state;
	return sodium_init() < 0 ? -1 : 0;
}

static void test_canonical_text(void **state)
{
	(void)state;
	struct claw_checkpoint c = sample();
	char text[CLAW_CKPT_TEXT_MAX];
	size_t n;

	snprintf(c.key_id, sizeof(c.key_id), "0123456789abcdef");
	n = claw_ckpt_text(&c, text, sizeof(text));
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
	assert_int_equal(claw_ckpt_text(&c, text, 20), 0);
}

static void test_line(void **state)
{
	(void)state;
	struct claw_checkpoint c = sample();
	char line[CLAW_CKPT_LINE_MAX], want[CLAW_CKPT_LINE_MAX];
	char sig[2 * CLAW_CKPT_SIG_BYTES + 1];
	size_t n;

	snprintf(c.key_id, sizeof(c.key_id), "0123456789abcdef");
	memset(c.sig, 0xab, sizeof(c.sig));
	for (size_t i = 0; i < 2 * CLAW_CKPT_SIG_BYTES; i += 2)
		memcpy(sig + i, "ab", 2);
	sig[2 * CLAW_CKPT_SIG_BYTES] = '\0';
	snprintf(want, sizeof(want),
		 "{\"v\":1,\"key_id\":\"0123456789abcdef\",\"time\":"
		 "\"2026-01-31T12:00:00Z\",\"event\":\"periodic\","
		 "\"last_id\":40,\"rows\":12,\"head\":\"%s\",\"sig\":\"%s\"}\n",
		 c.head, sig);
	n = claw_ckpt_format(&c, line, sizeof(line));
	assert_int_equal(n, strlen(line));
	assert_string_equal(line, want);
	assert_int_equal(claw_ckpt_format(&c, line, 100), 0);
}

static void test_sign_format_parse_verify(void **state)
{
	(void)state;
	struct key k = key_new();
	struct claw_ckpt_keys keys = {0};
	struct claw_checkpoint c = sample(), back;
	char line[CLAW_CKPT_LINE_MAX];
	const char *why;
	size_t n;

	sign(&k, &c);
	n = claw_ckpt_format(&c, line, sizeof(line));
	assert_true(n > 0 && line[n - 1] == '\n');
	assert_int_equal(claw_ckpt_parse(line, n - 1, &back, &why), CLAW_OK);
	assert_null(why);
	assert_memory_equal(&back, &c, sizeof(c));

	/* no accepted key yet: unknown; then accepted (once) */
	assert_int_equal(claw_ckpt_check_sig(&keys, &back),
			 CLAW_CKPT_UNKNOWN_KEY);
	assert_int_equal(claw_ckpt_keys_add(&keys, k.pk), CLAW_OK);
	assert_int_equal(claw_ckpt_keys_add(&keys, k.pk), CLAW_OK);
	assert_int_equal(keys.n, 1);
	assert_string_equal(keys.k[0].id, k.id);
	assert_int_equal(claw_ckpt_check_sig(&keys, &back), CLAW_CKPT_OK);

	/* every signed field is bound by the signature */
	back.rows = 13;
	assert_int_equal(claw_ckpt_check_sig(&keys, &back),
			 CLAW_CKPT_BAD_SIGNATURE);
	back = c;
	back.last_id = 39;
	assert_int_equal(claw_ckpt_check_sig(&keys, &back),
			 CLAW_CKPT_BAD_SIGNATURE);
	back = c;
	back.head[0] = 'b';
	assert_int_equal(claw_ckpt_check_sig(&keys, &back),
			 CLAW_CKPT_BAD_SIGNATURE);
	back = c;
	back.time[18] = '1';
	assert_int_equal(claw_ckpt_check_sig(&keys, &back),
			 CLAW_CKPT_BAD_SIGNATURE);
	back = c;
	snprintf(back.event, sizeof(back.event), "stop");
	assert_int_equal(claw_ckpt_check_sig(&keys, &back),
			 CLAW_CKPT_BAD_SIGNATURE);
	back = c;
	back.sig[5] ^= 1;
	assert_int_equal(claw_ckpt_check_sig(&keys, &back),
			 CLAW_CKPT_BAD_SIGNATURE);
}

/* A line signed by another key that claims the accepted key's id. */
static void test_other_key_forges_nothing(void **state)
{
	(void)state;
	struct key good = key_new(), evil = key_new();
	struct claw_ckpt_keys keys = {0};
	struct claw_checkpoint c = sample();

	claw_ckpt_keys_add(&keys, good.pk);
	sign(&evil, &c);
	assert_int_equal(claw_ckpt_check_sig(&keys, &c), CLAW_CKPT_UNKNOWN_KEY);
	memcpy(c.key_id, good.id, sizeof(c.key_id));
	assert_int_equal(claw_ckpt_check_sig(&keys, &c),
			 CLAW_CKPT_BAD_SIGNATURE);
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
		/* a short signature */
		"{\"v\":1,\"key_id\":\"0123456789abcdef\",\"time\":"
		"\"2026-01-31T12:00:00Z\",\"event\":\"stop\",\"last_id\":1,"
		"\"rows\":1,\"head\":\"%H\",\"sig\":\"abcd\"}",
	};
	char head[65], sig[129], big[CLAW_CKPT_LINE_MAX + 2];
	struct claw_checkpoint c;
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
		assert_int_equal(claw_ckpt_parse(line, n, &c, &why),
				 CLAW_ERR_PARSE);
		assert_non_null(why);
	}
	/* over the line ceiling, whatever it holds */
	memset(big, ' ', sizeof(big));
	assert_int_equal(claw_ckpt_parse(big, sizeof(big), &c, &why),
			 CLAW_ERR_PARSE);
}

static void test_keys(void **state)
{
	(void)state;
	struct claw_ckpt_keys keys = {0};
	char hex[2 * CLAW_CKPT_PK_BYTES + 1], p[] = "/tmp/ckpt-keys-XXXXXX";
	char err[512] = "";
	unsigned char pk[CLAW_CKPT_PK_BYTES];
	FILE *f;
	int fd;

	/* hex: exactly 64 lowercase hex characters */
	assert_int_equal(claw_ckpt_keys_add_hex(&keys, "zz"), CLAW_ERR_PARSE);
	memset(hex, 'A', 64);
	hex[64] = '\0';
	assert_int_equal(claw_ckpt_keys_add_hex(&keys, hex), CLAW_ERR_PARSE);
	memset(hex, 'a', 64);
	assert_int_equal(claw_ckpt_keys_add_hex(&keys, hex), CLAW_OK);
	assert_int_equal(claw_ckpt_keys_add_hex(&keys, hex), CLAW_OK);
	assert_int_equal(keys.n, 1);
	/* a full set takes no more */
	for (int i = 1; i < CLAW_CKPT_KEYS_MAX; i++) {
		memset(pk, i, sizeof(pk));
		assert_int_equal(claw_ckpt_keys_add(&keys, pk), CLAW_OK);
	}
	memset(pk, 0xff, sizeof(pk));
	assert_int_equal(claw_ckpt_keys_add(&keys, pk), CLAW_ERR_TOO_LARGE);
	assert_int_equal(keys.n, CLAW_CKPT_KEYS_MAX);

	/* a public keys file with a comment, a blank line and a bad line */
	memset(&keys, 0, sizeof(keys));
	fd = mkstemp(p);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	assert_non_null(f);
	fputs("# old key\n\n", f);
	fputs("00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
	      " retired 2026\n"
	      "  "
	      "\tffeeddccbbaa99887766554433221100ffeeddccbbaa998877665544332211"
	      "00"
	      "#new\nzz\n",
	      f);
	fclose(f);
	assert_int_equal(claw_ckpt_keys_load(&keys, p, err, sizeof(err)),
			 CLAW_ERR_PARSE);
	assert_int_equal(keys.n, 2);
	assert_non_null(strstr(err, "line 5 is not a public key"));
	/* a line too long to be one */
	f = fopen(p, "w");
	assert_non_null(f);
	for (int i = 0; i < 20; i++)
		fputs("#########################################", f);
	fputs("\n", f);
	fclose(f);
	assert_int_equal(claw_ckpt_keys_load(&keys, p, err, sizeof(err)),
			 CLAW_ERR_PARSE);
	assert_non_null(strstr(err, "line 1 is too long"));
	unlink(p);
	assert_int_equal(claw_ckpt_keys_load(&keys, p, err, sizeof(err)),
			 CLAW_ERR_IO);
	assert_non_null(strstr(err, "unable to open"));
	/* a FIFO in its place: refused at once, not waited on */
	assert_int_equal(mkfifo(p, 0600), 0);
	assert_int_equal(claw_ckpt_keys_load(&keys, p, err, sizeof(err)),
			 CLAW_ERR_INVALID);
	assert_non_null(strstr(err, "is not a regular file"));
	unlink(p);
}

static struct claw_ckpt_probe probe(long long id, bool found, long long rows,
				    char hc)
{
	struct claw_ckpt_probe p = {
		.id = id, .known = true, .found = found, .rows = rows};

	if (found) {
		memset(p.hash, hc, 64);
		p.hash[64] = '\0';
	}
	return p;
}

static void test_judge_verdicts(void **state)
{
	(void)state;
	struct claw_checkpoint c = sample(); /* 12 rows up to row 40, 'a'... */
	struct claw_ckpt_probe p;
	char why[400];

	/* extended: the same row, more rows after it */
	p = probe(40, true, 12, 'a');
	assert_int_equal(claw_ckpt_judge(&c, &p, 55, why, sizeof(why)),
			 CLAW_CKPT_OK);
	assert_string_equal(why, "");
	/* the tail is gone and the head rewound: the log ends before it */
	p = probe(40, false, 9, 0);
	assert_int_equal(claw_ckpt_judge(&c, &p, 33, why, sizeof(why)),
			 CLAW_CKPT_TRUNCATED);
	assert_string_equal(why,
			    "it signed 12 rows up to row 40, but the log "
			    "now ends at row 33 with 9 rows: rows were "
			    "removed from its end");
	/* the row it names is gone, later rows exist */
	assert_int_equal(claw_ckpt_judge(&c, &p, 41, why, sizeof(why)),
			 CLAW_CKPT_REWRITTEN);
	assert_non_null(strstr(why, "which the log no longer has"));
	/* rewritten head: same id, another hash */
	p = probe(40, true, 12, 'b');
	assert_int_equal(claw_ckpt_judge(&c, &p, 40, why, sizeof(why)),
			 CLAW_CKPT_REWRITTEN);
	assert_non_null(strstr(why, "the log was rewritten"));
	/* rewound counter: tail removed, ids reused by new rows */
	p = probe(40, true, 10, 'a');
	assert_int_equal(claw_ckpt_judge(&c, &p, 44, why, sizeof(why)),
			 CLAW_CKPT_REWRITTEN);
	/* the chain broke before it, or the log was not asked */
	p = probe(40, false, 0, 0);
	p.known = false;
	assert_int_equal(claw_ckpt_judge(&c, &p, 20, why, sizeof(why)),
			 CLAW_CKPT_UNCHECKED);
	assert_int_equal(claw_ckpt_judge(&c, NULL, 20, why, sizeof(why)),
			 CLAW_CKPT_UNCHECKED);
	/* an empty log's checkpoint holds for every log */
	c.last_id = 0;
	c.rows = 0;
	memcpy(c.head, CLAW_CKPT_EMPTY_HEAD, 65);
	assert_int_equal(claw_ckpt_judge(&c, NULL, 0, why, sizeof(why)),
			 CLAW_CKPT_OK);
	c.rows = 3;
	assert_int_equal(claw_ckpt_judge(&c, NULL, 9, why, sizeof(why)),
			 CLAW_CKPT_REWRITTEN);
	c.rows = 0;
	c.head[63] = '1';
	assert_int_equal(claw_ckpt_judge(&c, NULL, 9, why, sizeof(why)),
			 CLAW_CKPT_REWRITTEN);
}

/* From a verdict after the signature check, against a log, to the final
 * verdict and the sentence that names the checkpoint. */
static void test_entry_sentences(void **state)
{
	(void)state;
	static const struct {
		enum claw_ckpt_verdict in, out;
		bool found;    /* the log has row 40 ... */
		long long end; /* ... and ends at this row */
		const char *why;
	} cases[] = {
		{CLAW_CKPT_OK, CLAW_CKPT_TRUNCATED, false, 33,
		 "checkpoint at line 7 (2026-01-31T12:00:00Z, periodic, key "
		 "0123456789abcdef): truncated: it signed 12 rows up to row "
		 "40, "
		 "but the log now ends at row 33 with 9 rows: rows were "
		 "removed "
		 "from its end"},
		{CLAW_CKPT_BAD_SIGNATURE, CLAW_CKPT_BAD_SIGNATURE, false, 33,
		 "checkpoint at line 7 (2026-01-31T12:00:00Z, periodic, key "
		 "0123456789abcdef): signature_invalid: its signature does not "
		 "match its contents (the line was forged or changed)"},
		{CLAW_CKPT_UNKNOWN_KEY, CLAW_CKPT_UNKNOWN_KEY, true, 50,
		 "checkpoint at line 7 (2026-01-31T12:00:00Z, periodic, key "
		 "0123456789abcdef): unknown_key: it is signed by key "
		 "0123456789abcdef, which is not among the accepted keys"},
		{CLAW_CKPT_MALFORMED, CLAW_CKPT_MALFORMED, true, 50,
		 "checkpoint at line 7: it is not a checkpoint line"},
		/* an extended one has nothing to say */
		{CLAW_CKPT_OK, CLAW_CKPT_OK, true, 50, NULL},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct claw_ckpt_entry e = {
			.line = 7, .verdict = cases[i].in, .c = sample()};
		struct claw_ckpt_probe p =
			probe(40, cases[i].found, cases[i].found ? 12 : 9, 'a');
		char detail[400], why[600];

		snprintf(e.c.key_id, sizeof(e.c.key_id), "0123456789abcdef");
		claw_ckpt_entry_judge(&e, &p, cases[i].end, detail,
				      sizeof(detail));
		assert_int_equal(e.verdict, cases[i].out);
		if (!cases[i].why) {
			assert_string_equal(detail, "");
			continue;
		}
		claw_ckpt_entry_reason(&e, detail, why, sizeof(why));
		assert_string_equal(why, cases[i].why);
	}
	assert_string_equal(claw_ckpt_verdict_name(CLAW_CKPT_UNCHECKED),
			    "unchecked");
	assert_string_equal(claw_ckpt_verdict_name(CLAW_CKPT_REWRITTEN),
			    "rewritten");
}

static FILE *stream(const char *text)
{
	FILE *f = tmpfile();

	assert_non_null(f);
	fputs(text, f);
	rewind(f);
	return f;
}

static void test_read(void **state)
{
	(void)state;
	struct key k = key_new();
	struct claw_checkpoint c = sample();
	struct claw_ckpt_entry *e = NULL;
	char line[CLAW_CKPT_LINE_MAX], all[4 * CLAW_CKPT_LINE_MAX];
	size_t n = 9, at = 0;
	FILE *f;

	/* empty: none */
	f = stream("");
	assert_int_equal(claw_ckpt_read(f, 10, &e, &n), CLAW_OK);
	assert_int_equal(n, 0);
	assert_null(e);
	fclose(f);
	for (int i = 0; i < 3; i++) {
		c.rows = 12 + i;
		c.last_id = 40 + i;
		sign(&k, &c);
		assert_true(claw_ckpt_format(&c, line, sizeof(line)) > 0);
		at += (size_t)snprintf(all + at, sizeof(all) - at, "%s", line);
	}
	/* a malformed line and a blank one in the middle; CRLF; a line cut
	 * short at the end */
	snprintf(all + at, sizeof(all) - at, "%s",
		 "garbage\r\n\n{\"v\":1,\"key_id\":\"0011");
	f = stream(all);
	assert_int_equal(claw_ckpt_read(f, 10, &e, &n), CLAW_OK);
	assert_int_equal(n, 4);
	assert_int_equal(e[0].verdict, CLAW_CKPT_OK);
	assert_int_equal(e[0].line, 1);
	assert_int_equal(e[2].c.rows, 14);
	assert_memory_equal(&e[2].c, &c, sizeof(c));
	assert_int_equal(e[3].verdict, CLAW_CKPT_MALFORMED);
	assert_int_equal(e[3].line, 4);
	free(e);
	/* the ceiling on lines */
	rewind(f);
	assert_int_equal(claw_ckpt_read(f, 2, &e, &n), CLAW_ERR_TOO_LARGE);
	assert_null(e);
	fclose(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_canonical_text),
		cmocka_unit_test(test_line),
		cmocka_unit_test(test_sign_format_parse_verify),
		cmocka_unit_test(test_other_key_forges_nothing),
		cmocka_unit_test(test_parse_is_strict),
		cmocka_unit_test(test_keys),
		cmocka_unit_test(test_judge_verdicts),
		cmocka_unit_test(test_entry_sentences),
		cmocka_unit_test(test_read),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
