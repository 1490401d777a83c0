/*
 * test_envelope.c - envelope encryption: round trips, tampered ciphertext,
 * swapped associated data (tenant, name, version), wrong keys, key check
 * values, and the master key ring's text form.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <sodium.h>

#include "envelope.h"

#define T1 "tnt_00000000000000000000000000000001"
#define T2 "tnt_00000000000000000000000000000002"
#define VALUE "sk-canary-0123456789"

static int setup(void **state)
{
	(void)state;
	return sodium_init() < 0 ? -1 : 0;
}

static void test_value_round_trip(void **state)
{
	(void)state;
	unsigned char *dk = cp_env_key_new(), *sealed, *plain;
	size_t slen, plen;

	assert_non_null(dk);
	assert_int_equal(cp_env_seal_value(dk, T1, "API_KEY", 3, VALUE,
					   strlen(VALUE), &sealed, &slen),
			 CLAW_OK);
	assert_int_equal(slen, strlen(VALUE) + CP_ENV_OVERHEAD);
	assert_null(memmem(sealed, slen, VALUE, strlen(VALUE)));
	assert_int_equal(cp_env_open_value(dk, T1, "API_KEY", 3, sealed, slen,
					   &plain, &plen),
			 CLAW_OK);
	assert_int_equal(plen, strlen(VALUE));
	assert_memory_equal(plain, VALUE, plen);
	assert_int_equal(plain[plen], 0);
	cp_env_secret_free(plain);
	free(sealed);

	/* An empty value works too. */
	assert_int_equal(
		cp_env_seal_value(dk, T1, "EMPTY", 1, "", 0, &sealed, &slen),
		CLAW_OK);
	assert_int_equal(cp_env_open_value(dk, T1, "EMPTY", 1, sealed, slen,
					   &plain, &plen),
			 CLAW_OK);
	assert_int_equal(plen, 0);
	cp_env_secret_free(plain);
	free(sealed);
	cp_env_secret_free(dk);
}

static void test_value_tampered(void **state)
{
	(void)state;
	unsigned char *dk = cp_env_key_new(), *sealed, *plain = NULL;
	size_t slen, plen;

	assert_int_equal(cp_env_seal_value(dk, T1, "API_KEY", 1, VALUE,
					   strlen(VALUE), &sealed, &slen),
			 CLAW_OK);
	/* Every single flipped bit, in nonce, ciphertext or tag, fails. */
	for (size_t i = 0; i < slen; i++) {
		sealed[i] ^= 0x01;
		assert_int_equal(cp_env_open_value(dk, T1, "API_KEY", 1, sealed,
						   slen, &plain, &plen),
				 CLAW_ERR_CRYPTO);
		assert_null(plain);
		sealed[i] ^= 0x01;
	}
	/* Truncated, or shorter than the overhead. */
	assert_int_equal(cp_env_open_value(dk, T1, "API_KEY", 1, sealed,
					   slen - 1, &plain, &plen),
			 CLAW_ERR_CRYPTO);
	assert_int_equal(cp_env_open_value(dk, T1, "API_KEY", 1, sealed,
					   CP_ENV_OVERHEAD - 1, &plain, &plen),
			 CLAW_ERR_CRYPTO);
	free(sealed);
	cp_env_secret_free(dk);
}

static void test_value_swapped_ad(void **state)
{
	(void)state;
	unsigned char *dk = cp_env_key_new(), *sealed, *plain = NULL;
	size_t slen, plen;

	assert_int_equal(cp_env_seal_value(dk, T1, "API_KEY", 2, VALUE,
					   strlen(VALUE), &sealed, &slen),
			 CLAW_OK);
	/* Copied to another tenant, another name, another version. */
	assert_int_equal(cp_env_open_value(dk, T2, "API_KEY", 2, sealed, slen,
					   &plain, &plen),
			 CLAW_ERR_CRYPTO);
	assert_int_equal(cp_env_open_value(dk, T1, "OTHER", 2, sealed, slen,
					   &plain, &plen),
			 CLAW_ERR_CRYPTO);
	assert_int_equal(cp_env_open_value(dk, T1, "API_KEY", 1, sealed, slen,
					   &plain, &plen),
			 CLAW_ERR_CRYPTO);
	/* Length prefixes keep field boundaries: "a"+"bc" is not "ab"+"c". */
	free(sealed);
	assert_int_equal(cp_env_seal_value(dk, "a", "bc", 1, VALUE,
					   strlen(VALUE), &sealed, &slen),
			 CLAW_OK);
	assert_int_equal(cp_env_open_value(dk, "ab", "c", 1, sealed, slen,
					   &plain, &plen),
			 CLAW_ERR_CRYPTO);
	assert_null(plain);
	free(sealed);
	cp_env_secret_free(dk);
}

static void test_value_wrong_key(void **state)
{
	(void)state;
	unsigned char *dk = cp_env_key_new(), *other = cp_env_key_new();
	unsigned char *sealed, *plain = NULL;
	size_t slen, plen;

	assert_int_equal(cp_env_seal_value(dk, T1, "API_KEY", 1, VALUE,
					   strlen(VALUE), &sealed, &slen),
			 CLAW_OK);
	assert_int_equal(cp_env_open_value(other, T1, "API_KEY", 1, sealed,
					   slen, &plain, &plen),
			 CLAW_ERR_CRYPTO);
	assert_null(plain);
	free(sealed);
	cp_env_secret_free(dk);
	cp_env_secret_free(other);
}

static void test_key_wrap(void **state)
{
	(void)state;
	unsigned char *mk = cp_env_key_new(), *mk2 = cp_env_key_new();
	unsigned char *dk = cp_env_key_new(), *back = NULL;
	unsigned char w[CP_ENV_WRAPPED_KEY_BYTES];

	assert_int_equal(cp_env_wrap_key(mk, 1, T1, dk, w), CLAW_OK);
	assert_int_equal(cp_env_unwrap_key(mk, 1, T1, w, sizeof(w), &back),
			 CLAW_OK);
	assert_memory_equal(back, dk, CP_ENV_KEY_BYTES);
	cp_env_secret_free(back);
	back = NULL;
	/* Wrong master key, wrong version, wrong tenant, tampered, short. */
	assert_int_equal(cp_env_unwrap_key(mk2, 1, T1, w, sizeof(w), &back),
			 CLAW_ERR_CRYPTO);
	assert_int_equal(cp_env_unwrap_key(mk, 2, T1, w, sizeof(w), &back),
			 CLAW_ERR_CRYPTO);
	assert_int_equal(cp_env_unwrap_key(mk, 1, T2, w, sizeof(w), &back),
			 CLAW_ERR_CRYPTO);
	w[30] ^= 0x80;
	assert_int_equal(cp_env_unwrap_key(mk, 1, T1, w, sizeof(w), &back),
			 CLAW_ERR_CRYPTO);
	assert_int_equal(cp_env_unwrap_key(mk, 1, T1, w, sizeof(w) - 1, &back),
			 CLAW_ERR_CRYPTO);
	assert_null(back);
	cp_env_secret_free(mk);
	cp_env_secret_free(mk2);
	cp_env_secret_free(dk);
}

static void test_kcv(void **state)
{
	(void)state;
	unsigned char *mk = cp_env_key_new(), *mk2 = cp_env_key_new();
	char a[CP_ENV_KCV_LEN], b[CP_ENV_KCV_LEN], c[CP_ENV_KCV_LEN];

	cp_env_kcv(mk, 1, a);
	cp_env_kcv(mk, 1, b);
	assert_string_equal(a, b);
	assert_int_equal(strlen(a), 64);
	cp_env_kcv(mk2, 1, c);
	assert_string_not_equal(a, c);
	cp_env_kcv(mk, 2, c);
	assert_string_not_equal(a, c);
	cp_env_secret_free(mk);
	cp_env_secret_free(mk2);
}

#define HEX_A "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
#define HEX_B "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100"

static void test_keyring_parse(void **state)
{
	(void)state;
	struct cp_keyring r;
	char err[256];
	const char *text = "# master keys\n2:" HEX_B "\n1:" HEX_A " # old\n";
	char line[CP_KEYRING_LINE_MAX];

	assert_int_equal(cp_keyring_init(&r), CLAW_OK);
	assert_int_equal(
		cp_keyring_parse(&r, text, strlen(text), err, sizeof(err)),
		CLAW_OK);
	assert_int_equal(r.n, 2);
	assert_int_equal(cp_keyring_latest(&r), 2);
	assert_int_equal(cp_keyring_get(&r, 1)[1], 0x01);
	assert_int_equal(cp_keyring_get(&r, 2)[0], 0xff);
	assert_null(cp_keyring_get(&r, 3));
	assert_int_equal(cp_keyring_format_line(2, cp_keyring_get(&r, 2), line),
			 strlen("2:" HEX_B "\n"));
	assert_string_equal(line, "2:" HEX_B "\n");

	/* A bare key alone is version 1; commas separate entries too. */
	assert_int_equal(cp_keyring_parse(&r, HEX_A "\n", 65, err, sizeof(err)),
			 CLAW_OK);
	assert_int_equal(cp_keyring_latest(&r), 1);
	text = "1:" HEX_A ",3:" HEX_B;
	assert_int_equal(
		cp_keyring_parse(&r, text, strlen(text), err, sizeof(err)),
		CLAW_OK);
	assert_int_equal(cp_keyring_latest(&r), 3);

	/* add: only above the latest version. */
	assert_int_equal(cp_keyring_add(&r, 3, cp_keyring_get(&r, 1)),
			 CLAW_ERR_INVALID);
	assert_int_equal(cp_keyring_add(&r, 4, cp_keyring_get(&r, 1)), CLAW_OK);
	assert_int_equal(cp_keyring_latest(&r), 4);
	cp_keyring_release(&r);
}

static void test_keyring_refused(void **state)
{
	(void)state;
	struct cp_keyring r;
	char err[256];
	static const char *bad[] = {
		"",
		"# nothing\n",
		"1:" HEX_A " " HEX_B,   /* bare key among others */
		"1:" HEX_A " 1:" HEX_B, /* version twice */
		"0:" HEX_A,             /* version 0 */
		"1000001:" HEX_A,       /* version too high */
		"x:" HEX_A,             /* not a number */
		":" HEX_A,              /* no version */
		"1:" HEX_A "00",        /* too long */
		"1:0001",               /* too short */
		"1:"
		"zz0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e"
		"1f",
	};

	assert_int_equal(cp_keyring_init(&r), CLAW_OK);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = 0;
		assert_int_equal(cp_keyring_parse(&r, bad[i], strlen(bad[i]),
						  err, sizeof(err)),
				 CLAW_ERR_PARSE);
		assert_true(err[0] != 0);
		/* The message never quotes key material. */
		assert_null(strstr(err, "0102030405"));
		assert_int_equal(r.n, 0);
	}
	cp_keyring_release(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_value_round_trip),
		cmocka_unit_test(test_value_tampered),
		cmocka_unit_test(test_value_swapped_ad),
		cmocka_unit_test(test_value_wrong_key),
		cmocka_unit_test(test_key_wrap),
		cmocka_unit_test(test_kcv),
		cmocka_unit_test(test_keyring_parse),
		cmocka_unit_test(test_keyring_refused),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
